// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edu_wr_errors: WRs that fail on the edu device move nothing.
 *
 * Well-formed WRs with an unknown lkey, another context's lkey, a
 * deregistered lkey, a piece outside its MR, a READ_MEM into an MR without
 * LOCAL_WRITE, a device range past the 4095 bytes of device memory, and a
 * READ_STREAM (the device has no stream), each also with good pieces in the
 * same WR, complete with LOC_PROT_ERR, LOC_LEN_ERR, LOC_ACCESS_ERR or
 * REM_ACCESS_ERR and byte_len 0.  Nothing moves: the host buffers keep their
 * bytes, device memory keeps its bytes (read back through the device), no
 * transfer is started (the engine's log), bytes_to_host and bytes_to_device
 * stay and wr_errors counts each.  Posted in one batch between good WRs,
 * the good ones work and every CQE comes in post order.
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d, e;

struct bad {
	const char *what;
	uint32_t opcode;
	uint64_t dev_addr;
	struct fpgadma_sge sg[2];
	unsigned int n;
	uint32_t status;
};

int main(int argc, char **argv)
{
	size_t page, len;
	uint8_t *rw, *ro, *other, *dead, *keep;
	struct fpgadma_mr *mr_rw, *mr_ro, *mr_other, *mr_dead, *mr_keep;
	struct bad bad[16];
	struct fpgadma_wr wrs[40];
	struct fpgadma_cqe cqes[40];
	struct fpgadma_sge good_sg;
	unsigned int nbad = 0, n = 0, i;
	uint64_t mem, x0;
	struct t_xfer_log log;
	long long host0, dev0, err0;
	uint32_t dead_lkey;

	t_init(argc, argv, 55);
	page = t_page_size();
	t_open_edu(&d);
	t_open_index(&e, d.attr.dev_index);
	mem = d.attr.dev_mem_size;
	len = 2 * page;
	rw = t_map(len);
	ro = t_map(len);
	other = t_map(len);
	dead = t_map(len);
	keep = t_map(len);
	memset(rw, 0xA1, len);
	memset(ro, 0xB2, len);
	memset(other, 0xC3, len);
	memset(dead, 0xD4, len);
	mr_rw = t_reg(&d, rw, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mr_ro = t_reg(&d, ro, len, FPGADMA_ACCESS_REMOTE_READ);
	mr_other = t_reg(&e, other, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mr_dead = t_reg(&d, dead, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mr_keep = t_reg(&d, keep, len, FPGADMA_ACCESS_LOCAL_WRITE);
	dead_lkey = mr_dead->lkey;
	t_dereg(mr_dead);

	/* Device memory: a known pattern to check nothing overwrote it. */
	t_fill(keep, mem, 9, 0);
	t_dev_write(&d, mr_keep, keep, mem, 0);

#define BAD(w, op, dev, st, ...) do {						\
	struct fpgadma_sge _s[] = { __VA_ARGS__ };				\
	bad[nbad] = (struct bad){ .what = (w), .opcode = (op), .dev_addr = (dev), \
				  .n = T_ARRAY_SIZE(_s), .status = (st) };	\
	memcpy(bad[nbad].sg, _s, sizeof(_s));					\
	nbad++;									\
} while (0)
	/* a good piece first where there are two: it must not move either */
	BAD("unknown lkey", FPGADMA_WR_READ_MEM, 0, FPGADMA_WC_LOC_PROT_ERR,
	    t_sge(mr_rw, rw, 100), { (uintptr_t)rw, 100, mr_rw->lkey ^ 0x5a5a5a5a });
	BAD("another context's lkey", FPGADMA_WR_READ_MEM, 0, FPGADMA_WC_LOC_PROT_ERR,
	    t_sge(mr_rw, rw, 100), { (uintptr_t)other, 100, mr_other->lkey });
	BAD("a deregistered lkey", FPGADMA_WR_WRITE_MEM, 0, FPGADMA_WC_LOC_PROT_ERR,
	    { (uintptr_t)dead, 100, dead_lkey });
	BAD("piece past the MR's end", FPGADMA_WR_READ_MEM, 0, FPGADMA_WC_LOC_LEN_ERR,
	    t_sge(mr_rw, rw, 100), t_sge(mr_rw, rw + len - 50, 51));
	BAD("piece before the MR's start", FPGADMA_WR_WRITE_MEM, 0, FPGADMA_WC_LOC_LEN_ERR,
	    t_sge(mr_ro, ro - 1, 10));
	BAD("READ_MEM into an MR without LOCAL_WRITE", FPGADMA_WR_READ_MEM, 0,
	    FPGADMA_WC_LOC_ACCESS_ERR, t_sge(mr_rw, rw, 100), t_sge(mr_ro, ro, 100));
	BAD("READ_MEM one byte past device memory", FPGADMA_WR_READ_MEM, mem - 99,
	    FPGADMA_WC_REM_ACCESS_ERR, t_sge(mr_rw, rw, 100));
	BAD("WRITE_MEM one byte past device memory", FPGADMA_WR_WRITE_MEM, mem - 99,
	    FPGADMA_WC_REM_ACCESS_ERR, t_sge(mr_ro, ro, 50), t_sge(mr_ro, ro + 60, 50));
	BAD("WRITE_MEM at the end of device memory", FPGADMA_WR_WRITE_MEM, mem,
	    FPGADMA_WC_REM_ACCESS_ERR, t_sge(mr_ro, ro, 1));
	BAD("WRITE_MEM of a page", FPGADMA_WR_WRITE_MEM, 0, FPGADMA_WC_REM_ACCESS_ERR,
	    t_sge(mr_ro, ro, (uint32_t)page));
	BAD("READ_MEM far away", FPGADMA_WR_READ_MEM, 1ULL << 40, FPGADMA_WC_REM_ACCESS_ERR,
	    t_sge(mr_rw, rw, 1));
	BAD("READ_STREAM (no stream on the edu device)", FPGADMA_WR_READ_STREAM, 0,
	    FPGADMA_WC_REM_ACCESS_ERR, t_sge(mr_rw, rw, 64));
	BAD("READ_STREAM of 2 pieces", FPGADMA_WR_READ_STREAM, 0, FPGADMA_WC_REM_ACCESS_ERR,
	    t_sge(mr_rw, rw, 8), t_sge(mr_rw, rw + page, 8));
#undef BAD

	/* One by one: nothing moves, no transfer starts. */
	host0 = t_dev_counter("bytes_to_host");
	dev0 = t_dev_counter("bytes_to_device");
	err0 = t_dev_counter("wr_errors");
	t_xfer_log(&d, &log);
	x0 = log.total;
	for (i = 0; i < nbad; i++) {
		struct fpgadma_cqe c = t_run_wr(&d, bad[i].opcode, bad[i].dev_addr, bad[i].sg,
						bad[i].n);

		CHECK_CQE(&c, c.wr_id, bad[i].opcode, bad[i].status, 0);
		t_log("%-44s %s, byte_len 0", bad[i].what, fpgadma_wc_status_str(c.status));
	}
	t_xfer_log(&d, &log);
	CHECK_EQ(log.total, x0);
	CHECK_EQ(t_dev_counter("bytes_to_host"), host0);
	CHECK_EQ(t_dev_counter("bytes_to_device"), dev0);
	CHECK_EQ(t_dev_counter("wr_errors") - err0, nbad);
	CHECK(!t_verify_byte(rw, len, 0xA1, "LOCAL_WRITE buffer after failed WRs"));
	CHECK(!t_verify_byte(ro, len, 0xB2, "read-only buffer after failed WRs"));
	CHECK(!t_verify_byte(other, len, 0xC3, "other context's buffer"));
	CHECK(!t_verify_byte(dead, len, 0xD4, "deregistered buffer"));
	t_log("%u failing WRs: no transfer started, host buffers untouched, byte counters "
	      "unchanged, wr_errors +%u", nbad, nbad);

	/* In one batch between good WRs: the good ones work, CQEs in order. */
	good_sg = t_sge(mr_keep, keep + page, 64);
	for (i = 0; i < nbad; i++) {
		wrs[n++] = (struct fpgadma_wr){ .wr_id = 1000 + i, .opcode = FPGADMA_WR_READ_MEM,
			.dev_addr = i, .sg_list = (uintptr_t)&good_sg, .num_sge = 1 };
		wrs[n++] = (struct fpgadma_wr){ .wr_id = 2000 + i, .opcode = bad[i].opcode,
			.dev_addr = bad[i].dev_addr, .sg_list = (uintptr_t)bad[i].sg,
			.num_sge = bad[i].n };
	}
	CHECK_LE(n, d.attr.max_post);
	CHECK_OK(fpgadma_post(d.ctx, wrs, n));
	t_get_cqes(d.ctx, cqes, (int)n);
	for (i = 0; i < n; i += 2) {
		CHECK_CQE(&cqes[i], 1000 + i / 2, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 64);
		CHECK_CQE(&cqes[i + 1], 2000 + i / 2, bad[i / 2].opcode, bad[i / 2].status, 0);
	}
	CHECK(!t_verify(keep + page, 64, 9, nbad - 1, "the last good READ_MEM of the batch"));
	CHECK_EQ(t_dev_counter("bytes_to_host") - host0, 64 * nbad);
	CHECK_EQ(t_dev_counter("bytes_to_device"), dev0);
	CHECK(!t_verify_byte(rw, len, 0xA1, "LOCAL_WRITE buffer after the batch"));

	/* Device memory kept its bytes through all of it. */
	memset(keep, 0, mem);
	t_dev_read(&d, mr_keep, keep, mem, 0);
	CHECK(!t_verify(keep, mem, 9, 0, "device memory after the failed WRs"));
	t_log("batch of %u: good and failing WRs alternating, CQEs in post order, the good ones "
	      "moved their bytes; device memory unchanged", n);

	t_dereg(mr_rw);
	t_dereg(mr_ro);
	t_dereg(mr_keep);
	t_dereg(mr_other);
	t_close(&e);
	t_close(&d);
	t_pass();
}
