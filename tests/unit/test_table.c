/* test_table.c: the row reader of lib/table.c on small files written to a
 * temporary directory: good TSV, CSV and headerless input, and each kind of
 * bad input with its exact message. With MLR_DATA_DIR set, also reads the
 * real MovieLens files end to end. */
#include "check.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_table.XXXXXX";
static char path_[512];

/* Writes n bytes to a fresh file in tmpdir and returns its path. */
static const char *put(const char *name, const char *data, size_t n)
{
    snprintf(path_, sizeof path_, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path_, "wb");
    if (!fp)
        return "/nonexistent/dir/x";
    fwrite(data, 1, n, fp);
    fclose(fp);
    return path_;
}

static const char *puts_(const char *name, const char *text)
{
    return put(name, text, strlen(text));
}

static mlr_read_opts csv_opts(void)
{
    mlr_read_opts o = mlr_read_defaults();
    o.csv = 1;
    return o;
}

/* Reads every row of path; returns the status of the failing call (or of the
 * open) and leaves its message in e. */
static int read_all(const char *path, const mlr_read_opts *o, mlr_err *e, long *rows)
{
    mlr_reader *r = mlr_reader_open(path, o, e);
    if (!r)
        return -1;
    int st;
    *rows = 0;
    while ((st = mlr_reader_next(r, e)) == 1)
        (*rows)++;
    mlr_reader_close(r);
    return st;
}

/* The message of reading name/text with opts, with tmpdir/ removed from it. */
static const char *error_of(const char *name, const char *text, size_t n, const mlr_read_opts *o)
{
    static mlr_err e;
    long rows;
    const char *p = put(name, text, n);
    if (read_all(p, o, &e, &rows) != -1)
        return "(no error)";
    size_t k = strlen(tmpdir);
    if (strncmp(e.msg, tmpdir, k) == 0)
        memmove(e.msg, e.msg + k + 1, strlen(e.msg + k + 1) + 1);
    return e.msg;
}

#define CHECK_ERROR(name, text, opts, want) do { \
    const char *got_ = error_of(name, text, sizeof text - 1, opts); \
    CHECKF(strcmp(got_, want) == 0, "got '%s', wanted '%s'", got_, want); } while (0)

static void test_tsv_good(void)
{
    mlr_err e;
    const char *p = puts_("good.tsv", "user_id\titem_id\trating\nu1\ti1\t4.5\nu2\t\t3");
    mlr_reader *r = mlr_reader_open(p, NULL, &e);
    CHECK(r);
    CHECK(mlr_reader_ncols(r) == 3);
    CHECK(strcmp(mlr_reader_colname(r, 2), "rating") == 0);
    CHECK(mlr_reader_colname(r, 3) == NULL);
    CHECK(mlr_reader_col(r, "item_id") == 1 && mlr_reader_col(r, "nope") == -1);
    CHECK(mlr_reader_require(r, "rating", &e) == 2);
    CHECK(strcmp(mlr_reader_path(r), p) == 0);
    CHECK(mlr_reader_next(r, &e) == 1);
    CHECK(mlr_reader_line(r) == 2 && mlr_reader_nfields(r) == 3);
    CHECK(strcmp(mlr_reader_field(r, 0), "u1") == 0 && mlr_reader_field_len(r, 0) == 2);
    double d;
    CHECK(mlr_reader_double(r, 2, &d, &e) == 0 && d == 4.5);
    CHECK(mlr_reader_next(r, &e) == 1); /* last line without LF */
    CHECK(mlr_reader_line(r) == 3);
    CHECK(strcmp(mlr_reader_field(r, 1), "") == 0 && mlr_reader_field_len(r, 1) == 0);
    CHECK(strcmp(mlr_reader_field(r, 2), "3") == 0);
    long l;
    CHECK(mlr_reader_long(r, 2, &l, &e) == 0 && l == 3);
    CHECK(mlr_reader_field(r, 3) == NULL);
    CHECK(mlr_reader_next(r, &e) == 0);
    CHECK(mlr_reader_next(r, &e) == 0);
    mlr_reader_close(r);
    mlr_reader_close(NULL);
}

static void test_header_only_and_bom(void)
{
    mlr_err e;
    long rows = -1;
    CHECK(read_all(puts_("h.tsv", "a\tb\n"), NULL, &e, &rows) == 0 && rows == 0);
    mlr_reader *r = mlr_reader_open(puts_("bom.tsv", "\xEF\xBB\xBFuser_id\tx\n1\t2\n"), NULL, &e);
    CHECK(r);
    CHECK(mlr_reader_col(r, "user_id") == 0);
    mlr_reader_close(r);
}

