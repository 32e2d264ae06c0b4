// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_sizes: registration of 1 byte up to hundreds of MiB (as much as the
 * guest can spare), starting at offsets 0, 1, 7 and page-1 of a page, ending
 * anywhere.  For each MR: exactly the pages it touches are pinned (system-wide
 * pin count, VmPin, the device's pinned_pages) and live_mrs counts it; nsegs
 * lies between what max_seg_size forces and one per page; the first and last
 * bytes reach the device and come back; deregistration gives everything back.
 * Then 64 overlapping MRs at once: each pins its own pages, and the keys are
 * distinct, random-looking 32-bit values.
 */
#include "helpers.h"

#include <sys/mman.h>

#define EDGE	64	/* bytes moved at each end of an MR */

static struct t_dev d;

static void check_edges(struct fpgadma_mr *mr, uint8_t *p, size_t len, uint64_t seed)
{
	struct fpgadma_sge sg[2];
	struct fpgadma_cqe c;
	unsigned int n;
	size_t a = T_MIN(len, EDGE), moved;

	if (len <= 2 * EDGE) {
		t_fill(p, len, seed, 0);
		sg[0] = t_sge(mr, p, (uint32_t)len);
		n = 1;
		moved = len;
	} else {
		t_fill(p, a, seed, 0);
		t_fill(p + len - a, a, seed, 1000);
		sg[0] = t_sge(mr, p, (uint32_t)a);
		sg[1] = t_sge(mr, p + len - a, (uint32_t)a);
		n = 2;
		moved = 2 * a;
	}
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 0, sg, n);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, moved);
	memset(p, 0, a);
	memset(p + len - a, 0, a);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, 0, sg, n);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, moved);
	if (n == 1) {
		CHECK(!t_verify(p, len, seed, 0, "whole MR after round trip"));
	} else {
		CHECK(!t_verify(p, a, seed, 0, "first bytes after round trip"));
		CHECK(!t_verify(p + len - a, a, seed, 1000, "last bytes after round trip"));
	}
}

