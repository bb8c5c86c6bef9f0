/* mlr-recommend: a served model directory (docs/serving.md) + users -> the
 * top K items of each user, with the score, the predicted rating, the
 * title and a reason; or the nearest items of an item (--similar). */
#include <cblas.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ease.h"
#include "fuse.h"
#include "mlr.h"
#include "serve.h"
#include "table.h"
#include "topk.h"
#include "tower.h"

typedef struct {
    const char *served, *users, *new_users, *rated, *allow, *deny, *order, *output;
    const char *val[MLR_P_NCOLS]; /* --age, --gender, --occupation, --zip */
    const char *rated_items;      /* --rated-items I,J,... for that new user */
    char **ids;                   /* user ids from the arguments */
    size_t nids;
    const char **similar;
    size_t nsimilar;
    int json, keep_seen, dot, verify, threads, has_time;
    long k;
    double time;
    const char *fuse;   /* --fuse-ease W or auto; NULL: the model's lists */
    double fuse_w;      /* the model's weight in the fused lists */
    double lambda;      /* EASE's; 0 until set (--lambda, hybrid.tsv, 500) */
} options;

/* The fused lists are made from each recommender's top 100 (or K, when
 * more): hybrid.sh's lists, on which the weight was chosen. */
#define FUSE_DEPTH 100

static const char USAGE[] =
    "usage: mlr-recommend --served DIR [USER...] [--users FILE] [--new FILE] [--rated FILE]\n"
    "                     [--age A --gender G --occupation O --zip Z --rated-items I,J]\n"
    "                     [--k K] [--time T] [--keep-seen] [--allow FILE] [--deny FILE]\n"
    "                     [--order FILE] [--fuse-ease W|auto [--lambda L]]\n"
    "                     [--format tsv|json] [--output FILE]\n"
    "       mlr-recommend --served DIR --similar ITEM [--similar ITEM...] [--measure cosine|dot]\n"
    "The top K items for each user from a served model directory (evaluate.sh's\n"
    "OUTDIR/served, retrain.sh's DIR/current; docs/serving.md; several models, as\n"
    "evaluate.sh --seeds N leaves, serve their mean), all users in one batch. Known\n"
    "users are named by id (arguments, or the user_id column of FILE);\n"
    "new users by their features (--new FILE: user_id and any of user_age,\n"
    "user_gender, user_occupation, user_zip; or one user 'new' from --age, --gender,\n"
    "--occupation, --zip) and the movies they rated (--rated FILE: user_id, item_id,\n"
    "rating; --rated-items for the user 'new'), which are not recommended again, give\n"
    "the reasons and, when the model reads user_history, are the user's history (a\n"
    "later one the newer, before a known user's own; as many as the model's training\n"
    "histories held, 16 by default). The query is built at time T; numbers outside the\n"
    "training range are clipped to it (one warning). Training rows after T are not\n"
    "known at T: they are left out of the histories, the items removed and the\n"
    "reasons. Without --time, a known user's query is made as the run chose on its\n"
    "validation slice (DIR/user-time.tsv: at their last or median training time, or\n"
    "the mean of the queries at each of their training times), any other at the last\n"
    "training timestamp (every query, without that file).\n"
    "\n"
    "Output, TSV: user_id rank item_id score predicted_rating title reason.\n"
    "  score             the retrieval score, the inner product of the user's and the\n"
    "                    item's embeddings (their cosine for a model with a temperature\n"
    "                    T): it orders one user's items (the model's softmax makes\n"
    "                    exp(score / T), or exp(score) at T 0, proportional to the chance\n"
    "                    the user picks the item); it is not comparable between users\n"
    "  predicted_rating  the rating head's estimate on the data's scale (1-5 stars)\n"
    "  reason            'because you rated TITLE (R)': of the user's history (ratings\n"
    "                    of 4 or more when there are any), the item whose embedding is\n"
    "                    nearest (cosine) to this one; empty without a history\n"
    "--fuse-ease W: each user's list is the model's top 100 and EASE's (Steck 2019,\n"
    "--lambda L, default 500: DIR/ease.npy at hybrid.tsv's lambda without --time, else\n"
    "fitted once on the served histories as of T) fused by mlr-fuse's z rule, EASE's\n"
    "list first, the model's weight W in [0, 1] and EASE's 1 - W; the\n"
    "score is then the fused one. --fuse-ease auto takes W and L from DIR/hybrid.tsv,\n"
    "the pair chosen on the run's validation slice (--lambda, given, still wins). A\n"
    "user with no rated movie gets the model's order (EASE has none to start from).\n"
    "--format json writes one object per user: {\"user_id\", \"items\": [...]} (jansson).\n"
    "--similar: TSV item_id rank similar_item_id score title, the items nearest ITEM\n"
    "in the candidate space by cosine (or --measure dot: the inner product).\n"
    "\n"
    "      --served DIR       the served model directory (required)\n"
    "      --users FILE       users to serve: a table with a user_id column\n"
    "      --new FILE         new users: user_id and their features (TSV)\n"
    "      --rated FILE       movies users rated: user_id, item_id[, rating] (TSV)\n"
    "      --age A, --gender G, --occupation O, --zip Z\n"
    "                         one new user, id 'new', with these features\n"
    "      --rated-items LIST\n"
    "                         the items (comma-separated ids) the user 'new' rated\n"
    "  -k, --k K              items per user (default 10)\n"
    "      --time T           the query time, Unix seconds, for every user (default: above)\n"
    "      --keep-seen        keep the items a user rated (default: removed)\n"
    "      --allow FILE       recommend only these items (a table with item_id or id)\n"
    "      --deny FILE        never recommend these items (same form)\n"
    "      --order FILE       list each user's items of FILE in its order, not the model's\n"
    "                         ranking (columns user_id, item_id, score: mlr-fuse's,\n"
    "                         mlr-baseline's or mlr-topk's lists), the score FILE's\n"
    "      --fuse-ease W|auto\n"
    "                         the model and EASE fused, the model's weight W (above)\n"
    "      --lambda L         EASE's L2 weight with --fuse-ease (default 500; auto: hybrid.tsv's)\n"
    "      --similar ITEM     the neighbours of ITEM (repeatable)\n"
    "      --measure M        --similar's measure: cosine (default) or dot\n"
    "      --format F         tsv (default) or json\n"
    "  -o, --output FILE      write here atomically (default stdout)\n"
    "      --threads T        threads of the top-k (default: the CPUs)\n"
    "      --no-verify        skip the SHA-256 check of every file against MANIFEST\n"
    "  -h, --help             this help\n"
    "      --version          the version\n"
    "\n"
    "example: mlr-recommend --served run/served 42 196 --k 5\n"
    "         mlr-recommend --served run/served --age 28 --gender F --occupation writer \\\n"
    "             --rated-items 50,181 --format json\n"
    "         mlr-recommend --served run/served --similar 50 --k 5\n"
    "         mlr-recommend --served run/served --order run/topk.tsv --k 5 42 196\n"
    "         mlr-recommend --served run/served --fuse-ease 0.7 --lambda 500 42 196\n";

