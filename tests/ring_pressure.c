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
 *
 * Then the same with a paced stream (FPGADMA_CAP_STREAM; without it the
 * phase is skipped, saying why, and the test still passes): the device
 * writes frames on its own clock (PACED_PERIOD_NS: 2000 frames/s) into a
 * ring of PACED_NSLOTS slots of PACED_SLOT bytes (frames of PACED_FRAME
 * bytes; neither a multiple of 8 nor of the page size) starting 100 bytes
 * into a page, in an MR from that page's start to the ring's end, on a
 * fresh mapping of the same layout.  The same churn runs around it for
 * PACED_MS (scaled), paced by time rather than by frames (a churn round
 * every ROUND_MS, a fork every FORK_MS, at least MIN_ROUNDS and MIN_FORKS,
 * and with THP until a split and a collapse next to the ring were seen):
 * the ring's THP split under the running stream, MADV_COLLAPSE over it
 * refused, the neighbours remapped, the THP beside it split and
 * collapsed, forks, the second process churning.  Frames are taken with
 * fpgadma_stream_ready/slot/release only, and every one is checked
 * (header, seq, timestamp on the device's clock, every payload byte, the
 * slot's bytes past the frame untouched); drops are allowed (a slow
 * machine, the churn) but must be accounted exactly (each frame's
 * lost_before, and the final counters).  Twice:
 *  - the stream is stopped (drain 0): the final counters agree, the frames
 *    left in the ring are checked, one END CQE (SUCCESS, STOP), and the
 *    ring's pages do not change for QUIET_MS (no write after the stop);
 *    the pinned pages never moved and none is in ZONE_MOVABLE; then the MR
 *    is deregistered while the second process churns;
 *  - the MR is deregistered while the stream runs (under the churn): the
 *    kernel stops it (STOPPED by DEREG, one END CQE FLUSH_ERR/DEREG), the
 *    frames it wrote are complete and every drop accounted for, the ring's
 *    pages do not change for QUIET_MS, and fpgadma_stream_stop() then
 *    frees the stream with the same counters.
 * Each time VmPin, live_mrs and pinned_pages are back at once after the
 * deregistration, the ring's mapping is unmapped while the second process
 * still churns (its pages freed, poisoned and reused: a late device write
 * shows), and the pins settle once the churn stops.  Frames, bytes, drops
 * and the FIFO's high-water mark are printed.
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

/* The paced stream's phase. */
#define PACED_MS	3000		/* run time of each of its two runs (scaled) */
#define PACED_NSLOTS	64
#define PACED_FRAME	4093		/* 511 words and 5 bytes: the last word cut */
#define PACED_SLOT	4101		/* 8 bytes past each frame, left alone */
#define PACED_PERIOD_NS	500000		/* 2000 frames/s */
#define PACED_CQE_EVERY	4
#define PACED_SEED	0x50414345445052ULL
#define ROUND_MS	200		/* a churn round (remaps, THP) this often */
#define FORK_MS		500		/* a fork this often */
#define MIN_ROUNDS	4
#define MIN_FORKS	2
#define QUIET_MS	100		/* no write to the ring this long after a stop */

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

/*
 * A ring's memory and the churn around it.  A 2 MiB aligned mapping (for
 * THP) of map_len bytes with the ring RING_OFFSET into its second page,
 * and after it the THP next to the ring: a VMA of its own (MADV_DONTFORK
 * sets a flag the ring's VMA lacks), so that its AnonHugePages in smaps
 * are its alone.  [reg, reg + reg_len) is the MR, which ends where the
 * ring ends; phys the physical address of each of its pages when pinned
 * (phys[0] 0: unknown, not compared).
 */
struct arena {
	uint8_t *map, *next, *ring, *reg;
	size_t map_len, reg_len;
	uint64_t *phys;
	size_t nphys;
	unsigned int movable_unpinned, movable_pinned;
	struct thp_seen ts;
	unsigned int remaps, advises, forks;
	long long vm_before[N_VM_COUNTERS], vm_after[N_VM_COUNTERS];
	pid_t stress;
};

