// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * chan_abi: local message channels (FPGADMA_CAP_CHAN, fpgadma_chan_map(3)).
 *  - QUERY: the soft engine has the capability, with host endpoints, a
 *    page-aligned chan_mmap_off whose windows (one per ep_id) are clear of
 *    the ring, the monitor area, the stream area and the device memory; a
 *    device without it (edu) says chan_mmap_off 0, mmaps at the soft
 *    engine's offsets are EINVAL there and fpgadma_chan_inbox() and
 *    fpgadma_chan_map() -EOPNOTSUPP.
 *  - Refused: a channel to an endpoint without an inbox or to no endpoint
 *    (ENOENT), beyond FPGADMA_EP_ID_MAX, a private mapping, one longer than
 *    a slot (or than the inbox), one at an offset inside a window (the next
 *    slot's position among them) (EINVAL), an executable one (EPERM, or
 *    EACCES where /dev is mounted noexec); none of them takes a slot;
 *    mprotect to PROT_EXEC and mremap growing a slot.
 *  - A channel: the first mapping by B takes slot 0 of A's inbox (table:
 *    nslots 1, B's ep_id, FPGADMA_CHAN_OPEN; slot header zero); bytes B
 *    writes past the 64-byte header are in A's inbox at
 *    FPGADMA_CHAN_TABLE_SIZE + slot * FPGADMA_CHAN_SLOT_SIZE, and back;
 *    B's later mappings (one page of it too) give the same slot.
 *  - Isolation: C gets slot 1, zero, without B's bytes; what C writes is in
 *    slot 1 only.
 *  - 32 slots: the 33rd context mapping a channel to A gets ENOSPC, a
 *    context that has a slot still maps it; slots freed by their holders'
 *    closing are not handed out again (ENOSPC still).
 *  - Endings: a holder's close makes its entry FPGADMA_CHAN_GONE (with its
 *    file: a mapping holds the file, so the entry stays OPEN until the last
 *    mapping goes); the owner's close sets every slot header's dead (its
 *    table's dead nobody can see then: the owner's own mapping holds its
 *    file, so it is checked after a BIND_EP), and a
 *    holder's mapping stays readable and writable after it; a holder's
 *    BIND_EP makes its entry GONE and its next mapping takes a new slot;
 *    the owner's BIND_EP sets the table's dead and every slot header's, its
 *    old number and its new one have no inbox until it maps one anew (a new,
 *    empty inbox).
 *  - fork: the child has none of the mappings (mincore ENOMEM, a load
 *    faults), cannot map (EACCES) and takes no slot.
 *  - Neither pinned nor inherited: fpgadma_reg_mr (read-only, LOCAL_WRITE,
 *    all rights, and monitored) of a channel, of one page and one byte of
 *    it, of the inbox and of one of its slots: -EFAULT each, nothing
 *    pinned; madvise(MADV_DOFORK) on a channel and on the inbox: EINVAL.
 *  - Memory: a long-lived holder maps and unmaps its channel to 64
 *    short-lived owners in turn (each opens, maps its inbox, closes), then
 *    to 32 more that close while the holder's mapping is still there (it
 *    unmaps after); VmallocUsed, which grows by an inbox while one lives,
 *    is back within two inboxes of where it was with the holder still
 *    open: neither slots held nor links to dead inboxes keep their memory.
 */
#include "helpers.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define CHAN_MMAP_OFF	(8ULL << 30)	/* the soft engine's; any other device: nothing there */
#define HDR		sizeof(struct fpgadma_chan_slot_hdr)
#define PAYLOAD		(FPGADMA_CHAN_SLOT_SIZE - HDR)
#define SLOT		FPGADMA_CHAN_SLOT_SIZE
#define INBOX		FPGADMA_CHAN_INBOX_SIZE

static size_t page;
static struct fpgadma_query q;

/* ---- helpers ---- */

static uint64_t win(uint32_t ep)
{
	return q.chan_mmap_off + (uint64_t)ep * FPGADMA_CHAN_WINDOW;
}

static int fd_of(const struct t_dev *d)
{
	return fpgadma_get_fd(d->ctx);
}

static uint32_t ep_of(struct t_dev *d)
{
	CHECK_OK(fpgadma_query(d->ctx, &d->attr));
	return d->attr.ep_id;
}

static uint32_t ld(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static struct fpgadma_chan_table *table(void *inbox)
{
	return inbox;
}

static uint8_t *slot_of(void *inbox, unsigned int i)
{
	return (uint8_t *)inbox + FPGADMA_CHAN_TABLE_SIZE + (size_t)i * SLOT;
}

static uint32_t hdr_dead(void *slot)
{
	return ld(&((struct fpgadma_chan_slot_hdr *)slot)->dead);
}

/* An mmap of fd that must fail with want (or alt, when not 0). */
static void refused_at(int line, int fd, uint64_t off, size_t len, int prot, int flags, int want,
		       int alt, const char *what)
{
	void *m;
	int err;

	errno = 0;
	m = mmap(NULL, len, prot, flags, fd, (off_t)off);
	err = errno;
	if (m != MAP_FAILED) {
		munmap(m, len);
		t_fail_at(__FILE__, line, "%s: mapped, expected %s", what, t_errname(want));
	}
	if (err != want && (!alt || err != alt))
		t_fail_at(__FILE__, line, "%s: %s, expected %s", what, t_errname(err),
			  t_errname(want));
}
#define REFUSED(fd, off, len, prot, flags, want, alt, what) \
	refused_at(__LINE__, fd, off, len, prot, flags, want, alt, what)

/* A shared read-write mmap of fd that must succeed. */
static uint8_t *map_at(int line, int fd, uint64_t off, size_t len, const char *what)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);

	if (m == MAP_FAILED)
		t_fail_at(__FILE__, line, "%s: %s", what, t_errname(errno));
	return m;
}
#define MAP(fd, off, len, what) map_at(__LINE__, fd, off, len, what)

