/* mlr-embed: a trained model + encoded rows -> query or candidate
 * embeddings, (N, D) <f4 .npy with the row ids beside it (X.ids). */
#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "encdir.h"
#include "fprint.h"
#include "mlr.h"
#include "ids.h"
#include "model.h"
#include "npy.h"
#include "strmap.h"
#include "table.h"

#include <math.h>

#define MAX_MODELS 64

typedef struct {
    const char *model[MAX_MODELS], *queries, *items, *output;
    int nmodel, threads, mean_by_user;
} options;

static const char USAGE[] =
    "usage: mlr-embed --model MODEL (--rows ENCDIR | --catalogue ITEMDIR) --output X.npy\n"
    "Runs the model's query tower on every encoded row of ENCDIR (mlr-encode) or its\n"
    "candidate tower on every item of ITEMDIR (mlr-encode --as-catalogue), and writes the\n"
    "(N, D) float32 embeddings (D + 1 with the model's popularity prior: the last\n"
    "column, 1 in a query row and the item's weighted log count in an item row) to\n"
    "X.npy and the id of each row (user_id and the row's item_id, or the item id)\n"
    "to X.ids beside it, both atomically and together,\n"
    "X.ids first naming the model (a '#mlrec model=SHA256' line, docs/fingerprint.md;\n"
    "of several models, their set's).\n"
    "Holds the rows in memory.\n"
    "\n"
    "  -m, --model MODEL        the trained model (mlr-train; required); repeated (at most\n"
    "                           64: models trained with several seeds), the models'\n"
    "                           embeddings side by side, each times 1/sqrt(number of models):\n"
    "                           a query's inner product with an item is then the mean of\n"
    "                           the models' scores (mlr-topk, mlr-score average the models)\n"
    "  -r, --rows ENCDIR        encoded rows: query embeddings\n"
    "      --mean-by-user       with --rows: one query per user, the mean of the queries of\n"
    "                           the user's rows (e.g. the training rows: the user at every\n"
    "                           time they rated, with their history), users in the order\n"
    "                           of their first row; X.ids has the column id alone\n"
    "      --catalogue ITEMDIR  encoded catalogue: candidate embeddings\n"
    "  -o, --output X.npy       where to write; '-' streams the .npy to stdout; no .ids\n"
    "                           beside stdout or a special file (required)\n"
    "      --threads N          threads, each on its own range of rows (default: the number\n"
    "                           of CPUs)\n"
    "  -h, --help               this help\n"
    "      --version            the version\n"
    "  deprecated: --queries (= --rows), --items (= --catalogue)\n"
    "\n"
    "example: mlr-embed --model model.safetensors --catalogue enc/items --output items.npy &&\n"
    "         mlr-embed --model model.safetensors --rows enc/test --output query.npy &&\n"
    "         mlr-topk --queries query.npy --items items.npy --k 10\n";

static void usage(FILE *fp)
{
    fputs(USAGE, fp);
}

static void parse_args(int argc, char **argv, options *o)
{
    /* -q and -i were --queries and --items: retired (-q is --quiet in the
     * other tools, docs/options.md); the old long names are aliases. */
    enum { OPT_THREADS = 256, OPT_CATALOGUE, OPT_OLD_QUERIES, OPT_OLD_ITEMS, OPT_MEAN_BY_USER };
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'}, {"rows", required_argument, NULL, 'r'},
        {"catalogue", required_argument, NULL, OPT_CATALOGUE}, {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, OPT_THREADS}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'}, {"mean-by-user", no_argument, NULL, OPT_MEAN_BY_USER},
        {"queries", required_argument, NULL, OPT_OLD_QUERIES}, {"items", required_argument, NULL, OPT_OLD_ITEMS},
        {NULL, 0, NULL, 0}};
    *o = (options){.threads = (int)mlr_cpus()};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:r:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o->nmodel == MAX_MODELS)
                mlr_usage_die("at most %d --model", MAX_MODELS);
            o->model[o->nmodel++] = optarg;
            break;
        case OPT_OLD_QUERIES: mlr_opt_deprecated("--queries", "--rows"); /* fall through */
        case 'r': o->queries = optarg; break;
        case OPT_OLD_ITEMS: mlr_opt_deprecated("--items", "--catalogue"); /* fall through */
        case OPT_CATALOGUE: o->items = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_THREADS: o->threads = (int)mlr_opt_long("--threads", optarg, 1, 256); break;
        case OPT_MEAN_BY_USER: o->mean_by_user = 1; break;
        default: mlr_opt_rest(c, "mlr-embed", usage, argv);
        }
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-embed --help')", argv[optind]);
    if (!o->nmodel || !o->output)
        mlr_usage_die("--model MODEL and --output X.npy are required");
    if (!o->queries == !o->items)
        mlr_usage_die("give one of --rows ENCDIR and --catalogue ITEMDIR");
    if (o->mean_by_user && !o->queries)
        mlr_usage_die("--mean-by-user needs --rows ENCDIR");
}