static void test_tsv_errors(void)
{
    mlr_read_opts d = mlr_read_defaults();
    CHECK_ERROR("empty.tsv", "", &d, "empty.tsv: empty file (expected a header line)");
    CHECK_ERROR("dup.tsv", "x\ty\tx\n1\t2\t3\n", &d, "dup.tsv:1: duplicate column 'x'");
    CHECK_ERROR("blank.tsv", "x\t\ty\n", &d, "blank.tsv:1: empty column name (column 2)");
    CHECK_ERROR("short.tsv", "a\tb\n1\t2\n3\n", &d, "short.tsv:3: expected 2 fields, found 1");
    CHECK_ERROR("long.tsv", "a\tb\n1\t2\t3\n", &d, "long.tsv:2: expected 2 fields, found 3");
    CHECK_ERROR("emptyline.tsv", "a\tb\n1\t2\n\n", &d, "emptyline.tsv:3: expected 2 fields, found 1");
    CHECK_ERROR("crlf.tsv", "a\tb\r\n1\t2\r\n", &d,
                "crlf.tsv:1: CR before LF (CRLF line ends); convert with: tr -d '\\r'");
    CHECK_ERROR("crlf2.tsv", "a\tb\n1\t2\r\n", &d,
                "crlf2.tsv:2: CR before LF (CRLF line ends); convert with: tr -d '\\r'");
    CHECK_ERROR("utf8.tsv", "a\tb\n1\t\xC3\x28\n", &d, "utf8.tsv:2: invalid UTF-8");
    CHECK_ERROR("latin1.tsv", "a\tb\nx\tcaf\xE9\n", &d, "latin1.tsv:2: invalid UTF-8");
    CHECK_ERROR("nul.tsv", "a\tb\n1\t2\n3\0\t4\n", &d, "nul.tsv:3: NUL byte in line");
    CHECK_ERROR("nulhdr.tsv", "a\0b\n", &d, "nulhdr.tsv:1: NUL byte in line");
    mlr_err e;
    long rows;
    CHECK(read_all("/nonexistent/x.tsv", NULL, &e, &rows) == -1);
    CHECKF(strcmp(e.msg, "/nonexistent/x.tsv: cannot open: No such file or directory") == 0, "%s", e.msg);
    CHECK(read_all(tmpdir, NULL, &e, &rows) == -1);
    CHECKF(strstr(e.msg, ": read error: Is a directory") != NULL, "%s", e.msg);
}

static void test_error_is_sticky(void)
{
    mlr_err e;
    mlr_reader *r = mlr_reader_open(puts_("sticky.tsv", "a\tb\n1\n2\t3\n"), NULL, &e);
    CHECK(r);
    CHECK(mlr_reader_next(r, &e) == -1);
    CHECK(strstr(e.msg, "sticky.tsv:2: expected 2 fields, found 1"));
    e.msg[0] = '\0';
    CHECK(mlr_reader_next(r, &e) == -1);
    CHECK(strstr(e.msg, "sticky.tsv:2: expected 2 fields, found 1"));
    mlr_reader_close(r);
}

static void test_require_and_numbers(void)
{
    mlr_err e;
    mlr_reader *r = mlr_reader_open(puts_("num.tsv", "item_id\trating\tn\nx\tabc\t1.5\n"), NULL, &e);
    CHECK(r);
    CHECK(mlr_reader_require(r, "user_id", &e) == -1);
    CHECKF(strstr(e.msg, "num.tsv: no column 'user_id' in the header") != NULL, "%s", e.msg);
    CHECK(mlr_reader_next(r, &e) == 1);
    double d;
    long l;
    CHECK(mlr_reader_double(r, 1, &d, &e) == -1);
    CHECKF(strstr(e.msg, "num.tsv:2: column 'rating': 'abc' is not a number") != NULL, "%s", e.msg);
    CHECK(mlr_reader_long(r, 2, &l, &e) == -1);
    CHECKF(strstr(e.msg, "num.tsv:2: column 'n': '1.5' is not an integer") != NULL, "%s", e.msg);
    CHECK(mlr_reader_double(r, 9, &d, &e) == -1);
    mlr_reader_close(r);
}

