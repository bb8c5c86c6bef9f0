/* history.h: each user's items in a training table, for the user_history
 * feature of the query tower (docs/features.md; Covington et al. 2016).
 *
 *   mlr_history *h = mlr_history_read("train.tsv", &e);
 *   size_t n = mlr_history_field(h, "42", 2, "377", 3, LONG_MAX, 50, &buf, &cap);
 *   // buf: the '|'-joined ids of user 42's 50 latest training items,
 *   // item 377 left out (a row must never see its own item: the label)
 *   mlr_history_free(h);
 *
 * "Latest" is by timestamp, ties by row order (the later row is the later,
 * as mlr-split says). A user who rated an item twice has it once per row. */
#ifndef MLR_HISTORY_H
#define MLR_HISTORY_H

#include <stddef.h>
#include "mlr.h"

/* The items of a history at most, the latest (mlr-history's default --max,
 * equal to mlr-encode's default --max-tokens, which would cut a longer
 * one): chosen on a validation slice (docs/features.md). Serving
 * (lib/serve.c) fills the feature with as many as the model records
 * (mlr_history_cap below), this many for a model that records none. */
#define MLR_HISTORY_MAX 16
/* The longest history a model can record (mlr-encode's --max-tokens). */
#define MLR_HISTORY_LIMIT 4096

typedef struct mlr_history mlr_history;

/* Reads PATH's user_id, item_id and timestamp columns. NULL and e filled on
 * a missing file or column, a bad timestamp, an item id holding '|'. */
mlr_history *mlr_history_read(const char *path, mlr_err *e);
void mlr_history_free(mlr_history *h);

/* The number of users, and user u's id (u < count). */
size_t mlr_history_users(const mlr_history *h);
const char *mlr_history_user(const mlr_history *h, size_t u, size_t *len);
/* User u's latest training row's position in the table (0 = first row). */
size_t mlr_history_last_row(const mlr_history *h, size_t u);
/* User u's row at the median of their training times (by time, ties by
 * row order; of an even count the later of the middle two): a query for
 * the user over their whole stay, which a random split's held-out rows
 * are spread over (docs/features.md). */
size_t mlr_history_median_row(const mlr_history *h, size_t u);

/* Writes the user's at most max latest items rated before time before
 * (strictly earlier; LONG_MAX: all of them), newest first, '|'-joined and
 * NUL-terminated, into *buf (grown as needed; *cap its size), leaving out
 * every copy of item own (own NULL: none left out). Returns the length;
 * 0 (an empty field) for a user not in the table. */
size_t mlr_history_field(const mlr_history *h, const char *user, size_t ulen, const char *own,
                         size_t olen, long before, size_t max, char **buf, size_t *cap);

/* The cap a model's histories had in training, in its metadata: the
 * width of the user_history rows mlr-train read (mlr-history --max, cut
 * by mlr-encode --max-tokens), "history_max" of the model's training
 * options (config.train), which serving fills the feature up to.
 * mlr_history_note returns train_json (a JSON object, NULL: empty) with
 * history_max set, freeing it; mlr_history_cap reads it back: 0 when the
 * model has none (trained before it was recorded), -1 and e filled when
 * it is not a count in [1, MLR_HISTORY_LIMIT]. */
char *mlr_history_note(char *train_json, size_t max);
long mlr_history_cap(const char *train_json, const char *path, mlr_err *e);

#endif
