// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Completion queues.
 *
 * The data plane writes completions (fpgadma_cq_write, _write_err) while it
 * runs progress under domain->lock; the application reads them.  Progress
 * is manual, so every read runs it first, with no lock held (it takes
 * domain->lock itself).  Entries, errors included, keep their order; an
 * error at the head makes fi_cq_read fail with -FI_EAVAIL until
 * fi_cq_readerr takes it.  The queue is a ring that doubles when full, so
 * no completion is ever dropped; the size attribute is a hint.
 *
 * Waiting (FI_WAIT_FD, FI_WAIT_UNSPEC): an epoll fd holds the CQ's signal,
 * an eventfd readable while the queue has entries or fi_cq_signal was
 * called, and the fd of the domain's context, readable while the kernel has
 * completions that progress has not taken yet.  So the fd FI_GETWAIT
 * returns is readable whenever a read may find something.  FI_WAIT_SET:
 * the CQ has the same epoll fd, in its wait set's (wait.c), and
 * fi_cq_sread still sleeps on its own.
 *
 * Error completions carry err_data only when they have something for
 * fi_cq_strerror to print that prov_errno cannot say (a paced stream's
 * lost frames: how many, before which frame).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpgadma_prov.h"

struct cq_entry {
	struct fpgadma_comp c;
	bool is_err;
	int err;		/* positive FI_E* */
	int prov_errno;
	size_t olen;
	size_t err_data_size;	/* 0: none */
	uint64_t err_data[FPGADMA_CQ_ERR_DATA_MAX / 8];
};

struct fpgadma_cq {
	struct fid_cq cq_fid;
	struct fpgadma_domain *domain;
	enum fi_cq_format format;
	pthread_mutex_t lock;		/* ring, signaled, the wait signal */
	struct cq_entry *ring;
	size_t cap;			/* a power of two, or 0 */
	size_t head;
	size_t count;
	bool signaled;			/* fi_cq_signal not yet seen by sread */
	unsigned int idle;		/* empty fi_cq_reads in a row */
	struct fpgadma_wait wait;
	int refs;			/* endpoints bound */
	/* err_data handed out as the provider's, until the next readerr */
	uint64_t err_buf[FPGADMA_CQ_ERR_DATA_MAX / 8];
	char str_buf[192];		/* fi_cq_strerror's text without a buf */
};

static struct fi_ops cq_fi_ops;

struct fpgadma_cq *fpgadma_cq_from_fid(struct fid *fid)
{
	if (!fid || fid->fclass != FI_CLASS_CQ || fid->ops != &cq_fi_ops)
		return NULL;
	return container_of(fid, struct fpgadma_cq, cq_fid.fid);
}

void fpgadma_cq_get(struct fpgadma_cq *cq)
{
	__atomic_fetch_add(&cq->refs, 1, __ATOMIC_RELAXED);
}

void fpgadma_cq_put(struct fpgadma_cq *cq)
{
	__atomic_fetch_sub(&cq->refs, 1, __ATOMIC_RELEASE);
}

struct fpgadma_domain *fpgadma_cq_domain(struct fpgadma_cq *cq)
{
	return cq->domain;
}

/* --- the ring (cq->lock held) --------------------------------------------- */

/* The wait signal follows the state: set while there is something to read. */
static void cq_update_signal(struct fpgadma_cq *cq)
{
	if (cq->count || cq->signaled)
		fpgadma_wait_set(&cq->wait);
	else
		fpgadma_wait_clear(&cq->wait);
}

static int cq_grow(struct fpgadma_cq *cq)
{
	size_t cap = cq->cap ? cq->cap * 2 : 64, i;
	struct cq_entry *ring;

	ring = malloc(cap * sizeof(*ring));
	if (!ring)
		return -FI_ENOMEM;
	for (i = 0; i < cq->count; i++)
		ring[i] = cq->ring[(cq->head + i) & (cq->cap - 1)];
	free(cq->ring);
	cq->ring = ring;
	cq->cap = cap;
	cq->head = 0;
	return 0;
}

