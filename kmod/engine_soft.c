// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma soft engine (fpgadma_soft.ko): a model of an FPGA board in the
 * kernel, an engine module of fpgadma_core.ko.
 *
 * The model has on-board memory, a frame stream, paced streams and an
 * atomic unit (fpgadma_atomic_compute() does its arithmetic).  It
 * behaves as a bus master: it reaches host memory only through the DMA
 * addresses of an MR's mapped table, and it syncs each range around the
 * transfer that touches it.
 * So under swiotlb=force it reads and writes the bounce buffers, and a
 * missing sync shows up as wrong data in the process, as it would with a
 * real board.  The model's platform device uses direct DMA (no IOMMU), where
 * a DMA address translates back to a physical address with dma_to_phys().
 *
 * Host-to-host transfers (RDMA_WRITE, RDMA_READ, SEND) take one of two
 * paths, chosen per transfer in soft_host_copy(): direct, one copy from the
 * source's pages to the destination's, when no MR of either side needs a
 * DMA sync (the umem's need_sync: nothing bounced, a coherent device), as
 * normally; staged, through the model's FIFO with the syncs around each
 * range, when one does (swiotlb=force) or the host_direct parameter is
 * off.  Stage timing counts them as host_direct and host_staged.
 */
#include <linux/dma-direct.h>
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <asm/unaligned.h>

#include "fpgadma.h"

static unsigned int ndevs = 1;
module_param(ndevs, uint, 0444);
MODULE_PARM_DESC(ndevs, "Soft FPGA devices to create (0..8, default 1)");

static unsigned long long dev_mem_size = 64ULL << 20;
module_param(dev_mem_size, ullong, 0444);
MODULE_PARM_DESC(dev_mem_size, "Bytes of on-board memory per soft device (4 KiB..4 GiB, default 64 MiB)");

static unsigned int frame_size = 4096;
module_param(frame_size, uint, 0444);
MODULE_PARM_DESC(frame_size, "Bytes per stream frame, a multiple of 8 (8..16 MiB, default 4096)");

static unsigned int inline_max = 64U << 10;
module_param(inline_max, uint, 0644);
MODULE_PARM_DESC(inline_max, "Largest work request the poster runs itself when the engine is idle (bytes, default 64 KiB, 0: never)");

static unsigned int max_seg_size = 1U << 31;
module_param(max_seg_size, uint, 0444);
MODULE_PARM_DESC(max_seg_size, "Largest DMA segment of an MR, rounded down to pages and to what the DMA layer can map (default 2 GiB)");

static bool host_direct = true;
module_param(host_direct, bool, 0644);
MODULE_PARM_DESC(host_direct, "Copy host to host page to page when no side needs a DMA sync (default Y; N: always through the staging FIFO, to compare)");

/* Limits of a paced stream on the model. */
#define SOFT_STREAM_MAX_FRAME	(16U << 20)
#define SOFT_STREAM_MAX_FIFO	65536U
#define SOFT_STREAM_MAX_PERIOD	(3600ULL * NSEC_PER_SEC)

static unsigned int stream_frame_size = 4096;
module_param(stream_frame_size, uint, 0444);
MODULE_PARM_DESC(stream_frame_size, "Default bytes per frame of a paced stream (48..16 MiB, default 4096)");

static unsigned long long stream_period_ns = 1000000;
module_param(stream_period_ns, ullong, 0444);
MODULE_PARM_DESC(stream_period_ns, "Default frame period of a paced stream in ns (1..3600 s, default 1 ms)");

static unsigned int stream_fifo_frames = 64;
module_param(stream_fifo_frames, uint, 0444);
MODULE_PARM_DESC(stream_fifo_frames, "Default FIFO depth of a paced stream in frames (1..65536, default 64)");

/**
 * struct fpgadma_soft - one soft FPGA.
 * @fdev:	the core's view.
 * @pdev:	the platform device DMA is mapped for.
 * @mem:	on-board memory: @fdev.devmem's bytes, which processes may
 *		map (devmem.c).
 * @stream_pos:	bytes of the stream delivered so far (runner only).
 * @lock:	protects @queue and @busy; process context only (POST, the
 *		worker, the flush), so interrupts stay on.
 * @queue:	submitted work, in order.
 * @busy:	a runner (the worker, or a poster running one WR inline) owns
 *		the engine: nobody else may start work.
 * @run:	the worker that drains @queue.
 * @wq:		its ordered workqueue.
 * @staging:	the FIFO staged host-to-host transfers pass through, and
 *		an atomic's operands, target and old values (runner only).
 * @atomic_lock: held across each atomic WR's read-modify-write of its
 *		target.  The runner already runs one WR of the device at a
 *		time; the lock makes the atomic unit atomic by itself, as a
 *		board's is, whatever runs beside it.
 * @stream_wq:	where paced streams deliver their frames.
 * @registered:	@fdev is registered with the core.
 */
struct fpgadma_soft {
	struct fpgadma_dev fdev;
	struct platform_device *pdev;
	void *mem;
	u64 stream_pos;
	spinlock_t lock;
	struct list_head queue;
	bool busy;
	struct work_struct run;
	struct workqueue_struct *wq;
	u8 *staging;
	struct mutex atomic_lock;
	struct workqueue_struct *stream_wq;
	bool registered;
};

#define SOFT_STAGING_SIZE	(64U << 10)

static struct fpgadma_soft *soft_devs[8];

/* soft_xfer's opcode for a paced stream's frame: no WR's. */
#define SOFT_XFER_FRAME		0x100

/* What one transfer is doing while it walks the DMA chunks of its pieces. */
struct soft_xfer {
	struct fpgadma_soft *soft;
	u32 opcode;
	u8 *dev_ptr;		/* on-board memory cursor (READ_MEM, WRITE_MEM) */
	const u8 *hdr;		/* SOFT_XFER_FRAME: the frame's header, */
	u64 seq;		/* its number */
	u32 pos;		/* and the next byte's offset in it */
};

/*
 * Store the stream words @j .. @j + @n - 1 of @frame at @dst, eight to a
 * loop turn.  This is the model's hot loop: it stands for the board's
 * DMA, which costs the host no CPU, so it should cost as little as it can;
 * and under emulation a turn of a loop costs more than the stores in it.
 */
static void soft_put_words(u8 *dst, u64 frame, u64 j, u32 n)
{
	u32 k;

	for (k = 0; k + 8 <= n; k += 8, dst += 64, j += 8) {
		put_unaligned_le64(fpgadma_stream_word(frame, j), dst);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 1), dst + 8);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 2), dst + 16);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 3), dst + 24);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 4), dst + 32);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 5), dst + 40);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 6), dst + 48);
		put_unaligned_le64(fpgadma_stream_word(frame, j + 7), dst + 56);
	}
	for (; k < n; k++, dst += 8, j++)
		put_unaligned_le64(fpgadma_stream_word(frame, j), dst);
}

