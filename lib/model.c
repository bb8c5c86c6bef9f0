/* model.c: the two-tower model (see model.h for the shape legend). */
#include "model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "safetensors.h"

/* ---- configuration ---- */

static const char *const default_query[] = {"user_id", "timestamp", "user_occupation", "user_age",
                                            "user_gender", "user_zip", "user_occupation_text"};
static const char *const default_cand[] = {"item_id", "item_title", "item_genres"};

model_config model_config_defaults(void)
{
    model_config c;
    memset(&c, 0, sizeof c);
    c.dim = 32;
    c.nlayers = 2;
    c.layers[0] = 64;
    c.layers[1] = 32;
    c.nrating = 2;
    c.rating_layers[0] = 64; /* the report's 256,128 costs 4x the time, no better RMSE */
    c.rating_layers[1] = 32;
    c.nquery = sizeof default_query / sizeof *default_query;
    for (size_t i = 0; i < c.nquery; i++)
        snprintf(c.query[i], sizeof c.query[i], "%s", default_query[i]);
    c.ncand = sizeof default_cand / sizeof *default_cand;
    for (size_t i = 0; i < c.ncand; i++)
        snprintf(c.cand[i], sizeof c.cand[i], "%s", default_cand[i]);
    return c;
}

int model_parse_widths(const char *s, size_t *out, size_t *n, mlr_err *e)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536 || (*end && *end != ','))
            return mlr_fail(e, "'%s' is not a comma list of widths (1..65536)", s);
        if (*n == MODEL_MAX_LAYERS)
            return mlr_fail(e, "'%s': more than %d layers", s, MODEL_MAX_LAYERS);
        out[(*n)++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int model_parse_features(const char *s, char (*out)[32], size_t *n, mlr_err *e)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= 32)
            return mlr_fail(e, "'%s' is not a comma list of feature names", s);
        if (*n == MODEL_MAX_FEATURES)
            return mlr_fail(e, "'%s': more than %d features", s, MODEL_MAX_FEATURES);
        memcpy(out[*n], p, len);
        out[*n][len] = 0;
        for (size_t i = 0; i < *n; i++)
            if (strcmp(out[i], out[*n]) == 0)
                return mlr_fail(e, "feature '%s' named twice", out[*n]);
        (*n)++;
        p += len;
        if (*p == ',' && *++p == 0)
            return mlr_fail(e, "'%s' ends with a comma", s);
    }
    return 0;
}

static const char *const kind_names[] = {"cat", "bag", "num", "value"};

/* Columns a feature fills in the tower input. */
static size_t feature_width(const model_feature *f, size_t E)
{
    switch (f->kind) {
    case MF_CAT:
    case MF_BAG: return E;
    case MF_NUM: return E + 1;
    default: return 1;
    }
}

/* A feature of the spec as a tower input; side 0 query, 1 candidate. */
static int feature_from_spec(model_feature *mf, const mlr_feature *f, int side, mlr_err *e)
{
    memset(mf, 0, sizeof *mf);
    snprintf(mf->name, sizeof mf->name, "%s", f->name);
    int want = side ? MLR_SIDE_ITEM : MLR_SIDE_QUERY;
    if (f->kind == MLR_KIND_LABEL) {
        if (side || strcmp(f->name, "rating") != 0)
            return mlr_fail(e, "feature '%s' is a label: only 'rating' may feed the query tower", f->name);
        mf->kind = MF_VALUE;
        mf->mean = f->mean;
        mf->std = f->std;
        return 0;
    }
    if ((int)f->def->side != want)
        return mlr_fail(e, "feature '%s' describes the %s, not the %s", f->name,
                        side ? "user" : "item", side ? "item" : "user");
    if (f->kind == MLR_KIND_NUM) {
        mf->kind = MF_NUM;
        mf->vocab = f->buckets;
    } else {
        mf->kind = f->kind == MLR_KIND_CAT ? MF_CAT : MF_BAG;
        mf->vocab = f->size;
    }
    if (mf->vocab == 0)
        return mlr_fail(e, "feature '%s' has an empty vocabulary", f->name);
    return 0;
}

static int tower_from_spec(model_tower *t, char (*names)[32], size_t *n, const mlr_spec *spec,
                           int side, int lenient, mlr_err *e)
{
    t->nfeat = 0;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        const mlr_feature *f = mlr_spec_find(spec, names[i]);
        if (!f && lenient)
            continue;
        if (!f)
            return mlr_fail(e, "feature '%s' is not in the feature specification", names[i]);
        if (feature_from_spec(&t->feat[t->nfeat++], f, side, e) < 0)
            return -1;
        memmove(names[kept++], names[i], 32);
    }
    *n = kept;
    if (t->nfeat == 0)
        return mlr_fail(e, "the %s tower has no feature the specification provides",
                        side ? "candidate" : "query");
    return 0;
}

/* ---- parameter layout ---- */

static void add_tensor(model *m, size_t *cap, const char *name, size_t rows, size_t cols,
                       model_feature *sparse)
{
    if (m->ntensors == *cap)
        m->tensors = xrealloc(m->tensors, (*cap = *cap ? 2 * *cap : 16) * sizeof *m->tensors);
    model_tensor *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = m->P;
    t->rows = rows;
    t->cols = cols;
    t->sparse = sparse;
    m->P += (rows ? rows : 1) * cols;
}

static void layout_mlp(model *m, size_t *cap, const char *prefix, model_mlp *mlp)
{
    char name[64];
    for (size_t l = 0; l < mlp->n; l++) {
        snprintf(name, sizeof name, "%s.dense.%zu.weight", prefix, l);
        add_tensor(m, cap, name, mlp->width[l], mlp->width[l + 1], NULL);
        snprintf(name, sizeof name, "%s.dense.%zu.bias", prefix, l);
        add_tensor(m, cap, name, 0, mlp->width[l + 1], NULL);
    }
}

static void layout_tower(model *m, size_t *cap, const char *prefix, model_tower *t)
{
    char name[64];
    t->W = 0;
    for (size_t i = 0; i < t->nfeat; i++) {
        model_feature *f = &t->feat[i];
        f->col = t->W;
        t->W += feature_width(f, t->E);
        if (f->kind == MF_VALUE)
            continue;
        snprintf(name, sizeof name, "%s.emb.%s", prefix, f->name);
        add_tensor(m, cap, name, f->vocab, t->E, f);
    }
    t->mlp.width[0] = t->W;
    layout_mlp(m, cap, prefix, &t->mlp);
}

static void point_mlp(model *m, model_mlp *mlp, size_t *k)
{
    for (size_t l = 0; l < mlp->n; l++) {
        mlp->w[l] = m->params + m->tensors[*k].off;
        mlp->dw[l] = m->grads + m->tensors[(*k)++].off;
        mlp->b[l] = m->params + m->tensors[*k].off;
        mlp->db[l] = m->grads + m->tensors[(*k)++].off;
    }
}

static void point_tower(model *m, model_tower *t, size_t *k)
{
    for (size_t i = 0; i < t->nfeat; i++) {
        model_feature *f = &t->feat[i];
        if (f->kind == MF_VALUE)
            continue;
        f->emb_off = m->tensors[*k].off;
        f->emb = m->params + f->emb_off;
        f->demb = m->grads + f->emb_off;
        nn_rowset_init(&f->rows, f->vocab);
        (*k)++;
    }
    point_mlp(m, &t->mlp, k);
}

