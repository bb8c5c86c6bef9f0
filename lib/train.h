/* train.h: the trainer of the two-tower model (train.c): a training
 * batch's state, one step of forward, backward and optimiser. Its
 * internals (the workers, the phases' state) are in train_internal.h,
 * which tools do not include.
 *
 * Shape letters (the same in every header of lib/):
 *   B  rows of a batch           U  distinct items of a batch
 *   V  rows of an embedding table */
#ifndef MLR_TRAIN_H
#define MLR_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mlr.h"
#include "model.h"
#include "optim.h"

#define MODEL_MAX_THREADS 256 /* of a training batch (model_batch_new) */
/* A training step's phases are cut into pieces whatever the thread count
 * (docs/performance.md): of a batch of up to cap rows, cap / 128 rounded
 * up, 2 at least and 8 at most (2 for the default 256: the bits of the
 * old default of 2 threads). Pieces of fewer rows cost more (each has
 * its own dense gradient block: 64-row pieces cost one thread 10-30%);
 * the model's bits depend on the count, hence on the batch size, never
 * on the threads. */
#define MODEL_PIECE_ROWS 128
#define MODEL_MAX_PIECES 8

/* The candidates of the softmax (--negatives): the batch's distinct items
 * (in-batch, log-Q corrected), every item of the catalogue (a full
 * softmax: no correction), or the batch's items plus nsample uniform
 * draws from the catalogue (Yi et al. 2019, mixed negative sampling:
 * each column corrected by its expected count in the candidates). */
typedef enum { MODEL_NEG_BATCH, MODEL_NEG_ALL, MODEL_NEG_MIXED } model_negatives;

/* The catalogue that ALL and MIXED draw candidates from: the candidate
 * tower's input of every item, each item's key, each key's row. */
typedef struct {
    model_input in;     /* (M rows) */
    mlr_array keys;     /* item_id (M) <i4 */
    int32_t *row;       /* (V of item keys) catalogue row of a key, -1 */
    size_t n, nkeys;    /* M, V */
} model_catalogue;

/* Loads the encoded catalogue DIR (mlr-encode --as-catalogue) for m's
 * candidate tower; keys in [0, nkeys). */
int model_catalogue_load(model_catalogue *c, const model *m, const char *dir, size_t nkeys,
                         mlr_err *e);
void model_catalogue_free(model_catalogue *c); /* accepts a zeroed one */
/* How many of keys[0..n) have no row in c (key 0, the unknown item, never has). */
size_t model_catalogue_missing(const model_catalogue *c, const int32_t *keys, size_t n);

/* The items each user rated in the training rows, by user_id key
 * (--mask-seen): a row's softmax leaves out its user's other items. */
typedef struct {
    size_t nusers;   /* user_id's vocabulary */
    size_t feat;     /* user_id's feature in the query input */
    size_t *off;     /* (nusers + 1) user u's items are items[off[u]..off[u+1]) */
    int32_t *items;  /* item keys */
} model_seen;

/* Builds s from the n rows of qin (user_id) and their item keys. */
int model_seen_build(model_seen *s, const model *m, const model_input *qin, const int32_t *keys,
                     size_t n, mlr_err *e);
void model_seen_free(model_seen *s); /* accepts a zeroed one */

/* A teacher of the retrieval loss (--distill; Hinton et al. 2015): each
 * row's target becomes (1 - weight) its item + weight the softmax of its
 * user's teacher logits over the step's other columns, each plus the
 * column's shift (log count - log q), so that a sampled step samples the
 * teacher as it samples the model. */
typedef struct model_teacher {
    size_t nusers, nkeys; /* user_id's vocabulary, item keys */
    size_t feat;          /* user_id's feature in the query input */
    /* (nkeys, nusers), item-major (a step reads its columns' runs): each
     * user's logits / scale[user], rounded (half the bytes of floats: the
     * loads come from beyond L2), and INT16_MIN, read as -INFINITY, where
     * an item is no target (the user's own training items, key 0) */
    int16_t *logit;
    float *scale; /* (nusers) a row's largest |logit| / 32767 */
    double weight; /* in (0, 1] */
} model_teacher;

