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
 *
 * Atomics: on a device with FPGADMA_CAP_ATOMIC the engine also runs the
 * atomic operations of libfabric's fi_atomic(3) (ATOMIC on a peer MR by
 * rkey, ATOMIC_MEM on device memory): see "Atomic operations" below.
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
#define FPGADMA_CAP_STREAM	(1ULL << 3) /* FPGADMA_IOC_STREAM_*, the stream area */
#define FPGADMA_CAP_ATOMIC	(1ULL << 4) /* WRs ATOMIC and ATOMIC_MEM on integer types */
#define FPGADMA_CAP_ATOMIC_FP	(1ULL << 5) /* ... and on float, double and their complex types */
#define FPGADMA_CAP_MEM_MAP	(1ULL << 6) /* the device memory can be mapped: mem_mmap_off */
#define FPGADMA_CAP_CHAN	(1ULL << 7) /* local message channels: chan_mmap_off */

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
 * @max_sge:		most pieces in one WR (an atomic WR takes its 1 to 3
 *			pieces whatever it says).
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
 * @stream_mmap_off:	with FPGADMA_CAP_STREAM: the mmap offset of the
 *			stream area (map it read-write, MAP_SHARED): one
 *			struct fpgadma_stream_ctrl per page, @max_streams
 *			pages; else 0.
 * @stream_area_size:	its bytes (@max_streams pages).
 * @max_streams:	paced streams a context may run at once (0 without
 *			FPGADMA_CAP_STREAM).
 * @mem_mmap_off:	with FPGADMA_CAP_MEM_MAP: the mmap offset of the
 *			device memory (MAP_SHARED, read-write or read-only,
 *			not executable): device address A is at offset
 *			@mem_mmap_off + A, and a window of it may be mapped
 *			(its offset and length in pages, within
 *			@dev_mem_size).  The memory every context of the
 *			device reads and writes with READ_MEM and WRITE_MEM:
 *			a load or store through the mapping is ordered with
 *			WRs only by their completions (a WR's data is there
 *			once its CQE is; data stored before a POST is there
 *			for its WRs).  Not inherited by a fork child.  A
 *			mapping made before the device left stays valid.
 *			Else 0.
 * @chan_mmap_off:	with FPGADMA_CAP_CHAN: the mmap offset of the
 *			context's inbox and of its channels to other
 *			contexts of the device (see "Local message
 *			channels" below); else 0.
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
	__u64 stream_mmap_off;
	__u32 stream_area_size;
	__u32 max_streams;
	__u64 mem_mmap_off;
	__u64 chan_mmap_off;
	__u64 reserved[1];
};

/*
 * Local message channels (FPGADMA_CAP_CHAN): memory two contexts of a
 * device share, set up by the module, through which one hands the other
 * small messages with loads and stores, without a system call, as a
 * doorbell-less queue pair would.  The module only sets them up, tells
 * who is at the other end and says when that end has gone; what goes
 * through a channel and how is the users' (the provider's format is in
 * fi_fpgadma(7)).
 *
 * A context's inbox, at chan_mmap_off (MAP_SHARED, read-write, not
 * executable; at most FPGADMA_CHAN_INBOX_SIZE bytes), made at its first
 * mapping: a struct fpgadma_chan_table page, then FPGADMA_CHAN_SLOTS
 * slots of FPGADMA_CHAN_SLOT_SIZE bytes.  Slot i is at
 * FPGADMA_CHAN_TABLE_SIZE + i * FPGADMA_CHAN_SLOT_SIZE.
 *
 * A context's channel to endpoint X (1..FPGADMA_EP_ID_MAX) of the device
 * is its slot in X's inbox, at chan_mmap_off + X * FPGADMA_CHAN_WINDOW
 * (MAP_SHARED, read-write, not executable, at most
 * FPGADMA_CHAN_SLOT_SIZE bytes).  Its first mapping takes the next free
 * slot of X's inbox and writes the table's entry (the mapper's ep_id,
 * FPGADMA_CHAN_OPEN), then nslots; later mappings by the same context
 * give the same slot.  ENOENT: X has no inbox (no such endpoint, or it
 * never mapped one); ENOSPC: the inbox's slots are all taken (slots are
 * not reused while the inbox lives).  A context sees only its own slot
 * of another's inbox, so what it writes there reaches that context and
 * nobody else; the owner must check what it reads there, as any message.
 *
 * Endings, written by the module: when the owner of an inbox closes (or
 * BIND_EP gives it another number), the table's dead and every slot's
 * struct fpgadma_chan_slot_hdr dead become 1; the memory stays valid for
 * every mapping until it is unmapped.  When a context with a slot closes
 * (or rebinds), its table entry's state becomes FPGADMA_CHAN_GONE.  A
 * context that rebinds or whose inbox died maps anew.  Mappings are not
 * inherited by a fork child.
 */
