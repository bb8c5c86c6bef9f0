/* mlr-ingest: a raw data set -> the interaction table of SPEC.md.
 *
 * Three sources: MovieLens 100K (u.data joined with u.user, u.item and
 * u.genre; titles from ISO-8859-1 to UTF-8), MovieLens "latest" CSV
 * (ratings.csv joined with movies.csv, optionally tags.csv), and any TSV or
 * CSV whose columns are named through --map. Ratings stream through; only
 * the user and item files are held in memory, as id -> text maps (the
 * items in lib/catalogue).
 * Every output field is cleaned of TAB, CR and LF (mlr_tsv_clean).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
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

/* A growable byte string. */
typedef struct {
    char *s;
    size_t len, cap;
} str;

/* Everything a run holds, so that an error anywhere returns to main
 * through run(), which frees it all (ingest_free accepts a partial one). */
typedef struct {
    const options *o;
    FILE *out;
    char *path;           /* the file being read, and its reader */
    mlr_reader *r;
    char **genres;        /* ml-100k: u.genre's names by index (64 slots) */
    size_t ngenres;
    lookup users;         /* ml-100k users */
    mlr_catalogue items;  /* ml-100k items, ml-latest movies */
    str *tags;            /* ml-latest --tags: by movie id (count of items) */
    mlr_strmap *seen;     /* --tags: (movie, tag) pairs seen */
    str text, key;        /* scratch */
    char *utf8;
    size_t utf8_cap;
} ingest;

static char *path_join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* Closes the file being read, if any. */
static void close_input(ingest *g)
{
    mlr_reader_close(g->r);
    g->r = NULL;
    free(g->path);
    g->path = NULL;
}

/* Opens DIR/FILE (file NULL: dir itself) as the file being read. */
static int open_input(ingest *g, const char *dir, const char *file, const mlr_read_opts *ro,
                      mlr_err *e)
{
    close_input(g);
    g->path = file ? path_join(dir, file) : xstrdup(dir);
    g->r = mlr_reader_open(g->path, ro, e);
    return g->r ? 0 : -1;
}

static mlr_read_opts headerless(char delim, int utf8)
{
    mlr_read_opts ro = mlr_read_defaults();
    ro.header = 0;
    ro.delim = delim;
    ro.check_utf8 = utf8;
    return ro;
}

static int check_number(const mlr_reader *r, int col, int integer, mlr_err *e)
{
    double d;
    long l;
    return integer ? mlr_reader_long(r, (size_t)col, &l, e) : mlr_reader_double(r, (size_t)col, &d, e);
}

/* A message naming the current line of r. */
#define row_fail(r, e, fmt, ...) \
    mlr_fail(e, "%s:%ld: " fmt, mlr_reader_path(r), mlr_reader_line(r), __VA_ARGS__)

/* 0 for a row of n fields; else -1, "FILE:LINE: expected n fields
 * WHY, found m" (why: "" or " (the reason)"). */
static int want_fields(const mlr_reader *r, size_t n, const char *why, mlr_err *e)
{
    size_t got = mlr_reader_nfields(r);
    return got == n ? 0 : row_fail(r, e, "expected %zu fields%s, found %zu", n, why, got);
}

/* A row's rating (any number) and timestamp (an integer), the columns
 * -1 when the input has none: every format checks them alike. */
