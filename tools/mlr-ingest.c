/* mlr-ingest: a raw data set -> the interaction table of SPEC.md.
 *
 * Three sources: MovieLens 100K (u.data joined with u.user, u.item and
 * u.genre; titles from ISO-8859-1 to UTF-8), MovieLens "latest" CSV
 * (ratings.csv joined with movies.csv, optionally tags.csv), and any TSV or
 * CSV whose columns are named through --map. Ratings stream through; only
 * the user and item files are held in memory, as id -> text maps.
 * Every output field is cleaned of TAB, CR and LF (mlr_tsv_clean).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mlr.h"
#include "strmap.h"
#include "table.h"

enum { NCOLS = 11 };
/* Our columns, in output order; item_tags only with ml-latest --tags. */
static const char *const COLS[NCOLS] = {
    "user_id", "item_id", "rating", "timestamp", "user_age", "user_gender",
    "user_occupation", "user_zip", "item_title", "item_genres", "item_tags"};
enum { C_USER, C_ITEM, C_RATING, C_TIME, C_AGE, C_GENDER, C_OCC, C_ZIP, C_TITLE, C_GENRES, C_TAGS };

typedef struct {
    const char *format, *input, *output;
    const char *map[NCOLS]; /* --map: the input's name for each of our columns */
    int tags;
} options;

/* Id -> the text that follows it in every output row ("age\tgender..."). */
typedef struct {
    mlr_strmap *ids;
    char **text; /* (count) by id */
    size_t *len;
} lookup;

static void usage(FILE *fp)
{
    fprintf(fp,
        "usage: mlr-ingest --format FORMAT [--map OURS=THEIRS,...] [--tags] [--output FILE] INPUT\n"
        "Turns a raw data set into the interaction table (SPEC.md): the columns\n"
        "user_id item_id rating timestamp user_age user_gender user_occupation user_zip\n"
        "item_title item_genres, those the source has, in that order, TAB/CR/LF in\n"
        "fields made spaces. Rows in the order of the ratings file.\n"
        "  --format FORMAT  ml-100k (INPUT: a directory with u.data u.user u.item u.genre),\n"
        "                   ml-latest (INPUT: a directory with ratings.csv movies.csv),\n"
        "                   tsv or csv (INPUT: a file, '-' or none for stdin); required\n"
        "  --map LIST       tsv/csv: our column = the input's column, comma-separated,\n"
        "                   repeatable; unmapped columns already named as ours pass through\n"
        "                   (default: none)\n"
        "  --tags           ml-latest: add item_tags, the '|'-joined distinct tags of\n"
        "                   tags.csv in first-seen order (default: off)\n"
        "  --output FILE    write here atomically (default stdout)\n"
        "  -h, --help       this help;  --version  the version\n"
        "Refused, naming file and line: a missing file or field, a rating or timestamp that\n"
        "is not a number, a rating whose user or item is not in the user or item file.\n"
        "example: mlr-ingest --format ml-100k data/ml-100k | mlr-split --test-output test.tsv >train.tsv\n");
}

static int col_index(const char *name, size_t len)
{
    for (int c = 0; c < NCOLS; c++)
        if (strlen(COLS[c]) == len && strncmp(COLS[c], name, len) == 0)
            return c;
    return -1;
}

/* "user_id=userId,item_id=movieId" into o->map. */
static void parse_map(options *o, const char *arg)
{
    const char *p = arg;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || eq + 1 == p + n)
            mlr_usage_die("--map: '%.*s' is not OURS=THEIRS", (int)n, p);
        int c = col_index(p, (size_t)(eq - p));
        if (c < 0)
            mlr_usage_die("--map: '%.*s' is not one of our columns (user_id, item_id, rating, ...)",
                          (int)(eq - p), p);
        /* Which of two would win is a guess: refuse (and nothing leaks). */
        if (o->map[c])
            mlr_usage_die("--map: '%s' is mapped twice", COLS[c]);
        o->map[c] = strndup(eq + 1, (size_t)(p + n - eq - 1));
        if (!o->map[c])
            mlr_die("out of memory");
        p += n + (p[n] == ',');
    }
}

