/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fabtests/common.h: what the project's fabtests-style programs share.
 *
 * The programs use only libfabric's public API (and, for the FPGA,
 * rdma/fi_ext_fpgadma.h), so that they say what an application may rely
 * on, whichever provider runs them.  This file holds the boilerplate:
 * options, fi_getinfo hints, opening a fabric/domain/AV, endpoints with a
 * CQ, waiting for completions with a time limit, patterns, and the verdict.
 *
 * Verdict: exit status 0 pass, 77 skip (last line "SKIP: reason"), 1 fail.
 * A failed check prints "FAIL: ..." and the run goes on where that is safe
 * (ft_check, ft_error), or stops (ft_fatal).  Figures are plain lines.
 */
#ifndef FPGADMA_FABTESTS_COMMON_H
#define FPGADMA_FABTESTS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <rdma/fi_tagged.h>

#define FT_PASS 0
#define FT_FAIL 1
#define FT_SKIP 77

#define FT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FT_MAX(a, b) ((a) > (b) ? (a) : (b))
#define FT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define FT_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- options and verdict ---- */

struct ft_opts {
	const char *prov;	/* -p NAME (hints->fabric_attr->prov_name) */
	const char *prog;	/* program name for messages */
	unsigned int timeout_ms; /* one completion's time limit (-T), scaled */
	int verbose;		/* -v */
};
extern struct ft_opts ft_opts;

/*
 * Parse the common options (-p PROV, -T SECONDS, -v, -h) and the program's
 * own: for an option letter in extra_opts (getopt syntax) other() is called
 * with the letter and its argument; it returns 0, or -1 for a bad option.
 * The provider defaults to $FT_PROVIDER, then $FI_PROVIDER (libfabric
 * filters by the latter itself too).  Time limits are multiplied by
 * $FPGADMA_TEST_TIME_SCALE (the VM harness sets it).
 */
void ft_parse(int argc, char **argv, const char *extra_opts, const char *usage,
	      int (*other)(int opt, const char *arg));

/* The provider when neither -p nor the environment names one. */
void ft_default_prov(const char *prov);

void ft_log(const char *fmt, ...) FT_PRINTF(1, 2);
/* A failed check: print "FAIL: ..." and remember it. */
void ft_check_failed(const char *file, int line, const char *fmt, ...) FT_PRINTF(3, 4);
#define ft_error(...) ft_check_failed(__FILE__, __LINE__, __VA_ARGS__)
/* Stop the program: failed (1) or skipped (77). */
void ft_fatal_at(const char *file, int line, const char *fmt, ...)
	FT_PRINTF(3, 4) __attribute__((noreturn));
#define ft_fatal(...) ft_fatal_at(__FILE__, __LINE__, __VA_ARGS__)
void ft_skip(const char *fmt, ...) FT_PRINTF(1, 2) __attribute__((noreturn));
/* Failures so far. */
unsigned int ft_failures(void);
/* The exit status: prints "PASS: summary" or "FAIL: n checks failed". */
int ft_finish(const char *fmt, ...) FT_PRINTF(1, 2);

/* Check a condition, go on either way. */
#define ft_check(cond, ...) \
	do { if (!(cond)) ft_error(__VA_ARGS__); } while (0)
/* A libfabric call that must return 0 (or >= 0); stop if it does not. */
#define FT_CALL(call) \
	do { \
		long ft_ret_ = (long)(call); \
		if (ft_ret_ < 0) \
			ft_fatal("%s: %ld (%s)", #call, ft_ret_, \
				 fi_strerror((int)-ft_ret_)); \
	} while (0)

uint64_t ft_now_us(void);
/* Memory that must exist: stops the program when out of memory. */
void *ft_xmalloc(size_t len);
/* len bytes starting at byte 'offset' of a fresh page-aligned mapping. */
void *ft_alloc_at(size_t len, size_t offset, void **base, size_t *maplen);
void ft_unmap(void *base, size_t maplen);

/* ---- data patterns ---- */

/* Byte 'pos' of pattern 'seed' (pos: position in the destination). */
static inline uint8_t ft_pattern_byte(uint64_t seed, uint64_t pos)
{
	uint64_t x = (seed + pos / 8) * 0x9E3779B97F4A7C15ULL;

	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (pos % 8)));
}
void ft_fill(void *buf, size_t len, uint64_t seed, uint64_t pos);
/* Index of the first byte that differs from the pattern, or len. */
size_t ft_verify(const void *buf, size_t len, uint64_t seed, uint64_t pos);
/* ft_verify and report a mismatch as a failed check. true if it matched. */
bool ft_expect_pattern(const void *buf, size_t len, uint64_t seed, uint64_t pos,
		       const char *what);
