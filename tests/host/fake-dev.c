// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libfpgadma against the fake device (fakedev.c): every call through a real
 * context, without the kernel module.
 *
 *  - query, PD and MR life cycle, -EBUSY, user-space argument checks (made
 *    without an ioctl) and the kernel's errno passed through;
 *  - posting: data through device memory and the stream, error statuses,
 *    malformed WRs, -EAGAIN on a full ring;
 *  - polling with rings whose indices wrap, the overflow flag, several
 *    threads polling one context;
 *  - fpgadma_wait(): timeouts, EINTR, a CQE arriving while asleep;
 *  - fpgadma_close() releasing MRs and PDs left behind;
 *  - a fork child: every call fails with -EACCES without touching the ring
 *    (which the child does not have) or the kernel; the parent carries on;
 *  - a module speaking another ABI version or a bad ring layout: -EPROTO;
 *  - paced streams: the checks made without an ioctl, defaults written
 *    back, frames through the fast path (slots, headers, payload, drops),
 *    their CQEs, -ENOSPC, -EAGAIN with the completion slot a stream keeps,
 *    stop (EINTR restarted) and stats, a stream its MR's deregistration
 *    stopped, fpgadma_close() stopping what is left, a fork child, and a
 *    device without them (-EOPNOTSUPP);
 *  - the device memory mapped and local message channels on a device
 *    without them: the arguments checked first (-EINVAL), then
 *    -EOPNOTSUPP, without an ioctl.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>
#include "fakedev.h"
#include "check.h"

static struct fakedev_config cfg;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Poll until n CQEs arrived (they are there already: the fake runs WRs
 * during POST). */
