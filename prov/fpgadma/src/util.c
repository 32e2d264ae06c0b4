// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Small helpers the other files share: error translation and the wait
 * objects of EQs, CQs and counters.  libfabric's util framework has its own
 * (ofi_wait, fd_signal); an external provider cannot use them.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "fpgadma_prov.h"

/*
 * libfpgadma returns negative errnos; most have an FI_E* of the same value.
 * The few that do not, or that mean something more precise in libfabric's
 * terms, are translated here.
 */
int fpgadma_errno_to_fi(int err)
{
	if (err >= 0)
		return err;
	switch (-err) {
	case EEXIST:		/* requested rkey taken */
		return -FI_ENOKEY;
	case ENXIO:
	case ENOENT:
		return -FI_ENODEV;
	case EOPNOTSUPP:
		return -FI_EOPNOTSUPP;
	case EOVERFLOW:		/* the kernel lost a CQE */
		return -FI_EOVERRUN;
	case EPERM:
	case EINTR:
	case EIO:
	case E2BIG:
	case EBADF:
	case EAGAIN:
	case ENOMEM:
	case EACCES:
	case EFAULT:
	case EBUSY:
	case ENODEV:
	case EINVAL:
	case EMFILE:
	case ENOSPC:
	case ENOSYS:
	case ENODATA:
	case EADDRINUSE:	/* fpgadma_bind_ep: the number is taken */
	case ETIMEDOUT:
	case ECANCELED:
	case ENOBUFS:
		return err;
	default:
		return -FI_EOTHER;
	}
}

/* The error a failed work request reports in its error completion. */
int fpgadma_wc_to_fi(uint32_t status)
{
	switch (status) {
	case FPGADMA_WC_SUCCESS:
		return 0;
	case FPGADMA_WC_LOC_LEN_ERR:
		return FI_ETRUNC;
	case FPGADMA_WC_LOC_PROT_ERR:
	case FPGADMA_WC_LOC_ACCESS_ERR:
		return FI_EACCES;
	case FPGADMA_WC_REM_ACCESS_ERR:
		return FI_EREMOTEIO;
	case FPGADMA_WC_FLUSH_ERR:
		return FI_ECANCELED;
	case FPGADMA_WC_RNR_ERR:
		return FI_ENORX;
	case FPGADMA_WC_REM_INV_REQ_ERR:
		return FI_EINVAL;
	case FPGADMA_WC_GENERAL_ERR:
	default:
		return FI_EIO;
	}
}

const char *fpgadma_prov_strerror(int prov_errno)
{
	/* the count and the frame are in err_data (cq.c prints them) */
	if (prov_errno == FI_FPGADMA_ERR_FRAMES_LOST)
		return "frames lost: the device's FIFO was full (the receives "
		       "were not posted fast enough)";
	if (prov_errno == FI_FPGADMA_ERR_ATOMIC_ALIGN)
		return "atomic target not aligned: its address must be a "
		       "multiple of the datatype's size (of 8 for the complex "
		       "types); nothing was changed";
	if (prov_errno > 0)
		return fpgadma_wc_status_str((uint32_t)prov_errno);
	if (prov_errno < 0)
		return fpgadma_strerror(prov_errno);
	return "no provider error";
}

/* --- signals: an eventfd readable exactly while the flag is set ---------- */

static int signal_init(struct fpgadma_signal *s)
{
	s->set = false;
	s->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return s->fd < 0 ? -errno : 0;
}

static void signal_set(struct fpgadma_signal *s)
{
	uint64_t one = 1;

	if (s->set || s->fd < 0)
		return;
	/* Cannot fail: the counter is far from overflowing. */
	if (write(s->fd, &one, sizeof(one)) == sizeof(one))
		s->set = true;
}

static void signal_clear(struct fpgadma_signal *s)
{
	uint64_t val;

	if (!s->set || s->fd < 0)
		return;
	if (read(s->fd, &val, sizeof(val)) == sizeof(val) || errno == EAGAIN)
		s->set = false;
}

/* --- wait objects -------------------------------------------------------- */

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/*
 * wait_obj FI_WAIT_UNSPEC becomes FI_WAIT_FD; FI_WAIT_SET is the same epoll
 * set, which the owner then puts in its wait set (wait.c).  extra_fd (>= 0)
 * joins the signal in the epoll set: the domain's context fd for CQs and
 * counters.  Returns 0 or a negative FI_E* code.
 */
