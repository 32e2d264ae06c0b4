/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fpgadma libfabric provider: what the files of prov/fpgadma/src share.
 *
 * The provider is an external DL provider built against libfabric's public
 * headers only, so every fid ops table is ours.  It sits on libfpgadma:
 *
 *   fabric      one, "fpgadma"
 *   domain      one per device (/dev/fpgadmaN), name "fpgadmaN"; a domain
 *               opens one libfpgadma context: one kernel endpoint (ep_id),
 *               one completion ring, one key space for its MRs
 *   endpoint    FI_EP_RDM, FI_EP_MSG or FI_EP_DGRAM; several endpoints of
 *               a domain share its kernel context and are told apart by
 *               ep_idx in their address
 *   passive ep  FI_EP_MSG's listener: a domain of its own, bound to the
 *               service, that takes connection requests (cm.c)
 *   the FPGA    an endpoint of its own (ep_id 0 in its address): RMA to it
 *               becomes READ_MEM / WRITE_MEM / READ_STREAM work requests
 *
 * Who owns what (files):
 *   fabric.c    fi_prov_ini, getinfo, attributes, parameters, fabric
 *   resolve.c   fi_getinfo's node and service: endpoints of this host
 *   domain.c    domain, fi_open_ops extension, fpgadma_domain_*()
 *   mr.c        fi_mr_*, fpgadma_mr_local*()
 *   mrcache.c   the domain's registration cache, fpgadma_mrcache_*();
 *               itree.c (itree.h) the interval tree it finds entries in
 *   av.c        AV, fpgadma_av_*()
 *   eq.c        EQ
 *   cq.c        CQ, fpgadma_cq_*()
 *   cntr.c      counters, fpgadma_cntr_*()
 *   poll.c      poll sets (fi_poll) of a domain's CQs and counters
 *   stubs.c     the one place for -FI_ENOSYS entries of ops tables
 *   util.c      errno translation, the wait objects of EQs, CQs, counters
 *   wait.c      wait sets (fi_wait_open, fi_wait) of CQs, counters, EQs
 *   ep.c        endpoint: bind, enable, getname, options, cancel
 *   cm.c        FI_EP_MSG: passive endpoints, connect, accept, reject,
 *               shutdown, the CM messages
 *   dp.c        the data plane of a domain: its state, endpoint indices,
 *               paced streams (the extension's stream_* calls);
 *               postq.c, bufpool.c, peer.c, op.c, match.c, rdv.c and
 *               progress.c its parts by concept (proto.h), wire.h the
 *               messages between domains
 *   msg.c       fi_send/fi_recv families and the tagged calls
 *   rma.c       fi_read/fi_write families and the atomics (fi_atomic,
 *               fi_fetch_atomic, fi_compare_atomic, their valid calls and
 *               fi_query_atomic), to hosts and the FPGA
 *
 * Locking: one mutex per domain (domain->lock) serialises the data path
 * and progress for every object of the domain.  A CQ or counter has its
 * own mutex for its entries; the order is domain->lock, then cq/cntr lock.
 * The registration cache has its own mutex too, taken after domain->lock
 * (the data path) or alone (fi_mr_reg, fi_close of an MR).
 * A wait set has its own mutex for its member list, taken before any of
 * those (wait.c).
 * Progress is manual (FI_PROGRESS_MANUAL for data): it runs inside
 * fi_cq_read / fi_cq_sread / fi_cntr_read / fi_cntr_wait / fi_wait and
 * inside the data calls.
 */
#ifndef FPGADMA_PROV_H
#define FPGADMA_PROV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_atomic.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>
#include <rdma/providers/fi_log.h>
#include <rdma/providers/fi_prov.h>

#include <fpgadma.h>
#include <rdma/fi_ext_fpgadma.h>

#define FPGADMA_PROV_NAME	"fpgadma"
#define FPGADMA_FABRIC_NAME	"fpgadma"
#define FPGADMA_PROV_VERSION	FI_VERSION(1, 0)
#define FPGADMA_FI_VERSION	FI_VERSION(1, 17)

extern struct fi_provider fpgadma_prov;

#define FPGADMA_WARN(subsys, ...) FI_WARN(&fpgadma_prov, subsys, __VA_ARGS__)
#define FPGADMA_INFO(subsys, ...) FI_INFO(&fpgadma_prov, subsys, __VA_ARGS__)
#define FPGADMA_DBG(subsys, ...)  FI_DBG(&fpgadma_prov, subsys, __VA_ARGS__)

#define FPGADMA_MAX_EPS		64	/* endpoints per domain (ep_idx 0..63) */
#define FPGADMA_MAX_DEVICES	16	/* /dev/fpgadma0..15 are probed */

/*
 * What fi_getinfo promises, so the data plane keeps it: message ordering
 * (msg_order of tx_attr and rx_attr) and the largest message.
 */
#define FPGADMA_MSG_ORDER	(FI_ORDER_SAS | FI_ORDER_RAR | FI_ORDER_RAW | \
				 FI_ORDER_WAR | FI_ORDER_WAW | FI_ORDER_SAR | \
				 FI_ORDER_SAW | FI_ORDER_RMA_RAR | \
				 FI_ORDER_RMA_RAW | FI_ORDER_RMA_WAR | \
				 FI_ORDER_RMA_WAW)
#define FPGADMA_MAX_MSG_SIZE	(1ULL << 30)
/*
 * ... and on a device with atomics (FPGADMA_CAP_ATOMIC), for FI_ATOMIC: a
 * context's work requests run in posting order in the engine, and the
 * provider posts an endpoint's RMA and atomics in the order they were
 * issued (the post queue is FIFO, rma.c), so atomics are ordered with
 * each other as with RMA (FI_ORDER_RAR ... of FPGADMA_MSG_ORDER cover
 * RMA and atomics together).
 */
