/* test_table_fast.c: the reader's speed paths give what the slow paths
 * give: plain decimals parsed without strtod bit-identical to
 * mlr_parse_double (random and edge values), plain integers to
 * mlr_parse_long, refusals unchanged; and mlr_reader_row_tsv rebuilds each
 * TSV line byte for byte (joins other input with TAB). */
#include "check.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_table_fast.XXXXXX";

/* A file holding "x\n" then one line per value; returns its path. */
static const char *write_column(const char *name, const char *const *vals, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return "/nonexistent";
    fputs("x\n", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%s\n", vals[i]);
    fclose(fp);
    return path;
}

/* Each value through the reader and through mlr_parse_double/long: same
 * status, same bits. Returns the index of the first difference, or n. */
static size_t first_mismatch(const char *const *vals, size_t n, int integer)
{
    char path[600];
    mlr_err e;
    mlr_reader *r = mlr_reader_open(write_column("v.tsv", vals, n, path, sizeof path), NULL, &e);
    if (!r)
        return 0;
    size_t i = 0;
    for (; i < n && mlr_reader_next(r, &e) == 1; i++) {
        double a = 0, b = 0;
        long la = 0, lb = 0;
        int sa, sb;
        if (integer) {
            sa = mlr_reader_long(r, 0, &la, &e);
            sb = mlr_parse_long(vals[i], &lb);
        } else {
            sa = mlr_reader_double(r, 0, &a, &e);
            sb = mlr_parse_double(vals[i], &b);
        }
        if (sa != sb || (sa == 0 && (integer ? la != lb : memcmp(&a, &b, sizeof a) != 0)))
            break;
    }
    mlr_reader_close(r);
    return i;
}

static void test_edge_decimals(void)
{
    static const char *const v[] = {
        "0", "-0", "5", "4.5", "-3.25", "0.1", "0.3", "007", "1.", ".5", "-", "-.", "1.2.3",
        "999999999999999", "9999999999999999", "0.000000000000001", "123456789.012345",
        "1234567890.123456", "1e5", "+5", "nan", "inf", "1 ", "abc", "",
        "3.14159265358979", "-2.718281828459", "978307200", "1000000000000000"};
    size_t n = sizeof v / sizeof *v, k = first_mismatch(v, n, 0);
    CHECKF(k == n, "value '%s' differs", k < n ? v[k] : "");
}

static void test_random_decimals(void)
{
    enum { N = 20000 };
    static char buf[N][32];
    const char *v[N];
    mlr_rng r;
    mlr_rng_seed(&r, 7);
    for (size_t i = 0; i < N; i++) {
        int digits = 1 + (int)mlr_rng_below(&r, 15), frac = (int)mlr_rng_below(&r, (uint64_t)digits);
        char *p = buf[i];
        if (mlr_rng_below(&r, 4) == 0)
            *p++ = '-';
        for (int d = 0; d < digits; d++) {
            if (frac && d == digits - frac)
                *p++ = '.';
            *p++ = (char)('0' + mlr_rng_below(&r, 10));
        }
        *p = '\0';
        v[i] = buf[i];
    }
    size_t k = first_mismatch(v, N, 0);
    CHECKF(k == N, "value '%s' differs", k < N ? v[k] : "");
}

static void test_integers(void)
{
    static const char *const v[] = {
        "0", "-0", "42", "-17", "007", "999999999999999999", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "+3", "1.0",
        "", "-", "12a", "1e3"};
    size_t n = sizeof v / sizeof *v, k = first_mismatch(v, n, 1);
    CHECKF(k == n, "value '%s' differs", k < n ? v[k] : "");
}

/* The row text of each line equals the line; messages still name the line. */
static void test_row_tsv(void)
{
    char path[600];
    static const char *const lines[] = {"a\tb\tc", "\t\t", "x\t\ty", "one\ttwo\tthree"};
    snprintf(path, sizeof path, "%s/rows.tsv", tmpdir);
    FILE *fp = fopen(path, "w");
    CHECK(fp);
    fputs("h1\th2\th3\n", fp);
    for (size_t i = 0; i < 4; i++)
        fprintf(fp, "%s\n", lines[i]);
    fclose(fp);
    mlr_err e;
    mlr_reader *r = mlr_reader_open(path, NULL, &e);
    CHECK(r);
    for (size_t i = 0; i < 4; i++) {
        CHECK(mlr_reader_next(r, &e) == 1);
        char *buf = malloc(mlr_reader_row_size(r));
        size_t len = mlr_reader_row_tsv(r, buf);
        int ok = len == strlen(lines[i]) && memcmp(buf, lines[i], len) == 0;
        CHECK(strcmp(mlr_reader_field(r, 0), lines[i][0] == '\t' ? "" : mlr_reader_field(r, 0)) == 0);
        free(buf);
        CHECKF(ok, "line %zu", i + 2);
    }
    CHECK(mlr_reader_next(r, &e) == 0);
    mlr_reader_close(r);
}

static void test_row_csv_joined(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/rows.csv", tmpdir);
    FILE *fp = fopen(path, "w");
    CHECK(fp);
    fputs("a,b\n\"x,y\",z\n", fp);
    fclose(fp);
    mlr_read_opts o = mlr_read_defaults();
    o.csv = 1;
    mlr_err e;
    mlr_reader *r = mlr_reader_open(path, &o, &e);
    CHECK(r);
    CHECK(mlr_reader_next(r, &e) == 1);
    char buf[64];
    CHECK(mlr_reader_row_size(r) <= sizeof buf);
    size_t len = mlr_reader_row_tsv(r, buf);
    mlr_reader_close(r);
    CHECK(len == 5 && memcmp(buf, "x,y\tz", 5) == 0);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("FAIL mkdtemp\n");
        return 1;
    }
    RUN(test_edge_decimals);
    RUN(test_random_decimals);
    RUN(test_integers);
    RUN(test_row_tsv);
    RUN(test_row_csv_joined);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("FAIL cleanup\n");
    return check_status();
}
