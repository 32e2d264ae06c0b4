/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fpgadma provider: what the data plane files share and nobody else needs.
 *
 * The data plane of a domain, by concept (wire.h has the wire format and
 * describes the protocol):
 *
 *   dp.c        the domain's data plane state, its lock, endpoint indices,
 *               paced streams (their start, stop and delivery)
 *   postq.c     posting work requests: ring credits, the post queue, batches
 *   bufpool.c   the registered pools of receive and send buffers
 *   peer.c      peers: sequence numbers, the stash, RNR backoff, resends
 *   op.c        operations, their completions, building work requests
 *   match.c     receive matching: posted and unexpected queues, delivery
 *   rdv.c       rendezvous reads and the control messages FIN, ACK, WRITEDATA
 *   progress.c  draining the kernel ring, dispatching completions, timers
 *   ep.c        endpoints; msg.c and rma.c the application's data calls
 *   cm.c        FI_EP_MSG connections: the FPGADMA_MSG_CM messages
 */
#ifndef FPGADMA_PROTO_H
#define FPGADMA_PROTO_H

#include <string.h>

#include "fpgadma_prov.h"
#include "wire.h"

#include "dlist.h"

/* --- limits -------------------------------------------------------------- */
/* Longest piece of a work request (the ABI's length is 32 bits). */
#define FPGADMA_PIECE_MAX	(1UL << 30)
/* Default FI_OPT_MIN_MULTI_RECV: one eager message always fits. */
#define FPGADMA_MIN_MULTI_RECV_DEFAULT	(fpgadma_params.eager_size)

/* --- work: what a wr_id points to ---------------------------------------- */
enum fpgadma_work_kind {
	FPGADMA_WORK_RX = 1,	/* a receive buffer of the pool (RECV) */
	FPGADMA_WORK_TX,	/* a send buffer of the pool (SEND) */
	FPGADMA_WORK_RMA,	/* an RMA operation (RDMA_* / *_MEM / READ_STREAM)
				 * or an atomic (ATOMIC / ATOMIC_MEM) */
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
	bool queued;			/* on dp->postq, dp->rxq or a peer's
					 * rnrq */
	bool deferrable;		/* may wait on dp->postq for the next
					 * progress call, to be posted with
					 * others in one system call */
	struct dl qlink;
};

/* --- endpoint (ep.c) ------------------------------------------------------ */
/*
 * An endpoint's cache of its AV's translations (dp lock held), both ways:
 * entries made under the AV's epoch (fpgadma_av_epoch), valid while it
 * holds.  A data call and a received message each translate an address;
 * the AV's own lookups take its lock.
 */
#define FPGADMA_EP_ADDR_CACHE	8
struct fpgadma_ep_fwd {
	bool valid;
	fi_addr_t fi_addr;
	uint64_t epoch;
	struct fpgadma_addr a;
};
struct fpgadma_ep_rev {
	bool valid;
	uint32_t ep_id, ep_idx;
	uint64_t epoch;
	fi_addr_t fi_addr;
};

struct fpgadma_ep {
	struct fid_ep ep_fid;
	struct fpgadma_domain *domain;
	struct fpgadma_dp *dp;
	struct fi_info *info;
	uint32_t ep_idx;
	uint64_t caps;
	bool enabled;

	struct fpgadma_av *av;
	struct fpgadma_ep_fwd fwd[FPGADMA_EP_ADDR_CACHE];
	struct fpgadma_ep_rev rev[FPGADMA_EP_ADDR_CACHE];
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
	struct dl rx_stream;		/* posted receives from the FPGA: a
					 * paced stream's frames (dp.c) */
	struct dl unexp_msg, unexp_tag;	/* messages no receive has matched */
	struct dl claimed;		/* messages FI_PEEK|FI_CLAIM took */
	struct dl ops;			/* operations that report to this endpoint */

