// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: connection management of FI_EP_MSG endpoints.
 *
 * A connection is a pair of endpoints (each a (ep_id, ep_idx) of some
 * domain) that know each other; the data then flows on the reliable,
 * ordered wire protocol between their domains exactly as for FI_EP_RDM,
 * every send and RMA going to the peer whatever dest_addr says.  So
 * connecting is only agreeing on the pair, with FPGADMA_MSG_CM messages
 * (wire.h) on that same protocol:
 *
 *   client ep                 passive ep (service)      server ep
 *   fi_connect  -- CONNREQ -->  FI_CONNREQ event
 *                               (info->handle: the request)
 *                                                        fi_endpoint(info)
 *               <------------------- ACCEPT ------------ fi_accept,
 *                                                        FI_CONNECTED
 *   FI_CONNECTED
 *
 * The accepting side reports FI_CONNECTED once its ACCEPT is sent, as
 * libfabric's tcp provider does: waiting for an answer to the ACCEPT (an
 * ESTABLISHED message, retired) let a client's next CONNREQ (fabtests' fi_multi_ep connects its endpoints one after
 * the other) reach the server's EQ before that FI_CONNECTED.  It may send
 * at once: its data follows the ACCEPT on the same ordered stream.  An
 * ACCEPT nobody waits for comes back as REJECT: FI_SHUTDOWN then.
 *
 * fi_reject answers REJECT from the passive endpoint instead: the
 * client's FI_ECONNREFUSED error event, with the reject's CM data as
 * err_data.  A CONNREQ to a service nobody listens on is refused the same
 * way (no data); one sent before the server has bound the service is
 * resent for FI_FPGADMA_CONNECT_TIMEOUT_MS, as any message (peer.c), and
 * then fails with FI_ECONNREFUSED too.  fi_shutdown, and fi_close of a
 * connected endpoint, send SHUTDOWN: the peer's FI_SHUTDOWN event.
 * fi_shutdown writes FI_SHUTDOWN for its own endpoint too, as libfabric's
 * tcp and verbs providers do and fabtests' fi_cm_data expects; a SHUTDOWN
 * arriving after that (both sides shut down) adds no second one.
 * Sends and RMA need
 * the connection (-FI_EOPBADSTATE before FI_CONNECTED and after a
 * shutdown either way); receives may be posted at any time.  Messages
 * that were on their way before SHUTDOWN are still delivered (the stream
 * is ordered); posted receives stay posted.
 *
 * A passive endpoint opens a domain of its own, bound to the service its
 * info's src_addr names (or to a fresh endpoint number): the CONNREQs come
 * into that domain's receive buffers, and progress hands them here
 * (d->pep).  An FI_CONNREQ's info names the client in dest_addr and, as
 * src_addr, the device's "any endpoint" address: the domain the
 * application opens for the server endpoint gets a fresh endpoint number
 * (the service stays the passive endpoint's).
 *
 * Connection ids: the connecting endpoint draws one (its domain's message
 * ids); every CM message carries it, and an endpoint ignores an ACCEPT,
 * REJECT or SHUTDOWN that is not for its current connection
 * (an ACCEPT that finds nobody waiting is answered with REJECT, which the
 * accepting endpoint reports as FI_ECONNREFUSED).
 *
 * Progress: the EQ runs it (eq.c): binding an FI_EP_MSG endpoint or a
 * passive endpoint to an EQ puts its domain on the EQ's progress list.
 *
 * Requests are fids (FI_CLASS_CONNREQ) kept on one list of the process
 * (cm_lock), so that fi_endpoint and fi_reject can tell a live request
 * from anything else.  A request belongs to its passive endpoint until an
 * endpoint takes it (fi_endpoint with it as info->handle), then to that
 * endpoint until fi_accept; fi_close of either refuses what it still
 * holds (the client gets FI_ECONNREFUSED) and frees it.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CM_DATA_MAX	256

size_t fpgadma_cm_data_size(void)
{
	return fpgadma_params.eager_size < CM_DATA_MAX ?
	       fpgadma_params.eager_size : CM_DATA_MAX;
}

struct fpgadma_pep {
	struct fid_pep pep_fid;
	struct fpgadma_fabric *fabric;
	struct fi_info *info;
	struct fid_domain *dom;		/* its own domain, bound to the service */
	struct fpgadma_domain *d;
	uint32_t idx;			/* the ep_idx it answers CONNREQs for */
	struct fpgadma_eq *eq;
	bool listening;
	/*
	 * Its name (fi_getname): the domain's endpoint number and idx, or
	 * fi_setname's.  Once an endpoint has taken the address over (an
	 * fi_domain with the passive endpoint as info->handle), dom and d
	 * are NULL and only the name is left.
	 */
	struct fpgadma_addr name;
	struct dl link;			/* on peps */
};

struct fpgadma_connreq {
	struct fid fid;			/* FI_CLASS_CONNREQ: the info's handle */
	struct dl link;			/* on reqs */
	struct fpgadma_pep *pep;	/* its passive endpoint, until taken */
	struct fpgadma_ep *ep;		/* the endpoint that took it */
	uint32_t dev_index;
	uint32_t client_ep;		/* the connecting endpoint */
	uint16_t client_idx;
	uint64_t conn_id;
};

static pthread_mutex_t cm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dl reqs = { &reqs, &reqs };
static struct dl peps = { &peps, &peps };	/* live passive endpoints */

/* Is r a live request?  cm_lock held. */
static struct fpgadma_connreq *req_find(struct fid *fid)
{
	struct dl *pos;

	for (pos = reqs.next; pos != &reqs; pos = pos->next) {
		struct fpgadma_connreq *r =
			container_of(pos, struct fpgadma_connreq, link);

		if (&r->fid == fid)
			return r;
	}
	return NULL;
}

/* --- sending CM messages -------------------------------------------------- */

/*
 * A CM message without data that nobody waits for (REJECT without data,
 * SHUTDOWN): now, or when a send buffer is free (rdv.c's
 * control queue).  Lock held.
 */
static void cm_send_ctrl(struct fpgadma_dp *dp, uint32_t cm, uint32_t dest_ep,
			 uint16_t dest_idx, uint16_t src_idx, uint64_t conn_id)
{
	struct fpgadma_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = FPGADMA_MSG_CM;
	h.cm = cm;
	h.dst_idx = dest_idx;
	h.src_idx = src_idx;
	h.msg_id = conn_id;
	fpgadma_send_ctrl(dp, dest_ep, &h);
}

/*
 * A CM message with data.  With ep, an operation of the endpoint carries
 * it: its failure to arrive becomes an EQ error event
 * (fpgadma_cm_send_failed).  0, -FI_EAGAIN (no send buffer) or
 * -FI_ENOMEM.  Lock held.
 */
static int cm_send(struct fpgadma_dp *dp, struct fpgadma_ep *ep, uint32_t cm,
		   uint32_t dest_ep, uint16_t dest_idx, uint16_t src_idx,
		   uint64_t conn_id, const void *data, size_t len)
{
	struct fpgadma_txbuf *tb = fpgadma_txbuf_get(dp, true);
	struct fpgadma_op *op = NULL;
	struct fpgadma_hdr *h;

	if (!tb) {
		fpgadma_dp_progress_locked(dp);
		tb = fpgadma_txbuf_get(dp, true);
		if (!tb)
			return -FI_EAGAIN;
	}
	if (ep) {
		op = fpgadma_op_alloc(ep, NULL, 0);
		if (!op) {
			fpgadma_txbuf_put(dp, tb);
			return -FI_ENOMEM;
		}
		op->cm = true;
		op->pending = 1;
		tb->op = op;
		op->tb = tb;
	}
	h = tb->hdr;
	h->type = FPGADMA_MSG_CM;
	h->cm = cm;
	h->dst_idx = dest_idx;
	h->src_idx = src_idx;
	h->msg_id = conn_id;
	h->len = len;
	if (len)
		memcpy(fpgadma_txbuf_payload(tb), data, len);
	fpgadma_txbuf_send(dp, tb, dest_ep, len);
	return 0;
}

/* --- events --------------------------------------------------------------- */

static void ep_event(struct fpgadma_ep *ep, uint32_t event, const void *data,
		     size_t len)
{
	if (!ep->eq) {
		FPGADMA_INFO(FI_LOG_EP_CTRL, "endpoint %u: no EQ for event %u\n",
			     ep->ep_idx, event);
		return;
	}
	fpgadma_eq_write_cm(ep->eq, event, &ep->ep_fid.fid, NULL, data, len);
}

static void ep_error(struct fpgadma_ep *ep, int err, const void *data,
		     size_t len)
{
	if (!ep->eq) {
		FPGADMA_INFO(FI_LOG_EP_CTRL, "endpoint %u: no EQ for error %s\n",
			     ep->ep_idx, fi_strerror(err));
		return;
	}
	fpgadma_eq_write_error_data(ep->eq, &ep->ep_fid.fid,
				    ep->ep_fid.fid.context, err, 0, data, len);
}

void fpgadma_cm_send_failed(struct fpgadma_ep *ep, int err)
{
	if (ep->accepted && ep->cm_state == FPGADMA_CM_CONNECTED) {
		/* the ACCEPT found no peer: the connection is gone */
		FPGADMA_INFO(FI_LOG_EP_CTRL, "endpoint %u: peer %u unreachable: %s\n",
			     ep->ep_idx, ep->peer.ep_id, fi_strerror(err));
		ep->cm_state = FPGADMA_CM_DISCONNECTED;
		ep_event(ep, FI_SHUTDOWN, NULL, 0);
		return;
	}
	if (ep->cm_state != FPGADMA_CM_CONNECTING &&
	    ep->cm_state != FPGADMA_CM_ACCEPTING)
		return;
	FPGADMA_INFO(FI_LOG_EP_CTRL, "endpoint %u: peer %u unreachable: %s\n",
		     ep->ep_idx, ep->peer.ep_id, fi_strerror(err));
	ep->cm_state = FPGADMA_CM_DISCONNECTED;
	ep_error(ep, FI_ECONNREFUSED, NULL, 0);
}

/* --- CM messages in their turn --------------------------------------------- */

/* An FI_CONNREQ's info: the passive endpoint's, naming the client. */
static struct fi_info *connreq_info(struct fpgadma_pep *pep,
				    struct fpgadma_connreq *r)
{
	struct fpgadma_addr src = {
		.magic = FPGADMA_ADDR_MAGIC,
		.dev_index = r->dev_index,
		.ep_id = FPGADMA_ADDR_ANY,
		.ep_idx = FPGADMA_ADDR_ANY,
	};
	struct fpgadma_addr dst = {
		.magic = FPGADMA_ADDR_MAGIC,
		.dev_index = r->dev_index,
		.ep_id = r->client_ep,
		.ep_idx = r->client_idx,
	};
	struct fi_info *info = fi_dupinfo(pep->info);
	int n;

	if (!info)
		return NULL;
	free(info->src_addr);
	free(info->dest_addr);
	info->src_addr = calloc(1, FI_FPGADMA_ADDRLEN);
	info->dest_addr = calloc(1, FI_FPGADMA_ADDRLEN);
	info->src_addrlen = info->dest_addrlen = 0;
	if (!info->src_addr || !info->dest_addr)
		goto err;
	n = fpgadma_addr_encode(info->addr_format, &src, info->src_addr);
	if (n < 0)
		goto err;
	info->src_addrlen = (size_t)n;
	n = fpgadma_addr_encode(info->addr_format, &dst, info->dest_addr);
	if (n < 0)
		goto err;
	info->dest_addrlen = (size_t)n;
	info->handle = &r->fid;
	info->ep_attr->type = FI_EP_MSG;
	return info;
err:
	fi_freeinfo(info);
	return NULL;
}

static int connreq_close(struct fid *fid);

static struct fi_ops connreq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = connreq_close,
	.bind = fpgadma_no_bind,
	.control = fpgadma_no_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

/*
 * fi_close of a request the application wants to drop without fi_reject
 * (libfabric itself never closes it): as fi_reject without data.
 */
static int connreq_close(struct fid *fid)
{
	struct fpgadma_connreq *r;
	struct fpgadma_pep *pep;

	pthread_mutex_lock(&cm_lock);
	r = req_find(fid);
	if (!r || !r->pep) {
		pthread_mutex_unlock(&cm_lock);
		return -FI_EINVAL;
	}
	dl_del(&r->link);
	pep = r->pep;
	pthread_mutex_unlock(&cm_lock);
	fpgadma_dp_lock(pep->d->dp);
	cm_send_ctrl(pep->d->dp, FPGADMA_CM_REJECT, r->client_ep,
		     r->client_idx, (uint16_t)pep->idx, r->conn_id);
	fpgadma_dp_unlock(pep->d->dp);
	free(r);
	return 0;
}

static void connreq_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			    const struct fpgadma_hdr *hdr, const void *pay,
			    size_t paylen)
{
	struct fpgadma_pep *pep = dp->d->pep;
	struct fpgadma_connreq *r;
	struct fi_info *info;

	if (!pep || !pep->listening || !pep->eq || hdr->dst_idx != pep->idx) {
		FPGADMA_INFO(FI_LOG_EP_CTRL,
			     "connection request from %u.%u: nobody listens on %u.%u\n",
			     src_ep, hdr->src_idx, dp->attr.ep_id, hdr->dst_idx);
		cm_send_ctrl(dp, FPGADMA_CM_REJECT, src_ep, hdr->src_idx,
			     hdr->dst_idx, hdr->msg_id);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto refuse;
	r->fid.fclass = FI_CLASS_CONNREQ;
	r->fid.ops = &connreq_fi_ops;
	r->pep = pep;
	r->dev_index = dp->attr.dev_index;
	r->client_ep = src_ep;
	r->client_idx = hdr->src_idx;
	r->conn_id = hdr->msg_id;
	info = connreq_info(pep, r);
	if (!info) {
		free(r);
		goto refuse;
	}
	pthread_mutex_lock(&cm_lock);
	dl_add_tail(&reqs, &r->link);
	pthread_mutex_unlock(&cm_lock);
	if (fpgadma_eq_write_cm(pep->eq, FI_CONNREQ, &pep->pep_fid.fid, info,
				pay, paylen)) {
		pthread_mutex_lock(&cm_lock);
		dl_del(&r->link);
		pthread_mutex_unlock(&cm_lock);
		fi_freeinfo(info);
		free(r);
		goto refuse;
	}
	return;
refuse:
	FPGADMA_WARN(FI_LOG_EP_CTRL, "connection request from %u refused: no memory\n",
		     src_ep);
	cm_send_ctrl(dp, FPGADMA_CM_REJECT, src_ep, hdr->src_idx, hdr->dst_idx,
		     hdr->msg_id);
}

void fpgadma_cm_arrived(struct fpgadma_dp *dp, uint32_t src_ep,
			const struct fpgadma_hdr *hdr, const void *pay,
			size_t paylen)
{
	struct fpgadma_ep *ep;
	bool mine;

	if (hdr->cm == FPGADMA_CM_CONNREQ) {
		connreq_arrived(dp, src_ep, hdr, pay, paylen);
		return;
	}
	ep = fpgadma_dp_ep_at(dp, hdr->dst_idx);
	mine = ep && ep->type == FI_EP_MSG && ep->conn_id == hdr->msg_id &&
	       ep->cm_state != FPGADMA_CM_IDLE &&
	       ep->cm_state != FPGADMA_CM_DISCONNECTED;
	switch (hdr->cm) {
	case FPGADMA_CM_ACCEPT:
		if (!mine || ep->cm_state != FPGADMA_CM_CONNECTING) {
			/* nobody waits for it: the accepting side must know */
			cm_send_ctrl(dp, FPGADMA_CM_REJECT, src_ep, hdr->src_idx,
				     hdr->dst_idx, hdr->msg_id);
			return;
		}
		ep->peer.ep_id = src_ep;
		ep->peer.ep_idx = hdr->src_idx;
		ep->cm_state = FPGADMA_CM_CONNECTED;
		ep_event(ep, FI_CONNECTED, pay, paylen);
		return;
	case FPGADMA_CM_REJECT:
		if (mine && ep->accepted && ep->cm_state == FPGADMA_CM_CONNECTED &&
		    src_ep == ep->peer.ep_id && hdr->src_idx == ep->peer.ep_idx) {
			/* our ACCEPT found nobody: the connection is gone */
			ep->cm_state = FPGADMA_CM_DISCONNECTED;
			ep_event(ep, FI_SHUTDOWN, NULL, 0);
			return;
		}
		if (!mine || (ep->cm_state != FPGADMA_CM_CONNECTING &&
			      ep->cm_state != FPGADMA_CM_ACCEPTING))
			return;
		ep->cm_state = FPGADMA_CM_DISCONNECTED;
		ep_error(ep, FI_ECONNREFUSED, pay, paylen);
		return;
	case FPGADMA_CM_SHUTDOWN:
		if (!mine || src_ep != ep->peer.ep_id ||
		    hdr->src_idx != ep->peer.ep_idx ||
		    ep->cm_state == FPGADMA_CM_DISCONNECTED)
			return;	/* not ours, or we shut down first */
		ep->cm_state = FPGADMA_CM_DISCONNECTED;
		ep_event(ep, FI_SHUTDOWN, NULL, 0);
		return;
	default:
		FPGADMA_WARN(FI_LOG_EP_CTRL, "unknown CM message %u from %u\n",
			     hdr->cm, src_ep);
	}
}

/* --- active endpoints ------------------------------------------------------- */

int fpgadma_cm_take_connreq(struct fpgadma_ep *ep, struct fid *handle)
{
	struct fpgadma_connreq *r;
	int ret = -FI_EINVAL;

	pthread_mutex_lock(&cm_lock);
	r = req_find(handle);
	if (r && r->pep && r->dev_index == ep->domain->attr.dev_index) {
		ep->cm_local = r->pep->name;
		ep->has_cm_local = true;
		r->pep = NULL;
		r->ep = ep;
		ep->connreq = r;
		ep->conn_id = r->conn_id;
		ep->peer.magic = FPGADMA_ADDR_MAGIC;
		ep->peer.dev_index = r->dev_index;
		ep->peer.ep_id = r->client_ep;
		ep->peer.ep_idx = r->client_idx;
		ret = 0;
	}
	pthread_mutex_unlock(&cm_lock);
	return ret;
}

/* Forget the request an endpoint took.  Lock held. */
static void ep_drop_connreq(struct fpgadma_ep *ep)
{
	struct fpgadma_connreq *r = ep->connreq;

	if (!r)
		return;
	pthread_mutex_lock(&cm_lock);
	dl_del(&r->link);
	pthread_mutex_unlock(&cm_lock);
	ep->connreq = NULL;
	free(r);
}

void fpgadma_cm_ep_close(struct fpgadma_ep *ep)
{
	struct fpgadma_dp *dp = ep->dp;

	switch (ep->cm_state) {
	case FPGADMA_CM_IDLE:
		if (ep->connreq)	/* taken, never accepted: refuse it */
			cm_send_ctrl(dp, FPGADMA_CM_REJECT, ep->peer.ep_id,
				     (uint16_t)ep->peer.ep_idx,
				     (uint16_t)ep->ep_idx, ep->conn_id);
		break;
	case FPGADMA_CM_CONNECTING:
	case FPGADMA_CM_ACCEPTING:
	case FPGADMA_CM_CONNECTED:
		cm_send_ctrl(dp, FPGADMA_CM_SHUTDOWN, ep->peer.ep_id,
			     (uint16_t)ep->peer.ep_idx, (uint16_t)ep->ep_idx,
			     ep->conn_id);
		break;
	default:
		break;
	}
	ep->cm_state = FPGADMA_CM_DISCONNECTED;
	ep_drop_connreq(ep);
}

static struct fpgadma_ep *msg_ep(struct fid_ep *ep_fid)
{
	struct fpgadma_ep *ep;

	if (!ep_fid || ep_fid->fid.fclass != FI_CLASS_EP)
		return NULL;
	ep = fpgadma_ep_of(ep_fid);
	return ep->type == FI_EP_MSG ? ep : NULL;
}

/*
 * fi_connect / fi_accept enable an endpoint that is not yet (as
 * fi_cm(3) allows); it needs an EQ for the events.
 */
static int cm_enable(struct fpgadma_ep *ep)
{
	int ret;

	if (!ep->eq)
		return -FI_ENOEQ;
	if (ep->enabled)
		return 0;
	ret = fi_enable(&ep->ep_fid);
	return ret;
}

static int msg_connect(struct fid_ep *ep_fid, const void *addr,
		       const void *param, size_t paramlen)
{
	struct fpgadma_ep *ep = msg_ep(ep_fid);
	struct fpgadma_dp *dp;
	struct fpgadma_addr a;
	uint32_t format;
	int ret;

	if (!ep || !addr || (paramlen && !param))
		return -FI_EINVAL;
	if (paramlen > fpgadma_cm_data_size())
		return -FI_EINVAL;
	format = fpgadma_domain_addr_format(ep->domain);
	if (fpgadma_addr_decode(format, addr, &a) ||
	    a.dev_index != ep->domain->attr.dev_index ||
	    fpgadma_addr_is_fpga(&a) || a.ep_id == FPGADMA_ADDR_ANY ||
	    a.ep_idx >= FPGADMA_MAX_EPS)
		return -FI_EINVAL;
	ret = cm_enable(ep);
	if (ret)
		return ret;
	dp = ep->dp;
	fpgadma_dp_lock(dp);
	if (ep->cm_state != FPGADMA_CM_IDLE || ep->connreq) {
		ret = ep->cm_state == FPGADMA_CM_CONNECTED ? -FI_EISCONN :
		      -FI_EOPBADSTATE;
		goto out;
	}
	ep->conn_id = ++dp->next_msg_id;
	ep->peer = a;
	ep->cm_remote = a;
	ep->has_cm_remote = true;
	/* before sending: a send that fails at once reports in this state */
	ep->cm_state = FPGADMA_CM_CONNECTING;
	ret = cm_send(dp, ep, FPGADMA_CM_CONNREQ, a.ep_id, (uint16_t)a.ep_idx,
		      (uint16_t)ep->ep_idx, ep->conn_id, param, paramlen);
	if (ret)
		ep->cm_state = FPGADMA_CM_IDLE;	/* nothing sent: try again */
out:
	fpgadma_dp_unlock(dp);
	return ret;
}

static int msg_accept(struct fid_ep *ep_fid, const void *param,
		      size_t paramlen)
{
	struct fpgadma_ep *ep = msg_ep(ep_fid);
	struct fpgadma_dp *dp;
	int ret;

	if (!ep || (paramlen && !param))
		return -FI_EINVAL;
	if (paramlen > fpgadma_cm_data_size())
		return -FI_EINVAL;
	if (!ep->connreq)
		return -FI_EOPBADSTATE;	/* not opened from an FI_CONNREQ */
	ret = cm_enable(ep);
	if (ret)
		return ret;
	dp = ep->dp;
	fpgadma_dp_lock(dp);
	if (ep->cm_state != FPGADMA_CM_IDLE || !ep->connreq) {
		ret = -FI_EOPBADSTATE;
		goto out;
	}
	ep->cm_state = FPGADMA_CM_ACCEPTING;
	ret = cm_send(dp, ep, FPGADMA_CM_ACCEPT, ep->peer.ep_id,
		      (uint16_t)ep->peer.ep_idx, (uint16_t)ep->ep_idx,
		      ep->conn_id, param, paramlen);
	if (ret) {
		ep->cm_state = FPGADMA_CM_IDLE;	/* nothing sent: try again */
	} else {
		ep_drop_connreq(ep);
		ep->accepted = true;
		ep->cm_state = FPGADMA_CM_CONNECTED;
		ep_event(ep, FI_CONNECTED, NULL, 0);
	}
out:
	fpgadma_dp_unlock(dp);
	return ret;
}

static int msg_shutdown(struct fid_ep *ep_fid, uint64_t flags)
{
	struct fpgadma_ep *ep = msg_ep(ep_fid);
	int ret = 0;

	if (!ep || flags)
		return -FI_EINVAL;
	fpgadma_dp_lock(ep->dp);
	if (ep->cm_state == FPGADMA_CM_CONNECTED ||
	    ep->cm_state == FPGADMA_CM_CONNECTING ||
	    ep->cm_state == FPGADMA_CM_ACCEPTING) {
		cm_send_ctrl(ep->dp, FPGADMA_CM_SHUTDOWN, ep->peer.ep_id,
			     (uint16_t)ep->peer.ep_idx, (uint16_t)ep->ep_idx,
			     ep->conn_id);
		ep->cm_state = FPGADMA_CM_DISCONNECTED;
		ep_event(ep, FI_SHUTDOWN, NULL, 0);
	} else if (ep->cm_state != FPGADMA_CM_DISCONNECTED) {
		ret = -FI_ENOTCONN;	/* never connected */
	}
	/* shut down already (either side): nothing more to do, as shutdown(2) */
	fpgadma_dp_unlock(ep->dp);
	/* move the SHUTDOWN on even if the application reads no CQ */
	fpgadma_progress(ep->domain);
	return ret;
}

static int msg_getpeer(struct fid_ep *ep_fid, void *addr, size_t *addrlen)
{
	struct fpgadma_ep *ep = msg_ep(ep_fid);
	struct fpgadma_addr a;
	bool known;

	if (!ep || !addrlen)
		return -FI_EINVAL;
	fpgadma_dp_lock(ep->dp);
	known = ep->cm_state == FPGADMA_CM_CONNECTED ||
		ep->cm_state == FPGADMA_CM_ACCEPTING;
	a = ep->has_cm_remote ? ep->cm_remote : ep->peer;
	fpgadma_dp_unlock(ep->dp);
	if (!known)
		return -FI_ENOTCONN;
	return fpgadma_addr_out(fpgadma_domain_addr_format(ep->domain), &a,
				addr, addrlen);
}

/* The shared -FI_ENOSYS stubs but for these; getname is ep.c's. */
struct fi_ops_cm fpgadma_msg_cm_ops;
static struct fi_ops_cm pep_cm_ops;
static pthread_once_t cm_ops_once = PTHREAD_ONCE_INIT;

static int pep_getname(fid_t fid, void *addr, size_t *addrlen);
static int pep_setname(fid_t fid, void *addr, size_t addrlen);
static int pep_listen(struct fid_pep *pep_fid);
static int pep_reject(struct fid_pep *pep_fid, fid_t handle, const void *param,
		      size_t paramlen);

static void cm_ops_init(void)
{
	fpgadma_msg_cm_ops = fpgadma_no_cm_ops;
	fpgadma_msg_cm_ops.connect = msg_connect;
	fpgadma_msg_cm_ops.accept = msg_accept;
	fpgadma_msg_cm_ops.shutdown = msg_shutdown;
	fpgadma_msg_cm_ops.getpeer = msg_getpeer;
	pep_cm_ops = fpgadma_no_cm_ops;
	pep_cm_ops.getname = pep_getname;
	pep_cm_ops.setname = pep_setname;
	pep_cm_ops.listen = pep_listen;
	pep_cm_ops.reject = pep_reject;
}

void fpgadma_cm_ops_init(void)
{
	pthread_once(&cm_ops_once, cm_ops_init);
}

/* --- passive endpoints -------------------------------------------------------- */

static struct fpgadma_pep *pep_of(struct fid *fid)
{
	return container_of(fid, struct fpgadma_pep, pep_fid.fid);
}

static int pep_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct fpgadma_pep *pep = pep_of(fid);
	struct fpgadma_eq *eq = fpgadma_eq_from_fid(bfid);
	int ret;

	if (!eq || flags)
		return -FI_EINVAL;
	if (pep->eq)
		return -FI_EINVAL;	/* one EQ */
	if (!pep->d)
		return -FI_EOPBADSTATE;	/* its address was taken over */
	ret = fpgadma_eq_progress_add(eq, pep->d);
	if (ret)
		return ret;
	fpgadma_eq_get(eq);
	fpgadma_dp_lock(pep->d->dp);
	pep->eq = eq;
	fpgadma_dp_unlock(pep->d->dp);
	return 0;
}

