// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The provider's registration cache (prov/fpgadma/src/mrcache.c) against a
 * fake libfpgadma defined here: registrations that pin nothing but are
 * counted (live MRs, monitor slots, bytes against a memlock budget), a
 * monitor whose words, count and event queue the test drives, and faults
 * on demand.  Addresses are numbers: no memory is touched.
 *
 *  - hits and misses: whole pages, rights asked and forbidden, ranges
 *    across pages;
 *  - exact entries (application MRs with remote rights): shared only by the
 *    same range and rights, never with the other gets, gone with the last
 *    put;
 *  - the monitor: an entry invalidated while unused is deregistered and
 *    never handed out again; one in use stays registered for its users and
 *    goes with the last put; a lost event queue (overflow) and an
 *    invalidation nobody was told of are caught all the same;
 *  - limits: least recently used unused entries go beyond the count and
 *    the size, entries in use never;
 *  - memlock (-ENOMEM): unused entries go and the registration is tried
 *    again; monitor slots (-ENOSPC): one unused entry goes, else an uncached
 *    registration; no monitor, or a range over the device's largest MR:
 *    uncached; -EFAULT passes through with nothing registered;
 *  - the cache off: one registration per get, of exactly the range;
 *  - close: nothing stays registered, even what a buggy caller still held;
 *  - a random run against the fake's truth: no get ever returns an MR that
 *    does not cover its range with its rights, or an invalid one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpgadma_prov.h"
#include "check.h"

#define PAGE	4096ULL
#define BASE	0x10000000ULL		/* where the test's "buffers" are */
#define MAX_MRS	4096
#define QUEUE	8			/* the fake's event queue */

/* --- the fake libfpgadma -------------------------------------------------- */

struct fpgadma_context {
	int unused;
};

struct fake_mr {
	struct fpgadma_mr pub;		/* first: the MR handed out */
	bool live, monitored, valid;
};

static struct fake {
	struct fpgadma_context ctx;
	struct fpgadma_pd pd;
	struct fake_mr mrs[MAX_MRS];
	bool monitor;			/* FPGADMA_CAP_MR_MONITOR */
	int slots;			/* monitored MRs at once */
	uint64_t memlock;		/* bytes that may be pinned */
	uint64_t fault_lo, fault_hi;	/* registrations touching this: -EFAULT */
	uint64_t pinned;
	int live, live_monitored;
	int regs, deregs;
	uint32_t count;			/* word 0 of the monitor area */
	struct fpgadma_mon_event q[QUEUE];
	int nq;
	bool overflow;
	uint32_t next_key;
} fk;

static void fake_reset(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.pd.context = &fk.ctx;
	fk.monitor = true;
	fk.slots = 1000;
	fk.memlock = UINT64_MAX;
	fk.next_key = 1;
}

static int fake_reg(void *addr, size_t length, unsigned int access,
		    bool monitor, struct fpgadma_mr **mrp)
{
	uint64_t a = (uintptr_t)addr;
	int i;

	*mrp = NULL;
	if (!length)
		return -EINVAL;
	if (a < fk.fault_hi && fk.fault_lo < a + length)
		return -EFAULT;
	if (monitor && fk.live_monitored >= fk.slots)
		return -ENOSPC;
	if (fk.pinned + length > fk.memlock)
		return -ENOMEM;
	for (i = 0; i < MAX_MRS && fk.mrs[i].live; i++)
		;
	if (i == MAX_MRS)
		return -ENOMEM;
	memset(&fk.mrs[i], 0, sizeof(fk.mrs[i]));
	fk.mrs[i].pub.context = &fk.ctx;
	fk.mrs[i].pub.pd = &fk.pd;
	fk.mrs[i].pub.addr = addr;
	fk.mrs[i].pub.length = length;
	fk.mrs[i].pub.access = access;
	fk.mrs[i].pub.lkey = fk.next_key;
	fk.mrs[i].pub.rkey = fk.next_key++ + 0x1000000;
	fk.mrs[i].pub.mon_slot = monitor ? (uint32_t)i + 1 : 0;
	fk.mrs[i].live = true;
	fk.mrs[i].monitored = monitor;
	fk.mrs[i].valid = true;
	fk.pinned += length;
	fk.live++;
	fk.live_monitored += monitor;
	fk.regs++;
	*mrp = &fk.mrs[i].pub;
	return 0;
}