static int reap(struct fpgadma_context *ctx, struct fpgadma_cqe *out, int n)
{
	int got = 0, r;

	while (got < n) {
		r = fpgadma_poll(ctx, out + got, n - got);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static void test_lifecycle(uint32_t start_index)
{
	struct fpgadma_context *ctx;
	struct fpgadma_device_attr attr;
	struct fpgadma_pd *pd, *pd2;
	struct fpgadma_mr *mr, *ro;
	struct fpgadma_cqe cqe[80];
	struct fpgadma_sge sg[4];
	struct fpgadma_wr wrs[8];
	unsigned char *buf;
	unsigned long ioctls;
	size_t i;
	int ret, k;

	cfg.start_index = start_index;
	fakedev_configure(&cfg);

	CHECK_EQ(fpgadma_open(0, &ctx), 0);
	if (!ctx)
		return;
	CHECK(fpgadma_get_fd(ctx) >= 0);
	CHECK_EQ(fpgadma_query(ctx, NULL), -EINVAL);
	CHECK_EQ(fpgadma_query(ctx, &attr), 0);
	CHECK_EQ(attr.abi_version, FPGADMA_ABI_VERSION);
	CHECK_EQ(attr.engine, FPGADMA_ENGINE_SOFT);
	CHECK_EQ(attr.max_sge, cfg.max_sge);
	CHECK_EQ(attr.max_post, cfg.max_post);
	CHECK_EQ(attr.cq_entries, cfg.cq_entries);
	CHECK_EQ(attr.dev_mem_size, cfg.dev_mem_size);
	CHECK_EQ(attr.frame_size, cfg.frame_size);
	CHECK_EQ(attr.page_size, 4096);

	CHECK_EQ(fpgadma_alloc_pd(ctx, NULL), -EINVAL);
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd), 0);
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd2), 0);
	CHECK(pd->context == ctx);

	buf = malloc(1 << 20);
	CHECK(buf != NULL);
	if (!buf)
		return;

	/* refused in user space: no ioctl reaches the device */
	ioctls = fakedev_ioctls();
	CHECK_EQ(fpgadma_reg_mr(pd, buf, 4096, 0, NULL), -EINVAL);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, 0, 0, &mr), -EINVAL);
	CHECK(mr == NULL);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, 4096, 1u << 3, &mr), -EINVAL);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, 4096, 1u << 31, &mr), -EINVAL);
	CHECK_EQ(fpgadma_reg_mr(pd, (void *)(UINTPTR_MAX - 10), 100, 0, &mr), -EINVAL);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, cfg.max_mr_size + 1, 0, &mr), -EINVAL);
	CHECK_EQ(fpgadma_post(ctx, NULL, 1), -EINVAL);
	CHECK_EQ(fpgadma_post(ctx, wrs, 0), -EINVAL);
	CHECK_EQ(fpgadma_post(ctx, wrs, cfg.max_post + 1), -EINVAL);
	CHECK_EQ(fpgadma_post_read(ctx, 1, 0, NULL, 1), -EINVAL);
	CHECK_EQ(fpgadma_post_write(ctx, 1, 0, sg, cfg.max_sge + 1), -EINVAL);
	CHECK_EQ(fpgadma_poll(ctx, NULL, 1), -EINVAL);
	CHECK_EQ(fpgadma_poll(ctx, cqe, -1), -EINVAL);
	CHECK_EQ(fpgadma_poll(ctx, NULL, 0), 0);
	CHECK_EQ(fpgadma_wait(ctx, -2), -EINVAL);
	/*
	 * Atomics: the pieces an operation takes, flags, then the device's
	 * caps (the fake has no FPGADMA_CAP_ATOMIC).
	 */
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 1, 0, 0,
				     NULL, NULL, NULL), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_READ, FPGADMA_TYPE_UINT64, 1, 0, 0,
				     sg, NULL, &sg[1]), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_CSWAP, FPGADMA_TYPE_UINT64, 1, 0, 0,
				     sg, NULL, &sg[1]), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 1, 0, 0,
				     sg, &sg[1], NULL), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 1, 0,
				     FPGADMA_WR_F_FETCH, sg, NULL, NULL), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 0, 0,
				     FPGADMA_WR_F_REMOTE_OFFSET, sg, NULL, NULL), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 1, 0, 4,
				     sg, NULL, NULL), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 1, 0, 0,
				     sg, NULL, NULL), -EOPNOTSUPP);
	CHECK_EQ(fpgadma_post_atomic(ctx, 1, FPGADMA_ATOMIC_CSWAP, FPGADMA_TYPE_DOUBLE, 0, 0, 0,
				     sg, &sg[1], &sg[2]), -EOPNOTSUPP);
	CHECK_EQ(fpgadma_atomic_valid(ctx, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, NULL),
		 -EOPNOTSUPP);
	CHECK_EQ(fpgadma_atomic_valid(ctx, FPGADMA_ATOMIC_BOR, FPGADMA_TYPE_FLOAT, NULL), -EINVAL);
	CHECK_EQ(fpgadma_atomic_valid(ctx, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_LONG_DOUBLE, NULL),
		 -EINVAL);
	/*
	 * The device memory mapped and local message channels: the arguments,
	 * then the device's caps (the fake has neither FPGADMA_CAP_MEM_MAP nor
	 * FPGADMA_CAP_CHAN).
	 */
	{
		void *addr = NULL;

		CHECK(!(attr.caps & (FPGADMA_CAP_MEM_MAP | FPGADMA_CAP_CHAN)));
		CHECK_EQ(fpgadma_mem_map(ctx, NULL), -EINVAL);
		CHECK_EQ(fpgadma_chan_inbox(ctx, NULL), -EINVAL);
		CHECK_EQ(fpgadma_chan_map(ctx, 1, NULL), -EINVAL);
		CHECK_EQ(fpgadma_chan_map(ctx, 0, &addr), -EINVAL);
		CHECK_EQ(fpgadma_chan_map(ctx, FPGADMA_EP_ID_MAX + 1, &addr), -EINVAL);
		CHECK_EQ(fpgadma_mem_map(ctx, &addr), -EOPNOTSUPP);
		CHECK_EQ(fpgadma_chan_inbox(ctx, &addr), -EOPNOTSUPP);
		CHECK_EQ(fpgadma_chan_map(ctx, 1, &addr), -EOPNOTSUPP);
		CHECK(addr == NULL);
	}
	CHECK_EQ(fakedev_ioctls(), ioctls);

	/* the kernel's errno, passed through */
	CHECK_EQ(fpgadma_reg_mr(pd, (void *)16, 100, 0, &mr), -EFAULT);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, cfg.memlock + 1, 0, &mr), -ENOMEM);
	CHECK(mr == NULL);
	memset(wrs, 0, sizeof(wrs));
	wrs[0].opcode = 99;
	CHECK_EQ(fpgadma_post(ctx, wrs, 1), -EINVAL);
	CHECK_EQ(fakedev_ioctls(), ioctls + 3);

	/* an MR at an odd address; its PD cannot go while it lives */
	CHECK_EQ(fpgadma_reg_mr(pd, buf + 100, (1 << 20) - 200,
				FPGADMA_ACCESS_LOCAL_WRITE, &mr), 0);
	if (!mr)
		return;
	CHECK(mr->context == ctx && mr->pd == pd);
	CHECK(mr->addr == buf + 100 && mr->length == (1 << 20) - 200);
	CHECK_EQ(mr->access, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK(mr->lkey != 0 && mr->nsegs > 0);
	CHECK_EQ(fakedev_live_mrs(), 1);
	CHECK_EQ(fpgadma_dealloc_pd(pd), -EBUSY);
	CHECK_EQ(fpgadma_reg_mr(pd2, buf, 4096, 0, &ro), 0);	/* read-only */

	/* write a pattern to device memory in two WRs of two pieces, read it
	 * back in one WR of three */
	for (i = 0; i < 8192; i++)
		buf[100 + i] = (unsigned char)(i * 13 + 1);
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf + 100, 1001, mr->lkey };
	sg[1] = (struct fpgadma_sge){ (uintptr_t)buf + 1101, 3095, mr->lkey };
	sg[2] = (struct fpgadma_sge){ (uintptr_t)buf + 4196, 4096, mr->lkey };
	CHECK_EQ(fpgadma_post_write(ctx, 10, 0, &sg[0], 2), 0);
	CHECK_EQ(fpgadma_post_write(ctx, 11, 4096, &sg[2], 1), 0);
	CHECK_EQ(reap(ctx, cqe, 2), 2);
	CHECK(cqe[0].wr_id == 10 && cqe[0].status == FPGADMA_WC_SUCCESS &&
	      cqe[0].byte_len == 4096 && cqe[0].opcode == FPGADMA_WR_WRITE_MEM);
	CHECK(cqe[1].wr_id == 11 && cqe[1].status == FPGADMA_WC_SUCCESS);
	memset(buf + 200000, 0, 8192);
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf + 200000, 3, mr->lkey };
	sg[1] = (struct fpgadma_sge){ (uintptr_t)buf + 200003, 5000, mr->lkey };
	sg[2] = (struct fpgadma_sge){ (uintptr_t)buf + 205003, 3189, mr->lkey };
	CHECK_EQ(fpgadma_post_read(ctx, 12, 0, sg, 3), 0);
	CHECK_EQ(reap(ctx, cqe, 1), 1);
	CHECK(cqe[0].wr_id == 12 && cqe[0].status == FPGADMA_WC_SUCCESS &&
	      cqe[0].byte_len == 8192 && cqe[0].opcode == FPGADMA_WR_READ_MEM);
	CHECK(memcmp(buf + 100, buf + 200000, 8192) == 0);

	/* the stream: two frames into three pieces */
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf + 300000, 17, mr->lkey };
	sg[1] = (struct fpgadma_sge){ (uintptr_t)buf + 300017, 4000, mr->lkey };
	sg[2] = (struct fpgadma_sge){ (uintptr_t)buf + 304017, 2 * 4096 - 4017, mr->lkey };
	CHECK_EQ(fpgadma_post_stream_read(ctx, 13, sg, 3), 0);
	CHECK_EQ(reap(ctx, cqe, 1), 1);
	CHECK(cqe[0].status == FPGADMA_WC_SUCCESS && cqe[0].byte_len == 8192);
	{
		uint64_t w0, w1, w512;

		memcpy(&w0, buf + 300000, 8);
		memcpy(&w1, buf + 300008, 8);
		memcpy(&w512, buf + 300000 + 4096, 8);
		CHECK_EQ(w1, (long long)fpgadma_stream_word(w0, 1));
		CHECK_EQ(w512, w0 + 1);
	}

	/* well-formed WRs that fail: statuses, nothing moved */
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf, 64, mr->lkey + 1000 };
	CHECK_EQ(fpgadma_post_read(ctx, 20, 0, sg, 1), 0);
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf, 64, ro->lkey };
	CHECK_EQ(fpgadma_post_read(ctx, 21, 0, sg, 1), 0);
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf + 100, 64, mr->lkey };
	CHECK_EQ(fpgadma_post_write(ctx, 22, cfg.dev_mem_size - 10, sg, 1), 0);
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf, 64, mr->lkey };
	CHECK_EQ(fpgadma_post_write(ctx, 23, 0, sg, 1), 0);
	CHECK_EQ(reap(ctx, cqe, 4), 4);
	CHECK_EQ(cqe[0].status, FPGADMA_WC_LOC_PROT_ERR);
	CHECK_EQ(cqe[1].status, FPGADMA_WC_LOC_ACCESS_ERR);
	CHECK_EQ(cqe[2].status, FPGADMA_WC_REM_ACCESS_ERR);
	CHECK_EQ(cqe[3].status, FPGADMA_WC_LOC_LEN_ERR);
	for (k = 0; k < 4; k++)
		CHECK_EQ(cqe[k].byte_len, 0);

	/* fill the ring without polling: the next post gets -EAGAIN and
	 * posts nothing; after a poll there is room again */
	memset(wrs, 0, sizeof(wrs));
	sg[0] = (struct fpgadma_sge){ (uintptr_t)buf + 100, 8, mr->lkey };
	for (k = 0; k < (int)cfg.max_post; k++) {
		wrs[k].wr_id = 1000 + k;
		wrs[k].opcode = FPGADMA_WR_WRITE_MEM;
		wrs[k].sg_list = (uintptr_t)sg;
		wrs[k].num_sge = 1;
	}
	for (k = 0; k < (int)(cfg.cq_entries / cfg.max_post); k++)
		CHECK_EQ(fpgadma_post(ctx, wrs, cfg.max_post), 0);
	CHECK_EQ(fpgadma_post(ctx, wrs, 1), -EAGAIN);
	CHECK_EQ(fpgadma_wait(ctx, 0), 1);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 1), 1);
	CHECK_EQ(fpgadma_post(ctx, wrs, 2), -EAGAIN);
	CHECK_EQ(fpgadma_post(ctx, wrs, 1), 0);
	ret = reap(ctx, cqe, 80);
	CHECK_EQ(ret, (int)cfg.cq_entries);
	for (k = 0; k < ret; k++)
		CHECK(cqe[k].status == FPGADMA_WC_SUCCESS);
	CHECK_EQ(cqe[ret - 1].wr_id, 1000);

	/* overflow: reported once, then the CQEs still there */
	CHECK_EQ(fpgadma_post_write(ctx, 30, 0, sg, 1), 0);
	fakedev_set_overflow(fpgadma_get_fd(ctx));
	CHECK_EQ(fpgadma_wait(ctx, 0), 1);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 4), -EOVERFLOW);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 4), 1);
	CHECK_EQ(cqe[0].wr_id, 30);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 4), 0);

	CHECK_EQ(fpgadma_dereg_mr(ro), 0);
	CHECK_EQ(fpgadma_dealloc_pd(pd2), 0);
	CHECK_EQ(fpgadma_dereg_mr(mr), 0);
	CHECK_EQ(fakedev_live_mrs(), 0);
	CHECK_EQ(fpgadma_dealloc_pd(pd), 0);
	CHECK_EQ(fpgadma_close(ctx), 0);
	free(buf);
}

