// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * host_ep_rkeys: rkeys the caller asks for (fpgadma_reg_mr_rkey).
 *
 * Context b registers with a requested rkey: the MR has exactly that key.
 * Context a asking for the same key on the same device gets EEXIST and no
 * MR, and nothing more is pinned or registered; key 0 is EINVAL.  Once b's
 * MR is deregistered, a gets the key.  Nothing stays pinned or registered.
 * On a device without FPGADMA_CAP_HOST_EP (the edu engine) it skips:
 * host_ep_unsupported checks the refusal there.
 */
#include "helpers.h"

int main(int argc, char **argv)
{
	struct fpgadma_mr *m1 = NULL, *m2 = NULL;
	struct t_snap start, before;
	struct t_dev a, b;
	uint32_t key;
	uint8_t *buf;

	t_init(argc, argv, 60);
	t_snap_take(&start);
	t_open_host_ep_pair(&a, &b);
	buf = t_map(8192);
	key = 0x00c0de00 | (uint32_t)(t_now_us() & 0xff);

	CHECK_OK(fpgadma_reg_mr_rkey(b.pd, buf, 4096, FPGADMA_ACCESS_ALL, key, &m1));
	CHECK_EQ(m1->rkey, key);
	t_snap_take(&before);
	CHECK_RET(fpgadma_reg_mr_rkey(a.pd, buf + 4096, 4096, FPGADMA_ACCESS_ALL, key, &m2),
		  -EEXIST);
	CHECK(m2 == NULL);
	CHECK_SNAP(&before, 0, 0, "after EEXIST");
	CHECK_RET(fpgadma_reg_mr_rkey(a.pd, buf, 4096, 0, 0, &m2), -EINVAL);
	CHECK(m2 == NULL);
	CHECK_SNAP(&before, 0, 0, "after EINVAL");
	t_dereg(m1);
	CHECK_OK(fpgadma_reg_mr_rkey(a.pd, buf, 4096, 0, key, &m2));
	CHECK_EQ(m2->rkey, key);
	t_dereg(m2);
	t_unmap(buf, 8192);
	t_log("requested rkey 0x%08x: honoured, EEXIST for another context while taken (nothing "
	      "pinned), key 0 EINVAL, free again after dereg", key);
	t_close(&b);
	t_close(&a);
	CHECK_SNAP(&start, 0, 0, "at the end");
	t_pass();
}
