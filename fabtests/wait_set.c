// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wait_set: wait sets (fi_wait_open, fi_wait, fi_trywait, FI_GETWAIT; fi_poll(3))
 * of CQs, counters and EQs opened with FI_WAIT_SET, against any provider.
 * Two RDM endpoints in two domains of one process, as rdm_events has them:
 * the initiator in d0 sends, the target in d1 has its CQ in one wait set
 * and its receive counter in another.
 *
 *   attrs      fi_wait_open refuses FI_WAIT_NONE, FI_WAIT_SET, an unknown
 *              wait object and non-zero flags; a CQ with FI_WAIT_SET and no
 *              wait set is refused; on fpgadma the exact codes, and a set of
 *              another fabric is refused
 *   timeout    fi_wait with nothing pending returns -FI_ETIMEDOUT, after
 *              about the timeout (at once for 0)
 *   arrived    a message that arrived before fi_wait: it returns 0 (it runs
 *              the progress a manual-progress provider needs), the CQ has it
 *   blocked    a message sent while fi_wait sleeps (another thread, in the
 *              other domain) wakes it
 *   fd         the fd of FI_GETWAIT (FI_WAIT_FD) becomes readable when a
 *              message arrives, after fi_trywait of the set said 0
 *   sread      fi_cq_sread of a CQ in a wait set still works
 *   counter    a set holding the receive counter alone: a message wakes it,
 *              so does fi_cntr_add; when nothing changed it times out
 *   eq         an EQ in a wait set: fi_eq_write wakes it
 *   busy       fi_close of a set with members is -FI_EBUSY (the set still
 *              works), and succeeds once they are closed
 * The program skips when the provider has no wait sets (fi_wait_open
 * -FI_ENOSYS).
 */
#include "common.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEN	64
#define DELAY_MS 200	/* the sender thread's wait before it sends */

struct world {
	struct ft_dom d0, d1;
	struct ft_ep init;		/* in d0 */
	struct fid_ep *tep;		/* the target, in d1 */
	struct fid_cq *tcq;		/* in cq_set */
	struct fid_cntr *tcntr;		/* FI_RECV, in cntr_set */
	struct fid_wait *cq_set;	/* FI_WAIT_FD */
	struct fid_wait *cntr_set;	/* FI_WAIT_UNSPEC */
	uint8_t tname[256];
	size_t tnamelen;
	fi_addr_t to_target;
	uint8_t *tbuf, *lbuf;
	struct fid_mr *tmr, *lmr;
	void *tdesc, *ldesc;
	bool fpgadma;
	int cq_ctx, cntr_ctx;
};

static bool is_fpgadma(const struct ft_dom *d)
{
	return !strcmp(d->info->fabric_attr->prov_name, "fpgadma");
}

static double ms_since(uint64_t t0)
{
	return (double)(ft_now_us() - t0) / 1000.0;
}