static options parse_args(int argc, char **argv)
{
    options o = {0};
    static const struct option longs[] = {
        {"format", required_argument, 0, 'f'}, {"map", required_argument, 0, 'm'},
        {"tags", no_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c, mapped = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longs, NULL)) != -1) {
        switch (c) {
        case 'f': o.format = optarg; break;
        case 'm': parse_map(&o, optarg); mapped = 1; break;
        case 't': o.tags = 1; break;
        case 'o': o.output = optarg; break;
        default: mlr_opt_rest(c, "mlr-ingest", usage, argv);
        }
    }
    if (!o.format)
        mlr_usage_die("--format is required: ml-100k, ml-latest, tsv or csv (try 'mlr-ingest --help')");
    int is_table = !strcmp(o.format, "tsv") || !strcmp(o.format, "csv");
    if (!is_table && strcmp(o.format, "ml-100k") && strcmp(o.format, "ml-latest"))
        mlr_usage_die("--format: unknown format '%s' (ml-100k, ml-latest, tsv, csv)", o.format);
    if (mapped && !is_table)
        mlr_usage_die("--map goes with --format tsv or csv");
    if (o.tags && strcmp(o.format, "ml-latest"))
        mlr_usage_die("--tags goes with --format ml-latest");
    if (optind + 1 < argc)
        mlr_usage_die("one input at most, not '%s' too", argv[optind + 1]);
    o.input = optind < argc ? argv[optind] : is_table ? "-" : NULL;
    if (!o.input)
        mlr_usage_die("--format %s needs the data set's directory", o.format);
    return o;
}

/* ---------- small helpers ---------- */

static char *path_join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static mlr_reader *open_or_die(const char *path, const mlr_read_opts *ro)
{
    mlr_err e;
    mlr_reader *r = mlr_reader_open(path, ro, &e);
    if (!r)
        mlr_die_err(&e);
    return r;
}

static mlr_read_opts headerless(char delim, int utf8)
{
    mlr_read_opts ro = mlr_read_defaults();
    ro.header = 0;
    ro.delim = delim;
    ro.check_utf8 = utf8;
    return ro;
}

static int require_or_die(const mlr_reader *r, const char *name)
{
    mlr_err e;
    int c = mlr_reader_require(r, name, &e);
    if (c < 0)
        mlr_die_err(&e);
    return c;
}

static void check_number(const mlr_reader *r, int col, int integer)
{
    mlr_err e;
    double d;
    long l;
    if ((integer ? mlr_reader_long(r, (size_t)col, &l, &e) : mlr_reader_double(r, (size_t)col, &d, &e)) < 0)
        mlr_die_err(&e);
}

/* A growable byte string. */
typedef struct {
    char *s;
    size_t len, cap;
} str;

static void str_add(str *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 64;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Adds a field, TAB/CR/LF made spaces. */
static void str_add_clean(str *b, const char *s, size_t n)
{
    size_t at = b->len;
    str_add(b, s, n);
    mlr_tsv_clean(b->s + at);
    /* mlr_tsv_clean stops at a NUL; fields hold none (the reader refuses them). */
}

/* Registers id with its text; a second row for the same id is an error. */
static void lookup_add(lookup *l, const mlr_reader *r, int idcol, str *text, const char *what)
{
    int added;
    size_t id = mlr_strmap_intern2(l->ids, mlr_reader_field(r, (size_t)idcol),
                                   mlr_reader_field_len(r, (size_t)idcol), &added);
    if (!added)
        mlr_die("%s:%ld: %s %s appears twice", mlr_reader_path(r), mlr_reader_line(r), what,
                mlr_reader_field(r, (size_t)idcol));
    if ((id & (id - 1)) == 0) { /* ids are dense: grow at powers of two */
        size_t cap = id ? 2 * id : 1;
        l->text = xrealloc(l->text, cap * sizeof *l->text);
        l->len = xrealloc(l->len, cap * sizeof *l->len);
    }
    l->text[id] = xmalloc(text->len + 1);
    memcpy(l->text[id], text->s ? text->s : "", text->len + 1);
    l->len[id] = text->len;
}

static void lookup_free(lookup *l)
{
    size_t n = l->ids ? mlr_strmap_count(l->ids) : 0;
    for (size_t i = 0; i < n; i++)
        free(l->text[i]);
    free(l->text);
    free(l->len);
    mlr_strmap_free(l->ids);
}

/* The text of field `col`'s id, or death naming the line and the file
 * that should have held it. */
static size_t lookup_find(const lookup *l, const mlr_reader *r, int col, const char *what,
                          const char *where)
{
    long id = mlr_strmap_find(l->ids, mlr_reader_field(r, (size_t)col), mlr_reader_field_len(r, (size_t)col));
    if (id < 0)
        mlr_die("%s:%ld: %s %s not in %s", mlr_reader_path(r), mlr_reader_line(r), what,
                mlr_reader_field(r, (size_t)col), where);
    return (size_t)id;
}

static void put(FILE *fp, const char *s, size_t n, char end)
{
    fwrite(s, 1, n, fp);
    putc_unlocked(end, fp);
}

/* ---------- MovieLens 100K ---------- */

/* u.genre: "name|index" lines, a blank line at the end (as shipped).
 * Read by hand: it is 20 lines and the table reader refuses blank lines. */
static char **read_genres(const char *dir, size_t *n)
{
    char *path = path_join(dir, "u.genre"), line[512];
    FILE *fp = fopen(path, "r");
    if (!fp)
        mlr_die("%s: cannot open: %s", path, strerror(errno));
    char **names = xcalloc(64, sizeof *names);
    long lineno = 0;
    *n = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        char *bar = strrchr(line, '|');
        long index;
        if (!bar || bar == line || mlr_parse_long(bar + 1, &index) < 0)
            mlr_die("%s:%ld: expected NAME|INDEX", path, lineno);
        if (index < 0 || index >= 64 || names[index])
            mlr_die("%s:%ld: genre index %ld out of range or repeated", path, lineno, index);
        *bar = '\0';
        names[index] = xstrdup(line);
        *n = (size_t)index + 1 > *n ? (size_t)index + 1 : *n;
    }
    fclose(fp);
    for (size_t g = 0; g < *n; g++)
        if (!names[g])
            mlr_die("%s: genre index %zu missing", path, g);
    if (!*n)
        mlr_die("%s: no genres", path);
    free(path);
    return names;
}

