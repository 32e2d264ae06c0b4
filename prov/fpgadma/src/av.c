// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Address vectors.
 *
 * An address is a struct fpgadma_addr (16 bytes): device, kernel endpoint,
 * endpoint within that domain.  The application may see it in another
 * encoding, the domain's address format (FI_SOCKADDR_IN: a sockaddr_in,
 * see fpgadma_prov.h): fi_av_insert decodes what it is given into a
 * struct fpgadma_addr, fi_av_lookup encodes it back, so the table, the
 * reverse lookup for fi_cq_readfrom and the data plane deal with one form
 * only.  Each format's encoding is canonical: fi_av_lookup returns the
 * bytes inserted (but for a sockaddr_in's sin_zero, which is ignored).
 *
 * FI_AV_TABLE and FI_AV_MAP share one implementation: fi_addr is the index
 * into the table either way (FI_AV_MAP lets fi_addr be anything, so an
 * index is as good as a pointer).  Indices are never reused after
 * fi_av_remove, so a stale fi_addr cannot come to name another peer.
 *
 * Insertion completes inside the call.  An AV opened with FI_EVENT reports
 * it on its EQ anyway, as fi_av(3) asks: one error event per bad address
 * (data = its index in the call), then FI_AV_COMPLETE with the count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fpgadma_prov.h"

/* --- address formats (fpgadma_prov.h) --------------------------------------- */

/* The first octet of every sockaddr_in address of the provider. */
#define SIN_NET		127U

_Static_assert(sizeof(struct fpgadma_addr) == FI_FPGADMA_ADDRLEN,
	       "the provider's own address is FI_FPGADMA_ADDRLEN bytes");
_Static_assert(sizeof(struct sockaddr_in) <= FI_FPGADMA_ADDRLEN,
	       "a sockaddr_in address fits FI_FPGADMA_ADDRLEN bytes");

static bool format_is_sin(uint32_t addr_format)
{
	return addr_format == FI_SOCKADDR_IN || addr_format == FI_SOCKADDR;
}

bool fpgadma_addr_format_ok(uint32_t addr_format)
{
	return addr_format == FI_FORMAT_UNSPEC || format_is_sin(addr_format);
}

size_t fpgadma_addrlen(uint32_t addr_format)
{
	return format_is_sin(addr_format) ? sizeof(struct sockaddr_in) :
					    sizeof(struct fpgadma_addr);
}

/*
 * 127.<dev>.0.<ep_idx + 1> port ep_id; 127.<dev>.0.0 port 0 is "any
 * endpoint".  Anything else (another family, another network, a third
 * octet not 0, host 0 with a port) is not an fpgadma address.
 */
static int sin_decode(const struct sockaddr_in *sin, struct fpgadma_addr *a)
{
	uint32_t ip = ntohl(sin->sin_addr.s_addr);
	uint32_t port = ntohs(sin->sin_port);
	uint32_t host = ip & 0xff;

	if (sin->sin_family != AF_INET || ip >> 24 != SIN_NET ||
	    ((ip >> 8) & 0xff) != 0)
		return -FI_EINVAL;
	a->magic = FPGADMA_ADDR_MAGIC;
	a->dev_index = (ip >> 16) & 0xff;
	if (host == 0) {
		if (port)
			return -FI_EINVAL;
		a->ep_id = FPGADMA_ADDR_ANY;
		a->ep_idx = FPGADMA_ADDR_ANY;
	} else {
		a->ep_id = port;
		a->ep_idx = host - 1;
	}
	return 0;
}

int fpgadma_addr_decode(uint32_t addr_format, const void *buf,
			struct fpgadma_addr *a)
{
	struct sockaddr_in sin;

	if (!buf)
		return -FI_EINVAL;
	if (!format_is_sin(addr_format)) {
		memcpy(a, buf, sizeof(*a));
		return a->magic == FPGADMA_ADDR_MAGIC ? 0 : -FI_EINVAL;
	}
	memcpy(&sin, buf, sizeof(sin));	/* buf need not be aligned */
	return sin_decode(&sin, a);
}

int fpgadma_addr_encode(uint32_t addr_format, const struct fpgadma_addr *a,
			void *buf)
{
	struct sockaddr_in sin;
	uint32_t host = 0, port = 0;

	if (!format_is_sin(addr_format)) {
		memcpy(buf, a, sizeof(*a));
		return (int)sizeof(*a);
	}
	if (a->dev_index > 0xff)
		return -FI_EADDRNOTAVAIL;
	if (a->ep_id != FPGADMA_ADDR_ANY) {
		if (a->ep_id > UINT16_MAX || a->ep_idx >= 0xff)
			return -FI_EADDRNOTAVAIL;
		host = a->ep_idx + 1;
		port = a->ep_id;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(SIN_NET << 24 | a->dev_index << 16 | host);
	memcpy(buf, &sin, sizeof(sin));
	return (int)sizeof(sin);
}

void fpgadma_addr_str(uint32_t addr_format, const void *buf, char *str,
		      size_t len)
{
	struct fpgadma_addr a;

	if (!buf) {
		snprintf(str, len, "fpgadma://invalid");
	} else if (format_is_sin(addr_format)) {
		struct sockaddr_in sin;
		char ip[INET_ADDRSTRLEN];

		/* Any IPv4 address prints, fpgadma's or not. */
		memcpy(&sin, buf, sizeof(sin));
		if (sin.sin_family != AF_INET ||
		    !inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip)))
			snprintf(str, len, "fpgadma://invalid");
		else
			snprintf(str, len, "fi_sockaddr_in://%s:%u", ip,
				 ntohs(sin.sin_port));
	} else {
		memcpy(&a, buf, sizeof(a));
		if (a.magic != FPGADMA_ADDR_MAGIC)
			snprintf(str, len, "fpgadma://invalid");
		else if (fpgadma_addr_is_fpga(&a))
			snprintf(str, len, "fpgadma://dev%u/fpga",
				 a.dev_index);
		else if (a.ep_id == FPGADMA_ADDR_ANY)
			snprintf(str, len, "fpgadma://dev%u/any",
				 a.dev_index);
		else
			snprintf(str, len, "fpgadma://dev%u/ep%u.%u",
				 a.dev_index, a.ep_id, a.ep_idx);
	}
}

