// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * atomic_ops: every atomic operation on every datatype the device takes,
 * against a computation of the same in the test, bit for bit.
 *
 * Context a runs atomics (fpgadma_post_atomic()) on a two-page MR of
 * context b, named by its rkey with a virtual address and with an offset
 * (FPGADMA_WR_F_REMOTE_OFFSET), and on device memory (ATOMIC_MEM).  For
 * each valid operation x datatype (fpgadma_atomic_op_valid(): 200 of them;
 * the floating-point ones only with FPGADMA_CAP_ATOMIC_FP), three runs: a
 * few elements by address with the result fetched; as many elements as a
 * WR takes (FPGADMA_ATOMIC_MAX_SIZE bytes) by offset, without fetching
 * (ATOMIC_READ fetches); a few in device memory, fetching or not.  The
 * values are random (seed printed, argv[1] repeats it) with compare values
 * equal to the target, zeros, and +0.0 against -0.0 mixed in; targets lie
 * at random aligned offsets, a quarter of them across the MR's page
 * boundary (and so, in general, two DMA segments).  After each: the CQE
 * (SUCCESS, byte_len count * size), the target equal to the test's own
 * computation of the ABI's semantics (fpgadma-abi.h, "Atomic operations":
 * integers wrap, floating point in the type's precision without fused
 * multiply-add, CSWAP and CSWAP_NE on bits), every other byte of the MR or
 * of the device window unchanged, the result equal to the target's old
 * values (or untouched without FETCH) and nothing written past it, the
 * operand and compare pieces unchanged.
 *
 * Then: a batch of atomics on one word runs in posting order; rights
 * (REMOTE_WRITE to modify, REMOTE_READ to fetch, both for both); the
 * errors, each completing with its status, byte_len 0 and nothing
 * changed (target, device window, result): an unknown or dead rkey, a
 * missing right, a range outside the MR (before it, past its end by
 * address and by offset, an offset that wraps) or device memory
 * (REM_ACCESS_ERR), a misaligned target (REM_INV_REQ_ERR, by address, by
 * offset and in device memory; a double complex needs 8, not 16), a result
 * piece without LOCAL_WRITE (LOC_ACCESS_ERR), a bad operand lkey
 * (LOC_PROT_ERR) or an operand outside its MR (LOC_LEN_ERR); and the
 * malformed ones POST refuses with EINVAL, posting nothing of the batch:
 * every invalid operation x datatype (LONG_DOUBLE and LONG_DOUBLE_COMPLEX
 * among them), ATOMIC_READ without FETCH, a piece missing or extra,
 * pieces of different lengths, of 0 bytes, not a whole number of elements
 * or over FPGADMA_ATOMIC_MAX_SIZE, an unknown flag, REMOTE_OFFSET or an
 * rkey on ATOMIC_MEM, dest or reserved set.  Nothing stays pinned or
 * registered.  On a device without FPGADMA_CAP_ATOMIC it skips:
 * atomic_unsupported checks the refusal there.
 */
#include "helpers.h"

#include <sys/ioctl.h>

#define MAXB		FPGADMA_ATOMIC_MAX_SIZE
/* a's buffer: operand, compare values, result (with a canary after), device window */
#define L_OPND		0
#define L_CMP		1024
#define L_RES		2048
#define RES_CANARY	64
#define L_WIN		4096
#define WIN_LEN		1024
#define WIN_PAD		64
#define LOC_LEN		8192

enum mode { M_VA, M_OFF, M_MEM };
static const char *const mode_name[] = { "by address", "by offset", "device memory" };

static struct t_dev a, b;
static struct t_rng rng;
static uint64_t seed;
static size_t page, tlen;
static uint8_t *loc, *tgt, *tgt_copy, *win_copy;
static struct fpgadma_mr *mloc, *mtgt;
static uint64_t dev_base;
static unsigned int nruns, nerr, nrefused, nbytes_checked;

struct acase {
	uint32_t op, type, mode, count;
	uint64_t off;	/* in b's MR (M_VA, M_OFF) or in the device window (M_MEM) */
	bool fetch;
};

static uint64_t rnd(uint64_t n)
{
	return t_rand_below(&rng, n);
}

/* ---- the test's own computation of the ABI's semantics ---- */

#define HOST_INT(name, type)						\
static void name(uint32_t op, uint8_t *tb, const uint8_t *ob, const uint8_t *cb, \
		 uint32_t n)						\
{									\
	uint32_t i;							\
									\
	for (i = 0; i < n; i++) {					\
		type v, x, y = 0;					\
									\
		memcpy(&v, tb + i * sizeof(type), sizeof(type));	\
		memcpy(&x, ob + i * sizeof(type), sizeof(type));	\
		if (cb)							\
			memcpy(&y, cb + i * sizeof(type), sizeof(type)); \
		switch (op) {						\
		case FPGADMA_ATOMIC_MIN: if (x < v) v = x; break;	\
		case FPGADMA_ATOMIC_MAX: if (x > v) v = x; break;	\
		case FPGADMA_ATOMIC_SUM: v = (type)((uint64_t)v + (uint64_t)x); break; \
		case FPGADMA_ATOMIC_PROD: v = (type)((uint64_t)v * (uint64_t)x); break; \
		case FPGADMA_ATOMIC_LOR: v = (type)(v != 0 || x != 0); break; \
		case FPGADMA_ATOMIC_LAND: v = (type)(v != 0 && x != 0); break; \
		case FPGADMA_ATOMIC_BOR: v = (type)(v | x); break;	\
		case FPGADMA_ATOMIC_BAND: v = (type)(v & x); break;	\
		case FPGADMA_ATOMIC_LXOR: v = (type)((v != 0) != (x != 0)); break; \
		case FPGADMA_ATOMIC_BXOR: v = (type)(v ^ x); break;	\
		case FPGADMA_ATOMIC_CSWAP_LE: if (y <= v) v = x; break;	\
		case FPGADMA_ATOMIC_CSWAP_LT: if (y < v) v = x; break;	\
		case FPGADMA_ATOMIC_CSWAP_GE: if (y >= v) v = x; break;	\
		case FPGADMA_ATOMIC_CSWAP_GT: if (y > v) v = x; break;	\
		case FPGADMA_ATOMIC_MSWAP: v = (type)((x & y) | (v & ~y)); break; \
		default: t_fail("test bug: integer op %u", op);		\
		}							\
		memcpy(tb + i * sizeof(type), &v, sizeof(type));	\
	}								\
}

