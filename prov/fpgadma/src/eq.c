// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Event queues.
 *
 * An EQ carries what the application writes with fi_eq_write, the AV's
 * FI_AV_COMPLETE and error events, and the connection events of FI_EP_MSG
 * endpoints and passive endpoints (cm.c): FI_CONNREQ, FI_CONNECTED,
 * FI_SHUTDOWN, and FI_ECONNREFUSED error events whose err_data is the
 * reject's CM data.  Entries keep their order; an error entry at the head
 * makes fi_eq_read fail with -FI_EAVAIL until fi_eq_readerr takes it
 * (fi_eq(3)).  The queue grows as needed: its size attribute is a hint.
 *
 * Connection messages arrive through the data plane of the domains
 * involved, whose progress is manual: so fi_eq_read, fi_eq_sread and
 * fi_trywait run the progress of every domain on the EQ's progress list
 * (the domains of the FI_EP_MSG endpoints bound to it and the own domain
 * of each passive endpoint bound to it), and the wait fd (FI_WAIT_FD)
 * holds, besides the EQ's signal (readable exactly while the queue is not
 * empty), the context fds of those domains: readable while kernel
 * completions wait for progress.  An EQ in a wait set (FI_WAIT_SET) has
 * the same epoll fd, in the set's (wait.c), so the set's fd follows the
 * progress list too.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "fpgadma_prov.h"

struct eq_entry {
	struct eq_entry *next;
	uint32_t event;
	bool is_err;
	struct fi_eq_err_entry err;	/* is_err */
	struct fi_info *info;		/* FI_CONNREQ's, freed with an unread entry */
	size_t len;			/* bytes of data (is_err: err_data) */
	uint8_t data[];
};

/* A domain whose progress reading the EQ runs. */
struct eq_source {
	struct fpgadma_domain *d;
	unsigned int count;		/* bindings through it */
};

struct fpgadma_eq {
	struct fid_eq eq_fid;
	struct fpgadma_fabric *fabric;
	pthread_mutex_t lock;		/* the queue and the wait signal */
	struct eq_entry *head, **tail;
	struct fpgadma_wait wait;
	int refs;			/* AVs bound */
	/* the progress list: its own lock, taken before any domain's */
	pthread_mutex_t plock;
	struct eq_source *srcs;
	size_t nsrcs, srcs_cap;
	/* err_data of the last error entry read without a buffer of its own */
	void *err_data;
};

static struct fi_ops eq_fi_ops;

struct fpgadma_eq *fpgadma_eq_from_fid(struct fid *fid)
{
	if (!fid || fid->fclass != FI_CLASS_EQ || fid->ops != &eq_fi_ops)
		return NULL;
	return container_of(fid, struct fpgadma_eq, eq_fid.fid);
}

void fpgadma_eq_get(struct fpgadma_eq *eq)
{
	__atomic_fetch_add(&eq->refs, 1, __ATOMIC_RELAXED);
}

void fpgadma_eq_put(struct fpgadma_eq *eq)
{
	__atomic_fetch_sub(&eq->refs, 1, __ATOMIC_RELEASE);
}

/* Called with eq->lock held. */
static void eq_push(struct fpgadma_eq *eq, struct eq_entry *e)
{
	e->next = NULL;
	*eq->tail = e;
	eq->tail = &e->next;
	fpgadma_wait_set(&eq->wait);
}

/* Called with eq->lock held. */
static void eq_pop(struct fpgadma_eq *eq)
{
	struct eq_entry *e = eq->head;

	eq->head = e->next;
	if (!eq->head) {
		eq->tail = &eq->head;
		fpgadma_wait_clear(&eq->wait);
	}
	free(e);
}

int fpgadma_eq_write_event(struct fpgadma_eq *eq, uint32_t event,
			   const void *buf, size_t len, uint64_t flags)
{
	struct eq_entry *e;

	(void)flags;
	if ((len && !buf) || len > INT_MAX)
		return -FI_EINVAL;	/* the return value is an int */
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		return -FI_ENOMEM;
	e->event = event;
	e->len = len;
	if (len)
		memcpy(e->data, buf, len);
	pthread_mutex_lock(&eq->lock);
	eq_push(eq, e);
	pthread_mutex_unlock(&eq->lock);
	return (int)len;
}

/* An error event with err_data_size bytes of err_data, queued. */
static int eq_push_error(struct fpgadma_eq *eq, fid_t fid, void *context,
			 uint64_t data, int err, int prov_errno,
			 const void *err_data, size_t err_data_size)
{
	struct eq_entry *e = calloc(1, sizeof(*e) + err_data_size);

	if (!e) {
		FPGADMA_WARN(FI_LOG_EQ, "error event lost: no memory\n");
		return -FI_ENOMEM;
	}
	e->is_err = true;
	e->err.fid = fid;
	e->err.context = context;
	e->err.data = data;
	e->err.err = err;
	e->err.prov_errno = prov_errno;
	e->len = err_data_size;
	if (err_data_size)
		memcpy(e->data, err_data, err_data_size);
	pthread_mutex_lock(&eq->lock);
	eq_push(eq, e);
	pthread_mutex_unlock(&eq->lock);
	return 0;
}

