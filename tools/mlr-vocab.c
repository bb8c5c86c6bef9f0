/* mlr-vocab: an interaction table -> a feature specification (SPECDIR:
 * features.tsv and one .vocab per categorical feature, docs/features.md).
 * One pass; the token counts are held in memory. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "mlr.h"
#include "spec.h"
#include "memo.h"
#include "strmap.h"
#include "table.h"
#include "vec.h"

typedef struct {
    const char *output;
    uint64_t min_count;
    size_t max_size;
    size_t timestamp_buckets, age_buckets;
    char **inputs; /* NULL-terminated; {"-"} when none given */
} options;

/* One feature being counted: where its column is in the current input.
 * multi/words also keep a memo of raw text -> the counter ids of its
 * tokens (lib/memo.h): a hit counts the ids again without tokenising. */
typedef struct {
    mlr_feature *f;
    size_t col;
    mlr_counter counter;
    mlr_moments moments;
    int has_memo;       /* multi/words */
    mlr_memo memo;      /* text -> size_t counter ids */
    int is_item_id;     /* the item_id feature: its id keys by_item */
} slot;

typedef struct {
    mlr_spec spec;
    slot slots[16];
    size_t nslots;
    mlr_tokens tokens;
    mlr_vec list;    /* size_t: the counter ids of one field being memoised */
    uint64_t rows;
    size_t row_item; /* the item_id counter id of the current row; SIZE_MAX none */
} state;

static const char USAGE[] =
    "usage: mlr-vocab --output SPECDIR [options] [FILE...]\n"
    "Reads an interaction table (FILEs or stdin; one pass, counts held in memory)\n"
    "and writes its feature specification: SPECDIR/features.tsv and a .vocab per\n"
    "categorical feature (id 0 [UNK], then by count, ties bytewise), for every\n"
    "feature of docs/features.md whose column is in the table.\n"
    "\n"
    "  -o, --output DIR            the SPECDIR to write, created if missing (required)\n"
    "      --min-count N           keep tokens seen at least N times (default 1)\n"
    "      --max-size N            at most N ids per vocabulary, [UNK] included (default 0: no limit)\n"
    "      --timestamp-buckets N   equal-width buckets of timestamp (default 1000)\n"
    "      --age-buckets N         equal-width buckets of user_age (default 10)\n"
    "  -h, --help                  this help\n"
    "      --version               the version\n"
    "\n"
    "example: mlr-ingest --format ml-100k data/ml-100k | mlr-split --test-output test.tsv --seed 42 \\\n"
    "           > train.tsv && mlr-vocab --output spec train.tsv\n";

static void usage(FILE *fp)
{
    fputs(USAGE, fp);
}