static void usage(FILE *fp)
{
    fputs(USAGE, fp);
}

static void parse_args(int argc, char **argv, options *o)
{
    enum { O_SERVED = 256, O_USERS, O_NEW, O_RATED, O_AGE, O_GENDER, O_OCC, O_ZIP, O_RATED_ITEMS, O_TIME, O_KEEP,
           O_ALLOW, O_DENY, O_ORDER, O_SIMILAR, O_MEASURE, O_FORMAT, O_THREADS, O_NOVERIFY, O_FUSE, O_LAMBDA };
    static const struct option longs[] = {
        {"served", required_argument, NULL, O_SERVED}, {"users", required_argument, NULL, O_USERS},
        {"new", required_argument, NULL, O_NEW}, {"rated", required_argument, NULL, O_RATED},
        {"age", required_argument, NULL, O_AGE}, {"gender", required_argument, NULL, O_GENDER},
        {"occupation", required_argument, NULL, O_OCC}, {"zip", required_argument, NULL, O_ZIP},
        {"rated-items", required_argument, NULL, O_RATED_ITEMS}, {"k", required_argument, NULL, 'k'},
        {"time", required_argument, NULL, O_TIME}, {"keep-seen", no_argument, NULL, O_KEEP},
        {"allow", required_argument, NULL, O_ALLOW}, {"deny", required_argument, NULL, O_DENY},
        {"order", required_argument, NULL, O_ORDER},
        {"similar", required_argument, NULL, O_SIMILAR}, {"measure", required_argument, NULL, O_MEASURE},
        {"format", required_argument, NULL, O_FORMAT}, {"output", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, O_THREADS}, {"no-verify", no_argument, NULL, O_NOVERIFY},
        {"fuse-ease", required_argument, NULL, O_FUSE}, {"lambda", required_argument, NULL, O_LAMBDA},
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->k = 10;
    o->verify = 1;
    o->threads = (int)mlr_cpus();
    o->similar = xcalloc((size_t)argc + 1, sizeof *o->similar);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:o:h", longs, NULL)) != -1) {
        switch (c) {
        case O_SERVED: o->served = optarg; break;
        case O_USERS: o->users = optarg; break;
        case O_NEW: o->new_users = optarg; break;
        case O_RATED: o->rated = optarg; break;
        case O_AGE: o->val[MLR_P_AGE] = optarg; break;
        case O_GENDER: o->val[MLR_P_GENDER] = optarg; break;
        case O_OCC: o->val[MLR_P_OCCUPATION] = optarg; break;
        case O_ZIP: o->val[MLR_P_ZIP] = optarg; break;
        case O_RATED_ITEMS: o->rated_items = optarg; break;
        case 'k': o->k = mlr_opt_long("--k", optarg, 1, 100000); break;
        case O_TIME: /* Unix seconds: an integer (docs/numbers.md) */
            o->time = (double)mlr_opt_long("--time", optarg, INT64_MIN, INT64_MAX);
            o->has_time = 1;
            break;
        case O_KEEP: o->keep_seen = 1; break;
        case O_ALLOW: o->allow = optarg; break;
        case O_DENY: o->deny = optarg; break;
        case O_ORDER: o->order = optarg; break;
        case O_SIMILAR: o->similar[o->nsimilar++] = optarg; break;
        case O_MEASURE:
            if (strcmp(optarg, "cosine") != 0 && strcmp(optarg, "dot") != 0)
                mlr_usage_die("--measure: cosine or dot, not '%s'", optarg);
            o->dot = strcmp(optarg, "dot") == 0;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "tsv") != 0 && strcmp(optarg, "json") != 0)
                mlr_usage_die("--format: tsv or json, not '%s'", optarg);
            o->json = strcmp(optarg, "json") == 0;
            break;
        case 'o': o->output = optarg; break;
        case O_THREADS: o->threads = (int)mlr_opt_long("--threads", optarg, 1, 256); break;
        case O_NOVERIFY: o->verify = 0; break;
        case O_FUSE:
            o->fuse = optarg;
            if (strcmp(optarg, "auto") != 0) {
                o->fuse_w = mlr_opt_double("--fuse-ease", optarg);
                if (!(o->fuse_w >= 0 && o->fuse_w <= 1))
                    mlr_usage_die("--fuse-ease: the model's weight, a number in [0, 1] or auto, not '%s'", optarg);
            }
            break;
        case O_LAMBDA:
            o->lambda = mlr_opt_double("--lambda", optarg);
            if (!(o->lambda > 0))
                mlr_usage_die("--lambda: EASE's L2 weight, a positive number, not '%s'", optarg);
            break;
        default: mlr_opt_rest(c, "mlr-recommend", usage, argv);
        }
    }
    o->ids = argv + optind;
    o->nids = (size_t)(argc - optind);
    if (!o->served)
        mlr_usage_die("--served DIR is required (try 'mlr-recommend --help')");
    int one_new = o->rated_items != NULL;
    for (size_t i = 0; i < MLR_P_NCOLS; i++)
        one_new |= o->val[i] != NULL;
    int users = o->nids || o->users || o->new_users || o->rated || one_new;
    if (o->nsimilar && users)
        mlr_usage_die("--similar takes no users");
    if (o->nsimilar && o->order)
        mlr_usage_die("--order lists users' items, not --similar's");
    if (o->lambda > 0 && !o->fuse)
        mlr_usage_die("--lambda is EASE's, with --fuse-ease");
    if (o->fuse && (o->nsimilar || o->order))
        mlr_usage_die("--fuse-ease fuses the model's lists with EASE's: not with %s", o->order ? "--order" : "--similar");
    if (!o->nsimilar && !users)
        mlr_usage_die("give users (ids, --users, --new, --rated, --age...) or --similar ITEM");
}

