/* test_optim.c: Adagrad and Adam steps against hand-computed values, sparse
 * row updates leaving other rows alone, L2, and convergence on a quadratic. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "mlr.h"
#include "optim.h"

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

static void test_adagrad_step(void)
{
    opt_config c = opt_defaults();
    CHECK(c.kind == OPT_ADAGRAD && c.lr == 0.1f && c.init_acc == 0.1f);
    optimizer o;
    opt_init(&o, &c, 2);
    float w[2] = {1.0f, -2.0f}, g[2] = {0.5f, -1.0f};
    opt_begin_step(&o);
    opt_update_dense(&o, w, g, 0, 2);
    /* acc = 0.1 + 0.25 = 0.35; w = 1 - 0.1 * 0.5 / sqrt(0.35) */
    CHECK(near(w[0], 1.0 - 0.1 * 0.5 / (sqrt(0.35) + 1e-7), 1e-6));
    CHECK(near(w[1], -2.0 + 0.1 * 1.0 / (sqrt(1.1) + 1e-7), 1e-6));
    opt_begin_step(&o);
    opt_update_dense(&o, w, g, 0, 2);
    CHECK(near(o.m[0], 0.6, 1e-6));
    opt_free(&o);
}

static void test_adam_steps(void)
{
    opt_config c = opt_defaults();
    c.kind = OPT_ADAM;
    c.lr = 0.01f;
    optimizer o;
    opt_init(&o, &c, 1);
    float w = 0.5f;
    double rw = 0.5, m = 0, v = 0;
    const float gs[3] = {0.3f, -0.1f, 0.2f};
    for (int t = 1; t <= 3; t++) {
        opt_begin_step(&o);
        opt_update_dense(&o, &w, &gs[t - 1], 0, 1);
        m = 0.9 * m + 0.1 * gs[t - 1];
        v = 0.999 * v + 0.001 * gs[t - 1] * gs[t - 1];
        double lr_t = 0.01 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t));
        rw -= lr_t * m / (sqrt(v) + 1e-7);
    }
    CHECKF(near(w, rw, 1e-5), "%g vs %g", w, rw);
    opt_free(&o);
}

/* Only the listed rows of the table move, and their accumulators only. */
static void test_sparse_rows(void)
{
    opt_config c = opt_defaults();
    optimizer o;
    /* block: 2 dense parameters, then a (4, 3) table */
    opt_init(&o, &c, 2 + 12);
    float w[14], g[14];
    for (int i = 0; i < 14; i++) {
        w[i] = 1.0f;
        g[i] = 1.0f;
    }
    uint32_t rows[2] = {3, 1};
    opt_begin_step(&o);
    opt_update_rows(&o, w, g, 2, 3, rows, 2);
    for (int r = 0; r < 4; r++)
        for (int d = 0; d < 3; d++) {
            int moved = r == 1 || r == 3;
            float x = w[2 + r * 3 + d], acc = o.m[2 + r * 3 + d];
            CHECK(moved ? x < 1.0f : x == 1.0f);
            CHECK(moved ? acc > 0.1f : acc == 0.1f);
        }
    CHECK(w[0] == 1.0f && w[1] == 1.0f);
    opt_free(&o);
}

static void test_l2_rows(void)
{
    opt_config c = opt_defaults();
    c.l2 = 0.5f;
    optimizer o;
    opt_init(&o, &c, 2);
    float w[2] = {2.0f, 0.0f}, g[2] = {0.0f, 0.0f};
    uint32_t rows[1] = {0};
    opt_begin_step(&o);
    opt_update_rows(&o, w, g, 0, 2, rows, 1);
    /* gradient 2 * 0.5 * 2 = 2 on the first, 0 on the second */
    CHECK(near(w[0], 2.0 - 0.1 * 2.0 / (sqrt(4.1) + 1e-7), 1e-6));
    CHECK(w[1] == 0.0f);
    opt_free(&o);
}

/* Both optimisers bring a quadratic near its minimum. */
static void test_converges(void)
{
    for (int k = 0; k < 2; k++) {
        opt_config c = opt_defaults();
        if (k) {
            c.kind = OPT_ADAM;
            c.lr = 0.05f;
        } else {
            c.lr = 0.5f;
        }
        optimizer o;
        opt_init(&o, &c, 3);
        float w[3] = {3, -2, 1}, target[3] = {0.5f, 1.5f, -1}, g[3];
        for (int it = 0; it < 2000; it++) {
            for (int i = 0; i < 3; i++)
                g[i] = 2.0f * (w[i] - target[i]);
            opt_begin_step(&o);
            opt_update_dense(&o, w, g, 0, 3);
        }
        for (int i = 0; i < 3; i++)
            CHECKF(fabsf(w[i] - target[i]) < 0.02f, "kind %d w[%d] %g", k, i, w[i]);
        opt_free(&o);
    }
}

/* The SSE lanes and the scalar tail do the same arithmetic: 11 parameters
 * updated as one run equal the same 11 updated one by one, bit for bit,
 * with L2 (row updates) and without. */
