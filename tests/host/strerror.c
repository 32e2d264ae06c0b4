// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma_strerror() has a specific text for every errno the API documents
 * (the same for err and -err), falls back to strerror() for the rest, and
 * fpgadma_wc_status_str() names every enum fpgadma_wc_status value.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <fpgadma.h>
#include "check.h"

static const int documented[] = {
	EINVAL, ENOENT, ENOMEM, EFAULT, EACCES, EAGAIN, EBUSY, EOVERFLOW,
	EPROTO, ENOTTY, EBADF, ENODEV, EIO, EINTR, EEXIST, EADDRINUSE,
	EOPNOTSUPP, ENOSPC,
};

int main(void)
{
	const char *s, *status[FPGADMA_WC_REM_INV_REQ_ERR + 1];
	unsigned int i, j;

	for (i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
		int e = documented[i];

		s = fpgadma_strerror(-e);
		CHECK(s && *s);
		/* our own text, not the C library's */
		CHECK(s && strcmp(s, strerror(e)) != 0);
		CHECK(s == fpgadma_strerror(e));
		printf("-%-10s %s\n", strerrorname_np(e), s);
	}

	s = fpgadma_strerror(-ENOMEM);
	CHECK(strstr(s, "RLIMIT_MEMLOCK") != NULL);
	CHECK(strstr(fpgadma_strerror(-EACCES), "fork") != NULL);
	CHECK(strstr(fpgadma_strerror(-EAGAIN), "poll") != NULL);
	CHECK(strstr(fpgadma_strerror(-ENOENT), "module") != NULL);
	CHECK(strstr(fpgadma_strerror(-EOPNOTSUPP), "FPGADMA_CAP_STREAM") != NULL);
	CHECK(strstr(fpgadma_strerror(-ENOSPC), "stream") != NULL);
	CHECK(strstr(fpgadma_strerror(-EAGAIN), "stream") != NULL);
	CHECK(strcmp(fpgadma_strerror(0), "success") == 0);

	/* the fallback */
	CHECK(strcmp(fpgadma_strerror(-EROFS), strerror(EROFS)) == 0);
	CHECK(strcmp(fpgadma_strerror(ERANGE), strerror(ERANGE)) == 0);
	CHECK(fpgadma_strerror(INT_MIN) && *fpgadma_strerror(INT_MIN));
	CHECK(fpgadma_strerror(INT_MAX) && *fpgadma_strerror(INT_MAX));

	/* statuses: each named, each different, unknown ones say so */
	for (i = FPGADMA_WC_SUCCESS; i <= FPGADMA_WC_REM_INV_REQ_ERR; i++) {
		status[i] = fpgadma_wc_status_str(i);
		CHECK(status[i] && *status[i]);
		CHECK(strstr(status[i], "unknown") == NULL);
		for (j = 0; j < i; j++)
			CHECK(strcmp(status[i], status[j]) != 0);
		printf("status %u: %s\n", i, status[i]);
	}
	CHECK(strcmp(status[FPGADMA_WC_SUCCESS], "success") == 0);
	CHECK(strstr(fpgadma_wc_status_str(FPGADMA_WC_REM_INV_REQ_ERR + 1), "unknown") != NULL);
	CHECK(strstr(fpgadma_wc_status_str(UINT32_MAX), "unknown") != NULL);

	return test_exit("strerror");
}
