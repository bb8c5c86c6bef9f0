/* memo.c: see memo.h. */
#include "memo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlr.h"

void mlr_memo_init(mlr_memo *m, size_t elem)
{
    memset(m, 0, sizeof *m);
    m->texts = mlr_strmap_new(0);
    m->ids.elem = elem;
    m->start.elem = sizeof(size_t);
    *(size_t *)mlr_vec_push(&m->start, 1) = 0;
}

void mlr_memo_free(mlr_memo *m)
{
    mlr_strmap_free(m->texts);
    mlr_vec_free(&m->ids);
    mlr_vec_free(&m->start);
    free(m->by_item);
    m->texts = NULL;
    m->by_item = NULL;
    m->nby_item = 0;
}

/* 1 when entry k (+ 1; 0 none) holds the len bytes at text. */
static int holds(const mlr_memo *m, size_t k, const char *text, size_t len)
{
    return k && mlr_strmap_key_len(m->texts, k - 1) == len &&
           mlr_same_bytes(mlr_strmap_key(m->texts, k - 1), text, len);
}

/* The slot of item in by_item, grown to hold it (doubling, from 1024). */
static size_t *item_slot(mlr_memo *m, size_t item)
{
    if (item == SIZE_MAX)
        return NULL;
    if (item >= m->nby_item) {
        size_t n = m->nby_item ? 2 * m->nby_item : 1024;
        while (n <= item)
            n *= 2;
        m->by_item = xrealloc(m->by_item, n * sizeof *m->by_item);
        memset(m->by_item + m->nby_item, 0, (n - m->nby_item) * sizeof *m->by_item);
        m->nby_item = n;
    }
    return &m->by_item[item];
}

long mlr_memo_find(mlr_memo *m, const char *text, size_t len, size_t item)
{
    if (holds(m, m->last, text, len))
        return (long)m->last - 1;
    size_t *known = item_slot(m, item);
    if (known && holds(m, *known, text, len))
        return (long)*known - 1;
    long k = mlr_strmap_find(m->texts, text, len);
    if (k >= 0 && known)
        *known = (size_t)k + 1;
    m->last = k >= 0 ? (size_t)k + 1 : 0;
    return k;
}

void mlr_memo_add(mlr_memo *m, const char *text, size_t len, const void *ids, size_t n, size_t item)
{
    if (mlr_strmap_count(m->texts) >= MLR_MEMO_MAX)
        return;
    size_t k = mlr_strmap_intern(m->texts, text, len), *known = item_slot(m, item);
    if (n)
        memcpy(mlr_vec_push(&m->ids, n), ids, n * m->ids.elem);
    *(size_t *)mlr_vec_push(&m->start, 1) = m->ids.n;
    if (known)
        *known = k + 1;
}

const void *mlr_memo_ids(const mlr_memo *m, size_t k, size_t *n)
{
    const size_t *start = m->start.p;
    *n = start[k + 1] - start[k];
    return (const char *)m->ids.p + start[k] * m->ids.elem;
}
