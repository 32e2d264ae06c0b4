// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * msg_ep: FI_EP_MSG and FI_EP_DGRAM endpoints between a forked server and
 * a client that meet by node and service alone, as runfabtests.sh starts
 * libfabric's fabtests (server: fi_getinfo with FI_SOURCE and a passive
 * endpoint; client: fi_getinfo's dest_addr).
 *
 * MSG (service S):
 *  1. The client connects with CM data; the server reads FI_CONNREQ (the
 *     data checked) and rejects with data: the client's FI_ECONNREFUSED
 *     error event carries it.  CM data larger than FI_OPT_CM_DATA_SIZE
 *     is -FI_EINVAL; a send before the connection fails (fpgadma:
 *     -FI_EOPBADSTATE).
 *  2. A new client endpoint connects again; the server opens a domain and
 *     an endpoint from the FI_CONNREQ's info and accepts with data; both
 *     sides see FI_CONNECTED, the client with the accept's data.
 *  3. Messages of 64 B and 1 MiB (rendezvous-sized: above any eager
 *     size) both ways, every byte checked; the client writes into and
 *     reads back from an MR of the server (fi_write / fi_read on the
 *     connected peer, no AV), the server checks what landed.  On
 *     fpgadma with channels, both sides having waited in fi_eq_sread:
 *     the client's domain is not marked asleep and its last message went
 *     through a channel (the extension's chan_stats).
 *  4. The client calls fi_shutdown: the server's FI_SHUTDOWN event (and,
 *     on fpgadma, the client's own).
 * DGRAM (service S+1; fpgadma only: libfabric leaves it to the provider
 * whether a datagram that finds no receive is dropped, and sockets, for
 * one, keeps it):
 *  5. Messages arrive where a receive is posted; a message sent while the
 *     server has none posted is dropped (counted, through the fi_open_ops
 *     extension) and not delivered to a receive posted later; a send
 *     above max_msg_size (the eager size) is -FI_EMSGSIZE.
 * Against sockets (its MSG endpoints) the MSG part passes: it checks
 * libfabric's semantics, not ours.
 *
 * Usage: msg_ep [-p PROV] [-n NODE] [-s SERVICE]
 * (default node 127.0.0.1, service 9328 plus twice the pid modulo 500).
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rdma/fi_ext_fpgadma.h>

#define BIG	(1024 * 1024)
#define SMALL	64
#define RMA_LEN	(256 * 1024)

static const char *node = "127.0.0.1";
static char service[16], dservice[16];
static bool fpgadma;

static const char req_data[] = "client: may I connect?";
static const char rej_data[] = "server: not this time";
static const char acc_data[] = "server: welcome";

struct conn {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_eq *eq;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_ep *ep;
	struct fid_av *av;		/* DGRAM */
	struct fid_mr *mr;
	uint8_t *buf;			/* 2 * BIG + RMA_LEN, registered */
	fi_addr_t peer;
};

static int opt(int c, const char *arg)
{
	switch (c) {
	case 'n':
		node = arg;
		return 0;
	case 's':
		snprintf(service, sizeof(service), "%s", arg);
		return 0;
	}
	return -1;
}

static struct fi_info *getinfo(enum fi_ep_type type, const char *svc,
			       uint64_t flags)
{
	struct fi_info *h = ft_hints(type == FI_EP_MSG ? FI_MSG | FI_RMA : FI_MSG,
				     FI_MR_LOCAL | FI_MR_VIRT_ADDR |
				     FI_MR_ALLOCATED | FI_MR_PROV_KEY);
	struct fi_info *info = NULL;

	h->ep_attr->type = type;
	h->mode = FI_CONTEXT | FI_CONTEXT2;
	FT_CALL(fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), node,
			   svc, flags, h, &info));
	fi_freeinfo(h);
	return info;
}

static void open_eq(struct conn *c)
{
	struct fi_eq_attr attr = { .size = 16, .wait_obj = FI_WAIT_UNSPEC };

	FT_CALL(fi_eq_open(c->fabric, &attr, &c->eq, NULL));
}

