// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A fake fpgadma device for host tests; see fakedev.h.
 *
 * The kernel's side is modelled from include/uapi/fpgadma-abi.h only; where
 * the ABI leaves a choice (the errno of DEREG_MR on an unknown key, nsegs)
 * the fake picks something plausible, and tests do not depend on it.
 */
#undef _FILE_OFFSET_BITS	/* we define open/open64 and mmap/mmap64 ourselves */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* configure passes it too */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fakedev.h"

#define FAKE_CTXS	16
#define FAKE_MRS	64
#define HEAD_OFF	0
#define TAIL_OFF	64
#define FLAGS_OFF	128
#define CQES_OFF	256
#define FAKE_STREAMS	8	/* most max_streams the fake takes */
#define CTRL_PAGE	4096
#define DEFAULT_FRAME	256
#define DEFAULT_FIFO	8
#define DEFAULT_PERIOD	1000000

struct fake_mr {
	bool live;
	uint32_t lkey, rkey, access;
	uint64_t addr, length;
};

struct fake_stream {
	bool used;		/* the id is taken (until STREAM_STOP) */
	bool running;
	bool reserved;		/* holds a completion slot */
	uint32_t lkey;
	uint64_t base;		/* slot 0's address */
	uint32_t slot_size, nslots, frame_size, fifo_frames, cqe_every;
	uint64_t period, user_data;
	uint64_t seq, delivered, bytes, drops, lost_pending;
	uint32_t since_cqe;
	uint64_t bytes_since_cqe;
	uint32_t state, end;
};

struct fake_ctx {
	bool open;
	int fd;
	pid_t owner;
	void *ring;
	size_t ring_size;
	uint32_t entries;
	struct fake_mr mr[FAKE_MRS];
	/* paced streams (cfg.max_streams): the area is the memfd from
	 * stream_off, after the ring */
	void *stream_area;
	size_t stream_size;
	off_t stream_off;
	uint32_t max_streams;
	uint32_t cq_reserved;	/* completion slots the streams hold */
	struct fake_stream streams[FAKE_STREAMS];
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fakedev_config cfg;
static bool cfg_set;
static struct fake_ctx ctxs[FAKE_CTXS];
static unsigned char *dev_mem;
static uint64_t dev_mem_size;
static uint64_t stream_pos;
static uint64_t pinned;
static uint32_t next_key = 0x100;
static unsigned long n_live_mrs, n_ioctls, n_eacces, n_live_streams;
static int eintr_left, stop_eintr;

static void config_from_env(struct fakedev_config *c)
{
	static const struct {
		const char *name;
		size_t off, size;
	} fields[] = {
#define FIELD(f) { #f, offsetof(struct fakedev_config, f), sizeof(c->f) }
		FIELD(abi_version), FIELD(cq_entries), FIELD(max_sge),
		FIELD(max_post), FIELD(dev_mem_size), FIELD(frame_size),
		FIELD(max_mr_size), FIELD(memlock), FIELD(start_index),
		FIELD(bad_layout), FIELD(corrupt), FIELD(stream_start),
		FIELD(max_streams), FIELD(stop_einval),
#undef FIELD
	};
	const char *env = getenv("FAKEDEV_CONFIG");
	char *copy, *item, *save = NULL;
	size_t i;

	if (!env || !(copy = strdup(env)))
		return;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		unsigned long long v;

		if (!eq)
			continue;
		*eq = '\0';
		v = strtoull(eq + 1, NULL, 0);
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (strcmp(item, fields[i].name))
				continue;
			if (fields[i].size == 8) {
				uint64_t v64 = v;

				memcpy((char *)c + fields[i].off, &v64, 8);
			} else {
				uint32_t v32 = (uint32_t)v;	/* int fields are 4 bytes too */

				memcpy((char *)c + fields[i].off, &v32, 4);
			}
		}
	}
	free(copy);
}

void fakedev_config_default(struct fakedev_config *c)
{
	memset(c, 0, sizeof(*c));
	c->path = "/dev/fpgadma0";
	c->abi_version = FPGADMA_ABI_VERSION;
	c->cq_entries = 64;
	c->max_sge = 4;
	c->max_post = 8;
	c->dev_mem_size = 16u << 20;
	c->frame_size = 4096;
	c->max_mr_size = 1ull << 30;
	c->memlock = 64u << 20;
	config_from_env(c);
}

