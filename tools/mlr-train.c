/* mlr-train: encoded rows -> a trained two-tower model (.safetensors), with
 * one log row per epoch of validation figures. Holds the encoded training
 * rows, the catalogue and the validation rows in memory. */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "encdir.h"
#include "ease.h"
#include "history.h"
#include "ids.h"
#include "metrics.h"
#include "mlr.h"
#include "model.h"
#include "npy.h"
#include "optim.h"
#include "spec.h"
#include "strmap.h"
#include "table.h"
#include "topk.h"
#include "train.h"

typedef struct {
    const char *train, *items, *valid, *spec, *output, *log, *init, *init_spec;
    const char *query_features, *cand_features;
    const char *checkpoint;
    const char *teacher_cache; /* --teacher-cache DIR: the teacher read there, or fitted and written */
    model_config cfg;
    opt_config opt;
    int lr_set;
    int distill_set; /* --distill given: a teacher that cannot be built is an error */
    double retrieval_weight, rating_weight, id_dropout, rating_decay;
    double distill, distill_lambda, distill_temperature; /* --distill: EASE as teacher */
    int remove_hits, mask_seen, valid_exclude, logq, quiet, no_pin;
    model_negatives negatives;
    size_t nsample; /* --negatives mixed:N */
    size_t batch, epochs, valid_every, patience;
    /* what "better" means on the validation rows: a weighted sum of
     * figures, rmse counted negatively (--select) */
    size_t nselect;
    int select_fig[7];
    double select_w[7];
    uint64_t seed;
    int threads;
} options;

static const char USAGE[] =
    "usage: mlr-train --rows ENCDIR --spec SPECDIR --output MODEL [options]\n"
    "Trains the two-tower model of docs/features.md (query and candidate towers,\n"
    "in-batch softmax retrieval, rating head) on rows encoded by mlr-encode and\n"
    "writes MODEL (.safetensors, atomically). With --valid and --catalogue, logs the\n"
    "top-k accuracy over the whole catalogue and the RMSE after each epoch.\n"
    "Everything is held in memory. Same seed: the same model, bit for bit, on any\n"
    "number of threads and however busy the machine.\n"
    "\n"
    "  -r, --rows ENCDIR             encoded training rows (required)\n"
    "  -s, --spec SPECDIR            the feature specification they were encoded with (required)\n"
    "  -o, --output MODEL            the model to write (required)\n"
    "      --catalogue ITEMDIR       encoded catalogue (mlr-encode --as-catalogue): validation\n"
    "                                candidates\n"
    "      --valid ENCDIR            encoded validation rows, a slice of the training rows\n"
    "                                never the test rows (needs --catalogue)\n"
    "      --log FILE                per-epoch TSV: epoch seconds loss retrieval_loss rating_loss\n"
    "                                top1 top5 top10 top50 top100 rmse ndcg10 gflops kept (default:\n"
    "                                none); ndcg10: each row's nDCG@10, its own item relevant;\n"
    "                                gflops: of the epoch's matrix products per second; kept: the\n"
    "                                epoch whose weights the model holds so far; a row reaches\n"
    "                                the file as its epoch ends (tail -f follows the run)\n"
    "      --valid-every N           validate every N epochs, and after the last (default 1)\n"
    "      --valid-exclude           the validation figures rank each row's item among the items\n"
    "                                its user did not rate in the training rows (as the per-user\n"
    "                                metrics; default: among every item)\n"
    "      --patience N              stop when --select has not improved for N epochs and keep\n"
    "                                the best epoch's weights (needs --valid; default 0: off,\n"
    "                                the last epoch is kept)\n"
    "      --select LIST             the validation figure the best epoch maximises: top1..top100,\n"
    "                                ndcg10, or rmse (counted negatively), or a weighted sum such as\n"
    "                                top100,rmse:0.5 = top100 - 0.5 rmse (default top100)\n"
    "      --query-features LIST     (default user_id,timestamp,user_occupation,user_age,\n"
    "                                user_gender,user_zip,user_occupation_text,user_history: those in\n"
    "                                the spec);\n"
    "                                'rating' feeds the label to the query tower (a leak: warned)\n"
    "      --candidate-features LIST\n"
    "                                (default item_id,item_title,item_genres)\n"
    "      --dim N                   embedding width (default 32)\n"
    "      --layers LIST             tower dense layers, ReLU between (default 64,32)\n"
    "      --rating-layers LIST      rating head hidden layers, then 1 (default 64,32)\n"
    "      --rating-head KIND        mlp (the MLP on both towers' outputs) or wide (the MLP,\n"
    "                                user and item bias terms linear in the towers' outputs,\n"
    "                                and the towers' dot product, as a factorization machine)\n"
    "                                (default wide)\n"
    "      --rating-decay X          L2 on the rating head's weights: + X/2 |w|^2 (default 0)\n"
    "      --history-halflife N      pool user_history by recency: its k-th newest item weighs\n"
    "                                2^(-k/N), the weights summing to 1 (default 0: the mean)\n"
    "      --temperature T           each tower's output scaled to length 1 and the softmax's\n"
    "                                logits their cosine / T (Yi et al. 2019); 0: the plain\n"
    "                                dot product (default 0.2)\n"
    "      --popularity X            rank with X x log(1 + the item's count in the training\n"
    "                                rows) added to each score: the model's embeddings carry it\n"
    "                                as one more column (needs item_id among the candidate\n"
    "                                features; 0: none; default 0.04)\n"
    "      --retrieval-weight X      weight of the in-batch softmax loss, summed over\n"
    "                                the batch as TFRS (default 1)\n"
    "      --rating-weight X         weight of the mean squared rating error (default 100)\n"
    "      --remove-accidental-hits  mask other copies of the positive item in a batch\n"
    "      --distill A               EASE of the training rows as a teacher: each row's target\n"
    "                                is (1 - A) its item + A the softmax of its user's\n"
    "                                standardised EASE scores over the other candidates that\n"
    "                                user did not rate (0: none; default 0.3, off without\n"
    "                                user_id in the query tower or over 20,000 items)\n"
    "      --distill-lambda L        the teacher's EASE lambda (default 500)\n"
    "      --distill-temperature T   the teacher's scores divided by T (default 2)\n"
    "      --teacher-cache DIR       keep the teacher in DIR (made when missing), a file named\n"
    "                                by a hash of the rows' user-item pairs, --distill-lambda and\n"
    "                                --distill-temperature: read when there, else fitted and\n"
    "                                written (atomically), so runs on the same rows fit EASE once\n"
    "                                (default: none)\n"
    "      --mask-seen               leave the other items a row's user rated in the training\n"
    "                                rows out of its softmax: positives, not negatives\n"
    "      --negatives MODE          the softmax's candidates: batch (the batch's items, log-Q\n"
    "                                corrected), all (every item of --catalogue: a full softmax),\n"
    "                                mixed:N (the batch's items and N drawn uniformly from\n"
    "                                --catalogue, each corrected by its sampling probability)\n"
    "                                (default batch)\n"
    "      --logq, --no-logq         log-Q correction: logit - log(item frequency) (default on)\n"
    "      --id-dropout P            each row's user_id and item_id replaced by the unknown\n"
    "                                id with probability P while training (default 0.05)\n"
    "      --optimizer NAME          adam or adagrad (default adam; adagrad as Keras)\n"
    "      --lr X                    learning rate (default 0.001 adam, 0.1 adagrad)\n"
    "      --init-accumulator X      Adagrad initial accumulator (default 0.1)\n"
    "      --l2 X                    L2 on the embedding rows a batch touches (default 0)\n"
    "  -b, --batch-size N            rows per batch (default 256)\n"
    "  -e, --epochs N                (default 15)\n"
    "      --seed N                  initialisation and shuffling (default 42)\n"
    "      --threads N               threads of the training step and validation, OpenBLAS\n"
    "                                single-threaded (default: the number of CPUs)\n"
    "      --no-pin                  let the training threads move between CPUs (default:\n"
    "                                each held to a CPU of its own while training, so that a\n"
    "                                busy machine cannot stack them on one)\n"
    "      --init MODEL              warm start from MODEL: rows of ids in both vocabularies\n"
    "                                carried over by token, new ones initialised fresh\n"
    "      --init-spec SPECDIR       MODEL's specification, where it is not --spec's\n"
    "      --checkpoint DIR          keep the run's state in DIR after each epoch (weights,\n"
    "                                optimiser, RNGs, best epoch, log position); the same\n"
    "                                command again continues where it stopped, to the same\n"
    "                                model bit for bit (default: none)\n"
    "  -q, --quiet                   no progress line, no warnings\n"
    "  -h, --help                    this help\n"
    "      --version                 the version\n"
    "      --list-options            the options as TSV: name, type (value or flag), default\n"
    "  deprecated: --train (= --rows), --items (= --catalogue)\n"
    "\n"
    "SIGINT (Ctrl-C) or SIGTERM ends the epoch in progress, writes the model so far (with\n"
    "--patience its best epoch's), says so, and exits 128 + the signal; a second one ends the\n"
    "run at once, the earlier model file untouched. With --checkpoint, even a SIGKILL loses\n"
    "at most the epoch in progress.\n"
    "\n"
    "example: mlr-split --test-output valid.tsv --output fit.tsv train.tsv &&\n"
    "         mlr-encode --spec spec --output enc/fit fit.tsv &&\n"
    "         mlr-encode --spec spec --output enc/valid valid.tsv &&\n"
    "         mlr-train --rows enc/fit --valid enc/valid --catalogue enc/items --spec spec \\\n"
    "           --epochs 3 --log train.log --output model.safetensors\n";

