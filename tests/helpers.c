// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Helpers shared by the VM test programs; see helpers.h.
 */
#include "helpers.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

static const char *t_name = "test";
static unsigned int t_dev_index;

int t_time_scale(void)
{
	static int scale;
	const char *v;

	if (!scale) {
		v = getenv("FPGADMA_TEST_TIME_SCALE");
		scale = v ? atoi(v) : 1;
		if (scale < 1 || scale > 100)
			scale = 1;
	}
	return scale;
}

/* ---- outcome and reporting ---- */

static void t_watchdog(int sig)
{
	char msg[160];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg), "FAIL: %s: watchdog: still running after its time limit\n",
		     t_name);
	if (n > 0)
		(void)!write(STDOUT_FILENO, msg, (size_t)n);
	_exit(T_EXIT_FAIL);
}

void t_init(int argc, char **argv, unsigned int timeout_s)
{
	const char *slash;

	if (argc > 0 && argv[0]) {
		slash = strrchr(argv[0], '/');
		t_name = slash ? slash + 1 : argv[0];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, t_watchdog);
	alarm(timeout_s * (unsigned int)t_time_scale());
	t_log("== %s ==", t_name);
}

void t_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void t_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: %s: %s:%d: ", t_name, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(T_EXIT_FAIL);
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(T_EXIT_SKIP);
}

void t_pass(void)
{
	t_log("PASS: %s", t_name);
	exit(T_EXIT_PASS);
}