static void cq_push(struct fpgadma_cq *cq, const struct cq_entry *e)
{
	if (cq->count == cq->cap && cq_grow(cq)) {
		/* Nothing else can be done from inside progress. */
		FPGADMA_WARN(FI_LOG_CQ, "completion lost: no memory to grow the CQ\n");
		return;
	}
	cq->ring[(cq->head + cq->count) & (cq->cap - 1)] = *e;
	cq->count++;
	cq_update_signal(cq);
}

static struct cq_entry *cq_head(struct fpgadma_cq *cq)
{
	return cq->count ? &cq->ring[cq->head] : NULL;
}

static void cq_pop(struct fpgadma_cq *cq)
{
	cq->head = (cq->head + 1) & (cq->cap - 1);
	cq->count--;
}

/* --- writers (the data plane) ------------------------------------------------ */

void fpgadma_cq_write(struct fpgadma_cq *cq, const struct fpgadma_comp *c)
{
	struct cq_entry e = { .c = *c };

	pthread_mutex_lock(&cq->lock);
	cq_push(cq, &e);
	pthread_mutex_unlock(&cq->lock);
}

void fpgadma_cq_write_err(struct fpgadma_cq *cq, const struct fpgadma_comp *c,
			  int err, int prov_errno, size_t olen)
{
	struct cq_entry e = {
		.c = *c,
		.is_err = true,
		.err = err,
		.prov_errno = prov_errno,
		.olen = olen,
	};

	pthread_mutex_lock(&cq->lock);
	cq_push(cq, &e);
	pthread_mutex_unlock(&cq->lock);
}

void fpgadma_cq_write_err_data(struct fpgadma_cq *cq,
			       const struct fpgadma_comp *c, int err,
			       int prov_errno, size_t olen,
			       const void *err_data, size_t err_data_size)
{
	struct cq_entry e = {
		.c = *c,
		.is_err = true,
		.err = err,
		.prov_errno = prov_errno,
		.olen = olen,
	};

	if (err_data && err_data_size) {
		if (err_data_size > sizeof(e.err_data))
			err_data_size = sizeof(e.err_data);
		memcpy(e.err_data, err_data, err_data_size);
		e.err_data_size = err_data_size;
	}
	pthread_mutex_lock(&cq->lock);
	cq_push(cq, &e);
	pthread_mutex_unlock(&cq->lock);
}

/* --- readers ---------------------------------------------------------------- */

static size_t format_size(enum fi_cq_format format)
{
	switch (format) {
	case FI_CQ_FORMAT_CONTEXT:
		return sizeof(struct fi_cq_entry);
	case FI_CQ_FORMAT_MSG:
		return sizeof(struct fi_cq_msg_entry);
	case FI_CQ_FORMAT_DATA:
		return sizeof(struct fi_cq_data_entry);
	case FI_CQ_FORMAT_TAGGED:
		return sizeof(struct fi_cq_tagged_entry);
	default:
		return 0;
	}
}

/* Entry i of the application's array, in the CQ's format. */
static void cq_copy_out(const struct fpgadma_cq *cq, void *buf, size_t i,
			const struct fpgadma_comp *c)
{
	struct fi_cq_tagged_entry t = {
		.op_context = c->op_context,
		.flags = c->flags,
		.len = c->len,
		.buf = c->buf,
		.data = c->data,
		.tag = c->tag,
	};
	size_t size = format_size(cq->format);

	/* Every format is a prefix of the tagged one. */
	memcpy((char *)buf + i * size, &t, size);
}

/* Progress, then take up to count entries (fi_cq_readfrom without the yield). */
static ssize_t cq_take(struct fid_cq *cq_fid, void *buf, size_t count,
		       fi_addr_t *src_addr)
{
	struct fpgadma_cq *cq = container_of(cq_fid, struct fpgadma_cq, cq_fid);
	struct cq_entry *e;
	ssize_t ret;
	size_t i;

	fpgadma_progress(cq->domain);

	pthread_mutex_lock(&cq->lock);
	for (i = 0; i < count; i++) {
		e = cq_head(cq);
		if (!e || e->is_err)
			break;
		cq_copy_out(cq, buf, i, &e->c);
		if (src_addr)
			src_addr[i] = e->c.src_addr;
		cq_pop(cq);
	}
	if (i)
		ret = (ssize_t)i;
	else if (!cq->count)
		ret = -FI_EAGAIN;
	else if (cq_head(cq)->is_err)
		ret = -FI_EAVAIL;
	else
		ret = 0;	/* count 0: progress only */
	cq_update_signal(cq);
	pthread_mutex_unlock(&cq->lock);
	return ret;
}

