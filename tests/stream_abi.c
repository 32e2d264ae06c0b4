// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stream_abi: the paced-stream ioctls and the stream area refuse what they
 * must, and a refused call leaves nothing behind.
 *
 * Raw ioctls on the context's fd (a "witness" stream runs throughout, at
 * 200 frames/s into 4 slots never handed back):
 *  - QUERY: FPGADMA_CAP_STREAM, the stream area's offset (page-aligned,
 *    clear of the completion ring and the monitor area) and size
 *    (max_streams pages), max_streams >= 1 as fpgadma_query() and the
 *    module parameter say;
 *  - STREAM_START: an unknown flag, a reserved field, an out field on input
 *    (stream_id, ctrl_off), lkey 0, an unknown lkey, another context's
 *    lkey, a ring outside the MR (by one byte at either end, offset +
 *    length overflowing, longer than the MR), nslots 0, slot_size 0 or
 *    below frame_size, nslots * slot_size beyond ring_length (also where
 *    the product overflows 32 bits), a frame_size below the 48-byte header,
 *    both a period and a byte rate, a byte rate no period can give: EINVAL;
 *    an MR without FPGADMA_ACCESS_LOCAL_WRITE: EACCES; NULL: EFAULT; a
 *    result that cannot be written back: EFAULT and no stream left running;
 *  - what is valid works: a ring ending on the MR's last byte, a 48-byte
 *    frame, an odd frame size, zeroes for the defaults (frame_size,
 *    fifo_frames, the period written back, as the module parameters say),
 *    a byte rate turned into its period; ids 1..max_streams, each control
 *    block at its own page of the area, showing RUNNING;
 *  - ENOSPC with max_streams running, and a START works again once one is
 *    stopped;
 *  - STREAM_STOP and STREAM_STATS: flags, reserved fields or the stats (an
 *    out field) set on input: EINVAL and the stream keeps running; ids 0,
 *    max_streams + 1, 2^32 - 1 and one already stopped: EINVAL; NULL:
 *    EFAULT; a STOP gives the final counters once, a second STOP EINVAL;
 *  - POST of the completion-only opcodes STREAM_FRAMES and STREAM_END:
 *    EINVAL;
 *  - mmap of the stream area: read-write MAP_SHARED with its size works
 *    and shows the witness's control block; MAP_PRIVATE, one page longer
 *    and at an offset one page into the area: EINVAL; PROT_EXEC: refused;
 *    mprotect to PROT_EXEC: EACCES.
 * After every refusal the witness still runs, nothing is pinned or
 * registered beyond the test's MRs, and at the end exactly max_streams
 * streams fit again: no refused call kept an id.
 */
#include "helpers.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#define RING_FS		256
#define RING_NSLOTS	4
#define MR_LEN		(64 * 1024)

static int fd;
static struct fpgadma_query q;
static struct t_dev d;
static uint8_t *buf;
static struct fpgadma_mr *mr, *ro_mr;
static struct t_snap with_mrs;
static uint32_t witness;
static uint64_t witness_off;
static uint8_t *area;		/* the test's own mapping of the stream area */
static unsigned int refusals;

static int xioctl(unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

#define CHECK_IOCTL(cmd, arg, want) do {					\
	int _r = xioctl(cmd, arg);						\
	if (_r != (want))							\
		t_fail("ioctl %s: %s, expected %s", #cmd, t_errname(_r),	\
		       t_errname(want));					\
} while (0)

static struct fpgadma_stream_start good(void)
{
	return (struct fpgadma_stream_start){
		.user_data = 0x414249,
		.ring_offset = 0,
		.ring_length = RING_NSLOTS * RING_FS,
		.lkey = mr->lkey,
		.slot_size = RING_FS,
		.nslots = RING_NSLOTS,
		.frame_size = RING_FS,
		.frame_period_ns = 5000000,
		.cqe_every = 1000,
	};
}

static const struct fpgadma_stream_ctrl *ctrl_at(uint64_t off)
{
	return (const struct fpgadma_stream_ctrl *)(area + off);
}

