/* spec.c: see spec.h and docs/features.md. */
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "table.h"

static const mlr_feature_def DEFS[] = {
    {"user_id", "user_id", MLR_KIND_CAT, MLR_SIDE_QUERY, 0},
    {"item_id", "item_id", MLR_KIND_CAT, MLR_SIDE_ITEM, 0},
    {"user_occupation", "user_occupation", MLR_KIND_CAT, MLR_SIDE_QUERY, 0},
    {"user_gender", "user_gender", MLR_KIND_CAT, MLR_SIDE_QUERY, 0},
    {"user_zip", "user_zip", MLR_KIND_CAT, MLR_SIDE_QUERY, 3},
    {"item_genres", "item_genres", MLR_KIND_MULTI, MLR_SIDE_ITEM, 0},
    {"item_title", "item_title", MLR_KIND_WORDS, MLR_SIDE_ITEM, 0},
    {"user_occupation_text", "user_occupation", MLR_KIND_WORDS, MLR_SIDE_QUERY, 0},
    {"timestamp", "timestamp", MLR_KIND_NUM, MLR_SIDE_QUERY, 0},
    {"user_age", "user_age", MLR_KIND_NUM, MLR_SIDE_QUERY, 0},
    /* added by mlr-history: the user's training items, own item left out */
    {"user_history", "user_history", MLR_KIND_MULTI, MLR_SIDE_QUERY, 0},
    {"rating", "rating", MLR_KIND_LABEL, MLR_SIDE_LABEL, 0},
};
#define NDEFS (sizeof DEFS / sizeof DEFS[0])

static const char *const KIND_NAMES[] = {"cat", "multi", "words", "num", "label"};
static const char *const FEATURES_HEADER[] = {
    "feature", "kind", "column", "size", "mean", "std", "min", "max", "buckets"};
#define NFCOLS 9
static const char *const VOCAB_HEADER[] = {"id", "token", "count"};

/* ---- the known features ---- */

const char *mlr_kind_name(mlr_kind k)
{
    return (size_t)k < 5 ? KIND_NAMES[k] : "?";
}

const mlr_feature_def *mlr_feature_defs(size_t *n)
{
    *n = NDEFS;
    return DEFS;
}

const mlr_feature_def *mlr_feature_def_find(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(DEFS[i].name, name) == 0)
            return &DEFS[i];
    return NULL;
}

static int has_vocab(mlr_kind k)
{
    return k == MLR_KIND_CAT || k == MLR_KIND_MULTI || k == MLR_KIND_WORDS;
}

/* ---- the spec in memory ---- */

static void feature_clear_vocab(mlr_feature *f)
{
    mlr_strmap_free(f->vocab);
    free(f->counts);
    f->vocab = NULL;
    f->counts = NULL;
    f->size = 0;
}

/* A vocabulary of [UNK] alone, with count unk. */
static void feature_reset_vocab(mlr_feature *f, uint64_t unk)
{
    feature_clear_vocab(f);
    f->vocab = mlr_strmap_new(0);
    mlr_strmap_intern(f->vocab, MLR_UNK, strlen(MLR_UNK));
    f->counts = xmalloc(sizeof *f->counts);
    f->counts[0] = unk;
    f->size = 1;
}

mlr_feature *mlr_spec_add(mlr_spec *spec, const mlr_feature_def *def)
{
    if (mlr_spec_find(spec, def->name))
        return NULL;
    /* Room for every known feature at once, so pointers never move. */
    if (!spec->features)
        spec->features = xcalloc(NDEFS, sizeof *spec->features);
    if (spec->n >= NDEFS)
        return NULL;
    mlr_feature *f = &spec->features[spec->n++];
    memset(f, 0, sizeof *f);
    f->def = def;
    f->name = def->name;
    f->column = def->column;
    f->kind = def->kind;
    if (has_vocab(def->kind))
        feature_reset_vocab(f, 0);
    return f;
}

void mlr_spec_free(mlr_spec *spec)
{
    for (size_t i = 0; i < spec->n; i++)
        feature_clear_vocab(&spec->features[i]);
    free(spec->features);
    memset(spec, 0, sizeof *spec);
}