/* u.user: id|age|gender|occupation|zip -> "age\tgender\toccupation\tzip". */
static void read_users(const char *dir, lookup *users)
{
    char *path = path_join(dir, "u.user");
    mlr_read_opts ro = headerless('|', 1);
    mlr_reader *r = open_or_die(path, &ro);
    mlr_err e;
    str text = {0};
    int got;
    users->ids = mlr_strmap_new(1024);
    while ((got = mlr_reader_next(r, &e)) == 1) {
        if (mlr_reader_nfields(r) != 5)
            mlr_die("%s:%ld: expected 5 fields, found %zu", path, mlr_reader_line(r), mlr_reader_nfields(r));
        check_number(r, 1, 1);
        text.len = 0;
        for (size_t f = 1; f < 5; f++) {
            str_add_clean(&text, mlr_reader_field(r, f), mlr_reader_field_len(r, f));
            if (f < 4)
                str_add(&text, "\t", 1);
        }
        lookup_add(users, r, 0, &text, "user");
    }
    if (got < 0)
        mlr_die_err(&e);
    free(text.s);
    mlr_reader_close(r);
    free(path);
}

/* Genre flags (fields 5..) as the '|'-joined names of those set, in
 * u.genre's index order. */
static void add_genres(str *text, const mlr_reader *r, char **genres, size_t ngenres)
{
    int first = 1;
    for (size_t g = 0; g < ngenres; g++) {
        const char *flag = mlr_reader_field(r, 5 + g);
        if (strcmp(flag, "0") && strcmp(flag, "1"))
            mlr_die("%s:%ld: genre flag '%s' is not 0 or 1", mlr_reader_path(r), mlr_reader_line(r), flag);
        if (flag[0] == '1') {
            if (!first)
                str_add(text, "|", 1);
            str_add(text, genres[g], strlen(genres[g]));
            first = 0;
        }
    }
}

/* u.item (ISO-8859-1): id|title|release|video release|url|flags... ->
 * "title\tgenres", the title in UTF-8. */
