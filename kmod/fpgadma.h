/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fpgadma: the interfaces between the core module (fpgadma_core.ko: char
 * devices, contexts, MRs, work and completions) and the engine modules
 * that move the data (fpgadma_soft.ko, fpgadma_edu.ko, a board's driver).
 * An engine uses the exported functions below (EXPORT_SYMBOL_GPL); the core
 * never uses an engine's symbols, only its struct fpgadma_engine_ops.  The
 * engine writer's guide is man/fpgadma-engine.9.
 */
#ifndef FPGADMA_KMOD_H
#define FPGADMA_KMOD_H

#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/idr.h>
#include <linux/dma-mapping.h>
#include <linux/jump_label.h>
#include <linux/kref.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "fpgadma-abi.h"

#define FPGADMA_MAX_DEVICES	16
/* The most paced streams the max_streams parameter may give a context. */
#define FPGADMA_MAX_STREAMS	256

/**
 * struct fpgadma_umem - user memory pinned and DMA-mapped for one device.
 * @fdev:	the device (for its stage timing).
 * @dma_dev:	the device the table is mapped for.
 * @owning_mm:	the mm charged for the pinned pages (held by mmgrab).
 * @address:	user virtual address of the first byte.
 * @length:	bytes.
 * @offset:	offset of @address in its page; the table starts at the page.
 * @npages:	pages pinned and charged to @owning_mm->pinned_vm.
 * @writable:	the device may write: pinned with FOLL_WRITE, dirtied at release.
 * @dir:	DMA direction of the mapping.
 * @need_sync:	some DMA segment needs syncing (dma_need_sync(): bounced or
 *		not coherent): the pages may be reached only through
 *		dma_sync_single_*() around each access.  Else a DMA address
 *		translates straight to the pinned page (dma_to_phys()).
 * @sgt_append:	the pages, coalesced into segments, and their DMA mapping.
 */
struct fpgadma_umem {
	struct fpgadma_dev *fdev;
	struct device *dma_dev;
	struct mm_struct *owning_mm;
	unsigned long address;
	size_t length;
	unsigned int offset;
	unsigned long npages;
	bool writable;
	enum dma_data_direction dir;
	bool need_sync;
	struct sg_append_table sgt_append;
};

struct fpgadma_dev;

struct fpgadma_umem *fpgadma_umem_get(struct fpgadma_dev *fdev,
				      unsigned long addr, size_t size,
				      bool writable);
void fpgadma_umem_release(struct fpgadma_umem *umem);

int fpgadma_umem_walk_dma(struct fpgadma_umem *umem, u64 offset, u64 len,
			      int (*fn)(void *arg, struct fpgadma_umem *umem,
					dma_addr_t dma, u32 len),
			      void *arg);

/**
 * struct fpgadma_kmr - a registered memory region.
 * @ctx:	owning context.
 * @umem:	its pinned pages.
 * @iova:	the user address the MR starts at (pieces name user addresses).
 * @length:	bytes.
 * @access:	FPGADMA_ACCESS_* rights.
 * @lkey:	key in @ctx's table.
 * @rkey:	key in the device's table.
 * @refs:	one for the key tables, one per work request holding it.
 * @released:	completed when @refs drops to 0; deregistration waits for it.
 * @notifier:	FPGADMA_REG_MR_MONITOR: watches the range (monitor.c).
 * @mon_slot:	its word in the monitor area; 0 if not monitored.
 * @mon_gen:	the word's value while the MR is valid.
 * @mon_armed:	changes of the range are reported (under ctx->mon_lock).
 * @mon_invalid: a change was reported (under ctx->mon_lock).
 */
struct fpgadma_kmr {
	struct fpgadma_ctx *ctx;
	struct fpgadma_umem *umem;
	u64 iova;
	u64 length;
	u32 access;
	u32 lkey;
	u32 rkey;
	refcount_t refs;
	struct completion released;
	struct mmu_interval_notifier notifier;
	u32 mon_slot;
	u32 mon_gen;
	bool mon_armed;
	bool mon_invalid;
};

/* Device counters, shown read-only in sysfs. */
struct fpgadma_stats {
	atomic64_t live_mrs;
	atomic64_t pinned_pages;
	atomic64_t bytes_to_host;
	atomic64_t bytes_to_device;
	atomic64_t wrs_completed;
	atomic64_t wr_errors;
	atomic64_t mon_invalidations;
};

/*
 * Stages whose time the stage_timing parameter measures (stages.c); the
 * names in debugfs are the lower-case suffixes.
 */
enum fpgadma_stage {
	FPGADMA_STAGE_REG_TOTAL,	/* REG_MR after its arguments are checked */
	FPGADMA_STAGE_REG_PIN,		/* pin_user_pages_fast() */
	FPGADMA_STAGE_REG_SG,		/* appending pinned pages to the table */
	FPGADMA_STAGE_REG_MAP,		/* dma_map_sgtable() */
	FPGADMA_STAGE_REG_KEY,		/* inserting lkey and rkey */
	FPGADMA_STAGE_DEREG_TOTAL,	/* destroying an MR, however it goes */
	FPGADMA_STAGE_DEREG_WAIT,	/* waiting for the work holding it */
	FPGADMA_STAGE_DEREG_UNMAP,	/* dma_unmap_sgtable() */
	FPGADMA_STAGE_DEREG_UNPIN,	/* unpinning and freeing the table */
	FPGADMA_STAGE_POST_TOTAL,	/* a POST, with work an engine ran inline */
	FPGADMA_STAGE_QUEUE_WAIT,	/* a WR from submission to its start */
	FPGADMA_STAGE_ENGINE,		/* a WR from its start to its completion */
	FPGADMA_STAGE_COMPLETE,		/* fpgadma_work_done(): CQE and wake-ups */
	FPGADMA_STAGE_HOST_DIRECT,	/* an engine's host-to-host copy, page to page */
	FPGADMA_STAGE_HOST_STAGED,	/* ... through its staging buffer */
	FPGADMA_NR_STAGES
};

/* Per-cpu sums of the stages of one device. */
struct fpgadma_stage_counters {
	u64 count[FPGADMA_NR_STAGES];
	u64 ns[FPGADMA_NR_STAGES];
};

struct fpgadma_wqe;
struct fpgadma_stream;

DECLARE_STATIC_KEY_FALSE(fpgadma_stage_timing);

void fpgadma_stage_add(struct fpgadma_dev *fdev, enum fpgadma_stage stage,
		       u64 ns);

/* The start of a timed stage: the clock if stage timing is on, else 0. */
static inline u64 fpgadma_stage_start(void)
{
	if (static_branch_unlikely(&fpgadma_stage_timing))
		return ktime_get_ns();
	return 0;
}

/*
 * The end of a stage that started at @t0 (fpgadma_stage_start()); a stage
 * that started while timing was off is not counted.
 */
static inline void fpgadma_stage_end(struct fpgadma_dev *fdev,
				     enum fpgadma_stage stage, u64 t0)
{
	if (static_branch_unlikely(&fpgadma_stage_timing) && t0)
		fpgadma_stage_add(fdev, stage, ktime_get_ns() - t0);
}

/**
 * struct fpgadma_engine_ops - what a DMA engine provides to the core.
 * @name:	for logs and QUERY.
 * @type:	enum fpgadma_engine_type.
 * @caps:	FPGADMA_CAP_* the engine implements.  With
 *		FPGADMA_CAP_HOST_EP it also runs RDMA_WRITE, RDMA_READ (the
 *		peer side in work->remote) and SEND (fpgadma_recv_take() finds
 *		the RECV it fills); RECVs never reach an engine unless they
 *		carry an error status.  With FPGADMA_CAP_ATOMIC it runs
 *		ATOMIC (the target in work->remote) and ATOMIC_MEM (at
 *		work->dev_addr) on integer types, with FPGADMA_CAP_ATOMIC_FP
 *		also on the floating-point ones (fpgadma_atomic_compute() does
 *		the arithmetic for an engine without an atomic unit).
 * @submit:	take ownership of @work and run it in order with the other
 *		work of the device, later or before returning; call
 *		fpgadma_work_start() when it starts and fpgadma_work_done()
 *		exactly once when it is finished (also for work that arrives
 *		with an error status, which must not touch memory).  Called
 *		by POST in process context with no lock held: it may sleep.
 * @flush:	optional: complete the work submitted and not yet started
 *		with FPGADMA_WC_FLUSH_ERR, after the work already started
 *		has completed, so that completions stay in posting order.
 *		Called once, by fpgadma_dev_unregister(), after the last
 *		submit.  Process context, may sleep.
 * @stream_start: with FPGADMA_CAP_STREAM: start producing the frames of
 *		@s, whose geometry the core has checked and completed with
 *		the device's defaults (struct fpgadma_stream); 0, or -EINVAL
 *		for what the device cannot do, -ENOMEM.  Frames go into the
 *		ring only through the fpgadma_stream_*() helpers.  Called by
 *		STREAM_START in process context with the context's lock held:
 *		it may sleep, it must not wait for the stream's own work.
 * @stream_stop: with FPGADMA_CAP_STREAM: stop @s for good.  When it
 *		returns no timer, work or DMA of @s is left, and the frames
 *		left in the device's FIFO have been reported with
 *		fpgadma_stream_discarded().  Called once per started stream,
 *		in process context with the context's lock held (may sleep),
 *		also by fpgadma_dev_unregister() for the streams still running.
 */
struct fpgadma_engine_ops {
	const char *name;
	u32 type;
	u64 caps;
	void (*submit)(struct fpgadma_dev *fdev, struct fpgadma_wqe *work);
	void (*flush)(struct fpgadma_dev *fdev);
	int (*stream_start)(struct fpgadma_dev *fdev, struct fpgadma_stream *s);
	void (*stream_stop)(struct fpgadma_dev *fdev, struct fpgadma_stream *s);
};

/**
 * struct fpgadma_dev - one device instance (/dev/fpgadmaN).
 * @index:	N.
 * @dma_dev:	the device DMA mappings are made for.
 * @ops:	its engine.
 * @engine:	the engine's private data.
 * @dev_mem_size: bytes of on-board memory.
 * @devmem:	on-board memory processes may map (fpgadma_devmem_alloc()), or
 *		NULL; the device's reference, dropped when this structure goes
 *		(after the engine and every open file), so that mmap, which
 *		runs without the unplug semaphore, always finds it.
 * @frame_size:	bytes per stream frame.
 * @max_seg_size: largest segment in an MR's table.
 * @max_mr_size: largest MR the device can map, if the engine knows a
 *		limit below the max_mr_size parameter; 0 if not.
 * @dma_out_of_reach: set by an engine whose device cannot address every
 *		page of memory and has no IOMMU translating for it: REG_MR
 *		then fails with -EIO before pinning anything, since mapping a
 *		page beyond the device's DMA mask would only warn and fail.
 * @stream_frame_size: with FPGADMA_CAP_STREAM: the default frame size of
 *		a paced stream (bytes, at least FPGADMA_FRAME_HDR_SIZE).
 * @stream_fifo_frames: the default depth of its FIFO (frames, at least 1).
 * @stream_period_ns: its default frame period (ns, at least 1).
 * @rkeys:	rkey -> struct fpgadma_kmr, device-wide.
 * @eps:	ep_id -> struct fpgadma_ctx, the device's open contexts.
 * @next_ep_id:	where the cyclic allocation of ep_ids goes on.
 * @stats:	counters.
 * @stages:	stage timing sums (stages.c).
 * @debugfs:	the device's directory in debugfs fpgadma/.
 * @cdev:	the char device (its own allocation: open files may outlive
 *		the device).
 * @chardev:	its struct device in class fpgadma.
 * @kref:	the engine's reference and one per open file; the last one
 *		frees the structure the engine embeds this in.
 * @unplug:	held for reading by every call on an open file, for writing
 *		by fpgadma_dev_unregister().
 * @dead:	unregistered: calls fail with ENODEV (set under @unplug).
 * @ctxs_lock:	protects @ctxs.
 * @ctxs:	the open contexts, for fpgadma_dev_unregister().
 *
 * Everything above @stats is the engine's to fill in before
 * fpgadma_dev_register(); the rest is the core's.
 */
/**
 * struct fpgadma_devmem - on-board memory kept in host memory (devmem.c).
 * @ref:	the engine's reference and one per mapping of it.
 * @mem:	the memory (vmalloc).
 * @size:	its bytes.
 */
struct fpgadma_devmem {
	struct kref ref;
	void *mem;
	u64 size;
};

struct fpgadma_devmem *fpgadma_devmem_alloc(u64 size);
void fpgadma_devmem_put(struct fpgadma_devmem *dm);

struct fpgadma_dev {
	int index;
	struct device *dma_dev;
	const struct fpgadma_engine_ops *ops;
	void *engine;
	u64 dev_mem_size;
	struct fpgadma_devmem *devmem;
	u64 frame_size;
	u32 max_seg_size;
	u64 max_mr_size;
	bool dma_out_of_reach;
	u32 stream_frame_size;
	u32 stream_fifo_frames;
	u64 stream_period_ns;
	struct xarray rkeys;
	struct xarray eps;
	u32 next_ep_id;
	struct fpgadma_stats stats;
	struct fpgadma_stage_counters __percpu *stages;
	struct dentry *debugfs;
	struct cdev *cdev;
	struct device *chardev;
	struct kref kref;
	struct rw_semaphore unplug;
	bool dead;
	spinlock_t ctxs_lock;
	struct list_head ctxs;
};

struct fpgadma_dev *__fpgadma_dev_alloc(size_t size);
/*
 * Allocate an engine's structure @type, which embeds its struct fpgadma_dev
 * as @member at offset 0 (checked at compile time), as ib_alloc_device().
 */
#define fpgadma_dev_alloc(type, member)					\
	container_of(__fpgadma_dev_alloc(sizeof(type) +			\
					 BUILD_BUG_ON_ZERO(offsetof(type, member))), \
		     type, member)
void fpgadma_dev_put(struct fpgadma_dev *fdev);
int fpgadma_dev_register(struct fpgadma_dev *fdev);
void fpgadma_dev_unregister(struct fpgadma_dev *fdev);

int fpgadma_stages_init(struct fpgadma_dev *fdev);
void fpgadma_stages_exit(struct fpgadma_dev *fdev);
void fpgadma_stages_module_init(void);
void fpgadma_stages_module_exit(void);

/**
 * struct fpgadma_ctx - one open file of a device.
 * @fdev:	the device.
 * @mm:		the mm that opened it (held by mmgrab); only it may use the
 *		context, so a fork child cannot drive its parent's MRs.
 * @lock:	serialises the MR table, posting and BIND_EP.
 * @mrs:	lkey -> struct fpgadma_kmr.
 * @ring:	the completion ring (vmalloc_user, mmapped by the process).
 * @ring_size:	its bytes.
 * @cq_entries:	CQE slots (power of two).
 * @cqes:	the slots.
 * @head:	consumer index, written by the process: never trusted.
 * @tail:	producer index as the process sees it.
 * @flags:	FPGADMA_RING_* as the process sees them.
 * @cq_lock:	protects @cq_tail, @outstanding and @inflight.
 * @cq_tail:	the kernel's own producer index.
 * @outstanding: CQE slots reserved by posted, not yet completed work.
 * @inflight:	posted work not yet completed.
 * @work_cache:	works of done WRs kept for the next posts (under @cq_lock).
 * @work_cached: how many (at most FPGADMA_WORK_CACHE).
 * @cq_wait:	poll() sleepers.
 * @idle_wait:	waiters for @inflight == 0.
 * @ep_id:	the context's endpoint number in the device's @eps; changed
 *		only by BIND_EP (under @lock), read by engines with READ_ONCE.
 * @ep_bound:	BIND_EP has chosen @ep_id (it may not again).
 * @node:	in the device's ctxs list while the context is associated.
 * @recv_lock:	protects @recvq.
 * @recvq:	posted RECVs (struct fpgadma_wqe) in order; each counts in
 *		@inflight until a SEND fills it or it is flushed.
 * @mon:	the monitor area (vmalloc_user, mapped read-only by the
 *		process): word 0 counts invalidations, word N is slot N's.
 * @mon_size:	its bytes.
 * @mon_slots:	its words.
 * @mon_ida:	the slots in use (1..@mon_slots-1).
 * @mon_lock:	protects the words, @mon_evq and the MRs' mon_armed and
 *		mon_invalid; taken by the notifier callback, so never held
 *		while allocating, faulting or sleeping.
 * @mon_evq:	FPGADMA_MON_EVQ events for read().
 * @mon_ev_head: the oldest.
 * @mon_ev_count: how many.
 * @mon_overflow: an event did not fit.
 * @mon_wait:	read() and poll() sleepers.
 * @max_streams: paced streams it may run at once; 0 without them.
 * @streams:	its streams by id - 1 (under @lock); NULL without them.
 * @stream_area: their control blocks, a page each (vmalloc_user, mapped
 *		read-write by the process).
 * @stream_area_size: its bytes.
 */
struct fpgadma_ctx {
	struct fpgadma_dev *fdev;
	struct mm_struct *mm;
	struct mutex lock;
	struct xarray mrs;
	void *ring;
	size_t ring_size;
	u32 cq_entries;
	struct fpgadma_cqe *cqes;
	u32 *head;
	u32 *tail;
	u32 *flags;
	spinlock_t cq_lock;
	u32 cq_tail;
	u32 outstanding;
	u32 inflight;
	struct list_head work_cache;
	u32 work_cached;
	wait_queue_head_t cq_wait;
	wait_queue_head_t idle_wait;
	u32 ep_id;
	bool ep_bound;
	struct list_head node;
	spinlock_t recv_lock;
	struct list_head recvq;
	u32 *mon;
	size_t mon_size;
	u32 mon_slots;
	struct ida mon_ida;
	spinlock_t mon_lock;
	struct fpgadma_mon_event *mon_evq;
	u32 mon_ev_head;
	u32 mon_ev_count;
	bool mon_overflow;
	wait_queue_head_t mon_wait;
	u32 max_streams;
	struct fpgadma_stream **streams;
	void *stream_area;
	size_t stream_area_size;
	spinlock_t chan_lock;
	struct fpgadma_inbox *inbox;
	struct list_head chan_links;
};

/* Monitor events a context queues for read() before it counts an overflow. */
#define FPGADMA_MON_EVQ		256

/* chan.c */
struct fpgadma_inbox;
void fpgadma_chan_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q);
int fpgadma_chan_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma);
void fpgadma_chan_reset(struct fpgadma_ctx *ctx);

