// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma local message channels (FPGADMA_CAP_CHAN): memory two contexts
 * of a device share, through which one hands the other small messages
 * with loads and stores, without a system call.  The module sets them up
 * and says who is at each end and when an end has gone; it never reads
 * what the users write there.
 *
 * A context's inbox is a table page and FPGADMA_CHAN_SLOTS slots.  The
 * owner maps all of it; another context that maps its channel to the
 * owner's ep_id gets one slot of it, its own, and sees nothing else, so
 * what it writes reaches the owner and nobody else.  Slots are handed out
 * in order and not reused while the inbox lives.
 *
 * Lifetimes.  An inbox's structure is reference counted: its owner holds a
 * reference until it closes or rebinds (then the inbox is dead: the table
 * and every slot say so), each context holding a slot holds one (to write
 * "gone" into the table when it closes), and each mapping holds one.  Its
 * memory (charged to the owner's memory cgroup) has a count of its own,
 * of the owner and the mappings only, so a dead inbox's memory goes with
 * its last mapping whoever still holds a slot in it, and a context drops
 * its links to dead inboxes when it maps its next channel.  Whoever maps a
 * slot holds its own file open, not the owner's: the owner may close
 * first.
 *
 * Locks: ctx->chan_lock guards ctx->inbox and ctx->chan_links; an inbox's
 * lock guards its slot count, its deadness and its table.  mmap runs with
 * the mmap lock held, which REG_MR takes under ctx->lock, so nothing here
 * takes ctx->lock.  Lookups of another context by ep_id take its inbox
 * reference under the eps lock, which teardown's xa_erase also takes.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "fpgadma.h"

/* The mmap offset of the inbox and the channels (QUERY's chan_mmap_off). */
#define FPGADMA_CHAN_MMAP_OFF	(8ULL << 30)

/**
 * struct fpgadma_inbox - a context's inbox.
 * @ref:	the owner's, the slot holders' and the mappings' references.
 * @mem_users:	the owner and the mappings: while there are any, @mem is.
 * @lock:	guards @nslots, @dead, the table and @mem going.
 * @nslots:	slots handed out.
 * @dead:	the owner has closed or rebound.
 * @mem:	FPGADMA_CHAN_INBOX_SIZE bytes (vmalloc), the table first;
 *		NULL once the owner and every mapping have gone.
 */
struct fpgadma_inbox {
	struct kref ref;
	refcount_t mem_users;
	spinlock_t lock;
	u32 nslots;
	bool dead;
	void *mem;
};

/**
 * struct fpgadma_chan_link - a slot a context holds in another's inbox.
 * @node:	on the holder's chan_links.
 * @ib:		the inbox; the link holds a reference.
 * @slot:	the slot's index.
 */
struct fpgadma_chan_link {
	struct list_head node;
	struct fpgadma_inbox *ib;
	u32 slot;
};

static struct fpgadma_chan_table *fpgadma_inbox_table(struct fpgadma_inbox *ib)
{
	return ib->mem;
}

static void *fpgadma_inbox_slot(struct fpgadma_inbox *ib, u32 slot)
{
	return (u8 *)ib->mem + FPGADMA_CHAN_TABLE_SIZE +
	       (size_t)slot * FPGADMA_CHAN_SLOT_SIZE;
}

static void fpgadma_inbox_free(struct kref *ref)
{
	struct fpgadma_inbox *ib = container_of(ref, struct fpgadma_inbox, ref);

	/* the owner and every mapping held references: @mem has gone */
	WARN_ON_ONCE(ib->mem);
	kfree(ib);
}

static void fpgadma_inbox_put(struct fpgadma_inbox *ib)
{
	kref_put(&ib->ref, fpgadma_inbox_free);
}

/* The owner or a mapping has gone: the memory goes with the last of them. */
static void fpgadma_inbox_mem_put(struct fpgadma_inbox *ib)
{
	void *mem;

	if (!refcount_dec_and_test(&ib->mem_users))
		return;
	spin_lock(&ib->lock);
	mem = ib->mem;
	ib->mem = NULL;
	spin_unlock(&ib->lock);
	vfree(mem);
}

static struct fpgadma_inbox *fpgadma_inbox_alloc(void)
{
	struct fpgadma_inbox *ib;

	BUILD_BUG_ON(FPGADMA_CHAN_TABLE_SIZE % PAGE_SIZE ||
		     FPGADMA_CHAN_SLOT_SIZE % PAGE_SIZE);
	BUILD_BUG_ON(sizeof(struct fpgadma_chan_table) > FPGADMA_CHAN_TABLE_SIZE);
	BUILD_BUG_ON(FPGADMA_CHAN_SLOT_SIZE > FPGADMA_CHAN_WINDOW);
	ib = kzalloc(sizeof(*ib), GFP_KERNEL);
	if (!ib)
		return NULL;
	ib->mem = __vmalloc(FPGADMA_CHAN_INBOX_SIZE,
			    GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!ib->mem) {
		kfree(ib);
		return NULL;
	}
	spin_lock_init(&ib->lock);
	kref_init(&ib->ref);
	refcount_set(&ib->mem_users, 1);
	return ib;
}

/* The owner has gone: say so in the table and in every slot. */
static void fpgadma_inbox_kill(struct fpgadma_inbox *ib)
{
	struct fpgadma_chan_table *t = fpgadma_inbox_table(ib);
	struct fpgadma_chan_slot_hdr *h;
	u32 i;

	spin_lock(&ib->lock);
	ib->dead = true;
	WRITE_ONCE(t->dead, 1);
	for (i = 0; i < ib->nslots; i++) {
		h = fpgadma_inbox_slot(ib, i);
		WRITE_ONCE(h->dead, 1);
	}
	spin_unlock(&ib->lock);
}

/**
 * fpgadma_chan_query() - QUERY's fields of the channels.
 * @ctx:	the calling context.
 * @q:		caps gets FPGADMA_CAP_CHAN and chan_mmap_off is filled in on
 *		a device whose engine moves messages between contexts.
 *
 * Context: process context.
 */
void fpgadma_chan_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q)
{
	if (!(q->caps & FPGADMA_CAP_HOST_EP))
		return;
	q->caps |= FPGADMA_CAP_CHAN;
	q->chan_mmap_off = FPGADMA_CHAN_MMAP_OFF;
}

