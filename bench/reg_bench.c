// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_bench: the time of one registration plus its deregistration, per size,
 * through these APIs side by side in the same run:
 *
 *   libfpgadma           fpgadma_reg_mr / fpgadma_dereg_mr on /dev/fpgadma<N>
 *   libfpgadma+mon       fpgadma_reg_mr_monitor / fpgadma_dereg_mr: the same
 *                        cold registration with the memory monitor watching
 *                        the range (its cost against libfpgadma)
 *   fi_mr_reg            fi_mr_reg / fi_close of the fpgadma libfabric
 *                        provider with its registration cache off
 *                        (FI_FPGADMA_MR_CACHE=0): a cold registration
 *   fi_mr_reg cache hit  fi_mr_reg / fi_close of one buffer again and again
 *                        with the cache on (FI_FPGADMA_MR_CACHE=1): a
 *                        warm-up registration stays open while the timed
 *                        pairs run, so each of them finds the buffer
 *                        registered; local rights only (the provider caches
 *                        no MR with remote rights); prefaulted only (a
 *                        fresh mapping each iteration is never in the
 *                        cache); skipped when the provider's cache is off
 *   ibv_reg_mr           ibv_reg_mr / ibv_dereg_mr on a verbs device, by
 *                        default the soft-RoCE one (rxe): the kernel's own
 *                        ib_umem, the anchor
 *
 * The two fi_mr_reg rows run each in a process of its own, forked before
 * anything is opened, with FI_FPGADMA_MR_CACHE set there before its first
 * libfabric call: whenever the provider reads its parameters, each row gets
 * the cache it asks for, and the cold row never meets the hit row's cached
 * registrations.  This process asks them for one point at a time, so the
 * APIs still take turns at each point.
 *
 * Memory is backed by 4 KiB pages (MADV_NOHUGEPAGE) or by transparent huge
 * pages (2 MiB aligned, MADV_HUGEPAGE: /proc/self/smaps must show
 * AnonHugePages for it, and the table says how much), and either prefaulted
 * (written once, then registered again and again) or first-touch (a fresh
 * mapping each iteration, so the registration itself faults the pages in;
 * mmap and munmap are outside the timed part).
 *
 * Each point runs until its time budget (-t) is spent, with at least 3
 * timed iterations (2 for first-touch), and reports the median time of one
 * iteration: under QEMU's TCG on a shared machine a few iterations now and
 * then take many times longer, which would drag a mean.  Before them an
 * untimed registration checks the registration is real: VmPin grows by the
 * size while it is registered and returns afterwards, and for libfpgadma
 * (and libfpgadma+mon) the first and last bytes of the region make a round
 * trip through device memory (WRITE_MEM then READ_MEM) and come back equal;
 * a monitored MR must be valid.  A cache hit keeps its registration, so for
 * it only the warm-up is checked: VmPin holds at least the size; and where
 * the provider has cache counters (fi_fpgadma_mr_cache_stats), every timed
 * fi_mr_reg of the hit row must count as a hit, none of the cold row's.
 *
 * munmap (-a munmap, on by default): the monitor's cost on memory it does
 * not watch.  Before any monitored registration of this process, the median
 * time of mmap + munmap of a fresh, untouched 64 KiB region (untouched: the
 * cheapest munmap, where a fixed cost of the notifier shows most), then the
 * same with -n monitored MRs (default 1000, one page each, on other memory),
 * then again after they were deregistered.  Their rows: api munmap, backing
 * 4k, touch mon0, mon<N>, mon0-after (the kernel keeps the process's
 * notifier subscription once it had one), size 65536, iters the pairs
 * timed.  None of the MRs may become invalid meanwhile.
 *
 * Output: a table on stdout; with -o FILE the same as TSV (the columns of
 * the benchmark contract: api backing touch size iters usec MBps, usec per
 * register+deregister, MBps = size / usec).  Exit status 0 when it ran, 77
 * with "SKIP: reason" when none of the APIs is there, 1 on an error
 * (including data that did not round-trip).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>

#ifdef HAVE_LIBFABRIC
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_ext_fpgadma.h>
#ifdef FI_FPGADMA_OPS_DOMAIN_HAS
#define HAVE_MR_CACHE_STATS	/* the provider's header has mr_cache_stats */
#endif
#endif
#ifdef HAVE_IBVERBS
#include <infiniband/verbs.h>
#endif

#define KIB		1024ul
#define MIB		(1024ul * KIB)
#define THP_SIZE	(2 * MIB)
#define VERIFY_MAX	(1 * MIB)	/* bytes round-tripped per size */
#define WAIT_MS		30000
#define MAX_ITERS	100000		/* per point; each one's time is kept */
#define MAX_NOTES	256
#define MUNMAP_LEN	(64 * KIB)	/* the unrelated region of the munmap rows */
#define MUNMAP_BATCH	16		/* mmap+munmap pairs per timed sample */

#define MON_API		"libfpgadma+mon"	/* its context also serves the munmap rows */
#define MUNMAP_API	"munmap"

enum backing { BACK_4K, BACK_THP };
enum touch { TOUCH_PREFAULTED, TOUCH_FIRST };
static const char *const backing_name[] = { "4k", "thp" };
static const char *const touch_name[] = { "prefaulted", "first-touch" };

/* A registration cache's counters (the fpgadma provider's mr_cache_stats). */
struct cache_counts {
	uint64_t hits, misses, uncached;
};

struct api {
	const char *name;
	bool wanted;
	bool ready;		/* opened */
	char why[160];		/* why it is not ready */
	/*
	 * Not NULL: the API runs in a worker process of its own with
	 * FI_FPGADMA_MR_CACHE set to this (worker_start).
	 */
	const char *mr_cache;
	bool hit;		/* cache hits: measure_hit, prefaulted only */
	pid_t worker;		/* the worker process, or 0 */
	int sock;		/* this process's end of its socket */
	int (*open)(struct api *a);
	int (*reg)(struct api *a, void *buf, size_t len, void **handle);
	int (*dereg)(struct api *a, void *handle);
	/* a data round trip through the registered handle, or NULL */
	int (*verify)(struct api *a, void *handle, unsigned char *buf, size_t len);
	void (*close)(struct api *a);
	/* the counters of its registration cache, or NULL: 0 or an error */
	int (*counts)(struct api *a, struct cache_counts *c);
	void *priv;
};

struct result {
	const char *api, *backing, *touch;
	size_t size;
	unsigned long iters;
	double usec;
};

static struct {
	double budget;		/* seconds per point */
	size_t min_size, max_size;
	bool quick;
	bool backings[2], touches[2];
	int dev_index;
	unsigned int mon_mrs;	/* -n: monitored MRs of the munmap rows */
	const char *ibv_dev;
	const char *out;
} opt = {
	.budget = 0.5,
	.min_size = 4 * KIB,
	.max_size = 256 * MIB,
	.backings = { true, true },
	.touches = { true, true },
	.mon_mrs = 1000,
};

static double *samples;	/* the times of the iterations of one point, s */
static struct result *results;
static size_t nresults, results_cap;
static char *notes[MAX_NOTES];
static unsigned int nnotes;
static int worker_sock = -1;	/* in a worker: its end of the socket */