#define FPGADMA_CHAN_SLOTS		32
#define FPGADMA_CHAN_SLOT_SIZE		16384
#define FPGADMA_CHAN_TABLE_SIZE		4096
#define FPGADMA_CHAN_INBOX_SIZE		(FPGADMA_CHAN_TABLE_SIZE + \
					 FPGADMA_CHAN_SLOTS * FPGADMA_CHAN_SLOT_SIZE)
#define FPGADMA_CHAN_WINDOW		(1ULL << 20)

/* fpgadma_chan_table.slot[].state */
#define FPGADMA_CHAN_OPEN		1 /* the context at src_ep holds the slot */
#define FPGADMA_CHAN_GONE		2 /* it closed or rebound: nothing more comes */

/*
 * The first page of an inbox, written by the module only.
 * @nslots:	slots handed out (entries 0..nslots-1 are valid; it is
 *		written after them).
 * @dead:	1 once the inbox's owner closed or rebound.
 * @slot:	per slot, who holds it and whether it still does.
 */
struct fpgadma_chan_table {
	__u32 nslots;
	__u32 dead;
	__u32 reserved[14];
	struct {
		__u32 src_ep;
		__u32 state;
	} slot[FPGADMA_CHAN_SLOTS];
};

/*
 * The first 64 bytes of a slot, written by the module only; the rest of
 * the slot is the users'.  @dead: 1 once the inbox's owner has gone.
 */
struct fpgadma_chan_slot_hdr {
	__u32 dead;
	__u32 reserved[15];
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
	/*
	 * Completion-only opcodes of paced streams (POST refuses them):
	 * STREAM_FRAMES reports frames written into the ring, STREAM_END
	 * that the stream stopped (struct fpgadma_stream_start).
	 */
	FPGADMA_WR_STREAM_FRAMES = 8,
	FPGADMA_WR_STREAM_END	= 9,
	/*
	 * atomic_op on count elements of atomic_type in the peer MR of rkey
	 * at remote address dev_addr; FPGADMA_CAP_ATOMIC ("Atomic
	 * operations" below)
	 */
	FPGADMA_WR_ATOMIC	= 10,
	/* the same on device memory at dev_addr; rkey must be 0 */
	FPGADMA_WR_ATOMIC_MEM	= 11,
};

/* WR flags. */
#define FPGADMA_WR_F_REMOTE_OFFSET (1U << 0) /* remote_addr is an offset into the peer MR, not a virtual address */
/*
 * ATOMIC, ATOMIC_MEM: fetch the target's values from before the operation
 * into the WR's last piece (the result), which needs LOCAL_WRITE.
 */
