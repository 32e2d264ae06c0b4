// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma paced streams (FPGADMA_CAP_STREAM): the device produces frames
 * on its own clock into its FIFO and writes them, in order, into the slots
 * of a ring in an MR that the process hands back through a control block
 * it maps (the stream area), with no system call in the loop.
 *
 * The core keeps the streams of a context, checks their geometry, holds
 * the ring's MR and the CQ slots the stream's CQEs need, and keeps the
 * books: the engine produces and moves the frames (ops->stream_start,
 * ops->stream_stop) and reports through the helpers below, which are the
 * only writers of the control block and of the stream's counters.
 *
 * The control block is the process's memory as much as ours: the kernel
 * keeps its own write index and only publishes it (store-release, after
 * the frame), and never trusts the read index beyond the write index: a
 * garbled one only stalls the process's own stream.
 *
 * Locking: @ctx->lock (a mutex) protects the table of streams and
 * serialises starting and stopping; a stream's @lock (a spinlock, irqsave:
 * the engine reports from its timer or interrupt) its counters; the order
 * is engine's lock -> stream's lock -> @ctx->cq_lock.  Every stop
 * (STREAM_STOP, the MR's deregistration, closing, the device's removal)
 * goes through fpgadma_stream_halt() under @ctx->lock, which returns with
 * the engine done with the stream; STREAM_STOP's drain waits with no lock
 * and no unplug semaphore held, holding a reference on the stream.
 */
#include <linux/kref.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "fpgadma.h"

unsigned int fpgadma_max_streams = 4;
module_param_named(max_streams, fpgadma_max_streams, uint, 0444);
MODULE_PARM_DESC(max_streams,
		 "Paced streams a context may run at once (0..256, default 4; 0: none)");

/* The mmap offset of the stream area (QUERY's stream_mmap_off). */
#define FPGADMA_STREAM_MMAP_OFF	(2ULL << 30)

static bool fpgadma_stream_zeroed(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* Whether @fdev's engine runs streams, with defaults to run them by. */
static bool fpgadma_stream_supported(const struct fpgadma_dev *fdev)
{
	const struct fpgadma_engine_ops *ops = fdev->ops;

	return (ops->caps & FPGADMA_CAP_STREAM) && ops->stream_start &&
	       ops->stream_stop &&
	       fdev->stream_frame_size >= FPGADMA_FRAME_HDR_SIZE &&
	       fdev->stream_fifo_frames && fdev->stream_period_ns;
}

static void fpgadma_stream_release(struct kref *kref)
{
	kfree(container_of(kref, struct fpgadma_stream, kref));
}

/**
 * fpgadma_stream_ctx_init() - give a new context its stream table and area.
 * @ctx:	the context being opened.
 *
 * Only on a device whose engine runs streams, and with max_streams > 0;
 * else the context has neither (and QUERY no FPGADMA_CAP_STREAM).
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int fpgadma_stream_ctx_init(struct fpgadma_ctx *ctx)
{
	u32 n = fpgadma_max_streams;

	BUILD_BUG_ON(sizeof(struct fpgadma_stream_ctrl) > PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct fpgadma_frame_hdr) != FPGADMA_FRAME_HDR_SIZE);
	if (!n || !fpgadma_stream_supported(ctx->fdev))
		return 0;
	ctx->streams = kcalloc(n, sizeof(*ctx->streams), GFP_KERNEL);
	ctx->stream_area = vmalloc_user((size_t)n * PAGE_SIZE);
	if (!ctx->streams || !ctx->stream_area) {
		fpgadma_stream_ctx_free(ctx);
		return -ENOMEM;
	}
	ctx->max_streams = n;
	ctx->stream_area_size = (size_t)n * PAGE_SIZE;
	return 0;
}

/**
 * fpgadma_stream_ctx_free() - free a context's streams, table and area.
 * @ctx:	a context whose streams are all stopped (closing, or never
 *		opened).
 *
 * Context: process context.
 */
void fpgadma_stream_ctx_free(struct fpgadma_ctx *ctx)
{
	struct fpgadma_stream *s;
	u32 i;

	for (i = 0; i < ctx->max_streams; i++) {
		s = ctx->streams[i];
		if (!s)
			continue;
		WARN_ON(s->state != FPGADMA_STREAM_STOPPED);
		ctx->streams[i] = NULL;
		kref_put(&s->kref, fpgadma_stream_release);
	}
	kfree(ctx->streams);
	ctx->streams = NULL;
	vfree(ctx->stream_area);
	ctx->stream_area = NULL;
	ctx->max_streams = 0;
	ctx->stream_area_size = 0;
}

/**
 * fpgadma_stream_query() - the stream area and limit, for QUERY.
 * @ctx:	the context.
 * @q:		caps gets FPGADMA_CAP_STREAM, stream_mmap_off,
 *		stream_area_size and max_streams are filled in, if the
 *		context has streams; else they are left 0.
 *
 * Context: any context.
 */
void fpgadma_stream_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q)
{
	if (!ctx->streams)
		return;
	q->caps |= FPGADMA_CAP_STREAM;
	q->stream_mmap_off = FPGADMA_STREAM_MMAP_OFF;
	q->stream_area_size = ctx->stream_area_size;
	q->max_streams = ctx->max_streams;
}

