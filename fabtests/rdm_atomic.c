// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rdm_atomic: atomics (fi_atomic(3)) between RDM endpoints, against any
 * provider that offers FI_ATOMIC.
 *
 *   valid      every operation x datatype of each family (fi_atomicvalid,
 *              fi_fetch_atomicvalid, fi_compare_atomicvalid) and
 *              fi_query_atomic agreeing with them; the table is printed.
 *              On fpgadma also: exactly the kernel's table
 *              (fpgadma_atomic_op_valid), 512 bytes of elements a call,
 *              FI_ATOMIC in caps and FI_ORDER_ATOMIC_* in msg_order
 *   ops        every valid pair, performed by ep0 on an MR of ep1 (two
 *              domains in one process, -s: one): the target's elements
 *              and the fetched ones checked bit for bit against the same
 *              arithmetic done here (integers exactly; floating point in
 *              the type's precision with volatile temporaries, values
 *              chosen so that every result is exact; complex products as
 *              (ac - bd) + (ad + bc)i), the bytes around untouched; 1, 3,
 *              7 and (SUM, CSWAP) 512 bytes of elements, across a page
 *              boundary, through the plain, v (two pieces), msg and
 *              inject calls, with and without desc
 *   fpga       (fpgadma) the same on the FPGA's memory: its fi_addr, key
 *              mem_key, address mem_base + offset
 *   order      with FI_ORDER_ATOMIC_RAW/WAW/WAR: a write, sums and a fetch
 *              posted at once see each other in order
 *   counters   the initiator's write and read counters, and with
 *              FI_RMA_EVENT the target's remote write and read counters
 *              count base atomics and fetches/compares (fi_endpoint(3))
 *   errors     a wrong key (and on fpgadma: a misaligned target, the
 *              FPGA's memory out of range or under a wrong key) completes
 *              with an error and changes nothing, the endpoints keep
 *              working; on fpgadma also the calls' own refusals (count 0
 *              or above the maximum, an operation of another family)
 *   contend    -P processes (forked before any libfabric call, default 3)
 *              each with its own domain hammer three uint64 of ep1's MR:
 *              FI_SUM adds (the total exact), fetch-and-add tickets (each
 *              number handed out once) and FI_CSWAP increment loops (each
 *              increment made once, the final count exact)
 *
 * Provider: -p, $FI_PROVIDER, else any.  Skips when nothing offers
 * FI_ATOMIC on FI_EP_RDM, saying so.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rdma/fi_atomic.h>
#include <rdma/fi_ext_fpgadma.h>

#define PAGE	4096
#define TLEN	(4 * PAGE)	/* the target MR */
#define SLOT	(2 * PAGE)	/* each local buffer: operand, compare, result */
#define GUARD	64		/* bytes checked around a range */
#define TBYTE	0xa5		/* target memory nobody wrote */
#define LBYTE	0x3c		/* local memory nobody wrote */
#define MAX_BYTES 512		/* the largest call made (fpgadma's maximum) */
#define NTYPES	16		/* FI_INT8 .. FI_UINT128 */

/* FT_POST of a call that must be taken. */
#define POSTOK(call) \
	do { \
		ssize_t r_ = FT_POST(call); \
		if (r_) \
			ft_fatal("%s: %zd (%s)", #call, r_, ft_strerr(r_)); \
	} while (0)

static bool one_domain, no_fpga, with_mr_local;
static int nprocs = 3;
static unsigned int n_sum = 2000, n_ticket = 400, n_cas = 300;
static uint64_t ops_done, elems_checked, errors_seen;
static bool is_fpgadma;
static char prov_name[64];	/* the provider's name, for known() */

/*
 * Deviations of the providers of Debian's libfabric 1.17 that the host
 * runs this program against (fabtests/host-providers.sh), found by it; as
 * ft_known_issue() of common.c, said once, then not checked.
 */
static const struct {
	const char *prov, *id, *what;
} known_issues[] = {
	{ "tcp;ofi_rxm", "atomic-err-extra", "an atomic the target refuses (a wrong key) "
	  "completes with its error, then with two more error completions without a "
	  "context (taken and not counted)" },
	{ "sockets", "fetch-flags", "fetching and comparing atomics complete with "
	  "FI_ATOMIC | FI_WRITE (rxm and fpgadma: FI_ATOMIC | FI_READ; fi_cq(3) does not "
	  "say which): either is taken" },
	{ "sockets", "remote-read-cntr", "fetching and comparing atomics count on the "
	  "target's FI_REMOTE_WRITE counter, not FI_REMOTE_READ (fi_endpoint(3)): only "
	  "the sum of both is checked" },
};

static bool known(const char *id)
{
	static bool said[FT_ARRAY_SIZE(known_issues)];
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(known_issues); i++) {
		if (strcmp(prov_name, known_issues[i].prov) || strcmp(id, known_issues[i].id))
			continue;
		if (!said[i])
			ft_log("KNOWN: provider %s (libfabric %u.%u): %s", prov_name,
			       FI_MAJOR(fi_version()), FI_MINOR(fi_version()),
			       known_issues[i].what);
		said[i] = true;
		return true;
	}
	return false;
}

static int opt(int c, const char *arg)
{
	switch (c) {
	case 's':
		one_domain = true;
		return 0;
	case 'F':
		no_fpga = true;
		return 0;
	case 'L':
		with_mr_local = true;
		return 0;
	case 'P':
		nprocs = atoi(arg);
		return nprocs < 0 ? -1 : 0;
	case 'N':
		n_sum = (unsigned int)strtoul(arg, NULL, 0);
		n_ticket = n_sum / 5 ? n_sum / 5 : 1;
		n_cas = n_sum / 7 ? n_sum / 7 : 1;
		return 0;
	}
	return -1;
}

/* ---- datatypes and the arithmetic of fi_atomic(3) ---- */

enum cls { C_INT, C_UINT, C_FLT, C_CPLX };

struct dtype {
	enum fi_datatype dt;
	const char *name;
	size_t size;		/* bytes of an element */
	size_t sig;		/* bytes of a component that hold its value */
	enum cls cls;
};

static const struct dtype dtypes[NTYPES] = {
	{ FI_INT8, "int8", 1, 1, C_INT },
	{ FI_UINT8, "uint8", 1, 1, C_UINT },
	{ FI_INT16, "int16", 2, 2, C_INT },
	{ FI_UINT16, "uint16", 2, 2, C_UINT },
	{ FI_INT32, "int32", 4, 4, C_INT },
	{ FI_UINT32, "uint32", 4, 4, C_UINT },
	{ FI_INT64, "int64", 8, 8, C_INT },
	{ FI_UINT64, "uint64", 8, 8, C_UINT },
	{ FI_FLOAT, "float", sizeof(float), sizeof(float), C_FLT },
	{ FI_DOUBLE, "double", sizeof(double), sizeof(double), C_FLT },
	{ FI_FLOAT_COMPLEX, "float_complex", 2 * sizeof(float), sizeof(float), C_CPLX },
	{ FI_DOUBLE_COMPLEX, "double_complex", 2 * sizeof(double), sizeof(double), C_CPLX },
	/* x86's long double: 10 bytes of value in 16 */
	{ FI_LONG_DOUBLE, "long_double", sizeof(long double), 10, C_FLT },
	{ FI_LONG_DOUBLE_COMPLEX, "long_double_complex", 2 * sizeof(long double), 10, C_CPLX },
	{ FI_INT128, "int128", 16, 16, C_INT },
	{ FI_UINT128, "uint128", 16, 16, C_UINT },
};

static const char *const op_names[FI_ATOMIC_OP_LAST] = {
	"MIN", "MAX", "SUM", "PROD", "LOR", "LAND", "BOR", "BAND", "LXOR", "BXOR",
	"READ", "WRITE", "CSWAP", "CSWAP_NE", "CSWAP_LE", "CSWAP_LT", "CSWAP_GE",
	"CSWAP_GT", "MSWAP",
};

/* The three families (fi_atomic(3)): base, fetch, compare. */
enum kind { K_BASE, K_FETCH, K_COMPARE, NKINDS };
static const char *const kind_names[NKINDS] = { "fi_atomic", "fi_fetch_atomic",
						 "fi_compare_atomic" };

static bool op_in_kind(enum fi_op op, enum kind k)
{
	switch (k) {
	case K_BASE:
		return op <= FI_BXOR || op == FI_ATOMIC_WRITE;
	case K_FETCH:
		return op <= FI_ATOMIC_WRITE;
	default:
		return op >= FI_CSWAP && op <= FI_MSWAP;
	}
}

static bool op_uses_operand(enum fi_op op)
{
	return op != FI_ATOMIC_READ;
}

static bool op_uses_compare(enum fi_op op)
{
	return op >= FI_CSWAP && op <= FI_MSWAP;
}

typedef __int128 i128;
typedef unsigned __int128 u128;

/*
 * Integers: wrap-around arithmetic (done unsigned, in W), comparisons in
 * the type's signedness, logical results 1 or 0.
 */
#define INT_APPLY(T, W) do {							\
		T tv, ov = 0, cv = 0, rv;					\
		memcpy(&tv, t, sizeof(T));					\
		if (o)								\
			memcpy(&ov, o, sizeof(T));				\
		if (c)								\
			memcpy(&cv, c, sizeof(T));				\
		rv = tv;							\
		switch (op) {							\
		case FI_MIN: if (ov < tv) rv = ov; break;			\
		case FI_MAX: if (ov > tv) rv = ov; break;			\
		case FI_SUM: rv = (T)((W)tv + (W)ov); break;			\
		case FI_PROD: rv = (T)((W)tv * (W)ov); break;			\
		case FI_LOR: rv = (tv || ov) ? 1 : 0; break;			\
		case FI_LAND: rv = (tv && ov) ? 1 : 0; break;			\
		case FI_BOR: rv = (T)((W)tv | (W)ov); break;			\
		case FI_BAND: rv = (T)((W)tv & (W)ov); break;			\
		case FI_LXOR: rv = ((tv && !ov) || (!tv && ov)) ? 1 : 0; break;	\
		case FI_BXOR: rv = (T)((W)tv ^ (W)ov); break;			\
		case FI_ATOMIC_READ: break;					\
		case FI_ATOMIC_WRITE: rv = ov; break;				\
		case FI_CSWAP: if (cv == tv) rv = ov; break;			\
		case FI_CSWAP_NE: if (cv != tv) rv = ov; break;			\
		case FI_CSWAP_LE: if (cv <= tv) rv = ov; break;			\
		case FI_CSWAP_LT: if (cv < tv) rv = ov; break;			\
		case FI_CSWAP_GE: if (cv >= tv) rv = ov; break;			\
		case FI_CSWAP_GT: if (cv > tv) rv = ov; break;			\
		case FI_MSWAP:							\
			rv = (T)(((W)ov & (W)cv) | ((W)tv & ~(W)cv));		\
			break;							\
		default: break;							\
		}								\
		memcpy(r, &rv, sizeof(T));					\
	} while (0)

/*
 * Floating point, in the type's own precision: each result through a
 * volatile so that nothing is kept wider or fused.
 */
#define FLT_APPLY(T) do {							\
		T tv, ov = 0, cv = 0, rv;					\
		volatile T x;							\
		memcpy(&tv, t, sizeof(T));					\
		if (o)								\
			memcpy(&ov, o, sizeof(T));				\
		if (c)								\
			memcpy(&cv, c, sizeof(T));				\
		rv = tv;							\
		switch (op) {							\
		case FI_MIN: if (ov < tv) rv = ov; break;			\
		case FI_MAX: if (ov > tv) rv = ov; break;			\
		case FI_SUM: x = tv + ov; rv = x; break;			\
		case FI_PROD: x = tv * ov; rv = x; break;			\
		case FI_LOR: rv = (tv != 0 || ov != 0) ? 1 : 0; break;		\
		case FI_LAND: rv = (tv != 0 && ov != 0) ? 1 : 0; break;	\
		case FI_LXOR: rv = ((tv != 0) != (ov != 0)) ? 1 : 0; break;	\
		case FI_ATOMIC_READ: break;					\
		case FI_ATOMIC_WRITE: rv = ov; break;				\
		case FI_CSWAP: if (cv == tv) rv = ov; break;			\
		case FI_CSWAP_NE: if (cv != tv) rv = ov; break;			\
		case FI_CSWAP_LE: if (cv <= tv) rv = ov; break;			\
		case FI_CSWAP_LT: if (cv < tv) rv = ov; break;			\
		case FI_CSWAP_GE: if (cv >= tv) rv = ov; break;			\
		case FI_CSWAP_GT: if (cv > tv) rv = ov; break;			\
		default: break;							\
		}								\
		memcpy(r, &rv, sizeof(T));					\
	} while (0)

