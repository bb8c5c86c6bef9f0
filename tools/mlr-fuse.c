/* mlr-fuse: two or more recommenders' top-k lists -> one fused list per
 * query, in the same format (mlr-score --topk reads it).
 *
 * The rule (docs/model.md, "The model and EASE fused": chosen on
 * validation slices over reciprocal-rank fusion and min-max scaling):
 * each list's scores are standardised over the list's own entries,
 * z = (score - mean) / sd, an item absent from a list counts as that
 * list's lowest z (it ranked below every entry), a list whose scores are
 * all equal gives 0; fused = sum over files of weight * z. Ties go to the
 * item met first, the files' lists met in rank order, the heaviest file's
 * first (equal weights in file order: a file of weight 0 breaks no tie of
 * the others), so one input makes one output bit for bit.
 *
 * Shapes: K = a list's length, F = files, U = the union of a query's
 * lists (at most F x K items). */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fprint.h"
#include "fuse.h"
#include "mlr.h"
#include "strmap.h"
#include "table.h"

#define MAX_FILES 64

typedef struct {
    const char *output, *weights;
    const char *files[MAX_FILES];
    double w[MAX_FILES];
    int n;
    long k;
    int by_user; /* --join user */
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-fuse [--weights W1,W2,...] [--join query|user] [--k K] [--output FILE]\n"
        "                LISTS1.tsv LISTS2.tsv...\n"
        "Fuses the top-k lists of two or more recommenders (mlr-topk's or mlr-baseline's\n"
        "format: query, [user_id, [row_item_id]], rank, item_id, score) into one list per\n"
        "query of the first file. Each list's scores are standardised, z = (score - mean)\n"
        "/ sd over the list's entries (an item absent from a list takes that list's lowest\n"
        "z; equal scores give 0); an item's fused score is the weighted sum of its z, best\n"
        "first, ties to the item met first (the heaviest file's ranks, then the next's).\n"
        "Output: the first file's columns, k rows per query, after a fingerprint line\n"
        "(docs/fingerprint.md): exclude= the inputs' (they must agree), model= the model\n"
        "the inputs name (several: the set's fingerprint; none: no model=).\n"
        "Holds the other files in memory with --join user; streams otherwise.\n"
        "  --weights LIST    one weight per file, each >= 0, one at least > 0 (default: 1 each)\n"
        "  --join MODE       query: every file holds the same queries in the same order\n"
        "                    (query, user_id and row_item_id, where present, equal);\n"
        "                    user: each other file holds one list per user (mlr-topk of\n"
        "                    per-user queries), fused into every list of that user in the\n"
        "                    first file (default query)\n"
        "  -k, --k K         fused list length (default 10); fewer when the lists hold fewer items\n"
        "  -o, --output FILE\n"
        "                    write here atomically (default stdout)\n"
        "  -q, --quiet       nothing on stderr but errors (there is no progress to hide)\n"
        "  -h, --help        this help;  --version  the version\n"
        "example: mlr-baseline --kind ease --exclude-train --train train.tsv --test test.tsv \\\n"
        "           --k 100 --output ease.tsv &&\n"
        "         mlr-topk --queries query.npy --query-ids query.ids --items items.npy \\\n"
        "           --exclude train.tsv --k 100 --output model.tsv &&\n"
        "         mlr-fuse --weights 0.6,0.4 --k 100 ease.tsv model.tsv |\n"
        "           mlr-score --topk - --test test.tsv --train train.tsv\n");
}

/* --weights: N numbers, each >= 0, one at least > 0. */
static void parse_weights(options *o)
{
    char *s = xstrdup(o->weights), *save = NULL;
    int n = 0;
    double sum = 0;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double x;
        if (n == o->n || mlr_parse_double(t, &x) < 0 || x < 0)
            mlr_usage_die("--weights wants %d numbers >= 0 (one a file), not '%s'", o->n, o->weights);
        o->w[n++] = x;
        sum += x;
    }
    free(s);
    if (n != o->n)
        mlr_usage_die("--weights wants %d numbers >= 0 (one a file), not '%s'", o->n, o->weights);
    if (!(sum > 0)) mlr_usage_die("--weights: one weight at least must be positive, not '%s'", o->weights);
}

enum { OPT_WEIGHTS = 256, OPT_JOIN };

