// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: fi_read / fi_write families.
 *
 * To a host endpoint an RMA is RDMA_READ / RDMA_WRITE work on the peer's
 * MR by its key (a virtual address with FI_MR_VIRT_ADDR, else an offset).
 * To the FPGA's address, key FI_FPGADMA_MEM_KEY reaches on-board memory
 * (READ_MEM / WRITE_MEM at the address) and FI_FPGADMA_STREAM_KEY the
 * frame stream (READ_STREAM, fi_read at address 0 only); any other key
 * completes with the error of a bad remote key (FI_EREMOTEIO, prov_errno
 * FPGADMA_WC_REM_ACCESS_ERR), as a wrong key at a host does.
 *
 * fi_writedata: the RDMA_WRITE, then once it has completed a WRITEDATA
 * message that makes the target write a FI_REMOTE_CQ_DATA completion.
 *
 * FI_RMA_EVENT: the kernel moves RMA data without the target's CPU, so
 * the target's counters of remote reads and writes (fi_ep_bind with
 * FI_REMOTE_READ / FI_REMOTE_WRITE) learn of an RMA from the initiator:
 * an endpoint opened with FI_RMA_EVENT follows each completed RMA to a
 * host endpoint with a WRITEDATA message (FPGADMA_HDR_RMA_READ for a
 * read, no FPGADMA_HDR_CQ_DATA), and its own completion waits for that
 * message's delivery.  Initiators without the capability cost nothing
 * extra and are not counted (fi_fpgadma(7)).
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct rma_args {
	const struct iovec *iov;
	void **desc;
	size_t count;
	fi_addr_t addr;
	uint64_t raddr;
	uint64_t rlen;		/* the remote range's length (SIZE_MAX: as local) */
	uint64_t key;
	uint64_t data;
	uint64_t flags;
	void *context;
	bool is_read;
	bool inject_call;
};

static size_t iov_total(const struct iovec *iov, size_t count)
{
	size_t len = 0, i;

	for (i = 0; i < count; i++)
		len += iov[i].iov_len;
	return len;
}

/*
 * Should a transfer go through a send buffer of the pool?  Yes for one of
 * at most FI_FPGADMA_INJECT_SIZE bytes whose buffer desc does not cover:
 * copying a few KiB costs less than registering and deregistering it (two
 * system calls that pin and unpin).
 */
static bool bounce_worth(struct fpgadma_ep *ep, const struct rma_args *r,
			 size_t len)
{
	size_t i;

	if (!len || len > fpgadma_params.inject_size)
		return false;
	for (i = 0; i < r->count; i++)
		if (!fpgadma_mr_desc_covers(ep->domain, r->desc ? r->desc[i] : NULL,
					    r->iov[i].iov_base,
					    r->iov[i].iov_len, r->is_read))
			return true;
	return false;
}

static void rma_fail_now(struct fpgadma_dp *dp, struct fpgadma_op *op,
			 uint32_t status)
{
	op->err = fpgadma_wc_to_fi(status);
	op->prov_errno = (int)status;
	fpgadma_op_complete(dp, op);
}

