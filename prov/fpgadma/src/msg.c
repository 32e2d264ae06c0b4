// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: fi_send / fi_recv and the tagged calls.
 *
 * A message up to FI_FPGADMA_EAGER_SIZE bytes is copied into a send buffer
 * behind the header and goes in one SEND (EAGER).  A longer one is
 * registered for the peer to read and announced by an RTS carrying the
 * (rkey, address, length) of its pieces; the receiver RDMA_READs it into
 * the matched receive and answers FIN, on which the send completes.
 *
 * A receive whose source is the FPGA's address (in the endpoint's AV,
 * whether or not FI_DIRECTED_RECV was asked for) is one for the paced
 * stream of the endpoint (dp.c): the FPGA sends no messages.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static size_t iov_total(const struct iovec *iov, size_t count)
{
	size_t len = 0, i;

	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	return len;
}

void fpgadma_gather(void *dst, const struct iovec *iov, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst = (char *)dst + iov[i].iov_len;
	}
}

/* The peer a send goes to, checked. */
static int dest_lookup(struct fpgadma_ep *ep, fi_addr_t dest,
		       struct fpgadma_addr *a)
{
	if (fpgadma_ep_dest(ep, dest, a))
		return -FI_EINVAL;
	if (a->magic != FPGADMA_ADDR_MAGIC ||
	    a->dev_index != ep->domain->attr.dev_index ||
	    a->ep_idx >= FPGADMA_MAX_EPS)
		return -FI_EINVAL;
	if (fpgadma_addr_is_fpga(a))
		return -FI_EOPNOTSUPP;	/* the FPGA takes RMA only */
	return 0;
}

/*
 * The pieces of a rendezvous send, for the receiver to read: through the
 * application's MR when desc covers them, else registered here (through
 * the registration cache) for the time of the send at least.
 */
static int rts_segments(struct fpgadma_ep *ep, struct fpgadma_op *op,
			const struct iovec *iov, void **desc, size_t count,
			struct fpgadma_rts_seg *segs, size_t max_segs,
			uint32_t *nseg)
{
	struct fpgadma_dp *dp = ep->dp;
	uint64_t reg_max = fpgadma_dp_attr(dp)->max_mr_size ?
			   fpgadma_dp_attr(dp)->max_mr_size : SIZE_MAX;
	size_t n = 0, i;

	for (i = 0; i < count; i++) {
		size_t off = 0;
		uint32_t rkey;

		if (!iov[i].iov_len)
			continue;
		if (desc && fpgadma_mr_remote_read_key(ep->domain, desc[i],
						       iov[i].iov_base,
						       iov[i].iov_len, &rkey)) {
			if (n == max_segs)
				return -FI_EINVAL;
			memset(&segs[n], 0, sizeof(segs[n]));
			segs[n].addr = (uint64_t)(uintptr_t)iov[i].iov_base;
			segs[n].len = iov[i].iov_len;
			segs[n].rkey = rkey;
			n++;
			continue;
		}
		while (off < iov[i].iov_len) {
			size_t chunk = iov[i].iov_len - off;
			int ret;

			if (chunk > reg_max)
				chunk = reg_max;
			if (n == max_segs)
				return -FI_EINVAL;
			ret = fpgadma_reg_remote_read(dp, op,
						      (char *)iov[i].iov_base + off,
						      chunk, &rkey);
			if (ret)
				return ret;
			memset(&segs[n], 0, sizeof(segs[n]));
			segs[n].addr = (uint64_t)(uintptr_t)iov[i].iov_base + off;
			segs[n].len = chunk;
			segs[n].rkey = rkey;
			n++;
			off += chunk;
		}
	}
	*nseg = (uint32_t)n;
	return 0;
}

