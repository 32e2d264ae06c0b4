// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kill_paths: processes that die at the worst moments release everything,
 * and the device goes on serving the others.
 *  1. SIGKILL during a large registration: a child registers a big range of
 *     never-touched memory (pinning faults every page in, seconds under
 *     TCG) and is killed after a random delay, ROUNDS times; the pin being
 *     interrupted (EINTR inside the kernel) or completed, nothing stays.
 *  2. SIGKILL while one thread sleeps in fpgadma_wait() and another posts
 *     transfers: the sleeper and the in-flight work go with the process.
 *  3. The OOM killer: a child with oom_score_adj 1000, MRs registered and
 *     work in flight allocates memory until the kernel kills it.
 * After each death the system-wide pin count, live_mrs and pinned_pages
 * come back where they were, and the parent's own context (open all along)
 * still moves data correctly.
 */
#include "helpers.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define ROUNDS	8

static struct t_dev d;
static struct fpgadma_mr *pmr;
static uint8_t *pbuf;
static const size_t plen = 1 << 20;

/* The parent's context still works: a pattern through device memory. */
static void parent_still_works(unsigned int round)
{
	t_fill(pbuf, plen / 2, 1000 + round, 0);
	memset(pbuf + plen / 2, 0, plen / 2);
	t_round_trip(&d, pmr, pbuf, pmr, pbuf + plen / 2, plen / 2);
	CHECK_EQ(t_verify(pbuf + plen / 2, plen / 2, 1000 + round, 0, "parent's round trip"), 0);
}

static void settle(const struct t_snap *before, const char *what)
{
	CHECK_SETTLED(before, 10000, what);
}

/* 1 */
static void child_register(size_t len)
{
	struct t_dev cd;
	uint8_t *buf;
	struct fpgadma_mr *mr;

	t_open(&cd);
	for (;;) {
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			_exit(2);
		if (fpgadma_reg_mr(cd.pd, buf, len, FPGADMA_ACCESS_LOCAL_WRITE, &mr) == 0) {
			fpgadma_dereg_mr(mr);
		}
		munmap(buf, len);
	}
}

static void kill_during_registration(struct t_rng *rng)
{
	size_t len = (size_t)t_big_size(&d, 256 * T_MiB);
	unsigned int i;
	uint64_t max_delay_ms = 300ULL * t_time_scale();

	for (i = 0; i < ROUNDS; i++) {
		struct t_snap before;
		unsigned int delay = 20 + (unsigned int)t_rand_below(rng, max_delay_ms);
		pid_t pid;
		int st;

		t_snap_take(&before);
		pid = fork();
		CHECK_SYS(pid);
		if (pid == 0)
			child_register(len);
		t_sleep_ms(delay);
		CHECK_SYS(kill(pid, SIGKILL));
		st = t_wait_child(pid, 60000);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		settle(&before, "after SIGKILL during registration");
		parent_still_works(i);
	}
	t_log("SIGKILL during registrations of %zu MiB of untouched memory, %u times at random "
	      "delays up to %llu ms: pins, live_mrs and pinned_pages back each time", len >> 20,
	      ROUNDS, (unsigned long long)max_delay_ms);
}

/* Fork a child running fn(ready_fd); return once it wrote a byte there. */
static pid_t spawn_ready(void (*fn)(int ready_fd))
{
	int pfd[2];
	char c;
	pid_t pid;

	CHECK_SYS(pipe(pfd));
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		close(pfd[0]);
		fn(pfd[1]);
		_exit(4);	/* fn does not return */
	}
	close(pfd[1]);
	CHECK_EQ(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	return pid;
}

/* 2 */
struct waiter_arg {
	struct t_dev *cd;
};

static void *waiter(void *p)
{
	struct waiter_arg *a = p;
	struct fpgadma_cqe c[16];

	for (;;) {
		fpgadma_wait(a->cd->ctx, -1);
		fpgadma_poll(a->cd->ctx, c, 16);
	}
	return NULL;
}

