// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libfpgadma: a verbs-style C API over the fpgadma kernel ABI
 * (include/uapi/fpgadma-abi.h).  The public API is include/fpgadma.h.
 *
 * One context is one open device node: one kernel context and one
 * completion ring mmapped from it.  PDs exist only here, in user space: they
 * group a context's MRs so that a PD cannot be freed under them.  Every MR
 * and PD is tracked in its context so that fpgadma_close() can release what
 * the caller forgot.
 *
 * Paced streams (FPGADMA_CAP_STREAM) are tracked the same way: the
 * context maps the kernel's stream area (one control block per stream) at
 * open, each stream points at its block and at its ring in the MR's
 * memory, and the fast path (stream.h) works on those without a system
 * call.  fpgadma_close() stops and frees the streams the caller did not.
 *
 * Locking: cq_lock serialises consumers of the completion ring (the kernel
 * is the only producer); res_lock protects the PD, MR and stream lists.
 * Neither is held across an ioctl.
 *
 * fork(): the kernel refuses ioctls from any process but the one that opened
 * the device (EACCES), and the ring mapping is not inherited.  A fork child
 * would fault on the ring, so a pthread_atfork() handler bumps a generation
 * counter and every call compares it with the one the context was opened
 * in: the check costs a load, not a system call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>
#include "dlist.h"
#include "ring.h"
#include "stream.h"

struct fpgadma_pd_priv {
	struct fpgadma_pd pub;		/* first: the caller's pointer */
	struct dl node;	/* in context->pds */
	unsigned long nr_mrs;		/* live MRs of this PD */
};

struct fpgadma_mr_priv {
	struct fpgadma_mr pub;		/* first: the caller's pointer */
	struct dl node;	/* in context->mrs */
};

/* A paced stream; opaque to the caller. */
struct fpgadma_stream {
	struct fpgadma_stream_ring ring;	/* the fast path's view */
	struct fpgadma_context *context;
	struct dl node;	/* in context->streams */
	uint32_t id;
};

struct fpgadma_context {
	int fd;
	unsigned long fork_gen;		/* fpgadma_fork_gen at open */
	struct fpgadma_query query;
	void *ring_map;
	size_t ring_len;
	const uint32_t *mon;		/* the monitor area, read-only; or NULL */
	size_t mon_len;
	void *stream_area;		/* the stream area, read-write; or NULL */
	size_t stream_len;
	void *mem_map;			/* the device memory (fpgadma_mem_map); or NULL */
	void *inbox;			/* the inbox (fpgadma_chan_inbox); or NULL */
	struct chan_map *chans;		/* channels mapped (fpgadma_chan_map) */

	pthread_mutex_t cq_lock;	/* consumers of ring */
	struct fpgadma_ring ring;

	pthread_mutex_t res_lock;	/* pds, mrs, pd->nr_mrs, streams */
	struct dl pds;
	struct dl mrs;
	struct dl streams;
};

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static struct fpgadma_pd_priv *to_pd_priv(struct fpgadma_pd *pd)
{
	return container_of(pd, struct fpgadma_pd_priv, pub);
}

static struct fpgadma_mr_priv *to_mr_priv(struct fpgadma_mr *mr)
{
	return container_of(mr, struct fpgadma_mr_priv, pub);
}

/* ---- fork detection ---- */

static unsigned long fpgadma_fork_gen;
static pthread_once_t fpgadma_atfork_once = PTHREAD_ONCE_INIT;
static int fpgadma_atfork_err;

static void fpgadma_atfork_child(void)
{
	__atomic_add_fetch(&fpgadma_fork_gen, 1, __ATOMIC_RELAXED);
}

static void fpgadma_atfork_register(void)
{
	fpgadma_atfork_err = pthread_atfork(NULL, NULL, fpgadma_atfork_child);
}

/* True in a fork child of the process that opened ctx. */
static bool ctx_forked(const struct fpgadma_context *ctx)
{
	return __atomic_load_n(&fpgadma_fork_gen, __ATOMIC_RELAXED) != ctx->fork_gen;
}

/* ioctl() returning 0 or -errno; restarted on EINTR (the ABI makes a call
 * that returns EINTR a call that did nothing). */
static int fpgadma_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

/* ---- open, query, close ---- */

/*
 * Unmap the ring.  munmap() can fail with ENOMEM (6.1's maple tree
 * allocates to remove a mapping); a mapping left behind would keep the
 * file, and so the kernel context with its endpoint number and ring, alive
 * until the process exits.  The shortage is passing: try again a while.
 */
static int ring_unmap(void *addr, size_t len)
{
	unsigned int tries;

	for (tries = 0; munmap(addr, len); tries++) {
		if (errno != ENOMEM || tries == 1000)
			return -errno;
		sched_yield();
	}
	return 0;
}

/* A channel mapped by fpgadma_chan_map, for fpgadma_close to unmap. */
struct chan_map {
	struct chan_map *next;
	void *addr;
};

/* Unmap what fpgadma_chan_inbox and fpgadma_chan_map mapped; res_lock held. */
static int chan_unmap_all(struct fpgadma_context *ctx)
{
	int ret = 0, err;

	while (ctx->chans) {
		struct chan_map *c = ctx->chans;

		ctx->chans = c->next;
		err = ring_unmap(c->addr, FPGADMA_CHAN_SLOT_SIZE);
		if (err && !ret)
			ret = err;
		free(c);
	}
	if (ctx->inbox) {
		err = ring_unmap(ctx->inbox, FPGADMA_CHAN_INBOX_SIZE);
		if (err && !ret)
			ret = err;
		ctx->inbox = NULL;
	}
	return ret;
}

/*
 * Reject a ring layout this library cannot consume safely: the offsets come
 * from the kernel, but a wrong one would make fpgadma_poll() read outside
 * the mapping.
 */
