// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mon_data: an invalid monitored MR still moves its old pages, which the
 * kernel keeps pinned until deregistration.
 *
 * A memfd is mapped twice (MAP_SHARED mappings A and B of the same pages);
 * a monitored MR is registered over part of A, and A is unmapped: the MR is
 * invalid (one UNMAP event for that part) while B still maps its pages.
 * Then, through the MR at A's old addresses:
 *  - the device reads what the process writes through B;
 *  - what the device writes (data first written to device memory from
 *    another MR) appears in B and in the file, not in a new anonymous
 *    mapping the process made at A's old address.
 * Deregistration gives everything back.  Skips if memfd_create is missing.
 */
#include "helpers.h"

#include <sys/mman.h>

int main(int argc, char **argv)
{
	struct t_dev d;
	size_t page, map_len, len, off = 100;
	uint8_t *a, *b, *aux, *again, *file;
	struct fpgadma_mr *mr, *aux_mr;
	struct fpgadma_mon_event ev[4];
	struct t_snap before, start;
	uint32_t count0;
	int fd, n;

	t_init(argc, argv, 60);
	t_open(&d);
	t_need_monitor(&d);
	page = t_page_size();
	map_len = 4 * page;
	len = T_MIN(2 * page + 300, d.attr.dev_mem_size);
	fd = memfd_create("fpgadma-mon-data", MFD_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOSYS || errno == EINVAL)
			t_skip("memfd_create: %s (no memfd in this kernel)", t_errname(errno));
		t_fail("memfd_create: %s", t_errname(errno));
	}
	CHECK_SYS(ftruncate(fd, (off_t)map_len));
	a = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(a != MAP_FAILED && b != MAP_FAILED && a != b);
	aux = t_map(len);
	file = malloc(len);
	CHECK(file != NULL);
	aux_mr = t_reg(&d, aux, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_snap_take(&start);

	/* A and B are the same pages. */
	t_fill(b, map_len, 1, 0);
	CHECK(!t_verify(a, map_len, 1, 0, "mapping A after writing B"));

	t_snap_take(&before);
	mr = t_reg_mon(&d, a + off, len, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = fpgadma_mon_count(d.ctx);
	t_mon_expect_quiet(d.ctx, "after registering");
	t_unmap(a, map_len);
	CHECK_EQ(fpgadma_mr_valid(mr), 0);
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0 + 1);
	CHECK(t_mon_pollpri(d.ctx, 0));
	n = fpgadma_mon_read(d.ctx, ev, 4);
	CHECK_EQ(n, 1);
	CHECK_EQ(ev[0].kind, FPGADMA_MON_INVALID);
	CHECK_MSG(ev[0].cause == FPGADMA_MON_CAUSE_UNMAP, "cause %s",
		  t_mon_cause_name(ev[0].cause));
	CHECK_EQ(ev[0].lkey, mr->lkey);
	CHECK_EQ(ev[0].mon_slot, mr->mon_slot);
	CHECK_EQ(ev[0].mon_gen, mr->mon_gen);
	CHECK_EQ(ev[0].addr, (uintptr_t)(a + off));
	CHECK_EQ(ev[0].length, len);
	t_mon_expect_quiet(d.ctx, "after reading the event");
	CHECK_SNAP(&before, (long long)t_pages_spanned(a + off, len), 1,
		   "the invalid MR keeps its pages pinned");
	t_log("A unmapped: the MR over A+%zu (%zu bytes) is invalid (one UNMAP event for all of "
	      "it) and keeps its pages pinned", off, len);

	/* Something else at A's old address now; the MR is not about it. */
	again = mmap(a, map_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK_MSG(again == a, "mmap at A's old address: %s",
		  again == MAP_FAILED ? t_errname(errno) : "elsewhere");
	memset(again, 0x3C, map_len);

	/* The device reads the MR: it gets B's bytes (the old pages), not A's new ones. */
	t_fill(b + off, len, 2, 0);
	memset(aux, 0, len);
	t_dev_write(&d, mr, a + off, len, 0);
	t_dev_read(&d, aux_mr, aux, len, 0);
	CHECK_MSG(!t_verify(aux, len, 2, 0, "what the device read through the invalid MR"),
		  "the device did not read the old pages (B) through the invalid MR");
	t_log("the device reads through the invalid MR what the process wrote through B");

	/* The device writes the MR: the data lands in B and the file. */
	t_fill(aux, len, 3, 0);
	t_dev_write(&d, aux_mr, aux, len, 0);
	t_dev_read(&d, mr, a + off, len, 0);
	CHECK_MSG(!t_verify(b + off, len, 3, 0, "B after the device wrote through the invalid MR"),
		  "the device's writes through the invalid MR are not in B");
	CHECK_EQ(pread(fd, file, len, (off_t)off), (ssize_t)len);
	CHECK(!t_verify(file, len, 3, 0, "the file after the device wrote"));
	CHECK(!t_verify_byte(again, map_len, 0x3C, "the new mapping at A's old address"));
	/* and nowhere else in B */
	CHECK(!t_verify(b, off, 1, 0, "B before the MR's range"));
	CHECK(!t_verify(b + off + len, map_len - off - len, 1, off + len, "B after the MR's range"));
	t_log("the device writes through the invalid MR land in B and the file; the new mapping "
	      "at A's old address is untouched");

	CHECK_EQ(fpgadma_mr_valid(mr), 0);
	CHECK_EQ(fpgadma_mon_count(d.ctx), count0 + 1);
	t_mon_expect_quiet(d.ctx, "after moving data through the invalid MR");
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistering the invalid MR");
	CHECK_SNAP(&start, 0, 0, "after deregistering the invalid MR");
	t_unmap(again, map_len);
	t_unmap(b, map_len);
	t_dereg(aux_mr);
	t_unmap(aux, len);
	free(file);
	close(fd);
	t_close(&d);
	t_pass();
}
