/* mlr-score: the evaluation figures of SPEC.md ("the seed's evaluation
 * protocol" and the field's usual one) from embeddings, top-k lists or
 * predicted ratings, against the test rows.
 *
 * From embeddings it never materialises lists: for each test row it counts
 * the items that outrank the true one (the rank tie rule of topk.h), which
 * is what makes top-100 over every item cheap. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cblas.h>

#include "fprint.h"
#include "ids.h"
#include "metrics.h"
#include "mlr.h"
#include "npy.h"
#include "strmap.h"
#include "table.h"
#include "topk.h"

#define ABSENT UINT32_MAX

typedef struct {
    const char *test, *queries, *items, *item_ids, *topk, *train, *pred, *output, *user_queries, *user_figures;
    size_t at[MLR_MAX_AT], nat;
    long block, threads;
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-score --test TEST.tsv [--queries Q.npy --items I.npy | --topk LISTS.tsv]\n"
        "                 [--train TRAIN.tsv] [--pred PRED.tsv] [--at 10,50] [--output FILE]\n"
        "Metrics of a model against the test rows (TEST: user_id, item_id, and rating\n"
        "for --pred; an encoded rows.tsv works). Writes a TSV with columns metric, value:\n"
        "  queries              test rows\n"
        "  top1 .. top100       share of test rows whose true item ranks within the top\n"
        "                       1/5/10/50/100 of ALL items (nothing removed: the seed's\n"
        "                       protocol). Rank = 1 + #items scoring higher + #items\n"
        "                       scoring equal with a smaller catalogue index.\n"
        "  top1_excl ..         the same with the user's training items removed (--train;\n"
        "                       the row's own true item is never removed)\n"
        "  users, recall@k precision@k ndcg@k map@k hit_rate@k coverage@k\n"
        "                       per user (every user with a test row), training items\n"
        "                       removed, relevant = the user's test items (--train);\n"
        "                       coverage = share of catalogue items in some user's top k\n"
        "  rmse, mae            of --pred's predictions (needs TEST's rating column)\n"
        "An item absent from the catalogue (or from a list) is a miss. Inputs whose\n"
        "fingerprints name two models (the .ids of Q, I and U, the lists, the predictions;\n"
        "docs/fingerprint.md) are refused in one line naming both.\n"
        "  --test FILE       the truth, one row per query row (required)\n"
        "  --queries Q.npy   query embeddings (N, D), '-' for stdin; joined to TEST by the\n"
        "                    key (user_id, item_id) of Q.ids where it has both, else row i =\n"
        "                    test row i.\n"
        "                    A user's per-user query is the MEAN of the embeddings of the\n"
        "                    user's test rows, unless --user-queries\n"
        "  --user-queries U.npy  one query per user (U, D), its user ids in U.ids (mlr-embed\n"
        "                    of mlr-history --per-user rows: the user at their last training\n"
        "                    time, never reading the test rows): the per-user metrics' queries\n"
        "  --items I.npy     candidate embeddings (M, D), with --queries\n"
        "  --item-ids FILE   catalogue ids, column id (default: I.npy's name with .ids;\n"
        "                    with --topk: optional, needed for coverage@k)\n"
        "  --topk FILE       lists from mlr-topk or mlr-baseline ('-' for stdin): columns\n"
        "                    query, rank, item_id; each query's rows together, ranks 1, 2..\n"
        "                    The join: lists with user_id and row_item_id (mlr-baseline,\n"
        "                    mlr-topk --query-ids of mlr-embed's ids) go to the test row of\n"
        "                    that (user, item) key, whatever TEST's order; without\n"
        "                    row_item_id query q is row q of TEST, whose user must be the\n"
        "                    list's user_id. Every row has exactly one list, else refused.\n"
        "                    top-k figures need lists of k; the per-user list is the list of\n"
        "                    the user's first query, training items filtered out. With\n"
        "                    --train, an _excl or per-user figure at k is reported only where\n"
        "                    every list still holds k items (or its truth) once the training\n"
        "                    items are out: make the lists with mlr-topk --exclude TRAIN.\n"
        "                    Lists made excluding another table are refused\n"
        "  --train FILE      training rows (user_id, item_id): the _excl and per-user metrics\n"
        "  --pred FILE       predictions: user_id, item_id, prediction; joined with TEST by\n"
        "                    (user_id, item_id)\n"
        "  --at LIST         the k of the per-user metrics (default 10)\n"
        "  --user-figures FILE  each user's per-user figures too (with --train): columns\n"
        "                    user_id, then recall@k precision@k ndcg@k map@k hit_rate@k\n"
        "                    for each k reported, a row per user in the test rows' order;\n"
        "                    their means are the figures above. For paired comparisons\n"
        "                    of two recommenders on the same users (written atomically,\n"
        "                    with the output: both or neither; '-': stdout, the figures\n"
        "                    then to --output FILE)\n"
        "  --block B         query rows held at a time (default 1024)\n"
        "  --threads T       worker threads (default: the number of CPUs)\n"
        "  -o, --output FILE\n"
        "                    write here atomically (default stdout)\n"
        "  -q, --quiet       nothing on stderr but errors (there is no progress to hide)\n"
        "  -h, --help        this help;  --version  the version\n"
        "example: mlr-score --test test.tsv --train train.tsv --queries query.npy \\\n"
        "           --items items.npy --pred pred.tsv\n");
}

static options parse_args(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.at[0] = 10;
    o.nat = 1;
    o.block = 1024;
    o.threads = mlr_cpus();
    static const struct option longs[] = {
        {"test", required_argument, 0, 't'}, {"queries", required_argument, 0, 'Q'},
        {"items", required_argument, 0, 'i'}, {"item-ids", required_argument, 0, 'I'},
        {"topk", required_argument, 0, 'l'}, {"train", required_argument, 0, 'r'},
        {"pred", required_argument, 0, 'p'}, {"at", required_argument, 0, 'a'},
        {"block", required_argument, 0, 'b'}, {"threads", required_argument, 0, 'T'},
        {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
        {"user-queries", required_argument, 0, 'U'}, {"user-figures", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:q", longs, NULL)) != -1) {
        switch (c) {
        case 't': o.test = optarg; break;
        case 'Q': o.queries = optarg; break;
        case 'i': o.items = optarg; break;
        case 'I': o.item_ids = optarg; break;
        case 'l': o.topk = optarg; break;
        case 'r': o.train = optarg; break;
        case 'p': o.pred = optarg; break;
        case 'a':
            if (mlr_parse_at(optarg, o.at, &o.nat) < 0)
                mlr_usage_die("--at wants a list of k like 10,50 (each 1..1000000), not '%s'", optarg);
            break;
        case 'b': o.block = mlr_opt_long("--block", optarg, 1, 1000000); break;
        case 'T': o.threads = mlr_opt_long("--threads", optarg, 1, 256); break;
        case 'o': o.output = optarg; break;
        case 'q': mlr_quiet_warnings(); break;
        case 'U': o.user_queries = optarg; break;
        case 'P': o.user_figures = optarg; break;
        default: mlr_opt_rest(c, "mlr-score", usage, argv);
        }
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-score --help')", argv[optind]);
    if (!o.test) mlr_usage_die("--test is required (try 'mlr-score --help')");
    if (o.queries && o.topk) mlr_usage_die("--queries and --topk exclude each other");
    if (!!o.queries != !!o.items) mlr_usage_die("--queries and --items go together");
    if (o.user_queries && !o.queries) mlr_usage_die("--user-queries needs --queries and --items");
    if (!o.queries && !o.topk && !o.pred)
        mlr_usage_die("nothing to score: give --queries/--items, --topk or --pred");
    if (o.user_figures && (!o.train || (!o.queries && !o.topk)))
        mlr_usage_die("--user-figures needs --train and --queries/--items or --topk (the per-user figures)");
    if (o.user_figures && o.output && strcmp(o.user_figures, o.output) == 0)
        mlr_usage_die("--user-figures and --output name the same file '%s'", o.output);
    if (o.user_figures && strcmp(o.user_figures, "-") == 0 && (!o.output || strcmp(o.output, "-") == 0))
        mlr_usage_die("--user-figures - and the figures would both go to stdout: give --output FILE");
    return o;
}

/* Everything known about the test rows and the item space. Item ids: the
 * catalogue's first (0 .. M-1), then any other item met (>= M). */