#define HOST_REAL(name, type)						\
static void name(uint32_t op, uint8_t *tb, const uint8_t *ob, const uint8_t *cb, \
		 uint32_t n)						\
{									\
	uint32_t i;							\
									\
	for (i = 0; i < n; i++) {					\
		type v, x, y = 0;					\
									\
		memcpy(&v, tb + i * sizeof(type), sizeof(type));	\
		memcpy(&x, ob + i * sizeof(type), sizeof(type));	\
		if (cb)							\
			memcpy(&y, cb + i * sizeof(type), sizeof(type)); \
		switch (op) {						\
		case FPGADMA_ATOMIC_MIN: if (x < v) v = x; break;	\
		case FPGADMA_ATOMIC_MAX: if (x > v) v = x; break;	\
		case FPGADMA_ATOMIC_SUM: v = v + x; break;		\
		case FPGADMA_ATOMIC_PROD: v = v * x; break;		\
		case FPGADMA_ATOMIC_LOR: v = (v != 0 || x != 0) ? 1 : 0; break; \
		case FPGADMA_ATOMIC_LAND: v = (v != 0 && x != 0) ? 1 : 0; break; \
		case FPGADMA_ATOMIC_LXOR: v = ((v != 0) != (x != 0)) ? 1 : 0; break; \
		case FPGADMA_ATOMIC_CSWAP_LE: if (y <= v) v = x; break;	\
		case FPGADMA_ATOMIC_CSWAP_LT: if (y < v) v = x; break;	\
		case FPGADMA_ATOMIC_CSWAP_GE: if (y >= v) v = x; break;	\
		case FPGADMA_ATOMIC_CSWAP_GT: if (y > v) v = x; break;	\
		default: t_fail("test bug: real op %u", op);		\
		}							\
		memcpy(tb + i * sizeof(type), &v, sizeof(type));	\
	}								\
}

#define HOST_COMPLEX(name, type)					\
static void name(uint32_t op, uint8_t *tb, const uint8_t *ob, uint32_t n) \
{									\
	uint32_t i;							\
									\
	for (i = 0; i < n; i++) {					\
		type t[2], o[2], r[2] = { 0, 0 };			\
		bool tv, ov;						\
									\
		memcpy(t, tb + i * sizeof(t), sizeof(t));		\
		memcpy(o, ob + i * sizeof(o), sizeof(o));		\
		tv = t[0] != 0 || t[1] != 0;				\
		ov = o[0] != 0 || o[1] != 0;				\
		switch (op) {						\
		case FPGADMA_ATOMIC_SUM:				\
			r[0] = t[0] + o[0];				\
			r[1] = t[1] + o[1];				\
			break;						\
		case FPGADMA_ATOMIC_PROD:				\
			r[0] = t[0] * o[0] - t[1] * o[1];		\
			r[1] = t[0] * o[1] + t[1] * o[0];		\
			break;						\
		case FPGADMA_ATOMIC_LOR: r[0] = (tv || ov) ? 1 : 0; break; \
		case FPGADMA_ATOMIC_LAND: r[0] = (tv && ov) ? 1 : 0; break; \
		case FPGADMA_ATOMIC_LXOR: r[0] = (tv != ov) ? 1 : 0; break; \
		default: t_fail("test bug: complex op %u", op);		\
		}							\
		memcpy(tb + i * sizeof(r), r, sizeof(r));		\
	}								\
}

HOST_INT(host_s8, int8_t)
HOST_INT(host_u8, uint8_t)
HOST_INT(host_s16, int16_t)
HOST_INT(host_u16, uint16_t)
HOST_INT(host_s32, int32_t)
HOST_INT(host_u32, uint32_t)
HOST_INT(host_s64, int64_t)
HOST_INT(host_u64, uint64_t)
HOST_REAL(host_float, float)
HOST_REAL(host_double, double)
HOST_COMPLEX(host_cfloat, float)
HOST_COMPLEX(host_cdouble, double)

/* What op does to len bytes of target t (in place), with operand o and compare c. */
static void host_compute(uint32_t op, uint32_t type, uint32_t len, uint8_t *t,
			 const uint8_t *o, const uint8_t *c)
{
	uint32_t size = fpgadma_atomic_type_size(type), n = len / size, i;

	switch (op) {
	case FPGADMA_ATOMIC_READ:
		return;
	case FPGADMA_ATOMIC_WRITE:
		memcpy(t, o, len);
		return;
	case FPGADMA_ATOMIC_CSWAP:
	case FPGADMA_ATOMIC_CSWAP_NE:
		/* on the elements' bits */
		for (i = 0; i < len; i += size)
			if ((memcmp(c + i, t + i, size) == 0) == (op == FPGADMA_ATOMIC_CSWAP))
				memcpy(t + i, o + i, size);
		return;
	}
	switch (type) {
	case FPGADMA_TYPE_INT8: host_s8(op, t, o, c, n); break;
	case FPGADMA_TYPE_UINT8: host_u8(op, t, o, c, n); break;
	case FPGADMA_TYPE_INT16: host_s16(op, t, o, c, n); break;
	case FPGADMA_TYPE_UINT16: host_u16(op, t, o, c, n); break;
	case FPGADMA_TYPE_INT32: host_s32(op, t, o, c, n); break;
	case FPGADMA_TYPE_UINT32: host_u32(op, t, o, c, n); break;
	case FPGADMA_TYPE_INT64: host_s64(op, t, o, c, n); break;
	case FPGADMA_TYPE_UINT64: host_u64(op, t, o, c, n); break;
	case FPGADMA_TYPE_FLOAT: host_float(op, t, o, c, n); break;
	case FPGADMA_TYPE_DOUBLE: host_double(op, t, o, c, n); break;
	case FPGADMA_TYPE_FLOAT_COMPLEX: host_cfloat(op, t, o, n); break;
	case FPGADMA_TYPE_DOUBLE_COMPLEX: host_cdouble(op, t, o, n); break;
	default: t_fail("test bug: type %u", type);
	}
}

