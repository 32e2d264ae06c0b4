// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: the registration cache of a domain.
 *
 * Registering memory pins it (an ioctl, a page walk), deregistering unpins
 * it (another ioctl); a buffer the application did not register costs both
 * in every operation that uses it.  The cache keeps such registrations
 * after their operation and hands them out again: an entry is one kernel
 * MR over whole pages (so a neighbouring buffer in the same pages hits),
 * found by address in an interval tree (itree.c), counted by its users
 * (operations, MRs of the application) and, once unused, kept on an LRU
 * list until the limits (FI_FPGADMA_MR_CACHE_MAX_COUNT, _MAX_SIZE) push it
 * out.
 *
 * A cached MR must never outlive the memory it pinned: once the process
 * unmaps or replaces the pages under it, the MR still moves the old pages.
 * So every entry is registered with the kernel's memory monitor
 * (fpgadma_reg_mr_monitor): a hit is only an entry fpgadma_mr_valid()
 * still calls valid (one load); before each lookup the context's
 * invalidation count (one load) tells whether anything changed, and if it
 * did the monitor's events say which entries to drop.  A dropped entry
 * leaves the tree at once; its current users keep it (their work moves
 * the old pages, as an uncached registration would) and the last of them
 * deregisters it.
 *
 * An application's MR that lets peers in (remote rights) is another kind
 * of entry, exact: its key is a grant to peers, which must cover just the
 * range and the rights asked for and end with fi_close.  So an exact entry
 * is registered for exactly the range, is shared only with MRs asking for
 * the same range and rights (fpgadma_mrcache_get_exact), is never handed
 * to the provider's own lookups, and is deregistered when the last MR
 * sharing it closes, never kept.
 *
 * Where no monitored registration can be had (a device without the
 * monitor, its slots all taken) or the cache is off (FI_FPGADMA_MR_CACHE=0),
 * a get registers exactly the range asked for, outside the cache, and the
 * put deregisters it: what the provider did before it had a cache.
 *
 * Locking: c->lock covers the tree, the lists, the counts and every
 * entry's refs.  It is never held across a registration or a
 * deregistration (only the monitor's non-blocking event read is made under
 * it): registrations are made with it dropped (two threads missing on the
 * same range may both insert an entry; overlapping entries are allowed),
 * and entries to deregister are collected under it and deregistered after
 * (reap_all()).  The data
 * path calls in with domain->lock held (the order is domain->lock, then
 * c->lock); under domain->lock a get may then deregister unused entries
 * the monitor or the limits dropped, besides its own registration, and a
 * put may deregister evicted ones.  None of them has work in flight, so
 * each is one quick ioctl.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "fpgadma_prov.h"
#include "itree.h"
#include "dlist.h"

/*
 * An entry: one kernel MR.  In the tree while it may be handed out; on
 * c->lru while in the tree and unused; on c->outside while out of the tree
 * (dropped, or never cached) and still used; on none while in the tree and
 * used, or on its way to fpgadma_dereg_mr.
 */
struct fpgadma_mrcache_entry {
	struct itree_node node;		/* [mr->addr, +mr->length) */
	struct fpgadma_mr *mr;
	unsigned int refs;		/* users: operations, application MRs */
	bool in_tree;
	bool exact;			/* an application's MR with remote rights */
	struct dl link;			/* c->lru or c->outside */
	struct fpgadma_mrcache_entry *next;	/* a batch to drop or deregister */
};

struct fpgadma_mrcache {
	pthread_mutex_t lock;
	struct fpgadma_pd *pd;
	struct fpgadma_context *ctx;
	bool enabled;
	uint64_t page_size;
	uint64_t max_mr_size;		/* 0: no limit */
	size_t max_count;
	uint64_t max_size;
	const char *name;

	struct itree tree;		/* entries that may be handed out */
	struct dl lru;			/* unused ones, least recently used first */
	struct dl outside;		/* used ones out of the tree */
	uint32_t mon_seen;		/* fpgadma_mon_count() at the last look */
	struct fi_fpgadma_mr_cache_stats stats;	/* entries, bytes: the tree's */
};

static struct fpgadma_mrcache_entry *node_entry(struct itree_node *n)
{
	return container_of(n, struct fpgadma_mrcache_entry, node);
}