static void test_long_lines(void)
{
    size_t big = 1500000;
    char *text = xmalloc(big + 100);
    size_t n = (size_t)sprintf(text, "id\tblob\n1\t");
    memset(text + n, 'x', big);
    n += big;
    n += (size_t)sprintf(text + n, "\n2\tshort\n");
    mlr_err e;
    mlr_reader *r = mlr_reader_open(put("big.tsv", text, n), NULL, &e);
    CHECK(r);
    CHECK(mlr_reader_next(r, &e) == 1);
    CHECK(mlr_reader_field_len(r, 1) == big && mlr_reader_field(r, 1)[big - 1] == 'x');
    CHECK(mlr_reader_next(r, &e) == 1 && strcmp(mlr_reader_field(r, 1), "short") == 0);
    CHECK(mlr_reader_line(r) == 3);
    CHECK(mlr_reader_next(r, &e) == 0);
    mlr_reader_close(r);

    /* the same as a quoted CSV field with a comma and a newline inside */
    n = (size_t)sprintf(text, "id,blob\n1,\"a,\n");
    memset(text + n, 'y', big);
    n += big;
    n += (size_t)sprintf(text + n, "\"\n2,b\n");
    mlr_read_opts o = csv_opts();
    r = mlr_reader_open(put("big.csv", text, n), &o, &e);
    free(text);
    CHECK(r);
    CHECK(mlr_reader_next(r, &e) == 1);
    CHECK(mlr_reader_field_len(r, 1) == big + 3 && strncmp(mlr_reader_field(r, 1), "a,\nyy", 5) == 0);
    CHECK(mlr_reader_line(r) == 2);
    CHECK(mlr_reader_next(r, &e) == 1 && mlr_reader_line(r) == 4);
    CHECK(mlr_reader_next(r, &e) == 0);
    mlr_reader_close(r);
}

static void test_csv_good(void)
{
    mlr_err e;
    mlr_read_opts o = csv_opts();
    const char *p = puts_("movies.csv",
                          "movieId,title,genres\r\n"
                          "1,Toy Story (1995),Adventure|Animation\r\n"
                          "11,\"American President, The (1995)\",Comedy|Drama\r\n"
                          "7789,\"11'09\"\"01 - September 11 (2002)\",Drama\r\n"
                          "5, spaced ,\"multi\nline\"\r\n"
                          "6,,\"\"");
    mlr_reader *r = mlr_reader_open(p, &o, &e);
    CHECKF(r, "%s", e.msg);
    CHECK(mlr_reader_ncols(r) == 3 && mlr_reader_col(r, "genres") == 2);
    CHECK(mlr_reader_next(r, &e) == 1 && strcmp(mlr_reader_field(r, 1), "Toy Story (1995)") == 0);
    CHECK(mlr_reader_line(r) == 2);
    CHECK(mlr_reader_next(r, &e) == 1);
    CHECK(strcmp(mlr_reader_field(r, 1), "American President, The (1995)") == 0);
    CHECK(strcmp(mlr_reader_field(r, 2), "Comedy|Drama") == 0);
    CHECK(mlr_reader_next(r, &e) == 1);
    CHECK(strcmp(mlr_reader_field(r, 1), "11'09\"01 - September 11 (2002)") == 0);
    CHECK(mlr_reader_next(r, &e) == 1 && mlr_reader_line(r) == 5);
    CHECK(strcmp(mlr_reader_field(r, 1), " spaced ") == 0);
    CHECK(strcmp(mlr_reader_field(r, 2), "multi\nline") == 0);
    CHECK(mlr_reader_next(r, &e) == 1 && mlr_reader_line(r) == 7);
    CHECK(strcmp(mlr_reader_field(r, 1), "") == 0 && strcmp(mlr_reader_field(r, 2), "") == 0);
    CHECK(mlr_reader_next(r, &e) == 0);
    mlr_reader_close(r);

    /* another delimiter with quoting */
    o.delim = ';';
    r = mlr_reader_open(puts_("semi.csv", "a;b\n\"x;y\";2\n"), &o, &e);
    CHECK(r);
    CHECK(mlr_reader_next(r, &e) == 1 && strcmp(mlr_reader_field(r, 0), "x;y") == 0);
    mlr_reader_close(r);
}

