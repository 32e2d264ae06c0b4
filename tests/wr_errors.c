// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wr_errors: WRs that fail, on any engine.
 *
 * Well-formed WRs with a wrong key (invented, another context's, a
 * deregistered one), a piece outside its MR, a missing right or a device
 * range out of bounds are posted and complete with LOC_PROT_ERR,
 * LOC_LEN_ERR, LOC_ACCESS_ERR or REM_ACCESS_ERR, byte_len 0, and move
 * nothing: neither the host pieces (also the good pieces of the same WR)
 * nor device memory change, bytes_to_host/bytes_to_device stay, and
 * wr_errors counts each.  On a device without a frame stream (frame_size
 * 0, the edu device) a READ_STREAM of good pieces completes with
 * REM_ACCESS_ERR the same way.  In a batch, good WRs around a bad one still
 * work; all the failing WRs again in one batch, each after a good READ_MEM:
 * the good ones move their bytes, every CQE in post order.
 *
 * Where the engine keeps a transfer log (edu; t_has_xfer_log()), no failing
 * WR starts a transfer: the device changes its memory only by transfers, so
 * device memory is then read back once at the end rather than after each
 * failing WR (each read costs the edu device 100 ms); without a log it is
 * read back after each.
 *
 * Malformed WRs (unknown opcode, non-zero flags or reserved fields, num_sge
 * above max_sge, READ_STREAM with a device address, a count of 0 or above
 * max_post) make the whole POST fail with EINVAL, checked on the ioctl
 * itself and through libfpgadma, and post nothing: the next good WR's CQE
 * is the next CQE.
 *
 * A batch that does not fit in the completion ring fails with EAGAIN and
 * posts nothing: cq_entries WRs fit, one more does not, not even once they
 * all completed; after polling k CQEs exactly k more fit.  Every CQE comes
 * out once, in order, and no overflow is reported.  These WRs have no
 * pieces (byte_len 0): the ring's accounting does not depend on what a WR
 * moves, and cq_entries WRs of a byte each would be cq_entries transfers of
 * 100 ms on the edu device.
 *
 * The device limits shape the rest: the error cases aim at the first 16 KiB
 * of device memory and its last 64 bytes, or all of it when it is smaller
 * (the edu device's 4095 bytes); cases needing more than max_sge pieces or
 * a device memory smaller than the test's 64 KiB buffer say in a line that
 * they are not run; the note on a failed READ_STREAM needs a frame stream.
 */
#include "helpers.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#define BUF	(64 * 1024)
#define DEV	(16 * 1024)	/* device bytes the error cases aim at, at most */

static struct t_dev d, e;
static uint8_t *rw, *ro, *wo, *dead, *check, *slots;
static struct fpgadma_mr *mr_rw, *mr_ro, *mr_wo, *mr_check, *mr_e, *mr_slots;
static uint32_t dead_lkey;
static unsigned int nerr;
static uint64_t dev_size;
/* Device memory [0, dev_lo) holds pattern 500; with dev_tail its last 64 bytes 501. */
static uint64_t dev_lo;
static bool dev_tail;
/* The engine's transfer log (t_has_xfer_log) */
static bool xlog;

/* Every failing WR run, for the batch of all of them. */
struct bad {
	const char *what;
	uint32_t opcode;
	uint64_t dev_addr;
	struct fpgadma_sge sg[3];
	unsigned int n;
	uint32_t status;
};
static struct bad bads[64];

static int raw_post(const struct fpgadma_wr *wrs, uint32_t count)
{
	struct fpgadma_post p = { .wrs = (uintptr_t)wrs, .count = count };

	return ioctl(fpgadma_get_fd(d.ctx), FPGADMA_IOC_POST, &p) ? -errno : 0;
}

/*
 * Device memory [0, DEV) and its last 64 bytes hold known patterns; a
 * device memory of at most DEV + 64 bytes holds one pattern throughout.
 */
static void set_device(void)
{
	dev_tail = dev_size > DEV + 64;
	dev_lo = dev_tail ? DEV : dev_size;
	t_fill(check, dev_lo, 500, 0);
	t_dev_write(&d, mr_check, check, dev_lo, 0);
	if (dev_tail) {
		t_fill(check, 64, 501, 0);
		t_dev_write(&d, mr_check, check, 64, dev_size - 64);
	}
}

static void device_unchanged(const char *what)
{
	memset(check, 0, dev_lo);
	t_dev_read(&d, mr_check, check, dev_lo, 0);
	CHECK_MSG(!t_verify(check, dev_lo, 500, 0, what), "%s changed device memory", what);
	if (!dev_tail)
		return;
	t_dev_read(&d, mr_check, check, 64, dev_size - 64);
	CHECK_MSG(!t_verify(check, 64, 501, 0, what), "%s changed the end of device memory", what);
}

static void host_unchanged(const char *what)
{
	CHECK_MSG(!t_verify_byte(rw, BUF, 0xCD, what), "%s wrote the LOCAL_WRITE MR", what);
	CHECK_MSG(!t_verify(ro, BUF, 600, 0, what), "%s wrote the read-only MR", what);
	CHECK_MSG(!t_verify(wo, BUF, 601, 0, what), "%s wrote the REMOTE_WRITE MR", what);
	CHECK_MSG(!t_verify_byte(dead, BUF, 0xD4, what), "%s wrote the deregistered MR's memory",
		  what);
}

static uint64_t xlog_total(void)
{
	struct t_xfer_log log;

	if (!xlog)
		return 0;
	t_xfer_log(&d, &log);
	return log.total;
}

/* One WR that must complete with status and move nothing. */
static void expect_status(const char *what, uint32_t opcode, uint64_t dev_addr,
			  const struct fpgadma_sge *sg, unsigned int n, uint32_t status)
{
	long long err0 = t_dev_counter("wr_errors");
	long long to_dev0 = t_dev_counter("bytes_to_device");
	long long to_host0 = t_dev_counter("bytes_to_host");
	uint64_t total0 = xlog_total();
	struct fpgadma_cqe c;

	if (n > d.attr.max_sge) {
		t_log("%-60s not run: needs %u pieces, max_sge is %u", what, n, d.attr.max_sge);
		return;
	}
	CHECK_LE(n, T_ARRAY_SIZE(bads[0].sg));
	memset(rw, 0xCD, BUF);
	c = t_run_wr(&d, opcode, dev_addr, sg, n);
	CHECK_CQE(&c, c.wr_id, opcode, status, 0);
	CHECK_EQ(t_dev_counter("wr_errors") - err0, 1);
	CHECK_EQ(t_dev_counter("bytes_to_device"), to_dev0);
	CHECK_EQ(t_dev_counter("bytes_to_host"), to_host0);
	host_unchanged(what);
	if (xlog)
		CHECK_MSG(xlog_total() == total0, "%s started %llu transfers", what,
			  (unsigned long long)(xlog_total() - total0));
	else
		device_unchanged(what);
	t_log("%-60s %s, nothing moved", what, fpgadma_wc_status_str(status));
	if (nerr < T_ARRAY_SIZE(bads)) {
		bads[nerr] = (struct bad){ .what = what, .opcode = opcode, .dev_addr = dev_addr,
					   .n = n, .status = status };
		memcpy(bads[nerr].sg, sg, n * sizeof(*sg));
	}
	nerr++;
}

static void status_errors(void)
{
	uint32_t bad = mr_rw->lkey ^ 0x5a5a5a5a;
	struct fpgadma_sge sg[3];

	while (bad == mr_rw->lkey || bad == mr_ro->lkey || bad == mr_wo->lkey ||
	       bad == mr_check->lkey || bad == mr_slots->lkey || bad == 0)
		bad = bad * 2654435761u + 1;

	/* LOC_PROT_ERR: no MR with that lkey in this context */
	sg[0] = t_sge(mr_rw, rw, 100);
	sg[0].lkey = bad;
	expect_status("READ_MEM, invented lkey", FPGADMA_WR_READ_MEM, 0, sg, 1, FPGADMA_WC_LOC_PROT_ERR);
	expect_status("WRITE_MEM, invented lkey", FPGADMA_WR_WRITE_MEM, 0, sg, 1, FPGADMA_WC_LOC_PROT_ERR);
	expect_status("READ_STREAM, invented lkey", FPGADMA_WR_READ_STREAM, 0, sg, 1,
		      FPGADMA_WC_LOC_PROT_ERR);
	sg[0] = t_sge(mr_e, rw, 100);
	expect_status("READ_MEM, another context's lkey", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_PROT_ERR);
	expect_status("WRITE_MEM, another context's lkey", FPGADMA_WR_WRITE_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_PROT_ERR);
	if (mr_rw->rkey != mr_rw->lkey && mr_rw->rkey != mr_ro->lkey &&
	    mr_rw->rkey != mr_wo->lkey && mr_rw->rkey != mr_check->lkey &&
	    mr_rw->rkey != mr_slots->lkey) {
		sg[0] = t_sge(mr_rw, rw, 100);
		sg[0].lkey = mr_rw->rkey;
		expect_status("READ_MEM, the MR's rkey as lkey", FPGADMA_WR_READ_MEM, 0, sg, 1,
			      FPGADMA_WC_LOC_PROT_ERR);
	}
	sg[0] = t_sge(mr_rw, rw, 100);
	sg[1] = t_sge(mr_rw, rw + 200, 100);
	sg[1].lkey = bad;
	expect_status("READ_MEM, good piece then invented lkey", FPGADMA_WR_READ_MEM, 0, sg, 2,
		      FPGADMA_WC_LOC_PROT_ERR);
	sg[0] = (struct fpgadma_sge){ .addr = (uintptr_t)dead, .length = 100, .lkey = dead_lkey };
	expect_status("READ_MEM, a deregistered lkey", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_PROT_ERR);
	expect_status("WRITE_MEM, a deregistered lkey", FPGADMA_WR_WRITE_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_PROT_ERR);
	sg[0] = t_sge(mr_rw, rw, 100);
	sg[1] = (struct fpgadma_sge){ .addr = (uintptr_t)dead, .length = 100, .lkey = dead_lkey };
	expect_status("READ_MEM, good piece then a deregistered lkey", FPGADMA_WR_READ_MEM, 0, sg,
		      2, FPGADMA_WC_LOC_PROT_ERR);

	/* LOC_LEN_ERR: piece outside its MR */
	sg[0] = t_sge(mr_rw, rw - 1, 10);
	expect_status("READ_MEM, piece starts 1 byte before the MR", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_LEN_ERR);
	sg[0] = t_sge(mr_rw, rw + BUF - 9, 10);
	expect_status("READ_MEM, piece ends 1 byte past the MR", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_LEN_ERR);
	sg[0] = t_sge(mr_rw, rw, BUF + 1);
	expect_status("READ_MEM, piece longer than the MR", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_LEN_ERR);
	sg[0] = t_sge(mr_rw, rw, 4);
	sg[0].addr = UINT64_MAX - 1;
	expect_status("READ_MEM, piece address + length wraps", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_LEN_ERR);
	sg[0] = t_sge(mr_rw, rw, 1000);
	sg[1] = t_sge(mr_rw, rw + 2000, 1000);
	sg[2] = t_sge(mr_rw, rw + BUF - 10, 11);
	expect_status("READ_MEM, two good pieces then one past the MR", FPGADMA_WR_READ_MEM, 0, sg,
		      3, FPGADMA_WC_LOC_LEN_ERR);
	expect_status("READ_STREAM, two good pieces then one past the MR", FPGADMA_WR_READ_STREAM,
		      0, sg, 3, FPGADMA_WC_LOC_LEN_ERR);
	sg[0] = t_sge(mr_ro, ro, 1000);
	sg[1] = t_sge(mr_ro, ro + BUF, 1);
	expect_status("WRITE_MEM, good piece then one past the MR", FPGADMA_WR_WRITE_MEM, 0, sg, 2,
		      FPGADMA_WC_LOC_LEN_ERR);

	/* LOC_ACCESS_ERR: receiving into an MR without LOCAL_WRITE */
	sg[0] = t_sge(mr_ro, ro, 100);
	expect_status("READ_MEM into a read-only MR", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_ACCESS_ERR);
	expect_status("READ_STREAM into a read-only MR", FPGADMA_WR_READ_STREAM, 0, sg, 1,
		      FPGADMA_WC_LOC_ACCESS_ERR);
	sg[0] = t_sge(mr_wo, wo, 100);
	expect_status("READ_MEM into a REMOTE_WRITE-only MR", FPGADMA_WR_READ_MEM, 0, sg, 1,
		      FPGADMA_WC_LOC_ACCESS_ERR);
	sg[0] = t_sge(mr_rw, rw, 100);
	sg[1] = t_sge(mr_ro, ro, 100);
	expect_status("READ_MEM, LOCAL_WRITE piece then read-only piece", FPGADMA_WR_READ_MEM, 0,
		      sg, 2, FPGADMA_WC_LOC_ACCESS_ERR);

	/* REM_ACCESS_ERR: device range out of bounds */
	sg[0] = t_sge(mr_rw, rw, 1);
	expect_status("READ_MEM at dev_mem_size", FPGADMA_WR_READ_MEM, dev_size, sg, 1,
		      FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_rw, rw, 2);
	expect_status("READ_MEM of the last byte + 1", FPGADMA_WR_READ_MEM, dev_size - 1, sg, 1,
		      FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_ro, ro, 65);
	expect_status("WRITE_MEM of the last 64 bytes + 1", FPGADMA_WR_WRITE_MEM, dev_size - 64, sg,
		      1, FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_ro, ro, 4);
	expect_status("WRITE_MEM, dev_addr + length wraps", FPGADMA_WR_WRITE_MEM, UINT64_MAX - 1, sg,
		      1, FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_rw, rw, 4);
	expect_status("READ_MEM, dev_addr + length wraps", FPGADMA_WR_READ_MEM, UINT64_MAX - 1, sg, 1,
		      FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_rw, rw, 1000);
	sg[1] = t_sge(mr_rw, rw + 2000, 1000);
	expect_status("READ_MEM, two pieces, 1 byte beyond device memory", FPGADMA_WR_READ_MEM,
		      dev_size - 1999, sg, 2, FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_ro, ro, 50);
	sg[1] = t_sge(mr_ro, ro + 60, 50);
	expect_status("WRITE_MEM, two pieces, 1 byte beyond device memory", FPGADMA_WR_WRITE_MEM,
		      dev_size - 99, sg, 2, FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_ro, ro, 1);
	expect_status("WRITE_MEM at dev_mem_size", FPGADMA_WR_WRITE_MEM, dev_size, sg, 1,
		      FPGADMA_WC_REM_ACCESS_ERR);
	sg[0] = t_sge(mr_rw, rw, 1);
	expect_status("READ_MEM at 2^40", FPGADMA_WR_READ_MEM, 1ULL << 40, sg, 1,
		      FPGADMA_WC_REM_ACCESS_ERR);
	if (dev_size < BUF) {
		sg[0] = t_sge(mr_ro, ro, (uint32_t)dev_size + 1);
		expect_status("WRITE_MEM of dev_mem_size + 1 bytes at 0", FPGADMA_WR_WRITE_MEM, 0,
			      sg, 1, FPGADMA_WC_REM_ACCESS_ERR);
	} else {
		t_log("%-60s not run: device memory (%llu bytes) exceeds the %d-byte buffers",
		      "WRITE_MEM of dev_mem_size + 1 bytes at 0", (unsigned long long)dev_size, BUF);
	}

	/* REM_ACCESS_ERR: READ_STREAM of good pieces on a device without a stream */
	if (d.attr.frame_size == 0) {
		sg[0] = t_sge(mr_rw, rw, 64);
		expect_status("READ_STREAM, no frame stream (frame_size 0)", FPGADMA_WR_READ_STREAM,
			      0, sg, 1, FPGADMA_WC_REM_ACCESS_ERR);
		sg[0] = t_sge(mr_rw, rw, 8);
		sg[1] = t_sge(mr_rw, rw + t_page_size(), 8);
		expect_status("READ_STREAM of 2 pieces, no frame stream", FPGADMA_WR_READ_STREAM, 0,
			      sg, 2, FPGADMA_WC_REM_ACCESS_ERR);
	} else {
		t_log("%-60s not run: the device has a frame stream (frame_size %llu; data_stream "
		      "reads it)", "READ_STREAM of good pieces", (unsigned long long)d.attr.frame_size);
	}
}

/*
 * All the failing WRs again in one post, each after a good READ_MEM of 64
 * bytes into its own slot of the slots buffer: CQEs in post order, the good
 * ones moved their bytes, the failing ones nothing.
 */
static void errors_in_batch(void)
{
	unsigned int nb = T_MIN(T_MIN(nerr, T_ARRAY_SIZE(bads)),
				T_MIN(d.attr.max_post, d.attr.cq_entries) / 2), n = 0, i;
	struct fpgadma_wr *wrs = calloc(2 * nb, sizeof(*wrs));
	struct fpgadma_cqe *cqes = calloc(2 * nb, sizeof(*cqes));
	struct fpgadma_sge *gsg = calloc(nb, sizeof(*gsg));
	long long err0 = t_dev_counter("wr_errors");
	long long to_dev0 = t_dev_counter("bytes_to_device");
	long long to_host0 = t_dev_counter("bytes_to_host");
	uint64_t total0 = xlog_total();

	CHECK(wrs && cqes && gsg);
	CHECK_LE(64 * nb, BUF);
	CHECK_LE(64 + 7 * nb, dev_lo);
	memset(rw, 0xCD, BUF);
	memset(slots, 0, BUF);
	for (i = 0; i < nb; i++) {
		/* 64 bytes at device address 7i: inside the pattern, one transfer each */
		gsg[i] = t_sge(mr_slots, slots + 64 * i, 64);
		wrs[n++] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++,
			.opcode = FPGADMA_WR_READ_MEM, .dev_addr = 7 * i,
			.sg_list = (uintptr_t)&gsg[i], .num_sge = 1 };
		wrs[n++] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++, .opcode = bads[i].opcode,
			.dev_addr = bads[i].dev_addr, .sg_list = (uintptr_t)bads[i].sg,
			.num_sge = bads[i].n };
	}
	CHECK_OK(fpgadma_post(d.ctx, wrs, n));
	t_get_cqes(d.ctx, cqes, (int)n);
	for (i = 0; i < nb; i++) {
		CHECK_CQE(&cqes[2 * i], wrs[2 * i].wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 64);
		CHECK_CQE(&cqes[2 * i + 1], wrs[2 * i + 1].wr_id, bads[i].opcode, bads[i].status, 0);
		CHECK_MSG(!t_verify(slots + 64 * i, 64, 500, 7 * i, "a good READ_MEM of the batch"),
			  "the good READ_MEM before '%s' read the wrong bytes", bads[i].what);
	}
	CHECK(!t_verify_byte(slots + 64 * nb, BUF - 64 * nb, 0, "the slots buffer past its slots"));
	CHECK_EQ(t_dev_counter("wr_errors") - err0, nb);
	CHECK_EQ(t_dev_counter("bytes_to_host") - to_host0, 64 * nb);
	CHECK_EQ(t_dev_counter("bytes_to_device"), to_dev0);
	host_unchanged("the batch of failing WRs");
	if (xlog)
		CHECK_MSG(xlog_total() - total0 == nb,
			  "the batch took %llu transfers; its %u good READ_MEMs take one each",
			  (unsigned long long)(xlog_total() - total0), nb);
	device_unchanged("the batch of failing WRs");
	t_log("batch of %u: the failing WRs%s each after a good READ_MEM, CQEs in post order, the "
	      "good ones moved their bytes%s, the failing ones nothing; device memory unchanged", n,
	      nb < nerr ? " (the first ones)" : "", xlog ? " (one transfer each, the log)" : "");
	free(wrs);
	free(cqes);
	free(gsg);
}