/**
 * fpgadma_stream_mmap() - map the stream area if @vma asks for it.
 * @ctx:	the context.
 * @vma:	the mapping being made.
 *
 * The process writes the read indices into it, so only a shared mapping
 * makes sense (a private one would copy the page on the first write, and
 * the kernel would never see the index).
 *
 * Context: process context, mmap lock held for writing.
 * Return: 1 if @vma is not at the stream area's offset (not ours), 0 when
 * mapped, or -EINVAL (no streams on this device, bad size, not
 * MAP_SHARED), -EPERM (executable).
 */
int fpgadma_stream_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff != FPGADMA_STREAM_MMAP_OFF >> PAGE_SHIFT)
		return 1;
	if (!ctx->stream_area ||
	    vma->vm_end - vma->vm_start > ctx->stream_area_size ||
	    !(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* The area is the opener's: a fork child does not inherit it. */
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYEXEC;
	return remap_vmalloc_range(vma, ctx->stream_area, 0);
}

/* The stream @id of @ctx, or NULL; the caller holds @ctx->lock. */
static struct fpgadma_stream *fpgadma_stream_find(struct fpgadma_ctx *ctx,
						  u32 id)
{
	lockdep_assert_held(&ctx->lock);
	if (!id || id > ctx->max_streams)
		return NULL;
	return ctx->streams[id - 1];
}

/* Write a CQE of @s into a slot it holds; the caller holds @s->lock. */
static void fpgadma_stream_cqe(struct fpgadma_stream *s, u32 opcode,
			       u32 status, u64 bytes, u32 vendor_err)
{
	struct fpgadma_cqe cqe = {
		.wr_id = s->user_data,
		.status = status,
		.opcode = opcode,
		.byte_len = bytes,
		.vendor_err = vendor_err,
		.src_ep = lower_32_bits(s->write_idx),
	};

	lockdep_assert_held(&s->lock);
	fpgadma_cq_post_held(s->ctx, &cqe);
}

/* The FRAMES CQE of the frames since the last one; holds @s->lock. */
static void fpgadma_stream_frames_cqe(struct fpgadma_stream *s)
{
	lockdep_assert_held(&s->lock);
	/* An engine that delivered without asking for room first. */
	if (WARN_ON_ONCE(!s->frames_held))
		return;
	fpgadma_stream_cqe(s, FPGADMA_WR_STREAM_FRAMES, FPGADMA_WC_SUCCESS,
			   s->bytes_since_cqe, s->since_cqe);
	s->frames_held = false;
	s->since_cqe = 0;
	s->bytes_since_cqe = 0;
}

/* Wake STREAM_STOP's drain once the FIFO is empty; holds @s->lock. */
static void fpgadma_stream_check_drained(struct fpgadma_stream *s)
{
	lockdep_assert_held(&s->lock);
	if (s->state == FPGADMA_STREAM_DRAINING && !s->fifo_level)
		wake_up_all(&s->wait);
}

/**
 * fpgadma_stream_room() - how many frames the device may write now.
 * @s:		a started stream.
 *
 * The frames that fit into slots the process has handed back, up to the
 * end of the current CQE group: the engine asks again after writing that
 * many.  0 while the completion ring has no slot for the group's CQE (the
 * frames then wait in the device's FIFO), once the stream is being
 * stopped, and while the process's read index is not one the kernel could
 * have given (ahead of the write index, or more than the ring behind).
 *
 * Context: any context, also interrupt; takes @s->lock and the context's
 * cq_lock (irqsave).
 * Return: frames, 0 for none.
 */
u32 fpgadma_stream_room(struct fpgadma_stream *s)
{
	unsigned long flags;
	u32 room = 0;
	u64 used;

	spin_lock_irqsave(&s->lock, flags);
	if (s->halting || s->state == FPGADMA_STREAM_STOPPED)
		goto out;
	if (!s->frames_held) {
		if (!fpgadma_cq_hold(s->ctx))
			goto out;
		s->frames_held = true;
	}
	/*
	 * Pairs with the process's store-release of the index: it is done
	 * with the slots it hands back before the device writes them.
	 */
	s->read_idx = smp_load_acquire(&s->ctrl->read_idx);
	used = s->write_idx - s->read_idx;
	if (used < s->nslots)
		room = min_t(u64, s->nslots - used,
			     s->cqe_every - s->since_cqe);
out:
	spin_unlock_irqrestore(&s->lock, flags);
	return room;
}
EXPORT_SYMBOL_GPL(fpgadma_stream_room);

/**
 * fpgadma_stream_slot_off() - where the next frame goes.
 * @s:		a started stream.
 *
 * Context: any context; takes @s->lock (irqsave).
 * Return: the offset in @s->mr of the slot of the next frame written.
 */
u64 fpgadma_stream_slot_off(struct fpgadma_stream *s)
{
	unsigned long flags;
	u32 slot;

	spin_lock_irqsave(&s->lock, flags);
	div_u64_rem(s->write_idx, s->nslots, &slot);
	spin_unlock_irqrestore(&s->lock, flags);
	return s->ring_off + (u64)slot * s->slot_size;
}
EXPORT_SYMBOL_GPL(fpgadma_stream_slot_off);

/**
 * fpgadma_stream_produced() - count the frames the device produced.
 * @s:		a started stream.
 * @queued:	frames that went into the device's FIFO.
 * @dropped:	frames dropped because the FIFO was full.
 *
 * Report a frame in its FIFO before delivering it.
 *
 * Context: any context, also interrupt; takes @s->lock (irqsave).
 */
void fpgadma_stream_produced(struct fpgadma_stream *s, u32 queued,
			     u64 dropped)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	s->fifo_level += queued;
	s->fifo_hwm = max(s->fifo_hwm, s->fifo_level);
	if (dropped) {
		s->drops += dropped;
		WRITE_ONCE(s->ctrl->drops, s->drops);
	}
	spin_unlock_irqrestore(&s->lock, flags);
}
EXPORT_SYMBOL_GPL(fpgadma_stream_produced);