int fpgadma_reg_mr(struct fpgadma_pd *pd, void *addr, size_t length,
		   unsigned int access, struct fpgadma_mr **mr)
{
	(void)pd;
	return fake_reg(addr, length, access, false, mr);
}

int fpgadma_reg_mr_monitor(struct fpgadma_pd *pd, void *addr, size_t length,
			   unsigned int access, struct fpgadma_mr **mr)
{
	(void)pd;
	if (!fk.monitor) {
		*mr = NULL;
		return -EOPNOTSUPP;
	}
	return fake_reg(addr, length, access, true, mr);
}

static struct fake_mr *fake_of(const struct fpgadma_mr *mr)
{
	return (struct fake_mr *)mr;
}

int fpgadma_dereg_mr(struct fpgadma_mr *mr)
{
	struct fake_mr *f = fake_of(mr);

	CHECK(f->live);		/* never twice */
	if (!f->live)
		return -EINVAL;
	f->live = false;
	fk.pinned -= mr->length;
	fk.live--;
	fk.live_monitored -= f->monitored;
	fk.deregs++;
	return 0;
}

int fpgadma_mr_valid(const struct fpgadma_mr *mr)
{
	const struct fake_mr *f = fake_of(mr);

	CHECK(f->live);		/* the cache looks only at live MRs */
	if (!f->monitored)
		return -EINVAL;
	return f->valid;
}

uint32_t fpgadma_mon_count(const struct fpgadma_context *ctx)
{
	(void)ctx;
	return fk.monitor ? fk.count : 0;
}

int fpgadma_mon_read(struct fpgadma_context *ctx, struct fpgadma_mon_event *evs,
		     int max)
{
	int n = 0;

	(void)ctx;
	if (fk.overflow && max > 0) {
		memset(&evs[0], 0, sizeof(evs[0]));
		evs[0].kind = FPGADMA_MON_OVERFLOW;
		fk.overflow = false;
		n = 1;
	}
	while (n < max && fk.nq) {
		evs[n++] = fk.q[0];
		memmove(fk.q, fk.q + 1, --fk.nq * sizeof(fk.q[0]));
	}
	return n;
}

const char *fpgadma_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

/* The FI_E* codes the cache returns are the errnos here (util.c maps the rest). */
int fpgadma_errno_to_fi(int err)
{
	return err;
}

struct fi_provider fpgadma_prov = { .name = FPGADMA_PROV_NAME };

/*
 * The process changes [addr, +len): every live monitored MR there becomes
 * invalid, the count moves, an event is queued (or, told with quiet, none
 * is: the word alone says it).
 */
static void fake_invalidate(uint64_t addr, uint64_t len, bool quiet)
{
	int i;

	for (i = 0; i < MAX_MRS; i++) {
		struct fake_mr *f = &fk.mrs[i];
		uint64_t a = (uintptr_t)f->pub.addr;

		if (!f->live || !f->monitored || !f->valid ||
		    !(a < addr + len && addr < a + f->pub.length))
			continue;
		f->valid = false;
		if (quiet)
			continue;
		fk.count++;
		if (fk.nq == QUEUE) {
			fk.overflow = true;
			continue;
		}
		memset(&fk.q[fk.nq], 0, sizeof(fk.q[0]));
		fk.q[fk.nq].kind = FPGADMA_MON_INVALID;
		fk.q[fk.nq].lkey = f->pub.lkey;
		fk.q[fk.nq].mon_slot = f->pub.mon_slot;
		fk.q[fk.nq].addr = addr > a ? addr : a;
		fk.q[fk.nq].length = 1;
		fk.nq++;
	}
}

/* --- helpers ------------------------------------------------------------------ */

#define LW	FPGADMA_ACCESS_LOCAL_WRITE
#define RR	FPGADMA_ACCESS_REMOTE_READ
#define RW	FPGADMA_ACCESS_REMOTE_WRITE

static struct fpgadma_mrcache *open_cache(bool enabled, size_t max_count,
					  uint64_t max_size)
{
	struct fpgadma_mrcache_attr a = {
		.enabled = enabled,
		.max_count = max_count,
		.max_size = max_size,
		.page_size = PAGE,
		.name = "test",
	};
	struct fpgadma_mrcache *c = NULL;

	CHECK_EQ(fpgadma_mrcache_open(&fk.pd, &a, &c), 0);
	return c;
}

