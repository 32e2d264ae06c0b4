// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_mappings: MRs over every kind of mapping a process has, with data
 * through each:
 *  - a memfd and a tmpfs file mapped MAP_SHARED: the device reads what the
 *    process wrote, and what the device writes is in the file (pread);
 *  - a MAP_PRIVATE file mapping: read-only MR (the device sees the file's
 *    data, and after registration what the process writes over it); a
 *    LOCAL_WRITE MR (the device's writes reach the process, not the file);
 *  - PROT_READ mappings: asking for LOCAL_WRITE or REMOTE_WRITE fails with
 *    EFAULT and pins nothing; without write rights the MR registers and the
 *    device reads the data;
 *  - anonymous memory never touched, registered read-only, then written by
 *    the process: the device must see the process's data (the pin broke the
 *    copy-on-write of the zero page up front; a plain read pin of the zero
 *    page would leave the device reading zeros).
 *
 * The MRs are LEN bytes on every engine; the data moved at each place is
 * all of it where device memory holds it (the soft device), else as much as
 * device memory holds, from the start of the MR's range: on edu 4095 bytes,
 * crossing a page boundary where the range starts inside a page; 14
 * round trips of one WR each way, 28 to 35 transfers of 100 ms there.
 */
#include "helpers.h"

#include <fcntl.h>
#include <sys/mman.h>

#define LEN	(256 * 1024 + 123)	/* spans pages; not a page multiple */

static struct t_dev d;
static uint8_t *scratch;
static struct fpgadma_mr *scratch_mr;
static size_t move;	/* bytes moved at each place: LEN, or device memory if smaller */

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

static void check_file(int fd, off_t off, size_t len, uint64_t seed, const char *what)
{
	uint8_t *tmp = malloc(len);

	CHECK(tmp != NULL);
	CHECK_EQ(pread(fd, tmp, len, off), (long long)len);
	CHECK_MSG(!t_verify(tmp, len, seed, 0, what), "%s", what);
	free(tmp);
}

/* A MAP_SHARED mapping of fd: process -> device, device -> process and file. */
static void shared_file(int fd, const char *what)
{
	size_t map_len = LEN + 2 * t_page_size();
	struct t_snap before;
	struct fpgadma_mr *mr;
	uint8_t *map, *p;

	CHECK_SYS(ftruncate(fd, (off_t)map_len));
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	p = map + 5;
	t_fill(p, LEN, 21, 0);
	t_snap_take(&before);
	mr = t_reg(&d, p, LEN, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_SNAP(&before, (long long)t_pages_spanned(p, LEN), 1, what);
	device_sees(mr, p, move, what);
	device_writes(mr, p, move, 22, what);
	check_file(fd, 5, move, 22, "file contents after the device wrote");
	t_log("%s MAP_SHARED: %zu pages, nsegs %u; the device reads the process's data, "
	      "its writes reach the file", what, t_pages_spanned(p, LEN), mr->nsegs);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, what);
	t_unmap(map, map_len);
}

static int tmp_file(void)
{
	char path[] = "/tmp/fpgadma-mappings-XXXXXX";
	int fd = mkstemp(path);

	CHECK_SYS(fd);
	CHECK_SYS(unlink(path));
	return fd;
}

static void private_file(void)
{
	size_t map_len = LEN + t_page_size();
	uint8_t *content = malloc(map_len), *map;
	struct t_snap before;
	struct fpgadma_mr *mr;
	int fd = tmp_file();

	CHECK(content != NULL);
	t_fill(content, map_len, 31, 0);
	CHECK_EQ(pwrite(fd, content, map_len, 0), (long long)map_len);

	/* Read-only MR: the file's data, then the process's writes over it. */
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(map != MAP_FAILED);
	t_snap_take(&before);
	mr = t_reg(&d, map, LEN, 0);
	CHECK_SNAP(&before, (long long)t_pages_spanned(map, LEN), 1, "private file, read-only MR");
	device_sees(mr, map, move, "private file mapping, read-only MR");
	CHECK(!t_verify(scratch, move, 31, 0, "device's view of the private file mapping"));
	t_fill(map, LEN, 32, 0);
	device_sees(mr, map, move, "private file mapping written after registration");
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "private file, read-only MR deregistered");
	check_file(fd, 0, LEN, 31, "file after private writes");
	t_unmap(map, map_len);

	/* LOCAL_WRITE MR: the device's data reaches the process, not the file. */
	map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(map != MAP_FAILED);
	mr = t_reg(&d, map + 3, LEN, FPGADMA_ACCESS_LOCAL_WRITE);
	device_writes(mr, map + 3, move, 33, "private file mapping, LOCAL_WRITE MR");
	device_sees(mr, map + 3, move, "private file mapping, LOCAL_WRITE MR");
	t_dereg(mr);
	check_file(fd, 0, LEN, 31, "file after the device wrote a private mapping");
	t_unmap(map, map_len);

	/* PROT_READ private file mapping: read-only MR works, write rights do not. */
	map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(map != MAP_FAILED);
	t_snap_take(&before);
	CHECK_RET(fpgadma_reg_mr(d.pd, map, LEN, FPGADMA_ACCESS_LOCAL_WRITE, &mr), -EFAULT);
	CHECK_SNAP(&before, 0, 0, "PROT_READ private file, LOCAL_WRITE refused");
	mr = t_reg(&d, map, LEN, FPGADMA_ACCESS_REMOTE_READ);
	device_sees(mr, map, move, "PROT_READ private file mapping");
	CHECK(!t_verify(scratch, move, 31, 0, "device's view of the PROT_READ private file mapping"));
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "PROT_READ private file MR deregistered");
	t_unmap(map, map_len);

	/*
	 * PROT_READ MAP_SHARED: 6.1 refuses a forced write pin of a shared
	 * read-only mapping, so even a read-only MR fails there.  Reported,
	 * not asserted: a kernel that pins read-only MRs without FOLL_WRITE
	 * would register it.
	 */
	map = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(map != MAP_FAILED);
	t_snap_take(&before);
	{
		int r = fpgadma_reg_mr(d.pd, map, LEN, 0, &mr);

		t_log("note: read-only MR of a PROT_READ MAP_SHARED file mapping: %s (not asserted)",
		      t_errname(r));
		if (!r)
			t_dereg(mr);
	}
	CHECK_SNAP(&before, 0, 0, "PROT_READ shared file mapping");
	t_unmap(map, map_len);

	close(fd);
	free(content);
	t_log("MAP_PRIVATE file: read-only MR sees the file and later process writes; "
	      "LOCAL_WRITE MR feeds the process, not the file; PROT_READ: EFAULT with write rights");
}

