// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: fi_read / fi_write families, and the atomics (below).
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
 *
 * Atomics (fi_atomic, fi_fetch_atomic, fi_compare_atomic and their v, msg
 * and inject forms) are one kernel work request each: ATOMIC on a host
 * endpoint's MR by key, addressed as RMA is (virtual address or offset),
 * or ATOMIC_MEM on the FPGA's memory (its address, key
 * FI_FPGADMA_MEM_KEY).  The kernel's operations and datatypes are
 * libfabric's, value for value, and so is its table of valid pairs
 * (fpgadma_atomic_valid): the valid calls and fi_query_atomic ask it.
 * An atomic completes, takes its counters, its FI_RMA_EVENT notice and
 * its remote CQ data as an RMA does (a fetching or comparing one as a
 * read, a base one as a write), through the same work and the same post
 * queue, so atomics and RMA of an endpoint reach the engine, which runs a
 * context's work in order, in the order they were issued.
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

/*
 * The FPGA's memory mapped, for an RMA of len bytes at raddr on an
 * endpoint with nothing else in flight (so that it comes after everything
 * the endpoint posted before, and its completion in order): NULL when the
 * engine must move it (too long, out of range, where the kernel reports
 * the error, or a device that cannot map its memory).  Domain lock held.
 */
static char *rma_mem_map(struct fpgadma_ep *ep, uint64_t raddr, size_t len)
{
	struct fpgadma_domain *d = ep->domain;
	void *m;
	int ret;

	if (len > fpgadma_params.mem_map_max || ep->tx_inflight ||
	    raddr > d->attr.dev_mem_size || len > d->attr.dev_mem_size - raddr)
		return NULL;
	if (!d->mem_map_tried) {
		d->mem_map_tried = true;
		ret = (d->attr.caps & FPGADMA_CAP_MEM_MAP) ?
		      fpgadma_mem_map(d->ctx, &m) : -EOPNOTSUPP;
		if (!ret)
			d->mem_map = m;
		else if (ret != -EOPNOTSUPP)
			FPGADMA_WARN(FI_LOG_EP_DATA,
				     "the FPGA's memory not mapped (%s): its RMAs go through the engine\n",
				     fpgadma_strerror(ret));
	}
	return d->mem_map ? d->mem_map + raddr : NULL;
}

/* Loads and stores between the iov and the mapped FPGA memory at p. */
static void rma_mem_copy(const struct rma_args *r, char *p)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		if (r->is_read)
			memcpy(r->iov[i].iov_base, p, r->iov[i].iov_len);
		else
			memcpy(p, r->iov[i].iov_base, r->iov[i].iov_len);
		p += r->iov[i].iov_len;
	}
}

/*
 * A free slot of the endpoint's transmit queue (running the progress once
 * when there is none) and an operation for it: -FI_EAGAIN, -FI_ENOMEM.
 * The caller counts it in ep->tx_inflight once it has filled it.
 */
static ssize_t rma_op_get(struct fpgadma_ep *ep, void *context, uint64_t flags,
			  struct fpgadma_op **op)
{
	if (ep->tx_inflight >= ep->tx_size) {
		fpgadma_dp_progress_locked(ep->dp);
		if (ep->tx_inflight >= ep->tx_size)
			return -FI_EAGAIN;
	}
	*op = fpgadma_op_alloc(ep, context, flags);
	return *op ? 0 : -FI_ENOMEM;
}

/* A send buffer of the pool, after one progress call if none is free. */
static struct fpgadma_txbuf *txbuf_get_progress(struct fpgadma_dp *dp)
{
	struct fpgadma_txbuf *wd = fpgadma_txbuf_get(dp, false);

	if (!wd) {
		fpgadma_dp_progress_locked(dp);
		wd = fpgadma_txbuf_get(dp, false);
	}
	return wd;
}

