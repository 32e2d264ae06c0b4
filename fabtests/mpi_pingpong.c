// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpi_pingpong: two MPI ranks, data checked byte by byte.
 *
 *   ping-pong  0 bytes to 4 MiB (powers of two and odd sizes): rank 0 sends
 *              a pattern, rank 1 checks it and answers with another, rank 0
 *              checks that; round-trip times printed
 *   fence      MPI_Put and MPI_Get between MPI_Win_fence calls, at unaligned
 *              window offsets, the bytes around untouched
 *   lock       MPI_Put under an exclusive MPI_Win_lock, MPI_Get under a
 *              shared one (passive target)
 * Which transport carries it is Open MPI's choice (OMPI_MCA_pml, _mtl,
 * _btl...): the test says nothing about it, the harness checks that.
 * Exit status 0 when both ranks found everything right, else 1.
 *
 * -b: a benchmark instead (bench/guest-bench.sh, step mpi), from buffers the
 * program never registers (malloc'd once and reused, as an application's):
 * for each size from 1 KiB to 4 MiB (powers of two), the ping-pong latency
 * (half a round trip, in us) and a one-way bandwidth (MB/s, 10^6 bytes/s:
 * windows of 16 MPI_Isend into 16 distinct MPI_Irecv buffers, each window
 * answered by a 0-byte message).  Each size runs one untimed round trip and
 * window first (its data checked: a wrong byte fails the run), then iters
 * timed round trips and iters timed windows.  Rank 0 prints the table,
 * tab-separated ('#' lines first: what ran); -o FILE writes it as TSV too
 * ("# title: ..." and notes, then size, lat_us, bw_MBps, iters).  -q: sizes
 * in powers of four and fewer iterations (a smoke run).
 */
#include <mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX (4 << 20)
#define WIN (MAX + 8192)
#define GUARD 0xa5

static int rank;
static unsigned long failures;
static unsigned long long bytes_verified;

static uint8_t pat(uint64_t seed, size_t i)
{
	uint64_t x = (seed + i / 8) * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (i % 8)));
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(seed, i);
}

static void check(const uint8_t *p, size_t n, uint64_t seed, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != pat(seed, i)) {
			printf("FAIL: rank %d: %s: byte %zu of %zu is 0x%02x, expected 0x%02x\n",
			       rank, what, i, n, p[i], pat(seed, i));
			failures++;
			return;
		}
	}
	bytes_verified += n;
}

static void check_bytes(const uint8_t *p, size_t n, uint8_t c, const char *what)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != c) {
			printf("FAIL: rank %d: %s: byte %zu is 0x%02x, expected 0x%02x (untouched)\n",
			       rank, what, i, p[i], c);
			failures++;
			return;
		}
	}
}

