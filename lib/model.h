/* model.h: the report's two-tower model with a rating head
 * (docs/features.md, "The model"): its configuration, parameter layout,
 * forward and backward of a training batch, inference, and the
 * .safetensors file.
 *
 * Shape letters:
 *   N  rows of a data set        B  rows of a batch
 *   U  distinct items of a batch E  embedding width (--dim)
 *   V  rows of an embedding table (vocabulary size or buckets)
 *   L  tokens per row of a bag   W  tower input width (features side by side)
 *   D  tower output width (the last of --layers)
 *   H  a hidden width            P  parameters in the block
 *
 * All parameters live in one block `params` (P), their gradients in
 * `grads` (P), with named pointers into both; the tensor list `tensors`
 * names every one of them for saving, loading and the optimiser. */
#ifndef MLR_MODEL_H
#define MLR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mlr.h"
#include "nn.h"
#include "npy.h"
#include "optim.h"
#include "spec.h"

#define MODEL_FORMAT "mlrec-model"
#define MODEL_VERSION "1"
#define MODEL_MAX_FEATURES 12
#define MODEL_MAX_THREADS 256 /* of a training batch (model_batch_init_threads) */
#define MODEL_MAX_LAYERS 8

/* How a feature enters a tower. */
typedef enum {
    MF_CAT,  /* one id -> its embedding (E columns) */
    MF_BAG,  /* ids padded with -1 -> mean of their embeddings (E columns) */
    MF_NUM,  /* bucket -> embedding, plus the normalised value (E + 1 columns) */
    MF_VALUE /* a raw number, normalised by mean/std (1 column): `rating` */
} model_feat_kind;

typedef struct {
    char name[32];        /* spec feature name: "user_id" */
    model_feat_kind kind;
    size_t vocab;         /* V; 0 for MF_VALUE */
    double mean, std;     /* MF_VALUE normalisation */
    size_t col;           /* first column in the tower input */
    float *emb, *demb;    /* (V, E) in params / grads; NULL for MF_VALUE */
    size_t emb_off;       /* offset of emb in the block */
    nn_rowset rows;       /* rows of emb touched by the batch */
} model_feature;

/* A stack of dense layers: ReLU between, linear last. */
typedef struct {
    size_t n;                                 /* layers */
    size_t width[MODEL_MAX_LAYERS + 1];       /* width[0] in, width[l+1] out of layer l */
    float *w[MODEL_MAX_LAYERS], *b[MODEL_MAX_LAYERS];   /* (width[l], width[l+1]), (width[l+1]) */
    float *dw[MODEL_MAX_LAYERS], *db[MODEL_MAX_LAYERS];
} model_mlp;

typedef struct {
    size_t nfeat;
    model_feature feat[MODEL_MAX_FEATURES];
    size_t E;       /* embedding width */
    size_t W;       /* input width */
    model_mlp mlp;  /* W -> ... -> D */
} model_tower;

/* One named tensor of the block. */
typedef struct {
    char name[64];
    size_t off, rows, cols; /* a 1-D tensor has rows 0 */
    model_feature *sparse;  /* the embedding it is (row updates), or NULL */
} model_tensor;

/* What a model is made of (saved in the metadata as `config`). */
typedef struct {
    size_t dim;                          /* E */
    size_t nlayers, layers[MODEL_MAX_LAYERS];        /* tower widths, last = D */
    size_t nrating, rating_layers[MODEL_MAX_LAYERS]; /* hidden widths of the head */
    size_t nquery, ncand;
    char query[MODEL_MAX_FEATURES][32], cand[MODEL_MAX_FEATURES][32];
} model_config;

typedef struct {
    model_config cfg;
    model_tower query, cand;
    model_mlp rating;            /* 2D -> rating_layers -> 1 */
    size_t P;
    float *params, *grads;       /* (P) */
    size_t ntensors;
    model_tensor *tensors;
    /* metadata carried from a loaded file, or set before saving */
    char spec_sha256[65];
    char *spec_path, *train_sha256, *metrics, *train_json;
} model;

/* Defaults: the report's dim 32 and layers 64,32, a rating head of 64,32
 * (the report's 256,128 is 4x slower for no better RMSE), the query and
 * candidate features of docs/features.md. */
model_config model_config_defaults(void);
/* Parses a comma list of widths ("64,32") or of feature names into cfg;
 * -1 and e filled on a bad list. */
int model_parse_widths(const char *s, size_t *out, size_t *n, mlr_err *e);
int model_parse_features(const char *s, char (*out)[32], size_t *n, mlr_err *e);

/* Builds a model for cfg's features as spec describes them, parameters
 * initialised from rng (embeddings uniform +-0.05 as Keras, dense Glorot
 * uniform, biases 0, the rating output bias at the mean rating when the
 * spec has `rating`). A feature of the default lists that the spec lacks
 * is left out when `lenient`; otherwise every named feature must exist,
 * query features on the query side (or `rating`), candidate features on
 * the item side. */