static void usage(FILE *fp)
{
    fputs(USAGE, fp);
}

enum {
    OPT_ITEMS = 256, OPT_VALID, OPT_LOG, OPT_EVERY, OPT_QF, OPT_CF, OPT_DIM, OPT_LAYERS,
    OPT_RLAYERS, OPT_RETW, OPT_RATW, OPT_HITS, OPT_SEEN, OPT_VEXCL, OPT_LOGQ, OPT_OPT, OPT_LR, OPT_ACC, OPT_L2,
    OPT_SEED, OPT_THREADS, OPT_INIT, OPT_INIT_SPEC, OPT_NO_LOGQ, OPT_IDDROP, OPT_PATIENCE,
    OPT_SELECT, OPT_LIST, OPT_OLD_TRAIN, OPT_OLD_ITEMS, OPT_CKPT, OPT_TCACHE, OPT_NEG, OPT_HEAD, OPT_RDECAY, OPT_NO_PIN,
    OPT_HALFLIFE, OPT_TEMP, OPT_POP, OPT_DISTILL, OPT_DLAMBDA, OPT_DTEMP
};

static const struct option LONGS[] = {
    {"rows", required_argument, NULL, 'r'}, {"spec", required_argument, NULL, 's'},
    {"output", required_argument, NULL, 'o'}, {"catalogue", required_argument, NULL, OPT_ITEMS},
    {"valid", required_argument, NULL, OPT_VALID}, {"log", required_argument, NULL, OPT_LOG},
    {"valid-every", required_argument, NULL, OPT_EVERY},
    {"patience", required_argument, NULL, OPT_PATIENCE},
    {"select", required_argument, NULL, OPT_SELECT},
    {"query-features", required_argument, NULL, OPT_QF},
    {"candidate-features", required_argument, NULL, OPT_CF},
    {"dim", required_argument, NULL, OPT_DIM}, {"layers", required_argument, NULL, OPT_LAYERS},
    {"rating-layers", required_argument, NULL, OPT_RLAYERS},
    {"rating-head", required_argument, NULL, OPT_HEAD},
    {"rating-decay", required_argument, NULL, OPT_RDECAY},
    {"history-halflife", required_argument, NULL, OPT_HALFLIFE},
    {"temperature", required_argument, NULL, OPT_TEMP}, {"popularity", required_argument, NULL, OPT_POP},
    {"retrieval-weight", required_argument, NULL, OPT_RETW},
    {"rating-weight", required_argument, NULL, OPT_RATW},
    {"remove-accidental-hits", no_argument, NULL, OPT_HITS},
    {"distill", required_argument, NULL, OPT_DISTILL},
    {"distill-lambda", required_argument, NULL, OPT_DLAMBDA},
    {"distill-temperature", required_argument, NULL, OPT_DTEMP},
    {"teacher-cache", required_argument, NULL, OPT_TCACHE},
    {"mask-seen", no_argument, NULL, OPT_SEEN}, {"valid-exclude", no_argument, NULL, OPT_VEXCL}, {"logq", no_argument, NULL, OPT_LOGQ},
    {"no-logq", no_argument, NULL, OPT_NO_LOGQ}, {"negatives", required_argument, NULL, OPT_NEG},
    {"id-dropout", required_argument, NULL, OPT_IDDROP},
    {"optimizer", required_argument, NULL, OPT_OPT}, {"lr", required_argument, NULL, OPT_LR},
    {"init-accumulator", required_argument, NULL, OPT_ACC}, {"l2", required_argument, NULL, OPT_L2},
    {"batch-size", required_argument, NULL, 'b'}, {"epochs", required_argument, NULL, 'e'},
    {"seed", required_argument, NULL, OPT_SEED}, {"threads", required_argument, NULL, OPT_THREADS},
    {"no-pin", no_argument, NULL, OPT_NO_PIN},
    {"init", required_argument, NULL, OPT_INIT}, {"init-spec", required_argument, NULL, OPT_INIT_SPEC},
    {"checkpoint", required_argument, NULL, OPT_CKPT},
    {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'}, {"list-options", no_argument, NULL, OPT_LIST},
    {"train", required_argument, NULL, OPT_OLD_TRAIN}, {"items", required_argument, NULL, OPT_OLD_ITEMS},
    {NULL, 0, NULL, 0}};

static double opt_nonneg(const char *name, const char *s)
{
    double v = mlr_opt_double(name, s);
    if (v < 0)
        mlr_usage_die("%s: '%s' must not be negative", name, s);
    return v;
}

static void widths_opt(const char *name, const char *s, size_t *w, size_t *n, int allow_empty)
{
    mlr_err e;
    if (allow_empty && !*s) {
        *n = 0;
        return;
    }
    if (model_parse_widths(s, w, n, &e) < 0)
        mlr_usage_die("%s: %s", name, e.msg);
    if (*n == 0)
        mlr_usage_die("%s: needs at least one width", name);
}

/* The figures --select may name: figures.topk's, rmse, ndcg10. */
enum { FIG_RMSE = 5, FIG_NDCG = 6, NFIGURES = 7 };
static const char *const FIGURE_NAMES[NFIGURES] = {"top1", "top5", "top10", "top50", "top100", "rmse",
                                                   "ndcg10"};

static void select_opt(options *o, const char *arg)
{
    char buf[256];
    if (strlen(arg) >= sizeof buf)
        mlr_usage_die("--select: '%.40s...' is too long", arg);
    strcpy(buf, arg);
    o->nselect = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        double w = 1.0;
        if (colon) {
            *colon = 0;
            if (mlr_parse_double(colon + 1, &w) < 0 || w <= 0)
                mlr_usage_die("--select: the weight of '%s' must be a positive number", t);
        }
        int fig = -1;
        for (int i = 0; i < NFIGURES; i++)
            if (strcmp(t, FIGURE_NAMES[i]) == 0)
                fig = i;
        if (fig < 0)
            mlr_usage_die("--select: '%s' is not one of top1 top5 top10 top50 top100 rmse ndcg10", t);
        if (o->nselect == NFIGURES)
            mlr_usage_die("--select: at most %d figures", NFIGURES);
        o->select_fig[o->nselect] = fig;
        o->select_w[o->nselect++] = w;
    }
    if (o->nselect == 0)
        mlr_usage_die("--select: names no figure");
}

static void negatives_opt(options *o, const char *arg)
{
    if (strcmp(arg, "batch") == 0 || strcmp(arg, "all") == 0)
        o->negatives = arg[0] == 'a' ? MODEL_NEG_ALL : MODEL_NEG_BATCH;
    else if (strncmp(arg, "mixed:", 6) == 0) {
        o->negatives = MODEL_NEG_MIXED;
        o->nsample = (size_t)mlr_opt_long("--negatives mixed:N", arg + 6, 1, 1 << 20);
    } else
        mlr_usage_die("--negatives: '%s' is not batch, all or mixed:N", arg);
}

