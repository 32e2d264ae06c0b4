// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mon_abi: the MR monitor's ABI.
 *  - QUERY: FPGADMA_CAP_MR_MONITOR, a page-aligned mon_mmap_off, mon_size a
 *    multiple of the page size, mon_slots = mon_size / 4 (the module
 *    parameter mon_slots, clamped and rounded up to whole pages).
 *  - REG_MR: mon_slot or mon_gen non-zero on input, or an unknown flag bit
 *    (1 << 2 and up): EINVAL, nothing registered; a range REG_MR refuses
 *    (length 0, wrapping around, kernel addresses) gets the same answer
 *    with MONITOR as without.  A monitored MR gets a slot
 *    in 1..mon_slots-1 and the generation its word holds; an unmonitored one
 *    slot 0 and generation 0 (and fpgadma_mr_valid() EINVAL); MONITOR goes
 *    with REQ_RKEY.  Deregistration moves the word past the generation, and
 *    the next MR in that slot starts from there.
 *  - The monitor area: mapping it writable or executable: EACCES; larger
 *    than mon_size or at another offset: EINVAL; read-only (shared or
 *    private) works, shows word 0 = 0 on a new context and the same words
 *    as the library's mapping, and cannot be made writable (mprotect:
 *    EACCES).
 *  - read(): a buffer smaller than one event: EINVAL (with events pending
 *    too); none pending on the non-blocking fd: EAGAIN; oldest first,
 *    whole events only (a buffer of 1.5 events gets one); a buffer the
 *    kernel cannot write (read-only): EFAULT, the word still telling.
 *  - Slot exhaustion: mon_slots-1 monitored MRs registered, the next one
 *    fails with ENOSPC and changes nothing (pins, live_mrs, count); an
 *    unmonitored registration still works; after one monitored MR is
 *    deregistered one more registers, in its slot, with the next
 *    generation.  Left out (with the reason) where the DMA layer cannot map
 *    that many pages at once (swiotlb=force) or it would take too long.
 *  - Event queue overflow: more MRs invalidated without a read than the
 *    module queues (256): the read gives one FPGADMA_MON_OVERFLOW event
 *    first, then the oldest 256 INVALID events in order; word 0 counts every
 *    invalidation.
 */
#include "helpers.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

/*
 * Events the module queues for read() before it counts an overflow: its
 * FPGADMA_MON_EVQ (kmod/fpgadma.h; the ABI says "a few hundred").
 */
#define MON_EVQ		256

static struct t_dev d;
static int fd;
static size_t page;
static struct fpgadma_query q;
static const volatile uint32_t *mon;	/* our own read-only mapping of the area */
static long long sysfs_inval;

static int reg_ioctl(struct fpgadma_reg_mr *r)
{
	return ioctl(fd, FPGADMA_IOC_REG_MR, r) ? -errno : 0;
}

static void dereg_ioctl(uint32_t lkey)
{
	struct fpgadma_dereg_mr dr = { .lkey = lkey };

	CHECK_SYS(ioctl(fd, FPGADMA_IOC_DEREG_MR, &dr));
}

static void query(void)
{
	long long param = t_module_param("mon_slots");
	unsigned int i;

	memset(&q, 0xff, sizeof(q));
	CHECK_SYS(ioctl(fd, FPGADMA_IOC_QUERY, &q));
	CHECK(q.caps & FPGADMA_CAP_MR_MONITOR);
	CHECK(q.mon_mmap_off != 0 && q.mon_mmap_off % page == 0);
	CHECK(q.mon_size != 0 && q.mon_size % page == 0);
	CHECK_EQ(q.mon_slots, q.mon_size / 4);
	CHECK_GE(q.mon_slots, 64);
	CHECK_LE(q.mon_slots, 1U << 20);
	for (i = 0; i < T_ARRAY_SIZE(q.reserved); i++)
		CHECK_EQ(q.reserved[i], 0);
	if (param >= 0) {
		long long slots = T_MIN(T_MAX(param, 64), 1LL << 20);
		long long bytes = (slots * 4 + (long long)page - 1) / (long long)page *
				  (long long)page;

		CHECK_EQ(q.mon_slots, bytes / 4);
		t_log("QUERY: mon_slots %u from the module parameter %lld", q.mon_slots, param);
	}
	t_log("QUERY: monitor area at offset 0x%llx, %u bytes, %u slots",
	      (unsigned long long)q.mon_mmap_off, q.mon_size, q.mon_slots);
}

