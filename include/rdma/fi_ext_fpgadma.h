/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fpgadma provider extensions, in the style of libfabric's fi_ext_*.h.
 *
 * The FPGA of a domain is an endpoint of its own.  An application finds it
 * through the domain ops below:
 *
 *	struct fi_fpgadma_ops_domain *ops;
 *	struct fi_fpgadma_fpga fpga;
 *	fi_addr_t fpga_addr;
 *
 *	fi_open_ops(&domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL);
 *	ops->query_fpga(domain, &fpga);
 *	fi_av_insert(av, fpga.addr, 1, &fpga_addr, 0, NULL);
 *
 * then reads and writes its on-board memory with plain fi_read/fi_write to
 * fpga_addr at address fpga.mem_base + offset with key fpga.mem_key, and reads
 * its frame stream with fi_read at address 0 with key fpga.stream_key: each
 * read delivers the next bytes of the stream.
 *
 * On a device with atomics (fi_getinfo gives FI_ATOMIC: the kernel's
 * FPGADMA_CAP_ATOMIC), the atomic calls reach the same memory the same
 * way, the FPGA applying the operation to its own memory:
 *
 *	uint64_t one = 1, before;
 *
 *	fi_fetch_atomic(ep, &one, 1, NULL, &before, NULL, fpga_addr,
 *			fpga.mem_base + offset, fpga.mem_key, FI_UINT64,
 *			FI_SUM, &ctx);
 *
 * with the operations and datatypes fi_atomicvalid, fi_fetch_atomicvalid
 * and fi_compare_atomicvalid accept (fi_fpgadma(7), ATOMICS), the target
 * aligned to the datatype (else an error completion with prov_errno
 * FI_FPGADMA_ERR_ATOMIC_ALIGN below).
 *
 * The same ops give the counters of the domain's registration cache
 * (fi_fpgadma(7)), for tests and benchmarks; mr_cache_stats came after
 * query_fpga, so check ops->size before calling it:
 *
 *	struct fi_fpgadma_mr_cache_stats st;
 *
 *	if (ops->size >= FI_FPGADMA_OPS_DOMAIN_HAS(mr_cache_stats))
 *		ops->mr_cache_stats(domain, &st);
 *
 * and the counters of an endpoint of the domain (ep_stats, later still):
 * the messages an FI_EP_DGRAM endpoint dropped because no receive was
 * posted for them, and what its paced stream delivered and lost.
 *
 * Paced streams (the calls from stream_start on, later again: check
 * ops->size against FI_FPGADMA_OPS_DOMAIN_HAS(stream_release)).  On a
 * device with FPGADMA_CAP_STREAM the FPGA produces frames on its own
 * clock, as a camera or an ADC does (fpgadma_stream_start(3)); an endpoint
 * runs at most one such stream, started with stream_start.  By default
 * (copy mode) the stream reaches the application as plain receives: it
 * posts FI_MULTI_RECV buffers (or plain ones) whose source address is the
 * FPGA's fi_addr, and each frame is a receive completion
 * (FI_RECV | FI_MSG | FI_REMOTE_CQ_DATA, len the frame's bytes, buf where
 * it landed, data its sequence number, the FPGA's fi_addr for
 * fi_cq_readfrom), FI_MULTI_RECV set when a buffer is used up:
 *
 *	struct fi_fpgadma_stream_attr sa = {
 *		.frame_size = 4096, .frame_period_ns = 500000,
 *	};
 *	struct fi_msg msg = {
 *		.msg_iov = &iov, .desc = &desc, .iov_count = 1,
 *		.addr = fpga_addr, .context = &ctx,
 *	};
 *
 *	fi_recvmsg(ep, &msg, FI_MULTI_RECV);	// before or after the start
 *	if (ops->size >= FI_FPGADMA_OPS_DOMAIN_HAS(stream_release))
 *		ret = ops->stream_start(ep, &sa);	// -FI_EOPNOTSUPP: no streams
 *	... fi_cq_readfrom / fi_cq_sreadfrom: one completion per frame ...
 *	ops->stream_stop(ep, 0, &final);
 *
 * Frames the device had to drop because the receives came too slowly are
 * reported before the next frame: an error completion with err
 * FI_EOVERRUN, olen the number of frames lost, data the sequence number of
 * the first of them, prov_errno FI_FPGADMA_ERR_FRAMES_LOST (fi_cq_strerror
 * says how many were lost before which frame), op_context the receive
 * the next frame goes to (it stays posted); and in ep_stats' stream_lost.
 *
 * With FI_FPGADMA_STREAM_ZC the device writes the frames into a ring in
 * an MR of the application instead, which takes them without a copy
 * through stream_ready, stream_slot and stream_release (no receives, no
 * completions).  fi_fpgadma(7) says more.
 */