static ssize_t rma_common(struct fpgadma_ep *ep, const struct rma_args *r)
{
	struct fpgadma_dp *dp = ep->dp;
	struct fpgadma_sge stack[FPGADMA_OP_INLINE_SGES], *sges = NULL, one;
	struct fpgadma_rseg rseg;
	struct fpgadma_op *op;
	struct fpgadma_addr a;
	uint32_t opcode, wrflags = 0;
	bool inject = r->inject_call || (r->flags & FI_INJECT);
	bool writedata = !r->is_read && (r->flags & FI_REMOTE_CQ_DATA);
	bool stream = false, bounce = false, fpga, rma_event;
	char *mem = NULL;
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
	if (fpga && r->key == FI_FPGADMA_MEM_KEY)
		mem = rma_mem_map(ep, r->raddr, len);
	if (mem) {
		/* done now: no operation, no work request, no system call */
		struct fpgadma_comp c = {
			.op_context = r->context,
			.flags = FI_RMA | (r->is_read ? FI_READ : FI_WRITE),
			.len = len,
			.src_addr = FI_ADDR_NOTAVAIL,
		};

		rma_mem_copy(r, mem);
		ep->domain->n_mem_map++;
		fpgadma_report(ep->tx_cq, ep->tx_selective, r->flags, r->inject_call,
			       fpgadma_ep_cntr(ep, r->is_read ? FPGADMA_CNTR_READ :
							     FPGADMA_CNTR_WRITE),
			       &c, 0, 0, 0);
		ret = 0;
		goto out;
	}

	ret = rma_op_get(ep, r->context, r->flags, &op);
	if (ret)
		goto out;
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
		op->wd = txbuf_get_progress(dp);
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
					 r->is_read, stack, &sges);
		if (n < 0) {
			ret = n;
			goto fail;
		}
		ret = fpgadma_build_wrs(dp, op, opcode, wrflags, sges,
					(unsigned int)n, &rseg, 1);
		if (sges != stack)
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

/* --- atomics ------------------------------------------------------------- */

/*
 * The kernel numbers operations and datatypes as libfabric does
 * (fpgadma-abi.h): they go into the work request unchanged.
 */
#define SAME(k, f)	((int)(k) == (int)(f))
_Static_assert(SAME(FPGADMA_ATOMIC_MIN, FI_MIN) &&
	       SAME(FPGADMA_ATOMIC_MAX, FI_MAX) &&
	       SAME(FPGADMA_ATOMIC_SUM, FI_SUM) &&
	       SAME(FPGADMA_ATOMIC_PROD, FI_PROD) &&
	       SAME(FPGADMA_ATOMIC_LOR, FI_LOR) &&
	       SAME(FPGADMA_ATOMIC_LAND, FI_LAND) &&
	       SAME(FPGADMA_ATOMIC_BOR, FI_BOR) &&
	       SAME(FPGADMA_ATOMIC_BAND, FI_BAND) &&
	       SAME(FPGADMA_ATOMIC_LXOR, FI_LXOR) &&
	       SAME(FPGADMA_ATOMIC_BXOR, FI_BXOR) &&
	       SAME(FPGADMA_ATOMIC_READ, FI_ATOMIC_READ) &&
	       SAME(FPGADMA_ATOMIC_WRITE, FI_ATOMIC_WRITE) &&
	       SAME(FPGADMA_ATOMIC_CSWAP, FI_CSWAP) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_NE, FI_CSWAP_NE) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_LE, FI_CSWAP_LE) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_LT, FI_CSWAP_LT) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_GE, FI_CSWAP_GE) &&
	       SAME(FPGADMA_ATOMIC_CSWAP_GT, FI_CSWAP_GT) &&
	       SAME(FPGADMA_ATOMIC_MSWAP, FI_MSWAP),
	       "the kernel's atomic operations are libfabric's");
_Static_assert(SAME(FPGADMA_TYPE_INT8, FI_INT8) &&
	       SAME(FPGADMA_TYPE_UINT8, FI_UINT8) &&
	       SAME(FPGADMA_TYPE_INT16, FI_INT16) &&
	       SAME(FPGADMA_TYPE_UINT16, FI_UINT16) &&
	       SAME(FPGADMA_TYPE_INT32, FI_INT32) &&
	       SAME(FPGADMA_TYPE_UINT32, FI_UINT32) &&
	       SAME(FPGADMA_TYPE_INT64, FI_INT64) &&
	       SAME(FPGADMA_TYPE_UINT64, FI_UINT64) &&
	       SAME(FPGADMA_TYPE_FLOAT, FI_FLOAT) &&
	       SAME(FPGADMA_TYPE_DOUBLE, FI_DOUBLE) &&
	       SAME(FPGADMA_TYPE_FLOAT_COMPLEX, FI_FLOAT_COMPLEX) &&
	       SAME(FPGADMA_TYPE_DOUBLE_COMPLEX, FI_DOUBLE_COMPLEX) &&
	       SAME(FPGADMA_TYPE_LONG_DOUBLE, FI_LONG_DOUBLE) &&
	       SAME(FPGADMA_TYPE_LONG_DOUBLE_COMPLEX, FI_LONG_DOUBLE_COMPLEX),
	       "the kernel's atomic datatypes are libfabric's");
