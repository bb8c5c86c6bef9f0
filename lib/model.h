/* model.h: the report's two-tower model with a rating head
 * (docs/features.md, "The model"): its configuration, parameter layout
 * and build (model.c), the encoded rows a tower reads (encdir.c), inference
 * (tower.c) and the .safetensors file (modelfile.c). The towers' batch
 * activations are in tower.h, the trainer in train.h.
 *
 * Shape letters (the same in every header of lib/):
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
#include "spec.h"

#define MODEL_FORMAT "mlrec-model"
#define MODEL_VERSION "1"
#define MODEL_MAX_FEATURES 12
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
    double halflife;      /* MF_BAG: 0 the mean of its tokens; else their
                             recency-weighted mean (nn_bag_forward) */
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
    int unit;       /* its output scaled to length 1 (cfg.temperature > 0) */
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
    int wide;       /* rating head: the MLP alone (0; files without the key),
                       or beside it the bias terms and the towers' dot (1) */
    double history_halflife; /* user_history's halflife (model_feature) */
    double temperature; /* > 0: each tower's output has length 1 and the
                           softmax's logits are cosines / temperature (the
                           rating head reads the unit outputs too); 0: the
                           outputs as they are, logits their dot products */
    double popularity;  /* > 0: retrieval scores gain popularity x log(1 +
                           the item's training count) (model_rank_rows);
                           0: none, as the files before it */
} model_config;

typedef struct {
    model_config cfg;
    model_tower query, cand;
    model_mlp rating;            /* 2D -> rating_layers -> 1 */
    /* cfg.wide: rating = MLP(z) + lin . z + dot (q . c), z = [q, c]: lin's
     * halves are a user and an item bias, linear in the towers' outputs
     * (which hold user_id's and item_id's embeddings), as a factorization
     * machine's linear terms beside its pairwise one; NULL otherwise */
    float *lin, *dlin;           /* (2D) rating.linear.weight */
    float *dot, *ddot;           /* (1) rating.dot.weight */
    /* cfg.popularity > 0 and an item_id candidate feature: log(1 + the
     * item's count in the training rows) by item_id (cand.popularity,
     * set by model_set_popularity, never trained); NULL otherwise */
    float *pop;
    size_t pop_feat;             /* item_id's feature in the candidate tower */
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
 * candidate features of docs/features.md, temperature 0.2 (cosines). */
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

/* The two steps of a build that model_load runs apart (modelfile.c):
 * model_layout lays out the block (m->P, m->tensors, the towers' columns)
 * for m->cfg and the towers' features; model_alloc allocates params and
 * grads (zeroed) and points the towers into them. */
void model_layout(model *m);
void model_alloc(model *m);
/* D, the width of a tower's output. */
size_t model_out_width(const model *m);
/* The query tower's user_id feature (categorical), or -1 when it reads none
 * (--id-dropout, --mask-seen, --distill). */
int model_user_feature(const model *m);

/* ---- data: the encoded tensors one tower reads (docs/features.md) ---- */
typedef struct {
    size_t n;                                /* N */
    const int32_t *ids[MODEL_MAX_FEATURES];  /* CAT (N), BAG (N, L), NUM bucket (N) */
    size_t L[MODEL_MAX_FEATURES];
    const float *val[MODEL_MAX_FEATURES];    /* NUM normalised (N), VALUE raw (N) */
    mlr_array arr[2 * MODEL_MAX_FEATURES];   /* owned storage */
    size_t narr;
} model_input;

/* Loads the files tower t needs from the encoded directory DIR (encdir.c,
 * encdir.h), checking dtypes, row counts (all N, or exactly `want_n` when
 * non-zero) and ids within each vocabulary. */
int model_input_load(model_input *in, const model_tower *t, const char *dir,
                     size_t want_n, mlr_err *e);
void model_input_free(model_input *in);
/* L of in's longest bag (1 when it has none). */
size_t model_input_lmax(const model_input *in);

/* The popularity prior (docs/model.md, "A popularity prior at serving").
 * Training subtracts log Q from each logit, so the towers rank by how much
 * more a user likes an item than its popularity says; ranking adds back
 * popularity x log(1 + n), n the item's count in the training rows.
 * Retrieval embeddings carry it as one more column: 1 in every query row,
 * popularity x log(1 + n) in every item row, so an inner product is the
 * towers' score plus the prior and mlr-topk, mlr-score and the scorer
 * need not know. model_rank_width is D, or D + 1 with the prior;
 * model_rank_rows writes out (n, that width) from emb (n, D), a tower's
 * output for the rows of in (cand: the candidate tower's, whose item_id
 * picks the count; else the query tower's, and in may be NULL); out may
 * be emb, allocated for the wider rows. */
size_t model_rank_width(const model *m);
void model_rank_rows(const model *m, int cand, const model_input *in, const float *emb, size_t n,
                     float *out);
/* Sets the counts from the item_id keys of the n training rows (each
 * below the feature's vocabulary); nothing without the prior. */
void model_set_popularity(model *m, const int32_t *keys, size_t n);

/* Fails with a hint line when DIR/spec.sha256 differs from sha: the rows
 * were encoded with another specification (encdir.c: mlr_encdir_check). */
int model_check_encoding(const char *dir, const char *sha, mlr_err *e);

/* ---- inference (tower.c) ---- */
/* out (N, D): the tower's output for every row of in, in chunks. */
void model_embed(const model_tower *t, const model_input *in, float *out);
/* The same on `threads` threads: the same chunks of rows, each taken by
 * the first thread free (the same bits as one thread). */
void model_embed_threads(const model_tower *t, const model_input *in, float *out, int threads);
/* pred (B) += the wide head's terms on z (B, 2D) = [q, c] (nothing
 * without cfg.wide): what the MLP's output gets in every prediction. */
void model_rating_wide(const model *m, const float *z, size_t B, float *pred);
/* out (N): the rating head on (q[n], c[n]), q and c (N, D) tower outputs. */
void model_rating(const model *m, const float *q, const float *c, size_t N, float *out);
/* out (N): the rating head on (query[n], cand[n]) of the aligned inputs. */
void model_predict(const model *m, const model_input *qin, const model_input *cin, float *out);

/* ---- the file (modelfile.c) ---- */
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