/* Complex: (re, im) pairs; true unless both parts are 0; products as written. */
#define CPLX_APPLY(T) do {							\
		T tv[2], ov[2] = { 0, 0 }, cv[2] = { 0, 0 }, rv[2];		\
		volatile T ac, bd, ad, bc, x;					\
		bool tt, ot, eq;						\
		memcpy(tv, t, sizeof(tv));					\
		if (o)								\
			memcpy(ov, o, sizeof(ov));				\
		if (c)								\
			memcpy(cv, c, sizeof(cv));				\
		tt = tv[0] != 0 || tv[1] != 0;					\
		ot = ov[0] != 0 || ov[1] != 0;					\
		eq = cv[0] == tv[0] && cv[1] == tv[1];				\
		rv[0] = tv[0];							\
		rv[1] = tv[1];							\
		switch (op) {							\
		case FI_SUM:							\
			x = tv[0] + ov[0]; rv[0] = x;				\
			x = tv[1] + ov[1]; rv[1] = x;				\
			break;							\
		case FI_PROD:							\
			ac = tv[0] * ov[0]; bd = tv[1] * ov[1];			\
			ad = tv[0] * ov[1]; bc = tv[1] * ov[0];			\
			x = ac - bd; rv[0] = x;					\
			x = ad + bc; rv[1] = x;					\
			break;							\
		case FI_LOR: rv[0] = (tt || ot) ? 1 : 0; rv[1] = 0; break;	\
		case FI_LAND: rv[0] = (tt && ot) ? 1 : 0; rv[1] = 0; break;	\
		case FI_LXOR: rv[0] = (tt != ot) ? 1 : 0; rv[1] = 0; break;	\
		case FI_ATOMIC_READ: break;					\
		case FI_ATOMIC_WRITE: rv[0] = ov[0]; rv[1] = ov[1]; break;	\
		case FI_CSWAP:							\
			if (eq) { rv[0] = ov[0]; rv[1] = ov[1]; }		\
			break;							\
		case FI_CSWAP_NE:						\
			if (!eq) { rv[0] = ov[0]; rv[1] = ov[1]; }		\
			break;							\
		default: break;							\
		}								\
		memcpy(r, rv, sizeof(rv));					\
	} while (0)

/*
 * The new value r of target element t after op with operand o and compare
 * value c (NULL when the operation takes none).
 */
static void elem_apply(const struct dtype *d, enum fi_op op, const void *t,
		       const void *o, const void *c, void *r)
{
	switch (d->dt) {
	case FI_INT8: INT_APPLY(int8_t, uint64_t); break;
	case FI_UINT8: INT_APPLY(uint8_t, uint64_t); break;
	case FI_INT16: INT_APPLY(int16_t, uint64_t); break;
	case FI_UINT16: INT_APPLY(uint16_t, uint64_t); break;
	case FI_INT32: INT_APPLY(int32_t, uint64_t); break;
	case FI_UINT32: INT_APPLY(uint32_t, uint64_t); break;
	case FI_INT64: INT_APPLY(int64_t, uint64_t); break;
	case FI_UINT64: INT_APPLY(uint64_t, uint64_t); break;
	case FI_INT128: INT_APPLY(i128, u128); break;
	case FI_UINT128: INT_APPLY(u128, u128); break;
	case FI_FLOAT: FLT_APPLY(float); break;
	case FI_DOUBLE: FLT_APPLY(double); break;
	case FI_LONG_DOUBLE: FLT_APPLY(long double); break;
	case FI_FLOAT_COMPLEX: CPLX_APPLY(float); break;
	case FI_DOUBLE_COMPLEX: CPLX_APPLY(double); break;
	case FI_LONG_DOUBLE_COMPLEX: CPLX_APPLY(long double); break;
	default:
		ft_fatal("datatype %d", (int)d->dt);
	}
}

/* Do two elements hold the same value bits (long double: its 10 bytes)? */
static bool elem_same(const struct dtype *d, const void *a, const void *b)
{
	const uint8_t *x = a, *y = b;

	if (d->cls != C_CPLX)
		return !memcmp(x, y, d->sig);
	return !memcmp(x, y, d->sig) &&
	       !memcmp(x + d->size / 2, y + d->size / 2, d->sig);
}

static void elem_str(const struct dtype *d, const void *p, char *buf, size_t len)
{
	const uint8_t *b = p;
	size_t i, k = 0;

	buf[0] = '\0';
	for (i = d->size; i-- > 0 && k + 3 < len;)
		k += (size_t)snprintf(buf + k, len - k, "%02x", b[i]);
}

/* ---- values: every result exact, signed results without overflow ---- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* The largest magnitude of a signed operand of op, so that no result overflows. */
static i128 int_limit(const struct dtype *d, enum fi_op op)
{
	static const i128 prod[] = { 11, 181, 46340, 3037000499LL, 0 };
	i128 max = ((i128)1 << (8 * d->size - 1)) - 1;

	if (d->size == 16)
		max = (i128)(((u128)1 << 127) - 1);
	if (op == FI_PROD) {
		switch (d->size) {
		case 1: return prod[0];
		case 2: return prod[1];
		case 4: return prod[2];
		case 8: return prod[3];
		default: return (i128)1 << 62;
		}
	}
	return op == FI_SUM ? max / 2 : max;
}

static void put_int(const struct dtype *d, void *p, i128 v)
{
	memcpy(p, &v, d->size);	/* little-endian: the low bytes */
}

static void put_flt(const struct dtype *d, void *p, long double v)
{
	memset(p, 0, d->cls == C_CPLX ? d->size / 2 : d->size);
	switch (d->dt) {
	case FI_FLOAT:
	case FI_FLOAT_COMPLEX: {
		float f = (float)v;

		memcpy(p, &f, sizeof(f));
		break;
	}
	case FI_DOUBLE:
	case FI_DOUBLE_COMPLEX: {
		double f = (double)v;

		memcpy(p, &f, sizeof(f));
		break;
	}
	default: {
		long double f = v;

		memcpy(p, &f, d->sig);
		break;
	}
	}
}

/* One random value of the type for op (zero when zero is set). */
static void gen_elem(const struct dtype *d, enum fi_op op, uint64_t *s, bool zero, void *p)
{
	if (d->cls == C_INT || d->cls == C_UINT) {
		i128 v;

		u128 r = ((u128)rnd(s) << 64) | rnd(s);

		if (zero) {
			v = 0;
		} else if (op != FI_PROD && (op != FI_SUM || d->cls == C_UINT)) {
			v = (i128)r;	/* any bits (unsigned sums wrap) */
		} else {
			/* |v| <= lim, at most half the type's range */
			i128 lim = int_limit(d, op);

			v = (i128)(r % ((u128)lim * 2 + 1)) - lim;
			if (d->cls == C_UINT && v < 0)
				v = -v;
		}
		put_int(d, p, v);
		return;
	}
	/* quarters of -16 .. 16: sums and products stay exact in any precision */
	if (d->cls == C_FLT) {
		put_flt(d, p, zero ? 0 : (long double)((int)(rnd(s) % 129) - 64) / 4);
	} else {
		uint8_t *q = p;

		put_flt(d, q, zero ? 0 : (long double)((int)(rnd(s) % 129) - 64) / 4);
		put_flt(d, q + d->size / 2,
			zero ? 0 : (long double)((int)(rnd(s) % 129) - 64) / 4);
	}
}

/*
 * Targets, operands and compare values of n elements: some compare values
 * equal to their target (so that CSWAP and friends swap some elements and
 * not others), zeros among the logical operations' inputs.
 */
static void gen_bufs(const struct dtype *d, enum fi_op op, size_t n, uint64_t seed,
		     uint8_t *t, uint8_t *o, uint8_t *c)
{
	bool logical = op == FI_LOR || op == FI_LAND || op == FI_LXOR;
	size_t i, sz = d->size;

	for (i = 0; i < n; i++) {
		memset(t + i * sz, 0, sz);
		memset(o + i * sz, 0, sz);
		memset(c + i * sz, 0, sz);
		gen_elem(d, op, &seed, logical && i % 3 == 1, t + i * sz);
		gen_elem(d, op, &seed, logical && i % 4 == 2, o + i * sz);
		gen_elem(d, op, &seed, false, c + i * sz);
		if (i % 2 == 0)
			memcpy(c + i * sz, t + i * sz, sz);
		if ((op == FI_MIN || op == FI_MAX) && i % 5 == 3)
			memcpy(o + i * sz, t + i * sz, sz);	/* equal: unchanged */
	}
}

/* ---- the world: ep0 (initiator) and ep1 (target) ---- */

struct atom {
	struct ft_pair p;
	struct ft_dom *ld, *td;		/* ep0's and ep1's domains */
	/* the target, at ep1 */
	uint8_t *t;
	struct fid_mr *tmr;
	uint64_t tkey, tbase;
	/* local buffers at ep0: operand, compare, result, scratch */
	uint8_t *l;
	struct fid_mr *lmr;
	void *ldesc;
	bool need_desc;
	size_t maxcount[NKINDS][NTYPES][FI_ATOMIC_OP_LAST];	/* 0: not valid */
	/* the FPGA (fpgadma) */
	bool fpga;
	struct fi_fpgadma_fpga fpga_info;
	fi_addr_t fpga_addr;
};

static uint8_t *lbuf(struct atom *A, int which)
{
	return A->l + (size_t)which * SLOT;
}

enum { L_OPERAND, L_COMPARE, L_RESULT, L_SCRATCH, L_NBUFS };

static uint64_t hint_mr_mode(void)
{
	return (with_mr_local ? FI_MR_LOCAL : 0) | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
	       FI_MR_PROV_KEY | FI_MR_ENDPOINT;
}

static void atom_open(struct atom *A)
{
	const char *why = NULL;
	int ret;

	/* without FI_MR_LOCAL first: NULL desc then goes through the provider's own path */
	if (ft_pair_open(&A->p, ft_hints(FI_ATOMIC | FI_RMA, hint_mr_mode()), one_domain, 0,
			 &why)) {
		with_mr_local = true;
		if (ft_pair_open(&A->p, ft_hints(FI_ATOMIC | FI_RMA, hint_mr_mode()), one_domain,
				 0, &why))
			ft_skip("provider %s: %s for FI_ATOMIC | FI_RMA on FI_EP_RDM",
				ft_opts.prov ? ft_opts.prov : "(any)", why);
	}
	ft_describe(&A->p.dom[0]);
	A->ld = ft_pair_dom(&A->p, 0);
	A->td = ft_pair_dom(&A->p, 1);
	snprintf(prov_name, sizeof(prov_name), "%s", A->ld->info->fabric_attr->prov_name);
	is_fpgadma = !strcmp(prov_name, "fpgadma");
	A->need_desc = ft_need_desc(A->ld);

	A->t = aligned_alloc(PAGE, TLEN);
	if (!A->t)
		ft_fatal("out of memory");
	memset(A->t, TBYTE, TLEN);
	ret = ft_mr_reg(A->td, &A->p.ep[1], A->t, TLEN, FI_REMOTE_READ | FI_REMOTE_WRITE, 0,
			&A->tmr);
	if (ret)
		ft_fatal("fi_mr_reg of the target: %s", ft_strerr(ret));
	A->tkey = fi_mr_key(A->tmr);
	A->tbase = ft_rma_base(A->td, A->t);

	A->l = aligned_alloc(PAGE, (size_t)L_NBUFS * SLOT);
	if (!A->l)
		ft_fatal("out of memory");
	memset(A->l, LBYTE, (size_t)L_NBUFS * SLOT);
	ret = ft_mr_reg(A->ld, &A->p.ep[0], A->l, (size_t)L_NBUFS * SLOT,
			FI_READ | FI_WRITE | FI_SEND | FI_RECV, 0, &A->lmr);
	if (ret)
		ft_fatal("fi_mr_reg of the local buffers: %s", ft_strerr(ret));
	A->ldesc = fi_mr_desc(A->lmr);
}