static void *desc(struct conn *c)
{
	return fi_mr_desc(c->mr);
}

/* Domain, CQ, endpoint (bound, enabled) and the registered buffer. */
static void open_active(struct conn *c, struct fi_info *info)
{
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_DATA, .size = 64,
				      .wait_obj = FI_WAIT_NONE };

	if (!c->domain) {
		FT_CALL(fi_domain(c->fabric, info, &c->domain, NULL));
		c->buf = ft_xmalloc(2 * BIG + RMA_LEN);
		memset(c->buf, 0, 2 * BIG + RMA_LEN);
		FT_CALL(fi_mr_reg(c->domain, c->buf, 2 * BIG + RMA_LEN,
				  FI_SEND | FI_RECV | FI_READ | FI_WRITE |
				  FI_REMOTE_READ | FI_REMOTE_WRITE, 0,
				  ft_next_key(), 0, &c->mr, NULL));
	}
	FT_CALL(fi_cq_open(c->domain, &cq_attr, &c->cq, NULL));
	FT_CALL(fi_endpoint(c->domain, info, &c->ep, NULL));
	if (info->ep_attr->type == FI_EP_MSG) {
		FT_CALL(fi_ep_bind(c->ep, &c->eq->fid, 0));
	} else {
		struct fi_av_attr av_attr = { .type = FI_AV_UNSPEC, .count = 4 };

		FT_CALL(fi_av_open(c->domain, &av_attr, &c->av, NULL));
		FT_CALL(fi_ep_bind(c->ep, &c->av->fid, 0));
	}
	FT_CALL(fi_ep_bind(c->ep, &c->cq->fid, FI_TRANSMIT | FI_RECV));
	FT_CALL(fi_enable(c->ep));
	c->peer = FI_ADDR_UNSPEC;
}

static void close_active(struct conn *c)
{
	ft_close_fid(&c->ep->fid, "endpoint");
	c->ep = NULL;
	ft_close_fid(&c->cq->fid, "CQ");
	c->cq = NULL;
	if (c->av) {
		ft_close_fid(&c->av->fid, "AV");
		c->av = NULL;
	}
}

static void close_all(struct conn *c)
{
	if (c->ep)
		close_active(c);
	if (c->mr)
		ft_close_fid(&c->mr->fid, "MR");
	if (c->domain)
		ft_close_fid(&c->domain->fid, "domain");
	if (c->eq)
		ft_close_fid(&c->eq->fid, "EQ");
	ft_close_fid(&c->fabric->fid, "fabric");
	fi_freeinfo(c->info);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

/* One completion within the time limit; stop on an error. */
static void wait_comp(struct conn *c, struct fi_context2 *ctx, const char *what,
		      struct fi_cq_data_entry *out)
{
	uint64_t end = ft_now_us() + (uint64_t)ft_opts.timeout_ms * 1000;
	struct fi_cq_data_entry e;
	ssize_t n;

	for (;;) {
		n = fi_cq_read(c->cq, &e, 1);
		if (n == 1) {
			if (ctx && e.op_context != ctx)
				ft_fatal("%s: completion of another operation", what);
			if (out)
				*out = e;
			return;
		}
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = { 0 };

			fi_cq_readerr(c->cq, &err, 0);
			ft_fatal("%s: error completion %d (%s): %s", what, err.err,
				 fi_strerror(err.err),
				 fi_cq_strerror(c->cq, err.prov_errno, err.err_data, NULL, 0));
		}
		if (n != -FI_EAGAIN)
			ft_fatal("%s: fi_cq_read: %zd (%s)", what, n, fi_strerror((int)-n));
		if (ft_now_us() > end)
			ft_fatal("%s: no completion in %u ms", what, ft_opts.timeout_ms);
	}
}

static void do_send(struct conn *c, const void *buf, size_t len, const char *what)
{
	struct fi_context2 ctx;

	FT_POST(fi_send(c->ep, buf, len, desc(c), c->peer, &ctx));
	wait_comp(c, &ctx, what, NULL);
}

