/* encdir.c: the encoded directory's files, written and read (encdir.h,
 * docs/encdir.md). Every file name of the contract is spelt here only.
 * Nothing here calls into the model's or top-k's objects, so mlr-encode
 * links no BLAS (OpenBLAS costs a process a pool and 2.5 MB as it loads). */
#include "encdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ids.h"
#include "spec.h"

static const char SPEC_SHA256[] = "spec.sha256";
static const char ROWS[] = "rows.tsv";
static const char ITEMS[] = "items.ids";
static const char NPY[] = ".npy";
static const char BUCKET_NPY[] = "_bucket.npy";
static const char KEYS[] = "item_id";   /* the item keys: item_id's ids */
static const char RATINGS[] = "rating"; /* the label */

/* DIR/NAME into buf. */
static void join(char *buf, size_t size, const char *dir, const char *name, const char *ext)
{
    snprintf(buf, size, "%s/%s%s", dir, name, ext);
}

/* Whether NAME can be a file of an encoded directory. */
static int is_encdir_name(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, SPEC_SHA256) == 0 || strcmp(name, ROWS) == 0 ||
           strcmp(name, ITEMS) == 0 || (n > 4 && strcmp(name + n - 4, NPY) == 0);
}

/* ---- writing ---- */

/* An existing output is replaced whole: it may hold an encoded directory's
 * files only, so that nothing else is ever removed with it. */
static int check_replaceable(const char *dir, mlr_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return mlr_fail(e, "%s: cannot open: %s", dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[4096];
        struct stat st;
        join(path, sizeof path, dir, de->d_name, "");
        if (!is_encdir_name(de->d_name) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
            rc = mlr_fail(e, "%s: holds '%s', which is not a file of an encoded directory "
                          "(an encoded directory is replaced whole): give a new or empty directory",
                          dir, de->d_name);
    }
    closedir(d);
    return rc;
}

/* DIR without its trailing slashes ("/" stays). */
static char *strip_slashes(const char *dir)
{
    char *p = xstrdup(dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    return p;
}

/* mkdir -p of DIR's parent. */
static int make_parent(const char *dir, mlr_err *e)
{
    char *parent = xstrdup(dir);
    char *slash = strrchr(parent, '/');
    int rc = 0;
    if (slash && slash != parent) {
        *slash = 0;
        rc = mlr_spec_mkdir(parent, NULL, e);
    }
    free(parent);
    return rc;
}

int mlr_encdir_begin(mlr_encdir_writer *w, const char *dir, mlr_err *e)
{
    memset(w, 0, sizeof *w);
    if (!*dir)
        return mlr_fail(e, "empty directory name");
    w->name = xstrdup(dir);
    struct stat st;
    if (lstat(dir, &st) == 0) {
        int bad = stat(dir, &st) < 0 || !S_ISDIR(st.st_mode);
        if (bad)
            mlr_fail(e, "%s: not a directory", dir);
        else if (!(w->target = realpath(dir, NULL)))
            bad = mlr_fail(e, "%s: %s", dir, strerror(errno));
        else
            bad = check_replaceable(dir, e);
        if (bad) {
            mlr_encdir_abort(w);
            return -1;
        }
    } else if (errno != ENOENT) {
        mlr_fail(e, "%s: %s", dir, strerror(errno));
        mlr_encdir_abort(w);
        return -1;
    } else {
        w->target = strip_slashes(dir);
        if (make_parent(w->target, e) < 0) {
            mlr_encdir_abort(w);
            return -1;
        }
    }
    size_t n = strlen(w->target) + 16;
    w->tmp = xmalloc(n);
    snprintf(w->tmp, n, "%s.tmp.XXXXXX", w->target);
    if (!mkdtemp(w->tmp)) {
        int err = errno;
        free(w->tmp);
        w->tmp = NULL;
        mlr_fail(e, "%s: cannot create a directory beside it: %s", dir, strerror(err));
        mlr_encdir_abort(w);
        return -1;
    }
    mode_t mask = umask(0); /* mkdtemp's 0700 made what mkdir -p would */
    umask(mask);
    chmod(w->tmp, 0777 & ~mask);
    return 0;
}

/* DIR/NAME of the directory being built, created exclusively. */
static FILE *create(mlr_encdir_writer *w, const char *name, const char *ext, mlr_err *e)
{
    if (w->n == MLR_ENCDIR_MAX_FILES)
        return mlr_fail(e, "%s: more than %d files", w->name, MLR_ENCDIR_MAX_FILES), NULL;
    char path[4096];
    join(path, sizeof path, w->tmp, name, ext);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    FILE *fp = fd < 0 ? NULL : fdopen(fd, "w");
    if (!fp) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return mlr_fail(e, "%s/%s%s: cannot create: %s", w->name, name, ext, strerror(err)), NULL;
    }
    w->fp[w->n] = fp;
    w->path[w->n++] = xstrdup(path);
    return fp;
}

FILE *mlr_encdir_feature(mlr_encdir_writer *w, const char *feature, int bucket, mlr_err *e)
{
    return create(w, feature, bucket ? BUCKET_NPY : NPY, e);
}

FILE *mlr_encdir_rows(mlr_encdir_writer *w, mlr_err *e)
{
    return create(w, ROWS, "", e);
}

FILE *mlr_encdir_items(mlr_encdir_writer *w, mlr_err *e)
{
    return create(w, ITEMS, "", e);
}

int mlr_encdir_spec(mlr_encdir_writer *w, const char *sha256, mlr_err *e)
{
    FILE *fp = create(w, SPEC_SHA256, "", e);
    if (!fp)
        return -1;
    fprintf(fp, "%s\n", sha256);
    return 0;
}

/* Flushes, syncs and closes file i; -1 and e on any write error. */
static int complete(mlr_encdir_writer *w, size_t i, mlr_err *e)
{
    FILE *fp = w->fp[i];
    w->fp[i] = NULL;
    int bad = fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) < 0;
    int err = errno;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!bad)
        return 0;
    const char *name = strrchr(w->path[i], '/') + 1;
    return mlr_fail(e, "%s/%s: write error: %s", w->name, name, strerror(err ? err : EIO));
}

