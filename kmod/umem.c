// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma umem: user memory pinned long-term and DMA-mapped for a device.
 *
 * The life of a umem is short to tell: fpgadma_umem_get() charges the pages
 * to RLIMIT_MEMLOCK, pins them in batches with FOLL_LONGTERM, appends them to
 * an sg table that coalesces physically contiguous pages, and maps the table;
 * fpgadma_umem_walk_dma() walks the DMA segments behind a byte range;
 * fpgadma_umem_release() undoes it all, dirtying what the device may have
 * written and uncharging the mm that was charged.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "fpgadma.h"

static unsigned long fpgadma_umem_num_pages(unsigned long addr, size_t size)
{
	return (ALIGN(addr + size, PAGE_SIZE) - ALIGN_DOWN(addr, PAGE_SIZE)) >>
	       PAGE_SHIFT;
}

/*
 * FOLL_FORCE, which a read-only umem needs, would also pin pages the process
 * cannot read (PROT_NONE): refuse a range with such a mapping in it.
 */
static int fpgadma_umem_check_readable(struct mm_struct *mm,
				       unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;
	int ret = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (start < end) {
		vma = vma_lookup(mm, start);
		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EFAULT;
			break;
		}
		start = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Unpin every page in the table, dirtying them if the device may have
 * written, and free the table.  The caller has unmapped it, if it was mapped.
 */
static void fpgadma_umem_unpin(struct fpgadma_umem *umem, bool dirty)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_sg(&umem->sgt_append.sgt, sg, i)
		unpin_user_page_range_dirty_lock(sg_page(sg),
						 DIV_ROUND_UP(sg->length, PAGE_SIZE),
						 dirty);
	sg_free_append_table(&umem->sgt_append);
}

/* Whether any DMA segment of a mapped umem needs dma_sync_single_*(). */
static bool fpgadma_umem_need_sync(struct fpgadma_umem *umem)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(&umem->sgt_append.sgt, sg, i)
		if (dma_need_sync(umem->dma_dev, sg_dma_address(sg)))
			return true;
	return false;
}

/**
 * fpgadma_umem_get() - pin and DMA-map a range of the current process.
 * @fdev:	the device the pages are mapped for (its dma_dev), with its
 *		largest DMA segment (max_seg_size, a multiple of PAGE_SIZE).
 * @addr:	user virtual address of the first byte; any alignment.
 * @size:	bytes, at least 1.
 * @writable:	the device may write the range.
 *
 * The pages are pinned with FOLL_LONGTERM, so they are migrated out of
 * ZONE_MOVABLE and CMA first, and always with FOLL_WRITE: on 6.1 a read-only
 * long-term pin of a page the process has not written (the shared zero page,
 * a page-cache page under a private mapping) may stop being the page the
 * process maps once it writes, and the device would read stale data.  A
 * read-only umem adds FOLL_FORCE so that read-only private mappings can
 * still be registered (the copy-on-write is broken up front, as ib_umem does
 * on 6.1), but not mappings the process cannot read (PROT_NONE); a writable
 * umem of a read-only mapping fails with -EFAULT.  The cost of forcing: a
 * read-only MAP_SHARED mapping cannot be registered read-only (-EFAULT).
 *
 * The pages are charged to current->mm->pinned_vm against RLIMIT_MEMLOCK
 * unless the caller has CAP_IPC_LOCK.  Must be called in process context of
 * the process that owns the range, without mmap_lock held.
 *
 * The table is mapped with DMA_ATTR_SKIP_CPU_SYNC: engines sync exactly the
 * bytes each transfer touches, before and after it.  Syncing at map and unmap
 * time instead would, under bounce buffering, copy stale bounce data back
 * over what the process wrote since the last transfer.  The umem's
 * need_sync tells whether any segment needs such syncs at all.
 *
 * Context: process context of the registering process, may sleep; no lock held.
 * Return: the umem, to be released with fpgadma_umem_release(), or an
 * ERR_PTR: -EINVAL for a zero size or an overflowing range, -ENOMEM over
 * RLIMIT_MEMLOCK or out of memory, -EFAULT (or another GUP error) for a range
 * that is not mapped with the needed rights, the DMA layer's error when the
 * mapping fails.  On error nothing stays pinned or charged.
 */
