// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The consumer side of a paced stream's ring (lib/stream.h) against a
 * control block and a ring built in memory: an unaligned ring of odd-sized
 * slots, partial hand-backs, a full ring (the device stops), hand-backs cut
 * to what was written, indices that are broken or near 2^64, the state
 * words, and a device thread racing a consumer thread with backpressure
 * (no frame lost, reordered or overwritten before it is handed back).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "stream.h"
#include "check.h"

#define RING_OFF	3	/* slot 0 at an odd address */
#define SLOT_SIZE	101	/* odd: every other slot is unaligned too */
#define FRAME_SIZE	61	/* < SLOT_SIZE: the gap must stay untouched */
#define NSLOTS		5	/* not a power of two */
#define GAP_BYTE	0xa5

static struct fpgadma_stream_ctrl ctrl __attribute__((aligned(64)));
static unsigned char mem[RING_OFF + NSLOTS * SLOT_SIZE + 64];

static void ring_init(struct fpgadma_stream_ring *r, uint64_t start,
		      uint64_t nslots)
{
	memset(&ctrl, 0, sizeof(ctrl));
	memset(mem, GAP_BYTE, sizeof(mem));
	ctrl.write_idx = ctrl.read_idx = start;
	ctrl.state = FPGADMA_STREAM_RUNNING;
	r->ctrl = &ctrl;
	r->base = (char *)mem + RING_OFF;
	r->slot_size = SLOT_SIZE;
	r->nslots = nslots;
	r->local_read = start;
}

static unsigned char frame_byte(uint64_t idx, unsigned int k)
{
	return (unsigned char)((idx * 131 + k * 7 + 1) ^ (idx >> 8));
}

/*
 * The device's side: write up to n frames into slots handed back, each
 * followed by a release store of write_idx, as the kernel does.  Returns
 * how many fitted.
 */
static unsigned int produce(const struct fpgadma_stream_ring *r, unsigned int n)
{
	unsigned int done;

	for (done = 0; done < n; done++) {
		uint64_t w = __atomic_load_n(&r->ctrl->write_idx, __ATOMIC_RELAXED);
		uint64_t rd = __atomic_load_n(&r->ctrl->read_idx, __ATOMIC_ACQUIRE);
		unsigned char *slot;
		unsigned int k;

		if (w - rd >= r->nslots)
			break;	/* no slot handed back: the FIFO holds it */
		slot = (unsigned char *)r->base + (w % r->nslots) * r->slot_size;
		for (k = 0; k < FRAME_SIZE; k++)
			slot[k] = frame_byte(w, k);
		__atomic_store_n(&r->ctrl->write_idx, w + 1, __ATOMIC_RELEASE);
	}
	return done;
}

static bool frame_ok(const void *p, uint64_t idx)
{
	const unsigned char *b = p;
	unsigned int k;

	for (k = 0; k < FRAME_SIZE; k++)
		if (b[k] != frame_byte(idx, k))
			return false;
	return true;
}

/* Nothing outside the frames was written: the gaps after each frame and
 * the bytes around the ring. */
static void check_gaps(void)
{
	size_t i, j;

	for (i = 0; i < RING_OFF; i++)
		CHECK_EQ(mem[i], GAP_BYTE);
	for (i = 0; i < NSLOTS; i++)
		for (j = FRAME_SIZE; j < SLOT_SIZE; j++)
			CHECK_EQ(mem[RING_OFF + i * SLOT_SIZE + j], GAP_BYTE);
	for (i = RING_OFF + NSLOTS * SLOT_SIZE; i < sizeof(mem); i++)
		CHECK_EQ(mem[i], GAP_BYTE);
}

