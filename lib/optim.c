/* optim.c: Adagrad and Adam (see optim.h). */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__) && defined(__SSE2__)
#define MLR_AVX2 1 /* an AVX2 Adam chosen at run time (mlr_simd_avx2): the same bits, twice as wide */
#include <immintrin.h>
#else
#define MLR_AVX2 0
#endif

#include "mlr.h"
#include "simd.h"

opt_config opt_defaults(void)
{
    opt_config c = {.kind = OPT_ADAGRAD, .lr = 0.1f, .init_acc = 0.1f,
                    .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .l2 = 0.0f};
    return c;
}

void opt_init(optimizer *o, const opt_config *c, size_t P)
{
    o->c = *c;
    o->P = P;
    o->t = 0;
    o->lr_t = (float)(c->lr * sqrt(1.0 - c->beta2) / (1.0 - c->beta1)); /* as step 1 */
    o->m = xmalloc((P ? P : 1) * sizeof(float));
    o->v = NULL;
    if (c->kind == OPT_ADAM) {
        o->v = xcalloc(P ? P : 1, sizeof(float));
        for (size_t i = 0; i < P; i++)
            o->m[i] = 0.0f;
    } else {
        for (size_t i = 0; i < P; i++)
            o->m[i] = c->init_acc;
    }
}

void opt_free(optimizer *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void opt_begin_step(optimizer *o)
{
    o->t++;
    /* the bias correction, once per step: two pow() per embedding row
     * were a fifth of an epoch */
    const opt_config *c = &o->c;
    double t = (double)o->t;
    o->lr_t = (float)(c->lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t)));
}

#if MLR_AVX2
/* Adam's constants in eight lanes: b1 b2 a1 a2 lr eps 2 l2. */
typedef struct {
    __m256 b1, b2, a1, a2, lr, eps, l2;
} adam8_k;

__attribute__((target("avx2"))) static inline adam8_k adam8_consts(const float c[7])
{
    adam8_k k = {_mm256_set1_ps(c[0]), _mm256_set1_ps(c[1]), _mm256_set1_ps(c[2]),
                 _mm256_set1_ps(c[3]), _mm256_set1_ps(c[4]), _mm256_set1_ps(c[5]),
                 _mm256_set1_ps(c[6])};
    return k;
}

/* Adam on the eight parameters at w (and m, v) with gradient g. */
__attribute__((target("avx2"), always_inline)) static inline void adam8(const adam8_k *k, float *w,
                                                                        __m256 g, float *m, float *v)
{
    __m256 wi = _mm256_loadu_ps(w);
    __m256 gi = _mm256_add_ps(g, _mm256_mul_ps(k->l2, wi));
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(k->b1, _mm256_loadu_ps(m)), _mm256_mul_ps(k->a1, gi));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(k->b2, _mm256_loadu_ps(v)),
                              _mm256_mul_ps(_mm256_mul_ps(k->a2, gi), gi));
    _mm256_storeu_ps(m, mi);
    _mm256_storeu_ps(v, vi);
    __m256 step = _mm256_div_ps(_mm256_mul_ps(k->lr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), k->eps));
    _mm256_storeu_ps(w, _mm256_sub_ps(wi, step));
}

__attribute__((target("avx2"))) static size_t adam_avx2(float *w, const float *g, float *m, float *v,
                                                        size_t n, const float c[7])
{
    adam8_k k = adam8_consts(c);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        adam8(&k, w + i, _mm256_loadu_ps(g + i), m + i, v + i);
    return i;
}
#endif

/* Adam's step constants for the lanes: b1 b2 a1 a2 lr eps 2 l2. */
static void adam_consts(const optimizer *o, float l2, float c[7])
{
    c[0] = o->c.beta1;
    c[1] = o->c.beta2;
    c[2] = 1.0f - o->c.beta1;
    c[3] = 1.0f - o->c.beta2;
    c[4] = o->lr_t;
    c[5] = o->c.eps;
    c[6] = 2.0f * l2;
}

/* Adam on n parameters: SSE four at a time, then the same operations one
 * at a time (sqrt and division are correctly rounded in both, so a
 * parameter's bits do not depend on where it falls). */