#ifndef FI_EXT_FPGADMA_H
#define FI_EXT_FPGADMA_H

#include <stddef.h>
#include <stdint.h>
#include <rdma/fabric.h>
/* The device's own definitions (engines, the stream's content): one place. */
#include <fpgadma-abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FI_FPGADMA_DOMAIN_OPS_1	"fpgadma domain ops 1"

/* Keys of the FPGA's memory and stream (for RMA to the FPGA's address only). */
#define FI_FPGADMA_MEM_KEY	0x4d454dULL	/* "MEM" */
#define FI_FPGADMA_STREAM_KEY	0x535452ULL	/* "STR" */

/*
 * Largest address of any fpgadma endpoint, in either address format
 * (FI_FORMAT_UNSPEC, or FI_SOCKADDR_IN: a struct sockaddr_in).
 */
#define FI_FPGADMA_ADDRLEN	16

/* The engines behind a domain (fi_fpgadma_fpga.engine): the device's. */
enum fi_fpgadma_engine {
	FI_FPGADMA_ENGINE_SOFT	= FPGADMA_ENGINE_SOFT,	/* the software model of an FPGA */
	FI_FPGADMA_ENGINE_EDU	= FPGADMA_ENGINE_EDU,	/* QEMU's edu PCI device */
};

/* The FPGA endpoint of a domain. */
struct fi_fpgadma_fpga {
	uint8_t  addr[FI_FPGADMA_ADDRLEN]; /* its address, for fi_av_insert,
					   * in the domain's address format */
	size_t   addrlen;		/* bytes of addr used */
	uint32_t dev_index;		/* N of /dev/fpgadmaN */
	uint32_t engine;		/* enum fi_fpgadma_engine */
	uint64_t mem_base;		/* RMA address of byte 0 of on-board memory */
	uint64_t mem_size;		/* bytes of on-board memory */
	uint64_t mem_key;		/* FI_FPGADMA_MEM_KEY */
	uint64_t frame_size;		/* bytes per stream frame; 0: no stream */
	uint64_t stream_key;		/* FI_FPGADMA_STREAM_KEY */
	uint64_t reserved[4];
};

/*
 * The frame stream's content: frame n is frame_size / 8 little-endian 64-bit
 * words; word 0 is n, word j > 0 is fi_fpgadma_stream_word(n, j).
 */
static inline uint64_t fi_fpgadma_stream_word(uint64_t frame, uint64_t j)
{
	return fpgadma_stream_word(frame, j);
}

/*
 * Counters of a domain's registration cache, since the domain opened.  A
 * lookup is a registration the provider needed (a buffer without a desc,
 * a rendezvous send's buffer, an application's fi_mr_reg that may be
 * cached); it hits a cached entry or misses.
 */
struct fi_fpgadma_mr_cache_stats {
	uint64_t hits;		/* lookups a cached entry served */
	uint64_t misses;	/* lookups that registered memory */
	uint64_t invalidated;	/* entries dropped: their memory changed */
	uint64_t evicted;	/* unused entries dropped for the limits or
				 * for memlock */
	uint64_t uncached;	/* registrations made outside the cache (cache
				 * off, no monitor slot): one use each */
	uint64_t entries;	/* entries cached now */
	uint64_t bytes;		/* bytes they pin */
	uint64_t max_entries;	/* FI_FPGADMA_MR_CACHE_MAX_COUNT in force */
	uint64_t max_bytes;	/* FI_FPGADMA_MR_CACHE_MAX_SIZE in force */
	uint32_t enabled;	/* 1: the cache is on (FI_FPGADMA_MR_CACHE, and
				 * the device has a memory monitor) */
	uint32_t reserved0;
	uint64_t reserved[4];
};