/* devmem.c */
void fpgadma_devmem_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q);
int fpgadma_devmem_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma);

/* monitor.c */
int fpgadma_mon_ctx_init(struct fpgadma_ctx *ctx);
void fpgadma_mon_ctx_free(struct fpgadma_ctx *ctx);
void fpgadma_mon_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q);
int fpgadma_mon_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma);
int fpgadma_mon_start(struct fpgadma_kmr *mr);
struct fpgadma_umem *fpgadma_mon_pin(struct fpgadma_kmr *mr, bool writable,
				     unsigned long *seq);
void fpgadma_mon_arm(struct fpgadma_kmr *mr, unsigned long seq);
void fpgadma_mon_stop(struct fpgadma_kmr *mr);
bool fpgadma_mon_pending(struct fpgadma_ctx *ctx);
ssize_t fpgadma_mon_read(struct fpgadma_ctx *ctx, char __user *buf,
			 size_t count, bool nonblock);

int fpgadma_mr_reg(struct fpgadma_ctx *ctx, struct fpgadma_reg_mr *cmd);
struct fpgadma_piece;
u32 fpgadma_mr_get_local(struct fpgadma_ctx *ctx, u32 lkey, u64 addr, u32 len,
			 bool device_writes, struct fpgadma_piece *piece);