typedef struct {
    size_t rows, users, m;    /* m: catalogue size, 0 when unknown */
    mlr_strmap *user_ids, *item_ids;
    uint32_t *user_of, *item_of; /* (N) */
    double *rating;              /* (N) or NULL */
    size_t *first_row;           /* (U) each user's first test row */
    mlr_usersets rel, seen;      /* per user: test items; training items */
    int have_seen;
    char train_sha[65];          /* --train's SHA-256, "unknown", "" without */
    /* The join by key (user, item): rows of one key chained in file order. */
    mlr_strmap *keys;            /* (user, item) as 8 bytes -> key id */
    size_t *key_head, *row_next; /* (K) first row, (N) next row of its key */
    /* The fingerprints met so far (docs/fingerprint.md): the first named. */
    mlr_fprint fp;
    char fp_from[512];
} truth;

static void truth_free(truth *t)
{
    free(t->user_of); free(t->item_of); free(t->rating); free(t->first_row);
    free(t->key_head); free(t->row_next);
    mlr_usersets_free(&t->rel);
    mlr_usersets_free(&t->seen);
    mlr_strmap_free(t->user_ids);
    mlr_strmap_free(t->item_ids);
    mlr_strmap_free(t->keys);
}

/* One more input's fingerprint: of the same model as those before, or
 * refused in one line naming both. */
static int same_model(truth *t, const char *name, const mlr_fprint *f, mlr_err *e)
{
    if (!f->model[0]) return 0;
    if (!t->fp.model[0]) {
        t->fp = *f;
        snprintf(t->fp_from, sizeof t->fp_from, "%s", name);
        return 0;
    }
    return mlr_fprint_same(t->fp_from, &t->fp, name, f, e);
}

/* The fingerprint in X.ids beside the .npy PATH (or in the table PATH),
 * when that is a file that exists: '-' and a missing .ids say nothing. */
static int ids_model(truth *t, const char *path, int is_npy, mlr_err *e)
{
    if (!path || strcmp(path, "-") == 0) return 0;
    char *ids = is_npy ? mlr_ids_path(path) : xstrdup(path);
    mlr_fprint f;
    int rc = access(ids, R_OK) != 0 ? 0 : mlr_fprint_read(ids, &f, e);
    if (rc == 0 && access(ids, R_OK) == 0) rc = same_model(t, ids, &f, e);
    free(ids);
    return rc;
}

static int read_test(truth *t, const char *path, int want_rating, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r) return -1;
    int cu = mlr_reader_require(r, "user_id", e), ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", e);
    int cr = ci >= 0 && want_rating ? mlr_reader_require(r, "rating", e) : 0;
    if (cu < 0 || ci < 0 || cr < 0) {
        mlr_reader_close(r);
        return -1;
    }
    size_t cap = 1024;
    t->user_of = xmalloc(cap * sizeof *t->user_of);
    t->item_of = xmalloc(cap * sizeof *t->item_of);
    t->rating = want_rating ? xmalloc(cap * sizeof *t->rating) : NULL;
    int st;
    while ((st = mlr_reader_next(r, e)) == 1) {
        if (t->rows == cap) {
            cap *= 2;
            t->user_of = xrealloc(t->user_of, cap * sizeof *t->user_of);
            t->item_of = xrealloc(t->item_of, cap * sizeof *t->item_of);
            if (t->rating) t->rating = xrealloc(t->rating, cap * sizeof *t->rating);
        }
        size_t n = t->rows++;
        t->user_of[n] = (uint32_t)mlr_strmap_intern(t->user_ids, mlr_reader_field(r, (size_t)cu),
                                                    mlr_reader_field_len(r, (size_t)cu));
        t->item_of[n] = (uint32_t)mlr_strmap_intern(t->item_ids, mlr_reader_field(r, (size_t)ci),
                                                    mlr_reader_field_len(r, (size_t)ci));
        if (t->rating && mlr_reader_double(r, (size_t)cr, &t->rating[n], e) < 0) {
            st = -1;
            break;
        }
    }
    mlr_reader_close(r);
    if (st < 0) return -1;
    t->users = mlr_strmap_count(t->user_ids);
    t->first_row = xmalloc(mlr_nz(t->users) * sizeof *t->first_row);
    for (size_t u = 0; u < t->users; u++) t->first_row[u] = SIZE_MAX;
    for (size_t i = t->rows; i-- > 0;) t->first_row[t->user_of[i]] = i;
    mlr_usersets_build(&t->rel, t->users, t->user_of, t->item_of, t->rows);
    /* The keys: each (user, item)'s rows, chained in file order. */
    t->keys = mlr_strmap_new(t->rows);
    t->key_head = xmalloc(mlr_nz(t->rows) * sizeof *t->key_head);
    t->row_next = xmalloc(mlr_nz(t->rows) * sizeof *t->row_next);
    size_t *tail = xmalloc(mlr_nz(t->rows) * sizeof *tail);
    for (size_t i = 0; i < t->rows; i++) {
        uint32_t key[2] = {t->user_of[i], t->item_of[i]};
        int added;
        size_t k = mlr_strmap_intern2(t->keys, (const char *)key, sizeof key, &added);
        t->row_next[i] = SIZE_MAX;
        if (added) t->key_head[k] = i;
        else t->row_next[tail[k]] = i;
        tail[k] = i;
    }
    free(tail);
    return 0;
}