#undef SAME

/* The three families of fi_atomic(3). */
enum atomic_kind {
	ATOMIC_BASE,		/* fi_atomic: the target changes */
	ATOMIC_FETCH,		/* fi_fetch_atomic: ... and its old values come back */
	ATOMIC_COMPARE,		/* fi_compare_atomic: CSWAP*, MSWAP, fetching */
};

/* The operations each family takes (fi_atomic(3)). */
static bool atomic_op_of_kind(enum fi_op op, enum atomic_kind kind)
{
	unsigned int o = (unsigned int)op;

	switch (kind) {
	case ATOMIC_BASE:
		return o <= FI_BXOR || o == FI_ATOMIC_WRITE;
	case ATOMIC_FETCH:
		return o <= FI_ATOMIC_WRITE;
	case ATOMIC_COMPARE:
		return o >= FI_CSWAP && o <= FI_MSWAP;
	}
	return false;
}

/*
 * Can the device of ctx run op on datatype in a call of that family?  0
 * and in *count (may be NULL) the most elements one call takes, or
 * -FI_EOPNOTSUPP: an operation of another family, a pair fi_atomic(3)
 * does not define or the kernel refuses (long double, 128-bit integers),
 * a device without atomics (FPGADMA_CAP_ATOMIC) or, on a floating-point
 * type, without FPGADMA_CAP_ATOMIC_FP.  The table is the kernel's
 * (fpgadma_atomic_valid).
 */
static int atomic_valid(struct fpgadma_context *ctx, enum fi_datatype datatype,
			enum fi_op op, enum atomic_kind kind, size_t *count)
{
	size_t n;

	if (!atomic_op_of_kind(op, kind) ||
	    (unsigned int)datatype > UINT16_MAX ||
	    fpgadma_atomic_valid(ctx, (uint32_t)op, (uint32_t)datatype, &n))
		return -FI_EOPNOTSUPP;
	if (count)
		*count = n;
	return 0;
}

int fpgadma_query_atomic(struct fid_domain *domain, enum fi_datatype datatype,
			 enum fi_op op, struct fi_atomic_attr *attr,
			 uint64_t flags)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	enum atomic_kind kind = ATOMIC_BASE;
	size_t count;
	int ret;

	/* no atomics to tagged receive buffers */
	if (flags & FI_TAGGED)
		return -FI_EOPNOTSUPP;
	if (flags & ~(uint64_t)(FI_FETCH_ATOMIC | FI_COMPARE_ATOMIC))
		return -FI_EBADFLAGS;
	if ((flags & FI_FETCH_ATOMIC) && (flags & FI_COMPARE_ATOMIC))
		return -FI_EINVAL;
	if (flags & FI_FETCH_ATOMIC)
		kind = ATOMIC_FETCH;
	else if (flags & FI_COMPARE_ATOMIC)
		kind = ATOMIC_COMPARE;
	ret = atomic_valid(d->ctx, datatype, op, kind, &count);
	if (ret)
		return ret;
	if (attr) {
		attr->count = count;
		attr->size = fpgadma_atomic_type_size((uint32_t)datatype);
	}
	return 0;
}

static int ep_atomic_valid(struct fid_ep *ep_fid, enum fi_datatype datatype,
			   enum fi_op op, enum atomic_kind kind, size_t *count)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);

	if (ep->type == FI_EP_DGRAM)
		return -FI_EOPNOTSUPP;	/* DGRAM: messages only */
	return atomic_valid(ep->domain->ctx, datatype, op, kind, count);
}

static int atomic_writevalid(struct fid_ep *ep, enum fi_datatype datatype,
			     enum fi_op op, size_t *count)
{
	return ep_atomic_valid(ep, datatype, op, ATOMIC_BASE, count);
}

static int atomic_readwritevalid(struct fid_ep *ep, enum fi_datatype datatype,
				 enum fi_op op, size_t *count)
{
	return ep_atomic_valid(ep, datatype, op, ATOMIC_FETCH, count);
}