void fakedev_configure(const struct fakedev_config *c)
{
	pthread_mutex_lock(&fake_lock);
	cfg = *c;
	cfg_set = true;
	pthread_mutex_unlock(&fake_lock);
}

static void ensure_cfg(void)
{
	if (!cfg_set) {
		fakedev_config_default(&cfg);
		cfg_set = true;
	}
}

unsigned long fakedev_live_mrs(void)
{
	return __atomic_load_n(&n_live_mrs, __ATOMIC_SEQ_CST);
}

unsigned long fakedev_ioctls(void)
{
	return __atomic_load_n(&n_ioctls, __ATOMIC_SEQ_CST);
}

unsigned long fakedev_eacces(void)
{
	return __atomic_load_n(&n_eacces, __ATOMIC_SEQ_CST);
}

void fakedev_inject_eintr(int n)
{
	__atomic_store_n(&eintr_left, n, __ATOMIC_SEQ_CST);
}

unsigned long fakedev_live_streams(void)
{
	return __atomic_load_n(&n_live_streams, __ATOMIC_SEQ_CST);
}

void fakedev_inject_stop_eintr(void)
{
	__atomic_store_n(&stop_eintr, 1, __ATOMIC_SEQ_CST);
}

static struct fake_ctx *find_ctx(int fd)
{
	int i;

	for (i = 0; i < FAKE_CTXS; i++)
		if (ctxs[i].open && ctxs[i].fd == fd)
			return &ctxs[i];
	return NULL;
}

static uint32_t *ring_u32(struct fake_ctx *c, size_t off)
{
	return (uint32_t *)((char *)c->ring + off);
}

static struct fpgadma_cqe *ring_cqe(struct fake_ctx *c, uint32_t index)
{
	return (struct fpgadma_cqe *)((char *)c->ring + CQES_OFF) +
		(index & (c->entries - 1));
}

/* ---- the producer ---- */

static int produce(struct fake_ctx *c, const struct fpgadma_cqe *cqe)
{
	uint32_t head = __atomic_load_n(ring_u32(c, HEAD_OFF), __ATOMIC_ACQUIRE);
	uint32_t tail = __atomic_load_n(ring_u32(c, TAIL_OFF), __ATOMIC_RELAXED);

	if (tail - head >= c->entries) {
		__atomic_fetch_or(ring_u32(c, FLAGS_OFF), FPGADMA_RING_OVERFLOW,
				  __ATOMIC_RELEASE);
		return -1;
	}
	*ring_cqe(c, tail) = *cqe;
	__atomic_store_n(ring_u32(c, TAIL_OFF), tail + 1, __ATOMIC_RELEASE);
	return 0;
}