/* ---- the requests: one query per user ---- */

typedef struct {
    mlr_profile p;
    long known;       /* user index in the served histories, or -1 */
    uint32_t *extra;  /* catalogue indices rated beyond the histories */
    float *extra_r;
    size_t nextra, cap;
} request;

typedef struct {
    request *r;
    size_t n, cap;
    mlr_strmap *ids;      /* request i = key i */
    mlr_strmap *strings;  /* values given for new users, interned */
} requests;

static request *req_add(requests *q, const char *id, size_t len, int *added)
{
    size_t i = mlr_strmap_intern2(q->ids, id, len, added);
    if (*added) {
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 64;
            q->r = xrealloc(q->r, q->cap * sizeof *q->r);
        }
        memset(&q->r[q->n], 0, sizeof q->r[q->n]);
        q->r[q->n].known = -1;
        q->r[q->n].p.id = mlr_strmap_key(q->ids, i);
        q->n++;
    }
    return &q->r[i];
}

/* A known user, named by id. */
static int add_known(requests *q, const mlr_served *s, const char *id, size_t len, mlr_err *e)
{
    long u = mlr_strmap_find(s->users, id, len);
    if (u < 0)
        return mlr_fail(e, "user '%.*s' is not in %s/history.tsv (a new user: --new FILE, or "
                        "--age, --gender, --occupation)", (int)len, id, s->dir);
    int added;
    request *r = req_add(q, id, len, &added);
    if (added) {
        r->known = u;
        mlr_served_profile(s, (size_t)u, &r->p);
        r->p.id = mlr_strmap_key(q->ids, (size_t)(r - q->r));
    }
    return 0;
}

static const char *intern(requests *q, const char *v, size_t len)
{
    return mlr_strmap_key(q->strings, mlr_strmap_intern(q->strings, v, len));
}

/* A new user with the given values (NULL: unknown). */
static int add_new(requests *q, const mlr_served *s, const char *id, size_t len,
                   const char *const *val, const size_t *vlen, mlr_err *e)
{
    if (mlr_strmap_find(s->users, id, len) >= 0)
        return mlr_fail(e, "new user '%.*s' is a known user of %s/history.tsv; name them by id",
                        (int)len, id, s->dir);
    int added;
    request *r = req_add(q, id, len, &added);
    if (!added)
        return mlr_fail(e, "new user '%.*s' given twice", (int)len, id);
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        r->p.val[c] = val[c] ? intern(q, val[c], vlen[c]) : NULL;
    return 0;
}

static void add_rated(request *r, uint32_t item, float rating)
{
    if (r->nextra == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->extra = xrealloc(r->extra, r->cap * sizeof *r->extra);
        r->extra_r = xrealloc(r->extra_r, r->cap * sizeof *r->extra_r);
    }
    r->extra[r->nextra] = item;
    r->extra_r[r->nextra++] = rating;
}

/* The user_id column of FILE: known users. */
static int read_users(requests *q, const mlr_served *s, const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int col = mlr_reader_require(r, "user_id", e), st = col < 0 ? -1 : 0;
    while (st == 0 && (st = mlr_reader_next(r, e)) == 1)
        st = add_known(q, s, mlr_reader_field(r, (size_t)col), mlr_reader_field_len(r, (size_t)col), e);
    mlr_reader_close(r);
    return st < 0 ? -1 : 0;
}

static int read_new(requests *q, const mlr_served *s, const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int col = mlr_reader_require(r, "user_id", e), st = col < 0 ? -1 : 0, pc[MLR_P_NCOLS];
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        pc[c] = mlr_reader_col(r, mlr_profile_cols[c]);
    while (st == 0 && (st = mlr_reader_next(r, e)) == 1) {
        const char *val[MLR_P_NCOLS];
        size_t len[MLR_P_NCOLS];
        for (size_t c = 0; c < MLR_P_NCOLS; c++) {
            val[c] = pc[c] < 0 ? NULL : mlr_reader_field(r, (size_t)pc[c]);
            len[c] = pc[c] < 0 ? 0 : mlr_reader_field_len(r, (size_t)pc[c]);
            if (val[c] && !len[c])
                val[c] = NULL; /* an empty field: unknown */
        }
        st = add_new(q, s, mlr_reader_field(r, (size_t)col), mlr_reader_field_len(r, (size_t)col),
                     val, len, e);
        if (st < 0) {
            mlr_err why = *e;
            mlr_fail(e, "%s:%ld: %s", path, mlr_reader_line(r), why.msg);
        }
    }
    mlr_reader_close(r);
    return st < 0 ? -1 : 0;
}

static long item_or_fail(const mlr_served *s, const char *id, size_t len, const char *where,
                         mlr_err *e)
{
    long i = mlr_served_item(s, id, len);
    if (i < 0)
        mlr_fail(e, "%sitem '%.*s' is not in the served catalogue (%s/items.ids)", where, (int)len,
                 id, s->dir);
    return i;
}

/* --rated FILE: user_id, item_id[, rating]; a user not requested yet is
 * added (known: their profile; else a new user with no features). */
static int read_rated(requests *q, const mlr_served *s, const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int cu = mlr_reader_require(r, "user_id", e), ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", e);
    int cr = mlr_reader_col(r, "rating"), st = ci < 0 ? -1 : 0;
    /* (st is 1 after a row: the loop runs on while rows come) */
    while (st >= 0 && (st = mlr_reader_next(r, e)) == 1) {
        const char *id = mlr_reader_field(r, (size_t)cu);
        size_t len = mlr_reader_field_len(r, (size_t)cu);
        char where[512];
        snprintf(where, sizeof where, "%s:%ld: ", path, mlr_reader_line(r));
        double rating = NAN;
        long i = item_or_fail(s, mlr_reader_field(r, (size_t)ci), mlr_reader_field_len(r, (size_t)ci),
                              where, e);
        if (i < 0 || (cr >= 0 && mlr_reader_double(r, (size_t)cr, &rating, e) < 0)) {
            st = -1;
            break;
        }
        if (mlr_strmap_find(q->ids, id, len) < 0 && mlr_strmap_find(s->users, id, len) >= 0)
            add_known(q, s, id, len, e); /* a known user not named otherwise */
        int added;
        add_rated(req_add(q, id, len, &added), (uint32_t)i, (float)rating);
    }
    mlr_reader_close(r);
    return st < 0 ? -1 : 0;
}