static void test_basic(uint64_t start)
{
	struct fpgadma_stream_ring r;
	uint64_t first = 12345, i;
	int round;

	ring_init(&r, start, NSLOTS);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 0);
	CHECK(first == start);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, NULL), 0);

	/* the slot formula: base + (idx % nslots) * slot_size */
	for (i = start; i < start + 2 * NSLOTS; i++)
		CHECK(fpgadma_stream_ring_slot(&r, i) ==
		      (void *)(mem + RING_OFF + (i % NSLOTS) * SLOT_SIZE));

	/* three frames; hand back two, then the last */
	CHECK_EQ(produce(&r, 3), 3);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 3);
	CHECK(first == start);
	for (i = first; i < first + 3; i++)
		CHECK(frame_ok(fpgadma_stream_ring_slot(&r, i), i));
	CHECK_EQ(fpgadma_stream_ring_release(&r, 2), 2);
	CHECK(ctrl.read_idx == start + 2);
	CHECK(r.local_read == start + 2);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 1);
	CHECK(first == start + 2);
	CHECK_EQ(fpgadma_stream_ring_release(&r, 1), 1);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 0);
	CHECK(first == start + 3);

	/* a full ring: the device stops at nslots frames not handed back */
	CHECK_EQ(produce(&r, NSLOTS + 3), NSLOTS);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), NSLOTS);
	CHECK_EQ(produce(&r, 1), 0);
	/* one back: exactly one more */
	CHECK_EQ(fpgadma_stream_ring_release(&r, 1), 1);
	CHECK_EQ(produce(&r, 2), 1);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), NSLOTS);
	for (i = first; i < first + NSLOTS; i++)
		CHECK(frame_ok(fpgadma_stream_ring_slot(&r, i), i));
	CHECK_EQ(fpgadma_stream_ring_release(&r, NSLOTS), NSLOTS);

	/* many times round the ring, in uneven batches */
	for (round = 0; round < 7; round++) {
		unsigned int n = produce(&r, (unsigned int)round % NSLOTS + 1);
		uint64_t ready = fpgadma_stream_ring_ready(&r, &first);

		CHECK_EQ(ready, n);
		for (i = first; i < first + ready; i++)
			CHECK(frame_ok(fpgadma_stream_ring_slot(&r, i), i));
		CHECK_EQ(fpgadma_stream_ring_release(&r, ready), ready);
	}
	CHECK(ctrl.read_idx == ctrl.write_idx);
	CHECK(r.local_read == ctrl.write_idx);
	check_gaps();
}

static void test_release_cut(void)
{
	struct fpgadma_stream_ring r;
	uint64_t first;

	ring_init(&r, 40, NSLOTS);
	produce(&r, 2);
	/* more than written: cut to the two frames there */
	CHECK_EQ(fpgadma_stream_ring_release(&r, 100), 2);
	CHECK(ctrl.read_idx == 42);
	CHECK(r.local_read == 42);
	/* nothing there: no store at all */
	ctrl.read_idx = 777;
	CHECK_EQ(fpgadma_stream_ring_release(&r, 3), 0);
	CHECK_EQ(fpgadma_stream_ring_release(&r, 0), 0);
	CHECK(ctrl.read_idx == 777);
	ctrl.read_idx = 42;
	/* the kernel's copy of read_idx does not move the local one */
	produce(&r, 1);
	ctrl.read_idx = 0;
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 1);
	CHECK(first == 42);
	CHECK_EQ(fpgadma_stream_ring_release(&r, 1), 1);
	CHECK(ctrl.read_idx == 43);
}

static void test_broken(void)
{
	struct fpgadma_stream_ring r;
	uint64_t first;

	/* write_idx more than nslots ahead: no correct kernel does that */
	ring_init(&r, 1000, NSLOTS);
	ctrl.write_idx = 1000 + NSLOTS + 1;
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 0);
	CHECK(first == 1000);
	CHECK_EQ(fpgadma_stream_ring_release(&r, 1), 0);
	CHECK(ctrl.read_idx == 1000);
	/* exactly nslots ahead is a full ring */
	ctrl.write_idx = 1000 + NSLOTS;
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), NSLOTS);
	/* write_idx behind the read index */
	ctrl.write_idx = 999;
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 0);
	CHECK_EQ(fpgadma_stream_ring_release(&r, 1), 0);
	CHECK(r.local_read == 1000);
}

static void test_wrap(void)
{
	struct fpgadma_stream_ring r;
	uint64_t first, i;

	/* free-running indices across 2^64, four slots (a power of two, so
	 * idx % nslots stays continuous across the wrap) */
	ring_init(&r, UINT64_MAX - 2, 4);
	CHECK_EQ(produce(&r, 4), 4);
	CHECK(ctrl.write_idx == 1);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 4);
	CHECK(first == UINT64_MAX - 2);
	for (i = 0; i < 4; i++)
		CHECK(frame_ok(fpgadma_stream_ring_slot(&r, first + i), first + i));
	CHECK(fpgadma_stream_ring_slot(&r, UINT64_MAX) == (void *)(mem + RING_OFF + 3 * SLOT_SIZE));
	CHECK(fpgadma_stream_ring_slot(&r, 0) == (void *)(mem + RING_OFF));
	CHECK_EQ(fpgadma_stream_ring_release(&r, 3), 3);
	CHECK(ctrl.read_idx == 0);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 1);
	CHECK(first == 0);

	/* large indices with an odd ring */
	ring_init(&r, (1ULL << 40) + 3, NSLOTS);
	CHECK_EQ(produce(&r, 3), 3);
	CHECK_EQ(fpgadma_stream_ring_ready(&r, &first), 3);
	for (i = first; i < first + 3; i++) {
		CHECK(fpgadma_stream_ring_slot(&r, i) ==
		      (void *)(mem + RING_OFF + (i % NSLOTS) * SLOT_SIZE));
		CHECK(frame_ok(fpgadma_stream_ring_slot(&r, i), i));
	}
}

