// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ioctl_fuzz: random and mutated calls into the module from two threads.
 *
 * At least 100,000 calls (bounded in time): commands of our magic with
 * random numbers, directions and sizes; the four real commands with random
 * contents, BIND_EP too (flags, reserved fields, access bits, keys live,
 * dead and invented, lengths from 0 to 2^64-1, addresses in a registered
 * arena, in PROT_NONE guards, NULL, kernel and non-canonical); monitored
 * registrations (FPGADMA_REG_MR_MONITOR), and mon_slot and mon_gen, its
 * outputs, set on input, which like an unknown flag bit or a reserved field
 * must get EINVAL; paced streams (STREAM_START with random geometry, keys,
 * rates and FIFO depths, flags, reserved and out fields, each stream that
 * starts stopped again at once, with or without a drain, or now and then
 * left running on the private context for its close to stop;
 * STREAM_STATS and STREAM_STOP of random ids, with random flags, reserved
 * fields and stats on input), argument pointers that are NULL, kernel addresses,
 * unmapped, read-only or straddle a guard page; POSTs with random opcodes
 * (atomics among them, with random operations, datatypes and flags),
 * counts, device addresses and SGE lists; other drivers' commands;
 * mmap/munmap of the ring, of the monitor area, of the stream area and of
 * the device memory with random lengths, offsets and protections (the
 * monitor area maps read-only up to its size, never writable or larger;
 * the stream area only shared, never executable or larger, and garbage
 * written into its read indices only stalls the streams; the device
 * memory only shared, never executable, never past its end); mmap of
 * local message channels (FPGADMA_CAP_CHAN): the context's inbox and its
 * channels to random endpoints (the contexts of the run, invented numbers,
 * numbers past the last window), with random lengths, offsets inside and
 * at the start of a window, protections and flags, garbage written into
 * whatever maps writable (the table and slot headers too: the module only
 * writes them), some mappings kept across the close of their file and
 * unmapped later (only shared, never executable, never longer than a slot
 * or the inbox, never inside a window; the own inbox always maps; a refused
 * mapping is refused for its shape before any lookup, ENOENT and ENOSPC
 * only for well-formed channels; on a device without channels nothing
 * maps there); read() of monitor events with random sizes
 * and buffers (EINVAL below one event, else EAGAIN: the files are
 * non-blocking and no MR is invalidated); the ring's head overwritten with
 * garbage; contexts closed with MRs (monitored ones too) registered and
 * work in flight.
 *
 * During the run: another driver's command always gets ENOTTY, an unknown
 * command of our magic always EINVAL, and no call returns an errno outside
 * {EINVAL, EFAULT, ENOMEM, EAGAIN, EBUSY, EINTR}, save EEXIST for a
 * registration asking for an rkey in use, ENOSPC for a monitored one with
 * every monitor slot taken, EADDRINUSE for a BIND_EP of a
 * number in use, EOPNOTSUPP for host-endpoint work on a device without
 * them, and for the stream calls ENOSPC (max_streams running), EACCES (an
 * MR without LOCAL_WRITE) and EOPNOTSUPP (a device without paced streams).
 * A stream call whose arguments set a flag, a reserved or an out field gets
 * EINVAL; a START that succeeds gives an id in 1..max_streams, and the STATS
 * and STOP of it succeed.  Afterwards, with every
 * file closed: the pin count, live_mrs and pinned_pages are back where they
 * started, VmPin is 0 again, and data round trips through the device.
 * Prints the seed (argv[1] repeats a run) and the outcomes per kind of call.
 */
#include "helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>

#define TARGET_CALLS	100000
#define TIME_LIMIT_MS	35000
#define NTHREADS	2
#define MAX_LIVE	48
#define ARENA		(4 * T_MiB)
#define GUARD		(8 * T_MiB)
#define NERR		134

enum kind { K_QUERY, K_REG, K_DEREG, K_POST, K_BIND, K_OURS_BAD, K_FOREIGN, K_MMAP, K_RING,
	    K_READ, K_REOPEN, K_STREAM, K_CHAN, K_COUNT };
static const char *const kind_name[K_COUNT] = {
	"QUERY", "REG_MR", "DEREG_MR", "POST", "BIND_EP", "our magic, bad cmd",
	"other drivers' cmds", "mmap", "ring head writes", "read (monitor events)",
	"close/reopen with work", "STREAM_START/STOP/STATS", "mmap of channels",
};

/* The soft engine's chan_mmap_off: tried on a device without channels too. */
#define SOFT_CHAN_MMAP_OFF	(8ULL << 30)
/* Channel mappings a thread keeps for a while (across a close of their file). */
#define CHAN_KEEP		8

/* Each thread's stream rings: not in the arena, one half per context. */
#define SRING		(64 * 1024)

struct fuzzer {
	unsigned int id;
	struct t_rng rng;
	uint64_t calls;
	uint64_t hist[K_COUNT][NERR + 1];
	uint64_t mon_regs;		/* monitored registrations that succeeded */
	uint32_t live[MAX_LIVE];	/* lkeys on the shared fd */
	unsigned int nlive;
	int fd_b;			/* a private context, closed and reopened */
	uint32_t live_b[MAX_LIVE];
	unsigned int nlive_b;
	uint8_t *scratch;		/* argument structs; a guard page follows */
	size_t scratch_len;
	uint8_t *sring;			/* 2 * SRING bytes: the rings of its streams */
	uint32_t skey_a, skey_b;	/* their MRs on fd_a and fd_b (LOCAL_WRITE) */
	uint64_t stream_starts;		/* STREAM_STARTs that succeeded */
	uint64_t stream_left;		/* streams left running for a close */
	_Atomic uint32_t ep_b;		/* fd_b's endpoint number */
	void *chan_kept[CHAN_KEEP];	/* channel mappings kept for later */
	size_t chan_kept_len[CHAN_KEEP];
	uint64_t chan_kept_gen[CHAN_KEEP];	/* fd_b's generation, 0: fd_a */
	uint64_t b_gen;			/* fd_b's reopens */
	uint64_t chan_inboxes, chan_slots;	/* inboxes and channels mapped */
};

static int fd_a;
static _Atomic uint32_t ep_a;	/* fd_a's endpoint number */
static bool dma_api_debug;	/* the kernel checks DMA-API use */
static uint64_t time_limit_ms;	/* TIME_LIMIT_MS, longer on a debug kernel */
static uint8_t *ring_a, *reserve, *arena, *ro_page;
static size_t reserve_len, ring_len, page;
static struct fpgadma_query q;
static atomic_uint_fast64_t total_calls;
static atomic_int stop;
static uint64_t t_start;
static struct fuzzer fz[NTHREADS];

static uint64_t rnd(struct fuzzer *f, uint64_t n)
{
	return t_rand_below(&f->rng, n);
}

static bool chance(struct fuzzer *f, unsigned int percent)
{
	return rnd(f, 100) < percent;
}

static void record(struct fuzzer *f, enum kind k, long r, int err)
{
	unsigned int e = r == -1 ? (unsigned int)err : 0;

	if (r == -1 && e != EINVAL && e != EFAULT && e != ENOMEM && e != EAGAIN &&
	    e != EBUSY && e != EINTR && !(k == K_FOREIGN && e == ENOTTY) &&
	    !(k == K_REG && (e == EEXIST || e == ENOSPC)) && !(k == K_POST && e == EOPNOTSUPP) &&
	    !(k == K_BIND && e == EADDRINUSE) &&
	    !(k == K_MMAP && (e == EPERM || e == EACCES || e == ENODEV)) &&
	    !(k == K_CHAN && (e == EPERM || e == EACCES || e == ENODEV || e == ENOENT ||
			      e == ENOSPC)) &&
	    !(k == K_STREAM && (e == ENOSPC || e == EACCES ||
				(e == EOPNOTSUPP && !(q.caps & FPGADMA_CAP_STREAM)))))
		t_fail("thread %u, %s: unexpected error %s", f->id, kind_name[k], t_errname(e));
	f->hist[k][e < NERR ? e : NERR]++;
	f->calls++;
	atomic_fetch_add(&total_calls, 1);
}

