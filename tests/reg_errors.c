// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * reg_errors: registrations that must fail, each with its errno, and each
 * leaving nothing behind: the system-wide pin count, VmPin, live_mrs and
 * pinned_pages are what they were.  Every case goes through libfpgadma and
 * also straight to the kernel (REG_MR on the context's fd), since the
 * library rejects some of them before the kernel sees them.
 *  - EINVAL: zero length, addr+length wrapping the address space, unknown
 *    access bits, a length above max_mr_size;
 *  - EFAULT: an unmapped range, a range whose second page is unmapped (with
 *    whole and partial pages), a hole in the middle, a large range whose last
 *    page is missing (the pages pinned before it must be rolled back),
 *    PROT_NONE, NULL, kernel and non-canonical addresses, and write rights
 *    on a PROT_READ mapping.
 * DEREG_MR of an unknown lkey, and of an lkey already deregistered, fails
 * with EINVAL.  Finally the same buffers register fine, so the failures
 * above were about the arguments.
 */
#include "helpers.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

static struct t_dev d;
static int fd;
static unsigned int ncases;

static int raw_reg(uint64_t addr, uint64_t len, uint32_t access, uint32_t *lkey)
{
	struct fpgadma_reg_mr r = { .addr = addr, .length = len, .access = access };

	if (ioctl(fd, FPGADMA_IOC_REG_MR, &r))
		return -errno;
	if (lkey)
		*lkey = r.lkey;
	return 0;
}

static int raw_dereg(uint32_t lkey)
{
	struct fpgadma_dereg_mr r = { .lkey = lkey };

	return ioctl(fd, FPGADMA_IOC_DEREG_MR, &r) ? -errno : 0;
}

static void expect_fail(const char *what, uint64_t addr, uint64_t len, uint32_t access,
			int want, bool lib_too)
{
	struct fpgadma_mr *mr = (struct fpgadma_mr *)1;
	struct t_snap before;
	uint32_t lkey = 0;
	int r;

	t_snap_take(&before);
	r = raw_reg(addr, len, access, &lkey);
	if (r != want) {
		if (!r)
			raw_dereg(lkey);
		t_fail("%s: REG_MR(0x%llx, %llu, 0x%x) returned %s, expected %s", what,
		       (unsigned long long)addr, (unsigned long long)len, access,
		       t_errname(r), t_errname(want));
	}
	CHECK_SNAP(&before, 0, 0, what);
	if (lib_too) {
		r = fpgadma_reg_mr(d.pd, (void *)(uintptr_t)addr, (size_t)len, access, &mr);
		if (r != want)
			t_fail("%s: fpgadma_reg_mr returned %s, expected %s", what, t_errname(r),
			       t_errname(want));
		CHECK(mr == NULL);
		CHECK_SNAP(&before, 0, 0, what);
	}
	t_log("%-58s %s, nothing pinned", what, t_errname(want));
	ncases++;
}

int main(int argc, char **argv)
{
	size_t page = t_page_size();
	struct t_snap start, before;
	uint8_t *buf, *p, *big;
	size_t big_len = 4 * T_MiB;
	struct fpgadma_mr *mr;
	uint32_t lkey;
	uintptr_t b;

	t_init(argc, argv, 55);
	t_open(&d);
	fd = fpgadma_get_fd(d.ctx);
	CHECK(fd >= 0);
	t_snap_take(&start);
	buf = t_map(4 * page);
	memset(buf, 1, 4 * page);
	b = (uintptr_t)buf;

	/* EINVAL */
	expect_fail("zero length", b, 0, 0, -EINVAL, true);
	expect_fail("zero length, LOCAL_WRITE", b + 1, 0, FPGADMA_ACCESS_LOCAL_WRITE, -EINVAL, true);
	expect_fail("zero length at NULL", 0, 0, 0, -EINVAL, true);
	expect_fail("addr + length wraps", b, UINT64_MAX - b + 2, 0, -EINVAL, true);
	expect_fail("addr + length wraps (top page + 2 pages)", UINT64_MAX - page + 1, 2 * page,
		    0, -EINVAL, true);
	expect_fail("last byte of the address space + 1", UINT64_MAX, 2, 0, -EINVAL, true);
	expect_fail("length UINT64_MAX", b, UINT64_MAX, FPGADMA_ACCESS_LOCAL_WRITE, -EINVAL, true);
	expect_fail("access bit 3", b, page, 1u << 3, -EINVAL, true);
	expect_fail("access bit 31", b, page, 1u << 31, -EINVAL, true);
	expect_fail("access: all bits", b, page, 0xffffffffu, -EINVAL, true);
	expect_fail("access: every valid bit plus bit 4", b, page,
		    FPGADMA_ACCESS_ALL | (1u << 4), -EINVAL, true);
	if (d.attr.max_mr_size < (1ULL << 46))
		expect_fail("length max_mr_size + 1", b, d.attr.max_mr_size + 1, 0, -EINVAL, true);
	else
		t_log("max_mr_size %llu: the over-size case needs an impossible range, not run",
		      (unsigned long long)d.attr.max_mr_size);

	/* EFAULT: nothing or not everything mapped */
	p = t_map(2 * page);
	t_unmap(p, 2 * page);
	expect_fail("unmapped range", (uintptr_t)p, 2 * page, 0, -EFAULT, true);
	expect_fail("unmapped range, LOCAL_WRITE", (uintptr_t)p + 9, 100,
		    FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);

	p = t_map(2 * page);
	memset(p, 2, 2 * page);
	t_unmap(p + page, page);
	expect_fail("second page unmapped", (uintptr_t)p, 2 * page, 0, -EFAULT, true);
	expect_fail("second page unmapped, LOCAL_WRITE", (uintptr_t)p, 2 * page,
		    FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);
	expect_fail("last byte of page 1 + first byte of unmapped page 2",
		    (uintptr_t)p + page - 1, 2, FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);
	t_unmap(p, page);

	p = t_map(3 * page);
	memset(p, 3, 3 * page);
	t_unmap(p + page, page);
	expect_fail("hole in the middle", (uintptr_t)p + 10, 3 * page - 20,
		    FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);
	t_unmap(p, page);
	t_unmap(p + 2 * page, page);

	big = t_map(big_len);
	memset(big, 4, big_len);
	t_unmap(big + big_len - page, page);
	expect_fail("4 MiB whose last page is unmapped (rollback)", (uintptr_t)big, big_len,
		    FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);
	expect_fail("4 MiB whose last page is unmapped, read-only", (uintptr_t)big + 1,
		    big_len - 1, 0, -EFAULT, true);

	p = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	expect_fail("PROT_NONE, LOCAL_WRITE", (uintptr_t)p, page, FPGADMA_ACCESS_LOCAL_WRITE,
		    -EFAULT, true);
	expect_fail("PROT_NONE, REMOTE_WRITE", (uintptr_t)p + 1, page, FPGADMA_ACCESS_REMOTE_WRITE,
		    -EFAULT, true);
	/*
	 * A read-only MR pins with FOLL_FORCE, which (as for ptrace) would
	 * also reach PROT_NONE private memory: the module refuses it.
	 */
	expect_fail("PROT_NONE, read-only", (uintptr_t)p, 2 * page, 0, -EFAULT, true);
	CHECK_SYS(mprotect(p + page, page, PROT_READ));
	expect_fail("PROT_READ then PROT_NONE, read-only", (uintptr_t)p + page - 1, 2,
		    0, -EFAULT, true);
	CHECK_SYS(mprotect(p, 2 * page, PROT_READ));
	expect_fail("PROT_READ with LOCAL_WRITE", (uintptr_t)p, 2 * page,
		    FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);
	expect_fail("PROT_READ with REMOTE_WRITE", (uintptr_t)p + 3, page,
		    FPGADMA_ACCESS_REMOTE_WRITE, -EFAULT, true);
	t_unmap(p, 2 * page);

	expect_fail("NULL", 0, page, 0, -EFAULT, true);
	expect_fail("page 1 (below mmap_min_addr)", page, page, FPGADMA_ACCESS_LOCAL_WRITE,
		    -EFAULT, true);
	expect_fail("kernel address (direct map)", 0xffff888000000000ULL, page, 0, -EFAULT, true);
	expect_fail("kernel address (text)", 0xffffffff81000000ULL, page,
		    FPGADMA_ACCESS_LOCAL_WRITE, -EFAULT, true);
	expect_fail("non-canonical address", 0x0000800000000000ULL, page, 0, -EFAULT, true);
	expect_fail("user range running into the kernel half", 0x00007ffffffff000ULL, 2 * page,
		    0, -EFAULT, true);

	/* DEREG_MR of keys that name nothing */
	CHECK_SYS(raw_reg(b, page, 0, &lkey));
	CHECK_RET(raw_dereg(lkey), 0);
	CHECK_RET(raw_dereg(lkey), -EINVAL);
	CHECK_RET(raw_dereg(lkey ^ 0x5a5a5a5a), -EINVAL);
	CHECK_RET(raw_dereg(0), -EINVAL);
	t_log("DEREG_MR of a deregistered, an invented and the zero lkey: EINVAL");

	/* The arguments were the problem, not the buffers. */
	t_snap_take(&before);
	mr = t_reg(&d, buf + 1, 4 * page - 2, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_SNAP(&before, 4, 1, "a valid registration of the same buffer");
	t_dereg(mr);
	mr = t_reg(&d, big, big_len - page, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK_SNAP(&before, (long long)(big_len / page - 1), 1, "the mapped part of the 4 MiB");
	t_dereg(mr);
	t_unmap(big, big_len - page);
	t_unmap(buf, 4 * page);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_log("%u failing registrations, each with the right errno and nothing left pinned", ncases);
	t_close(&d);
	t_pass();
}
