// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma's memory monitor: tells a process, without a system call, when
 * the address space under a monitored MR changed so that the MR's range no
 * longer maps the pages the MR pinned (FPGADMA_REG_MR_MONITOR).  A
 * registration cache in user space needs exactly that to be never stale.
 *
 * One mmu_interval_notifier per monitored MR (as ib_umem_odp has), not one
 * mmu_notifier per context with an interval tree of our own (kdreg2's way):
 * the core keeps the tree, runs the callbacks of only the MRs a change
 * overlaps, and gives the sequence count that closes the window between
 * pinning and watching.  kdreg2 needs its own tree because it watches
 * ranges nobody pinned; here every watched range is an MR.
 *
 * Each context has a monitor area (vmalloc_user, mapped read-only by the
 * process): word 0 counts the context's invalidations, word N belongs to
 * the monitored MR in slot N and holds its generation while it is valid.
 * Invalidation stores generation + 1, counts in word 0 and queues an event
 * for read().  Deregistration stores generation + 1 too, so that the next
 * MR in the slot starts from a generation nobody holds.
 *
 * The notifier callback may run with the mmap lock held, from reclaim, from
 * the OOM reaper (not allowed to block) and from exit_mmap: it only takes
 * @ctx->mon_lock, a spinlock nobody holds while allocating, faulting or
 * sleeping, and never blocks.
 */
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/minmax.h>
#include <linux/mmu_notifier.h>
#include <linux/moduleparam.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "fpgadma.h"

#ifndef CONFIG_MMU_NOTIFIER
#error "fpgadma's MR monitor needs a kernel with CONFIG_MMU_NOTIFIER"
#endif

static unsigned int fpgadma_mon_slots = 16384;
module_param_named(mon_slots, fpgadma_mon_slots, uint, 0444);
MODULE_PARM_DESC(mon_slots,
		 "words in each context's monitor area: the counter and one per monitored MR (64..1048576, default 16384)");

/* How often REG_MR pins again when the range changed while it pinned. */
#define FPGADMA_MON_PIN_TRIES	4

/* The mmap offset of the monitor area (QUERY's mon_mmap_off). */
#define FPGADMA_MON_MMAP_OFF	(1ULL << 30)

/*
 * Which changes invalidate: all but those that leave the same pages mapped
 * at the same addresses (protection changes by mprotect and NUMA
 * balancing, fork's write protection, soft-dirty tracking).  A cleared
 * entry (MMU_NOTIFY_CLEAR) may be a zap (MADV_DONTNEED) or a huge page
 * split that keeps the pages; the callback cannot tell them apart, so it
 * counts as invalidating: a split costs a registration, a missed zap
 * would cost stale data.
 */
static u32 fpgadma_mon_cause(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return 0;
	case MMU_NOTIFY_UNMAP:
		return FPGADMA_MON_CAUSE_UNMAP;
	case MMU_NOTIFY_CLEAR:
		return FPGADMA_MON_CAUSE_CLEAR;
	case MMU_NOTIFY_RELEASE:
		return FPGADMA_MON_CAUSE_EXIT;
	default:
		return FPGADMA_MON_CAUSE_OTHER;
	}
}

/* Queue an event; the caller holds @ctx->mon_lock. */
static void fpgadma_mon_queue(struct fpgadma_ctx *ctx,
			      const struct fpgadma_mon_event *ev)
{
	if (ctx->mon_ev_count == FPGADMA_MON_EVQ) {
		ctx->mon_overflow = true;
		return;
	}
	ctx->mon_evq[(ctx->mon_ev_head + ctx->mon_ev_count) %
		     FPGADMA_MON_EVQ] = *ev;
	ctx->mon_ev_count++;
}

