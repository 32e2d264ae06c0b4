// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma_demo: the end-to-end check of one device, and a small benchmark.
 *
 *  1. open the device, query it, allocate a PD;
 *  2. register a 16 MiB buffer that starts 100 bytes into a malloc()ed
 *     block (not page aligned), with LOCAL_WRITE, and time it;
 *  3. fill the first half with a pattern, write it to device memory with a
 *     few WRs of several pieces each, clear the second half, read device
 *     memory back into it, compare byte by byte;
 *  4. read frames of the stream (64 by default) and check every word of
 *     every frame against fpgadma_stream_word() and that frame numbers are
 *     consecutive;
 *  5. paced streams, on a device with FPGADMA_CAP_STREAM (else one line
 *     says why they are skipped): frames of 4219 bytes into a ring of 64
 *     slots of 4224 bytes at an odd offset of the MR, consumed through the
 *     stream's control block (fpgadma_stream_ready/slot/release, no system
 *     call) and its CQEs, every frame's header, sequence number, timestamp
 *     and payload checked:
 *     a. camera: 2000 frames/s for 1 s, a consumer that keeps up (drops are
 *        not expected; if there are some, they are reported and counted);
 *     b. overrun: 10000 frames/s for 0.5 s, a consumer that takes one frame
 *        per millisecond: the drops the application counts (lost_before of
 *        the frames it got, and the frames produced after the last one)
 *        must equal the device's;
 *     each with its frames, bytes, drops, FIFO high-water mark and the
 *     latency from a frame's timestamp to the consumer seeing it;
 *  6. release everything and print PASS or FAIL.
 *
 * Exit status: 0 only if everything was verified, 1 otherwise, 2 on a usage
 * error.  Rates are wall-clock from the first post to the last completion.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>

#define BUF_SIZE	(16u << 20)	/* registered buffer */
#define BUF_OFFSET	100		/* start inside the malloc()ed block */
#define MEM_WRS		4		/* WRs per device memory transfer */
#define MAX_PIECES	4		/* pieces per WR (capped by max_sge) */
#define FRAMES_PER_WR	8
#define WAIT_MS		30000		/* a completion slower than this is a failure */

/* Paced streams (phase 5): the ring, in the MR of the other phases */
#define PACED_FRAME	(4096 + 123)	/* bytes per frame: not a multiple of 8 */
#define PACED_SLOT	(PACED_FRAME + 5)
#define PACED_SLOTS	64
#define PACED_OFFSET	77		/* of slot 0 in the MR: odd */
#define CAMERA_RATE	2000		/* frames/s */
#define CAMERA_SECS	1.0
#define OVERRUN_RATE	10000		/* frames/s */
#define OVERRUN_SECS	0.5
#define OVERRUN_TAKE_NS	1000000ull	/* the overrun consumer: one frame per ms */
#define PACED_DRAIN_MS	200		/* camera's stop: the FIFO into free slots */
#define PACED_CANARY	0xa5		/* the ring before a run */

enum phase { PHASE_WRITE = 1, PHASE_READ, PHASE_STREAM };

struct demo {
	struct fpgadma_context *ctx;
	struct fpgadma_device_attr attr;
	struct fpgadma_mr *mr;
	unsigned char *buf;
	size_t buf_size;
	unsigned int pieces;	/* per WR */
	/* the batch being run */
	struct fpgadma_wr *wrs;
	struct fpgadma_sge *sges;	/* MAX_PIECES per WR */
	uint64_t *expect_len;		/* byte_len each WR must complete with */
	unsigned int nwr;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mib_s(uint64_t bytes, double secs)
{
	return secs > 0 ? bytes / (1024.0 * 1024.0) / secs : 0;
}

static unsigned char pattern(uint64_t i)
{
	return (unsigned char)((i ^ (i >> 8) ^ (i >> 17)) * 31 + 7);
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "fpgadma_demo: %s: %s\n", what, fpgadma_strerror(err));
}

/*
 * Set WR i to move len bytes at buf + off, cut into d->pieces pieces of
 * uneven, mostly odd sizes so that pieces start at unaligned addresses.
 */
static void set_wr(struct demo *d, unsigned int i, uint32_t opcode,
		   uint64_t dev_addr, size_t off, size_t len)
{
	struct fpgadma_sge *sg = &d->sges[i * MAX_PIECES];
	struct fpgadma_wr *wr = &d->wrs[i];
	unsigned int p = d->pieces, k;
	size_t start = 0;

	if (len < 64 * (size_t)p)
		p = 1;
	for (k = 0; k < p; k++) {
		size_t end = k + 1 == p ? len : len * (k + 1) / p + (k % 2 ? 5 : 3);

		sg[k].addr = (uintptr_t)(d->buf + off + start);
		sg[k].length = (uint32_t)(end - start);
		sg[k].lkey = d->mr->lkey;
		start = end;
	}

	memset(wr, 0, sizeof(*wr));
	wr->wr_id = (uint64_t)opcode << 32 | i;
	wr->opcode = opcode;
	wr->dev_addr = dev_addr;
	wr->sg_list = (uintptr_t)sg;
	wr->num_sge = p;
	d->expect_len[i] = len;
}

