/* test_metrics.c: every metric on small cases worked out by hand below. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "metrics.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

/* Ranks 1, 3, miss, 7, 12 at k = 1, 5, 10:
 * top1 = 1/5 (rank 1), top5 = 2/5 (1, 3), top10 = 3/5 (1, 3, 7). */
static void test_accuracy(void)
{
    size_t k[3] = {1, 5, 10}, ranks[5] = {1, 3, 0, 7, 12};
    mlr_accuracy a;
    mlr_accuracy_init(&a, k, 3);
    CHECK(mlr_accuracy_value(&a, 0) == 0);
    for (int i = 0; i < 5; i++) mlr_accuracy_add(&a, ranks[i]);
    CHECK(a.rows == 5);
    CHECK(NEAR(mlr_accuracy_value(&a, 0), 0.2));
    CHECK(NEAR(mlr_accuracy_value(&a, 1), 0.4));
    CHECK(NEAR(mlr_accuracy_value(&a, 2), 0.6));
}

/* User A: relevant {2, 5, 7}, list [5, 1, 2, 8, 9], k = 5.
 *   hits at positions 1 (item 5) and 3 (item 2)
 *   recall    = 2/3
 *   precision = 2/5 = 0.4
 *   DCG  = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
 *   IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) (min(5, 3) = 3 terms)
 *        = 1 + 0.630929753571 + 0.5 = 2.130929753571
 *   nDCG = 1.5 / 2.130929753571 = 0.703918...
 *   AP   = (1/3) * (1/1 + 2/3) = 5/9
 *   hit  = 1
 * User B: relevant {4}, list [0, 1, 2, 3, 6]: every figure 0.
 * Means over the two users: recall 1/3, precision 0.2, nDCG 0.351959...,
 * MAP 5/18, hit rate 0.5. */
static void test_user_metrics(void)
{
    uint32_t la[5] = {5, 1, 2, 8, 9}, ra[3] = {2, 5, 7};
    uint32_t lb[5] = {0, 1, 2, 3, 6}, rb[1] = {4};
    double idcg = 1 + 1 / log2(3.0) + 0.5;
    mlr_user_metrics m;
    mlr_user_metrics_at(la, 5, ra, 3, 5, &m);
    CHECK(NEAR(m.recall, 2.0 / 3));
    CHECK(NEAR(m.precision, 0.4));
    CHECK(NEAR(m.ndcg, 1.5 / idcg));
    CHECK(NEAR(m.ap, 5.0 / 9));
    CHECK(m.hit == 1);
    mlr_user_metrics_at(lb, 5, rb, 1, 5, &m);
    CHECK(m.recall == 0 && m.precision == 0 && m.ndcg == 0 && m.ap == 0 && m.hit == 0);
    mlr_ranking r;
    mlr_ranking_init(&r, 5);
    mlr_ranking_add(&r, la, 5, ra, 3);
    mlr_ranking_add(&r, lb, 5, rb, 1);
    mlr_ranking_add(&r, lb, 5, rb, 0); /* no test item: not a user here */
    CHECK(r.users == 2);
    m = mlr_ranking_mean(&r);
    CHECK(NEAR(m.recall, 1.0 / 3));
    CHECK(NEAR(m.precision, 0.2));
    CHECK(NEAR(m.ndcg, 0.75 / idcg));
    CHECK(NEAR(m.ap, 5.0 / 18));
    CHECK(NEAR(m.hit, 0.5));
}

/* k smaller than |R|: relevant {1, 3, 5, 7}, list [3, 1], k = 2.
 *   recall 2/4, precision 2/2, IDCG over min(2, 4) = 2 terms = DCG, so
 *   nDCG 1, AP = (1/2)(1/1 + 2/2) = 1.
 * A list shorter than k: relevant {7, 8}, list [7], k = 3.
 *   recall 1/2, precision 1/3, nDCG 1 / (1 + 1/log2(3)) = 0.613147...,
 *   AP (1/2)(1/1) = 0.5.
 * A repeated entry counts once: list [7, 7], relevant {7, 8}, k = 2:
 *   recall 1/2, precision 1/2. */