/* fpgadma_chan_map() that must succeed. */
static uint8_t *chan_at(int line, struct t_dev *d, uint32_t ep)
{
	void *m = NULL;
	int r = fpgadma_chan_map(d->ctx, ep, &m);

	if (r)
		t_fail_at(__FILE__, line, "fpgadma_chan_map(ep %u) by ep %u: %s", ep,
			  d->attr.ep_id, t_errname(r));
	CHECK(m != NULL);
	return m;
}
#define CHAN(d, ep) chan_at(__LINE__, d, ep)

/* The table's entry i must say src_ep and state. */
static void entry_at(int line, void *inbox, unsigned int i, uint32_t src_ep, uint32_t state)
{
	struct fpgadma_chan_table *t = table(inbox);
	uint32_t e = ld(&t->slot[i].src_ep), s = ld(&t->slot[i].state);

	if (e != src_ep || s != state)
		t_fail_at(__FILE__, line, "table entry %u: src_ep %u state %u, expected %u and %u",
			  i, e, s, src_ep, state);
}
#define ENTRY(inbox, i, src_ep, state) entry_at(__LINE__, inbox, i, src_ep, state)

static void nslots_at(int line, void *inbox, uint32_t want)
{
	uint32_t n = ld(&table(inbox)->nslots);

	if (n != want)
		t_fail_at(__FILE__, line, "the table's nslots %u, expected %u", n, want);
}
#define NSLOTS(inbox, want) nslots_at(__LINE__, inbox, want)

/* A number no context has: one a context had just before it closed. */
static uint32_t dead_ep(void)
{
	struct t_dev x;
	uint32_t ep;

	t_open(&x);
	ep = x.attr.ep_id;
	t_close(&x);
	return ep;
}

/* Bind d to a number below the dynamic range that no context has. */
static uint32_t bind_free(struct t_dev *d)
{
	uint32_t ep;
	int r;

	for (ep = 3100 + (uint32_t)getpid() % 1000; ep < FPGADMA_EP_ID_DYNAMIC_MIN; ep++) {
		r = fpgadma_bind_ep(d->ctx, ep);
		if (!r) {
			CHECK_EQ(ep_of(d), ep);
			return ep;
		}
		if (r != -EADDRINUSE)
			t_fail("fpgadma_bind_ep(%u): %s", ep, t_errname(r));
	}
	t_fail("no free endpoint number to bind");
}

/* ---- a device without channels ---- */

static void no_channels(struct t_dev *a)
{
	int fd = fd_of(a);
	void *p = NULL;

	CHECK_EQ(q.chan_mmap_off, 0);
	CHECK(!(a->attr.caps & FPGADMA_CAP_CHAN));
	/* the channels come with host endpoints */
	CHECK(!(q.caps & FPGADMA_CAP_HOST_EP));
	CHECK_RET(fpgadma_chan_inbox(a->ctx, &p), -EOPNOTSUPP);
	CHECK_RET(fpgadma_chan_map(a->ctx, a->attr.ep_id, &p), -EOPNOTSUPP);
	CHECK(p == NULL);
	CHECK_RET(fpgadma_chan_inbox(a->ctx, NULL), -EINVAL);
	CHECK_RET(fpgadma_chan_map(a->ctx, 0, &p), -EINVAL);
	REFUSED(fd, CHAN_MMAP_OFF, page, PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"an inbox at the soft engine's offset without the capability");
	REFUSED(fd, CHAN_MMAP_OFF + a->attr.ep_id * FPGADMA_CHAN_WINDOW, page,
		PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"a channel at the soft engine's offsets without the capability");
	CHECK(a->attr.engine != FPGADMA_ENGINE_SOFT);
	t_log("%s device: no FPGADMA_CAP_CHAN (nor host endpoints), chan_mmap_off 0, "
	      "fpgadma_chan_inbox and fpgadma_chan_map -EOPNOTSUPP, mmaps at the soft engine's "
	      "offsets EINVAL", t_engine_name(a->attr.engine));
}

/* ---- QUERY ---- */

static bool disjoint(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a + alen <= b || b + blen <= a;
}

