// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stage_timing: the per-stage breakdown in debugfs fpgadma/<dev>/stages and
 * the small-work fast path of the soft engine.
 *  - with the stage_timing parameter on, one registration, two small WRs and
 *    one deregistration move exactly the counts they pass through (reg_*,
 *    dereg_*, post_total, queue_wait, engine, complete), with time in them;
 *  - with it off nothing moves; a write to the file resets every count;
 *  - small WRs posted behind a large one (which the soft engine leaves to
 *    its worker while it may run small ones in the poster) complete after
 *    it, in order, with their data;
 *  - the soft engine's host-to-host copy (an RDMA_WRITE) passes once
 *    through host_direct, page to page, or through host_staged, its staging
 *    buffer with DMA syncs, when every mapping bounces (swiotlb=force on
 *    the kernel's command line) or its host_direct parameter is off, and
 *    never through the other; the time of a copy of 8 B, 4 KiB and 64 KiB
 *    on each path is logged.
 */
#include "helpers.h"

#include <fcntl.h>

#define MAX_STAGES	64

struct stage {
	char name[32];
	unsigned long long count, ns;
};

struct stages {
	unsigned int n;
	struct stage s[MAX_STAGES];
};

static struct t_dev d;
static char path[128];

static void read_stages(struct stages *st)
{
	FILE *f = fopen(path, "re");
	char line[128];

	CHECK_MSG(f, "%s: %s", path, strerror(errno));
	st->n = 0;
	while (fgets(line, sizeof(line), f)) {
		struct stage *s = &st->s[st->n];

		CHECK_LT(st->n, MAX_STAGES);
		CHECK_MSG(sscanf(line, "%31s %llu %llu", s->name, &s->count, &s->ns) == 3,
			  "malformed line in %s: %s", path, line);
		st->n++;
	}
	fclose(f);
}

static const struct stage *stage(const struct stages *st, const char *name)
{
	unsigned int i;

	for (i = 0; i < st->n; i++)
		if (!strcmp(st->s[i].name, name))
			return &st->s[i];
	t_fail("stage %s missing from %s", name, path);
}

static void write_file(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC);

	CHECK_MSG(fd >= 0, "%s: %s", file, strerror(errno));
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

#define PARAM "/sys/module/fpgadma_core/parameters/stage_timing"

/* The parameter reads Y or N; -1 if the module has none. */
static int get_timing(void)
{
	FILE *f = fopen(PARAM, "re");
	int c;

	if (!f)
		return -1;
	c = fgetc(f);
	fclose(f);
	return c == 'Y' || c == '1';
}

static void set_timing(bool on)
{
	write_file(PARAM, on ? "1\n" : "0\n");
	CHECK_EQ(get_timing(), on);
}

/* Register, run a small read and a small write, deregister. */
static void workload(uint8_t *buf, size_t len)
{
	struct fpgadma_mr *mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	struct fpgadma_sge sg = t_sge(mr, buf, 8);

	t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 0, &sg, 1);
	t_run_wr(&d, FPGADMA_WR_READ_MEM, 0, &sg, 1);
	t_dereg(mr);
}

static void expect_count(const struct stages *st, const char *name,
			 unsigned long long lo, unsigned long long hi)
{
	const struct stage *s = stage(st, name);

	CHECK_MSG(s->count >= lo && s->count <= hi,
		  "stage %s counted %llu, expected %llu..%llu", name, s->count, lo, hi);
	CHECK_MSG(!s->count || s->ns, "stage %s counted %llu passes in 0 ns", name, s->count);
}