int fpgadma_eq_write_error(struct fpgadma_eq *eq, fid_t fid, void *context,
			   uint64_t data, int err, int prov_errno)
{
	return eq_push_error(eq, fid, context, data, err, prov_errno, NULL, 0);
}

int fpgadma_eq_write_error_data(struct fpgadma_eq *eq, fid_t fid,
				void *context, int err, int prov_errno,
				const void *err_data, size_t err_data_size)
{
	return eq_push_error(eq, fid, context, 0, err, prov_errno, err_data,
			     err_data_size);
}

int fpgadma_eq_write_cm(struct fpgadma_eq *eq, uint32_t event, fid_t fid,
			struct fi_info *info, const void *data, size_t len)
{
	struct fi_eq_cm_entry *cm;
	struct eq_entry *e;

	e = calloc(1, sizeof(*e) + sizeof(*cm) + len);
	if (!e) {
		FPGADMA_WARN(FI_LOG_EQ, "connection event %u lost: no memory\n",
			     event);
		return -FI_ENOMEM;
	}
	e->event = event;
	e->info = info;
	e->len = sizeof(*cm) + len;
	cm = (struct fi_eq_cm_entry *)e->data;
	cm->fid = fid;
	cm->info = info;
	if (len)
		memcpy(cm->data, data, len);
	pthread_mutex_lock(&eq->lock);
	eq_push(eq, e);
	pthread_mutex_unlock(&eq->lock);
	return 0;
}

/* --- the progress list --------------------------------------------------- */

int fpgadma_eq_progress_add(struct fpgadma_eq *eq, struct fpgadma_domain *d)
{
	size_t i;
	int ret = 0;

	pthread_mutex_lock(&eq->plock);
	for (i = 0; i < eq->nsrcs; i++) {
		if (eq->srcs[i].d == d) {
			eq->srcs[i].count++;
			goto out;
		}
	}
	if (eq->nsrcs == eq->srcs_cap) {
		size_t cap = eq->srcs_cap ? 2 * eq->srcs_cap : 4;
		struct eq_source *n = realloc(eq->srcs, cap * sizeof(*n));

		if (!n) {
			ret = -FI_ENOMEM;
			goto out;
		}
		eq->srcs = n;
		eq->srcs_cap = cap;
	}
	if (eq->wait.epfd >= 0) {
		struct epoll_event ev = {
			.events = EPOLLIN,
			.data.fd = fpgadma_get_fd(d->ctx),
		};

		if (epoll_ctl(eq->wait.epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) &&
		    errno != EEXIST) {
			ret = fpgadma_errno_to_fi(-errno);
			goto out;
		}
	}
	eq->srcs[eq->nsrcs].d = d;
	eq->srcs[eq->nsrcs].count = 1;
	eq->nsrcs++;
	fpgadma_domain_get(d);
out:
	pthread_mutex_unlock(&eq->plock);
	return ret;
}

void fpgadma_eq_progress_del(struct fpgadma_eq *eq, struct fpgadma_domain *d)
{
	size_t i;

	pthread_mutex_lock(&eq->plock);
	for (i = 0; i < eq->nsrcs; i++) {
		if (eq->srcs[i].d != d)
			continue;
		if (--eq->srcs[i].count)
			break;
		if (eq->wait.epfd >= 0)
			epoll_ctl(eq->wait.epfd, EPOLL_CTL_DEL,
				  fpgadma_get_fd(d->ctx), NULL);
		eq->srcs[i] = eq->srcs[--eq->nsrcs];
		fpgadma_domain_put(d);
		break;
	}
	pthread_mutex_unlock(&eq->plock);
}

/*
 * Run the progress of the domains on the list: their connection messages
 * become events.  No lock held.  Returns the shortest sleep any of them
 * allows (fpgadma_dp_eq_slice_ms: 0 for no limit).
 */
static int eq_progress(struct fpgadma_eq *eq)
{
	int slice = 0;
	size_t i;

	pthread_mutex_lock(&eq->plock);
	for (i = 0; i < eq->nsrcs; i++) {
		int ms;

		fpgadma_progress(eq->srcs[i].d);
		ms = fpgadma_dp_eq_slice_ms(eq->srcs[i].d);
		if (ms && (!slice || ms < slice))
			slice = ms;
	}
	pthread_mutex_unlock(&eq->plock);
	return slice;
}

