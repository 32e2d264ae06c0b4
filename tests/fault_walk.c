// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fault_walk: every allocation on the paths of a context's life, made to
 * fail in turn, gives a clean error and leaves nothing behind.
 *
 * With fail-nth (/proc/thread-self/fail-nth, a kernel with fault
 * injection: the debug tier) the walk sets n = 1, 2, ... and runs one
 * whole life: open the device (ring, monitor area, mmap), bind an endpoint
 * number (BIND_EP), register a 3-page unaligned MR, register a monitored
 * MR (FPGADMA_REG_MR_MONITOR: its slot, its interval notifier, the first
 * time the mm's notifier state), post a write from the first and a read
 * into the monitored one through device memory, post a RECV and SEND a
 * message to itself at the bound number, deregister both, close.  The
 * n-th allocation the kernel makes for this thread (slab, failslab;
 * pages, fail_page_alloc) fails.  Each step that fails must fail with a
 * plain errno and the walk unwinds the steps before it; steps that
 * succeed must move the right data.  After every round the pin count,
 * live_mrs, pinned_pages and VmPin are back where they started, and no
 * mapping of the device is left (a ring or monitor area whose munmap
 * failed would keep the context alive).  The monitored MR, once
 * registered, is valid and stays so: no injected failure may make it look
 * invalidated (count 0, no event).  The walk ends at the first n the life
 * no longer reaches.  GFP_KERNEL allocations are
 * made to fail too (ignore-gfp-wait off), silently (verbose 0).  It runs
 * on the debug kernel booted with dma_debug=off (the 'faults'
 * configuration): with DMA-API debugging on, an injected failure of its
 * own GFP_ATOMIC bookkeeping would switch it off for the rest of the boot.
 */
#include "helpers.h"

#include <fcntl.h>

static void write_knob(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		t_fail("cannot open %s: %s", path, t_errname(errno));
	CHECK_EQ(write(fd, val, strlen(val)), (ssize_t)strlen(val));
	close(fd);
}

static int nth_fd = -1;

static void set_nth(unsigned int n)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	CHECK_EQ(pwrite(nth_fd, buf, (size_t)len, 0), (ssize_t)len);
}

/* 0 once the fault was injected, else how many points were still to pass. */
static unsigned int get_nth(void)
{
	char buf[32] = { 0 };

	CHECK(pread(nth_fd, buf, sizeof(buf) - 1, 0) > 0);
	return (unsigned int)strtoul(buf, NULL, 10);
}

/*
 * Waiting for completions (poll()) allocates too, but that is the test's
 * own business: hold the count while waiting.
 */
static void wait_cqes(struct fpgadma_context *ctx, struct fpgadma_cqe *c, int n)
{
	unsigned int left = get_nth();

	set_nth(0);
	t_get_cqes(ctx, c, n);
	if (left)
		set_nth(left);
}

static const char *const step_name[] = {
	"open", "alloc_pd", "bind_ep", "reg_mr", "reg_mr_monitor", "post write+read",
	"post recv", "post send", "dereg_mr", "close",
};
#define NSTEPS (sizeof(step_name) / sizeof(step_name[0]))

/* One life; returns the step that failed (NSTEPS: none) with its error. */
static unsigned int one_life(uint8_t *buf, size_t page, int *err)
{
	struct fpgadma_context *ctx = NULL;
	struct fpgadma_device_attr attr;
	struct fpgadma_pd *pd = NULL;
	struct fpgadma_mr *mr = NULL, *mon = NULL, *dst;
	struct fpgadma_mon_event ev;
	struct fpgadma_cqe c[4];
	struct fpgadma_sge sg;
	struct fpgadma_wr wr[2];
	uint8_t *data = buf + 100, *back = buf + 100 + page;
	unsigned int step = 0, ncqe = 0;
	int r;

	*err = 0;
	r = fpgadma_open_path(t_dev_path(), &ctx);
	if (r)
		goto fail;
	step++;
	CHECK_OK(fpgadma_query(ctx, &attr));
	r = fpgadma_alloc_pd(ctx, &pd);
	if (r)
		goto fail;
	step++;
	/* a number below the dynamic range: free again once the context closes */
	r = fpgadma_bind_ep(ctx, 4242);
	if (r)
		goto fail;
	step++;
	r = fpgadma_reg_mr(pd, data, 2 * page + 1, FPGADMA_ACCESS_LOCAL_WRITE, &mr);
	if (r)
		goto fail;
	step++;
	dst = mr;
	if (attr.caps & FPGADMA_CAP_MR_MONITOR) {
		/* pages the first registration made writable: nothing to break */
		r = fpgadma_reg_mr_monitor(pd, back, page, FPGADMA_ACCESS_LOCAL_WRITE, &mon);
		if (r)
			goto fail;
		CHECK_EQ(fpgadma_mr_valid(mon), 1);
		dst = mon;
	}
	step++;
	t_fill(data, page, 77, 0);
	memset(back, 0, page);
	sg = t_sge(mr, data, (uint32_t)page);
	wr[0] = (struct fpgadma_wr){ .wr_id = 1, .opcode = FPGADMA_WR_WRITE_MEM,
				     .sg_list = (uintptr_t)&sg, .num_sge = 1 };
	r = fpgadma_post(ctx, wr, 1);
	if (r)
		goto fail;
	wait_cqes(ctx, c, 1);
	CHECK_CQE(&c[0], 1, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, page);
	sg = t_sge(dst, back, (uint32_t)page);
	wr[0].wr_id = 2;
	wr[0].opcode = FPGADMA_WR_READ_MEM;
	r = fpgadma_post(ctx, wr, 1);
	if (r)
		goto fail;
	wait_cqes(ctx, c, 1);
	CHECK_CQE(&c[0], 2, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, page);
	CHECK_EQ(t_verify(back, page, 77, 0, "read back"), 0);
	step++;
	if (attr.caps & FPGADMA_CAP_HOST_EP) {
		sg = t_sge(mr, back, 64);
		r = fpgadma_post_recv(ctx, 3, &sg, 1);
		if (r)
			goto fail;
		ncqe++;
		step++;
		sg = t_sge(mr, data, 64);
		r = fpgadma_post_send(ctx, 4, 4242, &sg, 1);
		if (r)
			goto fail;
		wait_cqes(ctx, c, 2);
		ncqe = 0;
		CHECK_EQ(c[0].status, FPGADMA_WC_SUCCESS);
		CHECK_EQ(c[1].status, FPGADMA_WC_SUCCESS);
		CHECK_EQ(t_verify(back, 64, 77, 0, "message"), 0);
		step++;
	} else {
		step += 2;
	}
	if (mon) {
		/* nothing happened to its range, injected failures or not */
		CHECK_EQ(fpgadma_mr_valid(mon), 1);
		CHECK_EQ(fpgadma_mon_count(ctx), 0);
		CHECK_EQ(fpgadma_mon_read(ctx, &ev, 1), 0);
		r = fpgadma_dereg_mr(mon);
		if (r)
			goto fail;
		mon = NULL;
	}
	r = fpgadma_dereg_mr(mr);
	if (r)
		goto fail;
	mr = NULL;
	step++;
	CHECK_OK(fpgadma_dealloc_pd(pd));
	pd = NULL;
	r = fpgadma_close(ctx);
	ctx = NULL;
	if (r)
		goto fail;
	return NSTEPS;
fail:
	*err = r;
	/* Nothing failed beyond the injected fault: unwind must work. */
	set_nth(0);
	if (mon) {
		CHECK_EQ(fpgadma_mr_valid(mon), 1);
		CHECK_OK(fpgadma_dereg_mr(mon));
	}
	if (mr)
		CHECK_OK(fpgadma_dereg_mr(mr));	/* flushes a posted RECV */
	if (ncqe && ctx) {
		t_get_cqes(ctx, c, 1);
		CHECK_EQ(c[0].status, FPGADMA_WC_FLUSH_ERR);
	}
	if (pd)
		CHECK_OK(fpgadma_dealloc_pd(pd));
	if (ctx)
		CHECK_OK(fpgadma_close(ctx));
	return step;
}

