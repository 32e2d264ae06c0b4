// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * dereg_inflight: deregistering an MR that work is still using.
 *
 * Large READ_MEMs into an MR are posted and the MR is deregistered at once.
 * DEREG_MR must succeed, and only after that work completed: when it returns
 * every WR has completed (wrs_completed), the data is in the buffer, all
 * CQEs arrive with success, and the pages are unpinned.  The same with
 * WRITE_MEMs reading from the MR (device memory gets the MR's data).  The
 * MR's lkey is dead afterwards: WRs naming it complete with LOC_PROT_ERR.
 */
#include "helpers.h"

#include <sys/mman.h>

#define ROUNDS	4
#define PER	8	/* WRs per round, each an eighth of the MR */

static struct t_dev d;

static void post_rounds(struct fpgadma_mr *mr, uint8_t *buf, size_t len, uint64_t dev_base,
			uint32_t opcode, struct fpgadma_sge *sg, struct fpgadma_wr *wrs)
{
	size_t part = len / PER;
	unsigned int i;

	for (i = 0; i < ROUNDS * PER; i++) {
		unsigned int k = i % PER;

		sg[i] = t_sge(mr, buf + k * part, (uint32_t)part);
		wrs[i] = (struct fpgadma_wr){ .wr_id = 100 + i, .opcode = opcode,
			.dev_addr = dev_base + k * part, .sg_list = (uintptr_t)&sg[i], .num_sge = 1 };
	}
	for (i = 0; i < ROUNDS * PER; i += d.attr.max_post)
		CHECK_OK(fpgadma_post(d.ctx, wrs + i, T_MIN(ROUNDS * PER - i, d.attr.max_post)));
}

static void check_cqes(const struct fpgadma_wr *wrs, size_t part)
{
	struct fpgadma_cqe c[ROUNDS * PER];
	unsigned int i;

	t_get_cqes(d.ctx, c, ROUNDS * PER);
	for (i = 0; i < ROUNDS * PER; i++)
		CHECK_CQE(&c[i], wrs[i].wr_id, wrs[i].opcode, FPGADMA_WC_SUCCESS, part);
}

int main(int argc, char **argv)
{
	struct fpgadma_sge sg[ROUNDS * PER];
	struct fpgadma_wr wrs[ROUNDS * PER];
	struct fpgadma_mr *mr, *src_mr;
	struct t_snap before;
	long long done0, done_at_post, done_at_dereg;
	uint64_t t0, t1;
	uint32_t old_lkey;
	size_t len, part;
	uint8_t *buf, *src;
	char b1[32];

	t_init(argc, argv, 55);
	t_open(&d);
	len = t_big_size(&d, 32 * T_MiB) / 2;
	len = T_MIN(len, d.attr.dev_mem_size / 2);
	len &= ~(size_t)(PER * 8 - 1);
	CHECK_GE(len, PER * 8);
	part = len / PER;
	src = t_map(len);
	buf = t_map(len);
	src_mr = t_reg(&d, src, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(src, len, 1, 0);
	t_dev_write(&d, src_mr, src, len, 0);

	/* READ_MEM into the MR, deregistered at once */
	memset(buf, 0, len);
	t_snap_take(&before);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	old_lkey = mr->lkey;
	done0 = t_dev_counter("wrs_completed");
	post_rounds(mr, buf, len, 0, FPGADMA_WR_READ_MEM, sg, wrs);
	done_at_post = t_dev_counter("wrs_completed") - done0;
	t0 = t_now_ms();
	CHECK_OK(fpgadma_dereg_mr(mr));
	t1 = t_now_ms();
	done_at_dereg = t_dev_counter("wrs_completed") - done0;
	CHECK_EQ(done_at_dereg, ROUNDS * PER);
	CHECK_SNAP(&before, 0, 0, "after deregistering the busy MR");
	CHECK(!t_verify(buf, len, 1, 0, "buffer of the MR deregistered while busy"));
	check_cqes(wrs, part);
	t_log("%d READ_MEMs of %s into an MR, deregistered right after posting (%lld still in "
	      "flight): dereg took %llu ms, all %d done when it returned, data complete, pages "
	      "unpinned", ROUNDS * PER, t_size_str(part, b1), ROUNDS * PER - done_at_post,
	      (unsigned long long)(t1 - t0), ROUNDS * PER);
	if (done_at_post == ROUNDS * PER)
		t_log("note: the device was done before DEREG_MR: its waiting was not exercised");

	/* The lkey is gone. */
	{
		struct fpgadma_sge s = { .addr = (uintptr_t)buf, .length = 16, .lkey = old_lkey };
		struct fpgadma_cqe c;

		c = t_run_wr(&d, FPGADMA_WR_READ_MEM, 0, &s, 1);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_LOC_PROT_ERR, 0);
		c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 0, &s, 1);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_LOC_PROT_ERR, 0);
		t_log("the deregistered lkey 0x%08x: LOC_PROT_ERR for READ_MEM and WRITE_MEM", old_lkey);
	}

	/* WRITE_MEM from the MR, deregistered at once */
	t_fill(buf, len, 2, 0);
	t_snap_take(&before);
	mr = t_reg(&d, buf, len, 0);
	done0 = t_dev_counter("wrs_completed");
	post_rounds(mr, buf, len, len, FPGADMA_WR_WRITE_MEM, sg, wrs);
	t0 = t_now_ms();
	CHECK_OK(fpgadma_dereg_mr(mr));
	t1 = t_now_ms();
	CHECK_EQ(t_dev_counter("wrs_completed") - done0, ROUNDS * PER);
	CHECK_SNAP(&before, 0, 0, "after deregistering the busy read-only MR");
	check_cqes(wrs, part);
	memset(src, 0, len);
	t_dev_read(&d, src_mr, src, len, len);
	CHECK(!t_verify(src, len, 2, 0, "device memory written from the deregistered MR"));
	t_log("%d WRITE_MEMs from a read-only MR, deregistered right after posting: dereg took "
	      "%llu ms, all done when it returned, device memory has the MR's data",
	      ROUNDS * PER, (unsigned long long)(t1 - t0));

	t_dereg(src_mr);
	t_unmap(src, len);
	t_unmap(buf, len);
	t_close(&d);
	t_pass();
}