/**
 * fpgadma_stream_delivered() - a frame from the FIFO is in its slot.
 * @s:		a started stream.
 *
 * The frame (@s->frame_size bytes at fpgadma_stream_slot_off(), written
 * after fpgadma_stream_room() allowed it) must be in memory, visible to
 * the CPU: the write index the process sees moves past it now.  Writes the
 * FRAMES CQE at the end of a group of cqe_every frames.
 *
 * Context: any context, also interrupt; takes @s->lock and the context's
 * cq_lock (irqsave).
 */
void fpgadma_stream_delivered(struct fpgadma_stream *s)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	s->write_idx++;
	/* Pairs with the process's load-acquire: the frame before the index. */
	smp_store_release(&s->ctrl->write_idx, s->write_idx);
	if (!WARN_ON_ONCE(!s->fifo_level))
		s->fifo_level--;
	s->delivered++;
	s->bytes += s->frame_size;
	s->since_cqe++;
	s->bytes_since_cqe += s->frame_size;
	if (s->since_cqe >= s->cqe_every)
		fpgadma_stream_frames_cqe(s);
	fpgadma_stream_check_drained(s);
	spin_unlock_irqrestore(&s->lock, flags);
	atomic64_add(s->frame_size, &s->ctx->fdev->stats.bytes_to_host);
}
EXPORT_SYMBOL_GPL(fpgadma_stream_delivered);