static void check_query(void)
{
	uint64_t span = (FPGADMA_EP_ID_MAX + 1ULL) * FPGADMA_CHAN_WINDOW;

	CHECK(q.caps & FPGADMA_CAP_HOST_EP);
	CHECK(q.chan_mmap_off != 0 && q.chan_mmap_off % page == 0);
	CHECK(q.chan_mmap_off <= (uint64_t)INT64_MAX - span);
	CHECK(disjoint(q.chan_mmap_off, span, 0, q.ring_size));
	CHECK(disjoint(q.chan_mmap_off, span, q.mon_mmap_off, q.mon_size));
	if (q.caps & FPGADMA_CAP_STREAM)
		CHECK(disjoint(q.chan_mmap_off, span, q.stream_mmap_off, q.stream_area_size));
	if (q.caps & FPGADMA_CAP_MEM_MAP)
		CHECK(disjoint(q.chan_mmap_off, span, q.mem_mmap_off, q.dev_mem_size));
	/* the layout the header promises, in pages of this kernel */
	CHECK_EQ(sizeof(struct fpgadma_chan_slot_hdr), 64);
	CHECK_LE(sizeof(struct fpgadma_chan_table), FPGADMA_CHAN_TABLE_SIZE);
	CHECK_EQ(INBOX, FPGADMA_CHAN_TABLE_SIZE + FPGADMA_CHAN_SLOTS * SLOT);
	CHECK_EQ(FPGADMA_CHAN_TABLE_SIZE % page, 0);
	CHECK_EQ(SLOT % page, 0);
	CHECK_GE(FPGADMA_CHAN_WINDOW, INBOX);
	t_log("QUERY: FPGADMA_CAP_CHAN with host endpoints, channels at offset 0x%llx, windows "
	      "of 0x%llx bytes clear of the ring, monitor, stream and device memory offsets",
	      (unsigned long long)q.chan_mmap_off, (unsigned long long)FPGADMA_CHAN_WINDOW);
}

/* ---- refusals ---- */

/* B's refused mappings of its channel to A, and A's of its inbox; no slot taken. */
static void refusals(struct t_dev *a, struct t_dev *b, uint8_t *inbox)
{
	int fa = fd_of(a), fb = fd_of(b);
	uint64_t w = win(a->attr.ep_id);

	REFUSED(fb, w, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, EINVAL, 0,
		"a private channel");
	REFUSED(fb, w, page, PROT_READ, MAP_PRIVATE, EINVAL, 0, "a private read-only channel");
	REFUSED(fb, w, SLOT + page, PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"a channel one page longer than a slot");
	REFUSED(fb, w, INBOX, PROT_READ, MAP_SHARED, EINVAL, 0,
		"a channel as long as the inbox");
	REFUSED(fb, w + page, page, PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"a channel one page into its window");
	REFUSED(fb, w + SLOT, SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"a channel at the next slot's position in its window");
	REFUSED(fb, w + FPGADMA_CHAN_WINDOW / 2, page, PROT_READ, MAP_SHARED, EINVAL, 0,
		"a channel in the middle of its window");
	REFUSED(fb, w, page, PROT_READ | PROT_EXEC, MAP_SHARED, EPERM, EACCES,
		"an executable channel");
	REFUSED(fa, q.chan_mmap_off, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, EINVAL, 0,
		"a private inbox");
	REFUSED(fa, q.chan_mmap_off, INBOX + page, PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"an inbox one page too long");
	REFUSED(fa, q.chan_mmap_off + page, page, PROT_READ | PROT_WRITE, MAP_SHARED, EINVAL, 0,
		"an inbox one page into its window");
	REFUSED(fa, q.chan_mmap_off + FPGADMA_CHAN_TABLE_SIZE, SLOT, PROT_READ | PROT_WRITE,
		MAP_SHARED, EINVAL, 0, "an inbox from its slot 0");
	REFUSED(fa, q.chan_mmap_off, page, PROT_READ | PROT_EXEC, MAP_SHARED, EPERM, EACCES,
		"an executable inbox");
	REFUSED(fb, win(FPGADMA_EP_ID_MAX + 1), page, PROT_READ | PROT_WRITE, MAP_SHARED,
		EINVAL, 0, "a channel to endpoint 65536");
	NSLOTS(inbox, 0);
	t_log("refused: private, longer than a slot or the inbox, at an offset inside a window "
	      "(the next slot's position among them), beyond ep 65535 (EINVAL); executable; "
	      "no slot taken");
}

/* ---- a channel and its isolation ---- */

static uint8_t *first_channel(struct t_dev *a, struct t_dev *b, uint8_t *inbox)
{
	uint8_t *sb, *sb2, *one, *g;

	sb = CHAN(b, a->attr.ep_id);
	NSLOTS(inbox, 1);
	ENTRY(inbox, 0, b->attr.ep_id, FPGADMA_CHAN_OPEN);
	ENTRY(inbox, 1, 0, 0);
	CHECK_EQ(ld(&table(inbox)->dead), 0);
	CHECK_EQ(t_verify_byte(sb, HDR, 0, "the slot header of a new channel"), 0);
	CHECK_EQ(t_verify_byte(sb + HDR, PAYLOAD, 0, "a new slot"), 0);

	/* what B writes is A's, at its slot's place; and the other way */
	t_fill(sb + HDR, PAYLOAD, 61, 0);
	CHECK_EQ(t_verify(slot_of(inbox, 0) + HDR, PAYLOAD, 61, 0,
			  "B's bytes in A's inbox at slot 0"), 0);
	CHECK_EQ(t_verify_byte(slot_of(inbox, 1), SLOT, 0, "slot 1, not handed out"), 0);
	slot_of(inbox, 0)[PAYLOAD] ^= 0xff;
	CHECK_EQ(sb[PAYLOAD], slot_of(inbox, 0)[PAYLOAD]);
	slot_of(inbox, 0)[PAYLOAD] ^= 0xff;

	/* mapping again gives the same slot */
	sb2 = CHAN(b, a->attr.ep_id);
	CHECK(sb2 != sb);
	NSLOTS(inbox, 1);
	CHECK_EQ(t_verify(sb2 + HDR, PAYLOAD, 61, 0, "B's second mapping of its channel"), 0);
	sb2[HDR + 5] ^= 0x5a;
	CHECK_EQ(sb[HDR + 5], sb2[HDR + 5]);
	sb2[HDR + 5] ^= 0x5a;
	CHECK_OK(fpgadma_chan_unmap(b->ctx, sb2));
	one = MAP(fd_of(b), win(a->attr.ep_id), page, "one page of B's channel");
	CHECK_EQ(t_verify(one + HDR, page - HDR, 61, 0, "one page of B's channel"), 0);
	CHECK_SYS(munmap(one, page));
	NSLOTS(inbox, 1);

	/* it cannot grow, nor become executable */
	g = mremap(sb, SLOT, SLOT + page, 0);
	CHECK_MSG(g == MAP_FAILED, "mremap grew a channel");
	g = mremap(sb, SLOT, 2 * SLOT, MREMAP_MAYMOVE);
	CHECK_MSG(g == MAP_FAILED, "mremap grew and moved a channel");
	errno = 0;
	CHECK_MSG(mprotect(sb, SLOT, PROT_READ | PROT_EXEC) == -1, "mprotect made a channel "
		  "executable");
	CHECK_EQ(t_verify(sb + HDR, PAYLOAD, 61, 0, "B's channel after the refusals"), 0);
	t_log("B's channel to A: slot 0 (nslots 1, B's ep_id %u, OPEN, header zero); its bytes "
	      "in A's inbox at FPGADMA_CHAN_TABLE_SIZE + 0 and back; mapped again (whole, one "
	      "page): the same slot; mremap cannot grow it, mprotect not make it executable",
	      b->attr.ep_id);
	return sb;
}