static void parse_one(options *o, int c, const char *arg)
{
    switch (c) {
    case OPT_OLD_TRAIN: mlr_opt_deprecated("--train", "--rows"); /* fall through */
    case 'r': o->train = arg; break;
    case 's': o->spec = arg; break;
    case 'o': o->output = arg; break;
    case OPT_OLD_ITEMS: mlr_opt_deprecated("--items", "--catalogue"); /* fall through */
    case OPT_ITEMS: o->items = arg; break;
    case OPT_VALID: o->valid = arg; break;
    case OPT_LOG: o->log = arg; break;
    case OPT_EVERY: o->valid_every = (size_t)mlr_opt_long("--valid-every", arg, 1, INT_MAX); break;
    case OPT_PATIENCE: o->patience = (size_t)mlr_opt_long("--patience", arg, 0, INT_MAX); break;
    case OPT_SELECT: select_opt(o, arg); break;
    case OPT_QF: o->query_features = arg; break;
    case OPT_CF: o->cand_features = arg; break;
    case OPT_DIM: o->cfg.dim = (size_t)mlr_opt_long("--dim", arg, 1, 4096); break;
    case OPT_LAYERS: widths_opt("--layers", arg, o->cfg.layers, &o->cfg.nlayers, 0); break;
    case OPT_RLAYERS:
        widths_opt("--rating-layers", arg, o->cfg.rating_layers, &o->cfg.nrating, 1);
        if (o->cfg.nrating >= MODEL_MAX_LAYERS)
            mlr_usage_die("--rating-layers: at most %d layers", MODEL_MAX_LAYERS - 1);
        break;
    case OPT_RETW: o->retrieval_weight = opt_nonneg("--retrieval-weight", arg); break;
    case OPT_RATW: o->rating_weight = opt_nonneg("--rating-weight", arg); break;
    case OPT_HITS: o->remove_hits = 1; break;
    case OPT_SEEN: o->mask_seen = 1; break;
    case OPT_VEXCL: o->valid_exclude = 1; break;
    case OPT_NO_PIN: o->no_pin = 1; break;
    case OPT_LOGQ: o->logq = 1; break;
    case OPT_NO_LOGQ: o->logq = 0; break;
    case OPT_NEG: negatives_opt(o, arg); break;
    case OPT_HEAD:
        if (strcmp(arg, "mlp") != 0 && strcmp(arg, "wide") != 0)
            mlr_usage_die("--rating-head: '%s' is neither mlp nor wide", arg);
        o->cfg.wide = arg[0] == 'w';
        break;
    case OPT_RDECAY: o->rating_decay = opt_nonneg("--rating-decay", arg); break;
    case OPT_DISTILL:
        o->distill_set = 1;
        o->distill = opt_nonneg("--distill", arg);
        if (o->distill > 1)
            mlr_usage_die("--distill: '%s' is not a weight (0..1)", arg);
        break;
    case OPT_DLAMBDA:
        o->distill_lambda = opt_nonneg("--distill-lambda", arg);
        if (o->distill_lambda == 0 || o->distill_lambda > 1e9)
            mlr_usage_die("--distill-lambda: '%s' is not in (0, 1e9]", arg);
        break;
    case OPT_DTEMP:
        o->distill_temperature = opt_nonneg("--distill-temperature", arg);
        if (o->distill_temperature < 1e-3 || o->distill_temperature > 1e6)
            mlr_usage_die("--distill-temperature: '%s' is not in [0.001, 1e6]", arg);
        break;
    case OPT_HALFLIFE: o->cfg.history_halflife = opt_nonneg("--history-halflife", arg); break;
    case OPT_POP:
        o->cfg.popularity = opt_nonneg("--popularity", arg);
        if (o->cfg.popularity > 1e6)
            mlr_usage_die("--popularity: '%s' is above 1e6", arg);
        break;
    case OPT_TEMP:
        o->cfg.temperature = opt_nonneg("--temperature", arg);
        if (o->cfg.temperature > 1e6)
            mlr_usage_die("--temperature: '%s' is above 1e6", arg);
        break;
    case OPT_OPT:
        if (strcmp(arg, "adagrad") == 0)
            o->opt.kind = OPT_ADAGRAD;
        else if (strcmp(arg, "adam") == 0)
            o->opt.kind = OPT_ADAM;
        else
            mlr_usage_die("--optimizer: '%s' is neither adagrad nor adam", arg);
        break;
    case OPT_LR: o->opt.lr = (float)opt_nonneg("--lr", arg); o->lr_set = 1; break;
    case OPT_ACC: o->opt.init_acc = (float)opt_nonneg("--init-accumulator", arg); break;
    case OPT_L2: o->opt.l2 = (float)opt_nonneg("--l2", arg); break;
    case OPT_IDDROP:
        o->id_dropout = opt_nonneg("--id-dropout", arg);
        if (o->id_dropout > 1)
            mlr_usage_die("--id-dropout: '%s' is not a probability (0..1)", arg);
        break;
    case 'b': o->batch = (size_t)mlr_opt_long("--batch-size", arg, 1, 1 << 20); break;
    case 'e': o->epochs = (size_t)mlr_opt_long("--epochs", arg, 1, 1 << 20); break;
    case OPT_SEED: o->seed = (uint64_t)mlr_opt_long("--seed", arg, 0, LONG_MAX); break;
    case OPT_THREADS: o->threads = (int)mlr_opt_long("--threads", arg, 1, 256); break;
    case OPT_INIT: o->init = arg; break;
    case OPT_INIT_SPEC: o->init_spec = arg; break;
    case OPT_CKPT: o->checkpoint = arg; break;
    case OPT_TCACHE: o->teacher_cache = arg; break;
    case 'q': o->quiet = 1; break;
    }
}

static void set_defaults(options *o)
{
    memset(o, 0, sizeof *o);
    o->cfg = model_config_defaults();
    o->opt = opt_defaults();
    /* tuned on ML-100K (see the report): the report's Adagrad 0.1, batch
     * 4096, rating head 256,128 and equal weights reach neither the top-k
     * nor the RMSE targets; every choice since is read off validation
     * slices (docs/model.md) */
    o->opt.kind = OPT_ADAM;
    o->opt.lr = 0.001f;
    o->retrieval_weight = 1.0;
    /* wide head, rating weight 100: validation RMSE 0.934 -> 0.911 on
     * ML-100K, 0.871 -> 0.863 on ml-latest-small, the rankings as they
     * were; 300 gains 0.004 more on ML-100K but costs ml-latest-small
     * recall (docs/model.md) */
    o->cfg.wide = 1;
    /* per user, nDCG@10 on validation 0.1925 -> 0.1957, and +0.005 to
     * +0.009 on five replays inside the training rows (docs/model.md) */
    o->cfg.popularity = 0.04;
    o->rating_weight = 100.0;
    o->logq = 1;
    /* EASE as teacher, 0.3 at temperature 2: per user nDCG@10 on two
     * replays inside the seed-42 training rows 0.266 -> 0.275 and 0.272
     * -> 0.287 (EASE 0.255, 0.270); 0.5, or temperature 1 or 4, less
     * (docs/model.md, "EASE as the towers' teacher") */
    o->distill = 0.3;
    o->distill_lambda = 500.0;
    o->distill_temperature = 2.0;
    o->id_dropout = 0.05;
    o->batch = 256;
    o->epochs = 15;
    o->valid_every = 1;
    o->nselect = 1;
    o->select_fig[0] = 4; /* top100 */
    o->select_w[0] = 1.0;
    o->seed = 42;
    o->threads = (int)mlr_cpus(); /* the suite's default (docs/options.md) */
}

/* "a,b,c" of n widths into buf. */
static const char *join_widths(char *buf, size_t cap, const size_t *w, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%zu", i ? "," : "", w[i]);
    return buf;
}

/* The default of option NAME as --list-options prints it ("" for none). */
static const char *default_of(const options *d, const char *name, char *buf, size_t cap)
{
    if (!strcmp(name, "dim")) snprintf(buf, cap, "%zu", d->cfg.dim);
    else if (!strcmp(name, "layers")) join_widths(buf, cap, d->cfg.layers, d->cfg.nlayers);
    else if (!strcmp(name, "rating-layers")) join_widths(buf, cap, d->cfg.rating_layers, d->cfg.nrating);
    else if (!strcmp(name, "retrieval-weight")) snprintf(buf, cap, "%g", d->retrieval_weight);
    else if (!strcmp(name, "rating-weight")) snprintf(buf, cap, "%g", d->rating_weight);
    else if (!strcmp(name, "logq")) snprintf(buf, cap, "%d", d->logq);
    else if (!strcmp(name, "no-logq")) snprintf(buf, cap, "%d", !d->logq);
    else if (!strcmp(name, "remove-accidental-hits")) snprintf(buf, cap, "%d", d->remove_hits);
    else if (!strcmp(name, "mask-seen")) snprintf(buf, cap, "%d", d->mask_seen);
    else if (!strcmp(name, "valid-exclude")) snprintf(buf, cap, "%d", d->valid_exclude);
    else if (!strcmp(name, "negatives")) snprintf(buf, cap, "batch");
    else if (!strcmp(name, "rating-head")) snprintf(buf, cap, "%s", d->cfg.wide ? "wide" : "mlp");
    else if (!strcmp(name, "rating-decay")) snprintf(buf, cap, "%g", d->rating_decay);
    else if (!strcmp(name, "distill")) snprintf(buf, cap, "%g", d->distill);
    else if (!strcmp(name, "distill-lambda")) snprintf(buf, cap, "%g", d->distill_lambda);
    else if (!strcmp(name, "distill-temperature")) snprintf(buf, cap, "%g", d->distill_temperature);
    else if (!strcmp(name, "history-halflife")) snprintf(buf, cap, "%g", d->cfg.history_halflife);
    else if (!strcmp(name, "temperature")) snprintf(buf, cap, "%g", d->cfg.temperature);
    else if (!strcmp(name, "popularity")) snprintf(buf, cap, "%g", d->cfg.popularity);
    else if (!strcmp(name, "id-dropout")) snprintf(buf, cap, "%g", d->id_dropout);
    else if (!strcmp(name, "optimizer")) snprintf(buf, cap, "%s", d->opt.kind == OPT_ADAM ? "adam" : "adagrad");
    else if (!strcmp(name, "lr")) snprintf(buf, cap, "%g", d->opt.lr);
    else if (!strcmp(name, "init-accumulator")) snprintf(buf, cap, "%g", d->opt.init_acc);
    else if (!strcmp(name, "l2")) snprintf(buf, cap, "%g", d->opt.l2);
    else if (!strcmp(name, "batch-size")) snprintf(buf, cap, "%zu", d->batch);
    else if (!strcmp(name, "epochs")) snprintf(buf, cap, "%zu", d->epochs);
    else if (!strcmp(name, "valid-every")) snprintf(buf, cap, "%zu", d->valid_every);
    else if (!strcmp(name, "patience")) snprintf(buf, cap, "%zu", d->patience);
    else if (!strcmp(name, "select")) snprintf(buf, cap, "top100");
    else if (!strcmp(name, "seed")) snprintf(buf, cap, "%llu", (unsigned long long)d->seed);
    else if (!strcmp(name, "threads")) snprintf(buf, cap, "%d", d->threads);
    else if (!strcmp(name, "no-pin")) snprintf(buf, cap, "%d", d->no_pin);
    else if (!strcmp(name, "quiet")) snprintf(buf, cap, "0");
    else buf[0] = '\0';
    return buf;
}

