// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * module_life: the module's own life cycle.
 *  1. Unloading is refused while a file of a device is open (and while an
 *     MR is registered in it): delete_module fails with EAGAIN/EBUSY and the
 *     device keeps working; after the close it succeeds and the device
 *     nodes are gone.
 *  2. ROUNDS rounds of load, use, unload: each loads /fpgadma.ko with the
 *     parameters the guest was booted with (fpgadma.params on the kernel
 *     command line), opens the test device, registers memory, moves a
 *     pattern to the device and back and checks it, closes and unloads.
 *     After each round the pin counts balance; after all of them the
 *     module's slab caches and the kernel's unreclaimable slab are where
 *     they were (within a tolerance), and the module is loaded again, as the
 *     rest of the suite expects.
 * A kernel with kmemleak (the debug tier) scans for leaks after the suite.
 */
#include "helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define ROUNDS	50
#define MODULE_PATH	"/fpgadma.ko"

static char params[1024];

/* fpgadma.params=a=1|b=2 from the kernel command line, as "a=1 b=2". */
static void read_params(void)
{
	char line[4096], *p, *end;
	FILE *f = fopen("/proc/cmdline", "r");

	CHECK(f != NULL);
	CHECK(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	params[0] = 0;
	p = strstr(line, "fpgadma.params=");
	if (!p)
		return;
	p += strlen("fpgadma.params=");
	end = p + strcspn(p, " \n");
	*end = 0;
	snprintf(params, sizeof(params), "%s", p);
	for (p = params; *p; p++)
		if (*p == '|')
			*p = ' ';
}

static bool module_loaded(void)
{
	struct stat st;

	return stat("/sys/module/fpgadma", &st) == 0;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "fpgadma", O_NONBLOCK) ? -errno : 0;
}

static void load(void)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	uint64_t t0 = t_now_ms();
	char path[64];
	struct stat st;

	CHECK_SYS(fd);
	if (syscall(SYS_finit_module, fd, params, 0))
		t_fail("finit_module(%s, \"%s\"): %s", MODULE_PATH, params, t_errname(errno));
	close(fd);
	/* devtmpfs creates the node from the uevent; give it a moment. */
	snprintf(path, sizeof(path), "%s", t_dev_path());
	while (stat(path, &st) && t_now_ms() - t0 < 5000)
		t_sleep_ms(5);
	CHECK_MSG(stat(path, &st) == 0, "%s did not appear after loading", path);
}

/* However the test ends, leave the module loaded for the rest of the suite. */
static void reload_at_exit(void)
{
	int fd;

	if (module_loaded())
		return;
	fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && syscall(SYS_finit_module, fd, params, 0))
		fprintf(stderr, "module_life: reloading the module failed: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

static long long slab_kb(void)
{
	return t_meminfo_kb("SUnreclaim");
}

/* One use of the device: a pattern to device memory and back. */
static void use_device(unsigned int round)
{
	struct t_dev d;
	size_t len;
	uint8_t *a, *b;
	struct fpgadma_mr *ma, *mb;

	t_open(&d);
	/* 256 KiB, or what the device has (the edu device: 4095 bytes). */
	len = T_MIN(256 * 1024, d.attr.dev_mem_size);
	a = t_map(len);
	b = t_map(len);
	ma = t_reg(&d, a, len, 0);
	mb = t_reg(&d, b, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(a, len, round, 0);
	memset(b, 0, len);
	t_round_trip(&d, ma, a, mb, b, len);
	CHECK_EQ(t_verify(b, len, round, 0, "round trip"), 0);
	t_dereg(ma);
	t_dereg(mb);
	t_close(&d);
	t_unmap(a, len);
	t_unmap(b, len);
}

int main(int argc, char **argv)
{
	long long slab0, slab1, pins0;
	struct fpgadma_mr *mr;
	struct t_dev d;
	uint8_t *buf;
	unsigned int i;
	uint64_t t0;
	int ret;

	t_init(argc, argv, 600);
	if (!getenv("FPGADMA_VM"))
		t_skip("loads and unloads the module: only in the test VM");
	CHECK(module_loaded());
	read_params();
	atexit(reload_at_exit);

	/* 1: refused while open. */
	t_open(&d);
	buf = t_map(65536);
	mr = t_reg(&d, buf, 65536, FPGADMA_ACCESS_LOCAL_WRITE);
	ret = unload();
	CHECK_MSG(ret == -EAGAIN || ret == -EBUSY,
		  "delete_module with a device open: %s, expected EAGAIN or EBUSY",
		  t_errname(ret));
	CHECK(module_loaded());
	t_fill(buf, 65536, 7, 0);
	t_round_trip(&d, mr, buf, mr, buf, 4096);
	t_dereg(mr);
	ret = unload();
	CHECK_MSG(ret == -EAGAIN || ret == -EBUSY,
		  "delete_module with a device open, no MR: %s", t_errname(ret));
	t_close(&d);
	t_unmap(buf, 65536);
	CHECK_OK(unload());
	CHECK(!module_loaded());
	CHECK(access(t_dev_path(), F_OK) != 0);
	t_log("unload refused (EAGAIN/EBUSY) while a file was open, with and without an MR; "
	      "succeeded after close, device node gone");

	/* 2: load, use, unload. */
	pins0 = t_pins_out();
	load();
	use_device(0);
	CHECK_OK(unload());
	slab0 = slab_kb();
	t0 = t_now_ms();
	for (i = 1; i <= ROUNDS; i++) {
		load();
		use_device(i);
		CHECK_OK(unload());
		CHECK(!module_loaded());
		if (pins0 != T_PINS_UNKNOWN)
			CHECK_EQ(t_pins_out(), pins0);
	}
	slab1 = slab_kb();
	t_log("%u rounds of load, register, round trip up to 256 KiB, close, unload in %llu ms; "
	      "pins out %lld before, %lld after; unreclaimable slab %lld kB -> %lld kB",
	      ROUNDS, (unsigned long long)(t_now_ms() - t0), pins0,
	      pins0 == T_PINS_UNKNOWN ? pins0 : t_pins_out(), slab0, slab1);
	/*
	 * A leak of even one small object per round would show as growth;
	 * allow noise.  A kernel with kmemleak (the debug tier) keeps freed
	 * objects in KASAN's quarantine and tracking data, which grows slab
	 * without a leak: there the harness's kmemleak scan is the judge.
	 */
	if (access("/sys/kernel/debug/kmemleak", F_OK) == 0)
		t_log("kmemleak is on: slab growth not judged here (the kmemleak check does)");
	else
		CHECK_MSG(slab1 - slab0 < 512, "unreclaimable slab grew by %lld kB over %u rounds",
			  slab1 - slab0, ROUNDS);
	load();
	CHECK(module_loaded());
	t_pass();
}
