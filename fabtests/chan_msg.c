// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * chan_msg: messages between two domains of one device, which the fpgadma
 * provider hands over through the module's local message channels
 * (fi_fpgadma(7), "Messages through channels") when it can, and as kernel
 * SENDs when it cannot: a full slot (its ring has 63 units of 256 bytes, a
 * message takes whole units), work of the sender still in the kernel (an
 * RMA, a rendezvous read), a receiver that sleeps on its file, a message
 * past the eager size (rendezvous).  Each case runs in processes
 * forked after fi_getinfo, a receiver domain and a sender domain (a domain
 * is one kernel context, and channels go between contexts), which swap
 * their names over a socket pair; in case 5 a third process with
 * libfpgadma alone.
 *
 *  1 ping-pong  2000 messages, the sender alternating, of k * 613 mod 2001
 *               bytes (every size of 0..2000 but one: records of 1 to 8
 *               units, which go on past the ring's end at its start), then
 *               400 of 2001..10000 bytes (past the default eager size of
 *               8192: rendezvous, whose RDMA reads hold the channel back):
 *               every byte, the bytes after it untouched, the receives
 *               completing in posting order (FI_ORDER_SAS), every send
 *               completing once
 *  2 burst      after a short ping-pong, 200 sends of 0..1000 bytes without
 *               waiting while the receiver makes no progress (its slot
 *               fills: the rest go by SEND), then with progress and no
 *               receive posted (unexpected messages), then 200 receives:
 *               all in order, every byte
 *  3 sleeper    the receiver takes 20 messages polling and 100 waiting in
 *               fi_cq_sread (FI_WAIT_UNSPEC) while the sender sends them
 *               (0..2000 bytes) with random pauses of 0..2 ms: each
 *               arrives within the time
 *               limit; then the same with fi_trywait and poll() on the CQ's
 *               FI_GETWAIT fd (FI_WAIT_FD)
 *  4 rma        fi_write of 256 KiB (every other round 4 KiB) into the
 *               receiver's MR and, without waiting, fi_send of 8 bytes:
 *               when the message arrives, the whole written range holds the
 *               round's data (FI_ORDER_SAW); 20 rounds
 *  5 hostile    a third process maps its own channel to the receiver's
 *               kernel endpoint (fpgadma_chan_map(3); the ep_id from the
 *               receiver's fi_getname) and, once the receiver reads the
 *               slot (seen), writes nonsense where the provider's slot
 *               format has prod and the records: a prod far past the
 *               ring's 63 units; in a second run a record of length
 *               0xfffffff0; in a third one of 1000 bytes where prod says
 *               one unit was written.  The receiver
 *               stops reading that slot (seen back to 0, cons 0, one
 *               warning in its log, a record written after that not taken)
 *               and its ping-pong of 100 with the normal sender works; when
 *               the receiver closes, the slot says dead.  Without channels
 *               the receiver has no inbox: ENOENT.
 *
 * How many messages went through channels: the provider logs it at fi_close
 * of a domain with FI_LOG_LEVEL=info.  Unless FI_LOG_LEVEL is set, the
 * program sets it (and FI_LOG_PROV=fpgadma) and reads the lines from its
 * processes' stderr, which it prints with their role.  With channels (the
 * device has FPGADMA_CAP_CHAN, FI_FPGADMA_CHAN is not 0) the ping-pong
 * must have used them both ways, and in every case what one side sent
 * through channels the other received; with FI_FPGADMA_CHAN=0 no message
 * may have gone through one.
 *
 * Usage: chan_msg [-p PROV] [-T SECONDS] [-c CASES] [-S SEED]
 * (CASES: digits 1..5, default all).
 */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fpgadma.h>

#define MAXLEN		16384		/* a receive buffer */
#define GUARD		32		/* bytes after a message that stay */
#define RLEN		(MAXLEN - GUARD) /* the length of each receive */
#define GUARD_BYTE	0xa5
#define SRING		256		/* sends in flight at most */

/* The provider's address (FI_FORMAT_UNSPEC): struct fpgadma_addr. */
struct prov_addr {
	uint32_t magic;
	uint32_t dev_index;
	uint32_t ep_id;
	uint32_t ep_idx;
};
#define PROV_ADDR_MAGIC	0x41475046U

/*
 * The provider's slot format (prov/fpgadma/src/chan.c): byte offsets of
 * prod and cons (units written and taken), sleep and seen (the receiver's),
 * the ring of 256-byte units; a record: 32 bits of length, 32 of zero,
 * the message.
 */
#define SLOT_PROD	64
#define SLOT_CONS	128
#define SLOT_SLEEP	192
#define SLOT_SEEN	196
#define SLOT_RING	256
#define SLOT_UNIT	256

static struct fi_info *base_info;	/* fi_getinfo's, for every process */
static bool is_fpgadma, dev_chan, chan_on, counts_logged;
static unsigned int dev_index;
static uint64_t seed;
static const char *cases = "12345";

/* ---- small things ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int opt(int c, const char *arg)
{
	switch (c) {
	case 'c':
		cases = arg;
		return 0;
	case 'S':
		seed = strtoull(arg, NULL, 0);
		return 0;
	}
	return -1;
}

static bool want(char c)
{
	return strchr(cases, c) != NULL;
}

/* Whether a libfabric boolean parameter's value says no. */
static bool param_false(const char *v)
{
	return v && (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
		     !strcasecmp(v, "off"));
}

/* ---- sockets between the processes of a case ---- */

static void sock_put(int fd, const void *buf, size_t len, const char *what)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ft_fatal("%s: write: %s", what, n ? strerror(errno) : "nothing written");
		p += n;
		len -= (size_t)n;
	}
}

/* Something to read on fd within timeout_ms (0: now)? */
static bool sock_ready(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		ft_fatal("poll: %s", strerror(errno));
	return r > 0;
}

static void sock_get(int fd, void *buf, size_t len, const char *what)
{
	uint64_t t0 = ft_now_us(), limit = 3ULL * ft_opts.timeout_ms * 1000;
	char *p = buf;

	while (len) {
		ssize_t n;

		if (!sock_ready(fd, 100)) {
			if (ft_now_us() - t0 > limit)
				ft_fatal("%s: nothing from the other process within %" PRIu64 " ms",
					 what, limit / 1000);
			continue;
		}
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ft_fatal("%s: read: %s", what, strerror(errno));
		if (!n)
			ft_fatal("%s: the other process has gone", what);
		p += n;
		len -= (size_t)n;
	}
}

static void sig_put(int fd, char c, const char *what)
{
	sock_put(fd, &c, 1, what);
}

static char sig_get(int fd, const char *what)
{
	char c;

	sock_get(fd, &c, 1, what);
	return c;
}

/* ---- one domain's side of a case ---- */

