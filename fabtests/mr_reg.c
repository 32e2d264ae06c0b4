// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mr_reg: fi_mr_reg semantics.
 *
 * Twice: with FI_MR_LOCAL | FI_MR_PROV_KEY asked for, and without either
 * (the application chooses keys; skipped when the provider insists on
 * them).  Each time:
 *   shapes     1 byte to 64 MiB at page offsets 0, 1 and 4095, touched and
 *              never-touched memory, THP (MADV_HUGEPAGE) and, when huge
 *              pages are free, hugetlb memory
 *   access     every combination of FI_SEND/FI_RECV/FI_READ/FI_WRITE/
 *              FI_REMOTE_READ/FI_REMOTE_WRITE registers; fi_mr_key gives
 *              distinct keys of live MRs (or the requested key), fi_mr_desc
 *              is there when FI_MR_LOCAL is negotiated
 *   keys       without FI_MR_PROV_KEY: a key in use again is -FI_ENOKEY and
 *              registers nothing; free again after fi_close
 *   bad input  NULL with a length, a range with an unmapped page: on
 *              fpgadma (which pins at registration) an error, nothing
 *              registered (VmPin and the device's live_mrs unchanged);
 *              other providers may accept them (fi_mr(3)): only said
 *   use        on fpgadma, the THP, hugetlb and large MRs carry data to the
 *              FPGA's memory and back (first and last 64 KiB)
 * After fi_close of everything VmPin is what it was.
 *
 * Provider: -p, $FI_PROVIDER, else "fpgadma".
 */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rdma/fi_ext_fpgadma.h>

#define MiB (1UL << 20)

static size_t max_size = 64 * MiB;
static uint64_t regs, bytes_registered, refusals;

static struct ft_dom dom;
static struct ft_ep ep;
static bool have_fpga;
static struct fi_fpgadma_fpga fpga;
static fi_addr_t fpga_addr;

static int opt(int c, const char *arg)
{
	if (c == 'M') {
		max_size = strtoull(arg, NULL, 0);
		return 0;
	}
	return -1;
}

/*
 * The largest registration this machine can take: 40% of MemAvailable, and
 * under swiotlb=force (every DMA mapping bounces) half the bounce pool,
 * which a pinning provider must map whole.
 */
static size_t budget(const char **why)
{
	char buf[4096], *p;
	size_t n, pool = 64 * MiB, lim = SIZE_MAX;
	long long kb = -1;
	FILE *f;

	*why = "as asked";
	f = fopen("/proc/meminfo", "r");
	if (f) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "MemAvailable: %lld kB", &kb) == 1)
				break;
		fclose(f);
	}
	if (kb > 0 && (size_t)kb * 1024 / 10 * 4 < lim) {
		lim = (size_t)kb * 1024 / 10 * 4;
		*why = "40% of MemAvailable";
	}
	f = fopen("/proc/cmdline", "r");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
		for (p = strstr(buf, "swiotlb="); p; p = strstr(p + 1, "swiotlb=")) {
			const char *v = p + strlen("swiotlb="), *o;
			size_t w = strcspn(v, " \n");
			bool force = false;

			/* swiotlb=[slabs][,]force... : "force" as one of its words, not "noforce" */
			for (o = v; o < v + w; o += strcspn(o, ", \n") + 1)
				if (!strncmp(o, "force", 5) && (o[5] == ',' || o[5] == ' ' ||
								 o[5] == '\n' || !o[5]))
					force = true;
			if ((p != buf && p[-1] != ' ') || !force)
				continue;
			if (*v >= '0' && *v <= '9')
				pool = strtoull(v, NULL, 0) * 2048;	/* slabs of 2 KiB */
			if (pool / 2 < lim) {
				lim = pool / 2;
				*why = "half the swiotlb=force bounce pool";
			}
			break;
		}
	}
	return lim;
}

