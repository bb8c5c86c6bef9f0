/* mlr.c: errors, memory, number parsing, atomic output, RNG, hashing and
 * SHA-256 shared by every tool. See mlr.h for the contracts. */
#include "mlr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- process state: the one global of the suite ----
 * The open mlr_out temporaries (so a dying tool can remove them, from
 * mlr_die; the signal handlers read a table of their own), the completed
 * temporaries of a batch, and the state of stdout. */
static struct {
    mlr_out **outs;
    size_t n, cap;
    struct {
        char *tmp, *path;
    } *pend; /* a batch's complete temporaries, renamed together */
    size_t npend, cappend;
    int batch; /* mlr_out_batch_begin: commits defer their renames */
    int stdout_closed;
    int stdout_was_closed; /* fd 1 was closed at start: now /dev/full */
    int dying; /* exit(1) in progress: the atexit check must not override it */
} mlr_proc;

static void unlink_tracked(void);

/* ---- errors ---- */

int mlr_fail(mlr_err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
    /* One buffer, one write: messages from parallel tools do not interleave. */
    char buf[1400];
    int n = snprintf(buf, sizeof buf, "%s: %s", program_invocation_short_name, prefix);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    fwrite(buf, 1, len, stderr);
    fflush(stderr);
}

static __attribute__((noreturn)) void die_status(int status)
{
    mlr_out_abort_all();
    mlr_proc.dying = 1;
    exit(status);
}

void mlr_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("", fmt, ap);
    va_end(ap);
    die_status(1);
}

void mlr_usage_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("", fmt, ap);
    va_end(ap);
    die_status(2);
}

/* Defined in $(BUILD)/commit.c, which the Makefile writes and links into
 * the tools only: a new commit rebuilds that one object and the tools, not
 * the library and the tests. Weak, so that a program linked without it (a
 * unit test, a benchmark) still links, and says "unknown". */
extern const char mlr_build_commit[] __attribute__((weak));

const char *mlr_commit(void)
{
    return mlr_build_commit ? mlr_build_commit : "unknown";
}

void mlr_opt_rest(int c, const char *tool, void (*usage)(FILE *), char **argv)
{
    switch (c) {
    case 'h': usage(stdout); mlr_close_stdout(); exit(0);
    case 'V': printf("%s %s (commit %s)\n", tool, MLR_VERSION, mlr_commit()); mlr_close_stdout(); exit(0);
    case ':': mlr_usage_die("option '%s' needs a value", argv[optind - 1]);
    default: mlr_usage_die("unknown option '%s' (try '%s --help')", argv[optind - 1], tool);
    }
}

void mlr_opt_deprecated(const char *old, const char *new_name)
{
    mlr_warn("%s is deprecated; use %s (docs/options.md)", old, new_name);
}

void mlr_die_err(const mlr_err *e)
{
    mlr_die("%s", e->msg);
}

/* -q of a tool: warnings are not printed (errors always are). */
static int warnings_off;
void mlr_quiet_warnings(void) { warnings_off = 1; }

void mlr_warn(const char *fmt, ...)
{
    if (warnings_off)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning: ", fmt, ap);
    va_end(ap);
}

/* ---- closed pipes and stdout errors ---- */

/* Async-signal-safe: unlink(2) and _exit(2) only. The reader is gone, so
 * nothing more is owed to anyone: remove our temporaries, end with 0. */
static void on_sigpipe(int sig)
{
    (void)sig;
    unlink_tracked();
    _exit(0);
}

/* SIGINT, SIGTERM, SIGHUP: our temporaries removed, then the signal's own
 * death (SA_RESETHAND restored the default; the raise is delivered when
 * the handler returns), so the caller still sees "killed by SIGTERM". */
static void on_fatal_signal(int sig)
{
    unlink_tracked();
    raise(sig);
}