static void *at(uint64_t off)
{
	return (void *)(uintptr_t)(BASE + off);
}

/* get, checked: the MR covers [off, +len) with the rights. */
static struct fpgadma_mrcache_entry *get(struct fpgadma_mrcache *c,
					 uint64_t off, size_t len,
					 unsigned int access,
					 unsigned int forbid)
{
	struct fpgadma_mrcache_entry *e = NULL;
	const struct fpgadma_mr *mr;
	int ret = fpgadma_mrcache_get(c, at(off), len, access, forbid, &e);

	CHECK_EQ(ret, 0);
	if (ret || !e)
		return NULL;
	mr = fpgadma_mrcache_mr(e);
	CHECK(fake_of(mr)->live);
	CHECK((uintptr_t)mr->addr <= BASE + off);
	CHECK((uintptr_t)mr->addr + mr->length >= BASE + off + len);
	CHECK((mr->access & access) == access);
	CHECK(!(mr->access & forbid));
	if (fake_of(mr)->monitored)
		CHECK(fake_of(mr)->valid);
	return e;
}

static struct fi_fpgadma_mr_cache_stats stats(struct fpgadma_mrcache *c)
{
	struct fi_fpgadma_mr_cache_stats s;

	fpgadma_mrcache_stats(c, &s);
	return s;
}

static void close_cache(struct fpgadma_mrcache *c)
{
	fpgadma_mrcache_close(c);
	CHECK_EQ(fk.live, 0);
	CHECK_EQ(fk.pinned, 0);
}

/* --- the cases ------------------------------------------------------------------ */

static void test_hits(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *a, *b, *w, *r;

	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);
	a = get(c, 100, 50, 0, 0);
	CHECK_EQ((uintptr_t)fpgadma_mrcache_mr(a)->addr, BASE);
	CHECK_EQ(fpgadma_mrcache_mr(a)->length, PAGE);	/* whole pages */
	CHECK(fake_of(fpgadma_mrcache_mr(a))->monitored);
	b = get(c, 3000, 1096, 0, 0);			/* same page: a hit */
	CHECK(a == b);
	w = get(c, 200, 10, LW, 0);			/* more rights: a miss */
	CHECK(w != a);
	CHECK(get(c, 300, 10, 0, 0) != NULL);		/* either will do */
	r = get(c, 4000, 200, RR, RW);			/* across two pages */
	CHECK_EQ((uintptr_t)fpgadma_mrcache_mr(r)->addr, BASE);
	CHECK_EQ(fpgadma_mrcache_mr(r)->length, 2 * PAGE);
	/* the application's local MRs: no entry with remote rights */
	CHECK(get(c, 4090, 10, 0, RR | RW) != r);
	CHECK_EQ(stats(c).hits, 2);
	CHECK_EQ(stats(c).misses, 4);
	/* the last one merged a's page into its two: a left the tree, in use */
	CHECK_EQ(stats(c).entries, 3);
	CHECK_EQ(fk.live, 4);
	/* puts keep them; the next gets hit */
	fpgadma_mrcache_put(c, r);
	CHECK(get(c, 4096 + 7, 9, RR, RW) == r);
	CHECK_EQ(fk.live, 4);
	CHECK_EQ(fk.deregs, 0);
	/* zero bytes, rights both asked and forbidden: the caller's bugs */
	CHECK_EQ(fpgadma_mrcache_get(c, at(0), 0, 0, 0, &a), -FI_EINVAL);
	CHECK_EQ(fpgadma_mrcache_get(c, at(0), 1, RR, RR, &a), -FI_EINVAL);
	close_cache(c);		/* with entries still held: warns, frees */
}

static struct fpgadma_mrcache_entry *get_exact(struct fpgadma_mrcache *c,
					       uint64_t off, size_t len,
					       unsigned int access)
{
	struct fpgadma_mrcache_entry *e = NULL;
	const struct fpgadma_mr *mr;

	CHECK_EQ(fpgadma_mrcache_get_exact(c, at(off), len, access, &e), 0);
	if (!e)
		return NULL;
	mr = fpgadma_mrcache_mr(e);
	CHECK_EQ((uintptr_t)mr->addr, BASE + off);
	CHECK_EQ(mr->length, len);
	CHECK_EQ(mr->access, access);
	return e;
}

