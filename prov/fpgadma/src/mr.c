// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Memory registration.
 *
 * An fi_mr is a libfpgadma MR of the domain's PD: the kernel pins the pages
 * and hands out an lkey (for this context's work requests) and an rkey (for
 * peers).  The rkey is the libfabric key: chosen by the kernel with
 * FI_MR_PROV_KEY, else the application's requested_key, which the kernel
 * takes if it is free on the device.
 *
 * With FI_MR_ENDPOINT an MR starts disabled: the kernel registration happens
 * in fi_mr_enable(), after fi_mr_bind() to an endpoint, so until then there
 * is no key (FI_KEY_NOTAVAIL) and data transfers treat the MR's descriptor
 * as absent.
 *
 * Buffers the application did not register (no FI_MR_LOCAL, or no desc)
 * are registered for the operations that use them by fpgadma_mr_local(),
 * through the domain's registration cache (mrcache.c), which keeps the
 * registration for the next operations on the same pages while the memory
 * stays the same.
 *
 * The application's own MRs go through that cache too, with FI_MR_PROV_KEY
 * (a requested key is the MR's own: no sharing) and without FI_MR_ENDPOINT
 * (an MR of an endpoint is registered by fi_mr_enable, for that endpoint,
 * with a key of its own, as before), in one of two ways (mr_cache_use()):
 *
 *   local only     an MR without remote rights may share any cached entry
 *                  covering its range with its rights and none remote: an
 *                  entry over whole pages, kept after fi_close for the next
 *                  registration or operation.  Its key grants peers nothing.
 *   remote rights  an MR whose key lets peers in shares a kernel MR only
 *                  with MRs of exactly the same range and rights, and that
 *                  kernel MR goes with the last of them
 *                  (fpgadma_mrcache_get_exact): the key grants exactly what
 *                  was registered, and fi_close of the last MR with it takes
 *                  it back, as without a cache.
 *
 * Either way offsets stay right without FI_MR_VIRT_ADDR: an MR with remote
 * rights starts at its own address, and local work names memory by
 * address.  Sharing MRs have the same key (fi_mr_key) and each its own
 * fid; fi_mr_desc covers what the application registered, with the rights
 * it asked for (addr, len, kaccess), whatever the kernel MR covers.  An MR
 * whose memory changes after fi_mr_reg keeps the pages it registered,
 * cached or not; a new fi_mr_reg of that memory gets the new pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fpgadma_prov.h"

#define MR_ACCESS_ALL	(FI_SEND | FI_RECV | FI_READ | FI_WRITE | \
			 FI_REMOTE_READ | FI_REMOTE_WRITE)
/*
 * Flags of fi_mr_reg that promise something this provider does not do.
 * FI_RMA_EVENT (counters will be bound to the MR) is accepted: fi_mr_bind
 * of a counter works on an enabled MR (no FI_MR_RMA_EVENT mode).
 */
#define MR_FLAGS_UNSUPPORTED (FI_RMA_PMEM | FI_HMEM_DEVICE_ONLY)

/*
 * libfabric access bits to the kernel's.  The device writes the memory when
 * it receives into it (FI_RECV), when it is the destination of a read
 * (FI_READ) and when a peer writes it (FI_REMOTE_WRITE).  No bits at all
 * means every access.
 */
static unsigned int mr_access(uint64_t access)
{
	unsigned int a = 0;

	if (!(access & MR_ACCESS_ALL))
		access = MR_ACCESS_ALL;
	if (access & (FI_RECV | FI_READ | FI_REMOTE_WRITE))
		a |= FPGADMA_ACCESS_LOCAL_WRITE;
	if (access & FI_REMOTE_WRITE)
		a |= FPGADMA_ACCESS_REMOTE_WRITE;
	if (access & FI_REMOTE_READ)
		a |= FPGADMA_ACCESS_REMOTE_READ;
	return a;
}

#define MR_REMOTE_RIGHTS (FPGADMA_ACCESS_REMOTE_READ | FPGADMA_ACCESS_REMOTE_WRITE)

/* How m's kernel MR is had (see the top). */
enum mr_use {
	MR_OWN,		/* registered for m alone */
	MR_CACHED,	/* a cached entry: local only */
	MR_EXACT,	/* shared with MRs of the same range and rights */
};

