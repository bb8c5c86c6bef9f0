/* mlr-synth: a synthetic interaction table with planted structure.
 *
 * The generative story (all of it seeded, one RNG passed by pointer):
 *   - K item clusters with centroid directions c_k in R^D; item vector
 *     v_i = c_k + noise. Genres are drawn by affinity <v_i, g> to genre
 *     directions, and title words from the cluster's own words, so genres
 *     and titles carry the item's latent position.
 *   - user taste u = scale * (0.35 (age group + gender + occupation vectors)
 *     + 0.6 individual noise): demographics predict taste.
 *   - who rates what: p(i | u) ~ pop_i * exp(taste * <u, c_k(i)>), with a
 *     Zipf popularity pop_i; drawn as a cluster (K-way, by binary search on
 *     the user's cumulative table) then an item of that cluster (alias
 *     table on popularity). A per-user hash set refuses duplicate pairs.
 *   - rating = clip(round(3.55 + b_u + b_i + <u, v_i> + noise), 1, 5).
 *   - timestamps: each user is active over a stretch of ~2 years, rows in
 *     increasing time. Output is user by user, each user's rows in time
 *     order (shuffle downstream if order matters).
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlr.h"

#define T0 874724710L            /* 1997-09-20, when ML-100K starts */
#define SPAN_SECONDS (730L * 86400L)
#define MAX_WORDS_PER_CLUSTER 6

static const char *const GENRES[] = {
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"};
enum { NGENRES = 19 };
/* How common each genre is in ML-100K (flags per 1682 items): a prior. */
static const double GENRE_PRIOR[NGENRES] = {
    0.5, 251, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247,
    101, 251, 71, 27};

static const char *const OCCUPATIONS[] = {
    "student", "other", "educator", "administrator", "engineer",
    "programmer", "librarian", "writer", "executive", "scientist", "artist",
    "technician", "marketing", "entertainment", "healthcare", "retired",
    "salesman", "lawyer", "none", "homemaker", "doctor"};
static const double OCCUPATION_PRIOR[] = {
    196, 105, 95, 79, 67, 66, 51, 45, 32, 31, 28, 27, 26, 18, 16, 14, 12, 12,
    9, 7, 7};
enum { NOCC = 21, NAGEGROUPS = 7 };

/* Words that carry no signal, shared by every cluster's titles. */
static const char *const COMMON_WORDS[] = {
    "The", "Night", "Love", "Man", "Story", "Return", "Last", "City", "Day",
    "Dead", "Life", "Dark", "House", "Time", "Girl", "King", "Blood", "Home",
    "Lost", "World", "Game", "Star", "Heart", "Road", "Secret", "Sky"};
enum { NCOMMON = sizeof COMMON_WORDS / sizeof *COMMON_WORDS };

typedef struct {
    long users, items, ratings, dim;
    uint64_t seed;
    double taste; /* strength of taste in who rates what; 0 = popularity only */
    const char *output;
} options;

/* Walker's alias table: O(1) draws from a fixed discrete distribution. */
typedef struct {
    size_t n;
    double *prob;
    uint32_t *alias;
} alias_table;

typedef struct {
    size_t D, K;
    float *centroid;   /* (K, D) */
    float *genre_vec;  /* (NGENRES, D) */
    float *item_vec;   /* (M, D) */
    double *item_bias; /* (M) */
    double *pop;       /* (M) Zipf weight */
    uint32_t *cluster; /* (M) */
    char **item_text;  /* (M) "title\tgenres" */
    uint32_t *members; /* items sorted by cluster */
    size_t *start;     /* (K + 1) offsets into members */
    alias_table *within; /* (K) popularity inside each cluster */
    double *mass;      /* (K) total popularity of the cluster */
    char **words;      /* (K * MAX_WORDS_PER_CLUSTER) cluster words */
} catalogue;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-synth [--n-users N] [--n-items M] [--n-ratings R] [--seed S] [--dim D]\n"
        "                 [--taste T] [--output FILE]\n"
        "Writes a synthetic interaction table (all ten SPEC.md columns) with planted\n"
        "structure: user taste from age/gender/occupation, items in latent clusters\n"
        "that genres and title words reveal, Zipf popularity times taste affinity\n"
        "deciding who rates what. Deterministic for a seed; rows user by user.\n"
        "  --n-users N     users (default 943)\n"
        "  --n-items M     items (default 1682)\n"
        "  --n-ratings R   ratings, no (user, item) pair twice (default 100000)\n"
        "  --seed S        random seed (default 1)\n"
        "  --dim D         latent rank (default 8)\n"
        "  --taste T       how much taste (vs popularity) decides who rates what (default 5)\n"
        "  -o, --output FILE  write here atomically (default stdout)\n"
        "  -h, --help      this help;  --version  the version\n"
        "  deprecated: --users, --items, --ratings (= --n-users, --n-items, --n-ratings)\n"
        "example: mlr-synth --n-users 943 --n-items 1682 --n-ratings 100000 --seed 7 | mlr-stats\n");
}