struct fpgadma_mr *fpgadma_mrcache_mr(const struct fpgadma_mrcache_entry *e)
{
	return e->mr;
}

/*
 * The default of FI_FPGADMA_MR_CACHE_MAX_SIZE.  Unused entries stay pinned,
 * and pinned memory counts against RLIMIT_MEMLOCK: the cache keeps at most
 * half of that limit, so the application's own registrations and those of
 * other domains or libraries in the process (which cannot make this cache
 * give way) still have the other half; and at most 4 GiB when the limit is
 * larger or unlimited, so a cache does not hold on to a large part of the
 * machine's memory for buffers that may never be used again.  This
 * domain's registrations that fail for want of memlock evict every unused
 * entry and try once more, whatever the limit.  A process with
 * CAP_IPC_LOCK is not held to the limit by the module (as ib_umem), so
 * neither is its cache.
 */
static bool has_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[CAP_IPC_LOCK / 32].effective & (1U << (CAP_IPC_LOCK % 32));
}

uint64_t fpgadma_mrcache_default_max_size(void)
{
	const uint64_t cap = 4ULL << 30;
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    has_ipc_lock())
		return cap;
	return (uint64_t)rl.rlim_cur / 2 < cap ? (uint64_t)rl.rlim_cur / 2 : cap;
}

/* --- entries in and out of the tree (c->lock held) ------------------------ */

static void entry_insert(struct fpgadma_mrcache *c,
			 struct fpgadma_mrcache_entry *e)
{
	e->node.start = (uintptr_t)e->mr->addr;
	e->node.end = e->node.start + e->mr->length;
	itree_insert(&c->tree, &e->node);
	e->in_tree = true;
	c->stats.entries++;
	c->stats.bytes += e->mr->length;
}

/*
 * Take e out of the tree: nobody finds it any more.  Unused, it joins the
 * batch *reap to deregister; used, it waits on c->outside for its last
 * put.
 */
static void entry_drop(struct fpgadma_mrcache *c,
		       struct fpgadma_mrcache_entry *e,
		       struct fpgadma_mrcache_entry **reap)
{
	itree_remove(&c->tree, &e->node);
	e->in_tree = false;
	c->stats.entries--;
	c->stats.bytes -= e->mr->length;
	dl_del(&e->link);
	if (e->refs) {
		dl_add_tail(&c->outside, &e->link);
	} else {
		e->next = *reap;
		*reap = e;
	}
}

/* Drop every entry of the batch (linked by next) as invalid. */
static void drop_invalid(struct fpgadma_mrcache *c,
			 struct fpgadma_mrcache_entry *batch,
			 struct fpgadma_mrcache_entry **reap)
{
	while (batch) {
		struct fpgadma_mrcache_entry *e = batch;

		batch = e->next;
		entry_drop(c, e, reap);
		c->stats.invalidated++;
	}
}

/* Unused entries, least recently used first, until the limits hold. */
static void evict_over_limits(struct fpgadma_mrcache *c,
			      struct fpgadma_mrcache_entry **reap)
{
	while ((c->stats.entries > c->max_count ||
		c->stats.bytes > c->max_size) && !dl_empty(&c->lru)) {
		entry_drop(c, dl_first(&c->lru, struct fpgadma_mrcache_entry,
				       link), reap);
		c->stats.evicted++;
	}
}

/* Deregister and free a batch; no lock held (ioctls). */
static void reap_all(struct fpgadma_mrcache *c,
		     struct fpgadma_mrcache_entry *reap)
{
	while (reap) {
		struct fpgadma_mrcache_entry *e = reap;
		int ret;

		reap = e->next;
		ret = fpgadma_dereg_mr(e->mr);
		/*
		 * Only a forked child or a bug gets here: the MR stays
		 * registered until the context closes.
		 */
		if (ret)
			FPGADMA_WARN(FI_LOG_MR, "%s: deregistering %p+%zu: %s\n",
				     c->name, e->mr->addr, e->mr->length,
				     fpgadma_strerror(ret));
		free(e);
	}
}

/* --- the monitor (c->lock held) -------------------------------------------- */

