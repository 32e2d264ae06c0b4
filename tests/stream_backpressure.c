// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * stream_backpressure: a consumer that falls behind loses frames, counted
 * exactly, never a slot it holds; a full completion ring loses nothing.
 *
 * 1. A ring of 8 slots (frames of 1004 bytes in slots of 1011, 3 bytes into
 *    the MR), a FIFO of 16 frames, 5000 frames/s, a CQE per frame, and a
 *    consumer that hands nothing back: the device writes exactly 8 frames
 *    (each checked), then holds 16 in its FIFO (fifo_level and fifo_hwm
 *    16), then drops (drops > 0, and growing while the ring stays full).
 *    The test writes a marker over each of the 8 slots it holds (read, not
 *    handed back) and 50 ms later every marker is still there: the device
 *    never writes a slot not handed back.  Then it hands them back and
 *    consumes promptly: frame 24, the first produced after the ring had
 *    room again, reports a gap (lost_before > 0) and the gaps reported up
 *    to it cover every drop counted before the hand-back; every frame's seq
 *    is the previous one's + 1 + lost_before.  After a stop with drain_ms 0
 *    (the FIFO's frames dropped and counted): frames == delivered + drops,
 *    and drops == the sum of lost_before over all delivered frames + the
 *    frames produced after the last delivered one (dropped, or in the FIFO
 *    at the stop, or reported by no frame) exactly; one END CQE and the
 *    FRAMES CQEs (one per frame) cover every frame written.
 * 2. The completion ring full: WRITE_MEM WRs whose CQEs are left in the
 *    ring fill it to K = 6 free entries before a stream with a CQE per
 *    frame starts (8 slots, FIFO 16, 1000 frames/s) and the consumer hands
 *    every frame back at once: the stream writes K or K + 1 frames (as many
 *    as their CQEs fit; the ring of slots stays empty), then holds frames
 *    in its FIFO (16) and only then drops; fpgadma_poll never reports a
 *    lost CQE (-EOVERFLOW, the ring's FPGADMA_RING_OVERFLOW flag).  Once
 *    the CQEs are taken the stream goes on, every frame consistent and
 *    every gap reported exactly, every frame with its CQE.
 */
#include "helpers.h"

#include <time.h>

#define SEED		0x4241434b50524553ULL
#define MARK_SEED	0x4d41524b4d41524bULL

#define A_OFFSET	3
#define A_NSLOTS	8
#define A_FRAME		1004	/* the last payload word cut to 4 bytes */
#define A_SLOT		1011
#define A_FIFO		16
#define A_PERIOD_NS	200000	/* 5000 frames/s */

#define B_FREE		6	/* completion ring entries left free */
#define B_NSLOTS	8
#define B_FRAME		64
#define B_FIFO		16
#define B_PERIOD_NS	1000000	/* 1000 frames/s */
#define B_MAX_CQ	16384	/* a bigger completion ring takes too long to fill */
#define FILL_WR_ID	0x46494c4c00000000ULL

static void idle(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 };

	nanosleep(&ts, NULL);
}

static uint64_t lost_of(const uint8_t *slot)
{
	struct fpgadma_frame_hdr h;

	memcpy(&h, slot, sizeof(h));
	return h.lost_before;
}

static void slow_consumer(struct t_dev *d, struct fpgadma_mr *mr, uint8_t *buf, size_t len)
{
	struct fpgadma_stream_attr a = {
		.ring_offset = A_OFFSET,
		.ring_length = A_NSLOTS * A_SLOT,
		.slot_size = A_SLOT,
		.nslots = A_NSLOTS,
		.frame_size = A_FRAME,
		.fifo_frames = A_FIFO,
		.frame_period_ns = A_PERIOD_NS,
		.cqe_every = 1,
		.user_data = 0x534c4f57,
	};
	struct fpgadma_stream_stats st1, st2, st, fin;
	uint64_t t0, deadline, first, n, i, lost24 = 0, sum_to_24 = 0, end, held_since, released;
	struct fpgadma_stream *s;
	struct t_stream_cqes cq;
	struct t_frames f;

	t_fill(buf, len, SEED, 0);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	CHECK_EQ(a.fifo_frames, A_FIFO);
	CHECK_EQ(a.frame_period_ns, A_PERIOD_NS);
	t_frames_init(&f, s, &a, buf, SEED, true, t0);
	t_stream_cqes_init(&cq, &a);

	/* Nothing handed back: 8 frames written, 16 held, then drops. */
	deadline = t_now_ms() + T_CQE_TIMEOUT_MS;
	for (;;) {
		t_frames_consume(&f, s, true);
		t_stream_poll(d->ctx, &cq);
		CHECK_OK(fpgadma_stream_stats(s, &st1));
		CHECK_STREAM_STATS(&st1, A_FRAME, "filling up");
		CHECK_LE(st1.write_idx, A_NSLOTS);
		if (st1.write_idx == A_NSLOTS && st1.fifo_level == A_FIFO && st1.drops > 0)
			break;
		if (t_now_ms() > deadline) {
			t_stream_stats_log("stats", &st1);
			t_fail("the ring and the FIFO did not fill within %u ms",
			       (unsigned int)T_CQE_TIMEOUT_MS);
		}
		t_sleep_ms(2);
	}
	held_since = t_now_ms();
	t_frames_consume(&f, s, true);
	CHECK_EQ(f.n, A_NSLOTS);
	CHECK_EQ(st1.frames_delivered, A_NSLOTS);
	CHECK_EQ(st1.fifo_hwm, A_FIFO);
	t_stream_stats_log("ring and FIFO full", &st1);

	/* Mark every slot held (read, not handed back). */
	for (i = 0; i < A_NSLOTS; i++) {
		uint8_t *slot = t_frames_slot(&f, i);

		t_fill(slot, A_SLOT, MARK_SEED, (uint64_t)(slot - buf));
	}
	/* 50 ms on, and until more frames were dropped: nothing written. */
	t_sleep_ms(50);
	deadline = t_now_ms() + T_CQE_TIMEOUT_MS;
	for (;;) {
		CHECK_OK(fpgadma_stream_stats(s, &st2));
		CHECK_STREAM_STATS(&st2, A_FRAME, "ring full");
		CHECK_EQ(st2.write_idx, A_NSLOTS);
		CHECK_EQ(st2.fifo_level, A_FIFO);
		CHECK_EQ(st2.fifo_hwm, A_FIFO);
		if (st2.drops > st1.drops)
			break;
		CHECK_MSG(t_now_ms() < deadline, "no frame dropped in %u ms with the FIFO full",
			  (unsigned int)T_CQE_TIMEOUT_MS);
		t_sleep_ms(5);
	}
	n = fpgadma_stream_ready(s, &first);
	CHECK_EQ(n, A_NSLOTS);
	CHECK_EQ(first, 0);
	for (i = 0; i < A_NSLOTS; i++) {
		uint8_t *slot = t_frames_slot(&f, i);

		CHECK_MSG(!t_verify(slot, A_SLOT, MARK_SEED, (uint64_t)(slot - buf),
				    "a slot not handed back"),
			  "slot %llu, not handed back, was written", (unsigned long long)i);
	}
	CHECK_MSG(!t_verify(buf, A_OFFSET, SEED, 0, "before the ring"), "canary before the ring");
	t_stream_poll(d->ctx, &cq);
	CHECK_EQ(cq.frames, A_NSLOTS);
	t_log("held 8 slots for %llu ms: still the test's markers; drops %llu -> %llu, 16 frames "
	      "in the FIFO, 8 FRAMES CQEs", (unsigned long long)(t_now_ms() - held_since),
	      (unsigned long long)st1.drops, (unsigned long long)st2.drops);

	/* The pattern back (the slots' tails are checked), then hand them back
	 * and keep up: the FIFO's frames, then the gap. */
	for (i = 0; i < A_NSLOTS; i++) {
		uint8_t *slot = t_frames_slot(&f, i);

		t_fill(slot, A_SLOT, SEED, (uint64_t)(slot - buf));
	}
	fpgadma_stream_release(s, A_NSLOTS);
	released = A_NSLOTS;
	end = t_now_ms() + 300;
	deadline = end + T_CQE_TIMEOUT_MS;
	while (t_now_ms() < end || f.n < A_NSLOTS + A_FIFO + 5) {
		uint64_t before = f.n;

		CHECK_MSG(t_now_ms() < deadline, "only %llu frames after the hand-back",
			  (unsigned long long)f.n);
		t_frames_consume(&f, s, true);
		for (i = before; i < f.n; i++) {
			uint64_t lost = lost_of(t_frames_slot(&f, i));

			if (i <= A_NSLOTS + A_FIFO)
				sum_to_24 += lost;
			if (i == A_NSLOTS + A_FIFO)
				lost24 = lost;
		}
		fpgadma_stream_release(s, f.n - released);
		released = f.n;
		t_stream_poll(d->ctx, &cq);
		if (f.n == before)
			idle();
	}
	/* Frame 24 was produced after every drop counted before the hand-back. */
	CHECK_GT(lost24, 0);
	CHECK_GE(sum_to_24, st2.drops);
	t_log("after the hand-back: frame 24 reports %llu frames lost before it, frames 0..24 "
	      "%llu (%llu counted before the hand-back)", (unsigned long long)lost24,
	      (unsigned long long)sum_to_24, (unsigned long long)st2.drops);

	CHECK_OK(fpgadma_stream_stats(s, &st));
	CHECK_STREAM_STATS(&st, A_FRAME, "running again");
	CHECK_GE(st.drops, st2.drops);
	CHECK_OK(fpgadma_stream_stop(s, 0, &fin));
	CHECK_STREAM_STATS(&fin, A_FRAME, "stopped");
	t_stream_stats_log("stopped (drain_ms 0)", &fin);
	CHECK_EQ(fin.state, FPGADMA_STREAM_STOPPED);
	CHECK_EQ(fin.end, FPGADMA_STREAM_END_STOP);
	CHECK_EQ(fin.fifo_level, 0);
	CHECK_EQ(fin.fifo_hwm, A_FIFO);
	CHECK_EQ(fin.frames, fin.frames_delivered + fin.drops);
	CHECK_GE(fin.drops, st.drops);
	t_frames_final(&f, &fin);
	t_stream_wait_end(d->ctx, &cq, FPGADMA_WC_SUCCESS, FPGADMA_STREAM_END_STOP, fin.write_idx);
	CHECK_EQ(cq.frames, fin.write_idx);
	t_expect_no_cqe(d->ctx, 50);
	t_log("slow consumer: %llu frames delivered and checked, %llu dropped = %llu reported by "
	      "%llu gaps + %llu after the last frame", (unsigned long long)f.n,
	      (unsigned long long)fin.drops, (unsigned long long)f.lost,
	      (unsigned long long)f.gaps, (unsigned long long)(fin.drops - f.lost));
}

/* Take every CQE there: fillers (WRITE_MEM) and the stream's. */
static void poll_mixed(struct t_dev *d, struct t_stream_cqes *cq, uint64_t *fills)
{
	struct fpgadma_cqe c[64];
	int r, i;

	do {
		r = fpgadma_poll(d->ctx, c, (int)T_ARRAY_SIZE(c));
		if (r < 0)
			t_fail("fpgadma_poll: %s (%s)", t_errname(r),
			       r == -EOVERFLOW ? "the kernel lost a CQE" : fpgadma_strerror(r));
		for (i = 0; i < r; i++) {
			if ((c[i].wr_id & ~0xffffffffULL) == FILL_WR_ID) {
				CHECK_CQE(&c[i], c[i].wr_id, FPGADMA_WR_WRITE_MEM,
					  FPGADMA_WC_SUCCESS, 8);
				(*fills)++;
			} else {
				t_stream_cqe_at(__FILE__, __LINE__, cq, &c[i]);
			}
		}
	} while (r == (int)T_ARRAY_SIZE(c));
}

static void full_cq(struct t_dev *d, struct fpgadma_mr *mr, uint8_t *buf, size_t len,
		    struct fpgadma_mr *src_mr, uint8_t *src)
{
	struct fpgadma_stream_attr a = {
		.ring_offset = 0,
		.ring_length = B_NSLOTS * B_FRAME,
		.slot_size = B_FRAME,
		.nslots = B_NSLOTS,
		.frame_size = B_FRAME,
		.fifo_frames = B_FIFO,
		.frame_period_ns = B_PERIOD_NS,
		.cqe_every = 1,
		.user_data = 0x46554c4c,
	};
	uint64_t nfill, posted = 0, fills = 0, t0, deadline, end, held;
	struct fpgadma_stream_stats st, st2, fin;
	struct fpgadma_sge sg = t_sge(src_mr, src, 8);
	struct fpgadma_wr *wrs;
	struct fpgadma_stream *s;
	struct t_stream_cqes cq;
	struct t_frames f;

	if (d->attr.cq_entries > B_MAX_CQ) {
		t_log("full completion ring: not checked, its %u entries take too long to fill",
		      d->attr.cq_entries);
		return;
	}
	t_expect_no_cqe(d->ctx, 0);
	nfill = d->attr.cq_entries - 1 - B_FREE;
	wrs = calloc(d->attr.max_post, sizeof(*wrs));
	CHECK(wrs != NULL);
	while (posted < nfill) {
		uint64_t left = nfill - posted;
		unsigned int k, cnt = (unsigned int)T_MIN((uint64_t)d->attr.max_post, left);

		for (k = 0; k < cnt; k++)
			wrs[k] = (struct fpgadma_wr){ .wr_id = FILL_WR_ID + posted + k,
						      .opcode = FPGADMA_WR_WRITE_MEM,
						      .dev_addr = 0,
						      .sg_list = (uintptr_t)&sg, .num_sge = 1 };
		CHECK_OK(fpgadma_post(d->ctx, wrs, cnt));
		posted += cnt;
	}
	free(wrs);

	t_fill(buf, len, SEED, 0);
	t0 = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	t_frames_init(&f, s, &a, buf, SEED, true, t0);
	t_stream_cqes_init(&cq, &a);
	t_log("completion ring of %u entries: %llu WRs' CQEs left in it, the stream reserves one, "
	      "%u free", d->attr.cq_entries, (unsigned long long)nfill, B_FREE);

	/* Frames handed back at once: only the completion ring holds them up. */
	deadline = t_now_ms() + T_CQE_TIMEOUT_MS;
	for (;;) {
		t_frames_consume(&f, s, false);
		CHECK_OK(fpgadma_stream_stats(s, &st));
		CHECK_STREAM_STATS(&st, B_FRAME, "completion ring full");
		CHECK_MSG(st.write_idx <= B_FREE + 1, "%llu frames written with room for %u CQEs",
			  (unsigned long long)st.write_idx, B_FREE + 1);
		if (st.write_idx >= B_FREE && st.fifo_level == B_FIFO && st.drops > 0)
			break;
		if (t_now_ms() > deadline) {
			t_stream_stats_log("stats", &st);
			t_fail("the FIFO did not fill within %u ms",
			       (unsigned int)T_CQE_TIMEOUT_MS);
		}
		t_sleep_ms(2);
	}
	held = st.write_idx;
	t_sleep_ms(30);
	t_frames_consume(&f, s, false);
	CHECK_EQ(f.n, held);
	CHECK_EQ(fpgadma_stream_ready(s, NULL), 0);
	CHECK_OK(fpgadma_stream_stats(s, &st2));
	CHECK_STREAM_STATS(&st2, B_FRAME, "completion ring still full");
	CHECK_EQ(st2.write_idx, held);
	CHECK_EQ(st2.fifo_level, B_FIFO);
	CHECK_EQ(st2.fifo_hwm, B_FIFO);
	t_stream_stats_log("completion ring full", &st2);

	/* Now the CQEs: every filler's and one per frame, none lost. */
	deadline = t_now_ms() + T_CQE_TIMEOUT_MS;
	for (;;) {
		poll_mixed(d, &cq, &fills);
		if (fills >= nfill && cq.frames >= held)
			break;
		CHECK_MSG(t_now_ms() < deadline, "%llu of %llu filler CQEs and %llu of %llu "
			  "frames' CQEs", (unsigned long long)fills, (unsigned long long)nfill,
			  (unsigned long long)cq.frames, (unsigned long long)held);
		CHECK_OK(fpgadma_wait(d->ctx, 100));
	}
	CHECK_EQ(fills, nfill);
	t_log("completion ring full: %llu frames written (as many CQEs as fit), the FIFO full "
	      "(16), %llu dropped, no CQE lost", (unsigned long long)held,
	      (unsigned long long)st2.drops);

	/* Room again: the stream goes on, every frame with its CQE. */
	end = t_now_ms() + 200;
	deadline = end + T_CQE_TIMEOUT_MS;
	while (t_now_ms() < end || f.n < held + B_FIFO + 5) {
		CHECK_MSG(t_now_ms() < deadline, "only %llu frames after the CQEs were taken",
			  (unsigned long long)f.n);
		if (!t_frames_consume(&f, s, false))
			idle();
		poll_mixed(d, &cq, &fills);
	}
	CHECK_GT(f.lost, 0);
	CHECK_OK(fpgadma_stream_stop(s, 0, &fin));
	CHECK_STREAM_STATS(&fin, B_FRAME, "stopped");
	CHECK_EQ(fin.end, FPGADMA_STREAM_END_STOP);
	CHECK_EQ(fin.fifo_level, 0);
	CHECK_EQ(fin.fifo_hwm, B_FIFO);
	t_frames_final(&f, &fin);
	t_stream_wait_end(d->ctx, &cq, FPGADMA_WC_SUCCESS, FPGADMA_STREAM_END_STOP, fin.write_idx);
	CHECK_EQ(cq.frames, fin.write_idx);
	CHECK_EQ(fills, nfill);
	t_expect_no_cqe(d->ctx, 50);
	t_stream_stats_log("stopped", &fin);
	t_log("after the completion ring had room: %llu frames in all, each checked and with its "
	      "CQE; %llu dropped, all accounted for", (unsigned long long)f.n,
	      (unsigned long long)fin.drops);
}

int main(int argc, char **argv)
{
	size_t len = A_OFFSET + A_NSLOTS * A_SLOT + 100;
	struct fpgadma_mr *mr, *src_mr;
	struct t_snap start;
	struct t_dev d;
	uint8_t *buf, *src;

	t_init(argc, argv, 120);
	t_open(&d);
	t_need_stream(&d);
	t_snap_take(&start);
	buf = t_map(len);
	mr = t_reg(&d, buf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	src = t_map(4096);
	memset(src, 0x5a, 4096);
	src_mr = t_reg(&d, src, 4096, 0);

	slow_consumer(&d, mr, buf, len);
	full_cq(&d, mr, buf, len, src_mr, src);

	t_dereg(src_mr);
	t_dereg(mr);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_unmap(src, 4096);
	t_unmap(buf, len);
	t_close(&d);
	t_pass();
}