static int check_query(const struct fpgadma_query *q)
{
	uint64_t size = q->ring_size;

	if (q->abi_version != FPGADMA_ABI_VERSION)
		return -EPROTO;
	if (q->cq_entries == 0 || (q->cq_entries & (q->cq_entries - 1)))
		return -EPROTO;
	if (q->ring_head_off % 4 || (uint64_t)q->ring_head_off + 4 > size ||
	    q->ring_tail_off % 4 || (uint64_t)q->ring_tail_off + 4 > size ||
	    q->ring_flags_off % 4 || (uint64_t)q->ring_flags_off + 4 > size)
		return -EPROTO;
	if (q->ring_cqes_off % 8 ||
	    (uint64_t)q->ring_cqes_off +
	    (uint64_t)q->cq_entries * sizeof(struct fpgadma_cqe) > size)
		return -EPROTO;
	/* a stream area that cannot hold one control block */
	if ((q->caps & FPGADMA_CAP_STREAM) &&
	    (!q->max_streams ||
	     q->stream_area_size < sizeof(struct fpgadma_stream_ctrl)))
		return -EPROTO;
	return 0;
}

int fpgadma_open_path(const char *path, struct fpgadma_context **ctxp)
{
	struct fpgadma_context *ctx;
	int ret;

	if (!path || !ctxp)
		return -EINVAL;
	*ctxp = NULL;

	pthread_once(&fpgadma_atfork_once, fpgadma_atfork_register);
	if (fpgadma_atfork_err)
		return -fpgadma_atfork_err;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->fork_gen = __atomic_load_n(&fpgadma_fork_gen, __ATOMIC_RELAXED);
	dl_init(&ctx->pds);
	dl_init(&ctx->mrs);
	dl_init(&ctx->streams);

	/* Non-blocking: fpgadma_mon_read() never sleeps; ioctls ignore it. */
	ctx->fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (ctx->fd < 0) {
		ret = -errno;
		goto err_free;
	}

	ret = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_QUERY, &ctx->query);
	if (ret)
		goto err_close;
	ret = check_query(&ctx->query);
	if (ret)
		goto err_close;

	ctx->ring_len = ctx->query.ring_size;
	ctx->ring_map = mmap(NULL, ctx->ring_len, PROT_READ | PROT_WRITE,
			     MAP_SHARED, ctx->fd, 0);
	if (ctx->ring_map == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	ctx->ring.head = (uint32_t *)((char *)ctx->ring_map + ctx->query.ring_head_off);
	ctx->ring.tail = (const uint32_t *)((char *)ctx->ring_map + ctx->query.ring_tail_off);
	ctx->ring.flags = (uint32_t *)((char *)ctx->ring_map + ctx->query.ring_flags_off);
	ctx->ring.cqes = (const struct fpgadma_cqe *)
		((char *)ctx->ring_map + ctx->query.ring_cqes_off);
	ctx->ring.entries = ctx->query.cq_entries;

	if (ctx->query.caps & FPGADMA_CAP_MR_MONITOR) {
		void *m;

		ctx->mon_len = ctx->query.mon_size;
		m = mmap(NULL, ctx->mon_len, PROT_READ, MAP_SHARED, ctx->fd,
			 (off_t)ctx->query.mon_mmap_off);
		if (m == MAP_FAILED) {
			ret = -errno;
			goto err_unmap;
		}
		ctx->mon = m;
	}

	if (ctx->query.caps & FPGADMA_CAP_STREAM) {
		void *m;

		/* Read-write and shared: the process stores read indices. */
		ctx->stream_len = ctx->query.stream_area_size;
		m = mmap(NULL, ctx->stream_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED, ctx->fd, (off_t)ctx->query.stream_mmap_off);
		if (m == MAP_FAILED) {
			ret = -errno;
			goto err_unmap;
		}
		ctx->stream_area = m;
	}

	ret = -pthread_mutex_init(&ctx->cq_lock, NULL);
	if (ret)
		goto err_unmap;
	ret = -pthread_mutex_init(&ctx->res_lock, NULL);
	if (ret)
		goto err_cq_lock;

	*ctxp = ctx;
	return 0;

err_cq_lock:
	pthread_mutex_destroy(&ctx->cq_lock);
err_unmap:
	if (ctx->stream_area)
		ring_unmap(ctx->stream_area, ctx->stream_len);
	if (ctx->mon)
		ring_unmap((void *)ctx->mon, ctx->mon_len);
	ring_unmap(ctx->ring_map, ctx->ring_len);
err_close:
	close(ctx->fd);
err_free:
	free(ctx);
	return ret;
}

int fpgadma_open(int index, struct fpgadma_context **ctxp)
{
	char path[32];

	if (index < 0 || !ctxp)
		return -EINVAL;
	snprintf(path, sizeof(path), "/dev/fpgadma%d", index);
	return fpgadma_open_path(path, ctxp);
}

