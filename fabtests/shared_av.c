// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * shared_av: named AVs shared between processes (FI_SHARED_AV, fi_av(3)'s
 * name, FI_READ and map_addr), the way libfabric's fi_rdm_shared_av uses
 * them, against any provider.
 *
 *  1. fi_getinfo with FI_SHARED_AV; a provider without it is skipped,
 *     saying so.
 *  2. fi_av_open with FI_READ of a name nobody created fails (and opens
 *     nothing).
 *  3. The parent creates the AV NAME (fi_av_open without FI_READ); the
 *     forked child opens NAME with FI_READ, before anything is in it.  The
 *     parent then inserts its endpoint's address: map_addr[0] of the
 *     child's AV is its fi_addr, fi_av_lookup there gives the address the
 *     parent inserted, and the child sends 64 B and 1 MiB through it to
 *     the parent, which checks every byte.  fi_av_insert on the child's
 *     read-only AV fails.
 *  4. Once both processes closed it, fi_av_open with FI_READ of NAME
 *     fails: the AV went with them.  On fpgadma also: while the parent
 *     still holds NAME after the child closed it, it can be opened again
 *     (the last process to close a named AV removes it, fi_fpgadma(7)),
 *     its shared memory object is there while it is open and gone after.
 *
 * Usage: shared_av [-p PROV] [-n NAME] (default NAME ft_shared_av.PID).
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SMALL	64
#define BIG	(1024 * 1024)

static char name[128], none[160];
static bool fpgadma;
static int to_child = -1, from_child = -1;	/* the parent's pipe ends */
static int to_parent = -1, from_parent = -1;	/* the child's */

static int opt(int c, const char *arg)
{
	if (c != 'n')
		return -1;
	snprintf(name, sizeof(name), "%s", arg);
	return 0;
}

static struct fi_info *hints(void)
{
	return ft_hints(FI_MSG | FI_SHARED_AV, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
			FI_MR_ALLOCATED | FI_MR_PROV_KEY);
}

/* One message between the processes: a letter and up to 256 bytes. */
struct note {
	char what;
	uint8_t len;
	uint8_t data[256];
};

static void say(int fd, char what, const void *data, size_t len)
{
	struct note n = { .what = what, .len = (uint8_t)len };

	if (len)
		memcpy(n.data, data, len);
	if (write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		ft_fatal("pipe: %s", strerror(errno));
}

/*
 * Wait for the other process's note; it ending first is fatal.  'X' from
 * the parent: it skipped, so does the child.
 */
static void hear(int fd, char want, struct note *n)
{
	struct note tmp;
	ssize_t r;

	if (!n)
		n = &tmp;
	do {
		r = read(fd, n, sizeof(*n));
	} while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(*n))
		ft_fatal("the other process ended while this one waited for '%c'", want);
	if (n->what == 'X' && fd == from_parent)
		exit(FT_SKIP);
	if (n->what != want)
		ft_fatal("the other process said '%c', expected '%c'", n->what, want);
}

static int av_open_named(struct ft_dom *d, const char *avname, uint64_t flags,
			 struct fid_av **av, void **map)
{
	struct fi_av_attr attr = {
		.type = d->info->domain_attr->av_type,
		.count = 4,
		.name = avname,
		.flags = flags,
	};
	int ret;

	*av = NULL;
	ret = fi_av_open(d->domain, &attr, av, NULL);
	if (map)
		*map = ret ? NULL : attr.map_addr;
	return ret;
}