/* Map a ring of ring_len bytes and its surroundings; the MR is the ring. */
static void arena_map(struct arena *a, uint64_t ring_len)
{
	size_t page = t_page_size();

	memset(a, 0, sizeof(*a));
	/* 2 MiB aligned mapping (for THP), the ring RING_OFFSET into its 2nd page. */
	a->map_len = T_DIV_ROUND_UP(ring_len + 2 * page + RING_OFFSET, THP_SIZE) * THP_SIZE;
	a->map = t_map_aligned(a->map_len + THP_SIZE, THP_SIZE);
	a->next = a->map + a->map_len;
	madvise(a->map, a->map_len + THP_SIZE, MADV_HUGEPAGE);
	CHECK_SYS(madvise(a->next, THP_SIZE, MADV_DONTFORK));
	memset(a->map, 0x77, a->map_len);
	t_fill(a->next, THP_SIZE, 81, 0);
	a->ring = a->map + page + RING_OFFSET;
	a->reg = a->ring;
	a->reg_len = ring_len;
}

/* Register [reg, reg + reg_len): ZONE_MOVABLE pages before and after, addresses. */
static struct fpgadma_mr *arena_reg(struct arena *a, bool thp, const char *prefix)
{
	struct fpgadma_mr *mr;

	a->movable_unpinned = pages_in_movable(a->reg, a->reg_len);
	mr = t_reg(&d, a->reg, a->reg_len, FPGADMA_ACCESS_LOCAL_WRITE);
	a->movable_pinned = pages_in_movable(a->reg, a->reg_len);
	a->nphys = t_pages_spanned(a->reg, a->reg_len);
	a->phys = calloc(a->nphys, sizeof(*a->phys));
	CHECK(a->phys != NULL);
	if (!ring_phys(a->reg, a->reg_len, a->phys, a->nphys))
		a->phys[0] = 0;	/* no physical addresses: not compared */
	t_log("%sTHP: %s; the ring's %llu kB region has %lld kB AnonHugePages when pinned, the "
	      "2 MiB next to it %lld kB", prefix, thp ? "enabled" : "not available in this kernel",
	      (unsigned long long)a->map_len / 1024, t_anon_huge_kb(a->map, a->map_len),
	      t_anon_huge_kb(a->next, THP_SIZE));
	return mr;
}

/*
 * With the ring in use: its THP split and a collapse attempted, then the
 * second process started.  Before any fork: fork() splits the PMD of a
 * pinned THP itself (the child must get copies of pinned pages).
 */
static void churn_begin(struct arena *a)
{
	thp_under_ring(a->map, a->map_len, &a->ts);
	a->stress = fork();
	CHECK_SYS(a->stress);
	if (a->stress == 0)
		stressor();
}

