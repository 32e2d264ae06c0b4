// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * rdm_msg: message semantics between two RDM endpoints, against any
 * provider (FI_PROVIDER=tcp, "tcp;ofi_rxm", shm, fpgadma...).
 *
 * Two endpoints in one process, in two domains (-s: one domain):
 *   msg        fi_send/fi_recv from 0 bytes to 4 MiB both ways, byte by
 *              byte, the receive buffer's guard bytes untouched; messages
 *              sent before their receive is posted; a burst in order
 *              (when FI_ORDER_SAS); fi_inject (no completion); fi_sendv and
 *              fi_recvv across pieces
 *   cq-data    fi_senddata: FI_REMOTE_CQ_DATA and the data at the receiver
 *   tagged     fi_tsend/fi_trecv with ignore bits: each message completes
 *              the receive it matches, whatever the posting order; a
 *              message that matches nothing waits for a receive posted later
 *   truncation a message longer than the receive: FI_ETRUNC, olen, only the
 *              receive buffer written
 *   multi-recv FI_MULTI_RECV buffers: messages packed without overlap, the
 *              buffer released (FI_MULTI_RECV) once less than
 *              FI_OPT_MIN_MULTI_RECV is left
 *   av-remove  (fpgadma, whose endpoints cache their AV's translations)
 *              messages to a peer, then fi_av_remove of it: a send to its
 *              fi_addr is -FI_EINVAL; inserted again, messages go to the
 *              new fi_addr, and the old one stays refused
 * A group whose capability the provider lacks is skipped (said so); the
 * program skips when the provider is not there at all.
 *
 * -A asks for FI_SOCKADDR_IN addresses (hints->addr_format) and checks, for
 * every pair, that fi_getname gives a sockaddr_in and that fi_av_lookup
 * and fi_av_straddr give back what was inserted, in that format.
 */
#include "common.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define GUARD 64
#define GUARD_BYTE 0xa5

static bool one_domain;
static bool sockaddr_in_addrs;
static size_t max_size = 4 << 20;
static uint64_t bytes_verified, ops;
static int groups_run, groups_skipped;

static int opt(int c, const char *arg)
{
	switch (c) {
	case 's':
		one_domain = true;
		return 0;
	case 'M':
		max_size = strtoull(arg, NULL, 0);
		return 0;
	case 'A':
		sockaddr_in_addrs = true;
		return 0;
	}
	return -1;
}

/* -A: the pair's addresses are sockaddr_in, and the AVs say so too. */
static void check_sin_addrs(struct ft_pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct ft_dom *d = ft_pair_dom(p, i);
		const struct ft_ep *peer = &p->ep[1 - i];
		struct sockaddr_in sin;
		uint8_t back[256];
		size_t len = sizeof(back);
		char str[128];
		int ret;

		ft_check(d->info->addr_format == FI_SOCKADDR_IN,
			 "addr_format %u, asked FI_SOCKADDR_IN", d->info->addr_format);
		ft_check(peer->namelen == sizeof(sin), "fi_getname: %zu bytes, "
			 "expected a sockaddr_in (%zu)", peer->namelen, sizeof(sin));
		memcpy(&sin, peer->name, sizeof(sin));
		ft_check(sin.sin_family == AF_INET, "fi_getname: family %u, expected AF_INET",
			 sin.sin_family);
		ret = fi_av_lookup(d->av, p->peer[i], back, &len);
		ft_check(!ret, "fi_av_lookup: %s", ft_strerr(ret));
		ft_check(!ret && len == peer->namelen && !memcmp(back, peer->name, len),
			 "fi_av_lookup: not the address inserted");
		len = sizeof(str);
		fi_av_straddr(d->av, peer->name, str, &len);
		ft_check(!strncmp(str, "fi_sockaddr_in://", 17),
			 "fi_av_straddr: \"%s\", expected fi_sockaddr_in://...", str);
		if (ft_opts.verbose)
			ft_log("ep%d's peer: %s", i, str);
	}
}

