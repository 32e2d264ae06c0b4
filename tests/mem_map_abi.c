// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mem_map_abi: the device memory mapped into the process
 * (FPGADMA_CAP_MEM_MAP, fpgadma_mem_map(3)).
 *  - QUERY: the soft engine has the capability, with a page-aligned
 *    mem_mmap_off; a device without it (edu) says mem_mmap_off 0, an mmap
 *    at the soft engine's offset is EINVAL there and fpgadma_mem_map()
 *    -EOPNOTSUPP.
 *  - Refused: a private mapping, a window longer than dev_mem_size or
 *    reaching past it, one starting at dev_mem_size (EINVAL), an executable
 *    one (EPERM, or EACCES where /dev is mounted noexec); growing a window
 *    with mremap.
 *  - The same memory as the work requests': bytes a WRITE_MEM WR wrote are
 *    in the mapping, bytes stored through it are what a READ_MEM WR reads;
 *    a window at an offset shows its part of the whole; a second context
 *    of the device maps the same bytes; loads and stores complete no work
 *    request (wrs_completed unchanged).
 *  - Lifetime: fpgadma_mem_map() gives the same address again; a window
 *    split by a partial munmap keeps its other pages; a window outlives the
 *    file it was mapped from; a fork child does not have the mapping.
 */
#include "helpers.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MEM_MMAP_OFF	(4ULL << 30)	/* the soft engine's; any other device: nothing there */

static struct t_dev d;
static int fd;
static size_t page;

static void refusals(uint64_t off, uint64_t size)
{
	void *m;

	errno = 0;
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)off);
	CHECK_MSG(m == MAP_FAILED && errno == EINVAL, "a private mapping: %s",
		  m == MAP_FAILED ? t_errname(errno) : "mapped");
	m = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, (off_t)off);
	CHECK_MSG(m == MAP_FAILED && (errno == EPERM || errno == EACCES),
		  "an executable mapping: %s", m == MAP_FAILED ? t_errname(errno) : "mapped");
	m = mmap(NULL, (size_t)size + page, PROT_READ, MAP_SHARED, fd, (off_t)off);
	CHECK_MSG(m == MAP_FAILED && errno == EINVAL, "dev_mem_size + 1 page: %s",
		  m == MAP_FAILED ? t_errname(errno) : "mapped");
	m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, (off_t)(off + size));
	CHECK_MSG(m == MAP_FAILED && errno == EINVAL, "a window at dev_mem_size: %s",
		  m == MAP_FAILED ? t_errname(errno) : "mapped");
	m = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, (off_t)(off + size - page));
	CHECK_MSG(m == MAP_FAILED && errno == EINVAL, "a window reaching past the end: %s",
		  m == MAP_FAILED ? t_errname(errno) : "mapped");
	t_log("refused: MAP_PRIVATE, dev_mem_size + 1 page, a window at or reaching past the "
	      "end (EINVAL); PROT_EXEC");
}

