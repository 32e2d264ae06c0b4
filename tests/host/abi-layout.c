// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The ABI's layout, pinned down: the size of every struct, the offset of
 * every field, 8-byte alignment and no implicit padding (the fields' sizes
 * add up to the struct's), and the ioctl numbers' encoding.  A change to
 * include/uapi/fpgadma-abi.h that moves anything fails to compile here;
 * the same facts are printed and checked at run time for the record.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/ioctl.h>

#include <fpgadma.h>
#include "check.h"

#define FSIZE(type, field)	sizeof(((type *)0)->field)
#define AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " at " #off)

/* struct fpgadma_query */
AT(struct fpgadma_query, abi_version, 0);
AT(struct fpgadma_query, engine, 4);
AT(struct fpgadma_query, dev_index, 8);
AT(struct fpgadma_query, max_sge, 12);
AT(struct fpgadma_query, max_post, 16);
AT(struct fpgadma_query, max_seg_size, 20);
AT(struct fpgadma_query, cq_entries, 24);
AT(struct fpgadma_query, ring_size, 28);
AT(struct fpgadma_query, ring_head_off, 32);
AT(struct fpgadma_query, ring_tail_off, 36);
AT(struct fpgadma_query, ring_flags_off, 40);
AT(struct fpgadma_query, ring_cqes_off, 44);
AT(struct fpgadma_query, page_size, 48);
AT(struct fpgadma_query, ep_id, 52);
AT(struct fpgadma_query, dev_mem_size, 56);
AT(struct fpgadma_query, frame_size, 64);
AT(struct fpgadma_query, max_mr_size, 72);
AT(struct fpgadma_query, caps, 80);
AT(struct fpgadma_query, mon_mmap_off, 88);
AT(struct fpgadma_query, mon_size, 96);
AT(struct fpgadma_query, mon_slots, 100);
AT(struct fpgadma_query, stream_mmap_off, 104);
AT(struct fpgadma_query, stream_area_size, 112);
AT(struct fpgadma_query, max_streams, 116);
AT(struct fpgadma_query, mem_mmap_off, 120);
AT(struct fpgadma_query, chan_mmap_off, 128);
AT(struct fpgadma_query, reserved, 136);
_Static_assert(sizeof(struct fpgadma_query) == 144, "query size");
_Static_assert(FSIZE(struct fpgadma_query, reserved) == 8,
	       "chan_mmap_off took the first reserved word");

/* struct fpgadma_reg_mr */
AT(struct fpgadma_reg_mr, addr, 0);
AT(struct fpgadma_reg_mr, length, 8);
AT(struct fpgadma_reg_mr, access, 16);
AT(struct fpgadma_reg_mr, flags, 20);
AT(struct fpgadma_reg_mr, lkey, 24);
AT(struct fpgadma_reg_mr, rkey, 28);
AT(struct fpgadma_reg_mr, nsegs, 32);
AT(struct fpgadma_reg_mr, mon_slot, 36);
AT(struct fpgadma_reg_mr, mon_gen, 40);
AT(struct fpgadma_reg_mr, reserved0, 44);
AT(struct fpgadma_reg_mr, reserved, 48);
_Static_assert(sizeof(struct fpgadma_reg_mr) == 56, "reg_mr size");

/* struct fpgadma_bind_ep */
AT(struct fpgadma_bind_ep, ep_id, 0);
AT(struct fpgadma_bind_ep, flags, 4);
AT(struct fpgadma_bind_ep, reserved, 8);
_Static_assert(sizeof(struct fpgadma_bind_ep) == 32, "bind_ep size");

/* struct fpgadma_dereg_mr */
AT(struct fpgadma_dereg_mr, lkey, 0);
AT(struct fpgadma_dereg_mr, flags, 4);
AT(struct fpgadma_dereg_mr, reserved, 8);
_Static_assert(sizeof(struct fpgadma_dereg_mr) == 24, "dereg_mr size");

/* struct fpgadma_sge */
AT(struct fpgadma_sge, addr, 0);
AT(struct fpgadma_sge, length, 8);
AT(struct fpgadma_sge, lkey, 12);
_Static_assert(sizeof(struct fpgadma_sge) == 16, "sge size");

/* struct fpgadma_wr */
AT(struct fpgadma_wr, wr_id, 0);
AT(struct fpgadma_wr, opcode, 8);
AT(struct fpgadma_wr, flags, 12);
AT(struct fpgadma_wr, dev_addr, 16);
AT(struct fpgadma_wr, sg_list, 24);
AT(struct fpgadma_wr, num_sge, 32);
AT(struct fpgadma_wr, rkey, 36);
AT(struct fpgadma_wr, dest, 40);
AT(struct fpgadma_wr, atomic_op, 44);
AT(struct fpgadma_wr, atomic_type, 46);
AT(struct fpgadma_wr, reserved, 48);
_Static_assert(sizeof(struct fpgadma_wr) == 56, "wr size");
_Static_assert(FSIZE(struct fpgadma_wr, atomic_op) == 2 &&
	       FSIZE(struct fpgadma_wr, atomic_type) == 2,
	       "atomic_op and atomic_type share what was reserved0");

/*
 * The atomic operations and datatypes are libfabric's enum fi_op and enum
 * fi_datatype, value for value, so that a provider passes them through:
 * the numbers here, and libfabric's own where its headers are installed.
 */
_Static_assert(FPGADMA_ATOMIC_MIN == 0 && FPGADMA_ATOMIC_MAX == 1 &&
	       FPGADMA_ATOMIC_SUM == 2 && FPGADMA_ATOMIC_PROD == 3 &&
	       FPGADMA_ATOMIC_LOR == 4 && FPGADMA_ATOMIC_LAND == 5 &&
	       FPGADMA_ATOMIC_BOR == 6 && FPGADMA_ATOMIC_BAND == 7 &&
	       FPGADMA_ATOMIC_LXOR == 8 && FPGADMA_ATOMIC_BXOR == 9 &&
	       FPGADMA_ATOMIC_READ == 10 && FPGADMA_ATOMIC_WRITE == 11 &&
	       FPGADMA_ATOMIC_CSWAP == 12 && FPGADMA_ATOMIC_CSWAP_NE == 13 &&
	       FPGADMA_ATOMIC_CSWAP_LE == 14 && FPGADMA_ATOMIC_CSWAP_LT == 15 &&
	       FPGADMA_ATOMIC_CSWAP_GE == 16 && FPGADMA_ATOMIC_CSWAP_GT == 17 &&
	       FPGADMA_ATOMIC_MSWAP == 18 && FPGADMA_ATOMIC_OP_COUNT == 19,
	       "atomic ops");
_Static_assert(FPGADMA_TYPE_INT8 == 0 && FPGADMA_TYPE_UINT8 == 1 &&
	       FPGADMA_TYPE_INT16 == 2 && FPGADMA_TYPE_UINT16 == 3 &&
	       FPGADMA_TYPE_INT32 == 4 && FPGADMA_TYPE_UINT32 == 5 &&
	       FPGADMA_TYPE_INT64 == 6 && FPGADMA_TYPE_UINT64 == 7 &&
	       FPGADMA_TYPE_FLOAT == 8 && FPGADMA_TYPE_DOUBLE == 9 &&
	       FPGADMA_TYPE_FLOAT_COMPLEX == 10 && FPGADMA_TYPE_DOUBLE_COMPLEX == 11 &&
	       FPGADMA_TYPE_LONG_DOUBLE == 12 &&
	       FPGADMA_TYPE_LONG_DOUBLE_COMPLEX == 13 && FPGADMA_ATOMIC_TYPE_COUNT == 14,
	       "atomic types");
#if defined(__has_include)
#if __has_include(<rdma/fi_domain.h>)
#include <rdma/fi_domain.h>
/* different enums: compared as numbers */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(FPGADMA_ATOMIC_MIN, FI_MIN) && SAME(FPGADMA_ATOMIC_MAX, FI_MAX) &&
	       SAME(FPGADMA_ATOMIC_SUM, FI_SUM) && SAME(FPGADMA_ATOMIC_PROD, FI_PROD) &&
	       SAME(FPGADMA_ATOMIC_LOR, FI_LOR) && SAME(FPGADMA_ATOMIC_LAND, FI_LAND) &&
	       SAME(FPGADMA_ATOMIC_BOR, FI_BOR) && SAME(FPGADMA_ATOMIC_BAND, FI_BAND) &&
	       SAME(FPGADMA_ATOMIC_LXOR, FI_LXOR) && SAME(FPGADMA_ATOMIC_BXOR, FI_BXOR) &&
	       SAME(FPGADMA_ATOMIC_READ, FI_ATOMIC_READ) &&
	       SAME(FPGADMA_ATOMIC_WRITE, FI_ATOMIC_WRITE) &&
	       SAME(FPGADMA_ATOMIC_CSWAP, FI_CSWAP) && SAME(FPGADMA_ATOMIC_CSWAP_NE, FI_CSWAP_NE) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_LE, FI_CSWAP_LE) && SAME(FPGADMA_ATOMIC_CSWAP_LT, FI_CSWAP_LT) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_GE, FI_CSWAP_GE) && SAME(FPGADMA_ATOMIC_CSWAP_GT, FI_CSWAP_GT) &&
	       SAME(FPGADMA_ATOMIC_MSWAP, FI_MSWAP) && SAME(FPGADMA_ATOMIC_OP_COUNT, FI_ATOMIC_OP_LAST),
	       "atomic ops are libfabric's enum fi_op");