int model_build(model *m, const model_config *cfg, const mlr_spec *spec, int lenient,
                mlr_rng *rng, mlr_err *e);
void model_free(model *m); /* accepts a zeroed model */

/* ---- data: the encoded tensors one tower reads (docs/features.md) ---- */
typedef struct {
    size_t n;                                /* N */
    const int32_t *ids[MODEL_MAX_FEATURES];  /* CAT (N), BAG (N, L), NUM bucket (N) */
    size_t L[MODEL_MAX_FEATURES];
    const float *val[MODEL_MAX_FEATURES];    /* NUM normalised (N), VALUE raw (N) */
    mlr_array arr[2 * MODEL_MAX_FEATURES];   /* owned storage */
    size_t narr;
} model_input;

/* Loads the files tower t needs from DIR, checking dtypes, row counts
 * (all N, or exactly `want_n` when non-zero) and ids within each
 * vocabulary. */
int model_input_load(model_input *in, const model_tower *t, const char *dir,
                     size_t want_n, mlr_err *e);
void model_input_free(model_input *in);

/* Fails with a hint line when DIR/spec.sha256 differs from sha: the rows
 * were encoded with another specification. */
int model_check_encoding(const char *dir, const char *sha, mlr_err *e);

/* ---- activations of one batch ---- */

/* How a feature enters a tower's first layer in a batch (model.c, "the
 * first layer"). */
typedef struct {
    size_t d;          /* the batch's distinct ids: rows of X */
    int direct;        /* its columns are in the direct product, not factored */
    size_t xcol;       /* direct: its first column of x (B, K) and row of wd */
    int32_t *ids;      /* (B * L) the batch's ids */
    float *val;        /* (B) its value column (normalised) */
    float *wt;         /* (B) the weight of each of a row's ids: 1 / tokens */
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
    model_fact fact[MODEL_MAX_FEATURES];      /* allocated by the first forward */
    size_t K;                                 /* width of the direct part */
    float *wd, *dwd;                          /* (K, H) W0's rows of the direct part */
    float **term;                             /* one batch row's terms of the first layer */
    float *scale;
    int32_t *map;                             /* (largest V) id -> X row, -1 */
    size_t nmap;
    double flops;                             /* of the products the last forward
                                                 and its backward run */
} model_acts;

void model_acts_init(model_acts *a, const model_mlp *mlp, size_t W, size_t Lmax, size_t cap);
void model_acts_free(model_acts *a);

/* The tower's output (B, D) for rows[0..B) of in (rows NULL: rows 0..B-1),
 * left in a->h[n-1]. The first layer runs factored by feature on the
 * batch's distinct ids where they are few, one product on the rest
 * (model.c); the _naive twin fills the tower input x (B, W) and
 * multiplies. */
const float *model_tower_forward(const model_tower *t, model_acts *a, const model_input *in,
                                 const size_t *rows, size_t B);
const float *model_tower_forward_naive(const model_tower *t, model_acts *a, const model_input *in,
                                       const size_t *rows, size_t B);
/* From dout (B, D) in a->dh[n-1] back to the embeddings, for the batch
 * of the last model_tower_forward on a: adds into the tower's gradients,
 * marking touched embedding rows. */
void model_tower_backward(model_tower *t, model_acts *a, const model_input *in, size_t B);
/* The MLP alone, on a (B, width[0]) input. */
const float *model_mlp_forward(const model_mlp *m, model_acts *a, const float *x, size_t B);
void model_mlp_backward(model_mlp *m, model_acts *a, const float *x, float *dx, size_t B);

/* ---- training ---- */
typedef struct {
    double retrieval_weight, rating_weight;
    int remove_hits;        /* mask other copies of the positive */
    const float *logq;      /* (V of item keys) log q(item), or NULL: no correction */
    double id_dropout;      /* each row's user_id replaced by 0 ([UNK]) with this
                               probability, so that row 0 learns the average user */
    mlr_rng *rng;           /* the draws of id_dropout (needed when it is > 0) */
} model_loss_opts;

/* One thread's share of a batch: activations of its rows, its part of
 * dc, the embedding rows it touched with their gradients, and (threads
 * 1..) a block of its own for the dense gradients. */
typedef struct {
    model_acts qa, ca, ra;   /* query tower, candidate tower, rating head */
    float *z, *dz;           /* (Bt, 2D) rating head input */
    float *logits;           /* (Bt, U) logits, then their gradient's rows: lcap */
    size_t lcap;
    float *rowscale;         /* (Bt) the scales of those rows */
    float *dqs;              /* (Bt, D) the logits' backward's scratch */
    float *dc;               /* (U, D) its rows' contribution to dc */
    float *g;                /* (P) gradients; NULL for thread 0 (m->grads) */
    nn_rowset rows[2][MODEL_MAX_FEATURES]; /* query, candidate: touched rows and
                                              their gradients (nn_rowset_init_grad) */
    uint32_t *sel, *at;      /* the rows it updates, their places in its sets */
    float *sum;              /* (E) a row's gradient summed over three threads or more */
    double retrieval, rating, flops;       /* sums over its rows */
} model_worker;

