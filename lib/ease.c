/* ease.c: EASE's weights and scores (ease.h). */
#include "ease.h"
#include "nn.h"

#include <stdlib.h>
#include <string.h>

/* LAPACK from libopenblas (Debian ships no lapacke.h beside it). */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

/* G = X^T X + lambda I, (M, M). */
static float *gram(const mlr_usersets *x, size_t m, double lambda)
{
    float *g = xcalloc(mlr_nz(m * m), sizeof *g);
    for (size_t u = 0; u < x->users; u++) {
        size_t n;
        const uint32_t *it = mlr_usersets_get(x, u, &n);
        for (size_t a = 0; a < n; a++)
            for (size_t b = 0; b < n; b++) g[(size_t)it[a] * m + it[b]] += 1.0f;
    }
    for (size_t i = 0; i < m; i++) g[i * m + i] += (float)lambda;
    return g;
}

float *mlr_ease_fit(const mlr_usersets *x, size_t m, double lambda, mlr_err *e)
{
    if (m > MLR_EASE_MAX_ITEMS) {
        mlr_fail(e, "ease: %zu items; the %zu x %zu matrix is over the cap of %d items (use pop, or fewer items)",
                 m, m, m, MLR_EASE_MAX_ITEMS);
        return NULL;
    }
    float *g = gram(x, m, lambda);
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
    memset(out, 0, m * sizeof *out);
    for (size_t a = 0; a < n; a++) /* 1 x b: the bits of out[j] += b[...], vectorised */
        nn_axpy(out, 1.0f, b + (size_t)items[a] * m, m);
}