static ssize_t rma_common(struct fpgadma_ep *ep, const struct rma_args *r)
{
	struct fpgadma_dp *dp = ep->dp;
	struct fpgadma_sge *sges = NULL, one;
	struct fpgadma_rseg rseg;
	struct fpgadma_op *op;
	struct fpgadma_addr a;
	uint32_t opcode, wrflags = 0;
	bool inject = r->inject_call || (r->flags & FI_INJECT);
	bool writedata = !r->is_read && (r->flags & FI_REMOTE_CQ_DATA);
	bool stream = false, bounce = false, fpga, rma_event;
	size_t len;
	ssize_t ret;
	int n;

	if (r->count && !r->iov)
		return -FI_EINVAL;
	if (ep->type == FI_EP_DGRAM)
		return -FI_EOPNOTSUPP;	/* DGRAM: messages only */
	len = iov_total(r->iov, r->count);
	fpgadma_dp_lock(dp);
	ret = fpgadma_ep_check_tx(ep);
	if (ret)
		goto out;
	ret = -FI_EINVAL;
	if (r->count > ep->tx_iov_limit || len > r->rlen)
		goto out;
	if (len > ep->max_msg_size) {
		ret = -FI_EMSGSIZE;
		goto out;
	}
	if (r->is_read)
		inject = false;
	if (inject && len > ep->inject_size)
		goto out;
	if (fpgadma_ep_dest(ep, r->addr, &a) ||
	    a.magic != FPGADMA_ADDR_MAGIC ||
	    a.dev_index != ep->domain->attr.dev_index)
		goto out;
	fpga = fpgadma_addr_is_fpga(&a);
	if (fpga && writedata)
		goto out;	/* the FPGA has no completion queue */
	rma_event = !fpga && (ep->caps & FI_RMA_EVENT);
	if (!fpga && a.ep_idx >= FPGADMA_MAX_EPS)
		goto out;

	if (ep->tx_inflight >= ep->tx_size) {
		fpgadma_dp_progress_locked(dp);
		if (ep->tx_inflight >= ep->tx_size) {
			ret = -FI_EAGAIN;
			goto out;
		}
	}
	op = fpgadma_op_alloc(ep, r->context, r->flags);
	if (!op) {
		ret = -FI_ENOMEM;
		goto out;
	}
	op->w.kind = FPGADMA_WORK_RMA;
	op->cq_flags = FI_RMA | (r->is_read ? FI_READ : FI_WRITE);
	op->len = len;
	op->no_comp = r->inject_call;
	op->cntr_sel = r->is_read ? FPGADMA_CNTR_READ : FPGADMA_CNTR_WRITE;
	op->data = r->data;
	op->dest_ep = a.ep_id;
	op->dest_idx = (uint16_t)a.ep_idx;
	op->counts_tx = true;
	ep->tx_inflight++;

	if (!inject && bounce_worth(ep, r, len)) {
		/* a send buffer instead of a registration and a deregistration */
		op->wd = fpgadma_txbuf_get(dp, false);
		bounce = op->wd != NULL;
		if (bounce && r->is_read) {
			op->rd_iov = malloc(r->count * sizeof(*op->rd_iov));
			if (!op->rd_iov) {
				ep->tx_inflight--;
				fpgadma_op_free(dp, op);
				ret = -FI_ENOMEM;
				goto out;
			}
			memcpy(op->rd_iov, r->iov, r->count * sizeof(*op->rd_iov));
			op->rd_count = r->count;
		}
	}
	if ((inject || writedata || rma_event) && !op->wd) {
		op->wd = fpgadma_txbuf_get(dp, false);
		if (!op->wd) {
			fpgadma_dp_progress_locked(dp);
			op->wd = fpgadma_txbuf_get(dp, false);
		}
		if (!op->wd) {
			ep->tx_inflight--;
			fpgadma_op_free(dp, op);
			ret = -FI_EAGAIN;
			goto out;
		}
	}
	op->wd_send = writedata || rma_event;
	op->wd_cq_data = writedata;

	rseg.addr = r->raddr;
	rseg.len = len;
	rseg.rkey = 0;
	if (fpga) {
		if (r->key == FI_FPGADMA_MEM_KEY) {
			opcode = r->is_read ? FPGADMA_WR_READ_MEM :
					      FPGADMA_WR_WRITE_MEM;
		} else if (r->key == FI_FPGADMA_STREAM_KEY && r->is_read &&
			   !r->raddr) {
			opcode = FPGADMA_WR_READ_STREAM;
			stream = true;
		} else {
			rma_fail_now(dp, op, FPGADMA_WC_REM_ACCESS_ERR);
			ret = 0;
			goto out;
		}
	} else {
		if (r->key > UINT32_MAX) {
			rma_fail_now(dp, op, FPGADMA_WC_REM_ACCESS_ERR);
			ret = 0;
			goto out;
		}
		opcode = r->is_read ? FPGADMA_WR_RDMA_READ :
				      FPGADMA_WR_RDMA_WRITE;
		rseg.rkey = (uint32_t)r->key;
		op->rkey = rseg.rkey;	/* for the FI_RMA_EVENT notice */
		if (!(ep->domain->mr_mode & FI_MR_VIRT_ADDR))
			wrflags = FPGADMA_WR_F_REMOTE_OFFSET;
	}

	if (inject || bounce) {
		/* the data goes from (or to) a send buffer */
		char *p = fpgadma_txbuf_payload(op->wd);
		size_t i;

		for (i = 0; i < r->count && !r->is_read; i++) {
			memcpy(p, r->iov[i].iov_base, r->iov[i].iov_len);
			p += r->iov[i].iov_len;
		}
		one.addr = (uint64_t)(uintptr_t)fpgadma_txbuf_payload(op->wd);
		one.length = (uint32_t)len;
		one.lkey = op->wd->sge.lkey;
		n = len ? 1 : 0;
		ret = fpgadma_build_wrs(dp, op, opcode, wrflags, &one,
					(unsigned int)n, &rseg, 1);
	} else {
		n = fpgadma_local_pieces(dp, op, r->iov, r->desc, r->count, len,
					 r->is_read, &sges);
		if (n < 0) {
			ret = n;
			goto fail;
		}
		ret = fpgadma_build_wrs(dp, op, opcode, wrflags, sges,
					(unsigned int)n, &rseg, 1);
		free(sges);
	}
	if (ret)
		goto fail;
	if (stream) {
		unsigned int i;

		for (i = 0; i < op->w.nwr; i++)
			op->w.wrs[i].dev_addr = 0;
	}
	/* An operation without a completion (inject) goes out at once. */
	op->w.deferrable = !op->no_comp;
	fpgadma_work_submit(dp, &op->w);
	ret = 0;
	goto out;
fail:
	ep->tx_inflight--;
	fpgadma_op_free(dp, op);
out:
	fpgadma_dp_unlock(dp);
	return ret;
}