#define FPGADMA_ATOMIC_ORDER	(FI_ORDER_ATOMIC_RAR | FI_ORDER_ATOMIC_RAW | \
				 FI_ORDER_ATOMIC_WAR | FI_ORDER_ATOMIC_WAW)

/* --- addresses (av.c, resolve.c) ----------------------------------------- */
/*
 * An endpoint's address in the provider's own format (FI_FORMAT_UNSPEC),
 * FI_FPGADMA_ADDRLEN bytes.  ep_id 0 names the FPGA of device dev_index.
 * Whatever format the application chose (fpgadma_addr_decode() below),
 * the provider keeps and compares addresses in this form: the AV's table
 * and the data plane see nothing else.
 */
struct fpgadma_addr {
	uint32_t magic;		/* FPGADMA_ADDR_MAGIC */
	uint32_t dev_index;
	uint32_t ep_id;		/* kernel endpoint (domain context); 0: the FPGA */
	uint32_t ep_idx;	/* endpoint within that domain */
};
#define FPGADMA_ADDR_MAGIC	0x41475046U	/* "FPGA" little-endian */

static inline bool fpgadma_addr_is_fpga(const struct fpgadma_addr *a)
{
	return a->ep_id == 0;
}

/*
 * fi_getinfo's src_addr: ep_id and ep_idx FPGADMA_ADDR_ANY mean "some
 * endpoint of device dev_index" (the kernel numbers a context only when it
 * is opened).  Never a peer's address: fi_av_insert rejects it.
 */
#define FPGADMA_ADDR_ANY	0xffffffffU

/*
 * Address formats.  An fi_info, and so the domain opened with it, carries
 * addresses (src_addr, dest_addr, fi_getname, fi_av_insert, fi_av_lookup,
 * fi_av_straddr, the FPGA's address of query_fpga) in one of two
 * encodings of the same (dev_index, ep_id, ep_idx), chosen by fi_getinfo
 * from hints->addr_format:
 *
 *   FI_FORMAT_UNSPEC   struct fpgadma_addr (the default)
 *   FI_SOCKADDR_IN     struct sockaddr_in, sin_family AF_INET,
 *   FI_SOCKADDR        sin_addr 127.<dev_index>.0.<ep_idx + 1>,
 *                      sin_port htons(ep_id), sin_zero ignored
 *
 * so the FPGA is 127.<dev>.0.1 port 0, and fi_getinfo's "any endpoint of
 * the device" (FPGADMA_ADDR_ANY) is 127.<dev>.0.0 port 0.  Both are 16
 * bytes.  The kernel numbers endpoints 1..65535, so every ep_id fits a
 * port.  FI_SOCKADDR means the same sockaddr_in addresses (no IPv6).
 * So node "127.0.0.1" and service "9228" are endpoint 0 of the domain
 * bound to 9228 on device 0 in either format (resolve.c).
 */
/* Is addr_format one of the above? */
bool fpgadma_addr_format_ok(uint32_t addr_format);
/* Bytes of one address of that format (the stride of fi_av_insert). */
size_t fpgadma_addrlen(uint32_t addr_format);
/*
 * The address buf (fpgadma_addrlen(addr_format) bytes) in the provider's
 * form.  -FI_EINVAL if it is not an fpgadma address of that format (a
 * sockaddr_in outside the scheme above); the fields are not checked
 * beyond that (fi_av_insert checks them against the domain).
 */
int fpgadma_addr_decode(uint32_t addr_format, const void *buf,
			struct fpgadma_addr *a);
/*
 * a in addr_format into buf (room for FI_FPGADMA_ADDRLEN bytes).  Returns
 * the length, or -FI_EADDRNOTAVAIL if a has no such encoding (an ep_id
 * above 65535, a dev_index above 255 in a sockaddr_in).
 */
int fpgadma_addr_encode(uint32_t addr_format, const struct fpgadma_addr *a,
			void *buf);
/*
 * fi_getname's and fi_getpeer's answer: a in addr_format into addr, which
 * has *addrlen bytes; *addrlen becomes the address's length.  0,
 * -FI_ETOOSMALL (addr too small or NULL), or fpgadma_addr_encode's error.
 */
int fpgadma_addr_out(uint32_t addr_format, const struct fpgadma_addr *a,
		     void *addr, size_t *addrlen);
/* A string for the address buf of that format, as fi_av_straddr prints it. */
void fpgadma_addr_str(uint32_t addr_format, const void *buf, char *str,
		      size_t len);
/*
 * A string in fi_av_straddr's forms ("fpgadma://devN/..." or
 * "fi_sockaddr_in://127.D.0.H:PORT", whatever the format) back to an
 * address: 0, or -FI_ENODATA if it is neither.
 */
int fpgadma_addr_parse(const char *str, struct fpgadma_addr *a);
/*
 * resolve.c: the address fi_getinfo's node and service name (either may
 * be NULL, not both).  dev_index is FPGADMA_ADDR_ANY when node names the
 * host rather than one device (every device then has that endpoint);
 * ep_id is the service (the number the domain binds), FPGADMA_ADDR_ANY
 * without one, and ep_idx 0 or what a 127.D.0.H node says.  -FI_ENODATA
 * for a node that is not this host or an unknown service.
 */
int fpgadma_resolve(const char *node, const char *service,
		    struct fpgadma_addr *a);