/*
 * Fill @dst with the next @len bytes of the stream.  Whole words are stored
 * as such, a frame's worth at a time; only a word cut by the start or the
 * end of @dst is copied bytewise.
 */
static void soft_stream_fill(struct fpgadma_soft *soft, u8 *dst, u32 len)
{
	u64 words_per_frame = soft->fdev.frame_size / 8;
	u64 pos = soft->stream_pos;
	u32 skip = pos & 7;
	u64 j, frame = div64_u64_rem(pos >> 3, words_per_frame, &j);

	while (len) {
		if (!skip && len >= 8) {
			u32 n = min_t(u64, len / 8, words_per_frame - j);

			soft_put_words(dst, frame, j, n);
			dst += 8 * n;
			len -= 8 * n;
			j += n;
		} else {
			__le64 le = cpu_to_le64(fpgadma_stream_word(frame, j));
			u32 n = min_t(u32, len, 8 - skip);

			memcpy(dst, (u8 *)&le + skip, n);
			dst += n;
			len -= n;
			skip = 0;
			j++;
		}
		if (j == words_per_frame) {
			j = 0;
			frame++;
		}
	}
}

/*
 * Fill @dst with the next @len bytes of a paced stream's frame: the header,
 * then the words fpgadma_stream_word(seq, j), j counted from the frame's
 * first byte; the frame's end may cut the last word.
 */
static void soft_frame_fill(struct soft_xfer *x, u8 *dst, u32 len)
{
	while (len) {
		u32 pos = x->pos, skip = pos & 7, n;
		__le64 le;

		if (pos < FPGADMA_FRAME_HDR_SIZE) {
			n = min_t(u32, len, FPGADMA_FRAME_HDR_SIZE - pos);
			memcpy(dst, x->hdr + pos, n);
		} else if (!skip && len >= 8) {
			n = len & ~7U;
			soft_put_words(dst, x->seq, pos / 8, n / 8);
		} else {
			n = min(len, 8 - skip);
			le = cpu_to_le64(fpgadma_stream_word(x->seq, pos / 8));
			memcpy(dst, (u8 *)&le + skip, n);
		}
		dst += n;
		len -= n;
		x->pos += n;
	}
}

/* Move @len bytes between @va, host memory, and the model. */
static void soft_copy_va(struct soft_xfer *x, u8 *va, u32 len)
{
	switch (x->opcode) {
	case FPGADMA_WR_READ_MEM:
		memcpy(va, x->dev_ptr, len);
		x->dev_ptr += len;
		break;
	case FPGADMA_WR_WRITE_MEM:
		memcpy(x->dev_ptr, va, len);
		x->dev_ptr += len;
		break;
	case FPGADMA_WR_READ_STREAM:
		soft_stream_fill(x->soft, va, len);
		x->soft->stream_pos += len;
		break;
	case SOFT_XFER_FRAME:
		soft_frame_fill(x, va, len);
		break;
	}
}

/* Bytes moved between chances to reschedule within one chunk. */
#define SOFT_COPY_STEP	(1U << 20)

/*
 * Move @len bytes between the host pages at physical @phys and the model.
 * The chunk is physically contiguous; without highmem it is contiguous in
 * the kernel's direct map too, so it moves in large copies rather than a
 * page at a time.
 */
static int soft_copy_chunk(struct soft_xfer *x, phys_addr_t phys, u32 len)
{
	while (len) {
		unsigned long pfn = PHYS_PFN(phys);
		u32 off = offset_in_page(phys);
		u32 n;
		u8 *va;

		if (!pfn_valid(pfn))
			return -EFAULT;
		if (IS_ENABLED(CONFIG_HIGHMEM)) {
			n = min_t(u32, len, PAGE_SIZE - off);
			va = kmap_local_page(pfn_to_page(pfn));
			soft_copy_va(x, va + off, n);
			kunmap_local(va);
		} else {
			n = min_t(u32, len, SOFT_COPY_STEP - (phys & (SOFT_COPY_STEP - 1)));
			if (!pfn_valid(PHYS_PFN(phys + n - 1)))
				return -EFAULT;
			soft_copy_va(x, phys_to_virt(phys), n);
			if (n < len)
				cond_resched();
		}
		phys += n;
		len -= n;
	}
	return 0;
}

