// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The provider's entry point, fi_getinfo, its runtime parameters and the
 * fabric object.
 *
 * fi_getinfo reports one fi_info per device /dev/fpgadma0..15 that opens.
 * What a device offers depends on its engine: one with host endpoints
 * (FPGADMA_CAP_HOST_EP) is a full RDM provider (messages, tagged messages,
 * RMA between host endpoints and to its FPGA); one without (the edu engine)
 * only lets a process read and write its FPGA's memory, so it offers RMA
 * initiation and FI_LOCAL_COMM and nothing else.  A device whose engine
 * runs atomics (FPGADMA_CAP_ATOMIC: the soft engine) adds FI_ATOMIC, to
 * the same targets as its RMA, and the FI_ORDER_ATOMIC_* orders.
 *
 * The hints are matched the way fi_getinfo(3), fi_domain(3) and fi_mr(3)
 * say, in one pass that rejects what cannot be offered and narrows the
 * info to what was asked (info_fit_hints()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fpgadma_prov.h"

/* Capabilities, grouped the way fi_getinfo(3) groups them. */
#define TX_CAPS		(FI_MSG | FI_TAGGED | FI_RMA | FI_ATOMIC | FI_SEND | \
			 FI_READ | FI_WRITE)
#define RX_CAPS		(FI_MSG | FI_TAGGED | FI_RMA | FI_ATOMIC | FI_RECV | \
			 FI_REMOTE_READ | FI_REMOTE_WRITE | FI_DIRECTED_RECV | \
			 FI_MULTI_RECV | FI_SOURCE)
/* FI_SHARED_AV: named AVs, shared by the processes of the node (av.c). */
#define DOMAIN_CAPS	(FI_LOCAL_COMM | FI_REMOTE_COMM | FI_SHARED_AV)
/* ... FI_ATOMIC only where the device runs atomics (info_for_device) */
#define HOST_EP_CAPS	((TX_CAPS | RX_CAPS | DOMAIN_CAPS) & ~FI_ATOMIC)
/* A device without host endpoints: RMA from this process to its FPGA. */
#define FPGA_ONLY_CAPS	(FI_RMA | FI_READ | FI_WRITE | FI_LOCAL_COMM | \
			 FI_SHARED_AV)

/*
 * Secondary capabilities are returned whether asked or not (they cost
 * nothing); primary ones only when asked, once the application asks for
 * any.
 */
#define SECONDARY_CAPS	(FI_MULTI_RECV | FI_SOURCE | FI_SOURCE_ERR | \
			 FI_RMA_EVENT | FI_TRIGGER | FI_FENCE | FI_RMA_PMEM | \
			 FI_SHARED_AV)
#define MSG_DIR_CAPS	(FI_SEND | FI_RECV)
#define RMA_DIR_CAPS	(FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE)
/* Receive-side bits an application may leave in tx_attr->caps (and back). */
#define IGNORED_TX_CAPS	(FI_REMOTE_READ | FI_REMOTE_WRITE | FI_RECV | \
			 FI_DIRECTED_RECV | FI_VARIABLE_MSG | FI_MULTI_RECV | \
			 FI_SOURCE | FI_RMA_EVENT | FI_SOURCE_ERR)
#define IGNORED_RX_CAPS	(FI_READ | FI_WRITE | FI_SEND | FI_FENCE | \
			 FI_MULTICAST | FI_NAMED_RX_CTX)

/* FI_INJECT as a default: every send and write copied (at most inject_size) */
#define TX_OP_FLAGS	(FI_COMPLETION | FI_INJECT | FI_INJECT_COMPLETE | \
			 FI_TRANSMIT_COMPLETE | FI_DELIVERY_COMPLETE)
#define RX_OP_FLAGS	(FI_COMPLETION | FI_MULTI_RECV)

/*
 * MR modes: the provider requires none (it registers buffers the
 * application did not), and keeps those of the hinted bits it can make
 * use of.  Without hints it suggests the ones that save work per
 * operation.
 */
#define MR_MODE_USABLE	(FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | \
			 FI_MR_PROV_KEY | FI_MR_ENDPOINT)
#define MR_MODE_DEFAULT	(FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | \
			 FI_MR_PROV_KEY)

#define FPGADMA_TAG_FORMAT	0xAAAAAAAAAAAAAAAAULL	/* 64 tag bits */
#define FPGADMA_CQ_CNT		256
#define FPGADMA_CNTR_CNT	256
#define FPGADMA_MR_CNT		65536

struct fpgadma_params fpgadma_params = {
	.eager_size	= 8192,
	.rx_bufs	= 64,
	.tx_bufs	= 64,
	.rnr_retry_us	= 50,
	.inject_size	= 4096,
	.poll_yield	= 16,
	.post_batch	= 64,
	.rx_repost	= 16,
	.connect_timeout_ms = 10000,
	.mr_cache	= 1,
	.mr_cache_max_count = 1024,
	.mr_cache_max_size = 0,		/* fpgadma_mrcache_default_max_size() */
	.devices	= (1U << FPGADMA_MAX_DEVICES) - 1,
	.mem_map_max	= 4096,
	.chan		= 1,
};

static int fpgadma_getinfo(uint32_t version, const char *node,
			   const char *service, uint64_t flags,
			   const struct fi_info *hints, struct fi_info **info);
static int fpgadma_fabric_open(struct fi_fabric_attr *attr,
			       struct fid_fabric **fabric, void *context);
static void fpgadma_cleanup(void)
{
}

struct fi_provider fpgadma_prov = {
	.version = FPGADMA_PROV_VERSION,
	.fi_version = FPGADMA_FI_VERSION,
	.name = FPGADMA_PROV_NAME,
	.getinfo = fpgadma_getinfo,
	.fabric = fpgadma_fabric_open,
	.cleanup = fpgadma_cleanup,
};

/* --- runtime parameters ---------------------------------------------------- */

