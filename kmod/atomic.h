/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fpgadma atomics: what atomic.c, built like the rest of the kernel (no
 * floating point), calls in atomic_fp.c, built with the FPU's registers
 * (x86-64 only): nothing here passes a floating-point value, only bytes.
 */
#ifndef FPGADMA_ATOMIC_H
#define FPGADMA_ATOMIC_H

#include <linux/types.h>

void fpgadma_atomic_fp(u32 op, u32 type, u32 n, void *target,
		       const void *operand, const void *compare);

#endif /* FPGADMA_ATOMIC_H */