/* --list-options: one TSV row per option, for scripts (pipelines/grid.sh)
 * that must tell a value from a flag without reading the help. */
static void list_options(void)
{
    options d;
    set_defaults(&d);
    char buf[256];
    printf("name\ttype\tdefault\n");
    for (const struct option *l = LONGS; l->name; l++)
        if (l->val != OPT_OLD_TRAIN && l->val != OPT_OLD_ITEMS) /* deprecated aliases */
                printf("%s\t%s\t%s\n", l->name, l->has_arg == no_argument ? "flag" : "value",
                   default_of(&d, l->name, buf, sizeof buf));
    mlr_close_stdout();
    exit(0);
}

static void parse_args(int argc, char **argv, options *o)
{
    set_defaults(o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:s:o:b:e:qh", LONGS, NULL)) != -1) {
        if (c == 'h' || c == 'V' || c == '?' || c == ':')
            mlr_opt_rest(c, "mlr-train", usage, argv);
        if (c == OPT_LIST)
            list_options();
        parse_one(o, c, optarg);
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-train --help')", argv[optind]);
    if (!o->train || !o->spec || !o->output)
        mlr_usage_die("--rows ENCDIR, --spec SPECDIR and --output MODEL are required");
    if (o->valid && !o->items)
        mlr_usage_die("--valid needs --catalogue ITEMDIR (the catalogue to rank)");
    if (o->negatives != MODEL_NEG_BATCH && !o->items)
        mlr_usage_die("--negatives all and mixed:N need --catalogue ITEMDIR (the items to draw)");
    if (o->patience && !o->valid)
        mlr_usage_die("--patience needs --valid ENCDIR (the rows that say which epoch is best)");
    if (o->valid_exclude && !o->valid)
        mlr_usage_die("--valid-exclude needs --valid ENCDIR (the rows it ranks)");
    if (!o->lr_set)
        o->opt.lr = o->opt.kind == OPT_ADAM ? 0.001f : 0.1f;
    mlr_err e;
    if (o->query_features && model_parse_features(o->query_features, o->cfg.query, &o->cfg.nquery, &e) < 0)
        mlr_usage_die("--query-features: %s", e.msg);
    if (o->cand_features && model_parse_features(o->cand_features, o->cfg.cand, &o->cfg.ncand, &e) < 0)
        mlr_usage_die("--candidate-features: %s", e.msg);
}

/* ---- data ---- */

/* The rows of one encoded directory, as both towers and the trainer see them. */
typedef struct {
    model_input q, c;
    mlr_array keys, ratings; /* item_id (N) <i4, rating (N) <f4 (data NULL if absent) */
    size_t n;
} dataset;

static int load_dataset(dataset *d, const model *m, const char *dir, size_t nkeys,
                        int need_ratings, mlr_err *e)
{
    memset(d, 0, sizeof *d);
    if (mlr_encdir_check(dir, m->spec_sha256, e) < 0 ||
        model_input_load(&d->q, &m->query, dir, 0, e) < 0 ||
        model_input_load(&d->c, &m->cand, dir, d->q.n, e) < 0)
        return -1;
    d->n = d->q.n;
    if (mlr_encdir_keys(dir, d->n, nkeys, &d->keys, e) < 0)
        return -1;
    if (!need_ratings)
        return 0;
    int rc = mlr_encdir_ratings(dir, d->n, &d->ratings, e);
    if (rc == -2) { /* unreadable */
        char msg[900];
        memcpy(msg, e->msg, sizeof msg - 1);
        msg[sizeof msg - 1] = 0;
        return mlr_fail(e, "%s (no ratings? then --rating-weight 0)", msg);
    }
    return rc;
}

static void free_dataset(dataset *d)
{
    model_input_free(&d->q);
    model_input_free(&d->c);
    mlr_array_free(&d->keys);
    mlr_array_free(&d->ratings);
}

/* Validation: the catalogue, the rows and each row's true catalogue index. */
typedef struct {
    dataset rows;
    model_input items;
    mlr_strmap *ids;
    size_t nitems;
    long *truth; /* (N) catalogue index of the row's item, -1 if absent */
    /* --valid-exclude: user u's training items, as catalogue indices
     * (sorted), are excl[excl_off[u]..excl_off[u+1]); user[i] row i's user */
    size_t nusers, *excl_off;
    uint32_t *excl;
    const int32_t *user;
} validation;

static int load_truth(validation *v, const char *dir, mlr_err *e)
{
    char path[4096];
    mlr_reader *r = mlr_encdir_rows_open(dir, path, sizeof path, e);
    if (!r)
        return -1;
    int col = mlr_reader_require(r, "item_id", e), st = 0;
    size_t n = 0;
    v->truth = xmalloc((v->rows.n ? v->rows.n : 1) * sizeof(long));
    while (col >= 0 && (st = mlr_reader_next(r, e)) == 1) {
        if (n == v->rows.n) {
            st = mlr_fail(e, "%s:%ld: more rows than the encoded tensors (%zu)", path,
                          mlr_reader_line(r), v->rows.n);
            break;
        }
        v->truth[n++] = mlr_strmap_find(v->ids, mlr_reader_field(r, (size_t)col),
                                        mlr_reader_field_len(r, (size_t)col));
    }
    mlr_reader_close(r);
    if (col < 0 || st < 0)
        return -1;
    if (n != v->rows.n)
        return mlr_fail(e, "%s: %zu rows, the encoded tensors have %zu", path, n, v->rows.n);
    return 0;
}

static int load_validation(validation *v, const model *m, const options *o, size_t nkeys, mlr_err *e)
{
    char path[4096];
    memset(v, 0, sizeof *v);
    if (load_dataset(&v->rows, m, o->valid, nkeys, 1, e) < 0 ||
        mlr_encdir_check(o->items, m->spec_sha256, e) < 0 ||
        model_input_load(&v->items, &m->cand, o->items, 0, e) < 0)
        return -1;
    v->ids = mlr_strmap_new(v->items.n);
    mlr_encdir_items_path(path, sizeof path, o->items);
    if (mlr_ids_read(path, v->ids, &v->nitems, e) < 0)
        return -1;
    if (v->nitems != v->items.n)
        return mlr_fail(e, "%s: %zu ids for %zu encoded items", path, v->nitems, v->items.n);
    return load_truth(v, o->valid, e);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* --valid-exclude: each user's training items (seen) as catalogue indices
 * of the validation's items (o->items), which the figures leave out. */
static int validation_exclusions(validation *v, const model_seen *seen, const options *o,
                                 size_t nkeys, mlr_err *e)
{
    mlr_array keys;
    if (mlr_encdir_keys(o->items, v->nitems, nkeys, &keys, e) < 0)
        return -1;
    long *at = xmalloc((nkeys ? nkeys : 1) * sizeof(long)); /* catalogue index of a key */
    for (size_t k = 0; k < nkeys; k++)
        at[k] = -1;
    const int32_t *key = keys.data;
    for (size_t i = 0; i < v->nitems; i++)
        at[key[i]] = (long)i;
    v->nusers = seen->nusers;
    v->excl_off = xcalloc(seen->nusers + 1, sizeof(size_t));
    v->excl = xmalloc((seen->off[seen->nusers] + 1) * sizeof(uint32_t));
    size_t n = 0;
    for (size_t u = 0; u < seen->nusers; u++) {
        for (size_t i = seen->off[u]; i < seen->off[u + 1]; i++)
            if (at[seen->items[i]] >= 0)
                v->excl[n++] = (uint32_t)at[seen->items[i]];
        qsort(v->excl + v->excl_off[u], n - v->excl_off[u], sizeof(uint32_t), cmp_u32);
        v->excl_off[u + 1] = n;
    }
    v->user = v->rows.q.ids[seen->feat];
    free(at);
    mlr_array_free(&keys);
    return 0;
}

static void free_validation(validation *v)
{
    free(v->excl_off);
    free(v->excl);
    free_dataset(&v->rows);
    model_input_free(&v->items);
    mlr_strmap_free(v->ids);
    free(v->truth);
}

/* --negatives all or mixed:N: the catalogue the candidates come from,
 * holding every training row's item. */
static int load_negatives(model_catalogue *c, const model *m, const options *o, const dataset *d,
                          size_t nkeys, mlr_err *e)
{
    memset(c, 0, sizeof *c);
    if (o->negatives == MODEL_NEG_BATCH)
        return 0;
    if (model_catalogue_load(c, m, o->items, nkeys, e) < 0) {
        model_catalogue_free(c);
        return -1;
    }
    size_t miss = model_catalogue_missing(c, d->keys.data, d->n);
    if (miss) {
        model_catalogue_free(c);
        return mlr_fail(e, "%s: %zu training rows' items are not in the catalogue (--negatives "
                        "needs every one)", o->items, miss);
    }
    return 0;
}

/* ---- evaluation ---- */

typedef struct {
    double topk[MLR_ACC_N]; /* accuracy at MLR_ACC_K: 1, 5, 10, 50, 100 */
    double rmse;
    double ndcg10; /* each row's nDCG@10 (its own item the one relevant), the mean */
} figures;

typedef struct {
    const validation *v;
    size_t *rank; /* (N) 0 for a miss */
} rank_job;

static void rank_row(size_t row, float *scores, void *arg)
{
    rank_job *j = arg;
    const validation *v = j->v;
    long t = v->truth[row];
    const uint32_t *excl = NULL;
    size_t nexcl = 0;
    if (v->excl && (size_t)v->user[row] < v->nusers) {
        excl = v->excl + v->excl_off[v->user[row]];
        nexcl = v->excl_off[v->user[row] + 1] - v->excl_off[v->user[row]];
    }
    j->rank[row] = t < 0 ? 0 : mlr_topk_rank(scores, v->nitems, (size_t)t, excl, nexcl);
}

static void evaluate(const model *m, const validation *v, int threads, figures *f)
{
    size_t D = m->cfg.layers[m->cfg.nlayers - 1], N = v->rows.n, W = model_rank_width(m);
    float *items = xmalloc((v->nitems * D + 1) * sizeof(float)); /* (M, D) */
    float *q = xmalloc((N * D + 1) * sizeof(float));            /* (N, D) */
    float *c = xmalloc((N * D + 1) * sizeof(float));            /* (N, D) */
    float *pred = xmalloc((N + 1) * sizeof(float));             /* (N) */
    model_embed_threads(&m->cand, &v->items, items, threads);
    model_embed_threads(&m->query, &v->rows.q, q, threads);
    rank_job j = {v, xcalloc(N + 1, sizeof(size_t))};
    /* ranked as served: with the popularity prior's column (W > D) */
    float *ritems = xmalloc((v->nitems * W + 1) * sizeof(float)); /* (M, W) */
    float *rq = xmalloc((N * W + 1) * sizeof(float));             /* (N, W) */
    model_rank_rows(m, 1, &v->items, items, v->nitems, ritems);
    model_rank_rows(m, 0, &v->rows.q, q, N, rq);
    /* the scorer's threads are ours (OpenBLAS is single-threaded) */
    mlr_scorer *s = mlr_scorer_new(ritems, v->nitems, W, 0, threads);
    mlr_scorer_run(s, rq, N, rank_row, &j);
    mlr_scorer_free(s);
    free(ritems);
    free(rq);
    mlr_accuracy acc; /* the evaluator of mlr-score */
    mlr_accuracy_init(&acc, MLR_ACC_K, MLR_ACC_N);
    double ndcg = 0;
    for (size_t i = 0; i < N; i++) {
        mlr_accuracy_add(&acc, j.rank[i]);
        ndcg += mlr_row_ndcg(j.rank[i], 10);
    }
    for (size_t k = 0; k < MLR_ACC_N; k++)
        f->topk[k] = mlr_accuracy_value(&acc, k);
    f->ndcg10 = N ? ndcg / (double)N : 0.0;
    /* the rating head on the query embeddings just made and each row's
     * item from the catalogue (its candidate tower output: the item
     * features are the item's); a row whose item is not in the
     * catalogue gets its own */
    int all_known = 1;
    for (size_t i = 0; i < N; i++) {
        if (v->truth[i] >= 0)
            memcpy(c + i * D, items + (size_t)v->truth[i] * D, D * sizeof(float));
        else
            all_known = 0;
    }
    if (all_known)
        model_rating(m, q, c, N, pred);
    else
        model_predict(m, &v->rows.q, &v->rows.c, pred);
    const float *y = v->rows.ratings.data;
    mlr_errstat err = {0};
    for (size_t i = 0; i < N; i++)
        mlr_errstat_add(&err, pred[i], y[i]);
    f->rmse = mlr_rmse(&err);
    free(j.rank);
    free(items);
    free(q);
    free(c);
    free(pred);
}

/* ---- training ---- */

static void shuffle(size_t *p, size_t n, mlr_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)mlr_rng_below(rng, i);
        size_t t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

/* log q(item) from the training frequencies (an unseen key counts once). */
static float *log_q(const dataset *d, size_t nkeys)
{
    float *lq = xcalloc(nkeys, sizeof(float));
    const int32_t *k = d->keys.data;
    for (size_t i = 0; i < d->n; i++)
        lq[k[i]] += 1.0f;
    for (size_t i = 0; i < nkeys; i++)
        lq[i] = (float)log((lq[i] > 0 ? lq[i] : 1.0) / (double)d->n);
    return lq;
}

typedef struct {
    double loss, retrieval, rating, seconds, flops;
    size_t batches;
} epoch_stats;

static void progress(const options *o, size_t epoch, size_t done, size_t total, double t0,
                     const epoch_stats *s)
{
    double el = mlr_now() - t0, frac = ((double)epoch + (double)done / (double)total) / (double)o->epochs;
    double eta = frac > 0 ? el / frac - el : 0.0;
    fprintf(stderr, "\rmlr-train: epoch %zu/%zu  batch %zu/%zu  loss %.4g  ETA %.0fs   ",
            epoch + 1, o->epochs, done, total, s->batches ? s->loss / (double)s->batches : 0.0, eta);
}

static void train_epoch(model *m, model_batch *b, optimizer *opt, const model_loss_opts *lo,
                        const dataset *d, size_t *perm, mlr_rng *rng, const options *o,
                        size_t epoch, double t0, epoch_stats *es)
{
    int tty = !o->quiet && isatty(2);
    size_t nb = (d->n + o->batch - 1) / o->batch;
    double start = mlr_now(), last = 0.0;
    memset(es, 0, sizeof *es);
    shuffle(perm, d->n, rng);
    for (size_t i = 0; i < nb; i++) {
        size_t lo_row = i * o->batch, B = d->n - lo_row < o->batch ? d->n - lo_row : o->batch;
        model_step_stats st;
        model_train_step(m, b, opt, lo, &d->q, &d->c, d->keys.data, d->ratings.data,
                         perm + lo_row, B, &st);
        es->loss += st.loss;
        es->retrieval += st.retrieval;
        es->rating += st.rating;
        es->flops += st.flops;
        es->batches++;
        if (tty && mlr_now() - last > 0.2) {
            progress(o, epoch, i + 1, nb, t0, es);
            last = mlr_now();
        }
    }
    es->seconds = mlr_now() - start;
    if (es->batches) {
        es->loss /= (double)es->batches;
        es->retrieval /= (double)es->batches;
        es->rating /= (double)es->batches;
    }
}

/* kept: the epoch whose weights the model would be written with now. */
static void log_row(FILE *fp, size_t epoch, const epoch_stats *s, const figures *f, size_t kept)
{
    if (!fp)
        return;
    fprintf(fp, "%zu\t%.3f\t%.6g\t%.6g\t%.6g", epoch, s->seconds, s->loss, s->retrieval, s->rating);
    if (f)
        fprintf(fp, "\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f", f->topk[0], f->topk[1], f->topk[2],
                f->topk[3], f->topk[4], f->rmse, f->ndcg10);
    else
        fputs("\tNA\tNA\tNA\tNA\tNA\tNA\tNA", fp);
    fprintf(fp, "\t%.3f\t%zu\n", s->seconds > 0 ? s->flops / s->seconds * 1e-9 : 0.0, kept);
    fflush(fp);
}

/* x to 6 decimals, as the log prints it: the metadata says what the log does. */
static json_t *real6(double x)
{
    return json_real(round(x * 1e6) / 1e6);
}

/* A JSON text through jansson, in the keys' order; reals printed with 15
 * digits, enough to give back 6 decimals or a float's 9 digits exactly.
 * Takes o's reference. */
static char *dump_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (!s)
        mlr_die("out of memory");
    return s;
}

/* epoch: the epoch whose weights the model holds; run: how many ran. */
static char *metrics_json(size_t epoch, size_t run, const figures *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "epoch", json_integer((json_int_t)epoch));
    json_object_set_new(o, "epochs_run", json_integer((json_int_t)run));
    for (int k = 0; k < 5; k++)
        json_object_set_new(o, FIGURE_NAMES[k], real6(f->topk[k]));
    json_object_set_new(o, "rmse", real6(f->rmse));
    json_object_set_new(o, "ndcg10", real6(f->ndcg10));
    return dump_json(o);
}

