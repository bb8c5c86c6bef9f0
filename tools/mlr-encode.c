/* mlr-encode: a table + a feature specification -> one .npy per feature
 * (docs/features.md), rows.tsv and spec.sha256; with --items, the
 * catalogue: one row per distinct item_id, sorted bytewise, + items.ids.
 * Encoded columns are held in memory and written when the input ends, into
 * a directory built beside ENCDIR and swapped in whole (lib/encdir.h), so
 * a failure anywhere leaves ENCDIR as it was. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "encdir.h"
#include "mlr.h"
#include "npy.h"
#include "spec.h"
#include "memo.h"
#include "strmap.h"
#include "table.h"
#include "vec.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mlr-encode writes <i4/<f4 data straight from memory: little-endian hosts only"
#endif

typedef struct {
    const char *spec_dir, *output;
    int items;
    size_t max_tokens;
    char **inputs; /* NULL-terminated */
} options;

/* One feature being encoded. Rows are appended in input order (in --items
 * mode, one per new item). */
typedef struct {
    mlr_feature *f;
    size_t col;
    mlr_vec ids;    /* int32: cat ids, multi/words ids of all rows back to back, num buckets */
    mlr_vec vals;   /* float: num normalised values, label raw values */
    mlr_vec lens;   /* uint16: multi/words ids per row */
    size_t width; /* multi/words: the longest row, capped by --max-tokens */
    size_t below, above; /* num: values clipped to the spec's min / max */
    /* Speed: the previous row's value and its encoding (cat), and a memo
     * of raw text -> ids (multi/words, lib/memo.h): most rows repeat a
     * user or item. */
    char *last;
    size_t last_len, last_cap;
    int32_t last_id;
    int has_last;
    mlr_memo memo; /* text -> int32 ids; zeroed unless multi/words */
} column;

typedef struct {
    const options *opt;
    mlr_spec spec;
    column cols[16];
    size_t ncols;
    size_t nrows;
    mlr_tokens tokens;
    int32_t *scratch;    /* (max_tokens) */
    int user_col, item_col; /* in the current input; -1 when absent */
    column *item_feature; /* the item_id feature's column, or NULL */
    int32_t row_item;     /* its id on the current row (0: unknown or none) */
    char *line;           /* rows.tsv lines waiting to be written */
    size_t line_len, line_cap;
    int started;         /* the first input's header has been seen */
    int first_has_item;  /* rows.tsv has item_id */
    mlr_strmap *items;   /* --items: the item ids seen, in first-seen order */
    mlr_encdir_writer out; /* ENCDIR, built beside it */
    FILE *rows;          /* its rows.tsv, streamed */
} state;

static const char USAGE[] =
    "usage: mlr-encode --spec SPECDIR --output ENCDIR [options] [FILE...]\n"
    "Encodes a table (FILEs or stdin, held in memory) with the feature specification\n"
    "of mlr-vocab: ENCDIR/<feature>.npy per feature whose column is present, rows.tsv\n"
    "(user_id, item_id of each row) and spec.sha256. Unknown values encode as id 0,\n"
    "list padding as -1. --as-catalogue writes the item catalogue instead (+ items.ids).\n"
    "\n"
    "  -s, --spec DIR          the feature specification (required)\n"
    "  -o, --output DIR        where to write, created if missing (required)\n"
    "      --as-catalogue      one row per distinct item_id, sorted bytewise; item features only\n"
    "      --max-tokens N      at most N ids per multi/words row (default 16)\n"
    "  -h, --help              this help\n"
    "      --version           the version\n"
    "  deprecated: --items (= --as-catalogue)\n"
    "\n"
    "example: mlr-vocab --output spec train.tsv && mlr-encode --spec spec --output enc/train train.tsv\n"
    "         && mlr-encode --as-catalogue --spec spec --output enc/items train.tsv test.tsv\n";

static void usage(FILE *fp)
{
    fputs(USAGE, fp);
}

