// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * close_waiter: closing while a thread sleeps waiting for completions.
 *
 * What is promised (as for any Linux file): a thread sleeping in poll() on
 * the device holds the open file, so a close() of its descriptor in another
 * thread neither wakes nor breaks it, and the context is not torn down under
 * it; the sleeper returns when a CQE arrives or its timeout passes, and the
 * context is released (MRs unpinned) when the last holder lets go.
 * fpgadma_close() itself must not race with fpgadma_wait() on the same
 * context (it frees the context, like close() frees a descriptor number),
 * so it is not called under a waiter here.
 *  1. A thread in fpgadma_wait(-1); another closes a dup of the fd: the
 *     waiter keeps sleeping, then wakes with 1 when a WR completes.
 *  2. A bare fd (no ring mapping, registration and posting by ioctl) with a
 *     thread in poll(timeout); the fd is closed: the MR stays registered
 *     while the poller is inside, the poller returns at its timeout, then
 *     the MR goes away and nothing stays pinned.
 *  3. A poller in poll(-1) on a bare fd; WRs are posted and the fd closed
 *     at once: the poller wakes when the work completes (its fd number is
 *     gone by then: POLLNVAL), then everything is released.
 *  4. A process exits while one thread sleeps in fpgadma_wait(-1) and work
 *     of another context is in flight: it exits, nothing leaks.
 */
#include "helpers.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static size_t buf_len;

struct sleeper {
	struct fpgadma_context *ctx;	/* fpgadma_wait on this, or */
	int fd;				/* poll() on this */
	int timeout_ms;
	atomic_int state;		/* 0 starting, 1 about to sleep, 2 returned */
	int ret;
	short revents;
	uint64_t slept_ms;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	uint64_t t0;

	atomic_store(&s->state, 1);
	t0 = t_now_ms();
	if (s->ctx) {
		s->ret = fpgadma_wait(s->ctx, s->timeout_ms);
	} else {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };

		s->ret = poll(&pfd, 1, s->timeout_ms);
		if (s->ret < 0)
			s->ret = -errno;
		s->revents = pfd.revents;
	}
	s->slept_ms = t_now_ms() - t0;
	atomic_store(&s->state, 2);
	return NULL;
}

static void start_sleeper(pthread_t *th, struct sleeper *s)
{
	CHECK_EQ(pthread_create(th, NULL, sleeper_main, s), 0);
	while (atomic_load(&s->state) == 0)
		t_sleep_ms(1);
	t_sleep_ms(100);	/* let it get into poll() */
}

/* Wait up to ms for the sleeper to return; true if it did. */
static bool sleeper_returned(struct sleeper *s, unsigned int ms)
{
	uint64_t deadline = t_now_ms() + ms;

	while (atomic_load(&s->state) != 2) {
		if (t_now_ms() > deadline)
			return false;
		t_sleep_ms(2);
	}
	return true;
}