/* ---- values ---- */

/* A finite value exact in the type: m * 2^e, m of 20 (float) or 40 (double) bits. */
static double gen_real(bool dbl)
{
	int64_t half = dbl ? 1LL << 39 : 1LL << 19;
	double x;
	int e;

	switch (rnd(10)) {
	case 0: return 0.0;
	case 1: return -0.0;
	case 2: return 1.0;
	case 3: return -2.5;
	}
	x = (double)((int64_t)rnd(2 * (uint64_t)half) - half);
	for (e = (int)rnd(48) - 30; e > 0; e--)
		x *= 2;
	for (; e < 0; e++)
		x /= 2;
	return x;
}

static void gen_elem(uint32_t type, uint8_t *p)
{
	uint32_t size = fpgadma_atomic_type_size(type);
	uint64_t v;
	float f[2];
	double d[2];

	switch (type) {
	case FPGADMA_TYPE_FLOAT:
	case FPGADMA_TYPE_FLOAT_COMPLEX:
		f[0] = (float)gen_real(false);
		f[1] = (float)gen_real(false);
		memcpy(p, f, size);
		return;
	case FPGADMA_TYPE_DOUBLE:
	case FPGADMA_TYPE_DOUBLE_COMPLEX:
		d[0] = gen_real(true);
		d[1] = gen_real(true);
		memcpy(p, d, size);
		return;
	}
	switch (rnd(8)) {
	case 0: v = 0; break;
	case 1: v = 1; break;
	case 2: v = ~0ULL; break;
	case 3: v = rnd(16); break;
	default: v = t_rand(&rng); break;
	}
	memcpy(p, &v, size);	/* little endian: the low bytes */
}

/* +0 or -0 in every part of an element of a floating-point type. */
static void zero_elem(uint32_t type, uint8_t *p, bool negative)
{
	uint32_t size = fpgadma_atomic_type_size(type), part;

	memset(p, 0, size);
	if (!negative)
		return;
	part = type == FPGADMA_TYPE_FLOAT || type == FPGADMA_TYPE_FLOAT_COMPLEX ? 4 : 8;
	for (uint32_t i = part - 1; i < size; i += part)
		p[i] = 0x80;
}

/* Random target, operand and compare values, with equal, zero and signed-zero pairs. */
static void gen_values(uint32_t type, uint32_t len, uint8_t *t, uint8_t *o, uint8_t *c)
{
	uint32_t size = fpgadma_atomic_type_size(type), i;
	bool fp = fpgadma_atomic_type_is_fp(type);

	for (i = 0; i < len; i += size) {
		gen_elem(type, t + i);
		gen_elem(type, o + i);
		gen_elem(type, c + i);
		switch (rnd(6)) {
		case 0:
			memcpy(c + i, t + i, size);
			break;
		case 1:
			memset(t + i, 0, size);
			break;
		case 2:
			memset(o + i, 0, size);
			break;
		case 3:
			if (fp) {
				zero_elem(type, t + i, false);
				zero_elem(type, c + i, true);
			}
			break;
		}
	}
}

/* ---- checks ---- */