/* WRs and the mapping see the same bytes; loads and stores post no WR. */
static void coherence(uint8_t *mem, uint64_t size)
{
	uint8_t *buf = t_map(2 * page);
	struct fpgadma_mr *mr = t_reg(&d, buf, 2 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	uint64_t at = size - 2 * page + 13;	/* unaligned, in the last two pages */
	long long wrs;

	t_fill(buf, page, 41, 0);
	t_dev_write(&d, mr, buf, page, at);
	wrs = t_dev_counter("wrs_completed");
	CHECK_EQ(t_verify(mem + at, page, 41, 0, "the mapping after a WRITE_MEM WR"), 0);

	t_fill(mem + 7, page, 42, 0);
	CHECK_EQ(t_dev_counter("wrs_completed"), wrs);
	memset(buf, 0, page);
	t_dev_read(&d, mr, buf, page, 7);
	CHECK_EQ(t_verify(buf, page, 42, 0, "a READ_MEM WR after stores through the mapping"), 0);
	t_dereg(mr);
	t_unmap(buf, 2 * page);
	t_log("a WRITE_MEM WR's bytes are in the mapping, stores through it are what READ_MEM "
	      "reads; loads and stores complete no WR");
}

static void windows(uint8_t *mem, uint64_t off)
{
	struct t_dev d2;
	uint8_t *w, *w2, *g;
	void *m2;
	pid_t pid;

	/* a window of 3 pages at page 5 */
	w = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(off + 5 * page));
	CHECK_MSG(w != MAP_FAILED, "a window at page 5: %s", t_errname(errno));
	t_fill(mem + 5 * page, 3 * page, 43, 0);
	CHECK_EQ(t_verify(w, 3 * page, 43, 0, "the window at page 5"), 0);
	w[page + 1] ^= 0xff;
	CHECK_EQ(mem[6 * page + 1], w[page + 1]);
	w[page + 1] ^= 0xff;

	/* it cannot grow */
	g = mremap(w, 3 * page, 4 * page, 0);
	CHECK_MSG(g == MAP_FAILED, "mremap grew the window");

	/* split: the middle page goes, the others stay */
	CHECK_SYS(munmap(w + page, page));
	CHECK_EQ(t_verify(w, page, 43, 0, "the window's first page after the split"), 0);
	CHECK_EQ(t_verify(w + 2 * page, page, 43, 2 * page, "its last page after the split"), 0);
	CHECK_SYS(munmap(w, page));

	/* a second context maps the same bytes */
	t_open(&d2);
	m2 = NULL;
	CHECK_OK(fpgadma_mem_map(d2.ctx, &m2));
	CHECK_EQ(t_verify((uint8_t *)m2 + 5 * page, page, 43, 0, "a second context's mapping"), 0);
	((uint8_t *)m2)[5 * page] ^= 0x5a;
	CHECK_EQ(mem[5 * page], ((uint8_t *)m2)[5 * page]);
	((uint8_t *)m2)[5 * page] ^= 0x5a;
	t_close(&d2);

	/* not inherited: the child has nothing at the address */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsigned char vec;

		_exit(mincore(mem, page, &vec) == -1 && errno == ENOMEM ? 0 : 1);
	}
	CHECK_CHILD_OK(t_wait_child(pid, 10000));

	/* a window outlives the file it came from */
	w2 = NULL;
	{
		int fd2 = open(t_dev_path(), O_RDWR | O_CLOEXEC);

		CHECK_MSG(fd2 >= 0, "open %s: %s", t_dev_path(), t_errname(errno));
		w2 = mmap(NULL, page, PROT_READ, MAP_SHARED, fd2, (off_t)(off + 7 * page));
		CHECK_MSG(w2 != MAP_FAILED, "a window of a second file: %s", t_errname(errno));
		CHECK_SYS(close(fd2));
	}
	CHECK_EQ(t_verify(w2, page, 43, 2 * page, "a window after its file was closed"), 0);
	CHECK_SYS(munmap(w2, page));
	t_log("a window at page 5 shows its part and takes stores; mremap cannot grow it; split by "
	      "munmap its other pages stay; a second context maps the same bytes; a fork child "
	      "has no mapping; a window outlives its file");
}

int main(int argc, char **argv)
{
	struct fpgadma_query q;
	struct t_snap start;
	void *mem = NULL, *again = NULL;
	unsigned int i;

	t_init(argc, argv, 120);
	t_open(&d);
	page = t_page_size();
	fd = fpgadma_get_fd(d.ctx);
	t_snap_take(&start);

	memset(&q, 0xff, sizeof(q));
	CHECK_SYS(ioctl(fd, FPGADMA_IOC_QUERY, &q));
	for (i = 0; i < T_ARRAY_SIZE(q.reserved); i++)
		CHECK_EQ(q.reserved[i], 0);
	if (!(q.caps & FPGADMA_CAP_MEM_MAP)) {
		void *m;

		CHECK_EQ(q.mem_mmap_off, 0);
		CHECK_RET(fpgadma_mem_map(d.ctx, &mem), -EOPNOTSUPP);
		m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, (off_t)MEM_MMAP_OFF);
		CHECK_MSG(m == MAP_FAILED && errno == EINVAL, "mmap at 0x%llx without the "
			  "capability: %s", MEM_MMAP_OFF, m == MAP_FAILED ? t_errname(errno) : "mapped");
		CHECK(d.attr.engine != FPGADMA_ENGINE_SOFT);
		t_close(&d);
		t_log("%s device: no FPGADMA_CAP_MEM_MAP, mem_mmap_off 0, fpgadma_mem_map "
		      "-EOPNOTSUPP, mmap at the soft engine's offset EINVAL",
		      t_engine_name(d.attr.engine));
		t_pass();
	}
	CHECK(q.mem_mmap_off != 0 && q.mem_mmap_off % page == 0);
	CHECK_GE(q.dev_mem_size, 16 * page);
	t_log("QUERY: FPGADMA_CAP_MEM_MAP, device memory at offset 0x%llx, %llu bytes",
	      (unsigned long long)q.mem_mmap_off, (unsigned long long)q.dev_mem_size);

	refusals(q.mem_mmap_off, q.dev_mem_size);
	CHECK_OK(fpgadma_mem_map(d.ctx, &mem));
	CHECK_OK(fpgadma_mem_map(d.ctx, &again));
	CHECK(mem == again);
	CHECK_RET(fpgadma_mem_map(d.ctx, NULL), -EINVAL);
	coherence(mem, q.dev_mem_size);
	windows(mem, q.mem_mmap_off);

	t_close(&d);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