static ssize_t cq_readfrom(struct fid_cq *cq_fid, void *buf, size_t count,
			   fi_addr_t *src_addr)
{
	struct fpgadma_cq *cq = container_of(cq_fid, struct fpgadma_cq, cq_fid);
	ssize_t ret = cq_take(cq_fid, buf, count, src_addr);

	fpgadma_poll_idle(&cq->idle, ret == -FI_EAGAIN);
	return ret;
}

static ssize_t cq_read(struct fid_cq *cq_fid, void *buf, size_t count)
{
	return cq_readfrom(cq_fid, buf, count, NULL);
}

/*
 * fi_cq(3): before 1.5 the error entry had no err_data_size and err_data
 * was the provider's; from 1.5 err_data is the application's buffer when
 * err_data_size is non-zero.  Most errors have no error data beyond
 * prov_errno, and copy none either way.  An entry with err_data (a paced
 * stream's lost frames) goes into the application's buffer when it is
 * large enough, else err_data points at the CQ's copy, valid until the
 * next fi_cq_readerr (as fi_cq(3) says for err_data_size 0).
 */
static ssize_t cq_readerr(struct fid_cq *cq_fid, struct fi_cq_err_entry *buf,
			  uint64_t flags)
{
	struct fpgadma_cq *cq = container_of(cq_fid, struct fpgadma_cq, cq_fid);
	bool old_api = FI_VERSION_LT(fpgadma_domain_api_version(cq->domain),
				     FI_VERSION(1, 5));
	struct fi_cq_err_entry err;
	struct cq_entry *e;

	(void)flags;
	fpgadma_progress(cq->domain);

	pthread_mutex_lock(&cq->lock);
	e = cq_head(cq);
	if (!e || !e->is_err) {
		pthread_mutex_unlock(&cq->lock);
		return -FI_EAGAIN;
	}
	err = (struct fi_cq_err_entry){
		.op_context = e->c.op_context,
		.flags = e->c.flags,
		.len = e->c.len,
		.buf = e->c.buf,
		.data = e->c.data,
		.tag = e->c.tag,
		.olen = e->olen,
		.err = e->err,
		.prov_errno = e->prov_errno,
		.err_data = (old_api || !buf->err_data_size) ? NULL :
			    buf->err_data,
		.err_data_size = 0,
	};
	if (e->err_data_size) {
		if (!old_api && buf->err_data &&
		    buf->err_data_size >= e->err_data_size) {
			memcpy(buf->err_data, e->err_data, e->err_data_size);
		} else {
			memcpy(cq->err_buf, e->err_data, e->err_data_size);
			err.err_data = cq->err_buf;
		}
		err.err_data_size = e->err_data_size;
	}
	memcpy(buf, &err, old_api ? offsetof(struct fi_cq_err_entry, err_data_size) :
	       sizeof(err));
	cq_pop(cq);
	cq_update_signal(cq);
	pthread_mutex_unlock(&cq->lock);
	return 1;
}

/* Take back a pending fi_cq_signal: true if there was one. */
static bool cq_take_signal(struct fpgadma_cq *cq)
{
	bool was;

	pthread_mutex_lock(&cq->lock);
	was = cq->signaled;
	cq->signaled = false;
	cq_update_signal(cq);
	pthread_mutex_unlock(&cq->lock);
	return was;
}

