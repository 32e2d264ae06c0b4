// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma completions: the ring a context maps and the end of a work
 * request.
 *
 * The kernel writes a CQE, then publishes the tail with release semantics;
 * the process reads up to the tail and publishes its head.  A slot is
 * reserved when work is posted (fpgadma_cq_reserve()), so a process that
 * keeps its head honest never loses a CQE; one that does not only hurts
 * itself (FPGADMA_RING_OVERFLOW).  The ring belongs to the context and
 * stays mapped as long as the process keeps it, also after the device left.
 */
#include <linux/slab.h>
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
	INIT_LIST_HEAD(&ctx->work_cache);
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

/*
 * Write @cqe into a reserved slot and publish it, or flag an overflow when
 * the process's head says the ring is full (it lied: the slot was
 * reserved); wake pollers.  The caller holds @ctx->cq_lock.
 */
static void fpgadma_cq_write(struct fpgadma_ctx *ctx,
			     const struct fpgadma_cqe *cqe)
{
	lockdep_assert_held(&ctx->cq_lock);
	ctx->outstanding--;
	if (fpgadma_cq_used(ctx) >= ctx->cq_entries) {
		WRITE_ONCE(*ctx->flags, READ_ONCE(*ctx->flags) | FPGADMA_RING_OVERFLOW);
	} else {
		ctx->cqes[ctx->cq_tail & (ctx->cq_entries - 1)] = *cqe;
		WRITE_ONCE(ctx->cq_tail, ctx->cq_tail + 1);
		/* Pairs with the process's load-acquire of the tail: CQE first. */
		smp_store_release(ctx->tail, ctx->cq_tail);
	}
	/*
	 * Only a process asleep in poll() needs the wake-up's lock; one
	 * that spins on the mapped ring does not.  The barrier in
	 * wq_has_sleeper() pairs with the one fpgadma_poll() puts between
	 * queueing itself and reading the tail.
	 */
	if (wq_has_sleeper(&ctx->cq_wait))
		wake_up_interruptible(&ctx->cq_wait);
}

/* Keep a done work for the context's next post; @ctx->cq_lock held. */
static bool fpgadma_work_recycle(struct fpgadma_ctx *ctx,
				 struct fpgadma_wqe *work)
{
	lockdep_assert_held(&ctx->cq_lock);
	if (!work->cached || ctx->work_cached >= FPGADMA_WORK_CACHE)
		return false;
	list_add(&work->node, &ctx->work_cache);
	ctx->work_cached++;
	return true;
}

/**
 * fpgadma_works_get() - take works for a batch of WRs.
 * @ctx:	the posting context.
 * @wrs:	the batch, checked (fpgadma_wr_check()).
 * @works:	out: a work for each WR, or NULL where none could be had.
 * @n:		WRs in the batch.
 *
 * A WR of up to FPGADMA_WORK_CACHE_SGE SGEs gets a work of the context's
 * cache, or a new one with room for that many; a larger one a work of its
 * size.  Each is filled from its WR, with no piece and no peer MR.
 *
 * Context: process context, may sleep; takes @ctx->cq_lock.
 */
void fpgadma_works_get(struct fpgadma_ctx *ctx, const struct fpgadma_wr *wrs,
		       struct fpgadma_wqe **works, u32 n)
{
	struct fpgadma_wqe *work;
	u32 i;

	spin_lock_irq(&ctx->cq_lock);
	for (i = 0; i < n; i++) {
		works[i] = NULL;
		if (wrs[i].num_sge > FPGADMA_WORK_CACHE_SGE || !ctx->work_cached)
			continue;
		works[i] = list_first_entry(&ctx->work_cache,
					    struct fpgadma_wqe, node);
		list_del(&works[i]->node);
		ctx->work_cached--;
	}
	spin_unlock_irq(&ctx->cq_lock);

	for (i = 0; i < n; i++) {
		const struct fpgadma_wr *wr = &wrs[i];
		bool cached = wr->num_sge <= FPGADMA_WORK_CACHE_SGE;

		work = works[i];
		if (!work) {
			work = kmalloc(struct_size(work, pieces, cached ?
					FPGADMA_WORK_CACHE_SGE : wr->num_sge),
				       GFP_KERNEL);
			if (!work)
				continue;
		}
		/* Every field but the pieces, which count from none. */
		*work = (struct fpgadma_wqe) {
			.ctx = ctx,
			.wr_id = wr->wr_id,
			.opcode = wr->opcode,
			.dev_addr = wr->dev_addr,
			.dest = wr->dest,
			.flags = wr->flags,
			.atomic_op = wr->atomic_op,
			.atomic_type = wr->atomic_type,
			.cached = cached,
		};
		works[i] = work;
	}
}

/**
 * fpgadma_work_release() - give back a work that was never submitted.
 * @ctx:	the context it was taken for (fpgadma_works_get()).
 * @work:	the work, holding no MR; NULL is ignored.
 *
 * Context: any; takes @ctx->cq_lock.
 */
void fpgadma_work_release(struct fpgadma_ctx *ctx, struct fpgadma_wqe *work)
{
	unsigned long flags;
	bool recycled;

	if (!work)
		return;
	spin_lock_irqsave(&ctx->cq_lock, flags);
	recycled = fpgadma_work_recycle(ctx, work);
	spin_unlock_irqrestore(&ctx->cq_lock, flags);
	if (!recycled)
		kfree(work);
}

/**
 * fpgadma_ctx_free_works() - free the context's cache of works.
 * @ctx:	a context with no work in flight (fpgadma_ctx_drain()).
 *
 * Context: process context.
 */