/* Every byte is c? Report the first that is not. */
bool ft_expect_bytes(const void *buf, size_t len, uint8_t c, const char *what);

/* ---- fabric, domain, AV ---- */

/*
 * Hints for an RDM endpoint with these caps and mr_mode bits, for the
 * provider of -p (if any).  Threading FI_THREAD_DOMAIN (one thread per
 * program; mr_cache_mt asks FI_THREAD_SAFE instead); mode FI_CONTEXT | FI_CONTEXT2 (every operation's context is a
 * struct ft_op); FI_RX_CQ_DATA is supported (ft_post_rx_for_data).
 */
struct fi_info *ft_hints(uint64_t caps, uint64_t mr_mode);

struct ft_dom {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
};

/*
 * fi_getinfo with hints (which it frees) and open fabric, domain and an AV.
 * Returns 0, or -FI_ENODATA when no provider matches (the caller may skip:
 * the reason is in *why when why is not NULL); stops on other errors.
 */
int ft_open_dom(struct fi_info *hints, struct ft_dom *d, const char **why);
/* The same, skipping the program when nothing matches. */
void ft_open_dom_or_skip(struct fi_info *hints, struct ft_dom *d, const char *what);
/*
 * A second domain of src's fi_info (its own fabric, domain and AV), as
 * another process would open it.
 */
void ft_open_dom_like(const struct ft_dom *src, struct ft_dom *d);
void ft_close_dom(struct ft_dom *d);
/* One line on what was negotiated. */
void ft_describe(const struct ft_dom *d);

fi_addr_t ft_av_insert(struct ft_dom *d, const void *addr);

/* ---- completions ---- */

struct ft_comp {
	struct fi_cq_tagged_entry e;
	int err;		/* 0, or the positive FI_E* of an error entry */
	int prov_errno;
	size_t olen;
	char errstr[160];	/* fi_cq_strerror of an error entry */
};

struct ft_cq {
	struct fid_cq *cq;
	struct ft_comp *q;	/* completions read but not yet taken */
	size_t head, count, cap;
	const char *name;
};

/*
 * The context of every operation: libfabric may use ctx (FI_CONTEXT[2]
 * mode); the rest is ours.
 */
struct ft_op {
	struct fi_context2 ctx;
	const char *what;
	int id;
};

/* Read every open CQ (progress for every endpoint), keeping what arrives. */
void ft_progress(void);
/*
 * Wait up to ft_opts.timeout_ms for a completion on cq; 0 and *out, or
 * -FI_ETIMEDOUT.
 */
int ft_wait(struct ft_cq *cq, struct ft_comp *out);
/* Wait for the completion of op: it must be the next one on cq and carry no error. */
void ft_wait_op(struct ft_cq *cq, struct ft_op *op, struct ft_comp *out);
/* No completion arrives on cq within ms milliseconds (with progress). */
bool ft_no_comp(struct ft_cq *cq, unsigned int ms);

