// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * node_service: a server and a client that find each other by node and
 * service alone, as libfabric's fabtests and users start them (server:
 * fi_getinfo(node, service, FI_SOURCE); client: fi_getinfo(node, service,
 * 0) and fi_av_insert of its dest_addr).  No address crosses any other
 * channel: the client's first message carries its own name (fi_getname),
 * as fabtests' ft_init_av does.
 *
 *  1. (fpgadma) fi_getinfo as fi_getinfo(3) says: FI_SOURCE fills
 *     src_addr, a client's call dest_addr; "localhost" and 127.0.0.1 name
 *     the same endpoint, the host's name resolves too; a node that is not
 *     this host (192.0.2.1, a documentation address: nothing is sent to
 *     it) and an unknown service give -FI_ENODATA.
 *  2. A forked server and the client exchange messages of 64 B and 1 MiB
 *     both ways, every byte checked.  With fpgadma the client starts
 *     first, before the server has bound the service (the provider resends
 *     until it has); with other providers it waits for the server to say it
 *     is listening (one byte through a pipe: a time, not an address).
 *  3. (fpgadma) While the server runs, a domain for the same service in
 *     another process fails with -FI_EADDRINUSE.
 *
 * Usage: node_service [-p PROV] [-n NODE] [-s SERVICE]
 * (default node 127.0.0.1, service 9228 plus the pid modulo 1000).
 */
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG	(1024 * 1024)

static const char *node = "127.0.0.1";
static char service[16];
static bool fpgadma;

struct side {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_av *av;
	struct fid_cq *cq;
	struct fid_ep *ep;
	uint8_t *buf;
	fi_addr_t peer;
};

static int opt(int c, const char *arg)
{
	switch (c) {
	case 'n':
		node = arg;
		return 0;
	case 's':
		snprintf(service, sizeof(service), "%s", arg);
		return 0;
	}
	return -1;
}

static struct fi_info *hints(void)
{
	return ft_hints(FI_MSG, 0);
}

static int getinfo(const char *n, const char *s, uint64_t flags, struct fi_info **info)
{
	struct fi_info *h = hints();
	int ret = fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), n, s, flags, h,
			     info);

	fi_freeinfo(h);
	return ret;
}

/* 1: what fi_getinfo makes of node and service. */
static void getinfo_rules(void)
{
	struct fi_info *a = NULL, *b = NULL;
	char host[256];
	int ret;

	FT_CALL(getinfo("127.0.0.1", service, FI_SOURCE, &a));
	ft_check(a->src_addr && a->src_addrlen, "FI_SOURCE: no src_addr");
	ft_check(!a->dest_addr, "FI_SOURCE: a dest_addr");
	fi_freeinfo(a);

	FT_CALL(getinfo("127.0.0.1", service, 0, &a));
	FT_CALL(getinfo("localhost", service, 0, &b));
	ft_check(a->dest_addr && b->dest_addr && a->dest_addrlen == b->dest_addrlen &&
		 !memcmp(a->dest_addr, b->dest_addr, a->dest_addrlen),
		 "127.0.0.1 and localhost name different endpoints");
	fi_freeinfo(b);
	b = NULL;
	if (!gethostname(host, sizeof(host))) {
		ret = getinfo(host, service, 0, &b);
		ft_check(!ret && b && b->dest_addr, "the host's name \"%s\": %s", host,
			 fi_strerror(-ret));
		fi_freeinfo(b);
	}
	fi_freeinfo(a);

	ret = getinfo("192.0.2.1", service, 0, &a);
	ft_check(ret == -FI_ENODATA, "a node that is not this host: %d (%s)", ret,
		 fi_strerror(-ret));
	if (!ret)
		fi_freeinfo(a);
	ret = getinfo("127.0.0.1", "no-such-service-fpgadma", 0, &a);
	ft_check(ret == -FI_ENODATA, "an unknown service: %d (%s)", ret, fi_strerror(-ret));
	if (!ret)
		fi_freeinfo(a);
	FT_CALL(getinfo(NULL, service, FI_SOURCE, &a));
	ft_check(a->src_addr != NULL, "service alone with FI_SOURCE: no src_addr");
	fi_freeinfo(a);
	ft_log("fi_getinfo: FI_SOURCE fills src_addr, a client's call dest_addr; localhost = "
	       "127.0.0.1; the host's name resolves; 192.0.2.1 and an unknown service: "
	       "FI_ENODATA");
}

