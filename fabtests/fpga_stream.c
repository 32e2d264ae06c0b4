// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpga_stream: the FPGA's frame stream through plain fi_read.
 *
 * Each fi_read to the FPGA at address 0 with key stream_key delivers the
 * next bytes of an endless stream of frames (rdma/fi_ext_fpgadma.h): frame n
 * is frame_size / 8 little-endian words, word 0 being n and word j
 * fi_fpgadma_stream_word(n, j).  The stream is device-wide, so the first
 * read finds where it stands (a frame start and its number); every later
 * read must continue exactly there, byte for byte, whatever its length (1
 * byte, a frame minus 3, three frames plus 1...): no byte lost or repeated,
 * frames in order.  Reads go through a registered buffer and (unless the
 * provider needs FI_MR_LOCAL) through plain memory, one at a time and (with
 * FI_ORDER_RAR) several posted at once.
 *
 * Provider: -p, $FI_PROVIDER, else "fpgadma"; skips without it or without a
 * stream (frame_size 0).
 */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fi_ext_fpgadma.h>

static struct ft_dom dom;
static struct ft_ep ep;
static struct fi_fpgadma_fpga fpga;
static fi_addr_t fpga_addr;
static uint64_t bytes_verified, reads;
static unsigned int rounds = 1;

static int opt(int c, const char *arg)
{
	if (c == 'n') {
		rounds = (unsigned int)strtoul(arg, NULL, 0);
		return 0;
	}
	return -1;
}

static void read_stream(void *buf, size_t len, void *desc, struct ft_op *op)
{
	FT_POST(fi_read(ep.ep, buf, len, desc, fpga_addr, 0, fpga.stream_key, op));
}

