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
#include <cblas.h>

#include "ids.h"
#include "metrics.h"
#include "mlr.h"
#include "npy.h"
#include "strmap.h"
#include "table.h"
#include "topk.h"

#define ABSENT UINT32_MAX

typedef struct {
    const char *test, *queries, *items, *item_ids, *topk, *train, *pred, *output, *user_queries;
    size_t at[MLR_MAX_AT], nat;
    long block, threads;
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-score --test TEST.tsv [--queries Q.npy --items I.npy | --topk LISTS.tsv]\n"
        "                 [--train TRAIN.tsv] [--pred PRED.tsv] [--at 10,50] [--output FILE]\n"
        "Metrics of a model against the test rows (TEST: user_id, item_id, and rating\n"
        "for --pred; row i of TEST is the truth of query row i; an encoded rows.tsv\n"
        "works). Writes a TSV with columns metric, value:\n"
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
        "An item absent from the catalogue (or from a list) is a miss.\n"
        "  --test FILE       the truth, one row per query row (required)\n"
        "  --queries Q.npy   query embeddings (N, D), '-' for stdin; row i = test row i.\n"
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
        "                    The key: query q is row q of TEST, every row has a list, and\n"
        "                    a user_id column (mlr-baseline, mlr-topk --query-ids) must\n"
        "                    name row q's user: lists of another test file are refused\n"
        "                    top-k figures need lists of k; the per-user list is the list of\n"
        "                    the user's first test row, training items filtered out (make\n"
        "                    the lists with mlr-topk --exclude, or longer, to keep k)\n"
        "  --train FILE      training rows (user_id, item_id): the _excl and per-user metrics\n"
        "  --pred FILE       predictions: user_id, item_id, prediction; joined with TEST by\n"
        "                    (user_id, item_id)\n"
        "  --at LIST         the k of the per-user metrics (default 10)\n"
        "  --block B         query rows held at a time (default 1024)\n"
        "  --threads T       worker threads (default: the number of CPUs)\n"
        "  -o, --output FILE write here atomically (default stdout)\n"
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
        {"user-queries", required_argument, 0, 'U'},
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
        case 'q': break;
        case 'U': o.user_queries = optarg; break;
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
    return o;
}

static size_t nz(size_t n) { return n ? n : 1; }

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
} truth;