/* Lays out the block for the towers' features and m->cfg's widths. */
static void model_layout(model *m)
{
    const model_config *c = &m->cfg;
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int s = 0; s < 2; s++) {
        tw[s]->E = c->dim;
        tw[s]->mlp.n = c->nlayers;
        for (size_t l = 0; l < c->nlayers; l++)
            tw[s]->mlp.width[l + 1] = c->layers[l];
    }
    size_t D = c->layers[c->nlayers - 1];
    m->rating.n = c->nrating + 1;
    m->rating.width[0] = 2 * D;
    for (size_t l = 0; l < c->nrating; l++)
        m->rating.width[l + 1] = c->rating_layers[l];
    m->rating.width[c->nrating + 1] = 1;
    size_t cap = 0;
    m->P = 0;
    layout_tower(m, &cap, "query", &m->query);
    layout_tower(m, &cap, "cand", &m->cand);
    layout_mlp(m, &cap, "rating", &m->rating);
}

/* Allocates the blocks laid out by model_layout and points into them. */
static void model_alloc(model *m)
{
    m->params = xcalloc(m->P ? m->P : 1, sizeof(float));
    m->grads = xcalloc(m->P ? m->P : 1, sizeof(float));
    size_t k = 0;
    point_tower(m, &m->query, &k);
    point_tower(m, &m->cand, &k);
    point_mlp(m, &m->rating, &k);
}

static void init_uniform(float *w, size_t n, double limit, mlr_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2.0 * mlr_rng_uniform(rng) - 1.0) * limit);
}

/* Keras' defaults: Embedding uniform(-0.05, 0.05), Dense Glorot uniform. */
static void model_init_params(model *m, mlr_rng *rng)
{
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        float *w = m->params + t->off;
        if (t->sparse)
            init_uniform(w, t->rows * t->cols, 0.05, rng);
        else if (t->rows)
            init_uniform(w, t->rows * t->cols, sqrt(6.0 / (double)(t->rows + t->cols)), rng);
        else
            memset(w, 0, t->cols * sizeof(float));
    }
}

int model_build(model *m, const model_config *cfg, const mlr_spec *spec, int lenient,
                mlr_rng *rng, mlr_err *e)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (cfg->dim < 1 || cfg->nlayers < 1)
        return mlr_fail(e, "the towers need a dimension and at least one layer");
    if (tower_from_spec(&m->query, m->cfg.query, &m->cfg.nquery, spec, 0, lenient, e) < 0 ||
        tower_from_spec(&m->cand, m->cfg.cand, &m->cfg.ncand, spec, 1, lenient, e) < 0)
        return -1;
    model_layout(m);
    model_alloc(m);
    model_init_params(m, rng);
    const mlr_feature *r = mlr_spec_find(spec, "rating");
    if (r)
        m->rating.b[m->rating.n - 1][0] = (float)r->mean;
    snprintf(m->spec_sha256, sizeof m->spec_sha256, "%s", spec->sha256);
    return 0;
}

void model_free(model *m)
{
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < tw[s]->nfeat; i++)
            nn_rowset_free(&tw[s]->feat[i].rows);
    free(m->params);
    free(m->grads);
    free(m->tensors);
    free(m->spec_path);
    free(m->train_sha256);
    free(m->metrics);
    free(m->train_json);
    memset(m, 0, sizeof *m);
}

/* ---- data ---- */

static mlr_array *load_array(model_input *in, const char *dir, const char *stem,
                             mlr_dtype want, int ndim, mlr_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", dir, stem);
    mlr_array *a = &in->arr[in->narr];
    if (mlr_npy_read(path, (int)want, a, e) < 0)
        return NULL;
    in->narr++;
    if (a->ndim != ndim)
        return mlr_fail(e, "%s: expected a %d-D array, found %d-D", path, ndim, a->ndim), NULL;
    if (in->n == (size_t)-1)
        in->n = a->shape[0];
    else if (a->shape[0] != in->n)
        return mlr_fail(e, "%s: %zu rows, other files of %s have %zu", path, a->shape[0], dir, in->n),
               NULL;
    return a;
}

/* Every id of a must be in [0, V), or -1 where padding is allowed. */
static int check_ids(const mlr_array *a, size_t V, int padding, const char *dir,
                     const char *stem, mlr_err *e)
{
    const int32_t *x = a->data;
    size_t cols = a->shape[1];
    for (size_t i = 0; i < mlr_array_count(a); i++)
        if (x[i] >= (int64_t)V || x[i] < (padding ? -1 : 0))
            return mlr_fail(e, "%s/%s.npy: row %zu: id %d outside the vocabulary of %zu "
                            "(encoded with another specification?)", dir, stem, i / cols, x[i], V);
    return 0;
}

static int load_feature(model_input *in, size_t i, const model_feature *f, const char *dir,
                        mlr_err *e)
{
    char stem[64];
    const mlr_array *a;
    switch (f->kind) {
    case MF_CAT:
    case MF_BAG:
        if (!(a = load_array(in, dir, f->name, MLR_I4, f->kind == MF_CAT ? 1 : 2, e)))
            return -1;
        in->ids[i] = a->data;
        in->L[i] = a->shape[1];
        return check_ids(a, f->vocab, f->kind == MF_BAG, dir, f->name, e);
    case MF_NUM:
        snprintf(stem, sizeof stem, "%s_bucket", f->name);
        if (!(a = load_array(in, dir, stem, MLR_I4, 1, e)))
            return -1;
        in->ids[i] = a->data;
        in->L[i] = 1;
        if (check_ids(a, f->vocab, 0, dir, stem, e) < 0)
            return -1;
        /* and the normalised value, as MF_VALUE */
        /* fall through */
    default:
        if (!(a = load_array(in, dir, f->name, MLR_F4, 1, e)))
            return -1;
        in->val[i] = a->data;
        for (size_t r = 0; r < a->shape[0]; r++)
            if (!isfinite(in->val[i][r]))
                return mlr_fail(e, "%s/%s.npy: row %zu: not a finite number", dir, f->name, r);
        return 0;
    }
}

int model_input_load(model_input *in, const model_tower *t, const char *dir,
                     size_t want_n, mlr_err *e)
{
    memset(in, 0, sizeof *in);
    in->n = (size_t)-1;
    for (size_t i = 0; i < t->nfeat; i++)
        if (load_feature(in, i, &t->feat[i], dir, e) < 0) {
            model_input_free(in);
            return -1;
        }
    if (want_n && in->n != want_n) {
        mlr_fail(e, "%s: %zu rows, expected %zu", dir, in->n, want_n);
        model_input_free(in);
        return -1;
    }
    return 0;
}

void model_input_free(model_input *in)
{
    for (size_t i = 0; i < in->narr; i++)
        mlr_array_free(&in->arr[i]);
    memset(in, 0, sizeof *in);
}

