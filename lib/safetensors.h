/* safetensors.h: reading and writing .safetensors files (the model file).
 *
 * Layout: 8 bytes little-endian u64 N, N bytes of JSON header, then the
 * data buffer. The header maps each tensor name to
 * {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]} (offsets
 * into the data buffer) and may hold "__metadata__": {string: string}.
 * The header JSON goes through jansson.
 *
 * Reading is strict, since a model file may come from anywhere: refused
 * with "FILE: safetensors: what" are a file shorter than 8 bytes, a header
 * longer than MLR_ST_MAX_HEADER or than the file, JSON that is not an
 * object (or has duplicate keys), an entry with a missing, extra or
 * ill-typed field, a dtype other than F32/I32/I64/I16, more than MLR_ST_MAX_DIM
 * dimensions, a shape whose byte size overflows or disagrees with its
 * offsets, offsets out of the buffer, overlapping, or leaving a gap (the
 * tensors must tile the buffer exactly, as the format requires), and
 * metadata values that are not strings. */
#ifndef MLR_SAFETENSORS_H
#define MLR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "mlr.h"

#define MLR_ST_MAX_HEADER (100u << 20) /* bytes of header JSON */
#define MLR_ST_MAX_DIM 8

typedef enum { MLR_ST_F32, MLR_ST_I32, MLR_ST_I64, MLR_ST_I16 } mlr_st_dtype;

typedef struct {
    char *name;
    mlr_st_dtype dtype;
    int ndim;                      /* 0 (a scalar) .. MLR_ST_MAX_DIM */
    size_t shape[MLR_ST_MAX_DIM];
    size_t nbytes;                 /* product of shape x element size */
    void *data;                    /* nbytes, little-endian */
} mlr_st_tensor;

typedef struct {
    size_t n;                      /* tensors, in header (sorted name) order */
    mlr_st_tensor *t;              /* (n); names and data owned */
    size_t nmeta;
    char **meta_key, **meta_val;   /* (nmeta) each, owned */
} mlr_st_file;

/* The 8-byte little-endian u64 of the format's header length, read from
 * b / written into b[0..8), whatever the host's byte order; the
 * checkpoint file (checkpoint.c) frames its records with it too. */
uint64_t mlr_le64_get(const unsigned char *b);
void mlr_le64_put(unsigned char *b, uint64_t v);

const char *mlr_st_dtype_name(mlr_st_dtype t); /* "F32" ... */
size_t mlr_st_dtype_size(mlr_st_dtype t);

/* Parses a whole file image of len bytes; `name` is used in messages.
 * *f is zeroed first; on failure it is left freed. */
int mlr_st_parse(mlr_st_file *f, const void *buf, size_t len, const char *name, mlr_err *e);
/* Reads and parses PATH. */
int mlr_st_read(mlr_st_file *f, const char *path, mlr_err *e);
/* Accepts a zeroed or freed file. */
void mlr_st_free(mlr_st_file *f);

/* The tensor called name, or NULL. */
const mlr_st_tensor *mlr_st_find(const mlr_st_file *f, const char *name);
/* The metadata value of key, or NULL. */
const char *mlr_st_meta(const mlr_st_file *f, const char *key);

/* Every F32 value of the n tensors finite: 0; else -1 with "NAME: tensor
 * 'x': nan at element 12" (or inf, -inf) for the first one met. A model
 * is refused on load and never saved with one (docs/numbers.md). */
int mlr_st_check_finite(const mlr_st_tensor *t, size_t n, const char *name, mlr_err *e);

/* Writes n tensors (data in the given order) and nmeta metadata pairs to
 * PATH atomically (mlr_out: temporary name, fsync, rename), "-" for stdout.
 * The header is compact JSON with sorted keys, padded with spaces so the
 * data starts at a multiple of 8: the same input gives the same bytes. */
int mlr_st_write(const char *path, const mlr_st_tensor *t, size_t n,
                 const char *const *meta_key, const char *const *meta_val,
                 size_t nmeta, mlr_err *e);

#endif
