// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: endpoints (FI_EP_RDM, FI_EP_MSG, FI_EP_DGRAM).
 *
 * An endpoint is a name (ep_idx) inside its domain's kernel endpoint, plus
 * the queues of receives and unexpected messages that match.c pairs.
 * Its address is (device, ep_id of the domain, ep_idx), in the domain's
 * address format (fpgadma_prov.h).
 *
 * The three types share all of it.  FI_EP_RDM and FI_EP_DGRAM address
 * peers through an AV; an FI_EP_DGRAM endpoint drops a message that finds
 * no receive posted instead of keeping it as unexpected (match.c), has
 * messages of at most the eager size and neither tagged messages nor RMA
 * nor atomics.
 * An FI_EP_MSG endpoint has no AV (binding one is -FI_EINVAL): it talks to
 * the one peer its connection names (cm.c), and binding it to an EQ puts
 * its domain on the EQ's progress list, for the connection events.
 *
 * An endpoint may run a paced stream of its device (dp.c): fi_close stops
 * it, fi_cancel takes back receives posted for it like any other.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CQ_BIND_FLAGS	(FI_TRANSMIT | FI_RECV | FI_SELECTIVE_COMPLETION)
#define CNTR_BIND_FLAGS	(FI_SEND | FI_RECV | FI_READ | FI_WRITE | \
			 FI_REMOTE_READ | FI_REMOTE_WRITE)

static struct fpgadma_ep *ep_of_fid(struct fid *fid)
{
	return container_of(fid, struct fpgadma_ep, ep_fid.fid);
}

static struct fi_ops ep_fi_ops;

struct fpgadma_ep *fpgadma_ep_from_fid(struct fid_ep *ep_fid)
{
	if (!ep_fid || ep_fid->fid.fclass != FI_CLASS_EP ||
	    ep_fid->fid.ops != &ep_fi_ops)
		return NULL;
	return fpgadma_ep_of(ep_fid);
}

fi_addr_t fpgadma_ep_src_addr(struct fpgadma_ep *ep, uint32_t src_ep,
			      uint16_t src_idx)
{
	struct fpgadma_addr a = {
		.magic = FPGADMA_ADDR_MAGIC,
		.dev_index = ep->domain->attr.dev_index,
		.ep_id = src_ep,
		.ep_idx = src_idx,
	};
	struct fpgadma_ep_rev *c =
		&ep->rev[(src_ep ^ src_idx) % FPGADMA_EP_ADDR_CACHE];
	uint64_t epoch;
	fi_addr_t fi_addr;
	bool cacheable;

	if (!ep->av)
		return FI_ADDR_NOTAVAIL;
	cacheable = fpgadma_av_epoch(ep->av, &epoch);
	if (cacheable && c->valid && c->epoch == epoch && c->ep_id == src_ep &&
	    c->ep_idx == src_idx)
		return c->fi_addr;
	fi_addr = fpgadma_av_reverse(ep->av, &a);
	/* not there: not cached (an insertion may bring it) */
	if (cacheable && fi_addr != FI_ADDR_NOTAVAIL)
		*c = (struct fpgadma_ep_rev){ true, src_ep, src_idx, epoch,
					      fi_addr };
	return fi_addr;
}

int fpgadma_ep_addr(struct fpgadma_ep *ep, fi_addr_t fi_addr,
		    struct fpgadma_addr *a)
{
	struct fpgadma_ep_fwd *c = &ep->fwd[fi_addr % FPGADMA_EP_ADDR_CACHE];
	uint64_t epoch;
	bool cacheable;

	if (!ep->av)
		return -FI_EINVAL;
	cacheable = fpgadma_av_epoch(ep->av, &epoch);
	if (cacheable && c->valid && c->epoch == epoch &&
	    c->fi_addr == fi_addr) {
		*a = c->a;
		return 0;
	}
	if (fpgadma_av_lookup_addr(ep->av, fi_addr, a))
		return -FI_EINVAL;
	if (cacheable)
		*c = (struct fpgadma_ep_fwd){ true, fi_addr, epoch, *a };
	return 0;
}