static ssize_t send_common(struct fpgadma_ep *ep, const struct iovec *iov,
			   void **desc, size_t count, fi_addr_t dest,
			   uint64_t tag, uint64_t data, uint64_t flags,
			   void *context, bool tagged, bool inject_call)
{
	struct fpgadma_dp *dp = ep->dp;
	struct fpgadma_txbuf *tb;
	struct fpgadma_op *op;
	struct fpgadma_hdr *h;
	struct fpgadma_addr a;
	size_t len;
	bool eager;
	ssize_t ret;

	if (count && !iov)
		return -FI_EINVAL;
	if (tagged && ep->type == FI_EP_DGRAM)
		return -FI_EOPNOTSUPP;	/* DGRAM: untagged messages only */
	len = iov_total(iov, count);
	fpgadma_dp_lock(dp);
	ret = fpgadma_ep_check_tx(ep);
	if (ret)
		goto out;
	ret = -FI_EINVAL;
	if (count > ep->tx_iov_limit)
		goto out;
	if (len > ep->max_msg_size) {
		ret = -FI_EMSGSIZE;
		goto out;
	}
	if ((inject_call || (flags & FI_INJECT)) && len > ep->inject_size)
		goto out;
	ret = dest_lookup(ep, dest, &a);
	if (ret)
		goto out;

	if (ep->tx_inflight >= ep->tx_size)
		fpgadma_dp_progress_locked(dp);
	tb = ep->tx_inflight < ep->tx_size ? fpgadma_txbuf_get(dp, false) : NULL;
	if (!tb) {
		fpgadma_dp_progress_locked(dp);
		tb = ep->tx_inflight < ep->tx_size ?
		     fpgadma_txbuf_get(dp, false) : NULL;
	}
	if (!tb) {
		ret = -FI_EAGAIN;
		goto out;
	}
	op = fpgadma_op_alloc(ep, context, flags);
	if (!op) {
		fpgadma_txbuf_put(dp, tb);
		ret = -FI_ENOMEM;
		goto out;
	}
	op->cq_flags = FI_SEND | (tagged ? FI_TAGGED : FI_MSG);
	op->len = len;
	op->tag = tag;
	op->data = data;
	op->no_comp = inject_call;
	op->cntr_sel = FPGADMA_CNTR_SEND;

	h = tb->hdr;
	h->dst_idx = (uint16_t)a.ep_idx;
	h->src_idx = (uint16_t)ep->ep_idx;
	h->tag = tag;
	h->data = data;
	h->len = len;
	if (tagged)
		h->flags |= FPGADMA_HDR_TAGGED;
	if (flags & FI_REMOTE_CQ_DATA)
		h->flags |= FPGADMA_HDR_CQ_DATA;

	eager = inject_call || (flags & FI_INJECT) ||
		len <= fpgadma_params.eager_size;
	if (eager) {
		h->type = FPGADMA_MSG_EAGER;
		/* gathered into tb unless a channel takes it (peer.c) */
		tb->iov = iov;
		tb->iov_count = count;
		op->pending = 1;
		if ((flags & FI_DELIVERY_COMPLETE) && !inject_call) {
			h->flags |= FPGADMA_HDR_WANT_ACK;
			fpgadma_op_wait_id(dp, op);
			h->msg_id = op->msg_id;
			op->pending = 2;
		}
	} else {
		struct fpgadma_rts_seg *segs = fpgadma_txbuf_payload(tb);

		h->type = FPGADMA_MSG_RTS;
		ret = rts_segments(ep, op, iov, desc, count, segs,
				   fpgadma_params.eager_size / sizeof(*segs),
				   &h->nseg);
		if (ret) {
			fpgadma_op_free(dp, op);
			fpgadma_txbuf_put(dp, tb);
			goto out;
		}
		fpgadma_op_wait_id(dp, op);
		h->msg_id = op->msg_id;
		op->pending = 2;	/* the RTS is sent, FIN */
		len = h->nseg * sizeof(*segs);
	}
	op->counts_tx = true;
	ep->tx_inflight++;
	tb->op = op;
	op->tb = tb;
	fpgadma_txbuf_send(dp, tb, a.ep_id, len);
	ret = 0;
out:
	fpgadma_dp_unlock(dp);
	return ret;
}

/* --- receives ------------------------------------------------------------- */

static struct fpgadma_rx_entry *rx_alloc(struct fpgadma_ep *ep,
					 const struct iovec *iov, void **desc,
					 size_t count, fi_addr_t src,
					 uint64_t tag, uint64_t ignore,
					 uint64_t flags, void *context,
					 bool tagged)
{
	struct fpgadma_rx_entry *rx;
	size_t i;

	rx = fpgadma_rx_entry_alloc(ep->dp, count);
	if (!rx)
		return NULL;
	rx->ep = ep;
	rx->context = context;
	rx->flags = flags;
	rx->tag = tag;
	rx->ignore = ignore;
	rx->src = (ep->caps & FI_DIRECTED_RECV) ? src : FI_ADDR_UNSPEC;
	rx->tagged = tagged;
	rx->count = count;
	for (i = 0; i < count; i++) {
		rx->iov[i] = iov[i];
		rx->desc[i] = desc ? desc[i] : NULL;
	}
	rx->min_free = ep->min_multi_recv;
	return rx;
}

