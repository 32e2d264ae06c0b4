// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpga_pstream: the FPGA's paced stream (a camera, an ADC: frames on the
 * device's own clock) through the fpgadma provider, as an HPC code would
 * take it: plain libfabric receives, and the extension's zero-copy ring.
 *
 *   rma       fi_mr_reg a buffer, fi_write it to the FPGA's memory, fi_read
 *             it back: the same bytes
 *   camera    copy mode, about 1 s at 2000 frames/s, frames of 4096+123
 *             bytes: 4 FI_MULTI_RECV buffers of 64 KiB posted with
 *             fi_recvmsg from the FPGA's fi_addr before the start, each
 *             reposted when a completion says FI_MULTI_RECV, the CQ read
 *             with fi_cq_sreadfrom.  Every frame: its completion (flags
 *             FI_RECV | FI_MSG | FI_REMOTE_CQ_DATA, len, buf packed in its
 *             buffer, src_addr the FPGA, data its sequence number), its
 *             header (magic, size, stream id), seq = previous + 1 +
 *             lost_before, timestamp = first + (seq - first seq) * period,
 *             payload words fpgadma_stream_word(seq, j) for j >= 6, the
 *             last one cut short
 *   overrun   10000 frames/s for 0.5 s, the consumer taking one completion
 *             per millisecond: the device drops frames, each loss comes as
 *             an FI_EOVERRUN error completion before the next frame (olen
 *             the count, data the first lost frame, a readable
 *             fi_cq_strerror, printed once), and the drops the application
 *             counts equal the device's exactly (below)
 *   zc        FI_FPGADMA_STREAM_ZC into an application MR (starting 100
 *             bytes into a page) at offset 13 with
 *             slots of an odd size: stream_ready / stream_slot /
 *             stream_release, the frames left in the ring after the stop,
 *             nothing written outside the frames; fi_close of the MR while
 *             the stream runs is -FI_EBUSY
 *   zc-hold   the same, the application keeping the newest 4 frames and
 *             handing back only the older ones (a forwarder sending from
 *             its slots), never reading a CQ: the device keeps writing,
 *             6144 frames at 20000 frames/s (the provider takes the
 *             stream's completions, which would otherwise fill the
 *             completion ring and stop the device)
 *   errors    stream_start's -FI_EINVAL (flags, reserved fields, a ZC
 *             without MR, an MR of another domain, a ring outside its MR,
 *             ...) and -FI_EBUSY, stream_stop / stream_stats -FI_ENOENT
 *
 * The drops as the application knows them (tools/fpgadma_demo.c's count,
 * in libfabric terms): the olen of the FI_EOVERRUN error completions, plus
 * the frames produced after the last frame it received (the final count
 * less those still in the FIFO, less the last seq + 1), less those of
 * them the device did deliver but the stop discarded from the ring before
 * a receive took them (ep_stats' stream_discarded; the frames received
 * and discarded must be the device's frames_delivered).  That must be the
 * device's final drops exactly.  In zero-copy mode the application reads
 * what is left in the ring after the stop itself, as the demo does.
 *
 * A summary line per run: frames, bytes, drops (application and device),
 * MB/s.  Provider: -p, $FI_PROVIDER, else "fpgadma"; skips without it, and
 * without paced streams (stream_start: -FI_EOPNOTSUPP).
 */
#include "common.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rdma/fi_ext_fpgadma.h>

#define FRAME_SIZE	(4096 + 123)
#define NBUFS		4
#define BUF_SIZE	(64 << 10)

#define CAMERA_RATE	2000
#define CAMERA_SECS	1.0
#define OVERRUN_RATE	10000
#define OVERRUN_SECS	0.5
#define OVERRUN_TAKE_NS	1000000ULL
#define ZC_RATE		2000
#define ZC_SECS		0.5
#define ZC_OFFSET	13
#define ZC_SLOT		(FRAME_SIZE + 10)	/* odd, as FRAME_SIZE */
#define ZC_SLOTS	16
#define ZC_TAIL		64			/* bytes after the ring */
#define ZC_HOLD		4	/* zc-hold: frames kept, */
#define ZC_HOLD_FRAMES	6144	/* until this many came: a CQE each (a
				 * ring this small), more than the default
				 * completion ring (4096) holds */
#define ZC_HOLD_RATE	20000
#define ZC_HOLD_SECS	60.0	/* a stop fails; it takes about 1 s */
#define ZC_MR_PAGE_OFF	100	/* the MR starts inside a page: its kernel
				 * registration (whole pages) does not */
#define CANARY		0xa5

#define RMA_LEN		((64 << 10) + 7)
#define RMA_SEED	0x5053ULL

static struct ft_dom dom;
static struct ft_ep rma_ep;		/* the RMA (common.c's CQ) */
static struct fi_fpgadma_fpga fpga;
static fi_addr_t fpga_addr;
static struct fi_fpgadma_ops_domain *ops;

/* The stream's endpoint, with a CQ of its own that fi_cq_sread can sleep on. */
static struct fid_ep *sep;
static struct fid_cq *scq;

/* The receive buffers: NBUFS of BUF_SIZE in one MR. */
static uint8_t *rbuf;
static void *rbuf_base;
static size_t rbuf_map;
static struct fid_mr *rmr;
static struct ft_op rop[NBUFS];
static bool rposted[NBUFS];
static size_t rused[NBUFS];

static uint64_t total_frames, total_bytes;

