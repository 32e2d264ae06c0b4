// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * msg_setname: fi_setname on passive endpoints and an active endpoint that
 * takes a passive endpoint's address over (info->handle), the way
 * libfabric's fi_msg_sockets uses them, between a forked server and
 * client, addresses as FI_SOCKADDR_IN.
 *
 * Server: a passive endpoint opened without src_addr is named
 * 127.0.0.1:S with fi_setname and fi_getname says so.  On fpgadma, also:
 * a name of the wrong length is -FI_EINVAL, one of a device that does not
 * exist -FI_EADDRNOTAVAIL, a second passive endpoint naming S
 * -FI_EADDRINUSE (and keeps its name), and fi_setname after fi_listen
 * -FI_EOPBADSTATE.
 * Client: a passive endpoint named 127.0.0.1 port 0 gets a port of its
 * own; fi_getinfo with it as hints->handle gives an info with that
 * handle, and the endpoint opened from it has the passive endpoint's
 * address (before and after the passive endpoint's close, and after the
 * connection), which the server's fi_getpeer reports too (the client
 * sends its address as CM data).  The accepted endpoint's address is the
 * passive endpoint's, and the client's fi_getpeer says so, as with TCP.  On fpgadma fi_listen on the passive
 * endpoint after the takeover is -FI_EOPBADSTATE.  A message each way
 * ends it.
 *
 * Usage: msg_setname [-p PROV] [-s SERVICE]
 * (default service 10328 plus twice the pid modulo 500).
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG_LEN	64

static char service[16];
static bool fpgadma;

struct side {
	struct fid_fabric *fabric;
	struct fid_eq *eq;
	struct fid_pep *pep;
	struct fid_domain *domain;
	struct fid_cq *cq;
	struct fid_ep *ep;
	struct fid_mr *mr;
	uint8_t buf[2 * MSG_LEN];
};

static int opt(int c, const char *arg)
{
	if (c != 's')
		return -1;
	snprintf(service, sizeof(service), "%s", arg);
	return 0;
}

static struct fi_info *hints_msg(void)
{
	struct fi_info *h = ft_hints(FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
				     FI_MR_ALLOCATED | FI_MR_PROV_KEY);

	h->ep_attr->type = FI_EP_MSG;
	h->addr_format = FI_SOCKADDR_IN;
	h->mode = FI_CONTEXT | FI_CONTEXT2;
	return h;
}

static struct sockaddr_in sin_of(const char *ip, unsigned int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		ft_fatal("inet_pton(%s)", ip);
	return sin;
}

static struct sockaddr_in name_of(struct fid *fid, const char *what)
{
	struct sockaddr_in sin;
	size_t len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	FT_CALL(fi_getname(fid, &sin, &len));
	if (len != sizeof(sin) || sin.sin_family != AF_INET)
		ft_fatal("%s: fi_getname gave %zu bytes of family %d", what, len,
			 sin.sin_family);
	return sin;
}

static bool same_sin(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static const char *sin_str(const struct sockaddr_in *s, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(s->sin_port));
	return buf;
}

/* A passive endpoint without src_addr, as fi_msg_sockets opens it. */
static void open_pep(struct side *s, struct fid_pep **pep)
{
	struct fi_info *h = hints_msg(), *info = NULL;
	struct fi_eq_attr attr = { .size = 16, .wait_obj = FI_WAIT_UNSPEC };

	FT_CALL(fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), "127.0.0.1",
			   NULL, FI_SOURCE, h, &info));
	fi_freeinfo(h);
	if (!s->fabric) {
		FT_CALL(fi_fabric(info->fabric_attr, &s->fabric, NULL));
		FT_CALL(fi_eq_open(s->fabric, &attr, &s->eq, NULL));
	}
	free(info->src_addr);
	info->src_addr = NULL;
	info->src_addrlen = 0;
	FT_CALL(fi_passive_ep(s->fabric, info, pep, NULL));
	fi_freeinfo(info);
}

