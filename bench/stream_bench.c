// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stream_bench: paced streams (FPGADMA_CAP_STREAM) per frame size: the
 * highest frame rate the device and one consumer sustain with no drop for a
 * given time (-t, 30 s by default), and at that rate the throughput, its
 * share of memcpy's bandwidth, the latency from a frame's timestamp to the
 * consumer seeing it and the consumer's CPU time per GB.
 *
 * Frame sizes 4 KiB, 64 KiB, 64 KiB + 123 (an unaligned size: slots of
 * size + 5 bytes from an odd offset of the MR), 1 MiB and 4 MiB by default
 * (-s).  The ring: as many slots as fit in 32 MiB, 8 to 256 (-n), in one MR
 * registered once for all sizes; the device's default FIFO depth.
 *
 * The consumer is this process, single-threaded, as an application would
 * write it: it takes the CQEs (one per frame by default, -c), then what
 * fpgadma_stream_ready() says is there, checks each frame's header (magic,
 * size, stream id, seq continuing the previous one by 1 + lost_before) and
 * the last whole word of its payload (every word with -V), notes its
 * latency (CLOCK_MONOTONIC when fpgadma_stream_ready() returned it, minus
 * its timestamp_ns), hands the slots back, and sleeps in fpgadma_wait()
 * when nothing is there.
 *
 * A trial runs a stream at one period for a time and counts the device's
 * drops (fpgadma_stream_stats() at its end, before the stop: what the stop
 * drops does not count).  It sustained the rate when nothing was dropped
 * and the device produced at least 95% of the frames due in that time (a
 * device falling behind its own clock would drop nothing and still not
 * keep the rate).  The search per size, on the period:
 *  1. doubling: from 16 MiB/s worth of frames (at least 1 frame/s) the rate
 *     doubles while a trial of -S seconds (1 s; at most -t) has no drop,
 *     up to 1,000,000 frames/s or a rate the device refuses (EINVAL);
 *     when the first rate already drops, it halves instead;
 *  2. bisection: between the longest failing and the shortest good period,
 *     the middle period is tried, until the two rates are within 5% (-q:
 *     20%);
 *  3. confirmation: when -t is longer than -S, the best period runs once
 *     for -t seconds; if that fails, the period grows by 25% and runs again
 *     (5 runs at most; the row is marked unconfirmed if all fail, and then
 *     shows the last one's drops).
 * The row's figures are of the trial that ran for -t seconds at that rate
 * (or, when -t is not longer than -S, of the best search trial).
 *
 * memcpy: in the same run, before each size, the bandwidth of memcpy of one
 * frame between two buffers of that size (the same two every time), the
 * anchor the throughput is a share of.
 *
 * CPU time: getrusage(RUSAGE_SELF) of this process over the trial, user
 * plus system, per 10^9 bytes delivered.  The device's own work (the soft
 * engine writes the frames in its timer and workqueue threads in the
 * kernel) is no part of it.
 *
 * The libfabric path (the fpgadma provider's copy mode and zero-copy
 * ring) is fabtests/bench_pstream: the same search, the same columns.
 *
 * Output: the search's trials and a table on stdout, its title first; with
 * -o FILE the rows as TSV ("# title: ..." and other comments, then the
 * header size slot_size nslots fifo_frames period_ns frames_per_s MBps
 * memcpy_MBps of_memcpy lat_p50_us lat_p99_us lat_max_us cpu_s_per_GB
 * duration_s frames drops trials result path; MB = 10^6 bytes; frames:
 * those the consumer took; result: ok, capped (no failure up to the
 * search's ceiling or a rate the device refuses) or unconfirmed; path:
 * libfpgadma, beside bench_pstream's fi-copy and fi-zc).  Exit status 0 when it
 * ran, 77 with "SKIP: reason" without a device or a paced stream, 1 on an
 * error or wrong data.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>

#define KIB		((uint64_t)1024)
#define MIB		(1024 * KIB)
#define RING_BYTES	(32 * MIB)	/* the ring's slots fit in this */
#define MIN_SLOTS	8
#define MAX_SLOTS	256
#define ODD_OFFSET	77		/* ring offset for a size not a multiple of 8 */
#define ODD_SLOT_EXTRA	5		/* and slot_size = size + this */
#define START_BPS	(16 * MIB)	/* the first trial's bytes per second */
#define MIN_PERIOD_NS	1000ull		/* 1,000,000 frames/s: the search's ceiling */
#define MAX_PERIOD_NS	10000000000ull	/* 0.1 frames/s: its floor */
#define CONFIRM_TRIES	5
#define CONFIRM_BACKOFF	1.25
#define WAIT_MS		100		/* one fpgadma_wait() */
#define END_WAIT_MS	10000		/* for the STREAM_END CQE after a stop */
#define MAX_SIZES	16
#define MAX_NOTES	32

struct trial {
	bool refused;		/* the device refused the period (EINVAL) */
	bool lagged;		/* it produced under 95% of the frames due */
	uint64_t period_ns;	/* as the device runs it */
	uint32_t fifo_frames, fifo_hwm;
	double secs, cpu_s;
	uint64_t frames, delivered, drops, bytes;	/* drops: before the stop */
	double p50_us, p99_us, max_us;
};

struct row {
	uint64_t size;
	uint32_t slot_size, nslots, fifo_frames;
	uint64_t period_ns;
	double memcpy_mbps;
	struct trial t;		/* the trial the row reports */
	unsigned int trials;
	const char *result;
};

static struct {
	double duration;	/* -t */
	double search;		/* -S */
	double precision;	/* the search ends when hi/lo rate < 1 + this */
	uint32_t nslots;	/* -n, 0: by size */
	uint32_t cqe_every;	/* -c */
	bool verify_all;	/* -V */
	bool quick;
	int dev_index;
	const char *out;
	uint64_t sizes[MAX_SIZES];
	unsigned int nsizes;
} opt = {
	.duration = 30,
	.search = 1,
	.precision = 0.05,
	.cqe_every = 1,
	.sizes = { 4 * KIB, 64 * KIB, 64 * KIB + 123, MIB, 4 * MIB },
	.nsizes = 5,
};

static struct fpgadma_context *ctx;
static struct fpgadma_device_attr attr;
static struct fpgadma_mr *mr;
static unsigned char *mem;	/* the MR */
static size_t mem_len;
static uint64_t *lat;		/* one trial's latencies, ns */
static size_t nlat, lat_cap;
static uint64_t trial_no;
static struct row rows[MAX_SIZES];
static unsigned int nrows;
static char *notes[MAX_NOTES];
static unsigned int nnotes;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

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
	fflush(stdout);
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = s;
	else
		free(s);
}

static uint64_t le64_at(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return le64toh(w);
}

static uint32_t le32_at(const unsigned char *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return le32toh(w);
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

/* The ring of frames of size bytes: slot size, slots, offset in the MR. */
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

/* Bandwidth of memcpy of size bytes between two buffers, MB/s. */
static double memcpy_mbps(uint64_t size)
{
	double budget = opt.quick ? 0.05 : 0.25, t = 0;
	unsigned char *src, *dst;
	uint64_t n = 1, i;

	src = aligned_alloc(4096, (size + 4095) / 4096 * 4096);
	dst = aligned_alloc(4096, (size + 4095) / 4096 * 4096);
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
		n = t > 0 && n * budget / t < 100.0 * n ? (uint64_t)(n * budget / t) + 1 : 100 * n;
	}
	free(src);
	free(dst);
	return t > 0 ? (double)size * n / t / 1e6 : 0;
}

/* Take the stream's CQEs (trial user_data); *ended once STREAM_END came. */
static int take_cqes(uint64_t user_data, uint32_t frame_size, bool *ended)
{
	struct fpgadma_cqe c[64];
	int n, k;

	while ((n = fpgadma_poll(ctx, c, 64)) > 0) {
		for (k = 0; k < n; k++) {
			if (c[k].wr_id != user_data) {
				fprintf(stderr, "stream_bench: a CQE with wr_id %#" PRIx64 ", opcode %" PRIu32
					", not the stream's %#" PRIx64 "\n", (uint64_t)c[k].wr_id,
					c[k].opcode, user_data);
				return -1;
			}
			if (c[k].opcode == FPGADMA_WR_STREAM_END) {
				if (c[k].status != FPGADMA_WC_SUCCESS) {
					fprintf(stderr, "stream_bench: STREAM_END %s, end %" PRIu32 "\n",
						fpgadma_wc_status_str(c[k].status), c[k].vendor_err);
					return -1;
				}
				*ended = true;
			} else if (c[k].opcode != FPGADMA_WR_STREAM_FRAMES ||
				   c[k].status != FPGADMA_WC_SUCCESS ||
				   c[k].byte_len != (uint64_t)c[k].vendor_err * frame_size) {
				fprintf(stderr, "stream_bench: CQE opcode %" PRIu32 " %s, %" PRIu32
					" frames, byte_len %" PRIu64 "\n", c[k].opcode,
					fpgadma_wc_status_str(c[k].status), c[k].vendor_err,
					(uint64_t)c[k].byte_len);
				return -1;
			}
		}
	}
	if (n < 0) {
		fprintf(stderr, "stream_bench: poll: %s\n", fpgadma_strerror(n));
		return -1;
	}
	return 0;
}

struct consumer {
	uint32_t id, frame_size;
	bool any;
	uint64_t last_seq, lost, bytes, taken;
};

/* Check frame idx at f (its header, a payload word or all). */
static int check_frame(struct consumer *c, const unsigned char *f, uint64_t idx)
{
	uint64_t fs = c->frame_size, words = fs / 8, seq, lost, want, j, first;

	if (le32_at(f + offsetof(struct fpgadma_frame_hdr, magic)) != FPGADMA_FRAME_MAGIC ||
	    le32_at(f + offsetof(struct fpgadma_frame_hdr, frame_size)) != fs ||
	    le32_at(f + offsetof(struct fpgadma_frame_hdr, stream_id)) != c->id) {
		fprintf(stderr, "stream_bench: frame %" PRIu64 " of %" PRIu64 " bytes: magic %#" PRIx32
			", frame_size %" PRIu32 ", stream_id %" PRIu32 " (stream %" PRIu32 ")\n", idx,
			fs, le32_at(f + offsetof(struct fpgadma_frame_hdr, magic)),
			le32_at(f + offsetof(struct fpgadma_frame_hdr, frame_size)),
			le32_at(f + offsetof(struct fpgadma_frame_hdr, stream_id)), c->id);
		return -1;
	}
	seq = le64_at(f + offsetof(struct fpgadma_frame_hdr, seq));
	lost = le64_at(f + offsetof(struct fpgadma_frame_hdr, lost_before));
	want = (c->any ? c->last_seq + 1 : 0) + lost;
	if (seq != want) {
		fprintf(stderr, "stream_bench: frame %" PRIu64 " of %" PRIu64 " bytes: seq %" PRIu64
			" with lost_before %" PRIu64 ", expected seq %" PRIu64 "\n", idx, fs, seq,
			lost, want);
		return -1;
	}
	first = opt.verify_all ? FPGADMA_FRAME_HDR_SIZE / 8 : words - 1;
	for (j = first; j < words && j >= FPGADMA_FRAME_HDR_SIZE / 8; j++) {
		if (le64_at(f + 8 * j) != fpgadma_stream_word(seq, j)) {
			fprintf(stderr, "stream_bench: frame %" PRIu64 " (seq %" PRIu64 ") of %" PRIu64
				" bytes: word %" PRIu64 " is %#" PRIx64 ", expected %#" PRIx64 "\n", idx,
				seq, fs, j, le64_at(f + 8 * j), (uint64_t)fpgadma_stream_word(seq, j));
			return -1;
		}
	}
	c->any = true;
	c->last_seq = seq;
	c->lost += lost;
	c->bytes += fs;
	c->taken++;
	return 0;
}

static int keep_latency(uint64_t ns)
{
	if (nlat == lat_cap) {
		size_t cap = lat_cap ? 2 * lat_cap : 65536;
		uint64_t *p = realloc(lat, cap * sizeof(*p));

		if (!p) {
			fprintf(stderr, "stream_bench: out of memory\n");
			return -1;
		}
		lat = p;
		lat_cap = cap;
	}
	lat[nlat++] = ns;
	return 0;
}

/*
 * One trial: frames of size bytes every period_ns for secs seconds.
 * Returns 0 (t filled; t->refused when the device refused the period) or
 * -1 on an error.
 */
static int trial(uint64_t size, uint64_t period_ns, double secs, struct trial *t)
{
	struct fpgadma_stream_attr a = { 0 };
	struct fpgadma_stream_stats st, fin;
	struct fpgadma_stream *s = NULL;
	struct consumer c = { 0 };
	double t0, c0;
	uint64_t end_ns, first, n, i;
	bool ended = false;
	uint32_t state;
	int ret;

	memset(t, 0, sizeof(*t));
	a.frame_size = (uint32_t)size;
	geometry(size, &a.slot_size, &a.nslots, &a.ring_offset);
	a.ring_length = (uint64_t)a.nslots * a.slot_size;
	a.frame_period_ns = period_ns;
	a.cqe_every = opt.cqe_every;
	a.user_data = 0x53425400000000ull | ++trial_no;	/* "SBT" */
	ret = fpgadma_stream_start(mr, &a, &s);
	if (ret == -EINVAL) {
		t->refused = true;
		t->period_ns = period_ns;
		return 0;
	}
	if (ret) {
		fprintf(stderr, "stream_bench: fpgadma_stream_start (frames of %" PRIu64 " bytes every %"
			PRIu64 " ns, %" PRIu32 " slots of %" PRIu32 " bytes): %s\n", size, period_ns,
			a.nslots, a.slot_size, fpgadma_strerror(ret));
		return -1;
	}
	c.id = fpgadma_stream_id(s);
	c.frame_size = a.frame_size;
	t->period_ns = a.frame_period_ns;
	nlat = 0;

	t0 = now_s();
	c0 = cpu_s();
	end_ns = now_ns() + (uint64_t)(secs * 1e9);
	for (;;) {
		uint64_t seen;

		/* CQEs first: a frame whose CQE was taken is ready below */
		if (take_cqes(a.user_data, a.frame_size, &ended))
			goto err;
		state = fpgadma_stream_state(s, NULL);
		if (ended || state == FPGADMA_STREAM_STOPPED) {
			fprintf(stderr, "stream_bench: the stream stopped by itself\n");
			goto err;
		}
		n = fpgadma_stream_ready(s, &first);
		seen = now_ns();
		if (seen >= end_ns)
			break;
		for (i = 0; i < n; i++) {
			const unsigned char *f = fpgadma_stream_slot(s, first + i);

			if (check_frame(&c, f, first + i))
				goto err;
			if (keep_latency(seen - le64_at(f + offsetof(struct fpgadma_frame_hdr,
								     timestamp_ns))))
				goto err;
		}
		if (n) {
			fpgadma_stream_release(s, n);
			continue;
		}
		ret = fpgadma_wait(ctx, WAIT_MS);
		if (ret < 0) {
			fprintf(stderr, "stream_bench: wait: %s\n", fpgadma_strerror(ret));
			goto err;
		}
	}
	t->secs = now_s() - t0;
	t->cpu_s = cpu_s() - c0;
	ret = fpgadma_stream_stats(s, &st);
	if (ret) {
		fprintf(stderr, "stream_bench: fpgadma_stream_stats: %s\n", fpgadma_strerror(ret));
		goto err;
	}
	ret = fpgadma_stream_stop(s, 0, &fin);
	s = NULL;
	if (ret) {
		fprintf(stderr, "stream_bench: fpgadma_stream_stop: %s\n", fpgadma_strerror(ret));
		return -1;
	}
	/* its STREAM_END closes its CQEs */
	while (!ended) {
		if (take_cqes(a.user_data, a.frame_size, &ended))
			return -1;
		if (ended)
			break;
		ret = fpgadma_wait(ctx, END_WAIT_MS);
		if (ret <= 0) {
			fprintf(stderr, "stream_bench: no STREAM_END CQE after the stop: %s\n",
				ret ? fpgadma_strerror(ret) : "timed out");
			return -1;
		}
	}
	/* the drops the frames told of happened before the stats were taken */
	if (c.lost > st.drops || st.frames != st.frames_delivered + st.drops + st.fifo_level ||
	    fin.frames != fin.frames_delivered + fin.drops + fin.fifo_level) {
		fprintf(stderr, "stream_bench: counters: the frames taken told of %" PRIu64
			" drops, the device counted %" PRIu64 " of %" PRIu64 " frames (%" PRIu64
			" delivered, %" PRIu32 " in the FIFO); at the stop %" PRIu64 " = %" PRIu64
			" + %" PRIu64 " + %" PRIu32 "\n", c.lost, (uint64_t)st.drops,
			(uint64_t)st.frames, (uint64_t)st.frames_delivered, st.fifo_level,
			(uint64_t)fin.frames, (uint64_t)fin.frames_delivered, (uint64_t)fin.drops,
			fin.fifo_level);
		return -1;
	}
	t->frames = st.frames;
	t->delivered = c.taken;
	t->bytes = c.bytes;
	t->drops = st.drops;
	t->fifo_frames = st.fifo_frames;
	t->fifo_hwm = st.fifo_hwm;
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	t->p50_us = pct_us(lat, nlat, 50);
	t->p99_us = pct_us(lat, nlat, 99);
	t->max_us = pct_us(lat, nlat, 100);
	return 0;
err:
	fpgadma_stream_stop(s, 0, NULL);
	return -1;
}

static double rate_of(uint64_t period_ns)
{
	return 1e9 / period_ns;
}

/* Run a trial and print it: 0 (*ok: no drop), -1 on an error. */
static int try_period(uint64_t size, uint64_t period_ns, double secs, struct trial *t,
		      bool *ok, unsigned int *trials, const char *why)
{
	double due;

	if (trial(size, period_ns, secs, t))
		return -1;
	(*trials)++;
	/* a device that falls behind its own clock does not sustain the rate */
	due = t->secs * rate_of(t->period_ns ? t->period_ns : period_ns);
	t->lagged = !t->refused && t->frames + 2 < 0.95 * due;
	*ok = !t->refused && !t->lagged && t->drops == 0;
	if (t->refused)
		printf("  %-8" PRIu64 " %-12s %12.1f frames/s: refused by the device (EINVAL)\n",
		       size, why, rate_of(period_ns));
	else
		printf("  %-8" PRIu64 " %-12s %12.1f frames/s %6.2f s: %" PRIu64 " frames%s, %" PRIu64
		       " drops, FIFO high-water %" PRIu32 "/%" PRIu32 ", p99 %.0f us\n", size, why,
		       rate_of(t->period_ns), t->secs, t->frames,
		       t->lagged ? " (the device fell behind: under 95% of those due)" : "", t->drops,
		       t->fifo_hwm, t->fifo_frames, t->p99_us);
	fflush(stdout);
	return 0;
}

/* The search of one size (see the top of the file): fills r. */
static int measure(uint64_t size, struct row *r)
{
	double search = opt.search < opt.duration ? opt.search : opt.duration;
	uint64_t period, good = 0, bad = 0;
	struct trial t, best = { 0 };
	unsigned int confirm;
	bool ok, capped = false, bad_refused = false;
	uint64_t off;

	memset(r, 0, sizeof(*r));
	r->size = size;
	geometry(size, &r->slot_size, &r->nslots, &off);
	r->memcpy_mbps = memcpy_mbps(size);

	/* 1. doubling (or halving when the first rate drops already) */
	period = (uint64_t)(1e9 * size / START_BPS);
	if (period < MIN_PERIOD_NS)
		period = MIN_PERIOD_NS;
	if (period > 1000000000ull)
		period = 1000000000ull;
	for (;;) {
		if (try_period(size, period, search, &t, &ok, &r->trials,
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
				fprintf(stderr, "stream_bench: %" PRIu64 "-byte frames: %s even at %.2f "
					"frames/s\n", size, t.refused ? "the device refuses" : "drops",
					rate_of(period));
				return -1;
			}
			period *= 2;
		}
	}
	/* 2. bisection on the period */
	while (!capped && bad && (double)good / bad > 1 + opt.precision) {
		period = (good + bad) / 2;
		if (period == good || period == bad)
			break;
		if (try_period(size, period, search, &t, &ok, &r->trials, "bisect"))
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
			if (try_period(size, good, opt.duration, &t, &ok, &r->trials, "confirm"))
				return -1;
			best = t;
			if (ok)
				break;
			if (confirm + 1 == CONFIRM_TRIES) {
				r->result = "unconfirmed";
				break;
			}
			good = (uint64_t)(good * CONFIRM_BACKOFF);
		}
	}
	r->t = best;
	r->period_ns = best.period_ns;
	r->fifo_frames = best.fifo_frames;
	return 0;
}

