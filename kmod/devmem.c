// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma device memory a process maps (FPGADMA_CAP_MEM_MAP): the
 * on-board memory of an engine that keeps it in host memory (the soft
 * model; a board would map its BAR), shared by every context of the device
 * as READ_MEM and WRITE_MEM share it, so mapping it gives a process no
 * access it did not have.  Small reads and writes then need no system
 * call, as a board's registers and memory behind a BAR need none.
 *
 * The memory is reference counted: the device holds one reference, which
 * goes with the device's structure (after its engine and every open file:
 * fpgadma_dev_put()), each mapping another (taken in mmap and in the VMA's
 * open, as a split or a copy makes one, dropped in its close).  A mapping
 * made before the device left stays valid, as the ring does; the memory
 * goes with the last of them.  Pages are mapped as they are touched (the fault handler), so a
 * mapping of gigabytes costs nothing until used.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "fpgadma.h"

/* The mmap offset of the device memory (QUERY's mem_mmap_off). */
#define FPGADMA_MEM_MMAP_OFF	(4ULL << 30)

/**
 * fpgadma_devmem_alloc() - allocate an engine's on-board memory, zeroed.
 * @size:	bytes.
 *
 * The engine puts it in its struct fpgadma_dev's @devmem at once, which
 * then holds the reference (the core drops it when the device goes).
 *
 * Context: process context, may sleep.
 * Return: the memory, with one reference, or NULL.
 */
struct fpgadma_devmem *fpgadma_devmem_alloc(u64 size)
{
	struct fpgadma_devmem *dm;

	dm = kzalloc(sizeof(*dm), GFP_KERNEL);
	if (!dm)
		return NULL;
	dm->mem = vzalloc(size);
	if (!dm->mem) {
		kfree(dm);
		return NULL;
	}
	dm->size = size;
	kref_init(&dm->ref);
	return dm;
}
EXPORT_SYMBOL_GPL(fpgadma_devmem_alloc);

static void fpgadma_devmem_free(struct kref *ref)
{
	struct fpgadma_devmem *dm = container_of(ref, struct fpgadma_devmem, ref);

	vfree(dm->mem);
	kfree(dm);
}

/**
 * fpgadma_devmem_put() - drop a reference to device memory.
 * @dm:		the memory, or NULL.
 *
 * Context: process context, may sleep (the last reference frees it).
 */
void fpgadma_devmem_put(struct fpgadma_devmem *dm)
{
	if (dm)
		kref_put(&dm->ref, fpgadma_devmem_free);
}

/**
 * fpgadma_devmem_query() - QUERY's fields of the device memory mapping.
 * @ctx:	the calling context.
 * @q:		caps gets FPGADMA_CAP_MEM_MAP and mem_mmap_off is filled in
 *		when the device's engine gave the core its memory.
 *
 * Context: process context.
 */
void fpgadma_devmem_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q)
{
	if (!ctx->fdev->devmem)
		return;
	q->caps |= FPGADMA_CAP_MEM_MAP;
	q->mem_mmap_off = FPGADMA_MEM_MMAP_OFF;
}

static void fpgadma_devmem_vm_open(struct vm_area_struct *vma)
{
	struct fpgadma_devmem *dm = vma->vm_private_data;

	kref_get(&dm->ref);
}

static void fpgadma_devmem_vm_close(struct vm_area_struct *vma)
{
	fpgadma_devmem_put(vma->vm_private_data);
}

static vm_fault_t fpgadma_devmem_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct fpgadma_devmem *dm = vma->vm_private_data;
	u64 off = (vmf->pgoff << PAGE_SHIFT) - FPGADMA_MEM_MMAP_OFF;
	struct page *page;

	/* mmap checked the range, and the VMA cannot grow (VM_DONTEXPAND) */
	if (off >= dm->size)
		return VM_FAULT_SIGBUS;
	page = vmalloc_to_page((u8 *)dm->mem + off);
	if (!page)
		return VM_FAULT_SIGBUS;
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct fpgadma_devmem_vm_ops = {
	.open = fpgadma_devmem_vm_open,
	.close = fpgadma_devmem_vm_close,
	.fault = fpgadma_devmem_fault,
};

/**
 * fpgadma_devmem_mmap() - map the device memory if @vma asks for it.
 * @ctx:	the calling context, of a live device.
 * @vma:	the mapping: a window of the memory at mem_mmap_off plus its
 *		offset, MAP_SHARED, not executable.
 *
 * Context: process context, mmap lock held for writing.
 * Return: 1 when @vma is not at the memory's offsets, else 0 or -errno:
 * -EINVAL without device memory to map (as at any offset of nothing), for
 * a window beyond it or a private mapping, -EPERM for an executable one.
 */
int fpgadma_devmem_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma)
{
	struct fpgadma_devmem *dm = ctx->fdev->devmem;
	u64 off, len = vma->vm_end - vma->vm_start;

	if (vma->vm_pgoff < FPGADMA_MEM_MMAP_OFF >> PAGE_SHIFT ||
	    vma->vm_pgoff >= (FPGADMA_MEM_MMAP_OFF << 1) >> PAGE_SHIFT)
		return 1;
	if (!dm)
		return -EINVAL;
	off = (vma->vm_pgoff << PAGE_SHIFT) - FPGADMA_MEM_MMAP_OFF;
	if (off >= dm->size || len > dm->size - off)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* Not inherited (as the ring), never grown, not in core dumps. */
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYEXEC;
	vma->vm_ops = &fpgadma_devmem_vm_ops;
	vma->vm_private_data = dm;
	kref_get(&dm->ref);
	return 0;
}