int fakedev_produce(int fd, const struct fpgadma_cqe *cqe)
{
	struct fake_ctx *c;
	int ret = -1;

	pthread_mutex_lock(&fake_lock);
	c = find_ctx(fd);
	if (c) {
		/* a full ring is not an overflow here: the test just retries */
		uint32_t head = __atomic_load_n(ring_u32(c, HEAD_OFF), __ATOMIC_ACQUIRE);
		uint32_t tail = __atomic_load_n(ring_u32(c, TAIL_OFF), __ATOMIC_RELAXED);

		if (tail - head < c->entries)
			ret = produce(c, cqe);
	}
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

void fakedev_set_overflow(int fd)
{
	struct fake_ctx *c;

	pthread_mutex_lock(&fake_lock);
	c = find_ctx(fd);
	if (c)
		__atomic_fetch_or(ring_u32(c, FLAGS_OFF), FPGADMA_RING_OVERFLOW,
				  __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fake_lock);
}

/* ---- open and close ---- */

static int fake_open(void)
{
	struct fake_ctx *c = NULL;
	size_t size;
	void *ring;
	int i, fd;

	ensure_cfg();
	for (i = 0; i < FAKE_CTXS; i++)
		if (!ctxs[i].open)
			c = &ctxs[i];
	if (!c) {
		errno = EMFILE;
		return -1;
	}
	if (!dev_mem) {
		dev_mem_size = cfg.dev_mem_size;
		stream_pos = cfg.stream_start;
		dev_mem = calloc(1, dev_mem_size ? dev_mem_size : 1);
		if (!dev_mem) {
			errno = ENOMEM;
			return -1;
		}
	}

	size = CQES_OFF + (size_t)cfg.cq_entries * sizeof(struct fpgadma_cqe);
	size = (size + 4095) & ~(size_t)4095;
	fd = (int)syscall(SYS_memfd_create, "fakedev-ring", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size)) {
		syscall(SYS_close, fd);
		return -1;
	}
	ring = (void *)syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		syscall(SYS_close, fd);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	if (cfg.max_streams) {
		/* the stream area: the memfd from the next MiB past the ring
		 * (sparse), one control block per page */
		c->max_streams = cfg.max_streams < FAKE_STREAMS ? cfg.max_streams : FAKE_STREAMS;
		c->stream_off = (off_t)((size + (1u << 20) - 1) & ~(size_t)((1u << 20) - 1));
		c->stream_size = (size_t)c->max_streams * CTRL_PAGE;
		if (ftruncate(fd, c->stream_off + (off_t)c->stream_size)) {
			syscall(SYS_munmap, ring, size);
			syscall(SYS_close, fd);
			return -1;
		}
		c->stream_area = (void *)syscall(SYS_mmap, NULL, c->stream_size,
						 PROT_READ | PROT_WRITE, MAP_SHARED,
						 fd, c->stream_off);
		if (c->stream_area == MAP_FAILED) {
			syscall(SYS_munmap, ring, size);
			syscall(SYS_close, fd);
			return -1;
		}
	}
	c->open = true;
	c->fd = fd;
	c->owner = getpid();
	c->ring = ring;
	c->ring_size = size;
	c->entries = cfg.cq_entries;
	*ring_u32(c, HEAD_OFF) = cfg.start_index;
	*ring_u32(c, TAIL_OFF) = cfg.start_index;
	return fd;
}

static int real_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	pthread_mutex_lock(&fake_lock);
	ensure_cfg();
	if (cfg.path && !strcmp(path, cfg.path)) {
		fd = fake_open();
		pthread_mutex_unlock(&fake_lock);
		return fd;
	}
	pthread_mutex_unlock(&fake_lock);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open(path, flags, mode);
}

int close(int fd)
{
	struct fake_ctx *c;
	int i;

	pthread_mutex_lock(&fake_lock);
	c = find_ctx(fd);
	if (c) {
		/* the kernel's release: every MR of the context goes */
		for (i = 0; i < FAKE_MRS; i++) {
			if (c->mr[i].live) {
				pinned -= c->mr[i].length;
				n_live_mrs--;
			}
		}
		/* and every stream */
		for (i = 0; i < FAKE_STREAMS; i++)
			if (c->streams[i].used)
				n_live_streams--;
		if (c->stream_area)
			syscall(SYS_munmap, c->stream_area, c->stream_size);
		syscall(SYS_munmap, c->ring, c->ring_size);
		c->open = false;
	}
	pthread_mutex_unlock(&fake_lock);
	return (int)syscall(SYS_close, fd);
}

/* ---- mmap: the library's ring mapping ---- */

static void *do_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct fake_ctx *c;
	void *p;

	pthread_mutex_lock(&fake_lock);
	c = fd >= 0 ? find_ctx(fd) : NULL;
	if (c && c->stream_area && off == c->stream_off) {
		/* the stream area: read-write, shared, whole */
		if (len != c->stream_size || !(flags & MAP_SHARED)) {
			pthread_mutex_unlock(&fake_lock);
			errno = EINVAL;
			return MAP_FAILED;
		}
	} else if (c && (off != 0 || len != c->ring_size || !(flags & MAP_SHARED))) {
		pthread_mutex_unlock(&fake_lock);
		errno = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_unlock(&fake_lock);

	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && c)
		madvise(p, len, MADV_DONTFORK);	/* the module's VM_DONTCOPY */
	return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return do_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return do_mmap(addr, len, prot, flags, fd, (off_t)off);
}

/* ---- the engine ---- */

static struct fake_mr *find_mr(struct fake_ctx *c, uint32_t lkey)
{
	int i;

