// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_pstream: paced streams (FPGADMA_CAP_STREAM) through the libfabric
 * API of the fpgadma provider (rdma/fi_ext_fpgadma.h), beside
 * bench/stream_bench's libfpgadma figures: per frame size, the highest
 * frame rate the device and one consumer sustain with no drop for -t
 * seconds (30 s by default), and at that rate the throughput, its share of
 * memcpy's bandwidth, the latency from a frame's timestamp to the consumer
 * seeing it and the consumer's CPU time per GB.  Two paths (-P, both by
 * default):
 *
 *   fi-copy  copy mode: NBUFS FI_MULTI_RECV buffers of max(1 MiB, 8 frames)
 *            in one fi_mr_reg'ed region, posted with fi_recvmsg from the
 *            FPGA's fi_addr before the start and each posted again when
 *            its completion says FI_MULTI_RECV; fi_cq_sreadfrom takes up to
 *            16 completions, sleeping up to 100 ms when there are none.
 *            The provider copies each frame from its own ring (the same
 *            slots as stream_bench's ring: as many as fit in 32 MiB, 8 to
 *            256, slot_size = frame_size) into the buffers during
 *            progress, in the consumer's thread.  Every completion is
 *            checked (flags, len, data = the frame's seq, the FPGA as its
 *            source, buf inside its buffer); drops come as FI_EOVERRUN
 *            error completions.
 *   fi-zc    FI_FPGADMA_STREAM_ZC: the device writes the ring into one
 *            fi_mr_reg'ed region (FI_RECV) with stream_bench's geometry (a
 *            size not a multiple of 8: slots of size + 5 bytes at offset
 *            77); stream_ready / stream_slot / stream_release, poll() on
 *            the CQ's FI_GETWAIT fd (the domain's completions) when
 *            nothing is there, an fi_cq_read (progress) every nslots / 2
 *            frames taken without a pause.
 *
 * Either way the consumer checks each frame's header (magic, size, the
 * stream id of the first frame, seq continuing the previous one by
 * 1 + lost_before) and the last whole word of its payload (every word with
 * -V), and notes its latency: CLOCK_MONOTONIC when fi_cq_sreadfrom or
 * stream_ready returned it, minus its timestamp_ns.
 *
 * The search is stream_bench's (see there): per size a doubling from
 * 16 MiB/s worth of frames (halving when that drops already), a bisection
 * on the period to 5% (-q: 20%), then a confirmation for -t seconds (the
 * period 25% longer each time that fails, 5 runs at most).  A trial fails
 * when the device dropped a frame (stream_stats before the stop) or
 * produced under 95% of the frames due.  Unlike stream_bench, a trial ends
 * at its first sign of a drop (an FI_EOVERRUN completion, a frame whose
 * lost_before is not 0): it has failed then, and the search goes on
 * sooner; the drops of such a trial are those until then.
 *
 * memcpy: per path and size, before the trials, one frame between two
 * buffers of that size, the anchor the throughput is a share of.  CPU
 * time: getrusage(RUSAGE_SELF) over the trial, per 10^9 bytes; for
 * fi-copy it includes the provider's copies, made in this thread.
 *
 * Output: the trials and a table on stdout; with -o FILE the rows as TSV
 * with stream_bench's columns and path last ("# title: ..." and notes
 * first; header size slot_size nslots fifo_frames period_ns frames_per_s
 * MBps memcpy_MBps of_memcpy lat_p50_us lat_p99_us lat_max_us cpu_s_per_GB
 * duration_s frames drops trials result path).  Exit 0 when it ran, 77
 * ("SKIP: reason") without the provider or paced streams, 1 on an error or
 * wrong data.  Provider: -p, $FI_PROVIDER, else "fpgadma".
 */
#include "common.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fi_ext_fpgadma.h>

#define KIB		((uint64_t)1024)
#define MIB		(1024 * KIB)
#define RING_BYTES	(32 * MIB)	/* the ring's slots fit in this */
#define MIN_SLOTS	8
#define MAX_SLOTS	256
#define ODD_OFFSET	77		/* ZC ring offset for a size not a multiple of 8 */
#define ODD_SLOT_EXTRA	5		/* and slot_size = size + this */
#define START_BPS	(16 * MIB)	/* the first trial's bytes per second */
#define MIN_PERIOD_NS	1000ull		/* 1,000,000 frames/s: the search's ceiling */
#define MAX_PERIOD_NS	10000000000ull	/* 0.1 frames/s: its floor */
#define CONFIRM_TRIES	5
#define CONFIRM_BACKOFF	1.25
#define WAIT_MS		100		/* one fi_cq_sreadfrom / poll() */
#define IDLE_SLEEP_NS	100000		/* ZC without a wait fd */
#define MAX_SIZES	16
#define MAX_NOTES	32
#define NBUFS		4		/* fi-copy: FI_MULTI_RECV buffers */
#define BUF_MIN		MIB		/* each at least this */
#define BUF_FRAMES	8		/* and room for this many frames */
#define CQ_BATCH	16

enum path { PATH_COPY, PATH_ZC, NPATHS };
static const char *const path_names[NPATHS] = { "fi-copy", "fi-zc" };

struct trial {
	bool refused;		/* the device refused the period (-FI_EINVAL) */
	bool lagged;		/* it produced under 95% of the frames due */
	bool cut;		/* ended early at a sign of a drop */
	uint64_t period_ns;	/* as the device runs it */
	uint32_t fifo_frames, fifo_hwm;
	double secs, cpu_s;
	uint64_t frames, delivered, drops, bytes;	/* drops: before the stop */
	uint64_t eoverrun;	/* fi-copy: FI_EOVERRUN completions */
	double p50_us, p99_us, max_us;
};

struct row {
	enum path path;
	uint64_t size;
	uint32_t slot_size, nslots, fifo_frames;
	uint64_t period_ns;
	double memcpy_mbps;
	struct trial t;
	unsigned int trials;
	const char *result;
};

static struct {
	double duration;	/* -t */
	double search;		/* -S */
	double precision;
	uint32_t nslots;	/* -n, 0: by size */
	bool verify_all;	/* -V */
	bool quick;		/* -q */
	const char *out;	/* -o */
	unsigned int paths;	/* -P: bit per enum path */
	uint64_t sizes[MAX_SIZES];
	unsigned int nsizes;
} opt = {
	.duration = 30,
	.search = 1,
	.precision = 0.05,
	.paths = (1u << PATH_COPY) | (1u << PATH_ZC),
	.sizes = { 4 * KIB, 64 * KIB, 64 * KIB + 123, MIB, 4 * MIB },
	.nsizes = 5,
};