static void read_items(const char *dir, lookup *items, char **genres, size_t ngenres)
{
    char *path = path_join(dir, "u.item");
    mlr_read_opts ro = headerless('|', 0);
    mlr_reader *r = open_or_die(path, &ro);
    mlr_err e;
    str text = {0};
    char *utf8 = NULL;
    size_t utf8_cap = 0;
    int got;
    items->ids = mlr_strmap_new(2048);
    while ((got = mlr_reader_next(r, &e)) == 1) {
        if (mlr_reader_nfields(r) != 5 + ngenres)
            mlr_die("%s:%ld: expected %zu fields (5 + one flag per genre of u.genre), found %zu",
                    path, mlr_reader_line(r), 5 + ngenres, mlr_reader_nfields(r));
        size_t n = mlr_reader_field_len(r, 1);
        if (2 * n + 1 > utf8_cap)
            utf8 = xrealloc(utf8, utf8_cap = 2 * n + 1);
        mlr_latin1_to_utf8(mlr_reader_field(r, 1), n, utf8);
        text.len = 0;
        str_add_clean(&text, utf8, strlen(utf8));
        str_add(&text, "\t", 1);
        add_genres(&text, r, genres, ngenres);
        lookup_add(items, r, 0, &text, "item");
    }
    if (got < 0)
        mlr_die_err(&e);
    free(utf8);
    free(text.s);
    mlr_reader_close(r);
    free(path);
}

/* u.data: user TAB item TAB rating TAB timestamp, joined row by row. */
static void ingest_ml100k(const options *o, FILE *out)
{
    size_t ngenres;
    char **genres = read_genres(o->input, &ngenres);
    lookup users = {0}, items = {0};
    read_users(o->input, &users);
    read_items(o->input, &items, genres, ngenres);
    char *path = path_join(o->input, "u.data");
    mlr_read_opts ro = headerless('\t', 1);
    mlr_reader *r = open_or_die(path, &ro);
    fputs("user_id\titem_id\trating\ttimestamp\tuser_age\tuser_gender\tuser_occupation\t"
          "user_zip\titem_title\titem_genres\n", out);
    mlr_err e;
    int got;
    while ((got = mlr_reader_next(r, &e)) == 1) {
        if (mlr_reader_nfields(r) != 4)
            mlr_die("%s:%ld: expected 4 fields, found %zu", path, mlr_reader_line(r), mlr_reader_nfields(r));
        check_number(r, 2, 0);
        check_number(r, 3, 1);
        size_t u = lookup_find(&users, r, 0, "user", "u.user");
        size_t i = lookup_find(&items, r, 1, "item", "u.item");
        for (size_t f = 0; f < 4; f++)
            put(out, mlr_reader_field(r, f), mlr_reader_field_len(r, f), '\t');
        put(out, users.text[u], users.len[u], '\t');
        put(out, items.text[i], items.len[i], '\n');
    }
    if (got < 0)
        mlr_die_err(&e);
    mlr_reader_close(r);
    free(path);
    lookup_free(&users);
    lookup_free(&items);
    for (size_t g = 0; g < ngenres; g++)
        free(genres[g]);
    free(genres);
}

/* ---------- MovieLens latest (CSV) ---------- */

static mlr_read_opts csv_opts(void)
{
    mlr_read_opts ro = mlr_read_defaults();
    ro.csv = 1;
    ro.delim = ',';
    return ro;
}

/* tags.csv: per movie id, its distinct tags ('|' made a space, so the
 * list can be split) joined by '|' in first-seen order. */
static str *read_tags(const char *dir, const lookup *movies)
{
    char *path = path_join(dir, "tags.csv");
    mlr_read_opts ro = csv_opts();
    mlr_reader *r = open_or_die(path, &ro);
    int mcol = require_or_die(r, "movieId"), tcol = require_or_die(r, "tag");
    size_t n = mlr_strmap_count(movies->ids);
    str *tags = xcalloc(n ? n : 1, sizeof *tags), key = {0};
    mlr_strmap *seen = mlr_strmap_new(0);
    mlr_err e;
    int got;
    while ((got = mlr_reader_next(r, &e)) == 1) {
        size_t m = lookup_find(movies, r, mcol, "item", "movies.csv");
        key.len = 0;
        str_add(&key, (const char *)&m, sizeof m); /* (movie, tag) pairs */
        str_add_clean(&key, mlr_reader_field(r, (size_t)tcol), mlr_reader_field_len(r, (size_t)tcol));
        for (char *p = key.s + sizeof m; *p; p++)
            if (*p == '|')
                *p = ' ';
        int added;
        mlr_strmap_intern2(seen, key.s, key.len, &added);
        if (!added || key.len == sizeof m)
            continue;
        if (tags[m].len)
            str_add(&tags[m], "|", 1);
        str_add(&tags[m], key.s + sizeof m, key.len - sizeof m);
    }
    if (got < 0)
        mlr_die_err(&e);
    mlr_strmap_free(seen);
    free(key.s);
    mlr_reader_close(r);
    free(path);
    return tags;
}

