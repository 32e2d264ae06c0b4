// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * edu_teardown: tearing down memory while the edu device is moving it.
 *
 * Each edu transfer runs for 100 ms after it is started, and a WR of pieces
 * on different pages is several transfers.  Right after posting such WRs,
 * with the first transfer still running and the others queued:
 *  1. DEREG_MR of the MR a READ_MEM writes into (the device writes host
 *     memory) and of the MR a WRITE_MEM reads from (the device reads it);
 *  2. close() of a bare file descriptor with both in flight;
 *  3. SIGKILL of a process with both in flight.
 * Each teardown must wait for the device: when it returns, the WRs have
 * completed (wrs_completed), it took at least the time of the transfers
 * that were left, the data is whole (read back through the device or in the
 * buffer), and nothing stays pinned.  Unmapping early would not show here:
 * behind the IOMMU (strict invalidation) a transfer to an unmapped IOVA is a
 * DMAR fault in the guest's kernel log, which fails the run; without one it
 * would be a write into freed pages.
 */
#include "helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define NPIECE	6
#define PIECE	600	/* crosses a page boundary in the middle */

static struct t_dev d;
static size_t page;
static uint8_t *keep;		/* a buffer that stays registered */
static struct fpgadma_mr *keep_mr;

/* NPIECE pieces of buf, each across a page boundary, on different pages. */
static void pieces(uint32_t lkey, uint8_t *buf, struct fpgadma_sge *sg)
{
	unsigned int i;

	for (i = 0; i < NPIECE; i++)
		sg[i] = (struct fpgadma_sge){ .addr = (uintptr_t)(buf + (2 * i + 1) * page - PIECE / 2),
					      .length = PIECE, .lkey = lkey };
}

static size_t buf_len(void)
{
	return (2 * NPIECE + 1) * page;
}

/* Fill the pieces of buf with the pattern seed (piece bytes in WR order). */
static void fill_pieces(uint8_t *buf, uint64_t seed)
{
	unsigned int i;

	for (i = 0; i < NPIECE; i++)
		t_fill(buf + (2 * i + 1) * page - PIECE / 2, PIECE, seed, (uint64_t)i * PIECE);
}

static void verify_pieces(const uint8_t *buf, uint64_t seed, const char *what)
{
	unsigned int i;

	for (i = 0; i < NPIECE; i++)
		if (t_verify(buf + (2 * i + 1) * page - PIECE / 2, PIECE, seed, (uint64_t)i * PIECE,
			     what))
			t_fail("%s: piece %u is wrong", what, i);
}

/* Device memory [0, NPIECE * PIECE) must hold the pattern seed. */
static void device_holds(uint64_t seed, const char *what)
{
	memset(keep, 0, NPIECE * PIECE);
	t_dev_read(&d, keep_mr, keep, NPIECE * PIECE, 0);
	CHECK_MSG(!t_verify(keep, NPIECE * PIECE, seed, 0, what), "%s", what);
}

static void device_set(uint64_t seed)
{
	t_fill(keep, NPIECE * PIECE, seed, 0);
	t_dev_write(&d, keep_mr, keep, NPIECE * PIECE, 0);
}

static uint64_t xfers_total(void)
{
	struct t_xfer_log log;

	t_xfer_log(&d, &log);
	CHECK_EQ(log.lost_irqs, 0);
	return log.total;
}

/*
 * The teardown of work of nx transfers, posted at t_post and torn down at
 * t_start, returned at t_end (all ms): it must have waited for them.
 */
static void check_waited(const char *what, uint64_t nx, uint64_t t_post, uint64_t t_start,
			 uint64_t t_end)
{
	uint64_t least = nx * 100 - (t_start - t_post) - 100;	/* a transfer of slack */

	t_log("%s: %llu transfers (%llu ms of device time) posted, teardown %llu ms after "
	      "posting took %llu ms", what, (unsigned long long)nx, (unsigned long long)nx * 100,
	      (unsigned long long)(t_start - t_post), (unsigned long long)(t_end - t_start));
	if (nx < NPIECE || t_end - t_start < least) {
		/*
		 * Let a transfer that may still be running reach memory first,
		 * so that the IOMMU reports it in the kernel log too.
		 */
		t_sleep_ms(1000);
		t_fail("%s: the teardown returned after %llu ms, before the device can have "
		       "finished %llu transfers (%llu ms left at least)", what,
		       (unsigned long long)(t_end - t_start), (unsigned long long)nx,
		       (unsigned long long)least);
	}
}

