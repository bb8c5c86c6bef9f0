/* libFuzzer harness for the feature specification reader (lib/spec.h).
 * mlr_spec_read takes a directory, so the input is cut at each NUL byte:
 * the first piece becomes SPECDIR/features.tsv, piece i (i >= 1) the
 * vocabulary of the i-th known feature (mlr_feature_defs order), e.g.
 *   features.tsv \0 user_id.vocab \0 item_id.vocab \0 ...
 * A read that succeeds is then used as mlr-encode uses it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mlr.h"
#include "spec.h"

static int put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    int bad = n > 0 && fwrite(p, 1, n, fp) != n;
    return fclose(fp) != 0 || bad ? -1 : 0;
}

/* Exercises the lookups and transforms of every feature. */
static void use(const mlr_spec *spec)
{
    static const char *samples[] = {"", "1", "[UNK]", "Drama|Comedy||x", "Toy Story (1995)",
                                    "0.5", "nan", "-1e308", "\xc3\xa9t\xc3\xa9", "12345"};
    mlr_tokens t = {0};
    int32_t ids[8];
    volatile uint64_t sum = 0; /* unsigned: wraps, no overflow */
    volatile double norm = 0;
    for (size_t i = 0; i < spec->n; i++) {
        const mlr_feature *f = &spec->features[i];
        mlr_spec_find(spec, f->name);
        for (size_t s = 0; s < sizeof samples / sizeof *samples; s++) {
            size_t len = strlen(samples[s]);
            sum += (uint64_t)mlr_feature_id(f, samples[s], len);
            if (f->kind == MLR_KIND_CAT)
                sum += (uint64_t)mlr_feature_cat(f, samples[s], len);
            if (f->kind == MLR_KIND_MULTI || f->kind == MLR_KIND_WORDS)
                sum += mlr_feature_list(f, &t, samples[s], len, ids, 8);
        }
        for (size_t id = 0; id < f->size; id++)
            sum += strlen(mlr_feature_token(f, id));
        double xs[] = {-1e300, f->min, f->mean, f->max, 1e300};
        for (size_t k = 0; k < 5; k++) {
            int32_t b = mlr_feature_bucket(f, xs[k]);
            if (b < 0 || (f->buckets > 0 && (size_t)b >= f->buckets))
                abort(); /* out of [0, buckets-1]: an encoder would index past a table */
            sum += (uint64_t)b;
            norm = mlr_feature_norm(f, xs[k]);
        }
    }
    mlr_tokens_free(&t);
    (void)sum;
    (void)norm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/mlr-fuzz-spec-XXXXXX";
    if (!mkdtemp(dir))
        return 0;
    size_t ndefs;
    const mlr_feature_def *defs = mlr_feature_defs(&ndefs);
    const uint8_t *p = data, *end = data + size;
    char names[64][64];
    size_t nfiles = 0;
    for (size_t piece = 0; p <= end && nfiles < ndefs + 1; piece++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        const uint8_t *stop = nul ? nul : end;
        if (piece == 0)
            snprintf(names[nfiles], sizeof names[0], "features.tsv");
        else
            snprintf(names[nfiles], sizeof names[0], "%s.vocab", defs[piece - 1].name);
        if (put(dir, names[nfiles], p, (size_t)(stop - p)) == 0)
            nfiles++;
        if (!nul)
            break;
        p = nul + 1;
    }
    mlr_spec spec;
    mlr_err e;
    if (mlr_spec_read(dir, &spec, &e) == 0)
        use(&spec);
    else if (getenv("FUZZ_VERBOSE")) /* triage: why an input was refused */
        fprintf(stderr, "%s\n", e.msg);
    mlr_spec_free(&spec);
    for (size_t i = 0; i < nfiles; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