static struct ft_dom dom;
static struct fi_fpgadma_fpga fpga;
static fi_addr_t fpga_addr;
static struct fi_fpgadma_ops_domain *ops;

/* The stream's endpoint and CQ, one pair per path and size. */
static struct fid_ep *sep;
static struct fid_cq *scq;
static int wait_fd = -1;	/* FI_GETWAIT of scq, or -1 */

/* fi-copy: the receive buffers, NBUFS of buf_size in one MR */
static uint8_t *rbuf;
static void *rbuf_base;
static size_t rbuf_map, rbuf_len, buf_size;
static struct fid_mr *rmr;
static struct ft_op rop[NBUFS];
static bool rposted[NBUFS];

/* fi-zc: the ring's region, one MR for every size */
static uint8_t *zmem;
static void *zbase;
static size_t zmap, zlen;
static struct fid_mr *zmr;

static uint64_t *lat;		/* one trial's latencies, ns */
static size_t nlat, lat_cap;
static struct row rows[NPATHS * MAX_SIZES];
static unsigned int nrows;
static char *notes[MAX_NOTES];
static unsigned int nnotes;
static uint64_t total_frames;

/* ---- small things (as in stream_bench) ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void note(const char *fmt, ...) FT_PRINTF(1, 2);
/* A line for the table's header and the TSV's comments. */
static void note(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	printf("# %s\n", s);
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = s;
	else
		free(s);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return le64toh(w);
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return le32toh(w);
}

#define HDR(f, field) ((f) + offsetof(struct fpgadma_frame_hdr, field))

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of the sorted v[n], in µs. */
static double pct_us(const uint64_t *v, size_t n, unsigned int p)
{
	size_t k = (n * p + 99) / 100;

	return n ? (double)v[k ? k - 1 : 0] / 1e3 : 0;
}

