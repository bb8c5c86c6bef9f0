/* bench_topk.c: mlr-topk's core (tiled sgemm + heap selection + list
 * formatting) beside the bare cblas_sgemm of the same sizes, the floor any
 * exact top-k must pay.
 *
 *   build/bench/bench_topk [N M D K THREADS]
 *   (default 138000 27000 32 100 2: the MovieLens-20M shape)
 *
 * Both sides run on random normal embeddings, blocks of 1024 queries; the
 * bare sgemm uses OpenBLAS's own THREADS threads, the core its own THREADS
 * workers. Prints pairs/s (query x item scores per second) of each, the
 * time ratio core / sgemm, and the core's split (score+select, format).
 * With $BENCH_OUT set (bench/run.sh) appends rows in bench/lib.sh's format.
 * With $BENCH_TOPK_DIR set, also writes the embeddings there as Q.npy,
 * I.npy and I.ids, for timing the mlr-topk tool itself (bench/topk.sh). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "mlr.h"
#include "npy.h"
#include "pool.h"
#include "strmap.h"
#include "topk.h"

#define BLOCK 1024

static long arg(int argc, char **argv, int i, long def)
{
    long v;
    if (argc <= i) return def;
    if (mlr_parse_long(argv[i], &v) < 0 || v < 1) mlr_usage_die("argument %d: '%s' is not a positive number", i, argv[i]);
    return v;
}

typedef struct {
    const mlr_hit *hits;
    const size_t *count;
    size_t first, k;
    const mlr_strmap *ids;
    char **text;
    size_t *len;
} fmt_job;

static void fmt_part(int t, size_t lo, size_t hi, void *p)
{
    fmt_job *j = p;
    size_t w = 0;
    for (size_t r = lo; r < hi; r++)
        w += mlr_topk_format(j->text[t] + w, j->first + r, NULL, 0, j->hits + r * j->k, j->count[r], j->ids);
    j->len[t] += w;
}

static void write_inputs(const char *dir, const float *q, size_t n, const float *items, size_t m, size_t d)
{
    mlr_err e;
    char path[4096];
    mlr_array a = {MLR_F4, 2, {n, d}, (void *)q};
    snprintf(path, sizeof path, "%s/Q.npy", dir);
    if (mlr_npy_write(path, &a, &e) < 0) mlr_die_err(&e);
    a.shape[0] = m;
    a.data = (void *)items;
    snprintf(path, sizeof path, "%s/I.npy", dir);
    if (mlr_npy_write(path, &a, &e) < 0) mlr_die_err(&e);
    snprintf(path, sizeof path, "%s/I.ids", dir);
    mlr_out o;
    if (mlr_out_open(&o, path, &e) < 0) mlr_die_err(&e);
    fputs("id\n", o.fp);
    for (size_t i = 0; i < m; i++) fprintf(o.fp, "%zu\n", i + 1);
    if (mlr_out_commit(&o, &e) < 0) mlr_die_err(&e);
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    size_t n = (size_t)arg(argc, argv, 1, 138000), m = (size_t)arg(argc, argv, 2, 27000);
    size_t d = (size_t)arg(argc, argv, 3, 32), k = (size_t)arg(argc, argv, 4, 100);
    int threads = (int)arg(argc, argv, 5, 2);
    if (k > m) k = m;
    mlr_rng r;
    mlr_rng_seed(&r, 42);
    float *q = xmalloc(n * d * sizeof *q), *items = xmalloc(m * d * sizeof *items); /* (N, D), (M, D) */
    for (size_t i = 0; i < n * d; i++) q[i] = (float)mlr_rng_normal(&r);
    for (size_t i = 0; i < m * d; i++) items[i] = (float)mlr_rng_normal(&r);
    mlr_strmap *ids = mlr_strmap_new(m);
    char name[32];
    for (size_t i = 0; i < m; i++) mlr_strmap_intern(ids, name, (size_t)snprintf(name, sizeof name, "%zu", i + 1));

    const char *dir = getenv("BENCH_TOPK_DIR");
    if (dir && *dir) write_inputs(dir, q, n, items, m, d);

    /* The floor: bare sgemm, block by block, OpenBLAS threaded. */
    openblas_set_num_threads(threads);
    float *c = xmalloc((size_t)BLOCK * m * sizeof *c); /* (BLOCK, M) */
    double t0 = mlr_now();
    for (size_t i = 0; i < n; i += BLOCK) mlr_scores(c, q + i * d, n - i < BLOCK ? n - i : BLOCK, items, m, d);
    double bare = mlr_now() - t0;
    free(c);

    /* The core: what mlr-topk does per block, minus the read and write. */
    openblas_set_num_threads(1);
    mlr_scorer *sc = mlr_scorer_new(items, m, d, 32, threads);
    mlr_hit *hits = xmalloc((size_t)BLOCK * k * sizeof *hits);
    size_t *count = xmalloc(BLOCK * sizeof *count), len[256] = {0}, bytes = 0;
    char *text[256];
    for (int t = 0; t < threads; t++) text[t] = xmalloc((BLOCK / (size_t)threads + 1) * k * 100);
    fmt_job fj = {hits, count, 0, k, ids, text, len};
    double t_select = 0, t_format = 0;
    for (size_t i = 0; i < n; i += BLOCK) {
        size_t b = n - i < BLOCK ? n - i : BLOCK;
        double a = mlr_now();
        mlr_topk_block(sc, q + i * d, b, k, NULL, NULL, hits, count);
        double z = mlr_now();
        fj.first = i;
        memset(len, 0, sizeof len);
        mlr_parallel_for(threads, b, fmt_part, &fj);
        t_select += z - a;
        t_format += mlr_now() - z;
        for (int t = 0; t < threads; t++) bytes += len[t];
    }
    double core = t_select + t_format, pairs = (double)n * (double)m;
    printf("shape: %zu queries x %zu items x %zu dims, k=%zu, %d threads\n", n, m, d, k, threads);
    printf("bare sgemm:  %.3f s  %.3g pairs/s\n", bare, pairs / bare);
    printf("topk core:   %.3f s  %.3g pairs/s  (score+select %.3f s, format %.3f s, %zu bytes)\n",
           core, pairs / core, t_select, t_format, bytes);
    printf("ratio core/sgemm: %.2f\n", core / bare);
    const char *out = getenv("BENCH_OUT");
    if (out && *out) {
        FILE *fp = fopen(out, "a");
        if (!fp) mlr_die("%s: cannot append", out);
        fprintf(fp, "topk core %zux%zux%zu k=%zu\t%.0f\tpairs/s\t%.0f\tpairs/s (bare sgemm)\t%.3f\t"
                "score+select %.2fs, format %.2fs, %d threads\n",
                n, m, d, k, pairs / core, pairs / bare, bare / core, t_select, t_format, threads);
        fclose(fp);
    }
    for (int t = 0; t < threads; t++) free(text[t]);
    free(hits); free(count); free(q); free(items);
    mlr_scorer_free(sc);
    mlr_strmap_free(ids);
    mlr_close_stdout();
    return 0;
}