/* EASE (lib/ease.h) of the users' training items as the teacher: a user's
 * logits are the EASE scores of the items they did not rate, standardised
 * over those items, divided by temperature. A user with no item, or
 * scores all equal, teaches nothing (every logit -INFINITY). With cache
 * (a directory, made when missing, or NULL): read from its file
 * teacher-KEY.safetensors (KEY: a hash of the item sets, nkeys, lambda and
 * temperature) when there, else fitted and written there atomically; a
 * file that cannot be read is warned about and written over, one that
 * cannot be written warned about (docs/operations.md, "The teacher's
 * cache"). */
int model_teacher_ease(model_teacher *t, const model_seen *seen, size_t nkeys, double lambda,
                       double temperature, double weight, const char *cache, mlr_err *e);
void model_teacher_free(model_teacher *t); /* accepts a zeroed one */
/* Sets user's logits (nkeys floats, -INFINITY: no target) in t. */
void model_teacher_set(model_teacher *t, size_t user, const float *row);
/* user's logit of key as t holds it (-INFINITY: no target). */
float model_teacher_logit(const model_teacher *t, size_t user, size_t key);

typedef struct {
    double retrieval_weight, rating_weight;
    int remove_hits;        /* mask other copies of the positive */
    const float *logq;      /* (V of item keys) log q(item), or NULL: no correction */
    double id_dropout;      /* each row's user_id replaced by 0 ([UNK]) with this
                               probability, so that row 0 learns the average user */
    mlr_rng *rng;           /* the draws of id_dropout (needed when it is > 0) */
    model_negatives negatives;
    const model_catalogue *catalogue; /* ALL, MIXED: every row's item must have a row */
    size_t nsample;         /* MIXED: uniform draws per step */
    mlr_rng *neg_rng;       /* MIXED: their stream */
    double head_decay;      /* + head_decay / 2 x the squared rating head's weights
                               (its dense layers' and the wide terms', not biases) */
    const model_seen *seen; /* or NULL: every other candidate is a negative */
    const struct model_teacher *teacher; /* or NULL: each row's target is its item */
} model_loss_opts;

/* Everything a training batch needs besides the model (train_internal.h). */
typedef struct model_batch model_batch;

/* A batch of cap rows at most of the inputs qin, cin (their longest bags
 * size its buffers), nkeys item keys. With threads > 1 the step runs on
 * that many threads (lib/pool.h): each phase cut into pieces of
 * contiguous rows (MODEL_PIECE_ROWS) that the threads take as they come
 * free, partial gradients summed in piece order, so the same seed gives
 * the same bits on any thread count and under any load. The caller makes
 * OpenBLAS single-threaded meanwhile. */
model_batch *model_batch_new(const model *m, const model_input *qin, const model_input *cin,
                             size_t nkeys, size_t cap, int threads);
/* The same for a candidate tower that reads cin (the catalogue's input
 * with --negatives all or mixed), ccap candidates a step at most. */
model_batch *model_batch_new_cand(const model *m, const model_input *qin, const model_input *cin,
                                  size_t nkeys, size_t cap, size_t ccap, int threads);
/* Holds the batch's threads each to a CPU of its own until
 * model_batch_free (mlr_pool_pin: a busy machine would stack them on
 * one); returns 1 if it did. The bits do not change. */
int model_batch_pin(model_batch *b);
void model_batch_free(model_batch *b); /* accepts NULL */
/* The threads it runs on (threads asked, at most MODEL_MAX_THREADS). */
int model_batch_threads(const model_batch *b);

typedef struct {
    double loss, retrieval, rating; /* the objective, mean cross-entropy, mean squared error */
    size_t distinct;                /* U */
    double flops;                   /* of the matrix products run */
} model_step_stats;

/* Forward and backward of rows[0..B) (the rows of qin, cin, keys and
 * ratings are aligned; with lo->negatives ALL or MIXED the candidate
 * tower reads the catalogue, not cin), then one optimiser step. keys are the item
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

#endif
