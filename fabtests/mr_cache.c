// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mr_cache: what moves from or to an address is the memory mapped there
 * now, whatever happened to the memory before; against any provider.
 *
 * A provider with a registration cache (buffers passed without desc, or
 * fi_mr_reg of a range registered before, registered once and reused) must
 * notice when the memory under a cached range goes away; a stale entry
 * moves the data of pages no longer mapped at the address.  For every way
 * of changing the memory, every data path and every shape below, the
 * operation runs once on the old memory (so that a cache holds it), the
 * memory changes, NEW content (from a seed of its own) is written, and the
 * operation runs again: the other side must see the NEW content.  A
 * failure says whether what arrived is the OLD content (stale), nothing
 * (the destination untouched), a fork child's content, or garbage.
 *
 * Ways of changing the memory under the address:
 *   munmap+MAP_FIXED      munmap, then fresh anonymous memory mapped at the
 *                         same address (MAP_FIXED_NOREPLACE: never over a
 *                         mapping another thread made in between)
 *   brk                   sbrk(-n) then sbrk(n): the break's end shrinks
 *                         and grows again at the same address (malloc kept
 *                         off the break meanwhile by mmap threshold 1)
 *   mremap-away           mremap(MREMAP_MAYMOVE | MREMAP_FIXED) of the pages
 *                         elsewhere, fresh memory mapped at the address
 *   mremap-onto           other pages moved onto the address by mremap
 *   MADV_DONTNEED         on private anonymous memory: zero-filled pages
 *                         (checked), then the new content
 *   free+malloc           glibc's mmap threshold at 1 (mallopt) and the
 *                         heap's top trimmed: free() unmaps the block,
 *                         malloc() maps a new one, mostly at the same
 *                         address (said when not, and when free kept the
 *                         memory, as under valgrind)
 *   realloc-grow          realloc to 4 times the size (moving or in place)
 *   realloc-shrink+grow   realloc to less than the operation's range and
 *                         back: the pages past the cut are new
 *   rewrite               no change of the mapping, new content written in
 *                         place (a cache must not keep a copy of the data)
 *   fork-then-write       fork(): the child writes content of its own into
 *                         its copy and exits, the parent waits, then writes
 *                         the new content
 *   fork+write-in-parent  fork(): the child writes its copy, then the parent
 *                         writes the new content while the child lives
 *                         (copy-on-write breaks in the parent); the child
 *                         checks that its copy kept its own content
 * and three controls where the content stays the same and must arrive again:
 *   unchanged             nothing happens between the two operations
 *   mprotect              PROT_READ, then PROT_READ | PROT_WRITE again
 *   fork                  fork(): the child writes content of its own into
 *                         its copy and exits, the parent waits; the parent's
 *                         memory is unchanged
 * After a fork the child's content arriving is said (CHILD).  The child
 * checks that its copy held the parent's content; killed by a signal (the
 * memory not inherited: MADV_DONTFORK) it is said after the verdict.
 *
 * Data paths, from ep0 to ep1 (two domains in one process; -s: one):
 *   send         fi_send from the address, desc NULL, into ep1's buffer
 *   write        fi_write from the address, desc NULL, into ep1's MR
 *   read         fi_read into the address, desc NULL, from ep1's MR (what
 *                lands at the address is checked; before each read the
 *                address holds a pattern of its own)
 *   mr_reg+send  fi_mr_reg of the range, fi_send with fi_mr_desc, fi_close
 *                of the MR; after the change a new fi_mr_reg of the range
 * Shapes: 4 KiB (eager on most providers) and 1 MiB (rendezvous; -M), each
 * at offset 0 and 100 of the memory (of a page, or of malloc's block).  A
 * case whose change cannot be made here (another thread mapped the address
 * or moved the break in between) says "not checked" and why.
 *
 * The hints leave FI_MR_LOCAL out (desc NULL must do); FI_MR_ENDPOINT is
 * asked for only when the provider offers nothing without it.  A provider
 * that needs FI_MR_LOCAL has no cache of this kind: the program skips.
 * Every case is one line ("munmap+MAP_FIXED send 4096 +0: new content
 * ok"); exit 0 pass, 1 fail, 77 skip.
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>


#define KiB		1024UL
#define MiB		(1024UL * 1024UL)
#define RX_BYTE		0xa5	/* ep1's receive buffer and target before an operation */
#define MMAP_THRESHOLD_DEFAULT	(128 * 1024)	/* glibc's M_MMAP_THRESHOLD */

static bool one_domain;
static size_t big_size = MiB;
static size_t page_size;

static int opt(int c, const char *arg)
{
	switch (c) {
	case 's':
		one_domain = true;
		return 0;
	case 'M':
		big_size = strtoull(arg, NULL, 0);
		return big_size ? 0 : -1;
	}
	return -1;
}

static size_t page_up(size_t n)
{
	return (n + page_size - 1) / page_size * page_size;
}

/* ---- content: patterns of 8-byte words, fast on an emulated CPU ---- */

/* What a buffer should hold: a pattern, or one byte everywhere. */
struct content {
	bool is_byte;
	uint8_t byte;
	uint64_t base;		/* the pattern's seed, mixed */
};

static struct content pattern(uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;

	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBULL;
	return (struct content){ .base = x ^ (x >> 31) };
}

static struct content all_bytes(uint8_t c)
{
	return (struct content){ .is_byte = true, .byte = c };
}

/* Word k (bytes 8k to 8k + 7) of the pattern of base. */
static inline uint64_t pat_word(uint64_t base, uint64_t k)
{
	uint64_t x = (base + k) * 0xD6E8FEB86659FD93ULL;

	return x ^ (x >> 32);
}

/* Word k of c. */
static inline uint64_t content_word(const struct content *c, uint64_t k)
{
	return c->is_byte ? c->byte * 0x0101010101010101ULL : pat_word(c->base, k);
}

static uint8_t content_byte(const struct content *c, size_t i)
{
	uint64_t w = content_word(c, i / 8);
	uint8_t b[8];

	memcpy(b, &w, 8);
	return b[i % 8];
}

static void fill(uint8_t *p, size_t len, const struct content *c)
{
	size_t k, n = len / 8;
	uint64_t w;

	if (c->is_byte) {
		memset(p, c->byte, len);
		return;
	}
	for (k = 0; k < n; k++) {
		w = pat_word(c->base, k);
		memcpy(p + 8 * k, &w, 8);
	}
	w = pat_word(c->base, n);
	memcpy(p + 8 * n, &w, len % 8);
}

/*
 * How many of the first bytes of p hold c, counted from byte 8k on (the
 * ones before are known to): a multiple of 8, or len.
 */
static size_t holds_upto(const uint8_t *p, size_t len, const struct content *c, size_t k)
{
	size_t n = len / 8;
	uint64_t v, w;

	if (c->is_byte) {
		w = content_word(c, 0);
		for (; k < n; k++) {
			memcpy(&v, p + 8 * k, 8);
			if (v != w)
				return 8 * k;
		}
	} else {
		for (; k < n; k++) {
			memcpy(&v, p + 8 * k, 8);
			if (v != pat_word(c->base, k))
				return 8 * k;
		}
	}
	w = content_word(c, n);
	return memcmp(p + 8 * n, &w, len % 8) ? 8 * n : len;
}

/* p holds c (the quick test). */
static bool holds(const uint8_t *p, size_t len, const struct content *c)
{
	return holds_upto(p, len, c, 0) == len;
}

/*
 * got holds want?  If not, why says how it differs: how many of the wrong
 * bytes are the old content (stale; old may be NULL before the change),
 * how many a fork child's content (child: NULL without a fork), how many
 * what the destination held before the operation (before), and how many
 * none of them (garbage).  A byte matches one of them by chance 1 time in
 * 256: more than 1/16 of the wrong bytes old is called stale.
 */
static bool judge(const uint8_t *got, size_t len, const struct content *want,
		  const struct content *old, const struct content *child,
		  const struct content *before, const char *before_means, char *why,
		  size_t whylen)
{
	size_t i, wrong = 0, n_old = 0, n_child = 0, n_before = 0, garbage = 0, first = len;

	if (holds(got, len, want))
		return true;
	for (i = 0; i < len; i++) {
		bool is_old, is_child, is_before;

		if (got[i] == content_byte(want, i))
			continue;
		if (!wrong++)
			first = i;
		is_old = old && got[i] == content_byte(old, i);
		is_child = child && got[i] == content_byte(child, i);
		is_before = got[i] == content_byte(before, i);
		n_old += is_old;
		n_child += is_child;
		n_before += is_before;
		garbage += !is_old && !is_child && !is_before;
	}
	i = (size_t)snprintf(why, whylen, "%zu of %zu bytes wrong, the first at byte %zu "
			     "(0x%02x, expected 0x%02x): ", wrong, len, first, got[first],
			     content_byte(want, first));
	if (i >= whylen)
		return false;
	if (old && n_old == wrong)
		snprintf(why + i, whylen - i, "every one the OLD content (STALE)");
	else if (child && n_child == wrong)
		snprintf(why + i, whylen - i, "every one the fork CHILD's content");
	else if (n_before == wrong)
		snprintf(why + i, whylen - i, "%s", before_means);
	else if (child)
		snprintf(why + i, whylen - i, "%zu the OLD content%s, %zu the fork CHILD's, "
			 "%zu unchanged (%s), %zu garbage", n_old, n_old > wrong / 16 ?
			 " (STALE)" : "", n_child, n_before, before_means, garbage);
	else if (old)
		snprintf(why + i, whylen - i, "%zu the OLD content%s, %zu unchanged (%s), "
			 "%zu garbage", n_old, n_old > wrong / 16 ? " (STALE)" : "", n_before,
			 before_means, garbage);
	else
		snprintf(why + i, whylen - i, "%zu unchanged (%s), %zu garbage", n_before,
			 before_means, garbage);
	return false;
}

/* ---- the endpoints ---- */

struct ctx {
	struct ft_pair p;
	size_t max_len;
	uint8_t *rbuf;		/* ep1's receive buffer */
	uint8_t *t;		/* ep1's MR: the target of fi_write, the source of fi_read */
	struct fid_mr *tmr;
	uint64_t tkey, tbase;
};

static struct ctx C;

static int try_open(uint64_t mr_mode, const char **why)
{
	struct fi_info *hints = ft_hints(FI_MSG | FI_RMA, mr_mode);

	return ft_pair_open(&C.p, hints, one_domain, 0, why);
}

static void ctx_open(void)
{
	const uint64_t mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	const char *why = NULL;
	struct ft_dom *td;
	int ret;

	if (try_open(mode, &why) && try_open(mode | FI_MR_ENDPOINT, &why)) {
		/* Would it match with FI_MR_LOCAL?  Then that is the reason. */
		struct fi_info *hints = ft_hints(FI_MSG | FI_RMA, mode | FI_MR_ENDPOINT |
						 FI_MR_LOCAL), *info = NULL;
		int r = fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), NULL, NULL,
				   0, hints, &info);
		const char *prov = ft_opts.prov ? ft_opts.prov : "(any)";

		fi_freeinfo(hints);
		fi_freeinfo(info);
		if (!r)
			ft_skip("provider %s: needs FI_MR_LOCAL (a desc for every buffer): no "
				"buffers without desc to cache", prov);
		ft_skip("provider %s: %s for FI_MSG | FI_RMA on FI_EP_RDM", prov, why);
	}
	ft_describe(&C.p.dom[0]);
	C.max_len = FT_MIN(big_size, C.p.dom[0].info->ep_attr->max_msg_size);
	C.rbuf = ft_xmalloc(C.max_len);
	C.t = ft_xmalloc(C.max_len);
	td = ft_pair_dom(&C.p, 1);
	ret = ft_mr_reg(td, &C.p.ep[1], C.t, C.max_len, FI_REMOTE_READ | FI_REMOTE_WRITE, 0,
			&C.tmr);
	if (ret)
		ft_fatal("fi_mr_reg of ep1's %zu-byte target: %s", C.max_len, ft_strerr(ret));
	C.tkey = fi_mr_key(C.tmr);
	C.tbase = ft_rma_base(td, C.t);
}