/* Removes DIR and the files in it (an encoded directory has no other). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[4096];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        join(path, sizeof path, dir, de->d_name, "");
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The directory's parent, for its fsync. */
static void sync_parent(const char *dir)
{
    char *p = xstrdup(dir);
    char *slash = strrchr(p, '/');
    if (!slash)
        sync_dir(".");
    else {
        slash[slash == p] = 0;
        sync_dir(p);
    }
    free(p);
}

/* The new directory (tmp) in target's place; the old one removed. */
static int swap_in(mlr_encdir_writer *w, mlr_err *e)
{
    struct stat st;
    if (lstat(w->target, &st) < 0 && errno == ENOENT) {
        if (rename(w->tmp, w->target) < 0)
            return mlr_fail(e, "%s: cannot create: %s", w->name, strerror(errno));
        return 0;
    }
    if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->target, RENAME_EXCHANGE) == 0) {
        remove_dir(w->tmp); /* the old directory, now under the temporary name */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return mlr_fail(e, "%s: cannot replace: %s", w->name, strerror(errno));
    /* no exchange on this file system: the old one aside, then the new in */
    size_t n = strlen(w->tmp) + 8;
    char *old = xmalloc(n);
    snprintf(old, n, "%s.old", w->tmp);
    int rc = 0;
    if (rename(w->target, old) < 0)
        rc = mlr_fail(e, "%s: cannot replace: %s", w->name, strerror(errno));
    else if (rename(w->tmp, w->target) < 0) {
        rc = mlr_fail(e, "%s: cannot replace: %s", w->name, strerror(errno));
        rename(old, w->target);
    } else
        remove_dir(old);
    free(old);
    return rc;
}

