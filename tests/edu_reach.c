// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edu_reach: the edu device addresses 28 bits (256 MiB) of bus space.
 *
 * Without an IOMMU, in a guest whose memory goes beyond 256 MiB, some pages
 * are out of the device's reach wherever the allocator happens to put them:
 * every registration on the device fails with EIO, cleanly (through
 * libfpgadma and the bare ioctl; nothing pinned, charged or registered; no
 * warning in the kernel log, which the harness checks), while the rest of
 * the device still answers: QUERY, WRs without pieces, WRs naming no MR.
 * Where the device reaches everything (all memory below 256 MiB, or an IOMMU
 * that maps it there) the same registrations work.
 *
 * Also: every fpgadma device of the module is listed with its engine, and
 * when the soft device is there too, fpgadma_info shows both.
 */
#include "helpers.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

/* The end of the highest System RAM range in /proc/iomem (root); 0 if unknown. */
static uint64_t ram_end(void)
{
	char line[256];
	uint64_t end = 0;
	FILE *f = fopen("/proc/iomem", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (line[0] != ' ' && strstr(line, "System RAM") &&
		    sscanf(line, "%llx-%llx", &a, &b) == 2 && b + 1 > end)
			end = b + 1;
	}
	fclose(f);
	return end;
}

static void list_devices(void)
{
	bool soft = false, edu = false;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		struct fpgadma_context *ctx;
		struct fpgadma_device_attr a;

		if (fpgadma_open((int)i, &ctx))
			continue;
		CHECK_OK(fpgadma_query(ctx, &a));
		t_log("/dev/fpgadma%u: %s engine, %llu bytes of device memory", i,
		      t_engine_name(a.engine), (unsigned long long)a.dev_mem_size);
		soft |= a.engine == FPGADMA_ENGINE_SOFT;
		edu |= a.engine == FPGADMA_ENGINE_EDU;
		CHECK_OK(fpgadma_close(ctx));
	}
	CHECK(edu);
	if (soft && access("/usr/bin/fpgadma_info", X_OK) == 0) {
		char line[256];
		bool info_soft = false, info_edu = false;
		FILE *p = popen("/usr/bin/fpgadma_info", "r");
		int st;

		CHECK(p != NULL);
		while (fgets(line, sizeof(line), p)) {
			if (!strstr(line, "engine:"))
				continue;
			info_soft |= strstr(line, "soft") != NULL;
			info_edu |= strstr(line, "edu") != NULL;
		}
		st = pclose(p);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK(info_soft && info_edu);
		t_log("fpgadma_info lists the soft device and the edu device");
	}
}

int main(int argc, char **argv)
{
	size_t page;
	uint64_t end;
	struct t_xfer_log log;
	struct t_snap before;
	struct fpgadma_mr *mr = NULL;
	struct fpgadma_reg_mr r;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	struct t_dev d;
	bool reach;
	uint8_t *buf;
	int ret;

	t_init(argc, argv, 55);
	page = t_page_size();
	list_devices();
	t_open_edu(&d);
	t_xfer_log(&d, &log);
	end = ram_end();
	if (!end)
		t_skip("no System RAM ranges in /proc/iomem (needs root)");
	reach = log.iommu || end <= (1ULL << 28);
	t_log("edu device fpgadma%u: %s IOMMU, RAM up to 0x%llx: %s", d.attr.dev_index,
	      log.iommu ? "behind an" : "without", (unsigned long long)end,
	      reach ? "every page within reach" : "pages beyond its 28-bit reach");

	buf = t_map(64 * page);
	memset(buf, 7, 64 * page);
	t_snap_take(&before);
	ret = fpgadma_reg_mr(d.pd, buf + 5, 64 * page - 10, FPGADMA_ACCESS_LOCAL_WRITE, &mr);
	if (reach) {
		CHECK_RET(ret, 0);
		CHECK_SNAP(&before, 64, 1, "registration within reach");
		sg = t_sge(mr, buf + 5, 100);
		c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 0, &sg, 1);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, 100);
		t_dereg(mr);
		CHECK_SNAP(&before, 0, 0, "after deregistration");
		t_log("registration of 64 pages works and data moves");
	} else {
		unsigned int i;

		CHECK_RET(ret, -EIO);
		CHECK(mr == NULL);
		CHECK_SNAP(&before, 0, 0, "refused registration");
		for (i = 0; i < 3; i++) {
			r = (struct fpgadma_reg_mr){ .addr = (uintptr_t)buf + i, .length = page << i,
						     .access = i ? 0 : FPGADMA_ACCESS_ALL };
			CHECK_ERRNO(ioctl(fpgadma_get_fd(d.ctx), FPGADMA_IOC_REG_MR, &r), EIO);
		}
		CHECK_SNAP(&before, 0, 0, "refused registrations by ioctl");
		CHECK_EQ(t_vmpin_kb(0), 0);
		t_log("registration: EIO through libfpgadma and the ioctl, nothing pinned, "
		      "charged or registered");

		/* The device still answers what needs no host memory. */
		c = t_run_wr(&d, FPGADMA_WR_WRITE_MEM, 0, NULL, 0);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, 0);
		sg = (struct fpgadma_sge){ .addr = (uintptr_t)buf, .length = 8, .lkey = 1234 };
		c = t_run_wr(&d, FPGADMA_WR_READ_MEM, 0, &sg, 1);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_LOC_PROT_ERR, 0);
		t_log("WRs without pieces complete, WRs naming no MR fail with LOC_PROT_ERR");
	}
	t_unmap(buf, 64 * page);
	t_close(&d);
	t_pass();
}
