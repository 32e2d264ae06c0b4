// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * data_stream: the frame stream, byte-exact.
 *
 * READ_STREAM WRs of odd lengths (1 byte, a frame minus 3, a frame plus 5,
 * several frames plus one, ...), each into a list of pieces in shuffled
 * memory order, posted in batches.  The pieces are reassembled in sge order
 * into one buffer, which must be one stretch of the stream: it is located
 * from its first frame start, then every byte is checked against
 * fpgadma_stream_word(), so every frame from the first to the last is there
 * once, in order, none lost or repeated.  The stream is device-wide: reads
 * from two contexts taken in turn continue each other.
 */
#include "helpers.h"

#include <sys/mman.h>

static struct t_dev d;
static struct t_rng rng;

struct wr_plan {
	size_t len;
	unsigned int n;
	struct fpgadma_sge *sg;	/* n pieces, in sge order */
};

/*
 * Plan a WR of len bytes with n pieces in the window [win, win + len + n) of
 * the MR: cut len into n non-empty pieces, lay them out in shuffled order.
 */
static void plan(struct wr_plan *w, const struct fpgadma_mr *mr, uint8_t *win, size_t len,
		 unsigned int n)
{
	unsigned int *order = calloc(n, sizeof(*order)), i;
	uint32_t *lens = calloc(n, sizeof(*lens));
	size_t left = len, at = 0;

	CHECK(order && lens);
	CHECK(n >= 1 && n <= len);
	for (i = 0; i < n - 1; i++) {
		size_t room = left - (n - 1 - i);
		size_t l = 1 + t_rand_below(&rng, T_MIN(room, 2 * len / n));

		lens[i] = (uint32_t)T_MIN(l, room);
		left -= lens[i];
	}
	lens[n - 1] = (uint32_t)left;
	t_shuffle(&rng, order, n);
	w->len = len;
	w->n = n;
	w->sg = calloc(n, sizeof(*w->sg));
	CHECK(w->sg != NULL);
	for (i = 0; i < n; i++) {
		unsigned int k = order[i];

		w->sg[k] = t_sge(mr, win + at, lens[k]);
		at += lens[k] + 1;	/* a one-byte gap, so pieces never touch */
	}
	free(order);
	free(lens);
}

