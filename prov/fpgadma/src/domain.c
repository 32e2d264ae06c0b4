// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The domain: one device, one libfpgadma context.
 *
 * Opening a domain opens /dev/fpgadmaN: the kernel gives the context its
 * endpoint number (ep_id), a completion ring and a key space for MRs.  All
 * endpoints, CQs, counters and MRs of the domain share that context; the
 * data plane (dp.c) hangs its own state off the domain in
 * fpgadma_dp_init().
 *
 * The FPGA of the device is reached through the provider extension
 * FI_FPGADMA_DOMAIN_OPS_1 (include/rdma/fi_ext_fpgadma.h), which also
 * gives the counters of the domain's registration cache (mrcache.c) and of
 * its endpoints, and runs the device's paced streams (dp.c).  The ops
 * only grow at their end: an application built against an older header
 * sees the calls its size covers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpgadma_prov.h"

/*
 * The negotiated mr_mode in its 1.5 form (see fpgadma_prov.h): what the
 * legacy values promise, as bits.
 */
static uint64_t mr_mode_bits(uint32_t version, int mr_mode)
{
	const uint64_t basic = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
			       FI_MR_PROV_KEY;

	if (mr_mode == FI_MR_BASIC ||
	    (FI_VERSION_LT(version, FI_VERSION(1, 5)) &&
	     mr_mode == FI_MR_UNSPEC))
		return basic;
	if (mr_mode == FI_MR_SCALABLE)
		return 0;
	return (uint64_t)mr_mode & (FI_MR_LOCAL | FI_MR_VIRT_ADDR |
				    FI_MR_ALLOCATED | FI_MR_PROV_KEY |
				    FI_MR_ENDPOINT);
}

uint32_t fpgadma_domain_api_version(const struct fpgadma_domain *d)
{
	return d->fabric->fabric_fid.api_version;
}

void fpgadma_domain_fpga_addr(const struct fpgadma_domain *d,
			      struct fpgadma_addr *a)
{
	a->magic = FPGADMA_ADDR_MAGIC;
	a->dev_index = d->attr.dev_index;
	a->ep_id = 0;
	a->ep_idx = 0;
}

/* --- the extension: fi_open_ops(FI_FPGADMA_DOMAIN_OPS_1) ----------------- */

static int query_fpga(struct fid_domain *domain, struct fi_fpgadma_fpga *fpga)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	struct fpgadma_addr a;
	int len;

	if (!fpga)
		return -FI_EINVAL;
	memset(fpga, 0, sizeof(*fpga));
	/* In the domain's address format, for its AVs. */
	fpgadma_domain_fpga_addr(d, &a);
	len = fpgadma_addr_encode(fpgadma_domain_addr_format(d), &a,
				  fpga->addr);
	if (len < 0)
		return len;
	fpga->addrlen = (size_t)len;
	fpga->dev_index = d->attr.dev_index;
	/* The extension's engine numbers are the kernel's. */
	fpga->engine = d->attr.engine;
	fpga->mem_base = 0;
	fpga->mem_size = d->attr.dev_mem_size;
	fpga->mem_key = FI_FPGADMA_MEM_KEY;
	fpga->frame_size = d->attr.frame_size;
	fpga->stream_key = FI_FPGADMA_STREAM_KEY;
	return 0;
}

static int mr_cache_stats(struct fid_domain *domain,
			  struct fi_fpgadma_mr_cache_stats *stats)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);

	if (!stats)
		return -FI_EINVAL;
	fpgadma_mrcache_stats(d->mrcache, stats);
	return 0;
}

/* ep must be an endpoint of the domain: looked up in d->eps[]. */
static int ep_stats(struct fid_domain *domain, struct fid_ep *ep_fid,
		    struct fi_fpgadma_ep_stats *stats)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	size_t i;
	int ret = -FI_EINVAL;

	if (!ep_fid || !stats || !d->dp)
		return -FI_EINVAL;
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < FPGADMA_MAX_EPS; i++) {
		if (d->eps[i] && (struct fid_ep *)d->eps[i] == ep_fid) {
			/* struct fpgadma_ep begins with its fid_ep */
			fpgadma_ep_stats_fill(d->eps[i], stats);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static int chan_stats(struct fid_domain *domain,
		      struct fi_fpgadma_chan_stats *stats)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);

	if (!stats)
		return -FI_EINVAL;
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&d->lock);
	if (d->dp)
		fpgadma_chan_stats_fill(d->dp, stats);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static struct fi_fpgadma_ops_domain fpgadma_ops_domain = {
	.size = sizeof(struct fi_fpgadma_ops_domain),
	.query_fpga = query_fpga,
	.mr_cache_stats = mr_cache_stats,
	.ep_stats = ep_stats,
	.stream_start = fpgadma_ext_stream_start,
	.stream_stop = fpgadma_ext_stream_stop,
	.stream_stats = fpgadma_ext_stream_stats,
	.stream_ready = fpgadma_ext_stream_ready,
	.stream_slot = fpgadma_ext_stream_slot,
	.stream_release = fpgadma_ext_stream_release,
	.chan_stats = chan_stats,
};

