// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpga_forward: the FPGA's frames forwarded over a network to another node,
 * from the very pages the FPGA wrote.
 *
 * The sender (node A) runs the FPGA's paced stream in zero-copy mode
 * (FI_FPGADMA_STREAM_ZC, rdma/fi_ext_fpgadma.h) into a ring of frame slots
 * that is registered twice: with the fpgadma domain (the device writes it:
 * fpgadma's long-term pin) and with the network provider's domain (it
 * sends from it: the verbs device's ib_umem, or nothing for tcp).  Each
 * frame the device wrote is handed to fi_send on an FI_EP_MSG endpoint of
 * the network provider (tcp or verbs, its own fabric and domain) with the
 * network MR's desc, straight from its slot; its slot goes back to the
 * device (stream_release) once its send completed, oldest first (sends in
 * flight: at most half the slots, the transmit queue's depth and half the
 * receives the peer posted; the other slots let the device write ahead
 * meanwhile).
 * Nothing on this node copies a frame: the CPU reads its 48-byte header
 * (the loss count) and nothing else.
 *
 * --copy is the comparison: the same stream, but each frame is memcpy'd
 * into a separate send buffer (registered with the network only) and its
 * slot handed back at once; the network sends the copy.  The CPU time per
 * GB forwarded (getrusage, user + system, over the forwarding) of the two
 * is the cost of the copy.
 *
 * The receiver (node B) posts a ring of receives (registered with the
 * network provider), and checks every frame it gets: header (magic,
 * sizes, the stream's id), sequence number (previous + 1 + lost_before:
 * every loss accounted for), timestamp (a whole number of periods from the
 * first frame's), and every payload word (fpgadma_stream_word(seq, j)),
 * then posts the receive again.
 *
 * Frames lost: the device drops frames when the ring has no free slot
 * (the network is slower than the stream).  Nothing is lost silently: the
 * next frame's lost_before counts them, and at the end the losses the
 * sender counted (lost_before, plus the frames produced after the last one
 * forwarded) must be the device's final drops, and the receiver's sum of
 * lost_before the sender's.
 *
 * Sources of frames: the paced stream (default); --read: fi_read of the
 * FPGA's stream (the older pull interface, frames of the FPGA's own
 * frame_size: word 0 the frame's number, then fi_fpgadma_stream_word) into
 * the same doubly registered slots, one read at a time, no losses;
 * --no-fpga: the program writes the paced stream's frames itself into the
 * ring at the rate (a stand-in device, to test the network half where no
 * FPGA is: the CPU figures then include the writing of the frames).
 *
 * The two nodes meet over a TCP socket (out of band): the server (-s)
 * listens on PORT (-P), the client connects to NODE:PORT.  Over it the
 * sender tells the frame geometry, the server the port of its passive
 * endpoint (bound to the address the socket was reached at), the receiver
 * that its receives are posted, the sender the totals at the end, the
 * receiver its verdict; either one's error ends both.  Which node listens
 * and which sends are independent: the server receives and the client
 * sends unless --send or --recv says otherwise.
 *
 *   fpga_forward -p verbs -s                     (node B: listens, receives)
 *   fpga_forward -p verbs 10.77.0.2              (node A: connects, sends)
 *   fpga_forward -p tcp -s --send / --recv NODE  (node A listens and sends)
 *
 * Link faults: a send or receive that completes with an error, the
 * connection's FI_SHUTDOWN, or no completion within the time limit (-T)
 * while sends or frames are outstanding (a link taken down under TCP
 * retransmits silently) end the program with the error's text, after the
 * stream is stopped and every endpoint, MR, domain and fabric is closed:
 * nothing stays pinned.  The other node is told over the socket (or finds
 * it closed) and ends the same way.  There is no resume.
 *
 * The run ends after -n frames (or -t seconds): the stream is stopped, and
 * the frames the device had written into the ring by then are forwarded
 * too (so a few more than -n may go); the frames still in its FIFO are
 * dropped by the stop and counted as lost.  The receiver posts twice as
 * many receives as the sender has slots (-R), reposting each once checked;
 * beyond that the transport's own flow control holds the sender back.
 *
 * Output: on both nodes a table (bytes, frames, frames/s, MB/sec, lost,
 * secs; the sender's also CPU s/GB, user and system apart, and the bytes
 * the CPU copied per frame: 0, or the frame with --copy) and on the sender
 * a summary line: frames forwarded, received and verified by the peer,
 * lost, bytes, rate, CPU time per GB on this node; then the same figures
 * as one line of key=value words for scripts ("forward-result: prov=...
 * mode=zero-copy|copy frame= slots= rate= frames= verified= bytes= secs= rx_secs=
 * rx_frames_per_s= rx_MBps= tx_MBps= produced= lost= cpu_s_per_GB=
 * user_s_per_GB= sys_s_per_GB= copied_per_frame=", the rx_ figures the
 * receiver's: frames verified there over its time from first frame to
 * last).  Exit status 0, 1 (a failure: wrong frame, unaccounted loss, link
 * error), 77 (skip: no such provider, no FPGA, no paced stream).
 */
#include "common.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fi_ext_fpgadma.h>

#define DEF_PORT	47591
#define DEF_FRAME	65536
#define DEF_FRAMES	2000
#define DEF_RATE	1000
#define DEF_SLOTS	32
#define MAX_SLOTS	1024

/* ---- options ---- */

enum role { ROLE_DEFAULT, ROLE_SEND, ROLE_RECV };
enum source { SRC_STREAM = 1, SRC_READ = 2, SRC_SOFT = 3 };

static struct {
	bool server;
	enum role role;
	bool copy;
	enum source src;
	const char *node;	/* the server's address (client) */
	unsigned int port;
	uint32_t frame_size;
	uint64_t frames;
	double secs;
	uint64_t rate;
	uint32_t slots;
	uint32_t rx_slots;
} o = {
	.port = DEF_PORT,
	.frame_size = DEF_FRAME,
	.frames = DEF_FRAMES,
	.rate = DEF_RATE,
	.slots = DEF_SLOTS,
	.src = SRC_STREAM,
};

static bool sender;
static volatile sig_atomic_t got_signal;

/* ---- the out-of-band socket ---- */

#define OOB_MAGIC	0x46574f42U	/* "BOWF" */

enum oob_type {
	OOB_HELLO = 1,	/* sender: geometry (v[]) */
	OOB_SKIP,	/* either: text, exit 77 */
	OOB_ERROR,	/* either: text, exit 1 */
	OOB_NETPORT,	/* server: v[0] the passive endpoint's port */
	OOB_READY,	/* receiver: v[0] receives posted */
	OOB_END,	/* sender: totals (v[]) */
	OOB_VERDICT,	/* receiver: what it saw (v[]) */
};

/* HELLO's words */
enum { H_FRAME, H_SLOTS, H_PERIOD, H_SRC, H_COPY, H_NWORDS };
/* END's */
enum { E_FRAMES, E_BYTES, E_LOST, E_LAST_SEQ, E_DEV_DROPS, E_NWORDS };
/* VERDICT's */
enum { V_FRAMES, V_VERIFIED, V_BYTES, V_LOST, V_BAD, V_USEC, V_NWORDS };

struct oob_msg {
	uint32_t magic;
	uint32_t type;
	uint64_t v[8];
	char text[512];
};

static int lsock = -1, osock = -1;

/* ---- state, closed by cleanup() whatever was opened ---- */

static struct {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_eq *eq;
	struct fid_pep *pep;
	struct fid_domain *domain;
	struct fid_ep *ep;
	struct fid_cq *cq;
	struct fid_mr *ring_mr;		/* the frame ring (both nodes) */
	struct fid_mr *copy_mr;		/* --copy: the send buffers */
	bool connected;
} net;

static struct {
	struct ft_dom dom;
	struct fid_ep *ep;
	struct fid_cq *cq;
	struct fid_mr *mr;
	struct fi_fpgadma_ops_domain *ops;
	struct fi_fpgadma_fpga fpga;
	fi_addr_t addr;
	bool streaming;
	struct fi_fpgadma_stream_attr a;
} fp;

static uint8_t *ring;		/* slots of slot_size bytes */
static void *ring_base;
static size_t ring_map;
static uint8_t *cbuf;		/* --copy */
static void *cbuf_base;
static size_t cbuf_map;
static size_t slot_size;
static struct ft_op *ops_ctx;	/* one context per slot */

static void cleanup(void);
static void peer_error_first(void);

/* ---- messages and the end ---- */

static void vsay(const char *prefix, const char *fmt, va_list ap, char *text, size_t len)
{
	vsnprintf(text, len, fmt, ap);
	printf("%s%s\n", prefix, text);
	fflush(stdout);
}

static void oob_send(uint32_t type, const uint64_t *v, size_t nv, const char *text);

/* Fail: tell the other node, close everything, exit 1. */
static void die(const char *fmt, ...) FT_PRINTF(1, 2) __attribute__((noreturn));
static void die(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsay("FAIL: ", fmt, ap, text, sizeof(text));
	va_end(ap);
	if (osock >= 0)
		oob_send(OOB_ERROR, NULL, 0, text);
	cleanup();
	if (ft_failures())
		printf("FAIL: %u more checks failed before\n", ft_failures());
	exit(FT_FAIL);
}

/* Skip: tell the other node, close everything, exit 77. */
static void skip(const char *fmt, ...) FT_PRINTF(1, 2) __attribute__((noreturn));
static void skip(const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (osock >= 0)
		oob_send(OOB_SKIP, NULL, 0, text);
	cleanup();
	printf("SKIP: %s\n", text);
	exit(FT_SKIP);
}

#define CALL(call) \
	do { \
		long r_ = (long)(call); \
		if (r_ < 0) \
			die("%s: %ld (%s)", #call, r_, fi_strerror((int)-r_)); \
	} while (0)

static void close_fid(struct fid **fid, const char *what)
{
	int ret;

	if (!*fid)
		return;
	ret = fi_close(*fid);
	if (ret)
		printf("FAIL: fi_close(%s): %d (%s)\n", what, ret, fi_strerror(-ret));
	*fid = NULL;
}
#define CLOSE(p, what) close_fid((struct fid **)&(p), what)

static void cleanup(void)
{
	int ret;

	if (fp.streaming) {
		fp.streaming = false;
		ret = fp.ops->stream_stop(fp.ep, 0, NULL);
		if (ret)
			printf("FAIL: stream_stop: %d (%s)\n", ret, fi_strerror(-ret));
	}
	/* the endpoints first: their operations go with them */
	CLOSE(net.ep, "network endpoint");
	CLOSE(net.pep, "passive endpoint");
	CLOSE(net.ring_mr, "network MR of the ring");
	CLOSE(net.copy_mr, "network MR of the copies");
	CLOSE(net.cq, "network CQ");
	CLOSE(net.domain, "network domain");
	CLOSE(net.eq, "network EQ");
	CLOSE(net.fabric, "network fabric");
	if (net.info)
		fi_freeinfo(net.info);
	net.info = NULL;
	CLOSE(fp.ep, "fpgadma endpoint");
	CLOSE(fp.mr, "fpgadma MR of the ring");
	CLOSE(fp.cq, "fpgadma CQ");
	if (fp.dom.domain || fp.dom.info)
		ft_close_dom(&fp.dom);
	if (ring_base)
		ft_unmap(ring_base, ring_map);
	ring_base = NULL;
	if (cbuf_base)
		ft_unmap(cbuf_base, cbuf_map);
	cbuf_base = NULL;
	free(ops_ctx);
	ops_ctx = NULL;
	if (osock >= 0)
		close(osock);
	if (lsock >= 0)
		close(lsock);
	osock = lsock = -1;
}

static void on_signal(int sig)
{
	got_signal = sig;
}

static void check_signal(void)
{
	if (got_signal)
		die("interrupted by signal %d (%s)", (int)got_signal, strsignal(got_signal));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void nap_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
			       .tv_nsec = (long)(ns % 1000000000ULL) };

	nanosleep(&ts, NULL);
}

/* This process's CPU time so far, user and system, in seconds. */
static void cpu_secs(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the out-of-band socket ---- */

static void oob_send(uint32_t type, const uint64_t *v, size_t nv, const char *text)
{
	struct oob_msg m;
	size_t off = 0;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.magic = OOB_MAGIC;
	m.type = type;
	if (v)
		memcpy(m.v, v, nv * sizeof(*v));
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	while (off < sizeof(m)) {
		n = send(osock, (char *)&m + off, sizeof(m) - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* the other node is gone: say so, unless dying already */
			int fd = osock;

			osock = -1;
			close(fd);
			if (type != OOB_ERROR && type != OOB_SKIP)
				die("the out-of-band socket: send: %s (the other node ended?)",
				    n < 0 ? strerror(errno) : "closed");
			return;
		}
		off += (size_t)n;
	}
}

/*
 * The next message within timeout_ms (0: only if one is there; returns
 * false then).  An ERROR or SKIP from the other node ends this one too.
 */
static bool oob_recv(struct oob_msg *m, int timeout_ms, const char *waiting_for)
{
	struct pollfd pfd = { .fd = osock, .events = POLLIN };
	size_t off = 0;
	ssize_t n;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0 && errno != EINTR)
		die("poll of the out-of-band socket: %s", strerror(errno));
	if (ret <= 0) {
		if (timeout_ms > 0)
			die("the other node did not send %s within %d s", waiting_for,
			    timeout_ms / 1000);
		return false;
	}
	while (off < sizeof(*m)) {
		n = recv(osock, (char *)m + off, sizeof(*m) - off, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(osock);
			osock = -1;
			die("the out-of-band socket closed while waiting for %s: the other node "
			    "ended (%s)", waiting_for, n < 0 ? strerror(errno) : "end of file");
		}
		off += (size_t)n;
	}
	if (m->magic != OOB_MAGIC)
		die("the out-of-band socket: a message with magic %#x: not fpga_forward?",
		    m->magic);
	m->text[sizeof(m->text) - 1] = 0;
	if (m->type == OOB_ERROR) {
		close(osock);
		osock = -1;
		die("the other node failed: %s", m->text);
	}
	if (m->type == OOB_SKIP) {
		close(osock);
		osock = -1;
		skip("the other node skipped: %s", m->text);
	}
	return true;
}

static void oob_expect(struct oob_msg *m, uint32_t type, const char *what)
{
	oob_recv(m, (int)ft_opts.timeout_ms, what);
	if (m->type != type)
		die("the out-of-band socket: message %u while waiting for %s", m->type, what);
}

/* The server listens on the port, the client connects (retrying). */
static void oob_open(void)
{
	uint64_t t0 = ft_now_us();
	char port[16];
	int one = 1, ret;

	snprintf(port, sizeof(port), "%u", o.port);
	if (o.server) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)o.port),
					   .sin6_addr = IN6ADDR_ANY_INIT };
		int fd;

		fd = socket(AF_INET6, SOCK_STREAM, 0);
		if (fd < 0) {
			/* no IPv6: IPv4 only */
			struct sockaddr_in s4 = { .sin_family = AF_INET,
						  .sin_port = htons((uint16_t)o.port),
						  .sin_addr.s_addr = htonl(INADDR_ANY) };

			fd = socket(AF_INET, SOCK_STREAM, 0);
			if (fd < 0)
				die("socket: %s", strerror(errno));
			lsock = fd;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)))
				die("bind to TCP port %u: %s", o.port, strerror(errno));
		} else {
			int zero = 0;

			lsock = fd;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
				die("bind to TCP port %u: %s", o.port, strerror(errno));
		}
		if (listen(lsock, 1))
			die("listen on TCP port %u: %s", o.port, strerror(errno));
		ft_log("server: listening on TCP port %u", o.port);
		for (;;) {
			struct pollfd pfd = { .fd = lsock, .events = POLLIN };

			check_signal();
			ret = poll(&pfd, 1, 100);
			if (ret > 0)
				break;
			if (ft_now_us() - t0 > 3 * ft_opts.timeout_ms * 1000ULL)
				die("no client connected to TCP port %u within %u s", o.port,
				    3 * ft_opts.timeout_ms / 1000);
		}
		osock = accept(lsock, NULL, NULL);
		if (osock < 0)
			die("accept: %s", strerror(errno));
		close(lsock);
		lsock = -1;
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai = NULL, *a;

		ret = getaddrinfo(o.node, port, &hints, &ai);
		if (ret)
			die("the server's address %s: %s", o.node, gai_strerror(ret));
		for (;;) {
			for (a = ai; a; a = a->ai_next) {
				osock = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
				if (osock < 0)
					continue;
				if (!connect(osock, a->ai_addr, a->ai_addrlen))
					break;
				close(osock);
				osock = -1;
			}
			if (osock >= 0)
				break;
			check_signal();
			if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL) {
				freeaddrinfo(ai);
				die("could not connect to %s port %u within %u s: %s", o.node,
				    o.port, ft_opts.timeout_ms / 1000, strerror(errno));
			}
			nap_ns(200000000ULL);
		}
		freeaddrinfo(ai);
	}
	setsockopt(osock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* This node's address on the out-of-band connection (the link's). */
