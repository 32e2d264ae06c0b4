// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpga_mem: the FPGA's on-board memory through plain fi_write / fi_read.
 *
 * The FPGA is found with fi_open_ops(FI_FPGADMA_DOMAIN_OPS_1)->query_fpga
 * and its address inserted into the AV; its memory is RMA address
 * mem_base + offset with key mem_key (rdma/fi_ext_fpgadma.h).
 *
 *   background  all of device memory written with a pattern first and read
 *               back at the end: nothing outside a transfer's range changes
 *   sizes       1 byte to 6 MiB (capped by mem_size) at device offsets 0, 1,
 *               4093 and the very end, from and to host buffers at page
 *               offsets 0, 3 and 4095, through a registered buffer (desc)
 *               and through unregistered memory (NULL desc, unless the
 *               provider negotiated FI_MR_LOCAL); each write is read back
 *               with its neighbours, byte by byte
 *   queue       64 writes posted before any completion is read, then 64 reads
 *   paths       small RMAs go through the device memory mapped into the
 *               process when the endpoint has nothing else in flight
 *               (FI_FPGADMA_MEM_MAP_MAX, default 4 KiB), larger ones and
 *               those behind others through the engine: 16 idle 8-byte
 *               reads complete no work request of the device (its
 *               wrs_completed counter; all 16 with FI_FPGADMA_MEM_MAP_MAX=0
 *               or on a device that cannot map its memory); an 8-byte
 *               read posted behind a 64 KiB write it overlaps sees the
 *               write, and a 64 KiB read behind an 8-byte write sees it
 *   errors      past mem_size (straddling and wholly beyond), a wrong key:
 *               a CQ error entry with a readable fi_cq_strerror, the host
 *               buffer and device memory untouched, the endpoint still works
 *
 * -A asks for FI_SOCKADDR_IN addresses: the FPGA's address (query_fpga)
 * must then be a sockaddr_in, and the AV must take it.
 *
 * Provider: -p, $FI_PROVIDER, else "fpgadma"; skips without it.
 */
#include "common.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rdma/fi_ext_fpgadma.h>

#define BG_SEED 0xb6b6ULL	/* device memory nobody wrote: pattern BG_SEED at its offset */
#define HBYTE 0x3c		/* host memory nobody wrote */
#define WIN 64			/* neighbour bytes read back each side */

static size_t max_size = 6 << 20;
static uint64_t bytes_verified, ops, errors_seen;

static struct ft_dom dom;
static struct ft_ep ep;
static struct fi_fpgadma_fpga fpga;
static fi_addr_t fpga_addr;

/* The host buffer: a registered one, and plain memory for NULL desc. */
static uint8_t *hreg, *hplain;
static void *hreg_base, *hplain_base;
static size_t hreg_map, hplain_map, hlen;
static struct fid_mr *hmr;
static void *hdesc;
static bool null_desc_ok;

static bool sockaddr_in_addrs;

static int opt(int c, const char *arg)
{
	if (c == 'M') {
		max_size = strtoull(arg, NULL, 0);
		return 0;
	}
	if (c == 'A') {
		sockaddr_in_addrs = true;
		return 0;
	}
	return -1;
}

/* -A: the FPGA's address is a sockaddr_in, and prints as one. */
static void check_sin_fpga(void)
{
	struct sockaddr_in sin;
	char str[128];
	size_t len = sizeof(str);

	ft_check(dom.info->addr_format == FI_SOCKADDR_IN,
		 "addr_format %u, asked FI_SOCKADDR_IN", dom.info->addr_format);
	ft_check(fpga.addrlen == sizeof(sin), "query_fpga: addrlen %zu, expected a "
		 "sockaddr_in (%zu)", fpga.addrlen, sizeof(sin));
	memcpy(&sin, fpga.addr, sizeof(sin));
	ft_check(sin.sin_family == AF_INET, "query_fpga: family %u, expected AF_INET",
		 sin.sin_family);
	fi_av_straddr(dom.av, fpga.addr, str, &len);
	ft_check(!strncmp(str, "fi_sockaddr_in://", 17),
		 "fi_av_straddr: \"%s\", expected fi_sockaddr_in://...", str);
	ft_log("the FPGA's address: %s", str);
}

