// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mr_cache_mt: what a message carries is the memory mapped at its address
 * when it is sent, while other threads allocate, free, remap and send at the
 * same time; against any provider with FI_THREAD_SAFE domains.
 *
 * A registration cache shared by a domain's endpoints sees buffers freed by
 * one thread and their addresses handed to another (glibc's mmap threshold
 * at 1, so that malloc maps blocks and free unmaps them), munmap and mmap
 * at the same address, realloc moving or not, and buffers reused unchanged
 * (the cache's hits), all while completions are being read elsewhere.  A
 * stale entry would send the pages that were mapped at the address before:
 * an earlier message's content, or another thread's.
 *
 * T sender threads (-n, default 3), each with an endpoint of its own in one
 * domain, and T receiving endpoints in a second domain (-s: the same one),
 * endpoint i receiving sender i's messages, read by R receiver threads (-r,
 * default 2; receiving endpoint i belongs to thread i mod R).  Each sender
 * loops for a time budget (-t, default 5 s):
 *   - a buffer: the previous one reused unchanged, a new malloc (the old one
 *     freed), realloc of the previous one, munmap and mmap of a mapping at
 *     the same address (MAP_FIXED_NOREPLACE: another thread may have taken
 *     it meanwhile, then anywhere), or a new mapping; a random size of
 *     1 KiB..1 MiB (-M; spread evenly over the powers of two), sometimes a
 *     few bytes into the block;
 *   - the message's content: 8-byte words that each encode (sender, sequence
 *     number, word index) through a bijection, so any word that arrives
 *     says where it came from;
 *   - fi_send with desc NULL, and the wait for its completion (progress for
 *     the sender's own endpoint), at most 16 messages ahead of the receiver.
 * The first six messages of each sender, 64 KiB each (above eager sizes),
 * are a new malloc, the same buffer again, a new mapping (the malloc'd block
 * freed), the same again, munmap+mmap at the same address and the same
 * again: every run has cache hits and invalidations.
 *
 * The receiver threads keep 2 receives posted on each of their endpoints
 * and check every byte of every message: the sequence number its first word
 * names was sent and did not arrive before, the length is the one sent, and
 * every word is the one of (sender, sequence number, word).  A wrong word is
 * named: an earlier message of the same sender (STALE), another sender's
 * (STALE: a freed buffer of another thread at that address), or garbage.
 * At the end every message sent arrived exactly once.
 *
 * On fpgadma the senders' domain's cache counters (mr_cache_stats of
 * FI_FPGADMA_DOMAIN_OPS_1) must show hits and invalidations with the cache
 * on, and no hit with it off.  Figures: messages and bytes per sender and
 * what each did to its buffers.  Exit 0 pass, 1 fail, 77 skip (no
 * FI_THREAD_SAFE domain, FI_MR_LOCAL needed, nothing matches).
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>


#define KiB		1024UL
#define MiB		(1024UL * 1024UL)
#define MAX_SENDERS	8	/* 2 endpoints each: common.c reads at most 16 CQs */
#define RX_DEPTH	2	/* receives posted per receiving endpoint */
#define WINDOW		16	/* messages a sender may be ahead of its receiver */
#define RING		64	/* > WINDOW: the lengths sent and seen, by seq */
#define MIN_LEN		KiB
#define MAX_FAIL_LINES	20
#define SCRIPT_LEN	(64 * KiB)

/* ---- options ---- */

static unsigned int n_senders = 3, n_receivers = 2;
static double budget_s = 5.0;
static size_t max_len = MiB;
static uint64_t seed = 1;
static bool one_domain;

static int opt(int c, const char *arg)
{
	char *end;

	switch (c) {
	case 'n':
		n_senders = (unsigned int)strtoul(arg, &end, 0);
		return *end || !n_senders || n_senders > MAX_SENDERS ? -1 : 0;
	case 'r':
		n_receivers = (unsigned int)strtoul(arg, &end, 0);
		return *end || !n_receivers || n_receivers > MAX_SENDERS ? -1 : 0;
	case 't':
		budget_s = strtod(arg, &end);
		return *end || !(budget_s > 0) ? -1 : 0;
	case 'M':
		max_len = strtoull(arg, &end, 0);
		return *end || max_len < MIN_LEN ? -1 : 0;
	case 'S':
		seed = strtoull(arg, &end, 0);
		return *end ? -1 : 0;
	case 's':
		one_domain = true;
		return 0;
	}
	return -1;
}

/* ---- failures from any thread ---- */

static atomic_uint failures;
static atomic_bool stop;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...) FT_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&out_lock);
	puts(line);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

