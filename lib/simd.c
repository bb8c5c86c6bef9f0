/* simd.c: the vector paths' choice (see simd.h), read once. */
#include "simd.h"

#include <stdlib.h>
#include <string.h>

int mlr_simd_level = MLR_SIMD_UNSET;

/* Threads that race to the first call compute the same value, so a
 * relaxed atomic store is all it needs. */
int mlr_simd_init(void)
{
    const char *force = getenv("MLR_SIMD");
    int l = MLR_SIMD_SSE;
#if defined(__x86_64__) && defined(__GNUC__)
    if (!(force && strcmp(force, "sse") == 0) && __builtin_cpu_supports("avx2"))
        l = __builtin_cpu_supports("fma") ? MLR_SIMD_FMA : MLR_SIMD_AVX2;
#else
    (void)force;
#endif
    __atomic_store_n(&mlr_simd_level, l, __ATOMIC_RELAXED);
    return l;
}