static int worker_note(const char *s);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A line for the table's footer and the TSV's comments. */
static void note(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	if (worker_sock >= 0) {
		/* the parent prints and keeps it, in its order */
		worker_note(s);
		free(s);
		return;
	}
	printf("# %s\n", s);
	fflush(stdout);
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = s;
	else
		free(s);
}

static unsigned char pattern(uint64_t i, unsigned int seed)
{
	return (unsigned char)((i ^ (i >> 9) ^ (i >> 19)) * 37 + seed);
}

/* A field of /proc/self/status in kB, or -1. */
static long status_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* AnonHugePages (kB) of the mapping that contains addr, or -1. */
static long anon_huge_kb(const void *addr)
{
	char line[512];
	uintptr_t a = (uintptr_t)addr, lo, hi;
	bool in = false;
	long v = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

/* --- memory --------------------------------------------------------------- */

struct region {
	void *map;	/* what mmap returned */
	size_t map_len;
	unsigned char *buf;	/* the registered part */
	size_t len;
};

/* A fresh anonymous region of len bytes with the backing's advice. */
static int region_map(struct region *r, size_t len, enum backing b)
{
	size_t want = b == BACK_THP ? (len + THP_SIZE - 1) / THP_SIZE * THP_SIZE : len;
	size_t map_len = b == BACK_THP ? want + THP_SIZE : want;
	uintptr_t start;
	void *p;

	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	start = (uintptr_t)p;
	if (b == BACK_THP) {
		uintptr_t aligned = (start + THP_SIZE - 1) & ~(THP_SIZE - 1);

		/* keep exactly the aligned part */
		if (aligned > start)
			munmap(p, aligned - start);
		if (start + map_len > aligned + want)
			munmap((void *)(aligned + want), start + map_len - aligned - want);
		p = (void *)aligned;
		map_len = want;
	}
	if (madvise(p, map_len, b == BACK_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
		int err = -errno;

		munmap(p, map_len);
		return err;
	}
	r->map = p;
	r->map_len = map_len;
	r->buf = p;
	r->len = len;
	return 0;
}

static void region_unmap(struct region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	r->map = NULL;
}

/* Prefault: write every page (the round trip writes its own pattern). */
static void region_fill(struct region *r, unsigned int seed)
{
	memset(r->map, seed, r->map_len);
}

/* --- libfpgadma ------------------------------------------------------------ */

struct fpgadma_api {
	struct fpgadma_context *ctx;
	struct fpgadma_pd *pd;
	struct fpgadma_device_attr attr;
};

static const unsigned int mr_access = FPGADMA_ACCESS_LOCAL_WRITE |
				      FPGADMA_ACCESS_REMOTE_WRITE |
				      FPGADMA_ACCESS_REMOTE_READ;

static int fpgadma_api_open(struct api *a)
{
	struct fpgadma_api *f = calloc(1, sizeof(*f));
	int ret;

	if (!f)
		return -ENOMEM;
	ret = fpgadma_open(opt.dev_index, &f->ctx);
	if (ret) {
		snprintf(a->why, sizeof(a->why), "/dev/fpgadma%d: %s",
			 opt.dev_index, fpgadma_strerror(ret));
		free(f);
		return 77;
	}
	ret = fpgadma_query(f->ctx, &f->attr);
	if (!ret)
		ret = fpgadma_alloc_pd(f->ctx, &f->pd);
	if (ret) {
		snprintf(a->why, sizeof(a->why), "query/alloc_pd: %s",
			 fpgadma_strerror(ret));
		fpgadma_close(f->ctx);
		free(f);
		return 1;
	}
	a->priv = f;
	return 0;
}

static int fpgadma_api_reg(struct api *a, void *buf, size_t len, void **handle)
{
	struct fpgadma_api *f = a->priv;

	return fpgadma_reg_mr(f->pd, buf, len, mr_access, (struct fpgadma_mr **)handle);
}

static int fpgadma_api_dereg(struct api *a, void *handle)
{
	(void)a;
	return fpgadma_dereg_mr(handle);
}

/* One WR through the MR's pieces, waited for. */
static int fpgadma_api_one(struct fpgadma_api *f, bool to_device,
			   const struct fpgadma_sge *sg, unsigned int nsge,
			   uint64_t bytes)
{
	struct fpgadma_cqe cqe;
	double deadline = now_s() + WAIT_MS / 1000.0;
	int ret;

	ret = to_device ? fpgadma_post_write(f->ctx, 1, 0, sg, nsge)
			: fpgadma_post_read(f->ctx, 2, 0, sg, nsge);
	if (ret) {
		fprintf(stderr, "reg_bench: post: %s\n", fpgadma_strerror(ret));
		return 1;
	}
	while ((ret = fpgadma_poll(f->ctx, &cqe, 1)) == 0) {
		if (now_s() > deadline) {
			fprintf(stderr, "reg_bench: no completion in %d ms\n", WAIT_MS);
			return 1;
		}
		fpgadma_wait(f->ctx, 1000);
	}
	if (ret < 0) {
		fprintf(stderr, "reg_bench: poll: %s\n", fpgadma_strerror(ret));
		return 1;
	}
	if (cqe.status != FPGADMA_WC_SUCCESS || cqe.byte_len != bytes) {
		fprintf(stderr, "reg_bench: completion %s, %" PRIu64 " of %" PRIu64 " bytes\n",
			fpgadma_wc_status_str(cqe.status), (uint64_t)cqe.byte_len, bytes);
		return 1;
	}
	return 0;
}

/*
 * The first and last bytes of the MR (up to VERIFY_MAX in all) to device
 * memory and back: the device sees the process's data at both ends.
 */
static int fpgadma_api_verify(struct api *a, void *handle, unsigned char *buf,
			      size_t len)
{
	struct fpgadma_api *f = a->priv;
	struct fpgadma_mr *mr = handle;
	struct fpgadma_sge sg[2];
	unsigned int nsge, i;
	size_t n = len, half;
	uint64_t bytes = 0;
	static unsigned int seed;

	if (n > VERIFY_MAX)
		n = VERIFY_MAX;
	if (n > f->attr.dev_mem_size)
		n = f->attr.dev_mem_size;
	if (n == 0)
		return 0;
	half = n / 2;
	if (n < len && half > 0 && f->attr.max_sge >= 2) {
		sg[0] = (struct fpgadma_sge){ (uintptr_t)buf, (uint32_t)half, mr->lkey };
		sg[1] = (struct fpgadma_sge){ (uintptr_t)(buf + len - half),
					      (uint32_t)half, mr->lkey };
		nsge = 2;
	} else {
		sg[0] = (struct fpgadma_sge){ (uintptr_t)buf, (uint32_t)n, mr->lkey };
		nsge = 1;
	}
	seed++;
	for (i = 0; i < nsge; i++) {
		unsigned char *p = (unsigned char *)(uintptr_t)sg[i].addr;
		size_t j;

		for (j = 0; j < sg[i].length; j++)
			p[j] = pattern(bytes + j, seed);
		bytes += sg[i].length;
	}
	if (fpgadma_api_one(f, true, sg, nsge, bytes))
		return 1;
	for (i = 0; i < nsge; i++)
		memset((void *)(uintptr_t)sg[i].addr, 0, sg[i].length);
	if (fpgadma_api_one(f, false, sg, nsge, bytes))
		return 1;
	bytes = 0;
	for (i = 0; i < nsge; i++) {
		const unsigned char *p = (const unsigned char *)(uintptr_t)sg[i].addr;
		size_t j;

		for (j = 0; j < sg[i].length; j++) {
			if (p[j] != pattern(bytes + j, seed)) {
				fprintf(stderr, "reg_bench: libfpgadma %zu-byte MR: byte %zu of piece %u came back 0x%02x, not 0x%02x\n",
					len, j, i, p[j], pattern(bytes + j, seed));
				return 1;
			}
		}
		bytes += sg[i].length;
	}
	return 0;
}

static void fpgadma_api_close(struct api *a)
{
	struct fpgadma_api *f = a->priv;

	fpgadma_dealloc_pd(f->pd);
	fpgadma_close(f->ctx);
	free(f);
}

/* --- libfpgadma+mon: the same, the memory monitor watching ------------------ */

static int fpgadma_mon_api_open(struct api *a)
{
	struct fpgadma_api *f;
	int ret = fpgadma_api_open(a);

	if (ret)
		return ret;
	f = a->priv;
	if (!(f->attr.caps & FPGADMA_CAP_MR_MONITOR)) {
		snprintf(a->why, sizeof(a->why),
			 "/dev/fpgadma%d: the module has no memory monitor (no FPGADMA_CAP_MR_MONITOR)",
			 opt.dev_index);
		fpgadma_api_close(a);
		a->priv = NULL;
		return 77;
	}
	return 0;
}

static int fpgadma_mon_api_reg(struct api *a, void *buf, size_t len, void **handle)
{
	struct fpgadma_api *f = a->priv;

	return fpgadma_reg_mr_monitor(f->pd, buf, len, mr_access,
				      (struct fpgadma_mr **)handle);
}

/* libfpgadma's round trip, the MR valid before and after it. */
static int fpgadma_mon_api_verify(struct api *a, void *handle, unsigned char *buf,
				  size_t len)
{
	int before = fpgadma_mr_valid(handle), after;

	if (before == 1 && fpgadma_api_verify(a, handle, buf, len))
		return 1;
	after = fpgadma_mr_valid(handle);
	if (before != 1 || after != 1) {
		fprintf(stderr, "reg_bench: libfpgadma+mon %zu-byte MR: fpgadma_mr_valid says %d after its registration, %d after the round trip (1: valid)\n",
			len, before, after);
		return 1;
	}
	return 0;
}

/* --- fi_mr_reg (libfabric, fpgadma provider) ------------------------------- */

#ifdef HAVE_LIBFABRIC
struct fi_api {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
#ifdef HAVE_MR_CACHE_STATS
	struct fi_fpgadma_ops_domain *ops;	/* with mr_cache_stats, or NULL */
#endif
};

#ifdef HAVE_MR_CACHE_STATS
static int fi_api_stats(struct api *a, struct fi_fpgadma_mr_cache_stats *st)
{
	struct fi_api *f = a->priv;

	memset(st, 0, sizeof(*st));
	return f->ops ? f->ops->mr_cache_stats(f->domain, st) : -FI_ENOSYS;
}

static int fi_api_counts(struct api *a, struct cache_counts *c)
{
	struct fi_fpgadma_mr_cache_stats st;
	int ret = fi_api_stats(a, &st);

	if (!ret)
		*c = (struct cache_counts){ st.hits, st.misses, st.uncached };
	return ret;
}
#endif

/*
 * Whether this worker got the cache it asked for: from the cache's own
 * counters where the provider has them (the hit row is skipped when its
 * cache is off: no hits to time), else from the parameters of the loaded
 * providers (fi_getparams).  0, or 77 with the reason in a->why.
 */
static int fi_api_cache_check(struct api *a)
{
	struct fi_param *params = NULL;
	bool defined = false;
	int n = 0, i;
#ifdef HAVE_MR_CACHE_STATS
	struct fi_fpgadma_mr_cache_stats st;
	struct fi_api *f = a->priv;
	void *ops = NULL;

	if (!fi_open_ops(&f->domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, &ops, NULL) && ops &&
	    ((struct fi_fpgadma_ops_domain *)ops)->size >=
	    FI_FPGADMA_OPS_DOMAIN_HAS(mr_cache_stats))
		f->ops = ops;
	if (!fi_api_stats(a, &st)) {
		a->counts = fi_api_counts;
		if (a->hit && !st.enabled) {
			snprintf(a->why, sizeof(a->why),
				 "the provider's registration cache is off with FI_FPGADMA_MR_CACHE=1 (no memory monitor?)");
			return 77;
		}
		note("%s: FI_FPGADMA_MR_CACHE=%s, in a process of its own: the cache is %s (at most %" PRIu64 " entries, %" PRIu64 " bytes)",
		     a->name, a->mr_cache, st.enabled ? "on" : "off", st.max_entries,
		     st.max_bytes);
		if (a->hit)
			note("%s: registered with local rights only (FI_SEND, FI_RECV, FI_READ, FI_WRITE: the provider caches no MR with remote rights); the cache's counters must count every timed registration a hit",
			     a->name);
		return 0;
	}
#endif
	if (fi_getparams(&params, &n))
		return 0;
	for (i = 0; i < n; i++)
		if (params[i].name && !strcmp(params[i].name, "FI_FPGADMA_MR_CACHE"))
			defined = true;
	if (params)
		fi_freeparams(params);
	if (defined)
		note("%s: FI_FPGADMA_MR_CACHE=%s, in a process of its own (the provider has no cache counters: hits not checked)",
		     a->name, a->mr_cache);
	else
		note("WARNING: %s: the fpgadma provider defines no FI_FPGADMA_MR_CACHE (it has no registration cache)%s",
		     a->name, a->hit ? ": its rows are cold registrations, not hits" : "");
	return 0;
}

static void fi_api_close(struct api *a);

static int fi_api_open(struct api *a)
{
	struct fi_api *f = calloc(1, sizeof(*f));
	struct fi_info *hints = fi_allocinfo();
	char domain[32];
	int ret;

	if (!f || !hints) {
		free(f);
		fi_freeinfo(hints);
		return -ENOMEM;
	}
	snprintf(domain, sizeof(domain), "fpgadma%d", opt.dev_index);
	hints->caps = FI_RMA;
	hints->ep_attr->type = FI_EP_RDM;
	/* registered at fi_mr_reg, as ibv_reg_mr does (no FI_MR_ENDPOINT) */
	hints->domain_attr->mr_mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
				      FI_MR_PROV_KEY | FI_MR_LOCAL;
	hints->domain_attr->name = strdup(domain);
	hints->fabric_attr->prov_name = strdup("fpgadma");
	ret = fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, hints, &f->info);
	fi_freeinfo(hints);
	if (ret) {
		snprintf(a->why, sizeof(a->why),
			 "no fpgadma provider with domain %s (fi_getinfo: %s; FI_PROVIDER_PATH=%s)",
			 domain, fi_strerror(-ret),
			 getenv("FI_PROVIDER_PATH") ? getenv("FI_PROVIDER_PATH") : "unset");
		free(f);
		return 77;
	}
	ret = fi_fabric(f->info->fabric_attr, &f->fabric, NULL);
	if (!ret)
		ret = fi_domain(f->fabric, f->info, &f->domain, NULL);
	if (ret) {
		snprintf(a->why, sizeof(a->why), "fi_fabric/fi_domain: %s",
			 fi_strerror(-ret));
		if (f->fabric)
			fi_close(&f->fabric->fid);
		fi_freeinfo(f->info);
		free(f);
		return 1;
	}
	a->priv = f;
	if (a->mr_cache) {
		ret = fi_api_cache_check(a);
		if (ret) {
			fi_api_close(a);
			a->priv = NULL;
			return ret;
		}
	}
	return 0;
}

static int fi_api_reg(struct api *a, void *buf, size_t len, void **handle)
{
	struct fi_api *f = a->priv;
	struct fid_mr *mr;
	int ret;

	/* the cache keeps MRs without remote rights only: hits are local ones */
	ret = fi_mr_reg(f->domain, buf, len,
			a->hit ? FI_SEND | FI_RECV | FI_READ | FI_WRITE :
				 FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE,
			0, 0, 0, &mr, NULL);
	if (ret)
		return ret;
	*handle = mr;
	return 0;
}

static int fi_api_dereg(struct api *a, void *handle)
{
	(void)a;
	return fi_close(&((struct fid_mr *)handle)->fid);
}

static void fi_api_close(struct api *a)
{
	struct fi_api *f = a->priv;

	fi_close(&f->domain->fid);
	fi_close(&f->fabric->fid);
	fi_freeinfo(f->info);
	free(f);
}
#endif

/* --- ibv_reg_mr (rxe) ------------------------------------------------------- */

#ifdef HAVE_IBVERBS
struct ibv_api {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
};

static int ibv_api_open(struct api *a)
{
	struct ibv_device **list;
	struct ibv_device *dev = NULL;
	struct ibv_api *v;
	int n, i;

	list = ibv_get_device_list(&n);
	if (!list) {
		snprintf(a->why, sizeof(a->why), "ibv_get_device_list: %s", strerror(errno));
		return 77;
	}
	for (i = 0; i < n && !dev; i++) {
		const char *name = ibv_get_device_name(list[i]);

		if (opt.ibv_dev ? !strcmp(name, opt.ibv_dev) : !strncmp(name, "rxe", 3))
			dev = list[i];
	}
	if (!dev) {
		snprintf(a->why, sizeof(a->why), "no verbs device %s (%d devices)",
			 opt.ibv_dev ? opt.ibv_dev : "rxe*", n);
		ibv_free_device_list(list);
		return 77;
	}
	v = calloc(1, sizeof(*v));
	if (v)
		v->ctx = ibv_open_device(dev);
	if (v && v->ctx)
		v->pd = ibv_alloc_pd(v->ctx);
	if (!v || !v->ctx || !v->pd) {
		snprintf(a->why, sizeof(a->why), "%s: open/alloc_pd failed: %s",
			 ibv_get_device_name(dev), strerror(errno));
		if (v && v->ctx)
			ibv_close_device(v->ctx);
		free(v);
		ibv_free_device_list(list);
		return 1;
	}
	note("ibv_reg_mr on verbs device %s", ibv_get_device_name(dev));
	ibv_free_device_list(list);
	a->priv = v;
	return 0;
}

static int ibv_api_reg(struct api *a, void *buf, size_t len, void **handle)
{
	struct ibv_api *v = a->priv;
	struct ibv_mr *mr;

	mr = ibv_reg_mr(v->pd, buf, len, IBV_ACCESS_LOCAL_WRITE |
			IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!mr)
		return errno ? -errno : -EIO;
	*handle = mr;
	return 0;
}

static int ibv_api_dereg(struct api *a, void *handle)
{
	int ret;

	(void)a;
	ret = ibv_dereg_mr(handle);
	return ret > 0 ? -ret : ret;
}

static void ibv_api_close(struct api *a)
{
	struct ibv_api *v = a->priv;

	ibv_dealloc_pd(v->pd);
	ibv_close_device(v->ctx);
	free(v);
}
#endif

static struct api apis[] = {
	{ .name = "libfpgadma", .open = fpgadma_api_open, .reg = fpgadma_api_reg,
	  .dereg = fpgadma_api_dereg, .verify = fpgadma_api_verify,
	  .close = fpgadma_api_close },
	{ .name = MON_API, .open = fpgadma_mon_api_open, .reg = fpgadma_mon_api_reg,
	  .dereg = fpgadma_api_dereg, .verify = fpgadma_mon_api_verify,
	  .close = fpgadma_api_close },
#ifdef HAVE_LIBFABRIC
	{ .name = "fi_mr_reg", .open = fi_api_open, .reg = fi_api_reg,
	  .dereg = fi_api_dereg, .close = fi_api_close, .mr_cache = "0" },
	{ .name = "fi_mr_reg cache hit", .open = fi_api_open, .reg = fi_api_reg,
	  .dereg = fi_api_dereg, .close = fi_api_close, .mr_cache = "1", .hit = true },
#else
	{ .name = "fi_mr_reg", .why = "not built: configure found no libfabric" },
	{ .name = "fi_mr_reg cache hit", .why = "not built: configure found no libfabric" },
#endif
#ifdef HAVE_IBVERBS
	{ .name = "ibv_reg_mr", .open = ibv_api_open, .reg = ibv_api_reg,
	  .dereg = ibv_api_dereg, .close = ibv_api_close },
#else
	{ .name = "ibv_reg_mr", .why = "not built: configure found no libibverbs" },
#endif
};
#define NAPIS (sizeof(apis) / sizeof(apis[0]))

/* --- measuring ------------------------------------------------------------- */

static const char *api_err(const struct api *a, int ret)
{
#ifdef HAVE_LIBFABRIC
	if (!strncmp(a->name, "fi_", 3))
		return fi_strerror(-ret);
#endif
	(void)a;
	return strerror(-ret);
}

/* How much of a thp region huge pages back, in the notes. */
static void thp_note(const struct api *a, const struct region *r, enum touch t)
{
	long huge = anon_huge_kb(r->buf);

	note("%s thp %s %zu bytes: AnonHugePages %ld kB of a %zu kB mapping",
	     a->name, touch_name[t], r->len, huge, r->map_len / KIB);
	if (huge <= 0)
		note("WARNING: no transparent huge pages back the thp region (is THP enabled: /sys/kernel/mm/transparent_hugepage/enabled?)");
}

/*
 * Register r, check it is real (VmPin, THP backing, the API's round trip),
 * deregister and check VmPin is back.  Not timed.
 */
static int check_registration(struct api *a, struct region *r, enum backing b,
			      enum touch t)
{
	long pin0 = status_kb("VmPin"), pin1, pin2;
	void *h;
	int ret;

	ret = a->reg(a, r->buf, r->len, &h);
	if (ret) {
		fprintf(stderr, "reg_bench: %s of %zu bytes (%s, %s): %s\n", a->name,
			r->len, backing_name[b], touch_name[t], api_err(a, ret));
		return 1;
	}
	pin1 = status_kb("VmPin");
	if (pin0 >= 0 && pin1 >= 0 && (size_t)(pin1 - pin0) * KIB < r->len) {
		fprintf(stderr, "reg_bench: %s of %zu bytes: VmPin grew by %ld kB only\n",
			a->name, r->len, pin1 - pin0);
		a->dereg(a, h);
		return 1;
	}
	if (b == BACK_THP)
		thp_note(a, r, t);
	if (a->verify && a->verify(a, h, r->buf, r->len)) {
		a->dereg(a, h);
		return 1;
	}
	ret = a->dereg(a, h);
	if (ret) {
		fprintf(stderr, "reg_bench: %s dereg: %s\n", a->name, api_err(a, ret));
		return 1;
	}
	pin2 = status_kb("VmPin");
	if (pin0 >= 0 && pin2 != pin0) {
		fprintf(stderr, "reg_bench: %s: VmPin %ld kB after deregistration, %ld before%s\n",
			a->name, pin2, pin0,
			a->mr_cache ? " (a cache kept the registration: does the provider read FI_FPGADMA_MR_CACHE?)" : "");
		return 1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the iters times in samples. */
static double median(unsigned long iters)
{
	qsort(samples, iters, sizeof(*samples), cmp_double);
	return iters % 2 ? samples[iters / 2] :
		(samples[iters / 2 - 1] + samples[iters / 2]) / 2;
}

/* A row of the table and of the TSV; the strings must outlive the run. */
static int add_result(const char *api, const char *backing, const char *touch,
		      size_t size, unsigned long iters, double usec)
{
	struct result *r;

	if (nresults == results_cap) {
		size_t cap = results_cap ? 2 * results_cap : 64;
		struct result *p = realloc(results, cap * sizeof(*p));

		if (!p)
			return 1;
		results = p;
		results_cap = cap;
	}
	r = &results[nresults++];
	*r = (struct result){ api, backing, touch, size, iters, usec };
	printf("%-19s %-4s %-11s %10zu %7lu %12.2f %10.1f\n", r->api, backing, touch,
	       size, iters, r->usec, size / r->usec);
	fflush(stdout);
	return 0;
}

/* One registration and its deregistration, the failure said. */
static int reg_pair(struct api *a, void *buf, size_t size)
{
	void *h;
	int ret;

	ret = a->reg(a, buf, size, &h);
	if (!ret)
		ret = a->dereg(a, h);
	if (ret)
		fprintf(stderr, "reg_bench: %s %zu bytes: %s\n", a->name, size,
			api_err(a, ret));
	return ret;
}

static unsigned long min_iters(enum touch t)
{
	if (opt.quick)
		return 1;
	return t == TOUCH_FIRST ? 2 : 3;
}

/* Timed pairs on buf until the budget is spent: how many, and the median in µs. */
static int time_pairs(struct api *a, void *buf, size_t size, unsigned long *iters,
		      double *usec)
{
	unsigned long n = 0;
	double start = now_s(), t0, t;

	do {
		t0 = now_s();
		if (reg_pair(a, buf, size))
			return 1;
		t = now_s();
		samples[n++] = t - t0;
	} while (n < MAX_ITERS &&
		 (n < min_iters(TOUCH_PREFAULTED) || t - start < opt.budget));
	*iters = n;
	*usec = median(n) * 1e6;
	return 0;
}

static int measure_prefaulted(struct api *a, enum backing b, size_t size,
			      unsigned long *iters, double *usec)
{
	struct region r;
	int ret;

	ret = region_map(&r, size, b);
	if (ret) {
		fprintf(stderr, "reg_bench: mmap %zu bytes: %s\n", size, strerror(-ret));
		return 1;
	}
	region_fill(&r, 1);
	ret = check_registration(a, &r, b, TOUCH_PREFAULTED);
	/* one more untimed pair: what the check left behind settles first */
	if (!ret)
		ret = reg_pair(a, r.buf, size);
	if (!ret)
		ret = time_pairs(a, r.buf, size, iters, usec);
	region_unmap(&r);
	return ret ? 1 : 0;
}

static int measure_first_touch(struct api *a, enum backing b, size_t size,
			       unsigned long *iters, double *usec)
{
	struct region r;
	unsigned long n = 0;
	double start = now_s(), t0;
	int ret;

	ret = region_map(&r, size, b);
	if (ret) {
		fprintf(stderr, "reg_bench: mmap %zu bytes: %s\n", size, strerror(-ret));
		return 1;
	}
	ret = check_registration(a, &r, b, TOUCH_FIRST);
	region_unmap(&r);
	if (ret)
		return 1;
	do {
		ret = region_map(&r, size, b);
		if (ret) {
			fprintf(stderr, "reg_bench: mmap %zu bytes: %s\n", size, strerror(-ret));
			return 1;
		}
		t0 = now_s();
		ret = reg_pair(a, r.buf, size);
		samples[n] = now_s() - t0;
		region_unmap(&r);
		if (ret)
			return 1;
		n++;
	} while (n < MAX_ITERS &&
		 (n < min_iters(TOUCH_FIRST) || now_s() - start < opt.budget));
	*iters = n;
	*usec = median(n) * 1e6;
	return 0;
}

/*
 * Cache hits: one warm-up registration of a prefaulted region, kept open
 * while the timed pairs register and close the same buffer again, so that
 * each of them finds it registered, whether or not the cache keeps what
 * nobody uses.  A hit pins nothing new and the cache keeps what it
 * registered, so VmPin says only that the pages are held (at least the
 * size after the warm-up).
 */
static int measure_hit(struct api *a, enum backing b, size_t size,
		       unsigned long *iters, double *usec)
{
	struct cache_counts c0, c1;
	struct region r;
	void *held;
	bool have;
	long pin;
	int ret;

	ret = region_map(&r, size, b);
	if (ret) {
		fprintf(stderr, "reg_bench: mmap %zu bytes: %s\n", size, strerror(-ret));
		return 1;
	}
	region_fill(&r, 1);
	ret = a->reg(a, r.buf, size, &held);
	if (ret) {
		fprintf(stderr, "reg_bench: %s: the warm-up registration of %zu bytes (%s): %s\n",
			a->name, size, backing_name[b], api_err(a, ret));
		region_unmap(&r);
		return 1;
	}
	pin = status_kb("VmPin");
	if (pin >= 0 && (size_t)pin * KIB < size) {
		fprintf(stderr, "reg_bench: %s: VmPin %ld kB after the warm-up registration of %zu bytes\n",
			a->name, pin, size);
		ret = 1;
	}
	if (!ret && b == BACK_THP)
		thp_note(a, &r, TOUCH_PREFAULTED);
	have = !ret && a->counts && !a->counts(a, &c0);
	/* one untimed hit first, as the other rows have an untimed pair */
	if (!ret)
		ret = reg_pair(a, r.buf, size);
	if (!ret)
		ret = time_pairs(a, r.buf, size, iters, usec);
	/* every one of them a hit, by the cache's own count */
	if (!ret && have && !a->counts(a, &c1) &&
	    (c1.hits - c0.hits != *iters + 1 || c1.misses != c0.misses ||
	     c1.uncached != c0.uncached)) {
		fprintf(stderr, "reg_bench: %s %zu bytes (%s): of %lu registrations, the cache counted %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64 " uncached\n",
			a->name, size, backing_name[b], *iters + 1, c1.hits - c0.hits,
			c1.misses - c0.misses, c1.uncached - c0.uncached);
		ret = 1;
	}
	if (a->dereg(a, held) && !ret) {
		fprintf(stderr, "reg_bench: %s: closing the warm-up registration failed\n",
			a->name);
		ret = 1;
	}
	region_unmap(&r);
	return ret ? 1 : 0;
}

/* One point of a in this process. */
static int measure_local(struct api *a, enum backing b, enum touch t, size_t size,
			 unsigned long *iters, double *usec)
{
	struct cache_counts c0, c1;
	bool have;
	int ret;

	if (a->hit)
		return measure_hit(a, b, size, iters, usec);
	have = a->counts && !a->counts(a, &c0);
	ret = t == TOUCH_FIRST ? measure_first_touch(a, b, size, iters, usec) :
				 measure_prefaulted(a, b, size, iters, usec);
	/* a cold row has no hit */
	if (!ret && have && !a->counts(a, &c1) && c1.hits != c0.hits) {
		fprintf(stderr, "reg_bench: %s %zu bytes (%s, %s): the cache counted %" PRIu64 " hits\n",
			a->name, size, backing_name[b], touch_name[t], c1.hits - c0.hits);
		return 1;
	}
	return ret;
}

/* --- worker processes -------------------------------------------------------- */

/*
 * What goes over a worker's socket: a header, then len bytes.  The parent
 * sends MSG_MEASURE; the worker answers MSG_OPEN once (opened or why not)
 * and MSG_RESULT for each point, with any MSG_NOTE lines before them.
 */
enum { MSG_OPEN = 1, MSG_NOTE, MSG_MEASURE, MSG_RESULT };
#define MSG_MAX 1024		/* the longest payload: a note */

struct msg_hdr {
	uint32_t type, len;
};
struct msg_open {
	int32_t ret;		/* as api.open returns */
	char why[160];
};
struct msg_measure {
	uint32_t backing, touch;
	uint64_t size;
};
struct msg_result {
	int32_t status;
	uint64_t iters;
	double usec;
};

static int send_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t r;

	while (len) {
		r = write(fd, c, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		len -= (size_t)r;
	}
	return 0;
}

/* 0, 1 at the end of the stream before the first byte, -1 on an error. */
static int recv_all(int fd, void *p, size_t len)
{
	char *c = p;
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, c + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got ? -1 : 1;
		got += (size_t)r;
	}
	return 0;
}

static int msg_send(int fd, uint32_t type, const void *p, uint32_t len)
{
	struct msg_hdr h = { type, len };

	return send_all(fd, &h, sizeof(h)) || send_all(fd, p, len) ? -1 : 0;
}

/* The next message into buf (NUL-terminated): 0, 1 at the end, -1. */
static int msg_recv(int fd, uint32_t *type, char *buf, size_t cap, uint32_t *len)
{
	struct msg_hdr h;
	int ret = recv_all(fd, &h, sizeof(h));

	if (ret)
		return ret;
	if (h.len >= cap || recv_all(fd, buf, h.len))
		return -1;
	buf[h.len] = 0;
	*type = h.type;
	*len = h.len;
	return 0;
}

/* In a worker: a note for the parent to print and keep. */
static int worker_note(const char *s)
{
	size_t n = strlen(s);

	return msg_send(worker_sock, MSG_NOTE, s, (uint32_t)(n < MSG_MAX ? n : MSG_MAX - 1));
}

/* The worker: open a, then measure what the parent asks until it closes the socket. */
static void __attribute__((noreturn)) worker_main(struct api *a)
{
	char buf[MSG_MAX];
	struct msg_open o;
	struct msg_measure m;
	struct msg_result r;
	unsigned long iters;
	uint32_t type, len;
	double usec;
	int ret;

	memset(&o, 0, sizeof(o));
	ret = a->open(a);
	o.ret = ret;
	snprintf(o.why, sizeof(o.why), "%s", a->why);
	if (msg_send(worker_sock, MSG_OPEN, &o, sizeof(o)) || ret) {
		if (!ret)
			a->close(a);
		exit(0);
	}
	while (msg_recv(worker_sock, &type, buf, sizeof(buf), &len) == 0 &&
	       type == MSG_MEASURE && len == sizeof(m)) {
		memcpy(&m, buf, sizeof(m));
		iters = 0;
		usec = 0;
		memset(&r, 0, sizeof(r));
		r.status = measure_local(a, (enum backing)m.backing, (enum touch)m.touch,
					 (size_t)m.size, &iters, &usec);
		r.iters = iters;
		r.usec = usec;
		if (msg_send(worker_sock, MSG_RESULT, &r, sizeof(r)))
			break;
	}
	a->close(a);
	exit(0);
}

/*
 * Fork a's worker, FI_FPGADMA_MR_CACHE=a->mr_cache in its environment
 * before it calls libfabric.  Called before this process opens anything.
 */
static int worker_start(struct api *a)
{
	unsigned int i;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		snprintf(a->why, sizeof(a->why), "socketpair: %s", strerror(errno));
		return 1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(a->why, sizeof(a->why), "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < NAPIS; i++)
			if (apis[i].worker)
				close(apis[i].sock);
		worker_sock = sv[1];
		if (setenv("FI_FPGADMA_MR_CACHE", a->mr_cache, 1))
			exit(1);
		worker_main(a);
	}
	close(sv[1]);
	a->worker = pid;
	a->sock = sv[0];
	return 0;
}

/* The worker's next message of type want into out, its notes kept on the way. */
static int worker_answer(struct api *a, uint32_t want, void *out, size_t out_len)
{
	char buf[MSG_MAX];
	uint32_t type, len;

	for (;;) {
		if (msg_recv(a->sock, &type, buf, sizeof(buf), &len)) {
			snprintf(a->why, sizeof(a->why), "its worker process ended");
			return 1;
		}
		if (type == MSG_NOTE) {
			note("%s", buf);
			continue;
		}
		if (type != want || len != out_len) {
			snprintf(a->why, sizeof(a->why), "its worker sent message %u of %u bytes",
				 type, len);
			return 1;
		}
		memcpy(out, buf, out_len);
		return 0;
	}
}

/* What api.open would return, from the worker. */
static int worker_open(struct api *a)
{
	struct msg_open o;

	if (worker_answer(a, MSG_OPEN, &o, sizeof(o)))
		return 1;
	o.why[sizeof(o.why) - 1] = 0;
	snprintf(a->why, sizeof(a->why), "%s", o.why);
	return o.ret;
}

static int worker_measure(struct api *a, enum backing b, enum touch t, size_t size,
			  unsigned long *iters, double *usec)
{
	struct msg_measure m = { (uint32_t)b, (uint32_t)t, size };
	struct msg_result r;

	if (msg_send(a->sock, MSG_MEASURE, &m, sizeof(m))) {
		fprintf(stderr, "reg_bench: %s: its worker process has gone\n", a->name);
		return 1;
	}
	if (worker_answer(a, MSG_RESULT, &r, sizeof(r))) {
		fprintf(stderr, "reg_bench: %s: %s\n", a->name, a->why);
		return 1;
	}
	*iters = (unsigned long)r.iters;
	*usec = r.usec;
	return r.status;
}

/* Close the socket (the worker closes its API and ends) and wait for it. */
static int worker_stop(struct api *a)
{
	int st;

	close(a->sock);
	if (waitpid(a->worker, &st, 0) != a->worker) {
		fprintf(stderr, "reg_bench: %s: waitpid: %s\n", a->name, strerror(errno));
		return 1;
	}
	a->worker = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "reg_bench: %s: its worker process ended with status %#x\n",
			a->name, st);
		return 1;
	}
	return 0;
}

