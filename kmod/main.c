// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma core (fpgadma_core.ko): the character devices, one context per
 * open file, the ioctl ABI of include/uapi/fpgadma-abi.h, the completion
 * ring mapping and the device counters in sysfs.  Engine modules register
 * devices with fpgadma_dev_register(); nothing here knows which engine runs,
 * and no symbol of an engine is used (Documentation: man/fpgadma-engine.9).
 *
 * A device may leave while files are open on it (the engine module is
 * removed, its PCI device unbound), as ib_core's devices do: every entry
 * point runs under the device's unplug semaphore for reading and fails with
 * ENODEV once the device is dead; fpgadma_dev_unregister() takes it for
 * writing, so it waits for calls in progress, then disassociates each open
 * context: queued work is flushed, work in flight completes, RECVs complete
 * with FPGADMA_WC_FLUSH_ERR and every MR is unmapped and unpinned before the
 * engine gives its device up.  The context itself, its ring (still mapped)
 * and the device's memory live until the last file is closed.
 */
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "fpgadma.h"

unsigned int fpgadma_max_sge = 32;
module_param_named(max_sge, fpgadma_max_sge, uint, 0444);
MODULE_PARM_DESC(max_sge, "Most pieces in one work request (1..1024, default 32)");

unsigned int fpgadma_max_post = 256;
module_param_named(max_post, fpgadma_max_post, uint, 0444);
MODULE_PARM_DESC(max_post, "Most work requests in one POST (1..65536, default 256)");

unsigned int fpgadma_cq_entries = 4096;
module_param_named(cq_entries, fpgadma_cq_entries, uint, 0444);
MODULE_PARM_DESC(cq_entries, "Completion ring entries, a power of two (64..1048576, default 4096)");

unsigned long long fpgadma_max_mr_size = 64ULL << 30;
module_param_named(max_mr_size, fpgadma_max_mr_size, ullong, 0444);
MODULE_PARM_DESC(max_mr_size, "Largest memory region in bytes (default 64 GiB)");

static dev_t fpgadma_devt;
static struct class *fpgadma_class;
static DEFINE_IDA(fpgadma_ida);
/* The registered devices by minor, for open(); protected by fpgadma_devs_lock. */
static struct fpgadma_dev *fpgadma_devs[FPGADMA_MAX_DEVICES];
static DEFINE_MUTEX(fpgadma_devs_lock);

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
		.caps = fdev->ops->caps | FPGADMA_CAP_BIND_EP,
	};

	fpgadma_ring_layout(ctx, &q);
	return copy_to_user(uarg, &q, sizeof(q)) ? -EFAULT : 0;
}

static int fpgadma_ioctl_reg_mr(struct fpgadma_ctx *ctx, void __user *uarg)
{
	struct fpgadma_reg_mr cmd;
	int ret;

	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (cmd.flags & ~FPGADMA_REG_MR_REQ_RKEY || cmd.reserved0 ||
	    (cmd.flags & FPGADMA_REG_MR_REQ_RKEY && !cmd.rkey) ||
	    !fpgadma_zeroed(cmd.reserved, sizeof(cmd.reserved)) ||
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
	return fpgadma_post(ctx, &cmd);
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
	default:
		return -EINVAL;
	}
}

/*
 * Enter an entry point of a context: 0 with the device's unplug semaphore
 * held for reading, or -ENODEV once the device has gone.
 */
static int fpgadma_ctx_enter(struct fpgadma_ctx *ctx)
{
	down_read(&ctx->fdev->unplug);
	if (!ctx->fdev->dead)
		return 0;
	up_read(&ctx->fdev->unplug);
	return -ENODEV;
}

static void fpgadma_ctx_leave(struct fpgadma_ctx *ctx)
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
	ret = fpgadma_ctx_enter(ctx);
	if (ret)
		return ret;
	ret = fpgadma_ioctl_cmd(ctx, cmd, (void __user *)arg);
	fpgadma_ctx_leave(ctx);
	return ret;
}

/*
 * The ring belongs to the context, not to the device: a mapping made before
 * the device left stays valid (it shows the last CQEs); a new one is
 * refused like every other call.
 */