static void pingpong(void)
{
	static const size_t odd[] = { 3, 1000, 4097, 65537, 1000003, (4 << 20) - 1 };
	size_t sizes[64], n = 0, i;
	uint8_t *buf = malloc(MAX + 64);
	int iters, it;

	sizes[n++] = 0;
	for (i = 1; i <= MAX; i *= 2)
		sizes[n++] = i;
	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		sizes[n++] = odd[i];
	for (i = 0; i < n; i++) {
		size_t len = sizes[i];
		double t0;
		char what[64];

		iters = len <= 65536 ? 10 : 2;
		MPI_Barrier(MPI_COMM_WORLD);
		t0 = MPI_Wtime();
		for (it = 0; it < iters; it++) {
			uint64_t seed = len * 131 + (uint64_t)it;

			memset(buf, GUARD, len + 64);
			if (rank == 0) {
				fill(buf, len, seed);
				MPI_Send(buf, (int)len, MPI_BYTE, 1, it, MPI_COMM_WORLD);
				memset(buf, GUARD, len + 64);
				MPI_Recv(buf, (int)len, MPI_BYTE, 1, it, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
				snprintf(what, sizeof(what), "pong of %zu bytes", len);
				check(buf, len, seed + 7, what);
			} else {
				MPI_Status st;
				int count;

				MPI_Recv(buf, (int)len, MPI_BYTE, 0, it, MPI_COMM_WORLD, &st);
				MPI_Get_count(&st, MPI_BYTE, &count);
				if ((size_t)count != len) {
					printf("FAIL: rank 1: ping of %zu bytes arrived with %d\n", len, count);
					failures++;
				}
				snprintf(what, sizeof(what), "ping of %zu bytes", len);
				check(buf, len, seed, what);
				check_bytes(buf + len, 64, GUARD, what);
				fill(buf, len, seed + 7);
				MPI_Send(buf, (int)len, MPI_BYTE, 0, it, MPI_COMM_WORLD);
			}
		}
		if (rank == 0 && (len == 0 || len == 1024 || len == 65536 || len == MAX))
			printf("ping-pong %8zu bytes: %9.1f us round trip (%d iterations)\n", len,
			       (MPI_Wtime() - t0) * 1e6 / iters, iters);
	}
	free(buf);
	if (rank == 0)
		printf("ping-pong: %zu sizes from 0 to %d bytes, both directions checked\n", n, MAX);
}

static void rma(void)
{
	static const size_t lens[] = { 1, 7, 4096, 65536 + 3, 1 << 20, MAX };
	static const size_t offs[] = { 0, 1, 4093 };
	uint8_t *base, *local = malloc(MAX + 64);
	MPI_Win win;
	size_t i, j, ops = 0;

	MPI_Win_allocate(WIN, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);

	/* Active target: fence epochs. */
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			size_t len = lens[i], off = offs[j];
			uint64_t seed = len * 17 + off;
			size_t lo = off >= 64 ? off - 64 : 0, hi = off + len + 64;

			memset(base, GUARD, WIN);
			MPI_Win_fence(0, win);
			if (rank == 0) {
				fill(local, len, seed);
				MPI_Put(local, (int)len, MPI_BYTE, 1, (MPI_Aint)off, (int)len, MPI_BYTE, win);
			}
			MPI_Win_fence(0, win);
			if (rank == 1) {
				check(base + off, len, seed, "MPI_Put under fence");
				check_bytes(base + lo, off - lo, GUARD, "before an MPI_Put");
				check_bytes(base + off + len, hi - off - len, GUARD, "after an MPI_Put");
				fill(base + off, len, seed + 1);
			}
			MPI_Win_fence(0, win);
			if (rank == 0) {
				memset(local, GUARD, len + 64);
				MPI_Get(local, (int)len, MPI_BYTE, 1, (MPI_Aint)off, (int)len, MPI_BYTE, win);
			}
			MPI_Win_fence(0, win);
			if (rank == 0) {
				check(local, len, seed + 1, "MPI_Get under fence");
				check_bytes(local + len, 64, GUARD, "after an MPI_Get's buffer");
			}
			ops += 2;
		}
	}
	if (rank == 0)
		printf("fence: %zu MPI_Put/MPI_Get of 1..%d bytes at offsets 0, 1, 4093\n", ops, MAX);

	/* Passive target: lock / unlock. */
	ops = 0;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i], off = offs[i % 3];
		uint64_t seed = len * 29 + off;

		MPI_Win_lock(MPI_LOCK_EXCLUSIVE, rank, 0, win);
		memset(base, GUARD, WIN);
		MPI_Win_unlock(rank, win);
		MPI_Barrier(MPI_COMM_WORLD);
		if (rank == 0) {
			fill(local, len, seed);
			MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 1, 0, win);
			MPI_Put(local, (int)len, MPI_BYTE, 1, (MPI_Aint)off, (int)len, MPI_BYTE, win);
			MPI_Win_unlock(1, win);
		}
		MPI_Barrier(MPI_COMM_WORLD);
		if (rank == 1) {
			MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 1, 0, win);
			check(base + off, len, seed, "MPI_Put under lock");
			check_bytes(base + off + len, 64, GUARD, "after an MPI_Put under lock");
			fill(base + off, len, seed + 3);
			MPI_Win_unlock(1, win);
		}
		MPI_Barrier(MPI_COMM_WORLD);
		if (rank == 0) {
			memset(local, GUARD, len + 64);
			MPI_Win_lock(MPI_LOCK_SHARED, 1, 0, win);
			MPI_Get(local, (int)len, MPI_BYTE, 1, (MPI_Aint)off, (int)len, MPI_BYTE, win);
			MPI_Win_unlock(1, win);
			check(local, len, seed + 3, "MPI_Get under shared lock");
		}
		MPI_Barrier(MPI_COMM_WORLD);
		ops += 2;
	}
	if (rank == 0)
		printf("lock: %zu MPI_Put (exclusive lock) / MPI_Get (shared lock) of 1..%d bytes\n",
		       ops, MAX);
	MPI_Win_free(&win);
	free(local);
}

