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
#include "table.h"

typedef struct {
    const char *model, *queries, *items, *output;
    int threads;
} options;

static const char USAGE[] =
    "usage: mlr-embed --model MODEL (--rows ENCDIR | --catalogue ITEMDIR) --output X.npy\n"
    "Runs the model's query tower on every encoded row of ENCDIR (mlr-encode) or its\n"
    "candidate tower on every item of ITEMDIR (mlr-encode --as-catalogue), and writes the\n"
    "(N, D) float32 embeddings to X.npy and the id of each row (user_id and the\n"
    "row's item_id, or the item id) to X.ids beside it, both atomically and together,\n"
    "X.ids first naming the model (a '#mlrec model=SHA256' line, docs/fingerprint.md).\n"
    "Holds the rows in memory.\n"
    "\n"
    "  -m, --model MODEL      the trained model (mlr-train; required)\n"
    "  -r, --rows ENCDIR        encoded rows: query embeddings\n"
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
    enum { OPT_THREADS = 256, OPT_CATALOGUE, OPT_OLD_QUERIES, OPT_OLD_ITEMS };
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'}, {"rows", required_argument, NULL, 'r'},
        {"catalogue", required_argument, NULL, OPT_CATALOGUE}, {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, OPT_THREADS}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"queries", required_argument, NULL, OPT_OLD_QUERIES}, {"items", required_argument, NULL, OPT_OLD_ITEMS},
        {NULL, 0, NULL, 0}};
    *o = (options){.threads = (int)mlr_cpus()};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:r:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case OPT_OLD_QUERIES: mlr_opt_deprecated("--queries", "--rows"); /* fall through */
        case 'r': o->queries = optarg; break;
        case OPT_OLD_ITEMS: mlr_opt_deprecated("--items", "--catalogue"); /* fall through */
        case OPT_CATALOGUE: o->items = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_THREADS: o->threads = (int)mlr_opt_long("--threads", optarg, 1, 256); break;
        default: mlr_opt_rest(c, "mlr-embed", usage, argv);
        }
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-embed --help')", argv[optind]);
    if (!o->model || !o->output)
        mlr_usage_die("--model MODEL and --output X.npy are required");
    if (!o->queries == !o->items)
        mlr_usage_die("give one of --rows ENCDIR and --catalogue ITEMDIR");
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

static int run(const options *o, mlr_err *e)
{
    model m;
    if (model_load(&m, o->model, e) < 0)
        return -1;
    const char *dir = o->queries ? o->queries : o->items;
    const model_tower *t = o->queries ? &m.query : &m.cand;
    model_input in;
    memset(&in, 0, sizeof in);
    int rc = mlr_encdir_check(dir, m.spec_sha256, e);
    if (rc == 0)
        rc = model_input_load(&in, t, dir, 0, e);
    if (rc == 0) {
        mlr_array x;
        mlr_array_alloc(&x, MLR_F4, 2, in.n, t->mlp.width[t->mlp.n]);
        model_embed_threads(t, &in, x.data, o->threads);
        /* a sidecar only beside a regular file: never /dev/null.ids */
        char *ids = mlr_out_is_file(o->output) ? mlr_ids_path(o->output) : NULL;
        /* the matrix and its ids replace their earlier files together */
        mlr_out_batch_begin();
        mlr_fprint fp = {.model = ""};
        rc = ids ? mlr_fprint_model(o->model, fp.model, e) : 0;
        if (rc == 0 && ids)
            rc = write_ids(dir, o->queries != NULL, in.n, ids, &fp, e);
        if (rc == 0)
            rc = mlr_npy_write(o->output, &x, e);
        if (rc == 0)
            rc = mlr_out_batch_commit(e);
        free(ids);
        mlr_array_free(&x);
    }
    model_input_free(&in);
    model_free(&m);
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