static bool open_pair(struct ft_pair *p, uint64_t caps, size_t min_multi_recv,
		      const char *group)
{
	struct fi_info *hints = ft_hints(caps, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
					 FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT);
	const char *why = NULL;

	if (sockaddr_in_addrs)
		hints->addr_format = FI_SOCKADDR_IN;
	if (ft_pair_open(p, hints, one_domain, min_multi_recv, &why)) {
		ft_log("%s: skipped (%s)", group, why);
		groups_skipped++;
		return false;
	}
	if (sockaddr_in_addrs)
		check_sin_addrs(p);
	groups_run++;
	return true;
}

/* A buffer with its MR (when the provider needs descriptors). */
struct buf {
	uint8_t *p;
	size_t len;
	struct fid_mr *mr;
	void *desc;
};

static void buf_get(struct ft_pair *pr, int side, struct buf *b, size_t len)
{
	int ret;

	b->len = len;
	b->p = ft_xmalloc(len + GUARD);
	memset(b->p, GUARD_BYTE, len + GUARD);
	b->mr = NULL;
	b->desc = NULL;
	if (ft_need_desc(ft_pair_dom(pr, side))) {
		ret = ft_mr_reg(ft_pair_dom(pr, side), &pr->ep[side], b->p, len + GUARD,
				FI_SEND | FI_RECV, 0, &b->mr);
		if (ret)
			ft_fatal("fi_mr_reg(%zu): %s", len + GUARD, ft_strerr(ret));
		b->desc = fi_mr_desc(b->mr);
	}
}

static void buf_put(struct buf *b)
{
	if (b->mr)
		ft_close_fid(&b->mr->fid, "mr");
	free(b->p);
	b->p = NULL;
}

static void expect_recv(const struct ft_comp *c, uint64_t flags, size_t len, const char *what)
{
	ft_check((c->e.flags & flags) == flags, "%s: completion flags %#" PRIx64
		 " lack %#" PRIx64, what, (uint64_t)c->e.flags, flags);
	ft_check(c->e.len == len, "%s: completion len %zu, expected %zu", what, c->e.len, len);
}

/* One message of len bytes from ep[from] to ep[1 - from]; unexpected: sent first. */
static void one_msg(struct ft_pair *p, int from, size_t len, bool unexpected)
{
	int to = 1 - from;
	struct buf s, r;
	struct ft_op sop = { .what = "send" }, rop = { .what = "recv" };
	struct ft_comp c;
	uint64_t seed = len * 31 + (uint64_t)from;
	char what[96];

	snprintf(what, sizeof(what), "%zu-byte message ep%d->ep%d%s", len, from, to,
		 unexpected ? " (unexpected)" : "");
	buf_get(p, from, &s, len);
	buf_get(p, to, &r, len);
	ft_fill(s.p, len, seed, 0);
	if (!unexpected)
		FT_POST(fi_recv(p->ep[to].ep, r.p, len, r.desc, FI_ADDR_UNSPEC, &rop));
	FT_POST(fi_send(p->ep[from].ep, s.p, len, s.desc, p->peer[from], &sop));
	if (unexpected) {
		ft_no_comp(&p->ep[to].cq, 20);
		FT_POST(fi_recv(p->ep[to].ep, r.p, len, r.desc, FI_ADDR_UNSPEC, &rop));
	}
	ft_wait_op(&p->ep[to].cq, &rop, &c);
	expect_recv(&c, FI_RECV | FI_MSG, len, what);
	ft_wait_op(&p->ep[from].cq, &sop, &c);
	ft_check((c.e.flags & (FI_SEND | FI_MSG)) == (FI_SEND | FI_MSG),
		 "%s: send completion flags %#" PRIx64, what, (uint64_t)c.e.flags);
	if (ft_expect_pattern(r.p, len, seed, 0, what))
		bytes_verified += len;
	ft_expect_bytes(r.p + len, GUARD, GUARD_BYTE, what);
	ops += 2;
	buf_put(&s);
	buf_put(&r);
}