/* One run and what its consumer saw. */
struct run {
	const char *name;
	struct fi_fpgadma_stream_attr a;
	unsigned int readerrs;	/* every other one with an err_data buffer */
	bool bad;		/* a wrong frame: the run stops */
	/* frames */
	uint32_t id;
	bool any;
	uint64_t first_seq, first_ts, last_seq, last_ts;
	uint64_t frames, bytes;
	uint64_t lost;		/* the sum of their headers' lost_before */
	/* completions */
	uint64_t eoverrun, err_lost;	/* FI_EOVERRUN errors, their olen */
	bool pend;		/* an FI_EOVERRUN waits for its frame */
	uint64_t pend_lost, pend_first;
	uint64_t releases;	/* FI_MULTI_RECV */
	unsigned int cancels;
	bool strerror_shown;
	/* the end */
	uint64_t t0_us, t1_us;
	struct fpgadma_stream_stats fin;
};

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint16_t le16_at(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

#define HDR(f, field) ((f) + offsetof(struct fpgadma_frame_hdr, field))

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t_ns / 1000000000ULL),
		.tv_nsec = (long)(t_ns % 1000000000ULL),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

/*
 * Check frame f (len bytes) of the run: header, sequence number, timestamp,
 * every payload byte.  Counts it when right; a wrong one fails the run.
 */
static bool check_frame(struct run *r, const uint8_t *f, size_t len, const char *where)
{
	const uint64_t fs = r->a.frame_size, words = fs / 8;
	uint32_t magic = le32_at(HDR(f, magic)), size = le32_at(HDR(f, frame_size));
	uint16_t hdr_size = le16_at(HDR(f, hdr_size)), flags = le16_at(HDR(f, flags));
	uint32_t id = le32_at(HDR(f, stream_id));
	uint64_t seq = le64_at(HDR(f, seq)), ts = le64_at(HDR(f, timestamp_ns));
	uint64_t lost = le64_at(HDR(f, lost_before)), rsv = le64_at(HDR(f, reserved));
	uint64_t want, j, w, got;
	unsigned int b;

	if (len != fs || magic != FPGADMA_FRAME_MAGIC || hdr_size != FPGADMA_FRAME_HDR_SIZE ||
	    flags || size != fs || rsv || (r->any && id != r->id)) {
		ft_error("%s: %s: frame of %zu bytes: magic %#" PRIx32 " hdr_size %" PRIu16
			 " flags %#" PRIx16 " frame_size %" PRIu32 " stream_id %" PRIu32
			 " reserved %#" PRIx64 "; expected %" PRIu64 " bytes, magic %#x hdr_size %d,"
			 " flags 0, frame_size %" PRIu64 ", stream_id %" PRIu32 " (the first's)",
			 r->name, where, len, magic, hdr_size, flags, size, id, rsv, fs,
			 FPGADMA_FRAME_MAGIC, FPGADMA_FRAME_HDR_SIZE, fs, r->id);
		goto bad;
	}
	/* seq counts every frame the device produced from 0, dropped ones too */
	want = (r->any ? r->last_seq + 1 : 0) + lost;
	if (seq != want) {
		ft_error("%s: %s: seq %" PRIu64 " with lost_before %" PRIu64 ": expected %" PRIu64
			 " (%s)", r->name, where, seq, lost, want,
			 r->any ? "after the previous frame" : "the first frame");
		goto bad;
	}
	if (r->any && ts - r->first_ts != (seq - r->first_seq) * r->a.frame_period_ns) {
		ft_error("%s: %s: seq %" PRIu64 " has timestamp %" PRIu64 " ns, %" PRId64
			 " ns after seq %" PRIu64 "'s: expected %" PRIu64 " (%" PRIu64 " periods of %"
			 PRIu64 " ns)", r->name, where, seq, ts, (int64_t)(ts - r->first_ts),
			 r->first_seq, (seq - r->first_seq) * r->a.frame_period_ns,
			 seq - r->first_seq, (uint64_t)r->a.frame_period_ns);
		goto bad;
	}
	for (j = FPGADMA_FRAME_HDR_SIZE / 8; j < words + (fs % 8 != 0); j++) {
		w = fi_fpgadma_stream_word(seq, j);
		if (j < words) {
			got = le64_at(f + 8 * j);
		} else {
			/* the last word, cut short: its first fs % 8 bytes */
			got = 0;
			for (b = 0; b < fs % 8; b++)
				got |= (uint64_t)f[8 * j + b] << (8 * b);
			w &= (1ULL << (8 * (fs % 8))) - 1;
		}
		if (got != w) {
			ft_error("%s: %s: seq %" PRIu64 " word %" PRIu64 "%s is %#" PRIx64
				 ", expected %#" PRIx64, r->name, where, seq, j,
				 j < words ? "" : " (cut short)", got, w);
			goto bad;
		}
	}
	if (!r->any) {
		r->id = id;
		r->first_seq = seq;
		r->first_ts = ts;
	}
	r->any = true;
	r->last_seq = seq;
	r->last_ts = ts;
	r->lost += lost;
	r->frames++;
	r->bytes += fs;
	return true;
bad:
	r->bad = true;
	return false;
}

/* ---- copy mode: receives and completions ---- */

static int buf_of(void *context)
{
	int b;

	for (b = 0; b < NBUFS; b++)
		if (context == &rop[b])
			return b;
	return -1;
}

/* Post receive buffer b for the stream: FI_MULTI_RECV from the FPGA. */
static void post_buf(int b)
{
	struct iovec iov = { .iov_base = rbuf + (size_t)b * BUF_SIZE, .iov_len = BUF_SIZE };
	void *desc = fi_mr_desc(rmr);
	struct fi_msg msg = {
		.msg_iov = &iov,
		.desc = &desc,
		.iov_count = 1,
		.addr = fpga_addr,
		.context = &rop[b],
	};
	ssize_t ret;

	rop[b] = (struct ft_op){ .what = "stream receive", .id = b };
	ret = fi_recvmsg(sep, &msg, FI_MULTI_RECV);
	if (ret)
		ft_fatal("fi_recvmsg(FI_MULTI_RECV) of buffer %d from the FPGA: %zd (%s)", b,
			 ret, ft_strerr(ret));
	rposted[b] = true;
	rused[b] = 0;
}