/* 1. DEREG_MR while the device writes into the MR, then while it reads from it. */
static void dereg_busy(void)
{
	struct fpgadma_sge sg[NPIECE];
	struct fpgadma_cqe c;
	struct t_snap before;
	struct fpgadma_mr *mr;
	uint64_t x0, t_post, t_start, t_end;
	long long done0;
	uint8_t *buf = t_map(buf_len());

	/* READ_MEM: device -> MR */
	device_set(11);
	memset(buf, 0, buf_len());
	t_snap_take(&before);
	mr = t_reg(&d, buf, buf_len(), FPGADMA_ACCESS_LOCAL_WRITE);
	pieces(mr->lkey, buf, sg);
	x0 = xfers_total();
	done0 = t_dev_counter("wrs_completed");
	t_post = t_now_ms();
	CHECK_OK(fpgadma_post_read(d.ctx, 1, 0, sg, NPIECE));
	CHECK_EQ(t_dev_counter("wrs_completed"), done0);	/* a transfer takes 100 ms */
	t_start = t_now_ms();
	CHECK_OK(fpgadma_dereg_mr(mr));
	t_end = t_now_ms();
	CHECK_EQ(t_dev_counter("wrs_completed") - done0, 1);
	CHECK_SNAP(&before, 0, 0, "after DEREG_MR of the MR a READ_MEM was writing");
	check_waited("DEREG_MR under a READ_MEM", xfers_total() - x0, t_post, t_start, t_end);
	t_get_cqes(d.ctx, &c, 1);
	CHECK_CQE(&c, 1, FPGADMA_WR_READ_MEM, FPGADMA_WC_SUCCESS, NPIECE * PIECE);
	verify_pieces(buf, 11, "buffer written by the device while its MR was deregistered");

	/* WRITE_MEM: MR -> device */
	fill_pieces(buf, 12);
	t_snap_take(&before);
	mr = t_reg(&d, buf, buf_len(), 0);
	pieces(mr->lkey, buf, sg);
	x0 = xfers_total();
	done0 = t_dev_counter("wrs_completed");
	t_post = t_now_ms();
	CHECK_OK(fpgadma_post_write(d.ctx, 2, 0, sg, NPIECE));
	t_start = t_now_ms();
	CHECK_OK(fpgadma_dereg_mr(mr));
	t_end = t_now_ms();
	CHECK_EQ(t_dev_counter("wrs_completed") - done0, 1);
	CHECK_SNAP(&before, 0, 0, "after DEREG_MR of the MR a WRITE_MEM was reading");
	check_waited("DEREG_MR under a WRITE_MEM", xfers_total() - x0, t_post, t_start, t_end);
	t_get_cqes(d.ctx, &c, 1);
	CHECK_CQE(&c, 2, FPGADMA_WR_WRITE_MEM, FPGADMA_WC_SUCCESS, NPIECE * PIECE);
	device_holds(12, "device memory written from an MR deregistered meanwhile");
	t_unmap(buf, buf_len());
}