static void mapping(void)
{
	off_t off = (off_t)q.mon_mmap_off;
	void *m;

	errno = 0;
	CHECK(mmap(NULL, q.mon_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off) == MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	CHECK(mmap(NULL, page, PROT_WRITE, MAP_SHARED, fd, off) == MAP_FAILED);
	CHECK_EQ(errno, EACCES);
	/* EPERM: refused before the driver is asked, /dev being mounted noexec */
	CHECK(mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, off) == MAP_FAILED);
	CHECK_MSG(errno == EACCES || errno == EPERM, "PROT_EXEC: %s", t_errname(errno));
	CHECK(mmap(NULL, (size_t)q.mon_size + page, PROT_READ, MAP_SHARED, fd, off) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK(mmap(NULL, page, PROT_READ, MAP_SHARED, fd, off + (off_t)page) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	t_log("monitor area: PROT_WRITE: EACCES; PROT_EXEC: refused; mon_size + 1 page, "
	      "offset + 1 page: EINVAL");

	m = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, off);
	CHECK_MSG(m != MAP_FAILED, "private read-only mapping: %s", t_errname(errno));
	CHECK_EQ(*(volatile uint32_t *)m, 0);
	CHECK_ERRNO(mprotect(m, page, PROT_READ | PROT_WRITE), EACCES);
	CHECK_SYS(munmap(m, page));

	m = mmap(NULL, q.mon_size, PROT_READ, MAP_SHARED, fd, off);
	CHECK_MSG(m != MAP_FAILED, "read-only mapping of mon_size: %s", t_errname(errno));
	mon = m;
	CHECK_EQ(mon[0], 0);
	CHECK_EQ(fpgadma_mon_count(d.ctx), 0);
	CHECK_ERRNO(mprotect(m, page, PROT_READ | PROT_WRITE), EACCES);
	CHECK_ERRNO(mprotect(m, page, PROT_READ | PROT_EXEC), EACCES);
	t_log("monitor area: read-only mappings (shared, private) work, word 0 is 0, mprotect to "
	      "write or execute: EACCES");
}

static void registration(void)
{
	uint8_t *buf = t_map_nothp(2 * page);
	struct fpgadma_reg_mr good = { .addr = (uintptr_t)buf, .length = page,
				       .access = FPGADMA_ACCESS_LOCAL_WRITE,
				       .flags = FPGADMA_REG_MR_MONITOR }, r;
	static const uint32_t bad_flags[] = { 1U << 2, 1U << 3, 1U << 31,
					      FPGADMA_REG_MR_MONITOR | 1U << 2,
					      FPGADMA_REG_MR_MONITOR | 1U << 31 };
	static const struct {
		uint64_t addr;		/* 0: buf + off */
		uint64_t off, length;
		int err;
		const char *what;
	} bad_ranges[] = {
		{ 0, 0, 0, -EINVAL, "length 0 at a page boundary" },
		{ 0, 1, 0, -EINVAL, "length 0 inside a page" },
		{ 0ULL - 4096, 0, 8192, -EINVAL, "a range wrapping past the end of the address space" },
		{ 0ULL - 100, 0, 50, -EINVAL, "a range in the last page of the address space" },
		{ 0xffff888000000000ULL, 0, 4096, -EFAULT, "a kernel address" },
	};
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t slot, gen;
	unsigned int i;

	memset(buf, 1, 2 * page);
	t_snap_take(&before);
	r = good; r.mon_slot = 1;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	r = good; r.mon_slot = 0xffffffff;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	r = good; r.mon_gen = 1;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	r = good; r.mon_gen = 0x80000000;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	r = good; r.flags = 0; r.mon_slot = 5;	/* unmonitored too */
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	r = good; r.flags = 0; r.mon_gen = 5;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	for (i = 0; i < T_ARRAY_SIZE(bad_flags); i++) {
		r = good;
		r.flags = bad_flags[i];
		CHECK_RET(reg_ioctl(&r), -EINVAL);
	}
	r = good; r.reserved0 = 1;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	r = good; r.reserved = 1ULL << 63;
	CHECK_RET(reg_ioctl(&r), -EINVAL);
	/* Ranges REG_MR refuses: the same answer, monitored or not. */
	for (i = 0; i < 2 * T_ARRAY_SIZE(bad_ranges); i++) {
		unsigned int k = i / 2;
		int ret;

		r = good;
		r.flags = i % 2 ? FPGADMA_REG_MR_MONITOR : 0;
		r.addr = bad_ranges[k].addr ? bad_ranges[k].addr : (uintptr_t)buf + bad_ranges[k].off;
		r.length = bad_ranges[k].length;
		ret = reg_ioctl(&r);
		CHECK_MSG(ret == bad_ranges[k].err, "REG_MR%s of %s (0x%llx+%llu): %s, expected %s",
			  i % 2 ? " with MONITOR" : "", bad_ranges[k].what,
			  (unsigned long long)r.addr, (unsigned long long)r.length,
			  t_errname(ret), t_errname(bad_ranges[k].err));
	}
	CHECK_SNAP(&before, 0, 0, "refused monitored registrations");
	CHECK_EQ(fpgadma_mon_count(d.ctx), 0);
	t_log("REG_MR: mon_slot or mon_gen set on input, flag bits 2, 3, 31, reserved: EINVAL; "
	      "length 0 or a range wrapping around: EINVAL, a kernel range EFAULT, monitored or "
	      "not; nothing registered");

	/* A good one, by hand: slot and generation out, the word holds the generation. */
	r = good;
	CHECK_RET(reg_ioctl(&r), 0);
	CHECK(r.mon_slot >= 1 && r.mon_slot < q.mon_slots);
	CHECK_EQ(mon[r.mon_slot], r.mon_gen);
	slot = r.mon_slot;
	gen = r.mon_gen;
	CHECK_SNAP(&before, 1, 1, "one monitored MR");
	dereg_ioctl(r.lkey);
	CHECK_EQ(mon[slot], gen + 1);
	CHECK_SNAP(&before, 0, 0, "deregistered");
	r = good;
	CHECK_RET(reg_ioctl(&r), 0);
	CHECK_EQ(r.mon_slot, slot);	/* the lowest free slot again */
	CHECK_EQ(r.mon_gen, gen + 1);
	CHECK_EQ(mon[slot], gen + 1);
	dereg_ioctl(r.lkey);
	CHECK_EQ(mon[slot], gen + 2);
	t_log("REG_MR with MONITOR: slot %u generation %u, the word holds it; deregistered, the "
	      "word moves on and the next MR in the slot starts from there", slot, gen);

	/* Unmonitored: slot and generation 0 out, whatever came in the outputs. */
	r = good;
	r.flags = 0;
	r.lkey = 0xdeadbeef;
	r.nsegs = 77;
	CHECK_RET(reg_ioctl(&r), 0);
	CHECK_EQ(r.mon_slot, 0);
	CHECK_EQ(r.mon_gen, 0);
	dereg_ioctl(r.lkey);
	mr = t_reg(&d, buf, page, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_EQ(mr->mon_slot, 0);
	CHECK_RET(fpgadma_mr_valid(mr), -EINVAL);
	t_dereg(mr);

	/* MONITOR with REQ_RKEY. */
	r = good;
	r.flags = FPGADMA_REG_MR_MONITOR | FPGADMA_REG_MR_REQ_RKEY;
	r.rkey = 0x5eed0000u | (uint32_t)(getpid() & 0xffff);
	CHECK_RET(reg_ioctl(&r), 0);
	CHECK_EQ(r.rkey, 0x5eed0000u | (uint32_t)(getpid() & 0xffff));
	CHECK(r.mon_slot >= 1 && r.mon_slot < q.mon_slots);
	CHECK_EQ(mon[r.mon_slot], r.mon_gen);
	dereg_ioctl(r.lkey);
	CHECK_SNAP(&before, 0, 0, "after the good registrations");
	CHECK_EQ(fpgadma_mon_count(d.ctx), 0);
	t_log("unmonitored REG_MR: slot 0, generation 0, fpgadma_mr_valid EINVAL; MONITOR with "
	      "REQ_RKEY works");
	t_unmap(buf, 2 * page);
}

static void reads(void)
{
	uint8_t *p = t_map_nothp(3 * page);
	void *ro;
	struct fpgadma_mon_event ev[3];
	struct fpgadma_mr *mr[2];
	struct t_snap before;
	ssize_t n;
	uint32_t count0 = fpgadma_mon_count(d.ctx);

	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK_ERRNO(read(fd, ev, sizeof(ev[0]) - 1), EINVAL);
	CHECK_ERRNO(read(fd, ev, 1), EINVAL);
	CHECK_ERRNO(read(fd, ev, sizeof(ev[0])), EAGAIN);
	CHECK_ERRNO(read(fd, ev, sizeof(ev)), EAGAIN);
	CHECK_EQ(fpgadma_mon_read(d.ctx, ev, 3), 0);
	t_log("read(): a buffer of %zu or 1 bytes: EINVAL; none pending: EAGAIN (the fd is "
	      "non-blocking), fpgadma_mon_read 0", sizeof(ev[0]) - 1);

	memset(p, 2, 3 * page);
	t_snap_take(&before);
	mr[0] = t_reg_mon(&d, p, page, 0);
	mr[1] = t_reg_mon(&d, p + 2 * page, page, 0);
	t_unmap(p + 2 * page, page);	/* the second first */
	t_unmap(p, page);
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0 + 2);
	CHECK_EQ(mon[0], count0 + 2);
	CHECK_EQ(mon[mr[0]->mon_slot], mr[0]->mon_gen + 1);
	CHECK_EQ(mon[mr[1]->mon_slot], mr[1]->mon_gen + 1);
	CHECK(t_mon_pollpri(d.ctx, 0));
	CHECK_ERRNO(read(fd, ev, sizeof(ev[0]) - 1), EINVAL);
	CHECK(t_mon_pollpri(d.ctx, 0));	/* still pending */
	n = read(fd, ev, sizeof(ev[0]) * 3 / 2);
	CHECK_EQ(n, (ssize_t)sizeof(ev[0]));
	CHECK_EQ(ev[0].kind, FPGADMA_MON_INVALID);
	CHECK_EQ(ev[0].lkey, mr[1]->lkey);	/* oldest first */
	CHECK(t_mon_pollpri(d.ctx, 0));
	n = read(fd, ev, sizeof(ev));
	CHECK_EQ(n, (ssize_t)sizeof(ev[0]));
	CHECK_EQ(ev[0].lkey, mr[0]->lkey);
	CHECK_EQ(ev[0].addr, (uintptr_t)p);
	CHECK_EQ(ev[0].length, page);
	CHECK_ERRNO(read(fd, ev, sizeof(ev)), EAGAIN);
	CHECK(!t_mon_pollpri(d.ctx, 0));
	t_log("read(): with 2 events pending a buffer of %zu bytes is still EINVAL; 1.5 events' "
	      "room gives one, the oldest; the next read the other", sizeof(ev[0]) - 1);

	/* A buffer the kernel cannot write. */
	t_dereg(mr[0]);
	t_dereg(mr[1]);
	mr[0] = t_reg_mon(&d, p + page, page, 0);
	t_unmap(p + page, page);
	CHECK_EQ(fpgadma_mr_valid(mr[0]), 0);
	CHECK(t_mon_pollpri(d.ctx, 0));
	ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	CHECK_ERRNO(read(fd, ro, sizeof(ev[0])), EFAULT);
	CHECK_EQ(fpgadma_mr_valid(mr[0]), 0);
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0 + 3);
	t_log("read() into a read-only page: EFAULT; the MR's word still says invalid; the event "
	      "is %s", t_mon_pollpri(d.ctx, 0) ? "still pending" :
	      "gone (taken off the queue before the copy failed)");
	t_unmap(ro, page);
	while (fpgadma_mon_read(d.ctx, ev, 3) > 0)
		;
	t_dereg(mr[0]);
	CHECK_SNAP(&before, 0, 0, "after the read cases");
	sysfs_inval += 3;
	CHECK_EQ(t_dev_counter("mon_invalidations"), sysfs_inval);
}

