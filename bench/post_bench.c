// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * post_bench: where a small operation's time goes, measured without
 * instrumenting it.  Each row is a call that does a little more than the
 * one before it, one in flight, timed over many iterations; the
 * differences between rows are the costs of the steps (the module's stage
 * counters cost a clock read each, which under emulation is larger than
 * most of the steps they would time).
 *
 *   syscall         getppid(): the cheapest system call
 *   ioctl_empty     an ioctl of the driver's type that no call has: the
 *                   driver enters the context and refuses it (EINVAL)
 *   post_count0     POST of no WR: refused after the argument's copy
 *   post_malformed  POST of one WR with an unknown opcode: refused after
 *                   the WR's copy and check
 *   wr_nodata       POST of a READ_MEM with no pieces, and the poll of its
 *                   CQE: a work request's whole life (allocation, the
 *                   context's lock, its completion slot, the engine, the
 *                   CQE) with no MR and no byte
 *   read_mem SIZE   the same with one piece of SIZE bytes of a registered
 *                   buffer, read from the device's memory (8 B .. 4 KiB)
 *   write_mem SIZE  the same, written to the device's memory
 *
 * Usage: post_bench [-d DEV] [-t SECONDS] [-o FILE]
 * -d: device index (default 0), -t: time per row (default 0.3 s), -o: also
 * write the rows as TSV (test, mode, size, iters, usec, ops_per_s).  Data
 * of each read and write size is checked once before it is timed.  Exit
 * status 1 on an error or wrong data, 77 without the device.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>

#define BUF_SIZE	4096

static struct fpgadma_context *ctx;
static struct fpgadma_mr *mr;
static int fd;
static double budget = 0.3;
static FILE *tsv;
static unsigned int nrows;
static unsigned char buf[BUF_SIZE] __attribute__((aligned(BUF_SIZE)));
static unsigned char pat[BUF_SIZE];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("post_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
	const char *test;
	int kind;		/* RUN_* */
	struct fpgadma_wr wr;
	struct fpgadma_sge sge;
};

enum { RUN_SYSCALL, RUN_IOCTL, RUN_POST_COUNT0, RUN_POST_MALFORMED, RUN_WR };

/* One work request posted and its CQE polled. */
static void one_wr(struct run *r)
{
	struct fpgadma_cqe cqe;
	int ret;

	ret = fpgadma_post(ctx, &r->wr, 1);
	if (ret)
		die("%s: post: %s", r->test, fpgadma_strerror(ret));
	while ((ret = fpgadma_poll(ctx, &cqe, 1)) == 0)
		;
	if (ret < 0)
		die("%s: poll: %s", r->test, fpgadma_strerror(ret));
	if (cqe.status != FPGADMA_WC_SUCCESS)
		die("%s: completed with status %u (%s)", r->test, cqe.status,
		    fpgadma_wc_status_str(cqe.status));
}

static void iterate(struct run *r, uint64_t n)
{
	struct fpgadma_post post = { 0 };
	uint64_t i;

	for (i = 0; i < n; i++) {
		switch (r->kind) {
		case RUN_SYSCALL:
			(void)getppid();
			break;
		case RUN_IOCTL:
			if (ioctl(fd, _IO(FPGADMA_IOC_MAGIC, 0x7f)) == 0 || errno != EINVAL)
				die("an ioctl no call has: %s (EINVAL expected)",
				    strerror(errno ? errno : EPROTO));
			break;
		case RUN_POST_COUNT0:
			post.wrs = (uintptr_t)&r->wr;
			post.count = 0;
			if (ioctl(fd, FPGADMA_IOC_POST, &post) == 0 || errno != EINVAL)
				die("POST of no WR: %s (EINVAL expected)",
				    strerror(errno ? errno : EPROTO));
			break;
		case RUN_POST_MALFORMED:
			post.wrs = (uintptr_t)&r->wr;
			post.count = 1;
			if (ioctl(fd, FPGADMA_IOC_POST, &post) == 0 || errno != EINVAL)
				die("POST of a WR with an unknown opcode: %s (EINVAL expected)",
				    strerror(errno ? errno : EPROTO));
			break;
		default:
			one_wr(r);
		}
	}
}

static void row(struct run *r, size_t size)
{
	uint64_t n = 16;
	double t;

	for (;;) {
		t = now_s();
		iterate(r, n);
		t = now_s() - t;
		if (t >= budget / 2 || n >= (1ULL << 30))
			break;
		n = t > 0 ? (uint64_t)((double)n * budget / t) + 1 : n * 100;
	}
	if (t <= 0)
		t = 1e-9;
	nrows++;
	printf("  %-16s lat %6zu %10" PRIu64 " %10.3f %12.0f\n", r->test, size, n,
	       t * 1e6 / (double)n, (double)n / t);
	if (tsv)
		fprintf(tsv, "%s\tlat\t%zu\t%" PRIu64 "\t%.4f\t%.1f\n", r->test, size, n,
			t * 1e6 / (double)n, (double)n / t);
}