int fpgadma_wait_init(struct fpgadma_wait *w, enum fi_wait_obj wait_obj,
		      int extra_fd)
{
	int ret;

	w->epfd = -1;
	w->sig.fd = -1;
	w->sig.set = false;
	w->set = NULL;
	switch (wait_obj) {
	case FI_WAIT_NONE:
	case FI_WAIT_YIELD:
		w->wait_obj = wait_obj;
		return 0;
	case FI_WAIT_UNSPEC:
	case FI_WAIT_FD:
		w->wait_obj = FI_WAIT_FD;
		break;
	case FI_WAIT_SET:
		w->wait_obj = FI_WAIT_SET;
		break;
	default:	/* mutex/cond, pollfd: not offered */
		return -FI_ENOSYS;
	}

	ret = signal_init(&w->sig);
	if (ret)
		return fpgadma_errno_to_fi(ret);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0) {
		ret = -errno;
		goto err_sig;
	}
	ret = epoll_add(w->epfd, w->sig.fd);
	if (ret)
		goto err_ep;
	if (extra_fd >= 0) {
		ret = epoll_add(w->epfd, extra_fd);
		if (ret)
			goto err_ep;
	}
	return 0;

err_ep:
	close(w->epfd);
	w->epfd = -1;
err_sig:
	close(w->sig.fd);
	w->sig.fd = -1;
	return fpgadma_errno_to_fi(ret);
}

void fpgadma_wait_fini(struct fpgadma_wait *w)
{
	if (w->set)
		fpgadma_waitset_del(w->set, w);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->sig.fd >= 0)
		close(w->sig.fd);
	w->epfd = -1;
	w->sig.fd = -1;
}

void fpgadma_wait_set(struct fpgadma_wait *w)
{
	signal_set(&w->sig);
}

void fpgadma_wait_clear(struct fpgadma_wait *w)
{
	signal_clear(&w->sig);
}

/*
 * Returns > 0 if something may be ready, 0 on timeout, or a negative FI_E*
 * code.  FI_WAIT_YIELD only yields: the caller loops on its own checks.
 */
int fpgadma_wait_sleep(struct fpgadma_wait *w, int timeout_ms)
{
	struct epoll_event ev;
	int ret;

	if (w->wait_obj == FI_WAIT_YIELD) {
		sched_yield();
		return 1;
	}
	if (w->epfd < 0)
		return -FI_EINVAL;
	ret = epoll_wait(w->epfd, &ev, 1, timeout_ms);
	if (ret < 0)
		return errno == EINTR ? 1 : -errno;
	return ret;
}

/*
 * fi_control of a CQ, counter or EQ: FI_GETWAIT (the epoll fd, into an
 * int) and FI_GETWAITOBJ; nothing else.  A member of a wait set answers
 * with the set's fd and FI_WAIT_FD, as fi_poll(3) has the wait set's fd
 * be what an application blocks on.
 */
int fpgadma_wait_control(struct fpgadma_wait *w, int command, void *arg)
{
	if (command != FI_GETWAIT && command != FI_GETWAITOBJ)
		return -FI_ENOSYS;
	if (w->set)
		return fpgadma_waitset_control(w->set, command, arg);
	if (!arg)
		return -FI_EINVAL;
	if (command == FI_GETWAITOBJ) {
		*(enum fi_wait_obj *)arg = w->wait_obj;
		return 0;
	}
	if (w->wait_obj != FI_WAIT_FD)
		return -FI_ENODATA;
	*(int *)arg = w->epfd;
	return 0;
}

/*
 * Manual progress means the application spins on fi_cq_read or
 * fi_cntr_read while it waits for a peer.  When the peer is a process on
 * the same CPU (a busy machine, a one-CPU VM), it runs only when the
 * spinner's time slice ends: a scheduler tick (4 ms at HZ=250) per message
 * of a ping-pong.  So after FI_FPGADMA_POLL_YIELD empty polls in a row,
 * each further empty one gives the CPU away.  sched_yield costs a system
 * call and returns at once when nobody else wants the CPU.
 */
void fpgadma_poll_idle(unsigned int *streak, bool idle)
{
	unsigned int n;

	if (!idle) {
		if (__atomic_load_n(streak, __ATOMIC_RELAXED))
			__atomic_store_n(streak, 0, __ATOMIC_RELAXED);
		return;
	}
	if (fpgadma_params.poll_yield < 0)
		return;
	n = __atomic_add_fetch(streak, 1, __ATOMIC_RELAXED);
	if (n > (unsigned int)fpgadma_params.poll_yield) {
		__atomic_store_n(streak, (unsigned int)fpgadma_params.poll_yield,
				 __ATOMIC_RELAXED);
		sched_yield();
	}
}

/* --- time ---------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t fpgadma_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	return now_ms() + (uint64_t)timeout_ms;
}

/*
 * The next sleep: what is left of the deadline, but never more than
 * slice_ms (if > 0), because manual progress may have work to do (a resend
 * after a receiver-not-ready) that no fd announces.
 */
int fpgadma_time_left(uint64_t deadline, int slice_ms)
{
	uint64_t now, left;

	if (deadline == UINT64_MAX)
		return slice_ms > 0 ? slice_ms : -1;
	now = now_ms();
	if (now >= deadline)
		return 0;
	left = deadline - now;
	if (slice_ms > 0 && left > (uint64_t)slice_ms)
		left = (uint64_t)slice_ms;
	return (int)left;
}