/* The user 'new' of --age, --gender, --occupation, --zip, --rated-items. */
static int add_command_line_user(requests *q, const mlr_served *s, const options *o, mlr_err *e)
{
    size_t len[MLR_P_NCOLS];
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        len[c] = o->val[c] ? strlen(o->val[c]) : 0;
    if (add_new(q, s, "new", 3, o->val, len, e) < 0)
        return -1;
    request *r = &q->r[mlr_strmap_find(q->ids, "new", 3)];
    if (!o->rated_items || !*o->rated_items)
        return 0; /* '' rated nothing */
    for (const char *p = o->rated_items;; p++) {
        size_t n = strcspn(p, ",");
        if (n == 0)
            return mlr_fail(e, "--rated-items: an empty item id in '%s' (ids separated by single commas)",
                            o->rated_items);
        long i = item_or_fail(s, p, n, "--rated-items: ", e);
        if (i < 0)
            return -1;
        add_rated(r, (uint32_t)i, NAN);
        p += n;
        if (*p != ',')
            return 0;
    }
}

static int gather_requests(requests *q, const mlr_served *s, const options *o, mlr_err *e)
{
    q->ids = mlr_strmap_new(0);
    q->strings = mlr_strmap_new(0);
    for (size_t i = 0; i < o->nids; i++)
        if (add_known(q, s, o->ids[i], strlen(o->ids[i]), e) < 0)
            return -1;
    if (o->users && read_users(q, s, o->users, e) < 0)
        return -1;
    if (o->new_users && read_new(q, s, o->new_users, e) < 0)
        return -1;
    int one_new = o->rated_items != NULL;
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        one_new |= o->val[c] != NULL;
    if (one_new && add_command_line_user(q, s, o, e) < 0)
        return -1;
    if (o->rated && read_rated(q, s, o->rated, e) < 0)
        return -1;
    return 0;
}

static void free_requests(requests *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->r[i].extra);
        free(q->r[i].extra_r);
    }
    free(q->r);
    mlr_strmap_free(q->ids);
    mlr_strmap_free(q->strings);
}

/* The user_history field of every request (with a history feature): the
 * movies given by --rated as the newest, then a known user's training
 * items: so a new user who names a few movies is served by them, without
 * retraining. Returns the arena p[i].history points into. */
static char *fill_histories(const mlr_served *s, const requests *q, mlr_profile *p)
{
    if (!s->history_feature)
        return NULL;
    size_t len = 0, cap = 4096, one_cap = 0;
    char *arena = xmalloc(cap), *one = NULL;
    size_t *at = xmalloc((q->n + 1) * sizeof *at);
    for (size_t i = 0; i < q->n; i++) {
        const request *r = &q->r[i];
        size_t n = mlr_served_history(s, r->known, r->extra, r->nextra, &one, &one_cap);
        if (len + n + 1 > cap) {
            cap = 2 * (len + n + 1);
            arena = xrealloc(arena, cap);
        }
        memcpy(arena + len, one, n + 1);
        at[i] = len;
        len += n + 1;
    }
    for (size_t i = 0; i < q->n; i++)
        p[i].history = arena + at[i];
    free(at);
    free(one);
    return arena;
}

/* ---- candidates: the catalogue, less what --allow and --deny say ---- */

typedef struct {
    size_t n;          /* candidates */
    uint32_t *item;    /* (n) their catalogue indices, ascending */
    int32_t *cand;     /* (M) catalogue index -> candidate, -1 when not one */
    float *emb;        /* (n, D): the items' rows (owned only when `own`) */
    int own;
} candidates;

static int read_item_set(const mlr_served *s, const char *path, uint8_t *mark, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int col = mlr_reader_col(r, "item_id"), st = 0;
    if (col < 0)
        col = mlr_reader_col(r, "id");
    if (col < 0) {
        mlr_reader_close(r);
        return mlr_fail(e, "%s: no column 'item_id' or 'id' in the header", path);
    }
    while ((st = mlr_reader_next(r, e)) == 1) {
        char where[512];
        snprintf(where, sizeof where, "%s:%ld: ", path, mlr_reader_line(r));
        long i = item_or_fail(s, mlr_reader_field(r, (size_t)col), mlr_reader_field_len(r, (size_t)col),
                              where, e);
        if (i < 0) {
            st = -1;
            break;
        }
        mark[i] = 1;
    }
    mlr_reader_close(r);
    return st < 0 ? -1 : 0;
}

static int make_candidates(candidates *c, const mlr_served *s, const options *o, mlr_err *e)
{
    memset(c, 0, sizeof *c);
    uint8_t *allow = NULL, *deny = xcalloc(s->M + 1, 1);
    int rc = 0;
    if (o->allow) {
        allow = xcalloc(s->M + 1, 1);
        rc = read_item_set(s, o->allow, allow, e);
    }
    if (rc == 0 && o->deny)
        rc = read_item_set(s, o->deny, deny, e);
    c->item = xmalloc((s->M + 1) * sizeof *c->item);
    c->cand = xmalloc((s->M + 1) * sizeof *c->cand);
    for (size_t i = 0; rc == 0 && i < s->M; i++) {
        c->cand[i] = -1;
        if ((!allow || allow[i]) && !deny[i]) {
            c->cand[i] = (int32_t)c->n;
            c->item[c->n++] = (uint32_t)i;
        }
    }
    if (rc == 0 && c->n == s->M) {
        c->emb = s->items;
    } else if (rc == 0) {
        c->own = 1;
        c->emb = xmalloc((c->n + 1) * s->D * sizeof *c->emb);
        for (size_t j = 0; j < c->n; j++)
            memcpy(c->emb + j * s->D, s->items + (size_t)c->item[j] * s->D, s->D * sizeof *c->emb);
    }
    free(allow);
    free(deny);
    return rc;
}

static void free_candidates(candidates *c)
{
    free(c->item);
    free(c->cand);
    if (c->own)
        free(c->emb);
}

/* ---- --order: another recommender's lists, shown as the model's are ---- */

static int cmp_u32(const void *a, const void *b);

typedef struct {
    uint32_t *item; /* catalogue indices, in the file's order */
    float *score;
    size_t n, cap;
} order_list;

typedef struct {
    mlr_strmap *users;
    order_list *by; /* (users) */
    size_t cap;
} orders;

