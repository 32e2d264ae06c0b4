// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mon_invalidate: each way a range stops mapping the pages a monitored MR
 * pinned makes the MR invalid (FPGADMA_REG_MR_MONITOR):
 *  - munmap of the whole MR, and of one page in its middle;
 *  - an mmap with MAP_FIXED over part of it;
 *  - mremap moving it elsewhere;
 *  - MADV_DONTNEED over part of it (two MRs over the same range: both);
 *  - MADV_FREE over it (anonymous private memory);
 *  - brk shrinking over it (an MR of memory obtained from sbrk).
 * For each: fpgadma_mr_valid() goes from 1 to 0, fpgadma_mon_count() grows
 * by exactly one per MR invalidated, poll() on the context's fd reports
 * POLLPRI, and one read gives exactly one FPGADMA_MON_INVALID event per MR
 * with its lkey, slot and generation, the cause (UNMAP for munmap, mremap,
 * MAP_FIXED and brk; CLEAR for MADV_DONTNEED and MADV_FREE) and the part of
 * the MR the change covered (for the middle page: that page); after it
 * nothing is pending and POLLPRI is gone.  MRs next to the changed range
 * (adjacent pages, not overlapping) stay valid.  The sysfs counter
 * mon_invalidations counts the same.  An invalid MR keeps its pages pinned
 * (pins, VmPin, pinned_pages) and deregisters normally; after that every
 * count is back where it started.
 */
#include "helpers.h"

#include <malloc.h>
#include <sys/mman.h>

static struct t_dev d;
static size_t page;
static long long sysfs_inval;	/* mon_invalidations expected */

/* An MR a change must invalidate, and the part of it the change covers. */
struct want {
	struct fpgadma_mr *mr;
	const void *addr;
	size_t len;
};

/* Before a change: every MR of the case valid, nothing pending; the count. */
static uint32_t before_change(const char *what, struct fpgadma_mr *const *mrs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		CHECK_MSG(fpgadma_mr_valid(mrs[i]) == 1, "%s: MR %d not valid before the change",
			  what, i);
	t_mon_expect_quiet(d.ctx, what);
	return fpgadma_mon_count(d.ctx);
}

/*
 * After a change: the MRs of w[] invalid, each with exactly one event of
 * cause; the MRs of keep[] still valid; nothing else pending.
 */
static void expect_invalidated(const char *what, uint32_t count0, uint32_t cause,
			       const struct want *w, int n, struct fpgadma_mr *const *keep,
			       int nkeep)
{
	struct fpgadma_mon_event ev[16];
	bool seen[8] = { false };
	int i, j, got;

	CHECK(n <= 8);
	for (i = 0; i < n; i++)
		CHECK_MSG(fpgadma_mr_valid(w[i].mr) == 0, "%s: MR %d (slot %u) still valid", what,
			  i, w[i].mr->mon_slot);
	for (i = 0; i < nkeep; i++)
		CHECK_MSG(fpgadma_mr_valid(keep[i]) == 1,
			  "%s: MR %d next to the changed range (%p+%zu) went invalid", what, i,
			  keep[i]->addr, keep[i]->length);
	CHECK_MSG(fpgadma_mon_count(d.ctx) == count0 + (uint32_t)n,
		  "%s: fpgadma_mon_count %u, expected %u + %d", what, fpgadma_mon_count(d.ctx),
		  count0, n);
	CHECK_MSG(t_mon_pollpri(d.ctx, 0), "%s: no POLLPRI with %d events pending", what, n);
	got = fpgadma_mon_read(d.ctx, ev, (int)T_ARRAY_SIZE(ev));
	CHECK_MSG(got == n, "%s: fpgadma_mon_read returned %s, expected %d events", what,
		  t_errname(got), n);
	for (j = 0; j < got; j++) {
		const struct fpgadma_mon_event *e = &ev[j];

		CHECK_EQ(e->kind, FPGADMA_MON_INVALID);
		CHECK_EQ(e->reserved, 0);
		for (i = 0; i < n && e->lkey != w[i].mr->lkey; i++)
			;
		CHECK_MSG(i < n, "%s: an event for lkey 0x%x, none of the MRs changed", what,
			  e->lkey);
		CHECK_MSG(!seen[i], "%s: two events for MR %d", what, i);
		seen[i] = true;
		CHECK_EQ(e->mon_slot, w[i].mr->mon_slot);
		CHECK_EQ(e->mon_gen, w[i].mr->mon_gen);
		CHECK_MSG(e->cause == cause, "%s: cause %s, expected %s", what,
			  t_mon_cause_name(e->cause), t_mon_cause_name(cause));
		CHECK_MSG(e->addr == (uintptr_t)w[i].addr && e->length == w[i].len,
			  "%s: event covers 0x%llx+%llu of MR %p+%zu, expected %p+%zu", what,
			  (unsigned long long)e->addr, (unsigned long long)e->length,
			  w[i].mr->addr, w[i].mr->length, w[i].addr, w[i].len);
	}
	t_mon_expect_quiet(d.ctx, what);
	sysfs_inval += n;
	CHECK_EQ(t_dev_counter("mon_invalidations"), sysfs_inval);
	t_log("%s: %d MR%s invalid (%s, the covered part exact), count %u -> %u, POLLPRI until "
	      "the read; %d neighbour%s still valid", what, n, n > 1 ? "s" : "",
	      t_mon_cause_name(cause), count0, fpgadma_mon_count(d.ctx), nkeep,
	      nkeep == 1 ? "" : "s");
}

