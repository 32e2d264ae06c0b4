// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * module_life: the modules' own life cycle (the core, fpgadma_core, and its
 * engines fpgadma_soft and fpgadma_edu).
 *  1. The core cannot be unloaded while an engine is loaded, nor while a
 *     file of a device is open (with and without an MR): delete_module
 *     fails with EAGAIN/EBUSY and the device keeps working.  (An engine
 *     can go with files open: engine_unplug tests that.)
 *  2. Load order: with the core unloaded an engine module does not load
 *     (its symbols come from the core: ENOENT), and nothing is left.
 *  3. ROUNDS rounds of load, use, unload: each loads the core and both
 *     engines with the parameters the guest was booted with (fpgadma.params
 *     on the kernel command line, routed by module as guest-init.sh does),
 *     opens the test device, registers memory, moves a pattern to the
 *     device and back and checks it, closes and unloads the three.  After
 *     each round the pin counts balance; after all of them the kernel's
 *     unreclaimable slab is where it was (within a tolerance), and the
 *     modules are loaded again, as the rest of the suite expects.
 * A kernel with kmemleak (the debug tier) scans for leaks after the suite.
 */
#include "helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define ROUNDS	50

/* In load order; unloaded in reverse. */
static const char *const mods[] = { "fpgadma_core", "fpgadma_soft", "fpgadma_edu" };

static int unload(void)
{
	size_t i;
	int ret;

	for (i = T_ARRAY_SIZE(mods); i-- > 0;) {
		ret = t_kmod_unload(mods[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void load(void)
{
	uint64_t t0 = t_now_ms();
	char path[64];
	struct stat st;
	size_t i;
	int ret;

	for (i = 0; i < T_ARRAY_SIZE(mods); i++) {
		ret = t_kmod_load(mods[i]);
		if (ret)
			t_fail("loading %s: %s", mods[i], t_errname(ret));
	}
	/* devtmpfs creates the node from the uevent; give it a moment. */
	snprintf(path, sizeof(path), "%s", t_dev_path());
	while (stat(path, &st) && t_now_ms() - t0 < 5000)
		t_sleep_ms(5);
	CHECK_MSG(stat(path, &st) == 0, "%s did not appear after loading", path);
}

static bool all_loaded(void)
{
	size_t i;

	for (i = 0; i < T_ARRAY_SIZE(mods); i++)
		if (!t_kmod_loaded(mods[i]))
			return false;
	return true;
}

static bool none_loaded(void)
{
	size_t i;

	for (i = 0; i < T_ARRAY_SIZE(mods); i++)
		if (t_kmod_loaded(mods[i]))
			return false;
	return true;
}

/* However the test ends, leave the modules loaded for the rest of the suite. */
static void reload_at_exit(void)
{
	size_t i;
	int ret;

	for (i = 0; i < T_ARRAY_SIZE(mods); i++) {
		if (t_kmod_loaded(mods[i]))
			continue;
		ret = t_kmod_load(mods[i]);
		if (ret)
			fprintf(stderr, "module_life: reloading %s failed: %s\n", mods[i],
				t_errname(ret));
	}
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
		t_skip("loads and unloads the modules: only in the test VM");
	CHECK(all_loaded());
	atexit(reload_at_exit);

	/* 1: the core is refused while an engine is loaded or a file is open. */
	ret = t_kmod_unload(mods[0]);
	CHECK_MSG(ret == -EAGAIN || ret == -EBUSY,
		  "delete_module(fpgadma_core) with the engines loaded: %s, expected EAGAIN or "
		  "EBUSY", t_errname(ret));
	t_open(&d);
	buf = t_map(65536);
	mr = t_reg(&d, buf, 65536, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(buf, 65536, 7, 0);
	t_round_trip(&d, mr, buf, mr, buf, 4096);
	/* the engines may go with the file open (engine_unplug tests what it sees) */
	CHECK_OK(t_kmod_unload(mods[2]));
	CHECK_OK(t_kmod_unload(mods[1]));
	ret = t_kmod_unload(mods[0]);
	CHECK_MSG(ret == -EAGAIN || ret == -EBUSY,
		  "delete_module(fpgadma_core) with a file open: %s, expected EAGAIN or EBUSY",
		  t_errname(ret));
	CHECK(t_kmod_loaded(mods[0]));
	CHECK_OK(fpgadma_dereg_mr(mr));	/* released with the device: a success */
	t_close(&d);
	t_unmap(buf, 65536);
	CHECK_OK(t_kmod_unload(mods[0]));
	CHECK(none_loaded());
	CHECK(access(t_dev_path(), F_OK) != 0);
	t_log("fpgadma_core: unload refused (EAGAIN/EBUSY) while the engines were loaded, and "
	      "with the engines gone while a file was open; unloaded after "
	      "close; device node gone");

	/* 2: an engine needs the core. */
	ret = t_kmod_load(mods[1]);
	CHECK_MSG(ret == -ENOENT, "fpgadma_soft without fpgadma_core: %s, expected ENOENT "
		  "(unknown symbols)", t_errname(ret));
	ret = t_kmod_load(mods[2]);
	CHECK_MSG(ret == -ENOENT, "fpgadma_edu without fpgadma_core: %s, expected ENOENT",
		  t_errname(ret));
	CHECK(none_loaded());
	t_log("without the core, fpgadma_soft and fpgadma_edu are refused (ENOENT)");

	/* 3: load, use, unload. */
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
		CHECK(none_loaded());
		if (pins0 != T_PINS_UNKNOWN)
			CHECK_EQ(t_pins_out(), pins0);
	}
	slab1 = slab_kb();
	t_log("%u rounds of load (core and engines), register, round trip up to 256 KiB, close, "
	      "unload in %llu ms; pins out %lld before, %lld after; unreclaimable slab %lld kB -> "
	      "%lld kB", ROUNDS, (unsigned long long)(t_now_ms() - t0), pins0,
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
	CHECK(all_loaded());
	t_pass();
}