int model_check_encoding(const char *dir, const char *sha, mlr_err *e)
{
    char path[4096], got[80] = "";
    snprintf(path, sizeof path, "%s/spec.sha256", dir);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s (not an mlr-encode output?)", path, strerror(errno));
    size_t n = fread(got, 1, sizeof got - 1, fp);
    fclose(fp);
    got[n] = 0;
    got[strcspn(got, " \t\r\n")] = 0;
    if (strcmp(got, sha) != 0)
        return mlr_fail(e, "%s: encoded with another feature specification (%.12s, expected %.12s); "
                        "rerun mlr-encode --spec with the specification of the model on the rows of %s",
                        path, got, sha, dir);
    return 0;
}

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
static void mlp_backward_to(const model_mlp *m, model_acts *a, size_t lmin, const float *x,
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
    mlp_backward_to(m, a, 0, x, dx, B, m->dw, m->db);
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

static void fact_alloc(model_acts *a, const model_tower *t, const model_input *in)
{
    size_t H = t->mlp.width[1], V = 1, terms = 1;
    for (size_t i = 0; i < t->nfeat; i++) {
        model_fact *fc = &a->fact[i];
        size_t L = in->L[i] ? in->L[i] : 1;
        terms += L + 1;
        if (t->feat[i].vocab > V)
            V = t->feat[i].vocab;
        if (fc->X)
            continue;
        fc->uniq = xmalloc(a->cap * L * sizeof(int32_t));
        fc->slot = xmalloc(a->cap * L * sizeof(int32_t));
        fc->ids = xmalloc(a->cap * L * sizeof(int32_t));
        fc->val = xmalloc((a->cap + 1) * sizeof(float));
        fc->wt = xmalloc((a->cap + 1) * sizeof(float));
        fc->X = xmalloc((a->cap * t->E + 1) * sizeof(float));
        fc->PG = xmalloc((a->cap * H + 1) * sizeof(float));
    }
    if (!a->wd) {
        a->wd = xmalloc((t->W * H + 1) * sizeof(float));
        a->dwd = xmalloc((t->W * H + 1) * sizeof(float));
        a->term = xmalloc(terms * sizeof(float *));
        a->scale = xmalloc(terms * sizeof(float));
    }
    if (a->nmap < V) {
        free(a->map);
        a->map = xmalloc(V * sizeof(int32_t));
        for (size_t v = 0; v < V; v++)
            a->map[v] = -1;
        a->nmap = V;
    }
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
    for (size_t b = 0; b < B; b++) {
        size_t n = L == 1 ? 1 : nn_bag_count(fc->ids + b * L, L);
        fc->wt[b] = n ? 1.0f / (float)n : 0.0f;
    }
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
        nn_bag_forward(a->x + fc->xcol, a->K, fc->ids, f->emb, B, in->L[i], E);
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
                a->scale[n++] = fc->wt[b];
            }
    }
    return n;
}

const float *model_tower_forward(const model_tower *t, model_acts *a, const model_input *in,
                                 const size_t *rows, size_t B)
{
    const model_mlp *mlp = &t->mlp;
    size_t H = mlp->width[1];
    fact_alloc(a, t, in);
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
            nn_bag_forward(x, W, gather_ids(a, in, i, rows, B), f->emb, B, in->L[i], E);
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
            nn_bag_backward(demb[i], &rs[i], a->dx + fc->xcol, K, fc->ids, B, in->L[i], E);
        else
            nn_embedding_backward(demb[i], &rs[i], a->dx + fc->xcol, K, fc->ids, B, E);
    }
}

/* From dout (B, D) in a->dh[n-1] back to the embeddings, the gradients
 * into dw/db (per layer) and demb (per feature), touched rows into rs. */
static void tower_backward_to(const model_tower *t, model_acts *a, const model_input *in,
                              size_t B, float *const *dw, float *const *db,
                              float *const *demb, nn_rowset *rs)
{
    const model_mlp *mlp = &t->mlp;
    size_t H = mlp->width[1];
    mlp_backward_to(mlp, a, 1, NULL, NULL, B, dw, db);
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
    tower_backward_to(t, a, in, B, t->mlp.dw, t->mlp.db, demb, rs);
    for (size_t i = 0; i < t->nfeat; i++)
        t->feat[i].rows = rs[i];
}

/* ---- training ---- */

static size_t input_lmax(const model_input *in)
{
    size_t L = 1;
    for (size_t i = 0; i < MODEL_MAX_FEATURES; i++)
        if (in->L[i] > L)
            L = in->L[i];
    return L;
}

static size_t out_width(const model *m)
{
    return m->query.mlp.width[m->query.mlp.n];
}

void model_batch_init(model_batch *b, const model *m, const model_input *qin,
                      const model_input *cin, size_t nkeys, size_t cap)
{
    model_batch_init_threads(b, m, qin, cin, nkeys, cap, 1);
}

/* A worker's touched-row sets, one per embedding, each holding the
 * gradients of as many rows as cap batch rows can touch; returns the
 * largest of those counts. */
static size_t thread_rowsets(model_worker *w, const model *m, const model_input *qin,
                             const model_input *cin, size_t cap)
{
    const model_tower *tw[2] = {&m->query, &m->cand};
    const model_input *in[2] = {qin, cin};
    size_t most = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < tw[s]->nfeat; i++) {
            size_t V = tw[s]->feat[i].vocab, L = in[s]->L[i] ? in[s]->L[i] : 1;
            size_t rows = cap * L < V ? cap * L : V;
            nn_rowset_init_grad(&w->rows[s][i], V, rows, tw[s]->E);
            most = rows > most ? rows : most;
        }
    return most;
}

enum { CHUNK_FLOATS = 2048 }; /* about a microsecond of Adam */

/* The dense tensors cut into ranges of CHUNK_FLOATS or fewer, in tensor
 * order, into off and len when given; returns how many. */
static size_t dense_chunks(const model *m, size_t *off, size_t *len)
{
    size_t k = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *tn = &m->tensors[i];
        size_t n = tn->sparse ? 0 : (tn->rows ? tn->rows : 1) * tn->cols;
        for (size_t at = 0; at < n; at += CHUNK_FLOATS, k++)
            if (off) {
                off[k] = tn->off + at;
                len[k] = n - at < CHUNK_FLOATS ? n - at : CHUNK_FLOATS;
            }
    }
    return k;
}