/* Runtime parameters (fi_param_define / fi_param_get in fabric.c). */
struct fpgadma_params {
	size_t eager_size;	/* FI_FPGADMA_EAGER_SIZE: largest eager payload */
	size_t rx_bufs;		/* FI_FPGADMA_RX_BUFS: receive buffers per domain */
	size_t tx_bufs;		/* FI_FPGADMA_TX_BUFS: send buffers per domain */
	int rnr_retry_us;	/* FI_FPGADMA_RNR_RETRY_US: wait before a resend */
	size_t inject_size;	/* FI_FPGADMA_INJECT_SIZE */
	int poll_yield;		/* FI_FPGADMA_POLL_YIELD: empty polls before yielding */
	size_t post_batch;	/* FI_FPGADMA_POST_BATCH: WRs posted in one call */
	size_t rx_repost;	/* FI_FPGADMA_RX_REPOST: receive buffers reposted together */
	int connect_timeout_ms;	/* FI_FPGADMA_CONNECT_TIMEOUT_MS: resends to an
				 * endpoint number nobody has bound yet */
	int mr_cache;		/* FI_FPGADMA_MR_CACHE: 0 turns the cache off */
	size_t mr_cache_max_count; /* FI_FPGADMA_MR_CACHE_MAX_COUNT */
	size_t mr_cache_max_size; /* FI_FPGADMA_MR_CACHE_MAX_SIZE; 0: the default */
	uint32_t devices;	/* FI_FPGADMA_DEVICES: bit i, /dev/fpgadma<i> */
	size_t mem_map_max;	/* FI_FPGADMA_MEM_MAP_MAX: largest RMA of FPGA
				 * memory done through its mapping */
	int chan;		/* FI_FPGADMA_CHAN: 0 sends every message
				 * through the kernel */
};
extern struct fpgadma_params fpgadma_params;

/* --- errors (util.c) ----------------------------------------------------- */
/* Map a negative errno from libfpgadma to a negative FI_E* code. */
int fpgadma_errno_to_fi(int err);
/* FI_E* error of a failed work request's CQE status (positive). */
int fpgadma_wc_to_fi(uint32_t status);

/*
 * prov_errno of an error completion or event (fpgadma_cq_write_err,
 * fpgadma_eq_write_error): > 0 is an enum fpgadma_wc_status (the CQE's
 * status), < 0 a negative errno from libfpgadma, 0 nothing more to say.
 * fi_cq_strerror and fi_eq_strerror print it that way.  Two more, beyond
 * the statuses (rdma/fi_ext_fpgadma.h): FI_FPGADMA_ERR_FRAMES_LOST, a
 * paced stream's lost frames, whose error completion carries a struct
 * fpgadma_frames_lost as err_data for fi_cq_strerror to print (cq.c);
 * FI_FPGADMA_ERR_ATOMIC_ALIGN, an atomic whose target is not aligned to
 * its datatype (the kernel's FPGADMA_WC_REM_INV_REQ_ERR for an atomic,
 * which means nothing else there).
 */
const char *fpgadma_prov_strerror(int prov_errno);

/* The err_data of an FI_FPGADMA_ERR_FRAMES_LOST error completion. */
#define FPGADMA_FRAMES_LOST_MAGIC 0x54534f4cU	/* "LOST" little-endian */
struct fpgadma_frames_lost {
	uint32_t magic;		/* FPGADMA_FRAMES_LOST_MAGIC */
	uint32_t reserved;
	uint64_t lost;		/* frames lost */
	uint64_t first_seq;	/* the sequence number of the first of them */
	uint64_t next_seq;	/* the frame delivered after them */
};

/* --- stubs.c: one -FI_ENOSYS of each shape, shared by every ops table --- */
int fpgadma_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags);
int fpgadma_no_control(struct fid *fid, int command, void *arg);
int fpgadma_no_ops_open(struct fid *fid, const char *name, uint64_t flags,
			void **ops, void *context);
int fpgadma_no_tostr(const struct fid *fid, char *buf, size_t len);
int fpgadma_no_ops_set(struct fid *fid, const char *name, uint64_t flags,
		       void *ops, void *context);
/* More stubs (ep ops, cm ops ...) are declared here as needed. */
extern struct fi_ops_cm fpgadma_no_cm_ops;
extern struct fi_ops_collective fpgadma_no_collective_ops;

/* --- fabric.c ----------------------------------------------------------- */
struct fpgadma_fabric {
	struct fid_fabric fabric_fid;
	int refs;		/* open domains, EQs and wait sets */
	pthread_mutex_t lock;
};

/* --- domain.c ----------------------------------------------------------- */
struct fpgadma_dp;		/* dp.c's state of a domain */
struct fpgadma_ep;
struct fpgadma_mrcache;		/* mrcache.c's */

struct fpgadma_domain {
	struct fid_domain domain_fid;
	struct fpgadma_fabric *fabric;
	struct fi_info *info;		/* a copy of the info it was opened with */
	struct fpgadma_context *ctx;	/* libfpgadma context: ep_id, ring, MRs */
	struct fpgadma_pd *pd;
	struct fpgadma_device_attr attr;
	uint64_t mr_mode;		/* negotiated FI_MR_* bits */
	enum fi_threading threading;
	pthread_mutex_t lock;		/* data path and progress */
	int refs;			/* objects opened on the domain */
	struct fpgadma_ep *eps[FPGADMA_MAX_EPS]; /* by ep_idx */
	struct fpgadma_dp *dp;		/* owned by dp.c */
	struct fpgadma_mrcache *mrcache; /* registrations kept for reuse */
	/* MRs with counters bound (fi_mr_bind, FI_RMA_EVENT), under lock */
	struct fpgadma_prov_mr **cntr_mrs;
	size_t n_cntr_mrs, cap_cntr_mrs;
	struct fpgadma_pep *pep;	/* a passive endpoint's own domain: it */
	/*
	 * Opened with a passive endpoint as info->handle: the domain has its
	 * endpoint number, and the first FI_EP_MSG endpoint opened with that
	 * handle takes its index (fi_endpoint(3)'s address takeover).
	 */
	struct fid *pep_handle;
	uint32_t pep_idx;
	/*
	 * Atomics posted, under the data path's lock (rma.c): fi_atomic,
	 * fi_fetch_atomic and fi_compare_atomic calls, and of them those to
	 * the FPGA's memory; logged at fi_close (FI_LOG_LEVEL=info).
	 */
	uint64_t n_atomic[3];
	uint64_t n_atomic_fpga;
	/*
	 * The FPGA's memory mapped (fpgadma_mem_map(3), on the first RMA
	 * that may use it; rma.c), under lock; mem_map_tried once asked.
	 */
	char *mem_map;
	bool mem_map_tried;
	uint64_t n_mem_map;		/* RMAs done through it, logged at close */
};