/**
 * fpgadma_stream_discarded() - frames left the FIFO without being delivered.
 * @s:		a started stream.
 * @n:		frames, counted as dropped.
 *
 * For the frames left in the FIFO when the stream stops, or one the device
 * failed to write.
 *
 * Context: any context, also interrupt; takes @s->lock (irqsave).
 */
void fpgadma_stream_discarded(struct fpgadma_stream *s, u32 n)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	n = min(n, s->fifo_level);
	s->fifo_level -= n;
	s->drops += n;
	WRITE_ONCE(s->ctrl->drops, s->drops);
	fpgadma_stream_check_drained(s);
	spin_unlock_irqrestore(&s->lock, flags);
}
EXPORT_SYMBOL_GPL(fpgadma_stream_discarded);

/*
 * Stop @s for good, however it ends: the engine first (no timer, work or
 * write of it left when that returns), then the MR goes, a last FRAMES CQE
 * for a group cut short, the END CQE and the state.  Nothing if stopped
 * already.  The caller holds @ctx->lock; the device is alive.
 */
static void fpgadma_stream_halt(struct fpgadma_stream *s, u32 end,
				u32 status)
{
	struct fpgadma_ctx *ctx = s->ctx;
	struct fpgadma_dev *fdev = ctx->fdev;
	unsigned long flags;

	lockdep_assert_held(&ctx->lock);
	if (s->state == FPGADMA_STREAM_STOPPED)
		return;
	spin_lock_irqsave(&s->lock, flags);
	WRITE_ONCE(s->halting, true);
	spin_unlock_irqrestore(&s->lock, flags);

	fdev->ops->stream_stop(fdev, s);
	fpgadma_mr_put(s->mr);
	s->mr = NULL;

	spin_lock_irqsave(&s->lock, flags);
	if (s->since_cqe) {
		fpgadma_stream_frames_cqe(s);
	} else if (s->frames_held) {
		fpgadma_cq_unhold(ctx);
		s->frames_held = false;
	}
	fpgadma_stream_cqe(s, FPGADMA_WR_STREAM_END, status, 0, end);
	s->end = end;
	WRITE_ONCE(s->state, FPGADMA_STREAM_STOPPED);
	WRITE_ONCE(s->ctrl->end, end);
	/* Who sees the state sees why too. */
	smp_store_release(&s->ctrl->state, FPGADMA_STREAM_STOPPED);
	spin_unlock_irqrestore(&s->lock, flags);
	wake_up_all(&s->wait);
}

/* The counters of @s; the caller holds @ctx->lock. */
static void fpgadma_stream_snapshot(struct fpgadma_stream *s,
				    struct fpgadma_stream_stats *st)
{
	unsigned long flags;