static void wr_rows(uint32_t opcode, const char *test)
{
	static const size_t sizes[] = { 8, 64, 512, 4096 };
	struct run r = { .test = test, .kind = RUN_WR };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		r.sge = (struct fpgadma_sge){ .addr = (uintptr_t)buf,
					      .length = (uint32_t)sizes[i],
					      .lkey = mr->lkey };
		r.wr = (struct fpgadma_wr){ .opcode = opcode,
					    .sg_list = (uintptr_t)&r.sge,
					    .num_sge = 1 };
		/* the data, once: pattern -> device -> buffer */
		if (opcode == FPGADMA_WR_READ_MEM) {
			struct run w = r;

			memcpy(buf, pat, sizes[i]);
			w.wr.opcode = FPGADMA_WR_WRITE_MEM;
			one_wr(&w);
			memset(buf, 0, sizes[i]);
			one_wr(&r);
			if (memcmp(buf, pat, sizes[i]))
				die("read_mem %zu: the bytes read are not those written",
				    sizes[i]);
		}
		row(&r, sizes[i]);
	}
}

int main(int argc, char **argv)
{
	struct fpgadma_device_attr attr;
	struct fpgadma_pd *pd;
	const char *out = NULL;
	char path[64];
	int dev = 0, c, ret;
	size_t i;

	while ((c = getopt(argc, argv, "d:t:o:")) != -1) {
		switch (c) {
		case 'd': dev = atoi(optarg); break;
		case 't': budget = atof(optarg); break;
		case 'o': out = optarg; break;
		default:
			fprintf(stderr, "usage: post_bench [-d DEV] [-t SECONDS] [-o FILE]\n");
			return 2;
		}
	}
	if (budget <= 0)
		die("-t must be positive");
	snprintf(path, sizeof(path), "/dev/fpgadma%d", dev);
	if (access(path, F_OK)) {
		printf("SKIP: %s: %s\n", path, strerror(errno));
		return 77;
	}
	ret = fpgadma_open_path(path, &ctx);
	if (ret)
		die("%s: %s", path, fpgadma_strerror(ret));
	ret = fpgadma_query(ctx, &attr);
	if (ret)
		die("query: %s", fpgadma_strerror(ret));
	if (attr.dev_mem_size < BUF_SIZE)
		die("the device has %" PRIu64 " bytes of memory, %d needed",
		    attr.dev_mem_size, BUF_SIZE);
	ret = fpgadma_alloc_pd(ctx, &pd);
	if (!ret)
		ret = fpgadma_reg_mr(pd, buf, sizeof(buf),
				     FPGADMA_ACCESS_LOCAL_WRITE, &mr);
	if (ret)
		die("registration: %s", fpgadma_strerror(ret));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i * 7 + 3);
	if (out) {
		tsv = fopen(out, "we");
		if (!tsv)
			die("%s: %s", out, strerror(errno));
		fprintf(tsv, "# title: post_bench: where a small operation's time goes (libfpgadma, %s, one in flight, %.2f s per row)\n",
			path, budget);
		fprintf(tsv, "test\tmode\tsize\titers\tusec\tops_per_s\n");
	}
	printf("  post_bench: %s, %.2f s per row\n", path, budget);
	printf("  %-16s %-3s %6s %10s %10s %12s\n", "test", "m", "size", "iters", "usec", "ops/s");
	{
		struct run r = { .test = "syscall", .kind = RUN_SYSCALL };

		row(&r, 0);
		r = (struct run){ .test = "ioctl_empty", .kind = RUN_IOCTL };
		row(&r, 0);
		r = (struct run){ .test = "post_count0", .kind = RUN_POST_COUNT0 };
		row(&r, 0);
		r = (struct run){ .test = "post_malformed", .kind = RUN_POST_MALFORMED,
				  .wr = { .opcode = 0xffff } };
		row(&r, 0);
		r = (struct run){ .test = "wr_nodata", .kind = RUN_WR,
				  .wr = { .opcode = FPGADMA_WR_READ_MEM } };
		row(&r, 0);
	}
	wr_rows(FPGADMA_WR_READ_MEM, "read_mem");
	wr_rows(FPGADMA_WR_WRITE_MEM, "write_mem");
	if (tsv && fclose(tsv))
		die("%s: %s", out, strerror(errno));
	close(fd);
	fpgadma_dereg_mr(mr);
	fpgadma_dealloc_pd(pd);
	fpgadma_close(ctx);
	printf("PASS: post_bench: %u rows, the read sizes' data checked\n", nrows);
	return 0;
}
