// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: poll sets (fi_poll_open, fi_poll_add, fi_poll_del,
 * fi_poll).
 *
 * A poll set groups CQs and counters of one domain.  fi_poll runs the
 * domain's progress once and returns the context (fid.context) of every
 * member with something new: a CQ holding completions or error
 * completions (or an fi_cq_signal not yet seen), a counter whose value or
 * error count changed since the last fi_poll that returned it, fi_cntr_set
 * or fi_cntr_add (fi_poll(3); the baseline is the counter's, shared by
 * every poll set it is in).  A member is held as an endpoint holds what it is bound
 * to: fi_close of the CQ or counter fails with -FI_EBUSY until
 * fi_poll_del (or fi_close of the set) lets it go.
 *
 * Locking: the set's own mutex guards its member list; fi_poll takes it
 * after progress (which takes domain->lock and returns), then each
 * member's lock in turn (the CQ's, the counter's), never two at once.
 */
#include <stdlib.h>
#include <string.h>

#include "fpgadma_prov.h"

struct poll_member {
	struct fid *fid;
	struct fpgadma_cq *cq;		/* one of these two */
	struct fpgadma_cntr *cntr;
};

struct fpgadma_poll {
	struct fid_poll poll_fid;
	struct fpgadma_domain *domain;
	pthread_mutex_t lock;
	struct poll_member *m;
	size_t n, cap;
};

static struct poll_member *find(struct fpgadma_poll *ps, const struct fid *fid)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->m[i].fid == fid)
			return &ps->m[i];
	return NULL;
}

static int poll_add(struct fid_poll *pollset, struct fid *event_fid,
		    uint64_t flags)
{
	struct fpgadma_poll *ps = container_of(pollset, struct fpgadma_poll,
					       poll_fid);
	struct poll_member nm = { .fid = event_fid };
	int ret = 0;

	if (flags)
		return -FI_EBADFLAGS;
	nm.cq = fpgadma_cq_from_fid(event_fid);
	if (!nm.cq)
		nm.cntr = fpgadma_cntr_from_fid(event_fid);
	if (!nm.cq && !nm.cntr)
		return -FI_EINVAL;	/* only our CQs and counters */
	if ((nm.cq && fpgadma_cq_domain(nm.cq) != ps->domain) ||
	    (nm.cntr && fpgadma_cntr_domain(nm.cntr) != ps->domain))
		return -FI_EINVAL;	/* another domain's */

	pthread_mutex_lock(&ps->lock);
	if (find(ps, event_fid)) {
		ret = -FI_EALREADY;
		goto out;
	}
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 4;
		struct poll_member *m = realloc(ps->m, cap * sizeof(*m));

		if (!m) {
			ret = -FI_ENOMEM;
			goto out;
		}
		ps->m = m;
		ps->cap = cap;
	}
	if (nm.cq)
		fpgadma_cq_get(nm.cq);
	else
		fpgadma_cntr_get(nm.cntr);
	ps->m[ps->n++] = nm;
out:
	pthread_mutex_unlock(&ps->lock);
	return ret;
}

static void member_put(struct poll_member *m)
{
	if (m->cq)
		fpgadma_cq_put(m->cq);
	else
		fpgadma_cntr_put(m->cntr);
}

static int poll_del(struct fid_poll *pollset, struct fid *event_fid,
		    uint64_t flags)
{
	struct fpgadma_poll *ps = container_of(pollset, struct fpgadma_poll,
					       poll_fid);
	struct poll_member *m;
	int ret = 0;

	if (flags)
		return -FI_EBADFLAGS;
	pthread_mutex_lock(&ps->lock);
	m = find(ps, event_fid);
	if (!m) {
		ret = -FI_EINVAL;	/* not a member */
	} else {
		member_put(m);
		*m = ps->m[--ps->n];
	}
	pthread_mutex_unlock(&ps->lock);
	return ret;
}

static int poll_poll(struct fid_poll *pollset, void **context, int count)
{
	struct fpgadma_poll *ps = container_of(pollset, struct fpgadma_poll,
					       poll_fid);
	int found = 0;
	size_t i;

	if (count < 0 || (count && !context))
		return -FI_EINVAL;
	fpgadma_progress(ps->domain);
	pthread_mutex_lock(&ps->lock);
	for (i = 0; i < ps->n && found < count; i++) {
		struct poll_member *m = &ps->m[i];

		if (m->cq ? !fpgadma_cq_ready(m->cq) :
			    !fpgadma_cntr_poll_changed(m->cntr))
			continue;
		context[found++] = m->fid->context;
	}
	pthread_mutex_unlock(&ps->lock);
	return found;
}

static int poll_close(struct fid *fid)
{
	struct fpgadma_poll *ps = container_of(fid, struct fpgadma_poll,
					       poll_fid.fid);
	size_t i;

	for (i = 0; i < ps->n; i++)
		member_put(&ps->m[i]);
	free(ps->m);
	pthread_mutex_destroy(&ps->lock);
	fpgadma_domain_put(ps->domain);
	free(ps);
	return 0;
}

static struct fi_ops poll_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = poll_close,
	.bind = fpgadma_no_bind,
	.control = fpgadma_no_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_poll poll_ops = {
	.size = sizeof(struct fi_ops_poll),
	.poll = poll_poll,
	.poll_add = poll_add,
	.poll_del = poll_del,
};

int fpgadma_poll_open(struct fid_domain *domain, struct fi_poll_attr *attr,
		      struct fid_poll **pollset)
{
	struct fpgadma_domain *d = container_of(domain, struct fpgadma_domain,
						domain_fid);
	struct fpgadma_poll *ps;

	if (!pollset)
		return -FI_EINVAL;
	if (attr && attr->flags)
		return -FI_EBADFLAGS;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -FI_ENOMEM;
	pthread_mutex_init(&ps->lock, NULL);
	ps->domain = d;
	ps->poll_fid.fid.fclass = FI_CLASS_POLL;
	ps->poll_fid.fid.ops = &poll_fi_ops;
	ps->poll_fid.ops = &poll_ops;
	fpgadma_domain_get(d);
	*pollset = &ps->poll_fid;
	return 0;
}