/* The --select figure: higher is better. */
static double selected(const options *o, const figures *f)
{
    double s = 0;
    for (size_t i = 0; i < o->nselect; i++) {
        int k = o->select_fig[i];
        s += o->select_w[i] * (k == FIG_RMSE ? -f->rmse : k == FIG_NDCG ? f->ndcg10 : f->topk[k]);
    }
    return s;
}

/* The best epoch so far, its figures and (with --patience) its weights. */
typedef struct {
    size_t epoch; /* 0: none yet */
    double score;
    figures fig;
    float *params; /* (P) or NULL */
} best_epoch;

/* Notes epoch ep's figures; 1 when it is the best so far. */
static int note_epoch(best_epoch *b, const model *m, const options *o, size_t ep, const figures *f)
{
    double s = selected(o, f);
    if (b->epoch && !(s > b->score))
        return 0;
    b->epoch = ep;
    b->score = s;
    b->fig = *f;
    if (b->params)
        memcpy(b->params, m->params, m->P * sizeof(float));
    return 1;
}

/* A float option as its 9 significant digits (what the model file has
 * always recorded: 0.001f is 0.00100000005, not the double's 17 digits). */
static json_t *real9(float x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", x);
    return json_real(strtod(buf, NULL));
}

/* The training options the model's metadata records (its "train"). */
static char *train_json(const options *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "optimizer", json_string(o->opt.kind == OPT_ADAM ? "adam" : "adagrad"));
    json_object_set_new(j, "lr", real9(o->opt.lr));
    json_object_set_new(j, "init_accumulator", real9(o->opt.init_acc));
    json_object_set_new(j, "l2", real9(o->opt.l2));
    json_object_set_new(j, "batch_size", json_integer((json_int_t)o->batch));
    json_object_set_new(j, "epochs", json_integer((json_int_t)o->epochs));
    json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(j, "retrieval_weight", json_real(o->retrieval_weight));
    json_object_set_new(j, "rating_weight", json_real(o->rating_weight));
    json_object_set_new(j, "remove_accidental_hits", json_boolean(o->remove_hits));
    json_object_set_new(j, "mask_seen", json_boolean(o->mask_seen));
    json_object_set_new(j, "valid_exclude", json_boolean(o->valid_exclude));
    json_object_set_new(j, "logq", json_boolean(o->logq));
    json_object_set_new(j, "id_dropout", json_real(o->id_dropout));
    json_object_set_new(j, "negatives", json_string(o->negatives == MODEL_NEG_ALL ? "all"
                                                    : o->negatives == MODEL_NEG_MIXED ? "mixed"
                                                    : "batch"));
    json_object_set_new(j, "negative_samples", json_integer((json_int_t)o->nsample));
    json_object_set_new(j, "rating_decay", real9(o->rating_decay));
    json_object_set_new(j, "distill", real9(o->distill));
    if (o->distill > 0) {
        json_object_set_new(j, "distill_lambda", real9(o->distill_lambda));
        json_object_set_new(j, "distill_temperature", real9(o->distill_temperature));
    }
    return dump_json(j);
}

