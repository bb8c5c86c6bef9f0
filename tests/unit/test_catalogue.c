/* test_catalogue.c: lib/catalogue, the item catalogue every tool loads:
 * a good catalogue.tsv, one without title or genre columns, repeated
 * items (the first row wins, every text interned), and each broken input
 * with its exact one-line message: no item_id column, an empty id, a
 * short row, bad UTF-8, an empty file, no file. */
#include "catalogue.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_catalogue.XXXXXX";
static char path_[512];

/* Writes text to a fresh file in tmpdir and returns its path. */
static const char *put(const char *name, const char *text)
{
    snprintf(path_, sizeof path_, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path_, "wb");
    if (!fp)
        return "/nonexistent/dir/x";
    fputs(text, fp);
    fclose(fp);
    return path_;
}

/* The message of reading name/text, tmpdir/ removed from it; "(no
 * error)" when it read. The catalogue is freed either way. */
static const char *error_of(const char *name, const char *text)
{
    static mlr_err e;
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    int rc = mlr_catalogue_read(&c, put(name, text), &e);
    mlr_catalogue_free(&c);
    if (rc == 0)
        return "(no error)";
    size_t k = strlen(tmpdir);
    if (strncmp(e.msg, tmpdir, k) == 0)
        memmove(e.msg, e.msg + k + 1, strlen(e.msg + k + 1) + 1);
    return e.msg;
}

#define CHECK_ERROR(name, text, want) do { \
    const char *got_ = error_of(name, text); \
    CHECKF(strcmp(got_, want) == 0, "got '%s', wanted '%s'", got_, want); } while (0)

/* Item id's title and genres are t and g. */
static int has(const mlr_catalogue *c, const char *id, const char *t, const char *g)
{
    long i = mlr_catalogue_find(c, id, strlen(id));
    size_t tn, gn;
    return i >= 0 && strcmp(mlr_catalogue_title(c, (size_t)i, &tn), t) == 0 && tn == strlen(t) &&
           strcmp(mlr_catalogue_genres(c, (size_t)i, &gn), g) == 0 && gn == strlen(g);
}

static void test_read(void)
{
    mlr_err e;
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    /* columns in any order, others ignored, an empty genre list */
    CHECK(mlr_catalogue_read(&c, put("good.tsv", "item_genres\titem_id\tx\titem_title\n"
                                                 "Comedy|Drama\t1\ta\tToy Story (1995)\n"
                                                 "\t10\tb\tHeat (1995)\n"
                                                 "Drama\t2\tc\t\n"), &e) == 0);
    CHECK(mlr_catalogue_count(&c) == 3);
    CHECK(has(&c, "1", "Toy Story (1995)", "Comedy|Drama"));
    CHECK(has(&c, "10", "Heat (1995)", ""));
    CHECK(has(&c, "2", "", "Drama"));
    CHECK(mlr_catalogue_find(&c, "3", 1) == -1);
    CHECK(mlr_catalogue_find(&c, "1", 1) == 0 && mlr_catalogue_find(&c, "2", 1) == 2);
    mlr_catalogue_free(&c);
    mlr_catalogue_free(&c); /* twice: harmless */
    CHECK(mlr_catalogue_count(&c) == 0 && mlr_catalogue_find(&c, "1", 1) == -1);
}

/* Without item_title or item_genres: "" for every item. A header alone:
 * no items, no error. */
static void test_missing_columns(void)
{
    mlr_err e;
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    CHECK(mlr_catalogue_read(&c, put("ids.tsv", "item_id\tuser_id\n5\tu\n6\tu\n"), &e) == 0);
    CHECK(mlr_catalogue_count(&c) == 2 && has(&c, "5", "", "") && has(&c, "6", "", ""));
    CHECK(mlr_strmap_count(c.titles) == 0 && mlr_strmap_count(c.genre_lists) == 0);
    mlr_catalogue_free(&c);
    mlr_catalogue_init(&c);
    CHECK(mlr_catalogue_read(&c, put("head.tsv", "item_id\titem_title\titem_genres\n"), &e) == 0);
    CHECK(mlr_catalogue_count(&c) == 0);
    mlr_catalogue_free(&c);
    CHECK_ERROR("noid.tsv", "item_title\titem_genres\nHeat\tAction\n",
                "noid.tsv: no column 'item_id' in the header");
    CHECK_ERROR("noid2.tsv", "movieId\ttitle\n1\tHeat\n", "noid2.tsv: no column 'item_id' in the header");
}

