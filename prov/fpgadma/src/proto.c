// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: the data plane of a domain.
 *
 * A domain owns one kernel endpoint and its completion ring.  This file
 * keeps that endpoint's pools of receive and send buffers, posts work
 * requests (queueing what does not fit in the ring), takes completions off
 * the ring and runs the message protocol of proto.h: ordering per peer,
 * resends after RNR, matching, rendezvous reads, FIN / ACK / WRITEDATA.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define PEER_BUCKETS	64
#define ID_BUCKETS	256
#define POLL_BATCH	32
#define NOP_TRIES	3

/* A peer domain (kernel endpoint), as a destination and as a source. */
struct fpgadma_peer {
	struct fpgadma_peer *hnext;
	uint32_t ep_id;
	/* as a destination */
	uint32_t tx_seq;		/* next sequence number */
	struct dl undelivered;		/* txbufs sent, SEND not yet completed */
	struct dl rnrq;			/* txbufs waiting out a backoff, seq order */
	uint64_t retry_at;		/* ns; 0: not backing off */
	struct dl rnr_link;		/* on dp->rnr_peers while backing off */
	bool reached;			/* a SEND to it has completed */
	uint64_t absent_until;		/* ns: resend while nobody has its number */
	/* as a source */
	bool rx_known;
	uint32_t rx_gen;
	uint32_t rx_seq;		/* next sequence number expected */
	struct dl stash;		/* messages that came early, seq order */
};

/* A message that came before its turn, copied out of its buffer. */
struct fpgadma_stash {
	struct dl link;
	uint32_t seq;
	size_t len;
	union {
		struct fpgadma_hdr hdr;
		unsigned char bytes[1];
	} msg;				/* header, then payload */
};

/* A control message waiting for a send buffer. */
struct fpgadma_ctrl {
	struct dl link;
	uint32_t dest_ep;
	struct fpgadma_hdr hdr;
};

/* A receive buffer of the pool. */
struct fpgadma_rxbuf {
	struct fpgadma_work w;		/* kind RX, one RECV */
	struct fpgadma_wr wr;
	struct fpgadma_sge sge;
	void *buf;
};

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
	struct dl ids[ID_BUCKETS];	/* operations waiting for FIN / ACK */
	struct fpgadma_peer *peers[PEER_BUCKETS];
	uint64_t next_msg_id;
	unsigned int ep_cursor;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

void fpgadma_dp_lock(struct fpgadma_dp *dp)
{
	pthread_mutex_lock(&dp->d->lock);
}

void fpgadma_dp_unlock(struct fpgadma_dp *dp)
{
	pthread_mutex_unlock(&dp->d->lock);
}

const struct fpgadma_device_attr *fpgadma_dp_attr(struct fpgadma_dp *dp)
{
	return &dp->attr;
}

/* --- peers --------------------------------------------------------------- */

static struct fpgadma_peer *peer_get(struct fpgadma_dp *dp, uint32_t ep_id)
{
	struct fpgadma_peer **head = &dp->peers[ep_id % PEER_BUCKETS];
	struct fpgadma_peer *p;

	for (p = *head; p; p = p->hnext)
		if (p->ep_id == ep_id)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ep_id = ep_id;
	dl_init(&p->undelivered);
	dl_init(&p->rnrq);
	dl_init(&p->rnr_link);
	dl_init(&p->stash);
	p->hnext = *head;
	*head = p;
	return p;
}

static void peer_drop_stash(struct fpgadma_peer *p)
{
	struct dl *pos, *tmp;

	dl_foreach_safe(&p->stash, pos, tmp) {
		dl_del(pos);
		free(container_of(pos, struct fpgadma_stash, link));
	}
}

/* --- posting ------------------------------------------------------------- */

/*
 * Post what is left of w.  Returns true when nothing is left to post (all
 * posted, or the rest failed and went to the synth queue).
 */
static bool work_try_post(struct fpgadma_dp *dp, struct fpgadma_work *w)
{
	while (w->nposted < w->nwr) {
		size_t room = dp->ring_cap > dp->inflight ?
			      dp->ring_cap - dp->inflight : 0;
		size_t n = w->nwr - w->nposted;
		int ret;

		if (n > dp->max_post)
			n = dp->max_post;
		if (n > room)
			n = room;
		if (!n)
			return false;
		ret = fpgadma_post(dp->ctx, &w->wrs[w->nposted], (unsigned int)n);
		if (ret == -EAGAIN)
			return false;
		if (ret < 0) {
			FPGADMA_WARN(FI_LOG_EP_DATA, "post of %zu WRs: %s\n", n,
				     fpgadma_strerror(ret));
			/* complete the WRs never posted with an error */
			if (!w->first_err)
				w->first_err = FPGADMA_WC_GENERAL_ERR;
			return true;
		}
		w->nposted += (unsigned int)n;
		dp->inflight += n;
		if (w->kind != FPGADMA_WORK_RX)
			dp->tx_posted += n;
	}
	return true;
}

static bool work_unposted_failed(const struct fpgadma_work *w)
{
	return w->nposted < w->nwr;
}

/*
 * A deferrable work issued while other work of the domain is in flight
 * waits for the next progress call, which posts the works waiting together
 * (postq_post_batch): an application keeping a window of operations in
 * flight pays one system call per window instead of one per operation.
 * Something in flight means a completion will come, and wake any sleeper,
 * whose progress then posts the deferred works: nothing waits forever.
 */
void fpgadma_work_submit(struct fpgadma_dp *dp, struct fpgadma_work *w)
{
	if (w->deferrable && fpgadma_params.post_batch > 1 && dp->tx_posted &&
	    w->nwr < fpgadma_params.post_batch) {
		w->queued = true;
		dl_add_tail(&dp->postq, &w->qlink);
		return;
	}
	if (dl_empty(&dp->postq) && work_try_post(dp, w)) {
		if (work_unposted_failed(w)) {
			w->queued = true;
			dl_add_tail(&dp->synthq, &w->qlink);
		}
		return;
	}
	w->queued = true;
	dl_add_tail(&dp->postq, &w->qlink);
}

/* Most WRs postq_post_batch() gathers into one system call. */
#define POST_GATHER	64

/*
 * Post the works at the head of the post queue that wait whole, two or
 * more, in one system call.  False when there are not two of them that
 * fit, or when the kernel refused the batch (all or nothing): the caller
 * then posts the head work alone, which reports its own error.
 */
static bool postq_post_batch(struct fpgadma_dp *dp)
{
	struct fpgadma_wr batch[POST_GATHER];
	size_t room = dp->ring_cap > dp->inflight ? dp->ring_cap - dp->inflight : 0;
	size_t limit = fpgadma_params.post_batch;
	unsigned int n = 0, k = 0;
	struct fpgadma_work *w;
	struct dl *pos;

	if (limit > POST_GATHER)
		limit = POST_GATHER;
	if (limit > dp->max_post)
		limit = dp->max_post;
	if (limit > room)
		limit = room;
	for (pos = dp->postq.next; pos != &dp->postq; pos = pos->next) {
		w = container_of(pos, struct fpgadma_work, qlink);
		if (w->nposted || w->nwr > limit - n)
			break;
		memcpy(&batch[n], w->wrs, w->nwr * sizeof(*batch));
		n += w->nwr;
		k++;
	}
	if (k < 2 || fpgadma_post(dp->ctx, batch, n) < 0)
		return false;
	dp->inflight += n;
	while (k--) {
		w = dl_first(&dp->postq, struct fpgadma_work, qlink);
		dl_del(&w->qlink);
		w->queued = false;
		w->nposted = w->nwr;
		if (w->kind != FPGADMA_WORK_RX)
			dp->tx_posted += w->nwr;
	}
	return true;
}