enum { K_SEND = 1, K_RECV, K_WRITE };

struct op {
	struct ft_op f;		/* first: the operation's context */
	int kind;
	bool pending;
	uint64_t idx;
};

struct side {
	const char *role;
	int sock;		/* to the other domain's process */
	struct ft_dom dom;
	struct ft_ep ep;
	fi_addr_t peer;
	/* sends: SRING buffers of MAXLEN */
	uint8_t *sbuf;
	struct fid_mr *smr;
	void *sdesc;
	struct op sops[SRING];
	uint64_t sends, sends_done, sends_ooo;
	/* receives: rslots buffers of MAXLEN, receive j in slot j % rslots */
	uint8_t *rbuf;
	struct fid_mr *rmr;
	void *rdesc;
	size_t rslots;
	struct op *rops;
	uint64_t recvs, recvs_done;
	/* fi_write; an MR of the case's own, closed with the side */
	struct op wop;
	uint64_t writes, writes_done;
	uint8_t *xbuf;
	struct fid_mr *xmr;
	uint64_t bytes_verified;
};

static void *buf_reg(struct side *s, size_t len, uint64_t access, struct fid_mr **mr,
		     void **desc)
{
	uint8_t *p = ft_xmalloc(len);
	int ret;

	memset(p, GUARD_BYTE, len);
	*mr = NULL;
	*desc = NULL;
	if (ft_need_desc(&s->dom) || (access & (FI_REMOTE_WRITE | FI_REMOTE_READ))) {
		ret = ft_mr_reg(&s->dom, &s->ep, p, len, access, 0, mr);
		if (ret)
			ft_fatal("%s: fi_mr_reg(%zu): %s", s->role, len, ft_strerr(ret));
		*desc = fi_mr_desc(*mr);
	}
	return p;
}

/*
 * Open the side's domain and endpoint (a CQ of wait_obj: FI_WAIT_NONE for
 * ft_wait, the others waited on by the caller itself), its buffers, and swap
 * names with the other process.
 */
static void side_open(struct side *s, const char *role, int sock, size_t rslots,
		      enum fi_wait_obj wait_obj)
{
	uint8_t name[256];
	uint32_t len;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->role = role;
	s->sock = sock;
	ft_open_dom_like(&(struct ft_dom){ .info = base_info }, &s->dom);
	ft_open_ep_wait(&s->dom, &s->ep, role, wait_obj);
	s->sbuf = buf_reg(s, (size_t)SRING * MAXLEN, FI_SEND, &s->smr, &s->sdesc);
	s->rslots = rslots;
	s->rbuf = buf_reg(s, rslots * MAXLEN, FI_RECV, &s->rmr, &s->rdesc);
	s->rops = ft_xmalloc(rslots * sizeof(*s->rops));
	memset(s->rops, 0, rslots * sizeof(*s->rops));
	for (i = 0; i < SRING; i++)
		s->sops[i].f.what = "send";
	len = (uint32_t)s->ep.namelen;
	sock_put(sock, &len, sizeof(len), "name");
	sock_put(sock, s->ep.name, len, "name");
	sock_get(sock, &len, sizeof(len), "the other's name");
	if (len > sizeof(name))
		ft_fatal("%s: a name of %u bytes", role, len);
	sock_get(sock, name, len, "the other's name");
	s->peer = ft_av_insert(&s->dom, name);
}

static void side_close(struct side *s)
{
	ft_close_ep(&s->ep);
	if (s->smr)
		ft_close_fid(&s->smr->fid, "send mr");
	if (s->rmr)
		ft_close_fid(&s->rmr->fid, "recv mr");
	if (s->xmr)
		ft_close_fid(&s->xmr->fid, "rma mr");
	free(s->xbuf);
	free(s->sbuf);
	free(s->rbuf);
	free(s->rops);
	ft_close_dom(&s->dom);
}

static uint8_t *rslot(struct side *s, uint64_t j)
{
	return s->rbuf + (j % s->rslots) * MAXLEN;
}

/* Post receive number s->recvs (its slot must be free). */
static void post_recv(struct side *s)
{
	uint64_t j = s->recvs;
	struct op *o = &s->rops[j % s->rslots];

	if (o->pending)
		ft_fatal("%s: receive slot of %" PRIu64 " still in use", s->role, j);
	*o = (struct op){ .f = { .what = "recv" }, .kind = K_RECV, .pending = true, .idx = j };
	memset(rslot(s, j), GUARD_BYTE, MAXLEN);
	FT_POST(fi_recv(s->ep.ep, rslot(s, j), RLEN, s->rdesc, FI_ADDR_UNSPEC, &o->f));
	s->recvs++;
}

/* A transmit completion (send or write): counted once, order noted. */
static void tx_done(struct side *s, struct op *o, const struct ft_comp *c)
{
	if (!o->pending) {
		ft_error("%s: a second completion of %s %" PRIu64, s->role,
			 o->kind == K_SEND ? "send" : "write", o->idx);
		return;
	}
	o->pending = false;
	if (o->kind == K_SEND) {
		ft_check(c->e.flags & FI_SEND, "%s: send %" PRIu64 ": flags %#" PRIx64, s->role,
			 o->idx, (uint64_t)c->e.flags);
		if (o->idx != s->sends_done)
			s->sends_ooo++;
		s->sends_done++;
	} else {
		ft_check(c->e.flags & FI_WRITE, "%s: write %" PRIu64 ": flags %#" PRIx64, s->role,
			 o->idx, (uint64_t)c->e.flags);
		s->writes_done++;
	}
}

/*
 * Take one completion (waiting up to the time limit): a transmit one is
 * counted and false returned; a receive's goes to *out (true), after the
 * check that it is the next receive posted.
 */
static bool take_comp(struct side *s, struct ft_comp *out, const char *what)
{
	struct ft_comp c;
	struct op *o;

	if (ft_wait(&s->ep.cq, &c))
		ft_fatal("%s: %s: no completion within %u ms (%" PRIu64 " of %" PRIu64
			 " receives, %" PRIu64 " of %" PRIu64 " sends done)", s->role, what,
			 ft_opts.timeout_ms, s->recvs_done, s->recvs, s->sends_done, s->sends);
	o = c.e.op_context;
	if (c.err)
		ft_fatal("%s: %s: %s %" PRIu64 " completed with error %d (%s): %s", s->role, what,
			 o ? o->f.what : "?", o ? o->idx : 0, c.err, fi_strerror(c.err), c.errstr);
	if (!o || (o->kind != K_SEND && o->kind != K_RECV && o->kind != K_WRITE))
		ft_fatal("%s: %s: a completion of no operation of ours (%p)", s->role, what,
			 (void *)o);
	if (o->kind != K_RECV) {
		tx_done(s, o, &c);
		return false;
	}
	if (!o->pending)
		ft_fatal("%s: a second completion of receive %" PRIu64, s->role, o->idx);
	o->pending = false;
	ft_check(o->idx == s->recvs_done, "%s: %s: receive %" PRIu64 " completed in place of %"
		 PRIu64 " (receives posted in order must complete in order: FI_ORDER_SAS)",
		 s->role, what, o->idx, s->recvs_done);
	s->recvs_done++;
	*out = c;
	return true;
}