void model_batch_init_threads(model_batch *b, const model *m, const model_input *qin,
                              const model_input *cin, size_t nkeys, size_t cap, int threads)
{
    memset(b, 0, sizeof *b);
    size_t D = out_width(m);
    b->pool = mlr_pool_new(threads < MODEL_MAX_THREADS ? threads : MODEL_MAX_THREADS);
    b->threads = mlr_pool_threads(b->pool);
    b->w = xcalloc((size_t)b->threads, sizeof *b->w);
    for (int t = 0; t < b->threads; t++) {
        model_worker *w = &b->w[t];
        model_acts_init(&w->qa, &m->query.mlp, m->query.W, input_lmax(qin), cap);
        model_acts_init(&w->ca, &m->cand.mlp, m->cand.W, input_lmax(cin), cap);
        model_acts_init(&w->ra, &m->rating, 0, 1, cap);
        w->z = xmalloc(cap * 2 * D * sizeof(float));
        w->dz = xmalloc(cap * 2 * D * sizeof(float));
        w->dc = xmalloc(cap * D * sizeof(float));
        w->rowscale = xmalloc((cap ? cap : 1) * sizeof(float));
        w->dqs = xmalloc(cap * D * sizeof(float));
        size_t most = thread_rowsets(w, m, qin, cin, cap);
        w->sel = xmalloc((most ? most : 1) * sizeof *w->sel);
        w->at = xmalloc((most ? most : 1) * sizeof *w->at);
        w->sum = xcalloc(m->query.E > m->cand.E ? m->query.E : m->cand.E, sizeof(float));
        /* the other threads' dense gradients go into blocks of their own,
         * summed in thread order */
        if (t > 0)
            w->g = xcalloc(m->P ? m->P : 1, sizeof(float));
    }
    b->nchunks = dense_chunks(m, NULL, NULL);
    b->chunk_off = xmalloc((b->nchunks ? b->nchunks : 1) * sizeof(size_t));
    b->chunk_n = xmalloc((b->nchunks ? b->nchunks : 1) * sizeof(size_t));
    dense_chunks(m, b->chunk_off, b->chunk_n);
    b->blocks = xmalloc((size_t)b->threads * sizeof(float *));
    b->blocks[0] = m->grads;
    for (int t = 1; t < b->threads; t++)
        b->blocks[t] = b->w[t].g;
    b->q = xmalloc(cap * D * sizeof(float));
    b->c = xmalloc(cap * D * sizeof(float));
    b->shift = xmalloc(cap * sizeof(float));
    b->label = xmalloc(cap * sizeof(int32_t));
    b->count = xmalloc(cap * sizeof(int32_t));
    b->cand_rows = xmalloc(cap * sizeof(size_t));
    b->y = xmalloc(cap * sizeof(float));
    b->drop = xcalloc(cap ? cap : 1, 1);
    b->nkeys = nkeys;
    b->slot = xmalloc((nkeys ? nkeys : 1) * sizeof(int32_t));
    for (size_t k = 0; k < nkeys; k++)
        b->slot[k] = -1;
}

void model_batch_free(model_batch *b)
{
    for (int t = 0; b->w && t < b->threads; t++) {
        model_worker *w = &b->w[t];
        model_acts_free(&w->qa);
        model_acts_free(&w->ca);
        model_acts_free(&w->ra);
        free(w->z);
        free(w->dz);
        free(w->dc);
        free(w->logits);
        free(w->rowscale);
        free(w->dqs);
        free(w->sel);
        free(w->at);
        free(w->sum);
        free(w->g);
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < MODEL_MAX_FEATURES; i++)
                if (w->rows[s][i].list)
                    nn_rowset_free(&w->rows[s][i]);
    }
    free(b->w);
    free(b->blocks);
    free(b->chunk_off);
    free(b->chunk_n);
    mlr_pool_free(b->pool);
    free(b->q);
    free(b->c);
    free(b->shift);
    free(b->label);
    free(b->count);
    free(b->cand_rows);
    free(b->y);
    free(b->drop);
    free(b->slot);
    memset(b, 0, sizeof *b);
}

/* Groups the batch rows by item key: label[b] is the distinct column of
 * row b, cand_rows[u] one row holding item u, count[u] its copies. */
static size_t distinct_items(model_batch *b, const int32_t *keys, const size_t *rows, size_t B)
{
    size_t U = 0;
    for (size_t r = 0; r < B; r++) {
        if (r + 16 < B) /* shuffled rows of the whole set: each a miss */
            __builtin_prefetch(keys + rows[r + 16]);
        int32_t k = keys[rows[r]];
        if (k > 0 && (size_t)k < b->nkeys && b->slot[k] >= 0) {
            b->label[r] = b->slot[k];
            b->count[b->slot[k]]++;
            continue;
        }
        if (k > 0 && (size_t)k < b->nkeys)
            b->slot[k] = (int32_t)U;
        b->label[r] = (int32_t)U;
        b->count[U] = 1;
        b->cand_rows[U++] = rows[r];
    }
    for (size_t u = 0; u < U; u++) {
        int32_t k = keys[b->cand_rows[u]];
        if (k > 0 && (size_t)k < b->nkeys)
            b->slot[k] = -1;
    }
    return U;
}

static double mlp_flops(const model_mlp *m, size_t B)
{
    double f = 0.0;
    for (size_t l = 0; l < m->n; l++)
        f += 6.0 * (double)B * (double)m->width[l] * (double)m->width[l + 1];
    return f;
}

/* A gradient pointer of m moved into the block g (a thread's own). */
static float *in_block(const model *m, float *g, const float *p)
{
    return g + (p - m->grads);
}

/* The gradient pointers of an MLP moved into the block g. */
static void mlp_grads_in(const model *m, const model_mlp *mlp, float *g, float **dw, float **db)
{
    for (size_t l = 0; l < mlp->n; l++) {
        dw[l] = in_block(m, g, mlp->dw[l]);
        db[l] = in_block(m, g, mlp->db[l]);
    }
}

/* model_mlp_backward into the gradient block g. */
static void mlp_backward_g(const model *m, const model_mlp *mlp, model_acts *a, const float *x,
                           float *dx, size_t B, float *g)
{
    float *dw[MODEL_MAX_LAYERS], *db[MODEL_MAX_LAYERS];
    mlp_grads_in(m, mlp, g, dw, db);
    mlp_backward_to(mlp, a, 0, x, dx, B, dw, db);
}

/* model_tower_backward into the block g, touched rows into rs (one set per
 * feature). */
static void tower_backward_g(const model *m, const model_tower *t, model_acts *a,
                             const model_input *in, size_t B, float *g, nn_rowset *rs)
{
    float *dw[MODEL_MAX_LAYERS], *db[MODEL_MAX_LAYERS], *demb[MODEL_MAX_FEATURES];
    mlp_grads_in(m, &t->mlp, g, dw, db);
    for (size_t i = 0; i < t->nfeat; i++)
        demb[i] = g + t->feat[i].emb_off;
    tower_backward_to(t, a, in, B, dw, db, demb, rs);
}

/* The rating head on z = [q, c[label]] of the worker's rows: returns the
 * sum of their squared errors; dq, dc += the gradient of weight x the
 * batch's mean squared error (B rows in all). */
static double rating_pass(const model *m, model_worker *w, const model_batch *b, size_t lo,
                          size_t Bt, size_t B, size_t D, double weight)
{
    const float *q = b->q + lo * D;
    const int32_t *label = b->label + lo;
    float *dq = w->qa.dh[m->query.mlp.n - 1];
    for (size_t r = 0; r < Bt; r++) {
        memcpy(w->z + r * 2 * D, q + r * D, D * sizeof(float));
        memcpy(w->z + r * 2 * D + D, b->c + (size_t)label[r] * D, D * sizeof(float));
    }
    const float *pred = model_mlp_forward(&m->rating, &w->ra, w->z, Bt);
    double mse = nn_mse_forward(pred, b->y + lo, Bt);
    float *dpred = w->ra.dh[m->rating.n - 1];
    memset(dpred, 0, Bt * sizeof(float));
    nn_mse_backward(dpred, pred, b->y + lo, weight * (double)Bt / (double)B, Bt);
    mlp_backward_g(m, &m->rating, &w->ra, w->z, w->dz, Bt, w->g ? w->g : m->grads);
    for (size_t r = 0; r < Bt; r++) {
        const float *g = w->dz + r * 2 * D;
        nn_axpy(dq + r * D, 1.0f, g, D);
        nn_axpy(w->dc + (size_t)label[r] * D, 1.0f, g + D, D);
    }
    return mse * (double)Bt;
}

