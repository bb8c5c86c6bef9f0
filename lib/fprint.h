/* fprint.h: the fingerprint line of an output (docs/fingerprint.md).
 *
 * Embeddings (in X.ids), top-k lists and predictions begin with one line
 *     #mlrec model=HEX exclude=HEX|none|unknown
 * before their header: the model's fingerprint (the SHA-256 of its
 * .safetensors file, MANIFEST's line of a served directory) and, for
 * lists, what was excluded (the SHA-256 of the excluded table). A reader
 * that meets outputs of two models refuses them in one line naming both;
 * an output without the line (older files, hand-made ones) is unchecked. */
#ifndef MLR_FPRINT_H
#define MLR_FPRINT_H

#include <stdio.h>
#include "mlr.h"

typedef struct {
    char model[65];   /* 64 hex chars, "" unknown */
    char exclude[65]; /* 64 hex chars, "none", "unknown", or "" not said */
} mlr_fprint;

/* Parses LINE (mlr_reader_fprint's; NULL: no line, everything unknown).
 * Unknown keys are skipped (later versions may add some); a malformed
 * value fails with "PATH: bad fingerprint line: ...". */
int mlr_fprint_parse(mlr_fprint *f, const char *line, const char *path, mlr_err *e);
/* Reads the fingerprint line of the table PATH (its header must be
 * readable); a file without one gives everything unknown. */
int mlr_fprint_read(const char *path, mlr_fprint *f, mlr_err *e);
/* Writes the line with its LF; nothing when f says nothing. */
void mlr_fprint_write(FILE *fp, const mlr_fprint *f);

/* A model's fingerprint: the SHA-256 of the file. */
int mlr_fprint_model(const char *path, char hex[65], mlr_err *e);
/* The fingerprint of N models averaged (mlr-predict's and mlr-embed's
 * repeated --model): one model's own; for more, the SHA-256 of their
 * fingerprints sorted, each followed by a newline (repeats kept: the
 * mean weighs a model given twice twice). ORDER[i] is set to the index in
 * PATHS of the i-th model in that sorted order, the order the tools
 * average them in: an output then depends on the set, never on the
 * order of the options, and one fingerprint names one output. */
int mlr_fprint_models(const char *const *paths, int n, int *order, char hex[65], mlr_err *e);
/* The set's fingerprint from its models' fingerprints SORTED (n >= 1,
 * each 64 hex chars): one is its own, more the SHA-256 of them each
 * followed by a newline (mlr_fprint_models' rule; mlr-fuse's lists). */
void mlr_fprint_set(const char *const *sorted, int n, char hex[65]);
/* The SHA-256 of a regular file into hex, or "unknown" for anything
 * else (a pipe cannot be read twice). */
int mlr_fprint_table(const char *path, char hex[65], mlr_err *e);

/* Outputs of one model: A (named a) and B (named b) must carry the same
 * model fingerprint, else "a is of model X, b of model Y: outputs of two
 * models" (12 hex chars each). Either unknown: accepted. */
int mlr_fprint_same(const char *a, const mlr_fprint *fa, const char *b, const mlr_fprint *fb,
                    mlr_err *e);

#endif
