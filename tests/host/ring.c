// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The completion ring consumer (lib/ring.h) against rings built in memory:
 * empty ring, partial polls, free-running indices that wrap at 2^32, a full
 * ring, the overflow flag (reported once, CQEs kept), a tail too far ahead,
 * and a producer thread racing several consumer threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ring.h"
#include "check.h"

#define ENTRIES 8

struct fake_ring {
	uint32_t head;
	uint32_t pad0[15];
	uint32_t tail;
	uint32_t pad1[15];
	uint32_t flags;
	uint32_t pad2[15];
	struct fpgadma_cqe cqes[ENTRIES];
};

static void ring_init(struct fake_ring *fr, struct fpgadma_ring *r, uint32_t start)
{
	memset(fr, 0, sizeof(*fr));
	fr->head = fr->tail = start;
	r->head = &fr->head;
	r->tail = &fr->tail;
	r->flags = &fr->flags;
	r->cqes = fr->cqes;
	r->entries = ENTRIES;
}

/* The kernel's side: publish n CQEs with wr_ids id, id+1, ... */
static void produce(struct fake_ring *fr, uint64_t id, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t t = __atomic_load_n(&fr->tail, __ATOMIC_RELAXED);
		struct fpgadma_cqe *c = &fr->cqes[t & (ENTRIES - 1)];

		memset(c, 0, sizeof(*c));
		c->wr_id = id + i;
		c->status = FPGADMA_WC_SUCCESS;
		c->opcode = FPGADMA_WR_READ_MEM;
		c->byte_len = 4096 + id + i;
		__atomic_store_n(&fr->tail, t + 1, __ATOMIC_RELEASE);
	}
}

/* Take up to max CQEs; check they are next, next+1, ...; return how many. */
static int take(struct fpgadma_ring *r, int max, uint64_t *next)
{
	struct fpgadma_cqe out[ENTRIES * 2];
	int n, i;

	memset(out, 0xee, sizeof(out));
	n = fpgadma_ring_consume(r, out, max);
	for (i = 0; i < n; i++) {
		CHECK_EQ(out[i].wr_id, *next);
		CHECK_EQ(out[i].byte_len, 4096 + *next);
		(*next)++;
	}
	/* nothing written past what was returned */
	if (n >= 0 && n < (int)(sizeof(out) / sizeof(out[0])))
		CHECK(out[n].wr_id == 0xeeeeeeeeeeeeeeeeULL);
	return n;
}

static void test_basic(uint32_t start)
{
	struct fake_ring fr;
	struct fpgadma_ring r;
	uint64_t next = 100;
	int round;

	ring_init(&fr, &r, start);
	CHECK_EQ(fpgadma_ring_ready(&r), 0);
	CHECK_EQ(take(&r, 4, &next), 0);

	/* partial polls: 5 ready, take 2, 2, then 1 */
	produce(&fr, 100, 5);
	CHECK_EQ(fpgadma_ring_ready(&r), 5);
	CHECK_EQ(take(&r, 2, &next), 2);
	CHECK_EQ(fr.head, start + 2);
	CHECK_EQ(take(&r, 2, &next), 2);
	CHECK_EQ(take(&r, 16, &next), 1);
	CHECK_EQ(take(&r, 16, &next), 0);
	CHECK_EQ(fr.head, start + 5);
	CHECK_EQ(fr.head, fr.tail);

	/* max 0 takes nothing and does not move head */
	produce(&fr, 105, 1);
	CHECK_EQ(take(&r, 0, &next), 0);
	CHECK_EQ(fr.head, start + 5);
	CHECK_EQ(take(&r, 1, &next), 1);

	/* a full ring, many times round: slots are reused in order */
	for (round = 0; round < 5; round++) {
		produce(&fr, next, ENTRIES);
		CHECK_EQ(fpgadma_ring_ready(&r), ENTRIES);
		CHECK_EQ(take(&r, ENTRIES * 2, &next), ENTRIES);
	}
	CHECK_EQ(fr.head, fr.tail);
	CHECK_EQ(fr.head, start + 6 + 5 * ENTRIES);
}