static void check_bytes_at(int line, const uint8_t *got, const uint8_t *want, size_t len,
			   const char *what, const struct acase *k)
{
	size_t i;

	nbytes_checked += (unsigned int)len;
	for (i = 0; i < len; i++)
		if (got[i] != want[i])
			break;
	if (i == len)
		return;
	t_log("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, got[i], want[i]);
	if (k)
		t_fail_at(__FILE__, line, "%s %s, %u element(s) %s at %llu%s: %s wrong (seed %llu)",
			  t_atomic_op_name(k->op), t_atomic_type_name(k->type), k->count,
			  mode_name[k->mode], (unsigned long long)k->off,
			  k->fetch ? ", fetching" : "", what, (unsigned long long)seed);
	t_fail_at(__FILE__, line, "%s wrong (seed %llu)", what, (unsigned long long)seed);
}
#define check_bytes(got, want, len, what, k) check_bytes_at(__LINE__, got, want, len, what, k)

/* Fill b's MR with a pattern (remembered) and the device window too (through a's buffer). */
static void set_targets(bool window, uint64_t pattern)
{
	t_fill(tgt, tlen, pattern, 0);
	memcpy(tgt_copy, tgt, tlen);
	if (window) {
		t_fill(loc + L_WIN, WIN_LEN, pattern + 1, 0);
		memcpy(win_copy, loc + L_WIN, WIN_LEN);
	}
}

static void write_window(void)
{
	t_dev_write(&a, mloc, loc + L_WIN, WIN_LEN, dev_base);
}

static void check_window(const struct acase *k, const char *what)
{
	memset(loc + L_WIN, 0, WIN_LEN);
	t_dev_read(&a, mloc, loc + L_WIN, WIN_LEN, dev_base);
	check_bytes(loc + L_WIN, win_copy, WIN_LEN, what, k);
}

/* ---- one operation ---- */

static void run_case(const struct acase *k)
{
	uint32_t size = fpgadma_atomic_type_size(k->type), len = k->count * size;
	bool has_opnd = k->op != FPGADMA_ATOMIC_READ;
	bool has_cmp = fpgadma_atomic_op_has_compare(k->op);
	uint64_t init_[MAXB / 8], opnd_[MAXB / 8], cmp_[MAXB / 8], want_[MAXB / 8];
	uint8_t *init = (uint8_t *)init_, *opnd = (uint8_t *)opnd_, *cmp = (uint8_t *)cmp_;
	uint8_t *want = (uint8_t *)want_, res_want[MAXB + RES_CANARY];
	struct fpgadma_sge so, sc, sr;
	uint64_t raddr, wr_id = a.next_wr_id++;
	uint32_t rkey = 0, flags = 0;
	struct fpgadma_cqe c;

	CHECK(len >= size && len <= MAXB);
	gen_values(k->type, len, init, opnd, cmp);
	memcpy(want, init, len);
	host_compute(k->op, k->type, len, want, opnd, cmp);

	memcpy(loc + L_OPND, opnd, len);
	memcpy(loc + L_CMP, cmp, len);
	memset(loc + L_RES, 0xa5, len + RES_CANARY);
	memset(res_want, 0xa5, len + RES_CANARY);
	if (k->fetch)
		memcpy(res_want, init, len);

	set_targets(k->mode == M_MEM, seed + nruns);
	if (k->mode == M_MEM) {
		memcpy(loc + L_WIN + k->off, init, len);
		memcpy(win_copy + k->off, want, len);
		write_window();
		raddr = dev_base + k->off;
	} else {
		memcpy(tgt + k->off, init, len);
		memcpy(tgt_copy + k->off, want, len);
		rkey = mtgt->rkey;
		raddr = k->mode == M_VA ? (uintptr_t)(tgt + k->off) : k->off;
		flags = k->mode == M_OFF ? FPGADMA_WR_F_REMOTE_OFFSET : 0;
	}
	so = t_sge(mloc, loc + L_OPND, len);
	sc = t_sge(mloc, loc + L_CMP, len);
	sr = t_sge(mloc, loc + L_RES, len);
	CHECK_OK(fpgadma_post_atomic(a.ctx, wr_id, k->op, k->type, rkey, raddr, flags,
				     has_opnd ? &so : NULL, has_cmp ? &sc : NULL,
				     k->fetch ? &sr : NULL));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, wr_id, k->mode == M_MEM ? FPGADMA_WR_ATOMIC_MEM : FPGADMA_WR_ATOMIC,
		  FPGADMA_WC_SUCCESS, len);

	if (k->mode == M_MEM)
		check_window(k, "the device window (target and the bytes around it)");
	else
		check_bytes(tgt, tgt_copy, tlen, "the peer MR (target and the bytes around it)", k);
	check_bytes(loc + L_RES, res_want, len + RES_CANARY,
		    k->fetch ? "the result (the old values, nothing past them)" :
			       "the result piece of a WR that does not fetch", k);
	check_bytes(loc + L_OPND, opnd, len, "the operand piece", k);
	check_bytes(loc + L_CMP, cmp, len, "the compare piece", k);
	nruns++;
}

/* A target offset for len bytes of type: aligned, a quarter of them across a page boundary. */
static uint64_t pick_off(uint32_t mode, uint32_t type, uint32_t len)
{
	uint32_t align = fpgadma_atomic_type_align(type);
	uint64_t half;

	if (mode == M_MEM)
		return WIN_PAD + align * rnd((WIN_LEN - 2 * WIN_PAD - len) / align + 1);
	if (rnd(4) == 0) {
		half = (len / 2) / align * align;
		return page - (half ? half : align);
	}
	return 64 + align * rnd(64 / align + 1);
}

/* ---- errors ---- */

struct ecase {
	const char *what;
	uint32_t op, type, rkey, flags;
	uint64_t raddr;
	bool mem;
	struct fpgadma_sge so, sc, sr;
	bool fetch;
};

/* A SUM of one UINT64 on b's MR at offset off (by address), fetching. */
static struct ecase e_sum(const char *what, uint64_t off)
{
	struct ecase e = {
		.what = what, .op = FPGADMA_ATOMIC_SUM, .type = FPGADMA_TYPE_UINT64,
		.rkey = mtgt->rkey, .raddr = (uintptr_t)(tgt + off), .fetch = true,
	};

	e.so = t_sge(mloc, loc + L_OPND, 8);
	e.sc = t_sge(mloc, loc + L_CMP, 8);
	e.sr = t_sge(mloc, loc + L_RES, 8);
	return e;
}

/* Run e, which must complete with status having changed nothing. */
static uint64_t post_ecase(const struct ecase *e)
{
	uint64_t wr_id = a.next_wr_id++;
	bool has_opnd = e->op != FPGADMA_ATOMIC_READ;
	bool has_cmp = fpgadma_atomic_op_has_compare(e->op);

	CHECK_OK(fpgadma_post_atomic(a.ctx, wr_id, e->op, e->type, e->mem ? 0 : e->rkey,
				     e->raddr, e->flags, has_opnd ? &e->so : NULL,
				     has_cmp ? &e->sc : NULL, e->fetch ? &e->sr : NULL));
	return wr_id;
}

