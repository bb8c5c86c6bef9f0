/* simd.h: which vector paths lib/ takes, decided once per process.
 * lib/nn.c and lib/optim.c have AVX2 twins of their SSE loops; they take
 * them when the CPU has AVX2, unless the environment says MLR_SIMD=sse,
 * which forces the SSE paths so that the tests run both on one machine. */
#ifndef MLR_SIMD_H
#define MLR_SIMD_H

enum { MLR_SIMD_UNSET = -1, MLR_SIMD_SSE = 0, MLR_SIMD_AVX2 = 1, MLR_SIMD_FMA = 2 };

/* The level, MLR_SIMD_UNSET until mlr_simd_init runs; inline readers
 * below, since the row kernels ask once per row (as cheap as the
 * __builtin_cpu_supports they replace: one load, one compare). */
extern int mlr_simd_level;
int mlr_simd_init(void);

static inline int mlr_simd_get(void)
{
    int l = __atomic_load_n(&mlr_simd_level, __ATOMIC_RELAXED);
    return l == MLR_SIMD_UNSET ? mlr_simd_init() : l;
}

/* 1 when the AVX2 twins may run: the CPU has AVX2 and MLR_SIMD is not "sse". */
static inline int mlr_simd_avx2(void) { return mlr_simd_get() >= MLR_SIMD_AVX2; }
/* 1 when the fused multiply-add twins may run: mlr_simd_avx2() and FMA. */
static inline int mlr_simd_fma(void) { return mlr_simd_get() >= MLR_SIMD_FMA; }

#endif