/* How late a wait may return: 1 s, times $FPGADMA_TEST_TIME_SCALE (as -T is). */
static double slack_ms(void)
{
	return ft_opts.timeout_ms / 10.0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int wait_open(struct fid_fabric *fabric, enum fi_wait_obj obj, uint64_t flags,
		     struct fid_wait **ws)
{
	struct fi_wait_attr attr = { .wait_obj = obj, .flags = flags };

	*ws = NULL;
	return fi_wait_open(fabric, &attr, ws);
}

static void world_open(struct world *w)
{
	struct fi_info *hints = ft_hints(FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
					 FI_MR_ALLOCATED | FI_MR_PROV_KEY);
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_TAGGED,
		.wait_obj = FI_WAIT_SET,
	};
	struct fi_cntr_attr cntr_attr = {
		.events = FI_CNTR_EVENTS_COMP,
		.wait_obj = FI_WAIT_SET,
	};
	struct ft_dom *d;
	int ret;

	memset(w, 0, sizeof(*w));
	ft_open_dom_or_skip(hints, &w->d0, "FI_EP_RDM with FI_MSG");
	ft_describe(&w->d0);
	ft_open_dom_like(&w->d0, &w->d1);
	d = &w->d1;
	w->fpgadma = is_fpgadma(d);
	ret = wait_open(d->fabric, FI_WAIT_FD, 0, &w->cq_set);
	if (ret == -FI_ENOSYS)
		ft_skip("fi_wait_open(FI_WAIT_FD): %s: no wait sets", ft_strerr(ret));
	FT_CALL(ret);
	FT_CALL(wait_open(d->fabric, FI_WAIT_UNSPEC, 0, &w->cntr_set));

	ft_open_ep(&w->d0, &w->init, "initiator");
	cq_attr.wait_set = w->cq_set;
	cntr_attr.wait_set = w->cntr_set;
	FT_CALL(fi_cq_open(d->domain, &cq_attr, &w->tcq, &w->cq_ctx));
	FT_CALL(fi_cntr_open(d->domain, &cntr_attr, &w->tcntr, &w->cntr_ctx));
	FT_CALL(fi_endpoint(d->domain, d->info, &w->tep, NULL));
	FT_CALL(fi_ep_bind(w->tep, &d->av->fid, 0));
	FT_CALL(fi_ep_bind(w->tep, &w->tcq->fid, FI_TRANSMIT | FI_RECV));
	FT_CALL(fi_ep_bind(w->tep, &w->tcntr->fid, FI_RECV));
	FT_CALL(fi_enable(w->tep));
	w->tnamelen = sizeof(w->tname);
	FT_CALL(fi_getname(&w->tep->fid, w->tname, &w->tnamelen));
	w->to_target = ft_av_insert(&w->d0, w->tname);
	(void)ft_av_insert(&w->d1, w->init.name);

	w->tbuf = ft_xmalloc(LEN);
	w->lbuf = ft_xmalloc(LEN);
	if (ft_need_desc(&w->d0)) {
		ret = ft_mr_reg(&w->d1, NULL, w->tbuf, LEN, FI_RECV, 0, &w->tmr);
		if (ret)
			ft_fatal("fi_mr_reg of the target's buffer: %s", ft_strerr(ret));
		w->tdesc = fi_mr_desc(w->tmr);
		ret = ft_mr_reg(&w->d0, NULL, w->lbuf, LEN, FI_SEND, 0, &w->lmr);
		if (ret)
			ft_fatal("fi_mr_reg of the initiator's buffer: %s", ft_strerr(ret));
		w->ldesc = fi_mr_desc(w->lmr);
	}
}

/* The members first: a set with members cannot close. */
static void world_close(struct world *w)
{
	if (w->lmr)
		ft_close_fid(&w->lmr->fid, "initiator mr");
	if (w->tmr)
		ft_close_fid(&w->tmr->fid, "target mr");
	ft_close_fid(&w->tep->fid, "target endpoint");
	ft_close_fid(&w->tcntr->fid, "target counter");
	ft_close_fid(&w->tcq->fid, "target cq");
	ft_close_fid(&w->cntr_set->fid, "counter wait set");
	ft_close_fid(&w->cq_set->fid, "cq wait set");
	ft_close_ep(&w->init);
	ft_close_dom(&w->d1);
	ft_close_dom(&w->d0);
	free(w->tbuf);
	free(w->lbuf);
}

/* ---- the initiator's side ---- */

/* Send LEN bytes of pattern seed to the target and wait for the send's completion. */
static int send_msg(struct world *w, uint64_t seed)
{
	struct fi_cq_tagged_entry e;
	struct ft_op op = { .what = "fi_send" };
	uint64_t t0 = ft_now_us();
	ssize_t ret;

	ft_fill(w->lbuf, LEN, seed, 0);
	while ((ret = fi_send(w->init.ep, w->lbuf, LEN, w->ldesc, w->to_target, &op)) ==
	       -FI_EAGAIN) {
		(void)fi_cq_read(w->init.cq.cq, &e, 0);
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			return -FI_ETIMEDOUT;
	}
	if (ret)
		return (int)ret;
	/* The initiator's CQ holds nothing else: read it raw (another thread may). */
	for (;;) {
		ret = fi_cq_read(w->init.cq.cq, &e, 1);
		if (ret == 1)
			return e.op_context == &op ? 0 : -FI_EOTHER;
		if (ret != -FI_EAGAIN)
			return (int)ret;
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			return -FI_ETIMEDOUT;
	}
}