static void expect_status(const struct ecase *e, uint32_t status)
{
	uint8_t res_want[MAXB + RES_CANARY];
	struct fpgadma_cqe c;
	uint64_t wr_id;

	set_targets(e->mem, seed ^ 0xe77);
	if (e->mem)
		write_window();
	memset(loc + L_RES, 0xa5, MAXB + RES_CANARY);
	memset(res_want, 0xa5, sizeof(res_want));
	t_fill(loc + L_OPND, 8, seed, 0);
	wr_id = post_ecase(e);
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, wr_id, e->mem ? FPGADMA_WR_ATOMIC_MEM : FPGADMA_WR_ATOMIC, status, 0);
	check_bytes(tgt, tgt_copy, tlen, e->what, NULL);
	check_bytes(loc + L_RES, res_want, sizeof(res_want), e->what, NULL);
	if (e->mem)
		check_window(NULL, e->what);
	t_log("%-62s %s", e->what, fpgadma_wc_status_str(status));
	nerr++;
}

static void error_cases(void)
{
	struct fpgadma_mr *mro, *mwo, *mnone, *mloc_ro, *mdead;
	uint8_t *other = t_map(page);
	uint64_t off = 128, u64v, want, wr;
	struct fpgadma_cqe c;
	struct ecase e;
	uint32_t dead;

	/* b's MR again with fewer rights; a's buffer again without LOCAL_WRITE */
	mro = t_reg(&b, tgt, tlen, FPGADMA_ACCESS_REMOTE_READ);
	mwo = t_reg(&b, tgt, tlen, FPGADMA_ACCESS_REMOTE_WRITE);
	mnone = t_reg(&b, tgt, tlen, FPGADMA_ACCESS_LOCAL_WRITE);
	mloc_ro = t_reg(&a, loc, LOC_LEN, 0);

	e = e_sum("SUM, an rkey nobody has", off);
	e.rkey ^= 0x5a5a5a5a;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM (modifies), peer MR with REMOTE_READ only", off);
	e.rkey = mro->rkey;
	e.fetch = false;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM fetching, peer MR with REMOTE_WRITE only", off);
	e.rkey = mwo->rkey;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("ATOMIC_READ, peer MR with REMOTE_WRITE only", off);
	e.op = FPGADMA_ATOMIC_READ;
	e.rkey = mwo->rkey;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("CSWAP fetching, peer MR with REMOTE_READ only", off);
	e.op = FPGADMA_ATOMIC_CSWAP;
	e.rkey = mro->rkey;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("ATOMIC_WRITE, peer MR without remote rights", off);
	e.op = FPGADMA_ATOMIC_WRITE;
	e.rkey = mnone->rkey;
	e.fetch = false;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM, 8 bytes before the peer MR", 0);
	e.raddr -= 8;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM of 2 UINT64, the second past the peer MR (address)", tlen - 8);
	e.so.length = e.sr.length = 16;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM of 2 UINT64, the second past the peer MR (offset)", 0);
	e.raddr = tlen - 8;
	e.flags = FPGADMA_WR_F_REMOTE_OFFSET;
	e.so.length = e.sr.length = 16;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM, an offset that wraps", 0);
	e.raddr = ~0ULL - 7;
	e.flags = FPGADMA_WR_F_REMOTE_OFFSET;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e = e_sum("SUM, past the end of device memory", 0);
	e.mem = true;
	e.raddr = a.attr.dev_mem_size - 8;
	e.so.length = e.sr.length = 16;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);
	e.what = "SUM, misaligned and past the end of device memory";
	e.raddr = a.attr.dev_mem_size - 4;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);

	e = e_sum("SUM of UINT64 at an address 4 bytes off alignment", off + 4);
	expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
	e = e_sum("SUM of UINT64 at an offset 4 bytes off alignment", 0);
	e.raddr = off + 4;
	e.flags = FPGADMA_WR_F_REMOTE_OFFSET;
	expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
	e = e_sum("SUM of UINT64 in device memory, 4 bytes off alignment", 0);
	e.mem = true;
	e.raddr = dev_base + WIN_PAD + 4;
	expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
	e = e_sum("SUM of UINT16 at an odd address", off + 1);
	e.type = FPGADMA_TYPE_UINT16;
	e.so.length = e.sr.length = 2;
	expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
	e = e_sum("MAX of INT32 at an address 2 bytes off alignment", off + 2);
	e.op = FPGADMA_ATOMIC_MAX;
	e.type = FPGADMA_TYPE_INT32;
	e.so.length = e.sr.length = 4;
	expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
	if (a.attr.caps & FPGADMA_CAP_ATOMIC_FP) {
		e = e_sum("SUM of DOUBLE_COMPLEX at an address 4 bytes off alignment", off + 4);
		e.type = FPGADMA_TYPE_DOUBLE_COMPLEX;
		e.so.length = e.sr.length = 16;
		expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
		e = e_sum("SUM of FLOAT_COMPLEX in device memory, 4 bytes off", 0);
		e.type = FPGADMA_TYPE_FLOAT_COMPLEX;
		e.mem = true;
		e.raddr = dev_base + WIN_PAD + 4;
		expect_status(&e, FPGADMA_WC_REM_INV_REQ_ERR);
	}

	e = e_sum("SUM fetching into a's MR without LOCAL_WRITE", off);
	e.sr = t_sge(mloc_ro, loc + L_RES, 8);
	expect_status(&e, FPGADMA_WC_LOC_ACCESS_ERR);
	e = e_sum("SUM, the operand's lkey unknown", off);
	e.so.lkey ^= 0x5a5a5a5a;
	expect_status(&e, FPGADMA_WC_LOC_PROT_ERR);
	e = e_sum("SUM, the operand 4 bytes past its MR", off);
	e.so.addr = (uintptr_t)loc + LOC_LEN - 4;
	expect_status(&e, FPGADMA_WC_LOC_LEN_ERR);

	/* a dead rkey: an MR of b's that is gone */
	mdead = t_reg(&b, other, page, FPGADMA_ACCESS_ALL);
	dead = mdead->rkey;
	t_dereg(mdead);
	e = e_sum("SUM, the rkey of a deregistered MR", off);
	e.rkey = dead;
	expect_status(&e, FPGADMA_WC_REM_ACCESS_ERR);

	/* the rights that are enough */
	set_targets(false, seed);
	u64v = 0x1122334455667788ULL;
	memcpy(tgt + off, &u64v, 8);
	memset(loc + L_RES, 0, 8);
	e = e_sum("ATOMIC_READ, peer MR with REMOTE_READ only", off);
	e.op = FPGADMA_ATOMIC_READ;
	e.rkey = mro->rkey;
	wr = post_ecase(&e);
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, wr, FPGADMA_WR_ATOMIC, FPGADMA_WC_SUCCESS, 8);
	memcpy(&want, loc + L_RES, 8);
	CHECK_EQ(want, u64v);
	t_log("%-62s %s", e.what, "success, the value fetched");
	e = e_sum("SUM without fetching, peer MR with REMOTE_WRITE only", off);
	e.rkey = mwo->rkey;
	e.fetch = false;
	want = 0x0101010101010101ULL;
	memcpy(loc + L_OPND, &want, 8);
	wr = post_ecase(&e);
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, wr, FPGADMA_WR_ATOMIC, FPGADMA_WC_SUCCESS, 8);
	memcpy(&want, tgt + off, 8);
	CHECK_EQ(want, u64v + 0x0101010101010101ULL);
	t_log("%-62s %s", e.what, "success, the sum stored");
	memcpy(tgt_copy + off, tgt + off, 8);
	check_bytes(tgt, tgt_copy, tlen, "the peer MR around the word", NULL);

	t_dereg(mloc_ro);
	t_dereg(mnone);
	t_dereg(mwo);
	t_dereg(mro);
	t_unmap(other, page);
}