const char *t_errname(long long err)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
		{ EINTR, "EINTR" }, { EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" },
		{ EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
		{ EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" },
		{ ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" },
		{ ENOSPC, "ENOSPC" }, { EPIPE, "EPIPE" }, { ERANGE, "ERANGE" },
		{ ENOSYS, "ENOSYS" }, { EPROTO, "EPROTO" }, { EOVERFLOW, "EOVERFLOW" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { ETIMEDOUT, "ETIMEDOUT" },
		{ ECANCELED, "ECANCELED" }, { EADDRINUSE, "EADDRINUSE" },
	};
	static __thread char buf[4][32];
	static __thread unsigned int slot;
	long long e = err < 0 ? -err : err;
	char *out = buf[slot++ % 4];
	size_t i;

	for (i = 0; i < T_ARRAY_SIZE(names); i++) {
		if (names[i].e == e) {
			snprintf(out, 32, "%s%s", err < 0 ? "-" : "", names[i].name);
			return out;
		}
	}
	snprintf(out, 32, "%lld", err);
	return out;
}

const char *t_size_str(uint64_t bytes, char *buf)
{
	if (bytes >= T_GiB)
		snprintf(buf, 32, "%.2f GiB", (double)bytes / T_GiB);
	else if (bytes >= T_MiB)
		snprintf(buf, 32, "%.2f MiB", (double)bytes / T_MiB);
	else if (bytes >= T_KiB)
		snprintf(buf, 32, "%.2f KiB", (double)bytes / T_KiB);
	else
		snprintf(buf, 32, "%" PRIu64 " B", bytes);
	return buf;
}

/* ---- time and randomness ---- */

uint64_t t_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t t_now_ms(void)
{
	return t_now_us() / 1000;
}

void t_sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void t_rng_seed(struct t_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t t_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

uint64_t t_rand(struct t_rng *r)
{
	r->s += 0x9E3779B97F4A7C15ULL;
	return t_mix64(r->s);
}

uint64_t t_rand_below(struct t_rng *r, uint64_t n)
{
	return n ? t_rand(r) % n : 0;
}

void t_shuffle(struct t_rng *r, unsigned int *idx, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		idx[i] = i;
	for (i = n - 1; n && i > 0; i--) {
		unsigned int j = (unsigned int)t_rand_below(r, i + 1), t = idx[i];

		idx[i] = idx[j];
		idx[j] = t;
	}
}

uint64_t t_seed(int argc, char **argv)
{
	if (argc > 1)
		return strtoull(argv[1], NULL, 0);
	return t_now_us() ^ ((uint64_t)getpid() << 32);
}

/* ---- files ---- */

/* Read a small file into buf (NUL-terminated); -1 if it cannot be read. */
static int t_read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (got + 1 < size) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return 0;
}

/* The number after "key" on the line of a "key value" file; -1 if absent. */
static long long t_file_field(const char *path, const char *key)
{
	char line[512];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) &&
		    (line[klen] == ' ' || line[klen] == ':' || line[klen] == '\t')) {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

long long t_vmstat(const char *name)
{
	long long v = t_file_field("/proc/vmstat", name);

	if (v < 0)
		t_fail("/proc/vmstat has no %s", name);
	return v;
}

/*
 * The pin counters are node statistics: each CPU keeps a delta that is
 * folded into /proc/vmstat only now and then, so they are exact only after
 * a write to /proc/sys/vm/stat_refresh folds them (root only).
 */
long long t_pins_out(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	bool refreshed = false;

	if (fd >= 0) {
		refreshed = write(fd, "1\n", 2) == 2;
		close(fd);
	}
	if (!refreshed)
		return T_PINS_UNKNOWN;
	return t_vmstat("nr_foll_pin_acquired") - t_vmstat("nr_foll_pin_released");
}

long long t_vmpin_kb(pid_t pid)
{
	char path[64];

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	return t_file_field(path, "VmPin");
}

long long t_meminfo_kb(const char *name)
{
	return t_file_field("/proc/meminfo", name);
}

long long t_dev_counter(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/class/fpgadma/fpgadma%u/%s", t_dev_index, name);
	if (t_read_file(path, buf, sizeof(buf)))
		t_fail("cannot read %s: %s", path, t_errname(errno));
	return strtoll(buf, NULL, 10);
}

long long t_module_param(const char *name)
{
	static const char *const modules[] = { "fpgadma_core", "fpgadma_soft" };
	char path[128], buf[64];
	size_t i;

	for (i = 0; i < T_ARRAY_SIZE(modules); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", modules[i], name);
		if (!t_read_file(path, buf, sizeof(buf)))
			return strtoll(buf, NULL, 0);
	}
	return -1;
}

/* ---- the kernel modules ---- */

bool t_kmod_loaded(const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

/* Module @name's parameters from fpgadma.params=a=1|fpgadma_soft.b=2 into @out. */
static void t_kmod_params(const char *name, char *out, size_t size)
{
	char line[4096], *p, *tok, *save = NULL;
	size_t len = 0, n = strlen(name);
	FILE *f = fopen("/proc/cmdline", "r");

	out[0] = 0;
	if (!f)
		return;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	p = p ? strstr(line, "fpgadma.params=") : NULL;
	if (!p)
		return;
	p += strlen("fpgadma.params=");
	p[strcspn(p, " \n")] = 0;
	for (tok = strtok_r(p, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		const char *dot = strchr(tok, '.'), *eq = strchr(tok, '=');
		bool prefixed = dot && (!eq || dot < eq);

		if (prefixed && !(strncmp(tok, name, n) == 0 && tok[n] == '.'))
			continue;
		if (!prefixed && strcmp(name, "fpgadma_core"))
			continue;
		if (prefixed)
			tok += n + 1;
		len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "", tok);
		if (len >= size)
			t_fail("module parameters of %s too long", name);
	}
}

int t_kmod_load(const char *name)
{
	char path[64], params[1024];
	int fd, ret = 0;

	t_kmod_params(name, params, sizeof(params));
	snprintf(path, sizeof(path), "/%s.ko", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params, 0))
		ret = -errno;
	close(fd);
	return ret;
}

int t_kmod_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/* ---- the device ---- */

unsigned int t_test_dev(void)
{
	const char *v = getenv("FPGADMA_TEST_DEV");

	return v && *v ? (unsigned int)strtoul(v, NULL, 10) : 0;
}

const char *t_dev_path(void)
{
	static char path[32];

	snprintf(path, sizeof(path), "/dev/fpgadma%u", t_test_dev());
	return path;
}

const char *t_engine_name(uint32_t engine)
{
	return fpgadma_engine_str(engine);
}

int t_find_engine(uint32_t engine)
{
	struct fpgadma_device_attr attr;
	struct fpgadma_context *ctx;
	int i, found = -1;

	for (i = 0; i < 16 && found < 0; i++) {
		if (fpgadma_open(i, &ctx))
			continue;
		if (!fpgadma_query(ctx, &attr) && attr.engine == engine)
			found = i;
		fpgadma_close(ctx);
	}
	return found;
}

/*
 * Tests written for the soft engine that cannot run on another engine, and
 * why.  Tests that merely need more device memory than a device has skip
 * themselves; the ones here would run, but prove nothing there or take
 * hours: the edu device moves at most 4095 bytes per 100 ms transfer and has
 * no frame stream.  The tests named in the reasons cover the same ground on
 * the edu device.
 */
static const struct {
	uint32_t engine;
	const char *test;
	const char *reason;
} t_not_on_engine[] = {
	{ FPGADMA_ENGINE_EDU, "abi_bad",
	  "asserts the soft engine's QUERY answers (engine type, module parameters); "
	  "the ABI checks themselves are the core's and run on the soft device" },
	{ FPGADMA_ENGINE_EDU, "data_stream",
	  "the edu device has no frame stream (frame_size 0); wr_errors checks that "
	  "READ_STREAM completes with REM_ACCESS_ERR there" },
	{ FPGADMA_ENGINE_EDU, "poll_wait",
	  "posts 20000 WRs, 2000 s of the edu device's 100 ms transfers, and needs 4104 "
	  "bytes of device memory; waiting and polling are the core's, proven on the soft device" },
	{ FPGADMA_ENGINE_EDU, "concurrency",
	  "nine threads each need a slice of device memory (the edu device has 4095 bytes) "
	  "and thousands of transfers; the core's locking is the same on every engine" },
	{ FPGADMA_ENGINE_EDU, "kill_paths",
	  "its parent checks the device with 512 KiB round trips after each of 10 deaths, "
	  "thousands of 100 ms transfers on the edu device; edu_teardown kills a process "
	  "while an edu transfer runs" },
};

static void t_skip_if_not_for(uint32_t engine)
{
	size_t i;

	for (i = 0; i < T_ARRAY_SIZE(t_not_on_engine); i++)
		if (t_not_on_engine[i].engine == engine && !strcmp(t_not_on_engine[i].test, t_name))
			t_skip("not run on the %s engine: %s", t_engine_name(engine),
			       t_not_on_engine[i].reason);
}

void t_open_index(struct t_dev *d, unsigned int index)
{
	int ret;

	memset(d, 0, sizeof(*d));
	ret = fpgadma_open((int)index, &d->ctx);
	if (ret)
		t_fail("fpgadma_open(%u): %s (%s)", index, t_errname(ret), fpgadma_strerror(ret));
	CHECK_OK(fpgadma_query(d->ctx, &d->attr));
	CHECK_OK(fpgadma_alloc_pd(d->ctx, &d->pd));
	CHECK_EQ(d->attr.abi_version, FPGADMA_ABI_VERSION);
	CHECK_EQ(d->attr.dev_index, index);
	CHECK_EQ(d->attr.page_size, t_page_size());
	CHECK(d->attr.max_sge >= 1);
	CHECK(d->attr.max_post >= 1);
	CHECK(d->attr.cq_entries >= 1);
	CHECK(d->attr.dev_mem_size >= 1);
	/* 0: no frame stream */
	CHECK(d->attr.frame_size == 0 || (d->attr.frame_size >= 8 && d->attr.frame_size % 8 == 0));
	CHECK(d->attr.max_seg_size >= 1);
	t_dev_index = d->attr.dev_index;
	d->next_wr_id = 1;
}

void t_open(struct t_dev *d)
{
	t_open_index(d, t_test_dev());
	t_skip_if_not_for(d->attr.engine);
}

void t_open_edu(struct t_dev *d)
{
	int idx = t_find_engine(FPGADMA_ENGINE_EDU);

	if (idx < 0)
		t_skip("no edu device in this guest (QEMU's -device edu)");
	t_open_index(d, (unsigned int)idx);
}

bool t_has_xfer_log(const struct t_dev *d)
{
	return d->attr.engine == FPGADMA_ENGINE_EDU;
}

void t_xfer_log(const struct t_dev *d, struct t_xfer_log *log)
{
	char link[256], path[512], line[256];
	ssize_t n;
	const char *pci;
	FILE *f;

	if (!t_has_xfer_log(d))
		t_fail("test bug: the %s engine keeps no transfer log (ask t_has_xfer_log)",
		       t_engine_name(d->attr.engine));
	snprintf(path, sizeof(path), "/sys/class/fpgadma/fpgadma%u/device", d->attr.dev_index);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		t_fail("readlink %s: %s", path, t_errname(errno));
	link[n] = '\0';
	pci = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	snprintf(path, sizeof(path), "/sys/kernel/debug/fpgadma-edu/%s/transfers", pci);
	f = fopen(path, "re");
	if (!f)
		t_fail("cannot open %s: %s (debugfs mounted?)", path, t_errname(errno));
	memset(log, 0, sizeof(*log));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long total, lost, seq, dma;
		unsigned int len, off;
		char iommu[8], dir[16];

		if (sscanf(line, "# transfers %llu lost_irqs %llu iommu %7s", &total, &lost,
			   iommu) == 3) {
			log->total = total;
			log->lost_irqs = lost;
			log->iommu = !strcmp(iommu, "yes");
			continue;
		}
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%llu %15s %llx %u %u", &seq, dir, &dma, &len, &off) != 5)
			t_fail("%s: cannot parse '%s'", path, line);
		if (log->n == T_ARRAY_SIZE(log->x))
			t_fail("%s: more than %zu entries", path, T_ARRAY_SIZE(log->x));
		log->x[log->n++] = (struct t_xfer){ .seq = seq, .to_host = !strcmp(dir, "to_host"),
						     .dma = dma, .len = len, .dev_off = off };
	}
	fclose(f);
}

uint64_t t_xfer_total(const struct t_dev *d)
{
	struct t_xfer_log log;

	t_xfer_log(d, &log);
	return log.total;
}

bool t_dev_iommu(const struct t_dev *d)
{
	struct t_xfer_log log;

	if (!t_has_xfer_log(d))
		return false;
	t_xfer_log(d, &log);
	return log.iommu;
}

void t_iommu_one_segment_at(const char *file, int line, const struct t_dev *d,
			    const struct fpgadma_mr *mr, const char *what)
{
	static bool said;

	if (!t_dev_iommu(d)) {
		if (!said)
			t_log("%s", t_has_xfer_log(d) ?
			      "no IOMMU (the transfer log says so): the MRs' segments follow "
			      "physical contiguity, no one-segment check" :
			      "the engine keeps no transfer log to say whether an IOMMU translates: "
			      "the one-segment checks behind one are left out");
		said = true;
		return;
	}
	if (mr->length > d->attr.max_seg_size)
		t_fail_at(file, line, "test bug: %s: an MR of %zu bytes, longer than max_seg_size %u",
			  what, mr->length, d->attr.max_seg_size);
	if (mr->nsegs != 1)
		t_fail_at(file, line, "%s: behind the IOMMU an MR of %zu bytes has %u DMA segments, "
			  "expected 1 (one IOVA range)", what, mr->length, mr->nsegs);
	t_log("%s behind the IOMMU: one DMA segment", what);
}

unsigned int t_xfer_budget(const struct t_dev *d)
{
	return (unsigned int)T_MIN(T_MAX(d->attr.dev_mem_size / 128, 16), 1U << 30);
}

uint64_t t_phys_addr(const void *p)
{
	uint64_t entry = 0, page = t_page_size();
	off_t off = (off_t)((uintptr_t)p / page * sizeof(entry));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), off) != (ssize_t)sizeof(entry))
		entry = 0;
	close(fd);
	/* bit 63: present; bits 0-54: the page frame (0 without CAP_SYS_ADMIN) */
	if (!(entry >> 63) || !(entry & ((1ULL << 55) - 1)))
		return 0;
	return (entry & ((1ULL << 55) - 1)) * page + (uintptr_t)p % page;
}

void t_close(struct t_dev *d)
{
	CHECK_OK(fpgadma_dealloc_pd(d->pd));
	CHECK_OK(fpgadma_close(d->ctx));
	d->ctx = NULL;
	d->pd = NULL;
}

struct fpgadma_mr *t_reg(struct t_dev *d, void *addr, size_t len, unsigned int access)
{
	struct fpgadma_mr *mr = NULL;
	int ret = fpgadma_reg_mr(d->pd, addr, len, access, &mr);

	if (ret)
		t_fail("fpgadma_reg_mr(%p, %zu, 0x%x): %s (%s)", addr, len, access,
		       t_errname(ret), fpgadma_strerror(ret));
	CHECK(mr != NULL);
	CHECK(mr->nsegs >= 1);
	return mr;
}

void t_dereg(struct fpgadma_mr *mr)
{
	CHECK_OK(fpgadma_dereg_mr(mr));
}

