/* mlr-topk: query embeddings x candidate embeddings -> the k best candidates
 * of each query, exactly (every item scored).
 *
 * Streams the queries a block at a time (so Q may be a pipe and memory is
 * bounded by the block, whatever N), scores each block against the whole
 * catalogue with sgemm in cache-sized tiles, and keeps a bounded heap of k
 * per query. Ties go to the smaller catalogue index (docs/features.md). */
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
#include "pool.h"
#include "strmap.h"
#include "topk.h"

/* Hits held per block at most: large k shrinks the block. */
#define MAX_BLOCK_HITS (4u << 20)

typedef struct {
    const char *queries, *items, *item_ids, *query_ids, *exclude, *output;
    long k, block, tile, threads;
    int quiet;
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-topk --queries Q.npy --items I.npy [--item-ids I.ids] [--query-ids Q.ids]\n"
        "                [--exclude TABLE] [--k K] [--block B] [--threads T] [--output FILE]\n"
        "The k best items of each query by inner product, exactly: every item is\n"
        "scored. Q (N, D) <f4 is streamed a block at a time (it may be a pipe);\n"
        "I (M, D) <f4 is held in memory. Ties go to the smaller catalogue index.\n"
        "Output TSV, k rows per query, best first, after a fingerprint line\n"
        "'#mlrec model=SHA256 exclude=SHA256|none' (the model of the embeddings' .ids,\n"
        "the --exclude table's checksum; docs/fingerprint.md). Queries and items of two\n"
        "models (their .ids' fingerprints differ) are refused.\n"
        "  query    0-based row of Q\n"
        "  user_id  the row's id from --query-ids (only with --query-ids)\n"
        "  row_item_id  the row's own item_id from --query-ids (where it has one: the\n"
        "           row's key, by which mlr-score finds its test row)\n"
        "  rank     1..k\n"
        "  item_id  the item's id from --item-ids\n"
        "  score    the inner product, printf %%.6g\n"
        "  --queries Q.npy   query embeddings, '-' for stdin (required)\n"
        "  --items I.npy     candidate embeddings (required)\n"
        "  --item-ids FILE   ids of I's rows, column id (default: I.npy's name with .ids)\n"
        "  --query-ids FILE  ids of Q's rows, column id [and item_id] (default: none, no\n"
        "                    user_id column; Q.ids beside a Q.npy file is still read for\n"
        "                    its fingerprint)\n"
        "  --exclude TABLE   drop the (user_id, item_id) pairs of TABLE, e.g. the training\n"
        "                    rows; needs --query-ids (default: nothing dropped)\n"
        "  -k, --k K         list length (default 10); fewer when the catalogue is smaller\n"
        "  --block B         query rows read and held at a time, in whole tiles (default 1024)\n"
        "  --tile N          query rows per sgemm call; a score depends on it in its last\n"
        "                    digit, not on --block or --threads (default 32)\n"
        "  --threads T       worker threads (default: the number of CPUs)\n"
        "  -o, --output FILE\n"
        "                    write here atomically (default stdout)\n"
        "  -q, --quiet       no progress on stderr\n"
        "  -h, --help        this help;  --version  the version\n"
        "example: mlr-topk --queries query.npy --query-ids query.ids --items items.npy \\\n"
        "           --exclude train.tsv --k 100 | mlr-score --topk - --test test.tsv\n");
}

/* The long-only options (the letters are docs/options.md's). */
enum { OPT_QUERIES = 256, OPT_ITEMS, OPT_ITEM_IDS, OPT_QUERY_IDS, OPT_EXCLUDE, OPT_BLOCK,
       OPT_TILE, OPT_THREADS };