static ssize_t rma_read(struct fid_ep *ep_fid, void *buf, size_t len,
			void *desc, fi_addr_t src_addr, uint64_t addr,
			uint64_t key, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct rma_args r = {
		.iov = &iov, .desc = &desc, .count = 1, .addr = src_addr,
		.raddr = addr, .rlen = SIZE_MAX, .key = key,
		.flags = ep->tx_op_flags, .context = context, .is_read = true,
	};

	return rma_common(ep, &r);
}

static ssize_t rma_readv(struct fid_ep *ep_fid, const struct iovec *iov,
			 void **desc, size_t count, fi_addr_t src_addr,
			 uint64_t addr, uint64_t key, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct rma_args r = {
		.iov = iov, .desc = desc, .count = count, .addr = src_addr,
		.raddr = addr, .rlen = SIZE_MAX, .key = key,
		.flags = ep->tx_op_flags, .context = context, .is_read = true,
	};

	return rma_common(ep, &r);
}

static ssize_t rma_msg(struct fpgadma_ep *ep, const struct fi_msg_rma *msg,
		       uint64_t flags, bool is_read)
{
	struct rma_args r = { 0 };

	if (!msg || msg->rma_iov_count != 1 || !msg->rma_iov)
		return -FI_EINVAL;
	r.iov = msg->msg_iov;
	r.desc = msg->desc;
	r.count = msg->iov_count;
	r.addr = msg->addr;
	r.raddr = msg->rma_iov[0].addr;
	r.rlen = msg->rma_iov[0].len;
	r.key = msg->rma_iov[0].key;
	r.data = msg->data;
	r.flags = flags;
	r.context = msg->context;
	r.is_read = is_read;
	return rma_common(ep, &r);
}

static ssize_t rma_readmsg(struct fid_ep *ep_fid, const struct fi_msg_rma *msg,
			   uint64_t flags)
{
	return rma_msg(fpgadma_ep_of(ep_fid), msg, flags, true);
}

static ssize_t rma_write(struct fid_ep *ep_fid, const void *buf, size_t len,
			 void *desc, fi_addr_t dest_addr, uint64_t addr,
			 uint64_t key, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct rma_args r = {
		.iov = &iov, .desc = &desc, .count = 1, .addr = dest_addr,
		.raddr = addr, .rlen = SIZE_MAX, .key = key,
		.flags = ep->tx_op_flags, .context = context,
	};

	return rma_common(ep, &r);
}

static ssize_t rma_writev(struct fid_ep *ep_fid, const struct iovec *iov,
			  void **desc, size_t count, fi_addr_t dest_addr,
			  uint64_t addr, uint64_t key, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct rma_args r = {
		.iov = iov, .desc = desc, .count = count, .addr = dest_addr,
		.raddr = addr, .rlen = SIZE_MAX, .key = key,
		.flags = ep->tx_op_flags, .context = context,
	};

	return rma_common(ep, &r);
}

static ssize_t rma_writemsg(struct fid_ep *ep_fid, const struct fi_msg_rma *msg,
			    uint64_t flags)
{
	return rma_msg(fpgadma_ep_of(ep_fid), msg, flags, false);
}

static ssize_t rma_inject(struct fid_ep *ep_fid, const void *buf, size_t len,
			  fi_addr_t dest_addr, uint64_t addr, uint64_t key)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct rma_args r = {
		.iov = &iov, .count = 1, .addr = dest_addr, .raddr = addr,
		.rlen = SIZE_MAX, .key = key,
		.flags = ep->tx_op_flags | FI_INJECT, .inject_call = true,
	};

	return rma_common(ep, &r);
}

static ssize_t rma_writedata(struct fid_ep *ep_fid, const void *buf,
			     size_t len, void *desc, uint64_t data,
			     fi_addr_t dest_addr, uint64_t addr, uint64_t key,
			     void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct rma_args r = {
		.iov = &iov, .desc = &desc, .count = 1, .addr = dest_addr,
		.raddr = addr, .rlen = SIZE_MAX, .key = key, .data = data,
		.flags = ep->tx_op_flags | FI_REMOTE_CQ_DATA,
		.context = context,
	};

	return rma_common(ep, &r);
}

static ssize_t rma_injectdata(struct fid_ep *ep_fid, const void *buf,
			      size_t len, uint64_t data, fi_addr_t dest_addr,
			      uint64_t addr, uint64_t key)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct rma_args r = {
		.iov = &iov, .count = 1, .addr = dest_addr, .raddr = addr,
		.rlen = SIZE_MAX, .key = key, .data = data,
		.flags = ep->tx_op_flags | FI_INJECT | FI_REMOTE_CQ_DATA,
		.inject_call = true,
	};

	return rma_common(ep, &r);
}

struct fi_ops_rma fpgadma_rma_ops = {
	.size = sizeof(struct fi_ops_rma),
	.read = rma_read,
	.readv = rma_readv,
	.readmsg = rma_readmsg,
	.write = rma_write,
	.writev = rma_writev,
	.writemsg = rma_writemsg,
	.inject = rma_inject,
	.writedata = rma_writedata,
	.injectdata = rma_injectdata,
};