static const char *human(uint64_t s, char *buf, size_t len)
{
	if (s >= MIB && s % MIB == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", s / MIB);
	else if (s >= KIB && s % KIB == 0)
		snprintf(buf, len, "%" PRIu64 " KiB", s / KIB);
	else
		snprintf(buf, len, "%" PRIu64 " B", s);
	return buf;
}

/*
 * The ring of frames of size bytes, stream_bench's: slot size, slots,
 * offset in the ZC region.  Copy mode takes the slots only (the
 * provider's ring has slot_size = frame_size at offset 0).
 */
static void geometry(uint64_t size, uint32_t *slot, uint32_t *nslots, uint64_t *off)
{
	uint64_t n;

	*slot = (uint32_t)(size % 8 ? size + ODD_SLOT_EXTRA : size);
	*off = size % 8 ? ODD_OFFSET : 0;
	n = opt.nslots ? opt.nslots : RING_BYTES / *slot;
	if (!opt.nslots && n > MAX_SLOTS)
		n = MAX_SLOTS;
	if (!opt.nslots && n < MIN_SLOTS)
		n = MIN_SLOTS;
	*nslots = (uint32_t)n;
}

/* fi-copy: bytes of one receive buffer for frames of size bytes. */
static size_t copy_buf_size(uint64_t size)
{
	return (size_t)FT_MAX((uint64_t)BUF_MIN, BUF_FRAMES * size);
}

/* Bandwidth of memcpy of size bytes between two buffers, MB/s. */
static double memcpy_mbps(uint64_t size)
{
	double budget = opt.quick ? 0.05 : 0.25, t = 0;
	size_t len = (size_t)((size + 4095) / 4096 * 4096);
	unsigned char *src, *dst;
	uint64_t n = 1, i;

	src = aligned_alloc(4096, len);
	dst = aligned_alloc(4096, len);
	if (!src || !dst) {
		free(src);
		free(dst);
		return 0;
	}
	memset(src, 0x5a, size);
	memset(dst, 0, size);
	for (;;) {
		double t0 = now_s();

		for (i = 0; i < n; i++) {
			memcpy(dst, src, size);
			/* the copies are not dead stores */
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
		t = now_s() - t0;
		if (t >= budget / 2 || n >= (1ull << 40))
			break;
		n = t > 0 && (double)n * budget / t < 100.0 * (double)n ?
		    (uint64_t)((double)n * budget / t) + 1 : 100 * n;
	}
	free(src);
	free(dst);
	return t > 0 ? (double)size * (double)n / t / 1e6 : 0;
}

static void keep_latency(uint64_t ns)
{
	if (nlat == lat_cap) {
		size_t cap = lat_cap ? 2 * lat_cap : 65536;
		uint64_t *p = realloc(lat, cap * sizeof(*p));

		if (!p)
			ft_fatal("out of memory for %zu latencies", cap);
		lat = p;
		lat_cap = cap;
	}
	lat[nlat++] = ns;
}

/* ---- the consumer ---- */

struct consumer {
	enum path path;
	uint32_t frame_size, id;
	bool any;
	uint64_t last_seq, lost, bytes, taken;
	uint64_t eoverrun, err_lost;	/* fi-copy: FI_EOVERRUN completions, their olen */
	unsigned int cancels;		/* fi-copy: FI_ECANCELED completions */
	bool dropped;			/* a sign of a drop: the trial has failed */
};

/* Check frame idx at f (its header, a payload word or all): 0, or -1 (a failed check). */
static int check_frame(struct consumer *c, const uint8_t *f, uint64_t idx)
{
	uint64_t fs = c->frame_size, words = fs / 8, seq, lost, want, j, first;
	uint32_t id = le32_at(HDR(f, stream_id));

	if (le32_at(HDR(f, magic)) != FPGADMA_FRAME_MAGIC || le32_at(HDR(f, frame_size)) != fs ||
	    (c->any && id != c->id)) {
		ft_error("%s: frame %" PRIu64 " of %" PRIu64 " bytes: magic %#" PRIx32
			 ", frame_size %" PRIu32 ", stream_id %" PRIu32 " (the first frame's %" PRIu32 ")",
			 path_names[c->path], idx, fs, le32_at(HDR(f, magic)),
			 le32_at(HDR(f, frame_size)), id, c->id);
		return -1;
	}
	seq = le64_at(HDR(f, seq));
	lost = le64_at(HDR(f, lost_before));
	want = (c->any ? c->last_seq + 1 : 0) + lost;
	if (seq != want) {
		ft_error("%s: frame %" PRIu64 " of %" PRIu64 " bytes: seq %" PRIu64 " with lost_before %"
			 PRIu64 ", expected seq %" PRIu64, path_names[c->path], idx, fs, seq, lost, want);
		return -1;
	}
	first = opt.verify_all ? FPGADMA_FRAME_HDR_SIZE / 8 : words - 1;
	for (j = first; j < words && j >= FPGADMA_FRAME_HDR_SIZE / 8; j++) {
		if (le64_at(f + 8 * j) != fi_fpgadma_stream_word(seq, j)) {
			ft_error("%s: frame %" PRIu64 " (seq %" PRIu64 ") of %" PRIu64 " bytes: word %"
				 PRIu64 " is %#" PRIx64 ", expected %#" PRIx64, path_names[c->path], idx,
				 seq, fs, j, le64_at(f + 8 * j), (uint64_t)fi_fpgadma_stream_word(seq, j));
			return -1;
		}
	}
	if (!c->any)
		c->id = id;
	c->any = true;
	c->last_seq = seq;
	c->lost += lost;
	c->bytes += fs;
	c->taken++;
	if (lost)
		c->dropped = true;
	return 0;
}

/* ---- the stream's endpoint ---- */

static void open_stream_ep(uint64_t frame_size)
{
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_DATA,
		.wait_obj = FI_WAIT_UNSPEC,
	};
	size_t min = (size_t)frame_size;
	int fd = -1;

	FT_CALL(fi_cq_open(dom.domain, &cq_attr, &scq, NULL));
	FT_CALL(fi_endpoint(dom.domain, dom.info, &sep, NULL));
	FT_CALL(fi_ep_bind(sep, &dom.av->fid, 0));
	FT_CALL(fi_ep_bind(sep, &scq->fid, FI_TRANSMIT | FI_RECV));
	/* a buffer goes once it cannot take another frame */
	FT_CALL(fi_setopt(&sep->fid, FI_OPT_ENDPOINT, FI_OPT_MIN_MULTI_RECV, &min, sizeof(min)));
	FT_CALL(fi_enable(sep));
	/* readable while the domain has completions progress has not taken */
	wait_fd = fi_control(&scq->fid, FI_GETWAIT, &fd) ? -1 : fd;
}

static void close_stream_ep(void)
{
	ft_close_fid(&sep->fid, "stream endpoint");
	ft_close_fid(&scq->fid, "stream cq");
	sep = NULL;
	scq = NULL;
	wait_fd = -1;
}

/*
 * Progress of the domain (it takes the stream's CQEs): an fi_cq_read of
 * the stream's CQ, which has nothing to say while no receive is posted.
 * 0, or -1 (a completion nobody expected).
 */
static int cq_poke(const char *who)
{
	struct fi_cq_data_entry e;
	struct fi_cq_err_entry err;
	ssize_t n = fi_cq_read(scq, &e, 1);

	if (n == -FI_EAGAIN)
		return 0;
	if (n == -FI_EAVAIL) {
		memset(&err, 0, sizeof(err));
		n = fi_cq_readerr(scq, &err, 0);
		ft_error("%s: an error completion on the stream endpoint's CQ: %d (%s)", who,
			 n == 1 ? err.err : (int)-n, fi_strerror(n == 1 ? err.err : (int)-n));
		return -1;
	}
	if (n < 0)
		ft_fatal("%s: fi_cq_read: %zd (%s)", who, n, ft_strerr(n));
	ft_error("%s: a completion (context %p, flags %#" PRIx64 ") on the stream endpoint's CQ",
		 who, e.op_context, (uint64_t)e.flags);
	return -1;
}

/* stream_start, as the provider answers: 0, or a negative FI_E* code. */
static int start(struct fi_fpgadma_stream_attr *a, const char *who)
{
	int ret, tries;

	for (tries = 0;; tries++) {
		ret = ops->stream_start(sep, a);
		if (ret != -FI_EAGAIN || tries == 20)
			break;
		/* no room in the completion ring: progress, try again */
		if (cq_poke(who))
			return -FI_EIO;
		sched_yield();
	}
	if (ret == -FI_EOPNOTSUPP)
		ft_skip("domain %s: no paced streams (stream_start: %s): the device lacks "
			"FPGADMA_CAP_STREAM", dom.info->domain_attr->name, fi_strerror(-ret));
	return ret;
}

/* The device's counters before the stop and at it: consistent? */
static int check_counters(const struct consumer *c, const struct fpgadma_stream_stats *st,
			  const struct fpgadma_stream_stats *fin)
{
	if (c->lost > st->drops || c->err_lost > st->drops ||
	    st->frames != st->frames_delivered + st->drops + st->fifo_level ||
	    fin->frames != fin->frames_delivered + fin->drops + fin->fifo_level) {
		ft_error("%s: counters: the frames taken told of %" PRIu64 " drops (FI_EOVERRUN: %"
			 PRIu64 "), the device counted %" PRIu64 " of %" PRIu64 " frames (%" PRIu64
			 " delivered, %" PRIu32 " in the FIFO); at the stop %" PRIu64 " = %" PRIu64
			 " + %" PRIu64 " + %" PRIu32, path_names[c->path], c->lost, c->err_lost,
			 (uint64_t)st->drops, (uint64_t)st->frames, (uint64_t)st->frames_delivered,
			 st->fifo_level, (uint64_t)fin->frames, (uint64_t)fin->frames_delivered,
			 (uint64_t)fin->drops, fin->fifo_level);
		return -1;
	}
	return 0;
}

static void fill_trial(struct trial *t, const struct consumer *c,
		       const struct fpgadma_stream_stats *st)
{
	t->frames = st->frames;
	t->delivered = c->taken;
	t->bytes = c->bytes;
	t->drops = st->drops;
	t->fifo_frames = st->fifo_frames;
	t->fifo_hwm = st->fifo_hwm;
	t->eoverrun = c->eoverrun;
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	t->p50_us = pct_us(lat, nlat, 50);
	t->p99_us = pct_us(lat, nlat, 99);
	t->max_us = pct_us(lat, nlat, 100);
	total_frames += c->taken;
}

/* ---- fi-copy: FI_MULTI_RECV receives ---- */

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
	struct iovec iov = { .iov_base = rbuf + (size_t)b * buf_size, .iov_len = buf_size };
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
		ft_fatal("fi_recvmsg(FI_MULTI_RECV) of buffer %d (%zu bytes) from the FPGA: %zd (%s)",
			 b, buf_size, ret, ft_strerr(ret));
	rposted[b] = true;
}