static void atom_close(struct atom *A)
{
	ft_close_fid(&A->lmr->fid, "local mr");
	ft_close_fid(&A->tmr->fid, "target mr");
	ft_pair_close(&A->p);
	free(A->t);
	free(A->l);
}

/* ---- valid: the table ---- */

static int valid_call(struct fid_ep *ep, enum kind k, enum fi_datatype dt, enum fi_op op,
		      size_t *count)
{
	switch (k) {
	case K_BASE:
		return fi_atomicvalid(ep, dt, op, count);
	case K_FETCH:
		return fi_fetch_atomicvalid(ep, dt, op, count);
	default:
		return fi_compare_atomicvalid(ep, dt, op, count);
	}
}

static void test_valid(struct atom *A)
{
	static const uint64_t qflags[NKINDS] = { 0, FI_FETCH_ATOMIC, FI_COMPARE_ATOMIC };
	const struct fi_info *info = A->ld->info;
	unsigned int npairs = 0, nquery_diff = 0;
	bool query_nosys = false, fp = true;
	char line[256];
	int k, t, o;

	if (is_fpgadma) {
		const uint64_t order = FI_ORDER_ATOMIC_RAR | FI_ORDER_ATOMIC_RAW |
				       FI_ORDER_ATOMIC_WAR | FI_ORDER_ATOMIC_WAW;

		ft_check(info->caps & FI_ATOMIC, "fpgadma: FI_ATOMIC not in caps");
		ft_check((info->tx_attr->msg_order & order) == order,
			 "fpgadma: tx msg_order %#" PRIx64 " lacks FI_ORDER_ATOMIC_*",
			 (uint64_t)info->tx_attr->msg_order);
		ft_check(info->tx_attr->caps & FI_ATOMIC, "fpgadma: FI_ATOMIC not in tx caps");
		/* a device without FPGADMA_CAP_ATOMIC_FP has the integer types only */
		fp = !fi_atomicvalid(A->p.ep[0].ep, FI_FLOAT, FI_SUM, &(size_t){ 0 });
		if (!fp)
			ft_log("valid: fpgadma: no floating-point atomics (the device lacks "
			       "FPGADMA_CAP_ATOMIC_FP): the kernel's table without them");
	}
	for (k = 0; k < NKINDS; k++) {
		ft_log("valid: %s (count per call; '-' not valid)", kind_names[k]);
		for (t = 0; t < NTYPES; t++) {
			const struct dtype *d = &dtypes[t];
			size_t n = (size_t)snprintf(line, sizeof(line), "  %-20s", d->name);

			for (o = 0; o < FI_ATOMIC_OP_LAST; o++) {
				struct fi_atomic_attr attr = { 0 };
				size_t count = 0;
				int r, q;

				r = valid_call(A->p.ep[0].ep, (enum kind)k, d->dt, (enum fi_op)o,
					       &count);
				ft_check(r == 0 || r == -FI_EOPNOTSUPP || r == -FI_ENOSYS ||
					 r == -FI_EINVAL,
					 "%s valid(%s, %s): %d", kind_names[k], d->name,
					 op_names[o], r);
				if (!r && !count) {
					ft_error("%s valid(%s, %s): count 0", kind_names[k],
						 d->name, op_names[o]);
					r = -1;
				}
				if (!r && !op_in_kind((enum fi_op)o, (enum kind)k)) {
					ft_error("%s valid(%s, %s): 0 for an operation "
						 "fi_atomic(3) does not give this family",
						 kind_names[k], d->name, op_names[o]);
					r = -1;
				}
				A->maxcount[k][t][o] = r ? 0 : count;
				npairs += !r;
				if (n + 8 < sizeof(line))
					n += (size_t)snprintf(line + n, sizeof(line) - n, " %s",
							      r ? "-" : "");
				if (!r && n + 8 < sizeof(line))
					n += (size_t)snprintf(line + n, sizeof(line) - n,
							      "%zu", count);

				q = fi_query_atomic(A->ld->domain, d->dt, (enum fi_op)o, &attr,
						    qflags[k]);
				if (q == -FI_ENOSYS) {
					query_nosys = true;
				} else if ((q == 0) != (r == 0) ||
					   (!q && (attr.count != count ||
						   attr.size != d->size))) {
					if (is_fpgadma)
						ft_error("fi_query_atomic(%s, %s, %s): %d count %zu "
							 "size %zu; the valid call: %d count %zu",
							 d->name, op_names[o], kind_names[k], q,
							 attr.count, attr.size, r, count);
					nquery_diff++;
				}
				if (is_fpgadma) {
					bool want = op_in_kind((enum fi_op)o, (enum kind)k) &&
						    fpgadma_atomic_op_valid((uint32_t)o,
									    (uint32_t)d->dt) &&
						    (fp || !fpgadma_atomic_type_is_fp(d->dt));

					ft_check(want == !r, "fpgadma: %s(%s, %s) is %s, the "
						 "kernel's table says %s", kind_names[k],
						 d->name, op_names[o], r ? "not valid" : "valid",
						 want ? "valid" : "not");
					ft_check(r || count == MAX_BYTES / d->size,
						 "fpgadma: %s(%s, %s) count %zu, expected %zu",
						 kind_names[k], d->name, op_names[o], count,
						 MAX_BYTES / d->size);
				}
			}
			ft_log("%s", line);
		}
	}
	ft_log("valid: %u (family, datatype, operation) valid; columns %s .. %s", npairs,
	       op_names[0], op_names[FI_ATOMIC_OP_LAST - 1]);
	if (query_nosys)
		ft_log("valid: fi_query_atomic is not implemented (-FI_ENOSYS): not compared");
	else if (nquery_diff)
		ft_log("valid: fi_query_atomic differs from the valid calls %u times "
		       "(its count is the domain's; compared on fpgadma only)", nquery_diff);
	else
		ft_log("valid: fi_query_atomic agrees with the valid calls");
	if (!npairs)
		ft_skip("provider %s offers FI_ATOMIC but no atomic operation is valid",
			A->ld->info->fabric_attr->prov_name);
	if (is_fpgadma) {
		struct fi_atomic_attr attr;

		ft_check(fi_query_atomic(A->ld->domain, FI_UINT64, FI_CSWAP, &attr,
					 FI_FETCH_ATOMIC | FI_COMPARE_ATOMIC) == -FI_EINVAL,
			 "fi_query_atomic with FI_FETCH_ATOMIC | FI_COMPARE_ATOMIC");
		ft_check(fi_query_atomic(A->ld->domain, FI_UINT64, FI_SUM, &attr,
					 FI_TAGGED) == -FI_EOPNOTSUPP,
			 "fi_query_atomic with FI_TAGGED (no tagged atomics)");
	}
}

/* ---- one operation ---- */

struct call {
	enum kind kind;
	const struct dtype *d;
	enum fi_op op;
	size_t n;		/* elements */
	unsigned int variant;	/* which call (plain, v, msg, inject) and desc */
	fi_addr_t dest;
	uint64_t addr, key;
	uint8_t *ob, *cb, *rb;	/* operand, compare, result */
	void *desc;		/* of all three, or NULL */
	bool inject;		/* was injected: no completion */
	bool msg;		/* was a msg call, with flags */
	uint64_t flags;		/* the msg call's */
	const char *how;
};

/* Post c (retrying -FI_EAGAIN); returns what the call returned otherwise. */
static ssize_t post_call(struct atom *A, struct call *c, struct ft_op *op)
{
	struct fid_ep *ep = A->p.ep[0].ep;
	size_t sz = c->d->size, n1 = c->n / 2, n2 = c->n - n1;
	size_t iov_limit = A->ld->info->tx_attr->iov_limit;
	bool split = c->n >= 2 && iov_limit >= 2;
	struct fi_ioc iov[2], cmpv[2], resv[2];
	void *desc[2] = { c->desc, c->desc };
	struct fi_rma_ioc rio = { .addr = c->addr, .count = c->n, .key = c->key };
	struct fi_msg_atomic msg = {
		.desc = desc, .addr = c->dest, .rma_iov = &rio, .rma_iov_count = 1,
		.datatype = c->d->dt, .op = c->op, .context = op,
	};
	size_t niov = split ? 2 : 1;
	unsigned int form = c->variant % (c->kind == K_BASE ? 4 : 3);
	size_t inject_size = A->ld->info->tx_attr->inject_size;

	if (!split) {
		n1 = c->n;
		n2 = 0;
	}
	iov[0] = (struct fi_ioc){ c->ob, n1 };
	iov[1] = (struct fi_ioc){ c->ob + n1 * sz, n2 };
	cmpv[0] = (struct fi_ioc){ c->cb, n1 };
	cmpv[1] = (struct fi_ioc){ c->cb + n1 * sz, n2 };
	resv[0] = (struct fi_ioc){ c->rb, n1 };
	resv[1] = (struct fi_ioc){ c->rb + n1 * sz, n2 };
	msg.msg_iov = iov;
	msg.iov_count = niov;
	c->inject = false;
	c->msg = form == 2;
	c->flags = FI_COMPLETION | (c->variant / 4 % 2 ? FI_DELIVERY_COMPLETE : 0);
	if (form == 3 && c->n * sz > inject_size)
		form = 0;
	switch (c->kind) {
	case K_BASE:
		switch (form) {
		case 0:
			c->how = "fi_atomic";
			return FT_POST(fi_atomic(ep, c->ob, c->n, c->desc, c->dest, c->addr,
						 c->key, c->d->dt, c->op, op));
		case 1:
			c->how = split ? "fi_atomicv (2 pieces)" : "fi_atomicv";
			return FT_POST(fi_atomicv(ep, iov, desc, niov, c->dest, c->addr, c->key,
						  c->d->dt, c->op, op));
		case 2:
			c->how = split ? "fi_atomicmsg (2 pieces)" : "fi_atomicmsg";
			return FT_POST(fi_atomicmsg(ep, &msg, c->flags));
		default:
			c->how = "fi_inject_atomic";
			c->inject = true;
			return FT_POST(fi_inject_atomic(ep, c->ob, c->n, c->dest, c->addr,
							c->key, c->d->dt, c->op));
		}
	case K_FETCH:
		switch (form) {
		case 0:
			c->how = "fi_fetch_atomic";
			return FT_POST(fi_fetch_atomic(ep, op_uses_operand(c->op) ? c->ob : NULL,
						       c->n, c->desc, c->rb, c->desc, c->dest,
						       c->addr, c->key, c->d->dt, c->op, op));
		case 1:
			c->how = split ? "fi_fetch_atomicv (2 pieces)" : "fi_fetch_atomicv";
			return FT_POST(fi_fetch_atomicv(ep, iov, desc, niov, resv, desc, niov,
							c->dest, c->addr, c->key, c->d->dt,
							c->op, op));
		default:
			c->how = split ? "fi_fetch_atomicmsg (2 pieces)" : "fi_fetch_atomicmsg";
			return FT_POST(fi_fetch_atomicmsg(ep, &msg, resv, desc, niov, c->flags));
		}
	default:
		switch (form) {
		case 0:
			c->how = "fi_compare_atomic";
			return FT_POST(fi_compare_atomic(ep, c->ob, c->n, c->desc, c->cb, c->desc,
							 c->rb, c->desc, c->dest, c->addr,
							 c->key, c->d->dt, c->op, op));
		case 1:
			c->how = split ? "fi_compare_atomicv (2 pieces)" : "fi_compare_atomicv";
			return FT_POST(fi_compare_atomicv(ep, iov, desc, niov, cmpv, desc, niov,
							  resv, desc, niov, c->dest, c->addr,
							  c->key, c->d->dt, c->op, op));
		default:
			c->how = split ? "fi_compare_atomicmsg (2 pieces)" :
				 "fi_compare_atomicmsg";
			return FT_POST(fi_compare_atomicmsg(ep, &msg, cmpv, desc, niov, resv,
							    desc, niov, c->flags));
		}
	}
}