/* Whether mon_slots-1 one-page MRs can be registered at once here; why not. */
static const char *slots_unfit(uint32_t n)
{
	static char why[160];
	struct rlimit rl;

	if ((uint64_t)n * page > t_dma_budget()) {
		snprintf(why, sizeof(why), "%u one-page MRs need %llu MiB mapped at once, more "
			 "than the DMA layer can (swiotlb=force)", n,
			 (unsigned long long)((uint64_t)n * page >> 20));
		return why;
	}
	/*
	 * Each MR costs the kernel about a page and a half: the MR, its umem,
	 * a page of scatterlist, the notifier, the key tables.  Half of what
	 * is available, or the guest's OOM killer ends the test (smallmem).
	 */
	if ((long long)n * 8 > t_meminfo_kb("MemAvailable") / 2) {
		snprintf(why, sizeof(why), "%u monitored MRs need about %u MiB of kernel memory, "
			 "more than half of MemAvailable (%lld MiB)", n, n * 8 / 1024,
			 t_meminfo_kb("MemAvailable") / 1024);
		return why;
	}
	if (geteuid() != 0 && !getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (uint64_t)(n + 2) * page) {
		snprintf(why, sizeof(why), "RLIMIT_MEMLOCK of %llu bytes is below %u pages",
			 (unsigned long long)rl.rlim_cur, n + 2);
		return why;
	}
	return NULL;
}

