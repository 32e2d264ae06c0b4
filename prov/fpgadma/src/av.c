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
 *
 * Named AVs (attr->name, FI_SHARED_AV) keep their table in POSIX shared
 * memory instead, so that the processes of a node share one table and
 * its fi_addr values; "named AVs" below says how.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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

int fpgadma_addr_out(uint32_t addr_format, const struct fpgadma_addr *a,
		     void *addr, size_t *addrlen)
{
	uint8_t buf[FI_FPGADMA_ADDRLEN];
	size_t room;
	int n;

	if (!addrlen)
		return -FI_EINVAL;
	n = fpgadma_addr_encode(addr_format, a, buf);
	if (n < 0)
		return n;
	room = *addrlen;
	*addrlen = (size_t)n;
	if (room < (size_t)n || !addr)
		return -FI_ETOOSMALL;
	memcpy(addr, buf, (size_t)n);
	return 0;
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

struct av_shm;

/*
 * The reverse lookup's cache: the fi_addr last found for an address, at
 * its hash.  Indices are never reused, so an entry is right while the
 * table's entry at it is still used and holds the address: the linear
 * search would find it first (a later duplicate has a higher index).
 */
#define AV_RCACHE	256

struct fpgadma_av {
	struct fid_av av_fid;
	struct fpgadma_domain *domain;
	enum fi_av_type type;
	uint64_t flags;			/* FI_EVENT ... of fi_av_open */
	pthread_mutex_t lock;		/* the table (a named AV's: its writers) */
	struct fpgadma_addr *table;	/* magic 0: removed */
	size_t count;			/* entries used, removed ones too */
	size_t cap;
	struct av_shm *shm;		/* a named AV's table; NULL: the above */
	struct fpgadma_eq *eq;		/* fi_av_bind */
	int refs;			/* endpoints bound */
	uint64_t rcache[AV_RCACHE];	/* the reverse lookup's: fi_addr + 1 */
	uint64_t removals;		/* fi_av_remove's entries (fpgadma_av_epoch) */
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

/* --- named AVs --------------------------------------------------------------- */
/*
 * A named AV's table is a POSIX shared memory object, so every process of
 * the node that opens the same name (any domain of the same device) sees
 * the same entries under the same fi_addr values.
 *
 * Name: "/fpgadma-av-<uid>-<name>", attr->name with '%' written "%25" and
 * '/' written "%2F" (so no two names meet), at most NAME_MAX bytes in all
 * (else -FI_EINVAL); the uid keeps the AVs of users apart.  The object is
 * created 0600: the processes sharing an AV run as one user.
 *
 * Layout: a header, then map[cap] (fi_addr_t, what attr->map_addr points
 * to: map[i] is i once entry i is in), then slot[cap].  cap is fixed by
 * whoever creates the object: attr->count, at least AV_SHM_MIN_CAP (the
 * object is sparse: unused entries cost no memory), at most AV_SHM_MAX_CAP;
 * an insertion beyond it fails with FI_ENOSPC.  Indices are never reused.
 *
 * Readers take no lock: a slot's address is written before its state
 * turns SLOT_USED (a release store), and never changes after; fi_av_remove
 * only turns the state to SLOT_REMOVED.  count (the slots handed out) is
 * published the same way.  So a lookup in any process sees every entry
 * inserted before it, whenever that process opened the AV.
 *
 * Writers, and opening and closing, are serialised by an open file
 * description lock (F_OFD_SETLKW) on byte AV_LOCK_META of the object.
 * Every opener holds a read lock on byte AV_LOCK_LIVE while it has the AV
 * open; the kernel drops it when the process ends, however it ends.  So
 * "am I the only one?" is "can I take a write lock on AV_LOCK_LIVE?":
 *
 *   - fi_av_open without FI_READ creates the object if need be; if it is
 *     alone on it (new, or left over by processes that died without
 *     fi_close) it (re)initialises it, empty.  Else it opens the table as
 *     it is (its cap, its type: attr->count and attr->type are ignored).
 *   - fi_av_open with FI_READ needs a live object: -FI_ENOENT when there
 *     is none (or only a leftover).  Its table is mapped read-only;
 *     fi_av_insert and fi_av_remove fail with -FI_EPERM.
 *   - fi_close: the last process to close the AV (reader or writer)
 *     unlinks the name, as fi_av(3) says: the AV goes when every process
 *     has closed it.
 *
 * Every opener opens the object read-write (for the locks), a reader
 * maps it read-only.  Without file locks (a kernel without
 * CONFIG_FILE_LOCKING) fi_av_open of a name fails with -FI_ENOSYS.  The table holds the device's addresses; a domain of
 * another device gets -FI_EINVAL.
 */
#define AV_SHM_PREFIX	"/fpgadma-av-"
#define AV_SHM_MAGIC	0x56415046U	/* "FPAV" little-endian */
#define AV_SHM_VERSION	1U
#define AV_SHM_MIN_CAP	65536U
#define AV_SHM_MAX_CAP	(1U << 24)
#define AV_LOCK_META	0
#define AV_LOCK_LIVE	1
/* How long a reader waits for a creator between its shm_open and lock. */
#define AV_SHM_OPEN_TRIES 1000		/* of 1 ms */

enum { SLOT_FREE, SLOT_USED, SLOT_REMOVED };

struct av_shm_slot {
	uint32_t state;			/* SLOT_*: atomic, written last */
	uint32_t pad;
	struct fpgadma_addr addr;	/* fixed once SLOT_USED */
};

struct av_shm_hdr {
	uint32_t magic;			/* AV_SHM_MAGIC */
	uint32_t version;		/* AV_SHM_VERSION */
	uint32_t type;			/* the creator's enum fi_av_type */
	uint32_t dev_index;		/* the device whose addresses it holds */
	uint64_t cap;			/* entries of map[] and slot[] */
	uint64_t count;			/* slots handed out: atomic */
	uint8_t pad[32];
};
_Static_assert(sizeof(struct av_shm_hdr) == 64, "a named AV's header is 64 bytes");

struct av_shm {
	int fd;
	bool rdonly;			/* FI_READ */
	struct av_shm_hdr *hdr;		/* the mapping */
	size_t len;
	fi_addr_t *map;			/* attr->map_addr */
	struct av_shm_slot *slot;
	char name[NAME_MAX + 2];	/* of the object, with its '/' */
};

static size_t shm_len(uint64_t cap)
{
	return sizeof(struct av_shm_hdr) +
	       cap * (sizeof(fi_addr_t) + sizeof(struct av_shm_slot));
}

static int shm_objname(const char *name, char *out, size_t len)
{
	size_t n;
	int ret;

	if (!*name)
		return -FI_EINVAL;
	ret = snprintf(out, len, AV_SHM_PREFIX "%u-", (unsigned int)getuid());
	if (ret < 0 || (size_t)ret >= len)
		return -FI_EINVAL;
	n = (size_t)ret;
	for (; *name; name++) {
		const char *esc = *name == '/' ? "%2F" : *name == '%' ? "%25" : NULL;
		size_t add = esc ? 3 : 1;

		if (n + add > NAME_MAX + 1)	/* the '/' is not part of it */
			return -FI_EINVAL;
		if (esc)
			memcpy(out + n, esc, 3);
		else
			out[n] = *name;
		n += add;
	}
	out[n] = '\0';
	return 0;
}

/* An OFD lock of type (F_RDLCK, F_WRLCK, F_UNLCK) on one byte; 0 or -errno. */
static int ofd_lock(int fd, short type, off_t byte, bool wait)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = byte,
		.l_len = 1,
	};
	int ret;

	do {
		ret = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
	} while (ret && errno == EINTR);
	return ret ? -errno : 0;
}