static void open_active(struct side *s, struct fi_info *info)
{
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_DATA, .size = 16,
				      .wait_obj = FI_WAIT_NONE };

	FT_CALL(fi_domain(s->fabric, info, &s->domain, NULL));
	FT_CALL(fi_mr_reg(s->domain, s->buf, sizeof(s->buf), FI_SEND | FI_RECV, 0,
			  ft_next_key(), 0, &s->mr, NULL));
	FT_CALL(fi_cq_open(s->domain, &cq_attr, &s->cq, NULL));
	FT_CALL(fi_endpoint(s->domain, info, &s->ep, NULL));
	FT_CALL(fi_ep_bind(s->ep, &s->eq->fid, 0));
	FT_CALL(fi_ep_bind(s->ep, &s->cq->fid, FI_TRANSMIT | FI_RECV));
	FT_CALL(fi_enable(s->ep));
}

static void close_side(struct side *s)
{
	ft_close_fid(&s->ep->fid, "endpoint");
	ft_close_fid(&s->cq->fid, "CQ");
	ft_close_fid(&s->mr->fid, "MR");
	ft_close_fid(&s->domain->fid, "domain");
	if (s->pep)
		ft_close_fid(&s->pep->fid, "passive endpoint");
	ft_close_fid(&s->eq->fid, "EQ");
	ft_close_fid(&s->fabric->fid, "fabric");
}

static void wait_comp(struct side *s, const char *what)
{
	uint64_t end = ft_now_us() + (uint64_t)ft_opts.timeout_ms * 1000;
	struct fi_cq_data_entry e;
	ssize_t n;

	for (;;) {
		n = fi_cq_read(s->cq, &e, 1);
		if (n == 1)
			return;
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry err = { 0 };

			fi_cq_readerr(s->cq, &err, 0);
			ft_fatal("%s: error completion %d (%s)", what, err.err,
				 fi_strerror(err.err));
		}
		if (n != -FI_EAGAIN)
			ft_fatal("%s: fi_cq_read: %zd (%s)", what, n, fi_strerror((int)-n));
		if (ft_now_us() > end)
			ft_fatal("%s: no completion in %u ms", what, ft_opts.timeout_ms);
	}
}

/* An event within the time limit; an error event is fatal. */
static uint32_t wait_event(struct side *s, struct fi_eq_cm_entry *entry, size_t len,
			   const char *what)
{
	uint32_t event;
	ssize_t n;

	n = fi_eq_sread(s->eq, &event, entry, len, (int)ft_opts.timeout_ms, 0);
	if (n == -FI_EAVAIL) {
		struct fi_eq_err_entry err = { 0 };

		fi_eq_readerr(s->eq, &err, 0);
		ft_fatal("%s: error event %d (%s)", what, err.err, fi_strerror(err.err));
	}
	if (n < (ssize_t)sizeof(*entry))
		ft_fatal("%s: fi_eq_sread: %zd (%s)", what, n,
			 n < 0 ? fi_strerror((int)-n) : "short");
	return event;
}

static void exchange(struct side *s, bool send_first, const char *who)
{
	struct fi_context2 rctx, sctx;

	FT_CALL(fi_recv(s->ep, s->buf + MSG_LEN, MSG_LEN, fi_mr_desc(s->mr),
			FI_ADDR_UNSPEC, &rctx));
	ft_fill(s->buf, MSG_LEN, send_first ? 1 : 2, 0);
	if (send_first) {
		FT_POST(fi_send(s->ep, s->buf, MSG_LEN, fi_mr_desc(s->mr), FI_ADDR_UNSPEC,
				&sctx));
		wait_comp(s, who);
		wait_comp(s, who);
	} else {
		wait_comp(s, who);
		FT_POST(fi_send(s->ep, s->buf, MSG_LEN, fi_mr_desc(s->mr), FI_ADDR_UNSPEC,
				&sctx));
		wait_comp(s, who);
	}
	ft_check(ft_verify(s->buf + MSG_LEN, MSG_LEN, send_first ? 2 : 1, 0) == MSG_LEN,
		 "%s: the message received differs", who);
}

