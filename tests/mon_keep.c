// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mon_keep: changes that keep the pages a monitored MR pinned mapped at the
 * same addresses leave it valid:
 *  - mprotect(PROT_READ) over it and back to read-write;
 *  - fork(), the child exiting at once; fork(), the child writing its copy
 *    of the buffer;
 *  - reading and writing the buffer;
 *  - madvise MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM over it;
 *  - MADV_DONTNEED of the pages on either side of it (page-aligned, outside
 *    the pages the MR spans);
 *  - registering a buffer that was only read before (every page the shared
 *    zero page): pinning for writing breaks copy-on-write, which the
 *    monitor sees while it pins; the registration pins again and the MR
 *    comes out valid.  Both with LOCAL_WRITE and read-only.
 * For each: fpgadma_mr_valid() stays 1, fpgadma_mon_count() does not move,
 * no POLLPRI and no event (fpgadma_mon_read() returns 0), and the MR still
 * moves the pages the process sees: what the process wrote is what the
 * device reads through the MR, and what the device writes through it the
 * process reads.  Every count is back where it started after each case.
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d;
static size_t page, data_max;
static uint8_t *scratch;
static struct fpgadma_mr *scratch_mr;
static uint64_t seed = 100;

/* The MR is valid, nothing happened, and it moves the process's pages both ways. */
static void still_valid(const char *what, struct fpgadma_mr *mr, uint32_t count0)
{
	size_t len = T_MIN(mr->length, data_max);

	CHECK_MSG(fpgadma_mr_valid(mr) == 1, "%s: the MR went invalid", what);
	CHECK_MSG(fpgadma_mon_count(d.ctx) == count0, "%s: fpgadma_mon_count %u, expected %u",
		  what, fpgadma_mon_count(d.ctx), count0);
	t_mon_expect_quiet(d.ctx, what);
	if (mr->access & FPGADMA_ACCESS_LOCAL_WRITE)
		t_device_writes(&d, scratch_mr, scratch, mr, mr->addr, len, seed++, what);
	t_fill(mr->addr, len, seed++, 0);
	t_device_sees(&d, scratch_mr, scratch, mr, mr->addr, len, what);
	CHECK_MSG(fpgadma_mr_valid(mr) == 1, "%s: the MR went invalid moving data", what);
	t_log("%s: still valid, count %u, no event; the device reads%s the process's pages",
	      what, count0, mr->access & FPGADMA_ACCESS_LOCAL_WRITE ? " and writes" : "");
}

static void mprotect_case(void)
{
	uint8_t *p = t_map_nothp(4 * page);
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t count0;

	t_fill(p, 4 * page, 1, 0);
	t_snap_take(&before);
	mr = t_reg_mon(&d, p + 100, 3 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = fpgadma_mon_count(d.ctx);
	CHECK_SYS(mprotect(p, 4 * page, PROT_READ));
	CHECK(!t_verify(p, 4 * page, 1, 0, "read-only buffer"));
	CHECK_MSG(fpgadma_mr_valid(mr) == 1, "mprotect(PROT_READ): the MR went invalid");
	t_mon_expect_quiet(d.ctx, "mprotect(PROT_READ)");
	CHECK_SYS(mprotect(p, 4 * page, PROT_READ | PROT_WRITE));
	still_valid("mprotect(PROT_READ) and back to read-write", mr, count0);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "mprotect case");
	t_unmap(p, 4 * page);
}

static void fork_case(bool child_writes)
{
	const char *what = child_writes ? "fork, the child writing its copy"
					: "fork, the child exiting at once";
	size_t len = 3 * page + 200;
	uint8_t *p = t_map_nothp(5 * page), *b = p + page + 50;
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t count0;
	pid_t pid;

	t_fill(p, 5 * page, 2, 0);
	t_snap_take(&before);
	mr = t_reg_mon(&d, b, len, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = fpgadma_mon_count(d.ctx);
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		/* Only memory: the parent's context is not this process's. */
		if (child_writes) {
			memset(p, 0xC5, 5 * page);
			if (t_verify_byte(p, 5 * page, 0xC5, "the child's copy"))
				_exit(1);
		}
		_exit(0);
	}
	CHECK_CHILD_OK(t_wait_child(pid, 30000));
	CHECK(!t_verify(p, 5 * page, 2, 0, "the parent's buffer after the child"));
	still_valid(what, mr, count0);
	/* the pages around the MR, shared with the child until it exited */
	memset(p, 0x11, page);
	memset(p + 4 * page + 50 + 200, 0x22, page - 250);
	still_valid("writing the pages around it after the fork", mr, count0);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, what);
	t_unmap(p, 5 * page);
}

static void touch_case(void)
{
	uint8_t *p = t_map_nothp(3 * page);
	volatile uint8_t *v = p;
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t count0, sum = 0;
	size_t i;

	t_fill(p, 3 * page, 3, 0);
	t_snap_take(&before);
	mr = t_reg_mon(&d, p + 1, 3 * page - 2, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = fpgadma_mon_count(d.ctx);
	for (i = 0; i < 3 * page; i++)
		sum += v[i];
	for (i = 0; i < 3 * page; i += 64)
		v[i] = (uint8_t)(v[i] + 1);
	memset(p, 0x5A, 3 * page);
	(void)sum;
	still_valid("reading and writing the buffer", mr, count0);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "touch case");
	t_unmap(p, 3 * page);
}

