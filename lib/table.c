/* table.c: the TSV/CSV/headerless row reader of table.h.
 *
 * Input is read with read(2) into one growing buffer and cut into lines with
 * memchr, so a line may be of any length and a slow pipe is not waited on.
 * Each physical line is checked (NUL, UTF-8, CR before LF) before use.
 * TSV lines are split in place. CSV lines are fed to libcsv, whose field
 * and row callbacks fill a queue of complete rows held in an arena; a
 * quoted field may span lines, and a row is named by the line it starts on.
 * RFC-4180 ends CSV lines with CRLF (ml-latest's files do), so CR before LF
 * is accepted in CSV mode only. */
#include "table.h"
#include "strmap.h"

#include <csv.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    size_t first, n; /* fields in the arena queue */
    long line;       /* line the row starts on */
} csv_row;

struct mlr_reader {
    int fd, own_fd;
    char *name; /* for messages: the path, or "stdin" */
    mlr_read_opts o;

    char *buf;  /* input bytes buf[beg..end), one spare byte for a NUL */
    size_t cap, beg, end, scan;
    int eof;
    long lineno; /* physical lines consumed */

    char **colnames; /* header, ncols of them */
    size_t ncols;
    char *fprint;    /* a "#mlrec ..." line before the header, or NULL */

    char **fields; /* current row */
    size_t *lens;
    size_t nfields, fcap;
    long row_line;

    int failed; /* a sticky error: every later call repeats it */
    mlr_err err;

    /* CSV only */
    struct csv_parser csv;
    int csv_ready, csv_done, in_row;
    long row_start;
    size_t row_bytes; /* of the row in progress, all its lines */
    char *arena;          /* NUL-terminated field bytes of queued rows */
    size_t alen, acap;
    size_t *foff, *flen;  /* queued fields: offset and length in the arena */
    size_t nf, nfcap, cur_first;
    csv_row *rows;
    size_t nrows, rcap, rpos;
};

mlr_read_opts mlr_read_defaults(void)
{
    mlr_read_opts o = {.delim = '\t', .csv = 0, .header = 1, .check_utf8 = 1};
    return o;
}

/* ---- UTF-8 ---- */

/* Rejects overlong forms, surrogates (U+D800..DFFF) and code points above
 * U+10FFFF. ASCII runs are checked eight bytes at a time. */
int mlr_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (!(v & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else
            return 0;
        if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

void mlr_latin1_to_utf8(const char *in, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x80)
            out[j++] = (char)c;
        else {
            out[j++] = (char)(0xC0 | (c >> 6));
            out[j++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[j] = '\0';
}

/* ---- writing ---- */

void mlr_tsv_clean(char *s)
{
    for (; *s; s++)
        if (*s == '\t' || *s == '\r' || *s == '\n')
            *s = ' ';
}

void mlr_tsv_write_row(FILE *fp, size_t n, const char *const *fields)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            putc('\t', fp);
        fputs(fields[i], fp);
    }
    putc('\n', fp);
}

/* ---- errors ---- */

static int rfail(mlr_reader *r, mlr_err *e, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records "NAME:LINE: msg" (no LINE when line is 0) as the sticky error. */
static int rfail(mlr_reader *r, mlr_err *e, long line, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        mlr_fail(&r->err, "%s:%ld: %s", r->name, line, msg);
    else
        mlr_fail(&r->err, "%s: %s", r->name, msg);
    r->failed = 1;
    if (e)
        *e = r->err;
    return -1;
}

/* ---- lines ---- */

/* Reads more input after buf[end]; grows the buffer when a line fills it. */
static int fill(mlr_reader *r, mlr_err *e)
{
    if (r->beg > 0) {
        memmove(r->buf, r->buf + r->beg, r->end - r->beg);
        r->end -= r->beg;
        r->scan -= r->beg;
        r->beg = 0;
    }
    if (r->end + 1 >= r->cap) {
        r->cap *= 2;
        r->buf = xrealloc(r->buf, r->cap);
    }
    for (;;) {
        ssize_t k = read(r->fd, r->buf + r->end, r->cap - 1 - r->end);
        if (k > 0) {
            r->end += (size_t)k;
            return 0;
        }
        if (k == 0) {
            r->eof = 1;
            return 0;
        }
        if (errno != EINTR)
            return rfail(r, e, 0, "read error: %s", strerror(errno));
    }
}

/* Next physical line, NUL-terminated in place without its LF: 1, 0 at end
 * of input, -1 on error. *has_lf tells whether a LF ended it (the last line
 * of a file may lack one). */
static int next_line(mlr_reader *r, char **line, size_t *len, int *has_lf, mlr_err *e)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->end - r->scan);
        if (nl) {
            *line = r->buf + r->beg;
            *len = (size_t)(nl - *line);
            *nl = '\0';
            *has_lf = 1;
            r->beg = r->scan = (size_t)(nl - r->buf) + 1;
            break;
        }
        /* No line end yet: refuse what can never become a good line now,
         * not after reading all of an endless input. */
        if (memchr(r->buf + r->scan, '\0', r->end - r->scan))
            return rfail(r, e, r->lineno + 1, "NUL byte in line");
        if (r->end - r->beg > MLR_MAX_LINE)
            return rfail(r, e, r->lineno + 1, "line longer than %zu bytes", MLR_MAX_LINE);
        r->scan = r->end;
        if (r->eof) {
            if (r->beg == r->end)
                return 0;
            *line = r->buf + r->beg;
            *len = r->end - r->beg;
            r->buf[r->end] = '\0'; /* the spare byte */
            *has_lf = 0;
            r->beg = r->scan = r->end;
            break;
        }
        if (fill(r, e) < 0)
            return -1;
    }
    r->lineno++;
    if (r->lineno == 1 && *len >= 3 && memcmp(*line, "\xEF\xBB\xBF", 3) == 0) {
        *line += 3; /* a byte order mark is not part of the first column's name */
        *len -= 3;
    }
    return 1;
}