/* Check one completion against the WR it belongs to. */
static int check_cqe(struct demo *d, const struct fpgadma_cqe *c, bool *seen)
{
	uint64_t i = c->wr_id & 0xffffffffu;

	if (i >= d->nwr || d->wrs[i].wr_id != c->wr_id || seen[i]) {
		fprintf(stderr, "fpgadma_demo: completion with unexpected wr_id %#" PRIx64 "\n",
			(uint64_t)c->wr_id);
		return -1;
	}
	seen[i] = true;
	if (c->status != FPGADMA_WC_SUCCESS) {
		fprintf(stderr, "fpgadma_demo: WR %" PRIu64 " failed: %s (vendor_err %" PRIu32 ")\n",
			i, fpgadma_wc_status_str(c->status), c->vendor_err);
		return -1;
	}
	if (c->opcode != d->wrs[i].opcode || c->byte_len != d->expect_len[i]) {
		fprintf(stderr, "fpgadma_demo: WR %" PRIu64 ": opcode %" PRIu32 " byte_len %" PRIu64
			", expected opcode %" PRIu32 " byte_len %" PRIu64 "\n",
			i, c->opcode, (uint64_t)c->byte_len, d->wrs[i].opcode, d->expect_len[i]);
		return -1;
	}
	return 0;
}

/* Wait for and check completions until *outstanding is 0. */
static int reap(struct demo *d, unsigned int *outstanding, bool *seen, bool block)
{
	struct fpgadma_cqe cqes[16];
	int n, k, ret;

	while (*outstanding) {
		n = fpgadma_poll(d->ctx, cqes, 16);
		if (n < 0) {
			fail("poll", n);
			return -1;
		}
		for (k = 0; k < n; k++)
			if (check_cqe(d, &cqes[k], seen))
				return -1;
		*outstanding -= n;
		if (n || !*outstanding)
			continue;
		if (!block)
			return 0;
		ret = fpgadma_wait(d->ctx, WAIT_MS);
		if (ret < 0) {
			fail("wait", ret);
			return -1;
		}
		if (ret == 0) {
			fprintf(stderr, "fpgadma_demo: no completion within %d ms "
				"(%u outstanding)\n", WAIT_MS, *outstanding);
			return -1;
		}
	}
	return 0;
}

/*
 * Post the d->nwr WRs set up in d->wrs, in batches the device accepts, and
 * wait until each has completed successfully with the expected byte count.
 * Returns 0 or -1 (the reason printed).
 */
static int run(struct demo *d)
{
	unsigned int batch = d->attr.max_post, posted = 0, outstanding = 0, n;
	bool *seen;
	int ret;

	if (batch > d->attr.cq_entries)
		batch = d->attr.cq_entries;
	seen = calloc(d->nwr, sizeof(*seen));
	if (!seen) {
		fail("calloc", -ENOMEM);
		return -1;
	}

	while (posted < d->nwr) {
		n = d->nwr - posted < batch ? d->nwr - posted : batch;
		if (outstanding + n > d->attr.cq_entries &&
		    reap(d, &outstanding, seen, true))
			goto err;
		ret = fpgadma_post(d->ctx, &d->wrs[posted], n);
		if (ret == -EAGAIN) {
			/* ring full: make room, then try again */
			if (reap(d, &outstanding, seen, true))
				goto err;
			continue;
		}
		if (ret) {
			fail("post", ret);
			goto err;
		}
		posted += n;
		outstanding += n;
		if (reap(d, &outstanding, seen, false))
			goto err;
	}
	if (reap(d, &outstanding, seen, true))
		goto err;
	free(seen);
	return 0;
err:
	free(seen);
	return -1;
}

/* Move [off, off+len) of the buffer to or from device memory at 0 in MEM_WRS WRs. */
static int mem_transfer(struct demo *d, uint32_t opcode, size_t off, size_t len,
			double *secs)
{
	unsigned int nwr = len >= (1u << 20) ? MEM_WRS : 1, i;
	size_t chunk = len / nwr / 8 * 8, pos = 0;
	double t0;

	for (i = 0; i < nwr; i++) {
		size_t l = i + 1 == nwr ? len - pos : chunk;

		set_wr(d, i, opcode, pos, off + pos, l);
		pos += l;
	}
	d->nwr = nwr;

	t0 = now_s();
	if (run(d))
		return -1;
	*secs = now_s() - t0;
	return 0;
}

static int test_memory(struct demo *d)
{
	size_t half = d->buf_size / 2, len = half, i;
	unsigned char *src = d->buf, *dst = d->buf + half;
	double wsecs, rsecs;

	if (d->attr.dev_mem_size == 0) {
		fprintf(stderr, "fpgadma_demo: the device has no on-board memory\n");
		return -1;
	}
	if (len > d->attr.dev_mem_size)
		len = d->attr.dev_mem_size;

	for (i = 0; i < len; i++)
		src[i] = pattern(i);
	if (mem_transfer(d, FPGADMA_WR_WRITE_MEM, 0, len, &wsecs))
		return -1;
	printf("write:    %zu bytes to device memory in %u WRs of up to %u pieces: "
	       "%.1f MiB/s\n", len, d->nwr, d->pieces, mib_s(len, wsecs));

	memset(dst, 0, len);
	if (mem_transfer(d, FPGADMA_WR_READ_MEM, half, len, &rsecs))
		return -1;
	printf("read:     %zu bytes from device memory in %u WRs of up to %u pieces: "
	       "%.1f MiB/s\n", len, d->nwr, d->pieces, mib_s(len, rsecs));

	for (i = 0; i < len; i++) {
		if (dst[i] != pattern(i)) {
			fprintf(stderr, "fpgadma_demo: device memory read back differs at "
				"byte %zu: %#04x, expected %#04x\n", i, dst[i], pattern(i));
			return -1;
		}
	}
	printf("verify:   %zu bytes read back match byte by byte\n", len);
	return 0;
}

