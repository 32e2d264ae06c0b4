// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * concurrency: several processes, each with several threads, register,
 * post, poll and deregister at once on one device.
 *  - NPROC processes; in each, NTHR threads share one context.  Every
 *    thread loops: register a buffer of random size and offset, write a
 *    pattern to its own slice of device memory and read it back (data
 *    checked), deregister.  A poller thread per process takes the
 *    completions for everyone and hands each to its owner by wr_id.
 *  - Every wr_id is unique; a completion seen twice, never seen, or with
 *    the wrong status or length fails the test.
 *  - At the end the device counters agree: wrs_completed grew by exactly
 *    the completions the processes saw, wr_errors not at all, and pins,
 *    live_mrs and pinned_pages are back.
 * Run on 2 and 4 vCPUs (configurations smp2 and smp4), and on the debug
 * kernel's smp2, where lockdep watches every lock order.
 */
#include "helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define NPROC		3
#define NTHR		3
#define DURATION_S	8
#define MAX_IDS		(1 << 16)

struct proc_state {
	struct t_dev d;
	_Atomic uint8_t seen[MAX_IDS];	/* completions per wr_id */
	_Atomic uint32_t status[MAX_IDS];
	_Atomic uint64_t completions;
	_Atomic uint64_t next_id;
	_Atomic bool stop;
	uint64_t slice;			/* device memory per thread */
	unsigned int proc;
};

static struct proc_state *ps;
static uint64_t *shared_counts;	/* completions per process, for the parent */

static void *poller(void *arg)
{
	struct fpgadma_context *ctx = arg;
	struct fpgadma_cqe c[64];

	while (!atomic_load(&ps->stop)) {
		int n = fpgadma_poll(ctx, c, 64);

		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			CHECK(c[i].wr_id < MAX_IDS);
			CHECK_EQ(atomic_fetch_add(&ps->seen[c[i].wr_id], 1), 0);
			atomic_store(&ps->status[c[i].wr_id], c[i].status + 1);
			atomic_fetch_add(&ps->completions, 1);
		}
		if (!n)
			fpgadma_wait(ctx, 5);
	}
	return NULL;
}

/* Wait for wr_id's completion (taken by a poller); returns its status. */
static uint32_t await(uint64_t id)
{
	uint64_t t0 = t_now_ms();
	uint32_t s;

	while (!(s = atomic_load(&ps->status[id]))) {
		if (t_now_ms() - t0 > (uint64_t)T_CQE_TIMEOUT_MS)
			t_fail("wr_id %llu never completed", (unsigned long long)id);
		sched_yield();
	}
	return s - 1;
}

static int post_retry(struct fpgadma_context *ctx, struct fpgadma_wr *wr)
{
	int r;

	while ((r = fpgadma_post(ctx, wr, 1)) == -EAGAIN)
		sched_yield();
	return r;
}

struct thr_arg {
	unsigned int idx;
	uint64_t ops, bytes;
};

static void *worker(void *p)
{
	struct thr_arg *a = p;
	struct t_rng rng;
	uint64_t dev_off = a->idx * ps->slice;
	uint64_t deadline = t_now_ms() + (uint64_t)DURATION_S * 1000 * t_time_scale();
	size_t max = T_MIN(ps->slice, 256 * 1024);
	uint8_t *buf = t_map(2 * max + 8192);

	t_rng_seed(&rng, 1000 * ps->proc + a->idx);
	while (t_now_ms() < deadline) {
		size_t len = 1 + t_rand_below(&rng, max), off = t_rand_below(&rng, 4096);
		struct fpgadma_mr *mr = t_reg(&ps->d, buf + off, 2 * len, FPGADMA_ACCESS_LOCAL_WRITE);
		struct fpgadma_sge sg = t_sge(mr, buf + off, (uint32_t)len);
		struct fpgadma_wr wr = { .opcode = FPGADMA_WR_WRITE_MEM, .dev_addr = dev_off,
					 .sg_list = (uintptr_t)&sg, .num_sge = 1 };
		uint64_t seed = t_rand(&rng);

		t_fill(buf + off, len, seed, 0);
		wr.wr_id = atomic_fetch_add(&ps->next_id, 1);
		CHECK(wr.wr_id < MAX_IDS);
		CHECK_OK(post_retry(ps->d.ctx, &wr));
		CHECK_EQ(await(wr.wr_id), FPGADMA_WC_SUCCESS);
		sg = t_sge(mr, buf + off + len, (uint32_t)len);
		wr.opcode = FPGADMA_WR_READ_MEM;
		wr.wr_id = atomic_fetch_add(&ps->next_id, 1);
		CHECK(wr.wr_id < MAX_IDS);
		CHECK_OK(post_retry(ps->d.ctx, &wr));
		CHECK_EQ(await(wr.wr_id), FPGADMA_WC_SUCCESS);
		CHECK_EQ(t_verify(buf + off + len, len, seed, 0, "read back"), 0);
		a->ops += 2;
		a->bytes += 2 * len;
		t_dereg(mr);
	}
	t_unmap(buf, 2 * max + 8192);
	return NULL;
}

