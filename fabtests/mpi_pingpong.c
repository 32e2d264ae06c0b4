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
 */
#include <mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
	unsigned long total;
	unsigned long long bytes;
	int size;

	setvbuf(stdout, NULL, _IOLBF, 0);
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size != 2) {
		if (!rank)
			printf("FAIL: mpi_pingpong needs 2 ranks, has %d\n", size);
		MPI_Finalize();
		return 1;
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