int fpgadma_mr_get_range(struct fpgadma_ctx *ctx, u32 lkey, u64 offset,
			 u64 len, u32 right, struct fpgadma_kmr **mrp);
u32 fpgadma_mr_get_remote(struct fpgadma_dev *fdev, u32 rkey, u32 right,
			  u64 raddr, bool offset, u64 len,
			  struct fpgadma_piece *piece);
void fpgadma_mr_put(struct fpgadma_kmr *mr);
int fpgadma_mr_dereg(struct fpgadma_ctx *ctx, u32 lkey);
void fpgadma_mr_destroy_all(struct fpgadma_ctx *ctx);

/**
 * struct fpgadma_piece - one resolved SGE: @len bytes at @offset of @mr.
 */
struct fpgadma_piece {
	struct fpgadma_kmr *mr;
	u64 offset;
	u32 len;
};

/**
 * struct fpgadma_wqe - a posted work request, as an engine sees it.
 * @node:	the engine's queue.
 * @ctx:	posting context (kept alive by its inflight count).
 * @wr_id:	returned in the CQE.
 * @opcode:	enum fpgadma_wr_opcode.
 * @status:	FPGADMA_WC_SUCCESS, or the error found at post time: then
 *		@npieces is 0 and the engine must only complete it.
 * @dev_addr:	device memory address.
 * @length:	total bytes of the pieces; an atomic: the target's bytes
 *		(count * element size, the length of each of its pieces).
 * @flags:	the WR's FPGADMA_WR_F_* flags.
 * @atomic_op:	ATOMIC, ATOMIC_MEM: enum fpgadma_atomic_op, checked valid
 *		for @atomic_type.
 * @atomic_type: ATOMIC, ATOMIC_MEM: enum fpgadma_atomic_type.
 * @remote:	RDMA_WRITE, RDMA_READ, ATOMIC: the peer MR's range (holding
 *		the MR when @status is FPGADMA_WC_SUCCESS); an ATOMIC's is
 *		aligned (fpgadma_atomic_type_align()).
 * @dest:	SEND: the destination ep_id.
 * @src_ep:	RECV: the sender's ep_id, set when a SEND fills it.
 * @t_submit:	when it went to the engine, if stage timing was on (else 0).
 * @t_start:	when the engine started it (fpgadma_work_start()), or 0.
 * @cached:	it has room for FPGADMA_WORK_CACHE_SGE pieces and goes back
 *		to its context's cache of works when done (post.c, cq.c).
 * @npieces:	entries in @pieces, each holding a reference on its MR.
 * @pieces:	host side of the transfer, in order; an atomic's are its
 *		operand (unless ATOMIC_READ), its compare values
 *		(fpgadma_atomic_op_has_compare()) and, with
 *		FPGADMA_WR_F_FETCH, its result, in that order.
 */
