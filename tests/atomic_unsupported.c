// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * atomic_unsupported: a device without atomics refuses them.
 *
 * On a device whose QUERY caps lack FPGADMA_CAP_ATOMIC (the edu engine;
 * then FPGADMA_CAP_ATOMIC_FP too): well-formed ATOMIC and ATOMIC_MEM WRs
 * (integer and floating-point types, fetching or not, with compare values
 * or without) fail at POST with EOPNOTSUPP, on the ioctl itself, also in
 * a batch after a good READ_MEM (all or nothing: that one is not posted
 * either); malformed ones still get EINVAL (the form is checked first);
 * fpgadma_post_atomic() returns -EOPNOTSUPP without a system call and
 * fpgadma_atomic_valid() -EOPNOTSUPP for a valid combination, -EINVAL for
 * an invalid one.  Nothing arrives in the completion ring and nothing
 * stays pinned or registered.  On a device with atomics (the soft engine)
 * it skips: atomic_ops and atomic_contend check them there.
 */
#include "helpers.h"

#include <sys/ioctl.h>

static int raw_post(int fd, const struct fpgadma_wr *wrs, uint32_t count)
{
	struct fpgadma_post p = { .wrs = (uintptr_t)wrs, .count = count };

	return ioctl(fd, FPGADMA_IOC_POST, &p) ? -errno : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		uint32_t op, type;
	} cases[] = {
		{ FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64 },
		{ FPGADMA_ATOMIC_READ, FPGADMA_TYPE_INT32 },
		{ FPGADMA_ATOMIC_CSWAP, FPGADMA_TYPE_UINT64 },
		{ FPGADMA_ATOMIC_MSWAP, FPGADMA_TYPE_UINT8 },
		{ FPGADMA_ATOMIC_PROD, FPGADMA_TYPE_DOUBLE },
		{ FPGADMA_ATOMIC_CSWAP_NE, FPGADMA_TYPE_DOUBLE_COMPLEX },
	};
	struct fpgadma_sge sg[3], rd;
	struct fpgadma_wr w, two[2];
	struct fpgadma_mr *mr;
	struct t_snap start;
	unsigned int i, n = 0;
	struct t_dev d;
	size_t count;
	uint8_t *buf;
	int fd;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open(&d);
	if (d.attr.caps & FPGADMA_CAP_ATOMIC)
		t_skip("the %s engine has atomics (FPGADMA_CAP_ATOMIC): atomic_ops and "
		       "atomic_contend check them", t_engine_name(d.attr.engine));
	CHECK_EQ(d.attr.caps & FPGADMA_CAP_ATOMIC_FP, 0);
	fd = fpgadma_get_fd(d.ctx);
	buf = t_map(4096);
	mr = t_reg(&d, buf, 4096, FPGADMA_ACCESS_ALL);

	for (i = 0; i < T_ARRAY_SIZE(cases); i++) {
		uint32_t op = cases[i].op, type = cases[i].type, k = 0, m;
		uint32_t len = fpgadma_atomic_type_size(type);

		if (op != FPGADMA_ATOMIC_READ)
			sg[k++] = t_sge(mr, buf, len);
		if (fpgadma_atomic_op_has_compare(op))
			sg[k++] = t_sge(mr, buf + 64, len);
		sg[k] = t_sge(mr, buf + 128, len);
		for (m = 0; m < 4; m++) {
			bool fetch = m & 1 || op == FPGADMA_ATOMIC_READ;

			w = (struct fpgadma_wr){ .wr_id = n, .atomic_op = (uint16_t)op,
						 .atomic_type = (uint16_t)type,
						 .sg_list = (uintptr_t)sg,
						 .num_sge = k + fetch,
						 .flags = fetch ? FPGADMA_WR_F_FETCH : 0 };
			if (m & 2) {
				w.opcode = FPGADMA_WR_ATOMIC_MEM;
				w.dev_addr = 8;
			} else {
				w.opcode = FPGADMA_WR_ATOMIC;
				w.rkey = mr->rkey;
				w.dev_addr = (uintptr_t)buf + 256;
			}
			CHECK_RET(raw_post(fd, &w, 1), -EOPNOTSUPP);
			n++;
		}
		CHECK_RET(fpgadma_post_atomic(d.ctx, 1, op, type, mr->rkey, (uintptr_t)buf + 256,
					      0, op != FPGADMA_ATOMIC_READ ? &sg[0] : NULL,
					      fpgadma_atomic_op_has_compare(op) ? &sg[1] : NULL,
					      &sg[k]), -EOPNOTSUPP);
		CHECK_RET(fpgadma_atomic_valid(d.ctx, op, type, &count), -EOPNOTSUPP);
		t_log("%-12s on %-15s ATOMIC and ATOMIC_MEM, fetching or not: EOPNOTSUPP",
		      t_atomic_op_name(op), t_atomic_type_name(type));
	}

	/* all or nothing: a good READ_MEM before it is not posted either */
	rd = t_sge(mr, buf, 8);
	two[0] = (struct fpgadma_wr){ .wr_id = 100, .opcode = FPGADMA_WR_READ_MEM,
				      .sg_list = (uintptr_t)&rd, .num_sge = 1 };
	sg[0] = t_sge(mr, buf, 8);
	two[1] = (struct fpgadma_wr){ .wr_id = 101, .opcode = FPGADMA_WR_ATOMIC_MEM,
				      .atomic_op = FPGADMA_ATOMIC_SUM,
				      .atomic_type = FPGADMA_TYPE_UINT64,
				      .sg_list = (uintptr_t)sg, .num_sge = 1 };
	CHECK_RET(raw_post(fd, two, 2), -EOPNOTSUPP);
	t_log("a READ_MEM, then an atomic: EOPNOTSUPP, neither posted");

	/* the form first: malformed atomics are EINVAL on any device */
	w = two[1];
	w.atomic_type = FPGADMA_TYPE_LONG_DOUBLE;
	CHECK_RET(raw_post(fd, &w, 1), -EINVAL);
	w = two[1];
	w.atomic_op = FPGADMA_ATOMIC_BOR;
	w.atomic_type = FPGADMA_TYPE_FLOAT;
	CHECK_RET(raw_post(fd, &w, 1), -EINVAL);
	w = two[1];
	w.num_sge = 2;
	CHECK_RET(raw_post(fd, &w, 1), -EINVAL);
	CHECK_RET(fpgadma_atomic_valid(d.ctx, FPGADMA_ATOMIC_MIN, FPGADMA_TYPE_FLOAT_COMPLEX,
				       &count), -EINVAL);
	t_log("malformed atomics (LONG_DOUBLE, BOR on FLOAT, a piece too many): EINVAL");

	t_expect_no_cqe(d.ctx, 100);
	t_dereg(mr);
	t_unmap(buf, 4096);
	t_log("%s engine (caps 0x%llx): %u atomic WRs refused with EOPNOTSUPP, no CQE",
	      t_engine_name(d.attr.engine), (unsigned long long)d.attr.caps, n);
	t_close(&d);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
