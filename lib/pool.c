/* pool.c: persistent worker threads (see pool.h). */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "mlr.h"

enum { SPINS = 2000 }; /* polls before sleeping: some 50 microseconds with the pause, a batch phase */

/* A poll's pause: a waiting thread leaves the core's resources to the one
 * at work (two vCPUs may be one core's two threads). */
static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct mlr_pool {
    int n;                   /* threads, the caller included */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_ulong gen;        /* bumped once per run */
    atomic_int pending;      /* workers still in the current run */
    int quit;
    mlr_pool_fn fn;
    void *arg;
};

typedef struct {
    mlr_pool *p;
    int t;
} worker_arg;

static void *worker(void *v)
{
    worker_arg w = *(worker_arg *)v;
    free(v);
    mlr_pool *p = w.p;
    unsigned long seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load(&p->gen) == seen && spins < SPINS) {
            relax();
            spins++;
        }
        if (atomic_load(&p->gen) == seen) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !p->quit)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (p->quit)
            return NULL;
        seen = atomic_load(&p->gen);
        p->fn(w.t, p->n, p->arg);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

mlr_pool *mlr_pool_new(int threads)
{
    mlr_pool *p = xcalloc(1, sizeof *p);
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    int want = threads < 1 ? 1 : threads;
    p->tid = xcalloc((size_t)want, sizeof *p->tid);
    for (int t = 1; t < want; t++) {
        worker_arg *w = xmalloc(sizeof *w);
        *w = (worker_arg){p, t};
        if (pthread_create(&p->tid[t], NULL, worker, w) != 0) {
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

void mlr_pool_run(mlr_pool *p, mlr_pool_fn fn, void *arg)
{
    if (p->n == 1) {
        fn(0, 1, arg);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(0, p->n, arg);
    int spins = 0;
    while (atomic_load(&p->pending) > 0 && spins < SPINS) {
        relax();
        spins++;
    }
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void mlr_pool_free(mlr_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->n; t++)
        pthread_join(p->tid[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->tid);
    free(p);
}

void mlr_pool_range(size_t n, int t, int nt, size_t *lo, size_t *hi)
{
    *lo = n * (size_t)t / (size_t)nt;
    *hi = n * (size_t)(t + 1) / (size_t)nt;
}
