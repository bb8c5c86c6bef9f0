/* test_npy.c: .npy round trips of each dtype, the header layout, each
 * refusal with its message, reading a pipe, random corruption of a good
 * file, and a cross-check with numpy itself (/usr/bin/python3) when it is
 * installed. */
#include "check.h"
#include "npy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_npy.XXXXXX";

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static const char *put(const char *name, const void *data, size_t n)
{
    const char *p = tpath(name);
    FILE *fp = fopen(p, "wb");
    if (fp) {
        fwrite(data, 1, n, fp);
        fclose(fp);
    }
    return p;
}

/* A .npy file with the given dict text (padded as numpy does) and `ndata`
 * bytes of data, so each refusal can be built by hand. */
static const char *put_npy(const char *name, const char *dict, size_t ndata)
{
    size_t len = strlen(dict), hlen = (10 + len + 1 + 63) / 64 * 64 - 10;
    size_t total = 10 + hlen + ndata;
    unsigned char *buf = xcalloc(total, 1);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memset(buf + 10, ' ', hlen);
    memcpy(buf + 10, dict, len);
    buf[10 + hlen - 1] = '\n';
    for (size_t i = 0; i < ndata; i++)
        buf[10 + hlen + i] = (unsigned char)i;
    const char *p = put(name, buf, total);
    free(buf);
    return p;
}

/* The error message of reading path, with the temporary directory removed. */
static const char *read_error(const char *path, int want)
{
    static mlr_err e;
    mlr_array a;
    if (mlr_npy_read(path, want, &a, &e) == 0) {
        mlr_array_free(&a);
        return "(no error)";
    }
    size_t k = strlen(tmpdir);
    if (strncmp(e.msg, tmpdir, k) == 0)
        memmove(e.msg, e.msg + k + 1, strlen(e.msg + k + 1) + 1);
    if (a.data)
        return "(data left after a failure)";
    return e.msg;
}

#define CHECK_REFUSED(path, want, msg) do { const char *got_ = read_error(path, want); \
    CHECKF(strcmp(got_, msg) == 0, "got '%s', wanted '%s'", got_, msg); } while (0)

static void fill(mlr_array *a)
{
    size_t n = mlr_array_count(a);
    for (size_t i = 0; i < n; i++) {
        if (a->dtype == MLR_F4)
            ((float *)a->data)[i] = (float)i * 0.5f - 3.25f;
        else if (a->dtype == MLR_I4)
            ((int32_t *)a->data)[i] = (int32_t)i * 1000 - 2147483000;
        else
            ((int64_t *)a->data)[i] = (int64_t)i * 4000000000LL - 9000000000000000000LL;
    }
}

static void test_dtypes(void)
{
    CHECK(mlr_dtype_size(MLR_F4) == 4 && mlr_dtype_size(MLR_I4) == 4 && mlr_dtype_size(MLR_I8) == 8);
    CHECK(strcmp(mlr_dtype_name(MLR_F4), "<f4") == 0 && strcmp(mlr_dtype_name(MLR_I8), "<i8") == 0);
    mlr_array a;
    mlr_array_alloc(&a, MLR_I4, 1, 7, 99);
    CHECK(a.ndim == 1 && a.shape[0] == 7 && a.shape[1] == 1 && mlr_array_count(&a) == 7);
    CHECK(((int32_t *)a.data)[6] == 0);
    mlr_array_free(&a);
    CHECK(a.data == NULL);
    mlr_array_free(&a);
    mlr_array_free(NULL);
}