int fpgadma_close(struct fpgadma_context *ctx)
{
	struct dl *n;
	int ret = 0, err;

	if (!ctx)
		return -EINVAL;

	if (ctx_forked(ctx)) {
		/*
		 * The child has no ring mapping (munmap could hit whatever
		 * now lives at that address), may not ioctl, and may have
		 * inherited a lock held by another thread of the parent:
		 * free the memory and drop the fd, touch nothing else.
		 */
		while ((n = ctx->streams.next) != &ctx->streams) {
			dl_del(n);
			free(container_of(n, struct fpgadma_stream, node));
		}
		while ((n = ctx->mrs.next) != &ctx->mrs) {
			dl_del(n);
			free(container_of(n, struct fpgadma_mr_priv, node));
		}
		while ((n = ctx->pds.next) != &ctx->pds) {
			dl_del(n);
			free(container_of(n, struct fpgadma_pd_priv, node));
		}
		close(ctx->fd);
		free(ctx);
		return 0;
	}

	/* Streams first: stopped by STOP, not by their MR's deregistration. */
	while ((n = ctx->streams.next) != &ctx->streams) {
		struct fpgadma_stream *s = container_of(n, struct fpgadma_stream, node);
		struct fpgadma_stream_stop stop = { .stream_id = s->id };

		/* EINVAL: the kernel had let it go; ENODEV: with the device. */
		err = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_STREAM_STOP, &stop);
		if (err && err != -ENODEV && err != -EINVAL && !ret)
			ret = err;
		dl_del(n);
		free(s);
	}
	while ((n = ctx->mrs.next) != &ctx->mrs) {
		struct fpgadma_mr_priv *m = container_of(n, struct fpgadma_mr_priv, node);
		struct fpgadma_dereg_mr dereg = { .lkey = m->pub.lkey };

		/* Closing the fd releases the MR in any case; report the first
		 * failure but keep going (ENODEV: released with the device). */
		err = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_DEREG_MR, &dereg);
		if (err && err != -ENODEV && !ret)
			ret = err;
		dl_del(n);
		free(m);
	}
	while ((n = ctx->pds.next) != &ctx->pds) {
		dl_del(n);
		free(container_of(n, struct fpgadma_pd_priv, node));
	}

	err = ring_unmap(ctx->ring_map, ctx->ring_len);
	if (err && !ret)
		ret = err;
	if (ctx->mon) {
		err = ring_unmap((void *)ctx->mon, ctx->mon_len);
		if (err && !ret)
			ret = err;
	}
	if (ctx->stream_area) {
		err = ring_unmap(ctx->stream_area, ctx->stream_len);
		if (err && !ret)
			ret = err;
	}
	/* a mapping keeps the file, and so the context, open */
	err = chan_unmap_all(ctx);
	if (err && !ret)
		ret = err;
	if (ctx->mem_map) {
		err = ring_unmap(ctx->mem_map, ctx->query.dev_mem_size);
		if (err && !ret)
			ret = err;
	}
	if (close(ctx->fd) && !ret && errno != EINTR)
		ret = -errno;
	pthread_mutex_destroy(&ctx->res_lock);
	pthread_mutex_destroy(&ctx->cq_lock);
	free(ctx);
	return ret;
}

int fpgadma_query(struct fpgadma_context *ctx, struct fpgadma_device_attr *attr)
{
	const struct fpgadma_query *q;

	if (!ctx || !attr)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;

	/* Nothing in QUERY but ep_id (fpgadma_bind_ep) changes while the
	 * device is open: answer from the copy taken at open, without a
	 * system call. */
	q = &ctx->query;
	memset(attr, 0, sizeof(*attr));
	attr->abi_version = q->abi_version;
	attr->engine = q->engine;
	attr->dev_index = q->dev_index;
	attr->max_sge = q->max_sge;
	attr->max_post = q->max_post;
	attr->max_seg_size = q->max_seg_size;
	attr->cq_entries = q->cq_entries;
	attr->page_size = q->page_size;
	attr->dev_mem_size = q->dev_mem_size;
	attr->frame_size = q->frame_size;
	attr->max_mr_size = q->max_mr_size;
	attr->ep_id = __atomic_load_n(&q->ep_id, __ATOMIC_RELAXED);
	attr->max_streams = q->caps & FPGADMA_CAP_STREAM ? q->max_streams : 0;
	attr->caps = q->caps;
	return 0;
}

int fpgadma_bind_ep(struct fpgadma_context *ctx, uint32_t ep_id)
{
	struct fpgadma_bind_ep bind = { .ep_id = ep_id };
	int ret;

	if (!ctx)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;
	if (!(ctx->query.caps & FPGADMA_CAP_BIND_EP))
		return -EOPNOTSUPP;
	ret = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_BIND_EP, &bind);
	/* the one attribute that changes: fpgadma_query() answers from here */
	if (!ret)
		__atomic_store_n(&ctx->query.ep_id, ep_id, __ATOMIC_RELAXED);
	/* the inbox and channels died with the old number: map anew */
	if (!ret) {
		pthread_mutex_lock(&ctx->res_lock);
		chan_unmap_all(ctx);
		pthread_mutex_unlock(&ctx->res_lock);
	}
	return ret;
}

int fpgadma_get_fd(const struct fpgadma_context *ctx)
{
	if (!ctx)
		return -EINVAL;
	return ctx->fd;
}

/*
 * Map len bytes of the file at off once, into *cached, under res_lock;
 * *addr gets the mapping (the same one at every call).
 */
static int map_once(struct fpgadma_context *ctx, void **cached, size_t len,
		    uint64_t off, void **addr)
{
	void *m;
	int ret = 0;

	pthread_mutex_lock(&ctx->res_lock);
	if (!*cached) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ctx->fd,
			 (off_t)off);
		if (m == MAP_FAILED)
			ret = -errno;
		else
			*cached = m;
	}
	if (!ret)
		*addr = *cached;
	pthread_mutex_unlock(&ctx->res_lock);
	return ret;
}

int fpgadma_mem_map(struct fpgadma_context *ctx, void **addr)
{
	if (!ctx || !addr)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;
	if (!(ctx->query.caps & FPGADMA_CAP_MEM_MAP) ||
	    (size_t)ctx->query.dev_mem_size != ctx->query.dev_mem_size)
		return -EOPNOTSUPP;
	/* Pages come as they are touched: mapping costs nothing. */
	return map_once(ctx, &ctx->mem_map, (size_t)ctx->query.dev_mem_size,
			ctx->query.mem_mmap_off, addr);
}

/* ---- local message channels ---- */

int fpgadma_chan_inbox(struct fpgadma_context *ctx, void **addr)
{
	if (!ctx || !addr)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;
	if (!(ctx->query.caps & FPGADMA_CAP_CHAN))
		return -EOPNOTSUPP;
	return map_once(ctx, &ctx->inbox, FPGADMA_CHAN_INBOX_SIZE,
			ctx->query.chan_mmap_off, addr);
}

