/* topk.h: exact top-k retrieval by inner product, and the rank of one item.
 *
 * Shape letters (the same in every header of lib/): N rows of a file,
 * B query rows in a block, I catalogue items, D the width of the vectors
 * (a tower's output, as mlr-embed writes them), k the list length.
 *
 * The order (the rank tie rule, docs/features.md): item a ranks before item
 * b when score(a) > score(b), or when the scores are equal and a's catalogue
 * index is smaller. So the rank of item t is
 *     1 + #{j : s_j > s_t} + #{j < t : s_j == s_t}.
 * mlr-topk, mlr-score, mlr-baseline and mlr-train's validation all use it,
 * which makes every list and every figure deterministic.
 *
 * Exclusion lists (`excl`, `nexcl`) are catalogue indices sorted ascending;
 * duplicates and indices >= I are allowed and ignored; excl may be NULL
 * when nexcl is 0. */
#ifndef MLR_TOPK_H
#define MLR_TOPK_H

#include <stddef.h>
#include <stdint.h>
#include "mlr.h"
#include "strmap.h"

typedef struct {
    float score;
    uint32_t item; /* catalogue index */
} mlr_hit;

/* 1 when a ranks before b under the tie rule above. */
static inline int mlr_hit_before(mlr_hit a, mlr_hit b)
{
    return a.score > b.score || (a.score == b.score && a.item < b.item);
}

/* ---- one row of scores ---- */

/* The k best of scores[0..m) that are not excluded, best first, into out
 * (room for k). Returns how many were written: min(k, m - #excluded).
 * Bounded min-heap of size k plus a vectorised threshold scan; scores is
 * scratch: excluded entries are overwritten with -INFINITY. */
size_t mlr_topk_select(float *scores, size_t m, size_t k,
                       const uint32_t *excl, size_t nexcl, mlr_hit *out);
/* The naive twin: a full sort of every candidate. Leaves scores alone. */
size_t mlr_topk_select_naive(const float *scores, size_t m, size_t k,
                             const uint32_t *excl, size_t nexcl, mlr_hit *out);

/* The 1-based rank of item t (< m) among the items not excluded (t itself
 * counts as not excluded even when listed). */
size_t mlr_topk_rank(const float *scores, size_t m, size_t t,
                     const uint32_t *excl, size_t nexcl);
size_t mlr_topk_rank_naive(const float *scores, size_t m, size_t t,
                           const uint32_t *excl, size_t nexcl);

/* ---- blocks of queries against the catalogue ---- */

/* scores (B, I) = q (B, D) . items (I, D)^T: nn_matmul_nt (one cblas_sgemm)
 * and its naive twin. */
void mlr_scores(float *scores, const float *q, size_t b,
                const float *items, size_t m, size_t d);
void mlr_scores_naive(float *scores, const float *q, size_t b,
                      const float *items, size_t m, size_t d);

/* The catalogue and per-thread scratch: each worker scores `tile` query
 * rows at a time (a (tile, I) buffer that stays in cache) and hands each
 * row to a callback. With threads > 1 the caller should make OpenBLAS
 * single-threaded (openblas_set_num_threads(1)): the parallelism is ours. */
typedef struct mlr_scorer mlr_scorer;

/* items (I, D) is borrowed and must outlive the scorer. tile 0 means 32,
 * threads < 1 means 1. Never NULL (out of memory aborts). */
mlr_scorer *mlr_scorer_new(const float *items, size_t m, size_t d,
                           size_t tile, int threads);
void mlr_scorer_free(mlr_scorer *s); /* accepts NULL */

/* Calls fn(row, scores, arg) for each row of q (B, D), scores being that
 * row's (I) scores against every item; fn may overwrite them. Whole tiles
 * are split across the threads; fn must only touch its own row's outputs.
 * A row's scores depend only on its place within its tile: feed blocks
 * that start at multiples of mlr_scorer_tile() and they are the same bits
 * whatever the block size, the threads or the sharding. */
typedef void (*mlr_row_fn)(size_t row, float *scores, void *arg);
void mlr_scorer_run(mlr_scorer *s, const float *q, size_t b,
                    mlr_row_fn fn, void *arg);
size_t mlr_scorer_tile(const mlr_scorer *s);

/* The top k of each row of q (B, D): out (B, k) best first, count (B) how
 * many of each row are filled. excl/nexcl: per-row exclusions, or NULL. */
void mlr_topk_block(mlr_scorer *s, const float *q, size_t b, size_t k,
                    const uint32_t *const *excl, const size_t *nexcl,
                    mlr_hit *out, size_t *count);

/* ---- output ---- */

/* x formatted exactly as printf("%.6g") does, without printf's cost for the
 * common range (1e-4 <= |x| < 1e6); buf needs 32 bytes. Returns the length
 * (buf is NUL-terminated). */
size_t mlr_fmt_g6(char *buf, float x);
/* n in decimal; buf needs 21 bytes. Returns the length (NUL-terminated). */
size_t mlr_fmt_size(char *buf, size_t n);

/* One query's list rows, "query\t[user\t]rank\titem_id\tscore\n" for each
 * of the n hits (rank from 1), into buf; returns the bytes written. user
 * NULL leaves the user column out. Item ids are the keys of `items` (the
 * catalogue map, key i = catalogue index i). buf needs
 * n * (80 + ulen + longest item id) bytes. */
size_t mlr_topk_format(char *buf, size_t query, const char *user, size_t ulen,
                       const mlr_hit *h, size_t n, const mlr_strmap *items);

/* ---- streaming the rows of a (N, D) <f4 .npy, from a file or a pipe ---- */
typedef struct {
    FILE *fp;
    int own;          /* fp is ours to close (not stdin) */
    const char *name; /* for messages: the path, or "stdin" */
    size_t rows, cols, done;
} mlr_npy_rows;

/* Opens PATH ("-" is stdin) and reads the header: a 2-D <f4 array or an
 * error naming the file. */
int mlr_npy_rows_open(mlr_npy_rows *s, const char *path, mlr_err *e);
/* Reads up to max rows into buf (max, cols); returns how many (0 at the
 * end, after checking that nothing follows), or -1 on a truncated file or
 * a non-finite value ("Q.npy: row 7: non-finite value"). */
long mlr_npy_rows_read(mlr_npy_rows *s, float *buf, size_t max, mlr_err *e);
void mlr_npy_rows_close(mlr_npy_rows *s); /* accepts a closed or zeroed one */

/* 1 when every one of n floats is finite; else 0 and *bad = the first bad. */
int mlr_all_finite(const float *x, size_t n, size_t *bad);

#endif