static uint64_t word_at(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return le64toh(w);
}

/* Check one frame; *next is the frame number expected (UINT64_MAX: any). */
static int check_frame(const unsigned char *f, uint64_t frame_size, uint64_t *next,
		       uint64_t count)
{
	uint64_t n = word_at(f), j;

	if (*next != UINT64_MAX && n != *next) {
		fprintf(stderr, "fpgadma_demo: stream frame %" PRIu64 " of this run is "
			"numbered %" PRIu64 ", expected %" PRIu64 "\n", count, n, *next);
		return -1;
	}
	for (j = 1; j < frame_size / 8; j++) {
		uint64_t w = word_at(f + j * 8);

		if (w != fpgadma_stream_word(n, j)) {
			fprintf(stderr, "fpgadma_demo: stream frame %" PRIu64 " word %" PRIu64
				" is %#" PRIx64 ", expected %#" PRIx64 "%s\n", n, j, w,
				(uint64_t)fpgadma_stream_word(n, j),
				count == 0 ? " (is the stream not at a frame boundary?)" : "");
			return -1;
		}
	}
	*next = n + 1;
	return 0;
}

/*
 * The stream is one per device: an earlier reader may have left it in the
 * middle of a frame.  Read two frames, find where a frame starts in them,
 * and read up to the next frame boundary.  Returns 0 or -1.
 */
static int stream_align(struct demo *d)
{
	uint64_t fs = d->attr.frame_size, off, skip;
	/* room for two words after any offset inside the first frame */
	uint64_t probe = fs + 16 > 2 * fs ? fs + 16 : 2 * fs;

	if (probe > d->buf_size)
		return 0;	/* cannot probe; the frame checks will tell */
	set_wr(d, 0, FPGADMA_WR_READ_STREAM, 0, 0, probe);
	d->nwr = 1;
	if (run(d))
		return -1;

	for (off = 0; off < fs; off++) {
		uint64_t w0 = word_at(d->buf + off), w1 = word_at(d->buf + off + 8);

		if (fs >= 16 ? w1 == fpgadma_stream_word(w0, 1) : w1 == w0 + 1)
			break;
	}
	if (off == fs) {
		fprintf(stderr, "fpgadma_demo: no frame start in two frames of the stream\n");
		return -1;
	}
	/* a frame starts off bytes into the probe: how far is the next one? */
	skip = (off + fs - probe % fs) % fs;
	if (skip == 0)
		return 0;
	if (off)
		printf("stream:   skipping %" PRIu64 " bytes to a frame boundary "
		       "(an earlier reader stopped mid-frame)\n", skip);
	set_wr(d, 0, FPGADMA_WR_READ_STREAM, 0, 0, skip);
	d->nwr = 1;
	return run(d);
}

static int test_stream(struct demo *d, uint64_t frames)
{
	uint64_t fs = d->attr.frame_size, done = 0, first = 0, next = UINT64_MAX;
	uint64_t per_round, total = 0;
	double secs = 0, t0;
	unsigned int wrs = 0;

	if (fs == 0 || fs % 8) {
		fprintf(stderr, "fpgadma_demo: frame size %" PRIu64 " is not a positive "
			"multiple of 8\n", fs);
		return -1;
	}
	per_round = d->buf_size / fs;
	if (per_round == 0) {
		fprintf(stderr, "fpgadma_demo: a frame (%" PRIu64 " bytes) does not fit "
			"in the %zu byte buffer\n", fs, d->buf_size);
		return -1;
	}
	if (stream_align(d))
		return -1;

	while (done < frames) {
		uint64_t n = frames - done < per_round ? frames - done : per_round;
		uint64_t f, pos = 0;
		unsigned int i = 0;

		/* a value no frame word can be mistaken for, on a whole page basis */
		memset(d->buf, 0xa5, n * fs);
		while (pos < n) {
			uint64_t k = n - pos < FRAMES_PER_WR ? n - pos : FRAMES_PER_WR;

			set_wr(d, i++, FPGADMA_WR_READ_STREAM, 0, pos * fs, k * fs);
			pos += k;
		}
		d->nwr = i;
		wrs += i;

		t0 = now_s();
		if (run(d))
			return -1;
		secs += now_s() - t0;
		total += n * fs;

		for (f = 0; f < n; f++) {
			if (check_frame(d->buf + f * fs, fs, &next, done + f))
				return -1;
			if (done + f == 0)
				first = next - 1;
		}
		done += n;
	}
	printf("stream:   %" PRIu64 " frames of %" PRIu64 " bytes (frames %" PRIu64
	       "..%" PRIu64 ") in %u WRs: %.1f MiB/s\n",
	       frames, fs, first, next - 1, wrs, mib_s(total, secs));
	printf("verify:   every word of every frame matches, frame numbers consecutive\n");
	return 0;
}

