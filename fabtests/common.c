// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fabtests/common.c: the boilerplate of the project's fabtests-style
 * programs (see common.h).  Only libfabric's public API.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fi_ext_fpgadma.h>

struct ft_opts ft_opts = {
	.timeout_ms = 10000,
};

static unsigned int failures;

/* ---- options and verdict ---- */

static void usage_exit(const char *usage, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-p PROVIDER] [-T SECONDS] [-v]%s%s\n"
		"  -p PROVIDER  fi_getinfo's prov_name (default: $FT_PROVIDER, $FI_PROVIDER, any)\n"
		"  -T SECONDS   time limit of one completion (default 10, times\n"
		"               $FPGADMA_TEST_TIME_SCALE)\n"
		"  -v           more output\n",
		ft_opts.prog, usage && *usage ? " " : "", usage ? usage : "");
	exit(status ? FT_FAIL : FT_PASS);
}

void ft_parse(int argc, char **argv, const char *extra_opts, const char *usage,
	      int (*other)(int opt, const char *arg))
{
	char optstring[64];
	const char *s;
	unsigned int scale = 1, secs = 10;
	int c;

	ft_opts.prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	snprintf(optstring, sizeof(optstring), "p:T:vh%s", extra_opts ? extra_opts : "");
	ft_opts.prov = getenv("FT_PROVIDER");
	if (!ft_opts.prov || !*ft_opts.prov)
		ft_opts.prov = getenv("FI_PROVIDER");
	if (ft_opts.prov && !*ft_opts.prov)
		ft_opts.prov = NULL;
	while ((c = getopt(argc, argv, optstring)) != -1) {
		switch (c) {
		case 'p':
			ft_opts.prov = *optarg ? optarg : NULL;
			break;
		case 'T':
			secs = (unsigned int)strtoul(optarg, NULL, 0);
			if (!secs)
				usage_exit(usage, 1);
			break;
		case 'v':
			ft_opts.verbose++;
			break;
		case 'h':
			usage_exit(usage, 0);
			break;
		default:
			if (c == '?' || !other || other(c, optarg))
				usage_exit(usage, 1);
		}
	}
	if (optind != argc)
		usage_exit(usage, 1);
	s = getenv("FPGADMA_TEST_TIME_SCALE");
	if (s && atoi(s) > 0)
		scale = (unsigned int)atoi(s);
	ft_opts.timeout_ms = secs * 1000 * scale;
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void ft_default_prov(const char *prov)
{
	if (!ft_opts.prov)
		ft_opts.prov = prov;
}

void ft_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void ft_check_failed(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%s:%d)\n", file, line);
	fflush(stdout);
}

void ft_fatal_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%s:%d)\n", file, line);
	if (failures)
		printf("FAIL: %u more checks failed before\n", failures);
	fflush(stdout);
	exit(FT_FAIL);
}

void ft_skip(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (failures) {
		printf("FAIL: %u checks failed before the skip\n", failures);
		exit(FT_FAIL);
	}
	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(FT_SKIP);
}

unsigned int ft_failures(void)
{
	return failures;
}

int ft_finish(const char *fmt, ...)
{
	va_list ap;

	if (failures) {
		printf("FAIL: %s: %u checks failed\n", ft_opts.prog, failures);
		return FT_FAIL;
	}
	printf("PASS: %s: ", ft_opts.prog);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return FT_PASS;
}

uint64_t ft_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void *ft_xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		ft_fatal("out of memory (%zu bytes)", len);
	return p;
}

void *ft_alloc_at(size_t len, size_t offset, void **base, size_t *maplen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (offset + len + page - 1) / page * page;
	void *p;

	if (!n)
		n = page;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ft_fatal("mmap of %zu bytes: %s", n, strerror(errno));
	*base = p;
	*maplen = n;
	return (char *)p + offset;
}

void ft_unmap(void *base, size_t maplen)
{
	if (base && munmap(base, maplen))
		ft_fatal("munmap: %s", strerror(errno));
}

/* ---- data patterns ---- */

void ft_fill(void *buf, size_t len, uint64_t seed, uint64_t pos)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = ft_pattern_byte(seed, pos + i);
}