/* Refuse and free the requests the passive endpoint still holds. */
static void pep_refuse_all(struct fpgadma_pep *pep)
{
	struct dl mine, *pos, *tmp;

	dl_init(&mine);
	pthread_mutex_lock(&cm_lock);
	dl_foreach_safe(&reqs, pos, tmp) {
		struct fpgadma_connreq *r =
			container_of(pos, struct fpgadma_connreq, link);

		if (r->pep != pep)
			continue;
		dl_del(&r->link);
		dl_add_tail(&mine, &r->link);
	}
	pthread_mutex_unlock(&cm_lock);
	fpgadma_dp_lock(pep->d->dp);
	dl_foreach_safe(&mine, pos, tmp) {
		struct fpgadma_connreq *r =
			container_of(pos, struct fpgadma_connreq, link);

		cm_send_ctrl(pep->d->dp, FPGADMA_CM_REJECT, r->client_ep,
			     r->client_idx, (uint16_t)pep->idx, r->conn_id);
		dl_del(&r->link);
		free(r);
	}
	fpgadma_dp_unlock(pep->d->dp);
}

/*
 * Give the REJECTs and the rest that the domain still sends a moment to
 * go before the domain closes (its close flushes what is in flight).
 */
static void pep_drain(struct fpgadma_pep *pep)
{
	uint64_t end = fpgadma_now_ns() + 200ULL * 1000000;
	struct fpgadma_dp *dp = pep->d->dp;
	bool busy;

	do {
		fpgadma_progress(pep->d);
		fpgadma_dp_lock(dp);
		busy = dp->tx_nfree < dp->ntx || !dl_empty(&dp->ctrlq);
		fpgadma_dp_unlock(dp);
	} while (busy && fpgadma_now_ns() < end);
}

