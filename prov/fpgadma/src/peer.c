// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: peers, the other domains we exchange messages with.
 *
 * A peer is a kernel endpoint (ep_id), seen both as a destination and as
 * a source.  As a destination it numbers our messages and resends those
 * the kernel could not deliver: after RNR (no receive posted there) once
 * a backoff has passed, while nobody has bound its number yet ("not there
 * yet"), and as a NOP when a SEND failed for good, so its sequence keeps
 * no hole.  As a source it puts the messages it sent back in order,
 * stashing those that came early.  wire.h describes the numbering.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

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
	/* through a channel (chan.c) */
	struct fpgadma_chan_out chan;
	struct dl kick_link;		/* on dp->chan_kickq: a NOP is owed */
	bool kick_owed;
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

static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

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
	dl_init(&p->kick_link);
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

void fpgadma_peers_free(struct fpgadma_dp *dp)
{
	size_t i;

	for (i = 0; i < PEER_BUCKETS; i++) {
		while (dp->peers[i]) {
			struct fpgadma_peer *p = dp->peers[i];

			dp->peers[i] = p->hnext;
			fpgadma_chan_out_fini(dp, &p->chan);
			peer_drop_stash(p);
			free(p);
		}
	}
}

/* --- sending: numbering and posting --------------------------------------- */

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

static void chan_kicks(struct fpgadma_dp *dp);

int fpgadma_peer_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
		      uint32_t dest_ep, size_t paylen)
{
	struct fpgadma_peer *p = peer_get(dp, dest_ep);

	if (!p) {
		tb->iov = NULL;
		return -FI_ENOMEM;
	}
	tb->peer = p;
	tb->hdr->version = FPGADMA_HDR_VERSION;
	tb->hdr->gen = dp->gen;
	tb->hdr->seq = tb->seq = p->tx_seq++;
	tb->hdr->low = dl_empty(&p->undelivered) ? tb->seq :
		       dl_first(&p->undelivered, struct fpgadma_txbuf, plink)->seq;
	dl_add_tail(&p->undelivered, &tb->plink);
	tb->sge.length = (uint32_t)(sizeof(*tb->hdr) + paylen);
	tb->wr.dest = dest_ep;
	/*
	 * A connection message goes through the kernel, never a channel: its
	 * completion wakes a peer asleep in fi_eq_sread, which leaves its
	 * channels unmarked (fpgadma_dp_eq_slice_ms).
	 */
	if (!tb->no_chan && tb->hdr->type != FPGADMA_MSG_CM && !p->retry_at &&
	    fpgadma_chan_usable(dp)) {
		bool kick;
		bool sent = tb->iov ?
			fpgadma_chan_send(dp, &p->chan, dest_ep, tb->hdr,
					  sizeof(*tb->hdr), tb->iov,
					  tb->iov_count, paylen, &kick) :
			fpgadma_chan_send(dp, &p->chan, dest_ep, tb->hdr,
					  tb->sge.length, NULL, 0, 0, &kick);

		if (sent) {
			tb->iov = NULL;
			/* delivered: it completes in the next progress call */
			tb->w.queued = true;
			dl_add_tail(&dp->chan_doneq, &tb->w.qlink);
			if (kick && !p->kick_owed) {
				p->kick_owed = true;
				dl_add_tail(&dp->chan_kickq, &p->kick_link);
				chan_kicks(dp);
			}
			return 0;
		}
	}
	if (tb->iov) {
		fpgadma_gather(fpgadma_txbuf_payload(tb), tb->iov,
			       tb->iov_count);
		tb->iov = NULL;
	}
	txbuf_post(dp, tb);
	return 0;
}

/*
 * Wake a peer that may have gone to sleep after our last message came
 * through a channel: a NOP through the kernel, whose CQE wakes it.
 */
static bool peer_kick(struct fpgadma_dp *dp, struct fpgadma_peer *p)
{
	struct fpgadma_txbuf *tb = fpgadma_txbuf_get(dp, true);

	if (!tb)
		return false;
	tb->no_chan = true;
	tb->hdr->type = FPGADMA_MSG_NOP;
	if (fpgadma_peer_send(dp, tb, p->ep_id, 0)) {
		fpgadma_txbuf_put(dp, tb);
		return false;
	}
	dp->n_chan_kicks++;
	return true;
}

static void chan_kicks(struct fpgadma_dp *dp)
{
	while (!dl_empty(&dp->chan_kickq)) {
		struct fpgadma_peer *p = dl_first(&dp->chan_kickq,
						  struct fpgadma_peer,
						  kick_link);

		if (!peer_kick(dp, p))
			break;		/* no txbuf: the next progress call */
		dl_del(&p->kick_link);
		p->kick_owed = false;
	}
}

void fpgadma_chan_sent(struct fpgadma_dp *dp)
{
	chan_kicks(dp);
	while (!dl_empty(&dp->chan_doneq)) {
		struct fpgadma_work *w = dl_first(&dp->chan_doneq,
						  struct fpgadma_work, qlink);

		dl_del(&w->qlink);
		w->queued = false;
		fpgadma_tx_cqe(dp, container_of(w, struct fpgadma_txbuf, w),
			       FPGADMA_WC_SUCCESS);
	}
}