static void oob_local_addr(char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int ret;

	if (getsockname(osock, (struct sockaddr *)&ss, &sl))
		die("getsockname: %s", strerror(errno));
	ret = getnameinfo((struct sockaddr *)&ss, sl, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST);
	if (ret)
		die("getnameinfo: %s", gai_strerror(ret));
	/* an IPv4 peer on an IPv6 socket */
	if (!strncmp(buf, "::ffff:", 7) && strchr(buf, '.'))
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
}

/* ---- the network: FI_EP_MSG of tcp or verbs ---- */

static struct fi_info *net_getinfo(const char *node, const char *service, uint64_t flags)
{
	struct fi_info *h = fi_allocinfo(), *info = NULL;
	int ret;

	if (!h)
		die("fi_allocinfo failed");
	h->caps = FI_MSG;
	h->mode = FI_CONTEXT | FI_CONTEXT2;
	h->ep_attr->type = FI_EP_MSG;
	h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	h->domain_attr->threading = FI_THREAD_DOMAIN;
	h->fabric_attr->prov_name = strdup(ft_opts.prov);
	ret = fi_getinfo(FI_VERSION(FI_MAJOR_VERSION, FI_MINOR_VERSION), node, service, flags, h,
			 &info);
	fi_freeinfo(h);
	if (ret == -FI_ENODATA)
		skip("provider %s: no FI_EP_MSG endpoint for %s%s%s (fi_getinfo: %s)", ft_opts.prov,
		     node ? node : "any address", service ? " port " : "", service ? service : "",
		     fi_strerror(-ret));
	if (ret)
		die("fi_getinfo(%s, %s, %s): %d (%s)", ft_opts.prov, node ? node : "NULL",
		    service ? service : "NULL", ret, fi_strerror(-ret));
	return info;
}

/* The next CM event within the time limit; an error event ends the program. */
static uint32_t net_event(struct fi_eq_cm_entry *entry, size_t len, const char *what)
{
	struct fi_eq_err_entry err;
	uint32_t event = 0;
	uint64_t t0 = ft_now_us();
	ssize_t n;

	for (;;) {
		n = fi_eq_sread(net.eq, &event, entry, len, 100, 0);
		if (n != -FI_EAGAIN && n != -FI_ETIMEDOUT)
			break;
		check_signal();
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			die("%s: no event within %u s", what, ft_opts.timeout_ms / 1000);
	}
	if (n == -FI_EAVAIL) {
		const char *s;

		memset(&err, 0, sizeof(err));
		if (fi_eq_readerr(net.eq, &err, 0) < 0)
			die("%s: fi_eq_readerr failed", what);
		s = fi_eq_strerror(net.eq, err.prov_errno, err.err_data, NULL, 0);
		die("%s: error event %d (%s), prov_errno %d: %s", what, err.err,
		    fi_strerror(err.err), err.prov_errno, s ? s : "");
	}
	if (n < 0)
		die("%s: fi_eq_sread: %zd (%s)", what, n, fi_strerror((int)-n));
	return event;
}