void fpgadma_ctx_free_works(struct fpgadma_ctx *ctx)
{
	struct fpgadma_wqe *work, *tmp;

	list_for_each_entry_safe(work, tmp, &ctx->work_cache, node)
		kfree(work);
	INIT_LIST_HEAD(&ctx->work_cache);
	ctx->work_cached = 0;
}

/**
 * fpgadma_work_done() - complete a work request; called by engines.
 * @work:	the work, owned by the engine until now; freed here, or kept
 *		for the context's next post (fpgadma_works_get()).
 * @status:	FPGADMA_WC_* (ignored if the work already carries an error).
 * @bytes:	bytes moved.
 *
 * Releases the work's MRs, writes its CQE and wakes pollers and waiters.
 * Any context, also interrupt.
 *
 * Context: any context, also interrupt; takes the context's cq_lock.
 */
void fpgadma_work_done(struct fpgadma_wqe *work, u32 status, u64 bytes)
{
	struct fpgadma_ctx *ctx = work->ctx;
	struct fpgadma_dev *fdev = ctx->fdev;
	struct fpgadma_stats *stats = &fdev->stats;
	u64 t0 = fpgadma_stage_start();
	struct fpgadma_cqe cqe;
	unsigned long irqflags;
	bool recycled;
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
	} else if (work->opcode != FPGADMA_WR_SEND &&
		   !fpgadma_wr_is_atomic(work->opcode)) {
		/*
		 * A SEND's bytes are counted once, by the RECV it filled; an
		 * atomic moves no stream of bytes, it counts as a WR only.
		 */
		atomic64_add(bytes, &stats->bytes_to_host);
	}
	atomic64_inc(&stats->wrs_completed);

	for (i = 0; i < work->npieces; i++)
		fpgadma_mr_put(work->pieces[i].mr);
	if (work->remote.mr)
		fpgadma_mr_put(work->remote.mr);

	cqe.wr_id = work->wr_id;
	cqe.status = status;
	cqe.opcode = work->opcode;
	cqe.byte_len = bytes;
	cqe.vendor_err = 0;
	cqe.src_ep = status == FPGADMA_WC_SUCCESS ? work->src_ep : 0;

	spin_lock_irqsave(&ctx->cq_lock, irqflags);
	fpgadma_cq_write(ctx, &cqe);
	/* Before the count falls: the context outlives what it caches. */
	recycled = fpgadma_work_recycle(ctx, work);
	/* Only fpgadma_ctx_drain() waits, and only for the last one. */
	if (!--ctx->inflight && wq_has_sleeper(&ctx->idle_wait))
		wake_up_all(&ctx->idle_wait);
	spin_unlock_irqrestore(&ctx->cq_lock, irqflags);
	/* The context may be gone now; the device is not. */
	if (!recycled)
		kfree(work);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_COMPLETE, t0);
}
EXPORT_SYMBOL_GPL(fpgadma_work_done);

/**
 * fpgadma_cq_reserve() - reserve ring slots for work about to be posted.
 * @ctx:	the context.
 * @n:		work requests: each will write one CQE.
 *
 * The work also counts as in flight from now on (fpgadma_ctx_drain()).
 *
 * Context: process context; takes @ctx->cq_lock.
 * Return: 0, or -EAGAIN if the ring cannot take @n more CQEs.
 */
int fpgadma_cq_reserve(struct fpgadma_ctx *ctx, u32 n)
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

/**
 * fpgadma_cq_hold() - reserve one ring slot for a CQE that is no work's.
 * @ctx:	the context.
 *
 * For a paced stream's CQEs: unlike fpgadma_cq_reserve() the slot does not
 * count as work in flight.  Give it back with fpgadma_cq_unhold() or use
 * it with fpgadma_cq_post_held().
 *
 * Context: any context; takes @ctx->cq_lock (irqsave).
 * Return: true if reserved, false if the ring has no free slot.
 */
bool fpgadma_cq_hold(struct fpgadma_ctx *ctx)
{
	unsigned long flags;
	bool held;

	spin_lock_irqsave(&ctx->cq_lock, flags);
	held = (u64)ctx->outstanding + fpgadma_cq_used(ctx) < ctx->cq_entries;
	if (held)
		ctx->outstanding++;
	spin_unlock_irqrestore(&ctx->cq_lock, flags);
	return held;
}

/**
 * fpgadma_cq_unhold() - give back a slot from fpgadma_cq_hold() unused.
 * @ctx:	the context.
 *
 * Context: any context; takes @ctx->cq_lock (irqsave).
 */
void fpgadma_cq_unhold(struct fpgadma_ctx *ctx)
{
	unsigned long flags;

	spin_lock_irqsave(&ctx->cq_lock, flags);
	ctx->outstanding--;
	spin_unlock_irqrestore(&ctx->cq_lock, flags);
}

/**
 * fpgadma_cq_post_held() - write a CQE into a slot from fpgadma_cq_hold().
 * @ctx:	the context.
 * @cqe:	the entry.
 *
 * Context: any context; takes @ctx->cq_lock (irqsave).
 */
void fpgadma_cq_post_held(struct fpgadma_ctx *ctx,
			  const struct fpgadma_cqe *cqe)
{
	unsigned long flags;

	spin_lock_irqsave(&ctx->cq_lock, flags);
	fpgadma_cq_write(ctx, cqe);
	spin_unlock_irqrestore(&ctx->cq_lock, flags);
}