static int check_rating_time(const mlr_reader *r, int rating, int time, mlr_err *e)
{
    return (rating >= 0 && check_number(r, rating, 0, e) < 0) ||
           (time >= 0 && check_number(r, time, 1, e) < 0) ? -1 : 0;
}

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
static int lookup_add(lookup *l, const mlr_reader *r, int idcol, const str *text, const char *what,
                      mlr_err *e)
{
    int added;
    size_t id = mlr_strmap_intern2(l->ids, mlr_reader_field(r, (size_t)idcol),
                                   mlr_reader_field_len(r, (size_t)idcol), &added);
    if (!added)
        return row_fail(r, e, "%s %s appears twice", what, mlr_reader_field(r, (size_t)idcol));
    if ((id & (id - 1)) == 0) { /* ids are dense: grow at powers of two */
        size_t cap = id ? 2 * id : 1;
        l->text = xrealloc(l->text, cap * sizeof *l->text);
        l->len = xrealloc(l->len, cap * sizeof *l->len);
    }
    l->text[id] = xmalloc(text->len + 1);
    memcpy(l->text[id], text->s ? text->s : "", text->len + 1);
    l->len[id] = text->len;
    return 0;
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

/* The index in ids of field `col`, or -1 with a message naming the line
 * and the file that should have held it. */
static long id_find(const mlr_strmap *ids, const mlr_reader *r, int col, const char *what,
                    const char *where, mlr_err *e)
{
    long id = mlr_strmap_find(ids, mlr_reader_field(r, (size_t)col), mlr_reader_field_len(r, (size_t)col));
    if (id < 0)
        return row_fail(r, e, "%s %s not in %s", what, mlr_reader_field(r, (size_t)col), where);
    return id;
}

/* Registers item `idcol` of r with its title and genres (g->text, g->key);
 * a second row for the same item is an error. */
static int item_add(ingest *g, const mlr_reader *r, int idcol, mlr_err *e)
{
    int added;
    mlr_catalogue_add(&g->items, mlr_reader_field(r, (size_t)idcol), mlr_reader_field_len(r, (size_t)idcol),
                      g->text.s ? g->text.s : "", g->text.len, g->key.s ? g->key.s : "", g->key.len, &added);
    return added ? 0 : row_fail(r, e, "item %s appears twice", mlr_reader_field(r, (size_t)idcol));
}

/* Item m's title and genres, TAB between, then end. */
static void put_item(const ingest *g, size_t m, char end)
{
    size_t n;
    const char *t = mlr_catalogue_title(&g->items, m, &n);
    fwrite(t, 1, n, g->out);
    putc_unlocked('\t', g->out);
    t = mlr_catalogue_genres(&g->items, m, &n);
    fwrite(t, 1, n, g->out);
    putc_unlocked(end, g->out);
}

static void put(FILE *fp, const char *s, size_t n, char end)
{
    fwrite(s, 1, n, fp);
    putc_unlocked(end, fp);
}

/* The end of a row loop: 0 when the input ended, -1 on an error (got < 0:
 * the reader's, already in e). */
static int loop_end(int rc, int got)
{
    return rc < 0 || got < 0 ? -1 : 0;
}

/* ---------- MovieLens 100K ---------- */

/* One "name|index" line of u.genre into g->genres. */
static int genre_line(ingest *g, char *line, long lineno, mlr_err *e)
{
    char *bar = strrchr(line, '|');
    long index;
    if (!bar || bar == line || mlr_parse_long(bar + 1, &index) < 0)
        return mlr_fail(e, "%s:%ld: expected NAME|INDEX", g->path, lineno);
    if (index < 0 || index >= 64 || g->genres[index])
        return mlr_fail(e, "%s:%ld: genre index %ld out of range or repeated", g->path, lineno, index);
    *bar = '\0';
    g->genres[index] = xstrdup(line);
    g->ngenres = (size_t)index + 1 > g->ngenres ? (size_t)index + 1 : g->ngenres;
    return 0;
}

/* u.genre: "name|index" lines, a blank line at the end (as shipped).
 * Read by hand: it is 20 lines and the table reader refuses blank lines. */
static int read_genres(ingest *g, mlr_err *e)
{
    close_input(g);
    g->path = path_join(g->o->input, "u.genre");
    FILE *fp = fopen(g->path, "r");
    if (!fp)
        return mlr_fail(e, "%s: cannot open: %s", g->path, strerror(errno));
    g->genres = xcalloc(64, sizeof *g->genres);
    char line[512];
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            rc = genre_line(g, line, lineno, e);
    }
    fclose(fp);
    for (size_t k = 0; rc == 0 && k < g->ngenres; k++)
        if (!g->genres[k])
            rc = mlr_fail(e, "%s: genre index %zu missing", g->path, k);
    if (rc == 0 && !g->ngenres)
        rc = mlr_fail(e, "%s: no genres", g->path);
    return rc;
}

/* u.user: id|age|gender|occupation|zip -> "age\tgender\toccupation\tzip". */
static int read_users(ingest *g, mlr_err *e)
{
    mlr_read_opts ro = headerless('|', 1);
    if (open_input(g, g->o->input, "u.user", &ro, e) < 0)
        return -1;
    mlr_reader *r = g->r;
    int got, rc = 0;
    g->users.ids = mlr_strmap_new(1024);
    while (rc == 0 && (got = mlr_reader_next(r, e)) == 1) {
        if (want_fields(r, 5, "", e) < 0 || check_number(r, 1, 1, e) < 0)
            return -1;
        g->text.len = 0;
        for (size_t f = 1; f < 5; f++) {
            str_add_clean(&g->text, mlr_reader_field(r, f), mlr_reader_field_len(r, f));
            if (f < 4)
                str_add(&g->text, "\t", 1);
        }
        rc = lookup_add(&g->users, r, 0, &g->text, "user", e);
    }
    return loop_end(rc, got);
}

