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
 * so far the messages an FI_EP_DGRAM endpoint dropped because no receive
 * was posted for them.
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
	uint64_t reserved[7];
};

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
};

/* The size ops must have for its member m to be there. */
#define FI_FPGADMA_OPS_DOMAIN_HAS(m) \
	(offsetof(struct fi_fpgadma_ops_domain, m) + \
	 sizeof(((struct fi_fpgadma_ops_domain *)0)->m))

#ifdef __cplusplus
}
#endif

#endif /* FI_EXT_FPGADMA_H */