/* One round of disturbing the ring's neighbours. */
static void churn_round(struct arena *a)
{
	size_t page = t_page_size();
	uint8_t *before = a->map, *after = a->reg + a->reg_len;
	uintptr_t after_page = ((uintptr_t)after + page - 1) & ~(page - 1);

	/* The THP next to the ring: split and collapsed. */
	thp_next_round(a->next, &a->ts);
	check_ring_phys(a->reg, a->reg_len, a->phys, a->nphys, "after a THP split/collapse");
	/* The page before the ring's first page, and those after its last. */
	CHECK_SYS(munmap(before, page));
	CHECK(mmap(before, page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == before);
	memset(before, 0x55, page);
	if (after_page + page <= (uintptr_t)a->map + a->map_len) {
		CHECK_SYS(munmap((void *)after_page, page));
		CHECK(mmap((void *)after_page, page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		      (void *)after_page);
		memset((void *)after_page, 0x66, page);
	}
	/* Ask for huge pages and take it back: collapse/split attempts. */
	madvise(a->map, a->map_len, (a->remaps & 1) ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
	a->advises++;
	/* Collapse over the pinned ring: never done (errno counted). */
	if (!(a->remaps & 1)) {
		a->ts.under_collapse_tries++;
		if (!madvise(a->map, a->map_len, MADV_COLLAPSE_))
			t_fail("MADV_COLLAPSE over the pinned ring succeeded");
		if (errno == EAGAIN) {
			a->ts.under_collapse_eagain++;
		} else {
			a->ts.under_collapse_other++;
			a->ts.under_other_errno = errno;
		}
		CHECK_EQ(t_anon_huge_kb(a->map, a->map_len), 0);
		check_ring_phys(a->reg, a->reg_len, a->phys, a->nphys,
				"after MADV_COLLAPSE over the ring");
	}
	a->remaps++;
}

/* Fork; the child writes its copy of the ring: never the device's. */
static void churn_fork(struct arena *a)
{
	pid_t pid = fork();
	int st;

	CHECK_SYS(pid);
	if (pid == 0) {
		memset(a->reg, 0x11, a->reg_len);
		_exit(0);
	}
	st = t_wait_child(pid, 30000);
	CHECK_CHILD_OK(st);
	a->forks++;
}

/*
 * At the end of a stream, the ring still pinned: no page in ZONE_MOVABLE,
 * none moved; what the THP part saw and /proc/vmstat's deltas since
 * vm_before, printed and checked.
 */
static void churn_report(struct arena *a, bool thp, const char *prefix)
{
	const struct thp_seen *ts = &a->ts;
	const long long *vm_before = a->vm_before, *vm_after = a->vm_after;

	CHECK_EQ(pages_in_movable(a->reg, a->reg_len), 0);
	check_ring_phys(a->reg, a->reg_len, a->phys, a->nphys, "at the end of the stream");
	vm_counters_read(a->vm_after);
	{
		char line[1024];
		size_t i, n = 0;

		for (i = 0; i < N_VM_COUNTERS; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s +%lld", i ? "," : "",
					      vm_counters[i], vm_after[i] - vm_before[i]);
		t_log("%s/proc/vmstat over the stream:%s", prefix, line);
	}
	t_log("%sTHP under the pinned ring: %lld kB PMD-mapped when pinned, %lld kB after "
	      "MADV_DONTNEED of a page beside it (the PMD split, the ring kept); MADV_COLLAPSE "
	      "over it %u times: %u EAGAIN (the first: %s), %u %s (neighbour remaps split its "
	      "VMA), never collapsed; %zu ring pages %s", prefix, ts->under_pinned_kb,
	      ts->under_split_kb, ts->under_collapse_tries, ts->under_collapse_eagain,
	      t_errname(ts->under_first_errno), ts->under_collapse_other,
	      t_errname(ts->under_other_errno), a->nphys,
	      a->phys[0] ? "at the same physical addresses throughout" : "(addresses unknown)");
	t_log("%sTHP next to the ring: %u rounds, %u splits and %u collapses seen in "
	      "AnonHugePages (%u collapses failed), %llu bytes of it verified", prefix,
	      ts->next_rounds, ts->next_splits, ts->next_collapses, ts->next_collapse_failed,
	      (unsigned long long)ts->next_bytes_checked);
	CHECK_GT(ts->next_rounds, 0);
	if (!thp) {
		t_log("%sTHP is not available: the split and collapse counts are not asserted",
		      prefix);
	} else {
		/* A PMD-mapped ring region loses its PMD mapping, not its pages. */
		if (ts->under_pinned_kb > 0)
			CHECK_EQ(ts->under_split_kb, 0);
		else
			t_log("%sthe ring's region was not a THP when pinned (no huge page free?)",
			      prefix);
		CHECK_EQ(ts->under_first_errno, EAGAIN);
		CHECK_GT(ts->next_splits, 0);
		CHECK_GT(ts->next_collapses, 0);
		CHECK_GE(vm_delta(vm_before, vm_after, "thp_split_pmd"),
			 ts->next_splits + (ts->under_pinned_kb > 0));
		CHECK_GE(vm_delta(vm_before, vm_after, "thp_collapse_alloc"), ts->next_collapses);
		if (access("/proc/sys/vm/compact_memory", W_OK) == 0)
			CHECK_GT(vm_delta(vm_before, vm_after, "compact_migrate_scanned") +
				 vm_delta(vm_before, vm_after, "compact_free_scanned"), 0);
	}
}

/* The bytes after the ring in its last page (outside the MR) are not the device's. */
static void check_after_ring(const struct arena *a)
{
	size_t page = t_page_size();
	uintptr_t end = (uintptr_t)a->reg + a->reg_len;
	size_t tail = (size_t)(((end + page - 1) & ~(page - 1)) - end);

	CHECK_EQ(t_verify_byte((void *)end, tail, 0x77, "bytes after the ring in its last page"),
		 0);
}

/* Stop the second process. */
static void churn_end(struct arena *a)
{
	int st;

	CHECK_SYS(kill(a->stress, SIGKILL));
	st = t_wait_child(a->stress, 30000);
	CHECK(WIFSIGNALED(st));
	a->stress = 0;
}

static void arena_free(struct arena *a)
{
	t_unmap(a->map, a->map_len + THP_SIZE);
	free(a->phys);
	a->phys = NULL;
}

/* ---- the READ_STREAM phase ---- */

static void read_stream_phase(bool thp)
{
	uint64_t frame, slot_len, ring_len, pos = 0, frames = 0, bytes = 0;
	uint64_t deadline, mv_s, mv_e, t0;
	unsigned int i, inflight = 0, next_post = 0, next_done = 0;
	struct fpgadma_sge sg[NSLOTS];
	struct fpgadma_mr *mr;
	struct arena ar;
	uint8_t *ring;

	frame = d.attr.frame_size;
	slot_len = frame;			/* one frame a slot, unaligned */
	ring_len = NSLOTS * slot_len;
	arena_map(&ar, ring_len);
	ring = ar.ring;
	mr = arena_reg(&ar, thp, "");
	t_log("ring: %u slots of %llu bytes at page offset %u (%llu bytes, %u DMA segments); "
	      "pages in ZONE_MOVABLE: %u before pinning, %u pinned%s", NSLOTS,
	      (unsigned long long)slot_len, RING_OFFSET, (unsigned long long)ring_len, mr->nsegs,
	      ar.movable_unpinned, ar.movable_pinned,
	      movable_zone(&mv_s, &mv_e) ? "" : " (no movable zone in this guest)");
	CHECK_EQ(ar.movable_pinned, 0);
	for (i = 0; i < NSLOTS; i++)
		sg[i] = t_sge(mr, ring + i * slot_len, (uint32_t)slot_len);

	vm_counters_read(ar.vm_before);
	t0 = t_now_ms();
	deadline = t0 + (uint64_t)DURATION_S * 1000 * t_time_scale();
	/*
	 * The stream starts; with half the ring in flight its THP is split
	 * and a collapse attempted, then the second process starts.
	 */
	for (; inflight < NSLOTS / 2; inflight++, next_post++)
		post_slot(ring, slot_len, sg, next_post);
	churn_begin(&ar);

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
		if (frames && frames % 97 == 0 && frames / 97 > ar.remaps)
			churn_round(&ar);
		if (frames && frames % 211 == 0 && frames / 211 > ar.forks)
			churn_fork(&ar);
	}
	t_log("streamed %llu frames (%llu bytes) into the ring in %llu ms, every frame checked "
	      "in order; %u neighbour remaps, %u THP advice changes, %u forks, while another "
	      "process churned memory, compacted and dropped caches",
	      (unsigned long long)frames, (unsigned long long)bytes,
	      (unsigned long long)(t_now_ms() - t0), ar.remaps, ar.advises, ar.forks);
	CHECK_GT(frames, NSLOTS);
	churn_report(&ar, thp, "");
	/* The bytes that share the ring's first and last pages are not the device's. */
	CHECK_EQ(t_verify_byte(ring - RING_OFFSET, RING_OFFSET, 0x77,
			       "bytes before the ring in its first page"), 0);
	check_after_ring(&ar);

	/* Unpin while the stressor still reuses freed memory. */
	t_dereg(mr);
	t_sleep_ms(2000);
	churn_end(&ar);
	arena_free(&ar);
}

/* ---- the paced stream phase ---- */

/* A copy of the ring's pages (every page of the MR), as they are now. */
static uint8_t *pages_snap(const struct arena *a)
{
	size_t page = t_page_size();
	const uint8_t *p = (const uint8_t *)((uintptr_t)a->reg & ~(page - 1));
	uint8_t *snap = malloc(a->nphys * page);

	CHECK(snap != NULL);
	memcpy(snap, p, a->nphys * page);
	return snap;
}

/*
 * The ring's pages must not change from the copy snap, taken at since_ms,
 * until QUIET_MS after it (this sleeps for the rest): the device writes
 * nothing after its stream stopped.  Frees snap.
 */
static void pages_quiet(const struct arena *a, uint8_t *snap, uint64_t since_ms,
			const char *what)
{
	size_t page = t_page_size(), len = a->nphys * page, i = 0;
	const uint8_t *p = (const uint8_t *)((uintptr_t)a->reg & ~(page - 1));
	uint64_t now = t_now_ms();

	if (now < since_ms + QUIET_MS)
		t_sleep_ms((unsigned int)(since_ms + QUIET_MS - now));
	if (memcmp(snap, p, len)) {
		while (i < len && snap[i] == p[i])
			i++;
		t_fail("%s: the ring's page %zu of %zu changed within %u ms (its byte %zu: 0x%02x "
		       "-> 0x%02x): a device write after the stream stopped", what, i / page,
		       a->nphys, QUIET_MS, i % page, snap[i], p[i]);
	}
	free(snap);
}

/* VmPin, live_mrs and pinned_pages are as at the start, at once (the stressor churns on). */
static void check_unpinned(const struct t_snap *start, const char *what)
{
	struct t_snap now;

	t_snap_take(&now);
	CHECK_MSG(now.vmpin_kb == start->vmpin_kb && now.live_mrs == start->live_mrs &&
		  now.pinned_pages == start->pinned_pages,
		  "%s: VmPin %lld kB (expected %lld), live_mrs %lld (expected %lld), pinned_pages "
		  "%lld (expected %lld)", what, now.vmpin_kb, start->vmpin_kb, now.live_mrs,
		  start->live_mrs, now.pinned_pages, start->pinned_pages);
}

/*
 * The MR's bytes outside the slots' frames are as the pattern left them:
 * the RING_OFFSET bytes before slot 0, the slots never written (the slots'
 * tails past each frame were checked with the frames); and the bytes
 * after the ring in its last page, outside the MR.
 */
static void check_around_frames(const struct arena *a, const struct t_frames *f,
				uint64_t write_idx, const char *prefix)
{
	uint64_t k;

	CHECK_MSG(!t_verify(a->reg, RING_OFFSET, PACED_SEED, 0,
			    "the MR's bytes before the ring"),
		  "%sthe MR's bytes before the ring were written", prefix);
	for (k = write_idx; k < f->nslots; k++) {
		const uint8_t *slot = t_frames_slot(f, k);

		CHECK_MSG(!t_verify(slot, f->slot_size, PACED_SEED, (uint64_t)(slot - a->reg),
				    "a slot never used"),
			  "%sslot %llu was written, but only %llu frames were", prefix,
			  (unsigned long long)k, (unsigned long long)write_idx);
	}
	check_after_ring(a);
}

/*
 * One run of the paced stream under the churn; then it is stopped (drain
 * 0) and its MR deregistered, or with dereg_running its MR is
 * deregistered while it runs and only then is it stopped (freed).
 */
static void paced_run(bool dereg_running, bool thp, const struct t_snap *start)
{
	const char *prefix = dereg_running ? "paced, DEREG while running: " : "paced: ";
	struct fpgadma_stream_attr a = {
		.ring_offset = RING_OFFSET,
		.ring_length = (uint64_t)PACED_NSLOTS * PACED_SLOT,
		.slot_size = PACED_SLOT,
		.nslots = PACED_NSLOTS,
		.frame_size = PACED_FRAME,
		.frame_period_ns = PACED_PERIOD_NS,
		.cqe_every = PACED_CQE_EVERY,
		.user_data = dereg_running ? 0x5041434544524547ULL : 0x5041434544535450ULL,
	};
	struct fpgadma_stream_stats st, fin, freed;
	struct fpgadma_stream *s = NULL;
	struct fpgadma_mr *mr;
	struct t_stream_cqes cq;
	struct t_frames f;
	struct arena ar;
	uint64_t t0_ns, t0, end, hard_end, next_round, next_fork, run_ms, op_ms, t1, left;
	uint64_t settle_ms, mv_s, mv_e;
	uint32_t endr = 99;
	char what[160];
	uint8_t *snap;

	arena_map(&ar, a.ring_length);
	/* The MR from the ring's first page: the ring at ring_offset RING_OFFSET. */
	ar.reg = ar.ring - RING_OFFSET;
	ar.reg_len = RING_OFFSET + a.ring_length;
	/* The pattern the slots' tails keep, before the registration (bounce buffers agree). */
	t_fill(ar.reg, ar.reg_len, PACED_SEED, 0);
	mr = arena_reg(&ar, thp, prefix);
	t_log("%sring: %u slots of %u bytes for frames of %u bytes at page offset %u, in an MR "
	      "from that page's start to the ring's end (%zu bytes, %zu pages, %u DMA segments); "
	      "pages in ZONE_MOVABLE: %u before pinning, %u pinned%s", prefix, PACED_NSLOTS,
	      PACED_SLOT, PACED_FRAME, RING_OFFSET, ar.reg_len, ar.nphys, mr->nsegs,
	      ar.movable_unpinned, ar.movable_pinned,
	      movable_zone(&mv_s, &mv_e) ? "" : " (no movable zone in this guest)");
	CHECK_EQ(ar.movable_pinned, 0);

	vm_counters_read(ar.vm_before);
	t0_ns = t_now_ns();
	CHECK_OK(fpgadma_stream_start(mr, &a, &s));
	CHECK(s != NULL);
	CHECK(fpgadma_stream_id(s) >= 1 && fpgadma_stream_id(s) <= d.attr.max_streams);
	CHECK_EQ(a.frame_size, PACED_FRAME);
	CHECK_EQ(a.frame_period_ns, PACED_PERIOD_NS);
	CHECK_GT(a.fifo_frames, 0);
	CHECK_EQ(fpgadma_stream_state(s, &endr), FPGADMA_STREAM_RUNNING);
	CHECK_EQ(endr, 0);
	t_frames_init(&f, s, &a, ar.reg, PACED_SEED, true, t0_ns);
	t_stream_cqes_init(&cq, &a);
	t_log("%sstream %u: a frame every %llu ns, FIFO %u frames (default), a CQE per %u frames",
	      prefix, fpgadma_stream_id(s), (unsigned long long)a.frame_period_ns, a.fifo_frames,
	      a.cqe_every);
	/* With the stream running: the ring's THP split, the second process started. */
	churn_begin(&ar);

	t0 = t_now_ms();
	end = t0 + (uint64_t)PACED_MS * t_time_scale();
	hard_end = end + T_CQE_TIMEOUT_MS;
	next_round = t0 + ROUND_MS;
	next_fork = t0 + FORK_MS;
	for (;;) {
		uint64_t now = t_now_ms(), got;
		bool enough = f.n > PACED_NSLOTS && ar.remaps >= MIN_ROUNDS &&
			      ar.forks >= MIN_FORKS &&
			      (!thp || (ar.ts.next_splits > 0 && ar.ts.next_collapses > 0));

		if (now >= end && (enough || now >= hard_end))
			break;
		/* Every frame ready checked and handed back, the CQEs taken: no system call. */
		got = t_frames_consume(&f, s, false);
		t_stream_poll(d.ctx, &cq);
		CHECK_MSG(!cq.ended, "%san END CQE while the stream runs", prefix);
		/* Disturb the neighbours, fork, now and then (by time: frames may be dropped). */
		if (now >= next_round) {
			churn_round(&ar);
			next_round = t_now_ms() + ROUND_MS;
		}
		if (now >= next_fork) {
			churn_fork(&ar);
			next_fork = t_now_ms() + FORK_MS;
		}
		if (!got) {
			int r = fpgadma_wait(d.ctx, 5);

			CHECK_MSG(r >= 0, "fpgadma_wait: %s", t_errname(r));
		}
	}
	run_ms = t_now_ms() - t0;
	CHECK_GT(f.n, PACED_NSLOTS);
	CHECK_GE(ar.remaps, MIN_ROUNDS);
	CHECK_GE(ar.forks, MIN_FORKS);
	CHECK_OK(fpgadma_stream_stats(s, &st));
	snprintf(what, sizeof(what), "%srunning", prefix);
	CHECK_STREAM_STATS(&st, a.frame_size, what);
	CHECK_EQ(st.state, FPGADMA_STREAM_RUNNING);
	CHECK_EQ(st.end, 0);
	CHECK_EQ(st.frame_period_ns, a.frame_period_ns);
	CHECK_EQ(st.fifo_frames, a.fifo_frames);
	CHECK_GE(st.frames_delivered, f.n);
	t_stream_stats_log(what, &st);

	if (!dereg_running) {
		/* Stop, drain 0: from its return the device writes nothing more. */
		op_ms = t_now_ms();
		CHECK_OK(fpgadma_stream_stop(s, 0, &fin));
		s = NULL;
		t1 = t_now_ms();
		snap = pages_snap(&ar);
		op_ms = t1 - op_ms;
		snprintf(what, sizeof(what), "%sstopped", prefix);
		CHECK_STREAM_STATS(&fin, a.frame_size, what);
		t_stream_stats_log(what, &fin);
		CHECK_EQ(fin.state, FPGADMA_STREAM_STOPPED);
		CHECK_EQ(fin.end, FPGADMA_STREAM_END_STOP);
		CHECK_EQ(fin.fifo_level, 0);
		CHECK_EQ(fin.frames, fin.frames_delivered + fin.drops);
		CHECK_GE(fin.frames, st.frames);
		CHECK_GE(fin.frames_delivered, st.frames_delivered);
		CHECK_GE(fin.drops, st.drops);
		CHECK_GE(fin.fifo_hwm, st.fifo_hwm);
		left = t_frames_final(&f, &fin);
		CHECK_EQ(fin.frames_delivered, f.n);
		t_stream_wait_end(d.ctx, &cq, FPGADMA_WC_SUCCESS, FPGADMA_STREAM_END_STOP,
				  fin.write_idx);
		pages_quiet(&ar, snap, t1, "after the stop");
		t_expect_no_cqe(d.ctx, 20);
		/* Still pinned: none in ZONE_MOVABLE, none moved; the THP and vmstat tallies. */
		churn_report(&ar, thp, prefix);
		check_around_frames(&ar, &f, fin.write_idx, prefix);
		t_log("%sstopped (drain 0) in %llu ms: %llu frames left in the ring checked, END "
		      "SUCCESS/STOP and nothing after it, the ring's %zu pages unchanged for %u ms "
		      "after the stop, the bytes around the frames untouched", prefix,
		      (unsigned long long)op_ms, (unsigned long long)left, ar.nphys, QUIET_MS);

		/* Unpin while the stressor still reuses freed memory. */
		op_ms = t_now_ms();
		t_dereg(mr);
		op_ms = t_now_ms() - op_ms;
		snprintf(what, sizeof(what), "%safter DEREG", prefix);
		check_unpinned(start, what);
		t_log("%sMR deregistered in %llu ms under the churn: VmPin, live_mrs and "
		      "pinned_pages back at once", prefix, (unsigned long long)op_ms);
	} else {
		/* Still pinned: none in ZONE_MOVABLE, none moved; the THP and vmstat tallies. */
		churn_report(&ar, thp, prefix);
		/* Hand every slot back, so that the device is writing when the MR goes. */
		t_frames_consume(&f, s, false);
		op_ms = t_now_ms();
		CHECK_OK(fpgadma_dereg_mr(mr));
		t1 = t_now_ms();
		snap = pages_snap(&ar);
		op_ms = t1 - op_ms;
		CHECK_EQ(fpgadma_stream_state(s, &endr), FPGADMA_STREAM_STOPPED);
		CHECK_EQ(endr, FPGADMA_STREAM_END_DEREG);
		snprintf(what, sizeof(what), "%safter DEREG", prefix);
		check_unpinned(start, what);
		CHECK_OK(fpgadma_stream_stats(s, &fin));
		CHECK_STREAM_STATS(&fin, a.frame_size, what);
		t_stream_stats_log(what, &fin);
		CHECK_EQ(fin.state, FPGADMA_STREAM_STOPPED);
		CHECK_EQ(fin.end, FPGADMA_STREAM_END_DEREG);
		CHECK_EQ(fin.fifo_level, 0);
		CHECK_EQ(fin.frames, fin.frames_delivered + fin.drops);
		CHECK_GE(fin.frames, st.frames);
		CHECK_GE(fin.frames_delivered, st.frames_delivered);
		CHECK_GE(fin.drops, st.drops);
		CHECK_GE(fin.fifo_hwm, st.fifo_hwm);
		/* The frames it wrote before the DEREG are whole; every drop accounted for. */
		left = t_frames_final(&f, &fin);
		CHECK_EQ(fin.frames_delivered, f.n);
		t_stream_wait_end(d.ctx, &cq, FPGADMA_WC_FLUSH_ERR, FPGADMA_STREAM_END_DEREG,
				  fin.write_idx);
		pages_quiet(&ar, snap, t1, "after DEREG of the running stream's MR");
		/* The kernel stopped it; the stop frees it, with the same counters. */
		CHECK_OK(fpgadma_stream_stop(s, 0, &freed));
		s = NULL;
		snprintf(what, sizeof(what), "%sSTOP after DEREG", prefix);
		CHECK_STREAM_STATS(&freed, a.frame_size, what);
		CHECK_EQ(freed.state, FPGADMA_STREAM_STOPPED);
		CHECK_EQ(freed.end, FPGADMA_STREAM_END_DEREG);
		CHECK_EQ(freed.frames, fin.frames);
		CHECK_EQ(freed.write_idx, fin.write_idx);
		CHECK_EQ(freed.drops, fin.drops);
		t_expect_no_cqe(d.ctx, 50);
		check_around_frames(&ar, &f, fin.write_idx, prefix);
		t_log("%sMR deregistered in %llu ms with the stream running, under the churn: "
		      "STOPPED by DEREG at once, VmPin, live_mrs and pinned_pages back at once; "
		      "%llu frames left in the ring checked, END FLUSH_ERR/DEREG and nothing after "
		      "it, the ring's %zu pages unchanged for %u ms after the DEREG; STOP then freed "
		      "the stream with the same counters", prefix, (unsigned long long)op_ms,
		      (unsigned long long)left, ar.nphys, QUIET_MS);
	}
	t_log("%s%llu frames (%llu bytes) delivered in %llu ms of churn, %llu produced at %llu "
	      "frames/s, every one checked (header, seq, timestamp, payload, slot tail); %llu "
	      "dropped (%llu reported by %llu gaps, the longest %llu, and %llu after the last "
	      "frame delivered); FIFO high-water mark %u of %u; %u neighbour remaps, %u THP "
	      "advice changes, %u forks, while another process churned memory, compacted and "
	      "dropped caches", prefix, (unsigned long long)fin.frames_delivered,
	      (unsigned long long)fin.bytes_delivered, (unsigned long long)run_ms,
	      (unsigned long long)fin.frames, 1000000000ULL / PACED_PERIOD_NS,
	      (unsigned long long)fin.drops, (unsigned long long)f.lost,
	      (unsigned long long)f.gaps, (unsigned long long)f.max_gap,
	      (unsigned long long)(fin.drops - f.lost), fin.fifo_hwm, fin.fifo_frames, ar.remaps,
	      ar.advises, ar.forks);
	if (fin.drops)
		t_log("%snote: %llu frames dropped at %llu frames/s under the churn (a slow "
		      "machine); each was accounted for exactly", prefix,
		      (unsigned long long)fin.drops, 1000000000ULL / PACED_PERIOD_NS);

	/*
	 * The ring's pages are freed (unmapped) while the stressor still
	 * churns, so that they are reused: with page_poison=1 a write after
	 * the unpin shows when they are allocated again.
	 */
	arena_free(&ar);
	t_sleep_ms(2000);
	churn_end(&ar);
	snprintf(what, sizeof(what), "%safter the ring and the stressor are gone", prefix);
	settle_ms = CHECK_SETTLED(start, 10000, what);
	t_log("%sthe ring's mapping freed while the other process churned for 2 s; pins back "
	      "(settled in %llu ms)", prefix, (unsigned long long)settle_ms);
}

int main(int argc, char **argv)
{
	struct t_snap start;
	bool thp = thp_enabled();

	t_init(argc, argv, 300);
	if (!getenv("FPGADMA_VM"))
		t_skip("drives compaction and the OOM-free memory churn of a whole guest: VM only");
	t_open(&d);
	if (!d.attr.frame_size)
		t_skip("the device has no frame stream");
	t_snap_take(&start);

	read_stream_phase(thp);
	CHECK_SETTLED(&start, 10000, "after the ring and the stressor are gone");

	if (!(d.attr.caps & FPGADMA_CAP_STREAM)) {
		t_log("paced stream phase skipped: the %s engine has no paced streams (caps 0x%llx "
		      "without FPGADMA_CAP_STREAM)", t_engine_name(d.attr.engine),
		      (unsigned long long)d.attr.caps);
	} else {
		CHECK_GE(d.attr.max_streams, 1);
		paced_run(false, thp, &start);
		paced_run(true, thp, &start);
	}

	t_close(&d);
	CHECK_SETTLED(&start, 10000, "after the device was closed");
	t_pass();
}