static void postq_flush(struct fpgadma_dp *dp)
{
	while (!dl_empty(&dp->postq)) {
		struct fpgadma_work *w = dl_first(&dp->postq,
						  struct fpgadma_work, qlink);

		if (postq_post_batch(dp))
			continue;
		if (!work_try_post(dp, w))
			return;
		dl_del(&w->qlink);
		w->queued = false;
		if (work_unposted_failed(w)) {
			w->queued = true;
			dl_add_tail(&dp->synthq, &w->qlink);
		}
	}
}

/* --- send buffers ------------------------------------------------------- */

struct fpgadma_txbuf *fpgadma_txbuf_get(struct fpgadma_dp *dp, bool for_ctrl)
{
	struct fpgadma_txbuf *tb;

	if (!dp->host_ep || dl_empty(&dp->tx_free))
		return NULL;
	if (!for_ctrl && dp->tx_nfree <= dp->tx_reserve)
		return NULL;
	tb = dl_first(&dp->tx_free, struct fpgadma_txbuf, link);
	dl_del(&tb->link);
	dp->tx_nfree--;
	tb->op = NULL;
	tb->peer = NULL;
	tb->nop_tries = 0;
	memset(tb->hdr, 0, sizeof(*tb->hdr));
	return tb;
}

void fpgadma_txbuf_put(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb)
{
	dl_del(&tb->plink);
	tb->op = NULL;
	dl_add_tail(&dp->tx_free, &tb->link);
	dp->tx_nfree++;
}

/* Queue tb behind the peer's backoff, in sequence order, to be posted anew. */
static void rnrq_insert(struct fpgadma_peer *p, struct fpgadma_txbuf *tb)
{
	struct dl *pos = p->rnrq.prev;

	tb->w.nposted = 0;
	tb->w.ndone = 0;
	tb->w.first_err = 0;

	while (pos != &p->rnrq) {
		struct fpgadma_txbuf *o = container_of(pos, struct fpgadma_txbuf,
						       w.qlink);

		if (!seq_before(tb->seq, o->seq))
			break;
		pos = pos->prev;
	}
	dl_insert_before(pos->next, &tb->w.qlink);
	tb->w.queued = true;
}

static void txbuf_post(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb)
{
	tb->w.nposted = 0;
	tb->w.ndone = 0;
	tb->w.first_err = 0;
	if (tb->peer->retry_at)
		rnrq_insert(tb->peer, tb);
	else
		fpgadma_work_submit(dp, &tb->w);
}

static int txbuf_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
		      uint32_t dest_ep, size_t paylen)
{
	struct fpgadma_peer *p = peer_get(dp, dest_ep);

	if (!p)
		return -FI_ENOMEM;
	tb->peer = p;
	tb->hdr->version = FPGADMA_HDR_VERSION;
	tb->hdr->gen = dp->gen;
	tb->hdr->seq = tb->seq = p->tx_seq++;
	tb->hdr->low = dl_empty(&p->undelivered) ? tb->seq :
		       dl_first(&p->undelivered, struct fpgadma_txbuf, plink)->seq;
	dl_add_tail(&p->undelivered, &tb->plink);
	tb->sge.length = (uint32_t)(sizeof(*tb->hdr) + paylen);
	tb->wr.dest = dest_ep;
	txbuf_post(dp, tb);
	return 0;
}

void fpgadma_txbuf_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
			uint32_t dest_ep, size_t paylen)
{
	if (txbuf_send(dp, tb, dest_ep, paylen)) {
		struct fpgadma_op *op = tb->op;

		FPGADMA_WARN(FI_LOG_EP_DATA, "no memory for peer %u\n", dest_ep);
		fpgadma_txbuf_put(dp, tb);
		if (op) {
			if (op->wd == tb)
				op->wd = NULL;
			op->tb = NULL;
			op->err = FI_ENOMEM;
			op->pending = 0;
			fpgadma_op_complete(dp, op);
		}
	}
}

/* A control message (FIN, ACK): now, or when a send buffer is free. */
static void send_ctrl(struct fpgadma_dp *dp, uint32_t dest_ep,
		      const struct fpgadma_hdr *hdr)
{
	struct fpgadma_txbuf *tb = fpgadma_txbuf_get(dp, true);
	struct fpgadma_ctrl *c;

	if (tb && dl_empty(&dp->ctrlq)) {
		*tb->hdr = *hdr;
		fpgadma_txbuf_send(dp, tb, dest_ep, 0);
		return;
	}
	if (tb)
		fpgadma_txbuf_put(dp, tb);
	c = malloc(sizeof(*c));
	if (!c) {
		FPGADMA_WARN(FI_LOG_EP_DATA, "control message to %u lost\n",
			     dest_ep);
		return;
	}
	c->dest_ep = dest_ep;
	c->hdr = *hdr;
	dl_add_tail(&dp->ctrlq, &c->link);
}

static void ctrlq_flush(struct fpgadma_dp *dp)
{
	while (!dl_empty(&dp->ctrlq)) {
		struct fpgadma_ctrl *c = dl_first(&dp->ctrlq,
						  struct fpgadma_ctrl, link);
		struct fpgadma_txbuf *tb = fpgadma_txbuf_get(dp, true);

		if (!tb)
			return;
		dl_del(&c->link);
		*tb->hdr = c->hdr;
		fpgadma_txbuf_send(dp, tb, c->dest_ep, 0);
		free(c);
	}
}

static void send_reply(struct fpgadma_dp *dp, uint8_t type, uint32_t dest_ep,
		       uint16_t dest_idx, uint16_t src_idx, uint64_t msg_id,
		       uint32_t status)
{
	struct fpgadma_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	h.dst_idx = dest_idx;
	h.src_idx = src_idx;
	h.msg_id = msg_id;
	h.status = status;
	send_ctrl(dp, dest_ep, &h);
}

/* --- operations -------------------------------------------------------- */

struct fpgadma_op *fpgadma_op_alloc(struct fpgadma_ep *ep, void *context,
				    uint64_t op_flags)
{
	struct fpgadma_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->ep = ep;
	op->context = context;
	op->op_flags = op_flags;
	op->src_addr = FI_ADDR_NOTAVAIL;
	dl_init(&op->id_link);
	dl_add_tail(&ep->ops, &op->ep_link);
	dl_add_tail(&ep->dp->ops, &op->dp_link);
	return op;
}

void fpgadma_op_free(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	unsigned int i;

	for (i = 0; i < op->nmrs; i++) {
		int ret = fpgadma_dereg_mr(op->mrs[i]);

		if (ret)
			FPGADMA_WARN(FI_LOG_EP_DATA, "dereg_mr: %s\n",
				     fpgadma_strerror(ret));
	}
	for (i = 0; i < op->ntmps; i++)
		fpgadma_mr_local_release(dp->d, op->tmps[i]);
	if (op->id_listed)
		dl_del(&op->id_link);
	if (op->tb && op->tb->op == op)
		op->tb->op = NULL;	/* its SEND finishes without it */
	if (op->wd)
		fpgadma_txbuf_put(dp, op->wd);
	dl_del(&op->ep_link);
	dl_del(&op->dp_link);
	free(op->rd_iov);
	free(op->mrs);
	free(op->tmps);
	free(op->sges);
	free(op->w.wrs);
	free(op);
}

void fpgadma_op_wait_id(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	op->msg_id = ++dp->next_msg_id;
	dl_add_tail(&dp->ids[op->msg_id % ID_BUCKETS], &op->id_link);
	op->id_listed = true;
}

static struct fpgadma_op *op_by_id(struct fpgadma_dp *dp, uint64_t msg_id)
{
	struct dl *h = &dp->ids[msg_id % ID_BUCKETS], *pos;

	for (pos = h->next; pos != h; pos = pos->next) {
		struct fpgadma_op *op = container_of(pos, struct fpgadma_op,
						     id_link);

		if (op->msg_id == msg_id)
			return op;
	}
	return NULL;
}