/* A failed check in a thread: said (the first MAX_FAIL_LINES), counted. */
static void fail(const char *fmt, ...) FT_PRINTF(1, 2);
static void fail(const char *fmt, ...)
{
	char line[480];
	va_list ap;
	unsigned int n = atomic_fetch_add(&failures, 1) + 1;

	if (n > MAX_FAIL_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say("FAIL: %s%s", line, n == MAX_FAIL_LINES ? " (further failures counted, not said)" :
	    "");
}

/* A failure after which the run cannot go on: every thread stops. */
#define fail_stop(...) \
	do { fail(__VA_ARGS__); atomic_store(&stop, true); } while (0)

/* ---- content: words that say where they came from ---- */

/*
 * Word k of sender t's message seq: MAGIC (7 bits), t (8), seq (29), k (20)
 * through an invertible mix, so wrong data names its origin.
 */
#define W_MAGIC		0x5bULL
#define W_SEQ_BITS	29
#define W_K_BITS	20
#define W_MAX_LEN	(8 * (1UL << W_K_BITS))	/* 8 MiB */
#define MIX_A		0xff51afd7ed558ccdULL
#define MIX_B		0xc4ceb9fe1a85ec53ULL

static uint64_t inv_a, inv_b;	/* the multiplicative inverses mod 2^64 */

static uint64_t inverse(uint64_t a)
{
	uint64_t x = a;	/* right to 3 bits for odd a; each step doubles them */
	int i;

	for (i = 0; i < 5; i++)
		x *= 2 - a * x;
	return x;
}

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 32;
	x *= MIX_A;
	x ^= x >> 32;
	x *= MIX_B;
	return x ^ (x >> 32);
}

static inline uint64_t unmix(uint64_t x)
{
	x ^= x >> 32;	/* a shift by 32 of 64 bits undoes itself */
	x *= inv_b;
	x ^= x >> 32;
	x *= inv_a;
	return x ^ (x >> 32);
}

static inline uint64_t word(unsigned int t, uint32_t seq, uint64_t k)
{
	return mix(W_MAGIC << 57 | (uint64_t)t << 49 |
		   (uint64_t)(seq & ((1U << W_SEQ_BITS) - 1)) << W_K_BITS | k);
}

struct origin {
	bool valid;		/* the magic bits are right */
	unsigned int t;
	uint32_t seq;
	uint64_t k;
};

static struct origin decode(uint64_t w)
{
	uint64_t x = unmix(w);

	return (struct origin){
		.valid = x >> 57 == W_MAGIC,
		.t = (unsigned int)(x >> 49 & 0xff),
		.seq = (uint32_t)(x >> W_K_BITS & ((1U << W_SEQ_BITS) - 1)),
		.k = x & ((1U << W_K_BITS) - 1),
	};
}

static void fill(uint8_t *p, size_t len, unsigned int t, uint32_t seq)
{
	size_t k, n = len / 8;
	uint64_t w;

	for (k = 0; k < n; k++) {
		w = word(t, seq, k);
		memcpy(p + 8 * k, &w, 8);
	}
	w = word(t, seq, n);
	memcpy(p + 8 * n, &w, len % 8);
}

/* Word k of p (the last one may be partial: the bytes there, zero-padded). */
static uint64_t get_word(const uint8_t *p, size_t len, size_t k)
{
	uint64_t w = 0;

	memcpy(&w, p + 8 * k, FT_MIN((size_t)8, len - 8 * k));
	return w;
}

/* Word k of (t, seq) as it must arrive (partial: its first bytes only). */
static uint64_t want_word(unsigned int t, uint32_t seq, size_t len, size_t k)
{
	uint64_t w = word(t, seq, k), v = 0;

	if (len - 8 * k >= 8)
		return w;
	memcpy(&v, &w, len - 8 * k);
	return v;
}

/* ---- the endpoints ---- */

static struct ft_dom dom[2];
static struct ft_ep tx_ep[MAX_SENDERS], rx_ep[MAX_SENDERS];
static fi_addr_t tx_peer[MAX_SENDERS];	/* rx_ep[i] in dom[0]'s AV */

static struct ft_dom *rx_dom(void)
{
	return &dom[one_domain ? 0 : 1];
}

static int try_open(uint64_t mr_mode, enum fi_threading threading, const char **why)
{
	struct fi_info *hints = ft_hints(FI_MSG, mr_mode);

	hints->domain_attr->threading = threading;
	return ft_open_dom(hints, &dom[0], why);
}