static uint8_t *isolation(struct t_dev *a, struct t_dev *b, struct t_dev *c, uint8_t *inbox,
			  uint8_t *sb)
{
	uint8_t *sc;
	void *p = NULL;

	sc = CHAN(c, a->attr.ep_id);
	NSLOTS(inbox, 2);
	ENTRY(inbox, 0, b->attr.ep_id, FPGADMA_CHAN_OPEN);
	ENTRY(inbox, 1, c->attr.ep_id, FPGADMA_CHAN_OPEN);
	CHECK_EQ(t_verify_byte(sc, SLOT, 0, "C's new slot (not B's bytes)"), 0);
	t_fill(sc + HDR, PAYLOAD, 62, 0);
	CHECK_EQ(t_verify(slot_of(inbox, 1) + HDR, PAYLOAD, 62, 0,
			  "C's bytes in A's inbox at slot 1"), 0);
	CHECK_EQ(t_verify(slot_of(inbox, 0) + HDR, PAYLOAD, 61, 0,
			  "B's slot after C wrote"), 0);
	CHECK_EQ(t_verify(sb + HDR, PAYLOAD, 61, 0, "B's mapping after C wrote"), 0);
	CHECK_EQ(t_verify_byte(slot_of(inbox, 2), SLOT, 0, "slot 2, not handed out"), 0);
	/* B has no inbox: nobody has a channel to it */
	CHECK_RET(fpgadma_chan_map(c->ctx, b->attr.ep_id, &p), -ENOENT);
	t_log("C's channel to A: slot 1, zero (none of B's bytes); C's bytes in slot 1 only, "
	      "B's slot unchanged; a channel to B (no inbox): ENOENT");
	return sc;
}

/*
 * A raw context maps a channel, closes its file with the mapping held: the
 * mapping holds the file, so its entry says OPEN until the mapping goes.
 */
static void raw_holder(struct t_dev *a, uint8_t *inbox, unsigned int slot)
{
	struct fpgadma_query rq;
	uint8_t *m;
	int fd = open(t_dev_path(), O_RDWR | O_CLOEXEC);

	CHECK_MSG(fd >= 0, "open %s: %s", t_dev_path(), t_errname(errno));
	CHECK_SYS(ioctl(fd, FPGADMA_IOC_QUERY, &rq));
	m = MAP(fd, win(a->attr.ep_id), SLOT, "a raw context's channel");
	NSLOTS(inbox, slot + 1);
	ENTRY(inbox, slot, rq.ep_id, FPGADMA_CHAN_OPEN);
	CHECK_SYS(close(fd));
	ENTRY(inbox, slot, rq.ep_id, FPGADMA_CHAN_OPEN);
	m[HDR] = 0x77;
	CHECK_EQ(slot_of(inbox, slot)[HDR], 0x77);
	CHECK_SYS(munmap(m, SLOT));
	ENTRY(inbox, slot, rq.ep_id, FPGADMA_CHAN_GONE);
	CHECK_EQ(slot_of(inbox, slot)[HDR], 0x77);
	t_log("a context whose file is closed with its channel mapped: slot %u OPEN while the "
	      "mapping holds the file, GONE once it is unmapped", slot);
}

