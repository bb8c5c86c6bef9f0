/* encdir.h: the encoded directory (ENCDIR) of mlr-encode, the one owner
 * of its contract (docs/encdir.md): the writer mlr-encode builds it with,
 * the readers every other tool uses. No file name of an encoded directory
 * is spelt outside encdir.c.
 *
 * Shape letters (the same in every header of lib/):
 *   N  rows of the directory     L  tokens per row of a bag
 *
 * An encoded directory holds, for N rows: <feature>.npy per feature whose
 * column the input had (cat (N) <i4, multi/words (N, L) <i4 padded with
 * -1, num (N) <f4 normalised plus <feature>_bucket.npy (N) <i4, label (N)
 * <f4 raw), spec.sha256 (the specification's checksum and a newline), and
 * the rows' ids: rows.tsv (user_id[, item_id] per row) for rows, items.ids
 * (id per row) for a catalogue (mlr-encode --items). */
#ifndef MLR_ENCDIR_H
#define MLR_ENCDIR_H

#include <stdio.h>

#include "mlr.h"
#include "model.h"
#include "npy.h"
#include "table.h"

/* ---- writing: built beside, swapped in whole ---- */

#define MLR_ENCDIR_MAX_FILES 40

typedef struct {
    char *name;     /* the directory's name as given (for messages) */
    char *target;   /* the same with an existing one's symlinks resolved */
    char *tmp;      /* the directory being built beside it: TARGET.tmp.XXXXXX */
    size_t n;       /* files created in tmp */
    FILE *fp[MLR_ENCDIR_MAX_FILES];
    char *path[MLR_ENCDIR_MAX_FILES];
} mlr_encdir_writer;

/* Starts an encoded directory to replace DIR: makes DIR's parents
 * (mkdir -p) and a new, empty directory beside DIR, created exclusively.
 * An existing DIR must be a directory that holds nothing but an encoded
 * directory's files (it is replaced whole at commit). */
int mlr_encdir_begin(mlr_encdir_writer *w, const char *dir, mlr_err *e);
/* Files of the directory being built, opened for writing: a feature's
 * <feature>.npy (bucket 0) or <feature>_bucket.npy (bucket 1); rows.tsv;
 * items.ids. NULL and e filled on failure. */
FILE *mlr_encdir_feature(mlr_encdir_writer *w, const char *feature, int bucket, mlr_err *e);
FILE *mlr_encdir_rows(mlr_encdir_writer *w, mlr_err *e);
FILE *mlr_encdir_items(mlr_encdir_writer *w, mlr_err *e);
/* spec.sha256, written whole. */
int mlr_encdir_spec(mlr_encdir_writer *w, const char *sha256, mlr_err *e);
/* Completes every file (flush, fsync, close: any write error fails here)
 * and only then puts the new directory in DIR's place: atomically where
 * the system can exchange two names (renameat2), else by moving the old
 * aside first; the old directory is then removed. On failure DIR is as it
 * was and the new directory is gone. Frees w either way. */
int mlr_encdir_commit(mlr_encdir_writer *w, mlr_err *e);
/* Removes the directory being built; DIR stays as it was. Frees w;
 * accepts a zeroed w. */
void mlr_encdir_abort(mlr_encdir_writer *w);

/* ---- reading ---- */

/* Fails with a hint line when DIR/spec.sha256 differs from sha: the rows
 * were encoded with another specification. (model_check_encoding in
 * model.h is the same check.) */
int mlr_encdir_check(const char *dir, const char *sha, mlr_err *e);
/* The item keys: item_id.npy, (n) <i4, each in [0, nkeys). */
int mlr_encdir_keys(const char *dir, size_t n, size_t nkeys, mlr_array *keys, mlr_err *e);
/* The ratings: rating.npy, (n) <f4, each finite. */
int mlr_encdir_ratings(const char *dir, size_t n, mlr_array *ratings, mlr_err *e);
/* The rows' ids for reading with table.h: rows.tsv (user_id, item_id) of
 * a rows directory, or items.ids (id) of a catalogue. The file's path is
 * left in path (for messages). */
mlr_reader *mlr_encdir_rows_open(const char *dir, char *path, size_t size, mlr_err *e);
mlr_reader *mlr_encdir_items_open(const char *dir, char *path, size_t size, mlr_err *e);
/* The path of items.ids into path (for mlr_ids_read of ids.h). */
void mlr_encdir_items_path(char *path, size_t size, const char *dir);
/* A checksum of the training tensors: SHA-256 over "name sha256\n" of
 * each of spec.sha256, rows.tsv, item_id.npy, rating.npy, user_id.npy,
 * timestamp.npy that DIR holds (the model's train_sha256). */
int mlr_encdir_checksum(const char *dir, char out[65], mlr_err *e);

#endif