/* The checks every physical line passes, whatever the format. */
static int check_line(mlr_reader *r, const char *line, size_t len, mlr_err *e)
{
    if (memchr(line, '\0', len))
        return rfail(r, e, r->lineno, "NUL byte in line");
    if (!r->o.csv && len > 0 && line[len - 1] == '\r')
        return rfail(r, e, r->lineno, "CR before LF (CRLF line ends); convert with: tr -d '\\r'");
    if (r->o.check_utf8 && !mlr_utf8_valid(line, len))
        return rfail(r, e, r->lineno, "invalid UTF-8");
    return 0;
}

static void reserve_fields(mlr_reader *r, size_t n)
{
    if (n <= r->fcap)
        return;
    while (r->fcap < n)
        r->fcap = r->fcap ? 2 * r->fcap : 16;
    r->fields = xrealloc(r->fields, r->fcap * sizeof *r->fields);
    r->lens = xrealloc(r->lens, r->fcap * sizeof *r->lens);
}

/* ---- TSV and other unquoted formats ---- */

static int tsv_row(mlr_reader *r, mlr_err *e)
{
    char *line;
    size_t len;
    int has_lf, st = next_line(r, &line, &len, &has_lf, e);
    if (st <= 0)
        return st;
    if (check_line(r, line, len, e) < 0)
        return -1;
    r->row_line = r->lineno;
    char *p = line, *end = line + len;
    size_t n = 0;
    for (;;) {
        reserve_fields(r, n + 1);
        char *d = memchr(p, r->o.delim, (size_t)(end - p));
        r->fields[n] = p;
        if (!d) {
            r->lens[n++] = (size_t)(end - p);
            break;
        }
        *d = '\0';
        r->lens[n++] = (size_t)(d - p);
        p = d + 1;
    }
    r->nfields = n;
    return 1;
}

/* ---- CSV through libcsv ---- */

static void csv_on_field(void *s, size_t len, void *data)
{
    mlr_reader *r = data;
    if (r->alen + len + 1 > r->acap) {
        while (r->alen + len + 1 > r->acap)
            r->acap = r->acap ? 2 * r->acap : 4096;
        r->arena = xrealloc(r->arena, r->acap);
    }
    if (len)
        memcpy(r->arena + r->alen, s, len);
    r->arena[r->alen + len] = '\0';
    if (r->nf == r->nfcap) {
        r->nfcap = r->nfcap ? 2 * r->nfcap : 64;
        r->foff = xrealloc(r->foff, r->nfcap * sizeof *r->foff);
        r->flen = xrealloc(r->flen, r->nfcap * sizeof *r->flen);
    }
    r->foff[r->nf] = r->alen;
    r->flen[r->nf++] = len;
    r->alen += len + 1;
}

static void csv_on_row(int c, void *data)
{
    (void)c;
    mlr_reader *r = data;
    if (r->nrows == r->rcap) {
        r->rcap = r->rcap ? 2 * r->rcap : 16;
        r->rows = xrealloc(r->rows, r->rcap * sizeof *r->rows);
    }
    r->rows[r->nrows++] = (csv_row){r->cur_first, r->nf - r->cur_first, r->row_start};
    r->cur_first = r->nf;
    r->in_row = 0;
}