/* ---- ordering: a batch on one word runs in posting order ---- */

static void ordering(void)
{
	struct fpgadma_sge s[6];
	struct fpgadma_wr w[3];
	struct fpgadma_cqe c[3];
	uint64_t v[4] = { 5, 3, 0, 0 }, got, base = a.next_wr_id;
	uint64_t off = 256;
	int i;

	set_targets(false, seed ^ 0x0de);
	memcpy(loc + L_OPND, v, 16);
	memset(loc + L_RES, 0xa5, 32);
	s[0] = t_sge(mloc, loc + L_OPND, 8);		/* ATOMIC_WRITE 5 */
	s[1] = t_sge(mloc, loc + L_OPND + 8, 8);	/* SUM 3, fetching */
	s[2] = t_sge(mloc, loc + L_RES, 8);
	s[3] = t_sge(mloc, loc + L_RES + 8, 8);		/* ATOMIC_READ */
	for (i = 0; i < 3; i++)
		w[i] = (struct fpgadma_wr){ .wr_id = base + (uint64_t)i, .opcode = FPGADMA_WR_ATOMIC,
					    .dev_addr = off, .rkey = mtgt->rkey,
					    .flags = FPGADMA_WR_F_REMOTE_OFFSET,
					    .atomic_type = FPGADMA_TYPE_UINT64 };
	w[0].atomic_op = FPGADMA_ATOMIC_WRITE;
	w[0].sg_list = (uintptr_t)&s[0];
	w[0].num_sge = 1;
	w[1].atomic_op = FPGADMA_ATOMIC_SUM;
	w[1].flags |= FPGADMA_WR_F_FETCH;
	w[1].sg_list = (uintptr_t)&s[1];
	w[1].num_sge = 2;
	w[2].atomic_op = FPGADMA_ATOMIC_READ;
	w[2].flags |= FPGADMA_WR_F_FETCH;
	w[2].sg_list = (uintptr_t)&s[3];
	w[2].num_sge = 1;
	a.next_wr_id += 3;
	CHECK_OK(fpgadma_post(a.ctx, w, 3));
	t_get_cqes(a.ctx, c, 3);
	for (i = 0; i < 3; i++)
		CHECK_CQE(&c[i], base + (uint64_t)i, FPGADMA_WR_ATOMIC, FPGADMA_WC_SUCCESS, 8);
	memcpy(&got, loc + L_RES, 8);
	CHECK_EQ(got, 5);
	memcpy(&got, loc + L_RES + 8, 8);
	CHECK_EQ(got, 8);
	memcpy(&got, tgt + off, 8);
	CHECK_EQ(got, 8);
	t_log("one batch: WRITE 5, SUM 3 (fetched 5), READ (fetched 8): in posting order");
}

/* Pieces at any alignment: the target needs it, the pieces do not. */
static void unaligned_pieces(void)
{
	uint64_t v = 0x8000000000000001ULL, x = 0x7fffffffffffffffULL, got, wr_id = a.next_wr_id++;
	uint64_t off = 512;
	struct fpgadma_sge so = t_sge(mloc, loc + L_OPND + 3, 8);
	struct fpgadma_sge sr = t_sge(mloc, loc + L_RES + 5, 8);
	struct fpgadma_cqe c;

	set_targets(false, seed ^ 0x5a);
	memcpy(tgt + off, &v, 8);
	memcpy(loc + L_OPND + 3, &x, 8);
	CHECK_OK(fpgadma_post_atomic(a.ctx, wr_id, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64,
				     mtgt->rkey, (uintptr_t)(tgt + off), 0, &so, NULL, &sr));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, wr_id, FPGADMA_WR_ATOMIC, FPGADMA_WC_SUCCESS, 8);
	memcpy(&got, loc + L_RES + 5, 8);
	CHECK_EQ(got, v);
	memcpy(&got, tgt + off, 8);
	CHECK_EQ(got, v + x);
	t_log("operand and result pieces at odd addresses: SUM fetched and stored right");
}

