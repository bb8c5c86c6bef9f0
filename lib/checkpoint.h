/* checkpoint.h: a training run's state between epochs (mlr-train
 * --checkpoint DIR), kept as DIR/state: named records of bytes, written
 * atomically (lib/mlr.h's mlr_out: a SIGKILL at any moment leaves the
 * previous state whole) and closed by a SHA-256 of everything before it,
 * so a damaged file is refused, never half restored. The records are the
 * tool's business (its fingerprint, weights, optimiser moments, RNGs).
 *
 * File: "MLRCKPT1\n", then per record: name (NUL-terminated, < 64 bytes),
 * u64 length (little-endian), the bytes; then "end\0", u64 0 and the 64 hex
 * chars of the SHA-256 of all bytes before them. */
#ifndef MLR_CHECKPOINT_H
#define MLR_CHECKPOINT_H

#include <stddef.h>

#include "mlr.h"

typedef struct mlr_ckpt mlr_ckpt;

/* A checkpoint to fill with records (kept in memory until written). */
mlr_ckpt *mlr_ckpt_new(void);
void mlr_ckpt_free(mlr_ckpt *c); /* accepts NULL */
/* Adds record NAME of n bytes (copied). */
void mlr_ckpt_put(mlr_ckpt *c, const char *name, const void *data, size_t n);
/* Writes the records to DIR/state atomically, making DIR if it is missing. */
int mlr_ckpt_write(const mlr_ckpt *c, const char *dir, mlr_err *e);

/* Reads DIR/state: 1 and *out when there is one, 0 when DIR or the file
 * does not exist (a fresh start), -1 when it cannot be read or is not a
 * whole checkpoint (bad magic, truncated, checksum differs). */
int mlr_ckpt_read(const char *dir, mlr_ckpt **out, mlr_err *e);
/* Record NAME's bytes and length, NULL if absent (owned by c). */
const void *mlr_ckpt_get(const mlr_ckpt *c, const char *name, size_t *n);
/* Copies record NAME into buf, which must be exactly n bytes long; -1
 * (naming DIR's state) when it is absent or of another length. */
int mlr_ckpt_copy(const mlr_ckpt *c, const char *name, void *buf, size_t n, mlr_err *e);
/* DIR/state, for messages. */
const char *mlr_ckpt_path(const mlr_ckpt *c);

#endif
