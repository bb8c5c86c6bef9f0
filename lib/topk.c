/* topk.c: blocked sgemm scoring, bounded-heap selection, ranks, fast
 * formatting of list rows. See topk.h for the tie rule. */
#include "topk.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "nn.h"
#include "npy.h"
#include "pool.h"
#include "table.h"

/* ---- the heap: a min-heap whose root is the worst hit kept ---- */

static void sift_down(mlr_hit *h, size_t n, size_t i)
{
    mlr_hit x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && mlr_hit_before(h[c], h[c + 1])) c++; /* the worse child */
        if (!mlr_hit_before(x, h[c])) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(mlr_hit *h, size_t i)
{
    mlr_hit x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!mlr_hit_before(h[p], x)) break; /* parent already worse */
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static int cmp_hit(const void *a, const void *b)
{
    const mlr_hit *x = a, *y = b;
    if (mlr_hit_before(*x, *y)) return -1;
    if (mlr_hit_before(*y, *x)) return 1;
    return 0;
}

/* The first j' >= j with s[j'] > thr, or m. Most rows of a large catalogue
 * fall below the heap's threshold, so this scan is the selection's cost. */
static size_t next_above(const float *s, size_t j, size_t m, float thr)
{
#ifdef __SSE2__
    const __m128 t = _mm_set1_ps(thr);
    while (j + 16 <= m) {
        __m128 a = _mm_cmpgt_ps(_mm_loadu_ps(s + j), t);
        __m128 b = _mm_cmpgt_ps(_mm_loadu_ps(s + j + 4), t);
        __m128 c = _mm_cmpgt_ps(_mm_loadu_ps(s + j + 8), t);
        __m128 d = _mm_cmpgt_ps(_mm_loadu_ps(s + j + 12), t);
        if (_mm_movemask_ps(_mm_or_ps(_mm_or_ps(a, b), _mm_or_ps(c, d)))) break;
        j += 16;
    }
#endif
    for (; j < m; j++)
        if (s[j] > thr) return j;
    return m;
}

/* The first j' >= j with s[j'] >= v, or m. */
static size_t next_at_least(const float *s, size_t j, size_t m, float v)
{
#ifdef __SSE2__
    const __m128 t = _mm_set1_ps(v);
    while (j + 16 <= m) {
        __m128 a = _mm_cmpge_ps(_mm_loadu_ps(s + j), t);
        __m128 b = _mm_cmpge_ps(_mm_loadu_ps(s + j + 4), t);
        __m128 c = _mm_cmpge_ps(_mm_loadu_ps(s + j + 8), t);
        __m128 d = _mm_cmpge_ps(_mm_loadu_ps(s + j + 12), t);
        if (_mm_movemask_ps(_mm_or_ps(_mm_or_ps(a, b), _mm_or_ps(c, d)))) break;
        j += 16;
    }
#endif
    for (; j < m; j++)
        if (s[j] >= v) return j;
    return m;
}

static float max_of(const float *s, size_t lo, size_t hi)
{
    float mx = s[lo];
    size_t j = lo + 1;
#ifdef __SSE2__
    if (hi - lo >= 8) {
        __m128 a = _mm_loadu_ps(s + lo), b = _mm_loadu_ps(s + lo + 4);
        for (j = lo + 8; j + 8 <= hi; j += 8) {
            a = _mm_max_ps(a, _mm_loadu_ps(s + j));
            b = _mm_max_ps(b, _mm_loadu_ps(s + j + 4));
        }
        float v[4];
        _mm_storeu_ps(v, _mm_max_ps(a, b));
        for (int i = 0; i < 4; i++) mx = v[i] > mx ? v[i] : mx;
    }
#endif
    for (; j < hi; j++) mx = s[j] > mx ? s[j] : mx;
    return mx;
}

/* The k-th largest of v[0..n) (1 <= k <= n), reordering v: quickselect. */
static float kth_largest(float *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float p = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) { /* Hoare partition, descending */
            while (v[i] > p) i++;
            while (v[j] < p) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return v[want];
    }
    return v[want];
}