/* Contexts fill the inbox; the next gets ENOSPC, also after holders closed. */
static void exhaustion(struct t_dev *a, struct t_dev *b, uint8_t *inbox, uint8_t *sb,
		       unsigned int first)
{
	static struct t_dev d[FPGADMA_CHAN_SLOTS];
	static uint8_t *sd[FPGADMA_CHAN_SLOTS];
	unsigned int n = FPGADMA_CHAN_SLOTS - first, i;
	struct t_dev e;
	uint8_t *again;
	void *p = NULL;

	for (i = 0; i < n; i++) {
		t_open(&d[i]);
		sd[i] = CHAN(&d[i], a->attr.ep_id);
		NSLOTS(inbox, first + i + 1);
		ENTRY(inbox, first + i, d[i].attr.ep_id, FPGADMA_CHAN_OPEN);
		memcpy(sd[i] + HDR, &i, sizeof(i));
	}
	for (i = 0; i < n; i++)
		CHECK_EQ(memcmp(slot_of(inbox, first + i) + HDR, &i, sizeof(i)), 0);
	t_open(&e);
	CHECK_RET(fpgadma_chan_map(e.ctx, a->attr.ep_id, &p), -ENOSPC);
	CHECK(p == NULL);
	NSLOTS(inbox, FPGADMA_CHAN_SLOTS);
	/* B has a slot: mapping again still works */
	again = CHAN(b, a->attr.ep_id);
	again[HDR + 9] ^= 0x33;
	CHECK_EQ(sb[HDR + 9], again[HDR + 9]);
	again[HDR + 9] ^= 0x33;
	CHECK_OK(fpgadma_chan_unmap(b->ctx, again));
	NSLOTS(inbox, FPGADMA_CHAN_SLOTS);

	for (i = 0; i < n; i++) {
		uint32_t ep = d[i].attr.ep_id;

		CHECK_OK(fpgadma_chan_unmap(d[i].ctx, sd[i]));
		t_close(&d[i]);
		ENTRY(inbox, first + i, ep, FPGADMA_CHAN_GONE);
		CHECK_EQ(memcmp(slot_of(inbox, first + i) + HDR, &i, sizeof(i)), 0);
	}
	CHECK_RET(fpgadma_chan_map(e.ctx, a->attr.ep_id, &p), -ENOSPC);
	NSLOTS(inbox, FPGADMA_CHAN_SLOTS);
	t_close(&e);
	t_log("%u more contexts took slots %u..%u; the 33rd context: ENOSPC (nslots %u); B, "
	      "which has a slot, maps it again; the %u closed (GONE, their bytes kept): ENOSPC "
	      "still, slots are not handed out again", n, first, FPGADMA_CHAN_SLOTS - 1,
	      FPGADMA_CHAN_SLOTS, n);
}

/* ---- no MR, no MADV_DOFORK ---- */

/*
 * An MR of [addr, addr+len) of d must be refused with -EFAULT (VM_IO: the
 * channels' pages cannot be pinned).  Anything else is logged and counted.
 */
static unsigned int mr_refused(struct t_dev *d, void *addr, size_t len, unsigned int access,
			       bool monitor, const char *what)
{
	struct fpgadma_mr *mr = NULL;
	int r;

	r = monitor ? fpgadma_reg_mr_monitor(d->pd, addr, len, access, &mr) :
		      fpgadma_reg_mr(d->pd, addr, len, access, &mr);
	if (r == -EFAULT)
		return 0;
	if (!r) {
		t_log("WRONG: %s (%zu bytes, access %#x%s): registered (lkey %u, %u segments), "
		      "expected -EFAULT", what, len, access, monitor ? ", monitored" : "",
		      mr->lkey, mr->nsegs);
		CHECK_OK(fpgadma_dereg_mr(mr));
	} else {
		t_log("WRONG: %s (%zu bytes, access %#x%s): %s, expected -EFAULT", what, len,
		      access, monitor ? ", monitored" : "", t_errname(r));
	}
	return 1;
}

static unsigned int no_pin_no_dofork(struct t_dev *a, struct t_dev *b, uint8_t *inbox,
				     uint8_t *sb)
{
	static const unsigned int rights[] = {
		0, FPGADMA_ACCESS_LOCAL_WRITE, FPGADMA_ACCESS_ALL,
	};
	struct {
		struct t_dev *d;
		uint8_t *addr;
		size_t len;
		const char *what;
	} r[] = {
		{ b, sb, SLOT, "B's channel, whole" },
		{ b, sb + page, page, "one page inside B's channel" },
		{ b, sb + HDR + 100, 1, "one byte inside B's channel" },
		{ a, inbox, INBOX, "A's inbox, whole" },
		{ a, slot_of(inbox, 0), SLOT, "slot 0 of A's inbox" },
		{ a, slot_of(inbox, 1) + page, page, "one page of slot 1 of A's inbox" },
	};
	struct t_snap before;
	unsigned int i, k, wrong = 0, tries = 0;
	bool mon = a->attr.caps & FPGADMA_CAP_MR_MONITOR;

	t_snap_take(&before);
	for (i = 0; i < T_ARRAY_SIZE(r); i++) {
		for (k = 0; k < T_ARRAY_SIZE(rights); k++) {
			wrong += mr_refused(r[i].d, r[i].addr, r[i].len, rights[k], false, r[i].what);
			tries++;
		}
		if (mon) {
			wrong += mr_refused(r[i].d, r[i].addr, r[i].len, FPGADMA_ACCESS_LOCAL_WRITE,
					    true, r[i].what);
			tries++;
		}
	}
	CHECK_SNAP(&before, 0, 0, "after the MRs of channel memory");
	CHECK_ERRNO(madvise(sb, SLOT, MADV_DOFORK), EINVAL);
	CHECK_ERRNO(madvise(sb + page, page, MADV_DOFORK), EINVAL);
	CHECK_ERRNO(madvise(inbox, INBOX, MADV_DOFORK), EINVAL);
	/* still the same memory */
	CHECK_EQ(t_verify(slot_of(inbox, 0) + HDR, PAYLOAD, 61, 0, "B's slot after the refusals"),
		 0);
	t_log("MADV_DOFORK on a channel and on the inbox: EINVAL");
	if (wrong) {
		/* the rest still runs; the test fails at its end */
		t_log("FAILED CHECK: %u of %u registrations of channel or inbox memory were not "
		      "refused with -EFAULT (lines above)", wrong, tries);
		return wrong;
	}
	t_log("fpgadma_reg_mr of a channel, one page and one byte of it, the inbox and its slots "
	      "(read-only, LOCAL_WRITE, all rights%s): -EFAULT all %u, nothing pinned",
	      mon ? ", monitored" : "", tries);
	return 0;
}