struct fpgadma_wqe {
	struct list_head node;
	struct fpgadma_ctx *ctx;
	u64 wr_id;
	u32 opcode;
	u32 status;
	u64 dev_addr;
	u64 length;
	u32 flags;
	u16 atomic_op;
	u16 atomic_type;
	struct fpgadma_piece remote;
	u32 dest;
	u32 src_ep;
	u64 t_submit;
	u64 t_start;
	bool cached;
	u32 npieces;
	struct fpgadma_piece pieces[];
};

/*
 * A context keeps up to FPGADMA_WORK_CACHE works of done WRs, each with
 * room for FPGADMA_WORK_CACHE_SGE pieces, for its next posts: a small WR
 * then costs no allocation and no zeroing (post.c).
 */
#define FPGADMA_WORK_CACHE	64
#define FPGADMA_WORK_CACHE_SGE	4

struct fpgadma_wr;
void fpgadma_works_get(struct fpgadma_ctx *ctx, const struct fpgadma_wr *wrs,
		       struct fpgadma_wqe **works, u32 n);
void fpgadma_work_release(struct fpgadma_ctx *ctx, struct fpgadma_wqe *work);
void fpgadma_ctx_free_works(struct fpgadma_ctx *ctx);

void fpgadma_work_start(struct fpgadma_wqe *work);