void t_snap_take(struct t_snap *s)
{
	s->pins = t_pins_out();
	s->vmpin_kb = t_vmpin_kb(0);
	s->live_mrs = t_dev_counter("live_mrs");
	s->pinned_pages = t_dev_counter("pinned_pages");
}

void t_snap_expect_at(const char *file, int line, const char *what,
		      const struct t_snap *before, long long pages, long long mrs)
{
	long long page_kb = (long long)t_page_size() / 1024;
	struct t_snap now;

	t_snap_take(&now);
	if (now.pins == T_PINS_UNKNOWN || before->pins == T_PINS_UNKNOWN)
		now.pins = before->pins + pages;	/* not visible to this process */
	if (now.pins != before->pins + pages ||
	    now.vmpin_kb != before->vmpin_kb + pages * page_kb ||
	    now.live_mrs != before->live_mrs + mrs ||
	    now.pinned_pages != before->pinned_pages + pages)
		t_fail_at(file, line,
			  "%s: pinned pages %lld (expected %lld), VmPin %lld kB (expected %lld), "
			  "live_mrs %lld (expected %lld), pinned_pages %lld (expected %lld)",
			  what, now.pins, before->pins + pages,
			  now.vmpin_kb, before->vmpin_kb + pages * page_kb,
			  now.live_mrs, before->live_mrs + mrs,
			  now.pinned_pages, before->pinned_pages + pages);
}

uint64_t t_snap_settle_at(const char *file, int line, const char *what,
			  const struct t_snap *before, unsigned int timeout_ms)
{
	uint64_t start = t_now_ms();
	struct t_snap now;

	timeout_ms *= (unsigned int)t_time_scale();
	for (;;) {
		t_snap_take(&now);
		if (now.pins == T_PINS_UNKNOWN || before->pins == T_PINS_UNKNOWN)
			now.pins = before->pins;	/* not visible to this process */
		if (now.pins == before->pins && now.live_mrs == before->live_mrs &&
		    now.pinned_pages == before->pinned_pages)
			return t_now_ms() - start;
		if (t_now_ms() - start > timeout_ms)
			t_fail_at(file, line,
				  "%s: after %u ms: pinned pages %lld (expected %lld), "
				  "live_mrs %lld (expected %lld), pinned_pages %lld (expected %lld)",
				  what, timeout_ms, now.pins, before->pins,
				  now.live_mrs, before->live_mrs,
				  now.pinned_pages, before->pinned_pages);
		t_sleep_ms(10);
	}
}

/* ---- memory ---- */

size_t t_page_size(void)
{
	static size_t page;

	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

size_t t_pages_spanned(const void *addr, size_t len)
{
	uintptr_t page = t_page_size();
	uintptr_t start = (uintptr_t)addr & ~(page - 1);
	uintptr_t end = ((uintptr_t)addr + len + page - 1) & ~(page - 1);

	return (end - start) / page;
}

void *t_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fail("mmap of %zu bytes: %s", len, t_errname(errno));
	return p;
}

void t_unmap(void *p, size_t len)
{
	CHECK_SYS(munmap(p, len));
}

void *t_map_aligned(size_t len, size_t align)
{
	char *raw = t_map(len + align);
	uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
	size_t before = start - (uintptr_t)raw;

	if (before)
		t_unmap(raw, before);
	if (align - before)
		t_unmap((char *)start + len, align - before);
	return (void *)start;
}

uint64_t t_dma_budget(void)
{
	char cmdline[4096];
	const char *p;
	uint64_t pool = 64 * T_MiB;

	if (t_read_file("/proc/cmdline", cmdline, sizeof(cmdline)))
		return UINT64_MAX;
	for (p = strstr(cmdline, "swiotlb="); p; p = strstr(p + 1, "swiotlb=")) {
		const char *v = p + strlen("swiotlb=");
		size_t n = strcspn(v, " \n");
		char word[128];

		if (p != cmdline && p[-1] != ' ')
			continue;
		snprintf(word, sizeof(word), "%.*s", (int)T_MIN(n, sizeof(word) - 1), v);
		/* "force" as one of the comma-separated options; not "noforce". */
		if (strcmp(word, "force") && !strstr(word, ",force") &&
		    strncmp(word, "force,", 6))
			continue;
		if (word[0] >= '0' && word[0] <= '9')
			pool = strtoull(word, NULL, 0) * 2048;	/* slabs of 2 KiB */
		return pool / 2;
	}
	return UINT64_MAX;
}

uint64_t t_big_size(const struct t_dev *d, uint64_t want)
{
	char b1[32], b2[32];
	uint64_t size = T_MIN(want, 256 * T_MiB);
	long long avail_kb = t_meminfo_kb("MemAvailable");
	uint64_t dma = t_dma_budget();
	const char *why = "as wanted";

	if (size < want)
		why = "256 MiB cap";
	if (avail_kb > 0 && (uint64_t)avail_kb * 1024 / 10 * 4 < size) {
		size = (uint64_t)avail_kb * 1024 / 10 * 4;
		why = "40% of MemAvailable";
	}
	if (dma < size) {
		size = dma;
		why = "half the swiotlb bounce pool";
	}
	if (d && d->attr.max_mr_size < size) {
		size = d->attr.max_mr_size;
		why = "max_mr_size";
	}
	size &= ~(uint64_t)(t_page_size() - 1);
	t_log("big size %s (wanted %s; %s)", t_size_str(size, b1), t_size_str(want, b2), why);
	CHECK(size >= t_page_size());
	return size;
}

