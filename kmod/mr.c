// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma memory regions: keys, rights, the tables that find them and the
 * hold work takes on them (siw_mem.c's shape: lookup, range and rights
 * check, reference, release in one place).
 *
 * An lkey lives in its context's table and means nothing elsewhere; an rkey
 * lives in the device's table, for peers the owner hands it to.  Both are
 * random 32-bit values, so one process cannot name another's MR by counting.
 * The tables hold one reference on an MR, each work request that uses it
 * another (fpgadma_mr_get_local(), fpgadma_mr_get_remote()), and so does a
 * paced stream writing into it (fpgadma_mr_get_range()); deregistration
 * takes the MR out of both tables (no new work can find it), flushes the
 * RECVs and stops the streams on it, drops the tables' reference and
 * waits for the last one to go.
 */
#include <linux/completion.h>
#include <linux/overflow.h>
#include <linux/random.h>
#include <linux/refcount.h>
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
 * Return: 0, or a negative errno from fpgadma_umem_get(), the monitor
 * (fpgadma_mon_start(): -ENOSPC with every slot taken) or key allocation;
 * on error nothing is registered, pinned, charged or watched.
 */
int fpgadma_mr_reg(struct fpgadma_ctx *ctx, struct fpgadma_reg_mr *cmd)
{
	struct fpgadma_dev *fdev = ctx->fdev;
	bool writable = cmd->access & (FPGADMA_ACCESS_LOCAL_WRITE |
				       FPGADMA_ACCESS_REMOTE_WRITE);
	bool monitor = cmd->flags & FPGADMA_REG_MR_MONITOR;
	u64 t_reg = fpgadma_stage_start(), t0;
	unsigned long seq = 0;
	struct fpgadma_kmr *mr;
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
	refcount_set(&mr->refs, 1);	/* the tables' */
	init_completion(&mr->released);

	if (monitor) {
		/* Watch first: no change between pinning and watching is missed. */
		ret = fpgadma_mon_start(mr);
		if (ret)
			goto err_free;
		mr->umem = fpgadma_mon_pin(mr, writable, &seq);
	} else {
		mr->umem = fpgadma_umem_get(fdev, cmd->addr, cmd->length,
					    writable);
	}
	if (IS_ERR(mr->umem)) {
		ret = PTR_ERR(mr->umem);
		goto err_mon;
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
	if (monitor)
		fpgadma_mon_arm(mr, seq);
	mutex_unlock(&ctx->lock);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_REG_KEY, t0);

	cmd->lkey = mr->lkey;
	cmd->mon_slot = mr->mon_slot;
	cmd->mon_gen = mr->mon_gen;
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
err_mon:
	fpgadma_mon_stop(mr);
err_free:
	kfree(mr);
	return ret;
}

/**
 * fpgadma_mr_get_local() - hold the MR a piece of a work request names.
 * @ctx:	the posting context, whose lkey table is searched.
 * @lkey:	the piece's lkey.
 * @addr:	the piece's first byte (a user address inside the MR).
 * @len:	its length.
 * @device_writes: the device writes the piece (needs LOCAL_WRITE).
 * @piece:	on success: the MR, held, and the piece's offset and length.
 *
 * Context: process context with @ctx->lock held, so that the MR cannot
 * leave the table between the lookup and the hold.
 * Return: FPGADMA_WC_SUCCESS, or the status the work completes with:
 * FPGADMA_WC_LOC_PROT_ERR (no such lkey), FPGADMA_WC_LOC_LEN_ERR (the
 * piece is not inside the MR), FPGADMA_WC_LOC_ACCESS_ERR (no right).
 */
u32 fpgadma_mr_get_local(struct fpgadma_ctx *ctx, u32 lkey, u64 addr, u32 len,
			 bool device_writes, struct fpgadma_piece *piece)
{
	struct fpgadma_kmr *mr;
	u64 end;

	lockdep_assert_held(&ctx->lock);
	mr = xa_load(&ctx->mrs, lkey);
	if (!mr)
		return FPGADMA_WC_LOC_PROT_ERR;
	if (check_add_overflow(addr, (u64)len, &end) ||
	    addr < mr->iova || end > mr->iova + mr->length)
		return FPGADMA_WC_LOC_LEN_ERR;
	if (device_writes && !(mr->access & FPGADMA_ACCESS_LOCAL_WRITE))
		return FPGADMA_WC_LOC_ACCESS_ERR;
	refcount_inc(&mr->refs);
	piece->mr = mr;
	piece->offset = addr - mr->iova;
	piece->len = len;
	return FPGADMA_WC_SUCCESS;
}

/**
 * fpgadma_mr_get_range() - hold an MR of the context for a range of it.
 * @ctx:	the context, whose lkey table is searched.
 * @lkey:	the MR's lkey.
 * @offset:	the range's first byte, as an offset into the MR.
 * @len:	its bytes.
 * @right:	FPGADMA_ACCESS_* bits the MR must have.
 * @mrp:	on success: the MR, held (fpgadma_mr_put()).
 *
 * For what is not work but holds an MR as work does (a paced stream).
 *
 * Context: process context with @ctx->lock held.
 * Return: 0, -EINVAL (no such lkey, or the range not inside the MR) or
 * -EACCES (the MR lacks @right).
 */
