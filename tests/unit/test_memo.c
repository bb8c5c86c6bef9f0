/* test_memo.c: the text -> ids memo of mlr-vocab and mlr-encode
 * (lib/memo.h): a text added is found with its ids, by hash, as the
 * previous hit and through its item's slot, whatever item asks; a text
 * never added is not found, even one an item slot or the previous hit
 * almost matches; an empty id list is kept. */
#include "check.h"
#include "memo.h"

#include <stdint.h>
#include <string.h>

static int has(mlr_memo *m, const char *text, size_t item, const int32_t *want, size_t nwant)
{
    long k = mlr_memo_find(m, text, strlen(text), item);
    if (k < 0)
        return 0;
    size_t n;
    const int32_t *ids = mlr_memo_ids(m, (size_t)k, &n);
    return n == nwant && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
}

static void test_find_add(void)
{
    mlr_memo m;
    mlr_memo_init(&m, sizeof(int32_t));
    static const int32_t drama[2] = {3, 7}, war[1] = {9};
    CHECK(mlr_memo_find(&m, "Drama|War", 9, SIZE_MAX) < 0);
    mlr_memo_add(&m, "Drama|War", 9, drama, 2, 5000); /* an item past the first 1024 slots */
    mlr_memo_add(&m, "War", 3, war, 1, SIZE_MAX);
    mlr_memo_add(&m, "", 0, NULL, 0, 4);
    CHECK(has(&m, "Drama|War", 5000, drama, 2)); /* through item 5000's slot */
    CHECK(has(&m, "Drama|War", 5000, drama, 2)); /* the previous hit */
    CHECK(has(&m, "War", 5000, war, 1));         /* item 5000's slot holds another text */
    CHECK(has(&m, "Drama|War", SIZE_MAX, drama, 2));
    CHECK(has(&m, "", 4, NULL, 0));
    CHECK(has(&m, "War", 4, war, 1));
    CHECK(mlr_memo_find(&m, "Drama|Wax", 9, 5000) < 0); /* same length as the slot's text */
    CHECK(mlr_memo_find(&m, "Wa", 2, SIZE_MAX) < 0);    /* a prefix of the previous hit */
    CHECK(mlr_strmap_count(m.texts) == 3);
    mlr_memo_free(&m);
    mlr_memo_free(&m); /* accepts a freed memo */
}

static void test_size_t_ids(void)
{
    mlr_memo m;
    mlr_memo_init(&m, sizeof(size_t));
    size_t ids[3] = {1, SIZE_MAX, 2}, n;
    mlr_memo_add(&m, "a b c", 5, ids, 3, 0);
    long k = mlr_memo_find(&m, "a b c", 5, 1);
    CHECK(k == 0);
    const size_t *got = mlr_memo_ids(&m, 0, &n);
    CHECK(n == 3 && got[1] == SIZE_MAX && got[2] == 2);
    mlr_memo_free(&m);
}

int main(void)
{
    RUN(test_find_add);
    RUN(test_size_t_ids);
    return check_status();
}
