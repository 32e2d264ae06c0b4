// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mon_threads: the MR monitor under concurrency, in one context.
 *  - 4 worker threads each loop (200 times, or until the time limit): map a
 *    region (1 to 4 pages), register part of it monitored, check it is
 *    valid, unmap the region, check it is invalid right away, deregister;
 *  - a reader thread waits for POLLPRI (poll with timeouts) and reads the
 *    events as they come (fpgadma_mon_read); whenever poll reports POLLPRI
 *    a read must find at least one (it is the only reader);
 *  - a stable thread registers and deregisters monitored MRs over a buffer
 *    that stays mapped, checking each is valid before it goes.
 * Afterwards: word 0 (fpgadma_mon_count) equals the number of regions
 * unmapped; every event is an UNMAP of a worker's MR covering exactly that
 * MR, no MR has two events and no stable MR has any; without an overflow
 * event every worker MR has exactly one event (with one, the events missing
 * are at most what the queue lost); sysfs mon_invalidations counts the same;
 * the pin counts, VmPin, live_mrs and pinned_pages are back where they
 * started.  MRs are told apart by (slot, generation), which no two MRs of a
 * context share.
 */
#include "helpers.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define NWORKERS	4
#define ITERS		200
#define TIME_LIMIT_MS	15000
#define MAX_STABLE	200000

struct rec {
	uint32_t lkey, slot, gen;
	uint64_t addr, len;
	unsigned int events;
};

struct worker {
	unsigned int id;
	pthread_t th;
	struct t_rng rng;
	struct rec recs[ITERS];
	unsigned int n;
};

static struct t_dev d;
static size_t page;
static uint64_t deadline_ms;
static struct worker workers[NWORKERS];
static atomic_int workers_left = NWORKERS;
static atomic_bool stop_stable;

/* the stable thread's MRs */
static struct rec *stable;
static unsigned int nstable;

/* the reader's */
static struct fpgadma_mon_event *events;
static unsigned int nevents, cap_events, overflows, pollpri_wakeups, empty_polls;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i;

	for (i = 0; i < ITERS && t_now_ms() < deadline_ms; i++) {
		size_t npages = 1 + (size_t)t_rand_below(&w->rng, 4);
		size_t map_len = npages * page;
		size_t off = (size_t)t_rand_below(&w->rng, 256);
		size_t len = map_len - off - (size_t)t_rand_below(&w->rng, 256);
		uint8_t *p = t_map_nothp(map_len);
		struct fpgadma_mr *mr;
		struct rec *r = &w->recs[w->n];

		memset(p, (int)(w->id + i), map_len);
		mr = t_reg_mon(&d, p + off, len, FPGADMA_ACCESS_LOCAL_WRITE);
		*r = (struct rec){ .lkey = mr->lkey, .slot = mr->mon_slot, .gen = mr->mon_gen,
				   .addr = (uintptr_t)(p + off), .len = len };
		w->n++;
		CHECK_EQ(fpgadma_mr_valid(mr), 1);
		t_unmap(p, map_len);
		/* the notifier ran inside munmap: the word has moved already */
		CHECK_MSG(fpgadma_mr_valid(mr) == 0, "worker %u: MR %u still valid after munmap",
			  w->id, i);
		t_dereg(mr);
	}
	atomic_fetch_sub(&workers_left, 1);
	return NULL;
}

static void *stable_main(void *arg)
{
	size_t len = 2 * page;
	uint8_t *buf = t_map_nothp(len);

	(void)arg;
	memset(buf, 0x77, len);
	while (!atomic_load(&stop_stable)) {
		struct fpgadma_mr *mr = t_reg_mon(&d, buf + 8, len - 16,
						  FPGADMA_ACCESS_LOCAL_WRITE);

		if (nstable < MAX_STABLE)
			stable[nstable++] = (struct rec){ .lkey = mr->lkey, .slot = mr->mon_slot,
							  .gen = mr->mon_gen };
		buf[8 + nstable % (len - 16)]++;
		CHECK_MSG(fpgadma_mr_valid(mr) == 1, "stable MR %u (slot %u gen %u) went invalid",
			  nstable, mr->mon_slot, mr->mon_gen);
		t_dereg(mr);
	}
	t_unmap(buf, len);
	return NULL;
}