long long t_anon_huge_kb(const void *addr, size_t len)
{
	char line[512];
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	bool in = false;
	long long kb = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		t_fail("cannot open /proc/self/smaps: %s", t_errname(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end;
		char c;

		if (sscanf(line, "%llx-%llx %c", &start, &end, &c) == 3 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = start < hi && end > lo;
			continue;
		}
		if (in && !strncmp(line, "AnonHugePages:", 14))
			kb += strtoll(line + 14, NULL, 10);
	}
	fclose(f);
	return kb;
}

bool t_maps_contains(const char *needle)
{
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		t_fail("cannot open /proc/self/maps: %s", t_errname(errno));
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

void *t_map_nothp(size_t len)
{
	void *p = t_map(len);

	/* EINVAL: a kernel without transparent huge pages, which is fine */
	if (madvise(p, len, MADV_NOHUGEPAGE) && errno != EINVAL)
		t_fail("madvise(MADV_NOHUGEPAGE): %s", t_errname(errno));
	return p;
}

/* ---- the MR monitor ---- */

void t_need_monitor(const struct t_dev *d)
{
	if (!(d->attr.caps & FPGADMA_CAP_MR_MONITOR))
		t_skip("the device has no MR monitor (caps 0x%llx without FPGADMA_CAP_MR_MONITOR)",
		       (unsigned long long)d->attr.caps);
}

const char *t_mon_cause_name(uint32_t cause)
{
	static __thread char buf[16];

	switch (cause) {
	case FPGADMA_MON_CAUSE_UNMAP:
		return "UNMAP";
	case FPGADMA_MON_CAUSE_CLEAR:
		return "CLEAR";
	case FPGADMA_MON_CAUSE_EXIT:
		return "EXIT";
	case FPGADMA_MON_CAUSE_OTHER:
		return "OTHER";
	}
	snprintf(buf, sizeof(buf), "%u", cause);
	return buf;
}

bool t_mon_pollpri(struct fpgadma_context *ctx, int timeout_ms)
{
	struct pollfd pfd = { .fd = fpgadma_get_fd(ctx), .events = POLLPRI };
	int r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		t_fail("poll(POLLPRI): %s", t_errname(errno));
	if (pfd.revents & (POLLERR | POLLNVAL))
		t_fail("poll(POLLPRI): revents 0x%x", pfd.revents);
	return r > 0 && (pfd.revents & POLLPRI);
}

void t_mon_expect_quiet_at(const char *file, int line, struct fpgadma_context *ctx,
			   const char *what)
{
	struct fpgadma_mon_event ev;
	int r;

	if (t_mon_pollpri(ctx, 0))
		t_fail_at(file, line, "%s: poll reports POLLPRI (a monitor event pending)", what);
	r = fpgadma_mon_read(ctx, &ev, 1);
	if (r < 0)
		t_fail_at(file, line, "%s: fpgadma_mon_read: %s", what, t_errname(r));
	if (r > 0)
		t_fail_at(file, line, "%s: an unexpected monitor event: kind %u cause %s lkey 0x%x "
			  "slot %u gen %u addr 0x%llx length %llu", what, ev.kind,
			  t_mon_cause_name(ev.cause), ev.lkey, ev.mon_slot, ev.mon_gen,
			  (unsigned long long)ev.addr, (unsigned long long)ev.length);
}

struct fpgadma_mr *t_reg_mon_at(const char *file, int line, struct t_dev *d, void *addr,
				size_t len, unsigned int access)
{
	struct fpgadma_mr *mr = NULL;
	int ret = fpgadma_reg_mr_monitor(d->pd, addr, len, access, &mr);

	if (ret)
		t_fail_at(file, line, "fpgadma_reg_mr_monitor(%p, %zu, 0x%x): %s (%s)", addr, len,
			  access, t_errname(ret), fpgadma_strerror(ret));
	if (!mr || mr->mon_slot == 0)
		t_fail_at(file, line, "monitored MR without a slot");
	ret = fpgadma_mr_valid(mr);
	if (ret != 1)
		t_fail_at(file, line, "monitored MR over %p+%zu (slot %u gen %u) is not valid after "
			  "registration: %s", addr, len, mr->mon_slot, mr->mon_gen, t_errname(ret));
	return mr;
}

/* ---- host endpoints ---- */

void t_need_host_ep(const struct t_dev *d)
{
	if (!(d->attr.caps & FPGADMA_CAP_HOST_EP))
		t_skip("the %s engine has no host endpoints (caps 0x%llx without "
		       "FPGADMA_CAP_HOST_EP); host_ep_unsupported checks that it refuses them",
		       t_engine_name(d->attr.engine), (unsigned long long)d->attr.caps);
}

void t_open_host_ep_pair(struct t_dev *a, struct t_dev *b)
{
	t_open(a);
	t_need_host_ep(a);
	t_open(b);
	CHECK(a->attr.ep_id != 0 && b->attr.ep_id != 0);
	CHECK_NE(a->attr.ep_id, b->attr.ep_id);
	t_log("two contexts on fpgadma%u, ep_ids %u and %u", a->attr.dev_index, a->attr.ep_id,
	      b->attr.ep_id);
}

struct fpgadma_wr t_rdma_wr(struct t_dev *d, uint32_t opcode, uint32_t rkey, uint64_t raddr,
			    uint32_t flags, const struct fpgadma_sge *sg, unsigned int n)
{
	return (struct fpgadma_wr){ .wr_id = d->next_wr_id++, .opcode = opcode, .flags = flags,
				    .dev_addr = raddr, .rkey = rkey,
				    .sg_list = (uintptr_t)sg, .num_sge = n };
}

struct fpgadma_cqe t_post_one_at(const char *file, int line, struct t_dev *d,
				 const struct fpgadma_wr *wr)
{
	struct fpgadma_cqe c;
	int r = fpgadma_post(d->ctx, wr, 1);

	if (r)
		t_fail_at(file, line, "fpgadma_post: %s", t_errname(r));
	t_get_cqes_at(file, line, d->ctx, &c, 1, T_CQE_TIMEOUT_MS);
	if (c.wr_id != wr->wr_id)
		t_fail_at(file, line, "CQE wr_id %llu, expected %llu",
			  (unsigned long long)c.wr_id, (unsigned long long)wr->wr_id);
	return c;
}

/* ---- data patterns ---- */

static uint64_t t_pattern_word(uint64_t seed, uint64_t word)
{
	return t_mix64(seed * 0xD1B54A32D192ED03ULL + word);
}

uint8_t t_pattern_byte(uint64_t seed, uint64_t off)
{
	return (uint8_t)(t_pattern_word(seed, off >> 3) >> ((off & 7) * 8));
}

void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;
	size_t i = 0;

	for (; i < len && ((off + i) & 7); i++)
		p[i] = t_pattern_byte(seed, off + i);
	for (; i + 8 <= len; i += 8) {
		uint64_t w = t_pattern_word(seed, (off + i) >> 3);
		int b;

		for (b = 0; b < 8; b++)
			p[i + b] = (uint8_t)(w >> (b * 8));
	}
	for (; i < len; i++)
		p[i] = t_pattern_byte(seed, off + i);
}

int t_verify(const void *buf, size_t len, uint64_t seed, uint64_t off, const char *what)
{
	const uint8_t *p = buf;
	uint8_t chunk[4096];
	size_t done, i, bad = 0;

	for (done = 0; done < len; done += sizeof(chunk)) {
		size_t n = T_MIN(sizeof(chunk), len - done);

		t_fill(chunk, n, seed, off + done);
		if (!memcmp(chunk, p + done, n))
			continue;
		for (i = 0; i < n; i++) {
			if (chunk[i] == p[done + i])
				continue;
			if (bad < 4)
				t_log("%s: byte %zu is 0x%02x, expected 0x%02x", what, done + i,
				      p[done + i], chunk[i]);
			bad++;
		}
	}
	if (bad)
		t_log("%s: %zu of %zu bytes wrong", what, bad, len);
	return bad ? -1 : 0;
}

int t_verify_byte(const void *buf, size_t len, uint8_t c, const char *what)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != c) {
			t_log("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, p[i], c);
			return -1;
		}
	}
	return 0;
}

void t_stream_bytes(void *buf, uint64_t pos, size_t len, uint64_t frame_size)
{
	uint8_t *p = buf;
	uint64_t frame = pos / frame_size;
	uint64_t j = (pos % frame_size) / 8;
	unsigned int b = (unsigned int)(pos % 8);
	size_t i = 0;

	while (i < len) {
		uint64_t w = fpgadma_stream_word(frame, j);

		for (; b < 8 && i < len; b++)
			p[i++] = (uint8_t)(w >> (b * 8));
		b = 0;
		if (++j == frame_size / 8) {
			j = 0;
			frame++;
		}
	}
}

int t_stream_check(const void *buf, size_t len, uint64_t frame_size, uint64_t *pos,
		   const char *what)
{
	const uint8_t *p = buf;
	uint8_t chunk[4096];
	uint64_t start = UINT64_MAX;
	size_t k, done, i;

	/* The first frame start: its word 0 is its number, the rest follows. */
	for (k = 0; k < frame_size && k + 24 <= len; k++) {
		size_t m = T_MIN(len - k, 64);
		uint64_t n = 0;
		int b;

		for (b = 7; b >= 0; b--)
			n = n << 8 | p[k + (size_t)b];
		if (n > UINT64_MAX / frame_size - 1 || n * frame_size < k)
			continue;
		t_stream_bytes(chunk, n * frame_size, m, frame_size);
		if (!memcmp(chunk, p + k, m)) {
			start = n * frame_size - k;
			break;
		}
	}
	if (start == UINT64_MAX) {
		t_log("%s: no frame start found in the first %llu bytes", what,
		      (unsigned long long)T_MIN(frame_size, len));
		return -1;
	}
	for (done = 0; done < len; done += sizeof(chunk)) {
		size_t n = T_MIN(sizeof(chunk), len - done);

		t_stream_bytes(chunk, start + done, n, frame_size);
		if (!memcmp(chunk, p + done, n))
			continue;
		for (i = 0; chunk[i] == p[done + i]; i++)
			;
		{
			uint64_t g = start + done + i;

			t_log("%s: byte %zu (stream offset %" PRIu64 ", frame %" PRIu64
			      ", word %" PRIu64 ") is 0x%02x, expected 0x%02x",
			      what, done + i, g, g / frame_size, (g % frame_size) / 8,
			      p[done + i], chunk[i]);
		}
		return -1;
	}
	*pos = start;
	return 0;
}

/* ---- work requests and completions ---- */

void t_get_cqes_at(const char *file, int line, struct fpgadma_context *ctx,
		   struct fpgadma_cqe *cqes, int n, unsigned int timeout_ms)
{
	uint64_t deadline = t_now_ms() + timeout_ms;
	int got = 0;

	while (got < n) {
		int r = fpgadma_poll(ctx, cqes + got, n - got);
		uint64_t now;

		if (r < 0)
			t_fail_at(file, line, "fpgadma_poll: %s after %d of %d CQEs",
				  t_errname(r), got, n);
		got += r;
		if (got == n)
			break;
		now = t_now_ms();
		if (now >= deadline)
			t_fail_at(file, line, "only %d of %d CQEs after %u ms", got, n, timeout_ms);
		r = fpgadma_wait(ctx, (int)T_MIN(deadline - now, 1000));
		if (r < 0)
			t_fail_at(file, line, "fpgadma_wait: %s", t_errname(r));
	}
}

