// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma_info: print what each fpgadma device offers, in the manner of
 * ibv_devinfo.
 *
 *   fpgadma_info            every /dev/fpgadmaN
 *   fpgadma_info 0 /dev/x   the devices named (an index or a path)
 *
 * Exits 0 when every device was opened and queried, 1 otherwise (also when
 * there is no device at all), 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fpgadma.h>

static void print_size(const char *name, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	uint64_t v = bytes;
	unsigned int u = 0;

	while (v >= 1024 && v % 1024 == 0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (u)
		printf("\t%-16s%" PRIu64 " (%" PRIu64 " %s)\n", name, bytes, v, unit[u]);
	else
		printf("\t%-16s%" PRIu64 "\n", name, bytes);
}

static int show(const char *path)
{
	struct fpgadma_device_attr attr;
	struct fpgadma_context *ctx;
	int ret;

	ret = fpgadma_open_path(path, &ctx);
	if (ret) {
		fprintf(stderr, "fpgadma_info: %s: %s\n", path, fpgadma_strerror(ret));
		return 1;
	}
	ret = fpgadma_query(ctx, &attr);
	if (ret) {
		fprintf(stderr, "fpgadma_info: %s: query: %s\n", path,
			fpgadma_strerror(ret));
		fpgadma_close(ctx);
		return 1;
	}

	printf("device:\t%s\n", path);
	printf("\t%-16s%" PRIu32 "\n", "abi_version:", attr.abi_version);
	printf("\t%-16s%" PRIu32 " %s\n", "engine:", attr.engine,
	       fpgadma_engine_str(attr.engine));
	printf("\t%-16s%" PRIu32 "\n", "dev_index:", attr.dev_index);
	printf("\t%-16s%" PRIu32 "\n", "max_sge:", attr.max_sge);
	printf("\t%-16s%" PRIu32 "\n", "max_post:", attr.max_post);
	print_size("max_seg_size:", attr.max_seg_size);
	printf("\t%-16s%" PRIu32 "\n", "cq_entries:", attr.cq_entries);
	print_size("page_size:", attr.page_size);
	print_size("dev_mem_size:", attr.dev_mem_size);
	print_size("frame_size:", attr.frame_size);
	print_size("max_mr_size:", attr.max_mr_size);
	printf("\n");

	ret = fpgadma_close(ctx);
	if (ret) {
		fprintf(stderr, "fpgadma_info: %s: close: %s\n", path,
			fpgadma_strerror(ret));
		return 1;
	}
	return 0;
}

/* "fpgadma" followed by decimal digits only; its index in *index. */
static int parse_node(const char *name, long *index)
{
	const char *p = name + strlen("fpgadma");
	char *end;

	if (strncmp(name, "fpgadma", strlen("fpgadma")) || !isdigit((unsigned char)*p))
		return 0;
	*index = strtol(p, &end, 10);
	return *end == '\0';
}

static int by_index(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static int show_all(void)
{
	long *idx = NULL, n = 0, cap = 0, i;
	struct dirent *de;
	int fails = 0;
	DIR *dir;

	dir = opendir("/dev");
	if (!dir) {
		perror("fpgadma_info: /dev");
		return 1;
	}
	while ((de = readdir(dir))) {
		long index;

		if (!parse_node(de->d_name, &index))
			continue;
		if (n == cap) {
			long *grown;

			cap = cap ? 2 * cap : 8;
			grown = realloc(idx, cap * sizeof(*idx));
			if (!grown) {
				perror("fpgadma_info");
				free(idx);
				closedir(dir);
				return 1;
			}
			idx = grown;
		}
		idx[n++] = index;
	}
	closedir(dir);

	if (n == 0) {
		fprintf(stderr, "fpgadma_info: no fpgadma devices found "
			"(is the fpgadma module loaded?)\n");
		free(idx);
		return 1;
	}

	qsort(idx, n, sizeof(*idx), by_index);
	for (i = 0; i < n; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/dev/fpgadma%ld", idx[i]);
		fails += show(path);
	}
	free(idx);
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	int i, fails = 0;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s [DEVICE...]\n"
		       "Print the attributes of fpgadma devices: every /dev/fpgadmaN,\n"
		       "or each DEVICE given as an index (0) or a path (/dev/fpgadma0).\n",
		       argv[0]);
		return 0;
	}
	if (argc == 1)
		return show_all();

	for (i = 1; i < argc; i++) {
		char path[64];
		const char *arg = argv[i];
		char *end;
		long index;

		if (arg[0] == '-') {
			fprintf(stderr, "fpgadma_info: unknown option %s\n", arg);
			return 2;
		}
		index = strtol(arg, &end, 10);
		if (*arg && *end == '\0' && index >= 0) {
			snprintf(path, sizeof(path), "/dev/fpgadma%ld", index);
			arg = path;
		}
		fails += show(arg);
	}
	return fails ? 1 : 0;
}