/* RFC 4180: spaces belong to the field; libcsv would trim them. */
static int csv_no_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* Drops the rows already returned, keeping the fields of a row in progress. */
static void csv_compact(mlr_reader *r)
{
    size_t base = r->cur_first < r->nf ? r->foff[r->cur_first] : r->alen;
    if (r->alen > base)
        memmove(r->arena, r->arena + base, r->alen - base);
    r->alen -= base;
    for (size_t i = r->cur_first; i < r->nf; i++) {
        r->foff[i - r->cur_first] = r->foff[i] - base;
        r->flen[i - r->cur_first] = r->flen[i];
    }
    r->nf -= r->cur_first;
    r->cur_first = 0;
    r->nrows = r->rpos = 0;
}

static int csv_finish(mlr_reader *r, mlr_err *e)
{
    r->csv_done = 1;
    if (csv_fini(&r->csv, csv_on_field, csv_on_row, r) != 0)
        return rfail(r, e, r->row_start, "unclosed quote");
    return 0;
}

enum { CSV_BLOCK = 128 }; /* libcsv's own default */

/* Feeds lines to libcsv until a complete row is queued or input ends. */
static int csv_feed(mlr_reader *r, mlr_err *e)
{
    csv_compact(r);
    while (r->nrows == 0 && !r->csv_done) {
        char *line;
        size_t len;
        int has_lf, st = next_line(r, &line, &len, &has_lf, e);
        if (st < 0)
            return -1;
        if (st == 0)
            return csv_finish(r, e);
        if (check_line(r, line, len, e) < 0)
            return -1;
        if (!r->in_row && len > 0 && !(len == 1 && line[0] == '\r')) {
            r->in_row = 1;
            r->row_start = r->lineno;
            r->row_bytes = 0;
        }
        /* A quoted field may span lines: the row, not the line, is bounded. */
        r->row_bytes += len + 1;
        if (r->in_row && r->row_bytes > MLR_MAX_LINE)
            return rfail(r, e, r->row_start, "row longer than %zu bytes (an unclosed quote?)",
                         MLR_MAX_LINE);
        /* libcsv grows its field buffer by a fixed block: a 16 MB field
         * would take 10^5 reallocations, each a copy. Growing the block with
         * the row keeps the growth geometric. */
        if (r->row_bytes > CSV_BLOCK)
            csv_set_blk_size(&r->csv, r->row_bytes);
        if (csv_parse(&r->csv, line, len, csv_on_field, csv_on_row, r) != len ||
            (has_lf && csv_parse(&r->csv, "\n", 1, csv_on_field, csv_on_row, r) != 1))
            return rfail(r, e, r->lineno, "%s", csv_error(&r->csv) == CSV_EPARSE
                         ? "bad CSV quoting: a quote may only open a field, close it, or be doubled inside it"
                         : csv_strerror(csv_error(&r->csv)));
    }
    return 0;
}

static int csv_row_next(mlr_reader *r, mlr_err *e)
{
    if (r->rpos == r->nrows && csv_feed(r, e) < 0)
        return -1;
    if (r->rpos == r->nrows)
        return 0;
    const csv_row *row = &r->rows[r->rpos++];
    reserve_fields(r, row->n);
    for (size_t i = 0; i < row->n; i++) {
        r->fields[i] = r->arena + r->foff[row->first + i];
        r->lens[i] = r->flen[row->first + i];
    }
    r->nfields = row->n;
    r->row_line = row->line;
    return 1;
}

/* ---- the reader ---- */

static int read_row(mlr_reader *r, mlr_err *e)
{
    if (r->failed) {
        if (e)
            *e = r->err;
        return -1;
    }
    return r->o.csv ? csv_row_next(r, e) : tsv_row(r, e);
}