static int atomic_compwritevalid(struct fid_ep *ep, enum fi_datatype datatype,
				 enum fi_op op, size_t *count)
{
	return ep_atomic_valid(ep, datatype, op, ATOMIC_COMPARE, count);
}

/* One atomic call, in the widest form (the msg calls'). */
struct atomic_args {
	enum atomic_kind kind;
	const struct fi_ioc *iov;	/* the operand */
	void **desc;
	size_t count;
	const struct fi_ioc *cmpv;	/* the compare values (MSWAP: the mask) */
	void **cmp_desc;
	size_t cmp_count;
	struct fi_ioc *resv;		/* the fetched values */
	void **res_desc;
	size_t res_count;
	fi_addr_t addr;
	uint64_t raddr;
	uint64_t rcount;		/* the target's elements (UINT64_MAX: as local) */
	uint64_t key;
	enum fi_datatype datatype;
	enum fi_op op;
	uint64_t data;
	uint64_t flags;
	void *context;
	bool inject_call;
};

/* The pieces of a work request, in the kernel's order. */
enum { PIECE_OPERAND, PIECE_COMPARE, PIECE_RESULT, NPIECES };

/* One of an atomic's buffers: a list of fi_ioc (NULL, 0: none). */
struct atomic_buf {
	const struct fi_ioc *ioc;
	void **desc;
	size_t count;
};

/*
 * Elements of a buffer: -FI_EINVAL for more pieces than the endpoint
 * takes, a piece without memory, or more elements than one work request
 * takes (max), else the total.
 */
static ssize_t atomic_buf_elems(struct fpgadma_ep *ep,
				const struct atomic_buf *b, size_t max)
{
	size_t n = 0, i;

	if (b->count > ep->tx_iov_limit || (b->count && !b->ioc))
		return -FI_EINVAL;
	for (i = 0; i < b->count; i++) {
		if (b->ioc[i].count && !b->ioc[i].addr)
			return -FI_EINVAL;
		if (b->ioc[i].count > max - n)
			return -FI_EMSGSIZE;
		n += b->ioc[i].count;
	}
	return (ssize_t)n;
}

/* Does every piece of the buffer lie in the MR its desc names? */
static bool atomic_buf_covered(struct fpgadma_ep *ep,
			       const struct atomic_buf *b, size_t esize,
			       bool device_writes)
{
	size_t i;

	for (i = 0; i < b->count; i++)
		if (b->ioc[i].count &&
		    !fpgadma_mr_desc_covers(ep->domain,
					    b->desc ? b->desc[i] : NULL,
					    b->ioc[i].addr,
					    b->ioc[i].count * esize,
					    device_writes))
			return false;
	return true;
}

/* The one non-empty piece of a buffer (atomic_buf_elems said n > 0). */
static const struct fi_ioc *atomic_buf_piece(const struct atomic_buf *b,
					     void **desc)
{
	size_t i;

	for (i = 0; i < b->count; i++) {
		if (b->ioc[i].count) {
			*desc = b->desc ? b->desc[i] : NULL;
			return &b->ioc[i];
		}
	}
	return NULL;
}

/* Non-empty pieces of a buffer. */
static size_t atomic_buf_npieces(const struct atomic_buf *b)
{
	size_t n = 0, i;

	for (i = 0; i < b->count; i++)
		n += b->ioc[i].count != 0;
	return n;
}

