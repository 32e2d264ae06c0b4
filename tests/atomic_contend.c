// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * atomic_contend: atomics from many processes and threads on the same
 * words stay atomic.
 *
 * The parent registers a page with every right and zeroes three UINT64
 * words in it and three in device memory: a sum, a counter and a ticket
 * dispenser.  NPROC child processes (fork) of NTHR threads each, every
 * thread with a context of its own, hammer all six at once, ITERS rounds
 * each, alternating the page by address and by offset
 * (FPGADMA_WR_F_REMOTE_OFFSET):
 *  - SUM of (its number + 1), not fetching: the final sums are exact;
 *  - a counter incremented with CSWAP loops (compare with the value it
 *    believes, swap in one more, fetch: it succeeded when the fetched value
 *    is what it compared with, else it retries with the fetched value):
 *    every increment lands exactly once, so the final count is exact, the
 *    values the successful swaps replaced are 0..N-1, each once, and each
 *    thread's are increasing (a linearizable counter);
 *  - SUM of 1, fetching (fetch-and-add): the tickets fetched are 0..N-1,
 *    each once, increasing in each thread.
 * Every CQE is SUCCESS with byte_len 8; the rest of the page keeps its
 * pattern.  Nothing stays pinned or registered.  The smp4 configuration
 * runs it on four CPUs.  On a device without FPGADMA_CAP_ATOMIC it skips.
 */
#include "helpers.h"

#include <pthread.h>
#include <sys/mman.h>

#define NPROC	3
#define NTHR	2
#define NWORK	(NPROC * NTHR)
#define ITERS	40
#define NTOTAL	(NWORK * ITERS)

/* The words: a sum, a counter, a ticket dispenser, in the page and in device memory. */
#define W_SUM	0
#define W_CAS	8
#define W_TIK	16
#define W_END	24
#define DEV_BASE 0

enum { T_HOST, T_MEM, NTGT };
static const char *const tgt_name[NTGT] = { "the page", "device memory" };

/* What the workers tell the parent, in memory shared across the fork. */
struct shared {
	uint64_t cas_old[NTGT][NWORK][ITERS];	/* the value each successful swap replaced */
	uint64_t ticket[NTGT][NWORK][ITERS];
	uint64_t cas_tries[NTGT][NWORK];
};

static struct shared *sh;
static uint32_t rkey;
static uint8_t *page_buf;	/* the parent's page: its virtual address is the remote address */

struct worker {
	unsigned int id;
	pthread_t th;
};