/* The next receive completion, transmit ones met on the way counted. */
static void wait_recv(struct side *s, struct ft_comp *c, const char *what)
{
	while (!take_comp(s, c, what))
		;
}

/* Until every send and write has completed; no receive may complete. */
static void wait_tx(struct side *s, const char *what)
{
	struct ft_comp c;

	while (s->sends_done < s->sends || s->writes_done < s->writes)
		if (take_comp(s, &c, what))
			ft_error("%s: %s: receive %" PRIu64 " completed, none was expected",
				 s->role, what, ((struct op *)c.e.op_context)->idx);
}

/* Send len bytes of pattern pat (a free send buffer is waited for). */
static void post_send(struct side *s, size_t len, uint64_t pat)
{
	uint64_t k = s->sends;
	struct op *o = &s->sops[k % SRING];
	uint8_t *b = s->sbuf + (k % SRING) * MAXLEN;
	struct ft_comp c;

	while (o->pending)
		if (take_comp(s, &c, "a free send buffer"))
			ft_fatal("%s: a receive completed while waiting for a send buffer", s->role);
	*o = (struct op){ .f = { .what = "send" }, .kind = K_SEND, .pending = true, .idx = k };
	ft_fill(b, len, pat, 0);
	FT_POST(fi_send(s->ep.ep, b, len, s->sdesc, s->peer, &o->f));
	s->sends++;
}

/* Receive j (already taken as c) must be len bytes of pattern pat, nothing after. */
static void check_msg(struct side *s, const struct ft_comp *c, uint64_t j, size_t len,
		      uint64_t pat, const char *what)
{
	char w[128];

	snprintf(w, sizeof(w), "%s: %s message %" PRIu64 " (%zu bytes)", s->role, what, j, len);
	ft_check((c->e.flags & (FI_RECV | FI_MSG)) == (FI_RECV | FI_MSG),
		 "%s: flags %#" PRIx64, w, (uint64_t)c->e.flags);
	ft_check(c->e.len == len, "%s: completion len %zu", w, c->e.len);
	if (ft_expect_pattern(rslot(s, j), len, pat, 0, w))
		s->bytes_verified += len;
	ft_expect_bytes(rslot(s, j) + len, GUARD, GUARD_BYTE, w);
}

/*
 * Messages first..first+n-1 between the two sides, even ones from side 0,
 * odd ones from side 1, each sent once the one before it arrived; message
 * k of size_of(k) bytes, pattern pat0 + k.  Receives are kept posted a few
 * ahead, as many as messages are still to come.
 */
static void ping_pong(struct side *s, int me, uint64_t first, uint64_t n, uint64_t pat0,
		      size_t (*size_of)(uint64_t), const char *what)
{
	uint64_t k, mine_left = 0, ahead = 0;
	struct ft_comp c;

	for (k = first; k < first + n; k++)
		if ((int)(k & 1) != me)
			mine_left++;
	while (ahead < 4 && ahead < mine_left) {
		post_recv(s);
		ahead++;
	}
	for (k = first; k < first + n; k++) {
		if ((int)(k & 1) == me) {
			post_send(s, size_of(k), pat0 + k);
			continue;
		}
		wait_recv(s, &c, what);
		check_msg(s, &c, s->recvs_done - 1, size_of(k), pat0 + k, what);
		mine_left--;
		if (mine_left >= ahead)
			post_recv(s);
	}
	wait_tx(s, what);
}

static size_t size_pp(uint64_t k)
{
	return (size_t)(k * 613 % 2001);
}

/* Past the default eager size (8192) one time in six: rendezvous. */
static size_t size_big(uint64_t k)
{
	return (size_t)(2001 + k * 7919 % 8000);
}

static size_t size_small(uint64_t k)
{
	return (size_t)(k * 37 % 500);
}

/* What a process reports at its end. */
static void side_report(struct side *s, const char *what)
{
	ft_log("%s: %s: %" PRIu64 " sends (%" PRIu64 " completed out of posting order), %"
	       PRIu64 " receives, %" PRIu64 " bytes verified", what, s->role, s->sends,
	       s->sends_ooo, s->recvs_done, s->bytes_verified);
}

/* ---- the processes of a case, seen from the parent ---- */

struct child {
	const char *role;
	pid_t pid;
	int err;		/* its stderr, read here; -1 at EOF */
	char line[2048];
	size_t len;
	int status;
	bool exited;
	bool counted;		/* the provider said how many went through channels */
	uint64_t sent, recvd, kicks;
	unsigned int malformed;	/* "malformed" channel warnings */
};

static struct child kids[3];
static int nkids;
static int case_fds[8];
static int ncase_fds;

/* A socket pair for the processes of the case. */
static void case_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
		ft_fatal("socketpair: %s", strerror(errno));
	case_fds[ncase_fds++] = fds[0];
	case_fds[ncase_fds++] = fds[1];
}

/*
 * Fork a process of the case running fn(a, b): its stderr goes to the
 * parent, it keeps only the sockets a and b (-1: none) of the case.
 */
static void spawn(const char *role, void (*fn)(int a, int b), int a, int b)
{
	struct child *k = &kids[nkids];
	int p[2], i;

	if (pipe(p))
		ft_fatal("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	k->pid = fork();
	if (k->pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	if (!k->pid) {
		close(p[0]);
		if (dup2(p[1], 2) < 0)
			_exit(FT_FAIL);
		close(p[1]);
		for (i = 0; i < nkids; i++)
			close(kids[i].err);
		for (i = 0; i < ncase_fds; i++)
			if (case_fds[i] != a && case_fds[i] != b)
				close(case_fds[i]);
		fn(a, b);
		fflush(stdout);
		_exit(ft_failures() ? FT_FAIL : FT_PASS);
	}
	close(p[1]);
	k->role = role;
	k->err = p[0];
	k->len = 0;
	k->exited = false;
	k->counted = false;
	k->sent = k->recvd = k->kicks = 0;
	k->malformed = 0;
	nkids++;
}

/* The number that ends just before p (digits back to the first). */
static uint64_t number_before(const char *start, const char *p)
{
	while (p > start && isdigit((unsigned char)p[-1]))
		p--;
	return strtoull(p, NULL, 10);
}

static void child_line(struct child *k, char *line)
{
	static const char sent_and[] = " messages sent and ";
	const char *m, *w;

	fprintf(stderr, "[%s] %s\n", k->role, line);
	m = strstr(line, sent_and);
	if (m && strstr(m, " received through channels")) {
		k->counted = true;
		k->sent = number_before(line, m);
		k->recvd = strtoull(m + strlen(sent_and), NULL, 10);
		w = strstr(m, " wake-ups");
		k->kicks = w ? number_before(m, w) : 0;
	}
	if (strstr(line, "channel from") && strstr(line, "malformed"))
		k->malformed++;
}

/* Read what k wrote to its stderr; false at EOF. */
static bool child_read(struct child *k)
{
	char buf[1024];
	ssize_t n = read(k->err, buf, sizeof(buf));
	ssize_t i;

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0) {
		if (k->len) {
			k->line[k->len] = '\0';
			child_line(k, k->line);
			k->len = 0;
		}
		close(k->err);
		k->err = -1;
		return false;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || k->len == sizeof(k->line) - 1) {
			k->line[k->len] = '\0';
			child_line(k, k->line);
			k->len = 0;
			if (buf[i] == '\n')
				continue;
		}
		k->line[k->len++] = buf[i];
	}
	return true;
}