/* A lower bound on the k-th best score: cut the row into 4k chunks; the
 * k-th largest chunk maximum has k distinct items at or above it. Only the
 * items >= it can be in the top k, so the heap fills from a handful of
 * candidates instead of re-sifting hundreds of times on a random row.
 * -INFINITY when the row is too short to be worth it. */
static float lower_bound(const float *scores, size_t m, size_t k)
{
    size_t c = 4 * k;
    if (k == 0 || c > 4096 || m < 8 * c) return -INFINITY;
    float mx[4096];
    for (size_t i = 0; i < c; i++) mx[i] = max_of(scores, m * i / c, m * (i + 1) / c);
    float t = kth_largest(mx, c, k);
    return t == t ? t : -INFINITY; /* NaN from an overflowed sgemm: no bound */
}

size_t mlr_topk_select(float *scores, size_t m, size_t k,
                       const uint32_t *excl, size_t nexcl, mlr_hit *out)
{
    if (k == 0 || m == 0) return 0;
    for (size_t i = 0; i < nexcl; i++)
        if (excl[i] < m) scores[excl[i]] = -INFINITY;
    /* Excluded items hold -inf: below any finite bound, so once the bound is
     * finite the exclusion list need not be consulted while filling. */
    float lb = lower_bound(scores, m, k);
    int check = !(lb > -INFINITY);
    /* Fill: the first k items not excluded and >= lb, in index order. */
    size_t n = 0, j = 0, p = 0;
    for (; n < k && (j = next_at_least(scores, j, m, lb)) < m; j++) {
        if (check) {
            while (p < nexcl && excl[p] < j) p++;
            if (p < nexcl && excl[p] == j) continue;
        }
        out[n].score = scores[j];
        out[n].item = (uint32_t)j;
        sift_up(out, n++);
    }
    /* Then only a strictly higher score enters: an equal one comes later in
     * index order, so it ranks below the root it ties with. Excluded items
     * hold -inf and never pass. */
    if (n == k) {
        float thr = out[0].score;
        while ((j = next_above(scores, j, m, thr)) < m) {
            out[0].score = scores[j];
            out[0].item = (uint32_t)j;
            sift_down(out, n, 0);
            thr = out[0].score;
            j++;
        }
    }
    /* Heap sort: moving the worst to the back each time leaves best first. */
    for (size_t i = n; i-- > 1;) {
        mlr_hit t = out[0];
        out[0] = out[i];
        out[i] = t;
        sift_down(out, i, 0);
    }
    return n;
}

static int is_excluded(const uint32_t *excl, size_t nexcl, size_t j)
{
    for (size_t i = 0; i < nexcl; i++)
        if (excl[i] == j) return 1;
    return 0;
}

size_t mlr_topk_select_naive(const float *scores, size_t m, size_t k,
                             const uint32_t *excl, size_t nexcl, mlr_hit *out)
{
    mlr_hit *all = xmalloc((m ? m : 1) * sizeof *all);
    size_t n = 0;
    for (size_t j = 0; j < m; j++)
        if (!is_excluded(excl, nexcl, j)) all[n++] = (mlr_hit){scores[j], (uint32_t)j};
    qsort(all, n, sizeof *all, cmp_hit);
    if (n > k) n = k;
    memcpy(out, all, n * sizeof *all);
    free(all);
    return n;
}

/* #{j < n : s[j] > v} and #{j < lim : s[j] == v}, SSE2 where present. */
static void count_above(const float *s, size_t n, size_t lim, float v,
                        size_t *above, size_t *equal)
{
    size_t a = 0, e = 0, j = 0;
#ifdef __SSE2__
    const __m128 t = _mm_set1_ps(v);
    while (j + 4 <= n) {
        __m128i acc_a = _mm_setzero_si128(), acc_e = _mm_setzero_si128();
        /* At most 2^20 steps per batch so the 32-bit lanes cannot overflow. */
        size_t end = j + ((n - j) / 4 < (1u << 20) ? (n - j) / 4 * 4 : 4u << 20);
        for (; j < end; j += 4) {
            __m128 x = _mm_loadu_ps(s + j);
            acc_a = _mm_sub_epi32(acc_a, _mm_castps_si128(_mm_cmpgt_ps(x, t)));
            if (j + 4 <= lim)
                acc_e = _mm_sub_epi32(acc_e, _mm_castps_si128(_mm_cmpeq_ps(x, t)));
            else
                for (size_t u = j; u < j + 4 && u < lim; u++) e += s[u] == v;
        }
        uint32_t la[4], le[4];
        _mm_storeu_si128((__m128i *)la, acc_a);
        _mm_storeu_si128((__m128i *)le, acc_e);
        a += (size_t)la[0] + la[1] + la[2] + la[3];
        e += (size_t)le[0] + le[1] + le[2] + le[3];
    }
#endif
    for (; j < n; j++) {
        a += s[j] > v;
        if (j < lim) e += s[j] == v;
    }
    *above = a;
    *equal = e;
}