static void test_exact(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *a, *b, *d, *s;
	const struct fpgadma_mr *mr;

	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);
	a = get_exact(c, 100, 5000, LW | RR | RW);
	CHECK(fake_of(fpgadma_mrcache_mr(a))->monitored);
	b = get_exact(c, 100, 5000, LW | RR | RW);	/* the same: shared */
	CHECK(a == b);
	CHECK(get_exact(c, 100, 5000, RR) != a);	/* other rights */
	CHECK(get_exact(c, 200, 100, LW | RR | RW) != a); /* inside: no */
	CHECK_EQ(fk.live, 3);
	/* the provider's own gets never see exact entries */
	s = get(c, 200, 100, 0, 0);
	CHECK(s != a);
	CHECK_EQ(fk.live, 4);
	/* the last put deregisters: the key dies with the last MR */
	mr = fpgadma_mrcache_mr(a);
	fpgadma_mrcache_put(c, a);
	CHECK(fake_of(mr)->live);
	fpgadma_mrcache_put(c, b);
	CHECK(!fake_of(mr)->live);
	CHECK_EQ(stats(c).evicted, 0);
	d = get_exact(c, 100, 5000, LW | RR | RW);	/* a new one */
	CHECK_EQ(fk.regs, 5);
	/* memory changed: a new MR for the next registration */
	fake_invalidate(BASE + 100, 1, false);
	b = get_exact(c, 100, 5000, LW | RR | RW);
	CHECK(b != d);
	CHECK(fake_of(fpgadma_mrcache_mr(d))->live);	/* d keeps its pages */
	fpgadma_mrcache_put(c, d);
	fpgadma_mrcache_put(c, b);
	close_cache(c);
}

static void test_invalidate(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *a, *b, *held;
	int regs;

	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);

	/* unused: gone at the next get, never handed out */
	a = get(c, 0, 100, 0, 0);
	fpgadma_mrcache_put(c, a);
	fake_invalidate(BASE + 10, 1, false);
	b = get(c, 0, 100, 0, 0);
	CHECK(fake_of(fpgadma_mrcache_mr(b))->valid);
	CHECK_EQ(fk.deregs, 1);
	CHECK_EQ(stats(c).invalidated, 1);
	CHECK_EQ(stats(c).entries, 1);
	fpgadma_mrcache_put(c, b);

	/* in use: its user keeps it, the next get gets a new one */
	held = get(c, 0, 100, 0, 0);
	CHECK(held == b);
	fake_invalidate(BASE, PAGE, false);
	b = get(c, 0, 100, 0, 0);
	CHECK(b != held);
	CHECK(fake_of(fpgadma_mrcache_mr(held))->live);
	CHECK_EQ(fk.live, 2);
	CHECK_EQ(stats(c).entries, 1);
	fpgadma_mrcache_put(c, held);	/* its MR goes with its last user */
	CHECK_EQ(fk.live, 1);
	fpgadma_mrcache_put(c, b);

	/* nobody told (no event, the count unchanged): the word is enough */
	fake_invalidate(BASE, PAGE, true);
	regs = fk.regs;
	a = get(c, 0, 100, 0, 0);
	CHECK_EQ(fk.regs, regs + 1);	/* (b's memory may be a's now) */
	CHECK_EQ(stats(c).invalidated, 3);
	CHECK_EQ(fk.live, 1);
	fpgadma_mrcache_put(c, a);

	/* invalid when its last user puts it: not kept */
	a = get(c, 0, 100, 0, 0);
	fake_invalidate(BASE, PAGE, true);
	fpgadma_mrcache_put(c, a);
	CHECK_EQ(fk.live, 0);
	CHECK_EQ(stats(c).entries, 0);
	close_cache(c);
}

static void test_overflow(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *e[20];
	int i;

	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);
	for (i = 0; i < 20; i++) {
		e[i] = get(c, (uint64_t)i * PAGE, 10, 0, 0);
		fpgadma_mrcache_put(c, e[i]);
	}
	/* more than the queue holds: events are lost */
	fake_invalidate(BASE, 16 * PAGE, false);
	CHECK(fk.overflow);
	get(c, 19 * PAGE, 10, 0, 0);	/* a hit: page 19 is still the same */
	CHECK_EQ(stats(c).hits, 1);
	CHECK_EQ(stats(c).invalidated, 16);
	CHECK_EQ(stats(c).entries, 4);
	CHECK_EQ(fk.live, 4);
	CHECK_EQ(fk.nq, 0);
	close_cache(c);
}