/*
 * d->mr_mode holds the negotiated bits in their 1.5 form: FI_MR_BASIC is
 * stored as FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY and
 * FI_MR_SCALABLE as 0, so the data plane tests FI_MR_VIRT_ADDR alone to
 * know whether an RMA address is virtual or an offset into the MR
 * (FPGADMA_WR_F_REMOTE_OFFSET).
 */

/* The FPGA's address for this domain's device. */
void fpgadma_domain_fpga_addr(const struct fpgadma_domain *d,
			      struct fpgadma_addr *a);

/* The API version the fabric was opened with (err_data rules differ < 1.5). */
uint32_t fpgadma_domain_api_version(const struct fpgadma_domain *d);

/* The address format of a domain's addresses (its info's). */
static inline uint32_t fpgadma_domain_addr_format(const struct fpgadma_domain *d)
{
	return d->info->addr_format;
}

/*
 * domain->refs and fabric->refs: change them only with these (atomic), so
 * that nobody needs domain->lock for it; fi_close of the parent fails with
 * -FI_EBUSY while they are non-zero.
 */
static inline void fpgadma_domain_get(struct fpgadma_domain *d)
{
	__atomic_fetch_add(&d->refs, 1, __ATOMIC_RELAXED);
}

static inline void fpgadma_domain_put(struct fpgadma_domain *d)
{
	__atomic_fetch_sub(&d->refs, 1, __ATOMIC_RELEASE);
}

static inline void fpgadma_fabric_get(struct fpgadma_fabric *f)
{
	__atomic_fetch_add(&f->refs, 1, __ATOMIC_RELAXED);
}

static inline void fpgadma_fabric_put(struct fpgadma_fabric *f)
{
	__atomic_fetch_sub(&f->refs, 1, __ATOMIC_RELEASE);
}

/* --- opening objects: the fabric's and the domain's ops ------------------ */
/* fi_domain (domain.c) and fi_eq_open (eq.c), for the fabric's ops. */
int fpgadma_domain_open(struct fid_fabric *fabric, struct fi_info *info,
			struct fid_domain **dom, void *context);
/* fi_passive_ep (cm.c). */
struct fpgadma_pep;
int fpgadma_pep_open(struct fid_fabric *fabric, struct fi_info *info,
		     struct fid_pep **pep, void *context);
/*
 * fi_domain with info->handle: 1 if handle is a live passive endpoint of
 * device dev_index, which then gives its address up (its domain closes,
 * freeing the endpoint number) and *name is that address; 0 if handle is
 * no passive endpoint; -FI_EOPBADSTATE if it listens or gave its address
 * up already, -FI_EINVAL if it is of another device.  No lock held.
 */
int fpgadma_pep_hand_over(struct fid *handle, uint32_t dev_index,
			  struct fpgadma_addr *name);
int fpgadma_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr,
		    struct fid_eq **eq, void *context);
/* The domain's ops (av.c, cq.c, cntr.c, mr.c). */
int fpgadma_av_open(struct fid_domain *domain, struct fi_av_attr *attr,
		    struct fid_av **av, void *context);
int fpgadma_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr,
		    struct fid_cq **cq, void *context);
int fpgadma_cntr_open(struct fid_domain *domain, struct fi_cntr_attr *attr,
		      struct fid_cntr **cntr, void *context);
/* poll.c: fi_poll_open (poll sets of the domain's CQs and counters). */
int fpgadma_poll_open(struct fid_domain *domain, struct fi_poll_attr *attr,
		      struct fid_poll **pollset);
extern struct fi_ops_mr fpgadma_mr_ops;
/*
 * fi_query_atomic (the domain's ops; rma.c): flags 0, FI_FETCH_ATOMIC or
 * FI_COMPARE_ATOMIC as fi_atomic(3) says; attr may be NULL.
 */
int fpgadma_query_atomic(struct fid_domain *domain, enum fi_datatype datatype,
			 enum fi_op op, struct fi_atomic_attr *attr,
			 uint64_t flags);
/* domain ops: fi_endpoint(). */
int fpgadma_ep_open(struct fid_domain *domain, struct fi_info *info,
		    struct fid_ep **ep, void *context);
/* ep_stats of the extension: an endpoint's counters (domain->lock held). */
void fpgadma_ep_stats_fill(const struct fpgadma_ep *ep,
			   struct fi_fpgadma_ep_stats *stats);
/*
 * The paced streams of the extension (dp.c): the calls of
 * struct fi_fpgadma_ops_domain from stream_start on, for any endpoint of
 * the provider (rdma/fi_ext_fpgadma.h says what they do).
 */
int fpgadma_ext_stream_start(struct fid_ep *ep,
			     struct fi_fpgadma_stream_attr *attr);
int fpgadma_ext_stream_stop(struct fid_ep *ep, unsigned int drain_ms,
			    struct fpgadma_stream_stats *final);
int fpgadma_ext_stream_stats(struct fid_ep *ep,
			     struct fpgadma_stream_stats *stats);
