/* mlr-predict: a trained model + encoded (user, item) rows -> predicted
 * ratings, TSV user_id item_id prediction, one line per row in order. */
#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "encdir.h"
#include "fprint.h"
#include "mlr.h"
#include "model.h"
#include "table.h"

#define MAX_MODELS 64

typedef struct {
    const char *model[MAX_MODELS], *rows, *output;
    int nmodel, threads;
} options;

static const char USAGE[] =
    "usage: mlr-predict --model MODEL --rows ENCDIR [--output FILE]\n"
    "Predicts the rating of every encoded row of ENCDIR (mlr-encode: the user and\n"
    "item features of each row) with the model's rating head, and writes the TSV\n"
    "user_id item_id prediction (ids from ENCDIR/rows.tsv), rows in input order,\n"
    "after a line naming the model ('#mlrec model=SHA256', docs/fingerprint.md; of\n"
    "several models, their set's).\n"
    "Holds the rows in memory.\n"
    "\n"
    "  -m, --model MODEL    the trained model (mlr-train; required); repeated (at most\n"
    "                       64), the mean of the models' predictions: models trained with\n"
    "                       several seeds, averaged\n"
    "  -r, --rows ENCDIR    the encoded rows (required; also the first argument)\n"
    "  -o, --output FILE    where to write, atomically (default stdout)\n"
    "      --threads N      OpenBLAS threads (default: the number of CPUs)\n"
    "  -h, --help           this help\n"
    "      --version        the version\n"
    "\n"
    "example: mlr-encode --spec spec --output enc/test test.tsv &&\n"
    "         mlr-predict --model model.safetensors --rows enc/test --output pred.tsv &&\n"
    "         mlr-score --test test.tsv --pred pred.tsv\n";

static void usage(FILE *fp)
{
    fputs(USAGE, fp);
}

static void parse_args(int argc, char **argv, options *o)
{
    enum { OPT_THREADS = 256 };
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'}, {"rows", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, OPT_THREADS},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    *o = (options){.output = "-", .threads = (int)mlr_cpus()};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:r:o:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o->nmodel == MAX_MODELS)
                mlr_usage_die("at most %d --model", MAX_MODELS);
            o->model[o->nmodel++] = optarg;
            break;
        case 'r': o->rows = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_THREADS: o->threads = (int)mlr_opt_long("--threads", optarg, 1, 256); break;
        default: mlr_opt_rest(c, "mlr-predict", usage, argv);
        }
    }
    if (optind < argc && !o->rows)
        o->rows = argv[optind++];
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-predict --help')", argv[optind]);
    if (!o->nmodel || !o->rows)
        mlr_usage_die("--model MODEL and --rows ENCDIR are required");
}

/* The predictions after the model's fingerprint line (docs/fingerprint.md). */
static int write_predictions(const char *dir, const float *pred, size_t n, const char *path,
                             const mlr_fprint *fp, mlr_err *e)
{
    char in[4096];
    mlr_reader *r = mlr_encdir_rows_open(dir, in, sizeof in, e);
    if (!r)
        return -1;
    int uc = mlr_reader_require(r, "user_id", e);
    int ic = uc < 0 ? -1 : mlr_reader_require(r, "item_id", e);
    mlr_out o;
    if (ic < 0 || mlr_out_open(&o, path, e) < 0) {
        mlr_reader_close(r);
        return -1;
    }
    mlr_fprint_write(o.fp, fp);
    fputs("user_id\titem_id\tprediction\n", o.fp);
    size_t rows = 0;
    int st;
    while ((st = mlr_reader_next(r, e)) == 1 && rows < n) {
        fprintf(o.fp, "%s\t%s\t%.6g\n", mlr_reader_field(r, (size_t)uc),
                mlr_reader_field(r, (size_t)ic), pred[rows]);
        rows++;
    }
    if (st == 1)
        st = mlr_fail(e, "%s: more rows than the encoded tensors (%zu)", in, n);
    else if (st == 0 && rows != n)
        st = mlr_fail(e, "%s: %zu rows, the encoded tensors have %zu", in, rows, n);
    mlr_reader_close(r);
    if (st < 0) {
        mlr_out_abort(&o);
        return -1;
    }
    return mlr_out_commit(&o, e);
}

/* The predictions of the model at PATH for the rows of DIR, in *PRED
 * (allocated here); *n is set by the first model (n_set 0), and later
 * ones must agree. */
static int predict_one(const char *path, const char *dir, float **pred, size_t *n, int n_set,
                       mlr_err *e)
{
    model m;
    if (model_load(&m, path, e) < 0)
        return -1;
    model_input q, c;
    memset(&q, 0, sizeof q);
    memset(&c, 0, sizeof c);
    int rc = mlr_encdir_check(dir, m.spec_sha256, e);
    if (rc == 0)
        rc = model_input_load(&q, &m.query, dir, 0, e);
    if (rc == 0)
        rc = model_input_load(&c, &m.cand, dir, q.n, e);
    if (rc == 0 && n_set && q.n != *n)
        rc = mlr_fail(e, "%s: %zu rows, the first model read %zu", path, q.n, *n);
    if (rc == 0) {
        *pred = xmalloc((q.n + 1) * sizeof(float));
        model_predict(&m, &q, &c, *pred);
        *n = q.n;
    }
    model_input_free(&q);
    model_input_free(&c);
    model_free(&m);
    return rc;
}

static int run(const options *o, mlr_err *e)
{
    float *pred[MAX_MODELS] = {NULL};
    size_t n = 0;
    int order[MAX_MODELS], rc = 0;
    mlr_fprint fp = {.model = ""};
    /* Each model is loaded (and so checked) before it is hashed: an endless
     * file is refused on its first bytes, never read to its end. */
    for (int k = 0; k < o->nmodel && rc == 0; k++)
        rc = predict_one(o->model[k], o->rows, &pred[k], &n, k > 0, e);
    if (rc == 0)
        rc = mlr_fprint_models(o->model, o->nmodel, order, fp.model, e);
    if (rc == 0) {
        /* summed in the fingerprint's order: the same set, the same bits;
         * one model: divided by 1, its own predictions bit for bit */
        float *sum = xcalloc(n + 1, sizeof(float));
        for (int k = 0; k < o->nmodel; k++)
            for (size_t i = 0; i < n; i++)
                sum[i] += pred[order[k]][i];
        for (size_t i = 0; i < n; i++)
            sum[i] /= (float)o->nmodel;
        rc = write_predictions(o->rows, sum, n, o->output, &fp, e);
        free(sum);
    }
    for (int k = 0; k < o->nmodel; k++)
        free(pred[k]);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    mlr_err e;
    mlr_init_tool();
    parse_args(argc, argv, &o);
    openblas_set_num_threads(o.threads);
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