/* The test row of key (user, item) not yet taken: its first row left in
 * file order, or SIZE_MAX (no such row, or all taken). key_head is
 * consumed: a join is made once. */
static size_t take_row(truth *t, const char *user, size_t ulen, const char *item, size_t ilen)
{
    long u = mlr_strmap_find(t->user_ids, user, ulen), i = mlr_strmap_find(t->item_ids, item, ilen);
    if (u < 0 || i < 0) return SIZE_MAX;
    uint32_t key[2] = {(uint32_t)u, (uint32_t)i};
    long k = mlr_strmap_find(t->keys, (const char *)key, sizeof key);
    if (k < 0) return SIZE_MAX;
    size_t row = t->key_head[k];
    if (row != SIZE_MAX) t->key_head[k] = t->row_next[row];
    return row;
}

/* ---- output ---- */

static void put(FILE *fp, const char *name, double v) { fprintf(fp, "%s\t%.6g\n", name, v); }

static void put_accuracy(FILE *fp, const mlr_accuracy *a, const char *suffix, size_t kmax)
{
    char name[64];
    for (size_t i = 0; i < a->nk; i++) {
        if (a->k[i] > kmax) continue;
        snprintf(name, sizeof name, "top%zu%s", a->k[i], suffix);
        put(fp, name, mlr_accuracy_value(a, i));
    }
}

/* --user-figures' table: a row per user with a test item, the figures of
 * put_user_figures's k, so that a column's mean is its figure there. */
static void put_user_rows(FILE *pu, const options *o, const truth *t, const uint32_t *lists,
                          const size_t *len, size_t kmax, size_t known)
{
    static const char *names[5] = {"recall", "precision", "ndcg", "map", "hit_rate"};
    fputs("user_id", pu);
    for (size_t a = 0; a < o->nat; a++)
        for (int i = 0; i < 5 && o->at[a] <= known; i++) fprintf(pu, "\t%s@%zu", names[i], o->at[a]);
    fputc('\n', pu);
    for (size_t u = 0; u < t->users; u++) {
        size_t n;
        const uint32_t *rel = mlr_usersets_get(&t->rel, u, &n);
        if (n == 0) continue;
        fputs(mlr_strmap_key(t->user_ids, u), pu);
        for (size_t a = 0; a < o->nat; a++) {
            if (o->at[a] > known) continue;
            mlr_user_metrics m;
            mlr_user_metrics_at(lists + u * kmax, len[u], rel, n, o->at[a], &m);
            fprintf(pu, "\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g", m.recall, m.precision, m.ndcg, m.ap, m.hit);
        }
        fputc('\n', pu);
    }
}

/* Per-user figures at each k of --at up to known (the lists' length once
 * training items are out), from lists (U, kmax) best first; each user's
 * into pu too (--user-figures) unless it is NULL. */
static void put_user_figures(FILE *fp, FILE *pu, const options *o, const truth *t, const uint32_t *lists,
                         const size_t *len, size_t kmax, size_t known)
{
    if (pu) put_user_rows(pu, o, t, lists, len, kmax, known);
    unsigned char *covered = t->m ? xcalloc(t->m, 1) : NULL;
    char name[64];
    fprintf(fp, "users\t%zu\n", t->users);
    for (size_t a = 0; a < o->nat; a++) {
        size_t k = o->at[a], n, ncov = 0;
        if (k > known) continue;
        mlr_ranking rk;
        mlr_ranking_init(&rk, k);
        if (covered) memset(covered, 0, t->m);
        for (size_t u = 0; u < t->users; u++) {
            const uint32_t *rel = mlr_usersets_get(&t->rel, u, &n);
            mlr_ranking_add(&rk, lists + u * kmax, len[u], rel, n);
            for (size_t j = 0; covered && j < len[u] && j < k; j++) {
                uint32_t it = lists[u * kmax + j];
                if (it < t->m && !covered[it]) {
                    covered[it] = 1;
                    ncov++;
                }
            }
        }
        mlr_user_metrics m = mlr_ranking_mean(&rk);
        double v[5] = {m.recall, m.precision, m.ndcg, m.ap, m.hit};
        const char *names[5] = {"recall", "precision", "ndcg", "map", "hit_rate"};
        for (int i = 0; i < 5; i++) {
            snprintf(name, sizeof name, "%s@%zu", names[i], k);
            put(fp, name, v[i]);
        }
        if (covered) {
            snprintf(name, sizeof name, "coverage@%zu", k);
            put(fp, name, (double)ncov / (double)t->m);
        }
    }
    free(covered);
}

static size_t max_at(const options *o)
{
    size_t k = 0;
    for (size_t i = 0; i < o->nat; i++)
        if (o->at[i] > k) k = o->at[i];
    return k;
}


/* ---- from embeddings ---- */

typedef struct {
    size_t m;
    const uint32_t *truth;     /* (B) catalogue index or ABSENT */
    const uint32_t **ex;       /* (B) or NULL */
    const size_t *nex;
    size_t *rank, *rank_excl;  /* (B) 0 = miss */
} rank_job;