static void test_msg(void)
{
	static const size_t sizes[] = {
		0, 1, 2, 7, 8, 63, 64, 65, 255, 1000, 4095, 4096, 4097, 8192 + 3,
		65536, 65536 + 1, 262144 - 7, 1 << 20, (1 << 20) + 13, 4 << 20,
	};
	struct ft_pair p;
	size_t i, n = 0, limit;
	uint64_t t0;

	if (!open_pair(&p, FI_MSG, 0, "msg"))
		return;
	ft_describe(&p.dom[0]);
	limit = FT_MIN(max_size, p.dom[0].info->ep_attr->max_msg_size);
	t0 = ft_now_us();
	for (i = 0; i < FT_ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > limit)
			continue;
		one_msg(&p, (int)(i & 1), sizes[i], false);
		one_msg(&p, (int)!(i & 1), sizes[i], true);
		n += 2;
	}
	ft_log("msg: %zu messages of 0..%zu bytes both ways, posted and unexpected, "
	       "verified (%.1f ms)", n, limit < (4 << 20) ? limit : (size_t)(4 << 20),
	       (double)(ft_now_us() - t0) / 1000);

	/* A burst: with FI_ORDER_SAS the receives complete in sending order. */
	{
		enum { N = 16 };
		struct buf s[N], r[N];
		struct ft_op sop[N], rop[N];
		struct ft_comp c;
		bool sas = p.dom[0].info->tx_attr->msg_order & FI_ORDER_SAS;
		int k;

		for (k = 0; k < N; k++) {
			size_t len = 100 + (size_t)k * 37;

			buf_get(&p, 0, &s[k], len);
			buf_get(&p, 1, &r[k], 1000);
			ft_fill(s[k].p, len, 1000 + (uint64_t)k, 0);
			rop[k] = (struct ft_op){ .what = "burst recv", .id = k };
			sop[k] = (struct ft_op){ .what = "burst send", .id = k };
			FT_POST(fi_recv(p.ep[1].ep, r[k].p, 1000, r[k].desc, FI_ADDR_UNSPEC, &rop[k]));
		}
		for (k = 0; k < N; k++)
			FT_POST(fi_send(p.ep[0].ep, s[k].p, s[k].len, s[k].desc, p.peer[0], &sop[k]));
		for (k = 0; k < N; k++) {
			struct ft_op *o;

			if (ft_wait(&p.ep[1].cq, &c))
				ft_fatal("burst: receive %d of %d did not complete", k, N);
			ft_check(!c.err, "burst: receive completed with %s", c.errstr);
			o = c.e.op_context;
			if (sas)
				ft_check(o == &rop[k], "burst: receive %d completed as number %d "
					 "(FI_ORDER_SAS)", o->id, k);
			/* Receive buffer m holds the m-th message to arrive: sent in order. */
			if (sas && ft_expect_pattern(r[o->id].p, s[o->id].len, 1000 + (uint64_t)o->id,
						     0, "burst message"))
				bytes_verified += s[o->id].len;
			ft_check(c.e.len == s[o->id].len || !sas, "burst: length %zu", c.e.len);
		}
		for (k = 0; k < N; k++) {
			ft_wait_op(&p.ep[0].cq, &sop[k], NULL);
			buf_put(&s[k]);
			buf_put(&r[k]);
		}
		ops += 2 * N;
		ft_log("msg: a burst of %d messages%s", N,
		       sas ? " completed in order (FI_ORDER_SAS)" : " (no FI_ORDER_SAS: order not checked)");
	}

	/* fi_inject: no completion at the sender, the buffer reusable at once. */
	if (p.dom[0].info->tx_attr->inject_size >= 16) {
		size_t len = FT_MIN(p.dom[0].info->tx_attr->inject_size, 64);
		uint8_t sbuf[64];
		struct buf r;
		struct ft_op rop = { .what = "recv of inject" };
		struct ft_comp c;

		buf_get(&p, 1, &r, len);
		ft_fill(sbuf, len, 77, 0);
		FT_POST(fi_recv(p.ep[1].ep, r.p, len, r.desc, FI_ADDR_UNSPEC, &rop));
		FT_POST(fi_inject(p.ep[0].ep, sbuf, len, p.peer[0]));
		memset(sbuf, 0, sizeof(sbuf));
		ft_wait_op(&p.ep[1].cq, &rop, &c);
		expect_recv(&c, FI_RECV, len, "inject");
		if (ft_expect_pattern(r.p, len, 77, 0, "fi_inject message"))
			bytes_verified += len;
		ft_check(ft_no_comp(&p.ep[0].cq, 50), "fi_inject produced a completion at the sender");
		buf_put(&r);
		ops += 2;
		ft_log("msg: fi_inject of %zu bytes, no sender completion", len);
	}

	/* fi_sendv of 3 pieces into fi_recvv of 2 pieces. */
	if (p.dom[0].info->tx_attr->iov_limit >= 3 && p.dom[0].info->rx_attr->iov_limit >= 2) {
		size_t slen[3] = { 1000, 1, 3000 }, rlen[2] = { 2500, 2000 }, total = 4001;
		struct buf s, r;
		struct iovec siov[3], riov[2];
		void *sdesc[3], *rdesc[2];
		struct ft_op sop = { .what = "sendv" }, rop = { .what = "recvv" };
		struct ft_comp c;
		size_t off = 0;
		int k;

		buf_get(&p, 0, &s, total);
		buf_get(&p, 1, &r, 4500);
		ft_fill(s.p, total, 555, 0);
		for (k = 0; k < 3; k++) {
			siov[k] = (struct iovec){ s.p + off, slen[k] };
			sdesc[k] = s.desc;
			off += slen[k];
		}
		riov[0] = (struct iovec){ r.p, rlen[0] };
		riov[1] = (struct iovec){ r.p + rlen[0], rlen[1] };
		rdesc[0] = rdesc[1] = r.desc;
		FT_POST(fi_recvv(p.ep[1].ep, riov, rdesc, 2, FI_ADDR_UNSPEC, &rop));
		FT_POST(fi_sendv(p.ep[0].ep, siov, sdesc, 3, p.peer[0], &sop));
		ft_wait_op(&p.ep[1].cq, &rop, &c);
		expect_recv(&c, FI_RECV | FI_MSG, total, "recvv");
		ft_wait_op(&p.ep[0].cq, &sop, NULL);
		if (ft_expect_pattern(r.p, total, 555, 0, "sendv/recvv"))
			bytes_verified += total;
		ft_expect_bytes(r.p + total, 4500 + GUARD - total, GUARD_BYTE, "recvv tail");
		buf_put(&s);
		buf_put(&r);
		ops += 2;
		ft_log("msg: fi_sendv of 3 pieces into fi_recvv of 2 pieces (%zu bytes)", total);
	}
	ft_pair_close(&p);
}

