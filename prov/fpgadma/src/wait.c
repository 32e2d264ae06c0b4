// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: wait sets (fi_wait_open, fi_wait, fi_trywait of a set,
 * fi_control FI_GETWAIT).
 *
 * A wait set is one fd to sleep on for several CQs, counters and EQs of
 * the fabric: those opened with wait_obj FI_WAIT_SET and attr->wait_set
 * naming it.  Such a member keeps a wait object of its own, as with
 * FI_WAIT_FD (util.c: an epoll fd holding the member's signal and, for a
 * CQ or counter, its domain's context fd; for an EQ the context fds of the
 * domains on its progress list), so its own fi_cq_sread, fi_cntr_wait and
 * fi_eq_sread keep working.  The set's fd is an epoll fd holding the
 * members' epoll fds: readable whenever one of theirs is, that is when a
 * member's signal is set or a kernel completion waits for the progress of
 * a member's domain.  An EQ's list may change after it joined; its epoll
 * fd follows, and so does the set's.
 *
 * Progress is manual, so fi_wait cannot just sleep on that fd: each round
 * runs the progress of every member's domain and looks at the member
 * (fpgadma_cq_wait_check and the like), returns 0 if one has something,
 * else sleeps on the fd, at most the time fpgadma_dp_slice_ms allows (a
 * resend after a receiver-not-ready has no fd to announce it), and goes
 * round again.  What "has something" means:
 *
 *   CQ       completions or error completions queued, or an fi_cq_signal
 *            (taken by the fi_wait that sees it)
 *   counter  its value or error count changed since the last fi_wait,
 *            fi_trywait or fi_cntr_wait that looked at it (a counter has
 *            no empty state: each change wakes one of them once)
 *   EQ       events or error events queued
 *
 * Locking: the set's mutex guards its member list.  fi_wait holds it while
 * it looks at the members (which takes an EQ's progress-list lock, then
 * domain->lock, then the CQ's or counter's lock), never while it sleeps.
 * A member joins at the end of its open and leaves in its fi_close
 * (fpgadma_wait_fini), each under the set's mutex, so fi_wait never sees
 * a member half made or half gone.  fi_close of a set with members is
 * -FI_EBUSY.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "fpgadma_prov.h"

struct ws_member {
	struct fid *fid;
	struct fpgadma_wait *wait;	/* the member's: its epfd is in the set */
	struct fpgadma_cq *cq;		/* one of these three */
	struct fpgadma_cntr *cntr;
	struct fpgadma_eq *eq;
};

struct fpgadma_waitset {
	struct fid_wait wait_fid;
	struct fpgadma_fabric *fabric;
	pthread_mutex_t lock;		/* the member list */
	int epfd;			/* the members' epoll fds */
	struct ws_member *m;
	size_t n, cap;
};

static struct fi_ops ws_fi_ops;

struct fpgadma_waitset *fpgadma_waitset_from_fid(struct fid_wait *wait_fid)
{
	if (!wait_fid || wait_fid->fid.fclass != FI_CLASS_WAIT ||
	    wait_fid->fid.ops != &ws_fi_ops)
		return NULL;
	return container_of(wait_fid, struct fpgadma_waitset, wait_fid);
}

int fpgadma_waitset_lookup(enum fi_wait_obj wait_obj, struct fid_wait *wait_set,
			   struct fpgadma_fabric *f, struct fpgadma_waitset **ws)
{
	*ws = NULL;
	if (wait_obj != FI_WAIT_SET)
		return 0;
	*ws = fpgadma_waitset_from_fid(wait_set);
	if (!*ws) {
		FPGADMA_WARN(FI_LOG_FABRIC,
			     "FI_WAIT_SET without a wait set of this provider\n");
		return -FI_EINVAL;
	}
	if ((*ws)->fabric != f) {
		FPGADMA_WARN(FI_LOG_FABRIC,
			     "FI_WAIT_SET: the wait set is another fabric's\n");
		*ws = NULL;
		return -FI_EINVAL;
	}
	return 0;
}

int fpgadma_waitset_add(struct fpgadma_waitset *ws, struct fpgadma_wait *w,
			struct fid *member)
{
	struct ws_member nm = { .fid = member, .wait = w };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
	int ret = 0;

	nm.cq = fpgadma_cq_from_fid(member);
	nm.cntr = fpgadma_cntr_from_fid(member);
	nm.eq = fpgadma_eq_from_fid(member);
	if ((!nm.cq && !nm.cntr && !nm.eq) || w->epfd < 0 || w->set)
		return -FI_EINVAL;

	pthread_mutex_lock(&ws->lock);
	if (ws->n == ws->cap) {
		size_t cap = ws->cap ? ws->cap * 2 : 4;
		struct ws_member *m = realloc(ws->m, cap * sizeof(*m));

		if (!m) {
			ret = -FI_ENOMEM;
			goto out;
		}
		ws->m = m;
		ws->cap = cap;
	}
	if (epoll_ctl(ws->epfd, EPOLL_CTL_ADD, w->epfd, &ev)) {
		ret = fpgadma_errno_to_fi(-errno);
		goto out;
	}
	ws->m[ws->n++] = nm;
	w->set = ws;
out:
	pthread_mutex_unlock(&ws->lock);
	return ret;
}

void fpgadma_waitset_del(struct fpgadma_waitset *ws, struct fpgadma_wait *w)
{
	size_t i;

	pthread_mutex_lock(&ws->lock);
	for (i = 0; i < ws->n; i++) {
		if (ws->m[i].wait != w)
			continue;
		epoll_ctl(ws->epfd, EPOLL_CTL_DEL, w->epfd, NULL);
		ws->m[i] = ws->m[--ws->n];
		break;
	}
	w->set = NULL;
	pthread_mutex_unlock(&ws->lock);
}