static void net_open_ep(struct fi_info *info)
{
	struct fi_cq_attr cq_attr = {
		.format = FI_CQ_FORMAT_DATA,
		.size = 2 * MAX_SLOTS,
		.wait_obj = FI_WAIT_FD,
	};
	int ret;

	CALL(fi_domain(net.fabric, info, &net.domain, NULL));
	/*
	 * An fd to poll beside the fpgadma CQ's (run_sender): tcp gives one
	 * only when asked (under FI_WAIT_UNSPEC it waits on a poll set of
	 * its own); a provider that has none gets its own choice.
	 */
	ret = fi_cq_open(net.domain, &cq_attr, &net.cq, NULL);
	if (ret) {
		ft_log("%s: no CQ with FI_WAIT_FD (%d, %s): FI_WAIT_UNSPEC", ft_opts.prov, ret,
		       fi_strerror(-ret));
		cq_attr.wait_obj = FI_WAIT_UNSPEC;
		CALL(fi_cq_open(net.domain, &cq_attr, &net.cq, NULL));
	}
	CALL(fi_endpoint(net.domain, info, &net.ep, NULL));
	CALL(fi_ep_bind(net.ep, &net.eq->fid, 0));
	CALL(fi_ep_bind(net.ep, &net.cq->fid, FI_TRANSMIT | FI_RECV));
	CALL(fi_enable(net.ep));
}

/*
 * The connection: the server's passive endpoint listens on the address
 * the client reached it at (port chosen by the provider, told over the
 * socket), the client connects to it.
 */
static void net_connect(void)
{
	struct fi_eq_attr eq_attr = { .size = 16, .wait_obj = FI_WAIT_UNSPEC };
	struct {
		struct fi_eq_cm_entry e;
		uint8_t data[256];
	} ev;
	struct oob_msg m;
	char host[INET6_ADDRSTRLEN + 8], port[16];
	uint32_t event;

	if (o.server) {
		struct sockaddr_storage ss;
		size_t sl = sizeof(ss);
		struct fi_info *req;
		uint64_t p = 0;

		oob_local_addr(host, sizeof(host));
		net.info = net_getinfo(host, "0", FI_SOURCE);
		CALL(fi_fabric(net.info->fabric_attr, &net.fabric, NULL));
		CALL(fi_eq_open(net.fabric, &eq_attr, &net.eq, NULL));
		CALL(fi_passive_ep(net.fabric, net.info, &net.pep, NULL));
		CALL(fi_pep_bind(net.pep, &net.eq->fid, 0));
		CALL(fi_listen(net.pep));
		CALL(fi_getname(&net.pep->fid, &ss, &sl));
		if (ss.ss_family == AF_INET)
			p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		if (!p)
			die("the passive endpoint's address (family %d) has no port", ss.ss_family);
		oob_send(OOB_NETPORT, &p, 1, NULL);
		event = net_event(&ev.e, sizeof(ev), "waiting for the connection request");
		if (event != FI_CONNREQ)
			die("event %u while waiting for the connection request", event);
		req = ev.e.info;
		net_open_ep(req);
		CALL(fi_accept(net.ep, NULL, 0));
		fi_freeinfo(req);
		event = net_event(&ev.e, sizeof(ev), "waiting for the connection");
		if (event != FI_CONNECTED)
			die("event %u while waiting for the connection", event);
		CLOSE(net.pep, "passive endpoint");
	} else {
		oob_expect(&m, OOB_NETPORT, "the passive endpoint's port");
		snprintf(port, sizeof(port), "%" PRIu64, m.v[0]);
		net.info = net_getinfo(o.node, port, 0);
		CALL(fi_fabric(net.info->fabric_attr, &net.fabric, NULL));
		CALL(fi_eq_open(net.fabric, &eq_attr, &net.eq, NULL));
		net_open_ep(net.info);
		CALL(fi_connect(net.ep, net.info->dest_addr, NULL, 0));
		event = net_event(&ev.e, sizeof(ev), "connecting");
		if (event != FI_CONNECTED)
			die("event %u while connecting", event);
		snprintf(host, sizeof(host), "%s", o.node);
	}
	net.connected = true;
	ft_log("network: provider %s %u.%u, FI_EP_MSG, fabric %s, domain %s, %s %s",
	       net.info->fabric_attr->prov_name, FI_MAJOR(net.info->fabric_attr->prov_version),
	       FI_MINOR(net.info->fabric_attr->prov_version), net.info->fabric_attr->name,
	       net.info->domain_attr->name, o.server ? "accepted on" : "connected to", host);
}

/* A shutdown (or error) event of the connection: the end. */
static void net_check_eq(void)
{
	struct fi_eq_cm_entry e;
	struct fi_eq_err_entry err;
	uint32_t event;
	ssize_t n;

	n = fi_eq_read(net.eq, &event, &e, sizeof(e), 0);
	if (n == -FI_EAGAIN)
		return;
	if (n == -FI_EAVAIL) {
		const char *s;

		memset(&err, 0, sizeof(err));
		fi_eq_readerr(net.eq, &err, 0);
		s = fi_eq_strerror(net.eq, err.prov_errno, err.err_data, NULL, 0);
		peer_error_first();
		die("the connection: error event %d (%s): %s", err.err, fi_strerror(err.err),
		    s ? s : "");
	}
	if (n < 0)
		die("fi_eq_read: %zd (%s)", n, fi_strerror((int)-n));
	peer_error_first();
	if (event == FI_SHUTDOWN)
		die("the connection was shut down (the other node closed it, or the link "
		    "failed)");
	die("unexpected connection event %u", event);
}

static int reg_net(void *buf, size_t len, uint64_t access, struct fid_mr **mr)
{
	uint64_t key = net.info->domain_attr->mr_mode & FI_MR_PROV_KEY ? 0 : ft_next_key();

	return fi_mr_reg(net.domain, buf, len, access, 0, key, 0, mr, NULL);
}

/*
 * A network error may be the other node's failure: its message on the
 * socket (if it comes within half a second) says why, and ends this node
 * with it.
 */
static void peer_error_first(void)
{
	struct pollfd pfd = { .fd = osock, .events = POLLIN };
	struct oob_msg m;
	size_t off = 0;
	ssize_t n;

	if (osock < 0 || poll(&pfd, 1, 500) <= 0)
		return;
	while (off < sizeof(m)) {
		n = recv(osock, (char *)&m + off, sizeof(m) - off, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* gone without a word (killed?): the network's error says it */
			printf("the other node's socket closed too (the other node ended)\n");
			close(osock);
			osock = -1;
			return;
		}
		off += (size_t)n;
	}
	m.text[sizeof(m.text) - 1] = 0;
	if (m.magic == OOB_MAGIC && (m.type == OOB_ERROR || m.type == OOB_SKIP)) {
		close(osock);
		osock = -1;
		die("the other node failed: %s", m.text);
	}
}

/* A network completion; an error one ends the program with its text. */
static ssize_t net_read_cq(struct fi_cq_data_entry *ents, size_t max, int timeout_ms,
			   const char *what)
{
	struct fi_cq_err_entry err;
	ssize_t n;

	if (timeout_ms > 0)
		n = fi_cq_sread(net.cq, ents, max, NULL, timeout_ms);
	else
		n = fi_cq_read(net.cq, ents, max);
	if (n == -FI_EAGAIN || n == -FI_ETIMEDOUT)
		return 0;
	if (n == -FI_EAVAIL) {
		const char *s;
		struct ft_op *op;

		memset(&err, 0, sizeof(err));
		if (fi_cq_readerr(net.cq, &err, 0) != 1)
			die("%s: fi_cq_readerr failed", what);
		s = fi_cq_strerror(net.cq, err.prov_errno, err.err_data, NULL, 0);
		op = err.op_context;
		peer_error_first();
		die("%s: %s of slot %d completed with error %d (%s), prov_errno %d: %s", what,
		    op ? op->what : "an operation", op ? op->id : -1, err.err, fi_strerror(err.err),
		    err.prov_errno, s ? s : "");
	}
	if (n < 0)
		die("%s: fi_cq_read: %zd (%s)", what, n, fi_strerror((int)-n));
	return n;
}

