/* tower.c: a tower and the rating head on a batch: activations, the MLP,
 * the first layer, embed and predict (see tower.h). */
#include "tower.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* ---- activations ---- */

void model_acts_init(model_acts *a, const model_mlp *mlp, size_t W, size_t Lmax, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->cap = cap;
    a->x = xcalloc(cap * W + 1, sizeof(float));
    a->dx = xcalloc(cap * W + 1, sizeof(float));
    for (size_t l = 0; l < mlp->n; l++) {
        a->h[l] = xcalloc(cap * mlp->width[l + 1], sizeof(float));
        a->dh[l] = xcalloc(cap * mlp->width[l + 1], sizeof(float));
    }
    a->scratch = xmalloc((cap * (Lmax ? Lmax : 1)) * sizeof(int32_t));
}

void model_acts_free(model_acts *a)
{
    free(a->x);
    free(a->dx);
    for (size_t l = 0; l < MODEL_MAX_LAYERS; l++) {
        free(a->h[l]);
        free(a->dh[l]);
    }
    free(a->scratch);
    for (size_t i = 0; i < MODEL_MAX_FEATURES; i++) {
        free(a->fact[i].uniq);
        free(a->fact[i].slot);
        free(a->fact[i].X);
        free(a->fact[i].PG);
        free(a->fact[i].ids);
        free(a->fact[i].val);
        free(a->fact[i].wt);
    }
    free(a->wd);
    free(a->dwd);
    free(a->term);
    free(a->scale);
    free(a->map);
    memset(a, 0, sizeof *a);
}

void model_tower_acts_init(model_acts *a, const model_tower *t, size_t Lmax, size_t cap)
{
    model_acts_init(a, &t->mlp, t->W, Lmax, cap);
    size_t H = t->mlp.width[1], V = 1, L = Lmax ? Lmax : 1, terms = 1;
    for (size_t i = 0; i < t->nfeat; i++) {
        model_fact *fc = &a->fact[i];
        terms += L + 1;
        if (t->feat[i].vocab > V)
            V = t->feat[i].vocab;
        fc->uniq = xmalloc(cap * L * sizeof(int32_t));
        fc->slot = xmalloc(cap * L * sizeof(int32_t));
        fc->ids = xmalloc(cap * L * sizeof(int32_t));
        fc->val = xmalloc((cap + 1) * sizeof(float));
        fc->wt = xmalloc((cap * L + 1) * sizeof(float));
        fc->X = xmalloc((cap * t->E + 1) * sizeof(float));
        fc->PG = xmalloc((cap * H + 1) * sizeof(float));
    }
    a->wd = xmalloc((t->W * H + 1) * sizeof(float));
    a->dwd = xmalloc((t->W * H + 1) * sizeof(float));
    a->term = xmalloc(terms * sizeof(float *));
    a->scale = xmalloc(terms * sizeof(float));
    a->map = xmalloc(V * sizeof(int32_t));
    for (size_t v = 0; v < V; v++)
        a->map[v] = -1;
    a->nmap = V;
}

static size_t row_at(const size_t *rows, size_t b)
{
    return rows ? rows[b] : b;
}

/* The ids of feature i for the batch rows, (B, L), into out. */
static const int32_t *gather_ids_to(int32_t *out, const model_acts *a, const model_input *in,
                                    size_t i, const size_t *rows, size_t B)
{
    size_t L = in->L[i];
    const int32_t *ids = in->ids[i];
    if (a->dropping && i == a->drop_feat && L == 1) /* id dropout */
        for (size_t b = 0; b < B; b++)
            out[b] = a->drop[b] ? 0 : ids[row_at(rows, b)];
    else if (L == 1) /* a memcpy call per 4 bytes cost 3% of an epoch */
        for (size_t b = 0; b < B; b++) {
            if (rows && b + 16 < B) /* shuffled rows of a large set: misses */
                __builtin_prefetch(ids + rows[b + 16]);
            out[b] = ids[row_at(rows, b)];
        }
    else
        for (size_t b = 0; b < B; b++) {
            if (rows && b + 16 < B)
                __builtin_prefetch(ids + rows[b + 16] * L);
            memcpy(out + b * L, ids + row_at(rows, b) * L, L * sizeof(int32_t));
        }
    return out;
}