/* What the phases of a step share. Thread t of nt owns batch rows
 * [B t/nt, B (t+1)/nt) and distinct items [U t/nt, U (t+1)/nt). */
typedef struct {
    model *m;
    model_batch *b;
    const model_loss_opts *lo;
    const model_input *qin, *cin;
    const float *ratings;
    const size_t *rows;
    size_t B, U, D;
    optimizer *opt; /* the reduce phase also steps when set */
    const int32_t *keys; /* (rows) item keys */
    atomic_size_t next_chunk; /* the reduce phase's next dense piece */
} step_job;

/* Phase 1: both towers forward on the thread's rows, into b->q and b->c. */
static void phase_forward(int t, int nt, void *arg)
{
    step_job *j = arg;
    model_batch *b = j->b;
    model_worker *w = &b->w[t];
    size_t lo, hi, ulo, uhi, D = j->D;
    mlr_pool_range(j->B, t, nt, &lo, &hi);
    mlr_pool_range(j->U, t, nt, &ulo, &uhi);
    w->qa.first_layer = w->ca.first_layer = b->first_layer;
    w->qa.dropping = b->dropping;
    w->qa.drop_feat = b->drop_feat;
    w->qa.drop = b->drop + lo;
    const float *q = model_tower_forward(&j->m->query, &w->qa, j->qin, j->rows + lo, hi - lo);
    memcpy(b->q + lo * D, q, (hi - lo) * D * sizeof(float));
    const float *c = model_tower_forward(&j->m->cand, &w->ca, j->cin, b->cand_rows + ulo, uhi - ulo);
    memcpy(b->c + ulo * D, c, (uhi - ulo) * D * sizeof(float));
    float *colbias = NULL; /* the log-Q correction of its items, then their shifts */
    if (j->lo->logq) {
        colbias = b->shift + ulo;
        for (size_t u = ulo; u < uhi; u++)
            b->shift[u] = -j->lo->logq[j->keys[b->cand_rows[u]]];
    }
    nn_softmax_shift(b->shift + ulo, colbias, b->count + ulo, uhi - ulo);
    for (size_t r = lo; j->ratings && r < hi; r++) { /* its rows' ratings: misses */
        if (r + 16 < hi)
            __builtin_prefetch(j->ratings + j->rows[r + 16]);
        b->y[r] = j->ratings[j->rows[r]];
    }
    w->flops = w->qa.flops + w->ca.flops; /* the products the towers ran */
}

/* Phase 2: the losses of the thread's rows against every candidate; dq of
 * its rows (in its query activations), its share of dc (w->dc, (U, D)). */
static void phase_losses(int t, int nt, void *arg)
{
    step_job *j = arg;
    model_batch *b = j->b;
    model_worker *w = &b->w[t];
    const model_loss_opts *lo = j->lo;
    size_t r0, r1, D = j->D, U = j->U;
    mlr_pool_range(j->B, t, nt, &r0, &r1);
    size_t Bt = r1 - r0;
    float *dq = w->qa.dh[j->m->query.mlp.n - 1];
    memset(dq, 0, Bt * D * sizeof(float));
    memset(w->dc, 0, U * D * sizeof(float));
    w->retrieval = w->rating = 0.0;
    if (lo->retrieval_weight > 0 && Bt) {
        if (Bt * U > w->lcap) { /* (Bt, U) grows with the distinct items seen */
            w->lcap = Bt * U;
            free(w->logits);
            w->logits = xmalloc(w->lcap * sizeof(float));
        }
        float *logits = w->logits;
        const float *q = b->q + r0 * D;
        nn_logits_forward(logits, q, b->c, b->shift, Bt, U, D);
        /* TFRS sums the cross-entropy over the batch: each row's gradient
         * is retrieval_weight x that of its own loss */
        w->retrieval = (double)Bt * nn_softmax_xent_rows(logits, w->rowscale, b->label + r0,
                                                         b->count, lo->remove_hits,
                                                         lo->retrieval_weight * (double)Bt, Bt, U);
        nn_logits_backward(dq, w->dc, logits, w->rowscale, w->dqs, q, b->c, Bt, U, D);
        w->flops += 6.0 * (double)Bt * (double)U * (double)D;
    }
    if (lo->rating_weight > 0 && j->ratings && Bt) {
        w->rating = rating_pass(j->m, w, b, r0, Bt, j->B, D, lo->rating_weight);
        w->flops += mlp_flops(&j->m->rating, Bt);
    }
}

/* Phase 3: dc of the thread's items summed over the threads (in order),
 * then both towers backward on its rows into its own gradient block. */
static void phase_backward(int t, int nt, void *arg)
{
    step_job *j = arg;
    model *m = j->m;
    model_batch *b = j->b;
    model_worker *w = &b->w[t];
    size_t lo, hi, ulo, uhi, D = j->D;
    mlr_pool_range(j->B, t, nt, &lo, &hi);
    mlr_pool_range(j->U, t, nt, &ulo, &uhi);
    float *dc = w->ca.dh[m->cand.mlp.n - 1];
    memcpy(dc, b->w[0].dc + ulo * D, (uhi - ulo) * D * sizeof(float));
    for (int s = 1; s < nt; s++) /* 1 x part is part: the plain sum, vectorised */
        nn_axpy(dc, 1.0f, b->w[s].dc + ulo * D, (uhi - ulo) * D);
    float *g = w->g ? w->g : m->grads;
    /* the last step's rows, which the other threads read until its end */
    for (size_t i = 0; i < m->query.nfeat; i++)
        nn_rowset_clear(&w->rows[0][i]);
    for (size_t i = 0; i < m->cand.nfeat; i++)
        nn_rowset_clear(&w->rows[1][i]);
    tower_backward_g(m, &m->cand, &w->ca, j->cin, uhi - ulo, g, w->rows[1]);
    tower_backward_g(m, &m->query, &w->qa, j->qin, hi - lo, g, w->rows[0]);
}

/* The threads' touched rows and their gradients, in thread order, into
 * the features' sets and the tables of m->grads, where the caller of
 * model_forward_backward reads them; the threads' sets emptied. */
static void merge_rows(model *m, model_batch *b)
{
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int t = 0; t < b->threads; t++)
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < tw[s]->nfeat; i++) {
                model_feature *f = &tw[s]->feat[i];
                nn_rowset *rs = &b->w[t].rows[s][i];
                for (size_t k = 0; k < rs->n; k++) {
                    nn_rowset_add(&f->rows, rs->list[k]);
                    nn_axpy(f->demb + (size_t)rs->list[k] * rs->width, 1.0f,
                            rs->g + k * rs->width, rs->width);
                }
                nn_rowset_clear(rs);
            }
}

/* The tower side and the index of embedding f. */
static size_t feature_at(const model *m, const model_feature *f, int *side)
{
    for (*side = 0; *side < 2; (*side)++) {
        const model_tower *tw = *side ? &m->cand : &m->query;
        for (size_t i = 0; i < tw->nfeat; i++)
            if (&tw->feat[i] == f)
                return i;
    }
    return 0; /* not reached: every sparse tensor is one of the towers' */
}