/* A user address: mostly in the arena, else somewhere no MR can be. */
static uint64_t rand_uaddr(struct fuzzer *f)
{
	uint64_t r = rnd(f, 100);

	if (r < 60)
		return (uintptr_t)arena + rnd(f, ARENA);
	if (r < 68)
		return (uintptr_t)arena + ARENA - rnd(f, 8192);
	if (r < 73)
		return (uintptr_t)arena - 1 - rnd(f, 8192);
	if (r < 78)
		return rnd(f, 65536);
	if (r < 83)
		return 0xffff888000000000ULL + rnd(f, 1ULL << 30);
	if (r < 88)
		return 0x00007ffffffff000ULL + rnd(f, 8192);
	if (r < 93)
		return (uintptr_t)reserve + rnd(f, GUARD);
	if (r < 97)
		return 0x8000000000000000ULL | t_rand(&f->rng);
	return UINT64_MAX - rnd(f, 8192);
}

static uint64_t rand_len(struct fuzzer *f)
{
	uint64_t r = rnd(f, 100);

	if (r < 40)
		return 1 + rnd(f, 4096);
	if (r < 70)
		return 1 + rnd(f, 65536);
	if (r < 78)
		return 0;
	if (r < 86)
		return 65536 + rnd(f, T_MiB);
	if (r < 91)
		return ARENA - rnd(f, 4096);
	if (r < 96)
		return 1ULL << (32 + rnd(f, 30));
	return UINT64_MAX - rnd(f, 4096);
}

/* A key: one of ours, the other context's, the other thread's, or invented. */
static uint32_t rand_key(struct fuzzer *f)
{
	uint64_t r = rnd(f, 100);
	struct fuzzer *other = &fz[(f->id + 1) % NTHREADS];

	if (r < 55 && f->nlive)
		return f->live[rnd(f, f->nlive)];
	if (r < 65 && other->nlive)
		return other->live[rnd(f, T_MIN(other->nlive, MAX_LIVE))];
	if (r < 75 && f->nlive_b)
		return f->live_b[rnd(f, f->nlive_b)];
	if (r < 80)
		return 0;
	return (uint32_t)t_rand(&f->rng);
}

/*
 * Where the argument of an ioctl goes: mostly our scratch buffer (at any
 * alignment), else a pointer the kernel must refuse.  Never an address of
 * ours outside scratch: the kernel writes results through it.
 */
static void *rand_arg(struct fuzzer *f, size_t size, bool *readable)
{
	uint64_t r = rnd(f, 100);

	*readable = false;
	if (r < 82) {
		*readable = true;
		return f->scratch + rnd(f, 8);
	}
	if (r < 85)
		return NULL;
	if (r < 88)
		return (void *)(uintptr_t)(0xffff888000000000ULL + rnd(f, 1ULL << 30));
	if (r < 91)
		return reserve + rnd(f, GUARD);
	if (r < 94)
		return ro_page;
	if (r < 97)	/* runs into the guard page after scratch */
		return f->scratch + f->scratch_len - 1 - rnd(f, T_MAX(size, 2) - 1);
	return (void *)(uintptr_t)(0x8000000000000000ULL | t_rand(&f->rng));
}

static void forget(uint32_t *keys, unsigned int *n, uint32_t key)
{
	unsigned int i;

	for (i = 0; i < *n; i++) {
		if (keys[i] == key) {
			keys[i] = keys[--*n];
			return;
		}
	}
}

static long do_ioctl(int fd, unsigned long cmd, void *arg, int *err)
{
	long r = ioctl(fd, cmd, arg);

	*err = errno;
	return r;
}

static void fuzz_dereg_key(struct fuzzer *f, int fd, uint32_t key, bool mutate)
{
	struct fpgadma_dereg_mr *d;
	bool readable, mutated = false;
	long r;
	int err;

	d = rand_arg(f, sizeof(*d), &readable);
	if (readable) {
		*d = (struct fpgadma_dereg_mr){ .lkey = key };
		if (mutate && chance(f, 5)) {
			d->flags = (uint32_t)t_rand(&f->rng);
			mutated = true;
		}
		if (mutate && chance(f, 5)) {
			d->reserved[rnd(f, 2)] = t_rand(&f->rng);
			mutated = true;
		}
	}
	r = do_ioctl(fd, FPGADMA_IOC_DEREG_MR, d, &err);
	/* Gone, or never there (another thread took it): forget it. */
	if (readable && !mutated && (r == 0 || err == EINVAL)) {
		if (fd == fd_a)
			forget(f->live, &f->nlive, key);
		else
			forget(f->live_b, &f->nlive_b, key);
	}
	record(f, K_DEREG, r, err);
}

static void fuzz_reg(struct fuzzer *f, int fd)
{
	uint32_t *keys = fd == fd_a ? f->live : f->live_b;
	unsigned int *n = fd == fd_a ? &f->nlive : &f->nlive_b;
	struct fpgadma_reg_mr *m;
	bool readable, bad = false, monitored = false;
	long r;
	int err;

	while (*n >= MAX_LIVE)
		fuzz_dereg_key(f, fd, keys[rnd(f, *n)], false);
	m = rand_arg(f, sizeof(*m), &readable);
	if (readable) {
		memset(m, 0, sizeof(*m));
		m->addr = rand_uaddr(f);
		m->length = rand_len(f);
		/* Keep what is pinned modest: the guest may be small. */
		if (m->length > T_MiB && m->length < (1ULL << 32) && chance(f, 80))
			m->length = 1 + rnd(f, 65536);
		m->access = chance(f, 90) ? (uint32_t)rnd(f, 8) : (uint32_t)t_rand(&f->rng);
		/*
		 * DMA-API debugging warns when more than 7 mappings the device
		 * may write cover one cacheline, which the arena's hundreds of
		 * overlapping MRs do; verbs allows it and so do we, so on such
		 * a kernel only read-only MRs are fuzzed (pinning is the same:
		 * always FOLL_WRITE; only the mapping direction differs).
		 */
		if (dma_api_debug && m->access < 8)
			m->access &= ~(uint32_t)(FPGADMA_ACCESS_LOCAL_WRITE |
						 FPGADMA_ACCESS_REMOTE_WRITE);
		if (chance(f, 30))
			m->flags = FPGADMA_REG_MR_MONITOR;
		if (chance(f, 4))
			m->flags = chance(f, 50) ? (uint32_t)t_rand(&f->rng) :
						   (uint32_t)(1ULL << rnd(f, 32));
		if (chance(f, 4))
			m->reserved0 = (uint32_t)t_rand(&f->rng);
		if (chance(f, 4))
			m->reserved = t_rand(&f->rng);
		/* outputs of a monitored registration, which must be zero on input */
		if (chance(f, 4))
			m->mon_slot = chance(f, 50) ? (uint32_t)rnd(f, 64) : (uint32_t)t_rand(&f->rng);
		if (chance(f, 4))
			m->mon_gen = chance(f, 50) ? 1 : (uint32_t)t_rand(&f->rng);
		if (chance(f, 3))
			m->lkey = (uint32_t)t_rand(&f->rng);
		bad = (m->flags & ~(uint32_t)(FPGADMA_REG_MR_REQ_RKEY | FPGADMA_REG_MR_MONITOR)) ||
		      m->reserved0 || m->reserved || m->mon_slot || m->mon_gen;
		monitored = m->flags & FPGADMA_REG_MR_MONITOR;
	}
	r = do_ioctl(fd, FPGADMA_IOC_REG_MR, m, &err);
	if (readable && bad && !(r == -1 && err == EINVAL))
		t_fail("thread %u: REG_MR with flags 0x%x, reserved0 0x%x, reserved 0x%llx, mon_slot "
		       "%u, mon_gen %u: %ld %s, expected EINVAL", f->id, m->flags, m->reserved0,
		       (unsigned long long)m->reserved, m->mon_slot, m->mon_gen, r, t_errname(err));
	if (r == -1 && err == ENOSPC && !(readable && monitored))
		t_fail("thread %u: REG_MR without FPGADMA_REG_MR_MONITOR: ENOSPC", f->id);
	if (r == 0) {
		CHECK(readable);	/* success writes the keys back: only into scratch */
		if (monitored) {
			if (m->mon_slot < 1 || m->mon_slot >= q.mon_slots)
				t_fail("thread %u: monitored MR in slot %u (1..%u)", f->id,
				       m->mon_slot, q.mon_slots - 1);
			f->mon_regs++;
		} else if (m->mon_slot || m->mon_gen) {
			t_fail("thread %u: unmonitored MR with slot %u generation %u", f->id,
			       m->mon_slot, m->mon_gen);
		}
		keys[(*n)++] = m->lkey;	/* monitored or not, deregistered alike */
	}
	record(f, K_REG, r, err);
}