static options parse_args(int argc, char **argv)
{
    options o = {.k = 10, .block = 1024, .tile = 32, .threads = mlr_cpus()};
    static const struct option longs[] = {
        {"queries", required_argument, 0, OPT_QUERIES}, {"items", required_argument, 0, OPT_ITEMS},
        {"item-ids", required_argument, 0, OPT_ITEM_IDS}, {"query-ids", required_argument, 0, OPT_QUERY_IDS},
        {"exclude", required_argument, 0, OPT_EXCLUDE}, {"k", required_argument, 0, 'k'},
        {"block", required_argument, 0, OPT_BLOCK}, {"tile", required_argument, 0, OPT_TILE},
        {"threads", required_argument, 0, OPT_THREADS}, {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:k:q", longs, NULL)) != -1) {
        switch (c) {
        case OPT_QUERIES: o.queries = optarg; break;
        case OPT_ITEMS: o.items = optarg; break;
        case OPT_ITEM_IDS: o.item_ids = optarg; break;
        case OPT_QUERY_IDS: o.query_ids = optarg; break;
        case OPT_EXCLUDE: o.exclude = optarg; break;
        case 'k': o.k = mlr_opt_long("--k", optarg, 1, 1000000); break;
        case OPT_BLOCK: o.block = mlr_opt_long("--block", optarg, 1, 1000000); break;
        case OPT_TILE: o.tile = mlr_opt_long("--tile", optarg, 1, 4096); break;
        case OPT_THREADS: o.threads = mlr_opt_long("--threads", optarg, 1, 256); break;
        case 'o': o.output = optarg; break;
        case 'q': o.quiet = 1; break;
        default: mlr_opt_rest(c, "mlr-topk", usage, argv);
        }
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-topk --help')", argv[optind]);
    if (!o.queries || !o.items)
        mlr_usage_die("--queries and --items are required (try 'mlr-topk --help')");
    if (o.exclude && !o.query_ids)
        mlr_usage_die("--exclude needs --query-ids to know each query's user");
    return o;
}

/* The catalogue: embeddings (M, D) and their ids, row i = key i of ids. */
typedef struct {
    mlr_array emb;
    mlr_strmap *ids;
    size_t longest_id;
    mlr_fprint fp;      /* of its ids file */
    char *ids_path;
} catalogue;

static int load_catalogue(catalogue *c, const char *npy, const char *ids_path, mlr_err *e)
{
    memset(c, 0, sizeof *c);
    if (mlr_npy_read(npy, MLR_F4, &c->emb, e) < 0) return -1;
    if (c->emb.ndim != 2) return mlr_fail(e, "%s: expected a 2-D <f4 matrix (M, D), found 1-D", npy);
    size_t bad, m = c->emb.shape[0];
    if (!mlr_all_finite(c->emb.data, mlr_array_count(&c->emb), &bad))
        return mlr_fail(e, "%s: row %zu: non-finite value", npy, bad / (c->emb.shape[1] ? c->emb.shape[1] : 1));
    char *guess = ids_path ? NULL : mlr_ids_path(npy);
    const char *idp = ids_path ? ids_path : guess;
    c->ids = mlr_strmap_new(m);
    size_t rows;
    int rc = mlr_ids_read(idp, c->ids, &rows, e);
    if (rc == 0) rc = mlr_fprint_read(idp, &c->fp, e);
    c->ids_path = xstrdup(idp);
    if (rc == 0 && rows != m) rc = mlr_fail(e, "%s has %zu rows, %s %zu", idp, rows, npy, m);
    if (rc == 0 && m > UINT32_MAX) rc = mlr_fail(e, "%s: more than 2^32 items", npy);
    for (size_t i = 0; rc == 0 && i < m; i++)
        if (mlr_strmap_key_len(c->ids, i) > c->longest_id) c->longest_id = mlr_strmap_key_len(c->ids, i);
    free(guess);
    return rc;
}

/* Who each query row belongs to, and what to drop for them. */
typedef struct {
    mlr_strmap *users, *row_items;
    uint32_t *user_of;  /* (N) */
    uint32_t *item_of;  /* (N) each row's own item_id (the key), or NULL */
    size_t rows, longest;
    mlr_usersets seen;
    int have_seen;
    mlr_fprint fp;      /* of the query ids */
    char exclude[65];   /* SHA-256 of --exclude's table, "unknown", "none" */
    const char *fp_path; /* the file it came from, NULL for none */
} query_users;

static size_t longest_key(const mlr_strmap *m)
{
    size_t l = 0;
    for (size_t i = 0; m && i < mlr_strmap_count(m); i++)
        if (mlr_strmap_key_len(m, i) > l) l = mlr_strmap_key_len(m, i);
    return l;
}

/* Q's fingerprint: from --query-ids, else from Q.ids beside a Q.npy file
 * when there is one (read for the check only). */
static int query_fprint(query_users *u, const options *o, mlr_err *e)
{
    if (o->query_ids) {
        u->fp_path = o->query_ids;
        return mlr_fprint_read(o->query_ids, &u->fp, e);
    }
    if (strcmp(o->queries, "-") == 0 || !mlr_out_is_file(o->queries)) return 0;
    char *guess = mlr_ids_path(o->queries);
    int rc = 0;
    if (access(guess, R_OK) == 0) {
        rc = mlr_fprint_read(guess, &u->fp, e);
        u->fp_path = guess;
    } else {
        free(guess);
    }
    return rc;
}

static int load_users(query_users *u, const options *o, catalogue *c, mlr_err *e)
{
    memset(u, 0, sizeof *u);
    if (query_fprint(u, o, e) < 0) return -1;
    if (!o->query_ids) return 0;
    u->users = mlr_strmap_new(0);
    u->row_items = mlr_strmap_new(0);
    size_t n;
    if (mlr_ids_read_keys(o->query_ids, u->users, &u->user_of, &u->rows, e) < 0 ||
        mlr_ids_read_column(o->query_ids, "item_id", u->row_items, &u->item_of, &n, e) < 0)
        return -1;
    u->longest = longest_key(u->users) + 1 + longest_key(u->row_items);
    if (o->exclude) {
        if (mlr_fprint_table(o->exclude, u->exclude, e) < 0) return -1;
        u->have_seen = 1;
        if (mlr_usersets_read(&u->seen, o->exclude, u->users, 1, c->ids, 0, e) < 0) return -1;
    }
    return 0;
}

/* One block's work, shared by the formatting threads. */
typedef struct {
    size_t first_row, k, line_max;
    const mlr_hit *hits;   /* (B, K) */
    const size_t *count;   /* (B) */
    const query_users *u;
    const catalogue *c;
    char **text;           /* per thread */
    char **key;            /* per thread: "user\titem" of a keyed row */
    size_t *len;           /* per thread */
} block_text;

static void format_part(int t, size_t lo, size_t hi, void *p)
{
    block_text *b = p;
    size_t w = 0;
    for (size_t r = lo; r < hi; r++) {
        size_t row = b->first_row + r;
        const char *user = NULL;
        size_t ulen = 0;
        if (b->u->users) {
            user = mlr_strmap_key(b->u->users, b->u->user_of[row]);
            ulen = mlr_strmap_key_len(b->u->users, b->u->user_of[row]);
        }
        if (b->u->item_of) { /* the row's key: its user, TAB, its own item */
            size_t il = mlr_strmap_key_len(b->u->row_items, b->u->item_of[row]);
            memcpy(b->key[t], user, ulen);
            b->key[t][ulen] = '\t';
            memcpy(b->key[t] + ulen + 1, mlr_strmap_key(b->u->row_items, b->u->item_of[row]), il);
            user = b->key[t];
            ulen += 1 + il;
        }
        w += mlr_topk_format(b->text[t] + w, row, user, ulen, b->hits + r * b->k,
                             b->count[r], b->c->ids);
    }
    b->len[t] = w;
}

/* Every block of q's rows against the catalogue, the lists to out. */
static int write_lists(const options *o, const catalogue *c, const query_users *u, mlr_npy_rows *q,
                       FILE *fp, mlr_err *e)
{
    size_t m = c->emb.shape[0], d = c->emb.shape[1], k = (size_t)o->k;
    size_t block = (size_t)o->block, kk = k < m ? k : m;
    if (kk && block * kk > MAX_BLOCK_HITS) block = MAX_BLOCK_HITS / kk ? MAX_BLOCK_HITS / kk : 1;
    int threads = (int)o->threads;
    mlr_scorer *sc = mlr_scorer_new(c->emb.data, m, d, (size_t)o->tile, threads);
    /* Blocks of whole tiles: a query's scores then do not depend on --block. */
    size_t tile = mlr_scorer_tile(sc);
    block = block < tile ? tile : block / tile * tile;
    float *qb = xmalloc(mlr_nz(block * d) * sizeof *qb);       /* (B, D) */
    mlr_hit *hits = xmalloc(mlr_nz(block * kk) * sizeof *hits); /* (B, K) */
    size_t *count = xmalloc(block * sizeof *count);
    const uint32_t **ex = u->have_seen ? xmalloc(block * sizeof *ex) : NULL;
    size_t *nex = u->have_seen ? xmalloc(block * sizeof *nex) : NULL;
    size_t line_max = 80 + u->longest + c->longest_id;
    block_text bt = {0, kk, line_max, hits, count, u, c, xcalloc((size_t)threads, sizeof(char *)),
                     xcalloc((size_t)threads, sizeof(char *)), xcalloc((size_t)threads, sizeof(size_t))};
    for (int t = 0; t < threads; t++) {
        bt.text[t] = xmalloc((block / (size_t)threads + 1) * mlr_nz(kk) * line_max);
        bt.key[t] = xmalloc(u->longest + 1);
    }
    /* The lists name their model and what they left out (docs/fingerprint.md). */
    mlr_fprint lf;
    memcpy(lf.model, c->fp.model[0] ? c->fp.model : u->fp.model, sizeof lf.model);
    strcpy(lf.exclude, o->exclude ? u->exclude : "none");
    mlr_fprint_write(fp, &lf);
    fputs(u->item_of ? "query\tuser_id\trow_item_id\trank\titem_id\tscore\n"
          : u->users ? "query\tuser_id\trank\titem_id\tscore\n" : "query\trank\titem_id\tscore\n", fp);
    long got;
    while ((got = mlr_npy_rows_read(q, qb, block, e)) > 0) {
        size_t b = (size_t)got;
        for (size_t r = 0; ex && r < b; r++) ex[r] = mlr_usersets_get(&u->seen, u->user_of[q->done - b + r], &nex[r]);
        mlr_topk_block(sc, qb, b, kk, ex, nex, hits, count);
        bt.first_row = q->done - b;
        memset(bt.len, 0, (size_t)threads * sizeof *bt.len);
        mlr_parallel_for(threads, b, format_part, &bt);
        for (int t = 0; t < threads; t++) fwrite(bt.text[t], 1, bt.len[t], fp);
        if (!o->quiet && isatty(2)) fprintf(stderr, "\rmlr-topk: %zu/%zu queries", q->done, q->rows);
    }
    if (!o->quiet && isatty(2)) fputc('\n', stderr);
    for (int t = 0; t < threads; t++) {
        free(bt.text[t]);
        free(bt.key[t]);
    }
    free(bt.text); free(bt.key); free(bt.len); free(ex); free(nex); free(count); free(hits); free(qb);
    mlr_scorer_free(sc);
    return got < 0 ? -1 : 0;
}

static int run(const options *o, mlr_err *e)
{
    catalogue c;
    query_users u = {0};
    mlr_npy_rows q;
    int q_open = 0;
    int rc = load_catalogue(&c, o->items, o->item_ids, e);
    if (rc == 0) rc = load_users(&u, o, &c, e);
    if (rc == 0)
        rc = mlr_fprint_same(u.fp_path ? u.fp_path : o->queries, &u.fp,
                             c.ids_path, &c.fp, e);
    if (rc == 0) {
        rc = mlr_npy_rows_open(&q, o->queries, e);
        q_open = rc == 0;
    }
    size_t d = c.emb.ndim == 2 ? c.emb.shape[1] : 0;
    if (rc == 0 && q.cols != d) rc = mlr_fail(e, "%s has %zu columns, %s %zu", q.name, q.cols, o->items, d);
    if (rc == 0 && u.users && u.rows != q.rows)
        rc = mlr_fail(e, "%s has %zu rows, %s %zu", o->query_ids, u.rows, q.name, q.rows);
    if (rc == 0) {
        openblas_set_num_threads(1); /* our threads run single-threaded sgemms */
        mlr_out out;
        rc = mlr_out_open(&out, o->output, e);
        if (rc == 0) {
            rc = write_lists(o, &c, &u, &q, out.fp, e);
            if (rc == 0)
                rc = mlr_out_commit(&out, e);
            else
                mlr_out_abort(&out);
        }
    }
    if (q_open) mlr_npy_rows_close(&q);
    if (u.have_seen) mlr_usersets_free(&u.seen);
    free(u.user_of);
    free(u.item_of);
    if (u.fp_path != o->query_ids) free((char *)u.fp_path);
    mlr_strmap_free(u.users);
    mlr_strmap_free(u.row_items);
    mlr_strmap_free(c.ids);
    free(c.ids_path);
    mlr_array_free(&c.emb);
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