/* Counters of an endpoint, since it opened. */
struct fi_fpgadma_ep_stats {
	uint64_t dgram_dropped;	/* FI_EP_DGRAM: messages that found no
				 * posted receive and were dropped */
	/* Paced streams in copy mode (not FI_FPGADMA_STREAM_ZC): */
	uint64_t stream_frames;	/* frames delivered into receives */
	uint64_t stream_lost;	/* frames the application was told were
				 * lost (the olen of FI_EOVERRUN errors) */
	uint64_t stream_discarded; /* frames the device had written and no
				 * receive had taken when the stream
				 * stopped (stream_stop, fi_close) */
	uint64_t reserved[4];
};

/*
 * A domain's messages through the local message channels (fi_fpgadma(7),
 * "Messages through channels"), since it opened.
 */
struct fi_fpgadma_chan_stats {
	uint64_t sent;		/* messages written into peers' inboxes */
	uint64_t received;	/* messages taken from the domain's inbox */
	uint64_t wakeups;	/* empty SENDs after a message written just as
				 * its peer went to sleep */
	uint32_t inbox;		/* 1: the domain has an inbox (the device
				 * has channels, FI_FPGADMA_CHAN is not 0) */
	uint32_t sleepy;	/* 1: the domain has waited on its file
				 * descriptor: messages to it come by SEND */
	uint64_t reserved[4];
};

/*
 * Paced streams (stream_start).  flags: 0 for copy mode (the frames reach
 * the application's receives), or FI_FPGADMA_STREAM_ZC (they stay in a
 * ring in the application's MR).
 */
#define FI_FPGADMA_STREAM_ZC	(1U << 0)

struct fi_fpgadma_stream_attr {
	uint32_t frame_size;	/* in/out: bytes per frame, header included
				 * (at least FPGADMA_FRAME_HDR_SIZE); 0: the
				 * FPGA's frame_size (query_fpga), 4096 if
				 * that is 0 */
	uint32_t fifo_frames;	/* in/out: the device's FIFO in frames;
				 * 0: the device's default */
	uint64_t frame_period_ns; /* in/out: one frame every this many ns;
				 * 0: from byte_rate, else the device's
				 * default */
	uint64_t byte_rate;	/* in: bytes/s instead of a period (not both) */
	uint32_t nslots;	/* in/out: slots of the ring; 0: 64 */
	uint32_t flags;		/* 0 or FI_FPGADMA_STREAM_ZC */
	struct fid_mr *mr;	/* ZC: the ring's MR (of this domain, with
				 * FI_RECV, FI_READ or FI_REMOTE_WRITE
				 * access: the device writes it); copy
				 * mode: NULL */
	uint64_t ring_offset;	/* ZC: slot 0's offset from the MR's start
				 * (any alignment); copy mode: 0 */
	uint32_t slot_size;	/* in/out: ZC: bytes from one slot to the
				 * next, >= frame_size (0: frame_size);
				 * copy mode: 0 (set to frame_size) */
	uint32_t reserved0;	/* 0 */
	uint64_t reserved[4];	/* 0 */
};

/*
 * prov_errno of the error completion (err FI_EOVERRUN) that reports
 * frames of a paced stream lost before the next one.
 */
#define FI_FPGADMA_ERR_FRAMES_LOST	0x10001
/*
 * prov_errno of the error completion (err FI_EINVAL) of an atomic whose
 * target address is not a multiple of its datatype's size (of 8 for
 * FI_FLOAT_COMPLEX and FI_DOUBLE_COMPLEX): the kernel's
 * FPGADMA_WC_REM_INV_REQ_ERR, which for an atomic means only that.
 * Nothing was changed at the target.
 */