/* Good, bad, good in one post: the good ones move their data. */
static void mixed_batch(void)
{
	struct fpgadma_sge sg[3];
	struct fpgadma_wr wrs[3];
	struct fpgadma_cqe c[3];
	long long err0 = t_dev_counter("wr_errors");
	unsigned int i;

	memset(rw, 0xCD, BUF);
	sg[0] = t_sge(mr_rw, rw, 1000);
	sg[1] = t_sge(mr_ro, ro, 1000);		/* READ_MEM into read-only: error */
	sg[2] = t_sge(mr_rw, rw + 5000, 1000);
	for (i = 0; i < 3; i++)
		wrs[i] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++, .opcode = FPGADMA_WR_READ_MEM,
			.dev_addr = 100 * i, .sg_list = (uintptr_t)&sg[i], .num_sge = 1 };
	CHECK_OK(fpgadma_post(d.ctx, wrs, 3));
	t_get_cqes(d.ctx, c, 3);
	CHECK_CQE(&c[0], wrs[0].wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 1000);
	CHECK_CQE(&c[1], wrs[1].wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_LOC_ACCESS_ERR, 0);
	CHECK_CQE(&c[2], wrs[2].wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 1000);
	CHECK(!t_verify(rw, 1000, 500, 0, "first good WR of the batch"));
	CHECK(!t_verify(rw + 5000, 1000, 500, 200, "last good WR of the batch"));
	CHECK(!t_verify_byte(rw + 1000, 4000, 0xCD, "between the good WRs' pieces"));
	CHECK(!t_verify(ro, BUF, 600, 0, "read-only MR after the batch"));
	CHECK_EQ(t_dev_counter("wr_errors") - err0, 1);
	t_log("batch good/bad/good: CQEs in order, the good ones moved their data, the bad one nothing");
}

