/* strmap.h: interning strings to dense ids with an open-addressing hash map.
 *
 * Each distinct byte string gets the next id 0, 1, 2, ... in first-seen
 * order, so callers keep per-key data in plain arrays indexed by id
 * (counts, titles, first timestamps) instead of in the map. Keys are copied
 * into the map (NUL-terminated, may contain NUL bytes when len says so) and
 * stay at a fixed address until mlr_strmap_free, so a key pointer may be
 * kept across later inserts.
 *
 *   mlr_strmap *m = mlr_strmap_new(0);
 *   size_t id = mlr_strmap_intern(m, "Toy Story", 9);   // 0
 *   long j = mlr_strmap_find(m, "Jumanji", 7);           // -1
 *   mlr_strmap_free(m);
 *
 * Out of memory aborts (xmalloc), as everywhere in lib/. Not thread-safe
 * for writers; concurrent finds on a map no one modifies are fine. */
#ifndef MLR_STRMAP_H
#define MLR_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct mlr_strmap mlr_strmap;

/* A new empty map sized for about `expected` keys (0: a small default; the
 * map grows as needed either way). Never NULL. */
mlr_strmap *mlr_strmap_new(size_t expected);

/* Frees the map and every key it holds; key pointers die with it.
 * Accepts NULL. */
void mlr_strmap_free(mlr_strmap *m);

/* The id of the len bytes at s, adding them with the next id (== the count
 * before the call) when absent. s need not be NUL-terminated; len 0 (the
 * empty string) is a valid key, and s may then be NULL. The key interned
 * last is checked first, without hashing: runs of one key are cheap. */
size_t mlr_strmap_intern(mlr_strmap *m, const char *s, size_t len);

/* Like intern, and *added is set to 1 when the key was new, else 0. */
size_t mlr_strmap_intern2(mlr_strmap *m, const char *s, size_t len, int *added);

/* The id of the len bytes at s, or -1 when absent. Never modifies m. */
long mlr_strmap_find(const mlr_strmap *m, const char *s, size_t len);

/* The key with id `id` (< count), NUL-terminated, and its length in bytes.
 * The pointer stays valid until mlr_strmap_free. */
const char *mlr_strmap_key(const mlr_strmap *m, size_t id);
size_t mlr_strmap_key_len(const mlr_strmap *m, size_t id);

/* How many distinct keys the map holds; ids run 0 .. count-1. */
size_t mlr_strmap_count(const mlr_strmap *m);

/* The hash the map uses (seedless, fast, not keyed: do not use it to split
 * data; that is mlr_hash64's job). Exposed for tests and for callers that
 * want to shard keys consistently with the map. */
uint64_t mlr_strmap_hash(const char *s, size_t len);

#endif