static ssize_t cq_sreadfrom(struct fid_cq *cq_fid, void *buf, size_t count,
			    fi_addr_t *src_addr, const void *cond, int timeout)
{
	struct fpgadma_cq *cq = container_of(cq_fid, struct fpgadma_cq, cq_fid);
	uint64_t deadline = fpgadma_deadline(timeout);
	ssize_t ret;
	int left;

	(void)cond;	/* FI_CQ_COND_THRESHOLD is a hint: one is enough */
	for (;;) {
		ret = cq_take(cq_fid, buf, count, src_addr);
		if (ret != -FI_EAGAIN)
			return ret;
		if (cq_take_signal(cq))
			return -FI_EAGAIN;
		left = fpgadma_time_left(deadline,
					 fpgadma_dp_slice_ms(cq->domain));
		if (!left)
			return -FI_EAGAIN;
		ret = fpgadma_wait_sleep(&cq->wait, left);
		if (ret < 0)
			return ret;
	}
}

static ssize_t cq_sread(struct fid_cq *cq_fid, void *buf, size_t count,
			const void *cond, int timeout)
{
	return cq_sreadfrom(cq_fid, buf, count, NULL, cond, timeout);
}

static ssize_t cq_no_sreadfrom(struct fid_cq *cq_fid, void *buf, size_t count,
			       fi_addr_t *src_addr, const void *cond,
			       int timeout)
{
	(void)cq_fid; (void)buf; (void)count; (void)src_addr; (void)cond;
	(void)timeout;
	return -FI_ENOSYS;	/* FI_WAIT_NONE: fi_cq(3) forbids blocking */
}

static ssize_t cq_no_sread(struct fid_cq *cq_fid, void *buf, size_t count,
			   const void *cond, int timeout)
{
	return cq_no_sreadfrom(cq_fid, buf, count, NULL, cond, timeout);
}

static int cq_signal(struct fid_cq *cq_fid)
{
	struct fpgadma_cq *cq = container_of(cq_fid, struct fpgadma_cq, cq_fid);

	pthread_mutex_lock(&cq->lock);
	cq->signaled = true;
	cq_update_signal(cq);
	pthread_mutex_unlock(&cq->lock);
	return 0;
}

/*
 * A paced stream's lost frames, from the err_data of their error
 * completion: the text into out (len bytes).  false if err_data is not
 * such (NULL, or without the magic number).
 */
static bool frames_lost_str(const void *err_data, char *out, size_t len)
{
	struct fpgadma_frames_lost fl;

	if (!err_data)
		return false;
	memcpy(&fl, err_data, sizeof(fl));
	if (fl.magic != FPGADMA_FRAMES_LOST_MAGIC)
		return false;
	snprintf(out, len, "%" PRIu64 " frame%s lost before frame %" PRIu64
		 ": the device's FIFO was full (the receives were not posted "
		 "fast enough)", fl.lost, fl.lost == 1 ? "" : "s", fl.next_seq);
	return true;
}

static const char *cq_strerror(struct fid_cq *cq_fid, int prov_errno,
			       const void *err_data, char *buf, size_t len)
{
	struct fpgadma_cq *cq = container_of(cq_fid, struct fpgadma_cq, cq_fid);
	const char *str = fpgadma_prov_strerror(prov_errno);

	if (prov_errno == FI_FPGADMA_ERR_FRAMES_LOST) {
		/* without a buf: the CQ's, until the next such call */
		if (buf && len && frames_lost_str(err_data, buf, len))
			return buf;
		if ((!buf || !len) &&
		    frames_lost_str(err_data, cq->str_buf, sizeof(cq->str_buf)))
			return cq->str_buf;
	}
	if (buf && len) {
		strncpy(buf, str, len - 1);
		buf[len - 1] = '\0';
		return buf;
	}
	return str;
}

bool fpgadma_cq_ready(struct fpgadma_cq *cq)
{
	bool ready;

	pthread_mutex_lock(&cq->lock);
	ready = cq->count || cq->signaled;
	pthread_mutex_unlock(&cq->lock);
	return ready;
}

bool fpgadma_cq_wait_check(struct fpgadma_cq *cq, int *slice_ms)
{
	bool ready;

	fpgadma_progress(cq->domain);
	pthread_mutex_lock(&cq->lock);
	ready = cq->count || cq->signaled;
	cq->signaled = false;
	cq_update_signal(cq);
	pthread_mutex_unlock(&cq->lock);
	*slice_ms = fpgadma_dp_slice_ms(cq->domain);
	return ready;
}