/* Wait for every process of the case (their stderr read meanwhile); all must pass. */
static void reap(const char *name)
{
	uint64_t deadline = ft_now_us() + 12ULL * ft_opts.timeout_ms * 1000;
	bool killed = false;
	int i, left;

	for (i = 0; i < ncase_fds; i++)
		close(case_fds[i]);
	ncase_fds = 0;
	for (;;) {
		struct pollfd p[3];
		int np = 0, idx[3];

		for (i = 0; i < nkids; i++) {
			if (kids[i].err >= 0) {
				p[np] = (struct pollfd){ .fd = kids[i].err, .events = POLLIN };
				idx[np++] = i;
			}
		}
		left = 0;
		for (i = 0; i < nkids; i++) {
			if (!kids[i].exited && waitpid(kids[i].pid, &kids[i].status, WNOHANG) ==
			    kids[i].pid)
				kids[i].exited = true;
			left += !kids[i].exited;
		}
		if (!np && !left)
			break;
		if (np && poll(p, (nfds_t)np, 100) > 0) {
			for (i = 0; i < np; i++)
				if (p[i].revents)
					child_read(&kids[idx[i]]);
		} else if (!np) {
			sleep_us(10000);
		}
		if (!killed && ft_now_us() > deadline) {
			for (i = 0; i < nkids; i++) {
				if (!kids[i].exited) {
					ft_error("%s: the %s was still running after %u ms: killed",
						 name, kids[i].role, 12 * ft_opts.timeout_ms);
					kill(kids[i].pid, SIGKILL);
				}
			}
			killed = true;
		}
	}
	for (i = 0; i < nkids; i++) {
		int st = kids[i].status;

		if (!WIFEXITED(st) || WEXITSTATUS(st))
			ft_error("%s: the %s failed (%s %d)", name, kids[i].role,
				 WIFEXITED(st) ? "exit" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
}

/*
 * The channel counts of receiver r and sender s, as their domains' close
 * logged them: printed; with channels, what one sent the other received
 * (and, when must_use, both sent some); without, none.
 */
static void channel_counts(const char *name, const struct child *r, const struct child *s,
			   bool must_use)
{
	if (!is_fpgadma)
		return;
	if (!counts_logged) {
		ft_log("%s: how many went through channels is not known (the provider's info "
		       "lines are not logged)", name);
		return;
	}
	ft_log("%s: through channels: the %s sent %" PRIu64 " and received %" PRIu64
	       ", the %s sent %" PRIu64 " and received %" PRIu64 "; wake-ups through the "
	       "kernel: %" PRIu64 " and %" PRIu64, name, s->role, s->sent, s->recvd, r->role,
	       r->sent, r->recvd, s->kicks, r->kicks);
	if (!chan_on) {
		ft_check(!s->counted && !r->counted, "%s: messages went through channels, "
			 "though %s", name, dev_chan ? "FI_FPGADMA_CHAN=0" :
			 "the device has none");
		return;
	}
	ft_check(s->sent == r->recvd, "%s: the %s sent %" PRIu64 " messages through its "
		 "channel, the %s received %" PRIu64, name, s->role, s->sent, r->role, r->recvd);
	ft_check(r->sent == s->recvd, "%s: the %s sent %" PRIu64 " messages through its "
		 "channel, the %s received %" PRIu64, name, r->role, r->sent, s->role, s->recvd);
	if (must_use)
		ft_check(s->sent > 0 && r->sent > 0, "%s: channels on, yet the %s sent %" PRIu64
			 " and the %s %" PRIu64 " messages through them", name, s->role, s->sent,
			 r->role, r->sent);
}

static void case_begin(void)
{
	nkids = 0;
	ncase_fds = 0;
	fflush(stdout);
}

/* ---- 1: ping-pong ---- */

static void pp_side(int sock, int me)
{
	struct side s;
	const char *role = me ? "receiver" : "sender";

	side_open(&s, role, sock, 4, FI_WAIT_NONE);
	ping_pong(&s, me, 0, 2000, 1000000, size_pp, "ping-pong");
	ping_pong(&s, me, 2000, 400, 1000000, size_big, "ping-pong (2001..10000 bytes)");
	sig_put(sock, 'e', "end");	/* both sides done before either closes */
	sig_get(sock, "end");
	side_report(&s, "ping-pong");
	side_close(&s);
}

static void pp_sender(int sock, int unused)
{
	(void)unused;
	pp_side(sock, 0);
}

static void pp_receiver(int sock, int unused)
{
	(void)unused;
	pp_side(sock, 1);
}

static void case_pingpong(void)
{
	int rs[2];

	case_begin();
	case_pair(rs);
	spawn("receiver", pp_receiver, rs[0], -1);
	spawn("sender", pp_sender, rs[1], -1);
	reap("ping-pong");
	channel_counts("ping-pong", &kids[0], &kids[1], true);
	ft_log("ping-pong: 2000 messages of 0..2000 bytes (k * 613 mod 2001) and 400 of "
	       "2001..10000, the sender alternating, every byte checked, receives completed in "
	       "order");
}

/* ---- 2: a burst, received late ---- */

#define BURST 200
#define BURST_PAT 2000000

static size_t size_burst(uint64_t k)
{
	return (size_t)(k * 389 % 1001);
}

static void burst_sender(int sock, int unused)
{
	struct side s;
	uint64_t k;

	(void)unused;
	side_open(&s, "sender", sock, 2, FI_WAIT_NONE);
	ping_pong(&s, 0, 0, 4, BURST_PAT, size_small, "burst: warm-up");
	sig_get(sock, "burst: the receiver's go");
	for (k = 0; k < BURST; k++)
		post_send(&s, size_burst(k), BURST_PAT + 1000 + k);
	sig_put(sock, 'p', "burst: posted");
	wait_tx(&s, "burst: the sends");
	sig_get(sock, "burst: the receiver's end");
	side_report(&s, "burst");
	side_close(&s);
}

static void burst_receiver(int sock, int unused)
{
	struct side s;
	struct ft_comp c;
	uint64_t k, t0, limit = ft_opts.timeout_ms * 1000ULL;

	(void)unused;
	side_open(&s, "receiver", sock, BURST, FI_WAIT_NONE);
	ping_pong(&s, 1, 0, 4, BURST_PAT, size_small, "burst: warm-up");
	/* the sender's slot is known and read now: let it fill, no progress */
	sig_put(sock, 'g', "burst: go");
	sleep_us(300000);
	/* progress without receives: the messages arrive unexpected */
	t0 = ft_now_us();
	while (!sock_ready(sock, 0)) {
		ft_progress();
		if (ft_now_us() - t0 > limit)
			ft_fatal("burst: the sender did not post its %d sends within %u ms", BURST,
				 ft_opts.timeout_ms);
	}
	if (sig_get(sock, "burst: posted") != 'p')
		ft_fatal("burst: the sender said something else");
	t0 = ft_now_us();
	while (ft_now_us() - t0 < 50000)
		ft_progress();
	ft_check(ft_no_comp(&s.ep.cq, 1), "burst: a completion before any receive was posted");
	for (k = 0; k < BURST; k++)
		post_recv(&s);
	for (k = 0; k < BURST; k++) {
		wait_recv(&s, &c, "burst");
		check_msg(&s, &c, 2 + k, size_burst(k), BURST_PAT + 1000 + k, "burst");
	}
	sig_put(sock, 'e', "burst: end");
	side_report(&s, "burst");
	side_close(&s);
}

static void case_burst(void)
{
	int rs[2];

	case_begin();
	case_pair(rs);
	spawn("receiver", burst_receiver, rs[0], -1);
	spawn("sender", burst_sender, rs[1], -1);
	reap("burst");
	channel_counts("burst", &kids[0], &kids[1], false);
	ft_log("burst: %d sends of 0..1000 bytes without waiting, the receiver without progress "
	       "300 ms, then unexpected, then received late: all in order, every byte", BURST);
}

/* ---- 3: a sleeping receiver ---- */

#define SLEEP_POLLED 20
#define SLEEP_WAITED 100
#define SLEEP_PAT 3000000

static bool sleep_trywait;	/* fi_trywait + poll instead of fi_cq_sread */

static size_t size_sleep(uint64_t k)
{
	uint64_t r = seed + k;

	return (size_t)(rng_next(&r) % 2001);
}

static void sleep_sender(int sock, int unused)
{
	struct side s;
	uint64_t k, r = seed ^ 0x5eed, n = SLEEP_POLLED + SLEEP_WAITED;

	(void)unused;
	side_open(&s, "sender", sock, 1, FI_WAIT_NONE);
	sig_get(sock, "sleeper: the receiver's go");
	for (k = 0; k < n; k++) {
		post_send(&s, size_sleep(k), SLEEP_PAT + k);
		sleep_us(rng_next(&r) % 2001);
		ft_progress();
	}
	wait_tx(&s, "sleeper: the sends");
	sig_get(sock, "sleeper: the receiver's end");
	side_report(&s, sleep_trywait ? "sleeper (fi_trywait)" : "sleeper (fi_cq_sread)");
	side_close(&s);
}

/* One receive completion of the receiver's own CQ: polling, or waiting. */
static void sleep_take(struct side *s, struct fi_cq_tagged_entry *e, bool wait, int fd,
		       uint64_t *waited_us)
{
	uint64_t t0 = ft_now_us(), limit = ft_opts.timeout_ms * 1000ULL;
	struct fid *fids[1] = { &s->ep.cq.cq->fid };
	ssize_t ret;

	for (;;) {
		uint64_t el = ft_now_us() - t0;
		int left = el >= limit ? 0 : (int)((limit - el) / 1000);

		if (el > limit)
			ft_fatal("%s: message %" PRIu64 " did not arrive within %u ms (%s)", s->role,
				 s->recvs_done, ft_opts.timeout_ms,
				 !wait ? "polling" : sleep_trywait ? "fi_trywait and poll" :
				 "fi_cq_sread");
		if (wait && !sleep_trywait)
			ret = fi_cq_sread(s->ep.cq.cq, e, 1, NULL, left ? left : 1);
		else
			ret = fi_cq_read(s->ep.cq.cq, e, 1);
		if (ret == 1)
			break;
		if (ret == -FI_EAVAIL) {
			struct fi_cq_err_entry err;

			memset(&err, 0, sizeof(err));
			fi_cq_readerr(s->ep.cq.cq, &err, 0);
			ft_fatal("%s: an error completion: %d (%s)", s->role, err.err,
				 fi_strerror(err.err));
		}
		if (ret != -FI_EAGAIN)
			ft_fatal("%s: fi_cq_%sread: %zd (%s)", s->role,
				 wait && !sleep_trywait ? "s" : "", ret, ft_strerr(ret));
		if (!wait || !sleep_trywait)
			continue;
		ret = fi_trywait(s->dom.fabric, fids, 1);
		if (ret == -FI_EAGAIN)
			continue;
		if (ret)
			ft_fatal("%s: fi_trywait: %zd (%s)", s->role, ret, ft_strerr(ret));
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = poll(&p, 1, left ? left : 1);

			if (r < 0 && errno != EINTR)
				ft_fatal("%s: poll: %s", s->role, strerror(errno));
		}
	}
	*waited_us = ft_now_us() - t0;
}

static void sleep_receiver(int sock, int unused)
{
	struct side s;
	struct fi_cq_tagged_entry e;
	struct ft_comp c;
	uint64_t k, n = SLEEP_POLLED + SLEEP_WAITED, waited, max_wait = 0, sum = 0;
	int fd = -1;

	(void)unused;
	side_open(&s, "receiver", sock, SLEEP_POLLED + SLEEP_WAITED,
		  sleep_trywait ? FI_WAIT_FD : FI_WAIT_UNSPEC);
	if (sleep_trywait) {
		int ret = fi_control(&s.ep.cq.cq->fid, FI_GETWAIT, &fd);

		if (ret || fd < 0)
			ft_fatal("receiver: fi_control(FI_GETWAIT): %d (%s), fd %d", ret,
				 ft_strerr(ret), fd);
	}
	for (k = 0; k < n; k++)
		post_recv(&s);
	sig_put(sock, 'g', "sleeper: go");
	for (k = 0; k < n; k++) {
		struct op *o;

		sleep_take(&s, &e, k >= SLEEP_POLLED, fd, &waited);
		o = e.op_context;
		if (!o || o->kind != K_RECV || !o->pending)
			ft_fatal("receiver: a completion of no pending receive");
		o->pending = false;
		ft_check(o->idx == k, "sleeper: receive %" PRIu64 " completed in place of %" PRIu64
			 " (FI_ORDER_SAS)", o->idx, k);
		s.recvs_done++;
		memset(&c, 0, sizeof(c));
		c.e = e;
		check_msg(&s, &c, k, size_sleep(k), SLEEP_PAT + k,
			  k < SLEEP_POLLED ? "sleeper (polled)" : "sleeper (waited)");
		if (k >= SLEEP_POLLED) {
			sum += waited;
			if (waited > max_wait)
				max_wait = waited;
		}
	}
	sig_put(sock, 'e', "sleeper: end");
	ft_log("sleeper (%s): %d messages polled, %d waited for: longest wait %.1f ms, mean %.2f "
	       "ms (the sender pauses 0..2 ms)", sleep_trywait ? "fi_trywait and poll" :
	       "fi_cq_sread", SLEEP_POLLED, SLEEP_WAITED, (double)max_wait / 1000,
	       (double)sum / SLEEP_WAITED / 1000);
	side_report(&s, sleep_trywait ? "sleeper (fi_trywait)" : "sleeper (fi_cq_sread)");
	side_close(&s);
}

static void case_sleeper(bool trywait)
{
	const char *name = trywait ? "sleeper (fi_trywait + poll)" : "sleeper (fi_cq_sread)";
	int rs[2];

	sleep_trywait = trywait;
	case_begin();
	case_pair(rs);
	spawn("receiver", sleep_receiver, rs[0], -1);
	spawn("sender", sleep_sender, rs[1], -1);
	reap(name);
	channel_counts(name, &kids[0], &kids[1], false);
	ft_log("%s: %d messages of 0..2000 bytes, %d of them waited for, each in time, in order, "
	       "every byte", name, SLEEP_POLLED + SLEEP_WAITED, SLEEP_WAITED);
}

/* ---- 4: a message after an RMA write ---- */

#define RMA_LEN		(256 * 1024)
#define RMA_ROUNDS	20
#define RMA_PAT		4000000

static size_t rma_len(uint64_t round)
{
	return round & 1 ? 4096 : RMA_LEN;
}

struct rma_target {
	uint64_t addr;
	uint64_t key;
};

static void rma_sender(int sock, int unused)
{
	struct side s;
	struct rma_target t;
	void *desc;
	uint8_t *buf;
	uint64_t round;
	struct ft_comp c;

	(void)unused;
	side_open(&s, "sender", sock, 2, FI_WAIT_NONE);
	buf = s.xbuf = buf_reg(&s, RMA_LEN, FI_WRITE, &s.xmr, &desc);
	sock_get(sock, &t, sizeof(t), "rma: the receiver's MR");
	post_recv(&s);
	for (round = 0; round < RMA_ROUNDS; round++) {
		ft_fill(buf, rma_len(round), RMA_PAT + round, 0);
		s.wop = (struct op){ .f = { .what = "write" }, .kind = K_WRITE, .pending = true,
				     .idx = round };
		FT_POST(fi_write(s.ep.ep, buf, rma_len(round), desc, s.peer, t.addr, t.key,
				 &s.wop.f));
		s.writes++;
		/* at once: the message must not overtake the write */
		post_send(&s, 8, RMA_PAT + 100 + round);
		/* the receiver's answer, once it checked */
		wait_recv(&s, &c, "rma: the receiver's answer");
		check_msg(&s, &c, round, 8, RMA_PAT + 500 + round, "rma answer");
		if (round + 1 < RMA_ROUNDS)
			post_recv(&s);
		wait_tx(&s, "rma: the write and the send");
	}
	sig_get(sock, "rma: the receiver's end");
	side_report(&s, "rma");
	side_close(&s);
}

static void rma_receiver(int sock, int unused)
{
	struct side s;
	struct rma_target t;
	void *desc;
	uint8_t *buf;
	uint64_t round;
	struct ft_comp c;
	char what[96];

	(void)unused;
	side_open(&s, "receiver", sock, 2, FI_WAIT_NONE);
	buf = s.xbuf = buf_reg(&s, RMA_LEN, FI_REMOTE_WRITE, &s.xmr, &desc);
	(void)desc;
	t.addr = ft_rma_base(&s.dom, buf);
	t.key = fi_mr_key(s.xmr);
	post_recv(&s);
	sock_put(sock, &t, sizeof(t), "rma: the MR");
	for (round = 0; round < RMA_ROUNDS; round++) {
		wait_recv(&s, &c, "rma: the message after the write");
		check_msg(&s, &c, round, 8, RMA_PAT + 100 + round, "rma");
		snprintf(what, sizeof(what), "rma round %" PRIu64 ": the %zu bytes written before "
			 "the message", round, rma_len(round));
		if (ft_expect_pattern(buf, rma_len(round), RMA_PAT + round, 0, what))
			s.bytes_verified += rma_len(round);
		if (round + 1 < RMA_ROUNDS)
			post_recv(&s);
		post_send(&s, 8, RMA_PAT + 500 + round);
	}
	wait_tx(&s, "rma: the answers");
	sig_put(sock, 'e', "rma: end");
	side_report(&s, "rma");
	side_close(&s);
}

static void case_rma(void)
{
	int rs[2];

	case_begin();
	case_pair(rs);
	spawn("receiver", rma_receiver, rs[0], -1);
	spawn("sender", rma_sender, rs[1], -1);
	reap("rma");
	channel_counts("rma", &kids[0], &kids[1], false);
	ft_log("rma: %d rounds of fi_write (256 KiB and 4 KiB) then fi_send at once: the message "
	       "found the written data in place every time (FI_ORDER_SAW)", RMA_ROUNDS);
}

/* ---- 5: a hostile slot ---- */

#define HOSTILE_PAT 5000000

/*
 * 0: prod far past the ring; 1: a record of length 0xfffffff0; 2: a record
 * of 1000 bytes (4 units) where prod says 1 unit was written.
 */
static int hostile_kind;
static const char *const hostile_what[] = {
	"prod 0x40000000", "a record of length 0xfffffff0",
	"a record of 1000 bytes, prod 1 unit",
};

static uint32_t slot_ld(void *slot, size_t off)
{
	return __atomic_load_n((uint32_t *)(void *)((uint8_t *)slot + off), __ATOMIC_ACQUIRE);
}

static void slot_st(void *slot, size_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)((uint8_t *)slot + off), v, __ATOMIC_RELEASE);
}