/* Genre flags (fields 5..) as the '|'-joined names of those set, in
 * u.genre's index order, into g->key. */
static int add_genres(ingest *g, const mlr_reader *r, mlr_err *e)
{
    int first = 1;
    g->key.len = 0;
    for (size_t k = 0; k < g->ngenres; k++) {
        const char *flag = mlr_reader_field(r, 5 + k);
        if (strcmp(flag, "0") && strcmp(flag, "1"))
            return row_fail(r, e, "genre flag '%s' is not 0 or 1", flag);
        if (flag[0] == '1') {
            if (!first)
                str_add(&g->key, "|", 1);
            str_add(&g->key, g->genres[k], strlen(g->genres[k]));
            first = 0;
        }
    }
    return 0;
}

/* u.item (ISO-8859-1): id|title|release|video release|url|flags... ->
 * title and genres, the title in UTF-8. */
static int read_items(ingest *g, mlr_err *e)
{
    mlr_read_opts ro = headerless('|', 0);
    if (open_input(g, g->o->input, "u.item", &ro, e) < 0)
        return -1;
    mlr_reader *r = g->r;
    int got, rc = 0;
    mlr_catalogue_init(&g->items);
    while (rc == 0 && (got = mlr_reader_next(r, e)) == 1) {
        if (want_fields(r, 5 + g->ngenres, " (5 + one flag per genre of u.genre)", e) < 0)
            return -1;
        size_t n = mlr_reader_field_len(r, 1);
        if (2 * n + 1 > g->utf8_cap)
            g->utf8 = xrealloc(g->utf8, g->utf8_cap = 2 * n + 1);
        mlr_latin1_to_utf8(mlr_reader_field(r, 1), n, g->utf8);
        g->text.len = 0;
        str_add_clean(&g->text, g->utf8, strlen(g->utf8));
        rc = add_genres(g, r, e);
        if (rc == 0)
            rc = item_add(g, r, 0, e);
    }
    return loop_end(rc, got);
}

/* u.data: user TAB item TAB rating TAB timestamp, joined row by row. */
static int ingest_ml100k(ingest *g, mlr_err *e)
{
    if (read_genres(g, e) < 0 || read_users(g, e) < 0 || read_items(g, e) < 0)
        return -1;
    mlr_read_opts ro = headerless('\t', 1);
    if (open_input(g, g->o->input, "u.data", &ro, e) < 0)
        return -1;
    mlr_reader *r = g->r;
    FILE *out = g->out;
    fputs("user_id\titem_id\trating\ttimestamp\tuser_age\tuser_gender\tuser_occupation\t"
          "user_zip\titem_title\titem_genres\n", out);
    int got;
    while ((got = mlr_reader_next(r, e)) == 1) {
        long u, i;
        if (want_fields(r, 4, "", e) < 0 || check_rating_time(r, 2, 3, e) < 0 ||
            (u = id_find(g->users.ids, r, 0, "user", "u.user", e)) < 0 ||
            (i = id_find(g->items.ids, r, 1, "item", "u.item", e)) < 0)
            return -1;
        for (size_t f = 0; f < 4; f++)
            put(out, mlr_reader_field(r, f), mlr_reader_field_len(r, f), '\t');
        put(out, g->users.text[u], g->users.len[u], '\t');
        put_item(g, (size_t)i, '\n');
    }
    return loop_end(0, got);
}

/* ---------- MovieLens latest (CSV) ---------- */

static mlr_read_opts csv_opts(void)
{
    mlr_read_opts ro = mlr_read_defaults();
    ro.csv = 1;
    ro.delim = ',';
    return ro;
}

/* The columns named in names (n of them) of the file being read, into col. */
static int require_cols(const ingest *g, const char *const *names, int *col, size_t n, mlr_err *e)
{
    for (size_t k = 0; k < n; k++)
        if ((col[k] = mlr_reader_require(g->r, names[k], e)) < 0)
            return -1;
    return 0;
}

/* One tags.csv row: its tag ('|' made a space, so the list can be split)
 * added to its movie's list unless the movie has it already. */