size_t ft_verify(const void *buf, size_t len, uint64_t seed, uint64_t pos)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ft_pattern_byte(seed, pos + i))
			return i;
	return len;
}

bool ft_expect_pattern(const void *buf, size_t len, uint64_t seed, uint64_t pos,
		       const char *what)
{
	size_t i = ft_verify(buf, len, seed, pos);

	if (i == len)
		return true;
	ft_error("%s: byte %zu of %zu is 0x%02x, expected 0x%02x", what, i, len,
		 ((const uint8_t *)buf)[i], ft_pattern_byte(seed, pos + i));
	return false;
}

bool ft_expect_bytes(const void *buf, size_t len, uint8_t c, const char *what)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != c) {
			ft_error("%s: byte %zu of %zu is 0x%02x, expected 0x%02x (untouched)",
				 what, i, len, p[i], c);
			return false;
		}
	}
	return true;
}

const char *ft_strerr(long ret)
{
	return fi_strerror((int)(ret < 0 ? -ret : ret));
}

/* ---- known deviations of other providers ---- */

static const struct {
	const char *prov;	/* fabric_attr->prov_name */
	const char *id;
	const char *what;
} known_issues[] = {
	/* Each is said once per run. */
	{ "tcp", "trunc-olen", "a truncated message reports olen 0 (not checked)" },
	{ "tcp", "trunc-data", "a truncated message places no data (not checked)" },
	{ "tcp", "trunc-ep", "after a truncated message the connection is gone: "
	  "later messages between the two endpoints never arrive (not tried)" },
	{ "tcp;ofi_rxm", "trunc-olen", "a truncated message reports olen 0 (not checked)" },
	{ "tcp;ofi_rxm", "trunc-data", "a truncated message places no data (not checked)" },
	{ "tcp;ofi_rxm", "trunc-ep", "after a truncated message the connection is gone: "
	  "later messages between the two endpoints never arrive (not tried)" },
	{ "shm", "trunc-err-sign", "the error entry of a truncated message has err "
	  "-FI_ETRUNC, not FI_ETRUNC (accepted)" },
	{ "shm", "rma-errors", "RMA with a wrong key, past an MR's end or against its rights "
	  "succeeds and moves the data (keys and bounds are not checked; not tried)" },
	{ "tcp;ofi_rxm", "rma-errors", "a bad RMA (wrong key, past an MR's end, against its "
	  "rights) breaks the connection instead of completing with an error (not tried)" },
	{ "tcp", "rma-errors", "a bad RMA (wrong key, past an MR's end, against its "
	  "rights) breaks the connection instead of completing with an error (not tried)" },
	{ "shm", "trunc-olen", "a truncated message reports olen 0 (not checked)" },
	{ "shm", "setopt-before-enable", "fi_setopt(FI_OPT_MIN_MULTI_RECV) before fi_enable "
	  "crashes (SIGSEGV in libfabric): set after fi_enable" },
	{ "tcp;ofi_rxm", "poll-cntr-add", "fi_poll returns a counter after fi_cntr_add, "
	  "which fi_poll(3) says is a new baseline (not checked)" },
	{ "tcp", "poll-cntr-add", "fi_poll returns a counter after fi_cntr_add, "
	  "which fi_poll(3) says is a new baseline (not checked)" },
	{ "udp;ofi_rxd", "trunc", "a message longer than its receive completes without "
	  "FI_ETRUNC (not tried)" },
	{ "sockets", "shared-av-ro-insert", "fi_av_insert on an AV opened with FI_READ "
	  "(read-only, fi_av(3)) looks the addresses up instead of failing: it returns "
	  "how many it found (not checked)" },
	{ "tcp;ofi_rxm", "wait-close-busy", "fi_close of a wait set with members "
	  "succeeds instead of -FI_EBUSY, leaving them with a freed set (not tried)" },
	{ "sockets", "wait-close-busy", "fi_close of a wait set with members "
	  "succeeds instead of -FI_EBUSY, leaving them with a freed set (not tried)" },
	{ "sockets", "wait-getwaitobj", "fi_control(FI_GETWAITOBJ) of a wait set "
	  "fails with -FI_EINVAL (not checked)" },
	{ "sockets", "cq-wait-set-null", "fi_cq_open with FI_WAIT_SET and no wait set "
	  "crashes (SIGSEGV in libfabric) instead of -FI_EINVAL (not tried)" },
};

