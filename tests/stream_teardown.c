// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stream_teardown: however a running paced stream ends, the device stops
 * writing, its MR is let go, and the device keeps working.
 *
 *  a. The ring's MR is deregistered while the stream runs: DEREG returns;
 *     fpgadma_stream_state() says STOPPED by DEREG at once; the stats are
 *     still readable (STOPPED, DEREG, FIFO empty, the counters agreeing,
 *     every frame written complete and every drop accounted for); one END
 *     CQE (FLUSH_ERR, FPGADMA_STREAM_END_DEREG); nothing is pinned any
 *     more; the ring's memory does not change for 50 ms; then
 *     fpgadma_stream_stop() frees the stream (0, the same final counters)
 *     and no CQE comes after the END.
 *  b. A child process starts a stream, takes a few frames and exits
 *     without stopping it (the kernel stops it when the file closes).
 *  c. A child is killed with SIGKILL while it consumes a stream.
 *  d. fpgadma_close() of a context whose stream runs.
 *  e. Stops at 20000 frames/s of 16 KiB frames (frames in flight, the
 *     FIFO full), three with drain_ms 0 and three with drain_ms 50: the
 *     final counters agree (FIFO empty after the stop, frames == delivered
 *     + drops), every frame the write index counts is complete, every drop
 *     is accounted for, one END CQE (SUCCESS, STOP) ends the stream's
 *     CQEs, and the ring does not change for 50 ms after the stop.
 * After each: the pins, live MRs and pinned pages are back where they were
 * (settling, after a child), and a new stream delivers frames.
 */
#include "helpers.h"

#include <signal.h>
#include <time.h>

#define SEED		0x5445415244574e31ULL

static struct t_dev d;

static void idle(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 };

	nanosleep(&ts, NULL);
}

/* The ring memory must not change for 50 ms. */
static void expect_quiet(const uint8_t *buf, size_t len, const char *what)
{
	uint8_t *snap = malloc(len);

	CHECK(snap != NULL);
	memcpy(snap, buf, len);
	t_sleep_ms(50);
	if (memcmp(snap, buf, len)) {
		size_t i = 0;

		while (i < len && snap[i] == buf[i])
			i++;
		t_fail("%s: the ring's memory changed within 50 ms (byte %zu: 0x%02x -> 0x%02x)",
		       what, i, snap[i], buf[i]);
	}
	free(snap);
}

/* Take frames until at least n were checked, within the CQE timeout. */
static void take(struct t_dev *x, struct t_frames *f, struct fpgadma_stream *s,
		 struct t_stream_cqes *cq, uint64_t n)
{
	uint64_t deadline = t_now_ms() + T_CQE_TIMEOUT_MS;

	while (f->n < n) {
		CHECK_MSG(t_now_ms() < deadline, "only %llu of %llu frames",
			  (unsigned long long)f->n, (unsigned long long)n);
		if (!t_frames_consume(f, s, false))
			idle();
		if (cq)
			t_stream_poll(x->ctx, cq);
	}
}

/* A new stream on the device delivers frames. */
static void smoke(const char *after)
{
	const uint32_t fs = 256, nslots = 8;
	size_t len = nslots * fs;
	struct fpgadma_stream_attr a = {
		.ring_length = len, .slot_size = fs, .nslots = nslots, .frame_size = fs,
		.frame_period_ns = 1000000, .cqe_every = 1, .user_data = 0x534d4f4b,
	};
	struct fpgadma_stream_stats fin;
	struct fpgadma_stream *s;
	struct fpgadma_mr *mr;
	struct t_stream_cqes cq;
	struct t_frames f;
	uint8_t *buf = t_map(len);
	uint64_t t0;

	t_fill(buf, len, SEED, 0);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	t_frames_init(&f, s, &a, buf, SEED, false, t0);
	t_stream_cqes_init(&cq, &a);
	take(&d, &f, s, &cq, 5);
	CHECK_OK(fpgadma_stream_stop(s, 0, &fin));
	CHECK_STREAM_STATS(&fin, fs, "smoke stream stopped");
	t_frames_final(&f, &fin);
	t_stream_wait_end(d.ctx, &cq, FPGADMA_WC_SUCCESS, FPGADMA_STREAM_END_STOP, fin.write_idx);
	t_dereg(mr);
	t_unmap(buf, len);
	t_log("  after %s: a new stream delivered %llu frames", after, (unsigned long long)f.n);
}