/* An event of the EQ within the time limit: its type, or -err of an error event. */
static int wait_event(struct conn *c, struct fi_eq_cm_entry *entry, size_t len,
		      struct fi_eq_err_entry *err, const char *what)
{
	uint32_t event;
	ssize_t n;

	n = fi_eq_sread(c->eq, &event, entry, len, (int)ft_opts.timeout_ms, 0);
	if (n == -FI_EAVAIL) {
		memset(err, 0, sizeof(*err));
		n = fi_eq_readerr(c->eq, err, 0);
		if (n != sizeof(*err))
			ft_fatal("%s: fi_eq_readerr: %zd", what, n);
		return -err->err;
	}
	if (n < 0)
		ft_fatal("%s: fi_eq_sread: %zd (%s)", what, n, fi_strerror((int)-n));
	if ((size_t)n < sizeof(*entry))
		ft_fatal("%s: event %u of %zd bytes", what, event, n);
	return (int)event;
}

static size_t cm_entry_len(void)
{
	return sizeof(struct fi_eq_cm_entry) + 256;
}

/* ---- MSG: the server ---- */

static struct fi_info *server_connreq(struct conn *s, struct fid_pep *pep)
{
	struct fi_eq_cm_entry *entry = ft_xmalloc(cm_entry_len());
	struct fi_eq_err_entry err;
	struct fi_info *info;
	int ev;

	ev = wait_event(s, entry, cm_entry_len(), &err, "server: FI_CONNREQ");
	if (ev != FI_CONNREQ)
		ft_fatal("server: event %d, expected FI_CONNREQ", ev);
	ft_check(entry->fid == &pep->fid, "server: FI_CONNREQ of another fid");
	ft_check(!memcmp(entry->data, req_data, sizeof(req_data)),
		 "server: the connection request's data differs");
	info = entry->info;
	ft_check(info && info->handle, "server: FI_CONNREQ without info or handle");
	free(entry);
	return info;
}

static void server_msg(int ready_fd)
{
	struct fi_eq_cm_entry *entry = ft_xmalloc(cm_entry_len());
	struct fi_context2 rctx[2];
	struct fi_cq_data_entry e;
	struct fi_eq_err_entry err;
	struct fid_pep *pep;
	struct fi_info *info;
	struct conn s = { 0 };
	uint64_t rma[2];
	int ev;

	s.info = getinfo(FI_EP_MSG, service, FI_SOURCE);
	FT_CALL(fi_fabric(s.info->fabric_attr, &s.fabric, NULL));
	open_eq(&s);
	FT_CALL(fi_passive_ep(s.fabric, s.info, &pep, NULL));
	FT_CALL(fi_pep_bind(pep, &s.eq->fid, 0));
	FT_CALL(fi_listen(pep));
	if (ready_fd >= 0) {
		if (write(ready_fd, "L", 1) != 1)
			ft_fatal("telling the client: %s", strerror(errno));
		close(ready_fd);
	}

	/* 1: reject with data */
	info = server_connreq(&s, pep);
	FT_CALL(fi_reject(pep, info->handle, rej_data, sizeof(rej_data)));
	fi_freeinfo(info);

	/* 2: accept with data */
	info = server_connreq(&s, pep);
	open_active(&s, info);
	FT_CALL(fi_recv(s.ep, s.buf, BIG, desc(&s), FI_ADDR_UNSPEC, &rctx[0]));
	FT_CALL(fi_recv(s.ep, s.buf + BIG, BIG, desc(&s), FI_ADDR_UNSPEC, &rctx[1]));
	FT_CALL(fi_accept(s.ep, acc_data, sizeof(acc_data)));
	ev = wait_event(&s, entry, cm_entry_len(), &err, "server: FI_CONNECTED");
	if (ev != FI_CONNECTED || entry->fid != &s.ep->fid)
		ft_fatal("server: event %d (%s), expected FI_CONNECTED of the endpoint", ev,
			 ev < 0 ? fi_strerror(-ev) : "");
	fi_freeinfo(info);

	/* 3: messages */
	wait_comp(&s, &rctx[0], "server: small message", &e);
	ft_check(e.len == SMALL && ft_verify(s.buf, SMALL, 1, 0) == SMALL,
		 "server: small message wrong (%zu bytes)", e.len);
	wait_comp(&s, &rctx[1], "server: large message", &e);
	ft_check(e.len == BIG && ft_verify(s.buf + BIG, BIG, 2, 0) == BIG,
		 "server: large message wrong (%zu bytes)", e.len);
	ft_fill(s.buf, SMALL, 3, 0);
	ft_fill(s.buf + BIG, BIG, 4, 0);
	FT_CALL(fi_recv(s.ep, s.buf + 2 * BIG, 16, desc(&s), FI_ADDR_UNSPEC, &rctx[0]));
	do_send(&s, s.buf, SMALL, "server: small reply");
	do_send(&s, s.buf + BIG, BIG, "server: large reply");
	/* where the client writes and reads: after the "done" slot */
	ft_fill(s.buf + 2 * BIG + 64, RMA_LEN - 64, 5, 0);
	rma[0] = (s.info->domain_attr->mr_mode & FI_MR_VIRT_ADDR) ?
		 (uint64_t)(uintptr_t)(s.buf + 2 * BIG + 64) : 2 * BIG + 64;
	rma[1] = fi_mr_key(s.mr);
	memcpy(s.buf, rma, sizeof(rma));
	do_send(&s, s.buf, sizeof(rma), "server: RMA address and key");
	wait_comp(&s, &rctx[0], "server: the client's RMA done", NULL);
	ft_check(ft_verify(s.buf + 2 * BIG + 64, RMA_LEN - 64, 6, 0) == RMA_LEN - 64,
		 "server: what fi_write put there is wrong");

	/* 4: the client shuts down */
	ev = wait_event(&s, entry, cm_entry_len(), &err, "server: FI_SHUTDOWN");
	ft_check(ev == FI_SHUTDOWN && entry->fid == &s.ep->fid,
		 "server: event %d, expected FI_SHUTDOWN of the endpoint", ev);
	ft_close_fid(&pep->fid, "passive endpoint");
	close_all(&s);
	free(entry);
}