/* --init: the old model's parameters into m, rows matched by token. */
static int warm_start(model *m, const mlr_spec *spec, const options *o, mlr_err *e)
{
    model old;
    mlr_spec ospec;
    memset(&ospec, 0, sizeof ospec);
    if (model_load(&old, o->init, e) < 0)
        return -1;
    const mlr_spec *os = spec;
    int rc = 0;
    if (strcmp(old.spec_sha256, spec->sha256) != 0) {
        /* models before 2026-12-07 name their specification's path */
        const char *dir = o->init_spec ? o->init_spec : old.spec_path;
        if (!dir || !*dir)
            rc = mlr_fail(e, "%s was trained with another specification than --spec: "
                          "pass its --init-spec", o->init);
        else if (mlr_spec_read(dir, &ospec, e) < 0)
            rc = -1;
        else if (strcmp(ospec.sha256, old.spec_sha256) != 0)
            rc = mlr_fail(e, "%s/features.tsv: not the specification %s was trained with "
                          "(checksum differs): pass its --init-spec", dir, o->init);
        os = &ospec;
    }
    size_t carried = 0, fresh = 0;
    if (rc == 0)
        rc = model_warm_start(m, spec, &old, os, &carried, &fresh, e);
    if (rc == 0 && !o->quiet)
        fprintf(stderr, "mlr-train: warm start from %s: %zu embedding rows carried over, %zu new\n",
                o->init, carried, fresh);
    model_free(&old);
    mlr_spec_free(&ospec);
    return rc;
}

/* ---- --checkpoint DIR: the run's state after each epoch ---- */

/* A line of the fingerprint's text, cut at the buffer's end. */
static void addf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void addf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (*len < cap) {
        int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
        *len += n > 0 ? (size_t)n : 0;
    }
    va_end(ap);
}

/* What a checkpoint must have been made with to be continued: every
 * option that changes the model's bits and the data (SHA-256 of their
 * description). Not --threads or --no-pin (the bits do not depend on
 * them), --output or --quiet. Whether the log is a file is in it: its rows are resumed. */
static int run_fingerprint(const options *o, const char *train_sha, const mlr_spec *spec,
                           char out[65], mlr_err *e)
{
    char buf[8192], w[256], sha[65];
    size_t len = 0;
    char *tj = train_json(o);
    addf(buf, sizeof buf, &len, "train %s\nspec %s\nrows %s\n%s\n", tj, spec->sha256, train_sha,
         o->query_features ? o->query_features : "-");
    free(tj);
    addf(buf, sizeof buf, &len, "%s\ndim %zu\nlayers %s\n", o->cand_features ? o->cand_features : "-",
         o->cfg.dim, join_widths(w, sizeof w, o->cfg.layers, o->cfg.nlayers));
    addf(buf, sizeof buf, &len, "rating %s\nevery %zu\npatience %zu\nlog %s\n",
         join_widths(w, sizeof w, o->cfg.rating_layers, o->cfg.nrating), o->valid_every,
         o->patience, !o->log ? "none" : strcmp(o->log, "-") ? "file" : "stdout");
    for (size_t i = 0; i < o->nselect; i++)
        addf(buf, sizeof buf, &len, "select %d %.17g\n", o->select_fig[i], o->select_w[i]);
    if (o->valid) {
        if (mlr_encdir_checksum(o->valid, sha, e) < 0)
            return -1;
        addf(buf, sizeof buf, &len, "valid %s\n", sha);
        mlr_encdir_items_path(w, sizeof w, o->items);
        if (mlr_sha256_file(w, sha, e) < 0)
            return -1;
        addf(buf, sizeof buf, &len, "items %s\n", sha);
        if (mlr_encdir_checksum(o->items, sha, e) < 0)
            return -1;
        addf(buf, sizeof buf, &len, "catalogue %s\n", sha);
    }
    if (o->init) {
        if (mlr_sha256_file(o->init, sha, e) < 0)
            return -1;
        addf(buf, sizeof buf, &len, "init %s\n", sha);
    }
    mlr_sha256(buf, len < sizeof buf ? len : sizeof buf, out);
    return 0;
}

/* The loop's state besides the weights and the optimiser's moments. */
typedef struct {
    uint64_t epoch;          /* epochs run */
    int64_t log_pos;         /* bytes of the log file so far; -1: no log file */
    int64_t opt_t;
    float lr_t;
    int32_t have_fig, pad;
    mlr_rng rng, drop;       /* the shuffle's, the id dropout's */
    uint64_t best_epoch;
    double best_score;
    figures best_fig, fig;   /* the best epoch's, the last validated epoch's */
} ckpt_state;

/* Reads DIR/state if there is one (*out NULL if not) and refuses one made
 * by another run. */
