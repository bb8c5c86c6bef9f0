/* tower.h: a tower (or the rating head's MLP) on a batch of rows: its
 * activations, forward and backward (tower.c). The trainer (train.c) and
 * inference (model_embed, model_predict) run on these; tools never do.
 *
 * Shape letters (the same in every header of lib/):
 *   B  rows of a batch           E  embedding width (--dim)
 *   V  rows of an embedding table
 *   L  tokens per row of a bag   W  tower input width
 *   D  tower output width        H  the first layer's output width
 *   K  width of the first layer's direct part (features side by side) */
#ifndef MLR_TOWER_H
#define MLR_TOWER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "nn.h"

/* How a feature enters a tower's first layer in a batch (tower.c, "the
 * first layer"). */
typedef struct {
    size_t d;          /* the batch's distinct ids: rows of X */
    int direct;        /* its columns are in the direct product, not factored */
    size_t xcol;       /* direct: its first column of x (B, K) and row of wd */
    int32_t *ids;      /* (B * L) the batch's ids */
    float *val;        /* (B) its value column (normalised) */
    float *wt;         /* (B * L) each id's weight in its row (nn_bag_weights) */
    int32_t *uniq;     /* (B * L) the distinct ids, first-seen order */
    int32_t *slot;     /* (B * L) the X row of each id of the batch, -1 padding */
    float *X;          /* (B, E) their embeddings; dX in the backward */
    float *PG;         /* (B, H) X W0_f, then its gradient */
} model_fact;

/* Which features a tower's first layer factors: by their distinct ids in
 * each batch (AUTO), or all of them one way (the tests of both paths; a
 * bag with more distinct tokens than the batch has rows goes direct
 * even when FACTORED is asked). */
typedef enum { MODEL_FL_AUTO, MODEL_FL_FACTORED, MODEL_FL_DIRECT } model_first_layer;

typedef struct {
    size_t cap;                               /* rows they hold */
    float *x, *dx;                            /* (B, W) tower input; (B, K) direct part */
    float *h[MODEL_MAX_LAYERS], *dh[MODEL_MAX_LAYERS]; /* (B, width[l+1]) */
    int32_t *scratch;                         /* (B * L) gathered ids */
    const uint8_t *drop;                      /* (B) 1: the row's user_id reads as 0 */
    int dropping;                             /* drop[] applies to this batch... */
    size_t drop_feat;                         /* ...to this feature (user_id) */
    model_first_layer first_layer;
    /* the first layer's buffers (model_tower_acts_init; NULL for an MLP) */
    model_fact fact[MODEL_MAX_FEATURES];
    size_t K;                                 /* width of the direct part */
    float *wd, *dwd;                          /* (K, H) W0's rows of the direct part */
    float **term;                             /* one batch row's terms of the first layer */
    float *scale;
    int32_t *map;                             /* (largest V) id -> X row, -1 */
    size_t nmap;
    double flops;                             /* of the products the last forward
                                                 and its backward run */
} model_acts;

/* Activations of an MLP of input width W for cap rows whose bags have
 * Lmax tokens at most: what model_mlp_forward and the naive tower need. */
void model_acts_init(model_acts *a, const model_mlp *mlp, size_t W, size_t Lmax, size_t cap);
/* ...and the first layer's buffers of tower t too, all allocated here
 * (from Lmax, the longest bag), none by a forward: what
 * model_tower_forward needs. */
void model_tower_acts_init(model_acts *a, const model_tower *t, size_t Lmax, size_t cap);
void model_acts_free(model_acts *a);

/* The tower's output (B, D) for rows[0..B) of in (rows NULL: rows 0..B-1),
 * left in a->h[n-1]. The first layer runs factored by feature on the
 * batch's distinct ids where they are few, one product on the rest
 * (tower.c); the _naive twin fills the tower input x (B, W) and
 * multiplies. */
const float *model_tower_forward(const model_tower *t, model_acts *a, const model_input *in,
                                 const size_t *rows, size_t B);
const float *model_tower_forward_naive(const model_tower *t, model_acts *a, const model_input *in,
                                       const size_t *rows, size_t B);
/* From dout (B, D) in a->dh[n-1] back to the embeddings, for the batch
 * of the last model_tower_forward on a: adds into the tower's gradients,
 * marking touched embedding rows. */
void model_tower_backward(model_tower *t, model_acts *a, const model_input *in, size_t B);
/* The same with the gradients sent elsewhere (a training thread's own
 * block): dw/db per layer, demb per feature, touched rows into rs (one
 * set per feature). */
void model_tower_backward_into(const model_tower *t, model_acts *a, const model_input *in,
                               size_t B, float *const *dw, float *const *db,
                               float *const *demb, nn_rowset *rs);
/* The MLP alone, on a (B, width[0]) input. */
const float *model_mlp_forward(const model_mlp *m, model_acts *a, const float *x, size_t B);
void model_mlp_backward(model_mlp *m, model_acts *a, const float *x, float *dx, size_t B);
/* Layers n-1 .. lmin backward, gradients into dw/db (one per layer); the
 * input gradient of layer lmin into dh[lmin-1], or dx (may be NULL) when
 * lmin is 0. */
void model_mlp_backward_into(const model_mlp *m, model_acts *a, size_t lmin, const float *x,
                             float *dx, size_t B, float *const *dw, float *const *db);

/* Rows of x (n, D) scaled to length 1 in place, their lengths into len
 * (NULL: not kept); a zero row stays zero (length 0). */
void model_unit_rows(float *x, float *len, size_t n, size_t D);
/* g (n, D), the gradient at the unit rows u = x / |x| (len: |x|), taken
 * back to x in place: (g - u (u . g)) / |x|; 0 where |x| = 0. */
void model_unit_backward(float *g, const float *u, const float *len, size_t n, size_t D);

#endif
