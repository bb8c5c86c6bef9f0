/* A main() for the fuzz harnesses without libFuzzer: runs the harness on
 * each file named on the command line (the seeds and every crash found so
 * far, kept in tests/fuzz/regress/), so `make test` replays them under the
 * normal and the sanitizer builds. Prints PASS lines for tests/run.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(fp);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (replay(argv[i]) != 0) {
            printf("FAIL replay %s: cannot read\n", argv[i]);
            return 1;
        }
        printf("PASS replay %s\n", argv[i]);
    }
    return 0;
}