/* Descriptors 0, 1 and 2 open before any file is: a closed one would be
 * the number the next open(2) returns, and what the tool writes to stdout
 * would land in its output file. stdin and stderr get /dev/null; stdout
 * /dev/full, so a tool that writes to it fails ("standard output is
 * closed") and one that does not succeeds. */
static void open_standard_descriptors(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int got = open(fd == 1 ? "/dev/full" : "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (got < 0 && fd == 1)
            got = open("/dev/null", O_WRONLY);
        if (got != fd) /* no /dev/null: nothing safe is left to do */
            _exit(1);
        if (fd == 1)
            mlr_proc.stdout_was_closed = 1;
    }
}

/* A tool that forgot mlr_close_stdout() still fails on a full disk. */
static void close_stdout_at_exit(void)
{
    if (mlr_proc.dying || mlr_proc.stdout_closed)
        return;
    mlr_close_stdout();
}

void mlr_init_tool(void)
{
    open_standard_descriptors();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigpipe;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    static const int fatal[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) {
        struct sigaction old;
        /* a signal ignored by whoever started us (nohup, a background
         * job's SIGINT) stays ignored */
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_RESETHAND;
        sigaction(fatal[i], &sa, NULL);
    }
    atexit(close_stdout_at_exit);
}

void mlr_close_stdout(void)
{
    if (mlr_proc.stdout_closed)
        return;
    mlr_proc.stdout_closed = 1;
    errno = 0;
    int bad = ferror(stdout) != 0;
    int err = errno;
    if (fflush(stdout) != 0) {
        bad = 1;
        err = errno;
    }
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!bad)
        return;
    if (err == EPIPE)
        _exit(0);
    mlr_proc.dying = 1; /* the atexit hook must not touch the closed stdout */
    mlr_die("write error on stdout: %s",
            mlr_proc.stdout_was_closed ? "standard output is closed" : err ? strerror(err) : "input/output error");
}

/* ---- memory ---- */

static __attribute__((noreturn)) void out_of_memory(size_t n)
{
    mlr_die("out of memory (allocating %zu bytes)", n);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        n = size = 1;
    void *p = calloc(n, size);
    if (!p)
        out_of_memory(size && n > SIZE_MAX / size ? SIZE_MAX : n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* ---- numbers ---- */

/* The suite's one number grammar (docs/numbers.md): JSON's number (RFC
 * 8259, section 6) with leading zeros allowed. A decimal is an optional
 * '-', digits, optionally '.' and digits, optionally 'e' or 'E', an
 * optional sign and digits; an integer is an optional '-' and digits.
 * Nothing else: no blanks, no '+', no ".5" or "5.", no hexadecimal, no
 * inf or nan, which strtod and strtol would take. Returns the length of
 * the number at s (0: none); *is_int tells whether it is an integer. */
static size_t number_length(const char *s, int *is_int)
{
    size_t i = s[0] == '-', d = i;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == d)
        return 0;
    *is_int = 1;
    if (s[i] == '.') {
        size_t f = ++i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return 0;
        *is_int = 0;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '-' || s[i] == '+')
            i++;
        size_t x = i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == x)
            return 0;
        *is_int = 0;
    }
    return i;
}

int mlr_is_number(const char *s, int integer)
{
    int is_int = 0;
    size_t n = s ? number_length(s, &is_int) : 0;
    return n > 0 && s[n] == '\0' && (is_int || !integer);
}

int mlr_parse_double(const char *s, double *out)
{
    if (!mlr_is_number(s, 0))
        return -1;
    errno = 0;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return -1;
    /* ERANGE on underflow gives a tiny or zero value: that is a number. */
    if (errno == ERANGE && fabs(v) > 1.0)
        return -1;
    *out = v;
    return 0;
}

