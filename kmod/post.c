// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma posting: FPGADMA_IOC_POST.
 *
 * POST copies a batch of WRs in, checks their form (a malformed batch posts
 * nothing), reserves a completion slot for each, resolves every piece to an
 * MR it holds (mr.c), and hands the work to the engine in order.  Checks
 * that depend on keys, bounds and rights do not fail the call: like an RDMA
 * device, the WR completes with an error status and moves nothing.
 *
 * Atomic WRs (ATOMIC, ATOMIC_MEM) have a form of their own: an operation
 * valid for the datatype, exactly the pieces the operation takes, each of
 * the same length (fpgadma-abi.h, "Atomic operations"); their target is
 * checked like RDMA's, with the rights the operation needs, and must be
 * aligned to the datatype.
 */
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "fpgadma.h"

/* The pieces an atomic WR takes: operand, compare values, result. */
static u32 fpgadma_atomic_npieces(const struct fpgadma_wr *wr)
{
	return (wr->atomic_op != FPGADMA_ATOMIC_READ) +
	       !!fpgadma_atomic_op_has_compare(wr->atomic_op) +
	       !!(wr->flags & FPGADMA_WR_F_FETCH);
}

/*
 * The form of an atomic WR, as far as it shows without its pieces:
 * -EINVAL, or -EOPNOTSUPP on a device without the atomics it asks for.
 */
static int fpgadma_atomic_check(const struct fpgadma_dev *fdev,
				const struct fpgadma_wr *wr)
{
	u32 flags = FPGADMA_WR_F_FETCH;
	u64 caps = fdev->ops->caps;

	if (wr->opcode == FPGADMA_WR_ATOMIC)
		flags |= FPGADMA_WR_F_REMOTE_OFFSET;
	else if (wr->rkey)
		return -EINVAL;
	if (wr->flags & ~flags || wr->dest || wr->reserved)
		return -EINVAL;
	if (!fpgadma_atomic_op_valid(wr->atomic_op, wr->atomic_type))
		return -EINVAL;
	if (wr->atomic_op == FPGADMA_ATOMIC_READ &&
	    !(wr->flags & FPGADMA_WR_F_FETCH))
		return -EINVAL;
	if (wr->num_sge != fpgadma_atomic_npieces(wr))
		return -EINVAL;
	if (!(caps & FPGADMA_CAP_ATOMIC))
		return -EOPNOTSUPP;
	if (fpgadma_atomic_type_is_fp(wr->atomic_type) &&
	    !(caps & FPGADMA_CAP_ATOMIC_FP))
		return -EOPNOTSUPP;
	return 0;
}

/*
 * The pieces of an atomic WR (fpgadma_atomic_check() passed): all of one
 * length, a whole number of elements, 1 to FPGADMA_ATOMIC_MAX_SIZE bytes.
 */
static int fpgadma_atomic_sge_check(const struct fpgadma_wr *wr,
				    const struct fpgadma_sge *sges)
{
	u32 size = fpgadma_atomic_type_size(wr->atomic_type);
	u32 len = sges[0].length, i;

	if (!len || len % size || len > FPGADMA_ATOMIC_MAX_SIZE)
		return -EINVAL;
	for (i = 1; i < wr->num_sge; i++)
		if (sges[i].length != len)
			return -EINVAL;
	return 0;
}

/*
 * The form of a WR: -EINVAL for what no device accepts, -EOPNOTSUPP for a
 * host-endpoint or atomic opcode on a device without FPGADMA_CAP_HOST_EP
 * or FPGADMA_CAP_ATOMIC.
 */
static int fpgadma_wr_check(const struct fpgadma_dev *fdev,
			    const struct fpgadma_wr *wr)
{
	bool rdma = wr->opcode == FPGADMA_WR_RDMA_WRITE ||
		    wr->opcode == FPGADMA_WR_RDMA_READ;

	if (fpgadma_wr_is_atomic(wr->opcode))
		return fpgadma_atomic_check(fdev, wr);
	if (wr->atomic_op || wr->atomic_type || wr->reserved ||
	    wr->num_sge > fpgadma_max_sge)
		return -EINVAL;
	if (wr->flags & ~(rdma ? FPGADMA_WR_F_REMOTE_OFFSET : 0))
		return -EINVAL;
	if (!rdma && wr->rkey)
		return -EINVAL;
	if (wr->opcode != FPGADMA_WR_SEND && wr->dest)
		return -EINVAL;
	switch (wr->opcode) {
	case FPGADMA_WR_READ_MEM:
	case FPGADMA_WR_WRITE_MEM:
		return 0;
	case FPGADMA_WR_READ_STREAM:
		return wr->dev_addr ? -EINVAL : 0;
	case FPGADMA_WR_RDMA_WRITE:
	case FPGADMA_WR_RDMA_READ:
	case FPGADMA_WR_SEND:
	case FPGADMA_WR_RECV:
		if (!rdma && wr->dev_addr)
			return -EINVAL;
		return fdev->ops->caps & FPGADMA_CAP_HOST_EP ? 0 : -EOPNOTSUPP;
	default:
		return -EINVAL;
	}
}

