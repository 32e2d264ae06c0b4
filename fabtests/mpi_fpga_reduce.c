// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mpi_fpga_reduce: every MPI rank reads its node's FPGA through libfabric
 * (the fpgadma provider) and the ranks combine what they read with MPI
 * collectives across the nodes, every result checked.
 *
 * The ranks of a node (MPI_Comm_split_type MPI_COMM_TYPE_SHARED) share
 * that node's FPGA.  Each rank opens it as an application does (fi_getinfo
 * for FI_EP_RDM with FI_RMA on provider -p, default fpgadma; the FPGA's
 * address from the provider's query_fpga, rdma/fi_ext_fpgadma.h).  In
 * each of N rounds (-n) every rank
 *   1. writes S bytes (-s) of a pattern of its own (node, local rank,
 *      round) into its slice of the FPGA's memory (fi_write, key mem_key),
 *   2. waits for the other ranks of its node (MPI_Barrier),
 *   3. reads the slice ANOTHER rank of its node wrote (fi_read), so that
 *      what it holds came through the FPGA, and checks it word by word
 *      against that rank's pattern, computed here,
 * and then the ranks of all nodes combine what they read:
 *   MPI_Allreduce  the words element-wise (MPI_SUM of uint64)
 *   MPI_Allgather  each rank's digest of what it read, with its node and
 *                  the local rank whose slice it read
 *   MPI_Reduce     the words element-wise (MPI_BXOR) to a root that moves
 *                  each round
 *   MPI_Bcast      the words one rank read, from another moving root
 * and every rank checks each result against what it computes itself from
 * the patterns: a sum over all ranks' patterns (the slices read are a
 * permutation of those written on each node), each rank's digest, the XOR,
 * the root's pattern.  Rounds alternate between two halves of the FPGA's
 * memory, so a rank writing round r+1 never overwrites a slice another
 * rank may still be reading in round r (one barrier a round suffices).
 *
 * Where the ranks ran: MPI_Allgather of each rank's processor name
 * (MPI_Get_processor_name), node and local rank; the ranks of a node must
 * share a name that no other node has.  -N NODES and -R RANKS assert the
 * layout (the two-node check runs -N 2 -R 2: the job spanned both nodes,
 * two ranks each).  -o DIR: each rank writes its verdict to DIR/rank-R (a
 * line "PASS rank R on HOST ..." or "FAIL ..."), so that a node can check
 * that its own ranks ran and passed (tests/vm/twonode-mpi.sh).
 *
 * How MPI moves the data between the nodes (tcp, or an ofi provider) is
 * the launcher's choice; this program's own libfabric use is only the
 * FPGA.  Rank 0 prints "PASS: mpi_fpga_reduce: ..." with the figures, or
 * FAIL lines; every rank exits 0 (pass), 77 (skip: no fpgadma provider or
 * FPGA memory on some node, every rank skips) or 1 (fail).
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <mpi.h>

#include <rdma/fi_ext_fpgadma.h>

#define NAME_LEN 64

static size_t slice = 256 << 10;	/* -s: bytes each rank writes and reads a round */
static unsigned int rounds = 4;		/* -n */
static int want_nodes, want_per_node;	/* -N, -R (0: not checked) */
static const char *out_dir;		/* -o */

static int rank, size, lrank, lsize, node, nnodes;
static MPI_Comm node_comm;

/* Where every rank runs (MPI_Allgather). */
struct where {
	int node, lrank, lsize, pad;
	char host[NAME_LEN];
};
static struct where *all;

static struct ft_dom dom;
static struct ft_ep ep;
static struct fi_fpgadma_fpga fpga;
static fi_addr_t fpga_addr;
static uint64_t *wbuf, *rbuf, *tmp, *expect;
static struct fid_mr *wmr, *rmr;

static uint64_t fpga_bytes_read, fpga_bytes_written, words_checked;
static unsigned int collectives;