static void stats_of(uint32_t id, struct fpgadma_stream_stats *st)
{
	struct fpgadma_stream_query sq = { .stream_id = id };

	CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, 0);
	*st = sq.stats;
}

/* Take the CQEs of the streams stopped so far: only FRAMES and END. */
static void drain_cqes(void)
{
	struct fpgadma_cqe c[32];
	int r, i;

	do {
		r = fpgadma_poll(d.ctx, c, 32);
		CHECK_OK(r);
		for (i = 0; i < r; i++)
			CHECK_MSG(c[i].opcode == FPGADMA_WR_STREAM_FRAMES ||
				  c[i].opcode == FPGADMA_WR_STREAM_END,
				  "a CQE of opcode %u (wr_id 0x%llx)", c[i].opcode,
				  (unsigned long long)c[i].wr_id);
	} while (r == 32);
}

/* After a refused call: the witness runs, nothing more pinned or registered. */
static void unchanged_at(int line, const char *what)
{
	struct fpgadma_stream_stats st;
	uint32_t end;

	stats_of(witness, &st);
	t_stream_stats_check_at(__FILE__, line, &st, RING_FS, what);
	if (st.state != FPGADMA_STREAM_RUNNING || st.end || st.write_idx > RING_NSLOTS)
		t_fail_at(__FILE__, line, "%s: the witness stream is %s (end %s), write_idx %llu",
			  what, t_stream_state_name(st.state), t_stream_end_name(st.end),
			  (unsigned long long)st.write_idx);
	end = __atomic_load_n(&ctrl_at(witness_off)->end, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&ctrl_at(witness_off)->state, __ATOMIC_ACQUIRE) !=
	    FPGADMA_STREAM_RUNNING || end)
		t_fail_at(__FILE__, line, "%s: the witness's control block says %s", what,
			  t_stream_state_name(ctrl_at(witness_off)->state));
	t_snap_expect_at(__FILE__, line, what, &with_mrs, 0, 0);
	refusals++;
}
#define UNCHANGED(what) unchanged_at(__LINE__, what)

/* START must fail with want, and leave nothing. */
static void start_refused_at(int line, struct fpgadma_stream_start *s, int want,
			     const char *what)
{
	int r = xioctl(FPGADMA_IOC_STREAM_START, s);

	if (r != want)
		t_fail_at(__FILE__, line, "STREAM_START with %s: %s, expected %s", what,
			  t_errname(r), t_errname(want));
	unchanged_at(line, what);
}
#define START_REFUSED(s, want, what) start_refused_at(__LINE__, s, want, what)

/* START must work; returns the id (the stream runs), checking what came back. */
static uint32_t start_ok_at(int line, struct fpgadma_stream_start *s, const char *what)
{
	int r = xioctl(FPGADMA_IOC_STREAM_START, s);
	size_t page = t_page_size();

	if (r)
		t_fail_at(__FILE__, line, "STREAM_START with %s: %s", what, t_errname(r));
	if (s->stream_id < 1 || s->stream_id > q.max_streams || s->ctrl_off % page ||
	    s->ctrl_off + sizeof(struct fpgadma_stream_ctrl) > q.stream_area_size)
		t_fail_at(__FILE__, line, "STREAM_START with %s: id %u (1..%u), ctrl_off %llu "
			  "(area %u bytes)", what, s->stream_id, q.max_streams,
			  (unsigned long long)s->ctrl_off, q.stream_area_size);
	if (__atomic_load_n(&ctrl_at(s->ctrl_off)->state, __ATOMIC_ACQUIRE) !=
	    FPGADMA_STREAM_RUNNING)
		t_fail_at(__FILE__, line, "STREAM_START with %s: its control block says %s", what,
			  t_stream_state_name(ctrl_at(s->ctrl_off)->state));
	return s->stream_id;
}
#define START_OK(s, what) start_ok_at(__LINE__, s, what)

