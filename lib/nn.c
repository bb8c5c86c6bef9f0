/* nn.c: layers of the two-tower model (see nn.h for the shape legend). */
#include "nn.h"

#include <cblas.h>
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* AVX2 versions of the elementwise loops, chosen at run time (simd.h:
 * MLR_SIMD=sse turns them off), computing the same bits as the SSE ones,
 * but for the exp's lanes, which fuse multiply-adds (exp_lanes_fma) */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__SSE2__)
#define MLR_AVX2 1
#include <immintrin.h>
#else
#define MLR_AVX2 0
#endif
#include <stdlib.h>
#include <string.h>

#include "mlr.h"
#include "simd.h"

/* ---- touched rows ---- */

void nn_rowset_init(nn_rowset *s, size_t V)
{
    s->n = 0;
    s->list = xmalloc((V ? V : 1) * sizeof *s->list);
    s->mark = xcalloc(V ? V : 1, 1);
    s->slot = NULL;
    s->g = NULL;
    s->width = s->cap = 0;
}

void nn_rowset_init_grad(nn_rowset *s, size_t V, size_t cap, size_t width)
{
    nn_rowset_init(s, V);
    s->slot = xmalloc((V ? V : 1) * sizeof *s->slot);
    size_t n = cap * width;
    s->g = xcalloc(n ? n : 1, sizeof *s->g); /* unlisted rows are zero */
    s->width = width;
    s->cap = cap;
}

void nn_rowset_free(nn_rowset *s)
{
    free(s->list);
    free(s->mark);
    free(s->slot);
    free(s->g);
    memset(s, 0, sizeof *s);
}

/* Where row's gradient goes: its own row of s->g (marked, already zero:
 * nn_rowset_clear zeroes the listed rows in one call) when s has them,
 * else the table's row (marked in s). */
static float *grad_row(float *dtable, nn_rowset *s, size_t row, size_t E)
{
    if (!s || !s->g) {
        if (s)
            nn_rowset_add(s, row);
        return dtable + row * E;
    }
    if (!s->mark[row]) {
        if (s->n == s->cap) /* the caller sized it for every row a batch can touch */
            mlr_die("internal error: a row set holds gradients for %zu rows only", s->cap);
        s->mark[row] = 1;
        s->slot[row] = (int32_t)s->n;
        s->list[s->n++] = (uint32_t)row;
    }
    return s->g + (size_t)s->slot[row] * s->width;
}

void nn_rowset_add(nn_rowset *s, size_t row)
{
    if (s->mark[row])
        return;
    s->mark[row] = 1;
    s->list[s->n++] = (uint32_t)row;
}

void nn_rowset_clear(nn_rowset *s)
{
    if (s->g)
        memset(s->g, 0, s->n * s->width * sizeof(float));
    for (size_t i = 0; i < s->n; i++)
        s->mark[s->list[i]] = 0;
    s->n = 0;
}

/* ---- embeddings ---- */

/* Rows this far ahead are prefetched: with a vocabulary of 138K users
 * (MovieLens 20M) each row is a cache miss, and the loops would wait for
 * them one by one. */
enum { AHEAD = 6 };

void nn_embedding_forward(float *out, size_t ldo, const int32_t *ids,
                          const float *table, size_t B, size_t E)
{
    for (size_t b = 0; b < B; b++) {
        if (b + AHEAD < B)
            __builtin_prefetch(table + (size_t)ids[b + AHEAD] * E);
        memcpy(out + b * ldo, table + (size_t)ids[b] * E, E * sizeof(float));
    }
}

void nn_embedding_backward(float *dtable, nn_rowset *rows, const float *dout,
                           size_t ldd, const int32_t *ids, size_t B, size_t E)
{
    for (size_t b = 0; b < B; b++) {
        if (b + AHEAD < B) {
            size_t next = (size_t)ids[b + AHEAD];
            if (rows && rows->g) { /* a large vocabulary's marks miss */
                __builtin_prefetch(rows->mark + next, 1);
                __builtin_prefetch(rows->slot + next, 1);
            } else {
                __builtin_prefetch(dtable + next * E, 1);
            }
        }
        nn_axpy(grad_row(dtable, rows, (size_t)ids[b], E), 1.0f, dout + b * ldd, E);
    }
}

size_t nn_bag_count(const int32_t *row, size_t L)
{
    size_t n = 0;
    for (size_t l = 0; l < L; l++)
        n += row[l] >= 0;
    return n;
}

enum { BAG_ROW = 64 }; /* tokens the row kernels take in one call */

/* The weight of a row's first token and the ratio of each next one: 1/n
 * and 1 for the mean, else 1/sum(g^k, k < n) and g = 2^(-1/halflife). */
static float bag_first(size_t n, double halflife, double *ratio)
{
    if (halflife <= 0) {
        *ratio = 1.0;
        return 1.0f / (float)n;
    }
    double g = exp2(-1.0 / halflife);
    if (!(g < 1.0)) { /* a halflife too long to tell from the mean */
        *ratio = 1.0;
        return 1.0f / (float)n;
    }
    *ratio = g;
    return (float)((1.0 - g) / (1.0 - pow(g, (double)n)));
}