/* The completion of c, with the flags fi_cq(3) gives atomics. */
static void wait_call(struct atom *A, struct call *c, struct ft_op *op, const char *what)
{
	uint64_t want = FI_ATOMIC | (c->kind == K_BASE ? FI_WRITE : FI_READ);
	struct ft_comp comp;

	if (c->inject)
		return;
	ft_wait_op(&A->p.ep[0].cq, op, &comp);
	if (c->kind != K_BASE && (comp.e.flags & want) != want &&
	    (comp.e.flags & (FI_ATOMIC | FI_WRITE)) == (FI_ATOMIC | FI_WRITE) &&
	    known("fetch-flags"))
		return;
	ft_check((comp.e.flags & want) == want, "%s: completion flags %#" PRIx64
		 ", expected %s | %s", what, (uint64_t)comp.e.flags, "FI_ATOMIC",
		 c->kind == K_BASE ? "FI_WRITE" : "FI_READ");
}

/* Element-wise comparison of n elements; says the first difference. */
static bool expect_elems(const struct dtype *d, const uint8_t *got, const uint8_t *want,
			 size_t n, const char *what, const char *which)
{
	char g[80], w[80];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!elem_same(d, got + i * d->size, want + i * d->size)) {
			elem_str(d, got + i * d->size, g, sizeof(g));
			elem_str(d, want + i * d->size, w, sizeof(w));
			ft_error("%s: %s element %zu of %zu is 0x%s, expected 0x%s", what, which,
				 i, n, g, w);
			return false;
		}
	}
	elems_checked += n;
	return true;
}

/* Wait (with progress) until the target's n elements are want. */
static bool wait_elems(const struct dtype *d, const uint8_t *t, const uint8_t *want, size_t n,
		       bool now, const char *what)
{
	uint64_t t0 = ft_now_us();
	size_t i;

	for (;;) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (i = 0; i < n; i++)
			if (!elem_same(d, t + i * d->size, want + i * d->size))
				break;
		if (i == n)
			return expect_elems(d, t, want, n, what, "target");
		if (now || ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			return expect_elems(d, t, want, n, what,
					    now ? "target (at the completion of a "
						  "FI_DELIVERY_COMPLETE call)" : "target");
		ft_progress();
	}
}

/*
 * Fill c's buffers for c->op, and into t0 the target's elements before and
 * into exp after the operation.
 */
static void prepare(struct call *c, uint64_t seed, uint8_t *t0, uint8_t *exp)
{
	size_t i, sz = c->d->size;

	gen_bufs(c->d, c->op, c->n, seed, t0, c->ob, c->cb);
	memset(c->rb, LBYTE, c->n * sz + GUARD);
	for (i = 0; i < c->n; i++)
		elem_apply(c->d, c->op, t0 + i * sz,
			   op_uses_operand(c->op) ? c->ob + i * sz : NULL,
			   op_uses_compare(c->op) ? c->cb + i * sz : NULL, exp + i * sz);
}

/* Where in the target MR an operation of len bytes goes (aligned to the element). */
static size_t target_off(const struct dtype *d, size_t len, unsigned int v)
{
	size_t half = len / 2 / d->size * d->size;

	switch (v % 3) {
	case 0:
		return 2 * PAGE - half;		/* across a page boundary */
	case 1:
		return PAGE;
	default:
		return 3 * PAGE - len - 2 * d->size;
	}
}

static void do_op_host(struct atom *A, enum kind k, int ti, enum fi_op op, size_t n,
		       unsigned int variant)
{
	const struct dtype *d = &dtypes[ti];
	size_t len = n * d->size, off = target_off(d, len, variant);
	uint8_t t0[MAX_BYTES], exp[MAX_BYTES];
	struct ft_op fop = { .what = kind_names[k] };
	struct call c = {
		.kind = k, .d = d, .op = op, .n = n, .variant = variant,
		.dest = A->p.peer[0], .addr = A->tbase + off, .key = A->tkey,
		.ob = lbuf(A, L_OPERAND), .cb = lbuf(A, L_COMPARE), .rb = lbuf(A, L_RESULT),
	};
	char what[160];
	ssize_t ret;
	bool now;

	c.desc = A->need_desc || variant % 2 ? A->ldesc : NULL;
	prepare(&c, (uint64_t)ti * 1000003 + (uint64_t)op * 7919 + variant * 31 + k, t0, exp);
	memcpy(A->t + off, t0, len);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ret = post_call(A, &c, &fop);
	snprintf(what, sizeof(what), "%s %s %s of %zu at target offset %zu (%s, %s desc)",
		 kind_names[k], op_names[op], d->name, n, off, c.how, c.desc ? "with" : "NULL");
	if (ret)
		ft_fatal("%s: %s", what, ft_strerr(ret));
	wait_call(A, &c, &fop, what);
	if (k != K_BASE) {
		/* fetched values are there at the completion (fi_atomic(3)) */
		expect_elems(d, c.rb, t0, n, what, "fetched");
		ft_expect_bytes(c.rb + len, GUARD, LBYTE, what);
	}
	/*
	 * The target is updated at the completion of a fetch (the values
	 * came from it: FI_DELIVERY_COMPLETE semantics, fi_atomic(3)) and of
	 * a FI_DELIVERY_COMPLETE call; else it may be later (FI_TRANSMIT_COMPLETE).
	 */
	now = !c.inject && (k != K_BASE || (c.msg && (c.flags & FI_DELIVERY_COMPLETE)));
	wait_elems(d, A->t + off, exp, n, now, what);
	ft_expect_bytes(A->t + off - GUARD, GUARD, TBYTE, what);
	ft_expect_bytes(A->t + off + len, GUARD, TBYTE, what);
	memset(A->t + off, TBYTE, len);
	if (c.inject)
		ft_check(ft_no_comp(&A->p.ep[0].cq, 0), "%s: a completion for an inject", what);
	ops_done++;
}

/* ---- the FPGA's memory (fpgadma) ---- */

static void fpga_rma(struct atom *A, bool write, void *buf, size_t len, uint64_t off,
		     const char *what)
{
	struct ft_op op = { .what = what };

	if (write)
		POSTOK(fi_write(A->p.ep[0].ep, buf, len, A->ldesc, A->fpga_addr,
				 A->fpga_info.mem_base + off, A->fpga_info.mem_key, &op));
	else
		POSTOK(fi_read(A->p.ep[0].ep, buf, len, A->ldesc, A->fpga_addr,
				A->fpga_info.mem_base + off, A->fpga_info.mem_key, &op));
	ft_wait_op(&A->p.ep[0].cq, &op, NULL);
}

/* Device memory [off - GUARD, off + len + GUARD): TBYTE around, then t (if any). */
static void fpga_put(struct atom *A, uint64_t off, const uint8_t *t, size_t len)
{
	uint8_t *s = lbuf(A, L_SCRATCH);

	memset(s, TBYTE, len + 2 * GUARD);
	if (t)
		memcpy(s + GUARD, t, len);
	fpga_rma(A, true, s, len + 2 * GUARD, off - GUARD, "fi_write of device memory");
}

/* Read it back: want (if any) in the range, TBYTE around. */
static void fpga_expect(struct atom *A, const struct dtype *d, uint64_t off,
			const uint8_t *want, size_t n, const char *what)
{
	uint8_t *s = lbuf(A, L_SCRATCH);
	size_t len = n * d->size;

	memset(s, LBYTE, len + 2 * GUARD);
	fpga_rma(A, false, s, len + 2 * GUARD, off - GUARD, "fi_read of device memory");
	ft_expect_bytes(s, GUARD, TBYTE, what);
	ft_expect_bytes(s + GUARD + len, GUARD, TBYTE, what);
	if (want)
		expect_elems(d, s + GUARD, want, n, what, "device memory");
	else
		ft_expect_bytes(s + GUARD, len, TBYTE, what);
}

static uint64_t fpga_off(const struct dtype *d, size_t len, unsigned int variant)
{
	size_t half = len / 2 / d->size * d->size;

	return variant % 2 ? 8 * PAGE - half : 16 * PAGE + (variant % 7) * 64;
}

static void do_op_fpga(struct atom *A, enum kind k, int ti, enum fi_op op, size_t n,
		       unsigned int variant)
{
	const struct dtype *d = &dtypes[ti];
	size_t len = n * d->size;
	uint64_t off = fpga_off(d, len, variant);
	uint8_t t0[MAX_BYTES], exp[MAX_BYTES];
	struct ft_op fop = { .what = kind_names[k] };
	struct call c = {
		.kind = k, .d = d, .op = op, .n = n, .variant = variant,
		.dest = A->fpga_addr, .addr = A->fpga_info.mem_base + off,
		.key = A->fpga_info.mem_key,
		.ob = lbuf(A, L_OPERAND), .cb = lbuf(A, L_COMPARE), .rb = lbuf(A, L_RESULT),
	};
	char what[160];
	ssize_t ret;

	c.desc = A->need_desc || variant % 2 ? A->ldesc : NULL;
	prepare(&c, (uint64_t)ti * 999983 + (uint64_t)op * 104729 + variant * 17 + k, t0, exp);
	fpga_put(A, off, t0, len);
	ret = post_call(A, &c, &fop);
	snprintf(what, sizeof(what), "FPGA: %s %s %s of %zu at device offset %" PRIu64
		 " (%s, %s desc)", kind_names[k], op_names[op], d->name, n, off, c.how,
		 c.desc ? "with" : "NULL");
	if (ret)
		ft_fatal("%s: %s", what, ft_strerr(ret));
	if (c.inject) {
		/* no completion: a read after it is ordered behind it (RAW) */
		fpga_expect(A, d, off, exp, n, what);
	} else {
		wait_call(A, &c, &fop, what);
		if (k != K_BASE) {
			expect_elems(d, c.rb, t0, n, what, "fetched");
			ft_expect_bytes(c.rb + len, GUARD, LBYTE, what);
		}
		fpga_expect(A, d, off, exp, n, what);
	}
	ops_done++;
}

/* ---- every valid pair ---- */

/* The element counts tried for a pair: 1, 3, 7 and, for SUM and CSWAP, 512 bytes' worth. */
static size_t counts_for(const struct dtype *d, enum fi_op op, size_t max, size_t *out)
{
	size_t big = FT_MIN(max, MAX_BYTES / d->size), n = 0, i;
	size_t want[] = { 1, 3, 7, big };
	size_t nwant = (op == FI_SUM || op == FI_CSWAP) ? 4 : 3;

	for (i = 0; i < nwant; i++) {
		size_t v = FT_MIN(want[i], max);

		if (v * d->size > MAX_BYTES)
			v = MAX_BYTES / d->size;
		if (v && (!n || out[n - 1] != v))
			out[n++] = v;
	}
	return n;
}