static void open_side(struct side *s, uint64_t flags)
{
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_DATA, .size = 64 };
	struct fi_av_attr av_attr = { .type = FI_AV_UNSPEC, .count = 8 };

	memset(s, 0, sizeof(*s));
	FT_CALL(getinfo(node, service, flags, &s->info));
	FT_CALL(fi_fabric(s->info->fabric_attr, &s->fabric, NULL));
	FT_CALL(fi_domain(s->fabric, s->info, &s->domain, NULL));
	FT_CALL(fi_av_open(s->domain, &av_attr, &s->av, NULL));
	FT_CALL(fi_cq_open(s->domain, &cq_attr, &s->cq, NULL));
	FT_CALL(fi_endpoint(s->domain, s->info, &s->ep, NULL));
	FT_CALL(fi_ep_bind(s->ep, &s->av->fid, 0));
	FT_CALL(fi_ep_bind(s->ep, &s->cq->fid, FI_TRANSMIT | FI_RECV));
	FT_CALL(fi_enable(s->ep));
	s->buf = ft_xmalloc(BIG);
	s->peer = FI_ADDR_UNSPEC;
}

static void close_side(struct side *s)
{
	fi_close(&s->ep->fid);
	fi_close(&s->cq->fid);
	fi_close(&s->av->fid);
	fi_close(&s->domain->fid);
	fi_close(&s->fabric->fid);
	fi_freeinfo(s->info);
	free(s->buf);
}

/* Wait for one completion; stop on an error or after the time limit. */
static void wait_one(struct side *s, const char *what)
{
	uint64_t end = ft_now_us() + (uint64_t)ft_opts.timeout_ms * 1000;
	struct fi_cq_data_entry c;
	ssize_t n;

	for (;;) {
		n = fi_cq_read(s->cq, &c, 1);
		if (n == 1)
			return;
		if (n == -FI_EAVAIL) {
			struct fi_cq_err_entry e = { 0 };

			fi_cq_readerr(s->cq, &e, 0);
			ft_fatal("%s: error completion %d (%s): %s", what, e.err,
				 fi_strerror(e.err),
				 fi_cq_strerror(s->cq, e.prov_errno, e.err_data, NULL, 0));
		}
		if (n != -FI_EAGAIN)
			ft_fatal("%s: fi_cq_read: %zd (%s)", what, n, fi_strerror((int)-n));
		if (ft_now_us() > end)
			ft_fatal("%s: no completion in %u ms", what, ft_opts.timeout_ms);
	}
}

static void post_send(struct side *s, size_t len, const char *what)
{
	struct fi_context2 ctx;
	ssize_t ret;

	do {
		ret = fi_send(s->ep, s->buf, len, NULL, s->peer, &ctx);
		if (ret == -FI_EAGAIN)
			fi_cq_read(s->cq, NULL, 0);
	} while (ret == -FI_EAGAIN);
	if (ret)
		ft_fatal("%s: fi_send: %zd (%s)", what, ret, fi_strerror((int)-ret));
	wait_one(s, what);
}

static void recv_one(struct side *s, size_t len, const char *what)
{
	struct fi_context2 ctx;

	FT_CALL(fi_recv(s->ep, s->buf, len, NULL, FI_ADDR_UNSPEC, &ctx));
	wait_one(s, what);
}

static const size_t sizes[] = { 64, BIG };

