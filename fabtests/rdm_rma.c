// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rdm_rma: RMA semantics between two RDM endpoints, against any provider.
 *
 * ep0 reads and writes an MR of ep1 (two domains in one process, -s: one):
 *   write      fi_write from 1 byte to 4 MiB at unaligned target offsets:
 *              the target bytes become the data, the bytes around them stay
 *   read       fi_read of the same shapes, the local guard bytes untouched
 *   vectors    fi_writev / fi_readv of several local pieces (iov_limit)
 *   inject     fi_inject_write: no completion, the data arrives
 *   writedata  fi_writedata: the target gets FI_REMOTE_CQ_DATA with the data
 *              (consuming a posted receive under FI_RX_CQ_DATA)
 *   errors     a wrong key, a range past the MR's end and a write to a
 *              read-only MR complete with an error at the initiator, leave
 *              the target untouched, and the endpoints keep working
 * The target's data is checked in its memory once it arrives (polled with
 * progress, since fi_write completes at the initiator on FI_TRANSMIT_COMPLETE
 * by default), then read back with fi_read.
 */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 256
#define TBYTE 0xa5	/* target memory nobody wrote */
#define LBYTE 0x3c	/* local memory nobody wrote */

static bool one_domain;
static size_t max_size = 4 << 20;
static uint64_t bytes_verified, ops;

static int opt(int c, const char *arg)
{
	switch (c) {
	case 's':
		one_domain = true;
		return 0;
	case 'M':
		max_size = strtoull(arg, NULL, 0);
		return 0;
	}
	return -1;
}

struct rma {
	struct ft_pair p;
	/* target, at ep1 */
	uint8_t *t;
	size_t tlen;		/* the MR's bytes: tlen, with GUARD more each side unregistered */
	struct fid_mr *tmr, *romr;
	uint8_t *ro;		/* a read-only (FI_REMOTE_READ) MR */
	uint64_t tkey, tbase, rokey, robase;
	/* local, at ep0 */
	uint8_t *l;
	size_t llen;
	struct fid_mr *lmr;
	void *ldesc;
};

static void rma_open(struct rma *r)
{
	struct fi_info *hints = ft_hints(FI_RMA | FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
					 FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT);
	const char *why = NULL;
	struct ft_dom *td, *ld;
	int ret;

	if (ft_pair_open(&r->p, hints, one_domain, 0, &why))
		ft_skip("provider %s: %s for FI_RMA | FI_MSG on FI_EP_RDM",
			ft_opts.prov ? ft_opts.prov : "(any)", why);
	ft_describe(&r->p.dom[0]);
	td = ft_pair_dom(&r->p, 1);
	ld = ft_pair_dom(&r->p, 0);
	max_size = FT_MIN(max_size, r->p.dom[0].info->ep_attr->max_msg_size);

	r->tlen = max_size + 8192;
	r->t = (uint8_t *)ft_xmalloc(r->tlen + 2 * GUARD) + GUARD;
	memset(r->t - GUARD, TBYTE, r->tlen + 2 * GUARD);
	ret = ft_mr_reg(td, &r->p.ep[1], r->t, r->tlen, FI_REMOTE_READ | FI_REMOTE_WRITE, 0,
			&r->tmr);
	if (ret)
		ft_fatal("fi_mr_reg of the %zu-byte target: %s", r->tlen, ft_strerr(ret));
	r->tkey = fi_mr_key(r->tmr);
	r->tbase = ft_rma_base(td, r->t);

	r->ro = ft_xmalloc(4096);
	ft_fill(r->ro, 4096, 31337, 0);
	ret = ft_mr_reg(td, &r->p.ep[1], r->ro, 4096, FI_REMOTE_READ, 0, &r->romr);
	if (ret)
		ft_fatal("fi_mr_reg of the read-only target: %s", ft_strerr(ret));
	r->rokey = fi_mr_key(r->romr);
	r->robase = ft_rma_base(td, r->ro);

	r->llen = max_size + 8192;
	r->l = ft_xmalloc(r->llen + GUARD);
	if (ft_need_desc(ld)) {
		ret = ft_mr_reg(ld, &r->p.ep[0], r->l, r->llen + GUARD, FI_READ | FI_WRITE, 0,
				&r->lmr);
		if (ret)
			ft_fatal("fi_mr_reg of the local buffer: %s", ft_strerr(ret));
		r->ldesc = fi_mr_desc(r->lmr);
	}
}

static void rma_close(struct rma *r)
{
	if (r->lmr)
		ft_close_fid(&r->lmr->fid, "local mr");
	ft_close_fid(&r->tmr->fid, "target mr");
	ft_close_fid(&r->romr->fid, "read-only mr");
	ft_pair_close(&r->p);
	free(r->t - GUARD);
	free(r->ro);
	free(r->l);
}

