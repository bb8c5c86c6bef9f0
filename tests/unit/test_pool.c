/* test_pool.c: every t runs once per mlr_pool_run, every piece once per
 * mlr_pool_pieces, the return waits for all of them, a held-up piece
 * holds up no other, the ranges tile [0, n); mlr_pool_pin holds each
 * thread to a CPU of its own and gives the caller its CPUs back. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pool.h"

typedef struct {
    int ran[8];
    long sum[8];
} job;

static void count(int t, int nt, void *arg)
{
    job *j = arg;
    j->ran[t]++;
    size_t lo, hi;
    mlr_pool_range(1000, t, nt, &lo, &hi);
    for (size_t i = lo; i < hi; i++)
        j->sum[t] += (long)i;
}

static void test_runs_each_thread(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        mlr_pool *p = mlr_pool_new(threads);
        CHECK(mlr_pool_threads(p) == threads);
        job j;
        memset(&j, 0, sizeof j);
        for (int r = 0; r < 2000; r++)
            mlr_pool_run(p, count, &j);
        long total = 0;
        int ok = 1;
        for (int t = 0; t < threads; t++) {
            ok &= j.ran[t] == 2000;
            total += j.sum[t];
        }
        CHECKF(ok && total == 2000L * 499500L, "threads %d: total %ld", threads, total);
        mlr_pool_free(p);
    }
    mlr_pool_free(NULL);
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Worker t > 0 outlasts the caller's spin, so the caller sleeps for it. */
static void slow_workers(int t, int nt, void *arg)
{
    if (t > 0)
        pause_ms(3);
    count(t, nt, arg);
}

/* Runs far apart (the workers asleep between them) and runs whose workers
 * finish long after the caller: no wake-up may be lost either way, or a
 * run hangs or returns early. */
static void test_sleeping_runs(void)
{
    alarm(60); /* a lost wake-up hangs: let SIGALRM end it as a failure */
    for (int threads = 2; threads <= 3; threads++) {
        mlr_pool *p = mlr_pool_new(threads);
        job j;
        memset(&j, 0, sizeof j);
        for (int r = 0; r < 20; r++) {
            pause_ms(2);
            mlr_pool_run(p, r % 2 ? slow_workers : count, &j);
            int done = 1;
            for (int t = 0; t < threads; t++)
                done &= j.ran[t] == r + 1;
            CHECKF(done, "threads %d, run %d returned before every thread ran", threads, r);
        }
        mlr_pool_free(p);
    }
    alarm(0);
}

static void test_ranges(void)
{
    for (size_t n = 0; n < 9; n++)
        for (int nt = 1; nt <= 4; nt++) {
            size_t next = 0, lo, hi;
            for (int t = 0; t < nt; t++) {
                mlr_pool_range(n, t, nt, &lo, &hi);
                CHECK(lo == next && hi >= lo);
                next = hi;
            }
            CHECK(next == n);
        }
}

enum { NPIECES = 97 };

typedef struct {
    atomic_int ran[NPIECES];
    pthread_t by[NPIECES];
    int slow;                /* piece 0 waits for all the others, this many ms at most */
    atomic_int others;       /* pieces but 0 finished */
    int others_by_0;         /* of them, when piece 0 ended */
} pieces_job;

static void piece(int k, int n, void *arg)
{
    pieces_job *j = arg;
    for (int ms = 0; k == 0 && ms < j->slow && atomic_load(&j->others) < n - 1; ms++)
        pause_ms(1);
    if (k == 0)
        j->others_by_0 = atomic_load(&j->others);
    for (volatile int i = 0; i < 300; i++) /* a piece's work: a window for a race */
        ;
    if (n == NPIECES)
        atomic_fetch_add(&j->ran[k], 1);
    j->by[k] = pthread_self();
    if (k > 0)
        atomic_fetch_add(&j->others, 1);
}

/* Each piece once per run, every run complete at its return, runs of
 * each kind interleaved, asleep between runs or not, 1 to 4 threads. */