/* One RMA to device offset off, waited for. */
static void rma(bool write, void *buf, size_t len, void *desc, uint64_t off, const char *what)
{
	struct ft_op op = { .what = what };

	if (write)
		FT_POST(fi_write(ep.ep, buf, len, desc, fpga_addr, fpga.mem_base + off,
				 fpga.mem_key, &op));
	else
		FT_POST(fi_read(ep.ep, buf, len, desc, fpga_addr, fpga.mem_base + off,
				fpga.mem_key, &op));
	ft_wait_op(&ep.cq, &op, NULL);
	ops++;
}

/* Write the background over [off, off + len) of device memory. */
static void put_background(uint64_t off, size_t len)
{
	while (len) {
		size_t n = FT_MIN(len, hlen);

		ft_fill(hreg, n, BG_SEED, off);
		rma(true, hreg, n, hdesc, off, "background write");
		off += n;
		len -= n;
	}
}

/* Device memory [off, off + len) holds the background. */
static void check_background(uint64_t off, size_t len, const char *what)
{
	while (len) {
		size_t n = FT_MIN(len, hlen);

		memset(hreg, HBYTE, n);
		rma(false, hreg, n, hdesc, off, "background read");
		if (ft_expect_pattern(hreg, n, BG_SEED, off, what))
			bytes_verified += n;
		off += n;
		len -= n;
	}
}

/*
 * Write len bytes from host page offset hoff to device offset off, read the
 * range and WIN bytes each side back to host page offset roff, check all,
 * and put the background back.
 */
static void round_trip(size_t len, uint64_t off, size_t hoff, size_t roff, bool with_desc)
{
	uint8_t *h = with_desc ? hreg : hplain;
	void *desc = with_desc ? hdesc : NULL;
	uint64_t seed = len * 7919 + off;
	uint64_t lo = off >= WIN ? off - WIN : 0;
	uint64_t hi = FT_MIN(off + len + WIN, fpga.mem_size);
	size_t wlen = (size_t)(hi - lo);
	char what[128];

	snprintf(what, sizeof(what), "%zu bytes at device offset %" PRIu64 " (host page offsets "
		 "%zu/%zu, %s)", len, off, hoff, roff, with_desc ? "desc" : "NULL desc");
	memset(h, HBYTE, hlen);
	ft_fill(h + hoff, len, seed, 0);
	rma(true, h + hoff, len, desc, off, "fi_write");
	memset(h, HBYTE, hlen);
	rma(false, h + roff, wlen, desc, lo, "fi_read");
	ft_expect_pattern(h + roff, (size_t)(off - lo), BG_SEED, lo, what);
	if (ft_expect_pattern(h + roff + (off - lo), len, seed, 0, what))
		bytes_verified += len;
	ft_expect_pattern(h + roff + (off - lo) + len, (size_t)(hi - off - len), BG_SEED,
			  off + len, what);
	ft_expect_bytes(h, roff, HBYTE, what);
	ft_expect_bytes(h + roff + wlen, FT_MIN(hlen - roff - wlen, 4096), HBYTE, what);
	put_background(off, len);
}

static void test_sizes(void)
{
	static const size_t sizes[] = {
		1, 2, 3, 7, 8, 9, 63, 64, 65, 511, 4095, 4096, 4097, 12289, 65536 + 7,
		262144 - 1, 1 << 20, (1 << 20) + 3, (4 << 20) - 5, 6 << 20,
	};
	static const size_t hoffs[] = { 0, 3, 4095 };
	size_t i, k, n = 0, largest = 0;
	uint64_t t0 = ft_now_us(), b0 = bytes_verified;

	for (i = 0; i < FT_ARRAY_SIZE(sizes); i++) {
		size_t len = sizes[i];
		uint64_t offs[4] = { 0, 1, 4093, 0 };
		int noffs = 4, d;

		if (len > max_size || len > fpga.mem_size)
			continue;
		offs[3] = fpga.mem_size - len;
		if (len > 65536) {	/* the big ones at two offsets only */
			offs[0] = 1;
			offs[1] = offs[3];
			noffs = 2;
		}
		for (k = 0; k < (size_t)noffs; k++) {
			if (offs[k] + len > fpga.mem_size)
				continue;
			for (d = 0; d < 2; d++) {
				if (!d && !null_desc_ok)
					continue;
				round_trip(len, offs[k], hoffs[(i + k) % 3], hoffs[(i + k + 1) % 3], d);
				n++;
			}
		}
		largest = len;
	}
	ft_log("sizes: %zu round trips of 1..%zu bytes (%s), %" PRIu64 " bytes verified with "
	       "their neighbours (%.1f ms)", n, largest,
	       null_desc_ok ? "desc and NULL desc" : "desc only: FI_MR_LOCAL",
	       bytes_verified - b0, (double)(ft_now_us() - t0) / 1000);
}