/* Invalid MRs keep their pins until deregistered; then all is as before. */
static void dereg_all(const char *what, const struct t_snap *before, struct fpgadma_mr **mrs,
		      int n)
{
	long long pages = 0;
	int i;

	for (i = 0; i < n; i++)
		pages += (long long)t_pages_spanned(mrs[i]->addr, mrs[i]->length);
	CHECK_SNAP(before, pages, n, what);
	for (i = 0; i < n; i++)
		t_dereg(mrs[i]);
	CHECK_SNAP(before, 0, 0, what);
	t_mon_expect_quiet(d.ctx, what);
}

static void munmap_whole(void)
{
	const char *what = "munmap of the whole MR";
	uint8_t *p = t_map_nothp(4 * page);
	struct fpgadma_mr *mrs[2];
	struct t_snap before;
	struct want w;
	uint32_t count0;

	t_fill(p, 4 * page, 1, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, p + 100, 3 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[1] = t_reg_mon(&d, p + 3 * page, page, FPGADMA_ACCESS_LOCAL_WRITE);	/* next to it */
	count0 = before_change(what, mrs, 2);
	t_unmap(p, 3 * page);
	w = (struct want){ mrs[0], p + 100, 3 * page - 200 };
	expect_invalidated(what, count0, FPGADMA_MON_CAUSE_UNMAP, &w, 1, &mrs[1], 1);
	dereg_all(what, &before, mrs, 2);
	t_unmap(p + 3 * page, page);
}

static void munmap_middle(void)
{
	const char *what = "munmap of a page in the middle";
	uint8_t *p = t_map_nothp(5 * page);
	struct fpgadma_mr *mrs[4];
	struct t_snap before;
	struct want w;
	uint32_t count0;

	t_fill(p, 5 * page, 2, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, p + 100, 4 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	/* the pages on either side of the one unmapped, and one further away */
	mrs[1] = t_reg_mon(&d, p + page, page, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[2] = t_reg_mon(&d, p + 3 * page, page, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[3] = t_reg_mon(&d, p + 4 * page + 1, page - 2, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = before_change(what, mrs, 4);
	t_unmap(p + 2 * page, page);
	w = (struct want){ mrs[0], p + 2 * page, page };
	expect_invalidated(what, count0, FPGADMA_MON_CAUSE_UNMAP, &w, 1, &mrs[1], 3);
	dereg_all(what, &before, mrs, 4);
	t_unmap(p, 2 * page);
	t_unmap(p + 3 * page, 2 * page);
}

static void map_fixed(void)
{
	const char *what = "mmap MAP_FIXED over part of the MR";
	uint8_t *p = t_map_nothp(4 * page), *q;
	struct fpgadma_mr *mrs[2];
	struct t_snap before;
	struct want w;
	uint32_t count0;

	t_fill(p, 4 * page, 3, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, p + 100, 3 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[1] = t_reg_mon(&d, p + 3 * page, page, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = before_change(what, mrs, 2);
	/* pages 1 and 2: the MR ends 100 bytes before the end of page 2 */
	q = mmap(p + page, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(q == p + page);
	CHECK(!t_verify_byte(q, 2 * page, 0, "the new mapping over the MR"));
	w = (struct want){ mrs[0], p + page, 2 * page - 100 };
	expect_invalidated(what, count0, FPGADMA_MON_CAUSE_UNMAP, &w, 1, &mrs[1], 1);
	CHECK(!t_verify(p, page, 3, 0, "the page of the MR left mapped"));
	dereg_all(what, &before, mrs, 2);
	t_unmap(p, 4 * page);
}

static void mremap_move(void)
{
	const char *what = "mremap moving the MR's pages";
	uint8_t *p = t_map_nothp(4 * page), *target, *q;
	struct fpgadma_mr *mrs[2];
	struct t_snap before;
	struct want w;
	uint32_t count0;

	target = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(target != MAP_FAILED);
	t_fill(p, 4 * page, 4, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, p + 100, 3 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[1] = t_reg_mon(&d, p + 3 * page, page, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = before_change(what, mrs, 2);
	q = mremap(p, 3 * page, 3 * page, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	CHECK_MSG(q == target, "mremap: %s", q == MAP_FAILED ? t_errname(errno) : "elsewhere");
	CHECK(!t_verify(q, 3 * page, 4, 0, "the moved pages at their new address"));
	w = (struct want){ mrs[0], p + 100, 3 * page - 200 };
	expect_invalidated(what, count0, FPGADMA_MON_CAUSE_UNMAP, &w, 1, &mrs[1], 1);
	dereg_all(what, &before, mrs, 2);
	t_unmap(q, 3 * page);
	t_unmap(p + 3 * page, page);
}

static void madv_dontneed(void)
{
	const char *what = "MADV_DONTNEED over part of two MRs of the same range";
	uint8_t *p = t_map_nothp(4 * page);
	struct fpgadma_mr *mrs[3];
	struct t_snap before;
	struct want w[2];
	uint32_t count0;

	t_fill(p, 4 * page, 5, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, p + 100, 3 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[1] = t_reg_mon(&d, p + 100, 3 * page - 200, 0);
	mrs[2] = t_reg_mon(&d, p, page, FPGADMA_ACCESS_LOCAL_WRITE);	/* page 0: next to it */
	count0 = before_change(what, mrs, 3);
	CHECK_SYS(madvise(p + page, 2 * page, MADV_DONTNEED));
	CHECK(!t_verify_byte(p + page, 2 * page, 0, "pages after MADV_DONTNEED"));
	w[0] = (struct want){ mrs[0], p + page, 2 * page - 100 };
	w[1] = (struct want){ mrs[1], p + page, 2 * page - 100 };
	expect_invalidated(what, count0, FPGADMA_MON_CAUSE_CLEAR, w, 2, &mrs[2], 1);
	dereg_all(what, &before, mrs, 3);
	t_unmap(p, 4 * page);
}

static void madv_free(void)
{
	const char *what = "MADV_FREE over the MR";
	uint8_t *p = t_map_nothp(4 * page);
	struct fpgadma_mr *mrs[2];
	struct t_snap before;
	struct want w;
	uint32_t count0;

	t_fill(p, 4 * page, 6, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, p, 3 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[1] = t_reg_mon(&d, p + 3 * page + 8, 64, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = before_change(what, mrs, 2);
	if (madvise(p, 3 * page, MADV_FREE)) {
		CHECK_EQ(errno, EINVAL);
		t_log("%s: the kernel has no MADV_FREE (EINVAL): not checked", what);
		t_mon_expect_quiet(d.ctx, what);
	} else {
		w = (struct want){ mrs[0], p, 3 * page };
		expect_invalidated(what, count0, FPGADMA_MON_CAUSE_CLEAR, &w, 1, &mrs[1], 1);
	}
	dereg_all(what, &before, mrs, 2);
	t_unmap(p, 4 * page);
}

/*
 * Memory from sbrk, the heap shrunk under an MR.  Nothing may move the
 * break in between: the C library's allocations (the MRs' own records,
 * fopen) must come from room it already has, so it gets plenty first, and
 * the break is checked before it is moved back.
 */
static void *volatile room_sink;

static void brk_shrink(void)
{
	const char *what = "brk shrinking over the MR";
	uint8_t *cur, *a, *end;
	struct fpgadma_mr *mrs[2];
	struct t_snap before;
	struct want w;
	uint32_t count0;
	size_t pad;
	void *room;

	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	room = malloc(512 * 1024);
	CHECK(room != NULL);
	memset(room, 1, 512 * 1024);
	room_sink = room;	/* or the compiler drops the malloc and the free */
	free(room);

	cur = sbrk(0);
	CHECK(cur != (void *)-1);
	a = (uint8_t *)(((uintptr_t)cur + page - 1) & ~(uintptr_t)(page - 1));
	pad = (size_t)(a - cur);
	if (sbrk((intptr_t)(pad + 4 * page)) == (void *)-1) {
		t_log("%s: sbrk(%zu) failed (%s): not checked", what, pad + 4 * page,
		      t_errname(errno));
		return;
	}
	end = a + 4 * page;
	CHECK(sbrk(0) == end);
	t_fill(a, 4 * page, 7, 0);
	t_snap_take(&before);
	mrs[0] = t_reg_mon(&d, a + 100, 4 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	mrs[1] = t_reg_mon(&d, a + page, page, FPGADMA_ACCESS_LOCAL_WRITE);	/* stays */
	count0 = before_change(what, mrs, 2);
	CHECK_MSG(sbrk(0) == end, "the C library moved the break (%p, expected %p): cannot "
		  "shrink it safely", sbrk(0), (void *)end);
	CHECK(sbrk(-(intptr_t)(2 * page)) == end);
	CHECK(sbrk(0) == a + 2 * page);
	w = (struct want){ mrs[0], a + 2 * page, 2 * page - 100 };
	expect_invalidated(what, count0, FPGADMA_MON_CAUSE_UNMAP, &w, 1, &mrs[1], 1);
	CHECK(!t_verify(a, 2 * page, 7, 0, "the heap below the new break"));
	dereg_all(what, &before, mrs, 2);
	CHECK_MSG(sbrk(0) == a + 2 * page, "the C library moved the break (%p, expected %p)",
		  sbrk(0), (void *)(a + 2 * page));
	CHECK(sbrk(-(intptr_t)(pad + 2 * page)) == a + 2 * page);
	CHECK(sbrk(0) == cur);
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 60);
	t_open(&d);
	t_need_monitor(&d);
	page = t_page_size();
	sysfs_inval = t_dev_counter("mon_invalidations");
	CHECK_EQ(fpgadma_mon_count(d.ctx), 0);
	t_mon_expect_quiet(d.ctx, "a new context");
	t_snap_take(&start);

	munmap_whole();
	munmap_middle();
	map_fixed();
	mremap_move();
	madv_dontneed();
	madv_free();
	brk_shrink();

	CHECK_SNAP(&start, 0, 0, "at the end");
	t_log("%u invalidations in all (fpgadma_mon_count), sysfs mon_invalidations agrees",
	      fpgadma_mon_count(d.ctx));
	t_close(&d);
	t_pass();
}
