/* ids.c: reading id files (ids.h). */
#include "ids.h"

#include <stdlib.h>
#include <string.h>

#include "table.h"

char *mlr_ids_path(const char *npy)
{
    size_t n = strlen(npy);
    char *s = xmalloc(n + 5);
    memcpy(s, npy, n + 1);
    if (n > 4 && strcmp(npy + n - 4, ".npy") == 0) n -= 4;
    memcpy(s + n, ".ids", 5);
    return s;
}

static int ids_open(const char *path, mlr_reader **r, int *col, mlr_err *e)
{
    *r = mlr_reader_open(path, NULL, e);
    if (!*r) return -1;
    *col = mlr_reader_require(*r, "id", e);
    if (*col < 0) {
        mlr_reader_close(*r);
        return -1;
    }
    return 0;
}

int mlr_ids_read(const char *path, mlr_strmap *m, size_t *rows, mlr_err *e)
{
    mlr_reader *r;
    int col, st;
    if (ids_open(path, &r, &col, e) < 0) return -1;
    size_t n = 0;
    while ((st = mlr_reader_next(r, e)) == 1) {
        const char *id = mlr_reader_field(r, (size_t)col);
        int added;
        mlr_strmap_intern2(m, id, mlr_reader_field_len(r, (size_t)col), &added);
        if (!added) {
            mlr_fail(e, "%s:%ld: duplicate id '%s'", mlr_reader_path(r),
                     mlr_reader_line(r), id);
            st = -1;
            break;
        }
        n++;
    }
    mlr_reader_close(r);
    *rows = n;
    return st < 0 ? -1 : 0;
}

int mlr_ids_read_keys(const char *path, mlr_strmap *m, uint32_t **out,
                      size_t *rows, mlr_err *e)
{
    return mlr_ids_read_column(path, "id", m, out, rows, e);
}

int mlr_ids_read_column(const char *path, const char *name, mlr_strmap *m, uint32_t **out,
                        size_t *rows, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r) return -1;
    int col = strcmp(name, "id") == 0 ? mlr_reader_require(r, name, e) : mlr_reader_col(r, name), st;
    if (col < 0) {
        mlr_reader_close(r);
        if (strcmp(name, "id") == 0) return -1;
        *out = NULL;
        *rows = 0;
        return 0;
    }
    size_t n = 0, cap = 1024;
    uint32_t *keys = xmalloc(cap * sizeof *keys);
    while ((st = mlr_reader_next(r, e)) == 1) {
        if (n == cap) keys = xrealloc(keys, (cap *= 2) * sizeof *keys);
        keys[n++] = (uint32_t)mlr_strmap_intern(m, mlr_reader_field(r, (size_t)col),
                                                mlr_reader_field_len(r, (size_t)col));
    }
    mlr_reader_close(r);
    if (st < 0) {
        free(keys);
        return -1;
    }
    *out = keys;
    *rows = n;
    return 0;
}