static void test_queue(void)
{
	enum { N = 64 };
	size_t piece = FT_MIN((size_t)4096, fpga.mem_size / N), k;
	struct ft_op op[N];
	struct ft_comp c;
	int pass;

	if (!piece || piece * N > hlen) {
		ft_log("queue: skipped (device memory %" PRIu64 " bytes)", fpga.mem_size);
		return;
	}
	for (pass = 0; pass < 2; pass++) {
		bool write = !pass;

		if (write)
			ft_fill(hreg, piece * N, 4711, 0);
		else
			memset(hreg, HBYTE, piece * N);
		/* Piece k goes to device piece N-1-k: order does not matter. */
		for (k = 0; k < N; k++) {
			op[k] = (struct ft_op){ .what = write ? "queued fi_write" : "queued fi_read",
						.id = (int)k };
			uint64_t off = (N - 1 - k) * piece;

			if (write)
				FT_POST(fi_write(ep.ep, hreg + k * piece, piece, hdesc, fpga_addr,
						 fpga.mem_base + off, fpga.mem_key, &op[k]));
			else
				FT_POST(fi_read(ep.ep, hreg + k * piece, piece, hdesc, fpga_addr,
						fpga.mem_base + off, fpga.mem_key, &op[k]));
		}
		for (k = 0; k < N; k++) {
			if (ft_wait(&ep.cq, &c))
				ft_fatal("queue: %zu of %d completions", k, N);
			ft_check(!c.err, "queue: error completion: %s", c.errstr);
			ft_check(c.e.op_context >= (void *)&op[0] && c.e.op_context <= (void *)&op[N - 1],
				 "queue: completion of an unknown operation");
		}
		ops += N;
	}
	if (ft_expect_pattern(hreg, piece * N, 4711, 0, "64 queued writes read back by 64 queued reads"))
		bytes_verified += piece * N;
	put_background(0, piece * N);
	ft_log("queue: %d writes of %zu bytes posted at once, then %d reads: all complete, data right",
	       N, piece, N);
}

/* The device's count of completed work requests; -1 if unreadable. */
static long long dev_wrs_completed(void)
{
	char path[128], buf[64];
	FILE *f;
	long long v = -1;

	snprintf(path, sizeof(path), "/sys/class/fpgadma/fpgadma%u/wrs_completed",
		 fpga.dev_index);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtoll(buf, NULL, 10);
	fclose(f);
	return v;
}

/* Post an RMA of the FPGA's memory without waiting for it. */
static void post_rma(bool write, void *buf, size_t len, uint64_t off, struct ft_op *op)
{
	if (write)
		FT_POST(fi_write(ep.ep, buf, len, hdesc, fpga_addr, fpga.mem_base + off,
				 fpga.mem_key, op));
	else
		FT_POST(fi_read(ep.ep, buf, len, hdesc, fpga_addr, fpga.mem_base + off,
				fpga.mem_key, op));
	ops++;
}

