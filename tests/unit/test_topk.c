/* test_topk.c: the blocked, heap-based selection against a full sort, on
 * integer-valued scores so that ties are everywhere; ranks against their
 * naive twin; sgemm scoring against loops; the %.6g formatter against
 * printf. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlr.h"
#include "pool.h"
#include "topk.h"

/* Small integers as scores: many exact ties. */
static void fill_ties(float *s, size_t n, mlr_rng *r, int levels)
{
    for (size_t i = 0; i < n; i++) s[i] = (float)mlr_rng_below(r, (uint64_t)levels) - 3.0f;
}

static int same_hits(const mlr_hit *a, const mlr_hit *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].item != b[i].item || a[i].score != b[i].score) return 0;
    return 1;
}

/* Sorted random exclusions, with duplicates and out-of-range entries. */
static size_t make_excl(uint32_t *ex, size_t m, mlr_rng *r)
{
    size_t n = mlr_rng_below(r, 6);
    for (size_t i = 0; i < n; i++) ex[i] = (uint32_t)mlr_rng_below(r, m + 2);
    for (size_t i = 1; i < n; i++) /* insertion sort */
        for (size_t j = i; j > 0 && ex[j - 1] > ex[j]; j--) {
            uint32_t t = ex[j];
            ex[j] = ex[j - 1];
            ex[j - 1] = t;
        }
    return n;
}

static void test_select_vs_sort(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 1);
    size_t ms[] = {1, 3, 15, 16, 17, 100, 1000, 5000};
    size_t ks[] = {1, 2, 5, 10, 33, 100, 2000};
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (int rep = 0; rep < 5; rep++) {
                size_t m = ms[a], k = ks[b];
                float *s = xmalloc(m * sizeof *s), *s2 = xmalloc(m * sizeof *s2);
                mlr_hit *h1 = xmalloc(k * sizeof *h1), *h2 = xmalloc(k * sizeof *h2);
                uint32_t ex[8];
                size_t nex = rep < 2 ? 0 : make_excl(ex, m, &r);
                fill_ties(s, m, &r, rep == 4 ? 1 : rep == 3 ? 1000 : 7);
                memcpy(s2, s, m * sizeof *s);
                size_t n1 = mlr_topk_select(s2, m, k, ex, nex, h1);
                size_t n2 = mlr_topk_select_naive(s, m, k, ex, nex, h2);
                int ok = n1 == n2 && same_hits(h1, h2, n1);
                free(s); free(s2); free(h1); free(h2);
                CHECKF(ok, "m=%zu k=%zu rep=%d: %zu vs %zu hits", m, k, rep, n1, n2);
            }
}

/* k > M returns every item, best first, ties by index. */
static void test_select_k_above_m(void)
{
    float s[5] = {1, 2, 1, 2, 0};
    mlr_hit h[10];
    CHECK(mlr_topk_select(s, 5, 10, NULL, 0, h) == 5);
    uint32_t want[5] = {1, 3, 0, 2, 4};
    for (int i = 0; i < 5; i++) CHECK(h[i].item == want[i]);
    float t[5] = {1, 2, 1, 2, 0};
    uint32_t ex[2] = {1, 4};
    CHECK(mlr_topk_select(t, 5, 10, ex, 2, h) == 3);
    CHECK(h[0].item == 3 && h[1].item == 0 && h[2].item == 2);
}

static void test_rank(void)
{
    float s[6] = {3, 5, 3, 3, 1, 5};
    /* item 2 (score 3): above it 1 and 5; equal with a smaller index: 0. */
    CHECK(mlr_topk_rank(s, 6, 2, NULL, 0) == 4);
    CHECK(mlr_topk_rank(s, 6, 5, NULL, 0) == 2);
    uint32_t ex[3] = {0, 1, 1};
    CHECK(mlr_topk_rank(s, 6, 2, ex, 3) == 2);
    uint32_t ex2[1] = {2}; /* the item itself is never excluded */
    CHECK(mlr_topk_rank(s, 6, 2, ex2, 1) == 4);
    mlr_rng r;
    mlr_rng_seed(&r, 2);
    for (int rep = 0; rep < 300; rep++) {
        size_t m = 1 + mlr_rng_below(&r, 70);
        float *x = xmalloc(m * sizeof *x);
        fill_ties(x, m, &r, 5);
        uint32_t e[8];
        size_t ne = make_excl(e, m, &r);
        size_t t = mlr_rng_below(&r, m);
        size_t a = mlr_topk_rank(x, m, t, e, ne), b = mlr_topk_rank_naive(x, m, t, e, ne);
        free(x);
        CHECKF(a == b, "m=%zu t=%zu: %zu vs %zu", m, t, a, b);
    }
}

/* Rank and selection agree: the item at list position i has rank i + 1. */
static void test_rank_matches_select(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 3);
    float s[300], c[300];
    mlr_hit h[300];
    fill_ties(s, 300, &r, 9);
    memcpy(c, s, sizeof s);
    size_t n = mlr_topk_select(c, 300, 300, NULL, 0, h);
    CHECK(n == 300);
    for (size_t i = 0; i < n; i++) CHECK(mlr_topk_rank(s, 300, h[i].item, NULL, 0) == i + 1);
}

static void test_scores_vs_naive(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 4);
    size_t b = 7, m = 13, d = 5;
    float q[35], it[65], s1[91], s2[91];
    for (size_t i = 0; i < b * d; i++) q[i] = (float)mlr_rng_normal(&r);
    for (size_t i = 0; i < m * d; i++) it[i] = (float)mlr_rng_normal(&r);
    mlr_scores(s1, q, b, it, m, d);
    mlr_scores_naive(s2, q, b, it, m, d);
    for (size_t i = 0; i < b * m; i++) CHECKF(fabsf(s1[i] - s2[i]) < 1e-5f, "at %zu", i);
}