static void test_adam_lanes_match_scalar(void)
{
    enum { P = 11 };
    opt_config c = opt_defaults();
    c.kind = OPT_ADAM;
    c.lr = 0.01f;
    c.l2 = 0.03f;
    optimizer a, b;
    opt_init(&a, &c, P);
    opt_init(&b, &c, P);
    float wa[P], wb[P], g[P];
    for (int i = 0; i < P; i++) {
        wa[i] = wb[i] = 0.1f * (float)(i - 5);
        g[i] = 0.37f * (float)((i * 7) % 5) - 0.8f;
    }
    const uint32_t row0 = 0;
    for (int t = 0; t < 4; t++) {
        opt_begin_step(&a);
        opt_begin_step(&b);
        opt_update_dense(&a, wa, g, 0, P);
        opt_update_rows(&a, wa, g, 0, P, &row0, 1);
        for (size_t i = 0; i < P; i++) {
            opt_update_dense(&b, wb, g, i, 1);
            opt_update_rows(&b, wb, g, i, 1, &row0, 1);
        }
    }
    CHECK(memcmp(wa, wb, sizeof wa) == 0);
    CHECK(memcmp(a.v, b.v, P * sizeof(float)) == 0);
    opt_free(&a);
    opt_free(&b);
}

/* The _sum update equals summing the blocks in order and then updating,
 * bit for bit (over more than one chunk of the sum), for Adam and
 * Adagrad; it leaves every block zero where it read. */
static void sum_case(opt_kind kind)
{
    enum { P = 600 }; /* two chunks and a bit */
    opt_config c = opt_defaults();
    c.kind = kind;
    c.l2 = 0.01f;
    optimizer a, b;
    opt_init(&a, &c, P);
    opt_init(&b, &c, P);
    float wa[P], wb[P], g0[P], g1[P], g2[P], sum[P];
    for (int i = 0; i < P; i++)
        wa[i] = wb[i] = 0.01f * (float)(i % 17 - 8);
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < P; i++) {
            g0[i] = 0.3f * (float)((i * 7 + t) % 11) - 1.4f;
            g1[i] = 0.1f * (float)((i * 3) % 13) - 0.6f;
            g2[i] = 1e-3f * (float)(i % 5);
            sum[i] = (g0[i] + g1[i]) + g2[i];
        }
        float *blocks[3] = {g0, g1, g2};
        opt_begin_step(&a);
        opt_begin_step(&b);
        opt_update_dense_sum(&a, wa, blocks, 3, 0, P);
        opt_update_dense(&b, wb, sum, 0, P);
        for (int i = 0; i < P; i++)
            CHECK(g0[i] == 0.0f && g1[i] == 0.0f && g2[i] == 0.0f);
    }
    CHECK(memcmp(wa, wb, sizeof wa) == 0);
    CHECK(memcmp(a.m, b.m, P * sizeof(float)) == 0);
    opt_free(&a);
    opt_free(&b);
}

static void test_update_sum(void)
{
    sum_case(OPT_ADAM);
    sum_case(OPT_ADAGRAD);
}

/* Gradients from a compact store (row r's at g + at[r] C): the same bits
 * as from a table, eight-wide rows and rows of 5 (the scalar loop), for
 * Adam and Adagrad; the store is left as it was. */
static void from_case(opt_kind kind, size_t C)
{
    enum { V = 6, CMAX = 32 };
    opt_config c = opt_defaults();
    c.kind = kind;
    c.l2 = 0.02f;
    optimizer a, b;
    opt_init(&a, &c, V * C);
    opt_init(&b, &c, V * C);
    float wa[V * CMAX], wb[V * CMAX], table[V * CMAX] = {0}, g[3 * CMAX] = {0}, kept[3 * CMAX];
    for (size_t i = 0; i < V * C; i++)
        wa[i] = wb[i] = 0.02f * (float)(i % 13) - 0.1f;
    const uint32_t rows[3] = {4, 1, 2}, at[3] = {2, 0, 1};
    for (int t = 0; t < 3; t++) {
        for (size_t k = 0; k < 3 * C; k++)
            g[k] = 0.25f * (float)((k * 5 + (size_t)t) % 9) - 1.0f;
        for (int r = 0; r < 3; r++)
            memcpy(table + rows[r] * C, g + at[r] * C, C * sizeof(float));
        memcpy(kept, g, sizeof g);
        opt_begin_step(&a);
        opt_begin_step(&b);
        opt_update_rows_from(&a, wa, 0, C, rows, g, at, 3);
        opt_update_rows(&b, wb, table, 0, C, rows, 3);
        CHECK(memcmp(g, kept, sizeof g) == 0);
    }
    CHECK(memcmp(wa, wb, V * C * sizeof(float)) == 0);
    CHECK(memcmp(a.m, b.m, V * C * sizeof(float)) == 0);
    CHECK(wa[0] == 0.02f * 0.0f - 0.1f); /* row 0 untouched */
    opt_free(&a);
    opt_free(&b);
}

static void test_update_rows_from(void)
{
    from_case(OPT_ADAM, 32);
    from_case(OPT_ADAM, 5);
    from_case(OPT_ADAGRAD, 32);
}

int main(void)
{
    RUN(test_adagrad_step);
    RUN(test_adam_steps);
    RUN(test_sparse_rows);
    RUN(test_l2_rows);
    RUN(test_converges);
    RUN(test_adam_lanes_match_scalar);
    RUN(test_update_sum);
    RUN(test_update_rows_from);
    return check_status();
}
