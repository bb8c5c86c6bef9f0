/* fuzz_file.h: the readers under test take paths, so each input is
 * written to a private temporary file first. */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int fuzz_write_file(char path[64], const void *data, size_t size)
{
    strcpy(path, "/tmp/mlr-fuzz-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n <= 0) {
            close(fd);
            unlink(path);
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    close(fd);
    return 0;
}
#endif