/* a. DEREG of the ring's MR while the stream runs. */
static void dereg_running(void)
{
	const uint32_t fs = 4096, slot = 4096 + 9, nslots = 16;
	size_t len = 7 + (size_t)nslots * slot + 64;
	struct fpgadma_stream_attr a = {
		.ring_offset = 7, .ring_length = (uint64_t)nslots * slot, .slot_size = slot,
		.nslots = nslots, .frame_size = fs, .frame_period_ns = 500000, .cqe_every = 4,
		.user_data = 0x44455247,
	};
	struct fpgadma_stream_stats st, fin;
	struct fpgadma_stream *s;
	struct fpgadma_mr *mr;
	struct t_stream_cqes cq;
	struct t_snap before;
	struct t_frames f;
	uint32_t end = 0;
	uint8_t *buf, *snap;
	uint64_t t0, ms;

	t_snap_take(&before);
	buf = t_map(len);
	t_fill(buf, len, SEED, 0);	/* before the registration: bounce buffers agree */
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	t_frames_init(&f, s, &a, buf, SEED, true, t0);
	t_stream_cqes_init(&cq, &a);
	take(&d, &f, s, &cq, 10);

	ms = t_now_ms();
	CHECK_OK(fpgadma_dereg_mr(mr));
	ms = t_now_ms() - ms;
	snap = malloc(len);
	CHECK(snap != NULL);
	memcpy(snap, buf, len);
	CHECK_EQ(fpgadma_stream_state(s, &end), FPGADMA_STREAM_STOPPED);
	CHECK_EQ(end, FPGADMA_STREAM_END_DEREG);
	CHECK_OK(fpgadma_stream_stats(s, &st));
	CHECK_STREAM_STATS(&st, fs, "after DEREG");
	CHECK_EQ(st.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(st.end, FPGADMA_STREAM_END_DEREG);
	CHECK_EQ(st.fifo_level, 0);
	t_stream_stats_log("  after DEREG", &st);
	t_frames_final(&f, &st);
	t_stream_wait_end(d.ctx, &cq, FPGADMA_WC_FLUSH_ERR, FPGADMA_STREAM_END_DEREG, st.write_idx);
	CHECK_SNAP(&before, 0, 0, "after DEREG of the running stream's MR");
	t_sleep_ms(50);
	CHECK_MSG(!memcmp(snap, buf, len), "the ring changed after its MR's deregistration");
	free(snap);

	CHECK_OK(fpgadma_stream_stop(s, 0, &fin));
	CHECK_STREAM_STATS(&fin, fs, "STOP after DEREG");
	CHECK_EQ(fin.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(fin.end, FPGADMA_STREAM_END_DEREG);
	CHECK_EQ(fin.frames, st.frames);
	CHECK_EQ(fin.write_idx, st.write_idx);
	CHECK_EQ(fin.drops, st.drops);
	t_expect_no_cqe(d.ctx, 50);
	t_unmap(buf, len);
	t_log("a. DEREG of the ring's MR while streaming (%llu frames taken): returned in %llu ms, "
	      "state STOPPED by DEREG, stats readable, END FLUSH_ERR/DEREG, nothing pinned, ring "
	      "quiet, STOP then freed it with the same counters", (unsigned long long)f.n,
	      (unsigned long long)ms);
	smoke("DEREG");
}

/* b, c. The child: start a stream, take frames, then exit or wait to die. */
static void child(bool killed, int ready_fd)
{
	const uint32_t fs = 1024, nslots = 16;
	size_t len = (size_t)nslots * fs;
	struct fpgadma_stream_attr a = {
		.ring_length = len, .slot_size = fs, .nslots = nslots, .frame_size = fs,
		.frame_period_ns = 500000, .cqe_every = 1, .user_data = 0x4348494c,
	};
	struct fpgadma_stream *s;
	struct fpgadma_mr *mr;
	struct t_frames f;
	struct t_dev c;
	uint8_t *buf;
	uint64_t t0;

	t_open(&c);
	buf = t_map(len);
	mr = t_reg(&c, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	t_frames_init(&f, s, &a, buf, SEED, false, t0);
	take(&c, &f, s, NULL, 5);
	if (write(ready_fd, "r", 1) != 1)
		_exit(5);
	if (!killed)
		_exit(0);	/* no stop, no close: the exit does it */
	for (;;) {
		if (!t_frames_consume(&f, s, false))
			idle();
	}
}

static void child_case(bool killed, const char *what)
{
	struct t_snap before;
	int fds[2], status;
	uint64_t ms;
	pid_t pid;
	char ch;

	t_snap_take(&before);
	CHECK_SYS(pipe(fds));
	pid = fork();
	CHECK_SYS(pid);
	if (!pid) {
		close(fds[0]);
		child(killed, fds[1]);
		_exit(6);
	}
	close(fds[1]);
	CHECK_MSG(read(fds[0], &ch, 1) == 1, "%s: the child did not get its frames", what);
	close(fds[0]);
	if (killed) {
		t_sleep_ms(20);	/* consuming */
		CHECK_SYS(kill(pid, SIGKILL));
	}
	status = t_wait_child(pid, 30000);
	if (killed)
		CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "%s: child status %#x", what, status);
	else
		CHECK_CHILD_OK(status);
	ms = CHECK_SETTLED(&before, 10000, what);
	t_log("%s: pins back in %llu ms", what, (unsigned long long)ms);
	smoke(what);
}

/* d. fpgadma_close() with the stream running. */
static void close_running(void)
{
	const uint32_t fs = 2048, nslots = 8;
	size_t len = (size_t)nslots * fs;
	struct fpgadma_stream_attr a = {
		.ring_length = len, .slot_size = fs, .nslots = nslots, .frame_size = fs,
		.frame_period_ns = 250000, .cqe_every = 2, .user_data = 0x434c4f53,
	};
	struct fpgadma_stream *s;
	struct fpgadma_mr *mr;
	struct t_snap before;
	struct t_frames f;
	struct t_dev e;
	uint8_t *buf;
	uint64_t t0;

	t_snap_take(&before);
	t_open(&e);
	buf = t_map(len);
	t_fill(buf, len, SEED, 0);
	mr = t_reg(&e, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	t_frames_init(&f, s, &a, buf, SEED, true, t0);
	take(&e, &f, s, NULL, 5);
	CHECK_OK(fpgadma_close(e.ctx));	/* the stream, the MR, the PD */
	CHECK_SNAP(&before, 0, 0, "after fpgadma_close with the stream running");
	expect_quiet(buf, len, "after fpgadma_close");
	t_unmap(buf, len);
	t_log("d. fpgadma_close with the stream running (%llu frames taken): nothing pinned, "
	      "the ring quiet", (unsigned long long)f.n);
	smoke("fpgadma_close");
}

/* e. Stops at a high rate, frames in flight. */
static void stop_fast(struct t_rng *rng, unsigned int drain_ms, unsigned int round)
{
	const uint32_t fs = 16384 + 8, slot = 16384 + 8 + 3, nslots = 16;
	size_t len = 5 + (size_t)nslots * slot + 11;
	struct fpgadma_stream_attr a = {
		.ring_offset = 5, .ring_length = (uint64_t)nslots * slot, .slot_size = slot,
		.nslots = nslots, .frame_size = fs, .frame_period_ns = 50000, .cqe_every = 16,
		.user_data = 0x46415354 + round,
	};
	struct fpgadma_stream_stats fin;
	struct fpgadma_stream *s;
	struct fpgadma_mr *mr;
	struct t_stream_cqes cq;
	struct t_snap before;
	struct t_frames f;
	uint64_t t0, end, ms;
	uint8_t *buf;

	t_snap_take(&before);
	buf = t_map(len);
	t_fill(buf, len, SEED + round, 0);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	t_frames_init(&f, s, &a, buf, SEED + round, true, t0);
	t_stream_cqes_init(&cq, &a);
	take(&d, &f, s, &cq, 3);
	end = t_now_ms() + 20 + t_rand_below(rng, 60);
	while (t_now_ms() < end) {
		if (!t_frames_consume(&f, s, false))
			idle();
		t_stream_poll(d.ctx, &cq);
	}
	ms = t_now_ms();
	CHECK_OK(fpgadma_stream_stop(s, drain_ms, &fin));
	ms = t_now_ms() - ms;
	CHECK_STREAM_STATS(&fin, fs, "stopped at a high rate");
	CHECK_EQ(fin.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(fin.end, FPGADMA_STREAM_END_STOP);
	CHECK_EQ(fin.fifo_level, 0);
	CHECK_EQ(fin.frames, fin.frames_delivered + fin.drops);
	expect_quiet(buf, len, "after the stop");
	t_frames_final(&f, &fin);
	t_stream_wait_end(d.ctx, &cq, FPGADMA_WC_SUCCESS, FPGADMA_STREAM_END_STOP, fin.write_idx);
	t_expect_no_cqe(d.ctx, 20);
	t_log("e. stop with drain_ms %u after %llu frames written (%llu dropped, FIFO high water "
	      "%u of %u): returned in %llu ms, every frame complete, ring quiet", drain_ms,
	      (unsigned long long)fin.write_idx, (unsigned long long)fin.drops, fin.fifo_hwm,
	      fin.fifo_frames, (unsigned long long)ms);
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after the stop and DEREG");
	t_unmap(buf, len);
}

int main(int argc, char **argv)
{
	uint64_t seed = t_seed(argc, argv);
	struct t_snap start;
	struct t_rng rng;
	unsigned int i;

	t_init(argc, argv, 150);
	t_log("seed %llu", (unsigned long long)seed);
	t_rng_seed(&rng, seed);
	t_open(&d);
	t_need_stream(&d);
	t_snap_take(&start);

	dereg_running();
	child_case(false, "b. a child exits with its stream running");
	child_case(true, "c. a child is killed (SIGKILL) while consuming its stream");
	close_running();
	for (i = 0; i < 6; i++)
		stop_fast(&rng, i < 3 ? 0 : 50, i);
	smoke("the stops");

	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&d);
	t_pass();
}
