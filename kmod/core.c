// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma core (fpgadma_core.ko): the module, its parameters, and the
 * registry of devices: engine modules register theirs with
 * fpgadma_dev_register(); nothing here knows which engine runs, and no
 * symbol of an engine is used (the engine API: man/fpgadma-engine.9).  The
 * device counters in sysfs.  The rest of the core, by object: ioctl.c (the
 * entry points), umem.c, mr.c, post.c, recv.c, cq.c, stages.c, monitor.c,
 * stream.c.
 *
 * A device may leave while files are open on it (the engine module is
 * removed, its PCI device unbound), as ib_core's devices do: every entry
 * point runs under the device's unplug semaphore for reading and fails with
 * ENODEV once the device is dead; fpgadma_dev_unregister() takes it for
 * writing, so it waits for calls in progress, then disassociates each open
 * context: queued work is flushed, work in flight completes, RECVs complete
 * with FPGADMA_WC_FLUSH_ERR, paced streams stop and every MR is unmapped
 * and unpinned before the engine gives its device up.  The context itself,
 * its ring and stream area (still mapped) and the device's memory live
 * until the last file is closed.
 */
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

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

/**
 * fpgadma_dev_get_minor() - the registered device of a minor, for open().
 * @minor:	the minor of /dev/fpgadmaN.
 *
 * Context: process context; takes the registry's mutex.
 * Return: the device with a reference (fpgadma_dev_put()), or NULL if no
 * device is registered there (any more).
 */
struct fpgadma_dev *fpgadma_dev_get_minor(unsigned int minor)
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
FPGADMA_STAT_ATTR(mon_invalidations);

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
	&dev_attr_mon_invalidations.attr,
	&dev_attr_engine.attr,
	NULL,
};
ATTRIBUTE_GROUPS(fpgadma);

static void fpgadma_dev_release(struct kref *kref)
{
	struct fpgadma_dev *fdev = container_of(kref, struct fpgadma_dev, kref);

	/* The device's reference: the memory lives on in mappings of it. */
	fpgadma_devmem_put(fdev->devmem);
	/* The engine's structure that embeds the device, at offset 0. */
	kfree(fdev);
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
 *		multiple of PAGE_SIZE), and max_mr_size, dma_out_of_reach and
 *		(with FPGADMA_CAP_STREAM) the stream_* defaults where they
 *		apply.
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
 * engine's queued work (ops->flush, if the engine has it), completes
 * posted RECVs with FPGADMA_WC_FLUSH_ERR, stops every paced stream
 * (ops->stream_stop), waits for the work in flight and releases every MR
 * of every open context (unmapped for the engine's device, unpinned,
 * uncharged).  When it returns the core will not call
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
	    !is_power_of_2(fpgadma_cq_entries) || !fpgadma_max_mr_size ||
	    fpgadma_max_streams > FPGADMA_MAX_STREAMS) {
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
