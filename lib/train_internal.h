/* train_internal.h: the trainer's state (train.c), for train.c, its unit
 * tests and the benchmark only; tools use train.h.
 *
 * Shape letters (the same in every header of lib/):
 *   B  rows of a batch           Bt  a piece's rows of it
 *   U  distinct items of a batch E   embedding width
 *   D  tower output width        P   parameters in the block */
#ifndef MLR_TRAIN_INTERNAL_H
#define MLR_TRAIN_INTERNAL_H

#include "tower.h"
#include "train.h"

struct mlr_pool;

/* One piece of a batch (any thread may run it): activations of its rows,
 * its part of dc, the embedding rows it touched with their gradients,
 * and (pieces 1..) a block of its own for the dense gradients. */
typedef struct {
    model_acts qa, ca, ra;   /* query tower, candidate tower, rating head */
    float *z, *dz;           /* (Bt, 2D) rating head input */
    float *pred;             /* (Bt) the rating head's output */
    float *logits;           /* (Bt, U) logits, then their gradient's rows: lcap */
    size_t lcap;
    float *teach;            /* (Bt, U) its rows' teacher targets (--distill): tcap */
    size_t tcap;
    float *tscale;           /* (Bt) 1 / the sum of each row's teach, or 0: no target */
    float *rowscale;         /* (Bt) the scales of those rows */
    float *dqs;              /* (Bt, D) the logits' backward's scratch */
    float *dc;               /* (U, D) its rows' contribution to dc */
    float *g;                /* (P) gradients; NULL for piece 0 (m->grads) */
    nn_rowset rows[2][MODEL_MAX_FEATURES]; /* query, candidate: touched rows and
                                              their gradients (nn_rowset_init_grad) */
    uint32_t *sel, *at;      /* the rows it updates, their places in its sets */
    float *sum;              /* (E) a row's gradient summed over three pieces or more */
    double retrieval, rating, flops;       /* sums over its rows */
} model_worker;

struct model_batch {
    int threads;             /* of the pool */
    int pieces;              /* of each phase (MODEL_PIECE_ROWS) */
    struct mlr_pool *pool;
    model_worker *w;         /* (pieces) */
    float **blocks;          /* (pieces) their gradient blocks: m->grads, w[1].g, ... */
    size_t *chunk_off, *chunk_n, nchunks; /* the dense tensors cut in pieces: the
                                             reduce phase's threads take them in turn */
    float *q, *c;            /* (B, D) and (U, D) tower outputs (unit ones: the
                                model's temperature > 0) */
    float *qt;               /* (B, D) with a temperature: q / temperature */
    float *qlen, *clen;      /* (B), (U) with a temperature: the lengths before */
    float *shift;            /* (U) each column's logit shift: log count - log q */
    int32_t *label, *count;  /* (B), (U) */
    size_t *cand_rows;       /* (U) a row of each distinct item */
    int32_t *colkey;         /* (U) each column's item key (--distill) */
    int32_t *tuser;          /* (B) each row's teacher user, -1: none (--distill) */
    uint32_t *torder;        /* (B) the rows with a user, by user; then B of scratch */
    size_t ntaught;          /* rows in torder */
    int16_t *tq;             /* the rows' teacher logits as gathered, a block (B,
                                TQ_TILE) per pass of columns (train.c): tqcap */
    size_t tqcap;
    int32_t *slot;           /* (V of item keys) distinct index of a key, -1 */
    size_t nkeys;
    size_t ccap;             /* candidates a step at most (the catalogue's with ALL) */
    int32_t *cslot;          /* (M) MIXED: the column of a catalogue row, -1 */
    size_t ncslot;
    size_t nbatch;           /* MIXED: columns [0, nbatch) are the batch's items */
    float *y;                /* (B) ratings */
    uint8_t *drop;           /* (B) id dropout of each row */
    model_first_layer first_layer; /* of both towers */
    int dropping;
    size_t drop_feat;
};

#endif
