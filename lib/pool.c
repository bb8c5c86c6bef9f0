/* pool.c: persistent worker threads (see pool.h).
 *
 * A run is published seqlock-fashion: the caller makes gen odd, writes
 * the run (function, argument, kind, pieces), then makes gen even. A
 * worker that sees a new even gen reads the run and checks gen again.
 * The pieces are dealt in contiguous ranges, one per thread (what thread
 * t would do with fixed shares: its rows stay in its cache from phase to
 * phase); each range has a claim word holding the run's gen beside the
 * range's next piece. A thread takes its own range's pieces first, then
 * the others' (a preempted thread's are taken by the rest). The gen in
 * the word means a worker that read one run and is preempted past its
 * end never claims a piece of the next. The caller waits until `done`
 * counts every piece (or, for mlr_pool_run, every worker).
 *
 * Waiting: a short spin (the next phase of a batch usually comes within
 * microseconds), then a futex sleep on the word waited for. A thread
 * never spins longer than SPINS polls: if the thread it waits for has
 * been preempted, the spinner's core is better given back, to that thread
 * or to whatever preempted it.
 *
 * Pinning (mlr_pool_pin): on a busy machine the scheduler stacks the
 * threads of a pool on one CPU. A worker that sleeps at a barrier is
 * woken by the caller; if its own CPU is busy with another process, the
 * wake-up puts it beside the caller (wake-affine), and from then on the
 * two take turns on one CPU while the other runs the load: 10 epochs of
 * ML-100K beside a loop of /bin/true took 2.5 s on 2 threads and 2.3 s on
 * 1, with user time equal to wall time (bench/busy.sh, docs/performance.md).
 * Held each to its own CPU, the threads share their CPUs with the load
 * but never each other: 1.5 s. Each is held where the scheduler put it
 * (a worker's first CPU: the idlest when it started), so that two
 * trainings side by side (a grid search) stay apart. A pinned caller's
 * mask would pass to the threads it starts, so those (spawn) get the mask
 * it had before. */
#include "pool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "mlr.h"

enum { SPINS = 1000 }; /* polls before sleeping: some 20 microseconds with the pause */

/* A poll's pause: a waiting thread leaves the core's resources to the one
 * at work (two vCPUs may be one core's two threads). */
static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Sleeps while *w == v (or returns at once, or spuriously: callers loop). */
static void futex_wait(atomic_uint *w, unsigned v)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
#else
    (void)w;
    (void)v;
    sched_yield(); /* no futex: the waiter polls, yielding its core */
#endif
}

static void futex_wake_all(atomic_uint *w)
{
#if defined(__linux__)
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)w;
#endif
}

enum { RUN_EACH, RUN_PIECES }; /* mlr_pool_run, mlr_pool_pieces */

struct mlr_pool {
    int n;                   /* threads, the caller included */
    pthread_t *tid;
    atomic_uint gen;         /* odd while a run is being written; the workers' futex */
    atomic_uint sleepers;    /* workers asleep on gen */
    atomic_ullong *claim;    /* (n) (gen << 32) | the next piece of thread t's range */
    atomic_uint done;        /* pieces (or workers) finished; the caller's futex */
    atomic_uint caller_asleep;
    atomic_int quit;
    int pinned;              /* mlr_pool_pin held the threads: free restores the caller */
    atomic_int *started_on;  /* (n) the CPU each worker first ran on, -1 until it says */
    /* the run, written while gen is odd (atomics: a worker may read them
     * while they are rewritten, then sees gen changed and reads again) */
    atomic_int kind;
    atomic_uint pieces;
    _Atomic(mlr_pool_fn) fn;
    _Atomic(void *) arg;
};

typedef struct {
    mlr_pool *p;
    int t;
} worker_arg;

#if defined(__linux__)
static _Thread_local int pinned_here;    /* a pool holds this thread to one CPU */
static _Thread_local cpu_set_t unpinned; /* its CPUs before */
#endif