/* ---- phase 5: paced streams --------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One paced-stream run and what its consumer saw. */
struct paced {
	const char *name;
	struct fpgadma_stream *s;
	struct fpgadma_stream_attr a;
	uint32_t id;
	unsigned char *ring;	/* slot 0 */
	/* frames */
	uint64_t seen;		/* frames taken: the local read index */
	uint64_t after_stop;	/* of them, read from the ring after the stop */
	bool any;		/* a frame was seen */
	uint64_t last_seq, last_ts;
	uint64_t lost;		/* the sum of their lost_before */
	uint64_t bytes;
	/* the latency of each frame taken while the stream ran, ns */
	uint64_t *lat;
	size_t nlat, lat_cap;
	/* completions */
	uint64_t cqe_frames, cqe_count;
	bool ended;
	struct fpgadma_stream_stats fin;
};

static uint64_t u64_le(const unsigned char *p)
{
	return word_at(p);
}

static uint32_t u32_le(const unsigned char *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return le32toh(w);
}

static uint16_t u16_le(const unsigned char *p)
{
	uint16_t w;

	memcpy(&w, p, sizeof(w));
	return le16toh(w);
}

/*
 * Check frame idx of the run at f: its header, that its sequence number
 * follows the previous frame's by 1 + lost_before, that its timestamp
 * follows by the period times that, and every payload byte.  Returns 0 or -1.
 */
static int paced_frame(struct paced *r, const unsigned char *f, uint64_t idx)
{
	const uint64_t fs = r->a.frame_size, words = fs / 8;
	uint32_t magic = u32_le(f + offsetof(struct fpgadma_frame_hdr, magic));
	uint16_t hdr_size = u16_le(f + offsetof(struct fpgadma_frame_hdr, hdr_size));
	uint16_t flags = u16_le(f + offsetof(struct fpgadma_frame_hdr, flags));
	uint32_t size = u32_le(f + offsetof(struct fpgadma_frame_hdr, frame_size));
	uint32_t id = u32_le(f + offsetof(struct fpgadma_frame_hdr, stream_id));
	uint64_t seq = u64_le(f + offsetof(struct fpgadma_frame_hdr, seq));
	uint64_t ts = u64_le(f + offsetof(struct fpgadma_frame_hdr, timestamp_ns));
	uint64_t lost = u64_le(f + offsetof(struct fpgadma_frame_hdr, lost_before));
	uint64_t rsv = u64_le(f + offsetof(struct fpgadma_frame_hdr, reserved));
	uint64_t want, j, w, got, mask;
	unsigned int b;

	if (magic != FPGADMA_FRAME_MAGIC || hdr_size != FPGADMA_FRAME_HDR_SIZE ||
	    flags || size != fs || id != r->id || rsv) {
		fprintf(stderr, "fpgadma_demo: %s: frame %" PRIu64 " (slot %" PRIu64 "): "
			"header magic %#" PRIx32 " hdr_size %" PRIu16 " flags %#" PRIx16
			" frame_size %" PRIu32 " stream_id %" PRIu32 " reserved %#" PRIx64
			", expected magic %#x hdr_size %d flags 0 frame_size %" PRIu64
			" stream_id %" PRIu32 " reserved 0\n", r->name, idx, idx % r->a.nslots,
			magic, hdr_size, flags, size, id, rsv, FPGADMA_FRAME_MAGIC,
			FPGADMA_FRAME_HDR_SIZE, fs, r->id);
		return -1;
	}
	/* seq counts every frame produced from 0, the dropped ones too */
	want = (r->any ? r->last_seq + 1 : 0) + lost;
	if (seq != want) {
		fprintf(stderr, "fpgadma_demo: %s: frame %" PRIu64 " has seq %" PRIu64
			" and lost_before %" PRIu64 ", so seq %" PRIu64 " was expected (after %s)\n",
			r->name, idx, seq, lost, want,
			r->any ? "the previous frame's" : "none: the first frame");
		return -1;
	}
	if (r->any && ts - r->last_ts != (seq - r->last_seq) * r->a.frame_period_ns) {
		fprintf(stderr, "fpgadma_demo: %s: frame %" PRIu64 " (seq %" PRIu64 ") has "
			"timestamp %" PRIu64 " ns, %" PRId64 " ns after seq %" PRIu64 "'s: expected %"
			PRIu64
			" (the period %" PRIu64 " ns times %" PRIu64 ")\n", r->name, idx, seq, ts,
			(int64_t)(ts - r->last_ts), r->last_seq,
			(seq - r->last_seq) * r->a.frame_period_ns, (uint64_t)r->a.frame_period_ns,
			seq - r->last_seq);
		return -1;
	}
	for (j = FPGADMA_FRAME_HDR_SIZE / 8; j < words + (fs % 8 != 0); j++) {
		w = fpgadma_stream_word(seq, j);
		if (j < words) {
			got = u64_le(f + 8 * j);
		} else {
			/* the last word, cut short: its first fs % 8 bytes */
			got = 0;
			for (b = 0; b < fs % 8; b++)
				got |= (uint64_t)f[8 * j + b] << (8 * b);
			mask = (1ull << (8 * (fs % 8))) - 1;
			w &= mask;
		}
		if (got == w)
			continue;
		fprintf(stderr, "fpgadma_demo: %s: frame %" PRIu64 " (seq %" PRIu64 ") word %"
			PRIu64 "%s is %#" PRIx64 ", expected %#" PRIx64 "\n", r->name, idx, seq, j,
			j < words ? "" : " (cut short)", got, w);
		return -1;
	}
	r->any = true;
	r->last_seq = seq;
	r->last_ts = ts;
	r->lost += lost;
	r->bytes += fs;
	return 0;
}