	for (i = 0; i < FAKE_MRS; i++)
		if (c->mr[i].live && c->mr[i].lkey == lkey)
			return &c->mr[i];
	return NULL;
}

static int do_reg_mr(struct fake_ctx *c, struct fpgadma_reg_mr *r)
{
	struct fake_mr *m = NULL;
	int i;

	if (r->flags || r->reserved0 || r->reserved || r->mon_slot || r->mon_gen)
		return -EINVAL;
	if (r->length == 0 || r->addr + r->length < r->addr ||
	    (r->access & ~(uint32_t)FPGADMA_ACCESS_ALL))
		return -EINVAL;
	if (r->length > cfg.max_mr_size)
		return -EINVAL;
	if (r->addr < 4096)
		return -EFAULT;
	if (pinned + r->length > cfg.memlock)
		return -ENOMEM;
	for (i = 0; i < FAKE_MRS; i++)
		if (!c->mr[i].live)
			m = &c->mr[i];
	if (!m)
		return -ENOMEM;

	m->live = true;
	m->lkey = next_key++;
	m->rkey = next_key++ | 0x80000000u;
	m->access = r->access;
	m->addr = r->addr;
	m->length = r->length;
	pinned += r->length;
	n_live_mrs++;

	r->lkey = m->lkey;
	r->rkey = m->rkey;
	r->nsegs = (uint32_t)(((r->addr + r->length + 4095) / 4096) - r->addr / 4096);
	return 0;
}

/* ---- paced streams ---- */

static struct fpgadma_stream_ctrl *stream_ctrl(struct fake_ctx *c, unsigned int i)
{
	return (struct fpgadma_stream_ctrl *)((char *)c->stream_area + (size_t)i * CTRL_PAGE);
}

/* Take a completion slot for the stream if the ring has one. */
static bool stream_reserve(struct fake_ctx *c, struct fake_stream *s)
{
	uint32_t head = __atomic_load_n(ring_u32(c, HEAD_OFF), __ATOMIC_ACQUIRE);
	uint32_t tail = __atomic_load_n(ring_u32(c, TAIL_OFF), __ATOMIC_RELAXED);

	if (s->reserved)
		return true;
	if (tail - head + c->cq_reserved + 1 > c->entries)
		return false;
	s->reserved = true;
	c->cq_reserved++;
	return true;
}

/* Write a CQE into the stream's reserved slot. */
static void stream_cqe(struct fake_ctx *c, struct fake_stream *s,
		       const struct fpgadma_cqe *cqe)
{
	if (s->reserved) {
		s->reserved = false;
		c->cq_reserved--;
	}
	produce(c, cqe);
}

/* Stop a running stream: the END CQE, the control block's state. */
static void stream_end(struct fake_ctx *c, unsigned int i, uint32_t end, uint32_t status)
{
	struct fake_stream *s = &c->streams[i];
	struct fpgadma_stream_ctrl *ctrl = stream_ctrl(c, i);
	struct fpgadma_cqe cqe = { 0 };

	if (!s->running)
		return;
	s->running = false;
	s->state = FPGADMA_STREAM_STOPPED;
	s->end = end;
	__atomic_store_n(&ctrl->end, end, __ATOMIC_RELEASE);
	__atomic_store_n(&ctrl->state, FPGADMA_STREAM_STOPPED, __ATOMIC_RELEASE);
	cqe.wr_id = s->user_data;
	cqe.status = status;
	cqe.opcode = FPGADMA_WR_STREAM_END;
	cqe.vendor_err = end;
	stream_cqe(c, s, &cqe);
}

static void stream_free(struct fake_ctx *c, unsigned int i)
{
	if (c->streams[i].used) {
		c->streams[i].used = false;
		n_live_streams--;
	}
}

static void stream_mr_gone(struct fake_ctx *c, uint32_t lkey)
{
	unsigned int i;

	for (i = 0; i < c->max_streams; i++) {
		if (!c->streams[i].running || c->streams[i].lkey != lkey)
			continue;
		stream_end(c, i, FPGADMA_STREAM_END_DEREG, FPGADMA_WC_FLUSH_ERR);
		if (cfg.stop_einval)
			stream_free(c, i);
	}
}

