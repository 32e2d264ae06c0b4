// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rdm_events: poll sets and remote RMA counters (FI_RMA_EVENT) between two
 * RDM endpoints in two domains of one process, against any provider.
 *
 *   caps       FI_RMA_EVENT is given when asked for (and, on fpgadma,
 *              only then: it costs a message per RMA there)
 *   rma-event  the target's counters bound with FI_REMOTE_WRITE and
 *              FI_REMOTE_READ count exactly the initiator's fi_write and
 *              fi_read (and fi_writedata), each RMA's data in place; its
 *              receive counter counts its messages only; a counter bound
 *              to the target MR (fi_mr_bind, FI_REMOTE_WRITE) counts the
 *              writes to that MR
 *   poll       a poll set of the target's CQ and counters: fi_poll
 *              returns the context of the CQ while it holds completions
 *              and of a counter once per change, nothing when nothing
 *              changed, fi_cntr_add a new baseline (fi_poll(3)); on
 *              fpgadma also: adding a member twice, removing a stranger,
 *              unknown flags and closing a member CQ are refused (libfabric's
 *              util poll sets of tcp and sockets take the first three)
 * A group the provider cannot do (no FI_RMA_EVENT, no poll sets) is
 * skipped, saying so; the program skips when neither runs.
 */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NWRITE	7
#define NREAD	5
#define LEN	4096

static int groups_run, groups_skipped;

/* The target: an endpoint with its CQ and the counters of fi_cntr(3). */
struct target {
	struct ft_dom *d;
	struct fid_ep *ep;
	struct fid_cq *cq;
	struct fid_cntr *rwrite, *rread, *recv;
	uint8_t name[256];
	size_t namelen;
	int cq_ctx, rwrite_ctx, rread_ctx, recv_ctx;	/* their contexts */
};

static struct target *the_target;

/* Progress for both sides without taking the target's completions. */
static void progress(void)
{
	ft_progress();
	if (the_target)
		(void)fi_cntr_read(the_target->recv);
}

static void target_open(struct ft_dom *d, struct target *t)
{
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_TAGGED,
		.wait_obj = FI_WAIT_NONE,
	};
	struct fi_cntr_attr cntr_attr = {
		.events = FI_CNTR_EVENTS_COMP,
		.wait_obj = FI_WAIT_UNSPEC,
	};

	t->d = d;
	FT_CALL(fi_cq_open(d->domain, &cq_attr, &t->cq, &t->cq_ctx));
	FT_CALL(fi_cntr_open(d->domain, &cntr_attr, &t->rwrite, &t->rwrite_ctx));
	FT_CALL(fi_cntr_open(d->domain, &cntr_attr, &t->rread, &t->rread_ctx));
	FT_CALL(fi_cntr_open(d->domain, &cntr_attr, &t->recv, &t->recv_ctx));
	FT_CALL(fi_endpoint(d->domain, d->info, &t->ep, NULL));
	FT_CALL(fi_ep_bind(t->ep, &d->av->fid, 0));
	FT_CALL(fi_ep_bind(t->ep, &t->cq->fid, FI_TRANSMIT | FI_RECV));
	FT_CALL(fi_ep_bind(t->ep, &t->rwrite->fid, FI_REMOTE_WRITE));
	FT_CALL(fi_ep_bind(t->ep, &t->rread->fid, FI_REMOTE_READ));
	FT_CALL(fi_ep_bind(t->ep, &t->recv->fid, FI_RECV));
	FT_CALL(fi_enable(t->ep));
	t->namelen = sizeof(t->name);
	FT_CALL(fi_getname(&t->ep->fid, t->name, &t->namelen));
	the_target = t;
}

static void target_close(struct target *t)
{
	the_target = NULL;
	ft_close_fid(&t->ep->fid, "target endpoint");
	ft_close_fid(&t->recv->fid, "recv counter");
	ft_close_fid(&t->rread->fid, "remote read counter");
	ft_close_fid(&t->rwrite->fid, "remote write counter");
	ft_close_fid(&t->cq->fid, "target cq");
}

