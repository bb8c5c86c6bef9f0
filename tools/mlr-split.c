/* mlr-split: train/test split of an interaction table.
 *
 * Holds every row in memory (as its line bytes), decides which rows are
 * test rows, then writes both files in input order. Every decision depends
 * only on the rows' bytes and order, never on how the input was read, so
 * the same seed gives the same split through a pipe, a file or a trickle:
 *   random     key = mlr_hash64(seed, line); the round(N f) smallest keys
 *              (ties by input order) are the test rows: an exact count.
 *   time       --cut T: rows with timestamp >= T; or --test-fraction f:
 *              the round(N f) latest rows (ties: later input row first).
 *   user-time  each user's latest round(n_u f) rows.
 *   last-n     each user's latest N rows, keeping at least one in training.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlr.h"
#include "strmap.h"
#include "table.h"
#include "vec.h"

typedef enum { BY_RANDOM, BY_TIME, BY_USER_TIME, BY_LAST_N } split_mode;

typedef struct {
    split_mode by;
    uint64_t seed;
    double fraction;
    int have_fraction, have_cut;
    long cut, n;
    const char *output, *test_output, *input; /* output: the training rows */
} options;

/* The input held in memory: row i is bytes [off[i], off[i+1]) of text,
 * its trailing LF included. */
typedef struct {
    mlr_vec text;   /* char: every row's line, back to back */
    size_t *off;
    size_t n, off_cap;
    long *time;     /* (n) timestamps, temporal modes only */
    uint32_t *user; /* (n) dense user ids, per-user modes only */
    size_t nusers;
    char *header;   /* the header line, LF included */
} rows;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-split --test-output FILE [--output FILE] [--by MODE] [--seed S]\n"
        "                 [--test-fraction F] [--cut UNIXTIME] [--n N] [TABLE]\n"
        "Splits an interaction table (TABLE or stdin) into training rows (stdout or\n"
        "--output) and test rows (--test-output), both with the header, in input order,\n"
        "written atomically. Holds the whole input in memory. The split depends only\n"
        "on the rows' bytes and order: a pipe, a file or any chunking give the same.\n"
        "  --test-output FILE   where the test rows go (required)\n"
        "  -o, --output FILE    where the training rows go (default stdout)\n"
        "  --by MODE            random | time | user-time | last-n (default random)\n"
        "      random           the round(N*F) rows with the smallest mlr_hash64(seed, row)\n"
        "      time             rows with timestamp >= --cut, or the round(N*F) latest\n"
        "      user-time        each user's round(n*F) latest rows\n"
        "      last-n           each user's N latest rows, at least one left in training\n"
        "  --seed S             seed of the random split (default 42)\n"
        "  --test-fraction F    share of test rows, 0 < F < 1 (default 0.2)\n"
        "  --cut UNIXTIME       time split at this instant (--by time)\n"
        "  --n N                rows per user for --by last-n (default 1)\n"
        "  -h, --help           this help;  --version  the version\n"
        "  deprecated: --test (= --test-output), --train (= --output)\n"
        "Ties in time go by input order (the later row counts as later).\n"
        "example: mlr-ingest --format ml-100k data/ml-100k | mlr-split --seed 42 --test-output test.tsv >train.tsv\n");
}

