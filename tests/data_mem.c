// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * data_mem: data through device memory, byte-exact.
 *  1. The whole device memory: written with a pattern keyed by device
 *     address in batches of max_post WRs, read back with a different split,
 *     every byte checked.
 *  2. Scatter/gather: WRs of max_sge pieces of odd lengths at odd host
 *     addresses, in shuffled order, to odd device addresses; read back with
 *     another random split; the bytes around the destination pieces must be
 *     untouched.
 *  3. Byte by byte: max_post one-byte WRs in one post, written and read back
 *     one byte each at odd device addresses.
 *  4. The edges: the last byte of device memory and a WR ending exactly at
 *     its end; a WR with no pieces completes with byte_len 0.
 * Every CQE has its WR's wr_id, opcode and byte length, in post order, and
 * the device counters bytes_to_device, bytes_to_host and wrs_completed grow
 * by exactly what was moved (wr_errors not at all).
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d;
static struct t_rng rng;
static uint64_t moved_to_dev, moved_to_host, wrs_done;
static unsigned int batch_max;

/* Post n WRs at once, collect their CQEs, require success and byte counts. */
static void run_batch(struct fpgadma_wr *wrs, unsigned int n)
{
	struct fpgadma_cqe *cqes = calloc(n, sizeof(*cqes));
	unsigned int i, j;

	CHECK(cqes != NULL);
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
	free(cqes);
}

static void whole_memory(struct fpgadma_mr *mr, uint8_t *buf, size_t chunk)
{
	uint64_t size = d.attr.dev_mem_size, off;
	struct fpgadma_wr *wrs = calloc(batch_max, sizeof(*wrs));
	struct fpgadma_sge *sg = calloc(batch_max, sizeof(*sg));
	unsigned int pass;
	char b1[32];

	CHECK(wrs && sg);
	for (pass = 0; pass < 2; pass++) {
		uint32_t opcode = pass ? FPGADMA_WR_READ_MEM : FPGADMA_WR_WRITE_MEM;
		/* Writes in batch_max WRs per chunk, reads in fewer, longer ones. */
		unsigned int per_chunk = pass ? T_MAX(batch_max / 3, 1) : batch_max;

		for (off = 0; off < size; off += chunk) {
			size_t n = T_MIN(chunk, size - off), wr_len, done = 0;
			unsigned int k = 0;

			if (pass)
				memset(buf, 0, n);
			else
				t_fill(buf, n, 7, off);
			wr_len = T_MAX(T_DIV_ROUND_UP(n, per_chunk), 1);
			while (done < n) {
				size_t l = T_MIN(wr_len, n - done);

				CHECK_LT(k, batch_max);
				sg[k] = t_sge(mr, buf + done, (uint32_t)l);
				memset(&wrs[k], 0, sizeof(wrs[k]));
				wrs[k].wr_id = d.next_wr_id++;
				wrs[k].opcode = opcode;
				wrs[k].dev_addr = off + done;
				wrs[k].sg_list = (uintptr_t)&sg[k];
				wrs[k].num_sge = 1;
				done += l;
				k++;
			}
			run_batch(wrs, k);
			if (pass)
				CHECK_MSG(!t_verify(buf, n, 7, off, "device memory read back"),
					  "device memory at %llu..%llu", (unsigned long long)off,
					  (unsigned long long)(off + n));
		}
	}
	t_log("whole device memory (%s): written in batches of %u WRs, read back in %u, every byte ok",
	      t_size_str(size, b1), batch_max, T_MAX(batch_max / 3, 1));
	free(wrs);
	free(sg);
}

/* Cut [0, len) into n pieces of random, non-zero lengths. */
static void random_cuts(size_t len, unsigned int n, uint32_t *lens)
{
	size_t left = len;
	unsigned int i;

	for (i = 0; i < n - 1; i++) {
		size_t room = left - (n - 1 - i);	/* keep >= 1 for the rest */
		size_t l = 1 + t_rand_below(&rng, T_MIN(room, 2 * len / n + 1));

		l = T_MIN(l, room);
		lens[i] = (uint32_t)l;
		left -= l;
	}
	lens[n - 1] = (uint32_t)left;
}

/*
 * Scatter list of n pieces over buf: piece k (in sge order) is at a random
 * gap after the previous one in memory, but the sge order is shuffled.
 * Returns the pieces' total length; pos[] gets each piece's offset in buf.
 */
static size_t scatter(const struct fpgadma_mr *mr, uint8_t *buf, size_t buf_len, size_t len,
		      unsigned int n, struct fpgadma_sge *sg, size_t *pos)
{
	uint32_t *lens = calloc(n, sizeof(*lens));
	unsigned int *order = calloc(n, sizeof(*order)), i;
	size_t at = 1 + t_rand_below(&rng, 16), *mem_pos = calloc(n, sizeof(*mem_pos));

	CHECK(lens && order && mem_pos);
	random_cuts(len, n, lens);
	t_shuffle(&rng, order, n);
	/* Lay the pieces out in memory in shuffled order, with odd gaps. */
	for (i = 0; i < n; i++) {
		mem_pos[order[i]] = at;
		at += lens[order[i]] + 1 + t_rand_below(&rng, 8) * 2;
	}
	CHECK_LE(at, buf_len);
	for (i = 0; i < n; i++) {
		sg[i] = t_sge(mr, buf + mem_pos[i], lens[i]);
		pos[i] = mem_pos[i];
	}
	free(lens);
	free(order);
	free(mem_pos);
	return len;
}

