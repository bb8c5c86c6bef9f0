/* table.h: reading delimited tables row by row, columns found by name.
 *
 * TSV (SPEC.md: UTF-8, header line, TAB, LF, no quoting) is the default;
 * RFC-4180 CSV (ml-latest's files) goes through libcsv; headerless files
 * with another delimiter (ml-100k's u.data, u.item with '|') set
 * opts.header = 0 and name no columns.
 *
 * Every error names the file and line: "u.tsv:7: expected 4 fields, found 3".
 * Rejected as bad input: an empty file (no header), a duplicate column name,
 * a row with too few or too many fields, a CR before LF (CRLF line ends),
 * invalid UTF-8 (unless check_utf8 is 0), a NUL byte, an unclosed CSV quote. */
#ifndef MLR_TABLE_H
#define MLR_TABLE_H

/* The longest line (a CSV row: all its lines) a reader takes, in bytes:
 * a longer one is refused once this much of it is read, so a file with no
 * line end (/dev/zero, a binary file) costs bounded memory and time. */
#define MLR_MAX_LINE ((size_t)1 << 24)

#include <stddef.h>
#include <stdio.h>
#include "mlr.h"

typedef struct {
    char delim;     /* field separator; '\t' by default */
    int csv;        /* RFC-4180 quoting (libcsv); delim is then ',' unless set */
    int header;     /* first line holds the column names (default 1) */
    int check_utf8; /* reject invalid UTF-8 (default 1; 0 for ISO-8859-1 input) */
} mlr_read_opts;

/* The defaults above: TSV, header, UTF-8 checked. */
mlr_read_opts mlr_read_defaults(void);

typedef struct mlr_reader mlr_reader;

/* Opens PATH ("-" for stdin) and reads the header line when opts->header.
 * opts NULL means the defaults. Returns NULL and fills e on failure. */
mlr_reader *mlr_reader_open(const char *path, const mlr_read_opts *opts, mlr_err *e);
/* Accepts NULL. */
void mlr_reader_close(mlr_reader *r);

/* The fingerprint line ("#mlrec model=..." without its LF) a TSV may hold
 * before its header (docs/fingerprint.md), or NULL when it has none. */
const char *mlr_reader_fprint(const mlr_reader *r);
size_t mlr_reader_ncols(const mlr_reader *r);        /* 0 until the first row when no header */
const char *mlr_reader_colname(const mlr_reader *r, size_t i);
int mlr_reader_col(const mlr_reader *r, const char *name); /* index, or -1 if absent */
/* Index of a column that must be there; else -1 and "FILE: no column 'NAME' in the header". */
int mlr_reader_require(const mlr_reader *r, const char *name, mlr_err *e);

/* Reads the next row: 1 a row, 0 end of input, -1 error (e filled).
 * With a header, a row must have exactly ncols fields. Without one, the
 * first row fixes the count. Fields stay valid until the next call. */
int mlr_reader_next(mlr_reader *r, mlr_err *e);
const char *mlr_reader_field(const mlr_reader *r, size_t i);
size_t mlr_reader_field_len(const mlr_reader *r, size_t i);
size_t mlr_reader_nfields(const mlr_reader *r);

const char *mlr_reader_path(const mlr_reader *r); /* "stdin" for "-" */
long mlr_reader_line(const mlr_reader *r);        /* line of the current row, 1-based */

/* Field i of the current row as a number; on failure -1 with
 * "FILE:LINE: column 'rating': 'abc' is not a number". NaN and inf refused. */
int mlr_reader_double(const mlr_reader *r, size_t i, double *out, mlr_err *e);
int mlr_reader_long(const mlr_reader *r, size_t i, long *out, mlr_err *e);
/* SPEC.md's whole-number columns (timestamp: Unix seconds, user_age:
 * years): 1 for them. Every tool reads them as integers (docs/numbers.md),
 * so a value one tool refuses is refused by all. */
int mlr_column_is_integer(const char *column);
/* Field i as a double, read by mlr_reader_long when the column is a
 * whole-number one (mlr_column_is_integer), else by mlr_reader_double. */
int mlr_reader_number(const mlr_reader *r, size_t i, int integer, double *out, mlr_err *e);

/* The current row as TSV text: its fields joined by TAB, without a line
 * end, into dst, which must hold mlr_reader_row_size(r) bytes; returns the
 * length. For TSV input this is one copy of the line (a field never holds
 * a TAB there); a field of other input may hold TAB or LF (clean it). */
size_t mlr_reader_row_size(const mlr_reader *r);
size_t mlr_reader_row_tsv(const mlr_reader *r, char *dst);

/* ---- writing ---- */
/* Replaces TAB, CR and LF in s by spaces, in place (SPEC.md: ingest does this). */
void mlr_tsv_clean(char *s);
/* Writes n fields joined by TAB and a LF. */
void mlr_tsv_write_row(FILE *fp, size_t n, const char *const *fields);

/* 1 if the n bytes at s are valid UTF-8. */
int mlr_utf8_valid(const char *s, size_t n);
/* ISO-8859-1 to UTF-8: out must hold 2*n+1 bytes; NUL-terminated. */
void mlr_latin1_to_utf8(const char *in, size_t n, char *out);

#endif