	memset(st, 0, sizeof(*st));
	spin_lock_irqsave(&s->lock, flags);
	if (s->state != FPGADMA_STREAM_STOPPED)
		s->read_idx = READ_ONCE(s->ctrl->read_idx);
	st->frames = s->delivered + s->drops + s->fifo_level;
	st->frames_delivered = s->delivered;
	st->bytes_delivered = s->bytes;
	st->drops = s->drops;
	st->write_idx = s->write_idx;
	st->read_idx = s->read_idx;
	st->fifo_frames = s->fifo_frames;
	st->fifo_level = s->fifo_level;
	st->fifo_hwm = s->fifo_hwm;
	st->state = s->state;
	st->end = s->end;
	st->frame_period_ns = s->period_ns;
	spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * Complete @cmd's geometry with @fdev's defaults and check it: -EINVAL for
 * a frame shorter than its header, a slot shorter than the frame, no
 * slot, slots that do not fit into ring_length, both a period and a byte
 * rate, or a byte rate so high that the period rounds to 0 ns.
 */
static int fpgadma_stream_geometry(const struct fpgadma_dev *fdev,
				   struct fpgadma_stream_start *cmd)
{
	if (!cmd->frame_size)
		cmd->frame_size = fdev->stream_frame_size;
	if (!cmd->fifo_frames)
		cmd->fifo_frames = fdev->stream_fifo_frames;
	if (cmd->frame_period_ns && cmd->byte_rate)
		return -EINVAL;
	if (cmd->byte_rate) {
		/* At most 2^32 * 10^9: no overflow. */
		cmd->frame_period_ns =
			DIV64_U64_ROUND_CLOSEST((u64)cmd->frame_size * NSEC_PER_SEC,
						cmd->byte_rate);
		if (!cmd->frame_period_ns)
			return -EINVAL;
	} else if (!cmd->frame_period_ns) {
		cmd->frame_period_ns = fdev->stream_period_ns;
	}
	if (cmd->frame_size < FPGADMA_FRAME_HDR_SIZE ||
	    cmd->slot_size < cmd->frame_size || !cmd->nslots ||
	    (u64)cmd->nslots * cmd->slot_size > cmd->ring_length)
		return -EINVAL;
	return 0;
}

/* A stream of @cmd's checked geometry, not started, in no table. */
static struct fpgadma_stream *
fpgadma_stream_alloc(struct fpgadma_ctx *ctx,
		     const struct fpgadma_stream_start *cmd)
{
	struct fpgadma_stream *s;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;
	s->ctx = ctx;
	s->user_data = cmd->user_data;
	s->ring_off = cmd->ring_offset;
	s->slot_size = cmd->slot_size;
	s->nslots = cmd->nslots;
	s->frame_size = cmd->frame_size;
	s->fifo_frames = cmd->fifo_frames;
	s->period_ns = cmd->frame_period_ns;
	s->cqe_every = cmd->cqe_every ?: 1;
	s->state = FPGADMA_STREAM_RUNNING;
	kref_init(&s->kref);
	init_waitqueue_head(&s->wait);
	spin_lock_init(&s->lock);
	return s;
}

/* The first free id of @ctx, or 0; the caller holds @ctx->lock. */
static u32 fpgadma_stream_free_slot(struct fpgadma_ctx *ctx)
{
	u32 id;

	lockdep_assert_held(&ctx->lock);
	for (id = 1; id <= ctx->max_streams; id++)
		if (!ctx->streams[id - 1])
			return id;
	return 0;
}

/* Give @s the control block of @id, fresh. */
static void fpgadma_stream_ctrl_init(struct fpgadma_stream *s, u32 id)
{
	s->id = id;
	s->ctrl = s->ctx->stream_area + (size_t)(id - 1) * PAGE_SIZE;
	memset(s->ctrl, 0, PAGE_SIZE);
	WRITE_ONCE(s->ctrl->state, FPGADMA_STREAM_RUNNING);
}

/*
 * Start a stream of @cmd (geometry checked): hold its MR, take an id and
 * the END CQE's slot, let the engine go.  @cmd gets the id and ctrl_off.
 */
static int fpgadma_stream_create(struct fpgadma_ctx *ctx,
				 struct fpgadma_stream_start *cmd)
{
	struct fpgadma_dev *fdev = ctx->fdev;
	struct fpgadma_stream *s;
	u32 id;
	int ret;

