// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * data_mem: data through device memory, byte-exact, on any engine.
 *  1. The whole device memory: written with a pattern keyed by device
 *     address in batches of WRs, read back with a different split (a third
 *     as many WRs), every byte checked.
 *  2. Scatter/gather: WRs of up to max_sge pieces of odd lengths at odd host
 *     addresses across page boundaries, laid out in shuffled order; the
 *     first round writes device memory from address 0 (all of it when it
 *     is at most 64 KiB), the others odd device addresses; read back with
 *     another random split; the bytes around the destination pieces must be
 *     untouched.
 *  3. Byte by byte: one-byte WRs in one post from odd host addresses to
 *     consecutive device addresses from an odd one, read back one byte
 *     each into reversed places, then all of them in one WR.
 *  4. The edges: the last byte of device memory and a WR ending exactly at
 *     its end work; a WR starting at the end, one ending one byte past it,
 *     a page ending one byte past it and a page starting at the end
 *     complete with REM_ACCESS_ERR and move nothing (host bytes, device
 *     bytes, byte counters, transfer log); WRs without pieces, also at the
 *     end, complete with byte_len 0.  The time of a one-byte WR from post
 *     to CQE is printed (on the edu device one transfer: 100 ms of guest
 *     time by the device's timer).
 * Every CQE has its WR's wr_id, opcode and byte length, in post order, and
 * the device counters bytes_to_device, bytes_to_host and wrs_completed grow
 * by exactly what was moved, wr_errors by the refused WRs alone.
 *
 * On an engine that keeps a transfer log (edu; t_has_xfer_log()) the
 * transfers of every batch are checked against its WRs: none empty, none
 * longer than the device moves at once (T_XFER_MAX) or outside device
 * memory, each in its WR's direction at the WR's next device offset, the
 * transfers of each WR adding up to its length, none left over, no lost
 * interrupt.  On an engine without one (soft) a line says these checks are
 * left out.
 *
 * The amount of work follows the device's limits from QUERY: batches of at
 * most max_post (and cq_entries) WRs, WRs of at most max_sge pieces, and a
 * budget of one WR or piece per 128 bytes of device memory (at least 16):
 * a whole-memory write batch takes half of it, a read batch a third of
 * that, a scatter/gather WR half of it in pieces (and the rounds, 24 at
 * most, shrink so that they take about the budget), a byte-by-byte batch
 * all of it.  The soft device's 64 MiB leave max_post and max_sge as the
 * bounds; the edu device's 4095 bytes give 31, which keeps it to about 120
 * of its transfers of 100 ms.
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d;
static struct t_rng rng;
static uint64_t mem;			/* device memory bytes */
static unsigned int batch_max;		/* WRs in one post */
static unsigned int budget;		/* WRs or pieces a part's batch may use */
static uint64_t moved_to_dev, moved_to_host, wrs_done, wrs_refused;
static uint64_t last_wait_us;		/* post to last CQE of the last batch */

/* The transfer log, where the engine keeps one. */
static bool xlog;
static uint64_t lost0, xfers_checked, xfer_wrs_checked;
static unsigned int batches_unchecked;

static uint64_t xlog_total(void)
{
	struct t_xfer_log log;

	if (!xlog)
		return 0;
	t_xfer_log(&d, &log);
	return log.total;
}

/*
 * The transfers since the log counted total0 are those of wrs[0..n), lens[i]
 * bytes each (0 for a WR without pieces or a refused one): in post order,
 * each WR's at its own next device offset and in its direction.
 */
static void check_xfers(uint64_t total0, const struct fpgadma_wr *wrs, const uint64_t *lens,
			unsigned int n)
{
	struct t_xfer_log log;
	unsigned int i, k;
	uint64_t nx;

	t_xfer_log(&d, &log);
	CHECK_MSG(log.lost_irqs == lost0, "%llu transfers finished without their interrupt",
		  (unsigned long long)(log.lost_irqs - lost0));
	nx = log.total - total0;
	if (nx > log.n) {
		t_log("transfer log: a batch of %u WRs took %llu transfers, more than the log keeps "
		      "(%u): not checked one by one", n, (unsigned long long)nx, log.n);
		batches_unchecked++;
		return;
	}
	k = log.n - (unsigned int)nx;
	for (i = 0; i < n; i++) {
		bool to_host = wrs[i].opcode == FPGADMA_WR_READ_MEM;
		uint64_t sum = 0;

		while (sum < lens[i]) {
			const struct t_xfer *x;

			if (k == log.n)
				t_fail("WR %llu (%llu bytes at device %llu): its transfers moved only "
				       "%llu bytes", (unsigned long long)wrs[i].wr_id,
				       (unsigned long long)lens[i],
				       (unsigned long long)wrs[i].dev_addr, (unsigned long long)sum);
			x = &log.x[k++];
			if (x->len < 1 || x->len > T_XFER_MAX || x->dev_off + (uint64_t)x->len > mem ||
			    x->dev_off != wrs[i].dev_addr + sum || x->to_host != to_host ||
			    sum + x->len > lens[i])
				t_fail("WR %llu (%s, %llu bytes at device %llu, %llu moved so far): "
				       "transfer %llu is %s, %u bytes at device offset %u",
				       (unsigned long long)wrs[i].wr_id,
				       to_host ? "READ_MEM" : "WRITE_MEM",
				       (unsigned long long)lens[i],
				       (unsigned long long)wrs[i].dev_addr, (unsigned long long)sum,
				       (unsigned long long)x->seq, x->to_host ? "to_host" : "to_device",
				       x->len, x->dev_off);
			sum += x->len;
		}
		xfer_wrs_checked++;
	}
	CHECK_MSG(k == log.n, "%u transfers beyond those of the batch's %u WRs", log.n - k, n);
	xfers_checked += nx;
}

/* Post n WRs at once, collect their CQEs, require success and byte counts. */
static void run_batch(const struct fpgadma_wr *wrs, unsigned int n)
{
	struct fpgadma_cqe *cqes = calloc(n, sizeof(*cqes));
	uint64_t *lens = calloc(n, sizeof(*lens));
	uint64_t total0 = xlog_total(), t0;
	unsigned int i, j;

	CHECK(cqes && lens);
	for (i = 0; i < n; i++) {
		const struct fpgadma_sge *sg = (const struct fpgadma_sge *)(uintptr_t)wrs[i].sg_list;

		for (j = 0; j < wrs[i].num_sge; j++)
			lens[i] += sg[j].length;
	}
	t0 = t_now_us();
	CHECK_OK(fpgadma_post(d.ctx, wrs, n));
	t_get_cqes(d.ctx, cqes, (int)n);
	last_wait_us = t_now_us() - t0;
	for (i = 0; i < n; i++) {
		CHECK_CQE(&cqes[i], wrs[i].wr_id, wrs[i].opcode, FPGADMA_WC_SUCCESS, lens[i]);
		if (wrs[i].opcode == FPGADMA_WR_WRITE_MEM)
			moved_to_dev += lens[i];
		else
			moved_to_host += lens[i];
	}
	wrs_done += n;
	if (xlog)
		check_xfers(total0, wrs, lens, n);
	free(cqes);
	free(lens);
}

/* One WR through run_batch. */
static void run_one(uint32_t opcode, uint64_t dev_addr, const struct fpgadma_sge *sg,
		    unsigned int n)
{
	struct fpgadma_wr wr = { .wr_id = d.next_wr_id++, .opcode = opcode, .dev_addr = dev_addr,
				 .sg_list = (uintptr_t)sg, .num_sge = n };

	run_batch(&wr, 1);
}

static void whole_memory(struct fpgadma_mr *mr, uint8_t *buf, size_t chunk)
{
	/* Writes in up to half the budget of WRs per chunk, reads in a third as many. */
	unsigned int wr_max = T_MIN(batch_max, T_MAX(budget / 2, 1));
	unsigned int rd_max = T_MAX(wr_max / 3, 1);
	struct fpgadma_wr *wrs = calloc(wr_max, sizeof(*wrs));
	struct fpgadma_sge *sg = calloc(wr_max, sizeof(*sg));
	uint64_t off;
	unsigned int pass;
	char b1[32];

	CHECK(wrs && sg);
	for (pass = 0; pass < 2; pass++) {
		uint32_t opcode = pass ? FPGADMA_WR_READ_MEM : FPGADMA_WR_WRITE_MEM;
		unsigned int per_chunk = pass ? rd_max : wr_max;

		for (off = 0; off < mem; off += chunk) {
			size_t n = T_MIN(chunk, mem - off), wr_len, done = 0;
			unsigned int k = 0;

			if (pass)
				memset(buf, 0, n);
			else
				t_fill(buf, n, 7, off);
			wr_len = T_MAX(T_DIV_ROUND_UP(n, per_chunk), 1);
			while (done < n) {
				size_t l = T_MIN(wr_len, n - done);

				CHECK_LT(k, wr_max);
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
	t_log("whole device memory (%llu bytes, %s): written in batches of %u WRs, read back in %u, "
	      "every byte ok", (unsigned long long)mem, t_size_str(mem, b1), wr_max, rd_max);
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
 * Scatter list of n pieces over buf: laid out in memory in shuffled order
 * from just before the first page boundary, with odd gaps of up to 1400
 * bytes, so that pieces cross page boundaries.  pos[] gets each piece's
 * offset in buf.
 */
static void scatter(const struct fpgadma_mr *mr, uint8_t *buf, size_t buf_len, size_t len,
		    unsigned int n, struct fpgadma_sge *sg, size_t *pos)
{
	uint32_t *lens = calloc(n, sizeof(*lens));
	unsigned int *order = calloc(n, sizeof(*order)), i;
	size_t at = t_page_size() - 3 - 2 * t_rand_below(&rng, 4), gap_max;

	CHECK(lens && order);
	CHECK_GE(buf_len, len + at + 2 * (size_t)n + 2);
	gap_max = T_MIN(700, (buf_len - len - at) / (2 * (size_t)n + 2));
	random_cuts(len, n, lens);
	t_shuffle(&rng, order, n);
	for (i = 0; i < n; i++) {
		pos[order[i]] = at;
		at += lens[order[i]] + 1 + 2 * t_rand_below(&rng, gap_max);
	}
	CHECK_LE(at, buf_len);
	for (i = 0; i < n; i++)
		sg[i] = t_sge(mr, buf + pos[i], lens[i]);
	free(lens);
	free(order);
}

static void scatter_gather(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
			   uint8_t *dst, size_t buf_len)
{
	unsigned int maxp = T_MIN(d.attr.max_sge, T_MAX(budget / 2, 1)), round, i;
	unsigned int rounds = T_MIN(24, T_MAX(budget / (2 * maxp), 1));
	size_t len_max = T_MIN(buf_len / 4, 64 * T_KiB);
	struct fpgadma_sge *ws = calloc(maxp, sizeof(*ws)), *rs = calloc(maxp, sizeof(*rs));
	size_t *wpos = calloc(maxp, sizeof(*wpos)), *rpos = calloc(maxp, sizeof(*rpos));
	uint8_t *expect = malloc(buf_len), *got = malloc(buf_len);
	size_t first_len = 0;

	CHECK(ws && rs && wpos && rpos && expect && got);
	for (round = 0; round < rounds; round++) {
		unsigned int nw = round % 2 ? 1 + (unsigned int)t_rand_below(&rng, maxp) : maxp;
		unsigned int nr = 1 + (unsigned int)t_rand_below(&rng, maxp);
		uint64_t dev_addr = 0;
		size_t len, at;

		if (round == 0) {
			/* From device address 0: all of device memory if it fits. */
			len = first_len = T_MIN(mem, len_max);
		} else {
			size_t room = T_MIN(len_max, mem - 2 - maxp);

			len = maxp + t_rand_below(&rng, room);
			dev_addr = t_rand_below(&rng, mem - len) | 1;
			if (dev_addr + len > mem)
				dev_addr -= 2;
		}
		CHECK_LE(dev_addr + len, mem);
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

		run_one(FPGADMA_WR_WRITE_MEM, dev_addr, ws, nw);
		run_one(FPGADMA_WR_READ_MEM, dev_addr, rs, nr);

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
	t_log("scatter/gather: rounds %u, each of up to %u pieces (odd addresses and lengths, across page "
	      "boundaries, shuffled), the first %zu bytes from device address 0%s, the others at "
	      "odd device addresses; nothing written outside the pieces", rounds, maxp, first_len,
	      first_len == mem ? " (all of device memory)" : "");
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
	unsigned int n = T_MIN(batch_max, budget), i;
	struct fpgadma_wr *wrs = calloc(n, sizeof(*wrs));
	struct fpgadma_sge *sg = calloc(n, sizeof(*sg));
	uint64_t base = T_MIN(mem - n - 1, 12345) | 1;
	uint8_t *one = malloc(n);

	CHECK(wrs && sg && one);
	CHECK_LE(base + n, mem);
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
	run_one(FPGADMA_WR_READ_MEM, base, sg, 1);
	CHECK(!memcmp(dst + 1, one, n));
	t_log("byte by byte: %u one-byte WRs in one post each way at device 0x%llx, all bytes ok",
	      n, (unsigned long long)base);
	free(wrs);
	free(sg);
	free(one);
}

/* A WR the device must refuse: REM_ACCESS_ERR, byte_len 0. */
static void refused(uint32_t opcode, uint64_t dev_addr, const struct fpgadma_sge *sg,
		    const char *what)
{
	struct fpgadma_cqe c = t_run_wr(&d, opcode, dev_addr, sg, 1);

	CHECK_CQE(&c, c.wr_id, opcode, FPGADMA_WC_REM_ACCESS_ERR, 0);
	t_log("edges: %-58s REM_ACCESS_ERR", what);
	wrs_done++;
	wrs_refused++;
}

static void edges(struct fpgadma_mr *src_mr, uint8_t *src, struct fpgadma_mr *dst_mr,
		  uint8_t *dst)
{
	size_t tail = T_MIN(mem, 4099), page = t_page_size();
	/* A page-long WR that ends one byte past the end. */
	uint64_t page_past = mem + 1 > page ? mem + 1 - page : 0;
	long long to_dev0, to_host0, err0;
	uint64_t total0, refused0 = wrs_refused;
	struct fpgadma_sge sg;
	char what[96];

	/* The last byte, timed: one transfer on a device that has them. */
	t_fill(src, tail, 88, 0);
	memset(dst, 0, tail);
	sg = t_sge(src_mr, src, 1);
	run_one(FPGADMA_WR_WRITE_MEM, mem - 1, &sg, 1);
	t_log("edges: a one-byte WR took %.1f ms from post to CQE", (double)last_wait_us / 1000.0);
	sg = t_sge(dst_mr, dst, 1);
	run_one(FPGADMA_WR_READ_MEM, mem - 1, &sg, 1);
	CHECK_EQ(dst[0], src[0]);
	/* tail bytes ending exactly at the end */
	sg = t_sge(src_mr, src, (uint32_t)tail);
	run_one(FPGADMA_WR_WRITE_MEM, mem - tail, &sg, 1);
	memset(dst, 0, tail);
	sg = t_sge(dst_mr, dst, (uint32_t)tail);
	run_one(FPGADMA_WR_READ_MEM, mem - tail, &sg, 1);
	CHECK(!t_verify(dst, tail, 88, 0, "last bytes of device memory"));
	t_log("edges: the last byte and %zu bytes ending at the end of device memory (%llu): ok",
	      tail, (unsigned long long)mem);

	/* Past the end: refused, nothing moves either way. */
	to_dev0 = t_dev_counter("bytes_to_device");
	to_host0 = t_dev_counter("bytes_to_host");
	err0 = t_dev_counter("wr_errors");
	total0 = xlog_total();
	memset(dst, 0x33, page + 1);
	t_fill(src, page + 1, 89, 0);
	sg = t_sge(dst_mr, dst, 1);
	refused(FPGADMA_WR_READ_MEM, mem, &sg, "READ_MEM of 1 byte at the end");
	sg = t_sge(dst_mr, dst, 2);
	refused(FPGADMA_WR_READ_MEM, mem - 1, &sg, "READ_MEM of the last byte + 1");
	snprintf(what, sizeof(what), "READ_MEM of a page (%zu bytes) ending 1 byte past", page);
	sg = t_sge(dst_mr, dst, (uint32_t)page);
	refused(FPGADMA_WR_READ_MEM, page_past, &sg, what);
	snprintf(what, sizeof(what), "WRITE_MEM of a page (%zu bytes) ending 1 byte past", page);
	sg = t_sge(src_mr, src, (uint32_t)page);
	refused(FPGADMA_WR_WRITE_MEM, page_past, &sg, what);
	refused(FPGADMA_WR_WRITE_MEM, mem, &sg, "WRITE_MEM of a page at the end");
	CHECK(!t_verify_byte(dst, page + 1, 0x33, "host memory after refused READ_MEMs"));
	CHECK_EQ(t_dev_counter("bytes_to_device"), to_dev0);
	CHECK_EQ(t_dev_counter("bytes_to_host"), to_host0);
	CHECK_EQ(t_dev_counter("wr_errors") - err0, wrs_refused - refused0);
	if (xlog)
		CHECK_MSG(xlog_total() == total0, "refused WRs started %llu transfers",
			  (unsigned long long)(xlog_total() - total0));
	/* Device memory kept what the refused WRITE_MEMs would have overwritten. */
	memset(dst, 0, tail);
	sg = t_sge(dst_mr, dst, (uint32_t)tail);
	run_one(FPGADMA_WR_READ_MEM, mem - tail, &sg, 1);
	CHECK(!t_verify(dst, tail, 88, 0, "last bytes of device memory after refused WRITE_MEMs"));
	t_log("edges: %llu refused WRs moved nothing: host bytes, the last %zu device bytes, byte "
	      "counters%s unchanged; wr_errors +%llu", (unsigned long long)(wrs_refused - refused0),
	      tail, xlog ? ", transfer log" : "", (unsigned long long)(wrs_refused - refused0));

	/* No pieces: nothing to move, a successful CQE of 0 bytes, also at the end. */
	run_one(FPGADMA_WR_READ_MEM, 0, NULL, 0);
	run_one(FPGADMA_WR_WRITE_MEM, 17, NULL, 0);
	run_one(FPGADMA_WR_READ_MEM, mem, NULL, 0);
	t_log("edges: WRs without pieces (at 0, 17 and the end): success, 0 bytes");
}

int main(int argc, char **argv)
{
	long long dev0, host0, wrs0, err0;
	uint64_t seed = t_seed(argc, argv);
	struct fpgadma_mr *src_mr, *dst_mr;
	size_t chunk, buf_len;
	uint8_t *src, *dst;
	char b1[32];

	t_init(argc, argv, 55);
	t_rng_seed(&rng, seed);
	t_log("seed %llu", (unsigned long long)seed);
	t_open(&d);
	mem = d.attr.dev_mem_size;
	if (mem < 1024)
		t_skip("device memory of %llu bytes: this test needs 1 KiB", (unsigned long long)mem);
	batch_max = T_MIN(d.attr.max_post, d.attr.cq_entries);
	budget = (unsigned int)T_MIN(T_MAX(mem / 128, 16), 1U << 30);
	t_log("fpgadma%u (%s engine): %llu bytes (%s) of device memory, max_sge %u, max_post %u, "
	      "cq_entries %u: batches of up to %u WRs, a budget of %u WRs or pieces per batch",
	      d.attr.dev_index, t_engine_name(d.attr.engine), (unsigned long long)mem,
	      t_size_str(mem, b1), d.attr.max_sge, d.attr.max_post, d.attr.cq_entries, batch_max,
	      budget);
	xlog = t_has_xfer_log(&d);
	if (xlog) {
		struct t_xfer_log log;

		t_xfer_log(&d, &log);
		lost0 = log.lost_irqs;
		t_log("transfer log: %llu transfers since probe, %llu lost interrupts, iommu %s",
		      (unsigned long long)log.total, (unsigned long long)log.lost_irqs,
		      log.iommu ? "yes" : "no");
	} else {
		t_log("the %s engine keeps no transfer log: the per-transfer checks are left out",
		      t_engine_name(d.attr.engine));
	}
	chunk = t_big_size(&d, 16 * T_MiB) / 2;
	chunk = T_MIN(chunk, mem);
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
	CHECK_EQ(t_dev_counter("wr_errors") - err0, wrs_refused);
	t_log("counters: bytes_to_device +%llu, bytes_to_host +%llu, wrs_completed +%llu, "
	      "wr_errors +%llu: exact", (unsigned long long)moved_to_dev,
	      (unsigned long long)moved_to_host, (unsigned long long)wrs_done,
	      (unsigned long long)wrs_refused);
	if (xlog)
		t_log("transfer log: %llu transfers of %llu WRs checked one by one (%u batches too "
		      "long for the log): none empty, none over %d bytes or outside device memory, "
		      "each WR's in its direction and adding up to its length; no lost interrupt",
		      (unsigned long long)xfers_checked, (unsigned long long)xfer_wrs_checked,
		      batches_unchecked, T_XFER_MAX);

	t_dereg(src_mr);
	t_dereg(dst_mr);
	t_unmap(src, buf_len);
	t_unmap(dst, buf_len);
	t_close(&d);
	t_pass();
}