static split_mode parse_mode(const char *s)
{
    static const char *const names[] = {"random", "time", "user-time", "last-n"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return (split_mode)i;
    mlr_usage_die("--by: unknown mode '%s' (random, time, user-time, last-n)", s);
}

static void check_options(const options *o)
{
    if (!o->test_output)
        mlr_usage_die("--test-output FILE is required (try 'mlr-split --help')");
    if (strcmp(o->test_output, "-") == 0 || (o->output && strcmp(o->output, o->test_output) == 0))
        mlr_usage_die("--test-output needs a file of its own, not stdout or the --output file");
    if (o->have_fraction && !(o->fraction > 0 && o->fraction < 1))
        mlr_usage_die("--test-fraction must be between 0 and 1 (exclusive), not %g", o->fraction);
    if (o->have_cut && o->by != BY_TIME)
        mlr_usage_die("--cut goes with --by time");
    if (o->have_cut && o->have_fraction)
        mlr_usage_die("--by time takes --cut or --test-fraction, not both");
    if (o->by == BY_LAST_N && o->have_fraction)
        mlr_usage_die("--by last-n takes --n, not --test-fraction");
    if (o->n != 1 && o->by != BY_LAST_N)
        mlr_usage_die("--n goes with --by last-n");
}

/* The long-only options; the OLD_ ones are deprecated aliases. */
enum { OPT_TEST_OUTPUT = 256, OPT_BY, OPT_SEED, OPT_FRACTION, OPT_CUT, OPT_N, OPT_OLD_TEST,
       OPT_OLD_TRAIN };

static options parse_args(int argc, char **argv)
{
    options o = {.by = BY_RANDOM, .seed = 42, .fraction = 0.2, .n = 1, .input = "-"};
    static const struct option longs[] = {
        {"test-output", required_argument, 0, OPT_TEST_OUTPUT}, {"output", required_argument, 0, 'o'},
        {"by", required_argument, 0, OPT_BY}, {"seed", required_argument, 0, OPT_SEED},
        {"test-fraction", required_argument, 0, OPT_FRACTION}, {"cut", required_argument, 0, OPT_CUT},
        {"n", required_argument, 0, OPT_N}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"test", required_argument, 0, OPT_OLD_TEST}, {"train", required_argument, 0, OPT_OLD_TRAIN},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case OPT_OLD_TEST: mlr_opt_deprecated("--test", "--test-output"); /* fall through */
        case OPT_TEST_OUTPUT: o.test_output = optarg; break;
        case OPT_OLD_TRAIN: mlr_opt_deprecated("--train", "--output"); /* fall through */
        case 'o': o.output = optarg; break;
        case OPT_BY: o.by = parse_mode(optarg); break;
        case OPT_SEED: o.seed = (uint64_t)mlr_opt_long("--seed", optarg, 0, INT64_MAX); break;
        case OPT_FRACTION: o.fraction = mlr_opt_double("--test-fraction", optarg); o.have_fraction = 1; break;
        case OPT_CUT: o.cut = mlr_opt_long("--cut", optarg, INT64_MIN, INT64_MAX); o.have_cut = 1; break;
        case OPT_N: o.n = mlr_opt_long("--n", optarg, 1, INT64_MAX); break;
        default: mlr_opt_rest(c, "mlr-split", usage, argv);
        }
    }
    if (optind + 1 < argc)
        mlr_usage_die("one input table at most, not '%s' too", argv[optind + 1]);
    if (optind < argc)
        o.input = argv[optind];
    check_options(&o);
    return o;
}

/* ---------- reading ---------- */

static void append(mlr_vec *text, const char *s, size_t n)
{
    memcpy(mlr_vec_push(text, n), s, n);
}

/* The current row as its TSV line: fields joined by TAB, then LF (for
 * TSV input, the input line again: one copy). */
static void append_row(rows *t, const mlr_reader *r)
{
    char *at = mlr_vec_room(&t->text, mlr_reader_row_size(r) + 1);
    size_t n = mlr_reader_row_tsv(r, at);
    at[n] = '\n';
    t->text.n += n + 1;
    if (t->n + 2 > t->off_cap) {
        t->off_cap = t->off_cap ? t->off_cap * 2 : 1 << 16;
        t->off = xrealloc(t->off, t->off_cap * sizeof *t->off);
    }
    t->off[++t->n] = t->text.n;
}

static void grow_columns(rows *t, int want_time, int want_user)
{
    if (want_time)
        t->time = xrealloc(t->time, t->off_cap * sizeof *t->time);
    if (want_user)
        t->user = xrealloc(t->user, t->off_cap * sizeof *t->user);
}

static char *header_line(const mlr_reader *r)
{
    mlr_vec h = {.elem = 1};
    for (size_t i = 0; i < mlr_reader_ncols(r); i++) {
        const char *name = mlr_reader_colname(r, i);
        append(&h, name, strlen(name));
        append(&h, i + 1 < mlr_reader_ncols(r) ? "\t" : "\n", 1);
    }
    append(&h, "", 1);
    return h.p;
}

