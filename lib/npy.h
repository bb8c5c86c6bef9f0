/* npy.h: NumPy .npy tensors, the one binary array format between tools.
 *
 * Reads format 1.0 and 2.0, writes 1.0 (2.0 when the header needs it).
 * dtypes '<f4', '<i4', '<i8'; 1-D or 2-D; C order. Anything else is refused
 * by name: "x.npy: unsupported dtype '<f8' (mlrec reads <f4, <i4, <i8)".
 * Also refused: bad magic, truncated header or data, fortran_order True,
 * a shape whose size disagrees with the bytes present. */
#ifndef MLR_NPY_H
#define MLR_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "mlr.h"

typedef enum { MLR_F4, MLR_I4, MLR_I8 } mlr_dtype;

typedef struct {
    mlr_dtype dtype;
    int ndim;          /* 1 or 2 */
    size_t shape[2];   /* shape[1] is 1 when ndim == 1 */
    void *data;        /* shape[0] * shape[1] elements, owned */
} mlr_array;

size_t mlr_dtype_size(mlr_dtype t);
const char *mlr_dtype_name(mlr_dtype t);      /* "<f4" ... */
size_t mlr_array_count(const mlr_array *a);    /* shape[0] * shape[1] */

/* Allocates a zeroed array. ndim 1 takes shape (rows), ndim 2 (rows, cols). */
void mlr_array_alloc(mlr_array *a, mlr_dtype t, int ndim, size_t rows, size_t cols);
void mlr_array_free(mlr_array *a); /* accepts a zeroed or freed array */

/* Whole-file read. path "-" is stdin. Fails if the dtype is not `want`
 * (pass -1 to accept any). */
int mlr_npy_read(const char *path, int want, mlr_array *a, mlr_err *e);
/* Whole-file write, atomically (temporary name, then rename); "-" is stdout. */
int mlr_npy_write(const char *path, const mlr_array *a, mlr_err *e);

/* Streaming, for tools that must not hold everything (mlr-topk):
 * read only the header (a->data stays NULL), then fread rows yourself;
 * or write a header for `rows` rows, then fwrite them. `name` is used in
 * messages. */
int mlr_npy_read_header(FILE *fp, const char *name, mlr_array *a, mlr_err *e);
int mlr_npy_write_header(FILE *fp, mlr_dtype t, int ndim, size_t rows, size_t cols);

#endif