	enum fi_ep_type type;		/* FI_EP_RDM, FI_EP_MSG or FI_EP_DGRAM */
	uint64_t dgram_dropped;		/* DGRAM: messages no receive was posted for */

	/*
	 * Its paced stream, or NULL (dp.c).  Written under the lock; the
	 * zero-copy calls read it without (atomic).
	 */
	struct fpgadma_pstream *pstream;
	uint64_t stream_frames;		/* frames delivered into receives */
	uint64_t stream_lost;		/* frames reported lost (FI_EOVERRUN) */
	uint64_t stream_discarded;	/* frames left in the ring at a stop */

	/* FI_EP_MSG: the connection (cm.c) */
	int cm_state;			/* enum fpgadma_cm_state */
	bool accepted;			/* connected by fi_accept (server side) */
	struct fpgadma_addr peer;	/* the other end, once known */
	/*
	 * The connection's addresses as the application names them, for
	 * fi_getname and fi_getpeer, when they are not the data plane's:
	 * an accepted endpoint's own is its passive endpoint's (as an
	 * accepted socket has its listener's), and a connecting endpoint's
	 * peer is the address it connected to.
	 */
	struct fpgadma_addr cm_local, cm_remote;
	bool has_cm_local, has_cm_remote;
	uint64_t conn_id;		/* the connection's id (wire.h) */
	struct fpgadma_connreq *connreq; /* fi_endpoint's info->handle, until
					  * fi_accept */
	bool eq_progress;		/* its domain is on ep->eq's progress list */
};

/* An FI_EP_MSG endpoint's connection (cm.c). */
enum fpgadma_cm_state {
	FPGADMA_CM_IDLE = 0,		/* neither fi_connect nor fi_accept yet */
	FPGADMA_CM_CONNECTING,		/* CONNREQ sent, waiting for an answer */
	FPGADMA_CM_ACCEPTING,		/* ACCEPT being sent (fi_accept) */
	FPGADMA_CM_CONNECTED,
	FPGADMA_CM_DISCONNECTED,	/* refused, shut down (either side) */
};

static inline struct fpgadma_ep *fpgadma_ep_of(struct fid_ep *ep_fid)
{
	return container_of(ep_fid, struct fpgadma_ep, ep_fid);
}

/* The endpoint behind a fid_ep the application passes to the extension,
 * or NULL if it is not an endpoint of this provider. */
struct fpgadma_ep *fpgadma_ep_from_fid(struct fid_ep *ep_fid);

/*
 * The address behind fi_addr in the endpoint's AV, or -FI_EINVAL (no AV,
 * no entry there).  Cached (ep->fwd).  dp lock held.
 */
int fpgadma_ep_addr(struct fpgadma_ep *ep, fi_addr_t fi_addr,
		    struct fpgadma_addr *a);
/*
 * The address of a peer for completions (FI_ADDR_NOTAVAIL if unknown).
 * Cached (ep->rev).  dp lock held.
 */
fi_addr_t fpgadma_ep_src_addr(struct fpgadma_ep *ep, uint32_t src_ep,
			      uint16_t src_idx);
/*
 * -FI_EOPBADSTATE unless the endpoint can send (enabled; an FI_EP_MSG
 * endpoint also connected).
 */
int fpgadma_ep_check_tx(struct fpgadma_ep *ep);
/*
 * The peer a send or RMA goes to: dest in the endpoint's AV, or an
 * FI_EP_MSG endpoint's connected peer whatever dest says.  -FI_EINVAL if
 * there is none.  Lock held.
 */
int fpgadma_ep_dest(struct fpgadma_ep *ep, fi_addr_t dest,
		    struct fpgadma_addr *a);

/* --- connection management (cm.c) ------------------------------------------ */
struct fpgadma_connreq;
/* A FPGADMA_MSG_CM in its turn (progress, lock held). */
void fpgadma_cm_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			const struct fpgadma_hdr *hdr, const void *pay,
			size_t paylen);