static void scatter_gather(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
			   uint8_t *dst, size_t buf_len)
{
	unsigned int max_sge = d.attr.max_sge, round, i;
	struct fpgadma_sge *ws = calloc(max_sge, sizeof(*ws)), *rs = calloc(max_sge, sizeof(*rs));
	size_t *wpos = calloc(max_sge, sizeof(*wpos)), *rpos = calloc(max_sge, sizeof(*rpos));
	uint8_t *expect = malloc(buf_len), *got = malloc(buf_len);
	unsigned int rounds = 24;

	CHECK(ws && rs && wpos && rpos && expect && got);
	for (round = 0; round < rounds; round++) {
		size_t len = max_sge + t_rand_below(&rng, T_MIN(buf_len / 4, 64 * T_KiB));
		uint64_t dev_addr = (t_rand_below(&rng, d.attr.dev_mem_size - len) | 1);
		unsigned int nw = round % 2 ? max_sge : 1 + (unsigned int)t_rand_below(&rng, max_sge);
		unsigned int nr = 1 + (unsigned int)t_rand_below(&rng, max_sge);
		struct fpgadma_wr wr;
		size_t at;

		if (dev_addr + len > d.attr.dev_mem_size)
			dev_addr -= 2;
		CHECK_LE(dev_addr + len, d.attr.dev_mem_size);
		t_fill(src, buf_len, 100 + round, 0);
		memset(dst, 0xEE, buf_len);
		scatter(src_mr, src, buf_len, len, nw, ws, wpos);
		scatter(dst_mr, dst, buf_len, len, nr, rs, rpos);
		/* What the device gets: the pieces in sge order. */
		for (i = 0, at = 0; i < nw; i++) {
			memcpy(expect + at, src + wpos[i], ws[i].length);
			at += ws[i].length;
		}
		CHECK_EQ(at, len);

		memset(&wr, 0, sizeof(wr));
		wr.wr_id = d.next_wr_id++;
		wr.opcode = FPGADMA_WR_WRITE_MEM;
		wr.dev_addr = dev_addr;
		wr.sg_list = (uintptr_t)ws;
		wr.num_sge = nw;
		run_batch(&wr, 1);
		wr.wr_id = d.next_wr_id++;
		wr.opcode = FPGADMA_WR_READ_MEM;
		wr.sg_list = (uintptr_t)rs;
		wr.num_sge = nr;
		run_batch(&wr, 1);

		for (i = 0, at = 0; i < nr; i++) {
			memcpy(got + at, dst + rpos[i], rs[i].length);
			memset(dst + rpos[i], 0xEE, rs[i].length);
			at += rs[i].length;
		}
		if (memcmp(got, expect, len))
			t_fail("scatter/gather round %u: %u pieces written at device 0x%llx, %u read: "
			       "data differ", round, nw, (unsigned long long)dev_addr, nr);
		CHECK_MSG(!t_verify_byte(dst, buf_len, 0xEE, "bytes around the read pieces"),
			  "round %u: a READ_MEM wrote outside its pieces", round);
	}
	t_log("scatter/gather: %u rounds of up to %u pieces (odd addresses and lengths, shuffled) "
	      "to odd device addresses and back; nothing written outside the pieces", rounds, max_sge);
	free(ws);
	free(rs);
	free(wpos);
	free(rpos);
	free(expect);
	free(got);
}

static void byte_by_byte(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
			 uint8_t *dst)
{
	unsigned int n = batch_max, i;
	struct fpgadma_wr *wrs = calloc(n, sizeof(*wrs));
	struct fpgadma_sge *sg = calloc(n, sizeof(*sg));
	uint64_t base = T_MIN(d.attr.dev_mem_size - n - 1, 12345) | 1;
	uint8_t *one = malloc(n);

	CHECK(wrs && sg && one);
	CHECK_LE(base + n, d.attr.dev_mem_size);
	t_fill(src, 2 * n + 2, 77, 0);
	memset(dst, 0, 2 * n + 2);
	/* Byte i comes from the odd address src + 2i + 1. */
	for (i = 0; i < n; i++) {
		sg[i] = t_sge(src_mr, src + 2 * i + 1, 1);
		wrs[i] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++, .opcode = FPGADMA_WR_WRITE_MEM,
			.dev_addr = base + i, .sg_list = (uintptr_t)&sg[i], .num_sge = 1 };
	}
	run_batch(wrs, n);
	/* Read back one byte each, into reversed positions. */
	for (i = 0; i < n; i++) {
		sg[i] = t_sge(dst_mr, dst + (n - 1 - i), 1);
		wrs[i] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++, .opcode = FPGADMA_WR_READ_MEM,
			.dev_addr = base + i, .sg_list = (uintptr_t)&sg[i], .num_sge = 1 };
	}
	run_batch(wrs, n);
	for (i = 0; i < n; i++) {
		if (dst[n - 1 - i] != src[2 * i + 1])
			t_fail("byte %u at device 0x%llx: 0x%02x, expected 0x%02x", i,
			       (unsigned long long)(base + i), dst[n - 1 - i], src[2 * i + 1]);
		one[i] = src[2 * i + 1];
	}
	CHECK_EQ(dst[n], 0);
	/* And all of them in one WR. */
	sg[0] = t_sge(dst_mr, dst + 1, n);
	wrs[0] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++, .opcode = FPGADMA_WR_READ_MEM,
		.dev_addr = base, .sg_list = (uintptr_t)sg, .num_sge = 1 };
	run_batch(wrs, 1);
	CHECK(!memcmp(dst + 1, one, n));
	t_log("byte by byte: %u one-byte WRs in one post each way at device 0x%llx, all bytes ok",
	      n, (unsigned long long)base);
	free(wrs);
	free(sg);
	free(one);
}