/* "fi_sockaddr_in://A.B.C.D:PORT" */
static int parse_sin(const char *str, struct fpgadma_addr *a)
{
	static const char prefix[] = "fi_sockaddr_in://";
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char ip[INET_ADDRSTRLEN];
	const char *colon, *p;
	unsigned long port;
	char *end;

	if (strncmp(str, prefix, sizeof(prefix) - 1))
		return -FI_ENODATA;
	p = str + sizeof(prefix) - 1;
	colon = strrchr(p, ':');
	if (!colon || (size_t)(colon - p) >= sizeof(ip) ||
	    colon[1] < '0' || colon[1] > '9')
		return -FI_ENODATA;
	memcpy(ip, p, (size_t)(colon - p));
	ip[colon - p] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > UINT16_MAX ||
	    inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		return -FI_ENODATA;
	sin.sin_port = htons((uint16_t)port);
	return sin_decode(&sin, a) ? -FI_ENODATA : 0;
}

int fpgadma_addr_parse(const char *str, struct fpgadma_addr *a)
{
	unsigned int dev, id, idx;
	int len = 0;

	if (!parse_sin(str, a))
		return 0;
	a->magic = FPGADMA_ADDR_MAGIC;
	if (sscanf(str, "fpgadma://dev%u/fpga%n", &dev, &len) == 1 &&
	    (size_t)len == strlen(str)) {
		a->dev_index = dev;
		a->ep_id = 0;
		a->ep_idx = 0;
	} else if (sscanf(str, "fpgadma://dev%u/ep%u.%u%n", &dev, &id, &idx,
			  &len) == 3 && (size_t)len == strlen(str) && id) {
		a->dev_index = dev;
		a->ep_id = id;
		a->ep_idx = idx;
	} else {
		return -FI_ENODATA;
	}
	return 0;
}