static void test_round_trips(void)
{
    mlr_dtype types[] = {MLR_F4, MLR_I4, MLR_I8};
    size_t shapes[][3] = {{1, 5, 1}, {2, 4, 3}, {2, 1, 1}, {1, 0, 1}, {2, 0, 4}, {2, 3, 0}, {2, 300, 17}};
    for (size_t t = 0; t < 3; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            mlr_array a, b;
            mlr_err e;
            mlr_array_alloc(&a, types[t], (int)shapes[s][0], shapes[s][1], shapes[s][2]);
            fill(&a);
            const char *p = tpath("rt.npy");
            CHECKF(mlr_npy_write(p, &a, &e) == 0, "%s", e.msg);
            CHECKF(mlr_npy_read(p, (int)types[t], &b, &e) == 0, "%s", e.msg);
            CHECK(b.dtype == a.dtype && b.ndim == a.ndim);
            CHECK(b.shape[0] == a.shape[0] && b.shape[1] == a.shape[1]);
            size_t bytes = mlr_array_count(&a) * mlr_dtype_size(a.dtype);
            CHECK(bytes == 0 || memcmp(a.data, b.data, bytes) == 0);
            mlr_array_free(&a);
            mlr_array_free(&b);
        }
}

/* The exact bytes numpy writes: magic, version 1.0, a 64-aligned header
 * ending in LF, then the data. */
static void test_header_layout(void)
{
    mlr_array a;
    mlr_err e;
    mlr_array_alloc(&a, MLR_F4, 2, 3, 2);
    const char *p = tpath("layout.npy");
    CHECK(mlr_npy_write(p, &a, &e) == 0);
    mlr_array_free(&a);
    unsigned char buf[256];
    FILE *fp = fopen(p, "rb");
    CHECK(fp);
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    CHECK(n == 128 + 24);
    CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK(buf[8] + 256 * buf[9] == 118 && buf[127] == '\n');
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    CHECK(memcmp(buf + 10, dict, strlen(dict)) == 0);
    for (size_t i = 10 + strlen(dict); i < 127; i++)
        CHECK(buf[i] == ' ');
    /* 1-D shapes print as Python tuples */
    mlr_array_alloc(&a, MLR_I8, 1, 5, 0);
    CHECK(mlr_npy_write(p, &a, &e) == 0);
    mlr_array_free(&a);
    fp = fopen(p, "rb");
    n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    CHECKF(n == 128 + 40, "%zu bytes", n);
    CHECK(memcmp(buf + 10, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 57) == 0);
}