static enum mr_use mr_cache_use(const struct fpgadma_prov_mr *m)
{
	uint64_t mode = m->domain->mr_mode;

	if (!(mode & FI_MR_PROV_KEY) || (mode & FI_MR_ENDPOINT))
		return MR_OWN;
	return m->kaccess & MR_REMOTE_RIGHTS ? MR_EXACT : MR_CACHED;
}

/*
 * m's own kernel MR.  Over RLIMIT_MEMLOCK it tries once more after the
 * cache gave back its unused entries.  0 or a negative errno.
 */
static int mr_reg_own(struct fpgadma_prov_mr *m, uint64_t requested_key)
{
	struct fpgadma_domain *d = m->domain;
	int ret, tries;

	for (tries = 0; ; tries++) {
		if (d->mr_mode & FI_MR_PROV_KEY)
			ret = fpgadma_reg_mr(d->pd, m->addr, m->len, m->kaccess,
					     &m->mr);
		else
			ret = fpgadma_reg_mr_rkey(d->pd, m->addr, m->len,
						  m->kaccess,
						  (uint32_t)requested_key,
						  &m->mr);
		if (ret != -ENOMEM || tries ||
		    !fpgadma_mrcache_reclaim(d->mrcache))
			return ret;
	}
}

/* The kernel registration, with the key the negotiated mode calls for. */
static int mr_register(struct fpgadma_prov_mr *m, uint64_t requested_key)
{
	struct fpgadma_domain *d = m->domain;
	int ret;

	switch (mr_cache_use(m)) {
	case MR_CACHED:
		ret = fpgadma_mrcache_get(d->mrcache, m->addr, m->len,
					  m->kaccess, MR_REMOTE_RIGHTS, &m->ent);
		break;
	case MR_EXACT:
		ret = fpgadma_mrcache_get_exact(d->mrcache, m->addr, m->len,
						m->kaccess, &m->ent);
		break;
	default:
		ret = fpgadma_errno_to_fi(mr_reg_own(m, requested_key));
		break;
	}
	if (!ret && m->ent)
		m->mr = fpgadma_mrcache_mr(m->ent);
	if (ret) {
		m->mr = NULL;
		m->ent = NULL;
		FPGADMA_INFO(FI_LOG_MR, "registering %p+%zu: %s\n", m->addr,
			     m->len, fi_strerror(-ret));
		return ret;
	}
	m->key = m->mr->rkey;
	m->enabled = true;
	m->mr_fid.key = m->key;
	return 0;
}

/* Deregister m's own kernel MR (waits for work using it, unpins). */
static int mr_dereg(struct fpgadma_prov_mr *m, struct fpgadma_mr **mr)
{
	int ret;

	if (!*mr)
		return 0;
	ret = fpgadma_dereg_mr(*mr);
	if (ret) {
		FPGADMA_WARN(FI_LOG_MR, "deregistering %p+%zu: %s\n",
			     m->addr, m->len, fpgadma_strerror(ret));
		return fpgadma_errno_to_fi(ret);
	}
	*mr = NULL;
	return 0;
}

/* --- counters bound to MRs (FI_RMA_EVENT) ---------------------------------- */

/* Is m on d->cntr_mrs?  Its index, or -1.  d->lock held. */
static long cntr_mr_index(struct fpgadma_domain *d, struct fpgadma_prov_mr *m)
{
	size_t i;

	for (i = 0; i < d->n_cntr_mrs; i++)
		if (d->cntr_mrs[i] == m)
			return (long)i;
	return -1;
}

