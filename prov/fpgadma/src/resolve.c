// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Node and service: what fi_getinfo's names mean for fpgadma.
 *
 * The provider's endpoints live on this host's devices, so a node names
 * either this host or nothing:
 *  - one of the string forms fi_av_straddr prints ("fpgadma://dev0/ep9228.0",
 *    "fi_sockaddr_in://127.0.0.1:9228") is that address, service ignored;
 *  - 127.<dev>.0.<idx + 1> (so 127.0.0.1, and "localhost" through the
 *    resolver) is endpoint idx of device dev, as in the FI_SOCKADDR_IN
 *    format;
 *  - any other loopback address, the host's name, or an address of one of
 *    its interfaces is the host: endpoint 0 of every device;
 *  - anything else is not this host: -FI_ENODATA.
 * The service (a port number, or a name of /etc/services) is the kernel
 * endpoint number, ep_id, that the domain binds (fpgadma_bind_ep(3)).
 * Names are looked up with getaddrinfo(), so /etc/hosts applies.
 */
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fpgadma_prov.h"

static bool is_string_form(const char *node)
{
	return !strncmp(node, "fpgadma://", 10) ||
	       !strncmp(node, "fi_sockaddr_in://", 17);
}

/* 1..65535, from a number or a service name; 0 if neither. */
static uint32_t service_number(const char *service)
{
	static const char *const protos[] = { "tcp", "udp" };
	unsigned long n;
	char *end;
	size_t i;

	n = strtoul(service, &end, 10);
	if (end != service && !*end)
		return n && n <= FPGADMA_EP_ID_MAX ? (uint32_t)n : 0;
	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		struct servent se, *res = NULL;
		char buf[1024];

		if (!getservbyname_r(service, protos[i], &se, buf, sizeof(buf),
				     &res) && res)
			return ntohs((uint16_t)res->s_port);
	}
	return 0;
}

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (!a || !b || a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/* Is sa an address of this host's interfaces? */
static bool is_interface_addr(const struct sockaddr *sa)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs))
		return false;
	for (i = ifs; i && !found; i = i->ifa_next)
		found = same_ip(i->ifa_addr, sa);
	freeifaddrs(ifs);
	return found;
}

/*
 * What an address of node means: 1 and *dev, *idx for 127.<dev>.0.<idx+1>;
 * 2 for another address of this host; 0 for somebody else's.
 */
static int classify(const struct sockaddr *sa, uint32_t *dev, uint32_t *idx)
{
	if (sa->sa_family == AF_INET) {
		uint32_t ip = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		if (ip >> 24 == 127) {
			if (((ip >> 8) & 0xff) == 0 && (ip & 0xff) &&
			    ((ip >> 16) & 0xff) < FPGADMA_MAX_DEVICES) {
				*dev = (ip >> 16) & 0xff;
				*idx = (ip & 0xff) - 1;
				return 1;
			}
			return 2;
		}
	} else if (sa->sa_family == AF_INET6) {
		if (IN6_IS_ADDR_LOOPBACK(
			&((const struct sockaddr_in6 *)sa)->sin6_addr))
			return 2;
	} else {
		return 0;
	}
	return is_interface_addr(sa) ? 2 : 0;
}

static int resolve_host(const char *node, uint32_t *dev, uint32_t *idx)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char host[256];
	int kind = 0;

	if (!gethostname(host, sizeof(host)) && !strcmp(node, host))
		kind = 2;
	if (getaddrinfo(node, NULL, &hints, &res))
		return kind;
	/* the first address that names a device wins, else any of the host */
	for (ai = res; ai; ai = ai->ai_next) {
		int k = classify(ai->ai_addr, dev, idx);

		if (k == 1) {
			kind = 1;
			break;
		}
		if (k == 2)
			kind = 2;
	}
	freeaddrinfo(res);
	return kind;
}

int fpgadma_resolve(const char *node, const char *service,
		    struct fpgadma_addr *a)
{
	uint32_t dev = FPGADMA_ADDR_ANY, idx = 0;

	a->magic = FPGADMA_ADDR_MAGIC;
	if (node && is_string_form(node)) {
		if (fpgadma_addr_parse(node, a) ||
		    a->dev_index >= FPGADMA_MAX_DEVICES)
			return -FI_ENODATA;
		return 0;
	}
	if (node) {
		switch (resolve_host(node, &dev, &idx)) {
		case 0:
			FPGADMA_INFO(FI_LOG_CORE,
				     "node \"%s\" is not this host\n", node);
			return -FI_ENODATA;
		case 2:
			dev = FPGADMA_ADDR_ANY;
			idx = 0;
			break;
		}
	}
	a->dev_index = dev;
	a->ep_id = FPGADMA_ADDR_ANY;
	a->ep_idx = FPGADMA_ADDR_ANY;
	if (service) {
		a->ep_id = service_number(service);
		if (!a->ep_id) {
			FPGADMA_INFO(FI_LOG_CORE,
				     "service \"%s\" is not a number 1..65535 or a known service name\n",
				     service);
			return -FI_ENODATA;
		}
		a->ep_idx = idx;
	}
	return 0;
}
