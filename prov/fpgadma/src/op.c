// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: operations, and the work requests that carry them.
 *
 * An operation is what the application posted (a send, an RMA, or the
 * rendezvous read behind a receive) until it completes: the events it
 * still waits for (its SEND, a FIN or ACK, its WRs), the registrations to
 * release, and what its completion and counter will say.  Sends waiting
 * for a FIN or ACK are found again by msg_id.  The second half builds the
 * WRs of an operation from local buffers and remote segments, within the
 * device's limits on pieces and lengths.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Free op->w.wrs and op->sges unless they are the operation's own. */
static void op_wrs_release(struct fpgadma_op *op)
{
	if (op->w.wrs != &op->wr_inl)
		free(op->w.wrs);
	if (op->sges != op->sge_inl)
		free(op->sges);
	op->w.wrs = NULL;
	op->w.nwr = 0;
	op->sges = NULL;
}

/* Operations a domain keeps for reuse: no allocation per operation. */
#define OP_CACHE_MAX	256

struct fpgadma_op *fpgadma_op_alloc(struct fpgadma_ep *ep, void *context,
				    uint64_t op_flags)
{
	struct fpgadma_dp *dp = ep->dp;
	struct fpgadma_op *op;

	if (dp && dp->op_cache) {
		op = dp->op_cache;
		dp->op_cache = op->cache_next;
		dp->op_ncache--;
		memset(op, 0, sizeof(*op));
	} else {
		op = calloc(1, sizeof(*op));
		if (!op)
			return NULL;
	}
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

	/* back to the cache: deregistered there if not kept */
	for (i = 0; i < op->nregs; i++)
		fpgadma_mrcache_put(dp->d->mrcache, op->regs[i]);
	if (op->id_listed)
		dl_del(&op->id_link);
	if (op->tb && op->tb->op == op)
		op->tb->op = NULL;	/* its SEND finishes without it */
	if (op->wd)
		fpgadma_txbuf_put(dp, op->wd);
	dl_del(&op->ep_link);
	dl_del(&op->dp_link);
	free(op->rd_iov);
	free(op->regs);
	op_wrs_release(op);
	if (dp->op_ncache < OP_CACHE_MAX) {
		op->cache_next = dp->op_cache;
		dp->op_cache = op;
		dp->op_ncache++;
		return;
	}
	free(op);
}

void fpgadma_op_cache_free(struct fpgadma_dp *dp)
{
	while (dp->op_cache) {
		struct fpgadma_op *op = dp->op_cache;

		dp->op_cache = op->cache_next;
		free(op);
	}
	dp->op_ncache = 0;
}

void fpgadma_op_wait_id(struct fpgadma_dp *dp, struct fpgadma_op *op)
{
	op->msg_id = ++dp->next_msg_id;
	dl_add_tail(&dp->ids[op->msg_id % ID_BUCKETS], &op->id_link);
	op->id_listed = true;
}

struct fpgadma_op *fpgadma_op_by_id(struct fpgadma_dp *dp, uint64_t msg_id)
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

struct fpgadma_cntr *fpgadma_ep_cntr(struct fpgadma_ep *ep, int sel)
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

	if (op->cm) {
		/* a CM message (cm.c): no completion, a failure is an event */
		if (ep && op->err)
			fpgadma_cm_send_failed(ep, op->err);
		fpgadma_op_free(dp, op);
		return;
	}
	if (ep) {
		struct fpgadma_comp c = fpgadma_op_comp(op, FI_ADDR_NOTAVAIL);

		if (op->counts_tx && ep->tx_inflight)
			ep->tx_inflight--;
		if (op->err) {
			c.len = 0;
			c.buf = NULL;
		}
		fpgadma_report(ep->tx_cq, ep->tx_selective, op->op_flags,
			       op->no_comp, fpgadma_ep_cntr(ep, op->cntr_sel), &c,
			       op->err, op->prov_errno, 0);
	}
	fpgadma_op_free(dp, op);
}