/* ---- fpgadma_wait ---- */

struct delayed {
	int fd;
	int delay_ms;
};

static void *produce_later(void *arg)
{
	struct delayed *d = arg;
	struct timespec ts = { 0, d->delay_ms * 1000000L };
	struct fpgadma_cqe c = { .wr_id = 77 };

	nanosleep(&ts, NULL);
	fakedev_produce(d->fd, &c);
	return NULL;
}

static void test_wait(void)
{
	struct fpgadma_context *ctx;
	struct fpgadma_cqe cqe;
	struct delayed d;
	pthread_t t;
	double t0, dt;

	cfg.start_index = 0xfffffff0u;
	fakedev_configure(&cfg);
	CHECK_EQ(fpgadma_open(0, &ctx), 0);
	if (!ctx)
		return;

	CHECK_EQ(fpgadma_wait(ctx, 0), 0);
	t0 = now_ms();
	CHECK_EQ(fpgadma_wait(ctx, 60), 0);
	dt = now_ms() - t0;
	CHECK(dt >= 55);

	/* signals during the sleep: the caller's timeout still holds, it is
	 * neither cut short nor restarted */
	fakedev_inject_eintr(3);
	t0 = now_ms();
	CHECK_EQ(fpgadma_wait(ctx, 100), 0);
	dt = now_ms() - t0;
	CHECK(dt >= 95);
	CHECK(dt < 1000);

	/* a CQE arriving while asleep, with signals too */
	d.fd = fpgadma_get_fd(ctx);
	d.delay_ms = 30;
	fakedev_inject_eintr(2);
	CHECK(pthread_create(&t, NULL, produce_later, &d) == 0);
	CHECK_EQ(fpgadma_wait(ctx, -1), 1);
	pthread_join(t, NULL);
	CHECK_EQ(fpgadma_poll(ctx, &cqe, 1), 1);
	CHECK_EQ(cqe.wr_id, 77);
	CHECK_EQ(fpgadma_wait(ctx, 0), 0);
	CHECK_EQ(fpgadma_close(ctx), 0);
}

