// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edu_data: data through the edu device's memory, byte-exact.
 *
 * The edu device has 4095 bytes of device memory and moves at most 4095
 * bytes per transfer, one transfer at a time, each taking 100 ms.  So:
 *  1. The whole device memory written by one WR of max_sge pieces of odd
 *     lengths at odd host addresses across page boundaries (a pattern keyed
 *     by device address), read back by WRs with another random split into
 *     pieces in shuffled host order; every byte checked, and the bytes
 *     around each destination piece untouched.
 *  2. Byte by byte: one-byte WRs at odd device addresses in one post,
 *     written and read back one byte each.
 *  3. The edges: the last byte, a WR ending exactly at the end, one byte
 *     past it and a whole page (REM_ACCESS_ERR, nothing moved), a WR
 *     without pieces (success, 0 bytes).
 * Every CQE comes in post order with its WR's byte count; the device
 * counters grow by exactly what moved.  The engine's transfer log shows
 * that no transfer was empty, longer than 4095 bytes or outside device
 * memory, and that the transfers of each WR add up to its length.  The
 * guest time of one transfer is printed (the device's timer says 100 ms).
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d;
static struct t_rng rng;
static uint64_t moved_to_dev, moved_to_host, wrs_done;
static uint64_t mem;	/* device memory bytes */

/* Expected device memory: byte a holds pattern byte a of seed. */
#define DEV_SEED	77

static void run_batch(struct fpgadma_wr *wrs, unsigned int n)
{
	struct fpgadma_cqe cqes[64];
	unsigned int i, j;

	CHECK_LE(n, T_ARRAY_SIZE(cqes));
	CHECK_OK(fpgadma_post(d.ctx, wrs, n));
	t_get_cqes(d.ctx, cqes, (int)n);
	for (i = 0; i < n; i++) {
		const struct fpgadma_sge *sg = (const struct fpgadma_sge *)(uintptr_t)wrs[i].sg_list;
		uint64_t len = 0;

		for (j = 0; j < wrs[i].num_sge; j++)
			len += sg[j].length;
		CHECK_CQE(&cqes[i], wrs[i].wr_id, wrs[i].opcode, FPGADMA_WC_SUCCESS, len);
		if (wrs[i].opcode == FPGADMA_WR_WRITE_MEM)
			moved_to_dev += len;
		else
			moved_to_host += len;
	}
	wrs_done += n;
}

/* Cut len bytes into n pieces of random non-zero lengths. */
static void random_split(uint64_t len, unsigned int n, uint32_t *parts)
{
	uint64_t left = len;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t room = left - (n - 1 - i);	/* leave 1 byte for each later piece */
		uint64_t p = i == n - 1 ? left : 1 + t_rand_below(&rng, T_MIN(room, 2 * len / n));

		parts[i] = (uint32_t)p;
		left -= p;
	}
}

/* Check the engine's log for the last nx transfers: sane, and moving `bytes`. */
static void check_log(uint64_t total_before, uint64_t bytes, const char *what)
{
	struct t_xfer_log log;
	uint64_t sum = 0, nx;
	unsigned int i;

	t_xfer_log(&d, &log);
	nx = log.total - total_before;
	CHECK_EQ(log.lost_irqs, 0);
	if (nx > log.n) {
		t_log("%s: %llu transfers, more than the log keeps: not checked one by one", what,
		      (unsigned long long)nx);
		return;
	}
	for (i = log.n - (unsigned int)nx; i < log.n; i++) {
		const struct t_xfer *x = &log.x[i];

		if (x->len < 1 || x->len > 4095 || x->dev_off + x->len > mem)
			t_fail("%s: transfer %llu: %u bytes at device offset %u", what,
			       (unsigned long long)x->seq, x->len, x->dev_off);
		sum += x->len;
	}
	CHECK_EQ(sum, bytes);
	t_log("%s: %llu transfers moved %llu bytes, each 1..4095 bytes inside device memory",
	      what, (unsigned long long)nx, (unsigned long long)sum);
}

