// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: the data plane of a domain, as a whole.
 *
 * A domain owns one kernel endpoint and its completion ring.  Its data
 * plane state (struct fpgadma_dp, proto.h) is made here when the domain
 * opens and torn down when it closes; this file also gives endpoints their
 * index inside the domain, the dst_idx / src_idx of the wire header.  The
 * rest of the data plane is split by concept (proto.h lists the files).
 *
 * Paced streams (FPGADMA_CAP_STREAM, the extension's stream_* calls) are
 * here too: an endpoint runs at most one, a libfpgadma stream into a ring
 * of nslots slots.
 *
 *   copy mode  the ring is the provider's (page aligned, slot_size =
 *              frame_size, registered with LOCAL_WRITE on the domain's
 *              PD).  Progress copies each frame the device has written
 *              into the oldest receive posted from the FPGA's address
 *              (ep->rx_stream, match.c's fpgadma_rx_stream_frame) and only
 *              then hands its slot back: with no receive posted the frames
 *              wait in the ring, then in the device's FIFO, and then the
 *              device drops (and counts) them, which the next frame's
 *              header tells and the receive gets as an FI_EOVERRUN error
 *              completion first.  Stopping discards what no receive took.
 *   zero copy  (FI_FPGADMA_STREAM_ZC) the ring is in the application's
 *              MR, which it reads through stream_ready / stream_slot /
 *              stream_release (libfpgadma's fast path, no system call).
 *
 * Either way the kernel reports the stream in the domain's completion
 * ring (FPGADMA_WR_STREAM_FRAMES, _END, wr_id the stream's id): progress
 * tells those CQEs by their opcode and hands them to fpgadma_pstream_cqe()
 * (progress.c).  They wake a sleeper in fi_cq_sread; the frames are found
 * through the control block.  The stream holds two slots of the
 * completion ring (its END CQE's and its next FRAMES CQE's), which
 * dp->ring_cap gives up while it runs.  Everything but the stop's wait
 * runs under domain->lock; the zero-copy calls run without, as
 * libfpgadma's (one thread, never during stream_stop or fi_close).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
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
			fpgadma_rx_entry_put(rx);
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
	free_rx_list(ep, &ep->rx_stream);
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

	if (dp->n_chan_sent || dp->n_chan_recv)
		FPGADMA_INFO(FI_LOG_DOMAIN, "%s: %" PRIu64 " messages sent and %"
			     PRIu64 " received through channels, %" PRIu64
			     " wake-ups through the kernel\n",
			     dp->d->info->domain_attr->name, dp->n_chan_sent,
			     dp->n_chan_recv, dp->n_chan_kicks);
	fpgadma_pools_dereg(dp);
	dl_foreach_safe(&dp->ops, pos, tmp) {
		struct fpgadma_op *op = container_of(pos, struct fpgadma_op,
						     dp_link);
		struct fpgadma_rx_entry *rx = op->rx;

		op->wd = NULL;		/* the pool is gone */
		op->tb = NULL;
		fpgadma_op_free(dp, op);
		if (rx && !--rx->refs && !rx->listed)
			fpgadma_rx_entry_put(rx);
	}
	fpgadma_ctrlq_free(dp);
	fpgadma_peers_free(dp);
	fpgadma_pools_free(dp);
	fpgadma_op_cache_free(dp);
	fpgadma_rx_cache_free(dp);
	free(dp->chan_buf);
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
	dp->rx_defer = fpgadma_params.rx_repost;
	if (dp->rx_defer > dp->nrx / 2)
		dp->rx_defer = dp->nrx / 2;
	dl_init(&dp->rxq);
	dp->ntx = fpgadma_params.tx_bufs > 2 ? fpgadma_params.tx_bufs : 2;
	dp->next_msg_id = (uint64_t)make_gen(&dp->next_msg_id) << 16;
	dl_init(&dp->tx_free);
	dl_init(&dp->postq);
	dl_init(&dp->synthq);
	dl_init(&dp->ctrlq);
	dl_init(&dp->rnr_peers);
	dl_init(&dp->ops);
	dl_init(&dp->pstreams);
	dl_init(&dp->chan_doneq);
	dl_init(&dp->chan_kickq);
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
	fpgadma_chan_init(dp);
	return 0;
}

void fpgadma_dp_fini(struct fpgadma_domain *d)
{
	if (!d->dp)
		return;
	dp_free(d->dp);
	d->dp = NULL;
}

/* --- paced streams ---------------------------------------------------------- */

#define PSTREAM_DEFAULT_SLOTS	64
/* stream_start's tries while the completion ring has no slot to hold */
#define PSTREAM_START_TRIES	8
/* Completion slots a running stream holds (its END CQE, its next FRAMES). */
#define PSTREAM_CQ_SLOTS	2
/* user_data of a stream's CQEs: "PSTR" and a number of the domain's */
#define PSTREAM_ID_TAG		(0x50535452ULL << 32)

bool fpgadma_rx_src_is_fpga(struct fpgadma_ep *ep, fi_addr_t src)
{
	struct fpgadma_addr a;

	if (src == FI_ADDR_UNSPEC || fpgadma_ep_addr(ep, src, &a))
		return false;
	return a.magic == FPGADMA_ADDR_MAGIC && fpgadma_addr_is_fpga(&a) &&
	       a.dev_index == ep->domain->attr.dev_index;
}

/* Copy frames from a copy-mode stream's ring into its receives. */
static void pstream_deliver(struct fpgadma_pstream *ps)
{
	struct fpgadma_ep *ep = ps->ep;
	fi_addr_t src = FI_ADDR_NOTAVAIL;
	bool src_known = false;
	uint64_t first, n, i;

	while (!dl_empty(&ep->rx_stream)) {
		n = fpgadma_stream_ready(ps->s, &first);
		if (!n)
			break;
		if (!src_known) {
			struct fpgadma_addr fpga;

			/* for fi_cq_readfrom: the FPGA's fi_addr, if the AV has it */
			fpgadma_domain_fpga_addr(ep->domain, &fpga);
			if (ep->av)
				src = fpgadma_av_reverse(ep->av, &fpga);
			src_known = true;
		}
		for (i = 0; i < n && !dl_empty(&ep->rx_stream); i++) {
			struct fpgadma_rx_entry *rx =
				dl_first(&ep->rx_stream, struct fpgadma_rx_entry,
					 link);

			fpgadma_rx_stream_frame(ep, rx,
						fpgadma_stream_slot(ps->s, first + i),
						ps->frame_size, src);
		}
		/* the slots go back once copied: the device may write them */
		fpgadma_stream_release(ps->s, i);
		ps->taken += i;
	}
}

void fpgadma_pstreams_deliver(struct fpgadma_dp *dp)
{
	struct dl *pos;

	for (pos = dp->pstreams.next; pos != &dp->pstreams; pos = pos->next) {
		struct fpgadma_pstream *ps =
			container_of(pos, struct fpgadma_pstream, link);

		if (!ps->zc)
			pstream_deliver(ps);
	}
}

void fpgadma_pstream_deliver_ep(struct fpgadma_dp *dp, struct fpgadma_ep *ep)
{
	struct fpgadma_pstream *ps = ep->pstream;

	(void)dp;
	if (ps && !ps->zc)
		pstream_deliver(ps);
}

static const char *pstream_end_str(uint32_t end)
{
	switch (end) {
	case FPGADMA_STREAM_END_STOP:
		return "stopped";
	case FPGADMA_STREAM_END_DEREG:
		return "its ring's memory was deregistered";
	case FPGADMA_STREAM_END_CLOSE:
		return "the context closed";
	case FPGADMA_STREAM_END_GONE:
		return "the device went away";
	default:
		return "unknown reason";
	}
}

void fpgadma_pstream_cqe(struct fpgadma_dp *dp, const struct fpgadma_cqe *cqe)
{
	struct dl *pos;

	for (pos = dp->pstreams.next; pos != &dp->pstreams; pos = pos->next) {
		struct fpgadma_pstream *ps =
			container_of(pos, struct fpgadma_pstream, link);

		if (ps->id != cqe->wr_id)
			continue;
		/* FRAMES: the frames are found through the control block */
		if (cqe->opcode == FPGADMA_WR_STREAM_END && !ps->ended) {
			ps->ended = true;
			ps->end = cqe->vendor_err;
			FPGADMA_WARN(FI_LOG_EP_DATA,
				     "endpoint %u: its paced stream ended (%s, %s) before stream_stop\n",
				     ps->ep->ep_idx, pstream_end_str(ps->end),
				     fpgadma_wc_status_str(cqe->status));
		}
		return;
	}
	/* a stream stream_stop has taken off the list: its last CQEs */
}

static bool attr_reserved_clear(const struct fi_fpgadma_stream_attr *a)
{
	size_t i;

	if (a->reserved0)
		return false;
	for (i = 0; i < sizeof(a->reserved) / sizeof(a->reserved[0]); i++)
		if (a->reserved[i])
			return false;
	return true;
}

/* frame_size 0: the FPGA's frame size (query_fpga's), else 4096. */
static uint32_t pstream_default_frame(const struct fpgadma_domain *d)
{
	if (d->attr.frame_size >= FPGADMA_FRAME_HDR_SIZE &&
	    d->attr.frame_size <= UINT32_MAX)
		return (uint32_t)d->attr.frame_size;
	return 4096;
}

/* What the endpoint must be for a stream of that mode (lock held). */
static int pstream_ep_check(const struct fpgadma_ep *ep, bool zc,
			    const struct fpgadma_prov_mr *m)
{
	if (!ep->enabled)
		return -FI_EOPBADSTATE;
	if (ep->pstream)
		return -FI_EBUSY;
	if (zc) {
		if (!m->mr || !m->enabled)
			return -FI_EINVAL;	/* FI_MR_ENDPOINT, not enabled */
		if (!(m->kaccess & FPGADMA_ACCESS_LOCAL_WRITE))
			return -FI_EACCES;
		return 0;
	}
	/* the receives name the FPGA by its fi_addr: an AV */
	if (ep->type == FI_EP_MSG || !ep->av)
		return -FI_EOPNOTSUPP;
	if (!ep->rx_cq && !ep->recv_cntr)
		return -FI_ENOCQ;
	return 0;
}

/*
 * The copy-mode ring: page aligned, registered for the device to write,
 * once more over RLIMIT_MEMLOCK after the cache gave its unused entries
 * back (as an fi_mr_reg).
 */
static int pstream_ring_reg(struct fpgadma_domain *d, struct fpgadma_pstream *ps,
			    uint64_t ring_len)
{
	long sys_page = sysconf(_SC_PAGESIZE);
	size_t page = d->attr.page_size ? d->attr.page_size :
		      sys_page > 0 ? (size_t)sys_page : 4096;
	size_t len = (size_t)((ring_len + page - 1) / page * page);
	int ret, tries;

	if (posix_memalign(&ps->ring, page, len))
		return -FI_ENOMEM;
	ps->ring_len = len;
	for (tries = 0; ; tries++) {
		ret = fpgadma_reg_mr(d->pd, ps->ring, len,
				     FPGADMA_ACCESS_LOCAL_WRITE, &ps->ring_mr);
		if (ret != -ENOMEM || tries || !fpgadma_mrcache_reclaim(d->mrcache))
			break;
	}
	if (ret) {
		FPGADMA_INFO(FI_LOG_EP_DATA, "paced stream: registering a ring of %zu bytes: %s\n",
			     len, fpgadma_strerror(ret));
		free(ps->ring);
		ps->ring = NULL;
		ps->ring_mr = NULL;
		return fpgadma_errno_to_fi(ret);
	}
	return 0;
}

/* Deregister and free the copy-mode ring (no lock held). */
static void pstream_ring_free(struct fpgadma_pstream *ps)
{
	int ret;

	if (ps->ring_mr) {
		/* stops the stream if it still ran, and waits for it */
		ret = fpgadma_dereg_mr(ps->ring_mr);
		if (ret) {
			/* the device may still write it: leave it to the process */
			FPGADMA_WARN(FI_LOG_EP_DATA, "paced stream: deregistering its ring: %s\n",
				     fpgadma_strerror(ret));
			return;
		}
		ps->ring_mr = NULL;
	}
	free(ps->ring);
	ps->ring = NULL;
}

int fpgadma_ext_stream_start(struct fid_ep *ep_fid,
			     struct fi_fpgadma_stream_attr *attr)
{
	struct fpgadma_ep *ep = fpgadma_ep_from_fid(ep_fid);
	struct fpgadma_prov_mr *m = NULL;
	struct fpgadma_stream_attr a;
	struct fpgadma_pstream *ps;
	struct fpgadma_domain *d;
	struct fpgadma_mr *kmr;
	struct fpgadma_dp *dp;
	uint32_t frame_size, slot_size, nslots;
	uint64_t ring_len, off, budget;
	bool zc;
	int ret, tries;

	if (!ep || !attr)
		return -FI_EINVAL;
	d = ep->domain;
	dp = ep->dp;
	if (!(d->attr.caps & FPGADMA_CAP_STREAM) || !d->attr.max_streams)
		return -FI_EOPNOTSUPP;
	if ((attr->flags & ~(uint32_t)FI_FPGADMA_STREAM_ZC) ||
	    !attr_reserved_clear(attr))
		return -FI_EINVAL;
	zc = attr->flags & FI_FPGADMA_STREAM_ZC;
	frame_size = attr->frame_size ? attr->frame_size :
		     pstream_default_frame(d);
	nslots = attr->nslots ? attr->nslots : PSTREAM_DEFAULT_SLOTS;
	if (frame_size < FPGADMA_FRAME_HDR_SIZE ||
	    (attr->frame_period_ns && attr->byte_rate))
		return -FI_EINVAL;
	if (zc) {
		m = fpgadma_mr_from_fid(attr->mr);
		if (!m || m->domain != d)
			return -FI_EINVAL;	/* none, or another domain's */
		slot_size = attr->slot_size ? attr->slot_size : frame_size;
		ring_len = (uint64_t)nslots * slot_size;
		if (slot_size < frame_size || attr->ring_offset > m->len ||
		    ring_len > m->len - attr->ring_offset)
			return -FI_EINVAL;
	} else {
		if (attr->mr || attr->ring_offset ||
		    (attr->slot_size && attr->slot_size != frame_size))
			return -FI_EINVAL;
		slot_size = frame_size;
		ring_len = (uint64_t)nslots * slot_size;
		if (ring_len > SIZE_MAX / 2 ||
		    (d->attr.max_mr_size && ring_len > d->attr.max_mr_size))
			return -FI_EINVAL;
	}

	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -FI_ENOMEM;
	ps->ep = ep;
	ps->zc = zc;
	ps->frame_size = frame_size;
	ps->slot_size = slot_size;
	ps->nslots = nslots;

	fpgadma_dp_lock(dp);
	ret = pstream_ep_check(ep, zc, m);
	if (ret)
		goto err_unlock;
	ps->id = PSTREAM_ID_TAG | (dp->next_pstream_id++ & 0xffffffffULL);
	if (zc) {
		/* the MR's kernel registration may start before it (the
		 * cache's whole pages): the offset is from the MR's start */
		kmr = m->mr;
		off = (uint64_t)((uintptr_t)m->addr - (uintptr_t)kmr->addr) +
		      attr->ring_offset;
	} else {
		ret = pstream_ring_reg(d, ps, ring_len);
		if (ret)
			goto err_unlock;
		kmr = ps->ring_mr;
		off = 0;
	}

	/*
	 * One FRAMES CQE per frame, to wake fi_cq_sread at once; fewer for
	 * a ring of more than a quarter of the completion ring, so that the
	 * CQEs of the frames written between two progress calls fit.
	 */
	budget = dp->ring_cap / 4 ? dp->ring_cap / 4 : 1;
	memset(&a, 0, sizeof(a));
	a.ring_offset = off;
	a.ring_length = ring_len;
	a.slot_size = slot_size;
	a.nslots = nslots;
	a.frame_size = frame_size;
	a.fifo_frames = attr->fifo_frames;
	a.frame_period_ns = attr->frame_period_ns;
	a.byte_rate = attr->byte_rate;
	a.cqe_every = (uint32_t)((nslots + budget - 1) / budget);
	a.user_data = ps->id;
	for (tries = 0; ; tries++) {
		ret = fpgadma_stream_start(kmr, &a, &ps->s);
		if (ret != -EAGAIN || tries == PSTREAM_START_TRIES)
			break;
		/* no completion slot for the stream to hold: take the CQEs */
		fpgadma_dp_progress_locked(dp);
	}
	if (ret) {
		FPGADMA_INFO(FI_LOG_EP_DATA,
			     "endpoint %u: paced stream of %u slots of %u bytes, frames of %u bytes: %s\n",
			     ep->ep_idx, nslots, slot_size, frame_size,
			     fpgadma_strerror(ret));
		ret = fpgadma_errno_to_fi(ret);
		goto err_ring;
	}

	if (dp->ring_cap > 4 * PSTREAM_CQ_SLOTS) {
		ps->cap_taken = PSTREAM_CQ_SLOTS;
		dp->ring_cap -= ps->cap_taken;
	}
	if (zc) {
		ps->app_mr = m;
		__atomic_fetch_add(&m->stream_refs, 1, __ATOMIC_RELAXED);
	}
	dl_add_tail(&dp->pstreams, &ps->link);
	__atomic_store_n(&ep->pstream, ps, __ATOMIC_RELEASE);
	attr->frame_size = a.frame_size;
	attr->fifo_frames = a.fifo_frames;
	attr->frame_period_ns = a.frame_period_ns;
	attr->nslots = nslots;
	attr->slot_size = slot_size;
	fpgadma_dp_unlock(dp);
	FPGADMA_INFO(FI_LOG_EP_DATA,
		     "endpoint %u: paced stream %u (%s): %u slots of %u bytes, frames of %u bytes every %llu ns, FIFO %u frames, a CQE per %u frames\n",
		     ep->ep_idx, fpgadma_stream_id(ps->s),
		     zc ? "zero copy" : "copy", nslots, slot_size, a.frame_size,
		     (unsigned long long)a.frame_period_ns, a.fifo_frames,
		     a.cqe_every);
	return 0;

err_ring:
	fpgadma_dp_unlock(dp);
	pstream_ring_free(ps);
	free(ps);
	return ret;
err_unlock:
	fpgadma_dp_unlock(dp);
	free(ps);
	return ret;
}

/* Stop ep's stream: 0, -FI_ENOENT without one, or the stop's error. */
static int pstream_stop(struct fpgadma_ep *ep, unsigned int drain_ms,
			struct fpgadma_stream_stats *final)
{
	struct fpgadma_dp *dp = ep->dp;
	struct fpgadma_stream_stats st;
	struct fpgadma_pstream *ps;
	uint64_t left = 0;
	int ret;

	fpgadma_dp_lock(dp);
	ps = ep->pstream;
	if (!ps) {
		fpgadma_dp_unlock(dp);
		return -FI_ENOENT;
	}
	/* from now on no delivery and no call of the extension reaches it */
	__atomic_store_n(&ep->pstream, NULL, __ATOMIC_RELEASE);
	dl_del(&ps->link);
	dp->ring_cap += ps->cap_taken;
	fpgadma_dp_unlock(dp);

	/* the drain may take drain_ms: without the domain's lock */
	memset(&st, 0, sizeof(st));
	ret = fpgadma_stream_stop(ps->s, drain_ms, &st);
	if (ret)
		FPGADMA_WARN(FI_LOG_EP_DATA, "endpoint %u: stopping its paced stream: %s\n",
			     ep->ep_idx, fpgadma_strerror(ret));
	if (ps->zc) {
		/* the frames left are in the application's ring, its own */
		__atomic_fetch_sub(&ps->app_mr->stream_refs, 1, __ATOMIC_RELEASE);
	} else {
		/* what the device wrote and no receive took goes with the ring */
		if (st.write_idx > ps->taken)
			left = st.write_idx - ps->taken;
		pstream_ring_free(ps);
		fpgadma_dp_lock(dp);
		ep->stream_discarded += left;
		fpgadma_dp_unlock(dp);
	}
	FPGADMA_INFO(FI_LOG_EP_DATA,
		     "endpoint %u: paced stream stopped: %llu frames produced, %llu delivered, %llu dropped by the device, %llu discarded\n",
		     ep->ep_idx, (unsigned long long)st.frames,
		     (unsigned long long)st.frames_delivered,
		     (unsigned long long)st.drops, (unsigned long long)left);
	free(ps);
	if (final)
		*final = st;
	return fpgadma_errno_to_fi(ret);
}

int fpgadma_ext_stream_stop(struct fid_ep *ep_fid, unsigned int drain_ms,
			    struct fpgadma_stream_stats *final)
{
	struct fpgadma_ep *ep = fpgadma_ep_from_fid(ep_fid);

	if (final)
		memset(final, 0, sizeof(*final));
	if (!ep)
		return -FI_EINVAL;
	return pstream_stop(ep, drain_ms, final);
}

void fpgadma_pstream_ep_close(struct fpgadma_ep *ep)
{
	(void)pstream_stop(ep, 0, NULL);
}

int fpgadma_ext_stream_stats(struct fid_ep *ep_fid,
			     struct fpgadma_stream_stats *stats)
{
	struct fpgadma_ep *ep = fpgadma_ep_from_fid(ep_fid);
	int ret;

	if (!ep || !stats)
		return -FI_EINVAL;
	fpgadma_dp_lock(ep->dp);
	if (ep->pstream)
		ret = fpgadma_errno_to_fi(fpgadma_stream_stats(ep->pstream->s,
							       stats));
	else
		ret = -FI_ENOENT;
	fpgadma_dp_unlock(ep->dp);
	return ret;
}

/* The zero-copy stream of ep_fid's endpoint, or NULL. */
static struct fpgadma_pstream *zc_stream(struct fid_ep *ep_fid,
					 struct fpgadma_ep **epp)
{
	struct fpgadma_ep *ep = fpgadma_ep_from_fid(ep_fid);
	struct fpgadma_pstream *ps;

	if (!ep)
		return NULL;
	ps = __atomic_load_n(&ep->pstream, __ATOMIC_ACQUIRE);
	if (!ps || !ps->zc)
		return NULL;
	*epp = ep;
	return ps;
}

uint64_t fpgadma_ext_stream_ready(struct fid_ep *ep_fid, uint64_t *first)
{
	struct fpgadma_ep *ep = NULL;
	struct fpgadma_pstream *ps = zc_stream(ep_fid, &ep);
	uint64_t n, from, written;

	if (!ps) {
		if (first)
			*first = 0;
		return 0;
	}
	n = fpgadma_stream_ready(ps->s, &from);
	written = from + n;
	/*
	 * Nothing there, or a whole ring of frames written since the last
	 * time: run the domain's progress, unless another thread does, so
	 * that the stream's CQEs are taken even by an application that reads
	 * no CQ (a full completion ring holds the frames back).  Not only
	 * when nothing is there: frames a zero-copy application still holds
	 * (sending from their slots, say) count as there until handed back,
	 * and the device stops for want of a completion slot long before
	 * the application has handed back everything.  One progress a ring
	 * of frames keeps the CQEs within the budget stream_start set.
	 */
	if ((!n || written - ps->zc_progress_idx >= ps->nslots) &&
	    !pthread_mutex_trylock(&ep->domain->lock)) {
		fpgadma_dp_progress_locked(ep->dp);
		pthread_mutex_unlock(&ep->domain->lock);
		ps->zc_progress_idx = written;
		n = fpgadma_stream_ready(ps->s, &from);
	}
	if (first)
		*first = from;
	return n;
}

void *fpgadma_ext_stream_slot(struct fid_ep *ep_fid, uint64_t idx)
{
	struct fpgadma_ep *ep = NULL;
	struct fpgadma_pstream *ps = zc_stream(ep_fid, &ep);

	return ps ? fpgadma_stream_slot(ps->s, idx) : NULL;
}

void fpgadma_ext_stream_release(struct fid_ep *ep_fid, uint64_t n)
{
	struct fpgadma_ep *ep = NULL;
	struct fpgadma_pstream *ps = zc_stream(ep_fid, &ep);

	if (ps)
		fpgadma_stream_release(ps->s, n);
}