/*
 * A frame's completion: checked, its latency noted when seen is not 0,
 * its buffer posted again when used up (when repost).  0 or -1.
 */
static int take_frame(struct consumer *c, const struct fi_cq_data_entry *e, fi_addr_t src,
		      uint64_t seen, bool repost)
{
	const uint64_t want_flags = FI_RECV | FI_MSG | FI_REMOTE_CQ_DATA;
	int b = buf_of(e->op_context);
	const uint8_t *f = e->buf, *lo;

	if (b < 0 || !rposted[b]) {
		ft_error("fi-copy: a completion of context %p, not of a posted buffer", e->op_context);
		return -1;
	}
	lo = rbuf + (size_t)b * buf_size;
	if ((e->flags & ~(uint64_t)FI_MULTI_RECV) != want_flags || e->len != c->frame_size ||
	    !f || (uintptr_t)f < (uintptr_t)lo ||
	    (uintptr_t)f + e->len > (uintptr_t)lo + buf_size || src != fpga_addr) {
		ft_error("fi-copy: frame %" PRIu64 " (buffer %d): flags %#" PRIx64 " len %zu buf %p"
			 " src_addr %" PRIu64 "; expected flags %#" PRIx64 " (and maybe FI_MULTI_RECV),"
			 " len %" PRIu32 ", buf in %p + %zu, src_addr %" PRIu64 " (the FPGA)", c->taken,
			 b, (uint64_t)e->flags, e->len, e->buf, (uint64_t)src, want_flags,
			 c->frame_size, (const void *)lo, buf_size, (uint64_t)fpga_addr);
		return -1;
	}
	if (check_frame(c, f, c->taken))
		return -1;
	if (e->data != c->last_seq) {
		ft_error("fi-copy: frame %" PRIu64 ": data %#" PRIx64 ", expected the frame's seq %"
			 PRIu64, c->taken - 1, (uint64_t)e->data, c->last_seq);
		return -1;
	}
	if (seen)
		keep_latency(seen - le64_at(HDR(f, timestamp_ns)));
	if (e->flags & FI_MULTI_RECV) {
		/* used up: released, posted again */
		rposted[b] = false;
		if (repost)
			post_buf(b);
	}
	return 0;
}

/* An error completion: lost frames, or a cancelled receive.  0 or -1. */
static int take_err(struct consumer *c)
{
	struct fi_cq_err_entry err;
	ssize_t n;
	int b;

	memset(&err, 0, sizeof(err));
	n = fi_cq_readerr(scq, &err, 0);
	if (n != 1)
		ft_fatal("fi-copy: fi_cq_readerr after -FI_EAVAIL: %zd (%s)", n, ft_strerr(n));
	b = buf_of(err.op_context);
	if (b < 0 || !rposted[b]) {
		ft_error("fi-copy: an error completion (%d, %s) of context %p, not of a posted buffer",
			 err.err, fi_strerror(err.err), err.op_context);
		return -1;
	}
	if (err.err == FI_ECANCELED) {
		rposted[b] = false;
		c->cancels++;
		return 0;
	}
	if (err.err == FI_EOVERRUN && err.prov_errno == FI_FPGADMA_ERR_FRAMES_LOST) {
		/* the receive stays posted; the trial has failed */
		c->eoverrun++;
		c->err_lost += err.olen;
		c->dropped = true;
		return 0;
	}
	ft_error("fi-copy: error completion %d (%s), prov_errno %d: %s", err.err,
		 fi_strerror(err.err), err.prov_errno,
		 fi_cq_strerror(scq, err.prov_errno, err.err_data, NULL, 0));
	return -1;
}

/*
 * Take what the stream's CQ has, sleeping up to timeout_ms when it has
 * nothing (0: not at all).  live: a running trial's frames (latency
 * noted, buffers posted again).  Returns the entries taken, or -1.
 */
static int read_cq(struct consumer *c, int timeout_ms, bool live)
{
	struct fi_cq_data_entry ents[CQ_BATCH];
	fi_addr_t srcs[CQ_BATCH];
	uint64_t seen;
	ssize_t n, i;

	if (timeout_ms > 0)
		n = fi_cq_sreadfrom(scq, ents, CQ_BATCH, srcs, NULL, timeout_ms);
	else
		n = fi_cq_readfrom(scq, ents, CQ_BATCH, srcs);
	seen = now_ns();
	if (n == -FI_EAGAIN || n == -FI_ETIMEDOUT)
		return 0;
	if (n == -FI_EAVAIL)
		return take_err(c) ? -1 : 1;
	if (n < 0)
		ft_fatal("fi-copy: fi_cq_%sreadfrom: %zd (%s)", timeout_ms > 0 ? "s" : "", n,
			 ft_strerr(n));
	for (i = 0; i < n; i++)
		if (take_frame(c, &ents[i], srcs[i], live ? seen : 0, live))
			return -1;
	return (int)n;
}

/*
 * After the stop (or a refused start): the completions left (checked),
 * then the buffers taken back with fi_cancel.  0 or -1.
 */
static int copy_end(struct consumer *c)
{
	uint64_t t0 = ft_now_us();
	unsigned int want = 0;
	int b, r;

	while ((r = read_cq(c, 0, false)) > 0)
		;
	if (r < 0)
		return -1;
	for (b = 0; b < NBUFS; b++) {
		if (!rposted[b])
			continue;
		FT_CALL(fi_cancel(&sep->fid, &rop[b]));
		want++;
	}
	c->cancels = 0;
	while (c->cancels < want) {
		r = read_cq(c, 0, false);
		if (r < 0)
			return -1;
		if (!r) {
			if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
				ft_fatal("fi-copy: %u of %u cancelled receives completed", c->cancels,
					 want);
			sched_yield();
		}
	}
	return 0;
}

