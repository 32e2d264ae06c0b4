// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * lifecycle_exit: a process that dies with MRs registered and work in
 * flight leaves nothing behind.
 *  1. A child registers MRs, posts many large READ_MEM/WRITE_MEM/READ_STREAM
 *     WRs and _exit()s without polling, deregistering or closing.
 *  2. A child posts in a loop (polling to make room) from two threads and
 *     is killed with SIGKILL.
 *  3. A child with two contexts, the second with MRs over the same pages,
 *     exits with work in flight on both.
 * Each time the parent waits for the child, then the system-wide pin count,
 * live_mrs and pinned_pages must come back to where they were, and the
 * device must still move data correctly for the parent.
 */
#include "helpers.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

static uint64_t mr_len;

/* Post until the ring is full: big reads, writes and stream reads. */
static unsigned int post_lots(struct t_dev *d, struct fpgadma_mr *mr, uint8_t *buf)
{
	uint64_t dev = d->attr.dev_mem_size, chunk = T_MIN(T_MIN(mr_len, dev), 4 * T_MiB);
	unsigned int posted = 0;
	struct fpgadma_sge sg[3];
	struct fpgadma_wr wrs[3];
	int r;

	sg[0] = t_sge(mr, buf, (uint32_t)chunk);
	sg[1] = t_sge(mr, buf, (uint32_t)chunk);
	sg[2] = t_sge(mr, buf, (uint32_t)T_MIN(chunk, 64 * d->attr.frame_size));
	wrs[0] = (struct fpgadma_wr){ .opcode = FPGADMA_WR_READ_MEM, .sg_list = (uintptr_t)&sg[0],
				      .num_sge = 1 };
	wrs[1] = (struct fpgadma_wr){ .opcode = FPGADMA_WR_WRITE_MEM, .sg_list = (uintptr_t)&sg[1],
				      .num_sge = 1 };
	wrs[2] = (struct fpgadma_wr){ .opcode = FPGADMA_WR_READ_STREAM,
				      .sg_list = (uintptr_t)&sg[2], .num_sge = 1 };
	for (;;) {
		wrs[0].wr_id = posted;
		r = fpgadma_post(d->ctx, wrs, T_MIN(3, d->attr.max_post));
		if (r == -EAGAIN)
			return posted;
		CHECK_OK(r);
		posted += T_MIN(3, d->attr.max_post);
		if (posted >= 48)
			return posted;	/* ~130 MiB to move: seconds under TCG */
	}
}