/* ---- -b: the benchmark ---- */

#define BENCH_MIN 1024
#define BENCH_WINDOW 16

/*
 * Iterations of a size: 128 MiB through the bandwidth test from 16 KiB to
 * 2 MiB, 256 MiB at 4 MiB (4 windows), 500 windows below 16 KiB; -q: about
 * 16 MiB, 2 to 20 windows.
 */
static int bench_iters(size_t len, int quick)
{
	size_t n = quick ? (1 << 20) / len : (8 << 20) / len;
	size_t lo = quick ? 2 : 4, hi = quick ? 20 : 500;

	return (int)(n < lo ? lo : n > hi ? hi : n);
}

/* ping-pong of len bytes, n round trips; the seconds rank 0 measured */
static double bench_lat(uint8_t *sbuf, uint8_t *rbuf, size_t len, int n)
{
	double t0;
	int i;

	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	for (i = 0; i < n; i++) {
		if (rank == 0) {
			MPI_Send(sbuf, (int)len, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
			MPI_Recv(rbuf, (int)len, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(rbuf, (int)len, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(sbuf, (int)len, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
		}
	}
	return MPI_Wtime() - t0;
}

/* n windows of BENCH_WINDOW messages of len bytes, rank 0 to rank 1 */
static double bench_bw(uint8_t *sbuf, uint8_t *rbuf, size_t len, int n)
{
	MPI_Request req[BENCH_WINDOW];
	double t0;
	int i, j;

	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	for (i = 0; i < n; i++) {
		if (rank == 0) {
			for (j = 0; j < BENCH_WINDOW; j++)
				MPI_Isend(sbuf, (int)len, MPI_BYTE, 1, 2, MPI_COMM_WORLD, &req[j]);
			MPI_Waitall(BENCH_WINDOW, req, MPI_STATUSES_IGNORE);
			MPI_Recv(NULL, 0, MPI_BYTE, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else {
			for (j = 0; j < BENCH_WINDOW; j++)
				MPI_Irecv(rbuf + (size_t)j * len, (int)len, MPI_BYTE, 0, 2,
					  MPI_COMM_WORLD, &req[j]);
			MPI_Waitall(BENCH_WINDOW, req, MPI_STATUSES_IGNORE);
			MPI_Send(NULL, 0, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
		}
	}
	return MPI_Wtime() - t0;
}

/* what ran, from the environment Open MPI and the provider read */
static void bench_notes(char notes[][256], int *nnotes)
{
	static const char *const vars[] = {
		"OMPI_MCA_pml", "OMPI_MCA_mtl", "OMPI_MCA_btl", "OMPI_MCA_mtl_ofi_provider_include",
		"OMPI_MCA_btl_ofi_provider_include", "FI_FPGADMA_MR_CACHE",
	};
	char version[MPI_MAX_LIBRARY_VERSION_STRING], *p = notes[*nnotes];
	size_t i, used = 0;
	int len;

	MPI_Get_library_version(version, &len);
	version[strcspn(version, ",\n")] = '\0';
	used += (size_t)snprintf(p, 256, "%s; environment:", version);
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]) && used < 256; i++) {
		const char *v = getenv(vars[i]);

		if (v)
			used += (size_t)snprintf(p + used, 256 - used, " %s=%s", vars[i], v);
	}
	if (!getenv("FI_FPGADMA_MR_CACHE") && used < 256)
		snprintf(p + used, 256 - used, " (FI_FPGADMA_MR_CACHE not set)");
	(*nnotes)++;
	snprintf(notes[(*nnotes)++], 256,
		 "buffers malloc'd once, never registered by the program; bw: windows of %d "
		 "MPI_Isend, each answered by 0 bytes; lat_us: half a round trip",
		 BENCH_WINDOW);
	snprintf(notes[(*nnotes)++], 256,
		 "iters: the timed round trips, and the timed windows, of each size "
		 "(after one untimed of each, its data checked)");
}

static void bench(int quick, const char *tsv_path)
{
	const size_t max = MAX, step = quick ? 4 : 2;
	uint8_t *sbuf = malloc(max), *rbuf = malloc(max * BENCH_WINDOW);
	char notes[3][256];
	int nnotes = 0, i;
	FILE *tsv = NULL;
	size_t len;

	if (!sbuf || !rbuf) {
		printf("FAIL: rank %d: no memory for the buffers\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	if (rank == 0) {
		const char *title = "mpi_pingpong -b: Open MPI, 2 ranks: ping-pong latency and "
				    "bandwidth from unregistered buffers";

		bench_notes(notes, &nnotes);
		if (tsv_path) {
			tsv = fopen(tsv_path, "w");
			if (!tsv) {
				perror(tsv_path);
				MPI_Abort(MPI_COMM_WORLD, 1);
			}
			fprintf(tsv, "# title: %s\n", title);
			for (i = 0; i < nnotes; i++)
				fprintf(tsv, "# %s\n", notes[i]);
			fprintf(tsv, "size\tlat_us\tbw_MBps\titers\n");
			fflush(tsv);
		}
		printf("# %s\n", title);
		for (i = 0; i < nnotes; i++)
			printf("# %s\n", notes[i]);
		printf("size\tlat_us\tbw_MBps\titers\n");
	}
	for (len = BENCH_MIN; len <= max; len *= step) {
		int iters = bench_iters(len, quick);
		uint64_t seed = len * 131;
		double lat, bw;
		char what[64];

		/* the untimed round trip and window, their data checked */
		fill(sbuf, len, rank == 0 ? seed : seed + 7);
		memset(rbuf, GUARD, len);
		memset(rbuf + (BENCH_WINDOW - 1) * len, GUARD, len);
		bench_lat(sbuf, rbuf, len, 1);
		snprintf(what, sizeof(what), "%s of %zu bytes", rank == 0 ? "pong" : "ping", len);
		check(rbuf, len, rank == 0 ? seed + 7 : seed, what);
		if (rank == 1)
			memset(rbuf, GUARD, len);
		bench_bw(sbuf, rbuf, len, 1);
		if (rank == 1) {
			snprintf(what, sizeof(what), "the first message of a window of %zu bytes", len);
			check(rbuf, len, seed, what);
			snprintf(what, sizeof(what), "the last message of a window of %zu bytes", len);
			check(rbuf + (BENCH_WINDOW - 1) * len, len, seed, what);
		}

		lat = bench_lat(sbuf, rbuf, len, iters) * 1e6 / (2.0 * iters);
		bw = bench_bw(sbuf, rbuf, len, iters);
		bw = bw > 0 ? (double)len * BENCH_WINDOW * iters / bw / 1e6 : 0;
		if (rank == 0) {
			printf("%zu\t%.2f\t%.1f\t%d\n", len, lat, bw, iters);
			if (tsv) {
				fprintf(tsv, "%zu\t%.3f\t%.2f\t%d\n", len, lat, bw, iters);
				fflush(tsv);
			}
		}
	}
	if (tsv && fclose(tsv)) {
		perror(tsv_path);
		failures++;
	}
	free(sbuf);
	free(rbuf);
}

int main(int argc, char **argv)
{
	unsigned long total;
	unsigned long long bytes;
	const char *tsv_path = NULL;
	int size, c, bench_mode = 0, quick = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	while ((c = getopt(argc, argv, "bqo:")) != -1) {
		switch (c) {
		case 'b':
			bench_mode = 1;
			break;
		case 'q':
			quick = 1;
			break;
		case 'o':
			tsv_path = optarg;
			break;
		default:
			if (!rank)
				fprintf(stderr, "usage: mpi_pingpong [-b [-q] [-o FILE]]\n");
			MPI_Finalize();
			return 2;
		}
	}
	if (size != 2) {
		if (!rank)
			printf("FAIL: mpi_pingpong needs 2 ranks, has %d\n", size);
		MPI_Finalize();
		return 1;
	}
	if (bench_mode) {
		bench(quick, tsv_path);
		MPI_Allreduce(&failures, &total, 1, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
		if (rank == 0) {
			if (total)
				printf("FAIL: mpi_pingpong -b: %lu checks failed\n", total);
			else
				printf("PASS: mpi_pingpong -b: %llu bytes checked\n", bytes_verified);
		}
		MPI_Finalize();
		return total ? 1 : 0;
	}
	pingpong();
	rma();
	MPI_Allreduce(&failures, &total, 1, MPI_UNSIGNED_LONG, MPI_SUM, MPI_COMM_WORLD);
	MPI_Allreduce(&bytes_verified, &bytes, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0) {
		if (total)
			printf("FAIL: mpi_pingpong: %lu checks failed\n", total);
		else
			printf("PASS: mpi_pingpong: %llu bytes verified\n", bytes);
	}
	MPI_Finalize();
	return total ? 1 : 0;
}