static int trial_copy(uint64_t size, uint64_t period_ns, double secs, struct trial *t)
{
	struct fi_fpgadma_stream_attr a;
	struct fpgadma_stream_stats st, fin;
	struct consumer c = { .path = PATH_COPY };
	uint32_t slot, nslots;
	uint64_t off, end_ns;
	double t0, c0;
	int ret, b, r;

	geometry(size, &slot, &nslots, &off);
	memset(&a, 0, sizeof(a));
	a.frame_size = (uint32_t)size;
	a.frame_period_ns = period_ns;
	a.nslots = nslots;
	c.frame_size = (uint32_t)size;
	/* receives posted before the start wait for its frames */
	for (b = 0; b < NBUFS; b++)
		post_buf(b);
	ret = start(&a, "fi-copy");
	if (ret == -FI_EINVAL) {
		t->refused = true;
		t->period_ns = period_ns;
		return copy_end(&c);
	}
	if (ret)
		ft_fatal("fi-copy: stream_start (frames of %" PRIu64 " bytes every %" PRIu64 " ns, %"
			 PRIu32 " slots): %d (%s)", size, period_ns, nslots, ret, fi_strerror(-ret));
	if (a.frame_size != size)
		ft_fatal("fi-copy: stream_start made frames of %" PRIu32 " bytes of %" PRIu64,
			 a.frame_size, size);
	t->period_ns = a.frame_period_ns;
	nlat = 0;

	t0 = now_s();
	c0 = cpu_s();
	end_ns = now_ns() + (uint64_t)(secs * 1e9);
	for (;;) {
		r = read_cq(&c, WAIT_MS, true);
		if (r < 0)
			goto err;
		if (c.dropped) {
			t->cut = true;
			break;
		}
		if (now_ns() >= end_ns)
			break;
	}
	t->secs = now_s() - t0;
	t->cpu_s = cpu_s() - c0;
	memset(&st, 0, sizeof(st));
	ret = ops->stream_stats(sep, &st);
	if (ret)
		ft_fatal("fi-copy: stream_stats: %d (%s)", ret, fi_strerror(-ret));
	ret = ops->stream_stop(sep, 0, &fin);
	if (ret)
		ft_fatal("fi-copy: stream_stop: %d (%s)", ret, fi_strerror(-ret));
	if (st.state != FPGADMA_STREAM_RUNNING) {
		ft_error("fi-copy: the stream stopped by itself (state %" PRIu32 ", end %" PRIu32 ")",
			 st.state, st.end);
		copy_end(&c);
		return -1;
	}
	if (copy_end(&c) || check_counters(&c, &st, &fin))
		return -1;
	fill_trial(t, &c, &st);
	return 0;
err:
	ops->stream_stop(sep, 0, NULL);
	return -1;
}

/* ---- fi-zc: the ring in the application's MR ---- */

/* Nothing there: sleep until the domain has a completion (a frame's), or WAIT_MS. */
static void zc_idle(void)
{
	struct pollfd pfd = { .fd = wait_fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = 0, .tv_nsec = IDLE_SLEEP_NS };

	if (wait_fd < 0 || poll(&pfd, 1, WAIT_MS) < 0)
		nanosleep(&ts, NULL);
}

static int trial_zc(uint64_t size, uint64_t period_ns, double secs, struct trial *t)
{
	struct fi_fpgadma_stream_attr a;
	struct fpgadma_stream_stats st, fin;
	struct consumer c = { .path = PATH_ZC };
	uint64_t off, end_ns, first, n, i, expect = 0, since = 0, every;
	uint32_t slot, nslots;
	double t0, c0;
	int ret;

	geometry(size, &slot, &nslots, &off);
	memset(&a, 0, sizeof(a));
	a.flags = FI_FPGADMA_STREAM_ZC;
	a.mr = zmr;
	a.ring_offset = off;
	a.slot_size = slot;
	a.nslots = nslots;
	a.frame_size = (uint32_t)size;
	a.frame_period_ns = period_ns;
	c.frame_size = (uint32_t)size;
	ret = start(&a, "fi-zc");
	if (ret == -FI_EINVAL) {
		t->refused = true;
		t->period_ns = period_ns;
		return 0;
	}
	if (ret)
		ft_fatal("fi-zc: stream_start (FI_FPGADMA_STREAM_ZC, frames of %" PRIu64 " bytes every %"
			 PRIu64 " ns, %" PRIu32 " slots of %" PRIu32 " bytes at offset %" PRIu64 "): %d (%s)",
			 size, period_ns, nslots, slot, off, ret, fi_strerror(-ret));
	if (a.frame_size != size || a.nslots != nslots || a.slot_size != slot)
		ft_fatal("fi-zc: stream_start made %" PRIu32 " slots of %" PRIu32 " bytes, frames of %"
			 PRIu32, a.nslots, a.slot_size, a.frame_size);
	t->period_ns = a.frame_period_ns;
	every = nslots / 2 ? nslots / 2 : 1;
	nlat = 0;

	t0 = now_s();
	c0 = cpu_s();
	end_ns = now_ns() + (uint64_t)(secs * 1e9);
	for (;;) {
		uint64_t seen;

		n = ops->stream_ready(sep, &first);
		seen = now_ns();
		if (seen >= end_ns)
			break;
		if (n > nslots || (n && first != expect)) {
			ft_error("fi-zc: stream_ready: %" PRIu64 " frames from %" PRIu64 ", after %" PRIu64
				 " taken, %" PRIu32 " slots", n, first, expect, nslots);
			goto err;
		}
		for (i = 0; i < n; i++) {
			const uint8_t *f = ops->stream_slot(sep, first + i);
			const uint8_t *want = zmem + off + (first + i) % nslots * (uint64_t)slot;

			if (f != want) {
				ft_error("fi-zc: stream_slot(%" PRIu64 ") is %p, expected %p", first + i,
					 (const void *)f, (const void *)want);
				goto err;
			}
			if (check_frame(&c, f, first + i))
				goto err;
			keep_latency(seen - le64_at(HDR(f, timestamp_ns)));
		}
		if (n) {
			ops->stream_release(sep, n);
			expect += n;
			if (c.dropped) {
				t->cut = true;
				break;
			}
			/* the frames keep coming: the domain's completions now and then */
			since += n;
			if (since >= every) {
				since = 0;
				if (cq_poke("fi-zc"))
					goto err;
			}
			continue;
		}
		/* stream_ready ran the domain's progress when it found nothing */
		since = 0;
		zc_idle();
	}
	t->secs = now_s() - t0;
	t->cpu_s = cpu_s() - c0;
	memset(&st, 0, sizeof(st));
	ret = ops->stream_stats(sep, &st);
	if (ret)
		ft_fatal("fi-zc: stream_stats: %d (%s)", ret, fi_strerror(-ret));
	ret = ops->stream_stop(sep, 0, &fin);
	if (ret)
		ft_fatal("fi-zc: stream_stop: %d (%s)", ret, fi_strerror(-ret));
	/* its last kernel completions */
	if (cq_poke("fi-zc"))
		return -1;
	if (st.state != FPGADMA_STREAM_RUNNING) {
		ft_error("fi-zc: the stream stopped by itself (state %" PRIu32 ", end %" PRIu32 ")",
			 st.state, st.end);
		return -1;
	}
	if (check_counters(&c, &st, &fin))
		return -1;
	fill_trial(t, &c, &st);
	return 0;
err:
	ops->stream_stop(sep, 0, NULL);
	return -1;
}