/* ---- frames ---- */

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint16_t le16_at(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

#define HDR(f, field) ((f) + offsetof(struct fpgadma_frame_hdr, field))

/* The checks of a receiver (or of the sender's own headers). */
struct seen {
	bool any;
	uint32_t id;
	uint64_t first_seq, first_ts, last_seq;
	uint64_t frames, lost;
};

/* Frame f of the paced stream's format: true, or false with why. */
static bool check_stream_frame(struct seen *s, const uint8_t *f, size_t len, uint32_t fs,
			       uint64_t period, char *why, size_t wl)
{
	const uint64_t words = fs / 8;
	uint32_t magic = le32_at(HDR(f, magic)), size = le32_at(HDR(f, frame_size));
	uint16_t hdr_size = le16_at(HDR(f, hdr_size)), flags = le16_at(HDR(f, flags));
	uint32_t id = le32_at(HDR(f, stream_id));
	uint64_t seq = le64_at(HDR(f, seq)), ts = le64_at(HDR(f, timestamp_ns));
	uint64_t lost = le64_at(HDR(f, lost_before)), rsv = le64_at(HDR(f, reserved));
	uint64_t want, j, w, got;
	unsigned int b;

	if (len != fs || magic != FPGADMA_FRAME_MAGIC || hdr_size != FPGADMA_FRAME_HDR_SIZE ||
	    flags || size != fs || rsv || (s->any && id != s->id)) {
		snprintf(why, wl, "a message of %zu bytes: magic %#" PRIx32 " hdr_size %" PRIu16
			 " flags %#" PRIx16 " frame_size %" PRIu32 " stream_id %" PRIu32
			 " reserved %#" PRIx64 "; expected a frame of %" PRIu32 " bytes, stream id %"
			 PRIu32, len, magic, hdr_size, flags, size, id, rsv, fs, s->id);
		return false;
	}
	want = (s->any ? s->last_seq + 1 : seq - lost) + lost;
	if (seq != want) {
		snprintf(why, wl, "seq %" PRIu64 " with lost_before %" PRIu64 " after seq %" PRIu64
			 ": expected %" PRIu64 " (a frame missing, repeated or out of order)", seq,
			 lost, s->last_seq, want);
		return false;
	}
	if (s->any && period && ts - s->first_ts != (seq - s->first_seq) * period) {
		snprintf(why, wl, "seq %" PRIu64 ": timestamp %" PRIu64 " ns is %" PRId64
			 " ns after seq %" PRIu64 "'s, expected %" PRIu64, seq, ts,
			 (int64_t)(ts - s->first_ts), s->first_seq, (seq - s->first_seq) * period);
		return false;
	}
	for (j = FPGADMA_FRAME_HDR_SIZE / 8; j < words + (fs % 8 != 0); j++) {
		w = fi_fpgadma_stream_word(seq, j);
		if (j < words) {
			got = le64_at(f + 8 * j);
		} else {
			got = 0;
			for (b = 0; b < fs % 8; b++)
				got |= (uint64_t)f[8 * j + b] << (8 * b);
			w &= (1ULL << (8 * (fs % 8))) - 1;
		}
		if (got != w) {
			snprintf(why, wl, "seq %" PRIu64 ": word %" PRIu64 " is %#" PRIx64
				 ", expected %#" PRIx64, seq, j, got, w);
			return false;
		}
	}
	if (!s->any) {
		s->any = true;
		s->id = id;
		s->first_seq = seq;
		s->first_ts = ts;
		/* losses before the first frame count too */
	}
	s->lost += lost;
	s->last_seq = seq;
	s->frames++;
	return true;
}

/* A frame of fi_read's stream: word 0 its number, then the stream words. */
static bool check_read_frame(struct seen *s, const uint8_t *f, size_t len, uint32_t fs,
			     char *why, size_t wl)
{
	uint64_t n = le64_at(f), want = s->any ? s->last_seq + 1 : n, j, got, w;

	if (len != fs) {
		snprintf(why, wl, "a message of %zu bytes, expected a frame of %" PRIu32, len, fs);
		return false;
	}
	if (n != want) {
		snprintf(why, wl, "frame %" PRIu64 " after %" PRIu64 ": expected %" PRIu64, n,
			 s->last_seq, want);
		return false;
	}
	for (j = 1; j < fs / 8; j++) {
		got = le64_at(f + 8 * j);
		w = fi_fpgadma_stream_word(n, j);
		if (got != w) {
			snprintf(why, wl, "frame %" PRIu64 ": word %" PRIu64 " is %#" PRIx64
				 ", expected %#" PRIx64, n, j, got, w);
			return false;
		}
	}
	s->any = true;
	s->last_seq = n;
	s->frames++;
	return true;
}

/* --no-fpga: frame seq of the paced stream's format, written by the CPU. */
static void soft_frame(uint8_t *f, uint32_t fs, uint64_t seq, uint64_t lost, uint64_t period)
{
	struct fpgadma_frame_hdr h = {
		.magic = htole32(FPGADMA_FRAME_MAGIC),
		.hdr_size = htole16(FPGADMA_FRAME_HDR_SIZE),
		.frame_size = htole32(fs),
		.stream_id = htole32(1),
		.seq = htole64(seq),
		.timestamp_ns = htole64(seq * period),
		.lost_before = htole64(lost),
	};
	uint64_t j, w;
	unsigned int b;

	memcpy(f, &h, sizeof(h));
	for (j = FPGADMA_FRAME_HDR_SIZE / 8; j < fs / 8; j++) {
		w = htole64(fi_fpgadma_stream_word(seq, j));
		memcpy(f + 8 * j, &w, 8);
	}
	w = fi_fpgadma_stream_word(seq, j);
	for (b = 0; b < fs % 8; b++)
		f[8 * j + b] = (uint8_t)(w >> (8 * b));
}

/* ---- the FPGA ---- */

static void fpga_open(void)
{
	struct fi_info *h = fi_allocinfo();
	/* an fd: the sender sleeps on it and the network's CQ at once */
	struct fi_cq_attr cq_attr = { .format = FI_CQ_FORMAT_TAGGED, .wait_obj = FI_WAIT_FD };
	const char *why = NULL;
	int ret;

	if (!h)
		die("fi_allocinfo failed");
	h->caps = FI_MSG | FI_RMA;
	h->mode = FI_CONTEXT | FI_CONTEXT2 | FI_RX_CQ_DATA;
	h->ep_attr->type = FI_EP_RDM;
	h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	h->domain_attr->threading = FI_THREAD_DOMAIN;
	h->fabric_attr->prov_name = strdup("fpgadma");
	if (ft_open_dom(h, &fp.dom, &why))
		skip("no fpgadma domain (%s): the FPGA's provider is not there (FI_PROVIDER_PATH?)",
		     why);
	ret = fi_open_ops(&fp.dom.domain->fid, FI_FPGADMA_DOMAIN_OPS_1, 0, (void **)&fp.ops, NULL);
	if (ret || !fp.ops)
		die("fi_open_ops(%s): %d (%s)", FI_FPGADMA_DOMAIN_OPS_1, ret, fi_strerror(-ret));
	memset(&fp.fpga, 0, sizeof(fp.fpga));
	ret = fp.ops->query_fpga(fp.dom.domain, &fp.fpga);
	if (ret)
		die("query_fpga: %d (%s)", ret, fi_strerror(-ret));
	CALL(fi_cq_open(fp.dom.domain, &cq_attr, &fp.cq, NULL));
	CALL(fi_endpoint(fp.dom.domain, fp.dom.info, &fp.ep, NULL));
	CALL(fi_ep_bind(fp.ep, &fp.dom.av->fid, 0));
	CALL(fi_ep_bind(fp.ep, &fp.cq->fid, FI_TRANSMIT | FI_RECV));
	CALL(fi_enable(fp.ep));
	ret = fi_av_insert(fp.dom.av, fp.fpga.addr, 1, &fp.addr, 0, NULL);
	if (ret != 1)
		die("fi_av_insert of the FPGA: %d", ret);
	ft_log("FPGA: domain %s, /dev/fpgadma%u, engine %u, stream frames of %" PRIu64 " bytes",
	       fp.dom.info->domain_attr->name, fp.fpga.dev_index, fp.fpga.engine,
	       fp.fpga.frame_size);
	if (o.src == SRC_STREAM && fp.ops->size < FI_FPGADMA_OPS_DOMAIN_HAS(stream_release))
		skip("the provider's %s has no paced streams (size %zu): try --read",
		     FI_FPGADMA_DOMAIN_OPS_1, fp.ops->size);
	if (o.src == SRC_READ) {
		if (!fp.fpga.frame_size)
			skip("the FPGA has no frame stream (query_fpga: frame_size 0)");
		if (fp.fpga.frame_size % 8 || fp.fpga.frame_size > UINT32_MAX)
			die("the FPGA's frame_size %" PRIu64 " is not a multiple of 8",
			    fp.fpga.frame_size);
		o.frame_size = (uint32_t)fp.fpga.frame_size;
		if (o.slots < 3)
			die("--read: at least 3 slots (-w): the first read finds a frame start "
			    "in two frames and a bit");
	}
}

/* ---- the sender ---- */

struct fwd {
	uint64_t period;
	uint64_t posted;	/* frames handed to fi_send */
	uint64_t retired;	/* sends completed, oldest first */
	uint64_t inflight;
	uint64_t max_inflight;	/* sends in flight at most (run_sender) */
	bool *done;		/* per slot: its send completed, not retired yet */
	uint64_t taken;		/* frames of the source taken (sent or copied) */
	uint64_t released;	/* source slots handed back */
	/* the source: --no-fpga's stand-in device */
	uint64_t soft_written, soft_next_seq, soft_pending_lost, soft_drops, soft_t0;
	/* accounting */
	struct seen hdrs;	/* the frames' headers as sent */
	uint64_t bytes, last_progress_us, last_eq_us;
	uint64_t copied;	/* bytes of frames the CPU copied (--copy only) */
	struct fpgadma_stream_stats fin;
	uint64_t read_frames;
	bool read_synced;	/* --read: reads start at a frame now */
	/*
	 * Where the sender waited (run_sender's main loop): asleep on the
	 * CQ with max_inflight sends in flight (the network is the limit),
	 * asleep on the CQ with fewer in flight and no frame to send (the
	 * source is), napping with none in flight; fi_send's -FI_EAGAIN.
	 */
	uint64_t wait_full_us, wait_full_n, wait_src_us, wait_src_n, nap_us, nap_n;
	uint64_t eagain_n;
	int net_fd, fp_fd;	/* the CQs' wait fds, -1: none (wait_either) */
};

static uint8_t *slot_at(uint64_t idx)
{
	return ring + (idx % o.slots) * slot_size;
}

static uint8_t *cslot_at(uint64_t idx)
{
	return cbuf + (idx % o.slots) * slot_size;
}

/* --read: len bytes of the FPGA's stream at buf (in the ring), waited for. */
static void fpga_read(void *buf, size_t len)
{
	struct ft_op op = { .what = "fi_read of the FPGA's stream" };
	struct fi_cq_tagged_entry e;
	uint64_t t0 = ft_now_us();
	ssize_t r;

	do {
		r = fi_read(fp.ep, buf, len, fi_mr_desc(fp.mr), fp.addr, 0, fp.fpga.stream_key,
			    &op);
		if (r == -FI_EAGAIN)
			fi_cq_read(fp.cq, &e, 1);
	} while (r == -FI_EAGAIN && ft_now_us() - t0 < ft_opts.timeout_ms * 1000ULL);
	if (r)
		die("fi_read of %zu bytes of the FPGA's stream: %zd (%s)", len, r,
		    fi_strerror((int)-r));
	for (;;) {
		r = fi_cq_read(fp.cq, &e, 1);
		if (r == 1)
			break;
		if (r == -FI_EAVAIL) {
			struct fi_cq_err_entry err = { 0 };
			const char *str;

			fi_cq_readerr(fp.cq, &err, 0);
			str = fi_cq_strerror(fp.cq, err.prov_errno, err.err_data, NULL, 0);
			die("fi_read of the FPGA's stream completed with error %d (%s): %s", err.err,
			    fi_strerror(err.err), str ? str : "");
		}
		if (r != -FI_EAGAIN)
			die("fpgadma fi_cq_read: %zd (%s)", r, fi_strerror((int)-r));
		if (ft_now_us() - t0 > ft_opts.timeout_ms * 1000ULL)
			die("fi_read of the FPGA's stream: no completion within %u s",
			    ft_opts.timeout_ms / 1000);
	}
}

/* Frames of the source ready from index *first on. */
static uint64_t src_ready(struct fwd *w, uint64_t *first)
{
	uint64_t n, due;

	switch (o.src) {
	case SRC_STREAM:
		n = fp.ops->stream_ready(fp.ep, first);
		if (n && *first != w->released)
			die("stream_ready: frames from %" PRIu64 ", %" PRIu64 " handed back", *first,
			    w->released);
		return n;
	case SRC_SOFT:
		/* the frames due by now, each into a free slot or dropped */
		due = o.rate ? (now_ns() - w->soft_t0) / w->period + 1 : UINT64_MAX;
		while (w->soft_next_seq < due) {
			if (w->soft_written - w->released < o.slots) {
				soft_frame(slot_at(w->soft_written), o.frame_size, w->soft_next_seq,
					   w->soft_pending_lost, w->period);
				w->soft_pending_lost = 0;
				w->soft_written++;
			} else if (o.rate) {
				w->soft_pending_lost++;
				w->soft_drops++;
			} else {
				break;
			}
			w->soft_next_seq++;
		}
		*first = w->released;
		return w->soft_written - w->released;
	case SRC_READ:
		if (!w->read_synced) {
			/*
			 * The stream is the device's, read from anywhere
			 * before: find where it stands (a frame start in a
			 * read of two frames and a bit, into the ring, which
			 * holds at least three slots), then read up to the
			 * next frame's start.
			 */
			size_t sync_len = 2 * (size_t)o.frame_size + 24, skip;
			uint64_t pos;

			fpga_read(ring, sync_len);
			if (!ft_stream_find(ring, sync_len, o.frame_size, &pos))
				die("the FPGA's stream: the first %zu bytes read hold no frame start",
				    sync_len);
			skip = (size_t)((o.frame_size - (pos + sync_len) % o.frame_size) %
					o.frame_size);
			if (skip)
				fpga_read(ring, skip);
			w->read_synced = true;
		}
		/* one fi_read of a frame into the next free slot */
		if (w->soft_written - w->released < o.slots) {
			fpga_read(slot_at(w->soft_written), o.frame_size);
			w->soft_written++;
			w->read_frames++;
		}
		*first = w->released;
		return w->soft_written - w->released;
	}
	return 0;
}

static void src_release(struct fwd *w, uint64_t n)
{
	if (!n)
		return;
	if (o.src == SRC_STREAM)
		fp.ops->stream_release(fp.ep, n);
	w->released += n;
}

/* Send completions: retire the oldest, hand their slots back (zero copy). */
static bool reap(struct fwd *w, int timeout_ms)
{
	struct fi_cq_data_entry ents[32];
	ssize_t n, i;
	uint64_t k = 0;

	n = net_read_cq(ents, FT_ARRAY_SIZE(ents), timeout_ms, "forwarding");
	for (i = 0; i < n; i++) {
		struct ft_op *op = ents[i].op_context;

		if (!op || op < ops_ctx || op >= ops_ctx + o.slots)
			die("a send completion of an unknown context %p", (void *)op);
		w->done[op->id] = true;
		w->inflight--;
	}
	while (w->retired < w->posted && w->done[w->retired % o.slots]) {
		w->done[w->retired % o.slots] = false;
		w->retired++;
		k++;
	}
	if (k && !o.copy)
		src_release(w, k);
	if (n > 0)
		w->last_progress_us = ft_now_us();
	return n > 0;
}

/* The CQ's wait fd, or -1 when its wait object is not an fd. */
static int cq_wait_fd(struct fid_cq *cq)
{
	enum fi_wait_obj obj = FI_WAIT_NONE;
	int fd = -1;

	if (fi_control(&cq->fid, FI_GETWAITOBJ, &obj) || obj != FI_WAIT_FD ||
	    fi_control(&cq->fid, FI_GETWAIT, &fd))
		return -1;
	return fd;
}

/*
 * Sleep until a send completes or the FPGA writes a frame (its completion
 * makes the fpgadma CQ's fd readable), timeout_ms at most.  false when the
 * two CQs have no fds: the caller then sleeps on the network's CQ alone,
 * and a frame that comes meanwhile waits for the next send completion.
 */
static bool wait_either(struct fwd *w, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = w->net_fd, .events = POLLIN },
		{ .fd = w->fp_fd, .events = POLLIN },
	};
	struct fid *nf = &net.cq->fid, *ff = &fp.cq->fid;

	if (w->net_fd < 0 || w->fp_fd < 0)
		return false;
	/* each runs its provider's progress; -FI_EAGAIN: something is there */
	if (fi_trywait(net.fabric, &nf, 1) || fi_trywait(fp.dom.fabric, &ff, 1))
		return true;
	if (poll(pfd, 2, timeout_ms) < 0 && errno != EINTR)
		die("poll of the two CQs' fds: %s", strerror(errno));
	return true;
}