void nn_bag_weights(float *w, const int32_t *row, size_t L, double halflife)
{
    size_t n = nn_bag_count(row, L);
    double ratio = 1.0, wk = n ? bag_first(n, halflife, &ratio) : 0.0;
    for (size_t l = 0; l < L; l++) {
        w[l] = row[l] >= 0 ? (float)wk : 0.0f;
        if (row[l] >= 0)
            wk *= ratio;
    }
}

/* o (E) = the sum of the row's token rows, the k-th times first *
 * ratio^k (the mean's: 1 and 1), the first BAG_ROW in registers
 * (nn_sum_rows, their rows' addresses in src, their weights in w), any
 * more one at a time after them: in order, nn_axpy's bits either way.
 * Returns the number of tokens. */
static size_t bag_sum(float *o, const float **src, float *w, double first, double ratio,
                      const int32_t *row, size_t L, const float *table, size_t E)
{
    double wk = first;
    size_t n = 0, l = 0;
    for (; l < L && n < BAG_ROW; l++)
        if (row[l] >= 0) {
            src[n] = table + (size_t)row[l] * E;
            w[n++] = (float)wk;
            wk *= ratio;
        }
    nn_sum_rows(o, src, w, n, E);
    for (; l < L; l++)
        if (row[l] >= 0) {
            nn_axpy(o, (float)wk, table + (size_t)row[l] * E, E);
            wk *= ratio;
            n++;
        }
    return n;
}

void nn_bag_forward(float *out, size_t ldo, const int32_t *ids,
                    const float *table, size_t B, size_t L, size_t E, double halflife)
{
    const float *src[BAG_ROW] = {NULL};
    float w[BAG_ROW] = {0};
    for (size_t b = 0; b < B; b++) {
        float *o = out + b * ldo;
        const int32_t *row = ids + b * L;
        if (halflife > 0) { /* the weights sum to 1: no scaling after */
            size_t n = nn_bag_count(row, L);
            double ratio = 1.0, first = n ? bag_first(n, halflife, &ratio) : 0.0;
            bag_sum(o, src, w, first, ratio, row, L, table, E);
            continue;
        }
        size_t n = bag_sum(o, src, w, 1.0, 1.0, row, L, table, E);
        if (n == 0)
            continue;
        float inv = 1.0f / (float)n;
        for (size_t d = 0; d < E; d++)
            o[d] *= inv;
    }
}

/* Each token's row += g times its weight, BAG_ROW tokens a call
 * (nn_scatter_row: in order, nn_axpy's bits). */
void nn_bag_backward(float *dtable, nn_rowset *rows, const float *dout,
                     size_t ldd, const int32_t *ids, size_t B, size_t L, size_t E,
                     double halflife)
{
    float *dst[BAG_ROW], scale[BAG_ROW];
    for (size_t b = 0; b < B; b++) {
        const int32_t *row = ids + b * L;
        size_t n = nn_bag_count(row, L);
        if (n == 0)
            continue;
        double ratio, wk = bag_first(n, halflife, &ratio);
        for (size_t l = 0; l < L;) {
            size_t k = 0;
            for (; l < L && k < BAG_ROW; l++)
                if (row[l] >= 0) {
                    dst[k] = grad_row(dtable, rows, (size_t)row[l], E);
                    scale[k++] = (float)wk;
                    wk *= ratio;
                }
            nn_scatter_row(dst, scale, k, dout + b * ldd, E);
        }
    }
}

void nn_copy_cols(float *out, size_t ldo, const float *inp, size_t ldi,
                  size_t B, size_t C)
{
    for (size_t b = 0; b < B; b++)
        memcpy(out + b * ldo, inp + b * ldi, C * sizeof(float));
}

void nn_copy_cols_backward(float *dinp, size_t ldi, const float *dout,
                           size_t ldd, size_t B, size_t C)
{
    for (size_t b = 0; b < B; b++)
        for (size_t d = 0; d < C; d++)
            dinp[b * ldi + d] += dout[b * ldd + d];
}

/* ---- dense ---- */

/* out (B, M): the bias in every row (a memcpy call per 64-float row was
 * most of the cost). */
static void fill_rows(float *out, const float *bias, size_t B, size_t M)
{
    for (size_t b = 0; b < B; b++) {
        float *o = out + b * M;
        size_t k = 0;
#if defined(__SSE2__)
        for (; k + 4 <= M; k += 4)
            _mm_storeu_ps(o + k, _mm_loadu_ps(bias + k));
#endif
        for (; k < M; k++)
            o[k] = bias[k];
    }
}

/* dbias (M) += the sum of dout's B rows, added row by row onto zeros
 * (16 columns at a time in registers), then onto dbias. */