/* ---- the search (stream_bench's) ---- */

static double rate_of(uint64_t period_ns)
{
	return 1e9 / (double)period_ns;
}

/* Run a trial and print it: 0 (*ok: no drop), -1 on an error. */
static int try_period(enum path p, uint64_t size, uint64_t period_ns, double secs,
		      struct trial *t, bool *ok, unsigned int *trials, const char *why)
{
	double due;
	char cut[64] = "";
	int ret;

	memset(t, 0, sizeof(*t));
	ret = p == PATH_COPY ? trial_copy(size, period_ns, secs, t) :
	      trial_zc(size, period_ns, secs, t);
	if (ret)
		return -1;
	(*trials)++;
	/* a device that falls behind its own clock does not sustain the rate */
	due = t->secs * rate_of(t->period_ns ? t->period_ns : period_ns);
	t->lagged = !t->refused && !t->cut && (double)t->frames + 2 < 0.95 * due;
	*ok = !t->refused && !t->lagged && !t->cut && t->drops == 0;
	if (t->cut)
		snprintf(cut, sizeof(cut), " (ended at the first %s)",
			 t->eoverrun ? "FI_EOVERRUN" : "lost_before");
	if (t->refused)
		printf("  %-7s %-8" PRIu64 " %-8s %12.1f frames/s: refused by the device (-FI_EINVAL)\n",
		       path_names[p], size, why, rate_of(period_ns));
	else
		printf("  %-7s %-8" PRIu64 " %-8s %12.1f frames/s %6.2f s: %" PRIu64 " frames%s, %" PRIu64
		       " drops%s, FIFO high-water %" PRIu32 "/%" PRIu32 ", p99 %.0f us\n",
		       path_names[p], size, why, rate_of(t->period_ns), t->secs, t->frames,
		       t->lagged ? " (the device fell behind: under 95% of those due)" : "", t->drops,
		       cut, t->fifo_hwm, t->fifo_frames, t->p99_us);
	fflush(stdout);
	return 0;
}

/* The search of one size on one path: fills r. */
static int measure(enum path p, uint64_t size, struct row *r)
{
	double search = opt.search < opt.duration ? opt.search : opt.duration;
	uint64_t period, good = 0, bad = 0, off;
	struct trial t, best;
	unsigned int confirm;
	bool ok, capped = false, bad_refused = false;
	uint32_t zslot;

	memset(r, 0, sizeof(*r));
	memset(&best, 0, sizeof(best));
	r->path = p;
	r->size = size;
	geometry(size, &zslot, &r->nslots, &off);
	r->slot_size = p == PATH_ZC ? zslot : (uint32_t)size;
	r->memcpy_mbps = memcpy_mbps(size);

	/* 1. doubling (or halving when the first rate drops already) */
	period = (uint64_t)(1e9 * (double)size / (double)START_BPS);
	if (period < MIN_PERIOD_NS)
		period = MIN_PERIOD_NS;
	if (period > 1000000000ull)
		period = 1000000000ull;
	for (;;) {
		if (try_period(p, size, period, search, &t, &ok, &r->trials,
			       good ? "double" : bad ? "halve" : "start"))
			return -1;
		if (ok) {
			good = t.period_ns;
			best = t;
			if (bad)
				break;
			if (period / 2 < MIN_PERIOD_NS) {
				capped = true;
				break;
			}
			period /= 2;
		} else {
			bad = period;
			bad_refused = t.refused;
			if (good)
				break;
			if (period * 2 > MAX_PERIOD_NS) {
				ft_error("%s: %" PRIu64 "-byte frames: %s even at %.2f frames/s",
					 path_names[p], size,
					 t.refused ? "the device refuses" : "drops", rate_of(period));
				return -1;
			}
			period *= 2;
		}
	}
	/* 2. bisection on the period */
	while (!capped && bad && (double)good / (double)bad > 1 + opt.precision) {
		period = (good + bad) / 2;
		if (period == good || period == bad)
			break;
		if (try_period(p, size, period, search, &t, &ok, &r->trials, "bisect"))
			return -1;
		if (ok) {
			good = period;
			best = t;
		} else {
			bad = period;
			bad_refused = t.refused;
		}
	}
	/* 3. confirmation for the whole duration */
	r->result = capped || bad_refused ? "capped" : "ok";
	if (opt.duration > search) {
		for (confirm = 0;; confirm++) {
			if (try_period(p, size, good, opt.duration, &t, &ok, &r->trials, "confirm"))
				return -1;
			best = t;
			if (ok)
				break;
			if (confirm + 1 == CONFIRM_TRIES) {
				r->result = "unconfirmed";
				break;
			}
			good = (uint64_t)((double)good * CONFIRM_BACKOFF);
		}
	}
	r->t = best;
	r->period_ns = best.period_ns;
	r->fifo_frames = best.fifo_frames;
	return 0;
}

/* ---- output ---- */

static void print_row(const struct row *r)
{
	double rate = rate_of(r->period_ns), mbps = rate * (double)r->size / 1e6;
	double gb = (double)r->t.bytes / 1e9;

	printf("%-7s %10" PRIu64 " %8" PRIu32 " %5" PRIu32 " %4" PRIu32 " %12.1f %10.1f %11.0f %9.3f"
	       " %8.0f %8.0f %8.0f %9.3f %8.1f %6" PRIu64 " %-11s\n", path_names[r->path], r->size,
	       r->slot_size, r->nslots, r->fifo_frames, rate, mbps, r->memcpy_mbps,
	       r->memcpy_mbps > 0 ? mbps / r->memcpy_mbps : 0, r->t.p50_us, r->t.p99_us,
	       r->t.max_us, gb > 0 ? r->t.cpu_s / gb : 0, r->t.secs, r->t.drops, r->result);
}