static void madvise_case(void)
{
	static const struct {
		int advice;
		const char *name;
	} adv[] = {
		{ MADV_SEQUENTIAL, "MADV_SEQUENTIAL" },
		{ MADV_RANDOM, "MADV_RANDOM" },
		{ MADV_NORMAL, "MADV_NORMAL" },
	};
	uint8_t *p = t_map_nothp(4 * page);
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t count0;
	char what[64];
	size_t i;

	t_fill(p, 4 * page, 4, 0);
	t_snap_take(&before);
	mr = t_reg_mon(&d, p + page, 2 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = fpgadma_mon_count(d.ctx);
	for (i = 0; i < T_ARRAY_SIZE(adv); i++) {
		/* over the MR and beyond it, then over exactly its pages */
		CHECK_SYS(madvise(p, 4 * page, adv[i].advice));
		CHECK_SYS(madvise(p + page, 2 * page, adv[i].advice));
		snprintf(what, sizeof(what), "madvise(%s)", adv[i].name);
		still_valid(what, mr, count0);
	}
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "madvise case");
	t_unmap(p, 4 * page);
}

static void dontneed_beside(void)
{
	uint8_t *p = t_map_nothp(5 * page);
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t count0;

	t_fill(p, 5 * page, 5, 0);
	t_snap_take(&before);
	/* pages 1..3, starting and ending inside them */
	mr = t_reg_mon(&d, p + page + 100, 3 * page - 200, FPGADMA_ACCESS_LOCAL_WRITE);
	count0 = fpgadma_mon_count(d.ctx);
	CHECK_SYS(madvise(p, page, MADV_DONTNEED));
	CHECK_SYS(madvise(p + 4 * page, page, MADV_DONTNEED));
	CHECK(!t_verify_byte(p, page, 0, "the page before the MR after MADV_DONTNEED"));
	CHECK(!t_verify_byte(p + 4 * page, page, 0, "the page after the MR after MADV_DONTNEED"));
	CHECK(!t_verify(p + page, 3 * page, 5, page, "the MR's pages"));
	still_valid("MADV_DONTNEED of the pages on either side", mr, count0);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "MADV_DONTNEED beside");
	t_unmap(p, 5 * page);
}

/* Registering pages that map the shared zero page (the buffer was only read). */
static void zero_page_case(unsigned int access)
{
	const char *what = access ? "registering a buffer only read before (LOCAL_WRITE)"
				  : "registering a buffer only read before (read-only)";
	uint8_t *p = t_map_nothp(3 * page);
	volatile uint8_t *v = p;
	uint64_t phys[3];
	struct fpgadma_mr *mr;
	struct t_snap before;
	uint32_t count0;
	unsigned int sum = 0, i;

	for (i = 0; i < 3; i++) {
		sum += v[i * page];
		phys[i] = t_phys_addr(p + i * page);
	}
	CHECK_EQ(sum, 0);
	if (phys[0] && phys[1] && phys[2]) {
		CHECK_MSG(phys[0] == phys[1] && phys[1] == phys[2],
			  "the read pages are not all the zero page (0x%llx 0x%llx 0x%llx)",
			  (unsigned long long)phys[0], (unsigned long long)phys[1],
			  (unsigned long long)phys[2]);
		t_log("before: the 3 pages map one page frame (the zero page)");
	} else {
		t_log("before: page frames not visible (/proc/self/pagemap needs root)");
	}
	t_snap_take(&before);
	count0 = fpgadma_mon_count(d.ctx);
	mr = t_reg_mon(&d, p + 10, 3 * page - 20, access);
	if (phys[0]) {
		for (i = 0; i < 3; i++)
			phys[i] = t_phys_addr(p + i * page);
		CHECK_MSG(phys[0] != phys[1] && phys[1] != phys[2] && phys[0] != phys[2],
			  "after registering: pages 0x%llx 0x%llx 0x%llx, expected 3 own pages",
			  (unsigned long long)phys[0], (unsigned long long)phys[1],
			  (unsigned long long)phys[2]);
	}
	CHECK(!t_verify_byte(p, 3 * page, 0, "the buffer after registering"));
	still_valid(what, mr, count0);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, what);
	t_unmap(p, 3 * page);
}

int main(int argc, char **argv)
{
	struct t_snap start;
	long long inval0;

	t_init(argc, argv, 60);
	t_open(&d);
	t_need_monitor(&d);
	page = t_page_size();
	data_max = T_MIN(4 * page, d.attr.dev_mem_size);
	inval0 = t_dev_counter("mon_invalidations");
	scratch = t_map(data_max);
	scratch_mr = t_reg(&d, scratch, data_max, FPGADMA_ACCESS_LOCAL_WRITE);
	t_snap_take(&start);
	CHECK_EQ(fpgadma_mon_count(d.ctx), 0);

	mprotect_case();
	fork_case(false);
	fork_case(true);
	touch_case();
	madvise_case();
	dontneed_beside();
	zero_page_case(FPGADMA_ACCESS_LOCAL_WRITE);
	zero_page_case(0);

	CHECK_EQ(fpgadma_mon_count(d.ctx), 0);
	CHECK_EQ(t_dev_counter("mon_invalidations"), inval0);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_dereg(scratch_mr);
	t_unmap(scratch, data_max);
	t_close(&d);
	t_log("no invalidation in all (count 0, sysfs mon_invalidations unchanged)");
	t_pass();
}