static int fpgadma_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct fpgadma_ctx *ctx = file->private_data;

	if (current->mm != ctx->mm)
		return -EACCES;
	if (READ_ONCE(ctx->fdev->dead))
		return -ENODEV;
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

static __poll_t fpgadma_poll(struct file *file, poll_table *wait)
{
	struct fpgadma_ctx *ctx = file->private_data;

	__poll_t mask;

	poll_wait(file, &ctx->cq_wait, wait);
	mask = fpgadma_ctx_cq_ready(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
	if (READ_ONCE(ctx->fdev->dead))
		mask |= EPOLLHUP;
	return mask;
}

/*
 * Take a context off its device: nothing can find it any more, its posted
 * RECVs are flushed, its work in flight completes, its MRs are released.
 * By close, or by fpgadma_dev_unregister() for a file still open.
 */
static void fpgadma_ctx_teardown(struct fpgadma_ctx *ctx)
{
	/* No SEND can find the endpoint now; its posted RECVs complete flushed. */
	xa_erase(&ctx->fdev->eps, ctx->ep_id);
	fpgadma_recv_flush(ctx, NULL);
	fpgadma_ctx_drain(ctx);
	fpgadma_mr_destroy_all(ctx);
}

/* The registered device of minor @minor with a reference, or NULL. */
static struct fpgadma_dev *fpgadma_dev_get_minor(unsigned int minor)
{
	struct fpgadma_dev *fdev = NULL;

	mutex_lock(&fpgadma_devs_lock);
	if (minor < FPGADMA_MAX_DEVICES && fpgadma_devs[minor]) {
		fdev = fpgadma_devs[minor];
		kref_get(&fdev->kref);
	}
	mutex_unlock(&fpgadma_devs_lock);
	return fdev;
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
	INIT_LIST_HEAD(&ctx->node);
	ret = fpgadma_ctx_init_ring(ctx, fpgadma_cq_entries);
	if (ret)
		goto err_free;
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
	vfree(ctx->ring);
err_free:
	kfree(ctx);
err_put:
	fpgadma_dev_put(fdev);
	return ret;
}

/*
 * The last reference is gone: the process closed the file or died, and no
 * mapping of the ring is left.  Let the device finish with our work first,
 * unless the device has gone and done so already.
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
	vfree(ctx->ring);
	mmdrop(ctx->mm);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	fpgadma_dev_put(fdev);
	return 0;
}

static const struct file_operations fpgadma_fops = {
	.owner = THIS_MODULE,
	.open = fpgadma_open,
	.release = fpgadma_release,
	.unlocked_ioctl = fpgadma_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = fpgadma_mmap,
	.poll = fpgadma_poll,
	.llseek = no_llseek,
};

#define FPGADMA_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct fpgadma_dev *fdev = dev_get_drvdata(dev);		\
									\
	return sysfs_emit(buf, "%lld\n",				\
			  (long long)atomic64_read(&fdev->stats.name));	\
}									\
static DEVICE_ATTR_RO(name)

FPGADMA_STAT_ATTR(live_mrs);
FPGADMA_STAT_ATTR(pinned_pages);
FPGADMA_STAT_ATTR(bytes_to_host);
FPGADMA_STAT_ATTR(bytes_to_device);
FPGADMA_STAT_ATTR(wrs_completed);
FPGADMA_STAT_ATTR(wr_errors);

static ssize_t engine_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct fpgadma_dev *fdev = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", fdev->ops->name);
}
static DEVICE_ATTR_RO(engine);

static struct attribute *fpgadma_attrs[] = {
	&dev_attr_live_mrs.attr,
	&dev_attr_pinned_pages.attr,
	&dev_attr_bytes_to_host.attr,
	&dev_attr_bytes_to_device.attr,
	&dev_attr_wrs_completed.attr,
	&dev_attr_wr_errors.attr,
	&dev_attr_engine.attr,
	NULL,
};
ATTRIBUTE_GROUPS(fpgadma);

static void fpgadma_dev_release(struct kref *kref)
{
	/* The engine's structure that embeds the device, at offset 0. */
	kfree(container_of(kref, struct fpgadma_dev, kref));
}

