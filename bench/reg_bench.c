// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_bench: the time of one registration plus its deregistration, per size,
 * through three APIs side by side in the same process:
 *
 *   libfpgadma   fpgadma_reg_mr / fpgadma_dereg_mr on /dev/fpgadma<N>
 *   fi_mr_reg    fi_mr_reg / fi_close of the fpgadma libfabric provider
 *   ibv_reg_mr   ibv_reg_mr / ibv_dereg_mr on a verbs device, by default the
 *                soft-RoCE one (rxe): the kernel's own ib_umem, the anchor
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
 * untimed registration checks the registration is real: VmPin grows by the size while it is
 * registered and returns afterwards, and for libfpgadma the first and last
 * bytes of the region make a round trip through device memory
 * (WRITE_MEM then READ_MEM) and come back equal.
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>

#ifdef HAVE_LIBFABRIC
#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_errno.h>
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
#define MAX_NOTES	64

enum backing { BACK_4K, BACK_THP };
enum touch { TOUCH_PREFAULTED, TOUCH_FIRST };
static const char *const backing_name[] = { "4k", "thp" };
static const char *const touch_name[] = { "prefaulted", "first-touch" };

struct api {
	const char *name;
	bool wanted;
	bool ready;		/* opened */
	char why[160];		/* why it is not ready */
	int (*open)(struct api *a);
	int (*reg)(struct api *a, void *buf, size_t len, void **handle);
	int (*dereg)(struct api *a, void *handle);
	/* a data round trip through the registered handle, or NULL */
	int (*verify)(struct api *a, void *handle, unsigned char *buf, size_t len);
	void (*close)(struct api *a);
	void *priv;
};

struct result {
	const char *api;
	enum backing backing;
	enum touch touch;
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
	const char *ibv_dev;
	const char *out;
} opt = {
	.budget = 0.5,
	.min_size = 4 * KIB,
	.max_size = 256 * MIB,
	.backings = { true, true },
	.touches = { true, true },
};

static double *samples;	/* the times of the iterations of one point, s */
static struct result *results;
static size_t nresults, results_cap;
static char *notes[MAX_NOTES];
static unsigned int nnotes;

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

/* --- fi_mr_reg (libfabric, fpgadma provider) ------------------------------- */

#ifdef HAVE_LIBFABRIC
struct fi_api {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
};

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
	return 0;
}

