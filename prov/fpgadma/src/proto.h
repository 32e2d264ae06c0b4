/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fpgadma provider: what the data plane files (ep.c, proto.c, msg.c,
 * rma.c) share and nobody else needs.
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
 */
#ifndef FPGADMA_PROTO_H
#define FPGADMA_PROTO_H

#include <string.h>

#include "fpgadma_prov.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* --- a doubly linked list ----------------------------------------------- */
struct dl {
	struct dl *prev, *next;
};

static inline void dl_init(struct dl *h)
{
	h->prev = h->next = h;
}

static inline bool dl_empty(const struct dl *h)
{
	return h->next == h;
}

static inline void dl_insert_before(struct dl *pos, struct dl *e)
{
	e->next = pos;
	e->prev = pos->prev;
	pos->prev->next = e;
	pos->prev = e;
}

static inline void dl_add_tail(struct dl *h, struct dl *e)
{
	dl_insert_before(h, e);
}

static inline void dl_del(struct dl *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

#define dl_first(h, type, member) container_of((h)->next, type, member)
#define dl_foreach_safe(h, pos, tmp) \
	for ((pos) = (h)->next, (tmp) = (pos)->next; (pos) != (h); \
	     (pos) = (tmp), (tmp) = (pos)->next)

/* --- limits -------------------------------------------------------------- */
/* Longest piece of a work request (the ABI's length is 32 bits). */
#define FPGADMA_PIECE_MAX	(1UL << 30)
/* Default FI_OPT_MIN_MULTI_RECV: one eager message always fits. */
#define FPGADMA_MIN_MULTI_RECV_DEFAULT	(fpgadma_params.eager_size)

/* --- the wire header ------------------------------------------------------ */
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

/* --- work: what a wr_id points to ---------------------------------------- */
enum fpgadma_work_kind {
	FPGADMA_WORK_RX = 1,	/* a receive buffer of the pool (RECV) */
	FPGADMA_WORK_TX,	/* a send buffer of the pool (SEND) */
	FPGADMA_WORK_RMA,	/* an RMA operation (RDMA_* / *_MEM / READ_STREAM) */
	FPGADMA_WORK_RDV,	/* a rendezvous receive (RDMA_READs) */
};

/*
 * One or more WRs that complete together.  All WRs of a work carry the
 * work's address as wr_id.  A work not posted yet (ring full) waits on the
 * domain's post queue.
 */
struct fpgadma_work {
	uint32_t kind;			/* enum fpgadma_work_kind */
	uint32_t first_err;		/* first failed WR's status, 0 if none */
	struct fpgadma_wr *wrs;
	unsigned int nwr, nposted, ndone;
	bool queued;			/* on dp->postq (or a peer's rnrq) */
	bool deferrable;		/* may wait on dp->postq for the next
					 * progress call, to be posted with
					 * others in one system call */
	struct dl qlink;
};

/* --- endpoint -------------------------------------------------------------- */
struct fpgadma_ep {
	struct fid_ep ep_fid;
	struct fpgadma_domain *domain;
	struct fpgadma_dp *dp;
	struct fi_info *info;
	uint32_t ep_idx;
	uint64_t caps;
	bool enabled;

	struct fpgadma_av *av;
	struct fpgadma_eq *eq;
	struct fpgadma_cq *tx_cq, *rx_cq;
	bool tx_selective, rx_selective;
	struct fpgadma_cntr *send_cntr, *recv_cntr, *read_cntr, *write_cntr;
	struct fpgadma_cntr *rread_cntr, *rwrite_cntr;

	uint64_t tx_op_flags, rx_op_flags;
	size_t min_multi_recv;
	size_t tx_size, rx_size;	/* most operations outstanding */
	size_t tx_iov_limit, rx_iov_limit, rma_iov_limit;
	size_t max_msg_size, inject_size;

	size_t tx_inflight;		/* sends and RMA not completed */
	size_t rx_posted;		/* receives posted, not matched */
	struct dl rx_msg, rx_tag;	/* posted receives */
	struct dl unexp_msg, unexp_tag;	/* messages no receive has matched */
	struct dl claimed;		/* messages FI_PEEK|FI_CLAIM took */
	struct dl ops;			/* operations that report to this endpoint */
};

static inline struct fpgadma_ep *fpgadma_ep_of(struct fid_ep *ep_fid)
{
	return container_of(ep_fid, struct fpgadma_ep, ep_fid);
}

/* --- proto.c: the data path for msg.c and rma.c --------------------------- */

/* An application operation in flight (send, RMA, rendezvous receive). */
struct fpgadma_op {
	struct fpgadma_work w;		/* RMA / RDV: its WRs */
	struct fpgadma_ep *ep;		/* NULL once the endpoint closed */
	struct dl ep_link;		/* on ep->ops */
	struct dl dp_link;		/* on dp->ops: every live operation */
	struct dl id_link;		/* tx ops waiting for FIN / ACK: dp->ids */
	bool id_listed;
	uint64_t msg_id;
	void *context;
	uint64_t op_flags;		/* the call's flags (FI_COMPLETION ...) */
	uint64_t cq_flags;		/* FI_SEND | FI_MSG ... for the completion */
	size_t len;
	void *buf;			/* for the completion's buf */
	uint64_t tag, data;
	fi_addr_t src_addr;
	bool no_comp;			/* fi_inject*: no completion, counter only */
	bool counts_tx;			/* counted in ep->tx_inflight */
	unsigned int pending;		/* events left before it completes */
	int err, prov_errno;		/* first error (positive FI_E*) */
	size_t olen;
	int cntr_sel;			/* FPGADMA_CNTR_*: the counter it bumps */

	/* registrations to release when it completes */
	struct fpgadma_mr **mrs;	/* ours (fpgadma_dereg_mr) */
	unsigned int nmrs;
	struct fpgadma_mr **tmps;	/* fpgadma_mr_local's (..._release) */
	unsigned int ntmps;
	struct fpgadma_sge *sges;	/* the pieces op->w.wrs point to */

	struct fpgadma_txbuf *tb;	/* the send buffer carrying it, if any */

	/* RMA */
	struct fpgadma_txbuf *wd;	/* a send buffer it owns (inject data) */
	bool wd_send;			/* send WRITEDATA from wd after the write */
	struct iovec *rd_iov;		/* a small read into wd: copy it here */
	size_t rd_count;
	uint32_t dest_ep;
	uint16_t dest_idx;

	/* RDV (rendezvous receive) */
	struct fpgadma_rx_entry *rx;	/* the receive it fills */
	uint32_t peer_ep;		/* the sender: where FIN goes */
	uint16_t peer_idx;
	uint64_t peer_msg_id;
	bool rx_tagged;
};

enum {
	FPGADMA_CNTR_NONE = 0,
	FPGADMA_CNTR_SEND,
	FPGADMA_CNTR_RECV,
	FPGADMA_CNTR_READ,
	FPGADMA_CNTR_WRITE,
};

/* A send buffer of the pool: header + eager payload, registered once. */
struct fpgadma_txbuf {
	struct fpgadma_work w;		/* kind TX, one SEND */
	struct fpgadma_wr wr;
	struct fpgadma_sge sge;
	struct fpgadma_hdr *hdr;	/* payload follows it */
	struct fpgadma_op *op;		/* the operation it belongs to, or NULL */
	struct fpgadma_peer *peer;
	uint32_t seq;
	unsigned int nop_tries;
	struct dl link;			/* free list */
	struct dl plink;		/* peer's undelivered list, seq order */
};

/* A posted receive (fi_recv / fi_trecv families). */
struct fpgadma_rx_entry {
	struct dl link;
	struct fpgadma_ep *ep;
	void *context;
	uint64_t flags;			/* the call's flags */
	uint64_t tag, ignore;
	fi_addr_t src;			/* FI_ADDR_UNSPEC: any */
	bool tagged;
	bool listed;			/* on ep->rx_msg / rx_tag */
	/* FI_MULTI_RECV */
	size_t min_free;		/* release below this free space */
	size_t used;			/* bytes handed to messages */
	unsigned int refs;		/* rendezvous reads into it in flight */
	bool released;			/* takes no more messages */
	size_t count;
	void **desc;			/* count of them, after iov[] */
	struct iovec iov[];
};

/* A message no receive matched yet (or one FI_PEEK|FI_CLAIM took). */
struct fpgadma_unexp {
	struct dl link;
	struct fpgadma_hdr hdr;
	uint32_t src_ep;
	fi_addr_t src_addr;
	size_t paylen;
	unsigned char payload[];	/* EAGER: the data; RTS: the segments */
};

/* Take domain->lock / drop it, for the data calls. */
void fpgadma_dp_lock(struct fpgadma_dp *dp);
void fpgadma_dp_unlock(struct fpgadma_dp *dp);
/* Progress with domain->lock held. */
void fpgadma_dp_progress_locked(struct fpgadma_dp *dp);

/* The domain's device limits. */
const struct fpgadma_device_attr *fpgadma_dp_attr(struct fpgadma_dp *dp);

/*
 * Give an endpoint an index: want if it is free (the index the src_addr
 * names), else the next free one; -FI_ENOSPC if all are taken.  Lock held.
 */
int fpgadma_dp_ep_add(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		      uint32_t want);
/* Forget an endpoint: detach its operations, drop its queues.  Lock held. */
void fpgadma_dp_ep_remove(struct fpgadma_dp *dp, struct fpgadma_ep *ep);

/* Operations (lock held). */
struct fpgadma_op *fpgadma_op_alloc(struct fpgadma_ep *ep, void *context,
				    uint64_t op_flags);
void fpgadma_op_free(struct fpgadma_dp *dp, struct fpgadma_op *op);
/* Report op's completion or error to its endpoint, then free it. */
void fpgadma_op_complete(struct fpgadma_dp *dp, struct fpgadma_op *op);

/* Send buffers (lock held).  for_ctrl may take the reserve. */
struct fpgadma_txbuf *fpgadma_txbuf_get(struct fpgadma_dp *dp, bool for_ctrl);
void fpgadma_txbuf_put(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb);
static inline void *fpgadma_txbuf_payload(struct fpgadma_txbuf *tb)
{
	return tb->hdr + 1;
}
/* Send tb (header filled but for gen/seq, paylen bytes after it) to dest_ep. */
void fpgadma_txbuf_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
			uint32_t dest_ep, size_t paylen);