struct sender {
	struct world *w;
	uint64_t seed;
	int ret;
	pthread_t thread;
};

/* Another thread: DELAY_MS, then one message (the initiator's domain only). */
static void *sender_main(void *arg)
{
	struct sender *s = arg;

	sleep_ms(DELAY_MS);
	s->ret = send_msg(s->w, s->seed);
	return NULL;
}

static void sender_start(struct sender *s, struct world *w, uint64_t seed)
{
	s->w = w;
	s->seed = seed;
	s->ret = 0;
	if (pthread_create(&s->thread, NULL, sender_main, s))
		ft_fatal("pthread_create failed");
}

static void sender_join(struct sender *s)
{
	pthread_join(s->thread, NULL);
	if (s->ret)
		ft_fatal("the sender thread's fi_send: %s", ft_strerr(s->ret));
}

/* ---- the target's side ---- */

static void post_recv(struct world *w, struct ft_op *op)
{
	struct fi_cq_tagged_entry e;
	uint64_t t0 = ft_now_us();
	ssize_t ret;

	memset(w->tbuf, 0, LEN);
	while ((ret = fi_recv(w->tep, w->tbuf, LEN, w->tdesc, FI_ADDR_UNSPEC, op)) ==
	       -FI_EAGAIN) {
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			ft_fatal("fi_recv: -FI_EAGAIN for %u ms", ft_opts.timeout_ms);
		(void)fi_cq_read(w->tcq, &e, 0);
	}
	if (ret)
		ft_fatal("fi_recv: %s", ft_strerr(ret));
}

/*
 * The receive op's completion from the target's CQ, waiting in fi_wait on
 * the CQ's set between reads (fi_wait may return 0 with nothing to read:
 * "may" in fi_poll(3)).  Checks the data.
 */
static void expect_recv(struct world *w, struct ft_op *op, uint64_t seed, const char *what)
{
	struct fi_cq_tagged_entry e;
	uint64_t t0 = ft_now_us();
	ssize_t ret;
	int wret;

	for (;;) {
		ret = fi_cq_read(w->tcq, &e, 1);
		if (ret == 1)
			break;
		if (ret != -FI_EAGAIN) {
			ft_error("%s: fi_cq_read of the target: %s", what, ft_strerr(ret));
			return;
		}
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL) {
			ft_error("%s: no receive completion in %u ms", what, ft_opts.timeout_ms);
			return;
		}
		wret = fi_wait(w->cq_set, 100);
		if (wret && wret != -FI_ETIMEDOUT) {
			ft_error("%s: fi_wait: %s", what, ft_strerr(wret));
			return;
		}
	}
	ft_check(e.op_context == op, "%s: the completion is not the receive's", what);
	ft_check(e.len == LEN, "%s: length %zu, expected %d", what, e.len, LEN);
	ft_expect_pattern(w->tbuf, LEN, seed, 0, what);
}

/* fi_wait until it times out (changes seen before are taken); false if it never does. */
static bool settle(struct fid_wait *ws)
{
	int i, ret;

	for (i = 0; i < 5; i++) {
		ret = fi_wait(ws, 50);
		if (ret == -FI_ETIMEDOUT)
			return true;
		if (ret)
			ft_fatal("fi_wait: %s", ft_strerr(ret));
	}
	return false;
}

/* A wait with nothing pending: -FI_ETIMEDOUT after about ms (strict: the first one). */
static void expect_timeout(struct world *w, struct fid_wait *ws, int ms, const char *what)
{
	uint64_t t0 = ft_now_us();
	double took;
	int ret;

	ret = fi_wait(ws, ms);
	took = ms_since(t0);
	if (ret == 0 && !w->fpgadma) {
		/* "may have something": allow one spurious wake-up, then it must time out */
		t0 = ft_now_us();
		ret = fi_wait(ws, ms);
		took = ms_since(t0);
	}
	ft_check(ret == -FI_ETIMEDOUT, "%s: fi_wait(%d ms): %s, expected -FI_ETIMEDOUT",
		 what, ms, ft_strerr(ret));
	if (ret != -FI_ETIMEDOUT)
		return;
	ft_check(took >= ms - 2.0, "%s: fi_wait(%d ms) timed out after %.1f ms", what, ms, took);
	ft_check(took <= ms + slack_ms(), "%s: fi_wait(%d ms) took %.1f ms", what, ms, took);
	if (ft_opts.verbose)
		ft_log("%s: fi_wait(%d ms) timed out after %.1f ms", what, ms, took);
}