/* Send the frame of source index idx (zero copy) or a copy of it. */
static bool send_frame(struct fwd *w, uint64_t idx, const uint8_t *f)
{
	struct ft_op *op = &ops_ctx[w->posted % o.slots];
	const uint8_t *from = f;
	void *desc = fi_mr_desc(net.ring_mr);
	ssize_t r;

	if (w->posted - w->retired >= w->max_inflight)
		return false;
	/* the header says what was lost before it: read, not copied */
	if (o.src == SRC_READ) {
		/* word 0 only: the frame's number follows the last one's */
		uint64_t num = le64_at(f);

		if (w->hdrs.any && num != w->hdrs.last_seq + 1)
			die("frame %" PRIu64 " read from the FPGA is number %" PRIu64 ", after %" PRIu64
			    ": the reads do not follow each other", idx, num, w->hdrs.last_seq);
		w->hdrs.any = true;
		w->hdrs.last_seq = num;
		w->hdrs.frames++;
	} else {
		uint64_t seq = le64_at(HDR(f, seq)), lost = le64_at(HDR(f, lost_before));

		if (le32_at(HDR(f, magic)) != FPGADMA_FRAME_MAGIC ||
		    (w->hdrs.any && seq != w->hdrs.last_seq + 1 + lost))
			die("frame %" PRIu64 " from the %s: magic %#" PRIx32 ", seq %" PRIu64
			    ", lost_before %" PRIu64 " after seq %" PRIu64, idx,
			    o.src == SRC_SOFT ? "stand-in device" : "FPGA", le32_at(HDR(f, magic)),
			    seq, lost, w->hdrs.last_seq);
		if (!w->hdrs.any)
			w->hdrs.first_seq = seq;
		w->hdrs.any = true;
		w->hdrs.last_seq = seq;
		w->hdrs.lost += lost;
		w->hdrs.frames++;
	}
	if (o.copy) {
		uint8_t *c = cslot_at(w->posted);

		memcpy(c, f, o.frame_size);
		w->copied += o.frame_size;
		from = c;
		desc = fi_mr_desc(net.copy_mr);
	}
	*op = (struct ft_op){ .what = "fi_send", .id = (int)(w->posted % o.slots) };
	for (;;) {
		r = fi_send(net.ep, from, o.frame_size, desc, 0, op);
		if (r != -FI_EAGAIN)
			break;
		w->eagain_n++;
		reap(w, 0);
		check_signal();
		if (ft_now_us() - w->last_progress_us > ft_opts.timeout_ms * 1000ULL)
			die("fi_send: -FI_EAGAIN and no send completed within %u s (%" PRIu64
			    " in flight): is the link down?", ft_opts.timeout_ms / 1000, w->inflight);
	}
	if (r)
		die("fi_send of frame %" PRIu64 " (%" PRIu32 " bytes): %zd (%s)", idx, o.frame_size,
		    r, fi_strerror((int)-r));
	w->posted++;
	w->inflight++;
	w->bytes += o.frame_size;
	if (o.copy)
		src_release(w, 1);	/* the copy is the network's now */
	return true;
}

static void stalled(struct fwd *w)
{
	uint64_t now = ft_now_us();

	if (now - w->last_eq_us > 20000) {
		net_check_eq();
		w->last_eq_us = now;
	}
	if (now - w->last_progress_us > ft_opts.timeout_ms * 1000ULL) {
		if (w->inflight)
			die("no send completed within %u s (%" PRIu64 " in flight, %" PRIu64
			    " frames forwarded): is the link down?", ft_opts.timeout_ms / 1000,
			    w->inflight, w->retired);
		die("no frame came from the %s within %u s (%" PRIu64 " forwarded)",
		    o.src == SRC_SOFT ? "stand-in device" : "FPGA", ft_opts.timeout_ms / 1000,
		    w->retired);
	}
}

