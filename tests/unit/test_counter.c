/* test_counter.c: counting by id (mlr_counter_add_id, then
 * mlr_counter_bump, mlr-vocab's memo) gives the counts and the vocabulary
 * that one mlr_counter_add per token gives, [UNK] and empty tokens
 * included. */
#include "check.h"
#include "spec.h"

#include <string.h>

static void test_bump_equals_add(void)
{
    static const char *const toks[] = {"drama", "", "[UNK]", "comedy", "drama", "war", "comedy", "drama"};
    size_t n = sizeof toks / sizeof *toks, ids[8];
    mlr_counter a = {0}, b = {0};
    for (size_t i = 0; i < n; i++) {
        mlr_counter_add(&a, toks[i], strlen(toks[i]));
        ids[i] = mlr_counter_add_id(&b, toks[i], strlen(toks[i]));
    }
    CHECK(ids[1] == SIZE_MAX && ids[2] == SIZE_MAX && ids[0] == ids[4]);
    for (size_t rep = 0; rep < 3; rep++) /* the same rows again, by id and by text */
        for (size_t i = 0; i < n; i++) {
            mlr_counter_add(&a, toks[i], strlen(toks[i]));
            mlr_counter_bump(&b, ids[i]);
        }
    CHECK(a.unk == b.unk && a.unk == 8);
    CHECK(mlr_strmap_count(a.seen) == mlr_strmap_count(b.seen));
    for (size_t id = 0; id < mlr_strmap_count(a.seen); id++)
        CHECKF(a.counts[id] == b.counts[id], "id %zu: %llu vs %llu", id,
               (unsigned long long)a.counts[id], (unsigned long long)b.counts[id]);
    CHECK(b.counts[ids[0]] == 12); /* drama: 3 a row, 4 passes */
    mlr_counter_free(&a);
    mlr_counter_free(&b);
}

int main(void)
{
    RUN(test_bump_equals_add);
    return check_status();
}
