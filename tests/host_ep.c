// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep: host endpoints, the device as a NIC in loopback.
 *  1. Every context has its own non-zero ep_id.
 *  2. RDMA_WRITE and RDMA_READ between two contexts' MRs by rkey, at a
 *     virtual address and at an offset (FPGADMA_WR_F_REMOTE_OFFSET), every
 *     byte checked and the bytes around the target untouched.
 *  3. RDMA errors complete with REM_ACCESS_ERR and touch nothing: a wrong
 *     rkey, a deregistered one, a peer MR without the right, a range before
 *     or past the peer MR.  RDMA_READ into a read-only MR: LOC_ACCESS_ERR.
 *  4. SEND into posted RECVs: scattered pieces on both sides, messages in
 *     post order, the RECV's CQE with byte_len and the sender's ep_id; RNR
 *     without a RECV; a SEND longer than the RECV; a SEND to no endpoint.
 *  5. A RECV holding an MR is flushed when the MR is deregistered, and when
 *     its context closes; SENDs to a closed endpoint find none.
 *  6. Another process: a child registers an MR for remote writes and hands
 *     its rkey, address and ep_id over a pipe; the parent writes into it and
 *     sends to it; once the child has exited its rkey and ep_id are dead.
 *  7. Requested rkeys: honoured, EEXIST when taken (nothing pinned), EINVAL
 *     for key 0.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) every host
 * endpoint opcode must be refused with EOPNOTSUPP at post time instead.
 */
#include "helpers.h"

#include <sys/wait.h>

static struct t_dev a, b;
static unsigned int checks;

static struct fpgadma_cqe run(struct t_dev *d, const struct fpgadma_wr *wr)
{
	struct fpgadma_cqe c;

	CHECK_OK(fpgadma_post(d->ctx, wr, 1));
	t_get_cqes(d->ctx, &c, 1);
	CHECK_EQ(c.wr_id, wr->wr_id);
	checks++;
	return c;
}

static struct fpgadma_wr rdma(uint32_t opcode, uint32_t rkey, uint64_t raddr,
			      uint32_t flags, const struct fpgadma_sge *sg, unsigned int n)
{
	static uint64_t id = 1;

	return (struct fpgadma_wr){ .wr_id = id++, .opcode = opcode, .flags = flags,
				    .dev_addr = raddr, .rkey = rkey,
				    .sg_list = (uintptr_t)sg, .num_sge = n };
}

static void not_supported(void)
{
	uint8_t *buf = t_map(4096);
	struct fpgadma_mr *mr = t_reg(&a, buf, 4096, FPGADMA_ACCESS_ALL);
	struct fpgadma_sge sg = t_sge(mr, buf, 64);
	static const uint32_t ops[] = { FPGADMA_WR_RDMA_WRITE, FPGADMA_WR_RDMA_READ,
					FPGADMA_WR_SEND, FPGADMA_WR_RECV };
	unsigned int i;

	CHECK_EQ(a.attr.caps & FPGADMA_CAP_HOST_EP, 0);
	for (i = 0; i < T_ARRAY_SIZE(ops); i++) {
		struct fpgadma_wr w = { .wr_id = i, .opcode = ops[i],
					.sg_list = (uintptr_t)&sg, .num_sge = 1 };

		if (ops[i] == FPGADMA_WR_SEND)
			w.dest = a.attr.ep_id;
		if (ops[i] == FPGADMA_WR_RDMA_WRITE || ops[i] == FPGADMA_WR_RDMA_READ)
			w.rkey = mr->rkey;
		CHECK_RET(fpgadma_post(a.ctx, &w, 1), -EOPNOTSUPP);
	}
	t_expect_no_cqe(a.ctx, 100);
	t_dereg(mr);
	t_unmap(buf, 4096);
	t_log("%s engine: 4 host-endpoint opcodes refused with EOPNOTSUPP, no CQE",
	      t_engine_name(a.attr.engine));
}

