/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libfpgadma: a verbs-style C API over the fpgadma kernel ABI.
 *
 * Every call that can fail returns 0 (or a count) on success and a negative
 * errno on failure; fpgadma_strerror() turns it into text.  Nothing else in
 * user space talks to the ioctls.
 */
#ifndef FPGADMA_H
#define FPGADMA_H

#include <stddef.h>
#include <stdint.h>
#include <fpgadma-abi.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fpgadma_context;	/* an open device: one kernel context, one completion ring */

/* A protection domain: the MRs of one context that WRs of that context may use. */
struct fpgadma_pd {
	struct fpgadma_context *context;
};

/* A registered memory region; fields are read-only for the caller. */
struct fpgadma_mr {
	struct fpgadma_context *context;
	struct fpgadma_pd *pd;
	void *addr;
	size_t length;
	uint32_t access;	/* FPGADMA_ACCESS_* */
	uint32_t lkey;
	uint32_t rkey;
	uint32_t nsegs;		/* DMA segments after coalescing */
	uint32_t mon_slot;	/* monitored: its word in the monitor area; else 0 */
	uint32_t mon_gen;	/* monitored: the word's value while valid */
};

/* What a device offers: struct fpgadma_query without the ring layout. */
struct fpgadma_device_attr {
	uint32_t abi_version;
	uint32_t engine;	/* FPGADMA_ENGINE_* */
	uint32_t dev_index;
	uint32_t max_sge;
	uint32_t max_post;
	uint32_t max_seg_size;
	uint32_t cq_entries;
	uint32_t page_size;
	uint64_t dev_mem_size;
	uint64_t frame_size;
	uint64_t max_mr_size;
	uint32_t ep_id;		/* this context's endpoint number on the device */
	uint32_t max_streams;	/* paced streams a context may run at once
				 * (0 without FPGADMA_CAP_STREAM) */
	uint64_t caps;		/* FPGADMA_CAP_* */
};

/* Open /dev/fpgadma<index>.  -ENOENT if there is no such device. */
int fpgadma_open(int index, struct fpgadma_context **ctx);
/* Open a device node by path. */
int fpgadma_open_path(const char *path, struct fpgadma_context **ctx);
/* Close: waits for posted work, releases every MR and PD still open. */
int fpgadma_close(struct fpgadma_context *ctx);

int fpgadma_query(struct fpgadma_context *ctx, struct fpgadma_device_attr *attr);
/*
 * The device memory mapped into the process (devices with
 * FPGADMA_CAP_MEM_MAP; others: -EOPNOTSUPP), read-write: device address A
 * is at (char *)*addr + A, dev_mem_size bytes.  Mapped at the first call,
 * the same address after; unmapped by fpgadma_close().  Loads and stores
 * through it need no system call; they are ordered with work requests only
 * by completions (fpgadma_mem_map(3)).
 */
int fpgadma_mem_map(struct fpgadma_context *ctx, void **addr);
/*
 * Local message channels (devices with FPGADMA_CAP_CHAN; others:
 * -EOPNOTSUPP), fpgadma_chan_map(3): this context's inbox, mapped
 * read-write at the first call (FPGADMA_CHAN_INBOX_SIZE bytes, the same
 * address after; unmapped by fpgadma_close()), and its channel to endpoint
 * ep_id of the device: its own slot of that endpoint's inbox
 * (FPGADMA_CHAN_SLOT_SIZE bytes; -ENOENT: the endpoint has no inbox,
 * -ENOSPC: no slot is free), unmapped by fpgadma_chan_unmap().  A
 * mapping keeps the device file open: fpgadma_close() unmaps them all, and
 * fpgadma_bind_ep() too (its channels end with the old number).
 */
int fpgadma_chan_inbox(struct fpgadma_context *ctx, void **addr);
int fpgadma_chan_map(struct fpgadma_context *ctx, uint32_t ep_id, void **addr);
int fpgadma_chan_unmap(struct fpgadma_context *ctx, void *addr);
/*
 * Take endpoint number ep_id (1..65535) in place of the one opening gave,
 * once per context.  -EADDRINUSE if another context of the device has it.
 */
int fpgadma_bind_ep(struct fpgadma_context *ctx, uint32_t ep_id);
/* The file descriptor, for poll()/epoll (POLLIN when a CQE is ready, POLLPRI
 * when a monitor event is); it is non-blocking. */
int fpgadma_get_fd(const struct fpgadma_context *ctx);

int fpgadma_alloc_pd(struct fpgadma_context *ctx, struct fpgadma_pd **pd);
/* -EBUSY while MRs of the PD are registered. */
int fpgadma_dealloc_pd(struct fpgadma_pd *pd);