int mlr_parse_long(const char *s, long *out)
{
    if (!mlr_is_number(s, 1))
        return -1;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

double mlr_opt_double(const char *opt, const char *s)
{
    double v;
    if (mlr_parse_double(s, &v) < 0)
        mlr_usage_die("%s: '%s' is not a number", opt, s ? s : "");
    return v;
}

long mlr_opt_long(const char *opt, const char *s, long min, long max)
{
    long v;
    if (mlr_parse_long(s, &v) < 0)
        mlr_usage_die("%s: '%s' is not an integer", opt, s ? s : "");
    if (v < min || v > max)
        mlr_usage_die("%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
    return v;
}

/* ---- atomic output ----
 * A regular file is written to a temporary made exclusively (mkostemp: a
 * name nobody can have planted, so a symlink there is never followed) in
 * the target's directory and renamed over the target on commit. Anything
 * that is not a regular file (a device, a FIFO, a terminal, a socket, the
 * magic links of /proc) is written in place: a rename would replace it. A
 * symlink is followed to its final target, which is then handled as the
 * output (a regular one is replaced atomically, the link stays). */

/* The temporaries a signal handler removes: a fixed table of pointers read
 * and written atomically, so the handler never sees a half-made entry,
 * whichever thread it runs on. Past SIGNAL_SLOTS open temporaries the rest
 * are left to the stale-temporary sweep of the next run. */
#define SIGNAL_SLOTS 256
static char *signal_tmp[SIGNAL_SLOTS];

static void signal_track(char *tmp)
{
    for (size_t i = 0; i < SIGNAL_SLOTS; i++) {
        char *none = NULL;
        if (__atomic_compare_exchange_n(&signal_tmp[i], &none, tmp, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return;
    }
}

static void signal_untrack(const char *tmp)
{
    for (size_t i = 0; i < SIGNAL_SLOTS; i++)
        if (__atomic_load_n(&signal_tmp[i], __ATOMIC_SEQ_CST) == tmp) {
            __atomic_store_n(&signal_tmp[i], NULL, __ATOMIC_SEQ_CST);
            return;
        }
}

void mlr_out_unlink_temporaries(void)
{
    unlink_tracked();
}

/* Async-signal-safe: unlink(2) only. */
static void unlink_tracked(void)
{
    for (size_t i = 0; i < SIGNAL_SLOTS; i++) {
        char *p = __atomic_load_n(&signal_tmp[i], __ATOMIC_SEQ_CST);
        if (p)
            unlink(p);
    }
}

static void registry_add(mlr_out *o)
{
    if (mlr_proc.n == mlr_proc.cap) {
        mlr_proc.cap = mlr_proc.cap ? 2 * mlr_proc.cap : 8;
        mlr_proc.outs = xrealloc(mlr_proc.outs, mlr_proc.cap * sizeof *mlr_proc.outs);
    }
    mlr_proc.outs[mlr_proc.n++] = o;
}

static void registry_remove(mlr_out *o)
{
    signal_untrack(o->tmp_path);
    for (size_t i = 0; i < mlr_proc.n; i++)
        if (mlr_proc.outs[i] == o) {
            mlr_proc.outs[i] = mlr_proc.outs[mlr_proc.n - 1];
            mlr_proc.n--;
            break;
        }
    if (mlr_proc.n == 0) {
        free(mlr_proc.outs);
        mlr_proc.outs = NULL;
        mlr_proc.cap = 0;
    }
}

static void out_release(mlr_out *o)
{
    registry_remove(o);
    free(o->path);
    free(o->tmp_path);
    o->fp = NULL;
    o->path = o->tmp_path = NULL;
}

/* This host's name as it appears in temporary names: letters, digits and
 * '-' only (no '.', which separates the parts), at most 32 characters. */
static const char *host_tag(void)
{
    static char tag[33];
    if (!tag[0]) {
        char h[256] = "";
        if (gethostname(h, sizeof h - 1) != 0 || !h[0])
            strcpy(h, "host");
        size_t i = 0;
        for (; h[i] && i < sizeof tag - 1; i++) {
            char c = h[i];
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            tag[i] = ok ? c : '-';
        }
        tag[i] = 0;
    }
    return tag;
}

/* The mode a plain fopen would give a new file (0666 less the umask):
 * mkostemp makes 0600. Read once; umask cannot be read without setting it. */
static mode_t new_file_mode(void)
{
    static mode_t mode;
    static int known;
    if (!known) {
        mode_t mask = umask(022);
        umask(mask);
        mode = 0666 & ~mask;
        known = 1;
    }
    return mode;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    char *d = xmalloc((size_t)(slash - path) + 1);
    memcpy(d, path, (size_t)(slash - path));
    d[slash - path] = 0;
    return d;
}

/* Whether NAME (in a directory listing) is a temporary of BASE made by
 * this scheme on this host, BASE.tmp.PID.HOST.XXXXXX; its PID in *pid. */
static int is_our_temporary(const char *name, const char *base, long *pid)
{
    size_t nb = strlen(base);
    if (strncmp(name, base, nb) != 0 || strncmp(name + nb, ".tmp.", 5) != 0)
        return 0;
    const char *p = name + nb + 5, *digits = p;
    long v = 0;
    for (; *p >= '0' && *p <= '9' && p - digits < 10; p++)
        v = v * 10 + (*p - '0');
    if (p == digits || *p != '.' || v <= 0)
        return 0;
    const char *host = host_tag();
    size_t nh = strlen(host);
    if (strncmp(p + 1, host, nh) != 0 || p[1 + nh] != '.' || strlen(p + 2 + nh) != 6)
        return 0;
    *pid = v;
    return 1;
}

int mlr_out_sweep(const char *path)
{
    char *dir = dir_of(path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int removed = 0;
    DIR *d = *base ? opendir(dir) : NULL;
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        long pid;
        struct stat st;
        if (!is_our_temporary(ent->d_name, base, &pid) || pid == (long)getpid())
            continue;
        /* ESRCH: no such process on this host; EPERM means alive. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        if (fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            unlinkat(dirfd(d), ent->d_name, 0) == 0)
            removed++;
    }
    if (d)
        closedir(d);
    free(dir);
    return removed;
}

/* /dev/stdout, /dev/fd/N, /proc/self/fd/N, /proc/OUR-PID/fd/N: the
 * descriptor N, or -1. */
static int descriptor_path(const char *path)
{
    if (strcmp(path, "/dev/stdout") == 0)
        return 1;
    if (strcmp(path, "/dev/stderr") == 0)
        return 2;
    char own[64];
    snprintf(own, sizeof own, "/proc/%ld/fd/", (long)getpid());
    const char *n = NULL;
    if (strncmp(path, "/dev/fd/", 8) == 0)
        n = path + 8;
    else if (strncmp(path, "/proc/self/fd/", 14) == 0)
        n = path + 14;
    else if (strncmp(path, own, strlen(own)) == 0)
        n = path + strlen(own);
    long fd;
    if (!n || mlr_parse_long(n, &fd) < 0 || fd < 0 || fd > 1000000)
        return -1;
    return (int)fd;
}

enum { OUT_FILE, OUT_IN_PLACE, OUT_DESCRIPTOR };

/* Follows the symlinks of PATH itself (a directory's are the kernel's
 * business) to the name that will be written, in *target. OUT_DESCRIPTOR
 * when a link leads to one of our descriptors (/dev/stdout, /dev/fd/N:
 * N is in *target); OUT_IN_PLACE when the name is anything but a regular
 * file or a name still to be created, or a link lives under /proc (a magic
 * link: its text is no path). */
static int resolve_output(const char *path, char **target, mlr_err *e)
{
    char *cur = xstrdup(path);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (descriptor_path(cur) >= 0) {
            *target = cur;
            return OUT_DESCRIPTOR;
        }
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) {
                *target = cur;
                return OUT_FILE;
            }
            int err = errno;
            free(cur);
            return mlr_fail(e, "%s: cannot write: %s", path, strerror(err));
        }
        if (!S_ISLNK(st.st_mode)) {
            *target = cur;
            return S_ISREG(st.st_mode) ? OUT_FILE : OUT_IN_PLACE;
        }
        char *dir = dir_of(cur), *real = realpath(dir, NULL);
        int magic = real && strncmp(real, "/proc/", 6) == 0;
        free(real);
        char link[4096];
        ssize_t n = magic || hops >= 40 ? -1 : readlink(cur, link, sizeof link - 1);
        if (magic || n < 0 || (size_t)n >= sizeof link - 1) {
            int err = magic ? 0 : hops >= 40 ? ELOOP : n < 0 ? errno : ENAMETOOLONG;
            free(dir);
            if (magic) {
                *target = cur;
                return OUT_IN_PLACE;
            }
            free(cur);
            return mlr_fail(e, "%s: cannot follow the link: %s", path, strerror(err));
        }
        link[n] = 0;
        free(cur);
        if (link[0] == '/') {
            cur = xstrdup(link);
        } else {
            size_t len = strlen(dir) + (size_t)n + 2;
            cur = xmalloc(len);
            snprintf(cur, len, "%s/%s", dir, link);
        }
        free(dir);
    }
}

int mlr_out_is_file(const char *path)
{
    if (!path || !*path || strcmp(path, "-") == 0)
        return 0;
    char *target;
    int kind = resolve_output(path, &target, NULL);
    if (kind < 0)
        return 0;
    free(target);
    return kind == OUT_FILE;
}

/* A special file opened as it is: never created, never renamed over. A
 * descriptor of ours is written as it is (a copy of it: `>>` appends). */
static int open_in_place(mlr_out *o, const char *path, int desc, mlr_err *e)
{
    int fd = desc >= 0 ? fcntl(desc, F_DUPFD_CLOEXEC, 3) : open(path, O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
    o->fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!o->fp) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return mlr_fail(e, "%s: cannot open: %s", path, strerror(err));
    }
    return 0;
}

/* o must keep its address until commit or abort: the registry points at it. */
int mlr_out_open(mlr_out *o, const char *path, mlr_err *e)
{
    memset(o, 0, sizeof *o);
    if (path && !*path)
        return mlr_fail(e, "empty output file name");
    char *target = NULL;
    int kind = !path || strcmp(path, "-") == 0 ? OUT_DESCRIPTOR : resolve_output(path, &target, e);
    if (kind < 0)
        return -1;
    int desc = !target ? 1 : kind == OUT_DESCRIPTOR ? descriptor_path(target) : -1;
    if (kind != OUT_FILE)
        free(target);
    if (desc == 1) {
        o->fp = stdout;
        return 0;
    }
    if (kind != OUT_FILE)
        return open_in_place(o, path, desc, e);
    mlr_out_sweep(target);
    size_t n = strlen(target) + 64;
    char *tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp.%ld.%s.XXXXXX", target, (long)getpid(), host_tag());
    /* tracked before it exists: a signal between the creation and the
     * tracking would leave it (a half-made name is ours alone to unlink) */
    signal_track(tmp);
    int fd = mkostemp(tmp, O_CLOEXEC);
    FILE *fp = NULL;
    if (fd >= 0 && (fchmod(fd, new_file_mode()) != 0 || !(fp = fdopen(fd, "w")))) {
        int err = errno;
        close(fd);
        unlink(tmp);
        errno = err;
    }
    if (!fp) {
        int err = errno;
        signal_untrack(tmp);
        free(tmp);
        free(target);
        return mlr_fail(e, "%s: cannot create: %s", path, strerror(err));
    }
    o->fp = fp;
    o->path = target;
    o->tmp_path = tmp;
    registry_add(o);
    return 0;
}

static const char *stdout_error(int err)
{
    if (mlr_proc.stdout_was_closed)
        return "standard output is closed";
    return err ? strerror(err) : "input/output error";
}

static int commit_stdout(mlr_out *o, mlr_err *e)
{
    o->fp = NULL;
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout))
        return mlr_fail(e, "write error on stdout: %s", stdout_error(errno));
    return 0;
}