/* Wait until the slot's word at off is v; false after the time limit. */
static bool slot_wait(void *slot, size_t off, uint32_t v)
{
	uint64_t t0 = ft_now_us();

	while (slot_ld(slot, off) != v) {
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			return false;
		sleep_us(200);
	}
	return true;
}

/* The third process: libfpgadma only, its own channel to the receiver. */
static void hostile(int sock, int unused)
{
	struct fpgadma_context *ctx = NULL;
	struct fpgadma_device_attr attr;
	struct prov_addr a;
	uint8_t name[256];
	uint32_t len;
	void *slot = NULL;
	uint8_t *ent;
	char res = 'k';
	int ret;

	(void)unused;
	sock_get(sock, &len, sizeof(len), "hostile: the receiver's name");
	if (len > sizeof(name))
		ft_fatal("hostile: a name of %u bytes", len);
	sock_get(sock, name, len, "hostile: the receiver's name");
	if (len != sizeof(a))
		ft_fatal("hostile: the receiver's name has %u bytes, not a struct fpgadma_addr", len);
	memcpy(&a, name, sizeof(a));
	if (a.magic != PROV_ADDR_MAGIC || !a.ep_id)
		ft_fatal("hostile: the receiver's name is no endpoint address (magic %#x, ep_id %u)",
			 a.magic, a.ep_id);
	ret = fpgadma_open((int)a.dev_index, &ctx);
	if (ret)
		ft_fatal("hostile: fpgadma_open(%u): %s", a.dev_index, fpgadma_strerror(ret));
	if (fpgadma_query(ctx, &attr))
		ft_fatal("hostile: fpgadma_query failed");
	sig_get(sock, "hostile: the receiver's go");
	ret = fpgadma_chan_map(ctx, a.ep_id, &slot);
	if (!chan_on) {
		/* no inbox: FI_FPGADMA_CHAN=0 (or the device has no channels) */
		ft_check(ret == (dev_chan ? -ENOENT : -EOPNOTSUPP), "hostile: fpgadma_chan_map "
			 "to the receiver (ep %u) without channels: %d (%s), expected %s", a.ep_id,
			 ret, strerror(-ret), dev_chan ? "-ENOENT" : "-EOPNOTSUPP");
		ft_log("hostile (ep %u): fpgadma_chan_map to the receiver (ep %u): %s (%d), as "
		       "without channels", attr.ep_id, a.ep_id, strerror(-ret), ret);
		sig_put(sock, 'n', "hostile: no channel");
		goto out;
	}
	if (ret)
		ft_fatal("hostile: fpgadma_chan_map(ep %u): %s", a.ep_id, fpgadma_strerror(ret));
	if (!slot_wait(slot, SLOT_SEEN, 1)) {
		ft_error("hostile: the receiver never set seen in the slot (%u ms)",
			 ft_opts.timeout_ms);
		res = 'x';
		goto told;
	}
	ft_check(slot_ld(slot, SLOT_SLEEP) == 0, "hostile: a polling receiver says sleep %u",
		 slot_ld(slot, SLOT_SLEEP));
	ent = (uint8_t *)slot + SLOT_RING;
	if (hostile_kind == 0) {
		slot_st(slot, SLOT_PROD, 0x40000000U);
	} else {
		uint32_t l = hostile_kind == 1 ? 0xfffffff0U : 1000;

		memcpy(ent, &l, sizeof(l));
		memset(ent + 4, 0, 4);
		memset(ent + 8, 0x5a, 4 * SLOT_UNIT - 8);
		slot_st(slot, SLOT_PROD, 1);
	}
	if (!slot_wait(slot, SLOT_SEEN, 0)) {
		ft_error("hostile: the receiver still reads the slot %u ms after %s",
			 ft_opts.timeout_ms, hostile_what[hostile_kind]);
		res = 'x';
		goto told;
	}
	ft_check(slot_ld(slot, SLOT_CONS) == 0, "hostile: the receiver took %u entries of the "
		 "nonsense", slot_ld(slot, SLOT_CONS));
	/* a well-formed record now (64 bytes, a unit): it must stay unread */
	{
		uint32_t l = 64;

		memcpy(ent, &l, sizeof(l));
		memset(ent + 4, 0, SLOT_UNIT - 4);
		slot_st(slot, SLOT_PROD, 1);
	}
	ft_log("hostile (ep %u): slot in the receiver's (ep %u) inbox; %s: the receiver stopped "
	       "reading it (seen 0, cons 0)", attr.ep_id, a.ep_id, hostile_what[hostile_kind]);
told:
	sig_put(sock, res, "hostile: done");
	/* until the receiver has closed (its socket with it): then the slot says dead */
	{
		uint64_t t0 = ft_now_us();

		while (!sock_ready(sock, 100) || read(sock, &res, 1) > 0)
			if (ft_now_us() - t0 > 6ULL * ft_opts.timeout_ms * 1000)
				ft_fatal("hostile: the receiver did not end");
	}
	ft_check(slot_wait(slot, 0, 1), "hostile: the slot header does not say dead after "
		 "the receiver closed");
	ft_check(slot_ld(slot, SLOT_CONS) == 0 && slot_ld(slot, SLOT_SEEN) == 0,
		 "hostile: at the end cons %u, seen %u (expected 0, 0: no longer read)",
		 slot_ld(slot, SLOT_CONS), slot_ld(slot, SLOT_SEEN));
	ft_log("hostile: after the receiver closed: dead 1, cons 0, seen 0 (the well-formed "
	       "record written after the nonsense was not taken)");
	fpgadma_chan_unmap(ctx, slot);
out:
	fpgadma_close(ctx);
}