static void test_overflow(void)
{
	struct fake_ring fr;
	struct fpgadma_ring r;
	uint64_t next = 0;

	ring_init(&fr, &r, 0xfffffffdu);
	produce(&fr, 0, 3);
	fr.flags = FPGADMA_RING_OVERFLOW | 0x100;	/* another bit stays */

	CHECK_EQ(take(&r, 8, &next), -EOVERFLOW);
	CHECK_EQ(fr.flags, 0x100);
	CHECK_EQ(fr.head, 0xfffffffdu);		/* CQEs kept for the next call */
	CHECK_EQ(take(&r, 8, &next), 3);
	CHECK_EQ(take(&r, 8, &next), 0);
	CHECK_EQ(fr.head, 0);
}

static void test_broken(void)
{
	struct fake_ring fr;
	struct fpgadma_ring r;
	uint64_t next = 0;

	/* tail more than entries ahead: no correct kernel does that */
	ring_init(&fr, &r, 0xfffffffcu);
	fr.tail = fr.head + ENTRIES + 1;
	CHECK_EQ(take(&r, 4, &next), -EIO);
	CHECK_EQ(fr.head, 0xfffffffcu);
	/* tail behind head (a consumer that wrote a wrong head) */
	fr.tail = fr.head - 1;
	CHECK_EQ(take(&r, 4, &next), -EIO);
}

/* ---- a producer thread against several consumers sharing a lock ---- */

#define STRESS_CQES	50000
#define CONSUMERS	4

static struct fake_ring stress_fr;
static struct fpgadma_ring stress_r;
static pthread_mutex_t stress_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char seen[STRESS_CQES];
static unsigned long stress_taken;
static int stress_bad;

static void *producer(void *arg)
{
	uint64_t id = 0;

	(void)arg;
	while (id < STRESS_CQES) {
		uint32_t head = __atomic_load_n(&stress_fr.head, __ATOMIC_ACQUIRE);
		uint32_t tail = stress_fr.tail;
		unsigned int room = ENTRIES - (tail - head), n;

		n = room < STRESS_CQES - id ? room : (unsigned int)(STRESS_CQES - id);
		if (n)
			produce(&stress_fr, id, n);
		else
			sched_yield();	/* under valgrind threads take turns */
		id += n;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct fpgadma_cqe out[3];
	uint64_t last = 0;
	bool first = true;
	int n, i;

	(void)arg;
	while (__atomic_load_n(&stress_taken, __ATOMIC_RELAXED) < STRESS_CQES) {
		pthread_mutex_lock(&stress_lock);
		n = fpgadma_ring_consume(&stress_r, out, 3);
		pthread_mutex_unlock(&stress_lock);
		if (n < 0) {
			__atomic_store_n(&stress_bad, 1, __ATOMIC_RELAXED);
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t id = out[i].wr_id;

			/* each CQE once, whole (byte_len matches its wr_id),
			 * and in order as seen by one consumer */
			if (id >= STRESS_CQES || out[i].byte_len != 4096 + id ||
			    __atomic_exchange_n(&seen[id], 1, __ATOMIC_RELAXED) ||
			    (!first && id <= last))
				__atomic_store_n(&stress_bad, 1, __ATOMIC_RELAXED);
			last = id;
			first = false;
		}
		__atomic_add_fetch(&stress_taken, n, __ATOMIC_RELAXED);
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t prod, cons[CONSUMERS];
	unsigned long i;

	ring_init(&stress_fr, &stress_r, 0xffffff00u);	/* wraps during the run */
	CHECK(pthread_create(&prod, NULL, producer, NULL) == 0);
	for (i = 0; i < CONSUMERS; i++)
		CHECK(pthread_create(&cons[i], NULL, consumer, NULL) == 0);
	pthread_join(prod, NULL);
	for (i = 0; i < CONSUMERS; i++)
		pthread_join(cons[i], NULL);

	CHECK_EQ(stress_bad, 0);
	CHECK_EQ(stress_taken, STRESS_CQES);
	for (i = 0; i < STRESS_CQES; i++)
		if (!seen[i])
			break;
	CHECK_EQ(i, STRESS_CQES);
	CHECK_EQ(stress_fr.head, stress_fr.tail);
}

int main(void)
{
	test_basic(0);
	test_basic(0xfffffffau);	/* head and tail wrap in the middle */
	test_basic(0x7ffffffeu);
	test_overflow();
	test_broken();
	test_threads();
	return test_exit("ring");
}