static void test_cq_data(void)
{
	struct ft_pair p;
	struct buf s, r;
	struct ft_op sop = { .what = "senddata" }, rop = { .what = "recv" };
	struct ft_comp c;
	uint64_t data = 0x1122334455667788ULL, mask;
	size_t bytes;
	int i;

	if (!open_pair(&p, FI_MSG, 0, "cq-data"))
		return;
	bytes = p.dom[0].info->domain_attr->cq_data_size;
	if (!bytes) {
		ft_log("cq-data: skipped (cq_data_size 0)");
		groups_skipped++;
		ft_pair_close(&p);
		return;
	}
	mask = bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;
	for (i = 0; i < 2; i++) {
		size_t len = i ? 5000 : 0;

		buf_get(&p, 0, &s, len);
		buf_get(&p, 1, &r, len);
		ft_fill(s.p, len, 99, 0);
		FT_POST(fi_recv(p.ep[1].ep, r.p, len, r.desc, FI_ADDR_UNSPEC, &rop));
		FT_POST(fi_senddata(p.ep[0].ep, s.p, len, s.desc, data + (uint64_t)i, p.peer[0], &sop));
		ft_wait_op(&p.ep[1].cq, &rop, &c);
		expect_recv(&c, FI_RECV | FI_REMOTE_CQ_DATA, len, "senddata");
		ft_check((c.e.data & mask) == ((data + (uint64_t)i) & mask),
			 "senddata: data %#" PRIx64 ", expected %#" PRIx64, (uint64_t)c.e.data,
			 (data + (uint64_t)i) & mask);
		ft_wait_op(&p.ep[0].cq, &sop, NULL);
		if (ft_expect_pattern(r.p, len, 99, 0, "senddata payload"))
			bytes_verified += len;
		buf_put(&s);
		buf_put(&r);
		ops += 2;
	}
	ft_log("cq-data: fi_senddata of 0 and 5000 bytes: FI_REMOTE_CQ_DATA with %zu bytes of data", bytes);
	ft_pair_close(&p);
}