/* Post a work's WRs now or queue them (lock held). */
void fpgadma_work_submit(struct fpgadma_dp *dp, struct fpgadma_work *w);

/* Wait for a FIN / ACK with op->msg_id. */
void fpgadma_op_wait_id(struct fpgadma_dp *dp, struct fpgadma_op *op);

/*
 * The pieces (lkey, addr, len) of a local buffer for the device: each at
 * most FPGADMA_PIECE_MAX bytes, registered through desc or temporarily
 * (the temporary MRs are appended to op->mrs).  At most max_len bytes of
 * the iov are taken.  Returns the number of pieces in *sges (malloc'd), or
 * a negative FI_E* code.
 */
int fpgadma_local_pieces(struct fpgadma_dp *dp, struct fpgadma_op *op,
			 const struct iovec *iov, void **desc, size_t count,
			 size_t max_len, bool device_writes,
			 struct fpgadma_sge **sges);

/* A remote range for fpgadma_build_wrs. */
struct fpgadma_rseg {
	uint64_t addr;
	uint64_t len;
	uint32_t rkey;
};
/*
 * Build op->w's WRs of opcode moving the local pieces to or from the
 * remote segments (in order; remote total >= local total), at most
 * max_sge pieces per WR, a WR never crossing a remote segment.  flags go
 * into each WR.  0 or -FI_ENOMEM.
 */
