// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ep_bind: endpoint numbers chosen by the caller (FPGADMA_IOC_BIND_EP), the
 * kernel half of addressing by service.
 *  1. Opening gives numbers of the dynamic range only; QUERY has
 *     FPGADMA_CAP_BIND_EP.
 *  2. A context binds a number agreed in advance; QUERY reports it; a SEND
 *     to it arrives with the sender's number, a SEND to the old one finds
 *     no endpoint.
 *  3. Refusals that change nothing: the number of another open context
 *     (EADDRINUSE), a second bind, 0, 65536, a flag, a reserved field
 *     (EINVAL).
 *  4. Closing frees the number for the next context to bind.
 *  5. Two processes meet by the number alone: a child binds it and posts
 *     a RECV; the parent sends to the number, retrying while nobody has it
 *     or no RECV is posted, and the child checks what arrived.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) binding works
 * the same; the SENDs of 2 and 5 are left out, saying so.
 */
#include "helpers.h"

#include <sys/ioctl.h>
#include <sys/wait.h>

static struct t_dev a, b;
static unsigned int checks;
static bool host_ep;

/* A number below the dynamic range, different on every run. */
static uint32_t agreed_number(unsigned int salt)
{
	return 1000 + (uint32_t)((t_now_us() + salt * 7919) % 40000);
}

static void in_dynamic_range(const struct t_dev *d)
{
	CHECK_GE(d->attr.ep_id, FPGADMA_EP_ID_DYNAMIC_MIN);
	CHECK_LE(d->attr.ep_id, FPGADMA_EP_ID_MAX);
	CHECK(d->attr.caps & FPGADMA_CAP_BIND_EP);
	checks += 3;
}

static uint32_t query_ep(struct t_dev *d)
{
	struct fpgadma_device_attr attr;
	struct fpgadma_query q;

	/* the library's copy and the kernel's answer agree */
	CHECK_OK(fpgadma_query(d->ctx, &attr));
	CHECK_SYS(ioctl(fpgadma_get_fd(d->ctx), FPGADMA_IOC_QUERY, &q));
	CHECK_EQ(attr.ep_id, q.ep_id);
	checks++;
	return q.ep_id;
}

/* SEND len bytes from @from to endpoint @dest; returns the CQE status. */
static uint32_t send_to(struct t_dev *from, uint32_t dest, struct fpgadma_mr *mr, void *buf,
			uint32_t len)
{
	struct fpgadma_sge sg = t_sge(mr, buf, len);
	struct fpgadma_cqe c;
	uint64_t id = from->next_wr_id++;

	CHECK_OK(fpgadma_post_send(from->ctx, id, dest, &sg, 1));
	t_get_cqes(from->ctx, &c, 1);
	CHECK_EQ(c.wr_id, id);
	return c.status;
}