static void test_pieces_once(void)
{
    alarm(60);
    for (int threads = 1; threads <= 4; threads++) {
        mlr_pool *p = mlr_pool_new(threads);
        static pieces_job pj;
        memset(&pj, 0, sizeof pj);
        job j;
        memset(&j, 0, sizeof j);
        int runs = 3000, ok = 1;
        for (int r = 0; r < runs; r++) {
            if (r % 500 == 0)
                pause_ms(2);
            mlr_pool_pieces(p, NPIECES, piece, &pj);
            for (int k = 0; k < NPIECES; k++)
                ok &= atomic_load(&pj.ran[k]) == r + 1;
            mlr_pool_pieces(p, (size_t)(r % 3), piece, &pj); /* 0, 1, 2 pieces */
            mlr_pool_run(p, count, &j);
        }
        CHECKF(ok, "threads %d: a piece ran twice, or not before the return", threads);
        for (int t = 0; t < threads; t++)
            ok &= j.ran[t] == runs;
        CHECKF(ok, "threads %d: mlr_pool_run beside pieces", threads);
        mlr_pool_free(p);
    }
    alarm(0);
}

/* Piece 0 held up until all the others are done (10 s at most): the
 * other thread takes them all meanwhile, its own share and the rest of
 * the holder's (whichever thread holds piece 0). */
static void test_held_piece(void)
{
    alarm(60);
    mlr_pool *p = mlr_pool_new(2);
    static pieces_job pj;
    memset(&pj, 0, sizeof pj);
    pj.slow = 10000;
    mlr_pool_pieces(p, NPIECES, piece, &pj);
    CHECKF(pj.others_by_0 == NPIECES - 1, "piece 0 held up: %d of %d other pieces done meanwhile",
           pj.others_by_0, NPIECES - 1);
    mlr_pool_free(p);
    alarm(0);
}

#if defined(__linux__)
typedef struct {
    int cpu[8];      /* the one CPU thread t may use, -1: more than one */
    int spawned_cpus; /* how many CPUs a thread started meanwhile may use */
} pin_job;

static int only_cpu(pthread_t th)
{
    cpu_set_t s;
    if (pthread_getaffinity_np(th, sizeof s, &s) != 0 || CPU_COUNT(&s) != 1)
        return -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &s))
            return c;
    return -1;
}

static void note_cpu(int t, int nt, void *arg)
{
    (void)nt;
    ((pin_job *)arg)->cpu[t] = only_cpu(pthread_self());
}

static void count_cpus(int t, size_t lo, size_t hi, void *arg)
{
    (void)lo;
    (void)hi;
    cpu_set_t s;
    if (t == 1 && sched_getaffinity(0, sizeof s, &s) == 0)
        ((pin_job *)arg)->spawned_cpus = CPU_COUNT(&s);
}

static void test_pin(void)
{
    cpu_set_t before;
    CHECK(sched_getaffinity(0, sizeof before, &before) == 0);
    int ncpu = CPU_COUNT(&before);
    mlr_pool *p = mlr_pool_new(2);
    if (ncpu < 2) { /* one CPU allowed: nothing to pin to */
        CHECK(mlr_pool_pin(p) == 0);
        mlr_pool_free(p);
        return;
    }
    CHECK(mlr_pool_pin(p) == 1);
    pin_job j = {{-1, -1}, 0};
    mlr_pool_run(p, note_cpu, &j);
    CHECKF(j.cpu[0] >= 0 && j.cpu[1] >= 0 && j.cpu[0] != j.cpu[1],
           "threads on CPUs %d and %d: not one each", j.cpu[0], j.cpu[1]);
    CHECKF(CPU_ISSET(j.cpu[0], &before) && CPU_ISSET(j.cpu[1], &before), "a CPU not allowed");
    mlr_pool *q = mlr_pool_new(2); /* a second pool leaves the pinned caller alone */
    CHECK(mlr_pool_pin(q) == 0);
    mlr_pool_free(q);
    mlr_parallel_for(2, 2, count_cpus, &j);
    CHECKF(j.spawned_cpus == ncpu, "a thread started while pinned may use %d CPUs, not %d",
           j.spawned_cpus, ncpu);
    mlr_pool_free(p);
    cpu_set_t after;
    CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
    CHECKF(CPU_EQUAL(&before, &after), "the caller's CPUs not given back: %d of %d", CPU_COUNT(&after),
           ncpu);
    mlr_pool *one = mlr_pool_new(1);
    CHECK(mlr_pool_pin(one) == 0);
    mlr_pool_free(one);
}
#endif

int main(void)
{
    RUN(test_runs_each_thread);
    RUN(test_sleeping_runs);
    RUN(test_pieces_once);
    RUN(test_held_piece);
    RUN(test_ranges);
#if defined(__linux__)
    RUN(test_pin);
#endif
    return check_status();
}