/* fpgadma's shared memory object of the AV NAME (fi_fpgadma(7)). */
static bool fpgadma_shm_exists(const char *avname)
{
	char obj[256];
	int fd;

	snprintf(obj, sizeof(obj), "/fpgadma-av-%u-%s", (unsigned int)getuid(), avname);
	fd = shm_open(obj, O_RDONLY, 0);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

struct bufs {
	uint8_t *small, *big;
	struct fid_mr *mr_small, *mr_big;
	void *desc_small, *desc_big;
};

static void bufs_open(struct ft_dom *d, struct ft_ep *e, struct bufs *b, uint64_t access)
{
	memset(b, 0, sizeof(*b));
	b->small = ft_xmalloc(SMALL);
	b->big = ft_xmalloc(BIG);
	if (!ft_need_desc(d))
		return;
	if (ft_mr_reg(d, e, b->small, SMALL, access, ft_next_key(), &b->mr_small) ||
	    ft_mr_reg(d, e, b->big, BIG, access, ft_next_key(), &b->mr_big))
		ft_fatal("fi_mr_reg of the message buffers failed");
	b->desc_small = fi_mr_desc(b->mr_small);
	b->desc_big = fi_mr_desc(b->mr_big);
}

static void bufs_close(struct bufs *b)
{
	ft_close_fid(b->mr_small ? &b->mr_small->fid : NULL, "mr");
	ft_close_fid(b->mr_big ? &b->mr_big->fid : NULL, "mr");
	free(b->small);
	free(b->big);
}

/* The child: a reader of the parent's AV, sending through it. */
static void child(void)
{
	struct ft_dom d;
	struct ft_ep e;
	struct bufs b;
	struct ft_op op1 = { .what = "send 64 B" }, op2 = { .what = "send 1 MiB" };
	struct fid_av *rav;
	struct note n;
	uint8_t addr[256];
	size_t len = sizeof(addr);
	fi_addr_t peer;
	void *map;
	int ret;

	hear(from_parent, 'C', NULL);
	if (ft_open_dom(hints(), &d, NULL))
		ft_fatal("child: fi_getinfo found no match (the parent's did)");
	ret = av_open_named(&d, name, FI_READ, &rav, &map);
	if (ret)
		ft_fatal("child: fi_av_open(\"%s\", FI_READ): %s", name, ft_strerr(ret));
	if (!map)
		ft_fatal("child: fi_av_open(\"%s\", FI_READ) set no map_addr", name);
	/* The endpoint uses the shared AV. */
	ft_close_fid(&d.av->fid, "child's own av");
	d.av = rav;
	ft_open_ep(&d, &e, "child");
	bufs_open(&d, &e, &b, FI_SEND);
	say(to_parent, 'O', NULL, 0);

	hear(from_parent, 'I', &n);	/* the parent's address is in now */
	peer = ((fi_addr_t *)map)[0];
	ft_log("child: map_addr[0] is fi_addr %llu", (unsigned long long)peer);
	ret = fi_av_lookup(rav, peer, addr, &len);
	ft_check(!ret, "child: fi_av_lookup of map_addr[0]: %s", ft_strerr(ret));
	ft_check(ret || (len == n.len && !memcmp(addr, n.data, n.len)),
		 "child: fi_av_lookup of map_addr[0] is not the address the parent inserted");

	ft_fill(b.small, SMALL, 1, 0);
	ft_fill(b.big, BIG, 2, 0);
	ret = (int)FT_POST(fi_send(e.ep, b.small, SMALL, b.desc_small, peer, &op1));
	if (ret)
		ft_fatal("child: fi_send: %s", ft_strerr(ret));
	ret = (int)FT_POST(fi_send(e.ep, b.big, BIG, b.desc_big, peer, &op2));
	if (ret)
		ft_fatal("child: fi_send: %s", ft_strerr(ret));
	ft_wait_op(&e.cq, &op1, NULL);
	ft_wait_op(&e.cq, &op2, NULL);

	/* A read-only AV takes no address. */
	ret = fi_av_insert(rav, e.name, 1, NULL, 0, NULL);
	if (fpgadma)
		ft_check(ret == -FI_EPERM, "child: fi_av_insert on the FI_READ AV: %d (%s), "
			 "expected -FI_EPERM", ret, ft_strerr(ret));
	else if (!ft_known_issue(&d, "shared-av-ro-insert"))
		ft_check(ret < 0, "child: fi_av_insert on the FI_READ AV returned %d, "
			 "expected an error", ret);
	ft_log("child: fi_av_insert on the FI_READ AV: %d (%s)", ret,
	       ret < 0 ? ft_strerr(ret) : "no error");

	ft_close_ep(&e);
	bufs_close(&b);
	ft_close_dom(&d);	/* closes the shared AV */
	say(to_parent, 'D', NULL, 0);
}

/* FI_READ of a name nobody created fails cleanly. */
static void nobodys_name(struct ft_dom *d)
{
	struct fid_av *av;
	int ret = av_open_named(d, none, FI_READ, &av, NULL);

	ft_check(ret < 0, "fi_av_open(\"%s\", FI_READ) of a name nobody created: %d", none, ret);
	if (fpgadma)
		ft_check(ret == -FI_ENOENT, "fi_av_open(\"%s\", FI_READ): %d (%s), expected "
			 "-FI_ENOENT", none, ret, ft_strerr(ret));
	if (!ret)
		ft_close_fid(&av->fid, "av of nobody's name");
	ft_log("FI_READ of a name nobody created: %d (%s)", ret, ft_strerr(ret));
}

/* The parent: creates the AV, puts its endpoint in, receives. */
static void parent(pid_t pid)
{
	struct ft_dom d;
	struct ft_ep e;
	struct bufs b;
	struct ft_op op1 = { .what = "recv 64 B" }, op2 = { .what = "recv 1 MiB" };
	struct ft_comp c;
	struct fid_av *sav, *again;
	const char *why = NULL;
	fi_addr_t fa = FI_ADDR_NOTAVAIL;
	void *map;
	int ret, st;

	if (ft_open_dom(hints(), &d, &why)) {
		struct fi_info *plain = ft_hints(FI_MSG, FI_MR_LOCAL | FI_MR_VIRT_ADDR |
						 FI_MR_ALLOCATED | FI_MR_PROV_KEY);
		struct ft_dom tmp;
		bool exists = !ft_open_dom(plain, &tmp, NULL);

		if (exists)
			ft_close_dom(&tmp);
		say(to_child, 'X', NULL, 0);
		waitpid(pid, &st, 0);
		ft_skip("provider %s: %s", ft_opts.prov ? ft_opts.prov : "(any)",
			exists ? "no FI_SHARED_AV (named AVs)" : why);
	}
	ft_describe(&d);
	ft_check(d.info->caps & FI_SHARED_AV, "FI_SHARED_AV asked, not in info->caps");
	if (fpgadma)
		ft_check(d.info->domain_attr->caps & FI_SHARED_AV,
			 "fpgadma: FI_SHARED_AV not in domain_attr->caps");

	nobodys_name(&d);

	ft_open_ep(&d, &e, "parent");
	bufs_open(&d, &e, &b, FI_RECV);
	ret = av_open_named(&d, name, 0, &sav, &map);
	if (ret == -FI_ENOSYS) {
		/* fpgadma on a kernel without file locks (fi_fpgadma(7)) */
		say(to_child, 'X', NULL, 0);
		waitpid(pid, &st, 0);
		ft_skip("provider %s: fi_av_open(\"%s\"): %s: no named AVs here",
			d.info->fabric_attr->prov_name, name, ft_strerr(ret));
	}
	if (ret)
		ft_fatal("fi_av_open(\"%s\"): %s", name, ft_strerr(ret));
	ft_check(map != NULL, "fi_av_open(\"%s\") set no map_addr", name);
	if (fpgadma)
		ft_check(fpgadma_shm_exists(name), "fpgadma: no shared memory object for \"%s\"",
			 name);
	say(to_child, 'C', NULL, 0);
	hear(from_child, 'O', NULL);	/* the child has opened it, empty */

	ret = fi_av_insert(sav, e.name, 1, &fa, 0, NULL);
	if (ret != 1)
		ft_fatal("fi_av_insert into \"%s\": %d (%s)", name, ret, ft_strerr(ret));
	if (map)
		ft_check(((fi_addr_t *)map)[0] == fa, "map_addr[0] is %llu, the inserted "
			 "address's fi_addr %llu", (unsigned long long)((fi_addr_t *)map)[0],
			 (unsigned long long)fa);
	FT_CALL(FT_POST(fi_recv(e.ep, b.small, SMALL, b.desc_small, FI_ADDR_UNSPEC, &op1)));
	FT_CALL(FT_POST(fi_recv(e.ep, b.big, BIG, b.desc_big, FI_ADDR_UNSPEC, &op2)));
	say(to_child, 'I', e.name, e.namelen);

	ft_wait_op(&e.cq, &op1, &c);
	ft_check(c.e.len == SMALL, "64 B message: length %zu", c.e.len);
	ft_expect_pattern(b.small, SMALL, 1, 0, "64 B message through the shared AV");
	ft_wait_op(&e.cq, &op2, &c);
	ft_check(c.e.len == BIG, "1 MiB message: length %zu", c.e.len);
	ft_expect_pattern(b.big, BIG, 2, 0, "1 MiB message through the shared AV");
	ft_log("the child sent 64 B and 1 MiB through map_addr[0] of its read-only AV");

	hear(from_child, 'D', NULL);	/* the child closed everything */
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		ft_error("the child failed (status 0x%x)", st);

	/* The parent still holds it: on fpgadma, it is still there. */
	ret = av_open_named(&d, name, FI_READ, &again, NULL);
	ft_log("FI_READ of \"%s\" after the child closed it, the parent holding it: %s",
	       name, ret ? ft_strerr(ret) : "opened");
	if (fpgadma)
		ft_check(!ret, "fpgadma: \"%s\" went when the child closed it, the parent "
			 "holding it: %s", name, ft_strerr(ret));
	if (!ret)
		ft_close_fid(&again->fid, "av opened again");

	ft_close_fid(&sav->fid, "shared av");
	ret = av_open_named(&d, name, FI_READ, &again, NULL);
	ft_check(ret < 0, "FI_READ of \"%s\" after both processes closed it: %d, "
		 "expected an error (the AV should be gone)", name, ret);
	if (!ret)
		ft_close_fid(&again->fid, "av after close");
	if (fpgadma)
		ft_check(!fpgadma_shm_exists(name), "fpgadma: the shared memory object of "
			 "\"%s\" is still there after both closed it", name);
	ft_log("FI_READ of \"%s\" after both processes closed it: %d (%s)", name, ret,
	       ft_strerr(ret));

	ft_close_ep(&e);
	bufs_close(&b);
	ft_close_dom(&d);
}

int main(int argc, char **argv)
{
	int p2c[2], c2p[2];
	pid_t pid;

	snprintf(name, sizeof(name), "ft_shared_av.%d", (int)getpid());
	ft_parse(argc, argv, "n:", "[-n NAME]", opt);
	snprintf(none, sizeof(none), "%s.nobody", name);
	fpgadma = ft_opts.prov && !strcmp(ft_opts.prov, "fpgadma");
	ft_log("AV name \"%s\", provider %s", name, ft_opts.prov ? ft_opts.prov : "any");
	if (pipe(p2c) || pipe(c2p))
		ft_fatal("pipe: %s", strerror(errno));
	/* Fork before libfabric is used: each process opens its own. */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ft_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		from_parent = p2c[0];
		to_parent = c2p[1];
		child();
		exit(ft_failures() ? FT_FAIL : FT_PASS);
	}
	close(p2c[0]);
	close(c2p[1]);
	to_child = p2c[1];
	from_child = c2p[0];
	parent(pid);
	return ft_finish("named AV \"%s\" shared by two processes", name);
}