/* A repeated item keeps its first row's text; its other texts are still
 * interned (mlr-stats counts every distinct title). */
static void test_duplicates(void)
{
    mlr_err e;
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    CHECK(mlr_catalogue_read(&c, put("dup.tsv", "item_id\titem_title\titem_genres\n"
                                                "7\tFirst\tA\n8\tOther\tB\n7\tSecond\tA|B\n7\tFirst\tA\n"), &e) == 0);
    CHECK(mlr_catalogue_count(&c) == 2);
    CHECK(has(&c, "7", "First", "A") && has(&c, "8", "Other", "B"));
    CHECK(mlr_strmap_count(c.titles) == 3 && mlr_strmap_count(c.genre_lists) == 3);
    int added = -1;
    CHECK(mlr_catalogue_add(&c, "8", 1, "Third", 5, NULL, 0, &added) == 1 && added == 0);
    CHECK(has(&c, "8", "Other", "B") && mlr_strmap_count(c.titles) == 4);
    /* an item first given no text (NULL) takes the first text it is given */
    CHECK(mlr_catalogue_add(&c, "9", 1, NULL, 0, NULL, 0, &added) == 2 && added == 1);
    CHECK(has(&c, "9", "", ""));
    CHECK(mlr_catalogue_add(&c, "9", 1, "Late", 4, NULL, 0, NULL) == 2);
    CHECK(mlr_catalogue_add(&c, "9", 1, "Later", 5, "C", 1, NULL) == 2);
    CHECK(has(&c, "9", "Late", "C"));
    mlr_catalogue_free(&c);
}

/* Past the first slots: the per-item arrays grow, their new slots empty. */
static void test_many(void)
{
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    char id[16], t[16];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "%d", i), m = snprintf(t, sizeof t, "t%d", i);
        CHECK(mlr_catalogue_add(&c, id, (size_t)n, i % 2 ? t : NULL, (size_t)m, NULL, 0, NULL) == (size_t)i);
    }
    CHECK(mlr_catalogue_count(&c) == 5000);
    CHECK(has(&c, "4999", "t4999", "") && has(&c, "4998", "", "") && has(&c, "1", "t1", ""));
    mlr_catalogue_free(&c);
}

static void test_broken(void)
{
    CHECK_ERROR("emptyid.tsv", "item_id\titem_title\n1\tA\n\tB\n", "emptyid.tsv:3: empty item_id");
    CHECK_ERROR("short.tsv", "item_id\titem_title\titem_genres\n1\tA\tx\n2\tB\n",
                "short.tsv:3: expected 3 fields, found 2");
    CHECK_ERROR("long.tsv", "item_id\titem_title\n1\tA\tx\n", "long.tsv:2: expected 2 fields, found 3");
    CHECK_ERROR("utf8.tsv", "item_id\titem_title\n1\tCaf\xe9\n", "utf8.tsv:2: invalid UTF-8");
    CHECK_ERROR("badid.tsv", "item_id\titem_title\n\xff\tA\n", "badid.tsv:2: invalid UTF-8");
    CHECK_ERROR("crlf.tsv", "item_id\titem_title\r\n1\tA\r\n", "crlf.tsv:1: CR before LF (CRLF line ends); convert with: tr -d '\\r'");
    CHECK_ERROR("empty.tsv", "", "empty.tsv: empty file (expected a header line)");
    mlr_err e;
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    CHECK(mlr_catalogue_read(&c, "/nonexistent/catalogue.tsv", &e) == -1);
    CHECK(strncmp(e.msg, "/nonexistent/catalogue.tsv: cannot open:", 40) == 0);
    /* the rows before an error stay */
    CHECK(mlr_catalogue_read(&c, put("part.tsv", "item_id\n1\n2\n\n"), &e) == -1);
    CHECK(mlr_catalogue_count(&c) == 2);
    mlr_catalogue_free(&c);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_read);
    RUN(test_missing_columns);
    RUN(test_duplicates);
    RUN(test_many);
    RUN(test_broken);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_status();
}