/**
 * fpgadma_chan_reset() - end a context's inbox and give up its slots.
 * @ctx:	the context, closing or taking another ep_id.
 *
 * Its inbox dies (every mapping of it stays valid and says so) and every
 * slot it holds in another's inbox is marked FPGADMA_CHAN_GONE.  Safe to
 * call again.
 *
 * Context: process context; takes ctx->chan_lock and the inboxes' locks.
 */
void fpgadma_chan_reset(struct fpgadma_ctx *ctx)
{
	struct fpgadma_chan_link *l, *tmp;
	struct fpgadma_inbox *ib;
	LIST_HEAD(links);

	spin_lock(&ctx->chan_lock);
	ib = ctx->inbox;
	ctx->inbox = NULL;
	list_splice_init(&ctx->chan_links, &links);
	spin_unlock(&ctx->chan_lock);

	if (ib) {
		fpgadma_inbox_kill(ib);
		fpgadma_inbox_mem_put(ib);
		fpgadma_inbox_put(ib);
	}
	list_for_each_entry_safe(l, tmp, &links, node) {
		spin_lock(&l->ib->lock);
		if (l->ib->mem)
			WRITE_ONCE(fpgadma_inbox_table(l->ib)->slot[l->slot].state,
				   FPGADMA_CHAN_GONE);
		spin_unlock(&l->ib->lock);
		list_del(&l->node);
		fpgadma_inbox_put(l->ib);
		kfree(l);
	}
}

static void fpgadma_chan_vm_open(struct vm_area_struct *vma)
{
	struct fpgadma_inbox *ib = vma->vm_private_data;

	kref_get(&ib->ref);
	refcount_inc(&ib->mem_users);
}

static void fpgadma_chan_vm_close(struct vm_area_struct *vma)
{
	struct fpgadma_inbox *ib = vma->vm_private_data;

	fpgadma_inbox_mem_put(ib);
	fpgadma_inbox_put(ib);
}

