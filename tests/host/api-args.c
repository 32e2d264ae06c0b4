// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Argument checking of every call that needs no device: NULL pointers and
 * impossible values give -EINVAL, a missing device node -ENOENT, a node
 * that is not an fpgadma device -ENOTTY; output pointers are cleared on
 * failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fpgadma.h>
#include "check.h"

int main(void)
{
	struct fpgadma_context *ctx = (struct fpgadma_context *)1;
	struct fpgadma_device_attr attr;
	struct fpgadma_pd *pd = (struct fpgadma_pd *)1, orphan = { NULL };
	struct fpgadma_mr *mr = (struct fpgadma_mr *)1, orphan_mr = { 0 };
	struct fpgadma_cqe cqe;
	struct fpgadma_sge sge = { 0 };
	struct fpgadma_wr wr = { 0 };
	char buf[4096], tmpl[] = "/tmp/fpgadma-api-args-XXXXXX";
	int fd;

	/* open */
	CHECK_EQ(fpgadma_open(0, NULL), -EINVAL);
	CHECK_EQ(fpgadma_open(-1, &ctx), -EINVAL);
	CHECK_EQ(fpgadma_open_path(NULL, &ctx), -EINVAL);
	CHECK_EQ(fpgadma_open_path("/dev/null", NULL), -EINVAL);
	ctx = (struct fpgadma_context *)1;
	CHECK_EQ(fpgadma_open_path("/nonexistent/fpgadma0", &ctx), -ENOENT);
	CHECK(ctx == NULL);
	if (access("/dev/fpgadma987654", F_OK) != 0)
		CHECK_EQ(fpgadma_open(987654, &ctx), -ENOENT);
	/* something that exists but is no fpgadma device */
	CHECK_EQ(fpgadma_open_path("/dev/null", &ctx), -ENOTTY);
	CHECK(ctx == NULL);
	fd = mkstemp(tmpl);
	if (fd >= 0) {
		close(fd);
		CHECK_EQ(fpgadma_open_path(tmpl, &ctx), -ENOTTY);
		unlink(tmpl);
	}
	CHECK_EQ(fpgadma_open_path("/", &ctx), -EISDIR);

	/* calls on a NULL context */
	CHECK_EQ(fpgadma_close(NULL), -EINVAL);
	CHECK_EQ(fpgadma_query(NULL, &attr), -EINVAL);
	CHECK_EQ(fpgadma_get_fd(NULL), -EINVAL);
	pd = (struct fpgadma_pd *)1;
	CHECK_EQ(fpgadma_alloc_pd(NULL, &pd), -EINVAL);
	CHECK_EQ(fpgadma_post(NULL, &wr, 1), -EINVAL);
	CHECK_EQ(fpgadma_post_read(NULL, 1, 0, &sge, 1), -EINVAL);
	CHECK_EQ(fpgadma_post_write(NULL, 1, 0, &sge, 1), -EINVAL);
	CHECK_EQ(fpgadma_post_stream_read(NULL, 1, &sge, 1), -EINVAL);
	CHECK_EQ(fpgadma_post_atomic(NULL, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 1, 0, 0,
				     &sge, NULL, NULL), -EINVAL);
	CHECK_EQ(fpgadma_atomic_valid(NULL, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, NULL),
		 -EINVAL);
	CHECK_EQ(fpgadma_poll(NULL, &cqe, 1), -EINVAL);
	CHECK_EQ(fpgadma_wait(NULL, 0), -EINVAL);
	{
		void *addr = NULL;

		CHECK_EQ(fpgadma_mem_map(NULL, &addr), -EINVAL);
		CHECK_EQ(fpgadma_chan_inbox(NULL, &addr), -EINVAL);
		CHECK_EQ(fpgadma_chan_map(NULL, 1, &addr), -EINVAL);
		CHECK_EQ(fpgadma_chan_unmap(NULL, NULL), -EINVAL);
		CHECK(addr == NULL);
	}

	/* PDs and MRs that are NULL or belong to no context */
	CHECK_EQ(fpgadma_dealloc_pd(NULL), -EINVAL);
	CHECK_EQ(fpgadma_dealloc_pd(&orphan), -EINVAL);
	mr = (struct fpgadma_mr *)1;
	CHECK_EQ(fpgadma_reg_mr(NULL, buf, sizeof(buf), 0, &mr), -EINVAL);
	CHECK(mr == NULL);
	CHECK_EQ(fpgadma_reg_mr(&orphan, buf, sizeof(buf), 0, &mr), -EINVAL);
	CHECK_EQ(fpgadma_reg_mr(NULL, buf, sizeof(buf), 0, NULL), -EINVAL);
	CHECK_EQ(fpgadma_dereg_mr(NULL), -EINVAL);
	CHECK_EQ(fpgadma_dereg_mr(&orphan_mr), -EINVAL);

	return test_exit("api-args");
}