int fpgadma_chan_map(struct fpgadma_context *ctx, uint32_t ep_id, void **addr)
{
	struct chan_map *c;
	void *m;

	if (!ctx || !addr || !ep_id || ep_id > FPGADMA_EP_ID_MAX)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;
	if (!(ctx->query.caps & FPGADMA_CAP_CHAN))
		return -EOPNOTSUPP;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	m = mmap(NULL, FPGADMA_CHAN_SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 ctx->fd, (off_t)(ctx->query.chan_mmap_off +
				  ep_id * FPGADMA_CHAN_WINDOW));
	if (m == MAP_FAILED) {
		int err = -errno;

		free(c);
		return err;
	}
	c->addr = m;
	pthread_mutex_lock(&ctx->res_lock);
	c->next = ctx->chans;
	ctx->chans = c;
	pthread_mutex_unlock(&ctx->res_lock);
	*addr = m;
	return 0;
}

int fpgadma_chan_unmap(struct fpgadma_context *ctx, void *addr)
{
	struct chan_map **pp, *c = NULL;

	if (!ctx || !addr)
		return -EINVAL;
	pthread_mutex_lock(&ctx->res_lock);
	for (pp = &ctx->chans; *pp; pp = &(*pp)->next) {
		if ((*pp)->addr == addr) {
			c = *pp;
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->res_lock);
	if (!c)
		return -EINVAL;
	free(c);
	return munmap(addr, FPGADMA_CHAN_SLOT_SIZE) ? -errno : 0;
}

/* ---- protection domains ---- */

int fpgadma_alloc_pd(struct fpgadma_context *ctx, struct fpgadma_pd **pdp)
{
	struct fpgadma_pd_priv *p;

	if (!ctx || !pdp)
		return -EINVAL;
	*pdp = NULL;
	if (ctx_forked(ctx))
		return -EACCES;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pub.context = ctx;

	pthread_mutex_lock(&ctx->res_lock);
	dl_add_head(&ctx->pds, &p->node);
	pthread_mutex_unlock(&ctx->res_lock);

	*pdp = &p->pub;
	return 0;
}

int fpgadma_dealloc_pd(struct fpgadma_pd *pd)
{
	struct fpgadma_context *ctx;
	struct fpgadma_pd_priv *p;

	if (!pd || !pd->context)
		return -EINVAL;
	ctx = pd->context;
	p = to_pd_priv(pd);
	if (ctx_forked(ctx))
		return -EACCES;

	pthread_mutex_lock(&ctx->res_lock);
	if (p->nr_mrs) {
		pthread_mutex_unlock(&ctx->res_lock);
		return -EBUSY;
	}
	dl_del(&p->node);
	pthread_mutex_unlock(&ctx->res_lock);

	free(p);
	return 0;
}

/* ---- memory regions ---- */

static int reg_mr(struct fpgadma_pd *pd, void *addr, size_t length,
		  unsigned int access, uint32_t flags, uint32_t rkey,
		  struct fpgadma_mr **mrp)
{
	struct fpgadma_reg_mr reg = { 0 };
	struct fpgadma_context *ctx;
	struct fpgadma_mr_priv *m;
	int ret;

	if (mrp)
		*mrp = NULL;
	if (!pd || !pd->context || !mrp)
		return -EINVAL;
	if (length == 0 || (uintptr_t)addr + length - 1 < (uintptr_t)addr)
		return -EINVAL;
	if (access & ~(unsigned int)FPGADMA_ACCESS_ALL)
		return -EINVAL;
	ctx = pd->context;
	if (ctx_forked(ctx))
		return -EACCES;
	if (ctx->query.max_mr_size && length > ctx->query.max_mr_size)
		return -EINVAL;

	/* Allocate first: a failure after the kernel pinned the range would
	 * need an extra DEREG to undo. */
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;

	reg.addr = (uintptr_t)addr;
	reg.length = length;
	reg.access = access;
	reg.flags = flags;
	reg.rkey = rkey;
	ret = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_REG_MR, &reg);
	if (ret) {
		free(m);
		return ret;
	}

	m->pub.context = ctx;
	m->pub.pd = pd;
	m->pub.addr = addr;
	m->pub.length = length;
	m->pub.access = access;
	m->pub.lkey = reg.lkey;
	m->pub.rkey = reg.rkey;
	m->pub.nsegs = reg.nsegs;
	m->pub.mon_slot = reg.mon_slot;
	m->pub.mon_gen = reg.mon_gen;

	pthread_mutex_lock(&ctx->res_lock);
	dl_add_head(&ctx->mrs, &m->node);
	to_pd_priv(pd)->nr_mrs++;
	pthread_mutex_unlock(&ctx->res_lock);

	*mrp = &m->pub;
	return 0;
}

int fpgadma_reg_mr(struct fpgadma_pd *pd, void *addr, size_t length,
		   unsigned int access, struct fpgadma_mr **mrp)
{
	return reg_mr(pd, addr, length, access, 0, 0, mrp);
}

int fpgadma_reg_mr_rkey(struct fpgadma_pd *pd, void *addr, size_t length,
			unsigned int access, uint32_t rkey,
			struct fpgadma_mr **mrp)
{
	if (!rkey) {
		if (mrp)
			*mrp = NULL;
		return -EINVAL;
	}
	return reg_mr(pd, addr, length, access, FPGADMA_REG_MR_REQ_RKEY, rkey,
		      mrp);
}

int fpgadma_reg_mr_monitor(struct fpgadma_pd *pd, void *addr, size_t length,
			   unsigned int access, struct fpgadma_mr **mrp)
{
	if (pd && pd->context &&
	    !(pd->context->query.caps & FPGADMA_CAP_MR_MONITOR)) {
		if (mrp)
			*mrp = NULL;
		return -EOPNOTSUPP;
	}
	return reg_mr(pd, addr, length, access, FPGADMA_REG_MR_MONITOR, 0, mrp);
}