	s = fpgadma_stream_alloc(ctx, cmd);
	if (!s)
		return -ENOMEM;
	mutex_lock(&ctx->lock);
	ret = fpgadma_mr_get_range(ctx, cmd->lkey, cmd->ring_offset,
				   cmd->ring_length, FPGADMA_ACCESS_LOCAL_WRITE,
				   &s->mr);
	if (ret)
		goto err_unlock;
	ret = -ENOSPC;
	id = fpgadma_stream_free_slot(ctx);
	if (!id)
		goto err_mr;
	/* The END CQE's slot, held until the end. */
	ret = -EAGAIN;
	if (!fpgadma_cq_hold(ctx))
		goto err_mr;
	fpgadma_stream_ctrl_init(s, id);
	ret = fdev->ops->stream_start(fdev, s);
	if (ret)
		goto err_cq;
	ctx->streams[id - 1] = s;
	mutex_unlock(&ctx->lock);
	cmd->stream_id = id;
	cmd->ctrl_off = (u64)(id - 1) * PAGE_SIZE;
	return 0;

err_cq:
	fpgadma_cq_unhold(ctx);
	WRITE_ONCE(s->ctrl->state, 0);
err_mr:
	fpgadma_mr_put(s->mr);
err_unlock:
	mutex_unlock(&ctx->lock);
	kfree(s);
	return ret;
}

/*
 * Stop stream @id of @ctx (if it still runs) and free its id; @st, if
 * not NULL, gets its final counters.
 */
static int fpgadma_stream_free_id(struct fpgadma_ctx *ctx, u32 id,
				  struct fpgadma_stream_stats *st)
{
	struct fpgadma_stream *s;

	mutex_lock(&ctx->lock);
	s = fpgadma_stream_find(ctx, id);
	if (!s) {
		mutex_unlock(&ctx->lock);
		return -EINVAL;
	}
	fpgadma_stream_halt(s, FPGADMA_STREAM_END_STOP, FPGADMA_WC_SUCCESS);
	if (st)
		fpgadma_stream_snapshot(s, st);
	ctx->streams[id - 1] = NULL;
	mutex_unlock(&ctx->lock);
	kref_put(&s->kref, fpgadma_stream_release);
	return 0;
}

/**
 * fpgadma_ioctl_stream_start() - FPGADMA_IOC_STREAM_START.
 * @ctx:	the calling context.
 * @uarg:	struct fpgadma_stream_start; the id, the control block's
 *		offset and the defaults chosen are written back.
 *
 * Context: process context of the owner, may sleep; the unplug semaphore
 * held for reading; takes @ctx->lock.
 * Return: 0; -EFAULT; -EINVAL (flags, reserved or out fields not zero, a
 * bad geometry, no such lkey, a ring not inside the MR; or a FIFO depth,
 * frame size or period the engine cannot do); -EOPNOTSUPP (no streams on
 * this device); -EACCES (the MR lacks FPGADMA_ACCESS_LOCAL_WRITE);
 * -ENOSPC (max_streams running); -EAGAIN (no CQ slot for the END CQE);
 * -ENOMEM.
 */
int fpgadma_ioctl_stream_start(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_stream_start cmd;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags || cmd.stream_id || cmd.ctrl_off ||
	    !fpgadma_stream_zeroed(cmd.reserved, sizeof(cmd.reserved)))
		return -EINVAL;
	if (!ctx->streams)
		return -EOPNOTSUPP;
	ret = fpgadma_stream_geometry(ctx->fdev, &cmd);
	if (ret)
		return ret;
	ret = fpgadma_stream_create(ctx, &cmd);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &cmd, sizeof(cmd))) {
		/* The caller cannot learn the id: do not leave it running. */
		fpgadma_stream_free_id(ctx, cmd.stream_id, NULL);
		return -EFAULT;
	}
	return 0;
}

/*
 * Enter @ctx for STREAM_STOP or STREAM_STATS: true with the unplug
 * semaphore held for reading; false once the device has gone, whose
 * removal stopped every stream: these calls then go on without it, since
 * they only read and free what the context owns and never call the
 * engine for a stopped stream.
 */
