// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_rdma_errors: RDMA requests the peer MR does not allow complete
 * with an error and touch nothing.
 *
 * Context a aims RDMA at context b's MR (all rights, filled with a marker
 * byte): a wrong rkey, an rkey of b's MR without remote rights (written and
 * read), a range starting one byte before the MR, one ending past it by
 * virtual address and by offset (FPGADMA_WR_F_REMOTE_OFFSET), an offset
 * that wraps, and the rkey of an MR deregistered since: each completes with
 * REM_ACCESS_ERR and byte_len 0.  An RDMA_READ into a's own MR without
 * LOCAL_WRITE completes with LOC_ACCESS_ERR.  b's MR keeps its marker byte
 * throughout, also after its rkey died.  Nothing stays pinned or registered.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

static struct t_dev a, b;
static unsigned int nerr;

static void expect(const struct fpgadma_wr *w, uint32_t status, const char *what)
{
	struct fpgadma_cqe c = t_post_one(&a, w);

	CHECK_CQE(&c, w->wr_id, w->opcode, status, 0);
	t_log("%-52s %s", what, fpgadma_wc_status_str(status));
	nerr++;
}

int main(int argc, char **argv)
{
	const size_t len = 256 * 1024 + 123, pad = 4096, tlen = len + 2 * pad;
	struct fpgadma_mr *msrc, *mdst, *mnoright, *mro;
	uint8_t *src, *dst, *ro;
	struct t_snap start;
	struct fpgadma_sge sg;
	struct fpgadma_wr w;
	uint32_t dead;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open_host_ep_pair(&a, &b);
	src = t_map(len);
	dst = t_map(tlen);
	ro = t_map(len);
	msrc = t_reg(&a, src, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mdst = t_reg(&b, dst, tlen, FPGADMA_ACCESS_ALL);
	mnoright = t_reg(&b, ro, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mro = t_reg(&a, ro, len, 0);

	memset(dst, 0xa5, tlen);
	t_fill(src, len, 12, 0);
	sg = t_sge(msrc, src, 4096);
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey ^ 0x5a5a5a5a, (uintptr_t)dst, 0,
		      &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, wrong rkey");
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mnoright->rkey, (uintptr_t)ro, 0, &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, peer MR without REMOTE_WRITE");
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_READ, mnoright->rkey, (uintptr_t)ro, 0, &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_READ, peer MR without REMOTE_READ");
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst - 1, 0, &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, 1 byte before the peer MR");
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst + tlen - 4095, 0, &sg,
		      1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, 1 byte past the peer MR (address)");
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey, tlen - 4095,
		      FPGADMA_WR_F_REMOTE_OFFSET, &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, 1 byte past the peer MR (offset)");
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, mdst->rkey, ~0ULL - 100,
		      FPGADMA_WR_F_REMOTE_OFFSET, &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, offset + length wraps");
	CHECK_EQ(t_verify_byte(dst, tlen, 0xa5, "target after failed RDMA"), 0);

	/* Reading into a read-only MR of our own. */
	sg = t_sge(mro, ro, 64);
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_READ, mdst->rkey, (uintptr_t)dst, 0, &sg, 1);
	expect(&w, FPGADMA_WC_LOC_ACCESS_ERR, "RDMA_READ into a's MR without LOCAL_WRITE");

	/* A deregistered rkey. */
	dead = mdst->rkey;
	t_dereg(mdst);
	sg = t_sge(msrc, src, 64);
	w = t_rdma_wr(&a, FPGADMA_WR_RDMA_WRITE, dead, (uintptr_t)dst, 0, &sg, 1);
	expect(&w, FPGADMA_WC_REM_ACCESS_ERR, "RDMA_WRITE, a deregistered rkey");
	CHECK_EQ(t_verify_byte(dst, tlen, 0xa5, "target of a dead rkey"), 0);
	t_log("%u bad RDMA requests completed with errors, byte_len 0; the target unchanged", nerr);

	t_dereg(mro);
	t_dereg(mnoright);
	t_dereg(msrc);
	t_unmap(src, len);
	t_unmap(dst, tlen);
	t_unmap(ro, len);
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
