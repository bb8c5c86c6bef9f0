/* catalogue.h: the item catalogue, item id -> title and genres, one loader
 * for every tool that reads it: mlr_served's catalogue.tsv (item_id,
 * item_title, item_genres), mlr-stats' interaction table (the same
 * columns on every row) and mlr-ingest's movie files (their text made
 * SPEC.md's by the caller, then mlr_catalogue_add).
 *
 * An item's first row gives its title and genres (later rows of it are
 * not errors: an interaction table repeats its items). Every distinct
 * title and genre list of any row is interned (titles, genre_lists), so
 * the text is held once however many rows repeat it.
 *
 *   mlr_catalogue c;
 *   mlr_catalogue_init(&c);
 *   if (mlr_catalogue_read(&c, "catalogue.tsv", &e) < 0) ...
 *   long i = mlr_catalogue_find(&c, "50", 2);
 *   if (i >= 0) puts(mlr_catalogue_title(&c, (size_t)i, NULL));
 *   mlr_catalogue_free(&c);
 */
#ifndef MLR_CATALOGUE_H
#define MLR_CATALOGUE_H

#include <stddef.h>

#include "mlr.h"
#include "strmap.h"
#include "table.h"

typedef struct {
    mlr_strmap *ids;                  /* key i = item i, first-seen order */
    mlr_strmap *titles, *genre_lists; /* every distinct text of any row */
    size_t *title, *genres;           /* (cap) item i's first row's key + 1
                                         in titles / genre_lists; 0: none */
    size_t cap;
} mlr_catalogue;

/* The catalogue's columns in a table: id required, title and genres -1
 * when the table has none. */
typedef struct {
    int id, title, genres;
} mlr_catalogue_cols;

/* An empty catalogue. */
void mlr_catalogue_init(mlr_catalogue *c);
/* Frees what c holds; accepts an initialised or zeroed c, twice too. */
void mlr_catalogue_free(mlr_catalogue *c);

/* How many items; their indexes run 0 .. count-1. */
size_t mlr_catalogue_count(const mlr_catalogue *c);
/* The index of the item with the len bytes of id, or -1. */
long mlr_catalogue_find(const mlr_catalogue *c, const char *id, size_t len);
/* Item i's (< count) title and genres, "" when it has none; *len (when
 * not NULL) their length. Valid until mlr_catalogue_free. */
const char *mlr_catalogue_title(const mlr_catalogue *c, size_t i, size_t *len);
const char *mlr_catalogue_genres(const mlr_catalogue *c, size_t i, size_t *len);

/* Adds a row: item id (idlen bytes) with its title and genres (NULL: the
 * row has none). An item keeps the first title and the first genres it is
 * given (a table's rows all give both: its first row's); every text given
 * is interned.
 * Returns the item's index; *added (when not NULL) 1 when it was new. */
size_t mlr_catalogue_add(mlr_catalogue *c, const char *id, size_t idlen, const char *title,
                         size_t tlen, const char *genres, size_t glen, int *added);

/* r's columns item_id (required: else -1, "FILE: no column 'item_id' in
 * the header"), item_title and item_genres. */
int mlr_catalogue_columns(const mlr_reader *r, mlr_catalogue_cols *k, mlr_err *e);

/* Adds r's current row through its columns k; *item (when not NULL) gets
 * its index. Returns 1 for a new item, 0 for a known one, -1 for an empty
 * id ("FILE:LINE: empty item_id"). */
int mlr_catalogue_add_row(mlr_catalogue *c, const mlr_reader *r, const mlr_catalogue_cols *k,
                          size_t *item, mlr_err *e);

/* Adds every row of the TSV at path (catalogue.tsv: item_id and, when
 * there, item_title and item_genres); an item's first row wins. On an
 * error (the reader's: empty file, short row, bad UTF-8; no item_id; an
 * empty id) returns -1 with e filled; c keeps the rows before it. */
int mlr_catalogue_read(mlr_catalogue *c, const char *path, mlr_err *e);

#endif