/* ---- several threads polling one context ---- */

#define MT_CQES		20000
#define MT_THREADS	4

static struct fpgadma_context *mt_ctx;
static unsigned char mt_seen[MT_CQES];
static unsigned long mt_taken;
static int mt_bad;

static void *mt_poller(void *arg)
{
	struct fpgadma_cqe c[5];
	int n, i;

	(void)arg;
	while (__atomic_load_n(&mt_taken, __ATOMIC_RELAXED) < MT_CQES) {
		n = fpgadma_poll(mt_ctx, c, 5);
		if (n < 0) {
			__atomic_store_n(&mt_bad, 1, __ATOMIC_RELAXED);
			break;
		}
		for (i = 0; i < n; i++)
			if (c[i].wr_id >= MT_CQES || c[i].byte_len != c[i].wr_id * 3 ||
			    __atomic_exchange_n(&mt_seen[c[i].wr_id], 1, __ATOMIC_RELAXED))
				__atomic_store_n(&mt_bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&mt_taken, n, __ATOMIC_RELAXED);
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[MT_THREADS];
	uint64_t id = 0;
	int i, fd;

	cfg.start_index = 0xffffff00u;
	fakedev_configure(&cfg);
	CHECK_EQ(fpgadma_open(0, &mt_ctx), 0);
	if (!mt_ctx)
		return;
	fd = fpgadma_get_fd(mt_ctx);
	for (i = 0; i < MT_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, mt_poller, NULL) == 0);
	while (id < MT_CQES) {
		struct fpgadma_cqe c = { .wr_id = id, .byte_len = id * 3 };

		if (fakedev_produce(fd, &c) == 0)
			id++;
		else
			sched_yield();
	}
	for (i = 0; i < MT_THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(mt_bad, 0);
	CHECK_EQ(mt_taken, MT_CQES);
	for (i = 0; i < MT_CQES; i++)
		if (!mt_seen[i])
			break;
	CHECK_EQ(i, MT_CQES);
	CHECK_EQ(fpgadma_close(mt_ctx), 0);
}

/* ---- close with MRs and PDs left behind ---- */

static void test_close_releases(void)
{
	struct fpgadma_context *ctx;
	struct fpgadma_pd *pd[2];
	struct fpgadma_mr *mr[3];
	static char buf[3][8192];
	unsigned long ioctls;
	int i;

	cfg.start_index = 0;
	fakedev_configure(&cfg);
	CHECK_EQ(fpgadma_open(0, &ctx), 0);
	if (!ctx)
		return;
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd[0]), 0);
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd[1]), 0);
	for (i = 0; i < 3; i++)
		CHECK_EQ(fpgadma_reg_mr(pd[i % 2], buf[i] + i, 5000, FPGADMA_ACCESS_ALL,
					&mr[i]), 0);
	CHECK_EQ(fakedev_live_mrs(), 3);
	ioctls = fakedev_ioctls();
	CHECK_EQ(fpgadma_close(ctx), 0);
	CHECK_EQ(fakedev_ioctls(), ioctls + 3);	/* one DEREG_MR each */
	CHECK_EQ(fakedev_live_mrs(), 0);
}