/* Mark @mr invalid for [start, end) of its range; holds @ctx->mon_lock. */
static void fpgadma_mon_invalidate(struct fpgadma_kmr *mr, u32 cause,
				   u64 start, u64 end)
{
	struct fpgadma_ctx *ctx = mr->ctx;
	struct fpgadma_mon_event ev = {
		.kind = FPGADMA_MON_INVALID,
		.cause = cause,
		.lkey = mr->lkey,
		.mon_slot = mr->mon_slot,
		.mon_gen = mr->mon_gen,
	};

	lockdep_assert_held(&ctx->mon_lock);
	mr->mon_invalid = true;
	WRITE_ONCE(ctx->mon[0], ctx->mon[0] + 1);
	/*
	 * Release, paired with the reader's acquire load of the word: who
	 * sees the MR invalid sees the counter moved too.
	 */
	smp_store_release(&ctx->mon[mr->mon_slot], mr->mon_gen + 1);
	start = max(start, mr->iova);
	end = min(end, mr->iova + mr->length);
	ev.addr = start;
	ev.length = end > start ? end - start : 0;
	fpgadma_mon_queue(ctx, &ev);
	atomic64_inc(&ctx->fdev->stats.mon_invalidations);
	wake_up_all(&ctx->mon_wait);
}

static bool fpgadma_mon_notify(struct mmu_interval_notifier *sub,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct fpgadma_kmr *mr = container_of(sub, struct fpgadma_kmr,
					      notifier);
	struct fpgadma_ctx *ctx = mr->ctx;
	u32 cause = fpgadma_mon_cause(range->event);

	/* Never blocks: a non-blockable range is handled like any other. */
	spin_lock(&ctx->mon_lock);
	mmu_interval_set_seq(sub, cur_seq);
	if (cause && mr->mon_armed && !mr->mon_invalid)
		fpgadma_mon_invalidate(mr, cause, range->start, range->end);
	spin_unlock(&ctx->mon_lock);
	return true;
}

static const struct mmu_interval_notifier_ops fpgadma_mon_ops = {
	.invalidate = fpgadma_mon_notify,
};

/**
 * fpgadma_mon_ctx_init() - give a new context its monitor area and queue.
 * @ctx:	the context being opened.
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int fpgadma_mon_ctx_init(struct fpgadma_ctx *ctx)
{
	u32 slots = clamp(fpgadma_mon_slots, 64U, 1U << 20);

	spin_lock_init(&ctx->mon_lock);
	init_waitqueue_head(&ctx->mon_wait);
	ida_init(&ctx->mon_ida);
	ctx->mon_size = PAGE_ALIGN(slots * sizeof(u32));
	ctx->mon_slots = ctx->mon_size / sizeof(u32);
	ctx->mon = vmalloc_user(ctx->mon_size);
	ctx->mon_evq = kcalloc(FPGADMA_MON_EVQ, sizeof(*ctx->mon_evq),
			       GFP_KERNEL);
	if (!ctx->mon || !ctx->mon_evq) {
		fpgadma_mon_ctx_free(ctx);
		return -ENOMEM;
	}
	return 0;
}

/**
 * fpgadma_mon_ctx_free() - free what fpgadma_mon_ctx_init() allocated.
 * @ctx:	a context with no monitored MR left.
 *
 * Context: process context.
 */
void fpgadma_mon_ctx_free(struct fpgadma_ctx *ctx)
{
	vfree(ctx->mon);
	ctx->mon = NULL;
	kfree(ctx->mon_evq);
	ctx->mon_evq = NULL;
	ida_destroy(&ctx->mon_ida);
}

/**
 * fpgadma_mon_query() - the monitor area's place and size, for QUERY.
 * @ctx:	the context.
 * @q:		mon_mmap_off, mon_size and mon_slots are filled in.
 *
 * Context: any.
 */
void fpgadma_mon_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q)
{
	q->mon_mmap_off = FPGADMA_MON_MMAP_OFF;
	q->mon_size = ctx->mon_size;
	q->mon_slots = ctx->mon_slots;
}

/**
 * fpgadma_mon_mmap() - map the monitor area if @vma asks for it.
 * @ctx:	the context.
 * @vma:	the mapping being made.
 *
 * Context: process context, mmap lock held for writing.
 * Return: 1 if @vma is not at the monitor area's offset (not ours), 0 when
 * mapped, or -EINVAL (bad size), -EACCES (asked for writing).
 */
