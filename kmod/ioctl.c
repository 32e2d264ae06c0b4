// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma entry points: the file operations of /dev/fpgadmaN and the ioctl
 * ABI of include/uapi/fpgadma-abi.h.  One context per open file; every
 * call checks sizes, flags and reserved fields, and runs under the device's
 * unplug semaphore, failing with ENODEV once the device has gone (core.c).
 * STREAM_STOP, which may wait for the process, takes the semaphore itself
 * around what it does, not around its wait; it and STREAM_STATS also work
 * on the (stopped) streams of a device that has gone (stream.c).
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "fpgadma.h"

static bool fpgadma_zeroed(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* The largest MR of @fdev: the module parameter, or the engine's lower limit. */
static u64 fpgadma_dev_max_mr(const struct fpgadma_dev *fdev)
{
	if (fdev->max_mr_size && fdev->max_mr_size < fpgadma_max_mr_size)
		return fdev->max_mr_size;
	return fpgadma_max_mr_size;
}

static int fpgadma_ioctl_query(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_dev *fdev = ctx->fdev;
	struct fpgadma_query q = {
		.abi_version = FPGADMA_ABI_VERSION,
		.engine = fdev->ops->type,
		.dev_index = fdev->index,
		.max_sge = fpgadma_max_sge,
		.max_post = fpgadma_max_post,
		.max_seg_size = fdev->max_seg_size,
		.page_size = PAGE_SIZE,
		.dev_mem_size = fdev->dev_mem_size,
		.frame_size = fdev->frame_size,
		.max_mr_size = fpgadma_dev_max_mr(fdev),
		.ep_id = READ_ONCE(ctx->ep_id),
		.caps = (fdev->ops->caps & ~FPGADMA_CAP_STREAM) |
			FPGADMA_CAP_BIND_EP | FPGADMA_CAP_MR_MONITOR,
	};

	fpgadma_ring_layout(ctx, &q);
	fpgadma_mon_query(ctx, &q);
	fpgadma_stream_query(ctx, &q);
	fpgadma_devmem_query(ctx, &q);
	fpgadma_chan_query(ctx, &q);
	return copy_to_user(uarg, &q, sizeof(q)) ? -EFAULT : 0;
}

static int fpgadma_ioctl_reg_mr(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_reg_mr cmd;
	u64 end;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	/* An empty or wrapping range, also once rounded out to whole pages. */
	if (!cmd.length || check_add_overflow(cmd.addr, cmd.length, &end) ||
	    end > U64_MAX - PAGE_SIZE + 1)
		return -EINVAL;
	if (cmd.flags & ~(FPGADMA_REG_MR_REQ_RKEY | FPGADMA_REG_MR_MONITOR) ||
	    cmd.reserved0 || cmd.reserved || cmd.mon_slot || cmd.mon_gen ||
	    (cmd.flags & FPGADMA_REG_MR_REQ_RKEY && !cmd.rkey) ||
	    cmd.access & ~FPGADMA_ACCESS_ALL ||
	    cmd.length > fpgadma_dev_max_mr(ctx->fdev))
		return -EINVAL;
	if (ctx->fdev->dma_out_of_reach)
		return -EIO;
	ret = fpgadma_mr_reg(ctx, &cmd);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &cmd, sizeof(cmd))) {
		/* The caller cannot learn the key: do not leave the MR behind. */
		fpgadma_mr_dereg(ctx, cmd.lkey);
		return -EFAULT;
	}
	return 0;
}

static int fpgadma_ioctl_dereg_mr(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_dereg_mr cmd;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags || !fpgadma_zeroed(cmd.reserved, sizeof(cmd.reserved)))
		return -EINVAL;
	return fpgadma_mr_dereg(ctx, cmd.lkey);
}

static int fpgadma_ioctl_post(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_post cmd;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags || !fpgadma_zeroed(cmd.reserved, sizeof(cmd.reserved)))
		return -EINVAL;
	return fpgadma_post_wqes(ctx, &cmd);
}