/*
 * Give the passive endpoint's domain up: refuse what it holds, let that
 * go out, leave the EQ's progress, close it (its endpoint number is free
 * then).  The passive endpoint keeps its name.
 */
static void pep_domain_release(struct fpgadma_pep *pep)
{
	int ret;

	if (!pep->d)
		return;
	fpgadma_dp_lock(pep->d->dp);
	pep->listening = false;
	fpgadma_dp_unlock(pep->d->dp);
	pep_refuse_all(pep);
	pep_drain(pep);
	if (pep->eq)
		fpgadma_eq_progress_del(pep->eq, pep->d);
	fpgadma_dp_lock(pep->d->dp);
	pep->d->pep = NULL;
	fpgadma_dp_unlock(pep->d->dp);
	ret = fi_close(&pep->dom->fid);
	if (ret)
		FPGADMA_WARN(FI_LOG_EP_CTRL, "passive endpoint's domain: %s\n",
			     fi_strerror(-ret));
	pep->dom = NULL;
	pep->d = NULL;
}

static int pep_close(struct fid *fid)
{
	struct fpgadma_pep *pep = pep_of(fid);

	pthread_mutex_lock(&cm_lock);
	dl_del(&pep->link);
	pthread_mutex_unlock(&cm_lock);
	pep_domain_release(pep);
	if (pep->eq)
		fpgadma_eq_put(pep->eq);
	fi_freeinfo(pep->info);
	free(pep);
	return 0;
}

