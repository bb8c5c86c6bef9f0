/* spec.h: the feature specification of docs/features.md in memory.
 *
 * A SPECDIR holds features.tsv (one row per feature: kind, source column,
 * vocabulary size, numeric statistics) and <feature>.vocab for every
 * cat/multi/words feature. mlr-vocab builds one (mlr_spec_add, the counters
 * below, mlr_spec_write); mlr-encode, mlr-train, mlr-embed read it
 * (mlr_spec_read) to learn vocabulary sizes and to encode raw values:
 *
 *   mlr_spec spec;
 *   if (mlr_spec_read("spec", &spec, &e) < 0) mlr_die_err(&e);
 *   const mlr_feature *occ = mlr_spec_find(&spec, "user_occupation");
 *   int32_t id = occ ? mlr_feature_cat(occ, "writer", 6) : 0;  // 0: unknown
 *   const mlr_feature *age = mlr_spec_find(&spec, "user_age");
 *   int32_t b = mlr_feature_bucket(age, 31);   // [0, buckets-1]
 *   float z = (float)mlr_feature_norm(age, 31);
 *   mlr_spec_free(&spec);
 *
 * The set of features is fixed (mlr_feature_defs, in the order of
 * docs/features.md); a features.tsv naming another feature, or a known one
 * with another kind or column, is refused. Reading validates everything and
 * names FILE:LINE of the first problem. */
#ifndef MLR_SPEC_H
#define MLR_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include "mlr.h"
#include "strmap.h"

typedef enum {
    MLR_KIND_CAT,   /* one token per row (the column value) -> id */
    MLR_KIND_MULTI, /* '|'-separated tokens -> ids */
    MLR_KIND_WORDS, /* words of a text (mlr_words_normalize) -> ids */
    MLR_KIND_NUM,   /* number -> normalised value and bucket */
    MLR_KIND_LABEL  /* number, statistics only; encoded raw */
} mlr_kind;

/* Which side of the model a feature describes: --items encodes ITEM only. */
typedef enum { MLR_SIDE_QUERY, MLR_SIDE_ITEM, MLR_SIDE_LABEL } mlr_side;

/* A known feature: the fixed part of a features.tsv row. */
typedef struct {
    const char *name;   /* "user_zip"; also the file stem: user_zip.vocab */
    const char *column; /* source column in the interaction table */
    mlr_kind kind;
    mlr_side side;
    size_t prefix;      /* cat: keep the first `prefix` UTF-8 characters (0: all) */
} mlr_feature_def;

#define MLR_UNK "[UNK]" /* the token of id 0 */

/* One feature of a specification. Vocabulary fields are for cat, multi and
 * words (size >= 1, id 0 is [UNK]); statistics for num and label. */
typedef struct {
    const mlr_feature_def *def;
    const char *name;      /* def->name */
    const char *column;    /* def->column */
    mlr_kind kind;         /* def->kind */
    size_t size;           /* vocabulary size incl. id 0; 0 for num/label */
    double mean, std, min, max; /* num/label: population statistics; else 0 */
    size_t buckets;        /* num: >= 1; else 0 */
    mlr_strmap *vocab;     /* token -> id, key(id) is the token; NULL for num/label */
    uint64_t *counts;      /* (size) occurrences per id in mlr-vocab's input */
} mlr_feature;

typedef struct {
    size_t n;
    mlr_feature *features; /* (n) in features.tsv order */
    char sha256[65];       /* of features.tsv + the vocabularies (spec_checksum); "" before */
} mlr_spec;

/* ---- the known features ---- */
const char *mlr_kind_name(mlr_kind k); /* "cat", "multi", ... */
/* The features of docs/features.md in its order; *n gets how many. */
const mlr_feature_def *mlr_feature_defs(size_t *n);
/* The known feature called name, or NULL. */
const mlr_feature_def *mlr_feature_def_find(const char *name);

/* ---- a specification on disk ---- */
/* Reads DIR/features.tsv and every vocabulary it names into *spec (zeroed
 * first; free with mlr_spec_free even after a failure). Refused, naming
 * FILE:LINE: a missing file, a header other than the documented one, an
 * unknown feature or one listed twice, a kind or column that disagrees with
 * the feature, a number that is not a plain number (size and buckets:
 * decimal digits only), num with buckets < 1, min > max or std < 0, zeros
 * missing where a kind has no value, a vocabulary whose ids are not
 * 0, 1, ... size-1 in order, whose id 0 is not [UNK], with an empty or
 * duplicate token, or whose row count differs from size. Also sets
 * spec->sha256 to the checksum of features.tsv followed by every
 * vocabulary in features.tsv order. */
int mlr_spec_read(const char *dir, mlr_spec *spec, mlr_err *e);

/* Writes spec as DIR (created, with parents, if missing): every vocabulary
 * and features.tsv to temporaries, renamed together once all are complete
 * (a batch, lib/mlr.h); sets spec->sha256. On failure the temporaries are
 * removed and the earlier files stay. */
int mlr_spec_write(const char *dir, mlr_spec *spec, mlr_err *e);

/* mkdir -p DIR; *created (when not NULL) tells whether DIR itself was
 * made by this call, so a failing tool can remove it again. */
int mlr_spec_mkdir(const char *dir, int *created, mlr_err *e);

/* Frees everything spec holds and zeroes it; accepts a zeroed spec. */
void mlr_spec_free(mlr_spec *spec);

/* The feature called name, or NULL when the specification lacks it. */
mlr_feature *mlr_spec_find(const mlr_spec *spec, const char *name);

/* Appends an empty feature for def (size 1 with only [UNK] for the
 * vocabulary kinds; zero statistics). The pointer stays valid until
 * mlr_spec_free. Returns NULL if def is already there. */