static void param_size(const char *name, size_t *val, size_t min)
{
	size_t v;

	if (fi_param_get_size_t(&fpgadma_prov, name, &v) == FI_SUCCESS) {
		if (v < min)
			FPGADMA_WARN(FI_LOG_CORE, "FI_FPGADMA_%s=%zu too small, using %zu\n",
				     name, v, *val);
		else
			*val = v;
	}
}

/*
 * FI_FPGADMA_DEVICES: a comma-separated list of device numbers (0 for
 * /dev/fpgadma0) or names (fpgadma0).  An entry that is neither is
 * reported and ignored, so a list of nothing valid hides every device
 * rather than silently showing them all.
 */
static uint32_t parse_devices(const char *list)
{
	char buf[256], *tok, *save = NULL;
	uint32_t mask = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		const char *num = tok;
		char *end;
		unsigned long v;

		if (!strncmp(num, FPGADMA_PROV_NAME, strlen(FPGADMA_PROV_NAME)))
			num += strlen(FPGADMA_PROV_NAME);
		errno = 0;
		v = strtoul(num, &end, 10);
		if (*num < '0' || *num > '9' || *end || errno ||
		    v >= FPGADMA_MAX_DEVICES) {
			FPGADMA_WARN(FI_LOG_CORE,
				     "FI_FPGADMA_DEVICES: \"%s\" is not a device number (0..%d) or name (fpgadma0..): ignored\n",
				     tok, FPGADMA_MAX_DEVICES - 1);
			continue;
		}
		mask |= 1U << v;
	}
	return mask;
}

static void read_params(void)
{
	int rnr, yield, ms, cache, chan;
	char *devices = NULL;

	fi_param_define(&fpgadma_prov, "eager_size", FI_PARAM_SIZE_T,
			"Largest message sent in one piece; longer ones are read by the receiver (default: %zu)",
			fpgadma_params.eager_size);
	fi_param_define(&fpgadma_prov, "rx_bufs", FI_PARAM_SIZE_T,
			"Receive buffers per domain for messages not yet matched (default: %zu)",
			fpgadma_params.rx_bufs);
	fi_param_define(&fpgadma_prov, "tx_bufs", FI_PARAM_SIZE_T,
			"Send buffers per domain for eager and injected messages (default: %zu)",
			fpgadma_params.tx_bufs);
	fi_param_define(&fpgadma_prov, "rnr_retry_us", FI_PARAM_INT,
			"Microseconds before a send that found no receive buffer is retried (default: %d)",
			fpgadma_params.rnr_retry_us);
	fi_param_define(&fpgadma_prov, "inject_size", FI_PARAM_SIZE_T,
			"Largest fi_inject payload, at most eager_size (default: %zu)",
			fpgadma_params.inject_size);
	fi_param_define(&fpgadma_prov, "poll_yield", FI_PARAM_INT,
			"Empty fi_cq_read / fi_cntr_read calls in a row after which each further one yields the CPU to other processes; -1: never (default: %d)",
			fpgadma_params.poll_yield);
	fi_param_define(&fpgadma_prov, "post_batch", FI_PARAM_SIZE_T,
			"RMA operations issued while others of the domain are in flight wait for the next progress call (fi_cq_read, fi_cntr_read, a wait) and go to the kernel together, up to this many work requests in one system call; 0 or 1: each at once (default: %zu)",
			fpgadma_params.post_batch);
	fi_param_define(&fpgadma_prov, "rx_repost", FI_PARAM_SIZE_T,
			"Receive buffers a domain gathers after their messages were handled before giving them back to the kernel in one system call, unless the next send's system call takes them along first; at most half the receive buffers wait; 0 or 1: each at once (default: %zu)",
			fpgadma_params.rx_repost);

	fi_param_define(&fpgadma_prov, "connect_timeout_ms", FI_PARAM_INT,
			"Milliseconds for which messages to an endpoint that has never answered are resent while no endpoint has its number, as when a client starts before its server has bound the service; 0: fail at once (default: %d)",
			fpgadma_params.connect_timeout_ms);
	fi_param_define(&fpgadma_prov, "mr_cache", FI_PARAM_BOOL,
			"Keep registrations for reuse (of buffers passed without desc, of rendezvous sends, of fi_mr_reg with FI_MR_PROV_KEY and without FI_MR_ENDPOINT) while the kernel's memory monitor says the memory under them is the same; 0: register and deregister for each use (default: %d)",
			fpgadma_params.mr_cache);
	fi_param_define(&fpgadma_prov, "mr_cache_max_count", FI_PARAM_SIZE_T,
			"Registrations a domain's cache keeps; beyond, the least recently used unused ones are deregistered (default: %zu)",
			fpgadma_params.mr_cache_max_count);
	fi_param_define(&fpgadma_prov, "mr_cache_max_size", FI_PARAM_SIZE_T,
			"Bytes of registrations a domain's cache keeps pinned; beyond, the least recently used unused ones are deregistered; 0: the default (default: half of RLIMIT_MEMLOCK, at most 4 GiB; 4 GiB with CAP_IPC_LOCK)");
	fi_param_define(&fpgadma_prov, "mem_map_max", FI_PARAM_SIZE_T,
			"Largest fi_read / fi_write of the FPGA's memory done with loads and stores through the device memory mapped into the process (devices that can map it: the soft engine) when the endpoint has nothing else in flight, completing at once without a system call; larger ones, and all on other devices, go through the DMA engine; 0: all through the engine (default: %zu)",
			fpgadma_params.mem_map_max);
	fi_param_define(&fpgadma_prov, "chan", FI_PARAM_BOOL,
			"Hand eager messages to endpoints of other domains of the device through the module's local message channels, shared memory the module sets up, when nothing else of the domain is in flight and the receiver polls, without a system call; 0: every message is a SEND through the kernel (default: %d)",
			fpgadma_params.chan);
	fi_param_define(&fpgadma_prov, "devices", FI_PARAM_STRING,
			"Devices fi_getinfo reports, a comma-separated list of numbers (0 for /dev/fpgadma0) or names (fpgadma0); endpoints reach only endpoints of their own device, so processes that must talk to each other (the ranks of an MPI job, which Open MPI spreads over the devices of a host) need one device (default: all)");

	param_size("eager_size", &fpgadma_params.eager_size, 64);
	param_size("rx_bufs", &fpgadma_params.rx_bufs, 1);
	param_size("tx_bufs", &fpgadma_params.tx_bufs, 1);
	param_size("inject_size", &fpgadma_params.inject_size, 0);
	param_size("post_batch", &fpgadma_params.post_batch, 0);
	param_size("rx_repost", &fpgadma_params.rx_repost, 0);
	if (fi_param_get_int(&fpgadma_prov, "rnr_retry_us", &rnr) == FI_SUCCESS &&
	    rnr >= 0)
		fpgadma_params.rnr_retry_us = rnr;
	if (fi_param_get_int(&fpgadma_prov, "connect_timeout_ms", &ms) ==
	    FI_SUCCESS && ms >= 0)
		fpgadma_params.connect_timeout_ms = ms;
	if (fi_param_get_int(&fpgadma_prov, "poll_yield", &yield) == FI_SUCCESS)
		fpgadma_params.poll_yield = yield < 0 ? -1 : yield;
	if (fi_param_get_bool(&fpgadma_prov, "mr_cache", &cache) == FI_SUCCESS)
		fpgadma_params.mr_cache = cache != 0;
	param_size("mr_cache_max_count", &fpgadma_params.mr_cache_max_count, 0);
	param_size("mr_cache_max_size", &fpgadma_params.mr_cache_max_size, 0);
	param_size("mem_map_max", &fpgadma_params.mem_map_max, 0);
	if (fi_param_get_bool(&fpgadma_prov, "chan", &chan) == FI_SUCCESS)
		fpgadma_params.chan = chan != 0;
	if (fi_param_get_str(&fpgadma_prov, "devices", &devices) == FI_SUCCESS &&
	    devices)
		fpgadma_params.devices = parse_devices(devices);
	/* An injected message is sent eagerly from a send buffer. */
	if (fpgadma_params.inject_size > fpgadma_params.eager_size)
		fpgadma_params.inject_size = fpgadma_params.eager_size;
}