void fpgadma_ep_stats_fill(const struct fpgadma_ep *ep,
			   struct fi_fpgadma_ep_stats *stats)
{
	stats->dgram_dropped = ep->dgram_dropped;
	stats->stream_frames = ep->stream_frames;
	stats->stream_lost = ep->stream_lost;
	stats->stream_discarded = ep->stream_discarded;
}

int fpgadma_ep_check_tx(struct fpgadma_ep *ep)
{
	if (!ep->enabled)
		return -FI_EOPBADSTATE;
	if (ep->type == FI_EP_MSG && ep->cm_state != FPGADMA_CM_CONNECTED)
		return -FI_EOPBADSTATE;
	return 0;
}

int fpgadma_ep_dest(struct fpgadma_ep *ep, fi_addr_t dest,
		    struct fpgadma_addr *a)
{
	if (ep->type == FI_EP_MSG) {
		if (ep->cm_state != FPGADMA_CM_CONNECTED)
			return -FI_EINVAL;
		*a = ep->peer;
		a->magic = FPGADMA_ADDR_MAGIC;
		a->dev_index = ep->domain->attr.dev_index;
		return 0;
	}
	return fpgadma_ep_addr(ep, dest, a);
}

/* --- bind ---------------------------------------------------------------- */

static int bind_cq(struct fpgadma_ep *ep, struct fid *bfid, uint64_t flags)
{
	struct fpgadma_cq *cq = fpgadma_cq_from_fid(bfid);

	if (!cq || fpgadma_cq_domain(cq) != ep->domain)
		return -FI_EINVAL;
	if ((flags & ~CQ_BIND_FLAGS) || !(flags & (FI_TRANSMIT | FI_RECV)))
		return -FI_EINVAL;
	if (((flags & FI_TRANSMIT) && ep->tx_cq) ||
	    ((flags & FI_RECV) && ep->rx_cq))
		return -FI_EINVAL;
	if (flags & FI_TRANSMIT) {
		fpgadma_cq_get(cq);
		ep->tx_cq = cq;
		ep->tx_selective = flags & FI_SELECTIVE_COMPLETION;
	}
	if (flags & FI_RECV) {
		fpgadma_cq_get(cq);
		ep->rx_cq = cq;
		ep->rx_selective = flags & FI_SELECTIVE_COMPLETION;
	}
	return 0;
}

static void bind_one_cntr(struct fpgadma_cntr **slot, struct fpgadma_cntr *c)
{
	fpgadma_cntr_get(c);
	*slot = c;
}

static int bind_cntr(struct fpgadma_ep *ep, struct fid *bfid, uint64_t flags)
{
	struct fpgadma_cntr *c = fpgadma_cntr_from_fid(bfid);

	if (!c || fpgadma_cntr_domain(c) != ep->domain)
		return -FI_EINVAL;
	if ((flags & ~CNTR_BIND_FLAGS) || !flags)
		return -FI_EINVAL;
	if (((flags & FI_SEND) && ep->send_cntr) ||
	    ((flags & FI_RECV) && ep->recv_cntr) ||
	    ((flags & FI_READ) && ep->read_cntr) ||
	    ((flags & FI_WRITE) && ep->write_cntr) ||
	    ((flags & FI_REMOTE_READ) && ep->rread_cntr) ||
	    ((flags & FI_REMOTE_WRITE) && ep->rwrite_cntr))
		return -FI_EINVAL;
	if (flags & FI_SEND)
		bind_one_cntr(&ep->send_cntr, c);
	if (flags & FI_RECV)
		bind_one_cntr(&ep->recv_cntr, c);
	if (flags & FI_READ)
		bind_one_cntr(&ep->read_cntr, c);
	if (flags & FI_WRITE)
		bind_one_cntr(&ep->write_cntr, c);
	if (flags & FI_REMOTE_READ)
		bind_one_cntr(&ep->rread_cntr, c);
	if (flags & FI_REMOTE_WRITE)
		bind_one_cntr(&ep->rwrite_cntr, c);
	return 0;
}

/*
 * An FI_EP_MSG endpoint's EQ: its domain goes on the EQ's progress list
 * (which must be done without domain->lock held).
 */