/* Row k of thread t's set `own` of embedding (side, i) becomes the sum,
 * in thread order, of the rows of the n threads `who` that touched it
 * (t among them): two add in either order to the same bits, more need
 * the order kept, in the worker's scratch row. */
static void sum_touching(model_batch *b, int t, int side, size_t i, size_t k, const int *who,
                         int n)
{
    nn_rowset *own = &b->w[t].rows[side][i];
    size_t C = own->width;
    float *g = own->g + k * C, *sum = n > 2 ? b->w[t].sum : g;
    uint32_t row = own->list[k];
    if (n > 2)
        memset(sum, 0, C * sizeof(float));
    for (int q = 0; q < n; q++) {
        const nn_rowset *rs = &b->w[who[q]].rows[side][i];
        if (rs != own || n > 2)
            nn_axpy(sum, 1.0f, rs->g + (size_t)rs->slot[row] * C, C);
    }
    if (n > 2)
        memcpy(g, sum, C * sizeof(float));
}

/* Thread t's share of the step on embedding tn: the rows it touched and
 * owns, each with the gradient rows of all the threads that touched it
 * summed in. A row touched by one thread is its own; one touched by
 * several goes to one of them by its number, so that the threads share
 * the rows they all touch (the small vocabularies) and their remote reads.
 * A thread reads its own rows, in its cache, and the others' only where
 * they hold something. */
static void update_thread_rows(model *m, model_batch *b, const model_tensor *tn, int t,
                               optimizer *o)
{
    int side, who[MODEL_MAX_THREADS];
    size_t i = feature_at(m, tn->sparse, &side), n = 0;
    model_worker *w = &b->w[t];
    nn_rowset *own = &w->rows[side][i];
    for (size_t k = 0; k < own->n; k++) {
        uint32_t row = own->list[k];
        int nw = 0;
        for (int s = 0; s < b->threads; s++)
            if (s == t || b->w[s].rows[side][i].mark[row])
                who[nw++] = s;
        if (who[row % (uint32_t)nw] != t)
            continue;
        if (nw > 1)
            sum_touching(b, t, side, i, k, who, nw);
        w->sel[n] = row;
        w->at[n++] = (uint32_t)k;
    }
    opt_update_rows_from(o, m->params, tn->off, tn->cols, w->sel, own->g, w->at, n);
}

/* m->grads[at, at+n) += each other thread's block there (in thread order),
 * which goes back to zero. */
static void reduce_run(const model *m, const model_batch *b, size_t at, size_t n)
{
    for (int s = 1; s < b->threads; s++) {
        float *g = b->w[s].g + at;
        nn_axpy(m->grads + at, 1.0f, g, n); /* 1 x g is g: a plain sum, vectorised */
        memset(g, 0, n * sizeof(float));
    }
}

/* Phase 4: of each embedding, with j->opt, the rows the thread owns
 * (update_thread_rows); then pieces of the dense tensors, each to the
 * first thread free (the rows leave the threads uneven): the threads'
 * blocks summed into m->grads, or with j->opt summed and applied in one
 * pass by the optimiser, which zeroes them again. A piece's bits do not
 * depend on the thread that runs it. */
static void phase_reduce(int t, int nt, void *arg)
{
    (void)nt;
    step_job *j = arg;
    model *m = j->m;
    model_batch *b = j->b;
    for (size_t i = 0; j->opt && i < m->ntensors; i++)
        if (m->tensors[i].sparse) /* without opt, merge_rows summed the threads' rows */
            update_thread_rows(m, b, &m->tensors[i], t, j->opt);
    size_t c;
    while ((c = atomic_fetch_add(&j->next_chunk, 1)) < b->nchunks) {
        if (j->opt)
            opt_update_dense_sum(j->opt, m->params, b->blocks, (size_t)b->threads,
                                 b->chunk_off[c], b->chunk_n[c]);
        else
            reduce_run(m, b, b->chunk_off[c], b->chunk_n[c]);
    }
}

/* Phases 1-3, the losses and figures into st; the gradients stay in the
 * threads' blocks (dense) and row sets (embeddings). */
static void forward_backward(step_job *j, model_step_stats *st)
{
    model *m = j->m;
    model_batch *b = j->b;
    const model_loss_opts *lo = j->lo;
    size_t B = j->B;
    j->D = out_width(m);
    j->U = distinct_items(b, j->keys, j->rows, B);
    b->dropping = 0;
    for (size_t i = 0; lo->id_dropout > 0 && lo->rng && i < m->query.nfeat; i++)
        if (strcmp(m->query.feat[i].name, "user_id") == 0 && m->query.feat[i].kind == MF_CAT) {
            b->dropping = 1;
            b->drop_feat = i;
            for (size_t r = 0; r < B; r++)
                b->drop[r] = mlr_rng_uniform(lo->rng) < lo->id_dropout;
        }
    mlr_pool_run(b->pool, phase_forward, j);
    mlr_pool_run(b->pool, phase_losses, j);
    mlr_pool_run(b->pool, phase_backward, j);
    memset(st, 0, sizeof *st);
    st->distinct = j->U;
    for (int t = 0; t < b->threads; t++) {
        st->retrieval += b->w[t].retrieval;
        st->rating += b->w[t].rating;
        st->flops += b->w[t].flops;
    }
    st->retrieval = B ? st->retrieval / (double)B : 0.0;
    st->rating = B ? st->rating / (double)B : 0.0;
    if (!(lo->rating_weight > 0 && j->ratings))
        st->rating = 0.0;
    st->loss = lo->retrieval_weight * st->retrieval * (double)B + lo->rating_weight * st->rating;
}

void model_forward_backward(model *m, model_batch *b, const model_loss_opts *lo,
                            const model_input *qin, const model_input *cin,
                            const int32_t *keys, const float *ratings,
                            const size_t *rows, size_t B, model_step_stats *st)
{
    step_job j = {m, b, lo, qin, cin, ratings, rows, B, 0, 0, NULL, keys, 0};
    forward_backward(&j, st);
    merge_rows(m, b);
    if (b->threads > 1)
        mlr_pool_run(b->pool, phase_reduce, &j);
}

void model_train_step(model *m, model_batch *b, optimizer *o, const model_loss_opts *lo,
                      const model_input *qin, const model_input *cin,
                      const int32_t *keys, const float *ratings,
                      const size_t *rows, size_t B, model_step_stats *st)
{
    step_job j = {m, b, lo, qin, cin, ratings, rows, B, 0, 0, NULL, keys, 0};
    forward_backward(&j, st);
    opt_begin_step(o);
    j.opt = o;
    mlr_pool_run(b->pool, phase_reduce, &j); /* the row sets are emptied by the next backward */
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
} embed_job;

static void embed_part(int th, int nt, void *arg)
{
    embed_job *j = arg;
    const model_tower *t = j->t;
    size_t D = t->mlp.width[t->mlp.n], lo, hi;
    mlr_pool_range(j->in->n, th, nt, &lo, &hi);
    if (lo == hi)
        return;
    model_acts a;
    model_acts_init(&a, &t->mlp, t->W, input_lmax(j->in), CHUNK);
    size_t rows[CHUNK];
    for (size_t s = lo; s < hi; s += CHUNK) {
        size_t B = hi - s < CHUNK ? hi - s : CHUNK;
        for (size_t r = 0; r < B; r++)
            rows[r] = s + r;
        const float *y = model_tower_forward(t, &a, j->in, rows, B);
        memcpy(j->out + s * D, y, B * D * sizeof(float));
    }
    model_acts_free(&a);
}