/* Whether a WR is an atomic operation (ATOMIC, ATOMIC_MEM). */
static inline bool fpgadma_wr_is_atomic(u32 opcode)
{
	return opcode == FPGADMA_WR_ATOMIC || opcode == FPGADMA_WR_ATOMIC_MEM;
}

/*
 * atomic.c: the arithmetic of atomics for engines without an atomic unit.
 * FPGADMA_CORE_CAP_ATOMIC_FP is FPGADMA_CAP_ATOMIC_FP where it can do
 * floating point (x86-64, under kernel_fpu_begin()), else 0.
 */
#ifdef CONFIG_X86_64
#define FPGADMA_CORE_CAP_ATOMIC_FP	FPGADMA_CAP_ATOMIC_FP
#else
#define FPGADMA_CORE_CAP_ATOMIC_FP	0
#endif
int fpgadma_atomic_compute(u32 op, u32 type, u32 len, void *target,
			   const void *operand, const void *compare);

/* Whether a WR's own pieces are written (and so need LOCAL_WRITE). */
static inline bool fpgadma_wr_device_writes(u32 opcode)
{
	return opcode == FPGADMA_WR_READ_MEM || opcode == FPGADMA_WR_READ_STREAM ||
	       opcode == FPGADMA_WR_RDMA_READ || opcode == FPGADMA_WR_RECV;
}