void t_expect_no_cqe_at(const char *file, int line, struct fpgadma_context *ctx,
			unsigned int ms)
{
	struct fpgadma_cqe c;
	int r = fpgadma_wait(ctx, (int)ms);

	if (r != 0)
		t_fail_at(file, line, "fpgadma_wait(%u ms) returned %s, expected no CQE",
			  ms, t_errname(r));
	r = fpgadma_poll(ctx, &c, 1);
	if (r != 0)
		t_fail_at(file, line, "fpgadma_poll returned %s, expected no CQE (wr_id %llu)",
			  t_errname(r), r > 0 ? (unsigned long long)c.wr_id : 0ULL);
}

void t_cqe_expect_at(const char *file, int line, const struct fpgadma_cqe *c,
		     uint64_t wr_id, uint32_t opcode, uint32_t status, uint64_t byte_len)
{
	if (c->wr_id != wr_id || c->opcode != opcode || c->status != status ||
	    c->byte_len != byte_len || (opcode != FPGADMA_WR_RECV && c->src_ep != 0))
		t_fail_at(file, line,
			  "CQE wr_id %llu opcode %u status %u (%s) byte_len %llu src_ep %u; "
			  "expected wr_id %llu opcode %u status %u (%s) byte_len %llu",
			  (unsigned long long)c->wr_id, c->opcode, c->status,
			  fpgadma_wc_status_str(c->status), (unsigned long long)c->byte_len,
			  c->src_ep, (unsigned long long)wr_id, opcode, status,
			  fpgadma_wc_status_str(status), (unsigned long long)byte_len);
}

struct fpgadma_cqe t_run_wr_at(const char *file, int line, struct t_dev *d,
			       uint32_t opcode, uint64_t dev_addr,
			       const struct fpgadma_sge *sg, unsigned int num_sge)
{
	struct fpgadma_wr wr = {
		.wr_id = d->next_wr_id++,
		.opcode = opcode,
		.dev_addr = dev_addr,
		.sg_list = (uintptr_t)sg,
		.num_sge = num_sge,
	};
	struct fpgadma_cqe c;
	int r = fpgadma_post(d->ctx, &wr, 1);

	if (r)
		t_fail_at(file, line, "fpgadma_post: %s", t_errname(r));
	t_get_cqes_at(file, line, d->ctx, &c, 1, T_CQE_TIMEOUT_MS);
	if (c.wr_id != wr.wr_id || c.opcode != opcode)
		t_fail_at(file, line, "CQE wr_id %llu opcode %u, expected wr_id %llu opcode %u",
			  (unsigned long long)c.wr_id, c.opcode,
			  (unsigned long long)wr.wr_id, opcode);
	return c;
}

/* Pieces of at most 64 MiB, WRs of at most max_sge pieces and 256 MiB. */
#define T_PIECE_MAX	(64 * T_MiB)

static void t_dev_move(const char *file, int line, struct t_dev *d, uint32_t opcode,
		       const struct fpgadma_mr *mr, const uint8_t *addr, size_t len,
		       uint64_t dev_addr)
{
	unsigned int max_pieces = T_MIN(d->attr.max_sge, 4);
	unsigned int batch_max = T_MIN(T_MIN(d->attr.max_post, d->attr.cq_entries), 64);
	uint64_t wr_max = T_PIECE_MAX * max_pieces;
	struct fpgadma_sge sges[64][4];
	struct fpgadma_wr wrs[64];
	struct fpgadma_cqe cqes[64];
	size_t done = 0;

	if (dev_addr > d->attr.dev_mem_size || len > d->attr.dev_mem_size - dev_addr)
		t_fail_at(file, line, "test bug: device range %llu+%zu beyond %llu",
			  (unsigned long long)dev_addr, len,
			  (unsigned long long)d->attr.dev_mem_size);
	while (done < len) {
		unsigned int n = 0, i;
		size_t batch_start = done;

		while (n < batch_max && done < len) {
			size_t wr_len = T_MIN(len - done, wr_max), off = 0;
			unsigned int p = 0;

			while (off < wr_len) {
				size_t piece = T_MIN(wr_len - off, T_PIECE_MAX);

				sges[n][p++] = t_sge(mr, addr + done + off, (uint32_t)piece);
				off += piece;
			}
			memset(&wrs[n], 0, sizeof(wrs[n]));
			wrs[n].wr_id = d->next_wr_id++;
			wrs[n].opcode = opcode;
			wrs[n].dev_addr = dev_addr + done;
			wrs[n].sg_list = (uintptr_t)sges[n];
			wrs[n].num_sge = p;
			done += wr_len;
			n++;
		}
		{
			int r = fpgadma_post(d->ctx, wrs, n);

			if (r)
				t_fail_at(file, line, "fpgadma_post of %u WRs: %s", n, t_errname(r));
		}
		t_get_cqes_at(file, line, d->ctx, cqes, (int)n, T_CQE_TIMEOUT_MS);
		for (i = 0; i < n; i++) {
			uint64_t want = T_MIN(len - batch_start, wr_max);

			t_cqe_expect_at(file, line, &cqes[i], wrs[i].wr_id, opcode,
					FPGADMA_WC_SUCCESS, want);
			batch_start += want;
		}
	}
}

void t_dev_write_at(const char *file, int line, struct t_dev *d,
		    const struct fpgadma_mr *mr, const void *addr, size_t len,
		    uint64_t dev_addr)
{
	t_dev_move(file, line, d, FPGADMA_WR_WRITE_MEM, mr, addr, len, dev_addr);
}

void t_dev_read_at(const char *file, int line, struct t_dev *d,
		   const struct fpgadma_mr *mr, void *addr, size_t len,
		   uint64_t dev_addr)
{
	t_dev_move(file, line, d, FPGADMA_WR_READ_MEM, mr, addr, len, dev_addr);
}

void t_round_trip_at(const char *file, int line, struct t_dev *d,
		     const struct fpgadma_mr *src_mr, const void *src,
		     const struct fpgadma_mr *dst_mr, void *dst, size_t len)
{
	size_t chunk = T_MIN(d->attr.dev_mem_size, 64 * T_MiB), off, i;

	for (off = 0; off < len; off += chunk) {
		size_t n = T_MIN(chunk, len - off);

		t_dev_write_at(file, line, d, src_mr, (const uint8_t *)src + off, n, 0);
		t_dev_read_at(file, line, d, dst_mr, (uint8_t *)dst + off, n, 0);
	}
	if (memcmp(src, dst, len)) {
		for (i = 0; ((const uint8_t *)src)[i] == ((uint8_t *)dst)[i]; i++)
			;
		t_fail_at(file, line, "round trip of %zu bytes: byte %zu is 0x%02x, expected 0x%02x",
			  len, i, ((uint8_t *)dst)[i], ((const uint8_t *)src)[i]);
	}
}

/*
 * One WR of a window of t_round_trip_huge_at() over [p, p+n) of mr, to or
 * from device memory at 0 (n <= T_XFER_MAX), and its transfers in the log:
 * one where the MR is one DMA segment or the window lies inside one huge
 * page of an all-huge side, else at most one per page it touches.  Returns
 * the transfers.
 */
static uint64_t t_window_wr(const char *file, int line, struct t_dev *d, bool to_dev,
			    const struct fpgadma_mr *mr, const uint8_t *p, size_t n, uint64_t hp,
			    bool huge, const char *what)
{
	uintptr_t a = (uintptr_t)p;
	/* A huge page is in one segment unless max_seg_size cuts the MR's runs. */
	bool one = mr->nsegs == 1 ||
		   (huge && mr->length <= d->attr.max_seg_size && a / hp == (a + n - 1) / hp);
	uint64_t most = one ? 1 : t_pages_spanned(p, n), x0 = t_xfer_total(d), x;

	if (to_dev)
		t_dev_write_at(file, line, d, mr, p, n, 0);
	else
		t_dev_read_at(file, line, d, mr, (uint8_t *)(uintptr_t)p, n, 0);
	x = t_xfer_total(d) - x0;
	if (x < 1 || x > most)
		t_fail_at(file, line, "%s: a %s of %zu bytes at %p (MR of %u segments, %s huge "
			  "page) took %llu transfers, expected %s%llu", what,
			  to_dev ? "WRITE_MEM" : "READ_MEM", n, (void *)p, mr->nsegs,
			  !huge ? "not known to be in a" :
			  a / hp == (a + n - 1) / hp ? "inside one" : "across a",
			  (unsigned long long)x, one ? "" : "1 to ", (unsigned long long)most);
	return x;
}