int fpgadma_build_wrs(struct fpgadma_dp *dp, struct fpgadma_op *op,
		      uint32_t opcode, uint32_t flags,
		      const struct fpgadma_sge *sges, unsigned int nsge,
		      const struct fpgadma_rseg *rsegs, unsigned int nrseg);

/* Register [buf, +len) for peers to RDMA_READ; appended to op->mrs. */
int fpgadma_reg_remote_read(struct fpgadma_dp *dp, struct fpgadma_op *op,
			    void *buf, size_t len, struct fpgadma_mr **mr);

/* Receive side (lock held) */
/*
 * Deliver an unexpected message into a receive; frees u.  Returns whether
 * the receive is still posted (a multi-recv buffer with room left).
 */
bool fpgadma_deliver_unexp(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
			   struct fpgadma_rx_entry *rx, struct fpgadma_unexp *u);
/* Drop an unexpected message (FI_DISCARD, endpoint close): frees u. */
void fpgadma_discard_unexp(struct fpgadma_dp *dp, struct fpgadma_unexp *u,
			   uint32_t status);
/* Does a message match a receive? */
bool fpgadma_rx_match(const struct fpgadma_ep *ep,
		      const struct fpgadma_rx_entry *rx,
		      const struct fpgadma_hdr *hdr, fi_addr_t src_addr);
/* Write a receive's completion (or error) and count it. */
void fpgadma_rx_report(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
		       struct fpgadma_comp *c, int err, int prov_errno,
		       size_t olen);
/* Unlist (if posted) and free a receive. */
void fpgadma_rx_entry_free(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx);

/* Completion and counter helpers (lock held). */
void fpgadma_report(struct fpgadma_cq *cq, bool selective, uint64_t op_flags,
		    bool no_comp, struct fpgadma_cntr *cntr,
		    const struct fpgadma_comp *c, int err, int prov_errno,
		    size_t olen);

/* ep.c: the address of a peer for completions (FI_ADDR_NOTAVAIL if unknown). */
fi_addr_t fpgadma_ep_src_addr(struct fpgadma_ep *ep, uint32_t src_ep,
			      uint16_t src_idx);
/* ep.c: -FI_EOPBADSTATE unless the endpoint can send. */
int fpgadma_ep_check_tx(struct fpgadma_ep *ep);

/* msg.c / rma.c ops tables */
extern struct fi_ops_msg fpgadma_msg_ops;
extern struct fi_ops_tagged fpgadma_tagged_ops;
extern struct fi_ops_rma fpgadma_rma_ops;

#endif /* FPGADMA_PROTO_H */
