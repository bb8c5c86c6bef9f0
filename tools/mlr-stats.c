/* mlr-stats: the exploratory summary of an interaction table.
 *
 * One pass over the rows, keeping per-user and per-item counts, the items
 * with their distinct titles and genre lists (lib/catalogue), never the
 * rows themselves. Prints `metric<TAB>value`, or with --table a table to plot.
 * Metrics whose column the input lacks are left out.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "mlr.h"
#include "strmap.h"
#include "table.h"

typedef enum { T_SUMMARY, T_RATING_HIST, T_USER_COUNTS, T_ITEM_COUNTS, T_TIME, T_TOP_ITEMS } table_kind;

typedef struct {
    table_kind table;
    long top;
    const char *input, *output;
} options;

/* A growable array of counters indexed by a dense id. */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} counts;

typedef struct {
    int rating, timestamp; /* column indexes or -1 */
    mlr_catalogue_cols cat;
    size_t rows;
    mlr_strmap *users, *ratings, *months;
    mlr_catalogue items; /* each item's first title; every title and genre list */
    counts user_n, item_n, rating_n, month_n;
    double rating_min, rating_max, rating_sum;
    long time_min, time_max;
} stats;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-stats [--table NAME] [--top N] [--output FILE] [TABLE]\n"
        "Summarises an interaction table (TABLE or stdin) as a `metric<TAB>value` TSV:\n"
        "ratings, users, items, titles, rating range and mean, genres, genre sets,\n"
        "ratings per user and per item (min/median/max), time range. Metrics whose\n"
        "column is absent are left out. Memory grows with the distinct users, items\n"
        "and titles, not with the rows.\n"
        "  --table NAME   instead, a table to plot (default: the summary):\n"
        "      rating-hist   rating, count\n"
        "      user-counts   rank, count: ratings per user, most first\n"
        "      item-counts   rank, count: ratings per item, most first\n"
        "      time          month (YYYY-MM, UTC), count; empty months included\n"
        "      top-items     rank, item_id, title, count (ties by item id)\n"
        "  --top N        rows of top-items (default 25)\n"
        "  --output FILE  write here atomically (default stdout)\n"
        "  -h, --help     this help;  --version  the version\n"
        "example: mlr-ingest --format ml-100k data/ml-100k | mlr-stats --table top-items --top 10\n");
}

static table_kind parse_table(const char *s)
{
    static const char *const names[] = {"summary", "rating-hist", "user-counts",
                                        "item-counts", "time", "top-items"};
    for (int i = 0; i < 6; i++)
        if (strcmp(s, names[i]) == 0)
            return (table_kind)i;
    mlr_usage_die("--table: unknown table '%s' (rating-hist, user-counts, item-counts, time, top-items)", s);
}

static options parse_args(int argc, char **argv)
{
    options o = {.table = T_SUMMARY, .top = 25, .input = "-"};
    static const struct option longs[] = {
        {"table", required_argument, 0, 't'}, {"top", required_argument, 0, 'k'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case 't': o.table = parse_table(optarg); break;
        case 'k': o.top = mlr_opt_long("--top", optarg, 1, INT32_MAX); break;
        case 'o': o.output = optarg; break;
        default: mlr_opt_rest(c, "mlr-stats", usage, argv);
        }
    }
    if (optind + 1 < argc)
        mlr_usage_die("one input table at most, not '%s' too", argv[optind + 1]);
    if (optind < argc)
        o.input = argv[optind];
    return o;
}

/* ---------- accumulating ---------- */

static void bump(counts *c, size_t id)
{
    if (id >= c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap <= id)
            cap *= 2;
        c->v = xrealloc(c->v, cap * sizeof *c->v);
        memset(c->v + c->cap, 0, (cap - c->cap) * sizeof *c->v);
        c->cap = cap;
    }
    c->v[id]++;
    if (id >= c->n)
        c->n = id + 1;
}

static size_t intern_field(mlr_strmap *m, const mlr_reader *r, int col)
{
    return mlr_strmap_intern(m, mlr_reader_field(r, (size_t)col), mlr_reader_field_len(r, (size_t)col));
}

