/* test_spec: the feature specification: tokens, buckets, vocabulary order,
 * writing and reading back, and the refusal of broken SPECDIRs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "spec.h"

/* The tokens of field for feature `name`, joined by '/' into out. */
static const char *toks(const char *name, const char *field)
{
    static char out[256];
    mlr_tokens t = {0};
    const char *tok;
    size_t len, n = 0;
    mlr_tokens_start(&t, mlr_feature_def_find(name), field, strlen(field));
    out[0] = '\0';
    while (mlr_tokens_next(&t, &tok, &len) && n + len + 2 < sizeof out) {
        if (n)
            out[n++] = '/';
        memcpy(out + n, tok, len);
        n += len;
        out[n] = '\0';
    }
    mlr_tokens_free(&t);
    return out;
}

static void test_words_case_and_punctuation(void)
{
    CHECK(strcmp(toks("item_title", "Toy Story (1995)"), "toy/story/1995") == 0);
    CHECK(strcmp(toks("item_title", "Don't Look Now"), "don/t/look/now") == 0);
    CHECK(strcmp(toks("item_title", "  a,b;;c  "), "a/b/c") == 0);
    CHECK(strcmp(toks("item_title", "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'"), "") == 0);
    CHECK(strcmp(toks("item_title", ""), "") == 0);
    CHECK(strcmp(toks("item_title", "MiXeD CASE x1"), "mixed/case/x1") == 0);
    CHECK(strcmp(toks("user_occupation_text", "writer"), "writer") == 0);
}

static void test_words_utf8_kept(void)
{
    /* Bytes >= 0x80 are kept as they are: no Unicode case folding. */
    CHECK(strcmp(toks("item_title", "Am\xc3\xa9lie (2001)"), "am\xc3\xa9lie/2001") == 0);
    CHECK(strcmp(toks("item_title", "CAF\xc3\x89!"), "caf\xc3\x89") == 0);
    char s[] = "A-b\xe2\x80\x94" "C";
    mlr_words_normalize(s, strlen(s));
    CHECK(strcmp(s, "a b\xe2\x80\x94" "c") == 0);
}

static void test_multi_and_cat_tokens(void)
{
    CHECK(strcmp(toks("item_genres", "Action|Drama"), "Action/Drama") == 0);
    CHECK(strcmp(toks("item_genres", "|Action||Sci-Fi|"), "Action/Sci-Fi") == 0);
    CHECK(strcmp(toks("item_genres", ""), "") == 0);
    CHECK(strcmp(toks("user_occupation", "other staff"), "other staff") == 0);
    CHECK(strcmp(toks("user_zip", "55105"), "551") == 0);
    CHECK(strcmp(toks("user_zip", "T8H1N"), "T8H") == 0);
    CHECK(strcmp(toks("user_zip", "12"), "12") == 0);
    CHECK(strcmp(toks("user_zip", "\xc3\xa4\xc3\xb6\xc3\xbcx"), "\xc3\xa4\xc3\xb6\xc3\xbc") == 0);
    CHECK(strcmp(toks("user_gender", ""), "") == 0);
}

static mlr_feature num_feature(double min, double max, size_t buckets)
{
    mlr_feature f;
    memset(&f, 0, sizeof f);
    f.def = mlr_feature_def_find("user_age");
    f.kind = MLR_KIND_NUM;
    f.min = min;
    f.max = max;
    f.buckets = buckets;
    return f;
}

static void test_bucket_edges(void)
{
    mlr_feature f = num_feature(0, 10, 10);
    CHECK(mlr_feature_bucket(&f, 0) == 0);      /* min */
    CHECK(mlr_feature_bucket(&f, 10) == 9);     /* max clips to the last */
    CHECK(mlr_feature_bucket(&f, -5) == 0);     /* below the range */
    CHECK(mlr_feature_bucket(&f, 1e300) == 9);  /* far above */
    CHECK(mlr_feature_bucket(&f, -1e300) == 0);
    CHECK(mlr_feature_bucket(&f, 5) == 5);
    CHECK(mlr_feature_bucket(&f, 4.999) == 4);
    CHECK(mlr_feature_bucket(&f, 9.999) == 9);
    f = num_feature(7, 73, 10);  /* ML-100K ages */
    CHECK(mlr_feature_bucket(&f, 7) == 0);
    CHECK(mlr_feature_bucket(&f, 73) == 9);
    CHECK(mlr_feature_bucket(&f, 40) == 5);     /* 33/66*10 = 5 */
    f = num_feature(3, 3, 10);   /* max == min */
    CHECK(mlr_feature_bucket(&f, 3) == 0 && mlr_feature_bucket(&f, 99) == 0);
    f = num_feature(0, 1, 1);
    CHECK(mlr_feature_bucket(&f, 0.5) == 0 && mlr_feature_bucket(&f, 1) == 0);
}

