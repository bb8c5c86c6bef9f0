/* mlr-baseline: the reference recommenders, written as mlr-topk lists so
 * that mlr-score scores them exactly as it scores a model.
 *
 *   pop   score(item) = its number of training rows (most popular first)
 *   ease  Steck 2019, "Embarrassingly Shallow Autoencoders" (lib/ease.h): with X the
 *         binary training user x item matrix, G = X^T X + lambda I,
 *         P = G^-1 (Cholesky, LAPACK spotrf/spotri from OpenBLAS),
 *         B = -P / diag(P) column by column, diag(B) = 0;
 *         score(user, item j) = sum over the user's training items i of B_ij.
 *
 * Lists follow the rank tie rule of topk.h (equal scores: catalogue order). */
#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ease.h"
#include "fprint.h"
#include "ids.h"
#include "metrics.h"
#include "mlr.h"
#include "npy.h"
#include "strmap.h"
#include "table.h"
#include "topk.h"

typedef struct {
    const char *kind, *train, *test, *item_ids, *output, *weights_output;
    long k, threads;
    double lambda;
    int exclude_train;
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-baseline --kind pop|ease --train TRAIN.tsv --test TEST.tsv [--item-ids ITEMS.ids]\n"
        "                    [--k K] [--lambda L] [--exclude-train] [--threads T] [--output FILE]\n"
        "Top-k lists of a reference recommender for each test row, in mlr-topk's format\n"
        "(query = 0-based test row, user_id, row_item_id = the row's item_id, rank,\n"
        "item_id, score; first the line '#mlrec exclude=SHA256|none': the training\n"
        "table's checksum with --exclude-train, docs/fingerprint.md), for mlr-score --topk.\n"
        "  pop:  items by training count (ties: catalogue order), the same for everyone\n"
        "  ease: Steck's EASE on the binary training matrix; holds an items x items\n"
        "        matrix in memory, so at most %d items\n"
        "Holds the training rows in memory.\n"
        "  --kind KIND       pop or ease (required)\n"
        "  --train FILE      training rows: user_id, item_id (required)\n"
        "  --test FILE       test rows: user_id; one list per row (required but with\n"
        "                    --weights-output)\n"
        "  --item-ids FILE   the catalogue, column id (default: the distinct training items,\n"
        "                    bytewise sorted, as mlr-encode --as-catalogue orders them)\n"
        "  -k, --k K         list length (default 10)\n"
        "  --lambda L        EASE's L2 weight (default 500)\n"
        "  --exclude-train   leave the user's training items out of the lists (default: keep\n"
        "                    them, the seed's protocol; exclude for per-user metrics)\n"
        "  --threads T       OpenBLAS threads for EASE's solve (default: the number of CPUs)\n"
        "  --weights-output X.npy\n"
        "                    ease: also write B, (M, M) float32, rows and columns in\n"
        "                    --item-ids order (required with it): a served directory's\n"
        "                    ease.npy (package.sh; docs/serving.md)\n"
        "  -o, --output FILE\n"
        "                    write here atomically (default stdout)\n"
        "  -q, --quiet       nothing on stderr but errors (there is no progress to hide)\n"
        "  -h, --help        this help;  --version  the version\n"
        "  deprecated: --items (= --item-ids), --exclude (= --exclude-train)\n"
        "example: mlr-baseline --kind pop --train train.tsv --test test.tsv --k 100 |\n"
        "           mlr-score --topk - --test test.tsv\n", MLR_EASE_MAX_ITEMS);
}

/* The long-only options; the OLD_ ones are deprecated aliases. */
enum { OPT_KIND = 256, OPT_TRAIN, OPT_TEST, OPT_ITEM_IDS, OPT_LAMBDA, OPT_EXCLUDE_TRAIN,
       OPT_THREADS, OPT_WEIGHTS, OPT_OLD_ITEMS, OPT_OLD_EXCLUDE };