static void order_add(orders *o, size_t u, uint32_t item, float score)
{
    if (u >= o->cap) {
        size_t old = o->cap;
        o->cap = 2 * u + 16;
        o->by = xrealloc(o->by, o->cap * sizeof *o->by);
        memset(o->by + old, 0, (o->cap - old) * sizeof *o->by);
    }
    order_list *l = &o->by[u];
    if (l->n == l->cap) {
        l->cap = 2 * l->cap + 16;
        l->item = xrealloc(l->item, l->cap * sizeof *l->item);
        l->score = xrealloc(l->score, l->cap * sizeof *l->score);
    }
    l->item[l->n] = item;
    l->score[l->n++] = score;
}

/* FILE's rows by user, in its order: a user's rows make their list. */
static int read_orders(const mlr_served *s, const char *path, orders *o, mlr_err *e)
{
    memset(o, 0, sizeof *o);
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int cu = mlr_reader_col(r, "user_id"), ci = mlr_reader_col(r, "item_id"), cs = mlr_reader_col(r, "score");
    if (cu < 0 || ci < 0 || cs < 0) {
        mlr_reader_close(r);
        return mlr_fail(e, "%s: --order wants the columns user_id, item_id and score in the header", path);
    }
    o->users = mlr_strmap_new(0);
    int st;
    while ((st = mlr_reader_next(r, e)) == 1) {
        char where[512];
        snprintf(where, sizeof where, "%s:%ld: ", path, mlr_reader_line(r));
        long i = item_or_fail(s, mlr_reader_field(r, (size_t)ci), mlr_reader_field_len(r, (size_t)ci), where, e);
        double v = 0;
        if (i < 0 || mlr_reader_double(r, (size_t)cs, &v, e) != 0) {
            st = -1;
            break;
        }
        int added;
        size_t u = mlr_strmap_intern2(o->users, mlr_reader_field(r, (size_t)cu),
                                      mlr_reader_field_len(r, (size_t)cu), &added);
        order_add(o, u, (uint32_t)i, (float)v);
    }
    mlr_reader_close(r);
    return st < 0 ? -1 : 0;
}

static void free_orders(orders *o)
{
    for (size_t u = 0; o->users && u < mlr_strmap_count(o->users); u++) {
        free(o->by[u].item);
        free(o->by[u].score);
    }
    free(o->by);
    mlr_strmap_free(o->users);
}

/* Request r's list from --order: its items that are candidates, not seen
 * (excl, sorted) and not listed before, the first K. */
static int order_hits(const orders *o, const candidates *c, const char *user, const uint32_t *excl, size_t nexcl,
                      size_t K, long *stamp, long mark, mlr_hit *hits, size_t *count, const char *path, mlr_err *e)
{
    long u = mlr_strmap_find(o->users, user, strlen(user));
    if (u < 0)
        return mlr_fail(e, "%s: user '%.60s' has no list (--order)", path, user);
    const order_list *l = &o->by[u];
    size_t n = 0;
    for (size_t j = 0; j < l->n && n < K; j++) {
        int32_t cand = c->cand[l->item[j]];
        if (cand < 0 || stamp[cand] == mark ||
            (nexcl && bsearch(&(uint32_t){(uint32_t)cand}, excl, nexcl, sizeof *excl, cmp_u32)))
            continue;
        stamp[cand] = mark;
        hits[n].item = (uint32_t)cand;
        hits[n++].score = l->score[j];
    }
    *count = n;
    return 0;
}

/* ---- the lists ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The candidates request r has rated (histories and --rated), sorted. */
static uint32_t *seen_candidates(const mlr_served *s, const candidates *c, const request *r,
                                 size_t *n)
{
    size_t lo = r->known >= 0 ? s->hist_start[r->known] : 0;
    size_t hi = r->known >= 0 ? s->hist_start[r->known + 1] : 0;
    uint32_t *x = xmalloc((hi - lo + r->nextra + 1) * sizeof *x);
    size_t k = 0;
    for (size_t j = lo; j < hi; j++)
        if (c->cand[s->hist_item[j]] >= 0)
            x[k++] = (uint32_t)c->cand[s->hist_item[j]];
    for (size_t j = 0; j < r->nextra; j++)
        if (c->cand[r->extra[j]] >= 0)
            x[k++] = (uint32_t)c->cand[r->extra[j]];
    qsort(x, k, sizeof *x, cmp_u32);
    *n = k;
    return x;
}

/* A copy of the catalogue's embeddings with unit rows (zero rows stay
 * zero). */
static float *unit_rows(const float *x, size_t n, size_t d)
{
    float *u = xmalloc((n * d + 1) * sizeof *u);
    memcpy(u, x, n * d * sizeof *u);
    model_unit_rows(u, NULL, n, d);
    return u;
}

/* The reasons for r's list items[0..n): into why[j] the history item (or
 * -1) and its rating. Of r's history (the ratings of 4 or more when r has
 * any, else all of it), each list item gets the one whose cosine to it
 * most exceeds that history item's mean cosine to the whole list: the
 * film that explains this item in particular. By the cosine alone one
 * film near the user's taste as a whole was the reason for 8 of 10 items
 * for a quarter of ML-100K's users. */
static void reasons_for(const mlr_served *s, const float *unit, const request *r,
                        const uint32_t *items, size_t n, long *why, float *why_rating)
{
    size_t lo = r->known >= 0 ? s->hist_start[r->known] : 0;
    size_t hi = r->known >= 0 ? s->hist_start[r->known + 1] : 0;
    size_t nh = hi - lo + r->nextra, D = s->D;
    int liked_only = 0;
    for (size_t j = 0; j < nh && !liked_only; j++)
        liked_only = (j < hi - lo ? s->hist_rating[lo + j] : r->extra_r[j - (hi - lo)]) >= 4;
    float *cs = xmalloc((n + 1) * sizeof *cs);
    double *best = xmalloc((n + 1) * sizeof *best);
    for (size_t i = 0; i < n; i++) {
        why[i] = -1;
        best[i] = -INFINITY;
    }
    for (size_t j = 0; j < nh; j++) {
        uint32_t h = j < hi - lo ? s->hist_item[lo + j] : r->extra[j - (hi - lo)];
        float x = j < hi - lo ? s->hist_rating[lo + j] : r->extra_r[j - (hi - lo)];
        if (liked_only && !(x >= 4))
            continue;
        double mean = 0;
        for (size_t i = 0; i < n; i++) {
            cs[i] = cblas_sdot((int)D, unit + (size_t)items[i] * D, 1, unit + (size_t)h * D, 1);
            mean += cs[i];
        }
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) {
            /* the cosine itself breaks ties (a one-item list: all 0) */
            double v = (cs[i] - mean) + 1e-3 * cs[i];
            if (h != items[i] && v > best[i]) {
                best[i] = v;
                why[i] = h;
                why_rating[i] = x;
            }
        }
    }
    free(cs);
    free(best);
}

