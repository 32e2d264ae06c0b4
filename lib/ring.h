/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The consumer side of the completion ring, kept apart from the rest of
 * libfpgadma so that host tests can drive it against a ring built in memory.
 *
 * The kernel is the only producer: it writes a CQE, then stores tail with
 * release semantics.  We are the only consumer (callers serialise us): load
 * tail with acquire, copy the CQEs out, then store head with release so the
 * kernel never reuses a slot we are still reading.  Both indices are
 * free-running 32-bit counters; the slot is index & (entries - 1), and
 * tail - head (modulo 2^32) is the number of CQEs waiting, which stays
 * correct across the wrap of the counters.
 *
 * The ring words are plain __u32 in memory shared with the kernel, so the
 * GCC/Clang __atomic builtins are used on them rather than C11 _Atomic types.
 */
#ifndef FPGADMA_RING_H
#define FPGADMA_RING_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <fpgadma-abi.h>

struct fpgadma_ring {
	uint32_t *head;				/* consumer index, we write */
	const uint32_t *tail;			/* producer index, kernel writes */
	uint32_t *flags;			/* FPGADMA_RING_* */
	const struct fpgadma_cqe *cqes;		/* entries slots */
	uint32_t entries;			/* a power of two */
};

/* CQEs waiting in the ring; a value above entries means a broken ring. */
static inline uint32_t fpgadma_ring_ready(const struct fpgadma_ring *r)
{
	uint32_t tail = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE);
	uint32_t head = __atomic_load_n(r->head, __ATOMIC_RELAXED);

	return tail - head;
}

/*
 * fpgadma_ring_consume() - take up to max CQEs from the ring into out.
 *
 * Returns the number taken (0 when the ring is empty); -EOVERFLOW once when
 * the kernel has flagged a lost CQE (the flag is cleared, the CQEs still in
 * the ring are left for the next call); -EIO when tail is more than entries
 * ahead of head, which no correct kernel produces.  The caller must hold the
 * context's consumer lock and pass max >= 0.
 */
static inline int fpgadma_ring_consume(struct fpgadma_ring *r,
				       struct fpgadma_cqe *out, int max)
{
	uint32_t head, tail, avail, n, i;

	if (__atomic_load_n(r->flags, __ATOMIC_RELAXED) & FPGADMA_RING_OVERFLOW) {
		/*
		 * An atomic read-modify-write, so a flag the kernel sets
		 * concurrently with other bits is not lost; only the bit we
		 * report is cleared.
		 */
		uint32_t old = __atomic_fetch_and(r->flags, ~FPGADMA_RING_OVERFLOW,
						  __ATOMIC_ACQ_REL);
		if (old & FPGADMA_RING_OVERFLOW)
			return -EOVERFLOW;
	}

	head = __atomic_load_n(r->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE);
	avail = tail - head;
	if (avail > r->entries)
		return -EIO;

	n = avail < (uint32_t)max ? avail : (uint32_t)max;
	for (i = 0; i < n; i++)
		memcpy(&out[i], &r->cqes[(head + i) & (r->entries - 1)],
		       sizeof(out[i]));

	if (n)
		__atomic_store_n(r->head, head + n, __ATOMIC_RELEASE);
	return (int)n;
}

#endif /* FPGADMA_RING_H */