/* The header of an object someone else initialised: is it a named AV? */
static int shm_check(const struct av_shm_hdr *h, off_t size, const char *name)
{
	if ((size_t)size < sizeof(*h) || h->magic != AV_SHM_MAGIC ||
	    h->version != AV_SHM_VERSION || !h->cap || h->cap > AV_SHM_MAX_CAP ||
	    (size_t)size < shm_len(h->cap)) {
		FPGADMA_WARN(FI_LOG_AV, "%s: not an fpgadma named AV\n", name);
		return -FI_EINVAL;
	}
	return 0;
}

static void shm_free(struct av_shm *s)
{
	if (s->hdr)
		munmap(s->hdr, s->len);
	if (s->fd >= 0)
		close(s->fd);		/* drops its locks */
	free(s);
}

/* Alone on a new or left-over object: make it an empty table. */
static int shm_init(struct av_shm *s, const struct fpgadma_av *av,
		    size_t count)
{
	uint64_t cap = count < AV_SHM_MIN_CAP ? AV_SHM_MIN_CAP :
		       count > AV_SHM_MAX_CAP ? AV_SHM_MAX_CAP : count;
	void *p;

	s->len = shm_len(cap);
	/* Truncating to 0 first zeroes whatever was left in it. */
	if (ftruncate(s->fd, 0) || ftruncate(s->fd, (off_t)s->len))
		return -errno;
	p = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->hdr = p;
	s->hdr->version = AV_SHM_VERSION;
	s->hdr->type = av->type;
	s->hdr->dev_index = av->domain->attr.dev_index;
	s->hdr->cap = cap;
	__atomic_store_n(&s->hdr->magic, AV_SHM_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Map an object others have open (we hold AV_LOCK_META). */
static int shm_map(struct av_shm *s, off_t size)
{
	struct av_shm_hdr h;
	void *p;
	int ret;

	if ((size_t)size < sizeof(h) || pread(s->fd, &h, sizeof(h), 0) != sizeof(h))
		memset(&h, 0, sizeof(h));
	ret = shm_check(&h, size, s->name);
	if (ret)
		return ret;
	s->len = shm_len(h.cap);
	p = mmap(NULL, s->len, PROT_READ | (s->rdonly ? 0 : PROT_WRITE),
		 MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->hdr = p;
	return 0;
}

/*
 * One try at opening the object: 0, -FI_EAGAIN to try again (it went or
 * is being created), or an error.  Holds AV_LOCK_META while it looks.
 */
static int shm_try_open(struct av_shm *s, const struct fpgadma_av *av,
			size_t count)
{
	bool alone, created = false;
	struct stat st;
	int ret;

	if (!s->rdonly) {
		s->fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL, 0600);
		created = s->fd >= 0;
		if (s->fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (s->fd < 0)
		s->fd = shm_open(s->name, O_RDWR, 0);
	if (s->fd < 0 && errno == ENOENT)	/* a writer: it just went */
		return s->rdonly ? -FI_ENOENT : -FI_EAGAIN;
	if (s->fd < 0)
		return -errno;
	ret = ofd_lock(s->fd, F_WRLCK, AV_LOCK_META, true);
	if (ret == -EINVAL || ret == -EACCES) {
		/* What a kernel without CONFIG_FILE_LOCKING says to any lock. */
		FPGADMA_WARN(FI_LOG_AV, "%s: no file locks (%s): named AVs need "
			     "the kernel's POSIX file locking\n", s->name,
			     strerror(-ret));
		if (created)
			shm_unlink(s->name);
		return -FI_ENOSYS;
	}
	if (ret)
		return ret;
	if (fstat(s->fd, &st))
		return -errno;
	if (!st.st_nlink)
		return -FI_EAGAIN;	/* its last process unlinked it */
	alone = !ofd_lock(s->fd, F_WRLCK, AV_LOCK_LIVE, false);
	if (alone && s->rdonly)
		/* being created (size 0), or a leftover: no AV to read */
		return st.st_size ? -FI_ENOENT : -FI_EAGAIN;
	if (alone)
		ret = shm_init(s, av, count);
	else
		ret = shm_map(s, st.st_size);
	if (ret)
		return ret;
	/* From a write lock (alone) or none: others may read-lock it too. */
	ret = ofd_lock(s->fd, F_RDLCK, AV_LOCK_LIVE, false);
	if (ret)
		return ret;
	return ofd_lock(s->fd, F_UNLCK, AV_LOCK_META, false);
}

static int shm_open_av(struct fpgadma_av *av, struct fi_av_attr *attr)
{
	struct av_shm *s;
	unsigned int tries;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -FI_ENOMEM;
	s->fd = -1;
	s->rdonly = attr->flags & FI_READ;
	ret = shm_objname(attr->name, s->name, sizeof(s->name));
	if (ret) {
		FPGADMA_WARN(FI_LOG_AV, "AV name \"%s\": empty or too long\n",
			     attr->name);
		free(s);
		return ret;
	}
	for (tries = 0;; tries++) {
		ret = shm_try_open(s, av, attr->count);
		if (ret != -FI_EAGAIN || tries == AV_SHM_OPEN_TRIES)
			break;
		if (s->hdr)
			munmap(s->hdr, s->len);
		s->hdr = NULL;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		usleep(1000);
	}
	if (ret == -FI_EAGAIN)
		ret = -FI_ENOENT;
	if (!ret && s->hdr->dev_index != av->domain->attr.dev_index) {
		FPGADMA_WARN(FI_LOG_AV, "%s holds addresses of device %u, not %u\n",
			     s->name, s->hdr->dev_index,
			     av->domain->attr.dev_index);
		ret = -FI_EINVAL;
	}
	if (ret) {
		FPGADMA_INFO(FI_LOG_AV, "AV %s: %s\n", s->name, fi_strerror(-ret));
		shm_free(s);
		return ret;
	}
	s->map = (fi_addr_t *)(s->hdr + 1);
	s->slot = (struct av_shm_slot *)(s->map + s->hdr->cap);
	av->type = s->hdr->type;
	av->shm = s;
	attr->map_addr = s->map;
	FPGADMA_INFO(FI_LOG_AV, "AV %s: %s, %llu entries\n", s->name,
		     s->rdonly ? "read-only" : "read-write",
		     (unsigned long long)s->hdr->cap);
	return 0;
}

/* fi_close: the last process to close the AV unlinks its name. */
static void shm_close_av(struct av_shm *s)
{
	struct stat st;

	if (!ofd_lock(s->fd, F_WRLCK, AV_LOCK_META, true) &&
	    !ofd_lock(s->fd, F_WRLCK, AV_LOCK_LIVE, false) &&
	    !fstat(s->fd, &st) && st.st_nlink)
		shm_unlink(s->name);
	shm_free(s);
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

	/* a count no table can hold: no wrap-around below */
	if (n > SIZE_MAX / sizeof(*t) / 2 - av->count)
		return -FI_ENOMEM;
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

/* A named AV's entry i, read without a lock (see "named AVs"). */
static bool shm_get(const struct av_shm *s, uint64_t i, struct fpgadma_addr *out)
{
	if (i >= s->hdr->cap ||
	    __atomic_load_n(&s->slot[i].state, __ATOMIC_ACQUIRE) != SLOT_USED)
		return false;
	*out = s->slot[i].addr;
	return true;
}

/* Entries handed out so far (removed ones too). */
static uint64_t entries(const struct fpgadma_av *av)
{
	if (av->shm)
		return __atomic_load_n(&av->shm->hdr->count, __ATOMIC_ACQUIRE);
	return av->count;
}

int fpgadma_av_lookup_addr(struct fpgadma_av *av, fi_addr_t fi_addr,
			   struct fpgadma_addr *out)
{
	int ret = -FI_EINVAL;

	if (av->shm)
		return shm_get(av->shm, fi_addr, out) ? 0 : -FI_EINVAL;
	pthread_mutex_lock(&av->lock);
	if (fi_addr < av->count && entry_used(&av->table[fi_addr])) {
		*out = av->table[fi_addr];
		ret = 0;
	}
	pthread_mutex_unlock(&av->lock);
	return ret;
}

/* Entry i if it is used (a copy of a named AV's), else NULL. */
static const struct fpgadma_addr *entry_at(const struct fpgadma_av *av,
					   uint64_t i,
					   struct fpgadma_addr *shared)
{
	if (av->shm)
		return shm_get(av->shm, i, shared) ? shared : NULL;
	return entry_used(&av->table[i]) ? &av->table[i] : NULL;
}

static bool same_peer(const struct fpgadma_addr *e, const struct fpgadma_addr *a)
{
	return e->ep_id == a->ep_id && e->ep_idx == a->ep_idx &&
	       e->dev_index == a->dev_index;
}

/*
 * For fi_cq_readfrom and FI_DIRECTED_RECV: a receive knows the sender's
 * endpoint, the application wants its fi_addr, for every message.  The
 * cache answers in one look; a miss searches the table (the first entry
 * with the address, as without the cache) and remembers what it found.
 */
fi_addr_t fpgadma_av_reverse(struct fpgadma_av *av, const struct fpgadma_addr *a)
{
	fi_addr_t found = FI_ADDR_NOTAVAIL;
	const struct fpgadma_addr *e;
	struct fpgadma_addr shared;
	uint32_t h;
	uint64_t i, n, c;

	h = (a->ep_id * 2654435761U ^ (uint32_t)a->ep_idx * 40503U ^
	     a->dev_index) % AV_RCACHE;
	/* A named AV is read without a lock (see "named AVs"). */
	if (!av->shm)
		pthread_mutex_lock(&av->lock);
	n = entries(av);
	c = __atomic_load_n(&av->rcache[h], __ATOMIC_RELAXED);
	if (c && c - 1 < n) {
		e = entry_at(av, c - 1, &shared);
		if (e && same_peer(e, a)) {
			found = c - 1;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		e = entry_at(av, i, &shared);
		if (e && same_peer(e, a)) {
			found = i;
			__atomic_store_n(&av->rcache[h], i + 1,
					 __ATOMIC_RELAXED);
			break;
		}
	}
out:
	if (!av->shm)
		pthread_mutex_unlock(&av->lock);
	return found;
}

/*
 * The writers' lock (av->lock, and a named AV's AV_LOCK_META) with room
 * for n more entries (a named AV has its fixed cap: table_add says).
 */
static int table_lock(struct fpgadma_av *av, size_t n)
{
	int ret;

	if (av->shm && av->shm->rdonly)
		return -FI_EPERM;
	pthread_mutex_lock(&av->lock);
	ret = av->shm ? ofd_lock(av->shm->fd, F_WRLCK, AV_LOCK_META, true) :
			table_reserve(av, n);
	if (ret)
		pthread_mutex_unlock(&av->lock);
	return ret;
}

static void table_unlock(struct fpgadma_av *av)
{
	if (av->shm)
		(void)ofd_lock(av->shm->fd, F_UNLCK, AV_LOCK_META, false);
	pthread_mutex_unlock(&av->lock);
}

/* Append a checked address (table_lock held): its fi_addr in *out. */
static int table_add(struct fpgadma_av *av, const struct fpgadma_addr *a,
		     fi_addr_t *out)
{
	struct av_shm *s = av->shm;
	uint64_t i;

	if (!s) {
		av->table[av->count] = *a;
		*out = av->count++;
		return 0;
	}
	i = s->hdr->count;
	/*
	 * A writer that died between publishing its slot and the count left
	 * a slot in use past the count: readers may hold its fi_addr, so it
	 * is never written again.
	 */
	while (i < s->hdr->cap &&
	       __atomic_load_n(&s->slot[i].state, __ATOMIC_ACQUIRE) != SLOT_FREE)
		i++;
	if (i != s->hdr->count)
		__atomic_store_n(&s->hdr->count, i, __ATOMIC_RELEASE);
	if (i >= s->hdr->cap)
		return -FI_ENOSPC;
	s->slot[i].addr = *a;
	s->map[i] = i;
	__atomic_store_n(&s->slot[i].state, SLOT_USED, __ATOMIC_RELEASE);
	__atomic_store_n(&s->hdr->count, i + 1, __ATOMIC_RELEASE);
	*out = i;
	return 0;
}

/* Is fi_addr an entry in use (table_lock held)? */
static bool table_has(struct fpgadma_av *av, fi_addr_t fi_addr)
{
	struct fpgadma_addr a;

	if (av->shm)
		return shm_get(av->shm, fi_addr, &a);
	return fi_addr < av->count && entry_used(&av->table[fi_addr]);
}

static void table_remove(struct fpgadma_av *av, fi_addr_t fi_addr)
{
	if (av->shm)
		__atomic_store_n(&av->shm->slot[fi_addr].state, SLOT_REMOVED,
				 __ATOMIC_RELEASE);
	else
		memset(&av->table[fi_addr], 0, sizeof(av->table[0]));
	__atomic_add_fetch(&av->removals, 1, __ATOMIC_RELEASE);
}

bool fpgadma_av_epoch(struct fpgadma_av *av, uint64_t *epoch)
{
	if (av->shm)
		return false;	/* other processes remove too */
	*epoch = __atomic_load_n(&av->removals, __ATOMIC_ACQUIRE);
	return true;
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

	ret = table_lock(av, count);
	if (ret)
		return ret;
	for (i = 0; i < count; i++) {
		struct fpgadma_addr a;
		fi_addr_t fa;

		ret = fpgadma_addr_decode(format, in + i * stride, &a);
		if (!ret)
			ret = addr_check(av, &a);
		if (!ret)
			ret = table_add(av, &a, &fa);
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
		if (fi_addr)
			fi_addr[i] = fa;
		inserted++;
	}
	table_unlock(av);
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
	if (count && !fi_addr)
		return -FI_EINVAL;
	ret = table_lock(av, 0);
	if (ret)
		return ret;
	/* All or nothing: check every fi_addr first. */
	for (i = 0; i < count; i++) {
		if (!table_has(av, fi_addr[i])) {
			ret = -FI_EINVAL;
			goto out;
		}
	}
	for (i = 0; i < count; i++)
		table_remove(av, fi_addr[i]);
out:
	table_unlock(av);
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
	if (av->shm)
		shm_close_av(av->shm);
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
	if (attr->rx_ctx_bits)
		return -FI_ENOSYS;	/* no scalable endpoints */
	if (attr->flags & ~(FI_EVENT | FI_SYMMETRIC | FI_READ))
		return -FI_EBADFLAGS;
	if ((attr->flags & FI_READ) && !attr->name)
		return -FI_EINVAL;	/* read-only: of a named AV (fi_av(3)) */

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
	if (attr->name) {
		ret = shm_open_av(av, attr);
		if (ret) {
			pthread_mutex_destroy(&av->lock);
			free(av);
			return ret;
		}
	}
	fpgadma_domain_get(d);
	*av_fid = &av->av_fid;
	return 0;
}