static struct fpgadma_cntr *ep_cntr(struct fpgadma_ep *ep, int sel)
{
	switch (sel) {
	case FPGADMA_CNTR_SEND:
		return ep->send_cntr;
	case FPGADMA_CNTR_RECV:
		return ep->recv_cntr;
	case FPGADMA_CNTR_READ:
		return ep->read_cntr;
	case FPGADMA_CNTR_WRITE:
		return ep->write_cntr;
	default:
		return NULL;
	}
}

void fpgadma_report(struct fpgadma_cq *cq, bool selective, uint64_t op_flags,
		    bool no_comp, struct fpgadma_cntr *cntr,
		    const struct fpgadma_comp *c, int err, int prov_errno,
		    size_t olen)
{
	if (err) {
		if (cq)
			fpgadma_cq_write_err(cq, c, err, prov_errno, olen);
		if (cntr)
			fpgadma_cntr_inc_err(cntr);
		return;
	}
	if (cq && !no_comp && (!selective || (op_flags & FI_COMPLETION)))
		fpgadma_cq_write(cq, c);
	if (cntr)
		fpgadma_cntr_inc(cntr);
}

void fpgadma_op_complete(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	struct fpgadma_ep *ep = op->ep;

	if (ep) {
		struct fpgadma_comp c = {
			.op_context = op->context,
			.flags = op->cq_flags,
			.len = op->len,
			.buf = op->buf,
			.data = op->data,
			.tag = op->tag,
			.src_addr = FI_ADDR_NOTAVAIL,
		};

		if (op->counts_tx && ep->tx_inflight)
			ep->tx_inflight--;
		if (op->err) {
			c.len = 0;
			c.buf = NULL;
		}
		fpgadma_report(ep->tx_cq, ep->tx_selective, op->op_flags,
			       op->no_comp, ep_cntr(ep, op->cntr_sel), &c,
			       op->err, op->prov_errno, 0);
	}
	fpgadma_op_free(dp, op);
}

/* One of the events a send waits for; err a positive FI_E* code. */
static void op_event(struct fpgadma_dp *dp, struct fpgadma_op *op, int err,
		     int prov_errno)
{
	if (err) {
		if (!op->err) {
			op->err = err;
			op->prov_errno = prov_errno;
		}
		op->pending = 0;	/* nothing else will come */
	} else if (op->pending) {
		op->pending--;
	}
	if (!op->pending)
		fpgadma_op_complete(dp, op);
}

/* --- local buffers and work requests ------------------------------------ */

static int push_mr(struct fpgadma_mr ***arr, unsigned int *n,
		   struct fpgadma_mr *mr)
{
	struct fpgadma_mr **a = realloc(*arr, (*n + 1) * sizeof(*a));

	if (!a)
		return -FI_ENOMEM;
	a[(*n)++] = mr;
	*arr = a;
	return 0;
}

int fpgadma_reg_remote_read(struct fpgadma_dp *dp, struct fpgadma_op *op,
			    void *buf, size_t len, struct fpgadma_mr **mr)
{
	int ret = fpgadma_reg_mr(dp->d->pd, buf, len,
				 FPGADMA_ACCESS_REMOTE_READ, mr);

	if (ret)
		return fpgadma_errno_to_fi(ret);
	ret = push_mr(&op->mrs, &op->nmrs, *mr);
	if (ret) {
		fpgadma_dereg_mr(*mr);
		return ret;
	}
	return 0;
}

int fpgadma_local_pieces(struct fpgadma_dp *dp, struct fpgadma_op *op,
			 const struct iovec *iov, void **desc, size_t count,
			 size_t max_len, bool device_writes,
			 struct fpgadma_sge **sges)
{
	uint64_t reg_max = dp->attr.max_mr_size ? dp->attr.max_mr_size : SIZE_MAX;
	struct fpgadma_sge *arr = NULL;
	size_t n = 0, cap = 0, left = max_len, i;

	for (i = 0; i < count && left; i++) {
		char *base = iov[i].iov_base;
		size_t len = iov[i].iov_len < left ? iov[i].iov_len : left;
		size_t off = 0;

		while (off < len) {
			size_t chunk = len - off, p = 0;
			struct fpgadma_mr *tmp = NULL;
			uint32_t lkey;
			int ret;

			if (chunk > reg_max)
				chunk = reg_max;
			ret = fpgadma_mr_local(dp->d, desc ? desc[i] : NULL,
					       base + off, chunk, device_writes,
					       &lkey, &tmp);
			if (!ret && tmp)
				ret = push_mr(&op->tmps, &op->ntmps, tmp);
			if (ret) {
				if (tmp && (!op->ntmps ||
					    op->tmps[op->ntmps - 1] != tmp))
					fpgadma_mr_local_release(dp->d, tmp);
				free(arr);
				return ret;
			}
			while (p < chunk) {
				size_t plen = chunk - p;

				if (plen > FPGADMA_PIECE_MAX)
					plen = FPGADMA_PIECE_MAX;
				if (n == cap) {
					struct fpgadma_sge *a;

					cap = cap ? 2 * cap : 8;
					a = realloc(arr, cap * sizeof(*a));
					if (!a) {
						free(arr);
						return -FI_ENOMEM;
					}
					arr = a;
				}
				arr[n].addr = (uint64_t)(uintptr_t)(base + off + p);
				arr[n].length = (uint32_t)plen;
				arr[n].lkey = lkey;
				n++;
				p += plen;
			}
			off += chunk;
		}
		left -= len;
	}
	*sges = arr;
	return (int)n;
}

/*
 * Walk local pieces against remote segments.  Counts WRs and pieces when
 * wrs is NULL; fills them otherwise.
 */
static void wr_walk(const struct fpgadma_sge *l, unsigned int nl,
		    const struct fpgadma_rseg *r, unsigned int nr,
		    unsigned int max_sge, struct fpgadma_wr *wrs,
		    struct fpgadma_sge *out, unsigned int *nwr,
		    unsigned int *nout)
{
	unsigned int li = 0, ri = 0, w = 0, o = 0;
	uint64_t loff = 0, roff = 0;

	while (li < nl) {
		unsigned int first = o, cnt = 0;
		uint64_t raddr;

		while (ri < nr && roff >= r[ri].len) {
			ri++;
			roff = 0;
		}
		if (ri == nr)
			break;
		raddr = r[ri].addr + roff;
		while (li < nl && cnt < max_sge && roff < r[ri].len) {
			uint64_t n = l[li].length - loff;

			if (n > r[ri].len - roff)
				n = r[ri].len - roff;
			if (n) {
				if (out) {
					out[o].addr = l[li].addr + loff;
					out[o].length = (uint32_t)n;
					out[o].lkey = l[li].lkey;
				}
				o++;
				cnt++;
				loff += n;
				roff += n;
			}
			if (loff == l[li].length) {
				li++;
				loff = 0;
			}
		}
		if (cnt) {
			if (wrs) {
				memset(&wrs[w], 0, sizeof(wrs[w]));
				wrs[w].dev_addr = raddr;
				wrs[w].sg_list = (uint64_t)(uintptr_t)&out[first];
				wrs[w].num_sge = cnt;
				wrs[w].rkey = r[ri].rkey;
			}
			w++;
		}
	}
	*nwr = w;
	*nout = o;
}