static void add_col_sums(float *dbias, const float *dout, size_t B, size_t M)
{
    size_t k = 0;
#if defined(__SSE2__)
    for (; k + 16 <= M; k += 16) {
        __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t b = 0; b < B; b++) {
            const float *d = dout + b * M + k;
            a0 = _mm_add_ps(a0, _mm_loadu_ps(d));
            a1 = _mm_add_ps(a1, _mm_loadu_ps(d + 4));
            a2 = _mm_add_ps(a2, _mm_loadu_ps(d + 8));
            a3 = _mm_add_ps(a3, _mm_loadu_ps(d + 12));
        }
        _mm_storeu_ps(dbias + k, _mm_add_ps(_mm_loadu_ps(dbias + k), a0));
        _mm_storeu_ps(dbias + k + 4, _mm_add_ps(_mm_loadu_ps(dbias + k + 4), a1));
        _mm_storeu_ps(dbias + k + 8, _mm_add_ps(_mm_loadu_ps(dbias + k + 8), a2));
        _mm_storeu_ps(dbias + k + 12, _mm_add_ps(_mm_loadu_ps(dbias + k + 12), a3));
    }
#endif
    for (; k < M; k++) {
        float a = 0.0f;
        for (size_t b = 0; b < B; b++)
            a += dout[b * M + k];
        dbias[k] += a;
    }
}

void nn_dense_forward(float *out, const float *inp, const float *w,
                      const float *bias, size_t B, size_t K, size_t M)
{
    fill_rows(out, bias, B, M);
    if (B == 0 || K == 0 || M == 0)
        return;
    /* out (B,M) += inp (B,K) w (K,M) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)M, (int)K,
                1.0f, inp, (int)K, w, (int)M, 1.0f, out, (int)M);
}

void nn_dense_backward(float *dinp, float *dw, float *dbias, const float *dout,
                       const float *inp, const float *w, size_t B, size_t K, size_t M)
{
    add_col_sums(dbias, dout, B, M);
    if (B == 0 || K == 0 || M == 0)
        return;
    /* dw (K,M) += inp^T (K,B) dout (B,M) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)M, (int)B,
                1.0f, inp, (int)K, dout, (int)M, 1.0f, dw, (int)M);
    /* dinp (B,K) += dout (B,M) w^T (M,K) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)K, (int)M,
                    1.0f, dout, (int)M, w, (int)M, 1.0f, dinp, (int)K);
}

void nn_dense_forward_naive(float *out, const float *inp, const float *w,
                            const float *bias, size_t B, size_t K, size_t M)
{
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < M; o++) {
            float s = bias[o];
            for (size_t i = 0; i < K; i++)
                s += inp[b * K + i] * w[i * M + o];
            out[b * M + o] = s;
        }
}

void nn_dense_backward_naive(float *dinp, float *dw, float *dbias, const float *dout,
                             const float *inp, const float *w, size_t B, size_t K, size_t M)
{
    for (size_t b = 0; b < B; b++)
        for (size_t o = 0; o < M; o++) {
            float g = dout[b * M + o];
            dbias[o] += g;
            for (size_t i = 0; i < K; i++) {
                dw[i * M + o] += inp[b * K + i] * g;
                if (dinp)
                    dinp[b * K + i] += w[i * M + o] * g;
            }
        }
}

/* ---- plain products ---- */

/* A product into a fresh C is memset and beta = 1, never beta = 0:
 * OpenBLAS zeroes C for beta = 0 in a loop of its own (sgemm_beta, 3% of
 * an epoch, 5% of a 256x226x64 product) that memset outruns; 0 + x is x,
 * so the bits are the same. */

void nn_matmul(float *out, const float *a, const float *b, size_t n, size_t k, size_t m)
{
    if (n == 0 || m == 0)
        return;
    memset(out, 0, n * m * sizeof(float));
    nn_matmul_acc(out, a, b, n, k, m);
}

void nn_matmul_acc(float *out, const float *a, const float *b, size_t n, size_t k, size_t m)
{
    if (n == 0 || k == 0 || m == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)m, (int)k,
                1.0f, a, (int)k, b, (int)m, 1.0f, out, (int)m);
}

void nn_matmul_tn_acc(float *out, const float *a, const float *b, size_t n, size_t k, size_t m)
{
    if (n == 0 || k == 0 || m == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)m, (int)n,
                1.0f, a, (int)k, b, (int)m, 1.0f, out, (int)m);
}

void nn_matmul_nt(float *out, const float *a, const float *b, size_t n, size_t m, size_t k)
{
    if (n == 0 || k == 0)
        return;
    memset(out, 0, n * k * sizeof(float));
    nn_matmul_nt_acc(out, a, b, n, m, k);
}

void nn_matmul_nt_acc(float *out, const float *a, const float *b, size_t n, size_t m, size_t k)
{
    if (n == 0 || m == 0 || k == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)m,
                1.0f, a, (int)m, b, (int)m, 1.0f, out, (int)k);
}

void nn_matmul_naive(float *out, const float *a, const float *b, size_t n, size_t k, size_t m)
{
    memset(out, 0, n * m * sizeof(float)); /* 0 + s is s */
    nn_matmul_acc_naive(out, a, b, n, k, m);
}

void nn_matmul_acc_naive(float *out, const float *a, const float *b, size_t n, size_t k, size_t m)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            float s = 0.0f;
            for (size_t l = 0; l < k; l++)
                s += a[i * k + l] * b[l * m + j];
            out[i * m + j] += s;
        }
}