static void open_all(void)
{
	const uint64_t mode = FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	const char *prov = ft_opts.prov ? ft_opts.prov : "(any)", *why = NULL;
	unsigned int i;

	if (try_open(mode, FI_THREAD_SAFE, &why) &&
	    try_open(mode | FI_MR_ENDPOINT, FI_THREAD_SAFE, &why)) {
		/* Why not: FI_THREAD_SAFE, or FI_MR_LOCAL? */
		if (!try_open(mode | FI_MR_ENDPOINT, FI_THREAD_DOMAIN, &why)) {
			ft_close_dom(&dom[0]);
			ft_skip("provider %s: no FI_THREAD_SAFE domain for FI_MSG on FI_EP_RDM", prov);
		}
		if (!try_open(mode | FI_MR_ENDPOINT | FI_MR_LOCAL, FI_THREAD_SAFE, &why)) {
			ft_close_dom(&dom[0]);
			ft_skip("provider %s: needs FI_MR_LOCAL (a desc for every buffer): no "
				"buffers without desc to cache", prov);
		}
		ft_skip("provider %s: %s for FI_MSG on FI_EP_RDM (with FI_THREAD_SAFE or not)", prov,
			why);
	}
	ft_describe(&dom[0]);
	if (dom[0].info->domain_attr->threading != FI_THREAD_SAFE)
		ft_fatal("asked FI_THREAD_SAFE, the domain has threading %d",
			 dom[0].info->domain_attr->threading);
	if (!one_domain)
		ft_open_dom_like(&dom[0], &dom[1]);
	for (i = 0; i < n_senders; i++) {
		char name[32];

		snprintf(name, sizeof(name), "tx%u", i);
		ft_open_ep(&dom[0], &tx_ep[i], name);
		snprintf(name, sizeof(name), "rx%u", i);
		ft_open_ep(rx_dom(), &rx_ep[i], name);
	}
	for (i = 0; i < n_senders; i++) {
		tx_peer[i] = ft_av_insert(&dom[0], rx_ep[i].name);
		ft_av_insert(rx_dom(), tx_ep[i].name);
	}
}

static void close_all(void)
{
	unsigned int i;

	for (i = 0; i < n_senders; i++) {
		ft_close_ep(&tx_ep[i]);
		ft_close_ep(&rx_ep[i]);
	}
	if (!one_domain)
		ft_close_dom(&dom[1]);
	ft_close_dom(&dom[0]);
}

/* One completion of cq, without waiting: 1, 0 (none yet) or a negative error. */
static int cq_poll(struct ft_cq *cq, struct fi_cq_tagged_entry *e, char *err, size_t errlen)
{
	struct fi_cq_err_entry ee;
	ssize_t ret = fi_cq_read(cq->cq, e, 1);

	if (ret == 1)
		return 1;
	if (ret == -FI_EAGAIN)
		return 0;
	if (ret == -FI_EAVAIL) {
		const char *s;

		memset(&ee, 0, sizeof(ee));
		if (fi_cq_readerr(cq->cq, &ee, 0) != 1) {
			snprintf(err, errlen, "%s: fi_cq_readerr after -FI_EAVAIL failed", cq->name);
			return -FI_EIO;
		}
		s = fi_cq_strerror(cq->cq, ee.prov_errno, ee.err_data, NULL, 0);
		snprintf(err, errlen, "%s: error completion %d (%s), prov_errno %d: %s", cq->name,
			 ee.err, fi_strerror(ee.err), ee.prov_errno, s ? s : "(null)");
		return -FI_EIO;
	}
	snprintf(err, errlen, "%s: fi_cq_read: %zd (%s)", cq->name, ret, ft_strerr(ret));
	return (int)ret;
}

static bool timed_out(uint64_t t0)
{
	return ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL;
}

/* ---- what senders and receivers share, per pair ---- */

struct pair {
	/* Written by the sender. */
	atomic_uint_fast32_t published;	/* messages posted (seq < published) */
	atomic_uint_fast32_t lens[RING];	/* length of seq at seq % RING */
	atomic_bool done;
	/* Written by the pair's receiver thread. */
	atomic_uint_fast32_t received;	/* messages taken, right or wrong */
	uint32_t seen[RING];		/* seq + 1 of the message at seq % RING */
	uint64_t bytes_received;
	unsigned int bad;
};

static struct pair pairs[MAX_SENDERS];

/* ---- senders ---- */

enum action { A_REUSE, A_MALLOC, A_REALLOC, A_REMAP, A_MMAP, A_COUNT };

static const char *const action_names[A_COUNT] = {
	[A_REUSE] = "reused",
	[A_MALLOC] = "malloc",
	[A_REALLOC] = "realloc",
	[A_REMAP] = "munmap+mmap",
	[A_MMAP] = "new mmap",
};

struct sender {
	unsigned int t;
	pthread_t thread;
	uint64_t rng;
	/* The buffer: malloc'd, or a mapping of maplen bytes. */
	uint8_t *base;
	size_t size, maplen;
	bool mapped;
	struct fi_context2 ctx;	/* the fi_send's (alive until the program ends) */
	/* Figures. */
	uint32_t sent;
	uint64_t bytes;
	unsigned int actions[A_COUNT];
	unsigned int same_addr[A_COUNT];	/* the block came back at the old address */
	unsigned int remap_taken;		/* MAP_FIXED_NOREPLACE: the address was taken */
	unsigned int others_addr;		/* a new buffer at another sender's old address */
};