/* The long-only options: the old names kept as deprecated aliases. */
enum { OPT_OLD_USERS = 256, OPT_OLD_ITEMS, OPT_OLD_RATINGS };

static options parse_args(int argc, char **argv)
{
    options o = {.users = 943, .items = 1682, .ratings = 100000, .dim = 8, .seed = 1,
                 .taste = 5.0, .output = NULL};
    static const struct option longs[] = {
        {"n-users", required_argument, 0, 'u'}, {"n-items", required_argument, 0, 'i'},
        {"n-ratings", required_argument, 0, 'r'}, {"seed", required_argument, 0, 's'},
        {"users", required_argument, 0, OPT_OLD_USERS}, {"items", required_argument, 0, OPT_OLD_ITEMS},
        {"ratings", required_argument, 0, OPT_OLD_RATINGS},
        {"dim", required_argument, 0, 'd'}, {"taste", required_argument, 0, 't'},
        {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    opterr = 0; /* our own one-line messages below */
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case OPT_OLD_USERS: mlr_opt_deprecated("--users", "--n-users"); /* fall through */
        case 'u': o.users = mlr_opt_long("--n-users", optarg, 1, 100000000); break;
        case OPT_OLD_ITEMS: mlr_opt_deprecated("--items", "--n-items"); /* fall through */
        case 'i': o.items = mlr_opt_long("--n-items", optarg, 2, 100000000); break;
        case OPT_OLD_RATINGS: mlr_opt_deprecated("--ratings", "--n-ratings"); /* fall through */
        case 'r': o.ratings = mlr_opt_long("--n-ratings", optarg, 0, 4000000000L); break;
        case 's': o.seed = (uint64_t)mlr_opt_long("--seed", optarg, 0, INT64_MAX); break;
        case 'd': o.dim = mlr_opt_long("--dim", optarg, 1, 1024); break;
        case 't': o.taste = mlr_opt_double("--taste", optarg); break;
        case 'o': o.output = optarg; break;
        default: mlr_opt_rest(c, "mlr-synth", usage, argv);
        }
    }
    if (optind < argc)
        mlr_usage_die("unexpected argument '%s' (try 'mlr-synth --help')", argv[optind]);
    if (o.taste < 0 || o.taste > 20)
        mlr_usage_die("--taste must be within 0..20, not %g", o.taste);
    /* each user rates at most items/2 (rounded down): more would never finish */
    if ((double)o.ratings > (double)o.users * (double)(o.items / 2))
        mlr_usage_die("--n-ratings %ld is more than users x (items/2) = %.0f; no room for distinct pairs",
                      o.ratings, (double)o.users * (double)(o.items / 2));
    return o;
}

/* ---------- small numeric helpers ---------- */

static void random_vec(mlr_rng *r, float *v, size_t D, double sd)
{
    for (size_t d = 0; d < D; d++)
        v[d] = (float)(sd * mlr_rng_normal(r));
}