static int mr_bind_cntr(struct fpgadma_prov_mr *m, struct fid *bfid,
			uint64_t flags)
{
	struct fpgadma_cntr *c = fpgadma_cntr_from_fid(bfid);
	struct fpgadma_domain *d = m->domain;
	int ret = 0;

	if (!c || fpgadma_cntr_domain(c) != d)
		return -FI_EINVAL;
	if (!flags || (flags & ~(uint64_t)(FI_REMOTE_WRITE | FI_REMOTE_READ)))
		return -FI_EBADFLAGS;
	pthread_mutex_lock(&d->lock);
	if (((flags & FI_REMOTE_WRITE) && m->rwrite_cntr) ||
	    ((flags & FI_REMOTE_READ) && m->rread_cntr)) {
		ret = -FI_EALREADY;	/* one counter a direction */
		goto out;
	}
	if (cntr_mr_index(d, m) < 0) {
		if (d->n_cntr_mrs == d->cap_cntr_mrs) {
			size_t cap = d->cap_cntr_mrs ? 2 * d->cap_cntr_mrs : 16;
			struct fpgadma_prov_mr **a =
				realloc(d->cntr_mrs, cap * sizeof(*a));

			if (!a) {
				ret = -FI_ENOMEM;
				goto out;
			}
			d->cntr_mrs = a;
			d->cap_cntr_mrs = cap;
		}
		d->cntr_mrs[d->n_cntr_mrs++] = m;
	}
	if (flags & FI_REMOTE_WRITE) {
		fpgadma_cntr_get(c);
		m->rwrite_cntr = c;
	}
	if (flags & FI_REMOTE_READ) {
		fpgadma_cntr_get(c);
		m->rread_cntr = c;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static void mr_unbind_cntrs(struct fpgadma_prov_mr *m)
{
	struct fpgadma_domain *d = m->domain;
	long i;

	pthread_mutex_lock(&d->lock);
	i = cntr_mr_index(d, m);
	if (i >= 0)
		d->cntr_mrs[i] = d->cntr_mrs[--d->n_cntr_mrs];
	pthread_mutex_unlock(&d->lock);
	if (m->rwrite_cntr)
		fpgadma_cntr_put(m->rwrite_cntr);
	if (m->rread_cntr)
		fpgadma_cntr_put(m->rread_cntr);
	m->rwrite_cntr = m->rread_cntr = NULL;
}

void fpgadma_mr_rma_event(struct fpgadma_domain *d, uint32_t rkey, bool read)
{
	size_t i;

	for (i = 0; i < d->n_cntr_mrs; i++) {
		struct fpgadma_prov_mr *m = d->cntr_mrs[i];
		struct fpgadma_cntr *c = read ? m->rread_cntr : m->rwrite_cntr;

		if (m->mr && m->key == rkey && c)
			fpgadma_cntr_inc(c);
	}
}

static int mr_close(struct fid *fid)
{
	struct fpgadma_prov_mr *m =
		container_of(fid, struct fpgadma_prov_mr, mr_fid.fid);
	int ret;

	/* a zero-copy paced stream writes into it: stop that first */
	if (__atomic_load_n(&m->stream_refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	/* no more counting: progress looks MRs up under domain->lock */
	mr_unbind_cntrs(m);
	/* The cache's entries go back (other users may still have them). */
	fpgadma_mrcache_put(m->domain->mrcache, m->rd_ent);
	m->rd_ent = NULL;
	if (m->ent) {
		fpgadma_mrcache_put(m->domain->mrcache, m->ent);
		m->ent = NULL;
		m->mr = NULL;
	}
	ret = mr_dereg(m, &m->mr);
	if (ret)
		return ret;
	fpgadma_domain_put(m->domain);
	free(m);
	return 0;
}

static struct fi_ops mr_fi_ops;

struct fpgadma_prov_mr *fpgadma_mr_from_fid(struct fid_mr *mr)
{
	if (!mr || mr->fid.fclass != FI_CLASS_MR || mr->fid.ops != &mr_fi_ops)
		return NULL;
	return container_of(mr, struct fpgadma_prov_mr, mr_fid);
}

/* Is ep (a fid of class FI_CLASS_EP) an endpoint of domain d? */
static bool domain_has_ep(struct fpgadma_domain *d, struct fid *ep)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < FPGADMA_MAX_EPS && !found; i++)
		found = d->eps[i] && (void *)d->eps[i] == (void *)ep;
	pthread_mutex_unlock(&d->lock);
	return found;
}

static int mr_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct fpgadma_prov_mr *m =
		container_of(fid, struct fpgadma_prov_mr, mr_fid.fid);

	switch (bfid->fclass) {
	case FI_CLASS_EP:	/* fi_mr(3): flags 0 for an endpoint */
		if (m->enabled) {
			FPGADMA_WARN(FI_LOG_MR, "bind after fi_mr_enable\n");
			return -FI_EOPBADSTATE;
		}
		if (!domain_has_ep(m->domain, bfid)) {
			FPGADMA_WARN(FI_LOG_MR, "endpoint of another domain\n");
			return -FI_EINVAL;
		}
		/* struct fpgadma_ep begins with its fid_ep (fpgadma_prov.h). */
		m->ep = (struct fpgadma_ep *)bfid;
		return 0;
	case FI_CLASS_CNTR:
		return mr_bind_cntr(m, bfid, flags);
	default:
		return -FI_EINVAL;
	}
}

/*
 * fi_mr_enable.  Without FI_MR_ENDPOINT the MR is enabled from the start
 * and this is a no-op, as for providers without FI_MR_RMA_EVENT.
 */
static int mr_enable(struct fpgadma_prov_mr *m)
{
	if (m->enabled)
		return 0;
	if (!m->ep) {
		FPGADMA_WARN(FI_LOG_MR, "FI_MR_ENDPOINT: fi_mr_bind first\n");
		return -FI_EOPBADSTATE;
	}
	return mr_register(m, m->key);
}

static int mr_control(struct fid *fid, int command, void *arg)
{
	struct fpgadma_prov_mr *m =
		container_of(fid, struct fpgadma_prov_mr, mr_fid.fid);

	(void)arg;
	switch (command) {
	case FI_ENABLE:
		return mr_enable(m);
	default:
		return -FI_ENOSYS;	/* raw keys, refresh: not offered */
	}
}

static struct fi_ops mr_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = mr_close,
	.bind = mr_bind,
	.control = mr_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

/* Everything fi_mr_regattr can be asked that this provider turns down. */
static int mr_check_attr(struct fpgadma_domain *d, const struct fi_mr_attr *attr,
			 uint64_t flags)
{
	if (!attr || !attr->mr_iov)
		return -FI_EINVAL;
	if (attr->iov_count != 1) {
		FPGADMA_WARN(FI_LOG_MR, "%zu pieces: an MR is one piece of memory (mr_iov_limit 1)\n",
			     attr->iov_count);
		return -FI_EINVAL;
	}
	if (!attr->mr_iov[0].iov_len)
		return -FI_EINVAL;
	if (flags & MR_FLAGS_UNSUPPORTED)
		return -FI_EBADFLAGS;
	if (attr->iface != FI_HMEM_SYSTEM)
		return -FI_EOPNOTSUPP;
	if (attr->auth_key_size)
		return -FI_EINVAL;
	/* The kernel's rkeys are 32 bits and 0 means "choose one". */
	if (!(d->mr_mode & FI_MR_PROV_KEY) &&
	    (!attr->requested_key || attr->requested_key > UINT32_MAX))
		return -FI_EKEYREJECTED;
	return 0;
}

static int mr_regattr(struct fid *fid, const struct fi_mr_attr *attr,
		      uint64_t flags, struct fid_mr **mr)
{
	struct fpgadma_domain *d =
		container_of(fid, struct fpgadma_domain, domain_fid.fid);
	struct fpgadma_prov_mr *m;
	int ret;

	ret = mr_check_attr(d, attr, flags);
	if (ret)
		return ret;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -FI_ENOMEM;
	m->mr_fid.fid.fclass = FI_CLASS_MR;
	m->mr_fid.fid.context = attr->context;
	m->mr_fid.fid.ops = &mr_fi_ops;
	m->mr_fid.mem_desc = m;
	m->mr_fid.key = FI_KEY_NOTAVAIL;
	m->domain = d;
	m->addr = attr->mr_iov[0].iov_base;
	m->len = attr->mr_iov[0].iov_len;
	m->access = attr->access;
	m->kaccess = mr_access(attr->access);
	m->flags = flags;
	m->key = attr->requested_key;

	if (!(d->mr_mode & FI_MR_ENDPOINT)) {
		ret = mr_register(m, attr->requested_key);
		if (ret) {
			free(m);
			return ret;
		}
	}
	fpgadma_domain_get(d);
	*mr = &m->mr_fid;
	return 0;
}

static int mr_regv(struct fid *fid, const struct iovec *iov, size_t count,
		   uint64_t access, uint64_t offset, uint64_t requested_key,
		   uint64_t flags, struct fid_mr **mr, void *context)
{
	struct fi_mr_attr attr = {
		.mr_iov = iov,
		.iov_count = count,
		.access = access,
		.offset = offset,
		.requested_key = requested_key,
		.context = context,
		.iface = FI_HMEM_SYSTEM,
	};

	return mr_regattr(fid, &attr, flags, mr);
}

static int mr_reg(struct fid *fid, const void *buf, size_t len,
		  uint64_t access, uint64_t offset, uint64_t requested_key,
		  uint64_t flags, struct fid_mr **mr, void *context)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return mr_regv(fid, &iov, 1, access, offset, requested_key, flags,
		       mr, context);
}