bool ft_known_issue(const struct ft_dom *d, const char *id)
{
	static bool said[FT_ARRAY_SIZE(known_issues)];
	const char *prov = d->info->fabric_attr->prov_name;
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(known_issues); i++) {
		if (!strcmp(prov, known_issues[i].prov) && !strcmp(id, known_issues[i].id)) {
			if (said[i])
				return true;
			said[i] = true;
			ft_log("KNOWN: provider %s (libfabric %u.%u): %s", prov,
			       FI_MAJOR(fi_version()), FI_MINOR(fi_version()), known_issues[i].what);
			return true;
		}
	}
	return false;
}

/* ---- fabric, domain, AV ---- */

struct fi_info *ft_hints(uint64_t caps, uint64_t mr_mode)
{
	struct fi_info *hints = fi_allocinfo();

	if (!hints)
		ft_fatal("fi_allocinfo failed");
	hints->caps = caps;
	hints->mode = FI_CONTEXT | FI_CONTEXT2 | FI_RX_CQ_DATA;
	hints->ep_attr->type = FI_EP_RDM;
	hints->domain_attr->mr_mode = (int)mr_mode;
	hints->domain_attr->threading = FI_THREAD_DOMAIN;
	if (ft_opts.prov) {
		hints->fabric_attr->prov_name = strdup(ft_opts.prov);
		if (!hints->fabric_attr->prov_name)
			ft_fatal("out of memory");
	}
	return hints;
}

static void open_dom_info(struct ft_dom *d)
{
	struct fi_av_attr av_attr = {
		.type = FI_AV_UNSPEC,
		.count = 64,
	};

	FT_CALL(fi_fabric(d->info->fabric_attr, &d->fabric, NULL));
	FT_CALL(fi_domain(d->fabric, d->info, &d->domain, NULL));
	FT_CALL(fi_av_open(d->domain, &av_attr, &d->av, NULL));
}

int ft_open_dom(struct fi_info *hints, struct ft_dom *d, const char **why)
{
	int ret;

	memset(d, 0, sizeof(*d));
	ret = fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), NULL, NULL, 0,
			 hints, &d->info);
	fi_freeinfo(hints);
	if (ret == -FI_ENODATA) {
		if (why)
			*why = "fi_getinfo found no match";
		return ret;
	}
	if (ret)
		ft_fatal("fi_getinfo: %d (%s)", ret, fi_strerror(-ret));
	open_dom_info(d);
	return 0;
}

void ft_open_dom_like(const struct ft_dom *src, struct ft_dom *d)
{
	memset(d, 0, sizeof(*d));
	d->info = fi_dupinfo(src->info);
	if (!d->info)
		ft_fatal("fi_dupinfo failed");
	open_dom_info(d);
}

int ft_pair_open(struct ft_pair *p, struct fi_info *hints, bool one_domain,
		 size_t min_multi_recv, const char **why)
{
	int ret, i;

	memset(p, 0, sizeof(*p));
	p->one_domain = one_domain;
	ret = ft_open_dom(hints, &p->dom[0], why);
	if (ret)
		return ret;
	if (!one_domain) {
		p->dom[1].info = fi_dupinfo(p->dom[0].info);
		if (!p->dom[1].info)
			ft_fatal("fi_dupinfo failed");
		open_dom_info(&p->dom[1]);
	}
	for (i = 0; i < 2; i++) {
		ret = ft_open_ep_opt(ft_pair_dom(p, i), &p->ep[i], i ? "ep1" : "ep0",
				     FI_WAIT_NONE, min_multi_recv);
		if (ret) {
			if (why)
				*why = "FI_OPT_MIN_MULTI_RECV not supported";
			if (i)
				ft_close_ep(&p->ep[0]);
			ft_close_dom(&p->dom[1]);
			ft_close_dom(&p->dom[0]);
			return -FI_ENODATA;
		}
	}
	p->peer[0] = ft_av_insert(ft_pair_dom(p, 0), p->ep[1].name);
	p->peer[1] = ft_av_insert(ft_pair_dom(p, 1), p->ep[0].name);
	return 0;
}