/* ---- the owner's end ---- */

static void owner_close(struct t_dev *a, struct t_dev *c, uint8_t *sc)
{
	uint32_t a_ep = a->attr.ep_id;
	void *p = NULL;

	CHECK_EQ(hdr_dead(sc), 0);
	t_close(a);
	CHECK_EQ(hdr_dead(sc), 1);
	CHECK_EQ(t_verify_byte(sc + 4, HDR - 4, 0, "the rest of the slot header"), 0);
	CHECK_EQ(t_verify(sc + HDR, PAYLOAD, 62, 0, "C's slot after A closed"), 0);
	t_fill(sc + HDR, PAYLOAD, 63, 0);
	CHECK_EQ(t_verify(sc + HDR, PAYLOAD, 63, 0, "C's slot written after A closed"), 0);
	CHECK_RET(fpgadma_chan_map(c->ctx, a_ep, &p), -ENOENT);
	t_log("A closed: C's slot header says dead 1; C's mapping stays readable and writable; "
	      "a new channel to A's number: ENOENT");
}

/* ---- BIND_EP: the owner's and a holder's ---- */

static void rebind(void)
{
	struct t_dev e, f, g;
	uint8_t *ib, *ib2, *sf, *sf2, *sg, *sg2, *lib_ib = NULL;
	uint32_t e_old, e_new, g_old, g_new;
	void *p = NULL;
	pid_t pid;

	t_open(&e);
	t_open(&f);
	t_open(&g);
	e_old = e.attr.ep_id;
	g_old = g.attr.ep_id;
	/* raw: libfpgadma keeps the address of the inbox it mapped */
	ib = MAP(fd_of(&e), q.chan_mmap_off, INBOX, "E's inbox");
	sf = CHAN(&f, e_old);
	sg = CHAN(&g, e_old);
	NSLOTS(ib, 2);
	t_fill(sf + HDR, PAYLOAD, 64, 0);

	/* a holder rebinds: its entry is GONE, its next mapping a new slot */
	g_new = bind_free(&g);
	ENTRY(ib, 1, g_old, FPGADMA_CHAN_GONE);
	ENTRY(ib, 0, f.attr.ep_id, FPGADMA_CHAN_OPEN);
	/* libfpgadma unmapped G's channels at the bind: they name the old number */
	CHECK_RET(fpgadma_chan_unmap(g.ctx, sg), -EINVAL);
	sg2 = CHAN(&g, e_old);
	NSLOTS(ib, 3);
	ENTRY(ib, 2, g_new, FPGADMA_CHAN_OPEN);
	t_log("G (ep %u) rebound to %u: its entry GONE, its channel unmapped by libfpgadma; "
	      "mapped again: slot 2 with the new number",
	      g_old, g_new);

	/* the owner rebinds: its inbox dies */
	e_new = bind_free(&e);
	CHECK_EQ(ld(&table(ib)->dead), 1);
	CHECK_EQ(hdr_dead(slot_of(ib, 0)), 1);
	CHECK_EQ(hdr_dead(slot_of(ib, 1)), 1);
	CHECK_EQ(hdr_dead(slot_of(ib, 2)), 1);
	CHECK_EQ(hdr_dead(slot_of(ib, 3)), 0);	/* never handed out */
	CHECK_EQ(hdr_dead(sf), 1);
	CHECK_EQ(hdr_dead(sg2), 1);
	NSLOTS(ib, 3);
	CHECK_EQ(t_verify(slot_of(ib, 0) + HDR, PAYLOAD, 64, 0, "F's slot in the dead inbox"), 0);
	sf[HDR] ^= 0x11;
	CHECK_EQ(slot_of(ib, 0)[HDR], sf[HDR]);
	sf[HDR] ^= 0x11;
	CHECK_RET(fpgadma_chan_map(f.ctx, e_old, &p), -ENOENT);
	CHECK_RET(fpgadma_chan_map(f.ctx, e_new, &p), -ENOENT);
	CHECK(p == NULL);
	t_log("E (ep %u) rebound to %u: the table and the slot headers of slots 0..2 say dead, "
	      "the mappings stay; channels to either number: ENOENT (no inbox)", e_old, e_new);

	/* a new inbox: empty */
	ib2 = MAP(fd_of(&e), q.chan_mmap_off, INBOX, "E's new inbox");
	NSLOTS(ib2, 0);
	CHECK_EQ(ld(&table(ib2)->dead), 0);
	CHECK_EQ(t_verify_byte(slot_of(ib2, 0), SLOT, 0, "slot 0 of the new inbox"), 0);
	sf2 = CHAN(&f, e_new);
	NSLOTS(ib2, 1);
	ENTRY(ib2, 0, f.attr.ep_id, FPGADMA_CHAN_OPEN);
	CHECK_EQ(hdr_dead(sf2), 0);
	t_fill(sf2 + HDR, PAYLOAD, 65, 0);
	CHECK_EQ(t_verify(slot_of(ib2, 0) + HDR, PAYLOAD, 65, 0, "F's bytes in the new inbox"), 0);
	CHECK_EQ(t_verify(slot_of(ib, 0) + HDR, PAYLOAD, 64, 0, "the old inbox"), 0);
	/* the library's first mapping of E's inbox is the new one */
	CHECK_OK(fpgadma_chan_inbox(e.ctx, (void **)&lib_ib));
	CHECK(lib_ib != ib2);
	CHECK_EQ(t_verify(slot_of(lib_ib, 0) + HDR, PAYLOAD, 65, 0,
			  "fpgadma_chan_inbox after the rebind"), 0);
	t_log("E's inbox mapped anew: a new, empty one (nslots 0, dead 0); F's channel to %u "
	      "is its slot 0", e_new);

	/* fork: the child has none of the mappings, cannot map, takes no slot */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsigned char vec;
		void *m;

		if (mincore(ib2, page, &vec) != -1 || errno != ENOMEM)
			_exit(2);
		if (mincore(lib_ib, page, &vec) != -1 || errno != ENOMEM)
			_exit(3);
		if (mincore(sf2, page, &vec) != -1 || errno != ENOMEM)
			_exit(4);
		if (fpgadma_chan_map(f.ctx, e_new, &m) != -EACCES)
			_exit(5);
		if (fpgadma_chan_inbox(e.ctx, &m) != -EACCES)
			_exit(6);
		m = mmap(NULL, SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, fd_of(&f),
			 (off_t)win(e_new));
		if (m != MAP_FAILED || errno != EACCES)
			_exit(7);
		_exit(0);
	}
	CHECK_CHILD_OK(t_wait_child(pid, 10000));
	NSLOTS(ib2, 1);
	ENTRY(ib2, 0, f.attr.ep_id, FPGADMA_CHAN_OPEN);
	CHECK_EQ(t_verify(sf2 + HDR, PAYLOAD, 65, 0, "F's channel after the fork"), 0);
	t_log("fork: the child has no inbox or channel mapping (mincore ENOMEM), maps nothing "
	      "(EACCES); the parent's slot stays OPEN after the child's exit, nslots 1");

	CHECK_SYS(munmap(ib, INBOX));
	CHECK_SYS(munmap(ib2, INBOX));
	CHECK_OK(fpgadma_chan_unmap(f.ctx, sf));
	CHECK_OK(fpgadma_chan_unmap(g.ctx, sg2));
	CHECK_OK(fpgadma_chan_unmap(f.ctx, sf2));
	t_close(&g);
	t_close(&f);
	t_close(&e);
}