static options parse_args(int argc, char **argv)
{
    options o = {.k = 10, .threads = mlr_cpus(), .lambda = 500.0};
    static const struct option longs[] = {
        {"kind", required_argument, 0, OPT_KIND}, {"train", required_argument, 0, OPT_TRAIN},
        {"test", required_argument, 0, OPT_TEST}, {"item-ids", required_argument, 0, OPT_ITEM_IDS},
        {"k", required_argument, 0, 'k'}, {"lambda", required_argument, 0, OPT_LAMBDA},
        {"exclude-train", no_argument, 0, OPT_EXCLUDE_TRAIN}, {"output", required_argument, 0, 'o'},
        {"threads", required_argument, 0, OPT_THREADS}, {"weights-output", required_argument, 0, OPT_WEIGHTS},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"items", required_argument, 0, OPT_OLD_ITEMS}, {"exclude", no_argument, 0, OPT_OLD_EXCLUDE},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:k:q", longs, NULL)) != -1) {
        switch (c) {
        case OPT_KIND: o.kind = optarg; break;
        case OPT_TRAIN: o.train = optarg; break;
        case OPT_TEST: o.test = optarg; break;
        case OPT_OLD_ITEMS: mlr_opt_deprecated("--items", "--item-ids"); /* fall through */
        case OPT_ITEM_IDS: o.item_ids = optarg; break;
        case 'k': o.k = mlr_opt_long("--k", optarg, 1, 1000000); break;
        case OPT_LAMBDA: o.lambda = mlr_opt_double("--lambda", optarg); break;
        case OPT_OLD_EXCLUDE: mlr_opt_deprecated("--exclude", "--exclude-train"); /* fall through */
        case OPT_EXCLUDE_TRAIN: o.exclude_train = 1; break;
        case OPT_THREADS: o.threads = mlr_opt_long("--threads", optarg, 1, 256); break;
        case 'o': o.output = optarg; break;
        case OPT_WEIGHTS: o.weights_output = optarg; break;
        case 'q': mlr_quiet_warnings(); break;
        default: mlr_opt_rest(c, "mlr-baseline", usage, argv);
        }
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-baseline --help')", argv[optind]);
    if (!o.kind || !o.train || (!o.test && !o.weights_output))
        mlr_usage_die("--kind, --train and --test are required (try 'mlr-baseline --help')");
    if (strcmp(o.kind, "pop") != 0 && strcmp(o.kind, "ease") != 0)
        mlr_usage_die("--kind must be pop or ease, not '%s'", o.kind);
    if (o.weights_output && (strcmp(o.kind, "ease") != 0 || !o.item_ids))
        mlr_usage_die("--weights-output writes EASE's B: with --kind ease and --item-ids");
    if (!(o.lambda > 0)) mlr_usage_die("--lambda must be positive, not %g", o.lambda);
    return o;
}