/* Wait, with progress, until the target holds the pattern (writes complete early). */
static bool wait_target(const uint8_t *t, size_t len, uint64_t seed, const char *what)
{
	uint64_t t0 = ft_now_us();

	while (ft_verify(t, len, seed, 0) != len) {
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			return ft_expect_pattern(t, len, seed, 0, what);
		ft_progress();
	}
	return true;
}

/* The target outside [off, off + len) is untouched; then it all is again. */
static void check_target_around(struct rma *r, size_t off, size_t len, const char *what)
{
	uint8_t *lo = r->t - GUARD, *hi = r->t + off + len;
	size_t nlo = off + GUARD, nhi = r->tlen - off - len + GUARD;

	/* Only the near bytes: the rest was checked by the previous round. */
	if (nlo > 2 * GUARD) {
		lo = r->t + off - GUARD;
		nlo = GUARD;
	}
	nhi = FT_MIN(nhi, 2 * GUARD);
	ft_expect_bytes(lo, nlo, TBYTE, what);
	ft_expect_bytes(hi, nhi, TBYTE, what);
	memset(r->t + off, TBYTE, len);
}

static void do_write(struct rma *r, size_t off, size_t len, size_t loff)
{
	struct ft_op op = { .what = "fi_write" };
	struct ft_comp c;
	uint64_t seed = len ^ (off << 20) ^ 0x77;
	char what[96];

	snprintf(what, sizeof(what), "fi_write of %zu bytes at target offset %zu", len, off);
	ft_fill(r->l + loff, len, seed, 0);
	FT_POST(fi_write(r->p.ep[0].ep, r->l + loff, len, r->ldesc, r->p.peer[0],
			 r->tbase + off, r->tkey, &op));
	ft_wait_op(&r->p.ep[0].cq, &op, &c);
	ft_check((c.e.flags & (FI_RMA | FI_WRITE)) == (FI_RMA | FI_WRITE),
		 "%s: completion flags %#" PRIx64, what, (uint64_t)c.e.flags);
	if (wait_target(r->t + off, len, seed, what))
		bytes_verified += len;
	check_target_around(r, off, len, what);
	ops++;
}

static void do_read(struct rma *r, size_t off, size_t len, size_t loff)
{
	struct ft_op op = { .what = "fi_read" };
	struct ft_comp c;
	uint64_t seed = len ^ (off << 20) ^ 0x99;
	char what[96];

	snprintf(what, sizeof(what), "fi_read of %zu bytes at target offset %zu", len, off);
	ft_fill(r->t + off, len, seed, 0);
	memset(r->l, LBYTE, r->llen + GUARD);
	FT_POST(fi_read(r->p.ep[0].ep, r->l + loff, len, r->ldesc, r->p.peer[0],
			r->tbase + off, r->tkey, &op));
	ft_wait_op(&r->p.ep[0].cq, &op, &c);
	ft_check((c.e.flags & (FI_RMA | FI_READ)) == (FI_RMA | FI_READ),
		 "%s: completion flags %#" PRIx64, what, (uint64_t)c.e.flags);
	if (ft_expect_pattern(r->l + loff, len, seed, 0, what))
		bytes_verified += len;
	ft_expect_bytes(r->l, loff, LBYTE, what);
	ft_expect_bytes(r->l + loff + len, FT_MIN(GUARD, r->llen + GUARD - loff - len), LBYTE, what);
	memset(r->t + off, TBYTE, len);
	ops++;
}

static void test_write_read(struct rma *r)
{
	static const size_t sizes[] = {
		1, 2, 7, 8, 63, 64, 65, 4095, 4096, 4097, 65536 + 5, 262144,
		(1 << 20) + 1, (4 << 20) - 3, 4 << 20,
	};
	static const size_t offs[] = { 0, 1, 4093 };
	size_t i, j, n = 0;
	uint64_t t0 = ft_now_us(), b0 = bytes_verified;

	for (i = 0; i < FT_ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > max_size)
			continue;
		for (j = 0; j < FT_ARRAY_SIZE(offs); j++) {
			do_write(r, offs[j], sizes[i], (i + j) % 3 * 17);
			do_read(r, offs[j], sizes[i], (i + 2 * j) % 5 * 13);
			n += 2;
		}
	}
	ft_log("write/read: %zu operations of 1..%zu bytes at target offsets 0, 1, 4093 "
	       "(local offsets vary): %" PRIu64 " bytes verified, neighbours untouched (%.1f ms)",
	       n, max_size, bytes_verified - b0, (double)(ft_now_us() - t0) / 1000);
}