typedef struct {
    FILE *fp;
    int json;
} writer;

static void write_reason(char *buf, size_t cap, const mlr_served *s, long h, float rating)
{
    if (h < 0)
        buf[0] = 0;
    else if (isnan(rating))
        snprintf(buf, cap, "because you rated %s", s->title[h][0] ? s->title[h] : mlr_strmap_key(s->item_ids, (size_t)h));
    else
        snprintf(buf, cap, "because you rated %s (%g)", s->title[h][0] ? s->title[h] : mlr_strmap_key(s->item_ids, (size_t)h), rating);
}

static const char *title_of(const mlr_served *s, size_t i)
{
    return s->title[i];
}

/* One user's list, TSV rows or one JSON line. */
static void write_user(writer *w, const mlr_served *s, const request *r, const candidates *c,
                       const mlr_hit *h, size_t n, const float *pred, const float *unit)
{
    json_t *items = w->json ? json_array() : NULL;
    char reason[1200], score[32], rating[32];
    uint32_t *list = xmalloc((n + 1) * sizeof *list);
    long *whys = xmalloc((n + 1) * sizeof *whys);
    float *whyr = xmalloc((n + 1) * sizeof *whyr);
    for (size_t j = 0; j < n; j++)
        list[j] = c->item[h[j].item];
    reasons_for(s, unit, r, list, n, whys, whyr);
    for (size_t j = 0; j < n; j++) {
        uint32_t item = list[j];
        long why = whys[j];
        write_reason(reason, sizeof reason, s, why, whyr[j]);
        const char *id = mlr_strmap_key(s->item_ids, item);
        if (w->json) {
            json_t *o = json_pack("{s:i, s:s, s:f, s:f, s:s, s:s}", "rank", (json_int_t)(j + 1),
                                  "item_id", id, "score", (double)h[j].score, "predicted_rating",
                                  (double)pred[j], "title", title_of(s, item), "reason", reason);
            if (why >= 0)
                json_object_set_new(o, "because", json_string(mlr_strmap_key(s->item_ids, (size_t)why)));
            json_array_append_new(items, o);
            continue;
        }
        mlr_fmt_g6(score, h[j].score);
        snprintf(rating, sizeof rating, "%.3f", pred[j]);
        fprintf(w->fp, "%s\t%zu\t%s\t%s\t%s\t%s\t%s\n", r->p.id, j + 1, id, score, rating,
                title_of(s, item), reason);
    }
    free(list);
    free(whys);
    free(whyr);
    if (w->json) {
        json_t *o = json_pack("{s:s, s:o}", "user_id", r->p.id, "items", items);
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        fprintf(w->fp, "%s\n", line);
        free(line);
        json_decref(o);
    }
}

/* The candidates' rows (n, D) with their prior after each: (n, D + 1). */
static float *with_prior(const mlr_served *s, const candidates *c)
{
    size_t D = s->D;
    float *y = xmalloc((c->n * (D + 1) + 1) * sizeof *y);
    for (size_t j = 0; j < c->n; j++) {
        memcpy(y + j * (D + 1), c->emb + j * D, D * sizeof *y);
        y[j * (D + 1) + D] = s->prior[c->item[j]];
    }
    return y;
}

/* The U queries' top K candidates; with the models' popularity prior
 * (s->prior) each score gains the item's, as mlr-embed's columns give
 * mlr-topk (model_rank_rows: the queries' column of 1). */
static void rank_lists(const mlr_served *s, const candidates *c, const float *qe, size_t U, size_t K,
                       int threads, uint32_t **excl, const size_t *nexcl, mlr_hit *hits, size_t *count)
{
    size_t D = s->D, W = D + (s->prior != NULL);
    float *q = NULL, *items = NULL;
    if (s->prior) {
        q = xmalloc((U * W + 1) * sizeof *q);
        for (size_t u = 0; u < U; u++) {
            memcpy(q + u * W, qe + u * D, D * sizeof *q);
            q[u * W + D] = 1.0f;
        }
        items = with_prior(s, c);
    }
    mlr_scorer *sc = mlr_scorer_new(items ? items : c->emb, c->n, W, 0, threads);
    mlr_topk_block(sc, q ? q : qe, U, K, (const uint32_t *const *)excl, nexcl, hits, count);
    mlr_scorer_free(sc);
    free(q);
    free(items);
}

/* The items each request has rated (its history as of the request and
 * its --rated movies), as sets: EASE's input. */
static void rated_sets(const mlr_served *s, const requests *q, mlr_usersets *x)
{
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += (q->r[i].known >= 0 ? s->hist_start[q->r[i].known + 1] - s->hist_start[q->r[i].known] : 0) +
             q->r[i].nextra;
    uint32_t *who = xmalloc(mlr_nz(n) * sizeof *who), *item = xmalloc(mlr_nz(n) * sizeof *item);
    size_t k = 0;
    for (size_t i = 0; i < q->n; i++) {
        const request *r = &q->r[i];
        size_t lo = r->known >= 0 ? s->hist_start[r->known] : 0, hi = r->known >= 0 ? s->hist_start[r->known + 1] : 0;
        for (size_t j = lo; j < hi; j++, k++) {
            who[k] = (uint32_t)i;
            item[k] = s->hist_item[j];
        }
        for (size_t j = 0; j < r->nextra; j++, k++) {
            who[k] = (uint32_t)i;
            item[k] = r->extra[j];
        }
    }
    mlr_usersets_build(x, q->n, who, item, n);
    free(who);
    free(item);
}

/* --fuse-ease: each user's top FUSE_DEPTH of EASE and of the model (the
 * same candidates, the same items removed) fused by the z rule (fuse.h;
 * ties to EASE's order, as hybrid.sh chose the weight) into hits (U, K)
 * and count. */
