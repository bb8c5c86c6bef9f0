/* test_safetensors.c: the writer read back (here and by numpy when
 * /usr/bin/python3 has it), the reader's refusals, and random corruption
 * of a valid file never crashing the reader. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mlr.h"
#include "safetensors.h"

static char dir[] = "/tmp/test_st.XXXXXX";

static char *path_in(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static float w[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
static int32_t ids[3] = {7, -1, 42};
static float bias[2] = {0.5f, -0.5f};

static int write_sample(const char *path, mlr_err *e)
{
    mlr_st_tensor t[3] = {
        {.name = "query.dense.0.weight", .dtype = MLR_ST_F32, .ndim = 2, .shape = {2, 3},
         .nbytes = sizeof w, .data = w},
        {.name = "ids", .dtype = MLR_ST_I32, .ndim = 1, .shape = {3}, .nbytes = sizeof ids, .data = ids},
        {.name = "bias", .dtype = MLR_ST_F32, .ndim = 1, .shape = {2}, .nbytes = sizeof bias, .data = bias},
    };
    const char *k[2] = {"format", "config"}, *v[2] = {"mlrec-model", "{\"dim\": 3}"};
    return mlr_st_write(path, t, 3, k, v, 2, e);
}

static void test_roundtrip(void)
{
    mlr_err e;
    CHECKF(write_sample(path_in("a.safetensors"), &e) == 0, "%s", e.msg);
    mlr_st_file f;
    CHECKF(mlr_st_read(&f, path_in("a.safetensors"), &e) == 0, "%s", e.msg);
    const mlr_st_tensor *t = mlr_st_find(&f, "query.dense.0.weight");
    CHECK(f.n == 3 && t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(t->dtype == MLR_ST_F32 && memcmp(t->data, w, sizeof w) == 0);
    t = mlr_st_find(&f, "ids");
    CHECK(t && t->dtype == MLR_ST_I32 && memcmp(t->data, ids, sizeof ids) == 0);
    CHECK(mlr_st_find(&f, "nope") == NULL);
    CHECK(mlr_st_meta(&f, "format") && strcmp(mlr_st_meta(&f, "format"), "mlrec-model") == 0);
    CHECK(strcmp(mlr_st_meta(&f, "config"), "{\"dim\": 3}") == 0);
    mlr_st_free(&f);
    /* the same input, the same bytes */
    CHECK(write_sample(path_in("b.safetensors"), &e) == 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cmp -s %s/a.safetensors %s/b.safetensors", dir, dir);
    CHECK(system(cmd) == 0);
}

/* I16 (the teacher's cache, lib/teacher.c): two bytes an element, read
 * back as written; offsets sized for I32 are refused. */
static void test_i16(void)
{
    int16_t q[4] = {-32768, -1, 0, 32767};
    mlr_st_tensor t = {.name = "logit", .dtype = MLR_ST_I16, .ndim = 2, .shape = {2, 2},
                       .nbytes = sizeof q, .data = q};
    mlr_err e;
    CHECKF(mlr_st_write(path_in("i16.safetensors"), &t, 1, NULL, NULL, 0, &e) == 0, "%s", e.msg);
    mlr_st_file f;
    CHECKF(mlr_st_read(&f, path_in("i16.safetensors"), &e) == 0, "%s", e.msg);
    const mlr_st_tensor *r = mlr_st_find(&f, "logit");
    CHECK(r && r->dtype == MLR_ST_I16 && r->nbytes == 8 && memcmp(r->data, q, sizeof q) == 0);
    CHECK(strcmp(mlr_st_dtype_name(MLR_ST_I16), "I16") == 0);
    mlr_st_free(&f);
    const char hdr[] = "{\"logit\":{\"dtype\":\"I16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
    unsigned char buf[8 + sizeof hdr - 1 + 16] = {0};
    mlr_le64_put(buf, sizeof hdr - 1);
    memcpy(buf + 8, hdr, sizeof hdr - 1);
    CHECK(mlr_st_parse(&f, buf, sizeof buf, "x", &e) == -1);
}

/* numpy parses the file in a few lines: header length, JSON, raw bytes. */
static void test_numpy_reads_it(void)
{
    if (access("/usr/bin/python3", X_OK) != 0 ||
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        printf("SKIP test_numpy_reads_it: no /usr/bin/python3 with numpy\n");
        return;
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import json, struct, numpy as np\n"
             "b = open(\"%s/a.safetensors\", \"rb\").read()\n"
             "n = struct.unpack(\"<Q\", b[:8])[0]\n"
             "assert (8 + n) %% 8 == 0\n"
             "h = json.loads(b[8:8+n]); d = b[8+n:]\n"
             "e = h[\"query.dense.0.weight\"]; s, t = e[\"data_offsets\"]\n"
             "w = np.frombuffer(d[s:t], dtype=\"<f4\").reshape(e[\"shape\"])\n"
             "assert w.shape == (2, 3) and w[0, 2] == 3.25 and w[1, 2] == -7\n"
             "e = h[\"ids\"]; s, t = e[\"data_offsets\"]\n"
             "assert list(np.frombuffer(d[s:t], dtype=\"<i4\")) == [7, -1, 42]\n"
             "assert h[\"__metadata__\"][\"format\"] == \"mlrec-model\"\n"
             "'",
             dir);
    CHECK(system(cmd) == 0);
}