static void hostile_sender(int sock, int unused)
{
	struct side s;

	(void)unused;
	side_open(&s, "sender", sock, 4, FI_WAIT_NONE);
	ping_pong(&s, 0, 0, 10, HOSTILE_PAT, size_pp, "hostile: warm-up");
	sig_get(sock, "hostile: the receiver's go");
	ping_pong(&s, 0, 10, 100, HOSTILE_PAT, size_pp, "hostile: ping-pong");
	sig_get(sock, "hostile: the receiver's end");
	side_report(&s, "hostile");
	side_close(&s);
}

static void hostile_receiver(int sock, int hsock)
{
	struct side s;
	uint32_t len;
	uint64_t t0;
	char res;

	side_open(&s, "receiver", sock, 4, FI_WAIT_NONE);
	len = (uint32_t)s.ep.namelen;
	sock_put(hsock, &len, sizeof(len), "hostile: name");
	sock_put(hsock, s.ep.name, len, "hostile: name");
	ping_pong(&s, 1, 0, 10, HOSTILE_PAT, size_pp, "hostile: warm-up");
	/* the hostile process maps and writes while we poll */
	sig_put(hsock, 'g', "hostile: go");
	t0 = ft_now_us();
	while (!sock_ready(hsock, 0)) {
		ft_progress();
		if (ft_now_us() - t0 > 3ULL * ft_opts.timeout_ms * 1000)
			ft_fatal("hostile: the third process did not finish");
	}
	res = sig_get(hsock, "hostile: done");
	ft_check(res == 'k' || res == 'n', "hostile: the third process failed");
	sig_put(sock, 'g', "hostile: go");
	ping_pong(&s, 1, 10, 100, HOSTILE_PAT, size_pp, "hostile: ping-pong");
	sig_put(sock, 'e', "hostile: end");
	side_report(&s, "hostile");
	side_close(&s);
	/* the hostile process sees our end when this socket closes */
}