/* kB pinned by this process (/proc/self/status VmPin), -1 if unknown. */
static long vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The fpgadma device's live MRs (sysfs), -1 when not on fpgadma. */
static long live_mrs(void)
{
	char path[96];
	long n = -1;
	FILE *f;

	if (!have_fpga)
		return -1;
	snprintf(path, sizeof(path), "/sys/class/fpgadma/fpgadma%u/live_mrs", fpga.dev_index);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* The domain has an FPGA? (quietly: the program works on any provider) */
static void find_fpga(void)
{
	struct fi_fpgadma_ops_domain *ops = NULL;

	have_fpga = false;
	if (fi_open_ops(&dom.domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&ops, NULL) || !ops)
		return;
	if (ops->query_fpga(dom.domain, &fpga) || fpga.mem_size < 4096)
		return;
	fpga_addr = ft_av_insert(&dom, fpga.addr);
	have_fpga = true;
}

static void rma_fpga(bool write, void *buf, size_t len, void *desc, uint64_t off)
{
	struct ft_op op = { .what = write ? "fi_write to the FPGA" : "fi_read from the FPGA" };

	if (write)
		FT_POST(fi_write(ep.ep, buf, len, desc, fpga_addr, fpga.mem_base + off,
				 fpga.mem_key, &op));
	else
		FT_POST(fi_read(ep.ep, buf, len, desc, fpga_addr, fpga.mem_base + off,
				fpga.mem_key, &op));
	ft_wait_op(&ep.cq, &op, NULL);
}

/* Data through the MR: its first and last 64 KiB to the FPGA and back. */
static void use_mr(uint8_t *buf, size_t len, struct fid_mr *mr, const char *what)
{
	size_t n = FT_MIN(FT_MIN(len, (size_t)65536), (size_t)fpga.mem_size / 2);
	size_t at[2] = { 0, len - n };
	int k;

	if (!have_fpga || !n)
		return;
	for (k = 0; k < 2; k++) {
		ft_fill(buf + at[k], n, len + (size_t)k, at[k]);
		rma_fpga(true, buf + at[k], n, fi_mr_desc(mr), (uint64_t)k * n);
	}
	memset(buf, 0, n);
	memset(buf + len - n, 0, n);
	for (k = 0; k < 2; k++) {
		rma_fpga(false, buf + at[k], n, fi_mr_desc(mr), (uint64_t)k * n);
		ft_expect_pattern(buf + at[k], n, len + (size_t)k, at[k], what);
	}
}

static struct fid_mr *reg(void *buf, size_t len, uint64_t access, const char *what)
{
	struct fid_mr *mr;
	int ret = ft_mr_reg(&dom, &ep, buf, len, access, 0, &mr);

	if (ret) {
		ft_error("%s: fi_mr_reg(%zu bytes, access %#" PRIx64 "): %s", what, len, access,
			 ft_strerr(ret));
		return NULL;
	}
	regs++;
	bytes_registered += len;
	if (ft_need_desc(&dom))
		ft_check(fi_mr_desc(mr) != NULL, "%s: no fi_mr_desc under FI_MR_LOCAL", what);
	return mr;
}

static void test_shapes(void)
{
	static const size_t sizes[] = {
		1, 4095, 4096, 4097, 65537, MiB, 2 * MiB + 1, 16 * MiB, 64 * MiB,
	};
	static const size_t offs[] = { 0, 1, 4095 };
	size_t i, j, n = 0;
	uint64_t t0 = ft_now_us();

	for (i = 0; i < FT_ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > max_size)
			continue;
		for (j = 0; j < FT_ARRAY_SIZE(offs); j++) {
			void *base;
			size_t maplen;
			uint8_t *p = ft_alloc_at(sizes[i], offs[j], &base, &maplen);
			bool touch = (i + j) & 1;
			struct fid_mr *mr;
			char what[96];

			snprintf(what, sizeof(what), "%zu bytes at page offset %zu (%s)", sizes[i],
				 offs[j], touch ? "touched" : "never touched");
			if (touch)
				memset(p, 0x11, sizes[i]);
			mr = reg(p, sizes[i], FI_READ | FI_WRITE, what);
			if (mr) {
				if (sizes[i] >= 16 * MiB && j == 1)
					use_mr(p, sizes[i], mr, what);
				ft_close_fid(&mr->fid, "mr");
			}
			ft_unmap(base, maplen);
			n++;
			/* The biggest only once. */
			if (sizes[i] >= 16 * MiB && j == 1)
				break;
		}
	}
	ft_log("shapes: %zu registrations of 1 byte..%zu bytes at page offsets 0, 1, 4095 (%.1f ms)",
	       n, FT_MIN(max_size, 64 * MiB), (double)(ft_now_us() - t0) / 1000);
}