mlr_feature *mlr_spec_find(const mlr_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n; i++)
        if (strcmp(spec->features[i].name, name) == 0)
            return &spec->features[i];
    return NULL;
}

/* ---- strict numbers ---- */

/* Decimal digits only, no sign, no leading zero (but "0"), at most max. */
static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s || (s[0] == '0' && s[1]))
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* The suite's grammar (docs/numbers.md), finite. */
static int parse_number(const char *s, double *out)
{
    return mlr_parse_double(s, out);
}

/* ---- reading ---- */

static char *path_join(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s%s", dir, name, ext);
    return p;
}

static int check_header(mlr_reader *r, const char *const *want, size_t n, mlr_err *e)
{
    int ok = mlr_reader_ncols(r) == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(mlr_reader_colname(r, i), want[i]) == 0;
    if (ok)
        return 0;
    char buf[256] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(buf, want[i]);
        strcat(buf, i + 1 < n ? ", " : "");
    }
    return mlr_fail(e, "%s:1: bad header: expected the columns %s", mlr_reader_path(r), buf);
}

static int row_fail(mlr_reader *r, mlr_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int row_fail(mlr_reader *r, mlr_err *e, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mlr_fail(e, "%s:%ld: %s", mlr_reader_path(r), mlr_reader_line(r), what);
}

/* The numbers of one features.tsv row into f, checked against its kind. */
static int read_numbers(mlr_reader *r, mlr_feature *f, size_t *size, mlr_err *e)
{
    double *v[4] = {&f->mean, &f->std, &f->min, &f->max};
    uint64_t sz, nb;
    if (parse_count(mlr_reader_field(r, 3), INT32_MAX, &sz) < 0)
        return row_fail(r, e, "size '%s' is not a count", mlr_reader_field(r, 3));
    for (size_t i = 0; i < 4; i++)
        if (parse_number(mlr_reader_field(r, 4 + i), v[i]) < 0)
            return row_fail(r, e, "%s '%s' is not a number", FEATURES_HEADER[4 + i],
                           mlr_reader_field(r, 4 + i));
    if (parse_count(mlr_reader_field(r, 8), INT32_MAX, &nb) < 0)
        return row_fail(r, e, "buckets '%s' is not a count", mlr_reader_field(r, 8));
    *size = (size_t)sz;
    f->buckets = (size_t)nb;
    if (has_vocab(f->kind)) {
        if (sz < 1)
            return row_fail(r, e, "size 0: a vocabulary holds at least [UNK]");
        if (sz > MLR_VOCAB_MAX)
            return row_fail(r, e, "size %llu: a vocabulary holds at most %zu ids",
                            (unsigned long long)sz, MLR_VOCAB_MAX);
        if (f->mean != 0 || f->std != 0 || f->min != 0 || f->max != 0 || nb != 0)
            return row_fail(r, e, "%s feature '%s' must have mean, std, min, max and buckets 0",
                           mlr_kind_name(f->kind), f->name);
        return 0;
    }
    if (sz != 0)
        return row_fail(r, e, "%s feature '%s' must have size 0", mlr_kind_name(f->kind), f->name);
    if (f->kind == MLR_KIND_NUM && nb < 1)
        return row_fail(r, e, "num feature '%s' needs buckets >= 1", f->name);
    if (f->kind == MLR_KIND_LABEL && nb != 0)
        return row_fail(r, e, "label feature '%s' must have buckets 0", f->name);
    if (f->std < 0)
        return row_fail(r, e, "std %.17g is negative", f->std);
    if (f->min > f->max)
        return row_fail(r, e, "min %.17g is above max %.17g", f->min, f->max);
    return 0;
}

static int read_feature_row(mlr_reader *r, mlr_spec *spec, size_t *size, mlr_err *e)
{
    const char *name = mlr_reader_field(r, 0), *kind = mlr_reader_field(r, 1);
    const char *column = mlr_reader_field(r, 2);
    const mlr_feature_def *def = mlr_feature_def_find(name);
    if (!def)
        return row_fail(r, e, "unknown feature '%s'", name);
    if (strcmp(kind, mlr_kind_name(def->kind)) != 0)
        return row_fail(r, e, "feature '%s' has kind '%s', expected '%s'", name, kind,
                       mlr_kind_name(def->kind));
    if (strcmp(column, def->column) != 0)
        return row_fail(r, e, "feature '%s' has column '%s', expected '%s'", name, column,
                       def->column);
    mlr_feature *f = mlr_spec_add(spec, def);
    if (!f)
        return row_fail(r, e, "feature '%s' is listed twice", name);
    return read_numbers(r, f, size, e);
}

static int read_vocab_row(mlr_reader *r, mlr_feature *f, size_t want, uint64_t i, mlr_err *e)
{
    uint64_t id, count;
    const char *tok = mlr_reader_field(r, 1);
    size_t len = mlr_reader_field_len(r, 1);
    if (parse_count(mlr_reader_field(r, 0), INT32_MAX, &id) < 0)
        return row_fail(r, e, "id '%s' is not a count", mlr_reader_field(r, 0));
    if (id != i)
        return row_fail(r, e, "id %" PRIu64 " out of order, expected %" PRIu64, id, i);
    if (i >= want)
        return row_fail(r, e, "more rows than the size %zu in features.tsv", want);
    if (parse_count(mlr_reader_field(r, 2), UINT64_MAX, &count) < 0)
        return row_fail(r, e, "count '%s' is not a count", mlr_reader_field(r, 2));
    if (i == 0 && strcmp(tok, MLR_UNK) != 0)
        return row_fail(r, e, "id 0 must be %s, found '%s'", MLR_UNK, tok);
    if (i > 0 && len == 0)
        return row_fail(r, e, "empty token");
    if (i > 0) {
        int added;
        mlr_strmap_intern2(f->vocab, tok, len, &added);
        if (!added)
            return row_fail(r, e, "duplicate token '%s'", tok);
    }
    f->counts[i] = count;
    return 0;
}

static int read_vocab(const char *dir, mlr_feature *f, size_t want, long fline, mlr_err *e)
{
    char *path = path_join(dir, f->name, ".vocab");
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    int rc = r ? check_header(r, VOCAB_HEADER, 3, e) : -1;
    uint64_t i = 0;
    if (rc == 0) {
        feature_reset_vocab(f, 0);
        f->counts = xrealloc(f->counts, want * sizeof *f->counts);
        int got;
        while (rc == 0 && (got = mlr_reader_next(r, e)) > 0)
            rc = read_vocab_row(r, f, want, i++, e);
        if (rc == 0 && got < 0)
            rc = -1;
    }
    if (rc == 0 && i != want)
        rc = mlr_fail(e, "%s: %" PRIu64 " rows, but features.tsv:%ld says size %zu", path, i,
                      fline, want);
    f->size = mlr_strmap_count(f->vocab);
    mlr_reader_close(r);
    free(path);
    return rc;
}

/* features.tsv into spec; sizes[i] and lines[i] for each feature. */
static int read_features(const char *path, mlr_spec *spec, size_t *sizes, long *lines,
                         mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int rc = check_header(r, FEATURES_HEADER, NFCOLS, e), got = 0;
    while (rc == 0 && (got = mlr_reader_next(r, e)) > 0) {
        size_t i = spec->n;
        rc = read_feature_row(r, spec, &sizes[i], e);
        if (rc == 0)
            lines[i] = mlr_reader_line(r);
    }
    if (rc == 0 && got < 0)
        rc = -1;
    if (rc == 0 && spec->n == 0)
        rc = mlr_fail(e, "%s: no features", path);
    mlr_reader_close(r);
    return rc;
}

/* The specification's checksum: SHA-256 over features.tsv followed by
 * every vocabulary file in features.tsv order, so that a changed
 * vocabulary (two tokens swapped, a recount) changes it as well. */
static int hash_file_into(mlr_sha256_ctx *c, const char *path, mlr_err *e)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        mlr_sha256_update(c, buf, n);
    int bad = ferror(fp);
    fclose(fp);
    return bad ? mlr_fail(e, "%s: read error", path) : 0;
}