uint64_t fpgadma_ext_stream_ready(struct fid_ep *ep, uint64_t *first);
void *fpgadma_ext_stream_slot(struct fid_ep *ep, uint64_t idx);
void fpgadma_ext_stream_release(struct fid_ep *ep, uint64_t n);
/* The domain's channel counters (chan.c).  domain->lock held. */
void fpgadma_chan_stats_fill(const struct fpgadma_dp *dp,
			     struct fi_fpgadma_chan_stats *stats);

/* --- the data plane (dp.c, progress.c; proto.h has the rest) ------------- */
/*
 * Called by fi_domain() after the context is open, and by domain close.
 * fpgadma_dp_fini() runs before fpgadma_dealloc_pd() and fpgadma_close():
 * it deregisters the buffer pools (which flushes their posted RECVs) and
 * every MR the data plane still holds, waiting for the work using them.
 */
int fpgadma_dp_init(struct fpgadma_domain *d);
void fpgadma_dp_fini(struct fpgadma_domain *d);
/*
 * Run progress: drain the kernel ring, move the protocol on, write
 * completions.  Takes domain->lock itself (it must not be held).
 */
void fpgadma_progress(struct fpgadma_domain *d);
/*
 * How long a blocking wait (fi_cq_sread, fi_cntr_wait) may sleep on the
 * context's fd before it must run progress again, in ms: a send that met
 * RNR is resent after FI_FPGADMA_RNR_RETRY_US without any kernel
 * completion to wake the waiter.  -1: nothing timed is pending (sleep as
 * long as you like), 0: run progress now.  The domain's channels are
 * marked for good: senders wake it through the kernel (chan.c).  Takes
 * domain->lock.
 */
int fpgadma_dp_timeout_ms(struct fpgadma_domain *d);
/*
 * The same as the slice_ms of fpgadma_time_left(): 0 (no limit) when
 * nothing timed is pending, so a blocking wait sleeps until the context's
 * fd or its signal wakes it, else the time to the next resend (at least
 * 1 ms).
 */
int fpgadma_dp_slice_ms(struct fpgadma_domain *d);
/*
 * The same for an EQ's sleeper (fi_eq_sread, fi_trywait on an EQ): it
 * waits for connection messages, which come through the kernel, so the
 * channels are left as they are and messages keep coming through them.
 */
int fpgadma_dp_eq_slice_ms(struct fpgadma_domain *d);

/* --- mr.c --------------------------------------------------------------- */
struct fpgadma_mrcache_entry;

struct fpgadma_prov_mr {
	struct fid_mr mr_fid;
	struct fpgadma_domain *domain;
	/*
	 * The libfabric MR's kernel MR (NULL until enabled): its own, or
	 * with ent that of a registration cache entry, which other MRs and
	 * operations may share and which may be larger than [addr, addr+len)
	 * (whole pages).  What the application asked for is addr, len and
	 * kaccess: only they say what a desc covers.
	 */
	struct fpgadma_mr *mr;
	struct fpgadma_mrcache_entry *ent;	/* held until fi_close, or NULL */
	void *addr;
	size_t len;
	uint64_t access;		/* FI_READ | FI_WRITE | FI_REMOTE_* ... */
	unsigned int kaccess;		/* access as FPGADMA_ACCESS_* bits */
	uint64_t flags;
	uint64_t key;			/* what fi_mr_key returns */
	struct fpgadma_ep *ep;		/* FI_MR_ENDPOINT: bound endpoint */
	bool enabled;
	/*
	 * The same memory registered again for peers to read, got (from the
	 * registration cache) the first time a rendezvous send names this MR
	 * in its desc when the MR lacks FPGADMA_ACCESS_REMOTE_READ
	 * (fpgadma_mr_remote_read_key).  Its rkey goes to the receivers of
	 * such sends only; fi_close gives it back to the cache.
	 */
	struct fpgadma_mrcache_entry *rd_ent;
	bool rd_failed;			/* getting it failed: don't retry */
	/* counters bound with FI_REMOTE_WRITE / FI_REMOTE_READ (FI_RMA_EVENT) */
	struct fpgadma_cntr *rwrite_cntr, *rread_cntr;
	/*
	 * Paced streams writing into the MR (FI_FPGADMA_STREAM_ZC): fi_close
	 * fails with -FI_EBUSY while there are any (atomic).
	 */
	unsigned int stream_refs;
};

/*
 * The MR behind an application's fid_mr, or NULL if it is none of this
 * provider's.
 */
struct fpgadma_prov_mr *fpgadma_mr_from_fid(struct fid_mr *mr);

/*
 * An RMA by a peer has hit the MR with rkey (an FI_RMA_EVENT notice or a
 * WRITEDATA): bump the counters bound to that MR, if any.  Called with
 * domain->lock held.
 */
void fpgadma_mr_rma_event(struct fpgadma_domain *d, uint32_t rkey, bool read);

/*
 * An lkey for the device to read (device_writes false) or write [buf,
 * buf+len).  desc is what the application passed (fi_mr_desc of an MR, or
 * NULL).  If desc covers the range, *lkey is its lkey and *tmp is NULL;
 * else the range is registered here, through the registration cache (the
 * application did not have to, without FI_MR_LOCAL), and *tmp must go to
 * fpgadma_mr_local_release() once the work is complete.  Returns 0 or a
 * negative FI_E* code.  Called with domain->lock held.
 *
 * fpgadma_mr_local() details: len 0 gives *lkey 0 and registers nothing; a
 * desc that is not an enabled MR of this domain covering the range (with
 * LOCAL_WRITE when device_writes) is ignored, the range then registered
 * for the operation.  fpgadma_mr_local_release(d, NULL) does nothing.
 */
int fpgadma_mr_local(struct fpgadma_domain *d, void *desc, const void *buf,
		     size_t len, bool device_writes, uint32_t *lkey,
		     struct fpgadma_mrcache_entry **tmp);
