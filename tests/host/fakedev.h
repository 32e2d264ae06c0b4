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
 *
 * With max_streams set, the device has FPGADMA_CAP_STREAM: a stream area
 * (in the same memfd, past the ring) and STREAM_START/STOP/STATS.  The
 * fake's streams produce nothing on their own: a test makes the device
 * write frames with fakedev_stream_produce().
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
	uint32_t max_streams;		/* paced streams per context; 0: no
					 * FPGADMA_CAP_STREAM */
	int stop_einval;		/* STREAM_STOP of a stream stopped by a
					 * DEREG fails with EINVAL (its id
					 * already freed) */
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

/*
 * Paced streams.  The device writes up to n frames of stream id of the
 * context fd into slots handed back (header, then fpgadma_stream_word()
 * payload, then a release store of write_idx), with a FRAMES CQE every
 * cqe_every; frames that find no slot are dropped when drop is set (the
 * next frame delivered says so), else not produced.  Returns the frames
 * written, or -1 if there is no such running stream.
 */
int fakedev_stream_produce(int fd, uint32_t id, unsigned int n, int drop);
/* Streams started and not yet stopped by STREAM_STOP, over every context. */
unsigned long fakedev_live_streams(void);
/* The next STREAM_STOP is interrupted once (EINTR) before it does anything. */
void fakedev_inject_stop_eintr(void);

#endif /* FAKEDEV_H */