static void print_row(const struct row *r)
{
	double rate = rate_of(r->period_ns), mbps = rate * r->size / 1e6;
	double gb = r->t.bytes / 1e9;

	printf("%10" PRIu64 " %8" PRIu32 " %5" PRIu32 " %4" PRIu32 " %12.1f %10.1f %11.0f %9.3f"
	       " %8.0f %8.0f %8.0f %9.3f %8.1f %6" PRIu64 " %-11s\n", r->size, r->slot_size,
	       r->nslots, r->fifo_frames, rate, mbps, r->memcpy_mbps,
	       r->memcpy_mbps > 0 ? mbps / r->memcpy_mbps : 0, r->t.p50_us, r->t.p99_us,
	       r->t.max_us, gb > 0 ? r->t.cpu_s / gb : 0, r->t.secs, r->t.drops, r->result);
	fflush(stdout);
}

static int write_tsv(const char *path, const char *title)
{
	FILE *f = fopen(path, "w");
	unsigned int i;

	if (!f) {
		fprintf(stderr, "stream_bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(f, "# title: %s\n", title);
	for (i = 0; i < nnotes; i++)
		fprintf(f, "# %s\n", notes[i]);
	fprintf(f, "size\tslot_size\tnslots\tfifo_frames\tperiod_ns\tframes_per_s\tMBps\tmemcpy_MBps"
		"\tof_memcpy\tlat_p50_us\tlat_p99_us\tlat_max_us\tcpu_s_per_GB\tduration_s\tframes"
		"\tdrops\ttrials\tresult\tpath\n");
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		double rate = rate_of(r->period_ns), mbps = rate * r->size / 1e6;
		double gb = r->t.bytes / 1e9;

		fprintf(f, "%" PRIu64 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu64 "\t%.3f\t%.3f"
			"\t%.3f\t%.4f\t%.3f\t%.3f\t%.3f\t%.4f\t%.3f\t%" PRIu64 "\t%" PRIu64 "\t%u\t%s"
			"\tlibfpgadma\n",
			r->size, r->slot_size, r->nslots, r->fifo_frames, r->period_ns, rate, mbps,
			r->memcpy_mbps, r->memcpy_mbps > 0 ? mbps / r->memcpy_mbps : 0, r->t.p50_us,
			r->t.p99_us, r->t.max_us, gb > 0 ? r->t.cpu_s / gb : 0, r->t.secs,
			r->t.delivered, r->t.drops, r->trials, r->result);
	}
	if (fclose(f)) {
		fprintf(stderr, "stream_bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

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
		    (*end && *end != ',')) {
			fprintf(stderr, "stream_bench: bad frame size list '%s' (sizes %d .. 4G, at most %d)\n",
				list, FPGADMA_FRAME_HDR_SIZE + 8, MAX_SIZES);
			return false;
		}
		opt.sizes[opt.nsizes++] = v;
		if (!*end)
			return true;
		p = end + 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: stream_bench [-q] [-t SECONDS] [-S SECONDS] [-s SIZE,...] [-n SLOTS]\n"
		"                    [-c FRAMES] [-V] [-d INDEX] [-o FILE.tsv]\n"
		"  -t  how long the highest rate must run without a drop (default 30 s)\n"
		"  -S  each search trial (default 1 s, at most -t)\n"
		"  -s  frame sizes (default 4K,64K,64K+123,1M,4M; not a multiple of 8:\n"
		"      slots of size+5 bytes at an odd offset)\n"
		"  -n  ring slots (default: what fits in 32 MiB, 8 .. 256)\n"
		"  -c  frames per STREAM_FRAMES CQE (default 1)\n"
		"  -V  check every payload word (default: the header and the last word)\n"
		"  -q  quick: search to 20%% instead of 5%%\n"
		"  -d  /dev/fpgadma<INDEX> (default 0)\n"
		"  -o  also write the results as TSV\n");
}

int main(int argc, char **argv)
{
	uint64_t need = 0, off;
	uint32_t slot, nslots;
	struct fpgadma_pd *pd = NULL;
	char title[512], hb[32];
	unsigned int i;
	int c, ret, status = 0;

	while ((c = getopt(argc, argv, "qt:S:s:n:c:Vd:o:h")) != -1) {
		switch (c) {
		case 'q': opt.quick = true; opt.precision = 0.2; break;
		case 't': opt.duration = atof(optarg); break;
		case 'S': opt.search = atof(optarg); break;
		case 's':
			if (!parse_sizes(optarg))
				goto bad;
			break;
		case 'n':
			opt.nslots = (uint32_t)strtoul(optarg, NULL, 0);
			if (!opt.nslots)
				goto bad;
			break;
		case 'c':
			opt.cqe_every = (uint32_t)strtoul(optarg, NULL, 0);
			if (!opt.cqe_every)
				goto bad;
			break;
		case 'V': opt.verify_all = true; break;
		case 'd': opt.dev_index = atoi(optarg); break;
		case 'o': opt.out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (optind != argc || !(opt.duration > 0) || !(opt.search > 0))
		goto bad;

	ret = fpgadma_open(opt.dev_index, &ctx);
	if (ret) {
		printf("SKIP: /dev/fpgadma%d: %s\n", opt.dev_index, fpgadma_strerror(ret));
		return ret == -ENOENT || ret == -ENODEV ? 77 : 1;
	}
	ret = fpgadma_query(ctx, &attr);
	if (ret) {
		fprintf(stderr, "stream_bench: query: %s\n", fpgadma_strerror(ret));
		status = 1;
		goto out;
	}
	if (!(attr.caps & FPGADMA_CAP_STREAM)) {
		printf("SKIP: /dev/fpgadma%d (the %s engine) has no paced stream (caps 0x%" PRIx64
		       " lack FPGADMA_CAP_STREAM)\n", opt.dev_index, fpgadma_engine_str(attr.engine),
		       attr.caps);
		status = 77;
		goto out;
	}

	/* one MR for every size's ring */
	for (i = 0; i < opt.nsizes; i++) {
		geometry(opt.sizes[i], &slot, &nslots, &off);
		if (off + (uint64_t)slot * nslots > need)
			need = off + (uint64_t)slot * nslots;
	}
	mem_len = (need + 4095) / 4096 * 4096;
	mem = mmap(NULL, mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	if (mem == MAP_FAILED) {
		mem = NULL;
		fprintf(stderr, "stream_bench: mmap %zu bytes: %s\n", mem_len, strerror(errno));
		status = 1;
		goto out;
	}
	ret = fpgadma_alloc_pd(ctx, &pd);
	if (!ret)
		ret = fpgadma_reg_mr(pd, mem, mem_len, FPGADMA_ACCESS_LOCAL_WRITE, &mr);
	if (ret) {
		fprintf(stderr, "stream_bench: alloc_pd/reg_mr of %zu bytes: %s\n", mem_len,
			fpgadma_strerror(ret));
		status = 1;
		goto out;
	}

	snprintf(title, sizeof(title), "paced streams (libfpgadma, /dev/fpgadma%d, the %s engine): "
		 "the highest frame rate with no drop for %g s per frame size, against memcpy",
		 opt.dev_index, fpgadma_engine_str(attr.engine), opt.duration);
	printf("%s\n", title);
	if (opt.duration < 30)
		note("duration: %g s, shortened from the 30 s the issue asks for (-t)", opt.duration);
	else
		note("duration: %g s", opt.duration);
	note("search: trials of %g s, the rate doubled from %" PRIu64 " MiB/s worth of frames until a drop, "
	     "then the period bisected to %.0f%%, then confirmed for the whole duration "
	     "(the period 25%% longer each time that fails, %d runs at most); a trial fails on a drop "
	     "or when the device produced under 95%% of the frames due",
	     opt.search < opt.duration ? opt.search : opt.duration, START_BPS / MIB,
	     opt.precision * 100, CONFIRM_TRIES);
	note("consumer: one thread, one STREAM_FRAMES CQE per %" PRIu32 " frame%s, fpgadma_wait() when "
	     "idle; it checks every header and %s", opt.cqe_every, opt.cqe_every == 1 ? "" : "s",
	     opt.verify_all ? "every payload word" : "the last whole payload word");
	note("latency: CLOCK_MONOTONIC when fpgadma_stream_ready() returned the frame minus its "
	     "timestamp_ns (when the device produced it)");
	note("CPU: getrusage(RUSAGE_SELF) user + system of the consumer per 10^9 bytes; the device's "
	     "work (the soft engine's kernel timer and workqueue threads writing the frames) is not "
	     "counted there");
	note("memcpy: one frame between two buffers of that size, the same two each time, in this "
	     "process before the size's trials");

	for (i = 0; i < opt.nsizes && !status; i++) {
		geometry(opt.sizes[i], &slot, &nslots, &off);
		printf("%s frames (%" PRIu64 " bytes): %" PRIu32 " slots of %" PRIu32 " bytes at MR "
		       "offset %" PRIu64 "\n", human(opt.sizes[i], hb, sizeof(hb)), opt.sizes[i],
		       nslots, slot, off);
		if (measure(opt.sizes[i], &rows[nrows]))
			status = 1;
		else
			nrows++;
	}
	printf("%10s %8s %5s %4s %12s %10s %11s %9s %8s %8s %8s %9s %8s %6s %-11s\n", "size",
	       "slot", "slots", "fifo", "frames/s", "MB/s", "memcpy MB/s", "of memcpy", "p50 us",
	       "p99 us", "max us", "cpu s/GB", "secs", "drops", "result");
	for (i = 0; i < nrows; i++)
		print_row(&rows[i]);
	if (!status && opt.out)
		status = write_tsv(opt.out, title);
out:
	if (mr && fpgadma_dereg_mr(mr) && !status)
		status = 1;
	if (pd && fpgadma_dealloc_pd(pd) && !status)
		status = 1;
	if (ctx && fpgadma_close(ctx) && !status)
		status = 1;
	if (mem)
		munmap(mem, mem_len);
	free(lat);
	for (i = 0; i < nnotes; i++)
		free(notes[i]);
	return status;
bad:
	usage(stderr);
	return 1;
}