static void stream_stats(struct fake_ctx *c, unsigned int i, struct fpgadma_stream_stats *st)
{
	const struct fake_stream *s = &c->streams[i];

	memset(st, 0, sizeof(*st));
	st->frames = s->seq;
	st->frames_delivered = s->delivered;
	st->bytes_delivered = s->bytes;
	st->drops = s->drops;
	st->write_idx = s->delivered;
	st->read_idx = __atomic_load_n(&stream_ctrl(c, i)->read_idx, __ATOMIC_ACQUIRE);
	st->fifo_frames = s->fifo_frames;
	st->state = s->state;
	st->end = s->end;
	st->frame_period_ns = s->period;
}

static int do_stream_start(struct fake_ctx *c, struct fpgadma_stream_start *st)
{
	struct fake_stream *s = NULL;
	struct fake_mr *m;
	uint32_t frame_size;
	unsigned int i;

	if (!c->stream_area)
		return -EOPNOTSUPP;
	if (st->flags || st->stream_id || st->ctrl_off || st->reserved[0] ||
	    st->reserved[1] || st->reserved[2] || st->reserved[3])
		return -EINVAL;
	m = find_mr(c, st->lkey);
	if (!m)
		return -EINVAL;
	if (!(m->access & FPGADMA_ACCESS_LOCAL_WRITE))
		return -EACCES;
	frame_size = st->frame_size ? st->frame_size : DEFAULT_FRAME;
	if (!st->nslots || !st->slot_size || frame_size < FPGADMA_FRAME_HDR_SIZE ||
	    frame_size > st->slot_size ||
	    (uint64_t)st->nslots * st->slot_size > st->ring_length ||
	    st->ring_offset + st->ring_length < st->ring_offset ||
	    st->ring_offset + st->ring_length > m->length ||
	    (st->frame_period_ns && st->byte_rate))
		return -EINVAL;
	for (i = 0; i < c->max_streams; i++) {
		if (!c->streams[i].used) {
			s = &c->streams[i];
			break;
		}
	}
	if (!s)
		return -ENOSPC;
	memset(s, 0, sizeof(*s));
	if (!stream_reserve(c, s))
		return -EAGAIN;

	s->used = s->running = true;
	s->lkey = st->lkey;
	s->base = m->addr + st->ring_offset;
	s->slot_size = st->slot_size;
	s->nslots = st->nslots;
	s->frame_size = frame_size;
	s->fifo_frames = st->fifo_frames ? st->fifo_frames : DEFAULT_FIFO;
	s->period = st->frame_period_ns ? st->frame_period_ns :
		    st->byte_rate ? (uint64_t)frame_size * 1000000000ull / st->byte_rate :
		    DEFAULT_PERIOD;
	if (!s->period)
		s->period = 1;
	s->cqe_every = st->cqe_every ? st->cqe_every : 1;
	s->user_data = st->user_data;
	s->state = FPGADMA_STREAM_RUNNING;
	memset(stream_ctrl(c, i), 0, CTRL_PAGE);
	stream_ctrl(c, i)->state = FPGADMA_STREAM_RUNNING;
	n_live_streams++;

	st->frame_size = s->frame_size;
	st->fifo_frames = s->fifo_frames;
	st->frame_period_ns = s->period;
	st->stream_id = i + 1;
	st->ctrl_off = (uint64_t)i * CTRL_PAGE;
	return 0;
}

static int do_stream_stop(struct fake_ctx *c, struct fpgadma_stream_stop *st)
{
	static const struct fpgadma_stream_stats zero;
	unsigned int i = st->stream_id - 1;

	if (!c->stream_area)
		return -EOPNOTSUPP;
	if (st->flags || st->reserved0 || st->reserved[0] || st->reserved[1] ||
	    memcmp(&st->stats, &zero, sizeof(zero)))
		return -EINVAL;
	if (!st->stream_id || i >= c->max_streams || !c->streams[i].used)
		return -EINVAL;
	if (__atomic_exchange_n(&stop_eintr, 0, __ATOMIC_SEQ_CST))
		return -EINTR;	/* before anything changed, as the ABI says */
	stream_end(c, i, FPGADMA_STREAM_END_STOP, FPGADMA_WC_SUCCESS);
	stream_stats(c, i, &st->stats);
	stream_free(c, i);
	return 0;
}