static void ctx_close(void)
{
	ft_close_fid(&C.tmr->fid, "ep1's mr");
	ft_pair_close(&C.p);
	free(C.rbuf);
	free(C.t);
}

/* ---- the data paths ---- */

enum path { P_SEND, P_WRITE, P_READ, P_MR_SEND, P_COUNT };

static const char *const path_names[P_COUNT] = {
	[P_SEND] = "send",
	[P_WRITE] = "write",
	[P_READ] = "read",
	[P_MR_SEND] = "mr_reg+send",
};

static void op_send(const uint8_t *buf, size_t len, void *desc, const char *what)
{
	struct ft_op sop = { .what = "fi_send" }, rop = { .what = "fi_recv" };
	struct ft_comp c;

	memset(C.rbuf, RX_BYTE, len);
	FT_POST(fi_recv(C.p.ep[1].ep, C.rbuf, len, NULL, FI_ADDR_UNSPEC, &rop));
	FT_POST(fi_send(C.p.ep[0].ep, buf, len, desc, C.p.peer[0], &sop));
	ft_wait_op(&C.p.ep[1].cq, &rop, &c);
	ft_check(c.e.len == len, "%s: received %zu bytes, sent %zu", what, c.e.len, len);
	ft_wait_op(&C.p.ep[0].cq, &sop, NULL);
}