FI_EXT_INI
{
	read_params();
	return &fpgadma_prov;
}

/* --- devices --------------------------------------------------------------- */

/* Open device i just long enough to ask what it offers. */
static int probe_device(uint32_t i, struct fpgadma_device_attr *attr)
{
	struct fpgadma_context *ctx;
	int ret;

	ret = fpgadma_open((int)i, &ctx);
	if (ret) {
		if (ret != -ENOENT && ret != -ENODEV && ret != -ENXIO)
			FPGADMA_WARN(FI_LOG_CORE, "/dev/fpgadma%u: %s\n", i,
				     fpgadma_strerror(ret));
		return ret;
	}
	ret = fpgadma_query(ctx, attr);
	fpgadma_close(ctx);
	if (ret) {
		FPGADMA_WARN(FI_LOG_CORE, "/dev/fpgadma%u: query: %s\n", i,
			     fpgadma_strerror(ret));
		return ret;
	}
	FPGADMA_INFO(FI_LOG_CORE,
		     "found /dev/fpgadma%u: %s engine, %s, %llu bytes of device memory, frame size %llu\n",
		     i, fpgadma_engine_str(attr->engine),
		     attr->caps & FPGADMA_CAP_HOST_EP ? "host endpoints" :
		     "FPGA access only",
		     (unsigned long long)attr->dev_mem_size,
		     (unsigned long long)attr->frame_size);
	return 0;
}

static void *dup_addr(const struct fpgadma_addr *a)
{
	struct fpgadma_addr *copy = malloc(sizeof(*copy));

	if (copy)
		*copy = *a;
	return copy;
}

/* --- the fi_info of a device ------------------------------------------------ */

static size_t max_msg_size(const struct fpgadma_device_attr *attr)
{
	uint64_t max = attr->max_mr_size ? attr->max_mr_size :
		       FPGADMA_MAX_MSG_SIZE;

	return max < FPGADMA_MAX_MSG_SIZE ? (size_t)max :
	       (size_t)FPGADMA_MAX_MSG_SIZE;
}

static struct fi_info *info_for_device(const struct fpgadma_device_attr *attr)
{
	bool host_ep = attr->caps & FPGADMA_CAP_HOST_EP;
	bool atomics = attr->caps & FPGADMA_CAP_ATOMIC;
	uint64_t caps = host_ep ? HOST_EP_CAPS : FPGA_ONLY_CAPS;
	uint64_t order = FPGADMA_MSG_ORDER | (atomics ? FPGADMA_ATOMIC_ORDER : 0);
	size_t iov_limit = attr->max_sge > 1 ? attr->max_sge - 1 : 1;
	struct fpgadma_addr src = {
		.magic = FPGADMA_ADDR_MAGIC,
		.dev_index = attr->dev_index,
		.ep_id = FPGADMA_ADDR_ANY,
		.ep_idx = FPGADMA_ADDR_ANY,
	};
	struct fi_info *fi;
	char name[32];

	fi = fi_allocinfo();
	if (!fi)
		return NULL;
	snprintf(name, sizeof(name), FPGADMA_PROV_NAME "%u", attr->dev_index);
	fi->domain_attr->name = strdup(name);
	fi->fabric_attr->name = strdup(FPGADMA_FABRIC_NAME);
	fi->src_addr = dup_addr(&src);
	if (!fi->domain_attr->name || !fi->fabric_attr->name || !fi->src_addr) {
		fi_freeinfo(fi);
		return NULL;
	}
	fi->src_addrlen = sizeof(src);
	/*
	 * Atomics go where the device's RMA goes: to host endpoints (their
	 * MRs by key) and to the FPGA's memory (rma.c).
	 */
	if (atomics)
		caps |= FI_ATOMIC;
	fi->caps = caps;
	fi->mode = 0;
	fi->addr_format = FI_FORMAT_UNSPEC;

