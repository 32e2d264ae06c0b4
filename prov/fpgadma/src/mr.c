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
 * are registered for the duration of one operation by fpgadma_mr_local().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fpgadma_prov.h"

#define MR_ACCESS_ALL	(FI_SEND | FI_RECV | FI_READ | FI_WRITE | \
			 FI_REMOTE_READ | FI_REMOTE_WRITE)
/* Flags of fi_mr_reg that promise something this provider does not do. */
#define MR_FLAGS_UNSUPPORTED (FI_RMA_EVENT | FI_RMA_PMEM | FI_HMEM_DEVICE_ONLY)

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

/* The kernel registration, with the key the negotiated mode calls for. */
static int mr_register(struct fpgadma_prov_mr *m, uint64_t requested_key)
{
	struct fpgadma_domain *d = m->domain;
	unsigned int access = mr_access(m->access);
	int ret;

	if (d->mr_mode & FI_MR_PROV_KEY)
		ret = fpgadma_reg_mr(d->pd, m->addr, m->len, access, &m->mr);
	else
		ret = fpgadma_reg_mr_rkey(d->pd, m->addr, m->len, access,
					  (uint32_t)requested_key, &m->mr);
	if (ret) {
		m->mr = NULL;
		FPGADMA_INFO(FI_LOG_MR, "registering %p+%zu: %s\n", m->addr,
			     m->len, fpgadma_strerror(ret));
		return fpgadma_errno_to_fi(ret);
	}
	m->key = m->mr->rkey;
	m->enabled = true;
	m->mr_fid.key = m->key;
	return 0;
}

/* Deregister one of m's registrations (waits for work using it, unpins). */
static int mr_dereg(struct fpgadma_prov_mr *m, struct fpgadma_mr **mr,
		    const char *what)
{
	int ret;

	if (!*mr)
		return 0;
	ret = fpgadma_dereg_mr(*mr);
	if (ret) {
		FPGADMA_WARN(FI_LOG_MR, "deregistering %p+%zu%s: %s\n",
			     m->addr, m->len, what, fpgadma_strerror(ret));
		return fpgadma_errno_to_fi(ret);
	}
	*mr = NULL;
	return 0;
}

static int mr_close(struct fid *fid)
{
	struct fpgadma_prov_mr *m =
		container_of(fid, struct fpgadma_prov_mr, mr_fid.fid);
	int ret;

	ret = mr_dereg(m, &m->rd_mr, " (remote read)");
	if (!ret)
		ret = mr_dereg(m, &m->mr, "");
	if (ret)
		return ret;
	fpgadma_domain_put(m->domain);
	free(m);
	return 0;
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

	(void)flags;	/* fi_mr(3): 0 for an endpoint */
	switch (bfid->fclass) {
	case FI_CLASS_EP:
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
		return -FI_ENOSYS;	/* no FI_RMA_EVENT */
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
	return !device_writes || (m->mr->access & FPGADMA_ACCESS_LOCAL_WRITE);
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
	if (m->mr->access & FPGADMA_ACCESS_REMOTE_READ) {
		*rkey = m->mr->rkey;
		return true;
	}
	if (!m->rd_mr && !m->rd_failed) {
		ret = fpgadma_reg_mr(d->pd, m->addr, m->len,
				     FPGADMA_ACCESS_REMOTE_READ, &m->rd_mr);
		if (ret) {
			FPGADMA_INFO(FI_LOG_MR, "%p+%zu for remote reads: %s\n",
				     m->addr, m->len, fpgadma_strerror(ret));
			m->rd_mr = NULL;
			m->rd_failed = true;
		}
	}
	if (!m->rd_mr)
		return false;
	*rkey = m->rd_mr->rkey;
	return true;
}

int fpgadma_mr_local(struct fpgadma_domain *d, void *desc, const void *buf,
		     size_t len, bool device_writes, uint32_t *lkey,
		     struct fpgadma_mr **tmp)
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
	ret = fpgadma_reg_mr(d->pd, (void *)buf, len,
			     device_writes ? FPGADMA_ACCESS_LOCAL_WRITE : 0,
			     tmp);
	if (ret) {
		*tmp = NULL;
		return fpgadma_errno_to_fi(ret);
	}
	*lkey = (*tmp)->lkey;
	return 0;
}

void fpgadma_mr_local_release(struct fpgadma_domain *d, struct fpgadma_mr *tmp)
{
	int ret;

	if (!tmp)
		return;
	ret = fpgadma_dereg_mr(tmp);
	if (ret)
		FPGADMA_WARN(FI_LOG_MR, "%s: temporary MR: %s\n",
			     d->info->domain_attr->name, fpgadma_strerror(ret));
}