static void op_write(const uint8_t *buf, size_t len)
{
	struct ft_op op = { .what = "fi_write" };

	memset(C.t, RX_BYTE, len);
	FT_POST(fi_write(C.p.ep[0].ep, buf, len, NULL, C.p.peer[0], C.tbase, C.tkey, &op));
	ft_wait_op(&C.p.ep[0].cq, &op, NULL);
}

/*
 * The target after fi_write: the write may complete at the initiator before
 * the data is in place, so poll (with progress) a while for want.
 */
static void wait_target(size_t len, const struct content *want)
{
	uint64_t t0 = ft_now_us(), limit = FT_MAX(ft_opts.timeout_ms / 5, 1000U) * 1000ULL;
	size_t done = 0;

	while ((done = holds_upto(C.t, len, want, done / 8)) < len &&
	       ft_now_us() - t0 < limit)
		ft_progress();
}

static void op_read(uint8_t *buf, size_t len, const struct content *src)
{
	struct ft_op op = { .what = "fi_read" };

	fill(C.t, len, src);
	FT_POST(fi_read(C.p.ep[0].ep, buf, len, NULL, C.p.peer[0], C.tbase, C.tkey, &op));
	ft_wait_op(&C.p.ep[0].cq, &op, NULL);
}

/* ---- the ways of changing memory ---- */