static int bind_msg_eq(struct fpgadma_ep *ep, struct fid *bfid,
		       uint64_t flags)
{
	struct fpgadma_eq *eq = fpgadma_eq_from_fid(bfid);
	int ret;

	if (!eq || flags)
		return -FI_EINVAL;
	fpgadma_dp_lock(ep->dp);
	ret = ep->enabled ? -FI_EOPBADSTATE : ep->eq ? -FI_EINVAL : 0;
	if (!ret) {
		fpgadma_eq_get(eq);
		ep->eq = eq;
	}
	fpgadma_dp_unlock(ep->dp);
	if (ret)
		return ret;
	ret = fpgadma_eq_progress_add(eq, ep->domain);
	if (ret) {
		fpgadma_dp_lock(ep->dp);
		ep->eq = NULL;
		fpgadma_dp_unlock(ep->dp);
		fpgadma_eq_put(eq);
		return ret;
	}
	ep->eq_progress = true;
	return 0;
}

static int ep_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);
	int ret = -FI_EINVAL;

	if (!bfid)
		return -FI_EINVAL;
	if (bfid->fclass == FI_CLASS_EQ && ep->type == FI_EP_MSG)
		return bind_msg_eq(ep, bfid, flags);
	fpgadma_dp_lock(ep->dp);
	if (ep->enabled) {
		ret = -FI_EOPBADSTATE;
		goto out;
	}
	switch (bfid->fclass) {
	case FI_CLASS_AV: {
		struct fpgadma_av *av = fpgadma_av_from_fid(bfid);

		/* an FI_EP_MSG endpoint's peer is its connection's */
		if (!av || flags || ep->av || ep->type == FI_EP_MSG ||
		    fpgadma_av_domain(av) != ep->domain)
			break;
		fpgadma_av_get(av);
		ep->av = av;
		ret = 0;
		break;
	}
	case FI_CLASS_CQ:
		ret = bind_cq(ep, bfid, flags);
		break;
	case FI_CLASS_CNTR:
		ret = bind_cntr(ep, bfid, flags);
		break;
	case FI_CLASS_EQ: {
		struct fpgadma_eq *eq = fpgadma_eq_from_fid(bfid);

		if (!eq || flags || ep->eq)
			break;
		fpgadma_eq_get(eq);
		ep->eq = eq;
		ret = 0;
		break;
	}
	default:
		break;
	}
out:
	fpgadma_dp_unlock(ep->dp);
	return ret;
}

/* --- enable, control ---------------------------------------------------- */

static bool has_tx(const struct fpgadma_ep *ep)
{
	return ep->caps & (FI_MSG | FI_TAGGED | FI_RMA | FI_ATOMIC) &&
	       (!(ep->caps & (FI_SEND | FI_RECV | FI_READ | FI_WRITE |
			      FI_REMOTE_READ | FI_REMOTE_WRITE)) ||
		(ep->caps & (FI_SEND | FI_READ | FI_WRITE)));
}

static bool has_rx(const struct fpgadma_ep *ep)
{
	return ep->caps & (FI_MSG | FI_TAGGED) &&
	       (!(ep->caps & (FI_SEND | FI_RECV)) || (ep->caps & FI_RECV));
}

static int ep_enable(struct fpgadma_ep *ep)
{
	int ret = 0;

	fpgadma_dp_lock(ep->dp);
	if (ep->enabled)
		goto out;
	if (!ep->av && ep->type != FI_EP_MSG) {
		ret = -FI_ENOAV;
		goto out;
	}
	/* every operation must be able to report: a CQ or a counter */
	if (has_tx(ep) && !ep->tx_cq && !ep->send_cntr && !ep->read_cntr &&
	    !ep->write_cntr) {
		ret = -FI_ENOCQ;
		goto out;
	}
	if (has_rx(ep) && !ep->rx_cq && !ep->recv_cntr) {
		ret = -FI_ENOCQ;
		goto out;
	}
	ep->enabled = true;
out:
	fpgadma_dp_unlock(ep->dp);
	return ret;
}