struct tmsg {
	uint64_t tag;
	size_t len;
};

static void tsend(struct ft_pair *p, struct buf *s, uint64_t tag, struct ft_op *op)
{
	ft_fill(s->p, s->len, tag, 0);
	FT_POST(fi_tsend(p->ep[0].ep, s->p, s->len, s->desc, p->peer[0], tag, op));
}

static void test_tagged(void)
{
	struct ft_pair p;
	struct buf r[5], s[5];
	struct ft_op rop[5], sop[5];
	/* Receives: tag, ignore.  Sends: tag, and the receive it must complete. */
	static const uint64_t rtag[5] = { 0x100, 0x200, 0x300, 0x400, 0x401 };
	static const uint64_t rign[5] = { 0, 0xff, 0, 0, 0 };
	static const uint64_t stag[5] = { 0x2ab, 0x300, 0x100, 0x401, 0x400 };
	static const int match[5] = { 1, 2, 0, 4, 3 };
	struct ft_comp c;
	int k;

	if (!open_pair(&p, FI_TAGGED, 0, "tagged"))
		return;
	for (k = 0; k < 5; k++) {
		buf_get(&p, 1, &r[k], 2048);
		buf_get(&p, 0, &s[k], 1000 + (size_t)k * 200);
		rop[k] = (struct ft_op){ .what = "trecv", .id = k };
		sop[k] = (struct ft_op){ .what = "tsend", .id = k };
	}
	/* Receives 0..3 posted; the sends go in another order. */
	for (k = 0; k < 4; k++)
		FT_POST(fi_trecv(p.ep[1].ep, r[k].p, r[k].len, r[k].desc, FI_ADDR_UNSPEC,
				 rtag[k], rign[k], &rop[k]));
	for (k = 0; k < 3; k++) {
		tsend(&p, &s[k], stag[k], &sop[k]);
		ft_wait_op(&p.ep[1].cq, &rop[match[k]], &c);
		expect_recv(&c, FI_RECV | FI_TAGGED, s[k].len, "trecv");
		ft_check(c.e.tag == stag[k], "trecv completion tag %#" PRIx64 ", expected %#" PRIx64,
			 (uint64_t)c.e.tag, stag[k]);
		if (ft_expect_pattern(r[match[k]].p, s[k].len, stag[k], 0, "tagged message"))
			bytes_verified += s[k].len;
		ft_wait_op(&p.ep[0].cq, &sop[k], NULL);
	}
	/* 0x401 matches no posted receive (0x400 ignores nothing): it waits. */
	tsend(&p, &s[3], stag[3], &sop[3]);
	ft_check(ft_no_comp(&p.ep[1].cq, 100),
		 "tag 0x401 completed receive tag 0x400 with ignore 0");
	FT_POST(fi_trecv(p.ep[1].ep, r[4].p, r[4].len, r[4].desc, FI_ADDR_UNSPEC,
			 rtag[4], rign[4], &rop[4]));
	ft_wait_op(&p.ep[1].cq, &rop[4], &c);
	ft_check(c.e.tag == 0x401, "late trecv: tag %#" PRIx64, (uint64_t)c.e.tag);
	if (ft_expect_pattern(r[4].p, s[3].len, stag[3], 0, "tagged message received late"))
		bytes_verified += s[3].len;
	tsend(&p, &s[4], stag[4], &sop[4]);
	ft_wait_op(&p.ep[1].cq, &rop[3], &c);
	ft_check(c.e.tag == 0x400, "trecv 0x400: tag %#" PRIx64, (uint64_t)c.e.tag);
	if (ft_expect_pattern(r[3].p, s[4].len, stag[4], 0, "tagged message 0x400"))
		bytes_verified += s[4].len;
	ft_wait_op(&p.ep[0].cq, &sop[3], NULL);
	ft_wait_op(&p.ep[0].cq, &sop[4], NULL);
	for (k = 0; k < 5; k++) {
		buf_put(&r[k]);
		buf_put(&s[k]);
	}
	ops += 10;
	ft_log("tagged: 5 messages matched by tag and ignore bits, not by posting order; "
	       "an unmatched one waited for its receive");
	ft_pair_close(&p);
}