/* Months since 1970-01 (UTC) of any int64 second: the proleptic
 * Gregorian calendar's days-to-civil (H. Hinnant's algorithm) in integer
 * arithmetic, where gmtime fails (and leaves its struct unset) for years
 * past int's range. */
static long month_of(long t)
{
    long days = t / 86400 - (t % 86400 < 0); /* floor: before 1970 too */
    long z = days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long mon = mp < 10 ? mp + 3 : mp - 9; /* 1..12 */
    long y = yoe + era * 400 + (mon <= 2);
    return (y - 1970) * 12 + (mon - 1);
}

/* Months live in a map keyed by their index's bytes, so any range works. */
static void count_month(stats *s, long t)
{
    long m = month_of(t);
    bump(&s->month_n, mlr_strmap_intern(s->months, (const char *)&m, sizeof m));
}

static int add_rating(stats *s, const mlr_reader *r, mlr_err *e)
{
    double x;
    if (mlr_reader_double(r, (size_t)s->rating, &x, e) < 0)
        return -1;
    if (s->rows == 1 || x < s->rating_min)
        s->rating_min = x;
    if (s->rows == 1 || x > s->rating_max)
        s->rating_max = x;
    s->rating_sum += x;
    /* Histogram bins keyed by the value's bytes: exact, any number of them. */
    bump(&s->rating_n, mlr_strmap_intern(s->ratings, (const char *)&x, sizeof x));
    return 0;
}

static int add_time(stats *s, const mlr_reader *r, int want_months, mlr_err *e)
{
    long t;
    if (mlr_reader_long(r, (size_t)s->timestamp, &t, e) < 0)
        return -1;
    if (s->rows == 1 || t < s->time_min)
        s->time_min = t;
    if (s->rows == 1 || t > s->time_max)
        s->time_max = t;
    if (want_months)
        count_month(s, t);
    return 0;
}

static int read_stats(const options *o, stats *s, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(o->input, NULL, e);
    if (!r)
        return -1;
    int ucol = mlr_reader_require(r, "user_id", e);
    if (ucol < 0 || mlr_catalogue_columns(r, &s->cat, e) < 0) {
        mlr_reader_close(r);
        return -1;
    }
    s->rating = mlr_reader_col(r, "rating");
    s->timestamp = mlr_reader_col(r, "timestamp");
    int got = 1;
    if ((o->table == T_RATING_HIST && s->rating < 0) || (o->table == T_TIME && s->timestamp < 0))
        got = mlr_fail(e, "%s: no column '%s' in the header", mlr_reader_path(r),
                       o->table == T_TIME ? "timestamp" : "rating");
    while (got == 1 && (got = mlr_reader_next(r, e)) == 1) {
        s->rows++;
        bump(&s->user_n, intern_field(s->users, r, ucol));
        size_t item;
        if (mlr_catalogue_add_row(&s->items, r, &s->cat, &item, e) < 0 ||
            (s->rating >= 0 && add_rating(s, r, e) < 0) ||
            (s->timestamp >= 0 && add_time(s, r, o->table == T_TIME, e) < 0)) {
            got = -1;
            break;
        }
        bump(&s->item_n, item);
    }
    mlr_reader_close(r);
    return got < 0 ? -1 : 0;
}

/* ---------- summarising ---------- */

static int desc_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Counts sorted most first (a copy). */
static uint64_t *sorted_desc(const counts *c, size_t n)
{
    uint64_t *v = xmalloc((n ? n : 1) * sizeof *v);
    memcpy(v, c->v, n * sizeof *v);
    qsort(v, n, sizeof *v, desc_u64);
    return v;
}

static void print_spread(FILE *fp, const char *what, const counts *c, size_t n)
{
    if (!n)
        return;
    uint64_t *v = sorted_desc(c, n);
    double median = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
    fprintf(fp, "%s_min\t%llu\n%s_median\t%g\n%s_max\t%llu\n", what,
            (unsigned long long)v[n - 1], what, median, what, (unsigned long long)v[0]);
    free(v);
}