static ssize_t atomic_common(struct fpgadma_ep *ep, const struct atomic_args *a)
{
	struct fpgadma_dp *dp = ep->dp;
	struct atomic_buf bufs[NPIECES] = {
		[PIECE_OPERAND] = { a->iov, a->desc, a->count },
		[PIECE_COMPARE] = { a->cmpv, a->cmp_desc, a->cmp_count },
		[PIECE_RESULT] = { a->resv, a->res_desc, a->res_count },
	};
	bool used[NPIECES] = { false };
	bool inject = a->inject_call || (a->flags & FI_INJECT);
	bool cq_data = a->flags & FI_REMOTE_CQ_DATA;
	bool fetch = a->kind != ATOMIC_BASE;
	bool fpga, rma_event, bounce = false, scattered = false, covered = true;
	struct fpgadma_sge *sges = NULL;
	struct fpgadma_wr *wr = NULL;
	struct fpgadma_op *op;
	struct fpgadma_addr dest;
	size_t max, esize, bytes, nused = 0;
	ssize_t n = 0, m, ret;
	unsigned int i;

	if (ep->type == FI_EP_DGRAM)
		return -FI_EOPNOTSUPP;	/* DGRAM: messages only */
	if (a->flags & FI_TAGGED)
		return -FI_EOPNOTSUPP;	/* no atomics to tagged buffers */
	ret = atomic_valid(ep->domain->ctx, a->datatype, a->op, a->kind, &max);
	if (ret)
		return ret;
	esize = fpgadma_atomic_type_size((uint32_t)a->datatype);

	/*
	 * The pieces the operation takes (the kernel's): an operand but for
	 * ATOMIC_READ, compare values for the compare family, the result for
	 * the fetching families; each as many elements, 1 to max.
	 */
	used[PIECE_OPERAND] = a->op != FI_ATOMIC_READ;
	used[PIECE_COMPARE] = a->kind == ATOMIC_COMPARE;
	used[PIECE_RESULT] = fetch;
	for (i = 0; i < NPIECES; i++) {
		if (!used[i])
			continue;
		m = atomic_buf_elems(ep, &bufs[i], max);
		if (m < 0)
			return m;
		if (!nused)
			n = m;
		else if (m != n)
			return -FI_EINVAL;
		nused++;
		if (atomic_buf_npieces(&bufs[i]) > 1)
			scattered = true;
	}
	if (!n || (uint64_t)n > a->rcount)
		return -FI_EINVAL;
	bytes = (size_t)n * esize;

	fpgadma_dp_lock(dp);
	ret = fpgadma_ep_check_tx(ep);
	if (ret)
		goto out;
	ret = -FI_EINVAL;
	if (inject && bytes > ep->inject_size)
		goto out;
	if (fpgadma_ep_dest(ep, a->addr, &dest) ||
	    dest.magic != FPGADMA_ADDR_MAGIC ||
	    dest.dev_index != ep->domain->attr.dev_index)
		goto out;
	fpga = fpgadma_addr_is_fpga(&dest);
	if (fpga && cq_data)
		goto out;	/* the FPGA has no completion queue */
	if (!fpga && dest.ep_idx >= FPGADMA_MAX_EPS)
		goto out;
	rma_event = !fpga && (ep->caps & FI_RMA_EVENT);

	/*
	 * One work request, whose pieces are each one buffer: pieces that
	 * are scattered, constant buffers to copy (FI_INJECT) and buffers no
	 * desc covers go through a send buffer of the pool (the result
	 * first, then operand and compare values, at most 3 x 512 bytes),
	 * which is cheaper than registering them; the buffers are registered
	 * (through the registration cache) only when that cannot be.
	 */
	for (i = 0; i < NPIECES && covered; i++)
		if (used[i] && !atomic_buf_covered(ep, &bufs[i], esize,
						    i == PIECE_RESULT))
			covered = false;
	if ((scattered || inject) && (!dp->host_ep ||
				      nused * bytes > fpgadma_params.eager_size))
		goto out;	/* -FI_EINVAL: no send buffer holds it */

	ret = rma_op_get(ep, a->context, a->flags, &op);
	if (ret)
		goto out;
	op->w.kind = FPGADMA_WORK_RMA;
	op->atomic = true;
	op->cq_flags = FI_ATOMIC | (fetch ? FI_READ : FI_WRITE);
	op->len = bytes;
	op->no_comp = a->inject_call;
	op->cntr_sel = fetch ? FPGADMA_CNTR_READ : FPGADMA_CNTR_WRITE;
	op->data = a->data;
	op->dest_ep = dest.ep_id;
	op->dest_idx = (uint16_t)dest.ep_idx;
	op->counts_tx = true;
	ep->tx_inflight++;

	if ((scattered || inject || !covered) && dp->host_ep &&
	    nused * bytes <= fpgadma_params.eager_size) {
		op->wd = scattered || inject ? txbuf_get_progress(dp) :
					       fpgadma_txbuf_get(dp, false);
		if (!op->wd && (scattered || inject)) {
			ret = -FI_EAGAIN;
			goto fail;
		}
		bounce = op->wd != NULL;
	}
	if ((cq_data || rma_event) && !op->wd) {
		op->wd = txbuf_get_progress(dp);
		if (!op->wd) {
			ret = -FI_EAGAIN;
			goto fail;
		}
	}
	op->wd_send = cq_data || rma_event;
	op->wd_cq_data = cq_data;

	if (fpga) {
		if (a->key != FI_FPGADMA_MEM_KEY) {
			/* the stream or an unknown key: as a bad key at a host */
			rma_fail_now(dp, op, FPGADMA_WC_REM_ACCESS_ERR);
			ret = 0;
			goto out;
		}
	} else if (a->key > UINT32_MAX) {
		rma_fail_now(dp, op, FPGADMA_WC_REM_ACCESS_ERR);
		ret = 0;
		goto out;
	}

	sges = calloc(NPIECES, sizeof(*sges));
	wr = calloc(1, sizeof(*wr));
	if (!sges || !wr) {
		ret = -FI_ENOMEM;
		goto fail;
	}
	if (bounce) {
		/* result at the payload's start: fpgadma_rma_done copies it out */
		char *pay = fpgadma_txbuf_payload(op->wd), *p = pay;
		size_t k;

		if (fetch) {
			const struct atomic_buf *b = &bufs[PIECE_RESULT];

			op->rd_iov = malloc(b->count * sizeof(*op->rd_iov));
			if (!op->rd_iov) {
				ret = -FI_ENOMEM;
				goto fail;
			}
			for (k = 0; k < b->count; k++) {
				if (!b->ioc[k].count)
					continue;
				op->rd_iov[op->rd_count].iov_base = b->ioc[k].addr;
				op->rd_iov[op->rd_count].iov_len =
					b->ioc[k].count * esize;
				op->rd_count++;
			}
			p += bytes;
		}
		for (i = 0; i < NPIECES; i++) {
			if (!used[i])
				continue;
			sges[i].addr = (uint64_t)(uintptr_t)(i == PIECE_RESULT ?
							    pay : p);
			sges[i].length = (uint32_t)bytes;
			sges[i].lkey = op->wd->sge.lkey;
			if (i == PIECE_RESULT)
				continue;
			for (k = 0; k < bufs[i].count; k++) {
				size_t len = bufs[i].ioc[k].count * esize;

				if (!len)
					continue;
				memcpy(p, bufs[i].ioc[k].addr, len);
				p += len;
			}
		}
	} else {
		/* each buffer one piece, registered through desc or the cache */
		for (i = 0; i < NPIECES; i++) {
			struct fpgadma_sge stack[FPGADMA_OP_INLINE_SGES], *one;
			const struct fi_ioc *ioc;
			struct iovec iov;
			void *desc = NULL;
			int k;

			if (!used[i])
				continue;
			ioc = atomic_buf_piece(&bufs[i], &desc);
			iov.iov_base = ioc->addr;
			iov.iov_len = bytes;
			k = fpgadma_local_pieces(dp, op, &iov, &desc, 1, bytes,
						 i == PIECE_RESULT, stack, &one);
			if (k == 1)
				sges[i] = one[0];
			if (k > 0 && one != stack)
				free(one);
			if (k != 1) {
				ret = k < 0 ? k : -FI_EINVAL;
				goto fail;
			}
		}
	}
	/* the pieces in the kernel's order, without the unused ones */
	for (i = 0, nused = 0; i < NPIECES; i++)
		if (used[i])
			sges[nused++] = sges[i];

	wr->wr_id = (uint64_t)(uintptr_t)&op->w;
	wr->dev_addr = a->raddr;
	wr->sg_list = (uint64_t)(uintptr_t)sges;
	wr->num_sge = (uint32_t)nused;
	wr->atomic_op = (uint16_t)a->op;
	wr->atomic_type = (uint16_t)a->datatype;
	if (fetch)
		wr->flags |= FPGADMA_WR_F_FETCH;
	if (fpga) {
		wr->opcode = FPGADMA_WR_ATOMIC_MEM;
	} else {
		wr->opcode = FPGADMA_WR_ATOMIC;
		wr->rkey = (uint32_t)a->key;
		op->rkey = wr->rkey;	/* for the FI_RMA_EVENT notice */
		if (!(ep->domain->mr_mode & FI_MR_VIRT_ADDR))
			wr->flags |= FPGADMA_WR_F_REMOTE_OFFSET;
	}
	op->sges = sges;
	op->w.wrs = wr;
	op->w.nwr = 1;
	op->w.nposted = op->w.ndone = 0;
	/* An operation without a completion (inject) goes out at once. */
	op->w.deferrable = !op->no_comp;
	fpgadma_work_submit(dp, &op->w);
	ep->domain->n_atomic[a->kind]++;
	ep->domain->n_atomic_fpga += fpga;
	ret = 0;
	goto out;
fail:
	free(sges);
	free(wr);
	ep->tx_inflight--;
	fpgadma_op_free(dp, op);
out:
	fpgadma_dp_unlock(dp);
	return ret;
}