static int read_header(mlr_reader *r, mlr_err *e)
{
    int st = read_row(r, e);
    if (st < 0)
        return -1;
    /* An output's fingerprint line (docs/fingerprint.md) comes before
     * the header: kept for mlr_reader_fprint, then the header is read. */
    if (st == 1 && !r->o.csv && r->lineno == 1 && r->nfields == 1 && strncmp(r->fields[0], "#mlrec ", 7) == 0) {
        r->fprint = xstrdup(r->fields[0]);
        st = read_row(r, e);
        if (st < 0)
            return -1;
    }
    if (st == 0)
        return rfail(r, e, 0, "empty file (expected a header line)");
    r->ncols = r->nfields;
    r->colnames = xcalloc(r->ncols, sizeof *r->colnames);
    /* Duplicates through a hash set: a header of 10^6 names is linear work. */
    mlr_strmap *seen = mlr_strmap_new(r->ncols);
    int rc = 0;
    for (size_t i = 0; i < r->ncols && rc == 0; i++) {
        int added;
        if (r->lens[i] == 0)
            rc = rfail(r, e, r->row_line, "empty column name (column %zu)", i + 1);
        else if (mlr_strmap_intern2(seen, r->fields[i], r->lens[i], &added), !added)
            rc = rfail(r, e, r->row_line, "duplicate column '%.200s'", r->fields[i]);
        else
            r->colnames[i] = xstrdup(r->fields[i]);
    }
    mlr_strmap_free(seen);
    r->nfields = 0;
    return rc;
}

mlr_reader *mlr_reader_open(const char *path, const mlr_read_opts *opts, mlr_err *e)
{
    mlr_reader *r = xcalloc(1, sizeof *r);
    r->o = opts ? *opts : mlr_read_defaults();
    if (r->o.csv && (r->o.delim == '\t' || r->o.delim == 0))
        r->o.delim = ','; /* "csv" alone means comma-separated */
    if (!r->o.delim)
        r->o.delim = '\t';
    int is_stdin = strcmp(path, "-") == 0;
    r->name = xstrdup(is_stdin ? "stdin" : path);
    r->fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    r->own_fd = !is_stdin;
    if (r->fd < 0) {
        mlr_fail(e, "%s: cannot open: %s", path, strerror(errno));
        r->own_fd = 0;
        mlr_reader_close(r);
        return NULL;
    }
    r->cap = 1 << 18;
    r->buf = xmalloc(r->cap);
    if (r->o.csv) {
        if (csv_init(&r->csv, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
            mlr_fail(e, "%s: cannot start the CSV parser", r->name);
            mlr_reader_close(r);
            return NULL;
        }
        r->csv_ready = 1;
        csv_set_delim(&r->csv, (unsigned char)r->o.delim);
        csv_set_space_func(&r->csv, csv_no_space);
    }
    if (r->o.header && read_header(r, e) < 0) {
        mlr_reader_close(r);
        return NULL;
    }
    return r;
}

void mlr_reader_close(mlr_reader *r)
{
    if (!r)
        return;
    if (r->own_fd)
        close(r->fd);
    if (r->csv_ready)
        csv_free(&r->csv);
    for (size_t i = 0; r->colnames && i < r->ncols; i++)
        free(r->colnames[i]);
    free(r->colnames);
    free(r->fprint);
    free(r->name);
    free(r->buf);
    free(r->fields);
    free(r->lens);
    free(r->arena);
    free(r->foff);
    free(r->flen);
    free(r->rows);
    free(r);
}

int mlr_reader_next(mlr_reader *r, mlr_err *e)
{
    int st = read_row(r, e);
    if (st <= 0) {
        r->nfields = 0;
        return st;
    }
    if (r->ncols == 0 && !r->o.header)
        r->ncols = r->nfields; /* headerless: the first row fixes the count */
    if (r->nfields != r->ncols)
        return rfail(r, e, r->row_line, "expected %zu fields, found %zu", r->ncols, r->nfields);
    return 1;
}

size_t mlr_reader_ncols(const mlr_reader *r) { return r->ncols; }
const char *mlr_reader_fprint(const mlr_reader *r) { return r->fprint; }

/* NULL when there is no header or i is out of range. */
const char *mlr_reader_colname(const mlr_reader *r, size_t i)
{
    return r->colnames && i < r->ncols ? r->colnames[i] : NULL;
}

int mlr_reader_col(const mlr_reader *r, const char *name)
{
    for (size_t i = 0; r->colnames && i < r->ncols; i++)
        if (strcmp(r->colnames[i], name) == 0)
            return (int)i;
    return -1;
}

int mlr_reader_require(const mlr_reader *r, const char *name, mlr_err *e)
{
    int i = mlr_reader_col(r, name);
    if (i < 0)
        return mlr_fail(e, "%s: no column '%s' in the header", r->name, name);
    return i;
}

/* NULL (and length 0) when i is not a field of the current row. */
const char *mlr_reader_field(const mlr_reader *r, size_t i)
{
    return i < r->nfields ? r->fields[i] : NULL;
}

size_t mlr_reader_field_len(const mlr_reader *r, size_t i)
{
    return i < r->nfields ? r->lens[i] : 0;
}

size_t mlr_reader_nfields(const mlr_reader *r) { return r->nfields; }
const char *mlr_reader_path(const mlr_reader *r) { return r->name; }
long mlr_reader_line(const mlr_reader *r) { return r->row_line; }

/* "column 'rating'", or "column 3" without a header, into buf. */
static const char *col_label(const mlr_reader *r, size_t i, char *buf, size_t n)
{
    const char *name = mlr_reader_colname(r, i);
    if (name)
        snprintf(buf, n, "column '%.100s'", name);
    else
        snprintf(buf, n, "column %zu", i + 1);
    return buf;
}

static int number_fail(const mlr_reader *r, size_t i, const char *what, mlr_err *e)
{
    char label[128];
    const char *f = mlr_reader_field(r, i);
    return mlr_fail(e, "%s:%ld: %s: '%.60s%s' is not %s", r->name, r->row_line,
                    col_label(r, i, label, sizeof label), f ? f : "",
                    f && strlen(f) > 60 ? "..." : "", what);
}

/* Plain decimals ([-]digits[.digits], at most 15 digits: ratings,
 * timestamps, ages) without strtod, which is most of a text tool's number
 * cost. m / 10^k with m < 10^15 and k <= 15 is one correctly rounded
 * division of two exact doubles: the value strtod gives (Clinger's fast
 * path). Returns 0, or -1 for anything else (left to mlr_parse_double). */
static int plain_decimal(const char *p, size_t len, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = p[0] == '-', digits = 0, frac = 0;
    int64_t m = 0;
    int dot = 0;
    if (len - i > 16)
        return -1;
    for (; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            m = m * 10 + (p[i] - '0');
            digits++;
            frac += (size_t)dot;
        } else if (p[i] == '.' && !dot && digits > 0) {
            dot = 1;
        } else {
            return -1;
        }
    }
    if (digits == 0 || digits > 15 || (dot && frac == 0))
        return -1;
    double v = (double)m / pow10[frac];
    *out = p[0] == '-' ? -v : v;
    return 0;
}