static int pep_listen(struct fid_pep *pep_fid)
{
	struct fpgadma_pep *pep = pep_of(&pep_fid->fid);
	int ret = 0;

	if (!pep->d)
		return -FI_EOPBADSTATE;	/* its address was taken over */
	fpgadma_dp_lock(pep->d->dp);
	if (!pep->eq)
		ret = -FI_ENOEQ;
	else
		pep->listening = true;
	fpgadma_dp_unlock(pep->d->dp);
	return ret;
}

static int pep_reject(struct fid_pep *pep_fid, fid_t handle, const void *param,
		      size_t paramlen)
{
	struct fpgadma_pep *pep = pep_of(&pep_fid->fid);
	struct fpgadma_connreq *r;
	int ret;

	if ((paramlen && !param) || paramlen > fpgadma_cm_data_size())
		return -FI_EINVAL;
	pthread_mutex_lock(&cm_lock);
	r = req_find(handle);
	if (!r || r->pep != pep) {
		pthread_mutex_unlock(&cm_lock);
		return -FI_EINVAL;
	}
	dl_del(&r->link);
	pthread_mutex_unlock(&cm_lock);

	fpgadma_dp_lock(pep->d->dp);
	ret = cm_send(pep->d->dp, NULL, FPGADMA_CM_REJECT, r->client_ep,
		      r->client_idx, (uint16_t)pep->idx, r->conn_id, param,
		      paramlen);
	fpgadma_dp_unlock(pep->d->dp);
	if (ret) {
		/* the request stays: the application may try again */
		pthread_mutex_lock(&cm_lock);
		dl_add_tail(&reqs, &r->link);
		pthread_mutex_unlock(&cm_lock);
		return ret;
	}
	free(r);
	fpgadma_progress(pep->d);
	return 0;
}