static int do_stream_stats(struct fake_ctx *c, struct fpgadma_stream_query *q)
{
	unsigned int i = q->stream_id - 1;

	if (!c->stream_area)
		return -EOPNOTSUPP;
	if (q->flags || q->reserved[0] || q->reserved[1])
		return -EINVAL;
	if (!q->stream_id || i >= c->max_streams || !c->streams[i].used)
		return -EINVAL;
	stream_stats(c, i, &q->stats);
	return 0;
}

/* One frame into the slot of index w: header, then the payload words. */
static void stream_write_frame(struct fake_ctx *c, struct fake_stream *s, uint64_t w)
{
	unsigned char *p = (unsigned char *)(uintptr_t)(s->base + (w % s->nslots) * s->slot_size);
	struct fpgadma_frame_hdr h = { 0 };
	struct timespec ts;
	uint32_t b;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	h.magic = FPGADMA_FRAME_MAGIC;
	h.hdr_size = FPGADMA_FRAME_HDR_SIZE;
	h.frame_size = s->frame_size;
	h.stream_id = (uint32_t)(s - c->streams) + 1;
	h.seq = s->seq;
	h.timestamp_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	h.lost_before = s->lost_pending;
	memcpy(p, &h, sizeof(h));
	for (b = FPGADMA_FRAME_HDR_SIZE; b < s->frame_size; b++)
		p[b] = (unsigned char)(fpgadma_stream_word(s->seq, b / 8) >> (8 * (b % 8)));
}

int fakedev_stream_produce(int fd, uint32_t id, unsigned int n, int drop)
{
	struct fpgadma_stream_ctrl *ctrl;
	struct fake_stream *s;
	struct fake_ctx *c;
	unsigned int k;
	int done = 0;

	pthread_mutex_lock(&fake_lock);
	c = find_ctx(fd);
	if (!c || !id || id > c->max_streams || !c->streams[id - 1].running) {
		pthread_mutex_unlock(&fake_lock);
		return -1;
	}
	s = &c->streams[id - 1];
	ctrl = stream_ctrl(c, id - 1);
	for (k = 0; k < n; k++) {
		uint64_t r = __atomic_load_n(&ctrl->read_idx, __ATOMIC_ACQUIRE);

		/* no slot handed back, or no completion slot for the group:
		 * the frame waits in the FIFO, or is dropped */
		if (s->delivered - r >= s->nslots || !stream_reserve(c, s)) {
			if (!drop)
				break;
			s->seq++;
			s->drops++;
			s->lost_pending++;
			__atomic_store_n(&ctrl->drops, s->drops, __ATOMIC_RELAXED);
			continue;
		}
		stream_write_frame(c, s, s->delivered);
		s->lost_pending = 0;
		s->seq++;
		s->delivered++;
		s->bytes += s->frame_size;
		__atomic_store_n(&ctrl->write_idx, s->delivered, __ATOMIC_RELEASE);
		done++;
		s->bytes_since_cqe += s->frame_size;
		if (++s->since_cqe == s->cqe_every) {
			struct fpgadma_cqe cqe = { 0 };

			cqe.wr_id = s->user_data;
			cqe.status = FPGADMA_WC_SUCCESS;
			cqe.opcode = FPGADMA_WR_STREAM_FRAMES;
			cqe.byte_len = s->bytes_since_cqe;
			cqe.vendor_err = s->since_cqe;
			cqe.src_ep = (uint32_t)s->delivered;
			stream_cqe(c, s, &cqe);
			s->since_cqe = 0;
			s->bytes_since_cqe = 0;
			stream_reserve(c, s);
		}
	}
	pthread_mutex_unlock(&fake_lock);
	return done;
}

static int do_dereg_mr(struct fake_ctx *c, const struct fpgadma_dereg_mr *d)
{
	struct fake_mr *m;

	if (d->flags || d->reserved[0] || d->reserved[1])
		return -EINVAL;
	m = find_mr(c, d->lkey);
	if (!m)
		return -EINVAL;
	stream_mr_gone(c, d->lkey);
	m->live = false;
	pinned -= m->length;
	n_live_mrs--;
	return 0;
}