static void parse_args(int argc, char **argv, options *o)
{
    /* -m and -s were --min-count and --max-size: retired, as -m is --model
     * and -s --spec in the other tools (docs/options.md). */
    enum { OPT_TS = 256, OPT_AGE, OPT_MIN_COUNT, OPT_MAX_SIZE };
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'},
        {"min-count", required_argument, NULL, OPT_MIN_COUNT},
        {"max-size", required_argument, NULL, OPT_MAX_SIZE},
        {"timestamp-buckets", required_argument, NULL, OPT_TS},
        {"age-buckets", required_argument, NULL, OPT_AGE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    static char *stdin_only[] = {"-", NULL};
    *o = (options){.min_count = 1, .max_size = 0, .timestamp_buckets = 1000, .age_buckets = 10,
                   .inputs = stdin_only};
    int c;
    opterr = 0; /* one message of our own, not getopt's two */
    while ((c = getopt_long(argc, argv, ":o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case OPT_MIN_COUNT: o->min_count = (uint64_t)mlr_opt_long("--min-count", optarg, 1, LONG_MAX); break;
        case OPT_MAX_SIZE: o->max_size = (size_t)mlr_opt_long("--max-size", optarg, 0, INT32_MAX); break;
        case OPT_TS:
            o->timestamp_buckets = (size_t)mlr_opt_long("--timestamp-buckets", optarg, 1, INT32_MAX);
            break;
        case OPT_AGE:
            o->age_buckets = (size_t)mlr_opt_long("--age-buckets", optarg, 1, INT32_MAX);
            break;
        default: mlr_opt_rest(c, "mlr-vocab", usage, argv);
        }
    }
    if (!o->output)
        mlr_usage_die("--output SPECDIR is required");
    if (optind < argc)
        o->inputs = argv + optind;
}

/* The first input decides the features: those whose column it has. */
static void add_features(state *s, mlr_reader *r)
{
    size_t n;
    const mlr_feature_def *defs = mlr_feature_defs(&n);
    for (size_t i = 0; i < n; i++) {
        if (mlr_reader_col(r, defs[i].column) < 0)
            continue;
        slot *sl = &s->slots[s->nslots++];
        memset(sl, 0, sizeof *sl);
        sl->f = mlr_spec_add(&s->spec, &defs[i]);
        sl->is_item_id = strcmp(defs[i].name, "item_id") == 0;
        if (sl->f->kind == MLR_KIND_MULTI || sl->f->kind == MLR_KIND_WORDS) {
            sl->has_memo = 1;
            mlr_memo_init(&sl->memo, sizeof(size_t));
        }
    }
}

/* Finds each feature's column in r (every input must have them all). */
static int locate_columns(state *s, mlr_reader *r, mlr_err *e)
{
    if (mlr_reader_require(r, "user_id", e) < 0 || mlr_reader_require(r, "item_id", e) < 0)
        return -1;
    if (s->spec.n == 0)
        add_features(s, r);
    for (size_t i = 0; i < s->nslots; i++) {
        int col = mlr_reader_require(r, s->slots[i].f->column, e);
        if (col < 0)
            return -1;
        s->slots[i].col = (size_t)col;
    }
    return 0;
}

/* The tokens of one multi/words field, through the slot's memo; items
 * key it by their counter id. */
static void count_list(state *s, slot *sl, const char *field, size_t len)
{
    size_t item = sl->f->def->side == MLR_SIDE_ITEM ? s->row_item : SIZE_MAX, n, tlen;
    long m = mlr_memo_find(&sl->memo, field, len, item);
    if (m >= 0) {
        const size_t *ids = mlr_memo_ids(&sl->memo, (size_t)m, &n);
        for (size_t k = 0; k < n; k++)
            mlr_counter_bump(&sl->counter, ids[k]);
        return;
    }
    const char *tok;
    s->list.n = 0;
    mlr_tokens_start(&s->tokens, sl->f->def, field, len);
    while (mlr_tokens_next(&s->tokens, &tok, &tlen))
        *(size_t *)mlr_vec_push(&s->list, 1) = mlr_counter_add_id(&sl->counter, tok, tlen);
    mlr_memo_add(&sl->memo, field, len, s->list.p, s->list.n, item);
}

/* A vocabulary past MLR_VOCAB_MAX ids ([UNK] + distinct tokens) is
 * refused as soon as the row that makes it is read: the counts of 10^7
 * distinct ids would take 1.4 GB. */
static int check_sizes(const state *s, mlr_reader *r, mlr_err *e)
{
    for (size_t i = 0; i < s->nslots; i++) {
        const slot *sl = &s->slots[i];
        if (sl->counter.seen && mlr_strmap_count(sl->counter.seen) >= MLR_VOCAB_MAX)
            return mlr_fail(e, "%s:%ld: column '%s': more than %zu distinct tokens "
                            "(a vocabulary holds at most %zu ids, [UNK] included)",
                            mlr_reader_path(r), mlr_reader_line(r), sl->f->column,
                            MLR_VOCAB_MAX - 1, MLR_VOCAB_MAX);
    }
    return 0;
}

static int count_row(state *s, mlr_reader *r, mlr_err *e)
{
    s->row_item = SIZE_MAX; /* item_id comes before the item's lists (mlr_feature_defs) */
    for (size_t i = 0; i < s->nslots; i++) {
        slot *sl = &s->slots[i];
        const char *field = mlr_reader_field(r, sl->col), *tok;
        size_t len = mlr_reader_field_len(r, sl->col), tlen;
        if (sl->f->kind == MLR_KIND_NUM || sl->f->kind == MLR_KIND_LABEL) {
            double x;
            if (mlr_reader_number(r, sl->col, mlr_column_is_integer(sl->f->column), &x, e) < 0)
                return -1;
            mlr_moments_add(&sl->moments, x);
            continue;
        }
        if (sl->has_memo) {
            count_list(s, sl, field, len);
            continue;
        }
        mlr_tokens_start(&s->tokens, sl->f->def, field, len);
        size_t id = SIZE_MAX;
        if (mlr_tokens_next(&s->tokens, &tok, &tlen)) /* cat: one token at most */
            id = mlr_counter_add_id(&sl->counter, tok, tlen);
        else
            mlr_counter_add(&sl->counter, "", 0); /* an empty cat value is [UNK] */
        if (sl->is_item_id)
            s->row_item = id;
    }
    s->rows++;
    return check_sizes(s, r, e);
}

static int count_input(state *s, const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int rc = locate_columns(s, r, e), got = 0;
    while (rc == 0 && (got = mlr_reader_next(r, e)) > 0)
        rc = count_row(s, r, e);
    if (rc == 0 && got < 0)
        rc = -1;
    mlr_reader_close(r);
    return rc;
}

static void finish(state *s, const options *o)
{
    for (size_t i = 0; i < s->nslots; i++) {
        slot *sl = &s->slots[i];
        if (sl->f->kind == MLR_KIND_NUM || sl->f->kind == MLR_KIND_LABEL) {
            size_t b = strcmp(sl->f->name, "timestamp") == 0 ? o->timestamp_buckets
                                                             : o->age_buckets;
            mlr_feature_set_stats(sl->f, &sl->moments, b);
        } else {
            mlr_feature_set_vocab(sl->f, &sl->counter, o->min_count, o->max_size);
        }
    }
}

static void free_state(state *s)
{
    for (size_t i = 0; i < s->nslots; i++) {
        mlr_counter_free(&s->slots[i].counter);
        mlr_memo_free(&s->slots[i].memo);
    }
    mlr_vec_free(&s->list);
    mlr_tokens_free(&s->tokens);
    mlr_spec_free(&s->spec);
}

static int run(const options *o, mlr_err *e)
{
    state s;
    memset(&s, 0, sizeof s);
    s.list.elem = sizeof(size_t);
    int rc = 0;
    for (char **in = o->inputs; rc == 0 && *in; in++)
        rc = count_input(&s, *in, e);
    if (rc == 0 && s.rows == 0)
        rc = mlr_fail(e, "%s: no rows: a header alone has no vocabulary",
                      strcmp(o->inputs[0], "-") == 0 ? "stdin" : o->inputs[0]);
    if (rc == 0) {
        finish(&s, o);
        rc = mlr_spec_write(o->output, &s.spec, e);
    }
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
