// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * abi_bad: the ioctl and mmap ABI rejects what it does not know.
 *  - QUERY answers consistently (ABI version, caps, ring layout inside
 *    ring_size, the monitor area's offset and size, the stream area's
 *    offset and size and max_streams, the device memory's and the
 *    channels' offsets, reserved fields zero, the module parameters);
 *  - every command (the paced-stream ones too) with a size one struct
 *    smaller, bigger, 0 or the largest encodable: EINVAL; with the wrong
 *    direction: EINVAL; unknown numbers in our magic (past the last one,
 *    0x07): EINVAL; another driver's commands (TCGETS, ...): ENOTTY;
 *  - non-zero flags or reserved fields in REG_MR, DEREG_MR and POST, and
 *    REG_MR's mon_slot or mon_gen (outputs) set on input: EINVAL, and a
 *    DEREG_MR refused that way leaves the MR working;
 *  - unreadable or unwritable argument pointers: EFAULT, and a REG_MR
 *    whose result cannot be written back leaves nothing registered;
 *  - mmap with a non-zero offset, a length beyond the ring, or PROT_EXEC:
 *    refused; the ring maps at offset 0 with its size and shows an empty ring.
 * After each refused call nothing is pinned and nothing registered.
 */
#include "helpers.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>

static int fd;
static unsigned int ncalls;
static struct t_snap start;

static int xioctl(unsigned long cmd, void *arg)
{
	ncalls++;
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

#define CHECK_IOCTL(cmd, arg, want) do {					\
	int _r = xioctl(cmd, arg);						\
	if (_r != (want))							\
		t_fail("ioctl %s (0x%08lx): %s, expected %s", #cmd,		\
		       (unsigned long)(cmd), t_errname(_r), t_errname(want));	\
} while (0)

static void check_query(void)
{
	struct fpgadma_query q;
	size_t page = t_page_size();
	unsigned int i;

	memset(&q, 0xff, sizeof(q));
	CHECK_IOCTL(FPGADMA_IOC_QUERY, &q, 0);
	CHECK_EQ(q.abi_version, FPGADMA_ABI_VERSION);
	CHECK_EQ(q.engine, FPGADMA_ENGINE_SOFT);
	CHECK_EQ(q.page_size, page);
	CHECK(q.ep_id != 0);
	/*
	 * paced streams unless the core's max_streams parameter is 0; atomics,
	 * also on floating-point types (the guest is x86-64); the device
	 * memory mappable; local message channels
	 */
	CHECK_EQ(q.caps, FPGADMA_CAP_HOST_EP | FPGADMA_CAP_BIND_EP | FPGADMA_CAP_MR_MONITOR |
			 (t_module_param("max_streams") == 0 ? 0 : FPGADMA_CAP_STREAM) |
			 FPGADMA_CAP_ATOMIC | FPGADMA_CAP_ATOMIC_FP | FPGADMA_CAP_MEM_MAP |
			 FPGADMA_CAP_CHAN);
	/* the device memory: at its own page-aligned offset, clear of the others */
	CHECK(q.mem_mmap_off && q.mem_mmap_off % page == 0 &&
	      q.mem_mmap_off >= q.mon_mmap_off + q.mon_size &&
	      q.mem_mmap_off >= q.stream_mmap_off + q.stream_area_size);
	/* the channels: one window per ep_id from a page-aligned offset, after the others */
	CHECK(q.chan_mmap_off && q.chan_mmap_off % page == 0 &&
	      q.chan_mmap_off >= q.mem_mmap_off + q.dev_mem_size &&
	      q.chan_mmap_off >= q.mon_mmap_off + q.mon_size &&
	      q.chan_mmap_off >= q.stream_mmap_off + q.stream_area_size);
	/* the monitor area: at its own page-aligned offset, beyond the ring's */
	CHECK(q.mon_mmap_off && q.mon_mmap_off % page == 0 && q.mon_mmap_off >= q.ring_size);
	CHECK(q.mon_size && q.mon_size % page == 0);
	CHECK_EQ(q.mon_slots, q.mon_size / 4);
	/* the stream area: one page per stream, clear of the ring and the monitor area */
	if (q.caps & FPGADMA_CAP_STREAM) {
		CHECK(q.max_streams >= 1);
		CHECK_EQ(q.stream_area_size, (uint64_t)q.max_streams * page);
		CHECK(q.stream_mmap_off && q.stream_mmap_off % page == 0 &&
		      q.stream_mmap_off >= q.ring_size);
		CHECK(q.stream_mmap_off >= q.mon_mmap_off + q.mon_size ||
		      q.stream_mmap_off + q.stream_area_size <= q.mon_mmap_off);
	} else {
		CHECK(!q.stream_mmap_off && !q.stream_area_size && !q.max_streams);
	}
	for (i = 0; i < T_ARRAY_SIZE(q.reserved); i++)
		CHECK_EQ(q.reserved[i], 0);
	CHECK(q.cq_entries && !(q.cq_entries & (q.cq_entries - 1)));
	CHECK(q.ring_head_off % 4 == 0 && q.ring_head_off + 4 <= q.ring_size);
	CHECK(q.ring_tail_off % 4 == 0 && q.ring_tail_off + 4 <= q.ring_size);
	CHECK(q.ring_flags_off % 4 == 0 && q.ring_flags_off + 4 <= q.ring_size);
	CHECK(q.ring_cqes_off % 8 == 0);
	CHECK_LE(q.ring_cqes_off + (uint64_t)q.cq_entries * sizeof(struct fpgadma_cqe), q.ring_size);
	/* head, tail, flags and the CQE array do not overlap */
	CHECK(q.ring_head_off != q.ring_tail_off && q.ring_tail_off != q.ring_flags_off &&
	      q.ring_head_off != q.ring_flags_off);
	CHECK(q.ring_head_off + 4 <= q.ring_cqes_off && q.ring_tail_off + 4 <= q.ring_cqes_off &&
	      q.ring_flags_off + 4 <= q.ring_cqes_off);
	CHECK(q.max_sge >= 1 && q.max_post >= 1 && q.frame_size % 8 == 0 && q.frame_size);
	CHECK(q.max_seg_size >= page && q.max_seg_size % page == 0);
	CHECK(q.dev_mem_size >= 1 && q.max_mr_size >= 1);

	/* The module parameters say the same (where the guest has them). */
	if (t_module_param("max_sge") >= 0) {
		CHECK_EQ(q.max_sge, t_module_param("max_sge"));
		CHECK_EQ(q.max_post, t_module_param("max_post"));
		CHECK_EQ(q.cq_entries, t_module_param("cq_entries"));
		CHECK_EQ(q.dev_mem_size, t_module_param("dev_mem_size"));
		CHECK_EQ(q.frame_size, t_module_param("frame_size"));
		if (t_module_param("max_streams") >= 0)
			CHECK_EQ(q.max_streams, t_module_param("max_streams"));
		CHECK_LE(q.max_seg_size, t_module_param("max_seg_size"));
		t_log("QUERY matches the module parameters (max_seg_size %u of %lld asked)",
		      q.max_seg_size, t_module_param("max_seg_size"));
	} else {
		t_log("note: no module parameters in sysfs to compare QUERY with");
	}
	t_log("QUERY: ABI %u, ring %u bytes (head %u tail %u flags %u cqes %u, %u entries), "
	      "reserved fields zero", q.abi_version, q.ring_size, q.ring_head_off, q.ring_tail_off,
	      q.ring_flags_off, q.ring_cqes_off, q.cq_entries);
	t_log("QUERY: stream area at 0x%llx, %u bytes, %u streams",
	      (unsigned long long)q.stream_mmap_off, q.stream_area_size, q.max_streams);
	t_log("QUERY: device memory at 0x%llx, channels at 0x%llx",
	      (unsigned long long)q.mem_mmap_off, (unsigned long long)q.chan_mmap_off);
	CHECK_IOCTL(FPGADMA_IOC_QUERY, NULL, -EFAULT);
	CHECK_IOCTL(FPGADMA_IOC_QUERY, (void *)0xffff888000000000ULL, -EFAULT);
}

static void sizes_and_directions(void)
{
	static const struct {
		const char *name;
		unsigned long cmd;
	} cmds[] = {
		{ "QUERY", FPGADMA_IOC_QUERY }, { "REG_MR", FPGADMA_IOC_REG_MR },
		{ "DEREG_MR", FPGADMA_IOC_DEREG_MR }, { "POST", FPGADMA_IOC_POST },
		{ "BIND_EP", FPGADMA_IOC_BIND_EP }, { "STREAM_START", FPGADMA_IOC_STREAM_START },
		{ "STREAM_STOP", FPGADMA_IOC_STREAM_STOP },
		{ "STREAM_STATS", FPGADMA_IOC_STREAM_STATS },
	};
	static const unsigned int dirs[] = { _IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE };
	unsigned char arg[16384 + 64];
	unsigned int i, j, n = 0;

	/* Zeroed arguments: the calls must fail on the command number alone. */
	memset(arg, 0, sizeof(arg));
	for (i = 0; i < T_ARRAY_SIZE(cmds); i++) {
		unsigned int nr = _IOC_NR(cmds[i].cmd), dir = _IOC_DIR(cmds[i].cmd);
		unsigned int size = _IOC_SIZE(cmds[i].cmd);
		unsigned int wrong[] = { size - 1, size + 1, size - 8, size + 8, 0, _IOC_SIZEMASK };

		for (j = 0; j < T_ARRAY_SIZE(wrong); j++) {
			unsigned long cmd = _IOC(dir, FPGADMA_IOC_MAGIC, nr, wrong[j]);
			int r = xioctl(cmd, arg);

			if (r != -EINVAL)
				t_fail("%s with size %u: %s, expected -EINVAL", cmds[i].name, wrong[j],
				       t_errname(r));
			n++;
		}
		for (j = 0; j < T_ARRAY_SIZE(dirs); j++) {
			unsigned long cmd = _IOC(dirs[j], FPGADMA_IOC_MAGIC, nr, size);
			int r;

			if (dirs[j] == dir)
				continue;
			r = xioctl(cmd, arg);
			if (r != -EINVAL)
				t_fail("%s with direction %u instead of %u: %s, expected -EINVAL",
				       cmds[i].name, dirs[j], dir, t_errname(r));
			n++;
		}
	}
	t_log("%u commands with a wrong size or direction: EINVAL", n);

	/* past the last command, STREAM_STATS (0x07) */
	n = 0;
	for (i = _IOC_NR(FPGADMA_IOC_STREAM_STATS) + 1; i < 256; i++) {
		for (j = 0; j < T_ARRAY_SIZE(dirs); j++) {
			unsigned int size = dirs[j] == _IOC_NONE ? 0 : (i * 8) % 200;
			int r = xioctl(_IOC(dirs[j], FPGADMA_IOC_MAGIC, i, size), arg);

			if (r != -EINVAL)
				t_fail("unknown nr 0x%02x dir %u size %u: %s, expected -EINVAL", i,
				       dirs[j], size, t_errname(r));
			n++;
		}
	}
	t_log("%u unknown command numbers in our magic: EINVAL", n);

	{
		struct termios tio;
		int r;

		CHECK_IOCTL(TCGETS, &tio, -ENOTTY);
		CHECK_IOCTL(TIOCGWINSZ, arg, -ENOTTY);
		CHECK_IOCTL(_IOWR(FPGADMA_IOC_MAGIC + 1, 1, struct fpgadma_reg_mr), arg, -ENOTTY);
		CHECK_IOCTL(_IOR(FPGADMA_IOC_MAGIC - 1, 0, struct fpgadma_query), arg, -ENOTTY);
		r = isatty(fd);
		CHECK_EQ(r, 0);
		CHECK_EQ(errno, ENOTTY);
		t_log("TCGETS, TIOCGWINSZ, neighbouring magics: ENOTTY; isatty() false");
	}
}

static void reserved_fields(void)
{
	size_t page = t_page_size();
	uint8_t *buf = t_map(2 * page);
	struct fpgadma_reg_mr good = { .addr = (uintptr_t)buf, .length = page,
				       .access = FPGADMA_ACCESS_LOCAL_WRITE }, r;
	struct fpgadma_dereg_mr dr;
	struct fpgadma_post p;
	struct fpgadma_sge sg;
	struct fpgadma_wr wr;
	struct t_snap before;
	unsigned int i;

	t_snap_take(&before);
	r = good; r.flags = 1;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	r = good; r.flags = 0x80000000;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	r = good; r.flags = 1U << 2;	/* the first flag bit without a meaning */
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	r = good; r.reserved0 = 1;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	r = good; r.reserved0 = 0x80000000;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	for (i = 0; i < 64; i += 31) {
		r = good;
		r.reserved = 1ULL << i;
		CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	}
	/* outputs of a monitored registration, inputs that must be zero */
	r = good; r.mon_slot = 1;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	r = good; r.mon_gen = 1;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	r = good; r.access = 8;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, -EINVAL);
	/* Output fields are outputs: garbage in them is ignored. */
	r = good; r.lkey = 0xdeadbeef; r.rkey = 1; r.nsegs = 99;
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, &r, 0);
	CHECK_SNAP(&before, 1, 1, "one REG_MR accepted, the bad ones not");
	CHECK_EQ(r.nsegs, 1);
	CHECK_EQ(r.mon_slot, 0);
	CHECK_EQ(r.mon_gen, 0);
	t_log("REG_MR: flags (REQ_RKEY without an rkey, bits 2 and 31), reserved0, reserved, "
	      "mon_slot, mon_gen, unknown access: EINVAL; lkey/rkey/nsegs on input ignored, "
	      "mon_slot and mon_gen 0 out for an unmonitored MR");

	dr = (struct fpgadma_dereg_mr){ .lkey = r.lkey, .flags = 1 };
	CHECK_IOCTL(FPGADMA_IOC_DEREG_MR, &dr, -EINVAL);
	dr = (struct fpgadma_dereg_mr){ .lkey = r.lkey, .reserved = { 0, 1 } };
	CHECK_IOCTL(FPGADMA_IOC_DEREG_MR, &dr, -EINVAL);
	dr = (struct fpgadma_dereg_mr){ .lkey = r.lkey, .reserved = { 1ULL << 63, 0 } };
	CHECK_IOCTL(FPGADMA_IOC_DEREG_MR, &dr, -EINVAL);
	CHECK_SNAP(&before, 1, 1, "refused DEREG_MRs left the MR");

	sg = (struct fpgadma_sge){ .addr = (uintptr_t)buf, .length = 8, .lkey = r.lkey };
	wr = (struct fpgadma_wr){ .wr_id = 1, .opcode = FPGADMA_WR_READ_MEM,
				  .sg_list = (uintptr_t)&sg, .num_sge = 1 };
	p = (struct fpgadma_post){ .wrs = (uintptr_t)&wr, .count = 1, .flags = 1 };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EINVAL);
	p = (struct fpgadma_post){ .wrs = (uintptr_t)&wr, .count = 1, .reserved = { 1, 0 } };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EINVAL);
	p = (struct fpgadma_post){ .wrs = (uintptr_t)&wr, .count = 1, .reserved = { 0, 1 } };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EINVAL);
	p = (struct fpgadma_post){ .wrs = (uintptr_t)&wr, .count = 0 };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EINVAL);
	p = (struct fpgadma_post){ .wrs = 0, .count = 1 };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EFAULT);
	p = (struct fpgadma_post){ .wrs = 0xffff888000000000ULL, .count = 1 };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EFAULT);
	wr.sg_list = 0;
	p = (struct fpgadma_post){ .wrs = (uintptr_t)&wr, .count = 1 };
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EFAULT);
	wr.sg_list = (uintptr_t)(buf + page - 8);	/* runs into unmapped memory */
	wr.num_sge = 2;
	t_unmap(buf + page, page);
	CHECK_IOCTL(FPGADMA_IOC_POST, &p, -EFAULT);
	CHECK_IOCTL(FPGADMA_IOC_POST, NULL, -EFAULT);
	t_log("POST: flags, reserved, count 0: EINVAL; unreadable WR array or SGE list: EFAULT");

	/* The MR survived all of it. */
	dr = (struct fpgadma_dereg_mr){ .lkey = r.lkey };
	CHECK_IOCTL(FPGADMA_IOC_DEREG_MR, &dr, 0);
	CHECK_IOCTL(FPGADMA_IOC_DEREG_MR, &dr, -EINVAL);
	CHECK_IOCTL(FPGADMA_IOC_DEREG_MR, NULL, -EFAULT);
	CHECK_IOCTL(FPGADMA_IOC_REG_MR, NULL, -EFAULT);
	CHECK_SNAP(&before, 0, 0, "after DEREG_MR");
	t_log("DEREG_MR: flags or reserved: EINVAL and the MR stays; NULL argument: EFAULT");

	/* A REG_MR whose answer cannot be written back must not stay registered. */
	{
		uint8_t *ro = t_map(page);
		struct fpgadma_reg_mr *in_ro = (struct fpgadma_reg_mr *)ro;

		*in_ro = good;
		CHECK_SYS(mprotect(ro, page, PROT_READ));
		CHECK_IOCTL(FPGADMA_IOC_REG_MR, in_ro, -EFAULT);
		CHECK_SNAP(&before, 0, 0, "REG_MR with a read-only argument");
		t_unmap(ro, page);
		t_log("REG_MR with its argument in read-only memory: EFAULT, nothing registered");
	}
	t_unmap(buf, page);
}