static void dup_close(void)
{
	struct sleeper s = { .timeout_ms = -1 };
	struct fpgadma_mr *mr;
	struct fpgadma_cqe c;
	struct fpgadma_sge sg;
	struct t_dev d;
	uint8_t *buf = t_map(buf_len);
	pthread_t th;
	int fd2;

	t_open(&d);
	mr = t_reg(&d, buf, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
	fd2 = dup(fpgadma_get_fd(d.ctx));
	CHECK_SYS(fd2);
	s.ctx = d.ctx;
	start_sleeper(&th, &s);
	CHECK_SYS(close(fd2));
	CHECK(!sleeper_returned(&s, 300));
	sg = t_sge(mr, buf, (uint32_t)buf_len);
	CHECK_OK(fpgadma_post_read(d.ctx, 7, 0, &sg, 1));
	CHECK(sleeper_returned(&s, T_CQE_TIMEOUT_MS));
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(s.ret, 1);
	t_get_cqes(d.ctx, &c, 1);
	CHECK_CQE(&c, 7, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, buf_len);
	t_dereg(mr);
	t_close(&d);
	t_unmap(buf, buf_len);
	t_log("waiter in fpgadma_wait(-1), dup of the fd closed: still asleep 300 ms later, "
	      "woke with 1 when a WR completed");
}

static int raw_open(void)
{
	int fd = open("/dev/fpgadma0", O_RDWR | O_CLOEXEC);

	CHECK_SYS(fd);
	return fd;
}

static uint32_t raw_reg(int fd, void *buf, size_t len)
{
	struct fpgadma_reg_mr r = { .addr = (uintptr_t)buf, .length = len,
				    .access = FPGADMA_ACCESS_LOCAL_WRITE };

	CHECK_SYS(ioctl(fd, FPGADMA_IOC_REG_MR, &r));
	return r.lkey;
}

static void bare_fd_timeout(const struct t_snap *start)
{
	struct sleeper s = { .timeout_ms = 1500 };
	uint8_t *buf = t_map(buf_len);
	pthread_t th;
	uint64_t ms;

	s.fd = raw_open();
	raw_reg(s.fd, buf, buf_len);
	CHECK_EQ(t_dev_counter("live_mrs"), start->live_mrs + 1);
	start_sleeper(&th, &s);
	CHECK_SYS(close(s.fd));
	t_sleep_ms(200);
	/* The poller still holds the file: nothing is torn down under it. */
	CHECK_EQ(atomic_load(&s.state), 1);
	CHECK_EQ(t_dev_counter("live_mrs"), start->live_mrs + 1);
	CHECK(sleeper_returned(&s, 1500 + 10000));
	CHECK_EQ(pthread_join(th, NULL), 0);
	t_log("bare fd closed under a poll(1500 ms): MR kept while the poller slept; poll returned "
	      "%d (revents 0x%x) after %llu ms", s.ret, s.revents, (unsigned long long)s.slept_ms);
	CHECK_GE(s.ret, 0);
	CHECK_GE(s.slept_ms, 1400);
	ms = CHECK_SETTLED(start, 5000, "after the poller left");
	t_log("then the context was released: MR and pins gone %llu ms later", (unsigned long long)ms);
	t_unmap(buf, buf_len);
}

static void bare_fd_work(const struct t_snap *start)
{
	struct sleeper s = { .timeout_ms = -1 };
	uint8_t *buf = t_map(buf_len);
	struct fpgadma_sge sg[4];
	struct fpgadma_wr wr[4];
	struct fpgadma_post post = { .wrs = (uintptr_t)wr, .count = 4 };
	uint64_t dev = T_MIN(buf_len, 64 * T_MiB);
	uint32_t lkey;
	pthread_t th;
	unsigned int i;

	s.fd = raw_open();
	lkey = raw_reg(s.fd, buf, buf_len);
	for (i = 0; i < 4; i++) {
		sg[i] = (struct fpgadma_sge){ .addr = (uintptr_t)buf, .length = (uint32_t)dev,
					      .lkey = lkey };
		wr[i] = (struct fpgadma_wr){ .wr_id = i, .opcode = FPGADMA_WR_READ_MEM,
					     .sg_list = (uintptr_t)&sg[i], .num_sge = 1 };
	}
	start_sleeper(&th, &s);
	CHECK_SYS(ioctl(s.fd, FPGADMA_IOC_POST, &post));
	CHECK_SYS(close(s.fd));
	CHECK(sleeper_returned(&s, T_CQE_TIMEOUT_MS));
	CHECK_EQ(pthread_join(th, NULL), 0);
	/* Woken by the completion; its fd number is gone by then (POLLNVAL). */
	CHECK_EQ(s.ret, 1);
	CHECK(s.revents & (POLLIN | POLLNVAL));
	t_log("bare fd: 4 WRs posted under a sleeping poll(-1), fd closed at once: the poller "
	      "woke after %llu ms (revents 0x%x)", (unsigned long long)s.slept_ms, s.revents);
	CHECK_SETTLED(start, 5000, "after the poller of the busy context left");
	t_unmap(buf, buf_len);
}

static void exit_with_sleeper(const struct t_snap *start)
{
	pid_t pid = fork();

	CHECK_SYS(pid);
	if (pid == 0) {
		struct sleeper s = { .timeout_ms = -1 };
		struct t_dev a, b;
		struct fpgadma_mr *mr;
		struct fpgadma_sge sg;
		uint8_t *buf = t_map(buf_len);
		pthread_t th;
		unsigned int i;

		t_open(&a);
		t_open(&b);
		mr = t_reg(&a, buf, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
		t_reg(&b, buf, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
		sg = t_sge(mr, buf, (uint32_t)T_MIN(buf_len, a.attr.dev_mem_size));
		for (i = 0; i < 8; i++)
			CHECK_OK(fpgadma_post_read(a.ctx, i, 0, &sg, 1));
		s.ctx = b.ctx;
		start_sleeper(&th, &s);
		_exit(0);
	}
	CHECK_CHILD_OK(t_wait_child(pid, 30000));
	CHECK_SETTLED(start, 5000, "after the child with a sleeping thread exited");
	t_log("process exit with a thread in fpgadma_wait(-1) and 8 WRs in flight: "
	      "exited, nothing left pinned or registered");
}

int main(int argc, char **argv)
{
	struct t_snap start;
	struct t_dev d;

	t_init(argc, argv, 55);
	t_open(&d);
	buf_len = t_big_size(&d, 8 * T_MiB);
	buf_len = T_MIN(buf_len, d.attr.dev_mem_size);
	t_close(&d);
	t_snap_take(&start);

	dup_close();
	CHECK_SNAP(&start, 0, 0, "after the dup case");
	bare_fd_timeout(&start);
	bare_fd_work(&start);
	exit_with_sleeper(&start);
	t_pass();
}
