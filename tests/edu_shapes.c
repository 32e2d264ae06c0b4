// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edu_shapes: MRs over every kind of memory, with data through the edu
 * device's 4095 bytes at their edges.
 *  - transparent huge pages (a region at a huge page boundary; a sub-range
 *    starting and ending inside huge pages): nsegs about one per huge page
 *    without an IOMMU, one behind it; data across a huge page boundary;
 *  - hugetlb pages (MAP_HUGETLB), the same, when the guest has free ones;
 *  - a memfd mapped MAP_SHARED: what the device writes is in the file;
 *  - a MAP_PRIVATE file mapping registered read-only: the device reads the
 *    file's data;
 *  - PROT_READ anonymous memory: LOCAL_WRITE refused with EFAULT, read-only
 *    registers and the device reads it;
 *  - anonymous memory never touched, registered read-only, then written by
 *    the process: the device sees the process's data.
 * Each MR pins exactly the pages it spans and gives them back.
 */
#include "helpers.h"

#include <fcntl.h>
#include <sys/mman.h>

#define MOVE	2000	/* bytes moved at each place: two fit in device memory */

static struct t_dev d;
static uint8_t *scratch;
static struct fpgadma_mr *scratch_mr;
static bool iommu;

/* The device reads [p, p+len) of mr: it must get what p holds now. */
static void device_sees(const struct fpgadma_mr *mr, const uint8_t *p, size_t len,
			const char *what)
{
	t_device_sees(&d, scratch_mr, scratch, mr, p, len, what);
}

/* The device writes pattern seed into [p, p+len) of mr. */
static void device_writes(const struct fpgadma_mr *mr, uint8_t *p, size_t len, uint64_t seed,
			  const char *what)
{
	t_device_writes(&d, scratch_mr, scratch, mr, p, len, seed, what);
}

/* Register [p, p+len), check pins and nsegs, move data across `cross`. */
static void huge_region(const char *what, uint8_t *p, size_t len, uint8_t *cross,
			uint64_t hp, long long huge_pages)
{
	size_t npages = t_pages_spanned(p, len);
	long long small = (long long)npages - huge_pages * (long long)(hp / t_page_size());
	/* a huge page cut by the range's ends is still one run */
	uint64_t bound = (uint64_t)(huge_pages + 2 + T_MAX(small, 0));
	struct t_snap before;
	struct fpgadma_mr *mr;

	t_snap_take(&before);
	mr = t_reg(&d, p, len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_SNAP(&before, (long long)npages, 1, what);
	t_log("%s: %zu pages, %lld huge: nsegs %u", what, npages, huge_pages, mr->nsegs);
	if (iommu)
		CHECK_EQ(mr->nsegs, 1);
	else if (huge_pages > 0)
		CHECK_LE(mr->nsegs, T_MIN(bound, npages));
	t_fill(cross - MOVE / 2, MOVE, 41, 0);
	device_sees(mr, cross - MOVE / 2, MOVE, what);
	device_writes(mr, cross - MOVE / 2, MOVE, 42, what);
	device_sees(mr, p, MOVE, what);
	device_writes(mr, p + len - MOVE, MOVE, 43, what);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, what);
}

static void thp(void)
{
	uint64_t hp = 2 * T_MiB, len = 4 * hp;
	uint8_t *buf;
	long long huge_kb;

	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK)) {
		t_log("no transparent huge pages in this kernel: THP case not run");
		return;
	}
	buf = t_map_aligned(len, hp);
	CHECK_SYS(madvise(buf, len, MADV_HUGEPAGE));
	memset(buf, 1, len);
	huge_kb = t_anon_huge_kb(buf, len);
	huge_region("THP region", buf, len, buf + hp, hp, huge_kb * 1024 / (long long)hp);
	huge_region("THP sub-range", buf + t_page_size() - 1, len - 2 * t_page_size() + 3,
		    buf + 2 * hp, hp, huge_kb * 1024 / (long long)hp);
	if (!huge_kb)
		t_log("note: the kernel gave no huge pages for the THP region");
	t_unmap(buf, len);
}

static void hugetlb(void)
{
	long long hp_kb = t_meminfo_kb("Hugepagesize"), free_pages = t_meminfo_kb("HugePages_Free");
	uint64_t hp;
	size_t len;
	uint8_t *buf;

	if (hp_kb <= 0 || free_pages < 2) {
		t_log("fewer than 2 free hugetlb pages: hugetlb case not run");
		return;
	}
	hp = (uint64_t)hp_kb * 1024;
	len = 2 * hp;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		t_log("MAP_HUGETLB failed (%s): hugetlb case not run", t_errname(errno));
		return;
	}
	huge_region("MAP_HUGETLB", buf, len, buf + hp, hp, 2);
	huge_region("MAP_HUGETLB sub-range", buf + 1, len - 2, buf + hp, hp, 2);
	t_unmap(buf, len);
}

