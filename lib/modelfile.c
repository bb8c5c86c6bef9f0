/* modelfile.c: the model's .safetensors file (save, load) and the warm
 * start from an earlier model (see model.h). */
#include "model.h"

#include <jansson.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "safetensors.h"

static const char *const kind_names[] = {"cat", "bag", "num", "value"};

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
        if (f->halflife > 0) /* absent: the plain mean of the files before it */
            json_object_set_new(o, "halflife", json_real(f->halflife));
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
    if (m->cfg.wide) /* absent: the MLP head of the files before it */
        json_object_set_new(o, "rating_head", json_string("wide"));
    if (m->cfg.temperature > 0) /* absent: dot products, as the files before it */
        json_object_set_new(o, "temperature", json_real(m->cfg.temperature));
    if (m->pop) /* absent: no popularity prior, as the files before it */
        json_object_set_new(o, "popularity", json_real(m->cfg.popularity));
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
    /* A model with NaN or infinite weights is not a model (a diverged
     * training): refused here, the earlier file at path left as it was. */
    int rc = mlr_st_check_finite(t, m->ntensors, path && strcmp(path, "-") ? path : "stdout", e);
    if (rc < 0) {
        mlr_err why = *e;
        mlr_fail(e, "%.900s: not saved (training diverged? try a lower --lr)", why.msg);
    } else
        rc = mlr_st_write(path, t, m->ntensors, keys, vals, 7, e);
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
    json_t *h = json_object_get(o, "halflife");
    if (h) {
        if (f->kind != MF_BAG || !json_is_number(h) || !(json_number_value(h) > 0) ||
            !isfinite(json_number_value(h)))
            return -1;
        f->halflife = json_number_value(h);
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
    json_t *head = o ? json_object_get(o, "rating_head") : NULL;
    if (!bad && head) {
        const char *h = json_string_value(head);
        bad = !h || (strcmp(h, "wide") != 0 && strcmp(h, "mlp") != 0);
        c->wide = h && strcmp(h, "wide") == 0;
    }
    json_t *temp = o ? json_object_get(o, "temperature") : NULL;
    if (!bad && temp) {
        c->temperature = json_is_number(temp) ? json_number_value(temp) : -1;
        bad = !(c->temperature > 0 && c->temperature <= 1e6);
    }
    json_t *pop = o ? json_object_get(o, "popularity") : NULL;
    if (!bad && pop) {
        c->popularity = json_is_number(pop) ? json_number_value(pop) : -1;
        bad = !(c->popularity > 0 && c->popularity <= 1e6);
    }
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
        rc = mlr_st_check_finite(f.t, f.n, path, e);
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
        if (t->sparse || m->params + t->off == m->pop) /* the counts: of the new rows */
            continue;
        const model_tensor *o = find_tensor(old, t->name);
        if (!o || o->rows != t->rows || o->cols != t->cols)
            return mlr_fail(e, "cannot warm-start: tensor '%s' is missing or of another shape in the "
                            "model (change of features or layers?)", t->name);
        memcpy(m->params + t->off, old->params + o->off, (t->rows ? t->rows : 1) * t->cols * sizeof(float));
    }
    return 0;
}