/* 2 and 3: one-sided work between a's and b's MRs. */
static void rdma_between(void)
{
	const size_t len = 256 * 1024 + 123, pad = 4096;
	uint8_t *src = t_map(len), *dst = t_map(len + 2 * pad), *ro = t_map(len);
	struct fpgadma_mr *msrc = t_reg(&a, src, len, FPGADMA_ACCESS_LOCAL_WRITE);
	struct fpgadma_mr *mdst = t_reg(&b, dst, len + 2 * pad, FPGADMA_ACCESS_ALL);
	struct fpgadma_mr *mnoright = t_reg(&b, ro, len, FPGADMA_ACCESS_LOCAL_WRITE);
	struct fpgadma_mr *mro = t_reg(&a, ro, len, 0);
	struct fpgadma_sge sg[3];
	struct fpgadma_wr w;
	struct fpgadma_cqe c;
	uint32_t dead;

	t_fill(src, len, 11, 0);
	memset(dst, 0xa5, len + 2 * pad);
	/* Three pieces of odd sizes into b's MR at a virtual address. */
	sg[0] = t_sge(msrc, src, 1000);
	sg[1] = t_sge(msrc, src + 1000, 70001);
	sg[2] = t_sge(msrc, src + 71001, (uint32_t)(len - 71001));
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst + pad, 0, sg, 3);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, len);
	CHECK_EQ(t_verify(dst + pad, len, 11, 0, "RDMA_WRITE target"), 0);
	CHECK_EQ(t_verify_byte(dst, pad, 0xa5, "before the target"), 0);
	CHECK_EQ(t_verify_byte(dst + pad + len, pad, 0xa5, "after the target"), 0);

	/* Read it back at an offset, into a's buffer cleared first. */
	memset(src, 0, len);
	sg[0] = t_sge(msrc, src, (uint32_t)len);
	w = rdma(FPGADMA_WR_RDMA_READ, mdst->rkey, pad, FPGADMA_WR_F_REMOTE_OFFSET, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_READ, FPGADMA_WC_SUCCESS, len);
	CHECK_EQ(t_verify(src, len, 11, 0, "RDMA_READ result"), 0);

	/* Errors: nothing moves. */
	memset(dst, 0xa5, len + 2 * pad);
	t_fill(src, len, 12, 0);
	sg[0] = t_sge(msrc, src, 4096);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey ^ 0x5a5a5a5a, (uintptr_t)dst, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mnoright->rkey, (uintptr_t)ro, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	w = rdma(FPGADMA_WR_RDMA_READ, mnoright->rkey, (uintptr_t)ro, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_READ, FPGADMA_WC_REM_ACCESS_ERR, 0);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst - 1, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst + len + 2 * pad - 4095, 0,
		 sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey, len + 2 * pad - 4095,
		 FPGADMA_WR_F_REMOTE_OFFSET, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey, ~0ULL - 100, FPGADMA_WR_F_REMOTE_OFFSET,
		 sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	CHECK_EQ(t_verify_byte(dst, len + 2 * pad, 0xa5, "target after failed RDMA"), 0);
	/* The last byte exactly fits. */
	sg[0] = t_sge(msrc, src, 1);
	w = rdma(FPGADMA_WR_RDMA_WRITE, mdst->rkey, (uintptr_t)dst + len + 2 * pad - 1, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, 1);
	CHECK_EQ(dst[len + 2 * pad - 1], src[0]);
	/* Reading into a read-only MR of our own. */
	sg[0] = t_sge(mro, ro, 64);
	w = rdma(FPGADMA_WR_RDMA_READ, mdst->rkey, (uintptr_t)dst, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_READ, FPGADMA_WC_LOC_ACCESS_ERR, 0);
	/* A deregistered rkey. */
	dead = mdst->rkey;
	t_dereg(mdst);
	sg[0] = t_sge(msrc, src, 64);
	w = rdma(FPGADMA_WR_RDMA_WRITE, dead, (uintptr_t)dst, 0, sg, 1);
	c = run(&a, &w);
	CHECK_CQE(&c, w.wr_id, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	CHECK_EQ(t_verify_byte(dst, len + 2 * pad - 1, 0xa5, "target of a dead rkey"), 0);

	t_dereg(mro);
	t_dereg(mnoright);
	t_dereg(msrc);
	t_unmap(src, len);
	t_unmap(dst, len + 2 * pad);
	t_unmap(ro, len);
	t_log("RDMA: %zu bytes written and read back between two contexts; 9 bad requests "
	      "completed with errors, the target unchanged", len);
}

