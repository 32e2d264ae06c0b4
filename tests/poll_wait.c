// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * poll_wait: waiting for completions.
 *  - fpgadma_wait with nothing pending times out after its timeout (0: at
 *    once), returns 1 at once while a CQE waits, and a thread sleeping in
 *    fpgadma_wait(-1) wakes when a WR posted later completes;
 *  - epoll on the fd: no event with nothing pending, EPOLLIN when a CQE is
 *    ready, none again once every CQE was taken (level-triggered);
 *  - two threads polling one context while a third posts 20000 WRs: every
 *    CQE is taken exactly once, each thread sees its CQEs in post order,
 *    and each fpgadma_poll call returns consecutive CQEs.
 */
#include "helpers.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#define NWR	20000

static struct t_dev d;
static uint8_t *buf;
static struct fpgadma_mr *mr;
static size_t buf_len;

static void post_big_read(uint64_t wr_id)
{
	size_t len = T_MIN(buf_len, d.attr.dev_mem_size);
	struct fpgadma_sge sg = t_sge(mr, buf, (uint32_t)len);

	CHECK_OK(fpgadma_post_read(d.ctx, wr_id, 0, &sg, 1));
}

static void timeouts(void)
{
	struct fpgadma_cqe c;
	uint64_t t0, dt;
	int r;

	t0 = t_now_ms();
	CHECK_RET(fpgadma_wait(d.ctx, 0), 0);
	CHECK_LT(t_now_ms() - t0, 1000);
	t0 = t_now_ms();
	CHECK_RET(fpgadma_wait(d.ctx, 300), 0);
	dt = t_now_ms() - t0;
	CHECK_GE(dt, 290);
	CHECK_LT(dt, 5000);
	t_log("nothing pending: wait(0) returned 0 at once, wait(300) returned 0 after %llu ms",
	      (unsigned long long)dt);

	post_big_read(1);
	r = fpgadma_wait(d.ctx, T_CQE_TIMEOUT_MS);
	CHECK_RET(r, 1);
	/* The CQE stays until polled: wait says so at once, every time. */
	t0 = t_now_ms();
	CHECK_RET(fpgadma_wait(d.ctx, 5000), 1);
	CHECK_RET(fpgadma_wait(d.ctx, -1), 1);
	CHECK_LT(t_now_ms() - t0, 1000);
	CHECK_EQ(fpgadma_poll(d.ctx, &c, 1), 1);
	CHECK_CQE(&c, 1, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, T_MIN(buf_len, d.attr.dev_mem_size));
	CHECK_RET(fpgadma_wait(d.ctx, 50), 0);
	t_log("a ready CQE: wait returns 1 at once until it is polled, then times out again");
}

struct waiter {
	atomic_int state;	/* 0 starting, 1 about to sleep, 2 returned */
	int ret;
	uint64_t woke_ms;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->state, 1);
	w->ret = fpgadma_wait(d.ctx, -1);
	w->woke_ms = t_now_ms();
	atomic_store(&w->state, 2);
	return NULL;
}

static void wakeup(void)
{
	struct waiter w = { .state = 0 };
	struct fpgadma_cqe c;
	pthread_t th;
	uint64_t posted;

	CHECK_EQ(pthread_create(&th, NULL, waiter_main, &w), 0);
	while (atomic_load(&w.state) == 0)
		t_sleep_ms(1);
	t_sleep_ms(300);
	CHECK_EQ(atomic_load(&w.state), 1);	/* asleep: nothing completed */
	posted = t_now_ms();
	post_big_read(2);
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(w.ret, 1);
	CHECK_GE(w.woke_ms, posted);
	t_get_cqes(d.ctx, &c, 1);
	CHECK_CQE(&c, 2, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, T_MIN(buf_len, d.attr.dev_mem_size));
	t_log("a thread in wait(-1) slept 300 ms, woke %llu ms after the post with 1",
	      (unsigned long long)(w.woke_ms - posted));
}

static void epoll_fd(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), n;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 }, out[2];
	struct pollfd pfd = { .fd = fpgadma_get_fd(d.ctx), .events = POLLIN };
	struct fpgadma_cqe c[2];

	CHECK_SYS(ep);
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, fpgadma_get_fd(d.ctx), &ev));
	CHECK_EQ(epoll_wait(ep, out, 2, 100), 0);
	CHECK_EQ(poll(&pfd, 1, 0), 0);
	post_big_read(3);
	post_big_read(4);
	n = epoll_wait(ep, out, 2, T_CQE_TIMEOUT_MS);
	CHECK_EQ(n, 1);
	CHECK(out[0].events & EPOLLIN);
	CHECK_EQ(out[0].data.u64, 42);
	t_get_cqes(d.ctx, c, 2);
	CHECK_CQE(&c[0], 3, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, T_MIN(buf_len, d.attr.dev_mem_size));
	CHECK_CQE(&c[1], 4, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, T_MIN(buf_len, d.attr.dev_mem_size));
	CHECK_EQ(epoll_wait(ep, out, 2, 100), 0);
	CHECK_EQ(poll(&pfd, 1, 0), 0);
	close(ep);
	t_log("epoll: no event while idle, EPOLLIN on completion, none after polling every CQE");
}