static bool fpgadma_stream_enter(struct fpgadma_ctx *ctx)
{
	return !fpgadma_ctx_enter(ctx);
}

static void fpgadma_stream_leave(struct fpgadma_ctx *ctx, bool entered)
{
	if (entered)
		fpgadma_ctx_leave(ctx);
}

/* Whether STREAM_STOP's drain is over. */
static bool fpgadma_stream_drained(struct fpgadma_stream *s)
{
	unsigned long flags;
	bool drained;

	spin_lock_irqsave(&s->lock, flags);
	drained = s->state == FPGADMA_STREAM_STOPPED || !s->fifo_level;
	spin_unlock_irqrestore(&s->lock, flags);
	return drained;
}

/*
 * STREAM_STOP's first phase: stop producing, then wait up to @drain_ms
 * for the FIFO to empty, with no lock and no unplug semaphore held: the
 * wait is the process's (it must hand slots back), and the device may go
 * meanwhile, which stops the stream and ends the wait.  A signal ends it
 * with -ERESTARTSYS and leaves the stream draining: calling again is
 * harmless.  The caller has checked that @ctx has streams.
 */
static int fpgadma_stream_drain(struct fpgadma_ctx *ctx, u32 id,
				u32 drain_ms)
{
	struct fpgadma_stream *s;
	unsigned long flags;
	bool entered;
	long ret;

	entered = fpgadma_stream_enter(ctx);
	mutex_lock(&ctx->lock);
	s = fpgadma_stream_find(ctx, id);
	if (s) {
		spin_lock_irqsave(&s->lock, flags);
		if (s->state == FPGADMA_STREAM_RUNNING) {
			WRITE_ONCE(s->state, FPGADMA_STREAM_DRAINING);
			WRITE_ONCE(s->ctrl->state, FPGADMA_STREAM_DRAINING);
		}
		spin_unlock_irqrestore(&s->lock, flags);
		kref_get(&s->kref);
	}
	mutex_unlock(&ctx->lock);
	fpgadma_stream_leave(ctx, entered);
	if (!s)
		return -EINVAL;
	ret = wait_event_interruptible_timeout(s->wait,
					       fpgadma_stream_drained(s),
					       msecs_to_jiffies(drain_ms));
	kref_put(&s->kref, fpgadma_stream_release);
	return ret < 0 ? ret : 0;
}

/**
 * fpgadma_ioctl_stream_stop() - FPGADMA_IOC_STREAM_STOP.
 * @ctx:	the calling context.
 * @uarg:	struct fpgadma_stream_stop; the final counters are written
 *		back.
 *
 * Drains first if asked to (fpgadma_stream_drain()), then stops the
 * stream if it still runs (END CQE, status SUCCESS) and frees its id.
 * Takes the unplug semaphore itself, around each phase but not around
 * the drain's wait; on a device that has gone it frees the id of a
 * stream the removal stopped.
 *
 * Context: process context of the owner, may sleep; no lock held.
 * Return: 0; -EFAULT (the stream is stopped and freed all the same when
 * only the counters cannot be written back); -EINVAL (flags, reserved or
 * out fields not zero, no such stream); -EOPNOTSUPP (no streams on this
 * device); -ERESTARTSYS (a signal during the drain; the stream no longer
 * produces, the call may be made again); -ENODEV (a device without
 * streams has gone).
 */
int fpgadma_ioctl_stream_stop(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_stream_stop cmd;
	bool entered;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags || cmd.reserved0 ||
	    !fpgadma_stream_zeroed(&cmd.stats, sizeof(cmd.stats)) ||
	    !fpgadma_stream_zeroed(cmd.reserved, sizeof(cmd.reserved)))
		return -EINVAL;
	if (!ctx->streams)
		return READ_ONCE(ctx->fdev->dead) ? -ENODEV : -EOPNOTSUPP;
	if (cmd.drain_ms) {
		ret = fpgadma_stream_drain(ctx, cmd.stream_id, cmd.drain_ms);
		if (ret)
			return ret;
	}
	entered = fpgadma_stream_enter(ctx);
	ret = fpgadma_stream_free_id(ctx, cmd.stream_id, &cmd.stats);
	fpgadma_stream_leave(ctx, entered);
	if (ret)
		return ret;
	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