int fpgadma_build_wrs(struct fpgadma_dp *dp, struct fpgadma_op *op,
		      uint32_t opcode, uint32_t flags,
		      const struct fpgadma_sge *sges, unsigned int nsge,
		      const struct fpgadma_rseg *rsegs, unsigned int nrseg)
{
	unsigned int nwr, nout, i;
	struct fpgadma_wr *wrs;
	struct fpgadma_sge *out;

	wr_walk(sges, nsge, rsegs, nrseg, dp->max_sge, NULL, NULL, &nwr, &nout);
	if (!nwr) {
		/* a zero-length transfer: one WR without pieces */
		wrs = calloc(1, sizeof(*wrs));
		if (!wrs)
			return -FI_ENOMEM;
		wrs[0].dev_addr = nrseg ? rsegs[0].addr : 0;
		wrs[0].rkey = nrseg ? rsegs[0].rkey : 0;
		nwr = 1;
		out = NULL;
	} else {
		wrs = calloc(nwr, sizeof(*wrs));
		out = calloc(nout, sizeof(*out));
		if (!wrs || !out) {
			free(wrs);
			free(out);
			return -FI_ENOMEM;
		}
		wr_walk(sges, nsge, rsegs, nrseg, dp->max_sge, wrs, out, &nwr,
			&nout);
	}
	for (i = 0; i < nwr; i++) {
		wrs[i].wr_id = (uint64_t)(uintptr_t)&op->w;
		wrs[i].opcode = opcode;
		wrs[i].flags = flags;
	}
	free(op->w.wrs);
	free(op->sges);
	op->w.wrs = wrs;
	op->w.nwr = nwr;
	op->w.nposted = op->w.ndone = 0;
	op->sges = out;
	return 0;
}

/* --- receiving ----------------------------------------------------------- */

static void rxbuf_post(struct fpgadma_dp *dp, struct fpgadma_rxbuf *rb)
{
	rb->w.nposted = rb->w.ndone = 0;
	rb->w.first_err = 0;
	fpgadma_work_submit(dp, &rb->w);
}

bool fpgadma_rx_match(const struct fpgadma_ep *ep,
		      const struct fpgadma_rx_entry *rx,
		      const struct fpgadma_hdr *hdr, fi_addr_t src_addr)
{
	if ((ep->caps & FI_DIRECTED_RECV) && rx->src != FI_ADDR_UNSPEC &&
	    rx->src != src_addr)
		return false;
	if (rx->tagged && ((rx->tag ^ hdr->tag) & ~rx->ignore))
		return false;
	return true;
}

void fpgadma_rx_report(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
		       struct fpgadma_comp *c, int err, int prov_errno,
		       size_t olen)
{
	(void)rx;
	if (!ep)
		return;
	fpgadma_report(ep->rx_cq, ep->rx_selective, rx->flags, false,
		       ep->recv_cntr, c, err, prov_errno, olen);
}

void fpgadma_rx_entry_free(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx)
{
	if (rx->listed) {
		dl_del(&rx->link);
		rx->listed = false;
		if (ep && ep->rx_posted)
			ep->rx_posted--;
	}
	free(rx);
}

/* Stop a receive from matching more messages. */
static void rx_unlist(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx)
{
	if (rx->listed) {
		dl_del(&rx->link);
		rx->listed = false;
		if (ep && ep->rx_posted)
			ep->rx_posted--;
	}
}

/* A message of a receive is complete: report it, release the receive. */
static void rx_msg_done(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
			struct fpgadma_comp *c, int err, int prov_errno,
			size_t olen)
{
	bool multi = rx->flags & FI_MULTI_RECV;
	bool last = !multi || (rx->released && !rx->refs);

	if (multi && last)
		c->flags |= FI_MULTI_RECV;
	fpgadma_rx_report(ep, rx, c, err, prov_errno, olen);
	if (last)
		fpgadma_rx_entry_free(ep, rx);
}

/* Take len bytes of a receive for a message; returns where they start. */
static void rx_take(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
		    size_t len)
{
	if (!(rx->flags & FI_MULTI_RECV)) {
		rx_unlist(ep, rx);
		return;
	}
	rx->used += len;
	if (rx->iov[0].iov_len - rx->used < rx->min_free) {
		rx->released = true;
		rx_unlist(ep, rx);
	}
}

static size_t copy_to_iov(const struct iovec *iov, size_t count,
			  const void *src, size_t len)
{
	size_t done = 0, i;

	for (i = 0; i < count && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		memcpy(iov[i].iov_base, (const char *)src + done, n);
		done += n;
	}
	return done;
}

static uint64_t rx_cq_flags(const struct fpgadma_hdr *hdr)
{
	uint64_t f = FI_RECV;

	f |= (hdr->flags & FPGADMA_HDR_TAGGED) ? FI_TAGGED : FI_MSG;
	if (hdr->flags & FPGADMA_HDR_CQ_DATA)
		f |= FI_REMOTE_CQ_DATA;
	return f;
}

/* A rendezvous read is over: FIN to the sender, complete the receive. */
static void rdv_done(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	struct fpgadma_rx_entry *rx = op->rx;
	struct fpgadma_ep *ep = op->ep;
	struct fpgadma_comp c = {
		.op_context = op->context,
		.flags = op->cq_flags,
		.len = op->len,
		.buf = op->buf,
		.data = op->data,
		.tag = op->tag,
		.src_addr = op->src_addr,
	};
	int err = op->err, prov = op->prov_errno;

	if (!err && op->w.first_err) {
		err = fpgadma_wc_to_fi(op->w.first_err);
		prov = (int)op->w.first_err;
	}
	send_reply(dp, FPGADMA_MSG_FIN, op->peer_ep, op->peer_idx,
		   ep ? (uint16_t)ep->ep_idx : 0, op->peer_msg_id,
		   err ? (uint32_t)err : 0);
	if (!err && op->olen)
		err = FI_ETRUNC;
	if (err && err != FI_ETRUNC)
		c.len = 0;
	if (rx->refs)
		rx->refs--;
	rx_msg_done(rx->ep, rx, &c, err, prov, err == FI_ETRUNC ? op->olen : 0);
	op->rx = NULL;
	fpgadma_op_free(dp, op);
}

/* Start reading an RTS's data into a receive; returns whether rx is still posted. */
static bool rdv_start(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		      struct fpgadma_rx_entry *rx, const struct fpgadma_hdr *hdr,
		      uint32_t src_ep, fi_addr_t src_addr,
		      const struct fpgadma_rts_seg *segs)
{
	const struct iovec *iov = rx->iov;
	size_t count = rx->count, space = 0, i, recv_len;
	struct iovec one;
	struct fpgadma_rseg *rs = NULL;
	struct fpgadma_sge *sges = NULL;
	struct fpgadma_op *op;
	bool listed;
	int n, ret;

	if (rx->flags & FI_MULTI_RECV) {
		one.iov_base = (char *)rx->iov[0].iov_base + rx->used;
		one.iov_len = rx->iov[0].iov_len - rx->used;
		iov = &one;
		count = 1;
	}
	for (i = 0; i < count; i++)
		space += iov[i].iov_len;
	recv_len = hdr->len < space ? hdr->len : space;

	op = fpgadma_op_alloc(ep, rx->context, rx->flags);
	if (!op) {
		struct fpgadma_comp c = {
			.op_context = rx->context,
			.flags = rx_cq_flags(hdr),
			.tag = hdr->tag,
			.src_addr = src_addr,
		};

		send_reply(dp, FPGADMA_MSG_FIN, src_ep, hdr->src_idx,
			   (uint16_t)ep->ep_idx, hdr->msg_id, FI_ENOMEM);
		rx_take(ep, rx, 0);
		listed = rx->listed;
		rx_msg_done(ep, rx, &c, FI_ENOMEM, 0, 0);
		return listed;
	}
	op->w.kind = FPGADMA_WORK_RDV;
	op->rx = rx;
	op->rx_tagged = rx->tagged;
	op->cq_flags = rx_cq_flags(hdr);
	op->len = recv_len;
	op->olen = hdr->len - recv_len;
	op->buf = count ? iov[0].iov_base : NULL;
	op->tag = hdr->tag;
	op->data = hdr->data;
	op->src_addr = src_addr;
	op->peer_ep = src_ep;
	op->peer_idx = hdr->src_idx;
	op->peer_msg_id = hdr->msg_id;
	rx->refs++;
	rx_take(ep, rx, recv_len);
	listed = rx->listed;	/* a posted rx is not freed below */

	if (!recv_len) {
		rdv_done(dp, op);
		return listed;
	}
	n = fpgadma_local_pieces(dp, op, iov, rx->desc, count, recv_len, true,
				 &sges);
	if (n < 0) {
		op->err = -n;
		rdv_done(dp, op);
		return listed;
	}
	rs = calloc(hdr->nseg ? hdr->nseg : 1, sizeof(*rs));
	if (!rs) {
		free(sges);
		op->err = FI_ENOMEM;
		rdv_done(dp, op);
		return listed;
	}
	for (i = 0; i < hdr->nseg; i++) {
		rs[i].addr = segs[i].addr;
		rs[i].len = segs[i].len;
		rs[i].rkey = segs[i].rkey;
	}
	ret = fpgadma_build_wrs(dp, op, FPGADMA_WR_RDMA_READ, 0, sges,
				(unsigned int)n, rs, hdr->nseg);
	free(sges);
	free(rs);
	if (ret) {
		op->err = -ret;
		rdv_done(dp, op);
		return listed;
	}
	fpgadma_work_submit(dp, &op->w);
	return listed;
}