static void test_state(void)
{
	struct fpgadma_stream_ring r;
	uint32_t end = 99;

	ring_init(&r, 0, NSLOTS);
	CHECK_EQ(fpgadma_stream_ring_state(&r, &end), FPGADMA_STREAM_RUNNING);
	CHECK_EQ(end, 0);
	ctrl.state = FPGADMA_STREAM_DRAINING;
	CHECK_EQ(fpgadma_stream_ring_state(&r, NULL), FPGADMA_STREAM_DRAINING);
	ctrl.end = FPGADMA_STREAM_END_DEREG;
	ctrl.state = FPGADMA_STREAM_STOPPED;
	CHECK_EQ(fpgadma_stream_ring_state(&r, &end), FPGADMA_STREAM_STOPPED);
	CHECK_EQ(end, FPGADMA_STREAM_END_DEREG);
	/* frames written before the stop are still there to read */
	ctrl.write_idx = 2;
	CHECK_EQ(fpgadma_stream_ring_ready(&r, NULL), 2);
}

/* ---- a device thread against a consumer thread ---- */

#define STRESS_FRAMES	200000

static struct fpgadma_stream_ring stress_r;
static int stress_bad;

static void *device(void *arg)
{
	uint64_t done = 0;

	(void)arg;
	while (done < STRESS_FRAMES) {
		unsigned int want = STRESS_FRAMES - done < 3 ? (unsigned int)(STRESS_FRAMES - done) : 3;
		unsigned int n = produce(&stress_r, want);

		if (!n)
			sched_yield();	/* under valgrind threads take turns */
		done += n;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	uint64_t expect = 0, batch = 0;

	(void)arg;
	while (expect < STRESS_FRAMES) {
		uint64_t first, n, i, give;

		n = fpgadma_stream_ring_ready(&stress_r, &first);
		if (first != expect || n > NSLOTS) {
			__atomic_store_n(&stress_bad, 1, __ATOMIC_RELAXED);
			break;
		}
		if (!n) {
			sched_yield();
			continue;
		}
		for (i = first; i < first + n; i++)
			if (!frame_ok(fpgadma_stream_ring_slot(&stress_r, i), i))
				__atomic_store_n(&stress_bad, 2, __ATOMIC_RELAXED);
		/* hand back some of them; the rest must stay intact while
		 * the device runs (it may not write a slot not handed back) */
		give = batch++ % n + 1;
		if (fpgadma_stream_ring_release(&stress_r, give) != give)
			__atomic_store_n(&stress_bad, 3, __ATOMIC_RELAXED);
		sched_yield();
		for (i = first + give; i < first + n; i++)
			if (!frame_ok(fpgadma_stream_ring_slot(&stress_r, i), i))
				__atomic_store_n(&stress_bad, 4, __ATOMIC_RELAXED);
		expect = first + give;
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t dev, cons;

	ring_init(&stress_r, 0, NSLOTS);
	CHECK(pthread_create(&dev, NULL, device, NULL) == 0);
	CHECK(pthread_create(&cons, NULL, consumer, NULL) == 0);
	pthread_join(dev, NULL);
	pthread_join(cons, NULL);

	CHECK_EQ(stress_bad, 0);
	CHECK(ctrl.write_idx == STRESS_FRAMES);
	CHECK(ctrl.read_idx == STRESS_FRAMES);
	CHECK(stress_r.local_read == STRESS_FRAMES);
	check_gaps();
}

int main(void)
{
	test_basic(0);
	test_basic(0xfffffffcULL);	/* 32-bit wrap of the indices */
	test_basic(UINT64_MAX - 6 * NSLOTS);
	test_release_cut();
	test_broken();
	test_wrap();
	test_state();
	test_threads();
	return test_exit("stream");
}
