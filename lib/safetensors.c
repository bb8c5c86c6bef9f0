/* safetensors.c: strict reader and atomic writer (see safetensors.h). */
#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *const dtype_names[] = {"F32", "I32", "I64", "I16"};
static const size_t dtype_sizes[] = {4, 4, 8, 2};

uint64_t mlr_le64_get(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

void mlr_le64_put(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

const char *mlr_st_dtype_name(mlr_st_dtype t)
{
    return dtype_names[t];
}

size_t mlr_st_dtype_size(mlr_st_dtype t)
{
    return dtype_sizes[t];
}

void mlr_st_free(mlr_st_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->t[i].name);
        free(f->t[i].data);
    }
    for (size_t i = 0; i < f->nmeta; i++) {
        free(f->meta_key[i]);
        free(f->meta_val[i]);
    }
    free(f->t);
    free(f->meta_key);
    free(f->meta_val);
    memset(f, 0, sizeof *f);
}

const mlr_st_tensor *mlr_st_find(const mlr_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

const char *mlr_st_meta(const mlr_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_key[i], key) == 0)
            return f->meta_val[i];
    return NULL;
}

/* ---- reading ---- */

static int parse_meta(mlr_st_file *f, json_t *obj, const char *name, mlr_err *e)
{
    if (!json_is_object(obj))
        return mlr_fail(e, "%s: safetensors: __metadata__ is not an object", name);
    size_t n = json_object_size(obj), i = 0;
    f->meta_key = xcalloc(n ? n : 1, sizeof(char *));
    f->meta_val = xcalloc(n ? n : 1, sizeof(char *));
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!json_is_string(val))
            return mlr_fail(e, "%s: safetensors: metadata '%s' is not a string", name, key);
        f->meta_key[i] = xstrdup(key);
        f->meta_val[i] = xstrdup(json_string_value(val));
        f->nmeta = ++i;
    }
    return 0;
}

static int json_size(json_t *v, size_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* One tensor entry: exactly dtype, shape, data_offsets, all well typed,
 * the shape's byte size agreeing with the offsets. */
static int parse_entry(mlr_st_tensor *t, size_t *begin, const char *key, json_t *v,
                       size_t datalen, const char *name, mlr_err *e)
{
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape");
    json_t *off = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !dt || !sh || !off || json_object_size(v) != 3)
        return mlr_fail(e, "%s: safetensors: tensor '%s' needs exactly dtype, shape and data_offsets",
                        name, key);
    if (!json_is_string(dt))
        return mlr_fail(e, "%s: safetensors: tensor '%s': dtype is not a string", name, key);
    int found = 0;
    for (int k = 0; k < (int)(sizeof dtype_names / sizeof *dtype_names); k++)
        if (strcmp(json_string_value(dt), dtype_names[k]) == 0) {
            t->dtype = (mlr_st_dtype)k;
            found = 1;
        }
    if (!found)
        return mlr_fail(e, "%s: safetensors: tensor '%s': unsupported dtype '%.32s' (mlrec reads F32, I32, I64, I16)",
                        name, key, json_string_value(dt));
    if (!json_is_array(sh) || json_array_size(sh) > MLR_ST_MAX_DIM)
        return mlr_fail(e, "%s: safetensors: tensor '%s': shape is not an array of at most %d sizes",
                        name, key, MLR_ST_MAX_DIM);
    t->ndim = (int)json_array_size(sh);
    size_t bytes = mlr_st_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++) {
        if (json_size(json_array_get(sh, (size_t)d), &t->shape[d]) < 0)
            return mlr_fail(e, "%s: safetensors: tensor '%s': shape holds a non-size", name, key);
        if (t->shape[d] && bytes > SIZE_MAX / t->shape[d])
            return mlr_fail(e, "%s: safetensors: tensor '%s': shape too large", name, key);
        bytes *= t->shape[d];
    }
    size_t b, end;
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        json_size(json_array_get(off, 0), &b) < 0 || json_size(json_array_get(off, 1), &end) < 0)
        return mlr_fail(e, "%s: safetensors: tensor '%s': data_offsets is not [begin, end]", name, key);
    if (b > end || end > datalen)
        return mlr_fail(e, "%s: safetensors: tensor '%s': data_offsets [%zu, %zu] outside the %zu-byte buffer",
                        name, key, b, end, datalen);
    if (end - b != bytes)
        return mlr_fail(e, "%s: safetensors: tensor '%s': shape needs %zu bytes, offsets give %zu",
                        name, key, bytes, end - b);
    t->name = xstrdup(key);
    t->nbytes = bytes;
    *begin = b;
    return 0;
}