#define FPGADMA_WR_F_FETCH	(1U << 1)

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
 * @flags:	FPGADMA_WR_F_*: REMOTE_OFFSET for RDMA_READ, RDMA_WRITE and
 *		ATOMIC; FETCH for ATOMIC and ATOMIC_MEM; none for the rest.
 * @dev_addr:	device memory address (READ_MEM, WRITE_MEM, ATOMIC_MEM), or
 *		the remote address in the peer MR (RDMA_READ, RDMA_WRITE,
 *		ATOMIC); else zero.
 * @sg_list:	user pointer to num_sge struct fpgadma_sge.
 * @num_sge:	0..max_sge; an atomic WR exactly as many as its pieces.
 * @rkey:	the peer MR (RDMA_READ, RDMA_WRITE, ATOMIC); else zero.
 * @dest:	the destination endpoint's ep_id (SEND); else zero.
 * @atomic_op:	ATOMIC, ATOMIC_MEM: enum fpgadma_atomic_op; else zero.
 * @atomic_type: ATOMIC, ATOMIC_MEM: enum fpgadma_atomic_type; else zero.
 * @reserved:	zero.
 *
 * @atomic_op and @atomic_type were one reserved __u32 before atomics: a
 * WR of another opcode still gets EINVAL when either is not zero.
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
	__u16 atomic_op;
	__u16 atomic_type;
	__u64 reserved;
};

/*
 * Atomic operations (FPGADMA_CAP_ATOMIC): the operations and datatypes of
 * libfabric's fi_atomic(3), numbered as its enum fi_op and enum
 * fi_datatype, so that a provider passes them through unchanged.
 *
 * A WR ATOMIC (target: the peer MR of rkey at remote address dev_addr, an
 * offset into it with FPGADMA_WR_F_REMOTE_OFFSET, as RDMA) or ATOMIC_MEM
 * (target: device memory at dev_addr) applies atomic_op to count elements
 * of atomic_type, element i of the target with element i of each piece.
 * Its pieces, in this order, all in MRs of the posting context:
 *  - the operand ("buf"): every operation but ATOMIC_READ;
 *  - the compare values ("compare"; MSWAP: the mask): CSWAP, CSWAP_NE,
 *    CSWAP_LE, CSWAP_LT, CSWAP_GE, CSWAP_GT and MSWAP only;
 *  - the result, with FPGADMA_WR_F_FETCH (ATOMIC_READ requires it): it
 *    receives the target's elements as they were before the operation,
 *    also those a compare left unchanged; its MR needs LOCAL_WRITE.
 * num_sge is exactly the number of these pieces (1 to 3), and every piece
 * has the same length, count * fpgadma_atomic_type_size(atomic_type)
 * bytes, 1 to FPGADMA_ATOMIC_MAX_SIZE; pieces may be unaligned.
 *
 * POST refuses with EINVAL (posting nothing of the batch): an unknown
 * atomic_op or atomic_type, LONG_DOUBLE and LONG_DOUBLE_COMPLEX (never
 * accepted: a provider does not advertise them), an operation the type
 * does not have (fpgadma_atomic_op_valid()), ATOMIC_READ without FETCH,
 * num_sge other than the pieces above, pieces of different or bad
 * lengths, a flag the opcode does not take, rkey set on ATOMIC_MEM, dest
 * set; with EOPNOTSUPP an atomic WR whose fields are well formed (its
 * pieces' lengths are looked at later) on a device without
 * FPGADMA_CAP_ATOMIC, or on a float type without FPGADMA_CAP_ATOMIC_FP.
 *
 * A well-formed WR completes with an error status and changes nothing
 * when: a piece is bad (LOC_PROT_ERR, LOC_LEN_ERR, LOC_ACCESS_ERR as for
 * other WRs); the rkey is unknown, the range is not inside the peer MR or
 * the MR lacks a right (REM_ACCESS_ERR) - every operation but ATOMIC_READ
 * needs REMOTE_WRITE, FETCH needs REMOTE_READ (so a fetching operation
 * both); the device range is not inside device memory (REM_ACCESS_ERR);
 * the target is not aligned (REM_INV_REQ_ERR): its address (the peer MR's
 * start address plus the offset) must be a multiple of the element size,
 * of 8 for the complex types.  The checks are made in this order.  A
 * successful WR's CQE has byte_len count * size.
 *
 * Semantics, per element (t the target, o the operand, c the compare
 * value), as fi_atomic(3) writes them:
 *   MIN: if (o < t) t = o          MAX: if (o > t) t = o
 *   SUM: t = t + o                 PROD: t = t * o
 *   LOR: t = t || o   LAND: t = t && o   LXOR: t = (t && !o) || (!t && o)
 *   BOR: t = t | o   BAND: t = t & o   BXOR: t = t ^ o
 *   ATOMIC_READ: nothing (the result gets t)    ATOMIC_WRITE: t = o
 *   CSWAP: if (c == t) t = o       CSWAP_NE: if (c != t) t = o
 *   CSWAP_LE: if (c <= t) t = o    CSWAP_LT: if (c < t) t = o
 *   CSWAP_GE: if (c >= t) t = o    CSWAP_GT: if (c > t) t = o
 *   MSWAP: t = (o & c) | (t & ~c)
 * Integers wrap around (two's complement); signed types compare signed.
 * The logical operations give 1 or 0 in the type (complex: 1+0i or 0+0i;
 * a complex value is true unless both its parts are 0).  Floating point is
 * IEEE 754 arithmetic in the type's own precision, rounding to nearest,
 * without fused multiply-add; a complex product is (ac - bd) + (ad + bc)i
 * computed as written.  CSWAP and CSWAP_NE compare the elements' bits,
 * as a processor's compare-and-swap does (+0.0 and -0.0 differ, a NaN
 * equals the same NaN); CSWAP_LE..GT, MIN and MAX compare values (any
 * comparison with a NaN is false).
 *
 * Types and operations (fi_atomic(3)'s valid combinations):
 *   integers: every operation;
 *   FLOAT, DOUBLE: all but BOR, BAND, BXOR, MSWAP;
 *   FLOAT_COMPLEX, DOUBLE_COMPLEX: SUM, PROD, LOR, LAND, LXOR,
 *     ATOMIC_READ, ATOMIC_WRITE, CSWAP, CSWAP_NE.
 *
 * Atomicity: each element's read-modify-write is atomic against every
 * other atomic WR of the device, from any context and process; not
 * against the processor's own accesses, nor RDMA or SEND traffic, to the
 * same bytes.  The elements of one WR are not one atomic unit.
 *
 * Ordering: a device runs the WRs of a context in posting order, each one
 * done before the next starts, and completes them in that order: atomics
 * are ordered with each other and with RDMA_READ/RDMA_WRITE of the same
 * context (libfabric's FI_ORDER_ATOMIC_RAR, _RAW, _WAR and _WAW, and
 * FI_ORDER_RAR, _RAW, _WAR, _WAW with RMA).
 */