/* 2: bind, be found under the new number and not under the old one. */
static void bind_and_send(uint32_t num)
{
	uint8_t *buf = t_map(8192);
	struct fpgadma_mr *ma = t_reg(&a, buf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	struct fpgadma_mr *mb = t_reg(&b, buf + 4096, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	uint32_t old = a.attr.ep_id;
	struct fpgadma_sge sg = t_sge(ma, buf, 4096);
	struct fpgadma_cqe c;

	CHECK_OK(fpgadma_bind_ep(a.ctx, num));
	CHECK_EQ(query_ep(&a), num);
	CHECK_OK(fpgadma_query(a.ctx, &a.attr));
	if (!host_ep) {
		t_log("%s engine: bound %u -> %u; no host endpoints, so no SEND",
		      t_engine_name(a.attr.engine), old, num);
		goto out;
	}
	memset(buf, 0, 4096);
	t_fill(buf + 4096, 300, 21, 0);
	CHECK_OK(fpgadma_post_recv(a.ctx, 77, &sg, 1));
	CHECK_EQ(send_to(&b, old, mb, buf + 4096, 300), FPGADMA_WC_REM_INV_REQ_ERR);
	CHECK_EQ(send_to(&b, num, mb, buf + 4096, 300), FPGADMA_WC_SUCCESS);
	t_get_cqes(a.ctx, &c, 1);
	CHECK_CQE(&c, 77, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, 300);
	CHECK_EQ(c.src_ep, b.attr.ep_id);
	CHECK_EQ(t_verify(buf, 300, 21, 0, "received"), 0);
	checks += 5;
	t_log("bound %u -> %u: a SEND to %u arrived from %u, one to %u found no endpoint",
	      old, num, num, b.attr.ep_id, old);
out:
	t_dereg(mb);
	t_dereg(ma);
	t_unmap(buf, 8192);
}

static long raw_bind(struct t_dev *d, const struct fpgadma_bind_ep *arg)
{
	return ioctl(fpgadma_get_fd(d->ctx), FPGADMA_IOC_BIND_EP, arg);
}

/* 3: refusals leave the numbers as they were. */
static void refusals(uint32_t taken)
{
	uint32_t mine = query_ep(&b), other = agreed_number(3);
	struct fpgadma_bind_ep raw = { .ep_id = other };

	if (other == taken)
		other++;
	raw.ep_id = other;
	CHECK_RET(fpgadma_bind_ep(b.ctx, taken), -EADDRINUSE);
	CHECK_RET(fpgadma_bind_ep(b.ctx, 0), -EINVAL);
	CHECK_RET(fpgadma_bind_ep(b.ctx, FPGADMA_EP_ID_MAX + 1), -EINVAL);
	raw.flags = 1;
	CHECK_ERRNO(raw_bind(&b, &raw), EINVAL);
	raw.flags = 0;
	raw.reserved[2] = 1;
	CHECK_ERRNO(raw_bind(&b, &raw), EINVAL);
	CHECK_EQ(query_ep(&b), mine);
	CHECK_EQ(query_ep(&a), taken);
	/* binding the number it has is allowed, once */
	CHECK_OK(fpgadma_bind_ep(b.ctx, mine));
	CHECK_RET(fpgadma_bind_ep(b.ctx, other), -EINVAL);
	CHECK_RET(fpgadma_bind_ep(a.ctx, other), -EINVAL);
	CHECK_EQ(query_ep(&b), mine);
	CHECK_EQ(query_ep(&a), taken);
	checks += 11;
	t_log("refused, numbers unchanged: %u (taken: EADDRINUSE), 0, 65536, a flag, a reserved "
	      "field, a second bind (EINVAL)", taken);
}

/* 4: the number is free again once its context is closed. */
static void closing_frees(uint32_t num)
{
	struct t_dev c;

	t_close(&a);
	t_open(&c);
	in_dynamic_range(&c);
	CHECK_OK(fpgadma_bind_ep(c.ctx, num));
	CHECK_EQ(query_ep(&c), num);
	t_close(&c);
	t_open(&a);
	CHECK_OK(fpgadma_bind_ep(a.ctx, num));
	CHECK_OK(fpgadma_query(a.ctx, &a.attr));
	checks += 3;
	t_log("closing frees %u: bound by a new context, then by another after it closed", num);
}

/* 5: a child binds the number; the parent finds it by the number alone. */
static void two_processes(void)
{
	const uint32_t num = agreed_number(5), len = 1000;
	uint8_t *buf = t_map(4096);
	struct fpgadma_mr *m;
	unsigned int tries = 0;
	uint32_t status;
	pid_t pid;
	int st;

	if (!host_ep) {
		t_log("two processes: left out, the %s engine has no host endpoints",
		      t_engine_name(a.attr.engine));
		t_unmap(buf, 4096);
		return;
	}
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		struct t_dev d;
		struct fpgadma_cqe c;
		struct fpgadma_sge sg;

		t_open(&d);
		m = t_reg(&d, buf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
		sg = t_sge(m, buf, 4096);
		memset(buf, 0, 4096);
		CHECK_OK(fpgadma_bind_ep(d.ctx, num));
		CHECK_OK(fpgadma_post_recv(d.ctx, 5, &sg, 1));
		t_get_cqes(d.ctx, &c, 1);
		CHECK_CQE(&c, 5, FPGADMA_WR_RECV, FPGADMA_WC_SUCCESS, len);
		CHECK_EQ(t_verify(buf, len, 55, 0, "the child's RECV"), 0);
		t_dereg(m);
		t_close(&d);
		_exit(0);
	}
	m = t_reg(&b, buf, 4096, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(buf, len, 55, 0);
	/* Until the child has bound and posted: no endpoint, then RNR. */
	do {
		if (tries++)
			t_sleep_ms(5);
		status = send_to(&b, num, m, buf, len);
		CHECK(status == FPGADMA_WC_SUCCESS || status == FPGADMA_WC_RNR_ERR ||
		      status == FPGADMA_WC_REM_INV_REQ_ERR);
	} while (status != FPGADMA_WC_SUCCESS && tries < 4000);
	CHECK_EQ(status, FPGADMA_WC_SUCCESS);
	CHECK_SYS(waitpid(pid, &st, 0));
	CHECK_CHILD_OK(st);
	t_dereg(m);
	t_unmap(buf, 4096);
	checks += 3;
	t_log("two processes met at endpoint %u with nothing exchanged: %u SEND(s), the last "
	      "delivered and checked by the child", num, tries);
}

int main(int argc, char **argv)
{
	struct t_snap start;
	uint32_t num;

	t_init(argc, argv, 120);
	t_snap_take(&start);
	t_open(&a);
	t_open(&b);
	host_ep = a.attr.caps & FPGADMA_CAP_HOST_EP;
	in_dynamic_range(&a);
	in_dynamic_range(&b);
	CHECK_NE(a.attr.ep_id, b.attr.ep_id);
	num = agreed_number(1);
	bind_and_send(num);
	refusals(num);
	closing_frees(num);
	two_processes();
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_log("%u checks", checks);
	t_pass();
}