	fi->tx_attr->caps = caps & TX_CAPS;
	fi->tx_attr->op_flags = 0;
	fi->tx_attr->msg_order = order;
	fi->tx_attr->comp_order = FI_ORDER_NONE;
	fi->tx_attr->inject_size = host_ep ? fpgadma_params.inject_size : 0;
	fi->tx_attr->size = attr->cq_entries;
	fi->tx_attr->iov_limit = iov_limit;
	fi->tx_attr->rma_iov_limit = 1;

	fi->rx_attr->caps = caps & RX_CAPS;
	fi->rx_attr->op_flags = 0;
	fi->rx_attr->msg_order = order;
	fi->rx_attr->comp_order = FI_ORDER_NONE;
	fi->rx_attr->total_buffered_recv = host_ep ?
		fpgadma_params.rx_bufs * fpgadma_params.eager_size : 0;
	fi->rx_attr->size = attr->cq_entries;
	fi->rx_attr->iov_limit = iov_limit;

	fi->ep_attr->type = FI_EP_RDM;
	fi->ep_attr->protocol = FI_PROTO_UNSPEC;
	fi->ep_attr->protocol_version = 1;
	fi->ep_attr->max_msg_size = max_msg_size(attr);
	fi->ep_attr->max_order_raw_size = fi->ep_attr->max_msg_size;
	fi->ep_attr->max_order_war_size = fi->ep_attr->max_msg_size;
	fi->ep_attr->max_order_waw_size = fi->ep_attr->max_msg_size;
	fi->ep_attr->mem_tag_format = host_ep ? FPGADMA_TAG_FORMAT : 0;
	fi->ep_attr->tx_ctx_cnt = 1;
	fi->ep_attr->rx_ctx_cnt = 1;

	fi->domain_attr->threading = FI_THREAD_SAFE;
	/* Control operations (AV, MR) complete inside the call. */
	fi->domain_attr->control_progress = FI_PROGRESS_AUTO;
	fi->domain_attr->data_progress = FI_PROGRESS_MANUAL;
	fi->domain_attr->resource_mgmt = FI_RM_ENABLED;
	fi->domain_attr->av_type = FI_AV_UNSPEC;
	fi->domain_attr->mr_mode = MR_MODE_DEFAULT;
	fi->domain_attr->mr_key_size = sizeof(uint32_t);	/* kernel rkeys */
	fi->domain_attr->cq_data_size = host_ep ? sizeof(uint64_t) : 0;
	fi->domain_attr->cq_cnt = FPGADMA_CQ_CNT;
	fi->domain_attr->ep_cnt = FPGADMA_MAX_EPS;
	fi->domain_attr->tx_ctx_cnt = FPGADMA_MAX_EPS;
	fi->domain_attr->rx_ctx_cnt = FPGADMA_MAX_EPS;
	fi->domain_attr->max_ep_tx_ctx = 1;
	fi->domain_attr->max_ep_rx_ctx = 1;
	fi->domain_attr->max_ep_stx_ctx = 0;
	fi->domain_attr->max_ep_srx_ctx = 0;
	fi->domain_attr->cntr_cnt = FPGADMA_CNTR_CNT;
	fi->domain_attr->mr_iov_limit = 1;
	fi->domain_attr->caps = caps & DOMAIN_CAPS;
	fi->domain_attr->mode = 0;
	fi->domain_attr->max_err_data = 0;
	fi->domain_attr->mr_cnt = FPGADMA_MR_CNT;

	fi->fabric_attr->prov_version = FPGADMA_PROV_VERSION;
	return fi;
}

/*
 * The same device's info for another endpoint type (a device with host
 * endpoints).
 *
 * FI_EP_MSG: the RDM capabilities but FI_DIRECTED_RECV and FI_SOURCE
 * (one peer: there is nobody to choose, nothing to name), the same data
 * path and limits; no AV.  CM data: fpgadma_cm_data_size() bytes
 * (FI_OPT_CM_DATA_SIZE).
 *
 * FI_EP_DGRAM: untagged messages only (FI_MSG, FI_SOURCE), each at most
 * the eager size (FI_FPGADMA_EAGER_SIZE) in one SEND, no rendezvous and
 * no RMA; a message that finds no posted receive is dropped (match.c), so
 * nothing is buffered.  Delivery underneath stays reliable and ordered
 * (the wire protocol is the same): only the drop makes it a datagram.
 */
static void info_set_type(struct fi_info *fi, enum fi_ep_type type)
{
	uint64_t caps;

	fi->ep_attr->type = type;
	if (type == FI_EP_MSG) {
		caps = fi->caps & ~(uint64_t)(FI_DIRECTED_RECV | FI_SOURCE);
	} else {
		caps = FI_MSG | FI_SEND | FI_RECV | FI_SOURCE |
		       (fi->caps & DOMAIN_CAPS);
		fi->ep_attr->max_msg_size = fpgadma_params.eager_size;
		fi->ep_attr->max_order_raw_size = 0;
		fi->ep_attr->max_order_war_size = 0;
		fi->ep_attr->max_order_waw_size = 0;
		fi->ep_attr->mem_tag_format = 0;
		fi->tx_attr->rma_iov_limit = 0;
		fi->tx_attr->msg_order &= FI_ORDER_SAS;
		fi->rx_attr->msg_order &= FI_ORDER_SAS;
		fi->rx_attr->total_buffered_recv = 0;
		if (fi->tx_attr->inject_size > fpgadma_params.eager_size)
			fi->tx_attr->inject_size = fpgadma_params.eager_size;
	}
	fi->caps = caps;
	fi->tx_attr->caps = caps & TX_CAPS;
	fi->rx_attr->caps = caps & RX_CAPS;
}