static int pep_getname(fid_t fid, void *addr, size_t *addrlen)
{
	struct fpgadma_pep *pep = pep_of(fid);

	return fpgadma_addr_out(pep->info->addr_format, &pep->name, addr,
				addrlen);
}

/*
 * Open a domain for the passive endpoint, bound to the service src names
 * (fpgadma_domain_open binds an ep_id of 1..65535).
 */
static int pep_domain_open(struct fpgadma_pep *pep,
			   const struct fpgadma_addr *src,
			   struct fid_domain **dom)
{
	uint8_t buf[FI_FPGADMA_ADDRLEN];
	struct fi_info *info;
	int len, ret;

	len = fpgadma_addr_encode(pep->info->addr_format, src, buf);
	if (len < 0)
		return len;
	info = fi_dupinfo(pep->info);
	if (!info)
		return -FI_ENOMEM;
	free(info->src_addr);
	info->src_addr = malloc((size_t)len);
	if (!info->src_addr) {
		fi_freeinfo(info);
		return -FI_ENOMEM;
	}
	memcpy(info->src_addr, buf, (size_t)len);
	info->src_addrlen = (size_t)len;
	ret = fpgadma_domain_open(&pep->fabric->fabric_fid, info, dom, NULL);
	fi_freeinfo(info);
	return ret;
}