static void rank_row(size_t row, float *scores, void *p)
{
    rank_job *j = p;
    uint32_t t = j->truth[row];
    j->rank[row] = t == ABSENT ? 0 : mlr_topk_rank(scores, j->m, t, NULL, 0);
    if (j->ex) j->rank_excl[row] = t == ABSENT ? 0 : mlr_topk_rank(scores, j->m, t, j->ex[row], j->nex[row]);
}

/* Row q of Q -> its test row (N), by the key in Q.ids (id = user_id,
 * item_id) where Q.ids beside Q.npy has both; else NULL: row q is test
 * row q. Every test row must get exactly one row of Q. */
static int query_rows(const options *o, truth *t, size_t **out, mlr_err *e)
{
    *out = NULL;
    if (strcmp(o->queries, "-") == 0) return 0;
    char *ids = mlr_ids_path(o->queries);
    if (access(ids, R_OK) != 0) {
        free(ids);
        return 0;
    }
    mlr_reader *r = mlr_reader_open(ids, NULL, e);
    int rc = r ? 0 : -1, cu = r ? mlr_reader_col(r, "id") : -1, ci = r ? mlr_reader_col(r, "item_id") : -1;
    if (rc < 0 || cu < 0 || ci < 0) {
        mlr_reader_close(r);
        free(ids);
        return rc;
    }
    size_t *row = xmalloc(mlr_nz(t->rows) * sizeof *row), n = 0;
    int st;
    while ((st = mlr_reader_next(r, e)) == 1) {
        size_t q = take_row(t, mlr_reader_field(r, (size_t)cu), mlr_reader_field_len(r, (size_t)cu),
                            mlr_reader_field(r, (size_t)ci), mlr_reader_field_len(r, (size_t)ci));
        if (q == SIZE_MAX || n >= t->rows) {
            st = mlr_fail(e, "%s:%ld: user '%.60s' item '%.60s' has no row left in %s: the queries were "
                          "made from another test file", ids, mlr_reader_line(r), mlr_reader_field(r, (size_t)cu),
                          mlr_reader_field(r, (size_t)ci), o->test);
            break;
        }
        row[n++] = q;
    }
    if (st == 0 && n != t->rows)
        st = mlr_fail(e, "%s has %zu rows, %s %zu: the queries were made from another test file", ids, n,
                      o->test, t->rows);
    mlr_reader_close(r);
    free(ids);
    if (st < 0) {
        free(row);
        return -1;
    }
    *out = row;
    return 0;
}

/* Streams Q: the rank of each row's truth, and each user's query sum. */
static int rank_rows(const options *o, truth *t, mlr_scorer *sc, size_t d,
                     mlr_accuracy *acc, mlr_accuracy *acc_x, double *usum, mlr_err *e)
{
    mlr_npy_rows q;
    size_t *row_of = NULL;
    if (mlr_npy_rows_open(&q, o->queries, e) < 0) return -1;
    int rc = 0;
    if (q.cols != d) rc = mlr_fail(e, "%s has %zu columns, %s %zu", q.name, q.cols, o->items, d);
    else if (q.rows != t->rows) rc = mlr_fail(e, "%s has %zu rows, %s %zu", q.name, q.rows, o->test, t->rows);
    else rc = query_rows(o, t, &row_of, e);
    if (rc < 0) {
        mlr_npy_rows_close(&q);
        return -1;
    }
    /* Blocks of whole tiles: ranks then do not depend on --block. */
    size_t block = (size_t)o->block, tile = mlr_scorer_tile(sc);
    block = block < tile ? tile : block / tile * tile;
    float *qb = xmalloc(mlr_nz(block * d) * sizeof *qb); /* (B, D) */
    uint32_t *tr = xmalloc(block * sizeof *tr);
    size_t *rank = xmalloc(block * sizeof *rank), *rank_x = xmalloc(block * sizeof *rank_x);
    const uint32_t **ex = xmalloc(block * sizeof *ex);
    size_t *nex = xmalloc(block * sizeof *nex);
    rank_job j = {t->m, tr, t->have_seen ? ex : NULL, nex, rank, rank_x};
    long got;
    while ((got = mlr_npy_rows_read(&q, qb, block, e)) > 0) {
        size_t b = (size_t)got, first = q.done - b;
        for (size_t r = 0; r < b; r++) {
            size_t i = row_of ? row_of[first + r] : first + r;
            uint32_t u = t->user_of[i];
            tr[r] = t->item_of[i] < t->m ? t->item_of[i] : ABSENT;
            ex[r] = mlr_usersets_get(&t->seen, u, &nex[r]);
            for (size_t c = 0; c < d; c++) usum[(size_t)u * d + c] += qb[r * d + c];
        }
        mlr_scorer_run(sc, qb, b, rank_row, &j);
        for (size_t r = 0; r < b; r++) {
            mlr_accuracy_add(acc, rank[r]);
            if (t->have_seen) mlr_accuracy_add(acc_x, rank_x[r]);
        }
    }
    mlr_npy_rows_close(&q);
    free(qb); free(tr); free(rank); free(rank_x); free(ex); free(nex); free(row_of);
    return got < 0 ? -1 : 0;
}

/* Each user's query (U, D): the mean of the user's test rows' queries. */
static float *mean_queries(const truth *t, size_t d, const double *usum)
{
    float *uq = xmalloc(mlr_nz(t->users * d) * sizeof *uq);
    size_t *rows = xcalloc(mlr_nz(t->users), sizeof *rows);
    for (size_t i = 0; i < t->rows; i++) rows[t->user_of[i]]++;
    for (size_t u = 0; u < t->users; u++)
        for (size_t c = 0; c < d; c++) uq[u * d + c] = (float)(usum[u * d + c] / (double)rows[u]);
    free(rows);
    return uq;
}

/* Each user's query (U, D) from --user-queries: the row of U.npy whose id
 * in U.ids is the user's; every test user must have one. NULL on error. */