/* ---- fork ---- */

static int child_checks(struct fpgadma_context *ctx, struct fpgadma_pd *pd,
			struct fpgadma_mr *mr)
{
	struct fpgadma_device_attr attr;
	struct fpgadma_cqe cqe;
	struct fpgadma_sge sg = { (uintptr_t)mr->addr, 8, mr->lkey };
	struct fpgadma_pd *pd2;
	struct fpgadma_mr *mr2;
	unsigned long ioctls = fakedev_ioctls();

	check_failures = 0;	/* the child's own verdict, not the parent's so far */
	/* any touch of the ring would fault: the fake made it DONTFORK */
	CHECK_EQ(fpgadma_poll(ctx, &cqe, 1), -EACCES);
	CHECK_EQ(fpgadma_wait(ctx, 0), -EACCES);
	CHECK_EQ(fpgadma_query(ctx, &attr), -EACCES);
	CHECK_EQ(fpgadma_post_write(ctx, 1, 0, &sg, 1), -EACCES);
	CHECK_EQ(fpgadma_reg_mr(pd, mr->addr, 8, 0, &mr2), -EACCES);
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd2), -EACCES);
	CHECK_EQ(fpgadma_dereg_mr(mr), -EACCES);
	CHECK_EQ(fpgadma_dealloc_pd(pd), -EACCES);
	CHECK(fpgadma_get_fd(ctx) >= 0);
	CHECK_EQ(fakedev_ioctls(), ioctls);
	CHECK_EQ(fpgadma_close(ctx), 0);
	CHECK_EQ(fakedev_ioctls(), ioctls);
	return check_failures ? 1 : 0;
}

static void test_fork(void)
{
	struct fpgadma_context *ctx;
	struct fpgadma_pd *pd;
	struct fpgadma_mr *mr;
	struct fpgadma_cqe cqe;
	struct fpgadma_sge sg;
	static char buf[4096];
	int status;
	pid_t pid;

	fakedev_configure(&cfg);
	CHECK_EQ(fpgadma_open(0, &ctx), 0);
	if (!ctx)
		return;
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd), 0);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, sizeof(buf), FPGADMA_ACCESS_LOCAL_WRITE, &mr), 0);
	if (!mr)
		return;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_checks(ctx, pd, mr));
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* the parent's context, MR and ring are untouched */
	CHECK_EQ(fakedev_live_mrs(), 1);
	sg = (struct fpgadma_sge){ (uintptr_t)buf, 64, mr->lkey };
	CHECK_EQ(fpgadma_post_write(ctx, 5, 0, &sg, 1), 0);
	CHECK_EQ(fpgadma_poll(ctx, &cqe, 1), 1);
	CHECK(cqe.wr_id == 5 && cqe.status == FPGADMA_WC_SUCCESS);
	CHECK_EQ(fpgadma_close(ctx), 0);
	CHECK_EQ(fakedev_live_mrs(), 0);
}

/* ---- a module this library cannot talk to ---- */

static void test_mismatch(void)
{
	struct fpgadma_context *ctx = (struct fpgadma_context *)1;
	struct fakedev_config bad = cfg;

	bad.abi_version = FPGADMA_ABI_VERSION + 1;
	fakedev_configure(&bad);
	CHECK_EQ(fpgadma_open(0, &ctx), -EPROTO);
	CHECK(ctx == NULL);

	bad = cfg;
	bad.bad_layout = 1;
	fakedev_configure(&bad);
	CHECK_EQ(fpgadma_open(0, &ctx), -EPROTO);

	bad = cfg;
	bad.cq_entries = 48;	/* not a power of two */
	fakedev_configure(&bad);
	CHECK_EQ(fpgadma_open(0, &ctx), -EPROTO);

	fakedev_configure(&cfg);
	CHECK_EQ(fpgadma_open_path("/dev/fpgadma-missing", &ctx), -ENOENT);
}

/* ---- paced streams ---- */

#define S_OFF	3	/* slot 0 at an odd offset of the MR */
#define S_SLOT	101	/* odd slot size */
#define S_FRAME	61	/* not a multiple of 8 */
#define S_SLOTS	5

/* Frame idx of stream s is whole: header and payload. */
static void check_frame(struct fpgadma_stream *s, const unsigned char *mem,
			uint64_t idx, uint64_t seq, uint64_t lost)
{
	const unsigned char *p = fpgadma_stream_slot(s, idx);
	struct fpgadma_frame_hdr h;
	uint32_t b;

	CHECK(p == mem + S_OFF + (idx % S_SLOTS) * S_SLOT);
	memcpy(&h, p, sizeof(h));
	CHECK_EQ(h.magic, FPGADMA_FRAME_MAGIC);
	CHECK_EQ(h.hdr_size, FPGADMA_FRAME_HDR_SIZE);
	CHECK_EQ(h.frame_size, S_FRAME);
	CHECK_EQ(h.stream_id, fpgadma_stream_id(s));
	CHECK_EQ(h.seq, seq);
	CHECK_EQ(h.lost_before, lost);
	for (b = FPGADMA_FRAME_HDR_SIZE; b < S_FRAME; b++)
		if (p[b] != (unsigned char)(fpgadma_stream_word(seq, b / 8) >> (8 * (b % 8)))) {
			CHECK(!"payload");
			break;
		}
}