int fpgadma_mr_valid(const struct fpgadma_mr *mr)
{
	const struct fpgadma_context *ctx;

	if (!mr || !mr->context || !mr->mon_slot)
		return -EINVAL;
	ctx = mr->context;
	if (mr->mon_slot >= ctx->query.mon_slots)
		return -EINVAL;
	/* A fork child has no mapping of the area (nor the parent's MRs). */
	if (ctx_forked(ctx))
		return -EACCES;
	/* Acquire: pairs with the kernel's release of the word. */
	return __atomic_load_n(&ctx->mon[mr->mon_slot], __ATOMIC_ACQUIRE) ==
	       mr->mon_gen;
}

uint32_t fpgadma_mon_count(const struct fpgadma_context *ctx)
{
	if (!ctx || !ctx->mon || ctx_forked(ctx))
		return 0;
	return __atomic_load_n(&ctx->mon[0], __ATOMIC_ACQUIRE);
}

int fpgadma_mon_read(struct fpgadma_context *ctx, struct fpgadma_mon_event *evs,
		     int max)
{
	ssize_t n;

	if (!ctx || !evs || max <= 0)
		return -EINVAL;
	if (!ctx->mon)
		return -EOPNOTSUPP;
	if (ctx_forked(ctx))
		return -EACCES;
	/* The fd is non-blocking: none pending is -EAGAIN, reported as 0. */
	do {
		n = read(ctx->fd, evs, (size_t)max * sizeof(*evs));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return (int)(n / (ssize_t)sizeof(*evs));
}

int fpgadma_dereg_mr(struct fpgadma_mr *mr)
{
	struct fpgadma_dereg_mr dereg = { 0 };
	struct fpgadma_context *ctx;
	struct fpgadma_mr_priv *m;
	int ret;

	if (!mr || !mr->context || !mr->pd)
		return -EINVAL;
	ctx = mr->context;
	m = to_mr_priv(mr);
	if (ctx_forked(ctx))
		return -EACCES;

	dereg.lkey = mr->lkey;
	ret = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_DEREG_MR, &dereg);
	/*
	 * ENODEV: the device has gone, and the kernel released every MR of
	 * the context then; as rdma-core's destroy calls on a disassociated
	 * device, that is a success.
	 */
	if (ret && ret != -ENODEV)
		return ret;	/* still registered, still tracked */

	pthread_mutex_lock(&ctx->res_lock);
	dl_del(&m->node);
	to_pd_priv(mr->pd)->nr_mrs--;
	pthread_mutex_unlock(&ctx->res_lock);

	free(m);
	return 0;
}

/* ---- work requests ---- */

int fpgadma_post(struct fpgadma_context *ctx, const struct fpgadma_wr *wrs,
		 unsigned int count)
{
	struct fpgadma_post post = { 0 };

	if (!ctx || !wrs || count == 0 || count > ctx->query.max_post)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;

	post.wrs = (uintptr_t)wrs;
	post.count = count;
	return fpgadma_ioctl(ctx->fd, FPGADMA_IOC_POST, &post);
}

static int post_wr(struct fpgadma_context *ctx, struct fpgadma_wr *wr,
		   const struct fpgadma_sge *sg, unsigned int num_sge)
{
	if (!ctx || (num_sge && !sg) || num_sge > ctx->query.max_sge)
		return -EINVAL;
	wr->sg_list = (uintptr_t)sg;
	wr->num_sge = num_sge;
	return fpgadma_post(ctx, wr, 1);
}

static int post_one(struct fpgadma_context *ctx, uint32_t opcode,
		    uint64_t wr_id, uint64_t dev_addr,
		    const struct fpgadma_sge *sg, unsigned int num_sge)
{
	struct fpgadma_wr wr = { .wr_id = wr_id, .opcode = opcode,
				 .dev_addr = dev_addr };

	return post_wr(ctx, &wr, sg, num_sge);
}

int fpgadma_post_rdma_write(struct fpgadma_context *ctx, uint64_t wr_id,
			    uint32_t rkey, uint64_t remote_addr, uint32_t flags,
			    const struct fpgadma_sge *sg, unsigned int num_sge)
{
	struct fpgadma_wr wr = { .wr_id = wr_id, .opcode = FPGADMA_WR_RDMA_WRITE,
				 .flags = flags, .dev_addr = remote_addr,
				 .rkey = rkey };

	return post_wr(ctx, &wr, sg, num_sge);
}

int fpgadma_post_rdma_read(struct fpgadma_context *ctx, uint64_t wr_id,
			   uint32_t rkey, uint64_t remote_addr, uint32_t flags,
			   const struct fpgadma_sge *sg, unsigned int num_sge)
{
	struct fpgadma_wr wr = { .wr_id = wr_id, .opcode = FPGADMA_WR_RDMA_READ,
				 .flags = flags, .dev_addr = remote_addr,
				 .rkey = rkey };

	return post_wr(ctx, &wr, sg, num_sge);
}

int fpgadma_post_send(struct fpgadma_context *ctx, uint64_t wr_id,
		      uint32_t dest_ep, const struct fpgadma_sge *sg,
		      unsigned int num_sge)
{
	struct fpgadma_wr wr = { .wr_id = wr_id, .opcode = FPGADMA_WR_SEND,
				 .dest = dest_ep };

	return post_wr(ctx, &wr, sg, num_sge);
}

int fpgadma_post_recv(struct fpgadma_context *ctx, uint64_t wr_id,
		      const struct fpgadma_sge *sg, unsigned int num_sge)
{
	return post_one(ctx, FPGADMA_WR_RECV, wr_id, 0, sg, num_sge);
}

int fpgadma_post_read(struct fpgadma_context *ctx, uint64_t wr_id,
		      uint64_t dev_addr, const struct fpgadma_sge *sg,
		      unsigned int num_sge)
{
	return post_one(ctx, FPGADMA_WR_READ_MEM, wr_id, dev_addr, sg, num_sge);
}

int fpgadma_post_write(struct fpgadma_context *ctx, uint64_t wr_id,
		       uint64_t dev_addr, const struct fpgadma_sge *sg,
		       unsigned int num_sge)
{
	return post_one(ctx, FPGADMA_WR_WRITE_MEM, wr_id, dev_addr, sg, num_sge);
}

