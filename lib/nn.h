/* nn.h: the layers of the two-tower model, forward and backward by hand.
 *
 * Each layer is a pair x_forward(out, ..., inp, ..., dims) and
 * x_backward(dinp, dweights, ..., dout, ..., dims): outputs first, and
 * backward ADDS into every gradient it is given (callers zero them), so a
 * tensor used twice simply receives both contributions. A gradient pointer
 * may be NULL where nobody needs it (the input of the first dense layer).
 *
 * Shape letters (the same in every header of lib/):
 *   B  rows in the batch            V  rows of an embedding table (vocabulary)
 *   E  embedding width              L  tokens per row of a bag (padded with -1)
 *   D  tower output width (the rows of q and c in the logits)
 *   C  columns of a block copied    K  dense layer input width
 *   M  dense layer output width
 *   U  distinct candidates in the batch (columns of the logits)
 *   ld the row stride of a buffer that is a column slice of a wider one
 *      (the concatenated tower input): element (b, d) is at [b * ld + d].
 *
 * Matrices are row-major float. The matrix products go through OpenBLAS
 * (cblas_sgemm); each has a plain-loop twin, *_naive, that the unit tests
 * compare against. Nothing here prints, allocates or fails: the caller
 * checks ids against V before calling. */
#ifndef MLR_NN_H
#define MLR_NN_H

#include <stddef.h>
#include <stdint.h>

/* Rows of an embedding table touched in the current batch, so that the
 * optimiser updates (and the trainer zeroes) only those rows.
 * mark (V) is 0/1, list (V) holds the n marked rows in first-touch order.
 * A set made by nn_rowset_init_grad also holds the rows' gradients itself,
 * g (cap, width), the k-th listed row's at g + k width: the backward
 * passes below then add into those instead of the table's rows, which
 * stay in cache where a (V, width) table's scattered rows do not. */
typedef struct {
    size_t n;
    uint32_t *list; /* (V) */
    uint8_t *mark;  /* (V) */
    int32_t *slot;  /* (V) a marked row's place in list; NULL: no own gradients */
    float *g;       /* (cap, width) */
    size_t width, cap;
} nn_rowset;

void nn_rowset_init(nn_rowset *s, size_t V); /* allocates (xmalloc) */
/* ...with gradients of their own for up to cap rows of width floats. */
void nn_rowset_init_grad(nn_rowset *s, size_t V, size_t cap, size_t width);
void nn_rowset_free(nn_rowset *s);           /* accepts a zeroed set */
void nn_rowset_add(nn_rowset *s, size_t row);
void nn_rowset_clear(nn_rowset *s);          /* unmarks the n listed rows, zeroes their g */

/* ---- embedding lookup: out[b, :] = table[ids[b], :] ---- */
void nn_embedding_forward(float *out, size_t ldo, const int32_t *ids,
                          const float *table, size_t B, size_t E);
/* dtable[ids[b], :] += dout[b, :]; marks touched rows in rows (NULL: none),
 * and adds into its own gradients instead when it has them. */
void nn_embedding_backward(float *dtable, nn_rowset *rows, const float *dout,
                           size_t ldd, const int32_t *ids, size_t B, size_t E);

/* ---- pooled bag: out[b, :] = mean of table[ids[b, l], :] over the
 * l with ids[b, l] >= 0 (-1 is padding); a row of only padding gives 0.
 * With halflife > 0 a weighted mean instead: the k-th token present (k = 0
 * first: a history's newest) weighs 2^(-k / halflife), the weights of a
 * row summing to 1 (recency-weighted histories). ---- */
/* The tokens of a bag row of L ids: those >= 0. */
size_t nn_bag_count(const int32_t *row, size_t L);
/* w[l] (L of them): each token's weight in the row's pooling, 0 for padding. */
void nn_bag_weights(float *w, const int32_t *row, size_t L, double halflife);
void nn_bag_forward(float *out, size_t ldo, const int32_t *ids,
                    const float *table, size_t B, size_t L, size_t E, double halflife);
void nn_bag_backward(float *dtable, nn_rowset *rows, const float *dout,
                     size_t ldd, const int32_t *ids, size_t B, size_t L, size_t E,
                     double halflife);

