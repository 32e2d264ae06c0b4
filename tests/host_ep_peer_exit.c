// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_peer_exit: another process's MR and endpoint, reached through
 * what it handed over, die with the process.
 *
 * A child opens its own context, registers 1 MiB for remote writes, posts a
 * RECV and hands its rkey, the MR's address and its ep_id to the parent
 * over a pipe.  The parent RDMA_WRITEs 1 MiB into the child's MR and then
 * SENDs 100 bytes to its endpoint: both succeed, and the child finds the
 * message (src_ep the parent's ep_id) and every byte of the MR as written.
 * Once the child has exited, the same rkey gives REM_ACCESS_ERR and the
 * same ep_id REM_INV_REQ_ERR.  Nothing stays pinned or registered.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

#include <sys/wait.h>

struct handoff {
	uint64_t addr;
	uint32_t rkey;
	uint32_t ep_id;
};

int main(int argc, char **argv)
{
	const size_t len = 1 << 20;
	int to_parent[2], to_child[2];
	struct fpgadma_mr *ms;
	struct t_dev a;
	struct t_snap start;
	struct handoff h;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;
	uint8_t *src;
	char go;
	pid_t pid;
	int st;

	t_init(argc, argv, 120);
	t_snap_take(&start);
	t_open(&a);
	t_need_host_ep(&a);
	CHECK(a.attr.ep_id != 0);
	src = t_map(len);
	ms = t_reg(&a, src, len, 0);
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
	CHECK(h.ep_id != 0 && h.ep_id != a.attr.ep_id);
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
	t_log("another process (ep_id %u): 1 MiB written into its MR by rkey 0x%08x and a message "
	      "sent, both verified there", h.ep_id, h.rkey);
	/* Its rkey and endpoint are gone with it. */
	sg = t_sge(ms, src, 64);
	CHECK_OK(fpgadma_post_rdma_write(a.ctx, 502, h.rkey, h.addr, 0, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 502, FPGADMA_WR_RDMA_WRITE, FPGADMA_WC_REM_ACCESS_ERR, 0);
	CHECK_OK(fpgadma_post_send(a.ctx, 503, h.ep_id, &sg, 1));
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 503, FPGADMA_WR_SEND, FPGADMA_WC_REM_INV_REQ_ERR, 0);
	t_log("after its exit: its rkey REM_ACCESS_ERR, its ep_id REM_INV_REQ_ERR");
	t_dereg(ms);
	t_unmap(src, len);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