static float *given_queries(const options *o, const truth *t, size_t d, mlr_err *e)
{
    mlr_array q;
    if (mlr_npy_read(o->user_queries, MLR_F4, &q, e) < 0) return NULL;
    char *ids = mlr_ids_path(o->user_queries);
    mlr_strmap *users = mlr_strmap_new(0);
    float *uq = NULL;
    size_t rows = 0, bad;
    int rc = 0;
    if (q.ndim != 2 || q.shape[1] != d)
        rc = mlr_fail(e, "%s: expected a (U, %zu) <f4 matrix, the width of %s", o->user_queries, d, o->items);
    if (rc == 0) rc = mlr_ids_read(ids, users, &rows, e);
    if (rc == 0 && rows != q.shape[0])
        rc = mlr_fail(e, "%s has %zu rows, %s %zu", ids, rows, o->user_queries, q.shape[0]);
    if (rc == 0 && !mlr_all_finite(q.data, rows * d, &bad))
        rc = mlr_fail(e, "%s: row %zu: non-finite value", o->user_queries, bad / d);
    if (rc == 0) {
        uq = xmalloc(mlr_nz(t->users * d) * sizeof *uq);
        for (size_t u = 0; u < t->users && uq; u++) {
            long r = mlr_strmap_find(users, mlr_strmap_key(t->user_ids, u), mlr_strmap_key_len(t->user_ids, u));
            if (r < 0) {
                mlr_fail(e, "%s: no query for user '%s' of %s", ids, mlr_strmap_key(t->user_ids, u), o->test);
                free(uq);
                uq = NULL;
            } else {
                memcpy(uq + u * d, (const float *)q.data + (size_t)r * d, d * sizeof *uq);
            }
        }
    }
    mlr_strmap_free(users);
    free(ids);
    mlr_array_free(&q);
    return uq;
}

/* Each user's list: the top kmax of the user's query, training items removed. */
static void user_lists(const options *o, const truth *t, mlr_scorer *sc, size_t d,
                       const float *uq, uint32_t *lists, size_t *len, size_t kmax)
{
    size_t block = (size_t)o->block;
    float *qb = xmalloc(mlr_nz(block * d) * sizeof *qb); /* (B, D) */
    mlr_hit *hits = xmalloc(mlr_nz(block * kmax) * sizeof *hits);
    const uint32_t **ex = xmalloc(block * sizeof *ex);
    size_t *nex = xmalloc(block * sizeof *nex);
    for (size_t u0 = 0; u0 < t->users; u0 += block) {
        size_t b = t->users - u0 < block ? t->users - u0 : block;
        memcpy(qb, uq + u0 * d, b * d * sizeof *qb);
        for (size_t r = 0; r < b; r++)
            ex[r] = mlr_usersets_get(&t->seen, u0 + r, &nex[r]);
        mlr_topk_block(sc, qb, b, kmax, ex, nex, hits, len + u0);
        for (size_t r = 0; r < b; r++)
            for (size_t i = 0; i < len[u0 + r]; i++) lists[(u0 + r) * kmax + i] = hits[r * kmax + i].item;
    }
    free(qb); free(hits); free(ex); free(nex);
}

static int score_embeddings(const options *o, truth *t, FILE *fp, FILE *pu, mlr_err *e)
{
    mlr_array items;
    if (mlr_npy_read(o->items, MLR_F4, &items, e) < 0) return -1;
    size_t m = items.ndim == 2 ? items.shape[0] : 0, d = items.ndim == 2 ? items.shape[1] : 0, bad;
    int rc = 0;
    if (items.ndim != 2) rc = mlr_fail(e, "%s: expected a 2-D <f4 matrix (M, D), found 1-D", o->items);
    else if (!mlr_all_finite(items.data, m * d, &bad)) rc = mlr_fail(e, "%s: row %zu: non-finite value", o->items, bad / d);
    else if (t->m != m) rc = mlr_fail(e, "%s has %zu rows, %s %zu", o->item_ids, t->m, o->items, m);
    if (rc < 0) {
        mlr_array_free(&items);
        return -1;
    }
    int threads = (int)o->threads;
    openblas_set_num_threads(1); /* our threads run single-threaded sgemms */
    mlr_scorer *sc = mlr_scorer_new(items.data, m, d, 32, threads);
    mlr_accuracy acc, acc_x;
    mlr_accuracy_init(&acc, MLR_ACC_K, MLR_ACC_N);
    mlr_accuracy_init(&acc_x, MLR_ACC_K, MLR_ACC_N);
    double *usum = xcalloc(mlr_nz(t->users * d), sizeof *usum); /* (U, D) */
    rc = rank_rows(o, t, sc, d, &acc, &acc_x, usum, e);
    if (rc == 0) {
        fprintf(fp, "queries\t%zu\n", t->rows);
        put_accuracy(fp, &acc, "", SIZE_MAX);
    }
    if (rc == 0 && t->have_seen) {
        put_accuracy(fp, &acc_x, "_excl", SIZE_MAX);
        size_t kmax = max_at(o);
        float *uq = o->user_queries ? given_queries(o, t, d, e) : mean_queries(t, d, usum);
        if (!uq) {
            rc = -1;
        } else {
            uint32_t *lists = xmalloc(mlr_nz(t->users * kmax) * sizeof *lists); /* (U, K) */
            size_t *len = xcalloc(mlr_nz(t->users), sizeof *len);
            user_lists(o, t, sc, d, uq, lists, len, kmax);
            put_user_figures(fp, pu, o, t, lists, len, kmax, SIZE_MAX);
            free(lists);
            free(len);
            free(uq);
        }
    }
    free(usum);
    mlr_scorer_free(sc);
    mlr_array_free(&items);
    return rc;
}

/* ---- from lists ---- */

typedef struct {
    mlr_reader *r;
    int cq, cr, ci, cu, ck; /* cu: user_id, ck: row_item_id (the key), -1 without */
    const char *test;   /* the test file's name, for messages */
    size_t queries;     /* distinct queries met */
    size_t query;       /* current group's query value */
    size_t row;         /* its test row */
    size_t next;        /* the rank expected next */
    size_t kept;        /* entries of the group not removed as training items */
    size_t short_x;     /* fewest kept entries of a list that misses its truth */
    unsigned char *done; /* (N) groups already closed */
} list_reader;

/* A group closes: a list that missed its truth once training items are
 * out knows the _excl rank only up to what it kept. */
static void close_group(list_reader *l, const size_t *rank_x)
{
    if (l->query == SIZE_MAX) return;
    l->done[l->query] = 1;
    if (!rank_x[l->row] && l->kept < l->short_x) l->short_x = l->kept;
}

/* The test row of a new group: by its key (user_id, row_item_id) where
 * the lists carry it, else row qv of TEST, whose user must be the list's
 * where the lists name one. */
