/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A fake fpgadma device for host tests: linked into a test program, it
 * defines open(), close(), ioctl(), mmap() and poll(), which take precedence
 * over the C library's for every caller in the program, libfpgadma included.
 * Calls on anything but the fake device node go to the real system calls.
 *
 * The fake keeps the kernel's side of the ABI: QUERY, REG_MR (with a
 * memlock limit), DEREG_MR and POST with the kernel's validation (EINVAL,
 * EAGAIN, EACCES from another process) and a soft engine that executes each
 * WR at once (device memory and the frame stream, with per-WR statuses).
 * The completion ring is a memfd mapped by the library and by the fake,
 * so the library consumes a real shared mapping; the fake sets it
 * MADV_DONTFORK like the module's VM_DONTCOPY.
 */
#ifndef FAKEDEV_H
#define FAKEDEV_H

#include <stdint.h>
#include <fpgadma-abi.h>

struct fakedev_config {
	const char *path;		/* the node the fake answers to */
	uint32_t abi_version;
	uint32_t cq_entries;
	uint32_t max_sge;
	uint32_t max_post;
	uint64_t dev_mem_size;
	uint64_t frame_size;
	uint64_t max_mr_size;
	uint64_t memlock;		/* bytes all MRs may pin together */
	uint32_t start_index;		/* initial head and tail of each ring */
	int bad_layout;			/* QUERY returns cqes beyond ring_size */
	uint64_t stream_start;		/* stream bytes already read at first open */
	int corrupt;			/* 1: flip a byte in device memory reads,
					 * 2: in stream frame 10 */
};

/*
 * The defaults: /dev/fpgadma0, ABI 1, 64 CQEs, 4 pieces, 8 WRs per post,
 * 16 MiB device memory, 4 KiB frames, 64 MiB memlock; then the environment
 * variable FAKEDEV_CONFIG, a comma-separated list of field=value (numeric
 * fields only), e.g. "cq_entries=2,max_sge=1,frame_size=8", so that a
 * program that cannot call fakedev_configure() (the demo) runs against
 * other shapes of device.
 */
void fakedev_config_default(struct fakedev_config *cfg);
/* Takes effect for the next open of the node. */
void fakedev_configure(const struct fakedev_config *cfg);

/* MRs registered and not yet released, over every open context. */
unsigned long fakedev_live_mrs(void);
/* fpgadma ioctls the fake has received (any result). */
unsigned long fakedev_ioctls(void);
/* ioctls that got EACCES because they came from another process. */
unsigned long fakedev_eacces(void);

/* Producer side of the ring of the open context fd, for tests that drive
 * fpgadma_poll() directly: publish one CQE (0, or -1 if the ring is full). */
int fakedev_produce(int fd, const struct fpgadma_cqe *cqe);
/* Raise FPGADMA_RING_OVERFLOW on the ring of fd. */
void fakedev_set_overflow(int fd);
/* Make the next n poll() calls on the fake fail with EINTR. */
void fakedev_inject_eintr(int n);

#endif /* FAKEDEV_H */