static void exhaustion(void)
{
	uint32_t n = q.mon_slots - 1, i, k, slot, gen, count0 = fpgadma_mon_count(d.ctx);
	uint64_t t0 = t_now_ms(), limit_ms = 90000, reg_ms, est;
	const char *why = slots_unfit(n);
	struct fpgadma_mr **mrs, *extra = NULL, *plain;
	uint8_t *buf, *used;
	struct fpgadma_reg_mr r;
	struct t_snap before;

	if (why) {
		t_log("slot exhaustion not checked: %s", why);
		return;
	}
	buf = t_map_nothp(page);
	memset(buf, 3, page);
	mrs = calloc(n, sizeof(*mrs));
	used = calloc(q.mon_slots, 1);
	CHECK(mrs && used);
	t_snap_take(&before);
	/* read-only: the same page mapped n times for the device to write is asked for trouble */
	for (i = 0; i < n; i++) {
		int ret = fpgadma_reg_mr_monitor(d.pd, buf, page, 0, &mrs[i]);

		if (ret)
			t_fail("monitored registration %u of %u: %s", i + 1, n, t_errname(ret));
		CHECK(mrs[i]->mon_slot >= 1 && mrs[i]->mon_slot < q.mon_slots);
		CHECK_MSG(!used[mrs[i]->mon_slot], "slot %u given twice", mrs[i]->mon_slot);
		used[mrs[i]->mon_slot] = 1;
		if (i == 1023 && n > 4096) {
			/*
			 * registering and deregistering (up to twice as dear,
			 * with a strict IOMMU), from the first 1024
			 */
			est = (t_now_ms() - t0) * n / 1024 * 3;
			if (est > limit_ms) {
				t_log("slot exhaustion not checked: %u registrations took %llu ms, "
				      "all %u would take about %llu ms here", i + 1,
				      (unsigned long long)(t_now_ms() - t0), n,
				      (unsigned long long)est);
				for (k = 0; k <= i; k++)
					t_dereg(mrs[k]);
				CHECK_SNAP(&before, 0, 0, "after giving up the exhaustion");
				goto out;
			}
		}
	}
	reg_ms = t_now_ms() - t0;
	CHECK_SNAP(&before, n, n, "every slot taken");

	CHECK_RET(fpgadma_reg_mr_monitor(d.pd, buf, page, 0, &extra), -ENOSPC);
	CHECK(extra == NULL);
	r = (struct fpgadma_reg_mr){ .addr = (uintptr_t)buf, .length = page,
				     .flags = FPGADMA_REG_MR_MONITOR };
	CHECK_RET(reg_ioctl(&r), -ENOSPC);
	CHECK_SNAP(&before, n, n, "after ENOSPC");
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0);
	t_mon_expect_quiet(d.ctx, "after ENOSPC");
	for (i = 0; i < n; i++)
		CHECK_MSG(fpgadma_mr_valid(mrs[i]) == 1, "MR %u invalid after ENOSPC", i);
	plain = t_reg(&d, buf, page, 0);
	CHECK_EQ(plain->mon_slot, 0);
	t_dereg(plain);
	t_log("%u monitored MRs (every slot, %llu ms): the next one ENOSPC, nothing changed; an "
	      "unmonitored one still registers", n, (unsigned long long)reg_ms);

	k = n / 2;
	slot = mrs[k]->mon_slot;
	gen = mrs[k]->mon_gen;
	t_dereg(mrs[k]);
	CHECK_EQ(mon[slot], gen + 1);
	mrs[k] = t_reg_mon(&d, buf, page, 0);
	CHECK_EQ(mrs[k]->mon_slot, slot);
	CHECK_EQ(mrs[k]->mon_gen, gen + 1);
	CHECK_RET(fpgadma_reg_mr_monitor(d.pd, buf, page, 0, &extra), -ENOSPC);
	t_log("one deregistered: one more registers, in its slot %u with generation %u; then "
	      "ENOSPC again", slot, gen + 1);

	t0 = t_now_ms();
	for (i = 0; i < n; i++)
		t_dereg(mrs[i]);
	CHECK_SNAP(&before, 0, 0, "after deregistering every slot");
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0);
	t_log("all deregistered in %llu ms", (unsigned long long)(t_now_ms() - t0));