static int opt(int c, const char *arg)
{
	char *end;
	unsigned long long v;

	if (c == 'o') {
		out_dir = arg;
		return 0;
	}
	v = strtoull(arg, &end, 0);
	if (!*arg || *end)
		return -1;
	switch (c) {
	case 's':
		if (!v || v % 8)
			return -1;
		slice = (size_t)v;
		return 0;
	case 'n':
		rounds = (unsigned int)v;
		return rounds ? 0 : -1;
	case 'N':
		want_nodes = (int)v;
		return 0;
	case 'R':
		want_per_node = (int)v;
		return 0;
	}
	return -1;
}

/* Word j of the pattern of (node n, local rank l, round r): node-dependent. */
static uint64_t pat(int n, int l, unsigned int r, size_t j)
{
	uint64_t x = ((uint64_t)(n + 1) << 48) ^ ((uint64_t)(l + 1) << 32) ^
		     ((uint64_t)r << 20) ^ (uint64_t)j;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Digest of a buffer of words (order-sensitive). */
static uint64_t digest(const uint64_t *w, size_t nw)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t j;

	for (j = 0; j < nw; j++)
		h = (h ^ w[j]) * 0x100000001b3ULL + j;
	return h;
}

/* The local rank whose slice local rank l reads in round r: never itself
 * when the node has more than one rank. */
static int partner(int l, int ls, unsigned int r)
{
	if (ls < 2)
		return l;
	return (int)((l + 1 + r % (unsigned int)(ls - 1)) % (unsigned int)ls);
}

/* Compare nw words with the expected ones; report the first difference. */
static void expect_words(const uint64_t *got, const uint64_t *want, size_t nw, const char *what,
			 unsigned int r)
{
	size_t j;

	for (j = 0; j < nw; j++) {
		if (got[j] != want[j]) {
			ft_error("rank %d round %u: %s: word %zu of %zu is %#" PRIx64 ", expected %#"
				 PRIx64, rank, r, what, j, nw, got[j], want[j]);
			return;
		}
	}
	words_checked += nw;
}

static void rma(bool write, void *buf, void *desc, uint64_t off, const char *what)
{
	struct ft_op op = { .what = what };

	if (write)
		FT_POST(fi_write(ep.ep, buf, slice, desc, fpga_addr, fpga.mem_base + off,
				 fpga.mem_key, &op));
	else
		FT_POST(fi_read(ep.ep, buf, slice, desc, fpga_addr, fpga.mem_base + off,
				fpga.mem_key, &op));
	ft_wait_op(&ep.cq, &op, NULL);
}

/* Where the ranks run: one name per node, -N and -R as asked. */
static void check_layout(void)
{
	struct where me = { .node = node, .lrank = lrank, .lsize = lsize };
	char name[MPI_MAX_PROCESSOR_NAME];
	struct utsname u;
	int len = 0, i, k, count;

	MPI_Get_processor_name(name, &len);
	memcpy(me.host, name, FT_MIN((size_t)len, sizeof(me.host) - 1));
	if (uname(&u) == 0)
		ft_check(!strcmp(u.nodename, name), "rank %d: MPI_Get_processor_name \"%s\", uname's nodename \"%s\"", rank,
			 name, u.nodename);
	all = ft_xmalloc(sizeof(*all) * (size_t)size);
	MPI_Allgather(&me, (int)sizeof(me), MPI_BYTE, all, (int)sizeof(me), MPI_BYTE, MPI_COMM_WORLD);
	collectives++;
	ft_check(!memcmp(&all[rank], &me, sizeof(me)), "rank %d: MPI_Allgather: its own entry differs",
		 rank);
	for (i = 0; i < size; i++) {
		for (k = 0; k < size; k++) {
			bool same_node = all[i].node == all[k].node;
			bool same_host = !strcmp(all[i].host, all[k].host);

			ft_check(same_node == same_host, "ranks %d (node %d, %s) and %d (node %d, %s): "
				 "%s", i, all[i].node, all[i].host, k, all[k].node, all[k].host,
				 same_node ? "one node, two names" : "two nodes of one name");
		}
		ft_check(all[i].node >= 0 && all[i].node < nnodes && all[i].lrank < all[i].lsize,
			 "rank %d: node %d of %d, local rank %d of %d", i, all[i].node, nnodes,
			 all[i].lrank, all[i].lsize);
	}
	for (i = 0; i < nnodes; i++) {
		count = 0;
		for (k = 0; k < size; k++)
			count += all[k].node == i;
		for (k = 0; k < size; k++)
			if (all[k].node == i)
				ft_check(all[k].lsize == count, "node %d: %d ranks, rank %d says %d",
					 i, count, k, all[k].lsize);
		if (want_per_node)
			ft_check(count == want_per_node, "node %d: %d ranks, expected %d", i, count,
				 want_per_node);
	}
	if (want_nodes)
		ft_check(nnodes == want_nodes, "the job spans %d nodes, expected %d", nnodes,
			 want_nodes);
}

