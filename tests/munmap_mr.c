// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * munmap_mr: the process unmaps memory that is still registered.
 *
 * The MR keeps its pinned pages until it is deregistered: the pin count,
 * VmPin and pinned_pages stay, the device still reads the data the pages
 * held and still writes into them (CQEs succeed), and that data is in the
 * old pages, not in whatever the process maps at the same address later
 * (which reads zeros).  For a shared file mapping the old pages are the
 * file's, so what the device writes after the munmap is in the file.  A
 * partial munmap (a page in the middle) behaves the same.  Deregistration
 * then gives everything back.
 */
#include "helpers.h"

#include <sys/mman.h>

/* 1 MiB + 100 bytes, or what device memory holds */
static size_t mr_len = 1024 * 1024 + 100;

static struct t_dev d;
static uint8_t *aux;
static struct fpgadma_mr *aux_mr;

/* What the device reads from [p, p+len) of mr must be pattern seed. */
static void device_reads(const struct fpgadma_mr *mr, const uint8_t *p, size_t len,
			 uint64_t seed, const char *what)
{
	t_dev_write(&d, mr, p, len, 0);
	memset(aux, 0, len);
	t_dev_read(&d, aux_mr, aux, len, 0);
	CHECK_MSG(!t_verify(aux, len, seed, 0, what), "%s", what);
}

/* The device writes pattern seed into [p, p+len) of mr (successfully). */
static void device_writes(const struct fpgadma_mr *mr, uint8_t *p, size_t len, uint64_t seed)
{
	t_fill(aux, len, seed, 0);
	t_dev_write(&d, aux_mr, aux, len, 0);
	t_dev_read(&d, mr, p, len, 0);
}

static void anonymous(void)
{
	size_t map_len = mr_len + 2 * t_page_size(), npages;
	uint8_t *map = t_map(map_len), *p = map + 50, *again;
	struct fpgadma_mr *mr;
	struct t_snap before;

	t_fill(p, mr_len, 1, 0);
	t_snap_take(&before);
	mr = t_reg(&d, p, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	npages = t_pages_spanned(p, mr_len);
	t_unmap(map, map_len);
	CHECK_SNAP(&before, (long long)npages, 1, "after munmap, still registered");
	device_reads(mr, p, mr_len, 1, "the device reads the unmapped MR");
	device_writes(mr, p, mr_len, 2);
	again = mmap(map, map_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(again == map);
	CHECK(!t_verify_byte(p, mr_len, 0, "new mapping at the MR's address"));
	device_reads(mr, p, mr_len, 2, "the device reads back what it wrote into the old pages");
	CHECK(!t_verify_byte(p, mr_len, 0, "new mapping after the device's writes"));
	t_log("anonymous MR of %zu pages unmapped: still pinned (pins, VmPin, pinned_pages), "
	      "device reads the old data, its writes land in the old pages, a new mapping at the "
	      "address reads zeros", npages);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistration");
	t_unmap(again, map_len);
}

static void shared_file(void)
{
	size_t map_len = mr_len + t_page_size();
	int fd = memfd_create("fpgadma-munmap", MFD_CLOEXEC);
	uint8_t *map, *file = malloc(mr_len);
	struct fpgadma_mr *mr;
	struct t_snap before;

	CHECK_SYS(fd);
	CHECK(file != NULL);
	CHECK_SYS(ftruncate(fd, (off_t)map_len));
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	t_fill(map + 7, mr_len, 3, 0);
	t_snap_take(&before);
	mr = t_reg(&d, map + 7, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_unmap(map, map_len);
	CHECK_SNAP(&before, (long long)t_pages_spanned(map + 7, mr_len), 1, "shared file MR unmapped");
	device_reads(mr, map + 7, mr_len, 3, "the device reads the unmapped file MR");
	device_writes(mr, map + 7, mr_len, 4);
	CHECK_EQ(pread(fd, file, mr_len, 7), mr_len);
	CHECK(!t_verify(file, mr_len, 4, 0, "file contents after the device wrote the unmapped MR"));
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistration");
	close(fd);
	free(file);
	t_log("shared memfd MR unmapped: the device's writes are in the file");
}

static void partial(void)
{
	size_t page = t_page_size();
	uint8_t *map = t_map(3 * page);
	struct fpgadma_mr *mr;
	struct t_snap before;

	t_fill(map, 3 * page, 5, 0);
	t_snap_take(&before);
	mr = t_reg(&d, map, 3 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	t_unmap(map + page, page);
	CHECK_SNAP(&before, 3, 1, "middle page unmapped");
	device_reads(mr, map, 3 * page, 5, "the device reads all 3 pages, the middle one unmapped");
	device_writes(mr, map, 3 * page, 6);
	CHECK(!t_verify(map, page, 6, 0, "first page, still mapped"));
	CHECK(!t_verify(map + 2 * page, page, 6, 2 * page, "last page, still mapped"));
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistration");
	t_unmap(map, page);
	t_unmap(map + 2 * page, page);
	t_log("middle page of a 3-page MR unmapped: the device reads and writes all 3, the "
	      "mapped pages show its data");
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 55);
	t_open(&d);
	if (d.attr.dev_mem_size < 3 * t_page_size())
		t_skip("device memory of %llu bytes: this test needs 3 pages",
		       (unsigned long long)d.attr.dev_mem_size);
	mr_len = T_MIN(mr_len, d.attr.dev_mem_size);
	t_snap_take(&start);
	aux = t_map(mr_len);
	aux_mr = t_reg(&d, aux, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	anonymous();
	shared_file();
	partial();
	t_dereg(aux_mr);
	t_unmap(aux, mr_len);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&d);
	t_pass();
}