static const int32_t *gather_ids(model_acts *a, const model_input *in, size_t i,
                                 const size_t *rows, size_t B)
{
    return gather_ids_to(a->scratch, a, in, i, rows, B);
}

static const float *mlp_forward_from(const model_mlp *m, model_acts *a, size_t l0, const float *x,
                                     size_t B)
{
    for (size_t l = l0; l < m->n; l++) {
        nn_dense_forward(a->h[l], l ? a->h[l - 1] : x, m->w[l], m->b[l], B, m->width[l], m->width[l + 1]);
        if (l + 1 < m->n)
            nn_relu_forward(a->h[l], a->h[l], B * m->width[l + 1]);
    }
    return a->h[m->n - 1];
}

const float *model_mlp_forward(const model_mlp *m, model_acts *a, const float *x, size_t B)
{
    return mlp_forward_from(m, a, 0, x, B);
}

/* Layers n-1 .. lmin backward, gradients into dw/db (one per layer); the
 * input gradient of layer lmin into dh[lmin-1], or dx (may be NULL) when
 * lmin is 0. */
void model_mlp_backward_into(const model_mlp *m, model_acts *a, size_t lmin, const float *x,
                            float *dx, size_t B, float *const *dw, float *const *db)
{
    for (size_t l = m->n; l-- > lmin;) {
        size_t K = m->width[l], M = m->width[l + 1];
        /* ReLU backward in place: h[l] is the ReLU's output, so h > 0 is
         * exactly where its input was positive */
        if (l + 1 < m->n)
            nn_relu_mask(a->dh[l], a->h[l], B * M);
        float *dinp = l ? a->dh[l - 1] : dx;
        if (dinp)
            memset(dinp, 0, B * K * sizeof(float));
        nn_dense_backward(dinp, dw[l], db[l], a->dh[l], l ? a->h[l - 1] : x, m->w[l], B, K, M);
    }
}

void model_mlp_backward(model_mlp *m, model_acts *a, const float *x, float *dx, size_t B)
{
    model_mlp_backward_into(m, a, 0, x, dx, B, m->dw, m->db);
}

/* ---- a tower's first layer ----
 * x W0 is the sum over the features f of x_f W0_f (x_f: f's columns of the
 * tower input, W0_f: the same rows of W0). A feature with d distinct ids
 * in the batch needs that product for d rows only, P_f = emb_f[ids] W0_f
 * (d, H), and each batch row adds the P_f row of its id (a bag: the mean
 * of its tokens' rows): "factored". Gender, occupation, age buckets, genres
 * have a handful of ids where a batch has 256 rows. A feature with about
 * as many distinct ids as rows (user and item ids, titles, fine timestamp
 * buckets) gains nothing from it and pays a product and a row pass of its
 * own; those "direct" features are laid side by side in x (B, K) and go
 * through one product with their rows of W0 (K, H), which runs faster
 * than several thin ones. Each batch row's own terms (the bias, the value
 * columns, the factored rows) are summed in one pass over it, and the
 * backward scatters each dh0 row in one pass too: a call per 64-wide row
 * was 9% of an epoch. model_tower_forward_naive is the plain layer, the
 * twin of this. */

/* A feature goes direct when its distinct ids are at least half the rows. */
static int goes_direct(model_first_layer mode, size_t d, size_t B)
{
    if (mode != MODEL_FL_AUTO)
        return mode == MODEL_FL_DIRECT;
    return 2 * d >= B;
}

/* ...which a vocabulary of 4 B ids or more gives without counting them
 * (B draws from V ids hit about B (1 - B / 2V) distinct ones). */
static int surely_direct(model_first_layer mode, size_t V, size_t B)
{
    return mode == MODEL_FL_DIRECT || (mode == MODEL_FL_AUTO && V >= 4 * B);
}

static float feature_value(const model_feature *f, const model_input *in, size_t i, size_t row)
{
    if (f->kind == MF_NUM)
        return in->val[i][row];
    return f->std > 0 ? (float)((in->val[i][row] - f->mean) / f->std) : 0.0f;
}