/*
 * Deliver a message (EAGER or RTS) into a matching receive.  Returns
 * whether the receive is still posted.
 */
static bool deliver(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		    struct fpgadma_rx_entry *rx, const struct fpgadma_hdr *hdr,
		    uint32_t src_ep, fi_addr_t src_addr, const void *pay,
		    size_t paylen)
{
	struct fpgadma_comp c = {
		.op_context = rx->context,
		.flags = rx_cq_flags(hdr),
		.data = hdr->data,
		.tag = hdr->tag,
		.src_addr = src_addr,
	};
	const struct iovec *iov = rx->iov;
	size_t count = rx->count, copied;
	struct iovec one;
	bool listed;

	if (hdr->type == FPGADMA_MSG_RTS)
		return rdv_start(dp, ep, rx, hdr, src_ep, src_addr, pay);
	if (rx->flags & FI_MULTI_RECV) {
		one.iov_base = (char *)rx->iov[0].iov_base + rx->used;
		one.iov_len = rx->iov[0].iov_len - rx->used;
		iov = &one;
		count = 1;
	}
	copied = copy_to_iov(iov, count, pay, paylen);
	if (hdr->flags & FPGADMA_HDR_WANT_ACK)
		send_reply(dp, FPGADMA_MSG_ACK, src_ep, hdr->src_idx,
			   (uint16_t)ep->ep_idx, hdr->msg_id, 0);
	c.len = copied;
	c.buf = count ? iov[0].iov_base : NULL;
	rx_take(ep, rx, copied);
	listed = rx->listed;
	rx_msg_done(ep, rx, &c, copied < paylen ? FI_ETRUNC : 0, 0,
		    paylen - copied);
	return listed;
}

bool fpgadma_deliver_unexp(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
			   struct fpgadma_rx_entry *rx, struct fpgadma_unexp *u)
{
	bool listed;

	dl_del(&u->link);
	listed = deliver(dp, ep, rx, &u->hdr, u->src_ep, u->src_addr,
			 u->payload, u->paylen);
	free(u);
	return listed;
}

void fpgadma_discard_unexp(struct fpgadma_dp *dp, struct fpgadma_unexp *u,
			   uint32_t status)
{
	dl_del(&u->link);
	if (u->hdr.type == FPGADMA_MSG_RTS)
		send_reply(dp, FPGADMA_MSG_FIN, u->src_ep, u->hdr.src_idx,
			   u->hdr.dst_idx, u->hdr.msg_id, status);
	else if (u->hdr.flags & FPGADMA_HDR_WANT_ACK)
		send_reply(dp, FPGADMA_MSG_ACK, u->src_ep, u->hdr.src_idx,
			   u->hdr.dst_idx, u->hdr.msg_id, status);
	free(u);
}

static struct fpgadma_ep *dst_ep(struct fpgadma_dp *dp, uint16_t idx)
{
	return idx < FPGADMA_MAX_EPS ? dp->d->eps[idx] : NULL;
}

/* An EAGER or RTS message for one of our endpoints. */
static void msg_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			const struct fpgadma_hdr *hdr, const void *pay,
			size_t paylen)
{
	struct fpgadma_ep *ep = dst_ep(dp, hdr->dst_idx);
	bool tagged = hdr->flags & FPGADMA_HDR_TAGGED;
	struct fpgadma_unexp *u;
	fi_addr_t src_addr;
	struct dl *pos;

	if (!ep) {
		FPGADMA_DBG(FI_LOG_EP_DATA, "message for missing endpoint %u\n",
			    hdr->dst_idx);
		if (hdr->type == FPGADMA_MSG_RTS)
			send_reply(dp, FPGADMA_MSG_FIN, src_ep, hdr->src_idx,
				   hdr->dst_idx, hdr->msg_id, FI_ENOENT);
		else if (hdr->flags & FPGADMA_HDR_WANT_ACK)
			send_reply(dp, FPGADMA_MSG_ACK, src_ep, hdr->src_idx,
				   hdr->dst_idx, hdr->msg_id, FI_ENOENT);
		return;
	}
	src_addr = fpgadma_ep_src_addr(ep, src_ep, hdr->src_idx);
	for (pos = (tagged ? &ep->rx_tag : &ep->rx_msg)->next;
	     pos != (tagged ? &ep->rx_tag : &ep->rx_msg); pos = pos->next) {
		struct fpgadma_rx_entry *rx =
			container_of(pos, struct fpgadma_rx_entry, link);

		if (fpgadma_rx_match(ep, rx, hdr, src_addr)) {
			deliver(dp, ep, rx, hdr, src_ep, src_addr, pay, paylen);
			return;
		}
	}
	u = malloc(sizeof(*u) + paylen);
	if (!u) {
		FPGADMA_WARN(FI_LOG_EP_DATA, "no memory: message dropped\n");
		if (hdr->type == FPGADMA_MSG_RTS)
			send_reply(dp, FPGADMA_MSG_FIN, src_ep, hdr->src_idx,
				   hdr->dst_idx, hdr->msg_id, FI_ENOMEM);
		return;
	}
	u->hdr = *hdr;
	u->src_ep = src_ep;
	u->src_addr = src_addr;
	u->paylen = paylen;
	memcpy(u->payload, pay, paylen);
	dl_add_tail(tagged ? &ep->unexp_tag : &ep->unexp_msg, &u->link);
}

static void writedata_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			      const struct fpgadma_hdr *hdr)
{
	struct fpgadma_ep *ep = dst_ep(dp, hdr->dst_idx);
	struct fpgadma_comp c = {
		.flags = FI_RMA | FI_REMOTE_WRITE | FI_REMOTE_CQ_DATA,
		.len = hdr->len,
		.data = hdr->data,
	};

	if (!ep)
		return;
	c.src_addr = fpgadma_ep_src_addr(ep, src_ep, hdr->src_idx);
	/* remote CQ data always makes a completion (fi_cq(3)) */
	if (ep->rx_cq)
		fpgadma_cq_write(ep->rx_cq, &c);
	if (ep->rwrite_cntr)
		fpgadma_cntr_inc(ep->rwrite_cntr);
}

/* A message in its turn. */
static void msg_process(struct fpgadma_dp *dp, uint32_t src_ep,
			const struct fpgadma_hdr *hdr, const void *pay,
			size_t paylen)
{
	struct fpgadma_op *op;

	switch (hdr->type) {
	case FPGADMA_MSG_NOP:
		break;
	case FPGADMA_MSG_EAGER:
	case FPGADMA_MSG_RTS:
		msg_arrived(dp, src_ep, hdr, pay, paylen);
		break;
	case FPGADMA_MSG_FIN:
	case FPGADMA_MSG_ACK:
		op = op_by_id(dp, hdr->msg_id);
		if (!op)
			break;		/* its endpoint closed meanwhile */
		dl_del(&op->id_link);
		op->id_listed = false;
		op_event(dp, op, (int)hdr->status, 0);
		break;
	case FPGADMA_MSG_WRITEDATA:
		writedata_arrived(dp, src_ep, hdr);
		break;
	default:
		FPGADMA_WARN(FI_LOG_EP_DATA, "unknown message type %u\n",
			     hdr->type);
	}
}