static int spec_checksum(const char *dir, mlr_spec *spec, mlr_err *e)
{
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    char *path = path_join(dir, "features", ".tsv");
    int rc = hash_file_into(&c, path, e);
    free(path);
    for (size_t i = 0; rc == 0 && i < spec->n; i++) {
        if (!has_vocab(spec->features[i].kind))
            continue;
        path = path_join(dir, spec->features[i].name, ".vocab");
        rc = hash_file_into(&c, path, e);
        free(path);
    }
    if (rc == 0)
        mlr_sha256_final(&c, spec->sha256);
    return rc;
}

int mlr_spec_read(const char *dir, mlr_spec *spec, mlr_err *e)
{
    memset(spec, 0, sizeof *spec);
    struct stat st;
    if (stat(dir, &st) < 0)
        return mlr_fail(e, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mlr_fail(e, "%s: not a directory (a SPECDIR from mlr-vocab --output)", dir);
    char *path = path_join(dir, "features", ".tsv");
    size_t sizes[NDEFS];
    long lines[NDEFS];
    int rc = read_features(path, spec, sizes, lines, e);
    for (size_t i = 0; rc == 0 && i < spec->n; i++)
        if (has_vocab(spec->features[i].kind))
            rc = read_vocab(dir, &spec->features[i], sizes[i], lines[i], e);
    if (rc == 0)
        rc = spec_checksum(dir, spec, e);
    free(path);
    return rc;
}

/* ---- writing ---- */

int mlr_spec_mkdir(const char *dir, int *created, mlr_err *e)
{
    if (created)
        *created = 0;
    if (!*dir)
        return mlr_fail(e, "empty directory name");
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        int made = mkdir(p, 0777) == 0;
        if (!made && errno != EEXIST)
            rc = mlr_fail(e, "%s: cannot create directory: %s", p, strerror(errno));
        if (made && created)
            *created = 1; /* the deepest one made; its parents stay */
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (rc == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
        rc = mlr_fail(e, "%s: not a directory", dir);
    free(p);
    return rc;
}

static int write_vocab(const char *dir, const mlr_feature *f, mlr_err *e)
{
    char *path = path_join(dir, f->name, ".vocab");
    mlr_out o;
    int rc = mlr_out_open(&o, path, e);
    free(path);
    if (rc < 0)
        return -1;
    fputs("id\ttoken\tcount\n", o.fp);
    for (size_t i = 0; i < f->size; i++)
        fprintf(o.fp, "%zu\t%s\t%" PRIu64 "\n", i, mlr_strmap_key(f->vocab, i), f->counts[i]);
    return mlr_out_commit(&o, e);
}

static int write_features(const char *path, const mlr_spec *spec, mlr_err *e)
{
    mlr_out o;
    if (mlr_out_open(&o, path, e) < 0)
        return -1;
    fputs("feature\tkind\tcolumn\tsize\tmean\tstd\tmin\tmax\tbuckets\n", o.fp);
    for (size_t i = 0; i < spec->n; i++) {
        const mlr_feature *f = &spec->features[i];
        fprintf(o.fp, "%s\t%s\t%s\t%zu\t%.17g\t%.17g\t%.17g\t%.17g\t%zu\n", f->name,
                mlr_kind_name(f->kind), f->column, f->size, f->mean, f->std, f->min,
                f->max, f->buckets);
    }
    return mlr_out_commit(&o, e);
}

int mlr_spec_write(const char *dir, mlr_spec *spec, mlr_err *e)
{
    if (mlr_spec_mkdir(dir, NULL, e) < 0)
        return -1;
    /* the vocabularies and features.tsv replace the earlier ones together:
     * a failure of one (a full disk) leaves the earlier spec whole */
    mlr_out_batch_begin();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < spec->n; i++)
        if (has_vocab(spec->features[i].kind))
            rc = write_vocab(dir, &spec->features[i], e);
    char *path = path_join(dir, "features", ".tsv");
    if (rc == 0)
        rc = write_features(path, spec, e);
    if (rc == 0)
        rc = mlr_out_batch_commit(e);
    else
        mlr_out_batch_abort();
    if (rc == 0) /* read back: the files in place now */
        rc = spec_checksum(dir, spec, e);
    free(path);
    return rc;
}

/* ---- encoding values ---- */

int32_t mlr_feature_id(const mlr_feature *f, const char *tok, size_t len)
{
    if (!f->vocab)
        return 0;
    long id = mlr_strmap_find(f->vocab, tok, len);
    return id < 0 ? 0 : (int32_t)id;
}

const char *mlr_feature_token(const mlr_feature *f, size_t id)
{
    return id < f->size && f->vocab ? mlr_strmap_key(f->vocab, id) : MLR_UNK;
}

/* Bytes of the first n UTF-8 characters of s (all of s if shorter). */
static size_t utf8_prefix(const char *s, size_t len, size_t n)
{
    size_t i = 0;
    for (size_t c = 0; c < n && i < len; c++) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

int32_t mlr_feature_cat(const mlr_feature *f, const char *field, size_t len)
{
    if (f->def->prefix)
        len = utf8_prefix(field, len, f->def->prefix);
    return len ? mlr_feature_id(f, field, len) : 0;
}

int32_t mlr_feature_bucket(const mlr_feature *f, double x)
{
    if (f->buckets == 0 || !(f->max > f->min))
        return 0;
    double b = floor((x - f->min) / (f->max - f->min) * (double)f->buckets);
    if (!(b > 0)) /* also NaN */
        return 0;
    if (b >= (double)f->buckets)
        return (int32_t)(f->buckets - 1);
    return (int32_t)b;
}

double mlr_feature_norm(const mlr_feature *f, double x)
{
    return f->std > 0 ? (x - f->mean) / f->std : 0;
}

double mlr_feature_clip(const mlr_feature *f, double x, int *clipped)
{
    int side = 0;
    if (f->kind == MLR_KIND_NUM && f->min <= f->max) {
        if (x < f->min) {
            x = f->min;
            side = -1;
        } else if (x > f->max) {
            x = f->max;
            side = 1;
        }
    }
    if (clipped)
        *clipped = side;
    return x;
}

/* ---- tokens ---- */

void mlr_words_normalize(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            s[i] = (char)(c - 'A' + 'a');
        else if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
                 (c >= '{' && c <= '~'))
            s[i] = ' ';
    }
}