/* Read every pending event into events[]; returns how many. */
static int drain(void)
{
	int got, total = 0;

	for (;;) {
		if (nevents + 64 > cap_events) {
			cap_events = cap_events ? 2 * cap_events : 4096;
			events = realloc(events, cap_events * sizeof(*events));
			CHECK(events != NULL);
		}
		got = fpgadma_mon_read(d.ctx, events + nevents, 64);
		CHECK_MSG(got >= 0, "fpgadma_mon_read: %s", t_errname(got));
		if (!got)
			return total;
		nevents += (unsigned int)got;
		total += got;
	}
}

static void *reader_main(void *arg)
{
	(void)arg;
	while (atomic_load(&workers_left) > 0) {
		if (t_mon_pollpri(d.ctx, 50)) {
			pollpri_wakeups++;
			/* the only reader: POLLPRI means something to read */
			CHECK_MSG(drain() > 0, "POLLPRI reported, but no event to read");
		} else {
			empty_polls++;
		}
	}
	drain();
	return NULL;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* A stable MR named (slot, gen), in stable[] sorted. */
static bool is_stable(uint32_t slot, uint32_t gen)
{
	struct rec key = { .slot = slot, .gen = gen };

	return bsearch(&key, stable, nstable, sizeof(*stable), rec_cmp) != NULL;
}

/* The record (slot, gen) names, in recs[0..n), or NULL. */
static struct rec *find(struct rec *recs, unsigned int n, uint32_t slot, uint32_t gen)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (recs[i].slot == slot && recs[i].gen == gen)
			return &recs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t reader, stab;
	struct t_snap start;
	uint64_t seed = t_seed(argc, argv), t0;
	uint32_t count0;
	long long inval0;
	unsigned int i, j, unmapped = 0, with_event = 0, missing = 0;

	t_init(argc, argv, 120);
	t_open(&d);
	t_need_monitor(&d);
	page = t_page_size();
	t_log("seed %llu (run again with: %s %llu)", (unsigned long long)seed,
	      argc > 0 ? argv[0] : "mon_threads", (unsigned long long)seed);
	stable = calloc(MAX_STABLE, sizeof(*stable));
	CHECK(stable != NULL);
	inval0 = t_dev_counter("mon_invalidations");
	count0 = fpgadma_mon_count(d.ctx);
	t_mon_expect_quiet(d.ctx, "at the start");
	t_snap_take(&start);

	t0 = t_now_ms();
	deadline_ms = t0 + (uint64_t)TIME_LIMIT_MS * (uint64_t)t_time_scale();
	CHECK_EQ(pthread_create(&reader, NULL, reader_main, NULL), 0);
	CHECK_EQ(pthread_create(&stab, NULL, stable_main, NULL), 0);
	for (i = 0; i < NWORKERS; i++) {
		workers[i].id = i;
		t_rng_seed(&workers[i].rng, seed + i * 0x9E37);
		CHECK_EQ(pthread_create(&workers[i].th, NULL, worker_main, &workers[i]), 0);
	}
	for (i = 0; i < NWORKERS; i++)
		CHECK_EQ(pthread_join(workers[i].th, NULL), 0);
	atomic_store(&stop_stable, true);
	CHECK_EQ(pthread_join(stab, NULL), 0);
	CHECK_EQ(pthread_join(reader, NULL), 0);
	drain();	/* nothing should be left, but nothing may be missed either */
	for (i = 0; i < NWORKERS; i++)
		unmapped += workers[i].n;
	t_log("%u regions registered and unmapped by %d workers (%u per worker at most), %u "
	      "stable MRs, in %llu ms; the reader woke %u times on POLLPRI, %u polls timed out",
	      unmapped, NWORKERS, ITERS, nstable, (unsigned long long)(t_now_ms() - t0),
	      pollpri_wakeups, empty_polls);
	CHECK_GT(unmapped, NWORKERS);
	CHECK_GT(nstable, 0);

	CHECK_MSG(fpgadma_mon_count(d.ctx) == count0 + unmapped,
		  "fpgadma_mon_count %u, expected %u + %u regions unmapped",
		  fpgadma_mon_count(d.ctx), count0, unmapped);
	qsort(stable, nstable, sizeof(*stable), rec_cmp);
	for (j = 1; j < nstable; j++)
		CHECK_MSG(rec_cmp(&stable[j - 1], &stable[j]) != 0,
			  "two stable MRs with slot %u generation %u", stable[j].slot, stable[j].gen);
	{
		struct rec *all = calloc(unmapped ? unmapped : 1, sizeof(*all));
		unsigned int k = 0;

		CHECK(all != NULL);
		for (i = 0; i < NWORKERS; i++)
			for (j = 0; j < workers[i].n; j++)
				all[k++] = workers[i].recs[j];
		qsort(all, k, sizeof(*all), rec_cmp);
		for (j = 0; j < k; j++) {
			CHECK_MSG(j == 0 || rec_cmp(&all[j - 1], &all[j]) != 0,
				  "two worker MRs with slot %u generation %u", all[j].slot,
				  all[j].gen);
			CHECK_MSG(!is_stable(all[j].slot, all[j].gen),
				  "a worker MR and a stable MR with slot %u generation %u",
				  all[j].slot, all[j].gen);
		}
		free(all);
		t_log("no two of the %u MRs had the same slot and generation", k + nstable);
	}
	for (j = 0; j < nevents; j++) {
		const struct fpgadma_mon_event *e = &events[j];
		struct rec *r = NULL;

		if (e->kind == FPGADMA_MON_OVERFLOW) {
			overflows++;
			continue;
		}
		CHECK_MSG(e->kind == FPGADMA_MON_INVALID, "event %u of kind %u", j, e->kind);
		CHECK_MSG(!is_stable(e->mon_slot, e->mon_gen),
			  "an event for a stable MR (slot %u gen %u, cause %s)", e->mon_slot,
			  e->mon_gen, t_mon_cause_name(e->cause));
		for (i = 0; i < NWORKERS && !r; i++)
			r = find(workers[i].recs, workers[i].n, e->mon_slot, e->mon_gen);
		CHECK_MSG(r != NULL, "an event for no MR of the test (slot %u gen %u lkey 0x%x)",
			  e->mon_slot, e->mon_gen, e->lkey);
		CHECK_MSG(r->events == 0, "two events for one MR (slot %u gen %u)", r->slot, r->gen);
		r->events++;
		CHECK_MSG(e->lkey == r->lkey && e->cause == FPGADMA_MON_CAUSE_UNMAP &&
			  e->addr == r->addr && e->length == r->len,
			  "event for slot %u gen %u: lkey 0x%x cause %s 0x%llx+%llu, expected lkey "
			  "0x%x UNMAP 0x%llx+%llu", r->slot, r->gen, e->lkey,
			  t_mon_cause_name(e->cause), (unsigned long long)e->addr,
			  (unsigned long long)e->length, r->lkey, (unsigned long long)r->addr,
			  (unsigned long long)r->len);
		with_event++;
	}
	missing = unmapped - with_event;
	if (overflows) {
		CHECK_GT(missing, 0);
		t_log("the queue overflowed %u times: %u of %u invalidations have no event (the "
		      "words told)", overflows, missing, unmapped);
	} else {
		CHECK_MSG(missing == 0, "%u of %u unmapped MRs have no event, and no overflow was "
			  "reported", missing, unmapped);
	}
	t_log("events: %u INVALID (each an UNMAP covering its MR exactly, none twice, none for "
	      "a stable MR), %u OVERFLOW; count %u", with_event, overflows,
	      fpgadma_mon_count(d.ctx) - count0);
	t_mon_expect_quiet(d.ctx, "at the end");
	CHECK_EQ(t_dev_counter("mon_invalidations"), inval0 + unmapped);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&d);
	free(events);
	free(stable);
	t_pass();
}