static void writer_free(mlr_encdir_writer *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->path[i]);
    free(w->name);
    free(w->target);
    free(w->tmp);
    memset(w, 0, sizeof *w);
}

int mlr_encdir_commit(mlr_encdir_writer *w, mlr_err *e)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < w->n; i++)
        rc = complete(w, i, e);
    if (rc == 0) {
        sync_dir(w->tmp);
        rc = swap_in(w, e);
    }
    if (rc < 0) {
        mlr_encdir_abort(w);
        return -1;
    }
    sync_parent(w->target);
    writer_free(w);
    return 0;
}

void mlr_encdir_abort(mlr_encdir_writer *w)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->fp[i])
            fclose(w->fp[i]);
    if (w->tmp)
        remove_dir(w->tmp);
    writer_free(w);
}

/* ---- reading ---- */

int mlr_encdir_check(const char *dir, const char *sha, mlr_err *e)
{
    char path[4096], got[80] = "";
    join(path, sizeof path, dir, SPEC_SHA256, "");
    FILE *fp = fopen(path, "r");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s (not an mlr-encode output?)", path, strerror(errno));
    size_t n = fread(got, 1, sizeof got - 1, fp);
    fclose(fp);
    got[n] = 0;
    got[strcspn(got, " \t\r\n")] = 0;
    if (strcmp(got, sha) != 0)
        return mlr_fail(e, "%s: encoded with another feature specification (%.12s, expected %.12s); "
                        "rerun mlr-encode --spec with the specification of the model on the rows of %s",
                        path, got, sha, dir);
    return 0;
}

int model_check_encoding(const char *dir, const char *sha, mlr_err *e)
{
    return mlr_encdir_check(dir, sha, e);
}

static mlr_array *load_array(model_input *in, const char *dir, const char *stem, const char *ext,
                             mlr_dtype want, int ndim, mlr_err *e)
{
    char path[4096];
    join(path, sizeof path, dir, stem, ext);
    mlr_array *a = &in->arr[in->narr];
    if (mlr_npy_read(path, (int)want, a, e) < 0)
        return NULL;
    in->narr++;
    if (a->ndim != ndim)
        return mlr_fail(e, "%s: expected a %d-D array, found %d-D", path, ndim, a->ndim), NULL;
    if (in->n == (size_t)-1)
        in->n = a->shape[0];
    else if (a->shape[0] != in->n)
        return mlr_fail(e, "%s: %zu rows, other files of %s have %zu", path, a->shape[0], dir, in->n),
               NULL;
    return a;
}

/* Every id of a must be in [0, V), or -1 where padding is allowed. */
static int check_ids(const mlr_array *a, size_t V, int padding, const char *dir,
                     const char *stem, const char *ext, mlr_err *e)
{
    const int32_t *x = a->data;
    size_t cols = a->shape[1];
    for (size_t i = 0; i < mlr_array_count(a); i++)
        if (x[i] >= (int64_t)V || x[i] < (padding ? -1 : 0))
            return mlr_fail(e, "%s/%s%s: row %zu: id %d outside the vocabulary of %zu "
                            "(encoded with another specification?)", dir, stem, ext, i / cols, x[i], V);
    return 0;
}

static int load_feature(model_input *in, size_t i, const model_feature *f, const char *dir,
                        mlr_err *e)
{
    const mlr_array *a;
    switch (f->kind) {
    case MF_CAT:
    case MF_BAG:
        if (!(a = load_array(in, dir, f->name, NPY, MLR_I4, f->kind == MF_CAT ? 1 : 2, e)))
            return -1;
        in->ids[i] = a->data;
        in->L[i] = a->shape[1];
        return check_ids(a, f->vocab, f->kind == MF_BAG, dir, f->name, NPY, e);
    case MF_NUM:
        if (!(a = load_array(in, dir, f->name, BUCKET_NPY, MLR_I4, 1, e)))
            return -1;
        in->ids[i] = a->data;
        in->L[i] = 1;
        if (check_ids(a, f->vocab, 0, dir, f->name, BUCKET_NPY, e) < 0)
            return -1;
        /* and the normalised value, as MF_VALUE */
        /* fall through */
    default:
        if (!(a = load_array(in, dir, f->name, NPY, MLR_F4, 1, e)))
            return -1;
        in->val[i] = a->data;
        for (size_t r = 0; r < a->shape[0]; r++)
            if (!isfinite(in->val[i][r]))
                return mlr_fail(e, "%s/%s%s: row %zu: not a finite number", dir, f->name, NPY, r);
        return 0;
    }
}