/* Check one CQE of the run: STREAM_FRAMES ones, then its STREAM_END.  0 or -1. */
static int paced_cqe(struct paced *r, const struct fpgadma_cqe *c)
{
	uint64_t want_len = (uint64_t)c->vendor_err * r->a.frame_size;

	if (c->wr_id != r->a.user_data || r->ended) {
		fprintf(stderr, "fpgadma_demo: %s: CQE with wr_id %#" PRIx64 " opcode %"
			PRIu32 "%s\n", r->name, (uint64_t)c->wr_id, c->opcode,
			r->ended ? " after the stream's STREAM_END" : ", not the stream's");
		return -1;
	}
	if (c->opcode == FPGADMA_WR_STREAM_END) {
		if (c->status != FPGADMA_WC_SUCCESS ||
		    c->vendor_err != FPGADMA_STREAM_END_STOP) {
			fprintf(stderr, "fpgadma_demo: %s: STREAM_END %s, end %" PRIu32
				", expected success and %d (stopped)\n", r->name,
				fpgadma_wc_status_str(c->status), c->vendor_err,
				FPGADMA_STREAM_END_STOP);
			return -1;
		}
		r->ended = true;
		return 0;
	}
	r->cqe_frames += c->vendor_err;
	r->cqe_count++;
	if (c->opcode != FPGADMA_WR_STREAM_FRAMES || c->status != FPGADMA_WC_SUCCESS ||
	    c->vendor_err == 0 || c->byte_len != want_len ||
	    c->src_ep != (uint32_t)r->cqe_frames) {
		fprintf(stderr, "fpgadma_demo: %s: CQE opcode %" PRIu32 " %s, %" PRIu32
			" frames, byte_len %" PRIu64 ", write index %" PRIu32 ": expected"
			" STREAM_FRAMES, success, byte_len %" PRIu64 ", write index %"
			PRIu32 "\n", r->name, c->opcode, fpgadma_wc_status_str(c->status),
			c->vendor_err, (uint64_t)c->byte_len, c->src_ep, want_len,
			(uint32_t)r->cqe_frames);
		return -1;
	}
	return 0;
}

/* Take the run's CQEs there are.  0 or -1. */
static int paced_cqes(struct demo *d, struct paced *r)
{
	struct fpgadma_cqe c[16];
	int n, k;

	while ((n = fpgadma_poll(d->ctx, c, 16)) > 0)
		for (k = 0; k < n; k++)
			if (paced_cqe(r, &c[k]))
				return -1;
	if (n < 0) {
		fail("poll", n);
		return -1;
	}
	return 0;
}

/* Take the n frames from index first: check them, keep their latency. */
static int paced_take(struct paced *r, uint64_t first, uint64_t n, uint64_t seen_ns)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		const unsigned char *f = fpgadma_stream_slot(r->s, first + i);
		const unsigned char *want = r->ring + (first + i) % r->a.nslots * r->a.slot_size;

		if (f != want) {
			fprintf(stderr, "fpgadma_demo: %s: fpgadma_stream_slot(%" PRIu64 ") is %p, "
				"expected %p (slot %" PRIu64 ")\n", r->name, first + i, (void *)f,
				(void *)want, (first + i) % r->a.nslots);
			return -1;
		}
		if (paced_frame(r, f, first + i))
			return -1;
		if (r->nlat == r->lat_cap) {
			size_t cap = r->lat_cap ? 2 * r->lat_cap : 4096;
			uint64_t *p = realloc(r->lat, cap * sizeof(*p));

			if (!p) {
				fail("realloc", -ENOMEM);
				return -1;
			}
			r->lat = p;
			r->lat_cap = cap;
		}
		r->lat[r->nlat++] = seen_ns - r->last_ts;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of the sorted v[n], in µs. */
static double pct_us(const uint64_t *v, size_t n, unsigned int p)
{
	size_t k = (n * p + 99) / 100;

	return n ? v[k ? k - 1 : 0] / 1e3 : 0;
}

/*
 * Run a stream at rate frames/s for secs seconds into the ring at
 * PACED_OFFSET of the MR.  take_ns 0: the consumer takes frames as they
 * come, sleeping in fpgadma_wait() when there are none; else it takes one
 * frame every take_ns.  Then stop it (letting the FIFO drain into free
 * slots for up to drain_ms), read the frames it left in the ring, and check
 * its final counters against what the consumer saw.  Returns 0 or -1.
 */