static int tag_row(ingest *g, const int *col, mlr_err *e)
{
    mlr_reader *r = g->r;
    long id = id_find(g->items.ids, r, col[0], "item", "movies.csv", e);
    if (id < 0)
        return -1;
    size_t m = (size_t)id;
    str *key = &g->key;
    key->len = 0;
    str_add(key, (const char *)&m, sizeof m); /* (movie, tag) pairs */
    str_add_clean(key, mlr_reader_field(r, (size_t)col[1]), mlr_reader_field_len(r, (size_t)col[1]));
    for (char *p = key->s + sizeof m; *p; p++)
        if (*p == '|')
            *p = ' ';
    int added;
    mlr_strmap_intern2(g->seen, key->s, key->len, &added);
    if (!added || key->len == sizeof m)
        return 0;
    if (g->tags[m].len)
        str_add(&g->tags[m], "|", 1);
    str_add(&g->tags[m], key->s + sizeof m, key->len - sizeof m);
    return 0;
}

/* tags.csv: per movie id, its distinct tags joined by '|' in first-seen
 * order. */
static int read_tags(ingest *g, mlr_err *e)
{
    static const char *const names[2] = {"movieId", "tag"};
    mlr_read_opts ro = csv_opts();
    int col[2], got, rc = 0;
    if (open_input(g, g->o->input, "tags.csv", &ro, e) < 0 || require_cols(g, names, col, 2, e) < 0)
        return -1;
    size_t n = mlr_catalogue_count(&g->items);
    g->tags = xcalloc(n ? n : 1, sizeof *g->tags);
    g->seen = mlr_strmap_new(0);
    while (rc == 0 && (got = mlr_reader_next(g->r, e)) == 1)
        rc = tag_row(g, col, e);
    return loop_end(rc, got);
}

/* movies.csv: movieId,title,genres -> title and genres; "(no genres
 * listed)" becomes an empty list. */
static int read_movies(ingest *g, mlr_err *e)
{
    static const char *const names[3] = {"movieId", "title", "genres"};
    mlr_read_opts ro = csv_opts();
    int col[3], got, rc = 0;
    if (open_input(g, g->o->input, "movies.csv", &ro, e) < 0 || require_cols(g, names, col, 3, e) < 0)
        return -1;
    mlr_reader *r = g->r;
    mlr_catalogue_init(&g->items);
    while (rc == 0 && (got = mlr_reader_next(r, e)) == 1) {
        g->text.len = g->key.len = 0;
        str_add_clean(&g->text, mlr_reader_field(r, (size_t)col[1]), mlr_reader_field_len(r, (size_t)col[1]));
        const char *genres = mlr_reader_field(r, (size_t)col[2]);
        if (strcmp(genres, "(no genres listed)") != 0)
            str_add_clean(&g->key, genres, mlr_reader_field_len(r, (size_t)col[2]));
        rc = item_add(g, r, col[0], e);
    }
    return loop_end(rc, got);
}

static int ingest_latest(ingest *g, mlr_err *e)
{
    static const char *const names[4] = {"userId", "movieId", "rating", "timestamp"};
    int tags = g->o->tags, col[4], got;
    if (read_movies(g, e) < 0 || (tags && read_tags(g, e) < 0))
        return -1;
    mlr_read_opts ro = csv_opts();
    if (open_input(g, g->o->input, "ratings.csv", &ro, e) < 0 || require_cols(g, names, col, 4, e) < 0)
        return -1;
    mlr_reader *r = g->r;
    FILE *out = g->out;
    fputs(tags ? "user_id\titem_id\trating\ttimestamp\titem_title\titem_genres\titem_tags\n"
               : "user_id\titem_id\trating\ttimestamp\titem_title\titem_genres\n", out);
    while ((got = mlr_reader_next(r, e)) == 1) {
        long m;
        if (check_rating_time(r, col[2], col[3], e) < 0 ||
            (m = id_find(g->items.ids, r, col[1], "item", "movies.csv", e)) < 0)
            return -1;
        if (mlr_reader_field_len(r, (size_t)col[0]) == 0)
            return row_fail(r, e, "%s", "empty userId");
        for (size_t f = 0; f < 4; f++) {
            g->text.len = 0;
            str_add_clean(&g->text, mlr_reader_field(r, (size_t)col[f]), mlr_reader_field_len(r, (size_t)col[f]));
            put(out, g->text.s, g->text.len, '\t');
        }
        put_item(g, (size_t)m, tags ? '\t' : '\n');
        if (tags)
            put(out, g->tags[m].s ? g->tags[m].s : "", g->tags[m].len, '\n');
    }
    return loop_end(0, got);
}

/* ---------- any TSV or CSV ---------- */