static int run_sender(void)
{
	struct fwd w;
	struct oob_msg m;
	uint64_t hello[H_NWORDS], end[E_NWORDS], first, n, k, t_start, t_end, t_stop, dev_drops;
	uint64_t produced = 0, trailing = 0, t_wait, t_loop;
	bool slept;
	int tmo;
	double u0, s0, u1, s1, cpu, secs, gb, rx_secs, rx_fps;
	size_t len;
	int ret;

	memset(&w, 0, sizeof(w));
	w.net_fd = w.fp_fd = -1;
	/* the other node first: it hears of a skip or failure here */
	oob_open();
	if (o.src != SRC_SOFT)
		fpga_open();
	if (o.frame_size < FPGADMA_FRAME_HDR_SIZE)
		die("frames of %" PRIu32 " bytes: shorter than their %d-byte header", o.frame_size,
		    FPGADMA_FRAME_HDR_SIZE);
	w.period = o.rate ? 1000000000ULL / o.rate : 1000;
	/* slots page-aligned: each frame on pages of its own */
	slot_size = ((size_t)o.frame_size + 4095) / 4096 * 4096;
	len = slot_size * o.slots;
	ring = ft_alloc_at(len, 0, &ring_base, &ring_map);
	memset(ring, 0, len);
	if (o.copy) {
		cbuf = ft_alloc_at(len, 0, &cbuf_base, &cbuf_map);
		memset(cbuf, 0, len);
	}
	ops_ctx = calloc(o.slots, sizeof(*ops_ctx));
	w.done = calloc(o.slots, sizeof(*w.done));
	if (!ops_ctx || !w.done)
		die("out of memory");
	if (o.src != SRC_SOFT) {
		/* the device writes the ring: fpgadma's registration */
		ret = ft_mr_reg(&fp.dom, NULL, ring, len,
				o.src == SRC_READ ? FI_READ : FI_RECV, 0, &fp.mr);
		if (ret)
			die("fi_mr_reg of the ring (%zu bytes) with fpgadma: %s", len, ft_strerr(ret));
	}

	hello[H_FRAME] = o.frame_size;
	hello[H_SLOTS] = o.slots;
	hello[H_PERIOD] = o.src == SRC_READ ? 0 : w.period;
	hello[H_SRC] = o.src;
	hello[H_COPY] = o.copy;
	oob_send(OOB_HELLO, hello, H_NWORDS, NULL);
	net_connect();
	if (net.info->ep_attr->max_msg_size < o.frame_size)
		skip("provider %s: max_msg_size %zu, frames of %" PRIu32 " bytes", ft_opts.prov,
		     net.info->ep_attr->max_msg_size, o.frame_size);
	/* the same pages, registered with the network: it sends from them */
	ret = reg_net(ring, len, FI_SEND, &net.ring_mr);
	if (ret)
		die("fi_mr_reg of the ring (%zu bytes) with %s: %s", len, ft_opts.prov,
		    ft_strerr(ret));
	if (o.copy) {
		ret = reg_net(cbuf, len, FI_SEND, &net.copy_mr);
		if (ret)
			die("fi_mr_reg of the copies (%zu bytes) with %s: %s", len, ft_opts.prov,
			    ft_strerr(ret));
	}
	ft_log("sender: %" PRIu64 " frames of %" PRIu32 " bytes, %s, a ring of %" PRIu32
	       " slots of %zu bytes registered with %s%s%s%s", o.frames, o.frame_size,
	       o.src == SRC_STREAM ? "the FPGA's paced stream (zero-copy ring)" :
	       o.src == SRC_READ ? "fi_read of the FPGA's stream" : "a stand-in device (--no-fpga)",
	       o.slots, slot_size, o.src == SRC_SOFT ? "" : "fpgadma and ", ft_opts.prov,
	       o.copy ? ", each frame copied into a send buffer of its own (--copy)" :
	       ", each frame sent from its slot (zero copy)",
	       o.src == SRC_READ ? "; as fast as the reads go" : "");
	oob_expect(&m, OOB_READY, "that its receives are posted");
	if (o.src == SRC_STREAM) {
		w.net_fd = cq_wait_fd(net.cq);
		w.fp_fd = cq_wait_fd(fp.cq);
		if (w.net_fd < 0 || w.fp_fd < 0)
			ft_log("sender: no wait fd of the %s CQ: waiting for frames on the network's "
			       "CQ (a frame that comes meanwhile waits for a send completion)",
			       w.net_fd < 0 ? ft_opts.prov : "fpgadma");
	}
	/*
	 * Sends in flight: at most half the slots, the transmit queue's
	 * depth and half the receives the peer posted.  A send that finds no
	 * receive waits for the peer (over verbs a receiver-not-ready retry,
	 * with its timer); the half leaves the peer receives posted while it
	 * checks frames and posts their receives again.  The other slots are
	 * where the source writes ahead while the network is busy: with
	 * every slot a send in flight (zero copy) the device finds none free
	 * when a send completes, and the sender then waits for the device as
	 * much as for the network (measured over verbs, 64 KiB frames, 128
	 * slots, all in flight: asleep with fewer in flight and no frame to
	 * send 3.1 s of 4).  (Over verbs, 4 KiB frames, 1024 slots: 384 in
	 * flight against 384 receives forwarded at 0.59 of the network's
	 * limit, 192 at 0.70 and 0.88 in two boots.)
	 */
	w.max_inflight = FT_MIN(FT_MIN(FT_MAX((uint64_t)o.slots / 2, (uint64_t)1),
				       (uint64_t)net.info->tx_attr->size),
				FT_MAX(m.v[0] / 2, (uint64_t)1));
	if (!w.max_inflight)
		die("provider %s: a transmit queue of 0", ft_opts.prov);
	ft_log("sender: at most %" PRIu64 " sends in flight (%" PRIu32 " slots, a transmit queue of "
	       "%zu, %" PRIu64 " receives posted by the peer)", w.max_inflight, o.slots,
	       net.info->tx_attr->size, m.v[0]);

	cpu_secs(&u0, &s0);
	t_start = ft_now_us();
	w.last_progress_us = w.last_eq_us = t_start;
	if (o.src == SRC_STREAM) {
		memset(&fp.a, 0, sizeof(fp.a));
		fp.a.flags = FI_FPGADMA_STREAM_ZC;
		fp.a.mr = fp.mr;
		fp.a.ring_offset = 0;
		fp.a.slot_size = (uint32_t)slot_size;
		fp.a.nslots = o.slots;
		fp.a.frame_size = o.frame_size;
		fp.a.frame_period_ns = w.period;
		ret = fp.ops->stream_start(fp.ep, &fp.a);
		if (ret == -FI_EOPNOTSUPP)
			skip("the FPGA has no paced streams (stream_start: %s): try --read",
			     fi_strerror(-ret));
		if (ret)
			die("stream_start (zero copy, %" PRIu32 " slots of %zu bytes, frames of %"
			    PRIu32 " bytes every %" PRIu64 " ns): %d (%s)", o.slots, slot_size,
			    o.frame_size, w.period, ret, fi_strerror(-ret));
		fp.streaming = true;
		ft_log("stream: frames of %" PRIu32 " bytes every %" PRIu64 " ns, FIFO %" PRIu32
		       " frames", fp.a.frame_size, (uint64_t)fp.a.frame_period_ns, fp.a.fifo_frames);
	}
	w.soft_t0 = now_ns();
	t_stop = o.secs > 0 ? t_start + (uint64_t)(o.secs * 1e6) : UINT64_MAX;
	while (w.taken < o.frames && ft_now_us() < t_stop) {
		bool busy = reap(&w, 0);

		check_signal();
		n = src_ready(&w, &first);
		for (k = w.taken - first; k < n && w.taken < o.frames; k++) {
			if (!send_frame(&w, w.taken, o.src == SRC_STREAM ?
					(const uint8_t *)fp.ops->stream_slot(fp.ep, w.taken) :
					slot_at(w.taken)))
				break;
			w.taken++;
			busy = true;
		}
		if (busy)
			continue;
		stalled(&w);
		/*
		 * Nothing to do: sleep until a send completes (the CQ's wait
		 * object) or, with fewer sends in flight than allowed, the FPGA
		 * writes a frame (the fpgadma CQ's fd, polled with the
		 * network's); at the latest until the next frame is due (at
		 * least 1 ms: fi_cq_sread's unit; the ring and the device's
		 * FIFO hold the frames meanwhile).
		 */
		t_wait = ft_now_us();
		tmo = (int)FT_MAX(w.period / 1000000ULL, 1ULL);
		if (w.inflight && w.posted - w.retired >= w.max_inflight) {
			/* the network is the limit: a send completion first */
			reap(&w, tmo);
			w.wait_full_us += ft_now_us() - t_wait;
			w.wait_full_n++;
			continue;
		}
		/* no frame: the FPGA's next one, or a send completion */
		slept = o.src == SRC_STREAM && wait_either(&w, tmo);
		if (!slept && w.inflight) {
			reap(&w, tmo);
			slept = true;
		}
		if (slept) {
			w.wait_src_us += ft_now_us() - t_wait;
			w.wait_src_n++;
		} else {
			nap_ns(FT_MAX(FT_MIN(w.period, 1000000ULL), 20000ULL));
			w.nap_us += ft_now_us() - t_wait;
			w.nap_n++;
		}
	}
	t_loop = ft_now_us();
	/* the end: stop the stream; what the device wrote after is forwarded too */
	if (o.src == SRC_STREAM) {
		ret = fp.ops->stream_stop(fp.ep, 0, &w.fin);
		fp.streaming = false;
		if (ret)
			die("stream_stop: %d (%s)", ret, fi_strerror(-ret));
		if (w.fin.write_idx < w.taken || w.fin.write_idx - w.released > o.slots)
			die("stream_stop: write index %" PRIu64 ", %" PRIu64 " frames taken, %" PRIu64
			    " handed back", (uint64_t)w.fin.write_idx, w.taken, w.released);
		while (w.taken < w.fin.write_idx) {
			if (send_frame(&w, w.taken, slot_at(w.taken))) {
				w.taken++;
				continue;
			}
			if (!reap(&w, 0)) {
				stalled(&w);
				nap_ns(20000);
			}
		}
	} else if (o.src == SRC_SOFT) {
		while (w.taken < w.soft_written) {
			if (send_frame(&w, w.taken, slot_at(w.taken))) {
				w.taken++;
				continue;
			}
			if (!reap(&w, 0)) {
				stalled(&w);
				nap_ns(20000);
			}
		}
	}
	while (w.inflight) {
		if (!reap(&w, 0)) {
			stalled(&w);
			nap_ns(20000);
		}
	}
	t_end = ft_now_us();
	cpu_secs(&u1, &s1);
	cpu = (u1 - u0) + (s1 - s0);

	/* every loss accounted for: the headers' and those after the last frame */
	if (o.src == SRC_STREAM) {
		produced = w.fin.frames - w.fin.fifo_level;
		if (w.hdrs.any && produced >= w.hdrs.last_seq + 1)
			trailing = produced - (w.hdrs.last_seq + 1);
		dev_drops = w.fin.drops;
		ft_check(w.fin.frames_delivered == w.taken,
			 "the device delivered %" PRIu64 " frames into the ring, %" PRIu64 " forwarded",
			 (uint64_t)w.fin.frames_delivered, w.taken);
	} else {
		dev_drops = w.soft_drops;
		if (w.hdrs.any)
			trailing = w.soft_next_seq - (w.hdrs.last_seq + 1);
	}
	ft_check(w.hdrs.lost + trailing == dev_drops,
		 "losses: %" PRIu64 " reported by the frames' headers + %" PRIu64 " produced after "
		 "the last frame forwarded; the device dropped %" PRIu64, w.hdrs.lost, trailing,
		 dev_drops);

	end[E_FRAMES] = w.retired;
	end[E_BYTES] = w.bytes;
	end[E_LOST] = w.hdrs.lost;
	end[E_LAST_SEQ] = w.hdrs.last_seq;
	end[E_DEV_DROPS] = dev_drops;
	oob_send(OOB_END, end, E_NWORDS, NULL);
	oob_expect(&m, OOB_VERDICT, "its verdict");

	secs = (double)(t_end - t_start) / 1e6;
	gb = (double)w.bytes / 1e9;
	ft_check(m.v[V_FRAMES] == w.retired, "the peer received %" PRIu64 " frames, %" PRIu64
		 " were sent", m.v[V_FRAMES], w.retired);
	ft_check(m.v[V_VERIFIED] == w.retired && !m.v[V_BAD], "the peer verified %" PRIu64
		 " of %" PRIu64 " frames (%" PRIu64 " wrong): %s", m.v[V_VERIFIED], w.retired,
		 m.v[V_BAD], m.text);
	ft_check(m.v[V_LOST] == w.hdrs.lost, "the peer counts %" PRIu64 " frames lost between "
		 "those it received, the sender %" PRIu64, m.v[V_LOST], w.hdrs.lost);

	printf("%-10s %-8s %-10s %-9s %-9s %-8s %-10s %-10s %-10s %-14s %s\n", "bytes",
	       "frames", "frames/s", "MB/sec", "lost", "secs", "cpu-s/GB", "user-s/GB", "sys-s/GB",
	       "copied-B/frame", "mode");
	printf("%-10" PRIu32 " %-8" PRIu64 " %-10.0f %-9.2f %-9" PRIu64 " %-8.2f %-10.3f %-10.3f "
	       "%-10.3f %-14" PRIu64 " %s\n", o.frame_size, w.retired,
	       secs > 0 ? (double)w.retired / secs : 0.0,
	       secs > 0 ? (double)w.bytes / secs / 1e6 : 0.0, w.hdrs.lost + trailing, secs,
	       gb > 0 ? cpu / gb : 0.0, gb > 0 ? (u1 - u0) / gb : 0.0,
	       gb > 0 ? (s1 - s0) / gb : 0.0, w.retired ? w.copied / w.retired : 0,
	       o.copy ? "copy" : "zero-copy");
	ft_log("forwarded %" PRIu64 " frames (%" PRIu64 " bytes) in %.2f s: %.0f frames/s, "
	       "%.2f MB/s; the peer received %" PRIu64 ", verified %" PRIu64 "; lost %" PRIu64
	       " (stream drops: %" PRIu64 " reported by the frames, %" PRIu64 " after the last; "
	       "device %" PRIu64 "); CPU on this node %.3f s (user %.3f, system %.3f) = %.3f s "
	       "per GB (%s, %s)", w.retired, w.bytes, secs,
	       secs > 0 ? (double)w.retired / secs : 0.0,
	       secs > 0 ? (double)w.bytes / secs / 1e6 : 0.0, m.v[V_FRAMES], m.v[V_VERIFIED],
	       w.hdrs.lost + trailing, w.hdrs.lost, trailing, dev_drops, cpu, u1 - u0, s1 - s0,
	       gb > 0 ? cpu / gb : 0.0, o.copy ? "copying" : "zero copy", ft_opts.prov);
	if (o.src == SRC_STREAM)
		ft_log("device: %" PRIu64 " frames produced, %" PRIu64 " delivered, %" PRIu64
		       " dropped, FIFO high-water mark %" PRIu32 " of %" PRIu32,
		       (uint64_t)w.fin.frames, (uint64_t)w.fin.frames_delivered,
		       (uint64_t)w.fin.drops, w.fin.fifo_hwm, w.fin.fifo_frames);
	ft_log("sender: of its %.2f s streaming, asleep %.3f s on the CQ with %" PRIu64
	       " sends in flight (%" PRIu64 " times), %.3f s on the CQ with fewer and no frame "
	       "to send (%" PRIu64 " times), %.3f s napping with none in flight (%" PRIu64
	       " times); fi_send -FI_EAGAIN %" PRIu64 " times", (double)(t_loop - t_start) / 1e6,
	       (double)w.wait_full_us / 1e6, w.max_inflight, w.wait_full_n,
	       (double)w.wait_src_us / 1e6, w.wait_src_n, (double)w.nap_us / 1e6, w.nap_n,
	       w.eagain_n);
	/*
	 * The same figures as one line of key=value words, for scripts
	 * (bench/guest-bench.sh): the rate is the receiver's, frames verified
	 * at the other node over the time from its first frame to its last
	 * (n frames, n - 1 intervals); produced is what the source made in
	 * all (the FPGA's frames, or the stand-in's), lost of them the frames
	 * that never reached the ring.
	 */
	rx_secs = (double)m.v[V_USEC] / 1e6;
	rx_fps = m.v[V_VERIFIED] > 1 && rx_secs > 0 ? (double)(m.v[V_VERIFIED] - 1) / rx_secs : 0.0;
	printf("forward-result: prov=%s mode=%s frame=%" PRIu32 " slots=%" PRIu32 " rate=%" PRIu64 " frames=%"
	       PRIu64 " verified=%" PRIu64 " bytes=%" PRIu64 " secs=%.3f rx_secs=%.3f"
	       " rx_frames_per_s=%.1f rx_MBps=%.3f tx_MBps=%.3f produced=%" PRIu64 " lost=%"
	       PRIu64 " cpu_s_per_GB=%.4f user_s_per_GB=%.4f sys_s_per_GB=%.4f"
	       " copied_per_frame=%" PRIu64 " stream_secs=%.3f wait_full_secs=%.3f"
	       " wait_src_secs=%.3f nap_secs=%.3f eagain=%" PRIu64 "\n", ft_opts.prov, o.copy ? "copy" : "zero-copy",
	       o.frame_size, o.slots, o.src == SRC_READ ? 0 : o.rate, w.retired, m.v[V_VERIFIED], w.bytes,
	       secs, rx_secs, rx_fps, rx_fps * o.frame_size / 1e6,
	       secs > 0 ? (double)w.bytes / secs / 1e6 : 0.0,
	       o.src == SRC_STREAM ? produced : o.src == SRC_SOFT ? w.soft_next_seq : w.retired,
	       w.hdrs.lost + trailing,
	       gb > 0 ? cpu / gb : 0.0, gb > 0 ? (u1 - u0) / gb : 0.0,
	       gb > 0 ? (s1 - s0) / gb : 0.0, w.retired ? w.copied / w.retired : 0,
	       (double)(t_loop - t_start) / 1e6, (double)w.wait_full_us / 1e6,
	       (double)w.wait_src_us / 1e6, (double)w.nap_us / 1e6, w.eagain_n);
	ft_check(w.retired > 0, "no frame was forwarded");
	free(w.done);
	cleanup();
	return ft_finish("%" PRIu64 " frames of %" PRIu32 " bytes forwarded over %s (%s) and "
			 "verified by the peer, %" PRIu64 " lost and accounted for", w.retired,
			 o.frame_size, ft_opts.prov, o.copy ? "copying" : "zero copy",
			 w.hdrs.lost + trailing);
}