void fpgadma_txbuf_send(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
			uint32_t dest_ep, size_t paylen)
{
	if (fpgadma_peer_send(dp, tb, dest_ep, paylen)) {
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

/* --- receiving: putting messages back in order ---------------------------- */

/* Is the message well formed?  Returns its payload length or -1. */
static long msg_check(const struct fpgadma_hdr *hdr, size_t byte_len,
		      const void *pay)
{
	size_t paylen;

	if (byte_len < sizeof(*hdr) || hdr->version != FPGADMA_HDR_VERSION)
		return -1;
	paylen = byte_len - sizeof(*hdr);
	if ((hdr->type == FPGADMA_MSG_EAGER || hdr->type == FPGADMA_MSG_CM) &&
	    hdr->len != paylen)
		return -1;
	if (hdr->type == FPGADMA_MSG_RTS) {
		const struct fpgadma_rts_seg *s = pay;
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

void fpgadma_rx_msg(struct fpgadma_dp *dp, uint32_t src_ep,
		    const struct fpgadma_hdr *hdr, size_t byte_len,
		    const void *pay)
{
	struct fpgadma_peer *p;
	long paylen;

	if (!pay)
		pay = hdr + 1;

	paylen = msg_check(hdr, byte_len, pay);
	p = peer_get(dp, src_ep);
	if (paylen < 0 || !p) {
		FPGADMA_WARN(FI_LOG_EP_DATA, "message from %u dropped (%s)\n",
			     src_ep, p ? "malformed" : "no memory");
		return;
	}
	if (!p->rx_known || p->rx_gen != hdr->gen) {
		/* a sender new to us: its stream starts at low (wire.h) */
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
				     hdr->seq, src_ep);
			return;
		}
		s = malloc(offsetof(struct fpgadma_stash, msg) + byte_len);
		if (!s) {
			FPGADMA_WARN(FI_LOG_EP_DATA, "no memory: message lost\n");
			return;
		}
		s->seq = hdr->seq;
		s->len = byte_len;
		memcpy(s->msg.bytes, hdr, sizeof(*hdr));
		memcpy(&s->msg.hdr + 1, pay, byte_len - sizeof(*hdr));
		for (pos = p->stash.prev; pos != &p->stash; pos = pos->prev)
			if (!seq_before(s->seq, container_of(pos,
				struct fpgadma_stash, link)->seq))
				break;
		dl_insert_before(pos->next, &s->link);
		return;
	}
	fpgadma_msg_process(dp, src_ep, hdr, pay, (size_t)paylen);
	p->rx_seq++;
	while (!dl_empty(&p->stash)) {
		struct fpgadma_stash *s = dl_first(&p->stash,
						   struct fpgadma_stash, link);

		if (s->seq != p->rx_seq)
			break;
		dl_del(&s->link);
		fpgadma_msg_process(dp, src_ep, &s->msg.hdr, &s->msg.hdr + 1,
				    s->len - sizeof(s->msg.hdr));
		p->rx_seq++;
		free(s);
	}
}

void fpgadma_rx_cqe(struct fpgadma_dp *dp, struct fpgadma_rxbuf *rb,
		    const struct fpgadma_cqe *cqe)
{
	if (cqe->status == FPGADMA_WC_FLUSH_ERR)
		return;		/* the context is closing */
	if (cqe->status != FPGADMA_WC_SUCCESS)
		FPGADMA_WARN(FI_LOG_EP_DATA, "receive: %s\n",
			     fpgadma_wc_status_str(cqe->status));
	else
		fpgadma_rx_msg(dp, cqe->src_ep, rb->buf, cqe->byte_len, NULL);
	fpgadma_rxbuf_post(dp, rb);
}

/* --- sending completions: backoff and resends ----------------------------- */

/*
 * A SEND found no endpoint with the peer's number.  If the peer never
 * answered, it may be a server that has not bound its service yet (a
 * client started a moment after it, as runfabtests.sh starts them): resend
 * for FI_FPGADMA_CONNECT_TIMEOUT_MS, as TCP's connect retries its SYN.  A
 * peer that was reached and is gone is gone for good.
 */
static bool peer_not_there_yet(struct fpgadma_peer *p)
{
	uint64_t now = fpgadma_now_ns();

	if (p->reached || !fpgadma_params.connect_timeout_ms)
		return false;
	if (!p->absent_until)
		p->absent_until = now +
			(uint64_t)fpgadma_params.connect_timeout_ms * 1000000;
	return now < p->absent_until;
}

void fpgadma_tx_cqe(struct fpgadma_dp *dp, struct fpgadma_txbuf *tb,
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
			fpgadma_op_event(dp, op, 0, 0);
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
			p->retry_at = fpgadma_now_ns() + wait_us * 1000;
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
		fpgadma_op_event(dp, op, fpgadma_wc_to_fi(status), (int)status);
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

void fpgadma_rnr_tick(struct fpgadma_dp *dp)
{
	uint64_t now;
	struct dl *pos, *tmp;

	if (dl_empty(&dp->rnr_peers))
		return;
	now = fpgadma_now_ns();
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

uint64_t fpgadma_rnr_first_retry(struct fpgadma_dp *dp)
{
	uint64_t first = 0;
	struct dl *pos;

	for (pos = dp->rnr_peers.next; pos != &dp->rnr_peers; pos = pos->next) {
		struct fpgadma_peer *p = container_of(pos, struct fpgadma_peer,
						      rnr_link);

		if (!first || p->retry_at < first)
			first = p->retry_at;
	}
	return first;
}
