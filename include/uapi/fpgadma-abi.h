/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * fpgadma user/kernel ABI.
 *
 * Rules this ABI keeps (io_uring's, rdma's):
 *  - fixed-width types, explicit padding, user pointers as __u64;
 *  - every struct has reserved fields; the kernel rejects a non-zero
 *    reserved field, an unknown flag or an unknown opcode with EINVAL, so
 *    they can be given meaning later without breaking old binaries;
 *  - the ioctl number encodes the struct size: a caller built against a
 *    different size gets EINVAL, never a half-read struct;
 *  - the completion ring is shared by mmap; its layout is described by the
 *    offsets QUERY returns, not by compile-time constants;
 *  - it grows as io_uring's does: a new call, flag or field comes with a
 *    FPGADMA_CAP_* bit in QUERY's caps (BIND_EP: FPGADMA_CAP_BIND_EP) and
 *    takes a reserved field or a new ioctl number; a library asks for the
 *    bit before it uses the feature, and a kernel without it answers as it
 *    always has.  abi_version stays 1: it would change only if a layout or
 *    meaning above changed, which this ABI does not do.
 *
 * Terms: an MR (memory region) is a range of user memory pinned for the
 * device, named by an lkey (valid in the context that registered it) and an
 * rkey (device-wide, for peers the owner hands it to).  A WR (work request)
 * moves data between a list of pieces (lkey, addr, length) in MRs and the
 * device: its on-board memory at dev_addr, or its frame stream.  Each WR
 * produces one CQE (completion) in the context's completion ring.
 *
 * Host endpoints: every context is also an endpoint of its device, numbered
 * ep_id (QUERY).  Opening gives a context a number of the dynamic range
 * FPGADMA_EP_ID_DYNAMIC_MIN..65535; BIND_EP trades it for a number the
 * caller names (1..65535), as bind(2) gives a socket a chosen port, so that
 * peers can find an endpoint by a number agreed in advance (a service).
 * On a device with FPGADMA_CAP_HOST_EP, the engine moves
 * data between endpoints like a NIC in loopback: RDMA_WRITE and RDMA_READ
 * reach a peer's MR by its rkey, SEND delivers into the oldest RECV the
 * destination endpoint has posted.
 */
#ifndef _UAPI_FPGADMA_ABI_H
#define _UAPI_FPGADMA_ABI_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define FPGADMA_ABI_VERSION	1

/* Access rights of an MR: the values of ibv_access_flags for the same rights. */
enum fpgadma_access {
	FPGADMA_ACCESS_LOCAL_WRITE	= 1 << 0, /* the device may write the MR */
	FPGADMA_ACCESS_REMOTE_WRITE	= 1 << 1, /* peers may write it by rkey */
	FPGADMA_ACCESS_REMOTE_READ	= 1 << 2, /* peers may read it by rkey */
};
#define FPGADMA_ACCESS_ALL	(FPGADMA_ACCESS_LOCAL_WRITE | \
				 FPGADMA_ACCESS_REMOTE_WRITE | \
				 FPGADMA_ACCESS_REMOTE_READ)

/* Device capabilities (QUERY's caps field). */
#define FPGADMA_CAP_HOST_EP	(1ULL << 0) /* RDMA_READ/WRITE, SEND/RECV */
#define FPGADMA_CAP_BIND_EP	(1ULL << 1) /* FPGADMA_IOC_BIND_EP */
#define FPGADMA_CAP_MR_MONITOR	(1ULL << 2) /* FPGADMA_REG_MR_MONITOR, the monitor area, read() */

/* Endpoint numbers: opening takes one of FPGADMA_EP_ID_DYNAMIC_MIN..MAX. */
#define FPGADMA_EP_ID_MAX		65535
#define FPGADMA_EP_ID_DYNAMIC_MIN	49152

/* Engines (QUERY's engine field). */
enum fpgadma_engine_type {
	FPGADMA_ENGINE_SOFT	= 1, /* the in-kernel model of the FPGA */
	FPGADMA_ENGINE_EDU	= 2, /* QEMU's emulated "edu" PCI device */
};

