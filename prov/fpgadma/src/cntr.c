// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Completion counters.
 *
 * A counter is a success count and an error count.  The data plane bumps
 * them from progress (fpgadma_cntr_inc, _inc_err); reads and waits run
 * progress first, as for CQs.
 *
 * The wait fd (FI_WAIT_FD) is the same epoll set as a CQ's: the counter's
 * signal, set on every change, and the fd of the domain's context.  A
 * counter has no "empty" state, so the signal is edge-like: fi_trywait and
 * fi_cntr_wait clear it before they look at the values, and a change after
 * that sets it again, which is what wakes a sleeper.  A counter in a wait
 * set (FI_WAIT_SET) has the same epoll fd, in the set's (wait.c); fi_wait
 * takes the signal the same way, after progress (a change since the last
 * look wakes it once).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fpgadma_prov.h"

struct fpgadma_cntr {
	struct fid_cntr cntr_fid;
	struct fpgadma_domain *domain;
	pthread_mutex_t lock;		/* values and the wait signal */
	uint64_t value;
	uint64_t err;
	uint64_t last_read;		/* what fi_cntr_read returned last */
	uint64_t poll_value, poll_err;	/* as of the last fi_poll that returned
					 * it, fi_cntr_set or fi_cntr_add */
	unsigned int idle;		/* fi_cntr_reads in a row without a change */
	struct fpgadma_wait wait;
	int refs;			/* endpoints bound */
};

static struct fi_ops cntr_fi_ops;

struct fpgadma_cntr *fpgadma_cntr_from_fid(struct fid *fid)
{
	if (!fid || fid->fclass != FI_CLASS_CNTR || fid->ops != &cntr_fi_ops)
		return NULL;
	return container_of(fid, struct fpgadma_cntr, cntr_fid.fid);
}

void fpgadma_cntr_get(struct fpgadma_cntr *cntr)
{
	__atomic_fetch_add(&cntr->refs, 1, __ATOMIC_RELAXED);
}

void fpgadma_cntr_put(struct fpgadma_cntr *cntr)
{
	__atomic_fetch_sub(&cntr->refs, 1, __ATOMIC_RELEASE);
}

struct fpgadma_domain *fpgadma_cntr_domain(struct fpgadma_cntr *cntr)
{
	return cntr->domain;
}

/* Apply a change: *field = *field * keep + delta, then wake waiters. */
static void cntr_change(struct fpgadma_cntr *cntr, uint64_t *field,
			bool keep, uint64_t delta)
{
	pthread_mutex_lock(&cntr->lock);
	*field = (keep ? *field : 0) + delta;
	fpgadma_wait_set(&cntr->wait);
	pthread_mutex_unlock(&cntr->lock);
}

/* The application's change: also the new baseline of fi_poll (fi_poll(3)). */
static void cntr_app_change(struct fpgadma_cntr *cntr, uint64_t *field,
			    bool keep, uint64_t delta)
{
	pthread_mutex_lock(&cntr->lock);
	*field = (keep ? *field : 0) + delta;
	cntr->poll_value = cntr->value;
	cntr->poll_err = cntr->err;
	fpgadma_wait_set(&cntr->wait);
	pthread_mutex_unlock(&cntr->lock);
}

void fpgadma_cntr_inc(struct fpgadma_cntr *cntr)
{
	cntr_change(cntr, &cntr->value, true, 1);
}

void fpgadma_cntr_inc_err(struct fpgadma_cntr *cntr)
{
	cntr_change(cntr, &cntr->err, true, 1);
}

/* Both values, after clearing the signal if asked (see the top comment). */
static void cntr_snapshot(struct fpgadma_cntr *cntr, bool clear,
			  uint64_t *value, uint64_t *err)
{
	pthread_mutex_lock(&cntr->lock);
	if (clear)
		fpgadma_wait_clear(&cntr->wait);
	*value = cntr->value;
	*err = cntr->err;
	pthread_mutex_unlock(&cntr->lock);
}

/* --- fi_ops_cntr ----------------------------------------------------------- */