/* FI_PEEK: look for a matching unexpected message, report what it is. */
static void peek(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx)
{
	struct fpgadma_comp c = {
		.op_context = rx->context,
		.flags = FI_RECV | FI_TAGGED,
		.tag = rx->tag,
		.src_addr = FI_ADDR_NOTAVAIL,
	};
	struct dl *pos, *tmp;

	dl_foreach_safe(&ep->unexp_tag, pos, tmp) {
		struct fpgadma_unexp *u = container_of(pos,
						       struct fpgadma_unexp,
						       link);

		if (!fpgadma_rx_match(ep, rx, &u->hdr, u->src_addr))
			continue;
		c.len = u->hdr.len;
		c.tag = u->hdr.tag;
		c.data = u->hdr.data;
		c.src_addr = u->src_addr;
		if (u->hdr.flags & FPGADMA_HDR_CQ_DATA)
			c.flags |= FI_REMOTE_CQ_DATA;
		if (rx->flags & FI_DISCARD) {
			fpgadma_discard_unexp(ep->dp, u, 0);
		} else if (rx->flags & FI_CLAIM) {
			dl_del(&u->link);
			dl_add_tail(&ep->claimed, &u->link);
			((struct fi_context *)rx->context)->internal[0] = u;
		}
		fpgadma_report(ep->rx_cq, ep->rx_selective, rx->flags, false,
			       NULL, &c, 0, 0, 0);
		return;
	}
	if (ep->rx_cq)
		fpgadma_cq_write_err(ep->rx_cq, &c, FI_ENOMSG, 0, 0);
}

/* FI_CLAIM: receive (or discard) the message a peek claimed. */
static ssize_t claim(struct fpgadma_ep *ep, struct fpgadma_rx_entry *rx)
{
	struct fpgadma_unexp *u =
		((struct fi_context *)rx->context)->internal[0];
	struct dl *pos;

	for (pos = ep->claimed.next; pos != &ep->claimed; pos = pos->next)
		if (pos == &u->link)
			break;
	if (pos == &ep->claimed)
		return -FI_EINVAL;
	((struct fi_context *)rx->context)->internal[0] = NULL;
	if (rx->flags & FI_DISCARD) {
		struct fpgadma_comp c = {
			.op_context = rx->context,
			.flags = FI_RECV | FI_TAGGED,
			.tag = u->hdr.tag,
			.src_addr = u->src_addr,
		};

		fpgadma_discard_unexp(ep->dp, u, 0);
		fpgadma_rx_report(ep, rx, &c, 0, 0, 0);
		fpgadma_rx_entry_put(rx);
		return 0;
	}
	fpgadma_deliver_unexp(ep->dp, ep, rx, u);
	return 0;
}