/**
 * __fpgadma_dev_alloc() - allocate an engine's device structure.
 * @size:	bytes of the engine's structure, which must start with its
 *		struct fpgadma_dev (fpgadma_dev_alloc() checks that).
 *
 * The memory is zeroed and reference counted: the engine holds the first
 * reference and gives it up with fpgadma_dev_put() once it has unregistered
 * the device and released its own resources; each open file holds another,
 * so the structure outlives its engine while files are open.  Nothing but
 * the embedded struct fpgadma_dev may be used by the core after
 * fpgadma_dev_unregister(), so the engine frees whatever else it owns
 * itself.
 *
 * Context: process context, may sleep.
 * Return: the device, or NULL when out of memory.
 */
struct fpgadma_dev *__fpgadma_dev_alloc(size_t size)
{
	struct fpgadma_dev *fdev;

	if (WARN_ON(size < sizeof(*fdev)))
		return NULL;
	fdev = kzalloc(size, GFP_KERNEL);
	if (!fdev)
		return NULL;
	kref_init(&fdev->kref);
	init_rwsem(&fdev->unplug);
	spin_lock_init(&fdev->ctxs_lock);
	INIT_LIST_HEAD(&fdev->ctxs);
	fdev->index = -1;
	return fdev;
}
EXPORT_SYMBOL_GPL(__fpgadma_dev_alloc);

/**
 * fpgadma_dev_put() - drop a reference on a device from fpgadma_dev_alloc().
 * @fdev:	the device, or NULL.
 *
 * The last reference frees the engine's structure.
 *
 * Context: any context that may call kfree().
 */
void fpgadma_dev_put(struct fpgadma_dev *fdev)
{
	if (fdev)
		kref_put(&fdev->kref, fpgadma_dev_release);
}
EXPORT_SYMBOL_GPL(fpgadma_dev_put);

/**
 * fpgadma_dev_register() - make a device visible as /dev/fpgadmaN.
 * @fdev:	from fpgadma_dev_alloc(), filled in by the engine: dma_dev,
 *		ops, engine, dev_mem_size, frame_size, max_seg_size (a
 *		multiple of PAGE_SIZE), and max_mr_size and dma_out_of_reach
 *		where they apply.
 *
 * From the moment this returns, the core may call @fdev->ops->submit() until
 * fpgadma_dev_unregister() returns.
 *
 * Context: process context, may sleep.
 * Return: 0, or -ENOSPC (too many devices) or another negative errno.
 */
int fpgadma_dev_register(struct fpgadma_dev *fdev)
{
	dev_t devt;
	int ret;

	ret = ida_alloc_max(&fpgadma_ida, FPGADMA_MAX_DEVICES - 1, GFP_KERNEL);
	if (ret < 0)
		return ret;
	fdev->index = ret;
	devt = MKDEV(MAJOR(fpgadma_devt), fdev->index);
	xa_init(&fdev->rkeys);
	xa_init_flags(&fdev->eps, XA_FLAGS_ALLOC1);

	ret = -ENOMEM;
	fdev->cdev = cdev_alloc();
	if (!fdev->cdev)
		goto err_ida;
	fdev->cdev->ops = &fpgadma_fops;
	fdev->cdev->owner = THIS_MODULE;
	ret = cdev_add(fdev->cdev, devt, 1);
	if (ret)
		goto err_cdev;

	fdev->chardev = device_create_with_groups(fpgadma_class, fdev->dma_dev,
						  devt, fdev, fpgadma_groups,
						  "fpgadma%d", fdev->index);
	if (IS_ERR(fdev->chardev)) {
		ret = PTR_ERR(fdev->chardev);
		goto err_cdev;
	}
	ret = fpgadma_stages_init(fdev);
	if (ret)
		goto err_device;
	mutex_lock(&fpgadma_devs_lock);
	fpgadma_devs[fdev->index] = fdev;
	mutex_unlock(&fpgadma_devs_lock);
	dev_info(fdev->chardev, "%s engine, %llu bytes of device memory, %llu-byte frames, max segment %u\n",
		 fdev->ops->name, fdev->dev_mem_size, fdev->frame_size,
		 fdev->max_seg_size);
	return 0;

err_device:
	device_destroy(fpgadma_class, devt);
err_cdev:
	cdev_del(fdev->cdev);
err_ida:
	ida_free(&fpgadma_ida, fdev->index);
	fdev->index = -1;
	return ret;
}
EXPORT_SYMBOL_GPL(fpgadma_dev_register);