/* Flushes, syncs and closes o's file; 0 or the errno of the failure. */
static int finish_file(FILE *fp, int sync)
{
    errno = 0; /* an error of an earlier write leaves no errno: not "Success" */
    int bad = fflush(fp) != 0 || ferror(fp);
    int err = bad ? (errno ? errno : EIO) : 0;
    /* fsync is refused by some special files (EINVAL): not a write error. */
    if (!bad && sync && fsync(fileno(fp)) != 0 && errno != EINVAL && errno != EROFS)
        bad = 1, err = errno;
    if (fclose(fp) != 0 && !bad)
        bad = 1, err = errno ? errno : EIO;
    return err;
}

/* A batch's completed temporaries, renamed by mlr_out_batch_commit. */
static void pending_add(mlr_out *o)
{
    if (mlr_proc.npend == mlr_proc.cappend) {
        mlr_proc.cappend = mlr_proc.cappend ? 2 * mlr_proc.cappend : 8;
        mlr_proc.pend = xrealloc(mlr_proc.pend, mlr_proc.cappend * sizeof *mlr_proc.pend);
    }
    /* the strings move; the signal table keeps pointing at tmp */
    mlr_proc.pend[mlr_proc.npend].tmp = o->tmp_path;
    mlr_proc.pend[mlr_proc.npend].path = o->path;
    mlr_proc.npend++;
    for (size_t i = 0; i < mlr_proc.n; i++)
        if (mlr_proc.outs[i] == o) {
            mlr_proc.outs[i] = mlr_proc.outs[--mlr_proc.n];
            break;
        }
    o->fp = NULL;
    o->path = o->tmp_path = NULL;
}