static void stop_ok(uint32_t id, uint32_t frame_size, struct fpgadma_stream_stats *fin)
{
	struct fpgadma_stream_stop sp = { .stream_id = id };

	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, 0);
	CHECK_EQ(sp.stream_id, id);
	CHECK_STREAM_STATS(&sp.stats, frame_size, "final");
	CHECK_EQ(sp.stats.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(sp.stats.end, FPGADMA_STREAM_END_STOP);
	CHECK_EQ(sp.stats.fifo_level, 0);
	if (fin)
		*fin = sp.stats;
}

static void check_query(void)
{
	size_t page = t_page_size();
	uint64_t ring = (q.ring_size + page - 1) & ~(uint64_t)(page - 1);
	unsigned int i;

	CHECK(q.caps & FPGADMA_CAP_STREAM);
	CHECK_GE(q.max_streams, 1);
	CHECK_EQ(q.max_streams, d.attr.max_streams);
	CHECK_EQ(q.stream_area_size, (uint64_t)q.max_streams * page);
	CHECK(q.stream_mmap_off && q.stream_mmap_off % page == 0);
	CHECK(q.stream_mmap_off >= ring);
	CHECK(q.stream_mmap_off >= q.mon_mmap_off + q.mon_size ||
	      q.stream_mmap_off + q.stream_area_size <= q.mon_mmap_off);
	for (i = 0; i < T_ARRAY_SIZE(q.reserved); i++)
		CHECK_EQ(q.reserved[i], 0);
	if (t_module_param("max_streams") >= 0)
		CHECK_EQ(q.max_streams, t_module_param("max_streams"));
	t_log("QUERY: FPGADMA_CAP_STREAM, stream area at 0x%llx, %u bytes, %u streams",
	      (unsigned long long)q.stream_mmap_off, q.stream_area_size, q.max_streams);
}

static void mmap_cases(void)
{
	size_t page = t_page_size(), size = q.stream_area_size;
	void *m;
	int e;

	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)q.stream_mmap_off);
	CHECK(m == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	m = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)q.stream_mmap_off);
	CHECK(m == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)(q.stream_mmap_off + page));
	CHECK(m == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, fd,
		 (off_t)q.stream_mmap_off);
	e = errno;
	CHECK(m == MAP_FAILED);
	CHECK_MSG(e == EPERM || e == EACCES, "PROT_EXEC mmap of the stream area: %s",
		  t_errname(e));
	area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)q.stream_mmap_off);
	CHECK(area != MAP_FAILED);
	CHECK_ERRNO(mprotect(area, size, PROT_READ | PROT_WRITE | PROT_EXEC), EACCES);
	t_log("mmap of the stream area: MAP_PRIVATE, one page too long, one page into it EINVAL, "
	      "PROT_EXEC %s, "
	      "read-write MAP_SHARED works, mprotect to PROT_EXEC EACCES", t_errname(e));
}

