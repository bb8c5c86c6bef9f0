/* mlr-history: adds the user_history column (docs/features.md) to an
 * interaction table: the items each user rated in a training table, the
 * row's own item left out, so that the query tower sees what the user
 * liked without seeing the label. --per-user writes instead one query row
 * per user of the training table, at the user's last training time (or
 * with --query-time median their median one), with all of their training items:
 * what a recommendation for that user (or a per-user evaluation) asks the
 * model. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "mlr.h"
#include "table.h"

typedef struct {
    const char *train, *input, *output;
    size_t max;
    int per_user, median; /* --per-user; --query-time median */
    int before_row;       /* --before-row */
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-history --train TABLE [--max N] [--before-row] [--output FILE] [INPUT]\n"
        "       mlr-history --train TABLE --per-user [--query-time last|median] [--max N] [--output FILE]\n"
        "Writes INPUT (an interaction table, stdin by default) with one more column,\n"
        "user_history: the item ids the row's user rated in the --train table, newest\n"
        "first (by timestamp, ties by row order), at most --max of them, '|'-joined,\n"
        "every copy of the row's own item left out (a row never sees its label); empty\n"
        "for a user who is not in TABLE. mlr-vocab and mlr-encode then treat\n"
        "user_history as a multi-token query feature, pooled by the mean of its items'\n"
        "embeddings. With --per-user, writes one row per user of TABLE instead: the\n"
        "user's latest training row (their features at their last training time) with\n"
        "ALL of their training items, in TABLE's order of those rows.\n"
        "  --train TABLE   the training rows the histories come from (required)\n"
        "  --max N         at most N items per history, the latest (default 16, as\n"
        "                  mlr-encode's --max-tokens; chosen on a validation slice)\n"
        "  --before-row    only the items rated before the row's timestamp (strictly\n"
        "                  earlier): the history a request made at that time would\n"
        "                  know, as in Covington et al. 2016 (INPUT needs a timestamp)\n"
        "  --per-user      one query row per user of TABLE (no INPUT)\n"
        "  --query-time WHEN\n"
        "                  with --per-user, the row at the user's last training time\n"
        "                  (last, the default) or at the median of their training times\n"
        "                  (median: a query over the user's whole stay, which a random\n"
        "                  split's held-out rows are spread over)\n"
        "  --output FILE   write here atomically (default stdout)\n"
        "  -h, --help      this help;  --version  the version\n"
        "A table that already has a user_history column is refused.\n"
        "example: mlr-history --train train.tsv train.tsv >train-h.tsv &&\n"
        "         mlr-history --train train.tsv test.tsv >test-h.tsv &&\n"
        "         mlr-history --train train.tsv --per-user >users-h.tsv\n");
}

static options parse_args(int argc, char **argv)
{
    options o = {NULL, "-", "-", MLR_HISTORY_MAX, 0, 0, 0};
    static const struct option longs[] = {
        {"train", required_argument, 0, 't'}, {"max", required_argument, 0, 'n'},
        {"per-user", no_argument, 0, 'u'}, {"query-time", required_argument, 0, 'a'},
        {"output", required_argument, 0, 'o'}, {"before-row", no_argument, 0, 'b'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case 't': o.train = optarg; break;
        case 'n': o.max = (size_t)mlr_opt_long("--max", optarg, 1, 100000); break;
        case 'u': o.per_user = 1; break;
        case 'b': o.before_row = 1; break;
        case 'a':
            if (strcmp(optarg, "last") && strcmp(optarg, "median"))
                mlr_usage_die("--query-time: last or median, not '%s' (try 'mlr-history --help')", optarg);
            o.median = !strcmp(optarg, "median");
            break;
        case 'o': o.output = optarg; break;
        default: mlr_opt_rest(c, "mlr-history", usage, argv);
        }
    }
    if (optind < argc && !o.per_user) o.input = argv[optind++];
    if (optind < argc) mlr_usage_die("unexpected argument '%s' (try 'mlr-history --help')", argv[optind]);
    if (!o.train) mlr_usage_die("--train TABLE is required (try 'mlr-history --help')");
    if (o.median && !o.per_user) mlr_usage_die("--query-time goes with --per-user (try 'mlr-history --help')");
    if (o.before_row && o.per_user)
        mlr_usage_die("--before-row and --per-user: a user's query row holds all of their items (try 'mlr-history --help')");
    return o;
}