static void fuzz_post(struct fuzzer *f, int fd)
{
	unsigned int max_post = q.max_post, max_sge = q.max_sge, count, i, j;
	struct fpgadma_post *p = (struct fpgadma_post *)f->scratch;
	struct fpgadma_wr *wrs = (struct fpgadma_wr *)(f->scratch + 64);
	struct fpgadma_sge *sges = (struct fpgadma_sge *)(wrs + max_post + 4);
	uint64_t r = rnd(f, 100);
	bool readable;
	void *arg = p;
	long ret;
	int err;

	if (r < 60)
		count = 1 + (unsigned int)rnd(f, 4);
	else if (r < 85)
		count = 1 + (unsigned int)rnd(f, max_post);
	else if (r < 90)
		count = 0;
	else if (r < 95)
		count = max_post + 1 + (unsigned int)rnd(f, 3);
	else
		count = (uint32_t)t_rand(&f->rng);

	for (i = 0; i < T_MIN(count, max_post + 4); i++) {
		struct fpgadma_wr *w = &wrs[i];
		struct fpgadma_sge *s = sges + (size_t)i * 4;
		unsigned int nsge;

		memset(w, 0, sizeof(*w));
		w->wr_id = t_rand(&f->rng);
		r = rnd(f, 100);
		w->opcode = r < 80 ? 1 + (uint32_t)rnd(f, 7) :
			    r < 90 ? FPGADMA_WR_ATOMIC + (uint32_t)rnd(f, 2) :
			    (uint32_t)t_rand(&f->rng) % 13;
		r = rnd(f, 100);
		w->dev_addr = r < 70 ? rnd(f, q.dev_mem_size) :
			      r < 80 ? q.dev_mem_size - rnd(f, 65536) :
			      r < 90 ? q.dev_mem_size + rnd(f, 65536) : t_rand(&f->rng);
		if (w->opcode == FPGADMA_WR_READ_STREAM && chance(f, 90))
			w->dev_addr = 0;
		r = rnd(f, 100);
		nsge = r < 80 ? 1 + (unsigned int)rnd(f, T_MIN(4, max_sge)) : r < 90 ? 0 :
		       r < 95 ? max_sge : max_sge + 1;
		w->num_sge = nsge;
		w->sg_list = (uintptr_t)s;
		if (nsge > 4 && chance(f, 50))	/* a long list: reuse the first WRs' pieces */
			w->sg_list = (uintptr_t)sges;
		if (chance(f, 5)) {
			bool ok;

			w->sg_list = (uintptr_t)rand_arg(f, 16 * nsge, &ok);
			if (ok)
				w->sg_list = (uintptr_t)s;
		}
		for (j = 0; j < 4; j++) {
			s[j].lkey = rand_key(f);
			s[j].addr = rand_uaddr(f);
			s[j].length = chance(f, 90) ? (uint32_t)rnd(f, 65536) : (uint32_t)rand_len(f);
		}
		if (chance(f, 3))
			w->flags = (uint32_t)t_rand(&f->rng);
		if (w->opcode == FPGADMA_WR_ATOMIC || w->opcode == FPGADMA_WR_ATOMIC_MEM) {
			/* mostly a valid operation and type, pieces of one length */
			uint32_t len = 8 * (1 + (uint32_t)rnd(f, 8));

			w->atomic_op = (uint16_t)rnd(f, FPGADMA_ATOMIC_OP_COUNT + 1);
			w->atomic_type = (uint16_t)rnd(f, FPGADMA_ATOMIC_TYPE_COUNT + 1);
			if (chance(f, 50))
				w->flags = FPGADMA_WR_F_FETCH;
			if (w->opcode == FPGADMA_WR_ATOMIC && chance(f, 30))
				w->flags |= FPGADMA_WR_F_REMOTE_OFFSET;
			if (chance(f, 70))
				for (j = 0; j < 4; j++)
					s[j].length = len;
		}
		if (chance(f, 3))
			w->atomic_op = (uint16_t)t_rand(&f->rng);
		if (chance(f, 3))
			w->atomic_type = (uint16_t)t_rand(&f->rng);
		if (chance(f, 3))
			w->reserved = t_rand(&f->rng);
		if (chance(f, 3))
			w->rkey = (uint32_t)t_rand(&f->rng);
		if (chance(f, 3))
			w->dest = (uint32_t)t_rand(&f->rng);
	}
	memset(p, 0, sizeof(*p));
	p->wrs = (uintptr_t)wrs;
	p->count = count;
	if (chance(f, 5)) {
		bool ok;

		p->wrs = (uintptr_t)rand_arg(f, sizeof(*wrs), &ok);
		if (ok)
			p->wrs = (uintptr_t)wrs;
	}
	if (chance(f, 3))
		p->flags = (uint32_t)t_rand(&f->rng);
	if (chance(f, 3))
		p->reserved[rnd(f, 2)] = t_rand(&f->rng);
	if (chance(f, 8)) {
		void *bad = rand_arg(f, sizeof(*p), &readable);

		arg = readable ? (void *)p : bad;
	}
	ret = do_ioctl(fd, FPGADMA_IOC_POST, arg, &err);
	record(f, K_POST, ret, err);
}

static void fuzz_query(struct fuzzer *f, int fd)
{
	bool readable;
	void *arg = rand_arg(f, sizeof(struct fpgadma_query), &readable);
	int err;
	long r = do_ioctl(fd, FPGADMA_IOC_QUERY, arg, &err);

	if (readable)
		CHECK_EQ(r, 0);
	record(f, K_QUERY, r, err);
}

/*
 * BIND_EP with random contents, mostly on the private context (binding the
 * shared one would leave it bound for the rest of the run): a number out of
 * range, a flag or a reserved field set must get EINVAL; a valid one 0,
 * EADDRINUSE, or EINVAL once the context is bound.
 */
static void fuzz_bind(struct fuzzer *f, int fd)
{
	struct fpgadma_bind_ep *b = (void *)f->scratch;
	bool readable, bad;
	void *arg = b;
	long r;
	int err;

	memset(b, 0, sizeof(*b));
	b->ep_id = chance(f, 20) ? (uint32_t)t_rand(&f->rng) : (uint32_t)rnd(f, 65537);
	if (chance(f, 10))
		b->flags = (uint32_t)t_rand(&f->rng) | 1;
	if (chance(f, 10))
		b->reserved[rnd(f, 3)] = t_rand(&f->rng) | 1;
	bad = !b->ep_id || b->ep_id > FPGADMA_EP_ID_MAX || b->flags || b->reserved[0] ||
	      b->reserved[1] || b->reserved[2];
	if (chance(f, 8)) {
		void *p = rand_arg(f, sizeof(*b), &readable);

		arg = readable ? arg : p;
	}
	r = do_ioctl(fd, FPGADMA_IOC_BIND_EP, arg, &err);
	if (arg == b && bad && !(r == -1 && err == EINVAL))
		t_fail("thread %u: BIND_EP of %u, flags 0x%x: %ld %s, expected EINVAL", f->id,
		       b->ep_id, b->flags, r, t_errname(err));
	if (r == 0) {
		/* the channels' targets: the contexts' numbers as they are now */
		struct fpgadma_query bq;

		CHECK_SYS(ioctl(fd, FPGADMA_IOC_QUERY, &bq));
		atomic_store(fd == fd_a ? &ep_a : &f->ep_b, bq.ep_id);
	}
	record(f, K_BIND, r, err);
}