/* A visitor of the tree: collect the entries the monitor calls invalid. */
static int collect_invalid(struct itree_node *n, void *arg)
{
	struct fpgadma_mrcache_entry *e = node_entry(n),
				     **batch = arg;

	if (fpgadma_mr_valid(e->mr) != 1) {
		e->next = *batch;
		*batch = e;
	}
	return 0;
}

/*
 * Drop the entries the monitor invalidated since the last look.  An event
 * says where to look (the part of an MR that changed); the MR's word says
 * whether an entry there is invalid, so a late event of an MR already gone
 * (whose lkey a new one may have) drops nothing valid.  When events were
 * lost, or cannot be read, every entry is checked.
 */
static void cache_sync(struct fpgadma_mrcache *c,
		       struct fpgadma_mrcache_entry **reap)
{
	struct fpgadma_mrcache_entry *batch = NULL;
	uint32_t count = fpgadma_mon_count(c->ctx);
	bool all = false;

	if (count == c->mon_seen)
		return;		/* no monitored MR became invalid */
	c->mon_seen = count;
	for (;;) {
		struct fpgadma_mon_event ev[32];
		int n = fpgadma_mon_read(c->ctx, ev, 32), i;

		if (n < 0)
			all = true;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (ev[i].kind != FPGADMA_MON_INVALID) {
				all = true;	/* FPGADMA_MON_OVERFLOW */
				continue;
			}
			itree_overlapping(&c->tree, ev[i].addr,
					  ev[i].addr + (ev[i].length ? ev[i].length : 1),
					  collect_invalid, &batch);
			/* a batch holds each entry once */
			drop_invalid(c, batch, reap);
			batch = NULL;
		}
	}
	if (all) {
		itree_overlapping(&c->tree, 0, UINT64_MAX, collect_invalid,
				  &batch);
		drop_invalid(c, batch, reap);
	}
}

/* --- lookup ----------------------------------------------------------------- */

struct find {
	uint64_t start, end;
	unsigned int need, forbid;
	bool exact;
	struct fpgadma_mrcache_entry *found;
	struct fpgadma_mrcache_entry *stale;	/* invalid ones met on the way */
};

static int find_visit(struct itree_node *n, void *arg)
{
	struct fpgadma_mrcache_entry *e = node_entry(n);
	struct find *f = arg;

	if (e->exact != f->exact)
		return 0;
	if (f->exact ? e->node.start != f->start || e->node.end != f->end ||
		       e->mr->access != f->need :
		       (e->mr->access & f->need) != f->need ||
		       (e->mr->access & f->forbid))
		return 0;
	if (fpgadma_mr_valid(e->mr) != 1) {
		e->next = f->stale;
		f->stale = e;
		return 0;
	}
	f->found = e;
	return 1;
}

/*
 * A valid entry containing [start, end) with the rights asked (exact: an
 * exact entry of just that range and those rights), or NULL.
 */
static struct fpgadma_mrcache_entry *
cache_find(struct fpgadma_mrcache *c, uint64_t start, uint64_t end,
	   unsigned int need, unsigned int forbid, bool exact,
	   struct fpgadma_mrcache_entry **reap)
{
	struct find f = {
		.start = start, .end = end, .need = need, .forbid = forbid,
		.exact = exact,
	};

	itree_containing(&c->tree, start, end, find_visit, &f);
	drop_invalid(c, f.stale, reap);
	return f.found;
}

static void entry_hold(struct fpgadma_mrcache_entry *e)
{
	if (!e->refs++)
		dl_del(&e->link);	/* off the LRU list */
}

/* --- registration ------------------------------------------------------------- */

/* Evict up to n unused entries (least recently used first): how many went. */
static size_t cache_evict(struct fpgadma_mrcache *c, size_t n)
{
	struct fpgadma_mrcache_entry *reap = NULL;
	size_t done = 0;

	pthread_mutex_lock(&c->lock);
	while (done < n && !dl_empty(&c->lru)) {
		entry_drop(c, dl_first(&c->lru, struct fpgadma_mrcache_entry,
				       link), &reap);
		c->stats.evicted++;
		done++;
	}
	pthread_mutex_unlock(&c->lock);
	reap_all(c, reap);
	return done;
}

size_t fpgadma_mrcache_reclaim(struct fpgadma_mrcache *c)
{
	return c ? cache_evict(c, SIZE_MAX) : 0;
}