static ssize_t recv_common(struct fpgadma_ep *ep, const struct iovec *iov,
			   void **desc, size_t count, fi_addr_t src,
			   uint64_t tag, uint64_t ignore, uint64_t flags,
			   void *context, bool tagged)
{
	struct fpgadma_dp *dp = ep->dp;
	struct fpgadma_rx_entry *rx;
	struct dl *list, *pos, *tmp;
	ssize_t ret = 0;

	if (count && !iov)
		return -FI_EINVAL;
	if (tagged && ep->type == FI_EP_DGRAM)
		return -FI_EOPNOTSUPP;	/* DGRAM: untagged messages only */
	if (tagged)
		flags &= ~FI_MULTI_RECV;
	else
		flags &= ~(FI_PEEK | FI_CLAIM | FI_DISCARD);
	if ((flags & FI_MULTI_RECV) && count != 1)
		return -FI_EINVAL;
	if ((flags & (FI_PEEK | FI_CLAIM)) && !context)
		return -FI_EINVAL;
	if (count > ep->rx_iov_limit)
		return -FI_EINVAL;

	fpgadma_dp_lock(dp);
	if (!(flags & (FI_PEEK | FI_CLAIM)) && ep->rx_posted >= ep->rx_size) {
		ret = -FI_EAGAIN;
		goto out;
	}
	rx = rx_alloc(ep, iov, desc, count, src, tag, ignore, flags, context,
		      tagged);
	if (!rx) {
		ret = -FI_ENOMEM;
		goto out;
	}
	if (flags & FI_PEEK) {
		/* peek the messages that came meanwhile too */
		fpgadma_dp_progress_locked(dp);
		peek(ep, rx);
		fpgadma_rx_entry_put(rx);
		goto out;
	}
	if (flags & FI_CLAIM) {
		ret = claim(ep, rx);
		if (ret)
			fpgadma_rx_entry_put(rx);
		goto out;
	}

	/*
	 * A receive from the FPGA is for the paced stream: the FPGA sends no
	 * messages, so it goes on a queue of its own, which messages never
	 * see, and takes the frames already waiting (dp.c).
	 */
	if (!tagged && fpgadma_rx_src_is_fpga(ep, src)) {
		dl_add_tail(&ep->rx_stream, &rx->link);
		rx->listed = true;
		ep->rx_posted++;
		fpgadma_pstream_deliver_ep(dp, ep);
		goto out;
	}

	/* posted in order; take the messages that are already here first */
	list = tagged ? &ep->rx_tag : &ep->rx_msg;
	dl_add_tail(list, &rx->link);
	rx->listed = true;
	ep->rx_posted++;
	dl_foreach_safe(tagged ? &ep->unexp_tag : &ep->unexp_msg, pos, tmp) {
		struct fpgadma_unexp *u = container_of(pos,
						       struct fpgadma_unexp,
						       link);

		if (!fpgadma_rx_match(ep, rx, &u->hdr, u->src_addr))
			continue;
		if (!fpgadma_deliver_unexp(dp, ep, rx, u))
			break;
	}
out:
	fpgadma_dp_unlock(dp);
	return ret;
}

/* --- fi_ops_msg ---------------------------------------------------------- */

static ssize_t msg_recv(struct fid_ep *ep_fid, void *buf, size_t len,
			void *desc, fi_addr_t src_addr, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return recv_common(ep, &iov, &desc, 1, src_addr, 0, 0,
			   ep->rx_op_flags, context, false);
}

static ssize_t msg_recvv(struct fid_ep *ep_fid, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t src_addr,
			 void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	return recv_common(ep, iov, desc, count, src_addr, 0, 0,
			   ep->rx_op_flags, context, false);
}

static ssize_t msg_recvmsg(struct fid_ep *ep_fid, const struct fi_msg *msg,
			   uint64_t flags)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	if (!msg)
		return -FI_EINVAL;
	return recv_common(ep, msg->msg_iov, msg->desc, msg->iov_count,
			   msg->addr, 0, 0, flags, msg->context, false);
}

static ssize_t msg_send(struct fid_ep *ep_fid, const void *buf, size_t len,
			void *desc, fi_addr_t dest_addr, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, &desc, 1, dest_addr, 0, 0,
			   ep->tx_op_flags, context, false, false);
}

static ssize_t msg_sendv(struct fid_ep *ep_fid, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t dest_addr,
			 void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	return send_common(ep, iov, desc, count, dest_addr, 0, 0,
			   ep->tx_op_flags, context, false, false);
}

static ssize_t msg_sendmsg(struct fid_ep *ep_fid, const struct fi_msg *msg,
			   uint64_t flags)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	if (!msg)
		return -FI_EINVAL;
	return send_common(ep, msg->msg_iov, msg->desc, msg->iov_count,
			   msg->addr, 0, msg->data, flags, msg->context, false,
			   false);
}

static ssize_t msg_inject(struct fid_ep *ep_fid, const void *buf, size_t len,
			  fi_addr_t dest_addr)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, NULL, 1, dest_addr, 0, 0,
			   ep->tx_op_flags | FI_INJECT, NULL, false, true);
}

static ssize_t msg_senddata(struct fid_ep *ep_fid, const void *buf, size_t len,
			    void *desc, uint64_t data, fi_addr_t dest_addr,
			    void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, &desc, 1, dest_addr, 0, data,
			   ep->tx_op_flags | FI_REMOTE_CQ_DATA, context, false,
			   false);
}