/* Feature i's ids, values and distinct ids (uniq, slot, d) in the batch,
 * and whether it goes direct; a value feature has no ids and is neither. */
static void fact_ids(const model_tower *t, model_acts *a, const model_input *in, size_t i,
                     const size_t *rows, size_t B)
{
    const model_feature *f = &t->feat[i];
    model_fact *fc = &a->fact[i];
    fc->d = 0;
    fc->direct = 0;
    if (f->kind == MF_VALUE || f->kind == MF_NUM)
        for (size_t b = 0; b < B; b++)
            fc->val[b] = feature_value(f, in, i, row_at(rows, b));
    if (f->kind == MF_VALUE)
        return;
    size_t L = in->L[i], d = 0;
    const int32_t *ids = gather_ids_to(fc->ids, a, in, i, rows, B);
    if (surely_direct(a->first_layer, f->vocab, B)) {
        fc->direct = 1;
        return;
    }
    for (size_t k = 0; k < B * L; k++) {
        int32_t id = ids[k];
        if (id < 0) {
            fc->slot[k] = -1;
            continue;
        }
        if (a->map[id] < 0) {
            a->map[id] = (int32_t)d;
            fc->uniq[d++] = id;
        }
        fc->slot[k] = a->map[id];
    }
    for (size_t k = 0; k < d; k++)
        a->map[fc->uniq[k]] = -1;
    for (size_t b = 0; b < B; b++)
        nn_bag_weights(fc->wt + b * L, fc->ids + b * L, L, f->halflife);
    fc->d = d;
    /* a bag can have more distinct tokens than X and PG have rows */
    fc->direct = d > a->cap || goes_direct(a->first_layer, d, B);
}

/* Whether feature i's ids went through fact_project this batch. */
static int is_factored(const model_fact *fc)
{
    return !fc->direct && fc->d > 0;
}

/* Factored feature i: P_f = emb[uniq] W0_f (d, H) into PG. */
static void fact_project(const model_tower *t, model_acts *a, size_t i)
{
    const model_feature *f = &t->feat[i];
    model_fact *fc = &a->fact[i];
    size_t E = t->E, H = t->mlp.width[1];
    nn_embedding_forward(fc->X, E, fc->uniq, f->emb, fc->d, E);
    nn_matmul(fc->PG, fc->X, t->mlp.w[0] + f->col * H, fc->d, E, H);
    a->flops += 6.0 * (double)fc->d * (double)E * (double)H; /* with the two of the backward */
}

/* Direct feature i: its embeddings (a bag pooled per row) into x's columns
 * at xcol, its rows of W0 into wd. */
static void direct_fill(const model_tower *t, model_acts *a, const model_input *in, size_t i,
                        size_t B)
{
    const model_feature *f = &t->feat[i];
    model_fact *fc = &a->fact[i];
    size_t E = t->E, H = t->mlp.width[1];
    if (f->kind == MF_BAG)
        nn_bag_forward(a->x + fc->xcol, a->K, fc->ids, f->emb, B, in->L[i], E, f->halflife);
    else
        nn_embedding_forward(a->x + fc->xcol, a->K, fc->ids, f->emb, B, E);
    memcpy(a->wd + fc->xcol * H, t->mlp.w[0] + f->col * H, E * H * sizeof(float));
}

/* The terms of batch row b: a row of (H) and its factor each, into
 * a->term and a->scale; first the bias (or db), then feature by feature
 * its value column of W0 (or dW0) and its factored rows of PG. */
static size_t row_terms(const model_tower *t, model_acts *a, const model_input *in, size_t b,
                        float *bias, float *w0)
{
    size_t H = t->mlp.width[1], E = t->E, n = 0;
    a->term[n] = bias;
    a->scale[n++] = 1.0f;
    for (size_t i = 0; i < t->nfeat; i++) {
        const model_feature *f = &t->feat[i];
        const model_fact *fc = &a->fact[i];
        if (f->kind == MF_VALUE || f->kind == MF_NUM) {
            a->term[n] = w0 + (f->col + (f->kind == MF_NUM ? E : 0)) * H;
            a->scale[n++] = fc->val[b];
        }
        if (f->kind == MF_VALUE || fc->direct)
            continue;
        size_t L = in->L[i];
        const int32_t *s = fc->slot + b * L;
        for (size_t l = 0; l < L; l++)
            if (s[l] >= 0) {
                a->term[n] = fc->PG + (size_t)s[l] * H;
                a->scale[n++] = fc->wt[b * L + l];
            }
    }
    return n;
}

