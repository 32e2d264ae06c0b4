// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlock: pinned pages are charged to RLIMIT_MEMLOCK.
 *
 * An unprivileged child (RLIMIT_MEMLOCK 1 MiB, then uid/gid 65534, so no
 * CAP_IPC_LOCK) registers MRs up to exactly the limit, counted in pages
 * touched (a 2-byte MR across a page boundary costs two); the next page
 * fails with ENOMEM and leaves nothing pinned; VmPin is exact throughout,
 * drops on deregistration so the room can be used again, and is 0 after
 * deregistration and after close with MRs still registered.  The parent
 * checks that the system-wide pin count came back (the child cannot read it
 * exactly).  A root child with the same limit registers beyond it: the limit
 * does not apply with CAP_IPC_LOCK, but the pages are still in VmPin.
 */
#include "helpers.h"

#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define LIMIT	(1024 * 1024)

static long long vmpin_pages(void)
{
	return t_vmpin_kb(0) * 1024 / (long long)t_page_size();
}

static void set_memlock(rlim_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	CHECK_SYS(setrlimit(RLIMIT_MEMLOCK, &rl));
}

/* CapEff from /proc/self/status. */
static unsigned long long cap_eff(void)
{
	char line[256];
	unsigned long long caps = ~0ULL;
	FILE *f = fopen("/proc/self/status", "re");

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			caps = strtoull(line + 7, NULL, 16);
	fclose(f);
	return caps;
}

static void unprivileged_child(void)
{
	size_t page = t_page_size(), limit_pages = LIMIT / page;
	struct fpgadma_mr *mr[8], *extra;
	struct t_dev d;
	struct t_snap before;
	uint8_t *buf;

	set_memlock(LIMIT);
	CHECK_SYS(setgroups(0, NULL));
	CHECK_SYS(setgid(65534));
	CHECK_SYS(setuid(65534));
	CHECK_EQ(cap_eff() & (1ULL << 14 /* CAP_IPC_LOCK */), 0);
	CHECK(limit_pages >= 8);

	buf = t_map(2 * LIMIT);
	t_open(&d);
	CHECK_EQ(vmpin_pages(), 0);
	t_snap_take(&before);

	/* limit/4 + 2 (a 2-byte MR across a page boundary) + limit/2 - 2 pages */
	mr[0] = t_reg(&d, buf, limit_pages / 4 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	mr[1] = t_reg(&d, buf + LIMIT + page - 1, 2, FPGADMA_ACCESS_LOCAL_WRITE);
	mr[2] = t_reg(&d, buf + 3, (limit_pages / 2 - 2) * page - 6, 0);
	CHECK_EQ(vmpin_pages(), (long long)(limit_pages / 4 + limit_pages / 2));
	CHECK_SNAP(&before, (long long)(limit_pages / 4 + limit_pages / 2), 3, "three MRs");

	/* One page more than what is left: refused, nothing charged or pinned. */
	{
		size_t left = limit_pages - limit_pages / 4 - limit_pages / 2;
		struct t_snap mid;

		t_snap_take(&mid);
		CHECK_RET(fpgadma_reg_mr(d.pd, buf, (left + 1) * page, 0, &extra), -ENOMEM);
		CHECK(extra == NULL);
		CHECK_SNAP(&mid, 0, 0, "over the limit by one page");
		/* Exactly what is left: accepted, the limit is reached. */
		mr[3] = t_reg(&d, buf + page, left * page, FPGADMA_ACCESS_LOCAL_WRITE);
		CHECK_EQ(vmpin_pages(), (long long)limit_pages);
		t_snap_take(&mid);
		CHECK_RET(fpgadma_reg_mr(d.pd, buf, 1, 0, &extra), -ENOMEM);
		CHECK_RET(fpgadma_reg_mr(d.pd, buf + 5, 1, FPGADMA_ACCESS_LOCAL_WRITE, &extra), -ENOMEM);
		CHECK_SNAP(&mid, 0, 0, "at the limit, one more byte");
		t_log("unprivileged, RLIMIT_MEMLOCK %d kB: registered exactly %zu pages, "
		      "the next page: ENOMEM, nothing pinned", LIMIT / 1024, limit_pages);
	}

	/* Deregistering gives room back, page for page. */
	t_dereg(mr[1]);
	CHECK_EQ(vmpin_pages(), (long long)limit_pages - 2);
	mr[1] = t_reg(&d, buf + 2 * page - 1, 2, 0);
	CHECK_EQ(vmpin_pages(), (long long)limit_pages);
	CHECK_RET(fpgadma_reg_mr(d.pd, buf, 1, 0, &extra), -ENOMEM);
	t_dereg(mr[0]);
	t_dereg(mr[1]);
	t_dereg(mr[2]);
	t_dereg(mr[3]);
	CHECK_EQ(vmpin_pages(), 0);
	CHECK_SNAP(&before, 0, 0, "all deregistered");
	t_log("deregistration gives the room back; VmPin 0 after deregistering all");

	/* Close with MRs registered: uncharged too. */
	mr[0] = t_reg(&d, buf, LIMIT / 2, FPGADMA_ACCESS_LOCAL_WRITE);
	mr[1] = t_reg(&d, buf + LIMIT / 2, LIMIT / 2, 0);
	CHECK_EQ(vmpin_pages(), (long long)limit_pages);
	CHECK_OK(fpgadma_close(d.ctx));
	CHECK_EQ(vmpin_pages(), 0);
	CHECK_EQ(t_dev_counter("live_mrs"), before.live_mrs);
	CHECK_EQ(t_dev_counter("pinned_pages"), before.pinned_pages);
	t_log("close with 2 MRs registered: VmPin 0, live_mrs and pinned_pages back");
	t_unmap(buf, 2 * LIMIT);
	exit(0);
}

static void root_child(void)
{
	size_t page = t_page_size(), len = 4 * LIMIT;
	struct fpgadma_mr *mr;
	struct t_dev d;
	uint8_t *buf;

	set_memlock(LIMIT);
	CHECK_NE(cap_eff() & (1ULL << 14), 0);
	buf = t_map(len);
	t_open(&d);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_EQ(vmpin_pages(), (long long)(len / page));
	t_log("root (CAP_IPC_LOCK), RLIMIT_MEMLOCK %d kB: registered %zu kB, VmPin %lld kB",
	      LIMIT / 1024, len / 1024, t_vmpin_kb(0));
	t_dereg(mr);
	CHECK_EQ(vmpin_pages(), 0);
	t_close(&d);
	exit(0);
}

int main(int argc, char **argv)
{
	struct t_snap start;
	struct t_dev d;
	pid_t pid;

	t_init(argc, argv, 55);
	if (geteuid() != 0)
		t_skip("needs root to drop to uid 65534 and to use CAP_IPC_LOCK");
	t_open(&d);	/* the device is there; counters name it */
	t_close(&d);
	t_snap_take(&start);

	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0)
		unprivileged_child();
	CHECK_CHILD_OK(t_wait_child(pid, 40000));
	CHECK_SNAP(&start, 0, 0, "after the unprivileged child");

	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0)
		root_child();
	CHECK_CHILD_OK(t_wait_child(pid, 40000));
	CHECK_SNAP(&start, 0, 0, "after the root child");
	t_pass();
}
