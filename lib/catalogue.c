/* catalogue.c: the item catalogue (catalogue.h). */
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"

void mlr_catalogue_init(mlr_catalogue *c)
{
    memset(c, 0, sizeof *c);
    c->ids = mlr_strmap_new(0);
    c->titles = mlr_strmap_new(0);
    c->genre_lists = mlr_strmap_new(0);
}

void mlr_catalogue_free(mlr_catalogue *c)
{
    mlr_strmap_free(c->ids);
    mlr_strmap_free(c->titles);
    mlr_strmap_free(c->genre_lists);
    free(c->title);
    free(c->genres);
    memset(c, 0, sizeof *c);
}

size_t mlr_catalogue_count(const mlr_catalogue *c)
{
    return c->ids ? mlr_strmap_count(c->ids) : 0;
}

long mlr_catalogue_find(const mlr_catalogue *c, const char *id, size_t len)
{
    return c->ids ? mlr_strmap_find(c->ids, id, len) : -1;
}

/* Key k - 1 of m, "" for k == 0 (none). */
static const char *text_of(const mlr_strmap *m, size_t k, size_t *len)
{
    if (len)
        *len = k ? mlr_strmap_key_len(m, k - 1) : 0;
    return k ? mlr_strmap_key(m, k - 1) : "";
}

const char *mlr_catalogue_title(const mlr_catalogue *c, size_t i, size_t *len)
{
    return text_of(c->titles, c->title[i], len);
}

const char *mlr_catalogue_genres(const mlr_catalogue *c, size_t i, size_t *len)
{
    return text_of(c->genre_lists, c->genres[i], len);
}

/* Room for item i in title and genres, the new slots 0 (none). */
static void grow(mlr_catalogue *c, size_t i)
{
    if (i < c->cap)
        return;
    size_t cap = c->cap ? 2 * c->cap : 1024;
    while (cap <= i)
        cap *= 2;
    c->title = xrealloc(c->title, cap * sizeof *c->title);
    c->genres = xrealloc(c->genres, cap * sizeof *c->genres);
    memset(c->title + c->cap, 0, (cap - c->cap) * sizeof *c->title);
    memset(c->genres + c->cap, 0, (cap - c->cap) * sizeof *c->genres);
    c->cap = cap;
}

/* Interns the len bytes at s in m; *slot (an item's key + 1, 0: none)
 * takes it when empty. An item's rows nearly always repeat its text, and
 * comparing with the item's own key is cheaper than hashing and probing. */
static void intern_text(mlr_strmap *m, size_t *slot, const char *s, size_t len)
{
    if (*slot && mlr_strmap_key_len(m, *slot - 1) == len &&
        memcmp(mlr_strmap_key(m, *slot - 1), s, len) == 0)
        return;
    size_t k = mlr_strmap_intern(m, s, len);
    if (!*slot)
        *slot = k + 1;
}

size_t mlr_catalogue_add(mlr_catalogue *c, const char *id, size_t idlen, const char *title,
                         size_t tlen, const char *genres, size_t glen, int *added)
{
    int is_new;
    size_t i = mlr_strmap_intern2(c->ids, id, idlen, &is_new);
    grow(c, i);
    if (title)
        intern_text(c->titles, &c->title[i], title, tlen);
    if (genres)
        intern_text(c->genre_lists, &c->genres[i], genres, glen);
    if (added)
        *added = is_new;
    return i;
}

int mlr_catalogue_columns(const mlr_reader *r, mlr_catalogue_cols *k, mlr_err *e)
{
    k->id = mlr_reader_require(r, "item_id", e);
    k->title = mlr_reader_col(r, "item_title");
    k->genres = mlr_reader_col(r, "item_genres");
    return k->id < 0 ? -1 : 0;
}

/* Field col of r, NULL (and *len 0) for col -1. */
static const char *field(const mlr_reader *r, int col, size_t *len)
{
    *len = col < 0 ? 0 : mlr_reader_field_len(r, (size_t)col);
    return col < 0 ? NULL : mlr_reader_field(r, (size_t)col);
}

int mlr_catalogue_add_row(mlr_catalogue *c, const mlr_reader *r, const mlr_catalogue_cols *k,
                          size_t *item, mlr_err *e)
{
    size_t n, tn, gn;
    const char *id = field(r, k->id, &n), *t = field(r, k->title, &tn), *g = field(r, k->genres, &gn);
    if (n == 0)
        return mlr_fail(e, "%s:%ld: empty item_id", mlr_reader_path(r), mlr_reader_line(r));
    int added;
    size_t i = mlr_catalogue_add(c, id, n, t, tn, g, gn, &added);
    if (item)
        *item = i;
    return added;
}

int mlr_catalogue_read(mlr_catalogue *c, const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    mlr_catalogue_cols k;
    if (!r || mlr_catalogue_columns(r, &k, e) < 0) {
        mlr_reader_close(r);
        return -1;
    }
    int got;
    while ((got = mlr_reader_next(r, e)) == 1)
        if (mlr_catalogue_add_row(c, r, &k, NULL, e) < 0) {
            got = -1;
            break;
        }
    mlr_reader_close(r);
    return got < 0 ? -1 : 0;
}