static void test_huge(void)
{
	size_t len = 8 * MiB, hp = 2 * MiB;
	uint8_t *raw, *p;
	struct fid_mr *mr;

	/* THP: 2 MiB aligned, MADV_HUGEPAGE, touched. */
	raw = mmap(NULL, len + hp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		ft_fatal("mmap of %zu bytes failed", len + hp);
	p = (uint8_t *)(((uintptr_t)raw + hp - 1) & ~(uintptr_t)(hp - 1));
	if (madvise(p, len, MADV_HUGEPAGE))
		ft_log("huge: madvise(MADV_HUGEPAGE) failed: plain pages then");
	memset(p, 0x22, len);
	mr = reg(p + 100, len - 200, FI_READ | FI_WRITE | FI_REMOTE_READ | FI_REMOTE_WRITE, "THP");
	if (mr) {
		use_mr(p + 100, len - 200, mr, "THP MR");
		ft_close_fid(&mr->fid, "mr");
	}
	munmap(raw, len + hp);
	ft_log("huge: %zu bytes of MADV_HUGEPAGE memory at offset 100 registered%s", len - 200,
	       have_fpga ? ", data through it checked" : "");

	/* hugetlb, when the system has huge pages free. */
	p = mmap(NULL, 2 * hp, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		 -1, 0);
	if (p == MAP_FAILED) {
		ft_log("huge: no hugetlb pages free: hugetlb not tried");
		return;
	}
	memset(p, 0x33, 2 * hp);
	mr = reg(p + 4095, 2 * hp - 8191, FI_READ | FI_WRITE, "hugetlb");
	if (mr) {
		use_mr(p + 4095, 2 * hp - 8191, mr, "hugetlb MR");
		ft_close_fid(&mr->fid, "mr");
	}
	munmap(p, 2 * hp);
	ft_log("huge: two hugetlb pages registered at offset 4095%s",
	       have_fpga ? ", data through them checked" : "");
}

static void test_access(void)
{
	static const uint64_t bits[] = {
		FI_SEND, FI_RECV, FI_READ, FI_WRITE, FI_REMOTE_READ, FI_REMOTE_WRITE,
	};
	enum { NCOMB = 1 << 6 };
	struct fid_mr *mr[NCOMB];
	uint64_t key[NCOMB];
	size_t len = 3 * 4096 + 5;
	uint8_t *buf = ft_xmalloc(len);
	int c, k, live = 0;

	memset(buf, 0x44, len);
	/* All combinations at once on the same memory: keys of live MRs differ. */
	for (c = 1; c < NCOMB; c++) {
		uint64_t access = 0;
		char what[64];

		for (k = 0; k < 6; k++)
			if (c & (1 << k))
				access |= bits[k];
		snprintf(what, sizeof(what), "access %#" PRIx64, access);
		mr[c] = reg(buf + (size_t)c, len - (size_t)c, access, what);
		if (!mr[c])
			continue;
		live++;
		key[c] = fi_mr_key(mr[c]);
		ft_check(key[c] != FI_KEY_NOTAVAIL, "%s: fi_mr_key is FI_KEY_NOTAVAIL", what);
		for (k = 1; k < c; k++)
			if (mr[k] && key[k] == key[c])
				ft_error("%s: key %#" PRIx64 " is also the key of another live MR",
					 what, key[c]);
	}
	for (c = 1; c < NCOMB; c++)
		if (mr[c])
			ft_close_fid(&mr[c]->fid, "mr");
	free(buf);
	ft_log("access: %d combinations of the 6 access bits registered on the same memory, "
	       "all keys distinct", live);
}

static void test_requested_keys(void)
{
	struct fid_mr *a, *b;
	uint8_t *buf = ft_xmalloc(8192);
	uint64_t k = ft_next_key() + 0x5000;
	long mrs0 = live_mrs();
	int ret;

	ret = ft_mr_reg(&dom, &ep, buf, 4096, FI_READ | FI_WRITE, k, &a);
	if (ret)
		ft_fatal("fi_mr_reg with requested key %#" PRIx64 ": %s", k, ft_strerr(ret));
	ft_check(fi_mr_key(a) == k, "requested key %#" PRIx64 ", fi_mr_key %#" PRIx64, k,
		 fi_mr_key(a));
	ret = ft_mr_reg(&dom, &ep, buf + 4096, 4096, FI_READ | FI_WRITE, k, &b);
	ft_check(ret == -FI_ENOKEY, "a key in use again: %d (%s), expected -FI_ENOKEY", ret,
		 ft_strerr(ret));
	ft_check(!b, "a refused registration returned an MR");
	if (!ret && b)
		ft_close_fid(&b->fid, "mr");
	if (mrs0 >= 0)
		ft_check(live_mrs() == mrs0 + 1, "live_mrs %ld after one MR and a refused one "
			 "(was %ld)", live_mrs(), mrs0);
	ft_close_fid(&a->fid, "mr");
	ret = ft_mr_reg(&dom, &ep, buf + 4096, 4096, FI_READ | FI_WRITE, k, &b);
	ft_check(!ret, "the key of a closed MR: %s", ft_strerr(ret));
	if (!ret)
		ft_close_fid(&b->fid, "mr");
	free(buf);
	refusals++;
	ft_log("keys: requested key %#" PRIx64 " given; again while in use -FI_ENOKEY; "
	       "free again after fi_close", k);
}

static void test_bad(void)
{
	long pin0 = vm_pin_kb(), mrs0 = live_mrs();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct fid_mr *mr;
	uint8_t *p;
	int ret, ret_null;

	/*
	 * A provider that pins memory at registration (fpgadma) must refuse
	 * these; a software provider need not look at the memory then (fi_mr(3)
	 * leaves it open), so elsewhere the outcome is only said.
	 */
	ret = ret_null = ft_mr_reg(&dom, &ep, NULL, 4096, FI_READ | FI_WRITE, 0, &mr);
	ft_check(ret < 0 || !have_fpga, "fi_mr_reg(NULL, 4096) returned %d", ret);
	if (!ret)
		ft_close_fid(&mr->fid, "mr");
	else
		refusals++;

	p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ft_fatal("mmap failed");
	memset(p, 0x55, 3 * page);
	munmap(p + page, page);
	ret = ft_mr_reg(&dom, &ep, p + 10, 3 * page - 20, FI_READ | FI_WRITE, 0, &mr);
	ft_check(ret < 0 || !have_fpga, "fi_mr_reg over an unmapped page returned %d", ret);
	if (!ret)
		ft_close_fid(&mr->fid, "mr");
	else
		refusals++;
	ft_log("bad: NULL with a length: %s; a range with an unmapped page: %s%s",
	       ft_strerr(ret_null), ft_strerr(ret),
	       have_fpga ? "" : " (not required: this provider does not pin at registration)");
	munmap(p, page);
	munmap(p + 2 * page, page);
	ft_check(vm_pin_kb() == pin0, "VmPin %ld kB after refused registrations, was %ld kB",
		 vm_pin_kb(), pin0);
	ft_check(live_mrs() == mrs0, "live_mrs %ld after refused registrations, was %ld",
		 live_mrs(), mrs0);
}

static void pass(uint64_t mr_mode, const char *name)
{
	struct fi_info *hints = ft_hints(FI_RMA | FI_READ | FI_WRITE | FI_MSG, mr_mode);
	const char *why = NULL;
	long pin0 = vm_pin_kb();

	if (ft_open_dom(hints, &dom, &why)) {
		ft_log("pass %s: skipped (%s)", name, why);
		return;
	}
	ft_log("--- pass %s", name);
	ft_describe(&dom);
	ft_open_ep(&dom, &ep, "ep");
	find_fpga();
	test_shapes();
	test_huge();
	test_access();
	if (!(dom.info->domain_attr->mr_mode & FI_MR_PROV_KEY))
		test_requested_keys();
	else
		ft_log("keys: FI_MR_PROV_KEY negotiated: requested keys not tried");
	test_bad();
	ft_close_ep(&ep);
	ft_close_dom(&dom);
	ft_check(vm_pin_kb() == pin0, "pass %s: VmPin %ld kB after closing everything, was %ld kB",
		 name, vm_pin_kb(), pin0);
}

int main(int argc, char **argv)
{
	struct ft_dom probe;
	const char *why;
	size_t lim;

	ft_parse(argc, argv, "M:", "[-M MAX_SIZE]\n"
		 "  -M BYTES     largest registration (default 64 MiB, less when the\n"
		 "               machine cannot take it)", opt);
	lim = budget(&why);
	if (lim < max_size) {
		max_size = lim;
		ft_log("largest registration %zu bytes (%s)", max_size, why);
	}
	ft_default_prov("fpgadma");
	ft_open_dom_or_skip(ft_hints(FI_RMA | FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
				     FI_MR_PROV_KEY | FI_MR_ENDPOINT), &probe, "FI_RMA on FI_EP_RDM");
	ft_close_dom(&probe);
	pass(FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT,
	     "FI_MR_LOCAL, FI_MR_PROV_KEY");
	pass(FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_ENDPOINT, "no FI_MR_LOCAL, requested keys");
	return ft_finish("%" PRIu64 " registrations, %" PRIu64 " bytes registered, %" PRIu64
			 " refusals right", regs, bytes_registered, refusals);
}
