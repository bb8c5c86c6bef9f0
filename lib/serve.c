/* serve.c: a served model directory (docs/serving.md): reading and
 * verifying it, and query embeddings built from users' raw features. */
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "ease.h"
#include "fprint.h"
#include "ids.h"
#include "npy.h"
#include "serve.h"
#include "table.h"
#include "topk.h"

const char *const mlr_profile_cols[MLR_P_NCOLS] = {"user_age", "user_gender",
                                                   "user_occupation", "user_zip"};

#define SERVE_MAX_TOKENS 16 /* mlr-encode's default --max-tokens */

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- MANIFEST ---- */

/* model.safetensors or model-seedK.safetensors: one of the models. */
static int is_model(const char *name)
{
    size_t d = strncmp(name, "model-seed", 10) == 0 ? strspn(name + 10, "0123456789") : 0;
    return strcmp(name, "model.safetensors") == 0 ||
           (d > 0 && strcmp(name + 10 + d, ".safetensors") == 0);
}

/* The models MANIFEST lists, in the order of their fingerprints (the
 * columns mlr-embed gives them in items.npy), and the set's fingerprint. */
static int note_model(mlr_served *s, const char *name, const char *hex, const char *path, mlr_err *e)
{
    if (s->nmodel == MLR_SERVED_MAX_MODELS)
        return mlr_fail(e, "%s: more than %d models", path, MLR_SERVED_MAX_MODELS);
    if (strlen(name) >= sizeof s->model_name[0])
        return mlr_fail(e, "%s: model file name '%s' too long", path, name);
    size_t at = s->nmodel++;
    for (; at > 0 && strcmp(s->model_sha[at - 1], hex) > 0; at--) {
        memcpy(s->model_sha[at], s->model_sha[at - 1], sizeof s->model_sha[0]);
        memcpy(s->model_name[at], s->model_name[at - 1], sizeof s->model_name[0]);
    }
    snprintf(s->model_sha[at], sizeof s->model_sha[0], "%s", hex);
    snprintf(s->model_name[at], sizeof s->model_name[0], "%s", name);
    return 0;
}

/* Checks each "HEX  PATH" line of DIR/MANIFEST (with verify: the file's
 * SHA-256), requires the files a served directory needs, and takes the
 * models' fingerprints from their lines. */
static int read_manifest(mlr_served *s, int verify, mlr_err *e)
{
    static const char *const need[] = {"model.safetensors", "spec/features.tsv", "items.npy",
                                       "items.ids", "catalogue.tsv", "history.tsv"};
    int found[6] = {0};
    char *path = join(s->dir, "MANIFEST");
    FILE *fp = fopen(path, "r");
    if (!fp) {
        mlr_fail(e, "%s: cannot open: %s (not a served model directory: see docs/serving.md)",
                 path, strerror(errno));
        free(path);
        return -1;
    }
    char line[4200];
    long no = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        no++;
        size_t len = strlen(line);
        if (len == 0 || line[len - 1] != '\n') {
            rc = mlr_fail(e, "%s:%ld: line too long or not ended", path, no);
            break;
        }
        line[--len] = 0;
        if (len < 67 || line[64] != ' ' || line[65] != ' ' || strspn(line, "0123456789abcdef") != 64) {
            rc = mlr_fail(e, "%s:%ld: expected 'SHA256  PATH' (sha256sum's format)", path, no);
            break;
        }
        const char *name = line + 66;
        if (name[0] == '/' || strstr(name, "..")) {
            rc = mlr_fail(e, "%s:%ld: '%s' is not a path inside the directory", path, no, name);
            break;
        }
        line[64] = 0;
        for (size_t i = 0; i < 6; i++)
            if (strcmp(name, need[i]) == 0)
                found[i] = 1;
        if (is_model(name) && note_model(s, name, line, path, e) < 0) {
            rc = -1;
            break;
        }
        if (verify) {
            char *f = join(s->dir, name), hex[65];
            if (mlr_sha256_file(f, hex, e) < 0)
                rc = -1;
            else if (strcmp(hex, line) != 0)
                rc = mlr_fail(e, "%s: changed since MANIFEST was written (sha256 %.12s, MANIFEST "
                              "says %.12s)", f, hex, line);
            free(f);
        }
    }
    if (rc == 0 && ferror(fp))
        rc = mlr_fail(e, "%s: read error", path);
    for (size_t i = 0; rc == 0 && i < 6; i++)
        if (!found[i])
            rc = mlr_fail(e, "%s: %s is not listed (not a served model directory)", path, need[i]);
    if (rc == 0) {
        const char *sha[MLR_SERVED_MAX_MODELS];
        for (size_t k = 0; k < s->nmodel; k++)
            sha[k] = s->model_sha[k];
        mlr_fprint_set(sha, (int)s->nmodel, s->fingerprint);
    }
    fclose(fp);
    free(path);
    return rc;
}

/* ---- the catalogue ---- */

/* items (M, W) -> items (M, D) and prior (M): W is each model's D_k
 * columns then its prior's, all times 1/sqrt(K) (mlr-embed); a query's
 * column of 1 (rank_lists) then adds the models' mean prior. In place:
 * a row's columns only move left. */