/* ---- MSG: the client ---- */

/*
 * fpgadma: both sides waited in fi_eq_sread for their connection and have
 * polled their CQs since, so neither domain is marked asleep and the
 * client's last message, with nothing of its own in the kernel, went
 * through a channel (fi_fpgadma(7), "Messages through channels").
 */
static void check_channels(struct conn *c)
{
	struct fi_fpgadma_ops_domain *ops;
	struct fi_fpgadma_chan_stats st;

	FT_CALL(fi_open_ops(&c->domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL));
	if (ops->size < FI_FPGADMA_OPS_DOMAIN_HAS(chan_stats))
		ft_fatal("the provider's domain ops have no chan_stats");
	FT_CALL(ops->chan_stats(c->domain, &st));
	if (!st.inbox) {
		ft_log("MSG: no channels (the device has none, or FI_FPGADMA_CHAN=0)");
		return;
	}
	ft_check(!st.sleepy, "client: its domain is marked asleep after fi_eq_sread");
	ft_check(st.sent >= 1, "client: no message went through a channel (%" PRIu64
		 " sent, %" PRIu64 " received): does the server's slot say it sleeps?",
		 st.sent, st.received);
	ft_log("MSG: through channels after fi_eq_sread: the client sent %" PRIu64
	       " and received %" PRIu64, st.sent, st.received);
}

