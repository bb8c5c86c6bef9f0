/* serve.h: a served model directory (docs/serving.md) in memory, and the
 * query rows of users built from their raw features at serving time.
 *
 *   mlr_served s;
 *   if (mlr_served_open(&s, "runs/ml-100k/model/served", 1, &e) < 0) ...
 *   long u = mlr_strmap_find(s.users, "42", 2);   // a known user
 *   mlr_profile p;
 *   mlr_served_profile(&s, (size_t)u, &p);        // their latest features
 *   float q[D];
 *   mlr_served_embed(&s, &p, 1, s.last_time, q, &clip, &e);
 *   mlr_served_free(&s);
 *
 * Shapes: M catalogue items, D embedding width, U users of history.tsv. */
#ifndef MLR_SERVE_H
#define MLR_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "mlr.h"
#include "history.h"
#include "model.h"
#include "spec.h"
#include "strmap.h"

#define MLR_SERVED_VERSION "1"

/* The user columns of the interaction table a query can be built from
 * (SPEC.md); a profile holds one value of each, or none. */
enum { MLR_P_AGE, MLR_P_GENDER, MLR_P_OCCUPATION, MLR_P_ZIP, MLR_P_NCOLS };
extern const char *const mlr_profile_cols[MLR_P_NCOLS]; /* "user_age", ... */

typedef struct {
    const char *id;                 /* the user id as given ("" for none) */
    const char *val[MLR_P_NCOLS];   /* NULL: unknown (num: the training mean) */
    const char *history;            /* user_history: '|'-joined item ids, newest
                                       first (mlr_served_history); NULL: none */
    const double *times;            /* the query is the mean of the queries at
                                       these ntimes times (mlr_served_times);
                                       NULL: at the request's time */
    size_t ntimes;
    size_t mean_user;               /* 1 + the known user whose training rows
                                       the times are (the mean rule: each row's
                                       query with that row's history); 0: none */
    const uint32_t *rated;          /* movies given beside the known ones */
    size_t nrated;                  /* (catalogue indices, the newest last) */
} mlr_profile;

/* When a known user's query is made, a request naming no time: the rule
 * train-eval.sh kept on validation (the served user-time.tsv), or none
 * (every query at the last training time). */
enum { MLR_UT_NONE, MLR_UT_LAST, MLR_UT_MEDIAN, MLR_UT_MEAN };

#define MLR_SERVED_MAX_MODELS 64 /* mlr-embed's --model at most */

typedef struct {
    char *dir;
    /* The models served: model.safetensors and each model-seedK.safetensors
     * MANIFEST lists (train-eval.sh --seeds), in the order of their
     * fingerprints, as mlr-embed puts them side by side in items.npy; a
     * score or a predicted rating is the mean of theirs. */
    size_t nmodel;
    model *m;             /* (nmodel) */
    char model_name[MLR_SERVED_MAX_MODELS][40];
    char model_sha[MLR_SERVED_MAX_MODELS][65]; /* MANIFEST's lines */
    mlr_spec spec;
    size_t M, D;          /* D: the models' tower widths summed */
    float *items;         /* (M, D) candidate embeddings, catalogue order, each
                             model's columns times 1/sqrt(nmodel) */
    float *prior;         /* (M) each item's popularity prior (the models'
                             mean of items.npy's prior columns:
                             model_rank_rows), or NULL: none */
    mlr_strmap *item_ids; /* key i = catalogue index i (items.ids order) */
    char **title, **genres; /* (M) from catalogue.tsv; "" when absent */
    /* The training histories, by user: rows hist_start[u] .. hist_start[u+1]
     * of hist_item (catalogue indices) and hist_rating (NAN without a
     * rating column), in history.tsv order. */
    mlr_strmap *users;    /* key u = user u */
    size_t *hist_start;   /* (U + 1) */
    uint32_t *hist_item;
    float *hist_rating;
    mlr_strmap *values;   /* the profiles' strings, interned */
    int32_t *profile;     /* (U, MLR_P_NCOLS) key in values of each user's
                             latest row's value, -1 for a column not there */
    /* With a user_history feature in the query tower (history_feature):
     * each user's latest items of history.tsv, newest first (by timestamp,
     * the later row on a tie, as mlr-history), history_max at most (the
     * model's cap, mlr_history_cap; MLR_HISTORY_MAX for a model without
     * it): recent[u * history_max ..] of nrecent[u] catalogue indices. */
    int history_feature;
    size_t history_max;
    uint32_t *recent;     /* (U, history_max) */
    uint16_t *nrecent;    /* (U) */
    double last_time;     /* the spec's timestamp max: the last training time
                             (0 without a timestamp feature) */
    double as_of;         /* history.tsv's rows after it are left out */
    int user_time;        /* MLR_UT_*: user-time.tsv's rule */
    int before_row;       /* history-kind.tsv kept before-row: the model's
                             training rows saw only the items rated before */
    double *user_at;      /* (U) last, median: each user's time, NAN: no row */
    double *hist_time;    /* mean: each history row's time (hist_start's order) */
    char fingerprint[65]; /* the models' (mlr_fprint_set of MANIFEST's lines):
                             one model's SHA-256, or their set's */
} mlr_served;

