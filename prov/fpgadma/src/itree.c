// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fpgadma provider: the interval tree (itree.h).
 *
 * An AVL tree: the heights of a node's two subtrees differ by at most one,
 * so its depth stays below 1.45 log2(n + 2) and the recursions here stay
 * shallow (under 100 levels for any number of nodes memory can hold).
 * Every change goes back up the path it took and recomputes height and
 * max_end there, rotating where a node is out of balance; a rotation
 * recomputes the two nodes it moves.
 */
#include <stdbool.h>

#include "itree.h"

static int height(const struct itree_node *n)
{
	return n ? n->height : 0;
}

/* The order of the tree: by start, then by the node's address. */
static bool before(const struct itree_node *a, const struct itree_node *b)
{
	if (a->start != b->start)
		return a->start < b->start;
	return (uintptr_t)a < (uintptr_t)b;
}

/* Height and max_end of n from its own range and its children's. */
static void update(struct itree_node *n)
{
	int hl = height(n->left), hr = height(n->right);

	n->height = 1 + (hl > hr ? hl : hr);
	n->max_end = n->end;
	if (n->left && n->left->max_end > n->max_end)
		n->max_end = n->left->max_end;
	if (n->right && n->right->max_end > n->max_end)
		n->max_end = n->right->max_end;
}

static struct itree_node *rotate_right(struct itree_node *x)
{
	struct itree_node *y = x->left;

	x->left = y->right;
	y->right = x;
	update(x);
	update(y);
	return y;
}

static struct itree_node *rotate_left(struct itree_node *x)
{
	struct itree_node *y = x->right;

	x->right = y->left;
	y->left = x;
	update(x);
	update(y);
	return y;
}

/* n's subtrees are balanced and differ by at most two: balance n. */
static struct itree_node *balance(struct itree_node *n)
{
	int diff = height(n->left) - height(n->right);

	update(n);
	if (diff > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rotate_left(n->left);
		return rotate_right(n);
	}
	if (diff < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rotate_right(n->right);
		return rotate_left(n);
	}
	return n;
}

static struct itree_node *insert(struct itree_node *root, struct itree_node *n)
{
	if (!root) {
		n->left = n->right = NULL;
		update(n);
		return n;
	}
	if (before(n, root))
		root->left = insert(root->left, n);
	else
		root->right = insert(root->right, n);
	return balance(root);
}

/* Detach the first node of the subtree x into *min; the subtree left. */
static struct itree_node *remove_min(struct itree_node *x,
				     struct itree_node **min)
{
	if (!x->left) {
		*min = x;
		return x->right;
	}
	x->left = remove_min(x->left, min);
	return balance(x);
}

static struct itree_node *remove_node(struct itree_node *root,
				      struct itree_node *n)
{
	struct itree_node *min, *rest;

	if (!root)
		return NULL;	/* not in the tree: a caller's bug */
	if (root != n) {
		if (before(n, root))
			root->left = remove_node(root->left, n);
		else
			root->right = remove_node(root->right, n);
		return balance(root);
	}
	if (!n->left)
		return n->right;
	if (!n->right)
		return n->left;
	/* n's successor takes its place */
	rest = remove_min(n->right, &min);
	min->left = n->left;
	min->right = rest;
	return balance(min);
}

void itree_init(struct itree *t)
{
	t->root = NULL;
	t->count = 0;
}

void itree_insert(struct itree *t, struct itree_node *n)
{
	t->root = insert(t->root, n);
	t->count++;
}

void itree_remove(struct itree *t, struct itree_node *n)
{
	t->root = remove_node(t->root, n);
	n->left = n->right = NULL;
	t->count--;
}

static int overlapping(struct itree_node *n, uint64_t start, uint64_t end,
		       itree_visit_fn fn, void *arg)
{
	int ret;

	/* nothing here ends after start */
	if (!n || n->max_end <= start)
		return 0;
	ret = overlapping(n->left, start, end, fn, arg);
	if (ret)
		return ret;
	/* n and its right subtree begin at or after end */
	if (n->start >= end)
		return 0;
	if (n->end > start) {
		ret = fn(n, arg);
		if (ret)
			return ret;
	}
	return overlapping(n->right, start, end, fn, arg);
}

int itree_overlapping(const struct itree *t, uint64_t start, uint64_t end,
		      itree_visit_fn fn, void *arg)
{
	if (start >= end)
		return 0;
	return overlapping(t->root, start, end, fn, arg);
}

static int containing(struct itree_node *n, uint64_t start, uint64_t end,
		      itree_visit_fn fn, void *arg)
{
	int ret;

	/* nothing here reaches end */
	if (!n || n->max_end < end)
		return 0;
	ret = containing(n->left, start, end, fn, arg);
	if (ret)
		return ret;
	/* n and its right subtree begin after start */
	if (n->start > start)
		return 0;
	if (n->end >= end) {
		ret = fn(n, arg);
		if (ret)
			return ret;
	}
	return containing(n->right, start, end, fn, arg);
}

int itree_containing(const struct itree *t, uint64_t start, uint64_t end,
		     itree_visit_fn fn, void *arg)
{
	if (start >= end)
		return 0;
	return containing(t->root, start, end, fn, arg);
}