typedef struct {
    size_t begin, end, idx;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile [0, datalen) exactly: no overlap, no gap. */
static int check_tiling(const mlr_st_file *f, const size_t *begins, size_t datalen,
                        const char *name, mlr_err *e)
{
    span *s = xmalloc((f->n ? f->n : 1) * sizeof *s);
    for (size_t i = 0; i < f->n; i++)
        s[i] = (span){begins[i], begins[i] + f->t[i].nbytes, i};
    qsort(s, f->n, sizeof *s, span_cmp);
    size_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < f->n && rc == 0; i++) {
        if (s[i].begin < pos)
            rc = mlr_fail(e, "%s: safetensors: tensor '%s' overlaps another", name, f->t[s[i].idx].name);
        else if (s[i].begin > pos)
            rc = mlr_fail(e, "%s: safetensors: gap in the data buffer before tensor '%s'",
                          name, f->t[s[i].idx].name);
        pos = s[i].end;
    }
    if (rc == 0 && pos != datalen)
        rc = mlr_fail(e, "%s: safetensors: %zu bytes after the last tensor", name, datalen - pos);
    free(s);
    return rc;
}

static int parse_header(mlr_st_file *f, json_t *root, const unsigned char *data,
                        size_t datalen, const char *name, mlr_err *e)
{
    size_t n = json_object_size(root);
    f->t = xcalloc(n ? n : 1, sizeof *f->t);
    size_t *begins = xcalloc(n ? n : 1, sizeof *begins);
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0)
            rc = parse_meta(f, val, name, e);
        else if (!*key)
            rc = mlr_fail(e, "%s: safetensors: a tensor with an empty name", name);
        else if ((rc = parse_entry(&f->t[f->n], &begins[f->n], key, val, datalen, name, e)) == 0)
            f->n++;
        if (rc < 0)
            break;
    }
    if (rc == 0)
        rc = check_tiling(f, begins, datalen, name, e);
    for (size_t i = 0; rc == 0 && i < f->n; i++) {
        f->t[i].data = xmalloc(f->t[i].nbytes ? f->t[i].nbytes : 1);
        memcpy(f->t[i].data, data + begins[i], f->t[i].nbytes);
    }
    free(begins);
    return rc;
}

int mlr_st_parse(mlr_st_file *f, const void *buf, size_t len, const char *name, mlr_err *e)
{
    memset(f, 0, sizeof *f);
    const unsigned char *p = buf;
    if (len < 8)
        return mlr_fail(e, "%s: safetensors: file too short (%zu bytes) for the header length", name, len);
    uint64_t hlen = mlr_le64_get(p);
    if (hlen > MLR_ST_MAX_HEADER)
        return mlr_fail(e, "%s: safetensors: header length %llu over the limit of %u bytes",
                        name, (unsigned long long)hlen, MLR_ST_MAX_HEADER);
    if (hlen > len - 8)
        return mlr_fail(e, "%s: safetensors: header length %llu runs past the end of the file (truncated?)",
                        name, (unsigned long long)hlen);
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return mlr_fail(e, "%s: safetensors: header is not valid JSON: %s", name, je.text);
    int rc;
    if (!json_is_object(root))
        rc = mlr_fail(e, "%s: safetensors: header is not a JSON object", name);
    else
        rc = parse_header(f, root, p + 8 + hlen, len - 8 - (size_t)hlen, name, e);
    json_decref(root);
    if (rc < 0)
        mlr_st_free(f);
    return rc;
}

/* Appends up to n bytes of fp to *buf (growing it as bytes arrive, not
 * as claimed); returns how many came. */
static size_t read_upto(FILE *fp, unsigned char **buf, size_t *len, size_t *cap, size_t n)
{
    size_t want = *len + n < *len ? SIZE_MAX : *len + n, start = *len;
    while (*len < want) {
        if (*len == *cap) {
            *cap = *cap > want / 2 ? want : 2 * *cap;
            *buf = xrealloc(*buf, *cap);
        }
        size_t room = (*cap < want ? *cap : want) - *len;
        size_t got = fread(*buf + *len, 1, room, fp);
        if (got == 0)
            break;
        *len += got;
    }
    return *len - start;
}

/* The end of the data the header claims (the largest data_offsets end),
 * so that reading stops there; 0 when the header does not say. */