static void test_limits(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *e[8];
	int i;

	/* by count: the least recently used unused entries go */
	fake_reset();
	c = open_cache(true, 4, 1ULL << 40);
	for (i = 0; i < 6; i++)
		fpgadma_mrcache_put(c, get(c, (uint64_t)i * PAGE, 1, 0, 0));
	CHECK_EQ(stats(c).entries, 4);
	CHECK_EQ(stats(c).evicted, 2);
	CHECK_EQ(fk.live, 4);
	/* 2..5 are there (hits), in any order of getting them */
	for (i = 5; i >= 2; i--)
		fpgadma_mrcache_put(c, get(c, (uint64_t)i * PAGE, 1, 0, 0));
	CHECK_EQ(stats(c).hits, 4);
	/* page 5 is now the least recently used: page 0 pushes it out */
	fpgadma_mrcache_put(c, get(c, 0, 1, 0, 0));
	fpgadma_mrcache_put(c, get(c, 4 * PAGE, 1, 0, 0));
	CHECK_EQ(stats(c).hits, 5);
	fpgadma_mrcache_put(c, get(c, 5 * PAGE, 1, 0, 0));
	CHECK_EQ(stats(c).hits, 5);	/* 5 had gone: a miss */

	/* entries in use never go, whatever the limits */
	for (i = 0; i < 8; i++)
		e[i] = get(c, (uint64_t)(10 + i) * PAGE, 1, 0, 0);
	CHECK_EQ(stats(c).entries, 8);
	for (i = 0; i < 8; i++)
		fpgadma_mrcache_put(c, e[i]);
	CHECK_EQ(stats(c).entries, 4);
	CHECK_EQ(fk.live, 4);
	close_cache(c);

	/* by size */
	fake_reset();
	c = open_cache(true, 1024, 3 * PAGE);
	for (i = 0; i < 3; i++)
		fpgadma_mrcache_put(c, get(c, (uint64_t)i * 2 * PAGE, PAGE + 1, 0, 0));
	CHECK_EQ(stats(c).bytes, 2 * PAGE);
	CHECK_EQ(stats(c).entries, 1);
	CHECK_EQ(stats(c).max_bytes, 3 * PAGE);
	close_cache(c);

	/* count 0: nothing kept once unused */
	fake_reset();
	c = open_cache(true, 0, 1ULL << 40);
	fpgadma_mrcache_put(c, get(c, 0, 1, 0, 0));
	CHECK_EQ(fk.live, 0);
	close_cache(c);
}