struct fpgadma_umem *fpgadma_umem_get(struct fpgadma_dev *fdev,
				      unsigned long addr, size_t size,
				      bool writable)
{
	unsigned int gup_flags = FOLL_WRITE | FOLL_LONGTERM;
	unsigned long lock_limit, new_pinned, cur_base, npages, left;
	struct fpgadma_umem *umem;
	struct page **page_list;
	struct mm_struct *mm = current->mm;
	struct device *dma_dev = fdev->dma_dev;
	int pinned, ret;
	u64 t0;

	if (!size || addr + size < addr ||
	    PAGE_ALIGN(addr + size) < addr + size)
		return ERR_PTR(-EINVAL);
	npages = fpgadma_umem_num_pages(addr, size);
	if (npages > UINT_MAX)
		return ERR_PTR(-EINVAL);
	if (!mm)
		return ERR_PTR(-EFAULT);

	umem = kzalloc(sizeof(*umem), GFP_KERNEL);
	if (!umem)
		return ERR_PTR(-ENOMEM);
	umem->fdev = fdev;
	umem->dma_dev = dma_dev;
	umem->address = addr;
	umem->length = size;
	umem->offset = offset_in_page(addr);
	umem->npages = npages;
	umem->writable = writable;
	umem->dir = writable ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE;
	umem->owning_mm = mm;
	mmgrab(mm);

	page_list = (struct page **)__get_free_page(GFP_KERNEL);
	if (!page_list) {
		ret = -ENOMEM;
		goto err_mmdrop;
	}

	lock_limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	new_pinned = atomic64_add_return(npages, &mm->pinned_vm);
	if (new_pinned > lock_limit && !capable(CAP_IPC_LOCK)) {
		ret = -ENOMEM;
		goto err_uncharge;
	}

	if (!writable) {
		ret = fpgadma_umem_check_readable(mm, addr, addr + size);
		if (ret)
			goto err_uncharge;
		gup_flags |= FOLL_FORCE;
	}

	cur_base = addr & PAGE_MASK;
	left = npages;
	while (left) {
		cond_resched();
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_unpin;
		}
		t0 = fpgadma_stage_start();
		pinned = pin_user_pages_fast(cur_base,
					     min_t(unsigned long, left,
						   PAGE_SIZE / sizeof(struct page *)),
					     gup_flags, page_list);
		fpgadma_stage_end(fdev, FPGADMA_STAGE_REG_PIN, t0);
		if (pinned <= 0) {
			ret = pinned ? pinned : -EFAULT;
			goto err_unpin;
		}
		cur_base += (unsigned long)pinned << PAGE_SHIFT;
		left -= pinned;
		t0 = fpgadma_stage_start();
		ret = sg_alloc_append_table_from_pages(&umem->sgt_append,
						       page_list, pinned, 0,
						       (unsigned long)pinned << PAGE_SHIFT,
						       fdev->max_seg_size, left,
						       GFP_KERNEL);
		fpgadma_stage_end(fdev, FPGADMA_STAGE_REG_SG, t0);
		if (ret) {
			unpin_user_pages(page_list, pinned);
			goto err_unpin;
		}
	}

	t0 = fpgadma_stage_start();
	ret = dma_map_sgtable(dma_dev, &umem->sgt_append.sgt, umem->dir,
			      DMA_ATTR_SKIP_CPU_SYNC);
	fpgadma_stage_end(fdev, FPGADMA_STAGE_REG_MAP, t0);
	if (ret)
		goto err_unpin;
	umem->need_sync = fpgadma_umem_need_sync(umem);

	free_page((unsigned long)page_list);
	return umem;

err_unpin:
	fpgadma_umem_unpin(umem, false);
err_uncharge:
	atomic64_sub(npages, &mm->pinned_vm);
	free_page((unsigned long)page_list);
err_mmdrop:
	mmdrop(mm);
	kfree(umem);
	return ERR_PTR(ret);
}

/**
 * fpgadma_umem_release() - unmap, unpin, uncharge and free a umem.
 * @umem:	from fpgadma_umem_get(); no transfer may be using it.
 *
 * May run in any task, also after the owning process has exited: the charge
 * is taken back from the mm that was charged, not from current->mm.
 *
 * Context: process context, may sleep; no work may use the umem.
 */
void fpgadma_umem_release(struct fpgadma_umem *umem)
{
	u64 t0 = fpgadma_stage_start();

	dma_unmap_sgtable(umem->dma_dev, &umem->sgt_append.sgt, umem->dir,
			  DMA_ATTR_SKIP_CPU_SYNC);
	fpgadma_stage_end(umem->fdev, FPGADMA_STAGE_DEREG_UNMAP, t0);
	t0 = fpgadma_stage_start();
	fpgadma_umem_unpin(umem, umem->writable);
	fpgadma_stage_end(umem->fdev, FPGADMA_STAGE_DEREG_UNPIN, t0);
	atomic64_sub(umem->npages, &umem->owning_mm->pinned_vm);
	mmdrop(umem->owning_mm);
	kfree(umem);
}

/**
 * fpgadma_umem_walk_dma() - walk the DMA segments behind a byte range.
 * @umem:	a mapped umem.
 * @offset:	first byte, relative to the umem's start address.
 * @len:	bytes; @offset + @len must not pass the umem's length.
 * @fn:		called for each DMA-contiguous chunk, in order, with @arg,
 *		the umem, the chunk's bus address and its length; returns 0 to
 *		go on or a negative errno to stop.
 * @arg:	passed to @fn.
 *
 * Context: any context; the umem must stay mapped meanwhile (the caller holds its MR).
 * Return: 0, -EINVAL if the range passes the end of the table, or the
 * first non-zero value @fn returned.
 */
int fpgadma_umem_walk_dma(struct fpgadma_umem *umem, u64 offset, u64 len,
			      int (*fn)(void *arg, struct fpgadma_umem *umem,
					dma_addr_t dma, u32 len),
			      void *arg)
{
	struct scatterlist *sg;
	u64 pos = offset + umem->offset;
	unsigned int i;
	int ret;

	if (!len)
		return 0;
	for_each_sgtable_dma_sg(&umem->sgt_append.sgt, sg, i) {
		u64 seg_len = sg_dma_len(sg);
		u32 chunk;

		if (pos >= seg_len) {
			pos -= seg_len;
			continue;
		}
		chunk = min_t(u64, seg_len - pos, len);
		ret = fn(arg, umem, sg_dma_address(sg) + pos, chunk);
		if (ret)
			return ret;
		len -= chunk;
		if (!len)
			return 0;
		pos = 0;
	}
	return -EINVAL;
}
EXPORT_SYMBOL_GPL(fpgadma_umem_walk_dma);
