// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma work requests and completions.
 *
 * POST copies a batch of WRs in, checks their form (a malformed batch posts
 * nothing), reserves a completion slot for each, resolves every piece to an
 * MR it holds, and hands the work to the engine in order.  Checks that depend
 * on keys, bounds and rights do not fail the call: like an RDMA device, the
 * WR completes with an error status and moves nothing.
 *
 * Completions go into a ring the process maps: the kernel writes the CQE,
 * then publishes the tail with release semantics; the process reads up to
 * the tail and publishes its head.  A slot is reserved at post time, so a
 * process that keeps its head honest never loses a CQE; one that does not
 * only hurts itself (FPGADMA_RING_OVERFLOW).
 */
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "fpgadma.h"

/* Ring layout: each index on its own cache line, then the CQEs. */
#define FPGADMA_RING_HEAD_OFF	0
#define FPGADMA_RING_TAIL_OFF	64
#define FPGADMA_RING_FLAGS_OFF	128
#define FPGADMA_RING_CQES_OFF	192

/**
 * fpgadma_ctx_init_ring() - allocate a context's completion ring.
 * @ctx:	a new context.
 * @entries:	CQE slots, a power of two.
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int fpgadma_ctx_init_ring(struct fpgadma_ctx *ctx, u32 entries)
{
	size_t size = FPGADMA_RING_CQES_OFF +
		      (size_t)entries * sizeof(struct fpgadma_cqe);

	ctx->ring = vmalloc_user(size);
	if (!ctx->ring)
		return -ENOMEM;
	ctx->ring_size = size;
	ctx->cq_entries = entries;
	ctx->head = ctx->ring + FPGADMA_RING_HEAD_OFF;
	ctx->tail = ctx->ring + FPGADMA_RING_TAIL_OFF;
	ctx->flags = ctx->ring + FPGADMA_RING_FLAGS_OFF;
	ctx->cqes = ctx->ring + FPGADMA_RING_CQES_OFF;
	spin_lock_init(&ctx->cq_lock);
	init_waitqueue_head(&ctx->cq_wait);
	init_waitqueue_head(&ctx->idle_wait);
	return 0;
}

/**
 * fpgadma_ring_layout() - the ring's offsets, for QUERY.
 * @ctx:	the context.
 * @q:		filled with ring_size and the ring_*_off fields.
 *
 * Context: any context.
 */
void fpgadma_ring_layout(struct fpgadma_ctx *ctx, struct fpgadma_query *q)
{
	q->cq_entries = ctx->cq_entries;
	q->ring_size = ctx->ring_size;
	q->ring_head_off = FPGADMA_RING_HEAD_OFF;
	q->ring_tail_off = FPGADMA_RING_TAIL_OFF;
	q->ring_flags_off = FPGADMA_RING_FLAGS_OFF;
	q->ring_cqes_off = FPGADMA_RING_CQES_OFF;
}

/* CQEs the process has not consumed yet; a head it has garbled reads as full. */
static u32 fpgadma_cq_used(struct fpgadma_ctx *ctx)
{
	u32 used = ctx->cq_tail - READ_ONCE(*ctx->head);

	return min(used, ctx->cq_entries);
}

/**
 * fpgadma_ctx_cq_ready() - whether a CQE waits in the ring (for poll()).
 * @ctx:	the context.
 *
 * Context: any context.
 * Return: true if the process has CQEs to consume.
 */
bool fpgadma_ctx_cq_ready(struct fpgadma_ctx *ctx)
{
	return READ_ONCE(ctx->cq_tail) != READ_ONCE(*ctx->head);
}

/**
 * fpgadma_ctx_drain() - wait until no work of the context is in flight.
 * @ctx:	the context.
 *
 * Context: process context, may sleep; no new work may be posted meanwhile.
 */
