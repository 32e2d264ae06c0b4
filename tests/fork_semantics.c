// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fork_semantics: a process with a context and a live MR forks.
 *  - The child inherits the fd, but every ioctl on it fails with EACCES
 *    (QUERY, REG_MR, DEREG_MR of the parent's lkey, POST), mmap of it fails,
 *    and the completion ring is not mapped in the child.
 *  - The child writes its copy of the MR's buffer: the parent does not see
 *    that, and the child does not see what the device later writes into the
 *    parent's MR.  The child opens its own context, registers its copy and
 *    moves data through the device.
 *  - The parent's MR keeps its pages (pinned pages are copied for the child
 *    at fork, the parent keeps the originals): while the child lives and
 *    after it exited, the parent's own writes reach the device through the
 *    MR, and the device's writes into the MR are what the parent reads.
 */
#include "helpers.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

/* 1 MiB + 333 bytes, or a third of device memory */
static size_t mr_len = 1024 * 1024 + 333;

static struct t_dev d;
static uint8_t *buf, *aux;
static struct fpgadma_mr *mr, *aux_mr;

/* Process writes seed into buf -> device at dev_addr -> aux: must match. */
static void parent_to_device(uint64_t seed, uint64_t dev_addr, const char *what)
{
	t_fill(buf, mr_len, seed, 0);
	t_dev_write(&d, mr, buf, mr_len, dev_addr);
	memset(aux, 0, mr_len);
	t_dev_read(&d, aux_mr, aux, mr_len, dev_addr);
	CHECK_MSG(!t_verify(aux, mr_len, seed, 0, what), "%s: the device did not get the parent's data",
		  what);
}

/* Device (seed via aux) -> buf: the parent must read it there. */
static void device_to_parent(uint64_t seed, const char *what)
{
	t_fill(aux, mr_len, seed, 0);
	t_dev_write(&d, aux_mr, aux, mr_len, 0);
	t_dev_read(&d, mr, buf, mr_len, 0);
	CHECK_MSG(!t_verify(buf, mr_len, seed, 0, what), "%s: the parent does not see the device's data",
		  what);
}

static void child(int to_parent, int from_parent, uint32_t parent_lkey)
{
	int fd = fpgadma_get_fd(d.ctx);
	struct fpgadma_query q;
	struct fpgadma_reg_mr reg = { .addr = (uintptr_t)buf, .length = mr_len };
	struct fpgadma_dereg_mr dereg = { .lkey = parent_lkey };
	struct fpgadma_sge sg = { .addr = (uintptr_t)buf, .length = 8, .lkey = parent_lkey };
	struct fpgadma_wr wr = { .opcode = FPGADMA_WR_READ_MEM, .sg_list = (uintptr_t)&sg,
				 .num_sge = 1 };
	struct fpgadma_post post = { .wrs = (uintptr_t)&wr, .count = 1 };
	struct t_dev own;
	struct fpgadma_mr *own_mr;
	void *ring;
	char c;

	/* The parent's context is not ours. */
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_QUERY, &q), EACCES);
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_REG_MR, &reg), EACCES);
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_DEREG_MR, &dereg), EACCES);
	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_POST, &post), EACCES);
	ring = mmap(NULL, t_page_size(), PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ring == MAP_FAILED);
	CHECK(!t_maps_contains("/dev/fpgadma"));
	t_log("child: QUERY, REG_MR, DEREG_MR, POST on the inherited fd: EACCES; mmap refused (%s); "
	      "no ring mapping", t_errname(errno));

	/* Our copy of the buffer is ours. */
	CHECK(!t_verify(buf, mr_len, 10, 0, "child's copy at fork"));
	t_fill(buf, mr_len, 20, 0);

	/* Our own context works, on our copy. */
	t_open(&own);
	own_mr = t_reg(&own, buf, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_dev_write(&own, own_mr, buf, mr_len, 2 * (uint64_t)mr_len);
	memset(buf, 0, mr_len);
	t_dev_read(&own, own_mr, buf, mr_len, 2 * (uint64_t)mr_len);
	CHECK(!t_verify(buf, mr_len, 20, 0, "child's round trip"));
	t_dereg(own_mr);
	t_close(&own);
	t_log("child: own context, MR over its copy, round trip through device memory: ok");

	CHECK_EQ(write(to_parent, "1", 1), 1);
	CHECK_EQ(read(from_parent, &c, 1), 1);
	/* The parent's device writes went to the parent's pages, not ours. */
	CHECK(!t_verify(buf, mr_len, 20, 0, "child's copy after the parent's DMA"));
	t_log("child: its copy untouched by the device writes into the parent's MR");
	exit(0);
}

int main(int argc, char **argv)
{
	int to_parent[2], from_parent[2];
	struct t_snap before;
	uint32_t lkey;
	pid_t pid;
	char c;

	t_init(argc, argv, 55);
	t_open(&d);
	if (d.attr.dev_mem_size < 3 * t_page_size())
		t_skip("device memory of %llu bytes: this test needs 3 pages",
		       (unsigned long long)d.attr.dev_mem_size);
	mr_len = T_MIN(mr_len, d.attr.dev_mem_size / 3);
	buf = t_map(mr_len);
	aux = t_map(mr_len);
	aux_mr = t_reg(&d, aux, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_snap_take(&before);
	mr = t_reg(&d, buf, mr_len, FPGADMA_ACCESS_LOCAL_WRITE);
	lkey = mr->lkey;
	t_fill(buf, mr_len, 10, 0);
	CHECK(t_maps_contains("/dev/fpgadma"));	/* the parent's ring is there to not inherit */

	CHECK_SYS(pipe(to_parent));
	CHECK_SYS(pipe(from_parent));
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		close(to_parent[0]);
		close(from_parent[1]);
		child(to_parent[1], from_parent[0], lkey);
	}
	close(to_parent[1]);
	close(from_parent[0]);
	CHECK_EQ(read(to_parent[0], &c, 1), 1);

	/* The child has written its copy: not ours. */
	CHECK(!t_verify(buf, mr_len, 10, 0, "parent's buffer after the child wrote its copy"));
	/* The parent's MR still maps the parent's pages, both ways. */
	parent_to_device(11, mr_len, "parent writes after fork, child alive");
	device_to_parent(12, "device writes into the parent's MR, child alive");
	/* Device memory is device-wide: the child's data is there. */
	memset(aux, 0, mr_len);
	t_dev_read(&d, aux_mr, aux, mr_len, 2 * (uint64_t)mr_len);
	CHECK(!t_verify(aux, mr_len, 20, 0, "the child's data in device memory"));
	t_log("parent: buffer kept its data; after fork its writes reach the device through the MR "
	      "and the device's writes land in its buffer; the child's data is in device memory");
	CHECK_EQ(write(from_parent[1], "2", 1), 1);
	CHECK_CHILD_OK(t_wait_child(pid, 30000));

	parent_to_device(13, mr_len, "parent writes after the child exited");
	device_to_parent(14, "device writes after the child exited");
	t_log("parent: the MR still works both ways after the child exited");
	t_dereg(mr);
	CHECK_SNAP(&before, 0, 0, "after deregistration");
	t_dereg(aux_mr);
	t_unmap(buf, mr_len);
	t_unmap(aux, mr_len);
	t_close(&d);
	t_pass();
}