/* The fi_ops_cm of FI_EP_MSG endpoints, once fpgadma_cm_ops_init() ran. */
extern struct fi_ops_cm fpgadma_msg_cm_ops;
void fpgadma_cm_ops_init(void);
/*
 * fi_endpoint of an FI_EP_MSG endpoint with info->handle: take the
 * connection request (0), or -FI_EINVAL if handle is none of ours or
 * already taken.  No lock held.
 */
int fpgadma_cm_take_connreq(struct fpgadma_ep *ep, struct fid *handle);
/*
 * fi_close of an FI_EP_MSG endpoint, before it leaves its domain: tell
 * the peer (SHUTDOWN, or REJECT for a request never accepted), free the
 * request.  Lock held.
 */
void fpgadma_cm_ep_close(struct fpgadma_ep *ep);
/* An operation carrying a CM message failed to reach its peer. */
void fpgadma_cm_send_failed(struct fpgadma_ep *ep, int err);
/* cm_data_size of FI_EP_MSG endpoints: 256 bytes, at most the eager size. */
size_t fpgadma_cm_data_size(void);

/* msg.c / rma.c ops tables */
extern struct fi_ops_msg fpgadma_msg_ops;
extern struct fi_ops_tagged fpgadma_tagged_ops;
extern struct fi_ops_rma fpgadma_rma_ops;
extern struct fi_ops_atomic fpgadma_atomic_ops;

/* --- the domain's data plane (dp.c) --------------------------------------- */
#define PEER_BUCKETS	64
#define ID_BUCKETS	256

struct fpgadma_dp {
	struct fpgadma_domain *d;
	struct fpgadma_context *ctx;
	struct fpgadma_device_attr attr;
	bool host_ep;			/* the device has SEND/RECV/RDMA */
	uint32_t gen;
	size_t ring_cap;		/* WRs the ring holds */
	size_t inflight;		/* WRs posted, CQE not taken */
	unsigned int max_post, max_sge;
	size_t buf_size;		/* header + eager payload, rounded */

	size_t nrx;
	size_t rx_defer;		/* most receive buffers on rxq */
	struct dl rxq;			/* receive buffers waiting to be
					 * reposted (bufpool.c) */
	size_t rxq_len;
	void *rx_mem;
	struct fpgadma_mr *rx_mr;
	struct fpgadma_rxbuf *rx;

	size_t ntx;
	void *tx_mem;
	struct fpgadma_mr *tx_mr;
	struct fpgadma_txbuf *tx;
	struct dl tx_free;
	size_t tx_nfree, tx_reserve;

	struct dl postq;		/* works waiting for room in the ring, or
					 * deferred to the next progress call */
	size_t tx_posted;		/* posted WRs, not of the receive pool,
					 * whose completions are not polled yet */
	struct dl synthq;		/* works whose unposted WRs failed */
	struct dl ctrlq;		/* control messages waiting for a txbuf */
	struct dl rnr_peers;		/* peers backing off */
	struct dl ops;			/* every live operation */
	struct fpgadma_op *op_cache;	/* freed operations kept for reuse */
	struct fpgadma_rx_entry *rx_cache; /* freed receives kept for reuse */
	unsigned int rx_ncache;
	size_t op_ncache;
	struct dl pstreams;		/* running paced streams (dp.c) */
	uint64_t next_pstream_id;
	struct dl ids[ID_BUCKETS];	/* operations waiting for FIN / ACK */
	struct fpgadma_peer *peers[PEER_BUCKETS];
	uint64_t next_msg_id;
	unsigned int ep_cursor;