/* A successful completion: one frame. */
static void take_comp(struct run *r, const struct fi_cq_data_entry *e, fi_addr_t src)
{
	const uint64_t want_flags = FI_RECV | FI_MSG | FI_REMOTE_CQ_DATA;
	int b = buf_of(e->op_context);
	const uint8_t *f = e->buf;
	uint64_t seq, lost;
	char where[64];

	if (b < 0 || !rposted[b]) {
		ft_error("%s: a completion of context %p, not of a posted buffer", r->name,
			 e->op_context);
		r->bad = true;
		return;
	}
	snprintf(where, sizeof(where), "frame %" PRIu64 " (buffer %d)", r->frames, b);
	if ((e->flags & ~(uint64_t)FI_MULTI_RECV) != want_flags || e->len != r->a.frame_size ||
	    f != rbuf + (size_t)b * BUF_SIZE + rused[b] || src != fpga_addr) {
		ft_error("%s: %s: flags %#" PRIx64 " len %zu buf %p src_addr %" PRIu64
			 "; expected flags %#" PRIx64 " (and maybe FI_MULTI_RECV), len %" PRIu32
			 ", buf %p (packed after %zu bytes), src_addr %" PRIu64 " (the FPGA)",
			 r->name, where, (uint64_t)e->flags, e->len, e->buf, (uint64_t)src,
			 want_flags, r->a.frame_size, (void *)(rbuf + (size_t)b * BUF_SIZE + rused[b]),
			 rused[b], (uint64_t)fpga_addr);
		r->bad = true;
		return;
	}
	seq = le64_at(HDR(f, seq));
	lost = le64_at(HDR(f, lost_before));
	/* a loss comes as an FI_EOVERRUN just before the frame after it */
	if (r->pend ? lost != r->pend_lost || seq != r->pend_first + r->pend_lost : lost != 0) {
		ft_error("%s: %s: seq %" PRIu64 ", lost_before %" PRIu64 ", after %s", r->name,
			 where, seq, lost,
			 r->pend ? "an FI_EOVERRUN of other frames" : "no FI_EOVERRUN completion");
		r->bad = true;
		return;
	}
	r->pend = false;
	if (!check_frame(r, f, e->len, where))
		return;
	if (e->data != seq) {
		ft_error("%s: %s: data %#" PRIx64 ", expected the frame's seq %" PRIu64, r->name,
			 where, (uint64_t)e->data, seq);
		r->bad = true;
		return;
	}
	rused[b] += e->len;
	if (e->flags & FI_MULTI_RECV) {
		/* used up: released, posted again */
		r->releases++;
		rposted[b] = false;
		if (BUF_SIZE - rused[b] >= r->a.frame_size) {
			ft_error("%s: buffer %d released with %zu bytes left, room for a frame",
				 r->name, b, BUF_SIZE - rused[b]);
			r->bad = true;
		}
		post_buf(b);
	}
}