static uint64_t cntr_read(struct fid_cntr *cntr_fid)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);
	uint64_t value, err;

	fpgadma_progress(cntr->domain);
	cntr_snapshot(cntr, false, &value, &err);
	fpgadma_poll_idle(&cntr->idle,
			  __atomic_exchange_n(&cntr->last_read, value,
					      __ATOMIC_RELAXED) == value);
	return value;
}

static uint64_t cntr_readerr(struct fid_cntr *cntr_fid)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);
	uint64_t value, err;

	fpgadma_progress(cntr->domain);
	cntr_snapshot(cntr, false, &value, &err);
	return err;
}

static int cntr_add(struct fid_cntr *cntr_fid, uint64_t value)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);

	cntr_app_change(cntr, &cntr->value, true, value);
	return 0;
}

static int cntr_set(struct fid_cntr *cntr_fid, uint64_t value)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);

	cntr_app_change(cntr, &cntr->value, false, value);
	return 0;
}

static int cntr_adderr(struct fid_cntr *cntr_fid, uint64_t value)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);

	cntr_app_change(cntr, &cntr->err, true, value);
	return 0;
}

static int cntr_seterr(struct fid_cntr *cntr_fid, uint64_t value)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);

	cntr_app_change(cntr, &cntr->err, false, value);
	return 0;
}

/*
 * fi_cntr(3): returns 0 once the count reaches threshold, -FI_EAVAIL as
 * soon as the error count changes, -FI_ETIMEDOUT when timeout_ms passes.
 */
static int cntr_wait(struct fid_cntr *cntr_fid, uint64_t threshold,
		     int timeout)
{
	struct fpgadma_cntr *cntr =
		container_of(cntr_fid, struct fpgadma_cntr, cntr_fid);
	uint64_t deadline = fpgadma_deadline(timeout);
	uint64_t value, err, err0;
	int left, ret;

	if (cntr->wait.wait_obj == FI_WAIT_NONE)
		return -FI_EINVAL;	/* fi_cntr(3): no blocking without one */
	cntr_snapshot(cntr, false, &value, &err0);
	for (;;) {
		cntr_snapshot(cntr, true, &value, &err);
		fpgadma_progress(cntr->domain);
		cntr_snapshot(cntr, false, &value, &err);
		if (value >= threshold)
			return 0;
		if (err != err0)
			return -FI_EAVAIL;
		left = fpgadma_time_left(deadline,
					 fpgadma_dp_slice_ms(cntr->domain));
		if (!left)
			return -FI_ETIMEDOUT;
		ret = fpgadma_wait_sleep(&cntr->wait, left);
		if (ret < 0)
			return ret;
	}
}

static int cntr_no_wait(struct fid_cntr *cntr_fid, uint64_t threshold,
			int timeout)
{
	(void)cntr_fid; (void)threshold; (void)timeout;
	return -FI_ENOSYS;	/* FI_WAIT_NONE */
}

bool fpgadma_cntr_poll_changed(struct fpgadma_cntr *cntr)
{
	bool changed;

	pthread_mutex_lock(&cntr->lock);
	changed = cntr->value != cntr->poll_value || cntr->err != cntr->poll_err;
	cntr->poll_value = cntr->value;
	cntr->poll_err = cntr->err;
	pthread_mutex_unlock(&cntr->lock);
	return changed;
}

bool fpgadma_cntr_wait_check(struct fpgadma_cntr *cntr, int *slice_ms)
{
	bool changed;

	fpgadma_progress(cntr->domain);
	pthread_mutex_lock(&cntr->lock);
	changed = cntr->wait.sig.set;
	fpgadma_wait_clear(&cntr->wait);
	pthread_mutex_unlock(&cntr->lock);
	*slice_ms = fpgadma_dp_slice_ms(cntr->domain);
	return changed;
}

