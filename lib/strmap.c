/* strmap.c: see strmap.h. Linear probing over a power-of-two slot table
 * that holds id+1 (0 = empty); the full 64-bit hash of each key is kept
 * beside it so probes compare hashes before bytes and growth never rehashes
 * a string. Keys live in an arena of large blocks so their addresses never
 * move. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>
#include "mlr.h"

#define ARENA_BLOCK ((size_t)1 << 16)

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    char data[];
} arena_block;

typedef struct {
    const char *key;
    size_t len;
    uint64_t hash;
} entry;

struct mlr_strmap {
    uint32_t *slots;   /* (cap) id + 1, 0 for empty */
    size_t cap;        /* power of two */
    entry *entries;    /* (count) by id */
    size_t count, entries_cap;
    arena_block *arena;
    size_t last; /* id + 1 of the key interned last, 0 none: input sorted by
                    user repeats a key row after row, and a compare is
                    cheaper than a hash and a probe */
};

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    /* 64x64 -> 128 multiply folded: the wyhash mixer, strong and cheap. */
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t mlr_strmap_hash(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        h = mix(h ^ load64(p + i), 0xa0761d6478bd642full);
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++)
        tail |= (uint64_t)p[i + k] << (8 * k);
    h = mix(h ^ tail, 0xe7037ed1a0b428dbull);
    return mix(h, 0x8ebc6af09c88c6e3ull);
}

static char *arena_copy(mlr_strmap *m, const char *s, size_t len)
{
    arena_block *b = m->arena;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        b = xmalloc(sizeof *b + cap);
        b->next = m->arena;
        b->used = 0;
        b->cap = cap;
        m->arena = b;
    }
    char *dst = b->data + b->used;
    if (len)
        memcpy(dst, s, len);
    dst[len] = '\0';
    b->used += len + 1;
    return dst;
}

mlr_strmap *mlr_strmap_new(size_t expected)
{
    mlr_strmap *m = xcalloc(1, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2) /* load factor at most 1/2 */
        cap *= 2;
    m->cap = cap;
    m->slots = xcalloc(cap, sizeof *m->slots);
    return m;
}

void mlr_strmap_free(mlr_strmap *m)
{
    if (!m)
        return;
    for (arena_block *b = m->arena, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(m->slots);
    free(m->entries);
    free(m);
}

/* The slot holding the key, or the empty slot where it would go. */
static size_t probe(const mlr_strmap *m, const char *s, size_t len, uint64_t h)
{
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    for (;;) {
        uint32_t v = m->slots[i];
        if (v == 0)
            return i;
        const entry *e = &m->entries[v - 1];
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, s, len) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

static void grow(mlr_strmap *m)
{
    size_t cap = m->cap * 2, mask = cap - 1;
    uint32_t *slots = xcalloc(cap, sizeof *slots);
    for (size_t id = 0; id < m->count; id++) {
        size_t i = (size_t)m->entries[id].hash & mask;
        while (slots[i])
            i = (i + 1) & mask;
        slots[i] = (uint32_t)(id + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

size_t mlr_strmap_intern2(mlr_strmap *m, const char *s, size_t len, int *added)
{
    if (m->last) {
        const entry *e = &m->entries[m->last - 1];
        if (e->len == len && (len == 0 || memcmp(e->key, s, len) == 0)) {
            if (added)
                *added = 0;
            return m->last - 1;
        }
    }
    uint64_t h = mlr_strmap_hash(s, len);
    size_t i = probe(m, s, len, h);
    if (m->slots[i]) {
        if (added)
            *added = 0;
        m->last = m->slots[i];
        return m->slots[i] - 1;
    }
    if (m->count >= UINT32_MAX - 1)
        abort(); /* 4 billion distinct keys: out of memory long before */
    if (m->count == m->entries_cap) {
        m->entries_cap = m->entries_cap ? m->entries_cap * 2 : 16;
        m->entries = xrealloc(m->entries, m->entries_cap * sizeof *m->entries);
    }
    size_t id = m->count++;
    m->entries[id] = (entry){arena_copy(m, s, len), len, h};
    m->slots[i] = (uint32_t)(id + 1);
    m->last = id + 1;
    if (m->count * 2 > m->cap)
        grow(m);
    if (added)
        *added = 1;
    return id;
}

size_t mlr_strmap_intern(mlr_strmap *m, const char *s, size_t len)
{
    return mlr_strmap_intern2(m, s, len, NULL);
}

long mlr_strmap_find(const mlr_strmap *m, const char *s, size_t len)
{
    size_t i = probe(m, s, len, mlr_strmap_hash(s, len));
    return m->slots[i] ? (long)m->slots[i] - 1 : -1;
}

const char *mlr_strmap_key(const mlr_strmap *m, size_t id)
{
    return m->entries[id].key;
}

size_t mlr_strmap_key_len(const mlr_strmap *m, size_t id)
{
    return m->entries[id].len;
}

size_t mlr_strmap_count(const mlr_strmap *m)
{
    return m->count;
}