/*
 * One registration, monitored or not.  Over RLIMIT_MEMLOCK (-ENOMEM) it
 * evicts every unused entry and tries once more; out of monitor slots
 * (-ENOSPC) it evicts the least recently used one and tries once more.
 * Returns 0 or a negative errno.
 */
static int cache_reg(struct fpgadma_mrcache *c, bool monitor, void *addr,
		     size_t len, unsigned int access, struct fpgadma_mr **mr)
{
	int ret, tries;

	for (tries = 0; ; tries++) {
		ret = monitor ? fpgadma_reg_mr_monitor(c->pd, addr, len, access, mr) :
				fpgadma_reg_mr(c->pd, addr, len, access, mr);
		if (!ret || tries)
			return ret;
		if (!(ret == -ENOMEM && cache_evict(c, SIZE_MAX)) &&
		    !(ret == -ENOSPC && monitor && cache_evict(c, 1)))
			return ret;
	}
}

/* A new entry for mr, used once; NULL if out of memory (mr deregistered). */
static struct fpgadma_mrcache_entry *entry_new(struct fpgadma_mr *mr)
{
	struct fpgadma_mrcache_entry *e = calloc(1, sizeof(*e));

		if (!e) {
		fpgadma_dereg_mr(mr);
		return NULL;
	}
	e->mr = mr;
	e->refs = 1;
	dl_init(&e->link);
	return e;
}

/*
 * Exactly [buf, +len), outside the cache: the put deregisters it.  For a
 * cache that is off, and where no monitored registration can be had.
 */
static int get_uncached(struct fpgadma_mrcache *c, const void *buf, size_t len,
			unsigned int access, struct fpgadma_mrcache_entry **out)
{
	struct fpgadma_mrcache_entry *e;
	struct fpgadma_mr *mr;
	int ret;

	ret = cache_reg(c, false, (void *)buf, len, access, &mr);
	if (ret)
		return fpgadma_errno_to_fi(ret);
	e = entry_new(mr);
	if (!e)
		return -FI_ENOMEM;
	pthread_mutex_lock(&c->lock);
	dl_add_tail(&c->outside, &e->link);
	c->stats.uncached++;
	pthread_mutex_unlock(&c->lock);
	*out = e;
	return 0;
}

/* --- merging ------------------------------------------------------------------- */

struct merge {
	uint64_t start, end;		/* the union so far */
	unsigned int access;
	struct fpgadma_mrcache_entry *batch;	/* second pass: to drop */
};

/* Cached entries a new one may replace: same rights, not exact, valid. */
static bool mergeable(const struct fpgadma_mrcache_entry *e, unsigned int access)
{
	return !e->exact && e->mr->access == access &&
	       fpgadma_mr_valid(e->mr) == 1;
}

static int merge_span(struct itree_node *n, void *arg)
{
	struct fpgadma_mrcache_entry *e = node_entry(n);
	struct merge *m = arg;

	if (mergeable(e, m->access)) {
		if (e->node.start < m->start)
			m->start = e->node.start;
		if (e->node.end > m->end)
			m->end = e->node.end;
	}
	return 0;
}

static int merge_collect(struct itree_node *n, void *arg)
{
	struct fpgadma_mrcache_entry *e = node_entry(n);
	struct merge *m = arg;

	if (mergeable(e, m->access) && e->node.start >= m->start &&
	    e->node.end <= m->end) {
		e->next = m->batch;
		m->batch = e;
	}
	return 0;
}

/*
 * A miss over cached entries of the same rights registers their
 * union, which then replaces them (libfabric's cache merges regions too): a
 * buffer that grows from call to call, as an MPI ping-pong's does, would
 * otherwise leave one entry per size over its first pages, each a DMA
 * mapping of the same pages.  [*start, *end) grows to the union, up to
 * the device's largest MR.
 */
static void merge_span_of(struct fpgadma_mrcache *c, unsigned int access,
			  uint64_t *start, uint64_t *end)
{
	struct merge m = { .start = *start, .end = *end, .access = access };

	pthread_mutex_lock(&c->lock);
	itree_overlapping(&c->tree, m.start, m.end, merge_span, &m);
	pthread_mutex_unlock(&c->lock);
	if (!c->max_mr_size || m.end - m.start <= c->max_mr_size) {
		*start = m.start;
		*end = m.end;
	}
}