const float *model_tower_forward(const model_tower *t, model_acts *a, const model_input *in,
                                 const size_t *rows, size_t B)
{
    const model_mlp *mlp = &t->mlp;
    size_t H = mlp->width[1];
    a->flops = 0.0;
    a->K = 0;
    for (size_t i = 0; i < t->nfeat; i++) {
        fact_ids(t, a, in, i, rows, B);
        if (a->fact[i].direct) {
            a->fact[i].xcol = a->K;
            a->K += t->E;
        } else if (is_factored(&a->fact[i])) {
            fact_project(t, a, i);
        }
    }
    float *h0 = a->h[0];
    for (size_t b = 0; b < B; b++) {
        size_t n = row_terms(t, a, in, b, mlp->b[0], mlp->w[0]);
        nn_sum_rows(h0 + b * H, (const float *const *)a->term, a->scale, n, H);
    }
    if (a->K) {
        for (size_t i = 0; i < t->nfeat; i++)
            if (a->fact[i].direct)
                direct_fill(t, a, in, i, B);
        nn_matmul_acc(h0, a->x, a->wd, B, a->K, H);
        a->flops += 6.0 * (double)B * (double)a->K * (double)H;
    }
    if (mlp->n > 1)
        nn_relu_forward(h0, h0, B * H);
    for (size_t l = 1; l < mlp->n; l++)
        a->flops += 6.0 * (double)B * (double)mlp->width[l] * (double)mlp->width[l + 1];
    return mlp_forward_from(mlp, a, 1, NULL, B);
}

/* The plain first layer: the tower input x (B, W) filled, then x W0. */
const float *model_tower_forward_naive(const model_tower *t, model_acts *a, const model_input *in,
                                       const size_t *rows, size_t B)
{
    size_t W = t->W, E = t->E;
    for (size_t i = 0; i < t->nfeat; i++) {
        const model_feature *f = &t->feat[i];
        float *x = a->x + f->col; /* (B, width) slice of (B, W) */
        if (f->kind == MF_BAG)
            nn_bag_forward(x, W, gather_ids(a, in, i, rows, B), f->emb, B, in->L[i], E, f->halflife);
        else if (f->kind != MF_VALUE)
            nn_embedding_forward(x, W, gather_ids(a, in, i, rows, B), f->emb, B, E);
        if (f->kind == MF_NUM || f->kind == MF_VALUE)
            for (size_t b = 0; b < B; b++)
                x[b * W + (f->kind == MF_NUM ? E : 0)] = feature_value(f, in, i, row_at(rows, b));
    }
    return model_mlp_forward(&t->mlp, a, a->x, B);
}

/* Factored feature i from its gradient rows in PG to dW0_f and its
 * embedding rows. */
static void fact_backward(const model_tower *t, model_acts *a, size_t i, float *dw0, float *demb,
                          nn_rowset *rs)
{
    const model_feature *f = &t->feat[i];
    model_fact *fc = &a->fact[i];
    size_t E = t->E, H = t->mlp.width[1];
    nn_matmul_tn_acc(dw0 + f->col * H, fc->X, fc->PG, fc->d, E, H); /* dW0_f += X^T G */
    nn_matmul_nt(fc->X, fc->PG, t->mlp.w[0] + f->col * H, fc->d, H, E); /* dX = G W0_f^T */
    nn_embedding_backward(demb, rs, fc->X, E, fc->uniq, fc->d, E);
}

/* The direct part from dh0: dW0's rows through dwd, the embeddings from
 * dx (B, K). */