void fpgadma_ctx_drain(struct fpgadma_ctx *ctx)
{
	wait_event(ctx->idle_wait, !READ_ONCE(ctx->inflight));
	/* fpgadma_work_done() wakes under the lock: let it leave. */
	spin_lock_irq(&ctx->cq_lock);
	spin_unlock_irq(&ctx->cq_lock);
}

/**
 * fpgadma_work_done() - complete a work request; called by engines.
 * @work:	the work, owned by the engine until now; freed here.
 * @status:	FPGADMA_WC_* (ignored if the work already carries an error).
 * @bytes:	bytes moved.
 *
 * Releases the work's MRs, writes its CQE and wakes pollers and waiters.
 * Any context, also interrupt.
 *
 * Context: any context, also interrupt; takes the context's cq_lock.
 */
void fpgadma_work_done(struct fpgadma_work *work, u32 status, u64 bytes)
{
	struct fpgadma_ctx *ctx = work->ctx;
	struct fpgadma_dev *fdev = ctx->fdev;
	struct fpgadma_stats *stats = &fdev->stats;
	u64 t0 = fpgadma_stage_start();
	struct fpgadma_cqe *cqe;
	unsigned long irqflags;
	u32 i;

	if (work->t_start)
		fpgadma_stage_end(fdev, FPGADMA_STAGE_ENGINE, work->t_start);

	if (work->status != FPGADMA_WC_SUCCESS)
		status = work->status;
	if (status != FPGADMA_WC_SUCCESS) {
		bytes = 0;
		atomic64_inc(&stats->wr_errors);
	} else if (work->opcode == FPGADMA_WR_WRITE_MEM) {
		atomic64_add(bytes, &stats->bytes_to_device);
	} else if (work->opcode != FPGADMA_WR_SEND) {
		/* A SEND's bytes are counted once, by the RECV it filled. */
		atomic64_add(bytes, &stats->bytes_to_host);
	}
	atomic64_inc(&stats->wrs_completed);

	for (i = 0; i < work->npieces; i++)
		atomic_dec(&work->pieces[i].mr->inflight);
	if (work->remote.mr)
		fpgadma_mr_put(work->remote.mr);

	spin_lock_irqsave(&ctx->cq_lock, irqflags);
	ctx->outstanding--;
	if (fpgadma_cq_used(ctx) >= ctx->cq_entries) {
		WRITE_ONCE(*ctx->flags, READ_ONCE(*ctx->flags) | FPGADMA_RING_OVERFLOW);
	} else {
		cqe = &ctx->cqes[ctx->cq_tail & (ctx->cq_entries - 1)];
		cqe->wr_id = work->wr_id;
		cqe->status = status;
		cqe->opcode = work->opcode;
		cqe->byte_len = bytes;
		cqe->vendor_err = 0;
		cqe->src_ep = status == FPGADMA_WC_SUCCESS ? work->src_ep : 0;
		WRITE_ONCE(ctx->cq_tail, ctx->cq_tail + 1);
		/* Pairs with the process's load-acquire of the tail: CQE first. */
		smp_store_release(ctx->tail, ctx->cq_tail);
	}
	ctx->inflight--;
	wake_up_all(&ctx->idle_wait);
	wake_up_interruptible(&ctx->cq_wait);
	spin_unlock_irqrestore(&ctx->cq_lock, irqflags);
	/* The context may be gone now; the device is not. */
	kfree(work);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_COMPLETE, t0);
}
EXPORT_SYMBOL_GPL(fpgadma_work_done);

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
struct fpgadma_work *fpgadma_recv_take(struct fpgadma_dev *fdev, u32 dest,
				       u32 *status)
{
	struct fpgadma_work *recv = NULL;
	struct fpgadma_ctx *ctx;

	*status = FPGADMA_WC_REM_INV_REQ_ERR;
	xa_lock(&fdev->eps);
	ctx = xa_load(&fdev->eps, dest);
	if (ctx) {
		spin_lock(&ctx->recv_lock);
		recv = list_first_entry_or_null(&ctx->recvq,
						struct fpgadma_work, node);
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
void fpgadma_recv_flush(struct fpgadma_ctx *ctx, struct fpgadma_mr *mr)
{
	struct fpgadma_work *work, *tmp;
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

/* Reserve @n CQE slots, or -EAGAIN if the ring cannot take them. */
static int fpgadma_cq_reserve(struct fpgadma_ctx *ctx, u32 n)
{
	int ret = 0;

	spin_lock_irq(&ctx->cq_lock);
	if ((u64)ctx->outstanding + fpgadma_cq_used(ctx) + n > ctx->cq_entries) {
		ret = -EAGAIN;
	} else {
		ctx->outstanding += n;
		ctx->inflight += n;
	}
	spin_unlock_irq(&ctx->cq_lock);
	return ret;
}

/*
 * The form of a WR: -EINVAL for what no device accepts, -EOPNOTSUPP for a
 * host-endpoint opcode on a device without FPGADMA_CAP_HOST_EP.
 */
static int fpgadma_wr_check(const struct fpgadma_dev *fdev,
			    const struct fpgadma_wr *wr)
{
	bool rdma = wr->opcode == FPGADMA_WR_RDMA_WRITE ||
		    wr->opcode == FPGADMA_WR_RDMA_READ;

	if (wr->reserved0 || wr->reserved || wr->num_sge > fpgadma_max_sge)
		return -EINVAL;
	if (wr->flags & ~(rdma ? FPGADMA_WR_F_REMOTE_OFFSET : 0))
		return -EINVAL;
	if (!rdma && wr->rkey)
		return -EINVAL;
	if (wr->opcode != FPGADMA_WR_SEND && wr->dest)
		return -EINVAL;
	switch (wr->opcode) {
	case FPGADMA_WR_READ_MEM:
	case FPGADMA_WR_WRITE_MEM:
		return 0;
	case FPGADMA_WR_READ_STREAM:
		return wr->dev_addr ? -EINVAL : 0;
	case FPGADMA_WR_RDMA_WRITE:
	case FPGADMA_WR_RDMA_READ:
	case FPGADMA_WR_SEND:
	case FPGADMA_WR_RECV:
		if (!rdma && wr->dev_addr)
			return -EINVAL;
		return fdev->ops->caps & FPGADMA_CAP_HOST_EP ? 0 : -EOPNOTSUPP;
	default:
		return -EINVAL;
	}
}

/*
 * Check one piece against its MR; on success take a hold on the MR.
 * Called with ctx->lock held, so the MR cannot leave the table meanwhile.
 */
static u32 fpgadma_piece_resolve(struct fpgadma_ctx *ctx,
				 const struct fpgadma_wr *wr,
				 const struct fpgadma_sge *sge,
				 struct fpgadma_piece *piece)
{
	struct fpgadma_mr *mr = xa_load(&ctx->mrs, sge->lkey);
	u64 end;

	if (!mr)
		return FPGADMA_WC_LOC_PROT_ERR;
	if (check_add_overflow(sge->addr, (u64)sge->length, &end) ||
	    sge->addr < mr->iova || end > mr->iova + mr->length)
		return FPGADMA_WC_LOC_LEN_ERR;
	if (fpgadma_wr_device_writes(wr->opcode) &&
	    !(mr->access & FPGADMA_ACCESS_LOCAL_WRITE))
		return FPGADMA_WC_LOC_ACCESS_ERR;
	atomic_inc(&mr->inflight);
	piece->mr = mr;
	piece->offset = sge->addr - mr->iova;
	piece->len = sge->length;
	return FPGADMA_WC_SUCCESS;
}

/*
 * Find the peer MR of an RDMA WR by its rkey and check the range and the
 * right; on success hold it in work->remote.  The rkey table's lock keeps
 * the MR from being destroyed between the lookup and the hold.
 */
static u32 fpgadma_remote_resolve(struct fpgadma_dev *fdev,
				  const struct fpgadma_wr *wr, u64 total,
				  struct fpgadma_work *work)
{
	u32 right = wr->opcode == FPGADMA_WR_RDMA_WRITE ?
		    FPGADMA_ACCESS_REMOTE_WRITE : FPGADMA_ACCESS_REMOTE_READ;
	u32 status = FPGADMA_WC_REM_ACCESS_ERR;
	struct fpgadma_mr *mr;
	u64 offset, end;

	xa_lock(&fdev->rkeys);
	mr = xa_load(&fdev->rkeys, wr->rkey);
	if (!mr || !(mr->access & right))
		goto out;
	if (wr->flags & FPGADMA_WR_F_REMOTE_OFFSET) {
		offset = wr->dev_addr;
	} else {
		if (wr->dev_addr < mr->iova)
			goto out;
		offset = wr->dev_addr - mr->iova;
	}
	if (check_add_overflow(offset, total, &end) || end > mr->length)
		goto out;
	atomic_inc(&mr->inflight);
	work->remote.mr = mr;
	work->remote.offset = offset;
	work->remote.len = total;
	status = FPGADMA_WC_SUCCESS;
out:
	xa_unlock(&fdev->rkeys);
	return status;
}

/* Resolve all pieces of @work; on any error hold none and record the status. */
static void fpgadma_work_resolve(struct fpgadma_ctx *ctx,
				 const struct fpgadma_wr *wr,
				 const struct fpgadma_sge *sges,
				 struct fpgadma_work *work)
{
	u64 total = 0, end;
	u32 i, status = FPGADMA_WC_SUCCESS;

	for (i = 0; i < wr->num_sge; i++) {
		if (!sges[i].length)
			continue;
		status = fpgadma_piece_resolve(ctx, wr, &sges[i],
					       &work->pieces[work->npieces]);
		if (status)
			break;
		work->npieces++;
		total += sges[i].length;
	}
	if (status)
		goto out;
	switch (wr->opcode) {
	case FPGADMA_WR_READ_MEM:
	case FPGADMA_WR_WRITE_MEM:
		if (check_add_overflow(wr->dev_addr, total, &end) ||
		    end > ctx->fdev->dev_mem_size)
			status = FPGADMA_WC_REM_ACCESS_ERR;
		break;
	case FPGADMA_WR_RDMA_WRITE:
	case FPGADMA_WR_RDMA_READ:
		/* One piece has at most U32_MAX bytes: so has the peer range. */
		if (total > U32_MAX)
			status = FPGADMA_WC_LOC_LEN_ERR;
		else
			status = fpgadma_remote_resolve(ctx->fdev, wr, total, work);
		break;
	}
out:
	if (status) {
		for (i = 0; i < work->npieces; i++)
			atomic_dec(&work->pieces[i].mr->inflight);
		work->npieces = 0;
		total = 0;
	}
	work->status = status;
	work->length = total;
}

/* Allocate the work of a well-formed WR; NULL if out of memory. */
static struct fpgadma_work *fpgadma_work_alloc(const struct fpgadma_wr *wr)
{
	struct fpgadma_work *work;

	work = kzalloc(struct_size(work, pieces, wr->num_sge), GFP_KERNEL);
	if (!work)
		return NULL;
	work->wr_id = wr->wr_id;
	work->opcode = wr->opcode;
	work->dev_addr = wr->dev_addr;
	work->dest = wr->dest;
	return work;
}

/*
 * A batch of up to this many WRs, with up to this many SGEs in all, is
 * copied in on the stack: a small post then allocates only its works.
 */
#define FPGADMA_POST_ONSTACK	4

/**
 * fpgadma_post() - post a batch of work requests (FPGADMA_IOC_POST).
 * @ctx:	the calling context.
 * @cmd:	the request; flags and reserved fields already checked.
 *
 * All or nothing: nothing is posted unless every WR is well formed, every
 * SGE list can be read and the ring has a slot for each WR.
 *
 * Context: process context of the owner, may sleep; takes @ctx->lock.
 * Return: 0; -EINVAL for a bad count or a malformed WR; -EOPNOTSUPP for a
 * host-endpoint WR on a device without them; -EFAULT for an
 * unreadable WR or SGE array; -EAGAIN when the ring has no room; -ENOMEM.
 */
int fpgadma_post(struct fpgadma_ctx *ctx, const struct fpgadma_post *cmd)
{
	struct fpgadma_work *work_buf[FPGADMA_POST_ONSTACK];
	struct fpgadma_sge sge_buf[FPGADMA_POST_ONSTACK];
	struct fpgadma_wr wr_buf[FPGADMA_POST_ONSTACK];
	struct fpgadma_work **works = work_buf;
	struct fpgadma_sge *sges = sge_buf;
	struct fpgadma_wr *wrs = wr_buf;
	u64 t_post = fpgadma_stage_start();
	u32 i, off, nsge = 0, n = cmd->count;
	int ret = 0;

	if (!n || n > fpgadma_max_post)
		return -EINVAL;
	if (n > FPGADMA_POST_ONSTACK) {
		wrs = kvmalloc_array(n, sizeof(*wrs), GFP_KERNEL);
		works = kvmalloc_array(n, sizeof(*works), GFP_KERNEL);
		if (!wrs || !works) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	memset(works, 0, n * sizeof(*works));
	if (copy_from_user(wrs, u64_to_user_ptr(cmd->wrs), n * sizeof(*wrs))) {
		ret = -EFAULT;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		ret = fpgadma_wr_check(ctx->fdev, &wrs[i]);
		if (ret)
			goto out_free;
		nsge += wrs[i].num_sge;
	}
	/*
	 * At most max_post * max_sge, both bounded: no overflow, but up to
	 * 1 GiB with both at their limits, hence kvmalloc.
	 */
	if (nsge > FPGADMA_POST_ONSTACK) {
		sges = kvmalloc_array(nsge, sizeof(*sges), GFP_KERNEL);
		if (!sges) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	for (i = 0, off = 0; i < n; off += wrs[i].num_sge, i++) {
		if (copy_from_user(sges + off, u64_to_user_ptr(wrs[i].sg_list),
				   wrs[i].num_sge * sizeof(*sges))) {
			ret = -EFAULT;
			goto out;
		}
		works[i] = fpgadma_work_alloc(&wrs[i]);
		if (!works[i]) {
			ret = -ENOMEM;
			goto out;
		}
		works[i]->ctx = ctx;
	}

	mutex_lock(&ctx->lock);
	ret = fpgadma_cq_reserve(ctx, n);
	for (i = 0, off = 0; !ret && i < n; off += wrs[i].num_sge, i++) {
		fpgadma_work_resolve(ctx, &wrs[i], sges + off, works[i]);
		/*
		 * A RECV is queued before the lock is dropped, so that a
		 * deregistration of its MR, which takes the lkey out under
		 * the lock, finds it to flush.
		 */
		if (works[i]->opcode == FPGADMA_WR_RECV &&
		    works[i]->status == FPGADMA_WC_SUCCESS) {
			spin_lock(&ctx->recv_lock);
			list_add_tail(&works[i]->node, &ctx->recvq);
			spin_unlock(&ctx->recv_lock);
			works[i] = NULL;
		}
	}
	mutex_unlock(&ctx->lock);
	if (ret)
		goto out;

	for (i = 0; i < n; i++) {
		if (!works[i])
			continue;
		works[i]->t_submit = fpgadma_stage_start();
		ctx->fdev->ops->submit(ctx->fdev, works[i]);
		works[i] = NULL;
	}
out:
	for (i = 0; i < n; i++)
		kfree(works[i]);
out_free:
	if (sges != sge_buf)
		kvfree(sges);
	if (works != work_buf)
		kvfree(works);
	if (wrs != wr_buf)
		kvfree(wrs);
	fpgadma_stage_end(ctx->fdev, FPGADMA_STAGE_POST_TOTAL, t_post);
	return ret;
}
