/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fpgadma provider: the wire format, what crosses between two domains.
 *
 * The wire protocol between two domains (kernel endpoints) of a device:
 * every message is one kernel SEND of a provider header followed by a
 * payload, into one of the receive buffers the destination domain keeps
 * posted.  See struct fpgadma_hdr for the message types.
 *
 * Ordering.  The kernel delivers a SEND into the destination's oldest RECV
 * or, when it has none, fails it with RNR and moves nothing; a resend can
 * then overtake SENDs posted after it.  So every message carries a sequence
 * number per (sending domain, receiving domain) pair and the receiver puts
 * messages back in order before it looks at them: messages that arrive
 * early are copied aside ("stashed") and their receive buffer is reposted
 * at once.  A SEND that fails for good is resent as a NOP with the same
 * sequence number, so the receiver never waits for a number that will not
 * come.
 *
 * Where a stream starts: a kernel ep_id can be reused by a new domain, and
 * a sender keeps numbering per ep_id, so a receiver cannot assume 0.  Each
 * header carries low, the lowest number the sender had not yet seen
 * delivered (its SEND completed) when it wrote the header.  The first
 * message a receiver takes from a sender (a new ep_id, or a new gen: the
 * sending domain's random generation) is the first delivered to it; every
 * number below its low went to someone else (or it would have come
 * first), every number from low up is still on its way.  So the receiver
 * expects low next.
 *
 * peer.c numbers, resends and reorders; match.c and rdv.c act on the
 * messages in their turn.
 */
#ifndef FPGADMA_WIRE_H
#define FPGADMA_WIRE_H

#include <stdint.h>

enum fpgadma_msg_type {
	FPGADMA_MSG_NOP		= 1,	/* fills a sequence number, no content */
	FPGADMA_MSG_EAGER	= 2,	/* a message; payload follows */
	FPGADMA_MSG_RTS		= 3,	/* a large message; segments follow */
	FPGADMA_MSG_FIN		= 4,	/* receiver has read an RTS's data */
	FPGADMA_MSG_ACK		= 5,	/* receiver has an eager message (FI_DELIVERY_COMPLETE) */
	FPGADMA_MSG_WRITEDATA	= 6,	/* an RMA write with CQ data has landed */
};

#define FPGADMA_HDR_VERSION	1

/* fpgadma_hdr.flags */
#define FPGADMA_HDR_TAGGED	(1U << 0)	/* a tagged message */
#define FPGADMA_HDR_CQ_DATA	(1U << 1)	/* data is remote CQ data */
#define FPGADMA_HDR_WANT_ACK	(1U << 2)	/* EAGER: answer with ACK */
#define FPGADMA_HDR_RMA_READ	(1U << 3)	/* WRITEDATA: the RMA was a read */

struct fpgadma_hdr {
	uint8_t  type;		/* enum fpgadma_msg_type */
	uint8_t  version;	/* FPGADMA_HDR_VERSION */
	uint16_t flags;		/* FPGADMA_HDR_* */
	uint16_t dst_idx;	/* receiving endpoint in the destination domain */
	uint16_t src_idx;	/* sending endpoint in the source domain */
	uint32_t gen;		/* sending domain's generation */
	uint32_t seq;		/* per (source, destination) domain pair */
	uint64_t tag;
	uint64_t data;		/* remote CQ data */
	uint64_t len;		/* EAGER: payload; RTS: message; WRITEDATA: bytes written */
	uint64_t msg_id;	/* RTS, EAGER with WANT_ACK: echoed in FIN / ACK */
	uint32_t status;	/* FIN, ACK: 0 or a positive FI_E* code */
	uint32_t nseg;		/* RTS: struct fpgadma_rts_seg that follow */
	uint32_t low;		/* lowest seq to this destination not yet delivered */
	uint32_t reserved;
};

/* Where an RTS's data is: a range the receiver RDMA_READs by rkey. */
struct fpgadma_rts_seg {
	uint64_t addr;		/* virtual address in the sender's MR */
	uint64_t len;
	uint32_t rkey;
	uint32_t reserved;
};

#endif /* FPGADMA_WIRE_H */