/* One DMA-contiguous chunk: own it, move it, give it back to the CPU. */
static int soft_dma_chunk(void *arg, struct fpgadma_umem *umem,
			  dma_addr_t dma, u32 len)
{
	struct soft_xfer *x = arg;
	struct device *dev = umem->dma_dev;
	bool sync = dma_need_sync(dev, dma);
	int ret;

	/*
	 * Only bounced or non-coherent chunks need syncing; asking first also
	 * spares DMA-API debugging a lookup that fails when two MRs map the
	 * same pages (it finds two entries containing the chunk and no exact
	 * one), which registering memory twice, as verbs allows, does.
	 */
	if (sync)
		dma_sync_single_for_device(dev, dma, len, umem->dir);
	ret = soft_copy_chunk(x, dma_to_phys(dev, dma), len);
	if (sync)
		dma_sync_single_for_cpu(dev, dma, len, umem->dir);
	return ret;
}

static u32 soft_execute(struct fpgadma_soft *soft, struct fpgadma_wqe *work)
{
	struct soft_xfer x = {
		.soft = soft,
		.opcode = work->opcode,
		.dev_ptr = (u8 *)soft->mem + work->dev_addr,
	};
	u32 i;

	for (i = 0; i < work->npieces; i++) {
		struct fpgadma_piece *p = &work->pieces[i];

		if (fpgadma_umem_walk_dma(p->mr->umem, p->offset, p->len,
					      soft_dma_chunk, &x))
			return FPGADMA_WC_GENERAL_ERR;
	}
	return FPGADMA_WC_SUCCESS;
}

/*
 * Move @len bytes starting @pos bytes into the pieces, between them and the
 * model's cursor, in the direction of @opcode (READ_MEM: into the pieces).
 */
static int soft_pieces_xfer(struct fpgadma_soft *soft, u32 opcode,
			    struct fpgadma_piece *pieces, u32 npieces,
			    u64 pos, u64 len, u8 *buf)
{
	struct soft_xfer x = { .soft = soft, .opcode = opcode, .dev_ptr = buf };
	u32 i;

	for (i = 0; i < npieces && len; i++) {
		struct fpgadma_piece *p = &pieces[i];
		u64 n;

		if (pos >= p->len) {
			pos -= p->len;
			continue;
		}
		n = min_t(u64, p->len - pos, len);
		if (fpgadma_umem_walk_dma(p->mr->umem, p->offset + pos, n,
					      soft_dma_chunk, &x))
			return -EFAULT;
		len -= n;
		pos = 0;
	}
	return len ? -EINVAL : 0;
}

/*
 * Host to host, staged: the model reads the source through its DMA
 * addresses into its FIFO and writes the FIFO out to the destination, as a
 * board with no host-to-host path of its own would, syncing each range
 * around the access (soft_dma_chunk()).
 */
static u32 soft_host_copy_staged(struct fpgadma_soft *soft,
				 struct fpgadma_piece *src, u32 nsrc,
				 struct fpgadma_piece *dst, u32 ndst, u64 len)
{
	u64 pos, n;

	for (pos = 0; pos < len; pos += n) {
		n = min_t(u64, len - pos, SOFT_STAGING_SIZE);
		if (soft_pieces_xfer(soft, FPGADMA_WR_WRITE_MEM, src, nsrc,
				     pos, n, soft->staging) ||
		    soft_pieces_xfer(soft, FPGADMA_WR_READ_MEM, dst, ndst,
				     pos, n, soft->staging))
			return FPGADMA_WC_GENERAL_ERR;
		cond_resched();
	}
	return FPGADMA_WC_SUCCESS;
}

/*
 * A position in a list of pieces, at the level of the DMA segments of
 * their MRs' tables: byte @off of segment @seg (@sg) of @umem's table,
 * with @left bytes of the current piece from there on; @next is the
 * piece after it.
 */
struct soft_cursor {
	struct fpgadma_piece *pieces;
	u32 npieces;
	u32 next;
	struct fpgadma_umem *umem;
	struct scatterlist *sg;
	unsigned int seg;
	u64 off;
	u64 left;
};

static void soft_cursor_init(struct soft_cursor *c,
			     struct fpgadma_piece *pieces, u32 npieces)
{
	*c = (struct soft_cursor){ .pieces = pieces, .npieces = npieces };
}

/* Put @c at the first byte of piece @p; -EINVAL past its table's end. */
static int soft_cursor_seek(struct soft_cursor *c, struct fpgadma_piece *p)
{
	struct fpgadma_umem *umem = p->mr->umem;
	u64 pos = p->offset + umem->offset;
	struct scatterlist *sg;
	unsigned int i;

	for_each_sgtable_dma_sg(&umem->sgt_append.sgt, sg, i) {
		if (pos < sg_dma_len(sg)) {
			c->umem = umem;
			c->sg = sg;
			c->seg = i;
			c->off = pos;
			c->left = p->len;
			return 0;
		}
		pos -= sg_dma_len(sg);
	}
	return -EINVAL;
}

/*
 * The DMA-contiguous run of bytes at @c, going on to the next piece or
 * segment first if @c is at the end of one: its device, bus address and
 * length.  -EINVAL when the pieces, or a piece's table, end first.
 */
static int soft_cursor_chunk(struct soft_cursor *c, struct device **dev,
			     dma_addr_t *dma, u32 *len)
{
	while (!c->left) {
		if (c->next >= c->npieces ||
		    soft_cursor_seek(c, &c->pieces[c->next++]))
			return -EINVAL;
	}
	if (c->off == sg_dma_len(c->sg)) {
		if (++c->seg >= c->umem->sgt_append.sgt.nents)
			return -EINVAL;
		c->sg = sg_next(c->sg);
		c->off = 0;
	}
	*dev = c->umem->dma_dev;
	*dma = sg_dma_address(c->sg) + c->off;
	*len = min_t(u64, sg_dma_len(c->sg) - c->off, c->left);
	return 0;
}