static void client_msg(void)
{
	struct fi_eq_cm_entry *entry = ft_xmalloc(cm_entry_len());
	struct fi_context2 rctx[3], ctx;
	struct fi_cq_data_entry e;
	struct fi_eq_err_entry err;
	struct conn c = { 0 };
	char big_data[512];
	size_t cm_size = 0, optlen = sizeof(cm_size);
	uint64_t rma[2];
	ssize_t ret;
	int ev;

	c.info = getinfo(FI_EP_MSG, service, 0);
	if (!c.info->dest_addr)
		ft_fatal("fi_getinfo(%s, %s) gave no dest_addr", node, service);
	FT_CALL(fi_fabric(c.info->fabric_attr, &c.fabric, NULL));
	open_eq(&c);
	open_active(&c, c.info);

	/* 1: refused, with the reject's data */
	if (!fi_getopt(&c.ep->fid, FI_OPT_ENDPOINT, FI_OPT_CM_DATA_SIZE, &cm_size,
		       &optlen) && cm_size < sizeof(big_data)) {
		memset(big_data, 'x', sizeof(big_data));
		ret = fi_connect(c.ep, c.info->dest_addr, big_data, cm_size + 1);
		ft_check(ret == -FI_EINVAL, "fi_connect with %zu bytes of CM data: %zd, "
			 "expected -FI_EINVAL", cm_size + 1, ret);
	}
	if (fpgadma) {
		ret = fi_send(c.ep, c.buf, SMALL, desc(&c), 0, &ctx);
		ft_check(ret == -FI_EOPBADSTATE, "a send before fi_connect: %zd (%s)", ret,
			 fi_strerror((int)-ret));
	}
	FT_CALL(fi_connect(c.ep, c.info->dest_addr, req_data, sizeof(req_data)));
	ev = wait_event(&c, entry, cm_entry_len(), &err, "client: the reject");
	ft_check(ev == -FI_ECONNREFUSED, "client: event %d, expected FI_ECONNREFUSED", ev);
	if (ev == -FI_ECONNREFUSED)
		ft_check(err.err_data && err.err_data_size == sizeof(rej_data) &&
			 !memcmp(err.err_data, rej_data, sizeof(rej_data)),
			 "client: the reject's data is missing or wrong (%zu bytes)",
			 err.err_data_size);
	close_active(&c);
	ft_log("connection refused with %zu bytes of CM data, as sent", sizeof(rej_data));

	/* 2: accepted */
	open_active(&c, c.info);
	FT_CALL(fi_recv(c.ep, c.buf, BIG, desc(&c), FI_ADDR_UNSPEC, &rctx[0]));
	FT_CALL(fi_recv(c.ep, c.buf + BIG, BIG, desc(&c), FI_ADDR_UNSPEC, &rctx[1]));
	FT_CALL(fi_recv(c.ep, c.buf + 2 * BIG, 64, desc(&c), FI_ADDR_UNSPEC, &rctx[2]));
	FT_CALL(fi_connect(c.ep, c.info->dest_addr, req_data, sizeof(req_data)));
	memset(entry, 0, cm_entry_len());
	ev = wait_event(&c, entry, cm_entry_len(), &err, "client: FI_CONNECTED");
	if (ev != FI_CONNECTED || entry->fid != &c.ep->fid)
		ft_fatal("client: event %d (%s), expected FI_CONNECTED of the endpoint", ev,
			 ev < 0 ? fi_strerror(-ev) : "");
	ft_check(!memcmp(entry->data, acc_data, sizeof(acc_data)),
		 "client: the accept's data differs");

	/* 3: messages, then RMA on the connected peer */
	ft_fill(c.buf + 2 * BIG + 64, SMALL, 1, 0);
	do_send(&c, c.buf + 2 * BIG + 64, SMALL, "client: small message");
	ft_fill(c.buf + BIG / 2, BIG, 2, 0);	/* from the middle: not a receive */
	do_send(&c, c.buf + BIG / 2, BIG, "client: large message");
	wait_comp(&c, &rctx[0], "client: small reply", &e);
	ft_check(e.len == SMALL && ft_verify(c.buf, SMALL, 3, 0) == SMALL,
		 "client: small reply wrong");
	wait_comp(&c, &rctx[1], "client: large reply", &e);
	ft_check(e.len == BIG && ft_verify(c.buf + BIG, BIG, 4, 0) == BIG,
		 "client: large reply wrong");
	wait_comp(&c, &rctx[2], "client: RMA address and key", &e);
	memcpy(rma, c.buf + 2 * BIG, sizeof(rma));
	ft_fill(c.buf, RMA_LEN - 64, 6, 0);
	FT_POST(fi_write(c.ep, c.buf, RMA_LEN - 64, desc(&c), 0, rma[0], rma[1], &ctx));
	wait_comp(&c, &ctx, "client: fi_write", NULL);
	memset(c.buf + BIG, 0, RMA_LEN);
	FT_POST(fi_read(c.ep, c.buf + BIG, RMA_LEN - 64, desc(&c), 0, rma[0], rma[1], &ctx));
	wait_comp(&c, &ctx, "client: fi_read", NULL);
	ft_check(ft_verify(c.buf + BIG, RMA_LEN - 64, 6, 0) == RMA_LEN - 64,
		 "client: fi_read gave other bytes than fi_write wrote");
	do_send(&c, "done", 4, "client: RMA done");
	if (fpgadma)
		check_channels(&c);

	/* 4 */
	FT_CALL(fi_shutdown(c.ep, 0));
	if (fpgadma) {
		ret = fi_send(c.ep, c.buf, SMALL, desc(&c), 0, &ctx);
		ft_check(ret == -FI_EOPBADSTATE, "a send after fi_shutdown: %zd (%s)", ret,
			 fi_strerror((int)-ret));
		/* its own FI_SHUTDOWN, as tcp and verbs write (fi_cm_data waits for it) */
		ev = wait_event(&c, entry, cm_entry_len(), &err, "client: its FI_SHUTDOWN");
		ft_check(ev == FI_SHUTDOWN && entry->fid == &c.ep->fid,
			 "client: event %d after fi_shutdown, expected FI_SHUTDOWN", ev);
	}
	close_all(&c);
	free(entry);
	ft_log("MSG: connect/accept with CM data both ways, 64 B and 1 MiB each way, "
	       "fi_write/fi_read of %d bytes, shutdown", RMA_LEN - 64);
}