static void memfd_shared(void)
{
	size_t len = 3 * t_page_size();
	uint8_t *map, *file = malloc(MOVE);
	struct fpgadma_mr *mr;
	int fd = memfd_create("fpgadma-edu", MFD_CLOEXEC);

	CHECK_SYS(fd);
	CHECK(file != NULL);
	CHECK_SYS(ftruncate(fd, (off_t)len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	mr = t_reg(&d, map + 7, len - 14, FPGADMA_ACCESS_LOCAL_WRITE);
	device_writes(mr, map + t_page_size() - 999, MOVE, 51, "memfd MAP_SHARED");
	CHECK_EQ(pread(fd, file, MOVE, (off_t)t_page_size() - 999), MOVE);
	CHECK(!t_verify(file, MOVE, 51, 0, "the memfd's contents after the device wrote"));
	t_dereg(mr);
	t_unmap(map, len);
	close(fd);
	free(file);
	t_log("memfd MAP_SHARED: the device's writes are in the file");
}

static void private_file(void)
{
	char path[] = "/tmp/fpgadma-edu-XXXXXX";
	size_t len = 2 * t_page_size();
	uint8_t *content = malloc(len), *map;
	struct fpgadma_mr *mr;
	int fd = mkstemp(path);

	CHECK_SYS(fd);
	CHECK_SYS(unlink(path));
	CHECK(content != NULL);
	t_fill(content, len, 61, 0);
	CHECK_EQ(pwrite(fd, content, len, 0), (long long)len);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(map != MAP_FAILED);
	mr = t_reg(&d, map, len, 0);
	device_sees(mr, map + 1000, MOVE, "MAP_PRIVATE file mapping, read-only MR");
	CHECK(!t_verify(scratch, MOVE, 61, 1000, "the device's view of the file"));
	t_dereg(mr);
	t_unmap(map, len);
	close(fd);
	free(content);
	t_log("MAP_PRIVATE file mapping, read-only MR: the device reads the file's data");
}

static void prot_read(void)
{
	size_t len = 2 * t_page_size();
	uint8_t *map = t_map(len);
	struct fpgadma_mr *mr;
	struct t_snap before;

	t_fill(map, len, 71, 0);
	CHECK_SYS(mprotect(map, len, PROT_READ));
	t_snap_take(&before);
	CHECK_RET(fpgadma_reg_mr(d.pd, map, len, FPGADMA_ACCESS_LOCAL_WRITE, &mr), -EFAULT);
	CHECK_SNAP(&before, 0, 0, "PROT_READ with LOCAL_WRITE");
	mr = t_reg(&d, map, len, FPGADMA_ACCESS_REMOTE_READ);
	device_sees(mr, map + 3, MOVE, "PROT_READ anonymous memory");
	t_dereg(mr);
	t_unmap(map, len);
	t_log("PROT_READ anonymous memory: LOCAL_WRITE refused with EFAULT, read-only MR read "
	      "by the device");
}

static void untouched(void)
{
	size_t len = 2 * t_page_size();
	uint8_t *map = t_map(len);
	struct fpgadma_mr *mr = t_reg(&d, map, len, 0);

	device_sees(mr, map + 100, MOVE, "untouched memory");
	CHECK(!t_verify_byte(scratch, MOVE, 0, "untouched memory as the device sees it"));
	t_fill(map, len, 81, 0);
	device_sees(mr, map + 100, MOVE, "untouched memory written after registration");
	t_dereg(mr);
	t_unmap(map, len);
	t_log("untouched memory, read-only MR, written after registration: the device sees "
	      "the process's data");
}

int main(int argc, char **argv)
{
	struct t_xfer_log log;
	struct t_snap start;

	t_init(argc, argv, 55);
	t_open_edu(&d);
	t_xfer_log(&d, &log);
	iommu = log.iommu;
	t_log("edu device fpgadma%u, %s IOMMU", d.attr.dev_index, iommu ? "behind an" : "without");
	t_snap_take(&start);
	scratch = t_map(t_page_size());
	scratch_mr = t_reg(&d, scratch, t_page_size(), FPGADMA_ACCESS_LOCAL_WRITE);

	thp();
	hugetlb();
	memfd_shared();
	private_file();
	prot_read();
	untouched();

	t_dereg(scratch_mr);
	t_unmap(scratch, t_page_size());
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&d);
	t_pass();
}