static void expect_einval(const char *what, const struct fpgadma_wr *wrs, uint32_t count)
{
	long long done0 = t_dev_counter("wrs_completed");

	CHECK_MSG(raw_post(wrs, count) == -EINVAL, "%s: POST did not fail with EINVAL", what);
	CHECK_MSG(fpgadma_post(d.ctx, wrs, count) == -EINVAL,
		  "%s: fpgadma_post did not fail with EINVAL", what);
	CHECK_EQ(t_dev_counter("wrs_completed"), done0);
	t_log("%-60s EINVAL", what);
}

static void malformed(void)
{
	unsigned int max_sge = d.attr.max_sge, max_post = d.attr.max_post, i;
	struct fpgadma_sge *sg = calloc(max_sge + 1, sizeof(*sg));
	struct fpgadma_wr *many = calloc(max_post + 1, sizeof(*many));
	struct fpgadma_wr good, w, two[2];
	struct fpgadma_cqe c;

	CHECK(sg && many);
	for (i = 0; i <= max_sge; i++)
		sg[i] = t_sge(mr_rw, rw + i, 1);
	good = (struct fpgadma_wr){ .wr_id = 1000001, .opcode = FPGADMA_WR_READ_MEM,
				    .sg_list = (uintptr_t)sg, .num_sge = 1 };

	w = good; w.opcode = 0;
	expect_einval("opcode 0", &w, 1);
	w = good; w.opcode = 8;
	expect_einval("opcode 8", &w, 1);
	w = good; w.flags = FPGADMA_WR_F_REMOTE_OFFSET;
	expect_einval("READ_MEM with REMOTE_OFFSET", &w, 1);
	w = good; w.rkey = 1;
	expect_einval("READ_MEM with rkey 1", &w, 1);
	w = good; w.dest = 1;
	expect_einval("READ_MEM with dest 1", &w, 1);
	w = good; w.opcode = 0xffffffff;
	expect_einval("opcode 0xffffffff", &w, 1);
	w = good; w.flags = 1;
	expect_einval("flags 1", &w, 1);
	w = good; w.flags = 0x80000000;
	expect_einval("flags bit 31", &w, 1);
	w = good; w.atomic_op = 1;
	expect_einval("READ_MEM with atomic_op 1", &w, 1);
	w = good; w.atomic_type = 0x8000;
	expect_einval("READ_MEM with atomic_type 0x8000", &w, 1);
	w = good; w.reserved = 1;
	expect_einval("reserved 1", &w, 1);
	w = good; w.reserved = 1ULL << 63;
	expect_einval("reserved bit 63", &w, 1);
	w = good; w.num_sge = max_sge + 1;
	expect_einval("num_sge max_sge + 1", &w, 1);
	w = good; w.num_sge = 0xffffffff;
	expect_einval("num_sge 0xffffffff", &w, 1);
	w = good; w.opcode = FPGADMA_WR_READ_STREAM; w.dev_addr = 1;
	expect_einval("READ_STREAM with dev_addr 1", &w, 1);
	w = good; w.opcode = FPGADMA_WR_READ_STREAM; w.dev_addr = 1ULL << 40;
	expect_einval("READ_STREAM with dev_addr 2^40", &w, 1);
	two[0] = good;
	two[0].wr_id = 1000002;
	two[1] = good;
	two[1].atomic_type = 7;
	expect_einval("good WR then malformed WR", two, 2);
	two[0].atomic_type = 7;
	two[1] = good;
	expect_einval("malformed WR then good WR", two, 2);
	for (i = 0; i <= max_post; i++) {
		many[i] = good;
		many[i].wr_id = 2000000 + i;
	}
	CHECK_RET(raw_post(many, 0), -EINVAL);
	CHECK_RET(raw_post(many, max_post + 1), -EINVAL);
	CHECK_RET(fpgadma_post(d.ctx, many, 0), -EINVAL);
	CHECK_RET(fpgadma_post(d.ctx, many, max_post + 1), -EINVAL);
	t_log("%-60s EINVAL", "count 0, count max_post + 1");

	/* Nothing of the above was posted: the next CQE is the next good WR's. */
	good.wr_id = 1000003;
	CHECK_OK(fpgadma_post(d.ctx, &good, 1));
	t_get_cqes(d.ctx, &c, 1);
	CHECK_CQE(&c, 1000003, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 1);
	t_expect_no_cqe(d.ctx, 200);
	t_log("after the malformed posts, the next good WR's CQE is the only one");
	free(sg);
	free(many);
}