/* ---- DGRAM ---- */

/* fpgadma: the datagrams the endpoint dropped (extension); -1 elsewhere. */
static long dgram_dropped(struct conn *c)
{
	struct fi_fpgadma_ops_domain *ops;
	struct fi_fpgadma_ep_stats st;

	if (!fpgadma || fi_open_ops(&c->domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0,
				    (void **)&ops, NULL) ||
	    ops->size < FI_FPGADMA_OPS_DOMAIN_HAS(ep_stats) ||
	    ops->ep_stats(c->domain, c->ep, &st))
		return -1;
	return (long)st.dgram_dropped;
}

static void server_dgram(void)
{
	struct fi_context2 rctx;
	struct fi_cq_data_entry e;
	struct conn s = { 0 };
	uint64_t end;
	long dropped = -1;

	s.info = getinfo(FI_EP_DGRAM, dservice, FI_SOURCE);
	FT_CALL(fi_fabric(s.info->fabric_attr, &s.fabric, NULL));
	open_active(&s, s.info);
	FT_CALL(fi_recv(s.ep, s.buf, 256, desc(&s), FI_ADDR_UNSPEC, &rctx));
	wait_comp(&s, &rctx, "dgram server: the client's name", &e);
	if (fi_av_insert(s.av, s.buf, 1, &s.peer, 0, NULL) != 1)
		ft_fatal("dgram server: fi_av_insert of the client's name failed");
	/* no receive posted now: the next datagram must be dropped */
	memcpy(s.buf + BIG, "ack1", 4);
	do_send(&s, s.buf + BIG, 4, "dgram server: ack1");
	end = ft_now_us() + (uint64_t)ft_opts.timeout_ms * 1000;
	if (fpgadma) {
		while ((dropped = dgram_dropped(&s)) < 1 && ft_now_us() < end)
			fi_cq_read(s.cq, NULL, 0);
		ft_check(dropped == 1, "dgram server: %ld datagrams counted dropped, "
			 "expected 1", dropped);
	} else {
		while (ft_now_us() < end - (uint64_t)ft_opts.timeout_ms * 900)
			fi_cq_read(s.cq, NULL, 0);
	}
	memset(s.buf, 0, 256);
	FT_CALL(fi_recv(s.ep, s.buf, 256, desc(&s), FI_ADDR_UNSPEC, &rctx));
	memcpy(s.buf + BIG, "ack2", 4);
	do_send(&s, s.buf + BIG, 4, "dgram server: ack2");
	wait_comp(&s, &rctx, "dgram server: keep-me", &e);
	ft_check(e.len == 7 && !memcmp(s.buf, "keep-me", 7),
		 "dgram server: the receive got \"%.*s\", not keep-me", (int)FT_MIN(e.len, 16),
		 (char *)s.buf);
	close_all(&s);
	ft_log("DGRAM server: the datagram sent with no receive posted was dropped%s",
	       dropped >= 0 ? " and counted" : "");
}