int model_input_load(model_input *in, const model_tower *t, const char *dir,
                     size_t want_n, mlr_err *e)
{
    memset(in, 0, sizeof *in);
    in->n = (size_t)-1;
    for (size_t i = 0; i < t->nfeat; i++)
        if (load_feature(in, i, &t->feat[i], dir, e) < 0) {
            model_input_free(in);
            return -1;
        }
    if (want_n && in->n != want_n) {
        mlr_fail(e, "%s: %zu rows, expected %zu", dir, in->n, want_n);
        model_input_free(in);
        return -1;
    }
    return 0;
}

void model_input_free(model_input *in)
{
    for (size_t i = 0; i < in->narr; i++)
        mlr_array_free(&in->arr[i]);
    memset(in, 0, sizeof *in);
}

int mlr_encdir_keys(const char *dir, size_t n, size_t nkeys, mlr_array *keys, mlr_err *e)
{
    char path[4096];
    join(path, sizeof path, dir, KEYS, NPY);
    if (mlr_npy_read(path, MLR_I4, keys, e) < 0)
        return -1;
    if (keys->ndim != 1 || keys->shape[0] != n)
        return mlr_fail(e, "%s: expected %zu rows of one id", path, n);
    const int32_t *k = keys->data;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0 || (size_t)k[i] >= nkeys)
            return mlr_fail(e, "%s: row %zu: id %d outside the vocabulary of %zu", path, i, k[i], nkeys);
    return 0;
}

int mlr_encdir_ratings(const char *dir, size_t n, mlr_array *ratings, mlr_err *e)
{
    char path[4096];
    join(path, sizeof path, dir, RATINGS, NPY);
    if (mlr_npy_read(path, MLR_F4, ratings, e) < 0)
        return -2;
    if (ratings->ndim != 1 || ratings->shape[0] != n)
        return mlr_fail(e, "%s: expected %zu ratings", path, n);
    /* one inf or NaN label would turn every weight it reaches into NaN */
    const float *y = ratings->data;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return mlr_fail(e, "%s: row %zu: rating is not a finite number", path, i);
    return 0;
}

mlr_reader *mlr_encdir_rows_open(const char *dir, char *path, size_t size, mlr_err *e)
{
    join(path, size, dir, ROWS, "");
    return mlr_reader_open(path, NULL, e);
}

mlr_reader *mlr_encdir_items_open(const char *dir, char *path, size_t size, mlr_err *e)
{
    join(path, size, dir, ITEMS, "");
    return mlr_reader_open(path, NULL, e);
}

void mlr_encdir_items_path(char *path, size_t size, const char *dir)
{
    join(path, size, dir, ITEMS, "");
}

int mlr_encdir_checksum(const char *dir, char out[65], mlr_err *e)
{
    static const char *const names[] = {SPEC_SHA256, ROWS, "item_id.npy", "rating.npy",
                                        "user_id.npy", "timestamp.npy"};
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[4096], hex[65], line[128];
        join(path, sizeof path, dir, names[i], "");
        if (access(path, R_OK) != 0)
            continue;
        if (mlr_sha256_file(path, hex, e) < 0)
            return -1;
        int len = snprintf(line, sizeof line, "%s %s\n", names[i], hex);
        mlr_sha256_update(&c, line, (size_t)len);
    }
    mlr_sha256_final(&c, out);
    return 0;
}