enum fpgadma_atomic_op {
	FPGADMA_ATOMIC_MIN	= 0,
	FPGADMA_ATOMIC_MAX	= 1,
	FPGADMA_ATOMIC_SUM	= 2,
	FPGADMA_ATOMIC_PROD	= 3,
	FPGADMA_ATOMIC_LOR	= 4,
	FPGADMA_ATOMIC_LAND	= 5,
	FPGADMA_ATOMIC_BOR	= 6,
	FPGADMA_ATOMIC_BAND	= 7,
	FPGADMA_ATOMIC_LXOR	= 8,
	FPGADMA_ATOMIC_BXOR	= 9,
	FPGADMA_ATOMIC_READ	= 10,
	FPGADMA_ATOMIC_WRITE	= 11,
	FPGADMA_ATOMIC_CSWAP	= 12,
	FPGADMA_ATOMIC_CSWAP_NE	= 13,
	FPGADMA_ATOMIC_CSWAP_LE	= 14,
	FPGADMA_ATOMIC_CSWAP_LT	= 15,
	FPGADMA_ATOMIC_CSWAP_GE	= 16,
	FPGADMA_ATOMIC_CSWAP_GT	= 17,
	FPGADMA_ATOMIC_MSWAP	= 18,
};
#define FPGADMA_ATOMIC_OP_COUNT	19