int fpgadma_post_stream_read(struct fpgadma_context *ctx, uint64_t wr_id,
			     const struct fpgadma_sge *sg, unsigned int num_sge)
{
	return post_one(ctx, FPGADMA_WR_READ_STREAM, wr_id, 0, sg, num_sge);
}

/* ---- atomics ---- */

int fpgadma_post_atomic(struct fpgadma_context *ctx, uint64_t wr_id,
			uint32_t op, uint32_t datatype, uint32_t rkey,
			uint64_t remote_addr, uint32_t flags,
			const struct fpgadma_sge *operand,
			const struct fpgadma_sge *compare,
			const struct fpgadma_sge *result)
{
	struct fpgadma_wr wr = { .wr_id = wr_id, .dev_addr = remote_addr,
				 .rkey = rkey };
	struct fpgadma_sge sg[3];
	unsigned int n = 0;

	if (!ctx || op > UINT16_MAX || datatype > UINT16_MAX)
		return -EINVAL;
	if (flags & ~(FPGADMA_WR_F_REMOTE_OFFSET | FPGADMA_WR_F_FETCH) ||
	    (!rkey && (flags & FPGADMA_WR_F_REMOTE_OFFSET)) ||
	    ((flags & FPGADMA_WR_F_FETCH) && !result))
		return -EINVAL;
	/* The pieces the operation takes, no more, no fewer. */
	if (!operand != (op == FPGADMA_ATOMIC_READ) ||
	    !compare != !fpgadma_atomic_op_has_compare(op))
		return -EINVAL;
	if (!(ctx->query.caps & FPGADMA_CAP_ATOMIC))
		return -EOPNOTSUPP;

	if (operand)
		sg[n++] = *operand;
	if (compare)
		sg[n++] = *compare;
	if (result) {
		sg[n++] = *result;
		flags |= FPGADMA_WR_F_FETCH;
	}
	wr.opcode = rkey ? FPGADMA_WR_ATOMIC : FPGADMA_WR_ATOMIC_MEM;
	wr.flags = flags;
	wr.atomic_op = (uint16_t)op;
	wr.atomic_type = (uint16_t)datatype;
	wr.sg_list = (uintptr_t)sg;
	wr.num_sge = n;
	return fpgadma_post(ctx, &wr, 1);
}

int fpgadma_atomic_valid(struct fpgadma_context *ctx, uint32_t op,
			 uint32_t datatype, size_t *count)
{
	if (!ctx || !fpgadma_atomic_op_valid(op, datatype))
		return -EINVAL;
	if (!(ctx->query.caps & FPGADMA_CAP_ATOMIC) ||
	    (fpgadma_atomic_type_is_fp(datatype) &&
	     !(ctx->query.caps & FPGADMA_CAP_ATOMIC_FP)))
		return -EOPNOTSUPP;
	if (count)
		*count = FPGADMA_ATOMIC_MAX_SIZE / fpgadma_atomic_type_size(datatype);
	return 0;
}

/* ---- paced streams ---- */

/* The checks the library can make itself, without a system call. */
static int stream_attr_check(const struct fpgadma_mr *mr,
			     const struct fpgadma_stream_attr *a)
{
	uint64_t end;

	if (a->flags || !a->nslots || !a->slot_size)
		return -EINVAL;
	if ((uint64_t)a->nslots * a->slot_size > a->ring_length)
		return -EINVAL;
	if (__builtin_add_overflow(a->ring_offset, a->ring_length, &end) ||
	    end > mr->length)
		return -EINVAL;
	if (a->frame_size &&
	    (a->frame_size < FPGADMA_FRAME_HDR_SIZE || a->frame_size > a->slot_size))
		return -EINVAL;
	if (a->frame_period_ns && a->byte_rate)
		return -EINVAL;
	if (!(mr->access & FPGADMA_ACCESS_LOCAL_WRITE))
		return -EACCES;
	return 0;
}

int fpgadma_stream_start(struct fpgadma_mr *mr, struct fpgadma_stream_attr *attr,
			 struct fpgadma_stream **streamp)
{
	struct fpgadma_stream_start start = { 0 };
	struct fpgadma_context *ctx;
	struct fpgadma_stream *s;
	int ret;

	if (streamp)
		*streamp = NULL;
	if (!mr || !mr->context || !attr || !streamp)
		return -EINVAL;
	ctx = mr->context;
	if (ctx_forked(ctx))
		return -EACCES;
	if (!ctx->stream_area)
		return -EOPNOTSUPP;
	ret = stream_attr_check(mr, attr);
	if (ret)
		return ret;

	/* Allocate first: a failure after the kernel started the stream
	 * would need a STOP to undo. */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;

	start.user_data = attr->user_data;
	start.ring_offset = attr->ring_offset;
	start.ring_length = attr->ring_length;
	start.lkey = mr->lkey;
	start.flags = attr->flags;
	start.slot_size = attr->slot_size;
	start.nslots = attr->nslots;
	start.frame_size = attr->frame_size;
	start.fifo_frames = attr->fifo_frames;
	start.frame_period_ns = attr->frame_period_ns;
	start.byte_rate = attr->byte_rate;
	start.cqe_every = attr->cqe_every;
	ret = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_STREAM_START, &start);
	if (ret) {
		free(s);
		return ret;
	}

	/* The control block must lie in the area, aligned for its atomics:
	 * the offset comes from the kernel, but a wrong one would make the
	 * fast path touch memory outside the mapping. */
	if (!start.stream_id || start.ctrl_off % 8 ||
	    start.ctrl_off > ctx->stream_len ||
	    ctx->stream_len - start.ctrl_off < sizeof(struct fpgadma_stream_ctrl)) {
		struct fpgadma_stream_stop stop = { .stream_id = start.stream_id };

		fpgadma_ioctl(ctx->fd, FPGADMA_IOC_STREAM_STOP, &stop);
		free(s);
		return -EPROTO;
	}

	s->context = ctx;
	s->id = start.stream_id;
	s->ring.ctrl = (struct fpgadma_stream_ctrl *)
		((char *)ctx->stream_area + start.ctrl_off);
	s->ring.base = (char *)mr->addr + attr->ring_offset;
	s->ring.slot_size = attr->slot_size;
	s->ring.nslots = attr->nslots;
	s->ring.local_read = 0;

	attr->frame_size = start.frame_size;
	attr->fifo_frames = start.fifo_frames;
	attr->frame_period_ns = start.frame_period_ns;

	pthread_mutex_lock(&ctx->res_lock);
	dl_add_head(&ctx->streams, &s->node);
	pthread_mutex_unlock(&ctx->res_lock);

	*streamp = s;
	return 0;
}

