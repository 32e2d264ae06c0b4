// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: receive matching and delivery.
 *
 * An endpoint keeps its posted receives and the messages no receive has
 * matched yet, each in two queues, untagged and tagged, in the order they
 * came: a message takes the first posted receive that matches it (source
 * under FI_DIRECTED_RECV, tag and ignore bits for tagged ones), else it
 * waits as unexpected for a receive to come (msg.c looks there first).
 * An EAGER message is copied into the receive here; an RTS starts a
 * rendezvous read (rdv.c).  A FI_MULTI_RECV buffer takes messages until
 * less than its min_free is left.
 *
 * FI_EP_DGRAM: a message that finds no posted receive is dropped, not
 * kept (as a datagram socket without room would), and counted in the
 * endpoint's dgram_dropped (logged at fi_close, FI_LOG_LEVEL=info, and
 * read through the fi_open_ops extension); its sender learns nothing
 * unless it asked for FI_DELIVERY_COMPLETE (an ACK with FI_ENOMSG).
 *
 * Receives from the FPGA's address are a paced stream's (dp.c): they sit
 * on a queue of their own, which no message ever looks at, and take the
 * stream's frames in order (fpgadma_rx_stream_frame), one per plain
 * receive, packed into a FI_MULTI_RECV buffer until less than a frame (or
 * less than FI_OPT_MIN_MULTI_RECV) is left.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

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

/* Freed receive entries the cache keeps at most. */
#define RX_CACHE_MAX	256

struct fpgadma_rx_entry *fpgadma_rx_entry_alloc(struct fpgadma_dp *dp,
						size_t count)
{
	size_t cap = count <= FPGADMA_RX_CACHE_IOV ? FPGADMA_RX_CACHE_IOV :
		     count;
	struct fpgadma_rx_entry *rx;

	if (cap == FPGADMA_RX_CACHE_IOV && dp->rx_cache) {
		rx = dp->rx_cache;
		dp->rx_cache = rx->cache_next;
		dp->rx_ncache--;
		memset(rx, 0, sizeof(*rx));
	} else {
		rx = calloc(1, sizeof(*rx) + cap * (sizeof(struct iovec) +
						    sizeof(void *)));
		if (!rx)
			return NULL;
	}
	rx->dp = dp;
	rx->cacheable = cap == FPGADMA_RX_CACHE_IOV;
	rx->desc = (void **)&rx->iov[cap];
	return rx;
}

void fpgadma_rx_entry_put(struct fpgadma_rx_entry *rx)
{
	struct fpgadma_dp *dp = rx->dp;

	if (rx->cacheable && dp->rx_ncache < RX_CACHE_MAX) {
		rx->cache_next = dp->rx_cache;
		dp->rx_cache = rx;
		dp->rx_ncache++;
		return;
	}
	free(rx);
}

void fpgadma_rx_cache_free(struct fpgadma_dp *dp)
{
	while (dp->rx_cache) {
		struct fpgadma_rx_entry *rx = dp->rx_cache;

		dp->rx_cache = rx->cache_next;
		free(rx);
	}
	dp->rx_ncache = 0;
}

void fpgadma_rx_entry_free(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx)
{
	if (rx->listed) {
		dl_del(&rx->link);
		rx->listed = false;
		if (ep && ep->rx_posted)
			ep->rx_posted--;
	}
	fpgadma_rx_entry_put(rx);
}

void fpgadma_rx_unlist(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx)
{
	if (rx->listed) {
		dl_del(&rx->link);
		rx->listed = false;
		if (ep && ep->rx_posted)
			ep->rx_posted--;
	}
}