/*
 * fi_setname: the address the passive endpoint listens on, as bind(2)
 * before listen(2).  One of this device's addresses in the endpoint's
 * format: its index is the endpoint index CONNREQs must name, its port
 * (ep_id) the service; port 0 keeps the endpoint number the passive
 * endpoint has.  A new number opens the passive endpoint's domain again,
 * bound to it (FI_EADDRINUSE if another domain has it: the old one stays
 * then).  Not after fi_listen, nor once an endpoint took the address over.
 */
static int pep_setname(fid_t fid, void *addr, size_t addrlen)
{
	struct fpgadma_pep *pep = pep_of(fid);
	struct fpgadma_domain *d;
	struct fid_domain *dom;
	struct fpgadma_addr a;
	int ret;

	if (!addr || addrlen != fpgadma_addrlen(pep->info->addr_format) ||
	    fpgadma_addr_decode(pep->info->addr_format, addr, &a))
		return -FI_EINVAL;
	if (!pep->d || pep->listening)
		return -FI_EOPBADSTATE;
	if (a.dev_index != pep->d->attr.dev_index)
		return -FI_EADDRNOTAVAIL;
	if (a.ep_id == FPGADMA_ADDR_ANY) {	/* 127.D.0.0 port 0: as it is */
		a.ep_id = 0;
		a.ep_idx = pep->idx;
	}
	if (a.ep_idx >= FPGADMA_MAX_EPS || a.ep_id > FPGADMA_EP_ID_MAX)
		return -FI_EINVAL;
	if (a.ep_id && a.ep_id != pep->d->attr.ep_id) {
		ret = pep_domain_open(pep, &a, &dom);
		if (ret)
			return ret;
		d = container_of(dom, struct fpgadma_domain, domain_fid);
		if (pep->eq) {
			ret = fpgadma_eq_progress_add(pep->eq, d);
			if (ret) {
				fi_close(&dom->fid);
				return ret;
			}
		}
		pep_domain_release(pep);
		pep->dom = dom;
		pep->d = d;
		fpgadma_dp_lock(d->dp);
		d->pep = pep;
		fpgadma_dp_unlock(d->dp);
	}
	pep->idx = a.ep_idx;
	pep->name.ep_id = pep->d->attr.ep_id;
	pep->name.ep_idx = pep->idx;
	FPGADMA_INFO(FI_LOG_EP_CTRL, "passive endpoint named %u.%u\n",
		     pep->name.ep_id, pep->idx);
	return 0;
}