/**
 * fpgadma_ioctl_stream_stats() - FPGADMA_IOC_STREAM_STATS.
 * @ctx:	the calling context.
 * @uarg:	struct fpgadma_stream_query; the counters are written back.
 *
 * Also for a stream that its MR's deregistration or the device's removal
 * stopped, until STREAM_STOP frees its id.
 *
 * Context: process context of the owner; takes the unplug semaphore for
 * reading (while the device is there) and @ctx->lock.
 * Return: 0; -EFAULT; -EINVAL (flags, reserved or out fields not zero, no
 * such stream); -EOPNOTSUPP (no streams on this device); -ENODEV (a
 * device without streams has gone).
 */
int fpgadma_ioctl_stream_stats(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_stream_query cmd;
	struct fpgadma_stream *s;
	bool entered;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags ||
	    !fpgadma_stream_zeroed(&cmd.stats, sizeof(cmd.stats)) ||
	    !fpgadma_stream_zeroed(cmd.reserved, sizeof(cmd.reserved)))
		return -EINVAL;
	if (!ctx->streams)
		return READ_ONCE(ctx->fdev->dead) ? -ENODEV : -EOPNOTSUPP;
	entered = fpgadma_stream_enter(ctx);
	mutex_lock(&ctx->lock);
	s = fpgadma_stream_find(ctx, cmd.stream_id);
	if (s)
		fpgadma_stream_snapshot(s, &cmd.stats);
	mutex_unlock(&ctx->lock);
	fpgadma_stream_leave(ctx, entered);
	if (!s)
		return -EINVAL;
	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

/* Halt the context's running streams on @mr (every one if @mr is NULL). */
static void fpgadma_stream_halt_all(struct fpgadma_ctx *ctx,
				    struct fpgadma_kmr *mr, u32 end)
{
	struct fpgadma_stream *s;
	u32 i;

	if (!ctx->streams)
		return;
	mutex_lock(&ctx->lock);
	for (i = 0; i < ctx->max_streams; i++) {
		s = ctx->streams[i];
		if (s && (!mr || s->mr == mr))
			fpgadma_stream_halt(s, end, FPGADMA_WC_FLUSH_ERR);
	}
	mutex_unlock(&ctx->lock);
}

/**
 * fpgadma_stream_mr_gone() - stop the streams writing into an MR.
 * @ctx:	the MR's context.
 * @mr:		an MR being deregistered, in no table any more.
 *
 * Each stops with FPGADMA_STREAM_END_DEREG (END CQE FPGADMA_WC_FLUSH_ERR)
 * and keeps its id and counters until STREAM_STOP; then its hold on @mr
 * is gone, which deregistration waits for.
 *
 * Context: process context, may sleep; takes @ctx->lock.
 */
void fpgadma_stream_mr_gone(struct fpgadma_ctx *ctx, struct fpgadma_kmr *mr)
{
	fpgadma_stream_halt_all(ctx, mr, FPGADMA_STREAM_END_DEREG);
}

/**
 * fpgadma_stream_stop_all() - stop every stream of a context going away.
 * @ctx:	the context, closing (FPGADMA_STREAM_END_CLOSE) or on a
 *		device being unregistered (FPGADMA_STREAM_END_GONE).
 *
 * Each stops with END CQE status FPGADMA_WC_FLUSH_ERR; the engine is
 * still there.
 *
 * Context: process context, may sleep; the device's unplug semaphore held;
 * takes @ctx->lock.
 */
void fpgadma_stream_stop_all(struct fpgadma_ctx *ctx)
{
	fpgadma_stream_halt_all(ctx, NULL, ctx->fdev->dead ?
				FPGADMA_STREAM_END_GONE :
				FPGADMA_STREAM_END_CLOSE);
}