void fpgadma_rx_msg_done(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
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

void fpgadma_rx_take(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
		     size_t len)
{
	if (!(rx->flags & FI_MULTI_RECV)) {
		fpgadma_rx_unlist(ep, rx);
		return;
	}
	rx->used += len;
	if (rx->iov[0].iov_len - rx->used < rx->min_free) {
		rx->released = true;
		fpgadma_rx_unlist(ep, rx);
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

uint64_t fpgadma_rx_cq_flags(const struct fpgadma_hdr *hdr)
{
	uint64_t f = FI_RECV;

	f |= (hdr->flags & FPGADMA_HDR_TAGGED) ? FI_TAGGED : FI_MSG;
	if (hdr->flags & FPGADMA_HDR_CQ_DATA)
		f |= FI_REMOTE_CQ_DATA;
	return f;
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
		.flags = fpgadma_rx_cq_flags(hdr),
		.data = hdr->data,
		.tag = hdr->tag,
		.src_addr = src_addr,
	};
	const struct iovec *iov = rx->iov;
	size_t count = rx->count, copied;
	struct iovec one;
	bool listed;

	if (hdr->type == FPGADMA_MSG_RTS)
		return fpgadma_rdv_start(dp, ep, rx, hdr, src_ep, src_addr,
					 pay);
	if (rx->flags & FI_MULTI_RECV) {
		one.iov_base = (char *)rx->iov[0].iov_base + rx->used;
		one.iov_len = rx->iov[0].iov_len - rx->used;
		iov = &one;
		count = 1;
	}
	copied = copy_to_iov(iov, count, pay, paylen);
	if (hdr->flags & FPGADMA_HDR_WANT_ACK)
		fpgadma_send_reply(dp, FPGADMA_MSG_ACK, src_ep, hdr->src_idx,
				   (uint16_t)ep->ep_idx, hdr->msg_id, 0);
	c.len = copied;
	c.buf = count ? iov[0].iov_base : NULL;
	fpgadma_rx_take(ep, rx, copied);
	listed = rx->listed;
	fpgadma_rx_msg_done(ep, rx, &c, copied < paylen ? FI_ETRUNC : 0, 0,
			    paylen - copied);
	return listed;
}

void fpgadma_rx_stream_frame(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx,
			     const void *frame, uint32_t frame_size,
			     fi_addr_t src)
{
	struct fpgadma_comp c = {
		.op_context = rx->context,
		.flags = FI_RECV | FI_MSG | FI_REMOTE_CQ_DATA,
		.src_addr = src,
	};
	struct fpgadma_frame_hdr h;
	uint64_t seq, lost;
	size_t copied;
	void *dst;

	/* The device's header, little endian, in a slot of any alignment. */
	memcpy(&h, frame, sizeof(h));
	seq = le64toh(h.seq);
	lost = le64toh(h.lost_before);
	if (lost) {
		struct fpgadma_frames_lost fl = {
			.magic = FPGADMA_FRAMES_LOST_MAGIC,
			.lost = lost,
			.first_seq = seq - lost,
			.next_seq = seq,
		};
		struct fpgadma_comp e = c;

		/* an error completion even under selective completion */
		e.data = seq - lost;
		if (ep->rx_cq)
			fpgadma_cq_write_err_data(ep->rx_cq, &e, FI_EOVERRUN,
						  FI_FPGADMA_ERR_FRAMES_LOST,
						  (size_t)lost, &fl, sizeof(fl));
		if (ep->recv_cntr)
			fpgadma_cntr_inc_err(ep->recv_cntr);
		ep->stream_lost += lost;
	}

	if (rx->flags & FI_MULTI_RECV) {
		size_t room = rx->iov[0].iov_len - rx->used;

		/* a buffer is let go once it cannot take another frame */
		if (rx->min_free < frame_size)
			rx->min_free = frame_size;
		dst = (char *)rx->iov[0].iov_base + rx->used;
		copied = room < frame_size ? room : frame_size;
		memcpy(dst, frame, copied);
	} else {
		dst = rx->count ? rx->iov[0].iov_base : NULL;
		copied = copy_to_iov(rx->iov, rx->count, frame, frame_size);
	}
	c.len = copied;
	c.buf = dst;
	c.data = seq;
	ep->stream_frames++;
	fpgadma_rx_take(ep, rx, copied);
	fpgadma_rx_msg_done(ep, rx, &c, copied < frame_size ? FI_ETRUNC : 0, 0,
			    frame_size - copied);
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
		fpgadma_send_reply(dp, FPGADMA_MSG_FIN, u->src_ep,
				   u->hdr.src_idx, u->hdr.dst_idx,
				   u->hdr.msg_id, status);
	else if (u->hdr.flags & FPGADMA_HDR_WANT_ACK)
		fpgadma_send_reply(dp, FPGADMA_MSG_ACK, u->src_ep,
				   u->hdr.src_idx, u->hdr.dst_idx,
				   u->hdr.msg_id, status);
	free(u);
}

void fpgadma_msg_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			 const struct fpgadma_hdr *hdr, const void *pay,
			 size_t paylen)
{
	struct fpgadma_ep *ep = fpgadma_dp_ep_at(dp, hdr->dst_idx);
	bool tagged = hdr->flags & FPGADMA_HDR_TAGGED;
	struct fpgadma_unexp *u;
	fi_addr_t src_addr;
	struct dl *pos;

	if (!ep) {
		FPGADMA_DBG(FI_LOG_EP_DATA, "message for missing endpoint %u\n",
			    hdr->dst_idx);
		if (hdr->type == FPGADMA_MSG_RTS)
			fpgadma_send_reply(dp, FPGADMA_MSG_FIN, src_ep,
					   hdr->src_idx, hdr->dst_idx,
					   hdr->msg_id, FI_ENOENT);
		else if (hdr->flags & FPGADMA_HDR_WANT_ACK)
			fpgadma_send_reply(dp, FPGADMA_MSG_ACK, src_ep,
					   hdr->src_idx, hdr->dst_idx,
					   hdr->msg_id, FI_ENOENT);
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
	if (ep->type == FI_EP_DGRAM) {
		ep->dgram_dropped++;
		FPGADMA_DBG(FI_LOG_EP_DATA, "endpoint %u: no receive posted: datagram dropped\n",
			    ep->ep_idx);
		if (hdr->type == FPGADMA_MSG_RTS)
			fpgadma_send_reply(dp, FPGADMA_MSG_FIN, src_ep,
					   hdr->src_idx, hdr->dst_idx,
					   hdr->msg_id, FI_ENOMSG);
		else if (hdr->flags & FPGADMA_HDR_WANT_ACK)
			fpgadma_send_reply(dp, FPGADMA_MSG_ACK, src_ep,
					   hdr->src_idx, hdr->dst_idx,
					   hdr->msg_id, FI_ENOMSG);
		return;
	}
	u = malloc(sizeof(*u) + paylen);
	if (!u) {
		FPGADMA_WARN(FI_LOG_EP_DATA, "no memory: message dropped\n");
		if (hdr->type == FPGADMA_MSG_RTS)
			fpgadma_send_reply(dp, FPGADMA_MSG_FIN, src_ep,
					   hdr->src_idx, hdr->dst_idx,
					   hdr->msg_id, FI_ENOMEM);
		return;
	}
	u->hdr = *hdr;
	u->src_ep = src_ep;
	u->src_addr = src_addr;
	u->paylen = paylen;
	memcpy(u->payload, pay, paylen);
	dl_add_tail(tagged ? &ep->unexp_tag : &ep->unexp_msg, &u->link);
}