int fpgadma_waitset_control(struct fpgadma_waitset *ws, int command, void *arg)
{
	if (command != FI_GETWAIT && command != FI_GETWAITOBJ)
		return -FI_ENOSYS;
	if (!arg)
		return -FI_EINVAL;
	if (command == FI_GETWAITOBJ)
		*(enum fi_wait_obj *)arg = FI_WAIT_FD;
	else
		*(int *)arg = ws->epfd;
	return 0;
}

/*
 * One round: progress for every member's domain, and does a member have
 * something (see the top comment)?  *slice_ms: the longest the caller may
 * sleep before the next round (0: no limit).  Takes ws->lock.
 */
static bool ws_check(struct fpgadma_waitset *ws, int *slice_ms)
{
	bool ready = false;
	int slice = 0;
	size_t i;

	pthread_mutex_lock(&ws->lock);
	/* Every member, not just up to the first ready one: each gets progress. */
	for (i = 0; i < ws->n; i++) {
		struct ws_member *m = &ws->m[i];
		int ms = 0;

		if (m->cq)
			ready |= fpgadma_cq_wait_check(m->cq, &ms);
		else if (m->cntr)
			ready |= fpgadma_cntr_wait_check(m->cntr, &ms);
		else
			ready |= fpgadma_eq_wait_check(m->eq, &ms);
		if (ms > 0 && (!slice || ms < slice))
			slice = ms;
	}
	pthread_mutex_unlock(&ws->lock);
	*slice_ms = slice;
	return ready;
}

int fpgadma_waitset_trywait(struct fpgadma_waitset *ws)
{
	int slice;

	if (ws_check(ws, &slice))
		return -FI_EAGAIN;
	/* A resend waiting for its time has no fd to wake a sleeper. */
	return slice ? -FI_EAGAIN : 0;
}

/* fi_wait(3): 0 once a member has something, -FI_ETIMEDOUT after timeout ms. */
static int ws_wait(struct fid_wait *wait_fid, int timeout)
{
	struct fpgadma_waitset *ws =
		container_of(wait_fid, struct fpgadma_waitset, wait_fid);
	uint64_t deadline = fpgadma_deadline(timeout);
	struct epoll_event ev;
	int slice, left;

	for (;;) {
		if (ws_check(ws, &slice))
			return 0;
		left = fpgadma_time_left(deadline, slice);
		if (!left)
			return -FI_ETIMEDOUT;
		if (epoll_wait(ws->epfd, &ev, 1, left) < 0 && errno != EINTR)
			return fpgadma_errno_to_fi(-errno);
	}
}

static int ws_control(struct fid *fid, int command, void *arg)
{
	struct fpgadma_waitset *ws =
		container_of(fid, struct fpgadma_waitset, wait_fid.fid);

	return fpgadma_waitset_control(ws, command, arg);
}

static int ws_close(struct fid *fid)
{
	struct fpgadma_waitset *ws =
		container_of(fid, struct fpgadma_waitset, wait_fid.fid);

	pthread_mutex_lock(&ws->lock);
	if (ws->n) {
		pthread_mutex_unlock(&ws->lock);
		return -FI_EBUSY;
	}
	pthread_mutex_unlock(&ws->lock);
	close(ws->epfd);
	free(ws->m);
	pthread_mutex_destroy(&ws->lock);
	fpgadma_fabric_put(ws->fabric);
	free(ws);
	return 0;
}

static struct fi_ops ws_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = ws_close,
	.bind = fpgadma_no_bind,
	.control = ws_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_wait ws_ops = {
	.size = sizeof(struct fi_ops_wait),
	.wait = ws_wait,
};

/*
 * fi_wait_open: wait_obj FI_WAIT_UNSPEC or FI_WAIT_FD (both an fd);
 * FI_WAIT_MUTEX_COND, FI_WAIT_YIELD and FI_WAIT_POLLFD are wait objects
 * of fi_poll(3) this provider does not offer (-FI_ENOSYS); anything else,
 * FI_WAIT_NONE and FI_WAIT_SET among them, is -FI_EINVAL.  flags are
 * reserved: -FI_EBADFLAGS unless 0.
 */
int fpgadma_waitset_open(struct fid_fabric *fabric, struct fi_wait_attr *attr,
			 struct fid_wait **waitset)
{
	struct fpgadma_fabric *f =
		container_of(fabric, struct fpgadma_fabric, fabric_fid);
	struct fpgadma_waitset *ws;
	int ret;

	if (!attr || !waitset)
		return -FI_EINVAL;
	switch (attr->wait_obj) {
	case FI_WAIT_UNSPEC:
	case FI_WAIT_FD:
		break;
	case FI_WAIT_MUTEX_COND:
	case FI_WAIT_YIELD:
	case FI_WAIT_POLLFD:
		return -FI_ENOSYS;
	default:
		return -FI_EINVAL;
	}
	if (attr->flags)
		return -FI_EBADFLAGS;

	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&ws->lock, NULL);
	if (ret) {
		free(ws);
		return ret;
	}
	ws->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ws->epfd < 0) {
		ret = fpgadma_errno_to_fi(-errno);
		pthread_mutex_destroy(&ws->lock);
		free(ws);
		return ret;
	}
	ws->fabric = f;
	ws->wait_fid.fid.fclass = FI_CLASS_WAIT;
	ws->wait_fid.fid.ops = &ws_fi_ops;
	ws->wait_fid.ops = &ws_ops;
	fpgadma_fabric_get(f);
	*waitset = &ws->wait_fid;
	return 0;
}