/* movies.csv: movieId,title,genres -> "title\tgenres"; "(no genres listed)"
 * becomes an empty list. */
static void read_movies(const char *dir, lookup *movies)
{
    char *path = path_join(dir, "movies.csv");
    mlr_read_opts ro = csv_opts();
    mlr_reader *r = open_or_die(path, &ro);
    int mcol = require_or_die(r, "movieId"), tcol = require_or_die(r, "title"),
        gcol = require_or_die(r, "genres");
    str text = {0};
    mlr_err e;
    int got;
    movies->ids = mlr_strmap_new(16384);
    while ((got = mlr_reader_next(r, &e)) == 1) {
        text.len = 0;
        str_add_clean(&text, mlr_reader_field(r, (size_t)tcol), mlr_reader_field_len(r, (size_t)tcol));
        str_add(&text, "\t", 1);
        const char *g = mlr_reader_field(r, (size_t)gcol);
        if (strcmp(g, "(no genres listed)") != 0)
            str_add_clean(&text, g, mlr_reader_field_len(r, (size_t)gcol));
        lookup_add(movies, r, mcol, &text, "item");
    }
    if (got < 0)
        mlr_die_err(&e);
    free(text.s);
    mlr_reader_close(r);
    free(path);
}

static void ingest_latest(const options *o, FILE *out)
{
    lookup movies = {0};
    read_movies(o->input, &movies);
    str *tags = o->tags ? read_tags(o->input, &movies) : NULL;
    char *path = path_join(o->input, "ratings.csv");
    mlr_read_opts ro = csv_opts();
    mlr_reader *r = open_or_die(path, &ro);
    int col[4] = {require_or_die(r, "userId"), require_or_die(r, "movieId"),
                  require_or_die(r, "rating"), require_or_die(r, "timestamp")};
    fputs(o->tags ? "user_id\titem_id\trating\ttimestamp\titem_title\titem_genres\titem_tags\n"
                  : "user_id\titem_id\trating\ttimestamp\titem_title\titem_genres\n", out);
    mlr_err e;
    int got;
    str clean = {0};
    while ((got = mlr_reader_next(r, &e)) == 1) {
        check_number(r, col[2], 0);
        check_number(r, col[3], 1);
        size_t m = lookup_find(&movies, r, col[1], "item", "movies.csv");
        if (mlr_reader_field_len(r, (size_t)col[0]) == 0)
            mlr_die("%s:%ld: empty userId", path, mlr_reader_line(r));
        for (size_t f = 0; f < 4; f++) {
            clean.len = 0;
            str_add_clean(&clean, mlr_reader_field(r, (size_t)col[f]), mlr_reader_field_len(r, (size_t)col[f]));
            put(out, clean.s, clean.len, '\t');
        }
        put(out, movies.text[m], movies.len[m], o->tags ? '\t' : '\n');
        if (o->tags)
            put(out, tags[m].s ? tags[m].s : "", tags[m].len, '\n');
    }
    if (got < 0)
        mlr_die_err(&e);
    for (size_t m = 0; tags && m < mlr_strmap_count(movies.ids); m++)
        free(tags[m].s);
    free(tags);
    free(clean.s);
    mlr_reader_close(r);
    free(path);
    lookup_free(&movies);
}

/* ---------- any TSV or CSV ---------- */

/* For each of our columns, the input column it comes from, or -1. */
static void map_columns(const options *o, const mlr_reader *r, int *src)
{
    for (int c = 0; c < NCOLS; c++) {
        src[c] = -1;
        if (o->map[c]) {
            src[c] = mlr_reader_col(r, o->map[c]);
            if (src[c] < 0)
                mlr_die("%s: no column '%s' in the header (from --map %s=%s)", mlr_reader_path(r),
                        o->map[c], COLS[c], o->map[c]);
        } else {
            src[c] = mlr_reader_col(r, COLS[c]);
        }
    }
    for (int c = 0; c < 2; c++)
        if (src[c] < 0)
            mlr_die("%s: no column for %s in the header (name it with --map %s=COLUMN)",
                    mlr_reader_path(r), COLS[c], COLS[c]);
}