int main(int argc, char **argv)
{
	unsigned int n, step, failed_at[NSTEPS + 1] = { 0 }, injected = 0;
	size_t page = t_page_size();
	struct t_snap start;
	uint8_t *buf;
	int err;

	t_init(argc, argv, 600);
	if (access("/proc/thread-self/fail-nth", F_OK) ||
	    access("/sys/kernel/debug/failslab", F_OK))
		t_skip("needs a kernel with fault injection (fail-nth, failslab): the debug-kernel "
		       "tier runs this walk");
	{
		char dis[8] = "Y";
		FILE *f = fopen("/sys/kernel/debug/dma-api/disabled", "r");

		if (f) {
			if (!fgets(dis, sizeof(dis), f))
				dis[0] = 'Y';
			fclose(f);
		}
		if (dis[0] == 'N')
			t_skip("DMA-API debugging is on: fail-nth would also fail its own atomic "
			       "allocations and turn it off for the rest of the boot; the debug "
			       "tier's 'faults' configuration (dma_debug=off) runs this walk");
	}
	{
		struct t_dev d;

		t_open(&d);	/* the device is there, the skip table */
		t_close(&d);
	}
	buf = t_map(4 * page);
	write_knob("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	write_knob("/sys/kernel/debug/failslab/verbose", "0");
	write_knob("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	write_knob("/sys/kernel/debug/fail_page_alloc/min-order", "0");
	write_knob("/sys/kernel/debug/fail_page_alloc/verbose", "0");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	CHECK_SYS(nth_fd);
	t_snap_take(&start);
	for (n = 1; n < 5000; n++) {
		unsigned int left;

		set_nth(n);
		step = one_life(buf, page, &err);
		left = get_nth();
		set_nth(0);
		if (step == NSTEPS && left) {
			CHECK_SNAP(&start, 0, 0, "after the whole life without an injected fault");
			break;	/* the life makes fewer than n allocations */
		}
		injected++;
		failed_at[step]++;
		CHECK_MSG(!t_maps_contains("/dev/fpgadma"),
			  "a mapping of the device outlived a life that failed at %s",
			  step < NSTEPS ? step_name[step] : "no step");
		if (step < NSTEPS)
			CHECK_MSG(err == -ENOMEM || err == -EFAULT || err == -EAGAIN ||
				  err == -EINTR || err == -EIO,
				  "%s failed with %s under an injected fault", step_name[step],
				  t_errname(err));
		CHECK_SETTLED(&start, 5000, "after a life with an injected allocation failure");
	}
	CHECK_LT(n, 5000);
	t_log("%u allocations failed in turn, one per life; the lives that failed, by step:",
	      injected);
	for (step = 0; step < NSTEPS; step++)
		if (failed_at[step])
			t_log("  %-16s %u", step_name[step], failed_at[step]);
	t_log("  %-16s %u (the fault hit an allocation the call could do without)", "none",
	      failed_at[NSTEPS]);
	CHECK_GT(injected, 10);
	write_knob("/sys/kernel/debug/failslab/ignore-gfp-wait", "Y");
	write_knob("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "Y");
	t_unmap(buf, 4 * page);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