static void child(unsigned int proc)
{
	pthread_t th[NTHR], pt;
	struct thr_arg args[NTHR];
	uint64_t ops = 0, bytes = 0;
	unsigned int i;

	ps = calloc(1, sizeof(*ps));
	CHECK(ps != NULL);
	ps->proc = proc;
	t_open(&ps->d);
	/* Each thread of each process owns a slice of device memory. */
	ps->slice = ps->d.attr.dev_mem_size / (NPROC * NTHR);
	ps->slice &= ~4095ULL;
	CHECK_GT(ps->slice, 0);
	CHECK_EQ(pthread_create(&pt, NULL, poller, ps->d.ctx), 0);
	for (i = 0; i < NTHR; i++) {
		args[i] = (struct thr_arg){ .idx = proc * NTHR + i };
		CHECK_EQ(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (i = 0; i < NTHR; i++) {
		CHECK_EQ(pthread_join(th[i], NULL), 0);
		ops += args[i].ops;
		bytes += args[i].bytes;
	}
	atomic_store(&ps->stop, true);
	CHECK_EQ(pthread_join(pt, NULL), 0);
	/* Every wr_id handed out completed exactly once. */
	for (i = 0; i < atomic_load(&ps->next_id); i++)
		CHECK_EQ(atomic_load(&ps->seen[i]), 1);
	CHECK_EQ(atomic_load(&ps->completions), atomic_load(&ps->next_id));
	shared_counts[proc] = atomic_load(&ps->completions);
	printf("process %u: %u threads, %llu WRs, %llu bytes checked, every completion once\n",
	       proc, NTHR, (unsigned long long)ops, (unsigned long long)bytes);
	fflush(stdout);
	t_close(&ps->d);
	_exit(0);
}

int main(int argc, char **argv)
{
	long long wrs0, errs0, wrs1, errs1, seen = 0;
	struct t_snap start;
	pid_t pid[NPROC];
	unsigned int i;
	int st;

	t_init(argc, argv, 300);
	{
		struct t_dev d;

		t_open(&d);	/* the skip table, the device */
		t_close(&d);
	}
	shared_counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(shared_counts != MAP_FAILED);
	t_snap_take(&start);
	wrs0 = t_dev_counter("wrs_completed");
	errs0 = t_dev_counter("wr_errors");
	for (i = 0; i < NPROC; i++) {
		pid[i] = fork();
		CHECK_SYS(pid[i]);
		if (pid[i] == 0)
			child(i);
	}
	for (i = 0; i < NPROC; i++) {
		st = t_wait_child(pid[i], 300000);
		CHECK_CHILD_OK(st);
		seen += (long long)shared_counts[i];
	}
	wrs1 = t_dev_counter("wrs_completed");
	errs1 = t_dev_counter("wr_errors");
	CHECK_EQ(errs1, errs0);
	/* Nothing else uses the device meanwhile: its count is the processes' sum. */
	CHECK_EQ(wrs1 - wrs0, seen);
	t_log("%d processes x %d threads on %ld CPUs: %lld completions seen once each, the "
	      "device counted %lld, no errors", NPROC, NTHR, sysconf(_SC_NPROCESSORS_ONLN), seen,
	      wrs1 - wrs0);
	CHECK_SETTLED(&start, 10000, "after the processes are gone");
	t_pass();
}
