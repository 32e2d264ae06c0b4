// SPDX-License-Identifier: GPL-2.0
/*
 * fpgadma atomics: the arithmetic of the atomic operations (enum
 * fpgadma_atomic_op, fi_atomic(3)'s) on the elements of a target, for
 * engines that have no atomic unit of their own (the soft engine).  The
 * engine reads the target into memory, calls fpgadma_atomic_compute() and
 * writes it back, all under its own lock: what makes it atomic is the
 * engine's, the arithmetic is here, once, with the rules of the ABI
 * (include/uapi/fpgadma-abi.h, "Atomic operations").
 *
 * Integers are computed here; so are the operations that only move or
 * compare bits (ATOMIC_READ, ATOMIC_WRITE, CSWAP, CSWAP_NE) on every type.
 * Floating-point arithmetic is in atomic_fp.c, the one file built with
 * the FPU's registers, and runs between kernel_fpu_begin() and
 * kernel_fpu_end(): preemption is off meanwhile, for at most
 * FPGADMA_ATOMIC_MAX_SIZE bytes of elements, and nothing in it sleeps.
 */
#include <linux/errno.h>
#include <linux/export.h>
#include <linux/string.h>
#include <linux/types.h>
#ifdef CONFIG_X86_64
#include <asm/fpu/api.h>
#endif

#include "fpgadma.h"
#include "atomic.h"

/*
 * One integer type: @n elements of @t with @o (the operand) and @c (the
 * compare values).  Sums and products wrap: they are computed in u64 and
 * truncated, which gives the two's complement result for signed types
 * too, without signed overflow.
 */
#define FPGADMA_ATOMIC_INT(name, type)					\
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
			v = (type)((u64)v + (u64)x);			\
			break;						\
		case FPGADMA_ATOMIC_PROD:				\
			v = (type)((u64)v * (u64)x);			\
			break;						\
		case FPGADMA_ATOMIC_LOR:				\
			v = v || x;					\
			break;						\
		case FPGADMA_ATOMIC_LAND:				\
			v = v && x;					\
			break;						\
		case FPGADMA_ATOMIC_BOR:				\
			v = v | x;					\
			break;						\
		case FPGADMA_ATOMIC_BAND:				\
			v = v & x;					\
			break;						\
		case FPGADMA_ATOMIC_LXOR:				\
			v = !v != !x;					\
			break;						\
		case FPGADMA_ATOMIC_BXOR:				\
			v = v ^ x;					\
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
		case FPGADMA_ATOMIC_MSWAP:				\
			v = (x & c[i]) | (v & ~c[i]);			\
			break;						\
		}							\
		t[i] = v;						\
	}								\
}

FPGADMA_ATOMIC_INT(fpgadma_atomic_s8, s8)
FPGADMA_ATOMIC_INT(fpgadma_atomic_u8, u8)
FPGADMA_ATOMIC_INT(fpgadma_atomic_s16, s16)
FPGADMA_ATOMIC_INT(fpgadma_atomic_u16, u16)
FPGADMA_ATOMIC_INT(fpgadma_atomic_s32, s32)
FPGADMA_ATOMIC_INT(fpgadma_atomic_u32, u32)
FPGADMA_ATOMIC_INT(fpgadma_atomic_s64, s64)
FPGADMA_ATOMIC_INT(fpgadma_atomic_u64, u64)

/* CSWAP (@eq) or CSWAP_NE on the elements' bits, for any type. */
static void fpgadma_atomic_cswap_bits(u8 *t, const u8 *o, const u8 *c,
				      u32 size, u32 len, bool eq)
{
	u32 i;

	for (i = 0; i < len; i += size)
		if (!memcmp(c + i, t + i, size) == eq)
			memcpy(t + i, o + i, size);
}

/**
 * fpgadma_atomic_compute() - apply an atomic operation to a target's elements.
 * @op:		enum fpgadma_atomic_op.
 * @type:	enum fpgadma_atomic_type; fpgadma_atomic_op_valid(@op, @type).
 * @len:	bytes of the target: a multiple of the element size, at most
 *		FPGADMA_ATOMIC_MAX_SIZE.
 * @target:	the target's elements, updated in place; aligned to
 *		fpgadma_atomic_type_align(@type).
 * @operand:	the operand's elements, as aligned; NULL for ATOMIC_READ.
 * @compare:	the compare values (MSWAP: the mask), as aligned, for the
 *		operations fpgadma_atomic_op_has_compare() says; else NULL.
 *
 * The semantics are the ABI's ("Atomic operations" in fpgadma-abi.h).  The
 * caller keeps the target's old elements itself if the WR fetches them,
 * and makes the whole of it atomic (reads, computes and writes back under
 * a lock of its own): this only computes.
 *
 * Context: process or softirq context, not hardirq or NMI (floating
 * point runs between kernel_fpu_begin() and kernel_fpu_end()); spinlocks
 * may be held; does not sleep.
 * Return: 0; -EINVAL for an operation, type or length POST would have
 * refused; -EOPNOTSUPP for a floating-point type on a kernel where the
 * core cannot compute it (FPGADMA_CORE_CAP_ATOMIC_FP is 0).
 */
int fpgadma_atomic_compute(u32 op, u32 type, u32 len, void *target,
			   const void *operand, const void *compare)
{
	u32 size = fpgadma_atomic_type_size(type), n;

	if (!fpgadma_atomic_op_valid(op, type) || !len || len % size ||
	    len > FPGADMA_ATOMIC_MAX_SIZE ||
	    (op != FPGADMA_ATOMIC_READ && !operand) ||
	    (fpgadma_atomic_op_has_compare(op) && !compare))
		return -EINVAL;
	n = len / size;

	switch (op) {
	case FPGADMA_ATOMIC_READ:
		return 0;
	case FPGADMA_ATOMIC_WRITE:
		memcpy(target, operand, len);
		return 0;
	case FPGADMA_ATOMIC_CSWAP:
	case FPGADMA_ATOMIC_CSWAP_NE:
		fpgadma_atomic_cswap_bits(target, operand, compare, size, len,
					  op == FPGADMA_ATOMIC_CSWAP);
		return 0;
	}

	switch (type) {
	case FPGADMA_TYPE_INT8:
		fpgadma_atomic_s8(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_UINT8:
		fpgadma_atomic_u8(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_INT16:
		fpgadma_atomic_s16(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_UINT16:
		fpgadma_atomic_u16(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_INT32:
		fpgadma_atomic_s32(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_UINT32:
		fpgadma_atomic_u32(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_INT64:
		fpgadma_atomic_s64(op, target, operand, compare, n);
		return 0;
	case FPGADMA_TYPE_UINT64:
		fpgadma_atomic_u64(op, target, operand, compare, n);
		return 0;
	}
#ifdef CONFIG_X86_64
	kernel_fpu_begin();
	fpgadma_atomic_fp(op, type, n, target, operand, compare);
	kernel_fpu_end();
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}
EXPORT_SYMBOL_GPL(fpgadma_atomic_compute);
