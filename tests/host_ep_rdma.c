// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_rdma: RDMA_WRITE and RDMA_READ between two contexts' MRs by rkey,
 * the device as a NIC in loopback.
 *
 * Context a writes 256 KiB + 123 bytes from three pieces of odd sizes into
 * context b's MR at a virtual address inside it: every byte arrives, the
 * page before and the page after the target keep their bytes.  a reads it
 * back by offset into the MR (FPGADMA_WR_F_REMOTE_OFFSET) into its cleared
 * buffer: every byte right.  A one-byte RDMA_WRITE at the MR's last byte
 * fits exactly.  Nothing stays pinned or registered afterwards.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

int main(int argc, char **argv)
{
	const size_t len = 256 * 1024 + 123, pad = 4096;
	struct fpgadma_mr *msrc, *mdst;
	struct t_dev a, b;
	struct t_snap start;
	struct fpgadma_sge sg[3];
	struct fpgadma_wr w;
	struct fpgadma_cqe c;
	uint8_t *src, *dst;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open_host_ep_pair(&a, &b);
	src = t_map(len);
	dst = t_map(len + 2 * pad);
	msrc = t_reg(&a, src, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mdst = t_reg(&b, dst, len + 2 * pad, FPGADMA_ACCESS_ALL);

	t_fill(src, len, 11, 0);
	memset(dst, 0xa5, len + 2 * pad);
	/* Three pieces of odd sizes into b's MR at a virtual address. */
	sg[0] = t_sge(msrc, src, 1000);
	sg[1] = t_sge(msrc, src + 1000, 70001);
	sg[2] = t_sge(msrc, src + 71001, (uint32_t)(len - 71001));
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst + pad, 0, sg, 3);
	c = t_post_one(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, len);
	CHECK_EQ(t_verify(dst + pad, len, 11, 0, "RDMA_WRITE target"), 0);
	CHECK_EQ(t_verify_byte(dst, pad, 0xa5, "before the target"), 0);
	CHECK_EQ(t_verify_byte(dst + pad + len, pad, 0xa5, "after the target"), 0);
	t_log("RDMA_WRITE of %zu bytes from 3 pieces to b's MR at a virtual address: every byte "
	      "there, the pages around it untouched", len);

	/* Read it back at an offset, into a's buffer cleared first. */
	memset(src, 0, len);
	sg[0] = t_sge(msrc, src, (uint32_t)len);
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_READ, mdst->rkey, pad, FPGADMA_WR_F_REMOTE_OFFSET, sg, 1);
	c = t_post_one(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_READ, FPGADMA_WC_SUCCESS, len);
	CHECK_EQ(t_verify(src, len, 11, 0, "RDMA_READ result"), 0);
	t_log("RDMA_READ of %zu bytes from b's MR at offset %zu: every byte right", len, pad);

	/* The last byte exactly fits. */
	t_fill(src, 1, 12, 0);
	sg[0] = t_sge(msrc, src, 1);
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst + len + 2 * pad - 1, 0,
		      sg, 1);
	c = t_post_one(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, 1);
	CHECK_EQ(dst[len + 2 * pad - 1], src[0]);
	CHECK_EQ(t_verify_byte(dst + pad + len, pad - 1, 0xa5, "before the last byte"), 0);
	t_log("RDMA_WRITE of the MR's last byte: fits, written");

	t_dereg(mdst);
	t_dereg(msrc);
	t_unmap(src, len);
	t_unmap(dst, len + 2 * pad);
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