static void child_exit(void)
{
	struct fpgadma_mr *mr[3];
	struct t_dev d;
	uint8_t *buf = t_map(mr_len);
	unsigned int n;

	t_open(&d);
	mr[0] = t_reg(&d, buf, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	mr[1] = t_reg(&d, buf + 1, mr_len / 2, 0);
	mr[2] = t_reg(&d, buf + mr_len / 2, mr_len / 2, FPGADMA_ACCESS_ALL);
	n = post_lots(&d, mr[0], buf);
	printf("child: 3 MRs, %u WRs posted; _exit without cleanup\n", n);
	fflush(stdout);
	_exit(0);
}

static struct t_dev loop_dev;
static struct fpgadma_mr *loop_mr;
static uint8_t *loop_buf;

static atomic_int loop_inflight;

/* Keep about 16 large reads in flight, so the killed child has work to wait for. */
static void *loop_main(void *arg)
{
	struct fpgadma_cqe cqes[64];
	struct fpgadma_sge sg;
	uint64_t id = 0;
	int r;

	(void)arg;
	sg = t_sge(loop_mr, loop_buf,
		   (uint32_t)T_MIN(T_MIN(mr_len, loop_dev.attr.dev_mem_size), 4 * T_MiB));
	for (;;) {
		if (atomic_load(&loop_inflight) < 16) {
			r = fpgadma_post_read(loop_dev.ctx, id++, 0, &sg, 1);
			if (!r)
				atomic_fetch_add(&loop_inflight, 1);
		} else {
			r = fpgadma_wait(loop_dev.ctx, 10);
		}
		if (r == -EAGAIN || r >= 0) {
			r = fpgadma_poll(loop_dev.ctx, cqes, 64);
			if (r > 0)
				atomic_fetch_sub(&loop_inflight, r);
		}
		if (r < 0)
			_exit(3);
	}
	return NULL;
}

static void child_killed(int ready_fd)
{
	pthread_t th[2];

	loop_buf = t_map(mr_len);
	t_open(&loop_dev);
	loop_mr = t_reg(&loop_dev, loop_buf, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_EQ(pthread_create(&th[0], NULL, loop_main, NULL), 0);
	CHECK_EQ(pthread_create(&th[1], NULL, loop_main, NULL), 0);
	CHECK_EQ(write(ready_fd, "r", 1), 1);
	for (;;)
		pause();
}

static void child_two_contexts(void)
{
	struct t_dev a, b;
	struct fpgadma_mr *ma, *mb;
	uint8_t *buf = t_map(mr_len);

	t_open(&a);
	t_open(&b);
	ma = t_reg(&a, buf, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	mb = t_reg(&b, buf, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	post_lots(&a, ma, buf);
	post_lots(&b, mb, buf);
	exit(0);	/* exit(), not _exit(): atexit and stdio run, the contexts do not close */
}

static void device_works(struct t_dev *d)
{
	size_t len = T_MIN(mr_len, d->attr.dev_mem_size);
	uint8_t *a = t_map(len), *b = t_map(len);
	struct fpgadma_mr *ma, *mb;

	t_fill(a, len, 9, 0);
	ma = t_reg(d, a, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mb = t_reg(d, b, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_round_trip(d, ma, a, mb, b, len);
	t_dereg(ma);
	t_dereg(mb);
	t_unmap(a, len);
	t_unmap(b, len);
}

int main(int argc, char **argv)
{
	struct t_snap start;
	struct t_dev d;
	uint64_t ms, t0;
	int status, pipefd[2];
	pid_t pid;
	char c;

	t_init(argc, argv, 55);
	t_open(&d);
	mr_len = t_big_size(&d, 16 * T_MiB) / 2;
	mr_len &= ~(uint64_t)(t_page_size() - 1);
	t_snap_take(&start);
	t_log("start: live_mrs %lld, pinned_pages %lld", start.live_mrs, start.pinned_pages);

	/* 1. _exit with work in flight */
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0)
		child_exit();
	t0 = t_now_ms();
	status = t_wait_child(pid, 40000);
	CHECK_CHILD_OK(status);
	ms = CHECK_SETTLED(&start, 5000, "after the child's _exit");
	t_log("child _exit with 3 MRs and work in flight: reaped after %llu ms, counters back "
	      "%llu ms later", (unsigned long long)(t_now_ms() - t0 - ms), (unsigned long long)ms);
	device_works(&d);
	CHECK_SNAP(&start, 0, 0, "parent's round trip");

	/* 2. SIGKILL while posting from two threads */
	CHECK_SYS(pipe(pipefd));
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		close(pipefd[0]);
		child_killed(pipefd[1]);
	}
	close(pipefd[1]);
	CHECK_EQ(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	t_sleep_ms(300);
	CHECK_SYS(kill(pid, SIGKILL));
	status = t_wait_child(pid, 40000);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ms = CHECK_SETTLED(&start, 5000, "after SIGKILL");
	t_log("child killed while posting from 2 threads: counters back %llu ms after reaping",
	      (unsigned long long)ms);
	device_works(&d);

	/* 3. two contexts over the same pages */
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0)
		child_two_contexts();
	CHECK_CHILD_OK(t_wait_child(pid, 40000));
	ms = CHECK_SETTLED(&start, 5000, "after the two-context child");
	t_log("child with 2 contexts and MRs over the same pages exits with work in flight: "
	      "counters back %llu ms after reaping", (unsigned long long)ms);
	device_works(&d);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&d);
	t_pass();
}