static void parse_args(int argc, char **argv, options *o)
{
    /* -i and -t were --items and --max-tokens: retired (docs/options.md). */
    enum { OPT_AS_CATALOGUE = 256, OPT_MAX_TOKENS, OPT_OLD_ITEMS };
    static const struct option longs[] = {
        {"spec", required_argument, NULL, 's'},
        {"output", required_argument, NULL, 'o'},
        {"as-catalogue", no_argument, NULL, OPT_AS_CATALOGUE},
        {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"items", no_argument, NULL, OPT_OLD_ITEMS},
        {NULL, 0, NULL, 0}};
    static char *stdin_only[] = {"-", NULL};
    *o = (options){.max_tokens = 16, .inputs = stdin_only};
    int c;
    opterr = 0; /* one message of our own, not getopt's two */
    while ((c = getopt_long(argc, argv, ":s:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 's': o->spec_dir = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_OLD_ITEMS: mlr_opt_deprecated("--items", "--as-catalogue"); /* fall through */
        case OPT_AS_CATALOGUE: o->items = 1; break;
        case OPT_MAX_TOKENS: o->max_tokens = (size_t)mlr_opt_long("--max-tokens", optarg, 1, 4096); break;
        default: mlr_opt_rest(c, "mlr-encode", usage, argv);
        }
    }
    if (!o->spec_dir)
        mlr_usage_die("--spec SPECDIR is required");
    if (!o->output)
        mlr_usage_die("--output ENCDIR is required");
    if (optind < argc)
        o->inputs = argv + optind;
}

/* ---- reading ---- */

/* The first input decides the features: those whose column it has (in
 * --items mode the item side only). */
static void add_columns(state *s, mlr_reader *r)
{
    for (size_t i = 0; i < s->spec.n; i++) {
        mlr_feature *f = &s->spec.features[i];
        if (mlr_reader_col(r, f->column) < 0)
            continue;
        if (s->opt->items && f->def->side != MLR_SIDE_ITEM)
            continue;
        column *c = &s->cols[s->ncols++];
        memset(c, 0, sizeof *c);
        c->f = f;
        c->ids.elem = sizeof(int32_t);
        c->vals.elem = sizeof(float);
        c->lens.elem = sizeof(uint16_t);
        if (f->kind == MLR_KIND_MULTI || f->kind == MLR_KIND_WORDS)
            mlr_memo_init(&c->memo, sizeof(int32_t));
        if (f->kind == MLR_KIND_CAT && strcmp(f->name, "item_id") == 0)
            s->item_feature = c;
    }
}

static int open_rows_tsv(state *s, mlr_err *e)
{
    if (!(s->rows = mlr_encdir_rows(&s->out, e)))
        return -1;
    fputs(s->first_has_item ? "user_id\titem_id\n" : "user_id\n", s->rows);
    return 0;
}

static int locate_columns(state *s, mlr_reader *r, mlr_err *e)
{
    s->user_col = s->opt->items ? mlr_reader_col(r, "user_id")
                                : mlr_reader_require(r, "user_id", e);
    if (!s->opt->items && s->user_col < 0)
        return -1;
    s->item_col = mlr_reader_col(r, "item_id");
    if (s->opt->items && mlr_reader_require(r, "item_id", e) < 0)
        return -1;
    if (!s->started) {
        s->started = 1;
        add_columns(s, r);
        s->first_has_item = s->item_col >= 0;
        if (s->opt->items)
            s->items = mlr_strmap_new(0);
        else if (open_rows_tsv(s, e) < 0)
            return -1;
    }
    if (s->first_has_item && !s->opt->items && mlr_reader_require(r, "item_id", e) < 0)
        return -1;
    for (size_t i = 0; i < s->ncols; i++) {
        int col = mlr_reader_require(r, s->cols[i].f->column, e);
        if (col < 0)
            return -1;
        s->cols[i].col = (size_t)col;
    }
    return 0;
}

static int32_t encode_cat(column *c, const char *field, size_t len)
{
    if (c->has_last && len == c->last_len && mlr_same_bytes(field, c->last, len))
        return c->last_id;
    if (len + 1 > c->last_cap) {
        c->last_cap = len + 64;
        c->last = xrealloc(c->last, c->last_cap);
    }
    memcpy(c->last, field, len);
    c->last_len = len;
    c->has_last = 1;
    return c->last_id = mlr_feature_cat(c->f, field, len);
}

/* The ids of a multi/words field into s->scratch (at most max_tokens),
 * through the column's memo (items key it by their id); returns how many. */
static size_t encode_list(state *s, column *c, const char *field, size_t len)
{
    size_t item = c->f->def->side == MLR_SIDE_ITEM && s->item_feature && s->row_item > 0
                      ? (size_t)s->row_item : SIZE_MAX, n;
    long m = mlr_memo_find(&c->memo, field, len, item);
    if (m >= 0) {
        const int32_t *ids = mlr_memo_ids(&c->memo, (size_t)m, &n);
        if (n)
            memcpy(s->scratch, ids, n * sizeof(int32_t));
        return n;
    }
    n = mlr_feature_list(c->f, &s->tokens, field, len, s->scratch, s->opt->max_tokens);
    mlr_memo_add(&c->memo, field, len, s->scratch, n, item);
    return n;
}

/* Plain integers (most timestamps, ages, ratings) without strtod; the
 * same value strtod gives, as at most 15 digits are exact in a double.
 * Anything else goes by the suite's grammar: a whole-number column
 * (timestamp, user_age) as an integer. */
static int field_double(mlr_reader *r, const column *c, double *x, mlr_err *e)
{
    size_t col = c->col;
    const char *p = mlr_reader_field(r, col);
    size_t len = mlr_reader_field_len(r, col), i = p[0] == '-';
    if (len > i && len - i <= 15) {
        int64_t v = 0;
        for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
            v = v * 10 + (p[i] - '0');
        if (i == len) {
            *x = p[0] == '-' ? -(double)v : (double)v;
            return 0;
        }
    }
    return mlr_reader_number(r, col, mlr_column_is_integer(c->f->column), x, e);
}

static int encode_value(state *s, column *c, mlr_reader *r, mlr_err *e)
{
    const char *field = mlr_reader_field(r, c->col);
    size_t len = mlr_reader_field_len(r, c->col);
    double x;
    switch (c->f->kind) {
    case MLR_KIND_CAT:
        *(int32_t *)mlr_vec_push(&c->ids, 1) = encode_cat(c, field, len);
        return 0;
    case MLR_KIND_MULTI:
    case MLR_KIND_WORDS: {
        size_t n = encode_list(s, c, field, len);
        if (n)
            memcpy(mlr_vec_push(&c->ids, n), s->scratch, n * sizeof(int32_t));
        *(uint16_t *)mlr_vec_push(&c->lens, 1) = (uint16_t)n;
        if (n > c->width)
            c->width = n;
        return 0;
    }
    case MLR_KIND_NUM: {
        if (field_double(r, c, &x, e) < 0)
            return -1;
        int side;
        x = mlr_feature_clip(c->f, x, &side);
        c->below += side < 0;
        c->above += side > 0;
        *(float *)mlr_vec_push(&c->vals, 1) = (float)mlr_feature_norm(c->f, x);
        *(int32_t *)mlr_vec_push(&c->ids, 1) = mlr_feature_bucket(c->f, x);
        return 0;
    }
    case MLR_KIND_LABEL:
        if (field_double(r, c, &x, e) < 0)
            return -1;
        *(float *)mlr_vec_push(&c->vals, 1) = (float)x;
        return 0;
    }
    return 0;
}

/* Appends n bytes to the pending rows.tsv lines. */
static void line_add(state *s, const char *p, size_t n)
{
    if (s->line_len + n > s->line_cap) {
        while (s->line_len + n > s->line_cap)
            s->line_cap = s->line_cap ? 2 * s->line_cap : 1 << 16;
        s->line = xrealloc(s->line, s->line_cap);
    }
    memcpy(s->line + s->line_len, p, n);
    s->line_len += n;
}

static void flush_lines(state *s)
{
    if (s->line_len)
        fwrite(s->line, 1, s->line_len, s->rows);
    s->line_len = 0;
}

/* The row's ids for rows.tsv, written a buffer at a time. */
static void write_ids_row(state *s, mlr_reader *r)
{
    line_add(s, mlr_reader_field(r, (size_t)s->user_col), mlr_reader_field_len(r, (size_t)s->user_col));
    if (s->first_has_item) {
        line_add(s, "\t", 1);
        line_add(s, mlr_reader_field(r, (size_t)s->item_col), mlr_reader_field_len(r, (size_t)s->item_col));
    }
    line_add(s, "\n", 1);
    if (s->line_len >= 1 << 16)
        flush_lines(s);
}

static int encode_row(state *s, mlr_reader *r, mlr_err *e)
{
    if (s->opt->items) {
        int added;
        size_t ic = (size_t)s->item_col;
        mlr_strmap_intern2(s->items, mlr_reader_field(r, ic), mlr_reader_field_len(r, ic), &added);
        if (!added)
            return 0; /* the first row of an item gives its features */
    } else {
        write_ids_row(s, r);
    }
    column *ic = s->item_feature;
    s->row_item = ic ? encode_cat(ic, mlr_reader_field(r, ic->col), mlr_reader_field_len(r, ic->col)) : 0;
    for (size_t i = 0; i < s->ncols; i++)
        if (encode_value(s, &s->cols[i], r, e) < 0)
            return -1;
    s->nrows++;
    return 0;
}

static int encode_input(state *s, const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int rc = locate_columns(s, r, e), got = 0;
    while (rc == 0 && (got = mlr_reader_next(r, e)) > 0)
        rc = encode_row(s, r, e);
    if (rc == 0 && got < 0)
        rc = -1;
    mlr_reader_close(r);
    return rc;
}

/* ---- writing ---- */

/* Element order[i] (or i when order is NULL) of data, for i < n. */
static void write_elems(FILE *fp, const void *data, size_t elem, const size_t *order, size_t n)
{
    if (n == 0)
        return;
    if (!order) {
        fwrite(data, elem, n, fp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fwrite((const char *)data + order[i] * elem, elem, 1, fp);
}

/* (N, L) ids padded with -1; L = the longest row, at least 1. Rows are
 * padded into a chunk of a few thousand and written a chunk at a time. */
static void write_list(FILE *fp, const column *c, const size_t *order, size_t n)
{
    const uint16_t *lens = (const uint16_t *)c->lens.p;
    const int32_t *ids = (const int32_t *)c->ids.p;
    size_t width = c->width ? c->width : 1, chunk = 4096;
    size_t *start = xmalloc((n + 1) * sizeof *start);
    int32_t *rows = xmalloc(chunk * width * sizeof *rows); /* (chunk, L) */
    start[0] = 0;
    for (size_t i = 0; i < n; i++)
        start[i + 1] = start[i] + lens[i];
    mlr_npy_write_header(fp, MLR_I4, 2, n, width);
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t b = n - i0 < chunk ? n - i0 : chunk;
        for (size_t i = 0; i < b; i++) {
            size_t k = order ? order[i0 + i] : i0 + i, j = 0;
            int32_t *row = rows + i * width;
            for (; j < lens[k]; j++)
                row[j] = ids[start[k] + j];
            for (; j < width; j++)
                row[j] = -1;
        }
        fwrite(rows, sizeof *rows, b * width, fp);
    }
    free(rows);
    free(start);
}

static int write_column(state *s, const column *c, const size_t *order, mlr_err *e)
{
    const char *name = c->f->name;
    size_t n = s->nrows;
    FILE *fp = mlr_encdir_feature(&s->out, name, 0, e);
    if (!fp)
        return -1;
    switch (c->f->kind) {
    case MLR_KIND_CAT:
        mlr_npy_write_header(fp, MLR_I4, 1, n, 1);
        write_elems(fp, c->ids.p, sizeof(int32_t), order, n);
        break;
    case MLR_KIND_MULTI:
    case MLR_KIND_WORDS:
        write_list(fp, c, order, n);
        break;
    case MLR_KIND_NUM:
    case MLR_KIND_LABEL:
        mlr_npy_write_header(fp, MLR_F4, 1, n, 1);
        write_elems(fp, c->vals.p, sizeof(float), order, n);
        if (c->f->kind == MLR_KIND_LABEL)
            break;
        if (!(fp = mlr_encdir_feature(&s->out, name, 1, e)))
            return -1;
        mlr_npy_write_header(fp, MLR_I4, 1, n, 1);
        write_elems(fp, c->ids.p, sizeof(int32_t), order, n);
        break;
    }
    return 0;
}

typedef struct {
    const char *key;
    size_t len, index;
} item_key;

static int cmp_item(const void *pa, const void *pb)
{
    const item_key *a = pa, *b = pb;
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* The catalogue's order: item indices sorted bytewise by id. */
static size_t *item_order(const state *s)
{
    size_t n = s->nrows, *order = xmalloc((n ? n : 1) * sizeof *order);
    item_key *k = xmalloc((n ? n : 1) * sizeof *k);
    for (size_t i = 0; i < n; i++)
        k[i] = (item_key){mlr_strmap_key(s->items, i), mlr_strmap_key_len(s->items, i), i};
    qsort(k, n, sizeof *k, cmp_item);
    for (size_t i = 0; i < n; i++)
        order[i] = k[i].index;
    free(k);
    return order;
}

static int write_items_ids(state *s, const size_t *order, mlr_err *e)
{
    FILE *fp = mlr_encdir_items(&s->out, e);
    if (!fp)
        return -1;
    fputs("id\n", fp);
    for (size_t i = 0; i < s->nrows; i++) {
        fwrite(mlr_strmap_key(s->items, order[i]), 1, mlr_strmap_key_len(s->items, order[i]), fp);
        putc('\n', fp);
    }
    return 0;
}

/* Every file into the new directory, then the directory in ENCDIR's place
 * (only this run's files: no feature of an earlier encoding stays). */
static int write_all(state *s, mlr_err *e)
{
    size_t *order = s->opt->items ? item_order(s) : NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->ncols; i++)
        rc = write_column(s, &s->cols[i], order, e);
    if (rc == 0 && s->opt->items)
        rc = write_items_ids(s, order, e);
    if (rc == 0)
        rc = mlr_encdir_spec(&s->out, s->spec.sha256, e);
    if (rc == 0 && s->rows) /* rows.tsv, streamed while reading */
        flush_lines(s);
    free(order);
    s->rows = NULL;
    return rc == 0 ? mlr_encdir_commit(&s->out, e) : -1;
}

/* One line for the whole run, naming each feature that clipped: values
 * outside the training range are encoded as its nearest end. */
static void warn_clipped(const state *s)
{
    char msg[1024];
    size_t len = 0;
    for (size_t i = 0; i < s->ncols; i++) {
        const column *c = &s->cols[i];
        if ((c->below || c->above) && len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len,
                                    "%s%s: %zu below %.17g, %zu above %.17g", len ? "; " : "",
                                    c->f->name, c->below, c->f->min, c->above, c->f->max);
    }
    if (len)
        mlr_warn("values outside the specification's training range clipped to it: %s", msg);
}

static void free_state(state *s)
{
    for (size_t i = 0; i < s->ncols; i++) {
        free(s->cols[i].ids.p);
        free(s->cols[i].vals.p);
        free(s->cols[i].lens.p);
        free(s->cols[i].last);
        mlr_memo_free(&s->cols[i].memo);
    }
    free(s->line);
    mlr_encdir_abort(&s->out); /* a no-op once committed */
    mlr_strmap_free(s->items);
    mlr_tokens_free(&s->tokens);
    free(s->scratch);
    mlr_spec_free(&s->spec);
}

static int run(const options *o, mlr_err *e)
{
    state s;
    memset(&s, 0, sizeof s);
    s.opt = o;
    int rc = mlr_spec_read(o->spec_dir, &s.spec, e);
    if (rc == 0)
        rc = mlr_encdir_begin(&s.out, o->output, e);
    s.scratch = xmalloc(o->max_tokens * sizeof *s.scratch);
    for (char **in = o->inputs; rc == 0 && *in; in++)
        rc = encode_input(&s, *in, e);
    if (rc == 0)
        rc = write_all(&s, e);
    if (rc == 0)
        warn_clipped(&s);
    free_state(&s);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    mlr_err e;
    mlr_init_tool();
    parse_args(argc, argv, &o);
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