struct region {
	size_t len, off;
	uint8_t *buf;		/* the operation's first byte */
	uint8_t *base;		/* the mapping, the break's piece, or the malloc'd block */
	size_t maplen;
	uint8_t *aux;		/* mremap-away: where the old pages went */
	struct content cur;	/* what the address holds before the change */
	struct content child;	/* fork: what the child wrote into its copy */
	bool forked;
	size_t brk_pad;		/* brk: bytes taken to reach a page boundary */
	char note[128];		/* said after the verdict, or why not checked */
};

struct way {
	const char *name;
	bool keeps_content;	/* a control: the same content must arrive again */
	void (*setup)(struct region *r);
	/*
	 * The change; c is the content the address gets next.  false: the
	 * change could not be made (r->note says why).
	 */
	bool (*change)(struct region *r, const struct content *c);
	void (*teardown)(struct region *r);
};

static unsigned int malloc_cases, malloc_same, malloc_unmapped;

static void map_setup(struct region *r)
{
	void *base;

	r->buf = ft_alloc_at(r->len, r->off, &base, &r->maplen);
	r->base = base;
}

static void map_teardown(struct region *r)
{
	if (r->base)
		ft_unmap(r->base, r->maplen);
	if (r->aux)
		ft_unmap(r->aux, r->maplen);
}

/*
 * Fresh anonymous memory at r->base, which is unmapped now.  Without
 * replacing whatever another thread (a provider's progress thread) may
 * have mapped there in between.
 */
static bool map_fresh(struct region *r)
{
	void *p = mmap(r->base, r->maplen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED && errno == EEXIST) {
		snprintf(r->note, sizeof(r->note), "another mapping took the address in between");
		r->base = NULL;
		return false;
	}
	if (p == MAP_FAILED)
		ft_fatal("mmap of %zu bytes at %p: %s", r->maplen, (void *)r->base,
			 strerror(errno));
	if (p != r->base) {
		/* A kernel older than MAP_FIXED_NOREPLACE takes it as a hint. */
		ft_unmap(p, r->maplen);
		snprintf(r->note, sizeof(r->note), "the kernel mapped the memory elsewhere");
		r->base = NULL;
		return false;
	}
	return true;
}

static bool munmap_change(struct region *r, const struct content *c)
{
	(void)c;
	ft_unmap(r->base, r->maplen);
	return map_fresh(r);
}

static bool mremap_away_change(struct region *r, const struct content *c)
{
	void *p;

	(void)c;
	r->aux = mmap(NULL, r->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->aux == MAP_FAILED)
		ft_fatal("mmap of %zu bytes: %s", r->maplen, strerror(errno));
	p = mremap(r->base, r->maplen, r->maplen, MREMAP_MAYMOVE | MREMAP_FIXED, r->aux);
	if (p != r->aux)
		ft_fatal("mremap of %zu bytes from %p to %p: %s", r->maplen, (void *)r->base,
			 (void *)r->aux, p == MAP_FAILED ? strerror(errno) : "elsewhere");
	return map_fresh(r);
}