static int read_rows(const options *o, rows *t, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(o->input, NULL, e);
    if (!r)
        return -1;
    int want_time = o->by != BY_RANDOM, want_user = o->by == BY_USER_TIME || o->by == BY_LAST_N;
    int tcol = want_time ? mlr_reader_require(r, "timestamp", e) : 0;
    int ucol = want_user ? mlr_reader_require(r, "user_id", e) : 0;
    if (tcol < 0 || ucol < 0) {
        mlr_reader_close(r);
        return -1;
    }
    t->header = header_line(r);
    t->off = xmalloc((t->off_cap = 1 << 16) * sizeof *t->off);
    t->off[0] = 0;
    grow_columns(t, want_time, want_user);
    mlr_strmap *users = mlr_strmap_new(0);
    int got;
    while ((got = mlr_reader_next(r, e)) == 1) {
        size_t cap = t->off_cap;
        append_row(t, r);
        if (t->off_cap != cap)
            grow_columns(t, want_time, want_user);
        size_t i = t->n - 1;
        if (want_time && mlr_reader_long(r, (size_t)tcol, &t->time[i], e) < 0) {
            got = -1;
            break;
        }
        if (want_user)
            t->user[i] = (uint32_t)mlr_strmap_intern(users, mlr_reader_field(r, (size_t)ucol),
                                                     mlr_reader_field_len(r, (size_t)ucol));
    }
    t->nusers = mlr_strmap_count(users);
    mlr_strmap_free(users);
    mlr_reader_close(r);
    return got < 0 ? -1 : 0;
}

/* ---------- choosing the test rows ---------- */

/* Sort key of a row: the value, then the input position. */
typedef struct {
    uint64_t key;
    size_t pos;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Puts the k smallest of v[0..n) (by keyed_cmp) first, in any order:
 * quickselect, expected O(n). */
static void select_smallest(keyed *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1 && k > lo && k < hi) {
        keyed pivot = v[lo + (hi - 1 - lo) / 2]; /* never the last: Hoare needs that */
        size_t i = lo, j = hi - 1;
        for (;;) { /* Hoare partition */
            while (keyed_cmp(&v[i], &pivot) < 0) i++;
            while (keyed_cmp(&v[j], &pivot) > 0) j--;
            if (i >= j)
                break;
            keyed tmp = v[i]; v[i] = v[j]; v[j] = tmp;
            i++; j--;
        }
        if (k <= j)
            hi = j + 1;
        else
            lo = j + 1;
    }
}

static size_t rounded(size_t n, double f)
{
    return (size_t)llround((double)n * f);
}

/* Marks the k rows with the smallest keys (ties: earlier row first). */
static void mark_smallest(keyed *v, size_t n, size_t k, unsigned char *is_test)
{
    select_smallest(v, n, k);
    for (size_t i = 0; i < k; i++)
        is_test[v[i].pos] = 1;
}

/* Order-preserving map of a signed time onto unsigned keys, latest first. */
static uint64_t latest_first(long t)
{
    return ~((uint64_t)t ^ (UINT64_C(1) << 63));
}

static void split_random(const options *o, const rows *t, unsigned char *is_test)
{
    keyed *v = xmalloc((t->n ? t->n : 1) * sizeof *v);
    for (size_t i = 0; i < t->n; i++)
        v[i] = (keyed){mlr_hash64(o->seed, (const char *)t->text.p + t->off[i], t->off[i + 1] - t->off[i]), i};
    mark_smallest(v, t->n, rounded(t->n, o->fraction), is_test);
    free(v);
}

static void split_time(const options *o, const rows *t, unsigned char *is_test)
{
    if (o->have_cut) {
        for (size_t i = 0; i < t->n; i++)
            is_test[i] = t->time[i] >= o->cut;
        return;
    }
    keyed *v = xmalloc((t->n ? t->n : 1) * sizeof *v);
    for (size_t i = 0; i < t->n; i++)
        v[i] = (keyed){latest_first(t->time[i]), t->n - 1 - i}; /* later row first */
    select_smallest(v, t->n, rounded(t->n, o->fraction));
    for (size_t i = 0; i < rounded(t->n, o->fraction); i++)
        is_test[t->n - 1 - v[i].pos] = 1;
    free(v);
}