void fpgadma_mr_local_release(struct fpgadma_domain *d,
			      struct fpgadma_mrcache_entry *tmp);
/* Would fpgadma_mr_local() find [buf, buf+len) registered through desc? */
bool fpgadma_mr_desc_covers(struct fpgadma_domain *d, void *desc,
			    const void *buf, size_t len, bool device_writes);
/*
 * An rkey that lets a peer RDMA_READ [buf, buf+len) through desc (an MR
 * of the application): the MR's own if it has remote read rights, else
 * the MR's internal remote-read registration, got on first use and kept
 * until fi_close, so a rendezvous send from registered memory costs no
 * registration.  false if desc is not an enabled MR of d covering the
 * range (or the internal registration failed): the caller registers the
 * range itself.  Peers read by virtual address (the rendezvous reads
 * never use FPGADMA_WR_F_REMOTE_OFFSET), so a registration larger than
 * the MR is right.  Called with domain->lock held.
 */
bool fpgadma_mr_remote_read_key(struct fpgadma_domain *d, void *desc,
				const void *buf, size_t len, uint32_t *rkey);

/* --- the registration cache (mrcache.c) ---------------------------------- */
/*
 * A domain's registrations kept for reuse: each entry one kernel MR over
 * whole pages, watched by the kernel's memory monitor so that none is
 * handed out once the memory under it changed (mrcache.c says how).
 */
struct fpgadma_mrcache_attr {
	bool enabled;		/* false: each get registers, each put deregisters */
	size_t max_count;	/* unused entries go beyond this many entries */
	uint64_t max_size;	/* ... or beyond this many bytes */
	uint64_t page_size;	/* entries cover whole pages (a power of two) */
	uint64_t max_mr_size;	/* the device's largest MR; 0: no limit */
	const char *name;	/* for messages; must outlive the cache */
};

/* A cache for pd's registrations.  0 or a negative FI_E* code. */
int fpgadma_mrcache_open(struct fpgadma_pd *pd,
			 const struct fpgadma_mrcache_attr *attr,
			 struct fpgadma_mrcache **cache);
/*
 * Deregister every entry (in use or not: by now nothing may use one) and
 * free the cache; logs its counters (FI_LOG_LEVEL=info).  NULL: nothing.
 */
void fpgadma_mrcache_close(struct fpgadma_mrcache *c);
/*
 * A registration covering [buf, buf+len) with at least the FPGADMA_ACCESS_*
 * rights access and none of forbid: a cached one, or a new one (cached when
 * it can be).  *e holds it until fpgadma_mrcache_put().  0, or a negative
 * FI_E* code: the registration's error (-FI_EFAULT for memory not mapped,
 * -FI_ENOMEM over RLIMIT_MEMLOCK even with every unused entry evicted ...),
 * -FI_EINVAL for len 0 or rights both asked and forbidden.
 */
int fpgadma_mrcache_get(struct fpgadma_mrcache *c, const void *buf, size_t len,
			unsigned int access, unsigned int forbid,
			struct fpgadma_mrcache_entry **e);
/*
 * For an application's MR with remote rights: a registration of exactly
 * [buf, buf+len) with exactly the rights access, shared only with other
 * such gets of the same range and rights (never with the provider's own
 * gets), deregistered with the last put.  Returns as fpgadma_mrcache_get.
 */
int fpgadma_mrcache_get_exact(struct fpgadma_mrcache *c, const void *buf,
			      size_t len, unsigned int access,
			      struct fpgadma_mrcache_entry **e);
/* Give back what a get returned (NULL: nothing). */
void fpgadma_mrcache_put(struct fpgadma_mrcache *c,
			 struct fpgadma_mrcache_entry *e);
/* The kernel MR of an entry: its lkey, rkey, range, rights. */
struct fpgadma_mr *fpgadma_mrcache_mr(const struct fpgadma_mrcache_entry *e);
/*
 * Deregister every unused entry, for a registration of the domain that
 * failed over RLIMIT_MEMLOCK: how many went (0: trying again is no use).
 */
size_t fpgadma_mrcache_reclaim(struct fpgadma_mrcache *c);
/* The counters (include/rdma/fi_ext_fpgadma.h). */
void fpgadma_mrcache_stats(struct fpgadma_mrcache *c,
			   struct fi_fpgadma_mr_cache_stats *s);
/* FI_FPGADMA_MR_CACHE_MAX_SIZE's default (mrcache.c says why). */
uint64_t fpgadma_mrcache_default_max_size(void);

/* --- av.c --------------------------------------------------------------- */
struct fpgadma_av;
/* The address of fi_addr, or -FI_EINVAL if the AV has none there. */
int fpgadma_av_lookup_addr(struct fpgadma_av *av, fi_addr_t fi_addr,
			   struct fpgadma_addr *out);
/*
 * For lookups cached by their user: a number that changes whenever an
 * entry of av is removed (insertions append and change no fi_addr's
 * translation), in *epoch.  False for a named AV, whose entries other
 * processes remove: not to be cached.  No lock taken.
 */
bool fpgadma_av_epoch(struct fpgadma_av *av, uint64_t *epoch);
/* The fi_addr of an address in the AV, or FI_ADDR_NOTAVAIL. */
fi_addr_t fpgadma_av_reverse(struct fpgadma_av *av, const struct fpgadma_addr *a);
/* The domain an AV belongs to (for the bind checks in ep.c). */
struct fpgadma_domain *fpgadma_av_domain(struct fpgadma_av *av);

/* --- cq.c --------------------------------------------------------------- */
struct fpgadma_cq;