static int ep_control(struct fid *fid, int command, void *arg)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);
	uint64_t *flags = arg;
	int ret = 0;

	switch (command) {
	case FI_ENABLE:
		return ep_enable(ep);
	case FI_GETOPSFLAG:
	case FI_SETOPSFLAG:
		if (!flags)
			return -FI_EINVAL;
		if ((*flags & FI_TRANSMIT) && (*flags & FI_RECV))
			return -FI_EINVAL;
		if (!(*flags & (FI_TRANSMIT | FI_RECV)))
			return -FI_EINVAL;
		fpgadma_dp_lock(ep->dp);
		if (command == FI_GETOPSFLAG) {
			*flags = (*flags & FI_TRANSMIT) ? ep->tx_op_flags :
							  ep->rx_op_flags;
		} else if (*flags & FI_TRANSMIT) {
			ep->tx_op_flags = *flags & ~FI_TRANSMIT;
		} else {
			ep->rx_op_flags = *flags & ~FI_RECV;
		}
		fpgadma_dp_unlock(ep->dp);
		return ret;
	default:
		return -FI_ENOSYS;
	}
}

/* --- close ---------------------------------------------------------------- */

static void put_cntr(struct fpgadma_cntr *c)
{
	if (c)
		fpgadma_cntr_put(c);
}

static int ep_close(struct fid *fid)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);
	struct fpgadma_domain *d = ep->domain;

	/* its paced stream first: nothing writes for the endpoint after */
	fpgadma_pstream_ep_close(ep);
	if (ep->stream_frames || ep->stream_lost || ep->stream_discarded)
		FPGADMA_INFO(FI_LOG_EP_DATA,
			     "%s: endpoint %u.%u: paced stream: %llu frames received, %llu lost, %llu discarded at the stop\n",
			     d->info->domain_attr->name, d->attr.ep_id,
			     ep->ep_idx, (unsigned long long)ep->stream_frames,
			     (unsigned long long)ep->stream_lost,
			     (unsigned long long)ep->stream_discarded);
	fpgadma_dp_lock(ep->dp);
	if (ep->type == FI_EP_MSG)
		fpgadma_cm_ep_close(ep);	/* SHUTDOWN to the peer */
	fpgadma_dp_ep_remove(ep->dp, ep);
	fpgadma_dp_unlock(ep->dp);
	if (ep->type == FI_EP_MSG)
		fpgadma_progress(d);		/* send it now */
	if (ep->type == FI_EP_DGRAM)
		FPGADMA_INFO(FI_LOG_EP_DATA,
			     "%s: endpoint %u.%u: %llu messages dropped (no receive posted)\n",
			     d->info->domain_attr->name, d->attr.ep_id,
			     ep->ep_idx, (unsigned long long)ep->dgram_dropped);
	if (ep->eq_progress)
		fpgadma_eq_progress_del(ep->eq, d);

	if (ep->av)
		fpgadma_av_put(ep->av);
	if (ep->eq)
		fpgadma_eq_put(ep->eq);
	if (ep->tx_cq)
		fpgadma_cq_put(ep->tx_cq);
	if (ep->rx_cq)
		fpgadma_cq_put(ep->rx_cq);
	put_cntr(ep->send_cntr);
	put_cntr(ep->recv_cntr);
	put_cntr(ep->read_cntr);
	put_cntr(ep->write_cntr);
	put_cntr(ep->rread_cntr);
	put_cntr(ep->rwrite_cntr);
	fi_freeinfo(ep->info);
	free(ep);
	fpgadma_domain_put(d);
	return 0;
}

/* --- cm: getname ---------------------------------------------------------- */

static int ep_getname(fid_t fid, void *addr, size_t *addrlen)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);
	struct fpgadma_addr a = {
		.magic = FPGADMA_ADDR_MAGIC,
		.dev_index = ep->domain->attr.dev_index,
		.ep_id = ep->domain->attr.ep_id,
		.ep_idx = ep->ep_idx,
	};

	if (ep->has_cm_local)	/* accepted: its passive endpoint's (cm.c) */
		a = ep->cm_local;
	return fpgadma_addr_out(fpgadma_domain_addr_format(ep->domain), &a,
				addr, addrlen);
}

/* --- options ---------------------------------------------------------------- */

