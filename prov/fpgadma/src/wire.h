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
	FPGADMA_MSG_WRITEDATA	= 6,	/* an RMA write (or an atomic) with CQ
					 * data has landed, or (without
					 * FPGADMA_HDR_CQ_DATA) an RMA or atomic
					 * from an FI_RMA_EVENT endpoint */
	FPGADMA_MSG_CM		= 7,	/* connection management (FI_EP_MSG):
					 * hdr.cm says which (cm.c) */
};

/*
 * fpgadma_hdr.cm of an FPGADMA_MSG_CM.  msg_id carries the connection's
 * id (the connecting endpoint chose it), src_idx / dst_idx the endpoints;
 * len bytes of CM data follow the header (CONNREQ, ACCEPT, REJECT).
 *
 *   CONNREQ      connecting endpoint -> passive endpoint (the service)
 *   ACCEPT       accepting endpoint -> connecting endpoint
 *   REJECT       -> connecting endpoint: fi_reject, or the service has
 *                no listener; -> accepting endpoint: the ACCEPT found no
 *                connecting endpoint waiting for it
 *   (4)          retired (ESTABLISHED: the accepting side now reports
 *                FI_CONNECTED at fi_accept); not sent, not taken
 *   SHUTDOWN     either side -> the other: the peer's FI_SHUTDOWN
 */
enum fpgadma_cm_op {
	FPGADMA_CM_CONNREQ	= 1,
	FPGADMA_CM_ACCEPT	= 2,
	FPGADMA_CM_REJECT	= 3,
	FPGADMA_CM_SHUTDOWN	= 5,
};

#define FPGADMA_HDR_VERSION	1

/* fpgadma_hdr.flags */
#define FPGADMA_HDR_TAGGED	(1U << 0)	/* a tagged message */
#define FPGADMA_HDR_CQ_DATA	(1U << 1)	/* data is remote CQ data */
#define FPGADMA_HDR_WANT_ACK	(1U << 2)	/* EAGER: answer with ACK */
#define FPGADMA_HDR_RMA_READ	(1U << 3)	/* WRITEDATA: the RMA was a read, or
						 * the atomic a fetch or compare */
#define FPGADMA_HDR_ATOMIC	(1U << 4)	/* WRITEDATA: an atomic, not an RMA */

struct fpgadma_hdr {
	uint8_t  type;		/* enum fpgadma_msg_type */
	uint8_t  version;	/* FPGADMA_HDR_VERSION */
	uint16_t flags;		/* FPGADMA_HDR_* */
	uint16_t dst_idx;	/* receiving endpoint in the destination domain */
	uint16_t src_idx;	/* sending endpoint in the source domain */
	uint32_t gen;		/* sending domain's generation */
	uint32_t seq;		/* per (source, destination) domain pair */
	uint64_t tag;		/* WRITEDATA: the rkey of the MR written */
	uint64_t data;		/* remote CQ data */
	uint64_t len;		/* EAGER, CM: payload; RTS: message; WRITEDATA: bytes written */
	uint64_t msg_id;	/* RTS, EAGER with WANT_ACK: echoed in FIN / ACK;
				 * CM: the connection's id */
	uint32_t status;	/* FIN, ACK: 0 or a positive FI_E* code */
	uint32_t nseg;		/* RTS: struct fpgadma_rts_seg that follow */
	uint32_t low;		/* lowest seq to this destination not yet delivered */
	uint32_t cm;		/* CM: enum fpgadma_cm_op; else 0 */
};

/* Where an RTS's data is: a range the receiver RDMA_READs by rkey. */
struct fpgadma_rts_seg {
	uint64_t addr;		/* virtual address in the sender's MR */
	uint64_t len;
	uint32_t rkey;
	uint32_t reserved;
};

#endif /* FPGADMA_WIRE_H */
