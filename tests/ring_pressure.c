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
 *    mapped again, the ring's mapping is advised to huge pages and back,
 *    and the process forks;
 *  - THPs are split and collapsed under and next to the pinned ring, and
 *    that it happened is shown, not assumed: the ring's 2 MiB starts as a
 *    THP (AnonHugePages in /proc/self/smaps), MADV_DONTNEED of a page
 *    beside the ring splits its PMD while the ring is pinned, and
 *    MADV_COLLAPSE over it must fail (EAGAIN: pinned pages cannot be
 *    copied) with every pinned page still at its physical address; the
 *    2 MiB next to the ring are split (MADV_DONTNEED of one page) and
 *    collapsed again (MADV_COLLAPSE) over and over, each seen in
 *    AnonHugePages, and their content checked every time; the deltas of
 *    /proc/vmstat's thp_* and compact_* counters are printed and must
 *    account for the splits and collapses seen (unless the kernel has no
 *    THP, which is printed);
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
#define THP_SIZE	(2 * T_MiB)

static struct t_dev d;

/* The /proc/vmstat counters whose deltas over the stream are reported. */
static const char *const vm_counters[] = {
	"thp_fault_alloc", "thp_split_pmd", "thp_split_page", "thp_split_page_failed",
	"thp_deferred_split_page", "thp_collapse_alloc", "thp_collapse_alloc_failed",
	"compact_stall", "compact_success", "compact_fail", "compact_migrate_scanned",
	"compact_free_scanned", "compact_isolated",
};
#define N_VM_COUNTERS	T_ARRAY_SIZE(vm_counters)

static void vm_counters_read(long long *v)
{
	size_t i;

	for (i = 0; i < N_VM_COUNTERS; i++)
		v[i] = t_vmstat(vm_counters[i]);
}

static long long vm_delta(const long long *before, const long long *after, const char *name)
{
	size_t i;

	for (i = 0; i < N_VM_COUNTERS; i++)
		if (!strcmp(vm_counters[i], name))
			return after[i] - before[i];
	t_fail("no counter %s", name);
}

/* Whether the kernel makes THPs (sysfs "enabled" present and not [never]). */
static bool thp_enabled(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return buf[0] && !strstr(buf, "[never]");
}

/*
 * What the THP part saw.  The ring's 2 MiB ("under"): AnonHugePages when
 * pinned, after its PMD was split, and the MADV_COLLAPSE attempts on it
 * while pinned.  The 2 MiB after it ("next"): splits and collapses seen.
 */
struct thp_seen {
	long long under_pinned_kb, under_split_kb;
	unsigned int under_collapse_tries, under_collapse_eagain, under_collapse_other;
	int under_first_errno, under_other_errno;
	unsigned int next_splits, next_collapses, next_collapse_failed, next_rounds;
	uint64_t next_bytes_checked;
};

#define MADV_COLLAPSE_	25	/* MADV_COLLAPSE (Linux 6.1), for older headers */

/* Physical address of every page of [p, p+len); false if pagemap says none. */
static bool ring_phys(const uint8_t *p, size_t len, uint64_t *phys, size_t n)
{
	size_t page = t_page_size(), i;
	uintptr_t a = (uintptr_t)p & ~(page - 1);

	for (i = 0; i < n && a < (uintptr_t)p + len; i++, a += page) {
		phys[i] = t_phys_addr((void *)a);
		if (!phys[i])
			return false;
	}
	return true;
}

/* The ring's pinned pages are where they were when pinned. */
static void check_ring_phys(const uint8_t *ring, size_t len, const uint64_t *pinned, size_t n,
			    const char *when)
{
	uint64_t *now;
	size_t i;

	if (!pinned[0])
		return;
	now = calloc(n, sizeof(*now));
	CHECK(now != NULL);
	CHECK(ring_phys(ring, len, now, n));
	for (i = 0; i < n; i++)
		CHECK_MSG(now[i] == pinned[i], "ring page %zu moved from %#llx to %#llx %s", i,
			  (unsigned long long)pinned[i], (unsigned long long)now[i], when);
	free(now);
}

/*
 * Under the pinned ring: zap the region's last page (outside the ring), so
 * that its PMD is split, then ask for a collapse, which must fail.  The
 * region has one VMA still (MADV_DONTNEED splits none).
 */