void nn_matmul_tn_acc_naive(float *out, const float *a, const float *b, size_t n, size_t k, size_t m)
{
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < k; l++)
            for (size_t j = 0; j < m; j++)
                out[l * m + j] += a[i * k + l] * b[i * m + j];
}

void nn_matmul_nt_naive(float *out, const float *a, const float *b, size_t n, size_t m, size_t k)
{
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < k; l++) {
            float s = 0.0f;
            for (size_t j = 0; j < m; j++)
                s += a[i * m + j] * b[l * m + j];
            out[i * k + l] = s;
        }
}

#if MLR_AVX2
__attribute__((target("avx2"))) static size_t axpy_avx2(float *y, float s, const float *x, size_t n)
{
    size_t k = 0;
    __m256 S = _mm256_set1_ps(s);
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(y + k, _mm256_add_ps(_mm256_loadu_ps(y + k), _mm256_mul_ps(S, _mm256_loadu_ps(x + k))));
    return k;
}
#endif

void nn_axpy(float *y, float s, const float *x, size_t n)
{
    size_t k = 0;
#if MLR_AVX2
    if (mlr_simd_avx2())
        k = axpy_avx2(y, s, x, n);
#endif
#if defined(__SSE2__)
    __m128 S = _mm_set1_ps(s);
    for (; k + 4 <= n; k += 4)
        _mm_storeu_ps(y + k, _mm_add_ps(_mm_loadu_ps(y + k), _mm_mul_ps(S, _mm_loadu_ps(x + k))));
#endif
    for (; k < n; k++)
        y[k] += s * x[k];
}

/* out[u] = q[u] x scale + add[u], or -INFINITY where q[u] is INT16_MIN:
 * SSE2 four at a time, the same operations (mul, then add) as the tail. */
void nn_dequant_add(float *out, const int16_t *q, float scale, const float *add, size_t n)
{
    size_t u = 0;
#if defined(__SSE2__)
    __m128 s = _mm_set1_ps(scale), ninf = _mm_set1_ps(-INFINITY);
    __m128i none = _mm_set1_epi32(INT16_MIN);
    for (; u + 4 <= n; u += 4) {
        __m128i w = _mm_loadl_epi64((const __m128i *)(q + u));
        __m128i v = _mm_srai_epi32(_mm_unpacklo_epi16(w, w), 16); /* sign-extended */
        __m128 f = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(v), s), _mm_loadu_ps(add + u));
        __m128 m = _mm_castsi128_ps(_mm_cmpeq_epi32(v, none));
        _mm_storeu_ps(out + u, _mm_or_ps(_mm_andnot_ps(m, f), _mm_and_ps(m, ninf)));
    }
#endif
    for (; u < n; u++)
        out[u] = q[u] == INT16_MIN ? -INFINITY : (float)q[u] * scale + add[u];
}

/* x . y in eight lanes (lane k sums the products at u = k mod 8, mul then
 * add), folded as exp_shift_sum folds its sums, then the tail in order:
 * the same bits with AVX2, SSE or neither. */
#if MLR_AVX2
__attribute__((target("avx2"))) static size_t dot_avx2(const float *x, const float *y, size_t n,
                                                       float lane[8])
{
    size_t u = 0;
    __m256 acc = _mm256_setzero_ps();
    for (; u + 8 <= n; u += 8)
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(x + u), _mm256_loadu_ps(y + u)));
    _mm256_storeu_ps(lane, acc);
    return u;
}
#endif

float nn_dot(const float *x, const float *y, size_t n)
{
    size_t u = 0;
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#if MLR_AVX2
    if (mlr_simd_avx2())
        u = dot_avx2(x, y, n, lane);
    else
#endif
    {
#if defined(__SSE2__)
        __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
        for (; u + 8 <= n; u += 8) {
            lo = _mm_add_ps(lo, _mm_mul_ps(_mm_loadu_ps(x + u), _mm_loadu_ps(y + u)));
            hi = _mm_add_ps(hi, _mm_mul_ps(_mm_loadu_ps(x + u + 4), _mm_loadu_ps(y + u + 4)));
        }
        _mm_storeu_ps(lane, lo);
        _mm_storeu_ps(lane + 4, hi);
#else
        for (; u + 8 <= n; u += 8)
            for (int k = 0; k < 8; k++)
                lane[k] += x[u + k] * y[u + k];
#endif
    }
    for (int k = 0; k < 4; k++)
        lane[k] += lane[k + 4];
    float sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (; u < n; u++)
        sum += x[u] * y[u];
    return sum;
}

/* The row kernels: a term at a time in order, mul then add, as nn_axpy,
 * so they give its bits; 32 columns of y (or x) stay in registers over
 * all the terms, which is the point: a tower's first layer adds a dozen
 * 64-wide rows per batch row, and an nn_axpy call each was 9% of an epoch. */