enum fpgadma_atomic_type {
	FPGADMA_TYPE_INT8		= 0,
	FPGADMA_TYPE_UINT8		= 1,
	FPGADMA_TYPE_INT16		= 2,
	FPGADMA_TYPE_UINT16		= 3,
	FPGADMA_TYPE_INT32		= 4,
	FPGADMA_TYPE_UINT32		= 5,
	FPGADMA_TYPE_INT64		= 6,
	FPGADMA_TYPE_UINT64		= 7,
	FPGADMA_TYPE_FLOAT		= 8,
	FPGADMA_TYPE_DOUBLE		= 9,
	FPGADMA_TYPE_FLOAT_COMPLEX	= 10, /* float real, float imaginary */
	FPGADMA_TYPE_DOUBLE_COMPLEX	= 11, /* double real, double imaginary */
	FPGADMA_TYPE_LONG_DOUBLE	= 12, /* refused: EINVAL */
	FPGADMA_TYPE_LONG_DOUBLE_COMPLEX = 13, /* refused: EINVAL */
};
#define FPGADMA_ATOMIC_TYPE_COUNT	14

/* The most bytes of target (count * element size) one atomic WR takes. */
#define FPGADMA_ATOMIC_MAX_SIZE	512

/*
 * The bytes of one element of atomic type @type; 0 for a type no device
 * accepts (LONG_DOUBLE, LONG_DOUBLE_COMPLEX, unknown).
 */
static inline __u32 fpgadma_atomic_type_size(__u32 type)
{
	switch (type) {
	case FPGADMA_TYPE_INT8:
	case FPGADMA_TYPE_UINT8:
		return 1;
	case FPGADMA_TYPE_INT16:
	case FPGADMA_TYPE_UINT16:
		return 2;
	case FPGADMA_TYPE_INT32:
	case FPGADMA_TYPE_UINT32:
	case FPGADMA_TYPE_FLOAT:
		return 4;
	case FPGADMA_TYPE_INT64:
	case FPGADMA_TYPE_UINT64:
	case FPGADMA_TYPE_DOUBLE:
	case FPGADMA_TYPE_FLOAT_COMPLEX:
		return 8;
	case FPGADMA_TYPE_DOUBLE_COMPLEX:
		return 16;
	default:
		return 0;
	}
}

/* The alignment an atomic target of @type needs (0 for an invalid type). */
static inline __u32 fpgadma_atomic_type_align(__u32 type)
{
	__u32 size = fpgadma_atomic_type_size(type);

	return size > 8 ? 8 : size;
}

/* Whether @type is a floating-point type (FPGADMA_CAP_ATOMIC_FP). */
static inline int fpgadma_atomic_type_is_fp(__u32 type)
{
	return type >= FPGADMA_TYPE_FLOAT && type <= FPGADMA_TYPE_DOUBLE_COMPLEX;
}

/* Whether @op takes compare values (a second piece). */
static inline int fpgadma_atomic_op_has_compare(__u32 op)
{
	return op >= FPGADMA_ATOMIC_CSWAP && op <= FPGADMA_ATOMIC_MSWAP;
}

/*
 * Whether atomic operation @op is defined on @type: the combinations of
 * fi_atomic(3) above; 0 also for an unknown op and for the types
 * fpgadma_atomic_type_size() says 0 of.
 */