/* Everything a training batch needs besides the model. */
typedef struct {
    int threads;
    struct mlr_pool *pool;
    model_worker *w;         /* (threads) */
    float **blocks;          /* (threads) their gradient blocks: m->grads, w[1].g, ... */
    size_t *chunk_off, *chunk_n, nchunks; /* the dense tensors cut in pieces: the
                                             reduce phase's threads take them in turn */
    float *q, *c;            /* (B, D) and (U, D) tower outputs */
    float *shift;            /* (U) each column's logit shift: log count - log q */
    int32_t *label, *count;  /* (B), (U) */
    size_t *cand_rows;       /* (U) a row of each distinct item */
    int32_t *slot;           /* (V of item keys) distinct index of a key, -1 */
    size_t nkeys;
    float *y;                /* (B) ratings */
    uint8_t *drop;           /* (B) id dropout of each row */
    model_first_layer first_layer; /* of both towers */
    int dropping;
    size_t drop_feat;
} model_batch;

/* cap: rows per batch at most. With threads > 1 the step runs on that
 * many threads (lib/pool.h): rows split in contiguous ranges, partial
 * gradients summed in thread order, so the same seed and thread count give
 * the same bits. The caller makes OpenBLAS single-threaded meanwhile. */
void model_batch_init(model_batch *b, const model *m, const model_input *qin,
                      const model_input *cin, size_t nkeys, size_t cap);
void model_batch_init_threads(model_batch *b, const model *m, const model_input *qin,
                              const model_input *cin, size_t nkeys, size_t cap, int threads);
void model_batch_free(model_batch *b);

typedef struct {
    double loss, retrieval, rating; /* the objective, mean cross-entropy, mean squared error */
    size_t distinct;                /* U */
    double flops;                   /* of the matrix products run */
} model_step_stats;

/* Forward and backward of rows[0..B) (the rows of qin, cin, keys and
 * ratings are aligned), then one optimiser step. keys are the item
 * identities (item_id vocabulary ids; 0 counts as distinct every time)
 * that decide which rows share a candidate. The objective is
 * retrieval_weight x the SUM over rows of the cross-entropy (as TFRS) +
 * rating_weight x the mean squared error. */
void model_train_step(model *m, model_batch *b, optimizer *o, const model_loss_opts *lo,
                      const model_input *qin, const model_input *cin,
                      const int32_t *keys, const float *ratings,
                      const size_t *rows, size_t B, model_step_stats *st);

/* model_train_step without the optimiser step: the gradients of the
 * batch's objective added into m->grads, the embeddings' touched rows
 * marked in their features' sets (what the gradient checks read). */
void model_forward_backward(model *m, model_batch *b, const model_loss_opts *lo,
                            const model_input *qin, const model_input *cin,
                            const int32_t *keys, const float *ratings,
                            const size_t *rows, size_t B, model_step_stats *st);

/* ---- inference ---- */
/* out (N, D): the tower's output for every row of in, in chunks. */
void model_embed(const model_tower *t, const model_input *in, float *out);
/* The same on `threads` threads (contiguous ranges: the same bits as one). */
void model_embed_threads(const model_tower *t, const model_input *in, float *out, int threads);
/* out (N): the rating head on (q[n], c[n]), q and c (N, D) tower outputs. */
void model_rating(const model *m, const float *q, const float *c, size_t N, float *out);
/* out (N): the rating head on (query[n], cand[n]) of the aligned inputs. */
void model_predict(const model *m, const model_input *qin, const model_input *cin, float *out);

/* ---- the file ---- */
/* Writes the model atomically with the metadata of docs/features.md. */
int model_save(const model *m, const char *path, mlr_err *e);
/* Reads a model: checks format and version, rebuilds it from `config`,
 * and requires every tensor with its shape ("MODEL: tensor 'x' missing"),
 * refusing any other. */
int model_load(model *m, const char *path, mlr_err *e);

/* Warm start: copies into m every parameter of old that still fits. Rows
 * of cat/multi/words embeddings move by token (old_spec, new_spec give
 * the tokens; pass the same spec twice when the vocabularies agree),
 * bucket embeddings and dense layers when their shapes agree. Sets
 * *carried / *fresh to the embedding rows copied / left as initialised. */
int model_warm_start(model *m, const mlr_spec *new_spec, const model *old,
                     const mlr_spec *old_spec, size_t *carried, size_t *fresh, mlr_err *e);

#endif