/* pthread_create, with the caller's own CPUs if a pool pinned it. */
static int spawn(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr, *a = NULL;
#if defined(__linux__)
    if (pinned_here && pthread_attr_init(&attr) == 0) {
        a = &attr;
        pthread_attr_setaffinity_np(a, sizeof unpinned, &unpinned);
    }
#endif
    int rc = pthread_create(tid, a, fn, arg);
    if (a)
        pthread_attr_destroy(a);
    return rc;
}

/* Waits until *w != v: SPINS polls, then futex sleeps counted in *sleepers. */
static void wait_change(atomic_uint *w, unsigned v, atomic_uint *sleepers)
{
    for (int spins = 0; spins < SPINS; spins++) {
        if (atomic_load(w) != v)
            return;
        relax();
    }
    while (atomic_load(w) == v) {
        atomic_fetch_add(sleepers, 1);
        if (atomic_load(w) == v) /* seq_cst: the waker sees sleepers, or we see w */
            futex_wait(w, v);
        atomic_fetch_sub(sleepers, 1);
    }
}

/* One finished piece or worker; wakes the caller if it sleeps. */
static void finish(mlr_pool *p)
{
    atomic_fetch_add(&p->done, 1);
    if (atomic_load(&p->caller_asleep))
        futex_wake_all(&p->done);
}

/* The end of thread t's range of the pieces. */
static unsigned range_end(unsigned pieces, int t, int n)
{
    return (unsigned)((unsigned long long)pieces * (unsigned)(t + 1) / (unsigned)n);
}

/* Runs the pieces of run g left in thread v's range; returns 0 if the run
 * is over (a newer one published), else 1. */
static int take_range(mlr_pool *p, int v, unsigned g, unsigned pieces, mlr_pool_fn fn, void *arg)
{
    unsigned end = range_end(pieces, v, p->n);
    unsigned long long c = atomic_load(&p->claim[v]);
    for (;;) {
        if ((unsigned)(c >> 32) != g)
            return 0;
        if ((unsigned)(c & 0xffffffffu) >= end)
            return 1;
        if (!atomic_compare_exchange_weak(&p->claim[v], &c, c + 1))
            continue; /* c holds the word's new value */
        fn((int)(c & 0xffffffffu), (int)pieces, arg);
        finish(p);
        c = atomic_load(&p->claim[v]);
    }
}

/* Thread t's pieces of run g: its own range, then the others' in turn. */
static void take_pieces(mlr_pool *p, int t, unsigned g, unsigned pieces, mlr_pool_fn fn,
                        void *arg)
{
    for (int i = 0; i < p->n; i++)
        if (!take_range(p, (t + i) % p->n, g, pieces, fn, arg))
            return;
}

static void *worker(void *v)
{
    worker_arg w = *(worker_arg *)v;
    free(v);
    mlr_pool *p = w.p;
    unsigned seen = 0;
#if defined(__linux__)
    atomic_store(&p->started_on[w.t], sched_getcpu()); /* where the scheduler put it: an idle CPU */
#endif
    for (;;) {
        wait_change(&p->gen, seen, &p->sleepers);
        unsigned g = atomic_load(&p->gen);
        if (g & 1u) { /* being written: wait for the even value */
            relax();
            continue;
        }
        int kind = atomic_load(&p->kind), quit = atomic_load(&p->quit);
        unsigned pieces = atomic_load(&p->pieces);
        mlr_pool_fn fn = atomic_load(&p->fn);
        void *arg = atomic_load(&p->arg);
        if (atomic_load(&p->gen) != g)
            continue; /* rewritten meanwhile: read it again */
        seen = g;
        if (quit)
            return NULL;
        if (kind == RUN_PIECES) {
            take_pieces(p, w.t, g, pieces, fn, arg);
        } else {
            fn(w.t, p->n, arg);
            finish(p);
        }
    }
}