/**
 * struct fpgadma_stream - a paced stream of a context (stream.c).
 * @ctx:	its context.
 * @mr:		the ring's MR, held while the stream runs; NULL once stopped.
 * @ctrl:	its control block in the context's stream area.
 * @id:		its id (1..max_streams).
 * @user_data:	wr_id of its CQEs.
 * @ring_off:	slot 0's offset in @mr.
 * @slot_size:	bytes from one slot's start to the next.
 * @nslots:	slots in the ring.
 * @frame_size:	bytes per frame, header included.
 * @fifo_frames: the device's FIFO depth in frames.
 * @period_ns:	one frame every this many ns.
 * @cqe_every:	frames per FPGADMA_WR_STREAM_FRAMES CQE.
 * @engine_priv: the engine's, from its stream_start until its stream_stop.
 * @kref:	the table's reference and one per STREAM_STOP waiting on it.
 * @wait:	STREAM_STOP's drain waits here.
 * @lock:	protects everything below; taken from any context (irqsave).
 * @state:	enum fpgadma_stream_state.
 * @end:	enum fpgadma_stream_end once stopped, else 0.
 * @halting:	being stopped: no more room for frames.
 * @frames_held: a CQ slot is reserved for the next FRAMES CQE.
 * @write_idx:	frames written into the ring (the kernel's own copy).
 * @read_idx:	the process's read index as last read.
 * @since_cqe:	frames delivered since the last FRAMES CQE.
 * @bytes_since_cqe: their bytes.
 * @delivered:	frames delivered in all.
 * @bytes:	their bytes.
 * @drops:	frames dropped (FIFO full, or left in it at the end).
 * @fifo_level:	frames in the device's FIFO (not yet delivered).
 * @fifo_hwm:	the most it held.
 *
 * The stream always holds one reserved CQ slot for its END CQE, and one
 * more for its next FRAMES CQE from before the first frame of a group is
 * written (@frames_held): so both always fit.
 */
