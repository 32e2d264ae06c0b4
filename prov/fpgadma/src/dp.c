// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: the data plane of a domain, as a whole.
 *
 * A domain owns one kernel endpoint and its completion ring.  Its data
 * plane state (struct fpgadma_dp, proto.h) is made here when the domain
 * opens and torn down when it closes; this file also gives endpoints their
 * index inside the domain, the dst_idx / src_idx of the wire header.  The
 * rest of the data plane is split by concept (proto.h lists the files).
 */
#include <stdlib.h>
#include <unistd.h>

#include "proto.h"

void fpgadma_dp_lock(struct fpgadma_dp *dp)
{
	pthread_mutex_lock(&dp->d->lock);
}

void fpgadma_dp_unlock(struct fpgadma_dp *dp)
{
	pthread_mutex_unlock(&dp->d->lock);
}

const struct fpgadma_device_attr *fpgadma_dp_attr(struct fpgadma_dp *dp)
{
	return &dp->attr;
}

/* --- endpoints ------------------------------------------------------------ */

int fpgadma_dp_ep_add(struct fpgadma_dp *dp, struct fpgadma_ep *ep,
		      uint32_t want)
{
	unsigned int i;

	if (want < FPGADMA_MAX_EPS && !dp->d->eps[want]) {
		dp->d->eps[want] = ep;
		ep->ep_idx = want;
		return 0;
	}
	/* round robin, so a new endpoint rarely gets a recent one's index */
	for (i = 0; i < FPGADMA_MAX_EPS; i++) {
		unsigned int idx = (dp->ep_cursor + i) % FPGADMA_MAX_EPS;

		if (!dp->d->eps[idx]) {
			dp->d->eps[idx] = ep;
			ep->ep_idx = idx;
			dp->ep_cursor = idx + 1;
			return 0;
		}
	}
	return -FI_ENOSPC;
}

struct fpgadma_ep *fpgadma_dp_ep_at(struct fpgadma_dp *dp, uint16_t idx)
{
	return idx < FPGADMA_MAX_EPS ? dp->d->eps[idx] : NULL;
}

static void free_rx_list(struct fpgadma_ep *ep, struct dl *h)
{
	struct dl *pos, *tmp;

	dl_foreach_safe(h, pos, tmp) {
		struct fpgadma_rx_entry *rx =
			container_of(pos, struct fpgadma_rx_entry, link);

		fpgadma_rx_unlist(ep, rx);
		rx->ep = NULL;
		if (!rx->refs)
			free(rx);
		/* else the rendezvous reads into it free it when done */
	}
}

void fpgadma_dp_ep_remove(struct fpgadma_dp *dp, struct fpgadma_ep *ep)
{
	struct dl *pos, *tmp;

	if (ep->ep_idx < FPGADMA_MAX_EPS && dp->d->eps[ep->ep_idx] == ep)
		dp->d->eps[ep->ep_idx] = NULL;
	/* operations in flight finish without reporting */
	dl_foreach_safe(&ep->ops, pos, tmp) {
		struct fpgadma_op *op = container_of(pos, struct fpgadma_op,
						     ep_link);

		op->ep = NULL;
		dl_del(&op->ep_link);
		if (op->rx)
			op->rx->ep = NULL;
	}
	free_rx_list(ep, &ep->rx_msg);
	free_rx_list(ep, &ep->rx_tag);
	dl_foreach_safe(&ep->unexp_msg, pos, tmp)
		fpgadma_discard_unexp(dp, container_of(pos,
				      struct fpgadma_unexp, link), FI_ECANCELED);
	dl_foreach_safe(&ep->unexp_tag, pos, tmp)
		fpgadma_discard_unexp(dp, container_of(pos,
				      struct fpgadma_unexp, link), FI_ECANCELED);
	dl_foreach_safe(&ep->claimed, pos, tmp)
		fpgadma_discard_unexp(dp, container_of(pos,
				      struct fpgadma_unexp, link), FI_ECANCELED);
}

/* --- the domain's data plane ---------------------------------------------- */

static uint32_t make_gen(const void *salt)
{
	uint64_t x = fpgadma_now_ns() ^ ((uint64_t)getpid() << 32) ^
		     (uint64_t)(uintptr_t)salt;

	/* splitmix64's finaliser */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (uint32_t)x;
}

/*
 * Release everything, before the context closes: deregistering the receive
 * pool flushes its RECVs (the kernel completes RECVs of a deregistered MR),
 * and every deregistration waits for the work that uses the MR, so no DMA
 * reaches memory freed here.
 */
static void dp_free(struct fpgadma_dp *dp)
{
	struct dl *pos, *tmp;

	fpgadma_pools_dereg(dp);
	dl_foreach_safe(&dp->ops, pos, tmp) {
		struct fpgadma_op *op = container_of(pos, struct fpgadma_op,
						     dp_link);
		struct fpgadma_rx_entry *rx = op->rx;

		op->wd = NULL;		/* the pool is gone */
		op->tb = NULL;
		fpgadma_op_free(dp, op);
		if (rx && !--rx->refs && !rx->listed)
			free(rx);
	}
	fpgadma_ctrlq_free(dp);
	fpgadma_peers_free(dp);
	fpgadma_pools_free(dp);
	free(dp);
}

int fpgadma_dp_init(struct fpgadma_domain *d)
{
	struct fpgadma_dp *dp = calloc(1, sizeof(*dp));
	size_t i;
	int ret;

	if (!dp)
		return -FI_ENOMEM;
	dp->d = d;
	dp->ctx = d->ctx;
	dp->attr = d->attr;
	dp->host_ep = d->attr.caps & FPGADMA_CAP_HOST_EP;
	dp->gen = make_gen(dp);
	dp->ring_cap = d->attr.cq_entries ? d->attr.cq_entries : 64;
	dp->max_post = d->attr.max_post ? d->attr.max_post : 1;
	dp->max_sge = d->attr.max_sge ? d->attr.max_sge : 1;
	dp->buf_size = (sizeof(struct fpgadma_hdr) + fpgadma_params.eager_size +
			63) & ~(size_t)63;
	dp->nrx = fpgadma_params.rx_bufs ? fpgadma_params.rx_bufs : 1;
	if (dp->nrx > dp->ring_cap / 2)
		dp->nrx = dp->ring_cap / 2 ? dp->ring_cap / 2 : 1;
	dp->ntx = fpgadma_params.tx_bufs > 2 ? fpgadma_params.tx_bufs : 2;
	dp->next_msg_id = (uint64_t)make_gen(&dp->next_msg_id) << 16;
	dl_init(&dp->tx_free);
	dl_init(&dp->postq);
	dl_init(&dp->synthq);
	dl_init(&dp->ctrlq);
	dl_init(&dp->rnr_peers);
	dl_init(&dp->ops);
	for (i = 0; i < ID_BUCKETS; i++)
		dl_init(&dp->ids[i]);
	d->dp = dp;
	if (!dp->host_ep)
		return 0;	/* RMA to the FPGA only */

	ret = fpgadma_pools_init(dp);
	if (ret) {
		d->dp = NULL;
		dp_free(dp);
		return ret;
	}
	return 0;
}

void fpgadma_dp_fini(struct fpgadma_domain *d)
{
	if (!d->dp)
		return;
	dp_free(d->dp);
	d->dp = NULL;
}