/* Drop the entries [start, end) of the same rights replaces (c->lock held). */
static void merge_drop(struct fpgadma_mrcache *c, unsigned int access,
		       uint64_t start, uint64_t end,
		       struct fpgadma_mrcache_entry *keep,
		       struct fpgadma_mrcache_entry **reap)
{
	struct merge m = { .start = start, .end = end, .access = access };

	itree_overlapping(&c->tree, start, end, merge_collect, &m);
	while (m.batch) {
		struct fpgadma_mrcache_entry *e = m.batch;

		m.batch = e->next;
		if (e != keep)
			entry_drop(c, e, reap);
	}
}

/*
 * A miss: register the whole pages around [buf, +len) (exact: just the
 * range), merged with the cached entries of the same rights it touches,
 * under the monitor and cache them.  A range whose pages would pass
 * the device's largest MR, or no monitor slot, gets an uncached
 * registration of just the range.  An entry the monitor invalidated
 * already (the memory changed while it was being registered) serves this
 * one use and is not cached.
 */
static int cache_add(struct fpgadma_mrcache *c, const void *buf, size_t len,
		     unsigned int access, bool exact,
		     struct fpgadma_mrcache_entry **out)
{
	uint64_t mask = exact ? 0 : c->page_size - 1,
		 start = (uintptr_t)buf & ~mask,
		 end = ((uintptr_t)buf + len + mask) & ~mask;
	struct fpgadma_mrcache_entry *e, *reap = NULL;
	uint64_t mstart = start, mend = end;
	struct fpgadma_mr *mr;
	int ret = -EOPNOTSUPP;

	if (end > start && (!c->max_mr_size || end - start <= c->max_mr_size)) {
		if (!exact)
			merge_span_of(c, access, &mstart, &mend);
		ret = cache_reg(c, true, (void *)(uintptr_t)mstart,
				mend - mstart, access, &mr);
		/* The union may reach pages gone since: the range alone. */
		if (ret && (mstart != start || mend != end)) {
			mstart = start;
			mend = end;
			ret = cache_reg(c, true, (void *)(uintptr_t)start,
					end - start, access, &mr);
		}
	}
	if (ret == -EOPNOTSUPP || ret == -ENOSPC)
		return get_uncached(c, buf, len, access, out);
	if (ret)
		return fpgadma_errno_to_fi(ret);
	e = entry_new(mr);
	if (!e)
		return -FI_ENOMEM;
	e->exact = exact;

	pthread_mutex_lock(&c->lock);
	if (fpgadma_mr_valid(mr) == 1) {
		if (!exact)
			merge_drop(c, access, mstart, mend, NULL, &reap);
		entry_insert(c, e);
		evict_over_limits(c, &reap);
	} else {
		dl_add_tail(&c->outside, &e->link);
		c->stats.invalidated++;
	}
	pthread_mutex_unlock(&c->lock);
	reap_all(c, reap);
	*out = e;
	return 0;
}

static int cache_get(struct fpgadma_mrcache *c, const void *buf, size_t len,
		     unsigned int access, unsigned int forbid, bool exact,
		     struct fpgadma_mrcache_entry **out)
{
	struct fpgadma_mrcache_entry *e, *reap = NULL;
	uint64_t start = (uintptr_t)buf, end = start + len;

	*out = NULL;
	if (!len || end < start || (access & forbid))
		return -FI_EINVAL;
	if (!c->enabled)
		return get_uncached(c, buf, len, access, out);

	pthread_mutex_lock(&c->lock);
	cache_sync(c, &reap);
	e = cache_find(c, start, end, access, forbid, exact, &reap);
	if (e) {
		entry_hold(e);
		c->stats.hits++;
	} else {
		c->stats.misses++;
	}
	pthread_mutex_unlock(&c->lock);
	reap_all(c, reap);
	if (e) {
		*out = e;
		return 0;
	}
	return cache_add(c, buf, len, access, exact, out);
}

int fpgadma_mrcache_get(struct fpgadma_mrcache *c, const void *buf, size_t len,
			unsigned int access, unsigned int forbid,
			struct fpgadma_mrcache_entry **out)
{
	return cache_get(c, buf, len, access, forbid, false, out);
}