/* FT_POST with progress on both sides (a connection may need the target's). */
#define POST(call) \
	do { \
		uint64_t t0_ = ft_now_us(); \
		ssize_t r_; \
		while ((r_ = (call)) == -FI_EAGAIN) { \
			if (ft_now_us() - t0_ > ft_opts.timeout_ms * 1000ULL) \
				ft_fatal("%s: -FI_EAGAIN for %u ms", #call, ft_opts.timeout_ms); \
			progress(); \
		} \
		if (r_) \
			ft_fatal("%s: %s", #call, ft_strerr(r_)); \
	} while (0)

/* Read the counter (which runs the target's progress) until it is want. */
static bool cntr_reaches(struct fid_cntr *c, uint64_t want, const char *what)
{
	uint64_t t0 = ft_now_us(), v;

	while ((v = fi_cntr_read(c)) < want) {
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			break;
		progress();
	}
	ft_check(v == want, "%s: %" PRIu64 ", expected %" PRIu64, what, v, want);
	return v == want;
}

struct world {
	struct ft_dom d0, d1;
	struct ft_ep init;	/* the initiator, in d0 */
	struct target t;	/* in d1 */
	fi_addr_t to_target, to_init;
	uint8_t *tbuf, *lbuf;
	struct fid_mr *tmr, *lmr;
	uint64_t tkey, tbase;
	void *ldesc;
};

static int world_open(struct world *w, uint64_t caps, const char **why)
{
	struct fi_info *hints = ft_hints(caps, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
					 FI_MR_ALLOCATED | FI_MR_PROV_KEY);
	int ret;

	memset(w, 0, sizeof(*w));
	ret = ft_open_dom(hints, &w->d0, why);
	if (ret)
		return ret;
	ft_open_dom_like(&w->d0, &w->d1);
	ft_open_ep(&w->d0, &w->init, "initiator");
	target_open(&w->d1, &w->t);
	w->to_target = ft_av_insert(&w->d0, w->t.name);
	w->to_init = ft_av_insert(&w->d1, w->init.name);

	w->tbuf = ft_xmalloc(LEN);
	w->lbuf = ft_xmalloc(LEN);
	ret = ft_mr_reg(&w->d1, NULL, w->tbuf, LEN, FI_REMOTE_READ | FI_REMOTE_WRITE,
			ft_next_key(), &w->tmr);
	if (ret)
		ft_fatal("fi_mr_reg of the target: %s", ft_strerr(ret));
	w->tkey = fi_mr_key(w->tmr);
	w->tbase = ft_rma_base(&w->d1, w->tbuf);
	if (ft_need_desc(&w->d0)) {
		ret = ft_mr_reg(&w->d0, NULL, w->lbuf, LEN, FI_READ | FI_WRITE | FI_SEND,
				ft_next_key(), &w->lmr);
		if (ret)
			ft_fatal("fi_mr_reg of the local buffer: %s", ft_strerr(ret));
		w->ldesc = fi_mr_desc(w->lmr);
	}
	return 0;
}

static void world_close(struct world *w)
{
	if (w->lmr)
		ft_close_fid(&w->lmr->fid, "local mr");
	if (w->tmr)
		ft_close_fid(&w->tmr->fid, "target mr");
	target_close(&w->t);
	ft_close_ep(&w->init);
	ft_close_dom(&w->d1);
	ft_close_dom(&w->d0);
	free(w->tbuf);
	free(w->lbuf);
}

static void do_write(struct world *w, size_t off, uint64_t seed, bool data)
{
	struct ft_op op = { .what = data ? "fi_writedata" : "fi_write" };
	struct ft_comp c;

	ft_fill(w->lbuf, 256, seed, 0);
	if (data)
		POST(fi_writedata(w->init.ep, w->lbuf, 256, w->ldesc, 0x5eed,
				     w->to_target, w->tbase + off, w->tkey, &op));
	else
		POST(fi_write(w->init.ep, w->lbuf, 256, w->ldesc, w->to_target,
				 w->tbase + off, w->tkey, &op));
	ft_wait_op(&w->init.cq, &op, &c);
}

static void do_read(struct world *w, size_t off, uint64_t seed)
{
	struct ft_op op = { .what = "fi_read" };
	struct ft_comp c;

	ft_fill(w->tbuf + off, 256, seed, 0);
	POST(fi_read(w->init.ep, w->lbuf, 256, w->ldesc, w->to_target,
			w->tbase + off, w->tkey, &op));
	ft_wait_op(&w->init.cq, &op, &c);
	ft_expect_pattern(w->lbuf, 256, seed, 0, "fi_read's data");
}

static void test_caps(void)
{
	struct fi_info *hints = ft_hints(FI_RMA | FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
					 FI_MR_ALLOCATED | FI_MR_PROV_KEY);
	struct fi_info *info = NULL;
	int ret;

	ret = fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), NULL, NULL, 0,
			 hints, &info);
	fi_freeinfo(hints);
	if (ret) {
		ft_log("caps: fi_getinfo: %s", ft_strerr(ret));
		return;
	}
	if (!strcmp(info->fabric_attr->prov_name, "fpgadma"))
		ft_check(!(info->caps & FI_RMA_EVENT),
			 "fpgadma gave FI_RMA_EVENT unasked (it costs a message per RMA)");
	fi_freeinfo(info);
}