static void test_ops(struct atom *A, bool fpga)
{
	unsigned int variant = 0, pairs = 0;
	uint64_t t0 = ft_now_us(), e0 = elems_checked, o0 = ops_done;
	int k, t, o;

	for (k = 0; k < NKINDS; k++) {
		for (t = 0; t < NTYPES; t++) {
			for (o = 0; o < FI_ATOMIC_OP_LAST; o++) {
				size_t max = A->maxcount[k][t][o], counts[4], nc, i;

				if (!max)
					continue;
				pairs++;
				nc = counts_for(&dtypes[t], (enum fi_op)o, max, counts);
				for (i = 0; i < nc; i++, variant++) {
					if (fpga)
						do_op_fpga(A, (enum kind)k, t, (enum fi_op)o,
							   counts[i], variant);
					else
						do_op_host(A, (enum kind)k, t, (enum fi_op)o,
							   counts[i], variant);
				}
			}
		}
	}
	ft_log("%s: %u valid pairs, %" PRIu64 " operations, %" PRIu64 " elements checked "
	       "(%.1f ms)", fpga ? "fpga" : "ops", pairs, ops_done - o0, elems_checked - e0,
	       (double)(ft_now_us() - t0) / 1000);
}

/*
 * fpgadma's CSWAP compares bits, MIN, MAX and the ordered CSWAPs values
 * (fi_fpgadma(7)): +0.0 and -0.0, a NaN against itself.
 */
static void test_fp_special(struct atom *A)
{
	const struct dtype *d = &dtypes[FI_DOUBLE];
	uint64_t pz = 0, nz = 0x8000000000000000ULL, nan = 0x7ff8000000000123ULL;
	uint64_t one = 0x3ff0000000000000ULL;	/* 1.0 */
	struct {
		enum fi_op op;
		uint64_t t, c, o, want;
		const char *what;
	} cases[] = {
		{ FI_CSWAP, nz, pz, one, nz, "CSWAP compares bits: -0.0 is not +0.0" },
		{ FI_CSWAP, pz, pz, one, one, "CSWAP: +0.0 is +0.0" },
		{ FI_CSWAP, nan, nan, one, one, "CSWAP: a NaN equals the same NaN" },
		{ FI_CSWAP_NE, nz, pz, one, one, "CSWAP_NE: -0.0 differs from +0.0" },
		{ FI_CSWAP_GE, nz, pz, one, one, "CSWAP_GE compares values: +0.0 >= -0.0" },
		{ FI_CSWAP_LT, nan, pz, one, nan, "CSWAP_LT: a comparison with a NaN is false" },
	};
	size_t i;

	if (!A->maxcount[K_COMPARE][FI_DOUBLE][FI_CSWAP]) {
		ft_log("fp-special: no FI_DOUBLE CSWAP: skipped");
		return;
	}
	for (i = 0; i < FT_ARRAY_SIZE(cases); i++) {
		struct ft_op fop = { .what = cases[i].what };
		uint8_t *rb = lbuf(A, L_RESULT);

		memcpy(A->t + PAGE, &cases[i].t, 8);
		memcpy(lbuf(A, L_OPERAND), &cases[i].o, 8);
		memcpy(lbuf(A, L_COMPARE), &cases[i].c, 8);
		POSTOK(fi_compare_atomic(A->p.ep[0].ep, lbuf(A, L_OPERAND), 1, A->ldesc,
					  lbuf(A, L_COMPARE), A->ldesc, rb, A->ldesc,
					  A->p.peer[0], A->tbase + PAGE, A->tkey, FI_DOUBLE,
					  cases[i].op, &fop));
		ft_wait_op(&A->p.ep[0].cq, &fop, NULL);
		expect_elems(d, rb, (uint8_t *)&cases[i].t, 1, cases[i].what, "fetched");
		wait_elems(d, A->t + PAGE, (uint8_t *)&cases[i].want, 1, false, cases[i].what);
		memset(A->t + PAGE, TBYTE, 8);
		ops_done++;
	}
	ft_log("fp-special: CSWAP and CSWAP_NE compare bits (+0.0/-0.0, NaN), "
	       "CSWAP_GE/LT values: %zu cases", FT_ARRAY_SIZE(cases));
}

/* ---- ordering ---- */

static void test_order(struct atom *A)
{
	const uint64_t need = FI_ORDER_ATOMIC_RAW | FI_ORDER_ATOMIC_WAW | FI_ORDER_ATOMIC_WAR;
	const struct fi_info *info = A->ld->info;
	uint64_t *t = (uint64_t *)(void *)(A->t + PAGE), *l = (uint64_t *)(void *)lbuf(A, L_OPERAND);
	uint64_t *res = (uint64_t *)(void *)lbuf(A, L_RESULT);
	struct ft_op ops[8];
	int round, i;

	if ((info->tx_attr->msg_order & need) != need || info->ep_attr->max_order_raw_size < 8 ||
	    info->ep_attr->max_order_war_size < 8 || info->ep_attr->max_order_waw_size < 8) {
		ft_log("order: msg_order %#" PRIx64 ", max_order_raw/war/waw_size %zu/%zu/%zu: "
		       "atomics not ordered, skipped", (uint64_t)info->tx_attr->msg_order,
		       info->ep_attr->max_order_raw_size, info->ep_attr->max_order_war_size,
		       info->ep_attr->max_order_waw_size);
		return;
	}
	if (!A->maxcount[K_BASE][FI_UINT64][FI_ATOMIC_WRITE] ||
	    !A->maxcount[K_BASE][FI_UINT64][FI_SUM] ||
	    !A->maxcount[K_FETCH][FI_UINT64][FI_ATOMIC_READ]) {
		ft_log("order: no uint64 WRITE, SUM or READ: skipped");
		return;
	}
	for (round = 0; round < 20; round++) {
		uint64_t v1 = 1000 + (uint64_t)round * 77, v3 = 0xabcdef00ULL + (uint64_t)round;

		memset(ops, 0, sizeof(ops));
		*t = 0;
		l[0] = v1;
		for (i = 1; i <= 4; i++)
			l[i] = (uint64_t)i;	/* sums: 1 + 2 + 3 + 4 = 10 */
		l[5] = v3;
		res[0] = res[1] = 0;
		/* write, four sums, a fetch, a write, a fetch: all in flight */
		ops[0].what = "order: ATOMIC_WRITE";
		POSTOK(fi_atomic(A->p.ep[0].ep, &l[0], 1, A->ldesc, A->p.peer[0], A->tbase + PAGE,
				  A->tkey, FI_UINT64, FI_ATOMIC_WRITE, &ops[0]));
		for (i = 1; i <= 4; i++) {
			ops[i].what = "order: SUM";
			POSTOK(fi_atomic(A->p.ep[0].ep, &l[i], 1, A->ldesc, A->p.peer[0],
					  A->tbase + PAGE, A->tkey, FI_UINT64, FI_SUM, &ops[i]));
		}
		ops[5].what = "order: fetch READ";
		POSTOK(fi_fetch_atomic(A->p.ep[0].ep, NULL, 1, NULL, &res[0], A->ldesc,
					A->p.peer[0], A->tbase + PAGE, A->tkey, FI_UINT64,
					FI_ATOMIC_READ, &ops[5]));
		ops[6].what = "order: ATOMIC_WRITE after the fetch";
		POSTOK(fi_atomic(A->p.ep[0].ep, &l[5], 1, A->ldesc, A->p.peer[0], A->tbase + PAGE,
				  A->tkey, FI_UINT64, FI_ATOMIC_WRITE, &ops[6]));
		ops[7].what = "order: fetch READ after the write";
		POSTOK(fi_fetch_atomic(A->p.ep[0].ep, NULL, 1, NULL, &res[1], A->ldesc,
					A->p.peer[0], A->tbase + PAGE, A->tkey, FI_UINT64,
					FI_ATOMIC_READ, &ops[7]));
		for (i = 0; i < 8; i++) {
			struct ft_comp c;

			if (ft_wait(&A->p.ep[0].cq, &c))
				ft_fatal("order: %d of 8 completions", i);
			if (c.err)
				ft_fatal("order: an error completion: %s", c.errstr);
		}
		ft_check(res[0] == v1 + 10, "order round %d: the fetch read %" PRIu64 ", expected %"
			 PRIu64 " (the write and the sums before it: RAW, WAW)", round, res[0],
			 v1 + 10);
		ft_check(res[1] == v3, "order round %d: the second fetch read %#" PRIx64
			 ", expected %#" PRIx64 " (WAR: the write after the first fetch)", round,
			 res[1], v3);
		ops_done += 8;
	}
	memset(A->t + PAGE, TBYTE, 8);
	ft_log("order: 20 rounds of write, 4 sums, fetch, write, fetch in flight together: "
	       "each fetch saw exactly what was issued before it");
}

/* ---- remote CQ data ---- */

/*
 * fi_atomicmsg and fi_fetch_atomicmsg with FI_REMOTE_CQ_DATA: the target
 * gets a completion with the data once the target is updated (consuming a
 * posted receive under FI_RX_CQ_DATA).  A provider may refuse the flag.
 */
static void test_cq_data(struct atom *A)
{
	const struct fi_info *info = A->td->info;
	uint64_t *t = (uint64_t *)(void *)(A->t + PAGE), *l = (uint64_t *)(void *)lbuf(A, L_OPERAND);
	uint64_t *res = (uint64_t *)(void *)lbuf(A, L_RESULT);
	size_t bytes = info->domain_attr->cq_data_size;
	uint64_t mask = bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;
	bool rx_buf = info->mode & FI_RX_CQ_DATA;
	int round;

	if (!bytes || !A->maxcount[K_BASE][FI_UINT64][FI_SUM] ||
	    !A->maxcount[K_FETCH][FI_UINT64][FI_SUM]) {
		ft_log("cq-data: cq_data_size %zu or no uint64 SUM: skipped", bytes);
		return;
	}
	for (round = 0; round < 2; round++) {
		bool fetch = round == 1;
		struct ft_op op = { .what = fetch ? "fi_fetch_atomicmsg with remote CQ data" :
					    "fi_atomicmsg with remote CQ data" };
		struct ft_op rop = { .what = "recv for cq data" };
		struct fi_ioc ioc = { l, 1 }, rioc = { res, 1 };
		struct fi_rma_ioc rio = { .addr = A->tbase + PAGE, .count = 1, .key = A->tkey };
		void *desc = A->ldesc;
		struct fi_msg_atomic msg = {
			.msg_iov = &ioc, .desc = &desc, .iov_count = 1, .addr = A->p.peer[0],
			.rma_iov = &rio, .rma_iov_count = 1, .datatype = FI_UINT64, .op = FI_SUM,
			.context = &op, .data = 0x5eed0000ULL + (uint64_t)round,
		};
		struct ft_comp c;
		ssize_t ret;

		*t = 40;
		l[0] = 2;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (rx_buf)
			POSTOK(fi_recv(A->p.ep[1].ep, NULL, 0, NULL, FI_ADDR_UNSPEC, &rop));
		if (fetch)
			ret = FT_POST(fi_fetch_atomicmsg(A->p.ep[0].ep, &msg, &rioc, &desc, 1,
							 FI_COMPLETION | FI_REMOTE_CQ_DATA));
		else
			ret = FT_POST(fi_atomicmsg(A->p.ep[0].ep, &msg,
						   FI_COMPLETION | FI_REMOTE_CQ_DATA));
		if (ret) {
			ft_check(!is_fpgadma, "fpgadma: %s: %s", op.what, ft_strerr(ret));
			ft_log("cq-data: %s refused (%s): skipped", op.what, ft_strerr(ret));
			if (rx_buf)
				(void)fi_cancel(&A->p.ep[1].ep->fid, &rop);
			memset(A->t + PAGE, TBYTE, 8);
			return;
		}
		ft_wait_op(&A->p.ep[0].cq, &op, NULL);
		if (ft_wait(&A->p.ep[1].cq, &c))
			ft_fatal("cq-data: %s: no completion at the target", op.what);
		ft_check(!c.err, "cq-data: %s: target completion error %s", op.what, c.errstr);
		ft_check(c.e.flags & FI_REMOTE_CQ_DATA, "cq-data: %s: target flags %#" PRIx64
			 " lack FI_REMOTE_CQ_DATA", op.what, (uint64_t)c.e.flags);
		ft_check((c.e.data & mask) == (msg.data & mask), "cq-data: %s: data %#" PRIx64
			 ", expected %#" PRIx64, op.what, (uint64_t)c.e.data, msg.data & mask);
		if (rx_buf)
			ft_check(c.e.op_context == &rop, "cq-data: %s: not the posted receive's",
				 op.what);
		if (is_fpgadma)
			ft_check((c.e.flags & (FI_ATOMIC | FI_RMA)) == FI_ATOMIC &&
				 (c.e.flags & (fetch ? FI_REMOTE_READ : FI_REMOTE_WRITE)),
				 "fpgadma: %s: target flags %#" PRIx64 ", expected FI_ATOMIC | %s",
				 op.what, (uint64_t)c.e.flags,
				 fetch ? "FI_REMOTE_READ" : "FI_REMOTE_WRITE");
		/* the data is there when the target's completion is */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		ft_check(*t == 42, "cq-data: %s: the target holds %" PRIu64 " at its completion, "
			 "expected 42", op.what, *t);
		if (fetch)
			ft_check(*res == 40, "cq-data: %s: fetched %" PRIu64 ", expected 40",
				 op.what, *res);
		ft_log("cq-data: %s: target completion flags %#" PRIx64 "%s", op.what,
		       (uint64_t)c.e.flags, rx_buf ? " (FI_RX_CQ_DATA: consumed a receive)" : "");
		ops_done++;
	}
	memset(A->t + PAGE, TBYTE, 8);
}