/* ---- the receiver ---- */

static void post_rx(uint32_t i)
{
	ssize_t r;

	ops_ctx[i] = (struct ft_op){ .what = "fi_recv", .id = (int)i };
	r = fi_recv(net.ep, ring + i * slot_size, slot_size, fi_mr_desc(net.ring_mr), 0,
		    &ops_ctx[i]);
	if (r)
		die("fi_recv of slot %" PRIu32 ": %zd (%s)", i, r, fi_strerror((int)-r));
}

static int run_receiver(void)
{
	struct oob_msg m;
	struct seen s = { 0 };
	struct fi_cq_data_entry ents[32];
	uint64_t expect = UINT64_MAX, bytes = 0, bad = 0, t_first = 0, t_last = 0, last_us;
	uint64_t frames = 0, verdict[V_NWORDS], period, end_lost = 0, dev_drops = 0;
	uint32_t i, fs;
	char why[256] = "", first_bad[256] = "";
	enum source src;
	size_t len;
	double secs;
	ssize_t n, k;
	int ret;

	oob_open();
	oob_expect(&m, OOB_HELLO, "the frames' geometry");
	fs = (uint32_t)m.v[H_FRAME];
	period = m.v[H_PERIOD];
	src = (enum source)m.v[H_SRC];
	if (fs < 8 || m.v[H_SLOTS] == 0 || m.v[H_SLOTS] > MAX_SLOTS || src < SRC_STREAM ||
	    src > SRC_SOFT)
		die("the sender's geometry: frames of %" PRIu64 " bytes, %" PRIu64 " slots, source %"
		    PRIu64, m.v[H_FRAME], m.v[H_SLOTS], m.v[H_SRC]);
	if (!o.rx_slots)
		o.rx_slots = (uint32_t)FT_MIN(2 * m.v[H_SLOTS], (uint64_t)MAX_SLOTS);
	net_connect();
	if (net.info->rx_attr->size < o.rx_slots)
		o.rx_slots = (uint32_t)net.info->rx_attr->size;
	slot_size = fs;
	len = slot_size * o.rx_slots;
	ring = ft_alloc_at(len, 0, &ring_base, &ring_map);
	ops_ctx = calloc(o.rx_slots, sizeof(*ops_ctx));
	if (!ops_ctx)
		die("out of memory");
	ret = reg_net(ring, len, FI_RECV, &net.ring_mr);
	if (ret)
		die("fi_mr_reg of the receive ring (%zu bytes) with %s: %s", len, ft_opts.prov,
		    ft_strerr(ret));
	for (i = 0; i < o.rx_slots; i++)
		post_rx(i);
	ft_log("receiver: frames of %" PRIu32 " bytes (%s%s), %" PRIu32 " receives posted", fs,
	       src == SRC_STREAM ? "the FPGA's paced stream" :
	       src == SRC_READ ? "fi_read of the FPGA's stream" : "a stand-in device",
	       m.v[H_COPY] ? ", the sender copies" : ", zero copy at the sender", o.rx_slots);
	{
		uint64_t posted = o.rx_slots;

		oob_send(OOB_READY, &posted, 1, NULL);
	}

	last_us = ft_now_us();
	while (frames < expect) {
		check_signal();
		n = net_read_cq(ents, FT_ARRAY_SIZE(ents), 100, "receiving");
		for (k = 0; k < n; k++) {
			struct ft_op *op = ents[k].op_context;
			const uint8_t *f;
			bool ok;

			if (!op || op < ops_ctx || op >= ops_ctx + o.rx_slots)
				die("a receive completion of an unknown context %p", (void *)op);
			f = ring + (size_t)op->id * slot_size;
			if (!t_first)
				t_first = ft_now_us();
			frames++;
			bytes += ents[k].len;
			if (src == SRC_READ)
				ok = check_read_frame(&s, f, ents[k].len, fs, why, sizeof(why));
			else
				ok = check_stream_frame(&s, f, ents[k].len, fs, period, why,
							sizeof(why));
			if (!ok) {
				if (!bad++)
					snprintf(first_bad, sizeof(first_bad), "frame %" PRIu64
						 " received: %s", frames - 1, why);
				ft_error("frame %" PRIu64 " received: %s", frames - 1, why);
				if (bad >= 10)
					die("10 wrong frames: the stream is broken");
			}
			post_rx((uint32_t)op->id);
		}
		if (n > 0) {
			last_us = t_last = ft_now_us();
			continue;
		}
		if (expect == UINT64_MAX && oob_recv(&m, 0, "the totals")) {
			if (m.type != OOB_END)
				die("the out-of-band socket: message %u while receiving", m.type);
			expect = m.v[E_FRAMES];
			end_lost = m.v[E_LOST];
			dev_drops = m.v[E_DEV_DROPS];
			last_us = ft_now_us();
			continue;
		}
		net_check_eq();
		if (ft_now_us() - last_us > ft_opts.timeout_ms * 1000ULL)
			die("no frame within %u s (%" PRIu64 " received%s): is the link down?",
			    ft_opts.timeout_ms / 1000, frames,
			    expect == UINT64_MAX ? ", the sender has not ended" : "");
	}
	if (frames > expect)
		ft_error("%" PRIu64 " frames received, the sender sent %" PRIu64, frames, expect);
	ft_check(s.lost == end_lost, "the received frames report %" PRIu64 " lost before them, "
		 "the sender counted %" PRIu64, s.lost, end_lost);
	secs = t_last > t_first ? (double)(t_last - t_first) / 1e6 : 0.0;
	verdict[V_FRAMES] = frames;
	verdict[V_VERIFIED] = s.frames;
	verdict[V_BYTES] = bytes;
	verdict[V_LOST] = s.lost;
	verdict[V_BAD] = bad;
	verdict[V_USEC] = t_last - t_first;
	oob_send(OOB_VERDICT, verdict, V_NWORDS, bad ? first_bad : "all frames right");
	printf("%-10s %-8s %-10s %-9s %-9s %-8s\n", "bytes", "frames", "frames/s", "MB/sec",
	       "lost", "secs");
	printf("%-10" PRIu32 " %-8" PRIu64 " %-10.0f %-9.2f %-9" PRIu64 " %-8.2f\n", fs, frames,
	       secs > 0 ? (double)frames / secs : 0.0, secs > 0 ? (double)bytes / secs / 1e6 : 0.0,
	       s.lost, secs);
	ft_log("received %" PRIu64 " frames (%" PRIu64 " bytes), verified %" PRIu64 ", wrong %"
	       PRIu64 "; lost before them %" PRIu64 " (the sender's device dropped %" PRIu64
	       " in all)", frames, bytes, s.frames, bad, s.lost, dev_drops);
	ft_check(frames > 0, "no frame was received");
	cleanup();
	return ft_finish("%" PRIu64 " frames of %" PRIu32 " bytes received over %s, every one "
			 "verified, %" PRIu64 " lost before them as the sender counted", s.frames,
			 fs, ft_opts.prov, s.lost);
}