static void direct_backward(const model_tower *t, model_acts *a, const model_input *in,
                            size_t B, const float *dh0, float *dw0,
                            float *const *demb, nn_rowset *rs)
{
    size_t E = t->E, H = t->mlp.width[1], K = a->K;
    memset(a->dwd, 0, K * H * sizeof(float));
    nn_matmul_tn_acc(a->dwd, a->x, dh0, B, K, H); /* dWd = x^T dh0 */
    nn_matmul_nt(a->dx, dh0, a->wd, B, H, K);     /* dx = dh0 Wd^T */
    for (size_t i = 0; i < t->nfeat; i++) {
        const model_feature *f = &t->feat[i];
        model_fact *fc = &a->fact[i];
        if (!fc->direct)
            continue;
        nn_axpy(dw0 + f->col * H, 1.0f, a->dwd + fc->xcol * H, E * H);
        if (f->kind == MF_BAG)
            nn_bag_backward(demb[i], &rs[i], a->dx + fc->xcol, K, fc->ids, B, in->L[i], E,
                            f->halflife);
        else
            nn_embedding_backward(demb[i], &rs[i], a->dx + fc->xcol, K, fc->ids, B, E);
    }
}

/* From dout (B, D) in a->dh[n-1] back to the embeddings, the gradients
 * into dw/db (per layer) and demb (per feature), touched rows into rs. */
void model_tower_backward_into(const model_tower *t, model_acts *a, const model_input *in,
                              size_t B, float *const *dw, float *const *db,
                              float *const *demb, nn_rowset *rs)
{
    const model_mlp *mlp = &t->mlp;
    size_t H = mlp->width[1];
    model_mlp_backward_into(mlp, a, 1, NULL, NULL, B, dw, db);
    float *dh0 = a->dh[0];
    if (mlp->n > 1)
        nn_relu_mask(dh0, a->h[0], B * H);
    for (size_t i = 0; i < t->nfeat; i++)
        if (is_factored(&a->fact[i]))
            memset(a->fact[i].PG, 0, a->fact[i].d * H * sizeof(float));
    for (size_t b = 0; b < B; b++) {
        size_t n = row_terms(t, a, in, b, db[0], dw[0]);
        nn_scatter_row(a->term, a->scale, n, dh0 + b * H, H);
    }
    for (size_t i = 0; i < t->nfeat; i++)
        if (is_factored(&a->fact[i]))
            fact_backward(t, a, i, dw[0], demb[i], &rs[i]);
    if (a->K)
        direct_backward(t, a, in, B, dh0, dw[0], demb, rs);
}

void model_tower_backward(model_tower *t, model_acts *a, const model_input *in, size_t B)
{
    float *demb[MODEL_MAX_FEATURES];
    nn_rowset rs[MODEL_MAX_FEATURES];
    for (size_t i = 0; i < t->nfeat; i++) {
        demb[i] = t->feat[i].demb;
        rs[i] = t->feat[i].rows;
    }
    model_tower_backward_into(t, a, in, B, t->mlp.dw, t->mlp.db, demb, rs);
    for (size_t i = 0; i < t->nfeat; i++)
        t->feat[i].rows = rs[i];
}

/* ---- inference ---- */

enum { CHUNK = 1024 };

void model_embed(const model_tower *t, const model_input *in, float *out)
{
    model_embed_threads(t, in, out, 1);
}

typedef struct {
    const model_tower *t;
    const model_input *in;
    float *out;
    atomic_size_t next; /* the next chunk */
} embed_job;

/* A thread's part: chunks of CHUNK rows, each to the first thread free
 * (a preempted thread holds up one chunk, not a fixed share); the chunks
 * are those of one thread, so any thread count gives one thread's bits. */
static void embed_part(int th, int nt, void *arg)
{
    (void)th;
    (void)nt;
    embed_job *j = arg;
    const model_tower *t = j->t;
    size_t D = t->mlp.width[t->mlp.n], n = j->in->n, c;
    model_acts a;
    int ready = 0;
    size_t rows[CHUNK];
    while ((c = atomic_fetch_add(&j->next, 1)) * CHUNK < n) {
        size_t s = c * CHUNK, B = n - s < CHUNK ? n - s : CHUNK;
        if (!ready) {
            model_tower_acts_init(&a, t, model_input_lmax(j->in), CHUNK);
            ready = 1;
        }
        for (size_t r = 0; r < B; r++)
            rows[r] = s + r;
        const float *y = model_tower_forward(t, &a, j->in, rows, B);
        memcpy(j->out + s * D, y, B * D * sizeof(float));
        if (t->unit)
            model_unit_rows(j->out + s * D, NULL, B, D);
    }
    if (ready)
        model_acts_free(&a);
}