/* The blocked path (tiles, threads, exclusions) against select on naive
 * scores, integer embeddings so that the sums are exact and tie. */
static void test_block_vs_naive(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 5);
    size_t m = 50, d = 3, b = 23;
    float it[150], q[69], s[50];
    for (size_t i = 0; i < m * d; i++) it[i] = (float)mlr_rng_below(&r, 3);
    for (size_t i = 0; i < b * d; i++) q[i] = (float)mlr_rng_below(&r, 3) - 1.0f;
    uint32_t exs[23][8];
    const uint32_t *ex[23];
    size_t nex[23];
    for (size_t i = 0; i < b; i++) {
        nex[i] = make_excl(exs[i], m, &r);
        ex[i] = exs[i];
    }
    size_t tiles[] = {1, 4, 32}, ks[] = {1, 10, 60};
    for (int th = 1; th <= 3; th++)
        for (size_t a = 0; a < 3; a++)
            for (size_t c = 0; c < 3; c++) {
                size_t k = ks[c];
                mlr_scorer *sc = mlr_scorer_new(it, m, d, tiles[a], th);
                mlr_hit *out = xmalloc(b * k * sizeof *out), want[60];
                size_t cnt[23];
                mlr_topk_block(sc, q, b, k, ex, nex, out, cnt);
                int ok = 1;
                for (size_t i = 0; i < b && ok; i++) {
                    mlr_scores_naive(s, q + i * d, 1, it, m, d);
                    size_t n = mlr_topk_select_naive(s, m, k, ex[i], nex[i], want);
                    ok = n == cnt[i] && same_hits(out + i * k, want, n);
                }
                free(out);
                mlr_scorer_free(sc);
                CHECKF(ok, "threads=%d tile=%zu k=%zu", th, tiles[a], k);
            }
}

static void test_fmt_g6(void)
{
    char a[32], b[32];
    float fixed[] = {0, -0.0f, 1, -1, 0.5f, 1e-4f, 9.999995e-5f, 0.000123456f, 123456,
                     999999.5f, 999999.4f, 1e6f, 3.14159265f, 2.5e-5f, 1e30f,
                     0.1f, 100, 12345.65f, INFINITY, -INFINITY, NAN, 1e-45f};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        mlr_fmt_g6(a, fixed[i]);
        snprintf(b, sizeof b, "%.6g", (double)fixed[i]);
        CHECKF(strcmp(a, b) == 0, "%s vs printf %s", a, b);
    }
    mlr_rng r;
    mlr_rng_seed(&r, 6);
    for (int i = 0; i < 2000000; i++) {
        uint32_t bits = (uint32_t)mlr_rng_u64(&r);
        if (i % 2) bits = (bits & 0x807fffffu) | ((uint32_t)(100 + mlr_rng_below(&r, 60)) << 23);
        float x;
        memcpy(&x, &bits, sizeof x);
        size_t n = mlr_fmt_g6(a, x);
        snprintf(b, sizeof b, "%.6g", (double)x);
        CHECKF(strcmp(a, b) == 0 && n == strlen(b), "bits %08x: %s vs printf %s", bits, a, b);
    }
    /* Exact halves of the 6th digit: round half to even like glibc. */
    float halves[] = {1.0000005f, 2.5000005f, 0.125f, 1.5f, 1048575.5f, 100000.5f, 100001.5f};
    for (size_t i = 0; i < sizeof halves / sizeof *halves; i++) {
        mlr_fmt_g6(a, halves[i]);
        snprintf(b, sizeof b, "%.6g", (double)halves[i]);
        CHECKF(strcmp(a, b) == 0, "%s vs printf %s", a, b);
    }
    CHECK(mlr_fmt_size(a, 0) == 1 && strcmp(a, "0") == 0);
    CHECK(mlr_fmt_size(a, 1234567) == 7 && strcmp(a, "1234567") == 0);
}

typedef struct {
    atomic_int ran[300];
    atomic_int bad;
    int threads;
} claim_check;

static void claimed(int t, size_t lo, size_t hi, void *arg)
{
    claim_check *c = arg;
    if (t < 0 || t >= c->threads || hi != lo + 1)
        atomic_fetch_add(&c->bad, 1);
    for (size_t i = lo; i < hi && i < 300; i++)
        atomic_fetch_add(&c->ran[i], 1);
}

/* mlr_parallel_claim: every item once, one at a time, t a thread's. */
static void test_parallel_claim(void)
{
    for (int threads = 1; threads <= 4; threads++)
        for (size_t n = 0; n <= 300; n += 75) {
            static claim_check c;
            memset(&c, 0, sizeof c);
            c.threads = threads;
            mlr_parallel_claim(threads, n, claimed, &c);
            int once = 1;
            for (size_t i = 0; i < 300; i++)
                once &= atomic_load(&c.ran[i]) == (i < n);
            CHECKF(once, "threads %d, n %zu: an item not run once", threads, n);
            CHECKF(threads == 1 || atomic_load(&c.bad) == 0, "threads %d: bad t or range", threads);
        }
}

int main(void)
{
    RUN(test_parallel_claim);
    RUN(test_select_vs_sort);
    RUN(test_select_k_above_m);
    RUN(test_rank);
    RUN(test_rank_matches_select);
    RUN(test_scores_vs_naive);
    RUN(test_block_vs_naive);
    RUN(test_fmt_g6);
    return check_status();
}