static unsigned char stream_byte(uint64_t pos)
{
	uint64_t fs = cfg.frame_size, frame = pos / fs, j = (pos % fs) / 8;

	return (unsigned char)(fpgadma_stream_word(frame, j) >> (8 * (pos % 8)));
}

static int wr_valid(const struct fpgadma_wr *wr)
{
	if (wr->flags || wr->atomic_op || wr->atomic_type || wr->reserved || wr->rkey ||
	    wr->dest)
		return 0;
	if (wr->opcode < FPGADMA_WR_READ_MEM || wr->opcode > FPGADMA_WR_READ_STREAM)
		return 0;
	if (wr->num_sge > cfg.max_sge || (wr->num_sge && !wr->sg_list))
		return 0;
	if (wr->opcode == FPGADMA_WR_READ_STREAM && wr->dev_addr)
		return 0;
	return 1;
}

/* Run one WR, return its CQE status; *moved gets the bytes moved. */
static uint32_t execute(struct fake_ctx *c, const struct fpgadma_wr *wr, uint64_t *moved)
{
	const struct fpgadma_sge *sg = (const struct fpgadma_sge *)(uintptr_t)wr->sg_list;
	bool to_host = wr->opcode != FPGADMA_WR_WRITE_MEM;
	uint64_t total = 0, dev = wr->dev_addr;
	unsigned int i;

	*moved = 0;
	for (i = 0; i < wr->num_sge; i++) {
		struct fake_mr *m = find_mr(c, sg[i].lkey);

		if (!m)
			return FPGADMA_WC_LOC_PROT_ERR;
		if (sg[i].addr < m->addr || sg[i].addr + sg[i].length > m->addr + m->length)
			return FPGADMA_WC_LOC_LEN_ERR;
		if (to_host && !(m->access & FPGADMA_ACCESS_LOCAL_WRITE))
			return FPGADMA_WC_LOC_ACCESS_ERR;
		total += sg[i].length;
	}
	if (wr->opcode != FPGADMA_WR_READ_STREAM &&
	    (dev > dev_mem_size || total > dev_mem_size - dev))
		return FPGADMA_WC_REM_ACCESS_ERR;

	for (i = 0; i < wr->num_sge; i++) {
		unsigned char *p = (unsigned char *)(uintptr_t)sg[i].addr;
		uint64_t k;

		switch (wr->opcode) {
		case FPGADMA_WR_READ_MEM:
			memcpy(p, dev_mem + dev, sg[i].length);
			if (cfg.corrupt == 1 && sg[i].length > 1000)
				p[999] ^= 0x40;
			break;
		case FPGADMA_WR_WRITE_MEM:
			memcpy(dev_mem + dev, p, sg[i].length);
			break;
		case FPGADMA_WR_READ_STREAM:
			for (k = 0; k < sg[i].length; k++) {
				p[k] = stream_byte(stream_pos);
				if (cfg.corrupt == 2 && stream_pos == 10 * cfg.frame_size + 17)
					p[k] ^= 1;
				stream_pos++;
			}
			break;
		}
		dev += sg[i].length;
	}
	*moved = total;
	return FPGADMA_WC_SUCCESS;
}

static int do_post(struct fake_ctx *c, const struct fpgadma_post *p)
{
	const struct fpgadma_wr *wrs = (const struct fpgadma_wr *)(uintptr_t)p->wrs;
	uint32_t head, tail, i;

	if (p->flags || p->reserved[0] || p->reserved[1] || !p->wrs ||
	    p->count == 0 || p->count > cfg.max_post)
		return -EINVAL;
	for (i = 0; i < p->count; i++)
		if (!wr_valid(&wrs[i]))
			return -EINVAL;
	head = __atomic_load_n(ring_u32(c, HEAD_OFF), __ATOMIC_ACQUIRE);
	tail = __atomic_load_n(ring_u32(c, TAIL_OFF), __ATOMIC_RELAXED);
	if (tail - head + c->cq_reserved + p->count > c->entries)
		return -EAGAIN;

	for (i = 0; i < p->count; i++) {
		struct fpgadma_cqe cqe = { 0 };
		uint64_t moved;

		cqe.wr_id = wrs[i].wr_id;
		cqe.opcode = wrs[i].opcode;
		cqe.status = execute(c, &wrs[i], &moved);
		cqe.byte_len = moved;
		produce(c, &cqe);
	}
	return 0;
}