void model_embed_threads(const model_tower *t, const model_input *in, float *out, int threads)
{
    /* a thread per CHUNK rows at most: a pool is not worth it for fewer */
    size_t chunks = (in->n + CHUNK - 1) / CHUNK;
    int nt = chunks < (size_t)threads ? (int)chunks : threads;
    mlr_pool *p = mlr_pool_new(nt);
    embed_job j = {t, in, out};
    mlr_pool_run(p, embed_part, &j);
    mlr_pool_free(p);
}

void model_rating(const model *m, const float *q, const float *c, size_t N, float *out)
{
    size_t D = out_width(m);
    model_acts ra;
    model_acts_init(&ra, &m->rating, 0, 1, CHUNK);
    float *z = xmalloc(CHUNK * 2 * D * sizeof(float)); /* (B, 2D) */
    for (size_t s = 0; s < N; s += CHUNK) {
        size_t B = N - s < CHUNK ? N - s : CHUNK;
        nn_copy_cols(z, 2 * D, q + s * D, D, B, D);
        nn_copy_cols(z + D, 2 * D, c + s * D, D, B, D);
        memcpy(out + s, model_mlp_forward(&m->rating, &ra, z, B), B * sizeof(float));
    }
    free(z);
    model_acts_free(&ra);
}

void model_predict(const model *m, const model_input *qin, const model_input *cin, float *out)
{
    size_t D = m->query.mlp.width[m->query.mlp.n];
    model_acts qa, ca, ra;
    model_acts_init(&qa, &m->query.mlp, m->query.W, input_lmax(qin), CHUNK);
    model_acts_init(&ca, &m->cand.mlp, m->cand.W, input_lmax(cin), CHUNK);
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
        memcpy(out + s, model_mlp_forward(&m->rating, &ra, z, B), B * sizeof(float));
    }
    free(z);
    model_acts_free(&qa);
    model_acts_free(&ca);
    model_acts_free(&ra);
}

/* ---- the file ---- */

static json_t *widths_json(const size_t *w, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)w[i]));
    return a;
}

static json_t *tower_json(const model_tower *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < t->nfeat; i++) {
        const model_feature *f = &t->feat[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(f->name));
        json_object_set_new(o, "kind", json_string(kind_names[f->kind]));
        if (f->kind == MF_VALUE) {
            json_object_set_new(o, "mean", json_real(f->mean));
            json_object_set_new(o, "std", json_real(f->std));
        } else {
            json_object_set_new(o, "size", json_integer((json_int_t)f->vocab));
        }
        json_array_append_new(a, o);
    }
    return a;
}

/* The `config` metadata: widths, features with their sizes, and the
 * training options the tool recorded in m->train_json. */
static char *config_json(const model *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "dim", json_integer((json_int_t)m->cfg.dim));
    json_object_set_new(o, "layers", widths_json(m->cfg.layers, m->cfg.nlayers));
    json_object_set_new(o, "rating_layers", widths_json(m->cfg.rating_layers, m->cfg.nrating));
    json_object_set_new(o, "query", tower_json(&m->query));
    json_object_set_new(o, "cand", tower_json(&m->cand));
    json_t *train = m->train_json ? json_loads(m->train_json, 0, NULL) : NULL;
    if (train)
        json_object_set_new(o, "train", train);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

int model_save(const model *m, const char *path, mlr_err *e)
{
    mlr_st_tensor *t = xcalloc(m->ntensors ? m->ntensors : 1, sizeof *t);
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *mt = &m->tensors[i];
        t[i].name = (char *)mt->name;
        t[i].dtype = MLR_ST_F32;
        t[i].ndim = mt->rows ? 2 : 1;
        t[i].shape[0] = mt->rows ? mt->rows : mt->cols;
        t[i].shape[1] = mt->cols;
        t[i].nbytes = (mt->rows ? mt->rows : 1) * mt->cols * sizeof(float);
        t[i].data = m->params + mt->off;
    }
    char *config = config_json(m);
    const char *keys[] = {"format", "version", "config", "spec_sha256", "spec_path",
                          "train_sha256", "metrics"};
    const char *vals[] = {MODEL_FORMAT, MODEL_VERSION, config ? config : "{}", m->spec_sha256,
                          m->spec_path ? m->spec_path : "",
                          m->train_sha256 ? m->train_sha256 : "",
                          m->metrics ? m->metrics : "{}"};
    int rc = mlr_st_write(path, t, m->ntensors, keys, vals, 7, e);
    free(config);
    free(t);
    return rc;
}

static int json_width(json_t *v, size_t max, size_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (json_int_t)max)
        return -1;
    *out = (size_t)json_integer_value(v);
    return 0;
}

static int widths_from_json(json_t *a, size_t *w, size_t *n, int allow_empty)
{
    if (!json_is_array(a) || json_array_size(a) > MODEL_MAX_LAYERS ||
        (!allow_empty && json_array_size(a) == 0))
        return -1;
    *n = json_array_size(a);
    for (size_t i = 0; i < *n; i++)
        if (json_width(json_array_get(a, i), 65536, &w[i]) < 0)
            return -1;
    return 0;
}

static int feature_from_json(model_feature *f, json_t *o)
{
    memset(f, 0, sizeof *f);
    json_t *name = json_object_get(o, "name"), *kind = json_object_get(o, "kind");
    if (!json_is_string(name) || !json_is_string(kind) || json_string_length(name) == 0 ||
        json_string_length(name) >= sizeof f->name || strchr(json_string_value(name), '/'))
        return -1;
    snprintf(f->name, sizeof f->name, "%s", json_string_value(name));
    for (int k = 0; k < 4; k++)
        if (strcmp(json_string_value(kind), kind_names[k]) == 0)
            f->kind = (model_feat_kind)k;
    if (strcmp(json_string_value(kind), kind_names[f->kind]) != 0)
        return -1;
    if (f->kind == MF_VALUE) {
        json_t *mean = json_object_get(o, "mean"), *std = json_object_get(o, "std");
        if (!json_is_number(mean) || !json_is_number(std))
            return -1;
        f->mean = json_number_value(mean);
        f->std = json_number_value(std);
        return 0;
    }
    return json_width(json_object_get(o, "size"), (size_t)1 << 30, &f->vocab);
}

static int tower_from_json(model_tower *t, char (*names)[32], size_t *n, json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > MODEL_MAX_FEATURES)
        return -1;
    t->nfeat = *n = json_array_size(a);
    for (size_t i = 0; i < t->nfeat; i++) {
        if (feature_from_json(&t->feat[i], json_array_get(a, i)) < 0)
            return -1;
        memcpy(names[i], t->feat[i].name, 32);
    }
    return 0;
}