/* An error completion: lost frames, or a cancelled receive at the end. */
static void take_err(struct run *r, const struct fi_cq_err_entry *err)
{
	int b = buf_of(err->op_context);
	uint64_t want_first = r->any ? r->last_seq + 1 : 0;
	char str[256], want_str[128];
	const char *s, *c;

	if (b < 0 || !rposted[b]) {
		ft_error("%s: an error completion (%d, %s) of context %p, not of a posted buffer",
			 r->name, err->err, fi_strerror(err->err), err->op_context);
		r->bad = true;
		return;
	}
	if (err->err == FI_ECANCELED) {
		rposted[b] = false;
		r->cancels++;
		return;
	}
	if (err->err != FI_EOVERRUN) {
		ft_error("%s: error completion %d (%s), prov_errno %d: %s", r->name, err->err,
			 fi_strerror(err->err), err->prov_errno,
			 fi_cq_strerror(scq, err->prov_errno, err->err_data, NULL, 0));
		r->bad = true;
		return;
	}
	if (r->pend || !err->olen || err->data != want_first ||
	    (err->flags & (FI_RECV | FI_MSG)) != (FI_RECV | FI_MSG) ||
	    err->prov_errno != FI_FPGADMA_ERR_FRAMES_LOST) {
		ft_error("%s: FI_EOVERRUN: olen %zu, data %" PRIu64 ", flags %#" PRIx64
			 ", prov_errno %#x%s; expected olen > 0, data %" PRIu64
			 " (the first frame lost), FI_RECV | FI_MSG, prov_errno %#x",
			 r->name, err->olen, (uint64_t)err->data, (uint64_t)err->flags,
			 err->prov_errno, r->pend ? ", right after another one" : "", want_first,
			 FI_FPGADMA_ERR_FRAMES_LOST);
		r->bad = true;
		return;
	}
	r->pend = true;
	r->pend_lost = err->olen;
	r->pend_first = err->data;
	r->eoverrun++;
	r->err_lost += err->olen;

	/* readable, and saying how many before which frame */
	s = fi_cq_strerror(scq, err->prov_errno, err->err_data, str, sizeof(str));
	snprintf(want_str, sizeof(want_str), "%zu frame%s lost before frame %" PRIu64,
		 err->olen, err->olen == 1 ? "" : "s", (uint64_t)err->data + err->olen);
	for (c = s; c && *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			break;
	if (!s || !*s || *c || strncmp(s, want_str, strlen(want_str))) {
		ft_error("%s: fi_cq_strerror of FI_EOVERRUN: \"%s\", expected \"%s: ...\"", r->name,
			 s ? s : "(null)", want_str);
		r->bad = true;
	} else if (!r->strerror_shown) {
		r->strerror_shown = true;
		ft_log("%s: FI_EOVERRUN error completion, olen %zu, data %" PRIu64
		       ", fi_cq_strerror: \"%s\"", r->name, err->olen, (uint64_t)err->data, s);
	}
}

/*
 * Take up to max entries of the stream's CQ: sleeping up to timeout_ms in
 * fi_cq_sreadfrom when there are none (0: fi_cq_readfrom, no sleep).
 * Returns the entries taken.
 */
static int read_cq(struct run *r, size_t max, int timeout_ms)
{
	struct fi_cq_data_entry ents[16];
	fi_addr_t srcs[16];
	ssize_t n, i;

	if (max > FT_ARRAY_SIZE(ents))
		max = FT_ARRAY_SIZE(ents);
	if (timeout_ms > 0)
		n = fi_cq_sreadfrom(scq, ents, max, srcs, NULL, timeout_ms);
	else
		n = fi_cq_readfrom(scq, ents, max, srcs);
	if (n == -FI_EAGAIN)
		return 0;
	if (n == -FI_EAVAIL) {
		struct fi_cq_err_entry err;
		uint8_t err_data[64];

		memset(&err, 0, sizeof(err));
		/* both ways: a buffer of ours, or the provider's (size 0) */
		if (r->readerrs++ % 2) {
			err.err_data = err_data;
			err.err_data_size = sizeof(err_data);
		}
		n = fi_cq_readerr(scq, &err, 0);
		if (n != 1)
			ft_fatal("%s: fi_cq_readerr after -FI_EAVAIL: %zd", r->name, n);
		take_err(r, &err);
		return 1;
	}
	if (n < 0)
		ft_fatal("%s: fi_cq_%sreadfrom: %zd (%s)", r->name, timeout_ms > 0 ? "s" : "", n,
			 ft_strerr(n));
	for (i = 0; i < n && !r->bad; i++)
		take_comp(r, &ents[i], srcs[i]);
	return (int)n;
}

static void ep_stats(struct fi_fpgadma_ep_stats *st)
{
	memset(st, 0, sizeof(*st));
	FT_CALL(ops->ep_stats(dom.domain, sep, st));
}

static void print_run(const struct run *r, uint64_t app_drops, uint64_t after,
		      uint64_t discarded)
{
	double secs = (double)(r->t1_us - r->t0_us) / 1e6;

	ft_log("%s: %" PRIu64 " frames (%" PRIu64 " bytes) in %.2f s, %.1f MB/s; drops: "
	       "application %" PRIu64 " (%" PRIu64 " in %" PRIu64 " FI_EOVERRUN + %" PRIu64
	       " after the last frame%s) = device %" PRIu64 "; %" PRIu64 " frames produced, %"
	       PRIu64 " delivered into the ring, %" PRIu64 " discarded at the stop, FIFO "
	       "high-water mark %" PRIu32 " of %" PRIu32, r->name, r->frames, r->bytes, secs,
	       secs > 0 ? (double)r->bytes / secs / 1e6 : 0.0, app_drops, r->lost,
	       r->eoverrun, after, discarded ? ", less those discarded" : "",
	       (uint64_t)r->fin.drops, (uint64_t)r->fin.frames,
	       (uint64_t)r->fin.frames_delivered, discarded, r->fin.fifo_hwm,
	       r->fin.fifo_frames);
	total_frames += r->frames;
	total_bytes += r->bytes;
}

/*
 * The drops as the application counts them must be the device's.  discarded:
 * frames the device delivered that the stop took from the ring unseen.
 */
static void check_drops(struct run *r, uint64_t discarded)
{
	uint64_t seen_seqs = r->any ? r->last_seq + 1 : 0;
	uint64_t produced = r->fin.frames - r->fin.fifo_level, after, app_drops;

	ft_check(r->fin.state == FPGADMA_STREAM_STOPPED && r->fin.end == FPGADMA_STREAM_END_STOP,
		 "%s: final state %" PRIu32 ", end %" PRIu32 ": expected stopped by stream_stop",
		 r->name, r->fin.state, r->fin.end);
	ft_check(r->fin.frames == r->fin.frames_delivered + r->fin.drops + r->fin.fifo_level,
		 "%s: final stats: %" PRIu64 " frames != %" PRIu64 " delivered + %" PRIu64
		 " drops + %" PRIu32 " in the FIFO", r->name, (uint64_t)r->fin.frames,
		 (uint64_t)r->fin.frames_delivered, (uint64_t)r->fin.drops, r->fin.fifo_level);
	ft_check(r->frames + discarded == r->fin.frames_delivered,
		 "%s: %" PRIu64 " frames received + %" PRIu64 " discarded at the stop, the device "
		 "delivered %" PRIu64, r->name, r->frames, discarded,
		 (uint64_t)r->fin.frames_delivered);
	if (produced < seen_seqs || produced - seen_seqs < discarded) {
		ft_error("%s: the device produced %" PRIu64 " frames (and holds %" PRIu32 "), but the "
			 "last seq received is %" PRIu64 " and %" PRIu64 " were discarded", r->name,
			 (uint64_t)r->fin.frames, r->fin.fifo_level, r->last_seq, discarded);
		return;
	}
	after = produced - seen_seqs - discarded;
	app_drops = r->lost + after;
	ft_check(app_drops == r->fin.drops,
		 "%s: the application counts %" PRIu64 " drops (%" PRIu64 " reported lost + %" PRIu64
		 " produced after the last frame, seq %" PRIu64 ", not discarded), the device %"
		 PRIu64, r->name, app_drops, r->lost, after, r->last_seq, (uint64_t)r->fin.drops);
	print_run(r, app_drops, after, discarded);
}

/* Drain the CQ after a stop, then take the buffers back (fi_cancel). */
static void copy_run_end(struct run *r)
{
	uint64_t t0 = ft_now_us();
	unsigned int want = 0;
	int b;

	while (read_cq(r, 16, 0) > 0 && !r->bad)
		;
	ft_check(!r->pend, "%s: an FI_EOVERRUN completion without the frame after it", r->name);
	for (b = 0; b < NBUFS; b++) {
		if (!rposted[b])
			continue;
		FT_CALL(fi_cancel(&sep->fid, &rop[b]));
		want++;
	}
	/* the cancels are read whatever happened (frames no more, after a failure) */
	r->cancels = 0;
	while (r->cancels < want) {
		if (read_cq(r, 16, 0) == 0) {
			if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
				ft_fatal("%s: %u of %u cancelled receives completed", r->name,
					 r->cancels, want);
			sched_yield();
		}
	}
	ft_check(r->bad || !read_cq(r, 16, 0), "%s: completions after the cancels", r->name);
}

static int start(struct fi_fpgadma_stream_attr *a)
{
	return ops->stream_start(sep, a);
}

/* Frames at rate for secs, taken by receives: one completion per take_ns (0: as they come). */
static void copy_run(struct run *r, uint64_t rate, double secs, uint64_t take_ns)
{
	struct fi_fpgadma_ep_stats st0, st1;
	struct fi_fpgadma_stream_attr again;
	struct fpgadma_stream_stats st;
	uint64_t t_end, next, first = 0;
	int ret, b;

	memset(&r->a, 0, sizeof(r->a));
	r->a.frame_size = FRAME_SIZE;
	r->a.frame_period_ns = 1000000000ULL / rate;
	ep_stats(&st0);
	/* receives posted before the start wait for its frames */
	for (b = 0; b < NBUFS; b++)
		post_buf(b);
	ret = start(&r->a);
	if (ret == -FI_EOPNOTSUPP)
		ft_skip("domain %s: no paced streams (stream_start: %s): the device lacks "
			"FPGADMA_CAP_STREAM", dom.info->domain_attr->name, fi_strerror(-ret));
	if (ret)
		ft_fatal("%s: stream_start (copy mode, frames of %d bytes every %" PRIu64 " ns): %d (%s)",
			 r->name, FRAME_SIZE, (uint64_t)(1000000000ULL / rate), ret, fi_strerror(-ret));
	r->t0_us = ft_now_us();
	ft_log("%s: copy mode, frames of %" PRIu32 " bytes every %" PRIu64 " ns (%.0f/s), FIFO %"
	       PRIu32 " frames, a ring of %" PRIu32 " slots; %d FI_MULTI_RECV buffers of %d bytes",
	       r->name, r->a.frame_size, (uint64_t)r->a.frame_period_ns,
	       1e9 / (double)r->a.frame_period_ns, r->a.fifo_frames, r->a.nslots, NBUFS, BUF_SIZE);
	ft_check(r->a.frame_size == FRAME_SIZE && r->a.slot_size == FRAME_SIZE &&
		 r->a.nslots == 64 && r->a.frame_period_ns == 1000000000ULL / rate,
		 "%s: stream_start wrote back frame_size %" PRIu32 ", slot_size %" PRIu32 ", nslots %"
		 PRIu32 ", period %" PRIu64, r->name, r->a.frame_size, r->a.slot_size, r->a.nslots,
		 (uint64_t)r->a.frame_period_ns);

	/* one stream per endpoint; the zero-copy calls have nothing to say */
	again = r->a;
	ret = start(&again);
	ft_check(ret == -FI_EBUSY, "%s: a second stream_start: %d (%s), expected -FI_EBUSY",
		 r->name, ret, fi_strerror(-ret));
	if (!ret)
		ft_fatal("%s: two streams on one endpoint", r->name);
	ft_check(ops->stream_ready(sep, &first) == 0 && !ops->stream_slot(sep, 0),
		 "%s: stream_ready / stream_slot of a copy-mode stream", r->name);
	memset(&st, 0, sizeof(st));
	ret = ops->stream_stats(sep, &st);
	ft_check(!ret && st.state == FPGADMA_STREAM_RUNNING && st.frame_period_ns ==
		 r->a.frame_period_ns, "%s: stream_stats: %d (%s), state %" PRIu32 ", period %"
		 PRIu64, r->name, ret, fi_strerror(-ret), st.state, (uint64_t)st.frame_period_ns);

	next = now_ns();
	t_end = next + (uint64_t)(secs * 1e9);
	while (now_ns() < t_end && !r->bad) {
		if (!take_ns) {
			read_cq(r, 16, 100);
			continue;
		}
		/* a slow consumer: one completion per tick */
		read_cq(r, 1, 0);
		next += take_ns;
		if (next < now_ns())
			next = now_ns();
		sleep_until(next);
	}
	ret = ops->stream_stop(sep, 0, &r->fin);
	r->t1_us = ft_now_us();
	if (ret)
		ft_fatal("%s: stream_stop: %d (%s)", r->name, ret, fi_strerror(-ret));
	copy_run_end(r);
	ep_stats(&st1);
	if (r->bad) {
		ft_error("%s: stopped at the first wrong frame or completion", r->name);
		return;
	}
	ft_check(st1.stream_frames - st0.stream_frames == r->frames &&
		 st1.stream_lost - st0.stream_lost == r->err_lost,
		 "%s: ep_stats: %" PRIu64 " frames, %" PRIu64 " lost; the application saw %" PRIu64
		 " and %" PRIu64, r->name, st1.stream_frames - st0.stream_frames,
		 st1.stream_lost - st0.stream_lost, r->frames, r->err_lost);
	ft_check(r->lost == r->err_lost, "%s: the frames' lost_before add up to %" PRIu64
		 ", the FI_EOVERRUN completions' olen to %" PRIu64, r->name, r->lost, r->err_lost);
	check_drops(r, st1.stream_discarded - st0.stream_discarded);
}

/* ---- zero copy ---- */

/*
 * name: the run; hold: frames the application keeps (newest first) when it
 * hands the older ones back, as a forwarder sending from its slots does.
 * With hold 0 it runs ZC_SECS at ZC_RATE; else at ZC_HOLD_RATE until
 * ZC_HOLD_FRAMES came, which they must within ZC_HOLD_SECS.
 */
static void zc_run(const char *name, uint64_t hold)
{
	struct run rr = { .name = name }, *r = &rr;
	size_t zlen = ZC_OFFSET + (size_t)ZC_SLOTS * ZC_SLOT + ZC_TAIL, zmap, i;
	uint64_t t_end, first, n, k, seen = 0, released = 0, tail;
	struct fid_mr *zmr;
	uint8_t *zbuf;
	void *zbase;
	char where[64];
	int ret;

	zbuf = ft_alloc_at(zlen, ZC_MR_PAGE_OFF, &zbase, &zmap);
	memset(zbuf, CANARY, zlen);
	/* FI_RECV: the device writes it */
	ret = ft_mr_reg(&dom, &rma_ep, zbuf, zlen, FI_RECV, 0, &zmr);
	if (ret)
		ft_fatal("%s: fi_mr_reg of %zu bytes: %s", name, zlen, ft_strerr(ret));

	memset(&r->a, 0, sizeof(r->a));
	r->a.flags = FI_FPGADMA_STREAM_ZC;
	r->a.mr = zmr;
	r->a.ring_offset = ZC_OFFSET;
	r->a.slot_size = ZC_SLOT;
	r->a.nslots = ZC_SLOTS;
	r->a.frame_size = FRAME_SIZE;
	r->a.frame_period_ns = 1000000000ULL / (hold ? ZC_HOLD_RATE : ZC_RATE);
	ret = start(&r->a);
	if (ret)
		ft_fatal("%s: stream_start (FI_FPGADMA_STREAM_ZC, %d slots of %d bytes at offset %d): "
			 "%d (%s)", name, ZC_SLOTS, ZC_SLOT, ZC_OFFSET, ret, fi_strerror(-ret));
	r->t0_us = ft_now_us();
	ft_log("%s: zero copy into the application's MR at offset %d, %d slots of %d bytes, "
	       "frames of %" PRIu32 " bytes every %" PRIu64 " ns%s", name, ZC_OFFSET, ZC_SLOTS,
	       ZC_SLOT, r->a.frame_size, (uint64_t)r->a.frame_period_ns,
	       hold ? "; the newest frames held, no CQ read" : "");
	ret = fi_close(&zmr->fid);
	ft_check(ret == -FI_EBUSY, "%s: fi_close of the ring's MR while the stream runs: %d (%s), "
		 "expected -FI_EBUSY", name, ret, fi_strerror(-ret));
	if (!ret)
		ft_fatal("%s: the ring's MR is gone under the stream", name);

	t_end = now_ns() + (uint64_t)((hold ? ZC_HOLD_SECS : ZC_SECS) * 1e9);
	while (now_ns() < t_end && !r->bad && (!hold || seen < ZC_HOLD_FRAMES)) {
		n = ops->stream_ready(sep, &first);
		if (n > ZC_SLOTS || first != released || first + n < seen) {
			ft_error("%s: stream_ready: %" PRIu64 " frames from %" PRIu64 ", after %" PRIu64
				 " handed back and %" PRIu64 " seen, %d slots", name, n, first,
				 released, seen, ZC_SLOTS);
			r->bad = true;
			break;
		}
		if (first + n == seen) {
			sleep_until(now_ns() + 100000);
			continue;
		}
		for (k = seen - first; k < n && !r->bad; k++) {
			const uint8_t *f = ops->stream_slot(sep, first + k);
			const uint8_t *want = zbuf + ZC_OFFSET +
					      (first + k) % ZC_SLOTS * (size_t)ZC_SLOT;

			snprintf(where, sizeof(where), "frame %" PRIu64 " (slot %" PRIu64 ")",
				 first + k, (first + k) % ZC_SLOTS);
			if (f != want) {
				ft_error("%s: stream_slot(%" PRIu64 ") is %p, expected %p", name,
					 first + k, (const void *)f, (const void *)want);
				r->bad = true;
				break;
			}
			check_frame(r, f, FRAME_SIZE, where);
		}
		seen = first + k;
		if (seen - released > hold) {
			ops->stream_release(sep, seen - released - hold);
			released = seen - hold;
		}
	}
	ret = ops->stream_stop(sep, 0, &r->fin);
	r->t1_us = ft_now_us();
	if (ret)
		ft_fatal("%s: stream_stop: %d (%s)", name, ret, fi_strerror(-ret));
	ft_check(!ops->stream_ready(sep, &first) && !ops->stream_slot(sep, 0),
		 "%s: stream_ready / stream_slot after the stop", name);
	if (r->bad) {
		ft_error("%s: stopped at the first wrong frame", name);
		goto out;
	}
	/*
	 * Holding frames must not stop the device: the provider takes the
	 * stream's completions although no CQ is read and stream_ready never
	 * finds the ring empty.
	 */
	if (hold)
		ft_check(seen >= ZC_HOLD_FRAMES,
			 "%s: holding the newest %" PRIu64 " frames, only %" PRIu64 " frames came in "
			 "%.0f s (device: %" PRIu64 " delivered, %" PRIu64 " dropped, FIFO %" PRIu32
			 " of %" PRIu32 "): the device stopped while the application held frames",
			 name, hold, seen, ZC_HOLD_SECS, (uint64_t)r->fin.frames_delivered,
			 (uint64_t)r->fin.drops, r->fin.fifo_level, r->fin.fifo_frames);
	/* the frames not taken yet stay in the ring, which is the application's */
	if (r->fin.write_idx < seen || r->fin.write_idx - released > ZC_SLOTS) {
		ft_error("%s: final write index %" PRIu64 " after %" PRIu64 " frames seen, %" PRIu64
			 " handed back", name, (uint64_t)r->fin.write_idx, seen, released);
		goto out;
	}
	tail = r->fin.write_idx - seen;
	for (k = seen; k < r->fin.write_idx && !r->bad; k++) {
		snprintf(where, sizeof(where), "frame %" PRIu64 " (after the stop)", k);
		check_frame(r, zbuf + ZC_OFFSET + k % ZC_SLOTS * (size_t)ZC_SLOT, FRAME_SIZE, where);
	}
	seen += tail;
	ft_check(r->fin.frames_delivered == seen && r->fin.bytes_delivered == r->bytes,
		 "%s: the device delivered %" PRIu64 " frames (%" PRIu64 " bytes), the application "
		 "took %" PRIu64 " (%" PRIu64 " bytes)", name, (uint64_t)r->fin.frames_delivered,
		 (uint64_t)r->fin.bytes_delivered, seen, r->bytes);
	/* nothing written outside the frames: before the ring, between, after */
	ft_expect_bytes(zbuf, ZC_OFFSET, CANARY, "zc: the bytes before the ring");
	for (i = 0; i < ZC_SLOTS; i++)
		ft_expect_bytes(zbuf + ZC_OFFSET + i * ZC_SLOT + FRAME_SIZE, ZC_SLOT - FRAME_SIZE,
				CANARY, "zc: the bytes of a slot past its frame");
	ft_expect_bytes(zbuf + ZC_OFFSET + (size_t)ZC_SLOTS * ZC_SLOT, ZC_TAIL, CANARY,
			"zc: the bytes after the ring");
	if (!r->bad)
		check_drops(r, 0);
	if (tail)
		ft_log("%s: %" PRIu64 " of the frames read from the ring after the stop", name, tail);
out:
	ft_close_fid(&zmr->fid, "zc mr");
	ft_unmap(zbase, zmap);
}

/* ---- errors ---- */

static void expect_start(struct fi_fpgadma_stream_attr *a, int want, const char *what)
{
	int ret = start(a);

	ft_check(ret == want, "stream_start with %s: %d (%s), expected %d (%s)", what, ret,
		 fi_strerror(-ret), want, fi_strerror(-want));
	if (!ret)
		ops->stream_stop(sep, 0, NULL);
}

static void test_errors(void)
{
	struct fi_fpgadma_stream_attr a, base = {
		.frame_size = FRAME_SIZE,
		.frame_period_ns = 1000000,
	};
	struct fpgadma_stream_stats st;
	struct ft_dom dom2;
	struct fid_mr *mr, *mr2;
	uint8_t *buf;
	void *bbase;
	size_t bmap, blen = 4 * (size_t)FRAME_SIZE;
	int ret;

	ret = ops->stream_stop(sep, 0, &st);
	ft_check(ret == -FI_ENOENT, "stream_stop without a stream: %d (%s)", ret,
		 fi_strerror(-ret));
	ret = ops->stream_stats(sep, &st);
	ft_check(ret == -FI_ENOENT, "stream_stats without a stream: %d (%s)", ret,
		 fi_strerror(-ret));

	a = base;
	a.flags = 2;
	expect_start(&a, -FI_EINVAL, "an unknown flag");
	a = base;
	a.reserved0 = 1;
	expect_start(&a, -FI_EINVAL, "reserved0 set");
	a = base;
	a.reserved[3] = 1;
	expect_start(&a, -FI_EINVAL, "reserved[3] set");
	a = base;
	a.byte_rate = 1000000;
	expect_start(&a, -FI_EINVAL, "both a period and a byte rate");
	a = base;
	a.frame_size = FPGADMA_FRAME_HDR_SIZE - 1;
	expect_start(&a, -FI_EINVAL, "a frame shorter than its header");
	a = base;
	a.flags = FI_FPGADMA_STREAM_ZC;
	expect_start(&a, -FI_EINVAL, "FI_FPGADMA_STREAM_ZC without an MR");

	buf = ft_alloc_at(blen, 0, &bbase, &bmap);
	ret = ft_mr_reg(&dom, &rma_ep, buf, blen, FI_RECV, 0, &mr);
	if (ret)
		ft_fatal("fi_mr_reg of %zu bytes: %s", blen, ft_strerr(ret));
	a = base;
	a.mr = mr;
	expect_start(&a, -FI_EINVAL, "an MR in copy mode");
	a = base;
	a.flags = FI_FPGADMA_STREAM_ZC;
	a.mr = mr;
	a.nslots = 4;
	a.ring_offset = 1;
	expect_start(&a, -FI_EINVAL, "a ring past its MR's end");
	a = base;
	a.flags = FI_FPGADMA_STREAM_ZC;
	a.mr = mr;
	a.nslots = 2;
	a.slot_size = FRAME_SIZE - 1;
	expect_start(&a, -FI_EINVAL, "slots shorter than a frame");

	ft_open_dom_like(&dom, &dom2);
	ret = ft_mr_reg(&dom2, NULL, buf, blen, FI_RECV, 0, &mr2);
	if (ret)
		ft_fatal("fi_mr_reg in a second domain: %s", ft_strerr(ret));
	a = base;
	a.flags = FI_FPGADMA_STREAM_ZC;
	a.mr = mr2;
	a.nslots = 2;
	expect_start(&a, -FI_EINVAL, "an MR of another domain");
	ft_close_fid(&mr2->fid, "mr of the second domain");
	ft_close_dom(&dom2);
	ft_close_fid(&mr->fid, "mr");
	ft_unmap(bbase, bmap);
	ft_log("errors: stream_start refused bad attributes with -FI_EINVAL, stream_stop and "
	       "stream_stats without a stream gave -FI_ENOENT");
}

/* ---- setup ---- */

static void test_rma(void)
{
	struct ft_op op = { .what = "fi_write to the FPGA" };
	struct fid_mr *mr;
	uint64_t off;
	uint8_t *buf;
	void *base;
	size_t map;
	int ret;

	if (fpga.mem_size < RMA_LEN) {
		ft_log("rma: the FPGA has %" PRIu64 " bytes of memory: no fi_write / fi_read",
		       fpga.mem_size);
		return;
	}
	off = FT_MIN((uint64_t)4093, fpga.mem_size - RMA_LEN);
	buf = ft_alloc_at(RMA_LEN, 0, &base, &map);
	ret = ft_mr_reg(&dom, &rma_ep, buf, RMA_LEN, FI_READ | FI_WRITE, 0, &mr);
	if (ret)
		ft_fatal("fi_mr_reg of %d bytes: %s", RMA_LEN, ft_strerr(ret));
	ft_fill(buf, RMA_LEN, RMA_SEED, 0);
	FT_POST(fi_write(rma_ep.ep, buf, RMA_LEN, fi_mr_desc(mr), fpga_addr,
			 fpga.mem_base + off, fpga.mem_key, &op));
	ft_wait_op(&rma_ep.cq, &op, NULL);
	memset(buf, 0, RMA_LEN);
	op.what = "fi_read from the FPGA";
	FT_POST(fi_read(rma_ep.ep, buf, RMA_LEN, fi_mr_desc(mr), fpga_addr,
			fpga.mem_base + off, fpga.mem_key, &op));
	ft_wait_op(&rma_ep.cq, &op, NULL);
	if (ft_expect_pattern(buf, RMA_LEN, RMA_SEED, 0, "rma: read back"))
		ft_log("rma: %d bytes written to the FPGA's memory at %#" PRIx64 " and read back",
		       RMA_LEN, off);
	ft_close_fid(&mr->fid, "rma mr");
	ft_unmap(base, map);
}

static void open_stream_ep(void)
{
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_DATA,
		.wait_obj = FI_WAIT_UNSPEC,
	};
	size_t min = FRAME_SIZE;

	FT_CALL(fi_cq_open(dom.domain, &cq_attr, &scq, NULL));
	FT_CALL(fi_endpoint(dom.domain, dom.info, &sep, NULL));
	FT_CALL(fi_ep_bind(sep, &dom.av->fid, 0));
	FT_CALL(fi_ep_bind(sep, &scq->fid, FI_TRANSMIT | FI_RECV));
	/* a buffer goes once it cannot take another frame */
	FT_CALL(fi_setopt(&sep->fid, FI_OPT_ENDPOINT, FI_OPT_MIN_MULTI_RECV, &min, sizeof(min)));
	FT_CALL(fi_enable(sep));
}