static int group_row(list_reader *l, truth *t, long qv, size_t *row, mlr_err *e)
{
    const char *path = mlr_reader_path(l->r);
    long line = mlr_reader_line(l->r);
    const char *user = l->cu >= 0 ? mlr_reader_field(l->r, (size_t)l->cu) : NULL;
    size_t ulen = l->cu >= 0 ? mlr_reader_field_len(l->r, (size_t)l->cu) : 0;
    if (l->ck >= 0) {
        const char *item = mlr_reader_field(l->r, (size_t)l->ck);
        *row = take_row(t, user, ulen, item, mlr_reader_field_len(l->r, (size_t)l->ck));
        if (*row == SIZE_MAX)
            return mlr_fail(e, "%s:%ld: user '%.60s' item '%.60s' has no row left in %s: the lists were "
                            "made from another test file", path, line, user, item, l->test);
        return 0;
    }
    *row = (size_t)qv;
    if (user) {
        uint32_t u = t->user_of[qv];
        const char *want = mlr_strmap_key(t->user_ids, u);
        size_t wlen = mlr_strmap_key_len(t->user_ids, u);
        if (wlen != ulen || memcmp(want, user, ulen) != 0)
            return mlr_fail(e, "%s:%ld: query %ld is user '%.60s', row %ld of %s is user '%.60s': the lists "
                            "were not made from %s's rows in its order", path, line, qv, user, qv, l->test,
                            want, l->test);
    }
    return 0;
}

/* Checks one list row's place (groups contiguous, ranks 1, 2, ...) and
 * finds its test row q. */
static int list_row(list_reader *l, truth *t, const size_t *rank_x, size_t *q, size_t *rank, mlr_err *e)
{
    long qv, rv;
    if (mlr_reader_long(l->r, (size_t)l->cq, &qv, e) < 0 || mlr_reader_long(l->r, (size_t)l->cr, &rv, e) < 0)
        return -1;
    const char *path = mlr_reader_path(l->r);
    long line = mlr_reader_line(l->r);
    if (qv < 0 || (size_t)qv >= t->rows)
        return mlr_fail(e, "%s:%ld: query %ld is not a row of %s (%zu rows): the lists were made from "
                        "another test file", path, line, qv, l->test, t->rows);
    if ((size_t)qv != l->query) {
        close_group(l, rank_x);
        if (l->done[qv])
            return mlr_fail(e, "%s:%ld: query %ld appears again; each query's rows must be together", path, line, qv);
        if (group_row(l, t, qv, &l->row, e) < 0) return -1;
        l->query = (size_t)qv;
        l->next = 1;
        l->kept = 0;
        l->queries++;
    }
    if (rv != (long)l->next)
        return mlr_fail(e, "%s:%ld: rank %ld where %zu was expected for query %ld", path, line, rv, l->next, qv);
    l->next++;
    *q = l->row;
    *rank = (size_t)rv;
    return 0;
}

/* What the lists left out against --train: lists made excluding another
 * table are refused (their _excl figures would not be --train's). */
static int check_exclusion(const list_reader *l, const truth *t, const char *name, const char *train,
                           mlr_err *e)
{
    mlr_fprint f;
    if (mlr_fprint_parse(&f, mlr_reader_fprint(l->r), name, e) < 0) return -1;
    if (!t->have_seen || strlen(f.exclude) != 64 || strlen(t->train_sha) != 64 ||
        strcmp(f.exclude, t->train_sha) == 0)
        return 0;
    return mlr_fail(e, "%s: made excluding another table (sha256 %.12s) than --train %s (%.12s): make the "
                    "lists with --exclude %s", name, f.exclude, train, t->train_sha, train);
}

/* What score_lists gathers from the lists: each test row's rank of its
 * item (0: not listed), with the training items and without; each user's
 * list (that of their first query, training items out) and the longest. */
typedef struct {
    size_t *rank, *rank_x; /* (rows) */
    size_t *len, *user_q;  /* (users) the length and the query of each user's list */
    uint32_t *lists;       /* (users, kmax) */
    size_t kmax, longest;
} list_ranks;

static void ranks_init(list_ranks *k, const truth *t, size_t kmax)
{
    k->kmax = kmax;
    k->longest = 0;
    k->rank = xcalloc(mlr_nz(t->rows), sizeof *k->rank);
    k->rank_x = xcalloc(mlr_nz(t->rows), sizeof *k->rank_x);
    k->len = xcalloc(mlr_nz(t->users), sizeof *k->len);
    k->user_q = xmalloc(mlr_nz(t->users) * sizeof *k->user_q);
    for (size_t u = 0; u < t->users; u++) k->user_q[u] = SIZE_MAX;
    k->lists = xmalloc(mlr_nz(t->users * kmax) * sizeof *k->lists);
}

static void ranks_free(list_ranks *k)
{
    free(k->rank); free(k->rank_x); free(k->len); free(k->user_q); free(k->lists);
}

/* The lists' current row into k. */
static int note_list_row(list_reader *l, truth *t, list_ranks *k, mlr_err *e)
{
    size_t q = 0, r = 0, n;
    if (list_row(l, t, k->rank_x, &q, &r, e) < 0) return -1;
    if (r > k->longest) k->longest = r;
    uint32_t item = (uint32_t)mlr_strmap_intern(t->item_ids, mlr_reader_field(l->r, (size_t)l->ci),
                                                mlr_reader_field_len(l->r, (size_t)l->ci));
    uint32_t u = t->user_of[q];
    const uint32_t *seen = mlr_usersets_get(&t->seen, u, &n);
    int is_truth = item == t->item_of[q], removed = 0;
    for (size_t i = 0; i < n && !is_truth && !removed; i++) removed = seen[i] == item;
    if (!removed) l->kept++;
    if (is_truth && !k->rank[q]) {
        k->rank[q] = r;
        k->rank_x[q] = l->kept;
    }
    /* A user's list: that of their first query in the lists' own
     * order, so that the test file's order does not choose it. */
    if (r == 1 && l->query < k->user_q[u]) {
        k->user_q[u] = l->query;
        k->len[u] = 0;
    }
    if (!removed && l->query == k->user_q[u] && k->len[u] < k->kmax)
        k->lists[(size_t)u * k->kmax + k->len[u]++] = item;
    return 0;
}

/* The figures of the ranks gathered from the lists named name: the top-k
 * accuracies, with --train those without its items and the per-user ones. */