void fpgadma_op_event(struct fpgadma_dp *dp, struct fpgadma_op *op, int err,
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

/* op holds e until it is freed; else e goes back at once. */
static int push_reg(struct fpgadma_dp *dp, struct fpgadma_op *op,
		    struct fpgadma_mrcache_entry *e)
{
	struct fpgadma_mrcache_entry **a =
		realloc(op->regs, (op->nregs + 1) * sizeof(*a));

	if (!a) {
		fpgadma_mrcache_put(dp->d->mrcache, e);
		return -FI_ENOMEM;
	}
	a[op->nregs++] = e;
	op->regs = a;
	return 0;
}

int fpgadma_reg_remote_read(struct fpgadma_dp *dp, struct fpgadma_op *op,
			    void *buf, size_t len, uint32_t *rkey)
{
	struct fpgadma_mrcache_entry *e;
	int ret;

	/*
	 * The receiver reads by address (rdv.c), so an entry over more than
	 * [buf, +len) serves; never one that lets it write.
	 */
	ret = fpgadma_mrcache_get(dp->d->mrcache, buf, len,
				  FPGADMA_ACCESS_REMOTE_READ,
				  FPGADMA_ACCESS_REMOTE_WRITE, &e);
	if (ret)
		return ret;
	*rkey = fpgadma_mrcache_mr(e)->rkey;
	return push_reg(dp, op, e);
}

int fpgadma_local_pieces(struct fpgadma_dp *dp, struct fpgadma_op *op,
			 const struct iovec *iov, void **desc, size_t count,
			 size_t max_len, bool device_writes,
			 struct fpgadma_sge *stack, struct fpgadma_sge **sges)
{
	uint64_t reg_max = dp->attr.max_mr_size ? dp->attr.max_mr_size : SIZE_MAX;
	struct fpgadma_sge *arr = stack;
	size_t n = 0, cap = FPGADMA_OP_INLINE_SGES, left = max_len, i;

	for (i = 0; i < count && left; i++) {
		char *base = iov[i].iov_base;
		size_t len = iov[i].iov_len < left ? iov[i].iov_len : left;
		size_t off = 0;

		while (off < len) {
			size_t chunk = len - off, p = 0;
			struct fpgadma_mrcache_entry *tmp = NULL;
			uint32_t lkey;
			int ret;

			if (chunk > reg_max)
				chunk = reg_max;
			ret = fpgadma_mr_local(dp->d, desc ? desc[i] : NULL,
					       base + off, chunk, device_writes,
					       &lkey, &tmp);
			if (!ret && tmp)
				ret = push_reg(dp, op, tmp);
			if (ret) {
				if (arr != stack)
					free(arr);
				return ret;
			}
			while (p < chunk) {
				size_t plen = chunk - p;

				if (plen > FPGADMA_PIECE_MAX)
					plen = FPGADMA_PIECE_MAX;
				if (n == cap) {
					struct fpgadma_sge *a;

					cap *= 2;
					a = malloc(cap * sizeof(*a));
					if (!a) {
						if (arr != stack)
							free(arr);
						return -FI_ENOMEM;
					}
					memcpy(a, arr, n * sizeof(*a));
					if (arr != stack)
						free(arr);
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

	op_wrs_release(op);
	if (nsge == 1 && nrseg == 1 && sges[0].length &&
	    sges[0].length <= rsegs[0].len) {
		/* one piece to one segment (most small RMAs): wr_walk's result */
		wrs = &op->wr_inl;
		out = op->sge_inl;
		memset(wrs, 0, sizeof(*wrs));
		out[0] = sges[0];
		wrs->dev_addr = rsegs[0].addr;
		wrs->sg_list = (uint64_t)(uintptr_t)out;
		wrs->num_sge = 1;
		wrs->rkey = rsegs[0].rkey;
		nwr = 1;
		goto fill;
	}
	wr_walk(sges, nsge, rsegs, nrseg, dp->max_sge, NULL, NULL, &nwr, &nout);
	if (!nwr) {
		/* a zero-length transfer: one WR without pieces */
		wrs = &op->wr_inl;
		memset(wrs, 0, sizeof(*wrs));
		wrs[0].dev_addr = nrseg ? rsegs[0].addr : 0;
		wrs[0].rkey = nrseg ? rsegs[0].rkey : 0;
		nwr = 1;
		out = NULL;
	} else if (nwr == 1 && nout <= FPGADMA_OP_INLINE_SGES) {
		/* the common case: no allocation */
		wrs = &op->wr_inl;
		out = op->sge_inl;
		memset(wrs, 0, sizeof(*wrs));
		memset(out, 0, sizeof(op->sge_inl));
		wr_walk(sges, nsge, rsegs, nrseg, dp->max_sge, wrs, out, &nwr,
			&nout);
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
fill:
	for (i = 0; i < nwr; i++) {
		wrs[i].wr_id = (uint64_t)(uintptr_t)&op->w;
		wrs[i].opcode = opcode;
		wrs[i].flags = flags;
	}
	op->w.wrs = wrs;
	op->w.nwr = nwr;
	op->w.nposted = op->w.ndone = 0;
	op->sges = out;
	return 0;
}