/* A bare file with an MR over buf and a READ_MEM and a WRITE_MEM posted. */
static int bare_busy(uint8_t *buf, uint64_t seed)
{
	struct fpgadma_reg_mr r = { .addr = (uintptr_t)buf, .length = buf_len(),
				    .access = FPGADMA_ACCESS_LOCAL_WRITE };
	struct fpgadma_sge rsg[NPIECE], wsg[NPIECE];
	struct fpgadma_wr wr[2];
	struct fpgadma_post p = { .wrs = (uintptr_t)wr, .count = 2 };
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/fpgadma%u", d.attr.dev_index);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK_SYS(fd);
	CHECK_SYS(ioctl(fd, FPGADMA_IOC_REG_MR, &r));
	/* read into the even pages' pieces, write from the same: the read comes first */
	pieces(r.lkey, buf, rsg);
	pieces(r.lkey, buf, wsg);
	fill_pieces(buf, seed);
	wr[0] = (struct fpgadma_wr){ .wr_id = 1, .opcode = FPGADMA_WR_READ_MEM,
				     .dev_addr = NPIECE * PIECE, .sg_list = (uintptr_t)rsg,
				     .num_sge = 1 };
	wr[1] = (struct fpgadma_wr){ .wr_id = 2, .opcode = FPGADMA_WR_WRITE_MEM, .dev_addr = 0,
				     .sg_list = (uintptr_t)wsg, .num_sge = NPIECE };
	/* the READ_MEM overwrites piece 0 with device bytes [3600, 4095): keep it off */
	rsg[0].addr = (uintptr_t)(buf + 2 * NPIECE * page);
	rsg[0].length = (uint32_t)(4095 - NPIECE * PIECE);
	CHECK_SYS(ioctl(fd, FPGADMA_IOC_POST, &p));
	return fd;
}

/* 2. close() of a file whose work is in flight */
static void close_busy(void)
{
	uint8_t *buf = t_map(buf_len());
	struct t_snap before;
	uint64_t x0, t_post, t_start, t_end;
	long long done0;
	int fd;

	device_set(20);
	t_snap_take(&before);
	x0 = xfers_total();
	done0 = t_dev_counter("wrs_completed");
	t_post = t_now_ms();
	fd = bare_busy(buf, 21);
	CHECK_EQ(t_dev_counter("wrs_completed"), done0);
	t_start = t_now_ms();
	CHECK_SYS(close(fd));
	t_end = t_now_ms();
	CHECK_EQ(t_dev_counter("wrs_completed") - done0, 2);
	CHECK_SNAP(&before, 0, 0, "after close() with work in flight");
	check_waited("close() with a READ_MEM and a WRITE_MEM in flight", xfers_total() - x0,
		     t_post, t_start, t_end);
	device_holds(21, "device memory written by a WR of a file closed meanwhile");
	t_unmap(buf, buf_len());
}

/* 3. SIGKILL of a process whose work is in flight */
static void kill_busy(void)
{
	struct t_snap before;
	uint64_t x0, t_start, t_end;
	long long done0;
	int pipefd[2], status;
	char c;
	pid_t pid;

	device_set(30);
	t_snap_take(&before);
	x0 = xfers_total();
	done0 = t_dev_counter("wrs_completed");
	CHECK_SYS(pipe(pipefd));
	pid = fork();
	CHECK_SYS(pid);
	if (pid == 0) {
		uint8_t *buf = t_map(buf_len());

		close(pipefd[0]);
		bare_busy(buf, 31);
		if (write(pipefd[1], "p", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	CHECK_EQ(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	t_start = t_now_ms();
	CHECK_SYS(kill(pid, SIGKILL));
	status = t_wait_child(pid, 30000);
	t_end = t_now_ms();
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_EQ(t_dev_counter("wrs_completed") - done0, 2);
	CHECK_SETTLED(&before, 5000, "after SIGKILL with work in flight");
	check_waited("SIGKILL with a READ_MEM and a WRITE_MEM in flight", xfers_total() - x0,
		     t_start, t_start, t_end);
	device_holds(31, "device memory written by a WR of a killed process");
}

int main(int argc, char **argv)
{
	struct t_snap start;

	t_init(argc, argv, 55);
	page = t_page_size();
	t_open_edu(&d);
	CHECK_GE(d.attr.dev_mem_size, NPIECE * PIECE);
	CHECK_GE(d.attr.max_sge, NPIECE);
	t_snap_take(&start);
	keep = t_map(2 * page);
	keep_mr = t_reg(&d, keep, 2 * page, FPGADMA_ACCESS_LOCAL_WRITE);
	{
		struct t_xfer_log log;

		t_xfer_log(&d, &log);
		t_log("edu device fpgadma%u, %s IOMMU", d.attr.dev_index,
		      log.iommu ? "behind an" : "without");
	}

	dereg_busy();
	close_busy();
	kill_busy();

	t_dereg(keep_mr);
	t_unmap(keep, 2 * page);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_close(&d);
	t_pass();
}
