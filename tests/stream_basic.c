// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stream_basic: a paced stream delivers every frame whole, in order and on
 * the device's clock into an unaligned ring, consumed without a system call.
 *
 * One registered MR holds a ring of 61 slots of 4028 bytes starting 13
 * bytes in, with frames of 4021 bytes (not a multiple of 8: the last
 * payload word is cut), ring_length 5 bytes longer than the slots, and
 * bytes before and after the ring (canaries).  The whole buffer is filled
 * with a pattern first.  At 2000 frames/s for about a second, frames are
 * taken with fpgadma_stream_ready/slot/release only (the loop's only system
 * calls are short sleeps when nothing is ready; the completion ring is
 * polled from its mapping now and then), and every frame is checked:
 *  - header: magic, hdr_size, flags, frame_size, stream_id, reserved;
 *  - seq strictly one more than the previous frame's plus its lost_before
 *    (drops are allowed at this rate on a slow machine, and reported, but
 *    must be reported exactly);
 *  - timestamp = first timestamp + (seq - first seq) * period (the device's
 *    ideal clock), not before the start, not in the future;
 *  - every payload byte (fpgadma_stream_word, little-endian, the last word
 *    cut);
 *  - the slot's bytes past frame_size still hold the pattern;
 *  - the slot is the one fpgadma_stream_slot() names and the test computes.
 * A FRAMES CQE (cqe_every 1: one per frame, byte_len frame_size,
 * vendor_err 1, src_ep the low 32 bits of the write index after it) never
 * announces a frame the ring does not show yet.  The counters while it runs
 * and after the stop (drain 20 ms) agree (frames == delivered + drops +
 * FIFO level, FIFO empty after the stop), the frames left in the ring at
 * the stop are checked as well, and the drops counted equal the frames'
 * lost_before plus the frames produced after the last one delivered.
 * Then one END CQE (SUCCESS, FPGADMA_STREAM_END_STOP) and nothing after it;
 * canaries, the 5 bytes past the slots and slots never written untouched,
 * and the ring not written for 50 ms after the stop.
 *
 * A second stream in the same MR (ring at offset 1, 7 slots of 203 bytes,
 * frames of 200 bytes) runs at a byte rate (200 kB/s: a period of exactly
 * 1 ms) with cqe_every 8: FRAMES CQEs cover 8 frames each (byte_len 1600,
 * src_ep the write index), only the last before the END may cover fewer.
 */
#include "helpers.h"

#include <time.h>

#define SEED		0x5354524d42415349ULL
#define RING_EXTRA	5	/* ring_length past the slots: never written */
#define TAIL		333	/* bytes after the ring in the MR */

struct phase {
	const char *name;
	uint64_t ring_offset;
	uint32_t nslots, slot_size, frame_size;
	uint64_t period_ns;	/* asked, or 0 */
	uint64_t byte_rate;	/* asked, or 0 */
	uint64_t want_period_ns;
	uint32_t cqe_every;
	unsigned int run_ms, drain_ms;
	uint64_t min_frames;
};

static void idle(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 };

	nanosleep(&ts, NULL);
}

