// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_send_errors: SENDs that cannot be delivered fail and deliver
 * nothing.
 *
 * Context a sends to context b's endpoint with no RECV posted: RNR_ERR,
 * byte_len 0, and no CQE at b.  A SEND to an endpoint number no context
 * has: REM_INV_REQ_ERR.  A SEND of 101 bytes into b's RECV of 100: the SEND
 * completes with REM_INV_REQ_ERR and the RECV with LOC_LEN_ERR, both
 * byte_len 0, and the RECV's buffer keeps its bytes.  A RECV posted after
 * the failures still receives the next SEND.  Nothing stays pinned or
 * registered.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

int main(int argc, char **argv)
{
	struct fpgadma_mr *ms, *mr;
	struct t_dev a, b;
	struct t_snap start;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	uint8_t *sbuf, *rbuf;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open_host_ep_pair(&a, &b);
	sbuf = t_map(4096);
	rbuf = t_map(4096);
	ms = t_reg(&a, sbuf, 4096, 0);
	mr = t_reg(&b, rbuf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(sbuf, 4096, 22, 0);

	/* No RECV: RNR. */
	sg = t_sge(ms, sbuf, 10);
	CHECK_OK(fpgadma_post_send(a.ctx, 300, b.attr.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 300, FPGADMA_WR_SEND, FPGADMA_WC_RNR_ERR, 0);
	t_expect_no_cqe(b.ctx, 50);
	t_log("SEND to an endpoint without a RECV: RNR_ERR, nothing at the receiver");

	/* No endpoint: REM_INV_REQ. */
	CHECK_OK(fpgadma_post_send(a.ctx, 301, 0x7ffffff0, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 301, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_log("SEND to endpoint 0x7ffffff0, which no context has: REM_INV_REQ_ERR");

	/* Longer than the RECV: both fail, the buffer untouched. */
	memset(rbuf, 0x5c, 4096);
	sg = t_sge(mr, rbuf, 100);
	CHECK_OK(fpgadma_post_recv(b.ctx, 302, &sg, 1));
	sg = t_sge(ms, sbuf, 101);
	CHECK_OK(fpgadma_post_send(a.ctx, 303, b.attr.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 303, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 302, FPGADMA_WR_RECV, FPGADMA_WC_LOC_LEN_ERR, 0);
	CHECK_EQ(t_verify_byte(rbuf, 4096, 0x5c, "RECV of a too long SEND"), 0);
	t_log("SEND of 101 bytes into a RECV of 100: REM_INV_REQ_ERR and LOC_LEN_ERR, the "
	      "RECV's buffer untouched");

	/* The receiver still works. */
	sg = t_sge(mr, rbuf, 100);
	CHECK_OK(fpgadma_post_recv(b.ctx, 306, &sg, 1));
	sg = t_sge(ms, sbuf, 100);
	CHECK_OK(fpgadma_post_send(a.ctx, 307, b.attr.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 307, FPGADMA_WR_SEND, FPGADMA_WC_SUCCESS, 100);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 306, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, 100);
	CHECK_EQ(c.src_ep, a.attr.ep_id);
	CHECK_EQ(t_verify(rbuf, 100, 22, 0, "the message after the failures"), 0);
	CHECK_EQ(t_verify_byte(rbuf + 100, 4096 - 100, 0x5c, "after that message"), 0);
	t_expect_no_cqe(a.ctx, 0);
	t_expect_no_cqe(b.ctx, 0);
	t_log("after the failures a SEND of 100 bytes into a new RECV arrives whole");

	t_dereg(mr);
	t_dereg(ms);
	t_unmap(sbuf, 4096);
	t_unmap(rbuf, 4096);
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