static void test_truncation(void)
{
	struct ft_pair p;
	struct buf s, r;
	struct ft_op sop = { .what = "long send" }, rop = { .what = "short recv" };
	struct ft_comp c;
	size_t rlen = 100, slen = 300;
	bool known_data;

	if (!open_pair(&p, FI_MSG, 0, "truncation"))
		return;
	if (ft_known_issue(&p.dom[0], "trunc")) {
		groups_skipped++;
		ft_pair_close(&p);
		return;
	}
	known_data = ft_known_issue(&p.dom[0], "trunc-data");
	buf_get(&p, 0, &s, slen);
	buf_get(&p, 1, &r, rlen);
	ft_fill(s.p, slen, 4242, 0);
	FT_POST(fi_recv(p.ep[1].ep, r.p, rlen, r.desc, FI_ADDR_UNSPEC, &rop));
	FT_POST(fi_send(p.ep[0].ep, s.p, slen, s.desc, p.peer[0], &sop));
	if (ft_wait(&p.ep[1].cq, &c))
		ft_fatal("truncation: the receive did not complete");
	ft_check(c.e.op_context == &rop, "truncation: completion of another operation");
	if (c.err == -FI_ETRUNC && ft_known_issue(&p.dom[0], "trunc-err-sign"))
		c.err = FI_ETRUNC;
	ft_check(c.err == FI_ETRUNC, "truncation: receive completed with err %d (%s), "
		 "expected FI_ETRUNC", c.err, c.err ? fi_strerror(c.err) : "success");
	if (c.err == FI_ETRUNC) {
		ft_check(ft_known_issue(&p.dom[0], "trunc-olen") || c.olen == slen - rlen, "truncation: olen %zu, expected %zu",
			 c.olen, slen - rlen);
		ft_log("truncation: %zu bytes into %zu: FI_ETRUNC, olen %zu, \"%s\"", slen, rlen,
		       c.olen, c.errstr);
	}
	/* What fits is delivered (fi_cq(3), olen); the bytes after the buffer are not touched. */
	if (!known_data && ft_expect_pattern(r.p, rlen, 4242, 0, "truncated message"))
		bytes_verified += rlen;
	ft_expect_bytes(r.p + rlen, GUARD, GUARD_BYTE, "after the truncated receive");
	if (ft_wait(&p.ep[0].cq, &c))
		ft_fatal("truncation: the send did not complete");
	ft_log("truncation: the sender's completion: %s", c.err ? c.errstr : "success");
	/* The endpoints still work, both ways. */
	if (!ft_known_issue(&p.dom[0], "trunc-ep")) {
		one_msg(&p, 0, 333, false);
		one_msg(&p, 1, 4444, false);
		ft_log("truncation: the endpoints still work");
	}
	ops += 2;
	buf_put(&s);
	buf_put(&r);
	ft_pair_close(&p);
}