/*
 * Resolve an atomic WR: its pieces (only the result is written), then its
 * target: device memory in range, or the peer MR with the rights the
 * operation needs; then the target's alignment.  On any error hold
 * nothing and record the status.
 */
static void fpgadma_atomic_resolve(struct fpgadma_ctx *ctx,
				   const struct fpgadma_wr *wr,
				   const struct fpgadma_sge *sges,
				   struct fpgadma_wqe *work)
{
	u32 align = fpgadma_atomic_type_align(wr->atomic_type);
	bool fetch = wr->flags & FPGADMA_WR_F_FETCH;
	u32 i, len = sges[0].length, right = 0;
	u32 status = FPGADMA_WC_SUCCESS;
	u64 end;

	for (i = 0; i < wr->num_sge; i++) {
		status = fpgadma_mr_get_local(ctx, sges[i].lkey, sges[i].addr,
					      len, fetch && i == wr->num_sge - 1,
					      &work->pieces[work->npieces]);
		if (status)
			goto out;
		work->npieces++;
	}
	if (wr->opcode == FPGADMA_WR_ATOMIC_MEM) {
		if (check_add_overflow(wr->dev_addr, (u64)len, &end) ||
		    end > ctx->fdev->dev_mem_size)
			status = FPGADMA_WC_REM_ACCESS_ERR;
		else if (wr->dev_addr & (align - 1))
			status = FPGADMA_WC_REM_INV_REQ_ERR;
		goto out;
	}
	if (wr->atomic_op != FPGADMA_ATOMIC_READ)
		right |= FPGADMA_ACCESS_REMOTE_WRITE;
	if (fetch)
		right |= FPGADMA_ACCESS_REMOTE_READ;
	status = fpgadma_mr_get_remote(ctx->fdev, wr->rkey, right, wr->dev_addr,
				       wr->flags & FPGADMA_WR_F_REMOTE_OFFSET,
				       len, &work->remote);
	if (status)
		goto out;
	if ((work->remote.mr->iova + work->remote.offset) & (align - 1)) {
		fpgadma_mr_put(work->remote.mr);
		work->remote.mr = NULL;
		status = FPGADMA_WC_REM_INV_REQ_ERR;
	}
out:
	if (status) {
		for (i = 0; i < work->npieces; i++)
			fpgadma_mr_put(work->pieces[i].mr);
		work->npieces = 0;
	}
	work->status = status;
	work->length = status ? 0 : len;
}

/* Resolve all pieces of @work; on any error hold none and record the status. */
static void fpgadma_work_resolve(struct fpgadma_ctx *ctx,
				 const struct fpgadma_wr *wr,
				 const struct fpgadma_sge *sges,
				 struct fpgadma_wqe *work)
{
	u64 total = 0, end;
	u32 i, status = FPGADMA_WC_SUCCESS;

	if (fpgadma_wr_is_atomic(wr->opcode)) {
		fpgadma_atomic_resolve(ctx, wr, sges, work);
		return;
	}
	for (i = 0; i < wr->num_sge; i++) {
		if (!sges[i].length)
			continue;
		status = fpgadma_mr_get_local(ctx, sges[i].lkey, sges[i].addr,
					      sges[i].length,
					      fpgadma_wr_device_writes(wr->opcode),
					      &work->pieces[work->npieces]);
		if (status)
			break;
		work->npieces++;
		total += sges[i].length;
	}
	if (status)
		goto out;
	switch (wr->opcode) {
	case FPGADMA_WR_READ_MEM:
	case FPGADMA_WR_WRITE_MEM:
		if (check_add_overflow(wr->dev_addr, total, &end) ||
		    end > ctx->fdev->dev_mem_size)
			status = FPGADMA_WC_REM_ACCESS_ERR;
		break;
	case FPGADMA_WR_RDMA_WRITE:
	case FPGADMA_WR_RDMA_READ:
		/* One piece has at most U32_MAX bytes: so has the peer range. */
		if (total > U32_MAX)
			status = FPGADMA_WC_LOC_LEN_ERR;
		else
			status = fpgadma_mr_get_remote(ctx->fdev, wr->rkey,
				wr->opcode == FPGADMA_WR_RDMA_WRITE ?
				FPGADMA_ACCESS_REMOTE_WRITE :
				FPGADMA_ACCESS_REMOTE_READ,
				wr->dev_addr,
				wr->flags & FPGADMA_WR_F_REMOTE_OFFSET, total,
				&work->remote);
		break;
	}
out:
	if (status) {
		for (i = 0; i < work->npieces; i++)
			fpgadma_mr_put(work->pieces[i].mr);
		work->npieces = 0;
		total = 0;
	}
	work->status = status;
	work->length = total;
}