/* One completion, in the widest form; cq.c writes the CQ's format. */
struct fpgadma_comp {
	void *op_context;
	uint64_t flags;		/* FI_SEND | FI_MSG ... as fi_cq(3) says */
	size_t len;
	void *buf;
	uint64_t data;
	uint64_t tag;
	fi_addr_t src_addr;	/* for fi_cq_readfrom; FI_ADDR_NOTAVAIL if unknown */
};

/*
 * Queue a completion or an error completion (err a positive FI_E* code,
 * prov_errno the fpgadma_wc_status or errno behind it, olen the bytes
 * truncated).  The CQ grows as needed: no completion is dropped.  Safe to
 * call with domain->lock held; wakes waiters on the CQ.
 */
void fpgadma_cq_write(struct fpgadma_cq *cq, const struct fpgadma_comp *c);
void fpgadma_cq_write_err(struct fpgadma_cq *cq, const struct fpgadma_comp *c,
			  int err, int prov_errno, size_t olen);
/*
 * The same with err_data (at most FPGADMA_CQ_ERR_DATA_MAX bytes, copied):
 * fi_cq_readerr hands it out (into the application's buffer, or as the
 * CQ's own until the next read), and fi_cq_strerror prints it.
 */
#define FPGADMA_CQ_ERR_DATA_MAX	32
void fpgadma_cq_write_err_data(struct fpgadma_cq *cq,
			       const struct fpgadma_comp *c, int err,
			       int prov_errno, size_t olen,
			       const void *err_data, size_t err_data_size);
struct fpgadma_domain *fpgadma_cq_domain(struct fpgadma_cq *cq);
/* Does the CQ hold completions, error completions or an fi_cq_signal? */
bool fpgadma_cq_ready(struct fpgadma_cq *cq);
/*
 * fi_wait's look at a member CQ (wait.c): run progress, then the same
 * question as fpgadma_cq_ready, taking a pending fi_cq_signal.  *slice_ms
 * as fpgadma_dp_slice_ms for the CQ's domain.  No lock held.
 */
bool fpgadma_cq_wait_check(struct fpgadma_cq *cq, int *slice_ms);

/* --- cntr.c ------------------------------------------------------------- */
struct fpgadma_cntr;
void fpgadma_cntr_inc(struct fpgadma_cntr *cntr);
void fpgadma_cntr_inc_err(struct fpgadma_cntr *cntr);
struct fpgadma_domain *fpgadma_cntr_domain(struct fpgadma_cntr *cntr);
/*
 * fi_poll's question: has the value or the error count changed since the
 * last call, fi_cntr_set or fi_cntr_add (fi_poll(3))?  The answer is
 * also the new baseline.  No progress is run.
 */
bool fpgadma_cntr_poll_changed(struct fpgadma_cntr *cntr);
/*
 * fi_wait's look at a member counter (wait.c): run progress, then has it
 * changed since the last fi_wait, fi_trywait or fi_cntr_wait looked (its
 * wait signal, which this clears)?  *slice_ms as fpgadma_dp_slice_ms.
 */
bool fpgadma_cntr_wait_check(struct fpgadma_cntr *cntr, int *slice_ms);

/* --- eq.c --------------------------------------------------------------- */
struct fpgadma_eq;
/* Queue an event (FI_AV_COMPLETE ...) or an error event (err positive FI_E*). */
int fpgadma_eq_write_event(struct fpgadma_eq *eq, uint32_t event,
			   const void *buf, size_t len, uint64_t flags);
int fpgadma_eq_write_error(struct fpgadma_eq *eq, fid_t fid, void *context,
			   uint64_t data, int err, int prov_errno);
/* The same with err_data (copied; fi_eq_readerr hands it out). */
int fpgadma_eq_write_error_data(struct fpgadma_eq *eq, fid_t fid,
				void *context, int err, int prov_errno,
				const void *err_data, size_t err_data_size);
/*
 * A connection event (FI_CONNREQ, FI_CONNECTED, FI_SHUTDOWN): a struct
 * fi_eq_cm_entry of fid and info followed by len bytes of CM data.  The
 * info (FI_CONNREQ) belongs to the event; the EQ frees it if it closes
 * before the application has read it.
 */
int fpgadma_eq_write_cm(struct fpgadma_eq *eq, uint32_t event, fid_t fid,
			struct fi_info *info, const void *data, size_t len);
/*
 * Reading the EQ runs the progress of d (its connection messages come
 * in there): an FI_EP_MSG endpoint bound to the EQ, a passive endpoint's
 * own domain.  Counted: as many _del as _add; the list holds a reference
 * on d.  Reading the EQ takes the list's lock, then d->lock: so call
 * these with no domain lock held.
 */
int fpgadma_eq_progress_add(struct fpgadma_eq *eq, struct fpgadma_domain *d);
void fpgadma_eq_progress_del(struct fpgadma_eq *eq, struct fpgadma_domain *d);
/*
 * fi_wait's look at a member EQ (wait.c): run the progress of its list,
 * then does it hold events?  *slice_ms the shortest fpgadma_dp_slice_ms
 * of the list's domains (0: no limit).  No domain lock held.
 */
bool fpgadma_eq_wait_check(struct fpgadma_eq *eq, int *slice_ms);

/* --- fi_ep_bind: the objects behind fids (av.c, cq.c, cntr.c, eq.c) ------ */
/*
 * Objects of the control plane begin with their fid structure (fid_av,
 * fid_cq, fid_cntr, fid_eq, fid_mr).  An endpoint must do the same: a
 * struct fpgadma_ep begins with its struct fid_ep, which is how fi_mr_bind
 * recognises an endpoint of the domain (by looking for it in d->eps[]).
 *
 * For fi_ep_bind: the object behind a fid, or NULL if the fid is not of
 * that class or not of this provider; _get/_put count the bindings (fi_close
 * of a bound AV, CQ or counter fails with -FI_EBUSY).
 */