static void start_refusals(void)
{
	struct fpgadma_stream_start s;
	struct t_dev e;
	struct fpgadma_mr *other;
	uint8_t *obuf;
	unsigned int i;

	s = good(); s.flags = 1;
	START_REFUSED(&s, -EINVAL, "flags 1");
	s = good(); s.flags = 1U << 31;
	START_REFUSED(&s, -EINVAL, "flags bit 31");
	for (i = 0; i < T_ARRAY_SIZE(s.reserved); i++) {
		s = good(); s.reserved[i] = i == 3 ? 1ULL << 63 : 1;
		START_REFUSED(&s, -EINVAL, "a reserved field");
	}
	s = good(); s.stream_id = 1;
	START_REFUSED(&s, -EINVAL, "stream_id (out) 1 on input");
	s = good(); s.ctrl_off = t_page_size();
	START_REFUSED(&s, -EINVAL, "ctrl_off (out) set on input");
	t_log("STREAM_START: flags, reserved, stream_id and ctrl_off on input: EINVAL");

	s = good(); s.lkey = 0;
	START_REFUSED(&s, -EINVAL, "lkey 0");
	s = good(); s.lkey = mr->lkey ^ 0x5a5a5a5a;
	if (s.lkey != ro_mr->lkey)
		START_REFUSED(&s, -EINVAL, "an unknown lkey");
	t_open(&e);
	obuf = t_map(4096);
	other = t_reg(&e, obuf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	s = good(); s.lkey = other->lkey;
	if (s.lkey != mr->lkey && s.lkey != ro_mr->lkey) {
		int r = xioctl(FPGADMA_IOC_STREAM_START, &s);

		CHECK_MSG(r == -EINVAL, "STREAM_START with another context's lkey: %s",
			  t_errname(r));
	}
	t_dereg(other);
	t_unmap(obuf, 4096);
	t_close(&e);
	UNCHANGED("another context's lkey");
	s = good(); s.lkey = ro_mr->lkey;
	START_REFUSED(&s, -EACCES, "an MR without LOCAL_WRITE");
	t_log("STREAM_START: lkey 0, unknown, another context's: EINVAL; an MR without "
	      "LOCAL_WRITE: EACCES");

	s = good(); s.ring_offset = MR_LEN - s.ring_length + 1;
	START_REFUSED(&s, -EINVAL, "a ring one byte past the MR's end");
	s = good(); s.ring_offset = MR_LEN;
	START_REFUSED(&s, -EINVAL, "a ring starting at the MR's end");
	s = good(); s.ring_length = MR_LEN + 1;
	START_REFUSED(&s, -EINVAL, "ring_length one byte longer than the MR");
	s = good(); s.ring_offset = UINT64_MAX - 100;
	START_REFUSED(&s, -EINVAL, "ring_offset + ring_length overflowing");
	s = good(); s.ring_offset = 1; s.ring_length = UINT64_MAX;
	START_REFUSED(&s, -EINVAL, "ring_length 2^64 - 1");
	s = good(); s.ring_offset = (uint64_t)(uintptr_t)buf;	/* an address, not an offset */
	START_REFUSED(&s, -EINVAL, "the MR's address as ring_offset");
	t_log("STREAM_START: rings outside the MR (past either end, overflowing, the MR's "
	      "address as an offset): EINVAL");

	s = good(); s.nslots = 0;
	START_REFUSED(&s, -EINVAL, "nslots 0");
	s = good(); s.slot_size = 0;
	START_REFUSED(&s, -EINVAL, "slot_size 0");
	s = good(); s.slot_size = RING_FS - 1;
	START_REFUSED(&s, -EINVAL, "slot_size one below frame_size");
	s = good(); s.ring_length = RING_NSLOTS * RING_FS - 1;
	START_REFUSED(&s, -EINVAL, "nslots * slot_size one beyond ring_length");
	s = good(); s.nslots = 0x80000000U; s.slot_size = 0x80000000U;
	START_REFUSED(&s, -EINVAL, "nslots * slot_size = 2^62");
	s = good(); s.nslots = 0xffffffffU; s.slot_size = 4096;
	START_REFUSED(&s, -EINVAL, "2^32 - 1 slots");
	s = good(); s.frame_size = 47; s.slot_size = 47;
	START_REFUSED(&s, -EINVAL, "frame_size 47");
	s = good(); s.frame_size = 40;
	START_REFUSED(&s, -EINVAL, "frame_size 40");
	s = good(); s.frame_size = 1;
	START_REFUSED(&s, -EINVAL, "frame_size 1");
	s = good(); s.byte_rate = 1000000;
	START_REFUSED(&s, -EINVAL, "both a period and a byte rate");
	s = good(); s.frame_period_ns = 0; s.byte_rate = UINT64_MAX;
	START_REFUSED(&s, -EINVAL, "a byte rate of 2^64 - 1 (a period of 0 ns)");
	t_log("STREAM_START: nslots 0, slot_size 0 or below frame_size, slots beyond "
	      "ring_length, frame_size below 48, period and byte rate, an impossible byte rate: "
	      "EINVAL");

	CHECK_IOCTL(FPGADMA_IOC_STREAM_START, NULL, -EFAULT);
	CHECK_IOCTL(FPGADMA_IOC_STREAM_START, (void *)0xffff888000000000ULL, -EFAULT);
	UNCHANGED("NULL argument");
	{
		size_t page = t_page_size();
		uint8_t *ro = t_map(page);
		struct fpgadma_stream_start *in_ro = (struct fpgadma_stream_start *)ro;

		*in_ro = good();
		CHECK_SYS(mprotect(ro, page, PROT_READ));
		CHECK_IOCTL(FPGADMA_IOC_STREAM_START, in_ro, -EFAULT);
		t_unmap(ro, page);
		UNCHANGED("a START whose answer cannot be written back");
		drain_cqes();	/* the END of the stream it stopped again */
	}
	t_log("STREAM_START: NULL, a kernel address, read-only memory: EFAULT (the last stopped)");
}

static void valid_starts(void)
{
	struct fpgadma_stream_stats fin;
	struct fpgadma_stream_start s;
	long long p;
	uint32_t id;

	s = good(); s.ring_offset = MR_LEN - s.ring_length;
	id = START_OK(&s, "a ring ending on the MR's last byte");
	stop_ok(id, RING_FS, NULL);
	s = good(); s.frame_size = 48; s.slot_size = 48; s.ring_length = 4 * 48;
	id = START_OK(&s, "48-byte frames");
	CHECK_EQ(s.frame_size, 48);
	stop_ok(id, 48, NULL);
	s = good(); s.frame_size = 77; s.slot_size = 81; s.ring_offset = 3;
	s.ring_length = 4 * 81;
	id = START_OK(&s, "77-byte frames in 81-byte slots 3 bytes in");
	CHECK_EQ(s.frame_size, 77);
	stop_ok(id, 77, NULL);
	s = good(); s.frame_period_ns = 0; s.byte_rate = RING_FS * 1000ULL;
	id = START_OK(&s, "a byte rate");
	CHECK_EQ(s.frame_period_ns, 1000000);
	CHECK_EQ(s.byte_rate, RING_FS * 1000ULL);
	stop_ok(id, RING_FS, &fin);
	CHECK_EQ(fin.frame_period_ns, 1000000);

	/* zeroes: the defaults, written back */
	s = good(); s.frame_size = 0; s.fifo_frames = 0; s.frame_period_ns = 0;
	s.slot_size = MR_LEN; s.nslots = 1; s.ring_length = MR_LEN;
	id = START_OK(&s, "the default frame size, FIFO depth and period");
	CHECK(s.frame_size >= FPGADMA_FRAME_HDR_SIZE && s.frame_size <= MR_LEN);
	CHECK_GT(s.fifo_frames, 0);
	CHECK_GT(s.frame_period_ns, 0);
	if ((p = t_module_param("stream_frame_size")) >= 0)
		CHECK_EQ(s.frame_size, p);
	if ((p = t_module_param("stream_fifo_frames")) >= 0)
		CHECK_EQ(s.fifo_frames, p);
	if ((p = t_module_param("stream_period_ns")) >= 0)
		CHECK_EQ(s.frame_period_ns, p);
	stop_ok(id, s.frame_size, &fin);
	CHECK_EQ(fin.fifo_frames, s.fifo_frames);
	CHECK_EQ(fin.frame_period_ns, s.frame_period_ns);
	drain_cqes();
	UNCHANGED("after the valid starts");
	t_log("STREAM_START: a ring ending on the MR's end, 48- and 77-byte frames, a byte rate "
	      "(period 1 ms written back), the defaults (frame %u bytes, FIFO %u, period %llu ns "
	      "written back): work", s.frame_size, s.fifo_frames,
	      (unsigned long long)s.frame_period_ns);
}

static void stop_stats_refusals(void)
{
	struct fpgadma_stream_query sq;
	struct fpgadma_stream_stop sp;
	uint32_t bad_ids[] = { 0, q.max_streams + 1, 0xffffffffU };
	unsigned int i;

	sp = (struct fpgadma_stream_stop){ .stream_id = witness, .flags = 1 };
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
	UNCHANGED("STOP with flags");
	sp = (struct fpgadma_stream_stop){ .stream_id = witness, .reserved0 = 1 };
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
	UNCHANGED("STOP with reserved0");
	sp = (struct fpgadma_stream_stop){ .stream_id = witness, .reserved = { 0, 1 } };
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
	UNCHANGED("STOP with reserved");
	sp = (struct fpgadma_stream_stop){ .stream_id = witness, .drain_ms = 10 };
	sp.stats.frames = 1;
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
	UNCHANGED("STOP with stats.frames (out) set");
	sp = (struct fpgadma_stream_stop){ .stream_id = witness };
	sp.stats.reserved[1] = 1;
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
	UNCHANGED("STOP with stats.reserved set");

	sq = (struct fpgadma_stream_query){ .stream_id = witness, .flags = 1 };
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
	sq = (struct fpgadma_stream_query){ .stream_id = witness, .reserved = { 1, 0 } };
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
	sq = (struct fpgadma_stream_query){ .stream_id = witness };
	sq.stats.state = 1;
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
	sq = (struct fpgadma_stream_query){ .stream_id = witness };
	sq.stats.write_idx = 1ULL << 40;
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
	UNCHANGED("STATS with flags, reserved or stats set");

	for (i = 0; i < T_ARRAY_SIZE(bad_ids); i++) {
		if (bad_ids[i] == witness)
			continue;
		sp = (struct fpgadma_stream_stop){ .stream_id = bad_ids[i] };
		CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
		sp = (struct fpgadma_stream_stop){ .stream_id = bad_ids[i], .drain_ms = 5 };
		CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
		sq = (struct fpgadma_stream_query){ .stream_id = bad_ids[i] };
		CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
	}
	UNCHANGED("STOP and STATS of ids 0, max_streams + 1, 2^32 - 1");
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, NULL, -EFAULT);
	CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, NULL, -EFAULT);
	UNCHANGED("STOP and STATS with NULL");
	t_log("STREAM_STOP, STREAM_STATS: flags, reserved, stats (out) on input: EINVAL, the "
	      "stream kept running; ids 0, max_streams + 1, 2^32 - 1: EINVAL; NULL: EFAULT");
}