struct fpgadma_av {
	struct fid_av av_fid;
	struct fpgadma_domain *domain;
	enum fi_av_type type;
	uint64_t flags;			/* FI_EVENT ... of fi_av_open */
	pthread_mutex_t lock;		/* the table */
	struct fpgadma_addr *table;	/* magic 0: removed */
	size_t count;			/* entries used, removed ones too */
	size_t cap;
	struct fpgadma_eq *eq;		/* fi_av_bind */
	int refs;			/* endpoints bound */
};

static struct fi_ops av_fi_ops;

struct fpgadma_av *fpgadma_av_from_fid(struct fid *fid)
{
	if (!fid || fid->fclass != FI_CLASS_AV || fid->ops != &av_fi_ops)
		return NULL;
	return container_of(fid, struct fpgadma_av, av_fid.fid);
}

void fpgadma_av_get(struct fpgadma_av *av)
{
	__atomic_fetch_add(&av->refs, 1, __ATOMIC_RELAXED);
}

void fpgadma_av_put(struct fpgadma_av *av)
{
	__atomic_fetch_sub(&av->refs, 1, __ATOMIC_RELEASE);
}

struct fpgadma_domain *fpgadma_av_domain(struct fpgadma_av *av)
{
	return av->domain;
}

/* --- the table ------------------------------------------------------------- */

static bool entry_used(const struct fpgadma_addr *a)
{
	return a->magic == FPGADMA_ADDR_MAGIC;
}

/*
 * A peer this domain can reach (a decoded address): its device, a real
 * endpoint or the FPGA.
 */
static int addr_check(const struct fpgadma_av *av, const struct fpgadma_addr *a)
{
	if (a->magic != FPGADMA_ADDR_MAGIC)
		return -FI_EINVAL;
	if (a->dev_index != av->domain->attr.dev_index)
		return -FI_EHOSTUNREACH;	/* engines do not talk across devices */
	if (a->ep_id == FPGADMA_ADDR_ANY || a->ep_idx >= FPGADMA_MAX_EPS)
		return -FI_EINVAL;
	if (fpgadma_addr_is_fpga(a) && a->ep_idx)
		return -FI_EINVAL;
	return 0;
}

/* Room for n more entries; called with av->lock held. */
static int table_reserve(struct fpgadma_av *av, size_t n)
{
	struct fpgadma_addr *t;
	size_t cap = av->cap ? av->cap : 16;

	if (av->count + n <= av->cap)
		return 0;
	while (cap < av->count + n)
		cap *= 2;
	t = realloc(av->table, cap * sizeof(*t));
	if (!t)
		return -FI_ENOMEM;
	av->table = t;
	av->cap = cap;
	return 0;
}

int fpgadma_av_lookup_addr(struct fpgadma_av *av, fi_addr_t fi_addr,
			   struct fpgadma_addr *out)
{
	int ret = -FI_EINVAL;

	pthread_mutex_lock(&av->lock);
	if (fi_addr < av->count && entry_used(&av->table[fi_addr])) {
		*out = av->table[fi_addr];
		ret = 0;
	}
	pthread_mutex_unlock(&av->lock);
	return ret;
}

/*
 * For fi_cq_readfrom: a receive knows the sender's endpoint, the
 * application wants its fi_addr.  A linear search: AVs of this provider
 * hold the endpoints of one device.
 */
fi_addr_t fpgadma_av_reverse(struct fpgadma_av *av, const struct fpgadma_addr *a)
{
	fi_addr_t found = FI_ADDR_NOTAVAIL;
	size_t i;

	pthread_mutex_lock(&av->lock);
	for (i = 0; i < av->count; i++) {
		const struct fpgadma_addr *e = &av->table[i];

		if (entry_used(e) && e->ep_id == a->ep_id &&
		    e->ep_idx == a->ep_idx && e->dev_index == a->dev_index) {
			found = i;
			break;
		}
	}
	pthread_mutex_unlock(&av->lock);
	return found;
}

/* --- fi_av_insert ------------------------------------------------------------ */

/* What is left to say about one call once every address was tried. */
static int insert_report(struct fpgadma_av *av, size_t inserted, void *context)
{
	struct fi_eq_entry done = {
		.fid = &av->av_fid.fid,
		.context = context,
		.data = inserted,
	};
	int ret;

	if (!(av->flags & FI_EVENT))
		return (int)inserted;
	ret = fpgadma_eq_write_event(av->eq, FI_AV_COMPLETE, &done,
				     sizeof(done), 0);
	return ret < 0 ? ret : 0;
}

