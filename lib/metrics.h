/* metrics.h: evaluation figures (SPEC.md, "the seed's evaluation protocol")
 * and the per-user item sets they need.
 *
 * - top-k accuracy: the share of test rows whose true item has rank <= k
 *   (rank by the tie rule of topk.h; an item absent from the catalogue or
 *   from a list is a miss, rank 0 here);
 * - per-user ranking metrics at k over a user's list L (best first) and the
 *   user's relevant set R (the distinct test items), binary relevance:
 *     recall@k    = |L[1..k] & R| / |R|
 *     precision@k = |L[1..k] & R| / k          (k, even when L is shorter)
 *     nDCG@k      = DCG / IDCG, DCG = sum over hits at position i of
 *                   1/log2(i+1), IDCG = sum_{i=1..min(k,|R|)} 1/log2(i+1)
 *     AP@k        = (1/min(k,|R|)) * sum over hits at position i of
 *                   (#hits in L[1..i]) / i;  map@k is its mean
 *     hit_rate@k  = 1 when L[1..k] holds any item of R
 *   each averaged over users (every user with at least one test item);
 * - RMSE and MAE of predicted ratings. */
#ifndef MLR_METRICS_H
#define MLR_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "mlr.h"
#include "strmap.h"

#define MLR_MAX_AT 16

/* ---- top-k accuracy over test rows ---- */
/* The k of the top-k accuracy, top1 .. top100: the one list mlr-score
 * and mlr-train's validation both report. */
#define MLR_ACC_N 5
extern const size_t MLR_ACC_K[MLR_ACC_N];

typedef struct {
    size_t nk, k[MLR_MAX_AT];
    size_t rows;              /* test rows seen */
    size_t hits[MLR_MAX_AT];  /* rows with 1 <= rank <= k[i] */
} mlr_accuracy;

void mlr_accuracy_init(mlr_accuracy *a, const size_t *k, size_t nk);
void mlr_accuracy_add(mlr_accuracy *a, size_t rank); /* 0: a miss */
double mlr_accuracy_value(const mlr_accuracy *a, size_t i); /* 0 when no rows */
/* nDCG@k of one test row whose one relevant item has this rank (0: a
 * miss): 1/log2(rank+1) within k, else 0 (nDCG@k with R = that item). */
double mlr_row_ndcg(size_t rank, size_t k);

/* ---- per-user ranking metrics ---- */
typedef struct {
    double recall, precision, ndcg, ap, hit;
} mlr_user_metrics;

/* Metrics at k of the list (n entries, best first) against rel (nrel >= 1
 * distinct ids, sorted ascending). List entries are ids in the same space;
 * a repeated list entry counts once (its first position). */
void mlr_user_metrics_at(const uint32_t *list, size_t n, const uint32_t *rel,
                         size_t nrel, size_t k, mlr_user_metrics *out);

typedef struct {
    size_t k, users;
    mlr_user_metrics sum;
} mlr_ranking;

void mlr_ranking_init(mlr_ranking *r, size_t k);
void mlr_ranking_add(mlr_ranking *r, const uint32_t *list, size_t n,
                     const uint32_t *rel, size_t nrel);
/* The means over users (zeros when there were none). */
mlr_user_metrics mlr_ranking_mean(const mlr_ranking *r);

/* ---- rating errors ---- */
typedef struct {
    double sse, sae;
    size_t n;
} mlr_errstat;

void mlr_errstat_add(mlr_errstat *s, double pred, double truth);
double mlr_rmse(const mlr_errstat *s); /* 0 when empty */
double mlr_mae(const mlr_errstat *s);

/* ---- per-user item sets read from an interaction table ---- */
typedef struct {
    size_t users;   /* == mlr_strmap_count(users map) when read */
    size_t *off;    /* (users + 1): user u's items are items[off[u] .. off[u+1]) */
    uint32_t *items; /* ids of the item map, sorted ascending, distinct per user */
} mlr_usersets;

/* Reads PATH's user_id and item_id columns. Users are interned into
 * `users` (new users added) unless users_fixed, when rows of unknown users
 * are skipped; items are looked up in `items` and rows of unknown items
 * skipped unless add_items, when they are interned. */
int mlr_usersets_read(mlr_usersets *s, const char *path, mlr_strmap *users,
                      int users_fixed, mlr_strmap *items, int add_items, mlr_err *e);
/* Builds the sets from (user, item) pairs, n of them. */
void mlr_usersets_build(mlr_usersets *s, size_t users, const uint32_t *u,
                        const uint32_t *i, size_t n);
void mlr_usersets_free(mlr_usersets *s); /* accepts a zeroed struct */
/* User u's items and their count (0 and NULL for u >= s->users). */
const uint32_t *mlr_usersets_get(const mlr_usersets *s, size_t u, size_t *n);

/* "10,50" -> k = {10, 50}; each k in [1, 1e6], at most MLR_MAX_AT. */
int mlr_parse_at(const char *s, size_t *k, size_t *nk);

#endif