static int stream_child(struct fpgadma_context *ctx, struct fpgadma_mr *mr,
			struct fpgadma_stream *s)
{
	struct fpgadma_stream_attr a = { .ring_length = 4096, .slot_size = 4096,
					 .nslots = 1 };
	struct fpgadma_stream_stats st;
	struct fpgadma_stream *s2 = (struct fpgadma_stream *)1;
	unsigned long ioctls = fakedev_ioctls();
	uint64_t first = 7;
	uint32_t end = 7;

	check_failures = 0;
	/* the stream area is not in the child (DONTFORK): nothing touches it */
	CHECK_EQ(fpgadma_stream_ready(s, &first), 0);
	CHECK_EQ(fpgadma_stream_state(s, &end), 0);
	CHECK_EQ(end, 0);
	fpgadma_stream_release(s, 1);
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s2), -EACCES);
	CHECK(s2 == NULL);
	CHECK_EQ(fpgadma_stream_stats(s, &st), -EACCES);
	CHECK_EQ(fpgadma_stream_stop(s, 0, &st), -EACCES);
	CHECK_EQ(fakedev_ioctls(), ioctls);
	CHECK_EQ(fpgadma_close(ctx), 0);
	CHECK_EQ(fakedev_ioctls(), ioctls);
	return check_failures ? 1 : 0;
}