/* Keep the capability groups of tx_attr, rx_attr and domain_attr in step. */
static void set_caps(struct fi_info *fi, uint64_t caps)
{
	fi->caps = caps;
	fi->tx_attr->caps = caps & TX_CAPS;
	fi->rx_attr->caps = caps & (RX_CAPS | FI_RMA_EVENT);
	fi->domain_attr->caps = (fi->domain_attr->caps & DOMAIN_CAPS) |
				(caps & DOMAIN_CAPS);
}

/* --- matching the hints ------------------------------------------------------ */

#define NOMATCH(fi, ...) do {						\
		FPGADMA_INFO(FI_LOG_CORE, "%s: ",			\
			     (fi)->domain_attr->name);			\
		FPGADMA_INFO(FI_LOG_CORE, __VA_ARGS__);			\
		return -FI_ENODATA;					\
	} while (0)

static int fit_caps(struct fi_info *fi, const struct fi_info *h)
{
	uint64_t caps, offered = fi->caps;

	/*
	 * FI_RMA_EVENT costs a message per RMA (rma.c): offered to endpoints
	 * that take remote RMA, given only to applications that ask.
	 */
	if (fi->caps & FI_REMOTE_WRITE)
		offered |= FI_RMA_EVENT;
	if (!h->caps)
		return 0;
	if (h->caps & ~offered)
		NOMATCH(fi, "capabilities not offered: %s\n",
			fi_tostr(&(uint64_t){ h->caps & ~offered },
				 FI_TYPE_CAPS));
	caps = (h->caps & ~SECONDARY_CAPS) | (fi->caps & SECONDARY_CAPS) |
	       (h->caps & FI_RMA_EVENT);
	/*
	 * FI_MSG alone means both directions (fi_getinfo(3)); so for RMA and
	 * atomics.
	 */
	if ((caps & (FI_MSG | FI_TAGGED)) && !(caps & MSG_DIR_CAPS))
		caps |= fi->caps & MSG_DIR_CAPS;
	if ((caps & (FI_RMA | FI_ATOMIC)) && !(caps & RMA_DIR_CAPS))
		caps |= fi->caps & RMA_DIR_CAPS;
	set_caps(fi, caps);
	return 0;
}

/*
 * fi_mr(3): before 1.5 mr_mode is one of FI_MR_UNSPEC, FI_MR_BASIC and
 * FI_MR_SCALABLE; from 1.5 those two legacy values may still be used alone,
 * else mr_mode is a set of bits the application supports, of which the
 * provider keeps the ones it requires or prefers.  Both legacy modes work
 * here: basic is virtual addresses with provider keys of allocated memory,
 * scalable is offsets with application keys, which the kernel honours.
 */
static int fit_mr_mode(struct fi_info *fi, uint32_t version, int hint)
{
	if (FI_VERSION_LT(version, FI_VERSION(1, 5))) {
		switch (hint) {
		case FI_MR_UNSPEC:
		case FI_MR_BASIC:
			fi->domain_attr->mr_mode = FI_MR_BASIC;
			return 0;
		case FI_MR_SCALABLE:
			fi->domain_attr->mr_mode = FI_MR_SCALABLE;
			return 0;
		default:
			NOMATCH(fi, "mr_mode %#x is not a 1.4 mode\n", hint);
		}
	}
	if (hint & (FI_MR_BASIC | FI_MR_SCALABLE)) {
		if (hint != FI_MR_BASIC && hint != FI_MR_SCALABLE)
			NOMATCH(fi, "FI_MR_BASIC/FI_MR_SCALABLE mixed with other mr_mode bits\n");
		fi->domain_attr->mr_mode = hint;
		return 0;
	}
	fi->domain_attr->mr_mode = hint & MR_MODE_USABLE;
	return 0;
}

static int fit_domain(struct fi_info *fi, uint32_t version,
		      const struct fi_domain_attr *h)
{
	struct fi_domain_attr *d = fi->domain_attr;

	if (h->name && strcmp(h->name, d->name))
		return -FI_ENODATA;	/* another device: not worth a log line */
	if (h->data_progress == FI_PROGRESS_AUTO)
		NOMATCH(fi, "data progress is manual\n");
	if (h->av_type != FI_AV_UNSPEC && h->av_type != FI_AV_MAP &&
	    h->av_type != FI_AV_TABLE)
		NOMATCH(fi, "unknown av_type %d\n", h->av_type);
	if (h->caps & ~d->caps)
		NOMATCH(fi, "domain capabilities not offered\n");
	if (h->mr_key_size > d->mr_key_size)
		NOMATCH(fi, "MR keys are %zu bytes\n", d->mr_key_size);
	if (h->cq_data_size > d->cq_data_size)
		NOMATCH(fi, "CQ data is at most %zu bytes\n", d->cq_data_size);
	if (h->cq_cnt > d->cq_cnt || h->ep_cnt > d->ep_cnt ||
	    h->cntr_cnt > d->cntr_cnt || h->mr_cnt > d->mr_cnt)
		NOMATCH(fi, "more CQs, endpoints, counters or MRs than offered\n");
	if (h->tx_ctx_cnt > d->tx_ctx_cnt || h->rx_ctx_cnt > d->rx_ctx_cnt ||
	    h->max_ep_tx_ctx > d->max_ep_tx_ctx ||
	    h->max_ep_rx_ctx > d->max_ep_rx_ctx ||
	    h->max_ep_stx_ctx > d->max_ep_stx_ctx ||
	    h->max_ep_srx_ctx > d->max_ep_srx_ctx)
		NOMATCH(fi, "no scalable or shared contexts\n");
	if (h->mr_iov_limit > d->mr_iov_limit)
		NOMATCH(fi, "an MR is one piece of memory\n");
	if (h->max_err_data > d->max_err_data)
		NOMATCH(fi, "no error data\n");
	if (h->auth_key_size)
		NOMATCH(fi, "no authorization keys\n");

	if (fit_mr_mode(fi, version, h->mr_mode))
		return -FI_ENODATA;
	/* Everything is locked, so any threading level holds. */
	if (h->threading != FI_THREAD_UNSPEC)
		d->threading = h->threading;
	if (h->control_progress != FI_PROGRESS_UNSPEC)
		d->control_progress = h->control_progress;
	if (h->resource_mgmt != FI_RM_UNSPEC)
		d->resource_mgmt = h->resource_mgmt;
	d->av_type = h->av_type;
	d->mode = 0;
	return 0;
}

