/* optim.h: Adagrad and Adam over a flat parameter block, with sparse
 * updates for the embedding rows a batch touched.
 *
 * Adagrad as Keras: acc += g^2; w -= lr g / (sqrt(acc) + eps),
 * acc starting at init_acc (Keras: lr 0.001 in the class, 0.1 in the TFRS
 * examples and here; initial accumulator 0.1; eps 1e-7).
 * Adam as Keras: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * w -= lr_t m / (sqrt(v) + eps), lr_t = lr sqrt(1-b2^t) / (1-b1^t).
 * Sparse (row) updates touch only the listed rows: their accumulators and
 * moments change, the others keep their values ("lazy" Adam; for Adagrad
 * this is exactly Keras' sparse update).
 * L2 on embeddings (l2 > 0, row updates only): the gradient of
 * l2 x sum of squares of the touched rows, 2 l2 w, is added before the step.
 *
 * Shape letters: P parameters in the block, R rows listed, C row width. */
#ifndef MLR_OPTIM_H
#define MLR_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { OPT_ADAGRAD, OPT_ADAM } opt_kind;

typedef struct {
    opt_kind kind;
    float lr;       /* learning rate */
    float init_acc; /* Adagrad initial accumulator */
    float beta1, beta2, eps;
    float l2;       /* L2 on embedding rows (row updates) */
} opt_config;

/* Defaults: Adagrad, lr 0.1, init_acc 0.1, eps 1e-7, beta1 0.9, beta2 0.999, l2 0.
 * For Adam the caller usually lowers lr (0.001 as Keras). */
opt_config opt_defaults(void);

typedef struct {
    opt_config c;
    size_t P;
    float *m; /* (P) Adagrad accumulator, or Adam first moment */
    float *v; /* (P) Adam second moment; NULL for Adagrad */
    long t;   /* steps taken (Adam bias correction) */
    float lr_t; /* Adam's corrected rate for step t (opt_begin_step) */
} optimizer;

/* Allocates the state for P parameters (xmalloc: aborts on no memory). */
void opt_init(optimizer *o, const opt_config *c, size_t P);
void opt_free(optimizer *o); /* accepts a zeroed optimiser */

/* Call once per batch before the updates of that batch. */
void opt_begin_step(optimizer *o);

/* w[i] -= ... for i in [off, off + n) of the block: a dense tensor. */
void opt_update_dense(optimizer *o, float *params, const float *grads,
                      size_t off, size_t n);

/* The same for the R listed rows of a (V, C) table starting at off. */
void opt_update_rows(optimizer *o, float *params, const float *grads,
                     size_t off, size_t C, const uint32_t *rows, size_t R);

/* opt_update_dense with each parameter's gradient the sum of ng blocks,
 * grads[0] + grads[1] + ... in that order (the partial sums of threads),
 * in one pass; the runs it reads are zeroed in every block. */
void opt_update_dense_sum(optimizer *o, float *params, float *const *grads, size_t ng,
                          size_t off, size_t n);
/* opt_update_rows with rows[r]'s gradient at g + at[r] C, a compact store
 * of the touched rows' gradients (nn_rowset_init_grad's), left as it is. */
void opt_update_rows_from(optimizer *o, float *params, size_t off, size_t C,
                          const uint32_t *rows, const float *g, const uint32_t *at, size_t R);

#endif