void ft_pair_close(struct ft_pair *p)
{
	ft_close_ep(&p->ep[1]);
	ft_close_ep(&p->ep[0]);
	ft_close_dom(&p->dom[1]);
	ft_close_dom(&p->dom[0]);
}

void ft_open_dom_or_skip(struct fi_info *hints, struct ft_dom *d, const char *what)
{
	const char *why = NULL;

	if (ft_open_dom(hints, d, &why))
		ft_skip("provider %s: %s for %s", ft_opts.prov ? ft_opts.prov : "(any)",
			why, what);
}

void ft_close_fid(struct fid *fid, const char *what)
{
	int ret;

	if (!fid)
		return;
	ret = fi_close(fid);
	if (ret)
		ft_fatal("fi_close(%s): %d (%s)", what, ret, fi_strerror(-ret));
}

void ft_close_dom(struct ft_dom *d)
{
	if (d->av)
		ft_close_fid(&d->av->fid, "av");
	if (d->domain)
		ft_close_fid(&d->domain->fid, "domain");
	if (d->fabric)
		ft_close_fid(&d->fabric->fid, "fabric");
	if (d->info)
		fi_freeinfo(d->info);
	memset(d, 0, sizeof(*d));
}

void ft_describe(const struct ft_dom *d)
{
	const struct fi_info *i = d->info;
	char mr_mode[256];

	snprintf(mr_mode, sizeof(mr_mode), "%s",
		 fi_tostr(&i->domain_attr->mr_mode, FI_TYPE_MR_MODE));
	ft_log("provider %s %u.%u, fabric %s, domain %s, mr_mode [%s], "
	       "max_msg_size %zu, inject %zu, iov %zu/%zu, cq_data %zu",
	       i->fabric_attr->prov_name, FI_MAJOR(i->fabric_attr->prov_version),
	       FI_MINOR(i->fabric_attr->prov_version), i->fabric_attr->name,
	       i->domain_attr->name, mr_mode, i->ep_attr->max_msg_size,
	       i->tx_attr->inject_size, i->tx_attr->iov_limit, i->tx_attr->rma_iov_limit,
	       i->domain_attr->cq_data_size);
}

fi_addr_t ft_av_insert(struct ft_dom *d, const void *addr)
{
	fi_addr_t fa = FI_ADDR_NOTAVAIL;
	int ret = fi_av_insert(d->av, addr, 1, &fa, 0, NULL);

	if (ret != 1)
		ft_fatal("fi_av_insert: %d (%s)", ret, ret < 0 ? fi_strerror(-ret) : "not 1");
	return fa;
}

/* ---- completions ---- */

static struct ft_cq *open_cqs[16];

static void cq_push(struct ft_cq *cq, const struct ft_comp *c)
{
	if (cq->count == cq->cap) {
		size_t ncap = cq->cap ? cq->cap * 2 : 64, i;
		struct ft_comp *nq = ft_xmalloc(ncap * sizeof(*nq));

		for (i = 0; i < cq->count; i++)
			nq[i] = cq->q[(cq->head + i) % cq->cap];
		free(cq->q);
		cq->q = nq;
		cq->cap = ncap;
		cq->head = 0;
	}
	cq->q[(cq->head + cq->count) % cq->cap] = *c;
	cq->count++;
}

static void cq_drain(struct ft_cq *cq)
{
	struct fi_cq_tagged_entry ents[16];
	struct ft_comp c;
	ssize_t ret, i;

	for (;;) {
		ret = fi_cq_read(cq->cq, ents, FT_ARRAY_SIZE(ents));
		if (ret > 0) {
			for (i = 0; i < ret; i++) {
				memset(&c, 0, sizeof(c));
				c.e = ents[i];
				cq_push(cq, &c);
			}
			continue;
		}
		if (ret == -FI_EAGAIN)
			return;
		if (ret == -FI_EAVAIL) {
			struct fi_cq_err_entry err;
			const char *s;

			memset(&err, 0, sizeof(err));
			ret = fi_cq_readerr(cq->cq, &err, 0);
			if (ret != 1)
				ft_fatal("%s: fi_cq_readerr after -FI_EAVAIL: %zd", cq->name, ret);
			memset(&c, 0, sizeof(c));
			c.e.op_context = err.op_context;
			c.e.flags = err.flags;
			c.e.len = err.len;
			c.e.buf = err.buf;
			c.e.data = err.data;
			c.e.tag = err.tag;
			c.err = err.err;
			c.prov_errno = err.prov_errno;
			c.olen = err.olen;
			s = fi_cq_strerror(cq->cq, err.prov_errno, err.err_data, NULL, 0);
			snprintf(c.errstr, sizeof(c.errstr), "%s", s ? s : "(null)");
			cq_push(cq, &c);
			continue;
		}
		ft_fatal("%s: fi_cq_read: %zd (%s)", cq->name, ret, ft_strerr(ret));
	}
}