/* Open the FPGA; 0, or why not (every rank must agree before going on). */
static const char *open_fpga(void)
{
	struct fi_info *hints;
	const char *why = NULL;
	int ret;

	hints = ft_hints(FI_RMA | FI_READ | FI_WRITE, FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
			 FI_MR_PROV_KEY | FI_MR_ENDPOINT | FI_MR_LOCAL);
	if (ft_open_dom(hints, &dom, &why))
		return "fi_getinfo found no fpgadma provider with FI_RMA on FI_EP_RDM";
	ft_query_fpga(&dom, &fpga);
	if (!fpga.mem_size)
		return "the FPGA has no on-board memory";
	if (2 * (uint64_t)lsize * slice > fpga.mem_size)
		return "the FPGA's memory is smaller than two slices per local rank (-s)";
	ft_open_ep(&dom, &ep, "ep");
	fpga_addr = ft_av_insert(&dom, fpga.addr);
	wbuf = ft_xmalloc(slice);
	rbuf = ft_xmalloc(slice);
	ret = ft_mr_reg(&dom, &ep, wbuf, slice, FI_WRITE | FI_READ, 0, &wmr);
	if (!ret)
		ret = ft_mr_reg(&dom, &ep, rbuf, slice, FI_WRITE | FI_READ, 0, &rmr);
	if (ret)
		ft_fatal("rank %d: fi_mr_reg of %zu bytes: %s", rank, slice, ft_strerr(ret));
	return NULL;
}