static int fuse_ease(const mlr_served *s, const options *o, const candidates *c, const requests *q,
                     const float *qe, uint32_t **excl, const size_t *nexcl, mlr_hit *hits, size_t *count,
                     mlr_err *e)
{
    size_t U = q->n, K = (size_t)o->k, depth = K > FUSE_DEPTH ? K : FUSE_DEPTH;
    float *b = NULL;
    if (o->fuse_w < 1 && !(b = mlr_served_ease(s, o->lambda, e)))
        return -1;
    mlr_usersets rated = {0};
    if (b)
        rated_sets(s, q, &rated);
    mlr_hit *mh = xmalloc((U * depth + 1) * sizeof *mh), *eh = xmalloc((depth + 1) * sizeof *eh);
    size_t *mcount = xmalloc((U + 1) * sizeof *mcount);
    rank_lists(s, c, qe, U, depth, o->threads, excl, nexcl, mh, mcount);
    float *all = xmalloc((s->M + 1) * sizeof *all), *cs = xmalloc((c->n + 1) * sizeof *cs);
    uint32_t *item = xmalloc((2 * depth + 1) * sizeof *item), *out = xmalloc((K + 1) * sizeof *out);
    double *score = xmalloc((2 * depth + 1) * sizeof *score), *fused = xmalloc((K + 1) * sizeof *fused);
    double wt[2] = {1 - o->fuse_w, o->fuse_w}; /* EASE's list first, as hybrid.sh fused them */
    mlr_fuse_scratch fs = {0};
    for (size_t u = 0; u < U; u++) {
        mlr_fuse_list L[2] = {{0, item + depth, score + depth}, {mcount[u], item, score}};
        for (size_t j = 0; j < mcount[u]; j++) {
            item[j] = mh[u * depth + j].item;
            score[j] = mh[u * depth + j].score;
        }
        size_t n = 0;
        const uint32_t *mine = mlr_usersets_get(&rated, u, &n);
        if (n) {
            mlr_ease_scores(b, s->M, mine, n, all);
            for (size_t j = 0; j < c->n; j++)
                cs[j] = all[c->item[j]];
            L[0].n = mlr_topk_select(cs, c->n, depth, excl[u], nexcl[u], eh);
            for (size_t j = 0; j < L[0].n; j++) {
                item[depth + j] = eh[j].item;
                score[depth + j] = eh[j].score;
            }
        }
        count[u] = mlr_fuse_z(L, wt, 2, c->n, K, &fs, out, fused);
        for (size_t j = 0; j < count[u]; j++)
            hits[u * K + j] = (mlr_hit){(float)fused[j], out[j]};
    }
    mlr_fuse_scratch_free(&fs);
    free(b); free(mh); free(eh); free(mcount); free(all); free(cs);
    free(item); free(out); free(score); free(fused);
    mlr_usersets_free(&rated);
    return 0;
}

/* Each request's top K into hits (K a request; count[i] of them): the
 * lists of --order, the model fused with EASE (--fuse-ease), or the
 * model's own; exclusions excl[i] (nexcl[i]) left out. */
static int rank_requests(const mlr_served *s, const options *o, const candidates *c, const requests *q,
                         const orders *ord, const float *qe, uint32_t **excl, const size_t *nexcl,
                         mlr_hit *hits, size_t *count, mlr_err *e)
{
    size_t U = q->n, K = (size_t)o->k;
    if (o->order) {
        long *stamp = xmalloc((c->n + 1) * sizeof *stamp);
        for (size_t j = 0; j < c->n; j++)
            stamp[j] = -1;
        int rc = 0;
        for (size_t i = 0; i < U && rc == 0; i++)
            rc = order_hits(ord, c, q->r[i].p.id, excl[i], nexcl[i], K, stamp, (long)i, hits + i * K,
                            &count[i], o->order, e);
        free(stamp);
        return rc;
    }
    if (o->fuse)
        return fuse_ease(s, o, c, q, qe, excl, nexcl, hits, count, e);
    rank_lists(s, c, qe, U, K, o->threads, excl, nexcl, hits, count);
    return 0;
}

/* The rating head on each (user, item) pair of the lists, in their order. */
static float *predict_lists(const mlr_served *s, const candidates *c, const float *qe, const mlr_hit *hits,
                            const size_t *count, size_t U, size_t K)
{
    size_t D = s->D, pairs = 0;
    for (size_t i = 0; i < U; i++)
        pairs += count[i];
    float *pq = xmalloc((pairs * D + 1) * sizeof *pq), *pc = xmalloc((pairs * D + 1) * sizeof *pc);
    float *pred = xmalloc((pairs + 1) * sizeof *pred);
    for (size_t i = 0, k = 0; i < U; i++)
        for (size_t j = 0; j < count[i]; j++, k++) {
            memcpy(pq + k * D, qe + i * D, D * sizeof *pq);
            memcpy(pc + k * D, c->emb + (size_t)hits[i * K + j].item * D, D * sizeof *pc);
        }
    mlr_served_rating(s, pq, pc, pairs, pred);
    free(pq);
    free(pc);
    return pred;
}