/* Is the message well formed?  Returns its payload length or -1. */
static long msg_check(const struct fpgadma_hdr *hdr, size_t byte_len)
{
	size_t paylen;

	if (byte_len < sizeof(*hdr) || hdr->version != FPGADMA_HDR_VERSION)
		return -1;
	paylen = byte_len - sizeof(*hdr);
	if (hdr->type == FPGADMA_MSG_EAGER && hdr->len != paylen)
		return -1;
	if (hdr->type == FPGADMA_MSG_RTS) {
		const struct fpgadma_rts_seg *s = (const void *)(hdr + 1);
		uint64_t total = 0;
		uint32_t i;

		if (hdr->nseg > paylen / sizeof(*s))
			return -1;
		for (i = 0; i < hdr->nseg; i++)
			total += s[i].len;
		if (total < hdr->len)
			return -1;
	}
	return (long)paylen;
}

static void rx_cqe(struct fpgadma_dp *dp, struct fpgadma_rxbuf *rb,
		   const struct fpgadma_cqe *cqe)
{
	const struct fpgadma_hdr *hdr = rb->buf;
	struct fpgadma_peer *p;
	long paylen;

	if (cqe->status == FPGADMA_WC_FLUSH_ERR)
		return;		/* the context is closing */
	if (cqe->status != FPGADMA_WC_SUCCESS) {
		FPGADMA_WARN(FI_LOG_EP_DATA, "receive: %s\n",
			     fpgadma_wc_status_str(cqe->status));
		rxbuf_post(dp, rb);
		return;
	}
	paylen = msg_check(hdr, cqe->byte_len);
	p = peer_get(dp, cqe->src_ep);
	if (paylen < 0 || !p) {
		FPGADMA_WARN(FI_LOG_EP_DATA, "message from %u dropped (%s)\n",
			     cqe->src_ep, p ? "malformed" : "no memory");
		rxbuf_post(dp, rb);
		return;
	}
	if (!p->rx_known || p->rx_gen != hdr->gen) {
		/* a sender new to us: its stream starts at low (proto.h) */
		peer_drop_stash(p);
		p->rx_known = true;
		p->rx_gen = hdr->gen;
		p->rx_seq = hdr->low;
	}
	if (hdr->seq != p->rx_seq) {
		struct fpgadma_stash *s;
		struct dl *pos;

		if (seq_before(hdr->seq, p->rx_seq)) {
			FPGADMA_WARN(FI_LOG_EP_DATA, "old message %u from %u\n",
				     hdr->seq, cqe->src_ep);
			rxbuf_post(dp, rb);
			return;
		}
		s = malloc(offsetof(struct fpgadma_stash, msg) + cqe->byte_len);
		if (!s) {
			FPGADMA_WARN(FI_LOG_EP_DATA, "no memory: message lost\n");
			rxbuf_post(dp, rb);
			return;
		}
		s->seq = hdr->seq;
		s->len = cqe->byte_len;
		memcpy(s->msg.bytes, hdr, cqe->byte_len);
		rxbuf_post(dp, rb);
		for (pos = p->stash.prev; pos != &p->stash; pos = pos->prev)
			if (!seq_before(s->seq, container_of(pos,
				struct fpgadma_stash, link)->seq))
				break;
		dl_insert_before(pos->next, &s->link);
		return;
	}
	msg_process(dp, cqe->src_ep, hdr, hdr + 1, (size_t)paylen);
	p->rx_seq++;
	rxbuf_post(dp, rb);
	while (!dl_empty(&p->stash)) {
		struct fpgadma_stash *s = dl_first(&p->stash,
						   struct fpgadma_stash, link);

		if (s->seq != p->rx_seq)
			break;
		dl_del(&s->link);
		msg_process(dp, cqe->src_ep, &s->msg.hdr, &s->msg.hdr + 1,
			    s->len - sizeof(s->msg.hdr));
		p->rx_seq++;
		free(s);
	}
}

/* --- sending completions -------------------------------------------------- */

/*
 * A SEND found no endpoint with the peer's number.  If the peer never
 * answered, it may be a server that has not bound its service yet (a
 * client started a moment after it, as runfabtests.sh starts them): resend
 * for FI_FPGADMA_CONNECT_TIMEOUT_MS, as TCP's connect retries its SYN.  A
 * peer that was reached and is gone is gone for good.
 */
static bool peer_not_there_yet(struct fpgadma_peer *p)
{
	uint64_t now = now_ns();

	if (p->reached || !fpgadma_params.connect_timeout_ms)
		return false;
	if (!p->absent_until)
		p->absent_until = now +
			(uint64_t)fpgadma_params.connect_timeout_ms * 1000000;
	return now < p->absent_until;
}

static void tx_cqe(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
		   uint32_t status)
{
	struct fpgadma_op *op = tb->op;
	struct fpgadma_peer *p = tb->peer;

	if (op && op->tb == tb)
		op->tb = NULL;
	if (status == FPGADMA_WC_SUCCESS) {
		p->reached = true;
		if (op && op->wd == tb)
			op->wd = NULL;
		fpgadma_txbuf_put(dp, tb);
		if (op)
			op_event(dp, op, 0, 0);
		return;
	}
	if (status == FPGADMA_WC_RNR_ERR ||
	    (status == FPGADMA_WC_REM_INV_REQ_ERR && peer_not_there_yet(p))) {
		/* resend after the peer has had time to repost (or to bind) */
		uint64_t wait_us = status == FPGADMA_WC_RNR_ERR ?
				   (uint64_t)fpgadma_params.rnr_retry_us : 1000;

		if (op)
			op->tb = tb;
		rnrq_insert(p, tb);
		if (!p->retry_at) {
			p->retry_at = now_ns() + wait_us * 1000;
			if (!p->retry_at)
				p->retry_at = 1;
			dl_add_tail(&dp->rnr_peers, &p->rnr_link);
		}
		return;
	}
	FPGADMA_DBG(FI_LOG_EP_DATA, "send to %u: %s\n", p->ep_id,
		    fpgadma_wc_status_str(status));
	if (op) {
		if (op->wd == tb)
			op->wd = NULL;
		tb->op = NULL;
		op_event(dp, op, fpgadma_wc_to_fi(status), (int)status);
	}
	if (status != FPGADMA_WC_FLUSH_ERR && tb->nop_tries < NOP_TRIES) {
		/* keep the peer's sequence without a hole */
		tb->nop_tries++;
		tb->hdr->type = FPGADMA_MSG_NOP;
		tb->hdr->flags = 0;
		tb->sge.length = sizeof(*tb->hdr);
		txbuf_post(dp, tb);
		return;
	}
	fpgadma_txbuf_put(dp, tb);
}

static void rma_done(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	if (op->w.first_err && !op->err) {
		op->err = fpgadma_wc_to_fi(op->w.first_err);
		op->prov_errno = (int)op->w.first_err;
	}
	if (!op->err && op->rd_iov) {
		const char *p = fpgadma_txbuf_payload(op->wd);
		size_t i;

		for (i = 0; i < op->rd_count; i++) {
			memcpy(op->rd_iov[i].iov_base, p, op->rd_iov[i].iov_len);
			p += op->rd_iov[i].iov_len;
		}
	}
	if (!op->err && op->wd && op->wd_send) {
		/* the data is there: now tell the target */
		struct fpgadma_txbuf *tb = op->wd;
		struct fpgadma_hdr *h = tb->hdr;

		memset(h, 0, sizeof(*h));
		h->type = FPGADMA_MSG_WRITEDATA;
		h->flags = FPGADMA_HDR_CQ_DATA;
		h->dst_idx = op->dest_idx;
		h->src_idx = op->ep ? (uint16_t)op->ep->ep_idx : 0;
		h->data = op->data;
		h->len = op->len;
		tb->op = op;
		op->tb = tb;
		op->pending = 1;
		if (!txbuf_send(dp, tb, op->dest_ep, 0))
			return;
		op->err = FI_ENOMEM;
	}
	fpgadma_op_complete(dp, op);
}