void ft_progress(void)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(open_cqs); i++)
		if (open_cqs[i])
			cq_drain(open_cqs[i]);
}

int ft_wait(struct ft_cq *cq, struct ft_comp *out)
{
	uint64_t t0 = ft_now_us();

	for (;;) {
		ft_progress();
		if (cq->count) {
			*out = cq->q[cq->head];
			cq->head = (cq->head + 1) % cq->cap;
			cq->count--;
			return 0;
		}
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			return -FI_ETIMEDOUT;
		sched_yield();
	}
}

void ft_wait_op(struct ft_cq *cq, struct ft_op *op, struct ft_comp *out)
{
	struct ft_comp c;

	if (ft_wait(cq, &c))
		ft_fatal("%s: no completion for %s within %u ms", cq->name, op->what,
			 ft_opts.timeout_ms);
	if (c.err)
		ft_fatal("%s: %s completed with error %d (%s), prov_errno %d: %s", cq->name,
			 op->what, c.err, fi_strerror(c.err), c.prov_errno, c.errstr);
	if (c.e.op_context != op)
		ft_fatal("%s: completion for context %p, expected %s (%p)", cq->name,
			 c.e.op_context, op->what, (void *)op);
	if (out)
		*out = c;
}

bool ft_expect_error_comp(struct ft_cq *cq, struct ft_op *op, ssize_t ret)
{
	struct ft_comp c;
	const char *s;

	if (ret) {
		ft_error("%s: posting returned %zd (%s); expected an error completion", op->what,
			 ret, ft_strerr(ret));
		return false;
	}
	if (ft_wait(cq, &c))
		ft_fatal("%s: no completion within %u ms", op->what, ft_opts.timeout_ms);
	if (c.e.op_context != op) {
		ft_error("%s: completion of another operation (%p)", op->what, c.e.op_context);
		return false;
	}
	if (c.err <= 0) {
		ft_error("%s: completed %s, expected an error", op->what,
			 c.err ? "with a negative err" : "successfully");
		return false;
	}
	for (s = c.errstr; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			break;
	if (!c.errstr[0] || *s) {
		ft_error("%s: fi_cq_strerror gave an unreadable string", op->what);
		return false;
	}
	ft_log("%s: error completion %d (%s), prov_errno %d: \"%s\"", op->what, c.err,
	       fi_strerror(c.err), c.prov_errno, c.errstr);
	return true;
}

bool ft_no_comp(struct ft_cq *cq, unsigned int ms)
{
	uint64_t t0 = ft_now_us();

	do {
		ft_progress();
		if (cq->count)
			return false;
		sched_yield();
	} while (ft_now_us() - t0 < ms * 1000ULL);
	return true;
}

/* ---- endpoints ---- */

int ft_open_ep_opt(struct ft_dom *d, struct ft_ep *e, const char *name,
		   enum fi_wait_obj wait_obj, size_t min_multi_recv)
{
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_TAGGED,
		.wait_obj = wait_obj,
	};
	size_t i;
	bool late_opts;
	int ret;

	memset(e, 0, sizeof(*e));
	e->dom = d;
	e->cq.name = name;
	FT_CALL(fi_cq_open(d->domain, &cq_attr, &e->cq.cq, NULL));
	FT_CALL(fi_endpoint(d->domain, d->info, &e->ep, NULL));
	FT_CALL(fi_ep_bind(e->ep, &d->av->fid, 0));
	FT_CALL(fi_ep_bind(e->ep, &e->cq.cq->fid, FI_TRANSMIT | FI_RECV));
	/*
	 * Options go before fi_enable, except where a provider cannot take
	 * them there (known issue "setopt-before-enable").
	 */
	late_opts = min_multi_recv && ft_known_issue(d, "setopt-before-enable");
	if (min_multi_recv && !late_opts) {
		ret = fi_setopt(&e->ep->fid, FI_OPT_ENDPOINT, FI_OPT_MIN_MULTI_RECV,
				&min_multi_recv, sizeof(min_multi_recv));
		if (ret) {
			ft_close_ep(e);
			return ret;
		}
	}
	FT_CALL(fi_enable(e->ep));
	if (late_opts) {
		ret = fi_setopt(&e->ep->fid, FI_OPT_ENDPOINT, FI_OPT_MIN_MULTI_RECV,
				&min_multi_recv, sizeof(min_multi_recv));
		if (ret) {
			ft_close_ep(e);
			return ret;
		}
	}
	e->namelen = sizeof(e->name);
	FT_CALL(fi_getname(&e->ep->fid, e->name, &e->namelen));
	for (i = 0; i < FT_ARRAY_SIZE(open_cqs); i++) {
		if (!open_cqs[i]) {
			open_cqs[i] = &e->cq;
			return 0;
		}
	}
	ft_fatal("more than %zu endpoints", FT_ARRAY_SIZE(open_cqs));
}

