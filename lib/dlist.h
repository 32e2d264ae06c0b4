/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The doubly linked list libfpgadma and the provider share (the provider
 * links libfpgadma in): one implementation, header only, internal.
 */
#ifndef FPGADMA_DLIST_H
#define FPGADMA_DLIST_H

#include <stdbool.h>
#include <stddef.h>

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

struct dl {
	struct dl *prev, *next;
};

static inline void dl_init(struct dl *h)
{
	h->prev = h->next = h;
}

static inline bool dl_empty(const struct dl *h)
{
	return h->next == h;
}

static inline void dl_insert_before(struct dl *pos, struct dl *e)
{
	e->next = pos;
	e->prev = pos->prev;
	pos->prev->next = e;
	pos->prev = e;
}

static inline void dl_add_tail(struct dl *h, struct dl *e)
{
	dl_insert_before(h, e);
}

static inline void dl_add_head(struct dl *h, struct dl *e)
{
	dl_insert_before(h->next, e);
}

static inline void dl_del(struct dl *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

#define dl_first(h, type, member) container_of((h)->next, type, member)
#define dl_foreach_safe(h, pos, tmp) \
	for ((pos) = (h)->next, (tmp) = (pos)->next; (pos) != (h); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif /* FPGADMA_DLIST_H */