/* Register [p, p + SRING) on fd for the thread's streams; its lkey. */
static uint32_t reg_sring(int fd, uint8_t *p)
{
	struct fpgadma_reg_mr m = { .addr = (uintptr_t)p, .length = SRING,
				    .access = FPGADMA_ACCESS_LOCAL_WRITE };

	CHECK_SYS(ioctl(fd, FPGADMA_IOC_REG_MR, &m));
	return m.lkey;
}

/* A STREAM_START into the thread's ring on fd, mostly plausible. */
static void fill_start(struct fuzzer *f, int fd, struct fpgadma_stream_start *s)
{
	uint64_t r, span;

	memset(s, 0, sizeof(*s));
	s->user_data = t_rand(&f->rng);
	s->lkey = chance(f, 80) ? (fd == fd_a ? f->skey_a : f->skey_b) : rand_key(f);
	r = rnd(f, 100);
	s->frame_size = r < 10 ? 0 : r < 85 ? 48 + (uint32_t)rnd(f, 2048) :
			r < 93 ? (uint32_t)rnd(f, 48) : (uint32_t)t_rand(&f->rng);
	r = rnd(f, 100);
	if (r < 90)
		s->slot_size = (s->frame_size ? s->frame_size : 4096) + (uint32_t)rnd(f, 16);
	else if (r < 95)
		s->slot_size = (uint32_t)rnd(f, (uint64_t)s->frame_size + 1);
	else
		s->slot_size = (uint32_t)t_rand(&f->rng);
	r = rnd(f, 100);
	s->nslots = r < 92 ? 1 + (uint32_t)rnd(f, 8) : r < 95 ? 0 : (uint32_t)t_rand(&f->rng);
	span = (uint64_t)s->nslots * s->slot_size;
	s->ring_length = chance(f, 90) ? span + rnd(f, 64) : rand_len(f);
	if (s->ring_length <= SRING && chance(f, 90))
		s->ring_offset = rnd(f, SRING - s->ring_length + 1);
	else
		s->ring_offset = chance(f, 50) ? rand_len(f) : rand_uaddr(f);
	r = rnd(f, 100);
	s->fifo_frames = r < 40 ? 0 : r < 92 ? 1 + (uint32_t)rnd(f, 32) : (uint32_t)t_rand(&f->rng);
	r = rnd(f, 100);
	s->frame_period_ns = r < 80 ? 20000 + rnd(f, 5000000) : r < 88 ? 0 :
			     r < 94 ? 1 + rnd(f, 1000) : t_rand(&f->rng);
	if (chance(f, 5)) {
		s->byte_rate = chance(f, 80) ? 1 + rnd(f, 1ULL << 30) : t_rand(&f->rng);
		if (chance(f, 70))
			s->frame_period_ns = 0;
	}
	s->cqe_every = chance(f, 90) ? (uint32_t)rnd(f, 9) : (uint32_t)t_rand(&f->rng);
	if (chance(f, 3))
		s->flags = (uint32_t)t_rand(&f->rng) | 1;
	if (chance(f, 3))
		s->reserved[rnd(f, 4)] = t_rand(&f->rng) | 1;
	if (chance(f, 3))
		s->stream_id = 1 + (uint32_t)rnd(f, 8);
	if (chance(f, 3))
		s->ctrl_off = (1 + rnd(f, 8)) * page;
}

/* A stream id: on the private context any, on the shared one never a real id. */
static uint32_t rand_stream_id(struct fuzzer *f, int fd)
{
	if (fd == fd_a)	/* the other thread's streams on fd_a are not ours to stop */
		return chance(f, 50) ? 0 : q.max_streams + 1 + (uint32_t)rnd(f, 1U << 31);
	return chance(f, 90) ? (uint32_t)rnd(f, q.max_streams + 2) : (uint32_t)t_rand(&f->rng);
}

/* STREAM_STATS or STREAM_STOP of id, with random flags and fields. */
static void fuzz_stream_id(struct fuzzer *f, int fd, bool stop, uint32_t id, bool ours)
{
	struct fpgadma_stream_stop *sp = (void *)f->scratch;
	struct fpgadma_stream_query *sq = (void *)f->scratch;
	bool bad = false, readable = true;
	void *arg = f->scratch;
	long r;
	int err;

	if (stop) {
		memset(sp, 0, sizeof(*sp));
		sp->stream_id = id;
		sp->drain_ms = chance(f, 70) ? 0 : (uint32_t)rnd(f, 3);
		if (!ours && chance(f, 5)) {
			sp->flags = (uint32_t)t_rand(&f->rng) | 1;
			bad = true;
		}
		if (!ours && chance(f, 5)) {
			sp->reserved0 = (uint32_t)t_rand(&f->rng) | 1;
			bad = true;
		}
		if (!ours && chance(f, 5)) {
			sp->reserved[rnd(f, 2)] = t_rand(&f->rng) | 1;
			bad = true;
		}
		if (!ours && chance(f, 5)) {
			((uint8_t *)&sp->stats)[rnd(f, sizeof(sp->stats))] = 0x80;
			bad = true;
		}
	} else {
		memset(sq, 0, sizeof(*sq));
		sq->stream_id = id;
		if (!ours && chance(f, 5)) {
			sq->flags = (uint32_t)t_rand(&f->rng) | 1;
			bad = true;
		}
		if (!ours && chance(f, 5)) {
			sq->reserved[rnd(f, 2)] = t_rand(&f->rng) | 1;
			bad = true;
		}
		if (!ours && chance(f, 5)) {
			((uint8_t *)&sq->stats)[rnd(f, sizeof(sq->stats))] = 0x40;
			bad = true;
		}
	}
	if (!ours && chance(f, 8)) {
		arg = rand_arg(f, stop ? sizeof(*sp) : sizeof(*sq), &readable);
		/*
		 * A STOP read from shifted scratch on the shared context can
		 * name the other thread's stream (an id byte, or drain_ms, as
		 * stream_id) and stop it under that thread: there, only
		 * arguments the kernel cannot read.
		 */
		if (stop && fd == fd_a && readable)
			arg = f->scratch;
	}
	r = do_ioctl(fd, stop ? FPGADMA_IOC_STREAM_STOP : FPGADMA_IOC_STREAM_STATS, arg, &err);
	if (readable && arg == f->scratch) {
		if (bad && !(r == -1 && err == EINVAL))
			t_fail("thread %u: STREAM_%s of %u with flags/reserved/stats set: %ld %s, "
			       "expected EINVAL", f->id, stop ? "STOP" : "STATS", id, r,
			       t_errname(err));
		if (ours && r)
			t_fail("thread %u: STREAM_%s of stream %u it started: %s", f->id,
			       stop ? "STOP" : "STATS", id, t_errname(err));
		if (fd == fd_a && !ours && !(r == -1 && (err == EINVAL || err == EOPNOTSUPP)))
			t_fail("thread %u: STREAM_%s of id %u on the shared context: %ld %s", f->id,
			       stop ? "STOP" : "STATS", id, r, t_errname(err));
		if (r == 0) {
			const struct fpgadma_stream_stats *st = stop ? &sp->stats : &sq->stats;

			if (st->frames != st->frames_delivered + st->drops + st->fifo_level ||
			    (stop && (st->state != FPGADMA_STREAM_STOPPED || st->fifo_level)))
				t_fail("thread %u: STREAM_%s of %u: frames %llu, delivered %llu, "
				       "drops %llu, FIFO %u, state %u", f->id,
				       stop ? "STOP" : "STATS", id,
				       (unsigned long long)st->frames,
				       (unsigned long long)st->frames_delivered,
				       (unsigned long long)st->drops, st->fifo_level, st->state);
		}
	}
	record(f, K_STREAM, r, err);
}

