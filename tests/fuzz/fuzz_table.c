/* libFuzzer harness for the table reader: TSV, CSV and headerless '|'
 * modes, chosen by the first byte, over the rest of the input. Every row
 * is read and every numeric accessor exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "mlr.h"
#include "table.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mlr_read_opts opts = mlr_read_defaults();
    switch (data[0] % 4) {
    case 1: opts.csv = 1; opts.delim = ','; break;
    case 2: opts.header = 0; opts.delim = '|'; opts.check_utf8 = 0; break;
    case 3: opts.header = 0; break;
    default: break;
    }
    char path[64];
    if (fuzz_write_file(path, data + 1, size - 1) != 0)
        return 0;
    mlr_err e;
    mlr_reader *r = mlr_reader_open(path, &opts, &e);
    if (r) {
        mlr_reader_col(r, "user_id");
        while (mlr_reader_next(r, &e) == 1) {
            for (size_t i = 0; i < mlr_reader_nfields(r); i++) {
                double d;
                long l;
                mlr_reader_double(r, i, &d, &e);
                mlr_reader_long(r, i, &l, &e);
                mlr_utf8_valid(mlr_reader_field(r, i), mlr_reader_field_len(r, i));
            }
        }
        mlr_reader_close(r);
    }
    unlink(path);
    return 0;
}