/* Retry a data-path call while it says -FI_EAGAIN (with progress); stop on a timeout. */
#define FT_POST(call) \
	({ \
		ssize_t ft_r_; \
		uint64_t ft_t0_ = ft_now_us(); \
		while ((ft_r_ = (call)) == -FI_EAGAIN) { \
			ft_progress(); \
			if (ft_now_us() - ft_t0_ > ft_opts.timeout_ms * 1000ULL) \
				ft_fatal("%s: -FI_EAGAIN for %u ms", #call, ft_opts.timeout_ms); \
		} \
		ft_r_; \
	})

/* ---- endpoints ---- */

struct ft_ep {
	struct ft_dom *dom;
	struct fid_ep *ep;
	struct ft_cq cq;	/* both directions */
	uint8_t name[256];	/* fi_getname */
	size_t namelen;
};

/*
 * An enabled endpoint of d with its CQ (bound for FI_TRANSMIT | FI_RECV).
 * The CQ has wait object wait_obj: FI_WAIT_NONE for ft_wait's polling, the
 * others for a program that sleeps on the CQ itself (fi_cq_sread, or poll()
 * on its FI_GETWAIT fd after fi_trywait).  ft_progress drains it all the
 * same, so such a program does not mix the two on one CQ.  min_multi_recv,
 * when not 0, is set with FI_OPT_MIN_MULTI_RECV before fi_enable (0 is
 * returned then, or the fi_setopt error with nothing open).
 */
int ft_open_ep_opt(struct ft_dom *d, struct ft_ep *e, const char *name,
		   enum fi_wait_obj wait_obj, size_t min_multi_recv);
static inline void ft_open_ep(struct ft_dom *d, struct ft_ep *e, const char *name)
{
	ft_open_ep_opt(d, e, name, FI_WAIT_NONE, 0);
}
static inline void ft_open_ep_wait(struct ft_dom *d, struct ft_ep *e, const char *name,
				   enum fi_wait_obj wait_obj)
{
	ft_open_ep_opt(d, e, name, wait_obj, 0);
}
void ft_close_ep(struct ft_ep *e);

/*
 * Two endpoints that talk to each other in one process: ep[0] in dom[0]
 * and ep[1] in dom[1] (the same fi_info: two domains, each with its own
 * fabric, as two processes would have), or both in dom[0] with one_domain.
 * peer[i] is the address of the other endpoint in ep[i]'s AV.
 */
struct ft_pair {
	struct ft_dom dom[2];
	struct ft_ep ep[2];
	fi_addr_t peer[2];
	bool one_domain;
};
/* 0, or -FI_ENODATA with *why (nothing matches the hints, which it frees). */
int ft_pair_open(struct ft_pair *p, struct fi_info *hints, bool one_domain,
		 size_t min_multi_recv, const char **why);
void ft_pair_close(struct ft_pair *p);
static inline struct ft_dom *ft_pair_dom(struct ft_pair *p, int i)
{
	return &p->dom[p->one_domain ? 0 : i];
}

/* ---- memory registration ---- */

/*
 * fi_mr_reg with what the negotiated mr_mode asks for: with FI_MR_ENDPOINT
 * the MR is bound to ep and enabled.  Returns 0 or a negative FI_E* code
 * (no MR then).
 */
int ft_mr_reg(struct ft_dom *d, struct ft_ep *ep, const void *buf, size_t len,
	      uint64_t access, uint64_t requested_key, struct fid_mr **mr);
/* The RMA address of byte 0 of an MR at buf (FI_MR_VIRT_ADDR: the address). */
uint64_t ft_rma_base(const struct ft_dom *d, const void *buf);
/* A key that is not requested_key of another MR (for providers without FI_MR_PROV_KEY). */
uint64_t ft_next_key(void);
/* Whether the negotiated mr_mode requires local descriptors. */
static inline bool ft_need_desc(const struct ft_dom *d)
{
	return d->info->domain_attr->mr_mode & FI_MR_LOCAL;
}

/*
 * Deviations from fi_msg(3)/fi_cq(3) of the providers of Debian's libfabric
 * 1.17 that the host tests run against, found by these programs (see the
 * table in common.c).  True when d's provider has the issue named id: the
 * caller then does not check that behaviour and a "KNOWN: ..." line says so.
 */
bool ft_known_issue(const struct ft_dom *d, const char *id);

/*
 * An operation that must fail: wait for its completion on cq, which must be
 * an error entry with a readable fi_cq_strerror (said in the log).  ret is
 * what posting returned (an error there fails the check too).
 */
bool ft_expect_error_comp(struct ft_cq *cq, struct ft_op *op, ssize_t ret);

/*
 * The FPGA of an fpgadma domain (rdma/fi_ext_fpgadma.h): its description,
 * after a check of the ops' size.  Skips the program when the domain's
 * provider has no FI_FPGADMA_DOMAIN_OPS_1.
 */
struct fi_fpgadma_fpga;
void ft_query_fpga(struct ft_dom *d, struct fi_fpgadma_fpga *fpga);

/*
 * On an fpgadma domain, its registration cache must have worked as a run
 * that reused and then changed memory says: with the cache on, hits and
 * invalidations; with it off, no hit and every registration uncached.  The
 * counters are logged, naming the domain as which.  Other providers: nothing.
 */
void ft_check_fpgadma_cache(struct ft_dom *d, const char *which);

/*
 * The FPGA's frame stream (fi_fpgadma_stream_word): byte pos of a stream of
 * frames of frame_size bytes (a multiple of 8).
 */
uint8_t ft_stream_byte(uint64_t frame_size, uint64_t pos);
/*
 * Where does buf stand in the stream?  A frame start within its first frame
 * (and at least 24 bytes after it) says: true and *pos, else false.
 */
bool ft_stream_find(const uint8_t *buf, size_t len, uint64_t frame_size, uint64_t *pos);
/* buf is the stream from pos on?  Report the first wrong byte as a failed check. */
bool ft_stream_expect(const uint8_t *buf, size_t len, uint64_t frame_size, uint64_t pos,
		      const char *what);

/* fi_close or stop. */
void ft_close_fid(struct fid *fid, const char *what);

/* A readable line for a libfabric return code. */
const char *ft_strerr(long ret);

#endif /* FPGADMA_FABTESTS_COMMON_H */