struct fpgadma_stream {
	struct fpgadma_ctx *ctx;
	struct fpgadma_kmr *mr;
	struct fpgadma_stream_ctrl *ctrl;
	u32 id;
	u64 user_data;
	u64 ring_off;
	u32 slot_size;
	u32 nslots;
	u32 frame_size;
	u32 fifo_frames;
	u64 period_ns;
	u32 cqe_every;
	void *engine_priv;
	struct kref kref;
	wait_queue_head_t wait;
	spinlock_t lock;
	u32 state;
	u32 end;
	bool halting;
	bool frames_held;
	u64 write_idx;
	u64 read_idx;
	u32 since_cqe;
	u64 bytes_since_cqe;
	u64 delivered;
	u64 bytes;
	u64 drops;
	u32 fifo_level;
	u32 fifo_hwm;
};

/* stream.c: the engine's side */
u32 fpgadma_stream_room(struct fpgadma_stream *s);
u64 fpgadma_stream_slot_off(struct fpgadma_stream *s);
void fpgadma_stream_produced(struct fpgadma_stream *s, u32 queued,
			     u64 dropped);
void fpgadma_stream_delivered(struct fpgadma_stream *s);
void fpgadma_stream_discarded(struct fpgadma_stream *s, u32 n);

/**
 * fpgadma_stream_producing() - whether the device should produce frames.
 * @s:		a started stream.
 *
 * False once STREAM_STOP drains it or it is being stopped: the device
 * then only delivers what its FIFO holds.
 *
 * Context: any context; lockless.
 * Return: true while the stream runs.
 */