/* ---- malformed WRs: EINVAL, nothing posted ---- */

static int raw_post(const struct fpgadma_wr *wrs, uint32_t count)
{
	struct fpgadma_post p = { .wrs = (uintptr_t)wrs, .count = count };

	return ioctl(fpgadma_get_fd(a.ctx), FPGADMA_IOC_POST, &p) ? -errno : 0;
}

static void expect_post(const char *what, const struct fpgadma_wr *w, uint32_t n, int want,
			bool quiet)
{
	int r = raw_post(w, n);

	if (r != want)
		t_fail("%s: POST returned %s, expected %s", what, t_errname(r), t_errname(want));
	nrefused++;
	if (!quiet)
		t_log("%-62s %s", what, t_errname(want));
}

/* A well-formed atomic on len bytes of b's MR: op with the pieces it takes, fetching. */
static struct fpgadma_wr good_wr(struct fpgadma_sge *s, uint32_t op, uint32_t type, uint32_t len)
{
	struct fpgadma_wr w = {
		.wr_id = 999999, .opcode = FPGADMA_WR_ATOMIC, .flags = FPGADMA_WR_F_FETCH,
		.dev_addr = (uintptr_t)(tgt + 256), .rkey = mtgt->rkey,
		.atomic_op = (uint16_t)op, .atomic_type = (uint16_t)type,
	};
	uint32_t n = 0;

	if (op != FPGADMA_ATOMIC_READ)
		s[n++] = t_sge(mloc, loc + L_OPND, len);
	if (fpgadma_atomic_op_has_compare(op))
		s[n++] = t_sge(mloc, loc + L_CMP, len);
	s[n++] = t_sge(mloc, loc + L_RES, len);
	s[n] = t_sge(mloc, loc + L_RES + 8, len);	/* one more, for the cases that add it */
	w.sg_list = (uintptr_t)s;
	w.num_sge = n;
	return w;
}