/* One point of a, here or in its worker, and its row. */
static int measure(struct api *a, enum backing b, enum touch t, size_t size)
{
	unsigned long iters = 0;
	double usec = 0;
	int ret;

	ret = a->worker ? worker_measure(a, b, t, size, &iters, &usec) :
			  measure_local(a, b, t, size, &iters, &usec);
	if (ret)
		return 1;
	return add_result(a->name, backing_name[b], touch_name[t], size, iters, usec);
}

/* --- munmap of memory the monitor does not watch ------------------------------ */

/* The median time of one mmap + munmap of a fresh, untouched MUNMAP_LEN region. */
static int time_munmap(unsigned long *iters, double *usec)
{
	unsigned long n = 0, min = opt.quick ? 20 : 50;
	double start = now_s(), t0, t;
	unsigned int j;
	void *p;

	do {
		t0 = now_s();
		for (j = 0; j < MUNMAP_BATCH; j++) {
			p = mmap(NULL, MUNMAP_LEN, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED || munmap(p, MUNMAP_LEN)) {
				fprintf(stderr, "reg_bench: mmap/munmap of %lu bytes: %s\n",
					MUNMAP_LEN, strerror(errno));
				return 1;
			}
		}
		t = now_s();
		samples[n++] = (t - t0) / MUNMAP_BATCH;
	} while (n < MAX_ITERS && (n < min || t - start < opt.budget));
	*iters = n * MUNMAP_BATCH;
	*usec = median(n) * 1e6;
	return 0;
}