static const struct vm_operations_struct fpgadma_chan_vm_ops = {
	.open = fpgadma_chan_vm_open,
	.close = fpgadma_chan_vm_close,
};

/* The caller's inbox, made if it has none; with a reference for the caller. */
static struct fpgadma_inbox *fpgadma_chan_own_inbox(struct fpgadma_ctx *ctx)
{
	struct fpgadma_inbox *ib, *fresh;

	spin_lock(&ctx->chan_lock);
	ib = ctx->inbox;
	if (ib)
		kref_get(&ib->ref);
	spin_unlock(&ctx->chan_lock);
	if (ib)
		return ib;

	fresh = fpgadma_inbox_alloc();
	if (!fresh)
		return ERR_PTR(-ENOMEM);
	spin_lock(&ctx->chan_lock);
	ib = ctx->inbox;
	if (!ib) {
		ib = fresh;
		ctx->inbox = ib;	/* the owner's reference */
		fresh = NULL;
	}
	kref_get(&ib->ref);
	spin_unlock(&ctx->chan_lock);
	if (fresh)
		fpgadma_inbox_put(fresh);
	return ib;
}

/* The inbox of endpoint @ep_id of the device, with a reference, or NULL. */
static struct fpgadma_inbox *fpgadma_chan_peer_inbox(struct fpgadma_dev *fdev,
						     u32 ep_id)
{
	struct fpgadma_inbox *ib = NULL;
	struct fpgadma_ctx *peer;

	xa_lock(&fdev->eps);
	peer = xa_load(&fdev->eps, ep_id);
	if (peer) {
		spin_lock(&peer->chan_lock);
		ib = peer->inbox;
		if (ib)
			kref_get(&ib->ref);
		spin_unlock(&peer->chan_lock);
	}
	xa_unlock(&fdev->eps);
	return ib;
}

/*
 * The caller's slot in @ib: the one it holds, or the next free one.  The
 * caller's reference to @ib goes to a new link, or is dropped.
 */
static int fpgadma_chan_slot(struct fpgadma_ctx *ctx, struct fpgadma_inbox *ib,
			     u32 *slot)
{
	struct fpgadma_chan_table *t = fpgadma_inbox_table(ib);
	struct fpgadma_chan_link *l, *tmp, *fresh;
	LIST_HEAD(dead);
	int ret = 0;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL);
	spin_lock(&ctx->chan_lock);
	list_for_each_entry_safe(l, tmp, &ctx->chan_links, node) {
		if (l->ib != ib && READ_ONCE(l->ib->dead)) {
			/* its owner has gone: nothing to say "gone" to */
			list_move(&l->node, &dead);
			continue;
		}
		if (l->ib == ib) {
			*slot = l->slot;
			spin_unlock(&ctx->chan_lock);
			kfree(fresh);
			fpgadma_inbox_put(ib);
			ret = 0;
			goto drop_dead;
		}
	}
	if (!fresh) {
		ret = -ENOMEM;
		goto out;
	}
	spin_lock(&ib->lock);
	if (ib->dead) {
		ret = -ENOENT;
	} else if (ib->nslots == FPGADMA_CHAN_SLOTS) {
		ret = -ENOSPC;
	} else {
		*slot = ib->nslots;
		WRITE_ONCE(t->slot[*slot].src_ep, READ_ONCE(ctx->ep_id));
		WRITE_ONCE(t->slot[*slot].state, FPGADMA_CHAN_OPEN);
		/* the entry before the count that shows it */
		smp_store_release(&t->nslots, ++ib->nslots);
	}
	spin_unlock(&ib->lock);
	if (!ret) {
		fresh->ib = ib;		/* the caller's reference */
		fresh->slot = *slot;
		list_add_tail(&fresh->node, &ctx->chan_links);
		fresh = NULL;
	}
out:
	spin_unlock(&ctx->chan_lock);
	kfree(fresh);
	if (ret)
		fpgadma_inbox_put(ib);
