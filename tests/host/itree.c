// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The provider's interval tree (prov/fpgadma/src/itree.[ch]) against a
 * plain list: thousands of random ranges (many overlapping, some repeated,
 * some touching end to start) inserted and removed in rounds; after each
 * round the tree's shape is checked (order, AVL balance, heights, max_end,
 * count) and every query of a few hundred random ones, plus ranges taken
 * from the nodes themselves and their edges, must visit exactly the nodes
 * the list says overlap or contain it, in order of start, each once.  A
 * visitor that stops the walk must stop it there.
 *
 * FPGADMA_ITREE_SEED=<n> picks another sequence (the default is fixed, so
 * a failure repeats).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "itree.h"
#include "check.h"

#define NODES	4000
#define ROUNDS	40
#define QUERIES	300
#define SPACE	200000		/* starts fall in [0, SPACE) */

static struct itree_node nodes[NODES];
static bool in_tree[NODES];
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

/* A random range: mostly short, some long, some copies or neighbours of others. */
static void random_range(uint64_t *start, uint64_t *end)
{
	uint64_t kind = rnd_below(10), len;
	const struct itree_node *o = &nodes[rnd_below(NODES)];

	if (kind == 0 && o->end > o->start) {		/* a copy */
		*start = o->start;
		*end = o->end;
		return;
	}
	if (kind == 1 && o->end > o->start) {		/* starts where o ends */
		*start = o->end;
		*end = o->end + 1 + rnd_below(3000);
		return;
	}
	*start = rnd_below(SPACE);
	len = kind == 2 ? 1 + rnd_below(SPACE) : 1 + rnd_below(2000);
	if (kind == 3)
		len = 1;
	*end = *start + len;
}

/* --- the tree's shape ----------------------------------------------------- */

struct shape {
	size_t count;
	bool ok;
	const struct itree_node *prev;	/* in-order predecessor */
};

static int check_subtree(const struct itree_node *n, struct shape *s)
{
	int hl, hr, h;
	uint64_t max;

	if (!n)
		return 0;
	hl = check_subtree(n->left, s);
	/* in order: by start, then by address */
	if (s->prev && (s->prev->start > n->start ||
			(s->prev->start == n->start &&
			 (uintptr_t)s->prev >= (uintptr_t)n)))
		s->ok = false;
	s->prev = n;
	s->count++;
	hr = check_subtree(n->right, s);
	h = 1 + (hl > hr ? hl : hr);
	if (n->height != h || hl - hr > 1 || hr - hl > 1)
		s->ok = false;
	max = n->end;
	if (n->left && n->left->max_end > max)
		max = n->left->max_end;
	if (n->right && n->right->max_end > max)
		max = n->right->max_end;
	if (n->max_end != max || n->start >= n->end)
		s->ok = false;
	return h;
}

static void check_shape(const struct itree *t, size_t expect)
{
	struct shape s = { .ok = true };
	int h = check_subtree(t->root, &s);

	CHECK(s.ok);
	CHECK_EQ(s.count, expect);
	CHECK_EQ(t->count, expect);
	/* AVL: depth below 1.45 log2(n + 2) */
	if (expect) {
		int bound = 2;
		size_t n = expect + 2;

		while (n >>= 1)
			bound++;
		CHECK(h <= (bound * 145) / 100 + 1);
	}
}

/* --- queries --------------------------------------------------------------- */

struct visit {
	const struct itree_node *seen[NODES];
	size_t n;
	size_t stop_after;		/* stop the walk after this many (0: never) */
};

static int collect(struct itree_node *n, void *arg)
{
	struct visit *v = arg;

	if (v->n < NODES)
		v->seen[v->n] = n;
	v->n++;
	if (v->stop_after && v->n == v->stop_after)
		return 42;
	return 0;
}

static bool overlaps(const struct itree_node *n, uint64_t s, uint64_t e)
{
	return n->start < e && s < n->end;
}

static bool contains(const struct itree_node *n, uint64_t s, uint64_t e)
{
	return n->start <= s && e <= n->end;
}

/*
 * One query against the list: the same nodes, in order of start, each
 * once (overlapping, or with contain, containing).
 */
