// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ring_pressure: the "Bad page state" class of driver bugs cannot happen.
 *
 * The classic bug: a ring of unaligned frames is pinned and DMA-mapped, the
 * device feeds it without end, and much later the kernel reports "Bad page
 * state" in unrelated processes (pages freed while still pinned, written
 * by the device after the unpin, or left in ZONE_MOVABLE).  Here:
 *
 *  - a ring of NSLOTS frame slots starts 100 bytes into a page, so every
 *    slot straddles pages and neighbouring slots share them; the pages
 *    around the ring, in the same mapping, belong to other data;
 *  - the device streams frames into the slots without end, and every frame
 *    is checked (content and order) after its completion;
 *  - meanwhile, in this process, the neighbouring pages are unmapped and
 *    mapped again, the ring's mapping is advised to huge pages and back
 *    (collapse and split around pinned pages), and the process forks;
 *  - and a second process allocates and frees memory, drives compaction
 *    (/proc/sys/vm/compact_memory), drops caches and forks;
 *  - for a bounded time (DURATION_S, scaled by FPGADMA_TEST_TIME_SCALE),
 *    reported in frames and bytes.
 * At the end the ring is deregistered while the stressor keeps churning
 * memory, so pages freed after the unpin would show a late device write
 * (the "pressure" configuration boots with page_poison=1, which checks
 * freed pages when they are reused, and the harness fails on "Bad page
 * state" and on poison corruption).  With movablecore= on the command line,
 * no pinned page of the ring may lie in ZONE_MOVABLE: a long-term pin
 * migrates pages out of it first.
 */
#include "helpers.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define DURATION_S	20
#define NSLOTS		64
#define RING_OFFSET	100

static struct t_dev d;

static void write_proc(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0) {
		/* best effort: some knobs are missing on some kernels */
	}
	close(fd);
}

/* The second process: memory churn, compaction, cache drops, forks. */
static void stressor(void)
{
	size_t chunk = 32 * T_MiB;
	unsigned long n = 0;

	for (;;) {
		uint8_t *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		pid_t pid;

		if (p != MAP_FAILED) {
			madvise(p, chunk, (n & 1) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
			memset(p, (int)n, chunk);
			/* Free half, keep half a moment: fragmentation. */
			munmap(p, chunk / 2);
			if (n % 3 == 0)
				write_proc("/proc/sys/vm/compact_memory", "1");
			if (n % 5 == 0)
				write_proc("/proc/sys/vm/drop_caches", "3");
			munmap(p + chunk / 2, chunk / 2);
		}
		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		n++;
	}
}

/* Movable zone of node 0 as [start, end) page frames; false if none. */
static bool movable_zone(uint64_t *start, uint64_t *end)
{
	char line[256];
	bool in = false;
	uint64_t s = 0, spanned = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node ", 5)) {
			in = strstr(line, "zone  Movable") || strstr(line, "zone Movable");
			continue;
		}
		if (!in)
			continue;
		sscanf(line, " spanned %" SCNu64, &spanned);
		sscanf(line, " start_pfn: %" SCNu64, &s);
	}
	fclose(f);
	*start = s;
	*end = s + spanned;
	return spanned > 0;
}