static void thp_under_ring(uint8_t *map, size_t map_len, struct thp_seen *ts)
{
	size_t page = t_page_size();

	ts->under_pinned_kb = t_anon_huge_kb(map, map_len);
	CHECK_SYS(madvise(map + map_len - page, page, MADV_DONTNEED));
	ts->under_split_kb = t_anon_huge_kb(map, map_len);
	errno = 0;
	CHECK_EQ(madvise(map, map_len, MADV_COLLAPSE_), -1);
	ts->under_first_errno = errno;
	ts->under_collapse_tries++;
	if (errno == EAGAIN) {
		ts->under_collapse_eagain++;
	} else {
		ts->under_collapse_other++;
		ts->under_other_errno = errno;
	}
	CHECK_EQ(t_anon_huge_kb(map, map_len), 0);
}

/* Next to the ring: split the 2 MiB by zapping one page, collapse them again. */
static void thp_next_round(uint8_t *next, struct thp_seen *ts)
{
	size_t page = t_page_size();
	size_t off = (size_t)(1 + ts->next_rounds % (THP_SIZE / page - 1)) * page;

	ts->next_rounds++;
	if (t_anon_huge_kb(next, THP_SIZE) == THP_SIZE / 1024) {
		CHECK_SYS(madvise(next + off, page, MADV_DONTNEED));
		if (t_anon_huge_kb(next, THP_SIZE) == 0)
			ts->next_splits++;
		t_fill(next + off, page, 81, off);
	}
	if (madvise(next, THP_SIZE, MADV_COLLAPSE_) == 0 &&
	    t_anon_huge_kb(next, THP_SIZE) == THP_SIZE / 1024)
		ts->next_collapses++;
	else
		ts->next_collapse_failed++;
	CHECK_EQ(t_verify(next, THP_SIZE, 81, 0, "the THP next to the ring"), 0);
	ts->next_bytes_checked += THP_SIZE;
}

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