/*
 * The munmap rows, with the context of libfpgadma+mon before it registered
 * anything: with no monitored MR, with opt.mon_mrs of them (a page each of
 * a mapping of their own), and with none again.  The unrelated munmaps must
 * leave every MR valid.
 */
static int measure_munmap(struct api *m)
{
	static char touch_n[32];
	struct fpgadma_api *f = m->priv;
	struct fpgadma_mr **mrs;
	struct region other;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned int i, n = opt.mon_mrs, invalid = 0;
	unsigned long iters;
	uint32_t count0, count1;
	double usec;
	int ret, status;

	snprintf(touch_n, sizeof(touch_n), "mon%u", n);
	note("munmap rows: mmap + munmap of an untouched %lu KiB region no MR covers; touch: mon0 before any monitored registration, %s with %u monitored MRs (a page each, elsewhere), mon0-after once they are deregistered",
	     MUNMAP_LEN / KIB, touch_n, n);
	mrs = calloc(n, sizeof(*mrs));
	if (!mrs)
		return 1;
	ret = region_map(&other, n * page, BACK_4K);
	if (ret) {
		fprintf(stderr, "reg_bench: mmap %zu bytes: %s\n", n * page, strerror(-ret));
		free(mrs);
		return 1;
	}
	region_fill(&other, 2);
	/*
	 * A round untimed first: the first run of a code path pays for
	 * warming up (under QEMU's TCG, translating it), which would make the
	 * mon0 row the slowest for a reason that is not the monitor's.
	 */
	status = time_munmap(&iters, &usec) || time_munmap(&iters, &usec) ||
		 add_result(MUNMAP_API, "4k", "mon0", MUNMAP_LEN, iters, usec);
	count0 = fpgadma_mon_count(f->ctx);
	for (i = 0; i < n && !status; i++) {
		ret = fpgadma_reg_mr_monitor(f->pd, other.buf + i * page, page, mr_access,
					     &mrs[i]);
		if (ret) {
			fprintf(stderr, "reg_bench: munmap: monitored MR %u of %u: %s%s\n", i + 1, n,
				fpgadma_strerror(ret),
				ret == -ENOSPC ? " (the module parameter mon_slots is too small for -n)" : "");
			mrs[i] = NULL;
			status = 1;
		}
	}
	if (!status)
		status = time_munmap(&iters, &usec) ||
			 add_result(MUNMAP_API, "4k", touch_n, MUNMAP_LEN, iters, usec);
	count1 = fpgadma_mon_count(f->ctx);
	for (i = 0; i < n && mrs[i]; i++)
		if (fpgadma_mr_valid(mrs[i]) != 1)
			invalid++;
	if (invalid || count1 != count0) {
		fprintf(stderr, "reg_bench: munmap: %u of %u monitored MRs invalid, invalidations %u -> %u, while only memory no MR covers was unmapped\n",
			invalid, n, count0, count1);
		status = 1;
	}
	for (i = 0; i < n && mrs[i]; i++) {
		ret = fpgadma_dereg_mr(mrs[i]);
		if (ret) {
			fprintf(stderr, "reg_bench: munmap: dereg of monitored MR %u: %s\n", i + 1,
				fpgadma_strerror(ret));
			status = 1;
		}
	}
	if (!status)
		status = time_munmap(&iters, &usec) ||
			 add_result(MUNMAP_API, "4k", "mon0-after", MUNMAP_LEN, iters, usec);
	region_unmap(&other);
	free(mrs);
	return status;
}