int fpgadma_cq_trywait(struct fpgadma_cq *cq)
{
	int ret;

	fpgadma_progress(cq->domain);
	pthread_mutex_lock(&cq->lock);
	ret = cq->count ? -FI_EAGAIN : 0;
	pthread_mutex_unlock(&cq->lock);
	/* A resend waiting for its time has no fd to wake a sleeper. */
	if (!ret && fpgadma_dp_timeout_ms(cq->domain) >= 0)
		ret = -FI_EAGAIN;
	return ret;
}

/* --- fi_ops ------------------------------------------------------------------ */

static int cq_control(struct fid *fid, int command, void *arg)
{
	struct fpgadma_cq *cq = container_of(fid, struct fpgadma_cq, cq_fid.fid);

	return fpgadma_wait_control(&cq->wait, command, arg);
}

static int cq_close(struct fid *fid)
{
	struct fpgadma_cq *cq = container_of(fid, struct fpgadma_cq, cq_fid.fid);

	if (__atomic_load_n(&cq->refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	fpgadma_wait_fini(&cq->wait);
	pthread_mutex_destroy(&cq->lock);
	fpgadma_domain_put(cq->domain);
	free(cq->ring);
	free(cq);
	return 0;
}

static struct fi_ops cq_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = cq_close,
	.bind = fpgadma_no_bind,
	.control = cq_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_cq cq_ops = {
	.size = sizeof(struct fi_ops_cq),
	.read = cq_read,
	.readfrom = cq_readfrom,
	.readerr = cq_readerr,
	.sread = cq_sread,
	.sreadfrom = cq_sreadfrom,
	.signal = cq_signal,
	.strerror = cq_strerror,
};

static struct fi_ops_cq cq_nowait_ops = {
	.size = sizeof(struct fi_ops_cq),
	.read = cq_read,
	.readfrom = cq_readfrom,
	.readerr = cq_readerr,
	.sread = cq_no_sread,
	.sreadfrom = cq_no_sreadfrom,
	.signal = cq_signal,
	.strerror = cq_strerror,
};

int fpgadma_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr,
		    struct fid_cq **cq_fid, void *context)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	struct fpgadma_waitset *ws;
	struct fpgadma_cq *cq;
	int ret;

	if (!attr)
		return -FI_EINVAL;
	if (attr->format != FI_CQ_FORMAT_UNSPEC && !format_size(attr->format))
		return -FI_ENOSYS;
	if (attr->wait_cond != FI_CQ_COND_NONE &&
	    attr->wait_cond != FI_CQ_COND_THRESHOLD)
		return -FI_EINVAL;
	if (attr->flags & ~(uint64_t)FI_AFFINITY)
		return -FI_EBADFLAGS;
	ret = fpgadma_waitset_lookup(attr->wait_obj, attr->wait_set, d->fabric,
				     &ws);
	if (ret)
		return ret;

	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&cq->lock, NULL);
	if (ret)
		goto err_free;
	ret = fpgadma_wait_init(&cq->wait, attr->wait_obj,
				fpgadma_get_fd(d->ctx));
	if (ret)
		goto err_mutex;
	cq->domain = d;
	cq->format = attr->format == FI_CQ_FORMAT_UNSPEC ?
		     FI_CQ_FORMAT_CONTEXT : attr->format;
	cq->cq_fid.fid.fclass = FI_CLASS_CQ;
	cq->cq_fid.fid.context = context;
	cq->cq_fid.fid.ops = &cq_fi_ops;
	cq->cq_fid.ops = cq->wait.wait_obj == FI_WAIT_NONE ? &cq_nowait_ops :
			 &cq_ops;
	if (ws) {
		ret = fpgadma_waitset_add(ws, &cq->wait, &cq->cq_fid.fid);
		if (ret)
			goto err_wait;
	}
	fpgadma_domain_get(d);
	*cq_fid = &cq->cq_fid;
	return 0;

err_wait:
	fpgadma_wait_fini(&cq->wait);
err_mutex:
	pthread_mutex_destroy(&cq->lock);
err_free:
	free(cq);
	return ret;
}
