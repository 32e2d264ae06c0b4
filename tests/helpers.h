/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers shared by the VM test programs (tests/<name>.c): each program
 * proves one behaviour of the fpgadma module, in the style of liburing's
 * test/: exit 0 on pass, 77 on skip (last stdout line "SKIP: reason"), 1 on
 * failure, with what was checked printed as lines.
 *
 * Include this header first: it sets _GNU_SOURCE for the system headers.
 */
#ifndef FPGADMA_TEST_HELPERS_H
#define FPGADMA_TEST_HELPERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fpgadma.h>

#define T_EXIT_PASS	0
#define T_EXIT_FAIL	1
#define T_EXIT_SKIP	77

#define T_KiB	(1024ULL)
#define T_MiB	(1024ULL * 1024)
#define T_GiB	(1024ULL * 1024 * 1024)

/*
 * Time a CQE may take before a test calls the device hung (TCG is slow),
 * scaled like every time limit of the helpers (t_time_scale()).
 */
#define T_CQE_TIMEOUT_MS	(30000 * t_time_scale())

/* Arguments may be evaluated twice: no calls in them. */
#define T_MIN(a, b)	((a) < (b) ? (a) : (b))
#define T_MAX(a, b)	((a) > (b) ? (a) : (b))
#define T_DIV_ROUND_UP(a, b)	(((a) + (b) - 1) / (b))
#define T_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- outcome and reporting ---- */

/*
 * The factor by which the helpers stretch their time limits (watchdog, CQE
 * waits, settling, children): FPGADMA_TEST_TIME_SCALE from the environment
 * (1 to 100), else 1.  The harness sets it for devices whose transfers are
 * slow by design (the edu device: 100 ms of guest time each).
 */
int t_time_scale(void);

/*
 * Start a test: line-buffered stdout, a banner, and a watchdog that fails
 * the test (rather than let it hang the suite) after timeout_s seconds.
 */
void t_init(int argc, char **argv, unsigned int timeout_s);
__attribute__((noreturn, format(printf, 3, 4)))
void t_fail_at(const char *file, int line, const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void t_skip(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void t_log(const char *fmt, ...);
/* Print "PASS: <name>" and exit 0. */
__attribute__((noreturn))
void t_pass(void);

#define t_fail(...)	t_fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* "-EINVAL" for -22, "EINVAL" for 22, a number for anything unknown. */
const char *t_errname(long long err);
/* "1.5 MiB"; buf must hold 32 bytes. */
const char *t_size_str(uint64_t bytes, char *buf);

#define CHECK(cond) do {						\
	if (!(cond))							\
		t_fail_at(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
} while (0)

#define CHECK_MSG(cond, ...) do {					\
	if (!(cond)) {							\
		t_log("CHECK(%s) failed", #cond);			\
		t_fail_at(__FILE__, __LINE__, __VA_ARGS__);		\
	}								\
} while (0)

#define CHECK_CMP_(a, op, b) do {					\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (!(_a op _b))						\
		t_fail_at(__FILE__, __LINE__, "CHECK(%s %s %s) failed: %lld vs %lld", \
			  #a, #op, #b, _a, _b);				\
} while (0)
#define CHECK_EQ(a, b)	CHECK_CMP_(a, ==, b)
#define CHECK_NE(a, b)	CHECK_CMP_(a, !=, b)
#define CHECK_LE(a, b)	CHECK_CMP_(a, <=, b)
#define CHECK_LT(a, b)	CHECK_CMP_(a, <, b)
#define CHECK_GE(a, b)	CHECK_CMP_(a, >=, b)
#define CHECK_GT(a, b)	CHECK_CMP_(a, >, b)

/* A libfpgadma call (0 or a count on success, -errno on failure) must succeed. */
#define CHECK_OK(expr) do {						\
	long long _r = (long long)(expr);				\
	if (_r < 0)							\
		t_fail_at(__FILE__, __LINE__, "%s failed: %s (%s)", #expr, \
			  t_errname(_r), fpgadma_strerror((int)_r));	\
} while (0)

/* A call returning -errno must return exactly want (0 or -E...). */
#define CHECK_RET(expr, want) do {					\
	long long _r = (long long)(expr), _w = (long long)(want);	\
	if (_r != _w)							\
		t_fail_at(__FILE__, __LINE__, "%s returned %s, expected %s", \
			  #expr, t_errname(_r), t_errname(_w));		\
} while (0)

/* A system call (-1 and errno on failure) must succeed. */
#define CHECK_SYS(expr) do {						\
	if ((long long)(expr) == -1)					\
		t_fail_at(__FILE__, __LINE__, "%s failed: %s", #expr,	\
			  t_errname(errno));				\
} while (0)

