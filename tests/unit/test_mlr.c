/* test_mlr.c: errors, number parsing, atomic output, stdout and SIGPIPE
 * handling, RNG, hashing and SHA-256 of lib/mlr.c. Behaviour that ends the
 * process (mlr_die, closed pipes) runs in a forked child. */
#include "check.h"
#include "mlr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_mlr.XXXXXX";

static char *tpath(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static int write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fputs(text, fp);
    return fclose(fp);
}

static int file_equals(const char *path, const char *text)
{
    char buf[4096];
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries in tmpdir starting with prefix (temporaries left over). */
static int count_prefix(const char *prefix)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '^%s' 2>/dev/null", tmpdir, prefix);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* Runs fn in a child with stderr captured into err; returns the wait status. */
static int run_child(void (*fn)(void), char *err, size_t errsize)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn();
        _exit(99);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (n < errsize - 1 && (k = read(fds[0], err + n, errsize - 1 - n)) > 0)
        n += (size_t)k;
    err[n] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return status;
}

/* err is exactly "PROGRAM: msg\n", PROGRAM being this test's own name. */
static int is_msg(const char *err, const char *msg)
{
    size_t n = strlen(program_invocation_short_name);
    return strncmp(err, program_invocation_short_name, n) == 0 && strncmp(err + n, ": ", 2) == 0 &&
           strncmp(err + n + 2, msg, strlen(msg)) == 0 && strcmp(err + n + 2 + strlen(msg), "\n") == 0;
}

static void test_fail(void)
{
    mlr_err e;
    CHECK(mlr_fail(&e, "%s:%d: bad %s", "x.tsv", 7, "thing") == -1);
    CHECK(strcmp(e.msg, "x.tsv:7: bad thing") == 0);
    CHECK(mlr_fail(NULL, "ignored") == -1);
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mlr_fail(&e, "%s", big);
    CHECK(strlen(e.msg) == sizeof e.msg - 1);
}

static void test_parse_double(void)
{
    double v;
    CHECK(mlr_parse_double("3.5", &v) == 0 && v == 3.5);
    CHECK(mlr_parse_double("-1e3", &v) == 0 && v == -1000);
    CHECK(mlr_parse_double("0", &v) == 0 && v == 0);
    CHECK(mlr_parse_double("1e-400", &v) == 0 && v >= 0 && v < 1e-300);
    CHECK(mlr_parse_double("007.50", &v) == 0 && v == 7.5);
    CHECK(mlr_parse_double("2E+2", &v) == 0 && v == 200);
    CHECK(mlr_parse_double("-0.5e-1", &v) == 0 && v == -0.05);
    /* docs/numbers.md: JSON's number, leading zeros allowed; nothing else */
    const char *bad[] = {"", " 1", "1 ", "1x", "x", "nan", "NaN", "inf", "-Infinity",
                         "1e999", "-1e999", "\t2", "1\n", "0x5", "0x1p2", "0X1P-2", "+1",
                         "+0.5", ".5", "5.", "-.5", "1e", "1e+", "1.e3", "--1", "-",
                         "1,5", "0b1", "1_000", "infinity", "\v3", "3\r"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 42;
        CHECKF(mlr_parse_double(bad[i], &v) == -1 && v == 42, "accepted '%s'", bad[i]);
    }
    CHECK(mlr_parse_double(NULL, &v) == -1);
}