/* ---- counters ---- */

struct cside {
	struct fid_ep *ep;
	struct fid_cq *cq;
	struct fid_cntr *c1, *c2;	/* initiator: write, read; target: remote write, read */
	uint8_t name[256];
	size_t namelen;
};

static void cside_open(struct ft_dom *d, struct cside *s, bool target)
{
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED, .wait_obj = FI_WAIT_NONE };
	struct fi_cntr_attr ca = { .events = FI_CNTR_EVENTS_COMP, .wait_obj = FI_WAIT_NONE };

	memset(s, 0, sizeof(*s));
	FT_CALL(fi_cq_open(d->domain, &cq_attr, &s->cq, NULL));
	FT_CALL(fi_cntr_open(d->domain, &ca, &s->c1, NULL));
	FT_CALL(fi_cntr_open(d->domain, &ca, &s->c2, NULL));
	FT_CALL(fi_endpoint(d->domain, d->info, &s->ep, NULL));
	FT_CALL(fi_ep_bind(s->ep, &d->av->fid, 0));
	FT_CALL(fi_ep_bind(s->ep, &s->cq->fid, FI_TRANSMIT | FI_RECV));
	FT_CALL(fi_ep_bind(s->ep, &s->c1->fid, target ? FI_REMOTE_WRITE : FI_WRITE));
	FT_CALL(fi_ep_bind(s->ep, &s->c2->fid, target ? FI_REMOTE_READ : FI_READ));
	FT_CALL(fi_enable(s->ep));
	s->namelen = sizeof(s->name);
	FT_CALL(fi_getname(&s->ep->fid, s->name, &s->namelen));
}

static void cside_close(struct cside *s)
{
	ft_close_fid(&s->ep->fid, "endpoint");
	ft_close_fid(&s->c1->fid, "counter");
	ft_close_fid(&s->c2->fid, "counter");
	ft_close_fid(&s->cq->fid, "cq");
}

/* Progress of both endpoints (their counters' reads run it), not taking completions. */
static void cside_progress(struct cside *a, struct cside *b)
{
	(void)fi_cntr_read(a->c1);
	(void)fi_cntr_read(a->c2);
	(void)fi_cntr_read(b->c1);
	(void)fi_cntr_read(b->c2);
}