static struct sender senders[MAX_SENDERS];
static size_t page_size;

/*
 * Addresses of buffers the senders let go of lately, and whose: a buffer
 * that comes back at another sender's old address is counted (the case of a
 * cache shared by the domain's endpoints).  A slot per hash of the address,
 * (address << 8 | sender); overwritten freely.
 */
#define RECENT		1024
static _Atomic uint64_t recent[RECENT];

static unsigned int recent_slot(uintptr_t a)
{
	return (unsigned int)((a >> 4) * 0x9E3779B97F4A7C15ULL >> 54) % RECENT;
}

static uint64_t rnd(struct sender *s)
{
	uint64_t x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A size in [MIN_LEN, max_len], spread evenly over the powers of two. */
static size_t rnd_size(struct sender *s)
{
	unsigned int lo = 10, hi = 0, b;
	size_t n, top;

	while ((2UL << hi) <= max_len)
		hi++;
	b = lo + (unsigned int)(rnd(s) % (hi - lo + 1));
	top = FT_MIN(max_len, (2UL << b) - 1);
	n = (1UL << b) + (size_t)(rnd(s) % ((top >= (1UL << b) ? top - (1UL << b) : 0) + 1));
	return FT_MIN(FT_MAX(n, MIN_LEN), max_len);
}

static void release(struct sender *s)
{
	if (!s->base)
		return;
	atomic_store(&recent[recent_slot((uintptr_t)s->base)],
		     (uint64_t)(uintptr_t)s->base << 8 | s->t);
	if (s->mapped)
		ft_unmap(s->base, s->maplen);
	else
		free(s->base);
	s->base = NULL;
}

static size_t page_up(size_t n)
{
	return (n + page_size - 1) / page_size * page_size;
}

static void *xmap(void *addr, size_t len, int flags)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

/* What action a means for s's buffer now. */
static enum action resolve(const struct sender *s, enum action a)
{
	if (!s->base && (a == A_REUSE || a == A_REALLOC || a == A_REMAP))
		return A_MALLOC;
	if (a == A_REALLOC && s->mapped)
		return A_MALLOC;
	if (a == A_REMAP && !s->mapped)
		return A_MMAP;
	return a;
}

/*
 * s's buffer by action a (resolved): at least size bytes, except for
 * A_REUSE and A_REMAP, which keep the buffer's size.
 */
static void get_buffer(struct sender *s, enum action a, size_t size)
{
	uintptr_t old = (uintptr_t)s->base;
	void *p;

	switch (a) {
	case A_REUSE:
		break;
	case A_MALLOC:
		release(s);
		s->base = malloc(size);
		if (!s->base)
			ft_fatal("malloc(%zu) failed", size);
		s->mapped = false;
		s->size = size;
		break;
	case A_REALLOC:
		p = realloc(s->base, size);
		if (!p)
			ft_fatal("realloc to %zu bytes failed", size);
		if (p != s->base)
			atomic_store(&recent[recent_slot(old)], (uint64_t)old << 8 | s->t);
		s->base = p;
		s->size = size;
		break;
	case A_REMAP:
		/* The same size at the same address, unless another thread took it. */
		atomic_store(&recent[recent_slot((uintptr_t)s->base)],
			     (uint64_t)(uintptr_t)s->base << 8 | s->t);
		ft_unmap(s->base, s->maplen);
		p = xmap(s->base, s->maplen, MAP_FIXED_NOREPLACE);
		if (p == MAP_FAILED && errno == EEXIST) {
			s->remap_taken++;
			p = xmap(NULL, s->maplen, 0);
		}
		if (p == MAP_FAILED)
			ft_fatal("mmap of %zu bytes: %s", s->maplen, strerror(errno));
		s->base = p;
		break;
	case A_MMAP:
		release(s);
		s->maplen = page_up(size);
		p = xmap(NULL, s->maplen, 0);
		if (p == MAP_FAILED)
			ft_fatal("mmap of %zu bytes: %s", s->maplen, strerror(errno));
		s->base = p;
		s->mapped = true;
		s->size = s->maplen;
		break;
	case A_COUNT:
		break;
	}
	s->actions[a]++;
	if (a != A_REUSE && (uintptr_t)s->base == old)
		s->same_addr[a]++;
	if (a != A_REUSE && (uintptr_t)s->base != old) {
		uint64_t r = atomic_load(&recent[recent_slot((uintptr_t)s->base)]);

		s->others_addr += r >> 8 == (uint64_t)(uintptr_t)s->base && (r & 0xff) != s->t;
	}
}

/* The first messages of each sender: hits and invalidations in every run. */
static const enum action script[] = { A_MALLOC, A_REUSE, A_MMAP, A_REUSE, A_REMAP, A_REUSE };

static enum action pick(struct sender *s, uint32_t seq, size_t *size)
{
	unsigned int r;

	if (seq < FT_ARRAY_SIZE(script)) {
		*size = FT_MIN(SCRIPT_LEN, max_len);
		return script[seq];
	}
	*size = rnd_size(s);
	r = (unsigned int)(rnd(s) % 100);
	if (r < 25)
		return A_REUSE;
	if (r < 50)
		return A_MALLOC;
	if (r < 70)
		return A_REALLOC;
	if (r < 85)
		return A_REMAP;
	return A_MMAP;
}

/* Read the sender's CQ while waiting (progress); any completion now is wrong. */
static bool sender_idle_poll(struct sender *s)
{
	struct fi_cq_tagged_entry e;
	char err[256];
	int ret = cq_poll(&tx_ep[s->t].cq, &e, err, sizeof(err));

	if (ret < 0) {
		fail_stop("sender %u: %s", s->t, err);
		return false;
	}
	if (ret) {
		fail_stop("sender %u: a completion with nothing posted (context %p)", s->t,
			  e.op_context);
		return false;
	}
	return true;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct pair *pr = &pairs[s->t];
	struct fid_ep *ep = tx_ep[s->t].ep;
	uint64_t end = ft_now_us() + (uint64_t)(budget_s * 1e6), t0;
	uint32_t seq;

	for (seq = 0; !atomic_load(&stop) && (seq < FT_ARRAY_SIZE(script) || ft_now_us() < end) &&
	     seq < (1U << W_SEQ_BITS); seq++) {
		struct fi_cq_tagged_entry e;
		size_t size, off = 0, len;
		char err[256];
		enum action a;
		ssize_t r;
		int ret;

		/* At most WINDOW messages ahead of the receiver. */
		t0 = ft_now_us();
		while (seq - atomic_load(&pr->received) >= WINDOW && !atomic_load(&stop)) {
			if (!sender_idle_poll(s))
				break;
			if (timed_out(t0)) {
				fail_stop("sender %u: the receiver took no message for %u ms (%" PRIu32
					  " sent, %" PRIuFAST32 " received)", s->t,
					  ft_opts.timeout_ms, seq, atomic_load(&pr->received));
				break;
			}
			sched_yield();
		}
		if (atomic_load(&stop))
			break;

		a = resolve(s, pick(s, seq, &size));
		if (seq >= FT_ARRAY_SIZE(script) && rnd(s) % 4 == 0)
			off = 1 + (size_t)(rnd(s) % 63);
		if (a == A_REUSE || a == A_REMAP) {
			/* The buffer keeps its size: a length that fits. */
			if (s->size < MIN_LEN + off)
				off = 0;
			len = FT_MIN(size, s->size - off);
		} else {
			len = size;
		}
		get_buffer(s, a, len + off);
		fill(s->base + off, len, s->t, seq);
		atomic_store(&pr->lens[seq % RING], (uint_fast32_t)len);
		atomic_store(&pr->published, seq + 1);

		t0 = ft_now_us();
		while ((r = fi_send(ep, s->base + off, len, NULL, tx_peer[s->t], &s->ctx)) ==
		       -FI_EAGAIN) {
			if (!sender_idle_poll(s))
				break;
			if (timed_out(t0)) {
				fail_stop("sender %u: fi_send: -FI_EAGAIN for %u ms", s->t,
					  ft_opts.timeout_ms);
				break;
			}
			sched_yield();
		}
		if (atomic_load(&stop))
			break;
		if (r) {
			fail_stop("sender %u: fi_send of %zu bytes: %zd (%s)", s->t, len, r,
				  ft_strerr(r));
			break;
		}
		t0 = ft_now_us();
		while (!(ret = cq_poll(&tx_ep[s->t].cq, &e, err, sizeof(err)))) {
			if (timed_out(t0) || atomic_load(&stop))
				break;
			sched_yield();
		}
		if (ret < 0) {
			fail_stop("sender %u: seq %" PRIu32 ": %s", s->t, seq, err);
			break;
		}
		if (!ret) {
			if (!atomic_load(&stop))
				fail_stop("sender %u: no completion of fi_send (seq %" PRIu32
					  ", %zu bytes) within %u ms", s->t, seq, len,
					  ft_opts.timeout_ms);
			break;
		}
		if (e.op_context != &s->ctx) {
			fail_stop("sender %u: completion of context %p, expected %p", s->t,
				  e.op_context, (void *)&s->ctx);
			break;
		}
		s->bytes += len;
	}
	s->sent = seq;
	/*
	 * The last fi_send may still be in flight when the run stops: then
	 * the buffer stays (the process ends soon).
	 */
	if (!atomic_load(&stop))
		release(s);
	atomic_store(&pr->published, seq);
	atomic_store(&pr->done, true);
	return NULL;
}

/* ---- receivers ---- */

struct rx_slot {
	struct fi_context2 ctx;	/* first: the operation's context */
	unsigned int pair;
	uint8_t *buf;
	bool pending;		/* to be posted (fi_recv said -FI_EAGAIN) */
	uint64_t pending_since;
};

static struct rx_slot slots[MAX_SENDERS][RX_DEPTH];

/* Post sl's receive: true when posted or left pending (-FI_EAGAIN), false on an error. */
static bool post_recv(struct rx_slot *sl)
{
	ssize_t r = fi_recv(rx_ep[sl->pair].ep, sl->buf, max_len, NULL, FI_ADDR_UNSPEC,
			    &sl->ctx);

	if (r == -FI_EAGAIN) {
		if (!sl->pending)
			sl->pending_since = ft_now_us();
		sl->pending = true;
		if (timed_out(sl->pending_since)) {
			fail_stop("rx%u: fi_recv: -FI_EAGAIN for %u ms", sl->pair,
				  ft_opts.timeout_ms);
			return false;
		}
		return true;
	}
	sl->pending = false;
	if (r) {
		fail_stop("rx%u: fi_recv: %zd (%s)", sl->pair, r, ft_strerr(r));
		return false;
	}
	return true;
}

static struct rx_slot *slot_of(unsigned int t, void *context)
{
	unsigned int j;

	for (j = 0; j < RX_DEPTH; j++)
		if (context == &slots[t][j])
			return &slots[t][j];
	return NULL;
}

/* What wrong word w at word k of sender t's message seq is. */
static void describe_word(uint64_t w, unsigned int t, uint32_t seq, uint64_t k, char *out,
			  size_t outlen)
{
	struct origin o = decode(w);

	if (!o.valid)
		snprintf(out, outlen, "garbage (%#018" PRIx64 ")%s", w, w ? "" : ": zeros");
	else if (o.t != t)
		snprintf(out, outlen, "word %" PRIu64 " of sender %u's seq %" PRIu32
			 " (STALE: another thread's buffer at this address)", o.k, o.t, o.seq);
	else if (o.seq != seq)
		snprintf(out, outlen, "word %" PRIu64 " of this sender's seq %" PRIu32
			 "%s", o.k, o.seq, o.seq < seq ? " (STALE: an earlier message)" : "");
	else
		snprintf(out, outlen, "word %" PRIu64 " of this message (moved: expected word %"
			 PRIu64 ")", o.k, k);
}

/* Check the message of len bytes that rx endpoint t received. */
static void check_message(unsigned int t, const uint8_t *buf, size_t len)
{
	struct pair *pr = &pairs[t];
	uint32_t published = (uint32_t)atomic_load(&pr->published), seq;
	size_t n = (len + 7) / 8, k, first = n, wrong = 0, stale_own = 0, stale_other = 0;
	struct origin o;
	char what[200];

	if (len < 8) {
		pr->bad++;
		fail("rx%u: a message of %zu bytes (at least %lu are sent)", t, len, MIN_LEN);
		return;
	}
	o = decode(get_word(buf, len, 0));
	seq = o.seq;
	if (!o.valid || o.t != t || o.k) {
		if (o.valid && o.t == t)
			snprintf(what, sizeof(what), "word %" PRIu64 " of this sender's seq %" PRIu32
				 " (moved: expected word 0)", o.k, o.seq);
		else
			describe_word(get_word(buf, len, 0), t, 0, 0, what, sizeof(what));
		pr->bad++;
		fail("rx%u: a message of %zu bytes whose first word is %s", t, len, what);
		return;
	}
	if (seq >= published) {
		pr->bad++;
		fail("rx%u: a message of %zu bytes names seq %" PRIu32 ", not sent yet (%" PRIu32
		     " sent)", t, len, seq, published);
		return;
	}
	if (published - seq > RING || pr->seen[seq % RING] == seq + 1) {
		pr->bad++;
		fail("rx%u: seq %" PRIu32 " (%zu bytes) arrived again: its content was sent "
		     "before (STALE)", t, seq, len);
		return;
	}
	pr->seen[seq % RING] = seq + 1;
	if (len != atomic_load(&pr->lens[seq % RING])) {
		pr->bad++;
		fail("rx%u: seq %" PRIu32 ": %zu bytes received, %" PRIuFAST32 " sent", t, seq, len,
		     atomic_load(&pr->lens[seq % RING]));
		return;
	}
	for (k = 1; k < n; k++) {
		uint64_t w = get_word(buf, len, k);

		if (w == want_word(t, seq, len, k))
			continue;
		if (first == n)
			first = k;
		wrong++;
		if (8 * k + 8 <= len) {
			o = decode(w);
			stale_own += o.valid && o.t == t && o.seq != seq;
			stale_other += o.valid && o.t != t;
		}
	}
	if (!wrong) {
		pr->bytes_received += len;
		return;
	}
	pr->bad++;
	describe_word(get_word(buf, len, first), t, seq, first, what, sizeof(what));
	fail("rx%u: seq %" PRIu32 " (%zu bytes): %zu of %zu words wrong (%zu of this sender's "
	     "other messages, %zu of other senders'%s); the first, at byte %zu, is %s", t, seq,
	     len, wrong, n, stale_own, stale_other, stale_own + stale_other ? ": STALE" : "",
	     8 * first, what);
}

struct receiver {
	unsigned int r;
	pthread_t thread;
};

static struct receiver receivers[MAX_SENDERS];

static void *receiver_main(void *arg)
{
	struct receiver *rv = arg;
	uint64_t idle_since = ft_now_us();

	while (!atomic_load(&stop)) {
		bool any = false, all_done = true;
		unsigned int t;

		for (t = rv->r; t < n_senders; t += n_receivers) {
			struct pair *pr = &pairs[t];
			struct fi_cq_tagged_entry e;
			struct rx_slot *sl;
			char err[256];
			unsigned int j;
			int ret;

			/* Receives fi_recv refused before (-FI_EAGAIN): again. */
			for (j = 0; j < RX_DEPTH; j++)
				if (slots[t][j].pending && !post_recv(&slots[t][j]))
					return NULL;
			while ((ret = cq_poll(&rx_ep[t].cq, &e, err, sizeof(err))) == 1) {
				sl = slot_of(t, e.op_context);
				if (!sl) {
					fail_stop("rx%u: completion of context %p, not a receive of "
						  "this endpoint", t, e.op_context);
					return NULL;
				}
				if (!(e.flags & FI_RECV))
					fail("rx%u: a receive completion without FI_RECV (flags %#"
					     PRIx64 ")", t, (uint64_t)e.flags);
				check_message(t, sl->buf, e.len);
				atomic_fetch_add(&pr->received, 1);
				any = true;
				if (!post_recv(sl))
					return NULL;
			}
			if (ret < 0) {
				fail_stop("%s", err);
				return NULL;
			}
			if (!atomic_load(&pr->done) ||
			    atomic_load(&pr->received) < atomic_load(&pr->published))
				all_done = false;
		}
		if (all_done)
			break;
		if (any) {
			idle_since = ft_now_us();
			continue;
		}
		if (timed_out(idle_since)) {
			for (t = rv->r; t < n_senders; t += n_receivers)
				if (atomic_load(&pairs[t].received) < atomic_load(&pairs[t].published))
					fail("rx%u: %" PRIuFAST32 " of %" PRIuFAST32 " messages "
					     "arrived; nothing for %u ms", t,
					     atomic_load(&pairs[t].received),
					     atomic_load(&pairs[t].published), ft_opts.timeout_ms);
			atomic_store(&stop, true);
			break;
		}
		sched_yield();
	}
	return NULL;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	uint64_t t0, msgs = 0, bytes = 0;
	unsigned int i, j, a;
	int ret;

	ft_parse(argc, argv, "n:r:t:M:S:s",
		 "[-n SENDERS] [-r RECEIVERS] [-t SECONDS] [-M BYTES] [-S SEED] [-s]\n"
		 "  -n SENDERS   sender threads, each with an endpoint (default 3, at most 8)\n"
		 "  -r RECEIVERS receiver threads over the receiving endpoints (default 2)\n"
		 "  -t SECONDS   how long the senders loop (default 5)\n"
		 "  -M BYTES     the largest message (default 1 MiB; at most 8 MiB)\n"
		 "  -S SEED      the random choices' seed (default 1)\n"
		 "  -s           receiving endpoints in the senders' domain (default: a second "
		 "domain)", opt);
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	inv_a = inverse(MIX_A);
	inv_b = inverse(MIX_B);
	if (max_len > W_MAX_LEN)
		max_len = W_MAX_LEN;
	n_receivers = FT_MIN(n_receivers, n_senders);
	/* malloc maps what its heaps cannot give, and free unmaps it: once, now. */
	if (!mallopt(M_MMAP_THRESHOLD, 1))
		ft_log("mallopt(M_MMAP_THRESHOLD, 1) failed: malloc keeps its own choice");
	open_all();
	if (dom[0].info->ep_attr->max_msg_size < max_len) {
		if (dom[0].info->ep_attr->max_msg_size < 2 * MIN_LEN)
			ft_skip("max_msg_size %zu is below 2 KiB", dom[0].info->ep_attr->max_msg_size);
		max_len = dom[0].info->ep_attr->max_msg_size;
		ft_log("the largest message is max_msg_size: %zu bytes", max_len);
	}
	for (i = 0; i < n_senders; i++) {
		for (j = 0; j < RX_DEPTH; j++) {
			slots[i][j].pair = i;
			slots[i][j].buf = ft_xmalloc(max_len);
			do
				if (!post_recv(&slots[i][j]))
					ft_fatal("posting the first receives failed");
			while (slots[i][j].pending);
		}
	}
	ft_log("%u sender%s, %u receiver thread%s, %.1f s, messages of %lu..%zu bytes, seed %"
	       PRIu64, n_senders, n_senders > 1 ? "s" : "", n_receivers,
	       n_receivers > 1 ? "s" : "", budget_s, MIN_LEN, max_len, seed);

	t0 = ft_now_us();
	for (i = 0; i < n_receivers; i++) {
		receivers[i].r = i;
		ret = pthread_create(&receivers[i].thread, NULL, receiver_main, &receivers[i]);
		if (ret)
			ft_fatal("pthread_create: %s", strerror(ret));
	}
	for (i = 0; i < n_senders; i++) {
		senders[i].t = i;
		senders[i].rng = (seed + 1) * 0x9E3779B97F4A7C15ULL ^ (i + 1) * 0xD1B54A32D192ED03ULL;
		if (!senders[i].rng)
			senders[i].rng = 1;
		ret = pthread_create(&senders[i].thread, NULL, sender_main, &senders[i]);
		if (ret)
			ft_fatal("pthread_create: %s", strerror(ret));
	}
	for (i = 0; i < n_senders; i++)
		pthread_join(senders[i].thread, NULL);
	for (i = 0; i < n_receivers; i++)
		pthread_join(receivers[i].thread, NULL);
	t0 = ft_now_us() - t0;

	for (i = 0; i < n_senders; i++) {
		struct sender *s = &senders[i];
		struct pair *pr = &pairs[i];
		char acts[400];
		size_t o = 0;

		for (a = 0; a < A_COUNT && o < sizeof(acts); a++)
			o += (size_t)snprintf(acts + o, sizeof(acts) - o, "%s%s %u", a ? ", " : "",
					      action_names[a], s->actions[a]);
		if (o < sizeof(acts))
			snprintf(acts + o, sizeof(acts) - o, "; the same address again: malloc %u, "
				 "realloc %u, munmap+mmap %u (%u taken by another thread meanwhile); "
				 "another sender's old address %u", s->same_addr[A_MALLOC],
				 s->same_addr[A_REALLOC], s->same_addr[A_REMAP], s->remap_taken,
				 s->others_addr);
		ft_log("sender %u: %" PRIu32 " messages, %" PRIu64 " bytes, %" PRIuFAST32
		       " received (%u wrong); buffers: %s", i, s->sent, s->bytes,
		       atomic_load(&pr->received), pr->bad, acts);
		if (!atomic_load(&stop))
			ft_check(atomic_load(&pr->received) == s->sent,
				 "sender %u: %" PRIu32 " messages sent, %" PRIuFAST32 " received", i,
				 s->sent, atomic_load(&pr->received));
		ft_check(pr->bytes_received == s->bytes || atomic_load(&stop) || pr->bad,
			 "sender %u: %" PRIu64 " bytes sent, %" PRIu64 " received right", i,
			 s->bytes, pr->bytes_received);
		msgs += s->sent;
		bytes += s->bytes;
	}
	if (atomic_load(&failures))
		ft_error("%u failures in the threads (the first %u said above)",
			 atomic_load(&failures), FT_MIN(atomic_load(&failures), MAX_FAIL_LINES));
	if (atomic_load(&stop) && !atomic_load(&failures))
		ft_error("the run stopped early");
	if (!atomic_load(&stop)) {
		ft_check_fpgadma_cache(&dom[0], "the senders' domain");
		close_all();
		for (i = 0; i < n_senders; i++)
			for (j = 0; j < RX_DEPTH; j++)
				free(slots[i][j].buf);
	}
	return ft_finish("%" PRIu64 " messages, %" PRIu64 " bytes, every byte checked; %u "
			 "sender%s, %u receiver thread%s, %.1f s (%s)", msgs, bytes, n_senders,
			 n_senders > 1 ? "s" : "", n_receivers, n_receivers > 1 ? "s" : "",
			 (double)t0 / 1e6, one_domain ? "one domain" : "two domains");
}