/*
 * Trade the context's dynamic endpoint number for the one asked for.  The
 * new number is entered before the old one leaves, so a SEND racing with
 * the bind finds the context under one of them.
 */
static int fpgadma_ioctl_bind_ep(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_dev *fdev = ctx->fdev;
	struct fpgadma_bind_ep cmd;
	u32 old;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags || !fpgadma_zeroed(cmd.reserved, sizeof(cmd.reserved)) ||
	    !cmd.ep_id || cmd.ep_id > FPGADMA_EP_ID_MAX)
		return -EINVAL;
	mutex_lock(&ctx->lock);
	if (ctx->ep_bound) {
		ret = -EINVAL;
		goto out;
	}
	old = ctx->ep_id;
	if (cmd.ep_id != old) {
		ret = xa_insert(&fdev->eps, cmd.ep_id, ctx, GFP_KERNEL);
		if (ret) {
			if (ret == -EBUSY)
				ret = -EADDRINUSE;
			goto out;
		}
		WRITE_ONCE(ctx->ep_id, cmd.ep_id);
		xa_erase(&fdev->eps, old);
		/* channels name the old number: their ends map anew */
		fpgadma_chan_reset(ctx);
	}
	ctx->ep_bound = true;
	ret = 0;
out:
	mutex_unlock(&ctx->lock);
	return ret;
}

/*
 * Commands of another driver's magic get -ENOTTY, as the tty layer and
 * isatty() expect; ours with an unknown number, a wrong size or a wrong
 * direction get -EINVAL (the size and direction are part of the number).
 */
static long fpgadma_ioctl_cmd(struct fpgadma_ctx *ctx, unsigned int cmd,
			      void __user *uarg)
{
	switch (cmd) {
	case FPGADMA_IOC_QUERY:
		return fpgadma_ioctl_query(ctx, uarg);
	case FPGADMA_IOC_REG_MR:
		return fpgadma_ioctl_reg_mr(ctx, uarg);
	case FPGADMA_IOC_DEREG_MR:
		return fpgadma_ioctl_dereg_mr(ctx, uarg);
	case FPGADMA_IOC_POST:
		return fpgadma_ioctl_post(ctx, uarg);
	case FPGADMA_IOC_BIND_EP:
		return fpgadma_ioctl_bind_ep(ctx, uarg);
	case FPGADMA_IOC_STREAM_START:
		return fpgadma_ioctl_stream_start(ctx, uarg);
	default:
		return -EINVAL;
	}
}

/**
 * fpgadma_ctx_enter() - enter an entry point of a context.
 * @ctx:	the context.
 *
 * Context: process context, may sleep (while the device is being
 * unregistered).
 * Return: 0 with the device's unplug semaphore held for reading
 * (fpgadma_ctx_leave()), or -ENODEV once the device has gone.
 */
int fpgadma_ctx_enter(struct fpgadma_ctx *ctx)
{
	down_read(&ctx->fdev->unplug);
	if (!ctx->fdev->dead)
		return 0;
	up_read(&ctx->fdev->unplug);
	return -ENODEV;
}

/**
 * fpgadma_ctx_leave() - leave what fpgadma_ctx_enter() entered.
 * @ctx:	the context.
 *
 * Context: process context.
 */
void fpgadma_ctx_leave(struct fpgadma_ctx *ctx)
{
	up_read(&ctx->fdev->unplug);
}

static long fpgadma_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct fpgadma_ctx *ctx = file->private_data;
	long ret;

	if (_IOC_TYPE(cmd) != FPGADMA_IOC_MAGIC)
		return -ENOTTY;
	if (current->mm != ctx->mm)
		return -EACCES;
	/*
	 * These enter themselves: STOP may wait for the process, which it
	 * must not do with the unplug semaphore held, and both still work
	 * on the streams of a device that has gone (stream.c).
	 */
	if (cmd == FPGADMA_IOC_STREAM_STOP)
		return fpgadma_ioctl_stream_stop(ctx, (void __user *)arg);
	if (cmd == FPGADMA_IOC_STREAM_STATS)
		return fpgadma_ioctl_stream_stats(ctx, (void __user *)arg);
	ret = fpgadma_ctx_enter(ctx);
	if (ret)
		return ret;
	ret = fpgadma_ioctl_cmd(ctx, cmd, (void __user *)arg);
	fpgadma_ctx_leave(ctx);
	return ret;
}

