// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mon_exit: a process dies holding monitored MRs, and the monitor lets go.
 *
 * When a process exits, its address space goes first (exit_mmap: every
 * monitored range is told it is going away) and its files after, so the
 * module deregisters MRs whose mm is already gone and removes their
 * notifiers from it.  Three children each open the device, register 64
 * monitored MRs over their own memory (some over the same range, some
 * already invalid by a munmap), then:
 *  1. exit(0) without deregistering anything;
 *  2. are killed by SIGKILL while they wait;
 *  3. are killed by SIGKILL while another thread of theirs unmaps and
 *     registers monitored memory in a loop (invalidations racing the
 *     exit).
 * After each, every pin, live MR and pinned page the child had is given
 * back (the system-wide counts settle to what they were), and the device
 * still registers, monitors and invalidates for this process.  Kernel
 * warnings fail the run (the harness reads the kernel log).
 */
#include "helpers.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#define NMRS	64

static volatile int stop_racer;

/*
 * Registrations the racer leaves for the exit path (invalid, pages still
 * pinned): at most this many, 2 pages each.  An unbounded number filled
 * the 256 MiB guest (smallmem) in the 200 ms the racer runs, and the OOM
 * killer's report failed the kernel-log check; past the bound it
 * deregisters what it registers.
 */
#define RACER_LEFT	128

/* Unmap, map and register monitored, round and round, until killed. */
static void *racer(void *arg)
{
	struct t_dev *d = arg;
	size_t page = t_page_size();
	unsigned int left = 0;

	while (!stop_racer) {
		uint8_t *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct fpgadma_mr *mr;

		if (m == MAP_FAILED)
			continue;
		memset(m, 1, 4 * page);
		if (fpgadma_reg_mr_monitor(d->pd, m, 4 * page, FPGADMA_ACCESS_LOCAL_WRITE, &mr)) {
			munmap(m, 4 * page);
			continue;
		}
		munmap(m, 2 * page);	/* invalid now */
		if (left < RACER_LEFT) {
			left++;		/* never deregistered: the exit path's */
			continue;
		}
		fpgadma_dereg_mr(mr);
		munmap(m + 2 * page, 2 * page);
	}
	return NULL;
}

/* The child: register, then leave as @how says; never returns. */
static void child(int how, int ready_fd)
{
	size_t page = t_page_size(), len = 3 * page;
	struct fpgadma_mr *mr;
	struct t_dev d;
	pthread_t th;
	uint8_t *buf;
	int i;

	t_open(&d);
	buf = t_map_nothp(NMRS * len);
	for (i = 0; i < NMRS; i++) {
		/* every fourth over its neighbour's range too */
		uint8_t *at = buf + (size_t)(i % 4 == 3 ? i - 1 : i) * len;

		if (fpgadma_reg_mr_monitor(d.pd, at + 7, len - 14, FPGADMA_ACCESS_LOCAL_WRITE, &mr))
			_exit(2);
	}
	/* the first eight ranges go away: their MRs are invalid already */
	munmap(buf, 8 * len);
	if (fpgadma_mon_count(d.ctx) < 8)
		_exit(3);
	if (how == 3 && pthread_create(&th, NULL, racer, &d))
		_exit(4);
	if (write(ready_fd, "r", 1) != 1)
		_exit(5);
	if (how == 1)
		_exit(0);
	for (;;)
		pause();
}

static void one(int how, const char *what)
{
	struct t_snap before;
	int fds[2], status;
	uint64_t ms;
	char c;
	pid_t pid;

	t_snap_take(&before);
	CHECK_SYS(pipe(fds));
	pid = fork();
	CHECK_SYS(pid);
	if (!pid) {
		close(fds[0]);
		child(how, fds[1]);
	}
	close(fds[1]);
	CHECK_MSG(read(fds[0], &c, 1) == 1, "%s: the child did not get ready", what);
	close(fds[0]);
	if (how == 3)
		usleep(200 * 1000);	/* let the racer run */
	if (how != 1)
		CHECK_SYS(kill(pid, SIGKILL));
	status = t_wait_child(pid, 30000 * t_time_scale());
	if (how == 1)
		CHECK_CHILD_OK(status);
	else
		CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "%s: child status %#x", what, status);
	ms = CHECK_SETTLED(&before, 10000 * t_time_scale(), what);
	t_log("%s: %d monitored MRs (8 invalid, some over the same range) released, pins back "
	      "in %llu ms", what, NMRS, (unsigned long long)ms);
}

int main(int argc, char **argv)
{
	struct fpgadma_mr *mr;
	struct t_dev d;
	uint8_t *buf;
	size_t page;

	t_init(argc, argv, 120);
	t_open(&d);
	t_need_monitor(&d);
	page = t_page_size();

	one(1, "exit(0) with MRs registered");
	one(2, "SIGKILL while waiting");
	one(3, "SIGKILL while a thread unmaps and registers");

	/* The monitor still works for this process. */
	buf = t_map_nothp(4 * page);
	mr = t_reg_mon(&d, buf + 1, 2 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_EQ(fpgadma_mr_valid(mr), 1);
	t_unmap(buf, 4 * page);
	CHECK_EQ(fpgadma_mr_valid(mr), 0);
	t_dereg(mr);
	t_log("afterwards this process's monitored MR goes invalid on munmap as before");
	t_close(&d);
	t_pass();
}