static int fit_ep(struct fi_info *fi, const struct fi_ep_attr *h)
{
	struct fi_ep_attr *e = fi->ep_attr;

	if (h->type != FI_EP_UNSPEC && h->type != e->type)
		return -FI_ENODATA;
	if (h->protocol != FI_PROTO_UNSPEC && h->protocol != e->protocol)
		NOMATCH(fi, "protocol %u not offered\n", h->protocol);
	if (h->max_msg_size > e->max_msg_size)
		NOMATCH(fi, "messages are at most %zu bytes\n", e->max_msg_size);
	if (h->tx_ctx_cnt > e->tx_ctx_cnt || h->rx_ctx_cnt > e->rx_ctx_cnt)
		NOMATCH(fi, "one transmit and one receive context per endpoint\n");
	if (h->auth_key_size)
		NOMATCH(fi, "no authorization keys\n");
	if (h->msg_prefix_size)
		NOMATCH(fi, "no message prefix\n");
	if (fi->caps & (FI_RMA | FI_ATOMIC)) {
		if (h->max_order_raw_size > e->max_order_raw_size ||
		    h->max_order_war_size > e->max_order_war_size ||
		    h->max_order_waw_size > e->max_order_waw_size)
			NOMATCH(fi, "ordered RMA is at most %zu bytes\n",
				e->max_order_raw_size);
		if (h->max_order_raw_size)
			e->max_order_raw_size = h->max_order_raw_size;
		if (h->max_order_war_size)
			e->max_order_war_size = h->max_order_war_size;
		if (h->max_order_waw_size)
			e->max_order_waw_size = h->max_order_waw_size;
	}
	if (h->max_msg_size)
		e->max_msg_size = h->max_msg_size;
	return 0;
}

static int fit_tx(struct fi_info *fi, const struct fi_tx_attr *h)
{
	struct fi_tx_attr *t = fi->tx_attr;

	if ((h->caps & ~IGNORED_TX_CAPS) & ~t->caps)
		NOMATCH(fi, "transmit capabilities not offered\n");
	if (h->op_flags & ~TX_OP_FLAGS)
		NOMATCH(fi, "transmit op_flags not offered\n");
	if (h->msg_order & ~t->msg_order)
		NOMATCH(fi, "transmit msg_order not kept\n");
	if (h->comp_order & ~t->comp_order)
		NOMATCH(fi, "completions are not ordered\n");
	if (h->inject_size > t->inject_size || h->size > t->size ||
	    h->iov_limit > t->iov_limit || h->rma_iov_limit > t->rma_iov_limit)
		NOMATCH(fi, "transmit sizes larger than offered\n");
	t->op_flags = h->op_flags;
	if (h->inject_size)
		t->inject_size = h->inject_size;
	if (h->size)
		t->size = h->size;
	if (h->iov_limit)
		t->iov_limit = h->iov_limit;
	if (h->rma_iov_limit)
		t->rma_iov_limit = h->rma_iov_limit;
	return 0;
}

static int fit_rx(struct fi_info *fi, const struct fi_rx_attr *h)
{
	struct fi_rx_attr *r = fi->rx_attr;

	if ((h->caps & ~IGNORED_RX_CAPS) & ~r->caps)
		NOMATCH(fi, "receive capabilities not offered\n");
	if (h->op_flags & ~RX_OP_FLAGS)
		NOMATCH(fi, "receive op_flags not offered\n");
	if (h->msg_order & ~r->msg_order)
		NOMATCH(fi, "receive msg_order not kept\n");
	if (h->comp_order & ~r->comp_order)
		NOMATCH(fi, "completions are not ordered\n");
	if (h->total_buffered_recv > r->total_buffered_recv ||
	    h->size > r->size || h->iov_limit > r->iov_limit)
		NOMATCH(fi, "receive sizes larger than offered\n");
	r->op_flags = h->op_flags;
	if (h->total_buffered_recv)
		r->total_buffered_recv = h->total_buffered_recv;
	if (h->size)
		r->size = h->size;
	if (h->iov_limit)
		r->iov_limit = h->iov_limit;
	return 0;
}

/* An address of the hints in their format, for this device. */
static int hint_addr(struct fi_info *fi, const void *addr, size_t len,
		     const char *what, struct fpgadma_addr *a)
{
	const struct fpgadma_addr *src = fi->src_addr;

	if (!addr || len != fpgadma_addrlen(fi->addr_format) ||
	    fpgadma_addr_decode(fi->addr_format, addr, a) ||
	    a->dev_index >= FPGADMA_MAX_DEVICES)
		NOMATCH(fi, "%s is not an fpgadma address of format %s\n", what,
			fi_tostr(&fi->addr_format, FI_TYPE_ADDR_FORMAT));
	if (a->dev_index != src->dev_index)
		return -FI_ENODATA;
	return 0;
}

/*
 * The address format: FI_FORMAT_UNSPEC (the provider's own) unless the
 * hints ask for FI_SOCKADDR_IN or FI_SOCKADDR (see fpgadma_prov.h); the
 * hints' addresses are in that format.
 */