/* 1. the whole memory, scattered both ways */
static void whole_memory(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
			 uint8_t *dst, size_t buf_len)
{
	unsigned int nsge = T_MIN(d.attr.max_sge, 16), i, n;
	struct fpgadma_sge sg[16];
	struct fpgadma_wr wr[4];
	uint32_t parts[16];
	uint64_t off = 0, before;
	size_t pos;
	struct t_xfer_log log;

	CHECK_GE(buf_len, 8 * t_page_size());	/* 4095 bytes + 16 gaps of < 1400 */

	/* Source pieces at odd addresses, each crossing a page boundary where it can. */
	random_split(mem, nsge, parts);
	pos = t_page_size() - 3;
	for (i = 0; i < nsge; i++) {
		CHECK_LE(pos + parts[i] + 5, buf_len);
		t_fill(src + pos, parts[i], DEV_SEED, off);
		sg[i] = t_sge(src_mr, src + pos, parts[i]);
		off += parts[i];
		pos += parts[i] + 1 + 2 * t_rand_below(&rng, 700);
	}
	t_xfer_log(&d, &log);
	before = log.total;
	memset(wr, 0, sizeof(wr));
	wr[0] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++, .opcode = FPGADMA_WR_WRITE_MEM,
				     .dev_addr = 0, .sg_list = (uintptr_t)sg, .num_sge = nsge };
	run_batch(wr, 1);
	check_log(before, mem, "whole memory written from scattered pieces");

	/* Read back in up to four WRs, pieces in shuffled host order, guards around them. */
	{
		struct fpgadma_sge rsg[4][8];
		uint32_t wr_len[4], p8[8];
		uint64_t dev = 0;
		size_t hpos[8];
		unsigned int w, nw = 3;

		memset(dst, 0xEE, buf_len);
		random_split(mem, nw, wr_len);
		pos = 7;
		for (w = 0; w < nw; w++) {
			unsigned int np = T_MIN(d.attr.max_sge, 8);

			if (wr_len[w] < np)
				np = wr_len[w];
			random_split(wr_len[w], np, p8);
			/* host positions in shuffled order: place pieces back to front */
			for (i = 0; i < np; i++) {
				hpos[np - 1 - i] = pos;
				pos += p8[np - 1 - i] + 3;
			}
			for (i = 0; i < np; i++)
				rsg[w][i] = t_sge(dst_mr, dst + hpos[i], p8[i]);
			wr[w] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++,
				.opcode = FPGADMA_WR_READ_MEM, .dev_addr = dev,
				.sg_list = (uintptr_t)rsg[w], .num_sge = np };
			dev += wr_len[w];
		}
		CHECK_LE(pos, buf_len);
		t_xfer_log(&d, &log);
		before = log.total;
		run_batch(wr, nw);
		check_log(before, mem, "whole memory read back in shuffled pieces");
		dev = 0;
		for (w = 0; w < nw; w++) {
			for (i = 0; i < wr[w].num_sge; i++) {
				uint8_t *p = (uint8_t *)(uintptr_t)rsg[w][i].addr;
				uint32_t l = rsg[w][i].length;

				if (t_verify(p, l, DEV_SEED, dev, "read-back piece"))
					t_fail("WR %u piece %u (%u bytes at device %llu) is wrong", w, i,
					       l, (unsigned long long)dev);
				CHECK_EQ(p[-1], 0xEE);
				CHECK_EQ(p[l], 0xEE);
				dev += l;
			}
		}
		CHECK_EQ(dev, mem);
	}
	n = nsge;
	t_log("whole device memory (%llu bytes): written by 1 WR of %u pieces at odd addresses, "
	      "read back by 3 WRs in shuffled pieces; every byte right, guards intact",
	      (unsigned long long)mem, n);
}

/* 2. one byte per WR */
static void byte_by_byte(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
			 uint8_t *dst)
{
	unsigned int n = T_MIN(T_MIN(d.attr.max_post, d.attr.cq_entries), 24), i;
	struct fpgadma_sge sg[24];
	struct fpgadma_wr wr[24];
	uint64_t addr[24];

	for (i = 0; i < n; i++) {
		addr[i] = (1 + 2 * t_rand_below(&rng, mem / 2 - 1)) % mem;
		src[101 + 2 * i] = (uint8_t)(0x40 + i);
		sg[i] = t_sge(src_mr, src + 101 + 2 * i, 1);
		wr[i] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++,
			.opcode = FPGADMA_WR_WRITE_MEM, .dev_addr = addr[i],
			.sg_list = (uintptr_t)&sg[i], .num_sge = 1 };
	}
	run_batch(wr, n);
	memset(dst, 0, 4 * n + 8);
	for (i = 0; i < n; i++) {
		sg[i] = t_sge(dst_mr, dst + 3 + 4 * i, 1);
		wr[i].wr_id = d.next_wr_id++;
		wr[i].opcode = FPGADMA_WR_READ_MEM;
	}
	run_batch(wr, n);
	for (i = 0; i < n; i++) {
		unsigned int j, last = i;

		/* a later WR to the same address wins */
		for (j = i + 1; j < n; j++)
			if (addr[j] == addr[i])
				last = j;
		CHECK_EQ(dst[3 + 4 * i], 0x40 + last);
		CHECK_EQ(dst[4 + 4 * i], 0);
	}
	/* put the pattern back where the bytes went */
	for (i = 0; i < n; i++) {
		src[101 + 2 * i] = t_pattern_byte(DEV_SEED, addr[i]);
		wr[i].wr_id = d.next_wr_id++;
		wr[i].opcode = FPGADMA_WR_WRITE_MEM;
		sg[i] = t_sge(src_mr, src + 101 + 2 * i, 1);
	}
	run_batch(wr, n);
	t_log("%u one-byte WRs written and read back at odd device addresses: each byte right", n);
}