/* ---- main ---- */

static const char usage[] =
	"usage: fpga_forward [options] [NODE]\n"
	"  -p PROVIDER   the network: tcp or verbs (FI_EP_MSG; default tcp)\n"
	"  -s            listen (the server) instead of connecting to NODE\n"
	"  -P PORT       the out-of-band TCP port (default 47591)\n"
	"  --send, --recv  this node's role (default: the server receives)\n"
	"  -f BYTES      frame size (default 65536)\n"
	"  -n FRAMES     frames to forward (default 2000)\n"
	"  -t SECONDS    forward at most this long (default: until -n)\n"
	"  -r RATE       the stream's frames per second (default 1000; 0 with\n"
	"                --no-fpga: as fast as slots are free)\n"
	"  -w SLOTS      frame slots of the sender's ring (default 32)\n"
	"  -R SLOTS      receives the receiver posts (default twice -w)\n"
	"  --copy        memcpy each frame into a send buffer (the comparison)\n"
	"  --read        frames by fi_read of the FPGA's stream, not the paced stream\n"
	"  --no-fpga     a stand-in device writes the frames (no fpgadma needed)\n"
	"  -T SECONDS    time limit of a step (default 10, times\n"
	"                $FPGADMA_TEST_TIME_SCALE)\n"
	"  -v            more output\n";

static uint64_t num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "fpga_forward: %s: not a number: %s\n%s", what, s, usage);
		exit(FT_FAIL);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "send", no_argument, NULL, 1 },
		{ "recv", no_argument, NULL, 2 },
		{ "copy", no_argument, NULL, 3 },
		{ "read", no_argument, NULL, 4 },
		{ "no-fpga", no_argument, NULL, 5 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned int secs = 10, scale = 1;
	const char *env;
	int c;

	ft_opts.prog = "fpga_forward";
	ft_opts.prov = "tcp";
	while ((c = getopt_long(argc, argv, "p:sP:f:n:t:r:w:R:T:vh", longs, NULL)) != -1) {
		switch (c) {
		case 'p': ft_opts.prov = optarg; break;
		case 's': o.server = true; break;
		case 'P': o.port = (unsigned int)num(optarg, "-P"); break;
		case 'f': o.frame_size = (uint32_t)num(optarg, "-f"); break;
		case 'n': o.frames = num(optarg, "-n"); break;
		case 't': o.secs = atof(optarg); break;
		case 'r': o.rate = num(optarg, "-r"); break;
		case 'w': o.slots = (uint32_t)num(optarg, "-w"); break;
		case 'R': o.rx_slots = (uint32_t)num(optarg, "-R"); break;
		case 'T': secs = (unsigned int)num(optarg, "-T"); break;
		case 'v': ft_opts.verbose++; break;
		case 1: o.role = ROLE_SEND; break;
		case 2: o.role = ROLE_RECV; break;
		case 3: o.copy = true; break;
		case 4: o.src = SRC_READ; break;
		case 5: o.src = SRC_SOFT; break;
		case 'h': fputs(usage, stdout); return FT_PASS;
		default: fputs(usage, stderr); return FT_FAIL;
		}
	}
	if (optind < argc)
		o.node = argv[optind++];
	if (optind != argc || o.server == !!o.node || !secs || !o.slots || o.slots > MAX_SLOTS ||
	    o.rx_slots > MAX_SLOTS || !o.port || o.port > 65535 || !o.frames ||
	    (!o.rate && o.src != SRC_SOFT) || (o.rate && 1000000000ULL / o.rate == 0)) {
		fprintf(stderr, "fpga_forward: %s\n%s", o.server == !!o.node ?
			"give either -s or the server's NODE" : "bad arguments", usage);
		return FT_FAIL;
	}
	if (strchr(ft_opts.prov, ';')) {
		fprintf(stderr, "fpga_forward: -p %s: a core provider (tcp, verbs): its FI_EP_MSG "
			"endpoints carry the frames\n", ft_opts.prov);
		return FT_FAIL;
	}
	env = getenv("FPGADMA_TEST_TIME_SCALE");
	if (env && atoi(env) > 0)
		scale = (unsigned int)atoi(env);
	ft_opts.timeout_ms = secs * 1000 * scale;
	sender = o.role == ROLE_SEND || (o.role == ROLE_DEFAULT && !o.server);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	ft_log("fpga_forward: %s, %s, network provider %s", sender ? "the sender" : "the receiver",
	       o.server ? "listening" : "connecting", ft_opts.prov);
	return sender ? run_sender() : run_receiver();
}