/**
 * struct fpgadma_query - what a device offers (FPGADMA_IOC_QUERY, out).
 * @abi_version:	FPGADMA_ABI_VERSION of the module.
 * @engine:		enum fpgadma_engine_type.
 * @dev_index:		N of /dev/fpgadmaN.
 * @max_sge:		most pieces in one WR.
 * @max_post:		most WRs in one POST.
 * @max_seg_size:	largest DMA segment an MR's table holds.
 * @cq_entries:		completion ring entries (a power of two).
 * @ring_size:		bytes to mmap at offset 0 for the completion ring.
 * @ring_head_off:	offset of the __u32 head (consumer index, user writes).
 * @ring_tail_off:	offset of the __u32 tail (producer index, kernel writes).
 * @ring_flags_off:	offset of the __u32 ring flags (FPGADMA_RING_*).
 * @ring_cqes_off:	offset of the array of cq_entries struct fpgadma_cqe.
 * @page_size:		the kernel's page size.
 * @dev_mem_size:	bytes of on-board memory (device addresses 0..size-1).
 * @frame_size:		bytes per stream frame; 0 if the device has no frame
 *			stream (its READ_STREAM WRs complete with
 *			FPGADMA_WC_REM_ACCESS_ERR).
 * @max_mr_size:	largest MR.
 * @ep_id:		this context's endpoint number on the device (1..65535,
 *			unique among the device's open contexts; the dynamic
 *			range until BIND_EP names another).
 * @caps:		FPGADMA_CAP_* bits.
 * @mon_mmap_off:	with FPGADMA_CAP_MR_MONITOR: the mmap offset of the
 *			monitor area (map it read-only, MAP_SHARED); else 0.
 * @mon_size:		its bytes (a multiple of @page_size).
 * @mon_slots:		__u32 words in it: word 0 counts the context's MR
 *			invalidations, words 1..mon_slots-1 are the monitored
 *			MRs' (at most mon_slots-1 monitored MRs at a time).
 * @reserved:		zero.
 */
struct fpgadma_query {
	__u32 abi_version;
	__u32 engine;
	__u32 dev_index;
	__u32 max_sge;
	__u32 max_post;
	__u32 max_seg_size;
	__u32 cq_entries;
	__u32 ring_size;
	__u32 ring_head_off;
	__u32 ring_tail_off;
	__u32 ring_flags_off;
	__u32 ring_cqes_off;
	__u32 page_size;
	__u32 ep_id;
	__u64 dev_mem_size;
	__u64 frame_size;
	__u64 max_mr_size;
	__u64 caps;
	__u64 mon_mmap_off;
	__u32 mon_size;
	__u32 mon_slots;
	__u64 reserved[5];
};

/* REG_MR flags. */
#define FPGADMA_REG_MR_REQ_RKEY	(1U << 0) /* rkey is an input: use it or fail with EEXIST */
/*
 * Watch the range for the process's address space changing under it
 * (FPGADMA_CAP_MR_MONITOR).  Once any part of [addr, addr+length) stops
 * mapping the pages the MR pinned (munmap, mremap, MADV_DONTNEED,
 * MADV_FREE, brk shrinking, a MAP_FIXED mapping over it, a huge page
 * under it split, the process exiting), the MR is invalid: its word in the
 * monitor area changes from mon_gen (one load tells), word 0 counts up, and
 * an event can be read() from the file (poll: EPOLLPRI).  mprotect, NUMA
 * balancing, fork and soft-dirty tracking leave it valid.  An invalid MR
 * stays registered and pinned until DEREG_MR: work posted on it still moves
 * the old pages, which the process no longer sees at that address.
 * ENOSPC when mon_slots-1 monitored MRs are registered already.
 */
#define FPGADMA_REG_MR_MONITOR	(1U << 1)

/**
 * struct fpgadma_reg_mr - FPGADMA_IOC_REG_MR.
 * @addr:	in: start of the range (any alignment).
 * @length:	in: bytes, at least 1.
 * @access:	in: enum fpgadma_access bits.
 * @flags:	in: FPGADMA_REG_MR_* bits.
 * @lkey:	out: local key, for WR pieces and DEREG_MR.
 * @rkey:	out: device-wide key for peers; with FPGADMA_REG_MR_REQ_RKEY
 *		in: the key wanted (non-zero; EEXIST if the device has it).
 * @nsegs:	out: DMA segments in the MR's table (after coalescing).
 * @mon_slot:	in: zero; out: with FPGADMA_REG_MR_MONITOR, the MR's word
 *		in the monitor area (1..mon_slots-1), else 0.
 * @mon_gen:	in: zero; out: the value of that word while the MR is valid.
 * @reserved0:	zero.
 * @reserved:	zero.
 */
struct fpgadma_reg_mr {
	__u64 addr;
	__u64 length;
	__u32 access;
	__u32 flags;
	__u32 lkey;
	__u32 rkey;
	__u32 nsegs;
	__u32 mon_slot;
	__u32 mon_gen;
	__u32 reserved0;
	__u64 reserved;
};

/**
 * struct fpgadma_dereg_mr - FPGADMA_IOC_DEREG_MR.  Waits for work that
 * uses the MR to complete, then unpins it.
 * @lkey:	the MR's lkey.
 * @flags:	zero.
 * @reserved:	zero.
 */