int mlr_out_commit(mlr_out *o, mlr_err *e)
{
    if (o->fp == stdout && !o->tmp_path)
        return commit_stdout(o, e);
    if (o->fp && !o->tmp_path) { /* a special file, written in place */
        int err = finish_file(o->fp, 0);
        o->fp = NULL;
        return err ? mlr_fail(e, "write error on a special file: %s", strerror(err)) : 0;
    }
    if (!o->fp)
        return mlr_fail(e, "internal error: commit of an output that is not open");
    int err = finish_file(o->fp, 1);
    o->fp = NULL;
    if (!err && mlr_proc.batch) {
        pending_add(o);
        return 0;
    }
    if (!err && rename(o->tmp_path, o->path) != 0)
        err = errno;
    if (err) {
        mlr_fail(e, "%s: write error: %s", o->path, strerror(err));
        unlink(o->tmp_path);
    }
    out_release(o);
    return err ? -1 : 0;
}

void mlr_out_batch_begin(void)
{
    mlr_proc.batch = 1;
}

/* Drops the batch's temporaries from index i on (unlinking them if asked). */
static void pending_drop(size_t i, int remove)
{
    for (; i < mlr_proc.npend; i++) {
        signal_untrack(mlr_proc.pend[i].tmp);
        if (remove)
            unlink(mlr_proc.pend[i].tmp);
        free(mlr_proc.pend[i].tmp);
        free(mlr_proc.pend[i].path);
    }
    free(mlr_proc.pend);
    mlr_proc.pend = NULL;
    mlr_proc.npend = mlr_proc.cappend = 0;
}

