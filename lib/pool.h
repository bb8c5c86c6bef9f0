/* pool.h: a fixed set of worker threads that run one function together,
 * for loops called thousands of times a second (a training batch has a
 * few parallel phases; creating threads for each would cost more than
 * the work).
 *
 * mlr_pool_run(p, fn, arg) calls fn(t, T, arg) for t = 0..T-1, t = 0 in
 * the caller, and returns when every call has returned: the return is the
 * barrier. Which thread runs which t is fixed (a benchmark of T threads
 * at once needs that).
 *
 * mlr_pool_pieces(p, n, fn, arg) calls fn(k, n, arg) for the pieces
 * k = 0..n-1 and returns when all n have returned. Thread t takes the
 * pieces of its contiguous share first (t's mlr_pool_range of n: an idle
 * machine runs as with fixed shares, each thread's data in its cache),
 * then those left in the others' shares: on a busy machine a thread that
 * is preempted holds up only the piece it holds, not a fixed share. A caller
 * that keeps each piece's results apart (and sums them in k order) gets
 * the same bits whatever the thread count and whoever ran what.
 *
 * Waiting threads spin briefly, then sleep (a futex): a thread never
 * keeps spinning for one that has been preempted. Workers that call
 * OpenBLAS should have it single-threaded (openblas_set_num_threads(1)):
 * the parallelism is ours. */
#ifndef MLR_POOL_H
#define MLR_POOL_H

#include <stddef.h>

typedef struct mlr_pool mlr_pool;
typedef void (*mlr_pool_fn)(int t, int nt, void *arg);

/* threads < 1 means 1 (no worker: mlr_pool_run calls fn(0, 1, arg)). A
 * worker that cannot be started leaves the pool with fewer threads:
 * mlr_pool_threads says how many. Never NULL (out of memory aborts). */
mlr_pool *mlr_pool_new(int threads);
int mlr_pool_threads(const mlr_pool *p);
void mlr_pool_run(mlr_pool *p, mlr_pool_fn fn, void *arg);
/* n < 2^31 pieces; with one thread, or n < 2, they run in order here. */
void mlr_pool_pieces(mlr_pool *p, size_t n, mlr_pool_fn fn, void *arg);
/* Holds each thread of p (the caller as thread 0) to a CPU of its own:
 * the caller's current one, each worker the one it started on (the
 * scheduler's idlest then), the first free one the process may use where
 * two would share. On a busy machine the scheduler would otherwise stack
 * them on one CPU (see pool.c). Threads the caller starts meanwhile get
 * its CPUs from before. Returns 1 if pinned; 0 (nothing changed) with one
 * thread, more than MLR_POOL_PIN_MAX, fewer CPUs allowed than threads, a
 * caller already pinned by a pool, or no Linux.
 * mlr_pool_free, called from the same thread, gives the caller its CPUs
 * back. */
#define MLR_POOL_PIN_MAX 1024
int mlr_pool_pin(mlr_pool *p);
void mlr_pool_free(mlr_pool *p); /* accepts NULL; joins the workers */

/* [lo, hi) of t's share of n items cut into nt contiguous ranges. */
void mlr_pool_range(size_t n, int t, int nt, size_t *lo, size_t *hi);

/* Without a pool, for a loop run once: threads started for the call and
 * joined before it returns. Runs fn(t, lo, hi, arg) for t = 0 ..
 * threads-1 over [0, n) cut into contiguous ranges [n*t/threads,
 * n*(t+1)/threads), one thread each (the caller runs t = 0; a range may
 * be empty). threads <= 1 runs fn(0, 0, n) in the caller, and so does a
 * failed pthread_create for its range. */
typedef void (*mlr_range_fn)(int t, size_t lo, size_t hi, void *arg);
void mlr_parallel_for(int threads, size_t n, mlr_range_fn fn, void *arg);
/* The same fn over [0, n) one item at a time, fn(t, i, i + 1, arg), each
 * item to the first of the threads free (t: the thread, for its scratch):
 * on a busy machine a preempted thread holds up one item, not a range.
 * For work whose results do not depend on the thread. */
void mlr_parallel_claim(int threads, size_t n, mlr_range_fn fn, void *arg);

#endif