static int cmp_key(const void *a, const void *b, void *m)
{
    const mlr_strmap *map = m;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    size_t lx = mlr_strmap_key_len(map, x), ly = mlr_strmap_key_len(map, y);
    int c = memcmp(mlr_strmap_key(map, x), mlr_strmap_key(map, y), lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

/* The training data on the catalogue: per-user item sets, item ids = catalogue index. */
typedef struct {
    mlr_strmap *users, *items; /* items: key i = catalogue index i */
    mlr_usersets seen;
    size_t m;
} data;

/* Without --item-ids: intern the training items, then renumber them in
 * bytewise order (mlr-encode --as-catalogue's order). */
static int load_train(data *d, const options *o, mlr_err *e)
{
    d->users = mlr_strmap_new(0);
    d->items = mlr_strmap_new(0);
    if (o->item_ids) {
        if (mlr_ids_read(o->item_ids, d->items, &d->m, e) < 0) return -1;
        return mlr_usersets_read(&d->seen, o->train, d->users, 0, d->items, 0, e);
    }
    mlr_strmap *seen_items = mlr_strmap_new(0);
    if (mlr_usersets_read(&d->seen, o->train, d->users, 0, seen_items, 1, e) < 0) {
        mlr_strmap_free(seen_items);
        return -1;
    }
    d->m = mlr_strmap_count(seen_items);
    size_t *order = xmalloc(mlr_nz(d->m) * sizeof *order);
    uint32_t *newid = xmalloc(mlr_nz(d->m) * sizeof *newid);
    for (size_t i = 0; i < d->m; i++) order[i] = i;
    qsort_r(order, d->m, sizeof *order, cmp_key, seen_items);
    for (size_t r = 0; r < d->m; r++) {
        newid[order[r]] = (uint32_t)r;
        mlr_strmap_intern(d->items, mlr_strmap_key(seen_items, order[r]), mlr_strmap_key_len(seen_items, order[r]));
    }
    /* Renumber, then rebuild so each user's set is sorted again. */
    size_t n = d->seen.off[d->seen.users];
    uint32_t *u = xmalloc(mlr_nz(n) * sizeof *u), *it = xmalloc(mlr_nz(n) * sizeof *it);
    for (size_t v = 0; v < d->seen.users; v++)
        for (size_t r = d->seen.off[v]; r < d->seen.off[v + 1]; r++) {
            u[r] = (uint32_t)v;
            it[r] = newid[d->seen.items[r]];
        }
    size_t users = d->seen.users;
    mlr_usersets_free(&d->seen);
    mlr_usersets_build(&d->seen, users, u, it, n);
    free(u); free(it); free(order); free(newid);
    mlr_strmap_free(seen_items);
    return 0;
}

/* pop: (M) training counts. */
static float *pop_scores(const data *d)
{
    float *s = xcalloc(mlr_nz(d->m), sizeof *s);
    for (size_t r = 0; r < d->seen.off[d->seen.users]; r++) s[d->seen.items[r]] += 1.0f;
    return s;
}

/* User u's scores (M): pop's counts, or the sum of B's rows of u's items. */
static void user_scores(float *s, const data *d, const float *pop, const float *b, size_t u)
{
    size_t n;
    const uint32_t *it = mlr_usersets_get(&d->seen, u, &n);
    if (pop)
        memcpy(s, pop, d->m * sizeof *s);
    else
        mlr_ease_scores(b, d->m, it, n, s);
}

/* Writes the list of each test row to out; the user's list is made at
 * the user's first test row and kept. */
static int write_lists(const options *o, data *d, const float *pop, const float *b,
                       mlr_reader *r, int cu, FILE *fp, mlr_err *e)
{
    size_t k = (size_t)o->k < d->m ? (size_t)o->k : d->m, longest = 0;
    for (size_t i = 0; i < d->m; i++)
        if (mlr_strmap_key_len(d->items, i) > longest) longest = mlr_strmap_key_len(d->items, i);
    size_t cap = 0, *len = NULL;
    mlr_hit *lists = NULL; /* (users, K) */
    unsigned char *made = NULL;
    float *s = xmalloc(mlr_nz(d->m) * sizeof *s);
    char *text = NULL;
    /* What the lists left out (docs/fingerprint.md), and each row's key:
     * its user and its own item, by which mlr-score finds the test row. */
    mlr_fprint lf = {.model = ""};
    strcpy(lf.exclude, "none");
    if (o->exclude_train && mlr_fprint_table(o->train, lf.exclude, e) < 0) return -1;
    int ci = mlr_reader_col(r, "item_id");
    mlr_fprint_write(fp, &lf);
    fputs(ci >= 0 ? "query\tuser_id\trow_item_id\trank\titem_id\tscore\n" : "query\tuser_id\trank\titem_id\tscore\n", fp);
    char *key = NULL;
    int st;
    for (size_t q = 0; (st = mlr_reader_next(r, e)) == 1; q++) {
        size_t ul = mlr_reader_field_len(r, (size_t)cu);
        size_t u = mlr_strmap_intern(d->users, mlr_reader_field(r, (size_t)cu), ul);
        if (u >= cap) {
            size_t old = cap;
            cap = 2 * u + 16;
            lists = xrealloc(lists, cap * mlr_nz(k) * sizeof *lists);
            len = xrealloc(len, cap * sizeof *len);
            made = xrealloc(made, cap);
            memset(made + old, 0, cap - old);
        }
        if (!made[u]) {
            size_t n;
            const uint32_t *seen = mlr_usersets_get(&d->seen, u, &n);
            user_scores(s, d, pop, b, u);
            len[u] = mlr_topk_select(s, d->m, k, o->exclude_train ? seen : NULL,
                                     o->exclude_train ? n : 0, lists + u * k);
            made[u] = 1;
        }
        const char *user = mlr_reader_field(r, (size_t)cu);
        if (ci >= 0) { /* "user\titem": the key as mlr_topk_format's user column */
            size_t il = mlr_reader_field_len(r, (size_t)ci);
            key = xrealloc(key, ul + il + 1);
            memcpy(key, user, ul);
            key[ul] = '\t';
            memcpy(key + ul + 1, mlr_reader_field(r, (size_t)ci), il);
            user = key;
            ul += il + 1;
        }
        text = xrealloc(text, mlr_nz(k) * (80 + longest + ul));
        size_t w = mlr_topk_format(text, q, user, ul, lists + u * k, len[u], d->items);
        fwrite(text, 1, w, fp);
    }
    free(text); free(key); free(s); free(made); free(len); free(lists);
    return st < 0 ? -1 : 0;
}

static int run(const options *o, mlr_err *e)
{
    data d;
    memset(&d, 0, sizeof d);
    float *pop = NULL, *b = NULL;
    mlr_reader *r = NULL;
    int rc = load_train(&d, o, e);
    if (rc == 0) {
        if (strcmp(o->kind, "pop") == 0)
            pop = pop_scores(&d);
        else if (!(b = mlr_ease_fit(&d.seen, d.m, o->lambda, e)))
            rc = -1;
    }
    if (rc == 0 && o->weights_output) {
        mlr_array w = {MLR_F4, 2, {d.m, d.m}, b};
        rc = mlr_npy_write(o->weights_output, &w, e);
    }
    int cu = -1;
    if (rc == 0 && o->test &&
        (!(r = mlr_reader_open(o->test, NULL, e)) || (cu = mlr_reader_require(r, "user_id", e)) < 0))
        rc = -1;
    if (rc == 0 && o->test) {
        mlr_out out;
        rc = mlr_out_open(&out, o->output, e);
        if (rc == 0) {
            rc = write_lists(o, &d, pop, b, r, cu, out.fp, e);
            if (rc == 0)
                rc = mlr_out_commit(&out, e);
            else
                mlr_out_abort(&out);
        }
    }
    if (r)
        mlr_reader_close(r);
    free(pop); free(b);
    mlr_usersets_free(&d.seen);
    mlr_strmap_free(d.users);
    mlr_strmap_free(d.items);
    return rc;
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    options o = parse_args(argc, argv);
    openblas_set_num_threads((int)o.threads);
    mlr_err e;
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