/* Move @c on by @n bytes, at most the length soft_cursor_chunk() gave. */
static void soft_cursor_advance(struct soft_cursor *c, u32 n)
{
	c->off += n;
	c->left -= n;
}

/*
 * Copy @len bytes from the host pages at physical @src to those at
 * physical @dst, each range physically contiguous.  The source, mapped,
 * takes the place of on-board memory in a READ_MEM move into the
 * destination (soft_copy_chunk()): with highmem a page of it at a time.
 */
static int soft_copy_host(phys_addr_t dst, phys_addr_t src, u32 len)
{
	struct soft_xfer x = { .opcode = FPGADMA_WR_READ_MEM };
	int ret;

	while (len) {
		unsigned long pfn = PHYS_PFN(src);
		u32 n = len;
		u8 *va;

		if (!pfn_valid(pfn))
			return -EFAULT;
		if (IS_ENABLED(CONFIG_HIGHMEM)) {
			n = min_t(u32, len, PAGE_SIZE - offset_in_page(src));
			va = kmap_local_page(pfn_to_page(pfn));
			x.dev_ptr = va + offset_in_page(src);
			ret = soft_copy_chunk(&x, dst, n);
			kunmap_local(va);
		} else {
			if (!pfn_valid(PHYS_PFN(src + n - 1)))
				return -EFAULT;
			x.dev_ptr = phys_to_virt(src);
			ret = soft_copy_chunk(&x, dst, n);
		}
		if (ret)
			return ret;
		src += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/*
 * Host to host, direct: neither side needs a DMA sync, so the model copies
 * from the source's DMA segments straight into the destination's, each
 * run of bytes that is contiguous on both sides in one memcpy(), one copy
 * per message.  It still reaches the pages only through their DMA
 * addresses (dma_to_phys()), as a bus master would.
 */
static u32 soft_host_copy_direct(struct fpgadma_piece *src, u32 nsrc,
				 struct fpgadma_piece *dst, u32 ndst, u64 len)
{
	struct soft_cursor s, d;
	struct device *sdev, *ddev;
	dma_addr_t sdma, ddma;
	u32 slen, dlen, n;

	soft_cursor_init(&s, src, nsrc);
	soft_cursor_init(&d, dst, ndst);
	while (len) {
		if (soft_cursor_chunk(&s, &sdev, &sdma, &slen) ||
		    soft_cursor_chunk(&d, &ddev, &ddma, &dlen))
			return FPGADMA_WC_GENERAL_ERR;
		n = min_t(u64, min(slen, dlen), len);
		if (soft_copy_host(dma_to_phys(ddev, ddma),
				   dma_to_phys(sdev, sdma), n))
			return FPGADMA_WC_GENERAL_ERR;
		soft_cursor_advance(&s, n);
		soft_cursor_advance(&d, n);
		len -= n;
		if (len)
			cond_resched();
	}
	return FPGADMA_WC_SUCCESS;
}

/* Whether any of the pieces lies in a umem that needs DMA syncs. */
static bool soft_pieces_need_sync(const struct fpgadma_piece *pieces, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (pieces[i].len && pieces[i].mr->umem->need_sync)
			return true;
	return false;
}

/*
 * Host to host (RDMA_WRITE, RDMA_READ, SEND), @len bytes from the pieces
 * @src to the pieces @dst.  The path is chosen per transfer: direct (one
 * copy, stage host_direct) when no piece of either side needs a DMA sync,
 * the usual case; staged through the FIFO (two copies and the syncs, stage
 * host_staged) when one does: under bounce buffering (swiotlb=force) or
 * on a device that is not DMA coherent; and always with the host_direct
 * parameter off.  Both complete alike: success, or
 * FPGADMA_WC_GENERAL_ERR when a piece cannot be reached, with the
 * destination then partly written.  Where source and destination share
 * bytes (two MRs of the same pages) those come out undefined, as with a
 * board whose reads and writes interleave.
 */
static u32 soft_host_copy(struct fpgadma_soft *soft,
			  struct fpgadma_piece *src, u32 nsrc,
			  struct fpgadma_piece *dst, u32 ndst, u64 len)
{
	u64 t0 = fpgadma_stage_start();
	u32 status;

	if (!READ_ONCE(host_direct) || soft_pieces_need_sync(src, nsrc) ||
	    soft_pieces_need_sync(dst, ndst)) {
		status = soft_host_copy_staged(soft, src, nsrc, dst, ndst, len);
		fpgadma_stage_end(&soft->fdev, FPGADMA_STAGE_HOST_STAGED, t0);
	} else {
		status = soft_host_copy_direct(src, nsrc, dst, ndst, len);
		fpgadma_stage_end(&soft->fdev, FPGADMA_STAGE_HOST_DIRECT, t0);
	}
	return status;
}

/*
 * An atomic WR (ATOMIC, ATOMIC_MEM): its operand and compare values come
 * in through their DMA mappings first; then, under the atomic lock, the
 * target (the peer MR through its DMA mapping, or on-board memory) is
 * read, computed and, unless the operation only reads, written back whole;
 * then the old values go out to the result piece.  Everything passes
 * through four areas of the staging FIFO, FPGADMA_ATOMIC_MAX_SIZE bytes
 * each, so an element split between two pages or DMA segments is one
 * element here.
 */
static u32 soft_atomic(struct fpgadma_soft *soft, struct fpgadma_wqe *work)
{
	u8 *operand = soft->staging, *compare = operand + FPGADMA_ATOMIC_MAX_SIZE;
	u8 *target = compare + FPGADMA_ATOMIC_MAX_SIZE;
	u8 *old = target + FPGADMA_ATOMIC_MAX_SIZE;
	bool modifies = work->atomic_op != FPGADMA_ATOMIC_READ;
	bool has_cmp = fpgadma_atomic_op_has_compare(work->atomic_op);
	bool mem = work->opcode == FPGADMA_WR_ATOMIC_MEM;
	struct fpgadma_piece *p = work->pieces;
	u32 len = work->length, n = 0;
	int ret = 0;

	BUILD_BUG_ON(4 * FPGADMA_ATOMIC_MAX_SIZE > SOFT_STAGING_SIZE);
	if (modifies)
		ret = soft_pieces_xfer(soft, FPGADMA_WR_WRITE_MEM, &p[n++], 1,
				       0, len, operand);
	if (!ret && has_cmp)
		ret = soft_pieces_xfer(soft, FPGADMA_WR_WRITE_MEM, &p[n++], 1,
				       0, len, compare);
	if (ret)
		return FPGADMA_WC_GENERAL_ERR;

	mutex_lock(&soft->atomic_lock);
	if (mem)
		memcpy(target, (u8 *)soft->mem + work->dev_addr, len);
	else
		ret = soft_pieces_xfer(soft, FPGADMA_WR_WRITE_MEM,
				       &work->remote, 1, 0, len, target);
	if (!ret) {
		memcpy(old, target, len);
		ret = fpgadma_atomic_compute(work->atomic_op, work->atomic_type,
					     len, target,
					     modifies ? operand : NULL,
					     has_cmp ? compare : NULL);
	}
	if (!ret && modifies) {
		if (mem)
			memcpy((u8 *)soft->mem + work->dev_addr, target, len);
		else
			ret = soft_pieces_xfer(soft, FPGADMA_WR_READ_MEM,
					       &work->remote, 1, 0, len, target);
	}
	mutex_unlock(&soft->atomic_lock);

	if (!ret && (work->flags & FPGADMA_WR_F_FETCH))
		ret = soft_pieces_xfer(soft, FPGADMA_WR_READ_MEM, &p[n], 1, 0,
				       len, old);
	return ret ? FPGADMA_WC_GENERAL_ERR : FPGADMA_WC_SUCCESS;
}

/* Fill the oldest RECV of the destination, completing it too. */
static u32 soft_send(struct fpgadma_soft *soft, struct fpgadma_wqe *work)
{
	struct fpgadma_wqe *recv;
	u32 status;

	recv = fpgadma_recv_take(&soft->fdev, work->dest, &status);
	if (!recv)
		return status;
	if (work->length > recv->length) {
		fpgadma_work_done(recv, FPGADMA_WC_LOC_LEN_ERR, 0);
		return FPGADMA_WC_REM_INV_REQ_ERR;
	}
	status = soft_host_copy(soft, work->pieces, work->npieces,
				recv->pieces, recv->npieces, work->length);
	recv->src_ep = READ_ONCE(work->ctx->ep_id);
	fpgadma_work_done(recv, status, work->length);
	return status;
}

static u32 soft_run_one(struct fpgadma_soft *soft, struct fpgadma_wqe *work)
{
	switch (work->opcode) {
	case FPGADMA_WR_RDMA_WRITE:
		return soft_host_copy(soft, work->pieces, work->npieces,
				      &work->remote, 1, work->length);
	case FPGADMA_WR_RDMA_READ:
		return soft_host_copy(soft, &work->remote, 1,
				      work->pieces, work->npieces, work->length);
	case FPGADMA_WR_SEND:
		return soft_send(soft, work);
	case FPGADMA_WR_ATOMIC:
	case FPGADMA_WR_ATOMIC_MEM:
		return soft_atomic(soft, work);
	default:
		return soft_execute(soft, work);
	}
}

/* Run one WR and complete it; the caller owns the engine (@soft->busy). */
static void soft_run_work(struct fpgadma_soft *soft, struct fpgadma_wqe *work)
{
	u32 status = work->status;

	fpgadma_work_start(work);
	if (status == FPGADMA_WC_SUCCESS)
		status = soft_run_one(soft, work);
	fpgadma_work_done(work, status, work->length);
}

/*
 * The worker: owns the engine from its first WR until the queue is empty.
 * While a poster runs a WR inline it leaves the queue alone; the poster
 * queues it again when it is done.
 */
static void soft_run(struct work_struct *w)
{
	struct fpgadma_soft *soft = container_of(w, struct fpgadma_soft, run);
	struct fpgadma_wqe *work;
	bool owner = false;

	for (;;) {
		spin_lock(&soft->lock);
		work = NULL;
		if (owner || !soft->busy) {
			work = list_first_entry_or_null(&soft->queue,
							struct fpgadma_wqe, node);
			if (work)
				list_del(&work->node);
			owner = work;
			soft->busy = owner;
		}
		spin_unlock(&soft->lock);
		if (!work)
			return;
		soft_run_work(soft, work);
		cond_resched();
	}
}

/*
 * Small work on an idle engine runs in the poster's context, sparing it the
 * worker's wake-up and a context switch, which cost more than moving a few
 * KiB.  Order holds: only an idle engine with an empty queue runs inline,
 * and work submitted meanwhile queues behind it.  Larger work goes to the
 * worker, so that a POST does not block for a long transfer.
 */
static void soft_submit(struct fpgadma_dev *fdev, struct fpgadma_wqe *work)
{
	struct fpgadma_soft *soft = container_of(fdev, struct fpgadma_soft, fdev);
	bool run_inline;

	spin_lock(&soft->lock);
	run_inline = !soft->busy && list_empty(&soft->queue) &&
		     work->length <= READ_ONCE(inline_max);
	if (run_inline)
		soft->busy = true;
	else
		list_add_tail(&work->node, &soft->queue);
	spin_unlock(&soft->lock);
	if (!run_inline) {
		queue_work(soft->wq, &soft->run);
		return;
	}

	soft_run_work(soft, work);

	spin_lock(&soft->lock);
	soft->busy = false;
	if (!list_empty(&soft->queue))
		queue_work(soft->wq, &soft->run);
	spin_unlock(&soft->lock);
}

/*
 * The device is going: the WR being run finishes, then the queued ones
 * complete flushed, so that CQEs stay in posting order.  No poster can run
 * one inline meanwhile: the core calls this with every call on the device
 * finished and new ones refused.
 */
static void soft_flush(struct fpgadma_dev *fdev)
{
	struct fpgadma_soft *soft = container_of(fdev, struct fpgadma_soft, fdev);
	struct fpgadma_wqe *work, *tmp;
	LIST_HEAD(flushed);

	spin_lock(&soft->lock);
	list_splice_init(&soft->queue, &flushed);
	spin_unlock(&soft->lock);
	flush_workqueue(soft->wq);
	list_for_each_entry_safe(work, tmp, &flushed, node) {
		list_del(&work->node);
		fpgadma_work_done(work, FPGADMA_WC_FLUSH_ERR, 0);
	}
}

/*
 * Paced streams.  A high-resolution timer is the device's clock: at each
 * tick it produces every frame that has come due since the last one, each
 * stamped with its ideal due time, into the stream's FIFO of frame
 * descriptors, or drops it when the FIFO is full; so a rate the machine
 * cannot keep up with shows as drops, not as a slower clock.  Ticks are at
 * least SOFT_STREAM_MIN_TICK apart: a short period makes several frames a
 * tick.  The delivery work, on the device's stream workqueue (not behind
 * the WRs on the ordered one), writes the frames from the FIFO into the
 * slots the process has handed back, through the MR's DMA mapping as WRs
 * do, and generates the payload as it goes.  The process hands slots back
 * without a system call, so while frames wait for room the timer also
 * looks again every SOFT_STREAM_POLL.
 */
#define SOFT_STREAM_MIN_TICK	(50 * NSEC_PER_USEC)
#define SOFT_STREAM_POLL	(200 * NSEC_PER_USEC)

/* A frame in the FIFO: payload is generated when it is written. */
struct soft_frame {
	u64 seq;
	u64 ts;
	u64 lost;
};

/**
 * struct soft_stream - a paced stream on the model.
 * @s:		the core's stream.
 * @soft:	the device.
 * @timer:	the device's clock for it (softirq).
 * @deliver:	writes FIFO frames into the ring (on @soft->stream_wq).
 * @lock:	protects the FIFO, the production state and @stopping.
 * @fifo:	@s->fifo_frames descriptors, a ring.
 * @head:	the oldest.
 * @count:	how many.
 * @next_seq:	the next frame's number.
 * @next_due:	when it is due (ns, CLOCK_MONOTONIC).
 * @lost_pending: frames dropped since the last one queued.
 * @stopping:	being stopped: no more ticks, no more delivery.
 */
struct soft_stream {
	struct fpgadma_stream *s;
	struct fpgadma_soft *soft;
	struct hrtimer timer;
	struct work_struct deliver;
	spinlock_t lock;
	struct soft_frame *fifo;
	u32 head;
	u32 count;
	u64 next_seq;
	u64 next_due;
	u64 lost_pending;
	bool stopping;
};

/* Produce the frames due by @now; the caller holds @ss->lock. */
static void soft_stream_produce(struct soft_stream *ss, u64 now)
{
	struct fpgadma_stream *s = ss->s;
	u64 period = s->period_ns, due, dropped;
	u32 queued, i;

	lockdep_assert_held(&ss->lock);
	if (now < ss->next_due)
		return;
	due = div64_u64(now - ss->next_due, period) + 1;
	queued = min_t(u64, due, s->fifo_frames - ss->count);
	for (i = 0; i < queued; i++) {
		struct soft_frame *f;

		f = &ss->fifo[(ss->head + ss->count) % s->fifo_frames];
		f->seq = ss->next_seq++;
		f->ts = ss->next_due;
		f->lost = ss->lost_pending;
		ss->lost_pending = 0;
		ss->count++;
		ss->next_due += period;
	}
	/* The FIFO is full: the rest are lost, counted. */
	dropped = due - queued;
	ss->next_seq += dropped;
	ss->lost_pending += dropped;
	ss->next_due += dropped * period;
	fpgadma_stream_produced(s, queued, dropped);
}

static enum hrtimer_restart soft_stream_tick(struct hrtimer *timer)
{
	struct soft_stream *ss = container_of(timer, struct soft_stream, timer);
	u64 now = ktime_get_ns(), next = U64_MAX;
	unsigned long flags;
	bool waiting;

	spin_lock_irqsave(&ss->lock, flags);
	if (ss->stopping) {
		spin_unlock_irqrestore(&ss->lock, flags);
		return HRTIMER_NORESTART;
	}
	if (fpgadma_stream_producing(ss->s)) {
		soft_stream_produce(ss, now);
		next = ss->next_due;
	}
	waiting = ss->count;
	spin_unlock_irqrestore(&ss->lock, flags);

	if (waiting) {
		queue_work(ss->soft->stream_wq, &ss->deliver);
		next = min(next, now + SOFT_STREAM_POLL);
	}
	/* Drained: nothing to produce, nothing to deliver. */
	if (next == U64_MAX)
		return HRTIMER_NORESTART;
	hrtimer_set_expires(timer, ns_to_ktime(max(next, now + SOFT_STREAM_MIN_TICK)));
	return HRTIMER_RESTART;
}

/*
 * The oldest frame of the FIFO into @f, unless stopping or empty.  It
 * stays in the FIFO, taking its place, until soft_stream_pop(): a frame
 * being written must not make room for one more.
 */
static bool soft_stream_peek(struct soft_stream *ss, struct soft_frame *f)
{
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&ss->lock, flags);
	ok = !ss->stopping && ss->count;
	if (ok)
		*f = ss->fifo[ss->head];
	spin_unlock_irqrestore(&ss->lock, flags);
	return ok;
}

/* The oldest frame leaves the FIFO (written, or lost). */
static void soft_stream_pop(struct soft_stream *ss)
{
	unsigned long flags;

	spin_lock_irqsave(&ss->lock, flags);
	if (ss->count) {
		ss->head = (ss->head + 1) % ss->s->fifo_frames;
		ss->count--;
	}
	spin_unlock_irqrestore(&ss->lock, flags);
}

/* Write frame @f, header and payload, into the next slot of the ring. */
static int soft_stream_write(struct soft_stream *ss, const struct soft_frame *f)
{
	struct fpgadma_stream *s = ss->s;
	u8 hdr[FPGADMA_FRAME_HDR_SIZE] = {};
	struct soft_xfer x = {
		.soft = ss->soft,
		.opcode = SOFT_XFER_FRAME,
		.hdr = hdr,
		.seq = f->seq,
	};

	put_unaligned_le32(FPGADMA_FRAME_MAGIC,
			   hdr + offsetof(struct fpgadma_frame_hdr, magic));
	put_unaligned_le16(FPGADMA_FRAME_HDR_SIZE,
			   hdr + offsetof(struct fpgadma_frame_hdr, hdr_size));
	put_unaligned_le32(s->frame_size,
			   hdr + offsetof(struct fpgadma_frame_hdr, frame_size));
	put_unaligned_le32(s->id,
			   hdr + offsetof(struct fpgadma_frame_hdr, stream_id));
	put_unaligned_le64(f->seq, hdr + offsetof(struct fpgadma_frame_hdr, seq));
	put_unaligned_le64(f->ts,
			   hdr + offsetof(struct fpgadma_frame_hdr, timestamp_ns));
	put_unaligned_le64(f->lost,
			   hdr + offsetof(struct fpgadma_frame_hdr, lost_before));
	return fpgadma_umem_walk_dma(s->mr->umem, fpgadma_stream_slot_off(s),
				     s->frame_size, soft_dma_chunk, &x);
}

/*
 * Frame @f, the FIFO's oldest, could not be written: it leaves the FIFO,
 * and the next frame delivered tells that it and those lost before it
 * are missing.
 */
static void soft_stream_lost(struct soft_stream *ss, const struct soft_frame *f)
{
	unsigned long flags;

	spin_lock_irqsave(&ss->lock, flags);
	if (ss->count) {
		ss->head = (ss->head + 1) % ss->s->fifo_frames;
		ss->count--;
	}
	if (ss->count)
		ss->fifo[ss->head].lost += 1 + f->lost;
	else
		ss->lost_pending += 1 + f->lost;
	spin_unlock_irqrestore(&ss->lock, flags);
}

/*
 * The delivery work: FIFO frames into the slots handed back, in order,
 * while there is room; the timer queues it again.
 */
static void soft_stream_deliver(struct work_struct *w)
{
	struct soft_stream *ss = container_of(w, struct soft_stream, deliver);
	struct fpgadma_stream *s = ss->s;
	struct soft_frame f;

	while (fpgadma_stream_room(s) && soft_stream_peek(ss, &f)) {
		if (!soft_stream_write(ss, &f)) {
			/* counted out before its place frees up */
			fpgadma_stream_delivered(s);
			soft_stream_pop(ss);
		} else {
			fpgadma_stream_discarded(s, 1);
			soft_stream_lost(ss, &f);
		}
		cond_resched();
	}
}

static int soft_stream_start(struct fpgadma_dev *fdev, struct fpgadma_stream *s)
{
	struct fpgadma_soft *soft = container_of(fdev, struct fpgadma_soft, fdev);
	struct soft_stream *ss;
	u64 now;

	if (s->frame_size > SOFT_STREAM_MAX_FRAME ||
	    s->fifo_frames > SOFT_STREAM_MAX_FIFO ||
	    s->period_ns > SOFT_STREAM_MAX_PERIOD)
		return -EINVAL;
	ss = kzalloc(sizeof(*ss), GFP_KERNEL);
	if (!ss)
		return -ENOMEM;
	ss->fifo = kvcalloc(s->fifo_frames, sizeof(*ss->fifo), GFP_KERNEL);
	if (!ss->fifo) {
		kfree(ss);
		return -ENOMEM;
	}
	ss->s = s;
	ss->soft = soft;
	spin_lock_init(&ss->lock);
	INIT_WORK(&ss->deliver, soft_stream_deliver);
	hrtimer_init(&ss->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	ss->timer.function = soft_stream_tick;
	s->engine_priv = ss;
	/* The first frame is due one period from now. */
	now = ktime_get_ns();
	ss->next_due = now + s->period_ns;
	hrtimer_start(&ss->timer,
		      ns_to_ktime(max(ss->next_due, now + SOFT_STREAM_MIN_TICK)),
		      HRTIMER_MODE_ABS_SOFT);
	return 0;
}

/*
 * No tick after hrtimer_cancel() (the tick checks @stopping, and the
 * running one is waited for), and the tick is the only one to queue the
 * delivery: after cancel_work_sync() nothing of the stream runs.
 */
static void soft_stream_stop(struct fpgadma_dev *fdev, struct fpgadma_stream *s)
{
	struct soft_stream *ss = s->engine_priv;
	unsigned long flags;

	spin_lock_irqsave(&ss->lock, flags);
	ss->stopping = true;
	spin_unlock_irqrestore(&ss->lock, flags);
	hrtimer_cancel(&ss->timer);
	cancel_work_sync(&ss->deliver);
	fpgadma_stream_discarded(s, ss->count);
	s->engine_priv = NULL;
	kvfree(ss->fifo);
	kfree(ss);
}

static const struct fpgadma_engine_ops soft_ops = {
	.name = "soft",
	.type = FPGADMA_ENGINE_SOFT,
	.caps = FPGADMA_CAP_HOST_EP | FPGADMA_CAP_STREAM | FPGADMA_CAP_ATOMIC |
		FPGADMA_CORE_CAP_ATOMIC_FP,
	.submit = soft_submit,
	.flush = soft_flush,
	.stream_start = soft_stream_start,
	.stream_stop = soft_stream_stop,
};

/*
 * Unregister first: the core then flushes and waits for our work, and
 * releases every MR mapped for our platform device, also of files still
 * open; only then do the worker and the device go.
 */
static void soft_destroy(struct fpgadma_soft *soft)
{
	if (soft->registered)
		fpgadma_dev_unregister(&soft->fdev);
	if (soft->stream_wq)
		destroy_workqueue(soft->stream_wq);
	if (soft->wq)
		destroy_workqueue(soft->wq);
	if (!IS_ERR_OR_NULL(soft->pdev))
		platform_device_unregister(soft->pdev);
	kfree(soft->staging);
	mutex_destroy(&soft->atomic_lock);
	fpgadma_dev_put(&soft->fdev);
}

static int soft_create(unsigned int id, struct fpgadma_soft **out)
{
	struct platform_device_info info = {
		.name = "fpgadma-soft",
		.id = id,
		.dma_mask = DMA_BIT_MASK(64),
	};
	struct fpgadma_soft *soft;
	size_t map_max;
	int ret;

	soft = fpgadma_dev_alloc(struct fpgadma_soft, fdev);
	if (!soft)
		return -ENOMEM;
	spin_lock_init(&soft->lock);
	mutex_init(&soft->atomic_lock);
	INIT_LIST_HEAD(&soft->queue);
	INIT_WORK(&soft->run, soft_run);

	ret = -ENOMEM;
	/* the device's from now on: the core frees it (fpgadma_dev_put()) */
	soft->fdev.devmem = fpgadma_devmem_alloc(dev_mem_size);
	soft->staging = kmalloc(SOFT_STAGING_SIZE, GFP_KERNEL);
	if (!soft->fdev.devmem || !soft->staging)
		goto err;
	soft->mem = soft->fdev.devmem->mem;
	soft->wq = alloc_ordered_workqueue("fpgadma-soft%u", 0, id);
	soft->stream_wq = alloc_workqueue("fpgadma-soft%u-stream",
					  WQ_UNBOUND | WQ_HIGHPRI, 0, id);
	if (!soft->wq || !soft->stream_wq)
		goto err;
	soft->pdev = platform_device_register_full(&info);
	if (IS_ERR(soft->pdev)) {
		ret = PTR_ERR(soft->pdev);
		goto err;
	}

	/* Segments must be mappable in one piece, also through swiotlb. */
	map_max = dma_max_mapping_size(&soft->pdev->dev);
	soft->fdev.max_seg_size = ALIGN_DOWN(min_t(size_t, max_seg_size, map_max),
					     PAGE_SIZE);
	ret = dma_set_max_seg_size(&soft->pdev->dev, soft->fdev.max_seg_size);
	if (ret)
		goto err;
	soft->fdev.dma_dev = &soft->pdev->dev;
	soft->fdev.ops = &soft_ops;
	soft->fdev.engine = soft;
	soft->fdev.dev_mem_size = dev_mem_size;
	soft->fdev.frame_size = frame_size;
	soft->fdev.stream_frame_size = stream_frame_size;
	soft->fdev.stream_fifo_frames = stream_fifo_frames;
	soft->fdev.stream_period_ns = stream_period_ns;
	ret = fpgadma_dev_register(&soft->fdev);
	if (ret)
		goto err;
	soft->registered = true;
	*out = soft;
	return 0;
err:
	soft_destroy(soft);
	return ret;
}

/* Remove every soft device, also with files open on it. */
static void soft_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(soft_devs); i++) {
		if (soft_devs[i])
			soft_destroy(soft_devs[i]);
		soft_devs[i] = NULL;
	}
}

