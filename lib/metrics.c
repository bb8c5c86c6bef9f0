/* metrics.c: accuracy, per-user ranking metrics, rating errors, user sets.
 * Definitions in metrics.h. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

const size_t MLR_ACC_K[MLR_ACC_N] = {1, 5, 10, 50, 100};

void mlr_accuracy_init(mlr_accuracy *a, const size_t *k, size_t nk)
{
    memset(a, 0, sizeof *a);
    a->nk = nk < MLR_MAX_AT ? nk : MLR_MAX_AT;
    memcpy(a->k, k, a->nk * sizeof *k);
}

void mlr_accuracy_add(mlr_accuracy *a, size_t rank)
{
    a->rows++;
    if (rank == 0) return;
    for (size_t i = 0; i < a->nk; i++)
        if (rank <= a->k[i]) a->hits[i]++;
}

double mlr_accuracy_value(const mlr_accuracy *a, size_t i)
{
    return a->rows ? (double)a->hits[i] / (double)a->rows : 0.0;
}

/* nDCG's discount of a hit at 0-based position pos of a list. */
static double discount(size_t pos)
{
    return 1.0 / log2((double)pos + 2.0);
}

double mlr_row_ndcg(size_t rank, size_t k)
{
    return rank >= 1 && rank <= k ? discount(rank - 1) : 0.0;
}

static int in_sorted(const uint32_t *v, size_t n, uint32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == x;
}

/* 1 when list[i] already appeared in list[0..i). Lists are short (k). */
static int seen_before(const uint32_t *list, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (list[j] == list[i]) return 1;
    return 0;
}

void mlr_user_metrics_at(const uint32_t *list, size_t n, const uint32_t *rel,
                         size_t nrel, size_t k, mlr_user_metrics *out)
{
    memset(out, 0, sizeof *out);
    if (nrel == 0 || k == 0) return;
    size_t hits = 0, lim = n < k ? n : k, ideal = nrel < k ? nrel : k;
    double dcg = 0, idcg = 0, ap = 0;
    for (size_t i = 0; i < lim; i++) {
        if (!in_sorted(rel, nrel, list[i]) || seen_before(list, i)) continue;
        hits++;
        dcg += discount(i);
        ap += (double)hits / (double)(i + 1);
    }
    for (size_t i = 0; i < ideal; i++) idcg += discount(i);
    out->recall = (double)hits / (double)nrel;
    out->precision = (double)hits / (double)k;
    out->ndcg = dcg / idcg;
    out->ap = ap / (double)ideal;
    out->hit = hits > 0;
}

void mlr_ranking_init(mlr_ranking *r, size_t k)
{
    memset(r, 0, sizeof *r);
    r->k = k;
}

void mlr_ranking_add(mlr_ranking *r, const uint32_t *list, size_t n,
                     const uint32_t *rel, size_t nrel)
{
    mlr_user_metrics m;
    if (nrel == 0) return;
    mlr_user_metrics_at(list, n, rel, nrel, r->k, &m);
    r->users++;
    r->sum.recall += m.recall;
    r->sum.precision += m.precision;
    r->sum.ndcg += m.ndcg;
    r->sum.ap += m.ap;
    r->sum.hit += m.hit;
}

mlr_user_metrics mlr_ranking_mean(const mlr_ranking *r)
{
    mlr_user_metrics m = {0, 0, 0, 0, 0};
    if (!r->users) return m;
    double n = (double)r->users;
    m.recall = r->sum.recall / n;
    m.precision = r->sum.precision / n;
    m.ndcg = r->sum.ndcg / n;
    m.ap = r->sum.ap / n;
    m.hit = r->sum.hit / n;
    return m;
}

void mlr_errstat_add(mlr_errstat *s, double pred, double truth)
{
    double d = pred - truth;
    s->sse += d * d;
    s->sae += fabs(d);
    s->n++;
}

double mlr_rmse(const mlr_errstat *s) { return s->n ? sqrt(s->sse / (double)s->n) : 0.0; }
double mlr_mae(const mlr_errstat *s) { return s->n ? s->sae / (double)s->n : 0.0; }