struct fpgadma_av *fpgadma_av_from_fid(struct fid *fid);
void fpgadma_av_get(struct fpgadma_av *av);
void fpgadma_av_put(struct fpgadma_av *av);
struct fpgadma_cq *fpgadma_cq_from_fid(struct fid *fid);
void fpgadma_cq_get(struct fpgadma_cq *cq);
void fpgadma_cq_put(struct fpgadma_cq *cq);
struct fpgadma_cntr *fpgadma_cntr_from_fid(struct fid *fid);
void fpgadma_cntr_get(struct fpgadma_cntr *cntr);
void fpgadma_cntr_put(struct fpgadma_cntr *cntr);
struct fpgadma_eq *fpgadma_eq_from_fid(struct fid *fid);
void fpgadma_eq_get(struct fpgadma_eq *eq);
void fpgadma_eq_put(struct fpgadma_eq *eq);

/* --- util.c: wait objects shared by EQs, CQs and counters ----------------- */
/*
 * A level-triggered flag an fd can wait on: an eventfd that is readable
 * exactly while the flag is set.  The owner's lock serialises set/clear.
 */
struct fpgadma_signal {
	int fd;
	bool set;
};

/*
 * What fi_control(FI_GETWAIT) returns and sread sleeps on: an epoll fd
 * holding the object's signal and, for CQs and counters, the fd of the
 * domain's libfpgadma context (readable while kernel completions wait).
 * FI_WAIT_SET: the same epoll fd, itself in the wait set's (wait.c);
 * FI_GETWAIT and FI_GETWAITOBJ then answer for the set.
 */
struct fpgadma_waitset;
struct fpgadma_wait {
	enum fi_wait_obj wait_obj;	/* FI_WAIT_NONE, _FD, _YIELD or _SET */
	int epfd;			/* -1 unless FI_WAIT_FD or FI_WAIT_SET */
	struct fpgadma_signal sig;
	struct fpgadma_waitset *set;	/* FI_WAIT_SET: the set joined, or NULL */
};

/*
 * FI_WAIT_SET makes the same wait object as FI_WAIT_FD; the owner joins
 * the set with fpgadma_waitset_add() once its fid is complete.
 * fpgadma_wait_fini() leaves the set.
 */
int fpgadma_wait_init(struct fpgadma_wait *w, enum fi_wait_obj wait_obj,
		      int extra_fd);
void fpgadma_wait_fini(struct fpgadma_wait *w);
void fpgadma_wait_set(struct fpgadma_wait *w);
void fpgadma_wait_clear(struct fpgadma_wait *w);
/* Sleep until the fds may be ready or timeout_ms (-1: forever) passes. */
int fpgadma_wait_sleep(struct fpgadma_wait *w, int timeout_ms);
int fpgadma_wait_control(struct fpgadma_wait *w, int command, void *arg);

/*
 * After each fi_cq_read / fi_cntr_read: idle when it found nothing new.
 * streak counts the idle ones in a row; past FI_FPGADMA_POLL_YIELD each
 * idle one yields the CPU (util.c says why).  Call with no lock held.
 */
void fpgadma_poll_idle(unsigned int *streak, bool idle);

/* Deadlines for the blocking calls: timeout_ms < 0 is no deadline. */
uint64_t fpgadma_deadline(int timeout_ms);
/* Milliseconds left (0 when passed), -1 without deadline, at most slice_ms. */
int fpgadma_time_left(uint64_t deadline, int slice_ms);

/*
 * fi_trywait of one object: 0 if it is safe to block on its wait fd,
 * -FI_EAGAIN if it has something to read.  Runs progress for CQs and
 * counters (so never with domain->lock held).
 */
int fpgadma_cq_trywait(struct fpgadma_cq *cq);
int fpgadma_cntr_trywait(struct fpgadma_cntr *cntr);
int fpgadma_eq_trywait(struct fpgadma_eq *eq);

/* --- wait.c: wait sets --------------------------------------------------- */
/* fi_wait_open (the fabric's ops). */
int fpgadma_waitset_open(struct fid_fabric *fabric, struct fi_wait_attr *attr,
			 struct fid_wait **waitset);
/* The set behind a fid_wait, or NULL if it is not a wait set of ours. */
struct fpgadma_waitset *fpgadma_waitset_from_fid(struct fid_wait *wait_fid);
/*
 * For an open with attr->wait_obj and attr->wait_set: *ws the set to join
 * (NULL unless wait_obj is FI_WAIT_SET), or -FI_EINVAL if wait_set is not
 * a wait set of this provider opened on fabric f.
 */
int fpgadma_waitset_lookup(enum fi_wait_obj wait_obj, struct fid_wait *wait_set,
			   struct fpgadma_fabric *f, struct fpgadma_waitset **ws);
/*
 * member (a CQ, counter or EQ of ours, its fid complete) with its wait
 * object w (made with FI_WAIT_SET) joins ws.  0 or a negative FI_E* code.
 * Called with no lock held; fpgadma_waitset_del() (from
 * fpgadma_wait_fini()) undoes it.
 */
int fpgadma_waitset_add(struct fpgadma_waitset *ws, struct fpgadma_wait *w,
			struct fid *member);
void fpgadma_waitset_del(struct fpgadma_waitset *ws, struct fpgadma_wait *w);
/* fi_control of the set (and of its members): FI_GETWAIT, FI_GETWAITOBJ. */
int fpgadma_waitset_control(struct fpgadma_waitset *ws, int command, void *arg);
/* fi_trywait of a set: -FI_EAGAIN if a member has something, else 0. */
int fpgadma_waitset_trywait(struct fpgadma_waitset *ws);

#endif /* FPGADMA_PROV_H */