static unsigned int pages_in_movable(uint8_t *p, size_t len)
{
	uint64_t s, e, page = t_page_size();
	uintptr_t a = (uintptr_t)p & ~(page - 1);
	unsigned int n = 0;

	if (!movable_zone(&s, &e))
		return 0;
	for (; a < (uintptr_t)p + len; a += page) {
		uint64_t phys = t_phys_addr((void *)a);

		if (phys && phys / page >= s && phys / page < e)
			n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	uint64_t frame, slot_len, ring_len, map_len, pos = 0, frames = 0, bytes = 0;
	uint64_t deadline, mv_s, mv_e, t0;
	unsigned int i, inflight = 0, next_post = 0, next_done = 0, remaps = 0, forks = 0;
	unsigned int advises = 0, movable_before, movable_unpinned;
	struct fpgadma_sge sg[NSLOTS];
	struct t_snap start;
	struct fpgadma_mr *mr;
	uint8_t *map, *ring;
	size_t page = t_page_size();
	pid_t stress;
	int st;

	t_init(argc, argv, 300);
	if (!getenv("FPGADMA_VM"))
		t_skip("drives compaction and the OOM-free memory churn of a whole guest: VM only");
	t_open(&d);
	if (!d.attr.frame_size)
		t_skip("the device has no frame stream");
	t_snap_take(&start);
	frame = d.attr.frame_size;
	slot_len = frame;			/* one frame a slot, unaligned */
	ring_len = NSLOTS * slot_len;
	/* 2 MiB aligned mapping (for THP), the ring RING_OFFSET into its 2nd page. */
	map_len = T_DIV_ROUND_UP(ring_len + 2 * page + RING_OFFSET, 2 * T_MiB) * 2 * T_MiB;
	map = t_map_aligned(map_len, 2 * T_MiB);
	memset(map, 0x77, map_len);
	ring = map + page + RING_OFFSET;
	movable_unpinned = pages_in_movable(ring, ring_len);
	mr = t_reg(&d, ring, ring_len, FPGADMA_ACCESS_LOCAL_WRITE);
	movable_before = pages_in_movable(ring, ring_len);
	t_log("ring: %u slots of %llu bytes at page offset %u (%llu bytes, %u DMA segments); "
	      "pages in ZONE_MOVABLE: %u before pinning, %u pinned%s", NSLOTS,
	      (unsigned long long)slot_len, RING_OFFSET, (unsigned long long)ring_len, mr->nsegs,
	      movable_unpinned, movable_before,
	      movable_zone(&mv_s, &mv_e) ? "" : " (no movable zone in this guest)");
	CHECK_EQ(movable_before, 0);
	for (i = 0; i < NSLOTS; i++)
		sg[i] = t_sge(mr, ring + i * slot_len, (uint32_t)slot_len);

	stress = fork();
	CHECK_SYS(stress);
	if (stress == 0)
		stressor();

	t0 = t_now_ms();
	deadline = t0 + (uint64_t)DURATION_S * 1000 * t_time_scale();
	while (t_now_ms() < deadline || inflight) {
		struct fpgadma_cqe c[NSLOTS];
		int n, j;

		/* Keep half the ring in flight. */
		while (t_now_ms() < deadline && inflight < NSLOTS / 2) {
			unsigned int s = next_post % NSLOTS;

			memset(ring + s * slot_len, 0xee, slot_len);
			CHECK_OK(fpgadma_post_stream_read(d.ctx, next_post, &sg[s], 1));
			next_post++;
			inflight++;
		}
		n = fpgadma_poll(d.ctx, c, NSLOTS);
		CHECK(n >= 0);
		for (j = 0; j < n; j++) {
			unsigned int s = next_done % NSLOTS;

			CHECK_CQE(&c[j], next_done, FPGADMA_WR_READ_STREAM, FPGADMA_WC_SUCCESS,
				  slot_len);
			if (t_stream_check(ring + s * slot_len, slot_len, frame, &pos, "ring slot"))
				t_fail("frame %llu in slot %u is wrong", (unsigned long long)frames, s);
			next_done++;
			inflight--;
			frames++;
			bytes += slot_len;
		}
		if (!n)
			fpgadma_wait(d.ctx, 10);
		/* Disturb the neighbours every few frames. */
		if (frames && frames % 97 == 0 && frames / 97 > remaps) {
			uint8_t *before = map, *after = map + page + RING_OFFSET + ring_len;
			uintptr_t after_page = ((uintptr_t)after + page - 1) & ~(page - 1);

			/* The page before the ring's first page, and those after its last. */
			CHECK_SYS(munmap(before, page));
			CHECK(mmap(before, page, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == before);
			memset(before, 0x55, page);
			if (after_page + page <= (uintptr_t)map + map_len) {
				CHECK_SYS(munmap((void *)after_page, page));
				CHECK(mmap((void *)after_page, page, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
				      (void *)after_page);
				memset((void *)after_page, 0x66, page);
			}
			/* Ask for huge pages and take it back: collapse/split attempts. */
			madvise(map, map_len, (remaps & 1) ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
			advises++;
			remaps++;
		}
		if (frames && frames % 211 == 0 && frames / 211 > forks) {
			pid_t pid = fork();

			CHECK_SYS(pid);
			if (pid == 0) {
				/* The child writes its copy of the ring: never the device's. */
				memset(ring, 0x11, ring_len);
				_exit(0);
			}
			st = t_wait_child(pid, 30000);
			CHECK_CHILD_OK(st);
			forks++;
		}
	}
	t_log("streamed %llu frames (%llu bytes) into the ring in %llu ms, every frame checked "
	      "in order; %u neighbour remaps, %u THP advice changes, %u forks, while another "
	      "process churned memory, compacted and dropped caches",
	      (unsigned long long)frames, (unsigned long long)bytes,
	      (unsigned long long)(t_now_ms() - t0), remaps, advises, forks);
	CHECK_GT(frames, NSLOTS);
	CHECK_EQ(pages_in_movable(ring, ring_len), 0);
	/* The bytes that share the ring's first and last pages are not the device's. */
	CHECK_EQ(t_verify_byte(ring - RING_OFFSET, RING_OFFSET, 0x77,
			       "bytes before the ring in its first page"), 0);
	{
		uintptr_t end = (uintptr_t)ring + ring_len;
		size_t tail = (size_t)(((end + page - 1) & ~(page - 1)) - end);

		CHECK_EQ(t_verify_byte((void *)end, tail, 0x77,
				       "bytes after the ring in its last page"), 0);
	}

	/* Unpin while the stressor still reuses freed memory. */
	t_dereg(mr);
	t_sleep_ms(2000);
	CHECK_SYS(kill(stress, SIGKILL));
	st = t_wait_child(stress, 30000);
	CHECK(WIFSIGNALED(st));
	t_unmap(map, map_len);
	t_close(&d);
	CHECK_SETTLED(&start, 10000, "after the ring and the stressor are gone");
	t_pass();
}
