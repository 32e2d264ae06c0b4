// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: the domain's pools of receive and send buffers.
 *
 * Each buffer holds a wire header and an eager payload.  The pools are
 * registered once, when the domain opens, so a message costs a copy and
 * no registration.  A receive buffer a message took is given back as soon
 * as the message has been handled or copied aside (peer.c), and reposted
 * with the next work the domain posts, or with others (rx_repost).  A few send
 * buffers are kept for control messages (for_ctrl): FIN and ACK let peers
 * finish their operations, so application sends must not take them all.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct fpgadma_txbuf *fpgadma_txbuf_get(struct fpgadma_dp *dp, bool for_ctrl)
{
	struct fpgadma_txbuf *tb;

	if (!dp->host_ep || dl_empty(&dp->tx_free))
		return NULL;
	if (!for_ctrl && dp->tx_nfree <= dp->tx_reserve)
		return NULL;
	tb = dl_first(&dp->tx_free, struct fpgadma_txbuf, link);
	dl_del(&tb->link);
	dp->tx_nfree--;
	tb->op = NULL;
	tb->peer = NULL;
	tb->nop_tries = 0;
	tb->no_chan = false;
	memset(tb->hdr, 0, sizeof(*tb->hdr));
	return tb;
}

void fpgadma_txbuf_put(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb)
{
	dl_del(&tb->plink);
	tb->op = NULL;
	tb->iov = NULL;
	dl_add_tail(&dp->tx_free, &tb->link);
	dp->tx_nfree++;
}

/*
 * A receive buffer whose message was handled waits on dp->rxq while the
 * kernel holds enough others (all but rx_defer): the next work posted
 * takes the waiting ones along in its system call (postq.c), so a message
 * received and answered costs one system call, not two.  The one that
 * fills rxq posts them all at once.
 */
void fpgadma_rxbuf_post(struct fpgadma_dp *dp, struct fpgadma_rxbuf *rb)
{
	rb->w.nposted = rb->w.ndone = 0;
	rb->w.first_err = 0;
	if (dp->rx_defer < 2) {
		fpgadma_work_submit(dp, &rb->w);
		return;
	}
	rb->w.queued = true;
	if (dp->rxq_len + 1 < dp->rx_defer) {
		dl_add_tail(&dp->rxq, &rb->w.qlink);
		dp->rxq_len++;
		return;
	}
	fpgadma_rxq_to_postq(dp);
	dl_add_tail(&dp->postq, &rb->w.qlink);
	fpgadma_postq_flush(dp);
}

void fpgadma_rxq_to_postq(struct fpgadma_dp *dp)
{
	while (!dl_empty(&dp->rxq)) {
		struct dl *n = dp->rxq.next;

		dl_del(n);
		dl_add_tail(&dp->postq, n);
	}
	dp->rxq_len = 0;
}

static void *alloc_pool(size_t size, size_t align)
{
	void *p = NULL;

	if (posix_memalign(&p, align, size))
		return NULL;
	memset(p, 0, size);
	return p;
}

int fpgadma_pools_init(struct fpgadma_dp *dp)
{
	size_t page = dp->attr.page_size ? dp->attr.page_size : 4096;
	size_t i;
	int ret;

	dp->rx_mem = alloc_pool(dp->nrx * dp->buf_size, page);
	dp->tx_mem = alloc_pool(dp->ntx * dp->buf_size, page);
	dp->rx = calloc(dp->nrx, sizeof(*dp->rx));
	dp->tx = calloc(dp->ntx, sizeof(*dp->tx));
	if (!dp->rx_mem || !dp->tx_mem || !dp->rx || !dp->tx)
		return -FI_ENOMEM;
	ret = fpgadma_reg_mr(dp->d->pd, dp->rx_mem, dp->nrx * dp->buf_size,
			     FPGADMA_ACCESS_LOCAL_WRITE, &dp->rx_mr);
	if (ret)
		return fpgadma_errno_to_fi(ret);
	/* writable: small reads land in send buffers too (rma.c) */
	ret = fpgadma_reg_mr(dp->d->pd, dp->tx_mem, dp->ntx * dp->buf_size,
			     FPGADMA_ACCESS_LOCAL_WRITE, &dp->tx_mr);
	if (ret)
		return fpgadma_errno_to_fi(ret);

	for (i = 0; i < dp->ntx; i++) {
		struct fpgadma_txbuf *tb = &dp->tx[i];

		tb->w.kind = FPGADMA_WORK_TX;
		tb->w.wrs = &tb->wr;
		tb->w.nwr = 1;
		dl_init(&tb->w.qlink);
		tb->hdr = (void *)((char *)dp->tx_mem + i * dp->buf_size);
		tb->sge.addr = (uint64_t)(uintptr_t)tb->hdr;
		tb->sge.lkey = dp->tx_mr->lkey;
		dl_init(&tb->plink);
		tb->wr.wr_id = (uint64_t)(uintptr_t)&tb->w;
		tb->wr.opcode = FPGADMA_WR_SEND;
		tb->wr.sg_list = (uint64_t)(uintptr_t)&tb->sge;
		tb->wr.num_sge = 1;
		dl_add_tail(&dp->tx_free, &tb->link);
	}
	dp->tx_nfree = dp->ntx;
	dp->tx_reserve = dp->ntx / 8 ? dp->ntx / 8 : 1;

	for (i = 0; i < dp->nrx; i++) {
		struct fpgadma_rxbuf *rb = &dp->rx[i];

		rb->w.kind = FPGADMA_WORK_RX;
		rb->w.wrs = &rb->wr;
		rb->w.nwr = 1;
		dl_init(&rb->w.qlink);
		rb->buf = (char *)dp->rx_mem + i * dp->buf_size;
		rb->sge.addr = (uint64_t)(uintptr_t)rb->buf;
		rb->sge.length = (uint32_t)dp->buf_size;
		rb->sge.lkey = dp->rx_mr->lkey;
		rb->wr.wr_id = (uint64_t)(uintptr_t)&rb->w;
		rb->wr.opcode = FPGADMA_WR_RECV;
		rb->wr.sg_list = (uint64_t)(uintptr_t)&rb->sge;
		rb->wr.num_sge = 1;
		fpgadma_rxbuf_post(dp, rb);
	}
	return 0;
}

/*
 * First of the domain's teardown (dp.c): the kernel completes RECVs of a
 * deregistered MR, and a deregistration waits for the work using the MR.
 */
void fpgadma_pools_dereg(struct fpgadma_dp *dp)
{
	if (dp->rx_mr)
		fpgadma_dereg_mr(dp->rx_mr);
	if (dp->tx_mr)
		fpgadma_dereg_mr(dp->tx_mr);
}

void fpgadma_pools_free(struct fpgadma_dp *dp)
{
	free(dp->rx);
	free(dp->tx);
	free(dp->rx_mem);
	free(dp->tx_mem);
}