static int paced_run(struct demo *d, struct paced *r, uint64_t rate, double secs,
		     uint64_t take_ns, unsigned int drain_ms)
{
	uint64_t t_end, next_take, first, n, i, tail, app_drops, produced_after;
	struct fpgadma_stream_stats *fin = &r->fin;
	struct timespec tick;
	uint32_t end;
	int ret;

	memset(&r->a, 0, sizeof(r->a));
	r->a.ring_offset = PACED_OFFSET;
	r->a.ring_length = (uint64_t)PACED_SLOTS * PACED_SLOT;
	r->a.slot_size = PACED_SLOT;
	r->a.nslots = PACED_SLOTS;
	r->a.frame_size = PACED_FRAME;
	r->a.frame_period_ns = 1000000000ull / rate;
	r->a.cqe_every = 1;
	r->a.user_data = 0x5354524dull << 32 | rate;	/* "STRM" */
	r->ring = d->buf + PACED_OFFSET;
	memset(r->ring, PACED_CANARY, r->a.ring_length);

	ret = fpgadma_stream_start(d->mr, &r->a, &r->s);
	if (ret) {
		fprintf(stderr, "fpgadma_demo: %s: fpgadma_stream_start (%" PRIu32 " slots of %" PRIu32
			" bytes at MR offset %" PRIu64 ", frames of %" PRIu32 " bytes every %" PRIu64
			" ns): %s\n", r->name, r->a.nslots, r->a.slot_size, (uint64_t)r->a.ring_offset,
			r->a.frame_size, (uint64_t)r->a.frame_period_ns, fpgadma_strerror(ret));
		r->s = NULL;
		return -1;
	}
	r->id = fpgadma_stream_id(r->s);
	printf("paced:    %s: stream %" PRIu32 ", %" PRIu32 " slots of %" PRIu32 " bytes at MR offset %"
	       PRIu64 ", frames of %" PRIu32 " bytes every %" PRIu64 " ns (%.0f frames/s), FIFO %"
	       PRIu32 " frames, one CQE per frame\n", r->name, r->id, r->a.nslots, r->a.slot_size,
	       (uint64_t)r->a.ring_offset, r->a.frame_size, (uint64_t)r->a.frame_period_ns,
	       1e9 / r->a.frame_period_ns, r->a.fifo_frames);
	if (r->a.frame_size != PACED_FRAME) {
		fprintf(stderr, "fpgadma_demo: %s: the stream runs with frames of %" PRIu32
			" bytes, %d were asked for\n", r->name, r->a.frame_size, PACED_FRAME);
		goto err;
	}

	next_take = now_ns();
	t_end = next_take + (uint64_t)(secs * 1e9);
	while (now_ns() < t_end) {
		/* CQEs first: a frame whose CQE was taken is ready below */
		if (paced_cqes(d, r))
			goto err;
		if (fpgadma_stream_state(r->s, &end) == FPGADMA_STREAM_STOPPED) {
			fprintf(stderr, "fpgadma_demo: %s: the stream stopped by itself (end %" PRIu32
				")\n", r->name, end);
			goto err;
		}
		n = fpgadma_stream_ready(r->s, &first);
		if (first != r->seen || n > r->a.nslots) {
			fprintf(stderr, "fpgadma_demo: %s: fpgadma_stream_ready: %" PRIu64 " frames from %"
				PRIu64 ", after %" PRIu64 " taken, %" PRIu32 " slots\n", r->name, n,
				first, r->seen, r->a.nslots);
			goto err;
		}
		if (take_ns && n > 1)
			n = 1;
		if (n) {
			if (paced_take(r, first, n, now_ns()))
				goto err;
			fpgadma_stream_release(r->s, n);
			r->seen += n;
		}
		if (take_ns) {
			/* one frame per tick; late ticks are not made up for */
			next_take += take_ns;
			if (next_take < now_ns())
				next_take = now_ns();
			tick.tv_sec = (time_t)(next_take / 1000000000ull);
			tick.tv_nsec = (long)(next_take % 1000000000ull);
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL) == EINTR)
				;
		} else if (!n) {
			ret = fpgadma_wait(d->ctx, 100);
			if (ret < 0) {
				fail("wait", ret);
				goto err;
			}
		}
	}

	ret = fpgadma_stream_stop(r->s, drain_ms, fin);
	r->s = NULL;
	if (ret) {
		fail("stream_stop", ret);
		return -1;
	}
	/* the frames not taken yet: in the ring, which is no longer the stream's */
	if (fin->write_idx < r->seen || fin->write_idx - r->seen > r->a.nslots) {
		fprintf(stderr, "fpgadma_demo: %s: final write index %" PRIu64 " with %" PRIu64
			" frames taken and %" PRIu32 " slots\n", r->name, (uint64_t)fin->write_idx,
			r->seen, r->a.nslots);
		return -1;
	}
	tail = fin->write_idx - r->seen;
	for (i = r->seen; i < fin->write_idx; i++)
		if (paced_frame(r, r->ring + i % r->a.nslots * r->a.slot_size, i))
			return -1;
	r->after_stop = tail;
	r->seen += tail;
	/* its STREAM_END is in the ring by now */
	if (paced_cqes(d, r))
		return -1;
	if (!r->ended) {
		fprintf(stderr, "fpgadma_demo: %s: no STREAM_END CQE after fpgadma_stream_stop\n",
			r->name);
		return -1;
	}

	if (fin->state != FPGADMA_STREAM_STOPPED || fin->end != FPGADMA_STREAM_END_STOP ||
	    fin->frames_delivered != r->seen || fin->bytes_delivered != r->bytes ||
	    fin->frames != fin->frames_delivered + fin->drops + fin->fifo_level ||
	    fin->frames_delivered - r->cqe_frames >= r->a.cqe_every ||
	    r->cqe_frames > fin->frames_delivered) {
		fprintf(stderr, "fpgadma_demo: %s: final stats: state %" PRIu32 " end %" PRIu32
			", %" PRIu64 " frames = %" PRIu64 " delivered (%" PRIu64 " bytes) + %" PRIu64
			" drops + %" PRIu32 " in the FIFO; the consumer took %" PRIu64 " frames (%"
			PRIu64 " bytes), the CQEs counted %" PRIu64 "\n", r->name, fin->state, fin->end,
			(uint64_t)fin->frames, (uint64_t)fin->frames_delivered,
			(uint64_t)fin->bytes_delivered, (uint64_t)fin->drops, fin->fifo_level, r->seen,
			r->bytes, r->cqe_frames);
		return -1;
	}
	/*
	 * The drops as the application knows them: the lost_before of the
	 * frames it got, and the frames produced after the last of them (the
	 * final count minus the last seq + 1) that never came.
	 */
	produced_after = fin->frames - fin->fifo_level - (r->any ? r->last_seq + 1 : 0);
	app_drops = r->lost + produced_after;
	if (fin->frames - fin->fifo_level < (r->any ? r->last_seq + 1 : 0) ||
	    app_drops != fin->drops) {
		fprintf(stderr, "fpgadma_demo: %s: the application counts %" PRIu64 " drops (lost_before %"
			PRIu64 " + %" PRId64 " produced after the last frame, seq %" PRIu64
			"), the device %" PRIu64 "\n", r->name, app_drops, r->lost,
			(int64_t)produced_after, r->any ? r->last_seq : 0, (uint64_t)fin->drops);
		return -1;
	}
	qsort(r->lat, r->nlat, sizeof(*r->lat), cmp_u64);
	printf("paced:    %s: %" PRIu64 " frames produced, %" PRIu64 " delivered (%" PRIu64 " bytes, %"
	       PRIu64 " of them read after the stop), %" PRIu64 " drops, FIFO high-water mark %" PRIu32
	       " of %" PRIu32 "\n", r->name, (uint64_t)fin->frames, (uint64_t)fin->frames_delivered,
	       (uint64_t)fin->bytes_delivered, r->after_stop, (uint64_t)fin->drops, fin->fifo_hwm,
	       fin->fifo_frames);
	if (r->nlat)
		printf("latency:  %s: timestamp to consumer, %zu frames: p50 %.0f us, p99 %.0f us, "
		       "max %.0f us\n", r->name, r->nlat, pct_us(r->lat, r->nlat, 50),
		       pct_us(r->lat, r->nlat, 99), pct_us(r->lat, r->nlat, 100));
	printf("verify:   %s: header, seq, timestamp and payload of all %" PRIu64 " frames match, %"
	       PRIu64 " frames in %" PRIu64 " CQEs; drops: application %" PRIu64 " (lost_before %"
	       PRIu64 " + %" PRIu64 " after the last frame) = device %" PRIu64 "\n", r->name,
	       r->seen, r->cqe_frames, r->cqe_count, app_drops, r->lost, produced_after,
	       (uint64_t)fin->drops);
	return 0;