static int av_insert(struct fid_av *av_fid, const void *addr, size_t count,
		     fi_addr_t *fi_addr, uint64_t flags, void *context)
{
	struct fpgadma_av *av = container_of(av_fid, struct fpgadma_av, av_fid);
	uint32_t format = fpgadma_domain_addr_format(av->domain);
	size_t stride = fpgadma_addrlen(format);
	const uint8_t *in = addr;
	int *sync_err = (flags & FI_SYNC_ERR) ? context : NULL;
	size_t i, inserted = 0;
	int ret;

	if (flags & ~(FI_MORE | FI_SYNC_ERR))
		return -FI_EBADFLAGS;
	if ((av->flags & FI_EVENT) && (!av->eq || sync_err))
		return av->eq ? -FI_EBADFLAGS : -FI_ENOEQ;
	if (count && !addr)
		return -FI_EINVAL;

	pthread_mutex_lock(&av->lock);
	ret = table_reserve(av, count);
	if (ret) {
		pthread_mutex_unlock(&av->lock);
		return ret;
	}
	for (i = 0; i < count; i++) {
		struct fpgadma_addr a;

		ret = fpgadma_addr_decode(format, in + i * stride, &a);
		if (!ret)
			ret = addr_check(av, &a);
		if (sync_err)
			sync_err[i] = -ret;
		if (ret) {
			if (fi_addr)
				fi_addr[i] = FI_ADDR_NOTAVAIL;
			if (av->flags & FI_EVENT)
				fpgadma_eq_write_error(av->eq, &av->av_fid.fid,
						       context, i, -ret, 0);
			continue;
		}
		av->table[av->count] = a;
		if (fi_addr)
			fi_addr[i] = av->count;
		av->count++;
		inserted++;
	}
	pthread_mutex_unlock(&av->lock);
	return insert_report(av, inserted, context);
}

static int av_insertsvc(struct fid_av *av, const char *node,
			const char *service, fi_addr_t *fi_addr,
			uint64_t flags, void *context)
{
	(void)av; (void)node; (void)service; (void)fi_addr; (void)flags;
	(void)context;
	return -FI_ENOSYS;
}

static int av_insertsym(struct fid_av *av, const char *node, size_t nodecnt,
			const char *service, size_t svccnt, fi_addr_t *fi_addr,
			uint64_t flags, void *context)
{
	(void)av; (void)node; (void)nodecnt; (void)service; (void)svccnt;
	(void)fi_addr; (void)flags; (void)context;
	return -FI_ENOSYS;
}

static int av_remove(struct fid_av *av_fid, fi_addr_t *fi_addr, size_t count,
		     uint64_t flags)
{
	struct fpgadma_av *av = container_of(av_fid, struct fpgadma_av, av_fid);
	size_t i;
	int ret = 0;

	if (flags)
		return -FI_EBADFLAGS;
	pthread_mutex_lock(&av->lock);
	/* All or nothing: check every fi_addr first. */
	for (i = 0; i < count; i++) {
		if (fi_addr[i] >= av->count || !entry_used(&av->table[fi_addr[i]])) {
			ret = -FI_EINVAL;
			goto out;
		}
	}
	for (i = 0; i < count; i++)
		memset(&av->table[fi_addr[i]], 0, sizeof(av->table[0]));
out:
	pthread_mutex_unlock(&av->lock);
	return ret;
}

static int av_lookup(struct fid_av *av_fid, fi_addr_t fi_addr, void *addr,
		     size_t *addrlen)
{
	struct fpgadma_av *av = container_of(av_fid, struct fpgadma_av, av_fid);
	uint8_t buf[FI_FPGADMA_ADDRLEN];
	struct fpgadma_addr a;
	int ret, len;

	if (!addrlen)
		return -FI_EINVAL;
	ret = fpgadma_av_lookup_addr(av, fi_addr, &a);
	if (ret)
		return ret;
	/* It was decoded from this format: it encodes back. */
	len = fpgadma_addr_encode(fpgadma_domain_addr_format(av->domain), &a,
				  buf);
	if (len < 0)
		return len;
	if (addr)
		memcpy(addr, buf, *addrlen < (size_t)len ? *addrlen : (size_t)len);
	*addrlen = (size_t)len;
	return 0;
}