/*
 * The ring, the monitor area and the stream area belong to the context,
 * not to the device, and the device memory lives as long as a mapping of
 * it (devmem.c):
 * a mapping made before the device left stays valid (it shows the last
 * CQEs); a new one is refused like every other call.
 */
static int fpgadma_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct fpgadma_ctx *ctx = file->private_data;
	int ret;

	if (current->mm != ctx->mm)
		return -EACCES;
	if (READ_ONCE(ctx->fdev->dead))
		return -ENODEV;
	ret = fpgadma_mon_mmap(ctx, vma);
	if (ret <= 0)
		return ret;
	ret = fpgadma_stream_mmap(ctx, vma);
	if (ret <= 0)
		return ret;
	ret = fpgadma_devmem_mmap(ctx, vma);
	if (ret <= 0)
		return ret;
	ret = fpgadma_chan_mmap(ctx, vma);
	if (ret <= 0)
		return ret;
	if (vma->vm_pgoff ||
	    vma->vm_end - vma->vm_start > PAGE_ALIGN(ctx->ring_size))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* The ring is the opener's: a fork child does not inherit it. */
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYEXEC;
	return remap_vmalloc_range(vma, ctx->ring, 0);
}

/* The monitor's events (monitor.c); the unplug semaphore is not held. */
static ssize_t fpgadma_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct fpgadma_ctx *ctx = file->private_data;

	if (current->mm != ctx->mm)
		return -EACCES;
	return fpgadma_mon_read(ctx, buf, count, file->f_flags & O_NONBLOCK);
}