static int fi_api_reg(struct api *a, void *buf, size_t len, void **handle)
{
	struct fi_api *f = a->priv;
	struct fid_mr *mr;
	int ret;

	ret = fi_mr_reg(f->domain, buf, len,
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
#ifdef HAVE_LIBFABRIC
	{ .name = "fi_mr_reg", .open = fi_api_open, .reg = fi_api_reg,
	  .dereg = fi_api_dereg, .close = fi_api_close },
#else
	{ .name = "fi_mr_reg", .why = "not built: configure found no libfabric" },
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
	if (!strcmp(a->name, "fi_mr_reg"))
		return fi_strerror(-ret);
#endif
	(void)a;
	return strerror(-ret);
}

/*
 * Register r, check it is real (VmPin, THP backing, the API's round trip),
 * deregister and check VmPin is back.  Not timed.
 */
static int check_registration(struct api *a, struct region *r, enum backing b,
			      enum touch t)
{
	long pin0 = status_kb("VmPin"), pin1, pin2, huge;
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
	if (b == BACK_THP) {
		huge = anon_huge_kb(r->buf);
		note("%s thp %s %zu bytes: AnonHugePages %ld kB of a %zu kB mapping",
		     a->name, touch_name[t], r->len, huge, r->map_len / KIB);
		if (huge <= 0)
			note("WARNING: no transparent huge pages back the thp region (is THP enabled: /sys/kernel/mm/transparent_hugepage/enabled?)");
	}
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
		fprintf(stderr, "reg_bench: %s: VmPin %ld kB after deregistration, %ld before\n",
			a->name, pin2, pin0);
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

static int add_result(const struct api *a, enum backing b, enum touch t,
		      size_t size, unsigned long iters)
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
	*r = (struct result){ a->name, b, t, size, iters, median(iters) * 1e6 };
	printf("%-11s %-4s %-11s %10zu %7lu %12.2f %10.1f\n", r->api,
	       backing_name[b], touch_name[t], size, iters, r->usec,
	       size / r->usec);
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

static int measure_prefaulted(struct api *a, enum backing b, size_t size)
{
	struct region r;
	unsigned long iters = 0;
	double start, t0, t;
	int ret;

	ret = region_map(&r, size, b);
	if (ret) {
		fprintf(stderr, "reg_bench: mmap %zu bytes: %s\n", size, strerror(-ret));
		return 1;
	}
	region_fill(&r, 1);
	if (check_registration(a, &r, b, TOUCH_PREFAULTED)) {
		region_unmap(&r);
		return 1;
	}
	/* one more untimed pair: what the check left behind settles first */
	if (reg_pair(a, r.buf, size)) {
		region_unmap(&r);
		return 1;
	}
	start = now_s();
	do {
		t0 = now_s();
		ret = reg_pair(a, r.buf, size);
		t = now_s();
		if (ret) {
			region_unmap(&r);
			return 1;
		}
		samples[iters++] = t - t0;
	} while (iters < MAX_ITERS &&
		 (iters < min_iters(TOUCH_PREFAULTED) || t - start < opt.budget));
	region_unmap(&r);
	return add_result(a, b, TOUCH_PREFAULTED, size, iters);
}

static int measure_first_touch(struct api *a, enum backing b, size_t size)
{
	struct region r;
	unsigned long iters = 0;
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
		samples[iters] = now_s() - t0;
		region_unmap(&r);
		if (ret)
			return 1;
		iters++;
	} while (iters < MAX_ITERS &&
		 (iters < min_iters(TOUCH_FIRST) || now_s() - start < opt.budget));
	return add_result(a, b, TOUCH_FIRST, size, iters);
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
	fprintf(f, "# title: registration + deregistration time per size (libfpgadma, fi_mr_reg, ibv_reg_mr on rxe)\n");
	fprintf(f, "# usec: the median time of one register+deregister pair over iters\n");
	fprintf(f, "# budget: %.3f s per point\n", opt.budget);
	for (n = 0; n < nnotes; n++)
		fprintf(f, "# %s\n", notes[n]);
	fprintf(f, "api\tbacking\ttouch\tsize\titers\tusec\tMBps\n");
	for (i = 0; i < nresults; i++) {
		const struct result *r = &results[i];

		fprintf(f, "%s\t%s\t%s\t%zu\t%lu\t%.3f\t%.3f\n", r->api,
			backing_name[r->backing], touch_name[r->touch], r->size,
			r->iters, r->usec, r->size / r->usec);
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

static bool pick(bool *set, unsigned int n, const char *const *names, const char *list)
{
	unsigned int i;
	bool any = false;

	for (i = 0; i < n; i++) {
		char *hit = strstr(list, names[i]);
		size_t len = strlen(names[i]);

		set[i] = hit && (hit == list || hit[-1] == ',') &&
			 (hit[len] == 0 || hit[len] == ',');
		any |= set[i];
	}
	return any;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: reg_bench [-q] [-t SECONDS] [-m MIN] [-M MAX] [-a API,...]\n"
		"                 [-b 4k,thp] [-T prefaulted,first-touch] [-d INDEX]\n"
		"                 [-D VERBS_DEVICE] [-o FILE.tsv]\n"
		"  -a  libfpgadma,fi_mr_reg,ibv_reg_mr (default: all)\n"
		"  -m, -M  smallest and largest size (4K .. 256M; steps of 4)\n"
		"  -t  time budget of each point (default 0.5 s)\n"
		"  -q  quick: 4K, 1M, 16M at most, one iteration each\n"
		"  -d  /dev/fpgadma<INDEX> and fpgadma domain (default 0)\n"
		"  -D  verbs device for ibv_reg_mr (default: the first rxe*)\n"
		"  -o  also write the results as TSV\n");
}

int main(int argc, char **argv)
{
	const char *api_names[NAPIS];
	bool api_set[NAPIS];
	const char *api_list = NULL;
	unsigned int i, b, t, ready = 0;
	size_t size;
	int c, status = 0;

	for (i = 0; i < NAPIS; i++)
		api_names[i] = apis[i].name;
	while ((c = getopt(argc, argv, "qt:m:M:a:b:T:d:D:o:h")) != -1) {
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
		case 'o': opt.out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: goto bad;
		}
	}
	if (optind != argc || !opt.min_size || opt.max_size < opt.min_size ||
	    opt.budget < 0)
		goto bad;
	if (api_list && !pick(api_set, NAPIS, api_names, api_list))
		goto bad;
	for (i = 0; i < NAPIS; i++)
		apis[i].wanted = !api_list || api_set[i];
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
	printf("registration + deregistration (usec: median time of one pair; MBps = size / usec; budget %.2f s per point)\n",
	       opt.budget);
	for (i = 0; i < NAPIS; i++) {
		struct api *a = &apis[i];
		int ret;

		if (!a->wanted)
			continue;
		if (!a->open) {
			note("%s: skipped: %s", a->name, a->why);
			continue;
		}
		ret = a->open(a);
		if (ret == 0) {
			a->ready = true;
			ready++;
		} else if (ret == 77) {
			note("%s: skipped: %s", a->name, a->why);
		} else {
			fprintf(stderr, "reg_bench: %s: %s\n", a->name,
				a->why[0] ? a->why : strerror(-ret));
			status = 1;
		}
	}
	if (!ready) {
		if (status == 0)
			printf("SKIP: none of the registration APIs is there\n");
		return status ? status : 77;
	}
	printf("%-11s %-4s %-11s %10s %7s %12s %10s\n", "api", "back", "touch",
	       "size", "iters", "usec", "MBps");
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

					if (!a->ready)
						continue;
					status = t == TOUCH_FIRST ?
						measure_first_touch(a, b, size) :
						measure_prefaulted(a, b, size);
				}
			}
		}
	}
	for (i = 0; i < NAPIS; i++)
		if (apis[i].ready)
			apis[i].close(&apis[i]);
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
