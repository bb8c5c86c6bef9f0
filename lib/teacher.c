/* teacher.c: EASE as the teacher of the retrieval loss (train.h,
 * mlr-train --distill). EASE ranks item to item over a user's whole
 * history and gains more than the towers from more rows (docs/model.md);
 * as soft targets it hands the towers what it knows while they train. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ease.h"
#include "safetensors.h"
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

/* The teacher of the item sets x: EASE fitted, each user's scores
 * standardised, rounded into t. */
static int fit(model_teacher *t, const mlr_usersets *x, size_t nkeys, double lambda,
               double temperature, mlr_err *e)
{
    float *b = mlr_ease_fit(x, nkeys, lambda, e);
    if (!b)
        return -1;
    t->logit = xmalloc((t->nusers ? t->nusers : 1) * nkeys * sizeof(int16_t));
    t->scale = xmalloc((t->nusers ? t->nusers : 1) * sizeof(float));
    float *row = xmalloc((nkeys ? nkeys : 1) * sizeof(float));
    for (size_t u = 0; u < t->nusers; u++) {
        size_t n;
        const uint32_t *items = mlr_usersets_get(x, u, &n);
        mlr_ease_scores(b, nkeys, items, n, row);
        standardise(row, nkeys, items, n, temperature);
        model_teacher_set(t, u, row);
    }
    free(row);
    free(b);
    return 0;
}

/* What the teacher is a function of, as the SHA-256 of the format, the
 * sizes, lambda, temperature and every user's item set. */
static void teacher_key(char out[65], const mlr_usersets *x, size_t nkeys, double lambda,
                        double temperature)
{
    char head[128];
    int len = snprintf(head, sizeof head, "mlrec-teacher 1 %zu %zu %.17g %.17g", x->users,
                       nkeys, lambda, temperature);
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    mlr_sha256_update(&c, head, (size_t)len);
    for (size_t u = 0; u < x->users; u++) {
        size_t n;
        const uint32_t *items = mlr_usersets_get(x, u, &n);
        uint64_t n64 = n;
        mlr_sha256_update(&c, &n64, sizeof n64);
        mlr_sha256_update(&c, items, n * sizeof *items);
    }
    mlr_sha256_final(&c, out);
}

/* t's logits and scales from the cache at path when it holds the teacher
 * of key (t's sizes set): 1; 0 when it holds another or none; -1 when it
 * cannot be read (e says why). */
static int cache_read(model_teacher *t, const char *path, const char *key, mlr_err *e)
{
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    mlr_st_file f;
    if (mlr_st_read(&f, path, e) < 0)
        return -1;
    const char *k = mlr_st_meta(&f, "teacher_key");
    const mlr_st_tensor *lg = mlr_st_find(&f, "logit"), *sc = mlr_st_find(&f, "scale");
    int hit = k && strcmp(k, key) == 0;
    if (hit && (!lg || !sc || f.n != 2 || lg->dtype != MLR_ST_I16 || lg->ndim != 2 ||
                lg->shape[0] != t->nkeys || lg->shape[1] != t->nusers || sc->dtype != MLR_ST_F32 ||
                sc->ndim != 1 || sc->shape[0] != t->nusers)) {
        mlr_st_free(&f);
        return mlr_fail(e, "%s: not a teacher of %zu users and %zu items", path, t->nusers, t->nkeys);
    }
    if (hit && mlr_st_check_finite(sc, 1, path, e) < 0) {
        mlr_st_free(&f);
        return -1;
    }
    if (hit) {
        t->logit = xmalloc(lg->nbytes ? lg->nbytes : 1);
        t->scale = xmalloc(sc->nbytes ? sc->nbytes : 1);
        memcpy(t->logit, lg->data, lg->nbytes);
        memcpy(t->scale, sc->data, sc->nbytes);
    }
    mlr_st_free(&f);
    return hit;
}

/* The cache's directory, made when missing (its parent must exist). */
static int cache_dir(const char *dir, mlr_err *e)
{
    if (strlen(dir) > 4000)
        return mlr_fail(e, "--teacher-cache: '%.40s...': path too long", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return mlr_fail(e, "%s: cannot make the teacher's cache: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mlr_fail(e, "%s: the teacher's cache is not a directory", dir);
    return 0;
}

static int cache_write(const model_teacher *t, const char *path, const char *key, mlr_err *e)
{
    mlr_st_tensor ts[2] = {
        {(char *)"logit", MLR_ST_I16, 2, {t->nkeys, t->nusers}, t->nkeys * t->nusers * sizeof(int16_t), t->logit},
        {(char *)"scale", MLR_ST_F32, 1, {t->nusers}, t->nusers * sizeof(float), t->scale}};
    const char *mk[] = {"format", "teacher_key"}, *mv[] = {"mlrec-teacher", key};
    return mlr_st_write(path, ts, 2, mk, mv, 2, e);
}

int model_teacher_ease(model_teacher *t, const model_seen *seen, size_t nkeys, double lambda,
                       double temperature, double weight, const char *cache, mlr_err *e)
{
    memset(t, 0, sizeof *t);
    t->nusers = seen->nusers;
    t->nkeys = nkeys;
    t->feat = seen->feat;
    t->weight = weight;
    mlr_usersets x;
    seen_sets(&x, seen, nkeys);
    char key[65], path[4096];
    int hit = 0;
    if (cache) {
        teacher_key(key, &x, nkeys, lambda, temperature);
        if (cache_dir(cache, e) < 0) {
            mlr_usersets_free(&x);
            return -1;
        }
        snprintf(path, sizeof path, "%s/teacher-%s.safetensors", cache, key);
        hit = cache_read(t, path, key, e);
        if (hit < 0) {
            mlr_warn("%s; the teacher is fitted again and written over it", e->msg);
            e->msg[0] = '\0';
            hit = 0;
        }
    }
    int st = hit ? 0 : fit(t, &x, nkeys, lambda, temperature, e);
    if (st == 0 && cache && !hit && cache_write(t, path, key, e) < 0) {
        mlr_warn("%s; the teacher is not kept", e->msg); /* this run has it: train on */
        e->msg[0] = '\0';
    }
    mlr_usersets_free(&x);
    if (st < 0)
        model_teacher_free(t);
    return st;
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