/* What the control block says, for a stream the kernel cannot report. */
static void stream_stats_from_ctrl(const struct fpgadma_stream *s,
				   struct fpgadma_stream_stats *st, uint32_t end)
{
	const struct fpgadma_stream_ctrl *c = s->ring.ctrl;

	memset(st, 0, sizeof(*st));
	st->write_idx = __atomic_load_n(&c->write_idx, __ATOMIC_ACQUIRE);
	st->frames_delivered = st->write_idx;
	st->read_idx = s->ring.local_read;
	st->drops = __atomic_load_n(&c->drops, __ATOMIC_RELAXED);
	st->frames = st->frames_delivered + st->drops;
	st->state = FPGADMA_STREAM_STOPPED;
	st->end = end;
}

int fpgadma_stream_stop(struct fpgadma_stream *s, unsigned int drain_ms,
			struct fpgadma_stream_stats *final)
{
	struct fpgadma_stream_stop stop = { 0 };
	struct fpgadma_context *ctx;
	uint32_t end = 0;
	int ret;

	if (final)
		memset(final, 0, sizeof(*final));
	if (!s || !s->context)
		return -EINVAL;
	ctx = s->context;
	if (ctx_forked(ctx))
		return -EACCES;

	stop.stream_id = s->id;
	stop.drain_ms = drain_ms;
	/* EINTR is restarted: STOP of a stopping stream goes on with it. */
	ret = fpgadma_ioctl(ctx->fd, FPGADMA_IOC_STREAM_STOP, &stop);
	if (!ret) {
		if (final)
			*final = stop.stats;
	} else if (ret == -ENODEV) {
		/* The device has gone and the kernel stopped the stream with
		 * it (as fpgadma_dereg_mr(), a success); its control block is
		 * all that is left to tell. */
		fpgadma_stream_ring_state(&s->ring, &end);
		if (final)
			stream_stats_from_ctrl(s, final, end ? end : FPGADMA_STREAM_END_GONE);
		ret = 0;
	} else if (ret == -EINVAL &&
		   fpgadma_stream_ring_state(&s->ring, &end) == FPGADMA_STREAM_STOPPED) {
		/* The kernel had stopped it (its MR was deregistered) and no
		 * longer knows the id. */
		if (final)
			stream_stats_from_ctrl(s, final, end);
		ret = 0;
	}

	/* Freed in any case: a stream the kernel still runs after a failed
	 * STOP stops when the context closes. */
	pthread_mutex_lock(&ctx->res_lock);
	dl_del(&s->node);
	pthread_mutex_unlock(&ctx->res_lock);
	free(s);
	return ret;
}

int fpgadma_stream_stats(struct fpgadma_stream *s, struct fpgadma_stream_stats *stats)
{
	struct fpgadma_stream_query q = { 0 };
	int ret;

	if (!s || !s->context || !stats)
		return -EINVAL;
	if (ctx_forked(s->context))
		return -EACCES;

	q.stream_id = s->id;
	ret = fpgadma_ioctl(s->context->fd, FPGADMA_IOC_STREAM_STATS, &q);
	if (ret)
		return ret;
	*stats = q.stats;
	return 0;
}

uint32_t fpgadma_stream_id(const struct fpgadma_stream *s)
{
	return s ? s->id : 0;
}

uint64_t fpgadma_stream_ready(struct fpgadma_stream *s, uint64_t *first)
{
	/* A fork child has no mapping of the stream area. */
	if (!s || ctx_forked(s->context)) {
		if (first)
			*first = s ? s->ring.local_read : 0;
		return 0;
	}
	return fpgadma_stream_ring_ready(&s->ring, first);
}

void *fpgadma_stream_slot(struct fpgadma_stream *s, uint64_t idx)
{
	if (!s)
		return NULL;
	return fpgadma_stream_ring_slot(&s->ring, idx);
}

void fpgadma_stream_release(struct fpgadma_stream *s, uint64_t n)
{
	if (!s || !n || ctx_forked(s->context))
		return;
	fpgadma_stream_ring_release(&s->ring, n);
}

uint32_t fpgadma_stream_state(const struct fpgadma_stream *s, uint32_t *end)
{
	if (end)
		*end = 0;
	if (!s || ctx_forked(s->context))
		return 0;
	return fpgadma_stream_ring_state(&s->ring, end);
}

/* ---- completions ---- */