/* max_streams at once, then ENOSPC; a stopped id is no longer known. */
static void limits(void)
{
	uint32_t ids[256];
	uint64_t offs[256];
	struct fpgadma_stream_start s;
	struct fpgadma_stream_query sq;
	struct fpgadma_stream_stop sp;
	unsigned int n = 1, i, j;

	CHECK_LE(q.max_streams, 256);
	ids[0] = witness;
	offs[0] = witness_off;
	while (n < q.max_streams) {
		s = good();
		/* distinct rings; with many streams they wrap (overlap is allowed) */
		s.ring_offset = (1024 * (uint64_t)n) % (MR_LEN - 1024);
		s.user_data = 0x4c494d00 + n;
		ids[n] = START_OK(&s, "one of max_streams");
		offs[n] = s.ctrl_off;
		n++;
	}
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			CHECK(ids[i] != ids[j] && offs[i] != offs[j]);
	s = good();
	CHECK_IOCTL(FPGADMA_IOC_STREAM_START, &s, -ENOSPC);
	t_snap_expect_at(__FILE__, __LINE__, "ENOSPC", &with_mrs, 0, 0);
	/* one stopped: its id is gone, and one START fits again */
	if (n > 1) {
		stop_ok(ids[n - 1], RING_FS, NULL);
		sp = (struct fpgadma_stream_stop){ .stream_id = ids[n - 1] };
		CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
		sq = (struct fpgadma_stream_query){ .stream_id = ids[n - 1] };
		CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
		s = good();
		ids[n - 1] = START_OK(&s, "a START after a STOP at max_streams");
		s = good();
		CHECK_IOCTL(FPGADMA_IOC_STREAM_START, &s, -ENOSPC);
	}
	for (i = 1; i < n; i++)
		stop_ok(ids[i], RING_FS, NULL);
	drain_cqes();
	UNCHANGED("after the max_streams streams");
	t_log("%u streams at once (distinct ids and control blocks), the next ENOSPC; a "
	      "stopped id EINVAL for STOP and STATS, and its place free again", n);
}