static bool mremap_onto_change(struct region *r, const struct content *c)
{
	uint8_t *other = mmap(NULL, r->maplen, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *p;

	if (other == MAP_FAILED)
		ft_fatal("mmap of %zu bytes: %s", r->maplen, strerror(errno));
	/* The moved pages arrive with the new content. */
	fill(other + r->off, r->len, c);
	p = mremap(other, r->maplen, r->maplen, MREMAP_MAYMOVE | MREMAP_FIXED, r->base);
	if (p != r->base)
		ft_fatal("mremap of %zu bytes from %p to %p: %s", r->maplen, (void *)other,
			 (void *)r->base, p == MAP_FAILED ? strerror(errno) : "elsewhere");
	return true;
}

static bool dontneed_change(struct region *r, const struct content *c)
{
	struct content zero = all_bytes(0);

	(void)c;
	if (madvise(r->base, r->maplen, MADV_DONTNEED))
		ft_fatal("madvise(MADV_DONTNEED) of %zu bytes: %s", r->maplen, strerror(errno));
	ft_check(holds(r->buf, r->len, &zero), "MADV_DONTNEED: the private anonymous memory "
		 "is not zero-filled");
	return true;
}

static bool mprotect_change(struct region *r, const struct content *c)
{
	(void)c;
	if (mprotect(r->base, r->maplen, PROT_READ) ||
	    mprotect(r->base, r->maplen, PROT_READ | PROT_WRITE))
		ft_fatal("mprotect of %zu bytes: %s", r->maplen, strerror(errno));
	return true;
}

static bool no_change(struct region *r, const struct content *c)
{
	(void)r;
	(void)c;
	return true;
}

/*
 * The end of the break.  malloc stays off the break meanwhile (mmap
 * threshold 1: it maps what its heap cannot give); should the break move
 * anyway, the piece is left alone and the case not checked.
 */
static void brk_setup(struct region *r)
{
	uintptr_t cur;
	void *p;

	mallopt(M_MMAP_THRESHOLD, 1);
	cur = (uintptr_t)sbrk(0);
	r->brk_pad = (page_size - cur % page_size) % page_size;
	r->maplen = page_up(r->off + r->len);
	p = sbrk((intptr_t)(r->brk_pad + r->maplen));
	if (p == (void *)-1)
		ft_fatal("sbrk(%zu): %s", r->brk_pad + r->maplen, strerror(errno));
	if ((uintptr_t)p != cur)
		ft_fatal("sbrk: the break was at %#" PRIxPTR ", sbrk gave %p", cur, p);
	r->base = (uint8_t *)cur + r->brk_pad;
	r->buf = r->base + r->off;
}

static bool brk_at_end(const struct region *r)
{
	return sbrk(0) == (void *)(r->base + r->maplen);
}

static bool brk_change(struct region *r, const struct content *c)
{
	void *p;

	(void)c;
	if (!brk_at_end(r)) {
		snprintf(r->note, sizeof(r->note), "something else moved the break");
		r->base = NULL;
		return false;
	}
	if (sbrk(-(intptr_t)r->maplen) == (void *)-1)
		ft_fatal("sbrk(-%zu): %s", r->maplen, strerror(errno));
	p = sbrk((intptr_t)r->maplen);
	if (p == (void *)-1)
		ft_fatal("sbrk(%zu): %s", r->maplen, strerror(errno));
	if (p != r->base) {
		snprintf(r->note, sizeof(r->note), "the break moved between sbrk(-n) and sbrk(n)");
		r->base = NULL;
		return false;
	}
	return true;
}

static void brk_teardown(struct region *r)
{
	if (r->base && brk_at_end(r)) {
		if (sbrk(-(intptr_t)(r->brk_pad + r->maplen)) == (void *)-1)
			ft_fatal("sbrk(-%zu): %s", r->brk_pad + r->maplen, strerror(errno));
	} else if (ft_opts.verbose) {
		ft_log("brk: %zu bytes of the break left in place", r->brk_pad + r->maplen);
	}
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_DEFAULT);
}

/* malloc, or stop. */
static void *xmalloc_mapped(size_t n)
{
	void *p = malloc(n);

	if (!p)
		ft_fatal("malloc(%zu) failed", n);
	return p;
}

/*
 * malloc maps a block of its own when its heap cannot give one: with the
 * threshold at 1, and the heap's free top given back (malloc_trim), that is
 * every block asked for now, small ones too.
 */
static void malloc_mapped_mode(void)
{
	mallopt(M_MMAP_THRESHOLD, 1);
	malloc_trim(0);
}

static void malloc_setup(struct region *r)
{
	malloc_mapped_mode();
	r->maplen = r->off + r->len;
	r->base = xmalloc_mapped(r->maplen);
	r->buf = r->base + r->off;
}

static void malloc_teardown(struct region *r)
{
	free(r->base);
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_DEFAULT);
}