/* ---- groups ---- */

/*
 * A first message with both sides progressed, so that a connection a
 * provider makes on first contact (ofi_rxm) exists before the groups,
 * whose sends complete with the initiator's progress alone.
 */
static void warm_up(struct world *w)
{
	struct ft_op rop = { .what = "fi_recv" }, sop = { .what = "fi_send" };
	struct fi_cq_tagged_entry e;
	bool sent = false, received = false;
	uint64_t t0 = ft_now_us();
	ssize_t ret;

	post_recv(w, &rop);
	ft_fill(w->lbuf, LEN, 1, 0);
	while ((ret = fi_send(w->init.ep, w->lbuf, LEN, w->ldesc, w->to_target, &sop)) ==
	       -FI_EAGAIN) {
		(void)fi_cq_read(w->init.cq.cq, &e, 0);
		(void)fi_cq_read(w->tcq, &e, 0);
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			ft_fatal("warm-up: fi_send: -FI_EAGAIN for %u ms", ft_opts.timeout_ms);
	}
	if (ret)
		ft_fatal("warm-up: fi_send: %s", ft_strerr(ret));
	while (!sent || !received) {
		if (!sent && fi_cq_read(w->init.cq.cq, &e, 1) == 1)
			sent = e.op_context == &sop;
		if (!received && fi_cq_read(w->tcq, &e, 1) == 1)
			received = e.op_context == &rop;
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			ft_fatal("warm-up: no completions in %u ms (sent %d, received %d)",
				 ft_opts.timeout_ms, sent, received);
	}
	ft_expect_pattern(w->tbuf, LEN, 1, 0, "warm-up");
	settle(w->cq_set);
	settle(w->cntr_set);
}

static void test_attrs(struct world *w)
{
	static const struct {
		enum fi_wait_obj obj;
		uint64_t flags;
		int fpgadma_ret;
		const char *what;
	} bad[] = {
		{ FI_WAIT_NONE, 0, -FI_EINVAL, "FI_WAIT_NONE" },
		{ FI_WAIT_SET, 0, -FI_EINVAL, "FI_WAIT_SET" },
		{ (enum fi_wait_obj)1000, 0, -FI_EINVAL, "wait object 1000" },
		{ FI_WAIT_FD, 1, -FI_EBADFLAGS, "flags 1" },
		{ FI_WAIT_UNSPEC, 1ULL << 60, -FI_EBADFLAGS, "flags 1 << 60" },
	};
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_TAGGED,
		.wait_obj = FI_WAIT_SET,
	};
	struct fid_wait *ws;
	struct fid_cq *cq;
	struct ft_dom other;
	size_t i;
	int ret;

	for (i = 0; i < FT_ARRAY_SIZE(bad); i++) {
		ret = wait_open(w->d1.fabric, bad[i].obj, bad[i].flags, &ws);
		ft_check(ret < 0, "fi_wait_open with %s accepted", bad[i].what);
		if (ret >= 0) {
			ft_close_fid(&ws->fid, "wait set");
			continue;
		}
		if (w->fpgadma)
			ft_check(ret == bad[i].fpgadma_ret, "fi_wait_open with %s: %s, expected %s",
				 bad[i].what, ft_strerr(ret), ft_strerr(bad[i].fpgadma_ret));
	}
	if (w->fpgadma) {
		ret = wait_open(w->d1.fabric, FI_WAIT_MUTEX_COND, 0, &ws);
		ft_check(ret == -FI_ENOSYS, "fi_wait_open(FI_WAIT_MUTEX_COND): %s, "
			 "expected -FI_ENOSYS", ft_strerr(ret));
		if (!ret)
			ft_close_fid(&ws->fid, "wait set");
	}

	if (!ft_known_issue(&w->d1, "cq-wait-set-null")) {
		cq_attr.wait_set = NULL;
		ret = fi_cq_open(w->d1.domain, &cq_attr, &cq, NULL);
		ft_check(ret < 0, "fi_cq_open with FI_WAIT_SET and no wait set accepted");
		if (!ret)
			ft_close_fid(&cq->fid, "cq");
	}
	if (w->fpgadma) {
		/* a set of another fabric (another process's, as it were) */
		ft_open_dom_like(&w->d1, &other);
		FT_CALL(wait_open(other.fabric, FI_WAIT_FD, 0, &ws));
		cq_attr.wait_set = ws;
		ret = fi_cq_open(w->d1.domain, &cq_attr, &cq, NULL);
		ft_check(ret == -FI_EINVAL, "fi_cq_open with another fabric's wait set: %s, "
			 "expected -FI_EINVAL", ft_strerr(ret));
		if (!ret)
			ft_close_fid(&cq->fid, "cq");
		ft_close_fid(&ws->fid, "other fabric's wait set");
		ft_close_dom(&other);
	}
	ft_log("attrs: bad wait set attributes refused");
}