static void test_norm(void)
{
    mlr_feature f = num_feature(0, 10, 10);
    f.mean = 4;
    f.std = 2;
    CHECK(mlr_feature_norm(&f, 8) == 2);
    CHECK(mlr_feature_norm(&f, 4) == 0);
    f.std = 0;
    CHECK(mlr_feature_norm(&f, 8) == 0);
}

static void add_n(mlr_counter *c, const char *tok, int n)
{
    while (n--)
        mlr_counter_add(c, tok, strlen(tok));
}

static void test_vocab_order_and_ties(void)
{
    mlr_spec s;
    memset(&s, 0, sizeof s);
    mlr_feature *f = mlr_spec_add(&s, mlr_feature_def_find("user_occupation"));
    CHECK(f && f->size == 1);
    CHECK(mlr_spec_add(&s, mlr_feature_def_find("user_occupation")) == NULL);
    mlr_counter c = {0};
    add_n(&c, "b", 2);
    add_n(&c, "\xc3\xa9", 2); /* bytewise: after every ASCII token */
    add_n(&c, "ab", 2);
    add_n(&c, "a", 2);
    add_n(&c, "c", 3);
    add_n(&c, "z", 1);
    add_n(&c, "", 1);      /* empty: [UNK] */
    add_n(&c, MLR_UNK, 1); /* [UNK] itself is never a token */
    mlr_feature_set_vocab(f, &c, 1, 0);
    CHECK(f->size == 7);
    const char *want[] = {MLR_UNK, "c", "a", "ab", "b", "\xc3\xa9", "z"};
    const uint64_t counts[] = {2, 3, 2, 2, 2, 2, 1};
    for (size_t i = 0; i < 7; i++)
        CHECKF(strcmp(mlr_feature_token(f, i), want[i]) == 0 && f->counts[i] == counts[i],
               "id %zu: %s %llu", i, mlr_feature_token(f, i), (unsigned long long)f->counts[i]);
    CHECK(mlr_feature_id(f, "ab", 2) == 3);
    CHECK(mlr_feature_id(f, "nope", 4) == 0);
    CHECK(mlr_feature_cat(f, "", 0) == 0);
    mlr_feature_set_vocab(f, &c, 3, 0); /* min count */
    CHECK(f->size == 2 && f->counts[0] == 2 + 2 * 4 + 1 && f->counts[1] == 3);
    mlr_feature_set_vocab(f, &c, 1, 3); /* max size counts [UNK] */
    CHECK(f->size == 3 && strcmp(mlr_feature_token(f, 2), "a") == 0 && f->counts[0] == 2 + 2 * 3 + 1);
    mlr_feature_set_vocab(f, &c, 1, 1);
    CHECK(f->size == 1 && f->counts[0] == 14);
    mlr_counter_free(&c);
    mlr_spec_free(&s);
    CHECK(s.n == 0 && s.features == NULL);
}

static void test_moments(void)
{
    mlr_moments m = {0};
    for (int i = 1; i <= 4; i++)
        mlr_moments_add(&m, i);
    mlr_spec s;
    memset(&s, 0, sizeof s);
    mlr_feature *f = mlr_spec_add(&s, mlr_feature_def_find("timestamp"));
    mlr_feature_set_stats(f, &m, 1000);
    CHECK(f->mean == 2.5 && fabs(f->std - sqrt(1.25)) < 1e-15 && f->min == 1 && f->max == 4);
    CHECK(f->buckets == 1000 && f->size == 0 && f->vocab == NULL);
    mlr_feature *r = mlr_spec_add(&s, mlr_feature_def_find("rating"));
    mlr_feature_set_stats(r, &m, 1000);
    CHECK(r->buckets == 0);
    mlr_moments z = {0};
    mlr_feature_set_stats(f, &z, 10);
    CHECK(f->mean == 0 && f->std == 0 && f->min == 0 && f->max == 0);
    mlr_spec_free(&s);
}

/* ---- on disk ---- */

static char tmpdir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