/* Distinct genre names and distinct genre sets (the names sorted, so that
 * "Comedy|Drama" and "Drama|Comedy" are one set). Empty lists count as no
 * set. Works on the distinct lists only, so it costs nothing per row. */
static void genre_counts(const mlr_strmap *lists, size_t *names, size_t *sets)
{
    mlr_strmap *g = mlr_strmap_new(64), *s = mlr_strmap_new(0);
    for (size_t i = 0; i < mlr_strmap_count(lists); i++) {
        char *copy = xstrdup(mlr_strmap_key(lists, i)), *tok[256], *save = NULL;
        size_t n = 0;
        for (char *p = strtok_r(copy, "|", &save); p && n < 256; p = strtok_r(NULL, "|", &save))
            tok[n++] = p;
        qsort(tok, n, sizeof *tok, cmp_str);
        char *joined = xmalloc(mlr_strmap_key_len(lists, i) + 2);
        size_t len = 0;
        for (size_t k = 0; k < n; k++) {
            if (k && strcmp(tok[k], tok[k - 1]) == 0)
                continue;
            mlr_strmap_intern(g, tok[k], strlen(tok[k]));
            len += (size_t)sprintf(joined + len, "%s%s", len ? "|" : "", tok[k]);
        }
        if (len)
            mlr_strmap_intern(s, joined, len);
        free(joined);
        free(copy);
    }
    *names = mlr_strmap_count(g);
    *sets = mlr_strmap_count(s);
    mlr_strmap_free(g);
    mlr_strmap_free(s);
}

static void print_summary(FILE *fp, const stats *s)
{
    fprintf(fp, "metric\tvalue\nratings\t%zu\nusers\t%zu\nitems\t%zu\n", s->rows,
            mlr_strmap_count(s->users), mlr_catalogue_count(&s->items));
    if (s->cat.title >= 0)
        fprintf(fp, "titles\t%zu\n", mlr_strmap_count(s->items.titles));
    if (s->rating >= 0 && s->rows)
        fprintf(fp, "rating_min\t%g\nrating_max\t%g\nrating_mean\t%.6f\n", s->rating_min,
                s->rating_max, s->rating_sum / (double)s->rows);
    if (s->cat.genres >= 0) {
        size_t names, sets;
        genre_counts(s->items.genre_lists, &names, &sets);
        fprintf(fp, "genres\t%zu\ngenre_sets\t%zu\n", names, sets);
    }
    print_spread(fp, "user_ratings", &s->user_n, mlr_strmap_count(s->users));
    print_spread(fp, "item_ratings", &s->item_n, mlr_catalogue_count(&s->items));
    if (s->timestamp >= 0 && s->rows)
        fprintf(fp, "time_first\t%ld\ntime_last\t%ld\ntime_span_days\t%.1f\n", s->time_min,
                s->time_max, ((double)s->time_max - (double)s->time_min) / 86400.0);
}

/* ---------- tables to plot ---------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void print_rating_hist(FILE *fp, const stats *s)
{
    size_t n = mlr_strmap_count(s->ratings);
    double *v = xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        memcpy(&v[i], mlr_strmap_key(s->ratings, i), sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    fputs("rating\tcount\n", fp);
    for (size_t i = 0; i < n; i++) {
        long id = mlr_strmap_find(s->ratings, (const char *)&v[i], sizeof v[i]);
        fprintf(fp, "%g\t%llu\n", v[i], (unsigned long long)s->rating_n.v[id]);
    }
    free(v);
}

static void print_ranked(FILE *fp, const counts *c, size_t n)
{
    uint64_t *v = sorted_desc(c, n);
    fputs("rank\tcount\n", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%zu\t%llu\n", i + 1, (unsigned long long)v[i]);
    free(v);
}

#define MAX_MONTHS 120000

/* Every month from the first to the last, empty ones with count 0. */
static void print_months(FILE *fp, const stats *s)
{
    size_t n = mlr_strmap_count(s->months);
    long lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        long m;
        memcpy(&m, mlr_strmap_key(s->months, i), sizeof m);
        lo = i == 0 || m < lo ? m : lo;
        hi = i == 0 || m > hi ? m : hi;
    }
    /* One row per month of the range: a range of a few bad timestamps
     * (INT64_MAX) would be 10^12 rows, so it is bounded. */
    if (hi - lo >= MAX_MONTHS)
        mlr_die("--table time: the timestamps span %ld months (%ld to %ld); at most %d "
                "(10,000 years) are tabulated", hi - lo + 1, s->time_min, s->time_max, MAX_MONTHS);
    fputs("month\tcount\n", fp);
    if (!n)
        return;
    for (long m = lo; m <= hi; m++) {
        long id = mlr_strmap_find(s->months, (const char *)&m, sizeof m);
        long y = 1970 + (m >= 0 ? m / 12 : -((-m + 11) / 12)), mon = m - (y - 1970) * 12;
        fprintf(fp, "%04ld-%02ld\t%llu\n", y, mon + 1,
                id < 0 ? 0ULL : (unsigned long long)s->month_n.v[id]);
    }
}