static int ep_getopt(fid_t fid, int level, int optname, void *optval,
		     size_t *optlen)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);

	if (level != FI_OPT_ENDPOINT)
		return -FI_ENOPROTOOPT;
	switch (optname) {
	case FI_OPT_MIN_MULTI_RECV:
	case FI_OPT_CM_DATA_SIZE:
		if (optname == FI_OPT_CM_DATA_SIZE && ep->type != FI_EP_MSG)
			return -FI_ENOPROTOOPT;
		if (!optval || !optlen || *optlen < sizeof(size_t)) {
			if (optlen)
				*optlen = sizeof(size_t);
			return -FI_ETOOSMALL;
		}
		*(size_t *)optval = optname == FI_OPT_CM_DATA_SIZE ?
				    fpgadma_cm_data_size() : ep->min_multi_recv;
		*optlen = sizeof(size_t);
		return 0;
	default:
		return -FI_ENOPROTOOPT;
	}
}

static int ep_setopt(fid_t fid, int level, int optname, const void *optval,
		     size_t optlen)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);

	if (level != FI_OPT_ENDPOINT)
		return -FI_ENOPROTOOPT;
	switch (optname) {
	case FI_OPT_MIN_MULTI_RECV:
		if (!optval || optlen != sizeof(size_t))
			return -FI_EINVAL;
		ep->min_multi_recv = *(const size_t *)optval;
		return 0;
	default:
		return -FI_ENOPROTOOPT;
	}
}

/* --- cancel ------------------------------------------------------------- */

static bool cancel_in(struct fpgadma_ep *ep, struct dl *list, void *context)
{
	struct dl *pos;

	for (pos = list->next; pos != list; pos = pos->next) {
		struct fpgadma_rx_entry *rx =
			container_of(pos, struct fpgadma_rx_entry, link);
		struct fpgadma_comp c = {
			.op_context = rx->context,
			.flags = FI_RECV | (rx->tagged ? FI_TAGGED : FI_MSG),
			.tag = rx->tag,
			.src_addr = FI_ADDR_NOTAVAIL,
		};

		if (rx->context != context)
			continue;
		if (rx->flags & FI_MULTI_RECV)
			c.flags |= FI_MULTI_RECV;
		/* an error completion even under selective completion */
		if (ep->rx_cq)
			fpgadma_cq_write_err(ep->rx_cq, &c, FI_ECANCELED, 0, 0);
		dl_del(&rx->link);
		rx->listed = false;
		if (ep->rx_posted)
			ep->rx_posted--;
		rx->released = true;
		if (!rx->refs)
			fpgadma_rx_entry_put(rx);
		return true;
	}
	return false;
}

static ssize_t ep_cancel(fid_t fid, void *context)
{
	struct fpgadma_ep *ep = ep_of_fid(fid);
	bool found;

	if (!context)
		return -FI_EINVAL;
	fpgadma_dp_lock(ep->dp);
	found = cancel_in(ep, &ep->rx_msg, context) ||
		cancel_in(ep, &ep->rx_tag, context) ||
		cancel_in(ep, &ep->rx_stream, context);
	fpgadma_dp_unlock(ep->dp);
	return found ? 0 : -FI_ENOENT;
}

static ssize_t ep_rx_size_left(struct fid_ep *ep_fid)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	ssize_t left;

	fpgadma_dp_lock(ep->dp);
	left = ep->rx_posted < ep->rx_size ?
	       (ssize_t)(ep->rx_size - ep->rx_posted) : 0;
	fpgadma_dp_unlock(ep->dp);
	return left;
}

static ssize_t ep_tx_size_left(struct fid_ep *ep_fid)
{
	struct fpgadma_ep *ep = fpgadma_ep_of(ep_fid);
	ssize_t left;

	fpgadma_dp_lock(ep->dp);
	left = ep->tx_inflight < ep->tx_size ?
	       (ssize_t)(ep->tx_size - ep->tx_inflight) : 0;
	fpgadma_dp_unlock(ep->dp);
	return left;
}

static int ep_no_ctx(struct fid_ep *sep, int index, void *attr,
		     struct fid_ep **ctx, void *context)
{
	(void)sep; (void)index; (void)attr; (void)ctx; (void)context;
	return -FI_ENOSYS;
}

static int ep_no_tx_ctx(struct fid_ep *sep, int index, struct fi_tx_attr *attr,
			struct fid_ep **tx_ep, void *context)
{
	return ep_no_ctx(sep, index, attr, tx_ep, context);
}

