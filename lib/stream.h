/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The consumer side of a paced stream's ring (FPGADMA_CAP_STREAM), kept
 * apart from the rest of libfpgadma, as ring.h is, so that host tests can
 * drive it against a control block and a ring built in memory.
 *
 * The device is the only producer: it writes frame i into slot
 * i % nslots, then stores the control block's write_idx with release
 * semantics, and it writes a slot only once the process has handed it back
 * (write_idx - read_idx < nslots).  The process is the only consumer (the
 * caller serialises the calls on one stream): load write_idx with acquire,
 * read the frames, then store read_idx with release so the device never
 * overwrites a slot that is still being read.  Both indices are
 * free-running 64-bit counters, and write_idx - read_idx is the number of
 * frames waiting.
 *
 * read_idx is the process's own: this side keeps its copy (local_read) and
 * only publishes it, so that nothing the kernel does to the shared word
 * changes which frames the consumer believes it owns.
 *
 * The control block is plain __u64/__u32 words in memory shared with the
 * kernel, so the GCC/Clang __atomic builtins are used on them rather than
 * C11 _Atomic types.
 */
#ifndef FPGADMA_STREAM_H
#define FPGADMA_STREAM_H

#include <stdint.h>
#include <fpgadma-abi.h>

struct fpgadma_stream_ring {
	struct fpgadma_stream_ctrl *ctrl;	/* in the stream area */
	char *base;				/* slot 0 (MR address + ring_offset) */
	uint64_t slot_size;			/* bytes between slot starts */
	uint64_t nslots;			/* at least 1 */
	uint64_t local_read;			/* frames handed back (our copy) */
};

/*
 * Frames written and not yet handed back; *first (if first is not NULL)
 * gets the index of the oldest of them.  A write index more than nslots
 * ahead of the read index, which no correct kernel produces, reads as no
 * frame at all: the slots it would name may be under the device's writes.
 */
static inline uint64_t fpgadma_stream_ring_ready(const struct fpgadma_stream_ring *r,
						 uint64_t *first)
{
	uint64_t w = __atomic_load_n(&r->ctrl->write_idx, __ATOMIC_ACQUIRE);
	uint64_t n = w - r->local_read;

	if (first)
		*first = r->local_read;
	return n <= r->nslots ? n : 0;
}

/* The slot of frame index idx. */
static inline void *fpgadma_stream_ring_slot(const struct fpgadma_stream_ring *r,
					     uint64_t idx)
{
	return r->base + (idx % r->nslots) * r->slot_size;
}

/*
 * Hand the n oldest frames back to the device: a release store of the new
 * read index, after every load from their slots.  n is cut to the frames
 * written (handing back a frame not yet written would let the device's
 * next one land in a slot the consumer takes for free); returns what was
 * handed back.
 */
static inline uint64_t fpgadma_stream_ring_release(struct fpgadma_stream_ring *r,
						   uint64_t n)
{
	uint64_t w = __atomic_load_n(&r->ctrl->write_idx, __ATOMIC_RELAXED);
	uint64_t avail = w - r->local_read;

	if (avail > r->nslots)
		avail = 0;
	if (n > avail)
		n = avail;
	if (n) {
		r->local_read += n;
		__atomic_store_n(&r->ctrl->read_idx, r->local_read, __ATOMIC_RELEASE);
	}
	return n;
}

/* The stream's state (enum fpgadma_stream_state) and, in *end if end is
 * not NULL, why it stopped (enum fpgadma_stream_end; 0 while it runs). */
static inline uint32_t fpgadma_stream_ring_state(const struct fpgadma_stream_ring *r,
						 uint32_t *end)
{
	uint32_t state = __atomic_load_n(&r->ctrl->state, __ATOMIC_ACQUIRE);

	if (end)
		*end = __atomic_load_n(&r->ctrl->end, __ATOMIC_ACQUIRE);
	return state;
}

#endif /* FPGADMA_STREAM_H */