/*
 * Register [addr, addr+length) with FPGADMA_ACCESS_* rights: the pages are
 * pinned for the device until fpgadma_dereg_mr().  Errors: -EINVAL (length 0,
 * overflow, unknown access bits), -EFAULT (range not mapped, or not writable
 * while write access is asked), -ENOMEM (over RLIMIT_MEMLOCK or no memory),
 * -EIO (the device cannot reach the memory or the DMA layer cannot map it).
 */
int fpgadma_reg_mr(struct fpgadma_pd *pd, void *addr, size_t length,
		   unsigned int access, struct fpgadma_mr **mr);
/*
 * As fpgadma_reg_mr(), with the rkey chosen by the caller (non-zero):
 * -EEXIST if the device already has an MR with that rkey.
 */
int fpgadma_reg_mr_rkey(struct fpgadma_pd *pd, void *addr, size_t length,
			unsigned int access, uint32_t rkey,
			struct fpgadma_mr **mr);
/*
 * The memory monitor (devices with FPGADMA_CAP_MR_MONITOR; others:
 * -EOPNOTSUPP).  As fpgadma_reg_mr(), and the kernel watches the range:
 * once it no longer maps the pages the MR pinned (munmap, mremap,
 * MADV_DONTNEED, brk shrinking, MAP_FIXED over it, ...) the MR is invalid.
 * It stays registered, and work on it moves the old pages, until
 * fpgadma_dereg_mr().  -ENOSPC when the context watches mon_slots-1 MRs.
 */
int fpgadma_reg_mr_monitor(struct fpgadma_pd *pd, void *addr, size_t length,
			   unsigned int access, struct fpgadma_mr **mr);
/* 1 while a monitored MR is valid, 0 once invalid (one load, no system
 * call); -EINVAL for an MR registered without monitoring, -EACCES in a
 * fork child. */
int fpgadma_mr_valid(const struct fpgadma_mr *mr);
/* How many MRs of the context became invalid so far (one load): while it
 * does not change, every valid MR is still valid.  0 without a monitor and
 * in a fork child. */
uint32_t fpgadma_mon_count(const struct fpgadma_context *ctx);
/*
 * Up to max events (which MR, which part, why), oldest first, without
 * sleeping: the count, 0 if none.  The context's fd polls EPOLLPRI while
 * events are pending.  An FPGADMA_MON_OVERFLOW event says some were lost.
 */
int fpgadma_mon_read(struct fpgadma_context *ctx, struct fpgadma_mon_event *evs,
		     int max);

/* Waits for work that uses the MR, then unpins it and frees mr. */
int fpgadma_dereg_mr(struct fpgadma_mr *mr);

/*
 * Post count WRs (struct fpgadma_wr from the ABI) at once.  All or none:
 * -EINVAL for a malformed WR, -EAGAIN when the completion ring has no room
 * for the batch (poll and retry).
 */
int fpgadma_post(struct fpgadma_context *ctx, const struct fpgadma_wr *wrs,
		 unsigned int count);
/* One WR: read [dev_addr, +len) of device memory into the pieces. */
int fpgadma_post_read(struct fpgadma_context *ctx, uint64_t wr_id,
		      uint64_t dev_addr, const struct fpgadma_sge *sg,
		      unsigned int num_sge);
/* One WR: write the pieces to device memory at dev_addr. */
int fpgadma_post_write(struct fpgadma_context *ctx, uint64_t wr_id,
		       uint64_t dev_addr, const struct fpgadma_sge *sg,
		       unsigned int num_sge);
/* One WR: the next bytes of the frame stream into the pieces. */
int fpgadma_post_stream_read(struct fpgadma_context *ctx, uint64_t wr_id,
			     const struct fpgadma_sge *sg, unsigned int num_sge);

/*
 * Host endpoints (devices with FPGADMA_CAP_HOST_EP; others: -EOPNOTSUPP).
 * RDMA: the pieces to or from the peer MR of rkey at remote_addr (a virtual
 * address in that MR, or an offset with FPGADMA_WR_F_REMOTE_OFFSET in flags).
 */
int fpgadma_post_rdma_write(struct fpgadma_context *ctx, uint64_t wr_id,
			    uint32_t rkey, uint64_t remote_addr, uint32_t flags,
			    const struct fpgadma_sge *sg, unsigned int num_sge);
int fpgadma_post_rdma_read(struct fpgadma_context *ctx, uint64_t wr_id,
			   uint32_t rkey, uint64_t remote_addr, uint32_t flags,
			   const struct fpgadma_sge *sg, unsigned int num_sge);
