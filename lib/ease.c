/* ease.c: EASE's weights and scores (ease.h). */
#include "ease.h"

#include <stdlib.h>
#include <string.h>

/* LAPACK from libopenblas (Debian ships no lapacke.h beside it). */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* items[0..n) sorted into buf without repeats; returns their count. */
static size_t distinct(const uint32_t *items, size_t n, uint32_t *buf)
{
    if (n == 0) /* (a user without items: items may be NULL) */
        return 0;
    memcpy(buf, items, n * sizeof *buf);
    qsort(buf, n, sizeof *buf, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || buf[k - 1] != buf[i]) buf[k++] = buf[i];
    return k;
}

/* G = X^T X + lambda I, (M, M). */
static float *gram(const size_t *off, const uint32_t *items, size_t users, size_t m, double lambda)
{
    float *g = xcalloc(mlr_nz(m * m), sizeof *g);
    size_t longest = 0;
    for (size_t u = 0; u < users; u++)
        if (off[u + 1] - off[u] > longest) longest = off[u + 1] - off[u];
    uint32_t *it = xmalloc(mlr_nz(longest) * sizeof *it);
    for (size_t u = 0; u < users; u++) {
        size_t n = distinct(items + off[u], off[u + 1] - off[u], it);
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++) g[(size_t)it[a] * m + it[b]] += 1.0f;
    }
    free(it);
    for (size_t i = 0; i < m; i++) g[i * m + i] += (float)lambda;
    return g;
}

float *mlr_ease_fit(const size_t *off, const uint32_t *items, size_t users, size_t m, double lambda,
                    mlr_err *e)
{
    if (m > MLR_EASE_MAX_ITEMS) {
        mlr_fail(e, "ease: %zu items; the %zu x %zu matrix is over the cap of %d items (use pop, or fewer items)",
                 m, m, m, MLR_EASE_MAX_ITEMS);
        return NULL;
    }
    float *g = gram(off, items, users, m, lambda);
    int n = (int)m, info = 0;
    spotrf_("U", &n, g, &n, &info);
    if (info == 0) spotri_("U", &n, g, &n, &info);
    if (info != 0) {
        free(g);
        mlr_fail(e, "ease: the Gram matrix is not invertible (LAPACK info %d); raise --lambda", info);
        return NULL;
    }
    /* Column-major "U" is the row-major lower triangle: mirror it up. */
    for (size_t a = 0; a < m; a++)
        for (size_t b = 0; b < a; b++) g[b * m + a] = g[a * m + b];
    /* B_ij = -P_ij / P_jj, B_jj = 0 (the diagonal saved first: it is overwritten). */
    float *diag = xmalloc(mlr_nz(m) * sizeof *diag);
    for (size_t j = 0; j < m; j++) diag[j] = g[j * m + j];
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++) g[i * m + j] = i == j ? 0.0f : -g[i * m + j] / diag[j];
    free(diag);
    return g;
}

void mlr_ease_scores(const float *b, size_t m, const uint32_t *items, size_t n, float *out)
{
    uint32_t *it = xmalloc(mlr_nz(n) * sizeof *it);
    size_t k = distinct(items, n, it);
    memset(out, 0, m * sizeof *out);
    for (size_t a = 0; a < k; a++)
        for (size_t j = 0; j < m; j++) out[j] += b[(size_t)it[a] * m + j];
    free(it);
}