int fpgadma_pep_hand_over(struct fid *handle, uint32_t dev_index,
			  struct fpgadma_addr *name)
{
	struct fpgadma_pep *pep = NULL;
	struct dl *pos;

	pthread_mutex_lock(&cm_lock);
	for (pos = peps.next; pos != &peps; pos = pos->next) {
		struct fpgadma_pep *p =
			container_of(pos, struct fpgadma_pep, link);

		if (&p->pep_fid.fid == handle) {
			pep = p;
			break;
		}
	}
	pthread_mutex_unlock(&cm_lock);
	if (!pep)
		return 0;
	if (!pep->d || pep->listening)
		return -FI_EOPBADSTATE;
	if (pep->name.dev_index != dev_index)
		return -FI_EINVAL;
	*name = pep->name;
	pep_domain_release(pep);
	FPGADMA_INFO(FI_LOG_EP_CTRL, "passive endpoint's %u.%u handed over\n",
		     name->ep_id, name->ep_idx);
	return 1;
}

static int pep_getopt(fid_t fid, int level, int optname, void *optval,
		      size_t *optlen)
{
	(void)fid;
	if (level != FI_OPT_ENDPOINT)
		return -FI_ENOPROTOOPT;
	if (optname != FI_OPT_CM_DATA_SIZE)
		return -FI_ENOPROTOOPT;
	if (!optval || !optlen || *optlen < sizeof(size_t)) {
		if (optlen)
			*optlen = sizeof(size_t);
		return -FI_ETOOSMALL;
	}
	*(size_t *)optval = fpgadma_cm_data_size();
	*optlen = sizeof(size_t);
	return 0;
}

