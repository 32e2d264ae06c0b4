// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma atomics: the floating-point arithmetic (float, double and their
 * complex types), the one file of the core built with the FPU's registers
 * (kmod/Kbuild: x86-64 only, -msse2, and -ffp-contract=off so that no
 * multiply-add is fused: every operation rounds as the ABI says).  Only
 * fpgadma_atomic_compute() calls it, between kernel_fpu_begin() and
 * kernel_fpu_end(); no floating-point value crosses into code built
 * without them, only bytes in memory.
 *
 * Complex values are pairs of parts, not C's _Complex, whose product
 * would call the compiler's runtime (__mulsc3) and recover infinities:
 * the ABI's product is (ac - bd) + (ad + bc)i as written.  The operations
 * on bits (ATOMIC_READ, ATOMIC_WRITE, CSWAP, CSWAP_NE) never come here.
 */
#include <linux/types.h>

#include "fpgadma-abi.h"
#include "atomic.h"

/* @n elements of a real type: t op= o, or the comparison with c. */
#define FPGADMA_ATOMIC_REAL(name, type)					\
static void name(u32 op, void *tp, const void *op_, const void *cp,	\
		 u32 n)							\
{									\
	const type *o = op_, *c = cp;					\
	type *t = tp;							\
	u32 i;								\
									\
	for (i = 0; i < n; i++) {					\
		type v = t[i], x = o[i];				\
									\
		switch (op) {						\
		case FPGADMA_ATOMIC_MIN:				\
			if (x < v)					\
				v = x;					\
			break;						\
		case FPGADMA_ATOMIC_MAX:				\
			if (x > v)					\
				v = x;					\
			break;						\
		case FPGADMA_ATOMIC_SUM:				\
			v = v + x;					\
			break;						\
		case FPGADMA_ATOMIC_PROD:				\
			v = v * x;					\
			break;						\
		case FPGADMA_ATOMIC_LOR:				\
			v = (v != 0 || x != 0) ? 1 : 0;			\
			break;						\
		case FPGADMA_ATOMIC_LAND:				\
			v = (v != 0 && x != 0) ? 1 : 0;			\
			break;						\
		case FPGADMA_ATOMIC_LXOR:				\
			v = ((v != 0) != (x != 0)) ? 1 : 0;		\
			break;						\
		case FPGADMA_ATOMIC_CSWAP_LE:				\
			if (c[i] <= v)					\
				v = x;					\
			break;						\
		case FPGADMA_ATOMIC_CSWAP_LT:				\
			if (c[i] < v)					\
				v = x;					\
			break;						\
		case FPGADMA_ATOMIC_CSWAP_GE:				\
			if (c[i] >= v)					\
				v = x;					\
			break;						\
		case FPGADMA_ATOMIC_CSWAP_GT:				\
			if (c[i] > v)					\
				v = x;					\
			break;						\
		}							\
		t[i] = v;						\
	}								\
}

/* @n elements of a complex type: SUM, PROD and the logical operations. */
#define FPGADMA_ATOMIC_COMPLEX(name, type)				\
static void name(u32 op, void *tp, const void *op_, u32 n)		\
{									\
	const type *o = op_;						\
	type *t = tp;							\
	u32 i;								\
									\
	for (i = 0; i < n; i++) {					\
		type a = t[2 * i], b = t[2 * i + 1];			\
		type c = o[2 * i], d = o[2 * i + 1];			\
		bool tv = a != 0 || b != 0, ov = c != 0 || d != 0;	\
		type re = 0, im = 0;					\
									\
		switch (op) {						\
		case FPGADMA_ATOMIC_SUM:				\
			re = a + c;					\
			im = b + d;					\
			break;						\
		case FPGADMA_ATOMIC_PROD:				\
			re = a * c - b * d;				\
			im = a * d + b * c;				\
			break;						\
		case FPGADMA_ATOMIC_LOR:				\
			re = (tv || ov) ? 1 : 0;			\
			break;						\
		case FPGADMA_ATOMIC_LAND:				\
			re = (tv && ov) ? 1 : 0;			\
			break;						\
		case FPGADMA_ATOMIC_LXOR:				\
			re = (tv != ov) ? 1 : 0;			\
			break;						\
		default:						\
			continue;					\
		}							\
		t[2 * i] = re;						\
		t[2 * i + 1] = im;					\
	}								\
}

FPGADMA_ATOMIC_REAL(fpgadma_atomic_float, float)
FPGADMA_ATOMIC_REAL(fpgadma_atomic_double, double)
FPGADMA_ATOMIC_COMPLEX(fpgadma_atomic_cfloat, float)
FPGADMA_ATOMIC_COMPLEX(fpgadma_atomic_cdouble, double)

/**
 * fpgadma_atomic_fp() - the floating-point arithmetic of an atomic operation.
 * @op:		enum fpgadma_atomic_op, valid for @type, not one on bits.
 * @type:	FPGADMA_TYPE_FLOAT, _DOUBLE, _FLOAT_COMPLEX or _DOUBLE_COMPLEX.
 * @n:		elements.
 * @target:	the target's elements, updated in place.
 * @operand:	the operand's elements.
 * @compare:	the compare values (CSWAP_LE..GT), else NULL.
 *
 * Context: only between kernel_fpu_begin() and kernel_fpu_end() (which
 * fpgadma_atomic_compute() brackets it with); does not sleep.
 */
void fpgadma_atomic_fp(u32 op, u32 type, u32 n, void *target,
		       const void *operand, const void *compare)
{
	switch (type) {
	case FPGADMA_TYPE_FLOAT:
		fpgadma_atomic_float(op, target, operand, compare, n);
		break;
	case FPGADMA_TYPE_DOUBLE:
		fpgadma_atomic_double(op, target, operand, compare, n);
		break;
	case FPGADMA_TYPE_FLOAT_COMPLEX:
		fpgadma_atomic_cfloat(op, target, operand, n);
		break;
	case FPGADMA_TYPE_DOUBLE_COMPLEX:
		fpgadma_atomic_cdouble(op, target, operand, n);
		break;
	}
}
