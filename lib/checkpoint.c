/* checkpoint.c: named records in one atomically written, checksummed file
 * (checkpoint.h). */
#include "checkpoint.h"
#include "safetensors.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char MAGIC[] = "MLRCKPT1\n";
#define MAGIC_LEN 9
#define NAME_MAX_LEN 64

struct mlr_ckpt {
    unsigned char *buf; /* the file's bytes: magic and records so far */
    size_t len, cap;
    char *path;         /* DIR/state once read */
};

static void append(mlr_ckpt *c, const void *data, size_t n)
{
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->buf = xrealloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
}

static void put_u64(mlr_ckpt *c, uint64_t v)
{
    unsigned char b[8];
    mlr_le64_put(b, v);
    append(c, b, 8);
}

mlr_ckpt *mlr_ckpt_new(void)
{
    mlr_ckpt *c = xcalloc(1, sizeof *c);
    append(c, MAGIC, MAGIC_LEN);
    return c;
}

void mlr_ckpt_free(mlr_ckpt *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c->path);
    free(c);
}

void mlr_ckpt_put(mlr_ckpt *c, const char *name, const void *data, size_t n)
{
    append(c, name, strlen(name) + 1);
    put_u64(c, n);
    append(c, data, n);
}

static char *state_path(const char *dir)
{
    size_t n = strlen(dir) + sizeof "/state";
    char *p = xmalloc(n);
    snprintf(p, n, "%s/state", dir);
    return p;
}

int mlr_ckpt_write(const mlr_ckpt *c, const char *dir, mlr_err *e)
{
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return mlr_fail(e, "%s: cannot make the checkpoint directory: %s", dir, strerror(errno));
    char *path = state_path(dir), hex[65];
    mlr_sha256_ctx h;
    mlr_sha256_init(&h);
    mlr_sha256_update(&h, c->buf, c->len);
    static const unsigned char END[12] = "end"; /* "end\0" and a zero length */
    mlr_sha256_update(&h, END, sizeof END);
    mlr_sha256_final(&h, hex);
    mlr_out o;
    int rc = mlr_out_open(&o, path, e);
    if (rc == 0) {
        fwrite(c->buf, 1, c->len, o.fp);
        fwrite(END, 1, sizeof END, o.fp);
        fwrite(hex, 1, 64, o.fp);
        rc = mlr_out_commit(&o, e);
    }
    free(path);
    return rc;
}

/* Checks the magic, the records' framing and the closing checksum. */
static int verify(const mlr_ckpt *c, mlr_err *e)
{
    if (c->len < MAGIC_LEN + 12 + 64 || memcmp(c->buf, MAGIC, MAGIC_LEN) != 0)
        return mlr_fail(e, "%s: not an mlr-train checkpoint (bad magic or too short)", c->path);
    size_t body = c->len - 64;
    char hex[65];
    mlr_sha256(c->buf, body, hex);
    if (memcmp(hex, c->buf + body, 64) != 0)
        return mlr_fail(e, "%s: damaged checkpoint (checksum differs): remove it to start over",
                        c->path);
    return 0;
}

int mlr_ckpt_read(const char *dir, mlr_ckpt **out, mlr_err *e)
{
    *out = NULL;
    mlr_ckpt *c = xcalloc(1, sizeof *c);
    c->path = state_path(dir);
    FILE *fp = fopen(c->path, "rb");
    if (!fp) {
        int missing = errno == ENOENT;
        int rc = missing ? 0 : mlr_fail(e, "%s: cannot open: %s", c->path, strerror(errno));
        mlr_ckpt_free(c);
        return rc;
    }
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        append(c, chunk, n);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        mlr_fail(e, "%s: read error", c->path);
        mlr_ckpt_free(c);
        return -1;
    }
    if (verify(c, e) < 0) {
        mlr_ckpt_free(c);
        return -1;
    }
    *out = c;
    return 1;
}

const void *mlr_ckpt_get(const mlr_ckpt *c, const char *name, size_t *n)
{
    size_t at = MAGIC_LEN, end = c->len - 64;
    while (at < end) {
        const unsigned char *nm = c->buf + at;
        size_t nl = strnlen((const char *)nm, end - at < NAME_MAX_LEN ? end - at : NAME_MAX_LEN);
        if (at + nl + 1 + 8 > end)
            return NULL; /* framing: the checksum makes this unreachable */
        uint64_t len = mlr_le64_get(nm + nl + 1);
        size_t data = at + nl + 1 + 8;
        if (len > end - data)
            return NULL;
        if (strcmp((const char *)nm, name) == 0) {
            *n = (size_t)len;
            return c->buf + data;
        }
        at = data + (size_t)len;
    }
    return NULL;
}

int mlr_ckpt_copy(const mlr_ckpt *c, const char *name, void *buf, size_t n, mlr_err *e)
{
    size_t len = 0;
    const void *p = mlr_ckpt_get(c, name, &len);
    if (!p || len != n)
        return mlr_fail(e, "%s: %s: %s (%zu bytes expected)", c->path, name,
                        p ? "another size than this run's" : "missing", n);
    memcpy(buf, p, n);
    return 0;
}

const char *mlr_ckpt_path(const mlr_ckpt *c)
{
    return c->path;
}