bool fpgadma_eq_wait_check(struct fpgadma_eq *eq, int *slice_ms)
{
	bool ready;

	*slice_ms = eq_progress(eq);
	pthread_mutex_lock(&eq->lock);
	ready = eq->head != NULL;
	pthread_mutex_unlock(&eq->lock);
	return ready;
}

int fpgadma_eq_trywait(struct fpgadma_eq *eq)
{
	int slice, ret;

	slice = eq_progress(eq);
	pthread_mutex_lock(&eq->lock);
	ret = eq->head ? -FI_EAGAIN : 0;
	pthread_mutex_unlock(&eq->lock);
	/*
	 * A resend waiting for its time (a CONNREQ before the server bound
	 * the service) has no fd to wake a sleeper: as fpgadma_cq_trywait.
	 */
	if (!ret && slice)
		ret = -FI_EAGAIN;
	return ret;
}

/* --- fi_ops_eq ------------------------------------------------------------- */

static ssize_t eq_read(struct fid_eq *eq_fid, uint32_t *event, void *buf,
		       size_t len, uint64_t flags)
{
	struct fpgadma_eq *eq = container_of(eq_fid, struct fpgadma_eq, eq_fid);
	struct eq_entry *e;
	ssize_t ret;

	size_t n;

	eq_progress(eq);
	pthread_mutex_lock(&eq->lock);
	e = eq->head;
	n = e ? e->len : 0;
	/*
	 * fi_eq_cm_entry: "connection data placed here, up to space
	 * provided": a connection event is cut to the buffer, if the entry
	 * itself fits.
	 */
	if (e && !e->is_err && (e->event == FI_CONNREQ ||
				e->event == FI_CONNECTED ||
				e->event == FI_SHUTDOWN) &&
	    len >= sizeof(struct fi_eq_cm_entry) && len < n)
		n = len;
	if (!e) {
		ret = -FI_EAGAIN;
	} else if (e->is_err) {
		ret = -FI_EAVAIL;
	} else if (len < n || (n && !buf)) {
		ret = -FI_ETOOSMALL;
	} else {
		if (event)
			*event = e->event;
		if (n)
			memcpy(buf, e->data, n);
		ret = (ssize_t)n;
		if (!(flags & FI_PEEK)) {
			e->info = NULL;	/* the application's now */
			eq_pop(eq);
		}
	}
	pthread_mutex_unlock(&eq->lock);
	return ret;
}

/*
 * The error entry grew err_data_size in 1.5: older applications have the
 * shorter struct, and err_data is then the provider's to point.  Error
 * data (a reject's CM data) goes into the application's err_data when it
 * gives a buffer (err_data_size > 0, as much as fits); else err_data
 * points at the provider's copy, valid until the next fi_eq_readerr.
 */
static ssize_t eq_readerr(struct fid_eq *eq_fid, struct fi_eq_err_entry *buf,
			  uint64_t flags)
{
	struct fpgadma_eq *eq = container_of(eq_fid, struct fpgadma_eq, eq_fid);
	bool old_api = FI_VERSION_LT(eq->fabric->fabric_fid.api_version,
				     FI_VERSION(1, 5));
	struct fi_eq_err_entry err;
	struct eq_entry *e;

	pthread_mutex_lock(&eq->lock);
	e = eq->head;
	if (!e || !e->is_err) {
		pthread_mutex_unlock(&eq->lock);
		return -FI_EAGAIN;
	}
	err = e->err;
	err.err_data = NULL;
	err.err_data_size = 0;
	if (!old_api && buf->err_data_size && buf->err_data) {
		err.err_data = buf->err_data;
		err.err_data_size = e->len < buf->err_data_size ? e->len :
				    buf->err_data_size;
		memcpy(err.err_data, e->data, err.err_data_size);
	} else if (!old_api && e->len && !(flags & FI_PEEK)) {
		void *copy = malloc(e->len);

		if (copy) {
			memcpy(copy, e->data, e->len);
			free(eq->err_data);
			eq->err_data = copy;
			err.err_data = copy;
			err.err_data_size = e->len;
		}
	} else if (!old_api && e->len) {
		/* FI_PEEK: the entry's own bytes stay until it is read */
		err.err_data = e->data;
		err.err_data_size = e->len;
	}
	memcpy(buf, &err, old_api ? offsetof(struct fi_eq_err_entry, err_data_size) :
	       sizeof(err));
	if (!(flags & FI_PEEK))
		eq_pop(eq);
	pthread_mutex_unlock(&eq->lock);
	return sizeof(*buf);
}

static ssize_t eq_write(struct fid_eq *eq_fid, uint32_t event, const void *buf,
			size_t len, uint64_t flags)
{
	struct fpgadma_eq *eq = container_of(eq_fid, struct fpgadma_eq, eq_fid);

	return fpgadma_eq_write_event(eq, event, buf, len, flags);
}