static void check_query(const struct itree *t, uint64_t s, uint64_t e,
			bool contain)
{
	static struct visit v;
	static bool mark[NODES];
	size_t expect = 0, i;
	bool good = true;

	memset(mark, 0, sizeof(mark));
	v.n = 0;
	v.stop_after = 0;
	if (contain)
		CHECK_EQ(itree_containing(t, s, e, collect, &v), 0);
	else
		CHECK_EQ(itree_overlapping(t, s, e, collect, &v), 0);
	for (i = 0; i < NODES; i++)
		if (in_tree[i] && s < e &&
		    (contain ? contains(&nodes[i], s, e) :
			       overlaps(&nodes[i], s, e)))
			expect++;
	if (v.n != expect) {
		fprintf(stderr, "%s [%llu, %llu): %zu nodes visited, %zu expected\n",
			contain ? "containing" : "overlapping",
			(unsigned long long)s, (unsigned long long)e, v.n, expect);
		good = false;
	}
	for (i = 0; i < v.n && i < NODES; i++) {
		size_t k = (size_t)(v.seen[i] - nodes);

		if (k >= NODES || !in_tree[k] || mark[k] ||
		    !(contain ? contains(v.seen[i], s, e) :
				overlaps(v.seen[i], s, e)) ||
		    (i && v.seen[i - 1]->start > v.seen[i]->start))
			good = false;
		if (k < NODES)
			mark[k] = true;
	}
	CHECK(good);

	/* A walk stopped by its visitor ends there with the visitor's value. */
	if (expect >= 2) {
		size_t stop = 1 + rnd_below(expect);
		int ret;

		v.n = 0;
		v.stop_after = stop;
		ret = contain ? itree_containing(t, s, e, collect, &v) :
				itree_overlapping(t, s, e, collect, &v);
		CHECK_EQ(ret, 42);
		CHECK_EQ(v.n, stop);
	}
}

static void check_queries(const struct itree *t)
{
	int q;

	for (q = 0; q < QUERIES; q++) {
		uint64_t s, e;

		random_range(&s, &e);
		check_query(t, s, e, false);
		check_query(t, s, e, true);
	}
	/* Ranges of live nodes, their first and last byte, the byte after. */
	for (q = 0; q < 50; q++) {
		const struct itree_node *n = &nodes[rnd_below(NODES)];

		if (n->start >= n->end)
			continue;
		check_query(t, n->start, n->end, true);
		check_query(t, n->start, n->end, false);
		check_query(t, n->start, n->start + 1, true);
		check_query(t, n->end - 1, n->end, false);
		check_query(t, n->end, n->end + 1, false);
	}
	/* Empty and whole-space queries. */
	check_query(t, 5, 5, false);
	check_query(t, 7, 3, true);
	check_query(t, 0, UINT64_MAX, false);
}

int main(void)
{
	const char *seed = getenv("FPGADMA_ITREE_SEED");
	struct itree t;
	size_t live = 0, i;
	int round;

	if (seed && *seed)
		rng_state = strtoull(seed, NULL, 0) | 1;
	itree_init(&t);
	check_shape(&t, 0);
	check_query(&t, 0, 100, false);

	for (round = 0; round < ROUNDS; round++) {
		/* early rounds grow the tree, later ones mostly churn it */
		size_t ops = NODES / 2, k;
		unsigned int grow = round < ROUNDS / 4 ? 80 : 50;

		for (k = 0; k < ops; k++) {
			size_t j = (size_t)rnd_below(NODES);

			if (!in_tree[j] && rnd_below(100) < grow) {
				random_range(&nodes[j].start, &nodes[j].end);
				itree_insert(&t, &nodes[j]);
				in_tree[j] = true;
				live++;
			} else if (in_tree[j] && rnd_below(100) >= grow) {
				itree_remove(&t, &nodes[j]);
				in_tree[j] = false;
				live--;
			}
		}
		check_shape(&t, live);
		check_queries(&t);
		if (check_failures) {
			fprintf(stderr, "round %d: %zu nodes\n", round, live);
			break;
		}
	}

	/* Empty it in random order, checking as it shrinks. */
	for (i = 0; i < NODES; i++) {
		size_t j = (i * 7919) % NODES;

		if (!in_tree[j])
			continue;
		itree_remove(&t, &nodes[j]);
		in_tree[j] = false;
		live--;
		if (live % 500 == 0) {
			check_shape(&t, live);
			check_queries(&t);
		}
	}
	CHECK(t.root == NULL);
	CHECK_EQ(t.count, 0);
	return test_exit("itree");
}