static int ep_no_rx_ctx(struct fid_ep *sep, int index, struct fi_rx_attr *attr,
			struct fid_ep **rx_ep, void *context)
{
	return ep_no_ctx(sep, index, attr, rx_ep, context);
}

static struct fi_ops ep_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ep_close,
	.bind = ep_bind,
	.control = ep_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_ep ep_ops = {
	.size = sizeof(struct fi_ops_ep),
	.cancel = ep_cancel,
	.getopt = ep_getopt,
	.setopt = ep_setopt,
	.tx_ctx = ep_no_tx_ctx,
	.rx_ctx = ep_no_rx_ctx,
	.rx_size_left = ep_rx_size_left,
	.tx_size_left = ep_tx_size_left,
};

/* The shared -FI_ENOSYS cm ops, but for getname. */
static struct fi_ops_cm ep_cm_ops;
static pthread_once_t ep_cm_once = PTHREAD_ONCE_INIT;

static void ep_cm_init(void)
{
	ep_cm_ops = fpgadma_no_cm_ops;
	ep_cm_ops.getname = ep_getname;
	/* the rest of FI_EP_MSG's are cm.c's */
	fpgadma_cm_ops_init();
	fpgadma_msg_cm_ops.getname = ep_getname;
}

/* --- open --------------------------------------------------------------- */

static bool format_is_sin(uint32_t f)
{
	return f == FI_SOCKADDR_IN || f == FI_SOCKADDR;
}

static bool same_format(uint32_t a, uint32_t b)
{
	return a == b || (format_is_sin(a) && format_is_sin(b));
}

/*
 * The index a src_addr on the domain's own endpoint number names (node
 * and service given to fi_getinfo with FI_SOURCE), or FPGADMA_ADDR_ANY.
 */
static uint32_t wanted_idx(const struct fpgadma_domain *d,
			   const struct fi_info *info)
{
	uint32_t format = fpgadma_domain_addr_format(d);
	struct fpgadma_addr src;

	if (d->pep_handle && info->handle == d->pep_handle)
		return d->pep_idx;
	if (!info->src_addr || info->src_addrlen != fpgadma_addrlen(format) ||
	    fpgadma_addr_decode(format, info->src_addr, &src) ||
	    src.dev_index != d->attr.dev_index || src.ep_id != d->attr.ep_id)
		return FPGADMA_ADDR_ANY;
	return src.ep_idx;
}

