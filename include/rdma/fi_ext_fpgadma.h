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

struct fi_fpgadma_ops_domain {
	size_t size;	/* sizeof(struct fi_fpgadma_ops_domain) */
	/* Describe the domain's FPGA endpoint. 0 or a negative FI_E* code. */
	int (*query_fpga)(struct fid_domain *domain, struct fi_fpgadma_fpga *fpga);
};

#ifdef __cplusplus
}
#endif

#endif /* FI_EXT_FPGADMA_H */
