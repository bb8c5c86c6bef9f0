/* mlr-slice: rows FROM..TO of an .npy (and the matching rows of its .ids
 * file), so that a job can work on one shard of a large query matrix
 * (pipelines/topk-sharded.sh) without a copy of the whole.
 *
 * Streams: the rows before FROM are skipped (seeked past in a regular
 * file, read and dropped from a pipe), the rows of the range are copied in
 * chunks, and nothing after TO is read, so memory is one chunk whatever
 * the size of the input. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlr.h"
#include "npy.h"
#include "table.h"

#define CHUNK (1u << 20) /* bytes copied at a time */

typedef struct {
    const char *input, *output, *ids, *ids_output;
    size_t from, to;
    int have_range, have_to, count;
} options;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-slice --range FROM:TO [--ids X.ids --ids-output OUT.ids] [--output OUT.npy] [X.npy]\n"
        "       mlr-slice --count [X.npy]\n"
        "Copies rows FROM..TO-1 (0-based, TO excluded) of an .npy (X.npy or stdin; any\n"
        "dtype, 1-D or 2-D) as an .npy of TO-FROM rows, streaming: memory is one chunk.\n"
        "With --ids, also the same rows of X's id file (a column `id`; every column and\n"
        "its fingerprint line are kept), which must have exactly as many rows as X.\n"
        "--count prints X's number of rows instead.\n"
        "  --range FROM:TO     the rows; 'FROM:' runs to the end (required unless --count)\n"
        "  --ids FILE          X's ids (default: none)\n"
        "  --ids-output FILE   where the ids of the range go, atomically (with --ids)\n"
        "  -o, --output FILE   write here atomically (default stdout)\n"
        "  --count             print the number of rows of X and stop\n"
        "  -h, --help          this help;  --version  the version\n"
        "  deprecated: --rows (= --range)\n"
        "example: mlr-slice --range 1000:2000 --ids query.ids --ids-output part.ids \\\n"
        "           --output part.npy query.npy &&\n"
        "         mlr-topk --queries part.npy --query-ids part.ids --items items.npy --k 100\n");
}

/* "FROM:TO" or "FROM:" into o; dies with status 2 on anything else. */
static void parse_range(options *o, const char *s)
{
    const char *colon = strchr(s, ':');
    long v;
    if (!colon || colon == s) mlr_usage_die("--range: expected FROM:TO, got '%s'", s);
    char *from = xstrdup(s);
    from[colon - s] = '\0';
    if (mlr_parse_long(from, &v) < 0 || v < 0)
        mlr_usage_die("--range: '%s' is not a row number", from);
    o->from = (size_t)v;
    free(from);
    o->have_to = colon[1] != '\0';
    if (o->have_to) {
        if (mlr_parse_long(colon + 1, &v) < 0 || v < 0)
            mlr_usage_die("--range: '%s' is not a row number", colon + 1);
        o->to = (size_t)v;
        if (o->to < o->from) mlr_usage_die("--range: TO (%zu) is before FROM (%zu)", o->to, o->from);
    }
    o->have_range = 1;
}

/* The long-only options; OLD_ROWS is the deprecated alias of --range. */
enum { OPT_RANGE = 256, OPT_IDS, OPT_IDS_OUTPUT, OPT_COUNT, OPT_OLD_ROWS };

static options parse_args(int argc, char **argv)
{
    options o = {.input = "-"};
    static const struct option longs[] = {
        {"range", required_argument, 0, OPT_RANGE}, {"ids", required_argument, 0, OPT_IDS},
        {"ids-output", required_argument, 0, OPT_IDS_OUTPUT}, {"output", required_argument, 0, 'o'},
        {"count", no_argument, 0, OPT_COUNT}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'}, {"rows", required_argument, 0, OPT_OLD_ROWS},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case OPT_OLD_ROWS: mlr_opt_deprecated("--rows", "--range"); /* fall through */
        case OPT_RANGE: parse_range(&o, optarg); break;
        case OPT_IDS: o.ids = optarg; break;
        case OPT_IDS_OUTPUT: o.ids_output = optarg; break;
        case 'o': o.output = optarg; break;
        case OPT_COUNT: o.count = 1; break;
        default: mlr_opt_rest(c, "mlr-slice", usage, argv);
        }
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) mlr_usage_die("unexpected argument '%s' (try 'mlr-slice --help')", argv[optind]);
    if (!o.count && !o.have_range) mlr_usage_die("--range FROM:TO is required (try 'mlr-slice --help')");
    if (o.count && (o.have_range || o.ids || o.output))
        mlr_usage_die("--count takes no --range, --ids or --output");
    if (!o.ids != !o.ids_output) mlr_usage_die("--ids and --ids-output go together");
    return o;
}

/* The input, its header read and its data not yet. */
typedef struct {
    FILE *fp;
    const char *name;   /* for messages */
    mlr_array head;     /* shape and dtype; data NULL */
    size_t row_bytes;
    off_t data_at;      /* offset of row 0 in a regular file, else -1 */
} npy_in;

/* Opens PATH ("-": stdin) and reads its header; a regular file is
 * checked whole against the header without reading it. */
static int open_input(npy_in *in, const char *path, mlr_err *e)
{
    int is_stdin = strcmp(path, "-") == 0;
    in->name = is_stdin ? "stdin" : path;
    in->fp = is_stdin ? stdin : fopen(path, "rb");
    if (!in->fp) return mlr_fail(e, "%s: %s", path, strerror(errno));
    if (mlr_npy_read_header(in->fp, in->name, &in->head, e) < 0) return -1;
    in->row_bytes = in->head.shape[1] * mlr_dtype_size(in->head.dtype);
    struct stat st;
    in->data_at = -1;
    if (fstat(fileno(in->fp), &st) == 0 && S_ISREG(st.st_mode)) {
        in->data_at = ftello(in->fp);
        off_t want = in->data_at + (off_t)(in->head.shape[0] * in->row_bytes);
        if (st.st_size < want)
            return mlr_fail(e, "%s: truncated: the header promises %zu rows", in->name, in->head.shape[0]);
        if (st.st_size > want) return mlr_fail(e, "%s: bytes after the last row", in->name);
    }
    return 0;
}