static void post_recv(struct t_dev *d, uint64_t wr_id, const struct fpgadma_sge *sg,
		      unsigned int n)
{
	CHECK_OK(fpgadma_post_recv(d->ctx, wr_id, sg, n));
}

/* 4 and 5: two-sided. */
static void send_recv(void)
{
	const unsigned int nmsg = 64;
	const size_t msg = 3000, big = nmsg * msg;
	uint8_t *sbuf = t_map(big), *rbuf = t_map(big + 4096);
	struct fpgadma_mr *ms = t_reg(&a, sbuf, big, 0);
	struct fpgadma_mr *mr = t_reg(&b, rbuf, big + 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	struct fpgadma_cqe cq[64], c;
	struct fpgadma_sge sg[2];
	unsigned int i;

	t_fill(sbuf, big, 21, 0);
	memset(rbuf, 0, big + 4096);
	/* nmsg RECVs of two pieces each, then nmsg SENDs in one batch. */
	for (i = 0; i < nmsg; i++) {
		sg[0] = t_sge(mr, rbuf + i * msg, 1000);
		sg[1] = t_sge(mr, rbuf + i * msg + 1000, (uint32_t)(msg - 1000));
		post_recv(&b, 100 + i, sg, 2);
	}
	t_expect_no_cqe(b.ctx, 50);
	for (i = 0; i < nmsg; i++) {
		sg[0] = t_sge(ms, sbuf + i * msg, (uint32_t)(msg - 7));
		CHECK_OK(fpgadma_post_send(a.ctx, 200 + i, b.attr.ep_id, sg, 1));
	}
	t_get_cqes(a.ctx, cq, (int)nmsg);
	for (i = 0; i < nmsg; i++)
		CHECK_CQE(&cq[i], 200 + i, FPGADMA_WR_SEND, FPGADMA_WC_SUCCESS, msg - 7);
	t_get_cqes(b.ctx, cq, (int)nmsg);
	for (i = 0; i < nmsg; i++) {
		CHECK_CQE(&cq[i], 100 + i, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, msg - 7);
		CHECK_EQ(cq[i].src_ep, a.attr.ep_id);
		CHECK_EQ(t_verify(rbuf + i * msg, msg - 7, 21, i * msg, "message"), 0);
		CHECK_EQ(t_verify_byte(rbuf + i * msg + msg - 7, 7, 0, "after a message"), 0);
	}
	checks += 2 * nmsg;

	/* No RECV: RNR.  No endpoint: REM_INV_REQ. */
	sg[0] = t_sge(ms, sbuf, 10);
	CHECK_OK(fpgadma_post_send(a.ctx, 300, b.attr.ep_id, sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 300, FPGADMA_WR_SEND, FPGADMA_WC_RNR_ERR, 0);
	CHECK_OK(fpgadma_post_send(a.ctx, 301, 0x7ffffff0, sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 301, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	/* Longer than the RECV: both fail, the buffer untouched. */
	memset(rbuf, 0x5c, big);
	sg[0] = t_sge(mr, rbuf, 100);
	post_recv(&b, 302, sg, 1);
	sg[0] = t_sge(ms, sbuf, 101);
	CHECK_OK(fpgadma_post_send(a.ctx, 303, b.attr.ep_id, sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 303, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 302, FPGADMA_WR_RECV, FPGADMA_WC_LOC_LEN_ERR, 0);
	CHECK_EQ(t_verify_byte(rbuf, 200, 0x5c, "RECV of a too long SEND"), 0);
	/* A zero-byte message. */
	post_recv(&b, 304, sg, 0);
	CHECK_OK(fpgadma_post_send(a.ctx, 305, b.attr.ep_id, NULL, 0));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 305, FPGADMA_WR_SEND, FPGADMA_WC_SUCCESS, 0);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 304, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, 0);
	CHECK_EQ(c.src_ep, a.attr.ep_id);
	checks += 5;

	/* A posted RECV is flushed by deregistering its MR. */
	sg[0] = t_sge(mr, rbuf, 100);
	post_recv(&b, 306, sg, 1);
	t_dereg(mr);
	t_get_cqes(b.ctx, &c, 1);
	CHECK_CQE(&c, 306, FPGADMA_WR_RECV, FPGADMA_WC_FLUSH_ERR, 0);
	checks++;

	t_dereg(ms);
	t_unmap(sbuf, big);
	t_unmap(rbuf, big + 4096);
	t_log("SEND/RECV: %u messages of %zu bytes in order with the sender's ep_id; RNR, "
	      "no endpoint, too long, 0 bytes and a flush by deregistration as specified",
	      nmsg, msg - 7);
}

/* 5: closing a context with RECVs posted; its ep_id is then dead. */
static void close_with_recvs(void)
{
	struct t_dev c3;
	uint8_t *buf = t_map(65536);
	struct fpgadma_mr *m, *ms;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	uint64_t t0;
	uint32_t ep;
	unsigned int i;
	struct t_snap before;

	t_snap_take(&before);
	t_open(&c3);
	ep = c3.attr.ep_id;
	CHECK(ep != a.attr.ep_id && ep != b.attr.ep_id);
	m = t_reg(&c3, buf, 65536, FPGADMA_ACCESS_LOCAL_WRITE);
	for (i = 0; i < 16; i++) {
		sg = t_sge(m, buf + i * 4096, 4096);
		post_recv(&c3, i, &sg, 1);
	}
	/* With the MR still registered: must not wait for SENDs that never come. */
	t0 = t_now_ms();
	CHECK_OK(fpgadma_close(c3.ctx));
	CHECK_LT(t_now_ms() - t0, 5000);
	CHECK_SNAP(&before, 0, 0, "after closing with 16 RECVs posted");
	ms = t_reg(&a, buf, 64, 0);
	sg = t_sge(ms, buf, 64);
	CHECK_OK(fpgadma_post_send(a.ctx, 400, ep, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 400, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_dereg(ms);
	t_unmap(buf, 65536);
	checks += 2;
	t_log("closed a context with 16 RECVs posted: nothing left pinned; its ep_id %u is dead",
	      ep);
}

struct handoff {
	uint64_t addr;
	uint32_t rkey;
	uint32_t ep_id;
};

/* 6: another process's MR, reached only through what it handed over. */
static void other_process(void)
{
	const size_t len = 1 << 20;
	int to_parent[2], to_child[2];
	struct handoff h;
	uint8_t *src = t_map(len);
	struct fpgadma_mr *ms = t_reg(&a, src, len, 0);
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	char go;
	pid_t pid;
	int st;

	CHECK_SYS(pipe(to_parent));
	CHECK_SYS(pipe(to_child));
	t_fill(src, len, 31, 0);
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		struct t_dev cd;
		uint8_t *buf = t_map(len), *msg = t_map(4096);
		struct fpgadma_mr *m, *mm;
		struct fpgadma_sge rs;

		t_open(&cd);
		memset(buf, 0, len);
		m = t_reg(&cd, buf, len, FPGADMA_ACCESS_REMOTE_WRITE | FPGADMA_ACCESS_LOCAL_WRITE);
		mm = t_reg(&cd, msg, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
		rs = t_sge(mm, msg, 4096);
		CHECK_OK(fpgadma_post_recv(cd.ctx, 1, &rs, 1));
		h = (struct handoff){ (uintptr_t)buf, m->rkey, cd.attr.ep_id };
		CHECK_EQ(write(to_parent[1], &h, sizeof(h)), (ssize_t)sizeof(h));
		t_get_cqes(cd.ctx, &c, 1);	/* the parent's SEND after its write */
		CHECK_CQE(&c, 1, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, 100);
		CHECK_EQ(c.src_ep, a.attr.ep_id);
		CHECK_EQ(t_verify(msg, 100, 31, 0, "child's message"), 0);
		CHECK_EQ(t_verify(buf, len, 31, 0, "child's MR"), 0);
		CHECK_EQ(read(to_child[0], &go, 1), 1);
		_exit(0);	/* the MR and the endpoint die with the process */
	}
	CHECK_EQ(read(to_parent[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	sg = t_sge(ms, src, (uint32_t)len);
	CHECK_OK(fpgadma_post_rdma_write(a.ctx, 500, h.rkey, h.addr, 0, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 500, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_SUCCESS, len);
	sg = t_sge(ms, src, 100);
	CHECK_OK(fpgadma_post_send(a.ctx, 501, h.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 501, FPGADMA_WR_SEND, FPGADMA_WC_SUCCESS, 100);
	CHECK_EQ(write(to_child[1], "x", 1), 1);
	st = t_wait_child(pid, 60000);
	CHECK_CHILD_OK(st);
	/* Its rkey and endpoint are gone with it. */
	sg = t_sge(ms, src, 64);
	CHECK_OK(fpgadma_post_rdma_write(a.ctx, 502, h.rkey, h.addr, 0, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 502, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	CHECK_OK(fpgadma_post_send(a.ctx, 503, h.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 503, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_dereg(ms);
	t_unmap(src, len);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
	checks += 4;
	t_log("another process: 1 MiB written into its MR and a message sent, both verified "
	      "there; after its exit its rkey and ep_id fail");
}

/* 7: rkeys the caller asks for. */
static void requested_rkeys(void)
{
	uint8_t *buf = t_map(8192);
	struct fpgadma_mr *m1 = NULL, *m2 = NULL;
	struct t_snap before;
	uint32_t key = 0x00c0de00 | (uint32_t)(t_now_us() & 0xff);

	CHECK_OK(fpgadma_reg_mr_rkey(b.pd, buf, 4096, FPGADMA_ACCESS_ALL, key, &m1));
	CHECK_EQ(m1->rkey, key);
	t_snap_take(&before);
	CHECK_RET(fpgadma_reg_mr_rkey(a.pd, buf + 4096, 4096, FPGADMA_ACCESS_ALL, key, &m2),
		  -EEXIST);
	CHECK(m2 == NULL);
	CHECK_SNAP(&before, 0, 0, "after EEXIST");
	CHECK_RET(fpgadma_reg_mr_rkey(a.pd, buf, 4096, 0, 0, &m2), -EINVAL);
	t_dereg(m1);
	CHECK_OK(fpgadma_reg_mr_rkey(a.pd, buf, 4096, 0, key, &m2));
	CHECK_EQ(m2->rkey, key);
	t_dereg(m2);
	t_unmap(buf, 8192);
	checks += 4;
	t_log("requested rkey 0x%08x: honoured, EEXIST while taken, free again after dereg",
	      key);
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 300);
	t_snap_take(&start);
	t_open(&a);
	if (!(a.attr.caps & FPGADMA_CAP_HOST_EP)) {
		not_supported();
		t_close(&a);
		t_pass();
	}
	t_open(&b);
	CHECK(a.attr.ep_id != 0 && b.attr.ep_id != 0);
	CHECK_NE(a.attr.ep_id, b.attr.ep_id);
	rdma_between();
	send_recv();
	close_with_recvs();
	other_process();
	requested_rkeys();
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_log("%u completions checked", checks);
	t_pass();
}