_Static_assert(SAME(FPGADMA_TYPE_INT8, FI_INT8) && SAME(FPGADMA_TYPE_UINT8, FI_UINT8) &&
	       SAME(FPGADMA_TYPE_INT16, FI_INT16) && SAME(FPGADMA_TYPE_UINT16, FI_UINT16) &&
	       SAME(FPGADMA_TYPE_INT32, FI_INT32) && SAME(FPGADMA_TYPE_UINT32, FI_UINT32) &&
	       SAME(FPGADMA_TYPE_INT64, FI_INT64) && SAME(FPGADMA_TYPE_UINT64, FI_UINT64) &&
	       SAME(FPGADMA_TYPE_FLOAT, FI_FLOAT) && SAME(FPGADMA_TYPE_DOUBLE, FI_DOUBLE) &&
	       SAME(FPGADMA_TYPE_FLOAT_COMPLEX, FI_FLOAT_COMPLEX) &&
	       SAME(FPGADMA_TYPE_DOUBLE_COMPLEX, FI_DOUBLE_COMPLEX) &&
	       SAME(FPGADMA_TYPE_LONG_DOUBLE, FI_LONG_DOUBLE) &&
	       SAME(FPGADMA_TYPE_LONG_DOUBLE_COMPLEX, FI_LONG_DOUBLE_COMPLEX) &&
	       SAME(FPGADMA_ATOMIC_TYPE_COUNT, FI_DATATYPE_LAST),
	       "atomic types are libfabric's enum fi_datatype");
#define FPGADMA_CHECKED_AGAINST_LIBFABRIC 1
#endif
#endif

/* struct fpgadma_post */
AT(struct fpgadma_post, wrs, 0);
AT(struct fpgadma_post, count, 8);
AT(struct fpgadma_post, flags, 12);
AT(struct fpgadma_post, reserved, 16);
_Static_assert(sizeof(struct fpgadma_post) == 32, "post size");