int mlr_out_batch_commit(mlr_err *e)
{
    mlr_proc.batch = 0;
    for (size_t i = 0; i < mlr_proc.npend; i++) {
        if (rename(mlr_proc.pend[i].tmp, mlr_proc.pend[i].path) == 0) {
            signal_untrack(mlr_proc.pend[i].tmp);
            free(mlr_proc.pend[i].tmp);
            free(mlr_proc.pend[i].path);
            continue;
        }
        /* Only a rename failed (same directory): the files were complete. */
        int err = errno;
        mlr_fail(e, "%s: cannot rename its temporary: %s%s", mlr_proc.pend[i].path,
                 strerror(err), i ? " (the outputs before it were replaced)" : "");
        pending_drop(i, 1);
        return -1;
    }
    pending_drop(mlr_proc.npend, 0);
    return 0;
}

void mlr_out_abort(mlr_out *o)
{
    if (!o)
        return;
    if (o->tmp_path) {
        if (o->fp)
            fclose(o->fp);
        unlink(o->tmp_path);
        out_release(o);
    } else if (o->fp && o->fp != stdout) {
        fclose(o->fp); /* a special file opened in place */
    }
    o->fp = NULL;
}

void mlr_out_batch_abort(void)
{
    pending_drop(0, 1);
    mlr_proc.batch = 0;
}