/* SEND the pieces to the oldest RECV of endpoint dest_ep (FPGADMA_WC_RNR_ERR if none). */
int fpgadma_post_send(struct fpgadma_context *ctx, uint64_t wr_id,
		      uint32_t dest_ep, const struct fpgadma_sge *sg,
		      unsigned int num_sge);
/* Post a receive buffer; its CQE carries byte_len and src_ep. */
int fpgadma_post_recv(struct fpgadma_context *ctx, uint64_t wr_id,
		      const struct fpgadma_sge *sg, unsigned int num_sge);

/*
 * Atomics (devices with FPGADMA_CAP_ATOMIC; float types also need
 * FPGADMA_CAP_ATOMIC_FP; others: -EOPNOTSUPP).  One WR applying op (enum
 * fpgadma_atomic_op, libfabric's enum fi_op) to count elements of datatype
 * (enum fpgadma_atomic_type, libfabric's enum fi_datatype): on the peer MR
 * of rkey at remote_addr (an offset with FPGADMA_WR_F_REMOTE_OFFSET in
 * flags), or with rkey 0 on device memory at remote_addr
 * (FPGADMA_WR_ATOMIC_MEM).  operand: the values (NULL for
 * FPGADMA_ATOMIC_READ); compare: the compare values or MSWAP's mask (only
 * for CSWAP* and MSWAP); result, if not NULL (FPGADMA_WR_F_FETCH): gets the
 * target's values from before, in an MR with LOCAL_WRITE.  All three of
 * count * size bytes (at most FPGADMA_ATOMIC_MAX_SIZE).  -EINVAL for a
 * piece missing or extra, a bad flag, or what the kernel refuses (see
 * fpgadma-abi.h, "Atomic operations").
 */
int fpgadma_post_atomic(struct fpgadma_context *ctx, uint64_t wr_id,
			uint32_t op, uint32_t datatype, uint32_t rkey,
			uint64_t remote_addr, uint32_t flags,
			const struct fpgadma_sge *operand,
			const struct fpgadma_sge *compare,
			const struct fpgadma_sge *result);
/*
 * Whether the device runs op on datatype (fi_atomicvalid()'s question): 0
 * and in *count (may be NULL) the most elements one WR takes; -EINVAL for
 * a combination no device accepts; -EOPNOTSUPP when this device lacks it.
 */
int fpgadma_atomic_valid(struct fpgadma_context *ctx, uint32_t op,
			 uint32_t datatype, size_t *count);

/*
 * Take up to max completions from the mmapped ring without a system call.
 * Returns how many (0 if none), or a negative errno (-EOVERFLOW once if the
 * kernel reported a lost CQE).  Safe to call from several threads.
 */
int fpgadma_poll(struct fpgadma_context *ctx, struct fpgadma_cqe *cqes, int max);
/*
 * Sleep until a CQE is ready or timeout_ms passes (-1: no limit).
 * Returns 1 if ready, 0 on timeout, or a negative errno.
 */
int fpgadma_wait(struct fpgadma_context *ctx, int timeout_ms);

/*
 * Paced streams (devices with FPGADMA_CAP_STREAM; others: -EOPNOTSUPP).
 * The device produces frames on its own clock, one every frame_period_ns,
 * into an on-board FIFO of fifo_frames frames, and writes them in order
 * into the slots of a ring in a registered MR: frame index i (counting
 * delivered frames from 0) goes to slot i % nslots, and only into a slot
 * the process has handed back.  A frame produced while the FIFO is full is
 * dropped and counted; the next one delivered says how many were lost
 * before it (struct fpgadma_frame_hdr's lost_before).  Each frame starts
 * with struct fpgadma_frame_hdr, and the rest holds the words
 * fpgadma_stream_word(seq, j) (see fpgadma-abi.h).
 *
 * The ring is consumed without a system call: fpgadma_stream_ready() says
 * which frames are there, fpgadma_stream_slot() where each one is, and
 * fpgadma_stream_release() hands their slots back.  Every cqe_every frames
 * the context's completion ring also gets a FPGADMA_WR_STREAM_FRAMES CQE
 * (wr_id user_data, byte_len the bytes of those frames, vendor_err how
 * many, src_ep the low 32 bits of the write index after them), so that a
 * consumer can sleep in fpgadma_wait(); when the stream stops, one
 * FPGADMA_WR_STREAM_END CQE (vendor_err: enum fpgadma_stream_end; status
 * FPGADMA_WC_SUCCESS after fpgadma_stream_stop(), FPGADMA_WC_FLUSH_ERR
 * when the MR's deregistration or the device's removal stopped it).
 */
struct fpgadma_stream;	/* opaque */