/* One WR of a work is over (or never ran: posted false). */
static void work_cqe(struct fpgadma_dp *dp, struct fpgadma_work *w,
		     const struct fpgadma_cqe *cqe)
{
	switch (w->kind) {
	case FPGADMA_WORK_RX:
		rx_cqe(dp, container_of(w, struct fpgadma_rxbuf, w), cqe);
		return;
	case FPGADMA_WORK_TX:
		tx_cqe(dp, container_of(w, struct fpgadma_txbuf, w),
		       cqe->status);
		return;
	case FPGADMA_WORK_RMA:
	case FPGADMA_WORK_RDV:
		w->ndone++;
		if (cqe->status && !w->first_err)
			w->first_err = cqe->status;
		if (w->ndone < w->nwr)
			return;
		if (w->kind == FPGADMA_WORK_RMA)
			rma_done(dp, container_of(w, struct fpgadma_op, w));
		else
			rdv_done(dp, container_of(w, struct fpgadma_op, w));
		return;
	default:
		FPGADMA_WARN(FI_LOG_EP_DATA, "CQE of unknown work %p\n",
			     (void *)w);
	}
}

/* Complete the WRs of works that could not be posted. */
static void synthq_flush(struct fpgadma_dp *dp)
{
	while (!dl_empty(&dp->synthq)) {
		struct fpgadma_work *w = dl_first(&dp->synthq,
						  struct fpgadma_work, qlink);
		struct fpgadma_cqe cqe;
		unsigned int left = w->nwr - w->nposted;

		dl_del(&w->qlink);
		w->queued = false;
		memset(&cqe, 0, sizeof(cqe));
		cqe.wr_id = (uint64_t)(uintptr_t)w;
		cqe.status = FPGADMA_WC_GENERAL_ERR;
		if (w->kind == FPGADMA_WORK_RX)
			continue;	/* a receive buffer that cannot be posted is left out */
		/* the last call may free w */
		while (left--)
			work_cqe(dp, w, &cqe);
	}
}

static void rnr_tick(struct fpgadma_dp *dp)
{
	uint64_t now;
	struct dl *pos, *tmp;

	if (dl_empty(&dp->rnr_peers))
		return;
	now = now_ns();
	dl_foreach_safe(&dp->rnr_peers, pos, tmp) {
		struct fpgadma_peer *p = container_of(pos, struct fpgadma_peer,
						      rnr_link);

		if (p->retry_at > now)
			continue;
		p->retry_at = 0;
		dl_del(&p->rnr_link);
		while (!dl_empty(&p->rnrq)) {
			struct fpgadma_work *w = dl_first(&p->rnrq,
							  struct fpgadma_work,
							  qlink);

			dl_del(&w->qlink);
			w->queued = false;
			fpgadma_work_submit(dp, w);
		}
	}
}

void fpgadma_dp_progress_locked(struct fpgadma_dp *dp)
{
	struct fpgadma_cqe cqes[POLL_BATCH];
	int round, i, n;

	if (!dp)
		return;
	/* Deferred works first: the engine may complete them at once. */
	postq_flush(dp);
	for (round = 0; round < 64; round++) {
		n = fpgadma_poll(dp->ctx, cqes, POLL_BATCH);
		if (n == -EOVERFLOW) {
			FPGADMA_WARN(FI_LOG_EP_DATA,
				     "the kernel lost a completion\n");
			continue;
		}
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			struct fpgadma_work *w =
				(void *)(uintptr_t)cqes[i].wr_id;

			if (dp->inflight)
				dp->inflight--;
			if (w->kind != FPGADMA_WORK_RX && dp->tx_posted)
				dp->tx_posted--;
			work_cqe(dp, w, &cqes[i]);
		}
		if (n < POLL_BATCH)
			break;
	}
	synthq_flush(dp);
	rnr_tick(dp);
	ctrlq_flush(dp);
	postq_flush(dp);
	synthq_flush(dp);
}

void fpgadma_progress(struct fpgadma_domain *d)
{
	if (!d->dp)
		return;
	pthread_mutex_lock(&d->lock);
	fpgadma_dp_progress_locked(d->dp);
	pthread_mutex_unlock(&d->lock);
}

int fpgadma_dp_timeout_ms(struct fpgadma_domain *d)
{
	struct fpgadma_dp *dp = d->dp;
	uint64_t first = 0, now;
	struct dl *pos;
	int ms;

	if (!dp)
		return -1;
	pthread_mutex_lock(&d->lock);
	for (pos = dp->rnr_peers.next; pos != &dp->rnr_peers; pos = pos->next) {
		struct fpgadma_peer *p = container_of(pos, struct fpgadma_peer,
						      rnr_link);

		if (!first || p->retry_at < first)
			first = p->retry_at;
	}
	if (!first && dl_empty(&dp->synthq)) {
		pthread_mutex_unlock(&d->lock);
		return -1;
	}
	pthread_mutex_unlock(&d->lock);
	now = now_ns();
	if (!first || first <= now)
		return 0;
	ms = (int)((first - now + 999999) / 1000000);
	return ms;
}

int fpgadma_dp_slice_ms(struct fpgadma_domain *d)
{
	int ms = fpgadma_dp_timeout_ms(d);

	return ms < 0 ? 0 : (ms ? ms : 1);
}

/* --- endpoints ------------------------------------------------------------ */

int fpgadma_dp_ep_add(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		      uint32_t want)
{
	unsigned int i;

	if (want < FPGADMA_MAX_EPS && !dp->d->eps[want]) {
		dp->d->eps[want] = ep;
		ep->ep_idx = want;
		return 0;
	}
	/* round robin, so a new endpoint rarely gets a recent one's index */
	for (i = 0; i < FPGADMA_MAX_EPS; i++) {
		unsigned int idx = (dp->ep_cursor + i) % FPGADMA_MAX_EPS;

		if (!dp->d->eps[idx]) {
			dp->d->eps[idx] = ep;
			ep->ep_idx = idx;
			dp->ep_cursor = idx + 1;
			return 0;
		}
	}
	return -FI_ENOSPC;
}

static void free_rx_list(struct fpgadma_ep *ep, struct dl *h)
{
	struct dl *pos, *tmp;

	dl_foreach_safe(h, pos, tmp) {
		struct fpgadma_rx_entry *rx =
			container_of(pos, struct fpgadma_rx_entry, link);

		rx_unlist(ep, rx);
		rx->ep = NULL;
		if (!rx->refs)
			free(rx);
		/* else the rendezvous reads into it free it when done */
	}
}

void fpgadma_dp_ep_remove(struct fpgadma_dp *dp, struct fpgadma_ep *ep)
{
	struct dl *pos, *tmp;

	if (ep->ep_idx < FPGADMA_MAX_EPS && dp->d->eps[ep->ep_idx] == ep)
		dp->d->eps[ep->ep_idx] = NULL;
	/* operations in flight finish without reporting */
	dl_foreach_safe(&ep->ops, pos, tmp) {
		struct fpgadma_op *op = container_of(pos, struct fpgadma_op,
						     ep_link);

		op->ep = NULL;
		dl_del(&op->ep_link);
		if (op->rx)
			op->rx->ep = NULL;
	}
	free_rx_list(ep, &ep->rx_msg);
	free_rx_list(ep, &ep->rx_tag);
	dl_foreach_safe(&ep->unexp_msg, pos, tmp)
		fpgadma_discard_unexp(dp, container_of(pos,
				      struct fpgadma_unexp, link), FI_ECANCELED);
	dl_foreach_safe(&ep->unexp_tag, pos, tmp)
		fpgadma_discard_unexp(dp, container_of(pos,
				      struct fpgadma_unexp, link), FI_ECANCELED);
	dl_foreach_safe(&ep->claimed, pos, tmp)
		fpgadma_discard_unexp(dp, container_of(pos,
				      struct fpgadma_unexp, link), FI_ECANCELED);
}