/* The page at address a is mapped (mincore says ENOMEM where it is not). */
static bool page_mapped(uintptr_t a)
{
	unsigned char v;

	return !mincore((void *)(a / page_size * page_size), page_size, &v);
}

static bool free_malloc_change(struct region *r, const struct content *c)
{
	uintptr_t old = (uintptr_t)r->base;
	void *held[4];
	unsigned int n = 0, i;
	bool unmapped;

	(void)c;
	free(r->base);
	unmapped = !page_mapped(old);
	/* Another address: keep that block while asking again, a few times. */
	for (;;) {
		r->base = xmalloc_mapped(r->maplen);
		if ((uintptr_t)r->base == old || n == FT_ARRAY_SIZE(held))
			break;
		held[n++] = r->base;
	}
	for (i = 0; i < n; i++)
		free(held[i]);
	r->buf = r->base + r->off;
	malloc_cases++;
	malloc_same += (uintptr_t)r->base == old;
	malloc_unmapped += unmapped;
	snprintf(r->note, sizeof(r->note), " (%s; %s)",
		 unmapped ? "free unmapped the block" : "free kept the memory",
		 (uintptr_t)r->base == old ? "malloc gave the same address" :
		 "malloc gave another address: checked there");
	return true;
}

static void note_realloc(struct region *r, uintptr_t old, const char *how)
{
	snprintf(r->note, sizeof(r->note), " (%s: %s)", how,
		 (uintptr_t)r->base == old ? "in place" : "moved, checked at the new address");
}

static void realloc_to(struct region *r, size_t n)
{
	void *p = realloc(r->base, n);

	if (!p)
		ft_fatal("realloc to %zu bytes failed", n);
	r->base = p;
	r->buf = r->base + r->off;
}

static bool realloc_grow_change(struct region *r, const struct content *c)
{
	uintptr_t old = (uintptr_t)r->base;

	(void)c;
	realloc_to(r, r->off + 4 * r->len);
	note_realloc(r, old, "realloc to 4 times the size");
	return true;
}

static void realloc_shrink_setup(struct region *r)
{
	malloc_mapped_mode();
	r->base = xmalloc_mapped(r->off + 2 * r->len);
	r->buf = r->base + r->off;
}

static bool realloc_shrink_change(struct region *r, const struct content *c)
{
	uintptr_t old = (uintptr_t)r->base;

	(void)c;
	realloc_to(r, r->off + r->len / 2);
	realloc_to(r, r->off + r->len);
	note_realloc(r, old, "realloc to half the range and back");
	return true;
}

/* The fork child's exit status: what it found. */
enum { CHILD_OK, CHILD_WRONG_COPY = 2, CHILD_PARENT_LEAKED = 3, CHILD_PIPE = 4 };

static uint64_t next_seed(void);
static unsigned int forks, forks_child_killed;

/* One byte through a pipe (the fork handshake); false if the other side is gone. */
static bool pipe_byte(int fd, bool wr)
{
	char c = 'x';
	ssize_t n;

	do
		n = wr ? write(fd, &c, 1) : read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1;
}

/*
 * fork(): the child checks that its copy holds the parent's content (r->cur),
 * writes content of its own (r->child) into it and exits.  With parent_new,
 * the parent writes parent_new while the child lives (after the child has
 * written its copy, before it exits), and the child checks that its copy
 * kept its own content.  The parent waits for the child.  A child killed by
 * a signal is said in r->note (its copy could not be written: the memory was
 * not inherited); a wrong copy in the child is a failed check.
 */