static void clean(void)
{
    const char *names[] = {"features.tsv", "user_id.vocab", "item_genres.vocab", "user_gender.vocab"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
}

static void test_write_read_round_trip(void)
{
    mlr_spec s, r;
    mlr_err e;
    memset(&s, 0, sizeof s);
    mlr_counter c = {0};
    add_n(&c, "u2", 2);
    add_n(&c, "u1", 1);
    mlr_feature_set_vocab(mlr_spec_add(&s, mlr_feature_def_find("user_id")), &c, 1, 0);
    mlr_counter_free(&c);
    add_n(&c, "Drama", 1);
    mlr_feature_set_vocab(mlr_spec_add(&s, mlr_feature_def_find("item_genres")), &c, 1, 0);
    mlr_counter_free(&c);
    mlr_moments m = {0};
    mlr_moments_add(&m, 0.1);
    mlr_moments_add(&m, 1.0 / 3);
    mlr_feature_set_stats(mlr_spec_add(&s, mlr_feature_def_find("timestamp")), &m, 7);
    mlr_feature_set_stats(mlr_spec_add(&s, mlr_feature_def_find("rating")), &m, 7);
    clean();
    CHECKF(mlr_spec_write(tmpdir, &s, &e) == 0, "%s", e.msg);
    CHECK(strlen(s.sha256) == 64);
    CHECKF(mlr_spec_read(tmpdir, &r, &e) == 0, "%s", e.msg);
    CHECK(strcmp(r.sha256, s.sha256) == 0 && r.n == 4);
    mlr_feature *u = mlr_spec_find(&r, "user_id"), *t = mlr_spec_find(&r, "timestamp");
    CHECK(u && u->size == 3 && mlr_feature_id(u, "u2", 2) == 1 && u->counts[1] == 2);
    CHECK(t && t->mean == s.features[2].mean && t->std == s.features[2].std); /* %.17g exact */
    CHECK(t->min == 0.1 && t->max == 1.0 / 3 && t->buckets == 7);
    CHECK(mlr_spec_find(&r, "rating")->buckets == 0);
    CHECK(mlr_spec_find(&r, "user_zip") == NULL);
    mlr_spec_free(&r);
    mlr_spec_free(&s);
}

#define HDR "feature\tkind\tcolumn\tsize\tmean\tstd\tmin\tmax\tbuckets\n"
#define USER_ROW "user_id\tcat\tuser_id\t3\t0\t0\t0\t0\t0\n"
#define USER_VOCAB "id\ttoken\tcount\n0\t[UNK]\t0\n1\tu2\t2\n2\tu1\t1\n"

/* Writes features.tsv and user_id.vocab, reads: must fail with `want` in the message. */
static int refused(const char *features, const char *vocab, const char *want)
{
    mlr_spec r;
    mlr_err e;
    clean();
    if (features)
        put("features.tsv", features);
    if (vocab)
        put("user_id.vocab", vocab);
    int rc = mlr_spec_read(tmpdir, &r, &e);
    mlr_spec_free(&r);
    if (rc == 0) {
        printf("    read succeeded, wanted '%s'\n", want);
        return 0;
    }
    if (!strstr(e.msg, want)) {
        printf("    message '%s' lacks '%s'\n", e.msg, want);
        return 0;
    }
    return 1;
}

static void test_read_good_minimal(void)
{
    mlr_spec r;
    mlr_err e;
    clean();
    put("features.tsv", HDR USER_ROW);
    put("user_id.vocab", USER_VOCAB);
    CHECKF(mlr_spec_read(tmpdir, &r, &e) == 0, "%s", e.msg);
    mlr_spec_free(&r);
}

static void test_read_refuses_missing_files(void)
{
    CHECK(refused(NULL, NULL, "features.tsv"));                     /* an empty dir */
    CHECK(refused(HDR USER_ROW, NULL, "user_id.vocab"));            /* vocab missing */
    CHECK(refused("", NULL, "features.tsv"));                       /* empty file */
    CHECK(refused(HDR, NULL, "no features"));                       /* header alone */
    mlr_spec r;
    mlr_err e;
    CHECK(mlr_spec_read("/nonexistent/spec", &r, &e) < 0 && strstr(e.msg, "/nonexistent/spec"));
    mlr_spec_free(&r);
}

static void test_read_refuses_bad_features(void)
{
    CHECK(refused("feature\tkind\tcolumn\tsize\tmean\tstd\tmin\tmax\n" USER_ROW, USER_VOCAB,
                  "features.tsv:1: bad header"));
    CHECK(refused("feature\tkind\tcolumn\tsize\tmean\tstd\tmin\tmax\tbucket\n" USER_ROW,
                  USER_VOCAB, "features.tsv:1: bad header"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\tabc\t1\t0\t1\t10\n", NULL,
                  "features.tsv:2: mean 'abc' is not a number"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\t1\t1\t0\t1\t10x\n", NULL, "features.tsv:2: buckets"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\t nan\t1\t0\t1\t10\n", NULL, "features.tsv:2: mean"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\tnan\t1\t0\t1\t10\n", NULL, "features.tsv:2: mean"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\t1\t1\t0\t1\t0\n", NULL, "buckets >= 1"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\t1\t-1\t0\t1\t3\n", NULL, "negative"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t0\t1\t1\t2\t1\t3\n", NULL, "above max"));
    CHECK(refused(HDR "timestamp\tnum\ttimestamp\t1\t1\t1\t0\t1\t3\n", NULL, "size 0"));
    CHECK(refused(HDR "rating\tlabel\trating\t0\t1\t1\t0\t1\t3\n", NULL, "buckets 0"));
    CHECK(refused(HDR USER_ROW "bogus\tcat\tbogus\t1\t0\t0\t0\t0\t0\n", USER_VOCAB,
                  "features.tsv:3: unknown feature 'bogus'"));
    CHECK(refused(HDR "user_id\tnum\tuser_id\t0\t0\t0\t0\t0\t1\n", NULL, "kind 'num', expected 'cat'"));
    CHECK(refused(HDR "user_id\tcat\titem_id\t3\t0\t0\t0\t0\t0\n", USER_VOCAB, "column 'item_id'"));
    CHECK(refused(HDR USER_ROW USER_ROW, USER_VOCAB, "features.tsv:3: feature 'user_id' is listed twice"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t03\t0\t0\t0\t0\t0\n", USER_VOCAB, "size '03'"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t-3\t0\t0\t0\t0\t0\n", USER_VOCAB, "size '-3'"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t0\t0\t0\t0\t0\t0\n", USER_VOCAB, "size 0"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t3\t1\t0\t0\t0\t0\n", USER_VOCAB, "must have mean"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t3\t0\t0\t0\t0\n", USER_VOCAB, "features.tsv:2:"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t3\t0\t0\t0\t0\t0\r\n", USER_VOCAB, "features.tsv:2:"));
}

static void test_read_refuses_bad_vocab(void)
{
    CHECK(refused(HDR "user_id\tcat\tuser_id\t4\t0\t0\t0\t0\t0\n", USER_VOCAB,
                  "user_id.vocab: 3 rows, but features.tsv:2 says size 4"));
    CHECK(refused(HDR "user_id\tcat\tuser_id\t2\t0\t0\t0\t0\t0\n", USER_VOCAB,
                  "user_id.vocab:4: more rows than the size 2"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\t[UNK]\t0\n2\tu2\t2\n1\tu1\t1\n",
                  "user_id.vocab:3: id 2 out of order, expected 1"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\t[UNK]\t0\n1\tu2\t2\n2\tu2\t1\n",
                  "user_id.vocab:4: duplicate token 'u2'"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\t[UNK]\t0\n1\t[UNK]\t2\n2\tu2\t1\n",
                  "user_id.vocab:3: duplicate token '[UNK]'"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\tu0\t0\n1\tu2\t2\n2\tu1\t1\n",
                  "user_id.vocab:2: id 0 must be [UNK]"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\t[UNK]\t0\n1\t\t2\n2\tu1\t1\n",
                  "user_id.vocab:3: empty token"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\t[UNK]\t0\n1\tu2\tmany\n2\tu1\t1\n",
                  "user_id.vocab:3: count 'many'"));
    CHECK(refused(HDR USER_ROW, "id\ttok\tcount\n0\t[UNK]\t0\n1\tu2\t2\n2\tu1\t1\n",
                  "user_id.vocab:1: bad header"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n", "user_id.vocab: 0 rows"));
    CHECK(refused(HDR USER_ROW, "id\ttoken\tcount\n0\t[UNK]\t0\n1\tu2\n", "user_id.vocab:3:"));
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_spec.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL test_spec: mkdtemp\n");
        return 1;
    }
    RUN(test_words_case_and_punctuation);
    RUN(test_words_utf8_kept);
    RUN(test_multi_and_cat_tokens);
    RUN(test_bucket_edges);
    RUN(test_norm);
    RUN(test_vocab_order_and_ties);
    RUN(test_moments);
    RUN(test_write_read_round_trip);
    RUN(test_read_good_minimal);
    RUN(test_read_refuses_missing_files);
    RUN(test_read_refuses_bad_features);
    RUN(test_read_refuses_bad_vocab);
    clean();
    rmdir(tmpdir);
    return check_status();
}