/**
 * fpgadma_dev_unregister() - remove a device registered above.
 * @fdev:	the device.
 *
 * No new file can open the device, and calls on files already open fail
 * with ENODEV from now on.  Waits for calls in progress; then flushes the
 * engine's queued work (ops->flush, if the engine has it), waits for its
 * work in flight, completes posted RECVs with FPGADMA_WC_FLUSH_ERR and
 * releases every MR of every open context (unmapped for the engine's
 * device, unpinned, uncharged).  When it returns the core will not call
 * the engine or touch its DMA device again; the engine may then stop its
 * hardware and drop its reference with fpgadma_dev_put().  The engine must
 * keep completing work until this returns.
 *
 * Context: process context, may sleep (as long as the work in flight takes).
 */
void fpgadma_dev_unregister(struct fpgadma_dev *fdev)
{
	dev_t devt = MKDEV(MAJOR(fpgadma_devt), fdev->index);
	struct fpgadma_ctx *ctx, *tmp;
	unsigned int n = 0;

	mutex_lock(&fpgadma_devs_lock);
	fpgadma_devs[fdev->index] = NULL;
	mutex_unlock(&fpgadma_devs_lock);
	cdev_del(fdev->cdev);

	down_write(&fdev->unplug);
	fdev->dead = true;
	if (fdev->ops->flush)
		fdev->ops->flush(fdev);
	list_for_each_entry_safe(ctx, tmp, &fdev->ctxs, node) {
		list_del_init(&ctx->node);
		fpgadma_ctx_teardown(ctx);
		wake_up_interruptible(&ctx->cq_wait);
		n++;
	}
	up_write(&fdev->unplug);
	if (n)
		dev_info(fdev->chardev, "gone with %u file(s) open: their work flushed, their memory released\n",
			 n);

	fpgadma_stages_exit(fdev);
	device_destroy(fpgadma_class, devt);
	WARN_ON(!xa_empty(&fdev->rkeys));
	xa_destroy(&fdev->rkeys);
	WARN_ON(!xa_empty(&fdev->eps));
	xa_destroy(&fdev->eps);
	ida_free(&fpgadma_ida, fdev->index);
}
EXPORT_SYMBOL_GPL(fpgadma_dev_unregister);

static int __init fpgadma_init(void)
{
	int ret;

	if (!fpgadma_max_sge || fpgadma_max_sge > 1024 ||
	    !fpgadma_max_post || fpgadma_max_post > 65536 ||
	    fpgadma_cq_entries < 64 || fpgadma_cq_entries > (1U << 20) ||
	    !is_power_of_2(fpgadma_cq_entries) || !fpgadma_max_mr_size) {
		pr_err("fpgadma: invalid module parameter\n");
		return -EINVAL;
	}

	ret = alloc_chrdev_region(&fpgadma_devt, 0, FPGADMA_MAX_DEVICES,
				  "fpgadma");
	if (ret)
		return ret;
	fpgadma_class = class_create(THIS_MODULE, "fpgadma");
	if (IS_ERR(fpgadma_class)) {
		ret = PTR_ERR(fpgadma_class);
		goto err_region;
	}
	fpgadma_stages_module_init();
	return 0;

err_region:
	unregister_chrdev_region(fpgadma_devt, FPGADMA_MAX_DEVICES);
	return ret;
}

/* Engines hold the core: by now every device is unregistered. */
static void __exit fpgadma_exit(void)
{
	fpgadma_stages_module_exit();
	class_destroy(fpgadma_class);
	unregister_chrdev_region(fpgadma_devt, FPGADMA_MAX_DEVICES);
	ida_destroy(&fpgadma_ida);
}

module_init(fpgadma_init);
module_exit(fpgadma_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("fpgadma core: DMA between FPGA boards and long-term pinned user memory");
MODULE_AUTHOR("The fpgadma developers");