err:
	fpgadma_stream_stop(r->s, 0, NULL);
	r->s = NULL;
	return -1;
}

static int test_paced(struct demo *d)
{
	struct paced cam = { .name = "camera" }, over = { .name = "overrun" };
	int ret = -1;

	if (!(d->attr.caps & FPGADMA_CAP_STREAM)) {
		printf("paced:    skipped: the %s engine has no paced stream (caps 0x%" PRIx64
		       " lack FPGADMA_CAP_STREAM), so there is nothing to run\n",
		       fpgadma_engine_str(d->attr.engine), d->attr.caps);
		return 0;
	}
	if ((uint64_t)PACED_OFFSET + (uint64_t)PACED_SLOTS * PACED_SLOT > d->buf_size) {
		fprintf(stderr, "fpgadma_demo: the ring of the paced stream does not fit in the "
			"%zu byte buffer\n", d->buf_size);
		return -1;
	}

	/* a. a camera: a rate the consumer keeps up with */
	printf("paced:    camera: %d frames/s for %.1f s, the consumer taking frames as they come\n",
	       CAMERA_RATE, CAMERA_SECS);
	if (paced_run(d, &cam, CAMERA_RATE, CAMERA_SECS, 0, PACED_DRAIN_MS))
		goto out;
	if (cam.fin.drops)
		printf("paced:    camera: %" PRIu64 " frames dropped at %d frames/s: the consumer fell "
		       "behind (emulation?); counted alike by both sides, so not a failure\n",
		       (uint64_t)cam.fin.drops, CAMERA_RATE);

	/* b. overrun: ten frames per millisecond, one taken */
	printf("paced:    overrun: %d frames/s for %.1f s, the consumer taking one frame per %.0f ms\n",
	       OVERRUN_RATE, OVERRUN_SECS, OVERRUN_TAKE_NS / 1e6);
	if (paced_run(d, &over, OVERRUN_RATE, OVERRUN_SECS, OVERRUN_TAKE_NS, 0))
		goto out;
	if (!over.fin.drops)
		printf("paced:    overrun: no frame was dropped: the device did not outrun the "
		       "consumer, so the drop count was not put to the test\n");
	ret = 0;
out:
	free(cam.lat);
	free(over.lat);
	return ret;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-d INDEX] [-f FRAMES]\n"
		"  -d INDEX   use /dev/fpgadmaINDEX (default 0)\n"
		"  -f FRAMES  stream frames to read and verify (default 64)\n", prog);
}

