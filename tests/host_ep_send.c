// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_send: SEND into posted RECVs, delivered in order with the
 * sender's ep_id.
 *
 * Context b posts 64 RECVs of two pieces each (1000 bytes and the rest of
 * 3000); no CQE comes before a SEND.  Context a, its own non-zero ep_id
 * different from b's, sends 64 messages of 2993 bytes in one batch: a's
 * SEND CQEs in post order, success, byte_len 2993; b's RECV CQEs in post
 * order, each with byte_len 2993 and src_ep a's ep_id, message i in RECV
 * i across its two pieces, the 7 bytes after each message untouched.  A
 * zero-byte SEND into a RECV without pieces: success on both sides, byte_len
 * 0, src_ep a's.  Nothing stays pinned or registered.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

int main(int argc, char **argv)
{
	const unsigned int nmsg = 64;
	const size_t msg = 3000, big = nmsg * msg;
	struct fpgadma_cqe cq[64], c;
	struct fpgadma_mr *ms, *mr;
	struct t_dev a, b;
	struct t_snap start;
	struct fpgadma_sge sg[2];
	uint8_t *sbuf, *rbuf;
	unsigned int i;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open_host_ep_pair(&a, &b);
	sbuf = t_map(big);
	rbuf = t_map(big + 4096);
	ms = t_reg(&a, sbuf, big, 0);
	mr = t_reg(&b, rbuf, big + 4096, FPGADMA_ACCESS_LOCAL_WRITE);

	t_fill(sbuf, big, 21, 0);
	memset(rbuf, 0, big + 4096);
	/* nmsg RECVs of two pieces each, then nmsg SENDs in one batch. */
	for (i = 0; i < nmsg; i++) {
		sg[0] = t_sge(mr, rbuf + i * msg, 1000);
		sg[1] = t_sge(mr, rbuf + i * msg + 1000, (uint32_t)(msg - 1000));
		CHECK_OK(fpgadma_post_recv(b.ctx, 100 + i, sg, 2));
	}
	t_expect_no_cqe(b.ctx, 50);
	for (i = 0; i < nmsg; i++) {
		sg[0] = t_sge(ms, sbuf + i * msg, (uint32_t)(msg - 7));
		CHECK_OK(fpgadma_post_send(a.ctx, 200 + i, b.attr.ep_id, sg, 1));
	}
	t_get_cqes(a.ctx, cq, (int)nmsg);
	for (i = 0; i < nmsg; i++)
		CHECK_CQE(&cq[i], 200 + i, FPGADMA_WR_SEND, FPGADMA_WC_SUCCESS, msg - 7);
	t_get_cqes(b.ctx, cq, (int)nmsg);
	for (i = 0; i < nmsg; i++) {
		CHECK_CQE(&cq[i], 100 + i, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, msg - 7);
		CHECK_EQ(cq[i].src_ep, a.attr.ep_id);
		CHECK_EQ(t_verify(rbuf + i * msg, msg - 7, 21, i * msg, "message"), 0);
		CHECK_EQ(t_verify_byte(rbuf + i * msg + msg - 7, 7, 0, "after a message"), 0);
	}
	t_log("%u messages of %zu bytes into RECVs of two pieces: in order, with the sender's "
	      "ep_id %u, nothing written past them", nmsg, msg - 7, a.attr.ep_id);

	/* A zero-byte message. */
	CHECK_OK(fpgadma_post_recv(b.ctx, 304, sg, 0));
	CHECK_OK(fpgadma_post_send(a.ctx, 305, b.attr.ep_id, NULL, 0));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 305, FPGADMA_WR_SEND, FPGADMA_WC_SUCCESS, 0);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 304, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, 0);
	CHECK_EQ(c.src_ep, a.attr.ep_id);
	t_expect_no_cqe(a.ctx, 0);
	t_expect_no_cqe(b.ctx, 0);
	t_log("a zero-byte SEND into a RECV without pieces: success both sides, byte_len 0, "
	      "src_ep %u", a.attr.ep_id);

	t_dereg(mr);
	t_dereg(ms);
	t_unmap(sbuf, big);
	t_unmap(rbuf, big + 4096);
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
