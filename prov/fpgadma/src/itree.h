/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * An interval tree: half-open ranges [start, end) in an AVL tree ordered by
 * start, each node also holding the largest end of its subtree, so that
 * the ranges overlapping or containing a given one are found without
 * looking at the others (O(log n) plus one step per range found).
 *
 * Intrusive (the node lives in the caller's object), no allocation, no
 * locking (the owner's lock covers it) and nothing of libfabric: the
 * registration cache (mrcache.c) keeps its entries in one, and
 * tests/host/itree.c checks it against a plain list.  Ranges may overlap
 * and repeat; nodes with the same start are ordered by their address.
 */
#ifndef FPGADMA_ITREE_H
#define FPGADMA_ITREE_H

#include <stddef.h>
#include <stdint.h>

struct itree_node {
	uint64_t start, end;	/* [start, end), start < end: set before
				 * itree_insert, unchanged while in the tree */
	uint64_t max_end;	/* largest end in the subtree */
	struct itree_node *left, *right;
	int height;		/* of the subtree; a leaf's is 1 */
};

struct itree {
	struct itree_node *root;
	size_t count;		/* nodes in the tree */
};

void itree_init(struct itree *t);
/* Add n (its start and end set, start < end). */
void itree_insert(struct itree *t, struct itree_node *n);
/* Take n out of t; n must be in t. */
void itree_remove(struct itree *t, struct itree_node *n);

/*
 * A visitor: non-zero stops the walk, and the walk returns that value.
 * It must not change the tree (collect what to remove, remove after).
 */
typedef int (*itree_visit_fn)(struct itree_node *n, void *arg);

/*
 * Visit, in order of start, every node overlapping [start, end) (sharing
 * at least one point with it); nothing when start >= end.  Returns 0 or
 * what stopped the walk.
 */
int itree_overlapping(const struct itree *t, uint64_t start, uint64_t end,
		      itree_visit_fn fn, void *arg);
/*
 * Visit, in order of start, every node containing [start, end)
 * (n->start <= start and end <= n->end); nothing when start >= end.
 */
int itree_containing(const struct itree *t, uint64_t start, uint64_t end,
		     itree_visit_fn fn, void *arg);

#endif /* FPGADMA_ITREE_H */