static ssize_t eq_sread(struct fid_eq *eq_fid, uint32_t *event, void *buf,
			size_t len, int timeout, uint64_t flags)
{
	struct fpgadma_eq *eq = container_of(eq_fid, struct fpgadma_eq, eq_fid);
	uint64_t deadline = fpgadma_deadline(timeout);
	ssize_t ret;
	int left, slice;

	if (eq->wait.wait_obj == FI_WAIT_NONE)
		return -FI_EINVAL;	/* fi_eq(3): no blocking without a wait object */
	for (;;) {
		ret = eq_read(eq_fid, event, buf, len, flags);
		if (ret != -FI_EAGAIN)
			return ret;
		/* a resend due to a connection peer has no fd to wake us */
		slice = eq_progress(eq);
		left = fpgadma_time_left(deadline, slice);
		if (!left)
			return -FI_EAGAIN;
		ret = fpgadma_wait_sleep(&eq->wait, left);
		if (ret < 0)
			return ret;
	}
}

static const char *eq_strerror(struct fid_eq *eq, int prov_errno,
			       const void *err_data, char *buf, size_t len)
{
	const char *str = fpgadma_prov_strerror(prov_errno);

	(void)eq; (void)err_data;
	if (buf && len) {
		strncpy(buf, str, len - 1);
		buf[len - 1] = '\0';
		return buf;
	}
	return str;
}

/* --- fi_ops ---------------------------------------------------------------- */

static int eq_control(struct fid *fid, int command, void *arg)
{
	struct fpgadma_eq *eq = container_of(fid, struct fpgadma_eq, eq_fid.fid);

	return fpgadma_wait_control(&eq->wait, command, arg);
}

static int eq_close(struct fid *fid)
{
	struct fpgadma_eq *eq = container_of(fid, struct fpgadma_eq, eq_fid.fid);

	if (__atomic_load_n(&eq->refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	/* out of its wait set first: an fi_wait there looks at the queue and list */
	if (eq->wait.set)
		fpgadma_waitset_del(eq->wait.set, &eq->wait);
	while (eq->head) {
		struct eq_entry *e = eq->head;

		eq->head = e->next;
		fi_freeinfo(e->info);	/* an FI_CONNREQ nobody read */
		free(e);
	}
	/* every binding that put a domain on the list holds a reference */
	free(eq->srcs);
	free(eq->err_data);
	fpgadma_wait_fini(&eq->wait);
	pthread_mutex_destroy(&eq->plock);
	pthread_mutex_destroy(&eq->lock);
	fpgadma_fabric_put(eq->fabric);
	free(eq);
	return 0;
}

static struct fi_ops eq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = eq_close,
	.bind = fpgadma_no_bind,
	.control = eq_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_eq eq_ops = {
	.size = sizeof(struct fi_ops_eq),
	.read = eq_read,
	.readerr = eq_readerr,
	.write = eq_write,
	.sread = eq_sread,
	.strerror = eq_strerror,
};

int fpgadma_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr,
		    struct fid_eq **eq_fid, void *context)
{
	struct fpgadma_fabric *f =
		container_of(fabric, struct fpgadma_fabric, fabric_fid);
	struct fpgadma_waitset *ws;
	struct fpgadma_eq *eq;
	int ret;

	if (!attr)
		return -FI_EINVAL;
	if (attr->flags & ~(uint64_t)FI_WRITE)
		return -FI_EBADFLAGS;
	ret = fpgadma_waitset_lookup(attr->wait_obj, attr->wait_set, f, &ws);
	if (ret)
		return ret;
	eq = calloc(1, sizeof(*eq));
	if (!eq)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&eq->lock, NULL);
	if (ret)
		goto err_free;
	ret = -pthread_mutex_init(&eq->plock, NULL);
	if (ret) {
		pthread_mutex_destroy(&eq->lock);
		goto err_free;
	}
	ret = fpgadma_wait_init(&eq->wait, attr->wait_obj, -1);
	if (ret)
		goto err_mutex;
	eq->tail = &eq->head;
	eq->fabric = f;
	eq->eq_fid.fid.fclass = FI_CLASS_EQ;
	eq->eq_fid.fid.context = context;
	eq->eq_fid.fid.ops = &eq_fi_ops;
	eq->eq_fid.ops = &eq_ops;
	if (ws) {
		ret = fpgadma_waitset_add(ws, &eq->wait, &eq->eq_fid.fid);
		if (ret)
			goto err_wait;
	}
	fpgadma_fabric_get(f);
	*eq_fid = &eq->eq_fid;
	return 0;

err_wait:
	fpgadma_wait_fini(&eq->wait);
err_mutex:
	pthread_mutex_destroy(&eq->plock);
	pthread_mutex_destroy(&eq->lock);
err_free:
	free(eq);
	return ret;
}