static void edges(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
		  uint8_t *dst)
{
	uint64_t size = d.attr.dev_mem_size;
	size_t tail = T_MIN(size, 4099);
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	struct fpgadma_wr wr;

	t_fill(src, tail, 88, 0);
	memset(dst, 0, tail);
	sg = t_sge(src_mr, src, 1);
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, size - 1, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, 1);
	sg = t_sge(dst_mr, dst, 1);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, size - 1, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 1);
	CHECK_EQ(dst[0], src[0]);
	sg = t_sge(src_mr, src, (uint32_t)tail);
	c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, size - tail, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, tail);
	memset(dst, 0, tail);
	sg = t_sge(dst_mr, dst, (uint32_t)tail);
	c = t_run_wr(&d, FPGADMA_WR_READ_MEM, size - tail, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, tail);
	CHECK(!t_verify(dst, tail, 88, 0, "last bytes of device memory"));
	moved_to_dev += 1 + tail;
	moved_to_host += 1 + tail;
	wrs_done += 4;

	/* No pieces: nothing to move, a successful CQE of 0 bytes. */
	memset(&wr, 0, sizeof(wr));
	wr.wr_id = d.next_wr_id++;
	wr.opcode = FPGADMA_WR_READ_MEM;
	run_batch(&wr, 1);
	wr.wr_id = d.next_wr_id++;
	wr.opcode = FPGADMA_WR_WRITE_MEM;
	run_batch(&wr, 1);
	t_log("edges: last byte of device memory, %zu bytes ending at its end, WRs without pieces", tail);
}

int main(int argc, char **argv)
{
	long long dev0, host0, wrs0, err0;
	uint64_t seed = t_seed(argc, argv);
	struct fpgadma_mr *src_mr, *dst_mr;
	size_t chunk, buf_len;
	uint8_t *src, *dst;

	t_init(argc, argv, 55);
	t_rng_seed(&rng, seed);
	t_log("seed %llu", (unsigned long long)seed);
	t_open(&d);
	if (d.attr.dev_mem_size < 256 * T_KiB)
		t_skip("device memory of %llu bytes: this test needs 256 KiB",
		       (unsigned long long)d.attr.dev_mem_size);
	batch_max = T_MIN(d.attr.max_post, d.attr.cq_entries);
	chunk = t_big_size(&d, 16 * T_MiB) / 2;
	chunk = T_MIN(chunk, d.attr.dev_mem_size);
	chunk = T_MAX(chunk, 256 * T_KiB);
	buf_len = chunk;
	src = t_map(buf_len);
	dst = t_map(buf_len);
	src_mr = t_reg(&d, src, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);
	dst_mr = t_reg(&d, dst, buf_len, FPGADMA_ACCESS_LOCAL_WRITE);

	dev0 = t_dev_counter("bytes_to_device");
	host0 = t_dev_counter("bytes_to_host");
	wrs0 = t_dev_counter("wrs_completed");
	err0 = t_dev_counter("wr_errors");

	whole_memory(src_mr, src, chunk);
	scatter_gather(src_mr, src, dst_mr, dst, buf_len);
	byte_by_byte(src_mr, src, dst_mr, dst);
	edges(src_mr, src, dst_mr, dst);

	CHECK_EQ(t_dev_counter("bytes_to_device") - dev0, moved_to_dev);
	CHECK_EQ(t_dev_counter("bytes_to_host") - host0, moved_to_host);
	CHECK_EQ(t_dev_counter("wrs_completed") - wrs0, wrs_done);
	CHECK_EQ(t_dev_counter("wr_errors") - err0, 0);
	t_log("counters: bytes_to_device +%llu, bytes_to_host +%llu, wrs_completed +%llu, "
	      "wr_errors +0: exact", (unsigned long long)moved_to_dev,
	      (unsigned long long)moved_to_host, (unsigned long long)wrs_done);

	t_dereg(src_mr);
	t_dereg(dst_mr);
	t_unmap(src, buf_len);
	t_unmap(dst, buf_len);
	t_close(&d);
	t_pass();
}
