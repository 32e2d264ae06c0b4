// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: posting work requests to the kernel endpoint.
 *
 * The ring holds ring_cap WRs; every WR posted takes one credit until its
 * completion is polled (dp->inflight).  A work that does not fit waits on
 * the domain's post queue, in order, and goes out when progress has freed
 * credits; a deferrable one may wait there to go out with others in one
 * system call.  WRs the kernel refuses for good are completed with an
 * error by progress (the synth queue), so every work ends with its
 * completions.
 */
#include <errno.h>
#include <string.h>

#include "proto.h"

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
	if (dp->rxq_len && w->kind != FPGADMA_WORK_RX) {
		/* the receive buffers waiting go out in w's system call */
		fpgadma_rxq_to_postq(dp);
		w->queued = true;
		dl_add_tail(&dp->postq, &w->qlink);
		fpgadma_postq_flush(dp);
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

void fpgadma_postq_flush(struct fpgadma_dp *dp)
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