static int write_tsv(const char *file, const char *title)
{
	FILE *f = fopen(file, "w");
	unsigned int i;

	if (!f) {
		ft_error("%s: %s", file, strerror(errno));
		return -1;
	}
	fprintf(f, "# title: %s\n", title);
	for (i = 0; i < nnotes; i++)
		fprintf(f, "# %s\n", notes[i]);
	fprintf(f, "size\tslot_size\tnslots\tfifo_frames\tperiod_ns\tframes_per_s\tMBps\tmemcpy_MBps"
		"\tof_memcpy\tlat_p50_us\tlat_p99_us\tlat_max_us\tcpu_s_per_GB\tduration_s\tframes"
		"\tdrops\ttrials\tresult\tpath\n");
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		double rate = rate_of(r->period_ns), mbps = rate * (double)r->size / 1e6;
		double gb = (double)r->t.bytes / 1e9;

		fprintf(f, "%" PRIu64 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%.3f\t%.3f"
			"\t%.3f\t%.4f\t%.3f\t%.3f\t%.3f\t%.4f\t%.3f\t%" PRIu64 "\t%" PRIu64 "\t%u\t%s\t%s\n",
			r->size, r->slot_size, r->nslots, r->fifo_frames, r->period_ns, rate, mbps,
			r->memcpy_mbps, r->memcpy_mbps > 0 ? mbps / r->memcpy_mbps : 0, r->t.p50_us,
			r->t.p99_us, r->t.max_us, gb > 0 ? r->t.cpu_s / gb : 0, r->t.secs,
			r->t.delivered, r->t.drops, r->trials, r->result, path_names[r->path]);
	}
	if (fclose(f)) {
		ft_error("%s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- options ---- */

static uint64_t parse_size(const char *s, const char **end_out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	}
	/* 64K+123 */
	if (*end == '+') {
		unsigned long long add = strtoull(end + 1, &end, 0);

		v += add;
	}
	*end_out = end;
	return v;
}

static bool parse_sizes(const char *list)
{
	const char *p = list, *end;

	opt.nsizes = 0;
	for (;;) {
		uint64_t v = parse_size(p, &end);

		if (v < FPGADMA_FRAME_HDR_SIZE + 8 || v > UINT32_MAX - 64 || opt.nsizes == MAX_SIZES ||
		    (*end && *end != ','))
			return false;
		opt.sizes[opt.nsizes++] = v;
		if (!*end)
			return true;
		p = end + 1;
	}
}

static bool parse_paths(const char *list)
{
	char buf[64], *tok, *save = NULL;
	int p;

	if (strlen(list) >= sizeof(buf))
		return false;
	strcpy(buf, list);
	opt.paths = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (p = 0; p < NPATHS; p++)
			if (!strcmp(tok, path_names[p]))
				break;
		if (p == NPATHS)
			return false;
		opt.paths |= 1u << p;
	}
	return opt.paths != 0;
}

static int other_opt(int c, const char *arg)
{
	switch (c) {
	case 'q':
		opt.quick = true;
		opt.precision = 0.2;
		return 0;
	case 't':
		opt.duration = strtod(arg, NULL);
		return opt.duration > 0 ? 0 : -1;
	case 'S':
		opt.search = strtod(arg, NULL);
		return opt.search > 0 ? 0 : -1;
	case 's':
		return parse_sizes(arg) ? 0 : -1;
	case 'n':
		opt.nslots = (uint32_t)strtoul(arg, NULL, 0);
		return opt.nslots ? 0 : -1;
	case 'V':
		opt.verify_all = true;
		return 0;
	case 'o':
		opt.out = arg;
		return 0;
	case 'P':
		return parse_paths(arg) ? 0 : -1;
	}
	return -1;
}

static const char *engine_name(uint32_t engine)
{
	switch (engine) {
	case FI_FPGADMA_ENGINE_SOFT:
		return "soft";
	case FI_FPGADMA_ENGINE_EDU:
		return "edu";
	default:
		return "unknown";
	}
}

/* ---- setup ---- */

/* fi-copy's receive buffers, for the largest size: one MR. */
static void copy_setup(void)
{
	uint64_t max = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < opt.nsizes; i++)
		max = FT_MAX(max, opt.sizes[i]);
	rbuf_len = NBUFS * copy_buf_size(max);
	rbuf = ft_alloc_at(rbuf_len, 0, &rbuf_base, &rbuf_map);
	ret = ft_mr_reg(&dom, NULL, rbuf, rbuf_len, FI_RECV, 0, &rmr);
	if (ret)
		ft_fatal("fi-copy: fi_mr_reg of the receive buffers (%zu bytes): %s", rbuf_len,
			 ft_strerr(ret));
}

/* fi-zc's ring region, for every size's ring: one MR. */
static void zc_setup(void)
{
	uint64_t need = 0, off;
	uint32_t slot, nslots;
	unsigned int i;
	int ret;

	for (i = 0; i < opt.nsizes; i++) {
		geometry(opt.sizes[i], &slot, &nslots, &off);
		need = FT_MAX(need, off + (uint64_t)slot * nslots);
	}
	zlen = (size_t)need;
	zmem = ft_alloc_at(zlen, 0, &zbase, &zmap);
	memset(zmem, 0, zlen);
	/* FI_RECV: the device writes it */
	ret = ft_mr_reg(&dom, NULL, zmem, zlen, FI_RECV, 0, &zmr);
	if (ret)
		ft_fatal("fi-zc: fi_mr_reg of the ring (%zu bytes): %s", zlen, ft_strerr(ret));
}