static void test_vectors(struct rma *r)
{
	const struct fi_info *info = r->p.dom[0].info;
	size_t nio = FT_MIN(info->tx_attr->iov_limit, 4), k, total = 0, off = 100;
	size_t lens[4] = { 1000, 1, 4096, 333 };
	struct iovec iov[4];
	void *desc[4];
	struct fi_rma_iov rio;
	struct fi_msg_rma msg;
	struct ft_op op = { .what = "fi_writemsg" };
	uint8_t *p = r->l;

	if (nio < 2) {
		ft_log("vectors: skipped (iov_limit %zu)", info->tx_attr->iov_limit);
		return;
	}
	for (k = 0; k < nio; k++) {
		iov[k] = (struct iovec){ p, lens[k] };
		desc[k] = r->ldesc;
		ft_fill(p, lens[k], 4444, total);
		total += lens[k];
		p += lens[k] + 7;	/* the pieces are not adjacent locally */
	}
	rio = (struct fi_rma_iov){ .addr = r->tbase + off, .len = total, .key = r->tkey };
	msg = (struct fi_msg_rma){ .msg_iov = iov, .desc = desc, .iov_count = nio,
				   .addr = r->p.peer[0], .rma_iov = &rio, .rma_iov_count = 1,
				   .context = &op };
	FT_POST(fi_writemsg(r->p.ep[0].ep, &msg, FI_COMPLETION));
	ft_wait_op(&r->p.ep[0].cq, &op, NULL);
	if (wait_target(r->t + off, total, 4444, "fi_writemsg of pieces"))
		bytes_verified += total;
	check_target_around(r, off, total, "fi_writemsg of pieces");

	/* And back: one target range into the same pieces. */
	ft_fill(r->t + off, total, 5555, 0);
	p = r->l;
	for (k = 0; k < nio; k++) {
		memset(p, LBYTE, lens[k] + 7);
		p += lens[k] + 7;
	}
	op.what = "fi_readmsg";
	FT_POST(fi_readmsg(r->p.ep[0].ep, &msg, FI_COMPLETION));
	ft_wait_op(&r->p.ep[0].cq, &op, NULL);
	total = 0;
	for (k = 0; k < nio; k++) {
		if (ft_expect_pattern(iov[k].iov_base, lens[k], 5555, total, "fi_readmsg piece"))
			bytes_verified += lens[k];
		ft_expect_bytes((uint8_t *)iov[k].iov_base + lens[k], 7, LBYTE, "between the pieces");
		total += lens[k];
	}
	memset(r->t + off, TBYTE, total);
	ops += 2;
	ft_log("vectors: fi_writemsg and fi_readmsg of %zu local pieces (%zu bytes) to one range",
	       nio, total);
}

static void test_inject(struct rma *r)
{
	size_t len = FT_MIN(r->p.dom[0].info->tx_attr->inject_size, 64), off = 5000;
	uint8_t buf[64];

	if (!len) {
		ft_log("inject: skipped (inject_size 0)");
		return;
	}
	ft_fill(buf, len, 8888, 0);
	FT_POST(fi_inject_write(r->p.ep[0].ep, buf, len, r->p.peer[0], r->tbase + off, r->tkey));
	memset(buf, 0, sizeof(buf));
	if (wait_target(r->t + off, len, 8888, "fi_inject_write"))
		bytes_verified += len;
	check_target_around(r, off, len, "fi_inject_write");
	ft_check(ft_no_comp(&r->p.ep[0].cq, 50), "fi_inject_write produced a completion");
	ops++;
	ft_log("inject: fi_inject_write of %zu bytes arrived, no completion", len);
}