uint64_t t_round_trip_huge_at(const char *file, int line, struct t_dev *d, uint64_t hp,
			      const struct fpgadma_mr *src_mr, const uint8_t *src, bool src_huge,
			      const struct fpgadma_mr *dst_mr, uint8_t *dst, bool dst_huge,
			      size_t len, const char *what)
{
	size_t w = (size_t)T_MIN(T_MIN(d->attr.dev_mem_size, (uint64_t)T_XFER_MAX), len);
	unsigned int budget = t_xfer_budget(d), k = budget / 8, nb = 0, m, i;
	const uintptr_t side[2] = { (uintptr_t)src, (uintptr_t)dst };
	size_t *bound, *offs, o;
	uint64_t xfers = 0;
	char places[160];
	int at = 0;

	if (!len || (side[0] < side[1] + len && side[1] < side[0] + len))
		t_fail_at(file, line, "test bug: %s: %zu bytes, source and destination overlapping",
			  what, len);
	if (!t_has_xfer_log(d) || 2 * T_DIV_ROUND_UP(len, w) <= budget / 2) {
		t_round_trip_at(file, line, d, src_mr, src, dst_mr, dst, len);
		return len;
	}
	/* The huge page boundaries of both sides inside (0, len), in order. */
	bound = calloc(2 * (len / hp) + 4, sizeof(*bound));
	offs = calloc(k, sizeof(*offs));
	if (!bound || !offs)
		t_fail_at(file, line, "out of memory");
	for (o = 1; o < len; ) {
		size_t next = len;

		for (i = 0; i < 2; i++) {
			size_t b = (size_t)(hp - (side[i] + o) % hp) % hp;

			next = T_MIN(next, o + b);
		}
		if (next >= len)
			break;
		bound[nb++] = next;
		o = next + 1;
	}
	/* The start, the end, and up to k - 2 boundaries spread evenly between. */
	m = T_MIN(nb, k - 2);
	offs[0] = 0;
	for (i = 0; i < m; i++) {
		size_t b = bound[(2 * (size_t)i + 1) * nb / (2 * (size_t)m)];

		offs[1 + i] = T_MIN(b > w / 2 ? b - w / 2 : 0, len - w);
	}
	offs[1 + m] = len - w;
	for (i = 0; i < m + 2; i++) {
		xfers += t_window_wr(file, line, d, true, src_mr, src + offs[i], w, hp, src_huge,
				     what);
		memset(dst + offs[i], 0, w);
		xfers += t_window_wr(file, line, d, false, dst_mr, dst + offs[i], w, hp, dst_huge,
				     what);
		if (memcmp(src + offs[i], dst + offs[i], w))
			t_fail_at(file, line, "%s: the window of %zu bytes at +%zu came back different",
				  what, w, offs[i]);
		if (at >= 0 && (size_t)at < sizeof(places))
			at += snprintf(places + at, sizeof(places) - (size_t)at, "%s+%zu",
				       i ? ", " : "", offs[i]);
	}
	t_log("%s: %u windows of %zu bytes through device memory (at %s; %u huge page "
	      "boundaries in the range): %llu transfers, each WR's as many as expected", what,
	      m + 2, w, places, nb, (unsigned long long)xfers);
	free(bound);
	free(offs);
	return (uint64_t)w * (m + 2);
}

/* ---- processes ---- */

int t_wait_child_at(const char *file, int line, pid_t pid, unsigned int timeout_ms)
{
	uint64_t deadline;
	int status;

	timeout_ms *= (unsigned int)t_time_scale();
	deadline = t_now_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			t_fail_at(file, line, "waitpid(%d): %s", (int)pid, t_errname(errno));
		if (t_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			t_fail_at(file, line, "child %d still running after %u ms (killed)",
				  (int)pid, timeout_ms);
		}
		t_sleep_ms(5);
	}
}

void t_device_sees(struct t_dev *d, const struct fpgadma_mr *scratch_mr, uint8_t *scratch,
		   const struct fpgadma_mr *mr, const uint8_t *p, size_t len, const char *what)
{
	CHECK_LE(len, d->attr.dev_mem_size);
	memset(scratch, 0xA5, len);
	t_dev_write(d, mr, p, len, 0);
	t_dev_read(d, scratch_mr, scratch, len, 0);
	if (memcmp(scratch, p, len))
		t_fail("%s: the device read something else than the process's data", what);
}

void t_device_writes(struct t_dev *d, const struct fpgadma_mr *scratch_mr, uint8_t *scratch,
		     const struct fpgadma_mr *mr, uint8_t *p, size_t len, uint64_t seed,
		     const char *what)
{
	CHECK_LE(len, d->attr.dev_mem_size);
	t_fill(scratch, len, seed, 0);
	t_dev_write(d, scratch_mr, scratch, len, 0);
	t_dev_read(d, mr, p, len, 0);
	CHECK_MSG(!t_verify(p, len, seed, 0, what), "%s: the process does not see the device's data",
		  what);
}

/* ---- paced streams ---- */

void t_need_atomic(const struct t_dev *d)
{
	if (!(d->attr.caps & FPGADMA_CAP_ATOMIC))
		t_skip("the %s engine has no atomics (caps 0x%llx without FPGADMA_CAP_ATOMIC); "
		       "atomic_unsupported checks that it refuses them",
		       t_engine_name(d->attr.engine), (unsigned long long)d->attr.caps);
}

const char *t_atomic_op_name(uint32_t op)
{
	static const char *const names[FPGADMA_ATOMIC_OP_COUNT] = {
		"MIN", "MAX", "SUM", "PROD", "LOR", "LAND", "BOR", "BAND", "LXOR", "BXOR",
		"ATOMIC_READ", "ATOMIC_WRITE", "CSWAP", "CSWAP_NE", "CSWAP_LE", "CSWAP_LT",
		"CSWAP_GE", "CSWAP_GT", "MSWAP",
	};
	static __thread char buf[16];

	if (op < FPGADMA_ATOMIC_OP_COUNT)
		return names[op];
	snprintf(buf, sizeof(buf), "op %u", op);
	return buf;
}

const char *t_atomic_type_name(uint32_t type)
{
	static const char *const names[FPGADMA_ATOMIC_TYPE_COUNT] = {
		"INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64",
		"FLOAT", "DOUBLE", "FLOAT_COMPLEX", "DOUBLE_COMPLEX", "LONG_DOUBLE",
		"LONG_DOUBLE_COMPLEX",
	};
	static __thread char buf[16];

	if (type < FPGADMA_ATOMIC_TYPE_COUNT)
		return names[type];
	snprintf(buf, sizeof(buf), "type %u", type);
	return buf;
}

void t_need_stream(const struct t_dev *d)
{
	if (!(d->attr.caps & FPGADMA_CAP_STREAM))
		t_skip("the %s engine has no paced streams (caps 0x%llx without "
		       "FPGADMA_CAP_STREAM); stream_unsupported checks that it refuses them",
		       t_engine_name(d->attr.engine), (unsigned long long)d->attr.caps);
}

const char *t_stream_end_name(uint32_t end)
{
	static __thread char buf[16];

	switch (end) {
	case 0:
		return "0";
	case FPGADMA_STREAM_END_STOP:
		return "STOP";
	case FPGADMA_STREAM_END_DEREG:
		return "DEREG";
	case FPGADMA_STREAM_END_CLOSE:
		return "CLOSE";
	case FPGADMA_STREAM_END_GONE:
		return "GONE";
	}
	snprintf(buf, sizeof(buf), "%u", end);
	return buf;
}

const char *t_stream_state_name(uint32_t state)
{
	static __thread char buf[16];

	switch (state) {
	case FPGADMA_STREAM_RUNNING:
		return "RUNNING";
	case FPGADMA_STREAM_DRAINING:
		return "DRAINING";
	case FPGADMA_STREAM_STOPPED:
		return "STOPPED";
	}
	snprintf(buf, sizeof(buf), "%u", state);
	return buf;
}

uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void t_stream_stats_check_at(const char *file, int line, const struct fpgadma_stream_stats *st,
			     uint32_t frame_size, const char *what)
{
	unsigned int i;

	if (st->frames != st->frames_delivered + st->drops + st->fifo_level)
		t_fail_at(file, line, "%s: frames %llu != delivered %llu + drops %llu + fifo_level %u",
			  what, (unsigned long long)st->frames,
			  (unsigned long long)st->frames_delivered, (unsigned long long)st->drops,
			  st->fifo_level);
	if (st->write_idx != st->frames_delivered)
		t_fail_at(file, line, "%s: write_idx %llu != frames_delivered %llu", what,
			  (unsigned long long)st->write_idx,
			  (unsigned long long)st->frames_delivered);
	if (st->bytes_delivered != st->frames_delivered * frame_size)
		t_fail_at(file, line, "%s: bytes_delivered %llu != %llu frames of %u bytes", what,
			  (unsigned long long)st->bytes_delivered,
			  (unsigned long long)st->frames_delivered, frame_size);
	if (st->read_idx > st->write_idx)
		t_fail_at(file, line, "%s: read_idx %llu beyond write_idx %llu", what,
			  (unsigned long long)st->read_idx, (unsigned long long)st->write_idx);
	if (!st->fifo_frames || st->fifo_level > st->fifo_hwm || st->fifo_hwm > st->fifo_frames)
		t_fail_at(file, line, "%s: fifo_level %u, fifo_hwm %u, fifo_frames %u", what,
			  st->fifo_level, st->fifo_hwm, st->fifo_frames);
	if (st->state < FPGADMA_STREAM_RUNNING || st->state > FPGADMA_STREAM_STOPPED ||
	    (st->state == FPGADMA_STREAM_STOPPED) != (st->end != 0) ||
	    st->end > FPGADMA_STREAM_END_GONE)
		t_fail_at(file, line, "%s: state %s with end %s", what,
			  t_stream_state_name(st->state), t_stream_end_name(st->end));
	if (st->reserved0)
		t_fail_at(file, line, "%s: reserved0 0x%x", what, st->reserved0);
	for (i = 0; i < T_ARRAY_SIZE(st->reserved); i++)
		if (st->reserved[i])
			t_fail_at(file, line, "%s: reserved[%u] 0x%llx", what, i,
				  (unsigned long long)st->reserved[i]);
}

void t_stream_stats_log(const char *what, const struct fpgadma_stream_stats *st)
{
	t_log("%s: %s%s%s, frames %llu = delivered %llu + drops %llu + FIFO %u (hwm %u of %u), "
	      "write_idx %llu read_idx %llu, period %llu ns", what, t_stream_state_name(st->state),
	      st->end ? " by " : "", st->end ? t_stream_end_name(st->end) : "",
	      (unsigned long long)st->frames, (unsigned long long)st->frames_delivered,
	      (unsigned long long)st->drops, st->fifo_level, st->fifo_hwm, st->fifo_frames,
	      (unsigned long long)st->write_idx, (unsigned long long)st->read_idx,
	      (unsigned long long)st->frame_period_ns);
}

void t_frames_init(struct t_frames *f, struct fpgadma_stream *s,
		   const struct fpgadma_stream_attr *a, const uint8_t *base, uint64_t seed,
		   bool check_tail, uint64_t start_ns)
{
	memset(f, 0, sizeof(*f));
	f->stream_id = fpgadma_stream_id(s);
	f->frame_size = a->frame_size;
	f->slot_size = a->slot_size;
	f->nslots = a->nslots;
	f->period_ns = a->frame_period_ns;
	f->ring = (uint8_t *)base + a->ring_offset;
	f->base = base;
	f->seed = seed;
	f->check_tail = check_tail;
	f->start_ns = start_ns;
	if (!f->stream_id || f->frame_size < FPGADMA_FRAME_HDR_SIZE || !f->nslots ||
	    f->slot_size < f->frame_size || !f->period_ns)
		t_fail("stream %u started with frame_size %u, slot_size %llu, nslots %llu, period "
		       "%llu ns", f->stream_id, f->frame_size, (unsigned long long)f->slot_size,
		       (unsigned long long)f->nslots, (unsigned long long)f->period_ns);
}

uint8_t *t_frames_slot(const struct t_frames *f, uint64_t idx)
{
	return f->ring + (idx % f->nslots) * f->slot_size;
}

void t_frame_check_at(const char *file, int line, struct t_frames *f, const void *slot)
{
	const uint8_t *p = slot;
	struct fpgadma_frame_hdr h;
	uint64_t now = t_now_ns(), idx = f->n, words, j;

	memcpy(&h, p, sizeof(h));
	if (h.magic != FPGADMA_FRAME_MAGIC || h.hdr_size != FPGADMA_FRAME_HDR_SIZE || h.flags ||
	    h.frame_size != f->frame_size || h.stream_id != f->stream_id || h.reserved)
		t_fail_at(file, line, "frame %llu (slot %llu): magic 0x%08x hdr_size %u flags 0x%x "
			  "frame_size %u stream_id %u reserved 0x%llx (seq %llu); expected magic "
			  "0x%08x hdr_size %u flags 0 frame_size %u stream_id %u reserved 0",
			  (unsigned long long)idx, (unsigned long long)(idx % f->nslots), h.magic,
			  h.hdr_size, h.flags, h.frame_size, h.stream_id,
			  (unsigned long long)h.reserved, (unsigned long long)h.seq,
			  FPGADMA_FRAME_MAGIC, FPGADMA_FRAME_HDR_SIZE, f->frame_size, f->stream_id);
	if (idx == 0) {
		if (h.lost_before > h.seq)
			t_fail_at(file, line, "frame 0: seq %llu but lost_before %llu",
				  (unsigned long long)h.seq, (unsigned long long)h.lost_before);
		f->seq0 = h.seq - h.lost_before;
		f->first_seq = h.seq;
		f->first_ts = h.timestamp_ns;
		/* the stream's first frame (dropped or not) came after the start */
		if (f->start_ns && h.timestamp_ns - h.lost_before * f->period_ns < f->start_ns)
			t_fail_at(file, line, "frame 0: seq %llu (lost_before %llu) timestamp %llu "
				  "ns, so the first frame was due %llu ns before the start",
				  (unsigned long long)h.seq, (unsigned long long)h.lost_before,
				  (unsigned long long)h.timestamp_ns,
				  (unsigned long long)(f->start_ns - (h.timestamp_ns -
							h.lost_before * f->period_ns)));
	} else {
		if (h.seq != f->last_seq + 1 + h.lost_before)
			t_fail_at(file, line, "frame %llu: seq %llu after seq %llu, but lost_before "
				  "%llu (a frame twice, out of order, or a gap not reported)",
				  (unsigned long long)idx, (unsigned long long)h.seq,
				  (unsigned long long)f->last_seq,
				  (unsigned long long)h.lost_before);
		if (h.timestamp_ns <= f->last_ts ||
		    h.timestamp_ns != f->first_ts + (h.seq - f->first_seq) * f->period_ns)
			t_fail_at(file, line, "frame %llu: seq %llu timestamp %llu ns, previous %llu "
				  "ns; expected %llu ns (first seq %llu at %llu ns, period %llu ns)",
				  (unsigned long long)idx, (unsigned long long)h.seq,
				  (unsigned long long)h.timestamp_ns,
				  (unsigned long long)f->last_ts,
				  (unsigned long long)(f->first_ts +
						       (h.seq - f->first_seq) * f->period_ns),
				  (unsigned long long)f->first_seq,
				  (unsigned long long)f->first_ts,
				  (unsigned long long)f->period_ns);
	}
	if (h.timestamp_ns > now)
		t_fail_at(file, line, "frame %llu: timestamp %llu ns is %llu ns in the future",
			  (unsigned long long)idx, (unsigned long long)h.timestamp_ns,
			  (unsigned long long)(h.timestamp_ns - now));
	if (now - h.timestamp_ns > f->max_age_ns)
		f->max_age_ns = now - h.timestamp_ns;

	words = ((uint64_t)f->frame_size + 7) / 8;
	for (j = FPGADMA_FRAME_HDR_SIZE / 8; j < words; j++) {
		uint64_t w = fpgadma_stream_word(h.seq, j);
		size_t n = (size_t)T_MIN(8, f->frame_size - 8 * j);
		uint8_t want[8];
		unsigned int b;

		for (b = 0; b < 8; b++)
			want[b] = (uint8_t)(w >> (8 * b));	/* little-endian */
		if (memcmp(p + 8 * j, want, n)) {
			uint64_t got = 0;

			for (b = 0; b < n; b++)
				got |= (uint64_t)p[8 * j + b] << (8 * b);
			t_fail_at(file, line, "frame %llu (seq %llu, slot %llu): payload word %llu "
				  "(byte %llu, %zu bytes) is 0x%016llx, expected 0x%016llx",
				  (unsigned long long)idx, (unsigned long long)h.seq,
				  (unsigned long long)(idx % f->nslots), (unsigned long long)j,
				  (unsigned long long)(8 * j), n, (unsigned long long)got,
				  (unsigned long long)(n < 8 ? w & ((1ULL << (8 * n)) - 1) : w));
		}
	}
	if (f->check_tail && f->slot_size > f->frame_size) {
		const uint8_t *tail = p + f->frame_size;
		char what[96];

		snprintf(what, sizeof(what), "frame %llu: the slot's bytes past frame_size",
			 (unsigned long long)idx);
		if (t_verify(tail, f->slot_size - f->frame_size, f->seed,
			     (uint64_t)(tail - f->base), what))
			t_fail_at(file, line, "%s were written", what);
	}
	f->last_seq = h.seq;
	f->last_ts = h.timestamp_ns;
	f->lost += h.lost_before;
	if (h.lost_before) {
		f->gaps++;
		if (h.lost_before > f->max_gap)
			f->max_gap = h.lost_before;
	}
	f->n++;
}