static int fit_addrs(struct fi_info *fi, const char *node, const char *service,
		     uint64_t flags, const struct fi_info *h)
{
	struct fpgadma_addr a;
	int ret;

	if (!fpgadma_addr_format_ok(h->addr_format))
		NOMATCH(fi, "addresses are FI_FORMAT_UNSPEC, FI_SOCKADDR_IN or FI_SOCKADDR, not %s\n",
			fi_tostr(&h->addr_format, FI_TYPE_ADDR_FORMAT));
	fi->addr_format = h->addr_format;
	/* fi_getinfo(3): hints' src_addr is ignored with FI_SOURCE. */
	if (h->src_addr && !(flags & FI_SOURCE)) {
		ret = hint_addr(fi, h->src_addr, h->src_addrlen, "src_addr", &a);
		if (ret)
			return ret;
		memcpy(fi->src_addr, &a, sizeof(a));
	}
	/* ... and dest_addr unless node and service are NULL or FI_SOURCE. */
	if (h->dest_addr && ((!node && !service) || (flags & FI_SOURCE))) {
		ret = hint_addr(fi, h->dest_addr, h->dest_addrlen, "dest_addr",
				&a);
		if (ret)
			return ret;
		fi->dest_addr = dup_addr(&a);
		if (!fi->dest_addr)
			return -FI_ENOMEM;
		fi->dest_addrlen = sizeof(a);
	}
	return 0;
}

/*
 * fi->src_addr and fi->dest_addr are struct fpgadma_addr until the info is
 * complete; then they are written in fi->addr_format (in place: every
 * format fits FI_FPGADMA_ADDRLEN bytes).
 */
static int encode_addr(uint32_t format, void *addr, size_t *addrlen)
{
	struct fpgadma_addr a;
	int len;

	if (!addr)
		return 0;
	memcpy(&a, addr, sizeof(a));
	len = fpgadma_addr_encode(format, &a, addr);
	if (len < 0)
		return len;
	*addrlen = (size_t)len;
	return 0;
}

static int info_encode_addrs(struct fi_info *fi)
{
	int ret = encode_addr(fi->addr_format, fi->src_addr, &fi->src_addrlen);

	return ret ? ret : encode_addr(fi->addr_format, fi->dest_addr,
				       &fi->dest_addrlen);
}

/* Reject what the hints ask and the device lacks; narrow fi to the hints. */
static int info_fit_hints(struct fi_info *fi, uint32_t version,
			  const char *node, const char *service,
			  uint64_t flags, const struct fi_info *h)
{
	int ret;

	if (!h) {
		if (FI_VERSION_LT(version, FI_VERSION(1, 5)))
			fi->domain_attr->mr_mode = FI_MR_BASIC;
		return 0;
	}
	/* The endpoint type first: the commonest reason not to match. */
	if (h->ep_attr && (ret = fit_ep(fi, h->ep_attr)))
		return ret;
	if (h->fabric_attr && h->fabric_attr->name &&
	    strcmp(h->fabric_attr->name, FPGADMA_FABRIC_NAME))
		return -FI_ENODATA;
	if (h->fabric_attr &&
	    h->fabric_attr->prov_version > FPGADMA_PROV_VERSION)
		NOMATCH(fi, "provider version too old\n");
	if ((ret = fit_caps(fi, h)))
		return ret;
	if ((ret = fit_addrs(fi, node, service, flags, h)))
		return ret;
	/* No mode bit is needed: whatever the application offers, none is kept. */
	fi->mode = 0;
	if (h->domain_attr && (ret = fit_domain(fi, version, h->domain_attr)))
		return ret;
	if (h->tx_attr && (ret = fit_tx(fi, h->tx_attr)))
		return ret;
	if (h->rx_attr && (ret = fit_rx(fi, h->rx_attr)))
		return ret;
	fi->tx_attr->mode = 0;
	fi->rx_attr->mode = 0;
	fi->handle = h->handle;
	return 0;
}

/* --- fi_getinfo -------------------------------------------------------------- */

/*
 * The address node and service name on device dev (fpgadma_resolve() left
 * the device open when they name the host), in src or dest.
 */
static int info_set_named(struct fi_info *fi, const struct fpgadma_addr *named,
			  uint32_t dev, uint64_t flags)
{
	struct fpgadma_addr a = *named;

	a.dev_index = dev;
	if (flags & FI_SOURCE) {
		memcpy(fi->src_addr, &a, sizeof(a));
		return 0;
	}
	/* a node without a service names the host, no endpoint of it */
	if (a.ep_id == FPGADMA_ADDR_ANY)
		return 0;
	free(fi->dest_addr);
	fi->dest_addr = dup_addr(&a);
	fi->dest_addrlen = sizeof(a);
	return fi->dest_addr ? 0 : -FI_ENOMEM;
}

/*
 * libfabric's OFI_CORE_PROV_ONLY (include/ofi.h, which is not installed):
 * the flag its utility providers (ofi_rxm, ofi_rxd) pass, through the
 * core's fi_getinfo and unchanged to ours, when they look for a core
 * provider's FI_EP_MSG or FI_EP_DGRAM endpoints to build FI_EP_RDM
 * endpoints on.  The provider's own FI_EP_RDM is the better one (one
 * protocol, not two stacked), and layered infos listed before ours
 * would be what FI_PROVIDER=fpgadma applications get first: so such a
 * call gets the FI_EP_RDM infos only, and "fpgadma;ofi_rxm" matches
 * nothing.
 */
#define FPGADMA_OFI_CORE_PROV_ONLY	(1ULL << 59)