static void split_prior(mlr_served *s, size_t W)
{
    float scale = 1.0f / sqrtf((float)s->nmodel);
    s->prior = xmalloc((s->M + 1) * sizeof *s->prior);
    for (size_t i = 0; i < s->M; i++) {
        size_t from = i * W, to = i * s->D;
        float prior = 0;
        for (size_t k = 0; k < s->nmodel; k++) {
            size_t Dk = model_out_width(&s->m[k]);
            memmove(s->items + to, s->items + from, Dk * sizeof *s->items);
            to += Dk;
            from += Dk;
            prior += s->items[from++] * scale;
        }
        s->prior[i] = prior;
    }
}

static int read_items(mlr_served *s, mlr_err *e)
{
    char *npy = join(s->dir, "items.npy"), *ids = join(s->dir, "items.ids");
    mlr_array a;
    memset(&a, 0, sizeof a);
    size_t rows = 0, want = 0, D = 0;
    for (size_t k = 0; k < s->nmodel; k++) {
        want += model_rank_width(&s->m[k]);
        D += model_out_width(&s->m[k]);
    }
    s->item_ids = mlr_strmap_new(0);
    int rc = mlr_npy_read(npy, MLR_F4, &a, e);
    if (rc == 0 && (a.ndim != 2 || a.shape[1] != want))
        rc = mlr_fail(e, "%s: shape (%zu, %zu), the model%s items are %zu wide", npy, a.shape[0],
                      a.shape[1], s->nmodel > 1 ? "s'" : "'s", want);
    if (rc == 0)
        rc = mlr_ids_read(ids, s->item_ids, &rows, e);
    /* The embeddings must be the served model's (docs/fingerprint.md);
     * an items.ids without a fingerprint line (older) is not checked. */
    mlr_fprint fi, fm = {.model = ""};
    memcpy(fm.model, s->fingerprint, sizeof fm.model);
    char *model = join(s->dir, s->nmodel > 1 ? "model*.safetensors" : "model.safetensors");
    if (rc == 0)
        rc = mlr_fprint_read(ids, &fi, e);
    if (rc == 0)
        rc = mlr_fprint_same(ids, &fi, model, &fm, e);
    free(model);
    if (rc == 0 && rows != a.shape[0])
        rc = mlr_fail(e, "%s: %zu ids, %s has %zu rows", ids, rows, npy, a.shape[0]);
    size_t bad;
    if (rc == 0 && !mlr_all_finite(a.data, rows * want, &bad))
        rc = mlr_fail(e, "%s: row %zu: non-finite value", npy, bad / want);
    if (rc == 0) {
        s->items = a.data;
        s->M = rows;
        s->D = D;
        if (want > D) /* the prior's column apart, the rows D wide as the towers' */
            split_prior(s, want);
    } else {
        mlr_array_free(&a);
    }
    free(npy);
    free(ids);
    return rc;
}

/* catalogue.tsv (lib/catalogue): a title and genres for every item of
 * items.ids; rows of other items are read and not kept. */
static int read_catalogue(mlr_served *s, mlr_err *e)
{
    char *path = join(s->dir, "catalogue.tsv");
    s->title = xcalloc(s->M + 1, sizeof *s->title);
    s->genres = xcalloc(s->M + 1, sizeof *s->genres);
    mlr_catalogue c;
    mlr_catalogue_init(&c);
    int rc = mlr_catalogue_read(&c, path, e);
    for (size_t i = 0; rc == 0 && i < s->M; i++) {
        const char *id = mlr_strmap_key(s->item_ids, i);
        long j = mlr_catalogue_find(&c, id, mlr_strmap_key_len(s->item_ids, i));
        if (j < 0) {
            rc = mlr_fail(e, "%s: no row for item '%s' of items.ids", path, id);
        } else {
            s->title[i] = xstrdup(mlr_catalogue_title(&c, (size_t)j, NULL));
            s->genres[i] = xstrdup(mlr_catalogue_genres(&c, (size_t)j, NULL));
        }
    }
    mlr_catalogue_free(&c);
    free(path);
    return rc;
}

/* ---- the histories ---- */

typedef struct {
    uint32_t *user, *item;
    float *rating;
    double *time; /* only for a user-time rule: 160 MB more at the 20M shape */
    int with_time;
    size_t n, cap;
} rows_buf;

static void rows_push(rows_buf *b, uint32_t u, uint32_t i, float r, double t)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4096;
        b->user = xrealloc(b->user, b->cap * sizeof *b->user);
        b->item = xrealloc(b->item, b->cap * sizeof *b->item);
        b->rating = xrealloc(b->rating, b->cap * sizeof *b->rating);
        if (b->with_time)
            b->time = xrealloc(b->time, b->cap * sizeof *b->time);
    }
    b->user[b->n] = u;
    b->item[b->n] = i;
    if (b->with_time)
        b->time[b->n] = t;
    b->rating[b->n++] = r;
}

