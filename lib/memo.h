/* memo.h: raw text -> the ids it encodes to, for the multi/words features
 * of mlr-vocab (counter ids) and mlr-encode (vocabulary ids). Most rows
 * repeat an item's title and genres or a user's occupation, so a hit
 * saves normalising, splitting and hashing each token.
 *
 *   mlr_memo m;
 *   mlr_memo_init(&m, sizeof(int32_t));
 *   long k = mlr_memo_find(&m, text, len, item);
 *   if (k >= 0) ids = mlr_memo_ids(&m, (size_t)k, &n);
 *   else { ...tokenise into buf, n ids...; mlr_memo_add(&m, text, len, buf, n, item); }
 *   mlr_memo_free(&m);
 *
 * A lookup tries, before the hash map, the entry of the previous lookup
 * (user-side lists repeat row after row in user-ordered input) and the
 * entry last met with the row's item (item-side lists: a compare instead
 * of a hash). item is the row's item id, or SIZE_MAX for none. */
#ifndef MLR_MEMO_H
#define MLR_MEMO_H

#include <stddef.h>
#include <string.h>

#include "strmap.h"
#include "vec.h"

/* Distinct texts remembered; past it, texts are tokenised every time. */
#define MLR_MEMO_MAX ((size_t)1 << 20)

typedef struct {
    mlr_strmap *texts;         /* text -> entry */
    mlr_vec ids;               /* (elem bytes) the ids of every entry back to back */
    mlr_vec start;             /* size_t (entries + 1): where each entry's ids start */
    size_t last;               /* entry + 1 of the previous hit, 0 none */
    size_t *by_item, nby_item; /* entry + 1 last met with each item id, 0 none */
} mlr_memo;

/* An empty memo of ids elem bytes each. */
void mlr_memo_init(mlr_memo *m, size_t elem);
/* Frees it all; accepts a zeroed memo. */
void mlr_memo_free(mlr_memo *m);
/* The entry holding the len bytes at text, or -1. */
long mlr_memo_find(mlr_memo *m, const char *text, size_t len, size_t item);
/* Remembers text (not in the memo) with its n ids (may be 0); does
 * nothing once MLR_MEMO_MAX texts are held. */
void mlr_memo_add(mlr_memo *m, const char *text, size_t len, const void *ids, size_t n, size_t item);
/* The ids of entry k and, in *n, how many. */
const void *mlr_memo_ids(const mlr_memo *m, size_t k, size_t *n);

/* a[0..n) == b[0..n): ids and tokens are short, and a memcmp call costs
 * more than the comparison. */
static inline int mlr_same_bytes(const char *a, const char *b, size_t n)
{
    if (n > 16)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

#endif