static void client_dgram(void)
{
	struct fi_context2 rctx, ctx;
	struct conn c = { 0 };
	char name[64];
	size_t len = sizeof(name);
	ssize_t ret;

	c.info = getinfo(FI_EP_DGRAM, dservice, 0);
	if (!c.info->dest_addr)
		ft_fatal("dgram: fi_getinfo(%s, %s) gave no dest_addr", node, dservice);
	FT_CALL(fi_fabric(c.info->fabric_attr, &c.fabric, NULL));
	open_active(&c, c.info);
	if (fi_av_insert(c.av, c.info->dest_addr, 1, &c.peer, 0, NULL) != 1)
		ft_fatal("dgram: fi_av_insert of the server's address failed");
	/* a bound the buffer can show (fpgadma: the eager size) */
	if (c.info->ep_attr->max_msg_size < 2 * BIG) {
		ret = fi_send(c.ep, c.buf, c.info->ep_attr->max_msg_size + 1, desc(&c),
			      c.peer, &ctx);
		ft_check(ret == -FI_EMSGSIZE,
			 "dgram: a send of max_msg_size + 1 (%zu): %zd (%s)",
			 c.info->ep_attr->max_msg_size + 1, ret, fi_strerror((int)-ret));
	}
	FT_CALL(fi_recv(c.ep, c.buf + BIG, 64, desc(&c), FI_ADDR_UNSPEC, &rctx));
	FT_CALL(fi_getname(&c.ep->fid, name, &len));
	memcpy(c.buf, name, len);
	do_send(&c, c.buf, len, "dgram client: its name");
	wait_comp(&c, &rctx, "dgram client: ack1", NULL);
	FT_CALL(fi_recv(c.ep, c.buf + BIG, 64, desc(&c), FI_ADDR_UNSPEC, &rctx));
	memcpy(c.buf, "drop-me", 7);
	do_send(&c, c.buf, 7, "dgram client: drop-me");
	wait_comp(&c, &rctx, "dgram client: ack2", NULL);
	memcpy(c.buf, "keep-me", 7);
	do_send(&c, c.buf, 7, "dgram client: keep-me");
	close_all(&c);
}

int main(int argc, char **argv)
{
	int fds[2] = { -1, -1 }, st;
	pid_t pid;
	char ch;

	snprintf(service, sizeof(service), "%d", 9328 + 2 * (getpid() % 500));
	ft_parse(argc, argv, "n:s:", "[-n NODE] [-s SERVICE]", opt);
	snprintf(dservice, sizeof(dservice), "%d", atoi(service) + 1);
	fpgadma = ft_opts.prov && !strcmp(ft_opts.prov, "fpgadma");
	ft_log("node %s, services %s (MSG) and %s (DGRAM), provider %s", node, service,
	       dservice, ft_opts.prov ? ft_opts.prov : "any");
	if (pipe(fds))
		ft_fatal("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		server_msg(fds[1]);
		if (fpgadma)
			server_dgram();
		exit(ft_failures() ? FT_FAIL : FT_PASS);
	}
	close(fds[1]);
	if (read(fds[0], &ch, 1) != 1)
		ft_fatal("the server ended before listening");
	close(fds[0]);
	client_msg();
	if (fpgadma) {
		/* the server binds the DGRAM service after the MSG part (the
		 * provider resends until it has) */
		client_dgram();
	} else {
		ft_log("DGRAM part left out: whether a datagram without a posted "
		       "receive is dropped is up to the provider");
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		ft_error("the server failed (status 0x%x)", st);
	return ft_finish("MSG and DGRAM endpoints at %s:%s/%s", node, service, dservice);
}
