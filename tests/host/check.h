/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The little each host test needs: CHECK() records a failure and goes on,
 * so one run reports every broken expectation; test_exit() turns the count
 * into the automake exit status (0 pass, 1 fail; 77 skip via test_skip()).
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		check_failures++;					\
	}								\
} while (0)

/* CHECK_EQ for integers: prints both values. */
#define CHECK_EQ(a, b) do {						\
	long long check_a_ = (long long)(a), check_b_ = (long long)(b);	\
	if (check_a_ != check_b_) {					\
		fprintf(stderr, "%s:%d: check failed: %s == %s "	\
			"(%lld != %lld)\n", __FILE__, __LINE__, #a, #b,	\
			check_a_, check_b_);				\
		check_failures++;					\
	}								\
} while (0)

static inline int test_exit(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: FAIL (%d checks failed)\n", name, check_failures);
		return 1;
	}
	printf("%s: PASS\n", name);
	return 0;
}

static inline int test_skip(const char *name, const char *why)
{
	printf("%s: SKIP: %s\n", name, why);
	return 77;
}

#endif /* CHECK_H */