static inline int fpgadma_atomic_op_valid(__u32 op, __u32 type)
{
	if (op >= FPGADMA_ATOMIC_OP_COUNT || !fpgadma_atomic_type_size(type))
		return 0;
	if (type <= FPGADMA_TYPE_UINT64)
		return 1;
	switch (op) {
	case FPGADMA_ATOMIC_BOR:
	case FPGADMA_ATOMIC_BAND:
	case FPGADMA_ATOMIC_BXOR:
	case FPGADMA_ATOMIC_MSWAP:
		return 0;
	case FPGADMA_ATOMIC_MIN:
	case FPGADMA_ATOMIC_MAX:
	case FPGADMA_ATOMIC_CSWAP_LE:
	case FPGADMA_ATOMIC_CSWAP_LT:
	case FPGADMA_ATOMIC_CSWAP_GE:
	case FPGADMA_ATOMIC_CSWAP_GT:
		return type == FPGADMA_TYPE_FLOAT || type == FPGADMA_TYPE_DOUBLE;
	default:
		return 1;
	}
}

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
	FPGADMA_WC_REM_INV_REQ_ERR	= 8, /* SEND: no such endpoint, or longer than its RECV;
					      * atomic: target misaligned */
};

/**
 * struct fpgadma_cqe - one completion.
 * @wr_id:	the WR's wr_id.
 * @status:	enum fpgadma_wc_status.
 * @opcode:	the WR's opcode.
 * @byte_len:	bytes moved (0 on error); an atomic: the target's bytes.
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

/*
 * Paced streams (FPGADMA_CAP_STREAM).  The device produces frames on its
 * own clock, one every frame_period_ns, into an on-board FIFO of
 * fifo_frames frames; from there it writes them, in order, into the slots
 * of a ring in a registered MR, and only into slots the process has
 * handed back.  A frame produced while the FIFO is full is dropped and
 * counted, and the next frame delivered says how many were lost before it
 * (lost_before): nothing is dropped silently, delivered twice or out of
 * order.
 *
 * The ring: nslots slots of slot_size bytes from ring_offset in the MR
 * (any offset and size, slot_size >= frame_size); frame index i (counting
 * delivered frames from 0) goes to slot i % nslots.  The control block of
 * the stream (struct fpgadma_stream_ctrl, at ctrl_off in the stream area)
 * has two free-running indices: write_idx, frames written (the kernel
 * stores it with release semantics once the frame is in memory), and
 * read_idx, frames the process has handed back (it stores it with release
 * semantics when it is done with the slots; the kernel never trusts it
 * beyond write_idx).  Slot of frame i is the process's while
 * read_idx <= i < write_idx.  No system call in the loop.
 *
 * Each frame starts with struct fpgadma_frame_hdr; the rest holds the
 * little-endian 64-bit words fpgadma_stream_word(seq, j) for word index j
 * counted from the frame's first byte (j >= FPGADMA_FRAME_HDR_SIZE / 8),
 * the last one cut short when frame_size is not a multiple of 8.
 *
 * Completions: every cqe_every frames a FPGADMA_WR_STREAM_FRAMES CQE
 * (wr_id: user_data; byte_len: the bytes of those frames; vendor_err:
 * how many frames; src_ep: the low 32 bits of write_idx after them).  A
 * full completion ring holds the frames back (in the FIFO), it loses
 * none.  When the stream stops, one FPGADMA_WR_STREAM_END CQE (vendor_err
 * enum fpgadma_stream_end; status SUCCESS after STREAM_STOP, FLUSH_ERR
 * when the MR's deregistration or the device's removal stopped it) and
 * nothing of it after.  Closing the context stops its streams.
 */
#define FPGADMA_FRAME_MAGIC	0x464d4446U	/* "FDMF" little-endian */
#define FPGADMA_FRAME_HDR_SIZE	48

/**
 * struct fpgadma_frame_hdr - the start of every frame of a paced stream.
 * @magic:		FPGADMA_FRAME_MAGIC.
 * @hdr_size:		FPGADMA_FRAME_HDR_SIZE.
 * @flags:		zero.
 * @frame_size:		bytes of the frame, this header included.
 * @stream_id:		the stream's id.
 * @seq:		the frame's number, counting dropped frames too.
 * @timestamp_ns:	when the device produced it (CLOCK_MONOTONIC, ns).
 * @lost_before:	frames dropped since the previous delivered one.
 * @reserved:		zero.
 */