static void test_streams(int stop_einval)
{
	struct fakedev_config sc = cfg;
	struct fpgadma_context *ctx;
	struct fpgadma_device_attr attr;
	struct fpgadma_pd *pd;
	struct fpgadma_mr *mr, *ro, *mr2;
	struct fpgadma_stream *s, *s2, *s3;
	struct fpgadma_stream_attr a, b;
	struct fpgadma_stream_stats st;
	struct fpgadma_cqe cqe[16];
	struct fpgadma_sge sg;
	unsigned char *buf;
	unsigned long ioctls;
	uint64_t first, i;
	uint32_t end;
	int fd, n, status;
	pid_t pid;

	sc.max_streams = 2;
	sc.cq_entries = 8;
	sc.stop_einval = stop_einval;
	fakedev_configure(&sc);
	CHECK_EQ(fpgadma_open(0, &ctx), 0);
	if (!ctx)
		return;
	fd = fpgadma_get_fd(ctx);
	CHECK_EQ(fpgadma_query(ctx, &attr), 0);
	CHECK(attr.caps & FPGADMA_CAP_STREAM);
	CHECK_EQ(attr.max_streams, 2);
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd), 0);
	buf = malloc(1 << 16);
	CHECK(buf != NULL);
	if (!buf)
		return;
	memset(buf, 0xa5, 1 << 16);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, 1 << 15, FPGADMA_ACCESS_LOCAL_WRITE, &mr), 0);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, 1 << 15, FPGADMA_ACCESS_REMOTE_READ, &ro), 0);
	CHECK_EQ(fpgadma_reg_mr(pd, buf + (1 << 15), 1 << 15, FPGADMA_ACCESS_LOCAL_WRITE, &mr2), 0);

	memset(&a, 0, sizeof(a));
	a.ring_offset = S_OFF;
	a.ring_length = S_SLOTS * S_SLOT + 7;
	a.slot_size = S_SLOT;
	a.nslots = S_SLOTS;
	a.frame_size = S_FRAME;
	a.byte_rate = S_FRAME * 1000;	/* 1000 frames/s */
	a.cqe_every = 2;
	a.user_data = 0xabc;

	/* refused in user space: no ioctl reaches the device */
	ioctls = fakedev_ioctls();
	s = (struct fpgadma_stream *)1;
	CHECK_EQ(fpgadma_stream_start(NULL, &a, &s), -EINVAL);
	CHECK(s == NULL);
	CHECK_EQ(fpgadma_stream_start(mr, NULL, &s), -EINVAL);
	CHECK_EQ(fpgadma_stream_start(mr, &a, NULL), -EINVAL);
	b = a; b.flags = 1;
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.nslots = 0;
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.slot_size = 0;
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.ring_length = S_SLOTS * S_SLOT - 1;
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.ring_offset = (1 << 15) - b.ring_length + 1;	/* one byte past the MR */
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.ring_offset = UINT64_MAX - 10;			/* wraps */
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.frame_size = FPGADMA_FRAME_HDR_SIZE - 1;
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.frame_size = S_SLOT + 1;
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	b = a; b.frame_period_ns = 1000000;			/* and a byte_rate */
	CHECK_EQ(fpgadma_stream_start(mr, &b, &s), -EINVAL);
	CHECK_EQ(fpgadma_stream_start(ro, &a, &s), -EACCES);	/* no LOCAL_WRITE */
	CHECK(s == NULL);
	CHECK_EQ(fakedev_ioctls(), ioctls);
	CHECK_EQ(fpgadma_stream_stop(NULL, 0, &st), -EINVAL);
	CHECK_EQ(fpgadma_stream_stats(NULL, &st), -EINVAL);
	CHECK_EQ(fpgadma_stream_id(NULL), 0);
	CHECK_EQ(fpgadma_stream_ready(NULL, &first), 0);
	CHECK(fpgadma_stream_slot(NULL, 0) == NULL);
	CHECK_EQ(fpgadma_stream_state(NULL, &end), 0);
	fpgadma_stream_release(NULL, 1);

	/* one stream: what the device chose is written back */
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s), 0);
	if (!s)
		return;
	CHECK_EQ(fakedev_live_streams(), 1);
	CHECK_EQ(fpgadma_stream_id(s), 1);
	CHECK_EQ(a.frame_size, S_FRAME);
	CHECK_EQ(a.fifo_frames, 8);
	CHECK_EQ(a.frame_period_ns, 1000000);
	/* now a has a period and a byte_rate: not again as it is */
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s3), -EINVAL);
	a.frame_period_ns = 0;
	CHECK_EQ(fpgadma_stream_stats(s, NULL), -EINVAL);
	CHECK_EQ(fpgadma_stream_ready(s, &first), 0);
	CHECK_EQ(first, 0);
	CHECK_EQ(fpgadma_stream_state(s, &end), FPGADMA_STREAM_RUNNING);
	CHECK_EQ(end, 0);

	/* three frames; a CQE after the second */
	CHECK_EQ(fakedev_stream_produce(fd, 1, 3, 0), 3);
	CHECK_EQ(fpgadma_stream_ready(s, &first), 3);
	CHECK_EQ(first, 0);
	for (i = 0; i < 3; i++)
		check_frame(s, buf, i, i, 0);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 16), 1);
	CHECK(cqe[0].wr_id == 0xabc);
	CHECK_EQ(cqe[0].status, FPGADMA_WC_SUCCESS);
	CHECK_EQ(cqe[0].opcode, FPGADMA_WR_STREAM_FRAMES);
	CHECK_EQ(cqe[0].byte_len, 2 * S_FRAME);
	CHECK_EQ(cqe[0].vendor_err, 2);
	CHECK_EQ(cqe[0].src_ep, 2);
	fpgadma_stream_release(s, 2);
	CHECK_EQ(fpgadma_stream_ready(s, &first), 1);
	CHECK_EQ(first, 2);
	fpgadma_stream_release(s, 5);	/* cut to the one there */
	CHECK_EQ(fpgadma_stream_ready(s, &first), 0);
	CHECK_EQ(first, 3);

	/* a full ring stops the device; then frames are dropped, and the
	 * next one delivered says how many */
	CHECK_EQ(fakedev_stream_produce(fd, 1, 10, 0), S_SLOTS);
	CHECK_EQ(fpgadma_stream_ready(s, &first), S_SLOTS);
	CHECK_EQ(fakedev_stream_produce(fd, 1, 4, 1), 0);
	for (i = first; i < first + S_SLOTS; i++)
		check_frame(s, buf, i, i, 0);
	fpgadma_stream_release(s, S_SLOTS);
	CHECK_EQ(fakedev_stream_produce(fd, 1, 1, 0), 1);
	CHECK_EQ(fpgadma_stream_ready(s, &first), 1);
	CHECK_EQ(first, 3 + S_SLOTS);
	check_frame(s, buf, first, first + 4, 4);
	fpgadma_stream_release(s, 1);
	/* the slots' tails past each frame, and the bytes around the ring,
	 * were never written */
	for (i = 0; i < S_OFF; i++)
		CHECK_EQ(buf[i], 0xa5);
	for (i = 0; i < S_SLOTS; i++)
		CHECK_EQ(buf[S_OFF + i * S_SLOT + S_FRAME], 0xa5);
	CHECK_EQ(buf[S_OFF + S_SLOTS * S_SLOT], 0xa5);

	CHECK_EQ(fpgadma_stream_stats(s, &st), 0);
	CHECK_EQ(st.frames, 13);
	CHECK_EQ(st.frames_delivered, 9);
	CHECK_EQ(st.bytes_delivered, 9 * S_FRAME);
	CHECK_EQ(st.drops, 4);
	CHECK_EQ(st.write_idx, 9);
	CHECK_EQ(st.read_idx, 9);
	CHECK_EQ(st.state, FPGADMA_STREAM_RUNNING);
	CHECK_EQ(st.end, 0);
	CHECK_EQ(st.frame_period_ns, 1000000);
	n = fpgadma_poll(ctx, cqe, 16);
	CHECK_EQ(n, 3);			/* frames 3-4, 5-6, 7-8 */

	/* a second stream, with the defaults; a third does not fit */
	memset(&b, 0, sizeof(b));
	b.ring_length = 1 << 15;
	b.slot_size = 4096;
	b.nslots = 8;
	b.user_data = 0xdef;
	CHECK_EQ(fpgadma_stream_start(mr2, &b, &s2), 0);
	CHECK_EQ(fpgadma_stream_id(s2), 2);
	CHECK_EQ(b.frame_size, 256);
	CHECK_EQ(b.fifo_frames, 8);
	CHECK_EQ(b.frame_period_ns, 1000000);
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s3), -ENOSPC);
	CHECK(s3 == NULL);

	/* two streams keep two completion slots: 6 WRs fit in 8 */
	sg = (struct fpgadma_sge){ (uintptr_t)buf, 8, mr->lkey };
	for (i = 0; i < 6; i++)
		CHECK_EQ(fpgadma_post_write(ctx, i, 0, &sg, 1), 0);
	CHECK_EQ(fpgadma_post_write(ctx, 6, 0, &sg, 1), -EAGAIN);

	/* stop, interrupted once (restarted), with the final counters and
	 * the END CQE in the slot the stream kept */
	fakedev_inject_stop_eintr();
	CHECK_EQ(fpgadma_stream_stop(s, 10, &st), 0);
	CHECK_EQ(fakedev_live_streams(), 1);
	CHECK_EQ(st.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(st.end, FPGADMA_STREAM_END_STOP);
	CHECK_EQ(st.frames_delivered, 9);
	CHECK_EQ(st.drops, 4);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 16), 7);
	CHECK_EQ(cqe[6].opcode, FPGADMA_WR_STREAM_END);
	CHECK_EQ(cqe[6].status, FPGADMA_WC_SUCCESS);
	CHECK_EQ(cqe[6].vendor_err, FPGADMA_STREAM_END_STOP);
	CHECK(cqe[6].wr_id == 0xabc);

	/* with the completion ring full a stream cannot start */
	for (i = 0; i < 7; i++)
		CHECK_EQ(fpgadma_post_write(ctx, i, 0, &sg, 1), 0);
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s3), -EAGAIN);
	CHECK_EQ(fpgadma_poll(ctx, cqe, 16), 7);
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s3), 0);
	CHECK_EQ(fpgadma_stream_id(s3), 1);	/* the freed id again */

	/* the deregistration of its MR stops a stream but frees neither it
	 * nor its id (or, with stop_einval, the kernel lets the id go) */
	CHECK_EQ(fakedev_stream_produce(fd, 2, 3, 0), 3);
	CHECK_EQ(fpgadma_dereg_mr(mr2), 0);
	CHECK_EQ(fpgadma_stream_state(s2, &end), FPGADMA_STREAM_STOPPED);
	CHECK_EQ(end, FPGADMA_STREAM_END_DEREG);
	CHECK_EQ(fpgadma_stream_ready(s2, &first), 3);	/* still readable */
	CHECK_EQ(fakedev_stream_produce(fd, 2, 1, 0), -1);
	n = fpgadma_poll(ctx, cqe, 16);
	CHECK_EQ(n, 4);
	if (n == 4) {
		CHECK_EQ(cqe[3].opcode, FPGADMA_WR_STREAM_END);
		CHECK_EQ(cqe[3].status, FPGADMA_WC_FLUSH_ERR);
		CHECK_EQ(cqe[3].vendor_err, FPGADMA_STREAM_END_DEREG);
		CHECK(cqe[3].wr_id == 0xdef);
	}
	CHECK_EQ(fpgadma_stream_stop(s2, 0, &st), 0);
	CHECK_EQ(st.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(st.end, FPGADMA_STREAM_END_DEREG);
	CHECK_EQ(st.write_idx, 3);
	CHECK_EQ(fakedev_live_streams(), 1);

	/* a fork child cannot use the streams */
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(stream_child(ctx, mr, s3));
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(fpgadma_stream_state(s3, NULL), FPGADMA_STREAM_RUNNING);

	/* close stops the stream left behind: one STOP, then the MRs */
	ioctls = fakedev_ioctls();
	CHECK_EQ(fpgadma_close(ctx), 0);
	CHECK_EQ(fakedev_ioctls(), ioctls + 1 + 2);
	CHECK_EQ(fakedev_live_streams(), 0);
	CHECK_EQ(fakedev_live_mrs(), 0);
	free(buf);
}