static void adam_run(const optimizer *o, float *w, const float *g, float *m, float *v,
                     size_t n, float l2)
{
    float k[7];
    adam_consts(o, l2, k);
    float b1 = k[0], b2 = k[1], a1 = k[2], a2 = k[3], lr = k[4], eps = k[5], l2x2 = k[6];
    size_t i = 0;
#if MLR_AVX2
    if (mlr_simd_avx2())
        i = adam_avx2(w, g, m, v, n, k);
#endif
#if defined(__SSE2__)
    __m128 B1 = _mm_set1_ps(b1), B2 = _mm_set1_ps(b2), A1 = _mm_set1_ps(a1), A2 = _mm_set1_ps(a2);
    __m128 LR = _mm_set1_ps(lr), EPS = _mm_set1_ps(eps), L2 = _mm_set1_ps(l2x2);
    for (; i + 4 <= n; i += 4) {
        __m128 wi = _mm_loadu_ps(w + i);
        __m128 gi = _mm_add_ps(_mm_loadu_ps(g + i), _mm_mul_ps(L2, wi));
        __m128 mi = _mm_add_ps(_mm_mul_ps(B1, _mm_loadu_ps(m + i)), _mm_mul_ps(A1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(B2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(A2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 step = _mm_div_ps(_mm_mul_ps(LR, mi), _mm_add_ps(_mm_sqrt_ps(vi), EPS));
        _mm_storeu_ps(w + i, _mm_sub_ps(wi, step));
    }
#endif
    for (; i < n; i++) {
        float gi = g[i] + l2x2 * w[i];
        m[i] = b1 * m[i] + a1 * gi;
        v[i] = b2 * v[i] + a2 * gi * gi;
        w[i] -= lr * m[i] / (sqrtf(v[i]) + eps);
    }
}

/* One contiguous run of n parameters, with an optional L2 term. */
static void step_run(optimizer *o, float *w, const float *g, float *m, float *v,
                     size_t n, float l2)
{
    const opt_config *c = &o->c;
    if (c->kind == OPT_ADAGRAD) {
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + 2.0f * l2 * w[i];
            m[i] += gi * gi;
            w[i] -= c->lr * gi / (sqrtf(m[i]) + c->eps);
        }
        return;
    }
    adam_run(o, w, g, m, v, n, l2);
}

void opt_update_dense(optimizer *o, float *params, const float *grads,
                      size_t off, size_t n)
{
    step_run(o, params + off, grads + off, o->m + off, o->v ? o->v + off : NULL, n, 0.0f);
}

enum { ROWS_AHEAD = 4 }; /* rows of a large table are cache misses: ask early */

/* Asks for the row at `at` of the parameters, the ng gradient blocks and
 * the optimiser's state, ROWS_AHEAD rows before its update. */
static void prefetch_row(const optimizer *o, const float *params, const float *const *grads,
                         size_t ng, size_t at)
{
    __builtin_prefetch(params + at, 1);
    for (size_t s = 0; s < ng; s++)
        __builtin_prefetch(grads[s] + at, 1);
    __builtin_prefetch(o->m + at, 1);
    if (o->v)
        __builtin_prefetch(o->v + at, 1);
}

void opt_update_rows(optimizer *o, float *params, const float *grads,
                     size_t off, size_t C, const uint32_t *rows, size_t R)
{
    for (size_t r = 0; r < R; r++) {
        if (r + ROWS_AHEAD < R)
            prefetch_row(o, params, &grads, 1, off + (size_t)rows[r + ROWS_AHEAD] * C);
        size_t at = off + (size_t)rows[r] * C;
        step_run(o, params + at, grads + at, o->m + at, o->v ? o->v + at : NULL, C, o->c.l2);
    }
}

enum { SUM_CHUNK = 256 }; /* floats summed at a time: stays in L1 */

/* g (n) = the sum of grads[0..ng) over [at, at + n), in block order, and
 * those runs zeroed, in one pass (memcpy and memset of short runs became
 * rep movs and rep stos, slow to start). */
static void take_sum(float *g, float *const *grads, size_t ng, size_t at, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128 zero = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        float *p = grads[0] + at + i;
        __m128 sum = _mm_loadu_ps(p);
        _mm_storeu_ps(p, zero);
        for (size_t s = 1; s < ng; s++) {
            p = grads[s] + at + i;
            sum = _mm_add_ps(sum, _mm_loadu_ps(p));
            _mm_storeu_ps(p, zero);
        }
        _mm_storeu_ps(g + i, sum);
    }
#endif
    for (; i < n; i++) {
        g[i] = grads[0][at + i];
        grads[0][at + i] = 0.0f;
        for (size_t s = 1; s < ng; s++) {
            g[i] += grads[s][at + i];
            grads[s][at + i] = 0.0f;
        }
    }
}

static void step_sum(optimizer *o, float *params, float *const *grads, size_t ng,
                     size_t at, size_t n, float l2)
{
    float g[SUM_CHUNK];
    for (size_t k = 0; k < n; k += SUM_CHUNK) {
        size_t c = n - k < SUM_CHUNK ? n - k : SUM_CHUNK;
        take_sum(g, grads, ng, at + k, c);
        step_run(o, params + at + k, g, o->m + at + k, o->v ? o->v + at + k : NULL, c, l2);
    }
}

void opt_update_dense_sum(optimizer *o, float *params, float *const *grads, size_t ng,
                          size_t off, size_t n)
{
    step_sum(o, params, grads, ng, off, n, 0.0f);
}

#if MLR_AVX2
/* Adam on R rows of C (a multiple of 8) whose gradients are rows of g:
 * rows[r]'s at g + at[r] C. */
__attribute__((target("avx2"))) static void adam_rows_from_avx2(optimizer *o, float *params,
                                                                size_t off, size_t C,
                                                                const uint32_t *rows,
                                                                const float *g,
                                                                const uint32_t *at, size_t R,
                                                                const float c[7])
{
    adam8_k k = adam8_consts(c);
    for (size_t r = 0; r < R; r++) {
        if (r + ROWS_AHEAD < R)
            prefetch_row(o, params, NULL, 0, off + (size_t)rows[r + ROWS_AHEAD] * C);
        size_t p = off + (size_t)rows[r] * C;
        const float *gr = g + (size_t)at[r] * C;
        for (size_t i = 0; i < C; i += 8)
            adam8(&k, params + p + i, _mm256_loadu_ps(gr + i), o->m + p + i, o->v + p + i);
    }
}
#endif

void opt_update_rows_from(optimizer *o, float *params, size_t off, size_t C,
                          const uint32_t *rows, const float *g, const uint32_t *at, size_t R)
{
#if MLR_AVX2
    if (o->c.kind == OPT_ADAM && C % 8 == 0 && mlr_simd_avx2()) {
        float k[7];
        adam_consts(o, o->c.l2, k);
        adam_rows_from_avx2(o, params, off, C, rows, g, at, R, k);
        return;
    }
#endif
    for (size_t r = 0; r < R; r++) {
        size_t p = off + (size_t)rows[r] * C;
        step_run(o, params + p, g + (size_t)at[r] * C, o->m + p, o->v ? o->v + p : NULL, C,
                 o->c.l2);
    }
}