uint64_t t_frames_consume_at(const char *file, int line, struct t_frames *f,
			     struct fpgadma_stream *s, bool keep)
{
	uint64_t first = UINT64_MAX, n = fpgadma_stream_ready(s, &first), old = f->n, idx;

	if (n > f->nslots)
		t_fail_at(file, line, "fpgadma_stream_ready: %llu frames in a ring of %llu slots",
			  (unsigned long long)n, (unsigned long long)f->nslots);
	if (f->n < first || f->n > first + n)
		t_fail_at(file, line, "fpgadma_stream_ready: %llu frames from index %llu, but %llu "
			  "frames were taken so far", (unsigned long long)n,
			  (unsigned long long)first, (unsigned long long)f->n);
	for (idx = f->n; idx < first + n; idx++) {
		void *slot = fpgadma_stream_slot(s, idx);

		if (slot != t_frames_slot(f, idx))
			t_fail_at(file, line, "fpgadma_stream_slot(%llu) = %p, expected %p",
				  (unsigned long long)idx, slot, (void *)t_frames_slot(f, idx));
		t_frame_check_at(file, line, f, slot);
	}
	if (!keep && n)
		fpgadma_stream_release(s, n);
	return f->n - old;
}

uint64_t t_frames_final_at(const char *file, int line, struct t_frames *f,
			   const struct fpgadma_stream_stats *st)
{
	uint64_t left, i, after;

	if (st->write_idx < f->n || st->write_idx - f->n > f->nslots)
		t_fail_at(file, line, "final write_idx %llu, but %llu frames taken from a ring of "
			  "%llu slots", (unsigned long long)st->write_idx,
			  (unsigned long long)f->n, (unsigned long long)f->nslots);
	left = st->write_idx - f->n;
	for (i = 0; i < left; i++)
		t_frame_check_at(file, line, f, t_frames_slot(f, f->n));
	if (!f->n) {
		if (st->drops != st->frames)
			t_fail_at(file, line, "no frame delivered, but %llu produced and %llu dropped",
				  (unsigned long long)st->frames, (unsigned long long)st->drops);
		return left;
	}
	if (f->seq0 + st->frames < f->last_seq + 1)
		t_fail_at(file, line, "%llu frames produced, but the frames' seq went from %llu "
			  "to %llu", (unsigned long long)st->frames, (unsigned long long)f->seq0,
			  (unsigned long long)f->last_seq);
	after = f->seq0 + st->frames - 1 - f->last_seq;
	if (f->lost + after != st->drops)
		t_fail_at(file, line, "drops %llu, but the frames reported %llu lost and %llu were "
			  "produced after the last one delivered (seq %llu..%llu of %llu produced)",
			  (unsigned long long)st->drops, (unsigned long long)f->lost,
			  (unsigned long long)after, (unsigned long long)f->seq0,
			  (unsigned long long)f->last_seq, (unsigned long long)st->frames);
	return left;
}

void t_stream_cqes_init(struct t_stream_cqes *t, const struct fpgadma_stream_attr *a)
{
	memset(t, 0, sizeof(*t));
	t->user_data = a->user_data;
	t->frame_size = a->frame_size;
	t->cqe_every = a->cqe_every ? a->cqe_every : 1;
}

void t_stream_cqe_at(const char *file, int line, struct t_stream_cqes *t,
		     const struct fpgadma_cqe *c)
{
	if (c->wr_id != t->user_data)
		t_fail_at(file, line, "a CQE with wr_id 0x%llx (opcode %u status %u), expected only "
			  "the stream's (0x%llx)", (unsigned long long)c->wr_id, c->opcode,
			  c->status, (unsigned long long)t->user_data);
	if (t->ended)
		t_fail_at(file, line, "a CQE of the stream after its END: opcode %u status %u "
			  "vendor_err %u", c->opcode, c->status, c->vendor_err);
	switch (c->opcode) {
	case FPGADMA_WR_STREAM_FRAMES:
		if (c->status != FPGADMA_WC_SUCCESS || t->partial || !c->vendor_err ||
		    c->vendor_err > t->cqe_every ||
		    c->byte_len != (uint64_t)c->vendor_err * t->frame_size)
			t_fail_at(file, line, "FRAMES CQE %llu: status %u (%s), %u frames, byte_len "
				  "%llu; expected SUCCESS, %u frames of %u bytes%s",
				  (unsigned long long)t->cqes, c->status,
				  fpgadma_wc_status_str(c->status), c->vendor_err,
				  (unsigned long long)c->byte_len, t->cqe_every, t->frame_size,
				  t->partial ? " (and none after one covering fewer)" : "");
		if (c->vendor_err < t->cqe_every)
			t->partial = true;
		t->frames += c->vendor_err;
		t->cqes++;
		if (c->src_ep != (uint32_t)t->frames)
			t_fail_at(file, line, "FRAMES CQE %llu: src_ep %u, expected %u (the write "
				  "index after %llu frames)", (unsigned long long)t->cqes - 1,
				  c->src_ep, (uint32_t)t->frames, (unsigned long long)t->frames);
		break;
	case FPGADMA_WR_STREAM_END:
		t->ended = true;
		t->end_status = c->status;
		t->end_reason = c->vendor_err;
		break;
	default:
		t_fail_at(file, line, "a CQE of the stream with opcode %u status %u", c->opcode,
			  c->status);
	}
}

int t_stream_poll_at(const char *file, int line, struct fpgadma_context *ctx,
		     struct t_stream_cqes *t)
{
	struct fpgadma_cqe c[64];
	int got = 0, r, i;

	for (;;) {
		r = fpgadma_poll(ctx, c, (int)T_ARRAY_SIZE(c));
		if (r < 0)
			t_fail_at(file, line, "fpgadma_poll: %s (%s)", t_errname(r),
				  r == -EOVERFLOW ? "the kernel lost a CQE" : fpgadma_strerror(r));
		for (i = 0; i < r; i++)
			t_stream_cqe_at(file, line, t, &c[i]);
		got += r;
		if (r < (int)T_ARRAY_SIZE(c))
			return got;
	}
}

void t_stream_wait_end_at(const char *file, int line, struct fpgadma_context *ctx,
			  struct t_stream_cqes *t, uint32_t status, uint32_t reason,
			  uint64_t write_idx, unsigned int timeout_ms)
{
	uint64_t deadline = t_now_ms() + timeout_ms;

	for (;;) {
		uint64_t now;
		int r;

		t_stream_poll_at(file, line, ctx, t);
		if (t->ended)
			break;
		now = t_now_ms();
		if (now >= deadline)
			t_fail_at(file, line, "no END CQE of the stream after %u ms", timeout_ms);
		r = fpgadma_wait(ctx, (int)T_MIN(deadline - now, 1000));
		if (r < 0)
			t_fail_at(file, line, "fpgadma_wait: %s", t_errname(r));
	}
	if (t->end_status != status || t->end_reason != reason)
		t_fail_at(file, line, "END CQE: status %u (%s) reason %s; expected status %u (%s) "
			  "reason %s", t->end_status, fpgadma_wc_status_str(t->end_status),
			  t_stream_end_name(t->end_reason), status, fpgadma_wc_status_str(status),
			  t_stream_end_name(reason));
	if (t->frames > write_idx || (t->partial && t->frames != write_idx) ||
	    write_idx - t->frames >= t->cqe_every)
		t_fail_at(file, line, "the FRAMES CQEs covered %llu frames (%llu CQEs, one per %u%s), "
			  "the stream wrote %llu", (unsigned long long)t->frames,
			  (unsigned long long)t->cqes, t->cqe_every,
			  t->partial ? ", the last fewer" : "", (unsigned long long)write_idx);
}
