/* test_pool.c: every t runs once per mlr_pool_run, the return waits for
 * all of them, the ranges tile [0, n). */
#include <string.h>

#include "check.h"
#include "pool.h"

typedef struct {
    int ran[8];
    long sum[8];
} job;

static void count(int t, int nt, void *arg)
{
    job *j = arg;
    j->ran[t]++;
    size_t lo, hi;
    mlr_pool_range(1000, t, nt, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        j->sum[t] += (long)i;
}

static void test_runs_each_thread(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        mlr_pool *p = mlr_pool_new(threads);
        CHECK(mlr_pool_threads(p) == threads);
        job j;
        memset(&j, 0, sizeof j);
        for (int r = 0; r < 2000; r++)
            mlr_pool_run(p, count, &j);
        long total = 0;
        int ok = 1;
        for (int t = 0; t < threads; t++) {
            ok &= j.ran[t] == 2000;
            total += j.sum[t];
        }
        CHECKF(ok && total == 2000L * 499500L, "threads %d: total %ld", threads, total);
        mlr_pool_free(p);
    }
    mlr_pool_free(NULL);
}

static void test_ranges(void)
{
    for (size_t n = 0; n < 9; n++)
        for (int nt = 1; nt <= 4; nt++) {
            size_t next = 0, lo, hi;
            for (int t = 0; t < nt; t++) {
                mlr_pool_range(n, t, nt, &lo, &hi);
                CHECK(lo == next && hi >= lo);
                next = hi;
            }
            CHECK(next == n);
        }
}

int main(void)
{
    RUN(test_runs_each_thread);
    RUN(test_ranges);
    return check_status();
}