static int domain_ops_open(struct fid *fid, const char *name, uint64_t flags,
			   void **ops, void *context)
{
	(void)fid; (void)flags; (void)context;
	if (!name || !ops)
		return -FI_EINVAL;
	if (strcmp(name, FI_FPGADMA_DOMAIN_OPS_1))
		return -FI_ENOSYS;
	*ops = &fpgadma_ops_domain;
	return 0;
}

/* --- domain ops ----------------------------------------------------------- */

static int domain_close(struct fid *fid)
{
	struct fpgadma_domain *d =
		container_of(fid, struct fpgadma_domain, domain_fid.fid);
	int ret;

	if (__atomic_load_n(&d->refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	/* the operations give their registrations back, then the cache goes */
	fpgadma_dp_fini(d);
	if (d->n_atomic[0] || d->n_atomic[1] || d->n_atomic[2])
		FPGADMA_INFO(FI_LOG_DOMAIN, "%s: atomics: %" PRIu64 " fi_atomic, %"
			     PRIu64 " fi_fetch_atomic, %" PRIu64
			     " fi_compare_atomic posted, %" PRIu64
			     " of them to the FPGA's memory\n",
			     d->info->domain_attr->name, d->n_atomic[0],
			     d->n_atomic[1], d->n_atomic[2], d->n_atomic_fpga);
	if (d->n_mem_map)
		FPGADMA_INFO(FI_LOG_DOMAIN, "%s: %" PRIu64
			     " RMAs of the FPGA's memory done through its mapping\n",
			     d->info->domain_attr->name, d->n_mem_map);
	fpgadma_mrcache_close(d->mrcache);
	ret = fpgadma_dealloc_pd(d->pd);
	if (ret)
		FPGADMA_WARN(FI_LOG_DOMAIN, "%s: dealloc_pd: %s\n",
			     d->info->domain_attr->name, fpgadma_strerror(ret));
	fpgadma_close(d->ctx);
	fpgadma_fabric_put(d->fabric);
	fi_freeinfo(d->info);
	pthread_mutex_destroy(&d->lock);
	free(d->cntr_mrs);	/* empty: every MR is closed (refs) */
	free(d);
	return 0;
}

static int domain_no_scalable_ep(struct fid_domain *domain, struct fi_info *info,
				 struct fid_ep **sep, void *context)
{
	(void)domain; (void)info; (void)sep; (void)context;
	return -FI_ENOSYS;
}

static int domain_no_stx_ctx(struct fid_domain *domain, struct fi_tx_attr *attr,
			     struct fid_stx **stx, void *context)
{
	(void)domain; (void)attr; (void)stx; (void)context;
	return -FI_ENOSYS;
}

static int domain_no_srx_ctx(struct fid_domain *domain, struct fi_rx_attr *attr,
			     struct fid_ep **rx_ep, void *context)
{
	(void)domain; (void)attr; (void)rx_ep; (void)context;
	return -FI_ENOSYS;
}

static int domain_no_query_collective(struct fid_domain *domain,
				      enum fi_collective_op coll,
				      struct fi_collective_attr *attr,
				      uint64_t flags)
{
	(void)domain; (void)coll; (void)attr; (void)flags;
	return -FI_ENOSYS;
}

static int domain_endpoint2(struct fid_domain *domain, struct fi_info *info,
			    struct fid_ep **ep, uint64_t flags, void *context)
{
	if (flags)
		return -FI_ENOSYS;	/* FI_PEER and the like */
	return fpgadma_ep_open(domain, info, ep, context);
}

static struct fi_ops domain_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = domain_close,
	.bind = fpgadma_no_bind,	/* no asynchronous MR events */
	.control = fpgadma_no_control,
	.ops_open = domain_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_domain domain_ops = {
	.size = sizeof(struct fi_ops_domain),
	.av_open = fpgadma_av_open,
	.cq_open = fpgadma_cq_open,
	.endpoint = fpgadma_ep_open,
	.scalable_ep = domain_no_scalable_ep,
	.cntr_open = fpgadma_cntr_open,
	.poll_open = fpgadma_poll_open,
	.stx_ctx = domain_no_stx_ctx,
	.srx_ctx = domain_no_srx_ctx,
	.query_atomic = fpgadma_query_atomic,
	.query_collective = domain_no_query_collective,
	.endpoint2 = domain_endpoint2,
};

/* The device an fi_info names: its domain name is "fpgadma<N>". */
static int info_dev_index(const struct fi_info *info)
{
	const char *name;
	unsigned int n;
	int len = 0;

	if (!info || !info->domain_attr || !info->domain_attr->name)
		return -FI_EINVAL;
	name = info->domain_attr->name;
	if (sscanf(name, FPGADMA_PROV_NAME "%u%n", &n, &len) != 1 ||
	    (size_t)len != strlen(name))
		return -FI_EINVAL;
	return (int)n;
}

/* Has the domain's kernel endpoint an address in this format? */
static bool domain_addr_ok(const struct fpgadma_domain *d, uint32_t format)
{
	struct fpgadma_addr a = {
		.magic = FPGADMA_ADDR_MAGIC,
		.dev_index = d->attr.dev_index,
		.ep_id = d->attr.ep_id,
		.ep_idx = FPGADMA_MAX_EPS - 1,
	};
	uint8_t buf[FI_FPGADMA_ADDRLEN];

	return fpgadma_addr_encode(format, &a, buf) >= 0;
}

/* Open the device's context, its PD and the data plane's state. */
static int domain_open_device(struct fpgadma_domain *d, int index)
{
	int ret;

	ret = fpgadma_open(index, &d->ctx);
	if (ret) {
		FPGADMA_WARN(FI_LOG_DOMAIN, "/dev/fpgadma%d: %s\n", index,
			     fpgadma_strerror(ret));
		return fpgadma_errno_to_fi(ret);
	}
	ret = fpgadma_query(d->ctx, &d->attr);
	if (ret)
		goto err_close;
	ret = fpgadma_alloc_pd(d->ctx, &d->pd);
	if (ret)
		goto err_close;
	return 0;

err_close:
	FPGADMA_WARN(FI_LOG_DOMAIN, "/dev/fpgadma%d: %s\n", index,
		     fpgadma_strerror(ret));
	fpgadma_close(d->ctx);
	return fpgadma_errno_to_fi(ret);
}

/*
 * The registration cache, on unless FI_FPGADMA_MR_CACHE=0 or the device
 * has no memory monitor (without one a cached registration could outlive
 * the memory it pinned).
 */
static int domain_open_mrcache(struct fpgadma_domain *d)
{
	bool monitor = d->attr.caps & FPGADMA_CAP_MR_MONITOR;
	long page = sysconf(_SC_PAGESIZE);
	struct fpgadma_mrcache_attr a = {
		.enabled = fpgadma_params.mr_cache && monitor,
		.max_count = fpgadma_params.mr_cache_max_count,
		.max_size = fpgadma_params.mr_cache_max_size ?
			    fpgadma_params.mr_cache_max_size :
			    fpgadma_mrcache_default_max_size(),
		.page_size = d->attr.page_size ? d->attr.page_size :
			     page > 0 ? (uint64_t)page : 4096,
		.max_mr_size = d->attr.max_mr_size,
		.name = d->info->domain_attr->name,
	};

	if (fpgadma_params.mr_cache && !monitor)
		FPGADMA_INFO(FI_LOG_DOMAIN, "%s: no memory monitor: no registration cache\n",
			     a.name);
	return fpgadma_mrcache_open(d->pd, &a, &d->mrcache);
}

/*
 * A src_addr naming an endpoint number (fi_getinfo with FI_SOURCE and a
 * service) is bound, so that a peer given the same node and service finds
 * the domain's endpoints; an address of another kind (the device's "any",
 * the FPGA's) asks for nothing.
 */
static int domain_bind(struct fpgadma_domain *d, const struct fi_info *info)
{
	struct fpgadma_addr src;
	int ret;

	/*
	 * A passive endpoint as the handle (fabtests' fi_msg_sockets): its
	 * address, endpoint number and index, becomes this domain's, as an
	 * active socket takes over a bound one's.
	 */
	ret = info->handle ? fpgadma_pep_hand_over(info->handle,
						   d->attr.dev_index, &src) : 0;
	if (ret < 0)
		return ret;
	if (ret > 0) {
		d->pep_handle = info->handle;
		d->pep_idx = src.ep_idx;
	} else if (!info->src_addr ||
	    info->src_addrlen != fpgadma_addrlen(info->addr_format) ||
	    fpgadma_addr_decode(info->addr_format, info->src_addr, &src) ||
	    !src.ep_id || src.ep_id > FPGADMA_EP_ID_MAX) {
		return 0;
	}
	ret = fpgadma_bind_ep(d->ctx, src.ep_id);
	if (!ret)
		ret = fpgadma_query(d->ctx, &d->attr);
	if (ret) {
		FPGADMA_WARN(FI_LOG_DOMAIN, "%s: endpoint number %u: %s\n",
			     info->domain_attr->name, src.ep_id,
			     fpgadma_strerror(ret));
		return fpgadma_errno_to_fi(ret);
	}
	return 0;
}

int fpgadma_domain_open(struct fid_fabric *fabric, struct fi_info *info,
			struct fid_domain **dom, void *context)
{
	struct fpgadma_fabric *f =
		container_of(fabric, struct fpgadma_fabric, fabric_fid);
	struct fpgadma_domain *d;
	uint32_t version;
	int index, ret;

	index = info_dev_index(info);
	if (index < 0 || !fpgadma_addr_format_ok(info->addr_format))
		return -FI_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&d->lock, NULL);
	if (ret)
		goto err_free;
	d->info = fi_dupinfo(info);
	if (!d->info) {
		ret = -FI_ENOMEM;
		goto err_mutex;
	}
	ret = domain_open_device(d, index);
	if (ret)
		goto err_info;
	ret = domain_bind(d, info);
	if (ret)
		goto err_device;
	/*
	 * The endpoints' addresses must have an encoding in the domain's
	 * format: a sockaddr_in carries ep_id in its port.  The kernel
	 * numbers endpoints 1..65535, so this is only a safety net.
	 */
	if (!domain_addr_ok(d, info->addr_format)) {
		FPGADMA_WARN(FI_LOG_DOMAIN, "%s: endpoint %u has no %s address\n",
			     info->domain_attr->name, d->attr.ep_id,
			     fi_tostr(&info->addr_format, FI_TYPE_ADDR_FORMAT));
		ret = -FI_EADDRNOTAVAIL;
		goto err_device;
	}

	d->fabric = f;
	version = info->fabric_attr && info->fabric_attr->api_version ?
		  info->fabric_attr->api_version : fabric->api_version;
	d->mr_mode = mr_mode_bits(version, info->domain_attr->mr_mode);
	d->threading = info->domain_attr->threading;
	d->domain_fid.fid.fclass = FI_CLASS_DOMAIN;
	d->domain_fid.fid.context = context;
	d->domain_fid.fid.ops = &domain_fi_ops;
	d->domain_fid.ops = &domain_ops;
	d->domain_fid.mr = &fpgadma_mr_ops;

	ret = domain_open_mrcache(d);
	if (ret)
		goto err_device;
	ret = fpgadma_dp_init(d);
	if (ret) {
		FPGADMA_WARN(FI_LOG_DOMAIN, "%s: data plane: %s\n",
			     info->domain_attr->name, fi_strerror(-ret));
		goto err_mrcache;
	}
	fpgadma_fabric_get(f);
	FPGADMA_INFO(FI_LOG_DOMAIN, "%s: opened, endpoint %u\n",
		     info->domain_attr->name, d->attr.ep_id);
	*dom = &d->domain_fid;
	return 0;

err_mrcache:
	fpgadma_mrcache_close(d->mrcache);
err_device:
	fpgadma_dealloc_pd(d->pd);
	fpgadma_close(d->ctx);
err_info:
	fi_freeinfo(d->info);
err_mutex:
	pthread_mutex_destroy(&d->lock);
err_free:
	free(d);
	return ret;
}