static void server(int ready_fd)
{
	size_t elen = sizeof(struct fi_eq_cm_entry) + sizeof(struct sockaddr_in);
	struct fi_eq_cm_entry *entry = ft_xmalloc(elen);
	struct sockaddr_in want = sin_of("127.0.0.1", (unsigned int)atoi(service));
	struct sockaddr_in got, peer, sin;
	struct fi_info *info;
	struct side s = { 0 };
	struct fid_pep *pep2;
	char b1[32], b2[32];
	size_t len;
	int ret;

	open_pep(&s, &s.pep);
	if (fpgadma) {
		ret = fi_setname(&s.pep->fid, &want, 3);
		ft_check(ret == -FI_EINVAL, "fi_setname of 3 bytes: %d, expected -FI_EINVAL",
			 ret);
		sin = sin_of("127.7.0.1", (unsigned int)atoi(service));
		ret = fi_setname(&s.pep->fid, &sin, sizeof(sin));
		ft_check(ret == -FI_EADDRNOTAVAIL,
			 "fi_setname of device 7: %d, expected -FI_EADDRNOTAVAIL", ret);
	}
	FT_CALL(fi_setname(&s.pep->fid, &want, sizeof(want)));
	got = name_of(&s.pep->fid, "server pep");
	ft_check(same_sin(&got, &want), "server: named %s, fi_getname says %s",
		 sin_str(&want, b1, sizeof(b1)), sin_str(&got, b2, sizeof(b2)));
	if (fpgadma) {
		open_pep(&s, &pep2);
		sin = name_of(&pep2->fid, "second pep");
		ret = fi_setname(&pep2->fid, &want, sizeof(want));
		ft_check(ret == -FI_EADDRINUSE,
			 "a second passive endpoint named %s: %d, expected -FI_EADDRINUSE",
			 sin_str(&want, b1, sizeof(b1)), ret);
		got = name_of(&pep2->fid, "second pep");
		ft_check(same_sin(&got, &sin), "the refused fi_setname changed the name");
		ft_close_fid(&pep2->fid, "second passive endpoint");
	}
	FT_CALL(fi_pep_bind(s.pep, &s.eq->fid, 0));
	FT_CALL(fi_listen(s.pep));
	if (fpgadma) {
		ret = fi_setname(&s.pep->fid, &want, sizeof(want));
		ft_check(ret == -FI_EOPBADSTATE,
			 "fi_setname after fi_listen: %d, expected -FI_EOPBADSTATE", ret);
	}
	if (write(ready_fd, "r", 1) != 1)
		ft_fatal("write: %s", strerror(errno));
	close(ready_fd);

	if (wait_event(&s, entry, elen, "server: FI_CONNREQ") != FI_CONNREQ)
		ft_fatal("server: not FI_CONNREQ");
	memcpy(&sin, entry->data, sizeof(sin));	/* the client's address */
	info = entry->info;
	open_active(&s, info);
	FT_CALL(fi_accept(s.ep, NULL, 0));
	if (wait_event(&s, entry, elen, "server: FI_CONNECTED") != FI_CONNECTED ||
	    entry->fid != &s.ep->fid)
		ft_fatal("server: not FI_CONNECTED of its endpoint");
	len = sizeof(peer);
	FT_CALL(fi_getpeer(s.ep, &peer, &len));
	ft_check(same_sin(&peer, &sin), "server: fi_getpeer says %s, the client is %s",
		 sin_str(&peer, b1, sizeof(b1)), sin_str(&sin, b2, sizeof(b2)));
	got = name_of(&s.ep->fid, "server ep");
	ft_check(same_sin(&got, &want), "server: the accepted endpoint is %s, not %s",
		 sin_str(&got, b1, sizeof(b1)), sin_str(&want, b2, sizeof(b2)));
	exchange(&s, false, "server");
	close_side(&s);
	fi_freeinfo(info);
	free(entry);
}