int fpgadma_ep_open(struct fid_domain *domain, struct fi_info *info,
		    struct fid_ep **ep_fid, void *context)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	struct fpgadma_ep *ep;
	enum fi_ep_type type;
	int ret;

	if (!info || !ep_fid || !d->dp)
		return -FI_EINVAL;
	type = info->ep_attr ? info->ep_attr->type : FI_EP_UNSPEC;
	if (type == FI_EP_UNSPEC)
		type = d->info->ep_attr ? d->info->ep_attr->type : FI_EP_RDM;
	if (type == FI_EP_UNSPEC)
		type = FI_EP_RDM;
	if (type != FI_EP_RDM && type != FI_EP_MSG && type != FI_EP_DGRAM)
		return -FI_EINVAL;
	/* messages and connections need host endpoints */
	if (type != FI_EP_RDM && !d->dp->host_ep)
		return -FI_EOPNOTSUPP;
	/*
	 * Addresses are in the domain's format; an info that asks for another
	 * one cannot be honoured (FI_SOCKADDR and FI_SOCKADDR_IN are the same
	 * sockaddr_in addresses here; FI_FORMAT_UNSPEC leaves the domain's).
	 */
	if (info->addr_format != FI_FORMAT_UNSPEC &&
	    !same_format(info->addr_format, fpgadma_domain_addr_format(d)))
		return -FI_EINVAL;
	pthread_once(&ep_cm_once, ep_cm_init);

	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -FI_ENOMEM;
	ep->info = fi_dupinfo(info);
	if (!ep->info) {
		free(ep);
		return -FI_ENOMEM;
	}
	ep->domain = d;
	ep->dp = d->dp;
	ep->caps = info->caps ? info->caps : d->info->caps;
	if (info->tx_attr) {
		ep->tx_op_flags = info->tx_attr->op_flags;
		ep->tx_size = info->tx_attr->size;
		ep->tx_iov_limit = info->tx_attr->iov_limit;
		ep->rma_iov_limit = info->tx_attr->rma_iov_limit;
	}
	if (info->rx_attr) {
		ep->rx_op_flags = info->rx_attr->op_flags;
		ep->rx_size = info->rx_attr->size;
		ep->rx_iov_limit = info->rx_attr->iov_limit;
	}
	if (!ep->tx_size)
		ep->tx_size = d->attr.cq_entries ? d->attr.cq_entries : 256;
	if (!ep->rx_size)
		ep->rx_size = d->attr.cq_entries ? d->attr.cq_entries : 256;
	if (!ep->tx_iov_limit)
		ep->tx_iov_limit = 1;
	if (!ep->rx_iov_limit)
		ep->rx_iov_limit = 1;
	if (!ep->rma_iov_limit)
		ep->rma_iov_limit = 1;
	ep->max_msg_size = info->ep_attr && info->ep_attr->max_msg_size ?
			   info->ep_attr->max_msg_size : FPGADMA_MAX_MSG_SIZE;
	ep->inject_size = fpgadma_params.inject_size;
	ep->type = type;
	/* DGRAM: one eager message, no rendezvous (fi_fpgadma(7)) */
	if (type == FI_EP_DGRAM && ep->max_msg_size > fpgadma_params.eager_size)
		ep->max_msg_size = fpgadma_params.eager_size;
	if (type == FI_EP_DGRAM)
		ep->caps &= ~(uint64_t)(FI_TAGGED | FI_RMA | FI_ATOMIC |
					FI_READ | FI_WRITE | FI_REMOTE_READ |
					FI_REMOTE_WRITE | FI_DIRECTED_RECV);
	if (type == FI_EP_MSG)
		ep->caps &= ~(uint64_t)(FI_DIRECTED_RECV | FI_SOURCE);
	ep->min_multi_recv = FPGADMA_MIN_MULTI_RECV_DEFAULT;
	dl_init(&ep->rx_msg);
	dl_init(&ep->rx_tag);
	dl_init(&ep->rx_stream);
	dl_init(&ep->unexp_msg);
	dl_init(&ep->unexp_tag);
	dl_init(&ep->claimed);
	dl_init(&ep->ops);

	ep->ep_fid.fid.fclass = FI_CLASS_EP;
	ep->ep_fid.fid.context = context;
	ep->ep_fid.fid.ops = &ep_fi_ops;
	ep->ep_fid.ops = &ep_ops;
	ep->ep_fid.cm = type == FI_EP_MSG ? &fpgadma_msg_cm_ops : &ep_cm_ops;
	ep->ep_fid.msg = &fpgadma_msg_ops;
	ep->ep_fid.tagged = &fpgadma_tagged_ops;
	ep->ep_fid.rma = &fpgadma_rma_ops;
	ep->ep_fid.atomic = &fpgadma_atomic_ops;
	ep->ep_fid.collective = &fpgadma_no_collective_ops;

	/*
	 * FI_EP_MSG from an FI_CONNREQ: the request is the endpoint's now.
	 * The handle is looked up among the live requests before anything
	 * is read through it (an info kept after fi_reject or the passive
	 * endpoint's close names a freed one); any other handle (a passive
	 * endpoint's address to take over) is FI_EINVAL.
	 */
	if (type == FI_EP_MSG && info->handle &&
	    info->handle != d->pep_handle) {
		ret = fpgadma_cm_take_connreq(ep, info->handle);
		if (ret) {
			fi_freeinfo(ep->info);
			free(ep);
			return ret;
		}
	}

	fpgadma_dp_lock(d->dp);
	ret = fpgadma_dp_ep_add(d->dp, ep, wanted_idx(d, info));
	if (!ret && d->pep_handle && info->handle == d->pep_handle)
		d->pep_handle = NULL;	/* the first one only */
	if (ret && ep->connreq)
		fpgadma_cm_ep_close(ep);	/* refused: no endpoint */
	fpgadma_dp_unlock(d->dp);
	if (ret) {
		fi_freeinfo(ep->info);
		free(ep);
		return ret;
	}
	fpgadma_domain_get(d);
	*ep_fid = &ep->ep_fid;
	return 0;
}