/* The id column of each row: rows.tsv's user_id (and its item_id, the
 * row's key for mlr-topk and mlr-score, where rows.tsv has one), or
 * items.ids' id; after the model's fingerprint line (docs/fingerprint.md). */
static int write_ids(const char *dir, int queries, size_t n, const char *path, const mlr_fprint *fp,
                     mlr_err *e)
{
    char in[4096];
    mlr_reader *r = queries ? mlr_encdir_rows_open(dir, in, sizeof in, e)
                            : mlr_encdir_items_open(dir, in, sizeof in, e);
    if (!r)
        return -1;
    int col = mlr_reader_require(r, queries ? "user_id" : "id", e), st = 0;
    int item = queries ? mlr_reader_col(r, "item_id") : -1;
    mlr_out o;
    if (col < 0 || mlr_out_open(&o, path, e) < 0) {
        mlr_reader_close(r);
        return -1;
    }
    mlr_fprint_write(o.fp, fp);
    fputs(item >= 0 ? "id\titem_id\n" : "id\n", o.fp);
    size_t rows = 0;
    while ((st = mlr_reader_next(r, e)) == 1) {
        fwrite(mlr_reader_field(r, (size_t)col), 1, mlr_reader_field_len(r, (size_t)col), o.fp);
        if (item >= 0) {
            fputc('\t', o.fp);
            fwrite(mlr_reader_field(r, (size_t)item), 1, mlr_reader_field_len(r, (size_t)item), o.fp);
        }
        fputc('\n', o.fp);
        rows++;
    }
    mlr_reader_close(r);
    if (st == 0 && rows != n)
        st = mlr_fail(e, "%s: %zu rows, the encoded tensors have %zu", in, rows, n);
    if (st < 0) {
        mlr_out_abort(&o);
        return -1;
    }
    return mlr_out_commit(&o, e);
}

/* The embeddings of DIR's rows by MODEL's query or candidate tower, in X
 * (allocated here: N, D, or D + 1 with the popularity prior's column). */
static int embed_one(const options *o, const char *path, const char *dir, mlr_array *x, mlr_err *e)
{
    model m;
    if (model_load(&m, path, e) < 0)
        return -1;
    const model_tower *t = o->queries ? &m.query : &m.cand;
    model_input in;
    memset(&in, 0, sizeof in);
    int rc = mlr_encdir_check(dir, m.spec_sha256, e);
    if (rc == 0)
        rc = model_input_load(&in, t, dir, 0, e);
    if (rc == 0) { /* the tower's output, widened in place by the prior's column */
        mlr_array_alloc(x, MLR_F4, 2, in.n, model_rank_width(&m));
        model_embed_threads(t, &in, x->data, o->threads);
        model_rank_rows(&m, !o->queries, &in, x->data, in.n, x->data);
    }
    model_input_free(&in);
    model_free(&m);
    return rc;
}

/* Several models' embeddings side by side, each scaled by 1/sqrt(K): the
 * inner product of two such rows is the mean of the K models' products.
 * Each model is loaded (and so checked) before it is hashed: an endless
 * file is refused on its first bytes. The models are then placed in the
 * order of their fingerprints: queries and items of one set of models put
 * each model in the same columns, however the options named them, and
 * the set's fingerprint (into FP, when WANT_FP or several) vouches for it. */
static int embed_all(const options *o, const char *dir, int want_fp, mlr_fprint *fp, mlr_array *x,
                     mlr_err *e)
{
    int order[MAX_MODELS];
    if (o->nmodel == 1) {
        int rc = embed_one(o, o->model[0], dir, x, e);
        return rc == 0 && want_fp ? mlr_fprint_models(o->model, 1, order, fp->model, e) : rc;
    }
    mlr_array part[MAX_MODELS];
    int k = 0, rc = 0;
    size_t n = 0, width = 0;
    for (; k < o->nmodel && rc == 0; k++) {
        rc = embed_one(o, o->model[k], dir, &part[k], e);
        if (rc < 0)
            break;
        if (k > 0 && part[k].shape[0] != n)
            rc = mlr_fail(e, "%s: %zu rows, the first model read %zu", o->model[k], part[k].shape[0], n);
        n = part[k].shape[0];
        width += part[k].shape[1];
    }
    if (rc == 0)
        rc = mlr_fprint_models(o->model, o->nmodel, order, fp->model, e);
    if (rc == 0) {
        float scale = 1.0f / sqrtf((float)o->nmodel);
        mlr_array_alloc(x, MLR_F4, 2, n, width);
        float *out = x->data; // (n, width)
        for (size_t i = 0; i < n; i++) {
            size_t col = 0;
            for (int j = 0; j < o->nmodel; j++) {
                const mlr_array *p = &part[order[j]];
                size_t d = p->shape[1];
                const float *row = (const float *)p->data + i * d;
                for (size_t c = 0; c < d; c++)
                    out[i * width + col + c] = row[c] * scale;
                col += d;
            }
        }
    }
    for (int j = 0; j < k; j++)
        mlr_array_free(&part[j]);
    return rc;
}