/* --- the domain's data plane ---------------------------------------------- */

static void *alloc_pool(size_t size, size_t align)
{
	void *p = NULL;

	if (posix_memalign(&p, align, size))
		return NULL;
	memset(p, 0, size);
	return p;
}

static int pools_init(struct fpgadma_dp *dp)
{
	size_t page = dp->attr.page_size ? dp->attr.page_size : 4096;
	size_t i;
	int ret;

	dp->rx_mem = alloc_pool(dp->nrx * dp->buf_size, page);
	dp->tx_mem = alloc_pool(dp->ntx * dp->buf_size, page);
	dp->rx = calloc(dp->nrx, sizeof(*dp->rx));
	dp->tx = calloc(dp->ntx, sizeof(*dp->tx));
	if (!dp->rx_mem || !dp->tx_mem || !dp->rx || !dp->tx)
		return -FI_ENOMEM;
	ret = fpgadma_reg_mr(dp->d->pd, dp->rx_mem, dp->nrx * dp->buf_size,
			     FPGADMA_ACCESS_LOCAL_WRITE, &dp->rx_mr);
	if (ret)
		return fpgadma_errno_to_fi(ret);
	/* writable: small reads land in send buffers too (rma.c) */
	ret = fpgadma_reg_mr(dp->d->pd, dp->tx_mem, dp->ntx * dp->buf_size,
			     FPGADMA_ACCESS_LOCAL_WRITE, &dp->tx_mr);
	if (ret)
		return fpgadma_errno_to_fi(ret);

	for (i = 0; i < dp->ntx; i++) {
		struct fpgadma_txbuf *tb = &dp->tx[i];

		tb->w.kind = FPGADMA_WORK_TX;
		tb->w.wrs = &tb->wr;
		tb->w.nwr = 1;
		dl_init(&tb->w.qlink);
		tb->hdr = (void *)((char *)dp->tx_mem + i * dp->buf_size);
		tb->sge.addr = (uint64_t)(uintptr_t)tb->hdr;
		tb->sge.lkey = dp->tx_mr->lkey;
		dl_init(&tb->plink);
		tb->wr.wr_id = (uint64_t)(uintptr_t)&tb->w;
		tb->wr.opcode = FPGADMA_WR_SEND;
		tb->wr.sg_list = (uint64_t)(uintptr_t)&tb->sge;
		tb->wr.num_sge = 1;
		dl_add_tail(&dp->tx_free, &tb->link);
	}
	dp->tx_nfree = dp->ntx;
	dp->tx_reserve = dp->ntx / 8 ? dp->ntx / 8 : 1;

	for (i = 0; i < dp->nrx; i++) {
		struct fpgadma_rxbuf *rb = &dp->rx[i];

		rb->w.kind = FPGADMA_WORK_RX;
		rb->w.wrs = &rb->wr;
		rb->w.nwr = 1;
		dl_init(&rb->w.qlink);
		rb->buf = (char *)dp->rx_mem + i * dp->buf_size;
		rb->sge.addr = (uint64_t)(uintptr_t)rb->buf;
		rb->sge.length = (uint32_t)dp->buf_size;
		rb->sge.lkey = dp->rx_mr->lkey;
		rb->wr.wr_id = (uint64_t)(uintptr_t)&rb->w;
		rb->wr.opcode = FPGADMA_WR_RECV;
		rb->wr.sg_list = (uint64_t)(uintptr_t)&rb->sge;
		rb->wr.num_sge = 1;
		rxbuf_post(dp, rb);
	}
	return 0;
}

static uint32_t make_gen(const void *salt)
{
	uint64_t x = now_ns() ^ ((uint64_t)getpid() << 32) ^
		     (uint64_t)(uintptr_t)salt;

	/* splitmix64's finaliser */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (uint32_t)x;
}

/*
 * Release everything, before the context closes: deregistering the receive
 * pool flushes its RECVs (the kernel completes RECVs of a deregistered MR),
 * and every deregistration waits for the work that uses the MR, so no DMA
 * reaches memory freed here.
 */
static void dp_free(struct fpgadma_dp *dp)
{
	struct dl *pos, *tmp;
	size_t i;

	if (dp->rx_mr)
		fpgadma_dereg_mr(dp->rx_mr);
	if (dp->tx_mr)
		fpgadma_dereg_mr(dp->tx_mr);
	dl_foreach_safe(&dp->ops, pos, tmp) {
		struct fpgadma_op *op = container_of(pos, struct fpgadma_op,
						     dp_link);
		struct fpgadma_rx_entry *rx = op->rx;

		op->wd = NULL;		/* the pool is gone */
		op->tb = NULL;
		fpgadma_op_free(dp, op);
		if (rx && !--rx->refs && !rx->listed)
			free(rx);
	}
	dl_foreach_safe(&dp->ctrlq, pos, tmp)
		free(container_of(pos, struct fpgadma_ctrl, link));
	for (i = 0; i < PEER_BUCKETS; i++) {
		while (dp->peers[i]) {
			struct fpgadma_peer *p = dp->peers[i];

			dp->peers[i] = p->hnext;
			peer_drop_stash(p);
			free(p);
		}
	}
	free(dp->rx);
	free(dp->tx);
	free(dp->rx_mem);
	free(dp->tx_mem);
	free(dp);
}

int fpgadma_dp_init(struct fpgadma_domain *d)
{
	struct fpgadma_dp *dp = calloc(1, sizeof(*dp));
	size_t i;
	int ret;

	if (!dp)
		return -FI_ENOMEM;
	dp->d = d;
	dp->ctx = d->ctx;
	dp->attr = d->attr;
	dp->host_ep = d->attr.caps & FPGADMA_CAP_HOST_EP;
	dp->gen = make_gen(dp);
	dp->ring_cap = d->attr.cq_entries ? d->attr.cq_entries : 64;
	dp->max_post = d->attr.max_post ? d->attr.max_post : 1;
	dp->max_sge = d->attr.max_sge ? d->attr.max_sge : 1;
	dp->buf_size = (sizeof(struct fpgadma_hdr) + fpgadma_params.eager_size +
			63) & ~(size_t)63;
	dp->nrx = fpgadma_params.rx_bufs ? fpgadma_params.rx_bufs : 1;
	if (dp->nrx > dp->ring_cap / 2)
		dp->nrx = dp->ring_cap / 2 ? dp->ring_cap / 2 : 1;
	dp->ntx = fpgadma_params.tx_bufs > 2 ? fpgadma_params.tx_bufs : 2;
	dp->next_msg_id = (uint64_t)make_gen(&dp->next_msg_id) << 16;
	dl_init(&dp->tx_free);
	dl_init(&dp->postq);
	dl_init(&dp->synthq);
	dl_init(&dp->ctrlq);
	dl_init(&dp->rnr_peers);
	dl_init(&dp->ops);
	for (i = 0; i < ID_BUCKETS; i++)
		dl_init(&dp->ids[i]);
	d->dp = dp;
	if (!dp->host_ep)
		return 0;	/* RMA to the FPGA only */

	ret = pools_init(dp);
	if (ret) {
		d->dp = NULL;
		dp_free(dp);
		return ret;
	}
	return 0;
}

void fpgadma_dp_fini(struct fpgadma_domain *d)
{
	if (!d->dp)
		return;
	dp_free(d->dp);
	d->dp = NULL;
}