static void test_errors(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *e[4], *x = NULL;
	const struct fpgadma_mr *mr;
	int i;

	/* memlock: unused entries make room, once */
	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);
	fk.memlock = 4 * PAGE;
	for (i = 0; i < 3; i++)
		fpgadma_mrcache_put(c, get(c, (uint64_t)i * 4 * PAGE, 1, 0, 0));
	e[0] = get(c, 100 * PAGE, 2 * PAGE, 0, 0);
	CHECK_EQ(stats(c).evicted, 3);
	CHECK_EQ(fk.live, 1);
	/* nothing left to evict: the error comes through */
	CHECK_EQ(fpgadma_mrcache_get(c, at(200 * PAGE), 3 * PAGE, 0, 0, &x),
		 -FI_ENOMEM);
	CHECK(x == NULL);
	/* fi_mr_reg's own registrations ask for room the same way */
	fpgadma_mrcache_put(c, e[0]);
	CHECK_EQ(fpgadma_mrcache_reclaim(c), 1);
	CHECK_EQ(fk.live, 0);
	close_cache(c);

	/* monitor slots: an unused entry makes room, else no caching */
	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);
	fk.slots = 2;
	fpgadma_mrcache_put(c, get(c, 0, 1, 0, 0));
	e[0] = get(c, PAGE, 1, 0, 0);
	e[1] = get(c, 2 * PAGE, 1, 0, 0);	/* page 0's slot goes */
	CHECK_EQ(stats(c).evicted, 1);
	CHECK(fake_of(fpgadma_mrcache_mr(e[1]))->monitored);
	e[2] = get(c, 3 * PAGE + 5, 7, 0, 0);	/* no slot, nothing to evict */
	CHECK(!fake_of(fpgadma_mrcache_mr(e[2]))->monitored);
	CHECK_EQ((uintptr_t)fpgadma_mrcache_mr(e[2])->addr, BASE + 3 * PAGE + 5);
	CHECK_EQ(fpgadma_mrcache_mr(e[2])->length, 7);	/* just the range */
	CHECK_EQ(stats(c).uncached, 1);
	mr = fpgadma_mrcache_mr(e[2]);
	fpgadma_mrcache_put(c, e[2]);
	CHECK(!fake_of(mr)->live);
	fpgadma_mrcache_put(c, e[0]);
	fpgadma_mrcache_put(c, e[1]);
	CHECK_EQ(fk.live, 2);

	/* a fault: the error, nothing registered or cached */
	fk.fault_lo = BASE + 50 * PAGE;
	fk.fault_hi = fk.fault_lo + 1;
	CHECK_EQ(fpgadma_mrcache_get(c, at(50 * PAGE - 10), 20, 0, 0, &x),
		 -FI_EFAULT);
	CHECK(x == NULL);
	CHECK_EQ(fk.live, 2);
	close_cache(c);

	/* no monitor: every get an uncached registration of the range */
	fake_reset();
	fk.monitor = false;
	c = open_cache(true, 1024, 1ULL << 40);
	e[0] = get(c, 10, 20, LW, 0);
	e[1] = get(c, 10, 20, LW, 0);
	CHECK(e[0] != e[1]);
	CHECK_EQ(fpgadma_mrcache_mr(e[0])->length, 20);
	fpgadma_mrcache_put(c, e[0]);
	fpgadma_mrcache_put(c, e[1]);
	CHECK_EQ(fk.live, 0);
	CHECK_EQ(stats(c).uncached, 2);
	close_cache(c);
}

static void test_max_mr(void)
{
	struct fpgadma_mrcache_attr a = {
		.enabled = true, .max_count = 16, .max_size = 1ULL << 40,
		.page_size = PAGE, .max_mr_size = 2 * PAGE, .name = "test",
	};
	struct fpgadma_mrcache *c = NULL;
	struct fpgadma_mrcache_entry *e;

	fake_reset();
	CHECK_EQ(fpgadma_mrcache_open(&fk.pd, &a, &c), 0);
	/* 2 pages of bytes over 3 pages: the device's largest MR is 2 pages */
	e = get(c, 100, 2 * PAGE, 0, 0);
	CHECK_EQ(fpgadma_mrcache_mr(e)->length, 2 * PAGE);
	CHECK(!fake_of(fpgadma_mrcache_mr(e))->monitored);
	fpgadma_mrcache_put(c, e);
	CHECK_EQ(fk.live, 0);
	close_cache(c);
	a.page_size = 3000;
	CHECK_EQ(fpgadma_mrcache_open(&fk.pd, &a, &c), -FI_EINVAL);
}

static void test_off(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *e;
	int i;

	fake_reset();
	c = open_cache(false, 1024, 1ULL << 40);
	for (i = 0; i < 3; i++) {
		e = get(c, 100, 50, 0, 0);
		CHECK_EQ((uintptr_t)fpgadma_mrcache_mr(e)->addr, BASE + 100);
		CHECK_EQ(fpgadma_mrcache_mr(e)->length, 50);
		CHECK(!fake_of(fpgadma_mrcache_mr(e))->monitored);
		fpgadma_mrcache_put(c, e);
		CHECK_EQ(fk.live, 0);
	}
	CHECK_EQ(fk.regs, 3);
	CHECK_EQ(stats(c).enabled, 0);
	CHECK_EQ(stats(c).hits, 0);
	close_cache(c);
}

/* --- random ------------------------------------------------------------------- */

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 0x2545f4914f6cdd1dULL) % n;
}