/* ---- a holder of many short-lived inboxes keeps none of their memory ---- */

static long long vmalloc_kb(void)
{
	return t_meminfo_kb("VmallocUsed");
}

/*
 * Owners come and go while h maps and unmaps its channel to each: before
 * the owner closes (late false) or after (late true).  Returns the largest
 * growth of VmallocUsed seen while an owner's inbox lived.
 */
static long long holder_round(struct t_dev *h, unsigned int n, bool late)
{
	long long grew = 0, v0, v1;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct t_dev o;
		uint8_t *ib = NULL, *s;

		v0 = vmalloc_kb();
		t_open(&o);
		CHECK_OK(fpgadma_chan_inbox(o.ctx, (void **)&ib));
		s = CHAN(h, o.attr.ep_id);
		NSLOTS(ib, 1);
		ENTRY(ib, 0, h->attr.ep_id, FPGADMA_CHAN_OPEN);
		memcpy(s + HDR, &i, sizeof(i));
		CHECK_EQ(memcmp(slot_of(ib, 0) + HDR, &i, sizeof(i)), 0);
		v1 = vmalloc_kb();
		if (v1 - v0 > grew)
			grew = v1 - v0;
		if (!late) {
			CHECK_OK(fpgadma_chan_unmap(h->ctx, s));
			t_close(&o);
		} else {
			t_close(&o);
			/* the owner has gone: the memory stays for the mapping */
			CHECK_EQ(hdr_dead(s), 1);
			CHECK_EQ(memcmp(s + HDR, &i, sizeof(i)), 0);
			CHECK_OK(fpgadma_chan_unmap(h->ctx, s));
		}
	}
	return grew;
}

static void holder_memory(void)
{
	const long long inbox_kb = INBOX / 1024, slack_kb = 2 * INBOX / 1024;
	long long before, mid, after, grew;
	struct t_dev h;

	t_open(&h);
	before = vmalloc_kb();
	if (before <= 0) {
		t_log("VmallocUsed is %lld in /proc/meminfo: the holder's memory check is left out",
		      before);
		t_close(&h);
		return;
	}
	grew = holder_round(&h, 64, false);
	mid = vmalloc_kb();
	/* the measure sees an inbox at all */
	CHECK_MSG(grew >= inbox_kb / 2, "VmallocUsed grew by at most %lld kB while an inbox of "
		  "%lld kB lived", grew, inbox_kb);
	CHECK_MSG(mid - before <= slack_kb, "VmallocUsed grew by %lld kB (from %lld to %lld kB) "
		  "after a holder mapped and unmapped its channel to 64 owners that closed: more "
		  "than two inboxes (%lld kB)", mid - before, before, mid, slack_kb);
	grew = T_MAX(grew, holder_round(&h, 32, true));
	after = vmalloc_kb();
	CHECK_MSG(after - before <= slack_kb, "VmallocUsed grew by %lld kB (from %lld to %lld kB) "
		  "after 32 more owners closed before the holder unmapped: more than two inboxes "
		  "(%lld kB)", after - before, before, after, slack_kb);
	t_log("a holder mapped and unmapped its channel to 64 owners that closed after (and to 32 "
	      "that closed before its unmap): VmallocUsed %lld kB, up to %lld kB more while an "
	      "inbox (%lld kB) lived, %+lld kB after the 64 and %+lld kB after all with the holder "
	      "still open (allowed: %lld kB)", before, grew, inbox_kb, mid - before,
	      after - before, slack_kb);
	t_close(&h);
}