static void ring_full(void)
{
	unsigned int n = d.attr.cq_entries, batch = T_MIN(d.attr.max_post, n), posted = 0, i, k;
	long long done0 = t_dev_counter("wrs_completed");
	struct fpgadma_wr *wrs = calloc(T_MAX(batch, 5), sizeof(*wrs));
	struct fpgadma_cqe *cqes = calloc(n + 8, sizeof(*cqes));
	uint64_t id = 5000000, deadline;
	int r;

	CHECK(wrs && cqes);
	t_expect_no_cqe(d.ctx, 0);
	while (posted < n) {
		k = T_MIN(batch, n - posted);
		for (i = 0; i < k; i++)
			wrs[i] = (struct fpgadma_wr){ .wr_id = id + posted + i,
				.opcode = FPGADMA_WR_READ_MEM, .dev_addr = (posted + i) % dev_lo };
		CHECK_OK(fpgadma_post(d.ctx, wrs, k));
		posted += k;
	}
	wrs[0].wr_id = 9999999;
	CHECK_RET(fpgadma_post(d.ctx, wrs, 1), -EAGAIN);
	CHECK_RET(raw_post(wrs, 1), -EAGAIN);
	/* Completed but not polled still occupies the ring. */
	deadline = t_now_ms() + T_CQE_TIMEOUT_MS;
	while (t_dev_counter("wrs_completed") - done0 < n) {
		CHECK_LT(t_now_ms(), deadline);
		t_sleep_ms(5);
	}
	CHECK_RET(fpgadma_post(d.ctx, wrs, 1), -EAGAIN);
	t_log("ring of %u entries: %u WRs (without pieces) posted, one more: EAGAIN, also after all "
	      "completed", n, n);

	/* Poll 3: exactly 3 more fit, and a batch of 5 posts none. */
	CHECK_EQ(fpgadma_poll(d.ctx, cqes, 3), 3);
	for (i = 0; i < 5; i++)
		wrs[i] = (struct fpgadma_wr){ .wr_id = 8000000 + i, .opcode = FPGADMA_WR_READ_MEM };
	if (batch >= 5) {
		CHECK_RET(fpgadma_post(d.ctx, wrs, 5), -EAGAIN);
		CHECK_RET(fpgadma_post(d.ctx, wrs, 4), -EAGAIN);
	}
	CHECK_OK(fpgadma_post(d.ctx, wrs, T_MIN(3, batch)));
	wrs[0].wr_id = 9999998;
	CHECK_RET(fpgadma_post(d.ctx, wrs, 1), -EAGAIN);

	/* Every CQE once, in order: the n, then the 3. */
	t_get_cqes(d.ctx, cqes + 3, (int)n);
	for (i = 0; i < n; i++)
		CHECK_CQE(&cqes[i], id + i, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 0);
	for (i = 0; i < T_MIN(3, batch); i++)
		CHECK_CQE(&cqes[n + i], 8000000 + i, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 0);
	t_expect_no_cqe(d.ctx, 100);
	wrs[0].wr_id = 8000000;
	r = fpgadma_post(d.ctx, wrs, 1);
	CHECK_RET(r, 0);
	t_get_cqes(d.ctx, cqes, 1);
	CHECK_CQE(&cqes[0], 8000000, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 0);
	t_log("after polling 3: a batch of 5 and of 4: EAGAIN, of 3: posted; %u CQEs in order, "
	      "no overflow, none extra", n + 3);
	free(wrs);
	free(cqes);
}

