/* test_encdir.c: the encoded directory's writer (a new directory, a
 * replaced one, an aborted one, the refusals; nothing left beside the
 * target) and its checksum check. */
#include "check.h"
#include "encdir.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_encdir.XXXXXX";

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* The names in DIR, sorted, space-separated, into out. */
static void listing(const char *dir, char *out, size_t size)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s 2>&1 | tr '\\n' ' '", dir);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, size - 1, p) : 0;
    out[n] = 0;
    if (p)
        pclose(p);
}

static int has(const char *dir, const char *name, const char *text)
{
    char path[600], buf[100] = "";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strcmp(buf, text) == 0;
}

/* An encoding of one feature file whose content is `what`. */
static int encode(const char *dir, const char *feature, const char *what, int commit, mlr_err *e)
{
    mlr_encdir_writer w;
    if (mlr_encdir_begin(&w, dir, e) < 0)
        return -1;
    FILE *fp = mlr_encdir_feature(&w, feature, 0, e);
    if (!fp || mlr_encdir_spec(&w, "abc", e) < 0) {
        mlr_encdir_abort(&w);
        return -1;
    }
    fputs(what, fp);
    if (!commit) {
        mlr_encdir_abort(&w);
        return 0;
    }
    return mlr_encdir_commit(&w, e);
}

static void test_new_directory(void)
{
    mlr_err e;
    char ls[600];
    CHECKF(encode(tpath("a/b/enc"), "user_id", "one", 1, &e) == 0, "%s", e.msg);
    CHECK(has(tpath("a/b/enc"), "user_id.npy", "one"));
    CHECK(has(tpath("a/b/enc"), "spec.sha256", "abc\n"));
    listing(tpath("a/b"), ls, sizeof ls);
    CHECKF(strcmp(ls, "enc ") == 0, "beside it: %s", ls);
    struct stat st;
    CHECK(stat(tpath("a/b/enc"), &st) == 0);
    mode_t mask = umask(0);
    umask(mask);
    CHECKF((st.st_mode & 0777) == (0777 & ~mask), "mode %o", st.st_mode & 0777);
}

static void test_replaced_whole(void)
{
    mlr_err e;
    char ls[600];
    CHECK(encode(tpath("r/enc"), "user_id", "one", 1, &e) == 0);
    CHECKF(encode(tpath("r/enc"), "item_id", "two", 1, &e) == 0, "%s", e.msg);
    listing(tpath("r/enc"), ls, sizeof ls);
    CHECKF(strcmp(ls, "item_id.npy spec.sha256 ") == 0, "%s", ls);
    CHECK(has(tpath("r/enc"), "item_id.npy", "two"));
    listing(tpath("r"), ls, sizeof ls);
    CHECKF(strcmp(ls, "enc ") == 0, "beside it: %s", ls);
}

static void test_abort_keeps_old(void)
{
    mlr_err e;
    char ls[600];
    CHECK(encode(tpath("k/enc"), "user_id", "one", 1, &e) == 0);
    CHECK(encode(tpath("k/enc"), "user_id", "two", 0, &e) == 0);
    CHECK(has(tpath("k/enc"), "user_id.npy", "one"));
    listing(tpath("k"), ls, sizeof ls);
    CHECKF(strcmp(ls, "enc ") == 0, "beside it: %s", ls);
    /* aborted into a new directory: nothing at all */
    CHECK(encode(tpath("k/new"), "user_id", "two", 0, &e) == 0);
    listing(tpath("k"), ls, sizeof ls);
    CHECKF(strcmp(ls, "enc ") == 0, "beside it: %s", ls);
}

static void test_symlink_stays(void)
{
    mlr_err e;
    char ls[600];
    CHECK(encode(tpath("s/enc"), "user_id", "one", 1, &e) == 0);
    CHECK(symlink(tpath("s/enc"), tpath("s/link")) == 0);
    CHECKF(encode(tpath("s/link"), "user_id", "two", 1, &e) == 0, "%s", e.msg);
    struct stat st;
    CHECK(lstat(tpath("s/link"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(has(tpath("s/enc"), "user_id.npy", "two"));
    listing(tpath("s"), ls, sizeof ls);
    CHECKF(strcmp(ls, "enc link ") == 0, "beside it: %s", ls);
}

static void test_refusals(void)
{
    mlr_err e;
    mlr_encdir_writer w;
    CHECK(mkdir(tpath("f"), 0777) == 0);
    FILE *fp = fopen(tpath("f/notes.txt"), "w");
    CHECK(fp && fclose(fp) == 0);
    CHECK(mlr_encdir_begin(&w, tpath("f"), &e) == -1);
    CHECKF(strstr(e.msg, "holds 'notes.txt'"), "%s", e.msg);
    CHECK(mkdir(tpath("f2"), 0777) == 0 && mkdir(tpath("f2/sub.npy"), 0777) == 0);
    CHECK(mlr_encdir_begin(&w, tpath("f2"), &e) == -1);
    CHECKF(strstr(e.msg, "holds 'sub.npy'"), "%s", e.msg);
    CHECK(mlr_encdir_begin(&w, tpath("f/notes.txt"), &e) == -1);
    CHECKF(strstr(e.msg, "not a directory"), "%s", e.msg);
    CHECK(mlr_encdir_begin(&w, "", &e) == -1);
    char ls[600];
    listing(tpath("f"), ls, sizeof ls);
    CHECKF(strcmp(ls, "notes.txt ") == 0, "%s", ls);
}

static void test_check(void)
{
    mlr_err e;
    CHECK(encode(tpath("c/enc"), "user_id", "one", 1, &e) == 0);
    CHECK(mlr_encdir_check(tpath("c/enc"), "abc", &e) == 0);
    CHECK(model_check_encoding(tpath("c/enc"), "abc", &e) == 0);
    CHECK(mlr_encdir_check(tpath("c/enc"), "abd", &e) == -1);
    CHECKF(strstr(e.msg, "spec.sha256: encoded with another feature specification"), "%s", e.msg);
    CHECK(mlr_encdir_check(tpath("c"), "abc", &e) == -1);
    CHECKF(strstr(e.msg, "not an mlr-encode output"), "%s", e.msg);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    RUN(test_new_directory);
    RUN(test_replaced_whole);
    RUN(test_abort_keeps_old);
    RUN(test_symlink_stays);
    RUN(test_refusals);
    RUN(test_check);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_status();
}