out:
	free(mrs);
	free(used);
	t_unmap(buf, page);
}

/* More invalidations than the queue holds, none read in between. */
static void overflow(void)
{
	const unsigned int total = MON_EVQ + 44;
	unsigned int batch = T_MIN(q.mon_slots - 1, 128), done = 0, i, got;
	uint32_t count0 = fpgadma_mon_count(d.ctx);
	struct fpgadma_mon_event *ev = calloc(2 * total, sizeof(*ev));
	struct { uint32_t lkey, slot, gen; uint64_t addr; } *inv = calloc(total, sizeof(*inv));
	struct fpgadma_mr *mrs[128];
	struct t_snap before;

	CHECK(ev && inv);
	t_mon_expect_quiet(d.ctx, "before the overflow");
	t_snap_take(&before);
	while (done < total) {
		unsigned int b = T_MIN(batch, total - done);
		uint8_t *p = t_map_nothp(b * page);

		memset(p, 4, b * page);
		for (i = 0; i < b; i++)
			mrs[i] = t_reg_mon(&d, p + i * page, page, 0);
		/* one page at a time: the invalidations in a known order */
		for (i = 0; i < b; i++) {
			t_unmap(p + i * page, page);
			CHECK_EQ(fpgadma_mr_valid(mrs[i]), 0);
			inv[done + i].lkey = mrs[i]->lkey;
			inv[done + i].slot = mrs[i]->mon_slot;
			inv[done + i].gen = mrs[i]->mon_gen;
			inv[done + i].addr = (uintptr_t)(p + i * page);
		}
		for (i = 0; i < b; i++)
			t_dereg(mrs[i]);
		done += b;
	}
	CHECK_SNAP(&before, 0, 0, "the invalidated MRs deregistered");
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0 + total);
	CHECK_EQ(mon[0], count0 + total);
	CHECK(t_mon_pollpri(d.ctx, 0));
	got = (unsigned int)fpgadma_mon_read(d.ctx, ev, (int)(2 * total));
	CHECK_EQ(got, MON_EVQ + 1);
	CHECK_EQ(ev[0].kind, FPGADMA_MON_OVERFLOW);
	CHECK(!ev[0].cause && !ev[0].lkey && !ev[0].mon_slot && !ev[0].mon_gen &&
	      !ev[0].reserved && !ev[0].addr && !ev[0].length);
	for (i = 1; i < got; i++) {
		const struct fpgadma_mon_event *e = &ev[i];

		CHECK_MSG(e->kind == FPGADMA_MON_INVALID && e->lkey == inv[i - 1].lkey &&
			  e->mon_slot == inv[i - 1].slot && e->mon_gen == inv[i - 1].gen &&
			  e->addr == inv[i - 1].addr && e->length == page &&
			  e->cause == FPGADMA_MON_CAUSE_UNMAP,
			  "event %u: kind %u lkey 0x%x slot %u gen %u addr 0x%llx length %llu "
			  "cause %s; expected invalidation %u (lkey 0x%x slot %u gen %u)", i,
			  e->kind, e->lkey, e->mon_slot, e->mon_gen, (unsigned long long)e->addr,
			  (unsigned long long)e->length, t_mon_cause_name(e->cause), i - 1,
			  inv[i - 1].lkey, inv[i - 1].slot, inv[i - 1].gen);
	}
	t_mon_expect_quiet(d.ctx, "after reading the overflowed queue");
	sysfs_inval += total;
	CHECK_EQ(t_dev_counter("mon_invalidations"), sysfs_inval);
	t_log("%u MRs invalidated without a read: OVERFLOW first, then the oldest %u INVALID "
	      "events in order, then nothing; word 0 counted all %u", total, MON_EVQ,
	      total);
	free(ev);
	free(inv);
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 240);
	t_open(&d);
	t_need_monitor(&d);
	page = t_page_size();
	fd = fpgadma_get_fd(d.ctx);
	sysfs_inval = t_dev_counter("mon_invalidations");
	t_snap_take(&start);

	query();
	mapping();
	registration();
	reads();
	overflow();
	exhaustion();

	CHECK_SNAP(&start, 0, 0, "at the end");
	CHECK_EQ(mon[0], fpgadma_mon_count(d.ctx));
	CHECK_SYS(munmap((void *)mon, q.mon_size));
	t_close(&d);
	t_pass();
}