struct fi_ops_mr fpgadma_mr_ops = {
	.size = sizeof(struct fi_ops_mr),
	.reg = mr_reg,
	.regv = mr_regv,
	.regattr = mr_regattr,
};

/* --- registrations of the data plane ----------------------------------------- */

/* Does the application's desc cover [buf, buf+len) with the rights needed? */
static bool desc_covers(struct fpgadma_domain *d, struct fpgadma_prov_mr *m,
			const void *buf, size_t len, bool device_writes)
{
	uintptr_t start = (uintptr_t)m->addr, b = (uintptr_t)buf;

	if (m->mr_fid.fid.fclass != FI_CLASS_MR || m->domain != d || !m->mr)
		return false;
	if (b < start || len > m->len || b - start > m->len - len)
		return false;
	/* the rights the application asked for, not the shared MR's */
	return !device_writes || (m->kaccess & FPGADMA_ACCESS_LOCAL_WRITE);
}

bool fpgadma_mr_desc_covers(struct fpgadma_domain *d, void *desc,
			    const void *buf, size_t len, bool device_writes)
{
	return !len || (desc && desc_covers(d, desc, buf, len, device_writes));
}

bool fpgadma_mr_remote_read_key(struct fpgadma_domain *d, void *desc,
				const void *buf, size_t len, uint32_t *rkey)
{
	struct fpgadma_prov_mr *m = desc;
	int ret;

	if (!m || !desc_covers(d, m, buf, len, false))
		return false;
	/* an MR with remote read rights: its key (its own, or exact) */
	if (m->kaccess & FPGADMA_ACCESS_REMOTE_READ) {
		*rkey = m->mr->rkey;
		return true;
	}
	if (!m->rd_ent && !m->rd_failed) {
		ret = fpgadma_mrcache_get(d->mrcache, m->addr, m->len,
					  FPGADMA_ACCESS_REMOTE_READ,
					  FPGADMA_ACCESS_REMOTE_WRITE,
					  &m->rd_ent);
		if (ret) {
			FPGADMA_INFO(FI_LOG_MR, "%p+%zu for remote reads: %s\n",
				     m->addr, m->len, fi_strerror(-ret));
			m->rd_ent = NULL;
			m->rd_failed = true;
		}
	}
	if (!m->rd_ent)
		return false;
	*rkey = fpgadma_mrcache_mr(m->rd_ent)->rkey;
	return true;
}

int fpgadma_mr_local(struct fpgadma_domain *d, void *desc, const void *buf,
		     size_t len, bool device_writes, uint32_t *lkey,
		     struct fpgadma_mrcache_entry **tmp)
{
	int ret;

	*tmp = NULL;
	if (!len) {		/* nothing for the device to touch */
		*lkey = 0;
		return 0;
	}
	if (desc && desc_covers(d, desc, buf, len, device_writes)) {
		*lkey = ((struct fpgadma_prov_mr *)desc)->mr->lkey;
		return 0;
	}
	if (desc)
		FPGADMA_DBG(FI_LOG_MR, "desc %p does not cover %p+%zu\n", desc,
			    buf, len);
	/* any cached registration of the pages will do, whatever else it allows */
	ret = fpgadma_mrcache_get(d->mrcache, buf, len,
				  device_writes ? FPGADMA_ACCESS_LOCAL_WRITE : 0,
				  0, tmp);
	if (ret)
		return ret;
	*lkey = fpgadma_mrcache_mr(*tmp)->lkey;
	return 0;
}

void fpgadma_mr_local_release(struct fpgadma_domain *d,
			      struct fpgadma_mrcache_entry *tmp)
{
	fpgadma_mrcache_put(d->mrcache, tmp);
}