/* ---- two pollers, one poster ---- */

static atomic_uint taken;
static atomic_uchar seen[NWR];

struct poller {
	unsigned int id, calls, got, empty, waits;
	uint64_t rng;
};

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	struct fpgadma_cqe cqes[16];
	struct t_rng rng;
	uint64_t last = 0;
	bool any = false;

	t_rng_seed(&rng, p->rng);
	while (atomic_load(&taken) < NWR) {
		int max = 1 + (int)t_rand_below(&rng, 16), n, i;

		n = fpgadma_poll(d.ctx, cqes, max);
		p->calls++;
		if (n < 0)
			t_fail("poller %u: fpgadma_poll: %s", p->id, t_errname(n));
		if (n == 0) {
			p->empty++;
			if (t_rand_below(&rng, 4) == 0) {
				int r = fpgadma_wait(d.ctx, 20);

				if (r < 0)
					t_fail("poller %u: fpgadma_wait: %s", p->id, t_errname(r));
				p->waits++;
			}
			continue;
		}
		for (i = 0; i < n; i++) {
			uint64_t id = cqes[i].wr_id;

			if (id >= NWR || cqes[i].status != FPGADMA_WC_SUCCESS)
				t_fail("poller %u: CQE wr_id %llu status %u", p->id,
				       (unsigned long long)id, cqes[i].status);
			if (atomic_fetch_add(&seen[id], 1) != 0)
				t_fail("poller %u: CQE %llu seen twice", p->id, (unsigned long long)id);
			if (any && id <= last)
				t_fail("poller %u: CQE %llu after %llu", p->id, (unsigned long long)id,
				       (unsigned long long)last);
			if (i && id != cqes[i - 1].wr_id + 1)
				t_fail("poller %u: one poll returned %llu after %llu", p->id,
				       (unsigned long long)id, (unsigned long long)cqes[i - 1].wr_id);
			last = id;
			any = true;
		}
		p->got += (unsigned int)n;
		atomic_fetch_add(&taken, (unsigned int)n);
	}
	return NULL;
}

static void two_pollers(void)
{
	unsigned int batch = T_MIN(T_MIN(d.attr.max_post, d.attr.cq_entries), 64), posted = 0, i;
	unsigned int eagain = 0;
	struct fpgadma_wr *wrs = calloc(batch, sizeof(*wrs));
	struct fpgadma_sge sg = t_sge(mr, buf, 8);
	struct poller p[2] = { { .id = 0, .rng = 1 }, { .id = 1, .rng = 2 } };
	pthread_t th[2];
	uint64_t t0 = t_now_ms();

	CHECK(wrs != NULL);
	for (i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, poller_main, &p[i]), 0);
	while (posted < NWR) {
		unsigned int k = T_MIN(batch, NWR - posted);
		int r;

		for (i = 0; i < k; i++)
			wrs[i] = (struct fpgadma_wr){ .wr_id = posted + i, .opcode = FPGADMA_WR_READ_MEM,
				.dev_addr = (posted + i) % 4096, .sg_list = (uintptr_t)&sg,
				.num_sge = 1 };
		r = fpgadma_post(d.ctx, wrs, k);
		if (r == -EAGAIN) {
			eagain++;
			sched_yield();
			CHECK_LT(t_now_ms() - t0, 40000);
			continue;
		}
		CHECK_OK(r);
		posted += k;
	}
	for (i = 0; i < 2; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	CHECK_EQ(atomic_load(&taken), NWR);
	for (i = 0; i < NWR; i++)
		if (atomic_load(&seen[i]) != 1)
			t_fail("CQE %u seen %u times", i, atomic_load(&seen[i]));
	CHECK_EQ(p[0].got + p[1].got, NWR);
	t_expect_no_cqe(d.ctx, 100);
	t_log("2 pollers, %u WRs in batches of %u (%u EAGAIN retries): every CQE exactly once, "
	      "in order per thread; thread 0 took %u in %u calls (%u empty, %u waits), "
	      "thread 1 took %u in %u calls (%u empty, %u waits)", NWR, batch, eagain,
	      p[0].got, p[0].calls, p[0].empty, p[0].waits, p[1].got, p[1].calls, p[1].empty,
	      p[1].waits);
	free(wrs);
}

int main(int argc, char **argv)
{
	t_init(argc, argv, 55);
	t_open(&d);
	buf_len = t_big_size(&d, 8 * T_MiB);
	buf_len = T_MIN(buf_len, d.attr.dev_mem_size);
	buf = t_map(buf_len);
	mr = t_reg(&d, buf, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_GE(d.attr.dev_mem_size, 4096 + 8);

	timeouts();
	wakeup();
	epoll_fd();
	two_pollers();

	t_dereg(mr);
	t_unmap(buf, buf_len);
	t_close(&d);
	t_pass();
}