static void test_writedata(struct rma *r)
{
	const struct fi_info *info = ft_pair_dom(&r->p, 1)->info;
	size_t bytes = info->domain_attr->cq_data_size, len = 3000, off = 12345;
	uint64_t data = 0xfedcba9876543210ULL, mask;
	struct ft_op op = { .what = "fi_writedata" }, rop = { .what = "recv for cq data" };
	struct ft_comp c;
	bool rx_buf = info->mode & FI_RX_CQ_DATA;

	if (!bytes) {
		ft_log("writedata: skipped (cq_data_size 0)");
		return;
	}
	mask = bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;
	if (rx_buf)
		FT_POST(fi_recv(r->p.ep[1].ep, NULL, 0, NULL, FI_ADDR_UNSPEC, &rop));
	ft_fill(r->l, len, 1212, 0);
	FT_POST(fi_writedata(r->p.ep[0].ep, r->l, len, r->ldesc, data, r->p.peer[0],
			     r->tbase + off, r->tkey, &op));
	ft_wait_op(&r->p.ep[0].cq, &op, NULL);
	if (ft_wait(&r->p.ep[1].cq, &c))
		ft_fatal("writedata: no completion at the target");
	ft_check(!c.err, "writedata: target completion error %s", c.errstr);
	ft_check(c.e.flags & FI_REMOTE_CQ_DATA, "writedata: target completion flags %#" PRIx64
		 " lack FI_REMOTE_CQ_DATA", (uint64_t)c.e.flags);
	ft_check((c.e.data & mask) == (data & mask), "writedata: data %#" PRIx64 ", expected %#"
		 PRIx64, (uint64_t)c.e.data, data & mask);
	if (rx_buf)
		ft_check(c.e.op_context == &rop, "writedata: the completion is not the posted receive's");
	/* The data is there when the target's completion is. */
	if (ft_expect_pattern(r->t + off, len, 1212, 0, "fi_writedata"))
		bytes_verified += len;
	check_target_around(r, off, len, "fi_writedata");
	ops++;
	ft_log("writedata: %zu bytes with %zu bytes of remote CQ data: target completion "
	       "flags %#" PRIx64 "%s", len, bytes, (uint64_t)c.e.flags,
	       rx_buf ? " (FI_RX_CQ_DATA: consumed a receive)" : "");
}

/* An RMA that must fail at the initiator, touching nothing. */
static void bad_rma(struct rma *r, bool write, uint64_t addr, size_t len, uint64_t key,
		    const char *what)
{
	struct ft_op op = { .what = what };
	struct ft_comp c;
	ssize_t ret;

	ft_fill(r->l, len, 6666, 0);
	memset(r->l + len, LBYTE, GUARD);
	if (write)
		ret = fi_write(r->p.ep[0].ep, r->l, len, r->ldesc, r->p.peer[0], addr, key, &op);
	else
		ret = fi_read(r->p.ep[0].ep, r->l, len, r->ldesc, r->p.peer[0], addr, key, &op);
	if (ret) {
		ft_check(ret < 0 && ret != -FI_EAGAIN, "%s: posting returned %zd", what, ret);
		ft_log("errors: %s: refused when posted: %s", what, ft_strerr(ret));
	} else {
		if (ft_wait(&r->p.ep[0].cq, &c))
			ft_fatal("%s: no completion", what);
		ft_check(c.e.op_context == &op, "%s: completion of another operation", what);
		ft_check(c.err > 0, "%s: completed without error", what);
		if (c.err > 0)
			ft_log("errors: %s: error completion %d (%s): \"%s\"", what, c.err,
			       fi_strerror(c.err), c.errstr);
	}
	/* Nothing moved either way. */
	ft_expect_bytes(r->t - GUARD, 2 * GUARD + 8192, TBYTE, what);
	if (!write)
		ft_expect_pattern(r->l, len, 6666, 0, what);
	ops++;
}

static void test_errors(struct rma *r)
{
	if (ft_known_issue(&r->p.dom[0], "rma-errors"))
		return;
	bad_rma(r, true, r->tbase, 100, r->tkey ^ 0x5a5a0000a5a5ULL, "fi_write with a wrong key");
	bad_rma(r, false, r->tbase, 100, r->tkey ^ 0x5a5a0000a5a5ULL, "fi_read with a wrong key");
	bad_rma(r, true, r->tbase + r->tlen - 50, 100, r->tkey, "fi_write past the MR's end");
	bad_rma(r, false, r->tbase + r->tlen - 50, 100, r->tkey, "fi_read past the MR's end");
	bad_rma(r, true, r->robase, 100, r->rokey, "fi_write to a FI_REMOTE_READ-only MR");
	ft_expect_pattern(r->ro, 4096, 31337, 0, "the read-only MR");
	/* Still working. */
	do_write(r, 0, 4096, 0);
	do_read(r, 3, 5000, 1);
}

int main(int argc, char **argv)
{
	struct rma r;

	ft_parse(argc, argv, "sM:", "[-s] [-M MAX_SIZE]\n"
		 "  -s           both endpoints in one domain (default: two domains)\n"
		 "  -M BYTES     largest transfer (default 4 MiB)", opt);
	memset(&r, 0, sizeof(r));
	rma_open(&r);
	test_write_read(&r);
	test_vectors(&r);
	test_inject(&r);
	test_writedata(&r);
	test_errors(&r);
	rma_close(&r);
	return ft_finish("%" PRIu64 " operations, %" PRIu64 " bytes verified (%s)", ops,
			 bytes_verified, one_domain ? "one domain" : "two domains");
}
