/* fprint.c: the fingerprint line (fprint.h, docs/fingerprint.md). */
#include "fprint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "table.h"

static int is_hex64(const char *s, size_t n)
{
    return n == 64 && strspn(s, "0123456789abcdef") >= 64;
}

int mlr_fprint_parse(mlr_fprint *f, const char *line, const char *path, mlr_err *e)
{
    memset(f, 0, sizeof *f);
    if (!line)
        return 0;
    const char *p = line + strlen("#mlrec");
    while (*p) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        const char *eq = memchr(p, '=', n);
        if (n == 0)
            break;
        if (!eq)
            return mlr_fail(e, "%s: bad fingerprint line: '%.*s' is not KEY=VALUE", path, (int)n, p);
        size_t kn = (size_t)(eq - p), vn = n - kn - 1;
        const char *v = eq + 1;
        if (kn == 5 && memcmp(p, "model", 5) == 0) {
            if (!is_hex64(v, vn))
                return mlr_fail(e, "%s: bad fingerprint line: model= wants 64 hex digits", path);
            memcpy(f->model, v, 64);
        } else if (kn == 7 && memcmp(p, "exclude", 7) == 0) {
            if (!is_hex64(v, vn) && !(vn == 4 && memcmp(v, "none", 4) == 0) &&
                !(vn == 7 && memcmp(v, "unknown", 7) == 0))
                return mlr_fail(e, "%s: bad fingerprint line: exclude= wants 64 hex digits, none or unknown", path);
            memcpy(f->exclude, v, vn);
            f->exclude[vn] = 0;
        }
        p += n;
    }
    return 0;
}

int mlr_fprint_read(const char *path, mlr_fprint *f, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return -1;
    int rc = mlr_fprint_parse(f, mlr_reader_fprint(r), path, e);
    mlr_reader_close(r);
    return rc;
}

void mlr_fprint_write(FILE *fp, const mlr_fprint *f)
{
    if (!f->model[0] && !f->exclude[0])
        return;
    fputs("#mlrec", fp);
    if (f->model[0])
        fprintf(fp, " model=%s", f->model);
    if (f->exclude[0])
        fprintf(fp, " exclude=%s", f->exclude);
    fputc('\n', fp);
}

int mlr_fprint_model(const char *path, char hex[65], mlr_err *e)
{
    return mlr_sha256_file(path, hex, e);
}

int mlr_fprint_models(const char *const *paths, int n, int *order, char hex[65], mlr_err *e)
{
    char (*each)[65] = xcalloc((size_t)n, sizeof *each);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        order[i] = i;
        rc = mlr_fprint_model(paths[i], each[i], e);
    }
    /* insertion sort by fingerprint, ties by position: n is small */
    for (int i = 1; i < n && rc == 0; i++)
        for (int j = i; j > 0 && strcmp(each[order[j - 1]], each[order[j]]) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (rc == 0) {
        const char **sorted = xmalloc((size_t)n * sizeof *sorted);
        for (int i = 0; i < n; i++) sorted[i] = each[order[i]];
        mlr_fprint_set(sorted, n, hex);
        free(sorted);
    }
    free(each);
    return rc;
}

void mlr_fprint_set(const char *const *sorted, int n, char hex[65])
{
    if (n == 1) {
        memcpy(hex, sorted[0], 65);
        return;
    }
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    for (int i = 0; i < n; i++) {
        mlr_sha256_update(&c, sorted[i], 64);
        mlr_sha256_update(&c, "\n", 1);
    }
    mlr_sha256_final(&c, hex);
}

int mlr_fprint_table(const char *path, char hex[65], mlr_err *e)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        strcpy(hex, "unknown"); /* its reader reports a missing file */
        return 0;
    }
    return mlr_sha256_file(path, hex, e);
}

int mlr_fprint_same(const char *a, const mlr_fprint *fa, const char *b, const mlr_fprint *fb,
                    mlr_err *e)
{
    if (!fa->model[0] || !fb->model[0] || strcmp(fa->model, fb->model) == 0)
        return 0;
    return mlr_fail(e, "%s is of model %.12s, %s of model %.12s: outputs of two models", a,
                    fa->model, b, fb->model);
}