/* For each of our columns, the input column it comes from, or -1. */
static int map_columns(const options *o, const mlr_reader *r, int *src, mlr_err *e)
{
    for (int c = 0; c < NCOLS; c++) {
        src[c] = -1;
        if (o->map[c]) {
            src[c] = mlr_reader_col(r, o->map[c]);
            if (src[c] < 0)
                return mlr_fail(e, "%s: no column '%s' in the header (from --map %s=%s)",
                                mlr_reader_path(r), o->map[c], COLS[c], o->map[c]);
        } else {
            src[c] = mlr_reader_col(r, COLS[c]);
        }
    }
    for (int c = 0; c < 2; c++)
        if (src[c] < 0)
            return mlr_fail(e, "%s: no column for %s in the header (name it with --map %s=COLUMN)",
                            mlr_reader_path(r), COLS[c], COLS[c]);
    return 0;
}

static int check_row(const mlr_reader *r, const int *src, mlr_err *e)
{
    for (int c = 0; c < 2; c++)
        if (mlr_reader_field_len(r, (size_t)src[c]) == 0)
            return row_fail(r, e, "empty %s", COLS[c]);
    if (check_rating_time(r, src[C_RATING], src[C_TIME], e) < 0)
        return -1;
    if (src[C_AGE] >= 0 && mlr_reader_field_len(r, (size_t)src[C_AGE]) &&
        check_number(r, src[C_AGE], 1, e) < 0)
        return -1;
    return 0;
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

static int ingest_table(ingest *g, mlr_err *e)
{
    const options *o = g->o;
    mlr_read_opts ro = mlr_read_defaults();
    int csv = !strcmp(o->format, "csv");
    if (csv)
        ro = csv_opts();
    int src[NCOLS], cols[NCOLS], n = 0, identity, got, rc = 0;
    if (open_input(g, o->input, NULL, &ro, e) < 0 || map_columns(o, g->r, src, e) < 0)
        return -1;
    mlr_reader *r = g->r;
    for (int c = 0; c < NCOLS; c++)
        if (src[c] >= 0)
            cols[n++] = c;
    identity = (size_t)n == mlr_reader_ncols(r);
    for (int k = 0; k < n; k++) {
        put(g->out, COLS[cols[k]], strlen(COLS[cols[k]]), k + 1 < n ? '\t' : '\n');
        identity = identity && src[cols[k]] == k;
    }
    str *lines = &g->text; /* rows go out a buffer at a time, not a field at a time */
    while (rc == 0 && (got = mlr_reader_next(r, e)) == 1) {
        rc = check_row(r, src, e);
        table_line(lines, r, src, cols, n, csv, identity);
        if (lines->len >= 1 << 16) {
            fwrite(lines->s, 1, lines->len, g->out);
            lines->len = 0;
        }
    }
    if (rc == 0 && got == 0 && lines->len)
        fwrite(lines->s, 1, lines->len, g->out);
    return loop_end(rc, got);
}

static void ingest_free(ingest *g)
{
    close_input(g);
    for (size_t k = 0; g->genres && k < 64; k++)
        free(g->genres[k]);
    free(g->genres);
    lookup_free(&g->users);
    for (size_t m = 0; g->tags && m < mlr_catalogue_count(&g->items); m++)
        free(g->tags[m].s);
    free(g->tags);
    mlr_catalogue_free(&g->items);
    mlr_strmap_free(g->seen);
    free(g->text.s);
    free(g->key.s);
    free(g->utf8);
}

static int run(const options *o, mlr_err *e)
{
    mlr_out out;
    if (mlr_out_open(&out, o->output, e) < 0)
        return -1;
    static char buf[1 << 16];
    setvbuf(out.fp, buf, _IOFBF, sizeof buf);
    ingest g = {.o = o, .out = out.fp};
    int rc;
    if (!strcmp(o->format, "ml-100k"))
        rc = ingest_ml100k(&g, e);
    else if (!strcmp(o->format, "ml-latest"))
        rc = ingest_latest(&g, e);
    else
        rc = ingest_table(&g, e);
    ingest_free(&g);
    if (rc == 0 && ferror(out.fp))
        rc = mlr_fail(e, "write error");
    if (rc < 0) {
        mlr_out_abort(&out);
        return -1;
    }
    return mlr_out_commit(&out, e);
}

int main(int argc, char **argv)
{
    mlr_init_tool();
    options o = parse_args(argc, argv);
    mlr_err e;
    int rc = run(&o, &e);
    for (int c = 0; c < NCOLS; c++)
        free((char *)o.map[c]);
    if (rc < 0)
        mlr_die_err(&e);
    mlr_close_stdout();
    return 0;
}