size_t mlr_topk_rank(const float *scores, size_t m, size_t t,
                     const uint32_t *excl, size_t nexcl)
{
    float v = scores[t];
    size_t above, equal;
    count_above(scores, m, t, v, &above, &equal);
    size_t r = 1 + above + equal;
    for (size_t i = 0; i < nexcl; i++) {
        size_t j = excl[i];
        if (j >= m || j == t || (i > 0 && excl[i - 1] == j)) continue;
        if (scores[j] > v || (scores[j] == v && j < t)) r--;
    }
    return r;
}

size_t mlr_topk_rank_naive(const float *scores, size_t m, size_t t,
                           const uint32_t *excl, size_t nexcl)
{
    size_t r = 1;
    mlr_hit me = {scores[t], (uint32_t)t};
    for (size_t j = 0; j < m; j++)
        if (j != t && !is_excluded(excl, nexcl, j) &&
            mlr_hit_before((mlr_hit){scores[j], (uint32_t)j}, me))
            r++;
    return r;
}

/* ---- scoring blocks ---- */

/* The products are nn.c's, with their naive twin: one sgemm call site. */
void mlr_scores(float *scores, const float *q, size_t b,
                const float *items, size_t m, size_t d)
{
    nn_matmul_nt(scores, q, items, b, d, m);
}

void mlr_scores_naive(float *scores, const float *q, size_t b,
                      const float *items, size_t m, size_t d)
{
    nn_matmul_nt_naive(scores, q, items, b, d, m);
}

struct mlr_scorer {
    const float *items; /* (M, D), borrowed */
    size_t m, d, tile;
    int threads;
    float **scratch; /* threads x (tile, M) */
    float **qpad;    /* threads x (tile, D): a short tile padded with zeros */
};

mlr_scorer *mlr_scorer_new(const float *items, size_t m, size_t d,
                           size_t tile, int threads)
{
    mlr_scorer *s = xcalloc(1, sizeof *s);
    s->items = items;
    s->m = m;
    s->d = d;
    s->tile = tile ? tile : 32;
    s->threads = threads < 1 ? 1 : threads;
    s->scratch = xcalloc((size_t)s->threads, sizeof *s->scratch);
    s->qpad = xcalloc((size_t)s->threads, sizeof *s->qpad);
    for (int t = 0; t < s->threads; t++) {
        s->scratch[t] = xmalloc((s->tile * m > 0 ? s->tile * m : 1) * sizeof(float));
        s->qpad[t] = xcalloc(s->tile * d > 0 ? s->tile * d : 1, sizeof(float));
    }
    return s;
}

void mlr_scorer_free(mlr_scorer *s)
{
    if (!s) return;
    for (int t = 0; t < s->threads; t++) {
        free(s->scratch[t]);
        free(s->qpad[t]);
    }
    free(s->scratch);
    free(s->qpad);
    free(s);
}

typedef struct {
    mlr_scorer *s;
    const float *q;
    size_t b;
    mlr_row_fn fn;
    void *arg;
} run_job;

/* Worker t scores its share of tiles [lo, hi), so each tile's scores are
 * still in cache when the callback reads them. A tile starts at a multiple
 * of the tile size and every sgemm call has the full tile of rows (a short
 * last tile is padded with zero rows): OpenBLAS rounds a row's scores
 * according to its place in the call, so this keeps a query's scores the
 * same whatever the threads, and whatever the blocks and shards as long as
 * they start at multiples of the tile (mlr_scorer_tile). */