static int open_checkpoint(const options *o, const char *fingerprint, mlr_ckpt **out, mlr_err *e)
{
    int rc = mlr_ckpt_read(o->checkpoint, out, e);
    if (rc <= 0)
        return rc;
    size_t n = 0;
    const char *fp = mlr_ckpt_get(*out, "fingerprint", &n);
    if (!fp || n != 64 || memcmp(fp, fingerprint, 64) != 0) {
        mlr_fail(e, "%s: a checkpoint of another run (other options or data): remove it or "
                 "pass another --checkpoint", mlr_ckpt_path(*out));
        mlr_ckpt_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* Writes the state after epoch ep (1-based) into DIR/state. */
static int save_checkpoint(const options *o, const char *fingerprint, const model *m,
                           const optimizer *opt, ckpt_state *st, const best_epoch *b,
                           FILE *logfp, mlr_err *e)
{
    size_t bytes = m->P * sizeof(float);
    st->log_pos = logfp && logfp != stdout ? (int64_t)ftello(logfp) : -1;
    st->opt_t = opt->t;
    st->lr_t = opt->lr_t;
    st->best_epoch = b->epoch;
    st->best_score = b->score;
    st->best_fig = b->fig;
    mlr_ckpt *c = mlr_ckpt_new();
    mlr_ckpt_put(c, "fingerprint", fingerprint, 64);
    mlr_ckpt_put(c, "state", st, sizeof *st);
    mlr_ckpt_put(c, "params", m->params, bytes);
    mlr_ckpt_put(c, "opt_m", opt->m, bytes);
    if (opt->v)
        mlr_ckpt_put(c, "opt_v", opt->v, bytes);
    if (b->params)
        mlr_ckpt_put(c, "best_params", b->params, bytes);
    if (m->metrics)
        mlr_ckpt_put(c, "metrics", m->metrics, strlen(m->metrics) + 1);
    int rc = mlr_ckpt_write(c, o->checkpoint, e);
    mlr_ckpt_free(c);
    return rc;
}

/* Puts a checkpoint's state back into the run. */
static int restore_checkpoint(const mlr_ckpt *c, model *m, optimizer *opt, ckpt_state *st,
                              best_epoch *b, mlr_err *e)
{
    size_t bytes = m->P * sizeof(float), n = 0;
    if (mlr_ckpt_copy(c, "state", st, sizeof *st, e) < 0 ||
        mlr_ckpt_copy(c, "params", m->params, bytes, e) < 0 ||
        mlr_ckpt_copy(c, "opt_m", opt->m, bytes, e) < 0 ||
        (opt->v && mlr_ckpt_copy(c, "opt_v", opt->v, bytes, e) < 0) ||
        (b->params && mlr_ckpt_copy(c, "best_params", b->params, bytes, e) < 0))
        return -1;
    opt->t = (long)st->opt_t;
    opt->lr_t = st->lr_t;
    b->epoch = (size_t)st->best_epoch;
    b->score = st->best_score;
    b->fig = st->best_fig;
    const char *metrics = mlr_ckpt_get(c, "metrics", &n);
    free(m->metrics);
    m->metrics = metrics && n && !metrics[n - 1] ? xstrdup(metrics) : NULL;
    return 0;
}

/* The log: a new file with its header, or with a checkpoint the earlier
 * run's file cut back to the rows of the checkpoint's epochs. */
static int open_log(const options *o, const mlr_ckpt *resume, FILE **out, mlr_err *e)
{
    static const char HEADER[] = "epoch\tseconds\tloss\tretrieval_loss\trating_loss\ttop1\ttop5"
                                 "\ttop10\ttop50\ttop100\trmse\tndcg10\tgflops\tkept\n";
    *out = NULL;
    if (strcmp(o->log, "-") == 0) {
        *out = stdout;
        if (!resume)
            fputs(HEADER, stdout);
        return 0;
    }
    ckpt_state st;
    if (resume && mlr_ckpt_copy(resume, "state", &st, sizeof st, e) < 0)
        return -1;
    FILE *fp = fopen(o->log, resume ? "r+" : "w");
    if (!fp)
        return mlr_fail(e, "%s: cannot open%s: %s", o->log, resume ? " the checkpointed run's log" : "",
                        strerror(errno));
    if (resume) {
        struct stat sb;
        if (fstat(fileno(fp), &sb) < 0 || sb.st_size < st.log_pos || st.log_pos < 0 ||
            ftruncate(fileno(fp), (off_t)st.log_pos) < 0 || fseeko(fp, (off_t)st.log_pos, SEEK_SET) < 0) {
            fclose(fp);
            return mlr_fail(e, "%s: not the log of the checkpointed run (shorter than its %lld bytes)",
                            o->log, (long long)st.log_pos);
        }
    } else {
        fputs(HEADER, fp);
    }
    fflush(fp);
    *out = fp;
    return 0;
}

/* SIGINT or SIGTERM: the epoch in progress ends, then the model so far is
 * written (the best epoch's with --patience) and the run exits 128 + the
 * signal. A second signal ends the run at once, as the default action
 * would: the model file is written atomically, so the earlier one stays. */
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    if (stop_signal) {
        mlr_out_unlink_temporaries(); /* a model half written */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The width of the user_history rows trained on (0: none), which the
 * model's metadata records for serving (lib/history.h). */
static size_t history_width;

/* What a training run holds beside the model: its rows and validation
 * slice, the softmax's catalogue, the users' items and the teacher read
 * from them, the batch, the optimiser and the random streams. lo points
 * into it, so it stays where run_open made it. */
typedef struct {
    dataset d;
    validation v;
    int has_valid;
    model_catalogue cat;
    model_seen seen;
    model_teacher teacher;
    float *lq;
    mlr_rng rng, drop_rng, neg_rng;
    model_loss_opts lo;
    model_batch *b;
    optimizer opt;
    size_t *perm;
    size_t nkeys; /* the item_id vocabulary's size */
} train_run;

/* Frees what run_open made, however far it got. */
static void run_close(train_run *r)
{
    free(r->perm);
    free(r->lq);
    opt_free(&r->opt);
    model_batch_free(r->b);
    model_catalogue_free(&r->cat);
    model_teacher_free(&r->teacher);
    model_seen_free(&r->seen);
    free_dataset(&r->d);
    free_validation(&r->v);
}

/* The rows, the slice and what the losses read of them (run_close after,
 * success or not). */
static int run_load(train_run *r, model *m, const mlr_spec *spec, const options *o, mlr_err *e)
{
    memset(r, 0, sizeof *r);
    const mlr_feature *item = mlr_spec_find(spec, "item_id");
    if (!item)
        return mlr_fail(e, "%s/features.tsv: no item_id feature", o->spec);
    size_t nkeys = r->nkeys = item->size;
    r->has_valid = o->valid != NULL;
    int need_seen = o->mask_seen || o->distill > 0 || (r->has_valid && o->valid_exclude);
    if (load_dataset(&r->d, m, o->train, nkeys, o->rating_weight > 0, e) < 0 ||
        (r->has_valid && load_validation(&r->v, m, o, nkeys, e) < 0) ||
        load_negatives(&r->cat, m, o, &r->d, nkeys, e) < 0 ||
        (need_seen && model_seen_build(&r->seen, m, &r->d.q, r->d.keys.data, r->d.n, e) < 0) ||
        (o->distill > 0 && model_teacher_ease(&r->teacher, &r->seen, nkeys, o->distill_lambda,
                                              o->distill_temperature, o->distill,
                                              o->teacher_cache, e) < 0) ||
        (r->has_valid && o->valid_exclude && validation_exclusions(&r->v, &r->seen, o, nkeys, e) < 0))
        return -1;
    for (size_t i = 0; i < m->query.nfeat; i++)
        if (strcmp(m->query.feat[i].name, "user_history") == 0)
            history_width = r->d.q.L[i];
    model_set_popularity(m, r->d.keys.data, r->d.n);
    r->lq = o->logq ? log_q(&r->d, nkeys) : NULL;
    return 0;
}

/* run_load, then the losses' options, the batch and the optimiser. */
static int run_open(train_run *r, model *m, const mlr_spec *spec, const options *o, mlr_err *e)
{
    if (run_load(r, m, spec, o, e) < 0)
        return -1;
    mlr_rng_seed(&r->rng, o->seed ^ 0x5eed5eedULL);
    /* its own stream: the shuffle does not change with --id-dropout */
    mlr_rng_seed(&r->drop_rng, o->seed ^ 0xd409d409ULL);
    mlr_rng_seed(&r->neg_rng, o->seed ^ 0x9e6a9e6aULL); /* the draws of mixed:N: their own too */
    r->lo = (model_loss_opts){o->retrieval_weight, o->rating_weight, o->remove_hits, r->lq,
                              o->id_dropout, &r->drop_rng, o->negatives, &r->cat, o->nsample,
                              &r->neg_rng, o->rating_decay, o->mask_seen ? &r->seen : NULL,
                              o->distill > 0 ? &r->teacher : NULL};
    size_t n = r->d.n, cap = o->batch < n ? o->batch : (n ? n : 1), ncat = r->cat.n;
    size_t ccap = o->negatives == MODEL_NEG_ALL ? ncat
                  : o->negatives == MODEL_NEG_MIXED ? (cap + o->nsample < ncat ? cap + o->nsample : ncat)
                  : cap;
    r->b = model_batch_new_cand(m, &r->d.q, o->negatives ? &r->cat.in : &r->d.c,
                                r->nkeys, cap, ccap, o->threads);
    if (!o->no_pin)
        model_batch_pin(r->b);
    opt_init(&r->opt, &o->opt, m->P);
    r->perm = xmalloc((n + 1) * sizeof(size_t));
    return 0;
}

/* --patience: the best epoch's weights replace the last epoch's (ep the
 * epochs run), its figures into *f. */
static void keep_best(model *m, const options *o, const best_epoch *best, size_t ep, figures *f)
{
    memcpy(m->params, best->params, m->P * sizeof(float));
    free(m->metrics);
    m->metrics = metrics_json(best->epoch, ep, &best->fig);
    *f = best->fig;
    if (!o->quiet)
        fprintf(stderr, "%smlr-train: kept epoch %zu of %zu (--select %.6g)\n",
                isatty(2) ? "\n" : "", best->epoch, ep, best->score);
}

/* Trains m; with resume, from the state of that checkpoint; with
 * o->checkpoint, the state after each epoch kept there (fingerprint: of
 * this run). */
static int train(model *m, const mlr_spec *spec, const options *o, FILE *logfp,
                 const char *fingerprint, const mlr_ckpt *resume, mlr_err *e)
{
    train_run r;
    if (run_open(&r, m, spec, o, e) < 0) {
        run_close(&r);
        return -1;
    }
    double t0 = mlr_now();
    figures f;
    int have_fig = 0;
    best_epoch best = {0, 0, {{0}, 0, 0}, o->patience ? xmalloc(m->P * sizeof(float)) : NULL};
    size_t ep = 0;
    int rc = 0;
    ckpt_state st;
    memset(&st, 0, sizeof st); /* its padding too: the same state, the same file */
    if (resume && (rc = restore_checkpoint(resume, m, &r.opt, &st, &best, e)) == 0) {
        ep = (size_t)st.epoch;
        r.rng = st.rng;
        r.drop_rng = st.drop;
        f = st.fig;
        have_fig = st.have_fig;
        if (!o->quiet)
            fprintf(stderr, "mlr-train: %s: continuing after epoch %zu of %zu\n",
                    mlr_ckpt_path(resume), ep, o->epochs);
    }
    /* a checkpoint of a run that --patience ended has nothing left to run */
    int ended = o->patience && best.epoch && ep - best.epoch >= o->patience;
    for (; rc == 0 && !ended && ep < o->epochs; ep++) {
        epoch_stats es;
        train_epoch(m, r.b, &r.opt, &r.lo, &r.d, r.perm, &r.rng, o, ep, t0, &es);
        int eval = r.has_valid && ((ep + 1) % o->valid_every == 0 || ep + 1 == o->epochs);
        if (eval) {
            evaluate(m, &r.v, o->threads, &f);
            have_fig = 1;
            note_epoch(&best, m, o, ep + 1, &f);
            free(m->metrics);
            m->metrics = metrics_json(ep + 1, ep + 1, &f);
        }
        log_row(logfp, ep + 1, &es, eval ? &f : NULL, o->patience ? best.epoch : ep + 1);
        if (o->checkpoint) {
            st.epoch = ep + 1;
            st.rng = r.rng;
            st.drop = r.drop_rng;
            st.fig = f;
            st.have_fig = have_fig;
            if ((rc = save_checkpoint(o, fingerprint, m, &r.opt, &st, &best, logfp, e)) < 0)
                break;
        }
        if (o->patience && best.epoch && ep + 1 - best.epoch >= o->patience) {
            ep++;
            break;
        }
        if (stop_signal) {
            fprintf(stderr, "%smlr-train: %s: stopped after epoch %zu of %zu; writing the model so far%s\n",
                    !o->quiet && isatty(2) ? "\n" : "", stop_signal == SIGINT ? "SIGINT" : "SIGTERM",
                    ep + 1, o->epochs, o->patience ? " (its best epoch)" : "");
            ep++;
            break;
        }
    }
    if (rc == 0 && o->patience && best.epoch)
        keep_best(m, o, &best, ep, &f);
    free(best.params);
    /* the progress line ends with the last figures, on a terminal only */
    if (!o->quiet && isatty(2) && have_fig)
        fprintf(stderr, "\nmlr-train: top10 %.4f top100 %.4f rmse %.4f\n", f.topk[2], f.topk[4], f.rmse);
    else if (!o->quiet && isatty(2))
        fputc('\n', stderr);
    run_close(&r);
    return rc;
}

/* Whether the query tower pools a user_history (what --history-halflife weighs). */
static int has_history(const model *m)
{
    for (size_t i = 0; i < m->query.nfeat; i++)
        if (m->query.feat[i].halflife > 0)
            return 1;
    return 0;
}

/* The teacher's EASE weights (items^2) and logits (users x items) must fit:
 * items within EASE's cap, logits within 2^28 (512 MB as int16). By default
 * (--distill not given) a model it cannot teach trains without it: one
 * whose query tower reads no user_id quietly, one over the caps (the 20M
 * shape's 27,000 items) with a warning; given, either is an error. */
#define TEACHER_MAX_LOGITS ((size_t)1 << 28)

static int distill_fits(options *o, const model *m, const mlr_spec *spec, mlr_err *e)
{
    const mlr_feature *item = mlr_spec_find(spec, "item_id");
    size_t items = item ? item->size : 0;
    int uf = model_user_feature(m);
    if (o->distill <= 0 || !items)
        return 0;
    if (uf < 0) { /* given --distill: model_seen_build says what is missing */
        if (!o->distill_set)
            o->distill = 0.0;
        return 0;
    }
    size_t users = m->query.feat[uf].vocab;
    if (items <= MLR_EASE_MAX_ITEMS && users <= TEACHER_MAX_LOGITS / items)
        return 0;
    if (o->distill_set)
        return mlr_fail(e, "--distill: %zu users x %zu items: over EASE's %d items or the "
                           "teacher's 2^28 logits (--distill 0 trains without it)",
                        users, items, MLR_EASE_MAX_ITEMS);
    if (!o->quiet)
        mlr_warn("%zu users x %zu items: over EASE's %d items or the teacher's 2^28 logits: "
                 "trained without --distill's teacher", users, items, MLR_EASE_MAX_ITEMS);
    o->distill = 0.0;
    return 0;
}

static int run(const options *given, mlr_err *e)
{
    options eff = *given; /* --distill off where its teacher cannot be */
    const options *o = &eff;
    mlr_spec spec;
    model m;
    memset(&m, 0, sizeof m);
    if (mlr_spec_read(o->spec, &spec, e) < 0) {
        mlr_spec_free(&spec);
        return -1;
    }
    mlr_rng rng;
    mlr_rng_seed(&rng, o->seed);
    int lenient = !o->query_features && !o->cand_features;
    int rc = model_build(&m, &o->cfg, &spec, lenient, &rng, e);
    for (size_t i = 0; rc == 0 && i < m.query.nfeat; i++)
        if (m.query.feat[i].kind == MF_VALUE && !o->quiet)
            mlr_warn("the query tower reads the rating: the label leaks into both tasks");
    if (rc == 0 && o->cfg.history_halflife > 0 && !has_history(&m))
        rc = mlr_fail(e, "--history-halflife: the query tower reads no user_history "
                         "(prepare.sh --history 0, or --query-features without it)");
    if (rc == 0)
        rc = distill_fits(&eff, &m, &spec, e);
    if (rc == 0 && o->init)
        rc = warm_start(&m, &spec, o, e);
    char sha[65];
    if (rc == 0)
        rc = mlr_encdir_checksum(o->train, sha, e);
    char fingerprint[65] = "";
    mlr_ckpt *resume = NULL;
    if (rc == 0 && o->checkpoint && (rc = run_fingerprint(o, sha, &spec, fingerprint, e)) == 0)
        rc = open_checkpoint(o, fingerprint, &resume, e);
    /* The log is written in place, a row flushed as each epoch ends, so
     * that `tail -f` follows the run (a log, not an output: a failed run
     * leaves the rows it made). */
    FILE *logfp = NULL;
    int log_stdout = o->log && strcmp(o->log, "-") == 0;
    if (rc == 0 && o->log)
        rc = open_log(o, resume, &logfp, e);
    if (rc == 0)
        rc = train(&m, &spec, o, logfp, fingerprint, resume, e);
    mlr_ckpt_free(resume);
    /* a log that cannot be written fails the run before the model replaces
     * an earlier one */
    if (rc == 0 && logfp) {
        errno = 0;
        if (fflush(logfp) != 0 || ferror(logfp))
            rc = mlr_fail(e, "%s: write error: %s", o->log, errno ? strerror(errno) : "input/output error");
    }
    if (rc == 0) {
        /* no spec_path: a model's bytes are what it computed, not where
         * its run was (docs/fingerprint.md) */
        m.train_sha256 = xstrdup(sha);
        m.train_json = train_json(o);
        if (history_width)
            m.train_json = mlr_history_note(m.train_json, history_width);
        rc = model_save(&m, o->output, e);
    }
    if (logfp && !log_stdout && fclose(logfp) != 0 && rc == 0)
        rc = mlr_fail(e, "%s: write error: %s", o->log, strerror(errno));
    model_free(&m);
    mlr_spec_free(&spec);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    mlr_err e;
    mlr_init_tool();
    parse_args(argc, argv, &o);
    /* our threads split the work; OpenBLAS's on these small products cost
     * more than they bring, and must not oversubscribe ours */
    openblas_set_num_threads(1);
    catch_stop_signals();
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    /* stopped by a signal: the model so far is written, the run was not
     * the one asked for */
    return stop_signal ? 128 + stop_signal : 0;
}