static void case_hostile(int kind)
{
	static const char *const names[] = {
		"hostile (prod past the ring)", "hostile (a huge record)",
		"hostile (a record past prod)",
	};
	const char *name = names[kind];
	int rs[2], rh[2];

	hostile_kind = kind;
	case_begin();
	case_pair(rs);
	case_pair(rh);
	spawn("receiver", hostile_receiver, rs[0], rh[0]);
	spawn("sender", hostile_sender, rs[1], -1);
	spawn("hostile", hostile, rh[1], -1);
	reap(name);
	channel_counts(name, &kids[0], &kids[1], false);
	if (counts_logged) {
		ft_check(kids[0].malformed == (chan_on ? 1U : 0U), "%s: the receiver logged %u "
			 "malformed channels, expected %u", name, kids[0].malformed,
			 chan_on ? 1U : 0U);
		ft_check(!kids[1].malformed, "%s: the sender logged a malformed channel", name);
	}
	ft_log("%s: %s; the ping-pong of 100 after it worked", name,
	       chan_on ? "the receiver stopped reading the nonsense slot" :
	       "no inbox to write into");
}

/* ---- main ---- */

/*
 * Whether the provider's info lines are logged, setting FI_LOG_LEVEL if
 * unset (when the provider asked for may be fpgadma).
 */