static void test_timeout(struct world *w)
{
	uint64_t t0 = ft_now_us();
	double took;
	int ret;

	ret = fi_wait(w->cq_set, 0);
	took = ms_since(t0);
	ft_check(ret == -FI_ETIMEDOUT, "fi_wait(0) with nothing pending: %s", ft_strerr(ret));
	ft_check(took < slack_ms(), "fi_wait(0) took %.1f ms", took);
	expect_timeout(w, w->cq_set, 300, "timeout (cq set)");
	expect_timeout(w, w->cntr_set, 150, "timeout (counter set)");
	ft_log("timeout: fi_wait with nothing pending timed out on time");
}

static void test_arrived(struct world *w)
{
	struct ft_op rop = { .what = "fi_recv" };
	uint64_t t0;
	int ret;

	post_recv(w, &rop);
	ret = send_msg(w, 11);
	if (ret)
		ft_fatal("fi_send: %s", ft_strerr(ret));
	t0 = ft_now_us();
	ret = fi_wait(w->cq_set, (int)ft_opts.timeout_ms);
	ft_check(ret == 0, "fi_wait with a message arrived: %s", ft_strerr(ret));
	if (ft_opts.verbose)
		ft_log("arrived: fi_wait returned after %.1f ms", ms_since(t0));
	expect_recv(w, &rop, 11, "arrived");
	if (!settle(w->cq_set))
		ft_error("arrived: fi_wait keeps returning 0 after the CQ was read");
	ft_log("arrived: fi_wait returned 0 for a message that came before it");
}

static void test_blocked(struct world *w)
{
	struct ft_op rop = { .what = "fi_recv" };
	struct sender s;
	uint64_t t0;
	double took;
	int ret;

	post_recv(w, &rop);
	settle(w->cq_set);
	sender_start(&s, w, 22);
	t0 = ft_now_us();
	ret = fi_wait(w->cq_set, (int)ft_opts.timeout_ms);
	took = ms_since(t0);
	sender_join(&s);
	ft_check(ret == 0, "fi_wait while a message comes: %s", ft_strerr(ret));
	ft_check(took >= DELAY_MS / 2, "fi_wait returned after %.1f ms, before the send "
		 "(%d ms)", took, DELAY_MS);
	expect_recv(w, &rop, 22, "blocked");
	ft_log("blocked: a message woke fi_wait after %.1f ms", took);
}