static double dot(const float *a, const float *b, size_t D)
{
    double s = 0;
    for (size_t d = 0; d < D; d++)
        s += (double)a[d] * b[d];
    return s;
}

/* Index of the first cumulative weight > x (cum ascending, n entries). */
static size_t search_cum(const double *cum, size_t n, double x)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static size_t draw_weighted(mlr_rng *r, const double *w, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    double x = mlr_rng_uniform(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

static void alias_build(alias_table *t, const double *w, size_t n)
{
    t->n = n;
    t->prob = xmalloc(n * sizeof *t->prob);
    t->alias = xmalloc(n * sizeof *t->alias);
    uint32_t *small = xmalloc(n * sizeof *small), *large = xmalloc(n * sizeof *large);
    size_t ns = 0, nl = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += w[i];
    for (size_t i = 0; i < n; i++) {
        t->prob[i] = w[i] * (double)n / total;
        t->alias[i] = (uint32_t)i;
        if (t->prob[i] < 1)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        t->alias[s] = l;
        t->prob[l] -= 1 - t->prob[s];
        if (t->prob[l] < 1) {
            nl--;
            small[ns++] = l;
        }
    }
    /* Leftovers are 1 up to rounding. */
    while (ns)
        t->prob[small[--ns]] = 1;
    while (nl)
        t->prob[large[--nl]] = 1;
    free(small);
    free(large);
}

static size_t alias_draw(const alias_table *t, mlr_rng *r)
{
    size_t i = (size_t)mlr_rng_below(r, t->n);
    return mlr_rng_uniform(r) < t->prob[i] ? i : t->alias[i];
}

static void alias_free(alias_table *t)
{
    free(t->prob);
    free(t->alias);
}

/* ---------- the catalogue ---------- */

static char *make_word(mlr_rng *r)
{
    static const char *const SYL[] = {
        "ka", "lo", "mi", "ra", "ven", "tor", "sa", "del", "mor", "zan", "qui",
        "bel", "dra", "nox", "el", "ar", "vi", "gal", "hun", "pre", "sol", "tes"};
    enum { NSYL = sizeof SYL / sizeof *SYL };
    char buf[32] = "";
    size_t n = 2 + mlr_rng_below(r, 2);
    for (size_t i = 0; i < n; i++)
        strcat(buf, SYL[mlr_rng_below(r, NSYL)]);
    buf[0] = (char)(buf[0] - 'a' + 'A');
    return xstrdup(buf);
}

/* Genres: 1-3 distinct, by prior times affinity, listed in genre order. */
static void item_genres(mlr_rng *r, const catalogue *c, const float *v, char *out)
{
    double w[NGENRES];
    int chosen[NGENRES] = {0};
    for (size_t g = 0; g < NGENRES; g++)
        w[g] = GENRE_PRIOR[g] * exp(2.0 * dot(v, c->genre_vec + g * c->D, c->D));
    double u = mlr_rng_uniform(r);
    int n = u < 0.45 ? 1 : u < 0.8 ? 2 : 3;
    for (int k = 0; k < n; k++) {
        size_t g = draw_weighted(r, w, NGENRES);
        chosen[g] = 1;
        w[g] = 0;
    }
    out[0] = '\0';
    for (size_t g = 0; g < NGENRES; g++) {
        if (!chosen[g])
            continue;
        if (out[0])
            strcat(out, "|");
        strcat(out, GENRES[g]);
    }
}

/* "Word Word (1994)": words from the item's cluster or the common pool. */
static char *item_text(mlr_rng *r, const catalogue *c, size_t i)
{
    char buf[512] = "", genres[256];
    size_t k = c->cluster[i], n = 1 + mlr_rng_below(r, 3);
    for (size_t w = 0; w < n; w++) {
        const char *word = mlr_rng_uniform(r) < 0.6
            ? c->words[k * MAX_WORDS_PER_CLUSTER + mlr_rng_below(r, MAX_WORDS_PER_CLUSTER)]
            : COMMON_WORDS[mlr_rng_below(r, NCOMMON)];
        if (w)
            strcat(buf, " ");
        strcat(buf, word);
    }
    /* Years lean to the 1990s, as in MovieLens. */
    int year = 1998 - (int)fmin(75, floor(-12.0 * log(1 - mlr_rng_uniform(r))));
    item_genres(r, c, c->item_vec + i * c->D, genres);
    size_t len = strlen(buf);
    snprintf(buf + len, sizeof buf - len, " (%d)\t%s", year, genres);
    return xstrdup(buf);
}

static void build_clusters(mlr_rng *r, catalogue *c, size_t M)
{
    c->K = M / 25 < 4 ? 4 : M / 25 > 512 ? 512 : M / 25;
    size_t D = c->D, K = c->K;
    c->centroid = xmalloc(K * D * sizeof *c->centroid);
    random_vec(r, c->centroid, K * D, 1.0 / sqrt((double)D));
    c->genre_vec = xmalloc(NGENRES * D * sizeof *c->genre_vec);
    random_vec(r, c->genre_vec, NGENRES * D, 1.0 / sqrt((double)D));
    c->words = xmalloc(K * MAX_WORDS_PER_CLUSTER * sizeof *c->words);
    for (size_t w = 0; w < K * MAX_WORDS_PER_CLUSTER; w++)
        c->words[w] = make_word(r);
}

/* Zipf popularity by a random rank; popular items are also rated higher. */
static void build_items(mlr_rng *r, catalogue *c, size_t M)
{
    size_t D = c->D;
    uint32_t *rank = xmalloc(M * sizeof *rank);
    for (size_t i = 0; i < M; i++)
        rank[i] = (uint32_t)i;
    for (size_t i = M - 1; i > 0; i--) {
        size_t j = (size_t)mlr_rng_below(r, i + 1);
        uint32_t t = rank[i]; rank[i] = rank[j]; rank[j] = t;
    }
    c->item_vec = xmalloc(M * D * sizeof *c->item_vec);
    c->item_bias = xmalloc(M * sizeof *c->item_bias);
    c->pop = xmalloc(M * sizeof *c->pop);
    c->cluster = xmalloc(M * sizeof *c->cluster);
    c->item_text = xmalloc(M * sizeof *c->item_text);
    for (size_t i = 0; i < M; i++) {
        size_t k = (size_t)mlr_rng_below(r, c->K);
        c->cluster[i] = (uint32_t)k;
        random_vec(r, c->item_vec + i * D, D, 0.5 / sqrt((double)D));
        for (size_t d = 0; d < D; d++)
            c->item_vec[i * D + d] += c->centroid[k * D + d];
        c->pop[i] = 1.0 / pow(rank[i] + 10.0, 1.1);
        double z = 1.0 - 2.0 * rank[i] / (double)M; /* +1 most popular */
        c->item_bias[i] = 0.3 * z + 0.35 * mlr_rng_normal(r);
        c->item_text[i] = item_text(r, c, i);
    }
    free(rank);
}

/* Members of each cluster and an alias table on their popularity. */
static void index_clusters(catalogue *c, size_t M)
{
    size_t K = c->K;
    c->start = xcalloc(K + 1, sizeof *c->start);
    c->members = xmalloc(M * sizeof *c->members);
    c->mass = xcalloc(K, sizeof *c->mass);
    for (size_t i = 0; i < M; i++)
        c->start[c->cluster[i] + 1]++;
    for (size_t k = 0; k < K; k++)
        c->start[k + 1] += c->start[k];
    size_t *fill = xmalloc(K * sizeof *fill);
    memcpy(fill, c->start, K * sizeof *fill);
    for (size_t i = 0; i < M; i++)
        c->members[fill[c->cluster[i]]++] = (uint32_t)i;
    free(fill);
    c->within = xcalloc(K, sizeof *c->within);
    double *w = xmalloc(M * sizeof *w);
    for (size_t k = 0; k < K; k++) {
        size_t n = c->start[k + 1] - c->start[k];
        for (size_t j = 0; j < n; j++) {
            w[j] = c->pop[c->members[c->start[k] + j]];
            c->mass[k] += w[j];
        }
        if (n)
            alias_build(&c->within[k], w, n);
    }
    free(w);
}

static void catalogue_free(catalogue *c, size_t M)
{
    for (size_t i = 0; i < M; i++)
        free(c->item_text[i]);
    for (size_t w = 0; w < c->K * MAX_WORDS_PER_CLUSTER; w++)
        free(c->words[w]);
    for (size_t k = 0; k < c->K; k++)
        alias_free(&c->within[k]);
    free(c->centroid); free(c->genre_vec); free(c->item_vec); free(c->item_bias);
    free(c->pop); free(c->cluster); free(c->item_text); free(c->members);
    free(c->start); free(c->within); free(c->mass); free(c->words);
}

/* ---------- users ---------- */

typedef struct {
    size_t N, D;
    float *taste;     /* (N, D) */
    double *bias;     /* (N) */
    long *count;      /* (N) ratings per user */
    char **prefix;    /* (N) "age\tgender\toccupation\tzip" */
} population;

static int age_group(int age)
{
    static const int bounds[NAGEGROUPS - 1] = {18, 25, 35, 45, 50, 56};
    int g = 0;
    while (g < NAGEGROUPS - 1 && age >= bounds[g])
        g++;
    return g;
}

static void build_users(mlr_rng *r, population *p, size_t N, size_t D)
{
    float *age_v = xmalloc(NAGEGROUPS * D * sizeof *age_v);
    float *sex_v = xmalloc(2 * D * sizeof *sex_v);
    float *occ_v = xmalloc(NOCC * D * sizeof *occ_v);
    double sd = 1.0 / sqrt((double)D), scale = 0.8 * sqrt((double)D) / 0.85;
    random_vec(r, age_v, NAGEGROUPS * D, sd);
    random_vec(r, sex_v, 2 * D, sd);
    random_vec(r, occ_v, NOCC * D, sd);
    p->N = N;
    p->D = D;
    p->taste = xmalloc(N * D * sizeof *p->taste);
    p->bias = xmalloc(N * sizeof *p->bias);
    p->prefix = xmalloc(N * sizeof *p->prefix);
    for (size_t u = 0; u < N; u++) {
        int age = (int)lround(16 + exp(2.7 + 0.5 * mlr_rng_normal(r)));
        age = age < 7 ? 7 : age > 73 ? 73 : age;
        int female = mlr_rng_uniform(r) < 0.29;
        size_t occ = draw_weighted(r, OCCUPATION_PRIOR, NOCC);
        const float *a = age_v + age_group(age) * D, *s = sex_v + female * D,
                    *oc = occ_v + occ * D;
        float *t = p->taste + u * D;
        for (size_t d = 0; d < D; d++)
            t[d] = (float)(scale * (0.35 * (a[d] + s[d] + oc[d]) + 0.6 * sd * mlr_rng_normal(r)));
        p->bias[u] = 0.4 * mlr_rng_normal(r);
        char buf[128];
        snprintf(buf, sizeof buf, "%d\t%c\t%s\t%05u", age, female ? 'F' : 'M',
                 OCCUPATIONS[occ], (unsigned)mlr_rng_below(r, 100000));
        p->prefix[u] = xstrdup(buf);
    }
    free(age_v);
    free(sex_v);
    free(occ_v);
}

/* Long-tailed ratings per user (lognormal weights) summing to exactly R,
 * at least min(20, R/N) each and at most half the catalogue. */
static void assign_counts(mlr_rng *r, population *p, long R, long M)
{
    size_t N = p->N;
    long floor_n = R / (long)N < 20 ? R / (long)N : 20, cap = M / 2;
    double *w = xmalloc(N * sizeof *w), total = 0;
    for (size_t u = 0; u < N; u++)
        total += w[u] = exp(1.1 * mlr_rng_normal(r));
    p->count = xmalloc(N * sizeof *p->count);
    long left = R - floor_n * (long)N;
    long spare = left;
    for (size_t u = 0; u < N; u++) {
        long n = floor_n + (long)floor((double)left * w[u] / total);
        p->count[u] = n > cap ? cap : n;
        spare -= p->count[u] - floor_n;
    }
    /* Rounding and capping left `spare` ratings: hand them out in turn. */
    for (size_t u = 0; spare > 0; u = (u + 1) % N) {
        if (p->count[u] < cap) {
            p->count[u]++;
            spare--;
        }
    }
    free(w);
}

static void population_free(population *p)
{
    for (size_t u = 0; u < p->N; u++)
        free(p->prefix[u]);
    free(p->taste); free(p->bias); free(p->count); free(p->prefix);
}

/* ---------- writing ---------- */

typedef struct {
    char *buf;
    size_t len, cap;
    FILE *fp;
    int failed; /* a write failed: later flushes write nothing, run reports it */
} outbuf;

static void ob_flush(outbuf *b)
{
    if (b->len && !b->failed && fwrite(b->buf, 1, b->len, b->fp) != b->len)
        b->failed = 1;
    b->len = 0;
}

static void ob_str(outbuf *b, const char *s, size_t n)
{
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static void ob_ulong(outbuf *b, unsigned long v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        b->buf[b->len++] = tmp[--n];
}

/* ---------- the ratings ---------- */

typedef struct {
    uint32_t *slot; /* item + 1, 0 empty */
    size_t cap;
} pairset;

/* 1 if item was new (and is now in the set). cap is a power of two. */
static int pairset_add(pairset *s, uint32_t item)
{
    size_t mask = s->cap - 1, i = (item * 0x9E3779B1u) & mask;
    while (s->slot[i]) {
        if (s->slot[i] == item + 1)
            return 0;
        i = (i + 1) & mask;
    }
    s->slot[i] = item + 1;
    return 1;
}

/* One item for user u: by taste then popularity, never one already rated.
 * Falls back to uniform draws after repeated refusals so heavy users of a
 * small cluster still finish (n <= M/2 keeps those cheap). */
static uint32_t pick_item(mlr_rng *r, const catalogue *c, const double *cum,
                          pairset *seen, size_t M)
{
    for (int tries = 0;; tries++) {
        size_t item;
        if (tries < 16) {
            size_t k = search_cum(cum, c->K, mlr_rng_uniform(r) * cum[c->K - 1]);
            item = c->members[c->start[k] + alias_draw(&c->within[k], r)];
        } else {
            item = (size_t)mlr_rng_below(r, M);
        }
        if (pairset_add(seen, (uint32_t)item))
            return (uint32_t)item;
    }
}

/* Sorted increasing timestamps for n ratings inside the user's active span. */
static void user_times(mlr_rng *r, long *t, long n)
{
    long start = T0 + (long)(mlr_rng_uniform(r) * 0.85 * SPAN_SECONDS);
    double len = fmin((double)(T0 + SPAN_SECONDS - start),
                      86400.0 * (1 + 200 * -log(1 - mlr_rng_uniform(r))));
    double acc = 0, *gap = xmalloc(((size_t)n + 1) * sizeof *gap);
    for (long j = 0; j <= n; j++)
        acc += gap[j] = -log(1 - mlr_rng_uniform(r));
    double pos = 0;
    for (long j = 0; j < n; j++) {
        pos += gap[j];
        t[j] = start + (long)(len * pos / acc);
        if (j && t[j] <= t[j - 1])
            t[j] = t[j - 1] + 1;
    }
    free(gap);
}

/* Scratch space reused from user to user. */
typedef struct {
    double *cum;  /* (K) cumulative cluster weights of the current user */
    pairset seen; /* items the current user has rated */
    long *times;  /* (max count) the current user's timestamps */
    size_t *text_len; /* (M) strlen of each item_text */
} scratch;

static void write_user(mlr_rng *r, const catalogue *c, const population *p, size_t u,
                       size_t M, double taste, scratch *s, outbuf *b)
{
    size_t D = c->D;
    const float *t = p->taste + u * D;
    double acc = 0, *cum = s->cum;
    pairset *seen = &s->seen;
    long *times = s->times;
    for (size_t k = 0; k < c->K; k++) {
        acc += c->mass[k] * exp(taste * dot(t, c->centroid + k * D, D));
        cum[k] = acc;
    }
    long n = p->count[u];
    size_t cap = 16;
    while (cap < (size_t)n * 2)
        cap *= 2;
    seen->cap = cap;
    memset(seen->slot, 0, cap * sizeof *seen->slot);
    user_times(r, times, n);
    size_t plen = strlen(p->prefix[u]);
    for (long j = 0; j < n; j++) {
        uint32_t i = pick_item(r, c, cum, seen, M);
        double x = 2.5 + p->bias[u] + c->item_bias[i] + dot(t, c->item_vec + i * D, D)
                   + 0.8 * mlr_rng_normal(r);
        long rating = lround(x);
        rating = rating < 1 ? 1 : rating > 5 ? 5 : rating;
        if (b->cap - b->len < 1024 + plen)
            ob_flush(b);
        ob_ulong(b, u + 1); b->buf[b->len++] = '\t';
        ob_ulong(b, i + 1); b->buf[b->len++] = '\t';
        b->buf[b->len++] = (char)('0' + rating); b->buf[b->len++] = '\t';
        ob_ulong(b, (unsigned long)times[j]); b->buf[b->len++] = '\t';
        ob_str(b, p->prefix[u], plen); b->buf[b->len++] = '\t';
        ob_str(b, c->item_text[i], s->text_len[i]);
        b->buf[b->len++] = '\n';
    }
}

static int run(const options *o, mlr_err *e)
{
    mlr_rng rng;
    mlr_rng_seed(&rng, o->seed);
    size_t M = (size_t)o->items, N = (size_t)o->users, D = (size_t)o->dim;
    catalogue c = {.D = D};
    build_clusters(&rng, &c, M);
    build_items(&rng, &c, M);
    index_clusters(&c, M);
    population p;
    build_users(&rng, &p, N, D);
    assign_counts(&rng, &p, o->ratings, o->items);

    long most = 0;
    for (size_t u = 0; u < N; u++)
        most = p.count[u] > most ? p.count[u] : most;
    size_t setcap = 16;
    while (setcap < (size_t)most * 2)
        setcap *= 2;
    scratch s = {xmalloc(c.K * sizeof(double)), {xmalloc(setcap * sizeof(uint32_t)), setcap},
                 xmalloc(((size_t)most + 1) * sizeof(long)), xmalloc(M * sizeof(size_t))};
    for (size_t i = 0; i < M; i++)
        s.text_len[i] = strlen(c.item_text[i]);

    mlr_out out;
    int rc = mlr_out_open(&out, o->output, e);
    outbuf b = {xmalloc(1 << 20), 0, 1 << 20, out.fp, rc < 0};
    static const char header[] = "user_id\titem_id\trating\ttimestamp\tuser_age\tuser_gender\t"
        "user_occupation\tuser_zip\titem_title\titem_genres\n";
    if (rc == 0) {
        ob_str(&b, header, sizeof header - 1);
        for (size_t u = 0; u < N && !b.failed; u++)
            write_user(&rng, &c, &p, u, M, o->taste, &s, &b);
        ob_flush(&b);
        if (b.failed) {
            mlr_out_abort(&out);
            rc = mlr_fail(e, "write error");
        } else {
            rc = mlr_out_commit(&out, e);
        }
    }
    free(b.buf); free(s.cum); free(s.seen.slot); free(s.times); free(s.text_len);
    population_free(&p);
    catalogue_free(&c, M);
    return rc;
}

int main(int argc, char **argv)
{
    mlr_err e;
    mlr_init_tool();
    options o = parse_args(argc, argv);
    if (run(&o, &e) < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