/* A system call must fail with errno == err. */
#define CHECK_ERRNO(expr, err) do {					\
	errno = 0;							\
	long long _r = (long long)(expr);				\
	int _e = errno;							\
	if (_r != -1 || _e != (err))					\
		t_fail_at(__FILE__, __LINE__, "%s returned %lld errno %s, expected -1 errno %s", \
			  #expr, _r, t_errname(_e), t_errname(err));	\
} while (0)

/* ---- time and randomness ---- */

uint64_t t_now_ms(void);
uint64_t t_now_us(void);
void t_sleep_ms(unsigned int ms);

/* A small PRNG (splitmix64): tests print their seed so a failure repeats. */
struct t_rng {
	uint64_t s;
};
void t_rng_seed(struct t_rng *r, uint64_t seed);
uint64_t t_rand(struct t_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t t_rand_below(struct t_rng *r, uint64_t n);
/* idx[0..n) = a random permutation of 0..n-1. */
void t_shuffle(struct t_rng *r, unsigned int *idx, unsigned int n);
/* The seed: argv[1] if given (decimal or 0x hex), else from the clock. */
uint64_t t_seed(int argc, char **argv);

/* ---- the device ---- */

struct t_dev {
	struct fpgadma_context *ctx;
	struct fpgadma_pd *pd;
	struct fpgadma_device_attr attr;
	uint64_t next_wr_id;
};

/*
 * The test device: index FPGADMA_TEST_DEV from the environment (the harness
 * sets it per configuration), else 0; its node is t_dev_path().
 */
unsigned int t_test_dev(void);
const char *t_dev_path(void);
/*
 * Open the test device with a PD; a missing device is a failure, not a
 * skip.  A test that cannot run on the device's engine (see the table in
 * helpers.c) skips here with the reason.
 */
void t_open(struct t_dev *d);
/* Open /dev/fpgadma<index> with a PD, without the skip table. */
void t_open_index(struct t_dev *d, unsigned int index);
/* The lowest index of a device with that engine (FPGADMA_ENGINE_*), or -1. */
int t_find_engine(uint32_t engine);
/* "soft", "edu" or a number. */
const char *t_engine_name(uint32_t engine);

/* ---- the edu device ---- */

/* Open the first edu device, or skip: the edu_* tests use this. */
void t_open_edu(struct t_dev *d);
/*
 * The transfer log: the edu engine keeps its last transfers in debugfs
 * (fpgadma-edu/<pci>/transfers); the soft engine moves bytes with the CPU
 * and keeps none.  t_has_xfer_log() says whether the device's engine keeps
 * one (by its engine, not by whether the file opens: on an edu device a
 * log that cannot be read is a failure of t_xfer_log(), never a reason to
 * leave the checks out).  A test that checks transfers on any device asks
 * t_has_xfer_log() first and prints that it leaves those checks out.
 */
bool t_has_xfer_log(const struct t_dev *d);
/*
 * The longest transfer of the engine that keeps a log (edu: the device
 * moves at most 4095 bytes at once); QUERY does not say it.
 */
#define T_XFER_MAX	4095
/* One transfer of the edu engine's log (debugfs fpgadma-edu/<pci>/transfers). */
struct t_xfer {
	uint64_t seq;
	bool to_host;
	uint64_t dma;
	uint32_t len;
	uint32_t dev_off;
};
struct t_xfer_log {
	uint64_t total;		/* transfers since the device was probed */
	uint64_t lost_irqs;	/* finished without their interrupt */
	bool iommu;		/* an IOMMU translates the device's addresses */
	unsigned int n;		/* entries below, oldest first (the last 64 at most) */
	struct t_xfer x[64];
};
/* Read the log of the device d; fails the test if it cannot or d has none. */
void t_xfer_log(const struct t_dev *d, struct t_xfer_log *log);
/* The transfers of d since it was probed (its log's total; d must keep one). */
uint64_t t_xfer_total(const struct t_dev *d);
/*
 * Whether an IOMMU translates the device's bus addresses, as the engine's
 * transfer log says where the engine keeps one; false on an engine without
 * one (the soft device, a platform device no IOMMU translates for).
 */
bool t_dev_iommu(const struct t_dev *d);
/*
 * Behind an IOMMU (t_dev_iommu()) an MR no longer than max_seg_size is one
 * IOVA range: it must be one DMA segment.  Without an IOMMU, or where the
 * engine keeps no log to say, nothing is checked; a line says so, once.
 */
void t_iommu_one_segment_at(const char *file, int line, const struct t_dev *d,
			    const struct fpgadma_mr *mr, const char *what);
#define t_iommu_one_segment(d, mr, what) \
	t_iommu_one_segment_at(__FILE__, __LINE__, d, mr, what)
/*
 * The transfers a test may spend on its data on an engine that keeps a
 * transfer log (edu: 100 ms each): one per 128 bytes of device memory, at
 * least 16, as data_mem's batches; 31 on the edu device.
 */
unsigned int t_xfer_budget(const struct t_dev *d);
/* Physical address of the byte at p (root: /proc/self/pagemap); 0 if unknown. */
uint64_t t_phys_addr(const void *p);
void t_close(struct t_dev *d);
struct fpgadma_mr *t_reg(struct t_dev *d, void *addr, size_t len, unsigned int access);
void t_dereg(struct fpgadma_mr *mr);

/* The device counters in sysfs (/sys/class/fpgadma/fpgadma<N>/<name>). */
long long t_dev_counter(const char *name);
/* A module parameter (of fpgadma_core or fpgadma_soft); -1 if missing. */
long long t_module_param(const char *name);

/*
 * The kernel modules of the guest: fpgadma_core, fpgadma_soft, fpgadma_edu
 * (/<name>.ko).  t_kmod_load() loads one with the parameters the guest was
 * booted with (fpgadma.params, routed by module as guest-init.sh does);
 * both return 0 or -errno.
 */
bool t_kmod_loaded(const char *name);
int t_kmod_load(const char *name);
int t_kmod_unload(const char *name);

/*
 * Everything a registration changes: pages pinned system-wide
 * (nr_foll_pin_acquired - nr_foll_pin_released), this process's VmPin,
 * and the device's live_mrs and pinned_pages.
 */
struct t_snap {
	long long pins;
	long long vmpin_kb;
	long long live_mrs;
	long long pinned_pages;
};
void t_snap_take(struct t_snap *s);
/* Compare now with before + pages pinned and mrs registered since. */
void t_snap_expect_at(const char *file, int line, const char *what,
		      const struct t_snap *before, long long pages, long long mrs);
#define CHECK_SNAP(before, pages, mrs, what) \
	t_snap_expect_at(__FILE__, __LINE__, what, before, pages, mrs)
/*
 * Like CHECK_SNAP for the system-wide counts only (pins, live_mrs,
 * pinned_pages), waiting up to timeout_ms for them to settle: for checks
 * after another process exited.  Returns the milliseconds it took.
 */
uint64_t t_snap_settle_at(const char *file, int line, const char *what,
			  const struct t_snap *before, unsigned int timeout_ms);
#define CHECK_SETTLED(before, timeout_ms, what) \
	t_snap_settle_at(__FILE__, __LINE__, what, before, timeout_ms)

/*
 * nr_foll_pin_acquired - nr_foll_pin_released, made exact first; only root
 * can do that: T_PINS_UNKNOWN otherwise, and snapshots then skip the count.
 */
#define T_PINS_UNKNOWN	(-4611686018427387904LL)
long long t_pins_out(void);
/* VmPin of a process (0: this one) in kB; -1 if the process is gone. */
long long t_vmpin_kb(pid_t pid);
long long t_vmstat(const char *name);
/* A field of /proc/meminfo in kB, -1 if absent. */
long long t_meminfo_kb(const char *name);

/* ---- memory ---- */

size_t t_page_size(void);
/* Pages the range [addr, addr+len) touches. */
size_t t_pages_spanned(const void *addr, size_t len);
/* Anonymous private read-write memory; fails the test if mmap fails. */
void *t_map(size_t len);
void t_unmap(void *p, size_t len);
/* len bytes aligned to align (a power of two), from a larger mapping. */
void *t_map_aligned(size_t len, size_t align);
/*
 * How big "big" may be in this guest: want, capped to 256 MiB, 40% of
 * MemAvailable, max_mr_size and, under swiotlb=force, half the bounce pool
 * (every byte of a live MR is mapped through it).  Prints why it was capped.
 */
uint64_t t_big_size(const struct t_dev *d, uint64_t want);
/* Bytes the DMA layer can keep mapped at once (UINT64_MAX if no bouncing). */
uint64_t t_dma_budget(void);
/* AnonHugePages (kB) of the mappings of this process overlapping the range. */
long long t_anon_huge_kb(const void *addr, size_t len);
/* Whether a line of /proc/self/maps contains needle. */
bool t_maps_contains(const char *needle);

/*
 * Anonymous private read-write memory without transparent huge pages
 * (MADV_NOHUGEPAGE): a change of part of it stays a change of those pages,
 * never a huge page split (which the MR monitor also reports).
 */
void *t_map_nothp(size_t len);

/* ---- the MR monitor ---- */

/* Skip (with the reason) if the device has no MR monitor (FPGADMA_CAP_MR_MONITOR). */
void t_need_monitor(const struct t_dev *d);
/* "UNMAP", "CLEAR", "EXIT", "OTHER" or a number (FPGADMA_MON_CAUSE_*). */
const char *t_mon_cause_name(uint32_t cause);
/* Whether poll() on the context's fd reports POLLPRI within timeout_ms (0: now). */
bool t_mon_pollpri(struct fpgadma_context *ctx, int timeout_ms);
/* No monitor event is pending: no POLLPRI, and fpgadma_mon_read() finds none. */
void t_mon_expect_quiet_at(const char *file, int line, struct fpgadma_context *ctx,
			   const char *what);
#define t_mon_expect_quiet(ctx, what) t_mon_expect_quiet_at(__FILE__, __LINE__, ctx, what)
/* fpgadma_reg_mr_monitor() must succeed, with a slot and the MR valid. */
struct fpgadma_mr *t_reg_mon_at(const char *file, int line, struct t_dev *d, void *addr,
				size_t len, unsigned int access);
#define t_reg_mon(d, addr, len, access) t_reg_mon_at(__FILE__, __LINE__, d, addr, len, access)

/* ---- host endpoints ---- */

/*
 * Skip (with the reason) if the device has no host endpoints
 * (FPGADMA_CAP_HOST_EP; the edu engine): the host_ep_* tests, whose
 * host_ep_unsupported checks the refusal on such a device.
 */
void t_need_host_ep(const struct t_dev *d);
/*
 * The two contexts of the host_ep_* tests, on the test device: opened with
 * a PD each (skipping without host endpoints), with their own non-zero
 * ep_ids.
 */
void t_open_host_ep_pair(struct t_dev *a, struct t_dev *b);
/* An RDMA_WRITE or RDMA_READ of the pieces to the peer MR of rkey at raddr. */
struct fpgadma_wr t_rdma_wr(struct t_dev *d, uint32_t opcode, uint32_t rkey, uint64_t raddr,
			    uint32_t flags, const struct fpgadma_sge *sg, unsigned int n);
/* Post one WR, wait for its CQE and check its wr_id; returns the CQE. */
struct fpgadma_cqe t_post_one_at(const char *file, int line, struct t_dev *d,
				 const struct fpgadma_wr *wr);
#define t_post_one(d, wr) t_post_one_at(__FILE__, __LINE__, d, wr)

/* ---- data patterns ---- */

uint64_t t_mix64(uint64_t x);
/* Byte off of the pattern named seed (the pattern is defined per 8-byte word). */
uint8_t t_pattern_byte(uint64_t seed, uint64_t off);
/* buf[i] = pattern byte (off + i). */
void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* 0 if buf holds the pattern from off; else prints the first mismatches. */
int t_verify(const void *buf, size_t len, uint64_t seed, uint64_t off, const char *what);
/* 0 if every byte of buf is c; else prints the first mismatch. */
int t_verify_byte(const void *buf, size_t len, uint8_t c, const char *what);

/* The frame stream's bytes [pos, pos+len). */
void t_stream_bytes(void *buf, uint64_t pos, size_t len, uint64_t frame_size);
/*
 * Find the stream offset of buf[0] from the first frame start in buf
 * (len must reach 24 bytes past one), then check every byte of buf against
 * the stream.  Returns 0 and *pos, or -1 after printing what is wrong.
 */
int t_stream_check(const void *buf, size_t len, uint64_t frame_size, uint64_t *pos,
		   const char *what);

/* ---- work requests and completions ---- */

/* Collect exactly n CQEs (fpgadma_poll/fpgadma_wait) within timeout_ms. */
void t_get_cqes_at(const char *file, int line, struct fpgadma_context *ctx,
		   struct fpgadma_cqe *cqes, int n, unsigned int timeout_ms);
#define t_get_cqes(ctx, cqes, n) \
	t_get_cqes_at(__FILE__, __LINE__, ctx, cqes, n, T_CQE_TIMEOUT_MS)
/* No CQE arrives within ms milliseconds. */
void t_expect_no_cqe_at(const char *file, int line, struct fpgadma_context *ctx,
			unsigned int ms);
#define t_expect_no_cqe(ctx, ms) t_expect_no_cqe_at(__FILE__, __LINE__, ctx, ms)

/* A CQE must be exactly this: status, wr_id, opcode, byte_len. */
void t_cqe_expect_at(const char *file, int line, const struct fpgadma_cqe *c,
		     uint64_t wr_id, uint32_t opcode, uint32_t status, uint64_t byte_len);
#define CHECK_CQE(c, wr_id, opcode, status, byte_len) \
	t_cqe_expect_at(__FILE__, __LINE__, c, wr_id, opcode, status, byte_len)

/* Post one WR, wait for its CQE, check wr_id and opcode; returns the CQE. */
struct fpgadma_cqe t_run_wr_at(const char *file, int line, struct t_dev *d,
			       uint32_t opcode, uint64_t dev_addr,
			       const struct fpgadma_sge *sg, unsigned int num_sge);
#define t_run_wr(d, opcode, dev_addr, sg, n) \
	t_run_wr_at(__FILE__, __LINE__, d, opcode, dev_addr, sg, n)

/*
 * Move [addr, addr+len) of mr to or from device memory at dev_addr, in as
 * many pieces and WRs as needed, and require success with every byte moved.
 */
void t_dev_write_at(const char *file, int line, struct t_dev *d,
		    const struct fpgadma_mr *mr, const void *addr, size_t len,
		    uint64_t dev_addr);
void t_dev_read_at(const char *file, int line, struct t_dev *d,
		   const struct fpgadma_mr *mr, void *addr, size_t len,
		   uint64_t dev_addr);
#define t_dev_write(d, mr, addr, len, dev_addr) \
	t_dev_write_at(__FILE__, __LINE__, d, mr, addr, len, dev_addr)
#define t_dev_read(d, mr, addr, len, dev_addr) \
	t_dev_read_at(__FILE__, __LINE__, d, mr, addr, len, dev_addr)

/*
 * Through device memory at 0, with scratch (registered as scratch_mr, at
 * least len bytes) on the other side: the device reads [p, p+len) of mr and
 * must get what p holds (t_device_sees), or writes pattern seed into it and
 * the process must see it there (t_device_writes).  len fits device memory.
 */
void t_device_sees(struct t_dev *d, const struct fpgadma_mr *scratch_mr, uint8_t *scratch,
		   const struct fpgadma_mr *mr, const uint8_t *p, size_t len, const char *what);
void t_device_writes(struct t_dev *d, const struct fpgadma_mr *scratch_mr, uint8_t *scratch,
		     const struct fpgadma_mr *mr, uint8_t *p, size_t len, uint64_t seed,
		     const char *what);

/*
 * Round trip through device memory: src (in src_mr) -> device -> dst (in
 * dst_mr), in chunks that fit the device memory; then dst must equal src.
 */
void t_round_trip_at(const char *file, int line, struct t_dev *d,
		     const struct fpgadma_mr *src_mr, const void *src,
		     const struct fpgadma_mr *dst_mr, void *dst, size_t len);
#define t_round_trip(d, src_mr, src, dst_mr, dst, len) \
	t_round_trip_at(__FILE__, __LINE__, d, src_mr, src, dst_mr, dst, len)

/*
 * A round trip of len bytes through device memory over huge pages of hp
 * bytes (reg_thp, reg_hugetlb), sized by the device: src (in src_mr) ->
 * device -> dst (in dst_mr), then the bytes moved of dst must equal src's.
 *  - On an engine without a transfer log (soft), and on one with a log when
 *    it takes at most half of t_xfer_budget() (two transfers for each
 *    T_XFER_MAX bytes), all of it: t_round_trip().
 *  - Otherwise windows of min(T_XFER_MAX, device memory) bytes, one WR each
 *    way: the start, the end and, between, ranges centred on huge page
 *    boundaries (of either side, spread evenly), t_xfer_budget() / 8 in all
 *    (3 on the edu device), so that a window's at most 4 transfers keep a
 *    round trip to half the budget.  Each WR's transfers are counted in the
 *    log: one where its MR is one DMA segment (behind an IOMMU) or it lies
 *    inside one huge page of a side that is all huge pages (src_huge,
 *    dst_huge: physically contiguous, one segment of an MR no longer than
 *    max_seg_size), else at most one per page it touches.
 * Prints what it moved; returns the bytes moved (len: all of it).
 */
uint64_t t_round_trip_huge_at(const char *file, int line, struct t_dev *d, uint64_t hp,
			      const struct fpgadma_mr *src_mr, const uint8_t *src, bool src_huge,
			      const struct fpgadma_mr *dst_mr, uint8_t *dst, bool dst_huge,
			      size_t len, const char *what);
#define t_round_trip_huge(d, hp, src_mr, src, src_huge, dst_mr, dst, dst_huge, len, what) \
	t_round_trip_huge_at(__FILE__, __LINE__, d, hp, src_mr, src, src_huge, dst_mr, dst, \
			     dst_huge, len, what)

static inline struct fpgadma_sge t_sge(const struct fpgadma_mr *mr, const void *addr,
				       uint32_t len)
{
	struct fpgadma_sge s = {
		.addr = (uintptr_t)addr,
		.length = len,
		.lkey = mr->lkey,
	};
	return s;
}

/* ---- paced streams (FPGADMA_CAP_STREAM) ---- */

/*
 * Skip (with the reason) if the device has no paced streams (the edu
 * engine): the stream_* tests, whose stream_unsupported checks the refusal
 * on such a device.
 */
void t_need_stream(const struct t_dev *d);
/* "STOP", "DEREG", "CLOSE", "GONE", "0" (running) or a number. */
const char *t_stream_end_name(uint32_t end);
/* "RUNNING", "DRAINING", "STOPPED" or a number. */
const char *t_stream_state_name(uint32_t state);
/* CLOCK_MONOTONIC in ns, the clock of the frames' timestamps. */
uint64_t t_now_ns(void);

/*
 * A stream's counters must agree with each other: frames == delivered +
 * drops + fifo_level, write_idx == frames_delivered, bytes_delivered ==
 * frames_delivered * frame_size, read_idx <= write_idx, fifo_level <=
 * fifo_hwm <= fifo_frames, a known state, end 0 exactly while not stopped,
 * the reserved fields zero.
 */
void t_stream_stats_check_at(const char *file, int line, const struct fpgadma_stream_stats *st,
			     uint32_t frame_size, const char *what);
#define CHECK_STREAM_STATS(st, frame_size, what) \
	t_stream_stats_check_at(__FILE__, __LINE__, st, frame_size, what)
void t_stream_stats_log(const char *what, const struct fpgadma_stream_stats *st);

/*
 * The frames of one stream, checked one by one in the order of their index
 * (t_frame_check): the header (magic, hdr_size, flags, frame_size,
 * stream_id, reserved), the sequence (seq = the previous one + 1 +
 * lost_before: no frame twice, none out of order, every gap reported
 * exactly), the timestamps (the device's ideal clock: first_ts + (seq -
 * first_seq) * period, so strictly increasing; not before the stream
 * started, not in the future), every payload byte (fpgadma_stream_word()
 * little-endian, the last word cut) and, with check_tail, that the bytes
 * of the slot past frame_size still hold the pattern the buffer was filled
 * with (t_fill(base, ..., seed, 0)): the device writes frame_size bytes, no
 * more.
 */
struct t_frames {
	/* set by t_frames_init() */
	uint32_t stream_id;
	uint32_t frame_size;
	uint64_t slot_size;
	uint64_t nslots;
	uint64_t period_ns;
	uint8_t *ring;		/* slot 0 */
	const uint8_t *base;	/* the buffer filled with pattern seed from its byte 0 */
	uint64_t seed;
	bool check_tail;
	uint64_t start_ns;	/* t_now_ns() before the start */
	/* kept by t_frame_check() */
	uint64_t n;		/* frames checked: the index of the next one */
	uint64_t seq0;		/* the stream's first seq (the first frame's - its lost_before) */
	uint64_t first_seq, first_ts;
	uint64_t last_seq, last_ts;
	uint64_t lost;		/* sum of lost_before */
	uint64_t gaps;		/* frames with lost_before > 0 */
	uint64_t max_gap;
	uint64_t max_age_ns;	/* longest from a frame's timestamp to its check */
};
/*
 * For the stream s started with the attributes a (as written back) into a
 * ring at slot 0 of the buffer base (filled with pattern seed before the
 * start when check_tail), started at start_ns.
 */
void t_frames_init(struct t_frames *f, struct fpgadma_stream *s,
		   const struct fpgadma_stream_attr *a, const uint8_t *base, uint64_t seed,
		   bool check_tail, uint64_t start_ns);
/* The slot of frame index idx, as the test computes it. */
uint8_t *t_frames_slot(const struct t_frames *f, uint64_t idx);
/* Check frame index f->n in slot (fails the test); f->n moves on. */
void t_frame_check_at(const char *file, int line, struct t_frames *f, const void *slot);
#define t_frame_check(f, slot) t_frame_check_at(__FILE__, __LINE__, f, slot)
/*
 * Take every frame ready now through the fast path (fpgadma_stream_ready,
 * fpgadma_stream_slot, which must be the slot t_frames_slot() says), check
 * each, and hand them back unless keep.  Returns how many were new.
 */
uint64_t t_frames_consume_at(const char *file, int line, struct t_frames *f,
			     struct fpgadma_stream *s, bool keep);
#define t_frames_consume(f, s, keep) t_frames_consume_at(__FILE__, __LINE__, f, s, keep)
/*
 * After the stream stopped with final counters st: check the frames it
 * wrote that were not taken (f->n .. write_idx, read through
 * t_frames_slot(): the stream object is gone), then the accounting of
 * drops: the frames produced after the last delivered one (all dropped, in
 * the FIFO at the stop or reported by no frame) plus the sum of
 * lost_before equal st->drops exactly.  Returns the frames left untaken.
 */
uint64_t t_frames_final_at(const char *file, int line, struct t_frames *f,
			   const struct fpgadma_stream_stats *st);
#define t_frames_final(f, st) t_frames_final_at(__FILE__, __LINE__, f, st)

/*
 * The CQEs of one stream: FRAMES CQEs with wr_id user_data, status
 * SUCCESS, vendor_err frames covered (cqe_every, only the last before the
 * END may cover fewer), byte_len those frames' bytes, src_ep the low 32
 * bits of the write index after them; then exactly one END, and nothing of
 * the stream after it.
 */
struct t_stream_cqes {
	uint64_t user_data;
	uint32_t frame_size;
	uint32_t cqe_every;
	uint64_t frames;	/* frames the FRAMES CQEs covered */
	uint64_t cqes;		/* FRAMES CQEs */
	bool partial;		/* the last covered fewer than cqe_every */
	bool ended;
	uint32_t end_status;
	uint32_t end_reason;	/* enum fpgadma_stream_end */
};
void t_stream_cqes_init(struct t_stream_cqes *t, const struct fpgadma_stream_attr *a);
/* One CQE, which must be of this stream. */
void t_stream_cqe_at(const char *file, int line, struct t_stream_cqes *t,
		     const struct fpgadma_cqe *c);
/*
 * Take every CQE ready now (no system call); each must be of the stream
 * t, and fpgadma_poll must not fail (-EOVERFLOW: a lost CQE).  Returns how
 * many.
 */
int t_stream_poll_at(const char *file, int line, struct fpgadma_context *ctx,
		     struct t_stream_cqes *t);
#define t_stream_poll(ctx, t) t_stream_poll_at(__FILE__, __LINE__, ctx, t)
/*
 * Poll (and wait) until the stream's END CQE came, within timeout_ms; then
 * check it has status and reason, and that the FRAMES CQEs covered the
 * final write index (write_idx) whole (or up to the last cqe_every).
 */
void t_stream_wait_end_at(const char *file, int line, struct fpgadma_context *ctx,
			  struct t_stream_cqes *t, uint32_t status, uint32_t reason,
			  uint64_t write_idx, unsigned int timeout_ms);
#define t_stream_wait_end(ctx, t, status, reason, write_idx) \
	t_stream_wait_end_at(__FILE__, __LINE__, ctx, t, status, reason, write_idx, \
			     T_CQE_TIMEOUT_MS)

/* ---- atomics (FPGADMA_CAP_ATOMIC) ---- */

/*
 * Skip (with the reason) if the device has no atomics (the edu engine):
 * the atomic_* tests, whose atomic_unsupported checks the refusal there.
 */
void t_need_atomic(const struct t_dev *d);
/* "SUM", "CSWAP_NE", ... or a number (enum fpgadma_atomic_op). */
const char *t_atomic_op_name(uint32_t op);
/* "UINT64", "DOUBLE_COMPLEX", ... or a number (enum fpgadma_atomic_type). */
const char *t_atomic_type_name(uint32_t type);

/* ---- processes ---- */

/* waitpid with a limit; a child still running then is killed and the test fails. */
int t_wait_child_at(const char *file, int line, pid_t pid, unsigned int timeout_ms);
#define t_wait_child(pid, timeout_ms) t_wait_child_at(__FILE__, __LINE__, pid, timeout_ms)
/* A child's exit status must be 0 (and not a signal). */
#define CHECK_CHILD_OK(status) do {					\
	int _s = (status);						\
	if (!WIFEXITED(_s) || WEXITSTATUS(_s) != 0)			\
		t_fail_at(__FILE__, __LINE__, "child failed: %s %d",	\
			  WIFEXITED(_s) ? "exit" : "signal",		\
			  WIFEXITED(_s) ? WEXITSTATUS(_s) : WTERMSIG(_s)); \
} while (0)

#endif /* FPGADMA_TEST_HELPERS_H */
