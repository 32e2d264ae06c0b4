// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpi_osc: MPI one-sided atomics on N ranks, every result checked.
 *
 * A window of NSLOTS 8-byte elements on every rank, of each flavor asked
 * for (-w, a comma-separated list; all three by default): MPI_Win_allocate
 * ("allocate"), MPI_Win_create over memory of the program's ("create") and
 * MPI_Win_create_dynamic with that memory attached ("dynamic", the
 * targets' addresses exchanged).  Each test runs in three epochs: active
 * target (MPI_Win_fence), passive target under MPI_Win_lock
 * (MPI_LOCK_EXCLUSIVE) one target at a time, and passive target under
 * MPI_Win_lock_all with MPI_Win_flush.  Every rank targets every rank, itself
 * included, R times (-r R, 100 by default):
 *
 *   accumulate   MPI_Accumulate of K elements at once (even rounds) and
 *                one by one (odd ones): MPI_SUM of uint64, MPI_MAX of int64,
 *                MPI_BXOR of uint64, MPI_SUM of double (multiples of 1/4,
 *                so that every sum is exact whatever the order); each
 *                target checks its window against what every rank added
 *   get_acc      MPI_Get_accumulate (MPI_SUM) of G counters, counter i
 *                increased by i+1: at each target the old values fetched,
 *                divided by i+1, are a permutation of 0..N*R-1 (gathered to
 *                rank 0 and checked there), the final value (i+1)*N*R
 *   fetch_op     MPI_Fetch_and_op MPI_SUM of 1: the values fetched from a
 *                target are a permutation of 0..N*R-1; MPI_REPLACE of a
 *                token of the rank's own (1 + rank*R + round): the values
 *                fetched and the last one left are 0 and every token once;
 *                then MPI_NO_OP reads both words of every target: N*R, and
 *                the token the target itself sees
 *   cas          MPI_Compare_and_swap: in a passive epoch an increment
 *                loop (compare-and-swap old+1 for old, retry with what came
 *                back) until each rank has incremented each target's word R
 *                times: the old values of the successful swaps are a
 *                permutation of 0..N*R-1, the final value N*R; in a fence
 *                epoch, where no result is seen before the epoch ends, each
 *                rank swaps rank+1 for 0 once a round, the word set back to
 *                0 between rounds: one winner a round, the others fetched
 *                its value
 * A word after the targets must stay untouched.
 *
 * For Open MPI 4.1.4's osc/rdma (Debian 12), which the harness runs this
 * on (mpi-run.sh osc-rdma):
 *   -c WINDOWS   compare-and-swap only on these windows (default: all of
 *                -w).  Its MPI_Compare_and_swap at a peer whose window it
 *                reaches through shared memory (all of an allocated window
 *                on one node, the rank's own part of a created one) calls
 *                the BTL with no endpoint or registration and crashes
 *                (fixed in 4.1.5, "perform CAS in shared memory if
 *                possible"); on a dynamic window every target is reached
 *                through the BTL.
 *   -o           only the operations its ofi BTL takes as network atomics
 *                (MPI_SUM, MPI_REPLACE, MPI_NO_OP, compare-and-swap):
 *                MPI_MAX and MPI_BXOR are left out, which the BTL aborts
 *                the job on (mca_btl_ofi_afop: "Unknown or unsupported
 *                atomic op") unless osc/rdma emulates them with
 *                compare-and-swap (osc_rdma_acc_use_amo=false).
 * On one node osc/rdma serves an allocated window from shared memory with
 * CPU atomics: only created and dynamic ones reach the BTL (and so the
 * libfabric provider) for the other ranks' parts.
 *
 * Which osc component and transport carry it is Open MPI's choice
 * (OMPI_MCA_osc, _btl...): the harness checks that.  One line a test and
 * window ("ok ..." or "FAIL: ...", first failures of each rank before it),
 * then "PASS: mpi_osc ..." or "FAIL: mpi_osc ..." from rank 0; exit status
 * 0 when every rank found everything right, else 1 (2: bad usage).
 */
#include <mpi.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K 8		/* elements of each accumulate region */
#define G 4		/* get_accumulate counters */

/* the window: 8-byte slots */
enum {
	S_SUM = 0,		/* K uint64, MPI_SUM */
	S_MAX = S_SUM + K,	/* K int64, MPI_MAX */
	S_XOR = S_MAX + K,	/* K uint64, MPI_BXOR */
	S_DSUM = S_XOR + K,	/* K double, MPI_SUM */
	S_GACC = S_DSUM + K,	/* G uint64, MPI_Get_accumulate MPI_SUM */
	S_FOP = S_GACC + G,	/* uint64, MPI_Fetch_and_op MPI_SUM */
	S_REPL = S_FOP + 1,	/* uint64, MPI_Fetch_and_op MPI_REPLACE */
	S_CAS = S_REPL + 1,	/* uint64, MPI_Compare_and_swap */
	S_GUARD = S_CAS + 1,	/* uint64, never a target: must stay */
	NSLOTS = S_GUARD + 1
};

#define GUARD 0x5a5aa5a55a5aa5a5ULL

enum epoch { FENCE, LOCK, LOCK_ALL };
static const char *const epoch_name[] = { "fence", "lock", "lock_all" };

static int rank, nranks, reps = 100, only_btl_ops, cas_on[3];
static const char *flavor, *cur_test = "";
static enum epoch cur_epoch;
static unsigned long failures, test_failures, tests;
static MPI_Win win;
static uint64_t *base;		/* my window */
static MPI_Aint *tbase;		/* dynamic: the targets' addresses */

/* A target's displacement of a slot: in slots, or a dynamic window's address. */
static MPI_Aint D(int t, int slot)
{
	return tbase ? MPI_Aint_add(tbase[t], slot * 8) : slot;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* What origin o adds at target t in round j, element i, for region s. */
static uint64_t val(int s, int o, int t, int j, int i)
{
	return mix(((uint64_t)s << 56) ^ ((uint64_t)o << 40) ^ ((uint64_t)t << 28) ^
		   ((uint64_t)j << 8) ^ (uint64_t)i);
}

static double dval(int o, int t, int j, int i)
{
	/* multiples of 1/4 in [-128, 128): every partial sum is exact */
	return (double)(int)(val(S_DSUM, o, t, j, i) % 1024) * 0.25 - 128.0;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	if (test_failures++ < 5) {
		printf("FAIL: rank %d: %s %s, window %s: ", rank, epoch_name[cur_epoch],
		       cur_test, flavor);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	failures++;
}

/* Set my window's slots (under an exclusive lock on myself) and wait for all. */
static void reset(void)
{
	int i;

	MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
	/* 0, and 0.0 for the doubles: the same bits */
	for (i = 0; i < NSLOTS; i++)
		base[i] = 0;
	for (i = 0; i < K; i++)
		base[S_MAX + i] = (uint64_t)INT64_MIN;
	base[S_GUARD] = GUARD;
	MPI_Win_unlock(rank, win);
	MPI_Barrier(MPI_COMM_WORLD);
}

/* Read my window after everyone's epoch ended. */
static void snapshot(uint64_t *copy)
{
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Win_lock(MPI_LOCK_SHARED, rank, 0, win);
	memcpy(copy, base, NSLOTS * sizeof(*copy));
	MPI_Win_unlock(rank, win);
}

static void epoch_begin(enum epoch e)
{
	if (e == FENCE)
		MPI_Win_fence(MPI_MODE_NOPRECEDE, win);
	else if (e == LOCK_ALL)
		MPI_Win_lock_all(0, win);
}

static void target_begin(enum epoch e, int t)
{
	if (e == LOCK)
		MPI_Win_lock(MPI_LOCK_EXCLUSIVE, t, 0, win);
}

/* After each operation whose result the loop needs (or to exercise flush). */
static void target_flush(enum epoch e, int t)
{
	if (e != FENCE)
		MPI_Win_flush(t, win);
}

static void target_end(enum epoch e, int t)
{
	if (e == LOCK)
		MPI_Win_unlock(t, win);
}

static void epoch_end(enum epoch e)
{
	if (e == FENCE)
		MPI_Win_fence(MPI_MODE_NOSUCCEED, win);
	else if (e == LOCK_ALL)
		MPI_Win_unlock_all(win);
}

static void test_begin(enum epoch e, const char *name)
{
	cur_epoch = e;
	cur_test = name;
	test_failures = 0;
}

static void test_end(enum epoch e, const char *name, const char *what)
{
	unsigned long any;

	MPI_Allreduce(&test_failures, &any, 1, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
	tests++;
	if (rank == 0)
		printf("%s %-8s %-10s window %-8s %s\n", any ? "FAIL:" : "ok  ",
		       epoch_name[e], name, flavor, what);
}

static void check_guard(const uint64_t *w)
{
	if (w[S_GUARD] != GUARD)
		fail("the word after the targets changed: 0x%016" PRIx64, w[S_GUARD]);
}

/*
 * Rank 0: are the values v[0..n-1] (divided by step) a permutation of
 * 0..n-1?  Reports the first hole or duplicate.
 */
static void check_perm(const uint64_t *v, size_t n, uint64_t step, const char *what, int t)
{
	unsigned char *seen = calloc(n, 1);
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t x = v[i];

		if (x % step || x / step >= n) {
			fail("%s at target %d: fetched %" PRIu64 ", not one of 0, %" PRIu64
			     ", ... %" PRIu64, what, t, x, step, (n - 1) * step);
			break;
		}
		if (seen[x / step]++) {
			fail("%s at target %d: %" PRIu64 " fetched twice", what, t, x);
			break;
		}
	}
	free(seen);
}

static void accumulate(enum epoch e)
{
	size_t per_t = (size_t)reps * K;
	uint64_t *sum = malloc(nranks * per_t * 8), *xor = malloc(nranks * per_t * 8);
	int64_t *max = malloc(nranks * per_t * 8);
	double *dsum = malloc(nranks * per_t * 8);
	uint64_t w[NSLOTS];
	char what[200];
	int t, j, i, o;

	test_begin(e, "accumulate");
	for (t = 0; t < nranks; t++)
		for (j = 0; j < reps; j++)
			for (i = 0; i < K; i++) {
				size_t x = (t * (size_t)reps + j) * K + i;

				sum[x] = val(S_SUM, rank, t, j, i);
				max[x] = (int64_t)val(S_MAX, rank, t, j, i);
				xor[x] = val(S_XOR, rank, t, j, i);
				dsum[x] = dval(rank, t, j, i);
			}
	reset();
	epoch_begin(e);
	for (t = 0; t < nranks; t++) {
		target_begin(e, t);
		for (j = 0; j < reps; j++) {
			size_t x = (t * (size_t)reps + j) * K;

			if (j % 2 == 0) {
				MPI_Accumulate(sum + x, K, MPI_UINT64_T, t, D(t, S_SUM), K, MPI_UINT64_T, MPI_SUM, win);
				if (!only_btl_ops) {
					MPI_Accumulate(max + x, K, MPI_INT64_T, t, D(t, S_MAX), K, MPI_INT64_T, MPI_MAX, win);
					MPI_Accumulate(xor + x, K, MPI_UINT64_T, t, D(t, S_XOR), K, MPI_UINT64_T, MPI_BXOR, win);
				}
				MPI_Accumulate(dsum + x, K, MPI_DOUBLE, t, D(t, S_DSUM), K, MPI_DOUBLE, MPI_SUM, win);
			} else {
				for (i = 0; i < K; i++) {
					MPI_Accumulate(sum + x + i, 1, MPI_UINT64_T, t, D(t, S_SUM + i), 1, MPI_UINT64_T, MPI_SUM, win);
					if (!only_btl_ops) {
						MPI_Accumulate(max + x + i, 1, MPI_INT64_T, t, D(t, S_MAX + i), 1, MPI_INT64_T, MPI_MAX, win);
						MPI_Accumulate(xor + x + i, 1, MPI_UINT64_T, t, D(t, S_XOR + i), 1, MPI_UINT64_T, MPI_BXOR, win);
					}
					MPI_Accumulate(dsum + x + i, 1, MPI_DOUBLE, t, D(t, S_DSUM + i), 1, MPI_DOUBLE, MPI_SUM, win);
				}
			}
			if (j % 16 == 15)
				target_flush(e, t);
		}
		target_end(e, t);
	}
	epoch_end(e);
	snapshot(w);

	/* what every rank added to mine */
	for (i = 0; i < K; i++) {
		uint64_t esum = 0, exor = 0;
		int64_t emax = INT64_MIN;
		double edsum = 0.0, got_d;
		int64_t got_max;

		for (o = 0; o < nranks; o++)
			for (j = 0; j < reps; j++) {
				int64_t m = (int64_t)val(S_MAX, o, rank, j, i);

				esum += val(S_SUM, o, rank, j, i);
				if (m > emax)
					emax = m;
				exor ^= val(S_XOR, o, rank, j, i);
				edsum += dval(o, rank, j, i);
			}
		if (only_btl_ops) {
			emax = INT64_MIN;
			exor = 0;
		}
		memcpy(&got_max, &w[S_MAX + i], 8);
		memcpy(&got_d, &w[S_DSUM + i], 8);
		if (w[S_SUM + i] != esum)
			fail("MPI_SUM uint64 element %d: 0x%016" PRIx64 ", expected 0x%016" PRIx64,
			     i, w[S_SUM + i], esum);
		if (got_max != emax)
			fail("MPI_MAX int64 element %d: %" PRId64 ", expected %" PRId64, i, got_max, emax);
		if (w[S_XOR + i] != exor)
			fail("MPI_BXOR uint64 element %d: 0x%016" PRIx64 ", expected 0x%016" PRIx64,
			     i, w[S_XOR + i], exor);
		if (got_d != edsum)
			fail("MPI_SUM double element %d: %.17g, expected %.17g", i, got_d, edsum);
	}
	check_guard(w);
	snprintf(what, sizeof(what), "%s x%d, %d ranks x %d rounds at each",
		 only_btl_ops ? "SUM uint64, SUM double" : "SUM uint64, MAX int64, BXOR uint64, SUM double",
		 K, nranks, reps);
	test_end(e, "accumulate", what);
	free(sum);
	free(max);
	free(xor);
	free(dsum);
}

static void get_accumulate(enum epoch e)
{
	size_t per_rank = (size_t)nranks * reps * G;
	uint64_t *res = malloc(per_rank * 8), *all = NULL, *v = NULL;
	uint64_t inc[G], w[NSLOTS];
	char what[200];
	int t, j, i, o;

	test_begin(e, "get_acc");
	for (i = 0; i < G; i++)
		inc[i] = i + 1;
	memset(res, 0xff, per_rank * 8);
	reset();
	epoch_begin(e);
	for (t = 0; t < nranks; t++) {
		target_begin(e, t);
		for (j = 0; j < reps; j++) {
			MPI_Get_accumulate(inc, G, MPI_UINT64_T, res + (t * (size_t)reps + j) * G, G,
					   MPI_UINT64_T, t, D(t, S_GACC), G, MPI_UINT64_T, MPI_SUM, win);
			if (e == LOCK_ALL)
				target_flush(e, t);
		}
		target_end(e, t);
	}
	epoch_end(e);
	snapshot(w);
	for (i = 0; i < G; i++)
		if (w[S_GACC + i] != (uint64_t)(i + 1) * nranks * reps)
			fail("counter %d: %" PRIu64 ", expected %" PRIu64, i, w[S_GACC + i],
			     (uint64_t)(i + 1) * nranks * reps);
	check_guard(w);

	if (rank == 0) {
		all = malloc(per_rank * nranks * 8);
		v = malloc((size_t)nranks * reps * 8);
	}
	MPI_Gather(res, (int)per_rank, MPI_UINT64_T, all, (int)per_rank, MPI_UINT64_T, 0,
		   MPI_COMM_WORLD);
	if (rank == 0)
		for (t = 0; t < nranks; t++)
			for (i = 0; i < G; i++) {
				size_t n = 0;

				for (o = 0; o < nranks; o++)
					for (j = 0; j < reps; j++)
						v[n++] = all[o * per_rank + (t * (size_t)reps + j) * G + i];
				check_perm(v, n, i + 1, "old values of a counter", t);
			}
	snprintf(what, sizeof(what), "MPI_SUM of %d counters, %d ranks x %d rounds at each: "
		 "old values a permutation", G, nranks, reps);
	test_end(e, "get_acc", what);
	free(res);
	free(all);
	free(v);
}

static void fetch_and_op(enum epoch e)
{
	size_t per_rank = (size_t)nranks * reps;
	uint64_t *fsum = malloc(per_rank * 8), *frepl = malloc(per_rank * 8);
	uint64_t *tok = malloc(per_rank * 8), *all = NULL, *v = NULL;
	uint64_t *nsum = malloc(nranks * 8), *nrepl = malloc(nranks * 8);
	uint64_t *finals = malloc(nranks * 8), w[NSLOTS], one = 1;
	char what[200];
	int t, j, o;

	test_begin(e, "fetch_op");
	memset(fsum, 0xff, per_rank * 8);
	memset(frepl, 0xff, per_rank * 8);
	for (t = 0; t < nranks; t++)
		for (j = 0; j < reps; j++)
			tok[t * (size_t)reps + j] = 1 + (uint64_t)rank * reps + j;
	reset();
	epoch_begin(e);
	for (t = 0; t < nranks; t++) {
		target_begin(e, t);
		for (j = 0; j < reps; j++) {
			size_t x = t * (size_t)reps + j;

			MPI_Fetch_and_op(&one, fsum + x, MPI_UINT64_T, t, D(t, S_FOP), MPI_SUM, win);
			MPI_Fetch_and_op(tok + x, frepl + x, MPI_UINT64_T, t, D(t, S_REPL), MPI_REPLACE, win);
			if (e == LOCK_ALL || j % 16 == 15)
				target_flush(e, t);
		}
		target_end(e, t);
	}
	epoch_end(e);
	snapshot(w);
	if (w[S_FOP] != (uint64_t)nranks * reps)
		fail("MPI_SUM word: %" PRIu64 ", expected %" PRIu64, w[S_FOP],
		     (uint64_t)nranks * reps);
	check_guard(w);
	MPI_Allgather(&w[S_REPL], 1, MPI_UINT64_T, finals, 1, MPI_UINT64_T, MPI_COMM_WORLD);

	/* MPI_NO_OP: read both words of every target */
	memset(nsum, 0xff, nranks * 8);
	memset(nrepl, 0xff, nranks * 8);
	epoch_begin(e);
	for (t = 0; t < nranks; t++) {
		target_begin(e, t);
		MPI_Fetch_and_op(NULL, nsum + t, MPI_UINT64_T, t, D(t, S_FOP), MPI_NO_OP, win);
		MPI_Fetch_and_op(NULL, nrepl + t, MPI_UINT64_T, t, D(t, S_REPL), MPI_NO_OP, win);
		target_flush(e, t);
		target_end(e, t);
	}
	epoch_end(e);
	for (t = 0; t < nranks; t++) {
		if (nsum[t] != (uint64_t)nranks * reps)
			fail("MPI_NO_OP read %" PRIu64 " from target %d's MPI_SUM word, expected %"
			     PRIu64, nsum[t], t, (uint64_t)nranks * reps);
		if (nrepl[t] != finals[t])
			fail("MPI_NO_OP read %" PRIu64 " from target %d's MPI_REPLACE word, "
			     "which holds %" PRIu64, nrepl[t], t, finals[t]);
	}

	if (rank == 0) {
		all = malloc(per_rank * nranks * 8);
		v = malloc((per_rank + 1) * 8);
	}
	MPI_Gather(fsum, (int)per_rank, MPI_UINT64_T, all, (int)per_rank, MPI_UINT64_T, 0,
		   MPI_COMM_WORLD);
	if (rank == 0)
		for (t = 0; t < nranks; t++) {
			size_t n = 0;

			for (o = 0; o < nranks; o++)
				for (j = 0; j < reps; j++)
					v[n++] = all[o * per_rank + t * (size_t)reps + j];
			check_perm(v, n, 1, "MPI_SUM old values", t);
		}
	MPI_Gather(frepl, (int)per_rank, MPI_UINT64_T, all, (int)per_rank, MPI_UINT64_T, 0,
		   MPI_COMM_WORLD);
	if (rank == 0)
		for (t = 0; t < nranks; t++) {
			size_t n = 0;

			/* the tokens swapped out, and the one left: 0, 1..N*R once each */
			for (o = 0; o < nranks; o++)
				for (j = 0; j < reps; j++)
					v[n++] = all[o * per_rank + t * (size_t)reps + j];
			v[n++] = finals[t];
			check_perm(v, n, 1, "MPI_REPLACE old values and the last", t);
		}
	snprintf(what, sizeof(what), "MPI_SUM, MPI_REPLACE, %d ranks x %d rounds at each: "
		 "old values a permutation; MPI_NO_OP reads", nranks, reps);
	test_end(e, "fetch_op", what);
	free(fsum);
	free(frepl);
	free(tok);
	free(nsum);
	free(nrepl);
	free(finals);
	free(all);
	free(v);
}

/* fence: one compare-and-swap of 0 by every rank a round, one winner */
static void cas_fence(void)
{
	uint64_t *res = malloc(nranks * 8), *all = NULL, cmp = 0, mine = rank + 1;
	uint64_t w[NSLOTS], *finals = malloc(nranks * 8);
	char what[200];
	int t, j, o;

	test_begin(FENCE, "cas");
	reset();
	if (rank == 0)
		all = malloc((size_t)nranks * nranks * 8);
	for (j = 0; j < reps; j++) {
		memset(res, 0xff, nranks * 8);
		MPI_Win_fence(MPI_MODE_NOPRECEDE, win);
		for (t = 0; t < nranks; t++)
			MPI_Compare_and_swap(&mine, &cmp, res + t, MPI_UINT64_T, t, D(t, S_CAS), win);
		MPI_Win_fence(MPI_MODE_NOSUCCEED, win);
		snapshot(w);
		MPI_Allgather(&w[S_CAS], 1, MPI_UINT64_T, finals, 1, MPI_UINT64_T, MPI_COMM_WORLD);
		MPI_Gather(res, nranks, MPI_UINT64_T, all, nranks, MPI_UINT64_T, 0, MPI_COMM_WORLD);
		if (rank == 0)
			for (t = 0; t < nranks; t++) {
				int winners = 0, winner = -1;

				for (o = 0; o < nranks; o++) {
					uint64_t r = all[o * nranks + t];

					if (r == 0) {
						winners++;
						winner = o;
					} else if (r != finals[t]) {
						fail("round %d, target %d: rank %d fetched %" PRIu64
						     ", the word holds %" PRIu64, j, t, o, r, finals[t]);
					}
				}
				if (winners != 1)
					fail("round %d, target %d: %d ranks swapped 0", j, t, winners);
				else if (finals[t] != (uint64_t)winner + 1)
					fail("round %d, target %d: rank %d won, the word holds %" PRIu64,
					     j, t, winner, finals[t]);
			}
		check_guard(w);
		reset();
	}
	snprintf(what, sizeof(what), "%d rounds of a swap of 0 by %d ranks at each: one winner",
		 reps, nranks);
	test_end(FENCE, "cas", what);
	free(res);
	free(all);
	free(finals);
}

/* passive: every rank increments every target's word reps times */
static void cas_loop(enum epoch e)
{
	size_t per_rank = (size_t)nranks * reps;
	uint64_t *olds = malloc(per_rank * 8), *all = NULL, *v = NULL, w[NSLOTS];
	unsigned long retries = 0, all_retries;
	char what[200];
	int t, j, o;

	test_begin(e, "cas");
	reset();
	epoch_begin(e);
	for (t = 0; t < nranks; t++) {
		uint64_t old = 0, next, got;

		target_begin(e, t);
		for (j = 0; j < reps; ) {
			next = old + 1;
			MPI_Compare_and_swap(&next, &old, &got, MPI_UINT64_T, t, D(t, S_CAS), win);
			target_flush(e, t);
			if (got == old) {
				olds[t * (size_t)reps + j++] = old;
				old = next;
			} else {
				if (e == LOCK && j > 0) {
					/* nobody else in an exclusive epoch */
					fail("target %d: the word changed under an exclusive lock: "
					     "%" PRIu64 ", expected %" PRIu64, t, got, old);
					break;
				}
				retries++;
				old = got;
			}
		}
		target_end(e, t);
	}
	epoch_end(e);
	snapshot(w);
	if (w[S_CAS] != (uint64_t)nranks * reps)
		fail("the word: %" PRIu64 ", expected %" PRIu64, w[S_CAS], (uint64_t)nranks * reps);
	check_guard(w);
	if (rank == 0) {
		all = malloc(per_rank * nranks * 8);
		v = malloc(per_rank * 8);
	}
	MPI_Gather(olds, (int)per_rank, MPI_UINT64_T, all, (int)per_rank, MPI_UINT64_T, 0,
		   MPI_COMM_WORLD);
	MPI_Reduce(&retries, &all_retries, 1, MPI_UNSIGNED_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
	if (rank == 0)
		for (t = 0; t < nranks; t++) {
			size_t n = 0;

			for (o = 0; o < nranks; o++)
				for (j = 0; j < reps; j++)
					v[n++] = all[o * per_rank + t * (size_t)reps + j];
			check_perm(v, n, 1, "old values of successful swaps", t);
		}
	snprintf(what, sizeof(what), "increment loop, %d ranks x %d increments at each: old "
		 "values a permutation (%lu retries)", nranks, reps, rank == 0 ? all_retries : 0);
	test_end(e, "cas", what);
	free(olds);
	free(all);
	free(v);
}

static const char *const flavors[] = { "allocate", "create", "dynamic" };

static void run(int f)
{
	MPI_Aint bytes = NSLOTS * 8, mine;
	void *mem = NULL;
	int e;

	flavor = flavors[f];
	if (f > 0) {
		if (posix_memalign(&mem, 4096, 4096)) {
			printf("FAIL: rank %d: no memory for the window\n", rank);
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
		memset(mem, 0, 4096);
		base = mem;
	}
	if (f == 0) {
		MPI_Win_allocate(bytes, 8, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
	} else if (f == 1) {
		MPI_Win_create(mem, bytes, 8, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
	} else {
		MPI_Win_create_dynamic(MPI_INFO_NULL, MPI_COMM_WORLD, &win);
		MPI_Win_attach(win, mem, bytes);
		MPI_Get_address(mem, &mine);
		tbase = malloc(nranks * sizeof(*tbase));
		MPI_Allgather(&mine, 1, MPI_AINT, tbase, 1, MPI_AINT, MPI_COMM_WORLD);
	}
	for (e = FENCE; e <= LOCK_ALL; e++) {
		accumulate(e);
		get_accumulate(e);
		fetch_and_op(e);
		if (!cas_on[f])
			continue;
		if (e == FENCE)
			cas_fence();
		else
			cas_loop(e);
	}
	if (tbase) {
		MPI_Barrier(MPI_COMM_WORLD);
		MPI_Win_detach(win, mem);
		free(tbase);
		tbase = NULL;
	}
	MPI_Win_free(&win);
	free(mem);
}

/* A comma-separated list of window flavors into use[]: 0, or -1 on a bad name. */
static int parse_flavors(const char *arg, int *use)
{
	char list[64], *tok, *save;
	int f;

	snprintf(list, sizeof(list), "%s", arg);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (f = 0; f < 3 && strcmp(tok, flavors[f]); f++)
			;
		if (f == 3)
			return -1;
		use[f] = 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long total;
	const char *which = "allocate,create,dynamic", *cas = NULL;
	int c, f, use[3] = { 0 }, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	while ((c = getopt(argc, argv, "r:w:c:o")) != -1) {
		switch (c) {
		case 'r':
			reps = atoi(optarg);
			break;
		case 'w':
			which = optarg;
			break;
		case 'c':
			cas = optarg;
			break;
		case 'o':
			only_btl_ops = 1;
			break;
		default:
			bad = 1;
			break;
		}
	}
	if (parse_flavors(which, use) || parse_flavors(cas ? cas : which, cas_on))
		bad = 1;
	if (bad || reps < 1 || optind < argc || !(use[0] || use[1] || use[2])) {
		if (!rank)
			fprintf(stderr, "usage: mpi_osc [-r ROUNDS] [-w WINDOWS] [-c WINDOWS] [-o]\n"
				"  WINDOWS: a comma-separated list of allocate, create, dynamic\n");
		MPI_Finalize();
		return 2;
	}
	for (f = 0; f < 3; f++)
		if (use[f])
			run(f);
	MPI_Allreduce(&failures, &total, 1, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0) {
		if (total)
			printf("FAIL: mpi_osc: %lu checks failed\n", total);
		else
			printf("PASS: mpi_osc: %lu tests (windows %s%s%s), %d ranks, %d rounds%s\n",
			       tests, which, cas ? "; compare-and-swap on " : "", cas ? cas : "",
			       nranks, reps, only_btl_ops ? ", no MPI_MAX/MPI_BXOR (-o)" : "");
	}
	MPI_Finalize();
	return total ? 1 : 0;
}