static void test_csv_errors(void)
{
    mlr_read_opts o = csv_opts();
    CHECK_ERROR("unclosed.csv", "a,b\n1,2\n3,\"open\n4,5\n", &o, "unclosed.csv:3: unclosed quote");
    CHECK_ERROR("empty.csv", "", &o, "empty.csv: empty file (expected a header line)");
    CHECK_ERROR("dup.csv", "x,y,x\n", &o, "dup.csv:1: duplicate column 'x'");
    CHECK_ERROR("short.csv", "a,b\n1,2\n\"3\n\"\n", &o, "short.csv:3: expected 2 fields, found 1");
    CHECK_ERROR("utf8.csv", "a,b\n1,\"\xED\xA0\x80\"\n", &o, "utf8.csv:2: invalid UTF-8");
    CHECK_ERROR("nul.csv", "a,b\n1,\"2\0\"\n", &o, "nul.csv:2: NUL byte in line");
    const char *got = error_of("junk.csv", "a,b\n1,\"2\"x\n", 11, &o);
    CHECKF(strncmp(got, "junk.csv:2: bad CSV quoting", 27) == 0, "%s", got);
}

static void test_headerless(void)
{
    mlr_err e;
    mlr_read_opts o = mlr_read_defaults();
    o.header = 0;
    mlr_reader *r = mlr_reader_open(puts_("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"), &o, &e);
    CHECK(r);
    CHECK(mlr_reader_ncols(r) == 0 && mlr_reader_colname(r, 0) == NULL);
    CHECK(mlr_reader_next(r, &e) == 1 && mlr_reader_ncols(r) == 4 && mlr_reader_line(r) == 1);
    long l;
    CHECK(mlr_reader_long(r, 3, &l, &e) == 0 && l == 881250949);
    CHECK(mlr_reader_next(r, &e) == 1 && strcmp(mlr_reader_field(r, 0), "186") == 0);
    CHECK(mlr_reader_next(r, &e) == 0);
    mlr_reader_close(r);

    o.delim = '|';
    o.check_utf8 = 0;
    r = mlr_reader_open(puts_("u.item", "1|Caf\xE9 (1995)|x\n2|B|y\n"), &o, &e);
    CHECK(r);
    CHECK(mlr_reader_next(r, &e) == 1 && strcmp(mlr_reader_field(r, 1), "Caf\xE9 (1995)") == 0);
    char out[64];
    mlr_latin1_to_utf8(mlr_reader_field(r, 1), mlr_reader_field_len(r, 1), out);
    CHECK(strcmp(out, "Caf\xC3\xA9 (1995)") == 0);
    mlr_reader_close(r);

    CHECK_ERROR("ragged", "1|2|3\n4|5\n", &o, "ragged:2: expected 3 fields, found 2");
    long rows = -1;
    CHECK(read_all(puts_("nothing", ""), &o, &e, &rows) == 0 && rows == 0);
}

static void test_headerless_number_message(void)
{
    mlr_err e;
    mlr_read_opts o = mlr_read_defaults();
    o.header = 0;
    mlr_reader *r = mlr_reader_open(puts_("hn.tsv", "a\tb\n"), &o, &e);
    CHECK(r && mlr_reader_next(r, &e) == 1);
    double d;
    CHECK(mlr_reader_double(r, 1, &d, &e) == -1);
    CHECKF(strstr(e.msg, "hn.tsv:1: column 2: 'b' is not a number") != NULL, "%s", e.msg);
    mlr_reader_close(r);
}

static void test_stdin(void)
{
    const char *p = puts_("in.tsv", "a\tb\n1\n");
    FILE *fp = fopen(p, "rb");
    CHECK(fp);
    int saved = dup(0);
    dup2(fileno(fp), 0);
    fclose(fp);
    mlr_err e;
    mlr_reader *r = mlr_reader_open("-", NULL, &e);
    int st = r ? mlr_reader_next(r, &e) : 9;
    const char *name = r ? mlr_reader_path(r) : "";
    int name_ok = strcmp(name, "stdin") == 0;
    mlr_reader_close(r);
    dup2(saved, 0);
    close(saved);
    CHECK(name_ok);
    CHECK(st == -1);
    CHECKF(strcmp(e.msg, "stdin:2: expected 2 fields, found 1") == 0, "%s", e.msg);
}

