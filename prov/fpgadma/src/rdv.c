// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: rendezvous and the control messages.
 *
 * A message longer than the eager size is announced by an RTS carrying
 * the (rkey, address, length) of its pieces (msg.c); the receiver that
 * matches it RDMA_READs the data into the receive and answers FIN, on
 * which the sender completes.  ACK answers an EAGER message sent with
 * FI_DELIVERY_COMPLETE.  WRITEDATA follows an RMA write (or an atomic)
 * with remote CQ data, once the write has completed, so the target
 * reports the data only when the bytes are there (the same step copies a
 * small read, or an atomic's fetched values, out of its bounce buffer).
 * FIN and ACK are control messages: they take a send buffer from the
 * reserve, or wait for one in order on the ctrlq.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* A control message waiting for a send buffer. */
struct fpgadma_ctrl {
	struct dl link;
	uint32_t dest_ep;
	struct fpgadma_hdr hdr;
};

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

void fpgadma_ctrlq_flush(struct fpgadma_dp *dp)
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

void fpgadma_send_reply(struct fpgadma_dp *dp, uint8_t type, uint32_t dest_ep,
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

void fpgadma_send_ctrl(struct fpgadma_dp *dp, uint32_t dest_ep,
		       const struct fpgadma_hdr *hdr)
{
	send_ctrl(dp, dest_ep, hdr);
}

void fpgadma_ctrlq_free(struct fpgadma_dp *dp)
{
	struct dl *pos, *tmp;

	dl_foreach_safe(&dp->ctrlq, pos, tmp)
		free(container_of(pos, struct fpgadma_ctrl, link));
}

/* --- rendezvous receives ------------------------------------------------- */

void fpgadma_rdv_done(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	struct fpgadma_rx_entry *rx = op->rx;
	struct fpgadma_ep *ep = op->ep;
	struct fpgadma_comp c = fpgadma_op_comp(op, op->src_addr);
	int err = op->err, prov = op->prov_errno;

	if (!err && op->w.first_err) {
		err = fpgadma_wc_to_fi(op->w.first_err);
		prov = (int)op->w.first_err;
	}
	fpgadma_send_reply(dp, FPGADMA_MSG_FIN, op->peer_ep, op->peer_idx,
			   ep ? (uint16_t)ep->ep_idx : 0, op->peer_msg_id,
			   err ? (uint32_t)err : 0);
	if (!err && op->olen)
		err = FI_ETRUNC;
	if (err && err != FI_ETRUNC)
		c.len = 0;
	if (rx->refs)
		rx->refs--;
	fpgadma_rx_msg_done(rx->ep, rx, &c, err, prov,
			    err == FI_ETRUNC ? op->olen : 0);
	op->rx = NULL;
	fpgadma_op_free(dp, op);
}

bool fpgadma_rdv_start(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		       struct fpgadma_rx_entry *rx,
		       const struct fpgadma_hdr *hdr, uint32_t src_ep,
		       fi_addr_t src_addr, const struct fpgadma_rts_seg *segs)
{
	const struct iovec *iov = rx->iov;
	size_t count = rx->count, space = 0, i, recv_len;
	struct iovec one;
	struct fpgadma_rseg *rs = NULL;
	struct fpgadma_sge stack[FPGADMA_OP_INLINE_SGES], *sges = NULL;
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
			.flags = fpgadma_rx_cq_flags(hdr),
			.tag = hdr->tag,
			.src_addr = src_addr,
		};

		fpgadma_send_reply(dp, FPGADMA_MSG_FIN, src_ep, hdr->src_idx,
				   (uint16_t)ep->ep_idx, hdr->msg_id,
				   FI_ENOMEM);
		fpgadma_rx_take(ep, rx, 0);
		listed = rx->listed;
		fpgadma_rx_msg_done(ep, rx, &c, FI_ENOMEM, 0, 0);
		return listed;
	}
	op->w.kind = FPGADMA_WORK_RDV;
	op->rx = rx;
	op->rx_tagged = rx->tagged;
	op->cq_flags = fpgadma_rx_cq_flags(hdr);
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
	fpgadma_rx_take(ep, rx, recv_len);
	listed = rx->listed;	/* a posted rx is not freed below */

	if (!recv_len) {
		fpgadma_rdv_done(dp, op);
		return listed;
	}
	n = fpgadma_local_pieces(dp, op, iov, rx->desc, count, recv_len, true,
				 stack, &sges);
	if (n < 0) {
		op->err = -n;
		fpgadma_rdv_done(dp, op);
		return listed;
	}
	rs = calloc(hdr->nseg ? hdr->nseg : 1, sizeof(*rs));
	if (!rs) {
		if (sges != stack)
			free(sges);
		op->err = FI_ENOMEM;
		fpgadma_rdv_done(dp, op);
		return listed;
	}
	for (i = 0; i < hdr->nseg; i++) {
		rs[i].addr = segs[i].addr;
		rs[i].len = segs[i].len;
		rs[i].rkey = segs[i].rkey;
	}
	ret = fpgadma_build_wrs(dp, op, FPGADMA_WR_RDMA_READ, 0, sges,
				(unsigned int)n, rs, hdr->nseg);
	if (sges != stack)
		free(sges);
	free(rs);
	if (ret) {
		op->err = -ret;
		fpgadma_rdv_done(dp, op);
		return listed;
	}
	fpgadma_work_submit(dp, &op->w);
	return listed;
}