static void test_refusals(void)
{
    char sh[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (100, 3), }";
    CHECK_REFUSED(put("empty.npy", "", 0), -1, "empty.npy: empty file (expected a .npy array)");
    CHECK_REFUSED(put("magic.npy", "PK\x03\x04 not numpy", 15), -1, "magic.npy: not a .npy file (bad magic)");
    CHECK_REFUSED(put("short.npy", "\x93NUMPY\x01", 7), -1, "short.npy: truncated .npy header");
    CHECK_REFUSED(put("v3.npy", "\x93NUMPY\x03\x00\x10\x00", 10), -1,
                  "v3.npy: unsupported .npy format version 3.0 (mlrec reads 1.0 and 2.0)");
    CHECK_REFUSED(put("hdr.npy", "\x93NUMPY\x01\x00\x40\x00{'descr'", 18), -1, "hdr.npy: truncated .npy header");
    CHECK_REFUSED(put("big.npy", "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12), -1,
                  "big.npy: .npy header of 2147483647 bytes is too long (at most 65536)");
    CHECK_REFUSED(put_npy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16), -1,
                  "f8.npy: unsupported dtype '<f8' (mlrec reads <f4, <i4, <i8)");
    CHECK_REFUSED(put_npy("be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8), -1,
                  "be.npy: unsupported dtype '>f4' (mlrec reads <f4, <i4, <i8)");
    CHECK_REFUSED(put_npy("u1.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 2), -1,
                  "u1.npy: unsupported dtype '|u1' (mlrec reads <f4, <i4, <i8)");
    CHECK_REFUSED(put_npy("fo.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16), -1,
                  "fo.npy: fortran_order True is not supported (save in C order)");
    CHECK_REFUSED(put_npy("0d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4), -1,
                  "0d.npy: unsupported shape () (mlrec reads 1-D and 2-D arrays)");
    CHECK_REFUSED(put_npy("3d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96), -1,
                  "3d.npy: unsupported shape (2, 3, 4) (mlrec reads 1-D and 2-D arrays)");
    CHECK_REFUSED(put_npy("trunc.npy", sh, 400), -1,
                  "trunc.npy: truncated: shape (100, 3) needs 1200 bytes of data, found 400");
    CHECK_REFUSED(put_npy("extra.npy", sh, 1201), -1,
                  "extra.npy: shape disagrees with size: shape (100, 3) needs 1200 bytes of data, found more");
    CHECK(strcmp(read_error(put_npy("exact.npy", sh, 1200), -1), "(no error)") == 0);
    CHECK_REFUSED(put_npy("want.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8), MLR_F4,
                  "want.npy: dtype '<i4', expected '<f4'");
    CHECK_REFUSED(put_npy("huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8),
                  -1, "huge.npy: shape (4294967296, 4294967296) is too large");
    /* a shape far larger than the data only costs the bytes present */
    CHECK_REFUSED(put_npy("lie.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }", 8),
                  -1, "lie.npy: truncated: shape (1000000000000,) needs 8000000000000 bytes of data, found 8");
    CHECK_REFUSED("/nonexistent/x.npy", -1, "/nonexistent/x.npy: cannot open: No such file or directory");
}

static void test_bad_dicts(void)
{
    const char *bad[] = {
        "",
        "{}",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8, 9)}",
        "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}",
        "{\"descr\": '<f4', 'fortran_order': False, 'shape': (2,)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *got = read_error(put_npy("dict.npy", bad[i], 8), -1);
        CHECKF(strcmp(got, "dict.npy: bad .npy header (expected {'descr': ..., 'fortran_order': ..., "
                           "'shape': (...)})") == 0, "case %zu: %s", i, got);
    }
    /* what numpy accepts and we do too: any key order, double quotes, no
     * trailing comma, a Python 2 long, format 2.0 */
    const char *good[] = {
        "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}",
        "{'descr':'<f4','fortran_order':False,'shape':(1L, 2L)}",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECKF(strcmp(read_error(put_npy("ok.npy", good[i], 8), -1), "(no error)") == 0, "good %zu", i);
    unsigned char v2[128 + 8] = "\x93NUMPY\x02\x00\x74\x00\x00\x00{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}";
    memset(v2 + 12 + 55, ' ', 127 - 12 - 55);
    v2[127] = '\n';
    mlr_array a;
    mlr_err e;
    CHECKF(mlr_npy_read(put("v2.npy", v2, sizeof v2), MLR_I8, &a, &e) == 0, "%s", e.msg);
    mlr_array_free(&a);
}

/* Flips random bytes of a good file: any outcome but a crash (or a sanitizer
 * report) is fine, and a failure leaves no data behind. */
static void test_corruption(void)
{
    mlr_array a;
    mlr_err e;
    mlr_array_alloc(&a, MLR_F4, 2, 4, 3);
    const char *p = tpath("good.npy");
    CHECK(mlr_npy_write(p, &a, &e) == 0);
    mlr_array_free(&a);
    unsigned char orig[256], buf[256];
    FILE *fp = fopen(p, "rb");
    size_t n = fread(orig, 1, sizeof orig, fp);
    fclose(fp);
    mlr_rng r;
    mlr_rng_seed(&r, 1);
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, orig, n);
        int flips = 1 + (int)mlr_rng_below(&r, 4);
        for (int f = 0; f < flips; f++)
            buf[mlr_rng_below(&r, 80)] = (unsigned char)mlr_rng_u64(&r);
        size_t len = mlr_rng_below(&r, 8) == 0 ? mlr_rng_below(&r, n) : n;
        if (mlr_npy_read(put("bad.npy", buf, len), -1, &a, &e) == 0)
            mlr_array_free(&a);
        else
            CHECK(a.data == NULL && e.msg[0]);
    }
}

/* Streaming: header first, rows written and read by hand. */
static void test_streaming(void)
{
    const char *p = tpath("stream.npy");
    FILE *fp = fopen(p, "wb");
    CHECK(fp);
    CHECK(mlr_npy_write_header(fp, MLR_F4, 2, 3, 2) == 0);
    float rows[6] = {1, 2, 3, 4, 5, 6};
    CHECK(fwrite(rows, sizeof *rows, 6, fp) == 6);
    fclose(fp);
    mlr_array a;
    mlr_err e;
    fp = fopen(p, "rb");
    CHECK(mlr_npy_read_header(fp, "stream.npy", &a, &e) == 0);
    CHECK(a.data == NULL && a.dtype == MLR_F4 && a.shape[0] == 3 && a.shape[1] == 2);
    float row[2];
    CHECK(fread(row, sizeof *row, 2, fp) == 2 && row[0] == 1 && row[1] == 2);
    fclose(fp);
    fp = fopen(tpath("nothing"), "wb+");
    CHECK(mlr_npy_read_header(fp, "nothing", &a, &e) == -1);
    CHECK(strcmp(e.msg, "nothing: empty file (expected a .npy array)") == 0);
    fclose(fp);
}

/* Reads path through a pipe on stdin, as `mlr-x < a | mlr-y -` would. */
static void test_stdin_pipe(void)
{
    mlr_array a, b;
    mlr_err e;
    mlr_array_alloc(&a, MLR_I4, 2, 1000, 7); /* bigger than a pipe buffer */
    fill(&a);
    const char *p = tpath("pipe.npy");
    CHECK(mlr_npy_write(p, &a, &e) == 0);
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        FILE *fp = fopen(p, "rb");
        char buf[4096];
        size_t n;
        while (fp && (n = fread(buf, 1, sizeof buf, fp)) > 0)
            if (write(fds[1], buf, n) < 0)
                break;
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(0);
    dup2(fds[0], 0);
    close(fds[0]);
    int st = mlr_npy_read("-", MLR_I4, &b, &e);
    dup2(saved, 0);
    close(saved);
    clearerr(stdin);
    waitpid(pid, NULL, 0);
    CHECKF(st == 0, "%s", e.msg);
    CHECK(b.shape[0] == 1000 && b.shape[1] == 7 && memcmp(a.data, b.data, 28000) == 0);
    mlr_array_free(&a);
    mlr_array_free(&b);
}

static int have_numpy(void)
{
    return access("/usr/bin/python3", X_OK) == 0 &&
           system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* Output of a python one-liner, NUL-terminated in out. */
static int python(const char *code, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && /usr/bin/python3 -c \"%s\" 2>&1", tmpdir, code);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t k = fread(out, 1, n - 1, p);
    out[k] = '\0';
    return pclose(p);
}

static void test_numpy_reads_ours(void)
{
    if (!have_numpy()) {
        printf("SKIP test_numpy_reads_ours: /usr/bin/python3 has no numpy\n");
        return;
    }
    mlr_array f, i, l;
    mlr_err e;
    mlr_array_alloc(&f, MLR_F4, 2, 3, 2);
    mlr_array_alloc(&i, MLR_I4, 1, 4, 0);
    mlr_array_alloc(&l, MLR_I8, 2, 2, 2);
    fill(&f);
    fill(&i);
    fill(&l);
    CHECK(mlr_npy_write(tpath("f.npy"), &f, &e) == 0);
    CHECK(mlr_npy_write(tpath("i.npy"), &i, &e) == 0);
    CHECK(mlr_npy_write(tpath("l.npy"), &l, &e) == 0);
    mlr_array_free(&f);
    mlr_array_free(&i);
    mlr_array_free(&l);
    char out[2048];
    int st = python("import numpy as np\n"
                    "for n in 'fil':\n"
                    "    a = np.load(n + '.npy')\n"
                    "    print(a.dtype.str, a.shape, a.flags.c_contiguous, a.ravel().tolist())\n"
                    "    np.save(n + '_ref.npy', a)\n"
                    "    print(open(n + '.npy', 'rb').read() == open(n + '_ref.npy', 'rb').read())\n",
                    out, sizeof out);
    CHECKF(st == 0, "python: %s", out);
    const char *want =
        "<f4 (3, 2) True [-3.25, -2.75, -2.25, -1.75, -1.25, -0.75]\nTrue\n"
        "<i4 (4,) True [-2147483000, -2147482000, -2147481000, -2147480000]\nTrue\n"
        "<i8 (2, 2) True [-9000000000000000000, -8999999996000000000, -8999999992000000000, "
        "-8999999988000000000]\nTrue\n"; /* True: numpy writes the very same bytes */
    CHECKF(strcmp(out, want) == 0, "numpy printed:\n%s", out);
}

static void test_we_read_numpy(void)
{
    if (!have_numpy()) {
        printf("SKIP test_we_read_numpy: /usr/bin/python3 has no numpy\n");
        return;
    }
    char out[2048];
    int st = python("import numpy as np\n"
                    "np.save('nf.npy', np.arange(12, dtype='<f4').reshape(4, 3) / 4)\n"
                    "np.save('ni.npy', np.arange(5, dtype='<i4') - 2)\n"
                    "np.save('nl.npy', np.array([[2**40, -1], [7, 2**62]], dtype='<i8'))\n"
                    "np.save('nd.npy', np.zeros(3))\n"
                    "np.save('nfo.npy', np.asfortranarray(np.ones((2, 3), dtype='<f4')))\n"
                    "np.save('n3.npy', np.zeros((2, 2, 2), dtype='<f4'))\n"
                    "np.save('ne.npy', np.zeros((0, 5), dtype='<f4'))\n",
                    out, sizeof out);
    CHECKF(st == 0, "python: %s", out);
    mlr_array a;
    mlr_err e;
    CHECKF(mlr_npy_read(tpath("nf.npy"), MLR_F4, &a, &e) == 0, "%s", e.msg);
    CHECK(a.ndim == 2 && a.shape[0] == 4 && a.shape[1] == 3);
    for (int k = 0; k < 12; k++)
        CHECK(((float *)a.data)[k] == (float)k / 4);
    mlr_array_free(&a);
    CHECKF(mlr_npy_read(tpath("ni.npy"), MLR_I4, &a, &e) == 0, "%s", e.msg);
    CHECK(a.ndim == 1 && a.shape[0] == 5 && ((int32_t *)a.data)[0] == -2 && ((int32_t *)a.data)[4] == 2);
    mlr_array_free(&a);
    CHECKF(mlr_npy_read(tpath("nl.npy"), MLR_I8, &a, &e) == 0, "%s", e.msg);
    int64_t *l = a.data;
    CHECK(l[0] == 1LL << 40 && l[1] == -1 && l[2] == 7 && l[3] == 1LL << 62);
    mlr_array_free(&a);
    CHECKF(mlr_npy_read(tpath("ne.npy"), MLR_F4, &a, &e) == 0, "%s", e.msg);
    CHECK(a.shape[0] == 0 && a.shape[1] == 5);
    mlr_array_free(&a);
    CHECK(mlr_npy_read(tpath("nd.npy"), -1, &a, &e) == -1 && strstr(e.msg, "unsupported dtype '<f8'"));
    CHECK(mlr_npy_read(tpath("nfo.npy"), -1, &a, &e) == -1 && strstr(e.msg, "fortran_order True"));
    CHECK(mlr_npy_read(tpath("n3.npy"), -1, &a, &e) == -1 && strstr(e.msg, "unsupported shape (2, 2, 2)"));
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_dtypes);
    RUN(test_round_trips);
    RUN(test_header_layout);
    RUN(test_refusals);
    RUN(test_bad_dicts);
    RUN(test_corruption);
    RUN(test_streaming);
    RUN(test_stdin_pipe);
    RUN(test_numpy_reads_ours);
    RUN(test_we_read_numpy);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_status();
}