void model_unit_rows(float *x, float *len, size_t n, size_t D)
{
    for (size_t r = 0; r < n; r++) {
        float *v = x + r * D;
        double ss = 0;
        for (size_t k = 0; k < D; k++)
            ss += (double)v[k] * v[k];
        double l = sqrt(ss);
        if (len)
            len[r] = (float)l;
        float f = l > 0 ? (float)(1.0 / l) : 0.0f;
        for (size_t k = 0; k < D; k++)
            v[k] *= f;
    }
}

void model_unit_backward(float *g, const float *u, const float *len, size_t n, size_t D)
{
    for (size_t r = 0; r < n; r++) {
        float *gr = g + r * D;
        const float *ur = u + r * D;
        if (!(len[r] > 0)) {
            memset(gr, 0, D * sizeof(float));
            continue;
        }
        double dot = 0;
        for (size_t k = 0; k < D; k++)
            dot += (double)ur[k] * gr[k];
        for (size_t k = 0; k < D; k++)
            gr[k] = (float)((gr[k] - ur[k] * dot) / len[r]);
    }
}

void model_embed_threads(const model_tower *t, const model_input *in, float *out, int threads)
{
    /* a thread per CHUNK rows at most: a pool is not worth it for fewer */
    size_t chunks = (in->n + CHUNK - 1) / CHUNK;
    int nt = chunks < (size_t)threads ? (int)chunks : threads;
    mlr_pool *p = mlr_pool_new(nt);
    embed_job j = {t, in, out, 0};
    mlr_pool_run(p, embed_part, &j);
    mlr_pool_free(p);
}

void model_rating(const model *m, const float *q, const float *c, size_t N, float *out)
{
    size_t D = model_out_width(m);
    model_acts ra;
    model_acts_init(&ra, &m->rating, 0, 1, CHUNK);
    float *z = xmalloc(CHUNK * 2 * D * sizeof(float)); /* (B, 2D) */
    for (size_t s = 0; s < N; s += CHUNK) {
        size_t B = N - s < CHUNK ? N - s : CHUNK;
        nn_copy_cols(z, 2 * D, q + s * D, D, B, D);
        nn_copy_cols(z + D, 2 * D, c + s * D, D, B, D);
        memcpy(out + s, model_mlp_forward(&m->rating, &ra, z, B), B * sizeof(float));
        model_rating_wide(m, z, B, out + s);
    }
    free(z);
    model_acts_free(&ra);
}

void model_predict(const model *m, const model_input *qin, const model_input *cin, float *out)
{
    size_t D = m->query.mlp.width[m->query.mlp.n];
    model_acts qa, ca, ra;
    model_tower_acts_init(&qa, &m->query, model_input_lmax(qin), CHUNK);
    model_tower_acts_init(&ca, &m->cand, model_input_lmax(cin), CHUNK);
    model_acts_init(&ra, &m->rating, 0, 1, CHUNK);
    float *z = xmalloc(CHUNK * 2 * D * sizeof(float)); /* (B, 2D) */
    size_t rows[CHUNK];
    for (size_t s = 0; s < qin->n; s += CHUNK) {
        size_t B = qin->n - s < CHUNK ? qin->n - s : CHUNK;
        for (size_t r = 0; r < B; r++)
            rows[r] = s + r;
        const float *q = model_tower_forward(&m->query, &qa, qin, rows, B);
        const float *c = model_tower_forward(&m->cand, &ca, cin, rows, B);
        nn_copy_cols(z, 2 * D, q, D, B, D);
        nn_copy_cols(z + D, 2 * D, c, D, B, D);
        if (m->query.unit) /* the rating head reads the unit outputs: z's halves */
            model_unit_rows(z, NULL, 2 * B, D);
        memcpy(out + s, model_mlp_forward(&m->rating, &ra, z, B), B * sizeof(float));
        model_rating_wide(m, z, B, out + s);
    }
    free(z);
    model_acts_free(&qa);
    model_acts_free(&ca);
    model_acts_free(&ra);
}