static void put_list_figures(const options *o, const truth *t, const list_reader *l, const list_ranks *k,
                             const char *name, FILE *fp, FILE *pu)
{
    mlr_accuracy acc, acc_x;
    mlr_accuracy_init(&acc, MLR_ACC_K, MLR_ACC_N);
    mlr_accuracy_init(&acc_x, MLR_ACC_K, MLR_ACC_N);
    for (size_t i = 0; i < t->rows; i++) {
        mlr_accuracy_add(&acc, k->rank[i]);
        mlr_accuracy_add(&acc_x, k->rank_x[i]);
    }
    /* Lists as long as the catalogue rank every item: all k are known. */
    size_t known = t->m && k->longest >= t->m ? SIZE_MAX : k->longest;
    if (known < MLR_ACC_K[MLR_ACC_N - 1])
        mlr_warn("%s: lists of %zu: top-k figures for k > %zu left out", name, k->longest, k->longest);
    fprintf(fp, "queries\t%zu\n", t->rows);
    put_accuracy(fp, &acc, "", known);
    if (!t->have_seen) return;
    /* A figure named _excl is one with the training items out: a
     * list that lost items to them knows ranks only that far. */
    size_t known_x = known == SIZE_MAX ? SIZE_MAX : l->short_x < known ? l->short_x : known;
    size_t known_u = known;
    for (size_t u = 0; u < t->users && known != SIZE_MAX; u++)
        if (k->len[u] < known_u) known_u = k->len[u];
    if (known_x < known || (known_u < k->kmax && known_u < known))
        mlr_warn("%s: once --train's items are removed some lists hold %zu items: _excl figures for "
                 "k > %zu and per-user ones for k > %zu left out (make the lists with mlr-topk "
                 "--exclude)", name, known_x < known_u ? known_x : known_u, known_x, known_u);
    put_accuracy(fp, &acc_x, "_excl", known_x);
    put_user_figures(fp, pu, o, t, k->lists, k->len, k->kmax, known_u);
}

static int score_lists(const options *o, truth *t, FILE *fp, FILE *pu, mlr_err *e)
{
    const char *name = strcmp(o->topk, "-") == 0 ? "stdin" : o->topk;
    list_reader l = {.query = SIZE_MAX, .next = 1, .done = xcalloc(mlr_nz(t->rows), 1), .test = o->test,
                     .short_x = SIZE_MAX};
    if (!(l.r = mlr_reader_open(o->topk, NULL, e))) {
        free(l.done);
        return -1;
    }
    int rc = 0;
    if ((l.cq = mlr_reader_require(l.r, "query", e)) < 0 || (l.cr = mlr_reader_require(l.r, "rank", e)) < 0 ||
        (l.ci = mlr_reader_require(l.r, "item_id", e)) < 0)
        rc = -1;
    l.cu = mlr_reader_col(l.r, "user_id");
    l.ck = l.cu >= 0 ? mlr_reader_col(l.r, "row_item_id") : -1;
    mlr_fprint lf;
    if (rc == 0) rc = mlr_fprint_parse(&lf, mlr_reader_fprint(l.r), name, e);
    if (rc == 0) rc = same_model(t, name, &lf, e);
    if (rc == 0) rc = check_exclusion(&l, t, name, o->train, e);
    list_ranks k;
    ranks_init(&k, t, max_at(o));
    int st = 0;
    while (rc == 0 && (st = mlr_reader_next(l.r, e)) == 1)
        rc = note_list_row(&l, t, &k, e);
    if (st < 0) rc = -1;
    if (rc == 0) close_group(&l, k.rank_x);
    /* One list per test row: fewer is another test file, not misses. */
    if (rc == 0 && l.queries != t->rows)
        rc = mlr_fail(e, "%s holds lists for %zu queries, %s has %zu rows: the lists were made from another "
                      "test file", name, l.queries, o->test, t->rows);
    mlr_reader_close(l.r);
    if (rc == 0) put_list_figures(o, t, &l, &k, name, fp, pu);
    free(l.done);
    ranks_free(&k);
    return rc;
}

/* ---- predicted ratings ---- */

typedef struct {
    size_t n;
    uint32_t *user, *item; /* ids in the test's maps; ABSENT when unknown */
    double *value;
    long *line;
} predictions;

static void pred_free(predictions *p)
{
    free(p->user); free(p->item); free(p->value); free(p->line);
}

static int read_pred(predictions *p, const char *path, truth *t, mlr_err *e)
{
    memset(p, 0, sizeof *p);
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r) return -1;
    int cu = mlr_reader_require(r, "user_id", e), ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", e);
    int cp = ci < 0 ? -1 : mlr_reader_require(r, "prediction", e);
    mlr_fprint f;
    int rc = cp < 0 ? -1 : mlr_fprint_parse(&f, mlr_reader_fprint(r), path, e);
    if (rc == 0) rc = same_model(t, path, &f, e);
    if (rc < 0) {
        mlr_reader_close(r);
        return -1;
    }
    size_t cap = 1024;
    p->user = xmalloc(cap * sizeof *p->user);
    p->item = xmalloc(cap * sizeof *p->item);
    p->value = xmalloc(cap * sizeof *p->value);
    p->line = xmalloc(cap * sizeof *p->line);
    int st;
    while ((st = mlr_reader_next(r, e)) == 1) {
        if (p->n == cap) {
            cap *= 2;
            p->user = xrealloc(p->user, cap * sizeof *p->user);
            p->item = xrealloc(p->item, cap * sizeof *p->item);
            p->value = xrealloc(p->value, cap * sizeof *p->value);
            p->line = xrealloc(p->line, cap * sizeof *p->line);
        }
        long u = mlr_strmap_find(t->user_ids, mlr_reader_field(r, (size_t)cu), mlr_reader_field_len(r, (size_t)cu));
        long i = mlr_strmap_find(t->item_ids, mlr_reader_field(r, (size_t)ci), mlr_reader_field_len(r, (size_t)ci));
        p->user[p->n] = u < 0 ? ABSENT : (uint32_t)u;
        p->item[p->n] = i < 0 ? ABSENT : (uint32_t)i;
        p->line[p->n] = mlr_reader_line(r);
        if (mlr_reader_double(r, (size_t)cp, &p->value[p->n++], e) < 0) {
            st = -1;
            break;
        }
    }
    mlr_reader_close(r);
    if (st < 0) pred_free(p);
    return st < 0 ? -1 : 0;
}