static void mmap_cases(void)
{
	struct fpgadma_query q;
	size_t page = t_page_size(), ring;
	int fd2 = open("/dev/fpgadma0", O_RDWR | O_CLOEXEC);
	void *m;

	CHECK_SYS(fd2);
	CHECK_EQ(ioctl(fd2, FPGADMA_IOC_QUERY, &q), 0);
	ring = (q.ring_size + page - 1) & ~(page - 1);

	errno = 0;
	CHECK(mmap(NULL, ring, PROT_READ, MAP_SHARED, fd2, (off_t)page) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK(mmap(NULL, page, PROT_READ, MAP_SHARED, fd2, (off_t)page) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK(mmap(NULL, ring + page, PROT_READ, MAP_SHARED, fd2, 0) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK(mmap(NULL, 1ULL << 30, PROT_READ, MAP_SHARED, fd2, 0) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK(mmap(NULL, 0, PROT_READ, MAP_SHARED, fd2, 0) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	m = mmap(NULL, ring, PROT_READ | PROT_EXEC, MAP_SHARED, fd2, 0);
	CHECK(m == MAP_FAILED);
	t_log("mmap: offset one page, length ring + 1 page, 1 GiB, 0: EINVAL; PROT_EXEC refused (%s)",
	      t_errname(errno));

	m = mmap(NULL, ring, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	CHECK(m != MAP_FAILED);
	CHECK_EQ(*(volatile uint32_t *)((char *)m + q.ring_head_off), 0);
	CHECK_EQ(*(volatile uint32_t *)((char *)m + q.ring_tail_off), 0);
	CHECK_EQ(*(volatile uint32_t *)((char *)m + q.ring_flags_off), 0);
	/* A mapped ring cannot be made executable later either. */
	CHECK_ERRNO(mprotect(m, ring, PROT_READ | PROT_EXEC), EACCES);
	CHECK_SYS(munmap(m, ring));
	close(fd2);
	t_log("mmap of the ring at offset 0 with its size: works, head = tail = flags = 0; "
	      "mprotect to PROT_EXEC: EACCES");
}

int main(int argc, char **argv)
{
	struct t_dev d;

	t_init(argc, argv, 55);
	t_open(&d);
	fd = fpgadma_get_fd(d.ctx);
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_QUERY), sizeof(struct fpgadma_query));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_REG_MR), sizeof(struct fpgadma_reg_mr));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_DEREG_MR), sizeof(struct fpgadma_dereg_mr));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_POST), sizeof(struct fpgadma_post));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_BIND_EP), sizeof(struct fpgadma_bind_ep));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_STREAM_START), sizeof(struct fpgadma_stream_start));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_STREAM_STOP), sizeof(struct fpgadma_stream_stop));
	CHECK_EQ(_IOC_SIZE(FPGADMA_IOC_STREAM_STATS), sizeof(struct fpgadma_stream_query));
	CHECK_EQ(_IOC_NR(FPGADMA_IOC_STREAM_STATS), 0x07);
	t_snap_take(&start);

	check_query();
	sizes_and_directions();
	CHECK_SNAP(&start, 0, 0, "after the wrong commands");
	reserved_fields();
	mmap_cases();
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_log("%u ioctl calls, each with the expected result", ncalls);
	t_close(&d);
	t_pass();
}
