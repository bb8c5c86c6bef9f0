/* ids.h: id files, the companions of a matrix (X.ids beside X.npy: a
 * fingerprint line (fprint.h), a header with a column `id` (and, for query
 * rows, `item_id`), then one row per matrix row, in row order). */
#ifndef MLR_IDS_H
#define MLR_IDS_H

#include <stddef.h>
#include <stdint.h>
#include "mlr.h"
#include "strmap.h"

/* "dir/items.npy" -> "dir/items.ids"; a name without .npy gets ".ids"
 * appended. malloc'd: the caller frees it. */
char *mlr_ids_path(const char *npy);

/* Reads PATH's `id` column, interning each id into m in row order; the
 * ids must be new to m and distinct ("I.ids:5: duplicate id 'x'"). Sets
 * *rows to the number of rows read. */
int mlr_ids_read(const char *path, mlr_strmap *m, size_t *rows, mlr_err *e);

/* Reads PATH's `id` column as row -> dense key of m (interning; repeats are
 * fine: the query ids of many rows name the same user). *out (rows) is
 * malloc'd. */
int mlr_ids_read_keys(const char *path, mlr_strmap *m, uint32_t **out,
                      size_t *rows, mlr_err *e);

/* The same for column NAME ("id" required; another may be absent: then
 * *out is NULL and *rows 0). Query ids (mlr-embed --rows) carry each
 * row's item_id beside its user: the row's key for mlr-topk's lists. */
int mlr_ids_read_column(const char *path, const char *name, mlr_strmap *m, uint32_t **out,
                        size_t *rows, mlr_err *e);

#endif
