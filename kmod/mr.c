// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma memory regions: keys, rights and the tables that find them.
 *
 * An lkey lives in its context's table and means nothing elsewhere; an rkey
 * lives in the device's table, for peers the owner hands it to.  Both are
 * random 32-bit values, so one process cannot name another's MR by counting.
 * Work holds an MR through mr->inflight; deregistration first takes the MR
 * out of both tables (no new work can find it), then waits for the work that
 * already holds it.
 */
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "fpgadma.h"

/* Store @entry at a fresh random non-zero index of @xa; the index in @key. */
static int fpgadma_key_insert(struct xarray *xa, void *entry, u32 *key)
{
	int tries, ret;

	for (tries = 0; tries < 64; tries++) {
		u32 k = get_random_u32();

		if (!k)
			continue;
		ret = xa_insert(xa, k, entry, GFP_KERNEL);
		if (ret == -EBUSY)
			continue;
		if (!ret)
			*key = k;
		return ret;
	}
	return -EAGAIN;
}

/**
 * fpgadma_mr_reg() - register user memory (FPGADMA_IOC_REG_MR).
 * @ctx:	the calling context; the caller is its owning process.
 * @cmd:	the request, validated except for the range; lkey, rkey and
 *		nsegs are filled in on success.
 *
 * Context: process context of the owner, may sleep; takes @ctx->lock.
 * Return: 0, or a negative errno from fpgadma_umem_get() or key allocation;
 * on error nothing is registered, pinned or charged.
 */
int fpgadma_mr_reg(struct fpgadma_ctx *ctx, struct fpgadma_reg_mr *cmd)
{
	struct fpgadma_dev *fdev = ctx->fdev;
	bool writable = cmd->access & (FPGADMA_ACCESS_LOCAL_WRITE |
				       FPGADMA_ACCESS_REMOTE_WRITE);
	u64 t_reg = fpgadma_stage_start(), t0;
	struct fpgadma_mr *mr;
	int ret;

	if (cmd->length > fpgadma_max_mr_size)
		return -EINVAL;

	mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	if (!mr)
		return -ENOMEM;
	mr->ctx = ctx;
	mr->iova = cmd->addr;
	mr->length = cmd->length;
	mr->access = cmd->access;
	atomic_set(&mr->inflight, 0);

	mr->umem = fpgadma_umem_get(fdev, cmd->addr, cmd->length, writable);
	if (IS_ERR(mr->umem)) {
		ret = PTR_ERR(mr->umem);
		goto err_free;
	}

	/*
	 * Under ctx->lock no WR of ours can find the MR before both keys are
	 * in; the rkey goes in last, so no peer finds an MR that may still
	 * be taken back.
	 */
	t0 = fpgadma_stage_start();
	mutex_lock(&ctx->lock);
	ret = fpgadma_key_insert(&ctx->mrs, mr, &mr->lkey);
	if (ret)
		goto err_unlock;
	if (cmd->flags & FPGADMA_REG_MR_REQ_RKEY) {
		ret = xa_insert(&fdev->rkeys, cmd->rkey, mr, GFP_KERNEL);
		if (ret == -EBUSY)
			ret = -EEXIST;
		mr->rkey = cmd->rkey;
	} else {
		ret = fpgadma_key_insert(&fdev->rkeys, mr, &mr->rkey);
	}
	if (ret)
		goto err_lkey;
	mutex_unlock(&ctx->lock);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_REG_KEY, t0);

	cmd->lkey = mr->lkey;
	cmd->rkey = mr->rkey;
	cmd->nsegs = mr->umem->sgt_append.sgt.nents;
	atomic64_inc(&fdev->stats.live_mrs);
	atomic64_add(mr->umem->npages, &fdev->stats.pinned_pages);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_REG_TOTAL, t_reg);
	return 0;

err_lkey:
	xa_erase(&ctx->mrs, mr->lkey);
err_unlock:
	mutex_unlock(&ctx->lock);
	fpgadma_umem_release(mr->umem);
err_free:
	kfree(mr);
	return ret;
}

/**
 * fpgadma_mr_put() - drop a hold a peer's work took on @mr through its rkey.
 * @mr:		an MR of another context, or of the same one.
 *
 * The owner may be waiting in fpgadma_mr_destroy() and free the MR and its
 * context as soon as it sees no holder: the wake-up happens under the
 * owner's cq_lock, which the owner takes once more before going on.  Any
 * context, also interrupt.
 *
 * Context: any context, also interrupt.
 */
void fpgadma_mr_put(struct fpgadma_mr *mr)
{
	struct fpgadma_ctx *owner = mr->ctx;
	unsigned long flags;

	spin_lock_irqsave(&owner->cq_lock, flags);
	if (atomic_dec_and_test(&mr->inflight))
		wake_up_all(&owner->idle_wait);
	spin_unlock_irqrestore(&owner->cq_lock, flags);
}

/* Wait for the work holding @mr, which is in no table any more, then free it. */
static void fpgadma_mr_destroy(struct fpgadma_mr *mr)
{
	struct fpgadma_ctx *ctx = mr->ctx;
	struct fpgadma_dev *fdev = ctx->fdev;
	u64 t_dereg = fpgadma_stage_start(), t0;

	xa_erase(&fdev->rkeys, mr->rkey);
	/* Posted RECVs would hold the MR until a SEND comes: flush them. */
	fpgadma_recv_flush(ctx, mr);
	t0 = fpgadma_stage_start();
	wait_event(ctx->idle_wait, !atomic_read(&mr->inflight));
	/* Let a waker in fpgadma_mr_put() leave the lock first. */
	spin_lock_irq(&ctx->cq_lock);
	spin_unlock_irq(&ctx->cq_lock);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_DEREG_WAIT, t0);
	atomic64_sub(mr->umem->npages, &fdev->stats.pinned_pages);
	atomic64_dec(&fdev->stats.live_mrs);
	fpgadma_umem_release(mr->umem);
	kfree(mr);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_DEREG_TOTAL, t_dereg);
}

/**
 * fpgadma_mr_dereg() - deregister an MR (FPGADMA_IOC_DEREG_MR).
 * @ctx:	the calling context.
 * @lkey:	the MR's lkey.
 *
 * Sleeps until work already posted on the MR has completed.
 *
 * Context: process context of the owner, may sleep; takes @ctx->lock.
 * Return: 0, or -EINVAL if @ctx has no MR with that key.
 */
int fpgadma_mr_dereg(struct fpgadma_ctx *ctx, u32 lkey)
{
	struct fpgadma_mr *mr;

	mutex_lock(&ctx->lock);
	mr = xa_erase(&ctx->mrs, lkey);
	mutex_unlock(&ctx->lock);
	if (!mr)
		return -EINVAL;
	fpgadma_mr_destroy(mr);
	return 0;
}

/**
 * fpgadma_mr_destroy_all() - deregister every MR of a closing context.
 * @ctx:	a context no process can reach any more.
 *
 * Context: process context, may sleep; nothing else uses @ctx.
 */
void fpgadma_mr_destroy_all(struct fpgadma_ctx *ctx)
{
	struct fpgadma_mr *mr;
	unsigned long key;

	xa_for_each(&ctx->mrs, key, mr) {
		xa_erase(&ctx->mrs, key);
		fpgadma_mr_destroy(mr);
	}
}