/* The server: bind the service, learn the client from its first message. */
static void server(int ready_fd)
{
	struct side s;
	size_t i;

	if (fpgadma)
		usleep(300 * 1000);	/* the client is already sending */
	open_side(&s, FI_SOURCE);
	if (ready_fd >= 0) {
		if (write(ready_fd, "L", 1) != 1)
			ft_fatal("telling the client: %s", strerror(errno));
		close(ready_fd);
	}
	recv_one(&s, BIG, "server: the client's name");
	if (fi_av_insert(s.av, s.buf, 1, &s.peer, 0, NULL) != 1)
		ft_fatal("server: fi_av_insert of the client's name failed");
	for (i = 0; i < FT_ARRAY_SIZE(sizes); i++) {
		recv_one(&s, BIG, "server: ping");
		ft_check(ft_verify(s.buf, sizes[i], 100 + i, 0) == sizes[i],
			 "server: ping of %zu bytes corrupt", sizes[i]);
		ft_fill(s.buf, sizes[i], 200 + i, 0);
		post_send(&s, sizes[i], "server: pong");
	}
	close_side(&s);
}

/* 3: the service is taken while the server holds it. */
static void service_taken(void)
{
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	int ret;

	FT_CALL(getinfo(node, service, FI_SOURCE, &info));
	FT_CALL(fi_fabric(info->fabric_attr, &fabric, NULL));
	ret = fi_domain(fabric, info, &domain, NULL);
	ft_check(ret == -FI_EADDRINUSE, "a second domain on service %s: %d (%s), expected "
		 "FI_EADDRINUSE", service, ret, fi_strerror(-ret));
	if (!ret)
		fi_close(&domain->fid);
	fi_close(&fabric->fid);
	fi_freeinfo(info);
	ft_log("a second domain on service %s while the server holds it: %s", service,
	       fi_strerror(-ret));
}

static void client(void)
{
	char name[256];
	size_t len = sizeof(name), i;
	uint64_t t0 = ft_now_us();
	struct side c;

	open_side(&c, 0);
	if (!c.info->dest_addr)
		ft_fatal("fi_getinfo(%s, %s) gave no dest_addr", node, service);
	if (fi_av_insert(c.av, c.info->dest_addr, 1, &c.peer, 0, NULL) != 1)
		ft_fatal("fi_av_insert of the server's address failed");
	FT_CALL(fi_getname(&c.ep->fid, name, &len));
	memcpy(c.buf, name, len);
	post_send(&c, len, "client: its name");
	ft_log("client: reached the server at %s:%s in %llu ms", node, service,
	       (unsigned long long)((ft_now_us() - t0) / 1000));
	for (i = 0; i < FT_ARRAY_SIZE(sizes); i++) {
		ft_fill(c.buf, sizes[i], 100 + i, 0);
		post_send(&c, sizes[i], "client: ping");
		if (i == 0 && fpgadma)
			service_taken();
		recv_one(&c, BIG, "client: pong");
		ft_check(ft_verify(c.buf, sizes[i], 200 + i, 0) == sizes[i],
			 "client: pong of %zu bytes corrupt", sizes[i]);
	}
	close_side(&c);
	ft_log("client: %zu messages each way, of 64 B and 1 MiB, every byte checked",
	       FT_ARRAY_SIZE(sizes));
}

int main(int argc, char **argv)
{
	int fds[2] = { -1, -1 }, st;
	pid_t pid;
	char c;

	snprintf(service, sizeof(service), "%d", 9228 + getpid() % 1000);
	ft_parse(argc, argv, "n:s:", "[-n NODE] [-s SERVICE]", opt);
	fpgadma = ft_opts.prov && !strcmp(ft_opts.prov, "fpgadma");
	ft_log("node %s, service %s, provider %s", node, service,
	       ft_opts.prov ? ft_opts.prov : "any");
	if (fpgadma)
		getinfo_rules();
	if (!fpgadma && pipe(fds))
		ft_fatal("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		server(fds[1]);
		exit(ft_failures() ? FT_FAIL : FT_PASS);
	}
	if (fds[1] >= 0) {
		close(fds[1]);
		if (read(fds[0], &c, 1) != 1)
			ft_fatal("the server ended before listening");
		close(fds[0]);
	}
	client();
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		ft_error("the server failed (status 0x%x)", st);
	return ft_finish("server and client met at %s:%s", node, service);
}