#if MLR_AVX2
__attribute__((target("avx2"))) static size_t sum_rows_avx2(float *y, const float *const *src,
                                                            const float *scale, size_t nt, size_t n)
{
    size_t k = 0;
    for (; k + 32 <= n; k += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t t = 0; t < nt; t++) {
            __m256 S = _mm256_set1_ps(scale[t]);
            const float *x = src[t] + k;
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(S, _mm256_loadu_ps(x)));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(S, _mm256_loadu_ps(x + 8)));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(S, _mm256_loadu_ps(x + 16)));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(S, _mm256_loadu_ps(x + 24)));
        }
        _mm256_storeu_ps(y + k, a0);
        _mm256_storeu_ps(y + k + 8, a1);
        _mm256_storeu_ps(y + k + 16, a2);
        _mm256_storeu_ps(y + k + 24, a3);
    }
    for (; k + 8 <= n; k += 8) {
        __m256 a = _mm256_setzero_ps();
        for (size_t t = 0; t < nt; t++)
            a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_set1_ps(scale[t]), _mm256_loadu_ps(src[t] + k)));
        _mm256_storeu_ps(y + k, a);
    }
    return k;
}

__attribute__((target("avx2"))) static size_t scatter_row_avx2(float *const *dst, const float *scale,
                                                              size_t nt, const float *x, size_t n)
{
    size_t k = 0;
    for (; k + 32 <= n; k += 32) {
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
        __m256 x2 = _mm256_loadu_ps(x + k + 16), x3 = _mm256_loadu_ps(x + k + 24);
        for (size_t t = 0; t < nt; t++) {
            __m256 S = _mm256_set1_ps(scale[t]);
            float *y = dst[t] + k;
            _mm256_storeu_ps(y, _mm256_add_ps(_mm256_loadu_ps(y), _mm256_mul_ps(S, x0)));
            _mm256_storeu_ps(y + 8, _mm256_add_ps(_mm256_loadu_ps(y + 8), _mm256_mul_ps(S, x1)));
            _mm256_storeu_ps(y + 16, _mm256_add_ps(_mm256_loadu_ps(y + 16), _mm256_mul_ps(S, x2)));
            _mm256_storeu_ps(y + 24, _mm256_add_ps(_mm256_loadu_ps(y + 24), _mm256_mul_ps(S, x3)));
        }
    }
    for (; k + 8 <= n; k += 8) {
        __m256 x0 = _mm256_loadu_ps(x + k);
        for (size_t t = 0; t < nt; t++) {
            float *y = dst[t] + k;
            _mm256_storeu_ps(y, _mm256_add_ps(_mm256_loadu_ps(y), _mm256_mul_ps(_mm256_set1_ps(scale[t]), x0)));
        }
    }
    return k;
}
#endif

void nn_sum_rows(float *y, const float *const *src, const float *scale, size_t nt, size_t n)
{
    size_t k = 0;
#if MLR_AVX2
    if (mlr_simd_avx2())
        k = sum_rows_avx2(y, src, scale, nt, n);
#endif
    for (; k < n; k++) {
        float a = 0.0f;
        for (size_t t = 0; t < nt; t++)
            a += scale[t] * src[t][k];
        y[k] = a;
    }
}

void nn_scatter_row(float *const *dst, const float *scale, size_t nt, const float *x, size_t n)
{
    size_t k = 0;
#if MLR_AVX2
    if (mlr_simd_avx2())
        k = scatter_row_avx2(dst, scale, nt, x, n);
#endif
    for (size_t t = 0; t < nt; t++)
        for (size_t j = k; j < n; j++)
            dst[t][j] += scale[t] * x[j];
}

/* ---- relu ---- */

/* Branch-free: the signs of activations are random, a branch per element
 * mispredicts half the time (the ReLU loops were 6% of an epoch). SSE's
 * max(x, 0) is exactly x > 0 ? x : 0, NaN included. */
#if MLR_AVX2
/* The ReLU passes eight lanes at a time (max and mask: the same bits). */
__attribute__((target("avx2"))) static size_t relu_avx2(float *out, const float *inp, size_t n)
{
    size_t i = 0;
    __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_max_ps(_mm256_loadu_ps(inp + i), zero));
    return i;
}

__attribute__((target("avx2"))) static size_t relu_mask_avx2(float *d, const float *out, size_t n)
{
    size_t i = 0;
    __m256 zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(out + i), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(d + i, _mm256_and_ps(keep, _mm256_loadu_ps(d + i)));
    }
    return i;
}
#endif

void nn_relu_forward(float *out, const float *inp, size_t n)
{
    size_t i = 0;
#if MLR_AVX2
    if (mlr_simd_avx2())
        i = relu_avx2(out, inp, n);
#endif
#if defined(__SSE2__)
    __m128 zero = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(out + i, _mm_max_ps(_mm_loadu_ps(inp + i), zero));
#endif
    for (; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f)
            dinp[i] += dout[i];
}

void nn_relu_mask(float *d, const float *out, size_t n)
{
    size_t i = 0;
#if MLR_AVX2
    if (mlr_simd_avx2())
        i = relu_mask_avx2(d, out, n);
#endif
#if defined(__SSE2__)
    __m128 zero = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        __m128 keep = _mm_cmpgt_ps(_mm_loadu_ps(out + i), zero);
        _mm_storeu_ps(d + i, _mm_and_ps(keep, _mm_loadu_ps(d + i)));
    }
#endif
    for (; i < n; i++)
        d[i] = out[i] > 0.0f ? d[i] : 0.0f;
}

/* ---- logits ---- */