int fpgadma_mr_get_range(struct fpgadma_ctx *ctx, u32 lkey, u64 offset,
			 u64 len, u32 right, struct fpgadma_kmr **mrp)
{
	struct fpgadma_kmr *mr;
	u64 end;

	lockdep_assert_held(&ctx->lock);
	mr = xa_load(&ctx->mrs, lkey);
	if (!mr || check_add_overflow(offset, len, &end) || end > mr->length)
		return -EINVAL;
	if ((mr->access & right) != right)
		return -EACCES;
	refcount_inc(&mr->refs);
	*mrp = mr;
	return 0;
}

/**
 * fpgadma_mr_get_remote() - hold the peer MR an RDMA or atomic WR names.
 * @fdev:	the device, whose rkey table is searched.
 * @rkey:	the peer MR's rkey.
 * @right:	FPGADMA_ACCESS_REMOTE_WRITE, FPGADMA_ACCESS_REMOTE_READ or
 *		both (an atomic that modifies and fetches): all of them.
 * @raddr:	a user address in the peer MR, or with @offset an offset.
 * @offset:	@raddr is an offset into the MR (FPGADMA_WR_F_REMOTE_OFFSET).
 * @len:	bytes.
 * @piece:	on success: the MR, held, and the range's offset and length.
 *
 * Context: any context that may take a spinlock; takes the rkey table's
 * lock, which keeps the MR from being destroyed between lookup and hold.
 * Return: FPGADMA_WC_SUCCESS, or FPGADMA_WC_REM_ACCESS_ERR (no such rkey,
 * no right, or the range not inside the MR), which tells the initiator
 * nothing more about the peer's memory.
 */
u32 fpgadma_mr_get_remote(struct fpgadma_dev *fdev, u32 rkey, u32 right,
			  u64 raddr, bool offset, u64 len,
			  struct fpgadma_piece *piece)
{
	u32 status = FPGADMA_WC_REM_ACCESS_ERR;
	struct fpgadma_kmr *mr;
	u64 off, end;

	xa_lock(&fdev->rkeys);
	mr = xa_load(&fdev->rkeys, rkey);
	if (!mr || (mr->access & right) != right)
		goto out;
	if (offset) {
		off = raddr;
	} else {
		if (raddr < mr->iova)
			goto out;
		off = raddr - mr->iova;
	}
	if (check_add_overflow(off, len, &end) || end > mr->length)
		goto out;
	refcount_inc(&mr->refs);
	piece->mr = mr;
	piece->offset = off;
	piece->len = len;
	status = FPGADMA_WC_SUCCESS;
out:
	xa_unlock(&fdev->rkeys);
	return status;
}

/**
 * fpgadma_mr_put() - drop a hold on @mr.
 * @mr:		an MR held by fpgadma_mr_get_local() or fpgadma_mr_get_remote().
 *
 * The last hold lets the owner's deregistration go on, which frees the MR:
 * @mr may be gone when this returns.
 *
 * Context: any context, also interrupt.
 */
void fpgadma_mr_put(struct fpgadma_kmr *mr)
{
	if (refcount_dec_and_test(&mr->refs))
		complete(&mr->released);
}

/*
 * Flush the RECVs and stop the streams holding @mr, which is in no table
 * any more, wait for the work holding it, then free it.
 */
static void fpgadma_mr_destroy(struct fpgadma_kmr *mr)
{
	struct fpgadma_ctx *ctx = mr->ctx;
	struct fpgadma_dev *fdev = ctx->fdev;
	u64 t_dereg = fpgadma_stage_start(), t0;

	xa_erase(&fdev->rkeys, mr->rkey);
	/* Posted RECVs would hold the MR until a SEND comes: flush them. */
	fpgadma_recv_flush(ctx, mr);
	/* So would a stream writing into it until it is stopped. */
	fpgadma_stream_mr_gone(ctx, mr);
	t0 = fpgadma_stage_start();
	fpgadma_mr_put(mr);
	/* complete() is done with @mr once this returns: it may be freed */
	wait_for_completion(&mr->released);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_DEREG_WAIT, t0);
	atomic64_sub(mr->umem->npages, &fdev->stats.pinned_pages);
	atomic64_dec(&fdev->stats.live_mrs);
	/* Stop watching before the pages go, so no callback sees them go. */
	fpgadma_mon_stop(mr);
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
	struct fpgadma_kmr *mr;

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
	struct fpgadma_kmr *mr;
	unsigned long key;

	xa_for_each(&ctx->mrs, key, mr) {
		xa_erase(&ctx->mrs, key);
		fpgadma_mr_destroy(mr);
	}
}