static void prot_read_anon(void)
{
	static const unsigned int denied[] = {
		FPGADMA_ACCESS_LOCAL_WRITE, FPGADMA_ACCESS_REMOTE_WRITE,
		FPGADMA_ACCESS_LOCAL_WRITE | FPGADMA_ACCESS_REMOTE_READ, FPGADMA_ACCESS_ALL,
	};
	static const unsigned int allowed[] = { 0, FPGADMA_ACCESS_REMOTE_READ };
	size_t map_len = LEN + t_page_size();
	uint8_t *map = t_map(map_len);
	struct t_snap before;
	struct fpgadma_mr *mr;
	unsigned int i;

	t_fill(map, map_len, 41, 0);
	CHECK_SYS(mprotect(map, map_len, PROT_READ));
	for (i = 0; i < T_ARRAY_SIZE(denied); i++) {
		t_snap_take(&before);
		CHECK_RET(fpgadma_reg_mr(d.pd, map + 1, LEN, denied[i], &mr), -EFAULT);
		CHECK(mr == NULL);
		CHECK_SNAP(&before, 0, 0, "PROT_READ with write rights refused");
	}
	for (i = 0; i < T_ARRAY_SIZE(allowed); i++) {
		t_snap_take(&before);
		mr = t_reg(&d, map + 1, LEN, allowed[i]);
		CHECK_SNAP(&before, (long long)t_pages_spanned(map + 1, LEN), 1, "PROT_READ read-only MR");
		device_sees(mr, map + 1, move, "PROT_READ anonymous mapping");
		CHECK(!t_verify(scratch, move, 41, 1, "device's view of PROT_READ memory"));
		t_dereg(mr);
		CHECK_SNAP(&before, 0, 0, "PROT_READ MR deregistered");
	}
	t_unmap(map, map_len);
	t_log("PROT_READ anonymous: LOCAL_WRITE/REMOTE_WRITE -> EFAULT, nothing pinned; "
	      "access 0 and REMOTE_READ register, device reads the data");
}

static void untouched_anon(void)
{
	size_t map_len = LEN + t_page_size();
	uint8_t *map = t_map(map_len);
	struct fpgadma_mr *mr;

	/* Never touched: registering read-only must not pin the zero page. */
	mr = t_reg(&d, map, LEN, 0);
	device_sees(mr, map, move, "untouched memory before the process wrote");
	CHECK(!t_verify_byte(scratch, move, 0, "untouched memory as the device sees it"));
	t_fill(map, LEN, 51, 0);
	device_sees(mr, map, move, "untouched memory, read-only MR, written by the process after registration");
	CHECK(!t_verify(scratch, move, 51, 0, "device's view of the process's writes"));
	t_dereg(mr);

	/* Same with REMOTE_READ and a start inside a page. */
	t_unmap(map, map_len);
	map = t_map(map_len);
	mr = t_reg(&d, map + 77, LEN, FPGADMA_ACCESS_REMOTE_READ);
	t_fill(map + 77, LEN, 52, 0);
	device_sees(mr, map + 77, move, "untouched memory at +77, written after registration");
	t_dereg(mr);
	t_unmap(map, map_len);
	t_log("untouched anonymous memory, read-only MR, written after registration: "
	      "the device sees the process's data");
}

int main(int argc, char **argv)
{
	struct t_snap start;
	uint64_t xfers0 = 0;
	bool xlog;
	int fd;

	t_init(argc, argv, 55);
	t_open(&d);
	move = (size_t)T_MIN((uint64_t)LEN, d.attr.dev_mem_size);
	xlog = t_has_xfer_log(&d);
	if (xlog)
		xfers0 = t_xfer_total(&d);
	t_log("MRs of %d bytes; %zu bytes of each moved through device memory (%llu bytes)%s",
	      LEN, move, (unsigned long long)d.attr.dev_mem_size,
	      move < LEN ? ", from the start of the MR's range" : "");
	t_snap_take(&start);
	scratch = t_map(move);
	scratch_mr = t_reg(&d, scratch, move, FPGADMA_ACCESS_LOCAL_WRITE);

	fd = memfd_create("fpgadma-test", MFD_CLOEXEC);
	CHECK_SYS(fd);
	shared_file(fd, "memfd");
	close(fd);

	fd = tmp_file();
	shared_file(fd, "tmpfs file");
	close(fd);

	private_file();
	prot_read_anon();
	untouched_anon();

	t_dereg(scratch_mr);
	t_unmap(scratch, move);
	CHECK_SNAP(&start, 0, 0, "at the end");
	if (xlog)
		t_log("%llu transfers of the %s engine in all",
		      (unsigned long long)(t_xfer_total(&d) - xfers0), t_engine_name(d.attr.engine));
	t_close(&d);
	t_pass();
}