/* ---- copy a column block: out[b, 0:C] = inp[b, 0:C] (concat helper) ---- */
void nn_copy_cols(float *out, size_t ldo, const float *inp, size_t ldi,
                  size_t B, size_t C);
/* dinp[b, 0:C] += dout[b, 0:C] */
void nn_copy_cols_backward(float *dinp, size_t ldi, const float *dout,
                           size_t ldd, size_t B, size_t C);

/* ---- dense: out (B,M) = inp (B,K) w (K,M) + bias (M) ---- */
void nn_dense_forward(float *out, const float *inp, const float *w,
                      const float *bias, size_t B, size_t K, size_t M);
/* dinp (B,K) += dout w^T; dw (K,M) += inp^T dout; dbias (M) += sum_b dout.
 * dinp may be NULL. */
void nn_dense_backward(float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, size_t B, size_t K, size_t M);
void nn_dense_forward_naive(float *out, const float *inp, const float *w,
                            const float *bias, size_t B, size_t K, size_t M);
void nn_dense_backward_naive(float *dinp, float *dw, float *dbias, const float *dout,
                             const float *inp, const float *w, size_t B, size_t K, size_t M);

/* ---- plain products (the first layer of a tower) ---- */
/* out (n,m) = a (n,k) b (k,m) */
void nn_matmul(float *out, const float *a, const float *b, size_t n, size_t k, size_t m);
/* out (n,m) += a (n,k) b (k,m) */
void nn_matmul_acc(float *out, const float *a, const float *b, size_t n, size_t k, size_t m);
/* out (k,m) += a^T b: a (n,k), b (n,m) */
void nn_matmul_tn_acc(float *out, const float *a, const float *b, size_t n, size_t k, size_t m);
/* out (n,k) = a (n,m) b^T: b (k,m) */
void nn_matmul_nt(float *out, const float *a, const float *b, size_t n, size_t m, size_t k);
/* out (n,k) += a (n,m) b^T */
void nn_matmul_nt_acc(float *out, const float *a, const float *b, size_t n, size_t m, size_t k);
void nn_matmul_naive(float *out, const float *a, const float *b, size_t n, size_t k, size_t m);
void nn_matmul_acc_naive(float *out, const float *a, const float *b, size_t n, size_t k, size_t m);
void nn_matmul_tn_acc_naive(float *out, const float *a, const float *b, size_t n, size_t k, size_t m);
void nn_matmul_nt_naive(float *out, const float *a, const float *b, size_t n, size_t m, size_t k);

/* y[0..n) += s x[0..n), SSE four at a time (the same bits as one at a time:
 * no fused multiply-add either way) */
void nn_axpy(float *y, float s, const float *x, size_t n);
/* out[u] = q[u] scale + add[u] (u < n), -INFINITY where q[u] is INT16_MIN. */
void nn_dequant_add(float *out, const int16_t *q, float scale, const float *add, size_t n);
/* x . y (n) summed in a fixed order of eight lanes: the same bits with
 * AVX2, SSE or neither. */
float nn_dot(const float *x, const float *y, size_t n);

/* y (n) = the sum over t < nt of scale[t] src[t] (n), added in t order
 * onto zeros: the bits of nn_axpy applied a term at a time. */
void nn_sum_rows(float *y, const float *const *src, const float *scale, size_t nt, size_t n);
/* dst[t] (n) += scale[t] x for t = 0..nt-1 in order (a dst may repeat):
 * the bits of nn_axpy a term at a time. */
void nn_scatter_row(float *const *dst, const float *scale, size_t nt, const float *x, size_t n);

/* ---- relu, in place allowed (out == inp) ---- */
void nn_relu_forward(float *out, const float *inp, size_t n);
/* dinp += dout where out > 0 (out is the forward's output). */
void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n);
/* The same in place: d = 0 where out <= 0 (d is dout on entry, dinp after). */
void nn_relu_mask(float *d, const float *out, size_t n);