#define FI_FPGADMA_ERR_ATOMIC_ALIGN	0x10002

struct fi_fpgadma_ops_domain {
	size_t size;	/* sizeof(struct fi_fpgadma_ops_domain) */
	/* Describe the domain's FPGA endpoint. 0 or a negative FI_E* code. */
	int (*query_fpga)(struct fid_domain *domain, struct fi_fpgadma_fpga *fpga);
	/* The registration cache's counters. 0 or a negative FI_E* code. */
	int (*mr_cache_stats)(struct fid_domain *domain,
			      struct fi_fpgadma_mr_cache_stats *stats);
	/* An endpoint's counters (ep of this domain). 0 or -FI_EINVAL. */
	int (*ep_stats)(struct fid_domain *domain, struct fid_ep *ep,
			struct fi_fpgadma_ep_stats *stats);
	/*
	 * Paced streams, one per endpoint (an enabled endpoint of this
	 * provider).  0 or a negative FI_E* code: -FI_EOPNOTSUPP (a device
	 * without FPGADMA_CAP_STREAM; copy mode on an FI_EP_MSG endpoint),
	 * -FI_EBUSY (the endpoint has a stream), -FI_EINVAL (attr: a
	 * reserved field or unknown flag set, a bad geometry, ZC without an
	 * MR of this domain, copy mode with one), -FI_EACCES (the MR does not
	 * let the device write), -FI_EOPBADSTATE (endpoint not enabled),
	 * -FI_ENOCQ (copy mode, nothing bound to report receives to),
	 * -FI_ENOSPC (the domain runs the device's most streams), -FI_EAGAIN
	 * (no room in the completion ring: read completions, try again),
	 * and libfpgadma's other errors, translated.  On success attr's
	 * in/out fields hold what the stream runs with.
	 */
	int (*stream_start)(struct fid_ep *ep, struct fi_fpgadma_stream_attr *attr);
	/*
	 * Stop the endpoint's stream; with drain_ms > 0 the device first
	 * empties its FIFO into the ring for up to that long.  final (may be
	 * NULL) gets the device's last counters.  Copy mode: frames no
	 * receive has taken yet are discarded (ep_stats' stream_discarded),
	 * posted receives stay posted.  -FI_ENOENT without a stream.
	 */
	int (*stream_stop)(struct fid_ep *ep, unsigned int drain_ms,
			   struct fpgadma_stream_stats *final);
	/* The device's counters of the stream (a system call). -FI_ENOENT
	 * without a stream. */
	int (*stream_stats)(struct fid_ep *ep, struct fpgadma_stream_stats *stats);
	/*
	 * FI_FPGADMA_STREAM_ZC only (else 0, NULL, nothing), no system call
	 * (libfpgadma's fpgadma_stream_ready/slot/release): the frames
	 * written and not handed back (*first, may be NULL: the index of the
	 * oldest), the address of frame idx's slot, hand the n oldest back.
	 * One thread at a time, never during stream_stop or fi_close.
	 */
	uint64_t (*stream_ready)(struct fid_ep *ep, uint64_t *first);
	void *(*stream_slot)(struct fid_ep *ep, uint64_t idx);
	void (*stream_release)(struct fid_ep *ep, uint64_t n);
	/*
	 * The domain's channel counters (came after stream_release: check
	 * ops->size).  0 or -FI_EINVAL (stats NULL).
	 */
	int (*chan_stats)(struct fid_domain *domain,
			  struct fi_fpgadma_chan_stats *stats);
};

/* The size ops must have for its member m to be there. */
#define FI_FPGADMA_OPS_DOMAIN_HAS(m) \
	(offsetof(struct fi_fpgadma_ops_domain, m) + \
	 sizeof(((struct fi_fpgadma_ops_domain *)0)->m))

#ifdef __cplusplus
}
#endif

#endif /* FI_EXT_FPGADMA_H */