static int recommend(const mlr_served *s, const options *o, writer *w, mlr_err *e)
{
    requests q;
    memset(&q, 0, sizeof q);
    candidates c;
    memset(&c, 0, sizeof c);
    orders ord;
    memset(&ord, 0, sizeof ord);
    int rc = gather_requests(&q, s, o, e);
    if (rc == 0)
        rc = make_candidates(&c, s, o, e);
    if (rc == 0 && o->order)
        rc = read_orders(s, o->order, &ord, e);
    size_t U = q.n, D = s->D, K = (size_t)o->k, clipped[2] = {0, 0};
    float *qe = xmalloc((U * D + 1) * sizeof *qe);
    mlr_profile *p = xmalloc((U + 1) * sizeof *p);
    for (size_t i = 0; i < U; i++) { /* without --time, each known user's own (user-time.tsv) */
        p[i] = q.r[i].p;
        p[i].rated = q.r[i].extra;
        p[i].nrated = q.r[i].nextra;
        if (!o->has_time)
            mlr_served_times(s, q.r[i].known, &p[i]);
    }
    char *histories = rc == 0 ? fill_histories(s, &q, p) : NULL;
    double time = o->has_time ? o->time : s->last_time;
    if (rc == 0)
        rc = mlr_served_embed(s, p, U, time, qe, clipped, e);
    if (rc == 0 && (clipped[0] || clipped[1]))
        mlr_warn("query features outside the training range clipped to it: %zu values below, "
                 "%zu above (a time after the data is served as the last training time)",
                 clipped[0], clipped[1]);
    if (rc == 0) {
        /* every user in one batch through the blocked top-k */
        uint32_t **excl = xcalloc(U + 1, sizeof *excl);
        size_t *nexcl = xcalloc(U + 1, sizeof *nexcl), *count = xmalloc((U + 1) * sizeof *count);
        for (size_t i = 0; i < U && !o->keep_seen; i++)
            excl[i] = seen_candidates(s, &c, &q.r[i], &nexcl[i]);
        mlr_hit *hits = xmalloc((U * K + 1) * sizeof *hits);
        rc = rank_requests(s, o, &c, &q, &ord, qe, excl, nexcl, hits, count, e);
        float *pred = rc == 0 ? predict_lists(s, &c, qe, hits, count, U, K) : NULL;
        float *unit = rc == 0 ? unit_rows(s->items, s->M, D) : NULL;
        if (rc == 0 && !w->json)
            fputs("user_id\trank\titem_id\tscore\tpredicted_rating\ttitle\treason\n", w->fp);
        for (size_t i = 0, k = 0; i < U && rc == 0; k += count[i], i++)
            write_user(w, s, &q.r[i], &c, hits + i * K, count[i], pred + k, unit);
        free(unit);
        free(pred);
        free(hits);
        for (size_t i = 0; i < U; i++)
            free(excl[i]);
        free(excl);
        free(nexcl);
        free(count);
    }
    free(qe);
    free(p);
    free(histories);
    free_candidates(&c);
    free_requests(&q);
    free_orders(&ord);
    return rc;
}

/* --similar: each ITEM's nearest candidates, ITEM itself left out. */
static int similar(const mlr_served *s, const options *o, writer *w, mlr_err *e)
{
    candidates c;
    int rc = make_candidates(&c, s, o, e);
    size_t n = o->nsimilar, D = s->D, K = (size_t)o->k;
    uint32_t *item = xmalloc((n + 1) * sizeof *item);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        long x = item_or_fail(s, o->similar[i], strlen(o->similar[i]), "--similar: ", e);
        if (x < 0)
            rc = -1;
        else
            item[i] = (uint32_t)x;
    }
    if (rc == 0) {
        float *cand = o->dot ? c.emb : unit_rows(c.emb, c.n, D);
        float *all = o->dot ? s->items : unit_rows(s->items, s->M, D);
        float *qe = xmalloc((n * D + 1) * sizeof *qe);
        uint32_t *self = xmalloc((n + 1) * sizeof *self), **excl = xcalloc(n + 1, sizeof *excl);
        size_t *nexcl = xcalloc(n + 1, sizeof *nexcl), *count = xmalloc((n + 1) * sizeof *count);
        for (size_t i = 0; i < n; i++) {
            memcpy(qe + i * D, all + (size_t)item[i] * D, D * sizeof *qe);
            if (c.cand[item[i]] >= 0) {
                self[i] = (uint32_t)c.cand[item[i]];
                excl[i] = &self[i];
                nexcl[i] = 1;
            }
        }
        mlr_hit *hits = xmalloc((n * K + 1) * sizeof *hits);
        mlr_scorer *sc = mlr_scorer_new(cand, c.n, D, 0, o->threads);
        mlr_topk_block(sc, qe, n, K, (const uint32_t *const *)excl, nexcl, hits, count);
        mlr_scorer_free(sc);
        if (!w->json)
            fputs("item_id\trank\tsimilar_item_id\tscore\ttitle\n", w->fp);
        for (size_t i = 0; i < n; i++) {
            const char *id = mlr_strmap_key(s->item_ids, item[i]);
            json_t *list = w->json ? json_array() : NULL;
            for (size_t j = 0; j < count[i]; j++) {
                uint32_t it = c.item[hits[i * K + j].item];
                const char *nid = mlr_strmap_key(s->item_ids, it);
                if (w->json) {
                    json_array_append_new(list, json_pack("{s:i, s:s, s:f, s:s}", "rank", (json_int_t)(j + 1),
                                                          "item_id", nid, "score", (double)hits[i * K + j].score,
                                                          "title", title_of(s, it)));
                    continue;
                }
                char score[32];
                mlr_fmt_g6(score, hits[i * K + j].score);
                fprintf(w->fp, "%s\t%zu\t%s\t%s\t%s\n", id, j + 1, nid, score, title_of(s, it));
            }
            if (w->json) {
                json_t *obj = json_pack("{s:s, s:s, s:s, s:o}", "item_id", id, "title",
                                        title_of(s, item[i]), "measure", o->dot ? "dot" : "cosine",
                                        "similar", list);
                char *line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
                fprintf(w->fp, "%s\n", line);
                free(line);
                json_decref(obj);
            }
        }
        if (!o->dot) {
            free(cand);
            free(all);
        }
        free(qe);
        free(self);
        free(excl);
        free(nexcl);
        free(count);
        free(hits);
    }
    free(item);
    free_candidates(&c);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    mlr_err e;
    mlr_init_tool();
    parse_args(argc, argv, &o);
    openblas_set_num_threads(1); /* the top-k's threads are ours */
    mlr_served s;
    if (mlr_served_open(&s, o.served, o.verify, o.has_time ? o.time : INFINITY, &e) < 0) {
        mlr_served_free(&s);
        mlr_die_err(&e);
    }
    if (o.fuse && strcmp(o.fuse, "auto") == 0) { /* the pair validation chose; --lambda still wins */
        double lambda;
        if (mlr_served_hybrid(&s, &o.fuse_w, &lambda, &e) < 0) {
            mlr_served_free(&s);
            mlr_die_err(&e);
        }
        if (!(o.lambda > 0))
            o.lambda = lambda;
    }
    if (!(o.lambda > 0))
        o.lambda = 500;
    mlr_out out;
    if (mlr_out_open(&out, o.output, &e) < 0)
        mlr_die_err(&e);
    writer w = {out.fp, o.json};
    int rc = o.nsimilar ? similar(&s, &o, &w, &e) : recommend(&s, &o, &w, &e);
    mlr_served_free(&s);
    free(o.similar);
    if (rc < 0) {
        mlr_out_abort(&out);
        mlr_die_err(&e);
    }
    if (mlr_out_commit(&out, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