static int do_query(struct fake_ctx *c, struct fpgadma_query *q)
{
	memset(q, 0, sizeof(*q));
	q->abi_version = cfg.abi_version;
	q->engine = FPGADMA_ENGINE_SOFT;
	q->dev_index = 0;
	q->max_sge = cfg.max_sge;
	q->max_post = cfg.max_post;
	q->max_seg_size = 65536;
	q->cq_entries = c->entries;
	q->ring_size = (uint32_t)c->ring_size;
	q->ring_head_off = HEAD_OFF;
	q->ring_tail_off = TAIL_OFF;
	q->ring_flags_off = FLAGS_OFF;
	q->ring_cqes_off = cfg.bad_layout ? (uint32_t)c->ring_size : CQES_OFF;
	q->page_size = 4096;
	q->dev_mem_size = dev_mem_size;
	q->frame_size = cfg.frame_size;
	q->max_mr_size = cfg.max_mr_size;
	if (c->stream_area) {
		q->caps |= FPGADMA_CAP_STREAM;
		q->stream_mmap_off = (uint64_t)c->stream_off;
		q->stream_area_size = (uint32_t)c->stream_size;
		q->max_streams = c->max_streams;
	}
	return 0;
}

int ioctl(int fd, unsigned long req, ...)
{
	struct fake_ctx *c;
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	pthread_mutex_lock(&fake_lock);
	c = find_ctx(fd);
	if (!c) {
		pthread_mutex_unlock(&fake_lock);
		return (int)syscall(SYS_ioctl, fd, req, arg);
	}
	n_ioctls++;
	if (getpid() != c->owner) {
		n_eacces++;
		ret = -EACCES;
	} else {
		switch (req) {
		case FPGADMA_IOC_QUERY:
			ret = do_query(c, arg);
			break;
		case FPGADMA_IOC_REG_MR:
			ret = do_reg_mr(c, arg);
			break;
		case FPGADMA_IOC_DEREG_MR:
			ret = do_dereg_mr(c, arg);
			break;
		case FPGADMA_IOC_POST:
			ret = do_post(c, arg);
			break;
		case FPGADMA_IOC_STREAM_START:
			ret = do_stream_start(c, arg);
			break;
		case FPGADMA_IOC_STREAM_STOP:
			ret = do_stream_stop(c, arg);
			break;
		case FPGADMA_IOC_STREAM_STATS:
			ret = do_stream_stats(c, arg);
			break;
		default:
			ret = -ENOTTY;
			break;
		}
	}
	pthread_mutex_unlock(&fake_lock);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

/* ---- poll: POLLIN while tail != head, like the module ---- */

static bool ring_ready(int fd, bool *found)
{
	struct fake_ctx *c;
	bool ready = false;

	pthread_mutex_lock(&fake_lock);
	c = find_ctx(fd);
	*found = c != NULL;
	if (c)
		ready = __atomic_load_n(ring_u32(c, TAIL_OFF), __ATOMIC_ACQUIRE) !=
			__atomic_load_n(ring_u32(c, HEAD_OFF), __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&fake_lock);
	return ready;
}

/*
 * glibc declares poll()'s fds write-only (access attribute), so GCC warns
 * that our definition reads fds[0].fd; it is of course read-write.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct timespec tick = { 0, 2 * 1000 * 1000 };
	bool found;
	int waited = 0;

	if (nfds != 1 || !fds)
		return (int)syscall(SYS_poll, fds, nfds, timeout);
	ring_ready(fds[0].fd, &found);
	if (!found)
		return (int)syscall(SYS_poll, fds, nfds, timeout);

	for (;;) {
		fds[0].revents = 0;
		if (ring_ready(fds[0].fd, &found)) {
			fds[0].revents = fds[0].events & POLLIN;
			return 1;
		}
		if (timeout >= 0 && waited >= timeout)
			return 0;
		nanosleep(&tick, NULL);
		waited += 2;
		if (__atomic_load_n(&eintr_left, __ATOMIC_SEQ_CST) > 0) {
			__atomic_sub_fetch(&eintr_left, 1, __ATOMIC_SEQ_CST);
			errno = EINTR;
			return -1;
		}
	}
}