static int fpgadma_getinfo(uint32_t version, const char *node,
			   const char *service, uint64_t flags,
			   const struct fi_info *hints, struct fi_info **info)
{
	static const enum fi_ep_type types[] = {
		FI_EP_RDM, FI_EP_MSG, FI_EP_DGRAM,
	};
	struct fi_info *head = NULL, **tail = &head, *fi;
	struct fpgadma_device_attr attrs[FPGADMA_MAX_DEVICES];
	bool present[FPGADMA_MAX_DEVICES];
	struct fpgadma_addr named;
	bool have_named = false;
	uint32_t i, t, found = 0;
	int ret;

	*info = NULL;
	/*
	 * Node and service name an endpoint of this host's devices
	 * (resolve.c): the peer's, or with FI_SOURCE our own, which the
	 * domain then binds.
	 */
	if (node || service) {
		ret = fpgadma_resolve(node, service, &named);
		if (ret)
			return ret;
		have_named = true;
	}

	for (i = 0; i < FPGADMA_MAX_DEVICES; i++) {
		present[i] = (fpgadma_params.devices & (1U << i)) &&
			     !probe_device(i, &attrs[i]);
		if (present[i])
			found++;
	}
	/*
	 * Every device's FI_EP_RDM info first (what callers that ask for no
	 * type have always had first), then FI_EP_MSG, then FI_EP_DGRAM for
	 * the devices with host endpoints.
	 */
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (i = 0; i < FPGADMA_MAX_DEVICES; i++) {
			if (!present[i])
				continue;
			if (have_named && named.dev_index != FPGADMA_ADDR_ANY &&
			    named.dev_index != i)
				continue;
			if (types[t] != FI_EP_RDM &&
			    (!(attrs[i].caps & FPGADMA_CAP_HOST_EP) ||
			     (flags & FPGADMA_OFI_CORE_PROV_ONLY)))
				continue;
			fi = info_for_device(&attrs[i]);
			if (fi && types[t] != FI_EP_RDM)
				info_set_type(fi, types[t]);
			if (!fi) {
				ret = -FI_ENOMEM;
				goto err;
			}
			ret = info_fit_hints(fi, version, node, service, flags,
					     hints);
			if (!ret && have_named)
				ret = info_set_named(fi, &named, i, flags);
			if (!ret)
				ret = info_encode_addrs(fi);
			if (ret) {
				fi_freeinfo(fi);
				if (ret == -FI_ENOMEM)
					goto err;
				continue;
			}
			*tail = fi;
			tail = &fi->next;
		}
	}
	if (!found)
		FPGADMA_INFO(FI_LOG_CORE, "no /dev/fpgadma device opened\n");
	if (!head)
		return -FI_ENODATA;
	*info = head;
	return 0;

err:
	fi_freeinfo(head);
	return ret;
}

/* --- fabric ------------------------------------------------------------------ */

static int fabric_close(struct fid *fid)
{
	struct fpgadma_fabric *f =
		container_of(fid, struct fpgadma_fabric, fabric_fid.fid);

	if (__atomic_load_n(&f->refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

/*
 * fi_trywait(3): 0 if the application may block on the wait fds of all
 * the fids, -FI_EAGAIN if one of them has something to read already.  A
 * wait set stands for its members (fi_poll(3)).
 */
static int fabric_trywait(struct fid_fabric *fabric, struct fid **fids,
			  int count)
{
	int i, ret;

	(void)fabric;
	for (i = 0; i < count; i++) {
		struct fpgadma_cq *cq;
		struct fpgadma_cntr *cntr;
		struct fpgadma_eq *eq;
		struct fpgadma_waitset *ws;

		if (!fids || !fids[i])
			return -FI_EINVAL;
		if (fids[i]->fclass == FI_CLASS_WAIT &&
		    (ws = fpgadma_waitset_from_fid(container_of(fids[i],
						struct fid_wait, fid))))
			ret = fpgadma_waitset_trywait(ws);
		else if ((cq = fpgadma_cq_from_fid(fids[i])))
			ret = fpgadma_cq_trywait(cq);
		else if ((cntr = fpgadma_cntr_from_fid(fids[i])))
			ret = fpgadma_cntr_trywait(cntr);
		else if ((eq = fpgadma_eq_from_fid(fids[i])))
			ret = fpgadma_eq_trywait(eq);
		else
			ret = -FI_EINVAL;
		if (ret)
			return ret;
	}
	return 0;
}

static int fabric_domain2(struct fid_fabric *fabric, struct fi_info *info,
			  struct fid_domain **dom, uint64_t flags, void *context)
{
	if (flags)
		return -FI_ENOSYS;	/* FI_PEER: not a peer provider */
	return fpgadma_domain_open(fabric, info, dom, context);
}

static struct fi_ops fabric_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = fabric_close,
	.bind = fpgadma_no_bind,
	.control = fpgadma_no_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_fabric fabric_ops = {
	.size = sizeof(struct fi_ops_fabric),
	.domain = fpgadma_domain_open,
	.passive_ep = fpgadma_pep_open,
	.eq_open = fpgadma_eq_open,
	.wait_open = fpgadma_waitset_open,
	.trywait = fabric_trywait,
	.domain2 = fabric_domain2,
};

static int fpgadma_fabric_open(struct fi_fabric_attr *attr,
			       struct fid_fabric **fabric, void *context)
{
	struct fpgadma_fabric *f;
	int ret;

	if (attr && attr->name && strcmp(attr->name, FPGADMA_FABRIC_NAME))
		return -FI_ENODATA;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -FI_ENOMEM;
	ret = pthread_mutex_init(&f->lock, NULL);
	if (ret) {
		free(f);
		return -ret;
	}
	f->fabric_fid.fid.fclass = FI_CLASS_FABRIC;
	f->fabric_fid.fid.context = context;
	f->fabric_fid.fid.ops = &fabric_fi_ops;
	f->fabric_fid.ops = &fabric_ops;
	/* libfabric overwrites it with the application's version. */
	f->fabric_fid.api_version = FPGADMA_FI_VERSION;
	*fabric = &f->fabric_fid;
	return 0;
}