struct fpgadma_frame_hdr {
	__u32 magic;
	__u16 hdr_size;
	__u16 flags;
	__u32 frame_size;
	__u32 stream_id;
	__u64 seq;
	__u64 timestamp_ns;
	__u64 lost_before;
	__u64 reserved;
};

/* Why a stream stopped (STREAM_END's vendor_err, the stats' end). */
enum fpgadma_stream_end {
	FPGADMA_STREAM_END_STOP	 = 1, /* FPGADMA_IOC_STREAM_STOP */
	FPGADMA_STREAM_END_DEREG = 2, /* its ring's MR was deregistered */
	FPGADMA_STREAM_END_CLOSE = 3, /* the context closed */
	FPGADMA_STREAM_END_GONE	 = 4, /* the device went away */
};

/* A stream's state (the control block's and the stats' state). */
enum fpgadma_stream_state {
	FPGADMA_STREAM_RUNNING	= 1,
	FPGADMA_STREAM_DRAINING	= 2, /* STREAM_STOP waits for the FIFO to empty */
	FPGADMA_STREAM_STOPPED	= 3,
};

/**
 * struct fpgadma_stream_ctrl - a stream's control block in the stream
 * area; each index on a cache line of its own.
 * @write_idx:	frames written into the ring (kernel; release).
 * @read_idx:	frames the process handed back (process; release).
 * @state:	enum fpgadma_stream_state (kernel).
 * @end:	enum fpgadma_stream_end once stopped, else 0 (kernel).
 * @drops:	frames dropped so far (kernel; informational).
 */
struct fpgadma_stream_ctrl {
	__u64 write_idx;
	__u64 pad0[7];
	__u64 read_idx;
	__u64 pad1[7];
	__u32 state;
	__u32 end;
	__u64 drops;
	__u64 reserved[6];
};

/**
 * struct fpgadma_stream_start - FPGADMA_IOC_STREAM_START.
 * @user_data:		in: wr_id of the stream's CQEs.
 * @ring_offset:	in: slot 0's offset in the MR (any alignment).
 * @ring_length:	in: bytes from there, inside the MR; at least
 *			nslots * slot_size.
 * @lkey:		in: the ring's MR, which needs FPGADMA_ACCESS_LOCAL_WRITE.
 * @flags:		in: zero.
 * @slot_size:		in: bytes from one slot's start to the next, at least
 *			frame_size.
 * @nslots:		in: slots, at least 1.
 * @frame_size:		in: bytes per frame, at least FPGADMA_FRAME_HDR_SIZE;
 *			0: the engine's default.
 * @fifo_frames:	in: the on-board FIFO's depth in frames; 0: default.
 * @frame_period_ns:	in: one frame every this many ns; 0: from @byte_rate,
 *			or the engine's default when that is 0 too.
 * @byte_rate:		in: bytes per second instead of a period (not both).
 * @cqe_every:		in: one STREAM_FRAMES CQE per this many frames; 0 is 1.
 * @stream_id:		out (in: zero): the stream's id, 1..max_streams.
 * @ctrl_off:		out (in: zero): its control block's offset in the
 *			stream area.
 * @reserved:		zero.
 *
 * The out fields also report the defaults chosen (frame_size,
 * fifo_frames, frame_period_ns are written back).
 */
struct fpgadma_stream_start {
	__u64 user_data;
	__u64 ring_offset;
	__u64 ring_length;
	__u32 lkey;
	__u32 flags;
	__u32 slot_size;
	__u32 nslots;
	__u32 frame_size;
	__u32 fifo_frames;
	__u64 frame_period_ns;
	__u64 byte_rate;
	__u32 cqe_every;
	__u32 stream_id;
	__u64 ctrl_off;
	__u64 reserved[4];
};