static void test_user_metrics_edges(void)
{
    uint32_t l1[2] = {3, 1}, r1[4] = {1, 3, 5, 7}, l2[1] = {7}, r2[2] = {7, 8}, l3[2] = {7, 7};
    mlr_user_metrics m;
    mlr_user_metrics_at(l1, 2, r1, 4, 2, &m);
    CHECK(NEAR(m.recall, 0.5) && NEAR(m.precision, 1) && NEAR(m.ndcg, 1) && NEAR(m.ap, 1));
    mlr_user_metrics_at(l2, 1, r2, 2, 3, &m);
    CHECK(NEAR(m.recall, 0.5) && NEAR(m.precision, 1.0 / 3));
    CHECK(NEAR(m.ndcg, 1 / (1 + 1 / log2(3.0))) && NEAR(m.ap, 0.5) && m.hit == 1);
    mlr_user_metrics_at(l3, 2, r2, 2, 2, &m);
    CHECK(NEAR(m.recall, 0.5) && NEAR(m.precision, 0.5));
}

/* Predictions 3, 4, 5 against 4, 4, 3: errors -1, 0, 2.
 * RMSE = sqrt((1 + 0 + 4) / 3) = sqrt(5/3) = 1.290994..., MAE = 3/3 = 1. */
static void test_errors(void)
{
    mlr_errstat s = {0, 0, 0};
    CHECK(mlr_rmse(&s) == 0 && mlr_mae(&s) == 0);
    mlr_errstat_add(&s, 3, 4);
    mlr_errstat_add(&s, 4, 4);
    mlr_errstat_add(&s, 5, 3);
    CHECK(NEAR(mlr_rmse(&s), sqrt(5.0 / 3)));
    CHECK(NEAR(mlr_mae(&s), 1.0));
}

/* Pairs (user, item): (1,4) (0,9) (1,2) (0,9) (1,4) (2,0): user 0 {9},
 * user 1 {2, 4} (sorted, deduplicated), user 2 {0}, user 3 empty. */
static void test_usersets(void)
{
    uint32_t u[6] = {1, 0, 1, 0, 1, 2}, i[6] = {4, 9, 2, 9, 4, 0};
    mlr_usersets s;
    mlr_usersets_build(&s, 4, u, i, 6);
    size_t n;
    const uint32_t *v = mlr_usersets_get(&s, 0, &n);
    CHECK(n == 1 && v[0] == 9);
    v = mlr_usersets_get(&s, 1, &n);
    CHECK(n == 2 && v[0] == 2 && v[1] == 4);
    v = mlr_usersets_get(&s, 2, &n);
    CHECK(n == 1 && v[0] == 0);
    mlr_usersets_get(&s, 3, &n);
    CHECK(n == 0);
    CHECK(mlr_usersets_get(&s, 99, &n) == NULL && n == 0);
    mlr_usersets_free(&s);
}

static void test_parse_at(void)
{
    size_t k[MLR_MAX_AT], n;
    CHECK(mlr_parse_at("10,50", k, &n) == 0 && n == 2 && k[0] == 10 && k[1] == 50);
    CHECK(mlr_parse_at("7", k, &n) == 0 && n == 1 && k[0] == 7);
    CHECK(mlr_parse_at("", k, &n) < 0);
    CHECK(mlr_parse_at("0", k, &n) < 0);
    CHECK(mlr_parse_at("5,,10", k, &n) < 0);
    CHECK(mlr_parse_at("5,", k, &n) < 0);
    CHECK(mlr_parse_at(",5", k, &n) < 0);
    CHECK(mlr_parse_at("10,x", k, &n) < 0);
}

int main(void)
{
    RUN(test_accuracy);
    RUN(test_user_metrics);
    RUN(test_user_metrics_edges);
    RUN(test_errors);
    RUN(test_usersets);
    RUN(test_parse_at);
    return check_status();
}