/* --- RMA writes with remote CQ data -------------------------------------- */

void fpgadma_rma_done(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	if (op->w.first_err && !op->err) {
		op->err = fpgadma_wc_to_fi(op->w.first_err);
		op->prov_errno = (int)op->w.first_err;
		/* for an atomic the status means one thing: say which */
		if (op->atomic &&
		    op->w.first_err == FPGADMA_WC_REM_INV_REQ_ERR)
			op->prov_errno = FI_FPGADMA_ERR_ATOMIC_ALIGN;
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
		h->flags = op->wd_cq_data ? FPGADMA_HDR_CQ_DATA : 0;
		if (op->cq_flags & FI_READ)
			h->flags |= FPGADMA_HDR_RMA_READ;
		if (op->atomic)
			h->flags |= FPGADMA_HDR_ATOMIC;
		h->tag = op->rkey;	/* the target MR: its counters */
		h->dst_idx = op->dest_idx;
		h->src_idx = op->ep ? (uint16_t)op->ep->ep_idx : 0;
		h->data = op->data;
		h->len = op->len;
		tb->op = op;
		op->tb = tb;
		op->pending = 1;
		if (!fpgadma_peer_send(dp, tb, op->dest_ep, 0))
			return;
		op->err = FI_ENOMEM;
	}
	fpgadma_op_complete(dp, op);
}

void fpgadma_writedata_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			       const struct fpgadma_hdr *hdr)
{
	struct fpgadma_ep *ep = fpgadma_dp_ep_at(dp, hdr->dst_idx);
	bool read = hdr->flags & FPGADMA_HDR_RMA_READ;
	struct fpgadma_comp c = {
		/*
		 * fi_writedata's, or an atomic's with remote CQ data (a
		 * fetching or comparing one reads the target: FI_REMOTE_READ)
		 */
		.flags = (hdr->flags & FPGADMA_HDR_ATOMIC ? FI_ATOMIC : FI_RMA) |
			 (read ? FI_REMOTE_READ : FI_REMOTE_WRITE) |
			 FI_REMOTE_CQ_DATA,
		.len = hdr->len,
		.data = hdr->data,
	};
	struct fpgadma_cntr *cntr;

	/* counters bound to the MR the RMA hit (fi_mr_bind) */
	fpgadma_mr_rma_event(dp->d, (uint32_t)hdr->tag, read);
	if (!ep)
		return;
	/*
	 * The remote counters: FI_REMOTE_READ for RMA reads, atomic fetches
	 * and compares, FI_REMOTE_WRITE for RMA writes and base atomics
	 * (fi_endpoint(3)).
	 */
	cntr = read ? ep->rread_cntr : ep->rwrite_cntr;
	if (!(hdr->flags & FPGADMA_HDR_CQ_DATA)) {
		/* an FI_RMA_EVENT notice: the remote counters only */
		if (cntr)
			fpgadma_cntr_inc(cntr);
		return;
	}
	c.src_addr = fpgadma_ep_src_addr(ep, src_ep, hdr->src_idx);
	/* remote CQ data always makes a completion (fi_cq(3)) */
	if (ep->rx_cq)
		fpgadma_cq_write(ep->rx_cq, &c);
	if (cntr)
		fpgadma_cntr_inc(cntr);
}