int main(int argc, char **argv)
{
	struct fid_mr *mr;
	uint8_t *reg, *plain;
	void *reg_base, *plain_base, *desc;
	size_t reg_map, plain_map, buflen, i, F, sync_len;
	uint64_t pos, first_pos, t0;
	struct ft_op op = { .what = "stream fi_read" };
	bool null_desc_ok, rar;
	unsigned int r;
	int ret;

	ft_parse(argc, argv, "n:", "[-n ROUNDS]\n"
		 "  -n ROUNDS    times through the list of read lengths (default 1)", opt);
	ft_default_prov("fpgadma");
	ft_open_dom_or_skip(ft_hints(FI_RMA | FI_READ, FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
				     FI_MR_PROV_KEY | FI_MR_ENDPOINT), &dom, "FI_RMA on FI_EP_RDM");
	ft_describe(&dom);
	ft_query_fpga(&dom, &fpga);
	if (!fpga.frame_size)
		ft_skip("the FPGA of domain %s has no frame stream (frame_size 0)",
			dom.info->domain_attr->name);
	if (fpga.frame_size % 8)
		ft_fatal("frame_size %" PRIu64 " is not a multiple of 8", fpga.frame_size);
	F = (size_t)fpga.frame_size;
	ft_open_ep(&dom, &ep, "ep");
	fpga_addr = ft_av_insert(&dom, fpga.addr);
	null_desc_ok = !ft_need_desc(&dom);
	rar = dom.info->tx_attr->msg_order & FI_ORDER_RAR;

	const size_t lens[] = {
		1, 7, 8, F - 3, F + 5, 3 * F + 1, 13, 2 * F - 1, F, 4096 + 11, 100003, 5,
		(1 << 20) + 3, 2, 16 * F + 7,
	};
	buflen = FT_MAX((size_t)(1 << 20) + 3, 16 * F + 7) + 4096;
	reg = ft_alloc_at(buflen, 0, &reg_base, &reg_map);
	plain = ft_alloc_at(buflen, 0, &plain_base, &plain_map);
	ret = ft_mr_reg(&dom, &ep, reg, buflen, FI_READ, 0, &mr);
	if (ret)
		ft_fatal("fi_mr_reg of %zu bytes: %s", buflen, ft_strerr(ret));
	desc = fi_mr_desc(mr);

	/* Where the stream stands: a read of two frames and a bit. */
	sync_len = 2 * F + 24;
	read_stream(reg, sync_len, desc, &op);
	ft_wait_op(&ep.cq, &op, NULL);
	reads++;
	if (!ft_stream_find(reg, sync_len, F, &pos))
		ft_fatal("the first %zu bytes read hold no frame start", sync_len);
	if (ft_stream_expect(reg, sync_len, F, pos, "the first read"))
		bytes_verified += sync_len;
	first_pos = pos;
	pos += sync_len;
	ft_log("stream: the first read of %zu bytes starts at stream offset %" PRIu64
	       " (frame %" PRIu64 ", byte %" PRIu64 ")", sync_len, first_pos, first_pos / F,
	       first_pos % F);

	/* One at a time, each continuing where the last stopped. */
	t0 = ft_now_us();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < FT_ARRAY_SIZE(lens); i++) {
			bool plain_mem = null_desc_ok && (i & 1);
			uint8_t *b = plain_mem ? plain + (i * 7) % 4096 : reg + (i * 5) % 4096;
			char what[96];

			if (lens[i] + 4096 > buflen)
				continue;
			snprintf(what, sizeof(what), "read %zu of %zu bytes (%s)", i, lens[i],
				 plain_mem ? "NULL desc" : "desc");
			read_stream(b, lens[i], plain_mem ? NULL : desc, &op);
			ft_wait_op(&ep.cq, &op, NULL);
			reads++;
			if (ft_stream_expect(b, lens[i], F, pos, what))
				bytes_verified += lens[i];
			pos += lens[i];
		}
	}
	ft_log("stream: %u x %zu reads of 1..%zu bytes (%s), each where the last stopped (%.1f ms)",
	       rounds, FT_ARRAY_SIZE(lens), (size_t)(1 << 20) + 3,
	       null_desc_ok ? "desc and NULL desc" : "desc: FI_MR_LOCAL",
	       (double)(ft_now_us() - t0) / 1000);

	/* Several posted at once: with FI_ORDER_RAR they take the stream in posting order. */
	if (rar) {
		enum { N = 16 };
		struct ft_op qop[N];
		size_t off = 0, qlen[N];
		int k;

		for (k = 0; k < N; k++) {
			qlen[k] = F / 2 + (size_t)k * 37 + 1;
			qop[k] = (struct ft_op){ .what = "queued stream fi_read", .id = k };
			read_stream(reg + off, qlen[k], desc, &qop[k]);
			off += qlen[k] + 3;	/* not adjacent in memory */
		}
		off = 0;
		/* Completions in any order; the data must be in posting order. */
		for (k = 0; k < N; k++) {
			struct ft_comp c;

			if (ft_wait(&ep.cq, &c))
				ft_fatal("queued stream reads: %d of %d completions", k, N);
			if (c.err)
				ft_fatal("queued stream read: error completion: %s", c.errstr);
			ft_check(c.e.op_context >= (void *)&qop[0] &&
				 c.e.op_context <= (void *)&qop[N - 1],
				 "queued stream reads: completion of an unknown operation");
			reads++;
		}
		for (k = 0; k < N; k++) {
			if (ft_stream_expect(reg + off, qlen[k], F, pos, "reads posted at once"))
				bytes_verified += qlen[k];
			pos += qlen[k];
			off += qlen[k] + 3;
		}
		ft_log("stream: %d reads posted at once took the stream in posting order "
		       "(FI_ORDER_RAR)", N);
	} else {
		ft_log("stream: no FI_ORDER_RAR: reads posted at once not tried");
	}

	ft_log("stream: stream offsets %" PRIu64 "..%" PRIu64 ", frames %" PRIu64 "..%" PRIu64
	       ": every byte of every frame as fi_fpgadma_stream_word says, frames in order, "
	       "none lost or repeated", first_pos, pos, first_pos / F, (pos - 1) / F);
	ft_close_fid(&mr->fid, "mr");
	ft_close_ep(&ep);
	ft_close_dom(&dom);
	ft_unmap(reg_base, reg_map);
	ft_unmap(plain_base, plain_map);
	return ft_finish("%" PRIu64 " stream reads, %" PRIu64 " bytes verified, frames %" PRIu64
			 "..%" PRIu64, reads, bytes_verified, first_pos / F, (pos - 1) / F);
}