/* 3. the edges */
static void edges(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
		  uint8_t *dst)
{
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	uint64_t t0, t1;
	long long err0 = t_dev_counter("wr_errors");

	/* the last byte */
	src[0] = 0x5a;
	sg = t_sge(src_mr, src, 1);
	t0 = t_now_us();
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, mem - 1, &sg, 1);
	t1 = t_now_us();
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, 1);
	dst[0] = 0;
	sg = t_sge(dst_mr, dst, 1);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, mem - 1, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 1);
	CHECK_EQ(dst[0], 0x5a);
	moved_to_dev++;
	moved_to_host++;
	wrs_done += 2;
	t_log("one-byte transfer: %.1f ms of guest time from post to CQE",
	      (double)(t1 - t0) / 1000.0);

	/* a WR that ends exactly at the end */
	t_fill(src + 1, 100, 5, 0);
	sg = t_sge(src_mr, src + 1, 100);
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, mem - 100, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, 100);
	memset(dst, 0, 128);
	sg = t_sge(dst_mr, dst + 1, 100);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, mem - 100, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 100);
	CHECK(!t_verify(dst + 1, 100, 5, 0, "the last 100 bytes"));
	moved_to_dev += 100;
	moved_to_host += 100;
	wrs_done += 2;

	/* one byte past the end, a page, the byte just beyond: nothing moves */
	memset(dst, 0x33, 4096);
	sg = t_sge(dst_mr, dst, 1);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, mem, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_REM_ACCESS_ERR, 0);
	sg = t_sge(dst_mr, dst, 2);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, mem - 1, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_REM_ACCESS_ERR, 0);
	sg = t_sge(dst_mr, dst, 4096);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, 0, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_REM_ACCESS_ERR, 0);
	sg = t_sge(src_mr, src, 4096);
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 0, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_REM_ACCESS_ERR, 0);
	CHECK(!t_verify_byte(dst, 4096, 0x33, "host memory after refused reads"));
	wrs_done += 4;
	CHECK_EQ(t_dev_counter("wr_errors") - err0, 4);

	/* no pieces at all */
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 17, NULL, 0);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, 0);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, mem, NULL, 0);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 0);
	wrs_done += 2;
	t_log("edges: the last byte and a WR ending at %llu work; at %llu, across the end and "
	      "4096 bytes: REM_ACCESS_ERR, nothing moved; no pieces: success, 0 bytes",
	      (unsigned long long)mem, (unsigned long long)mem);
}

int main(int argc, char **argv)
{
	uint64_t seed = t_seed(argc, argv);
	long long dev0, host0, wrs0, err0;
	struct fpgadma_mr *src_mr, *dst_mr;
	size_t buf_len = 16 * t_page_size();
	uint8_t *src, *dst;

	t_init(argc, argv, 55);
	t_rng_seed(&rng, seed);
	t_log("seed %llu", (unsigned long long)seed);
	t_open_edu(&d);
	mem = d.attr.dev_mem_size;
	t_log("edu device fpgadma%u: %llu bytes of device memory, frame_size %llu, max_sge %u",
	      d.attr.dev_index, (unsigned long long)mem, (unsigned long long)d.attr.frame_size,
	      d.attr.max_sge);
	CHECK_EQ(mem, 4095);
	CHECK_EQ(d.attr.frame_size, 0);
	CHECK_GE(d.attr.max_sge, 4);

	src = t_map(buf_len);
	dst = t_map(buf_len);
	src_mr = t_reg(&d, src, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
	dst_mr = t_reg(&d, dst, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
	dev0 = t_dev_counter("bytes_to_device");
	host0 = t_dev_counter("bytes_to_host");
	wrs0 = t_dev_counter("wrs_completed");
	err0 = t_dev_counter("wr_errors");

	whole_memory(src_mr, src, dst_mr, dst, buf_len);
	byte_by_byte(src_mr, src, dst_mr, dst);
	edges(src_mr, src, dst_mr, dst);

	CHECK_EQ(t_dev_counter("bytes_to_device") - dev0, moved_to_dev);
	CHECK_EQ(t_dev_counter("bytes_to_host") - host0, moved_to_host);
	CHECK_EQ(t_dev_counter("wrs_completed") - wrs0, wrs_done);
	CHECK_EQ(t_dev_counter("wr_errors") - err0, 4);
	t_log("counters: bytes_to_device +%llu, bytes_to_host +%llu, wrs_completed +%llu, "
	      "wr_errors +4: exact", (unsigned long long)moved_to_dev,
	      (unsigned long long)moved_to_host, (unsigned long long)wrs_done);

	t_dereg(src_mr);
	t_dereg(dst_mr);
	t_unmap(src, buf_len);
	t_unmap(dst, buf_len);
	t_close(&d);
	t_pass();
}