int main(int argc, char **argv)
{
	struct demo d = { 0 };
	struct fpgadma_pd *pd = NULL;
	unsigned char *raw = NULL;
	uint64_t frames = 64, max_wrs;
	int index = 0, opt, ret, ok = 0;
	double t0, reg_secs;

	while ((opt = getopt(argc, argv, "d:f:h")) != -1) {
		switch (opt) {
		case 'd':
			index = atoi(optarg);
			break;
		case 'f':
			frames = strtoull(optarg, NULL, 0);
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (optind != argc || index < 0 || frames == 0) {
		usage(argv[0]);
		return 2;
	}

	ret = fpgadma_open(index, &d.ctx);
	if (ret) {
		fprintf(stderr, "fpgadma_demo: open /dev/fpgadma%d: %s\n", index,
			fpgadma_strerror(ret));
		goto out;
	}
	ret = fpgadma_query(d.ctx, &d.attr);
	if (ret) {
		fail("query", ret);
		goto out;
	}
	printf("device:   /dev/fpgadma%d: abi %" PRIu32 ", engine %" PRIu32 ", "
	       "device memory %" PRIu64 " bytes, frame %" PRIu64 " bytes, max_sge %" PRIu32
	       ", max_post %" PRIu32 ", cq_entries %" PRIu32 ", max_seg_size %" PRIu32 "\n",
	       index, d.attr.abi_version, d.attr.engine, d.attr.dev_mem_size,
	       d.attr.frame_size, d.attr.max_sge, d.attr.max_post, d.attr.cq_entries,
	       d.attr.max_seg_size);
	if (d.attr.max_sge == 0 || d.attr.max_post == 0 || d.attr.cq_entries == 0) {
		fprintf(stderr, "fpgadma_demo: the device accepts no work "
			"(max_sge, max_post or cq_entries is 0)\n");
		goto out;
	}
	d.pieces = d.attr.max_sge < MAX_PIECES ? d.attr.max_sge : MAX_PIECES;

	ret = fpgadma_alloc_pd(d.ctx, &pd);
	if (ret) {
		fail("alloc_pd", ret);
		goto out;
	}

	d.buf_size = BUF_SIZE;
	if (d.attr.max_mr_size && d.buf_size > d.attr.max_mr_size)
		d.buf_size = d.attr.max_mr_size;
	/* the largest batch: MEM_WRS, or the stream WRs of one buffer-full */
	max_wrs = d.attr.frame_size ? d.buf_size / d.attr.frame_size : 0;
	if (max_wrs > frames)
		max_wrs = frames;
	max_wrs = (max_wrs + FRAMES_PER_WR - 1) / FRAMES_PER_WR;
	if (max_wrs < MEM_WRS)
		max_wrs = MEM_WRS;
	raw = malloc(d.buf_size + BUF_OFFSET);
	d.wrs = calloc(max_wrs, sizeof(*d.wrs));
	d.sges = calloc(max_wrs * MAX_PIECES, sizeof(*d.sges));
	d.expect_len = calloc(max_wrs, sizeof(*d.expect_len));
	if (!raw || !d.wrs || !d.sges || !d.expect_len) {
		fail("malloc", -ENOMEM);
		goto out;
	}
	d.buf = raw + BUF_OFFSET;
	memset(d.buf, 0, d.buf_size);

	t0 = now_s();
	ret = fpgadma_reg_mr(pd, d.buf, d.buf_size, FPGADMA_ACCESS_LOCAL_WRITE, &d.mr);
	reg_secs = now_s() - t0;
	if (ret) {
		fail("reg_mr", ret);
		goto out;
	}
	printf("register: %zu bytes at page offset %zu, LOCAL_WRITE: %.0f us, "
	       "%" PRIu32 " DMA segments, lkey %#" PRIx32 "\n",
	       d.buf_size, (size_t)((uintptr_t)d.buf % (d.attr.page_size ? d.attr.page_size : 4096)),
	       reg_secs * 1e6, d.mr->nsegs, d.mr->lkey);

	if (test_memory(&d))
		goto out;
	if (test_stream(&d, frames))
		goto out;
	if (test_paced(&d))
		goto out;
	ok = 1;

out:
	if (d.mr) {
		ret = fpgadma_dereg_mr(d.mr);
		if (ret) {
			fail("dereg_mr", ret);
			ok = 0;
		}
	}
	if (pd) {
		ret = fpgadma_dealloc_pd(pd);
		if (ret) {
			fail("dealloc_pd", ret);
			ok = 0;
		}
	}
	if (d.ctx) {
		ret = fpgadma_close(d.ctx);
		if (ret) {
			fail("close", ret);
			ok = 0;
		}
	}
	free(d.expect_len);
	free(d.sges);
	free(d.wrs);
	free(raw);
	printf("fpgadma_demo: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