static const char *av_straddr(struct fid_av *av_fid, const void *addr,
			      char *buf, size_t *len)
{
	struct fpgadma_av *av = container_of(av_fid, struct fpgadma_av, av_fid);
	char str[64];

	fpgadma_addr_str(fpgadma_domain_addr_format(av->domain), addr, str,
			 sizeof(str));
	if (buf && *len) {
		strncpy(buf, str, *len - 1);
		buf[*len - 1] = '\0';
	}
	*len = strlen(str) + 1;
	return buf;
}

static int av_no_set(struct fid_av *av, struct fi_av_set_attr *attr,
		     struct fid_av_set **av_set, void *context)
{
	(void)av; (void)attr; (void)av_set; (void)context;
	return -FI_ENOSYS;
}

static int av_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	struct fpgadma_av *av = container_of(fid, struct fpgadma_av, av_fid.fid);
	struct fpgadma_eq *eq = fpgadma_eq_from_fid(bfid);

	if (flags)
		return -FI_EBADFLAGS;
	if (!eq)
		return -FI_EINVAL;
	if (av->eq)
		return -FI_EBUSY;
	fpgadma_eq_get(eq);
	av->eq = eq;
	return 0;
}

static int av_close(struct fid *fid)
{
	struct fpgadma_av *av = container_of(fid, struct fpgadma_av, av_fid.fid);

	if (__atomic_load_n(&av->refs, __ATOMIC_ACQUIRE))
		return -FI_EBUSY;
	if (av->eq)
		fpgadma_eq_put(av->eq);
	fpgadma_domain_put(av->domain);
	pthread_mutex_destroy(&av->lock);
	free(av->table);
	free(av);
	return 0;
}

static struct fi_ops av_fi_ops = {
	.size = sizeof(struct fi_ops),
	.close = av_close,
	.bind = av_bind,
	.control = fpgadma_no_control,
	.ops_open = fpgadma_no_ops_open,
	.tostr = fpgadma_no_tostr,
	.ops_set = fpgadma_no_ops_set,
};

static struct fi_ops_av av_ops = {
	.size = sizeof(struct fi_ops_av),
	.insert = av_insert,
	.insertsvc = av_insertsvc,
	.insertsym = av_insertsym,
	.remove = av_remove,
	.lookup = av_lookup,
	.straddr = av_straddr,
	.av_set = av_no_set,
};

int fpgadma_av_open(struct fid_domain *domain, struct fi_av_attr *attr,
		    struct fid_av **av_fid, void *context)
{
	struct fpgadma_domain *d =
		container_of(domain, struct fpgadma_domain, domain_fid);
	struct fpgadma_av *av;
	int ret;

	if (!attr)
		return -FI_EINVAL;
	if (attr->type != FI_AV_UNSPEC && attr->type != FI_AV_MAP &&
	    attr->type != FI_AV_TABLE)
		return -FI_EINVAL;
	if (attr->name || attr->rx_ctx_bits)
		return -FI_ENOSYS;	/* no shared AVs, no scalable endpoints */
	if (attr->flags & ~(FI_EVENT | FI_SYMMETRIC))
		return -FI_EBADFLAGS;

	av = calloc(1, sizeof(*av));
	if (!av)
		return -FI_ENOMEM;
	ret = -pthread_mutex_init(&av->lock, NULL);
	if (ret) {
		free(av);
		return ret;
	}
	av->domain = d;
	av->type = attr->type == FI_AV_UNSPEC ? FI_AV_TABLE : attr->type;
	av->flags = attr->flags;
	av->av_fid.fid.fclass = FI_CLASS_AV;
	av->av_fid.fid.context = context;
	av->av_fid.fid.ops = &av_fi_ops;
	av->av_fid.ops = &av_ops;
	fpgadma_domain_get(d);
	*av_fid = &av->av_fid;
	return 0;
}