/* Create the soft FPGA devices the parameters ask for: all, or none. */
static int __init soft_init(void)
{
	unsigned int i;
	int ret;

	if (ndevs > ARRAY_SIZE(soft_devs) ||
	    dev_mem_size < PAGE_SIZE || dev_mem_size > (4ULL << 30) ||
	    frame_size < 8 || frame_size % 8 || frame_size > (16U << 20) ||
	    max_seg_size < PAGE_SIZE ||
	    stream_frame_size < FPGADMA_FRAME_HDR_SIZE ||
	    stream_frame_size > SOFT_STREAM_MAX_FRAME ||
	    !stream_period_ns || stream_period_ns > SOFT_STREAM_MAX_PERIOD ||
	    !stream_fifo_frames || stream_fifo_frames > SOFT_STREAM_MAX_FIFO) {
		pr_err("fpgadma: invalid soft engine parameter\n");
		return -EINVAL;
	}
	for (i = 0; i < ndevs; i++) {
		ret = soft_create(i, &soft_devs[i]);
		if (ret) {
			soft_exit();
			return ret;
		}
	}
	return 0;
}

static void __exit soft_module_exit(void)
{
	soft_exit();
}

module_init(soft_init);
module_exit(soft_module_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("fpgadma soft engine: a software model of an FPGA board");
MODULE_AUTHOR("The fpgadma developers");
