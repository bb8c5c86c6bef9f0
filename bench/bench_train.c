/* bench_train: training throughput of the default model (mlr-train's
 * defaults: Adam 0.001, rating weight 20, id dropout 0.05) on the
 * MovieLens 100K shape (random ids, Zipf item popularity), in examples/s
 * and in GFLOP/s of the matrix products it runs, beside cblas_sgemm's
 * GFLOP/s on the plain query tower's first product (B x 226 x 64, the
 * model's largest) measured in the same run on as many threads, each
 * running its own sgemm (OpenBLAS single-threaded, as mlr-train).
 * Wall-clock and CPU seconds both: on a shared machine the wall figures
 * drift, the CPU ones less.
 *   bench_train [ROWS [BATCH [EPOCHS [THREADS]]]]   (80000 256 3 2) */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "train_internal.h"
#include "pool.h"

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void vocab(mlr_spec *s, const char *feature, int n)
{
    mlr_feature *f = mlr_spec_add(s, mlr_feature_def_find(feature));
    mlr_counter c = {0};
    char tok[32];
    for (int i = 1; i < n; i++)
        mlr_counter_add(&c, tok, (size_t)snprintf(tok, sizeof tok, "t%d", i));
    mlr_feature_set_vocab(f, &c, 1, 0);
    mlr_counter_free(&c);
}

static void num(mlr_spec *s, const char *feature, size_t buckets)
{
    mlr_moments m = {0};
    mlr_moments_add(&m, 0);
    mlr_moments_add(&m, 1);
    mlr_feature_set_stats(mlr_spec_add(s, mlr_feature_def_find(feature)), &m, buckets);
}

/* The ML-100K specification's sizes. */
static void make_spec(mlr_spec *s)
{
    memset(s, 0, sizeof *s);
    vocab(s, "user_id", 944);
    vocab(s, "item_id", 1683);
    vocab(s, "user_occupation", 22);
    vocab(s, "user_gender", 3);
    vocab(s, "user_zip", 383);
    vocab(s, "item_genres", 20);
    vocab(s, "item_title", 2404);
    vocab(s, "user_occupation_text", 22);
    num(s, "timestamp", 1000);
    num(s, "user_age", 10);
    num(s, "rating", 0);
}

/* Random inputs for every feature of tower t: ids below each vocabulary
 * (item ids Zipf-like), bags of up to 8 tokens, normal values. */
static void random_input(model_input *in, const model_tower *t, size_t n, mlr_rng *r)
{
    memset(in, 0, sizeof *in);
    in->n = n;
    for (size_t i = 0; i < t->nfeat; i++) {
        const model_feature *f = &t->feat[i];
        size_t L = f->kind == MF_BAG ? 8 : 1;
        mlr_array *a = &in->arr[in->narr++];
        mlr_array_alloc(a, MLR_I4, L > 1 ? 2 : 1, n, L);
        int32_t *ids = a->data;
        for (size_t k = 0; k < n * L; k++) {
            double u = mlr_rng_uniform(r);
            size_t id = strcmp(f->name, "item_id") == 0 ? (size_t)(pow(u, 3.0) * (double)f->vocab)
                                                         : (size_t)(u * (double)f->vocab);
            ids[k] = (L > 1 && k % L >= 1 + (size_t)mlr_rng_below(r, L)) ? -1 : (int32_t)id;
        }
        in->ids[i] = ids;
        in->L[i] = L;
        if (f->kind == MF_NUM || f->kind == MF_VALUE) {
            mlr_array *v = &in->arr[in->narr++];
            mlr_array_alloc(v, MLR_F4, 1, n, 1);
            for (size_t k = 0; k < n; k++)
                ((float *)v->data)[k] = (float)mlr_rng_normal(r);
            in->val[i] = v->data;
        }
    }
}

typedef struct {
    size_t m, k, n;
    double secs;
    size_t reps[64];
} sgemm_job;

/* Each thread: its own sgemm (m, k) x (k, n), repeated for about half a second. */
static void sgemm_part(int t, int nt, void *arg)
{
    (void)nt;
    sgemm_job *j = arg;
    size_t m = j->m, k = j->k, n = j->n;
    float *a = calloc(m * k, 4), *b = calloc(k * n, 4), *c = calloc(m * n, 4);
    for (size_t i = 0; i < m * k; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < k * n; i++)
        b[i] = (float)(i % 5) * 0.1f;
    double t0 = mlr_now();
    do { /* C = A B as nn_matmul does it, memset and beta = 1: 5% faster than beta = 0 */
        memset(c, 0, m * n * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)k, b, (int)n, 1.0f, c, (int)n);
        j->reps[t]++;
    } while (mlr_now() - t0 < 0.5);
    free(a);
    free(b);
    free(c);
}