struct fpgadma_dereg_mr {
	__u32 lkey;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct fpgadma_bind_ep - FPGADMA_IOC_BIND_EP: take endpoint number @ep_id
 * instead of the one opening gave.  Once per context: a second BIND_EP
 * fails with EINVAL, as bind(2) on a bound socket does.  Errors: EINVAL
 * (@ep_id 0 or above FPGADMA_EP_ID_MAX, a flag or reserved field set,
 * already bound), EADDRINUSE (another open context has that number).
 * Bind before traffic: a SEND the engine is already moving reports the
 * old number as its src_ep.
 * @ep_id:	in: 1..FPGADMA_EP_ID_MAX.
 * @flags:	zero.
 * @reserved:	zero.
 */
struct fpgadma_bind_ep {
	__u32 ep_id;
	__u32 flags;
	__u64 reserved[3];
};

/* WR opcodes. */
enum fpgadma_wr_opcode {
	/* device memory [dev_addr, +len) -> pieces; pieces need LOCAL_WRITE */
	FPGADMA_WR_READ_MEM	= 1,
	/* pieces -> device memory [dev_addr, +len) */
	FPGADMA_WR_WRITE_MEM	= 2,
	/*
	 * next len bytes of the frame stream -> pieces; dev_addr must be 0.
	 * On a device without a stream (frame_size 0) it completes with
	 * FPGADMA_WC_REM_ACCESS_ERR and moves nothing.
	 */
	FPGADMA_WR_READ_STREAM	= 3,
	/* pieces -> the peer MR of rkey at remote_addr; needs REMOTE_WRITE there */
	FPGADMA_WR_RDMA_WRITE	= 4,
	/* the peer MR of rkey at remote_addr -> pieces; needs REMOTE_READ there */
	FPGADMA_WR_RDMA_READ	= 5,
	/*
	 * pieces -> the oldest RECV posted by endpoint dest.  Without one it
	 * completes with FPGADMA_WC_RNR_ERR and moves nothing.
	 */
	FPGADMA_WR_SEND		= 6,
	/* pieces wait for a SEND; pieces need LOCAL_WRITE */
	FPGADMA_WR_RECV		= 7,
};

/* WR flags. */
#define FPGADMA_WR_F_REMOTE_OFFSET (1U << 0) /* remote_addr is an offset into the peer MR, not a virtual address */

/**
 * struct fpgadma_sge - one piece of a WR: bytes [addr, addr+length) of
 * the MR named by lkey (addr is a user virtual address inside it).
 */
struct fpgadma_sge {
	__u64 addr;
	__u32 length;
	__u32 lkey;
};

/**
 * struct fpgadma_wr - one work request.
 * @wr_id:	returned in its CQE.
 * @opcode:	enum fpgadma_wr_opcode.
 * @flags:	FPGADMA_WR_F_* (only RDMA_READ and RDMA_WRITE take any).
 * @dev_addr:	device memory address (READ_MEM, WRITE_MEM), or the remote
 *		address in the peer MR (RDMA_READ, RDMA_WRITE); else zero.
 * @sg_list:	user pointer to num_sge struct fpgadma_sge.
 * @num_sge:	0..max_sge.
 * @rkey:	the peer MR (RDMA_READ, RDMA_WRITE); else zero.
 * @dest:	the destination endpoint's ep_id (SEND); else zero.
 * @reserved0:	zero.
 * @reserved:	zero.
 */
struct fpgadma_wr {
	__u64 wr_id;
	__u32 opcode;
	__u32 flags;
	__u64 dev_addr;
	__u64 sg_list;
	__u32 num_sge;
	__u32 rkey;
	__u32 dest;
	__u32 reserved0;
	__u64 reserved;
};

/**
 * struct fpgadma_post - FPGADMA_IOC_POST: queue a batch of WRs.
 * All or nothing: a malformed WR (EINVAL) or a batch that does not fit in
 * the completion ring (EAGAIN) posts none of them.  A WR that is well formed
 * but names a wrong key, a range outside its MR, a missing right or device
 * memory out of range is posted and completes with an error status without
 * moving data.
 * @wrs:	user pointer to count struct fpgadma_wr.
 * @count:	1..max_post.
 * @flags:	zero.
 * @reserved:	zero.
 */
struct fpgadma_post {
	__u64 wrs;
	__u32 count;
	__u32 flags;
	__u64 reserved[2];
};

/* CQE status. */
enum fpgadma_wc_status {
	FPGADMA_WC_SUCCESS		= 0,
	FPGADMA_WC_LOC_LEN_ERR		= 1, /* piece outside its MR */
	FPGADMA_WC_LOC_PROT_ERR		= 2, /* no MR with that lkey */
	FPGADMA_WC_LOC_ACCESS_ERR	= 3, /* MR lacks the right */
	FPGADMA_WC_REM_ACCESS_ERR	= 4, /* device range out of bounds, or no stream */
	FPGADMA_WC_FLUSH_ERR		= 5, /* context closing */
	FPGADMA_WC_GENERAL_ERR		= 6, /* engine failure */
	FPGADMA_WC_RNR_ERR		= 7, /* SEND: destination had no RECV posted */
	FPGADMA_WC_REM_INV_REQ_ERR	= 8, /* SEND: no such endpoint, or longer than its RECV */
};

/**
 * struct fpgadma_cqe - one completion.
 * @wr_id:	the WR's wr_id.
 * @status:	enum fpgadma_wc_status.
 * @opcode:	the WR's opcode.
 * @byte_len:	bytes moved (0 on error).
 * @vendor_err:	engine-specific detail, 0 if none.
 * @src_ep:	RECV: the ep_id of the sending endpoint; else 0.
 */
struct fpgadma_cqe {
	__u64 wr_id;
	__u32 status;
	__u32 opcode;
	__u64 byte_len;
	__u32 vendor_err;
	__u32 src_ep;
};

/* Kinds of monitor events (struct fpgadma_mon_event). */
enum fpgadma_mon_kind {
	FPGADMA_MON_INVALID	= 1, /* a monitored MR became invalid */
	FPGADMA_MON_OVERFLOW	= 2, /* events were lost: check every MR's word */
};

/* What changed the address space under an MR (struct fpgadma_mon_event). */
enum fpgadma_mon_cause {
	FPGADMA_MON_CAUSE_UNMAP		= 1, /* munmap, mremap, brk, MAP_FIXED over it */
	FPGADMA_MON_CAUSE_CLEAR		= 2, /* MADV_DONTNEED/FREE, a huge page split, ... */
	FPGADMA_MON_CAUSE_EXIT		= 3, /* the address space is going away */
	FPGADMA_MON_CAUSE_OTHER		= 4, /* migration, device exclusive access */
};

/**
 * struct fpgadma_mon_event - what read() on the file returns: whole events,
 * oldest first, as many as fit (EINVAL if not even one does); with none
 * pending it sleeps, or fails with EAGAIN under O_NONBLOCK.  The queue
 * holds a few hundred; past that one FPGADMA_MON_OVERFLOW event stands for
 * the lost ones (the words in the monitor area are never lost).
 * @kind:	enum fpgadma_mon_kind.
 * @cause:	INVALID: enum fpgadma_mon_cause; else 0.
 * @lkey:	INVALID: the MR's lkey; else 0.
 * @mon_slot:	INVALID: its word in the monitor area.
 * @mon_gen:	INVALID: the value the word had while the MR was valid.
 * @reserved:	zero.
 * @addr:	INVALID: the first byte of the MR the change covered.
 * @length:	INVALID: bytes of the MR from @addr the change covered.
 */
struct fpgadma_mon_event {
	__u32 kind;
	__u32 cause;
	__u32 lkey;
	__u32 mon_slot;
	__u32 mon_gen;
	__u32 reserved;
	__u64 addr;
	__u64 length;
};

/* Ring flags (at ring_flags_off). */
#define FPGADMA_RING_OVERFLOW	(1U << 0) /* a CQE was lost: head was not honoured */

/*
 * The frame stream: an endless byte sequence of frames of frame_size bytes
 * (a multiple of 8).  Frame n holds 64-bit little-endian words; word 0 is n,
 * word j > 0 is fpgadma_stream_word(n, j).  A READ_STREAM of len bytes
 * delivers the next len bytes, so consecutive reads see consecutive frames.
 */
static inline __u64 fpgadma_stream_word(__u64 frame, __u64 j)
{
	if (j == 0)
		return frame;
	return (frame * 0x9E3779B97F4A7C15ULL) ^ (j * 0xBF58476D1CE4E5B9ULL);
}

#define FPGADMA_IOC_MAGIC	0xFD

#define FPGADMA_IOC_QUERY	_IOR(FPGADMA_IOC_MAGIC, 0x00, struct fpgadma_query)
#define FPGADMA_IOC_REG_MR	_IOWR(FPGADMA_IOC_MAGIC, 0x01, struct fpgadma_reg_mr)
#define FPGADMA_IOC_DEREG_MR	_IOW(FPGADMA_IOC_MAGIC, 0x02, struct fpgadma_dereg_mr)
#define FPGADMA_IOC_POST	_IOW(FPGADMA_IOC_MAGIC, 0x03, struct fpgadma_post)
#define FPGADMA_IOC_BIND_EP	_IOW(FPGADMA_IOC_MAGIC, 0x04, struct fpgadma_bind_ep)

#endif /* _UAPI_FPGADMA_ABI_H */