	/* local message channels (chan.c) */
	void *inbox;			/* ours, mapped; NULL: no channels */
	uint32_t chan_known;		/* inbox slots looked at */
	struct fpgadma_chan_in {
		uint32_t src_ep;	/* who writes the slot */
		uint32_t cons;		/* entries taken (ours, not the slot's) */
		bool bad;		/* it wrote nonsense: not read again */
	} chan_in[FPGADMA_CHAN_SLOTS];
	bool chan_sleepy;		/* our slots say we may sleep (for good) */
	bool chan_draining;		/* in fpgadma_chan_drain */
	void *chan_buf;			/* a record copied out of a slot */
	struct dl chan_doneq;		/* txbufs handed over, to complete */
	struct dl chan_kickq;		/* peers owed a wake-up (peer.c) */
	uint64_t n_chan_sent, n_chan_recv, n_chan_kicks;
};

/* Take domain->lock / drop it, for the data calls. */
void fpgadma_dp_lock(struct fpgadma_dp *dp);
void fpgadma_dp_unlock(struct fpgadma_dp *dp);

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
/* The endpoint with index idx (a header's dst_idx), or NULL. */
struct fpgadma_ep *fpgadma_dp_ep_at(struct fpgadma_dp *dp, uint16_t idx);

/* --- posting work requests (postq.c) -------------------------------------- */
/* Post a work's WRs now or queue them (lock held). */
void fpgadma_work_submit(struct fpgadma_dp *dp, struct fpgadma_work *w);
/* Post what waits on the post queue, as far as the ring has room. */
void fpgadma_postq_flush(struct fpgadma_dp *dp);
/* Move the receive buffers waiting on dp->rxq to the post queue's tail. */
void fpgadma_rxq_to_postq(struct fpgadma_dp *dp);

/* --- buffer pools (bufpool.c) --------------------------------------------- */
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
	bool no_chan;			/* through the kernel, not a channel */
	/*
	 * The payload still in the sender's iov (valid during its send call
	 * only): a channel takes it from there, else it is gathered after
	 * the header before the SEND (fpgadma_peer_send).
	 */
	const struct iovec *iov;
	size_t iov_count;
	struct dl link;			/* free list */
	struct dl plink;		/* peer's undelivered list, seq order */
};

/* A receive buffer of the pool. */
struct fpgadma_rxbuf {
	struct fpgadma_work w;		/* kind RX, one RECV */
	struct fpgadma_wr wr;
	struct fpgadma_sge sge;
	void *buf;
};

/* Copy the count pieces of iov to dst, one after the other. */
void fpgadma_gather(void *dst, const struct iovec *iov, size_t count);
/* Send buffers (lock held).  for_ctrl may take the reserve. */
struct fpgadma_txbuf *fpgadma_txbuf_get(struct fpgadma_dp *dp, bool for_ctrl);
void fpgadma_txbuf_put(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb);
static inline void *fpgadma_txbuf_payload(struct fpgadma_txbuf *tb)
{
	return tb->hdr + 1;
}
/* (Re)post a receive buffer to the kernel endpoint. */
void fpgadma_rxbuf_post(struct fpgadma_dp *dp, struct fpgadma_rxbuf *rb);
/* Allocate and register both pools, post every receive buffer. */
int fpgadma_pools_init(struct fpgadma_dp *dp);
/* Deregister both pools (the kernel flushes the posted RECVs). */
void fpgadma_pools_dereg(struct fpgadma_dp *dp);
/* Free the pools' memory, once deregistered. */
void fpgadma_pools_free(struct fpgadma_dp *dp);

/* --- peers (peer.c) ------------------------------------------------------- */
/*
 * Number tb (header filled but for gen/seq, paylen bytes after it or in
 * tb->iov) in the stream to dest_ep and post it.  0, or -FI_ENOMEM (no
 * peer): tb is untouched.  tb->iov is NULL again on return.
 */
int fpgadma_peer_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
		      uint32_t dest_ep, size_t paylen);
/* Send tb (header filled but for gen/seq, paylen bytes after it) to dest_ep. */
void fpgadma_txbuf_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
			uint32_t dest_ep, size_t paylen);