static void test_av_remove(void)
{
	struct ft_pair p;
	struct buf s;
	struct ft_op sop = { .what = "send to a removed address" };
	fi_addr_t old;
	ssize_t ret;

	if (!open_pair(&p, FI_MSG, 0, "av-remove"))
		return;
	if (strcmp(p.dom[0].info->fabric_attr->prov_name, "fpgadma")) {
		ft_log("av-remove: skipped: what a send to a removed address does is the provider's");
		groups_run--;	/* open_pair counted it */
		groups_skipped++;
		ft_pair_close(&p);
		return;
	}
	one_msg(&p, 0, 100, false);	/* the translation now cached */
	one_msg(&p, 0, 200, false);
	old = p.peer[0];
	FT_CALL(fi_av_remove(ft_pair_dom(&p, 0)->av, &old, 1, 0));
	buf_get(&p, 0, &s, 64);
	ret = fi_send(p.ep[0].ep, s.p, 64, s.desc, old, &sop);
	ft_check(ret == -FI_EINVAL, "av-remove: a send to the removed fi_addr: %zd (%s), "
		 "expected -FI_EINVAL", ret, fi_strerror((int)-ret));
	if (fi_av_insert(ft_pair_dom(&p, 0)->av, p.ep[1].name, 1, &p.peer[0], 0, NULL) != 1)
		ft_fatal("av-remove: fi_av_insert of the removed peer failed");
	ft_check(p.peer[0] != old, "av-remove: the peer inserted again has its old fi_addr");
	one_msg(&p, 0, 300, false);
	ret = fi_send(p.ep[0].ep, s.p, 64, s.desc, old, &sop);
	ft_check(ret == -FI_EINVAL, "av-remove: a send to the old fi_addr after the new "
		 "insert: %zd (%s)", ret, fi_strerror((int)-ret));
	ft_log("av-remove: a removed peer refused at once, inserted again reached");
	ops += 3;
	buf_put(&s);
	ft_pair_close(&p);
}