static void test_parse_long(void)
{
    long v;
    CHECK(mlr_parse_long("42", &v) == 0 && v == 42);
    CHECK(mlr_parse_long("-7", &v) == 0 && v == -7);
    CHECK(mlr_parse_long("9223372036854775807", &v) == 0 && v == 9223372036854775807L);
    CHECK(mlr_parse_long("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    CHECK(mlr_parse_long("0042", &v) == 0 && v == 42);
    const char *bad[] = {"", " 1", "1 ", "12a", "1.5", "9223372036854775808",
                         "-9223372036854775809", "0x10", "abc", "+5", "1e3", "5.",
                         "99999999999999999999", "-", "\n7", "7\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 42;
        CHECKF(mlr_parse_long(bad[i], &v) == -1 && v == 42, "accepted '%s'", bad[i]);
    }
}

static void child_opt_long(void) { mlr_opt_long("--k", "0", 1, 100); }
static void child_opt_long_junk(void) { mlr_opt_long("--k", "10x", 1, 100); }
static void child_opt_double(void) { mlr_opt_double("--lr", "fast"); }

static void test_opt_dies_with_2(void)
{
    char err[1024];
    int st = run_child(child_opt_long, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECKF(is_msg(err, "--k: 0 is out of range [1, 100]"), "got '%s'", err);
    st = run_child(child_opt_long_junk, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECKF(is_msg(err, "--k: '10x' is not an integer"), "got '%s'", err);
    st = run_child(child_opt_double, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECKF(is_msg(err, "--lr: 'fast' is not a number"), "got '%s'", err);
    CHECK(mlr_opt_long("--k", "5", 1, 100) == 5);
    CHECK(mlr_opt_double("--lr", "0.25") == 0.25);
}

static void child_die_with_open_out(void)
{
    mlr_out o;
    mlr_err e;
    if (mlr_out_open(&o, tpath("dying.txt"), &e) != 0)
        _exit(98);
    fputs("half", o.fp);
    mlr_die("%s:%d: broken", "in.tsv", 3);
}

static void test_die_removes_temporaries(void)
{
    char err[1024];
    CHECK(write_file(tpath("dying.txt"), "old\n") == 0);
    int st = run_child(child_die_with_open_out, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECKF(is_msg(err, "in.tsv:3: broken"), "got '%s'", err);
    CHECK(file_equals(tpath("dying.txt"), "old\n"));
    CHECK(count_prefix("dying.txt.tmp") == 0);
}

static void child_warn(void)
{
    mlr_warn("only %d", 3);
    exit(0);
}

static void test_warn(void)
{
    char err[1024];
    int st = run_child(child_warn, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(is_msg(err, "warning: only 3"));
}

static void test_out_commit_and_abort(void)
{
    mlr_out o;
    mlr_err e;
    char p[512];
    snprintf(p, sizeof p, "%s", tpath("out.txt"));
    CHECK(mlr_out_open(&o, p, &e) == 0);
    CHECK(o.tmp_path && strstr(o.tmp_path, "out.txt.tmp.") != NULL);
    fputs("first\n", o.fp);
    CHECK(!exists(p));
    CHECK(mlr_out_commit(&o, &e) == 0);
    CHECK(file_equals(p, "first\n"));
    CHECK(count_prefix("out.txt.tmp") == 0);

    CHECK(mlr_out_open(&o, p, &e) == 0);
    fputs("second, never seen\n", o.fp);
    mlr_out_abort(&o);
    mlr_out_abort(&o); /* twice is harmless */
    CHECK(file_equals(p, "first\n"));
    CHECK(count_prefix("out.txt.tmp") == 0);

    /* abort_all removes every open temporary and keeps earlier files */
    mlr_out a, b;
    CHECK(mlr_out_open(&a, tpath("a.txt"), &e) == 0);
    CHECK(mlr_out_open(&b, p, &e) == 0);
    mlr_out_abort_all();
    CHECK(!exists(tpath("a.txt")) && file_equals(p, "first\n"));
    CHECK(count_prefix("a.txt.tmp") == 0 && count_prefix("out.txt.tmp") == 0);
}

static void test_out_errors(void)
{
    mlr_out o;
    mlr_err e;
    CHECK(mlr_out_open(&o, tpath("no/such/dir/x.txt"), &e) == -1);
    CHECKF(strstr(e.msg, "x.txt: cannot create: No such file or directory") != NULL, "%s", e.msg);
    CHECK(mlr_out_open(&o, "", &e) == -1);
    /* stdout: no temporary, commit only flushes */
    CHECK(mlr_out_open(&o, "-", &e) == 0 && o.fp == stdout && !o.tmp_path);
    CHECK(mlr_out_commit(&o, &e) == 0);
    CHECK(mlr_out_open(&o, NULL, &e) == 0 && o.fp == stdout);
    mlr_out_abort(&o);
    /* a directory is no regular file: opened in place, which fails */
    CHECK(mkdir(tpath("isdir"), 0700) == 0);
    CHECK(mlr_out_open(&o, tpath("isdir"), &e) == -1);
    CHECKF(strstr(e.msg, "isdir: cannot open: Is a directory") != NULL, "%s", e.msg);
    CHECK(count_prefix("isdir.tmp") == 0);
}

/* A batch: commits complete the temporaries, batch_commit renames them
 * all; abort_all before it leaves every earlier file as it was. */
static void test_out_batch(void)
{
    mlr_out a, b;
    mlr_err e;
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s", tpath("ba.txt"));
    snprintf(pb, sizeof pb, "%s", tpath("bb.txt"));
    CHECK(mlr_out_open(&a, pa, &e) == 0 && mlr_out_open(&b, pb, &e) == 0);
    fputs("a1\n", a.fp);
    fputs("b1\n", b.fp);
    mlr_out_batch_begin();
    CHECK(mlr_out_commit(&a, &e) == 0 && mlr_out_commit(&b, &e) == 0);
    CHECK(!exists(pa) && !exists(pb)); /* nothing renamed yet */
    CHECK(mlr_out_batch_commit(&e) == 0);
    CHECK(file_equals(pa, "a1\n") && file_equals(pb, "b1\n"));
    CHECK(count_prefix("ba.txt.tmp") == 0 && count_prefix("bb.txt.tmp") == 0);

    CHECK(mlr_out_open(&a, pa, &e) == 0 && mlr_out_open(&b, pb, &e) == 0);
    fputs("a2\n", a.fp);
    mlr_out_batch_begin();
    CHECK(mlr_out_commit(&a, &e) == 0); /* the first complete, the second fails */
    mlr_out_abort_all();
    CHECK(file_equals(pa, "a1\n") && file_equals(pb, "b1\n"));
    CHECK(count_prefix("ba.txt.tmp") == 0 && count_prefix("bb.txt.tmp") == 0);
    /* the batch ended with the abort: a commit renames again */
    CHECK(mlr_out_open(&a, pa, &e) == 0);
    fputs("a3\n", a.fp);
    CHECK(mlr_out_commit(&a, &e) == 0 && file_equals(pa, "a3\n"));
}

/* Temporaries are made exclusively: a symlink planted at every name of
 * the old scheme is never followed; the sweep removes a dead process's
 * temporary, never a live one's, never through a symlink. */
static void test_out_temporaries(void)
{
    mlr_out o;
    mlr_err e;
    char p[512], name[600], victim[512];
    snprintf(p, sizeof p, "%s", tpath("t.txt"));
    snprintf(victim, sizeof victim, "%s", tpath("victim"));
    FILE *fp = fopen(victim, "w");
    fputs("victim\n", fp);
    fclose(fp);
    snprintf(name, sizeof name, "%s.tmp.%ld", p, (long)getpid());
    CHECK(symlink(victim, name) == 0);
    CHECK(mlr_out_open(&o, p, &e) == 0);
    CHECK(strncmp(o.tmp_path, name, strlen(name)) == 0 && o.tmp_path[strlen(name)] == '.');
    fputs("new\n", o.fp);
    CHECK(mlr_out_commit(&o, &e) == 0);
    CHECK(file_equals(victim, "victim\n") && file_equals(p, "new\n"));
    unlink(name);
    CHECK(mlr_out_is_file(p) == 1 && mlr_out_is_file(tpath("new")) == 1);
    CHECK(mlr_out_is_file("-") == 0 && mlr_out_is_file("/dev/null") == 0);
    CHECK(mlr_out_is_file("/dev/stdout") == 0);

    /* a dead process's temporary: a child that has exited */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    CHECK(mlr_out_open(&o, p, &e) == 0);
    const char *host = strchr(o.tmp_path + strlen(p) + 5, '.') + 1; /* HOST.XXXXXX */
    char dead[700], live[700], link[700];
    snprintf(dead, sizeof dead, "%s.tmp.%ld.%.*s.abcdef", p, (long)child, (int)(strlen(host) - 7), host);
    snprintf(live, sizeof live, "%s.tmp.%ld.%.*s.abcdef", p, (long)getppid(), (int)(strlen(host) - 7), host);
    snprintf(link, sizeof link, "%s.tmp.%ld.%.*s.zzzzzz", p, (long)child, (int)(strlen(host) - 7), host);
    mlr_out_abort(&o);
    fclose(fopen(dead, "w"));
    fclose(fopen(live, "w"));
    CHECK(symlink(victim, link) == 0);
    CHECK(mlr_out_sweep(p) == 1);
    CHECK(!exists(dead) && exists(live) && file_equals(victim, "victim\n"));
    unlink(live);
    unlink(link);
}

static void child_full_stdout(void)
{
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        _exit(97);
    dup2(fd, 1);
    mlr_init_tool();
    printf("some output\n");
    mlr_close_stdout();
    exit(0);
}

static void child_full_stdout_no_close(void)
{
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        _exit(97);
    dup2(fd, 1);
    mlr_init_tool();
    printf("forgot to close\n");
    exit(0);
}

static void test_stdout_write_error(void)
{
    char err[1024];
    if (access("/dev/full", W_OK) != 0) {
        printf("SKIP test_stdout_write_error: no /dev/full\n");
        return;
    }
    int st = run_child(child_full_stdout, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECKF(is_msg(err, "write error on stdout: No space left on device"),
           "got '%s'", err);
    st = run_child(child_full_stdout_no_close, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECKF(strstr(err, "write error on stdout") != NULL, "got '%s'", err);
}

/* Writes forever to a pipe whose reader is gone, with an output open. */
static void child_closed_pipe(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        _exit(97);
    close(fds[0]);
    dup2(fds[1], 1);
    mlr_init_tool();
    mlr_out o;
    mlr_err e;
    if (mlr_out_open(&o, tpath("piped.txt"), &e) != 0)
        _exit(98);
    for (;;)
        printf("line of output that goes nowhere\n");
}

static void test_closed_pipe_is_quiet(void)
{
    char err[1024];
    int st = run_child(child_closed_pipe, err, sizeof err);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    CHECKF(err[0] == '\0', "stderr '%s'", err);
    CHECK(count_prefix("piped.txt") == 0);
}

static void test_xmalloc(void)
{
    char *p = xmalloc(0);
    CHECK(p != NULL);
    p = xrealloc(p, 100);
    memset(p, 1, 100);
    p = xrealloc(p, 0);
    CHECK(p != NULL);
    free(p);
    int *z = xcalloc(10, sizeof *z);
    for (int i = 0; i < 10; i++)
        CHECK(z[i] == 0);
    free(z);
    char *s = xstrdup("hello");
    CHECK(strcmp(s, "hello") == 0);
    free(s);
}

static void child_huge_alloc(void)
{
    volatile size_t n = SIZE_MAX / 2;
    void *p = xmalloc(n);
    free(p);
    exit(0);
}

static void test_xmalloc_dies(void)
{
    if (getenv("MLR_SANITIZED")) {
        /* ASan reports a huge malloc itself instead of returning NULL. */
        printf("SKIP test_xmalloc_dies: sanitizers intercept huge allocations\n");
        return;
    }
    char err[1024];
    int st = run_child(child_huge_alloc, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECKF(strstr(err, ": out of memory (allocating") != NULL, "got '%s'", err);
}

static void test_rng_deterministic(void)
{
    mlr_rng a, b, c;
    mlr_rng_seed(&a, 42);
    mlr_rng_seed(&b, 42);
    mlr_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = mlr_rng_u64(&a);
        CHECK(x == mlr_rng_u64(&b));
        differ += x != mlr_rng_u64(&c);
    }
    CHECK(differ > 990);
    /* seed 0 is a valid seed (no all-zero state) */
    mlr_rng z;
    mlr_rng_seed(&z, 0);
    CHECK(z.s[0] | z.s[1] | z.s[2] | z.s[3]);
    CHECK(mlr_rng_u64(&z) != mlr_rng_u64(&z));
}

/* Reference: xoshiro256** with state {1, 2, 3, 4} (Vigna's code). */
static void test_rng_reference(void)
{
    mlr_rng r = {{1, 2, 3, 4}};
    CHECK(mlr_rng_u64(&r) == 11520ULL);
    CHECK(mlr_rng_u64(&r) == 0ULL);
    CHECK(mlr_rng_u64(&r) == 1509978240ULL);
    CHECK(mlr_rng_u64(&r) == 1215971899390074240ULL);
}

static void test_rng_distributions(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 7);
    const int n = 200000;
    double sum = 0, nsum = 0, nsq = 0;
    long counts[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        double u = mlr_rng_uniform(&r);
        CHECK(u >= 0 && u < 1);
        sum += u;
        uint64_t k = mlr_rng_below(&r, 3);
        CHECK(k < 3);
        counts[k]++;
        double g = mlr_rng_normal(&r);
        CHECK(isfinite(g));
        nsum += g;
        nsq += g * g;
    }
    CHECKF(fabs(sum / n - 0.5) < 0.005, "uniform mean %g", sum / n);
    for (int k = 0; k < 3; k++)
        CHECKF(fabs(counts[k] / (double)n - 1.0 / 3) < 0.006, "below(3) share %g", counts[k] / (double)n);
    CHECKF(fabs(nsum / n) < 0.01, "normal mean %g", nsum / n);
    CHECKF(fabs(nsq / n - 1) < 0.02, "normal variance %g", nsq / n);
    CHECK(mlr_rng_below(&r, 1) == 0);
    CHECK(mlr_rng_below(&r, 0) == 0);
    /* a bound near 2^64 still stays below it */
    for (int i = 0; i < 100; i++)
        CHECK(mlr_rng_below(&r, UINT64_MAX - 5) < UINT64_MAX - 5);
}

static void test_hash64(void)
{
    CHECK(mlr_hash64(1, "abc", 3) == mlr_hash64(1, "abc", 3));
    CHECK(mlr_hash64(1, "abc", 3) != mlr_hash64(2, "abc", 3));
    CHECK(mlr_hash64(1, "abc", 3) != mlr_hash64(1, "abd", 3));
    CHECK(mlr_hash64(1, "", 0) != mlr_hash64(1, "\0", 1));
    /* avalanche: flipping one input bit flips about half the output bits */
    long flips = 0, trials = 0;
    char buf[8] = "user_42";
    for (int seed = 0; seed < 20; seed++)
        for (int bit = 0; bit < 56; bit++) {
            uint64_t h0 = mlr_hash64((uint64_t)seed, buf, 7);
            buf[bit / 8] ^= (char)(1 << (bit % 8));
            uint64_t h1 = mlr_hash64((uint64_t)seed, buf, 7);
            buf[bit / 8] ^= (char)(1 << (bit % 8));
            flips += __builtin_popcountll(h0 ^ h1);
            trials++;
        }
    double mean = (double)flips / trials;
    CHECKF(mean > 30 && mean < 34, "mean flipped bits %g", mean);
}

static void test_sha256_vectors(void)
{
    char hex[65];
    mlr_sha256("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    mlr_sha256("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    mlr_sha256(m448, strlen(m448), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    size_t n = 1000000;
    char *a = xmalloc(n);
    memset(a, 'a', n);
    mlr_sha256(a, n, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    /* streaming in odd pieces gives the same digest */
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 % 257 + 1)
        mlr_sha256_update(&c, a + off, off + step > n ? n - off : step);
    char hex2[65];
    mlr_sha256_final(&c, hex2);
    free(a);
    CHECK(strcmp(hex, hex2) == 0);
    /* every length around the padding boundary agrees with one-shot */
    char msg[130];
    memset(msg, 'x', sizeof msg);
    for (size_t len = 50; len < 130; len++) {
        mlr_sha256(msg, len, hex);
        mlr_sha256_init(&c);
        mlr_sha256_update(&c, msg, len / 2);
        mlr_sha256_update(&c, msg + len / 2, len - len / 2);
        mlr_sha256_final(&c, hex2);
        CHECK(strcmp(hex, hex2) == 0);
    }
}

static void test_sha256_file(void)
{
    char hex[65];
    mlr_err e;
    CHECK(write_file(tpath("abc.txt"), "abc") == 0);
    CHECK(mlr_sha256_file(tpath("abc.txt"), hex, &e) == 0);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK(mlr_sha256_file(tpath("missing"), hex, &e) == -1);
    CHECKF(strstr(e.msg, "missing: cannot open: No such file or directory") != NULL, "%s", e.msg);
    CHECK(mlr_sha256_file(tmpdir, hex, &e) == -1);
    CHECKF(strstr(e.msg, "read error") != NULL, "%s", e.msg);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_fail);
    RUN(test_parse_double);
    RUN(test_parse_long);
    RUN(test_opt_dies_with_2);
    RUN(test_die_removes_temporaries);
    RUN(test_warn);
    RUN(test_out_commit_and_abort);
    RUN(test_out_errors);
    RUN(test_out_batch);
    RUN(test_out_temporaries);
    RUN(test_stdout_write_error);
    RUN(test_closed_pipe_is_quiet);
    RUN(test_xmalloc);
    RUN(test_xmalloc_dies);
    RUN(test_rng_deterministic);
    RUN(test_rng_reference);
    RUN(test_rng_distributions);
    RUN(test_hash64);
    RUN(test_sha256_vectors);
    RUN(test_sha256_file);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_status();
}