int main(int argc, char **argv)
{
	char title[512], hb[32];
	unsigned int i, failed;
	uint32_t slot, nslots;
	uint64_t off;
	bool stopped = false;
	int ret, p;

	ft_parse(argc, argv, "qt:S:s:n:Vo:P:",
		 "[-q] [-t SECONDS] [-S SECONDS] [-s SIZE,...] [-n SLOTS] [-V] [-o FILE.tsv]\n"
		 "       [-P fi-copy,fi-zc]\n"
		 "  -t  how long the highest rate must run without a drop (default 30 s)\n"
		 "  -S  each search trial (default 1 s, at most -t)\n"
		 "  -s  frame sizes (default 4K,64K,64K+123,1M,4M)\n"
		 "  -n  ring slots (default: what fits in 32 MiB, 8 .. 256)\n"
		 "  -V  check every payload word (default: the header and the last word)\n"
		 "  -q  quick: search to 20% instead of 5%\n"
		 "  -o  also write the results as TSV\n"
		 "  -P  the paths: fi-copy (FI_MULTI_RECV receives), fi-zc (the zero-copy\n"
		 "      ring); default both", other_opt);
	if (opt.search > opt.duration)
		opt.search = opt.duration;
	ft_default_prov("fpgadma");
	/* as fabtests/fpga_pstream: messages, RMA, registered buffers */
	ft_open_dom_or_skip(ft_hints(FI_MSG | FI_RMA | FI_MULTI_RECV,
				     FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
				     FI_MR_PROV_KEY), &dom, "FI_MSG and FI_MULTI_RECV on FI_EP_RDM");
	ft_describe(&dom);
	ft_query_fpga(&dom, &fpga);
	ret = fi_open_ops(&dom.domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL);
	if (ret || !ops)
		ft_fatal("fi_open_ops(%s): %d", FI_FPGADMA_DOMAIN_OPS_1, ret);
	if (ops->size < FI_FPGADMA_OPS_DOMAIN_HAS(stream_release))
		ft_skip("the provider's %s (size %zu) has no paced streams", FI_FPGADMA_DOMAIN_OPS_1,
			ops->size);
	fpga_addr = ft_av_insert(&dom, fpga.addr);
	if (opt.paths & (1u << PATH_COPY))
		copy_setup();
	if (opt.paths & (1u << PATH_ZC))
		zc_setup();

	snprintf(title, sizeof(title), "paced streams through libfabric (provider %s, domain %s, "
		 "/dev/fpgadma%" PRIu32 ", the %s engine): the highest frame rate with no drop for %g s "
		 "per frame size, against memcpy", dom.info->fabric_attr->prov_name,
		 dom.info->domain_attr->name, fpga.dev_index, engine_name(fpga.engine), opt.duration);
	printf("%s\n", title);
	if (opt.duration < 30)
		note("duration: %g s, shortened from the 30 s the issue asks for (-t)", opt.duration);
	else
		note("duration: %g s", opt.duration);
	note("search: trials of %g s, the rate doubled from %" PRIu64 " MiB/s worth of frames until a "
	     "drop, then the period bisected to %.0f%%, then confirmed for the whole duration (the "
	     "period 25%% longer each time that fails, %d runs at most); a trial fails on a drop or "
	     "when the device produced under 95%% of the frames due, and ends at the first sign of a "
	     "drop (so a failed trial's drops are those until then)", opt.search, START_BPS / MIB,
	     opt.precision * 100, CONFIRM_TRIES);
	if (opt.paths & (1u << PATH_COPY))
		note("fi-copy: one thread; %d FI_MULTI_RECV buffers of max(1 MiB, %d frames) posted with "
		     "fi_recvmsg from the FPGA's fi_addr, each posted again when its completion says "
		     "FI_MULTI_RECV; fi_cq_sreadfrom (%d at a time, %d ms) sleeps when idle; the provider "
		     "copies each frame from its ring (slot_size = frame_size, the slots of libfpgadma's "
		     "ring) into the buffers during progress; every completion (flags, len, data = seq, "
		     "source, buf), every header and %s checked", NBUFS, BUF_FRAMES, CQ_BATCH, WAIT_MS,
		     opt.verify_all ? "every payload word" : "the last whole payload word");
	if (opt.paths & (1u << PATH_ZC))
		note("fi-zc: one thread; FI_FPGADMA_STREAM_ZC into one fi_mr_reg'ed region with "
		     "libfpgadma's ring geometry (a size not a multiple of 8: slots of size + %d at offset "
		     "%d); stream_ready / stream_slot / stream_release, poll() on the CQ's FI_GETWAIT fd "
		     "when idle, an fi_cq_read every nslots / 2 frames taken without a pause; every "
		     "header and %s checked", ODD_SLOT_EXTRA, ODD_OFFSET,
		     opt.verify_all ? "every payload word" : "the last whole payload word");
	note("latency: CLOCK_MONOTONIC when fi_cq_sreadfrom (fi-copy) or stream_ready (fi-zc) "
	     "returned the frame minus its timestamp_ns (when the device produced it)");
	note("CPU: getrusage(RUSAGE_SELF) user + system per 10^9 bytes; fi-copy's includes the "
	     "provider's copy of each frame (in the consumer's thread); the device's work (the soft "
	     "engine's kernel threads writing the frames) is not counted there");
	note("memcpy: one frame between two buffers of that size, the same two each time, in this "
	     "process before the size's trials of each path");

	for (p = 0; p < NPATHS && !stopped; p++) {
		if (!(opt.paths & (1u << p)))
			continue;
		for (i = 0; i < opt.nsizes; i++) {
			uint64_t size = opt.sizes[i];

			geometry(size, &slot, &nslots, &off);
			if (p == PATH_COPY) {
				buf_size = copy_buf_size(size);
				printf("%s, %s frames (%" PRIu64 " bytes): the provider's ring of %" PRIu32
				       " slots of %" PRIu64 " bytes, %d receive buffers of %zu bytes\n",
				       path_names[p], human(size, hb, sizeof(hb)), size, nslots, size,
				       NBUFS, buf_size);
			} else {
				printf("%s, %s frames (%" PRIu64 " bytes): %" PRIu32 " slots of %" PRIu32
				       " bytes at MR offset %" PRIu64 "\n", path_names[p],
				       human(size, hb, sizeof(hb)), size, nslots, slot, off);
			}
			open_stream_ep(size);
			ret = measure((enum path)p, size, &rows[nrows]);
			close_stream_ep();
			if (ret) {
				/* wrong data or a failed check: no more of this run */
				stopped = true;
				break;
			}
			nrows++;
		}
	}
	printf("%-7s %10s %8s %5s %4s %12s %10s %11s %9s %8s %8s %8s %9s %8s %6s %-11s\n", "path",
	       "size", "slot", "slots", "fifo", "frames/s", "MB/s", "memcpy MB/s", "of memcpy",
	       "p50 us", "p99 us", "max us", "cpu s/GB", "secs", "drops", "result");
	for (i = 0; i < nrows; i++)
		print_row(&rows[i]);
	failed = ft_failures();
	if (!failed && opt.out)
		write_tsv(opt.out, title);

	if (rmr)
		ft_close_fid(&rmr->fid, "receive buffers' mr");
	if (zmr)
		ft_close_fid(&zmr->fid, "ring mr");
	ft_close_dom(&dom);
	if (rbuf)
		ft_unmap(rbuf_base, rbuf_map);
	if (zmem)
		ft_unmap(zbase, zmap);
	free(lat);
	for (i = 0; i < nnotes; i++)
		free(notes[i]);
	return ft_finish("%u rows, %" PRIu64 " frames checked", nrows, total_frames);
}