int fpgadma_cntr_trywait(struct fpgadma_cntr *cntr)
{
	bool changed;

	/*
	 * A change since the last look (another thread's progress may have
	 * made it) is news too: the signal's state before clearing it counts.
	 */
	pthread_mutex_lock(&cntr->lock);
	changed = cntr->wait.sig.set;
	fpgadma_wait_clear(&cntr->wait);
	pthread_mutex_unlock(&cntr->lock);
	fpgadma_progress(cntr->domain);
	pthread_mutex_lock(&cntr->lock);
	changed = changed || cntr->wait.sig.set;
	pthread_mutex_unlock(&cntr->lock);
	/* A resend waiting for its time has no fd to wake a sleeper. */
	if (!changed && fpgadma_dp_timeout_ms(cntr->domain) >= 0)
		changed = true;
	return changed ? -FI_EAGAIN : 0;
}

/* --- fi_ops ------------------------------------------------------------------ */

static int cntr_control(struct fid *fid, int command, void *arg)
{
	struct fpgadma_cntr *cntr =
		container_of(fid, struct fpgadma_cntr, cntr_fid.fid);

	return fpgadma_wait_control(&cntr->wait, command, arg);
}

static int cntr_close(struct fid *fid)
{
	struct fpgadma_cntr *cntr =
		container_of(fid, struct fpgadma_cntr, cntr_fid.fid);

	if (__atomic_load_n(&cntr->refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	fpgadma_wait_fini(&cntr->wait);
	pthread_mutex_destroy(&cntr->lock);
	fpgadma_domain_put(cntr->domain);
	free(cntr);
	return 0;
}

static struct fi_ops cntr_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = cntr_close,
	.bind = fpgadma_no_bind,
	.control = cntr_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_cntr cntr_ops = {
	.size = sizeof(struct fi_ops_cntr),
	.read = cntr_read,
	.readerr = cntr_readerr,
	.add = cntr_add,
	.set = cntr_set,
	.wait = cntr_wait,
	.adderr = cntr_adderr,
	.seterr = cntr_seterr,
};

static struct fi_ops_cntr cntr_nowait_ops = {
	.size = sizeof(struct fi_ops_cntr),
	.read = cntr_read,
	.readerr = cntr_readerr,
	.add = cntr_add,
	.set = cntr_set,
	.wait = cntr_no_wait,
	.adderr = cntr_adderr,
	.seterr = cntr_seterr,
};

int fpgadma_cntr_open(struct fid_domain *domain, struct fi_cntr_attr *attr,
		      struct fid_cntr **cntr_fid, void *context)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	struct fi_cntr_attr defaults = {
		.events = FI_CNTR_EVENTS_COMP,
		.wait_obj = FI_WAIT_UNSPEC,
	};
	struct fpgadma_waitset *ws;
	struct fpgadma_cntr *cntr;
	int ret;

	if (!attr)	/* fi_cntr(3) allows NULL: default attributes */
		attr = &defaults;
	if (attr->events != FI_CNTR_EVENTS_COMP)
		return -FI_ENOSYS;
	if (attr->flags)
		return -FI_EBADFLAGS;
	ret = fpgadma_waitset_lookup(attr->wait_obj, attr->wait_set, d->fabric,
				     &ws);
	if (ret)
		return ret;

	cntr = calloc(1, sizeof(*cntr));
	if (!cntr)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&cntr->lock, NULL);
	if (ret)
		goto err_free;
	ret = fpgadma_wait_init(&cntr->wait, attr->wait_obj,
				fpgadma_get_fd(d->ctx));
	if (ret)
		goto err_mutex;
	cntr->domain = d;
	cntr->cntr_fid.fid.fclass = FI_CLASS_CNTR;
	cntr->cntr_fid.fid.context = context;
	cntr->cntr_fid.fid.ops = &cntr_fi_ops;
	cntr->cntr_fid.ops = cntr->wait.wait_obj == FI_WAIT_NONE ?
			     &cntr_nowait_ops : &cntr_ops;
	if (ws) {
		ret = fpgadma_waitset_add(ws, &cntr->wait, &cntr->cntr_fid.fid);
		if (ret)
			goto err_wait;
	}
	fpgadma_domain_get(d);
	*cntr_fid = &cntr->cntr_fid;
	return 0;

err_wait:
	fpgadma_wait_fini(&cntr->wait);
err_mutex:
	pthread_mutex_destroy(&cntr->lock);
err_free:
	free(cntr);
	return ret;
}