static void check_row(const mlr_reader *r, const int *src)
{
    for (int c = 0; c < 2; c++)
        if (mlr_reader_field_len(r, (size_t)src[c]) == 0)
            mlr_die("%s:%ld: empty %s", mlr_reader_path(r), mlr_reader_line(r), COLS[c]);
    if (src[C_RATING] >= 0)
        check_number(r, src[C_RATING], 0);
    if (src[C_TIME] >= 0)
        check_number(r, src[C_TIME], 1);
    if (src[C_AGE] >= 0 && mlr_reader_field_len(r, (size_t)src[C_AGE]))
        check_number(r, src[C_AGE], 1);
}

/* Replaces TAB, CR and LF in b[0..n) by spaces. */
static void clean_span(char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] == '\t' || b[i] == '\r' || b[i] == '\n')
            b[i] = ' ';
}

/* Our columns of the current row as one TSV line (with its LF) at the end
 * of line. A TSV field holds no TAB or LF (the reader split on them), so a
 * single pass for CR cleans the whole line; when our columns are the
 * input's, in order, the line is the input line again, copied at once. */
static void table_line(str *line, const mlr_reader *r, const int *src, const int *cols, int n,
                       int csv, int identity)
{
    size_t at = line->len, need = mlr_reader_row_size(r) + 1;
    if (line->len + need + 1 > line->cap) {
        while (line->len + need + 1 > line->cap)
            line->cap = line->cap ? 2 * line->cap : 1 << 16;
        line->s = xrealloc(line->s, line->cap);
    }
    char *b = line->s;
    if (identity && !csv) {
        line->len += mlr_reader_row_tsv(r, b + at);
    } else {
        for (int k = 0; k < n; k++) {
            size_t f = (size_t)src[cols[k]], len = mlr_reader_field_len(r, f);
            memcpy(b + line->len, mlr_reader_field(r, f), len);
            if (csv)
                clean_span(b + line->len, len);
            line->len += len;
            b[line->len++] = '\t';
        }
        line->len--; /* the last TAB */
    }
    if (!csv)
        for (char *cr = memchr(b + at, '\r', line->len - at); cr; cr = memchr(cr, '\r', (size_t)(b + line->len - cr)))
            *cr = ' ';
    b[line->len++] = '\n';
}

static void ingest_table(const options *o, FILE *out)
{
    mlr_read_opts ro = mlr_read_defaults();
    int csv = !strcmp(o->format, "csv");
    if (csv)
        ro = csv_opts();
    mlr_reader *r = open_or_die(o->input, &ro);
    int src[NCOLS], cols[NCOLS], n = 0, identity;
    map_columns(o, r, src);
    for (int c = 0; c < NCOLS; c++)
        if (src[c] >= 0)
            cols[n++] = c;
    identity = (size_t)n == mlr_reader_ncols(r);
    for (int k = 0; k < n; k++) {
        put(out, COLS[cols[k]], strlen(COLS[cols[k]]), k + 1 < n ? '\t' : '\n');
        identity = identity && src[cols[k]] == k;
    }
    mlr_err e;
    int got;
    str lines = {0}; /* rows go out a buffer at a time, not a field at a time */
    while ((got = mlr_reader_next(r, &e)) == 1) {
        check_row(r, src);
        table_line(&lines, r, src, cols, n, csv, identity);
        if (lines.len >= 1 << 16) {
            fwrite(lines.s, 1, lines.len, out);
            lines.len = 0;
        }
    }
    if (got < 0)
        mlr_die_err(&e);
    if (lines.len)
        fwrite(lines.s, 1, lines.len, out);
    free(lines.s);
    mlr_reader_close(r);
}

static void run(const options *o)
{
    mlr_err e;
    mlr_out out;
    if (mlr_out_open(&out, o->output, &e) < 0)
        mlr_die_err(&e);
    static char buf[1 << 16];
    setvbuf(out.fp, buf, _IOFBF, sizeof buf);
    if (!strcmp(o->format, "ml-100k"))
        ingest_ml100k(o, out.fp);
    else if (!strcmp(o->format, "ml-latest"))
        ingest_latest(o, out.fp);
    else
        ingest_table(o, out.fp);
    if (ferror(out.fp))
        mlr_die("write error");
    if (mlr_out_commit(&out, &e) < 0)
        mlr_die_err(&e);
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    options o = parse_args(argc, argv);
    run(&o);
    for (int c = 0; c < NCOLS; c++)
        free((char *)o.map[c]);
    mlr_close_stdout();
    return 0;
}