static void test_utf8(void)
{
    struct { const char *s; int ok; } cases[] = {
        {"plain ascii text, long enough for the fast path", 1},
        {"caf\xC3\xA9", 1},
        {"\xE2\x82\xAC euro", 1},
        {"\xF0\x9F\x8E\xAC clapper", 1},
        {"\xF4\x8F\xBF\xBF", 1},      /* U+10FFFF */
        {"\xED\x9F\xBF", 1},          /* U+D7FF */
        {"\xC0\x80", 0},              /* overlong NUL */
        {"\xC1\xBF", 0},              /* overlong */
        {"\xE0\x80\x80", 0},          /* overlong */
        {"\xE0\x9F\xBF", 0},          /* overlong */
        {"\xF0\x8F\xBF\xBF", 0},      /* overlong */
        {"\xED\xA0\x80", 0},          /* surrogate U+D800 */
        {"\xED\xBF\xBF", 0},          /* surrogate U+DFFF */
        {"\xF4\x90\x80\x80", 0},      /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 0},
        {"\xFF", 0},
        {"\x80", 0},                  /* lone continuation */
        {"abcdefgh\xC3", 0},          /* truncated at the end */
        {"\xE2\x82", 0},
        {"\xE2\x28\xA1", 0},
        {"\xF0\x9F\x8E\x41", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECKF(mlr_utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "case %zu", i);
    CHECK(mlr_utf8_valid("", 0));
    /* every Latin-1 byte converts to valid UTF-8 */
    char in[256], out[513];
    for (int i = 0; i < 255; i++)
        in[i] = (char)(i + 1);
    mlr_latin1_to_utf8(in, 255, out);
    CHECK(strlen(out) == 127 + 2 * 128 && mlr_utf8_valid(out, strlen(out)));
}

static void test_writing(void)
{
    char s[] = "a\tb\nc\rd";
    mlr_tsv_clean(s);
    CHECK(strcmp(s, "a b c d") == 0);
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    const char *row[] = {"x", "", "z"};
    mlr_tsv_write_row(fp, 3, row);
    mlr_tsv_write_row(fp, 1, row);
    fclose(fp);
    CHECK(strcmp(buf, "x\t\tz\nx\n") == 0);
    free(buf);
}

/* The real data sets, when present: row and column counts, a quoted title. */
static void test_real_data(void)
{
    const char *dir = getenv("MLR_DATA_DIR");
    char p[1024];
    if (!dir) {
        printf("SKIP test_real_data: MLR_DATA_DIR is not set\n");
        return;
    }
    mlr_err e;
    long rows;
    mlr_read_opts o = csv_opts();
    snprintf(p, sizeof p, "%s/ml-latest-small/movies.csv", dir);
    if (access(p, R_OK) == 0) {
        mlr_reader *r = mlr_reader_open(p, &o, &e);
        CHECKF(r, "%s", e.msg);
        int title = mlr_reader_require(r, "title", &e), seen = 0;
        CHECK(title == 1);
        int st;
        for (rows = 0; (st = mlr_reader_next(r, &e)) == 1; rows++)
            seen |= strcmp(mlr_reader_field(r, 1), "American President, The (1995)") == 0;
        mlr_reader_close(r);
        CHECKF(st == 0, "%s", e.msg);
        CHECKF(rows == 9742 && seen, "rows %ld", rows);
        snprintf(p, sizeof p, "%s/ml-latest-small/ratings.csv", dir);
        CHECK(read_all(p, &o, &e, &rows) == 0 && rows == 100836);
        snprintf(p, sizeof p, "%s/ml-latest-small/tags.csv", dir);
        CHECKF(read_all(p, &o, &e, &rows) == 0 && rows == 3683, "%s", e.msg);
    }
    o = mlr_read_defaults();
    o.header = 0;
    snprintf(p, sizeof p, "%s/ml-100k/u.data", dir);
    if (access(p, R_OK) == 0) {
        CHECK(read_all(p, &o, &e, &rows) == 0 && rows == 100000);
        o.delim = '|';
        o.check_utf8 = 0;
        snprintf(p, sizeof p, "%s/ml-100k/u.item", dir);
        CHECK(read_all(p, &o, &e, &rows) == 0 && rows == 1682);
        snprintf(p, sizeof p, "%s/ml-100k/u.user", dir);
        CHECK(read_all(p, &o, &e, &rows) == 0 && rows == 943);
    }
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_tsv_good);
    RUN(test_header_only_and_bom);
    RUN(test_tsv_errors);
    RUN(test_error_is_sticky);
    RUN(test_require_and_numbers);
    RUN(test_long_lines);
    RUN(test_csv_good);
    RUN(test_csv_errors);
    RUN(test_headerless);
    RUN(test_headerless_number_message);
    RUN(test_stdin);
    RUN(test_utf8);
    RUN(test_writing);
    RUN(test_real_data);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_status();
}