/* A receive buffer's CQE: take its message in its sender's order. */
void fpgadma_rx_cqe(struct fpgadma_dp *dp, struct fpgadma_rxbuf *rb,
		    const struct fpgadma_cqe *cqe);
/* A send buffer's CQE: done, back off and resend, or resend as a NOP. */
void fpgadma_tx_cqe(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
		    uint32_t status);
/* Resubmit the sends of peers whose backoff is over. */
void fpgadma_rnr_tick(struct fpgadma_dp *dp);
/* The earliest resend time (ns) of the peers backing off, 0 if none. */
uint64_t fpgadma_rnr_first_retry(struct fpgadma_dp *dp);
/* Free every peer and its stash (domain teardown). */
void fpgadma_peers_free(struct fpgadma_dp *dp);
/*
 * A message of byte_len bytes from src_ep, in its turn: the header, its
 * payload at pay (NULL: right after the header).  Both are read during
 * the call only.
 */
void fpgadma_rx_msg(struct fpgadma_dp *dp, uint32_t src_ep,
		    const struct fpgadma_hdr *hdr, size_t byte_len,
		    const void *pay);
/* Complete the sends handed to channels; send the wake-ups owed. */
void fpgadma_chan_sent(struct fpgadma_dp *dp);

/* --- local message channels (chan.c) -------------------------------------- */
/* Our side of a channel to a peer domain. */
struct fpgadma_chan_out {
	void *slot;			/* our slot in its inbox, or NULL */
	uint32_t prod;			/* entries written */
	uint64_t retry_at;		/* ns: no new mapping before */
};
/* Map the domain's inbox if the device and FI_FPGADMA_CHAN allow. */
void fpgadma_chan_init(struct fpgadma_dp *dp);
/* Whether a message may go through a channel now (ordering). */
bool fpgadma_chan_usable(struct fpgadma_dp *dp);
/*
 * Hand a message to ep_id through co: its len bytes of msg (the header
 * first) followed by the bytes of iov (count pieces, paylen in all; NULL
 * and 0: none).  False when it must go through the kernel (no channel,
 * full, too long, the peer may be asleep).  *kick: written, but the peer
 * may have gone to sleep meanwhile.
 */
bool fpgadma_chan_send(struct fpgadma_dp *dp, struct fpgadma_chan_out *co,
		       uint32_t ep_id, const void *msg, size_t len,
		       const struct iovec *iov, size_t count, size_t paylen,
		       bool *kick);
void fpgadma_chan_out_fini(struct fpgadma_dp *dp, struct fpgadma_chan_out *co);
/* Take the messages waiting in the inbox (progress). */
void fpgadma_chan_drain(struct fpgadma_dp *dp);
/* Say in our slots, for good, that we may sleep on our file (chan.c). */
void fpgadma_chan_sleepy(struct fpgadma_dp *dp);

/* --- operations (op.c) ---------------------------------------------------- */
/* An application operation in flight (send, RMA, rendezvous receive). */
/* Pieces an operation holds without an allocation (and local_pieces' stack). */
#define FPGADMA_OP_INLINE_SGES	4

struct fpgadma_op {
	struct fpgadma_work w;		/* RMA / RDV: its WRs */
	struct fpgadma_ep *ep;		/* NULL once the endpoint closed */
	struct dl ep_link;		/* on ep->ops */
	struct dl dp_link;		/* on dp->ops: every live operation */
	struct dl id_link;		/* tx ops waiting for FIN / ACK: dp->ids */
	struct fpgadma_op *cache_next;	/* freed: on dp->op_cache */
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
	bool cm;			/* carries a CM message: no completion;
					 * a failure is an EQ error event */

	/*
	 * registrations it holds until freed (fpgadma_mr_local's and
	 * fpgadma_reg_remote_read's): references to the cache's entries
	 */
	struct fpgadma_mrcache_entry **regs;
	unsigned int nregs;
	struct fpgadma_sge *sges;	/* the pieces op->w.wrs point to */
	/* op->w.wrs and op->sges of an operation of one WR of a few pieces */
	struct fpgadma_wr wr_inl;
	struct fpgadma_sge sge_inl[FPGADMA_OP_INLINE_SGES];

