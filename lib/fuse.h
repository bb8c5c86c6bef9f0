/* fuse.h: several recommenders' lists of one user fused into one by the
 * z rule (docs/model.md, "The model and EASE fused"): each list's scores
 * standardised over its own entries, z = (score - mean) / sd (0 for a
 * list whose scores are all equal), an item absent from a list taking
 * that list's lowest z; an item's fused score is the sum over lists of
 * weight * z, best first, ties to the item met first, the lists met in
 * rank order, heaviest first (equal weights in their order: a list of
 * weight 0 breaks no tie of the others). mlr-fuse and mlr-recommend
 * --fuse-ease.
 *
 *   mlr_fuse_scratch s = {0};
 *   mlr_fuse_list L[2] = {{n0, items0, scores0}, {n1, items1, scores1}};
 *   size_t got = mlr_fuse_z(L, (double[]){0.6, 0.4}, 2, M, 10, &s, out_item, out_score);
 *   mlr_fuse_scratch_free(&s);
 *
 * Shapes: M the item ids' range, U the union of the lists. */
#ifndef MLR_FUSE_H
#define MLR_FUSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;
    const uint32_t *item; /* (n) item ids < M, in rank order */
    const double *score;  /* (n) */
} mlr_fuse_list;

/* Reused between calls; zero it before the first. */
typedef struct {
    size_t cap_items, cap_u;
    long stamp_now;
    long *stamp;   /* (M) the call that last met the item */
    size_t *slot;  /* (M) its place in that call's union */
    uint32_t *u;   /* (U) the union, in the order met */
    double *fused; /* (U) */
    size_t *order; /* (U) */
    int cap_lists;
    double *stat;  /* (3, lists) each list's mean, 1 / sd and lowest z */
    int *by;       /* (lists) the lists by weight, heaviest first */
} mlr_fuse_scratch;

/* The best k of the n lists fused with weights w into item and score
 * (room for k); returns how many (min(k, U)). */
size_t mlr_fuse_z(const mlr_fuse_list *L, const double *w, int n, size_t m, size_t k,
                  mlr_fuse_scratch *s, uint32_t *item, double *score);
void mlr_fuse_scratch_free(mlr_fuse_scratch *s);

#endif