static int by_time(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Each user's query time by the rule of user-time.tsv, from their rows'
 * times grouped by user (time, hist_start order; sorted here): last or
 * median into user_at (the later middle one, as mlr-history's median
 * row), or for mean the times kept in hist_time. A user without a
 * known row: NAN, the time of the request. */
static void note_user_times(mlr_served *s, double *time, size_t U)
{
    if (s->user_time == MLR_UT_MEAN) {
        s->hist_time = time;
        return;
    }
    s->user_at = xmalloc((U + 1) * sizeof *s->user_at);
    for (size_t u = 0; u < U; u++) {
        size_t lo = s->hist_start[u], n = s->hist_start[u + 1] - lo;
        qsort(time + lo, n, sizeof *time, by_time);
        s->user_at[u] = n == 0 ? NAN : time[lo + (s->user_time == MLR_UT_LAST ? n - 1 : n / 2)];
    }
    free(time);
}

/* Each user's history_max latest rows, newest first, kept as history.tsv
 * is read (no row's time is kept beyond its user's latest H: at the 20M
 * shape two arrays of every row's time cost 320 MB). Rows come in file
 * order, so of two rows at one time the later one is the newer
 * (mlr-history's rule): it goes before the kept ones at a time <= its. */
typedef struct {
    double *t;   /* (users cap, H) the kept rows' times */
    size_t cap;  /* users the arrays hold */
} recent_buf;

/* Room for user u in the arrays (every user of history.tsv has a row of
 * them, even one whose rows all come after the request time). */
static void recent_grow(mlr_served *s, recent_buf *rb, size_t u)
{
    size_t H = s->history_max;
    if (u >= rb->cap) {
        size_t cap = 2 * u + 64;
        s->recent = xrealloc(s->recent, cap * H * sizeof *s->recent);
        rb->t = xrealloc(rb->t, cap * H * sizeof *rb->t);
        s->nrecent = xrealloc(s->nrecent, cap * sizeof *s->nrecent);
        memset(s->nrecent + rb->cap, 0, (cap - rb->cap) * sizeof *s->nrecent);
        rb->cap = cap;
    }
}

static void recent_push(mlr_served *s, recent_buf *rb, size_t u, uint32_t item, double time)
{
    size_t H = s->history_max;
    recent_grow(s, rb, u);
    uint32_t *r = s->recent + u * H;
    double *t = rb->t + u * H;
    size_t n = s->nrecent[u];
    if (n == H && time < t[H - 1])
        return; /* older than all kept */
    size_t at = n < H ? n++ : H - 1;
    for (; at > 0 && time >= t[at - 1]; at--) {
        t[at] = t[at - 1];
        r[at] = r[at - 1];
    }
    t[at] = time;
    r[at] = item;
    s->nrecent[u] = (uint16_t)n;
}

/* User u's profile: the user columns of row r, interned. */
static void note_profile(mlr_served *s, const mlr_reader *r, size_t u, const int *pc)
{
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        s->profile[u * MLR_P_NCOLS + c] =
            pc[c] < 0 ? -1
                      : (int32_t)mlr_strmap_intern(s->values, mlr_reader_field(r, (size_t)pc[c]),
                                                   mlr_reader_field_len(r, (size_t)pc[c]));
}

/* history.tsv's rows (b) grouped by user into s->hist_start, hist_item
 * and hist_rating, the file's order kept within each user; their times
 * to note_user_times. */
static void group_history(mlr_served *s, const rows_buf *b)
{
    size_t U = mlr_strmap_count(s->users);
    s->hist_start = xcalloc(U + 1, sizeof *s->hist_start);
    for (size_t k = 0; k < b->n; k++)
        s->hist_start[b->user[k] + 1]++;
    for (size_t u = 0; u < U; u++)
        s->hist_start[u + 1] += s->hist_start[u];
    size_t *at = xmalloc((U + 1) * sizeof *at);
    memcpy(at, s->hist_start, (U + 1) * sizeof *at);
    s->hist_item = xmalloc((b->n + 1) * sizeof *s->hist_item);
    s->hist_rating = xmalloc((b->n + 1) * sizeof *s->hist_rating);
    double *time = b->with_time ? xmalloc((b->n + 1) * sizeof *time) : NULL;
    for (size_t k = 0; k < b->n; k++) {
        size_t j = at[b->user[k]]++;
        s->hist_item[j] = b->item[k];
        s->hist_rating[j] = b->rating[k];
        if (time)
            time[j] = b->time[k];
    }
    free(at);
    if (time)
        note_user_times(s, time, U);
}

/* history.tsv: the users, each one's rows known at s->as_of grouped
 * (group_history), their profile (the latest known row's user columns)
 * and, with a history feature, their recent items. */
static int read_history(mlr_served *s, mlr_err *e)
{
    char *path = join(s->dir, "history.tsv");
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    rows_buf b = {.with_time = s->user_time != MLR_UT_NONE};
    recent_buf rb = {0};
    double *latest = NULL; /* (cap) each user's latest timestamp */
    size_t cap = 0;
    int rc = r ? 0 : -1, cu = -1, ci = -1, st = 0;
    s->users = mlr_strmap_new(0);
    s->values = mlr_strmap_new(0);
    if (rc == 0 && ((cu = mlr_reader_require(r, "user_id", e)) < 0 ||
                    (ci = mlr_reader_require(r, "item_id", e)) < 0))
        rc = -1;
    int cr = r ? mlr_reader_col(r, "rating") : -1, ct = r ? mlr_reader_col(r, "timestamp") : -1;
    int pc[MLR_P_NCOLS];
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        pc[c] = r ? mlr_reader_col(r, mlr_profile_cols[c]) : -1;
    while (rc == 0 && (st = mlr_reader_next(r, e)) == 1) {
        int added;
        size_t u = mlr_strmap_intern2(s->users, mlr_reader_field(r, (size_t)cu),
                                      mlr_reader_field_len(r, (size_t)cu), &added);
        long i = mlr_served_item(s, mlr_reader_field(r, (size_t)ci), mlr_reader_field_len(r, (size_t)ci));
        double rating = NAN, t = 0;
        if ((cr >= 0 && mlr_reader_double(r, (size_t)cr, &rating, e) < 0) ||
            (ct >= 0 && mlr_reader_double(r, (size_t)ct, &t, e) < 0)) {
            rc = -1;
            break;
        }
        if (i < 0) {
            rc = mlr_fail(e, "%s:%ld: item '%s' is not in items.ids", path, mlr_reader_line(r),
                          mlr_reader_field(r, (size_t)ci));
            break;
        }
        /* a row after the request time is not known at that time */
        int known = t <= s->as_of;
        if (known)
            rows_push(&b, (uint32_t)u, (uint32_t)i, (float)rating, t);
        if (s->history_feature && known)
            recent_push(s, &rb, u, (uint32_t)i, t);
        else if (s->history_feature)
            recent_grow(s, &rb, u);
        if (u >= cap) {
            cap = 2 * u + 64;
            latest = xrealloc(latest, cap * sizeof *latest);
            s->profile = xrealloc(s->profile, cap * MLR_P_NCOLS * sizeof *s->profile);
        }
        /* the latest known row (the later one on a tie) is the query the
           model saw last for the user: their profile; a user with none
           known keeps their first row's */
        if (added || (known && (t >= latest[u] || latest[u] > s->as_of))) {
            latest[u] = t;
            note_profile(s, r, u, pc);
        }
    }
    if (st < 0)
        rc = -1;
    mlr_reader_close(r);
    free(latest);
    if (rc == 0)
        group_history(s, &b);
    free(b.time);
    free(rb.t);
    free(b.user);
    free(b.item);
    free(b.rating);
    free(path);
    return rc;
}

/* A choice train-eval.sh recorded (rows of COLUMN ... kept), where the
 * directory has the file NAME: the index in values[0..n) of COLUMN's
 * value in the row kept, into *choice; 0 (none) without the file. */
static int read_kept(const mlr_served *s, const char *name, const char *column,
                     const char *const *values, int n, int *choice, mlr_err *e)
{
    char *path = join(s->dir, name);
    *choice = 0;
    if (access(path, F_OK) != 0) {
        free(path);
        return 0;
    }
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    int rc = r ? 0 : -1, cw = -1, ck = -1, st = 0, kept = 0;
    if (rc == 0 && ((cw = mlr_reader_require(r, column, e)) < 0 ||
                    (ck = mlr_reader_require(r, "kept", e)) < 0))
        rc = -1;
    while (rc == 0 && !kept && (st = mlr_reader_next(r, e)) == 1) {
        if (strcmp(mlr_reader_field(r, (size_t)ck), "1") != 0)
            continue;
        kept = 1;
        const char *w = mlr_reader_field(r, (size_t)cw);
        for (int k = 1; k < n; k++)
            if (strcmp(w, values[k]) == 0)
                *choice = k;
        if (*choice)
            continue;
        char list[128] = "";
        for (int k = 1; k < n; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     k == 1 ? "" : k == n - 1 ? " or " : ", ", values[k]);
        rc = mlr_fail(e, "%s:%ld: %s '%s' is not %s", path, mlr_reader_line(r), column, w, list);
    }
    if (st < 0)
        rc = -1;
    if (rc == 0 && !kept)
        rc = mlr_fail(e, "%s: no row kept (kept 1)", path);
    mlr_reader_close(r);
    free(path);
    return rc;
}

int mlr_served_hybrid(const mlr_served *s, double *weight, double *lambda, mlr_err *e)
{
    static const char *const names[2] = {"model_weight", "ease_lambda"};
    double *out[2] = {weight, lambda};
    int found[2] = {0, 0};
    char *path = join(s->dir, "hybrid.tsv");
    if (access(path, F_OK) != 0) {
        mlr_fail(e, "%s: no such file (the hybrid evaluate.sh or retrain.sh chose: hybrid.sh)", path);
        free(path);
        return -1;
    }
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    int cs = -1, cv = -1, st = 0, rc = r ? 0 : -1;
    if (rc == 0 && ((cs = mlr_reader_require(r, "setting", e)) < 0 || (cv = mlr_reader_require(r, "value", e)) < 0))
        rc = -1;
    while (rc == 0 && (st = mlr_reader_next(r, e)) == 1)
        for (int k = 0; k < 2 && rc == 0; k++) {
            if (found[k] || strcmp(mlr_reader_field(r, (size_t)cs), names[k]) != 0)
                continue;
            const char *v = mlr_reader_field(r, (size_t)cv);
            if (mlr_parse_double(v, out[k]) < 0)
                rc = mlr_fail(e, "%s:%ld: %s '%s' is not a number", path, mlr_reader_line(r), names[k], v);
            found[k] = 1;
        }
    if (st < 0)
        rc = -1;
    for (int k = 0; k < 2 && rc == 0; k++)
        if (!found[k])
            rc = mlr_fail(e, "%s: no %s row", path, names[k]);
    if (rc == 0 && !(*weight >= 0 && *weight <= 1))
        rc = mlr_fail(e, "%s: model_weight %g is not in [0, 1]", path, *weight);
    if (rc == 0 && !(*lambda > 0))
        rc = mlr_fail(e, "%s: ease_lambda %g is not positive", path, *lambda);
    if (r)
        mlr_reader_close(r);
    free(path);
    return rc;
}

/* EASE fitted now on the users' histories as of s->as_of. */
static float *ease_of_histories(const mlr_served *s, double lambda, mlr_err *e)
{
    size_t users = mlr_strmap_count(s->users), n = s->hist_start[users];
    uint32_t *who = xmalloc(mlr_nz(n) * sizeof *who);
    for (size_t u = 0; u < users; u++)
        for (size_t r = s->hist_start[u]; r < s->hist_start[u + 1]; r++)
            who[r] = (uint32_t)u;
    mlr_usersets x;
    mlr_usersets_build(&x, users, who, s->hist_item, n);
    free(who);
    float *b = mlr_ease_fit(&x, s->M, lambda, e);
    mlr_usersets_free(&x);
    return b;
}

float *mlr_served_ease(const mlr_served *s, double lambda, mlr_err *e)
{
    char *path = join(s->dir, "ease.npy");
    double w, served_lambda;
    mlr_err ignored;
    int packaged = isinf(s->as_of) && access(path, F_OK) == 0 &&
                   mlr_served_hybrid(s, &w, &served_lambda, &ignored) == 0 && served_lambda == lambda;
    if (!packaged) {
        free(path);
        return ease_of_histories(s, lambda, e);
    }
    mlr_array a = {0};
    int rc = mlr_npy_read(path, MLR_F4, &a, e);
    if (rc == 0 && (a.ndim != 2 || a.shape[0] != s->M || a.shape[1] != s->M))
        rc = mlr_fail(e, "%s: shape (%zu, %zu), not (%zu, %zu): the catalogue's items by its items", path,
                      a.shape[0], a.ndim == 2 ? a.shape[1] : 0, s->M, s->M);
    free(path);
    if (rc < 0) {
        mlr_array_free(&a);
        return NULL;
    }
    return a.data;
}

/* user-time.tsv's rule (MLR_UT_*) and history-kind.tsv's kind. */
static int read_choices(mlr_served *s, mlr_err *e)
{
    static const char *const rules[] = {"", "last", "median", "mean"};
    static const char *const kinds[] = {"", "all", "before-row"};
    int kind = 0;
    if (read_kept(s, "user-time.tsv", "user_time", rules, 4, &s->user_time, e) < 0 ||
        read_kept(s, "history-kind.tsv", "history", kinds, 3, &kind, e) < 0)
        return -1;
    s->before_row = kind == 2;
    return 0;
}

/* ---- opening ---- */

/* Model k of the set: loaded, trained with the served specification and,
 * beside the first, asking the same query (features, history cap) and
 * ranking the same way (a popularity prior or none). */
static int load_model(mlr_served *s, size_t k, const char *spec_dir, mlr_err *e)
{
    char *path = join(s->dir, s->model_name[k]);
    model *m = &s->m[k], *first = &s->m[0];
    int rc = model_load(m, path, e);
    if (rc == 0 && strcmp(s->spec.sha256, m->spec_sha256) != 0)
        rc = mlr_fail(e, "%s: another specification than the model's (%.12s, %s was trained "
                      "with %.12s)", spec_dir, s->spec.sha256, s->model_name[k], m->spec_sha256);
    /* the cap the model was trained with; a model older than its record:
       the pipelines' default then */
    long cap = rc == 0 ? mlr_history_cap(m->train_json, path, e) : 0;
    size_t hmax = cap > 0 ? (size_t)cap : MLR_HISTORY_MAX;
    if (cap < 0)
        rc = -1;
    int same = k == 0 || (hmax == s->history_max && m->query.nfeat == first->query.nfeat &&
                          (model_rank_width(m) > model_out_width(m)) ==
                              (model_rank_width(first) > model_out_width(first)));
    for (size_t i = 0; same && k > 0 && i < m->query.nfeat; i++)
        same = strcmp(m->query.feat[i].name, first->query.feat[i].name) == 0;
    if (rc == 0 && !same)
        rc = mlr_fail(e, "%s: not a model of %s's set (its query features, history cap or "
                      "popularity prior differ)", path, s->model_name[0]);
    for (size_t i = 0; rc == 0 && k == 0 && i < m->query.nfeat; i++)
        if (strcmp(m->query.feat[i].name, "user_history") == 0)
            s->history_feature = 1;
    s->history_max = hmax;
    free(path);
    return rc;
}

int mlr_served_open(mlr_served *s, const char *dir, int verify, double as_of, mlr_err *e)
{
    memset(s, 0, sizeof *s);
    s->dir = xstrdup(dir);
    s->as_of = as_of;
    char *spec_dir = join(dir, "spec");
    int rc = read_manifest(s, verify, e);
    if (rc == 0)
        rc = mlr_spec_read(spec_dir, &s->spec, e);
    s->m = xcalloc(s->nmodel + 1, sizeof *s->m);
    for (size_t k = 0; rc == 0 && k < s->nmodel; k++)
        rc = load_model(s, k, spec_dir, e);
    if (rc == 0)
        rc = read_items(s, e);
    if (rc == 0)
        rc = read_catalogue(s, e);
    if (rc == 0)
        rc = read_choices(s, e);
    if (rc == 0)
        rc = read_history(s, e);
    if (rc == 0) {
        const mlr_feature *ts = mlr_spec_find(&s->spec, "timestamp");
        s->last_time = ts ? ts->max : 0;
    }
    free(spec_dir);
    return rc;
}

void mlr_served_free(mlr_served *s)
{
    if (s->title)
        for (size_t i = 0; i < s->M; i++) {
            free(s->title[i]);
            free(s->genres[i]);
        }
    free(s->title);
    free(s->genres);
    free(s->items);
    free(s->prior);
    mlr_strmap_free(s->item_ids);
    mlr_strmap_free(s->users);
    mlr_strmap_free(s->values);
    free(s->hist_start);
    free(s->hist_item);
    free(s->hist_rating);
    free(s->hist_time);
    free(s->user_at);
    free(s->profile);
    free(s->recent);
    free(s->nrecent);
    for (size_t k = 0; s->m && k < s->nmodel; k++)
        model_free(&s->m[k]);
    free(s->m);
    mlr_spec_free(&s->spec);
    free(s->dir);
    memset(s, 0, sizeof *s);
}

long mlr_served_item(const mlr_served *s, const char *id, size_t len)
{
    return mlr_strmap_find(s->item_ids, id, len);
}

void mlr_served_profile(const mlr_served *s, size_t u, mlr_profile *p)
{
    p->id = mlr_strmap_key(s->users, u);
    for (size_t c = 0; c < MLR_P_NCOLS; c++) {
        int32_t k = s->profile[u * MLR_P_NCOLS + c];
        p->val[c] = k < 0 ? NULL : mlr_strmap_key(s->values, (size_t)k);
    }
}

/* A history field being written: *buf (grown as needed, *cap its size),
 * its length and the items in it. */
typedef struct {
    char **buf;
    size_t *cap, len, n;
} field_buf;

static field_buf field_start(char **buf, size_t *cap)
{
    if (!*buf || *cap == 0) {
        *cap = 256;
        *buf = xrealloc(*buf, *cap);
    }
    (*buf)[0] = 0;
    return (field_buf){buf, cap, 0, 0};
}

static void field_add(const mlr_served *s, field_buf *f, uint32_t item)
{
    const char *id = mlr_strmap_key(s->item_ids, item);
    size_t il = strlen(id);
    if (f->len + il + 2 > *f->cap) {
        *f->cap = 2 * (f->len + il + 2);
        *f->buf = xrealloc(*f->buf, *f->cap);
    }
    if (f->n++)
        (*f->buf)[f->len++] = '|';
    memcpy(*f->buf + f->len, id, il + 1);
    f->len += il;
}

size_t mlr_served_history(const mlr_served *s, long u, const uint32_t *rated, size_t nrated,
                          char **buf, size_t *cap)
{
    field_buf f = field_start(buf, cap);
    if (!s->history_feature)
        return 0;
    size_t nk = u >= 0 ? s->nrecent[u] : 0;
    for (size_t k = 0; k < nrated + nk && f.n < s->history_max; k++)
        field_add(s, &f, k < nrated ? rated[nrated - 1 - k] : s->recent[(size_t)u * s->history_max + k - nrated]);
    return f.len;
}

typedef struct {
    double t;
    size_t row;
} stamped;

/* newest first, the later row on a tie (mlr-history's order) */
static int newest_first(const void *a, const void *b)
{
    const stamped *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? 1 : -1;
    return (x->row < y->row) - (x->row > y->row);
}

/* User u's rows (offsets from hist_start[u]) newest first, into order. */
static void rows_newest_first(const mlr_served *s, size_t u, size_t *order)
{
    size_t lo = s->hist_start[u], n = s->hist_start[u + 1] - lo;
    stamped *x = xmalloc((n + 1) * sizeof *x);
    for (size_t k = 0; k < n; k++)
        x[k] = (stamped){s->hist_time[lo + k], k};
    qsort(x, n, sizeof *x, newest_first);
    for (size_t k = 0; k < n; k++)
        order[k] = x[k].row;
    free(x);
}

/* The history field of user u's training row j (mean rule's row queries),
 * as mlr-history made that row's when training: the movies given by
 * --rated (the newest), then the user's other items, with a before-row
 * model only those rated before the row's time, newest first; order is
 * u's rows newest first. */
static size_t row_history(const mlr_served *s, size_t u, size_t j, const size_t *order,
                          const uint32_t *rated, size_t nrated, char **buf, size_t *cap)
{
    field_buf f = field_start(buf, cap);
    size_t lo = s->hist_start[u], n = s->hist_start[u + 1] - lo;
    double t = s->hist_time[lo + j];
    for (size_t k = 0; k < nrated && f.n < s->history_max; k++)
        field_add(s, &f, rated[nrated - 1 - k]);
    for (size_t k = 0; k < n && f.n < s->history_max; k++) {
        size_t r = order[k];
        if (r != j && (!s->before_row || s->hist_time[lo + r] < t))
            field_add(s, &f, s->hist_item[lo + r]);
    }
    return f.len;
}

/* ---- query rows ---- */

/* The raw value of a spec column for profile p: NULL when unknown. */
static const char *raw_value(const mlr_profile *p, const char *column)
{
    if (strcmp(column, "user_id") == 0)
        return p->id;
    if (strcmp(column, "user_history") == 0)
        return p->history;
    for (size_t c = 0; c < MLR_P_NCOLS; c++)
        if (strcmp(column, mlr_profile_cols[c]) == 0)
            return p->val[c];
    return NULL;
}

/* One feature's column of the n query rows, as mlr-encode would write it. */
static int encode_feature(const mlr_served *s, model_input *in, size_t i, const model_feature *mf,
                          const mlr_profile *p, size_t n, double time, size_t clipped[2],
                          mlr_err *e)
{
    const mlr_feature *f = mlr_spec_find(&s->spec, mf->name);
    if (mf->kind == MF_VALUE) { /* `rating` fed to the query tower: its mean */
        mlr_array *a = &in->arr[in->narr++];
        mlr_array_alloc(a, MLR_F4, 1, n, 1);
        for (size_t r = 0; r < n; r++)
            ((float *)a->data)[r] = (float)mf->mean;
        in->val[i] = a->data;
        return 0;
    }
    if (!f)
        return mlr_fail(e, "%s/spec: no feature '%s' (the model's)", s->dir, mf->name);
    if (mf->kind == MF_CAT || mf->kind == MF_BAG) {
        /* a history holds as many items as training gave it (history.h) */
        size_t L = mf->kind != MF_BAG ? 1 : strcmp(f->column, "user_history") == 0 ? s->history_max
                                                                                  : SERVE_MAX_TOKENS;
        mlr_array *a = &in->arr[in->narr++];
        mlr_array_alloc(a, MLR_I4, 2, n, L);
        int32_t *ids = a->data;
        mlr_tokens t = {0};
        for (size_t r = 0; r < n; r++) {
            const char *v = raw_value(&p[r], f->column);
            size_t len = v ? strlen(v) : 0;
            if (mf->kind == MF_CAT) {
                ids[r] = mlr_feature_cat(f, v ? v : "", len);
                continue;
            }
            size_t k = v ? mlr_feature_list(f, &t, v, len, ids + r * L, L) : 0;
            for (; k < L; k++)
                ids[r * L + k] = -1;
        }
        mlr_tokens_free(&t);
        in->ids[i] = ids;
        in->L[i] = L;
        return 0;
    }
    /* MF_NUM: the bucket and the normalised value of the clipped number */
    mlr_array *b = &in->arr[in->narr++], *v = &in->arr[in->narr++];
    mlr_array_alloc(b, MLR_I4, 1, n, 1);
    mlr_array_alloc(v, MLR_F4, 1, n, 1);
    for (size_t r = 0; r < n; r++) {
        double x = f->mean;
        const char *raw = strcmp(f->column, "timestamp") == 0 ? NULL : raw_value(&p[r], f->column);
        if (strcmp(f->column, "timestamp") == 0)
            x = p[r].ntimes ? p[r].times[0] : time;
        else if (raw && *raw && mlr_parse_double(raw, &x) < 0)
            return mlr_fail(e, "user '%s': %s '%s' is not a number", p[r].id, f->column, raw);
        int side;
        x = mlr_feature_clip(f, x, &side);
        if (clipped && side)
            clipped[side > 0]++;
        ((int32_t *)b->data)[r] = mlr_feature_bucket(f, x);
        ((float *)v->data)[r] = (float)mlr_feature_norm(f, x);
    }
    in->ids[i] = b->data;
    in->L[i] = 1;
    in->val[i] = v->data;
    return 0;
}

/* Model k's query embeddings (n, D_k) of the profiles into part. */
static int embed_one(const mlr_served *s, size_t k, const mlr_profile *p, size_t n, double time,
                     float *part, size_t clipped[2], mlr_err *e)
{
    const model_tower *t = &s->m[k].query;
    model_input in;
    memset(&in, 0, sizeof in);
    in.n = n;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < t->nfeat; i++)
        rc = encode_feature(s, &in, i, &t->feat[i], p, n, time, k == 0 ? clipped : NULL, e);
    if (rc == 0 && n)
        model_embed(t, &in, part);
    model_input_free(&in);
    return rc;
}