static int config_from_json(model *m, const char *text, const char *path, mlr_err *e)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    model_config *c = &m->cfg;
    int bad = !o || json_width(json_object_get(o, "dim"), 65536, &c->dim) < 0 ||
              widths_from_json(json_object_get(o, "layers"), c->layers, &c->nlayers, 0) < 0 ||
              widths_from_json(json_object_get(o, "rating_layers"), c->rating_layers, &c->nrating, 1) < 0 ||
              c->nrating + 1 > MODEL_MAX_LAYERS ||
              tower_from_json(&m->query, c->query, &c->nquery, json_object_get(o, "query")) < 0 ||
              tower_from_json(&m->cand, c->cand, &c->ncand, json_object_get(o, "cand")) < 0;
    json_t *train = o ? json_object_get(o, "train") : NULL;
    if (!bad && train)
        m->train_json = json_dumps(train, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (bad)
        return mlr_fail(e, "%s: metadata 'config' is not a valid model configuration", path);
    return 0;
}

static int check_header(const mlr_st_file *f, const char *path, mlr_err *e)
{
    const char *fmt = mlr_st_meta(f, "format"), *ver = mlr_st_meta(f, "version");
    if (!fmt || strcmp(fmt, MODEL_FORMAT) != 0)
        return mlr_fail(e, "%s: not an mlrec model (metadata format '%.40s', expected '%s')",
                        path, fmt ? fmt : "", MODEL_FORMAT);
    if (!ver || strcmp(ver, MODEL_VERSION) != 0)
        return mlr_fail(e, "%s: model version '%.20s', this mlrec reads version %s; "
                        "retrain the model with this mlr-train", path, ver ? ver : "", MODEL_VERSION);
    const char *sha = mlr_st_meta(f, "spec_sha256");
    if (!sha || strlen(sha) != 64)
        return mlr_fail(e, "%s: metadata spec_sha256 missing or malformed", path);
    if (!mlr_st_meta(f, "config"))
        return mlr_fail(e, "%s: metadata 'config' missing", path);
    return 0;
}

/* Every tensor of the layout must be in the file, F32 with its shape, and
 * nothing else may be. Checked before the block is allocated, so a file
 * cannot make us allocate more than it holds. */
static int check_tensors(const model *m, const mlr_st_file *f, const char *path, mlr_err *e)
{
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *mt = &m->tensors[i];
        const mlr_st_tensor *t = mlr_st_find(f, mt->name);
        if (!t)
            return mlr_fail(e, "%s: tensor '%s' missing", path, mt->name);
        int ndim = mt->rows ? 2 : 1;
        size_t r = mt->rows ? mt->rows : mt->cols;
        if (t->dtype != MLR_ST_F32 || t->ndim != ndim || t->shape[0] != r ||
            (ndim == 2 && t->shape[1] != mt->cols))
            return mlr_fail(e, "%s: tensor '%s' is not F32 of shape (%zu%s%.0zu)", path, mt->name,
                            r, ndim == 2 ? ", " : "", ndim == 2 ? mt->cols : (size_t)0);
    }
    if (f->n != m->ntensors)
        for (size_t i = 0; i < f->n; i++) {
            int known = 0;
            for (size_t k = 0; k < m->ntensors && !known; k++)
                known = strcmp(m->tensors[k].name, f->t[i].name) == 0;
            if (!known)
                return mlr_fail(e, "%s: unexpected tensor '%s'", path, f->t[i].name);
        }
    return 0;
}

static char *meta_dup(const mlr_st_file *f, const char *key)
{
    const char *v = mlr_st_meta(f, key);
    return v ? xstrdup(v) : NULL;
}

int model_load(model *m, const char *path, mlr_err *e)
{
    memset(m, 0, sizeof *m);
    mlr_st_file f;
    if (mlr_st_read(&f, path, e) < 0)
        return -1;
    int rc = check_header(&f, path, e);
    if (rc == 0)
        rc = config_from_json(m, mlr_st_meta(&f, "config"), path, e);
    if (rc == 0) {
        model_layout(m);
        rc = check_tensors(m, &f, path, e);
    }
    if (rc == 0) {
        model_alloc(m);
        for (size_t i = 0; i < m->ntensors; i++)
            memcpy(m->params + m->tensors[i].off, mlr_st_find(&f, m->tensors[i].name)->data,
                   (m->tensors[i].rows ? m->tensors[i].rows : 1) * m->tensors[i].cols * sizeof(float));
    }
    if (rc == 0) {
        snprintf(m->spec_sha256, sizeof m->spec_sha256, "%s", mlr_st_meta(&f, "spec_sha256"));
        m->spec_path = meta_dup(&f, "spec_path");
        m->train_sha256 = meta_dup(&f, "train_sha256");
        m->metrics = meta_dup(&f, "metrics");
    }
    mlr_st_free(&f);
    if (rc < 0)
        model_free(m);
    return rc;
}

/* ---- warm start ---- */

static const model_feature *find_feature(const model_tower *t, const char *name)
{
    for (size_t i = 0; i < t->nfeat; i++)
        if (strcmp(t->feat[i].name, name) == 0)
            return &t->feat[i];
    return NULL;
}

static const model_tensor *find_tensor(const model *m, const char *name)
{
    for (size_t i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

/* Rows of one embedding: by token for vocabularies, whole for buckets of
 * the same count. */
static void warm_embedding(model_feature *f, size_t E, const model_feature *of,
                           const mlr_spec *ns, const mlr_spec *os, size_t *carried, size_t *fresh)
{
    const mlr_feature *nf = mlr_spec_find(ns, f->name), *oldf = mlr_spec_find(os, f->name);
    int by_token = f->kind != MF_NUM && nf && oldf && nf->vocab && oldf->vocab && ns != os;
    for (size_t id = 0; id < f->vocab; id++) {
        long from = -1;
        if (by_token) {
            const char *tok = mlr_feature_token(nf, id);
            from = id == 0 ? 0 : mlr_strmap_find(oldf->vocab, tok, strlen(tok));
        } else if (f->vocab == of->vocab) {
            from = (long)id;
        }
        if (from < 0 || (size_t)from >= of->vocab) {
            (*fresh)++;
            continue;
        }
        memcpy(f->emb + id * E, of->emb + (size_t)from * E, E * sizeof(float));
        (*carried)++;
    }
}

int model_warm_start(model *m, const mlr_spec *new_spec, const model *old,
                     const mlr_spec *old_spec, size_t *carried, size_t *fresh, mlr_err *e)
{
    *carried = *fresh = 0;
    if (old->cfg.dim != m->cfg.dim)
        return mlr_fail(e, "cannot warm-start: the model has dimension %zu, now %zu",
                        old->cfg.dim, m->cfg.dim);
    model_tower *tw[2] = {&m->query, &m->cand};
    const model_tower *ot[2] = {&old->query, &old->cand};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < tw[s]->nfeat; i++) {
            model_feature *f = &tw[s]->feat[i];
            const model_feature *of = find_feature(ot[s], f->name);
            if (f->kind == MF_VALUE)
                continue;
            if (!of || of->kind != f->kind)
                *fresh += f->vocab;
            else
                warm_embedding(f, m->cfg.dim, of, new_spec, old_spec, carried, fresh);
        }
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->sparse)
            continue;
        const model_tensor *o = find_tensor(old, t->name);
        if (!o || o->rows != t->rows || o->cols != t->cols)
            return mlr_fail(e, "cannot warm-start: tensor '%s' is missing or of another shape in the "
                            "model (change of features or layers?)", t->name);
        memcpy(m->params + t->off, old->params + o->off, (t->rows ? t->rows : 1) * t->cols * sizeof(float));
    }
    return 0;
}