/* Ids compare as numbers when both are all digits (so 9 < 10), else bytewise. */
static int cmp_ids(const char *a, size_t la, const char *b, size_t lb)
{
    int digits = la && lb && strspn(a, "0123456789") == la && strspn(b, "0123456789") == lb;
    if (digits) {
        while (la > 1 && *a == '0') a++, la--;
        while (lb > 1 && *b == '0') b++, lb--;
        if (la != lb)
            return la < lb ? -1 : 1;
    }
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int cmp_items(const void *pa, const void *pb, void *ctx)
{
    const stats *s = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (s->item_n.v[a] != s->item_n.v[b])
        return s->item_n.v[a] > s->item_n.v[b] ? -1 : 1;
    const mlr_strmap *ids = s->items.ids;
    return cmp_ids(mlr_strmap_key(ids, a), mlr_strmap_key_len(ids, a),
                   mlr_strmap_key(ids, b), mlr_strmap_key_len(ids, b));
}

static void print_top_items(FILE *fp, const stats *s, long top)
{
    size_t n = mlr_catalogue_count(&s->items);
    size_t *order = xmalloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_items, (void *)s);
    fputs("rank\titem_id\ttitle\tcount\n", fp);
    for (size_t r = 0; r < n && r < (size_t)top; r++) {
        size_t i = order[r];
        fprintf(fp, "%zu\t%s\t%s\t%llu\n", r + 1, mlr_strmap_key(s->items.ids, i),
                mlr_catalogue_title(&s->items, i, NULL), (unsigned long long)s->item_n.v[i]);
    }
    free(order);
}

/* The chosen table of s into fp. */
static void print_table(FILE *fp, const options *o, const stats *s)
{
    switch (o->table) {
    case T_SUMMARY: print_summary(fp, s); break;
    case T_RATING_HIST: print_rating_hist(fp, s); break;
    case T_USER_COUNTS: print_ranked(fp, &s->user_n, mlr_strmap_count(s->users)); break;
    case T_ITEM_COUNTS: print_ranked(fp, &s->item_n, mlr_catalogue_count(&s->items)); break;
    case T_TIME: print_months(fp, s); break;
    case T_TOP_ITEMS: print_top_items(fp, s, o->top); break;
    }
}

static int run(const options *o, mlr_err *e)
{
    stats s = {.users = mlr_strmap_new(0), .ratings = mlr_strmap_new(16), .months = mlr_strmap_new(0)};
    mlr_catalogue_init(&s.items);
    mlr_out out;
    int rc = read_stats(o, &s, e);
    if (rc == 0)
        rc = mlr_out_open(&out, o->output, e);
    if (rc == 0) {
        print_table(out.fp, o, &s);
        if (ferror(out.fp)) {
            mlr_out_abort(&out);
            rc = mlr_fail(e, "write error");
        } else {
            rc = mlr_out_commit(&out, e);
        }
    }
    mlr_strmap_free(s.users); mlr_strmap_free(s.ratings); mlr_strmap_free(s.months);
    mlr_catalogue_free(&s.items);
    free(s.user_n.v); free(s.item_n.v); free(s.rating_n.v); free(s.month_n.v);
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