static void malformed(void)
{
	static const uint32_t ops[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					17, 18, 19, 20, 0xffff };
	static const uint32_t types[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					  0xffff };
	struct fpgadma_sge s[4], s2[4];
	struct fpgadma_wr w, two[2];
	unsigned int i, j, ninvalid = 0, nfp = 0;
	char what[96];

	for (i = 0; i < T_ARRAY_SIZE(ops); i++) {
		for (j = 0; j < T_ARRAY_SIZE(types); j++) {
			bool valid = fpgadma_atomic_op_valid(ops[i], types[j]);
			int want = -EINVAL;

			if (valid && (!fpgadma_atomic_type_is_fp(types[j]) ||
				      (a.attr.caps & FPGADMA_CAP_ATOMIC_FP)))
				continue;
			if (valid)
				want = -EOPNOTSUPP;	/* no FPGADMA_CAP_ATOMIC_FP */
			snprintf(what, sizeof(what), "%s on %s", t_atomic_op_name(ops[i]),
				 t_atomic_type_name(types[j]));
			w = good_wr(s, ops[i], types[j], 16);
			expect_post(what, &w, 1, want, true);
			w.opcode = FPGADMA_WR_ATOMIC_MEM;
			w.rkey = 0;
			w.dev_addr = dev_base + WIN_PAD;
			expect_post(what, &w, 1, want, true);
			if (valid)
				nfp++;
			else
				ninvalid++;
		}
	}
	t_log("%u invalid operation x datatype combinations (unknown ones, long double among "
	      "them): EINVAL on ATOMIC and ATOMIC_MEM", ninvalid);
	if (nfp)
		t_log("%u floating-point ones on a device without FPGADMA_CAP_ATOMIC_FP: EOPNOTSUPP",
		      nfp);
	CHECK_EQ(ninvalid + nfp, T_ARRAY_SIZE(ops) * T_ARRAY_SIZE(types) -
		 (nfp ? 8 * 19 : 200));

	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_LONG_DOUBLE, 16);
	expect_post("SUM on LONG_DOUBLE", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_WRITE, FPGADMA_TYPE_LONG_DOUBLE_COMPLEX, 32);
	expect_post("ATOMIC_WRITE on LONG_DOUBLE_COMPLEX", &w, 1, -EINVAL, false);
	CHECK_RET(fpgadma_post_atomic(a.ctx, 1, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_LONG_DOUBLE,
				      mtgt->rkey, (uintptr_t)tgt, 0, &s[0], NULL, NULL), -EINVAL);
	t_log("%-62s %s", "fpgadma_post_atomic() of SUM on LONG_DOUBLE", "-EINVAL");

	w = good_wr(s, FPGADMA_ATOMIC_READ, FPGADMA_TYPE_UINT64, 8);
	w.flags = 0;
	expect_post("ATOMIC_READ without FETCH (its result piece given)", &w, 1, -EINVAL, false);
	w.num_sge = 0;
	expect_post("ATOMIC_READ without FETCH, no piece", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	w.num_sge = 1;
	expect_post("SUM fetching without its result piece", &w, 1, -EINVAL, false);
	w.num_sge = 3;
	expect_post("SUM fetching with a third piece", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_CSWAP, FPGADMA_TYPE_UINT64, 8);
	w.num_sge = 2;
	expect_post("CSWAP fetching without its compare piece", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_MSWAP, FPGADMA_TYPE_UINT32, 8);
	w.flags = 0;
	expect_post("MSWAP not fetching with 3 pieces", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	s[1].length = 16;
	expect_post("SUM with pieces of 8 and 16 bytes", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 0);
	expect_post("SUM with pieces of 0 bytes", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 12);
	expect_post("SUM of UINT64 with pieces of 12 bytes", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_BOR, FPGADMA_TYPE_UINT8, MAXB + 1);
	expect_post("BOR of UINT8 with pieces of FPGADMA_ATOMIC_MAX_SIZE + 1", &w, 1, -EINVAL,
		    false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, MAXB + 8);
	expect_post("SUM of UINT64 with pieces of FPGADMA_ATOMIC_MAX_SIZE + 8", &w, 1, -EINVAL,
		    false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	w.flags |= 1U << 2;
	expect_post("SUM with flag bit 2", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	w.flags |= 1U << 31;
	expect_post("SUM with flag bit 31", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	w.opcode = FPGADMA_WR_ATOMIC_MEM;
	w.rkey = 0;
	w.dev_addr = dev_base + WIN_PAD;
	w.flags |= FPGADMA_WR_F_REMOTE_OFFSET;
	expect_post("ATOMIC_MEM with REMOTE_OFFSET", &w, 1, -EINVAL, false);
	w.flags = FPGADMA_WR_F_FETCH;
	w.rkey = mtgt->rkey;
	expect_post("ATOMIC_MEM with an rkey", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	w.dest = 1;
	expect_post("SUM with dest 1", &w, 1, -EINVAL, false);
	w = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	w.reserved = 1ULL << 63;
	expect_post("SUM with reserved bit 63", &w, 1, -EINVAL, false);
	two[0] = good_wr(s, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	two[1] = good_wr(s2, FPGADMA_ATOMIC_SUM, FPGADMA_TYPE_UINT64, 8);
	s2[0].length = 4;
	expect_post("a good atomic, then one with pieces of 4 and 8 bytes", two, 2, -EINVAL,
		    false);
	s2[0].length = 8;
	two[0].atomic_type = FPGADMA_TYPE_LONG_DOUBLE;
	expect_post("an atomic on LONG_DOUBLE, then a good one", two, 2, -EINVAL, false);
	t_expect_no_cqe(a.ctx, 100);
	t_log("%u malformed POSTs refused, nothing of them posted: no CQE came", nrefused);
}

int main(int argc, char **argv)
{
	struct t_snap start;
	uint32_t op, type;
	bool fp;

	t_init(argc, argv, 240);
	seed = t_seed(argc, argv);
	t_rng_seed(&rng, seed);
	t_log("seed %llu (argv[1] repeats the run)", (unsigned long long)seed);
	t_snap_take(&start);
	t_open(&a);
	t_need_atomic(&a);
	t_open(&b);
	if (a.attr.dev_mem_size < WIN_LEN)
		t_skip("%llu bytes of device memory: the test's window needs %u",
		       (unsigned long long)a.attr.dev_mem_size, WIN_LEN);
	fp = a.attr.caps & FPGADMA_CAP_ATOMIC_FP;
	page = t_page_size();
	tlen = 2 * page;
	loc = t_map(LOC_LEN);
	tgt = t_map(tlen);
	tgt_copy = malloc(tlen);
	win_copy = malloc(WIN_LEN);
	CHECK(tgt_copy && win_copy);
	mloc = t_reg(&a, loc, LOC_LEN, FPGADMA_ACCESS_LOCAL_WRITE);
	mtgt = t_reg(&b, tgt, tlen, FPGADMA_ACCESS_ALL);
	dev_base = 0;
	t_log("%s engine, caps 0x%llx: atomics%s; context b's MR of %zu bytes (rkey 0x%x), "
	      "device memory [%llu, +%u)", t_engine_name(a.attr.engine),
	      (unsigned long long)a.attr.caps,
	      fp ? ", also on floating-point types" : " on integer types only", tlen,
	      mtgt->rkey, (unsigned long long)dev_base, WIN_LEN);

	for (type = 0; type < FPGADMA_ATOMIC_TYPE_COUNT; type++) {
		uint32_t size = fpgadma_atomic_type_size(type), max, nops = 0;
		unsigned int before = nruns;

		if (!size)
			continue;
		if (fpgadma_atomic_type_is_fp(type) && !fp) {
			t_log("%-15s not run: no FPGADMA_CAP_ATOMIC_FP (malformed() checks the "
			      "refusal)", t_atomic_type_name(type));
			continue;
		}
		max = MAXB / size;
		for (op = 0; op < FPGADMA_ATOMIC_OP_COUNT; op++) {
			struct acase k = { .op = op, .type = type };

			if (!fpgadma_atomic_op_valid(op, type))
				continue;
			nops++;
			k.mode = M_VA;
			k.count = 1 + (uint32_t)rnd(T_MIN(4, max));
			k.fetch = true;
			k.off = pick_off(k.mode, type, k.count * size);
			run_case(&k);
			k.mode = M_OFF;
			k.count = max;
			k.fetch = op == FPGADMA_ATOMIC_READ;
			k.off = pick_off(k.mode, type, k.count * size);
			run_case(&k);
			k.mode = M_MEM;
			k.count = 1 + (uint32_t)rnd(T_MIN(8, max));
			k.fetch = op == FPGADMA_ATOMIC_READ || rnd(2);
			k.off = pick_off(k.mode, type, k.count * size);
			run_case(&k);
		}
		t_log("%-15s %2u operations x 3 runs (%u WRs): targets and results exact",
		      t_atomic_type_name(type), nops, nruns - before);
	}
	t_log("%u atomic WRs, %u bytes compared", nruns, nbytes_checked);

	ordering();
	unaligned_pieces();
	error_cases();
	t_log("%u failing atomics completed with their status, byte_len 0, nothing changed", nerr);
	malformed();

	t_dereg(mtgt);
	t_dereg(mloc);
	t_unmap(loc, LOC_LEN);
	t_unmap(tgt, tlen);
	free(tgt_copy);
	free(win_copy);
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