/* struct fpgadma_cqe */
AT(struct fpgadma_cqe, wr_id, 0);
AT(struct fpgadma_cqe, status, 8);
AT(struct fpgadma_cqe, opcode, 12);
AT(struct fpgadma_cqe, byte_len, 16);
AT(struct fpgadma_cqe, vendor_err, 24);
AT(struct fpgadma_cqe, src_ep, 28);
_Static_assert(sizeof(struct fpgadma_cqe) == 32, "cqe size");

/* struct fpgadma_mon_event */
AT(struct fpgadma_mon_event, kind, 0);
AT(struct fpgadma_mon_event, cause, 4);
AT(struct fpgadma_mon_event, lkey, 8);
AT(struct fpgadma_mon_event, mon_slot, 12);
AT(struct fpgadma_mon_event, mon_gen, 16);
AT(struct fpgadma_mon_event, reserved, 20);
AT(struct fpgadma_mon_event, addr, 24);
AT(struct fpgadma_mon_event, length, 32);
_Static_assert(sizeof(struct fpgadma_mon_event) == 40, "mon_event size");

/* struct fpgadma_frame_hdr: the start of every frame of a paced stream */
AT(struct fpgadma_frame_hdr, magic, 0);
AT(struct fpgadma_frame_hdr, hdr_size, 4);
AT(struct fpgadma_frame_hdr, flags, 6);
AT(struct fpgadma_frame_hdr, frame_size, 8);
AT(struct fpgadma_frame_hdr, stream_id, 12);
AT(struct fpgadma_frame_hdr, seq, 16);
AT(struct fpgadma_frame_hdr, timestamp_ns, 24);
AT(struct fpgadma_frame_hdr, lost_before, 32);
AT(struct fpgadma_frame_hdr, reserved, 40);
_Static_assert(sizeof(struct fpgadma_frame_hdr) == 48, "frame_hdr size");
_Static_assert(sizeof(struct fpgadma_frame_hdr) == FPGADMA_FRAME_HDR_SIZE,
	       "FPGADMA_FRAME_HDR_SIZE");

/* struct fpgadma_stream_ctrl: each index on a 64-byte line of its own */
AT(struct fpgadma_stream_ctrl, write_idx, 0);
AT(struct fpgadma_stream_ctrl, pad0, 8);
AT(struct fpgadma_stream_ctrl, read_idx, 64);
AT(struct fpgadma_stream_ctrl, pad1, 72);
AT(struct fpgadma_stream_ctrl, state, 128);
AT(struct fpgadma_stream_ctrl, end, 132);
AT(struct fpgadma_stream_ctrl, drops, 136);
AT(struct fpgadma_stream_ctrl, reserved, 144);
_Static_assert(sizeof(struct fpgadma_stream_ctrl) == 192, "stream_ctrl size");
_Static_assert(sizeof(struct fpgadma_stream_ctrl) <= 4096, "stream_ctrl fits a page");

/* struct fpgadma_chan_table: the first page of an inbox */
AT(struct fpgadma_chan_table, nslots, 0);
AT(struct fpgadma_chan_table, dead, 4);
AT(struct fpgadma_chan_table, reserved, 8);
AT(struct fpgadma_chan_table, slot, 64);
AT(struct fpgadma_chan_table, slot[0].src_ep, 64);
AT(struct fpgadma_chan_table, slot[0].state, 68);
AT(struct fpgadma_chan_table, slot[1].src_ep, 72);
_Static_assert(FSIZE(struct fpgadma_chan_table, slot) == FPGADMA_CHAN_SLOTS * 8,
	       "chan_table slots");
_Static_assert(sizeof(struct fpgadma_chan_table) == 64 + FPGADMA_CHAN_SLOTS * 8,
	       "chan_table size");
_Static_assert(sizeof(struct fpgadma_chan_table) <= FPGADMA_CHAN_TABLE_SIZE,
	       "chan_table fits its page");

/* struct fpgadma_chan_slot_hdr: the first 64 bytes of a slot */
AT(struct fpgadma_chan_slot_hdr, dead, 0);
AT(struct fpgadma_chan_slot_hdr, reserved, 4);
_Static_assert(sizeof(struct fpgadma_chan_slot_hdr) == 64, "chan_slot_hdr size");

/* struct fpgadma_stream_start */
AT(struct fpgadma_stream_start, user_data, 0);
AT(struct fpgadma_stream_start, ring_offset, 8);
AT(struct fpgadma_stream_start, ring_length, 16);
AT(struct fpgadma_stream_start, lkey, 24);
AT(struct fpgadma_stream_start, flags, 28);
AT(struct fpgadma_stream_start, slot_size, 32);
AT(struct fpgadma_stream_start, nslots, 36);
AT(struct fpgadma_stream_start, frame_size, 40);
AT(struct fpgadma_stream_start, fifo_frames, 44);
AT(struct fpgadma_stream_start, frame_period_ns, 48);
AT(struct fpgadma_stream_start, byte_rate, 56);
AT(struct fpgadma_stream_start, cqe_every, 64);
AT(struct fpgadma_stream_start, stream_id, 68);
AT(struct fpgadma_stream_start, ctrl_off, 72);
AT(struct fpgadma_stream_start, reserved, 80);
_Static_assert(sizeof(struct fpgadma_stream_start) == 112, "stream_start size");

