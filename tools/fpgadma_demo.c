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
 *  5. release everything and print PASS or FAIL.
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