int fpgadma_mrcache_get_exact(struct fpgadma_mrcache *c, const void *buf,
			      size_t len, unsigned int access,
			      struct fpgadma_mrcache_entry **out)
{
	return cache_get(c, buf, len, access, 0, true, out);
}

void fpgadma_mrcache_put(struct fpgadma_mrcache *c,
			 struct fpgadma_mrcache_entry *e)
{
	struct fpgadma_mrcache_entry *reap = NULL;

	if (!e)
		return;
	pthread_mutex_lock(&c->lock);
	if (!--e->refs) {
		if (!e->in_tree) {
			dl_del(&e->link);	/* off c->outside */
			e->next = reap;
			reap = e;
		} else if (e->exact) {
			/* its key goes with the last MR that has it */
			entry_drop(c, e, &reap);
		} else if (fpgadma_mr_valid(e->mr) != 1) {
			/* its memory changed: no use keeping it */
			e->next = NULL;
			drop_invalid(c, e, &reap);
		} else {
			dl_add_tail(&c->lru, &e->link);
			evict_over_limits(c, &reap);
		}
	}
	pthread_mutex_unlock(&c->lock);
	reap_all(c, reap);
}

void fpgadma_mrcache_stats(struct fpgadma_mrcache *c,
			   struct fi_fpgadma_mr_cache_stats *s)
{
	pthread_mutex_lock(&c->lock);
	*s = c->stats;
	pthread_mutex_unlock(&c->lock);
}

/* --- open and close ------------------------------------------------------------ */

int fpgadma_mrcache_open(struct fpgadma_pd *pd,
			 const struct fpgadma_mrcache_attr *attr,
			 struct fpgadma_mrcache **cache)
{
	struct fpgadma_mrcache *c;
	int ret;

	*cache = NULL;
	if (!attr->page_size || (attr->page_size & (attr->page_size - 1)))
		return -FI_EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&c->lock, NULL);
	if (ret) {
		free(c);
		return ret;
	}
	c->pd = pd;
	c->ctx = pd->context;
	c->enabled = attr->enabled;
	c->page_size = attr->page_size;
	c->max_mr_size = attr->max_mr_size;
	c->max_count = attr->max_count;
	c->max_size = attr->max_size;
	c->name = attr->name ? attr->name : FPGADMA_PROV_NAME;
	itree_init(&c->tree);
	dl_init(&c->lru);
	dl_init(&c->outside);
	c->mon_seen = c->enabled ? fpgadma_mon_count(c->ctx) : 0;
	c->stats.enabled = c->enabled;
	c->stats.max_entries = c->max_count;
	c->stats.max_bytes = c->max_size;
	*cache = c;
	return 0;
}

void fpgadma_mrcache_close(struct fpgadma_mrcache *c)
{
	struct fpgadma_mrcache_entry *reap = NULL;
	size_t busy = 0;

	if (!c)
		return;
	FPGADMA_INFO(FI_LOG_MR, "%s: registration cache: %" PRIu64 " hits, %"
		     PRIu64 " misses, %" PRIu64 " invalidated, %" PRIu64
		     " evicted, %" PRIu64 " uncached; %" PRIu64 " entries of %"
		     PRIu64 " bytes left\n", c->name, c->stats.hits,
		     c->stats.misses, c->stats.invalidated, c->stats.evicted,
		     c->stats.uncached, c->stats.entries, c->stats.bytes);
	pthread_mutex_lock(&c->lock);
	while (c->tree.root) {
		struct fpgadma_mrcache_entry *e = node_entry(c->tree.root);

		busy += e->refs != 0;
		e->refs = 0;
		entry_drop(c, e, &reap);
	}
	while (!dl_empty(&c->outside)) {
		struct fpgadma_mrcache_entry *e =
			dl_first(&c->outside, struct fpgadma_mrcache_entry, link);

		busy++;
		dl_del(&e->link);
		e->next = reap;
		reap = e;
	}
	pthread_mutex_unlock(&c->lock);
	/* The domain closes with no MR and no operation left: a bug else. */
	if (busy)
		FPGADMA_WARN(FI_LOG_MR, "%s: %zu registrations still in use at close\n",
			     c->name, busy);
	reap_all(c, reap);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