static void test_rma_event(void)
{
	struct world w;
	const char *why = NULL;
	struct ft_op rop = { .what = "fi_recv" }, sop = { .what = "fi_send" };
	struct fi_cq_tagged_entry e;
	struct fid_cntr *mrcntr = NULL;
	uint64_t t0;
	ssize_t n = 0;
	int i, ret;

	if (world_open(&w, FI_RMA | FI_MSG | FI_RMA_EVENT, &why)) {
		ft_log("SKIP group rma-event: %s for FI_RMA_EVENT", why);
		groups_skipped++;
		return;
	}
	ft_check(w.d1.info->caps & FI_RMA_EVENT, "FI_RMA_EVENT asked, not given");
	{
		/* fi_mr(3): FI_RMA_EVENT may be passed to any registration */
		struct fid_mr *m2 = NULL;

		ret = fi_mr_reg(w.d1.domain, w.tbuf + 2048, 64, FI_REMOTE_WRITE, 0,
				ft_next_key(), FI_RMA_EVENT, &m2, NULL);
		ft_check(ret == 0, "fi_mr_reg with the FI_RMA_EVENT flag: %s", ft_strerr(ret));
		if (!ret)
			ft_close_fid(&m2->fid, "FI_RMA_EVENT mr");
	}
	{
		struct fi_cntr_attr ca = { .events = FI_CNTR_EVENTS_COMP };

		FT_CALL(fi_cntr_open(w.d1.domain, &ca, &mrcntr, NULL));
		ret = fi_mr_bind(w.tmr, &mrcntr->fid, FI_REMOTE_WRITE);
		if (ret == 0 && (w.d1.info->domain_attr->mr_mode & FI_MR_RMA_EVENT))
			ret = fi_mr_enable(w.tmr);
		if (ret) {
			ft_log("counter bound to an MR: fi_mr_bind: %s (not checked)",
			       ft_strerr(ret));
			ft_close_fid(&mrcntr->fid, "MR counter");
			mrcntr = NULL;
		}
	}
	for (i = 0; i < NWRITE; i++) {
		do_write(&w, (size_t)i * 300, 100 + (uint64_t)i, false);
		cntr_reaches(w.t.rwrite, (uint64_t)i + 1, "remote write counter");
		ft_expect_pattern(w.tbuf + i * 300, 256, 100 + (uint64_t)i, 0,
				  "the target's bytes after fi_write");
	}
	do_write(&w, 3000, 77, true);
	cntr_reaches(w.t.rwrite, NWRITE + 1, "remote write counter after fi_writedata");
	/* fi_writedata's completion at the target */
	t0 = ft_now_us();
	while ((n = fi_cq_read(w.t.cq, &e, 1)) == -FI_EAGAIN &&
	       ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL)
		progress();
	ft_check(n == 1 && (e.flags & FI_REMOTE_CQ_DATA) && e.data == 0x5eed,
		 "fi_writedata: no remote CQ data completion at the target (%zd)", n);
	for (i = 0; i < NREAD; i++) {
		do_read(&w, (size_t)i * 300, 200 + (uint64_t)i);
		cntr_reaches(w.t.rread, (uint64_t)i + 1, "remote read counter");
	}
	ft_check(fi_cntr_read(w.t.rwrite) == NWRITE + 1,
		 "reads changed the remote write counter");
	ft_check(fi_cntr_readerr(w.t.rwrite) == 0 && fi_cntr_readerr(w.t.rread) == 0,
		 "remote counters have errors");
	ft_check(fi_cntr_read(w.t.recv) == 0, "RMA counted as receives");
	if (mrcntr)
		ft_check(fi_cntr_read(mrcntr) == NWRITE + 1,
			 "the MR's counter: %" PRIu64 ", expected %d writes",
			 fi_cntr_read(mrcntr), NWRITE + 1);

	/* a message counts on the receive counter only */
	POST(fi_recv(w.t.ep, w.tbuf, 64, NULL, FI_ADDR_UNSPEC, &rop));
	ft_fill(w.lbuf, 64, 9, 0);
	POST(fi_send(w.init.ep, w.lbuf, 64, w.ldesc, w.to_target, &sop));
	ft_wait_op(&w.init.cq, &sop, NULL);
	cntr_reaches(w.t.recv, 1, "receive counter");
	ft_check(fi_cntr_read(w.t.rwrite) == NWRITE + 1 && fi_cntr_read(w.t.rread) == NREAD,
		 "a message changed the remote RMA counters");
	while (fi_cq_read(w.t.cq, &e, 1) == -FI_EAGAIN &&
	       ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL)
		;
	ft_close_fid(&w.tmr->fid, "target mr");	/* before its counter */
	w.tmr = NULL;
	if (mrcntr)
		ft_close_fid(&mrcntr->fid, "MR counter");
	world_close(&w);
	groups_run++;
	ft_log("rma-event: %d writes, 1 writedata, %d reads counted at the target",
	       NWRITE, NREAD);
}