static inline bool fpgadma_stream_producing(const struct fpgadma_stream *s)
{
	return READ_ONCE(s->state) == FPGADMA_STREAM_RUNNING &&
	       !READ_ONCE(s->halting);
}

/* stream.c: the core's side */
extern unsigned int fpgadma_max_streams;
int fpgadma_stream_ctx_init(struct fpgadma_ctx *ctx);
void fpgadma_stream_ctx_free(struct fpgadma_ctx *ctx);
void fpgadma_stream_query(struct fpgadma_ctx *ctx, struct fpgadma_query *q);
int fpgadma_stream_mmap(struct fpgadma_ctx *ctx, struct vm_area_struct *vma);
int fpgadma_ioctl_stream_start(struct fpgadma_ctx *ctx, void __user *uarg);
int fpgadma_ioctl_stream_stop(struct fpgadma_ctx *ctx, void __user *uarg);
int fpgadma_ioctl_stream_stats(struct fpgadma_ctx *ctx, void __user *uarg);
void fpgadma_stream_mr_gone(struct fpgadma_ctx *ctx, struct fpgadma_kmr *mr);
void fpgadma_stream_stop_all(struct fpgadma_ctx *ctx);

/* ioctl.c */
extern const struct file_operations fpgadma_fops;
void fpgadma_ctx_teardown(struct fpgadma_ctx *ctx);
int fpgadma_ctx_enter(struct fpgadma_ctx *ctx);
void fpgadma_ctx_leave(struct fpgadma_ctx *ctx);
/* core.c */
struct fpgadma_dev *fpgadma_dev_get_minor(unsigned int minor);
/* post.c, cq.c, recv.c */
int fpgadma_post_wqes(struct fpgadma_ctx *ctx, const struct fpgadma_post *cmd);
int fpgadma_cq_reserve(struct fpgadma_ctx *ctx, u32 n);
bool fpgadma_cq_hold(struct fpgadma_ctx *ctx);
void fpgadma_cq_unhold(struct fpgadma_ctx *ctx);
void fpgadma_cq_post_held(struct fpgadma_ctx *ctx,
			  const struct fpgadma_cqe *cqe);
void fpgadma_recv_queue(struct fpgadma_wqe *work);
void fpgadma_work_done(struct fpgadma_wqe *work, u32 status, u64 bytes);
int fpgadma_ctx_init_ring(struct fpgadma_ctx *ctx, u32 entries);
void fpgadma_ctx_drain(struct fpgadma_ctx *ctx);
void fpgadma_ring_layout(struct fpgadma_ctx *ctx, struct fpgadma_query *q);
bool fpgadma_ctx_cq_ready(struct fpgadma_ctx *ctx);
struct fpgadma_wqe *fpgadma_recv_take(struct fpgadma_dev *fdev, u32 dest,
				       u32 *status);
void fpgadma_recv_flush(struct fpgadma_ctx *ctx, struct fpgadma_kmr *mr);

/* Module parameters shared by the core and the engines. */
extern unsigned int fpgadma_max_sge;
extern unsigned int fpgadma_max_post;
extern unsigned int fpgadma_cq_entries;
extern unsigned long long fpgadma_max_mr_size;

#endif /* FPGADMA_KMOD_H */