static void client(void)
{
	size_t elen = sizeof(struct fi_eq_cm_entry) + 64;
	struct fi_eq_cm_entry *entry = ft_xmalloc(elen);
	struct sockaddr_in any = sin_of("127.0.0.1", 0), bound, got, peer;
	struct sockaddr_in server = sin_of("127.0.0.1", (unsigned int)atoi(service));
	size_t len;
	struct fi_info *h, *info = NULL;
	struct side c = { 0 };
	char b1[32], b2[32];
	int ret;

	open_pep(&c, &c.pep);
	FT_CALL(fi_setname(&c.pep->fid, &any, sizeof(any)));
	bound = name_of(&c.pep->fid, "client pep");
	ft_check(bound.sin_port != 0 && bound.sin_addr.s_addr == any.sin_addr.s_addr,
		 "client: named 127.0.0.1 port 0, fi_getname says %s",
		 sin_str(&bound, b1, sizeof(b1)));

	h = hints_msg();
	h->handle = &c.pep->fid;
	FT_CALL(fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), "127.0.0.1",
			   service, 0, h, &info));
	h->handle = NULL;
	fi_freeinfo(h);
	ft_check(info->handle == &c.pep->fid,
		 "fi_getinfo with a passive endpoint as the handle gave handle %p", info->handle);
	open_active(&c, info);
	got = name_of(&c.ep->fid, "client ep");
	ft_check(same_sin(&got, &bound), "client: the endpoint is %s, the passive one %s",
		 sin_str(&got, b1, sizeof(b1)), sin_str(&bound, b2, sizeof(b2)));
	if (fpgadma) {
		ret = fi_listen(c.pep);
		ft_check(ret == -FI_EOPBADSTATE,
			 "fi_listen after the takeover: %d, expected -FI_EOPBADSTATE", ret);
	}
	ft_close_fid(&c.pep->fid, "client passive endpoint");
	c.pep = NULL;
	got = name_of(&c.ep->fid, "client ep");
	ft_check(same_sin(&got, &bound), "client: after the pep's close the endpoint is %s",
		 sin_str(&got, b1, sizeof(b1)));

	FT_CALL(fi_connect(c.ep, info->dest_addr, &bound, sizeof(bound)));
	if (wait_event(&c, entry, elen, "client: FI_CONNECTED") != FI_CONNECTED ||
	    entry->fid != &c.ep->fid)
		ft_fatal("client: not FI_CONNECTED of its endpoint");
	got = name_of(&c.ep->fid, "client ep");
	ft_check(same_sin(&got, &bound), "client: after connecting the endpoint is %s",
		 sin_str(&got, b1, sizeof(b1)));
	len = sizeof(peer);
	FT_CALL(fi_getpeer(c.ep, &peer, &len));
	ft_check(same_sin(&peer, &server),
		 "client: fi_getpeer says %s, it connected to %s",
		 sin_str(&peer, b1, sizeof(b1)), sin_str(&server, b2, sizeof(b2)));
	exchange(&c, true, "client");
	FT_CALL(fi_shutdown(c.ep, 0));
	ft_log("the endpoint took over %s and kept it", sin_str(&bound, b1, sizeof(b1)));
	fi_freeinfo(info);
	close_side(&c);
	free(entry);
}

int main(int argc, char **argv)
{
	int fds[2] = { -1, -1 }, st;
	pid_t pid;
	char ch;

	snprintf(service, sizeof(service), "%d", 10328 + 2 * (getpid() % 500));
	ft_parse(argc, argv, "s:", "[-s SERVICE]", opt);
	fpgadma = ft_opts.prov && !strcmp(ft_opts.prov, "fpgadma");
	if (pipe(fds))
		ft_fatal("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		server(fds[1]);
		exit(ft_failures() ? FT_FAIL : FT_PASS);
	}
	close(fds[1]);
	if (read(fds[0], &ch, 1) != 1)
		ft_fatal("the server ended before listening");
	close(fds[0]);
	client();
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		ft_error("the server failed (status 0x%x)", st);
	return ft_finish("fi_setname and the address takeover at 127.0.0.1:%s", service);
}