static void read_test(truth *t, const char *path, int want_rating)
{
    mlr_err e;
    mlr_reader *r = mlr_reader_open(path, NULL, &e);
    if (!r) mlr_die_err(&e);
    int cu = mlr_reader_require(r, "user_id", &e), ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", &e);
    int cr = ci >= 0 && want_rating ? mlr_reader_require(r, "rating", &e) : 0;
    if (cu < 0 || ci < 0 || cr < 0) mlr_die_err(&e);
    size_t cap = 1024;
    t->user_of = xmalloc(cap * sizeof *t->user_of);
    t->item_of = xmalloc(cap * sizeof *t->item_of);
    t->rating = want_rating ? xmalloc(cap * sizeof *t->rating) : NULL;
    int st;
    while ((st = mlr_reader_next(r, &e)) == 1) {
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
        if (t->rating && mlr_reader_double(r, (size_t)cr, &t->rating[n], &e) < 0) mlr_die_err(&e);
    }
    if (st < 0) mlr_die_err(&e);
    mlr_reader_close(r);
    t->users = mlr_strmap_count(t->user_ids);
    t->first_row = xmalloc(nz(t->users) * sizeof *t->first_row);
    for (size_t u = 0; u < t->users; u++) t->first_row[u] = SIZE_MAX;
    for (size_t i = t->rows; i-- > 0;) t->first_row[t->user_of[i]] = i;
    mlr_usersets_build(&t->rel, t->users, t->user_of, t->item_of, t->rows);
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

/* Per-user figures at each k of --at, from lists (U, kmax) best first. */
static void put_per_user(FILE *fp, const options *o, const truth *t, const uint32_t *lists,
                         const size_t *len, size_t kmax)
{
    unsigned char *covered = t->m ? xcalloc(t->m, 1) : NULL;
    char name[64];
    fprintf(fp, "users\t%zu\n", t->users);
    for (size_t a = 0; a < o->nat; a++) {
        size_t k = o->at[a], n, ncov = 0;
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

/* Streams Q: the rank of each row's truth, and each user's query sum. */
static void rank_rows(const options *o, truth *t, mlr_scorer *sc, size_t d,
                      mlr_accuracy *acc, mlr_accuracy *acc_x, double *usum)
{
    mlr_err e;
    mlr_npy_rows q;
    if (mlr_npy_rows_open(&q, o->queries, &e) < 0) mlr_die_err(&e);
    if (q.cols != d) mlr_die("%s has %zu columns, %s %zu", q.name, q.cols, o->items, d);
    if (q.rows != t->rows) mlr_die("%s has %zu rows, %s %zu", q.name, q.rows, o->test, t->rows);
    /* Blocks of whole tiles: ranks then do not depend on --block. */
    size_t block = (size_t)o->block, tile = mlr_scorer_tile(sc);
    block = block < tile ? tile : block / tile * tile;
    float *qb = xmalloc(nz(block * d) * sizeof *qb); /* (B, D) */
    uint32_t *tr = xmalloc(block * sizeof *tr);
    size_t *rank = xmalloc(block * sizeof *rank), *rank_x = xmalloc(block * sizeof *rank_x);
    const uint32_t **ex = xmalloc(block * sizeof *ex);
    size_t *nex = xmalloc(block * sizeof *nex);
    rank_job j = {t->m, tr, t->have_seen ? ex : NULL, nex, rank, rank_x};
    long got;
    while ((got = mlr_npy_rows_read(&q, qb, block, &e)) > 0) {
        size_t b = (size_t)got, first = q.done - b;
        for (size_t r = 0; r < b; r++) {
            uint32_t u = t->user_of[first + r];
            tr[r] = t->item_of[first + r] < t->m ? t->item_of[first + r] : ABSENT;
            ex[r] = mlr_usersets_get(&t->seen, u, &nex[r]);
            for (size_t c = 0; c < d; c++) usum[(size_t)u * d + c] += qb[r * d + c];
        }
        mlr_scorer_run(sc, qb, b, rank_row, &j);
        for (size_t r = 0; r < b; r++) {
            mlr_accuracy_add(acc, rank[r]);
            if (t->have_seen) mlr_accuracy_add(acc_x, rank_x[r]);
        }
    }
    if (got < 0) mlr_die_err(&e);
    mlr_npy_rows_close(&q);
    free(qb); free(tr); free(rank); free(rank_x); free(ex); free(nex);
}

/* Each user's query (U, D): the mean of the user's test rows' queries. */
static float *mean_queries(const truth *t, size_t d, const double *usum)
{
    float *uq = xmalloc(nz(t->users * d) * sizeof *uq);
    size_t *rows = xcalloc(nz(t->users), sizeof *rows);
    for (size_t i = 0; i < t->rows; i++) rows[t->user_of[i]]++;
    for (size_t u = 0; u < t->users; u++)
        for (size_t c = 0; c < d; c++) uq[u * d + c] = (float)(usum[u * d + c] / (double)rows[u]);
    free(rows);
    return uq;
}

/* Each user's query (U, D) from --user-queries: the row of U.npy whose id
 * in U.ids is the user's; every test user must have one. */
static float *given_queries(const options *o, const truth *t, size_t d)
{
    mlr_err e;
    mlr_array q;
    if (mlr_npy_read(o->user_queries, MLR_F4, &q, &e) < 0) mlr_die_err(&e);
    if (q.ndim != 2 || q.shape[1] != d)
        mlr_die("%s: expected a (U, %zu) <f4 matrix, the width of %s", o->user_queries, d, o->items);
    size_t n = strlen(o->user_queries), rows, bad;
    char *ids = xmalloc(n + 5);
    memcpy(ids, o->user_queries, n + 1);
    if (n > 4 && strcmp(ids + n - 4, ".npy") == 0) n -= 4;
    strcpy(ids + n, ".ids");
    mlr_strmap *users = mlr_strmap_new(0);
    if (mlr_ids_read(ids, users, &rows, &e) < 0) mlr_die_err(&e);
    if (rows != q.shape[0]) mlr_die("%s has %zu rows, %s %zu", ids, rows, o->user_queries, q.shape[0]);
    if (!mlr_all_finite(q.data, rows * d, &bad)) mlr_die("%s: row %zu: non-finite value", o->user_queries, bad / d);
    float *uq = xmalloc(nz(t->users * d) * sizeof *uq);
    for (size_t u = 0; u < t->users; u++) {
        long r = mlr_strmap_find(users, mlr_strmap_key(t->user_ids, u), mlr_strmap_key_len(t->user_ids, u));
        if (r < 0) mlr_die("%s: no query for user '%s' of %s", ids, mlr_strmap_key(t->user_ids, u), o->test);
        memcpy(uq + u * d, (const float *)q.data + (size_t)r * d, d * sizeof *uq);
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
    float *qb = xmalloc(nz(block * d) * sizeof *qb); /* (B, D) */
    mlr_hit *hits = xmalloc(nz(block * kmax) * sizeof *hits);
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

static void score_embeddings(const options *o, truth *t, FILE *fp)
{
    mlr_err e;
    mlr_array items;
    if (mlr_npy_read(o->items, MLR_F4, &items, &e) < 0) mlr_die_err(&e);
    if (items.ndim != 2) mlr_die("%s: expected a 2-D <f4 matrix (M, D), found 1-D", o->items);
    size_t m = items.shape[0], d = items.shape[1], bad;
    if (!mlr_all_finite(items.data, m * d, &bad)) mlr_die("%s: row %zu: non-finite value", o->items, bad / d);
    if (t->m != m) mlr_die("%s has %zu rows, %s %zu", o->item_ids, t->m, o->items, m);
    int threads = (int)o->threads;
    openblas_set_num_threads(1); /* our threads run single-threaded sgemms */
    mlr_scorer *sc = mlr_scorer_new(items.data, m, d, 32, threads);
    mlr_accuracy acc, acc_x;
    mlr_accuracy_init(&acc, MLR_ACC_K, MLR_ACC_N);
    mlr_accuracy_init(&acc_x, MLR_ACC_K, MLR_ACC_N);
    double *usum = xcalloc(nz(t->users * d), sizeof *usum); /* (U, D) */
    rank_rows(o, t, sc, d, &acc, &acc_x, usum);
    fprintf(fp, "queries\t%zu\n", t->rows);
    put_accuracy(fp, &acc, "", SIZE_MAX);
    if (t->have_seen) {
        put_accuracy(fp, &acc_x, "_excl", SIZE_MAX);
        size_t kmax = max_at(o);
        uint32_t *lists = xmalloc(nz(t->users * kmax) * sizeof *lists); /* (U, K) */
        size_t *len = xcalloc(nz(t->users), sizeof *len);
        float *uq = o->user_queries ? given_queries(o, t, d) : mean_queries(t, d, usum);
        user_lists(o, t, sc, d, uq, lists, len, kmax);
        free(uq);
        put_per_user(fp, o, t, lists, len, kmax);
        free(lists);
        free(len);
    }
    free(usum);
    mlr_scorer_free(sc);
    mlr_array_free(&items);
}

/* ---- from lists ---- */

typedef struct {
    mlr_reader *r;
    int cq, cr, ci, cu; /* cu: the optional user_id column, the key checked; -1 without */
    const char *test;   /* the test file's name, for messages */
    size_t queries;     /* distinct queries met */
    size_t query;   /* current group */
    size_t next;    /* the rank expected next */
    size_t kept;    /* entries of the group not removed as training items */
    unsigned char *done; /* (N) groups already closed */
} list_reader;

/* Checks one list row's place: groups contiguous, ranks 1, 2, ... */
static void list_row(list_reader *l, const truth *t, size_t *q, size_t *rank)
{
    mlr_err e;
    long qv, rv;
    if (mlr_reader_long(l->r, (size_t)l->cq, &qv, &e) < 0 || mlr_reader_long(l->r, (size_t)l->cr, &rv, &e) < 0)
        mlr_die_err(&e);
    const char *path = mlr_reader_path(l->r);
    long line = mlr_reader_line(l->r);
    if (qv < 0 || (size_t)qv >= t->rows)
        mlr_die("%s:%ld: query %ld is not a row of %s (%zu rows): the lists were made from another "
                "test file", path, line, qv, l->test, t->rows);
    if ((size_t)qv != l->query) {
        if (l->query != SIZE_MAX) l->done[l->query] = 1;
        if (l->done[qv]) mlr_die("%s:%ld: query %ld appears again; each query's rows must be together", path, line, qv);
        l->query = (size_t)qv;
        l->next = 1;
        l->kept = 0;
        l->queries++;
    }
    /* The lists name each query's user: the join is by that key, so lists
     * of another test file (or another order) are refused, not scored. */
    if (l->cu >= 0) {
        uint32_t u = t->user_of[qv];
        const char *want = mlr_strmap_key(t->user_ids, u), *got = mlr_reader_field(l->r, (size_t)l->cu);
        size_t wlen = mlr_strmap_key_len(t->user_ids, u), glen = mlr_reader_field_len(l->r, (size_t)l->cu);
        if (wlen != glen || memcmp(want, got, glen) != 0)
            mlr_die("%s:%ld: query %ld is user '%.60s', row %ld of %s is user '%.60s': the lists were not "
                    "made from %s's rows in its order", path, line, qv, got, qv, l->test, want, l->test);
    }
    if (rv != (long)l->next)
        mlr_die("%s:%ld: rank %ld where %zu was expected for query %ld", path, line, rv, l->next, qv);
    l->next++;
    *q = (size_t)qv;
    *rank = (size_t)rv;
}

static void score_lists(const options *o, truth *t, FILE *fp)
{
    mlr_err e;
    list_reader l = {.query = SIZE_MAX, .next = 1, .done = xcalloc(nz(t->rows), 1), .test = o->test};
    if (!(l.r = mlr_reader_open(o->topk, NULL, &e))) mlr_die_err(&e);
    if ((l.cq = mlr_reader_require(l.r, "query", &e)) < 0 || (l.cr = mlr_reader_require(l.r, "rank", &e)) < 0 ||
        (l.ci = mlr_reader_require(l.r, "item_id", &e)) < 0)
        mlr_die_err(&e);
    l.cu = mlr_reader_col(l.r, "user_id");
    size_t kmax = max_at(o), longest = 0, *rank = xcalloc(nz(t->rows), sizeof *rank);
    size_t *rank_x = xcalloc(nz(t->rows), sizeof *rank_x), *len = xcalloc(nz(t->users), sizeof *len);
    uint32_t *lists = xmalloc(nz(t->users * kmax) * sizeof *lists); /* (U, K) */
    int st;
    while ((st = mlr_reader_next(l.r, &e)) == 1) {
        size_t q, r, n;
        list_row(&l, t, &q, &r);
        if (r > longest) longest = r;
        uint32_t item = (uint32_t)mlr_strmap_intern(t->item_ids, mlr_reader_field(l.r, (size_t)l.ci),
                                                    mlr_reader_field_len(l.r, (size_t)l.ci));
        uint32_t u = t->user_of[q];
        const uint32_t *seen = mlr_usersets_get(&t->seen, u, &n);
        int is_truth = item == t->item_of[q], removed = 0;
        for (size_t i = 0; i < n && !is_truth && !removed; i++) removed = seen[i] == item;
        if (!removed) l.kept++;
        if (is_truth && !rank[q]) {
            rank[q] = r;
            rank_x[q] = l.kept;
        }
        if (!removed && q == t->first_row[u] && len[u] < kmax) lists[(size_t)u * kmax + len[u]++] = item;
    }
    if (st < 0) mlr_die_err(&e);
    const char *name = strcmp(o->topk, "-") == 0 ? "stdin" : o->topk;
    /* One list per test row: fewer is another test file, not misses. */
    if (l.queries != t->rows)
        mlr_die("%s holds lists for %zu queries, %s has %zu rows: the lists were made from another "
                "test file", name, l.queries, o->test, t->rows);
    mlr_reader_close(l.r);
    mlr_accuracy acc, acc_x;
    mlr_accuracy_init(&acc, MLR_ACC_K, MLR_ACC_N);
    mlr_accuracy_init(&acc_x, MLR_ACC_K, MLR_ACC_N);
    for (size_t i = 0; i < t->rows; i++) {
        mlr_accuracy_add(&acc, rank[i]);
        mlr_accuracy_add(&acc_x, rank_x[i]);
    }
    /* Lists as long as the catalogue rank every item: all k are known. */
    size_t known = t->m && longest >= t->m ? SIZE_MAX : longest;
    if (known < MLR_ACC_K[MLR_ACC_N - 1])
        mlr_warn("%s: lists of %zu: top-k figures for k > %zu left out", name, longest, longest);
    fprintf(fp, "queries\t%zu\n", t->rows);
    put_accuracy(fp, &acc, "", known);
    if (t->have_seen) {
        size_t short_lists = 0;
        for (size_t u = 0; u < t->users; u++) short_lists += len[u] < kmax && known != SIZE_MAX;
        if (short_lists)
            mlr_warn("%s: %zu users' lists hold fewer than %zu items once their training items are "
                     "removed; make them with mlr-topk --exclude (or longer)", name, short_lists, kmax);
        put_accuracy(fp, &acc_x, "_excl", known);
        put_per_user(fp, o, t, lists, len, kmax);
    }
    free(l.done); free(rank); free(rank_x); free(len); free(lists);
}

/* ---- predicted ratings ---- */

typedef struct {
    size_t n;
    uint32_t *user, *item; /* ids in the test's maps; ABSENT when unknown */
    double *value;
    long *line;
} predictions;

static void read_pred(predictions *p, const char *path, const truth *t)
{
    mlr_err e;
    mlr_reader *r = mlr_reader_open(path, NULL, &e);
    if (!r) mlr_die_err(&e);
    int cu = mlr_reader_require(r, "user_id", &e), ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", &e);
    int cp = ci < 0 ? -1 : mlr_reader_require(r, "prediction", &e);
    if (cp < 0) mlr_die_err(&e);
    size_t cap = 1024;
    memset(p, 0, sizeof *p);
    p->user = xmalloc(cap * sizeof *p->user);
    p->item = xmalloc(cap * sizeof *p->item);
    p->value = xmalloc(cap * sizeof *p->value);
    p->line = xmalloc(cap * sizeof *p->line);
    int st;
    while ((st = mlr_reader_next(r, &e)) == 1) {
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
        if (mlr_reader_double(r, (size_t)cp, &p->value[p->n++], &e) < 0) mlr_die_err(&e);
    }
    if (st < 0) mlr_die_err(&e);
    mlr_reader_close(r);
}

/* Row by row when PRED's rows are TEST's (user, item) in order, which also
 * covers repeated pairs; else joined by (user, item), where a pair predicted
 * twice must have one value. */
static void score_pred(const options *o, const truth *t, FILE *fp)
{
    predictions p;
    read_pred(&p, o->pred, t);
    mlr_errstat es = {0, 0, 0};
    int aligned = p.n == t->rows;
    for (size_t i = 0; aligned && i < p.n; i++)
        aligned = p.user[i] == t->user_of[i] && p.item[i] == t->item_of[i];
    if (aligned) {
        for (size_t i = 0; i < p.n; i++) mlr_errstat_add(&es, p.value[i], t->rating[i]);
    } else {
        /* Errors are reported after freeing, so a dying run leaks nothing. */
        mlr_strmap *keys = mlr_strmap_new(p.n);
        double *val = xmalloc(nz(p.n) * sizeof *val);
        size_t twice = SIZE_MAX, missing = SIZE_MAX;
        for (size_t i = 0; i < p.n && twice == SIZE_MAX; i++) {
            if (p.user[i] == ABSENT || p.item[i] == ABSENT) continue; /* not a test pair */
            uint32_t key[2] = {p.user[i], p.item[i]};
            int added;
            size_t id = mlr_strmap_intern2(keys, (const char *)key, sizeof key, &added);
            if (!added && val[id] != p.value[i]) twice = i;
            val[id] = p.value[i];
        }
        for (size_t i = 0; i < t->rows && twice == SIZE_MAX && missing == SIZE_MAX; i++) {
            uint32_t key[2] = {t->user_of[i], t->item_of[i]};
            long id = mlr_strmap_find(keys, (const char *)key, sizeof key);
            if (id < 0) missing = i;
            else mlr_errstat_add(&es, val[id], t->rating[i]);
        }
        free(val);
        mlr_strmap_free(keys);
        if (twice != SIZE_MAX) {
            uint32_t u = p.user[twice], i = p.item[twice];
            long line = p.line[twice];
            free(p.user); free(p.item); free(p.value); free(p.line);
            mlr_die("%s:%ld: a second, different prediction for user '%s' item '%s'", o->pred, line,
                    mlr_strmap_key(t->user_ids, u), mlr_strmap_key(t->item_ids, i));
        }
        if (missing != SIZE_MAX) {
            free(p.user); free(p.item); free(p.value); free(p.line);
            mlr_die("%s:%zu: no prediction in %s for user '%s' item '%s'", o->test, missing + 2, o->pred,
                    mlr_strmap_key(t->user_ids, t->user_of[missing]), mlr_strmap_key(t->item_ids, t->item_of[missing]));
        }
    }
    put(fp, "rmse", mlr_rmse(&es));
    put(fp, "mae", mlr_mae(&es));
    free(p.user); free(p.item); free(p.value); free(p.line);
}

static void run(const options *o)
{
    mlr_err e;
    truth t;
    memset(&t, 0, sizeof t);
    t.user_ids = mlr_strmap_new(0);
    t.item_ids = mlr_strmap_new(0);
    char *guess = NULL;
    const char *ids = o->item_ids;
    if (!ids && o->items) {
        size_t n = strlen(o->items);
        guess = xmalloc(n + 5);
        memcpy(guess, o->items, n + 1);
        if (n > 4 && strcmp(guess + n - 4, ".npy") == 0) n -= 4;
        strcpy(guess + n, ".ids");
        ids = guess;
    }
    if (ids && mlr_ids_read(ids, t.item_ids, &t.m, &e) < 0) mlr_die_err(&e);
    options oo = *o;
    oo.item_ids = ids;
    read_test(&t, o->test, o->pred != NULL);
    if (o->train && (o->queries || o->topk)) {
        /* Lists name items the catalogue may not: intern training items so
         * that a list entry is recognised as one. */
        if (mlr_usersets_read(&t.seen, o->train, t.user_ids, 1, t.item_ids, o->topk != NULL, &e) < 0)
            mlr_die_err(&e);
        t.have_seen = 1;
    }
    /* Metrics go to memory first: a run that fails half-way prints nothing. */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp) mlr_die("cannot buffer the output: out of memory");
    fputs("metric\tvalue\n", fp);
    if (o->queries) score_embeddings(&oo, &t, fp);
    else if (o->topk) score_lists(&oo, &t, fp);
    if (o->pred) score_pred(&oo, &t, fp);
    fclose(fp);
    mlr_out out;
    if (mlr_out_open(&out, o->output, &e) < 0) mlr_die_err(&e);
    fwrite(text, 1, len, out.fp);
    free(text);
    if (mlr_out_commit(&out, &e) < 0) mlr_die_err(&e);
    free(guess);
    free(t.user_of); free(t.item_of); free(t.rating); free(t.first_row);
    mlr_usersets_free(&t.rel);
    mlr_usersets_free(&t.seen);
    mlr_strmap_free(t.user_ids);
    mlr_strmap_free(t.item_ids);
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    options o = parse_args(argc, argv);
    run(&o);
    mlr_close_stdout();
    return 0;
}
