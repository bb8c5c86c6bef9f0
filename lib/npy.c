/* npy.c: NumPy .npy files (format 1.0/2.0), the arrays of npy.h.
 *
 * The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (100, 3), }
 * parsed here by a small strict parser that knows exactly those three keys,
 * so a hostile file is refused by name and never makes us allocate more
 * than the bytes it really holds: data is read in growing steps, never
 * sized from the shape alone. Nothing seeks, so pipes work. */
#include "npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads and writes little-endian data in place: port it to this host"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER 65536 /* numpy itself refuses headers over 10000 bytes */
#define NPY_MAX_DIMS 8       /* parsed, to name a 3-D+ shape in the message */
#define NPY_ALIGN 64

size_t mlr_dtype_size(mlr_dtype t)
{
    return t == MLR_I8 ? 8 : 4;
}

const char *mlr_dtype_name(mlr_dtype t)
{
    switch (t) {
    case MLR_F4: return "<f4";
    case MLR_I4: return "<i4";
    case MLR_I8: return "<i8";
    }
    return "?";
}

size_t mlr_array_count(const mlr_array *a)
{
    return a->shape[0] * a->shape[1];
}

void mlr_array_alloc(mlr_array *a, mlr_dtype t, int ndim, size_t rows, size_t cols)
{
    a->dtype = t;
    a->ndim = ndim == 1 ? 1 : 2;
    a->shape[0] = rows;
    a->shape[1] = ndim == 1 ? 1 : cols;
    /* xcalloc dies on overflow of rows * cols * size as on any failure */
    size_t n = a->shape[0] && a->shape[1] > SIZE_MAX / a->shape[0] ? SIZE_MAX : a->shape[0] * a->shape[1];
    a->data = xcalloc(n, mlr_dtype_size(t));
}

void mlr_array_free(mlr_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* "(100, 3)" or "(100,)": the shape as Python prints it. */
static const char *shape_str(const size_t *dims, int ndim, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %zu" : "%zu", dims[i]);
    if (k < n)
        snprintf(buf + k, n - k, ndim == 1 ? ",)" : ")");
    return buf;
}

/* ---- the header dict ---- */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string of printable ASCII without escapes into out[n]. */
static int parse_str(cursor *c, char *out, size_t n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p < 0x20 || *c->p > 0x7e || *c->p == '\\' || k + 1 >= n)
            return -1;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    out[k] = '\0';
    return 0;
}

static int parse_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