/* How many distinct entries in e[0..n), and their bytes. */
static uint64_t distinct(struct fpgadma_mrcache_entry **e, int n,
			 uint64_t *bytes)
{
	uint64_t count = 0;
	int i, j;

	*bytes = 0;
	for (i = 0; i < n; i++) {
		if (!e[i])
			continue;
		for (j = 0; j < i && e[j] != e[i]; j++)
			;
		if (j < i)
			continue;
		count++;
		*bytes += fpgadma_mrcache_mr(e[i])->length;
	}
	return count;
}

static void test_random(void)
{
	static const unsigned int rights[] = { 0, LW, RR, LW | RR };
	struct fpgadma_mrcache_entry *held[64] = { 0 };
	struct fpgadma_mrcache *c;
	int step, gets = 0;
	uint64_t bytes;

	fake_reset();
	fk.slots = 60;
	c = open_cache(true, 32, 48 * PAGE);
	for (step = 0; step < 20000; step++) {
		unsigned int k = (unsigned int)rnd(64), what = (unsigned int)rnd(100);

		if (what < 55 && !held[k]) {
			uint64_t off = rnd(32 * PAGE), len = 1 + rnd(2 * PAGE);
			unsigned int acc = rights[rnd(4)];

			held[k] = get(c, off, len, acc,
				      (acc & RR) || rnd(2) ? RW : RR | RW);
			gets++;
		} else if (what < 90 && held[k]) {
			fpgadma_mrcache_put(c, held[k]);
			held[k] = NULL;
		} else if (what < 97) {
			fake_invalidate(BASE + rnd(32 * PAGE), 1 + rnd(2 * PAGE),
					rnd(20) == 0);
		} else {
			fpgadma_mrcache_reclaim(c);
		}
		/* only entries in use may stand beyond the limits */
		CHECK(stats(c).entries <= 32 + distinct(held, 64, &bytes));
		CHECK(stats(c).bytes <= 48 * PAGE + bytes);
		if (check_failures) {
			fprintf(stderr, "random: step %d\n", step);
			break;
		}
	}
	for (step = 0; step < 64; step++)
		fpgadma_mrcache_put(c, held[step]);
	CHECK(stats(c).entries <= 32);
	CHECK(stats(c).bytes <= 48 * PAGE);
	CHECK_EQ((uint64_t)fk.live, stats(c).entries);
	printf("random: %d gets: %llu hits, %llu misses, %llu invalidated, %llu evicted\n",
	       gets, (unsigned long long)stats(c).hits,
	       (unsigned long long)stats(c).misses,
	       (unsigned long long)stats(c).invalidated,
	       (unsigned long long)stats(c).evicted);
	CHECK_EQ(stats(c).hits + stats(c).misses, gets);
	CHECK(stats(c).hits > 100 && stats(c).invalidated > 100 &&
	      stats(c).evicted > 100);
	close_cache(c);
}

/*
 * A buffer that grows from use to use (an MPI ping-pong's) keeps one entry
 * over its first page, not one per size: each miss merges the entries of
 * the same rights it overlaps, and the unused ones are deregistered.
 */
static void test_merge(void)
{
	struct fpgadma_mrcache *c;
	struct fpgadma_mrcache_entry *e, *held;
	unsigned int n;

	fake_reset();
	c = open_cache(true, 1024, 1ULL << 40);
	for (n = 1; n <= 8; n++) {
		e = get(c, 100, n * PAGE, 0, 0);
		CHECK_EQ((uintptr_t)fpgadma_mrcache_mr(e)->addr, BASE);
		fpgadma_mrcache_put(c, e);
		CHECK_EQ(stats(c).entries, 1);
		CHECK_EQ(fk.live, 1);
	}
	/* other rights do not merge; one in use leaves the tree, still live */
	held = get(c, 0, PAGE, LW, 0);
	CHECK_EQ(stats(c).entries, 2);
	e = get(c, 0, 12 * PAGE, LW, 0);
	CHECK(e != held);
	CHECK_EQ(stats(c).entries, 2);
	CHECK_EQ(fk.live, 3);
	fpgadma_mrcache_put(c, held);
	CHECK_EQ(fk.live, 2);
	fpgadma_mrcache_put(c, e);
	close_cache(c);
}

int main(void)
{
	test_hits();
	test_merge();
	test_exact();
	test_invalidate();
	test_overflow();
	test_limits();
	test_errors();
	test_max_mr();
	test_off();
	test_random();
	return test_exit("mrcache");
}