	struct fpgadma_txbuf *tb;	/* the send buffer carrying it, if any */

	/* RMA */
	struct fpgadma_txbuf *wd;	/* a send buffer it owns (inject data) */
	bool wd_send;			/* send WRITEDATA from wd after the RMA */
	bool wd_cq_data;		/* ... with remote CQ data (fi_writedata);
					 * without: an FI_RMA_EVENT notice */
	struct iovec *rd_iov;		/* a small read into wd: copy it here */
	size_t rd_count;
	uint32_t dest_ep;
	uint16_t dest_idx;
	uint32_t rkey;			/* the target MR's (host targets) */
	bool atomic;			/* an atomic (its flags, its errors) */

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

/* Operations (lock held). */
struct fpgadma_op *fpgadma_op_alloc(struct fpgadma_ep *ep, void *context,
				    uint64_t op_flags);
void fpgadma_op_free(struct fpgadma_dp *dp, struct fpgadma_op *op);
/* Free the operations kept for reuse (the domain's teardown). */
void fpgadma_op_cache_free(struct fpgadma_dp *dp);
/* Report op's completion or error to its endpoint, then free it. */
void fpgadma_op_complete(struct fpgadma_dp *dp, struct fpgadma_op *op);
/* The endpoint's counter of a FPGADMA_CNTR_* kind, or NULL. */
struct fpgadma_cntr *fpgadma_ep_cntr(struct fpgadma_ep *ep, int sel);

/* The completion entry an operation's end reports, from @src. */
static inline struct fpgadma_comp fpgadma_op_comp(const struct fpgadma_op *op,
						  fi_addr_t src)
{
	struct fpgadma_comp c = {
		.op_context = op->context,
		.flags = op->cq_flags,
		.len = op->len,
		.buf = op->buf,
		.data = op->data,
		.tag = op->tag,
		.src_addr = src,
	};

	return c;
}
/* One of the events a send waits for; err a positive FI_E* code. */
void fpgadma_op_event(struct fpgadma_dp *dp, struct fpgadma_op *op, int err,
		      int prov_errno);

/* Wait for a FIN / ACK with op->msg_id. */
void fpgadma_op_wait_id(struct fpgadma_dp *dp, struct fpgadma_op *op);
/* The operation waiting for a FIN / ACK with msg_id, or NULL. */
struct fpgadma_op *fpgadma_op_by_id(struct fpgadma_dp *dp, uint64_t msg_id);

/* Completion and counter helpers (lock held). */
void fpgadma_report(struct fpgadma_cq *cq, bool selective, uint64_t op_flags,
		    bool no_comp, struct fpgadma_cntr *cntr,
		    const struct fpgadma_comp *c, int err, int prov_errno,
		    size_t olen);

/*
 * The pieces (lkey, addr, len) of a local buffer for the device: each at
 * most FPGADMA_PIECE_MAX bytes, registered through desc or temporarily
 * (those registrations are appended to op->regs).  At most max_len bytes of
 * the iov are taken.  Returns the number of pieces in *sges, or a negative
 * FI_E* code.  Up to FPGADMA_OP_INLINE_SGES pieces go into the caller's
 * stack[], more into an allocation: the caller frees *sges unless it is
 * stack.
 */
int fpgadma_local_pieces(struct fpgadma_dp *dp, struct fpgadma_op *op,
			 const struct iovec *iov, void **desc, size_t count,
			 size_t max_len, bool device_writes,
			 struct fpgadma_sge *stack, struct fpgadma_sge **sges);

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

/*
 * [buf, +len) registered for peers to RDMA_READ by address (through the
 * registration cache; appended to op->regs): its rkey.  0 or a negative
 * FI_E* code.
 */
int fpgadma_reg_remote_read(struct fpgadma_dp *dp, struct fpgadma_op *op,
			    void *buf, size_t len, uint32_t *rkey);

/* --- receive matching (match.c) ------------------------------------------- */
/* A posted receive (fi_recv / fi_trecv families). */
struct fpgadma_rx_entry {
	struct dl link;
	struct fpgadma_dp *dp;
	struct fpgadma_rx_entry *cache_next;	/* freed: on dp->rx_cache */
	bool cacheable;			/* room for FPGADMA_RX_CACHE_IOV pieces */
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

/*
 * Receive entries (lock held).  An entry of up to FPGADMA_RX_CACHE_IOV
 * pieces comes from the domain's cache and goes back there: no allocation
 * per fi_recv.  fpgadma_rx_entry_alloc zeroes the entry but for iov[] and
 * desc[] (count of each), sets dp and desc.
 */
#define FPGADMA_RX_CACHE_IOV	4
struct fpgadma_rx_entry *fpgadma_rx_entry_alloc(struct fpgadma_dp *dp,
						size_t count);
void fpgadma_rx_entry_put(struct fpgadma_rx_entry *rx);
/* Free the cache (domain teardown). */
void fpgadma_rx_cache_free(struct fpgadma_dp *dp);

/* A message no receive matched yet (or one FI_PEEK|FI_CLAIM took). */
struct fpgadma_unexp {
	struct dl link;
	struct fpgadma_hdr hdr;
	uint32_t src_ep;
	fi_addr_t src_addr;
	size_t paylen;
	unsigned char payload[];	/* EAGER: the data; RTS: the segments */
};

/* An EAGER or RTS message in its turn, for one of our endpoints. */
void fpgadma_msg_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			 const struct fpgadma_hdr *hdr, const void *pay,
			 size_t paylen);
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
/* The completion flags (FI_RECV | FI_MSG ...) of a message. */
uint64_t fpgadma_rx_cq_flags(const struct fpgadma_hdr *hdr);
/* Take len bytes of a receive for a message; returns where they start. */
void fpgadma_rx_take(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
		     size_t len);
/* A message of a receive is complete: report it, release the receive. */
void fpgadma_rx_msg_done(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
			 struct fpgadma_comp *c, int err, int prov_errno,
			 size_t olen);
/* Write a receive's completion (or error) and count it. */
void fpgadma_rx_report(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
		       struct fpgadma_comp *c, int err, int prov_errno,
		       size_t olen);
/* Stop a receive from matching more messages. */
void fpgadma_rx_unlist(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx);
/* Unlist (if posted) and free a receive. */
void fpgadma_rx_entry_free(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx);

/* --- rendezvous and control messages (rdv.c) ------------------------------ */
/* A FIN or ACK to dest_ep: now, or when a send buffer is free. */
void fpgadma_send_reply(struct fpgadma_dp *dp, uint8_t type, uint32_t dest_ep,
			uint16_t dest_idx, uint16_t src_idx, uint64_t msg_id,
			uint32_t status);
/*
 * Any control message without payload (hdr complete but for gen/seq):
 * now, or when a send buffer is free (cm.c's REJECT and SHUTDOWN).
 */
void fpgadma_send_ctrl(struct fpgadma_dp *dp, uint32_t dest_ep,
		       const struct fpgadma_hdr *hdr);
/* Send the control messages that wait for a send buffer. */
void fpgadma_ctrlq_flush(struct fpgadma_dp *dp);
/* Drop the control messages still waiting (domain teardown). */
void fpgadma_ctrlq_free(struct fpgadma_dp *dp);
/* Start reading an RTS's data into a receive; returns whether rx is still posted. */
bool fpgadma_rdv_start(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		       struct fpgadma_rx_entry *rx,
		       const struct fpgadma_hdr *hdr, uint32_t src_ep,
		       fi_addr_t src_addr, const struct fpgadma_rts_seg *segs);
/* A rendezvous read is over: FIN to the sender, complete the receive. */
void fpgadma_rdv_done(struct fpgadma_dp *dp, struct fpgadma_op *op);
/*
 * An RMA's or atomic's WRs are over: finish a bounced read (an atomic's
 * fetched values), send WRITEDATA, complete.
 */
void fpgadma_rma_done(struct fpgadma_dp *dp, struct fpgadma_op *op);
/* A WRITEDATA in its turn: the remote CQ data completion. */
void fpgadma_writedata_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			       const struct fpgadma_hdr *hdr);