void mlr_out_abort_all(void)
{
    while (mlr_proc.n > 0)
        mlr_out_abort(mlr_proc.outs[mlr_proc.n - 1]);
    pending_drop(0, 1);
    mlr_proc.batch = 0;
}

/* ---- random numbers ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void mlr_rng_seed(mlr_rng *r, uint64_t seed)
{
    /* splitmix64 never yields four zero words, the one bad xoshiro state. */
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t mlr_rng_u64(mlr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mlr_rng_uniform(mlr_rng *r)
{
    return (double)(mlr_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Rejects the low 2^64 mod n values so every residue is equally likely.
 * n == 0 gives 0. */
uint64_t mlr_rng_below(mlr_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t threshold = -n % n;
    for (;;) {
        uint64_t x = mlr_rng_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

/* Box-Muller, one value per call (mlr_rng has no room to cache the twin):
 * deterministic for a given state. 1 - u keeps the log argument in (0, 1]. */
double mlr_rng_normal(mlr_rng *r)
{
    double u1 = 1.0 - mlr_rng_uniform(r);
    double u2 = mlr_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* FNV-1a over the bytes from a seed-dependent basis, then the splitmix64
 * finaliser so that every input bit reaches every output bit. */
uint64_t mlr_hash64(uint64_t seed, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed + 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h ^ (uint64_t)len ^ seed);
}

/* ---- SHA-256 (FIPS 180-4) ---- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void mlr_sha256_init(mlr_sha256_ctx *c)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->len = 0;
    c->nbuf = 0;
}

void mlr_sha256_update(mlr_sha256_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->len += len;
    if (c->nbuf) {
        size_t take = 64 - c->nbuf < len ? 64 - c->nbuf : len;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        len -= take;
        if (c->nbuf < 64)
            return;
        sha256_block(c->h, c->buf);
        c->nbuf = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        sha256_block(c->h, p);
    memcpy(c->buf, p, len);
    c->nbuf = len;
}

void mlr_sha256_final(mlr_sha256_ctx *c, char hex[65])
{
    uint64_t bits = c->len * 8;
    unsigned char pad[72] = {0x80};
    size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
    for (int i = 0; i < 8; i++)
        pad[npad + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    mlr_sha256_update(c, pad, npad + 8);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned)(c->h[i / 4] >> (24 - 8 * (i % 4))) & 0xff);
    hex[64] = '\0';
}

void mlr_sha256(const void *data, size_t len, char hex[65])
{
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    mlr_sha256_update(&c, data, len);
    mlr_sha256_final(&c, hex);
}

/* path "-" hashes stdin. */
int mlr_sha256_file(const char *path, char hex[65], mlr_err *e)
{
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s", name, strerror(errno));
    mlr_sha256_ctx c;
    mlr_sha256_init(&c);
    size_t cap = 1 << 16, n;
    unsigned char *buf = xmalloc(cap);
    while ((n = fread(buf, 1, cap, fp)) > 0)
        mlr_sha256_update(&c, buf, n);
    int bad = ferror(fp);
    int err = errno;
    free(buf);
    if (!is_stdin)
        fclose(fp);
    if (bad)
        return mlr_fail(e, "%s: read error: %s", name, strerror(err));
    mlr_sha256_final(&c, hex);
    return 0;
}

long mlr_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

double mlr_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