int main(int argc, char **argv)
{
	static const uint64_t fixed[] = {
		1, 2, 3, 7, 8, 63, 64, 100, 511, 4095, 4096, 4097, 8191, 8192, 8193,
		12289, 65535, 65536, 65537, 262143, 262145, T_MiB - 1, T_MiB + 1,
		4 * T_MiB + 5, 16 * T_MiB - 3, 64 * T_MiB + 1, 128 * T_MiB + 7,
	};
	uint64_t sizes[T_ARRAY_SIZE(fixed) + 2];
	size_t page = t_page_size(), offsets[4] = { 0, 1, 7, page - 1 };
	unsigned int nsizes = 0, i, j, nregs = 0;
	uint64_t big, total = 0, max_seg;
	uint32_t lkeys[64], rkeys[64], or_l = 0, or_r = 0;
	unsigned int seq_l = 0, seq_r = 0;
	struct fpgadma_mr *mrs[64];
	struct t_snap before;
	size_t region_len;
	uint8_t *region;
	char b1[32], b2[32];

	t_init(argc, argv, 55);
	t_open(&d);
	max_seg = d.attr.max_seg_size;
	CHECK(d.attr.dev_mem_size >= 2 * EDGE);
	big = t_big_size(&d, 256 * T_MiB);
	for (i = 0; i < T_ARRAY_SIZE(fixed); i++)
		if (fixed[i] < big - 1)
			sizes[nsizes++] = fixed[i];
	sizes[nsizes++] = big - 1;
	sizes[nsizes++] = big;
	CHECK(nsizes >= 12);	/* even in the smallest guest: up to 64 KiB and more */

	region_len = big + 2 * page;
	region = t_map(region_len);
	t_log("max_seg_size %s, page %zu, %u sizes from 1 B to %s, offsets 0 1 7 %zu",
	      t_size_str(max_seg, b1), page, nsizes, t_size_str(big, b2), page - 1);

	for (i = 0; i < nsizes; i++) {
		uint64_t len = sizes[i];
		unsigned int noffs = len > 16 * T_MiB ? 2 : 4;
		char line[256];
		int pos;

		pos = snprintf(line, sizeof(line), "size %llu:", (unsigned long long)len);
		for (j = 0; j < noffs; j++) {
			size_t off = noffs == 2 ? (j ? page - 1 : 0) : offsets[j];
			uint8_t *p = region + off;
			size_t npages = t_pages_spanned(p, len);
			uint64_t lo = T_DIV_ROUND_UP(len, max_seg);
			uint64_t hi = npages * T_DIV_ROUND_UP(page, T_MIN(page, max_seg));
			struct fpgadma_mr *mr;
			unsigned int nsegs;

			CHECK(off + len <= region_len);
			t_snap_take(&before);
			mr = t_reg(&d, p, len, FPGADMA_ACCESS_LOCAL_WRITE);
			CHECK(mr->addr == p);
			CHECK_EQ(mr->length, len);
			CHECK_EQ(mr->access, FPGADMA_ACCESS_LOCAL_WRITE);
			CHECK_SNAP(&before, (long long)npages, 1, "while registered");
			if (mr->nsegs < lo || mr->nsegs > hi)
				t_fail("size %llu offset %zu: nsegs %u outside [%llu, %llu]",
				       (unsigned long long)len, off, mr->nsegs,
				       (unsigned long long)lo, (unsigned long long)hi);
			nsegs = mr->nsegs;
			check_edges(mr, p, len, len * 8 + off);
			t_dereg(mr);
			CHECK_SNAP(&before, 0, 0, "after deregistration");
			nregs++;
			total += len;
			if (pos > 0 && (size_t)pos < sizeof(line))
				pos += snprintf(line + pos, sizeof(line) - (size_t)pos,
						 " off %zu pages %zu nsegs %u;", off, npages, nsegs);
		}
		t_log("%s", line);
	}
	t_log("registered %u MRs of %u sizes, %s in total, each pin/VmPin/pinned_pages/live_mrs "
	      "exact while registered and back after", nregs, nsizes, t_size_str(total, b1));

	/* 64 overlapping MRs at once: pins add up, keys are distinct and random. */
	CHECK(region_len >= 65 * page);
	t_snap_take(&before);
	for (i = 0; i < 64; i++) {
		mrs[i] = t_reg(&d, region + i * page, 2 * page, FPGADMA_ACCESS_LOCAL_WRITE);
		lkeys[i] = mrs[i]->lkey;
		rkeys[i] = mrs[i]->rkey;
		or_l |= lkeys[i];
		or_r |= rkeys[i];
	}
	CHECK_SNAP(&before, 128, 64, "64 overlapping 2-page MRs");
	for (i = 0; i < 64; i++) {
		for (j = i + 1; j < 64; j++) {
			CHECK_NE(lkeys[i], lkeys[j]);
			CHECK_NE(rkeys[i], rkeys[j]);
		}
		if (i && lkeys[i] == lkeys[i - 1] + 1)
			seq_l++;
		if (i && rkeys[i] == rkeys[i - 1] + 1)
			seq_r++;
	}
	/* Counting keys would be consecutive; 64 random ones all below 2^24: 2^-512. */
	CHECK_LT(seq_l, 8);
	CHECK_LT(seq_r, 8);
	CHECK_NE(or_l >> 24, 0);
	CHECK_NE(or_r >> 24, 0);
	t_log("64 MRs at once: 128 pins, 64 distinct lkeys and rkeys (e.g. lkey 0x%08x rkey 0x%08x)",
	      lkeys[0], rkeys[0]);
	for (i = 0; i < 64; i++)
		t_dereg(mrs[i]);
	CHECK_SNAP(&before, 0, 0, "after deregistering the 64");

	t_unmap(region, region_len);
	t_close(&d);
	t_pass();
}