/*
 * A batch of up to this many WRs, with up to this many SGEs in all, is
 * copied in on the stack: a small post then allocates nothing (its works
 * come from the context's cache, fpgadma_works_get()).
 */
#define FPGADMA_POST_ONSTACK	4

/**
 * fpgadma_post_wqes() - post a batch of work requests (FPGADMA_IOC_POST).
 * @ctx:	the calling context.
 * @cmd:	the request; flags and reserved fields already checked.
 *
 * All or nothing: nothing is posted unless every WR is well formed, every
 * SGE list can be read and the ring has a slot for each WR.
 *
 * Context: process context of the owner, may sleep; takes @ctx->lock.
 * Return: 0; -EINVAL for a bad count or a malformed WR; -EOPNOTSUPP for a
 * host-endpoint or atomic WR on a device without them; -EFAULT for an
 * unreadable WR or SGE array; -EAGAIN when the ring has no room; -ENOMEM.
 */
int fpgadma_post_wqes(struct fpgadma_ctx *ctx, const struct fpgadma_post *cmd)
{
	struct fpgadma_wqe *work_buf[FPGADMA_POST_ONSTACK];
	struct fpgadma_sge sge_buf[FPGADMA_POST_ONSTACK];
	struct fpgadma_wr wr_buf[FPGADMA_POST_ONSTACK];
	struct fpgadma_wqe **works = work_buf;
	struct fpgadma_sge *sges = sge_buf;
	struct fpgadma_wr *wrs = wr_buf;
	u64 t_post = fpgadma_stage_start();
	u32 i, off, nsge = 0, n = cmd->count;
	int ret = 0;

	if (!n || n > fpgadma_max_post)
		return -EINVAL;
	if (n > FPGADMA_POST_ONSTACK) {
		wrs = kvmalloc_array(n, sizeof(*wrs), GFP_KERNEL);
		works = kvmalloc_array(n, sizeof(*works), GFP_KERNEL);
		if (!wrs || !works) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	memset(works, 0, n * sizeof(*works));
	if (copy_from_user(wrs, u64_to_user_ptr(cmd->wrs), n * sizeof(*wrs))) {
		ret = -EFAULT;
		goto out_free;
	}
	for (i = 0; i < n; i++) {
		ret = fpgadma_wr_check(ctx->fdev, &wrs[i]);
		if (ret)
			goto out_free;
		nsge += wrs[i].num_sge;
	}
	/*
	 * At most max_post * max_sge, both bounded: no overflow, but up to
	 * 1 GiB with both at their limits, hence kvmalloc.
	 */
	if (nsge > FPGADMA_POST_ONSTACK) {
		sges = kvmalloc_array(nsge, sizeof(*sges), GFP_KERNEL);
		if (!sges) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	for (i = 0, off = 0; i < n; off += wrs[i].num_sge, i++) {
		if (copy_from_user(sges + off, u64_to_user_ptr(wrs[i].sg_list),
				   wrs[i].num_sge * sizeof(*sges))) {
			ret = -EFAULT;
			goto out;
		}
		if (fpgadma_wr_is_atomic(wrs[i].opcode)) {
			ret = fpgadma_atomic_sge_check(&wrs[i], sges + off);
			if (ret)
				goto out;
		}
	}
	fpgadma_works_get(ctx, wrs, works, n);
	for (i = 0; i < n; i++) {
		if (!works[i]) {
			ret = -ENOMEM;
			goto out;
		}
	}

	mutex_lock(&ctx->lock);
	ret = fpgadma_cq_reserve(ctx, n);
	for (i = 0, off = 0; !ret && i < n; off += wrs[i].num_sge, i++) {
		fpgadma_work_resolve(ctx, &wrs[i], sges + off, works[i]);
		/*
		 * A RECV is queued before the lock is dropped, so that a
		 * deregistration of its MR, which takes the lkey out under
		 * the lock, finds it to flush.
		 */
		if (works[i]->opcode == FPGADMA_WR_RECV &&
		    works[i]->status == FPGADMA_WC_SUCCESS) {
			fpgadma_recv_queue(works[i]);
			works[i] = NULL;
		}
	}
	mutex_unlock(&ctx->lock);
	if (ret)
		goto out;

	for (i = 0; i < n; i++) {
		if (!works[i])
			continue;
		works[i]->t_submit = fpgadma_stage_start();
		ctx->fdev->ops->submit(ctx->fdev, works[i]);
		works[i] = NULL;
	}
out:
	for (i = 0; i < n; i++)
		fpgadma_work_release(ctx, works[i]);
out_free:
	if (sges != sge_buf)
		kvfree(sges);
	if (works != work_buf)
		kvfree(works);
	if (wrs != wr_buf)
		kvfree(wrs);
	fpgadma_stage_end(ctx->fdev, FPGADMA_STAGE_POST_TOTAL, t_post);
	return ret;
}