/* --- paced streams (dp.c) -------------------------------------------------- */
/*
 * An endpoint's paced stream (FPGADMA_CAP_STREAM): libfpgadma's stream
 * and the ring it writes, the provider's own (copy mode) or in an MR of
 * the application (FI_FPGADMA_STREAM_ZC).
 */
struct fpgadma_pstream {
	struct dl link;			/* on dp->pstreams */
	struct fpgadma_ep *ep;
	struct fpgadma_stream *s;
	uint64_t id;			/* user_data: wr_id of its CQEs */
	bool zc;
	uint32_t frame_size, slot_size, nslots;
	size_t cap_taken;		/* credits taken from dp->ring_cap */
	/* copy mode: the ring, registered by the provider */
	void *ring;
	size_t ring_len;
	struct fpgadma_mr *ring_mr;
	uint64_t taken;			/* frames taken out of the ring */
	/* zero copy: the application's MR (its stream_refs held) */
	struct fpgadma_prov_mr *app_mr;
	uint64_t zc_progress_idx;	/* the write index stream_ready last ran
					 * progress at (the zero-copy thread's) */
	bool ended;			/* its STREAM_END CQE came */
	uint32_t end;			/* enum fpgadma_stream_end */
};

/*
 * A CQE of opcode FPGADMA_WR_STREAM_FRAMES or FPGADMA_WR_STREAM_END: no
 * work's, so progress hands it here instead (lock held).
 */