mlr_pool *mlr_pool_new(int threads)
{
    mlr_pool *p = xcalloc(1, sizeof *p);
    p->n = 1;
    atomic_init(&p->gen, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->caller_asleep, 0);
    atomic_init(&p->quit, 0);
    int want = threads < 1 ? 1 : threads;
    p->tid = xcalloc((size_t)want, sizeof *p->tid);
    p->claim = xcalloc((size_t)want, sizeof *p->claim);
    p->started_on = xcalloc((size_t)want, sizeof *p->started_on);
    for (int t = 0; t < want; t++)
        atomic_init(&p->started_on[t], -1);
    for (int t = 0; t < want; t++)
        atomic_init(&p->claim[t], 0);
    for (int t = 1; t < want; t++) {
        worker_arg *w = xmalloc(sizeof *w);
        *w = (worker_arg){p, t};
        if (spawn(&p->tid[t], worker, w) != 0) {
            free(w);
            break;
        }
        p->n++;
    }
    return p;
}

int mlr_pool_threads(const mlr_pool *p)
{
    return p->n;
}

/* Publishes a run to the workers and wakes those asleep; returns its gen. */
static unsigned publish(mlr_pool *p, int kind, unsigned pieces, mlr_pool_fn fn, void *arg)
{
    unsigned g = atomic_load(&p->gen) + 2u;
    atomic_store(&p->gen, g - 1u);
    atomic_store(&p->kind, kind);
    atomic_store(&p->pieces, pieces);
    atomic_store(&p->fn, fn);
    atomic_store(&p->arg, arg);
    atomic_store(&p->done, 0);
    for (int t = 0; t < p->n; t++) { /* each range starts where the one before ends */
        unsigned lo = t ? range_end(pieces, t - 1, p->n) : 0;
        atomic_store(&p->claim[t], (unsigned long long)g << 32 | lo);
    }
    atomic_store(&p->gen, g);
    if (atomic_load(&p->sleepers) > 0)
        futex_wake_all(&p->gen);
    return g;
}

/* The caller's wait for `target` finished pieces or workers. */
static void wait_done(mlr_pool *p, unsigned target)
{
    for (int spins = 0; spins < SPINS; spins++) {
        if (atomic_load(&p->done) >= target)
            return;
        relax();
    }
    unsigned d;
    while ((d = atomic_load(&p->done)) < target) {
        atomic_store(&p->caller_asleep, 1);
        if (atomic_load(&p->done) == d) /* seq_cst: finish() sees the flag, or we see done */
            futex_wait(&p->done, d);
        atomic_store(&p->caller_asleep, 0);
    }
}

void mlr_pool_run(mlr_pool *p, mlr_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(0, 1, arg);
        return;
    }
    publish(p, RUN_EACH, 0, fn, arg);
    fn(0, p->n, arg);
    wait_done(p, (unsigned)p->n - 1u);
}

void mlr_pool_pieces(mlr_pool *p, size_t n, mlr_pool_fn fn, void *arg)
{
    if (p->n == 1 || n < 2) {
        for (size_t k = 0; k < n; k++)
            fn((int)k, (int)n, arg);
        return;
    }
    unsigned g = publish(p, RUN_PIECES, (unsigned)n, fn, arg);
    take_pieces(p, 0, g, (unsigned)n, fn, arg);
    wait_done(p, (unsigned)n);
}

#if defined(__linux__)
/* Thread t of p (0: the caller) to the CPUs of set. */
static int set_cpus(mlr_pool *p, int t, const cpu_set_t *set)
{
    return pthread_setaffinity_np(t ? p->tid[t] : pthread_self(), sizeof *set, set);
}

/* The CPU a worker started on (waiting a little for it to say), -1 if it
 * has not said by then. */
static int started_cpu(mlr_pool *p, int t)
{
    for (int i = 0; i < 2000 && atomic_load(&p->started_on[t]) < 0; i++)
        sched_yield();
    return atomic_load(&p->started_on[t]);
}

/* The first CPU of allowed not in taken (one exists: callers count). */
static int first_free(const cpu_set_t *allowed, const cpu_set_t *taken)
{
    int c = 0;
    while (c < CPU_SETSIZE - 1 && (!CPU_ISSET(c, allowed) || CPU_ISSET(c, taken)))
        c++;
    return c;
}
#endif