static int write_tsv(const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;
	unsigned int n;

	if (!f) {
		fprintf(stderr, "reg_bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(f, "# title: registration + deregistration time per size (libfpgadma with and without the monitor, fi_mr_reg cold and cache hit, ibv_reg_mr on rxe), and munmap of memory no MR covers\n");
	fprintf(f, "# usec: the median time of one register+deregister pair over iters (munmap rows: of one mmap+munmap pair)\n");
	fprintf(f, "# budget: %.3f s per point\n", opt.budget);
	for (n = 0; n < nnotes; n++)
		fprintf(f, "# %s\n", notes[n]);
	fprintf(f, "api\tbacking\ttouch\tsize\titers\tusec\tMBps\n");
	for (i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		fprintf(f, "%s\t%s\t%s\t%zu\t%lu\t%.3f\t%.3f\n", r->api, r->backing,
			r->touch, r->size, r->iters, r->usec, r->size / r->usec);
	}
	if (fclose(f)) {
		fprintf(stderr, "reg_bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	return *end || v == 0 ? 0 : (size_t)v;
}

/*
 * set[i]: whether names[i] is one of the comma-separated list.  false when
 * the list names something else, or nothing.
 */
static bool pick(bool *set, unsigned int n, const char *const *names, const char *list)
{
	const char *p = list, *end;
	unsigned int i;
	size_t len;
	bool any = false, known;

	for (i = 0; i < n; i++)
		set[i] = false;
	for (;;) {
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		known = false;
		for (i = 0; i < n; i++) {
			if (strlen(names[i]) == len && !strncmp(p, names[i], len)) {
				set[i] = known = true;
				any = true;
			}
		}
		if (!known) {
			fprintf(stderr, "reg_bench: unknown name '%.*s' in '%s'\n", (int)len, p, list);
			return false;
		}
		if (!end)
			return any;
		p = end + 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: reg_bench [-q] [-t SECONDS] [-m MIN] [-M MAX] [-a API,...]\n"
		"                 [-b 4k,thp] [-T prefaulted,first-touch] [-d INDEX]\n"
		"                 [-D VERBS_DEVICE] [-n MRS] [-o FILE.tsv]\n"
		"  -a  libfpgadma,libfpgadma+mon,fi_mr_reg,fi_mr_reg cache hit,ibv_reg_mr,\n"
		"      munmap (default: all)\n"
		"  -m, -M  smallest and largest size (4K .. 256M; steps of 4)\n"
		"  -t  time budget of each point (default 0.5 s)\n"
		"  -q  quick: 4K, 1M, 16M at most, one iteration each\n"
		"  -d  /dev/fpgadma<INDEX> and fpgadma domain (default 0)\n"
		"  -D  verbs device for ibv_reg_mr (default: the first rxe*)\n"
		"  -n  monitored MRs of the munmap rows (default 1000)\n"
		"  -o  also write the results as TSV\n");
}

int main(int argc, char **argv)
{
	const char *api_names[NAPIS + 1];
	bool api_set[NAPIS + 1];
	const char *api_list = NULL;
	struct api *mon = NULL;
	unsigned int i, b, t, ready = 0;
	bool want_munmap;
	size_t size;
	long v;
	int c, status = 0;

	for (i = 0; i < NAPIS; i++) {
		api_names[i] = apis[i].name;
		if (!strcmp(apis[i].name, MON_API))
			mon = &apis[i];
	}
	api_names[NAPIS] = MUNMAP_API;
	while ((c = getopt(argc, argv, "qt:m:M:a:b:T:d:D:n:o:h")) != -1) {
		switch (c) {
		case 'q': opt.quick = true; break;
		case 't': opt.budget = atof(optarg); break;
		case 'm': opt.min_size = parse_size(optarg); break;
		case 'M': opt.max_size = parse_size(optarg); break;
		case 'a': api_list = optarg; break;
		case 'b':
			if (!pick(opt.backings, 2, backing_name, optarg))
				goto bad;
			break;
		case 'T':
			if (!pick(opt.touches, 2, touch_name, optarg))
				goto bad;
			break;
		case 'd': opt.dev_index = atoi(optarg); break;
		case 'D': opt.ibv_dev = optarg; break;
		case 'n':
			v = strtol(optarg, NULL, 0);
			if (v < 1 || v > 1000000)
				goto bad;
			opt.mon_mrs = (unsigned int)v;
			break;
		case 'o': opt.out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (optind != argc || !opt.min_size || opt.max_size < opt.min_size ||
	    opt.budget < 0)
		goto bad;
	if (api_list && !pick(api_set, NAPIS + 1, api_names, api_list))
		goto bad;
	for (i = 0; i < NAPIS; i++)
		apis[i].wanted = !api_list || api_set[i];
	want_munmap = !api_list || api_set[NAPIS];
	if (opt.quick) {
		opt.budget = 0;
		if (opt.max_size > 16 * MIB)
			opt.max_size = 16 * MIB;
	}

	samples = malloc(MAX_ITERS * sizeof(*samples));
	if (!samples) {
		fprintf(stderr, "reg_bench: out of memory\n");
		return 1;
	}
	/* a worker that has gone must not take this process with it */
	signal(SIGPIPE, SIG_IGN);
	printf("registration + deregistration (usec: median time of one pair; MBps = size / usec; budget %.2f s per point)\n",
	       opt.budget);
	/* the workers first: forked before this process opens anything */
	for (i = 0; i < NAPIS; i++)
		if (apis[i].wanted && apis[i].open && apis[i].mr_cache &&
		    worker_start(&apis[i])) {
			fprintf(stderr, "reg_bench: %s: %s\n", apis[i].name, apis[i].why);
			status = 1;
		}
	for (i = 0; i < NAPIS; i++) {
		struct api *a = &apis[i];
		int ret;

		/* libfpgadma+mon's context serves the munmap rows too */
		if (!a->wanted && !(a == mon && want_munmap))
			continue;
		if (!a->open) {
			note("%s: skipped: %s", a->name, a->why);
			continue;
		}
		if (a->mr_cache && !a->worker)
			continue;	/* its worker did not start: said above */
		ret = a->worker ? worker_open(a) : a->open(a);
		if (ret == 0) {
			a->ready = true;
			if (a->wanted)
				ready++;
		} else if (ret == 77) {
			if (a->wanted)
				note("%s: skipped: %s", a->name, a->why);
		} else {
			fprintf(stderr, "reg_bench: %s: %s\n", a->name,
				a->why[0] ? a->why : strerror(-ret));
			status = 1;
		}
	}
	if (want_munmap && mon && mon->ready)
		ready++;
	else if (want_munmap)
		note("%s: skipped: %s", MUNMAP_API, mon && mon->why[0] ? mon->why :
		     "needs " MON_API);
	if (!ready) {
		if (status == 0)
			printf("SKIP: none of the registration APIs is there\n");
		for (i = 0; i < NAPIS; i++)
			if (apis[i].worker)
				worker_stop(&apis[i]);
		return status ? status : 77;
	}
	for (i = 0; i < NAPIS; i++)
		if (apis[i].ready && apis[i].wanted && apis[i].hit && opt.touches[TOUCH_FIRST])
			note("%s: first-touch not measured: a fresh mapping each iteration is never in the cache",
			     apis[i].name);
	printf("%-19s %-4s %-11s %10s %7s %12s %10s\n", "api", "back", "touch",
	       "size", "iters", "usec", "MBps");
	/*
	 * munmap first: its mon0 row is of a process that has never had a
	 * monitored MR.
	 */
	if (!status && want_munmap && mon && mon->ready)
		status = measure_munmap(mon);
	/*
	 * The APIs are measured one after the other at each point, not each
	 * over the whole sweep, so that a drift of the machine over the run
	 * (the host's load, memory fragmentation) falls on all of them alike
	 * and their ratios hold.
	 */
	for (b = 0; b < 2 && !status; b++) {
		if (!opt.backings[b])
			continue;
		for (t = 0; t < 2 && !status; t++) {
			if (!opt.touches[t])
				continue;
			for (size = opt.min_size; size <= opt.max_size && !status;
			     size *= 4) {
				if (opt.quick && size != 4 * KIB && size != MIB &&
				    size != 16 * MIB)
					continue;
				for (i = 0; i < NAPIS && !status; i++) {
					struct api *a = &apis[i];

					if (!a->ready || !a->wanted ||
					    (a->hit && t == TOUCH_FIRST))
						continue;
					status = measure(a, b, t, size);
				}
			}
		}
	}
	for (i = 0; i < NAPIS; i++) {
		if (apis[i].worker) {
			if (worker_stop(&apis[i]) && !status)
				status = 1;
		} else if (apis[i].ready) {
			apis[i].close(&apis[i]);
		}
	}
	if (!status && opt.out)
		status = write_tsv(opt.out);
	free(results);
	free(samples);
	for (i = 0; i < nnotes; i++)
		free(notes[i]);
	return status;
bad:
	usage(stderr);
	return 1;
}