static void test_fd(struct world *w)
{
	struct ft_op rop = { .what = "fi_recv" };
	struct fid *fids[1] = { &w->cq_set->fid };
	struct fi_cq_tagged_entry e;
	enum fi_wait_obj obj = FI_WAIT_NONE;
	struct sender s;
	struct pollfd pfd = { .events = POLLIN };
	int ret, fd = -1, i;
	uint64_t t0;

	ret = fi_control(&w->cq_set->fid, FI_GETWAITOBJ, &obj);
	if (!ft_known_issue(&w->d1, "wait-getwaitobj")) {
		ft_check(ret == 0, "FI_GETWAITOBJ of the set: %s", ft_strerr(ret));
		ft_check(obj == FI_WAIT_FD, "FI_GETWAITOBJ of a FI_WAIT_FD set: %d", obj);
	}
	ret = fi_control(&w->cq_set->fid, FI_GETWAIT, &fd);
	ft_check(ret == 0 && fd >= 0, "FI_GETWAIT of a FI_WAIT_FD set: %s, fd %d",
		 ft_strerr(ret), fd);
	if (ret || fd < 0)
		return;

	post_recv(w, &rop);
	/* fi_trywait(3): 0 before blocking on the fd; -FI_EAGAIN: read, try again */
	for (i = 0; i < 100; i++) {
		ret = fi_trywait(w->d1.fabric, fids, 1);
		if (ret != -FI_EAGAIN)
			break;
		(void)fi_cq_read(w->tcq, &e, 0);
		(void)fi_cntr_read(w->tcntr);
	}
	ft_check(ret == 0, "fi_trywait of the set with nothing pending: %s", ft_strerr(ret));
	sender_start(&s, w, 33);
	t0 = ft_now_us();
	pfd.fd = fd;
	ret = poll(&pfd, 1, (int)ft_opts.timeout_ms);
	sender_join(&s);
	ft_check(ret == 1 && (pfd.revents & POLLIN),
		 "poll of the set's fd while a message comes: %d, revents %#x after %.1f ms",
		 ret, (unsigned int)pfd.revents, ms_since(t0));
	expect_recv(w, &rop, 33, "fd");
	ft_log("fd: the set's fd became readable after %.1f ms", ms_since(t0));
}

static void test_sread(struct world *w)
{
	struct ft_op rop = { .what = "fi_recv" };
	struct fi_cq_tagged_entry e;
	struct sender s;
	ssize_t ret;

	post_recv(w, &rop);
	sender_start(&s, w, 44);
	ret = fi_cq_sread(w->tcq, &e, 1, NULL, (int)ft_opts.timeout_ms);
	sender_join(&s);
	ft_check(ret == 1, "fi_cq_sread of a CQ in a wait set: %s", ft_strerr(ret));
	if (ret == 1) {
		ft_check(e.op_context == &rop, "sread: the completion is not the receive's");
		ft_expect_pattern(w->tbuf, LEN, 44, 0, "sread");
	}
	settle(w->cq_set);
	ft_log("sread: fi_cq_sread of a wait set's CQ works");
}

static void test_counter(struct world *w)
{
	struct ft_op rop = { .what = "fi_recv" };
	struct sender s;
	uint64_t v0, t0;
	double took;
	int ret;

	/* the messages before changed the counter: let those be seen */
	if (!settle(w->cntr_set))
		ft_error("counter: fi_wait keeps returning 0 with the counter unchanged");
	v0 = fi_cntr_read(w->tcntr);
	post_recv(w, &rop);
	sender_start(&s, w, 55);
	t0 = ft_now_us();
	ret = fi_wait(w->cntr_set, (int)ft_opts.timeout_ms);
	took = ms_since(t0);
	sender_join(&s);
	ft_check(ret == 0, "fi_wait on the counter's set while a message comes: %s",
		 ft_strerr(ret));
	ft_check(took >= DELAY_MS / 2, "fi_wait on the counter's set returned after %.1f ms, "
		 "before the send (%d ms)", took, DELAY_MS);
	/* the counter may lag the wake-up a little with providers that progress elsewhere */
	t0 = ft_now_us();
	while (fi_cntr_read(w->tcntr) == v0 && ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL)
		(void)fi_wait(w->cntr_set, 10);
	ft_check(fi_cntr_read(w->tcntr) == v0 + 1, "counter: %" PRIu64 " after a message, "
		 "expected %" PRIu64, fi_cntr_read(w->tcntr), v0 + 1);
	expect_recv(w, &rop, 55, "counter");
	expect_timeout(w, w->cntr_set, 100, "counter unchanged");

	FT_CALL(fi_cntr_add(w->tcntr, 1));
	t0 = ft_now_us();
	ret = fi_wait(w->cntr_set, (int)ft_opts.timeout_ms);
	took = ms_since(t0);
	ft_check(ret == 0, "fi_wait after fi_cntr_add: %s", ft_strerr(ret));
	ft_check(took < slack_ms(), "fi_wait after fi_cntr_add took %.1f ms", took);
	expect_timeout(w, w->cntr_set, 100, "counter after fi_cntr_add");
	ft_log("counter: a message and fi_cntr_add woke the counter's set");
}