static void close_input(npy_in *in)
{
    if (in->fp && in->fp != stdin) fclose(in->fp);
}

/* Reads exactly n bytes into buf (NULL: drops them); fails when the input ends first. */
static int read_bytes(npy_in *in, char *buf, size_t n, size_t cap, mlr_err *e)
{
    char *scratch = buf ? NULL : xmalloc(cap);
    int rc = 0;
    while (n && rc == 0) {
        size_t want = n < cap ? n : cap;
        if (fread(buf ? buf : scratch, 1, want, in->fp) != want)
            rc = mlr_fail(e, "%s: truncated: the header promises %zu rows", in->name, in->head.shape[0]);
        if (buf) buf += want;
        n -= want;
    }
    free(scratch);
    return rc;
}

/* Positions the input at row `from`. */
static int skip_rows(npy_in *in, size_t from, mlr_err *e)
{
    if (in->data_at >= 0) {
        if (fseeko(in->fp, in->data_at + (off_t)(from * in->row_bytes), SEEK_SET) != 0)
            return mlr_fail(e, "%s: %s", in->name, strerror(errno));
        return 0;
    }
    return read_bytes(in, NULL, from * in->row_bytes, CHUNK, e);
}

/* Copies the ids of rows [from, to) of PATH into o (its fingerprint line
 * and header first, every column: the key's item_id travels too),
 * counting every row to check it against the matrix. */
static int slice_ids(const char *path, size_t from, size_t to, size_t want_rows, mlr_out *o, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r) return -1;
    int col = mlr_reader_require(r, "id", e), st = -1;
    size_t n = 0;
    if (col >= 0) {
        if (mlr_reader_fprint(r)) fprintf(o->fp, "%s\n", mlr_reader_fprint(r));
        for (size_t c = 0; c < mlr_reader_ncols(r); c++)
            fprintf(o->fp, "%s%c", mlr_reader_colname(r, c), c + 1 < mlr_reader_ncols(r) ? '\t' : '\n');
        char *row = NULL;
        while ((st = mlr_reader_next(r, e)) == 1) {
            if (n >= from && n < to) {
                row = xrealloc(row, mlr_reader_row_size(r));
                fwrite(row, 1, mlr_reader_row_tsv(r, row), o->fp);
                putc('\n', o->fp);
            }
            n++;
        }
        free(row);
        if (st == 0 && n != want_rows)
            st = mlr_fail(e, "%s has %zu rows, the matrix %zu", mlr_reader_path(r), n, want_rows);
    }
    mlr_reader_close(r);
    return st < 0 ? -1 : 0;
}

/* Rows [from, to) of in, after its header, into out. */
static int copy_rows(npy_in *in, size_t from, size_t to, const char *output, mlr_out *out, mlr_err *e)
{
    if (mlr_npy_write_header(out->fp, in->head.dtype, in->head.ndim, to - from, in->head.shape[1]) < 0)
        return mlr_fail(e, "%s: write error: %s", output ? output : "stdout", strerror(errno));
    if (skip_rows(in, from, e) < 0) return -1;
    size_t left = (to - from) * in->row_bytes;
    char *buf = xmalloc(CHUNK);
    int rc = 0;
    while (left && rc == 0) {
        size_t b = left < CHUNK ? left : CHUNK;
        rc = read_bytes(in, buf, b, CHUNK, e);
        if (rc == 0 && fwrite(buf, 1, b, out->fp) != b) break; /* the commit reports it */
        left -= b;
    }
    free(buf);
    return rc;
}

static int run(const options *o, mlr_err *e)
{
    npy_in in = {0};
    if (open_input(&in, o->input, e) < 0) {
        close_input(&in);
        return -1;
    }
    size_t n = in.head.shape[0];
    if (o->count) {
        printf("%zu\n", n);
        close_input(&in);
        return 0;
    }
    size_t from = o->from, to = o->have_to ? o->to : n;
    int rc = 0;
    if (from > n || to > n)
        rc = mlr_fail(e, "%s has %zu rows: --range %zu:%zu goes past the end", in.name, n, from, to);
    /* The ids first: a mismatch is found before any row is written. */
    mlr_out ids_out, out;
    int ids_open = 0, out_open = 0;
    if (rc == 0 && o->ids) {
        rc = mlr_out_open(&ids_out, o->ids_output, e);
        ids_open = rc == 0;
        if (rc == 0) rc = slice_ids(o->ids, from, to, n, &ids_out, e);
    }
    if (rc == 0) {
        rc = mlr_out_open(&out, o->output, e);
        out_open = rc == 0;
    }
    if (rc == 0) rc = copy_rows(&in, from, to, o->output, &out, e);
    /* the matrix and its ids replace their earlier files together */
    mlr_out_batch_begin();
    if (rc == 0) {
        out_open = 0;
        rc = mlr_out_commit(&out, e);
    }
    if (rc == 0 && ids_open) {
        ids_open = 0;
        rc = mlr_out_commit(&ids_out, e);
    }
    if (out_open) mlr_out_abort(&out);
    if (ids_open) mlr_out_abort(&ids_out);
    if (rc == 0)
        rc = mlr_out_batch_commit(e);
    else
        mlr_out_batch_abort();
    close_input(&in);
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
