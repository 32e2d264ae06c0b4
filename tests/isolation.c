// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * isolation: two unprivileged users on one device reach each other's memory
 * only through the rkeys they were given, with the rights those carry.
 *
 * The root parent forks user A (uid 65534) and user B (uid 65533), each
 * with its own RLIMIT_MEMLOCK and no capabilities.  A registers a data MR
 * with REMOTE_READ only and a mailbox MR with REMOTE_WRITE, and hands both
 * rkeys, its lkey and the addresses to B over a pipe.  B then:
 *  - guesses keys (the given rkey's neighbours, random ones): every
 *    RDMA_READ and RDMA_WRITE with them completes with REM_ACCESS_ERR;
 *  - uses A's lkey in its own WRs (WRITE_MEM, READ_MEM): LOC_PROT_ERR;
 *  - writes with the read-only rkey: REM_ACCESS_ERR, A's data unchanged;
 *  - reads with it: success, A's data arrives;
 *  - writes into the mailbox with its rkey: success, A sees the bytes;
 *  - deregisters A's MR by its lkey (and by its rkey) on its own file:
 *    EINVAL, A's MR still works; opening A's file through /proc: EACCES;
 *  - registers more than its RLIMIT_MEMLOCK: ENOMEM, VmPin unchanged, and
 *    0 once its own MR is gone.
 * Every failed WR leaves B's canary buffer untouched; A checks its data,
 * its MR and its mailbox after B is done.  The parent checks that every pin
 * was released.
 */
#include "helpers.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#define UID_A		65534
#define UID_B		65533
#define DATA_LEN	(128 * 1024)
#define MBOX_LEN	4096
#define LIMIT_B		(256 * 1024)
#define GUESSES		64

struct handoff {
	uint64_t data_addr, mbox_addr;
	uint32_t data_rkey, mbox_rkey, data_lkey;
	int32_t fd;
	int32_t pid;
};

static unsigned int wrs, errors, bytes_verified;

static void become(uid_t uid, rlim_t memlock)
{
	struct rlimit rl = { .rlim_cur = memlock, .rlim_max = memlock };

	CHECK_SYS(setrlimit(RLIMIT_MEMLOCK, &rl));
	CHECK_SYS(setgroups(0, NULL));
	CHECK_SYS(setgid(uid));
	CHECK_SYS(setuid(uid));
	CHECK_EQ(getuid(), uid);
	CHECK_EQ(geteuid(), uid);
}

static uint32_t run(struct t_dev *d, uint32_t opcode, uint32_t rkey, uint64_t raddr,
		    uint64_t dev_addr, const struct fpgadma_sge *sg)
{
	struct fpgadma_wr w = {
		.wr_id = d->next_wr_id++, .opcode = opcode, .rkey = rkey,
		.dev_addr = rkey ? raddr : dev_addr,
		.sg_list = (uintptr_t)sg, .num_sge = 1,
	};
	struct fpgadma_cqe c;

	CHECK_OK(fpgadma_post(d->ctx, &w, 1));
	t_get_cqes(d->ctx, &c, 1);
	CHECK_EQ(c.wr_id, w.wr_id);
	wrs++;
	if (c.status != FPGADMA_WC_SUCCESS) {
		CHECK_EQ(c.byte_len, 0);
		errors++;
	}
	return c.status;
}

static void verify_byte(const void *buf, size_t len, uint8_t c, const char *what)
{
	CHECK_EQ(t_verify_byte(buf, len, c, what), 0);
	bytes_verified += len;
}

static void verify(const void *buf, size_t len, uint64_t seed, const char *what)
{
	CHECK_EQ(t_verify(buf, len, seed, 0, what), 0);
	bytes_verified += len;
}

static void user_a(int to_b, int from_b)
{
	uint8_t *data = t_map(DATA_LEN), *mbox = t_map(MBOX_LEN), *tmp = t_map(DATA_LEN);
	struct fpgadma_mr *md, *mm, *mt;
	struct t_dev d;
	struct handoff h;
	char done;

	become(UID_A, 4 * T_MiB);
	t_open(&d);
	t_fill(data, DATA_LEN, 71, 0);
	memset(mbox, 0, MBOX_LEN);
	md = t_reg(&d, data, DATA_LEN, FPGADMA_ACCESS_REMOTE_READ);
	mm = t_reg(&d, mbox, MBOX_LEN, FPGADMA_ACCESS_REMOTE_WRITE | FPGADMA_ACCESS_LOCAL_WRITE);
	h = (struct handoff){ (uintptr_t)data, (uintptr_t)mbox, md->rkey, mm->rkey, md->lkey,
			      fpgadma_get_fd(d.ctx), getpid() };
	t_log("A (uid %d): data MR %d KiB rkey 0x%08x (REMOTE_READ), mailbox rkey 0x%08x "
	      "(REMOTE_WRITE), lkey 0x%08x", UID_A, DATA_LEN / 1024, md->rkey, mm->rkey, md->lkey);
	CHECK_EQ(write(to_b, &h, sizeof(h)), (ssize_t)sizeof(h));
	CHECK_EQ(read(from_b, &done, 1), 1);

	/* After B: the data as it was, the mailbox as B wrote it, the MR alive. */
	verify(data, DATA_LEN, 71, "A's data after B");
	verify(mbox, MBOX_LEN, 72, "A's mailbox after B");
	mt = t_reg(&d, tmp, DATA_LEN, FPGADMA_ACCESS_LOCAL_WRITE);
	{
		struct fpgadma_sge sg = t_sge(mt, tmp, DATA_LEN);

		CHECK_EQ(run(&d, FPGADMA_WR_RDMA_READ, md->rkey, (uintptr_t)data, 0, &sg),
			 FPGADMA_WC_SUCCESS);
	}
	verify(tmp, DATA_LEN, 71, "A reading its own MR after B");
	t_dereg(mt);
	t_dereg(mm);
	t_dereg(md);	/* still A's to deregister */
	CHECK_EQ(t_vmpin_kb(0), 0);
	t_close(&d);
	t_log("A: data, mailbox and MR as expected after B; %u bytes verified", bytes_verified);
	exit(0);
}

static void user_b(int from_a, int to_a)
{
	uint8_t *buf = t_map(DATA_LEN), *big = t_map(2 * LIMIT_B);
	struct fpgadma_mr *mb, *extra = NULL;
	struct fpgadma_sge sg;
	struct fpgadma_dereg_mr dereg;
	struct t_rng rng;
	struct t_dev d;
	struct handoff h;
	uint64_t seed = t_now_us();
	unsigned int i, guessed = 0;
	char path[64];
	long long vmpin;

	become(UID_B, LIMIT_B);
	CHECK_EQ(read(from_a, &h, sizeof(h)), (ssize_t)sizeof(h));
	t_open(&d);
	mb = t_reg(&d, buf, DATA_LEN, FPGADMA_ACCESS_LOCAL_WRITE);
	CHECK(mb->rkey != h.data_rkey && mb->rkey != h.mbox_rkey);
	sg = t_sge(mb, buf, DATA_LEN);

	/* Guessed keys: neighbours of the one given, then random ones. */
	t_rng_seed(&rng, seed);
	memset(buf, 0xb5, DATA_LEN);
	for (i = 0; i < 2 * 16 + GUESSES; i++) {
		uint32_t key;

		if (i < 32)
			key = h.data_rkey + (i < 16 ? i + 1 : -(uint32_t)(i - 15));
		else
			key = (uint32_t)t_rand(&rng);
		if (!key || key == h.data_rkey || key == h.mbox_rkey || key == mb->rkey)
			continue;
		CHECK_EQ(run(&d, FPGADMA_WR_RDMA_READ, key, h.data_addr, 0, &sg),
			 FPGADMA_WC_REM_ACCESS_ERR);
		CHECK_EQ(run(&d, FPGADMA_WR_RDMA_WRITE, key, h.data_addr, 0, &sg),
			 FPGADMA_WC_REM_ACCESS_ERR);
		guessed++;
	}
	verify_byte(buf, DATA_LEN, 0xb5, "B's buffer after guessed keys");
	t_log("B (uid %d): %u guessed rkeys (16 each side of A's, the rest random, seed %llu): "
	      "RDMA_READ and RDMA_WRITE with each: REM_ACCESS_ERR", UID_B, guessed,
	      (unsigned long long)seed);

	/* A's lkey means nothing in B's context. */
	{
		struct fpgadma_sge as = { .addr = h.data_addr, .length = DATA_LEN,
					  .lkey = h.data_lkey };

		CHECK_EQ(run(&d, FPGADMA_WR_WRITE_MEM, 0, 0, 0, &as), FPGADMA_WC_LOC_PROT_ERR);
		CHECK_EQ(run(&d, FPGADMA_WR_READ_MEM, 0, 0, 0, &as), FPGADMA_WC_LOC_PROT_ERR);
		CHECK_EQ(run(&d, FPGADMA_WR_RDMA_READ, h.data_rkey, h.data_addr, 0, &as),
			 FPGADMA_WC_LOC_PROT_ERR);
	}
	t_log("B: A's lkey in WRITE_MEM, READ_MEM and as an RDMA_READ target: LOC_PROT_ERR");

	/* Beyond the rights: writing with the read-only rkey. */
	memset(buf, 0xb6, DATA_LEN);
	CHECK_EQ(run(&d, FPGADMA_WR_RDMA_WRITE, h.data_rkey, h.data_addr, 0, &sg),
		 FPGADMA_WC_REM_ACCESS_ERR);
	sg.length = 1;
	CHECK_EQ(run(&d, FPGADMA_WR_RDMA_WRITE, h.data_rkey, h.data_addr, 0, &sg),
		 FPGADMA_WC_REM_ACCESS_ERR);
	/* Reading with the mailbox's write-only rkey. */
	sg.length = MBOX_LEN;
	CHECK_EQ(run(&d, FPGADMA_WR_RDMA_READ, h.mbox_rkey, h.mbox_addr, 0, &sg),
		 FPGADMA_WC_REM_ACCESS_ERR);
	verify_byte(buf, DATA_LEN, 0xb6, "B's buffer after the refused WRs");

	/* Within the rights: read A's data, write A's mailbox. */
	sg.length = DATA_LEN;
	CHECK_EQ(run(&d, FPGADMA_WR_RDMA_READ, h.data_rkey, h.data_addr, 0, &sg),
		 FPGADMA_WC_SUCCESS);
	verify(buf, DATA_LEN, 71, "A's data read by B");	/* also: unchanged by B's writes */
	t_fill(buf, MBOX_LEN, 72, 0);
	sg.length = MBOX_LEN;
	CHECK_EQ(run(&d, FPGADMA_WR_RDMA_WRITE, h.mbox_rkey, h.mbox_addr, 0, &sg),
		 FPGADMA_WC_SUCCESS);
	t_log("B: RDMA_WRITE with the read-only rkey and RDMA_READ with the write-only one: "
	      "REM_ACCESS_ERR; RDMA_READ of %d KiB and RDMA_WRITE of %d bytes within the rights: "
	      "done", DATA_LEN / 1024, MBOX_LEN);

	/* A's handles are A's: B's file does not know them, A's file is out of reach. */
	dereg = (struct fpgadma_dereg_mr){ .lkey = h.data_lkey };
	CHECK_ERRNO(ioctl(fpgadma_get_fd(d.ctx), FPGADMA_IOC_DEREG_MR, &dereg), EINVAL);
	dereg = (struct fpgadma_dereg_mr){ .lkey = h.data_rkey };
	CHECK_ERRNO(ioctl(fpgadma_get_fd(d.ctx), FPGADMA_IOC_DEREG_MR, &dereg), EINVAL);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", h.pid, h.fd);
	CHECK_ERRNO(open(path, O_RDWR | O_CLOEXEC), EACCES);
	sg.length = DATA_LEN;
	CHECK_EQ(run(&d, FPGADMA_WR_RDMA_READ, h.data_rkey, h.data_addr, 0, &sg),
		 FPGADMA_WC_SUCCESS);
	t_log("B: DEREG_MR of A's lkey and of its rkey on B's file: EINVAL (the MR still "
	      "serves reads); opening A's file through %s: EACCES", path);

	/* RLIMIT_MEMLOCK binds B: 32 pages in use, 64 allowed. */
	vmpin = t_vmpin_kb(0);
	CHECK_EQ(vmpin, DATA_LEN / 1024);
	CHECK_RET(fpgadma_reg_mr(d.pd, big, LIMIT_B, 0, &extra), -ENOMEM);
	CHECK_RET(fpgadma_reg_mr(d.pd, big, 2 * LIMIT_B, FPGADMA_ACCESS_LOCAL_WRITE, &extra),
		  -ENOMEM);
	CHECK(extra == NULL);
	CHECK_EQ(t_vmpin_kb(0), vmpin);
	t_dereg(mb);
	CHECK_EQ(t_vmpin_kb(0), 0);
	CHECK_RET(fpgadma_reg_mr(d.pd, big, LIMIT_B + 1, 0, &extra), -ENOMEM);
	CHECK_EQ(t_vmpin_kb(0), 0);
	extra = t_reg(&d, big, LIMIT_B, 0);
	CHECK_EQ(t_vmpin_kb(0), LIMIT_B / 1024);
	t_dereg(extra);
	CHECK_EQ(t_vmpin_kb(0), 0);
	t_log("B: RLIMIT_MEMLOCK %d KiB: %d and %d KiB more on top of %lld KiB pinned: ENOMEM, "
	      "VmPin unchanged; one byte over the limit alone: ENOMEM; exactly the limit: "
	      "registered; VmPin 0 after", LIMIT_B / 1024, LIMIT_B / 1024, 2 * LIMIT_B / 1024,
	      vmpin);

	t_close(&d);
	CHECK_EQ(write(to_a, "x", 1), 1);
	t_log("B: %u WRs posted, %u completed with errors as required; %u bytes verified",
	      wrs, errors, bytes_verified);
	exit(0);
}

int main(int argc, char **argv)
{
	int a_to_b[2], b_to_a[2];
	struct t_snap start;
	struct t_dev d;
	pid_t a, b;
	int sa, sb;

	t_init(argc, argv, 120);
	if (geteuid() != 0)
		t_skip("needs root to create two unprivileged users (setuid)");
	t_open(&d);	/* the device is there; skips where the engine cannot serve */
	if (!(d.attr.caps & FPGADMA_CAP_HOST_EP))
		t_skip("the %s engine has no host endpoints (RDMA between users)",
		       t_engine_name(d.attr.engine));
	t_close(&d);
	t_snap_take(&start);
	CHECK_SYS(pipe(a_to_b));
	CHECK_SYS(pipe(b_to_a));
	a = fork();
	CHECK_SYS(a);
	if (a == 0) {
		close(a_to_b[0]);
		close(b_to_a[1]);
		user_a(a_to_b[1], b_to_a[0]);
	}
	b = fork();
	CHECK_SYS(b);
	if (b == 0) {
		close(a_to_b[1]);
		close(b_to_a[0]);
		user_b(a_to_b[0], b_to_a[1]);
	}
	close(a_to_b[0]);
	close(a_to_b[1]);
	close(b_to_a[0]);
	close(b_to_a[1]);
	/* Both reaped before either verdict: a live A would keep its pins. */
	sb = t_wait_child(b, 50000);
	sa = t_wait_child(a, 50000);
	CHECK_CHILD_OK(sb);
	CHECK_CHILD_OK(sa);
	CHECK_SETTLED(&start, 10000, "after both users exited");
	t_pass();
}