/* Informational: does a failed READ_STREAM consume stream bytes? */
static void stream_after_error(void)
{
	uint64_t F = d.attr.frame_size, a, b;
	size_t len = F + 64;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;

	if (F == 0) {
		t_log("note on a failed READ_STREAM: not run: the device has no frame stream "
		      "(frame_size 0)");
		return;
	}
	if (2 * len > BUF) {
		t_log("note on a failed READ_STREAM: not run: frames of %llu bytes exceed the "
		      "buffers", (unsigned long long)F);
		return;
	}
	sg = t_sge(mr_rw, rw, (uint32_t)len);
	c = t_run_wr(&d, FPGADMA_WR_READ_STREAM, 0, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_STREAM, FPGADMA_WC_SUCCESS, len);
	sg = t_sge(mr_ro, ro, 100);
	c = t_run_wr(&d, FPGADMA_WR_READ_STREAM, 0, &sg, 1);
	CHECK_EQ(c.status, FPGADMA_WC_LOC_ACCESS_ERR);
	sg = t_sge(mr_rw, rw + len, (uint32_t)len);
	c = t_run_wr(&d, FPGADMA_WR_READ_STREAM, 0, &sg, 1);
	CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_STREAM, FPGADMA_WC_SUCCESS, len);
	CHECK(!t_stream_check(rw, len, F, &a, "stream before the failed read"));
	CHECK(!t_stream_check(rw + len, len, F, &b, "stream after the failed read"));
	t_log("note: a failed READ_STREAM of 100 bytes consumed %lld stream bytes (not asserted)",
	      (long long)(b - a - len));
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 55);
	t_open(&d);
	t_open(&e);
	dev_size = d.attr.dev_mem_size;
	if (dev_size < 2048)
		t_skip("device memory of %llu bytes: this test needs 2048",
		       (unsigned long long)dev_size);
	xlog = t_has_xfer_log(&d);
	t_log("fpgadma%u (%s engine): %llu bytes of device memory, frame_size %llu, max_sge %u, "
	      "max_post %u, cq_entries %u, transfer log: %s", d.attr.dev_index,
	      t_engine_name(d.attr.engine), (unsigned long long)dev_size,
	      (unsigned long long)d.attr.frame_size, d.attr.max_sge, d.attr.max_post,
	      d.attr.cq_entries, xlog ? "yes" : "none (device memory read back after each case)");
	t_snap_take(&start);
	rw = t_map(BUF);
	ro = t_map(BUF);
	wo = t_map(BUF);
	dead = t_map(BUF);
	slots = t_map(BUF);
	check = t_map(DEV);
	t_fill(ro, BUF, 600, 0);
	t_fill(wo, BUF, 601, 0);
	memset(dead, 0xD4, BUF);
	mr_rw = t_reg(&d, rw, BUF, FPGADMA_ACCESS_LOCAL_WRITE);
	mr_ro = t_reg(&d, ro, BUF, FPGADMA_ACCESS_REMOTE_READ);
	mr_wo = t_reg(&d, wo, BUF, FPGADMA_ACCESS_REMOTE_WRITE);
	mr_check = t_reg(&d, check, DEV, FPGADMA_ACCESS_LOCAL_WRITE);
	mr_slots = t_reg(&d, slots, BUF, FPGADMA_ACCESS_LOCAL_WRITE);
	mr_e = t_reg(&e, rw, BUF, FPGADMA_ACCESS_LOCAL_WRITE);
	{
		struct fpgadma_mr *mr_dead = t_reg(&d, dead, BUF, FPGADMA_ACCESS_LOCAL_WRITE);

		dead_lkey = mr_dead->lkey;
		t_dereg(mr_dead);
	}
	set_device();

	status_errors();
	if (xlog)
		device_unchanged("the failing WRs");
	t_log("%u failing WRs: each the right status, byte_len 0, wr_errors +1, no byte moved%s",
	      nerr, xlog ? " (no transfer started; device memory read back after all of them)" : "");
	errors_in_batch();
	mixed_batch();
	malformed();
	ring_full();
	stream_after_error();

	t_dereg(mr_e);
	t_dereg(mr_slots);
	t_dereg(mr_rw);
	t_dereg(mr_ro);
	t_dereg(mr_wo);
	t_dereg(mr_check);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&e);
	t_close(&d);
	t_pass();
}