void ft_close_ep(struct ft_ep *e)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(open_cqs); i++)
		if (open_cqs[i] == &e->cq)
			open_cqs[i] = NULL;
	if (e->ep)
		ft_close_fid(&e->ep->fid, "endpoint");
	if (e->cq.cq)
		ft_close_fid(&e->cq.cq->fid, "cq");
	free(e->cq.q);
	memset(e, 0, sizeof(*e));
}

/* ---- memory registration ---- */

uint64_t ft_next_key(void)
{
	static uint64_t key = 0x1000;

	return key++;
}

int ft_mr_reg(struct ft_dom *d, struct ft_ep *ep, const void *buf, size_t len,
	      uint64_t access, uint64_t requested_key, struct fid_mr **mr)
{
	uint64_t mode = d->info->domain_attr->mr_mode;
	int ret;

	*mr = NULL;
	if (!requested_key && !(mode & FI_MR_PROV_KEY))
		requested_key = ft_next_key();
	ret = fi_mr_reg(d->domain, buf, len, access, 0, requested_key, 0, mr, NULL);
	if (ret) {
		*mr = NULL;
		return ret;
	}
	if (mode & FI_MR_ENDPOINT) {
		if (!ep)
			ft_fatal("FI_MR_ENDPOINT: an MR needs an endpoint here");
		ret = fi_mr_bind(*mr, &ep->ep->fid, 0);
		if (!ret)
			ret = fi_mr_enable(*mr);
		if (ret) {
			fi_close(&(*mr)->fid);
			*mr = NULL;
		}
	}
	return ret;
}

uint64_t ft_rma_base(const struct ft_dom *d, const void *buf)
{
	return d->info->domain_attr->mr_mode & FI_MR_VIRT_ADDR ? (uint64_t)(uintptr_t)buf : 0;
}

/* ---- the FPGA (fpgadma provider extension) ---- */

void ft_query_fpga(struct ft_dom *d, struct fi_fpgadma_fpga *fpga)
{
	struct fi_fpgadma_ops_domain *ops = NULL;
	int ret;

	ret = fi_open_ops(&d->domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL);
	if (ret)
		ft_skip("provider %s: no \"%s\" (fi_open_ops: %s)", d->info->fabric_attr->prov_name,
			FI_FPGADMA_DOMAIN_OPS_1, fi_strerror(-ret));
	if (!ops || ops->size < sizeof(*ops) || !ops->query_fpga)
		ft_fatal("fi_open_ops(%s): ops of size %zu, expected at least %zu",
			 FI_FPGADMA_DOMAIN_OPS_1, ops ? ops->size : 0, sizeof(*ops));
	memset(fpga, 0xff, sizeof(*fpga));
	ret = ops->query_fpga(d->domain, fpga);
	if (ret)
		ft_fatal("query_fpga: %d (%s)", ret, fi_strerror(-ret));
	if (!fpga->addrlen || fpga->addrlen > sizeof(fpga->addr))
		ft_fatal("query_fpga: addrlen %zu", fpga->addrlen);
	ft_log("FPGA of domain %s: /dev/fpgadma%u, engine %u, memory %" PRIu64 " bytes at %#"
	       PRIx64 " (key %#" PRIx64 "), frame %" PRIu64 " bytes (stream key %#" PRIx64 ")",
	       d->info->domain_attr->name, fpga->dev_index, fpga->engine, fpga->mem_size,
	       fpga->mem_base, fpga->mem_key, fpga->frame_size, fpga->stream_key);
}

