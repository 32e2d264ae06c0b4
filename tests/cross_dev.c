// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cross_dev: a key of another device names nothing.
 *
 * An MR registered on soft device 0 (its lkey in that context's table, its
 * rkey in device 0's table) is used in WRs posted on soft device 1:
 * WRITE_MEM, READ_MEM and READ_STREAM with its lkey, RDMA_WRITE and
 * RDMA_READ (by address and by offset) with its rkey.  Each completes with
 * an error status, and nothing moves: the MR's canary pattern, the local
 * buffer of device 1's own MR and device 1's on-board memory are unchanged.
 * The same keys work on device 0 afterwards, so they were live all along.
 * Needs two soft devices (the smp4 configuration loads the module with
 * ndevs=2); with one it skips.
 */
#include "helpers.h"

#define LEN	(64 * 1024)
#define DEV_OFF	4096

static unsigned int posted, bytes_verified;

/* The WRs posted on device 1 that name device 0's MR, and their status. */
static const struct foreign_wr {
	const char *what;
	uint32_t opcode;
	bool its_lkey, its_rkey, by_address;
	uint64_t dev_addr;
	uint32_t flags;
	uint32_t status;
} foreign[] = {
	{ "WRITE_MEM from its lkey", FPGADMA_WR_WRITE_MEM, true, false, false, DEV_OFF, 0,
	  FPGADMA_WC_LOC_PROT_ERR },
	{ "READ_MEM into its lkey", FPGADMA_WR_READ_MEM, true, false, false, DEV_OFF, 0,
	  FPGADMA_WC_LOC_PROT_ERR },
	{ "READ_STREAM into its lkey", FPGADMA_WR_READ_STREAM, true, false, false, 0, 0,
	  FPGADMA_WC_LOC_PROT_ERR },
	{ "RDMA_WRITE to its rkey (address)", FPGADMA_WR_RDMA_WRITE, false, true, true, 0, 0,
	  FPGADMA_WC_REM_ACCESS_ERR },
	{ "RDMA_WRITE to its rkey (offset 0)", FPGADMA_WR_RDMA_WRITE, false, true, false, 0,
	  FPGADMA_WR_F_REMOTE_OFFSET, FPGADMA_WC_REM_ACCESS_ERR },
	{ "RDMA_READ from its rkey (address)", FPGADMA_WR_RDMA_READ, false, true, true, 0, 0,
	  FPGADMA_WC_REM_ACCESS_ERR },
	{ "RDMA_READ from its rkey (offset 0)", FPGADMA_WR_RDMA_READ, false, true, false, 0,
	  FPGADMA_WR_F_REMOTE_OFFSET, FPGADMA_WC_REM_ACCESS_ERR },
	/* Both: the piece fails first. */
	{ "RDMA_READ, its lkey and its rkey", FPGADMA_WR_RDMA_READ, true, true, true, 0, 0,
	  FPGADMA_WC_LOC_PROT_ERR },
};

static const char *status_name(uint32_t status)
{
	static const char *const names[] = {
		"SUCCESS", "LOC_LEN_ERR", "LOC_PROT_ERR", "LOC_ACCESS_ERR", "REM_ACCESS_ERR",
		"FLUSH_ERR", "GENERAL_ERR", "RNR_ERR", "REM_INV_REQ_ERR",
	};

	return status < T_ARRAY_SIZE(names) ? names[status] : "?";
}

/* Post one WR of one piece on d, return its CQE's status (printed). */
static uint32_t post_one(struct t_dev *d, const char *what, uint32_t opcode, uint64_t dev_addr,
			 uint32_t rkey, uint32_t flags, const struct fpgadma_sge *sg)
{
	struct fpgadma_wr w = {
		.wr_id = d->next_wr_id++, .opcode = opcode, .flags = flags,
		.dev_addr = dev_addr, .rkey = rkey,
		.sg_list = (uintptr_t)sg, .num_sge = 1,
	};
	struct fpgadma_cqe c;

	CHECK_OK(fpgadma_post(d->ctx, &w, 1));
	t_get_cqes(d->ctx, &c, 1);
	CHECK_EQ(c.wr_id, w.wr_id);
	CHECK_EQ(c.opcode, opcode);
	posted++;
	t_log("  %-38s -> %s, %llu bytes", what, status_name(c.status),
	      (unsigned long long)c.byte_len);
	if (c.status != FPGADMA_WC_SUCCESS)
		CHECK_EQ(c.byte_len, 0);
	return c.status;
}

static void verify(const void *buf, size_t len, uint64_t seed, const char *what)
{
	CHECK_EQ(t_verify(buf, len, seed, 0, what), 0);
	bytes_verified += len;
}

int main(int argc, char **argv)
{
	struct t_dev d0, d1;
	struct fpgadma_device_attr attr;
	struct fpgadma_context *ctx;
	struct fpgadma_mr *m0, *m1;
	struct fpgadma_sge sg;
	struct t_snap start;
	uint8_t *buf0, *buf1, *scratch;
	int soft[2], nsoft = 0, i;
	uint32_t st;

	t_init(argc, argv, 120);
	for (i = 0; i < 16 && nsoft < 2; i++) {
		if (fpgadma_open(i, &ctx))
			continue;
		if (!fpgadma_query(ctx, &attr) && attr.engine == FPGADMA_ENGINE_SOFT)
			soft[nsoft++] = i;
		fpgadma_close(ctx);
	}
	if (nsoft < 2)
		t_skip("%d soft device(s) in this guest, two needed (the module's ndevs=2, as in "
		       "the smp4 configuration)", nsoft);
	t_open_index(&d0, (unsigned int)soft[0]);
	t_open_index(&d1, (unsigned int)soft[1]);
	CHECK(d0.attr.caps & FPGADMA_CAP_HOST_EP);
	CHECK(d1.attr.dev_mem_size >= DEV_OFF + LEN);
	t_snap_take(&start);

	buf0 = t_map(LEN);
	buf1 = t_map(LEN);
	scratch = t_map(LEN);
	m0 = t_reg(&d0, buf0, LEN, FPGADMA_ACCESS_ALL);
	m1 = t_reg(&d1, buf1, LEN, FPGADMA_ACCESS_ALL);
	/* Keys are random per table: a coincidence would make the test meaningless. */
	CHECK_NE(m0->lkey, m1->lkey);
	CHECK_NE(m0->rkey, m1->rkey);
	t_log("device %d: MR lkey 0x%08x rkey 0x%08x; device %d: MR lkey 0x%08x rkey 0x%08x",
	      soft[0], m0->lkey, m0->rkey, soft[1], m1->lkey, m1->rkey);

	/* Canaries: device 0's MR, device 1's MR, device 1's on-board memory. */
	t_fill(buf0, LEN, 61, 0);
	t_fill(scratch, LEN, 63, 0);
	{
		struct fpgadma_mr *ms = t_reg(&d1, scratch, LEN, FPGADMA_ACCESS_LOCAL_WRITE);

		t_dev_write(&d1, ms, scratch, LEN, DEV_OFF);
		t_dereg(ms);
	}
	t_fill(buf1, LEN, 62, 0);

	t_log("WRs on device %d naming device %d's MR:", soft[1], soft[0]);
	for (i = 0; i < (int)T_ARRAY_SIZE(foreign); i++) {
		const struct foreign_wr *f = &foreign[i];

		/* Device 0's lkey for the piece, or device 1's own MR. */
		if (f->its_lkey)
			sg = (struct fpgadma_sge){ .addr = (uintptr_t)buf0, .length = LEN,
						   .lkey = m0->lkey };
		else
			sg = t_sge(m1, buf1, LEN);
		st = post_one(&d1, f->what, f->opcode,
			      f->by_address ? (uintptr_t)buf0 : f->dev_addr,
			      f->its_rkey ? m0->rkey : 0, f->flags, &sg);
		CHECK_EQ(st, f->status);
	}

	/* Nothing moved anywhere. */
	verify(buf0, LEN, 61, "device 0's MR");
	verify(buf1, LEN, 62, "device 1's MR");
	memset(scratch, 0, LEN);
	{
		struct fpgadma_mr *ms = t_reg(&d1, scratch, LEN, FPGADMA_ACCESS_LOCAL_WRITE);

		t_dev_read(&d1, ms, scratch, LEN, DEV_OFF);
		t_dereg(ms);
	}
	verify(scratch, LEN, 63, "device 1's on-board memory");

	/* The keys were live: on device 0 they work. */
	sg = t_sge(m0, buf0, 4096);
	st = post_one(&d0, "on device 0: RDMA_READ, its own keys", FPGADMA_WR_RDMA_READ,
		      (uintptr_t)buf0 + 4096, m0->rkey, 0, &sg);
	CHECK_EQ(st, FPGADMA_WC_SUCCESS);
	CHECK_EQ(t_verify(buf0, 4096, 61, 4096, "RDMA_READ on device 0"), 0);
	bytes_verified += 4096;

	t_dereg(m1);
	t_dereg(m0);
	t_close(&d1);
	t_close(&d0);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_unmap(buf0, LEN);
	t_unmap(buf1, LEN);
	t_unmap(scratch, LEN);
	t_log("%u WRs posted: %zu on device %d with device %d's keys, each an error completion; "
	      "%u bytes verified unchanged or moved as asked", posted, T_ARRAY_SIZE(foreign),
	      soft[1], soft[0], bytes_verified);
	t_pass();
}