/* One atomic on one UINT64, waited for: it must succeed. */
static void one(struct t_dev *d, const struct fpgadma_mr *mr, uint8_t *buf, unsigned int tgt,
		bool by_off, uint64_t word, uint32_t op, uint64_t operand, uint64_t compare,
		bool fetch, uint64_t *old)
{
	struct fpgadma_sge so = t_sge(mr, buf, 8), sc = t_sge(mr, buf + 8, 8);
	struct fpgadma_sge sr = t_sge(mr, buf + 16, 8);
	uint64_t wr_id = d->next_wr_id++, raddr;
	uint32_t key = rkey, flags = 0;
	struct fpgadma_cqe c;

	memcpy(buf, &operand, 8);
	memcpy(buf + 8, &compare, 8);
	if (tgt == T_MEM) {
		key = 0;
		raddr = DEV_BASE + word;
	} else if (by_off) {
		raddr = word;
		flags = FPGADMA_WR_F_REMOTE_OFFSET;
	} else {
		raddr = (uintptr_t)page_buf + word;
	}
	CHECK_OK(fpgadma_post_atomic(d->ctx, wr_id, op, FPGADMA_TYPE_UINT64, key, raddr, flags,
				     &so, fpgadma_atomic_op_has_compare(op) ? &sc : NULL,
				     fetch ? &sr : NULL));
	t_get_cqes(d->ctx, &c, 1);
	CHECK_CQE(&c, wr_id, tgt == T_MEM ? FPGADMA_WR_ATOMIC_MEM : FPGADMA_WR_ATOMIC,
		  FPGADMA_WC_SUCCESS, 8);
	if (fetch)
		memcpy(old, buf + 16, 8);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t guess[NTGT] = { 0, 0 }, old;
	struct fpgadma_mr *mr;
	unsigned int i, tgt;
	struct t_dev d;
	uint8_t *buf;

	t_open_index(&d, t_test_dev());
	buf = t_map(4096);
	mr = t_reg(&d, buf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	for (i = 0; i < ITERS; i++) {
		for (tgt = 0; tgt < NTGT; tgt++) {
			bool by_off = (i + w->id) & 1;

			one(&d, mr, buf, tgt, by_off, W_SUM, FPGADMA_ATOMIC_SUM, w->id + 1, 0, false,
			    NULL);
			one(&d, mr, buf, tgt, by_off, W_TIK, FPGADMA_ATOMIC_SUM, 1, 0, true, &old);
			sh->ticket[tgt][w->id][i] = old;
			for (;;) {
				one(&d, mr, buf, tgt, by_off, W_CAS, FPGADMA_ATOMIC_CSWAP,
				    guess[tgt] + 1, guess[tgt], true, &old);
				sh->cas_tries[tgt][w->id]++;
				if (old == guess[tgt])
					break;
				guess[tgt] = old;
			}
			sh->cas_old[tgt][w->id][i] = old;
			guess[tgt] = old + 1;
		}
	}
	t_dereg(mr);
	t_unmap(buf, 4096);
	t_close(&d);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Values from every worker: 0..NTOTAL-1 each once, increasing within each worker. */
static void check_sequence(uint64_t v[NWORK][ITERS], const char *what, const char *where)
{
	static uint64_t all[NTOTAL];
	unsigned int i, j;

	for (i = 0; i < NWORK; i++)
		for (j = 1; j < ITERS; j++)
			if (v[i][j] <= v[i][j - 1])
				t_fail("%s in %s: worker %u got %llu after %llu", what, where, i,
				       (unsigned long long)v[i][j],
				       (unsigned long long)v[i][j - 1]);
	memcpy(all, v, sizeof(all));
	qsort(all, NTOTAL, sizeof(all[0]), cmp_u64);
	for (i = 0; i < NTOTAL; i++)
		if (all[i] != i)
			t_fail("%s in %s: the %u-th smallest is %llu (a value twice, or one missing)",
			       what, where, i, (unsigned long long)all[i]);
}

int main(int argc, char **argv)
{
	struct worker workers[NTHR];
	uint64_t sum_want = 0, tries, v[NTGT][3];
	pid_t pids[NPROC];
	struct fpgadma_mr *mpage, *mscratch;
	uint8_t *scratch, *pattern;
	struct t_snap start;
	unsigned int p, t, tgt;
	struct t_dev own;
	uint64_t t0;
	int status;

	t_init(argc, argv, 240);
	t_snap_take(&start);
	t_open(&own);
	t_need_atomic(&own);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));

	page_buf = t_map(4096);
	pattern = malloc(4096);
	CHECK(pattern != NULL);
	t_fill(page_buf, 4096, 77, 0);
	memset(page_buf, 0, W_END);
	memcpy(pattern, page_buf, 4096);
	mpage = t_reg(&own, page_buf, 4096, FPGADMA_ACCESS_ALL);
	rkey = mpage->rkey;
	scratch = t_map(4096);
	mscratch = t_reg(&own, scratch, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(scratch, 64, 78, 0);
	memset(scratch, 0, W_END);
	t_dev_write(&own, mscratch, scratch, 64, DEV_BASE);
	t_log("%d processes x %d threads, a context each, %d rounds of SUM, fetch-and-add and "
	      "CSWAP increments on %s (rkey 0x%x) and in device memory", NPROC, NTHR, ITERS,
	      tgt_name[T_HOST], rkey);

	t0 = t_now_ms();
	for (p = 0; p < NPROC; p++) {
		pids[p] = fork();
		CHECK_SYS(pids[p]);
		if (pids[p] == 0) {
			for (t = 0; t < NTHR; t++) {
				workers[t].id = p * NTHR + t;
				CHECK_EQ(pthread_create(&workers[t].th, NULL, work, &workers[t]), 0);
			}
			for (t = 0; t < NTHR; t++)
				CHECK_EQ(pthread_join(workers[t].th, NULL), 0);
			exit(T_EXIT_PASS);
		}
	}
	for (p = 0; p < NPROC; p++) {
		status = t_wait_child(pids[p], 200000 * (unsigned int)t_time_scale());
		CHECK_CHILD_OK(status);
	}
	t_log("%u atomic WRs and their retries done in %llu ms", NTOTAL * 3 * NTGT,
	      (unsigned long long)(t_now_ms() - t0));

	memset(scratch, 0xee, 64);
	t_dev_read(&own, mscratch, scratch, 64, DEV_BASE);
	for (tgt = 0; tgt < NTGT; tgt++) {
		const uint8_t *words = tgt == T_HOST ? page_buf : scratch;

		memcpy(v[tgt], words, sizeof(v[tgt]));
	}
	for (p = 0; p < NWORK; p++)
		sum_want += (uint64_t)ITERS * (p + 1);
	for (tgt = 0; tgt < NTGT; tgt++) {
		CHECK_EQ(v[tgt][W_SUM / 8], sum_want);
		CHECK_EQ(v[tgt][W_CAS / 8], NTOTAL);
		CHECK_EQ(v[tgt][W_TIK / 8], NTOTAL);
		check_sequence(sh->cas_old[tgt], "the counter's swapped values", tgt_name[tgt]);
		check_sequence(sh->ticket[tgt], "the tickets", tgt_name[tgt]);
		for (tries = 0, p = 0; p < NWORK; p++)
			tries += sh->cas_tries[tgt][p];
		t_log("%-14s: sum %llu exact; counter %u, every increment once (%llu CSWAPs for "
		      "%u increments); tickets 0..%u each once, increasing per thread",
		      tgt_name[tgt], (unsigned long long)sum_want, NTOTAL,
		      (unsigned long long)tries, NTOTAL, NTOTAL - 1);
	}
	CHECK_EQ(memcmp(page_buf + W_END, pattern + W_END, 4096 - W_END), 0);
	t_fill(pattern, 64, 78, 0);
	CHECK_EQ(memcmp(scratch + W_END, pattern + W_END, 64 - W_END), 0);
	t_log("the bytes around the words unchanged, in the page and in device memory");

	t_dereg(mscratch);
	t_dereg(mpage);
	t_unmap(scratch, 4096);
	t_unmap(page_buf, 4096);
	free(pattern);
	t_close(&own);
	munmap(sh, sizeof(*sh));
	CHECK_SETTLED(&start, 10000 * (unsigned int)t_time_scale(), "at the end");
	t_pass();
}