int main(int argc, char **argv)
{
	uint64_t seed = t_seed(argc, argv), F, total, big, first_pos;
	size_t win_len, out_len = 0, nwrs = 0, nbatches = 0, max_pieces = 0;
	struct fpgadma_mr *mr;
	struct wr_plan *plans;
	struct fpgadma_wr *wrs;
	struct fpgadma_cqe *cqes;
	uint8_t *win, *out;
	unsigned int batch_max, i;
	char b1[32];

	t_init(argc, argv, 55);
	t_rng_seed(&rng, seed);
	t_log("seed %llu", (unsigned long long)seed);
	t_open(&d);
	F = d.attr.frame_size;
	batch_max = T_MIN(T_MIN(d.attr.max_post, d.attr.cq_entries), 16);

	/* 64 frames or 1 MiB, whichever is more, within what the guest can spare. */
	total = T_MAX(64 * F, T_MiB);
	big = t_big_size(&d, 64 * T_MiB);
	total = T_MIN(total, big / 3);
	if (total < F + 64)
		t_skip("frames of %llu bytes are too big to read two of them in this guest",
		       (unsigned long long)F);
	out = malloc(total);
	CHECK(out != NULL);
	/* Room for a batch's pieces with gaps; pieces of one WR at most max_sge. */
	win_len = total + (size_t)batch_max * (d.attr.max_sge + 1) + 64;
	win = t_map(win_len);
	mr = t_reg(&d, win, win_len, FPGADMA_ACCESS_LOCAL_WRITE);
	plans = calloc(batch_max, sizeof(*plans));
	wrs = calloc(batch_max, sizeof(*wrs));
	cqes = calloc(batch_max, sizeof(*cqes));
	CHECK(plans && wrs && cqes);

	while (out_len < total) {
		size_t lens[] = { 1, 7, 8, 13, F > 3 ? F - 3 : 1, F + 5, 2 * F + 1, 3, F / 2 + 1,
				  3 * 4096 + 11, 5 * F + 7 };
		size_t at = 0;
		unsigned int n = 0;

		while (n < batch_max && out_len + at < total) {
			size_t len = lens[(nwrs + n) % T_ARRAY_SIZE(lens)];
			unsigned int pieces;

			len = T_MIN(len, total - out_len - at);
			pieces = 1 + (unsigned int)t_rand_below(&rng, T_MIN(len, d.attr.max_sge));
			if (n % 4 == 1)
				pieces = (unsigned int)T_MIN(len, d.attr.max_sge);
			plan(&plans[n], mr, win + at, len, pieces);
			at += len + pieces;
			wrs[n] = (struct fpgadma_wr){ .wr_id = d.next_wr_id++,
				.opcode = FPGADMA_WR_READ_STREAM,
				.sg_list = (uintptr_t)plans[n].sg, .num_sge = pieces };
			max_pieces = T_MAX(max_pieces, pieces);
			n++;
		}
		CHECK_LE(at, win_len);
		memset(win, 0, at);
		CHECK_OK(fpgadma_post(d.ctx, wrs, n));
		t_get_cqes(d.ctx, cqes, (int)n);
		for (i = 0; i < n; i++) {
			unsigned int k;

			CHECK_CQE(&cqes[i], wrs[i].wr_id, FPGADMA_WR_READ_STREAM, FPGADMA_WC_SUCCESS,
				  plans[i].len);
			for (k = 0; k < plans[i].n; k++) {
				memcpy(out + out_len, (void *)(uintptr_t)plans[i].sg[k].addr,
				       plans[i].sg[k].length);
				out_len += plans[i].sg[k].length;
			}
			free(plans[i].sg);
		}
		nwrs += n;
		nbatches++;
	}
	CHECK_EQ(out_len, total);
	if (t_stream_check(out, out_len, F, &first_pos, "reassembled stream"))
		t_fail("the stream read in %zu WRs is not one stretch of the frame stream", nwrs);
	t_log("%zu READ_STREAM WRs in %zu posts (odd lengths, up to %zu pieces each, shuffled): "
	      "%s = stream offset %llu..%llu, frames %llu..%llu all present once, in order, every "
	      "byte right", nwrs, nbatches, max_pieces, t_size_str(out_len, b1),
	      (unsigned long long)first_pos, (unsigned long long)(first_pos + out_len),
	      (unsigned long long)(first_pos / F), (unsigned long long)((first_pos + out_len - 1) / F));
	CHECK_GE((first_pos + out_len - 1) / F - first_pos / F, 1);

	/* The stream is device-wide: two contexts reading in turn. */
	{
		struct t_dev e;
		struct fpgadma_mr *mr_e;
		size_t part[3] = { F / 2 + 3, F / 2 + 5, 29 }, got = 0;
		uint8_t *bufs[3];
		struct fpgadma_sge sg;
		struct fpgadma_cqe c;
		uint64_t p2;

		t_open(&e);
		mr_e = t_reg(&e, win, win_len, FPGADMA_ACCESS_LOCAL_WRITE);
		for (i = 0; i < 3; i++) {
			struct t_dev *who = i == 1 ? &e : &d;

			bufs[i] = win + got;
			sg = t_sge(i == 1 ? mr_e : mr, bufs[i], (uint32_t)part[i]);
			c = t_run_wr(who, FPGADMA_WR_READ_STREAM, 0, &sg, 1);
			CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_STREAM, FPGADMA_WC_SUCCESS, part[i]);
			got += part[i];
		}
		if (t_stream_check(win, got, F, &p2, "reads of two contexts in turn"))
			t_fail("reads from two contexts do not continue each other");
		/* Also right after the first run: nobody else reads the stream. */
		CHECK_EQ(p2, first_pos + out_len);
		t_log("two contexts reading in turn (%zu, %zu, %zu bytes): one stretch at stream "
		      "offset %llu, right after the first run", part[0], part[1], part[2],
		      (unsigned long long)p2);
		t_dereg(mr_e);
		t_close(&e);
	}

	t_dereg(mr);
	t_unmap(win, win_len);
	free(out);
	free(plans);
	free(wrs);
	free(cqes);
	t_close(&d);
	t_pass();
}
