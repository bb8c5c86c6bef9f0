/* bench_mem: the machine's memory bandwidth as a read-modify-write stream
 * (x = 0.5 x + 1 over MB megabytes per thread, five passes), on one thread
 * and then on THREADS at once. Adam over the embedding rows a step touched
 * is such a stream (parameters and moments read and written back); where
 * THREADS get little more than one, that phase of a step cannot speed up
 * with them.
 *   bench_mem [MB [THREADS]]   (256 2) */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>

#include "mlr.h"
#include "pool.h"

enum { PASSES = 5 };

typedef struct {
    float **x;
    size_t n;
} mem_job;

static void pass(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 0.5f + 1.0f;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same loop in AVX2 lanes, as the optimiser's: memory, not the issue
 * width, is then what limits one thread. */
__attribute__((target("avx2"))) static void pass_avx2(float *x, size_t n)
{
    __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), half), one));
    pass(x + i, n - i);
}
#endif

static void stream(int t, int nt, void *arg)
{
    (void)nt;
    mem_job *j = arg;
    for (int p = 0; p < PASSES; p++) {
#if defined(__x86_64__) && defined(__GNUC__)
        if (__builtin_cpu_supports("avx2")) {
            pass_avx2(j->x[t], j->n);
            continue;
        }
#endif
        pass(j->x[t], j->n);
    }
}

/* GB/s of the stream on the pool's threads, each over its own array. */
static double gbps(mlr_pool *pool, mem_job *j)
{
    double t0 = mlr_now();
    mlr_pool_run(pool, stream, j);
    double secs = mlr_now() - t0;
    double bytes = 2.0 * PASSES * (double)j->n * sizeof(float) * mlr_pool_threads(pool);
    return bytes / secs * 1e-9;
}

int main(int argc, char **argv)
{
    long mb = argc > 1 ? atol(argv[1]) : 256, threads = argc > 2 ? atol(argv[2]) : 2;
    if (mb < 1 || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: bench_mem [MB [THREADS]]\n");
        return 2;
    }
    mem_job j = {xcalloc((size_t)threads, sizeof(float *)), (size_t)mb << 18};
    for (long t = 0; t < threads; t++) {
        j.x[t] = xmalloc(j.n * sizeof(float));
        for (size_t i = 0; i < j.n; i++)
            j.x[t][i] = (float)(i % 7);
    }
    mlr_pool *one = mlr_pool_new(1), *all = mlr_pool_new((int)threads);
    printf("memory GB/s 1 thread: %.1f\n", gbps(one, &j));
    printf("memory GB/s %ld threads: %.1f\n", threads, gbps(all, &j));
    mlr_pool_free(one);
    mlr_pool_free(all);
    for (long t = 0; t < threads; t++)
        free(j.x[t]);
    free(j.x);
    return 0;
}