/* Each of DIR's N rows' user: USERS interns rows.tsv's user_id in
 * first-seen order, GROUP[i] (allocated here) row i's user. */
static int read_users(const char *dir, size_t n, mlr_strmap *users, size_t **group, mlr_err *e)
{
    char in[4096];
    mlr_reader *r = mlr_encdir_rows_open(dir, in, sizeof in, e);
    if (!r)
        return -1;
    int col = mlr_reader_require(r, "user_id", e), st = col < 0 ? -1 : 0;
    *group = xmalloc((n ? n : 1) * sizeof **group);
    size_t rows = 0;
    while (st == 0 && (st = mlr_reader_next(r, e)) == 1) {
        if (rows < n)
            (*group)[rows] = mlr_strmap_intern(users, mlr_reader_field(r, (size_t)col),
                                               mlr_reader_field_len(r, (size_t)col));
        rows++;
        st = 0;
    }
    mlr_reader_close(r);
    if (st == 0 && rows != n)
        st = mlr_fail(e, "%s: %zu rows, the encoded tensors have %zu", in, rows, n);
    return st;
}

/* X's rows replaced by the mean row of each group (GROUP[i] < U). The
 * sums are kept in double: a user may have thousands of rows. */
static void mean_rows(mlr_array *x, const size_t *group, size_t u)
{
    size_t n = x->shape[0], d = x->shape[1];
    double *sum = xcalloc(u * d > 0 ? u * d : 1, sizeof *sum);
    size_t *count = xcalloc(u ? u : 1, sizeof *count);
    const float *in = x->data;
    for (size_t i = 0; i < n; i++) {
        count[group[i]]++;
        for (size_t c = 0; c < d; c++)
            sum[group[i] * d + c] += in[i * d + c];
    }
    mlr_array mean;
    mlr_array_alloc(&mean, MLR_F4, 2, u, d);
    float *out = mean.data;
    for (size_t g = 0; g < u; g++)
        for (size_t c = 0; c < d; c++)
            out[g * d + c] = (float)(sum[g * d + c] / (double)count[g]);
    free(sum);
    free(count);
    mlr_array_free(x);
    *x = mean;
}

/* The per-user queries' ids: the model's line, then each user's id. */
static int write_user_ids(const mlr_strmap *users, const char *path, const mlr_fprint *fp, mlr_err *e)
{
    mlr_out o;
    if (mlr_out_open(&o, path, e) < 0)
        return -1;
    mlr_fprint_write(o.fp, fp);
    fputs("id\n", o.fp);
    for (size_t u = 0; u < mlr_strmap_count(users); u++) {
        fwrite(mlr_strmap_key(users, u), 1, mlr_strmap_key_len(users, u), o.fp);
        fputc('\n', o.fp);
    }
    return mlr_out_commit(&o, e);
}

/* The embeddings' ids, and with --mean-by-user the means that replace X. */
static int write_ids_for(const options *o, const char *dir, mlr_array *x, const char *ids,
                         const mlr_fprint *fp, mlr_err *e)
{
    if (!o->mean_by_user)
        return ids ? write_ids(dir, o->queries != NULL, x->shape[0], ids, fp, e) : 0;
    mlr_strmap *users = mlr_strmap_new(0);
    size_t *group = NULL;
    int rc = read_users(dir, x->shape[0], users, &group, e);
    if (rc == 0) {
        mean_rows(x, group, mlr_strmap_count(users));
        rc = ids ? write_user_ids(users, ids, fp, e) : 0;
    }
    free(group);
    mlr_strmap_free(users);
    return rc;
}

static int run(const options *o, mlr_err *e)
{
    const char *dir = o->queries ? o->queries : o->items;
    mlr_array x;
    memset(&x, 0, sizeof x);
    mlr_fprint fp = {.model = ""};
    /* a sidecar only beside a regular file: never /dev/null.ids */
    char *ids = mlr_out_is_file(o->output) ? mlr_ids_path(o->output) : NULL;
    int rc = embed_all(o, dir, ids != NULL, &fp, &x, e);
    if (rc == 0) {
        /* the matrix and its ids replace their earlier files together */
        mlr_out_batch_begin();
        rc = write_ids_for(o, dir, &x, ids, &fp, e);
        if (rc == 0)
            rc = mlr_npy_write(o->output, &x, e);
        if (rc == 0)
            rc = mlr_out_batch_commit(e);
        mlr_array_free(&x);
    }
    free(ids);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    mlr_err e;
    mlr_init_tool();
    parse_args(argc, argv, &o);
    openblas_set_num_threads(1); /* the threads are ours (model_embed_threads) */
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