/* Each model's queries, side by side, of profiles of one time each. */
static int embed_models(const mlr_served *s, const mlr_profile *p, size_t n, double time,
                        float *out, size_t clipped[2], mlr_err *e)
{
    if (s->nmodel == 1)
        return embed_one(s, 0, p, n, time, out, clipped, e);
    float scale = 1.0f / sqrtf((float)s->nmodel), *part = NULL;
    int rc = 0;
    for (size_t k = 0, col = 0; rc == 0 && k < s->nmodel; k++) {
        size_t Dk = model_out_width(&s->m[k]);
        part = xrealloc(part, (n * Dk + 1) * sizeof *part);
        rc = embed_one(s, k, p, n, time, part, clipped, e);
        for (size_t r = 0; rc == 0 && r < n; r++)
            for (size_t c = 0; c < Dk; c++)
                out[r * s->D + col + c] = part[r * Dk + c] * scale;
        col += Dk;
    }
    free(part);
    return rc;
}

static size_t rows_of(const mlr_profile *p) { return p->mean_user ? p->ntimes : 1; }

/* Profile i of the mean rule as rows row[j..): one per training row of
 * its user, at that row's time with that row's history (hist[j..], the
 * strings; histories only with a user_history feature). */
static void expand_mean(const mlr_served *s, const mlr_profile *p, mlr_profile *row, char **hist,
                        size_t *hcap)
{
    size_t u = p->mean_user - 1, n = p->ntimes;
    size_t *order = xmalloc((n + 1) * sizeof *order);
    rows_newest_first(s, u, order);
    for (size_t k = 0; k < n; k++) {
        row[k] = *p;
        row[k].times = p->times + k;
        row[k].ntimes = 1;
        row[k].mean_user = 0;
        if (s->history_feature) {
            row_history(s, u, k, order, p->rated, p->nrated, &hist[k], &hcap[k]);
            row[k].history = hist[k];
        }
    }
    free(order);
}

