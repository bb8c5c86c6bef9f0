/* teacher.c: EASE as the teacher of the retrieval loss (train.h,
 * mlr-train --distill). EASE ranks item to item over a user's whole
 * history and gains more than the towers from more rows (docs/model.md);
 * as soft targets it hands the towers what it knows while they train. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ease.h"
#include "train.h"

/* The users' distinct known item keys (0 < key < nkeys) as sets. */
static void seen_sets(mlr_usersets *x, const model_seen *seen, size_t nkeys)
{
    size_t n = seen->off[seen->nusers], k = 0;
    uint32_t *u = xmalloc((n ? n : 1) * sizeof(uint32_t));
    uint32_t *i = xmalloc((n ? n : 1) * sizeof(uint32_t));
    for (size_t v = 0; v < seen->nusers; v++)
        for (size_t at = seen->off[v]; at < seen->off[v + 1]; at++)
            if (seen->items[at] > 0 && (size_t)seen->items[at] < nkeys) {
                u[k] = (uint32_t)v;
                i[k++] = (uint32_t)seen->items[at];
            }
    mlr_usersets_build(x, seen->nusers, u, i, k);
    free(u);
    free(i);
}

/* row (nkeys): the scores of the targets standardised and divided by
 * temperature, the rest -INFINITY. */
static void standardise(float *row, size_t nkeys, const uint32_t *items, size_t n,
                        double temperature)
{
    row[0] = -INFINITY;
    for (size_t i = 0; i < n; i++)
        row[items[i]] = -INFINITY;
    double sum = 0.0, sq = 0.0;
    size_t m = 0;
    for (size_t k = 1; k < nkeys; k++)
        if (row[k] != -INFINITY) {
            sum += row[k];
            sq += (double)row[k] * row[k];
            m++;
        }
    double mean = m ? sum / (double)m : 0.0, var = m ? sq / (double)m - mean * mean : 0.0;
    double scale = var > 0.0 ? 1.0 / (sqrt(var) * temperature) : 0.0;
    for (size_t k = 1; k < nkeys; k++)
        row[k] = n == 0 || scale == 0.0 ? -INFINITY
                 : row[k] == -INFINITY ? row[k] : (float)((row[k] - mean) * scale);
}

int model_teacher_ease(model_teacher *t, const model_seen *seen, size_t nkeys, double lambda,
                       double temperature, double weight, mlr_err *e)
{
    memset(t, 0, sizeof *t);
    mlr_usersets x;
    seen_sets(&x, seen, nkeys);
    float *b = mlr_ease_fit(&x, nkeys, lambda, e);
    if (!b) {
        mlr_usersets_free(&x);
        return -1;
    }
    t->nusers = seen->nusers;
    t->nkeys = nkeys;
    t->feat = seen->feat;
    t->weight = weight;
    t->logit = xmalloc((t->nusers ? t->nusers : 1) * nkeys * sizeof(int16_t));
    t->scale = xmalloc((t->nusers ? t->nusers : 1) * sizeof(float));
    float *row = xmalloc((nkeys ? nkeys : 1) * sizeof(float));
    for (size_t u = 0; u < t->nusers; u++) {
        size_t n;
        const uint32_t *items = mlr_usersets_get(&x, u, &n);
        mlr_ease_scores(b, nkeys, items, n, row);
        standardise(row, nkeys, items, n, temperature);
        model_teacher_set(t, u, row);
    }
    free(row);
    free(b);
    mlr_usersets_free(&x);
    return 0;
}

/* Each logit rounded to a step of most / 32767 (most: the row's largest
 * |logit|) moves by half a step at most, so a target's probability by a
 * factor within exp(most / 32767): 0.03% for logits within +-10. */
void model_teacher_set(model_teacher *t, size_t user, const float *row)
{
    float most = 0.0f;
    for (size_t k = 0; k < t->nkeys; k++)
        if (row[k] != -INFINITY)
            most = fmaxf(most, fabsf(row[k]));
    float scale = most > 0.0f ? most / 32767.0f : 1.0f;
    int16_t *q = t->logit + user;
    for (size_t k = 0; k < t->nkeys; k++)
        q[k * t->nusers] = row[k] == -INFINITY ? INT16_MIN : (int16_t)lrintf(row[k] / scale);
    t->scale[user] = scale;
}

float model_teacher_logit(const model_teacher *t, size_t user, size_t key)
{
    int16_t q = t->logit[key * t->nusers + user];
    return q == INT16_MIN ? -INFINITY : (float)q * t->scale[user];
}

void model_teacher_free(model_teacher *t)
{
    free(t->logit);
    free(t->scale);
    memset(t, 0, sizeof *t);
}
