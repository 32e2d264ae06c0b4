// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_rma: bandwidth, latency and rate of RMA and messages through the
 * libfabric API only (and rdma/fi_ext_fpgadma.h to find the FPGA).
 *
 * -m fpga (the default; provider fpgadma unless -p names another that has
 * the extension): one endpoint against the FPGA of its domain.
 *   bw    fi_read_mem and fi_write_mem (the FPGA's on-board memory),
 *         fi_read_stream (its frame stream) and memcpy (the same sizes
 *         between the same two registered host buffers, in this process:
 *         the anchor), 64 B .. 64 MiB (x4 steps and 1 MiB, capped by the
 *         FPGA's memory), -w operations in flight
 *   lat   fi_read_mem and fi_write_mem, 8 B .. 4 KiB, one operation in flight
 *   rate  the same with -W operations in flight
 *   -S: lat and rate only (with FI_FPGADMA_MEM_MAP_MAX=0: the same small
 *   operations through the DMA engine rather than the mapped memory)
 * -m host: the program forks a server.  Client and server each open a
 * domain and an FI_EP_RDM endpoint of whatever provider -p names, and trade
 * their addresses, and the server its buffer's RMA address and key, over a
 * socketpair.  Then the client runs, in the manner of fabtests' fi_rma_bw
 * and fi_rdm_pingpong:
 *   bw    host_read and host_write (fi_read / fi_write of the server's
 *         buffer), 8 B .. 4 MiB, -w in flight
 *   rate  the same, 8 B .. 4 KiB, -W in flight
 *   lat   pingpong: fi_send / fi_recv of 8 B .. 64 KiB to the server, which
 *         sends each message back; usec is half a round trip
 * The server polls its CQ (the target's progress, which some providers
 * need) and the socket, yielding the CPU in between, until the client asks
 * it to fill or check its buffer or to answer pings.
 *
 * -m host -P: the pingpong rows only.  -m host -S: the rate rows only.
 *
 * -m host -U: buffers the application never registers, as MPI passes them:
 * desc NULL for every local buffer (FI_MR_LOCAL not offered), the client
 * registers nothing and the server only its buffer's remote key; the same
 * buffers every iteration, so a provider with a registration cache finds
 * them there after the first operation and one without registers each
 * time.  Rows: host_read and host_write bw and pingpong lat, 64 KiB ..
 * 16 MiB (no rate); the notes say FI_FPGADMA_MR_CACHE as the environment
 * had it, for comparing the fpgadma provider's cache on and off.
 *
 * -A: atomics only.  fi_getinfo is asked for FI_ATOMIC as well (exit 77
 * when the provider offers none, or not FI_SUM and FI_CSWAP on FI_UINT64,
 * saying so).  Rows of one FI_UINT64 (size 8), each as lat (one in flight)
 * and rate (-W in flight):
 *   fi_atomic          FI_SUM of 1, completed as the provider's default
 *                      completion says (shm's as soon as it is queued)
 *   fi_atomic_dc       the same by fi_atomicmsg with FI_DELIVERY_COMPLETE:
 *                      completed once the target has it (not on shm, whose
 *                      1.17 then goes wrong: see sum_dc_taken; a note says
 *                      why a provider that refuses the flag has no row)
 *   fi_fetch_atomic    FI_SUM of 1, the old value fetched (a result slot
 *                      of its own per operation in flight)
 *   fi_compare_atomic  FI_CSWAP whose compare value matches, the same value
 *                      swapped in (the word keeps it)
 * With -m host the target is the server's buffer (the words at its RMA
 * address + 0 and + 8), with -m fpga the FPGA's memory (the FPGA's fi_addr,
 * key mem_key, mem_base + 0 and + 8).  Before the rows: sums one at a time
 * and -W in flight must grow the word by exactly their number, a fetch
 * return the value before it, a CSWAP swap when its compare value matches
 * and not otherwise, returning the old value both times (the server reads
 * its words itself, the FPGA's memory is read back with fi_read); after
 * them the word must have grown by every sum the timed runs made.
 *
 * Windows are bounded by tx_attr->size.  A point runs for about -t seconds:
 * its iterations grow from 1 until a run lasts half of that, and the whole
 * run is timed, first post to last completion.  Data is checked once per
 * size before it is timed: a pattern written and read back (the FPGA's
 * memory, the server's buffer: the server checks what the client wrote),
 * the stream against fi_fpgadma_stream_word, the first ping at the server
 * and its echo at the client; a wrong byte fails the run.  Buffers are
 * registered and their desc passed; -N leaves FI_MR_LOCAL out of the hints
 * and passes NULL instead where the provider agrees (it then registers
 * buffers itself, as it does for fabtests' fi_rdm_pingpong).
 *
 * Output: a table on stdout, its title line first; with -o FILE the same
 * rows as TSV ("# title: ..." and other comment lines, then the header
 * test, mode, size, iters, usec, MBps, ops_per_s): usec per operation, MBps
 * in 10^6 bytes/s, ops_per_s operations per second.  -q: a few sizes and
 * short runs (a smoke test).  Exit 0 when it ran, 77 when the provider or
 * the FPGA is missing, 1 on an error or wrong data.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fi_atomic.h>
#include <rdma/fi_ext_fpgadma.h>

#include <fpgadma-abi.h>

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define MAX_WINDOW 1024
#define MAX_SHIFT 4096		/* room for the per-size shift of the pattern */
#define PAT_SEED 0xbe4cULL
#define UNTOUCHED 0x3c

#define MR_MODES (FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | \
		  FI_MR_ENDPOINT)

static const char *mode = "fpga";
static bool quick, null_desc, unregistered, atomics, small_only, ping_only;
static const char *tsv_path;
static FILE *tsv;
static double budget_s;		/* -t; 0: the default */
static unsigned int bw_window = 16, rate_window = 64;
static size_t max_size = SIZE_MAX;
static uint64_t points, bytes_verified;
static uint64_t atomic_sums;	/* FI_SUMs completed (-A), checked at the target */
static int test_width = 15;	/* of the test column on stdout */

static int opt(int c, const char *arg)
{
	switch (c) {
	case 'm':
		mode = arg;
		return strcmp(arg, "fpga") && strcmp(arg, "host") ? -1 : 0;
	case 'q':
		quick = true;
		return 0;
	case 'S':
		small_only = true;
		return 0;
	case 'P':
		ping_only = true;
		return 0;
	case 'o':
		tsv_path = arg;
		return 0;
	case 't':
		budget_s = strtod(arg, NULL);
		return budget_s > 0 && budget_s < 3600 ? 0 : -1;
	case 'w':
		bw_window = (unsigned int)strtoul(arg, NULL, 0);
		return bw_window ? 0 : -1;
	case 'W':
		rate_window = (unsigned int)strtoul(arg, NULL, 0);
		return rate_window ? 0 : -1;
	case 'N':
		null_desc = true;
		return 0;
	case 'U':
		unregistered = null_desc = true;
		return 0;
	case 'M':
		max_size = strtoull(arg, NULL, 0);
		return max_size ? 0 : -1;
	case 'A':
		atomics = true;
		test_width = 17;
		return 0;
	}
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- sizes ---- */

struct sizes {
	size_t n;
	size_t v[40];
};

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* lo, 4 lo, 16 lo ... up to hi, and hi and 1 MiB; -q: lo, 4 KiB and hi up to 1 MiB. */
static void make_sizes(struct sizes *s, size_t lo, size_t hi)
{
	size_t c[40], n = 0, x, i;

	hi = FT_MIN(hi, max_size);
	if (quick) {
		c[n++] = lo;
		c[n++] = 4 * KiB;
		c[n++] = FT_MIN(hi, (size_t)MiB);
	} else {
		for (x = lo; x <= hi && n < 36; x *= 4)
			c[n++] = x;
		c[n++] = hi;
		c[n++] = MiB;
	}
	qsort(c, n, sizeof(c[0]), cmp_size);
	s->n = 0;
	for (i = 0; i < n; i++)
		if (c[i] >= lo && c[i] <= hi && (!s->n || s->v[s->n - 1] != c[i]))
			s->v[s->n++] = c[i];
}

/* The shift of the pattern for the i-th size: each size moves other bytes. */
static size_t shift_of(size_t i)
{
	return (i * 8 + 1) % MAX_SHIFT;
}

/* ---- output ---- */

static void table_open(const char *title, const char *const *notes, size_t nnotes)
{
	size_t i;

	if (tsv_path) {
		tsv = fopen(tsv_path, "w");
		if (!tsv)
			ft_fatal("%s: %s", tsv_path, strerror(errno));
		fprintf(tsv, "# title: %s\n", title);
		for (i = 0; i < nnotes; i++)
			fprintf(tsv, "# %s\n", notes[i]);
		fprintf(tsv, "test\tmode\tsize\titers\tusec\tMBps\tops_per_s\n");
	}
	printf("\n%s\n", title);
	for (i = 0; i < nnotes; i++)
		printf("  %s\n", notes[i]);
	printf("%-*s %-4s %10s %9s %12s %12s %12s\n", test_width, "test", "mode", "size", "iters",
	       "usec", "MBps", "ops_per_s");
}

/* One row: iters runs of xfers_per_iter operations of size bytes in secs. */
static void row(const char *test, const char *m, size_t size, uint64_t iters,
		unsigned int xfers_per_iter, double secs)
{
	double xfers = (double)iters * xfers_per_iter, usec = secs * 1e6;

	if (usec <= 0)
		usec = 1e-3;
	printf("%-*s %-4s %10zu %9" PRIu64 " %12.3f %12.2f %12.0f\n", test_width, test, m, size,
	       iters, usec / xfers, (double)size * xfers / usec, xfers * 1e6 / usec);
	if (tsv) {
		fprintf(tsv, "%s\t%s\t%zu\t%" PRIu64 "\t%.4f\t%.3f\t%.1f\n", test, m, size, iters,
			usec / xfers, (double)size * xfers / usec, xfers * 1e6 / usec);
		fflush(tsv);
	}
	points++;
}

/* A note after the rows: on stdout, and a comment line of the TSV. */
static void table_note(const char *line)
{
	printf("  %s\n", line);
	if (tsv)
		fprintf(tsv, "# %s\n", line);
}

static void table_close(void)
{
	if (tsv && fclose(tsv))
		ft_fatal("%s: %s", tsv_path, strerror(errno));
	tsv = NULL;
}

/*
 * Run fn (n iterations; it returns the seconds of its timed part) with more
 * iterations until one run of at least MIN_ITERS lasts half the budget:
 * *iters and the seconds of that run.  (One slow first operation, a
 * scheduler tick in a guest, must not make a point.)
 */
#define MIN_ITERS 4
static double timed(double (*fn)(void *arg, uint64_t n), void *arg, uint64_t *iters)
{
	uint64_t n = 1, max = quick ? 2000 : 50000000, next;
	double t;

	for (;;) {
		t = fn(arg, n);
		if ((t >= budget_s / 2 && n >= MIN_ITERS) || n >= max)
			break;
		next = t > 0 ? (uint64_t)((double)n * budget_s / t) : 100 * n;
		n = FT_MIN(FT_MAX(next, 2 * n), FT_MIN(100 * n, max));
	}
	*iters = n;
	return t;
}

/* Report where a buffer differs from what it should hold. */
static bool expect_same(const uint8_t *buf, const uint8_t *want, size_t len, const char *what,
			size_t size)
{
	size_t i;

	if (!memcmp(buf, want, len)) {
		bytes_verified += len;
		return true;
	}
	for (i = 0; buf[i] == want[i]; i++)
		;
	ft_error("%s of %zu bytes: byte %zu is 0x%02x, expected 0x%02x", what, size, i, buf[i],
		 want[i]);
	return false;
}

/* ---- completions and windows ---- */

static struct ft_op ctx_pool[MAX_WINDOW];
static struct ft_op *ctx_free[MAX_WINDOW];
static unsigned int nfree;

static void ctx_reset(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		ctx_free[i] = &ctx_pool[i];
	nfree = n;
}

static void ctx_put(void *ctx)
{
	struct ft_op *op = ctx;

	if (op < ctx_pool || op >= ctx_pool + MAX_WINDOW || nfree == MAX_WINDOW)
		ft_fatal("a completion with an unknown context %p", ctx);
	ctx_free[nfree++] = op;
}

static void __attribute__((noreturn)) cq_error(struct ft_cq *cq)
{
	struct fi_cq_err_entry err;
	const char *s;
	ssize_t ret;

	memset(&err, 0, sizeof(err));
	ret = fi_cq_readerr(cq->cq, &err, 0);
	if (ret != 1)
		ft_fatal("%s: fi_cq_readerr after -FI_EAVAIL: %zd", cq->name, ret);
	s = fi_cq_strerror(cq->cq, err.prov_errno, err.err_data, NULL, 0);
	ft_fatal("%s: error completion %d (%s), prov_errno %d: %s", cq->name, err.err,
		 fi_strerror(err.err), err.prov_errno, s ? s : "(null)");
}

/*
 * Completions of cq into ents (at most max).  With block, wait for at least
 * one (stopping the program after the time limit without any); else poll
 * once.  The CPU is yielded between empty polls: the peer process, or the
 * kernel's engine, may need it.
 */
static size_t reap(struct ft_cq *cq, struct fi_cq_tagged_entry *ents, size_t max, bool block)
{
	uint64_t t0 = 0;
	ssize_t r;

	for (;;) {
		r = fi_cq_read(cq->cq, ents, max);
		if (r > 0)
			return (size_t)r;
		if (r == -FI_EAVAIL)
			cq_error(cq);
		if (r != -FI_EAGAIN)
			ft_fatal("%s: fi_cq_read: %zd (%s)", cq->name, r, ft_strerr(r));
		if (!block)
			return 0;
		if (!t0)
			t0 = ft_now_us();
		else if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			ft_fatal("%s: no completion within %u ms", cq->name, ft_opts.timeout_ms);
		sched_yield();
	}
}

/* A post said -FI_EAGAIN with nothing in flight: give up after the time limit. */
static void stalled(uint64_t *t0, const char *what)
{
	if (!*t0)
		*t0 = ft_now_us();
	else if (ft_now_us() - *t0 > ft_opts.timeout_ms * 1000ULL)
		ft_fatal("%s: -FI_EAGAIN for %u ms with nothing in flight", what,
			 ft_opts.timeout_ms);
	sched_yield();
}

/* What a run posts. */
enum run_kind {
	RUN_READ,	/* fi_read of len bytes */
	RUN_WRITE,	/* fi_write of len bytes */
	RUN_SUM,	/* fi_atomic FI_SUM, one FI_UINT64 */
	RUN_SUM_DC,	/* the same by fi_atomicmsg with FI_DELIVERY_COMPLETE */
	RUN_FETCH_SUM,	/* fi_fetch_atomic FI_SUM */
	RUN_CSWAP,	/* fi_compare_atomic FI_CSWAP */
};

/*
 * n operations of len bytes, window of them in flight.  Atomics: buf is
 * the operand (the swap value of CSWAP), cmp the compare value, and res
 * holds a result slot of 8 bytes per context of ctx_pool, all under desc.
 */
struct rma_run {
	const char *what;
	struct ft_ep *ep;
	fi_addr_t peer;
	enum run_kind kind;
	void *buf, *desc;
	const void *cmp;
	uint8_t *res;
	size_t len;
	uint64_t addr, key;
	unsigned int window;
};

static ssize_t post_sum_dc(const struct rma_run *r, struct ft_op *op)
{
	struct fi_ioc ioc = { .addr = r->buf, .count = 1 };
	struct fi_rma_ioc rma = { .addr = r->addr, .count = 1, .key = r->key };
	void *desc = r->desc;
	struct fi_msg_atomic msg = {
		.msg_iov = &ioc, .desc = &desc, .iov_count = 1, .addr = r->peer,
		.rma_iov = &rma, .rma_iov_count = 1, .datatype = FI_UINT64, .op = FI_SUM,
		.context = op,
	};

	return fi_atomicmsg(r->ep->ep, &msg, FI_COMPLETION | FI_DELIVERY_COMPLETE);
}

static ssize_t post_op(const struct rma_run *r, struct ft_op *op)
{
	struct fid_ep *ep = r->ep->ep;
	size_t slot = (size_t)(op - ctx_pool);

	switch (r->kind) {
	case RUN_READ:
		return fi_read(ep, r->buf, r->len, r->desc, r->peer, r->addr, r->key, op);
	case RUN_WRITE:
		return fi_write(ep, r->buf, r->len, r->desc, r->peer, r->addr, r->key, op);
	case RUN_SUM:
		return fi_atomic(ep, r->buf, 1, r->desc, r->peer, r->addr, r->key, FI_UINT64,
				 FI_SUM, op);
	case RUN_SUM_DC:
		return post_sum_dc(r, op);
	case RUN_FETCH_SUM:
		return fi_fetch_atomic(ep, r->buf, 1, r->desc, r->res + 8 * slot, r->desc,
				       r->peer, r->addr, r->key, FI_UINT64, FI_SUM, op);
	case RUN_CSWAP:
		return fi_compare_atomic(ep, r->buf, 1, r->desc, r->cmp, r->desc,
					 r->res + 8 * slot, r->desc, r->peer, r->addr, r->key,
					 FI_UINT64, FI_CSWAP, op);
	}
	ft_fatal("run kind %d", (int)r->kind);
}

static double run_rma(void *arg, uint64_t n)
{
	struct rma_run *r = arg;
	struct fi_cq_tagged_entry ents[64];
	uint64_t posted = 0, done = 0, t_stall = 0;
	size_t i, k;
	ssize_t ret;
	double t0;

	ctx_reset((unsigned int)FT_MIN((uint64_t)r->window, n));
	t0 = now_s();
	while (done < n) {
		while (posted < n && nfree) {
			ret = post_op(r, ctx_free[nfree - 1]);
			if (ret == -FI_EAGAIN)
				break;
			if (ret)
				ft_fatal("%s of %zu bytes: %zd (%s)", r->what, r->len, ret,
					 ft_strerr(ret));
			nfree--;
			posted++;
		}
		k = reap(&r->ep->cq, ents, FT_ARRAY_SIZE(ents), posted > done);
		if (!k && posted == done)
			stalled(&t_stall, r->what);
		for (i = 0; i < k; i++)
			ctx_put(ents[i].op_context);
		done += k;
	}
	t0 = now_s() - t0;
	if (r->kind == RUN_SUM || r->kind == RUN_SUM_DC || r->kind == RUN_FETCH_SUM)
		atomic_sums += n;
	return t0;
}

static void rma_once(struct rma_run *r, void *buf, size_t len)
{
	struct rma_run one = *r;

	one.buf = buf;
	one.len = len;
	run_rma(&one, 1);
}

/* Time run_rma for a row. */
static void rma_row(struct rma_run *r, const char *test, const char *m, size_t size,
		    unsigned int window)
{
	uint64_t iters;
	double t;

	r->len = size;
	r->window = window;
	t = timed(run_rma, r, &iters);
	row(test, m, size, iters, 1, t);
}

/* The mr_mode bits of the hints: -N does not offer FI_MR_LOCAL. */
static uint64_t mr_modes(void)
{
	return null_desc ? MR_MODES & ~(uint64_t)FI_MR_LOCAL : MR_MODES;
}

/* The local desc of a registered buffer: NULL with -N where the provider allows. */
static void *local_desc(const struct ft_dom *d, struct fid_mr *mr)
{
	return null_desc && !ft_need_desc(d) ? NULL : fi_mr_desc(mr);
}

static unsigned int bound_window(const struct ft_dom *d, unsigned int w)
{
	size_t tx = d->info->tx_attr->size;

	if (tx && w > tx)
		w = (unsigned int)tx;
	return FT_MIN(w, (unsigned int)MAX_WINDOW);
}

static const char *desc_note(const struct ft_dom *d)
{
	if (unregistered)
		return "desc: NULL, local buffers never registered by the application (-U), "
		       "the same ones each iteration";
	if (!null_desc)
		return "desc: registered buffers, desc passed";
	return ft_need_desc(d) ? "desc: -N ignored (the provider requires FI_MR_LOCAL)" :
				 "desc: NULL (-N: the provider registers per operation)";
}

static uint8_t *alloc_buf(size_t len, void **base, size_t *maplen)
{
	return ft_alloc_at(len, 0, base, maplen);
}

/* ---- -A: atomics ---- */

/*
 * The initiator's area (registered, under one desc): the operand of the
 * sums (1), the swap and compare values of CSWAP, and from AT_RES a result
 * slot per context of ctx_pool.
 */
#define AT_ONE 0
#define AT_SWAP 8
#define AT_CMP 16
#define AT_RES 64
#define AT_AREA (AT_RES + 8 * MAX_WINDOW)
/* The target's words, from its base address: the sums', CSWAP's. */
#define AT_SUM_WORD 0
#define AT_CAS_WORD 8
#define AT_CHECK_N 200	/* operations of a checked run with the rate window */
#define SUM_BASE 0x00c0ffee00000000ULL
#define CAS_OLD 0x0123456789abcdefULL
#define CAS_NEW 0xfedcba9876543210ULL
#define CAS_WRONG 0x5555aaaa5555aaaaULL

static const char *const atomic_tests[] = { "fi_atomic", "fi_atomic_dc", "fi_fetch_atomic",
					    "fi_compare_atomic" };
#define ATOMIC_NOTE "fi_atomic completes as the provider's default completion says (it may " \
	"before the target has the sum), fi_atomic_dc is fi_atomicmsg with FI_DELIVERY_COMPLETE " \
	"(once the target has it), the fetch and compare rows once the old value is back"

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The target's words, set and checked by whoever can read them directly. */
struct atomic_target {
	void *arg;
	void (*set)(void *arg, size_t off, uint64_t v);
	/* The word at off holds v? A failed check says what when not. */
	bool (*expect)(void *arg, size_t off, uint64_t v, const char *what);
};

/* The atomics this program runs are offered, or skip saying which is not. */
static void atomics_valid_or_skip(const struct ft_ep *e)
{
	const char *prov = e->dom->info->fabric_attr->prov_name;
	size_t n = 0;
	int ret;

	ret = fi_atomicvalid(e->ep, FI_UINT64, FI_SUM, &n);
	if (ret || !n)
		ft_skip("provider %s: fi_atomicvalid(FI_UINT64, FI_SUM): %d, count %zu", prov, ret,
			n);
	ret = fi_fetch_atomicvalid(e->ep, FI_UINT64, FI_SUM, &n);
	if (ret || !n)
		ft_skip("provider %s: fi_fetch_atomicvalid(FI_UINT64, FI_SUM): %d, count %zu", prov,
			ret, n);
	ret = fi_compare_atomicvalid(e->ep, FI_UINT64, FI_CSWAP, &n);
	if (ret || !n)
		ft_skip("provider %s: fi_compare_atomicvalid(FI_UINT64, FI_CSWAP): %d, count %zu",
			prov, ret, n);
}

static bool expect_u64(uint64_t got, uint64_t want, const char *what)
{
	if (got == want) {
		bytes_verified += 8;
		return true;
	}
	ft_error("%s: 0x%016" PRIx64 ", expected 0x%016" PRIx64, what, got, want);
	return false;
}

/* One operation of r alone: what it fetched (result slot 0), if it fetches. */
static uint64_t atomic_once(const struct rma_run *r)
{
	struct rma_run one = *r;

	one.len = 8;
	one.window = 1;
	if (one.res)
		memset(one.res, UNTOUCHED, 8);
	run_rma(&one, 1);	/* its one context is ctx_pool[0] */
	return one.res ? get64(one.res) : 0;
}

static void atomic_run(struct rma_run *r, uint64_t n, unsigned int window)
{
	r->len = 8;
	r->window = window;
	run_rma(r, n);
}

/*
 * Whether the provider takes fi_atomicmsg with FI_DELIVERY_COMPLETE: one
 * posted (a sum, counted) and completed, or refused at the call (*why).
 * Not tried on shm: in libfabric 1.17, after such atomics (a window of
 * them, or one at a time), later atomics with several in flight add wrong
 * operands; this program's checks of the sum word found it (a deviation
 * of the kind common.c's table lists).
 */
static bool sum_dc_taken(struct rma_run *r, char *why, size_t whylen)
{
	const char *prov = r->ep->dom->info->fabric_attr->prov_name;
	struct fi_cq_tagged_entry ent;
	uint64_t t_stall = 0;
	ssize_t ret;

	if (!strcmp(prov, "shm")) {
		snprintf(why, whylen, "fi_atomic_dc: not measured: KNOWN: provider %s (libfabric "
			 "%u.%u): after fi_atomicmsg with FI_DELIVERY_COMPLETE, later atomics with "
			 "several in flight change the target wrongly (not tried)", prov,
			 FI_MAJOR(fi_version()), FI_MINOR(fi_version()));
		return false;
	}
	ctx_reset(1);
	while ((ret = post_sum_dc(r, ctx_free[0])) == -FI_EAGAIN) {
		if (reap(&r->ep->cq, &ent, 1, false))
			ft_fatal("%s: a completion with nothing posted", r->what);
		stalled(&t_stall, r->what);
	}
	if (ret) {
		snprintf(why, whylen, "fi_atomic_dc: not measured: fi_atomicmsg with "
			 "FI_DELIVERY_COMPLETE: %zd (%s)", ret, ft_strerr(ret));
		return false;
	}
	reap(&r->ep->cq, &ent, 1, true);
	ctx_put(ent.op_context);
	atomic_sums++;
	return true;
}

/*
 * The atomics checked, then timed: rows of one in flight (lat) and
 * rate_w in flight (rate).  base: ep, peer, addr (the target's words) and
 * key; area: the initiator's registered area (AT_*), desc its desc.
 */
static void atomic_rows(const struct rma_run *base, uint8_t *area, void *desc,
			const struct atomic_target *t, unsigned int rate_w)
{
	struct rma_run sum = *base, sum_dc, fetch, cas, *runs[4];
	uint64_t want;
	char line[200], no_dc[320];
	bool dc;
	size_t i;

	sum.desc = desc;
	sum.cmp = NULL;
	sum.res = NULL;
	sum.kind = RUN_SUM;
	sum.what = "fi_atomic FI_SUM";
	sum.buf = area + AT_ONE;
	sum.addr = base->addr + AT_SUM_WORD;
	sum_dc = sum;
	sum_dc.kind = RUN_SUM_DC;
	sum_dc.what = "fi_atomicmsg FI_SUM, FI_DELIVERY_COMPLETE";
	fetch = sum;
	fetch.kind = RUN_FETCH_SUM;
	fetch.what = "fi_fetch_atomic FI_SUM";
	fetch.res = area + AT_RES;
	cas = fetch;
	cas.kind = RUN_CSWAP;
	cas.what = "fi_compare_atomic FI_CSWAP";
	cas.buf = area + AT_SWAP;
	cas.cmp = area + AT_CMP;
	cas.addr = base->addr + AT_CAS_WORD;
	runs[0] = &sum;
	runs[1] = &sum_dc;
	runs[2] = &fetch;
	runs[3] = &cas;

	put64(area + AT_ONE, 1);
	t->set(t->arg, AT_SUM_WORD, SUM_BASE);
	t->set(t->arg, AT_CAS_WORD, CAS_OLD);
	atomic_sums = 0;

	/* Sums, one at a time and a window at a time: each adds exactly 1. */
	atomic_once(&sum);
	atomic_run(&sum, AT_CHECK_N, rate_w);
	t->expect(t->arg, AT_SUM_WORD, SUM_BASE + atomic_sums, "fi_atomic FI_SUM of 1");
	dc = sum_dc_taken(&sum_dc, no_dc, sizeof(no_dc));
	if (dc) {
		atomic_run(&sum_dc, AT_CHECK_N, rate_w);
		t->expect(t->arg, AT_SUM_WORD, SUM_BASE + atomic_sums,
			  "fi_atomicmsg FI_SUM of 1 with FI_DELIVERY_COMPLETE");
	}
	/* A fetching sum returns the word before it. */
	want = SUM_BASE + atomic_sums;
	expect_u64(atomic_once(&fetch), want, "fi_fetch_atomic FI_SUM: the value fetched");
	atomic_run(&fetch, AT_CHECK_N, rate_w);
	want = SUM_BASE + atomic_sums;
	expect_u64(atomic_once(&fetch), want,
		   "fi_fetch_atomic FI_SUM after a window of them: the value fetched");
	t->expect(t->arg, AT_SUM_WORD, SUM_BASE + atomic_sums, "fi_fetch_atomic FI_SUM of 1");
	/* CSWAP swaps when the compare value matches, not otherwise; the old value comes back. */
	put64(area + AT_SWAP, CAS_NEW);
	put64(area + AT_CMP, CAS_OLD);
	expect_u64(atomic_once(&cas), CAS_OLD, "fi_compare_atomic FI_CSWAP (matching): fetched");
	t->expect(t->arg, AT_CAS_WORD, CAS_NEW, "fi_compare_atomic FI_CSWAP (matching)");
	put64(area + AT_SWAP, CAS_WRONG);
	expect_u64(atomic_once(&cas), CAS_NEW,
		   "fi_compare_atomic FI_CSWAP (not matching): fetched");
	t->expect(t->arg, AT_CAS_WORD, CAS_NEW, "fi_compare_atomic FI_CSWAP (not matching)");
	/* Timed: a CSWAP that matches and swaps in the value the word has. */
	put64(area + AT_SWAP, CAS_NEW);
	put64(area + AT_CMP, CAS_NEW);

	for (i = 0; i < FT_ARRAY_SIZE(runs); i++) {
		if (runs[i] == &sum_dc && !dc)
			continue;
		rma_row(runs[i], atomic_tests[i], "lat", 8, 1);
		rma_row(runs[i], atomic_tests[i], "rate", 8, rate_w);
	}

	/* Every sum of the timed runs counted; the CSWAP word as it was. */
	t->expect(t->arg, AT_SUM_WORD, SUM_BASE + atomic_sums, "the sums of the timed runs");
	expect_u64(atomic_once(&cas), CAS_NEW,
		   "fi_compare_atomic FI_CSWAP after the rows: fetched");
	t->expect(t->arg, AT_CAS_WORD, CAS_NEW, "fi_compare_atomic FI_CSWAP after the rows");
	snprintf(line, sizeof(line), "checked: the %" PRIu64 " FI_SUMs of 1 of all runs grew the "
		 "word by exactly that; the values fetched; CSWAP swapped when it matched only",
		 atomic_sums);
	table_note(line);
	if (!dc)
		table_note(no_dc);
}

/* ---- -m fpga ---- */

struct fpga_bench {
	struct ft_dom dom;
	struct ft_ep ep;
	struct fi_fpgadma_fpga fpga;
	fi_addr_t fpga_addr;
	uint8_t *src, *dst;	/* src: the pattern (written); dst: what is read */
	void *src_base, *dst_base, *src_desc, *dst_desc;
	size_t src_map, dst_map, len;
	size_t hi;		/* largest size: the buffers' room */
	struct fid_mr *src_mr, *dst_mr;
	unsigned int bw_w, rate_w;
	struct rma_run mem_read, mem_write, stream_read;
};

/* Write the pattern, shifted, to device offset 0, read it back, compare. */
static void verify_mem(struct fpga_bench *f, size_t size, size_t shift)
{
	rma_once(&f->mem_write, f->src + shift, size);
	memset(f->dst, UNTOUCHED, size);
	rma_once(&f->mem_read, f->dst, size);
	expect_same(f->dst, f->src + shift, size, "fi_write then fi_read of the FPGA's memory",
		    size);
}

/* Where the stream stands (a read of two frames and a bit), then a read of size checked. */
static void verify_stream(struct fpga_bench *f, size_t size)
{
	uint64_t F = f->fpga.frame_size, pos;
	size_t sync_len = (size_t)(2 * F + 24);

	rma_once(&f->stream_read, f->dst, sync_len);
	if (!ft_stream_find(f->dst, sync_len, F, &pos))
		ft_fatal("stream: %zu bytes read hold no frame start", sync_len);
	memset(f->dst, UNTOUCHED, size);
	rma_once(&f->stream_read, f->dst, size);
	if (ft_stream_expect(f->dst, size, F, pos + sync_len, "fi_read of the stream"))
		bytes_verified += size;
}

struct copy_run {
	uint8_t *dst;
	const uint8_t *src;
	size_t len;
};

static double run_memcpy(void *arg, uint64_t n)
{
	struct copy_run *c = arg;
	double t0 = now_s();
	uint64_t i;

	for (i = 0; i < n; i++) {
		memcpy(c->dst, c->src, c->len);
		/* The copies are not dead stores. */
		__asm__ volatile("" : : "r"(c->dst) : "memory");
	}
	return now_s() - t0;
}

static void fpga_open(struct fpga_bench *f)
{
	uint64_t F;
	size_t hi;
	int ret;

	ft_default_prov("fpgadma");
	if (atomics)
		ft_open_dom_or_skip(ft_hints(FI_RMA | FI_ATOMIC | FI_READ | FI_WRITE, mr_modes()),
				    &f->dom, "FI_ATOMIC and FI_RMA on FI_EP_RDM (a device "
				    "without atomics has no FI_ATOMIC)");
	else
		ft_open_dom_or_skip(ft_hints(FI_RMA | FI_READ | FI_WRITE, mr_modes()), &f->dom,
				    "FI_RMA on FI_EP_RDM");
	ft_describe(&f->dom);
	ft_query_fpga(&f->dom, &f->fpga);
	ft_open_ep(&f->dom, &f->ep, "ep");
	if (atomics) {
		atomics_valid_or_skip(&f->ep);
		if (f->fpga.mem_size < AT_CAS_WORD + 8)
			ft_skip("the FPGA has %" PRIu64 " bytes of memory", f->fpga.mem_size);
	}
	f->fpga_addr = ft_av_insert(&f->dom, f->fpga.addr);
	F = f->fpga.frame_size;
	if (F % 8)
		ft_fatal("frame_size %" PRIu64 " is not a multiple of 8", F);

	hi = (size_t)FT_MIN(FT_MIN((uint64_t)64 * MiB, f->fpga.mem_size),
			    (uint64_t)f->dom.info->ep_attr->max_msg_size);
	if (atomics)
		hi = FT_MIN(hi, (size_t)4 * KiB);	/* only the atomics' area is used */
	f->hi = hi;
	f->len = FT_MAX(FT_MIN(hi, max_size), (size_t)(2 * F + 24)) + MAX_SHIFT;
	if (atomics)
		f->len = FT_MAX(f->len, (size_t)AT_AREA + 64);
	f->src = alloc_buf(f->len, &f->src_base, &f->src_map);
	f->dst = alloc_buf(f->len, &f->dst_base, &f->dst_map);
	ft_fill(f->src, f->len, PAT_SEED, 0);
	memset(f->dst, UNTOUCHED, f->len);
	ret = ft_mr_reg(&f->dom, &f->ep, f->src, f->len, FI_READ | FI_WRITE, 0, &f->src_mr);
	if (!ret)
		ret = ft_mr_reg(&f->dom, &f->ep, f->dst, f->len, FI_READ | FI_WRITE, 0,
				&f->dst_mr);
	if (ret)
		ft_fatal("fi_mr_reg of %zu bytes: %s", f->len, ft_strerr(ret));
	f->src_desc = local_desc(&f->dom, f->src_mr);
	f->dst_desc = local_desc(&f->dom, f->dst_mr);
	f->bw_w = bound_window(&f->dom, bw_window);
	f->rate_w = bound_window(&f->dom, rate_window);

	f->mem_write = (struct rma_run){
		.what = "fi_write to the FPGA's memory", .ep = &f->ep, .peer = f->fpga_addr,
		.kind = RUN_WRITE, .buf = f->src, .desc = f->src_desc,
		.addr = f->fpga.mem_base, .key = f->fpga.mem_key, .window = 1,
	};
	f->mem_read = f->mem_write;
	f->mem_read.what = "fi_read of the FPGA's memory";
	f->mem_read.kind = RUN_READ;
	f->mem_read.buf = f->dst;
	f->mem_read.desc = f->dst_desc;
	f->stream_read = f->mem_read;
	f->stream_read.what = "fi_read of the FPGA's stream";
	f->stream_read.addr = 0;
	f->stream_read.key = f->fpga.stream_key;
}

static void fpga_close(struct fpga_bench *f)
{
	ft_close_fid(&f->src_mr->fid, "mr");
	ft_close_fid(&f->dst_mr->fid, "mr");
	ft_close_ep(&f->ep);
	ft_close_dom(&f->dom);
	ft_unmap(f->src_base, f->src_map);
	ft_unmap(f->dst_base, f->dst_map);
}

/* -A: the FPGA's words, written from src and read back into dst after the atomics' area. */
static void fpga_set_word(void *arg, size_t off, uint64_t v)
{
	struct fpga_bench *f = arg;
	struct rma_run w = f->mem_write;

	w.addr = f->fpga.mem_base + off;
	put64(f->src, v);
	rma_once(&w, f->src, 8);
}

static bool fpga_expect_word(void *arg, size_t off, uint64_t v, const char *what)
{
	struct fpga_bench *f = arg;
	struct rma_run r = f->mem_read;
	char msg[200];

	r.addr = f->fpga.mem_base + off;
	memset(f->dst + AT_AREA, UNTOUCHED, 8);
	rma_once(&r, f->dst + AT_AREA, 8);
	snprintf(msg, sizeof(msg), "%s: the FPGA's word at mem_base + %zu (fi_read)", what, off);
	return expect_u64(get64(f->dst + AT_AREA), v, msg);
}

static void fpga_atomic_bench(struct fpga_bench *f)
{
	struct atomic_target t = { f, fpga_set_word, fpga_expect_word };
	struct rma_run base = f->mem_write;
	char title[256], n1[160], n2[200], n3[128];
	const char *notes[] = { n1, n2, ATOMIC_NOTE, n3 };

	snprintf(title, sizeof(title), "bench_rma -m fpga -A: provider %s, domain %s: atomics on "
		 "the FPGA's memory", f->dom.info->fabric_attr->prov_name,
		 f->dom.info->domain_attr->name);
	snprintf(n1, sizeof(n1), "windows: lat 1, rate %u in flight (tx_size %zu); %.2f s per "
		 "point%s", f->rate_w, f->dom.info->tx_attr->size, budget_s,
		 quick ? " (quick)" : "");
	snprintf(n2, sizeof(n2), "one FI_UINT64: FI_SUM of 1 (fi_atomic, fi_atomic_dc, "
		 "fi_fetch_atomic) at mem_base + %d, FI_CSWAP (fi_compare_atomic, matching) at "
		 "mem_base + %d (FPGA memory %" PRIu64 " bytes)", AT_SUM_WORD, AT_CAS_WORD,
		 f->fpga.mem_size);
	snprintf(n3, sizeof(n3), "%s", desc_note(&f->dom));
	table_open(title, notes, FT_ARRAY_SIZE(notes));
	base.what = "atomic";
	base.addr = f->fpga.mem_base;
	atomic_rows(&base, f->dst, f->dst_desc, &t, f->rate_w);
	table_close();
}

/*
 * The anchor of the small operations (-m fpga): an ioctl round trip into
 * the driver that does nothing, a command number of the driver's type that
 * no call has; the driver enters the context (as every call does) and
 * refuses it with EINVAL.  A kernel-mediated engine cannot do an operation
 * in less than this.
 */
static double run_ioctl(void *arg, uint64_t n)
{
	int fd = *(int *)arg;
	double t0 = now_s();
	uint64_t i;

	for (i = 0; i < n; i++)
		if (ioctl(fd, _IO(FPGADMA_IOC_MAGIC, 0x7f)) == 0 || errno != EINVAL)
			ft_fatal("an ioctl no driver call has: %s (EINVAL expected)",
				 strerror(errno ? errno : EPROTO));
	return now_s() - t0;
}

static void ioctl_row(const char *domain)
{
	char path[128];
	uint64_t iters;
	double secs;
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", domain);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("  ioctl_empty: not measured (%s: %s)\n", path, strerror(errno));
		return;
	}
	secs = timed(run_ioctl, &fd, &iters);
	row("ioctl_empty", "lat", 0, iters, 1, secs);
	close(fd);
}

static void fpga_bench(void)
{
	struct fpga_bench f;
	struct sizes bw, small;
	struct copy_run cp;
	char title[256], n1[128], n2[160], n3[128], n4[320];
	const char *notes[] = { n1, n2, n3, n4 };
	const char *mm = getenv("FI_FPGADMA_MEM_MAP_MAX");
	uint64_t iters;
	size_t i, t;
	double secs;

	memset(&f, 0, sizeof(f));
	fpga_open(&f);
	if (atomics) {
		fpga_atomic_bench(&f);
		fpga_close(&f);
		return;
	}
	make_sizes(&bw, 64, f.hi);
	make_sizes(&small, 8, FT_MIN((size_t)4 * KiB, f.hi));

	snprintf(title, sizeof(title), "bench_rma -m fpga: provider %s, domain %s: the FPGA's "
		 "memory and stream against memcpy", f.dom.info->fabric_attr->prov_name,
		 f.dom.info->domain_attr->name);
	snprintf(n1, sizeof(n1), "windows: bw %u, rate %u in flight (tx_size %zu); %.2f s "
		 "per point%s", f.bw_w, f.rate_w, f.dom.info->tx_attr->size, budget_s,
		 quick ? " (quick)" : "");
	snprintf(n2, sizeof(n2), "FPGA: memory %" PRIu64 " bytes, frame %" PRIu64 " bytes; "
		 "memcpy between the same registered buffers", f.fpga.mem_size,
		 f.fpga.frame_size);
	snprintf(n3, sizeof(n3), "%s", desc_note(&f.dom));
	snprintf(n4, sizeof(n4), "FI_FPGADMA_MEM_MAP_MAX=%.32s: an RMA of the FPGA's memory up to "
		 "that size, with nothing else in flight, through its mapping; the rest through "
		 "the DMA engine%s", mm ? mm : "(unset: the provider's default)",
		 small_only ? " (-S: small operations only)" : "");
	table_open(title, notes, FT_ARRAY_SIZE(notes));

	for (t = 0; t < 2 && !small_only; t++) {
		struct rma_run *r = t ? &f.mem_write : &f.mem_read;

		for (i = 0; i < bw.n; i++) {
			verify_mem(&f, bw.v[i], shift_of(i));
			rma_row(r, t ? "fi_write_mem" : "fi_read_mem", "bw", bw.v[i], f.bw_w);
		}
	}
	if (small_only) {
		/* lat and rate only */
	} else if (f.fpga.frame_size) {
		for (i = 0; i < bw.n; i++) {
			verify_stream(&f, bw.v[i]);
			rma_row(&f.stream_read, "fi_read_stream", "bw", bw.v[i], f.bw_w);
		}
	} else {
		printf("  fi_read_stream: not measured (the FPGA has no stream: frame_size 0)\n");
	}
	for (i = 0; i < bw.n && !small_only; i++) {
		cp = (struct copy_run){ f.dst, f.src + shift_of(i), bw.v[i] };
		run_memcpy(&cp, 1);
		expect_same(f.dst, f.src + shift_of(i), bw.v[i], "memcpy", bw.v[i]);
		secs = timed(run_memcpy, &cp, &iters);
		row("memcpy", "bw", bw.v[i], iters, 1, secs);
	}
	for (t = 0; t < 2; t++) {
		struct rma_run *r = t ? &f.mem_write : &f.mem_read;
		const char *test = t ? "fi_write_mem" : "fi_read_mem";

		for (i = 0; i < small.n; i++) {
			verify_mem(&f, small.v[i], shift_of(i));
			rma_row(r, test, "lat", small.v[i], 1);
		}
		for (i = 0; i < small.n; i++)
			rma_row(r, test, "rate", small.v[i], f.rate_w);
	}
	if (!strcmp(f.dom.info->fabric_attr->prov_name, "fpgadma"))
		ioctl_row(f.dom.info->domain_attr->name);
	table_close();
	fpga_close(&f);
}

/* ---- -m host ---- */

/*
 * CMD_SET and CMD_WORD (-A): set the 64-bit word of buf at byte shift to n,
 * wait until it holds n.
 */
enum { CMD_FILL = 1, CMD_CHECK, CMD_PING, CMD_QUIT, CMD_SET, CMD_WORD };

/* A request of the client over the socket; the server answers with an int32 status. */
struct cmd {
	uint32_t op;
	uint32_t shift;		/* of the pattern; CMD_SET, CMD_WORD: of the word */
	uint64_t size;
	uint64_t n;		/* CMD_PING: round trips, the first checked; CMD_SET,
				 * CMD_WORD: the value */
};

/* What each side tells the other first. */
struct hello {
	uint8_t name[256];
	uint64_t namelen;
	uint64_t addr, key;	/* the server's buffer for RMA */
};

struct host {
	struct ft_dom dom;
	struct ft_ep ep;
	fi_addr_t peer;
	int sock;
	bool server;
	/*
	 * pat: the pattern, the same in both processes (filled before the fork).
	 * Client: it is the source of writes and sends, buf the target of reads
	 * and receives.  Server: buf is the client's RMA target and receive
	 * buffer, and len bytes further the source of its echoes.
	 */
	uint8_t *pat, *buf;
	void *pat_base, *buf_base, *pat_desc, *buf_desc;
	size_t pat_map, buf_map, len;
	struct fid_mr *pat_mr, *buf_mr;
	uint64_t peer_addr, peer_key;
	unsigned int bw_w, rate_w;
};

static void xwrite(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t r;

	while (len) {
		r = write(fd, c, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			ft_fatal("socket write: %s", r < 0 ? strerror(errno) : "nothing written");
		c += r;
		len -= (size_t)r;
	}
}

/* false at end of file before the first byte. */
static bool xread(int fd, void *p, size_t len)
{
	char *c = p;
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, c + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ft_fatal("socket read: %s", strerror(errno));
		if (!r) {
			if (!got)
				return false;
			ft_fatal("socket read: end of file after %zu of %zu bytes", got, len);
		}
		got += (size_t)r;
	}
	return true;
}

static void host_open(struct host *h, size_t hi)
{
	int ret;

	if (atomics)
		ft_open_dom_or_skip(ft_hints(FI_MSG | FI_RMA | FI_ATOMIC, mr_modes()), &h->dom,
				    "FI_MSG | FI_RMA | FI_ATOMIC on FI_EP_RDM");
	else
		ft_open_dom_or_skip(ft_hints(FI_MSG | FI_RMA, mr_modes()), &h->dom,
				    "FI_MSG | FI_RMA on FI_EP_RDM");
	if (!h->server)
		ft_describe(&h->dom);
	ft_open_ep(&h->dom, &h->ep, h->server ? "server ep" : "client ep");
	if (atomics && !h->server)
		atomics_valid_or_skip(&h->ep);
	h->len = FT_MIN(hi, h->dom.info->ep_attr->max_msg_size);
	if (unregistered && ft_need_desc(&h->dom))
		ft_skip("-U: provider %s requires FI_MR_LOCAL (desc for every buffer)",
			h->dom.info->fabric_attr->prov_name);
	h->buf = alloc_buf(2 * (h->len + MAX_SHIFT), &h->buf_base, &h->buf_map);
	memset(h->buf, UNTOUCHED, 2 * (h->len + MAX_SHIFT));
	/*
	 * Keys of their own when the provider takes requested ones (one key
	 * space).  -U: only the server's buffer, the target of the client's
	 * RMA, is registered, for its remote key.
	 */
	ret = 0;
	if (h->server || !unregistered)
		ret = ft_mr_reg(&h->dom, &h->ep, h->buf, 2 * (h->len + MAX_SHIFT),
				FI_READ | FI_WRITE | FI_SEND | FI_RECV | FI_REMOTE_READ |
				FI_REMOTE_WRITE, h->server ? 0xbe5001 : 0xbec001, &h->buf_mr);
	if (!ret && !h->server && !unregistered)
		ret = ft_mr_reg(&h->dom, &h->ep, h->pat, h->len + MAX_SHIFT,
				FI_READ | FI_WRITE | FI_SEND | FI_RECV | FI_REMOTE_READ,
				0xbec002, &h->pat_mr);
	if (ret)
		ft_fatal("fi_mr_reg: %s", ft_strerr(ret));
	if (h->buf_mr)
		h->buf_desc = local_desc(&h->dom, h->buf_mr);
	if (h->pat_mr)
		h->pat_desc = local_desc(&h->dom, h->pat_mr);
	h->bw_w = bound_window(&h->dom, bw_window);
	h->rate_w = bound_window(&h->dom, rate_window);
}

/*
 * Open, and trade addresses: the client first, so that the server stays
 * silent when the client skips.  false when the peer ended before it said
 * where it is.
 */
static bool host_open_hello(struct host *h, size_t hi)
{
	struct hello mine, peer;

	if (h->server && !xread(h->sock, &peer, sizeof(peer)))
		return false;
	host_open(h, hi);
	memset(&mine, 0, sizeof(mine));
	memcpy(mine.name, h->ep.name, h->ep.namelen);
	mine.namelen = h->ep.namelen;
	mine.addr = ft_rma_base(&h->dom, h->buf);
	mine.key = h->buf_mr ? fi_mr_key(h->buf_mr) : 0;
	xwrite(h->sock, &mine, sizeof(mine));
	if (!h->server && !xread(h->sock, &peer, sizeof(peer)))
		return false;
	h->peer = ft_av_insert(&h->dom, peer.name);
	h->peer_addr = peer.addr;
	h->peer_key = peer.key;
	return true;
}

static void host_close(struct host *h)
{
	if (h->pat_mr)
		ft_close_fid(&h->pat_mr->fid, "mr");
	if (h->buf_mr)
		ft_close_fid(&h->buf_mr->fid, "mr");
	ft_close_ep(&h->ep);
	ft_close_dom(&h->dom);
	ft_unmap(h->buf_base, h->buf_map);
}

static ssize_t post_recv(struct host *h, void *buf, size_t len, void *ctx)
{
	return fi_recv(h->ep.ep, buf, len, h->buf_desc, h->peer, ctx);
}

static ssize_t post_send(struct host *h, void *buf, size_t len, void *desc, void *ctx)
{
	return fi_send(h->ep.ep, buf, len, desc, h->peer, ctx);
}

static void check_post(ssize_t ret, const char *what, size_t len)
{
	if (ret && ret != -FI_EAGAIN)
		ft_fatal("%s of %zu bytes: %zd (%s)", what, len, ret, ft_strerr(ret));
}

/* One side of a ping-pong: a receive and a send, posted when they can be. */
struct pingpong {
	struct ft_op rop, sop;
	bool need_recv, need_send;	/* to post (not yet, or -FI_EAGAIN) */
	uint64_t t_stall;
	void *rbuf, *sbuf, *sdesc;
	size_t size;
};

/*
 * Post the receive and then the send that are due, and read completions
 * into ents (waiting for one when nothing is left to post): how many.
 */
static size_t ping_step(struct host *h, struct pingpong *pp, struct fi_cq_tagged_entry *ents,
			size_t max)
{
	ssize_t ret;
	size_t i, k;

	if (pp->need_recv) {
		ret = post_recv(h, pp->rbuf, pp->size, &pp->rop);
		check_post(ret, "fi_recv", pp->size);
		pp->need_recv = ret == -FI_EAGAIN;
	}
	if (pp->need_send && !pp->need_recv) {
		ret = post_send(h, pp->sbuf, pp->size, pp->sdesc, &pp->sop);
		check_post(ret, "fi_send", pp->size);
		pp->need_send = ret == -FI_EAGAIN;
	}
	k = reap(&h->ep.cq, ents, max, !pp->need_recv && !pp->need_send);
	if (!k && (pp->need_recv || pp->need_send))
		stalled(&pp->t_stall, "fi_recv/fi_send");
	for (i = 0; i < k; i++)
		if (ents[i].op_context != &pp->rop && ents[i].op_context != &pp->sop)
			ft_fatal("a completion with an unknown context");
	return k;
}

/* The server's side of CMD_PING: n messages received and sent back. */
static void serve_ping(struct host *h, const struct cmd *c)
{
	struct pingpong pp = {
		.rop = { .what = "recv" }, .sop = { .what = "send" }, .need_recv = true,
		.rbuf = h->buf, .sbuf = h->buf + h->len + MAX_SHIFT, .sdesc = h->buf_desc,
		.size = c->size,
	};
	struct fi_cq_tagged_entry ents[8];
	uint64_t recvs = 0, sends = 0;
	int32_t ok = 0;
	size_t i, k;
	ssize_t ret;

	memcpy(pp.sbuf, h->pat + c->shift, c->size);
	/* The first receive is posted before the client hears "ready". */
	ret = post_recv(h, pp.rbuf, c->size, &pp.rop);
	check_post(ret, "fi_recv", c->size);
	pp.need_recv = ret == -FI_EAGAIN;
	xwrite(h->sock, &ok, sizeof(ok));
	while (sends < c->n) {
		k = ping_step(h, &pp, ents, FT_ARRAY_SIZE(ents));
		for (i = 0; i < k; i++) {
			if (ents[i].op_context == &pp.rop) {
				if (!recvs++)
					expect_same(h->buf, h->pat + c->shift, c->size,
						    "server: the first ping", c->size);
				pp.need_recv = recvs < c->n;
				pp.need_send = true;
			} else {
				sends++;
			}
		}
	}
}

/* Wait until buf holds the pattern written by the client (RMA writes land late). */
static int32_t serve_check(struct host *h, const struct cmd *c)
{
	struct fi_cq_tagged_entry ents[8];
	uint64_t t0 = ft_now_us();

	while (memcmp(h->buf, h->pat + c->shift, c->size)) {
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL) {
			expect_same(h->buf, h->pat + c->shift, c->size,
				    "server: what fi_write put", c->size);
			return 1;
		}
		if (reap(&h->ep.cq, ents, FT_ARRAY_SIZE(ents), false))
			ft_fatal("server: an unexpected completion");
		sched_yield();
	}
	bytes_verified += c->size;
	return 0;
}

/* The word of buf at byte off (-A: the target of the client's atomics). */
static volatile uint64_t *server_word(struct host *h, const struct cmd *c)
{
	if (c->shift % 8 || c->shift + 8 > 2 * (h->len + MAX_SHIFT))
		ft_fatal("server: a word at byte %u", c->shift);
	return (volatile uint64_t *)(void *)(h->buf + c->shift);
}

/* Wait until the word holds c->n (atomics may land as the server makes progress). */
static int32_t serve_word(struct host *h, const struct cmd *c)
{
	volatile uint64_t *w = server_word(h, c);
	struct fi_cq_tagged_entry ents[8];
	uint64_t t0 = ft_now_us(), v;

	while ((v = *w) != c->n) {
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL) {
			ft_error("server: the word at byte %u holds 0x%016" PRIx64 ", expected "
				 "0x%016" PRIx64, c->shift, v, c->n);
			return 1;
		}
		if (reap(&h->ep.cq, ents, FT_ARRAY_SIZE(ents), false))
			ft_fatal("server: an unexpected completion");
		sched_yield();
	}
	bytes_verified += 8;
	return 0;
}

static int host_server(struct host *h)
{
	struct fi_cq_tagged_entry ents[8];
	struct pollfd pfd = { .fd = h->sock, .events = POLLIN };
	struct cmd c;
	int32_t st;

	for (;;) {
		if (poll(&pfd, 1, 0) > 0) {
			if (!xread(h->sock, &c, sizeof(c)))
				break;	/* the client has gone */
			if (c.size > h->len || c.shift >= MAX_SHIFT)
				ft_fatal("server: a request of %" PRIu64 " bytes", c.size);
			st = 0;
			switch (c.op) {
			case CMD_FILL:
				memcpy(h->buf, h->pat + c.shift, c.size);
				break;
			case CMD_CHECK:
				st = serve_check(h, &c);
				break;
			case CMD_PING:
				serve_ping(h, &c);
				continue;	/* it answered "ready" */
			case CMD_SET:
				*server_word(h, &c) = c.n;
				break;
			case CMD_WORD:
				st = serve_word(h, &c);
				break;
			case CMD_QUIT:
				host_close(h);
				return ft_failures() ? FT_FAIL : FT_PASS;
			default:
				ft_fatal("server: request %u", c.op);
			}
			xwrite(h->sock, &st, sizeof(st));
			continue;
		}
		if (reap(&h->ep.cq, ents, FT_ARRAY_SIZE(ents), false))
			ft_fatal("server: an unexpected completion");
		sched_yield();
	}
	return ft_failures() ? FT_FAIL : FT_PASS;
}

static int32_t request(struct host *h, uint32_t op, size_t size, size_t shift, uint64_t n)
{
	struct cmd c = { .op = op, .shift = (uint32_t)shift, .size = size, .n = n };
	int32_t st;

	xwrite(h->sock, &c, sizeof(c));
	if (op == CMD_QUIT)
		return 0;
	if (!xread(h->sock, &st, sizeof(st)))
		ft_fatal("the server has gone");
	return st;
}

struct ping_run {
	struct host *h;
	size_t size, shift;
	bool check;		/* the echo of the first ping */
};

/* n round trips: send the pattern, receive the echo; the first checked. */
static double run_ping(void *arg, uint64_t n)
{
	struct ping_run *p = arg;
	struct host *h = p->h;
	struct pingpong pp = {
		.rop = { .what = "recv" }, .sop = { .what = "send" }, .rbuf = h->buf,
		.sbuf = h->pat + p->shift, .sdesc = h->pat_desc, .size = p->size,
	};
	struct fi_cq_tagged_entry ents[8];
	uint64_t it;
	size_t got;
	double t0;

	memset(h->buf, UNTOUCHED, p->size);
	request(h, CMD_PING, p->size, p->shift, n);
	t0 = now_s();
	for (it = 0; it < n; it++) {
		pp.need_recv = pp.need_send = true;
		for (got = 0; got < 2;)
			got += ping_step(h, &pp, ents, FT_ARRAY_SIZE(ents));
		if (!it && p->check)
			expect_same(h->buf, pp.sbuf, p->size, "the echo of the first ping",
				    p->size);
	}
	return now_s() - t0;
}

/*
 * The counters of the client domain's registration cache and local message
 * channels (the fpgadma provider's extension; nothing for another
 * provider), after the table and as comments at the end of the TSV:
 * whether the operations without desc found their buffers in the cache,
 * and which way the messages went.
 */
static void cache_counters(struct host *h)
{
#ifdef FI_FPGADMA_OPS_DOMAIN_HAS
	struct fi_fpgadma_mr_cache_stats st;
	void *ops = NULL;
	char line[320];

	if (fi_open_ops(&h->dom.domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, &ops, NULL) || !ops ||
	    ((struct fi_fpgadma_ops_domain *)ops)->size < FI_FPGADMA_OPS_DOMAIN_HAS(mr_cache_stats))
		return;
	memset(&st, 0, sizeof(st));
	if (((struct fi_fpgadma_ops_domain *)ops)->mr_cache_stats(h->dom.domain, &st))
		return;
	snprintf(line, sizeof(line), "registration cache of the client's domain: %s; %" PRIu64
		 " hits, %" PRIu64 " misses, %" PRIu64 " invalidated, %" PRIu64 " evicted, %"
		 PRIu64 " uncached; limits %" PRIu64 " entries, %" PRIu64 " bytes",
		 st.enabled ? "on" : "off", st.hits, st.misses, st.invalidated, st.evicted,
		 st.uncached, st.max_entries, st.max_bytes);
	printf("  %s\n", line);
	if (tsv)
		fprintf(tsv, "# %s\n", line);
	/* which way the messages went (fi_fpgadma(7), "Messages through channels") */
	if (((struct fi_fpgadma_ops_domain *)ops)->size >= FI_FPGADMA_OPS_DOMAIN_HAS(chan_stats)) {
		struct fi_fpgadma_chan_stats cs;

		if (((struct fi_fpgadma_ops_domain *)ops)->chan_stats(h->dom.domain, &cs))
			return;
		snprintf(line, sizeof(line), "local message channels of the client's domain: %s; %"
			 PRIu64 " messages sent and %" PRIu64 " received through them, %" PRIu64
			 " wake-ups%s", cs.inbox ? "on" : "off", cs.sent, cs.received, cs.wakeups,
			 cs.sleepy ? "; marked asleep (messages to it by SEND)" : "");
		printf("  %s\n", line);
		if (tsv)
			fprintf(tsv, "# %s\n", line);
	}
#else
	(void)h;
#endif
}

/* -A: the server's words, set and checked by the server. */
static void host_set_word(void *arg, size_t off, uint64_t v)
{
	if (request(arg, CMD_SET, 8, off, v))
		ft_fatal("the server did not set its word at byte %zu", off);
}

static bool host_expect_word(void *arg, size_t off, uint64_t v, const char *what)
{
	if (request(arg, CMD_WORD, 8, off, v)) {
		ft_error("%s: the server's word at byte %zu is not 0x%016" PRIx64, what, off, v);
		return false;
	}
	bytes_verified += 8;
	return true;
}

static void host_atomic_client(struct host *h)
{
	struct atomic_target t = { h, host_set_word, host_expect_word };
	struct rma_run base = {
		.what = "atomic", .ep = &h->ep, .peer = h->peer, .addr = h->peer_addr,
		.key = h->peer_key,
	};
	char title[256], n1[160], n2[200], n3[160];
	const char *notes[] = { n1, n2, ATOMIC_NOTE, n3 };

	snprintf(title, sizeof(title), "bench_rma -m host -A: provider %s, domain %s: atomics "
		 "between two processes", h->dom.info->fabric_attr->prov_name,
		 h->dom.info->domain_attr->name);
	snprintf(n1, sizeof(n1), "windows: lat 1, rate %u in flight (tx_size %zu); %.2f s per "
		 "point%s", h->rate_w, h->dom.info->tx_attr->size, budget_s,
		 quick ? " (quick)" : "");
	snprintf(n2, sizeof(n2), "one FI_UINT64 of the server's registered buffer: FI_SUM of 1 "
		 "(fi_atomic, fi_atomic_dc, fi_fetch_atomic) at + %d, FI_CSWAP (fi_compare_atomic, "
		 "matching) at + %d", AT_SUM_WORD, AT_CAS_WORD);
	snprintf(n3, sizeof(n3), "%s", desc_note(&h->dom));
	table_open(title, notes, FT_ARRAY_SIZE(notes));
	atomic_rows(&base, h->buf, h->buf_desc, &t, h->rate_w);
	table_close();
}

static void host_bench_client(struct host *h)
{
	struct sizes bw, small, ping;
	struct rma_run rd, wr;
	struct ping_run pr;
	char title[256], n1[128], n2[256], n3[128];
	const char *notes[] = { n1, n2, n3 };
	const char *cache = getenv("FI_FPGADMA_MR_CACHE");
	uint64_t iters;
	size_t i;
	double secs;

	if (unregistered) {
		/* What a registration per operation costs shows at these sizes. */
		make_sizes(&bw, 64 * KiB, FT_MIN(h->len, (size_t)16 * MiB));
		small.n = 0;
		ping = bw;
	} else {
		make_sizes(&bw, 8, FT_MIN(h->len, (size_t)4 * MiB));
		make_sizes(&small, 8, FT_MIN(h->len, (size_t)4 * KiB));
		make_sizes(&ping, 8, FT_MIN(h->len, (size_t)64 * KiB));
	}
	if (ping_only)
		bw.n = small.n = 0;
	if (small_only)
		bw.n = ping.n = 0;
	snprintf(title, sizeof(title), "bench_rma -m host%s: provider %s, domain %s: RMA and "
		 "ping-pong between two processes", unregistered ? " -U" : "",
		 h->dom.info->fabric_attr->prov_name, h->dom.info->domain_attr->name);
	snprintf(n1, sizeof(n1), "windows: bw %u, rate %u in flight (tx_size %zu); %.2f s "
		 "per point%s", h->bw_w, h->rate_w, h->dom.info->tx_attr->size, budget_s,
		 quick ? " (quick)" : "");
	snprintf(n2, sizeof(n2), "%s; pingpong usec: half a round trip", desc_note(&h->dom));
	snprintf(n3, sizeof(n3), "FI_FPGADMA_MR_CACHE=%s in the environment",
		 cache ? cache : "(unset)");
	table_open(title, notes, unregistered ? 3 : 2);

	wr = (struct rma_run){
		.what = "fi_write to the server", .ep = &h->ep, .peer = h->peer, .kind = RUN_WRITE,
		.buf = h->pat, .desc = h->pat_desc, .addr = h->peer_addr, .key = h->peer_key,
		.window = 1,
	};
	rd = wr;
	rd.what = "fi_read of the server";
	rd.kind = RUN_READ;
	rd.buf = h->buf;
	rd.desc = h->buf_desc;

	for (i = 0; i < bw.n; i++) {
		request(h, CMD_FILL, bw.v[i], shift_of(i), 0);
		memset(h->buf, UNTOUCHED, bw.v[i]);
		rma_once(&rd, h->buf, bw.v[i]);
		expect_same(h->buf, h->pat + shift_of(i), bw.v[i], "fi_read of the server's buffer",
			    bw.v[i]);
		rma_row(&rd, "host_read", "bw", bw.v[i], h->bw_w);
	}
	for (i = 0; i < bw.n; i++) {
		rma_once(&wr, h->pat + shift_of(i), bw.v[i]);
		if (request(h, CMD_CHECK, bw.v[i], shift_of(i), 0))
			ft_error("fi_write of %zu bytes: the server's buffer is wrong", bw.v[i]);
		else
			bytes_verified += bw.v[i];
		rma_row(&wr, "host_write", "bw", bw.v[i], h->bw_w);
	}
	for (i = 0; i < small.n; i++)
		rma_row(&rd, "host_read", "rate", small.v[i], h->rate_w);
	for (i = 0; i < small.n; i++)
		rma_row(&wr, "host_write", "rate", small.v[i], h->rate_w);
	for (i = 0; i < ping.n; i++) {
		pr = (struct ping_run){ h, ping.v[i], shift_of(i), true };
		run_ping(&pr, 1);
		pr.check = false;
		secs = timed(run_ping, &pr, &iters);
		row("pingpong", "lat", ping.v[i], iters, 2, secs);
	}
	cache_counters(h);
	table_close();
}

static void host_bench(void)
{
	struct host h;
	void *pat_base;
	size_t hi = atomics ? 64 * KiB : (unregistered ? 16 : 4) * MiB, pat_map;
	uint8_t *pat;
	int sv[2], status;
	pid_t pid;

	/* Before any libfabric call: the server is a fresh process but for the pattern. */
	pat = alloc_buf(hi + MAX_SHIFT, &pat_base, &pat_map);
	ft_fill(pat, hi + MAX_SHIFT, PAT_SEED, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		ft_fatal("socketpair: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	memset(&h, 0, sizeof(h));
	h.pat = pat;
	h.server = !pid;
	h.sock = sv[h.server ? 1 : 0];
	close(sv[h.server ? 0 : 1]);
	if (h.server) {
		/* The client gone this early has skipped or failed, and said so. */
		exit(host_open_hello(&h, hi) ? host_server(&h) : FT_PASS);
	}
	if (!host_open_hello(&h, hi)) {
		/* The server said nothing: it skipped or failed, and said why. */
		if (waitpid(pid, &status, 0) != pid)
			ft_fatal("waitpid: %s", strerror(errno));
		if (WIFEXITED(status) && WEXITSTATUS(status) == FT_SKIP)
			ft_skip("the server skipped");
		ft_fatal("the server ended before it gave its address (status %#x)", status);
	}
	if (atomics)
		host_atomic_client(&h);
	else
		host_bench_client(&h);
	request(&h, CMD_QUIT, 0, 0, 0);
	if (waitpid(pid, &status, 0) != pid)
		ft_fatal("waitpid: %s", strerror(errno));
	ft_check(WIFEXITED(status) && WEXITSTATUS(status) == FT_PASS,
		 "the server ended with status %#x", status);
	host_close(&h);
	ft_unmap(pat_base, pat_map);
}

int main(int argc, char **argv)
{
	ft_parse(argc, argv, "m:qo:t:w:W:NUM:ASP",
		 "[-m fpga|host] [-A] [-S] [-P] [-q] [-o FILE] [-t SECONDS] [-w N] [-W N] [-N] [-U]\n"
		 "       [-M BYTES]\n"
		 "  -m fpga      the FPGA's memory and stream against memcpy (default;\n"
		 "               provider fpgadma unless -p says otherwise)\n"
		 "  -m host      RMA and ping-pong between a forked server and the client\n"
		 "  -A           atomics only (FI_ATOMIC): fi_atomic and fi_fetch_atomic\n"
		 "               FI_SUM, fi_compare_atomic FI_CSWAP, one FI_UINT64, one and\n"
		 "               -W in flight, to the server's buffer or the FPGA's memory\n"
		 "  -S           -m fpga: small operations only (lat and rate rows)\n"
		 "  -P           -m host: the ping-pong only (lat rows)\n"
		 "  -q           quick: a few sizes, short runs\n"
		 "  -o FILE      also write the rows as TSV\n"
		 "  -t SECONDS   time of one point (default 0.3; -q: 0.01)\n"
		 "  -w N         bw window: operations in flight (default 16)\n"
		 "  -W N         rate window (default 64); both bounded by tx_size\n"
		 "  -N           NULL desc (FI_MR_LOCAL not offered in the hints)\n"
		 "  -U           -m host: local buffers never registered, desc NULL, the\n"
		 "               same buffers each time; 64 KiB .. 16 MiB, no rate rows\n"
		 "  -M BYTES     largest size", opt);
	if (!budget_s)
		budget_s = quick ? 0.01 : 0.3;
	if (unregistered && strcmp(mode, "host"))
		ft_fatal("-U is for -m host");
	if (small_only && (atomics || unregistered || ping_only))
		ft_fatal("-S is for -m fpga or -m host, without -A, -U or -P");
	if (unregistered && atomics)
		ft_fatal("-A and -U: atomics are measured from registered buffers (-N: desc NULL)");
	if (!strcmp(mode, "fpga"))
		fpga_bench();
	else
		host_bench();
	return ft_finish("%" PRIu64 " points, %" PRIu64 " bytes verified", points,
			 bytes_verified);
}