/* ---- a load in a fork child faults ---- */

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

/* In a fork child: 0 if a load from p faults, 1 if it does not. */
static int child_load_faults(const volatile uint8_t *p)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(fault_jmp, 1))
		return 0;
	(void)*p;
	return 1;
}

static void fork_loads(uint8_t *inbox, uint8_t *sc)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_load_faults(inbox) || child_load_faults(sc + HDR) ? 1 : 0);
	CHECK_CHILD_OK(t_wait_child(pid, 10000));
	CHECK_EQ(t_verify(sc + HDR, PAYLOAD, 62, 0, "C's channel after the fork"), 0);
	t_log("fork: a load from the inbox or a channel faults in the child");
}

int main(int argc, char **argv)
{
	struct t_dev a, b, c;
	struct t_snap start;
	uint8_t *inbox = NULL, *again = NULL, *sb, *sc;
	unsigned int i, pinned_wrong;
	uint32_t gone;
	void *p = NULL;

	t_init(argc, argv, 120);
	t_open(&a);
	page = t_page_size();
	t_snap_take(&start);

	memset(&q, 0xff, sizeof(q));
	CHECK_SYS(ioctl(fd_of(&a), FPGADMA_IOC_QUERY, &q));
	for (i = 0; i < T_ARRAY_SIZE(q.reserved); i++)
		CHECK_EQ(q.reserved[i], 0);
	CHECK_EQ(q.caps, a.attr.caps);
	if (!(q.caps & FPGADMA_CAP_CHAN)) {
		no_channels(&a);
		t_close(&a);
		t_pass();
	}
	check_query();
	CHECK_RET(fpgadma_chan_inbox(a.ctx, NULL), -EINVAL);
	CHECK_RET(fpgadma_chan_map(a.ctx, 0, &p), -EINVAL);
	CHECK_RET(fpgadma_chan_map(a.ctx, FPGADMA_EP_ID_MAX + 1, &p), -EINVAL);
	CHECK_RET(fpgadma_chan_map(a.ctx, 1, NULL), -EINVAL);
	CHECK_RET(fpgadma_chan_unmap(a.ctx, NULL), -EINVAL);
	CHECK_RET(fpgadma_chan_unmap(NULL, inbox), -EINVAL);

	t_open(&b);
	CHECK_NE(a.attr.ep_id, b.attr.ep_id);
	/* nobody has an inbox yet; a number nobody has */
	CHECK_RET(fpgadma_chan_map(b.ctx, a.attr.ep_id, &p), -ENOENT);
	gone = dead_ep();
	CHECK_RET(fpgadma_chan_map(b.ctx, gone, &p), -ENOENT);
	CHECK(p == NULL);
	t_log("channels to A before it has an inbox, to ep %u (closed): ENOENT", gone);

	CHECK_OK(fpgadma_chan_inbox(a.ctx, (void **)&inbox));
	CHECK_OK(fpgadma_chan_inbox(a.ctx, (void **)&again));
	CHECK(inbox == again);
	NSLOTS(inbox, 0);
	CHECK_EQ(t_verify_byte(inbox, INBOX, 0, "a new inbox"), 0);
	t_log("A's inbox: %u bytes, zero (nslots 0, dead 0); the same address again", INBOX);

	refusals(&a, &b, inbox);
	sb = first_channel(&a, &b, inbox);
	t_open(&c);
	sc = isolation(&a, &b, &c, inbox, sb);
	raw_holder(&a, inbox, 2);
	exhaustion(&a, &b, inbox, sb, 3);
	pinned_wrong = no_pin_no_dofork(&a, &b, inbox, sb);
	fork_loads(inbox, sc);

	/* a holder's close */
	{
		uint32_t b_ep = b.attr.ep_id;

		CHECK_OK(fpgadma_chan_unmap(b.ctx, sb));
		t_close(&b);
		ENTRY(inbox, 0, b_ep, FPGADMA_CHAN_GONE);
		ENTRY(inbox, 1, c.attr.ep_id, FPGADMA_CHAN_OPEN);
		CHECK_EQ(t_verify(slot_of(inbox, 0) + HDR, PAYLOAD, 61, 0,
				  "B's bytes after B closed"), 0);
		CHECK_EQ(ld(&table(inbox)->dead), 0);
		t_log("B unmapped its channel and closed: entry 0 GONE, its bytes kept, C's OPEN");
	}
	owner_close(&a, &c, sc);
	CHECK_OK(fpgadma_chan_unmap(c.ctx, sc));
	t_close(&c);

	rebind();
	holder_memory();
	CHECK_SNAP(&start, 0, 0, "at the end");
	if (pinned_wrong)
		t_fail("%u registrations of channel or inbox memory were not refused with -EFAULT "
		       "(the WRONG lines above)", pinned_wrong);
	t_pass();
}