static int parse_size(cursor *c, size_t *out)
{
    skip_ws(c);
    size_t v = 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t d = (size_t)(*c->p++ - '0');
        if (v > (SIZE_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (c->p == start)
        return -1;
    if (c->p < c->end && *c->p == 'L') /* Python 2 long */
        c->p++;
    *out = v;
    return 0;
}

/* (a, b, ...) with an optional trailing comma; () is 0-D. */
static int parse_shape(cursor *c, size_t *dims, int *ndim)
{
    *ndim = 0;
    if (!eat(c, '('))
        return -1;
    if (eat(c, ')'))
        return 0;
    for (;;) {
        if (*ndim == NPY_MAX_DIMS || parse_size(c, &dims[*ndim]) < 0)
            return -1;
        (*ndim)++;
        int comma = eat(c, ',');
        if (eat(c, ')'))
            return *ndim == 1 && !comma ? -1 : 0; /* (5) is an int, not a tuple */
        if (!comma)
            return -1;
    }
}

typedef struct {
    char descr[40];
    int fortran;
    size_t dims[NPY_MAX_DIMS];
    int ndim;
} npy_header;

static int parse_value(cursor *c, const char *key, npy_header *h, unsigned *seen)
{
    if (strcmp(key, "descr") == 0 && !(*seen & 1)) {
        *seen |= 1;
        return parse_str(c, h->descr, sizeof h->descr);
    }
    if (strcmp(key, "fortran_order") == 0 && !(*seen & 2)) {
        *seen |= 2;
        if (parse_word(c, "True"))
            h->fortran = 1;
        else if (!parse_word(c, "False"))
            return -1;
        return 0;
    }
    if (strcmp(key, "shape") == 0 && !(*seen & 4)) {
        *seen |= 4;
        return parse_shape(c, h->dims, &h->ndim);
    }
    return -1; /* unknown or repeated key */
}

/* The whole dict, then only white space to the end of the header. */
static int parse_dict(const char *text, size_t n, npy_header *h)
{
    cursor c = {text, text + n};
    unsigned seen = 0;
    char key[32];
    if (!eat(&c, '{'))
        return -1;
    while (!eat(&c, '}')) {
        if (parse_str(&c, key, sizeof key) < 0 || !eat(&c, ':') || parse_value(&c, key, h, &seen) < 0)
            return -1;
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return -1;
            break;
        }
    }
    skip_ws(&c);
    return c.p == c.end && seen == 7 ? 0 : -1;
}

/* ---- reading ---- */

static size_t get_le(const unsigned char *p, int n)
{
    size_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Magic, version and header length; leaves fp at the dict. */
static int read_preamble(FILE *fp, const char *name, size_t *hlen, mlr_err *e)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, fp);
    if (got == 0 && !ferror(fp))
        return mlr_fail(e, "%s: empty file (expected a .npy array)", name);
    if (got < 6 || memcmp(pre, NPY_MAGIC, 6) != 0)
        return mlr_fail(e, "%s: not a .npy file (bad magic)", name);
    if (got < 10)
        return mlr_fail(e, "%s: truncated .npy header", name);
    if ((pre[6] != 1 && pre[6] != 2) || pre[7] != 0)
        return mlr_fail(e, "%s: unsupported .npy format version %d.%d (mlrec reads 1.0 and 2.0)",
                        name, pre[6], pre[7]);
    if (pre[6] == 1) {
        *hlen = get_le(pre + 8, 2);
    } else {
        if (fread(pre + 10, 1, 2, fp) != 2)
            return mlr_fail(e, "%s: truncated .npy header", name);
        *hlen = get_le(pre + 8, 4);
    }
    if (*hlen > NPY_MAX_HEADER)
        return mlr_fail(e, "%s: .npy header of %zu bytes is too long (at most %d)", name, *hlen,
                        NPY_MAX_HEADER);
    return 0;
}

static int check_header(const npy_header *h, const char *name, mlr_array *a, mlr_err *e)
{
    char sh[200];
    if (strcmp(h->descr, "<f4") == 0)
        a->dtype = MLR_F4;
    else if (strcmp(h->descr, "<i4") == 0)
        a->dtype = MLR_I4;
    else if (strcmp(h->descr, "<i8") == 0)
        a->dtype = MLR_I8;
    else
        return mlr_fail(e, "%s: unsupported dtype '%s' (mlrec reads <f4, <i4, <i8)", name, h->descr);
    if (h->fortran)
        return mlr_fail(e, "%s: fortran_order True is not supported (save in C order)", name);
    if (h->ndim != 1 && h->ndim != 2)
        return mlr_fail(e, "%s: unsupported shape %s (mlrec reads 1-D and 2-D arrays)", name,
                        shape_str(h->dims, h->ndim, sh, sizeof sh));
    a->ndim = h->ndim;
    a->shape[0] = h->dims[0];
    a->shape[1] = h->ndim == 2 ? h->dims[1] : 1;
    size_t size = mlr_dtype_size(a->dtype);
    if (a->shape[0] && a->shape[1] > SIZE_MAX / size / a->shape[0])
        return mlr_fail(e, "%s: shape %s is too large", name,
                        shape_str(h->dims, h->ndim, sh, sizeof sh));
    return 0;
}

