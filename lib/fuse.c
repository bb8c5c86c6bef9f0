/* fuse.c: the z rule of fuse.h. */
#include "fuse.h"

#include <math.h>
#include <stdlib.h>

#include "mlr.h"

void mlr_fuse_scratch_free(mlr_fuse_scratch *s)
{
    free(s->stamp); free(s->slot); free(s->u); free(s->fused); free(s->order); free(s->stat); free(s->by);
}

static void scratch_fit(mlr_fuse_scratch *s, size_t m, size_t u, int lists)
{
    if (lists > s->cap_lists) {
        s->cap_lists = lists;
        s->stat = xrealloc(s->stat, 3 * (size_t)lists * sizeof *s->stat);
        s->by = xrealloc(s->by, (size_t)lists * sizeof *s->by);
    }
    if (m > s->cap_items) {
        size_t old = s->cap_items;
        s->cap_items = 2 * m + 64;
        s->stamp = xrealloc(s->stamp, s->cap_items * sizeof *s->stamp);
        s->slot = xrealloc(s->slot, s->cap_items * sizeof *s->slot);
        for (size_t i = old; i < s->cap_items; i++) s->stamp[i] = -1;
    }
    if (u > s->cap_u) {
        s->cap_u = 2 * u + 64;
        s->u = xrealloc(s->u, s->cap_u * sizeof *s->u);
        s->fused = xrealloc(s->fused, s->cap_u * sizeof *s->fused);
        s->order = xrealloc(s->order, s->cap_u * sizeof *s->order);
    }
}

/* A list's standardisation: z of score x is (x - mean) * inv; the list's
 * lowest z is what an absent item gets. */
static void list_z(const mlr_fuse_list *l, double *mean, double *inv, double *low)
{
    double sum = 0, sq = 0, mn = INFINITY;
    for (size_t j = 0; j < l->n; j++) {
        sum += l->score[j];
        if (l->score[j] < mn) mn = l->score[j];
    }
    *mean = l->n ? sum / (double)l->n : 0;
    for (size_t j = 0; j < l->n; j++) sq += (l->score[j] - *mean) * (l->score[j] - *mean);
    double sd = l->n ? sqrt(sq / (double)l->n) : 0;
    *inv = sd > 0 ? 1 / sd : 0;
    *low = l->n ? (mn - *mean) * *inv : 0;
}

static int cmp_fused(const void *a, const void *b, void *arg)
{
    const double *f = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (f[x] != f[y]) return f[x] > f[y] ? -1 : 1;
    return (x > y) - (x < y); /* the item met first */
}

size_t mlr_fuse_z(const mlr_fuse_list *L, const double *w, int n, size_t m, size_t k,
                  mlr_fuse_scratch *s, uint32_t *item, double *score)
{
    size_t total = 0, nu = 0;
    for (int i = 0; i < n; i++) total += L[i].n;
    scratch_fit(s, m, total, n);
    long now = ++s->stamp_now;
    double low_sum = 0; /* sum of w * lowest z: what every item starts from */
    double *mean = s->stat, *inv = mean + n, *low = inv + n;
    for (int i = 0; i < n; i++) {
        list_z(&L[i], &mean[i], &inv[i], &low[i]);
        low_sum += w[i] * low[i];
    }
    /* the items met in the lists' order by weight, heaviest first (equal
     * weights in their order): a tie goes to the heavier list's ranking,
     * and a list of weight 0 decides none before the others */
    for (int i = 0; i < n; i++) { /* insertion, stable */
        int at = i;
        for (; at > 0 && w[s->by[at - 1]] < w[i]; at--) s->by[at] = s->by[at - 1];
        s->by[at] = i;
    }
    for (int x = 0; x < n; x++) {
        int i = s->by[x];
        for (size_t j = 0; j < L[i].n; j++) {
            uint32_t it = L[i].item[j];
            if (s->stamp[it] != now) {
                s->stamp[it] = now;
                s->slot[it] = nu;
                s->u[nu] = it;
                s->fused[nu] = low_sum;
                s->order[nu] = nu;
                nu++;
            }
        }
    }
    for (int i = 0; i < n; i++) /* in the lists' own order: the same sums as ever */
        for (size_t j = 0; j < L[i].n; j++) {
            uint32_t it = L[i].item[j];
            /* present: its own z replaces the lowest the sum started from */
            s->fused[s->slot[it]] += w[i] * ((L[i].score[j] - mean[i]) * inv[i] - low[i]);
        }
    qsort_r(s->order, nu, sizeof *s->order, cmp_fused, s->fused);
    size_t got = nu < k ? nu : k;
    for (size_t r = 0; r < got; r++) {
        item[r] = s->u[s->order[r]];
        score[r] = s->fused[s->order[r]];
    }
    return got;
}