/* Row b of y (B,D) = (or with add +=) r[b] x row b of x. */
static void scale_rows(float *y, const float *x, const float *r, size_t B, size_t D, int add)
{
    for (size_t b = 0; b < B; b++, x += D, y += D) {
        size_t d = 0;
#if defined(__SSE2__)
        __m128 S = _mm_set1_ps(r[b]);
        for (; d + 4 <= D; d += 4) {
            __m128 v = _mm_mul_ps(S, _mm_loadu_ps(x + d));
            _mm_storeu_ps(y + d, add ? _mm_add_ps(_mm_loadu_ps(y + d), v) : v);
        }
#endif
        for (; d < D; d++)
            y[d] = add ? y[d] + r[b] * x[d] : r[b] * x[d];
    }
}

void nn_logits_forward(float *logits, const float *q, const float *c, const float *shift,
                       size_t B, size_t U, size_t D)
{
    if (!shift) {
        nn_matmul_nt(logits, q, c, B, D, U); /* logits (B,U) = q (B,D) c^T (D,U) */
        return;
    }
    for (size_t b = 0; b < B; b++) /* the product adds to them: no pass of its own */
        memcpy(logits + b * U, shift, U * sizeof(float));
    nn_matmul_nt_acc(logits, q, c, B, D, U);
}

void nn_logits_backward(float *dq, float *dc, const float *dlogits, const float *rowscale,
                        float *scratch, const float *q, const float *c, size_t B, size_t U,
                        size_t D)
{
    if (!rowscale) {
        nn_matmul_acc(dq, dlogits, c, B, U, D);    /* dq (B,D) += dlogits (B,U) c (U,D) */
        nn_matmul_tn_acc(dc, dlogits, q, B, U, D); /* dc (U,D) += dlogits^T (U,B) q (B,D) */
        return;
    }
    /* the row scales on the (B,D) sides, not on the (B,U) dlogits */
    nn_matmul(scratch, dlogits, c, B, U, D);
    scale_rows(dq, scratch, rowscale, B, D, 1);
    scale_rows(scratch, q, rowscale, B, D, 0);
    nn_matmul_tn_acc(dc, dlogits, scratch, B, U, D);
}

void nn_logits_forward_naive(float *logits, const float *q, const float *c,
                             size_t B, size_t U, size_t D)
{
    for (size_t b = 0; b < B; b++)
        for (size_t u = 0; u < U; u++) {
            float s = 0.0f;
            for (size_t d = 0; d < D; d++)
                s += q[b * D + d] * c[u * D + d];
            logits[b * U + u] = s;
        }
}

void nn_logits_backward_naive(float *dq, float *dc, const float *dlogits,
                              const float *q, const float *c, size_t B, size_t U, size_t D)
{
    for (size_t b = 0; b < B; b++)
        for (size_t u = 0; u < U; u++) {
            float g = dlogits[b * U + u];
            for (size_t d = 0; d < D; d++) {
                dq[b * D + d] += g * c[u * D + d];
                dc[u * D + d] += g * q[b * D + d];
            }
        }
}

/* ---- softmax cross-entropy ---- */

/* exp(x) for x <= 0 as Cephes' expf: x = n ln2 + r, a degree-6 polynomial
 * in r, times 2^n; relative error below 2e-7, and 0 < result for x >= -87
 * (below that the clamp gives about 1.6e-38, nothing in a softmax). The
 * SSE and scalar paths do the same operations in the same order, so a row
 * gets the same bits whatever its length. */
#define EXP_LO -87.0f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_C1 0.693359375f
#define EXP_C2 -2.12194440e-4f
#define EXP_P0 1.9875691500e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

static float exp_neg(float x)
{
    x = x > EXP_LO ? x : EXP_LO;
    float fx = x * EXP_LOG2E + 0.5f;
    float n = (float)(int32_t)fx; /* truncation, then floor */
    n = n > fx ? n - 1.0f : n;
    x = x - n * EXP_C1;
    x = x - n * EXP_C2;
    float z = x * x;
    float y = ((((EXP_P0 * x + EXP_P1) * x + EXP_P2) * x + EXP_P3) * x + EXP_P4) * x + EXP_P5;
    y = y * z + x + 1.0f;
    union { int32_t i; float f; } two = {.i = ((int32_t)n + 127) << 23};
    return y * two.f;
}

float nn_exp_neg(float x)
{
    return exp_neg(x);
}

/* p[u] = exp(p[u] - mx), returning the sum in a fixed order: eight lanes
 * (lane k sums the u = k mod 8), folded to four (k + 4 into k), then
 * ((0 + 1) + (2 + 3)), then the tail in order.
 * With AVX2 the eight lanes are one register, with SSE two. */