static void run_part(int t, size_t lo, size_t hi, void *p)
{
    run_job *j = p;
    mlr_scorer *s = j->s;
    float *buf = s->scratch[t];
    for (size_t r = lo * s->tile; r < hi * s->tile && r < j->b; r += s->tile) {
        size_t n = j->b - r < s->tile ? j->b - r : s->tile;
        const float *q = j->q + r * s->d;
        if (n < s->tile) {
            memcpy(s->qpad[t], q, n * s->d * sizeof *q);
            q = s->qpad[t]; /* rows n.. stay zero */
        }
        mlr_scores(buf, q, s->tile, s->items, s->m, s->d);
        for (size_t i = 0; i < n; i++) j->fn(r + i, buf + i * s->m, j->arg);
    }
}

size_t mlr_scorer_tile(const mlr_scorer *s) { return s->tile; }

void mlr_scorer_run(mlr_scorer *s, const float *q, size_t b,
                    mlr_row_fn fn, void *arg)
{
    run_job j = {s, q, b, fn, arg};
    /* A thread per tile at most: tiny blocks are not worth a thread. The
     * tiles go to the threads as they come free (a tile's scores do not
     * depend on the thread). */
    size_t tiles = (b + s->tile - 1) / s->tile;
    int threads = tiles < (size_t)s->threads ? (int)tiles : s->threads;
    mlr_parallel_claim(threads, tiles, run_part, &j);
}

typedef struct {
    size_t m, k;
    const uint32_t *const *excl;
    const size_t *nexcl;
    mlr_hit *out;
    size_t *count;
} block_job;

static void block_row(size_t row, float *scores, void *p)
{
    block_job *j = p;
    const uint32_t *ex = j->excl ? j->excl[row] : NULL;
    size_t nex = j->excl ? j->nexcl[row] : 0;
    j->count[row] = mlr_topk_select(scores, j->m, j->k, ex, nex, j->out + row * j->k);
}

void mlr_topk_block(mlr_scorer *s, const float *q, size_t b, size_t k,
                    const uint32_t *const *excl, const size_t *nexcl,
                    mlr_hit *out, size_t *count)
{
    block_job j = {s->m, k, excl, nexcl, out, count};
    mlr_scorer_run(s, q, b, block_row, &j);
}



/* ---- formatting ---- */

size_t mlr_fmt_size(char *buf, size_t n)
{
    char tmp[24];
    size_t len = 0;
    do {
        tmp[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (size_t i = 0; i < len; i++) buf[i] = tmp[len - 1 - i];
    buf[len] = '\0';
    return len;
}

static const uint64_t pow10_u64[] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull};

/* %.6g by exact integer arithmetic: x = mant * 2^-sh with sh in [4, 37]
 * (|x| in [2^-14, 2^20)), so mant * 10^(5-e10) fits 64 bits for e10 in
 * [-5, 5] and the round-half-even of glibc's printf is reproduced exactly.
 * Anything else (zero, tiny, huge, subnormal, inf, NaN) goes to snprintf. */
size_t mlr_fmt_g6(char *buf, float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int bexp = (int)((bits >> 23) & 0xff);
    if (bexp < 113 || bexp > 146) return (size_t)snprintf(buf, 32, "%.6g", (double)x);
    uint64_t mant = (bits & 0x7fffffu) | 0x800000u;
    int sh = 150 - bexp;
    int e10 = (int)floor(log10(fabs((double)x)));
    if (e10 < -5) e10 = -5;
    if (e10 > 5) e10 = 5;
    uint64_t num = mant * pow10_u64[5 - e10];
    /* Fix log10's guess so that 10^5 <= num / 2^sh < 10^6. */
    while (e10 < 5 && num >= (1000000ull << sh)) num = mant * pow10_u64[5 - ++e10];
    while (e10 > -5 && num < (100000ull << sh)) num = mant * pow10_u64[5 - --e10];
    if (num >= (1000000ull << sh) || num < (100000ull << sh))
        return (size_t)snprintf(buf, 32, "%.6g", (double)x);
    uint64_t q = num >> sh, rem = num & ((1ull << sh) - 1), half = 1ull << (sh - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    if (q == 1000000) {
        q = 100000;
        e10++;
    }
    if (e10 < -4 || e10 > 5) return (size_t)snprintf(buf, 32, "%.6g", (double)x);
    char d[6];
    for (int i = 5; i >= 0; i--) {
        d[i] = (char)('0' + q % 10);
        q /= 10;
    }
    int last = 5; /* %g drops trailing zeros of the fraction */
    while (last > 0 && last > e10 && d[last] == '0') last--;
    size_t n = 0;
    if (bits >> 31) buf[n++] = '-';
    if (e10 >= 0) {
        for (int i = 0; i <= e10; i++) buf[n++] = d[i];
        if (last > e10) {
            buf[n++] = '.';
            for (int i = e10 + 1; i <= last; i++) buf[n++] = d[i];
        }
    } else {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = 0; i < -e10 - 1; i++) buf[n++] = '0';
        for (int i = 0; i <= last; i++) buf[n++] = d[i];
    }
    buf[n] = '\0';
    return n;
}

/* ---- list rows ---- */

size_t mlr_topk_format(char *buf, size_t query, const char *user, size_t ulen,
                       const mlr_hit *h, size_t n, const mlr_strmap *items)
{
    char head[64];
    size_t hl = mlr_fmt_size(head, query), w = 0;
    head[hl++] = '\t';
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + w, head, hl);
        w += hl;
        if (user) {
            memcpy(buf + w, user, ulen);
            w += ulen;
            buf[w++] = '\t';
        }
        w += mlr_fmt_size(buf + w, i + 1);
        buf[w++] = '\t';
        size_t il = mlr_strmap_key_len(items, h[i].item);
        memcpy(buf + w, mlr_strmap_key(items, h[i].item), il);
        w += il;
        buf[w++] = '\t';
        w += mlr_fmt_g6(buf + w, h[i].score);
        buf[w++] = '\n';
    }
    return w;
}