struct fpgadma_stream_attr {
	uint64_t ring_offset;	/* slot 0's offset in the MR (any alignment) */
	uint64_t ring_length;	/* bytes from there; >= nslots * slot_size */
	uint32_t slot_size;	/* bytes between slot starts, >= frame_size */
	uint32_t nslots;
	uint32_t frame_size;	/* in/out: 0 = the device's default, set on return */
	uint32_t fifo_frames;	/* in/out: 0 = default, set on return */
	uint64_t frame_period_ns; /* in/out: 0 = from byte_rate or default, set on return */
	uint64_t byte_rate;	/* bytes/s instead of a period (not both) */
	uint32_t cqe_every;	/* one FPGADMA_WR_STREAM_FRAMES CQE per N frames; 0 = 1 */
	uint32_t flags;		/* 0 */
	uint64_t user_data;	/* wr_id of the stream's CQEs */
};

/*
 * Start a paced stream into a ring in mr (which needs
 * FPGADMA_ACCESS_LOCAL_WRITE).  0 or -errno: -EINVAL (NULL argument,
 * non-zero flags, a ring outside mr, nslots or slot_size 0, nslots *
 * slot_size > ring_length, slot_size < frame_size, a frame_size below
 * FPGADMA_FRAME_HDR_SIZE, both a period and a byte rate, or what the
 * device refuses), -EACCES (mr lacks FPGADMA_ACCESS_LOCAL_WRITE, or a fork
 * child), -EOPNOTSUPP (a device without FPGADMA_CAP_STREAM), -ENOSPC (the
 * context runs max_streams streams), -EAGAIN (the completion ring has no
 * room for the CQE the stream reserves: poll, then try again), -ENOMEM,
 * -ENODEV (the device has gone).
 * On success attr's in/out fields are written back with what the device
 * chose (a byte_rate stays: clear it or the period before passing attr
 * again); on failure *stream is NULL.
 */
int fpgadma_stream_start(struct fpgadma_mr *mr, struct fpgadma_stream_attr *attr,
			 struct fpgadma_stream **stream);
/*
 * Stop the stream, fill *final (may be NULL) with its last counters and
 * free it.  With drain_ms > 0 the device first produces nothing new and
 * writes what its FIFO holds into handed-back slots for up to drain_ms
 * milliseconds; what is left then is dropped (counted).  The stream is
 * freed, and 0 returned, also when the kernel had already stopped it
 * (deregistration of its MR) or the device is gone (*final is then made
 * from the control block); after another error it is freed all the same
 * (the kernel stops the stream when the context closes).  -EINVAL for
 * NULL, -EACCES in a fork child (nothing freed).  A signal does not
 * interrupt it (a drain goes on).
 */
int fpgadma_stream_stop(struct fpgadma_stream *stream, unsigned int drain_ms,
			struct fpgadma_stream_stats *final);
/* The stream's counters (a system call): 0 or -errno. */
int fpgadma_stream_stats(struct fpgadma_stream *stream,
			 struct fpgadma_stream_stats *stats);
/* The stream's id (1..max_streams), as in its frames' headers; 0 for NULL. */
uint32_t fpgadma_stream_id(const struct fpgadma_stream *stream);

/*
 * The fast path: no system call.  One thread at a time per stream (the
 * caller serialises them).
 *
 * fpgadma_stream_ready(): the frames written and not yet handed back, at
 * most nslots; *first (may be NULL) gets the index of the oldest of them.
 * fpgadma_stream_slot(): the slot of frame index idx, a pointer into the
 * MR's memory (address + ring_offset + (idx % nslots) * slot_size).
 * fpgadma_stream_release(): hand the n oldest frames back to the device
 * (cut to those written); their slots must not be read afterwards.
 * fpgadma_stream_state(): enum fpgadma_stream_state from the stream's
 * control block and, in *end (may be NULL), enum fpgadma_stream_end (0
 * while it runs).  0 for NULL, and in a fork child.
 */
uint64_t fpgadma_stream_ready(struct fpgadma_stream *stream, uint64_t *first);
void *fpgadma_stream_slot(struct fpgadma_stream *stream, uint64_t idx);
void fpgadma_stream_release(struct fpgadma_stream *stream, uint64_t n);
uint32_t fpgadma_stream_state(const struct fpgadma_stream *stream, uint32_t *end);

/* Text for a negative (or positive) errno returned by this library. */
const char *fpgadma_strerror(int err);
/* Text for a CQE status (enum fpgadma_wc_status). */
const char *fpgadma_wc_status_str(uint32_t status);
/* The name of an engine (FPGADMA_ENGINE_*): "soft", "edu" or "unknown". */
const char *fpgadma_engine_str(uint32_t engine);

#ifdef __cplusplus
}
#endif

#endif /* FPGADMA_H */