int mlr_served_embed(const mlr_served *s, const mlr_profile *p, size_t n, double time,
                     float *out, size_t clipped[2], mlr_err *e)
{
    size_t R = 0, D = s->D;
    int mean = 0; /* (a user of one row too: their row's history differs) */
    for (size_t i = 0; i < n; i++) {
        R += rows_of(&p[i]);
        mean |= p[i].mean_user != 0;
    }
    if (!mean)
        return embed_models(s, p, n, time, out, clipped, e);
    /* the mean rule's profiles: a row for each training row, then their mean */
    mlr_profile *row = xmalloc((R + 1) * sizeof *row);
    size_t *owner = xmalloc((R + 1) * sizeof *owner), *hcap = xcalloc(R + 1, sizeof *hcap);
    char **hist = xcalloc(R + 1, sizeof *hist);
    for (size_t i = 0, j = 0; i < n; j += rows_of(&p[i]), i++) {
        if (p[i].mean_user)
            expand_mean(s, &p[i], row + j, hist + j, hcap + j);
        else
            row[j] = p[i];
        for (size_t k = 0; k < rows_of(&p[i]); k++)
            owner[j + k] = i;
    }
    float *y = xmalloc((R * D + 1) * sizeof *y);
    int rc = embed_models(s, row, R, time, y, clipped, e);
    memset(out, 0, n * D * sizeof *out);
    for (size_t j = 0; rc == 0 && j < R; j++) {
        float w = 1.0f / (float)rows_of(&p[owner[j]]);
        for (size_t c = 0; c < D; c++)
            out[owner[j] * D + c] += y[j * D + c] * w;
    }
    for (size_t j = 0; j < R; j++)
        free(hist[j]);
    free(hist);
    free(hcap);
    free(y);
    free(owner);
    free(row);
    return rc;
}

