/* test_strmap.c: the string interning map: ids in first-seen order, find,
 * keys that survive growth, empty and binary keys, many keys. */
#include <stdio.h>
#include <string.h>
#include "check.h"
#include "strmap.h"

static void test_intern_and_find(void)
{
    mlr_strmap *m = mlr_strmap_new(0);
    CHECK(mlr_strmap_count(m) == 0);
    CHECK(mlr_strmap_find(m, "a", 1) == -1);
    CHECK(mlr_strmap_intern(m, "apple", 5) == 0);
    CHECK(mlr_strmap_intern(m, "banana", 6) == 1);
    CHECK(mlr_strmap_intern(m, "apple", 5) == 0);
    CHECK(mlr_strmap_count(m) == 2);
    CHECK(mlr_strmap_find(m, "banana", 6) == 1);
    CHECK(mlr_strmap_find(m, "banan", 5) == -1);
    CHECK(mlr_strmap_find(m, "apple pie", 5) == 0); /* len, not NUL, ends a key */
    CHECK(strcmp(mlr_strmap_key(m, 1), "banana") == 0);
    CHECK(mlr_strmap_key_len(m, 1) == 6);
    int added = -1;
    CHECK(mlr_strmap_intern2(m, "cherry", 6, &added) == 2 && added == 1);
    CHECK(mlr_strmap_intern2(m, "cherry", 6, &added) == 2 && added == 0);
    mlr_strmap_free(m);
    mlr_strmap_free(NULL);
}

static void test_empty_and_binary_keys(void)
{
    mlr_strmap *m = mlr_strmap_new(4);
    CHECK(mlr_strmap_find(m, NULL, 0) == -1);
    CHECK(mlr_strmap_intern(m, NULL, 0) == 0);
    CHECK(mlr_strmap_intern(m, "", 0) == 0);
    CHECK(mlr_strmap_intern(m, "a\0b", 3) == 1);
    CHECK(mlr_strmap_intern(m, "a\0c", 3) == 2);
    CHECK(mlr_strmap_find(m, "a", 1) == -1);
    CHECK(mlr_strmap_key_len(m, 0) == 0 && mlr_strmap_key(m, 0)[0] == '\0');
    CHECK(memcmp(mlr_strmap_key(m, 2), "a\0c", 4) == 0);
    mlr_strmap_free(m);
}

/* Many keys force several growths and arena blocks; every key must keep
 * its id and its address, and long keys (> one arena block) must work. */
static void test_many_keys(void)
{
    enum { N = 200000 };
    mlr_strmap *m = mlr_strmap_new(0);
    char buf[32];
    const char *first = NULL;
    for (int i = 0; i < N; i++) {
        int n = snprintf(buf, sizeof buf, "key-%d", i);
        CHECKF(mlr_strmap_intern(m, buf, (size_t)n) == (size_t)i, "key %d", i);
        if (i == 0)
            first = mlr_strmap_key(m, 0);
    }
    CHECK(mlr_strmap_count(m) == N);
    CHECK(mlr_strmap_key(m, 0) == first && strcmp(first, "key-0") == 0);
    for (int i = 0; i < N; i += 7) {
        int n = snprintf(buf, sizeof buf, "key-%d", i);
        CHECKF(mlr_strmap_find(m, buf, (size_t)n) == i, "key %d", i);
    }
    CHECK(mlr_strmap_find(m, "key-200000", 10) == -1);
    static char big[100000];
    memset(big, 'x', sizeof big);
    size_t id = mlr_strmap_intern(m, big, sizeof big);
    CHECK(id == N && mlr_strmap_key_len(m, id) == sizeof big);
    CHECK(mlr_strmap_find(m, big, sizeof big) == N);
    CHECK(mlr_strmap_find(m, big, sizeof big - 1) == -1);
    mlr_strmap_free(m);
}

/* The hash looks at every byte, also past the first 8 and in the tail. */
static void test_hash_uses_every_byte(void)
{
    char a[20] = "abcdefghijklmnopqrs", b[20];
    for (size_t i = 0; i < 19; i++) {
        memcpy(b, a, sizeof a);
        b[i] ^= 1;
        CHECKF(mlr_strmap_hash(a, 19) != mlr_strmap_hash(b, 19), "byte %zu", i);
    }
    CHECK(mlr_strmap_hash("ab", 1) != mlr_strmap_hash("ab", 2));
    CHECK(mlr_strmap_hash("x", 1) == mlr_strmap_hash("xy", 1));
}

int main(void)
{
    RUN(test_intern_and_find);
    RUN(test_empty_and_binary_keys);
    RUN(test_many_keys);
    RUN(test_hash_uses_every_byte);
    return check_status();
}
