// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma receive queues: the RECVs a context has posted, in order, for the
 * SENDs of its peers on the device to fill.  A posted RECV holds its MRs
 * and counts as work in flight until a SEND fills it or it is flushed
 * (its MR deregistered, its context closed, its device gone).
 */
#include <linux/list.h>
#include <linux/spinlock.h>

#include "fpgadma.h"

/**
 * fpgadma_recv_queue() - post a RECV on its context's queue.
 * @work:	a RECV resolved without error; the queue owns it now.
 *
 * Context: process context with @work->ctx->lock held, so that a
 * deregistration of its MR, which takes the lkey out under that lock,
 * finds it to flush; takes the context's recv_lock.
 */
void fpgadma_recv_queue(struct fpgadma_wqe *work)
{
	struct fpgadma_ctx *ctx = work->ctx;

	lockdep_assert_held(&ctx->lock);
	spin_lock(&ctx->recv_lock);
	list_add_tail(&work->node, &ctx->recvq);
	spin_unlock(&ctx->recv_lock);
}

/**
 * fpgadma_recv_take() - find the RECV a SEND fills; called by engines.
 * @fdev:	the device.
 * @dest:	the ep_id the SEND names.
 * @status:	set to FPGADMA_WC_SUCCESS, or to FPGADMA_WC_REM_INV_REQ_ERR
 *		(no such endpoint) or FPGADMA_WC_RNR_ERR (none posted).
 *
 * The RECV leaves the queue; the engine owns it and completes it with
 * fpgadma_work_done().  Its context cannot go away meanwhile: the RECV
 * counts in the context's inflight, which closing waits for.
 *
 * Context: any context, also interrupt; takes the device's eps lock and the context's recv_lock.
 * Return: the oldest RECV of the endpoint, or NULL.
 */
struct fpgadma_wqe *fpgadma_recv_take(struct fpgadma_dev *fdev, u32 dest,
				       u32 *status)
{
	struct fpgadma_wqe *recv = NULL;
	struct fpgadma_ctx *ctx;

	*status = FPGADMA_WC_REM_INV_REQ_ERR;
	xa_lock(&fdev->eps);
	ctx = xa_load(&fdev->eps, dest);
	if (ctx) {
		spin_lock(&ctx->recv_lock);
		recv = list_first_entry_or_null(&ctx->recvq,
						struct fpgadma_wqe, node);
		if (recv)
			list_del(&recv->node);
		spin_unlock(&ctx->recv_lock);
		*status = recv ? FPGADMA_WC_SUCCESS : FPGADMA_WC_RNR_ERR;
	}
	xa_unlock(&fdev->eps);
	return recv;
}
EXPORT_SYMBOL_GPL(fpgadma_recv_take);

/**
 * fpgadma_recv_flush() - complete posted RECVs with FPGADMA_WC_FLUSH_ERR.
 * @ctx:	the context.
 * @mr:		only the RECVs with a piece in this MR; NULL: all of them.
 *
 * Context: process context; takes @ctx->recv_lock.
 */
void fpgadma_recv_flush(struct fpgadma_ctx *ctx, struct fpgadma_kmr *mr)
{
	struct fpgadma_wqe *work, *tmp;
	LIST_HEAD(flushed);
	bool hit;
	u32 i;

	spin_lock(&ctx->recv_lock);
	list_for_each_entry_safe(work, tmp, &ctx->recvq, node) {
		hit = !mr;
		for (i = 0; !hit && i < work->npieces; i++)
			hit = work->pieces[i].mr == mr;
		if (hit)
			list_move_tail(&work->node, &flushed);
	}
	spin_unlock(&ctx->recv_lock);
	list_for_each_entry_safe(work, tmp, &flushed, node) {
		list_del(&work->node);
		fpgadma_work_done(work, FPGADMA_WC_FLUSH_ERR, 0);
	}
}