/* struct fpgadma_stream_stats */
AT(struct fpgadma_stream_stats, frames, 0);
AT(struct fpgadma_stream_stats, frames_delivered, 8);
AT(struct fpgadma_stream_stats, bytes_delivered, 16);
AT(struct fpgadma_stream_stats, drops, 24);
AT(struct fpgadma_stream_stats, write_idx, 32);
AT(struct fpgadma_stream_stats, read_idx, 40);
AT(struct fpgadma_stream_stats, fifo_frames, 48);
AT(struct fpgadma_stream_stats, fifo_level, 52);
AT(struct fpgadma_stream_stats, fifo_hwm, 56);
AT(struct fpgadma_stream_stats, state, 60);
AT(struct fpgadma_stream_stats, end, 64);
AT(struct fpgadma_stream_stats, reserved0, 68);
AT(struct fpgadma_stream_stats, frame_period_ns, 72);
AT(struct fpgadma_stream_stats, reserved, 80);
_Static_assert(sizeof(struct fpgadma_stream_stats) == 96, "stream_stats size");

/* struct fpgadma_stream_stop */
AT(struct fpgadma_stream_stop, stream_id, 0);
AT(struct fpgadma_stream_stop, drain_ms, 4);
AT(struct fpgadma_stream_stop, flags, 8);
AT(struct fpgadma_stream_stop, reserved0, 12);
AT(struct fpgadma_stream_stop, stats, 16);
AT(struct fpgadma_stream_stop, reserved, 112);
_Static_assert(sizeof(struct fpgadma_stream_stop) == 128, "stream_stop size");

/* struct fpgadma_stream_query */
AT(struct fpgadma_stream_query, stream_id, 0);
AT(struct fpgadma_stream_query, flags, 4);
AT(struct fpgadma_stream_query, stats, 8);
AT(struct fpgadma_stream_query, reserved, 104);
_Static_assert(sizeof(struct fpgadma_stream_query) == 120, "stream_query size");

/*
 * libfpgadma's own structs that callers allocate (include/fpgadma.h): their
 * layout is the library's binary interface.  max_streams took the one
 * reserved word of struct fpgadma_device_attr, at the same offset.
 */
AT(struct fpgadma_device_attr, abi_version, 0);
AT(struct fpgadma_device_attr, page_size, 28);
AT(struct fpgadma_device_attr, dev_mem_size, 32);
AT(struct fpgadma_device_attr, max_mr_size, 48);
AT(struct fpgadma_device_attr, ep_id, 56);
AT(struct fpgadma_device_attr, max_streams, 60);
AT(struct fpgadma_device_attr, caps, 64);
_Static_assert(sizeof(struct fpgadma_device_attr) == 72, "device_attr size");
AT(struct fpgadma_stream_attr, ring_offset, 0);
AT(struct fpgadma_stream_attr, ring_length, 8);
AT(struct fpgadma_stream_attr, slot_size, 16);
AT(struct fpgadma_stream_attr, nslots, 20);
AT(struct fpgadma_stream_attr, frame_size, 24);
AT(struct fpgadma_stream_attr, fifo_frames, 28);
AT(struct fpgadma_stream_attr, frame_period_ns, 32);
AT(struct fpgadma_stream_attr, byte_rate, 40);
AT(struct fpgadma_stream_attr, cqe_every, 48);
AT(struct fpgadma_stream_attr, flags, 52);
AT(struct fpgadma_stream_attr, user_data, 56);
_Static_assert(sizeof(struct fpgadma_stream_attr) == 64, "stream_attr size");

/*
 * Every struct a multiple of 8 bytes, with every 64-bit field at a multiple
 * of 8 (the offsets above), so that 32- and 64-bit user space see the same
 * layout.  The struct's own alignment is that of __u64: 8 on x86-64, 4 on
 * i386, where the ABI does not use __aligned_u64; the offsets still match.
 */