/* --- the calls ------------------------------------------------------------ */

static ssize_t atomic_write(struct fid_ep *ep_fid, const void *buf, size_t count,
			    void *desc, fi_addr_t dest_addr, uint64_t addr,
			    uint64_t key, enum fi_datatype datatype,
			    enum fi_op op, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct fi_ioc ioc = { .addr = (void *)buf, .count = count };
	struct atomic_args a = {
		.kind = ATOMIC_BASE, .iov = &ioc, .desc = &desc, .count = 1,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags, .context = context,
	};

	return atomic_common(ep, &a);
}

static ssize_t atomic_writev(struct fid_ep *ep_fid, const struct fi_ioc *iov,
			     void **desc, size_t count, fi_addr_t dest_addr,
			     uint64_t addr, uint64_t key,
			     enum fi_datatype datatype, enum fi_op op,
			     void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct atomic_args a = {
		.kind = ATOMIC_BASE, .iov = iov, .desc = desc, .count = count,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags, .context = context,
	};

	return atomic_common(ep, &a);
}

/* The target of a msg call: one fi_rma_ioc (rma_iov_limit 1). */
static int atomic_msg_args(const struct fi_msg_atomic *msg, uint64_t flags,
			   enum atomic_kind kind, struct atomic_args *a)
{
	if (!msg || msg->rma_iov_count != 1 || !msg->rma_iov)
		return -FI_EINVAL;
	a->kind = kind;
	a->iov = msg->msg_iov;
	a->desc = msg->desc;
	a->count = msg->iov_count;
	a->addr = msg->addr;
	a->raddr = msg->rma_iov[0].addr;
	a->rcount = msg->rma_iov[0].count;
	a->key = msg->rma_iov[0].key;
	a->datatype = msg->datatype;
	a->op = msg->op;
	a->data = msg->data;
	a->flags = flags;
	a->context = msg->context;
	return 0;
}