int mlr_pool_pin(mlr_pool *p)
{
#if defined(__linux__)
    cpu_set_t allowed, taken;
    if (p->n < 2 || p->pinned || pinned_here ||
        sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < p->n)
        return 0;
    /* each thread where the scheduler put it (the caller's CPU, a new
     * worker's: the idlest when it was started, which keeps two runs side
     * by side apart); one that would share a CPU takes the first free one */
    int cpu[MLR_POOL_PIN_MAX];
    if (p->n > MLR_POOL_PIN_MAX)
        return 0;
    CPU_ZERO(&taken);
    for (int t = 0; t < p->n; t++) {
        int c = t ? started_cpu(p, t) : sched_getcpu();
        if (c < 0 || c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed) || CPU_ISSET(c, &taken))
            c = first_free(&allowed, &taken);
        CPU_SET(c, &taken);
        cpu[t] = c;
    }
    for (int t = 0; t < p->n; t++) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu[t], &one);
        if (set_cpus(p, t, &one) != 0) {
            for (int u = 0; u <= t; u++) /* all or none */
                set_cpus(p, u, &allowed);
            return 0;
        }
    }
    unpinned = allowed;
    pinned_here = p->pinned = 1;
    return 1;
#else
    (void)p;
    return 0;
#endif
}

void mlr_pool_free(mlr_pool *p)
{
    if (!p)
        return;
#if defined(__linux__)
    if (p->pinned) { /* the workers end; the caller gets its CPUs back */
        pthread_setaffinity_np(pthread_self(), sizeof unpinned, &unpinned);
        pinned_here = 0;
    }
#endif
    atomic_store(&p->quit, 1);
    publish(p, RUN_EACH, 0, NULL, NULL);
    for (int t = 1; t < p->n; t++)
        pthread_join(p->tid[t], NULL);
    free(p->tid);
    free(p->claim);
    free(p->started_on);
    free(p);
}

void mlr_pool_range(size_t n, int t, int nt, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)t / (size_t)nt;
    *hi = n * (size_t)(t + 1) / (size_t)nt;
}

/* ---- mlr_parallel_for, mlr_parallel_claim: threads for one call ---- */

typedef struct {
    mlr_range_fn fn;
    void *arg;
    int t;
    size_t lo, hi;
} range_job;

static void *range_main(void *p)
{
    range_job *j = p;
    j->fn(j->t, j->lo, j->hi, j->arg);
    return NULL;
}

void mlr_parallel_for(int threads, size_t n, mlr_range_fn fn, void *arg)
{
    if (threads < 1) threads = 1;
    if (threads == 1) {
        fn(0, 0, n, arg);
        return;
    }
    range_job *jobs = xcalloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = xcalloc((size_t)threads, sizeof *tid);
    int *started = xcalloc((size_t)threads, sizeof *started);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (range_job){fn, arg, t, n * (size_t)t / (size_t)threads,
                              n * (size_t)(t + 1) / (size_t)threads};
        if (t > 0) started[t] = spawn(&tid[t], range_main, &jobs[t]) == 0;
    }
    range_main(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else range_main(&jobs[t]);
    }
    free(started);
    free(tid);
    free(jobs);
}

typedef struct {
    mlr_range_fn fn;
    void *arg;
    int t;
    size_t n;
    atomic_size_t *next;
} claim_job;

/* Items one at a time, each to the first thread free: a preempted thread
 * holds up only the item it holds. */
static void *claim_main(void *p)
{
    claim_job *j = p;
    size_t i;
    while ((i = atomic_fetch_add(j->next, 1)) < j->n)
        j->fn(j->t, i, i + 1, j->arg);
    return NULL;
}

void mlr_parallel_claim(int threads, size_t n, mlr_range_fn fn, void *arg)
{
    if (threads < 1) threads = 1;
    if (threads == 1) {
        fn(0, 0, n, arg);
        return;
    }
    atomic_size_t next;
    atomic_init(&next, 0);
    claim_job *jobs = xcalloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = xcalloc((size_t)threads, sizeof *tid);
    int *started = xcalloc((size_t)threads, sizeof *started);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (claim_job){fn, arg, t, n, &next};
        if (t > 0) started[t] = spawn(&tid[t], claim_main, &jobs[t]) == 0;
    }
    claim_main(&jobs[0]); /* the caller takes items too: it alone if no thread started */
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(tid[t], NULL);
    free(started);
    free(tid);
    free(jobs);
}