#define ALIGNED8(type) \
	_Static_assert(sizeof(type) % 8 == 0 && _Alignof(type) == _Alignof(__u64), \
		       #type " alignment")
#ifdef __LP64__
_Static_assert(_Alignof(__u64) == 8, "64-bit: structs are 8-byte aligned");
#endif
ALIGNED8(struct fpgadma_query);
ALIGNED8(struct fpgadma_reg_mr);
ALIGNED8(struct fpgadma_dereg_mr);
ALIGNED8(struct fpgadma_bind_ep);
ALIGNED8(struct fpgadma_sge);
ALIGNED8(struct fpgadma_wr);
ALIGNED8(struct fpgadma_post);
ALIGNED8(struct fpgadma_cqe);
ALIGNED8(struct fpgadma_mon_event);
ALIGNED8(struct fpgadma_frame_hdr);
ALIGNED8(struct fpgadma_stream_ctrl);
ALIGNED8(struct fpgadma_stream_start);
ALIGNED8(struct fpgadma_stream_stats);
ALIGNED8(struct fpgadma_stream_stop);
ALIGNED8(struct fpgadma_stream_query);
/* the channels' structs are all __u32: the same on every ABI */
_Static_assert(_Alignof(struct fpgadma_chan_table) == 4 &&
	       _Alignof(struct fpgadma_chan_slot_hdr) == 4, "chan structs alignment");

/* No implicit padding: the fields fill the struct. */
_Static_assert(18 * 4 + 8 * 8 + FSIZE(struct fpgadma_query, reserved) ==
	       sizeof(struct fpgadma_query), "query padding");
_Static_assert(2 * 8 + 8 * 4 + FSIZE(struct fpgadma_reg_mr, reserved) ==
	       sizeof(struct fpgadma_reg_mr), "reg_mr padding");
_Static_assert(2 * 4 + FSIZE(struct fpgadma_dereg_mr, reserved) ==
	       sizeof(struct fpgadma_dereg_mr), "dereg_mr padding");
_Static_assert(2 * 4 + FSIZE(struct fpgadma_bind_ep, reserved) ==
	       sizeof(struct fpgadma_bind_ep), "bind_ep padding");
_Static_assert(8 + 2 * 4 == sizeof(struct fpgadma_sge), "sge padding");
_Static_assert(3 * 8 + 5 * 4 + 2 * 2 + FSIZE(struct fpgadma_wr, reserved) ==
	       sizeof(struct fpgadma_wr), "wr padding");
_Static_assert(8 + 2 * 4 + FSIZE(struct fpgadma_post, reserved) ==
	       sizeof(struct fpgadma_post), "post padding");
_Static_assert(2 * 8 + 4 * 4 == sizeof(struct fpgadma_cqe), "cqe padding");
_Static_assert(2 * 8 + 6 * 4 == sizeof(struct fpgadma_mon_event), "mon_event padding");
_Static_assert(3 * 4 + 2 * 2 + 4 * 8 == sizeof(struct fpgadma_frame_hdr), "frame_hdr padding");
_Static_assert(3 * 8 + FSIZE(struct fpgadma_stream_ctrl, pad0) +
	       FSIZE(struct fpgadma_stream_ctrl, pad1) + 2 * 4 +
	       FSIZE(struct fpgadma_stream_ctrl, reserved) ==
	       sizeof(struct fpgadma_stream_ctrl), "stream_ctrl padding");
_Static_assert(6 * 8 + 8 * 4 + FSIZE(struct fpgadma_stream_start, reserved) ==
	       sizeof(struct fpgadma_stream_start), "stream_start padding");
_Static_assert(7 * 8 + 6 * 4 + FSIZE(struct fpgadma_stream_stats, reserved) ==
	       sizeof(struct fpgadma_stream_stats), "stream_stats padding");
_Static_assert(4 * 4 + sizeof(struct fpgadma_stream_stats) +
	       FSIZE(struct fpgadma_stream_stop, reserved) ==
	       sizeof(struct fpgadma_stream_stop), "stream_stop padding");
_Static_assert(2 * 4 + sizeof(struct fpgadma_stream_stats) +
	       FSIZE(struct fpgadma_stream_query, reserved) ==
	       sizeof(struct fpgadma_stream_query), "stream_query padding");

/* The ioctl numbers encode the struct size (a different build gets EINVAL). */
#define IOC(nr, dir, type) \
	_Static_assert(_IOC_TYPE(nr) == FPGADMA_IOC_MAGIC && _IOC_DIR(nr) == (dir) && \
		       _IOC_SIZE(nr) == sizeof(type), #nr " encoding")
IOC(FPGADMA_IOC_QUERY, _IOC_READ, struct fpgadma_query);
IOC(FPGADMA_IOC_REG_MR, _IOC_READ | _IOC_WRITE, struct fpgadma_reg_mr);
IOC(FPGADMA_IOC_DEREG_MR, _IOC_WRITE, struct fpgadma_dereg_mr);
IOC(FPGADMA_IOC_POST, _IOC_WRITE, struct fpgadma_post);
IOC(FPGADMA_IOC_BIND_EP, _IOC_WRITE, struct fpgadma_bind_ep);
IOC(FPGADMA_IOC_STREAM_START, _IOC_READ | _IOC_WRITE, struct fpgadma_stream_start);
IOC(FPGADMA_IOC_STREAM_STOP, _IOC_READ | _IOC_WRITE, struct fpgadma_stream_stop);
IOC(FPGADMA_IOC_STREAM_STATS, _IOC_READ | _IOC_WRITE, struct fpgadma_stream_query);

struct field {
	const char *name;
	size_t off, size;
};

#define F(type, field) { #field, offsetof(type, field), FSIZE(type, field) }

/* Runtime check: sorted by offset, fields abut, start at 0, end at size,
 * and each field is naturally aligned. */
static void check_struct(const char *name, size_t size, const struct field *f, int n)
{
	size_t at = 0;
	int i;

	printf("%-28s %3zu bytes:", name, size);
	for (i = 0; i < n; i++) {
		size_t natural = f[i].size >= 8 ? 8 : f[i].size;

		printf(" %s@%zu", f[i].name, f[i].off);
		if (f[i].off != at) {
			fprintf(stderr, "\n%s.%s at %zu, expected %zu (padding?)\n",
				name, f[i].name, f[i].off, at);
			check_failures++;
		}
		CHECK(f[i].off % natural == 0);
		at = f[i].off + f[i].size;
	}
	printf("\n");
	CHECK_EQ(at, size);
}

#define STRUCT(type, ...) do {						\
	const struct field fields_[] = { __VA_ARGS__ };			\
	check_struct(#type, sizeof(type), fields_,			\
		     (int)(sizeof(fields_) / sizeof(fields_[0])));	\
} while (0)

int main(void)
{
	STRUCT(struct fpgadma_query,
	       F(struct fpgadma_query, abi_version), F(struct fpgadma_query, engine),
	       F(struct fpgadma_query, dev_index), F(struct fpgadma_query, max_sge),
	       F(struct fpgadma_query, max_post), F(struct fpgadma_query, max_seg_size),
	       F(struct fpgadma_query, cq_entries), F(struct fpgadma_query, ring_size),
	       F(struct fpgadma_query, ring_head_off), F(struct fpgadma_query, ring_tail_off),
	       F(struct fpgadma_query, ring_flags_off), F(struct fpgadma_query, ring_cqes_off),
	       F(struct fpgadma_query, page_size), F(struct fpgadma_query, ep_id),
	       F(struct fpgadma_query, dev_mem_size), F(struct fpgadma_query, frame_size),
	       F(struct fpgadma_query, max_mr_size), F(struct fpgadma_query, caps),
	       F(struct fpgadma_query, mon_mmap_off), F(struct fpgadma_query, mon_size),
	       F(struct fpgadma_query, mon_slots), F(struct fpgadma_query, stream_mmap_off),
	       F(struct fpgadma_query, stream_area_size), F(struct fpgadma_query, max_streams),
	       F(struct fpgadma_query, mem_mmap_off), F(struct fpgadma_query, chan_mmap_off),
	       F(struct fpgadma_query, reserved));
	STRUCT(struct fpgadma_reg_mr,
	       F(struct fpgadma_reg_mr, addr), F(struct fpgadma_reg_mr, length),
	       F(struct fpgadma_reg_mr, access), F(struct fpgadma_reg_mr, flags),
	       F(struct fpgadma_reg_mr, lkey), F(struct fpgadma_reg_mr, rkey),
	       F(struct fpgadma_reg_mr, nsegs), F(struct fpgadma_reg_mr, mon_slot),
	       F(struct fpgadma_reg_mr, mon_gen), F(struct fpgadma_reg_mr, reserved0),
	       F(struct fpgadma_reg_mr, reserved));
	STRUCT(struct fpgadma_dereg_mr,
	       F(struct fpgadma_dereg_mr, lkey), F(struct fpgadma_dereg_mr, flags),
	       F(struct fpgadma_dereg_mr, reserved));
	STRUCT(struct fpgadma_bind_ep,
	       F(struct fpgadma_bind_ep, ep_id), F(struct fpgadma_bind_ep, flags),
	       F(struct fpgadma_bind_ep, reserved));
	STRUCT(struct fpgadma_sge,
	       F(struct fpgadma_sge, addr), F(struct fpgadma_sge, length),
	       F(struct fpgadma_sge, lkey));
	STRUCT(struct fpgadma_wr,
	       F(struct fpgadma_wr, wr_id), F(struct fpgadma_wr, opcode),
	       F(struct fpgadma_wr, flags), F(struct fpgadma_wr, dev_addr),
	       F(struct fpgadma_wr, sg_list), F(struct fpgadma_wr, num_sge),
	       F(struct fpgadma_wr, rkey), F(struct fpgadma_wr, dest),
	       F(struct fpgadma_wr, atomic_op), F(struct fpgadma_wr, atomic_type),
	       F(struct fpgadma_wr, reserved));
	STRUCT(struct fpgadma_post,
	       F(struct fpgadma_post, wrs), F(struct fpgadma_post, count),
	       F(struct fpgadma_post, flags), F(struct fpgadma_post, reserved));
	STRUCT(struct fpgadma_cqe,
	       F(struct fpgadma_cqe, wr_id), F(struct fpgadma_cqe, status),
	       F(struct fpgadma_cqe, opcode), F(struct fpgadma_cqe, byte_len),
	       F(struct fpgadma_cqe, vendor_err), F(struct fpgadma_cqe, src_ep));
	STRUCT(struct fpgadma_mon_event,
	       F(struct fpgadma_mon_event, kind), F(struct fpgadma_mon_event, cause),
	       F(struct fpgadma_mon_event, lkey), F(struct fpgadma_mon_event, mon_slot),
	       F(struct fpgadma_mon_event, mon_gen), F(struct fpgadma_mon_event, reserved),
	       F(struct fpgadma_mon_event, addr), F(struct fpgadma_mon_event, length));
	STRUCT(struct fpgadma_frame_hdr,
	       F(struct fpgadma_frame_hdr, magic), F(struct fpgadma_frame_hdr, hdr_size),
	       F(struct fpgadma_frame_hdr, flags), F(struct fpgadma_frame_hdr, frame_size),
	       F(struct fpgadma_frame_hdr, stream_id), F(struct fpgadma_frame_hdr, seq),
	       F(struct fpgadma_frame_hdr, timestamp_ns),
	       F(struct fpgadma_frame_hdr, lost_before), F(struct fpgadma_frame_hdr, reserved));
	STRUCT(struct fpgadma_stream_ctrl,
	       F(struct fpgadma_stream_ctrl, write_idx), F(struct fpgadma_stream_ctrl, pad0),
	       F(struct fpgadma_stream_ctrl, read_idx), F(struct fpgadma_stream_ctrl, pad1),
	       F(struct fpgadma_stream_ctrl, state), F(struct fpgadma_stream_ctrl, end),
	       F(struct fpgadma_stream_ctrl, drops), F(struct fpgadma_stream_ctrl, reserved));
	STRUCT(struct fpgadma_chan_table,
	       F(struct fpgadma_chan_table, nslots), F(struct fpgadma_chan_table, dead),
	       F(struct fpgadma_chan_table, reserved), F(struct fpgadma_chan_table, slot));
	/* struct fpgadma_chan_slot_hdr (dead, then 15 reserved words): asserted above */
	STRUCT(struct fpgadma_stream_start,
	       F(struct fpgadma_stream_start, user_data),
	       F(struct fpgadma_stream_start, ring_offset),
	       F(struct fpgadma_stream_start, ring_length), F(struct fpgadma_stream_start, lkey),
	       F(struct fpgadma_stream_start, flags), F(struct fpgadma_stream_start, slot_size),
	       F(struct fpgadma_stream_start, nslots), F(struct fpgadma_stream_start, frame_size),
	       F(struct fpgadma_stream_start, fifo_frames),
	       F(struct fpgadma_stream_start, frame_period_ns),
	       F(struct fpgadma_stream_start, byte_rate),
	       F(struct fpgadma_stream_start, cqe_every),
	       F(struct fpgadma_stream_start, stream_id), F(struct fpgadma_stream_start, ctrl_off),
	       F(struct fpgadma_stream_start, reserved));
	STRUCT(struct fpgadma_stream_stats,
	       F(struct fpgadma_stream_stats, frames),
	       F(struct fpgadma_stream_stats, frames_delivered),
	       F(struct fpgadma_stream_stats, bytes_delivered),
	       F(struct fpgadma_stream_stats, drops), F(struct fpgadma_stream_stats, write_idx),
	       F(struct fpgadma_stream_stats, read_idx),
	       F(struct fpgadma_stream_stats, fifo_frames),
	       F(struct fpgadma_stream_stats, fifo_level),
	       F(struct fpgadma_stream_stats, fifo_hwm), F(struct fpgadma_stream_stats, state),
	       F(struct fpgadma_stream_stats, end), F(struct fpgadma_stream_stats, reserved0),
	       F(struct fpgadma_stream_stats, frame_period_ns),
	       F(struct fpgadma_stream_stats, reserved));
	STRUCT(struct fpgadma_stream_stop,
	       F(struct fpgadma_stream_stop, stream_id), F(struct fpgadma_stream_stop, drain_ms),
	       F(struct fpgadma_stream_stop, flags), F(struct fpgadma_stream_stop, reserved0),
	       F(struct fpgadma_stream_stop, stats), F(struct fpgadma_stream_stop, reserved));
	STRUCT(struct fpgadma_stream_query,
	       F(struct fpgadma_stream_query, stream_id), F(struct fpgadma_stream_query, flags),
	       F(struct fpgadma_stream_query, stats), F(struct fpgadma_stream_query, reserved));

	printf("ioctls: QUERY %#lx REG_MR %#lx DEREG_MR %#lx POST %#lx BIND_EP %#lx\n",
	       (unsigned long)FPGADMA_IOC_QUERY, (unsigned long)FPGADMA_IOC_REG_MR,
	       (unsigned long)FPGADMA_IOC_DEREG_MR, (unsigned long)FPGADMA_IOC_POST,
	       (unsigned long)FPGADMA_IOC_BIND_EP);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_QUERY), 0);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_REG_MR), 1);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_DEREG_MR), 2);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_POST), 3);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_BIND_EP), 4);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_STREAM_START), 5);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_STREAM_STOP), 6);
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_STREAM_STATS), 7);
	printf("stream ioctls: START %#lx STOP %#lx STATS %#lx\n",
	       (unsigned long)FPGADMA_IOC_STREAM_START,
	       (unsigned long)FPGADMA_IOC_STREAM_STOP,
	       (unsigned long)FPGADMA_IOC_STREAM_STATS);
	CHECK_EQ(FPGADMA_CAP_HOST_EP, 1);
	CHECK_EQ(FPGADMA_CAP_BIND_EP, 2);
	CHECK_EQ(FPGADMA_CAP_MR_MONITOR, 4);
	CHECK_EQ(FPGADMA_CAP_STREAM, 8);
	CHECK_EQ(FPGADMA_CAP_ATOMIC, 16);
	CHECK_EQ(FPGADMA_CAP_ATOMIC_FP, 32);
	CHECK_EQ(FPGADMA_CAP_MEM_MAP, 64);
	CHECK_EQ(FPGADMA_CAP_CHAN, 128);
	CHECK_EQ(FPGADMA_WR_ATOMIC, 10);
	CHECK_EQ(FPGADMA_WR_ATOMIC_MEM, 11);
	CHECK_EQ(FPGADMA_WR_F_REMOTE_OFFSET, 1);
	CHECK_EQ(FPGADMA_WR_F_FETCH, 2);
	CHECK_EQ(FPGADMA_ATOMIC_MAX_SIZE, 512);
	CHECK_EQ(FPGADMA_WC_REM_INV_REQ_ERR, 8);
	{
		/* The element sizes, alignments and valid combinations. */
		static const unsigned int size[FPGADMA_ATOMIC_TYPE_COUNT + 2] = {
			1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 8, 16, 0, 0, 0, 0 };
		unsigned int op, type, valid = 0;

		for (type = 0; type < FPGADMA_ATOMIC_TYPE_COUNT + 2; type++) {
			CHECK_EQ(fpgadma_atomic_type_size(type), size[type]);
			CHECK_EQ(fpgadma_atomic_type_align(type),
				 size[type] > 8 ? 8 : size[type]);
			CHECK_EQ(fpgadma_atomic_type_is_fp(type),
				 type >= FPGADMA_TYPE_FLOAT && type <= FPGADMA_TYPE_DOUBLE_COMPLEX);
			for (op = 0; op < FPGADMA_ATOMIC_OP_COUNT + 2; op++)
				valid += !!fpgadma_atomic_op_valid(op, type);
		}
		/* integers: all 19; float, double: 15; the complex types: 9 */
		CHECK_EQ(valid, 8 * 19 + 2 * 15 + 2 * 9);
		CHECK(!fpgadma_atomic_op_valid(FPGADMA_ATOMIC_BOR, FPGADMA_TYPE_FLOAT));
		CHECK(!fpgadma_atomic_op_valid(FPGADMA_ATOMIC_MIN, FPGADMA_TYPE_FLOAT_COMPLEX));
		CHECK(!fpgadma_atomic_op_valid(FPGADMA_ATOMIC_CSWAP_LT,
					       FPGADMA_TYPE_DOUBLE_COMPLEX));
		CHECK(fpgadma_atomic_op_valid(FPGADMA_ATOMIC_CSWAP_NE,
					      FPGADMA_TYPE_DOUBLE_COMPLEX));
		CHECK(fpgadma_atomic_op_valid(FPGADMA_ATOMIC_CSWAP_GT, FPGADMA_TYPE_DOUBLE));
		CHECK(fpgadma_atomic_op_valid(FPGADMA_ATOMIC_MSWAP, FPGADMA_TYPE_INT8));
		CHECK(!fpgadma_atomic_op_valid(FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_LONG_DOUBLE));
		for (op = 0; op < FPGADMA_ATOMIC_OP_COUNT; op++)
			CHECK_EQ(fpgadma_atomic_op_has_compare(op), op >= FPGADMA_ATOMIC_CSWAP);
#ifdef FPGADMA_CHECKED_AGAINST_LIBFABRIC
		printf("atomics: %u valid op x type combinations; numbering checked against "
		       "libfabric's enum fi_op and enum fi_datatype\n", valid);
#else
		printf("atomics: %u valid op x type combinations; libfabric's headers are not "
		       "installed: numbering checked against the numbers only\n", valid);
#endif
	}
	CHECK_EQ(FPGADMA_REG_MR_REQ_RKEY, 1);
	CHECK_EQ(FPGADMA_REG_MR_MONITOR, 2);
	CHECK_EQ(FPGADMA_MON_INVALID, 1);
	CHECK_EQ(FPGADMA_MON_OVERFLOW, 2);
	CHECK_EQ(FPGADMA_MON_CAUSE_UNMAP, 1);
	CHECK_EQ(FPGADMA_MON_CAUSE_CLEAR, 2);
	CHECK_EQ(FPGADMA_MON_CAUSE_EXIT, 3);
	CHECK_EQ(FPGADMA_MON_CAUSE_OTHER, 4);
	CHECK_EQ(FPGADMA_EP_ID_DYNAMIC_MIN, 49152);
	CHECK_EQ(FPGADMA_EP_ID_MAX, 65535);

	/* local message channels: an inbox is a table page and 32 slots */
	CHECK_EQ(FPGADMA_CHAN_SLOTS, 32);
	CHECK_EQ(FPGADMA_CHAN_SLOT_SIZE, 16384);
	CHECK_EQ(FPGADMA_CHAN_TABLE_SIZE, 4096);
	CHECK_EQ(FPGADMA_CHAN_INBOX_SIZE, 4096 + 32 * 16384);
	CHECK_EQ(FPGADMA_CHAN_WINDOW, 1ULL << 20);
	CHECK(FPGADMA_CHAN_INBOX_SIZE <= FPGADMA_CHAN_WINDOW);
	/* the windows of ep_ids 0..65535 span 64 GiB of offsets */
	CHECK((FPGADMA_EP_ID_MAX + 1ULL) * FPGADMA_CHAN_WINDOW == 1ULL << 36);
	CHECK_EQ(FPGADMA_CHAN_OPEN, 1);
	CHECK_EQ(FPGADMA_CHAN_GONE, 2);
	printf("channels: inbox %llu bytes (table %d, %d slots of %d), a window of %llu "
	       "bytes per ep_id\n", (unsigned long long)FPGADMA_CHAN_INBOX_SIZE,
	       FPGADMA_CHAN_TABLE_SIZE, FPGADMA_CHAN_SLOTS, FPGADMA_CHAN_SLOT_SIZE,
	       (unsigned long long)FPGADMA_CHAN_WINDOW);

	/* values that are part of the ABI */
	CHECK_EQ(FPGADMA_ABI_VERSION, 1);
	CHECK_EQ(FPGADMA_ACCESS_LOCAL_WRITE, 1);
	CHECK_EQ(FPGADMA_ACCESS_REMOTE_WRITE, 2);
	CHECK_EQ(FPGADMA_ACCESS_REMOTE_READ, 4);
	CHECK_EQ(FPGADMA_ACCESS_ALL, 7);
	CHECK_EQ(FPGADMA_ENGINE_SOFT, 1);
	CHECK_EQ(FPGADMA_WR_READ_MEM, 1);
	CHECK_EQ(FPGADMA_WR_WRITE_MEM, 2);
	CHECK_EQ(FPGADMA_WR_READ_STREAM, 3);
	CHECK_EQ(FPGADMA_WR_STREAM_FRAMES, 8);
	CHECK_EQ(FPGADMA_WR_STREAM_END, 9);
	CHECK_EQ(FPGADMA_WC_SUCCESS, 0);
	CHECK_EQ(FPGADMA_WC_GENERAL_ERR, 6);
	CHECK_EQ(FPGADMA_RING_OVERFLOW, 1);

	/* paced streams */
	CHECK_EQ(FPGADMA_FRAME_HDR_SIZE, 48);
	CHECK_EQ(FPGADMA_FRAME_MAGIC, 0x464d4446);
	{
		/* "FDMF" in memory on a little-endian machine */
		const uint32_t magic = FPGADMA_FRAME_MAGIC;
		const unsigned char le[4] = { 'F', 'D', 'M', 'F' };
		uint32_t v = (uint32_t)le[0] | (uint32_t)le[1] << 8 |
			     (uint32_t)le[2] << 16 | (uint32_t)le[3] << 24;

		CHECK_EQ(magic, v);
	}
	CHECK_EQ(FPGADMA_STREAM_END_STOP, 1);
	CHECK_EQ(FPGADMA_STREAM_END_DEREG, 2);
	CHECK_EQ(FPGADMA_STREAM_END_CLOSE, 3);
	CHECK_EQ(FPGADMA_STREAM_END_GONE, 4);
	CHECK_EQ(FPGADMA_STREAM_RUNNING, 1);
	CHECK_EQ(FPGADMA_STREAM_DRAINING, 2);
	CHECK_EQ(FPGADMA_STREAM_STOPPED, 3);

	/* the stream pattern both sides compute */
	CHECK(fpgadma_stream_word(0, 0) == 0);
	CHECK(fpgadma_stream_word(12345, 0) == 12345);
	CHECK(fpgadma_stream_word(1, 1) == (0x9E3779B97F4A7C15ULL ^ 0xBF58476D1CE4E5B9ULL));
	CHECK(fpgadma_stream_word(0, 1) == 0xBF58476D1CE4E5B9ULL);
	CHECK(fpgadma_stream_word(2, 3) ==
	      ((2 * 0x9E3779B97F4A7C15ULL) ^ (3 * 0xBF58476D1CE4E5B9ULL)));

	return test_exit("abi-layout");
}