/* Copies r's header with user_history added; the column of user_id,
 * item_id and (with --before-row, else -1) timestamp in c[0..2]. */
static int write_header(FILE *fp, mlr_reader *r, int before_row, int c[3], mlr_err *e)
{
    if (mlr_reader_col(r, "user_history") >= 0)
        return mlr_fail(e, "%s: already has a user_history column", mlr_reader_path(r));
    if ((c[0] = mlr_reader_require(r, "user_id", e)) < 0 || (c[1] = mlr_reader_require(r, "item_id", e)) < 0)
        return -1;
    if ((c[2] = before_row ? mlr_reader_require(r, "timestamp", e) : -1) < 0 && before_row)
        return -1;
    for (size_t i = 0; i < mlr_reader_ncols(r); i++)
        fprintf(fp, "%s\t", mlr_reader_colname(r, i));
    fputs("user_history\n", fp);
    return 0;
}

/* Every row of path with its history appended; with wanted (a mark per
 * row) only the marked rows, their own items kept. */
static int add_histories(FILE *fp, const char *path, const mlr_history *h, const options *o,
                         const unsigned char *wanted, size_t nwanted, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r) return -1;
    int c[3] = {0, 0, -1}, st = 0, rc = write_header(fp, r, o->before_row, c, e);
    size_t cu = (size_t)c[0], ci = (size_t)c[1];
    char *row = NULL, *hist = NULL;
    size_t row_cap = 0, hist_cap = 0, n = 0;
    while (rc == 0 && (st = mlr_reader_next(r, e)) == 1) {
        size_t at = n++;
        if (wanted && (at >= nwanted || !wanted[at])) continue;
        if (mlr_reader_row_size(r) > row_cap) {
            row_cap = mlr_reader_row_size(r) * 2;
            row = xrealloc(row, row_cap);
        }
        size_t len = mlr_reader_row_tsv(r, row);
        const char *own = wanted ? NULL : mlr_reader_field(r, ci);
        long before = LONG_MAX;
        if (c[2] >= 0 && mlr_reader_long(r, (size_t)c[2], &before, e) < 0) {
            rc = -1;
            break;
        }
        size_t hl = mlr_history_field(h, mlr_reader_field(r, cu), mlr_reader_field_len(r, cu), own,
                                      own ? mlr_reader_field_len(r, ci) : 0, before, o->max, &hist, &hist_cap);
        fwrite(row, 1, len, fp);
        fputc('\t', fp);
        fwrite(hist, 1, hl, fp);
        fputc('\n', fp);
    }
    if (rc == 0 && st < 0) rc = -1;
    mlr_reader_close(r);
    free(row);
    free(hist);
    return rc;
}

/* Marks each user's latest (or median) row of the training table; *rows:
 * how many rows the marks cover. */
static unsigned char *query_rows(const mlr_history *h, int median, size_t *nrows)
{
    size_t (*row_of)(const mlr_history *, size_t) = median ? mlr_history_median_row : mlr_history_last_row;
    size_t rows = 0;
    for (size_t u = 0; u < mlr_history_users(h); u++) {
        size_t r = row_of(h, u);
        if (r + 1 > rows) rows = r + 1;
    }
    unsigned char *w = xcalloc(rows + 1, 1);
    for (size_t u = 0; u < mlr_history_users(h); u++) w[row_of(h, u)] = 1;
    *nrows = rows;
    return w;
}

static int run(const options *o, mlr_err *e)
{
    mlr_history *h = mlr_history_read(o->train, e);
    if (!h) return -1;
    size_t nwanted = 0;
    unsigned char *wanted = o->per_user ? query_rows(h, o->median, &nwanted) : NULL;
    mlr_out out;
    int rc = mlr_out_open(&out, o->output, e);
    if (rc == 0) {
        rc = add_histories(out.fp, o->per_user ? o->train : o->input, h, o, wanted, nwanted, e);
        rc = rc == 0 ? mlr_out_commit(&out, e) : (mlr_out_abort(&out), -1);
    }
    free(wanted);
    mlr_history_free(h);
    return rc;
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    options o = parse_args(argc, argv);
    mlr_err e;
    if (run(&o, &e) < 0) mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
