// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma edu engine (fpgadma_edu.ko): QEMU's emulated "edu" PCI device as
 * a DMA engine, an engine module of fpgadma_core.ko.  The device may be
 * unbound (or the module removed) with files open: the core then waits for
 * the work in flight and releases every MR mapped for it first.
 *
 * The device (hw/misc/edu.c in QEMU) has one BAR of registers, one MSI
 * vector and a DMA engine that moves up to a few KiB between host memory and
 * a 4 KiB buffer on the device, one transfer at a time, each finishing about
 * 100 ms after it was started.  It is the smallest real PCI bus master there
 * is: the transfers go through the PCI address space, so behind an IOMMU they
 * use the IOVAs of an MR's mapped table and an address the IOMMU does not map
 * faults.  That makes it the test of the core's teardown ordering: an MR must
 * stay mapped until the device has finished with it.
 *
 * Work flows through three stages.  submit() queues it; an ordered worker
 * turns each work into its list of transfers (the DMA chunks of its pieces,
 * split to the device's limit) and appends it to the ready list, in order;
 * the device runs the transfers of the first ready work one by one, each
 * started by the MSI handler when the previous one has finished, and the
 * handler completes the work after its last transfer.  The handler does a
 * constant amount of work per interrupt; walking an MR's table, which may be
 * long, happens in the worker.
 *
 * The device's quirks in QEMU 7.2 shape the limits: its range check wants the
 * end of a transfer strictly inside the buffer, and a transfer it refuses
 * aborts the emulator, so device memory is the buffer's first 4095 bytes, no
 * transfer is longer than that and none is empty.  The device truncates bus
 * addresses to 28 bits, so the DMA mask is 28 bits.
 */
#include <linux/debugfs.h>
#include <linux/interrupt.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "fpgadma.h"

#define EDU_VENDOR_ID		0x1234
#define EDU_DEVICE_ID		0x11e8

/* Registers in BAR0. */
#define EDU_REG_ID		0x00	/* 0xRRrr00ed: major, minor, magic */
#define EDU_REG_LIVENESS	0x04	/* reads back the inverse of a write */
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_RAISE	0x60
#define EDU_REG_IRQ_ACK		0x64
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_REGS_END		0xa0

#define EDU_ID_MAGIC		0xed
#define EDU_DMA_CMD_START	BIT(0)	/* cleared by the device when done */
#define EDU_DMA_CMD_TO_HOST	BIT(1)	/* buffer -> host; clear: host -> buffer */
#define EDU_DMA_CMD_IRQ		BIT(2)	/* raise EDU_IRQ_DMA when done */
#define EDU_IRQ_DMA		0x100

/* The on-board buffer, at this device address. */
#define EDU_BUF_ADDR		0x40000
/* Bytes of it a transfer may reach, and the longest transfer (see above). */
#define EDU_MEM_SIZE		4095
#define EDU_MAX_XFER		4095
#define EDU_DMA_BITS		28
/*
 * Behind an IOMMU an MR takes one contiguous IOVA range, aligned to its size
 * rounded up to a power of two, inside the device's 256 MiB of bus space:
 * MRs up to an eighth of it still find a range while others are mapped.
 */
#define EDU_IOMMU_MAX_MR	(1ULL << (EDU_DMA_BITS - 3))

/* How long a started transfer may take before the handler is suspected lost. */
#define EDU_WATCHDOG		HZ
/* Transfers kept in the debugfs log. */
#define EDU_LOG_LEN		64

/**
 * struct edu_xfer - one transfer: @len bytes between host @dma and @dev_off.
 * @dma:	bus address (an IOVA behind an IOMMU).
 * @len:	1..EDU_MAX_XFER bytes.
 * @dev_off:	offset in the device buffer.
 * @dir:	direction of the mapping @dma belongs to, for syncing.
 */
struct edu_xfer {
	dma_addr_t dma;
	u32 len;
	u16 dev_off;
	u8 dir;
};

/**
 * struct edu_job - a work request as the device runs it.
 * @node:	the ready list.
 * @work:	the core's work; completed after the last transfer.
 * @status:	FPGADMA_WC_* to complete it with.
 * @to_host:	READ_MEM (buffer -> host); else WRITE_MEM.
 * @nxfers:	transfers in @xfers; 0 for work that moves nothing.
 * @next:	the first transfer not finished yet.
 * @xfers:	the transfers, in order.
 */
struct edu_job {
	struct list_head node;
	struct fpgadma_wqe *work;
	u32 status;
	bool to_host;
	u32 nxfers;
	u32 next;
	struct edu_xfer xfers[];
};

/* One finished transfer, as the debugfs log shows it. */
struct edu_log_entry {
	u64 seq;
	dma_addr_t dma;
	u32 len;
	u32 dev_off;
	bool to_host;
};

/**
 * struct fpgadma_edu - one edu device.
 * @fdev:	the core's view.
 * @pdev:	the PCI device.
 * @regs:	BAR0.
 * @irq:	the MSI vector's Linux interrupt.
 * @translated:	an IOMMU translates the device's bus addresses.
 * @prep_wq:	ordered workqueue of @prep.
 * @prep:	turns queued work into jobs.
 * @watchdog:	notices a transfer whose interrupt never came.
 * @idle_wait:	waiters for an empty ready list.
 * @debugfs:	the device's debugfs directory.
 * @registered:	@fdev is registered with the core.
 * @lock:	protects everything below, and the device's DMA registers.
 * @queue:	submitted work, not yet prepared.
 * @ready:	prepared jobs; the first one's transfer @busy runs.
 * @busy:	a transfer is programmed and has not been seen to finish.
 * @xfers_done:	transfers finished since probe.
 * @lost_irqs:	transfers the watchdog found finished without an interrupt.
 * @log:	the last EDU_LOG_LEN transfers, @xfers_done indexing it.
 */
struct fpgadma_edu {
	struct fpgadma_dev fdev;
	struct pci_dev *pdev;
	void __iomem *regs;
	int irq;
	bool translated;
	struct workqueue_struct *prep_wq;
	struct work_struct prep;
	struct delayed_work watchdog;
	wait_queue_head_t idle_wait;
	struct dentry *debugfs;
	bool registered;

	spinlock_t lock;
	struct list_head queue;
	struct list_head ready;
	bool busy;
	u64 xfers_done;
	u64 lost_irqs;
	struct edu_log_entry log[EDU_LOG_LEN];
};

static struct dentry *edu_debugfs_root;

/* Complete the jobs on @done, in order; any context. */
static void edu_complete(struct list_head *done)
{
	struct edu_job *job, *tmp;

	list_for_each_entry_safe(job, tmp, done, node) {
		list_del(&job->node);
		fpgadma_work_done(job->work, job->status,
				  job->status == FPGADMA_WC_SUCCESS ?
				  job->work->length : 0);
		kfree(job);
	}
}

/* Start the next transfer, completing jobs that have none left; lock held. */
static void edu_start(struct fpgadma_edu *edu, struct list_head *done)
{
	struct device *dev = &edu->pdev->dev;
	struct edu_job *job;
	struct edu_xfer *x;
	u64 dev_addr;

	lockdep_assert_held(&edu->lock);
	while (!edu->busy) {
		job = list_first_entry_or_null(&edu->ready, struct edu_job, node);
		if (!job) {
			wake_up_all(&edu->idle_wait);
			return;
		}
		if (job->next == job->nxfers) {
			list_move_tail(&job->node, done);
			continue;
		}
		x = &job->xfers[job->next];
		dma_sync_single_for_device(dev, x->dma, x->len, x->dir);
		dev_addr = EDU_BUF_ADDR + x->dev_off;
		writeq(job->to_host ? dev_addr : x->dma, edu->regs + EDU_REG_DMA_SRC);
		writeq(job->to_host ? x->dma : dev_addr, edu->regs + EDU_REG_DMA_DST);
		writeq(x->len, edu->regs + EDU_REG_DMA_COUNT);
		writeq(EDU_DMA_CMD_START | EDU_DMA_CMD_IRQ |
		       (job->to_host ? EDU_DMA_CMD_TO_HOST : 0),
		       edu->regs + EDU_REG_DMA_CMD);
		edu->busy = true;
		mod_delayed_work(system_wq, &edu->watchdog, EDU_WATCHDOG);
	}
}

/*
 * The programmed transfer may have finished: if the device says so, give
 * its bytes back to the CPU, move on and start the next one.  Lock held.
 */
static void edu_dma_done(struct fpgadma_edu *edu, struct list_head *done)
{
	struct edu_log_entry *e;
	struct edu_job *job;
	struct edu_xfer *x;

	lockdep_assert_held(&edu->lock);
	if (!edu->busy || readq(edu->regs + EDU_REG_DMA_CMD) & EDU_DMA_CMD_START)
		return;
	job = list_first_entry(&edu->ready, struct edu_job, node);
	x = &job->xfers[job->next];
	dma_sync_single_for_cpu(&edu->pdev->dev, x->dma, x->len, x->dir);

	e = &edu->log[edu->xfers_done % EDU_LOG_LEN];
	e->seq = edu->xfers_done++;
	e->dma = x->dma;
	e->len = x->len;
	e->dev_off = x->dev_off;
	e->to_host = job->to_host;

	edu->busy = false;
	if (++job->next == job->nxfers)
		list_move_tail(&job->node, done);
	edu_start(edu, done);
}

static irqreturn_t edu_irq(int irq, void *data)
{
	struct fpgadma_edu *edu = data;
	LIST_HEAD(done);

	if (!(readl(edu->regs + EDU_REG_IRQ_STATUS) & EDU_IRQ_DMA))
		return IRQ_NONE;
	writel(EDU_IRQ_DMA, edu->regs + EDU_REG_IRQ_ACK);
	spin_lock(&edu->lock);
	edu_dma_done(edu, &done);
	spin_unlock(&edu->lock);
	edu_complete(&done);
	return IRQ_HANDLED;
}

/*
 * A transfer has run for a second: if the device finished it and the
 * interrupt never came, finish it here; a transfer still running is never
 * given up, since the device could still write into its pages.
 */
static void edu_watchdog(struct work_struct *w)
{
	struct fpgadma_edu *edu = container_of(to_delayed_work(w),
					       struct fpgadma_edu, watchdog);
	LIST_HEAD(done);
	bool lost = false;

	spin_lock_irq(&edu->lock);
	if (edu->busy) {
		if (readq(edu->regs + EDU_REG_DMA_CMD) & EDU_DMA_CMD_START) {
			mod_delayed_work(system_wq, &edu->watchdog, EDU_WATCHDOG);
		} else {
			lost = true;
			edu->lost_irqs++;
			writel(EDU_IRQ_DMA, edu->regs + EDU_REG_IRQ_ACK);
			edu_dma_done(edu, &done);
		}
	}
	spin_unlock_irq(&edu->lock);
	if (lost)
		dev_notice_ratelimited(&edu->pdev->dev,
				       "a transfer finished without its interrupt\n");
	edu_complete(&done);
}

/* Counting (@xfers NULL) or filling the transfers of one work. */
struct edu_build {
	struct edu_xfer *xfers;
	u32 cap;
	u32 n;
	u64 dev_off;
};

/* Add the transfers of one DMA chunk, split to the device's limit. */
static int edu_add_chunk(void *arg, struct fpgadma_umem *umem, dma_addr_t dma,
			 u32 len)
{
	struct edu_build *b = arg;

	while (len) {
		u32 n = min_t(u32, len, EDU_MAX_XFER);

		/*
		 * The core keeps WRs inside device memory; a transfer out of
		 * the buffer would stop the emulator, so never let one through.
		 */
		if (b->dev_off + n > EDU_MEM_SIZE)
			return -ERANGE;
		if (b->xfers) {
			if (b->n == b->cap)
				return -E2BIG;
			b->xfers[b->n].dma = dma;
			b->xfers[b->n].len = n;
			b->xfers[b->n].dev_off = b->dev_off;
			b->xfers[b->n].dir = umem->dir;
		}
		b->n++;
		b->dev_off += n;
		dma += n;
		len -= n;
	}
	return 0;
}

/* Walk the work's pieces through @b; 0 or the walk's error. */
static int edu_walk(struct fpgadma_wqe *work, struct edu_build *b)
{
	u32 i;
	int ret;

	b->n = 0;
	b->dev_off = work->dev_addr;
	for (i = 0; i < work->npieces; i++) {
		struct fpgadma_piece *p = &work->pieces[i];

		ret = fpgadma_umem_walk_dma(p->mr->umem, p->offset, p->len,
					    edu_add_chunk, b);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The job for @work, or NULL without memory.  Work that arrives with an
 * error, that asks for the frame stream (the device has none) or whose
 * pieces cannot be walked becomes a job without transfers that completes
 * with an error status.  The core has checked the device range against
 * EDU_MEM_SIZE, so every transfer stays inside the buffer.
 */
static struct edu_job *edu_job_build(struct fpgadma_wqe *work)
{
	struct edu_build b = { };
	u32 status = work->status;
	struct edu_job *job;

	if (status == FPGADMA_WC_SUCCESS &&
	    work->opcode == FPGADMA_WR_READ_STREAM)
		status = FPGADMA_WC_REM_ACCESS_ERR;
	if (status == FPGADMA_WC_SUCCESS && edu_walk(work, &b))
		status = FPGADMA_WC_GENERAL_ERR;
	if (status != FPGADMA_WC_SUCCESS)
		b.n = 0;

	job = kzalloc(struct_size(job, xfers, b.n), GFP_KERNEL);
	if (!job)
		return NULL;
	job->work = work;
	job->to_host = work->opcode == FPGADMA_WR_READ_MEM;
	if (b.n) {
		b.xfers = job->xfers;
		b.cap = b.n;
		if (edu_walk(work, &b) || b.n != b.cap) {
			status = FPGADMA_WC_GENERAL_ERR;
			b.n = 0;
		}
	}
	job->status = status;
	job->nxfers = b.n;
	return job;
}

static bool edu_ready_empty(struct fpgadma_edu *edu)
{
	bool empty;

	spin_lock_irq(&edu->lock);
	empty = list_empty(&edu->ready);
	spin_unlock_irq(&edu->lock);
	return empty;
}

/* Turn queued work into jobs, in order, and keep the device busy. */
static void edu_prep(struct work_struct *w)
{
	struct fpgadma_edu *edu = container_of(w, struct fpgadma_edu, prep);
	struct fpgadma_wqe *work;
	struct edu_job *job;
	LIST_HEAD(done);

	for (;;) {
		spin_lock_irq(&edu->lock);
		work = list_first_entry_or_null(&edu->queue,
						struct fpgadma_wqe, node);
		if (work)
			list_del(&work->node);
		spin_unlock_irq(&edu->lock);
		if (!work)
			return;

		fpgadma_work_start(work);
		job = edu_job_build(work);
		if (!job) {
			/* Fail it, but only after the work before it: in order. */
			wait_event(edu->idle_wait, edu_ready_empty(edu));
			fpgadma_work_done(work, FPGADMA_WC_GENERAL_ERR, 0);
			continue;
		}
		spin_lock_irq(&edu->lock);
		list_add_tail(&job->node, &edu->ready);
		edu_start(edu, &done);
		spin_unlock_irq(&edu->lock);
		edu_complete(&done);
		cond_resched();
	}
}

static void edu_submit(struct fpgadma_dev *fdev, struct fpgadma_wqe *work)
{
	struct fpgadma_edu *edu = container_of(fdev, struct fpgadma_edu, fdev);
	unsigned long flags;

	spin_lock_irqsave(&edu->lock, flags);
	list_add_tail(&work->node, &edu->queue);
	spin_unlock_irqrestore(&edu->lock, flags);
	queue_work(edu->prep_wq, &edu->prep);
}

static const struct fpgadma_engine_ops edu_ops = {
	.name = "edu",
	.type = FPGADMA_ENGINE_EDU,
	.submit = edu_submit,
};

static int edu_transfers_show(struct seq_file *m, void *v)
{
	struct fpgadma_edu *edu = m->private;
	u64 seq, first;

	spin_lock_irq(&edu->lock);
	seq_printf(m, "# transfers %llu lost_irqs %llu iommu %s\n",
		   edu->xfers_done, edu->lost_irqs,
		   edu->translated ? "yes" : "no");
	seq_puts(m, "# seq dir dma_addr len dev_addr\n");
	first = edu->xfers_done > EDU_LOG_LEN ? edu->xfers_done - EDU_LOG_LEN : 0;
	for (seq = first; seq < edu->xfers_done; seq++) {
		struct edu_log_entry *e = &edu->log[seq % EDU_LOG_LEN];

		seq_printf(m, "%llu %s %pad %u %u\n", e->seq,
			   e->to_host ? "to_host" : "to_device", &e->dma,
			   e->len, e->dev_off);
	}
	spin_unlock_irq(&edu->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(edu_transfers);

/* Whether an IOMMU translates the device's bus addresses. */
static bool edu_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && iommu_is_dma_domain(domain);
}

/* Check that the BAR holds an edu device that answers. */
static int edu_identify(struct fpgadma_edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	u32 id = readl(edu->regs + EDU_REG_ID);
	u32 probe = 0x5a00ed11;

	if ((id & 0xff) != EDU_ID_MAGIC) {
		dev_err(dev, "identification register reads %#010x\n", id);
		return -ENODEV;
	}
	writel(probe, edu->regs + EDU_REG_LIVENESS);
	if (readl(edu->regs + EDU_REG_LIVENESS) != ~probe) {
		dev_err(dev, "liveness register does not answer\n");
		return -EIO;
	}
	if (readq(edu->regs + EDU_REG_DMA_CMD) & EDU_DMA_CMD_START) {
		dev_err(dev, "a DMA transfer is already running\n");
		return -EBUSY;
	}
	dev_info(dev, "edu %u.%u\n", id >> 24, (id >> 16) & 0xff);
	return 0;
}

static void edu_stop(struct fpgadma_edu *edu)
{
	/* Unregistered: the core let our work finish, the device is idle. */
	if (edu->prep_wq)
		destroy_workqueue(edu->prep_wq);
	wait_event(edu->idle_wait, edu_ready_empty(edu));
	cancel_delayed_work_sync(&edu->watchdog);
	writel(EDU_IRQ_DMA, edu->regs + EDU_REG_IRQ_ACK);
}

static int edu_setup(struct pci_dev *pdev, struct fpgadma_edu *edu)
{
	struct device *dev = &pdev->dev;
	size_t map_max;
	int ret;

	edu->pdev = pdev;
	spin_lock_init(&edu->lock);
	INIT_LIST_HEAD(&edu->queue);
	INIT_LIST_HEAD(&edu->ready);
	INIT_WORK(&edu->prep, edu_prep);
	INIT_DELAYED_WORK(&edu->watchdog, edu_watchdog);
	init_waitqueue_head(&edu->idle_wait);
	pci_set_drvdata(pdev, edu);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	if (pci_resource_len(pdev, 0) < EDU_REGS_END ||
	    !(pci_resource_flags(pdev, 0) & IORESOURCE_MEM))
		return -ENODEV;
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	edu->regs = pcim_iomap_table(pdev)[0];
	ret = edu_identify(edu);
	if (ret)
		return ret;

	/* The device drops address bits above 28 without a word. */
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret) {
		dev_err(dev, "no %d-bit DMA: %d\n", EDU_DMA_BITS, ret);
		return ret;
	}
	map_max = dma_max_mapping_size(dev);
	edu->fdev.max_seg_size = ALIGN_DOWN(min_t(size_t, SZ_2G, map_max),
					    PAGE_SIZE);
	ret = dma_set_max_seg_size(dev, edu->fdev.max_seg_size);
	if (ret)
		return ret;
	edu->translated = edu_translated(dev);
	/* Without bus mastering both the DMA and the MSI vanish silently. */
	pci_set_master(pdev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0) {
		dev_err(dev, "no MSI vector: %d\n", ret);
		goto err_master;
	}
	edu->irq = pci_irq_vector(pdev, 0);
	ret = request_irq(edu->irq, edu_irq, 0, KBUILD_MODNAME, edu);
	if (ret)
		goto err_vectors;

	ret = -ENOMEM;
	edu->prep_wq = alloc_ordered_workqueue("fpgadma-edu-%s", 0,
					       pci_name(pdev));
	if (!edu->prep_wq)
		goto err_irq;

	edu->fdev.dma_dev = dev;
	edu->fdev.ops = &edu_ops;
	edu->fdev.engine = edu;
	edu->fdev.dev_mem_size = EDU_MEM_SIZE;
	edu->fdev.frame_size = 0;
	if (edu->translated)
		edu->fdev.max_mr_size = EDU_IOMMU_MAX_MR;
	/*
	 * Without an IOMMU the mask must reach every page: the DMA layer
	 * would otherwise warn and fail the mapping of each page above it.
	 */
	edu->fdev.dma_out_of_reach = !edu->translated &&
				     dma_addressing_limited(dev);
	ret = fpgadma_dev_register(&edu->fdev);
	if (ret)
		goto err_wq;
	edu->registered = true;

	if (!IS_ERR_OR_NULL(edu_debugfs_root)) {
		edu->debugfs = debugfs_create_dir(pci_name(pdev),
						  edu_debugfs_root);
		debugfs_create_file("transfers", 0444, edu->debugfs, edu,
				    &edu_transfers_fops);
	}
	dev_info(dev, "fpgadma%d: MSI irq %d, %d-bit DMA %s%s\n",
		 edu->fdev.index, edu->irq, EDU_DMA_BITS,
		 edu->translated ? "through the IOMMU" : "without IOMMU",
		 edu->fdev.dma_out_of_reach ?
		 ", memory beyond its reach: registrations fail with EIO" : "");
	return 0;

err_wq:
	destroy_workqueue(edu->prep_wq);
err_irq:
	free_irq(edu->irq, edu);
err_vectors:
	pci_free_irq_vectors(pdev);
err_master:
	pci_clear_master(pdev);
	return ret;
}

/* The structure comes from the core: open files may outlive the device. */
static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct fpgadma_edu *edu = fpgadma_dev_alloc(struct fpgadma_edu, fdev);
	int ret;

	if (!edu)
		return -ENOMEM;
	ret = edu_setup(pdev, edu);
	if (ret)
		fpgadma_dev_put(&edu->fdev);
	return ret;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct fpgadma_edu *edu = pci_get_drvdata(pdev);

	debugfs_remove_recursive(edu->debugfs);
	if (edu->registered)
		fpgadma_dev_unregister(&edu->fdev);
	edu_stop(edu);
	free_irq(edu->irq, edu);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	fpgadma_dev_put(&edu->fdev);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR_ID, EDU_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = "fpgadma-edu",
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
};

/* Each edu device found becomes a /dev/fpgadmaN; none found is no error. */
static int __init edu_init(void)
{
	int ret;

	edu_debugfs_root = debugfs_create_dir("fpgadma-edu", NULL);
	ret = pci_register_driver(&edu_driver);
	if (ret)
		debugfs_remove(edu_debugfs_root);
	return ret;
}

/* Remove every edu device, also with files open on it. */
static void __exit edu_exit(void)
{
	pci_unregister_driver(&edu_driver);
	debugfs_remove(edu_debugfs_root);
}

module_init(edu_init);
module_exit(edu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("fpgadma edu engine: QEMU's edu PCI device as a DMA engine");
MODULE_AUTHOR("The fpgadma developers");