static void breakdown(uint8_t *buf, size_t len)
{
	static const char *const exact1[] = {
		"reg_total", "reg_map", "reg_key", "dereg_total", "dereg_unmap", "dereg_unpin",
	};
	static const char *const exact2[] = { "post_total", "queue_wait", "engine" };
	struct stages st;
	unsigned int i;

	set_timing(true);
	write_file(path, "0\n");
	read_stages(&st);
	CHECK_GE(st.n, 10);
	for (i = 0; i < st.n; i++)
		CHECK_MSG(!st.s[i].count && !st.s[i].ns, "stage %s is %llu %llu after a reset",
			  st.s[i].name, st.s[i].count, st.s[i].ns);

	workload(buf, len);
	read_stages(&st);
	for (i = 0; i < T_ARRAY_SIZE(exact1); i++)
		expect_count(&st, exact1[i], 1, 1);
	for (i = 0; i < T_ARRAY_SIZE(exact2); i++)
		expect_count(&st, exact2[i], 2, 2);
	/*
	 * A completion is counted just after its CQE is published: an engine
	 * completing from its interrupt may not have counted the last one
	 * yet.  Wait for it (1 s at most), so that nothing is still moving
	 * when timing is off below.
	 */
	for (i = 0; i < 100 && stage(&st, "complete")->count < 2; i++) {
		t_sleep_ms(10);
		read_stages(&st);
	}
	expect_count(&st, "complete", 2, 2);
	/* Pinned in one batch or more; the table appended once per batch. */
	expect_count(&st, "reg_pin", 1, t_pages_spanned(buf, len));
	expect_count(&st, "reg_sg", stage(&st, "reg_pin")->count, stage(&st, "reg_pin")->count);
	CHECK_GE(stage(&st, "reg_total")->ns,
		 stage(&st, "reg_pin")->ns + stage(&st, "reg_sg")->ns +
		 stage(&st, "reg_map")->ns + stage(&st, "reg_key")->ns);
	CHECK_GE(stage(&st, "dereg_total")->ns,
		 stage(&st, "dereg_unmap")->ns + stage(&st, "dereg_unpin")->ns);
	for (i = 0; i < st.n; i++)
		t_log("%-12s %llu passes, %llu ns", st.s[i].name, st.s[i].count, st.s[i].ns);

	/* Off: nothing moves. */
	set_timing(false);
	workload(buf, len);
	{
		struct stages after;

		read_stages(&after);
		CHECK_EQ(after.n, st.n);
		for (i = 0; i < st.n; i++)
			CHECK_MSG(after.s[i].count == st.s[i].count,
				  "stage %s moved from %llu to %llu with stage_timing off",
				  st.s[i].name, st.s[i].count, after.s[i].count);
	}

	write_file(path, "reset\n");
	read_stages(&st);
	for (i = 0; i < st.n; i++)
		CHECK_EQ(st.s[i].count, 0);
	t_log("counts moved with stage_timing on, stood still with it off, and reset to 0");
}

/* Whether the kernel was booted with swiotlb=force: every DMA mapping bounces. */
static bool swiotlb_forced(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "re");

	CHECK_MSG(f, "/proc/cmdline: %s", strerror(errno));
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	return strstr(line, "swiotlb=force") != NULL;
}

#define HOST_DIRECT "/sys/module/fpgadma_soft/parameters/host_direct"

/*
 * One RDMA_WRITE within one MR: one pass through the host copy's path,
 * host_staged if @staged.
 */
static void host_copy_once(uint8_t *buf, size_t len, bool staged)
{
	enum { N = 64, DST = 4096 };
	const char *path_taken = staged ? "host_staged" : "host_direct";
	const char *other = staged ? "host_direct" : "host_staged";
	struct fpgadma_mr *mr;
	struct fpgadma_sge sg;
	struct fpgadma_wr w;
	struct fpgadma_cqe c;
	struct stages st;

	CHECK_GE(len, DST + N);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_ALL);
	t_fill(buf, N, 3, 0);
	memset(buf + DST, 0, N);
	sg = t_sge(mr, buf, N);
	w = t_rdma_wr(&d, FPGADMA_WR_RDMA_WRITE, mr->rkey, (uintptr_t)buf + DST, 0, &sg, 1);
	set_timing(true);
	write_file(path, "0\n");
	c = t_post_one(&d, &w);
	set_timing(false);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, N);
	CHECK_EQ(t_verify(buf + DST, N, 3, 0, "RDMA_WRITE target"), 0);
	read_stages(&st);
	expect_count(&st, path_taken, 1, 1);
	expect_count(&st, other, 0, 0);
	t_dereg(mr);
	t_log("a %u-byte RDMA_WRITE went through %s", N, path_taken);
}

/* The time of @n RDMA_WRITEs of @size bytes in the stage of their path: ns per pass. */
static double host_copy_ns(uint8_t *buf, size_t len, uint32_t size, unsigned int n,
			   const char *name)
{
	struct fpgadma_mr *mr = t_reg(&d, buf, len, FPGADMA_ACCESS_ALL);
	struct fpgadma_sge sg = t_sge(mr, buf, size);
	struct fpgadma_wr w;
	struct fpgadma_cqe c;
	struct stages st;
	unsigned int i;

	CHECK_GE(len, 2 * (size_t)size);
	set_timing(true);
	write_file(path, "0\n");
	for (i = 0; i < n; i++) {
		w = t_rdma_wr(&d, FPGADMA_WR_RDMA_WRITE, mr->rkey, (uintptr_t)buf + len / 2, 0,
			      &sg, 1);
		c = t_post_one(&d, &w);
		CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, size);
	}
	set_timing(false);
	read_stages(&st);
	expect_count(&st, name, n, n);
	t_dereg(mr);
	return (double)stage(&st, name)->ns / n;
}

/*
 * The soft engine's host copy takes the path the mappings call for, and
 * the host_direct parameter off makes it take the staged one; the cost of
 * an 8-byte copy on each path, side by side.
 */