/*
 * The paced-stream calls: mostly a START (into the thread's own ring) that,
 * when it succeeds, is looked at and stopped at once, or on the private
 * context now and then left running for its close; else STATS or STOP of
 * random ids.
 */
static void fuzz_stream(struct fuzzer *f, int fd)
{
	struct fpgadma_stream_start *s = (void *)f->scratch;
	bool readable = true, bad;
	void *arg = s;
	uint64_t period;
	uint32_t id;
	long r;
	int err;

	if (chance(f, 40)) {
		fuzz_stream_id(f, fd, chance(f, 50), rand_stream_id(f, fd), false);
		return;
	}
	fill_start(f, fd, s);
	bad = s->flags || s->stream_id || s->ctrl_off || s->reserved[0] || s->reserved[1] ||
	      s->reserved[2] || s->reserved[3];
	if (chance(f, 8)) {
		void *p = rand_arg(f, sizeof(*s), &readable);

		arg = readable ? arg : p;
	}
	r = do_ioctl(fd, FPGADMA_IOC_STREAM_START, arg, &err);
	if (arg == s && bad && !(r == -1 && err == EINVAL))
		t_fail("thread %u: STREAM_START with flags 0x%x, stream_id %u, ctrl_off %llu or a "
		       "reserved field set: %ld %s, expected EINVAL", f->id, s->flags, s->stream_id,
		       (unsigned long long)s->ctrl_off, r, t_errname(err));
	record(f, K_STREAM, r, err);
	if (r)
		return;
	CHECK(arg == s);	/* success writes the id back: only into scratch */
	id = s->stream_id;
	if (id < 1 || id > q.max_streams || s->ctrl_off % page ||
	    s->ctrl_off >= q.stream_area_size || s->frame_size < FPGADMA_FRAME_HDR_SIZE ||
	    s->slot_size < s->frame_size || !s->fifo_frames || !s->frame_period_ns)
		t_fail("thread %u: STREAM_START gave id %u, ctrl_off %llu, frame_size %u (slot %u), "
		       "FIFO %u, period %llu", f->id, id, (unsigned long long)s->ctrl_off,
		       s->frame_size, s->slot_size, s->fifo_frames,
		       (unsigned long long)s->frame_period_ns);
	f->stream_starts++;
	period = s->frame_period_ns;
	if (chance(f, 50))
		fuzz_stream_id(f, fd, false, id, true);
	/* a slow one only: a fast stream's timer would eat the guest's CPU */
	if (fd == f->fd_b && period >= 1000000 && chance(f, 5)) {
		f->stream_left++;	/* the close of fd_b stops it */
		return;
	}
	fuzz_stream_id(f, fd, true, id, true);
}

static bool valid_cmd(unsigned long cmd)
{
	return cmd == FPGADMA_IOC_QUERY || cmd == FPGADMA_IOC_REG_MR ||
	       cmd == FPGADMA_IOC_DEREG_MR || cmd == FPGADMA_IOC_POST ||
	       cmd == FPGADMA_IOC_BIND_EP || cmd == FPGADMA_IOC_STREAM_START ||
	       cmd == FPGADMA_IOC_STREAM_STOP || cmd == FPGADMA_IOC_STREAM_STATS;
}

static void fuzz_ours_bad(struct fuzzer *f, int fd)
{
	unsigned int nr = chance(f, 50) ? (unsigned int)rnd(f, 8) : (unsigned int)rnd(f, 256);
	unsigned long cmd = _IOC((unsigned int)rnd(f, 4), FPGADMA_IOC_MAGIC, nr,
				 (unsigned int)rnd(f, _IOC_SIZEMASK + 1));
	bool readable;
	void *arg;
	long r;
	int err;

	if (valid_cmd(cmd))
		return;
	arg = rand_arg(f, 64, &readable);
	if (readable)
		memset(arg, 0xA5, 64);
	r = do_ioctl(fd, cmd, arg, &err);
	if (r != -1 || err != EINVAL)
		t_fail("thread %u: cmd 0x%08lx of our magic: %ld %s, expected EINVAL", f->id, cmd, r,
		       t_errname(err));
	record(f, K_OURS_BAD, r, err);
}

static void fuzz_foreign(struct fuzzer *f, int fd)
{
	/* Magics the VFS handles itself ('T' FIO*, 'X' freeze, 'f' flags, ...) left out. */
	static const unsigned int magics[] = { 'A', 'B', 'C', 'V', 'd', 'k', 'm', 'r', 's', 'v',
					       0xAE, 0xAF, 0xB7, 0xFC, 0xFE, 0xFF };
	static const unsigned long tty[] = { TCGETS, TIOCGWINSZ, TIOCGPGRP, TCFLSH };
	unsigned long cmd;
	bool readable;
	void *arg = rand_arg(f, 64, &readable);
	long r;
	int err;

	if (chance(f, 30))
		cmd = tty[rnd(f, T_ARRAY_SIZE(tty))];
	else
		cmd = _IOC((unsigned int)rnd(f, 4), magics[rnd(f, T_ARRAY_SIZE(magics))],
			   (unsigned int)rnd(f, 256), (unsigned int)rnd(f, 512));
	r = do_ioctl(fd, cmd, arg, &err);
	if (r != -1 || err != ENOTTY)
		t_fail("thread %u: foreign cmd 0x%08lx: %ld %s, expected ENOTTY", f->id, cmd, r,
		       t_errname(err));
	record(f, K_FOREIGN, r, err);
}