void mlr_served_times(const mlr_served *s, long u, mlr_profile *p)
{
    if (u < 0 || s->user_time == MLR_UT_NONE)
        return;
    if (s->user_time == MLR_UT_MEAN) {
        size_t lo = s->hist_start[u], n = s->hist_start[u + 1] - lo;
        p->times = n ? s->hist_time + lo : NULL;
        p->ntimes = n;
        p->mean_user = n ? (size_t)u + 1 : 0;
    } else if (!isnan(s->user_at[u])) {
        p->times = &s->user_at[u];
        p->ntimes = 1;
    }
}

void mlr_served_rating(const mlr_served *s, const float *q, const float *c, size_t N, float *out)
{
    if (s->nmodel == 1) {
        model_rating(&s->m[0], q, c, N, out);
        return;
    }
    float unscale = sqrtf((float)s->nmodel);
    size_t most = 0;
    for (size_t k = 0; k < s->nmodel; k++)
        most = model_out_width(&s->m[k]) > most ? model_out_width(&s->m[k]) : most;
    float *qk = xmalloc((N * most + 1) * sizeof *qk), *ck = xmalloc((N * most + 1) * sizeof *ck);
    float *pred = xmalloc((N + 1) * sizeof *pred);
    for (size_t i = 0; i < N; i++)
        out[i] = 0;
    for (size_t k = 0, col = 0; k < s->nmodel; k++) {
        size_t Dk = model_out_width(&s->m[k]);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < Dk; j++) { /* each model's own tower outputs */
                qk[i * Dk + j] = q[i * s->D + col + j] * unscale;
                ck[i * Dk + j] = c[i * s->D + col + j] * unscale;
            }
        model_rating(&s->m[k], qk, ck, N, pred);
        for (size_t i = 0; i < N; i++)
            out[i] += pred[i] / (float)s->nmodel;
        col += Dk;
    }
    free(qk);
    free(ck);
    free(pred);
}
