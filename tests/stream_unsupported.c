// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stream_unsupported: a device without paced streams refuses them.
 *
 * On a device whose QUERY caps lack FPGADMA_CAP_STREAM (the edu engine):
 * QUERY's stream_mmap_off, stream_area_size and max_streams are 0, as
 * fpgadma_query()'s max_streams; fpgadma_stream_start() on a well-formed
 * ring in a writable MR returns -EOPNOTSUPP and no stream; the raw
 * STREAM_START, STREAM_STOP (with and without a drain) and STREAM_STATS,
 * each well-formed, fail with EOPNOTSUPP; nothing arrives in the completion
 * ring and nothing stays pinned or registered.  On a device with paced
 * streams (the soft engine) it skips: the stream_* tests check them there.
 */
#include "helpers.h"

#include <sys/ioctl.h>

int main(int argc, char **argv)
{
	const size_t len = 4096;
	struct fpgadma_stream_attr a = {
		.ring_offset = 0, .ring_length = len, .slot_size = 1024, .nslots = 4,
		.frame_size = 1024, .frame_period_ns = 1000000, .cqe_every = 1,
		.user_data = 0x554e53,
	};
	struct fpgadma_stream_start start;
	struct fpgadma_stream_stop stop;
	struct fpgadma_stream_query sq;
	struct fpgadma_stream *s = (struct fpgadma_stream *)&a;	/* must be set to NULL */
	struct fpgadma_query q;
	struct fpgadma_mr *mr;
	struct t_snap begin;
	struct t_dev d;
	uint8_t *buf;
	int fd;

	t_init(argc, argv, 60);
	t_snap_take(&begin);
	t_open(&d);
	if (d.attr.caps & FPGADMA_CAP_STREAM)
		t_skip("the %s engine has paced streams (FPGADMA_CAP_STREAM): the stream_* tests "
		       "check them", t_engine_name(d.attr.engine));
	fd = fpgadma_get_fd(d.ctx);
	CHECK_EQ(d.attr.max_streams, 0);
	memset(&q, 0xff, sizeof(q));
	CHECK_SYS(ioctl(fd, FPGADMA_IOC_QUERY, &q));
	CHECK_EQ(q.caps & FPGADMA_CAP_STREAM, 0);
	CHECK_EQ(q.stream_mmap_off, 0);
	CHECK_EQ(q.stream_area_size, 0);
	CHECK_EQ(q.max_streams, 0);
	t_log("%s engine: caps 0x%llx without FPGADMA_CAP_STREAM, stream_mmap_off, "
	      "stream_area_size and max_streams 0", t_engine_name(d.attr.engine),
	      (unsigned long long)q.caps);

	buf = t_map(len);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_RET(fpgadma_stream_start(mr, &a, &s), -EOPNOTSUPP);
	CHECK(s == NULL);
	t_log("fpgadma_stream_start: -EOPNOTSUPP, no stream");

	start = (struct fpgadma_stream_start){
		.user_data = 1, .ring_length = len, .lkey = mr->lkey, .slot_size = 1024,
		.nslots = 4, .frame_size = 1024, .frame_period_ns = 1000000,
	};
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_STREAM_START, &start), EOPNOTSUPP);
	CHECK_EQ(start.stream_id, 0);
	CHECK_EQ(start.ctrl_off, 0);
	stop = (struct fpgadma_stream_stop){ .stream_id = 1 };
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_STREAM_STOP, &stop), EOPNOTSUPP);
	stop = (struct fpgadma_stream_stop){ .stream_id = 1, .drain_ms = 10 };
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_STREAM_STOP, &stop), EOPNOTSUPP);
	sq = (struct fpgadma_stream_query){ .stream_id = 1 };
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_STREAM_STATS, &sq), EOPNOTSUPP);
	CHECK_EQ(sq.stats.frames, 0);
	CHECK_EQ(sq.stats.state, 0);
	t_log("raw STREAM_START, STREAM_STOP (drain 0 and 10 ms) and STREAM_STATS: EOPNOTSUPP");

	t_expect_no_cqe(d.ctx, 100);
	t_dereg(mr);
	t_unmap(buf, len);
	t_close(&d);
	CHECK_SNAP(&begin, 0, 0, "at the end");
	t_log("no CQE, nothing pinned or registered");
	t_pass();
}