/* Per user: rows grouped by user (counting sort, input order kept), each
 * group sorted latest first, and its first k rows marked. */
static void split_per_user(const options *o, const rows *t, unsigned char *is_test)
{
    size_t U = t->nusers, *start = xcalloc(U + 1, sizeof *start);
    for (size_t i = 0; i < t->n; i++)
        start[t->user[i] + 1]++;
    for (size_t u = 0; u < U; u++)
        start[u + 1] += start[u];
    keyed *v = xmalloc((t->n ? t->n : 1) * sizeof *v);
    size_t *fill = xmalloc((U ? U : 1) * sizeof *fill);
    memcpy(fill, start, U * sizeof *fill);
    for (size_t i = 0; i < t->n; i++)
        v[fill[t->user[i]]++] = (keyed){latest_first(t->time[i]), t->n - 1 - i};
    for (size_t u = 0; u < U; u++) {
        size_t n = start[u + 1] - start[u], k;
        if (o->by == BY_LAST_N)
            k = (size_t)o->n < n ? (size_t)o->n : n - 1;
        else
            k = rounded(n, o->fraction);
        keyed *g = v + start[u];
        qsort(g, n, sizeof *g, keyed_cmp);
        for (size_t j = 0; j < k; j++)
            is_test[t->n - 1 - g[j].pos] = 1;
    }
    free(v);
    free(fill);
    free(start);
}

/* ---------- writing ---------- */

static int write_rows(const rows *t, const unsigned char *is_test, const options *o, mlr_err *e)
{
    mlr_out train, test;
    if (mlr_out_open(&test, o->test_output, e) < 0)
        return -1;
    if (mlr_out_open(&train, o->output, e) < 0) {
        mlr_out_abort(&test);
        return -1;
    }
    static char buf_train[1 << 16], buf_test[1 << 16];
    setvbuf(train.fp, buf_train, _IOFBF, sizeof buf_train);
    setvbuf(test.fp, buf_test, _IOFBF, sizeof buf_test);
    fputs(t->header, train.fp);
    fputs(t->header, test.fp);
    for (size_t i = 0, j; i < t->n; i = j) { /* a run of rows bound for one file at a time */
        for (j = i + 1; j < t->n && is_test[j] == is_test[i]; j++)
            ;
        fwrite((const char *)t->text.p + t->off[i], 1, t->off[j] - t->off[i], is_test[i] ? test.fp : train.fp);
    }
    /* The two replace their earlier files together, once both are complete
     * (a full disk, a closed stdout: neither is replaced; the commits name
     * the error). Training rows first: when they go to stdout, a failure
     * there stops us before the test file's rename. */
    mlr_out_batch_begin();
    if (mlr_out_commit(&train, e) < 0) {
        mlr_out_abort(&test);
        mlr_out_batch_abort();
        return -1;
    }
    if (mlr_out_commit(&test, e) < 0) {
        mlr_out_batch_abort();
        return -1;
    }
    return mlr_out_batch_commit(e);
}

static int run(const options *o, mlr_err *e)
{
    rows t = {.text = {.elem = 1}};
    int rc = read_rows(o, &t, e);
    if (rc == 0) {
        unsigned char *is_test = xcalloc(t.n ? t.n : 1, 1);
        if (o->by == BY_RANDOM)
            split_random(o, &t, is_test);
        else if (o->by == BY_TIME)
            split_time(o, &t, is_test);
        else
            split_per_user(o, &t, is_test);
        rc = write_rows(&t, is_test, o, e);
        free(is_test);
    }
    mlr_vec_free(&t.text); free(t.off); free(t.time); free(t.user); free(t.header);
    return rc;
}

int main(int argc, char **argv)
{
    mlr_err e;
    mlr_init_tool();
    options o = parse_args(argc, argv);
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