static void test_multi_recv(void)
{
	enum { N = 30, LEN = 300, BUFLEN = 8192, MIN = 512 };
	struct ft_pair p;
	struct buf s[N], mr;
	struct ft_op sop[N], mop[2] = { { .what = "multi-recv 0", .id = 0 },
					{ .what = "multi-recv 1", .id = 1 } };
	struct iovec iov;
	struct fi_msg msg;
	struct ft_comp c;
	size_t used[2] = { 0, 0 }, end[2] = { 0, 0 };
	int k, got = 0, released[2] = { 0, 0 };

	if (!open_pair(&p, FI_MSG | FI_MULTI_RECV, MIN, "multi-recv"))
		return;
	buf_get(&p, 1, &mr, 2 * BUFLEN);
	for (k = 0; k < 2; k++) {
		iov = (struct iovec){ mr.p + (size_t)k * BUFLEN, BUFLEN };
		msg = (struct fi_msg){ .msg_iov = &iov, .desc = &mr.desc, .iov_count = 1,
				       .addr = FI_ADDR_UNSPEC, .context = &mop[k] };
		FT_POST(fi_recvmsg(p.ep[1].ep, &msg, FI_MULTI_RECV));
	}
	for (k = 0; k < N; k++) {
		buf_get(&p, 0, &s[k], LEN);
		ft_fill(s[k].p, LEN, 7000 + (uint64_t)k, 0);
		sop[k] = (struct ft_op){ .what = "send to multi-recv", .id = k };
		FT_POST(fi_send(p.ep[0].ep, s[k].p, LEN, s[k].desc, p.peer[0], &sop[k]));
	}
	while (got < N || !released[0]) {
		struct ft_op *o;
		size_t off;
		int b, seq;

		if (ft_wait(&p.ep[1].cq, &c))
			ft_fatal("multi-recv: %d of %d messages arrived%s", got, N,
				 released[0] ? "" : ", first buffer not released");
		if (c.err)
			ft_fatal("multi-recv: error completion: %s", c.errstr);
		o = c.e.op_context;
		b = o == &mop[1];
		ft_check(o == &mop[0] || o == &mop[1], "multi-recv: completion of another operation");
		if (c.e.len) {
			ft_check(c.e.flags & FI_RECV, "multi-recv: no FI_RECV flag");
			ft_check(c.e.len == LEN, "multi-recv: length %zu", c.e.len);
			ft_check((uint8_t *)c.e.buf >= mr.p + (size_t)b * BUFLEN &&
				 (uint8_t *)c.e.buf + c.e.len <= mr.p + (size_t)(b + 1) * BUFLEN,
				 "multi-recv: message at %p outside buffer %d", c.e.buf, b);
			off = (size_t)((uint8_t *)c.e.buf - (mr.p + (size_t)b * BUFLEN));
			ft_check(off >= end[b], "multi-recv: message at offset %zu overlaps the "
				 "previous one (ends at %zu)", off, end[b]);
			ft_check(!b || released[0],
				 "multi-recv: buffer 1 used before buffer 0 was released");
			ft_check(!released[b], "multi-recv: buffer %d used after its release", b);
			end[b] = off + c.e.len;
			used[b] += c.e.len;
			/* Which message is it?  Its first 8 bytes say. */
			for (seq = 0; seq < N; seq++)
				if (ft_verify(c.e.buf, 8, 7000 + (uint64_t)seq, 0) == 8)
					break;
			ft_check(seq < N, "multi-recv: message %d is none of those sent", got);
			if (seq < N && ft_expect_pattern(c.e.buf, LEN, 7000 + (uint64_t)seq, 0,
							 "multi-recv message"))
				bytes_verified += LEN;
			got++;
		}
		if (c.e.flags & FI_MULTI_RECV) {
			ft_check(!released[b], "multi-recv: buffer %d released twice", b);
			released[b] = 1;
			ft_check(BUFLEN - end[b] < MIN, "multi-recv: buffer %d released with "
				 "%zu bytes left (min %d)", b, BUFLEN - end[b], MIN);
		}
	}
	for (k = 0; k < N; k++) {
		ft_wait_op(&p.ep[0].cq, &sop[k], NULL);
		buf_put(&s[k]);
	}
	ops += 2 * N;
	ft_log("multi-recv: %d messages of %d bytes in two %d-byte buffers (%zu + %zu bytes), "
	       "the first released with FI_MULTI_RECV", N, LEN, BUFLEN, used[0], used[1]);
	/*
	 * Buffer 1 is still posted: closing the endpoints cancels it; then its
	 * MR can go, then the domains (which refuse to close under a live MR).
	 */
	ft_close_ep(&p.ep[1]);
	ft_close_ep(&p.ep[0]);
	buf_put(&mr);
	ft_pair_close(&p);
}

int main(int argc, char **argv)
{
	ft_parse(argc, argv, "sM:A", "[-s] [-M MAX_SIZE] [-A]\n"
		 "  -s           both endpoints in one domain (default: two domains)\n"
		 "  -M BYTES     largest message (default 4 MiB)\n"
		 "  -A           FI_SOCKADDR_IN addresses (default: the provider's)", opt);
	{
		/* The provider at all? */
		struct ft_dom d;

		ft_open_dom_or_skip(ft_hints(FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
					     FI_MR_PROV_KEY | FI_MR_ENDPOINT), &d, "FI_MSG on FI_EP_RDM");
		ft_close_dom(&d);
	}
	test_msg();
	test_cq_data();
	test_tagged();
	test_truncation();
	test_multi_recv();
	test_av_remove();
	return ft_finish("%d groups run, %d skipped, %" PRIu64 " operations, %" PRIu64
			 " bytes verified (%s%s)", groups_run, groups_skipped, ops, bytes_verified,
			 one_domain ? "one domain" : "two domains",
			 sockaddr_in_addrs ? ", FI_SOCKADDR_IN" : "");
}