static ssize_t atomic_writemsg(struct fid_ep *ep_fid,
			       const struct fi_msg_atomic *msg, uint64_t flags)
{
	struct atomic_args a = { 0 };
	int ret = atomic_msg_args(msg, flags, ATOMIC_BASE, &a);

	return ret ? ret : atomic_common(fpgadma_ep_of(ep_fid), &a);
}

static ssize_t atomic_inject(struct fid_ep *ep_fid, const void *buf,
			     size_t count, fi_addr_t dest_addr, uint64_t addr,
			     uint64_t key, enum fi_datatype datatype,
			     enum fi_op op)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct fi_ioc ioc = { .addr = (void *)buf, .count = count };
	struct atomic_args a = {
		.kind = ATOMIC_BASE, .iov = &ioc, .count = 1,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags | FI_INJECT, .inject_call = true,
	};

	return atomic_common(ep, &a);
}

static ssize_t atomic_readwrite(struct fid_ep *ep_fid, const void *buf,
				size_t count, void *desc, void *result,
				void *result_desc, fi_addr_t dest_addr,
				uint64_t addr, uint64_t key,
				enum fi_datatype datatype, enum fi_op op,
				void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	/* FI_ATOMIC_READ: buf is ignored (may be NULL), count still counts */
	struct fi_ioc ioc = { .addr = (void *)buf, .count = count };
	struct fi_ioc res = { .addr = result, .count = count };
	struct atomic_args a = {
		.kind = ATOMIC_FETCH, .iov = &ioc, .desc = &desc, .count = 1,
		.resv = &res, .res_desc = &result_desc, .res_count = 1,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags, .context = context,
	};

	return atomic_common(ep, &a);
}