/* A device without paced streams: -EOPNOTSUPP, without an ioctl. */
static void test_no_streams(void)
{
	struct fpgadma_context *ctx;
	struct fpgadma_device_attr attr;
	struct fpgadma_pd *pd;
	struct fpgadma_mr *mr;
	struct fpgadma_stream *s = (struct fpgadma_stream *)1;
	struct fpgadma_stream_attr a = { .ring_length = 4096, .slot_size = 4096,
					 .nslots = 1 };
	static char buf[4096];
	unsigned long ioctls;

	fakedev_configure(&cfg);
	CHECK_EQ(fpgadma_open(0, &ctx), 0);
	if (!ctx)
		return;
	CHECK_EQ(fpgadma_query(ctx, &attr), 0);
	CHECK(!(attr.caps & FPGADMA_CAP_STREAM));
	CHECK_EQ(attr.max_streams, 0);
	CHECK_EQ(fpgadma_alloc_pd(ctx, &pd), 0);
	CHECK_EQ(fpgadma_reg_mr(pd, buf, sizeof(buf), FPGADMA_ACCESS_LOCAL_WRITE, &mr), 0);
	ioctls = fakedev_ioctls();
	CHECK_EQ(fpgadma_stream_start(mr, &a, &s), -EOPNOTSUPP);
	CHECK(s == NULL);
	CHECK_EQ(fakedev_ioctls(), ioctls);
	CHECK_EQ(fpgadma_close(ctx), 0);
}

int main(void)
{
	fakedev_config_default(&cfg);
	test_lifecycle(0);
	test_lifecycle(0xfffffffau);	/* the ring's indices wrap midway */
	test_wait();
	test_threads();
	test_close_releases();
	test_fork();
	test_mismatch();
	test_streams(0);
	test_streams(1);	/* STOP after a DEREG: EINVAL from the kernel */
	test_no_streams();
	return test_exit("fake-dev");
}