static options parse_args(int argc, char **argv)
{
    options o = {.k = 10};
    static const struct option longs[] = {
        {"weights", required_argument, 0, OPT_WEIGHTS}, {"join", required_argument, 0, OPT_JOIN},
        {"k", required_argument, 0, 'k'}, {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:k:q", longs, NULL)) != -1) {
        switch (c) {
        case OPT_WEIGHTS: o.weights = optarg; break;
        case OPT_JOIN:
            if (strcmp(optarg, "query") != 0 && strcmp(optarg, "user") != 0)
                mlr_usage_die("--join must be query or user, not '%s'", optarg);
            o.by_user = strcmp(optarg, "user") == 0;
            break;
        case 'k': o.k = mlr_opt_long("--k", optarg, 1, 1000000); break;
        case 'o': o.output = optarg; break;
        case 'q': mlr_quiet_warnings(); break;
        default: mlr_opt_rest(c, "mlr-fuse", usage, argv);
        }
    }
    o.n = argc - optind;
    if (o.n < 2) mlr_usage_die("two list files at least (try 'mlr-fuse --help')");
    if (o.n > MAX_FILES) mlr_usage_die("at most %d list files, not %d", MAX_FILES, o.n);
    int stdin_seen = 0;
    for (int i = 0; i < o.n; i++) {
        o.files[i] = argv[optind + i];
        if (strcmp(o.files[i], "-") == 0 && stdin_seen++)
            mlr_usage_die("stdin ('-') can be one of the files, not two");
        o.w[i] = 1.0;
    }
    if (o.weights) parse_weights(&o);
    return o;
}

/* ---- reading lists ---- */

/* One file of lists, read a query (a group of rows) at a time. */
typedef struct {
    mlr_reader *r;
    const char *name;
    int cq, cu, ck, cr, ci, cs; /* columns; cu, ck -1 when absent */
    int pending;                /* the reader holds the first row of the next group */
    int eof;
} list_file;

/* One query's list: its key and its entries in rank order. */
typedef struct {
    long query;
    char *user, *key; /* user_id, row_item_id: NULL when the file has none */
    size_t n, cap;
    uint32_t *item; /* (K) ids in the run's item map */
    double *score;  /* (K) */
    long line;      /* the line of its first row, for messages */
} list;

static void list_free(list *l)
{
    free(l->user); free(l->key); free(l->item); free(l->score);
}

static int list_open(list_file *f, const char *path, mlr_err *e)
{
    memset(f, 0, sizeof *f);
    f->name = strcmp(path, "-") == 0 ? "stdin" : path;
    if (!(f->r = mlr_reader_open(path, NULL, e))) return -1;
    if ((f->cq = mlr_reader_require(f->r, "query", e)) < 0 || (f->cr = mlr_reader_require(f->r, "rank", e)) < 0 ||
        (f->ci = mlr_reader_require(f->r, "item_id", e)) < 0 || (f->cs = mlr_reader_require(f->r, "score", e)) < 0)
        return -1;
    f->cu = mlr_reader_col(f->r, "user_id");
    f->ck = f->cu >= 0 ? mlr_reader_col(f->r, "row_item_id") : -1;
    return 0;
}

static char *field_dup(const list_file *f, int c)
{
    if (c < 0) return NULL;
    size_t n = mlr_reader_field_len(f->r, (size_t)c);
    char *s = xmalloc(n + 1);
    memcpy(s, mlr_reader_field(f->r, (size_t)c), n);
    s[n] = 0;
    return s;
}

/* The next query's list of f into l: 1 a list, 0 the end, -1 an error
 * (ranks not 1, 2, ..., an item twice, a score that is no number). */
static int list_next(list_file *f, mlr_strmap *items, list *l, mlr_err *e)
{
    if (f->eof) return 0;
    if (!f->pending) {
        int st = mlr_reader_next(f->r, e);
        if (st <= 0) {
            f->eof = 1;
            return st;
        }
    }
    f->pending = 0;
    if (mlr_reader_long(f->r, (size_t)f->cq, &l->query, e) < 0) return -1;
    free(l->user); free(l->key);
    l->user = field_dup(f, f->cu);
    l->key = field_dup(f, f->ck);
    l->line = mlr_reader_line(f->r);
    l->n = 0;
    for (;;) {
        long q, rank;
        double s;
        if (mlr_reader_long(f->r, (size_t)f->cq, &q, e) < 0) return -1;
        if (q != l->query) {
            f->pending = 1;
            return 1;
        }
        if (mlr_reader_long(f->r, (size_t)f->cr, &rank, e) < 0 ||
            mlr_reader_double(f->r, (size_t)f->cs, &s, e) < 0)
            return -1;
        if (rank != (long)l->n + 1)
            return mlr_fail(e, "%s:%ld: rank %ld where %zu was expected for query %ld", f->name,
                            mlr_reader_line(f->r), rank, l->n + 1, q);
        uint32_t it = (uint32_t)mlr_strmap_intern(items, mlr_reader_field(f->r, (size_t)f->ci),
                                                   mlr_reader_field_len(f->r, (size_t)f->ci));
        for (size_t j = 0; j < l->n; j++)
            if (l->item[j] == it)
                return mlr_fail(e, "%s:%ld: item '%.60s' twice in query %ld's list", f->name,
                                mlr_reader_line(f->r), mlr_strmap_key(items, it), q);
        if (l->n == l->cap) {
            l->cap = 2 * l->cap + 16;
            l->item = xrealloc(l->item, l->cap * sizeof *l->item);
            l->score = xrealloc(l->score, l->cap * sizeof *l->score);
        }
        l->item[l->n] = it;
        l->score[l->n++] = s;
        int st = mlr_reader_next(f->r, e);
        if (st < 0) return -1;
        if (st == 0) {
            f->eof = 1;
            return 1;
        }
    }
}

/* ---- the fingerprint line ---- */

/* The output's line from the inputs': exclude= must agree where said;
 * model= is the set of the distinct models named (one: its own). */
static int fuse_fprint(list_file *f, int n, mlr_fprint *out, mlr_err *e)
{
    memset(out, 0, sizeof *out);
    mlr_fprint fp[MAX_FILES];
    const char *models[MAX_FILES];
    int nm = 0, ex = -1;
    for (int i = 0; i < n; i++) {
        if (mlr_fprint_parse(&fp[i], mlr_reader_fprint(f[i].r), f[i].name, e) < 0) return -1;
        if (fp[i].exclude[0]) {
            if (ex >= 0 && strcmp(fp[ex].exclude, fp[i].exclude) != 0)
                return mlr_fail(e, "%s excludes %.12s, %s %.12s: lists made against two training tables",
                                f[ex].name, fp[ex].exclude, f[i].name, fp[i].exclude);
            if (ex < 0) ex = i;
        }
        if (!fp[i].model[0]) continue;
        int j = 0; /* insertion into the sorted distinct set */
        while (j < nm && strcmp(models[j], fp[i].model) < 0) j++;
        if (j < nm && strcmp(models[j], fp[i].model) == 0) continue;
        memmove(models + j + 1, models + j, (size_t)(nm - j) * sizeof *models);
        models[j] = fp[i].model;
        nm++;
    }
    if (ex >= 0) strcpy(out->exclude, fp[ex].exclude);
    if (nm) mlr_fprint_set(models, nm, out->model);
    return 0;
}

/* ---- fusing ---- */

/* Fuses the lists L[0..n) (their weights w) and writes the best k as
 * the first list's query and key (fuse.h's rule). */
static void fuse_write(FILE *fp, const list *const *L, const double *w, int n, size_t k,
                       const mlr_strmap *items, mlr_fuse_scratch *s)
{
    mlr_fuse_list F[MAX_FILES];
    for (int i = 0; i < n; i++) F[i] = (mlr_fuse_list){L[i]->n, L[i]->item, L[i]->score};
    uint32_t *item = xmalloc((k + 1) * sizeof *item);
    double *score = xmalloc((k + 1) * sizeof *score);
    size_t got = mlr_fuse_z(F, w, n, mlr_strmap_count(items), k, s, item, score);
    const list *a = L[0];
    for (size_t r = 0; r < got; r++) {
        fprintf(fp, "%ld\t", a->query);
        if (a->user) fprintf(fp, "%s\t", a->user);
        if (a->key) fprintf(fp, "%s\t", a->key);
        fprintf(fp, "%zu\t%s\t%.6g\n", r + 1, mlr_strmap_key(items, item[r]), score[r]);
    }
    free(item);
    free(score);
}

/* --join query: the same query, user and key in every file, in order. */
static int same_query(const list_file *f0, const list *a, const list_file *fi, const list *b, mlr_err *e)
{
    if (a->query == b->query && (!a->user || !b->user || strcmp(a->user, b->user) == 0) &&
        (!a->key || !b->key || strcmp(a->key, b->key) == 0))
        return 0;
    return mlr_fail(e, "%s:%ld: query %ld (user '%.60s'), %s:%ld: query %ld (user '%.60s'): lists for "
                    "different queries", f0->name, a->line, a->query, a->user ? a->user : "-", fi->name,
                    b->line, b->query, b->user ? b->user : "-");
}

static int fuse_by_query(const options *o, list_file *f, mlr_strmap *items, FILE *fp, mlr_err *e)
{
    list L[MAX_FILES];
    const list *P[MAX_FILES];
    memset(L, 0, sizeof L);
    mlr_fuse_scratch s = {0};
    int rc = 0;
    for (long q = 0; rc == 0; q++) {
        int got0 = 0;
        for (int i = 0; i < o->n && rc == 0; i++) {
            int st = list_next(&f[i], items, &L[i], e);
            if (st < 0) rc = -1;
            else if (i == 0) got0 = st;
            else if (st != got0)
                rc = mlr_fail(e, "%s %s after %ld queries, %s does not: lists for different queries",
                              st ? f[0].name : f[i].name, "ends", q, st ? f[i].name : f[0].name);
            else if (st) rc = same_query(&f[0], &L[0], &f[i], &L[i], e);
            P[i] = &L[i];
        }
        if (rc < 0 || !got0) break;
        fuse_write(fp, P, o->w, o->n, (size_t)o->k, items, &s);
    }
    for (int i = 0; i < o->n; i++) list_free(&L[i]);
    mlr_fuse_scratch_free(&s);
    return rc;
}

/* --join user: the other files' lists held by user, one each. */
typedef struct {
    mlr_strmap *users;
    list *by; /* (users) */
    size_t cap;
} user_lists;

static int load_users(list_file *f, mlr_strmap *items, user_lists *ul, mlr_err *e)
{
    if (f->cu < 0) return mlr_fail(e, "%s: no column 'user_id' in the header (--join user)", f->name);
    ul->users = mlr_strmap_new(0);
    list l = {0};
    int st;
    while ((st = list_next(f, items, &l, e)) == 1) {
        int added;
        size_t u = mlr_strmap_intern2(ul->users, l.user, strlen(l.user), &added);
        if (!added) {
            st = mlr_fail(e, "%s:%ld: a second list for user '%.60s': --join user wants one list a user",
                          f->name, l.line, l.user);
            break;
        }
        if (u >= ul->cap) {
            ul->cap = 2 * u + 16;
            ul->by = xrealloc(ul->by, ul->cap * sizeof *ul->by);
        }
        ul->by[u] = l; /* taken whole; l starts afresh */
        memset(&l, 0, sizeof l);
    }
    list_free(&l);
    return st < 0 ? -1 : 0;
}

static void user_lists_free(user_lists *ul)
{
    for (size_t u = 0; ul->users && u < mlr_strmap_count(ul->users); u++) list_free(&ul->by[u]);
    free(ul->by);
    mlr_strmap_free(ul->users);
}

static int fuse_by_user(const options *o, list_file *f, mlr_strmap *items, FILE *fp, mlr_err *e)
{
    user_lists ul[MAX_FILES];
    memset(ul, 0, sizeof ul);
    int rc = f[0].cu < 0 ? mlr_fail(e, "%s: no column 'user_id' in the header (--join user)", f[0].name) : 0;
    for (int i = 1; i < o->n && rc == 0; i++) rc = load_users(&f[i], items, &ul[i], e);
    list a = {0};
    const list *P[MAX_FILES];
    mlr_fuse_scratch s = {0};
    P[0] = &a;
    int st = 0;
    for (long q = 0; rc == 0 && (st = list_next(&f[0], items, &a, e)) == 1; q++) {
        for (int i = 1; i < o->n && rc == 0; i++) {
            long u = mlr_strmap_find(ul[i].users, a.user, strlen(a.user));
            if (u < 0)
                rc = mlr_fail(e, "%s:%ld: user '%.60s' has no list in %s: lists for different queries",
                              f[0].name, a.line, a.user, f[i].name);
            else
                P[i] = &ul[i].by[u];
        }
        if (rc == 0) fuse_write(fp, P, o->w, o->n, (size_t)o->k, items, &s);
    }
    if (st < 0) rc = -1;
    list_free(&a);
    mlr_fuse_scratch_free(&s);
    for (int i = 1; i < o->n; i++) user_lists_free(&ul[i]);
    return rc;
}

static int run(const options *o, mlr_err *e)
{
    list_file f[MAX_FILES];
    memset(f, 0, sizeof f);
    mlr_strmap *items = mlr_strmap_new(0);
    int rc = 0;
    for (int i = 0; i < o->n && rc == 0; i++) rc = list_open(&f[i], o->files[i], e);
    mlr_fprint lf;
    if (rc == 0) rc = fuse_fprint(f, o->n, &lf, e);
    if (rc == 0) {
        mlr_out out;
        rc = mlr_out_open(&out, o->output, e);
        if (rc == 0) {
            mlr_fprint_write(out.fp, &lf);
            fputs("query\t", out.fp);
            if (f[0].cu >= 0) fputs("user_id\t", out.fp);
            if (f[0].ck >= 0) fputs("row_item_id\t", out.fp);
            fputs("rank\titem_id\tscore\n", out.fp);
            rc = o->by_user ? fuse_by_user(o, f, items, out.fp, e) : fuse_by_query(o, f, items, out.fp, e);
            if (rc == 0)
                rc = mlr_out_commit(&out, e);
            else
                mlr_out_abort(&out);
        }
    }
    for (int i = 0; i < o->n; i++) mlr_reader_close(f[i].r);
    mlr_strmap_free(items);
    return rc;
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    options o = parse_args(argc, argv);
    mlr_err e;
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