static __poll_t fpgadma_poll(struct file *file, poll_table *wait)
{
	struct fpgadma_ctx *ctx = file->private_data;

	__poll_t mask;

	poll_wait(file, &ctx->cq_wait, wait);
	poll_wait(file, &ctx->mon_wait, wait);
	/*
	 * Queued before the tail is read: pairs with the barrier of
	 * wq_has_sleeper() in the CQE's writer, which wakes only a queue
	 * with sleepers.
	 */
	smp_mb();
	mask = fpgadma_ctx_cq_ready(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
	if (fpgadma_mon_pending(ctx))
		mask |= EPOLLPRI;
	if (READ_ONCE(ctx->fdev->dead))
		mask |= EPOLLHUP;
	return mask;
}

/**
 * fpgadma_ctx_teardown() - take a context off its device.
 * @ctx:	an open context of a live device.
 *
 * Nothing can find it any more, its posted RECVs are flushed, its streams
 * stop, its work in flight completes, its MRs are released.  By close, or
 * by fpgadma_dev_unregister() for a file still open.
 *
 * Context: process context, may sleep as long as the work in flight takes;
 * the device's unplug semaphore held (for reading by close, for writing by
 * unregister).
 */
void fpgadma_ctx_teardown(struct fpgadma_ctx *ctx)
{
	/* No SEND can find the endpoint now; its posted RECVs complete flushed. */
	xa_erase(&ctx->fdev->eps, ctx->ep_id);
	fpgadma_recv_flush(ctx, NULL);
	fpgadma_chan_reset(ctx);
	fpgadma_stream_stop_all(ctx);
	fpgadma_ctx_drain(ctx);
	fpgadma_mr_destroy_all(ctx);
	/* read() sleepers of a device that has gone learn it (ENODEV). */
	wake_up_all(&ctx->mon_wait);
}

static int fpgadma_open(struct inode *inode, struct file *file)
{
	struct fpgadma_dev *fdev;
	struct fpgadma_ctx *ctx;
	int ret;

	if (!current->mm)
		return -EPERM;
	fdev = fpgadma_dev_get_minor(iminor(inode));
	if (!fdev)
		return -ENODEV;
	ret = -ENOMEM;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		goto err_put;
	ctx->fdev = fdev;
	mutex_init(&ctx->lock);
	xa_init(&ctx->mrs);
	spin_lock_init(&ctx->recv_lock);
	INIT_LIST_HEAD(&ctx->recvq);
	spin_lock_init(&ctx->chan_lock);
	INIT_LIST_HEAD(&ctx->chan_links);
	INIT_LIST_HEAD(&ctx->node);
	ret = fpgadma_ctx_init_ring(ctx, fpgadma_cq_entries);
	if (ret)
		goto err_free;
	ret = fpgadma_mon_ctx_init(ctx);
	if (ret)
		goto err_ring;
	ret = fpgadma_stream_ctx_init(ctx);
	if (ret)
		goto err_ring;
	ret = fpgadma_ctx_enter(ctx);
	if (ret)
		goto err_ring;
	/*
	 * Cyclic: a closed endpoint's number is not soon given to another.
	 * 16 bits, so that addresses that carry it in a port number (the
	 * provider's FI_SOCKADDR_IN format) can name every endpoint.  From
	 * the dynamic range only, as the IP stack's ephemeral ports, so that
	 * a number below it stays free for BIND_EP to give.
	 */
	ret = xa_alloc_cyclic(&fdev->eps, &ctx->ep_id, ctx,
			      XA_LIMIT(FPGADMA_EP_ID_DYNAMIC_MIN,
				       FPGADMA_EP_ID_MAX),
			      &fdev->next_ep_id, GFP_KERNEL);
	if (ret < 0) {
		fpgadma_ctx_leave(ctx);
		goto err_ring;
	}
	spin_lock(&fdev->ctxs_lock);
	list_add_tail(&ctx->node, &fdev->ctxs);
	spin_unlock(&fdev->ctxs_lock);
	fpgadma_ctx_leave(ctx);
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	file->private_data = ctx;
	return stream_open(inode, file);

err_ring:
	fpgadma_stream_ctx_free(ctx);
	fpgadma_mon_ctx_free(ctx);
	vfree(ctx->ring);
err_free:
	kfree(ctx);
err_put:
	fpgadma_dev_put(fdev);
	return ret;
}

/*
 * The last reference is gone: the process closed the file or died, and no
 * mapping of the ring or of an area is left.  Let the device finish with
 * our work and stop our streams first, unless the device has gone and done
 * so already.
 */
static int fpgadma_release(struct inode *inode, struct file *file)
{
	struct fpgadma_ctx *ctx = file->private_data;
	struct fpgadma_dev *fdev = ctx->fdev;

	if (!fpgadma_ctx_enter(ctx)) {
		spin_lock(&fdev->ctxs_lock);
		list_del_init(&ctx->node);
		spin_unlock(&fdev->ctxs_lock);
		fpgadma_ctx_teardown(ctx);
		fpgadma_ctx_leave(ctx);
	}
	xa_destroy(&ctx->mrs);
	/* a mapping made as the device went may have come after teardown */
	fpgadma_chan_reset(ctx);
	fpgadma_ctx_free_works(ctx);
	fpgadma_stream_ctx_free(ctx);
	fpgadma_mon_ctx_free(ctx);
	vfree(ctx->ring);
	mmdrop(ctx->mm);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	fpgadma_dev_put(fdev);
	return 0;
}

const struct file_operations fpgadma_fops = {
	.owner = THIS_MODULE,
	.open = fpgadma_open,
	.release = fpgadma_release,
	.unlocked_ioctl = fpgadma_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = fpgadma_mmap,
	.read = fpgadma_read,
	.poll = fpgadma_poll,
	.llseek = no_llseek,
};