/* fi_poll until it returns something or the time is up; the contexts in ctx. */
static int poll_some(struct fid_poll *ps, void **ctx, int count)
{
	uint64_t t0 = ft_now_us();
	int n;

	do {
		n = fi_poll(ps, ctx, count);
		if (n)
			return n;
		progress();
	} while (ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL);
	return 0;
}

static bool has(void **ctx, int n, void *want)
{
	int i;

	for (i = 0; i < n; i++)
		if (ctx[i] == want)
			return true;
	return false;
}

static void test_poll(void)
{
	struct world w;
	struct fid_poll *ps = NULL;
	struct fi_poll_attr attr = { 0 };
	struct ft_op rop = { .what = "fi_recv" }, sop = { .what = "fi_send" };
	struct fi_cq_tagged_entry e;
	const char *why = NULL;
	void *ctx[8];
	int n, ret;

	if (world_open(&w, FI_RMA | FI_MSG, &why)) {
		ft_log("SKIP group poll: %s", why);
		groups_skipped++;
		return;
	}
	ret = fi_poll_open(w.d1.domain, &attr, &ps);
	if (ret == -FI_ENOSYS) {
		ft_log("SKIP group poll: fi_poll_open: %s", ft_strerr(ret));
		world_close(&w);
		groups_skipped++;
		return;
	}
	FT_CALL(ret);
	FT_CALL(fi_poll_add(ps, &w.t.cq->fid, 0));
	FT_CALL(fi_poll_add(ps, &w.t.recv->fid, 0));
	if (!strcmp(w.d1.info->fabric_attr->prov_name, "fpgadma")) {
		ret = fi_poll_add(ps, &w.t.cq->fid, 0);
		ft_check(ret == -FI_EALREADY, "fi_poll_add of a member again: %d (%s), "
			 "expected -FI_EALREADY", ret, ft_strerr(ret));
		ret = fi_poll_add(ps, &w.t.rread->fid, 1ULL << 60);
		ft_check(ret == -FI_EBADFLAGS, "fi_poll_add with unknown flags: %d (%s), "
			 "expected -FI_EBADFLAGS", ret, ft_strerr(ret));
		ret = fi_poll_del(ps, &w.t.rwrite->fid, 0);
		ft_check(ret == -FI_EINVAL, "fi_poll_del of a stranger: %d (%s), "
			 "expected -FI_EINVAL", ret, ft_strerr(ret));
		ret = fi_close(&w.t.cq->fid);
		ft_check(ret == -FI_EBUSY, "fi_close of a CQ in a poll set: %d (%s), "
			 "expected -FI_EBUSY", ret, ft_strerr(ret));
	}

	n = fi_poll(ps, ctx, 8);
	ft_check(n == 0, "fi_poll with nothing new: %d contexts", n);

	POST(fi_recv(w.t.ep, w.tbuf, 64, NULL, FI_ADDR_UNSPEC, &rop));
	ft_fill(w.lbuf, 64, 5, 0);
	POST(fi_send(w.init.ep, w.lbuf, 64, w.ldesc, w.to_target, &sop));
	ft_wait_op(&w.init.cq, &sop, NULL);
	n = poll_some(ps, ctx, 8);
	ft_check(has(ctx, n, &w.t.cq_ctx), "fi_poll: the CQ with a completion not returned");
	/* the counter may change after the CQ entry is written: poll again for it */
	if (!has(ctx, n, &w.t.recv_ctx)) {
		n = poll_some(ps, ctx, 8);
		ft_check(has(ctx, n, &w.t.recv_ctx), "fi_poll: the changed counter not returned");
	}
	n = fi_poll(ps, ctx, 8);
	ft_check(n == 1 && ctx[0] == &w.t.cq_ctx,
		 "fi_poll again: %d contexts, expected the CQ alone (the counter did not change)", n);
	ft_check(fi_cq_read(w.t.cq, &e, 1) == 1, "the CQ fi_poll returned was empty");
	ft_check(e.op_context == &rop, "the completion is not the receive's");
	n = fi_poll(ps, ctx, 8);
	ft_check(n == 0, "fi_poll after the CQ was read: %d contexts", n);
	n = fi_poll(ps, ctx, 0);
	ft_check(n == 0, "fi_poll with count 0: %d", n);
	/* fi_cntr_add is a new baseline: not a change fi_poll reports */
	FT_CALL(fi_cntr_add(w.t.recv, 3));
	n = fi_poll(ps, ctx, 8);
	if (!ft_known_issue(&w.d1, "poll-cntr-add"))
		ft_check(n == 0, "fi_poll after fi_cntr_add: %d contexts, expected none", n);

	FT_CALL(fi_poll_del(ps, &w.t.cq->fid, 0));
	FT_CALL(fi_poll_del(ps, &w.t.recv->fid, 0));
	ft_close_fid(&ps->fid, "poll set");
	world_close(&w);
	groups_run++;
	ft_log("poll: CQ and counter returned when they changed, and only then");
}

int main(int argc, char **argv)
{
	ft_parse(argc, argv, "", "", NULL);
	test_caps();
	test_rma_event();
	test_poll();
	if (!groups_run)
		ft_skip("no group ran (%d skipped)", groups_skipped);
	return ft_finish("rdm_events: %d groups, %d skipped", groups_run, groups_skipped);
}
