// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * engine_unplug: a device leaves while files are open on it, as ib_core's
 * devices may.  The soft engine's module is removed (rmmod fpgadma_soft),
 * the edu device is unbound from its driver (sysfs unbind), while two
 * contexts are open with MRs registered, work in flight and a RECV posted:
 *  1. the removal succeeds at once (no file holds the engine);
 *  2. every WR posted completes once and in posting order, with success or
 *     FPGADMA_WC_FLUSH_ERR (the work the engine had not started), the RECV
 *     with FLUSH_ERR;
 *  3. while the files are still open nothing is pinned any more (VmPin 0,
 *     the system's pin count back where it was);
 *  4. further calls fail with ENODEV (QUERY, REG_MR, POST, a new mmap of
 *     the ring), poll() reports POLLHUP and fpgadma_wait() -ENODEV, while
 *     the ring mapped before still reads, and so does the device memory
 *     mapped before (soft engine: fpgadma_mem_map(3)), which also still
 *     takes stores; deregistering and closing work;
 *  5. the engine comes back (insmod with the boot's parameters, or sysfs
 *     bind) and its device moves data again.
 */
#include "helpers.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define NWR	16

static struct t_dev a, b;

/* However the test ends, leave the soft engine loaded for the rest of the suite. */
static void reload_at_exit(void)
{
	if (!t_kmod_loaded("fpgadma_soft") && t_kmod_load("fpgadma_soft"))
		fprintf(stderr, "engine_unplug: reloading fpgadma_soft failed\n");
}

/* The PCI address of device @d, from its sysfs node. */
static void pci_name_of(const struct t_dev *d, char *name, size_t len)
{
	char link[256], path[128];
	ssize_t n;
	const char *slash;

	snprintf(path, sizeof(path), "/sys/class/fpgadma/fpgadma%u/device", d->attr.dev_index);
	n = readlink(path, link, sizeof(link) - 1);
	CHECK_MSG(n > 0, "readlink %s: %s", path, t_errname(errno));
	link[n] = 0;
	slash = strrchr(link, '/');
	slash = slash ? slash + 1 : link;
	CHECK_LT(strlen(slash), len);
	memcpy(name, slash, strlen(slash) + 1);
}

static void sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	CHECK_MSG(fd >= 0, "open %s: %s", path, t_errname(errno));
	CHECK_MSG(write(fd, val, strlen(val)) == (ssize_t)strlen(val), "write %s to %s: %s",
		  val, path, t_errname(errno));
	close(fd);
}

/* Take the device away: its engine module, or the edu device's binding. */
static void unplug(bool soft, const char *pci)
{
	if (soft)
		CHECK_OK(t_kmod_unload("fpgadma_soft"));
	else
		sysfs_write("/sys/bus/pci/drivers/fpgadma-edu/unbind", pci);
}

static void replug(bool soft, const char *pci)
{
	uint64_t t0 = t_now_ms();

	if (soft)
		CHECK_OK(t_kmod_load("fpgadma_soft"));
	else
		sysfs_write("/sys/bus/pci/drivers/fpgadma-edu/bind", pci);
	/* devtmpfs creates the node from the uevent; give it a moment. */
	while (access(t_dev_path(), F_OK) && t_now_ms() - t0 < 5000)
		t_sleep_ms(5);
	CHECK_MSG(access(t_dev_path(), F_OK) == 0, "%s did not come back", t_dev_path());
}

/* 4: what an open file of a gone device answers. */
static void calls_fail(struct t_dev *d, struct fpgadma_mr *mr, uint8_t *buf)
{
	int fd = fpgadma_get_fd(d->ctx);
	struct fpgadma_query q;
	struct fpgadma_mr *m2 = NULL;
	struct fpgadma_sge sg = t_sge(mr, buf, 64);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	void *ring;

	CHECK_ERRNO(ioctl(fd, FPGADMA_IOC_QUERY, &q), ENODEV);
	CHECK_RET(fpgadma_reg_mr(d->pd, buf, 4096, 0, &m2), -ENODEV);
	CHECK(m2 == NULL);
	CHECK_RET(fpgadma_post_read(d->ctx, 1, 0, &sg, 1), -ENODEV);
	ring = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	CHECK_MSG(ring == MAP_FAILED && errno == ENODEV, "a new mmap of the ring: %s",
		  ring == MAP_FAILED ? t_errname(errno) : "mapped");
	if (ring != MAP_FAILED)
		munmap(ring, 4096);
	CHECK_EQ(poll(&pfd, 1, 0), 1);
	CHECK(pfd.revents & POLLHUP);
	CHECK_RET(fpgadma_wait(d->ctx, 0), -ENODEV);
}