/**
 * struct fpgadma_stream_stats - a stream's counters.
 * @frames:		frames produced: delivered + dropped + in the FIFO.
 * @frames_delivered:	frames written into the ring.
 * @bytes_delivered:	their bytes.
 * @drops:		frames dropped because the FIFO was full (or left in
 *			it when the stream stopped).
 * @write_idx:		the kernel's write index.
 * @read_idx:		the read index as the kernel last read it.
 * @fifo_frames:	the FIFO's depth.
 * @fifo_level:		frames in the FIFO now.
 * @fifo_hwm:		the most frames it ever held.
 * @state:		enum fpgadma_stream_state.
 * @end:		enum fpgadma_stream_end, or 0 while it runs.
 * @reserved0:		zero.
 * @frame_period_ns:	the period it runs at.
 * @reserved:		zero.
 */
struct fpgadma_stream_stats {
	__u64 frames;
	__u64 frames_delivered;
	__u64 bytes_delivered;
	__u64 drops;
	__u64 write_idx;
	__u64 read_idx;
	__u32 fifo_frames;
	__u32 fifo_level;
	__u32 fifo_hwm;
	__u32 state;
	__u32 end;
	__u32 reserved0;
	__u64 frame_period_ns;
	__u64 reserved[2];
};

/**
 * struct fpgadma_stream_stop - FPGADMA_IOC_STREAM_STOP: stop a stream and
 * free its id.  After it returns the device writes nothing more of it.
 * @stream_id:	in: the stream.
 * @drain_ms:	in: first wait up to this long for the FIFO to empty into
 *		handed-back slots (producing nothing new); what is left then is
 *		dropped and counted.  0: stop at once.
 * @flags:	in: zero.
 * @reserved0:	zero.
 * @stats:	out (in: zero): the final counters.
 * @reserved:	zero.
 */
struct fpgadma_stream_stop {
	__u32 stream_id;
	__u32 drain_ms;
	__u32 flags;
	__u32 reserved0;
	struct fpgadma_stream_stats stats;
	__u64 reserved[2];
};

/**
 * struct fpgadma_stream_query - FPGADMA_IOC_STREAM_STATS.
 * @stream_id:	in: the stream (a stopped one too, until STREAM_STOP).
 * @flags:	in: zero.
 * @stats:	out (in: zero).
 * @reserved:	zero.
 */
struct fpgadma_stream_query {
	__u32 stream_id;
	__u32 flags;
	struct fpgadma_stream_stats stats;
	__u64 reserved[2];
};

#define FPGADMA_IOC_MAGIC	0xFD

#define FPGADMA_IOC_QUERY	_IOR(FPGADMA_IOC_MAGIC, 0x00, struct fpgadma_query)
#define FPGADMA_IOC_REG_MR	_IOWR(FPGADMA_IOC_MAGIC, 0x01, struct fpgadma_reg_mr)
#define FPGADMA_IOC_DEREG_MR	_IOW(FPGADMA_IOC_MAGIC, 0x02, struct fpgadma_dereg_mr)
#define FPGADMA_IOC_POST	_IOW(FPGADMA_IOC_MAGIC, 0x03, struct fpgadma_post)
#define FPGADMA_IOC_BIND_EP	_IOW(FPGADMA_IOC_MAGIC, 0x04, struct fpgadma_bind_ep)
#define FPGADMA_IOC_STREAM_START _IOWR(FPGADMA_IOC_MAGIC, 0x05, struct fpgadma_stream_start)
#define FPGADMA_IOC_STREAM_STOP	_IOWR(FPGADMA_IOC_MAGIC, 0x06, struct fpgadma_stream_stop)
#define FPGADMA_IOC_STREAM_STATS _IOWR(FPGADMA_IOC_MAGIC, 0x07, struct fpgadma_stream_query)

#endif /* _UAPI_FPGADMA_ABI_H */