drop_dead:
	list_for_each_entry_safe(l, tmp, &dead, node) {
		list_del(&l->node);
		fpgadma_inbox_put(l->ib);
		kfree(l);
	}
	return ret;
}

/**
 * fpgadma_chan_mmap() - map the inbox or a channel if @vma asks for it.
 * @ctx:	the calling context, of a live device.
 * @vma:	at chan_mmap_off: the caller's inbox (made at its first
 *		mapping); at chan_mmap_off + X * FPGADMA_CHAN_WINDOW: the
 *		caller's slot in endpoint X's inbox.  MAP_SHARED, not
 *		executable, from the start of the inbox or slot.
 *
 * Context: process context, mmap lock held for writing.
 * Return: 1 when @vma is not at the channels' offsets, else 0 or -errno:
 * -EINVAL for a private mapping, one not at the start or too long,
 * -EPERM for an executable one, -ENOENT when X has no inbox, -ENOSPC when
 * its slots are all taken, -ENOMEM.
 */
int fpgadma_chan_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 len = vma->vm_end - vma->vm_start;
	struct fpgadma_inbox *ib;
	u64 ep, size;
	void *base;
	u32 slot;
	int ret;

	if (off < FPGADMA_CHAN_MMAP_OFF ||
	    off >= FPGADMA_CHAN_MMAP_OFF +
		   (FPGADMA_EP_ID_MAX + 1ULL) * FPGADMA_CHAN_WINDOW)
		return 1;
	if (!(ctx->fdev->ops->caps & FPGADMA_CAP_HOST_EP))
		return -EINVAL;
	off -= FPGADMA_CHAN_MMAP_OFF;
	ep = off / FPGADMA_CHAN_WINDOW;
	size = ep ? FPGADMA_CHAN_SLOT_SIZE : FPGADMA_CHAN_INBOX_SIZE;
	if (off % FPGADMA_CHAN_WINDOW || len > size)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;

	if (!ep) {
		ib = fpgadma_chan_own_inbox(ctx);
		if (IS_ERR(ib))
			return PTR_ERR(ib);
		slot = 0;
	} else {
		ib = fpgadma_chan_peer_inbox(ctx->fdev, (u32)ep);
		if (!ib)
			return -ENOENT;
		/* a reference for the mapping; the lookup's goes to the slot */
		kref_get(&ib->ref);
		ret = fpgadma_chan_slot(ctx, ib, &slot);
		if (ret) {
			fpgadma_inbox_put(ib);
			return ret;
		}
	}
	/* The memory, unless its owner and every mapping went meanwhile. */
	spin_lock(&ib->lock);
	base = ib->mem && refcount_inc_not_zero(&ib->mem_users) ? ib->mem : NULL;
	spin_unlock(&ib->lock);
	if (!base) {
		fpgadma_inbox_put(ib);
		return -ENOENT;
	}
	if (ep)
		base = fpgadma_inbox_slot(ib, slot);

	/*
	 * Not inherited (VM_IO: not even after MADV_DOFORK), never grown, not
	 * in core dumps.  Mapped by PFN (VM_PFNMAP, special entries), so that
	 * get_user_pages, fast or not, refuses it: no MR pins an inbox.  The
	 * entries take no page reference: the memory lives while the VMA does
	 * (its reference, dropped at close, after the entries are gone).
	 */
	vma->vm_flags |= VM_DONTCOPY | VM_DONTEXPAND | VM_DONTDUMP | VM_IO;
	vma->vm_flags &= ~VM_MAYEXEC;
	for (off = 0; off < len; off += PAGE_SIZE) {
		ret = remap_pfn_range(vma, vma->vm_start + off,
				      vmalloc_to_pfn((u8 *)base + off),
				      PAGE_SIZE, vma->vm_page_prot);
		if (ret) {
			/* a failed mmap is not closed: unmap, then drop */
			zap_vma_ptes(vma, vma->vm_start, len);
			fpgadma_inbox_mem_put(ib);
			fpgadma_inbox_put(ib);
			return ret;
		}
	}
	vma->vm_ops = &fpgadma_chan_vm_ops;
	vma->vm_private_data = ib;	/* the mapping's references */
	return 0;
}