static int pep_setopt(fid_t fid, int level, int optname, const void *optval,
		      size_t optlen)
{
	(void)fid; (void)level; (void)optname; (void)optval; (void)optlen;
	return -FI_ENOPROTOOPT;
}

static ssize_t pep_cancel(fid_t fid, void *context)
{
	(void)fid; (void)context;
	return -FI_ENOENT;
}

static int pep_no_tx_ctx(struct fid_ep *sep, int index,
			 struct fi_tx_attr *attr, struct fid_ep **tx_ep,
			 void *context)
{
	(void)sep; (void)index; (void)attr; (void)tx_ep; (void)context;
	return -FI_ENOSYS;
}

static int pep_no_rx_ctx(struct fid_ep *sep, int index,
			 struct fi_rx_attr *attr, struct fid_ep **rx_ep,
			 void *context)
{
	(void)sep; (void)index; (void)attr; (void)rx_ep; (void)context;
	return -FI_ENOSYS;
}

static ssize_t pep_no_size_left(struct fid_ep *ep)
{
	(void)ep;
	return -FI_ENOSYS;
}

static struct fi_ops pep_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = pep_close,
	.bind = pep_bind,
	.control = fpgadma_no_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_ep pep_ep_ops = {
	.size = sizeof(struct fi_ops_ep),
	.cancel = pep_cancel,
	.getopt = pep_getopt,
	.setopt = pep_setopt,
	.tx_ctx = pep_no_tx_ctx,
	.rx_ctx = pep_no_rx_ctx,
	.rx_size_left = pep_no_size_left,
	.tx_size_left = pep_no_size_left,
};

int fpgadma_pep_open(struct fid_fabric *fabric, struct fi_info *info,
		     struct fid_pep **pep_fid, void *context)
{
	struct fpgadma_pep *pep;
	struct fpgadma_addr src;
	int ret;

	if (!fabric || !info || !pep_fid || !info->ep_attr ||
	    info->ep_attr->type != FI_EP_MSG)
		return -FI_EINVAL;
	if (!fpgadma_addr_format_ok(info->addr_format))
		return -FI_EINVAL;
	fpgadma_cm_ops_init();
	pep = calloc(1, sizeof(*pep));
	if (!pep)
		return -FI_ENOMEM;
	pep->info = fi_dupinfo(info);
	if (!pep->info) {
		free(pep);
		return -FI_ENOMEM;
	}
	/* the index a src_addr names (127.D.0.H), else 0 */
	if (info->src_addr &&
	    info->src_addrlen == fpgadma_addrlen(info->addr_format) &&
	    !fpgadma_addr_decode(info->addr_format, info->src_addr, &src) &&
	    src.ep_idx < FPGADMA_MAX_EPS)
		pep->idx = src.ep_idx;
	/* its own domain, which binds the service src_addr names */
	ret = fpgadma_domain_open(fabric, pep->info, &pep->dom, NULL);
	if (ret) {
		fi_freeinfo(pep->info);
		free(pep);
		return ret;
	}
	pep->d = container_of(pep->dom, struct fpgadma_domain, domain_fid);
	if (!pep->d->dp || !pep->d->dp->host_ep) {
		fi_close(&pep->dom->fid);
		fi_freeinfo(pep->info);
		free(pep);
		return -FI_EOPNOTSUPP;	/* a device without host endpoints */
	}
	pep->fabric = container_of(fabric, struct fpgadma_fabric, fabric_fid);
	fpgadma_dp_lock(pep->d->dp);
	pep->d->pep = pep;
	fpgadma_dp_unlock(pep->d->dp);
	pep->name.magic = FPGADMA_ADDR_MAGIC;
	pep->name.dev_index = pep->d->attr.dev_index;
	pep->name.ep_id = pep->d->attr.ep_id;
	pep->name.ep_idx = pep->idx;
	pthread_mutex_lock(&cm_lock);
	dl_add_tail(&peps, &pep->link);
	pthread_mutex_unlock(&cm_lock);

	pep->pep_fid.fid.fclass = FI_CLASS_PEP;
	pep->pep_fid.fid.context = context;
	pep->pep_fid.fid.ops = &pep_fi_ops;
	pep->pep_fid.ops = &pep_ep_ops;
	pep->pep_fid.cm = &pep_cm_ops;
	FPGADMA_INFO(FI_LOG_EP_CTRL, "passive endpoint on %u.%u\n",
		     pep->d->attr.ep_id, pep->idx);
	*pep_fid = &pep->pep_fid;
	return 0;
}