static void test_eq(struct world *w)
{
	struct fi_eq_attr attr = {
		.flags = FI_WRITE,
		.wait_obj = FI_WAIT_SET,
	};
	struct fid_wait *ws;
	struct fid_eq *eq;
	uint32_t event = 0;
	uint64_t data = 0x5e7, got = 0;
	ssize_t n;
	int ret;

	FT_CALL(wait_open(w->d1.fabric, FI_WAIT_UNSPEC, 0, &ws));
	attr.wait_set = ws;
	ret = fi_eq_open(w->d1.fabric, &attr, &eq, NULL);
	if (ret == -FI_ENOSYS || ret == -FI_EINVAL) {
		ft_log("SKIP group eq: fi_eq_open with FI_WAIT_SET: %s", ft_strerr(ret));
		ft_close_fid(&ws->fid, "eq wait set");
		return;
	}
	FT_CALL(ret);
	expect_timeout(w, ws, 100, "eq empty");
	n = fi_eq_write(eq, FI_NOTIFY, &data, sizeof(data), 0);
	ft_check(n == (ssize_t)sizeof(data), "fi_eq_write: %s", ft_strerr(n));
	ret = fi_wait(ws, (int)ft_opts.timeout_ms);
	ft_check(ret == 0, "fi_wait after fi_eq_write: %s", ft_strerr(ret));
	n = fi_eq_read(eq, &event, &got, sizeof(got), 0);
	ft_check(n == (ssize_t)sizeof(got) && event == FI_NOTIFY && got == data,
		 "fi_eq_read: %s, event %u", ft_strerr(n), event);
	expect_timeout(w, ws, 100, "eq read");
	ret = -FI_EBUSY;
	if (!ft_known_issue(&w->d1, "wait-close-busy")) {
		ret = fi_close(&ws->fid);
		ft_check(ret == -FI_EBUSY, "fi_close of a set with an EQ: %s, "
			 "expected -FI_EBUSY", ft_strerr(ret));
	}
	ft_close_fid(&eq->fid, "eq");
	if (ret)
		ft_close_fid(&ws->fid, "eq wait set");
	ft_log("eq: fi_eq_write woke the EQ's set");
}

static void test_busy(struct world *w)
{
	int ret;

	if (ft_known_issue(&w->d1, "wait-close-busy"))
		return;
	ret = fi_close(&w->cq_set->fid);
	ft_check(ret == -FI_EBUSY, "fi_close of a set with a CQ: %s, expected -FI_EBUSY",
		 ft_strerr(ret));
	if (!ret) {
		ft_fatal("the CQ's wait set is gone: nothing more can be tried");
	}
	ret = fi_close(&w->cntr_set->fid);
	ft_check(ret == -FI_EBUSY, "fi_close of a set with a counter: %s, expected -FI_EBUSY",
		 ft_strerr(ret));
	if (!ret)
		ft_fatal("the counter's wait set is gone: nothing more can be tried");
	ret = fi_wait(w->cq_set, 0);
	ft_check(ret == -FI_ETIMEDOUT, "fi_wait(0) after the refused fi_close: %s",
		 ft_strerr(ret));
	ft_log("busy: fi_close of a set with members refused, the set still works");
}

int main(int argc, char **argv)
{
	struct world w;

	ft_parse(argc, argv, "", "", NULL);
	world_open(&w);
	test_attrs(&w);
	warm_up(&w);
	test_timeout(&w);
	test_arrived(&w);
	test_blocked(&w);
	test_fd(&w);
	test_sread(&w);
	test_counter(&w);
	test_eq(&w);
	test_busy(&w);
	world_close(&w);	/* the sets close once their members have */
	return ft_finish("fi_wait, its fd, CQ, counter and EQ members");
}