void mlr_tokens_start(mlr_tokens *t, const mlr_feature_def *def, const char *field, size_t len)
{
    t->sep = 0;
    if (def->kind == MLR_KIND_MULTI) {
        t->sep = '|';
    } else if (def->kind == MLR_KIND_WORDS) {
        if (t->cap < len + 1) {
            t->cap = len + 64;
            t->buf = xrealloc(t->buf, t->cap);
        }
        memcpy(t->buf, field, len);
        mlr_words_normalize(t->buf, len);
        field = t->buf;
        t->sep = ' ';
    } else if (def->prefix) {
        len = utf8_prefix(field, len, def->prefix);
    }
    t->p = field;
    t->end = field + len;
}

int mlr_tokens_next(mlr_tokens *t, const char **tok, size_t *len)
{
    if (t->sep == 0) { /* a single token, unless empty */
        if (t->p == t->end)
            return 0;
        *tok = t->p;
        *len = (size_t)(t->end - t->p);
        t->p = t->end;
        return 1;
    }
    while (t->p < t->end && *t->p == t->sep)
        t->p++;
    if (t->p == t->end)
        return 0;
    const char *s = t->p;
    const char *q = memchr(s, t->sep, (size_t)(t->end - s));
    t->p = q ? q : t->end;
    *tok = s;
    *len = (size_t)(t->p - s);
    return 1;
}