/* Reads DIR: MANIFEST (and with verify, every file's SHA-256 against it:
 * "DIR/history.tsv: changed since MANIFEST was written"), the model, spec/
 * (the model's own, by checksum), items.npy with items.ids (M rows each,
 * D the model's width), catalogue.tsv and history.tsv as of time as_of:
 * its rows with a later timestamp are left out of the histories, the
 * seen items and the profiles (a request at a past time sees what was
 * known then; INFINITY keeps every row). *s is zeroed first; free it with
 * mlr_served_free even after a failure. */
int mlr_served_open(mlr_served *s, const char *dir, int verify, double as_of, mlr_err *e);
void mlr_served_free(mlr_served *s);

/* The catalogue index of an item id, or -1. */
long mlr_served_item(const mlr_served *s, const char *id, size_t len);

/* User u's profile from their latest history row (strings owned by s). */
void mlr_served_profile(const mlr_served *s, size_t u, mlr_profile *p);

/* The user_history field of a query (mlr-history --per-user's): the
 * items rated (catalogue indices, oldest first) then known user u's
 * latest history.tsv items (u < 0: none), newest first, '|'-joined and
 * NUL-terminated into *buf (grown as needed, *cap its size), at most
 * s->history_max of them, the cap the model was trained with. Returns
 * the length; 0 without a user_history feature. */
size_t mlr_served_history(const mlr_served *s, long u, const uint32_t *rated, size_t nrated,
                          char **buf, size_t *cap);

/* Known user u's query times by s->user_time into p (nothing for a rule
 * of none, or a user without a row as of the request). */
void mlr_served_times(const mlr_served *s, long u, mlr_profile *p);

/* Query embeddings out (n, D) of n profiles at time `time` (Unix seconds;
 * a profile with times: the mean of its queries at them),
 * through each model's query tower (side by side, as s->items). Numeric features are clipped to the
 * spec's recorded range (mlr_feature_clip); clipped[0..1] (when not NULL)
 * gets how many values fell below and above it, summed over features.
 * Fails on a numeric profile value that is not a number. */
int mlr_served_embed(const mlr_served *s, const mlr_profile *p, size_t n, double time,
                     float *out, size_t clipped[2], mlr_err *e);

/* hybrid.tsv's choice (hybrid.sh: the model's weight in the fused lists
 * and EASE's lambda, chosen on the validation slice) into *weight and
 * *lambda; fails naming the file when it is missing or a value is out
 * of range (a weight in [0, 1], a positive lambda). */
int mlr_served_hybrid(const mlr_served *s, double *weight, double *lambda, mlr_err *e);

/* EASE's B (M, M) for the served histories at lambda (malloc'd): the
 * directory's ease.npy (package.sh: fitted on every history row at
 * hybrid.tsv's lambda, rows and columns in items.ids order) when every
 * row is known (as_of INFINITY) and lambda is hybrid.tsv's; else fitted
 * now on the histories as of s->as_of. NULL and e filled on failure. */
float *mlr_served_ease(const mlr_served *s, double lambda, mlr_err *e);

/* out (N): the models' mean rating head on (q[n], c[n]), rows (N, D) of
 * mlr_served_embed's queries and s->items. */
void mlr_served_rating(const mlr_served *s, const float *q, const float *c, size_t N, float *out);

#endif