static ssize_t msg_injectdata(struct fid_ep *ep_fid, const void *buf,
			      size_t len, uint64_t data, fi_addr_t dest_addr)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, NULL, 1, dest_addr, 0, data,
			   ep->tx_op_flags | FI_INJECT | FI_REMOTE_CQ_DATA,
			   NULL, false, true);
}

struct fi_ops_msg fpgadma_msg_ops = {
	.size = sizeof(struct fi_ops_msg),
	.recv = msg_recv,
	.recvv = msg_recvv,
	.recvmsg = msg_recvmsg,
	.send = msg_send,
	.sendv = msg_sendv,
	.sendmsg = msg_sendmsg,
	.inject = msg_inject,
	.senddata = msg_senddata,
	.injectdata = msg_injectdata,
};

/* --- fi_ops_tagged --------------------------------------------------------- */

static ssize_t tag_recv(struct fid_ep *ep_fid, void *buf, size_t len,
			void *desc, fi_addr_t src_addr, uint64_t tag,
			uint64_t ignore, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return recv_common(ep, &iov, &desc, 1, src_addr, tag, ignore,
			   ep->rx_op_flags, context, true);
}

static ssize_t tag_recvv(struct fid_ep *ep_fid, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t src_addr,
			 uint64_t tag, uint64_t ignore, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	return recv_common(ep, iov, desc, count, src_addr, tag, ignore,
			   ep->rx_op_flags, context, true);
}

static ssize_t tag_recvmsg(struct fid_ep *ep_fid,
			   const struct fi_msg_tagged *msg, uint64_t flags)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	if (!msg)
		return -FI_EINVAL;
	return recv_common(ep, msg->msg_iov, msg->desc, msg->iov_count,
			   msg->addr, msg->tag, msg->ignore, flags,
			   msg->context, true);
}

static ssize_t tag_send(struct fid_ep *ep_fid, const void *buf, size_t len,
			void *desc, fi_addr_t dest_addr, uint64_t tag,
			void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, &desc, 1, dest_addr, tag, 0,
			   ep->tx_op_flags, context, true, false);
}

static ssize_t tag_sendv(struct fid_ep *ep_fid, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t dest_addr,
			 uint64_t tag, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	return send_common(ep, iov, desc, count, dest_addr, tag, 0,
			   ep->tx_op_flags, context, true, false);
}

static ssize_t tag_sendmsg(struct fid_ep *ep_fid,
			   const struct fi_msg_tagged *msg, uint64_t flags)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	if (!msg)
		return -FI_EINVAL;
	return send_common(ep, msg->msg_iov, msg->desc, msg->iov_count,
			   msg->addr, msg->tag, msg->data, flags, msg->context,
			   true, false);
}

static ssize_t tag_inject(struct fid_ep *ep_fid, const void *buf, size_t len,
			  fi_addr_t dest_addr, uint64_t tag)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, NULL, 1, dest_addr, tag, 0,
			   ep->tx_op_flags | FI_INJECT, NULL, true, true);
}

static ssize_t tag_senddata(struct fid_ep *ep_fid, const void *buf, size_t len,
			    void *desc, uint64_t data, fi_addr_t dest_addr,
			    uint64_t tag, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, &desc, 1, dest_addr, tag, data,
			   ep->tx_op_flags | FI_REMOTE_CQ_DATA, context, true,
			   false);
}

static ssize_t tag_injectdata(struct fid_ep *ep_fid, const void *buf,
			      size_t len, uint64_t data, fi_addr_t dest_addr,
			      uint64_t tag)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_common(ep, &iov, NULL, 1, dest_addr, tag, data,
			   ep->tx_op_flags | FI_INJECT | FI_REMOTE_CQ_DATA,
			   NULL, true, true);
}

struct fi_ops_tagged fpgadma_tagged_ops = {
	.size = sizeof(struct fi_ops_tagged),
	.recv = tag_recv,
	.recvv = tag_recvv,
	.recvmsg = tag_recvmsg,
	.send = tag_send,
	.sendv = tag_sendv,
	.sendmsg = tag_sendmsg,
	.inject = tag_inject,
	.senddata = tag_senddata,
	.injectdata = tag_injectdata,
};