/* ---- user sets ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

void mlr_usersets_build(mlr_usersets *s, size_t users, const uint32_t *u,
                        const uint32_t *i, size_t n)
{
    s->users = users;
    s->off = xcalloc(users + 1, sizeof *s->off);
    s->items = xmalloc((n ? n : 1) * sizeof *s->items);
    for (size_t r = 0; r < n; r++) s->off[u[r] + 1]++;
    for (size_t v = 0; v < users; v++) s->off[v + 1] += s->off[v];
    size_t *fill = xmalloc((users ? users : 1) * sizeof *fill);
    memcpy(fill, s->off, users * sizeof *fill);
    for (size_t r = 0; r < n; r++) s->items[fill[u[r]]++] = i[r];
    free(fill);
    /* Sort and deduplicate each user's run, compacting in place. */
    size_t w = 0;
    for (size_t v = 0; v < users; v++) {
        size_t lo = s->off[v], hi = s->off[v + 1];
        qsort(s->items + lo, hi - lo, sizeof *s->items, cmp_u32);
        s->off[v] = w;
        for (size_t r = lo; r < hi; r++)
            if (r == lo || s->items[r] != s->items[r - 1]) s->items[w++] = s->items[r];
    }
    s->off[users] = w;
}

void mlr_usersets_free(mlr_usersets *s)
{
    free(s->off);
    free(s->items);
    memset(s, 0, sizeof *s);
}

const uint32_t *mlr_usersets_get(const mlr_usersets *s, size_t u, size_t *n)
{
    if (u >= s->users) {
        *n = 0;
        return NULL;
    }
    *n = s->off[u + 1] - s->off[u];
    return s->items + s->off[u];
}

int mlr_usersets_read(mlr_usersets *s, const char *path, mlr_strmap *users,
                      int users_fixed, mlr_strmap *items, int add_items, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r) return -1;
    int cu = mlr_reader_require(r, "user_id", e), ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", e);
    if (ci < 0) {
        mlr_reader_close(r);
        return -1;
    }
    size_t n = 0, cap = 1024;
    uint32_t *u = xmalloc(cap * sizeof *u), *it = xmalloc(cap * sizeof *it);
    int st;
    while ((st = mlr_reader_next(r, e)) == 1) {
        const char *us = mlr_reader_field(r, (size_t)cu), *is = mlr_reader_field(r, (size_t)ci);
        size_t ul = mlr_reader_field_len(r, (size_t)cu), il = mlr_reader_field_len(r, (size_t)ci);
        long uid = users_fixed ? mlr_strmap_find(users, us, ul) : (long)mlr_strmap_intern(users, us, ul);
        long iid = add_items ? (long)mlr_strmap_intern(items, is, il) : mlr_strmap_find(items, is, il);
        if (uid < 0 || iid < 0) continue;
        if (n == cap) {
            cap *= 2;
            u = xrealloc(u, cap * sizeof *u);
            it = xrealloc(it, cap * sizeof *it);
        }
        u[n] = (uint32_t)uid;
        it[n++] = (uint32_t)iid;
    }
    mlr_reader_close(r);
    if (st == 0) mlr_usersets_build(s, mlr_strmap_count(users), u, it, n);
    free(u);
    free(it);
    return st < 0 ? -1 : 0;
}

int mlr_parse_at(const char *s, size_t *k, size_t *nk)
{
    size_t n = 0;
    char *copy = xstrdup(s);
    int ok = 1;
    /* strsep, not strtok: an empty item ("5,,10", ",5", "5,") is an error */
    for (char *rest = copy, *tok; ok && (tok = strsep(&rest, ",")) != NULL;) {
        long v;
        if (n == MLR_MAX_AT || mlr_parse_long(tok, &v) < 0 || v < 1 || v > 1000000) ok = 0;
        else k[n++] = (size_t)v;
    }
    free(copy);
    if (!ok || n == 0) return -1;
    *nk = n;
    return 0;
}
