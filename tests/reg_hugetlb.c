// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_hugetlb: MRs over hugetlb pages, anonymous (MAP_HUGETLB) and from a
 * file on hugetlbfs (/dev/hugepages).  Each huge page is physically
 * contiguous, so nsegs is at most ceil(huge page / max_seg_size) per huge
 * page, far below the page count; behind an IOMMU (the engine's transfer
 * log says so; the soft engine keeps none, and the check is left out there)
 * each MR is one DMA segment.  Pins and VmPin count every base page; data
 * round trips through the MR, and through the file mapping the device's
 * writes are visible in a second mapping of the same file.  Skips when the
 * guest has no free huge pages.
 *
 * The data is sized by the device: the half-to-half round trip is all of
 * it on the soft device, and on an engine with a transfer log (edu, 100 ms
 * a transfer) three windows of up to 4095 bytes, at the start, the end and
 * across a huge page boundary, each WR's transfers counted in the log
 * (t_round_trip_huge: one inside a huge page or behind the IOMMU); the
 * other moves are one device memory's worth (4095 bytes on edu).  With 4
 * huge pages 18 to 22 transfers on edu, 18 behind the IOMMU.
 */
#include "helpers.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#define HUGETLBFS_MAGIC_	0x958458f6

static struct t_dev d;
static uint64_t hp;


static void check_mr(const char *what, uint8_t *buf, size_t len, unsigned int nhuge)
{
	uint64_t per_huge = T_DIV_ROUND_UP(hp, T_MIN(hp, (uint64_t)d.attr.max_seg_size));
	size_t npages = t_pages_spanned(buf, len), half = len / 2;
	struct fpgadma_mr *mr, *sub;
	struct t_snap before;
	uint8_t *p;
	size_t sub_len;
	char rt[96];

	t_fill(buf, len, nhuge, 0);
	t_snap_take(&before);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_SNAP(&before, (long long)npages, 1, what);
	t_log("%s: %u huge pages of %llu kB, %zu pages: nsegs %u (at most %llu)", what, nhuge,
	      (unsigned long long)(hp / 1024), npages, mr->nsegs,
	      (unsigned long long)(nhuge * per_huge));
	CHECK_GE(mr->nsegs, T_DIV_ROUND_UP(len, d.attr.max_seg_size));
	CHECK_LE(mr->nsegs, nhuge * per_huge);
	t_iommu_one_segment(&d, mr, what);

	/* First half -> device -> second half, both in the same MR. */
	snprintf(rt, sizeof(rt), "%s: first half -> device -> second half", what);
	if (t_round_trip_huge(&d, hp, mr, buf, true, mr, buf + half, true, half, rt) == half)
		CHECK(!t_verify(buf + half, half, nhuge, 0, "second half after round trip"));

	/* A sub-range starting and ending inside huge pages. */
	p = buf + t_page_size() - 1;
	sub_len = len - 2 * t_page_size() + 5;
	sub = t_reg(&d, p, sub_len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_SNAP(&before, (long long)(npages + t_pages_spanned(p, sub_len)), 2, "sub-range MR");
	CHECK_LE(sub->nsegs, nhuge * per_huge);
	snprintf(rt, sizeof(rt), "%s: sub-range MR", what);
	t_iommu_one_segment(&d, sub, rt);
	t_fill(p, sub_len, 99, 0);
	t_dev_write(&d, sub, p, T_MIN(sub_len, d.attr.dev_mem_size), 0);
	memset(buf, 0, len);
	t_dev_read(&d, mr, buf, T_MIN(sub_len, d.attr.dev_mem_size), 0);
	CHECK(!t_verify(buf, T_MIN(sub_len, d.attr.dev_mem_size), 99, 0,
			"sub-range data read back through the whole MR"));
	t_log("%s: sub-range at +%zu: nsegs %u; round trips ok", what, t_page_size() - 1,
	      sub->nsegs);
	t_dereg(sub);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistration");
}

int main(int argc, char **argv)
{
	long long hp_kb, free_pages, rsvd;
	unsigned int n;
	struct statfs sfs;
	size_t len;
	uint8_t *buf;
	bool file_done = false;

	t_init(argc, argv, 55);
	hp_kb = t_meminfo_kb("Hugepagesize");
	free_pages = t_meminfo_kb("HugePages_Free");
	rsvd = t_meminfo_kb("HugePages_Rsvd");
	if (hp_kb <= 0)
		t_skip("the kernel has no hugetlb pages (no Hugepagesize in /proc/meminfo)");
	if (free_pages - T_MAX(rsvd, 0) <= 0)
		t_skip("no free huge pages (HugePages_Free %lld, HugePages_Rsvd %lld)",
		       free_pages, rsvd);
	hp = (uint64_t)hp_kb * 1024;
	t_open(&d);
	n = (unsigned int)T_MIN(free_pages - T_MAX(rsvd, 0), 4);
	len = n * hp;
	t_log("%lld free huge pages of %lld kB; using %u", free_pages, hp_kb, n);

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		t_skip("MAP_HUGETLB of %u huge pages failed: %s", n, t_errname(errno));
	check_mr("MAP_HUGETLB", buf, len, n);
	t_unmap(buf, len);

	if (statfs("/dev/hugepages", &sfs) == 0 && (unsigned long)sfs.f_type == HUGETLBFS_MAGIC_) {
		char path[] = "/dev/hugepages/fpgadma-test-XXXXXX";
		int fd = mkstemp(path);
		uint8_t *view;

		CHECK_SYS(fd);
		CHECK_SYS(unlink(path));
		CHECK_SYS(ftruncate(fd, (off_t)len));
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (buf == MAP_FAILED)
			t_fail("mmap of a hugetlbfs file: %s", t_errname(errno));
		check_mr("hugetlbfs file", buf, len, n);
		/* What the device writes lands in the file's pages. */
		view = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		CHECK(view != MAP_FAILED);
		{
			struct fpgadma_mr *mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
			size_t part = T_MIN(len, d.attr.dev_mem_size);

			t_fill(buf, part, 5, 0);
			t_dev_write(&d, mr, buf, part, 0);
			memset(buf, 0, part);
			t_dev_read(&d, mr, buf, part, 0);
			CHECK(!t_verify(view, part, 5, 0, "second mapping of the hugetlbfs file"));
			t_dereg(mr);
		}
		t_unmap(view, len);
		t_unmap(buf, len);
		close(fd);
		file_done = true;
		t_log("hugetlbfs file: device writes visible through a second mapping");
	} else {
		t_log("no hugetlbfs at /dev/hugepages: the file case was not run");
	}
	t_close(&d);
	if (!file_done)
		t_log("note: only the MAP_HUGETLB case ran");
	t_pass();
}