/* Post the stream read of WR n into its slot, cleared first. */
static void post_slot(uint8_t *ring, uint64_t slot_len, const struct fpgadma_sge *sg,
		      unsigned int n)
{
	unsigned int s = n % NSLOTS;

	memset(ring + s * slot_len, 0xee, slot_len);
	CHECK_OK(fpgadma_post_stream_read(d.ctx, n, &sg[s], 1));
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
	uint8_t *map, *ring, *next;
	size_t page = t_page_size(), nphys;
	long long vm_before[N_VM_COUNTERS], vm_after[N_VM_COUNTERS];
	struct thp_seen ts = { 0 };
	bool thp = thp_enabled();
	uint64_t *phys;
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
	map_len = T_DIV_ROUND_UP(ring_len + 2 * page + RING_OFFSET, THP_SIZE) * THP_SIZE;
	/*
	 * And 2 MiB after it, the THP next to the ring: a VMA of its own
	 * (MADV_DONTFORK sets a flag the ring's VMA lacks), so that its
	 * AnonHugePages in smaps are its alone.
	 */
	map = t_map_aligned(map_len + THP_SIZE, THP_SIZE);
	next = map + map_len;
	madvise(map, map_len + THP_SIZE, MADV_HUGEPAGE);
	CHECK_SYS(madvise(next, THP_SIZE, MADV_DONTFORK));
	memset(map, 0x77, map_len);
	t_fill(next, THP_SIZE, 81, 0);
	ring = map + page + RING_OFFSET;
	movable_unpinned = pages_in_movable(ring, ring_len);
	mr = t_reg(&d, ring, ring_len, FPGADMA_ACCESS_LOCAL_WRITE);
	movable_before = pages_in_movable(ring, ring_len);
	nphys = t_pages_spanned(ring, ring_len);
	phys = calloc(nphys, sizeof(*phys));
	CHECK(phys != NULL);
	if (!ring_phys(ring, ring_len, phys, nphys))
		phys[0] = 0;	/* no physical addresses: not compared */
	t_log("THP: %s; the ring's %llu kB region has %lld kB AnonHugePages when pinned, the "
	      "2 MiB next to it %lld kB", thp ? "enabled" : "not available in this kernel",
	      (unsigned long long)map_len / 1024, t_anon_huge_kb(map, map_len),
	      t_anon_huge_kb(next, THP_SIZE));
	t_log("ring: %u slots of %llu bytes at page offset %u (%llu bytes, %u DMA segments); "
	      "pages in ZONE_MOVABLE: %u before pinning, %u pinned%s", NSLOTS,
	      (unsigned long long)slot_len, RING_OFFSET, (unsigned long long)ring_len, mr->nsegs,
	      movable_unpinned, movable_before,
	      movable_zone(&mv_s, &mv_e) ? "" : " (no movable zone in this guest)");
	CHECK_EQ(movable_before, 0);
	for (i = 0; i < NSLOTS; i++)
		sg[i] = t_sge(mr, ring + i * slot_len, (uint32_t)slot_len);

	vm_counters_read(vm_before);
	t0 = t_now_ms();
	deadline = t0 + (uint64_t)DURATION_S * 1000 * t_time_scale();
	/*
	 * The stream starts; with half the ring in flight its THP is split
	 * and a collapse attempted.  Before any fork: fork() splits the PMD of
	 * a pinned THP itself (the child must get copies of pinned pages).
	 */
	for (; inflight < NSLOTS / 2; inflight++, next_post++)
		post_slot(ring, slot_len, sg, next_post);
	thp_under_ring(map, map_len, &ts);
	stress = fork();
	CHECK_SYS(stress);
	if (stress == 0)
		stressor();

	while (t_now_ms() < deadline || inflight) {
		struct fpgadma_cqe c[NSLOTS];
		int n, j;

		/* Keep half the ring in flight. */
		for (; t_now_ms() < deadline && inflight < NSLOTS / 2; inflight++, next_post++)
			post_slot(ring, slot_len, sg, next_post);
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

			/* The THP next to the ring: split and collapsed. */
			thp_next_round(next, &ts);
			check_ring_phys(ring, ring_len, phys, nphys, "after a THP split/collapse");
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
			/* Collapse over the pinned ring: never done (errno counted). */
			if (!(remaps & 1)) {
				ts.under_collapse_tries++;
				if (!madvise(map, map_len, MADV_COLLAPSE_))
					t_fail("MADV_COLLAPSE over the pinned ring succeeded");
				if (errno == EAGAIN) {
					ts.under_collapse_eagain++;
				} else {
					ts.under_collapse_other++;
					ts.under_other_errno = errno;
				}
				CHECK_EQ(t_anon_huge_kb(map, map_len), 0);
				check_ring_phys(ring, ring_len, phys, nphys,
						"after MADV_COLLAPSE over the ring");
			}
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
	check_ring_phys(ring, ring_len, phys, nphys, "at the end of the stream");
	vm_counters_read(vm_after);
	{
		char line[1024];
		size_t i, n = 0;

		for (i = 0; i < N_VM_COUNTERS; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s +%lld", i ? "," : "",
					      vm_counters[i], vm_after[i] - vm_before[i]);
		t_log("/proc/vmstat over the stream:%s", line);
	}
	t_log("THP under the pinned ring: %lld kB PMD-mapped when pinned, %lld kB after "
	      "MADV_DONTNEED of a page beside it (the PMD split, the ring kept); MADV_COLLAPSE "
	      "over it %u times: %u EAGAIN (the first: %s), %u %s (neighbour remaps split its "
	      "VMA), never collapsed; %zu ring pages %s", ts.under_pinned_kb, ts.under_split_kb,
	      ts.under_collapse_tries, ts.under_collapse_eagain, t_errname(ts.under_first_errno),
	      ts.under_collapse_other, t_errname(ts.under_other_errno), nphys,
	      phys[0] ? "at the same physical addresses throughout" : "(addresses unknown)");
	t_log("THP next to the ring: %u rounds, %u splits and %u collapses seen in "
	      "AnonHugePages (%u collapses failed), %llu bytes of it verified",
	      ts.next_rounds, ts.next_splits, ts.next_collapses, ts.next_collapse_failed,
	      (unsigned long long)ts.next_bytes_checked);
	CHECK_GT(ts.next_rounds, 0);
	if (!thp) {
		t_log("THP is not available: the split and collapse counts are not asserted");
	} else {
		/* A PMD-mapped ring region loses its PMD mapping, not its pages. */
		if (ts.under_pinned_kb > 0)
			CHECK_EQ(ts.under_split_kb, 0);
		else
			t_log("the ring's region was not a THP when pinned (no huge page free?)");
		CHECK_EQ(ts.under_first_errno, EAGAIN);
		CHECK_GT(ts.next_splits, 0);
		CHECK_GT(ts.next_collapses, 0);
		CHECK_GE(vm_delta(vm_before, vm_after, "thp_split_pmd"),
			 ts.next_splits + (ts.under_pinned_kb > 0));
		CHECK_GE(vm_delta(vm_before, vm_after, "thp_collapse_alloc"), ts.next_collapses);
		if (access("/proc/sys/vm/compact_memory", W_OK) == 0)
			CHECK_GT(vm_delta(vm_before, vm_after, "compact_migrate_scanned") +
				 vm_delta(vm_before, vm_after, "compact_free_scanned"), 0);
	}
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
	t_unmap(map, map_len + THP_SIZE);
	free(phys);
	t_close(&d);
	CHECK_SETTLED(&start, 10000, "after the ring and the stressor are gone");
	t_pass();
}