/* ---- the FPGA's frame stream ---- */

uint8_t ft_stream_byte(uint64_t frame_size, uint64_t pos)
{
	uint64_t w = pos / 8, wpf = frame_size / 8;

	return (uint8_t)(fi_fpgadma_stream_word(w / wpf, w % wpf) >> (8 * (pos % 8)));
}

bool ft_stream_expect(const uint8_t *buf, size_t len, uint64_t frame_size, uint64_t pos,
		      const char *what)
{
	uint64_t wpf = frame_size / 8, word = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t g = pos + i;

		/* One stream word per 8 bytes: long reads are checked at memory speed. */
		if (!i || g % 8 == 0)
			word = fi_fpgadma_stream_word(g / 8 / wpf, g / 8 % wpf);
		if (buf[i] != (uint8_t)(word >> (8 * (g % 8)))) {
			ft_error("%s: byte %zu of %zu (stream offset %" PRIu64 ", frame %" PRIu64
				 ", word %" PRIu64 ") is 0x%02x, expected 0x%02x", what, i, len, g,
				 g / frame_size, g % frame_size / 8, buf[i],
				 ft_stream_byte(frame_size, g));
			return false;
		}
	}
	return true;
}

bool ft_stream_find(const uint8_t *buf, size_t len, uint64_t frame_size, uint64_t *pos)
{
	size_t k, m, b;

	for (k = 0; k < frame_size && k + 24 <= len; k++) {
		uint64_t n = 0;

		for (b = 8; b-- > 0;)
			n = n << 8 | buf[k + b];
		if (n > UINT64_MAX / frame_size - 1 || n * frame_size < k)
			continue;
		m = FT_MIN(len - k, (size_t)64);
		for (b = 0; b < m; b++)
			if (buf[k + b] != ft_stream_byte(frame_size, n * frame_size + b))
				break;
		if (b == m) {
			*pos = n * frame_size - k;
			return true;
		}
	}
	return false;
}

void ft_check_fpgadma_cache(struct ft_dom *d, const char *which)
{
	struct fi_fpgadma_ops_domain *ops = NULL;
	struct fi_fpgadma_mr_cache_stats st;

	if (strcmp(d->info->fabric_attr->prov_name, "fpgadma"))
		return;
	if (fi_open_ops(&d->domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL) ||
	    !ops || ops->size < FI_FPGADMA_OPS_DOMAIN_HAS(mr_cache_stats)) {
		ft_check(0, "fpgadma: no mr_cache_stats in the domain's ops");
		return;
	}
	memset(&st, 0, sizeof(st));
	ft_check(!ops->mr_cache_stats(d->domain, &st), "mr_cache_stats failed");
	ft_log("fpgadma registration cache (%s): %s; %" PRIu64 " hits, %" PRIu64
	       " misses, %" PRIu64 " invalidated, %" PRIu64 " evicted, %" PRIu64
	       " uncached; %" PRIu64 " entries of %" PRIu64 " bytes left", which,
	       st.enabled ? "on" : "off", st.hits, st.misses, st.invalidated, st.evicted,
	       st.uncached, st.entries, st.bytes);
	if (st.enabled) {
		ft_check(st.hits > 0, "the cache is on but nothing hit it");
		ft_check(st.invalidated > 0, "memory changed under cached ranges, none invalidated");
	} else {
		ft_check(st.hits == 0 && st.uncached > 0,
			 "the cache is off: %" PRIu64 " hits, %" PRIu64 " uncached", st.hits,
			 st.uncached);
	}
}
