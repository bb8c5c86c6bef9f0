/* libFuzzer harness for the model file: the .safetensors parser on the
 * raw bytes, the same through a file (mlr_st_read), and the model loader
 * (lib/model.h), which also checks the metadata, rebuilds the layout from
 * the `config` JSON and matches every tensor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "mlr.h"
#include "safetensors.h"
#include "fuzz_file.h"
#if defined(__has_include)
#if __has_include("model.h")
#include "model.h"
#define FUZZ_MODEL 1
#endif
#endif

/* Reads every byte of every tensor so ASan sees a short buffer. */
static void touch(const mlr_st_file *f)
{
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < f->n; i++) {
        const unsigned char *p = f->t[i].data;
        for (size_t b = 0; b < f->t[i].nbytes; b++)
            sum ^= p[b];
        mlr_st_find(f, f->t[i].name);
    }
    for (size_t i = 0; i < f->nmeta; i++)
        sum ^= (unsigned char)mlr_st_meta(f, f->meta_key[i])[0];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlr_err e;
    mlr_st_file f;
    if (mlr_st_parse(&f, data, size, "fuzz", &e) == 0)
        touch(&f);
    mlr_st_free(&f);
    char path[64];
    if (fuzz_write_file(path, data, size) != 0)
        return 0;
    if (mlr_st_read(&f, path, &e) == 0)
        touch(&f);
    mlr_st_free(&f);
#ifdef FUZZ_MODEL
    model m;
    if (model_load(&m, path, &e) == 0) {
        volatile float sum = 0;
        for (size_t i = 0; i < m.P; i++)
            sum += m.params[i];
        (void)sum;
    } else if (getenv("FUZZ_VERBOSE")) { /* triage: why an input was refused */
        fprintf(stderr, "%s\n", e.msg);
    }
    model_free(&m);
#endif
    unlink(path);
    return 0;
}