static void run(struct t_dev *d, struct fpgadma_mr *mr, uint8_t *buf, size_t len,
		const struct phase *ph, uint64_t user_data)
{
	struct fpgadma_stream_attr a = {
		.ring_offset = ph->ring_offset,
		.ring_length = (uint64_t)ph->nslots * ph->slot_size + RING_EXTRA,
		.slot_size = ph->slot_size,
		.nslots = ph->nslots,
		.frame_size = ph->frame_size,
		.frame_period_ns = ph->period_ns,
		.byte_rate = ph->byte_rate,
		.cqe_every = ph->cqe_every,
		.user_data = user_data,
	};
	uint64_t ring_end = ph->ring_offset + (uint64_t)ph->nslots * ph->slot_size;
	struct fpgadma_stream_stats st, fin;
	struct fpgadma_stream *s = NULL;
	struct t_stream_cqes cq;
	struct t_frames f;
	uint64_t t0, deadline, end, next_poll = 0, left, k;
	uint32_t endr = 99;
	uint8_t *snap;

	CHECK_LE(ring_end + RING_EXTRA, len);
	t_fill(buf, len, SEED, 0);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	CHECK(s != NULL);
	CHECK(fpgadma_stream_id(s) >= 1 && fpgadma_stream_id(s) <= d->attr.max_streams);
	CHECK_EQ(a.frame_size, ph->frame_size);
	CHECK_EQ(a.frame_period_ns, ph->want_period_ns);
	CHECK_GT(a.fifo_frames, 0);
	CHECK_EQ(fpgadma_stream_state(s, &endr), FPGADMA_STREAM_RUNNING);
	CHECK_EQ(endr, 0);
	t_log("%s: stream %u, %u slots of %u bytes at offset %llu, frames of %u bytes every %llu "
	      "ns, FIFO %u frames (default), a CQE per %u frames", ph->name, fpgadma_stream_id(s),
	      a.nslots, a.slot_size, (unsigned long long)a.ring_offset, a.frame_size,
	      (unsigned long long)a.frame_period_ns, a.fifo_frames, ph->cqe_every);

	t_frames_init(&f, s, &a, buf, SEED, true, t0);
	t_stream_cqes_init(&cq, &a);
	end = t_now_ms() + ph->run_ms;
	deadline = end + T_CQE_TIMEOUT_MS;
	for (;;) {
		uint64_t now = t_now_ms();

		if (now >= end && f.n >= ph->min_frames)
			break;
		if (now >= deadline)
			t_fail("%s: only %llu frames in %llu ms", ph->name, (unsigned long long)f.n,
			       (unsigned long long)(now - end + ph->run_ms));
		if (!t_frames_consume(&f, s, false))
			idle();
		if (now >= next_poll) {
			uint64_t first, n;

			t_stream_poll(d->ctx, &cq);
			/* a CQE never announces a frame the ring does not show */
			n = fpgadma_stream_ready(s, &first);
			CHECK_LE(cq.frames, first + n);
			CHECK(!cq.ended);
			next_poll = now + 10;
		}
	}

	CHECK_OK(fpgadma_stream_stats(s, &st));
	CHECK_STREAM_STATS(&st, a.frame_size, "running");
	CHECK_EQ(st.state, FPGADMA_STREAM_RUNNING);
	CHECK_EQ(st.end, 0);
	CHECK_EQ(st.frame_period_ns, a.frame_period_ns);
	CHECK_EQ(st.fifo_frames, a.fifo_frames);
	CHECK_GE(st.frames_delivered, f.n);
	t_stream_stats_log("  running", &st);

	CHECK_OK(fpgadma_stream_stop(s, ph->drain_ms, &fin));
	s = NULL;
	CHECK_STREAM_STATS(&fin, a.frame_size, "after the stop");
	t_stream_stats_log("  stopped", &fin);
	CHECK_EQ(fin.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(fin.end, FPGADMA_STREAM_END_STOP);
	CHECK_EQ(fin.fifo_level, 0);
	CHECK_EQ(fin.frames, fin.frames_delivered + fin.drops);
	CHECK_EQ(fin.frame_period_ns, a.frame_period_ns);
	CHECK_GE(fin.frames, st.frames);
	CHECK_GE(fin.frames_delivered, st.frames_delivered);
	CHECK_GE(fin.drops, st.drops);
	CHECK_GE(fin.fifo_hwm, st.fifo_hwm);
	left = t_frames_final(&f, &fin);
	CHECK_EQ(fin.frames_delivered, f.n);
	t_stream_wait_end(d->ctx, &cq, FPGADMA_WC_SUCCESS, FPGADMA_STREAM_END_STOP, fin.write_idx);
	t_expect_no_cqe(d->ctx, 50);

	/* nothing outside the slots' frames was written */
	CHECK_MSG(!t_verify(buf, ph->ring_offset, SEED, 0, "the bytes before the ring"),
		  "%s: the bytes before the ring were written", ph->name);
	CHECK_MSG(!t_verify(buf + ring_end, len - ring_end, SEED, ring_end,
			    "the bytes after the slots"),
		  "%s: the bytes after the slots were written", ph->name);
	for (k = fin.write_idx; k < ph->nslots; k++)
		CHECK_MSG(!t_verify(t_frames_slot(&f, k), ph->slot_size, SEED,
				    (uint64_t)(t_frames_slot(&f, k) - buf), "a slot never used"),
			  "%s: slot %llu was written, but only %llu frames were", ph->name,
			  (unsigned long long)k, (unsigned long long)fin.write_idx);

	/* after the stop the device writes nothing more */
	snap = malloc(len);
	CHECK(snap != NULL);
	memcpy(snap, buf, len);
	t_sleep_ms(50);
	CHECK_MSG(!memcmp(snap, buf, len), "%s: the MR changed within 50 ms after the stop",
		  ph->name);
	free(snap);

	t_log("%s: %llu frames checked (%llu of them left in the ring at the stop), %llu dropped "
	      "(%llu gaps, the longest %llu), %llu FRAMES CQEs%s, longest from production to "
	      "check %llu us; END SUCCESS/STOP, nothing after; canaries and slot tails untouched",
	      ph->name, (unsigned long long)f.n, (unsigned long long)left,
	      (unsigned long long)fin.drops, (unsigned long long)f.gaps,
	      (unsigned long long)f.max_gap, (unsigned long long)cq.cqes,
	      cq.partial ? " (the last partial)" : "", (unsigned long long)(f.max_age_ns / 1000));
	if (fin.drops)
		t_log("%s: note: %llu frames dropped at 2000 frames/s (a slow machine); each was "
		      "reported exactly", ph->name, (unsigned long long)fin.drops);
}

int main(int argc, char **argv)
{
	static const struct phase p1 = {
		.name = "unaligned ring, a CQE per frame",
		.ring_offset = 13,
		.nslots = 61,
		.frame_size = 4000 + 21,	/* 4021: the last word cut to 5 bytes */
		.slot_size = 4000 + 21 + 7,
		.period_ns = 500000,		/* 2000 frames/s */
		.want_period_ns = 500000,
		.cqe_every = 1,
		.run_ms = 1000,
		.drain_ms = 20,
		.min_frames = 20,
	};
	static const struct phase p2 = {
		.name = "byte rate, a CQE per 8 frames",
		.ring_offset = 1,
		.nslots = 7,
		.frame_size = 200,
		.slot_size = 203,
		.byte_rate = 200 * 1000,	/* 1000 frames of 200 bytes/s: 1 ms */
		.want_period_ns = 1000000,
		.cqe_every = 8,
		.run_ms = 300,
		.drain_ms = 0,
		.min_frames = 24,
	};
	size_t len = 13 + 61 * (size_t)(4000 + 21 + 7) + RING_EXTRA + TAIL;
	struct fpgadma_mr *mr;
	struct t_snap start;
	struct t_dev d;
	uint8_t *buf;

	t_init(argc, argv, 90);
	t_open(&d);
	t_need_stream(&d);
	CHECK_GE(d.attr.max_streams, 1);
	t_snap_take(&start);
	buf = t_map(len);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);

	run(&d, mr, buf, len, &p1, 0x53545231);
	run(&d, mr, buf, len, &p2, 0x53545232);

	t_dereg(mr);
	CHECK_SNAP(&start, 0, 0, "after deregistering the ring's MR");
	t_unmap(buf, len);
	t_close(&d);
	t_pass();
}