static void child_wait_and_post(int ready_fd)
{
	size_t len = 8 * T_MiB;
	struct t_dev cd;
	uint8_t *buf = t_map(len);
	struct fpgadma_mr *mr;
	struct waiter_arg a = { &cd };
	struct fpgadma_sge sg;
	pthread_t th;
	uint64_t len_dev;
	bool told = false;

	t_open(&cd);
	mr = t_reg(&cd, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	/*
	 * WRs of 256 KiB: a full ring of them is 1 GiB of work the engine
	 * finishes before the killed process's file is released (8 MiB ones,
	 * 32 GiB, took over the 60 s limit under swiotlb on a busy machine).
	 */
	len_dev = T_MIN(T_MIN(len, cd.attr.dev_mem_size), 256 * T_KiB);
	sg = t_sge(mr, buf, (uint32_t)len_dev);
	CHECK_EQ(pthread_create(&th, NULL, waiter, &a), 0);
	for (;;) {
		int r = fpgadma_post_write(cd.ctx, 1, 0, &sg, 1);

		if (r && r != -EAGAIN)
			_exit(3);
		if (!told) {
			CHECK_EQ(write(ready_fd, "r", 1), 1);
			told = true;
		}
	}
}

static void kill_with_sleeper(void)
{
	struct t_snap before;
	int st;
	pid_t pid;

	t_snap_take(&before);
	pid = spawn_ready(child_wait_and_post);
	t_sleep_ms(200);
	CHECK_SYS(kill(pid, SIGKILL));
	st = t_wait_child(pid, 60000);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	settle(&before, "after SIGKILL with a thread in fpgadma_wait and work in flight");
	parent_still_works(100);
	t_log("SIGKILL with one thread asleep in fpgadma_wait() and another posting: released");
}

/* 3 */
static void child_oom(int ready_fd)
{
	size_t len = 4 * T_MiB, chunk = 16 * T_MiB;
	struct t_dev cd;
	uint8_t *buf = t_map(len);
	struct fpgadma_mr *mr;
	struct fpgadma_sge sg;
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	CHECK(f != NULL);
	fprintf(f, "1000\n");
	fclose(f);
	t_open(&cd);
	mr = t_reg(&cd, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	sg = t_sge(mr, buf, (uint32_t)T_MIN(len, cd.attr.dev_mem_size));
	for (int i = 0; i < 8; i++)
		if (fpgadma_post_read(cd.ctx, (uint64_t)i, 0, &sg, 1))
			break;
	CHECK_EQ(write(ready_fd, "r", 1), 1);
	/* Touch memory until the OOM killer comes. */
	for (;;) {
		uint8_t *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			continue;
		memset(p, 0x33, chunk);
	}
}

static void oom_kill(void)
{
	struct t_snap before;
	int st;
	pid_t pid;
	uint64_t t0;

	t_snap_take(&before);
	pid = spawn_ready(child_oom);
	t0 = t_now_ms();
	st = t_wait_child(pid, 240000 * t_time_scale());
	CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the memory hog was not killed by the OOM killer (status 0x%x)", st);
	settle(&before, "after the OOM killer took a process with MRs and work in flight");
	parent_still_works(200);
	t_log("OOM killer took a child with a 4 MiB MR and 8 reads in flight after %llu ms: "
	      "released", (unsigned long long)(t_now_ms() - t0));
}

int main(int argc, char **argv)
{
	struct t_rng rng;
	struct t_snap start;

	t_init(argc, argv, 600);
	t_rng_seed(&rng, t_seed(argc, argv));
	if (!getenv("FPGADMA_VM"))
		t_skip("kills processes and runs the OOM killer: only in the test VM");
	t_open(&d);
	pbuf = t_map(plen);
	pmr = t_reg(&d, pbuf, plen, FPGADMA_ACCESS_LOCAL_WRITE);
	t_snap_take(&start);
	kill_during_registration(&rng);
	kill_with_sleeper();
	oom_kill();
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_dereg(pmr);
	t_close(&d);
	t_pass();
}