static void test_paths(void)
{
	enum { N = 16, BIG = 65536 };
	const char *env = getenv("FI_FPGADMA_MEM_MAP_MAX");
	bool engine_only = (env && strtoull(env, NULL, 0) < 8) ||
			   fpga.engine != FI_FPGADMA_ENGINE_SOFT;
	struct ft_op a = { .what = "64 KiB fi_write" }, b = { .what = "8-byte fi_read behind it" };
	long long w0, w1;
	uint64_t word;
	int k;

	if (fpga.mem_size < 2 * BIG || 3 * BIG + 8 > hlen) {
		ft_log("paths: skipped (device memory %" PRIu64 " bytes, host buffer %zu: 128 KiB "
		       "and 192 KiB needed)", fpga.mem_size, hlen);
		return;
	}
	/* Which path idle small reads take: the device's own count says. */
	w0 = dev_wrs_completed();
	for (k = 0; k < N; k++)
		rma(false, hreg, 8, hdesc, (uint64_t)k * 8, "idle 8-byte fi_read");
	w1 = dev_wrs_completed();
	ft_check(w0 >= 0 && w1 >= 0, "paths: /sys/class/fpgadma/fpgadma%u/wrs_completed is not "
		 "readable", fpga.dev_index);
	if (engine_only)
		ft_check(w1 - w0 == N, "paths: %d idle 8-byte reads through the engine completed %lld "
			 "work requests of the device", N, w1 - w0);
	else
		ft_check(w1 == w0, "paths: %d idle 8-byte reads through the mapped memory completed "
			 "%lld work requests of the device (none expected)", N, w1 - w0);

	/* A small read behind a large write it overlaps sees the write. */
	ft_fill(hreg, BIG, 5150, 0);
	memset(hreg + BIG, HBYTE, 8);
	post_rma(true, hreg, BIG, BIG, &a);
	post_rma(false, hreg + BIG, 8, 2 * BIG - 8, &b);
	ft_wait_op(&ep.cq, &a, NULL);
	ft_wait_op(&ep.cq, &b, NULL);
	ft_check(!memcmp(hreg + BIG, hreg + BIG - 8, 8),
		 "paths: an 8-byte fi_read posted behind a 64 KiB fi_write of the same bytes did "
		 "not read what was written");
	bytes_verified += 8;

	/* A large read behind a small write sees it. */
	word = 0x0123456789abcdefULL;
	memcpy(hreg + 2 * BIG, &word, 8);
	a = (struct ft_op){ .what = "8-byte fi_write" };
	b = (struct ft_op){ .what = "64 KiB fi_read behind it" };
	memset(hreg + 2 * BIG + 8, HBYTE, BIG);
	post_rma(true, hreg + 2 * BIG, 8, BIG + 100, &a);
	post_rma(false, hreg + 2 * BIG + 8, BIG, BIG, &b);
	ft_wait_op(&ep.cq, &a, NULL);
	ft_wait_op(&ep.cq, &b, NULL);
	memcpy(hreg + 100, &word, 8);	/* the expected bytes: the write over the pattern */
	ft_check(!memcmp(hreg + 2 * BIG + 8, hreg, BIG),
		 "paths: a 64 KiB fi_read posted behind an 8-byte fi_write inside it did not "
		 "read what was written");
	bytes_verified += BIG;
	put_background(BIG, BIG);
	ft_log("paths: %d idle 8-byte reads %s (device work requests +%lld); reads behind writes "
	       "see them, both ways", N, engine_only ? "through the engine" :
	       "through the mapped memory", w1 - w0);
}

/* A bad RMA: error completion, host buffer and device memory untouched. */
static void bad(bool write, uint64_t addr, size_t len, uint64_t key, const char *what)
{
	struct ft_op op = { .what = what };
	ssize_t ret;

	ft_fill(hreg, len, 999, 0);
	memset(hreg + len, HBYTE, 64);
	if (write)
		ret = fi_write(ep.ep, hreg, len, hdesc, fpga_addr, addr, key, &op);
	else
		ret = fi_read(ep.ep, hreg, len, hdesc, fpga_addr, addr, key, &op);
	if (ft_expect_error_comp(&ep.cq, &op, ret))
		errors_seen++;
	ops++;
	if (!write)
		ft_expect_pattern(hreg, len, 999, 0, "the host buffer of a failed fi_read");
	ft_expect_bytes(hreg + len, 64, HBYTE, "after the host buffer of a failed RMA");
}

