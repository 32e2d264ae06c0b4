// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: small messages through the module's local message
 * channels (fpgadma_chan_map(3)), without a system call.
 *
 * Each domain maps its inbox; to send to another domain of the device it
 * maps its own slot of that domain's inbox (once, at the first message)
 * and writes whole messages there, header and payload as a SEND would
 * carry them (the payload straight from the application's iov), each a
 * record of a ring.  The receiver's progress copies each record's header
 * out once, checks it, and hands the message to peer.c, which puts
 * messages in their turn whichever way they came: a message goes through
 * a channel or through the kernel, the sequence numbers of wire.h order
 * them.  An eager payload in one piece is copied once, from the ring into
 * its receive (take_record); anything else is copied out whole first.
 *
 * The format of a slot (FPGADMA_CHAN_SLOT_SIZE bytes, the module's header
 * first):
 *
 *   0     struct fpgadma_chan_slot_hdr (the module's: dead)
 *   64    prod   units written, by the sender
 *   128   cons   units taken, by the receiver
 *   192   sleep  1: the receiver may sleep on its file, by the receiver
 *   196   seen   1: the receiver reads the slot (sleep is valid), by the
 *                receiver; 0 again if it stops reading it
 *   256   the ring: CHAN_NUNITS units of CHAN_UNIT bytes.  A record starts
 *         at a unit: a 32-bit length, 32 bits of zero, the message; it
 *         takes whole units, (8 + length) rounded up, and its bytes go
 *         on past the ring's end at its start.
 *
 * The sender writes a record, then prod (release); the receiver reads
 * prod (acquire), copies the record out, then writes cons.  Each side keeps
 * its own count and only checks the other's: a sender that writes
 * nonsense into its slot gets its slot ignored, and hurts nobody else.
 *
 * Ordering with the kernel's work.  The engine runs a domain's WRs in
 * order; a message handed over while an RMA is still in the kernel could
 * overtake it.  So a message goes through a channel only while the
 * domain has no sending WR in flight and nothing waiting to be posted
 * (fpgadma_chan_usable).  Its send completes in the next progress call,
 * as if its SEND's CQE had come.
 *
 * Sleeping.  A receiver about to sleep on its file (fi_cq_sread, fi_wait,
 * fi_trywait, a counter's wait: whatever asks fpgadma_dp_timeout_ms or
 * fpgadma_dp_slice_ms how long it may sleep) sets sleep in its slots
 * first and then looks at them once more; a sender that sees sleep set
 * sends through the kernel, whose completion wakes the receiver.  A sender
 * that wrote an entry and then sees sleep set sends a NOP through the
 * kernel after it: one of the two looks sees the other's store (both are
 * sequentially consistent), so no message waits for a sleeper.  A slot
 * the receiver has not yet found (it finds new ones in progress) has no
 * sleep to look at: until the receiver sets seen, after sleep, messages go
 * through the kernel, and the first of them makes it look.  The
 * provider cannot tell when an application that blocked on the fd after
 * fi_trywait, or another thread, is done sleeping, so sleep stays set for
 * the domain's life: a domain that waits gets its messages through the
 * kernel, as before channels; one that polls gets them through its
 * channels.  An EQ's sleeper waits for connection messages only, which
 * never take a channel (peer.c), so it leaves sleep alone.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CHAN_PROD_OFF	64
#define CHAN_CONS_OFF	128
#define CHAN_SLEEP_OFF	192
#define CHAN_SEEN_OFF	196
#define CHAN_RING_OFF	256
#define CHAN_UNIT	256
#define CHAN_NUNITS	((FPGADMA_CHAN_SLOT_SIZE - CHAN_RING_OFF) / CHAN_UNIT)
#define CHAN_RING_SIZE	(CHAN_NUNITS * CHAN_UNIT)
#define CHAN_REC_HDR	8
#define CHAN_MSG_MAX	(CHAN_RING_SIZE - CHAN_REC_HDR)

/* A new mapping to a peer that had no inbox is tried again after this. */
#define CHAN_RETRY_NS	1000000000ULL

static _Atomic uint32_t *slot_word(void *slot, size_t off)
{
	return (_Atomic uint32_t *)(void *)((char *)slot + off);
}

/* Units a record of a len-byte message takes. */
static uint32_t rec_units(size_t len)
{
	return (uint32_t)((CHAN_REC_HDR + len + CHAN_UNIT - 1) / CHAN_UNIT);
}

/* Copy len bytes into the ring at byte off of it, going on at its start. */
static void ring_put(void *slot, size_t off, const void *src, size_t len)
{
	char *ring = (char *)slot + CHAN_RING_OFF;
	size_t first;

	off %= CHAN_RING_SIZE;
	first = CHAN_RING_SIZE - off < len ? CHAN_RING_SIZE - off : len;
	memcpy(ring + off, src, first);
	memcpy(ring, (const char *)src + first, len - first);
}

static void ring_get(void *dst, const void *slot, size_t off, size_t len)
{
	const char *ring = (const char *)slot + CHAN_RING_OFF;
	size_t first;

	off %= CHAN_RING_SIZE;
	first = CHAN_RING_SIZE - off < len ? CHAN_RING_SIZE - off : len;
	memcpy(dst, ring + off, first);
	memcpy((char *)dst + first, ring, len - first);
}

static void *inbox_slot(struct fpgadma_dp *dp, uint32_t i)
{
	return (char *)dp->inbox + FPGADMA_CHAN_TABLE_SIZE +
	       (size_t)i * FPGADMA_CHAN_SLOT_SIZE;
}

void fpgadma_chan_init(struct fpgadma_dp *dp)
{
	void *inbox;
	int ret;

	if (!fpgadma_params.chan || !dp->host_ep ||
	    !(dp->attr.caps & FPGADMA_CAP_CHAN))
		return;
	dp->chan_buf = malloc(CHAN_MSG_MAX);
	if (!dp->chan_buf)
		return;
	ret = fpgadma_chan_inbox(dp->ctx, &inbox);
	if (ret) {
		FPGADMA_WARN(FI_LOG_DOMAIN,
			     "no inbox (%s): messages go through the kernel\n",
			     fpgadma_strerror(ret));
		return;
	}
	dp->inbox = inbox;
}

bool fpgadma_chan_usable(struct fpgadma_dp *dp)
{
	return dp->inbox && !dp->tx_posted && dl_empty(&dp->postq);
}

void fpgadma_chan_out_fini(struct fpgadma_dp *dp, struct fpgadma_chan_out *co)
{
	if (co->slot)
		fpgadma_chan_unmap(dp->ctx, co->slot);
	co->slot = NULL;
}

/* Our slot in ep_id's inbox, mapped now if need be; NULL: none. */
static void *chan_out_slot(struct fpgadma_dp *dp, struct fpgadma_chan_out *co,
			   uint32_t ep_id)
{
	const struct fpgadma_chan_slot_hdr *h;
	uint64_t now;
	void *slot;
	int ret;

	if (co->slot) {
		h = co->slot;
		if (!__atomic_load_n(&h->dead, __ATOMIC_RELAXED))
			return co->slot;
		/* the domain that had the number has gone: ask who has it */
		fpgadma_chan_out_fini(dp, co);
		co->retry_at = 0;
	}
	now = co->retry_at ? fpgadma_now_ns() : 0;
	if (co->retry_at && now < co->retry_at)
		return NULL;
	ret = fpgadma_chan_map(dp->ctx, ep_id, &slot);
	if (ret) {
		/* no inbox there (or no slot left): the kernel carries it */
		FPGADMA_DBG(FI_LOG_EP_DATA, "no channel to %u: %s\n", ep_id,
			    ret == -ENOENT ? "it has no inbox" :
			    ret == -ENOSPC ? "its inbox has no free slot" :
			    fpgadma_strerror(ret));
		co->retry_at = (now ? now : fpgadma_now_ns()) + CHAN_RETRY_NS;
		return NULL;
	}
	co->slot = slot;
	co->prod = atomic_load_explicit(slot_word(slot, CHAN_PROD_OFF),
					memory_order_relaxed);
	co->retry_at = 0;
	return slot;
}

bool fpgadma_chan_send(struct fpgadma_dp *dp, struct fpgadma_chan_out *co,
		       uint32_t ep_id, const void *msg, size_t len,
		       const struct iovec *iov, size_t count, size_t paylen,
		       bool *kick)
{
	uint32_t cons, used, need;
	uint32_t head[2];
	size_t off, i;
	void *slot;

	*kick = false;
	if (len > CHAN_MSG_MAX || paylen > CHAN_MSG_MAX - len)
		return false;
	need = rec_units(len + paylen);
	head[0] = (uint32_t)(len + paylen);
	head[1] = 0;
	slot = chan_out_slot(dp, co, ep_id);
	if (!slot)
		return false;
	if (!atomic_load(slot_word(slot, CHAN_SEEN_OFF)) ||
	    atomic_load(slot_word(slot, CHAN_SLEEP_OFF)))
		return false;
	cons = atomic_load_explicit(slot_word(slot, CHAN_CONS_OFF),
				    memory_order_acquire);
	used = co->prod - cons;
	if (used > CHAN_NUNITS || CHAN_NUNITS - used < need)
		return false;		/* full (or the receiver wrote nonsense) */
	off = (size_t)(co->prod % CHAN_NUNITS) * CHAN_UNIT;
	ring_put(slot, off, head, sizeof(head));
	off += CHAN_REC_HDR;
	ring_put(slot, off, msg, len);
	off += len;
	/* the payload straight from the sender's buffers: one copy */
	for (i = 0; i < count; i++) {
		ring_put(slot, off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	co->prod += need;
	atomic_store(slot_word(slot, CHAN_PROD_OFF), co->prod);
	*kick = atomic_load(slot_word(slot, CHAN_SLEEP_OFF)) != 0;
	dp->n_chan_sent++;
	return true;
}

/*
 * Hand on the len-byte message at byte off of slot's ring.  The header is
 * copied out and everything is judged on the copy.  An eager message's
 * payload is only copied, never interpreted, so where it lies in one piece
 * it goes straight from the ring to its receive buffer (or the unexpected
 * queue): one copy, and a sender changing it meanwhile changes nothing but
 * its own message.  Anything else is copied out whole first.
 */
static void take_record(struct fpgadma_dp *dp, uint32_t src_ep,
			const void *slot, size_t off, size_t len)
{
	struct fpgadma_hdr *hdr = dp->chan_buf;
	size_t pay_off = (off + sizeof(*hdr)) % CHAN_RING_SIZE;

	ring_get(hdr, slot, off, sizeof(*hdr));
	if (hdr->type == FPGADMA_MSG_EAGER &&
	    pay_off + (len - sizeof(*hdr)) <= CHAN_RING_SIZE) {
		fpgadma_rx_msg(dp, src_ep, hdr, len,
			       (const char *)slot + CHAN_RING_OFF + pay_off);
		return;
	}
	ring_get(hdr + 1, slot, off + sizeof(*hdr), len - sizeof(*hdr));
	fpgadma_rx_msg(dp, src_ep, hdr, len, NULL);
}

/* The messages waiting in slot i, copied out one by one and handed on. */
static void drain_slot(struct fpgadma_dp *dp, uint32_t i)
{
	struct fpgadma_chan_in *ci = &dp->chan_in[i];
	void *slot = inbox_slot(dp, i);
	uint32_t prod, used, need, head[2];
	size_t off;

	if (ci->bad)
		return;
	prod = atomic_load_explicit(slot_word(slot, CHAN_PROD_OFF),
				    memory_order_acquire);
	while (ci->cons != prod) {
		used = prod - ci->cons;
		if (used > CHAN_NUNITS)
			goto bad;
		off = (size_t)(ci->cons % CHAN_NUNITS) * CHAN_UNIT;
		ring_get(head, slot, off, sizeof(head));
		need = rec_units(head[0]);
		if (head[0] < sizeof(struct fpgadma_hdr) ||
		    head[0] > CHAN_MSG_MAX || need > used)
			goto bad;
		take_record(dp, ci->src_ep, slot, off + CHAN_REC_HDR, head[0]);
		/* the record is read: the sender may write over it */
		ci->cons += need;
		atomic_store_explicit(slot_word(slot, CHAN_CONS_OFF), ci->cons,
				      memory_order_release);
		dp->n_chan_recv++;
	}
	return;
bad:
	FPGADMA_WARN(FI_LOG_EP_DATA,
		     "channel from %u: the record at unit %u is malformed (written up to %u): no longer read\n",
		     ci->src_ep, ci->cons, prod);
	ci->bad = true;
	atomic_store(slot_word(slot, CHAN_SEEN_OFF), 0);
}

void fpgadma_chan_drain(struct fpgadma_dp *dp)
{
	const struct fpgadma_chan_table *t = dp->inbox;
	uint32_t n, i;

	/* a message's handling does not drain again: dp->chan_buf holds it */
	if (!t || dp->chan_draining)
		return;
	dp->chan_draining = true;
	n = __atomic_load_n(&t->nslots, __ATOMIC_ACQUIRE);
	if (n > FPGADMA_CHAN_SLOTS)
		n = FPGADMA_CHAN_SLOTS;
	while (dp->chan_known < n) {
		struct fpgadma_chan_in *ci = &dp->chan_in[dp->chan_known];
		void *slot = inbox_slot(dp, dp->chan_known);

		ci->src_ep = __atomic_load_n(&t->slot[dp->chan_known].src_ep,
					     __ATOMIC_RELAXED);
		ci->cons = 0;
		ci->bad = !ci->src_ep || ci->src_ep > FPGADMA_EP_ID_MAX;
		dp->chan_known++;
		if (ci->bad)
			continue;
		/* sleep before seen: a sender that sees seen sees sleep */
		atomic_store(slot_word(slot, CHAN_SLEEP_OFF), dp->chan_sleepy);
		atomic_store(slot_word(slot, CHAN_SEEN_OFF), 1);
	}
	/* a quick look at each slot: most polls find nothing */
	for (i = 0; i < dp->chan_known; i++)
		if (!dp->chan_in[i].bad &&
		    atomic_load_explicit(slot_word(inbox_slot(dp, i),
						   CHAN_PROD_OFF),
					 memory_order_relaxed) !=
		    dp->chan_in[i].cons)
			drain_slot(dp, i);
	dp->chan_draining = false;
}

void fpgadma_chan_sleepy(struct fpgadma_dp *dp)
{
	uint32_t i;

	if (!dp->inbox || dp->chan_sleepy)
		return;
	dp->chan_sleepy = true;
	for (i = 0; i < dp->chan_known; i++)
		atomic_store(slot_word(inbox_slot(dp, i), CHAN_SLEEP_OFF), 1);
	/* the marks before the look at prod that follows (the handshake) */
	atomic_thread_fence(memory_order_seq_cst);
	FPGADMA_DBG(FI_LOG_EP_DATA,
		    "the domain waits on its file: messages to it go through the kernel\n");
}

void fpgadma_chan_stats_fill(const struct fpgadma_dp *dp,
			     struct fi_fpgadma_chan_stats *stats)
{
	stats->sent = dp->n_chan_sent;
	stats->received = dp->n_chan_recv;
	stats->wakeups = dp->n_chan_kicks;
	stats->inbox = dp->inbox != NULL;
	stats->sleepy = dp->chan_sleepy;
}
