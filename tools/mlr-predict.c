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

typedef struct {
    const char *model, *rows, *output;
    int threads;
} options;

static const char USAGE[] =
    "usage: mlr-predict --model MODEL --rows ENCDIR [--output FILE]\n"
    "Predicts the rating of every encoded row of ENCDIR (mlr-encode: the user and\n"
    "item features of each row) with the model's rating head, and writes the TSV\n"
    "user_id item_id prediction (ids from ENCDIR/rows.tsv), rows in input order,\n"
    "after a line naming the model ('#mlrec model=SHA256', docs/fingerprint.md).\n"
    "Holds the rows in memory.\n"
    "\n"
    "  -m, --model MODEL    the trained model (mlr-train; required)\n"
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
        case 'm': o->model = optarg; break;
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
    if (!o->model || !o->rows)
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

static int run(const options *o, mlr_err *e)
{
    model m;
    if (model_load(&m, o->model, e) < 0)
        return -1;
    model_input q, c;
    memset(&q, 0, sizeof q);
    memset(&c, 0, sizeof c);
    mlr_fprint fp = {.model = ""};
    int rc = mlr_fprint_model(o->model, fp.model, e);
    if (rc == 0)
        rc = mlr_encdir_check(o->rows, m.spec_sha256, e);
    if (rc == 0)
        rc = model_input_load(&q, &m.query, o->rows, 0, e);
    if (rc == 0)
        rc = model_input_load(&c, &m.cand, o->rows, q.n, e);
    if (rc == 0) {
        float *pred = xmalloc((q.n + 1) * sizeof(float));
        model_predict(&m, &q, &c, pred);
        rc = write_predictions(o->rows, pred, q.n, o->output, &fp, e);
        free(pred);
    }
    model_input_free(&q);
    model_input_free(&c);
    model_free(&m);
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