int fpgadma_poll(struct fpgadma_context *ctx, struct fpgadma_cqe *cqes, int max)
{
	int ret;

	if (!ctx || max < 0 || (max && !cqes))
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;
	if (max == 0)
		return 0;
	/* Nothing there (the common case of a poll loop): no lock. */
	if (!fpgadma_ring_ready(&ctx->ring) &&
	    !(__atomic_load_n(ctx->ring.flags, __ATOMIC_RELAXED) & FPGADMA_RING_OVERFLOW))
		return 0;

	pthread_mutex_lock(&ctx->cq_lock);
	ret = fpgadma_ring_consume(&ctx->ring, cqes, max);
	pthread_mutex_unlock(&ctx->cq_lock);
	return ret;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fpgadma_wait(struct fpgadma_context *ctx, int timeout_ms)
{
	int64_t deadline = 0;
	int left = timeout_ms;

	if (!ctx || timeout_ms < -1)
		return -EINVAL;
	if (ctx_forked(ctx))
		return -EACCES;

	/* Anything already there (or a broken ring, which poll reports)
	 * needs no system call. */
	if (fpgadma_ring_ready(&ctx->ring) ||
	    (__atomic_load_n(ctx->ring.flags, __ATOMIC_RELAXED) & FPGADMA_RING_OVERFLOW))
		return 1;

	if (timeout_ms > 0)
		deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = { .fd = ctx->fd, .events = POLLIN };
		int ret = poll(&pfd, 1, left);

		if (ret < 0) {
			if (errno != EINTR)
				return -errno;
			/* A signal: sleep again for what is left of the
			 * caller's timeout, not for the whole of it. */
			if (timeout_ms > 0) {
				int64_t rem = deadline - now_ms();

				if (rem <= 0)
					return fpgadma_ring_ready(&ctx->ring) ? 1 : 0;
				left = rem > INT_MAX ? INT_MAX : (int)rem;
			}
			continue;
		}
		if (ret == 0)
			return 0;
		if (pfd.revents & POLLNVAL)
			return -EBADF;
		if (pfd.revents & POLLIN)
			return 1;
		if (pfd.revents & POLLERR)
			return -EIO;
		if (pfd.revents & POLLHUP)
			return -ENODEV;
		return 0;
	}
}

/* ---- text ---- */

const char *fpgadma_strerror(int err)
{
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;

	switch (err) {
	case 0:
		return "success";
	case EINVAL:
		return "invalid argument: a NULL pointer, a length of 0, a range "
		       "that wraps the address space, an unknown access bit or "
		       "flag, a malformed work request (bad opcode, too many "
		       "pieces or work requests, non-zero reserved field), or a "
		       "paced stream's ring that does not fit its memory region "
		       "or its frames";
	case ENOENT:
		return "no such fpgadma device (is the fpgadma module loaded?)";
	case ENOMEM:
		return "out of memory, or pinning the range would exceed "
		       "RLIMIT_MEMLOCK (raise it with ulimit -l, or run with "
		       "CAP_IPC_LOCK)";
	case EFAULT:
		return "bad address: the range is not mapped, or not writable "
		       "while write access was asked";
	case EACCES:
		return "permission denied: no access to the device node, or the "
		       "context belongs to another process (a fork child cannot "
		       "use its parent's context)";
	case EAGAIN:
		return "completion ring full: poll completions, then post again "
		       "(or start the stream again: a stream keeps a completion "
		       "slot for itself)";
	case EBUSY:
		return "busy: the protection domain still has registered memory "
		       "regions";
	case EOVERFLOW:
		return "completion ring overflow: at least one completion was lost";
	case EPROTO:
		return "the device speaks an ABI version or ring layout this "
		       "library does not support (module and library mismatch)";
	case ENOTTY:
		return "not an fpgadma device";
	case EBADF:
		return "bad file descriptor: the context's device is not open";
	case ENODEV:
	case ENXIO:
		return "the fpgadma device is gone";
	case EIO:
		return "I/O error: the device failed, cannot reach this memory "
		       "(its DMA mask, no IOMMU), or the completion ring is "
		       "inconsistent";
	case EINTR:
		return "interrupted by a signal";
	case EEXIST:
		return "the requested rkey is in use on this device";
	case EADDRINUSE:
		return "the endpoint number is taken by another open context of "
		       "this device";
	case EOPNOTSUPP:
		return "operation not supported by this device (host endpoint "
		       "work needs a device with FPGADMA_CAP_HOST_EP, paced "
		       "streams FPGADMA_CAP_STREAM, the memory monitor "
		       "FPGADMA_CAP_MR_MONITOR, atomics FPGADMA_CAP_ATOMIC and "
		       "on floating-point types FPGADMA_CAP_ATOMIC_FP)";
	case ENOSPC:
		return "no free slot: the context already runs as many paced "
		       "streams as the device allows (max_streams), or watches "
		       "as many memory regions as its monitor area has words for";
	case EPERM:
		return "operation not permitted";
	case EMFILE:
	case ENFILE:
		return "too many open files";
	default:
		return strerror(err);
	}
}

const char *fpgadma_wc_status_str(uint32_t status)
{
	switch (status) {
	case FPGADMA_WC_SUCCESS:
		return "success";
	case FPGADMA_WC_LOC_LEN_ERR:
		return "local length error: a piece lies outside its memory region";
	case FPGADMA_WC_LOC_PROT_ERR:
		return "local protection error: no memory region with that lkey";
	case FPGADMA_WC_LOC_ACCESS_ERR:
		return "local access error: the memory region lacks the right "
		       "(LOCAL_WRITE is needed to receive data)";
	case FPGADMA_WC_REM_ACCESS_ERR:
		return "remote access error: device address range out of "
		       "bounds, no stream, or a peer memory region missing, "
		       "too short or without the right";
	case FPGADMA_WC_FLUSH_ERR:
		return "flushed: the context is closing, the memory region was "
		       "deregistered (a stream into it stopped), or the device "
		       "has gone";
	case FPGADMA_WC_GENERAL_ERR:
		return "general error: the engine failed";
	case FPGADMA_WC_RNR_ERR:
		return "receiver not ready: the destination endpoint had no "
		       "receive posted";
	case FPGADMA_WC_REM_INV_REQ_ERR:
		return "remote invalid request: no such endpoint, the "
		       "message is longer than its receive, or an atomic's "
		       "target is not aligned to its datatype";
	default:
		return "unknown completion status";
	}
}

const char *fpgadma_engine_str(uint32_t engine)
{
	switch (engine) {
	case FPGADMA_ENGINE_SOFT:
		return "soft";
	case FPGADMA_ENGINE_EDU:
		return "edu";
	default:
		return "unknown";
	}
}