#if defined(__SSE2__)
static __m128 exp4(__m128 x, __m128 m)
{
    __m128 one = _mm_set1_ps(1.0f);
    x = _mm_max_ps(_mm_sub_ps(x, m), _mm_set1_ps(EXP_LO));
    __m128 fx = _mm_add_ps(_mm_mul_ps(x, _mm_set1_ps(EXP_LOG2E)), _mm_set1_ps(0.5f));
    __m128 nf = _mm_cvtepi32_ps(_mm_cvttps_epi32(fx));
    nf = _mm_sub_ps(nf, _mm_and_ps(_mm_cmpgt_ps(nf, fx), one));
    x = _mm_sub_ps(x, _mm_mul_ps(nf, _mm_set1_ps(EXP_C1)));
    x = _mm_sub_ps(x, _mm_mul_ps(nf, _mm_set1_ps(EXP_C2)));
    __m128 z = _mm_mul_ps(x, x);
    __m128 y = _mm_add_ps(_mm_mul_ps(_mm_set1_ps(EXP_P0), x), _mm_set1_ps(EXP_P1));
    y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(EXP_P2));
    y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(EXP_P3));
    y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(EXP_P4));
    y = _mm_add_ps(_mm_mul_ps(y, x), _mm_set1_ps(EXP_P5));
    y = _mm_add_ps(_mm_add_ps(_mm_mul_ps(y, z), x), one);
    __m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_cvtps_epi32(nf), _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(y, _mm_castsi128_ps(e));
}
#endif

#if MLR_AVX2
/* The AVX2 lanes fuse the multiply-adds (1% of an epoch): their bits
 * differ from the SSE lanes' and the tail's by a rounding, so a row's
 * bits depend on the instruction set, as OpenBLAS's kernels already make
 * a model's. */
__attribute__((target("avx2,fma"))) static size_t exp_lanes_fma(float *p, float mx, size_t n,
                                                                 float lane[4], int exact)
{
    size_t u = 0;
    __m256 acc = _mm256_setzero_ps(), m = _mm256_set1_ps(mx), one = _mm256_set1_ps(1.0f);
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (; u + 8 <= n; u += 8) {
        __m256 raw = _mm256_loadu_ps(p + u);
        __m256 x = _mm256_max_ps(_mm256_sub_ps(raw, m), _mm256_set1_ps(EXP_LO));
        __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(EXP_LOG2E), _mm256_set1_ps(0.5f));
        __m256 nf = _mm256_floor_ps(fx);
        x = _mm256_fnmadd_ps(nf, _mm256_set1_ps(EXP_C1), x);
        x = _mm256_fnmadd_ps(nf, _mm256_set1_ps(EXP_C2), x);
        __m256 z = _mm256_mul_ps(x, x);
        __m256 y = _mm256_fmadd_ps(_mm256_set1_ps(EXP_P0), x, _mm256_set1_ps(EXP_P1));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(EXP_P2));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(EXP_P3));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(EXP_P4));
        y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(EXP_P5));
        y = _mm256_add_ps(_mm256_fmadd_ps(y, z, x), one);
        __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nf), _mm256_set1_epi32(127)), 23);
        y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
        if (exact)
            y = _mm256_and_ps(y, _mm256_cmp_ps(raw, ninf, _CMP_NEQ_OQ));
        _mm256_storeu_ps(p + u, y);
        acc = _mm256_add_ps(acc, y);
    }
    _mm_storeu_ps(lane, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
    return u;
}
#endif

/* exact: an input of -INFINITY gives exactly 0, not the floor */
static float exp_shift_sum(float *p, float mx, size_t n, int exact)
{
    size_t u = 0;
    float sum = 0.0f, lane[4] = {0, 0, 0, 0};
#if MLR_AVX2
    if (mlr_simd_fma())
        u = exp_lanes_fma(p, mx, n, lane, exact);
    else
#endif
    {
#if defined(__SSE2__)
        __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps(), m = _mm_set1_ps(mx);
        __m128 ninf = _mm_set1_ps(-INFINITY);
        for (; u + 8 <= n; u += 8) {
            __m128 ra = _mm_loadu_ps(p + u), rb = _mm_loadu_ps(p + u + 4);
            __m128 a = exp4(ra, m), b = exp4(rb, m);
            if (exact) {
                a = _mm_and_ps(a, _mm_cmpneq_ps(ra, ninf));
                b = _mm_and_ps(b, _mm_cmpneq_ps(rb, ninf));
            }
            _mm_storeu_ps(p + u, a);
            _mm_storeu_ps(p + u + 4, b);
            lo = _mm_add_ps(lo, a);
            hi = _mm_add_ps(hi, b);
        }
        _mm_storeu_ps(lane, _mm_add_ps(lo, hi));
#endif
    }
    sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (; u < n; u++) {
        p[u] = exact && p[u] == -INFINITY ? 0.0f : exp_neg(p[u] - mx);
        sum += p[u];
    }
    return sum;
}

static float row_max(const float *p, size_t n)
{
    size_t u = 0;
    float mx = -INFINITY;
#if defined(__SSE2__)
    __m128 m0 = _mm_set1_ps(-INFINITY), m1 = m0;
    for (; u + 8 <= n; u += 8) {
        m0 = _mm_max_ps(m0, _mm_loadu_ps(p + u));
        m1 = _mm_max_ps(m1, _mm_loadu_ps(p + u + 4));
    }
    float lane[4];
    _mm_storeu_ps(lane, _mm_max_ps(m0, m1));
    for (int k = 0; k < 4; k++)
        mx = lane[k] > mx ? lane[k] : mx;
#endif
    for (; u < n; u++)
        mx = p[u] > mx ? p[u] : mx;
    return mx;
}