static bool fork_change(struct region *r, const struct content *parent_new)
{
	int go[2] = { -1, -1 }, ready[2] = { -1, -1 }, status;
	pid_t pid;

	r->child = pattern(next_seed());
	r->forked = true;
	if (parent_new && (pipe(go) || pipe(ready)))
		ft_fatal("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	if (!pid) {
		/* Only memory, pipes and _exit here: the parent's threads are not ours. */
		int ret;

		/* A fault is the kernel's to report (not a handler's libfabric set). */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		ret = holds(r->buf, r->len, &r->cur) ? CHILD_OK : CHILD_WRONG_COPY;
		fill(r->buf, r->len, &r->child);
		if (parent_new) {
			close(ready[0]);
			close(go[1]);
			if (!pipe_byte(ready[1], true) || !pipe_byte(go[0], false))
				_exit(CHILD_PIPE);
			if (ret == CHILD_OK && !holds(r->buf, r->len, &r->child))
				ret = CHILD_PARENT_LEAKED;
		}
		_exit(ret);
	}
	if (parent_new) {
		close(ready[1]);
		close(go[0]);
		/* The child gone before it was ready (killed): waitpid says why. */
		if (pipe_byte(ready[0], false)) {
			fill(r->buf, r->len, parent_new);
			if (!pipe_byte(go[1], true))
				ft_fatal("fork: the child is gone: %s", strerror(errno));
		}
		close(ready[0]);
		close(go[1]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			ft_fatal("waitpid: %s", strerror(errno));
	forks++;
	forks_child_killed += WIFSIGNALED(status);
	if (WIFSIGNALED(status))
		snprintf(r->note, sizeof(r->note), " (the fork child could not write its copy: "
			 "killed by signal %d; the memory was not inherited?)", WTERMSIG(status));
	else if (WEXITSTATUS(status) == CHILD_WRONG_COPY)
		ft_error("fork: the child's copy of %zu bytes at %p is not the parent's content",
			 r->len, (void *)r->buf);
	else if (WEXITSTATUS(status) == CHILD_PARENT_LEAKED)
		ft_error("fork: the parent's write of %zu bytes at %p reached the child's copy",
			 r->len, (void *)r->buf);
	else if (WEXITSTATUS(status))
		ft_fatal("fork: the child exited with %d", WEXITSTATUS(status));
	return true;
}

static bool fork_keep_change(struct region *r, const struct content *c)
{
	(void)c;
	return fork_change(r, NULL);
}

static bool fork_write_in_parent_change(struct region *r, const struct content *c)
{
	return fork_change(r, c);
}

static const struct way ways[] = {
	{ "munmap+MAP_FIXED", false, map_setup, munmap_change, map_teardown },
	{ "brk", false, brk_setup, brk_change, brk_teardown },
	{ "mremap-away", false, map_setup, mremap_away_change, map_teardown },
	{ "mremap-onto", false, map_setup, mremap_onto_change, map_teardown },
	{ "MADV_DONTNEED", false, map_setup, dontneed_change, map_teardown },
	{ "free+malloc", false, malloc_setup, free_malloc_change, malloc_teardown },
	{ "realloc-grow", false, malloc_setup, realloc_grow_change, malloc_teardown },
	{ "realloc-shrink+grow", false, realloc_shrink_setup, realloc_shrink_change,
	  malloc_teardown },
	{ "rewrite", false, map_setup, no_change, map_teardown },
	{ "fork-then-write", false, map_setup, fork_keep_change, map_teardown },
	{ "fork+write-in-parent", false, map_setup, fork_write_in_parent_change,
	  map_teardown },
	{ "unchanged", true, map_setup, no_change, map_teardown },
	{ "mprotect", true, map_setup, mprotect_change, map_teardown },
	{ "fork", true, map_setup, fork_keep_change, map_teardown },
};

/* ---- one case ---- */

static unsigned int cases, not_checked;
static uint64_t seed_counter;

static uint64_t next_seed(void)
{
	return ++seed_counter;
}

/*
 * One operation of path p on r->buf; the destination is then judged:
 * want, old (NULL before the change), the fork child's content (after a
 * fork), before = what the destination held.
 */
static bool run_op(enum path p, struct region *r, struct fid_mr *mr,
		   const struct content *want, const struct content *old,
		   const struct content *before, char *why, size_t whylen)
{
	const struct content *child = r->forked ? &r->child : NULL;
	const char *what = path_names[p];

	switch (p) {
	case P_SEND:
	case P_MR_SEND:
		op_send(r->buf, r->len, mr ? fi_mr_desc(mr) : NULL, what);
		return judge(C.rbuf, r->len, want, old, child, before,
			     "not written: ep1's receive buffer unchanged", why, whylen);
	case P_WRITE:
		op_write(r->buf, r->len);
		wait_target(r->len, want);
		return judge(C.t, r->len, want, old, child, before,
			     "not written: ep1's target unchanged", why, whylen);
	case P_READ:
		op_read(r->buf, r->len, want);
		return judge(r->buf, r->len, want, old, child, before, old ?
			     "the address still holds what the test wrote there: the data "
			     "went elsewhere (STALE)" :
			     "the address still holds what the test wrote there", why, whylen);
	default:
		ft_fatal("path %d", p);
	}
}

static void mr_reg(struct region *r, struct fid_mr **mr, const char *what)
{
	int ret = ft_mr_reg(&C.p.dom[0], &C.p.ep[0], r->buf, r->len, FI_SEND, 0, mr);

	if (ret)
		ft_fatal("%s: fi_mr_reg of %zu bytes at %p: %s", what, r->len, (void *)r->buf,
			 ft_strerr(ret));
}

static void run_case(const struct way *w, enum path p, size_t len, size_t off)
{
	struct region r = { .len = len, .off = off };
	struct content c_old = pattern(next_seed()), c_new = pattern(next_seed());
	struct content c_fill0 = pattern(next_seed()), c_fill = pattern(next_seed());
	struct content c_rx = all_bytes(RX_BYTE);
	const struct content *want, *stale;
	struct fid_mr *mr = NULL;
	char what[96], why[320];
	bool ok;

	snprintf(what, sizeof(what), "%s %s %zu +%zu", w->name, path_names[p], len, off);
	w->setup(&r);

	/* Once on the old memory: a cache holds it now. */
	if (p == P_READ)
		fill(r.buf, len, &c_fill0);
	else
		fill(r.buf, len, &c_old);
	if (p == P_MR_SEND)
		mr_reg(&r, &mr, what);
	if (!run_op(p, &r, mr, &c_old, NULL, p == P_READ ? &c_fill0 : &c_rx, why, sizeof(why)))
		ft_error("%s: before the change: %s", what, why);
	if (mr)
		ft_close_fid(&mr->fid, "mr");
	mr = NULL;

	/* The change, then the new content (controls: the same content). */
	r.cur = c_old;
	if (!w->change(&r, p == P_READ ? &c_fill : &c_new)) {
		ft_log("%s: not checked (%s)", what, r.note);
		not_checked++;
		w->teardown(&r);
		return;
	}
	want = w->keeps_content ? &c_old : &c_new;
	stale = w->keeps_content ? NULL : &c_old;
	if (p == P_READ)
		fill(r.buf, len, &c_fill);
	else if (!w->keeps_content)
		fill(r.buf, len, &c_new);
	if (p == P_MR_SEND)
		mr_reg(&r, &mr, what);
	ok = run_op(p, &r, mr, want, stale, p == P_READ ? &c_fill : &c_rx, why, sizeof(why));
	if (mr)
		ft_close_fid(&mr->fid, "mr");
	if (ok)
		ft_log("%s: %s content ok%s", what, w->keeps_content ? "same" : "new", r.note);
	else
		ft_error("%s: after the change%s: %s", what, r.note, why);
	cases++;
	w->teardown(&r);
}

int main(int argc, char **argv)
{
	size_t shapes[4][2], nshapes = 0, wi, si;
	uint64_t t0;
	int p;

	ft_parse(argc, argv, "sM:", "[-s] [-M BYTES]\n"
		 "  -s           both endpoints in one domain (default: two domains)\n"
		 "  -M BYTES     the large size (default 1 MiB; the small one is 4 KiB)", opt);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	ctx_open();
	if (C.max_len < 4 * KiB)
		ft_skip("max_msg_size %zu is below 4 KiB", C.p.dom[0].info->ep_attr->max_msg_size);
	t0 = ft_now_us();
	shapes[nshapes][0] = 4 * KiB;
	shapes[nshapes++][1] = 0;
	shapes[nshapes][0] = 4 * KiB;
	shapes[nshapes++][1] = 100;
	if (C.max_len > 4 * KiB) {
		shapes[nshapes][0] = C.max_len;
		shapes[nshapes++][1] = 0;
		shapes[nshapes][0] = C.max_len;
		shapes[nshapes++][1] = 100;
	} else {
		ft_log("only 4 KiB: the large size is %zu (-M), max_msg_size %zu", big_size,
		       C.p.dom[0].info->ep_attr->max_msg_size);
	}
	for (wi = 0; wi < FT_ARRAY_SIZE(ways); wi++)
		for (si = 0; si < nshapes; si++)
			for (p = 0; p < P_COUNT; p++)
				run_case(&ways[wi], (enum path)p, shapes[si][0], shapes[si][1]);
	ft_check_fpgadma_cache(ft_pair_dom(&C.p, 0), "ep0's domain");
	ctx_close();
	ft_log("free+malloc: malloc gave the same address in %u of %u cases, free unmapped "
	       "the block in %u", malloc_same, malloc_cases, malloc_unmapped);
	ft_log("fork: the child wrote its copy in %u of %u forks (%u children killed by a "
	       "signal)", forks - forks_child_killed, forks, forks_child_killed);
	return ft_finish("%u cases (%zu ways, %d paths, %zu shapes), %u not checked, %.1f s "
			 "(%s)", cases, FT_ARRAY_SIZE(ways), P_COUNT, nshapes, not_checked,
			 (double)(ft_now_us() - t0) / 1e6,
			 one_domain ? "one domain" : "two domains");
}