/* A file image: 8-byte length, header, then `data` bytes of zeros. */
static int parse_image(const char *header, size_t data, mlr_err *e)
{
    size_t h = strlen(header), len = 8 + h + data;
    unsigned char *buf = xcalloc(len, 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    mlr_st_file f;
    int rc = mlr_st_parse(&f, buf, len, "x.st", e);
    mlr_st_free(&f);
    free(buf);
    return rc;
}

#define REFUSED(header, data, words) do { mlr_err e_; \
    CHECKF(parse_image(header, data, &e_) < 0, "accepted %s", header); \
    CHECKF(strstr(e_.msg, words) != NULL, "message '%s' lacks '%s'", e_.msg, words); } while (0)

static void test_refusals(void)
{
    mlr_err e;
    CHECK(parse_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &e) == 0);
    CHECK(parse_image("{}", 0, &e) == 0);
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes");
    REFUSED("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unsupported dtype 'F16'");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlaps");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "after the last");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 8, "outside");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-size");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "non-size");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],"
            "\"data_offsets\":[0,4]}}", 4, "too large");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "exactly");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "exactly");
    REFUSED("{\"a\":[1,2]}", 0, "exactly");
    REFUSED("{\"__metadata__\":{\"k\":3}}", 0, "not a string");
    REFUSED("{\"__metadata__\":[]}", 0, "not an object");
    REFUSED("[1,2]", 0, "not a JSON object");
    REFUSED("{\"a\":1,\"a\":2}", 0, "not valid JSON");
    REFUSED("{\"a\":", 0, "not valid JSON");
    REFUSED("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "at most");
    unsigned char shortbuf[5] = {1, 0, 0, 0, 0};
    mlr_st_file f;
    CHECK(mlr_st_parse(&f, shortbuf, 5, "s", &e) < 0 && strstr(e.msg, "too short"));
    unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CHECK(mlr_st_parse(&f, big, 16, "s", &e) < 0 && strstr(e.msg, "over the limit"));
    unsigned char past[16] = {100};
    CHECK(mlr_st_parse(&f, past, 16, "s", &e) < 0 && strstr(e.msg, "past the end"));
    CHECK(mlr_st_read(&f, path_in("missing"), &e) < 0 && strstr(e.msg, "cannot open"));
}

/* A truncated model and random byte flips: refused or accepted, never a
 * crash (the sanitizer build checks the memory side). */
static void test_corruption(void)
{
    mlr_err e;
    CHECK(write_sample(path_in("c.safetensors"), &e) == 0);
    FILE *fp = fopen(path_in("c.safetensors"), "rb");
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    mlr_st_file f;
    for (size_t cut = 0; cut < len; cut++) {
        CHECKF(mlr_st_parse(&f, buf, cut, "cut", &e) < 0, "accepted a file cut at %zu of %zu", cut, len);
    }
    mlr_rng r;
    mlr_rng_seed(&r, 9);
    unsigned char mut[4096];
    for (int it = 0; it < 3000; it++) {
        memcpy(mut, buf, len);
        int flips = 1 + (int)mlr_rng_below(&r, 4);
        for (int k = 0; k < flips; k++)
            mut[mlr_rng_below(&r, len)] = (unsigned char)mlr_rng_u64(&r);
        if (mlr_st_parse(&f, mut, len, "mut", &e) == 0)
            mlr_st_free(&f);
    }
}

static void test_write_refuses_bad_tensors(void)
{
    mlr_err e;
    mlr_st_tensor t[2] = {
        {.name = "a", .dtype = MLR_ST_F32, .ndim = 1, .shape = {2}, .nbytes = 8, .data = w},
        {.name = "a", .dtype = MLR_ST_F32, .ndim = 1, .shape = {2}, .nbytes = 8, .data = w},
    };
    CHECK(mlr_st_write(path_in("d.safetensors"), t, 2, NULL, NULL, 0, &e) < 0);
    t[1].name = "b";
    t[1].nbytes = 4;
    CHECK(mlr_st_write(path_in("d.safetensors"), t, 2, NULL, NULL, 0, &e) < 0);
    CHECK(access(path_in("d.safetensors"), F_OK) != 0);
    t[1].nbytes = 8;
    CHECK(mlr_st_write(path_in("d.safetensors"), t, 2, NULL, NULL, 0, &e) == 0);
    /* a write that fails leaves the earlier file as it was */
    CHECK(mlr_st_write("/nonexistent-dir/x.safetensors", t, 2, NULL, NULL, 0, &e) < 0);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    RUN(test_roundtrip);
    RUN(test_i16);
    RUN(test_numpy_reads_it);
    RUN(test_refusals);
    RUN(test_corruption);
    RUN(test_write_refuses_bad_tensors);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("FAIL cleanup: %s\n", cmd);
    return check_status();
}