static void host_copy(uint8_t *buf, size_t len)
{
	static const struct {
		uint32_t size;
		unsigned int n;
	} runs[] = { { 8, 1000 }, { 4096, 1000 }, { 65536, 200 } };
	bool forced = swiotlb_forced();
	FILE *f = fopen(HOST_DIRECT, "re");
	double direct_ns[T_ARRAY_SIZE(runs)] = { 0 }, staged_ns[T_ARRAY_SIZE(runs)];
	int was_direct;
	unsigned int i;

	t_log("swiotlb=force %s", forced ? "on" : "off");
	host_copy_once(buf, len, forced);
	if (!f) {
		t_log("no %s: the staged path is not forced", HOST_DIRECT);
		return;
	}
	was_direct = fgetc(f) == 'Y';
	fclose(f);
	for (i = 0; !forced && i < T_ARRAY_SIZE(runs); i++)
		direct_ns[i] = host_copy_ns(buf, len, runs[i].size, runs[i].n, "host_direct");
	write_file(HOST_DIRECT, "N\n");
	host_copy_once(buf, len, true);
	for (i = 0; i < T_ARRAY_SIZE(runs); i++)
		staged_ns[i] = host_copy_ns(buf, len, runs[i].size, runs[i].n, "host_staged");
	write_file(HOST_DIRECT, was_direct ? "Y\n" : "N\n");
	for (i = 0; i < T_ARRAY_SIZE(runs); i++) {
		if (forced)
			t_log("%u-byte RDMA_WRITE: %.0f ns per pass staged", runs[i].size,
			      staged_ns[i]);
		else
			t_log("%u-byte RDMA_WRITE: %.0f ns per pass direct, %.0f ns staged",
			      runs[i].size, direct_ns[i], staged_ns[i]);
	}
}

/* Small WRs behind a large one complete after it, in order, with their data. */
static void order(uint8_t *buf, size_t len)
{
	enum { SMALL = 8 };
	struct fpgadma_mr *mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	size_t big = T_MIN(len / 2, d.attr.dev_mem_size);
	uint8_t *small = buf + big;
	struct fpgadma_sge sg = t_sge(mr, buf, (uint32_t)big);
	struct fpgadma_wr wrs[SMALL];
	struct fpgadma_sge sgs[SMALL];
	struct fpgadma_cqe c[SMALL + 1];
	unsigned int i;

	t_fill(buf, big, 5, 0);
	t_dev_write(&d, mr, buf, big, 0);	/* device memory holds pattern 5 */
	memset(buf, 0, len);
	CHECK_OK(fpgadma_post_read(d.ctx, 1000, 0, &sg, 1));
	for (i = 0; i < SMALL; i++) {
		sgs[i] = t_sge(mr, small + 8 * i, 8);
		wrs[i] = (struct fpgadma_wr){ .wr_id = i, .opcode = FPGADMA_WR_READ_MEM,
					      .dev_addr = 8 * i, .sg_list = (uintptr_t)&sgs[i],
					      .num_sge = 1 };
		CHECK_OK(fpgadma_post(d.ctx, &wrs[i], 1));
	}
	t_get_cqes(d.ctx, c, SMALL + 1);
	CHECK_CQE(&c[0], 1000, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, big);
	for (i = 0; i < SMALL; i++)
		CHECK_CQE(&c[i + 1], i, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 8);
	CHECK_EQ(t_verify(buf, big, 5, 0, "large read"), 0);
	CHECK_EQ(t_verify(small, 8 * SMALL, 5, 0, "small reads"), 0);
	t_dereg(mr);
	t_log("%u 8-byte reads posted behind a %zu-byte read completed after it, in order",
	      SMALL, big);
}

int main(int argc, char **argv)
{
	int was;
	size_t len;
	uint8_t *buf;

	t_init(argc, argv, 120);
	t_open(&d);
	was = get_timing();
	if (was == -1)
		t_skip("the module has no stage_timing parameter");
	snprintf(path, sizeof(path), "/sys/kernel/debug/fpgadma/fpgadma%u/stages", t_test_dev());
	if (access(path, R_OK | W_OK))
		t_skip("%s: %s (debugfs not mounted?)", path, strerror(errno));

	len = 64 * T_KiB;
	buf = t_map(len);
	memset(buf, 1, len);
	breakdown(buf, len);
	if (d.attr.engine == FPGADMA_ENGINE_SOFT) {
		len = T_MIN(2 * d.attr.dev_mem_size, 4 * T_MiB);
		t_unmap(buf, 64 * T_KiB);
		buf = t_map(len);
		order(buf, len);
		if (d.attr.caps & FPGADMA_CAP_HOST_EP)
			host_copy(buf, len);
		t_unmap(buf, len);
	} else {
		t_log("order: not run: the %s engine runs no work in the poster",
		      t_engine_name(d.attr.engine));
		t_unmap(buf, len);
	}
	set_timing(was > 0);
	t_close(&d);
	t_pass();
}