mlr_feature *mlr_spec_add(mlr_spec *spec, const mlr_feature_def *def);

/* ---- encoding values ---- */
/* The id of the token (len bytes at tok) in f's vocabulary; 0 when unknown
 * (or f has none). */
int32_t mlr_feature_id(const mlr_feature *f, const char *tok, size_t len);
/* The token of id (< f->size), NUL-terminated. */
const char *mlr_feature_token(const mlr_feature *f, size_t id);
/* A cat feature's id for a raw column value: applies the feature's own
 * transform (user_zip keeps 3 characters); 0 for an empty or unknown value. */
int32_t mlr_feature_cat(const mlr_feature *f, const char *field, size_t len);

/* floor((x - min) / (max - min) * buckets) clipped to [0, buckets-1];
 * 0 when max == min or buckets is 0. */
int32_t mlr_feature_bucket(const mlr_feature *f, double x);
/* (x - mean) / std; 0 when std == 0. */
double mlr_feature_norm(const mlr_feature *f, double x);
/* x clipped to the range [min, max] the specification recorded (a num
 * feature; any other kind, or min > max, gives x back). A value the
 * towers never saw in training (a request's time a year after the data)
 * would otherwise be normalised far outside anything the model learnt:
 * serving-time values are clipped before mlr_feature_norm. *clipped (when
 * not NULL) is -1, 0 or 1: below min, inside, above max. */
double mlr_feature_clip(const mlr_feature *f, double x, int *clipped);

/* ---- tokens ---- */
/* Keras' lower_and_strip_punctuation in place: ASCII upper case to lower,
 * each of the 32 ASCII punctuation bytes to a space; other bytes (UTF-8
 * >= 0x80 included) kept. Same length in and out. */
void mlr_words_normalize(char *s, size_t len);

/* Iterates the tokens of one field for a feature's kind:
 *   cat:   the value itself (after the def's prefix), none when empty;
 *   multi: the '|'-separated pieces, empty ones skipped;
 *   words: the space-separated runs of the normalised text.
 * Zero-initialise once (mlr_tokens t = {0}), start per field, free at the
 * end. Tokens stay valid until the next start. */
typedef struct {
    const char *p, *end;
    char sep;         /* 0: one token (cat) */
    char *buf;        /* scratch for the normalised words */
    size_t cap;
} mlr_tokens;

void mlr_tokens_start(mlr_tokens *t, const mlr_feature_def *def,
                      const char *field, size_t len);
/* 1 and the next token in (*tok, *len), or 0 at the end. */
int mlr_tokens_next(mlr_tokens *t, const char **tok, size_t *len);
void mlr_tokens_free(mlr_tokens *t);

/* The ids of a multi/words field: at most max of them into ids (the rest
 * dropped); returns how many were stored. */
size_t mlr_feature_list(const mlr_feature *f, mlr_tokens *t, const char *field,
                        size_t len, int32_t *ids, size_t max);

/* The most ids one vocabulary holds, [UNK] included (docs/hardening.md,
 * "Hostile sizes"): mlr-vocab refuses a column with more distinct tokens
 * when it meets the first one past it (its counts then take ~250 MB), and
 * a features.tsv claiming more is refused before its vocabulary is read.
 * 2^21: ten times the users or movies of the largest MovieLens set. */
#define MLR_VOCAB_MAX ((size_t)1 << 21)

/* ---- building a specification (mlr-vocab) ---- */
/* Occurrences of each token, in first-seen order. Zero-initialise. */
typedef struct {
    mlr_strmap *seen;
    uint64_t *counts; /* (cap) by seen id */
    size_t cap;
    uint64_t unk;     /* occurrences that are [UNK] whatever the vocabulary */
} mlr_counter;

/* One occurrence of a token. An empty token or "[UNK]" itself counts to unk. */
void mlr_counter_add(mlr_counter *c, const char *tok, size_t len);
/* The same, returning the token's id (SIZE_MAX when it counted to unk), so
 * a caller that meets the token again can count it by id with
 * mlr_counter_bump, without hashing it (ids are stable once given). */
size_t mlr_counter_add_id(mlr_counter *c, const char *tok, size_t len);
void mlr_counter_bump(mlr_counter *c, size_t id);
void mlr_counter_free(mlr_counter *c); /* accepts a zeroed counter */

/* Makes c's tokens f's vocabulary (replacing any): [UNK] first, then every
 * token seen at least min_count times, by count descending then bytewise
 * ascending, keeping at most max_size ids in all ([UNK] included; 0: no
 * limit). [UNK]'s count is c->unk plus the occurrences of the tokens left
 * out. min_count 0 is taken as 1; max_size 1 keeps [UNK] alone. */
void mlr_feature_set_vocab(mlr_feature *f, const mlr_counter *c,
                           uint64_t min_count, size_t max_size);

/* Running statistics of a column: the mean from a compensated (Neumaier)
 * sum, so it is exact for integer columns whatever the row order; the
 * variance by Welford's update; min and max. Zero-initialise. */
typedef struct {
    uint64_t n;
    double sum, comp;  /* sum + comp: the compensated sum */
    double mean, m2;   /* Welford's running mean and squared deviations */
    double min, max;
} mlr_moments;

void mlr_moments_add(mlr_moments *m, double x);
/* Sets f's mean ((sum + comp) / n), std (population: sqrt(m2 / n)), min
 * and max from m (all 0 when m->n is 0), and buckets for num (label: 0). */
void mlr_feature_set_stats(mlr_feature *f, const mlr_moments *m, size_t buckets);

#endif
