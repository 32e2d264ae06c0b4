// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edu_iova: which addresses the edu device is given, and what an IOMMU
 * changes about them.
 *
 * An MR over pages that are not physically contiguous (their physical
 * addresses come from /proc/self/pagemap) is registered, and READ_MEMs move
 * data into pieces that cross from one page into a physically distant one.
 * The engine's transfer log (debugfs) gives the bus address of each
 * transfer.
 *  - Without an IOMMU the bus addresses are the physical addresses, the MR
 *    has one DMA segment per physically contiguous run of pages, and a piece
 *    across two distant pages takes two transfers.
 *  - Behind an IOMMU the bus addresses are IOVAs, not the physical
 *    addresses; the scattered pages became one contiguous DMA segment
 *    (nsegs 1, fewer than the physical runs), so a piece across two distant
 *    pages is one transfer.
 * Either way every bus address is below 2^28 (the device's DMA mask) and
 * the data arrives.
 */
#include "helpers.h"

#include <sys/mman.h>

#define NPAGES	16

static struct t_dev d;

/* Physically contiguous runs of the pages of buf. */
static unsigned int phys_runs(const uint8_t *buf, uint64_t *phys)
{
	size_t page = t_page_size();
	unsigned int i, runs = 1;

	for (i = 0; i < NPAGES; i++) {
		phys[i] = t_phys_addr(buf + i * page);
		if (!phys[i])
			t_skip("no physical addresses in /proc/self/pagemap (needs root)");
		if (i && phys[i] != phys[i - 1] + page)
			runs++;
	}
	return runs;
}

/* Anonymous pages touched in a scattered order, so that they are not contiguous. */
static uint8_t *scattered(uint64_t *phys, unsigned int *runs)
{
	size_t page = t_page_size();
	unsigned int tries, i;

	for (tries = 0; tries < 8; tries++) {
		uint8_t *buf = t_map(NPAGES * page);
		uint8_t *other = t_map(NPAGES * page);

		for (i = 0; i < NPAGES; i++) {
			buf[(NPAGES - 1 - i) * page] = 1;	/* back to front */
			other[i * page] = 1;			/* interleaved with another buffer */
		}
		t_unmap(other, NPAGES * page);
		*runs = phys_runs(buf, phys);
		if (*runs >= NPAGES / 2)
			return buf;
		t_unmap(buf, NPAGES * page);
	}
	t_skip("could not get scattered pages (%u physical runs of %d pages)", *runs, NPAGES);
}

int main(int argc, char **argv)
{
	size_t page;
	uint64_t phys[NPAGES], x0;
	unsigned int runs, i, k, checked = 0;
	struct t_xfer_log log;
	struct fpgadma_mr *mr, *src_mr;
	uint8_t *buf, *src;

	t_init(argc, argv, 55);
	page = t_page_size();
	t_open_edu(&d);
	t_xfer_log(&d, &log);
	t_log("edu device fpgadma%u: %s IOMMU", d.attr.dev_index,
	      log.iommu ? "behind an" : "without");

	src = t_map(page);
	t_fill(src, page, 3, 0);
	src_mr = t_reg(&d, src, page, 0);
	t_dev_write(&d, src_mr, src, 4000, 0);

	buf = scattered(phys, &runs);
	memset(buf, 0, NPAGES * page);
	mr = t_reg(&d, buf, NPAGES * page, FPGADMA_ACCESS_LOCAL_WRITE);
	t_log("%d pages in %u physically contiguous runs (first page at phys 0x%llx): nsegs %u",
	      NPAGES, runs, (unsigned long long)phys[0], mr->nsegs);
	if (log.iommu) {
		CHECK_EQ(mr->nsegs, 1);
		CHECK_LT(mr->nsegs, runs);
	} else {
		CHECK_EQ(mr->nsegs, runs);
	}

	/* A piece across each boundary between physically distant pages. */
	for (k = 1; k < NPAGES; k++) {
		struct fpgadma_sge sg;
		struct fpgadma_cqe c;
		uint8_t *p = buf + k * page - 1000;
		uint64_t n;

		if (phys[k] == phys[k - 1] + page)
			continue;
		t_xfer_log(&d, &log);
		x0 = log.total;
		sg = t_sge(mr, p, 2000);
		c = t_run_wr(&d, FPGADMA_WR_READ_MEM, 100, &sg, 1);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, 2000);
		CHECK(!t_verify(p, 2000, 3, 100, "piece across two distant pages"));
		t_xfer_log(&d, &log);
		n = log.total - x0;
		CHECK_LE(n, log.n);
		for (i = log.n - (unsigned int)n; i < log.n; i++) {
			CHECK(log.x[i].to_host);
			CHECK_LT(log.x[i].dma + log.x[i].len - 1, 1ULL << 28);
		}
		if (log.iommu) {
			const struct t_xfer *x = &log.x[log.n - 1];

			CHECK_EQ(n, 1);
			CHECK_EQ(x->len, 2000);
			/* an IOVA: neither page's physical address */
			CHECK_NE(x->dma, phys[k - 1] + page - 1000);
			CHECK_NE(x->dma & ~(uint64_t)(page - 1), phys[k]);
			if (!checked)
				t_log("piece across pages %u/%u (phys 0x%llx, 0x%llx): 1 transfer of "
				      "%u bytes at bus address 0x%llx, an IOVA", k - 1, k,
				      (unsigned long long)phys[k - 1], (unsigned long long)phys[k],
				      x->len, (unsigned long long)x->dma);
		} else {
			const struct t_xfer *x = &log.x[log.n - 2], *y = &log.x[log.n - 1];

			CHECK_EQ(n, 2);
			CHECK_EQ(x->dma, phys[k - 1] + page - 1000);
			CHECK_EQ(x->len, 1000);
			CHECK_EQ(y->dma, phys[k]);
			CHECK_EQ(y->len, 1000);
			if (!checked)
				t_log("piece across pages %u/%u: 2 transfers at bus addresses 0x%llx "
				      "and 0x%llx, the physical addresses", k - 1, k,
				      (unsigned long long)x->dma, (unsigned long long)y->dma);
		}
		checked++;
	}
	CHECK_GE(checked, 1);
	t_log("%u pieces across distant pages: %s; every bus address below 2^28", checked,
	      log.iommu ? "one transfer each at an IOVA" :
			  "two transfers each at the physical addresses");
	{
		long long above = 0;

		for (i = 0; i < NPAGES; i++)
			above += phys[i] >= (1ULL << 28);
		t_log("%lld of the %d pages lie above 256 MiB, beyond the device's own reach",
		      above, NPAGES);
		if (!log.iommu)
			CHECK_EQ(above, 0);
	}

	t_dereg(mr);
	t_dereg(src_mr);
	t_unmap(buf, NPAGES * page);
	t_unmap(src, page);
	t_close(&d);
	t_pass();
}