/* ---- streaming rows ---- */

int mlr_all_finite(const float *x, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            *bad = i;
            return 0;
        }
    return 1;
}

int mlr_npy_rows_open(mlr_npy_rows *s, const char *path, mlr_err *e)
{
    memset(s, 0, sizeof *s);
    int is_stdin = strcmp(path, "-") == 0;
    s->name = is_stdin ? "stdin" : path;
    s->fp = is_stdin ? stdin : fopen(path, "rb");
    if (!s->fp) return mlr_fail(e, "%s: cannot open: %s", path, strerror(errno));
    s->own = !is_stdin;
    mlr_array a;
    memset(&a, 0, sizeof a);
    if (mlr_npy_read_header(s->fp, s->name, &a, e) < 0) {
        mlr_npy_rows_close(s);
        return -1;
    }
    if (a.dtype != MLR_F4 || a.ndim != 2) {
        mlr_fail(e, "%s: expected a 2-D <f4 matrix, found %s with %d dimension%s",
                 s->name, mlr_dtype_name(a.dtype), a.ndim, a.ndim == 1 ? "" : "s");
        mlr_npy_rows_close(s);
        return -1;
    }
    s->rows = a.shape[0];
    s->cols = a.shape[1];
    return 0;
}

long mlr_npy_rows_read(mlr_npy_rows *s, float *buf, size_t max, mlr_err *e)
{
    size_t want = s->rows - s->done < max ? s->rows - s->done : max;
    if (want == 0) {
        if (s->cols > 0 && fgetc(s->fp) != EOF)
            return mlr_fail(e, "%s: data beyond the %zu rows of its header", s->name, s->rows);
        return 0;
    }
    size_t got = s->cols ? fread(buf, sizeof(float) * s->cols, want, s->fp) : want;
    if (got < want)
        return mlr_fail(e, "%s: truncated: %s after %zu of %zu rows", s->name,
                        ferror(s->fp) ? strerror(errno) : "end of file", s->done + got, s->rows);
    size_t bad;
    if (!mlr_all_finite(buf, want * s->cols, &bad))
        return mlr_fail(e, "%s: row %zu: non-finite value", s->name, s->done + bad / s->cols);
    s->done += want;
    return (long)want;
}

void mlr_npy_rows_close(mlr_npy_rows *s)
{
    if (s->fp && s->own) fclose(s->fp);
    s->fp = NULL;
    s->own = 0;
}