/* [-]digits, at most 18 of them: no overflow possible. */
static int plain_integer(const char *p, size_t len, long *out)
{
    size_t i = p[0] == '-';
    if (len == i || len - i > 18)
        return -1;
    long v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = p[0] == '-' ? -v : v;
    return 0;
}

int mlr_reader_double(const mlr_reader *r, size_t i, double *out, mlr_err *e)
{
    const char *f = mlr_reader_field(r, i);
    if (f && plain_decimal(f, r->lens[i], out) == 0)
        return 0;
    if (!f || mlr_parse_double(f, out) < 0)
        return number_fail(r, i, "a number", e);
    return 0;
}

int mlr_reader_long(const mlr_reader *r, size_t i, long *out, mlr_err *e)
{
    const char *f = mlr_reader_field(r, i);
    if (f && plain_integer(f, r->lens[i], out) == 0)
        return 0;
    if (!f || mlr_parse_long(f, out) < 0)
        return number_fail(r, i, "an integer", e);
    return 0;
}

int mlr_column_is_integer(const char *column)
{
    return strcmp(column, "timestamp") == 0 || strcmp(column, "user_age") == 0;
}

int mlr_reader_number(const mlr_reader *r, size_t i, int integer, double *out, mlr_err *e)
{
    if (!integer)
        return mlr_reader_double(r, i, out, e);
    long v;
    if (mlr_reader_long(r, i, &v, e) < 0)
        return -1;
    *out = (double)v;
    return 0;
}

/* ---- the row as text ---- */

size_t mlr_reader_row_size(const mlr_reader *r)
{
    size_t n = r->nfields;
    for (size_t i = 0; i < r->nfields; i++)
        n += r->lens[i];
    return n ? n : 1;
}

/* TSV fields were cut in place from one line, one NUL where each TAB was:
 * the row is that line again, one copy. Other inputs are joined. */
size_t mlr_reader_row_tsv(const mlr_reader *r, char *dst)
{
    size_t n = r->nfields;
    if (n == 0)
        return 0;
    if (!r->o.csv && r->o.delim == '\t') {
        const char *first = r->fields[0];
        size_t len = (size_t)(r->fields[n - 1] + r->lens[n - 1] - first);
        memcpy(dst, first, len);
        for (size_t i = 0; i + 1 < n; i++)
            dst[r->fields[i] + r->lens[i] - first] = '\t';
        return len;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            dst[len++] = '\t';
        memcpy(dst + len, r->fields[i], r->lens[i]);
        len += r->lens[i];
    }
    return len;
}
