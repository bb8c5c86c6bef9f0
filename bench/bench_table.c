/* bench_table.c: how fast lib/table.c reads a TSV (and the same rows as
 * CSV), beside `wc -l` and `cat` on the same file as the reference.
 *
 *   build/bench/bench_table [ROWS]      (default 5000000 rows of ~60 bytes)
 *
 * Writes a synthetic interaction table to $TMPDIR (or /tmp), reads it
 * twice with the reader (warm cache, best time kept), prints one line per
 * figure on stdout, and, when $BENCH_OUT is set (bench/run.sh), appends
 * rows in bench/lib.sh's format. Removes its file at the end. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlr.h"
#include "table.h"

/* user_id item_id rating timestamp item_genres, like the interaction table. */
static void write_table(const char *path, long rows, char delim)
{
    static const char *genres[] = {"Action|Comedy", "Drama", "Animation|Children's|Comedy",
                                   "Thriller|Crime|Drama", "Romance|War"};
    mlr_out o;
    mlr_err e;
    if (mlr_out_open(&o, path, &e) < 0)
        mlr_die_err(&e);
    mlr_rng r;
    mlr_rng_seed(&r, 1);
    fprintf(o.fp, "user_id%citem_id%crating%ctimestamp%citem_genres\n", delim, delim, delim, delim);
    for (long i = 0; i < rows; i++)
        fprintf(o.fp, "user%llu%citem%llu%c%.1f%c%ld%c%s\n",
                (unsigned long long)mlr_rng_below(&r, 100000), delim,
                (unsigned long long)mlr_rng_below(&r, 50000), delim,
                (double)(1 + mlr_rng_below(&r, 9)) / 2, delim, 880000000L + i, delim,
                genres[mlr_rng_below(&r, 5)]);
    if (mlr_out_commit(&o, &e) < 0)
        mlr_die_err(&e);
}

/* Best of two full reads; touches each field's length so nothing is skipped. */
static double time_read(const char *path, const mlr_read_opts *opts, long *rows)
{
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        mlr_err e;
        double t0 = mlr_now();
        mlr_reader *r = mlr_reader_open(path, opts, &e);
        if (!r)
            mlr_die_err(&e);
        int st;
        size_t bytes = 0;
        *rows = 0;
        while ((st = mlr_reader_next(r, &e)) == 1) {
            (*rows)++;
            bytes += mlr_reader_field_len(r, 2);
        }
        if (st < 0)
            mlr_die_err(&e);
        mlr_reader_close(r);
        double t = mlr_now() - t0;
        if (t < best && bytes > 0)
            best = t;
    }
    return best;
}

static double time_command(const char *fmt, const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, fmt, path);
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        double t0 = mlr_now();
        if (system(cmd) != 0)
            mlr_die("'%s' failed", cmd);
        double t = mlr_now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static void report(const char *what, long rows, double secs, double ref_secs, const char *ref)
{
    double rate = rows / secs, ref_rate = rows / ref_secs;
    printf("%-10s %9ld rows in %.3f s = %10.0f rows/s   (%s: %.3f s = %.0f rows/s)\n", what, rows,
           secs, rate, ref, ref_secs, ref_rate);
    const char *out = getenv("BENCH_OUT");
    FILE *fp = out ? fopen(out, "a") : NULL;
    if (fp) {
        fprintf(fp, "table_read_%s\t%.0f\trows/s\t%.0f\trows/s (%s)\t%.3f\t%ld rows of ~60 bytes, warm cache\n",
                what, rate, ref_rate, ref, rate / ref_rate, rows);
        fclose(fp);
    }
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    long rows = argc > 1 ? mlr_opt_long("ROWS", argv[1], 1, 1000000000L) : 5000000L;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tsv[1024], csv[1024];
    snprintf(tsv, sizeof tsv, "%s/bench_table.%ld.tsv", dir, (long)getpid());
    snprintf(csv, sizeof csv, "%s/bench_table.%ld.csv", dir, (long)getpid());
    write_table(tsv, rows, '\t');
    write_table(csv, rows, ',');

    long got;
    double t_tsv = time_read(tsv, NULL, &got);
    double t_wc = time_command("wc -l < '%s' > /dev/null", tsv);
    double t_cat = time_command("cat '%s' > /dev/null", tsv);
    report("tsv", got, t_tsv, t_wc, "wc -l");
    report("tsv_cat", got, t_tsv, t_cat, "cat");
    mlr_read_opts o = mlr_read_defaults();
    o.csv = 1;
    double t_csv = time_read(csv, &o, &got);
    report("csv", got, t_csv, t_wc, "wc -l");
    unlink(tsv);
    unlink(csv);
    mlr_close_stdout();
    return 0;
}
