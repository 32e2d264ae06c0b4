// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_flush: posted RECVs end with their MR or their context.
 *
 *  - A RECV of context b holding b's MR: deregistering the MR completes the
 *    RECV with FLUSH_ERR, byte_len 0, and a SEND to b then finds no RECV
 *    (RNR_ERR).
 *  - A third context with 16 RECVs posted into its still registered MR:
 *    close() returns at once (it does not wait for SENDs that never come),
 *    nothing stays pinned or registered, and a SEND to its ep_id finds no
 *    endpoint (REM_INV_REQ_ERR).
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

static struct t_dev a, b;

/* A RECV is flushed by deregistering its MR. */
static void flush_by_dereg(void)
{
	uint8_t *sbuf = t_map(4096), *rbuf = t_map(4096);
	struct fpgadma_mr *ms = t_reg(&a, sbuf, 4096, 0);
	struct fpgadma_mr *mr = t_reg(&b, rbuf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;

	sg = t_sge(mr, rbuf, 100);
	CHECK_OK(fpgadma_post_recv(b.ctx, 306, &sg, 1));
	t_expect_no_cqe(b.ctx, 50);
	t_dereg(mr);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 306, FPGADMA_WR_RECV, FPGADMA_WC_FLUSH_ERR, 0);
	sg = t_sge(ms, sbuf, 10);
	CHECK_OK(fpgadma_post_send(a.ctx, 307, b.attr.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 307, FPGADMA_WR_SEND, FPGADMA_WC_RNR_ERR, 0);
	t_expect_no_cqe(b.ctx, 0);
	t_dereg(ms);
	t_unmap(sbuf, 4096);
	t_unmap(rbuf, 4096);
	t_log("deregistering the MR of a posted RECV: the RECV completes with FLUSH_ERR; a SEND "
	      "then finds no RECV (RNR_ERR)");
}

/* Closing a context with RECVs posted; its ep_id is then dead. */
static void close_with_recvs(void)
{
	struct t_dev c3;
	uint8_t *buf = t_map(65536);
	struct fpgadma_mr *m, *ms;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	uint64_t t0, close_ms;
	uint32_t ep;
	unsigned int i;
	struct t_snap before;

	t_snap_take(&before);
	t_open(&c3);
	ep = c3.attr.ep_id;
	CHECK(ep != a.attr.ep_id && ep != b.attr.ep_id);
	m = t_reg(&c3, buf, 65536, FPGADMA_ACCESS_LOCAL_WRITE);
	for (i = 0; i < 16; i++) {
		sg = t_sge(m, buf + i * 4096, 4096);
		CHECK_OK(fpgadma_post_recv(c3.ctx, i, &sg, 1));
	}
	/* With the MR still registered: must not wait for SENDs that never come. */
	t0 = t_now_ms();
	CHECK_OK(fpgadma_close(c3.ctx));
	close_ms = t_now_ms() - t0;
	CHECK_LT(close_ms, 5000);
	CHECK_SNAP(&before, 0, 0, "after closing with 16 RECVs posted");
	ms = t_reg(&a, buf, 64, 0);
	sg = t_sge(ms, buf, 64);
	CHECK_OK(fpgadma_post_send(a.ctx, 400, ep, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 400, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_dereg(ms);
	t_unmap(buf, 65536);
	t_log("closed a context with 16 RECVs posted in %llu ms: nothing left pinned; its ep_id %u "
	      "is dead", (unsigned long long)close_ms, ep);
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open_host_ep_pair(&a, &b);
	flush_by_dereg();
	close_with_recvs();
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