void fpgadma_pstream_cqe(struct fpgadma_dp *dp, const struct fpgadma_cqe *cqe);
/* Copy the frames waiting in the rings of the domain's copy-mode streams
 * into the receives posted for them (progress, lock held). */
void fpgadma_pstreams_deliver(struct fpgadma_dp *dp);
/* The same for one endpoint, after a receive was posted (lock held). */
void fpgadma_pstream_deliver_ep(struct fpgadma_dp *dp, struct fpgadma_ep *ep);
/* Is a receive from src one from the FPGA, i.e. for the stream?  (lock held) */
bool fpgadma_rx_src_is_fpga(struct fpgadma_ep *ep, fi_addr_t src);
/* fi_close of an endpoint: stop its stream, if any (no lock held). */
void fpgadma_pstream_ep_close(struct fpgadma_ep *ep);
/*
 * match.c: frame (frame_size bytes at frame) into the stream receive rx:
 * first the error completion of the frames lost before it, if its header
 * says so, then its own completion (src the FPGA's fi_addr, or
 * FI_ADDR_NOTAVAIL).  The receive stays posted while a multi-recv buffer
 * has room for another frame.
 */
void fpgadma_rx_stream_frame(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
			     const void *frame, uint32_t frame_size,
			     fi_addr_t src);

/* --- progress (progress.c) ------------------------------------------------ */
/* Progress with domain->lock held. */
void fpgadma_dp_progress_locked(struct fpgadma_dp *dp);
/* A message in its turn (peer.c has put it in order): act on its type. */
void fpgadma_msg_process(struct fpgadma_dp *dp, uint32_t src_ep,
			 const struct fpgadma_hdr *hdr, const void *pay,
			 size_t paylen);
/* CLOCK_MONOTONIC in ns, for backoffs and deadlines. */
uint64_t fpgadma_now_ns(void);

#endif /* FPGADMA_PROTO_H */
