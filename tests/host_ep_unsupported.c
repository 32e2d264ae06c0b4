// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_unsupported: a device without host endpoints refuses their work.
 *
 * On a device whose QUERY caps lack FPGADMA_CAP_HOST_EP (the edu engine)
 * RDMA_WRITE, RDMA_READ, SEND and RECV are refused at post time with
 * EOPNOTSUPP (through libfpgadma, each a well-formed WR otherwise) and post
 * nothing: no CQE comes.  On a device with host endpoints (the soft engine)
 * it skips: the host_ep_* tests check them there.
 */
#include "helpers.h"

int main(int argc, char **argv)
{
	static const uint32_t ops[] = { FPGADMA_WR_RDMA_WRITE, FPGADMA_WR_RDMA_READ,
					FPGADMA_WR_SEND, FPGADMA_WR_RECV };
	static const char *const names[] = { "RDMA_WRITE", "RDMA_READ", "SEND", "RECV" };
	struct fpgadma_mr *mr;
	struct fpgadma_sge sg;
	struct t_snap start;
	struct t_dev a;
	unsigned int i;
	uint8_t *buf;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open(&a);
	if (a.attr.caps & FPGADMA_CAP_HOST_EP)
		t_skip("the %s engine has host endpoints (FPGADMA_CAP_HOST_EP): the host_ep_* "
		       "tests check them", t_engine_name(a.attr.engine));
	buf = t_map(4096);
	mr = t_reg(&a, buf, 4096, FPGADMA_ACCESS_ALL);
	sg = t_sge(mr, buf, 64);
	for (i = 0; i < T_ARRAY_SIZE(ops); i++) {
		struct fpgadma_wr w = { .wr_id = i, .opcode = ops[i],
					.sg_list = (uintptr_t)&sg, .num_sge = 1 };

		if (ops[i] == FPGADMA_WR_SEND)
			w.dest = a.attr.ep_id;
		if (ops[i] == FPGADMA_WR_RDMA_WRITE || ops[i] == FPGADMA_WR_RDMA_READ)
			w.rkey = mr->rkey;
		CHECK_RET(fpgadma_post(a.ctx, &w, 1), -EOPNOTSUPP);
		t_log("%-10s EOPNOTSUPP", names[i]);
	}
	t_expect_no_cqe(a.ctx, 100);
	t_dereg(mr);
	t_unmap(buf, 4096);
	t_log("%s engine (caps 0x%llx): 4 host-endpoint opcodes refused with EOPNOTSUPP, no CQE",
	      t_engine_name(a.attr.engine), (unsigned long long)a.attr.caps);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