int main(int argc, char **argv)
{
	struct fpgadma_cqe cqe[NWR + 1];
	struct fpgadma_mr *ma, *mb;
	struct fpgadma_sge sg;
	struct t_snap start;
	unsigned int i, ok = 0, flushed = 0, n;
	uint8_t *abuf, *bbuf;
	char pci[64] = "";
	size_t chunk, len;
	void *mem = NULL;
	bool soft;

	t_init(argc, argv, 300);
	if (!getenv("FPGADMA_VM"))
		t_skip("removes an engine: only in the test VM");
	t_snap_take(&start);
	t_open(&a);
	soft = a.attr.engine == FPGADMA_ENGINE_SOFT;
	if (soft)
		atexit(reload_at_exit);
	else
		pci_name_of(&a, pci, sizeof(pci));
	t_open(&b);
	/*
	 * Reads longer than the soft engine runs inline, so that some wait in
	 * its queue; the edu device's memory is 4095 bytes, a transfer 100 ms.
	 */
	chunk = soft ? 1024 * 1024 : T_MIN(4096, a.attr.dev_mem_size);
	len = NWR * chunk;
	abuf = t_map(len);
	bbuf = t_map(4096);
	ma = t_reg(&a, abuf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mb = t_reg(&b, bbuf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	/* work in flight: NWR reads of device memory, and a RECV on b */
	for (i = 0; i < NWR; i++) {
		sg = t_sge(ma, abuf + i * chunk, (uint32_t)chunk);
		CHECK_OK(fpgadma_post_read(a.ctx, 100 + i, 0, &sg, 1));
	}
	if (b.attr.caps & FPGADMA_CAP_HOST_EP) {
		sg = t_sge(mb, bbuf, 4096);
		CHECK_OK(fpgadma_post_recv(b.ctx, 7, &sg, 1));
	}

	/* device memory mapped, a pattern stored at its end */
	if (soft) {
		CHECK_OK(fpgadma_mem_map(a.ctx, &mem));
		t_fill((uint8_t *)mem + a.attr.dev_mem_size - 4096, 4096, 77, 0);
	}

	unplug(soft, pci);
	t_log("%s with 2 files open, %u reads in flight%s", soft ? "rmmod fpgadma_soft" :
	      "edu device unbound", NWR, b.attr.caps & FPGADMA_CAP_HOST_EP ? ", a RECV posted" : "");

	/* 2: every WR completed once, by the engine or flushed */
	n = 0;
	while (n < NWR) {
		int got = fpgadma_poll(a.ctx, cqe + n, NWR - (int)n);

		CHECK_GE(got, 1);
		n += (unsigned int)got;
	}
	CHECK_EQ(fpgadma_poll(a.ctx, cqe, 1), 0);
	for (i = 0; i < NWR; i++) {
		CHECK_EQ(cqe[i].wr_id, 100 + i);
		if (cqe[i].status == FPGADMA_WC_SUCCESS)
			ok++;
		else if (cqe[i].status == FPGADMA_WC_FLUSH_ERR)
			flushed++;
		else
			t_fail("WR %u completed with %s", i, fpgadma_wc_status_str(cqe[i].status));
	}
	if (b.attr.caps & FPGADMA_CAP_HOST_EP) {
		CHECK_EQ(fpgadma_poll(b.ctx, cqe, 2), 1);
		CHECK_CQE(&cqe[0], 7, FPGADMA_WR_RECV, FPGADMA_WC_FLUSH_ERR, 0);
	}
	t_log("%u reads completed, %u flushed%s", ok, flushed,
	      b.attr.caps & FPGADMA_CAP_HOST_EP ? "; the RECV flushed" : "");

	/* 3: nothing pinned while the files are open */
	CHECK_EQ(t_vmpin_kb(0), 0);
	if (start.pins != T_PINS_UNKNOWN)
		CHECK_EQ(t_pins_out(), start.pins);

	/* 4 */
	calls_fail(&a, ma, abuf);
	if (mem) {
		uint8_t *end = (uint8_t *)mem + a.attr.dev_mem_size - 4096;

		CHECK_EQ(t_verify(end, 4096, 77, 0, "device memory mapped before the removal"), 0);
		t_fill(end, 4096, 78, 0);
		CHECK_EQ(t_verify(end, 4096, 78, 0, "stores to it after the removal"), 0);
		t_log("the device memory mapped before the removal still reads and takes stores");
	}
	t_dereg(ma);
	t_dereg(mb);
	t_close(&b);
	t_close(&a);
	t_log("with the files open: VmPin 0, pins back; QUERY, REG_MR, POST, mmap: ENODEV; "
	      "poll: POLLHUP; deregistration and close succeed");

	/* 5: back */
	replug(soft, pci);
	t_open(&a);
	ma = t_reg(&a, abuf, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mb = t_reg(&a, bbuf, 4096, 0);
	t_fill(bbuf, chunk < 4096 ? chunk : 4096, 9, 0);
	t_round_trip(&a, mb, bbuf, ma, abuf, chunk < 4096 ? chunk : 4096);
	CHECK_EQ(t_verify(abuf, chunk < 4096 ? chunk : 4096, 9, 0, "after the return"), 0);
	t_dereg(ma);
	t_dereg(mb);
	t_close(&a);
	t_unmap(abuf, len);
	t_unmap(bbuf, 4096);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_log("%s: the device is back and moves data", soft ? "insmod fpgadma_soft" : "edu bound");
	t_pass();
}
