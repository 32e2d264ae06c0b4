// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: progress.
 *
 * Progress is manual: the CQ and counter calls and the data calls run it
 * with domain->lock held.  It posts what waits on the post queue, drains
 * the kernel's completion ring and hands each completion to what its
 * wr_id points to (a buffer of the pools, an RMA, a rendezvous read),
 * acts on each message in its turn by type (peer.c orders them),
 * completes the work the kernel would not take, resends to peers whose
 * backoff is over and sends waiting control messages.  A blocking wait
 * asks here how long it may sleep: RNR resends are timed, and no kernel
 * completion wakes anyone when they are due.
 *
 * Not every CQE is a work's: a paced stream's FPGADMA_WR_STREAM_FRAMES and
 * FPGADMA_WR_STREAM_END CQEs (the kernel writes them into slots it holds
 * for the stream, never for posted work) carry the stream's user_data as
 * wr_id.  They are told apart by their opcode before wr_id is looked at,
 * go to dp.c, and take no credit back (dp->inflight, dp->tx_posted).
 * Each progress call then copies the frames waiting in the copy-mode
 * streams' rings into the receives posted for them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "proto.h"

#define POLL_BATCH	32

uint64_t fpgadma_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void fpgadma_msg_process(struct fpgadma_dp *dp, uint32_t src_ep,
			 const struct fpgadma_hdr *hdr, const void *pay,
			 size_t paylen)
{
	struct fpgadma_op *op;

	switch (hdr->type) {
	case FPGADMA_MSG_NOP:
		break;
	case FPGADMA_MSG_EAGER:
	case FPGADMA_MSG_RTS:
		fpgadma_msg_arrived(dp, src_ep, hdr, pay, paylen);
		break;
	case FPGADMA_MSG_FIN:
	case FPGADMA_MSG_ACK:
		op = fpgadma_op_by_id(dp, hdr->msg_id);
		if (!op)
			break;		/* its endpoint closed meanwhile */
		dl_del(&op->id_link);
		op->id_listed = false;
		fpgadma_op_event(dp, op, (int)hdr->status, 0);
		break;
	case FPGADMA_MSG_WRITEDATA:
		fpgadma_writedata_arrived(dp, src_ep, hdr);
		break;
	case FPGADMA_MSG_CM:
		fpgadma_cm_arrived(dp, src_ep, hdr, pay, paylen);
		break;
	default:
		FPGADMA_WARN(FI_LOG_EP_DATA, "unknown message type %u\n",
			     hdr->type);
	}
}

/* One WR of a work is over (or never ran: posted false). */
static void work_cqe(struct fpgadma_dp *dp, struct fpgadma_work *w,
		     const struct fpgadma_cqe *cqe)
{
	switch (w->kind) {
	case FPGADMA_WORK_RX:
		fpgadma_rx_cqe(dp, container_of(w, struct fpgadma_rxbuf, w),
			       cqe);
		return;
	case FPGADMA_WORK_TX:
		fpgadma_tx_cqe(dp, container_of(w, struct fpgadma_txbuf, w),
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
			fpgadma_rma_done(dp,
					 container_of(w, struct fpgadma_op, w));
		else
			fpgadma_rdv_done(dp,
					 container_of(w, struct fpgadma_op, w));
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

void fpgadma_dp_progress_locked(struct fpgadma_dp *dp)
{
	struct fpgadma_cqe cqes[POLL_BATCH];
	int round, i, n;

	if (!dp)
		return;
	/*
	 * Sends handed to channels first: they went before any WR posted
	 * since (chan.c), so their completions come first too.  (Each step
	 * with nothing to do is skipped by a look at its list: an
	 * application polling an idle CQ runs this in a loop.)
	 */
	if (!dl_empty(&dp->chan_doneq) || !dl_empty(&dp->chan_kickq))
		fpgadma_chan_sent(dp);
	/* Deferred works first: the engine may complete them at once. */
	if (!dl_empty(&dp->postq))
		fpgadma_postq_flush(dp);
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
			struct fpgadma_work *w;

			/* a paced stream's: no work, no credit */
			if (cqes[i].opcode == FPGADMA_WR_STREAM_FRAMES ||
			    cqes[i].opcode == FPGADMA_WR_STREAM_END) {
				fpgadma_pstream_cqe(dp, &cqes[i]);
				continue;
			}
			w = (void *)(uintptr_t)cqes[i].wr_id;
			if (dp->inflight)
				dp->inflight--;
			if (w->kind != FPGADMA_WORK_RX && dp->tx_posted)
				dp->tx_posted--;
			work_cqe(dp, w, &cqes[i]);
		}
		if (n < POLL_BATCH)
			break;
	}
	fpgadma_chan_drain(dp);
	if (!dl_empty(&dp->pstreams))
		fpgadma_pstreams_deliver(dp);
	if (!dl_empty(&dp->synthq))
		synthq_flush(dp);
	if (!dl_empty(&dp->rnr_peers))
		fpgadma_rnr_tick(dp);
	if (!dl_empty(&dp->ctrlq))
		fpgadma_ctrlq_flush(dp);
	if (!dl_empty(&dp->postq))
		fpgadma_postq_flush(dp);
	if (!dl_empty(&dp->synthq))
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

/*
 * sleepy: the caller sleeps until a completion or a counter wakes it, so
 * senders must wake it through the kernel (chan.c).  An EQ's sleeper waits
 * for connection messages only, which always come through the kernel
 * (cm.c), and leaves the channels as they are.
 */
static int dp_timeout_ms(struct fpgadma_domain *d, bool sleepy)
{
	struct fpgadma_dp *dp = d->dp;
	uint64_t first, now;
	int ms;

	if (!dp)
		return -1;
	pthread_mutex_lock(&d->lock);
	if (sleepy) {
		fpgadma_chan_sleepy(dp);
		fpgadma_chan_drain(dp);
	}
	first = fpgadma_rnr_first_retry(dp);
	if (!first && dl_empty(&dp->synthq)) {
		pthread_mutex_unlock(&d->lock);
		return -1;
	}
	pthread_mutex_unlock(&d->lock);
	now = fpgadma_now_ns();
	if (!first || first <= now)
		return 0;
	ms = (int)((first - now + 999999) / 1000000);
	return ms;
}

int fpgadma_dp_timeout_ms(struct fpgadma_domain *d)
{
	return dp_timeout_ms(d, true);
}

int fpgadma_dp_slice_ms(struct fpgadma_domain *d)
{
	int ms = dp_timeout_ms(d, true);

	return ms < 0 ? 0 : (ms ? ms : 1);
}

int fpgadma_dp_eq_slice_ms(struct fpgadma_domain *d)
{
	int ms = dp_timeout_ms(d, false);

	return ms < 0 ? 0 : (ms ? ms : 1);
}