/* Post with progress of both sides (a connection may need the target's). */
#define CPOST(a, b, call) \
	do { \
		uint64_t t0_ = ft_now_us(); \
		ssize_t r_; \
		while ((r_ = (call)) == -FI_EAGAIN) { \
			if (ft_now_us() - t0_ > ft_opts.timeout_ms * 1000ULL) \
				ft_fatal("%s: -FI_EAGAIN for %u ms", #call, ft_opts.timeout_ms); \
			cside_progress(a, b); \
		} \
		if (r_) \
			ft_fatal("%s: %s", #call, ft_strerr(r_)); \
	} while (0)

static bool cntr_is(struct fid_cntr *c, struct cside *a, struct cside *b, uint64_t want,
		    const char *what)
{
	uint64_t t0 = ft_now_us(), v;

	while ((v = fi_cntr_read(c)) < want && ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL)
		cside_progress(a, b);
	ft_check(v == want, "%s: %" PRIu64 ", expected %" PRIu64, what, v, want);
	return v == want;
}

static void test_counters(void)
{
	struct fi_info *hints = ft_hints(FI_ATOMIC | FI_RMA_EVENT, hint_mr_mode());
	struct ft_dom d0, d1;
	struct cside in, tg;
	struct fid_mr *tmr = NULL, *lmr = NULL;
	uint64_t *tbuf, *lb, tkey, tbase;
	void *ldesc;
	fi_addr_t to_tg;
	const char *why = NULL;
	bool remote = true;
	int i, ret;
	const int nbase = 5, nfetch = 3, ncmp = 2;
	struct ft_op cop = { .what = "counters" };

	if (ft_open_dom(hints, &d0, &why)) {
		remote = false;
		if (ft_open_dom(ft_hints(FI_ATOMIC, hint_mr_mode()), &d0, &why)) {
			ft_log("counters: %s: skipped", why);
			return;
		}
	}
	ft_open_dom_like(&d0, &d1);
	cside_open(&d0, &in, false);
	cside_open(&d1, &tg, true);
	to_tg = ft_av_insert(&d0, tg.name);
	(void)ft_av_insert(&d1, in.name);
	tbuf = aligned_alloc(PAGE, PAGE);
	lb = aligned_alloc(PAGE, PAGE);
	if (!tbuf || !lb)
		ft_fatal("out of memory");
	memset(tbuf, 0, PAGE);
	ret = fi_mr_reg(d1.domain, tbuf, PAGE, FI_REMOTE_READ | FI_REMOTE_WRITE, 0,
			ft_next_key(), 0, &tmr, NULL);
	if (!ret && (d1.info->domain_attr->mr_mode & FI_MR_ENDPOINT)) {
		ret = fi_mr_bind(tmr, &tg.ep->fid, 0);
		if (!ret)
			ret = fi_mr_enable(tmr);
	}
	if (ret)
		ft_fatal("counters: fi_mr_reg of the target: %s", ft_strerr(ret));
	ret = fi_mr_reg(d0.domain, lb, PAGE, FI_READ | FI_WRITE, 0, ft_next_key(), 0, &lmr,
			NULL);
	if (!ret && (d0.info->domain_attr->mr_mode & FI_MR_ENDPOINT)) {
		ret = fi_mr_bind(lmr, &in.ep->fid, 0);
		if (!ret)
			ret = fi_mr_enable(lmr);
	}
	if (ret)
		ft_fatal("counters: fi_mr_reg of the local buffer: %s", ft_strerr(ret));
	ldesc = fi_mr_desc(lmr);
	tkey = fi_mr_key(tmr);
	tbase = ft_rma_base(&d1, tbuf);
	lb[0] = 3;
	for (i = 0; i < nbase; i++) {
		struct fi_cq_tagged_entry e;
		uint64_t t0 = ft_now_us();
		ssize_t n;

		/* the first ones with a completion, the rest injected */
		if (i < 2)
			CPOST(&in, &tg, fi_atomic(in.ep, lb, 1, ldesc, to_tg, tbase, tkey,
						  FI_UINT64, FI_SUM, &cop));
		else
			CPOST(&in, &tg, fi_inject_atomic(in.ep, lb, 1, to_tg, tbase, tkey,
							 FI_UINT64, FI_SUM));
		cntr_is(in.c1, &in, &tg, (uint64_t)i + 1, "counters: the initiator's write counter");
		while (i < 2 && (n = fi_cq_read(in.cq, &e, 1)) == -FI_EAGAIN &&
		       ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL)
			cside_progress(&in, &tg);
	}
	for (i = 0; i < nfetch + ncmp; i++) {
		struct fi_cq_tagged_entry e;
		uint64_t t0 = ft_now_us();
		ssize_t n;

		lb[1] = 1;
		lb[2] = 7;	/* compare: never equal, nothing swapped */
		if (i < nfetch)
			CPOST(&in, &tg, fi_fetch_atomic(in.ep, &lb[1], 1, ldesc, &lb[3], ldesc,
							to_tg, tbase + 8, tkey, FI_UINT64,
							FI_SUM, &cop));
		else
			CPOST(&in, &tg, fi_compare_atomic(in.ep, &lb[1], 1, ldesc, &lb[2], ldesc,
							  &lb[3], ldesc, to_tg, tbase + 16,
							  tkey, FI_UINT64, FI_CSWAP, &cop));
		while ((n = fi_cq_read(in.cq, &e, 1)) == -FI_EAGAIN &&
		       ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL)
			cside_progress(&in, &tg);
		ft_check(n == 1, "counters: no completion of the fetch (%zd)", n);
	}
	cntr_is(in.c2, &in, &tg, (uint64_t)(nfetch + ncmp),
		"counters: the initiator's read counter (fetches and compares)");
	ft_check(fi_cntr_read(in.c1) == (uint64_t)nbase,
		 "counters: fetches counted on the write counter");
	ft_check(tbuf[0] == 3 * (uint64_t)nbase && tbuf[1] == (uint64_t)nfetch && tbuf[2] == 0,
		 "counters: the target holds %" PRIu64 ", %" PRIu64 ", %" PRIu64, tbuf[0], tbuf[1],
		 tbuf[2]);
	if (remote && (d1.info->caps & FI_RMA_EVENT) &&
	    !strcmp(d1.info->fabric_attr->prov_name, "sockets") && known("remote-read-cntr")) {
		cntr_is(tg.c1, &in, &tg, (uint64_t)(nbase + nfetch + ncmp),
			"counters: the target's remote write counter (every atomic)");
	} else if (remote && (d1.info->caps & FI_RMA_EVENT)) {
		cntr_is(tg.c1, &in, &tg, (uint64_t)nbase,
			"counters: the target's remote write counter (base atomics)");
		cntr_is(tg.c2, &in, &tg, (uint64_t)(nfetch + ncmp),
			"counters: the target's remote read counter (fetches and compares)");
		ft_log("counters: %d base atomics (3 injected), %d fetches, %d compares counted "
		       "at the initiator (FI_WRITE, FI_READ) and at the target (FI_RMA_EVENT: "
		       "FI_REMOTE_WRITE, FI_REMOTE_READ)", nbase, nfetch, ncmp);
	} else {
		ft_log("counters: %d base atomics, %d fetches, %d compares counted at the "
		       "initiator; no FI_RMA_EVENT: the target's not checked", nbase, nfetch, ncmp);
	}
	ft_close_fid(&tmr->fid, "target mr");
	ft_close_fid(&lmr->fid, "local mr");
	cside_close(&in);
	cside_close(&tg);
	ft_close_dom(&d1);
	ft_close_dom(&d0);
	free(tbuf);
	free(lb);
}

/* ---- errors ---- */

/*
 * An atomic that must complete with an error and change nothing: the
 * target's elements (t0 at t, or the FPGA's at off) and the fetched
 * buffer stay as they were.
 */
static void bad_atomic(struct atom *A, bool fpga, enum kind k, uint64_t addr, uint64_t key,
		       size_t off, const char *what, int want_prov_errno)
{
	struct ft_op fop = { .what = what };
	const struct dtype *d = &dtypes[FI_UINT32];
	uint8_t t0[16], *ob = lbuf(A, L_OPERAND), *rb = lbuf(A, L_RESULT);
	uint32_t v = 0x11223344;
	ssize_t ret;
	struct ft_comp c;

	memset(t0, 0x5c, sizeof(t0));
	memcpy(ob, &v, 4);
	memset(rb, LBYTE, GUARD);
	if (fpga)
		fpga_put(A, off, t0, sizeof(t0));
	else
		memcpy(A->t + off, t0, sizeof(t0));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (k == K_BASE)
		ret = fi_atomic(A->p.ep[0].ep, ob, 1, A->ldesc, fpga ? A->fpga_addr : A->p.peer[0],
				addr, key, FI_UINT32, FI_SUM, &fop);
	else
		ret = fi_fetch_atomic(A->p.ep[0].ep, ob, 1, A->ldesc, rb, A->ldesc,
				      fpga ? A->fpga_addr : A->p.peer[0], addr, key, FI_UINT32,
				      FI_SUM, &fop);
	if (ret) {
		ft_error("%s: posting returned %zd (%s); expected an error completion", what, ret,
			 ft_strerr(ret));
	} else {
		if (ft_wait(&A->p.ep[0].cq, &c))
			ft_fatal("%s: no completion", what);
		ft_check(c.e.op_context == &fop, "%s: completion of another operation", what);
		ft_check(c.err > 0, "%s: completed without error", what);
		if (c.err > 0) {
			errors_seen++;
			ft_log("errors: %s: error completion %d (%s), prov_errno %d: \"%s\"", what,
			       c.err, fi_strerror(c.err), c.prov_errno, c.errstr);
		}
		if (want_prov_errno)
			ft_check(c.prov_errno == want_prov_errno, "%s: prov_errno %d, expected %d",
				 what, c.prov_errno, want_prov_errno);
		/* one completion, no more */
		while (!ft_no_comp(&A->p.ep[0].cq, 100)) {
			struct ft_comp x;

			(void)ft_wait(&A->p.ep[0].cq, &x);
			if (!x.e.op_context && x.err && known("atomic-err-extra"))
				continue;
			ft_error("%s: another completion after its error: context %p, err %d",
				 what, x.e.op_context, x.err);
		}
	}
	/* nothing changed */
	if (fpga) {
		fpga_expect(A, d, off, t0, sizeof(t0) / d->size, what);
	} else {
		ft_progress();
		ft_check(!memcmp(A->t + off, t0, sizeof(t0)), "%s: the target changed", what);
		memset(A->t + off, TBYTE, sizeof(t0));
		ft_expect_bytes(A->t, TLEN, TBYTE, what);
	}
	if (k != K_BASE)
		ft_expect_bytes(rb, GUARD, LBYTE, what);
	ops_done++;
}

/* fpgadma's refusals at the call: -FI_EMSGSIZE, -FI_EINVAL, -FI_EOPNOTSUPP. */
static void test_refusals(struct atom *A)
{
	struct fid_ep *ep = A->p.ep[0].ep;
	size_t max = A->maxcount[K_BASE][FI_UINT64][FI_SUM];
	ssize_t r;

	r = fi_atomic(ep, lbuf(A, L_OPERAND), max + 1, A->ldesc, A->p.peer[0], A->tbase + PAGE,
		      A->tkey, FI_UINT64, FI_SUM, NULL);
	ft_check(r == -FI_EMSGSIZE, "fpgadma: fi_atomic of %zu uint64 (max %zu): %zd, expected "
		 "-FI_EMSGSIZE", max + 1, max, r);
	r = fi_atomic(ep, lbuf(A, L_OPERAND), 0, A->ldesc, A->p.peer[0], A->tbase + PAGE,
		      A->tkey, FI_UINT64, FI_SUM, NULL);
	ft_check(r == -FI_EINVAL, "fpgadma: fi_atomic of 0 elements: %zd, expected -FI_EINVAL", r);
	r = fi_atomic(ep, lbuf(A, L_OPERAND), 1, A->ldesc, A->p.peer[0], A->tbase + PAGE,
		      A->tkey, FI_UINT64, FI_CSWAP, NULL);
	ft_check(r == -FI_EOPNOTSUPP, "fpgadma: fi_atomic with FI_CSWAP: %zd, expected "
		 "-FI_EOPNOTSUPP", r);
	r = fi_atomic(ep, lbuf(A, L_OPERAND), 1, A->ldesc, A->p.peer[0], A->tbase + PAGE,
		      A->tkey, FI_LONG_DOUBLE, FI_SUM, NULL);
	ft_check(r == -FI_EOPNOTSUPP, "fpgadma: fi_atomic of FI_LONG_DOUBLE: %zd, expected "
		 "-FI_EOPNOTSUPP", r);
	r = fi_inject_atomic(ep, lbuf(A, L_OPERAND), 1, A->p.peer[0], A->tbase + PAGE, A->tkey,
			     FI_UINT64, FI_ATOMIC_READ);
	ft_check(r == -FI_EOPNOTSUPP, "fpgadma: fi_inject_atomic with FI_ATOMIC_READ: %zd, "
		 "expected -FI_EOPNOTSUPP", r);
	ft_check(ft_no_comp(&A->p.ep[0].cq, 10), "fpgadma: a refused call made a completion");
	ft_expect_bytes(A->t, TLEN, TBYTE, "fpgadma: refused calls");
	ft_log("errors: fpgadma refuses count %zu + 1 (-FI_EMSGSIZE), count 0 (-FI_EINVAL), "
	       "an operation of another family and FI_LONG_DOUBLE (-FI_EOPNOTSUPP)", max);
}

static void test_errors(struct atom *A)
{
	uint64_t badkey = A->tkey ^ 0x5a5a0000a5a5ULL;

	if (!A->maxcount[K_BASE][FI_UINT32][FI_SUM] || !A->maxcount[K_FETCH][FI_UINT32][FI_SUM]) {
		ft_log("errors: no uint32 SUM: skipped");
		return;
	}
	bad_atomic(A, false, K_BASE, A->tbase + PAGE, badkey, PAGE,
		   "fi_atomic with a wrong key", is_fpgadma ? FPGADMA_WC_REM_ACCESS_ERR : 0);
	bad_atomic(A, false, K_FETCH, A->tbase + PAGE, badkey, PAGE,
		   "fi_fetch_atomic with a wrong key", is_fpgadma ? FPGADMA_WC_REM_ACCESS_ERR : 0);
	if (is_fpgadma) {
		/* the kernel's rule: the target aligned to the element (fi_fpgadma(7)) */
		bad_atomic(A, false, K_BASE, A->tbase + PAGE + 2, A->tkey, PAGE,
			   "fi_atomic of a uint32 at a misaligned address",
			   FI_FPGADMA_ERR_ATOMIC_ALIGN);
		bad_atomic(A, false, K_FETCH, A->tbase + PAGE + 1, A->tkey, PAGE,
			   "fi_fetch_atomic of a uint32 at a misaligned address",
			   FI_FPGADMA_ERR_ATOMIC_ALIGN);
		/* a 32-bit key the kernel looks up (and finds nothing) */
		bad_atomic(A, false, K_BASE, A->tbase + PAGE, (A->tkey ^ 0x00a5a500) & 0xffffffff,
			   PAGE, "fi_atomic with a wrong 32-bit key", FPGADMA_WC_REM_ACCESS_ERR);
		bad_atomic(A, false, K_FETCH, A->tbase + TLEN, A->tkey, TLEN - 16,
			   "fi_fetch_atomic past the MR's end", FPGADMA_WC_REM_ACCESS_ERR);
		test_refusals(A);
	} else {
		ft_log("errors: a misaligned target is the provider's business "
		       "(fi_atomic(3) says nothing): checked on fpgadma only");
	}
	/* still working */
	do_op_host(A, K_FETCH, FI_UINT64, FI_SUM, 3, 0);
	do_op_host(A, K_COMPARE, FI_UINT32, FI_CSWAP, 5, 1);
}

static void test_fpga_errors(struct atom *A)
{
	uint64_t end = A->fpga_info.mem_size;

	if (!A->maxcount[K_FETCH][FI_UINT32][FI_SUM])
		return;
	bad_atomic(A, true, K_BASE, A->fpga_info.mem_base + 16 * PAGE, A->fpga_info.mem_key ^ 1,
		   16 * PAGE, "FPGA: fi_atomic with a wrong key", FPGADMA_WC_REM_ACCESS_ERR);
	bad_atomic(A, true, K_FETCH, A->fpga_info.mem_base + 16 * PAGE,
		   A->fpga_info.stream_key, 16 * PAGE, "FPGA: fi_fetch_atomic with the stream's key",
		   FPGADMA_WC_REM_ACCESS_ERR);
	bad_atomic(A, true, K_FETCH, A->fpga_info.mem_base + 16 * PAGE + 2,
		   A->fpga_info.mem_key, 16 * PAGE, "FPGA: fi_fetch_atomic of a misaligned uint32",
		   FI_FPGADMA_ERR_ATOMIC_ALIGN);
	bad_atomic(A, true, K_BASE, A->fpga_info.mem_base + end, A->fpga_info.mem_key,
		   16 * PAGE, "FPGA: fi_atomic past the device memory's end",
		   FPGADMA_WC_REM_ACCESS_ERR);
	do_op_fpga(A, K_FETCH, FI_UINT64, FI_SUM, 2, 1);
}

/* ---- contention: forked processes on the same words ---- */

struct go {
	uint32_t ok;		/* 0: nothing to do, exit */
	uint32_t namelen;
	uint8_t name[256];
	uint64_t key;
	uint64_t words;		/* the RMA address of the three words */
	uint32_t n_sum, n_ticket, n_cas;
	uint32_t mr_local;	/* the parent needed FI_MR_LOCAL in its hints */
};

struct child {
	pid_t pid;
	int to, from;		/* the parent's ends */
	uint64_t *got;		/* what it reported: tickets, then CAS values */
	size_t ngot, cap;
	int status;
	bool done;
};

static struct child *children;

static bool write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		c += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_all(int fd, void *p, size_t len)
{
	char *c = p;

	while (len) {
		ssize_t n = read(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		c += n;
		len -= (size_t)n;
	}
	return true;
}

/* The child: its own domain and endpoint, the three loops, its results to the parent. */
static void child_run(int idx, int from_parent, int to_parent)
{
	struct go g;
	struct ft_dom d;
	struct ft_ep e;
	struct fid_mr *mr = NULL;
	uint64_t *buf, *out, base, inc = (uint64_t)idx + 1;
	void *desc;
	fi_addr_t peer;
	struct ft_op ops[8];
	bool busy[8] = { false };
	const char *why = NULL;
	unsigned int i, posted = 0, done = 0, inflight = 0;
	size_t nout = 0;
	int ret;

	if (!read_all(from_parent, &g, sizeof(g)) || !g.ok)
		_exit(FT_PASS);
	with_mr_local = g.mr_local;
	if (ft_open_dom(ft_hints(FI_ATOMIC | FI_RMA, hint_mr_mode()), &d, &why))
		ft_fatal("child %d: %s", idx, why);
	ft_open_ep(&d, &e, "child");
	peer = ft_av_insert(&d, g.name);
	buf = aligned_alloc(PAGE, PAGE);
	out = malloc((g.n_ticket + g.n_cas) * sizeof(*out));
	if (!buf || !out)
		ft_fatal("child %d: out of memory", idx);
	ret = ft_mr_reg(&d, &e, buf, PAGE, FI_READ | FI_WRITE, 0, &mr);
	if (ret)
		ft_fatal("child %d: fi_mr_reg: %s", idx, ft_strerr(ret));
	desc = fi_mr_desc(mr);
	base = g.words;

	/* FI_SUM of idx + 1, n_sum times, up to 8 in flight, every third injected */
	buf[0] = inc;
	memset(ops, 0, sizeof(ops));
	while (done < g.n_sum) {
		struct ft_comp c;

		if (posted < g.n_sum && inflight < 8) {
			if (posted % 3 == 2) {
				POSTOK(fi_inject_atomic(e.ep, &buf[0], 1, peer, base, g.key,
							FI_UINT64, FI_SUM));
				posted++;
				done++;
				continue;
			}
			for (i = 0; busy[i]; i++)
				;
			busy[i] = true;
			ops[i].what = "child: FI_SUM";
			POSTOK(fi_atomic(e.ep, &buf[0], 1, desc, peer, base, g.key, FI_UINT64,
					 FI_SUM, &ops[i]));
			posted++;
			inflight++;
			continue;
		}
		if (ft_wait(&e.cq, &c))
			ft_fatal("child %d: no completion of a FI_SUM", idx);
		if (c.err)
			ft_fatal("child %d: FI_SUM failed: %s", idx, c.errstr);
		for (i = 0; i < 8 && c.e.op_context != &ops[i]; i++)
			;
		if (i == 8 || !busy[i])
			ft_fatal("child %d: a completion of no FI_SUM in flight", idx);
		busy[i] = false;
		inflight--;
		done++;
	}
	/* tickets: fetch-and-add 1 */
	buf[8] = 1;
	for (i = 0; i < g.n_ticket; i++) {
		struct ft_op op = { .what = "child: ticket" };

		POSTOK(fi_fetch_atomic(e.ep, &buf[8], 1, desc, &buf[9], desc, peer, base + 8,
				       g.key, FI_UINT64, FI_SUM, &op));
		ft_wait_op(&e.cq, &op, NULL);
		out[nout++] = buf[9];
	}
	/* CSWAP increments: guess, swap guess + 1 in, learn the value when it fails */
	buf[12] = 0;
	for (i = 0; i < g.n_cas;) {
		struct ft_op op = { .what = "child: CSWAP" };

		buf[10] = buf[12];		/* compare */
		buf[11] = buf[12] + 1;		/* new value */
		POSTOK(fi_compare_atomic(e.ep, &buf[11], 1, desc, &buf[10], desc, &buf[13], desc,
					 peer, base + 16, g.key, FI_UINT64, FI_CSWAP, &op));
		ft_wait_op(&e.cq, &op, NULL);
		if (buf[13] == buf[10]) {
			out[nout++] = buf[11];	/* this increment was ours */
			buf[12] = buf[11];
			i++;
		} else {
			buf[12] = buf[13];
		}
	}
	if (!write_all(to_parent, &nout, sizeof(nout)) ||
	    !write_all(to_parent, out, nout * sizeof(*out)))
		ft_fatal("child %d: the parent is gone", idx);
	ft_close_fid(&mr->fid, "mr");
	ft_close_ep(&e);
	ft_close_dom(&d);
	free(buf);
	free(out);
	_exit(ft_failures() ? FT_FAIL : FT_PASS);
}

/* Before any libfabric call: the children wait for the parent's word. */
static void fork_children(void)
{
	int i;

	if (!nprocs)
		return;
	children = calloc((size_t)nprocs, sizeof(*children));
	if (!children)
		ft_fatal("out of memory");
	signal(SIGPIPE, SIG_IGN);
	fflush(stdout);
	for (i = 0; i < nprocs; i++) {
		int down[2], up[2];
		pid_t pid;

		if (pipe(down) || pipe(up))
			ft_fatal("pipe: %s", strerror(errno));
		pid = fork();
		if (pid < 0)
			ft_fatal("fork: %s", strerror(errno));
		if (!pid) {
			int j;

			close(down[1]);
			close(up[0]);
			for (j = 0; j < i; j++) {
				close(children[j].to);
				close(children[j].from);
			}
			child_run(i, down[0], up[1]);
		}
		close(down[0]);
		close(up[1]);
		children[i].pid = pid;
		children[i].to = down[1];
		children[i].from = up[0];
		fcntl(up[0], F_SETFL, O_NONBLOCK);
	}
}

/* Tell the children there is nothing to do (the parent skips or stops). */
static void release_children(void)
{
	struct go g = { 0 };
	int i, status;

	if (!children)
		return;
	for (i = 0; i < nprocs; i++) {
		if (children[i].to >= 0) {
			(void)write_all(children[i].to, &g, sizeof(g));
			close(children[i].to);
		} else if (!children[i].done) {
			kill(children[i].pid, SIGKILL);	/* started: the parent stopped */
		}
		if (!children[i].done)
			(void)waitpid(children[i].pid, &status, 0);
	}
	free(children);
	children = NULL;
}

static void skip_exit(void)
{
	release_children();
}

/* Take what a child has written so far (non-blocking). */
static void child_read(struct child *c)
{
	uint8_t tmp[4096];
	ssize_t n;

	while ((n = read(c->from, tmp, sizeof(tmp))) > 0) {
		size_t need = c->ngot + (size_t)n;

		if (need > c->cap) {
			c->cap = need * 2;
			c->got = realloc(c->got, c->cap);
			if (!c->got)
				ft_fatal("out of memory");
		}
		memcpy((uint8_t *)c->got + c->ngot, tmp, (size_t)n);
		c->ngot += (size_t)n;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_contend(struct atom *A)
{
	volatile uint64_t *w = (volatile uint64_t *)(void *)(A->t + PAGE);
	uint64_t t0, want_sum = 0, *tickets, *cas;
	size_t nt = 0, nc = 0;
	unsigned int left = (unsigned int)nprocs, i, j;
	struct go g = { .ok = 1 };
	bool fine = true;

	if (!nprocs)
		return;
	if (!A->maxcount[K_BASE][FI_UINT64][FI_SUM] || !A->maxcount[K_FETCH][FI_UINT64][FI_SUM] ||
	    !A->maxcount[K_COMPARE][FI_UINT64][FI_CSWAP]) {
		ft_log("contend: no uint64 SUM, fetch SUM or CSWAP: skipped");
		release_children();
		return;
	}
	w[0] = w[1] = w[2] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	g.namelen = (uint32_t)A->p.ep[1].namelen;
	memcpy(g.name, A->p.ep[1].name, A->p.ep[1].namelen);
	g.key = A->tkey;
	g.words = A->tbase + PAGE;	/* an address, or an offset into the MR */
	g.mr_local = with_mr_local;
	g.n_sum = n_sum;
	g.n_ticket = n_ticket;
	g.n_cas = n_cas;
	for (i = 0; i < (unsigned int)nprocs; i++) {
		if (!write_all(children[i].to, &g, sizeof(g)))
			ft_fatal("contend: child %u is gone", i);
		close(children[i].to);
		children[i].to = -1;
		want_sum += (uint64_t)n_sum * (i + 1);
	}
	/* the target's progress (some providers need it) until every child is done */
	t0 = ft_now_us();
	while (left) {
		for (i = 0; i < (unsigned int)nprocs; i++) {
			struct child *c = &children[i];

			child_read(c);
			if (!c->done && waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
				c->done = true;
				child_read(c);
				left--;
			}
		}
		ft_progress();
		if (ft_now_us() - t0 > 30ULL * ft_opts.timeout_ms * 1000ULL) {
			for (i = 0; i < (unsigned int)nprocs; i++)
				if (!children[i].done)
					kill(children[i].pid, SIGKILL);
			ft_fatal("contend: the children took more than %u s",
				 30 * ft_opts.timeout_ms / 1000);
		}
		if (left)
			usleep(100);
	}
	tickets = malloc((size_t)nprocs * n_ticket * sizeof(*tickets));
	cas = malloc((size_t)nprocs * n_cas * sizeof(*cas));
	if (!tickets || !cas)
		ft_fatal("out of memory");
	for (i = 0; i < (unsigned int)nprocs; i++) {
		struct child *c = &children[i];
		uint64_t n;

		if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != FT_PASS) {
			ft_error("contend: child %u ended with status %#x", i, c->status);
			fine = false;
			continue;
		}
		if (c->ngot < sizeof(n) || (memcpy(&n, c->got, sizeof(n)), n != n_ticket + n_cas) ||
		    c->ngot != sizeof(n) + n * sizeof(uint64_t)) {
			ft_error("contend: child %u reported %zu bytes", i, c->ngot);
			fine = false;
			continue;
		}
		for (j = 0; j < n_ticket; j++)
			tickets[nt++] = c->got[1 + j];
		for (j = 0; j < n_cas; j++)
			cas[nc++] = c->got[1 + n_ticket + j];
		if (c->from >= 0)
			close(c->from);
		free(c->got);
	}
	free(children);
	children = NULL;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ft_check(w[0] == want_sum, "contend: FI_SUM total %" PRIu64 ", expected %" PRIu64
		 " (%d processes x %u adds of their number)", w[0], want_sum, nprocs, n_sum);
	if (fine) {
		qsort(tickets, nt, sizeof(*tickets), cmp_u64);
		qsort(cas, nc, sizeof(*cas), cmp_u64);
		for (j = 0; j < nt && tickets[j] == j; j++)
			;
		ft_check(j == nt, "contend: ticket %u is %" PRIu64 " (each of 0..%zu once)", j,
			 j < nt ? tickets[j] : 0, nt - 1);
		for (j = 0; j < nc && cas[j] == j + 1; j++)
			;
		ft_check(j == nc, "contend: CSWAP increment %u installed %" PRIu64
			 " (each of 1..%zu once)", j, j < nc ? cas[j] : 0, nc);
		ft_check(w[1] == nt, "contend: %" PRIu64 " tickets counted, %zu handed out", w[1],
			 nt);
		ft_check(w[2] == nc, "contend: the CSWAP counter is %" PRIu64 ", expected %zu",
			 w[2], nc);
	}
	ft_log("contend: %d processes: %u FI_SUM each (total %" PRIu64 "), %u fetch-and-add "
	       "tickets each (each number once), %u CSWAP increments each (counter %" PRIu64
	       ") (%.1f ms)", nprocs, n_sum, w[0], n_ticket, n_cas, w[2],
	       (double)(ft_now_us() - t0) / 1000);
	memset(A->t + PAGE, TBYTE, 24);
	free(tickets);
	free(cas);
	ops_done += (uint64_t)nprocs * (n_sum + n_ticket + n_cas);
}

int main(int argc, char **argv)
{
	struct atom A;

	ft_parse(argc, argv, "sFLP:N:",
		 "[-s] [-F] [-L] [-P PROCS] [-N COUNT]\n"
		 "  -s           both endpoints in one domain (default: two domains)\n"
		 "  -F           not the FPGA's memory (fpgadma)\n"
		 "  -L           FI_MR_LOCAL in the hints (default: only if nothing matches\n"
		 "               without; without it NULL desc is tried too)\n"
		 "  -P PROCS     processes of the contention test (default 3; 0: none)\n"
		 "  -N COUNT     FI_SUM adds of each (default 2000; tickets 1/5, CSWAP 1/7)",
		 opt);
	fork_children();
	atexit(skip_exit);
	memset(&A, 0, sizeof(A));
	atom_open(&A);
	test_valid(&A);
	test_ops(&A, false);
	if (is_fpgadma)
		test_fp_special(&A);
	else
		ft_log("fp-special: CSWAP's bits against values (+0.0/-0.0, NaN) is the "
		       "provider's choice: checked on fpgadma only");
	test_order(&A);
	test_cq_data(&A);
	if (is_fpgadma && !no_fpga) {
		ft_query_fpga(A.ld, &A.fpga_info);
		if (A.fpga_info.mem_size < 32 * PAGE) {
			ft_log("fpga: %" PRIu64 " bytes of device memory: skipped",
			       A.fpga_info.mem_size);
		} else {
			A.fpga_addr = ft_av_insert(A.ld, A.fpga_info.addr);
			test_ops(&A, true);
			test_fpga_errors(&A);
		}
	}
	test_errors(&A);
	test_contend(&A);
	atom_close(&A);
	test_counters();
	return ft_finish("%" PRIu64 " atomics, %" PRIu64 " elements checked, %" PRIu64
			 " error completions (%s)", ops_done, elems_checked, errors_seen,
			 one_domain ? "one domain" : "two domains");
}