static void setup_log(void)
{
	const char *lvl = getenv("FI_LOG_LEVEL"), *prov, *sub;

	if (ft_opts.prov && !strstr(ft_opts.prov, "fpgadma"))
		return;		/* another provider: nothing to count */
	if (!lvl) {
		setenv("FI_LOG_LEVEL", "info", 1);
		if (!getenv("FI_LOG_PROV"))
			setenv("FI_LOG_PROV", "fpgadma", 1);
		ft_log("FI_LOG_LEVEL=info%s (set here): the provider says at each domain's close "
		       "how many messages went through channels", getenv("FI_LOG_PROV") &&
		       !strcmp(getenv("FI_LOG_PROV"), "fpgadma") ? ", FI_LOG_PROV=fpgadma" : "");
		lvl = "info";
	}
	prov = getenv("FI_LOG_PROV");
	sub = getenv("FI_LOG_SUBSYS");
	counts_logged = (!strcasecmp(lvl, "info") || !strcasecmp(lvl, "debug") ||
			 !strcasecmp(lvl, "trace")) &&
			(!prov || strstr(prov, "fpgadma")) && (!sub || strstr(sub, "domain"));
}

/* Does the device of the fi_info have channels?  (fpgadma only) */
static void probe_device(void)
{
	struct fpgadma_context *ctx = NULL;
	struct fpgadma_device_attr attr;
	const char *dname = base_info->domain_attr->name;
	int ret;

	is_fpgadma = !strcmp(base_info->fabric_attr->prov_name, "fpgadma");
	if (!is_fpgadma || !dname || sscanf(dname, "fpgadma%u", &dev_index) != 1) {
		ft_log("provider %s, domain %s: no fpgadma device to look at",
		       base_info->fabric_attr->prov_name, dname ? dname : "(none)");
		return;
	}
	ret = fpgadma_open((int)dev_index, &ctx);
	if (ret)
		ft_fatal("fpgadma_open(%u): %s", dev_index, fpgadma_strerror(ret));
	ret = fpgadma_query(ctx, &attr);
	if (ret)
		ft_fatal("fpgadma_query: %s", fpgadma_strerror(ret));
	dev_chan = attr.caps & FPGADMA_CAP_CHAN;
	fpgadma_close(ctx);
	chan_on = dev_chan && !param_false(getenv("FI_FPGADMA_CHAN"));
	ft_log("domain %s: the device %s local message channels; FI_FPGADMA_CHAN %s: messages "
	       "%s", dname, dev_chan ? "has" : "has no",
	       getenv("FI_FPGADMA_CHAN") ? getenv("FI_FPGADMA_CHAN") : "unset",
	       chan_on ? "may go through channels" : "all go by SEND");
}

int main(int argc, char **argv)
{
	struct fi_info *hints;
	int ret;

	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	ft_parse(argc, argv, "c:S:", "[-c CASES] [-S SEED]\n"
		 "  -c CASES     the cases to run, digits 1..5 (default 12345)\n"
		 "  -S SEED      the seed of the sleeper's sizes and pauses", opt);
	signal(SIGPIPE, SIG_IGN);
	setup_log();
	hints = ft_hints(FI_MSG | FI_RMA, FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED |
			 FI_MR_PROV_KEY | FI_MR_ENDPOINT);
	hints->tx_attr->msg_order = FI_ORDER_SAS | FI_ORDER_SAW;
	hints->rx_attr->msg_order = FI_ORDER_SAS | FI_ORDER_SAW;
	ret = fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), NULL, NULL, 0, hints,
			 &base_info);
	fi_freeinfo(hints);
	if (ret == -FI_ENODATA)
		ft_skip("provider %s: no FI_EP_RDM with FI_MSG, FI_RMA and FI_ORDER_SAS | "
			"FI_ORDER_SAW", ft_opts.prov ? ft_opts.prov : "(any)");
	if (ret)
		ft_fatal("fi_getinfo: %d (%s)", ret, fi_strerror(-ret));
	{
		struct ft_dom d = { .info = base_info };

		ft_describe(&d);
	}
	probe_device();
	ft_log("seed %" PRIu64 " (-S to repeat)", seed);
	if (want('1'))
		case_pingpong();
	if (want('2'))
		case_burst();
	if (want('3')) {
		case_sleeper(false);
		case_sleeper(true);
	}
	if (want('4'))
		case_rma();
	if (want('5')) {
		if (is_fpgadma) {
			case_hostile(0);
			case_hostile(1);
			case_hostile(2);
		} else {
			ft_log("hostile: left out (a third process writes into an fpgadma "
			       "channel: the provider is %s)", base_info->fabric_attr->prov_name);
		}
	}
	fi_freeinfo(base_info);
	return ft_finish("cases %s, channels %s%s", cases,
			 chan_on ? "on" : dev_chan ? "off (FI_FPGADMA_CHAN=0)" : "not on the device",
			 counts_logged ? "" : " (counts not logged)");
}