int mlr_npy_read_header(FILE *fp, const char *name, mlr_array *a, mlr_err *e)
{
    memset(a, 0, sizeof *a);
    size_t hlen = 0;
    if (read_preamble(fp, name, &hlen, e) < 0)
        return -1;
    char *text = xmalloc(hlen + 1);
    if (fread(text, 1, hlen, fp) != hlen) {
        free(text);
        return mlr_fail(e, "%s: truncated .npy header", name);
    }
    npy_header h;
    memset(&h, 0, sizeof h);
    int bad = memchr(text, '\0', hlen) != NULL || parse_dict(text, hlen, &h) < 0;
    free(text);
    if (bad)
        return mlr_fail(e, "%s: bad .npy header (expected {'descr': ..., 'fortran_order': ..., "
                        "'shape': (...)})", name);
    if (check_header(&h, name, a, e) < 0) {
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

/* Reads exactly `need` bytes, growing the buffer as bytes arrive, then
 * makes sure nothing follows. */
static int read_data(FILE *fp, const char *name, mlr_array *a, mlr_err *e)
{
    size_t need = mlr_array_count(a) * mlr_dtype_size(a->dtype);
    size_t cap = need < (1u << 20) ? need : (1u << 20), have = 0;
    char *data = xmalloc(cap);
    while (have < need) {
        if (have == cap) {
            cap = cap > need / 2 ? need : 2 * cap;
            data = xrealloc(data, cap);
        }
        size_t k = fread(data + have, 1, cap - have, fp);
        have += k;
        if (k == 0)
            break;
    }
    char sh[100];
    size_t dims[2] = {a->shape[0], a->shape[1]};
    shape_str(dims, a->ndim, sh, sizeof sh);
    int err = ferror(fp) ? errno : 0;
    if (!err && have == need && fgetc(fp) != EOF) {
        free(data);
        return mlr_fail(e, "%s: shape disagrees with size: shape %s needs %zu bytes of data, found more",
                        name, sh, need);
    }
    if (err || ferror(fp) || have < need) {
        free(data);
        if (err || ferror(fp))
            return mlr_fail(e, "%s: read error: %s", name, strerror(err ? err : EIO));
        return mlr_fail(e, "%s: truncated: shape %s needs %zu bytes of data, found %zu", name, sh, need,
                        have);
    }
    a->data = data;
    return 0;
}

int mlr_npy_read(const char *path, int want, mlr_array *a, mlr_err *e)
{
    memset(a, 0, sizeof *a);
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    int st = mlr_npy_read_header(fp, name, a, e);
    if (st == 0 && want >= 0 && a->dtype != (mlr_dtype)want)
        st = mlr_fail(e, "%s: dtype '%s', expected '%s'", name, mlr_dtype_name(a->dtype),
                      mlr_dtype_name((mlr_dtype)want));
    if (st == 0)
        st = read_data(fp, name, a, e);
    if (!is_stdin)
        fclose(fp);
    if (st < 0)
        memset(a, 0, sizeof *a);
    return st;
}

/* ---- writing ---- */

/* Spaces pad the dict so the data starts at a multiple of 64 bytes, as
 * numpy does; the header ends with a LF. Our dicts are short, so always
 * format 1.0. */
int mlr_npy_write_header(FILE *fp, mlr_dtype t, int ndim, size_t rows, size_t cols)
{
    char dict[256], sh[100];
    size_t dims[2] = {rows, cols};
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     mlr_dtype_name(t), shape_str(dims, ndim == 1 ? 1 : 2, sh, sizeof sh));
    size_t len = (size_t)n, pre = 10;
    size_t total = (pre + len + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = total - pre;
    unsigned char head[12];
    memcpy(head, NPY_MAGIC, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    if (fwrite(head, 1, pre, fp) != pre || fwrite(dict, 1, len, fp) != len)
        return -1;
    for (size_t i = len; i + 1 < hlen; i++)
        if (putc(' ', fp) == EOF)
            return -1;
    return putc('\n', fp) == EOF ? -1 : 0;
}

int mlr_npy_write(const char *path, const mlr_array *a, mlr_err *e)
{
    mlr_out o;
    if (mlr_out_open(&o, path, e) < 0)
        return -1;
    size_t n = mlr_array_count(a), size = mlr_dtype_size(a->dtype);
    if (mlr_npy_write_header(o.fp, a->dtype, a->ndim, a->shape[0], a->shape[1]) < 0 ||
        (n && fwrite(a->data, size, n, o.fp) != n)) {
        int err = errno;
        mlr_out_abort(&o);
        return mlr_fail(e, "%s: write error: %s", path && strcmp(path, "-") ? path : "stdout",
                        strerror(err));
    }
    return mlr_out_commit(&o, e);
}
