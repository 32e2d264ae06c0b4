// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_thp: an MR over transparent huge pages.  A 2 MiB-aligned region with
 * MADV_HUGEPAGE is faulted in; the MR over it must coalesce each huge page
 * into at most ceil(huge page / max_seg_size) segments, so nsegs is far below
 * the page count when the kernel gave huge pages (AnonHugePages of the
 * region says how many).  Also a sub-range starting and ending inside huge
 * pages, and data round trips through both.  If the kernel gave no huge pages
 * the round trip is still checked, then the test skips: coalescing was not
 * tested.
 *
 * Behind an IOMMU (the engine's transfer log says so; the soft engine keeps
 * none, and the check is left out there) each MR is one DMA segment, one
 * IOVA range.  The data moved is sized by the device (t_round_trip_huge):
 * all of it on the soft device; on an engine with a transfer log (edu, 100
 * ms a transfer) three windows of up to 4095 bytes per round trip, at the
 * start, the end and across a huge page boundary, each WR's transfers
 * counted in the log (one inside a huge page or behind the IOMMU): 12 to
 * 14 transfers on edu with huge pages (19 at most without), 12 behind the
 * IOMMU.
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d;

static uint64_t hpage_size(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
	unsigned long long v = 0;

	if (!f)
		return 2 * T_MiB;
	if (fscanf(f, "%llu", &v) != 1)
		v = 2 * T_MiB;
	fclose(f);
	return v;
}

/* Most segments an MR of [p, p+len) can have if huge_bytes of it are THP. */
static uint64_t max_segs(const void *p, size_t len, uint64_t huge_bytes, uint64_t hp)
{
	uint64_t page = t_page_size(), max_seg = d.attr.max_seg_size;
	uint64_t per_huge = T_DIV_ROUND_UP(hp, T_MIN(hp, max_seg));
	uint64_t pages = t_pages_spanned(p, len);
	uint64_t huge = huge_bytes / hp;
	uint64_t small = pages > huge * (hp / page) ? pages - huge * (hp / page) : 0;

	/* A huge page cut by the range's ends is still one contiguous run. */
	return huge * per_huge + small + 2 * per_huge;
}


int main(int argc, char **argv)
{
	uint64_t hp = hpage_size(), total, len, page = t_page_size(), huge_kb, bound, lo;
	struct fpgadma_mr *mr, *dst_mr, *sub;
	struct t_snap before;
	uint8_t *buf, *dst;
	bool buf_huge, dst_huge;
	size_t npages;
	char b1[32], b2[32];

	t_init(argc, argv, 55);
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK))
		t_skip("the kernel has no transparent huge pages");
	t_open(&d);
	total = t_big_size(&d, 64 * T_MiB);
	len = (total / 2) & ~(hp - 1);
	len = T_MIN(len, 32 * T_MiB);
	if (len < hp)
		t_skip("not enough memory for two %s regions", t_size_str(hp, b1));

	buf = t_map_aligned(len, hp);
	dst = t_map_aligned(len, hp);
	CHECK_SYS(madvise(buf, len, MADV_HUGEPAGE));
	CHECK_SYS(madvise(dst, len, MADV_HUGEPAGE));
	t_fill(buf, len, 11, 0);
	memset(dst, 0, len);
	huge_kb = (uint64_t)t_anon_huge_kb(buf, len);
	t_log("region %s at %p: AnonHugePages %llu kB (%llu of %llu huge pages)",
	      t_size_str(len, b1), (void *)buf, (unsigned long long)huge_kb,
	      (unsigned long long)(huge_kb * 1024 / hp), (unsigned long long)(len / hp));

	t_snap_take(&before);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	npages = t_pages_spanned(buf, len);
	CHECK_SNAP(&before, (long long)npages, 1, "THP MR registered");
	bound = max_segs(buf, len, huge_kb * 1024, hp);
	lo = T_DIV_ROUND_UP(len, d.attr.max_seg_size);
	t_log("MR of %zu pages: nsegs %u (bounds %llu..%llu, max_seg_size %s), %.1f pages per segment",
	      npages, mr->nsegs, (unsigned long long)lo,
	      (unsigned long long)T_MIN(bound, npages), t_size_str(d.attr.max_seg_size, b2),
	      (double)npages / mr->nsegs);
	/* With huge pages the bound is about one segment per huge page. */
	CHECK_GE(mr->nsegs, lo);
	CHECK_LE(mr->nsegs, T_MIN(bound, npages));
	t_iommu_one_segment(&d, mr, "THP MR");

	dst_mr = t_reg(&d, dst, len, FPGADMA_ACCESS_LOCAL_WRITE);
	/* Whether each side is all huge pages, now pinned: a window inside one is one transfer. */
	buf_huge = (uint64_t)t_anon_huge_kb(buf, len) * 1024 == len;
	dst_huge = (uint64_t)t_anon_huge_kb(dst, len) * 1024 == len;
	if (t_round_trip_huge(&d, hp, mr, buf, buf_huge, dst_mr, dst, dst_huge, len,
			      "THP MR -> device -> THP destination") == len) {
		CHECK(!t_verify(dst, len, 11, 0, "THP destination"));
		t_log("round trip of %s through device memory: ok", t_size_str(len, b1));
	}

	/* A sub-range that starts and ends inside huge pages. */
	{
		uint8_t *p = buf + page - 1;
		size_t sub_len = len - 2 * page + 3;
		struct t_snap mid;

		t_snap_take(&mid);
		sub = t_reg(&d, p, sub_len, FPGADMA_ACCESS_LOCAL_WRITE);
		CHECK_SNAP(&mid, (long long)t_pages_spanned(p, sub_len), 1, "sub-range MR");
		bound = max_segs(p, sub_len, huge_kb * 1024, hp);
		CHECK_GE(sub->nsegs, T_DIV_ROUND_UP(sub_len, d.attr.max_seg_size));
		CHECK_LE(sub->nsegs, T_MIN(bound, t_pages_spanned(p, sub_len)));
		t_iommu_one_segment(&d, sub, "sub-range MR");
		t_fill(dst, len, 12, 0);
		if (t_round_trip_huge(&d, hp, dst_mr, dst, dst_huge, sub, p, buf_huge, sub_len,
				      "THP destination -> device -> sub-range") == sub_len)
			CHECK(!t_verify(p, sub_len, 12, 0, "sub-range destination"));
		t_log("sub-range at +%zu of %zu bytes: nsegs %u, round trip ok", page - 1, sub_len,
		      sub->nsegs);
		t_dereg(sub);
	}

	t_log("AnonHugePages after registration and DMA: %lld kB", t_anon_huge_kb(buf, len));
	t_dereg(dst_mr);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistration");
	t_unmap(buf, len);
	t_unmap(dst, len);
	t_close(&d);

	if (huge_kb == 0)
		t_skip("the kernel gave no transparent huge pages for the region "
		       "(round trip passed; coalescing not tested)");
	t_pass();
}
