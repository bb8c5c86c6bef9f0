/* history.c: see history.h. Each user's rows are kept as (timestamp, row,
 * item) triples sorted newest first, so a field is a walk from the front. */
#include "history.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "table.h"

typedef struct {
    long ts;
    size_t row;   /* position in the table: breaks ties in time */
    uint32_t item; /* id in h->items */
} event;

struct mlr_history {
    mlr_strmap *users, *items;
    event *events;  /* all rows, grouped by user, newest first within a user */
    size_t *start;  /* (users + 1) each user's first event */
};

static int newest_first(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts > y->ts ? -1 : 1;
    return x->row > y->row ? -1 : x->row < y->row;
}

/* Groups the events by user (a counting sort, stable), then sorts each. */
static void group_by_user(mlr_history *h, event *ev, const uint32_t *user_of, size_t n)
{
    size_t U = mlr_strmap_count(h->users);
    h->start = xcalloc(U + 1, sizeof *h->start);
    for (size_t i = 0; i < n; i++)
        h->start[user_of[i] + 1]++;
    for (size_t u = 0; u < U; u++)
        h->start[u + 1] += h->start[u];
    size_t *at = xmalloc((U + 1) * sizeof *at);
    memcpy(at, h->start, (U + 1) * sizeof *at);
    h->events = xmalloc((n + 1) * sizeof *h->events);
    for (size_t i = 0; i < n; i++)
        h->events[at[user_of[i]]++] = ev[i];
    free(at);
    for (size_t u = 0; u < U; u++)
        qsort(h->events + h->start[u], h->start[u + 1] - h->start[u], sizeof(event), newest_first);
}

static int read_rows(mlr_history *h, mlr_reader *r, event **ev, uint32_t **user_of, size_t *n,
                     mlr_err *e)
{
    int cu = mlr_reader_require(r, "user_id", e);
    int ci = cu < 0 ? -1 : mlr_reader_require(r, "item_id", e);
    int ct = ci < 0 ? -1 : mlr_reader_require(r, "timestamp", e);
    if (ct < 0)
        return -1;
    size_t cap = 1024;
    *ev = xmalloc(cap * sizeof **ev);
    *user_of = xmalloc(cap * sizeof **user_of);
    int st;
    while ((st = mlr_reader_next(r, e)) == 1) {
        const char *item = mlr_reader_field(r, (size_t)ci);
        size_t ilen = mlr_reader_field_len(r, (size_t)ci);
        if (memchr(item, '|', ilen) || ilen == 0)
            return mlr_fail(e, "%s:%ld: item_id '%.*s' is empty or holds '|'", mlr_reader_path(r),
                            mlr_reader_line(r), (int)(ilen > 40 ? 40 : ilen), item);
        long ts;
        if (mlr_reader_long(r, (size_t)ct, &ts, e) < 0)
            return -1;
        if (*n == cap) {
            cap *= 2;
            *ev = xrealloc(*ev, cap * sizeof **ev);
            *user_of = xrealloc(*user_of, cap * sizeof **user_of);
        }
        (*user_of)[*n] = (uint32_t)mlr_strmap_intern(h->users, mlr_reader_field(r, (size_t)cu),
                                                      mlr_reader_field_len(r, (size_t)cu));
        (*ev)[*n] = (event){ts, *n, (uint32_t)mlr_strmap_intern(h->items, item, ilen)};
        (*n)++;
    }
    return st < 0 ? -1 : 0;
}

mlr_history *mlr_history_read(const char *path, mlr_err *e)
{
    mlr_reader *r = mlr_reader_open(path, NULL, e);
    if (!r)
        return NULL;
    mlr_history *h = xcalloc(1, sizeof *h);
    h->users = mlr_strmap_new(1024);
    h->items = mlr_strmap_new(1024);
    event *ev = NULL;
    uint32_t *user_of = NULL;
    size_t n = 0;
    int rc = read_rows(h, r, &ev, &user_of, &n, e);
    mlr_reader_close(r);
    if (rc == 0)
        group_by_user(h, ev, user_of, n);
    free(ev);
    free(user_of);
    if (rc < 0) {
        mlr_history_free(h);
        return NULL;
    }
    return h;
}

void mlr_history_free(mlr_history *h)
{
    if (!h)
        return;
    mlr_strmap_free(h->users);
    mlr_strmap_free(h->items);
    free(h->events);
    free(h->start);
    free(h);
}

size_t mlr_history_users(const mlr_history *h) { return mlr_strmap_count(h->users); }

const char *mlr_history_user(const mlr_history *h, size_t u, size_t *len)
{
    *len = mlr_strmap_key_len(h->users, u);
    return mlr_strmap_key(h->users, u);
}

size_t mlr_history_last_row(const mlr_history *h, size_t u) { return h->events[h->start[u]].row; }

size_t mlr_history_median_row(const mlr_history *h, size_t u)
{
    size_t n = h->start[u + 1] - h->start[u];
    return h->events[h->start[u] + (n - 1) / 2].row; /* newest first: the later of two */
}

static void put(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
    if (*len + n + 2 > *cap) {
        *cap = (*len + n + 2) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
}

size_t mlr_history_field(const mlr_history *h, const char *user, size_t ulen, const char *own,
                         size_t olen, long before, size_t max, char **buf, size_t *cap)
{
    size_t len = 0, taken = 0;
    put(buf, cap, &len, "", 0);
    long u = mlr_strmap_find(h->users, user, ulen);
    long skip = own ? mlr_strmap_find(h->items, own, olen) : -1;
    for (size_t i = u < 0 ? 0 : h->start[u]; u >= 0 && i < h->start[u + 1] && taken < max; i++) {
        uint32_t it = h->events[i].item;
        if ((long)it == skip || h->events[i].ts >= before)
            continue;
        if (taken++)
            put(buf, cap, &len, "|", 1);
        put(buf, cap, &len, mlr_strmap_key(h->items, it), mlr_strmap_key_len(h->items, it));
    }
    (*buf)[len] = 0;
    return len;
}

char *mlr_history_note(char *train_json, size_t max)
{
    json_t *o = train_json ? json_loads(train_json, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_object_set_new(o, "history_max", json_integer((json_int_t)max));
    char *out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    free(train_json);
    return out;
}

long mlr_history_cap(const char *train_json, const char *path, mlr_err *e)
{
    json_t *o = train_json ? json_loads(train_json, 0, NULL) : NULL;
    json_t *v = json_object_get(o, "history_max");
    long cap = 0;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 ||
              json_integer_value(v) > MLR_HISTORY_LIMIT))
        cap = mlr_fail(e, "%s: metadata history_max is not a count in [1, %d]", path,
                       MLR_HISTORY_LIMIT);
    else if (v)
        cap = (long)json_integer_value(v);
    json_decref(o);
    return cap;
}