static ssize_t atomic_readwritev(struct fid_ep *ep_fid,
				 const struct fi_ioc *iov, void **desc,
				 size_t count, struct fi_ioc *resultv,
				 void **result_desc, size_t result_count,
				 fi_addr_t dest_addr, uint64_t addr,
				 uint64_t key, enum fi_datatype datatype,
				 enum fi_op op, void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct atomic_args a = {
		.kind = ATOMIC_FETCH, .iov = iov, .desc = desc, .count = count,
		.resv = resultv, .res_desc = result_desc,
		.res_count = result_count,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags, .context = context,
	};

	return atomic_common(ep, &a);
}

static ssize_t atomic_readwritemsg(struct fid_ep *ep_fid,
				   const struct fi_msg_atomic *msg,
				   struct fi_ioc *resultv, void **result_desc,
				   size_t result_count, uint64_t flags)
{
	struct atomic_args a = { 0 };
	int ret = atomic_msg_args(msg, flags, ATOMIC_FETCH, &a);

	if (ret)
		return ret;
	a.resv = resultv;
	a.res_desc = result_desc;
	a.res_count = result_count;
	return atomic_common(fpgadma_ep_of(ep_fid), &a);
}

static ssize_t atomic_compwrite(struct fid_ep *ep_fid, const void *buf,
				size_t count, void *desc, const void *compare,
				void *compare_desc, void *result,
				void *result_desc, fi_addr_t dest_addr,
				uint64_t addr, uint64_t key,
				enum fi_datatype datatype, enum fi_op op,
				void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct fi_ioc ioc = { .addr = (void *)buf, .count = count };
	struct fi_ioc cmp = { .addr = (void *)compare, .count = count };
	struct fi_ioc res = { .addr = result, .count = count };
	struct atomic_args a = {
		.kind = ATOMIC_COMPARE, .iov = &ioc, .desc = &desc, .count = 1,
		.cmpv = &cmp, .cmp_desc = &compare_desc, .cmp_count = 1,
		.resv = &res, .res_desc = &result_desc, .res_count = 1,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags, .context = context,
	};

	return atomic_common(ep, &a);
}

static ssize_t atomic_compwritev(struct fid_ep *ep_fid,
				 const struct fi_ioc *iov, void **desc,
				 size_t count, const struct fi_ioc *comparev,
				 void **compare_desc, size_t compare_count,
				 struct fi_ioc *resultv, void **result_desc,
				 size_t result_count, fi_addr_t dest_addr,
				 uint64_t addr, uint64_t key,
				 enum fi_datatype datatype, enum fi_op op,
				 void *context)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	struct atomic_args a = {
		.kind = ATOMIC_COMPARE, .iov = iov, .desc = desc, .count = count,
		.cmpv = comparev, .cmp_desc = compare_desc,
		.cmp_count = compare_count,
		.resv = resultv, .res_desc = result_desc,
		.res_count = result_count,
		.addr = dest_addr, .raddr = addr, .rcount = UINT64_MAX,
		.key = key, .datatype = datatype, .op = op,
		.flags = ep->tx_op_flags, .context = context,
	};

	return atomic_common(ep, &a);
}

static ssize_t atomic_compwritemsg(struct fid_ep *ep_fid,
				   const struct fi_msg_atomic *msg,
				   const struct fi_ioc *comparev,
				   void **compare_desc, size_t compare_count,
				   struct fi_ioc *resultv, void **result_desc,
				   size_t result_count, uint64_t flags)
{
	struct atomic_args a = { 0 };
	int ret = atomic_msg_args(msg, flags, ATOMIC_COMPARE, &a);

	if (ret)
		return ret;
	a.cmpv = comparev;
	a.cmp_desc = compare_desc;
	a.cmp_count = compare_count;
	a.resv = resultv;
	a.res_desc = result_desc;
	a.res_count = result_count;
	return atomic_common(fpgadma_ep_of(ep_fid), &a);
}

struct fi_ops_atomic fpgadma_atomic_ops = {
	.size = sizeof(struct fi_ops_atomic),
	.write = atomic_write,
	.writev = atomic_writev,
	.writemsg = atomic_writemsg,
	.inject = atomic_inject,
	.readwrite = atomic_readwrite,
	.readwritev = atomic_readwritev,
	.readwritemsg = atomic_readwritemsg,
	.compwrite = atomic_compwrite,
	.compwritev = atomic_compwritev,
	.compwritemsg = atomic_compwritemsg,
	.writevalid = atomic_writevalid,
	.readwritevalid = atomic_readwritevalid,
	.compwritevalid = atomic_compwritevalid,
};