/* Row by row when PRED's rows are TEST's (user, item) in order, which also
 * covers repeated pairs; else joined by (user, item), where a pair predicted
 * twice must have one value. */
static int score_pred(const options *o, truth *t, FILE *fp, mlr_err *e)
{
    predictions p;
    if (read_pred(&p, o->pred, t, e) < 0) return -1;
    mlr_errstat es = {0, 0, 0};
    int aligned = p.n == t->rows, rc = 0;
    for (size_t i = 0; aligned && i < p.n; i++)
        aligned = p.user[i] == t->user_of[i] && p.item[i] == t->item_of[i];
    if (aligned) {
        for (size_t i = 0; i < p.n; i++) mlr_errstat_add(&es, p.value[i], t->rating[i]);
    } else {
        mlr_strmap *keys = mlr_strmap_new(p.n);
        double *val = xmalloc(mlr_nz(p.n) * sizeof *val);
        for (size_t i = 0; i < p.n && rc == 0; i++) {
            if (p.user[i] == ABSENT || p.item[i] == ABSENT) continue; /* not a test pair */
            uint32_t key[2] = {p.user[i], p.item[i]};
            int added;
            size_t id = mlr_strmap_intern2(keys, (const char *)key, sizeof key, &added);
            if (!added && val[id] != p.value[i])
                rc = mlr_fail(e, "%s:%ld: a second, different prediction for user '%s' item '%s'", o->pred,
                              p.line[i], mlr_strmap_key(t->user_ids, p.user[i]), mlr_strmap_key(t->item_ids, p.item[i]));
            val[id] = p.value[i];
        }
        for (size_t i = 0; i < t->rows && rc == 0; i++) {
            uint32_t key[2] = {t->user_of[i], t->item_of[i]};
            long id = mlr_strmap_find(keys, (const char *)key, sizeof key);
            if (id < 0)
                rc = mlr_fail(e, "%s:%zu: no prediction in %s for user '%s' item '%s'", o->test, i + 2, o->pred,
                              mlr_strmap_key(t->user_ids, t->user_of[i]), mlr_strmap_key(t->item_ids, t->item_of[i]));
            else
                mlr_errstat_add(&es, val[id], t->rating[i]);
        }
        free(val);
        mlr_strmap_free(keys);
    }
    if (rc == 0) {
        put(fp, "rmse", mlr_rmse(&es));
        put(fp, "mae", mlr_mae(&es));
    }
    pred_free(&p);
    return rc;
}

/* The metrics into memory, and --user-figures' table into pu_text (a run
 * that fails half-way prints nothing). */
static int score(const options *o, truth *t, char **text, size_t *len, char **pu_text, size_t *pu_len,
                 mlr_err *e)
{
    FILE *fp = open_memstream(text, len), *pu = o->user_figures ? open_memstream(pu_text, pu_len) : NULL;
    if (!fp || (o->user_figures && !pu)) {
        if (fp) fclose(fp);
        return mlr_fail(e, "cannot buffer the output: out of memory");
    }
    fputs("metric\tvalue\n", fp);
    int rc = 0;
    if (o->queries) rc = score_embeddings(o, t, fp, pu, e);
    else if (o->topk) rc = score_lists(o, t, fp, pu, e);
    if (rc == 0 && o->pred) rc = score_pred(o, t, fp, e);
    fclose(fp);
    if (pu) fclose(pu);
    return rc;
}

/* The figures to --output and the users' table to --user-figures: both
 * renamed into place together, or neither. */
static int write_outputs(const options *o, const char *text, size_t len, const char *pu_text, size_t pu_len,
                         mlr_err *e)
{
    mlr_out out, pu;
    mlr_out_batch_begin();
    int rc = 0;
    if (o->user_figures) rc = mlr_out_open(&pu, o->user_figures, e);
    if (rc == 0 && o->user_figures) {
        fwrite(pu_text, 1, pu_len, pu.fp);
        rc = mlr_out_commit(&pu, e);
    }
    if (rc == 0) rc = mlr_out_open(&out, o->output, e);
    if (rc == 0) {
        fwrite(text, 1, len, out.fp);
        rc = mlr_out_commit(&out, e);
    }
    if (rc == 0) return mlr_out_batch_commit(e);
    mlr_out_batch_abort();
    return rc;
}

static int run(const options *o, mlr_err *e)
{
    truth t;
    memset(&t, 0, sizeof t);
    t.user_ids = mlr_strmap_new(0);
    t.item_ids = mlr_strmap_new(0);
    options oo = *o;
    char *guess = !o->item_ids && o->items ? mlr_ids_path(o->items) : NULL;
    if (guess) oo.item_ids = guess;
    int rc = 0;
    if (oo.item_ids) rc = mlr_ids_read(oo.item_ids, t.item_ids, &t.m, e);
    /* The inputs' fingerprints: embeddings' in their .ids (docs/fingerprint.md). */
    if (rc == 0) rc = ids_model(&t, oo.item_ids, 0, e);
    if (rc == 0 && o->queries) rc = ids_model(&t, o->queries, 1, e);
    if (rc == 0 && o->user_queries) rc = ids_model(&t, o->user_queries, 1, e);
    /* the predictions' too, before any figure is made */
    if (rc == 0 && o->pred && strcmp(o->pred, "-") != 0) rc = ids_model(&t, o->pred, 0, e);
    if (rc == 0) rc = read_test(&t, o->test, o->pred != NULL, e);
    if (rc == 0 && o->train && (o->queries || o->topk)) {
        /* Lists name items the catalogue may not: intern training items so
         * that a list entry is recognised as one. */
        rc = mlr_usersets_read(&t.seen, o->train, t.user_ids, 1, t.item_ids, o->topk != NULL, e);
        t.have_seen = rc == 0;
        if (rc == 0 && o->topk) rc = mlr_fprint_table(o->train, t.train_sha, e);
    }
    char *text = NULL, *pu_text = NULL;
    size_t len = 0, pu_len = 0;
    if (rc == 0) rc = score(&oo, &t, &text, &len, &pu_text, &pu_len, e);
    if (rc == 0) rc = write_outputs(o, text, len, pu_text, pu_len, e);
    free(text);
    free(pu_text);
    free(guess);
    truth_free(&t);
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