int fpgadma_mon_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff != FPGADMA_MON_MMAP_OFF >> PAGE_SHIFT)
		return 1;
	if (vma->vm_end - vma->vm_start > ctx->mon_size)
		return -EINVAL;
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EACCES;
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~(VM_MAYWRITE | VM_MAYEXEC);
	return remap_vmalloc_range(vma, ctx->mon, 0);
}

/**
 * fpgadma_mon_start() - watch @mr's range before its pages are pinned.
 * @mr:		an MR being registered with FPGADMA_REG_MR_MONITOR, iova and
 *		length set, in no table yet.
 *
 * Context: process context of the owner (current->mm is @mr->ctx->mm),
 * no lock held: inserting the first notifier of an mm takes its mmap lock.
 * Return: 0, -ENOSPC (every slot taken) or -ENOMEM.
 */
int fpgadma_mon_start(struct fpgadma_kmr *mr)
{
	struct fpgadma_ctx *ctx = mr->ctx;
	unsigned long start = round_down(mr->iova, PAGE_SIZE);
	unsigned long end = round_up(mr->iova + mr->length, PAGE_SIZE);
	int slot, ret;

	slot = ida_alloc_range(&ctx->mon_ida, 1, ctx->mon_slots - 1,
			       GFP_KERNEL);
	if (slot < 0)
		return slot;
	mr->mon_slot = slot;
	mr->mon_gen = READ_ONCE(ctx->mon[slot]);
	ret = mmu_interval_notifier_insert(&mr->notifier, ctx->mm, start,
					   end - start, &fpgadma_mon_ops);
	if (ret) {
		ida_free(&ctx->mon_ida, slot);
		mr->mon_slot = 0;
	}
	return ret;
}

/**
 * fpgadma_mon_pin() - pin @mr's pages with no change of the range missed.
 * @mr:		an MR after fpgadma_mon_start().
 * @writable:	as for fpgadma_umem_get().
 * @seq:	out: the notifier sequence the final pin was made under.
 *
 * Pinning for writing can itself replace pages (breaking copy-on-write of
 * a page shared with a fork child or of the zero page), which the notifier
 * sees: the pin is made again, a few times, until one happens with no
 * change of the range during it.  After the last try the MR is pinned
 * anyway and fpgadma_mon_arm() will find it invalid from the start.
 *
 * Context: process context of the owner, may sleep, no lock held.
 * Return: the umem, or an ERR_PTR of fpgadma_umem_get().
 */
struct fpgadma_umem *fpgadma_mon_pin(struct fpgadma_kmr *mr, bool writable,
				     unsigned long *seq)
{
	struct fpgadma_umem *umem;
	int tries;

	for (tries = 1;; tries++) {
		*seq = mmu_interval_read_begin(&mr->notifier);
		umem = fpgadma_umem_get(mr->ctx->fdev, mr->iova, mr->length,
					writable);
		if (IS_ERR(umem) || tries == FPGADMA_MON_PIN_TRIES ||
		    !mmu_interval_check_retry(&mr->notifier, *seq))
			return umem;
		fpgadma_umem_release(umem);
	}
}

/**
 * fpgadma_mon_arm() - start reporting changes of @mr's range.
 * @mr:		a monitored MR, pinned under @seq, its keys in the tables.
 * @seq:	from fpgadma_mon_pin().
 *
 * A change since @seq makes the MR invalid right away (with its event).
 *
 * Context: process context; takes @mr->ctx->mon_lock.
 */
void fpgadma_mon_arm(struct fpgadma_kmr *mr, unsigned long seq)
{
	struct fpgadma_ctx *ctx = mr->ctx;

	spin_lock(&ctx->mon_lock);
	mr->mon_armed = true;
	if (mmu_interval_read_retry(&mr->notifier, seq))
		fpgadma_mon_invalidate(mr, FPGADMA_MON_CAUSE_OTHER, mr->iova,
				       mr->iova + mr->length);
	spin_unlock(&ctx->mon_lock);
}