int main(int argc, char **argv)
{
	struct run camera = { .name = "camera" };
	struct run overrun = { .name = "overrun" };
	int ret;

	ft_parse(argc, argv, NULL, NULL, NULL);
	ft_default_prov("fpgadma");
	/* MPI-like: messages, RMA, registered buffers */
	ft_open_dom_or_skip(ft_hints(FI_MSG | FI_RMA | FI_MULTI_RECV,
				     FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
				     FI_MR_PROV_KEY), &dom, "FI_MSG and FI_RMA on FI_EP_RDM");
	ft_describe(&dom);
	ft_query_fpga(&dom, &fpga);
	ret = fi_open_ops(&dom.domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL);
	if (ret || !ops)
		ft_fatal("fi_open_ops(%s): %d", FI_FPGADMA_DOMAIN_OPS_1, ret);
	if (ops->size < FI_FPGADMA_OPS_DOMAIN_HAS(stream_release))
		ft_skip("the provider's %s (size %zu) has no paced streams", FI_FPGADMA_DOMAIN_OPS_1,
			ops->size);
	ft_open_ep(&dom, &rma_ep, "rma");
	fpga_addr = ft_av_insert(&dom, fpga.addr);
	test_rma();

	open_stream_ep();
	rbuf = ft_alloc_at((size_t)NBUFS * BUF_SIZE, 0, &rbuf_base, &rbuf_map);
	ret = ft_mr_reg(&dom, &rma_ep, rbuf, (size_t)NBUFS * BUF_SIZE, FI_RECV, 0, &rmr);
	if (ret)
		ft_fatal("fi_mr_reg of the receive buffers: %s", ft_strerr(ret));

	/* a. a camera the consumer keeps up with (skips without streams) */
	copy_run(&camera, CAMERA_RATE, CAMERA_SECS, 0);
	ft_check(camera.releases > 0, "camera: no completion had FI_MULTI_RECV");
	if (camera.fin.drops)
		ft_log("camera: %" PRIu64 " frames dropped at %d frames/s: the consumer fell behind "
		       "(emulation?); counted alike by both sides, so not a failure",
		       (uint64_t)camera.fin.drops, CAMERA_RATE);

	/* b. overrun: ten frames a millisecond, one completion taken */
	copy_run(&overrun, OVERRUN_RATE, OVERRUN_SECS, OVERRUN_TAKE_NS);
	if (!overrun.fin.drops)
		ft_log("overrun: no frame was dropped: the device did not outrun the consumer, "
		       "so the drop reports were not put to the test");
	else if (overrun.lost)
		ft_check(overrun.eoverrun > 0, "overrun: %" PRIu64 " frames reported lost by "
			 "the frames received, and no FI_EOVERRUN error completion",
			 overrun.lost);
	else
		ft_log("overrun: all %" PRIu64 " drops came after the last frame received (a "
		       "consumer this slow sees none reported): no FI_EOVERRUN to check",
		       (uint64_t)overrun.fin.drops);

	/* c. zero copy, d. bad calls */
	zc_run("zc", 0);
	zc_run("zc-hold", ZC_HOLD);
	test_errors();

	ft_close_fid(&rmr->fid, "receive mr");
	ft_close_fid(&sep->fid, "stream endpoint");
	ft_close_fid(&scq->fid, "stream cq");
	ft_close_ep(&rma_ep);
	ft_close_dom(&dom);
	ft_unmap(rbuf_base, rbuf_map);
	return ft_finish("paced streams: %" PRIu64 " frames (%" PRIu64 " bytes) verified in "
			 "copy and zero-copy mode, drops counted alike by the application and the "
			 "device", total_frames, total_bytes);
}