/* ---- logits (B,U) = q (B,D) c (U,D)^T + shift (U) in every row ---- */
/* shift NULL: none. */
void nn_logits_forward(float *logits, const float *q, const float *c, const float *shift,
                       size_t B, size_t U, size_t D);
/* dq (B,D) += G c; dc (U,D) += G^T q, where G = dlogits, or with rowscale
 * (B) G's row b is rowscale[b] x dlogits' (the row scales are applied to
 * the (B,D) sides, in scratch (B,D), not to dlogits). */
void nn_logits_backward(float *dq, float *dc, const float *dlogits, const float *rowscale,
                        float *scratch, const float *q, const float *c, size_t B, size_t U,
                        size_t D);
void nn_logits_forward_naive(float *logits, const float *q, const float *c,
                             size_t B, size_t U, size_t D);
void nn_logits_backward_naive(float *dq, float *dc, const float *dlogits,
                              const float *q, const float *c, size_t B, size_t U, size_t D);

/* ---- in-batch softmax cross-entropy over distinct candidates ----
 * Row b's true column is label[b]. Column u stands for count[u] identical
 * columns of the full (B, B) in-batch matrix, so its logit enters the
 * normaliser shifted by log(count[u]); with remove_hits the true column
 * counts once (TFRS remove_accidental_hits: the other copies of the
 * positive are masked). colbias (U) is added to every logit of column u,
 * the true one included (log-Q correction: colbias = -log q(item)); NULL
 * means none. count NULL means every count is 1.
 *   loss_b = -(z[b,label] ) + log sum_u exp(z[b,u] + log n[b,u])
 *   z = logits + colbias, n[b,u] = count[u] (1 for u = label[b] with remove_hits)
 * Writes the softmax probabilities p (B,U) for the backward and returns the
 * MEAN loss over the B rows. The exponential is nn_exp_neg's polynomial
 * (SSE, 4 lanes); the naive twin computes in double with libm's exp. */
double nn_softmax_xent_forward(float *probs, const float *logits, const int32_t *label,
                               const float *colbias, const int32_t *count,
                               int remove_hits, size_t B, size_t U);
double nn_softmax_xent_forward_naive(float *probs, const float *logits, const int32_t *label,
                                     const float *colbias, const int32_t *count,
                                     int remove_hits, size_t B, size_t U);
/* exp(x) for x <= 0 (relative error < 2e-7; about 1.6e-38 below -87). */
float nn_exp_neg(float x);
/* dlogits (B,U) += scale * (p - onehot(label)) / B: the gradient of
 * scale x the mean loss. */
void nn_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *label,
                              double scale, size_t B, size_t U);
/* p (n) becomes exp(p - max p) in place (nn_exp_neg's, vectorised), a
 * value of -INFINITY exactly 0; returns its sum, or 0 with p untouched
 * when every value is -INFINITY. */
float nn_exp_row(float *p, size_t n);
/* log count[u] as the softmax's shift holds it (0 for NULL or 1). */
float nn_log_count(const int32_t *count, size_t u);
/* shift (U) = colbias + log count: what column u adds to every logit, the
 * true ones included (with remove_hits the true column's log count is
 * taken out again, in the row). */
void nn_softmax_shift(float *shift, const float *colbias, const int32_t *count, size_t U);
/* The forward and the backward in one, in place, on logits (B,U) that
 * already hold z + shift (nn_logits_forward with nn_softmax_shift's
 * shift): row b becomes e - sum(e) onehot(label) with e = exp(row - max),
 * and rowscale[b] = scale / (B sum(e)), so that rowscale[b] x row b is the
 * gradient of scale x the mean loss (nn_logits_backward takes the two
 * apart: no pass over (B,U) to scale). Returns the mean loss. */
double nn_softmax_xent_rows(float *logits, float *rowscale, const int32_t *label,
                            const int32_t *count, int remove_hits, double scale, size_t B,
                            size_t U);

/* ---- squared error: returns mean_b (pred[b] - y[b])^2 ---- */
double nn_mse_forward(const float *pred, const float *y, size_t B);
/* dpred += scale * 2 (pred - y) / B */
void nn_mse_backward(float *dpred, const float *pred, const float *y,
                     double scale, size_t B);

#endif
