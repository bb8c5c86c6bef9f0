/* model.c: the two-tower model's configuration, parameter layout and
 * build (see model.h for the shape legend). The towers run in tower.c, the
 * trainer in train.c, the file in modelfile.c, the encoded rows are read
 * by encdir.c. */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ---- */

static const char *const default_query[] = {"user_id", "timestamp", "user_occupation", "user_age",
                                            "user_gender", "user_zip", "user_occupation_text",
                                            "user_history"};
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
    c.temperature = 0.2; /* cosines: +0.008 nDCG@10 on validation (docs/model.md) */
    c.nquery = sizeof default_query / sizeof *default_query;
    for (size_t i = 0; i < c.nquery; i++)
        snprintf(c.query[i], sizeof c.query[i], "%s", default_query[i]);
    c.ncand = sizeof default_cand / sizeof *default_cand;
    for (size_t i = 0; i < c.ncand; i++)
        snprintf(c.cand[i], sizeof c.cand[i], "%s", default_cand[i]);
    return c;
}

/* Each width is an integer of the suite's grammar (docs/numbers.md: no
 * blank, no '+'), so " 5" and "+5" are refused like everywhere else. */
int model_parse_widths(const char *s, size_t *out, size_t *n, mlr_err *e)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        char buf[24];
        long v = 0;
        if (len == 0 || len >= sizeof buf || (p[len] == ',' && !p[len + 1]))
            return mlr_fail(e, "'%s' is not a comma list of widths (1..65536)", s);
        memcpy(buf, p, len);
        buf[len] = 0;
        if (mlr_parse_long(buf, &v) < 0 || v < 1 || v > 65536)
            return mlr_fail(e, "'%s' is not a comma list of widths (1..65536)", s);
        if (*n == MODEL_MAX_LAYERS)
            return mlr_fail(e, "'%s': more than %d layers", s, MODEL_MAX_LAYERS);
        out[(*n)++] = (size_t)v;
        p += len + (p[len] == ',');
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

/* Whether the model has a popularity prior: the configuration asks for
 * one and the candidate tower has an item_id, which keys it (its index
 * into *feat). */
static int popularity_feature(const model *m, size_t *feat)
{
    for (size_t i = 0; m->cfg.popularity > 0 && i < m->cand.nfeat; i++)
        if (m->cand.feat[i].kind == MF_CAT && !strcmp(m->cand.feat[i].name, "item_id")) {
            *feat = i;
            return 1;
        }
    return 0;
}

void model_layout(model *m)
{
    const model_config *c = &m->cfg;
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int s = 0; s < 2; s++) {
        tw[s]->E = c->dim;
        tw[s]->unit = c->temperature > 0;
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
    if (c->wide) { /* zero at first: the head starts as the MLP alone */
        add_tensor(m, &cap, "rating.linear.weight", 0, 2 * D, NULL);
        add_tensor(m, &cap, "rating.dot.weight", 0, 1, NULL);
    }
    if (popularity_feature(m, &m->pop_feat)) /* a vector of the block that no gradient touches */
        add_tensor(m, &cap, "cand.popularity", 0, m->cand.feat[m->pop_feat].vocab, NULL);
}

void model_alloc(model *m)
{
    m->params = xcalloc(m->P ? m->P : 1, sizeof(float));
    m->grads = xcalloc(m->P ? m->P : 1, sizeof(float));
    size_t k = 0;
    point_tower(m, &m->query, &k);
    point_tower(m, &m->cand, &k);
    point_mlp(m, &m->rating, &k);
    if (m->cfg.wide) {
        m->lin = m->params + m->tensors[k].off;
        m->dlin = m->grads + m->tensors[k++].off;
        m->dot = m->params + m->tensors[k].off;
        m->ddot = m->grads + m->tensors[k++].off;
    }
    if (popularity_feature(m, &m->pop_feat))
        m->pop = m->params + m->tensors[k++].off;
}

void model_rating_wide(const model *m, const float *z, size_t B, float *pred)
{
    if (!m->cfg.wide)
        return;
    size_t D = model_out_width(m);
    for (size_t r = 0; r < B; r++) {
        const float *zr = z + r * 2 * D;
        float s = 0.0f, d = 0.0f;
        for (size_t i = 0; i < 2 * D; i++)
            s += m->lin[i] * zr[i];
        for (size_t i = 0; i < D; i++)
            d += zr[i] * zr[D + i];
        pred[r] += s + m->dot[0] * d;
    }
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
    for (size_t i = 0; i < m->query.nfeat; i++)
        if (m->query.feat[i].kind == MF_BAG && strcmp(m->query.feat[i].name, "user_history") == 0)
            m->query.feat[i].halflife = cfg->history_halflife;
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

int model_user_feature(const model *m)
{
    for (size_t i = 0; i < m->query.nfeat; i++)
        if (strcmp(m->query.feat[i].name, "user_id") == 0 && m->query.feat[i].kind == MF_CAT)
            return (int)i;
    return -1;
}

size_t model_out_width(const model *m)
{
    return m->query.mlp.width[m->query.mlp.n];
}

size_t model_rank_width(const model *m)
{
    return model_out_width(m) + (m->pop != NULL);
}

void model_rank_rows(const model *m, int cand, const model_input *in, const float *emb, size_t n,
                     float *out)
{
    size_t D = model_out_width(m), W = model_rank_width(m);
    const int32_t *item = cand && m->pop ? in->ids[m->pop_feat] : NULL;
    for (size_t r = n; r-- > 0;) { /* last row first: out may be emb, widened in place */
        memmove(out + r * W, emb + r * D, D * sizeof *out);
        if (W > D)
            out[r * W + D] = item ? (float)m->cfg.popularity * m->pop[item[r]] : 1.0f;
    }
}

void model_set_popularity(model *m, const int32_t *keys, size_t n)
{
    if (!m->pop)
        return;
    size_t V = m->cand.feat[m->pop_feat].vocab;
    memset(m->pop, 0, V * sizeof *m->pop);
    for (size_t i = 0; i < n; i++)
        if (keys[i] >= 0 && (size_t)keys[i] < V)
            m->pop[keys[i]] += 1.0f;
    for (size_t v = 0; v < V; v++)
        m->pop[v] = (float)log1p((double)m->pop[v]);
}

/* ---- data ---- */

size_t model_input_lmax(const model_input *in)
{
    size_t L = 1;
    for (size_t i = 0; i < MODEL_MAX_FEATURES; i++)
        if (in->L[i] > L)
            L = in->L[i];
    return L;
}