/* GFLOP/s of `threads` concurrent sgemm loops; *cpu_gf per CPU second. */
static double sgemm_gflops(size_t m, size_t k, size_t n, mlr_pool *p, double *cpu_gf)
{
    sgemm_job j = {m, k, n, 0, {0}};
    double t0 = mlr_now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    mlr_pool_run(p, sgemm_part, &j);
    double secs = mlr_now() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double reps = 0;
    for (int t = 0; t < mlr_pool_threads(p); t++)
        reps += (double)j.reps[t];
    double flops = 2.0 * (double)m * (double)k * (double)n * reps;
    *cpu_gf = flops / cpu * 1e-9;
    return flops / secs * 1e-9;
}

int main(int argc, char **argv)
{
    size_t N = argc > 1 ? (size_t)atol(argv[1]) : 80000, B = argc > 2 ? (size_t)atol(argv[2]) : 256;
    size_t epochs = argc > 3 ? (size_t)atol(argv[3]) : 3;
    int threads = argc > 4 ? atoi(argv[4]) : 2;
    if (N < 1 || B < 1 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: bench_train [ROWS [BATCH [EPOCHS [THREADS]]]]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    mlr_spec spec;
    make_spec(&spec);
    model m;
    mlr_rng rng;
    mlr_rng_seed(&rng, 1);
    mlr_err e;
    model_config cfg = model_config_defaults();
    if (model_build(&m, &cfg, &spec, 1, &rng, &e) < 0) {
        fprintf(stderr, "bench_train: %s\n", e.msg);
        return 1;
    }
    model_input q, c;
    random_input(&q, &m.query, N, &rng);
    random_input(&c, &m.cand, N, &rng);
    float *y = malloc(N * sizeof(float));
    for (size_t i = 0; i < N; i++)
        y[i] = 1.0f + (float)mlr_rng_below(&rng, 5);
    size_t nkeys = m.cand.feat[0].vocab;
    model_batch *b = model_batch_new(&m, &q, &c, nkeys, B, threads);
    opt_config oc = opt_defaults();
    oc.kind = OPT_ADAM;
    oc.lr = 0.001f;
    optimizer o;
    opt_init(&o, &oc, m.P);
    mlr_rng drop;
    mlr_rng_seed(&drop, 2);
    model_loss_opts lo = {1.0, 20.0, 0, NULL, 0.05, &drop, MODEL_NEG_BATCH, NULL, 0, NULL, 0.0, NULL, NULL};
    size_t *rows = malloc(N * sizeof(size_t));
    for (size_t i = 0; i < N; i++)
        rows[i] = i;
    double flops = 0.0, distinct = 0.0;
    double t0 = mlr_now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    size_t steps = 0;
    for (size_t ep = 0; ep < epochs; ep++)
        for (size_t s = 0; s < N; s += B) {
            model_step_stats st;
            size_t n = N - s < B ? N - s : B;
            model_train_step(&m, b, &o, &lo, &q, &c, c.ids[0], y, rows + s, n, &st);
            flops += st.flops;
            distinct += (double)st.distinct;
            steps++;
        }
    double secs = mlr_now() - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double ex = (double)N * (double)epochs;
    printf("train: %zu examples x %zu epochs, batch %zu, %d thread(s): %.3f s wall, %.3f s CPU\n", N,
           epochs, B, b->threads, secs, cpu);
    printf("examples/s: %.0f (per CPU second %.0f)\n", ex / secs, ex / cpu);
    printf("train GFLOP/s: %.2f (per CPU second %.2f; %.0f matmul flops per example, %.0f distinct items per batch)\n",
           flops / secs * 1e-9, flops / cpu * 1e-9, flops / ex, distinct / (double)steps);
    size_t K = m.query.W, M = cfg.layers[0];
    double cgf, cgf_large;
    double gf = sgemm_gflops(B, K, M, b->pool, &cgf);
    printf("sgemm GFLOP/s: %.2f (per CPU second %.2f; %zux%zux%zu on each of %d thread(s), the plain query layer)\n",
           gf, cgf, B, K, M, b->threads);
    double gfl = sgemm_gflops(1024, 1024, 1024, b->pool, &cgf_large);
    printf("sgemm GFLOP/s large: %.2f (per CPU second %.2f; 1024x1024x1024 on each thread)\n", gfl, cgf_large);
    printf("seconds per 40 epochs of %zu rows: %.1f\n", N, secs / (double)epochs * 40.0);
    free(rows);
    free(y);
    opt_free(&o);
    model_batch_free(b);
    model_input_free(&q);
    model_input_free(&c);
    model_free(&m);
    mlr_spec_free(&spec);
    return 0;
}