/**
 * fpgadma_mon_stop() - stop watching @mr and give its slot back.
 * @mr:		an MR after fpgadma_mon_start(), or an unmonitored one (no-op).
 *
 * Waits for a notifier callback running on @mr; the slot's word moves past
 * @mr's generation so that nobody holding it sees the next MR as valid.
 *
 * Context: process context, may sleep; any process (the mm is held by the
 * notifier).
 */
void fpgadma_mon_stop(struct fpgadma_kmr *mr)
{
	struct fpgadma_ctx *ctx = mr->ctx;

	if (!mr->mon_slot)
		return;
	mmu_interval_notifier_remove(&mr->notifier);
	spin_lock(&ctx->mon_lock);
	if (!mr->mon_invalid) {
		/* Release, paired with the reader's acquire load of the word. */
		smp_store_release(&ctx->mon[mr->mon_slot], mr->mon_gen + 1);
	}
	spin_unlock(&ctx->mon_lock);
	ida_free(&ctx->mon_ida, mr->mon_slot);
	mr->mon_slot = 0;
}

/**
 * fpgadma_mon_pending() - whether read() has an event to return.
 * @ctx:	the context.
 *
 * Context: any; lockless (a hint for poll()).
 */
bool fpgadma_mon_pending(struct fpgadma_ctx *ctx)
{
	return READ_ONCE(ctx->mon_ev_count) || READ_ONCE(ctx->mon_overflow);
}

/* Take up to @max events off the queue into @out; the overflow mark first. */
static size_t fpgadma_mon_take(struct fpgadma_ctx *ctx,
			       struct fpgadma_mon_event *out, size_t max)
{
	size_t n = 0;

	spin_lock(&ctx->mon_lock);
	if (ctx->mon_overflow && max) {
		memset(&out[n++], 0, sizeof(*out));
		out[0].kind = FPGADMA_MON_OVERFLOW;
		ctx->mon_overflow = false;
	}
	while (n < max && ctx->mon_ev_count) {
		out[n++] = ctx->mon_evq[ctx->mon_ev_head];
		ctx->mon_ev_head = (ctx->mon_ev_head + 1) % FPGADMA_MON_EVQ;
		ctx->mon_ev_count--;
	}
	spin_unlock(&ctx->mon_lock);
	return n;
}

/**
 * fpgadma_mon_read() - read() on a context: its monitor events.
 * @ctx:	the context, of the calling process.
 * @buf:	user buffer.
 * @count:	its bytes: at least one struct fpgadma_mon_event.
 * @nonblock:	O_NONBLOCK: -EAGAIN instead of sleeping.
 *
 * Context: process context, may sleep; no lock held (the unplug semaphore
 * must not be held while sleeping here, or unplugging would wait for an
 * event).  The events are copied to user space after they left the queue
 * and its lock: a fault while copying may itself invalidate an MR.
 * Return: bytes read (whole events), or -EINVAL (@count too small),
 * -EAGAIN, -ERESTARTSYS, -ENODEV (the device has gone), -EFAULT.
 */
ssize_t fpgadma_mon_read(struct fpgadma_ctx *ctx, char __user *buf,
			 size_t count, bool nonblock)
{
	struct fpgadma_mon_event evs[8];
	size_t want = count / sizeof(evs[0]), done = 0, n;
	int ret;

	if (!want)
		return -EINVAL;
	for (;;) {
		if (READ_ONCE(ctx->fdev->dead))
			return -ENODEV;
		n = fpgadma_mon_take(ctx, evs, min(want, ARRAY_SIZE(evs)));
		if (n)
			break;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(ctx->mon_wait,
					       fpgadma_mon_pending(ctx) ||
					       READ_ONCE(ctx->fdev->dead));
		if (ret)
			return ret;
	}
	for (;;) {
		/*
		 * Events taken and not copied are lost to the caller; the
		 * words in the monitor area still tell.
		 */
		if (copy_to_user(buf + done, evs, n * sizeof(evs[0])))
			return done ? done : -EFAULT;
		done += n * sizeof(evs[0]);
		want -= n;
		if (!want)
			break;
		n = fpgadma_mon_take(ctx, evs, min(want, ARRAY_SIZE(evs)));
		if (!n)
			break;
	}
	return done;
}
