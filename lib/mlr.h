/* mlr.h: what every tool and library file shares: errors, memory,
 * number parsing, atomic output files and the seeded random generator.
 *
 * Convention: lib/ never prints and never exits (xmalloc aside). A function
 * that can fail takes an `mlr_err *` last, fills it and returns -1 (or NULL);
 * the tool prints the message with mlr_die(). Messages are in the shape
 * "FILE:LINE: what is wrong" (or just "what is wrong"); the tool name is
 * added by mlr_die. */
#ifndef MLR_H
#define MLR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MLR_VERSION "0.1.0"
/* The commit the program was built from (`git describe --always --dirty`),
 * "unknown" outside git or in a program linked without it (see mlr.c). */
const char *mlr_commit(void);

/* ---- errors ---- */
typedef struct {
    char msg[1024];
} mlr_err;

/* Formats into e->msg; returns -1 so callers write `return mlr_fail(e, ...)`. */
int mlr_fail(mlr_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "mlr-NAME: msg" on stderr, exit 1. mlr_usage_die exits 2 (bad usage). */
void mlr_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void mlr_usage_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Dies with e->msg. */
void mlr_die_err(const mlr_err *e) __attribute__((noreturn));
/* "mlr-NAME: warning: msg" on stderr, unless mlr_quiet_warnings() was
 * called (a tool's -q: "nothing on stderr but errors"). */
void mlr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mlr_quiet_warnings(void);

/* Call first in main, before anything opens a file: makes sure
 * descriptors 0, 1 and 2 are open (a closed stdout becomes /dev/full, so
 * writing to it fails and not writing to it does not); a closed pipe ends
 * the tool quietly with status 0 (SPEC.md); SIGINT, SIGTERM and SIGHUP
 * remove the tool's temporaries; stdout errors (full disk) fatal at exit. */
void mlr_init_tool(void);
/* Flushes and closes stdout; dies on a write error (e.g. /dev/full). */
void mlr_close_stdout(void);
/* The rest of a tool's getopt_long switch, for the codes its own cases do
 * not take: 'h' (usage on stdout), 'V' (TOOL VERSION), ':' (a missing
 * value) and anything else (an unknown option). Exits 0 or 2. */
void mlr_opt_rest(int c, const char *tool, void (*usage)(FILE *), char **argv)
    __attribute__((noreturn));
/* An old option name that still works: "mlr-NAME: warning: OLD is
 * deprecated; use NEW" on stderr (the renames are in docs/options.md). */
void mlr_opt_deprecated(const char *old, const char *new_name);

/* The number of online CPUs, at least 1: the default of every --threads. */
long mlr_cpus(void);
/* Seconds on the monotonic clock: the difference of two is a wall time. */
double mlr_now(void);

/* ---- memory: the one place that aborts on failure ---- */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* n, or 1 for 0: a size for malloc, which may return NULL for 0. */
static inline size_t mlr_nz(size_t n) { return n ? n : 1; }

/* ---- numbers: whole-string parses, 0 on success, -1 on anything else.
 * One grammar for the suite (docs/numbers.md): a decimal is JSON's number
 * with leading zeros allowed (-?D+(.D+)?([eE][+-]?D+)?), finite; an
 * integer is -?D+ within [INT64_MIN, INT64_MAX]. No blanks, '+', hex,
 * inf or nan. ---- */
/* 1 when s is a whole number of that grammar (integer: no '.', no 'e');
 * says nothing of its range. */
int mlr_is_number(const char *s, int integer);
int mlr_parse_double(const char *s, double *out);
int mlr_parse_long(const char *s, long *out);
/* Option helpers for tools: die with status 2 naming the option, which is
 * passed as the user writes it ("--lr"). */
double mlr_opt_double(const char *opt, const char *s);
long mlr_opt_long(const char *opt, const char *s, long min, long max);

/* ---- output files (docs/hardening.md, "The output contract") ----
 * path "-" or NULL (or /dev/stdout) means stdout: commit only flushes.
 * A regular file (or a name still to be created) is written to a
 * temporary PATH.tmp.PID.HOST.XXXXXX made exclusively in its directory and
 * renamed over PATH on commit. A symlink is followed to its final target,
 * which is replaced atomically (the link stays). Anything else (a device,
 * a FIFO, a terminal, /dev/fd/N) is written in place, never replaced.
 * abort removes the temporary and leaves any earlier file untouched. */
typedef struct {
    FILE *fp;
    char *path;     /* final name, NULL for stdout or a special file */
    char *tmp_path; /* temporary name, NULL for stdout or a special file */
} mlr_out;

/* o must keep its address until commit or abort (a registry points at it).
 * Opening a file output first removes the stale temporaries of PATH
 * (mlr_out_sweep). */
int mlr_out_open(mlr_out *o, const char *path, mlr_err *e);
int mlr_out_commit(mlr_out *o, mlr_err *e); /* fflush+fsync+fclose+rename */
void mlr_out_abort(mlr_out *o);
/* Removes every temporary of this process that is still open or waits in
 * a batch: called by mlr_die so a failing tool leaves no half-written
 * file behind and replaces nothing. SIGINT, SIGTERM and SIGHUP remove them
 * too (mlr_init_tool's handlers). */
void mlr_out_abort_all(void);
/* Unlinks every temporary of this process, from a signal handler of the
 * tool's own (async-signal-safe: unlink(2) only); mlr_init_tool's
 * handlers for SIGINT, SIGTERM, SIGHUP call it. */
void mlr_out_unlink_temporaries(void);
/* Outputs that go together: after mlr_out_batch_begin, a commit of a file
 * output completes its temporary but renames nothing; batch_commit then
 * renames them all. A failure before it (mlr_die -> abort_all) leaves
 * every earlier file as it was. Commits made inside library functions
 * (mlr_npy_write, model_save) join the batch too; mlr_spec_write runs a
 * batch of its own (the spec's files together). */
void mlr_out_batch_begin(void);
int mlr_out_batch_commit(mlr_err *e);
/* Removes the batch's completed temporaries and ends it (a function's own
 * batch that failed). Batches do not nest. */
void mlr_out_batch_abort(void);
/* 1 when PATH would be written as a regular file (atomically), 0 for
 * stdout and special files: a sidecar (X.ids) is made only beside a file. */
int mlr_out_is_file(const char *path);
/* Removes PATH's temporaries left by dead processes of this host and user
 * (a SIGKILL): regular files only, never through a symlink. Returns how
 * many. */
int mlr_out_sweep(const char *path);

/* ---- random numbers: xoshiro256**, seeded by splitmix64; no globals ---- */
typedef struct {
    uint64_t s[4];
} mlr_rng;

void mlr_rng_seed(mlr_rng *r, uint64_t seed);
uint64_t mlr_rng_u64(mlr_rng *r);
double mlr_rng_uniform(mlr_rng *r);          /* [0, 1) */
uint64_t mlr_rng_below(mlr_rng *r, uint64_t n); /* [0, n), unbiased */
double mlr_rng_normal(mlr_rng *r);           /* N(0, 1) */
/* Keyed hash of a byte string: the same (seed, bytes) always gives the same
 * value, so a split does not depend on row order or buffering. */
uint64_t mlr_hash64(uint64_t seed, const void *data, size_t len);

/* ---- checksums ---- */
/* SHA-256 of a file as 64 lowercase hex chars + NUL in hex[65]. */
int mlr_sha256_file(const char *path, char hex[65], mlr_err *e);
void mlr_sha256(const void *data, size_t len, char hex[65]);
/* Streaming SHA-256, for a checksum taken while reading: init, update any
 * number of times, final writes the 64 hex chars + NUL. */
typedef struct {
    uint32_t h[8];
    uint64_t len;         /* bytes hashed so far */
    unsigned char buf[64];
    size_t nbuf;
} mlr_sha256_ctx;
void mlr_sha256_init(mlr_sha256_ctx *c);
void mlr_sha256_update(mlr_sha256_ctx *c, const void *data, size_t len);
void mlr_sha256_final(mlr_sha256_ctx *c, char hex[65]);

#endif