static void fuzz_mmap(struct fuzzer *f, int fd)
{
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_NONE,
				     PROT_READ | PROT_EXEC };
	uint64_t r = rnd(f, 100);
	size_t len = r < 40 ? ring_len : r < 60 ? page : r < 75 ? ring_len + page :
		     r < 85 ? 0 : (size_t)rnd(f, 64 * T_MiB);
	off_t off = chance(f, 65) ? 0 : (off_t)(page * (1 + rnd(f, 64)));
	int prot = prots[rnd(f, T_ARRAY_SIZE(prots))];
	int flags = chance(f, 80) ? MAP_SHARED : MAP_PRIVATE;
	bool mon_area = chance(f, 15);
	void *m;
	int err;

	bool stream_area = !mon_area && (q.caps & FPGADMA_CAP_STREAM) && chance(f, 15);
	bool mem_area = !mon_area && !stream_area && (q.caps & FPGADMA_CAP_MEM_MAP) &&
			chance(f, 15);
	uint64_t mem_at = 0;

	/* The monitor area: read-only, at most mon_size. */
	if (mon_area) {
		off = (off_t)q.mon_mmap_off;
		if (chance(f, 40))
			len = q.mon_size;
	}
	/* The stream area: shared only, never executable, at most its size. */
	if (stream_area) {
		off = (off_t)q.stream_mmap_off;
		if (chance(f, 50))
			len = q.stream_area_size;
		else if (chance(f, 50))
			len = page * (1 + rnd(f, q.max_streams));
	}
	/* The device memory: shared only, never executable, within its size. */
	if (mem_area) {
		mem_at = chance(f, 50) ? 0 : page * rnd(f, q.dev_mem_size / page + 2);
		off = (off_t)(q.mem_mmap_off + mem_at);
		if (chance(f, 30))
			len = (size_t)T_MIN(q.dev_mem_size - T_MIN(mem_at, q.dev_mem_size),
					    (uint64_t)64 * T_MiB);
	}
	m = mmap(NULL, len, prot, flags, fd, off);
	err = errno;
	if (mem_area && m != MAP_FAILED &&
	    (flags != MAP_SHARED || (prot & PROT_EXEC) || mem_at >= q.dev_mem_size ||
	     len > q.dev_mem_size - mem_at))
		t_fail("thread %u: mmap of the device memory at %llu, %zu bytes, prot 0x%x, "
		       "flags 0x%x: mapped", f->id, (unsigned long long)mem_at, len, prot, flags);
	if (mem_area && m == MAP_FAILED && len && mem_at < q.dev_mem_size &&
	    len <= q.dev_mem_size - mem_at && flags == MAP_SHARED &&
	    prot == (PROT_READ | PROT_WRITE))
		t_fail("thread %u: read-write shared mmap of %zu bytes of the device memory at "
		       "%llu: %s", f->id, len, (unsigned long long)mem_at, t_errname(err));
	if (mon_area && m != MAP_FAILED && ((prot & (PROT_WRITE | PROT_EXEC)) || len > q.mon_size))
		t_fail("thread %u: mmap of the monitor area, %zu bytes, prot 0x%x: mapped", f->id,
		       len, prot);
	if (mon_area && m == MAP_FAILED && len && len <= q.mon_size && prot == PROT_READ)
		t_fail("thread %u: read-only mmap of %zu bytes of the monitor area: %s", f->id, len,
		       t_errname(err));
	if (stream_area && m != MAP_FAILED &&
	    (flags != MAP_SHARED || (prot & PROT_EXEC) || len > q.stream_area_size))
		t_fail("thread %u: mmap of the stream area, %zu bytes, prot 0x%x, flags 0x%x: "
		       "mapped", f->id, len, prot, flags);
	if (stream_area && m == MAP_FAILED && len && len <= q.stream_area_size &&
	    flags == MAP_SHARED && prot == (PROT_READ | PROT_WRITE))
		t_fail("thread %u: read-write shared mmap of %zu bytes of the stream area: %s",
		       f->id, len, t_errname(err));
	/* Garbage in a read index (the process's) only stalls that stream. */
	if (stream_area && m != MAP_FAILED && prot == (PROT_READ | PROT_WRITE) && len >= page &&
	    chance(f, 30)) {
		struct fpgadma_stream_ctrl *c = (void *)((uint8_t *)m + page * rnd(f, len / page));

		__atomic_store_n(&c->read_idx, chance(f, 50) ? t_rand(&f->rng) :
				 __atomic_load_n(&c->write_idx, __ATOMIC_ACQUIRE) + rnd(f, 3),
				 __ATOMIC_RELEASE);
	}
	if (m != MAP_FAILED) {
		if ((prot & PROT_READ) && len >= page)
			(void)*(volatile uint32_t *)m;
		CHECK_SYS(munmap(m, len));
		record(f, K_MMAP, 0, 0);
	} else {
		record(f, K_MMAP, -1, err);
	}
}

/* An endpoint number for a channel: 0 (the inbox), the run's contexts, invented. */
static uint32_t rand_chan_ep(struct fuzzer *f)
{
	struct fuzzer *other = &fz[(f->id + 1) % NTHREADS];
	uint64_t r = rnd(f, 100);

	if (r < 20)
		return 0;
	if (r < 45)
		return atomic_load(&ep_a);
	if (r < 60)
		return atomic_load(&f->ep_b);
	if (r < 72)
		return atomic_load(&other->ep_b);
	if (r < 85)
		return 1 + (uint32_t)rnd(f, FPGADMA_EP_ID_MAX);
	if (r < 95)
		return FPGADMA_EP_ID_DYNAMIC_MIN + (uint32_t)rnd(f, 256);
	return FPGADMA_EP_ID_MAX + 1 + (uint32_t)rnd(f, 4);
}

static void chan_unmap_kept(struct fuzzer *f, unsigned int i)
{
	if (!f->chan_kept[i])
		return;
	CHECK_SYS(munmap(f->chan_kept[i], f->chan_kept_len[i]));
	f->chan_kept[i] = NULL;
}

/* Garbage into what a channel mapping shows: only the users' (and the owner's) to break. */
static void chan_scribble(struct fuzzer *f, uint8_t *m, size_t len)
{
	unsigned int i;

	/* a page or two at most: a whole inbox is half a MiB */
	if (chance(f, 20))
		memset(m, (int)rnd(f, 256), len < 2 * page ? len : 2 * page);
	for (i = 0; i < 16; i++) {
		uint64_t v = t_rand(&f->rng);

		memcpy(m + (rnd(f, len / 8) * 8), &v, sizeof(v));
	}
	if (len >= sizeof(struct fpgadma_chan_table) && chance(f, 30)) {
		/* the first page: an inbox's table, or a slot's header */
		struct fpgadma_chan_table *t = (void *)m;

		__atomic_store_n(&t->nslots, (uint32_t)t_rand(&f->rng), __ATOMIC_RELEASE);
		__atomic_store_n(&t->dead, (uint32_t)t_rand(&f->rng), __ATOMIC_RELEASE);
		t->slot[rnd(f, FPGADMA_CHAN_SLOTS)].state = (uint32_t)t_rand(&f->rng);
	}
}

/*
 * mmap of local message channels: the inbox (ep 0) and channels to random
 * endpoints, of random shapes.  A well-formed one (shared, not executable,
 * at a window's start, no longer than a slot or the inbox) maps or, for a
 * channel, fails with ENOENT or ENOSPC; anything else is refused for its
 * shape (EINVAL, EPERM, EACCES), never ENOENT or ENOSPC.
 */
static void fuzz_chan(struct fuzzer *f, int fd)
{
	static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_NONE,
				     PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC };
	bool chan = q.caps & FPGADMA_CAP_CHAN;
	uint64_t base = chan ? q.chan_mmap_off : SOFT_CHAN_MMAP_OFF;
	uint32_t ep = rand_chan_ep(f);
	uint64_t size = ep ? FPGADMA_CHAN_SLOT_SIZE : FPGADMA_CHAN_INBOX_SIZE;
	uint64_t r = rnd(f, 100), in = 0;
	/* whole inboxes now and then: a mapping of one costs 129 page entries */
	size_t len = r < 35 ? (ep || chance(f, 25) ? size : page * (1 + rnd(f, 4))) :
		     r < 55 ? page * (1 + rnd(f, size / page)) :
		     r < 70 ? size + page * (1 + rnd(f, 4)) : r < 76 ? 0 :
		     r < 88 ? 1 + rnd(f, 3 * size) : FPGADMA_CHAN_INBOX_SIZE;
	size_t maplen = (len + page - 1) & ~(page - 1);
	int prot = prots[rnd(f, T_ARRAY_SIZE(prots))];
	int flags = chance(f, 85) ? MAP_SHARED : MAP_PRIVATE;
	bool fine;
	uint8_t *m;
	int err;

	if (chance(f, 15))
		in = chance(f, 50) ? page * (1 + rnd(f, FPGADMA_CHAN_WINDOW / page - 1)) :
		     FPGADMA_CHAN_TABLE_SIZE + FPGADMA_CHAN_SLOT_SIZE * rnd(f, FPGADMA_CHAN_SLOTS);
	fine = chan && ep <= FPGADMA_EP_ID_MAX && !in && len && maplen <= size &&
	       flags == MAP_SHARED && !(prot & PROT_EXEC);
	m = mmap(NULL, len, prot, flags, fd,
		 (off_t)(base + (uint64_t)ep * FPGADMA_CHAN_WINDOW + in));
	err = errno;
	if (m != MAP_FAILED && !fine)
		t_fail("thread %u: mmap of the channel to ep %u at +0x%llx, %zu bytes, prot 0x%x, "
		       "flags 0x%x%s: mapped", f->id, ep, (unsigned long long)in, len, prot, flags,
		       chan ? "" : " (a device without channels)");
	if (m == MAP_FAILED && !fine && err != EINVAL && err != EPERM && err != EACCES)
		t_fail("thread %u: mmap of the channel to ep %u at +0x%llx, %zu bytes, prot 0x%x, "
		       "flags 0x%x: %s, expected a refusal for its shape", f->id, ep,
		       (unsigned long long)in, len, prot, flags, t_errname(err));
	if (m == MAP_FAILED && fine && err != ENOMEM && (!ep || (err != ENOENT && err != ENOSPC)))
		t_fail("thread %u: well-formed mmap of window %u (0: the inbox), %zu bytes, "
		       "prot 0x%x: %s", f->id, ep, len, prot, t_errname(err));
	if (m == MAP_FAILED) {
		record(f, K_CHAN, -1, err);
		return;
	}
	if (ep)
		f->chan_slots++;
	else
		f->chan_inboxes++;
	if (prot & PROT_WRITE)
		chan_scribble(f, m, maplen);
	if (prot & PROT_READ)
		(void)*(volatile uint32_t *)(m + rnd(f, maplen / 4) * 4);
	if (chance(f, 20)) {
		unsigned int i = (unsigned int)rnd(f, CHAN_KEEP);

		chan_unmap_kept(f, i);
		f->chan_kept[i] = m;
		f->chan_kept_len[i] = maplen;
		f->chan_kept_gen[i] = fd == fd_a ? 0 : f->b_gen;
	} else {
		CHECK_SYS(munmap(m, maplen));
	}
	record(f, K_CHAN, 0, 0);
}