static void post_refusals(void)
{
	struct fpgadma_sge sg = t_sge(mr, buf, 64);
	static const uint32_t ops[] = { FPGADMA_WR_STREAM_FRAMES, FPGADMA_WR_STREAM_END };
	unsigned int i;

	for (i = 0; i < T_ARRAY_SIZE(ops); i++) {
		struct fpgadma_wr w = { .wr_id = 1, .opcode = ops[i], .sg_list = (uintptr_t)&sg,
					.num_sge = 1 };

		CHECK_RET(fpgadma_post(d.ctx, &w, 1), -EINVAL);
	}
	t_expect_no_cqe(d.ctx, 20);
	UNCHANGED("POST of STREAM_FRAMES and STREAM_END");
	t_log("POST of the completion-only opcodes STREAM_FRAMES and STREAM_END: EINVAL");
}

int main(int argc, char **argv)
{
	struct fpgadma_stream_stats fin;
	struct fpgadma_stream_start s;
	struct t_snap start;
	uint8_t *robuf;

	t_init(argc, argv, 90);
	t_open(&d);
	t_need_stream(&d);
	fd = fpgadma_get_fd(d.ctx);
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_STREAM_START), sizeof(struct fpgadma_stream_start));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_STREAM_STOP), sizeof(struct fpgadma_stream_stop));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_STREAM_STATS), sizeof(struct fpgadma_stream_query));
	CHECK_IOCTL(FPGADMA_IOC_QUERY, &q, 0);
	check_query();
	t_snap_take(&start);

	buf = t_map(MR_LEN);
	robuf = t_map(MR_LEN);
	mr = t_reg(&d, buf, MR_LEN, FPGADMA_ACCESS_LOCAL_WRITE);
	ro_mr = t_reg(&d, robuf, MR_LEN, FPGADMA_ACCESS_REMOTE_WRITE | FPGADMA_ACCESS_REMOTE_READ);
	t_snap_take(&with_mrs);
	mmap_cases();

	s = good();
	s.user_data = 0x57495421;
	witness = START_OK(&s, "the witness");
	witness_off = s.ctrl_off;
	CHECK_EQ(s.frame_size, RING_FS);
	CHECK_EQ(s.frame_period_ns, 5000000);
	CHECK_GT(s.fifo_frames, 0);
	UNCHANGED("the witness started");

	start_refusals();
	valid_starts();
	stop_stats_refusals();
	post_refusals();
	limits();

	/* the witness: STOP gives its counters once, then its id is unknown */
	stop_ok(witness, RING_FS, &fin);
	CHECK_LE(fin.write_idx, RING_NSLOTS);
	{
		struct fpgadma_stream_stop sp = { .stream_id = witness };
		struct fpgadma_stream_query sq = { .stream_id = witness };

		CHECK_IOCTL(FPGADMA_IOC_STREAM_STOP, &sp, -EINVAL);
		CHECK_IOCTL(FPGADMA_IOC_STREAM_STATS, &sq, -EINVAL);
	}
	CHECK_EQ(__atomic_load_n(&ctrl_at(witness_off)->state, __ATOMIC_ACQUIRE),
		 FPGADMA_STREAM_STOPPED);
	CHECK_EQ(ctrl_at(witness_off)->end, FPGADMA_STREAM_END_STOP);
	t_stream_stats_log("the witness, stopped", &fin);
	drain_cqes();
	t_log("%u refused calls, each leaving the witness running and nothing pinned", refusals);

	CHECK_SYS(munmap(area, q.stream_area_size));
	t_dereg(ro_mr);
	t_dereg(mr);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_unmap(buf, MR_LEN);
	t_unmap(robuf, MR_LEN);
	t_close(&d);
	t_pass();
}