static void one_round(unsigned int r)
{
	size_t nw = slice / 8, j;
	uint64_t half = (r % 2) * (uint64_t)lsize * slice;
	int p = partner(lrank, lsize, r), i, root;
	uint64_t *dg = ft_xmalloc(sizeof(uint64_t) * 3 * (size_t)size), mine[3];

	/* 1. our pattern into our slice of the FPGA */
	for (j = 0; j < nw; j++)
		wbuf[j] = pat(node, lrank, r, j);
	rma(true, wbuf, fi_mr_desc(wmr), half + (uint64_t)lrank * slice, "fi_write of the slice");
	fpga_bytes_written += slice;
	/* 2. every rank of the node wrote */
	MPI_Barrier(node_comm);
	/* 3. another rank's slice, through the FPGA */
	memset(rbuf, 0, slice);
	rma(false, rbuf, fi_mr_desc(rmr), half + (uint64_t)p * slice, "fi_read of another rank's slice");
	fpga_bytes_read += slice;
	for (j = 0; j < nw; j++)
		expect[j] = pat(node, p, r, j);
	expect_words(rbuf, expect, nw, "fi_read of the slice another rank of its node wrote", r);

	/* MPI_Allreduce, MPI_SUM: the sum of every rank's pattern */
	MPI_Allreduce(rbuf, tmp, (int)nw, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
	collectives++;
	memset(expect, 0, slice);
	for (i = 0; i < size; i++)
		for (j = 0; j < nw; j++)
			expect[j] += pat(all[i].node, all[i].lrank, r, j);
	expect_words(tmp, expect, nw, "MPI_Allreduce (MPI_SUM) of what every rank read", r);

	/* MPI_Allgather of the digests, with node and the slice read */
	mine[0] = digest(rbuf, nw);
	mine[1] = (uint64_t)node;
	mine[2] = (uint64_t)p;
	MPI_Allgather(mine, 3, MPI_UINT64_T, dg, 3, MPI_UINT64_T, MPI_COMM_WORLD);
	collectives++;
	for (i = 0; i < size; i++) {
		int q = partner(all[i].lrank, all[i].lsize, r);

		for (j = 0; j < nw; j++)
			tmp[j] = pat(all[i].node, q, r, j);
		ft_check(dg[3 * i] == digest(tmp, nw) && dg[3 * i + 1] == (uint64_t)all[i].node &&
			 dg[3 * i + 2] == (uint64_t)q,
			 "rank %d round %u: MPI_Allgather: rank %d (node %d) reports digest %#" PRIx64
			 " of node %" PRIu64 "'s local rank %" PRIu64 ", expected %#" PRIx64
			 " of local rank %d", rank, r, i, all[i].node, dg[3 * i], dg[3 * i + 1],
			 dg[3 * i + 2], digest(tmp, nw), q);
	}
	free(dg);

	/* MPI_Reduce, MPI_BXOR, to a root that moves each round */
	root = (int)(r % (unsigned int)size);
	MPI_Reduce(rbuf, tmp, (int)nw, MPI_UINT64_T, MPI_BXOR, root, MPI_COMM_WORLD);
	collectives++;
	if (rank == root) {
		memset(expect, 0, slice);
		for (i = 0; i < size; i++)
			for (j = 0; j < nw; j++)
				expect[j] ^= pat(all[i].node, all[i].lrank, r, j);
		expect_words(tmp, expect, nw, "MPI_Reduce (MPI_BXOR) at its root", r);
	}

	/* MPI_Bcast of what one rank read, from another moving root */
	root = size - 1 - (int)(r % (unsigned int)size);
	if (rank == root)
		memcpy(tmp, rbuf, slice);
	else
		memset(tmp, 0, slice);
	MPI_Bcast(tmp, (int)nw, MPI_UINT64_T, root, MPI_COMM_WORLD);
	collectives++;
	p = partner(all[root].lrank, all[root].lsize, r);
	for (j = 0; j < nw; j++)
		expect[j] = pat(all[root].node, p, r, j);
	expect_words(tmp, expect, nw, "MPI_Bcast of what its root read", r);
}

/* -o DIR: this rank's verdict in DIR/rank-R. */
static void write_verdict(bool pass)
{
	char path[4096];
	FILE *f;

	if (!out_dir)
		return;
	if (mkdir(out_dir, 0755) && errno != EEXIST)
		ft_error("rank %d: mkdir %s: %s", rank, out_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/rank-%d", out_dir, rank);
	f = fopen(path, "w");
	if (!f) {
		ft_error("rank %d: %s: %s", rank, path, strerror(errno));
		return;
	}
	fprintf(f, "%s rank %d on %s: node %d local rank %d of %d, %" PRIu64 " bytes read from "
		"the FPGA, %" PRIu64 " words checked, %u collectives\n", pass ? "PASS" : "FAIL",
		rank, all[rank].host, node, lrank, lsize, fpga_bytes_read, words_checked,
		collectives);
	fclose(f);
}

int main(int argc, char **argv)
{
	MPI_Comm leaders;
	const char *why;
	int ok, all_ok, fails, total_fails, i;
	unsigned int r;
	uint64_t t0, sums[2], tot[2];
	double secs;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	ft_parse(argc, argv, "s:n:N:R:o:",
		 "[-s BYTES] [-n ROUNDS] [-N NODES] [-R RANKS] [-o DIR]\n"
		 "  -s BYTES     each rank's slice of FPGA memory (default 262144, a multiple of 8)\n"
		 "  -n ROUNDS    rounds (default 4)\n"
		 "  -N NODES     the job must span NODES nodes\n"
		 "  -R RANKS     with RANKS ranks on each\n"
		 "  -o DIR       each rank's verdict in DIR/rank-R", opt);
	ft_default_prov("fpgadma");

	/* the node: its ranks, its index (the order of their lowest ranks) */
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_comm);
	MPI_Comm_rank(node_comm, &lrank);
	MPI_Comm_size(node_comm, &lsize);
	MPI_Comm_split(MPI_COMM_WORLD, lrank ? MPI_UNDEFINED : 0, rank, &leaders);
	if (!lrank) {
		MPI_Comm_rank(leaders, &node);
		MPI_Comm_size(leaders, &nnodes);
		MPI_Comm_free(&leaders);
	}
	MPI_Bcast(&node, 1, MPI_INT, 0, node_comm);
	MPI_Bcast(&nnodes, 1, MPI_INT, 0, node_comm);
	check_layout();

	why = open_fpga();
	ok = !why;
	MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	if (!all_ok) {
		if (why)
			printf("rank %d on %s: %s\n", rank, all[rank].host, why);
		MPI_Finalize();
		if (!rank)
			ft_skip("a rank could not use its node's FPGA through libfabric (its line "
				"above says why)");
		return FT_SKIP;
	}
	if (!rank)
		ft_describe(&dom);
	tmp = ft_xmalloc(slice);
	expect = ft_xmalloc(slice);

	MPI_Barrier(MPI_COMM_WORLD);
	t0 = ft_now_us();
	for (r = 0; r < rounds; r++)
		one_round(r);
	secs = (double)(ft_now_us() - t0) / 1e6;

	/* every rank's own line, in rank order through rank 0's output */
	for (i = 0; i < size; i++) {
		if (i == rank)
			printf("rank %d on %s (node %d, local rank %d of %d, /dev/fpgadma%u): %" PRIu64
			       " bytes written to and %" PRIu64 " read from its node's FPGA, %"
			       PRIu64 " words checked, %u failed checks\n", rank, all[rank].host,
			       node, lrank, lsize, fpga.dev_index, fpga_bytes_written,
			       fpga_bytes_read, words_checked, ft_failures());
		fflush(stdout);
		MPI_Barrier(MPI_COMM_WORLD);
	}
	fails = (int)ft_failures();
	MPI_Allreduce(&fails, &total_fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	sums[0] = fpga_bytes_read;
	sums[1] = words_checked;
	MPI_Reduce(sums, tot, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
	write_verdict(!total_fails && !ft_failures());

	ft_close_fid(&wmr->fid, "mr");
	ft_close_fid(&rmr->fid, "mr");
	ft_close_ep(&ep);
	ft_close_dom(&dom);
	MPI_Finalize();
	if (total_fails) {
		if (!fails)
			printf("FAIL: rank %d: %d checks failed on other ranks\n", rank, total_fails);
		return FT_FAIL;
	}
	if (rank)
		return FT_PASS;
	{
		char hosts[512] = "";
		size_t used = 0;
		int n, k, count;

		for (n = 0; n < nnodes; n++) {
			for (k = 0, count = 0; k < size; k++)
				count += all[k].node == n;
			for (k = 0; k < size && all[k].node != n; k++)
				;
			used += (size_t)snprintf(hosts + used, sizeof(hosts) - FT_MIN(used, sizeof(hosts)),
						 "%s%s %d", n ? ", " : "", k < size ? all[k].host : "?",
						 count);
			if (used >= sizeof(hosts))
				break;
		}
		return ft_finish("%d ranks on %d nodes (%s), %" PRIu64 " bytes read from the FPGAs "
				 "through fpgadma (each rank's slice written by another rank of its "
				 "node), %u rounds of %zu bytes a rank, %u collectives (MPI_Allreduce, "
				 "MPI_Allgather, MPI_Reduce, MPI_Bcast) checked, %" PRIu64
				 " words checked, %.2f s", size, nnodes, hosts, tot[0], rounds,
				 slice, collectives, tot[1], secs);
	}
}