void mlr_tokens_free(mlr_tokens *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

size_t mlr_feature_list(const mlr_feature *f, mlr_tokens *t, const char *field, size_t len,
                        int32_t *ids, size_t max)
{
    const char *tok;
    size_t n = 0, tlen;
    mlr_tokens_start(t, f->def, field, len);
    while (n < max && mlr_tokens_next(t, &tok, &tlen))
        ids[n++] = mlr_feature_id(f, tok, tlen);
    return n;
}

/* ---- building ---- */

size_t mlr_counter_add_id(mlr_counter *c, const char *tok, size_t len)
{
    if (len == 0 || (len == strlen(MLR_UNK) && memcmp(tok, MLR_UNK, len) == 0)) {
        c->unk++;
        return SIZE_MAX;
    }
    if (!c->seen)
        c->seen = mlr_strmap_new(0);
    size_t id = mlr_strmap_intern(c->seen, tok, len);
    if (id >= c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        c->counts = xrealloc(c->counts, cap * sizeof *c->counts);
        memset(c->counts + c->cap, 0, (cap - c->cap) * sizeof *c->counts);
        c->cap = cap;
    }
    c->counts[id]++;
    return id;
}

void mlr_counter_add(mlr_counter *c, const char *tok, size_t len)
{
    mlr_counter_add_id(c, tok, len);
}

void mlr_counter_bump(mlr_counter *c, size_t id)
{
    if (id == SIZE_MAX)
        c->unk++;
    else
        c->counts[id]++;
}

void mlr_counter_free(mlr_counter *c)
{
    mlr_strmap_free(c->seen);
    free(c->counts);
    memset(c, 0, sizeof *c);
}

typedef struct {
    uint64_t count;
    const char *tok;
    size_t len;
} vocab_entry;

/* Count descending, then bytewise ascending: the same ids on every machine. */
static int cmp_entry(const void *pa, const void *pb)
{
    const vocab_entry *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    int c = memcmp(a->tok, b->tok, a->len < b->len ? a->len : b->len);
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

void mlr_feature_set_vocab(mlr_feature *f, const mlr_counter *c, uint64_t min_count,
                           size_t max_size)
{
    size_t n = c->seen ? mlr_strmap_count(c->seen) : 0, kept = 0;
    uint64_t unk = c->unk;
    vocab_entry *v = xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].count = c->counts[i];
        v[i].tok = mlr_strmap_key(c->seen, i);
        v[i].len = mlr_strmap_key_len(c->seen, i);
    }
    qsort(v, n, sizeof *v, cmp_entry);
    if (min_count < 1)
        min_count = 1;
    while (kept < n && v[kept].count >= min_count && (max_size == 0 || kept + 1 < max_size))
        kept++;
    for (size_t i = kept; i < n; i++)
        unk += v[i].count;
    feature_reset_vocab(f, unk);
    f->counts = xrealloc(f->counts, (kept + 1) * sizeof *f->counts);
    for (size_t i = 0; i < kept; i++) {
        mlr_strmap_intern(f->vocab, v[i].tok, v[i].len);
        f->counts[i + 1] = v[i].count;
    }
    f->size = kept + 1;
    free(v);
}

void mlr_moments_add(mlr_moments *m, double x)
{
    m->n++;
    if (m->n == 1) {
        m->min = m->max = x;
    } else {
        if (x < m->min)
            m->min = x;
        if (x > m->max)
            m->max = x;
    }
    double t = m->sum + x;
    m->comp += fabs(m->sum) >= fabs(x) ? (m->sum - t) + x : (x - t) + m->sum;
    m->sum = t;
    double d = x - m->mean;
    m->mean += d / (double)m->n;
    m->m2 += d * (x - m->mean);
}

void mlr_feature_set_stats(mlr_feature *f, const mlr_moments *m, size_t buckets)
{
    f->mean = f->std = f->min = f->max = 0;
    if (m->n > 0) {
        f->mean = (m->sum + m->comp) / (double)m->n;
        f->std = m->m2 > 0 ? sqrt(m->m2 / (double)m->n) : 0;
        f->min = m->min;
        f->max = m->max;
    }
    f->buckets = f->kind == MLR_KIND_NUM ? buckets : 0;
}