static size_t claimed_data(const unsigned char *json, size_t n)
{
    json_t *root = json_loadb((const char *)json, n, 0, NULL);
    size_t end = 0;
    const char *key;
    json_t *v;
    if (json_is_object(root))
        json_object_foreach(root, key, v) {
            json_t *last = json_array_get(json_object_get(v, "data_offsets"), 1);
            if (json_is_integer(last) && json_integer_value(last) > 0 &&
                (uint64_t)json_integer_value(last) > end)
                end = (size_t)json_integer_value(last);
        }
    json_decref(root);
    return end;
}

/* Reads the header length, the header, then only the data the header
 * claims (and one byte more, so that a longer file is still seen as one):
 * an endless input (/dev/urandom, a pipe) costs bounded memory and time. */
int mlr_st_read(mlr_st_file *f, const char *path, mlr_err *e)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = xmalloc(cap);
    if (read_upto(fp, &buf, &len, &cap, 8) == 8) {
        uint64_t hlen = mlr_le64_get(buf);
        if (hlen <= MLR_ST_MAX_HEADER && read_upto(fp, &buf, &len, &cap, (size_t)hlen) == hlen) {
            size_t data = claimed_data(buf + 8, (size_t)hlen);
            read_upto(fp, &buf, &len, &cap, data < SIZE_MAX ? data + 1 : data);
        }
    }
    int bad = ferror(fp);
    fclose(fp);
    int rc = bad ? mlr_fail(e, "%s: read error", path) : mlr_st_parse(f, buf, len, path, e);
    free(buf);
    return rc;
}

int mlr_st_check_finite(const mlr_st_tensor *t, size_t n, const char *name, mlr_err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].dtype != MLR_ST_F32)
            continue;
        const unsigned char *p = t[i].data;
        size_t count = t[i].nbytes / sizeof(float);
        for (size_t k = 0; k < count; k++) {
            float v;
            memcpy(&v, p + k * sizeof v, sizeof v);
            if (!isfinite(v))
                return mlr_fail(e, "%s: tensor '%s': %s at element %zu", name, t[i].name,
                                isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", k);
        }
    }
    return 0;
}

/* ---- writing ---- */

static json_t *entry_json(const mlr_st_tensor *t, size_t off)
{
    json_t *shape = json_array();
    for (int d = 0; d < t->ndim; d++)
        json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
    json_t *offs = json_array();
    json_array_append_new(offs, json_integer((json_int_t)off));
    json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes)));
    json_t *v = json_object();
    json_object_set_new(v, "dtype", json_string(mlr_st_dtype_name(t->dtype)));
    json_object_set_new(v, "shape", shape);
    json_object_set_new(v, "data_offsets", offs);
    return v;
}

/* The header JSON, or NULL with e filled (bad names or shapes). */
static char *header_json(const mlr_st_tensor *t, size_t n, const char *const *mk,
                         const char *const *mv, size_t nmeta, mlr_err *e)
{
    json_t *root = json_object();
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t want = mlr_st_dtype_size(t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++)
            want *= t[i].shape[d];
        if (!*t[i].name || strcmp(t[i].name, "__metadata__") == 0 ||
            json_object_get(root, t[i].name) || want != t[i].nbytes || t[i].ndim > MLR_ST_MAX_DIM) {
            json_decref(root);
            mlr_fail(e, "safetensors: cannot write tensor '%s' (bad or duplicate name, or shape)", t[i].name);
            return NULL;
        }
        json_object_set_new(root, t[i].name, entry_json(&t[i], off));
        off += t[i].nbytes;
    }
    if (nmeta) {
        json_t *meta = json_object();
        for (size_t i = 0; i < nmeta; i++)
            json_object_set_new(meta, mk[i], json_string(mv[i]));
        json_object_set_new(root, "__metadata__", meta);
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (!s)
        mlr_fail(e, "safetensors: cannot format the header (metadata not UTF-8?)");
    return s;
}

int mlr_st_write(const char *path, const mlr_st_tensor *t, size_t n,
                 const char *const *meta_key, const char *const *meta_val,
                 size_t nmeta, mlr_err *e)
{
    char *json = header_json(t, n, meta_key, meta_val, nmeta, e);
    if (!json)
        return -1;
    size_t jlen = strlen(json), pad = (8 - (8 + jlen) % 8) % 8;
    uint64_t hlen = jlen + pad;
    unsigned char le[8];
    mlr_le64_put(le, hlen);
    mlr_out o;
    if (mlr_out_open(&o, path, e) < 0) {
        free(json);
        return -1;
    }
    fwrite(le, 1, 8, o.fp);
    fwrite(json, 1, jlen, o.fp);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', o.fp);
    for (size_t i = 0; i < n; i++)
        fwrite(t[i].data, 1, t[i].nbytes, o.fp);
    free(json);
    return mlr_out_commit(&o, e);
}