float nn_log_count(const int32_t *count, size_t u)
{
    int n = count ? count[u] : 1;
    return n > 1 ? logf((float)n) : 0.0f;
}

float nn_exp_row(float *p, size_t n)
{
    float mx = row_max(p, n);
    return mx == -INFINITY ? 0.0f : exp_shift_sum(p, mx, n, 1);
}

void nn_softmax_shift(float *shift, const float *colbias, const int32_t *count, size_t U)
{
    for (size_t u = 0; u < U; u++)
        shift[u] = (colbias ? colbias[u] : 0.0f) + nn_log_count(count, u);
}

/* Row p (n) of z + shift, true column y whose shift holds logc: p becomes
 * exp(p - max) (with remove_hits the true column's log count out first);
 * returns the sum of the row, *loss its cross-entropy. */
static float exp_row(float *p, size_t n, size_t y, float logc, int remove_hits, double *loss)
{
    float zy = p[y] - logc;
    if (remove_hits)
        p[y] = zy;
    float mx = row_max(p, n);
    float sum = exp_shift_sum(p, mx, n, 0);
    *loss = -((double)zy - mx) + log((double)sum);
    return sum;
}

double nn_softmax_xent_forward(float *probs, const float *logits, const int32_t *label,
                               const float *colbias, const int32_t *count,
                               int remove_hits, size_t B, size_t U)
{
    if (B == 0 || U == 0)
        return 0.0;
    float *shift = probs + (B - 1) * U; /* the last row, read as it is overwritten */
    nn_softmax_shift(shift, colbias, count, U);
    double total = 0.0, loss;
    for (size_t b = 0; b < B; b++) {
        float *p = probs + b * U;
        for (size_t u = 0; u < U; u++)
            p[u] = logits[b * U + u] + shift[u];
        size_t y = (size_t)label[b];
        float sum = exp_row(p, U, y, nn_log_count(count, y), remove_hits, &loss);
        float inv = 1.0f / sum;
        scale_rows(p, p, &inv, 1, U, 0);
        total += loss;
    }
    return total / (double)B;
}

double nn_softmax_xent_rows(float *logits, float *rowscale, const int32_t *label,
                            const int32_t *count, int remove_hits, double scale, size_t B,
                            size_t U)
{
    if (B == 0 || U == 0)
        return 0.0;
    float s = (float)(scale / (double)B);
    double total = 0.0, loss;
    for (size_t b = 0; b < B; b++) {
        float *p = logits + b * U;
        size_t y = (size_t)label[b];
        float sum = exp_row(p, U, y, nn_log_count(count, y), remove_hits, &loss);
        p[y] -= sum;
        rowscale[b] = s / sum;
        total += loss;
    }
    return total / (double)B;
}

double nn_softmax_xent_forward_naive(float *probs, const float *logits, const int32_t *label,
                                     const float *colbias, const int32_t *count,
                                     int remove_hits, size_t B, size_t U)
{
    double total = 0.0;
    for (size_t b = 0; b < B; b++) {
        const float *z = logits + b * U;
        float *p = probs + b * U;
        size_t y = (size_t)label[b];
        double mx = -INFINITY, sum = 0.0;
        for (size_t u = 0; u < U; u++) {
            int n = count ? count[u] : 1;
            if (u == y && remove_hits)
                n = 1;
            double v = (double)z[u] + (colbias ? colbias[u] : 0.0f) + log((double)n);
            mx = v > mx ? v : mx;
        }
        for (size_t u = 0; u < U; u++) {
            int n = count ? count[u] : 1;
            if (u == y && remove_hits)
                n = 1;
            double v = (double)z[u] + (colbias ? colbias[u] : 0.0f) + log((double)n);
            p[u] = (float)exp(v - mx);
            sum += exp(v - mx);
        }
        for (size_t u = 0; u < U; u++)
            p[u] = (float)(p[u] / sum);
        total += -((double)z[y] + (colbias ? colbias[y] : 0.0f) - mx) + log(sum);
    }
    return B ? total / (double)B : 0.0;
}

void nn_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *label,
                              double scale, size_t B, size_t U)
{
    if (B == 0)
        return;
    float s = (float)(scale / (double)B);
    for (size_t b = 0; b < B; b++) {
        const float *p = probs + b * U;
        float *g = dlogits + b * U;
        for (size_t u = 0; u < U; u++)
            g[u] += s * p[u];
        g[label[b]] -= s;
    }
}

/* ---- squared error ---- */

double nn_mse_forward(const float *pred, const float *y, size_t B)
{
    double s = 0.0;
    for (size_t b = 0; b < B; b++) {
        double d = (double)pred[b] - y[b];
        s += d * d;
    }
    return B ? s / (double)B : 0.0;
}

void nn_mse_backward(float *dpred, const float *pred, const float *y,
                     double scale, size_t B)
{
    if (B == 0)
        return;
    float s = (float)(2.0 * scale / (double)B);
    for (size_t b = 0; b < B; b++)
        dpred[b] += s * (pred[b] - y[b]);
}