static void test_errors(void)
{
	uint64_t end = fpga.mem_base + fpga.mem_size;
	uint64_t tail = FT_MIN(fpga.mem_size, (uint64_t)8192);

	bad(false, end - 10, 20, fpga.mem_key, "fi_read straddling the end of device memory");
	bad(true, end - 10, 20, fpga.mem_key, "fi_write straddling the end of device memory");
	bad(false, end, 1, fpga.mem_key, "fi_read of the byte after device memory");
	bad(true, end, 1, fpga.mem_key, "fi_write of the byte after device memory");
	bad(true, fpga.mem_base + (1ULL << 62), 100, fpga.mem_key, "fi_write far beyond device memory");
	bad(false, fpga.mem_base, 100, fpga.mem_key + 1, "fi_read with a wrong key");
	bad(true, fpga.mem_base, 100, fpga.mem_key + 1, "fi_write with a wrong key");
	bad(true, fpga.mem_base, 100, 0x12345678, "fi_write with an unknown key");
	if (fpga.stream_key != fpga.mem_key)
		bad(true, fpga.mem_base, 100, fpga.stream_key + 0x10000, "fi_write with a key near the stream's");
	/* Nothing was written: the ends of device memory still hold the background. */
	check_background(0, (size_t)tail, "device memory start after the failed RMAs");
	check_background(fpga.mem_size - tail, (size_t)tail, "device memory end after the failed RMAs");
	/* And the endpoint still works. */
	round_trip(FT_MIN((size_t)100, (size_t)fpga.mem_size), fpga.mem_size - FT_MIN(100, fpga.mem_size),
		   5, 7, true);
	ft_log("errors: %" PRIu64 " bad RMAs completed with errors, nothing moved, the endpoint still works",
	       errors_seen);
}

int main(int argc, char **argv)
{
	uint64_t t0;
	int ret;

	struct fi_info *hints;

	ft_parse(argc, argv, "M:A", "[-M MAX_SIZE] [-A]\n"
		 "  -M BYTES     largest transfer (default 6 MiB)\n"
		 "  -A           FI_SOCKADDR_IN addresses (default: the provider's)", opt);
	ft_default_prov("fpgadma");
	/* No FI_MR_LOCAL asked for: NULL desc must work unless the provider insists. */
	hints = ft_hints(FI_RMA | FI_READ | FI_WRITE, FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
			 FI_MR_PROV_KEY | FI_MR_ENDPOINT);
	if (sockaddr_in_addrs)
		hints->addr_format = FI_SOCKADDR_IN;
	ft_open_dom_or_skip(hints, &dom, "FI_RMA on FI_EP_RDM");
	ft_describe(&dom);
	ft_query_fpga(&dom, &fpga);
	if (sockaddr_in_addrs)
		check_sin_fpga();
	if (!fpga.mem_size)
		ft_skip("the FPGA has no on-board memory");
	ft_open_ep(&dom, &ep, "ep");
	fpga_addr = ft_av_insert(&dom, fpga.addr);
	null_desc_ok = !ft_need_desc(&dom);

	max_size = FT_MIN(max_size, dom.info->ep_attr->max_msg_size);
	hlen = (size_t)FT_MIN((uint64_t)FT_MAX(max_size, (size_t)65536), fpga.mem_size) + 3 * 4096;
	hreg = ft_alloc_at(hlen, 0, &hreg_base, &hreg_map);
	hplain = ft_alloc_at(hlen, 0, &hplain_base, &hplain_map);
	ret = ft_mr_reg(&dom, &ep, hreg, hlen, FI_READ | FI_WRITE, 0, &hmr);
	if (ret)
		ft_fatal("fi_mr_reg of %zu bytes: %s", hlen, ft_strerr(ret));
	hdesc = fi_mr_desc(hmr);

	t0 = ft_now_us();
	put_background(0, (size_t)fpga.mem_size);
	ft_log("background: %" PRIu64 " bytes of device memory written (%.1f ms)", fpga.mem_size,
	       (double)(ft_now_us() - t0) / 1000);

	test_sizes();
	test_queue();
	test_paths();
	test_errors();

	t0 = ft_now_us();
	check_background(0, (size_t)fpga.mem_size, "device memory at the end");
	ft_log("background: all %" PRIu64 " bytes of device memory read back: only the tested "
	       "ranges were ever changed (%.1f ms)", fpga.mem_size, (double)(ft_now_us() - t0) / 1000);

	ft_close_fid(&hmr->fid, "mr");
	ft_close_ep(&ep);
	ft_close_dom(&dom);
	ft_unmap(hreg_base, hreg_map);
	ft_unmap(hplain_base, hplain_map);
	return ft_finish("%" PRIu64 " RMAs, %" PRIu64 " bytes verified, %" PRIu64
			 " bad RMAs refused", ops, bytes_verified, errors_seen);
}