/* The process owns head: garbage in it must only hurt this process. */
static void fuzz_ring(struct fuzzer *f)
{
	uint32_t *head = (uint32_t *)(ring_a + q.ring_head_off);
	const uint32_t *tail = (const uint32_t *)(ring_a + q.ring_tail_off);

	if (chance(f, 85))
		__atomic_store_n(head, __atomic_load_n(tail, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	else
		__atomic_store_n(head, (uint32_t)t_rand(&f->rng), __ATOMIC_RELEASE);
	record(f, K_RING, 0, 0);
}

/*
 * read(): the monitor's events.  The files are non-blocking and nothing in
 * the run invalidates an MR (the arena stays mapped), so a read into
 * scratch gets EINVAL (room for less than one event) or EAGAIN; a bad
 * buffer EFAULT, or the same errors when they come first.
 */
static void fuzz_read(struct fuzzer *f, int fd)
{
	const size_t ev = sizeof(struct fpgadma_mon_event);
	uint64_t r = rnd(f, 100);
	size_t len = r < 30 ? ev : r < 50 ? (size_t)rnd(f, ev) :
		     r < 85 ? ev * (1 + (size_t)rnd(f, 8)) + (size_t)rnd(f, ev) :
		     (size_t)rnd(f, f->scratch_len);
	bool readable;
	void *buf = rand_arg(f, len, &readable);
	ssize_t n;
	int err;

	if (readable && len > f->scratch_len - 8)
		len = f->scratch_len - 8;
	n = read(fd, buf, len);
	err = errno;
	if (readable) {
		if (len < ev && !(n == -1 && err == EINVAL))
			t_fail("thread %u: read of %zu bytes: %zd %s, expected EINVAL", f->id, len,
			       n, t_errname(err));
		if (len >= ev && !(n == -1 && err == EAGAIN) &&
		    !(n > 0 && (size_t)n <= len && n % (ssize_t)ev == 0))
			t_fail("thread %u: read of %zu bytes with no MR invalidated: %zd %s", f->id,
			       len, n, t_errname(err));
	}
	record(f, K_READ, n < 0 ? -1 : 0, err);
}

static void reopen_b(struct fuzzer *f)
{
	unsigned int i;

	/*
	 * A kept channel mapping holds its file: the context it keeps past
	 * the close of fd_b (with its streams running) goes at the next
	 * reopen, not whenever its slot is reused.
	 */
	for (i = 0; i < CHAN_KEEP; i++)
		if (f->chan_kept_gen[i] && f->chan_kept_gen[i] < f->b_gen)
			chan_unmap_kept(f, i);
	f->b_gen++;
	if (f->fd_b >= 0)
		close(f->fd_b);	/* with MRs registered and work in flight */
	f->fd_b = open("/dev/fpgadma0", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	CHECK_SYS(f->fd_b);
	{
		struct fpgadma_query bq;

		CHECK_SYS(ioctl(f->fd_b, FPGADMA_IOC_QUERY, &bq));
		atomic_store(&f->ep_b, bq.ep_id);
	}
	f->nlive_b = 0;
	f->skey_b = reg_sring(f->fd_b, f->sring + SRING);
	record(f, K_REOPEN, 0, 0);
}

static void *fuzz_main(void *arg)
{
	struct fuzzer *f = arg;
	uint64_t quota = TARGET_CALLS / NTHREADS + 1;
	unsigned int i;

	reopen_b(f);
	while (f->calls < quota && !atomic_load(&stop)) {
		uint64_t r = rnd(f, 1000);
		int fd = chance(f, 80) ? fd_a : f->fd_b;

		if (r < 60)
			fuzz_query(f, fd);
		else if (r < 330)
			fuzz_reg(f, fd);
		else if (r < 430)
			fuzz_dereg_key(f, fd, rand_key(f), true);
		else if (r < 670)
			fuzz_post(f, fd);
		else if (r < 700)
			fuzz_stream(f, fd);
		else if (r < 715)
			fuzz_bind(f, chance(f, 95) ? f->fd_b : fd_a);
		else if (r < 820)
			fuzz_ours_bad(f, fd);
		else if (r < 900)
			fuzz_foreign(f, fd);
		else if (r < 937)
			fuzz_mmap(f, fd);
		else if (r < 955)
			fuzz_chan(f, fd);
		else if (r < 975)
			fuzz_ring(f);
		else if (r < 998)
			fuzz_read(f, fd);
		else
			reopen_b(f);
		if ((f->calls & 1023) == 0 && t_now_ms() - t_start > time_limit_ms)
			atomic_store(&stop, 1);
	}
	for (i = 0; i < CHAN_KEEP; i++)
		chan_unmap_kept(f, i);
	close(f->fd_b);
	f->fd_b = -1;
	return NULL;
}

static void print_histogram(void)
{
	unsigned int k, e, i;

	for (k = 0; k < K_COUNT; k++) {
		char line[512];
		uint64_t sum = 0;
		int pos = 0;

		for (e = 0; e <= NERR; e++) {
			uint64_t n = 0;

			for (i = 0; i < NTHREADS; i++)
				n += fz[i].hist[k][e];
			if (!n)
				continue;
			sum += n;
			if (pos >= 0 && (size_t)pos < sizeof(line))
				pos += snprintf(line + pos, sizeof(line) - (size_t)pos, " %s %llu",
						e == NERR ? "other" : e ? t_errname(e) : "ok",
						(unsigned long long)n);
		}
		t_log("  %-24s %7llu:%s", kind_name[k], (unsigned long long)sum, sum ? line : "");
	}
}

static void after_check(void)
{
	struct t_dev d;
	size_t len = T_MiB;
	uint8_t *a, *b;
	struct fpgadma_mr *ma, *mb;
	uint64_t F, pos;
	struct fpgadma_sge sg;
	struct fpgadma_cqe c;

	t_open(&d);
	len = T_MIN(len, d.attr.dev_mem_size);
	a = t_map(len);
	b = t_map(len);
	ma = t_reg(&d, a, len, FPGADMA_ACCESS_LOCAL_WRITE);
	mb = t_reg(&d, b, len, FPGADMA_ACCESS_LOCAL_WRITE);
	t_fill(a, len, 3, 0);
	t_round_trip(&d, ma, a, mb, b, len);
	F = d.attr.frame_size;
	/* A device without a stream (frame_size 0) is checked by its round trip. */
	if (F && 2 * F + 64 <= len) {
		sg = t_sge(mb, b, (uint32_t)(2 * F + 64));
		c = t_run_wr(&d, FPGADMA_WR_READ_STREAM, 0, &sg, 1);
		CHECK_CQE(&c, c.wr_id, FPGADMA_WR_READ_STREAM, FPGADMA_WC_SUCCESS, 2 * F + 64);
		CHECK(!t_stream_check(b, 2 * F + 64, F, &pos, "stream after the fuzzing"));
	}
	t_dereg(ma);
	t_dereg(mb);
	t_unmap(a, len);
	t_unmap(b, len);
	t_close(&d);
	t_log("afterwards: a round trip of %zu bytes%s works", len,
	      F ? " and a stream read" : "");
}

int main(int argc, char **argv)
{
	uint64_t seed = t_seed(argc, argv), elapsed, settle;
	struct t_snap start;
	pthread_t th[NTHREADS];
	unsigned int i;

	t_init(argc, argv, 150);
	t_log("seed %llu (run again with: %s %llu)", (unsigned long long)seed,
	      argc > 0 ? argv[0] : "ioctl_fuzz", (unsigned long long)seed);
	page = t_page_size();
	dma_api_debug = access("/sys/kernel/debug/dma-api", F_OK) == 0;
	time_limit_ms = TIME_LIMIT_MS;
	if (dma_api_debug) {
		/*
		 * KASAN, lockdep and DMA-API checks make each call 4 to 5 times
		 * dearer: the same number of calls needs that much more time.
		 */
		time_limit_ms *= 2 * (uint64_t)t_time_scale();
		t_log("DMA-API debugging is on: registrations in the arena are read-only, "
		      "%llu ms for the calls", (unsigned long long)time_limit_ms);
	}
	{
		struct t_dev d;

		t_open(&d);	/* the device is there; counters name it */
		t_close(&d);
	}
	t_snap_take(&start);
	t_log("start: live_mrs %lld, pinned_pages %lld, VmPin %lld kB", start.live_mrs,
	      start.pinned_pages, start.vmpin_kb);

	/* A 4 MiB arena between two PROT_NONE guards, and a read-only page. */
	reserve_len = 2 * GUARD + ARENA;
	reserve = mmap(NULL, reserve_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	CHECK(reserve != MAP_FAILED);
	arena = reserve + GUARD;
	CHECK_SYS(mprotect(arena, ARENA, PROT_READ | PROT_WRITE));
	memset(arena, 0x5c, ARENA);
	ro_page = t_map(page);
	*(struct fpgadma_reg_mr *)ro_page = (struct fpgadma_reg_mr){
		.addr = (uintptr_t)arena, .length = 3 * page, .access = FPGADMA_ACCESS_LOCAL_WRITE };
	CHECK_SYS(mprotect(ro_page, page, PROT_READ));

	/* non-blocking, as libfpgadma opens it: read() must never sleep here */
	fd_a = open("/dev/fpgadma0", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	CHECK_SYS(fd_a);
	CHECK_SYS(ioctl(fd_a, FPGADMA_IOC_QUERY, &q));
	atomic_store(&ep_a, q.ep_id);
	ring_len = (q.ring_size + page - 1) & ~(page - 1);
	ring_a = mmap(NULL, ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd_a, 0);
	CHECK(ring_a != MAP_FAILED);

	for (i = 0; i < NTHREADS; i++) {
		struct fuzzer *f = &fz[i];
		size_t need = 64 + (q.max_post + 4) * (sizeof(struct fpgadma_wr) +
						       4 * sizeof(struct fpgadma_sge));

		f->id = i;
		f->fd_b = -1;
		t_rng_seed(&f->rng, seed + i * 0x1000193);
		f->scratch_len = (need + page - 1) & ~(page - 1);
		f->scratch = mmap(NULL, f->scratch_len + page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(f->scratch != MAP_FAILED);
		CHECK_SYS(mprotect(f->scratch + f->scratch_len, page, PROT_NONE));
		f->sring = t_map(2 * SRING);
		f->skey_a = reg_sring(fd_a, f->sring);
	}
	t_start = t_now_ms();
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, fuzz_main, &fz[i]), 0);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	elapsed = t_now_ms() - t_start;
	t_log("%llu calls from %d threads in %llu ms (thread 0: %llu, thread 1: %llu)",
	      (unsigned long long)atomic_load(&total_calls), NTHREADS,
	      (unsigned long long)elapsed, (unsigned long long)fz[0].calls,
	      (unsigned long long)fz[1].calls);
	print_histogram();
	if (atomic_load(&total_calls) < TARGET_CALLS)
		t_fail("only %llu calls in the %d ms allowed (need %d)",
		       (unsigned long long)atomic_load(&total_calls), (int)time_limit_ms, TARGET_CALLS);
	/* Not vacuous: each real command got through, and refusals happened. */
	for (i = 0; i < NTHREADS; i++) {
		CHECK_GT(fz[i].hist[K_REG][0], 100);
		CHECK_GT(fz[i].hist[K_DEREG][0], 100);
		CHECK_GT(fz[i].hist[K_POST][0], 100);
		CHECK_GT(fz[i].hist[K_QUERY][0], 10);
		CHECK_GT(fz[i].hist[K_REG][EINVAL] + fz[i].hist[K_REG][EFAULT], 100);
		CHECK_GT(fz[i].hist[K_POST][EINVAL] + fz[i].hist[K_POST][EFAULT], 100);
		CHECK_GT(fz[i].mon_regs, 50);
		CHECK_GT(fz[i].hist[K_READ][EAGAIN], 10);
		CHECK_GT(fz[i].hist[K_READ][EINVAL], 10);
		if (q.caps & FPGADMA_CAP_STREAM) {
			CHECK_GT(fz[i].stream_starts, 10);
			CHECK_GT(fz[i].hist[K_STREAM][EINVAL], 10);
		}
		CHECK_GT(fz[i].hist[K_CHAN][EINVAL], 10);
		if (q.caps & FPGADMA_CAP_CHAN) {
			CHECK_GT(fz[i].chan_inboxes, 10);
			CHECK_GT(fz[i].chan_slots, 10);
		} else {
			CHECK_EQ(fz[i].hist[K_CHAN][0], 0);
		}
	}
	t_log("channels mapped: inboxes %llu and %llu, channels %llu and %llu",
	      (unsigned long long)fz[0].chan_inboxes, (unsigned long long)fz[1].chan_inboxes,
	      (unsigned long long)fz[0].chan_slots, (unsigned long long)fz[1].chan_slots);
	t_log("paced streams started: %llu and %llu (left running for a close: %llu and %llu)",
	      (unsigned long long)fz[0].stream_starts, (unsigned long long)fz[1].stream_starts,
	      (unsigned long long)fz[0].stream_left, (unsigned long long)fz[1].stream_left);
	t_log("monitored registrations that succeeded: %llu and %llu (deregistered like the others)",
	      (unsigned long long)fz[0].mon_regs, (unsigned long long)fz[1].mon_regs);

	CHECK_SYS(munmap(ring_a, ring_len));
	CHECK_SYS(close(fd_a));
	settle = CHECK_SETTLED(&start, 10000, "after closing every fuzzed file");
	CHECK_EQ(t_vmpin_kb(0), start.vmpin_kb);
	CHECK_EQ(t_dev_counter("live_mrs"), 0);
	t_log("all files closed: pins, live_mrs (0), pinned_pages and VmPin back (%llu ms)",
	      (unsigned long long)settle);
	after_check();
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
