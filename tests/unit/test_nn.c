/* test_nn.c: every layer's backward against central finite differences on
 * tiny shapes, and every BLAS call site against its plain-loop twin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mlr.h"
#include "nn.h"

/* A finite-difference check: the scalar loss is sum(out * R) for a fixed
 * random R, so d loss / d out = R is what the backward receives. */
#define EPS 1e-2f
#define TOL 2e-3

static void fill(mlr_rng *r, float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((mlr_rng_uniform(r) * 2.0 - 1.0) * scale);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Max of |numeric - analytic| / max(1, |numeric|) over the elements of x. */
typedef double (*loss_fn)(void *ctx);
static double fd_error(loss_fn f, void *ctx, float *x, const float *grad, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + EPS;
        double up = f(ctx);
        x[i] = keep - EPS;
        double down = f(ctx);
        x[i] = keep;
        double num = (up - down) / (2.0 * EPS);
        double err = fabs(num - grad[i]) / fmax(1.0, fabs(num));
        if (err > worst)
            worst = err;
    }
    return worst;
}

/* ---- embedding and bag, writing into a slice of a wider buffer ---- */

enum { V = 5, D = 3, B = 4, L = 3, LD = 7 };

typedef struct {
    float table[V * D];
    int32_t ids[B * L];
    float out[B * LD];
    float R[B * LD];
    int bag;
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    memset(c->out, 0, sizeof c->out);
    if (c->bag)
        nn_bag_forward(c->out + 2, LD, c->ids, c->table, B, L, D, 0);
    else
        nn_embedding_forward(c->out + 2, LD, c->ids, c->table, B, D);
    return dot(c->out, c->R, B * LD);
}

static void test_embedding_fd(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 1);
    emb_ctx c = {.bag = 0, .ids = {3, 1, 3, 0}};
    fill(&r, c.table, V * D, 1.0);
    fill(&r, c.R, B * LD, 1.0);
    float dtable[V * D] = {0};
    nn_rowset rows;
    nn_rowset_init(&rows, V);
    nn_embedding_backward(dtable, &rows, c.R + 2, LD, c.ids, B, D);
    CHECK(rows.n == 3 && rows.list[0] == 3 && rows.list[1] == 1 && rows.list[2] == 0);
    nn_rowset_clear(&rows);
    CHECK(rows.n == 0 && rows.mark[3] == 0);
    nn_rowset_free(&rows);
    CHECK(fd_error(emb_loss, &c, c.table, dtable, V * D) < TOL);
}

static void test_bag_fd(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 2);
    /* a repeated token, padding on the right, a row of only padding */
    emb_ctx c = {.bag = 1, .ids = {1, 1, 4, 2, -1, -1, -1, -1, -1, 0, 3, -1}};
    fill(&r, c.table, V * D, 1.0);
    fill(&r, c.R, B * LD, 1.0);
    emb_loss(&c);
    CHECK(c.out[2 * LD + 2] == 0.0f && c.out[2 * LD + 4] == 0.0f);
    CHECK(fabsf(c.out[LD + 2] - c.table[2 * D]) < 1e-6f);
    float dtable[V * D] = {0};
    nn_bag_backward(dtable, NULL, c.R + 2, LD, c.ids, B, L, D, 0);
    CHECK(fd_error(emb_loss, &c, c.table, dtable, V * D) < TOL);
}

/* A row set with gradients of its own: the same rows, in first-touch
 * order, and each row's gradient the table's row bit for bit; the table
 * itself untouched. A cleared set starts its rows from zero again. */
static void test_rowset_grads(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 3);
    emb_ctx c = {.bag = 1, .ids = {1, 1, 4, 2, -1, -1, -1, -1, -1, 0, 3, -1}};
    fill(&r, c.R, B * LD, 1.0);
    float dtable[V * D] = {0}, untouched[V * D] = {0};
    const int32_t single[B] = {3, 1, 3, 0};
    nn_rowset plain, own;
    nn_rowset_init(&plain, V);
    nn_rowset_init_grad(&own, V, B * L, D);
    for (int pass = 0; pass < 2; pass++) {
        memset(dtable, 0, sizeof dtable);
        nn_rowset_clear(&plain);
        nn_rowset_clear(&own);
        nn_bag_backward(dtable, &plain, c.R + 2, LD, c.ids, B, L, D, 0);
        nn_bag_backward(untouched, &own, c.R + 2, LD, c.ids, B, L, D, 0);
        nn_embedding_backward(dtable, &plain, c.R + 2, LD, single, B, D);
        nn_embedding_backward(untouched, &own, c.R + 2, LD, single, B, D);
        CHECK(own.n == plain.n && own.n == 5);
        CHECK(memcmp(own.list, plain.list, own.n * sizeof *own.list) == 0);
        for (size_t k = 0; k < own.n; k++)
            CHECK(memcmp(own.g + k * D, dtable + own.list[k] * D, D * sizeof(float)) == 0);
    }
    for (int i = 0; i < V * D; i++)
        CHECK(untouched[i] == 0.0f);
    nn_rowset_free(&plain);
    nn_rowset_free(&own);
}

/* Bags past the row kernels' 64 tokens (the rest a token at a time) give
 * the bits of the plain loop: token rows added in order onto zeros, the
 * sum times 1/n; the backward each row += g / n in order. */
static void test_long_bags(void)
{
    enum { LB2 = 3, LL = 150, LV = 40, LDIM = 12 };
    mlr_rng r;
    mlr_rng_seed(&r, 21);
    int32_t ids[LB2 * LL];
    float table[LV * LDIM], out[LB2 * LDIM], want[LB2 * LDIM] = {0}, g[LB2 * LDIM];
    float d1[LV * LDIM] = {0}, d2[LV * LDIM] = {0};
    fill(&r, table, LV * LDIM, 1.0);
    fill(&r, g, LB2 * LDIM, 1.0);
    for (int i = 0; i < LB2 * LL; i++) /* a padding in seven, repeats */
        ids[i] = mlr_rng_below(&r, 7) == 0 ? -1 : (int32_t)mlr_rng_below(&r, LV);
    for (int b = 0; b < LB2; b++) {
        float n = 0.0f;
        for (int l = 0; l < LL; l++) {
            int32_t t = ids[b * LL + l];
            if (t < 0)
                continue;
            n += 1.0f;
            for (int d = 0; d < LDIM; d++)
                want[b * LDIM + d] += table[t * LDIM + d];
        }
        for (int d = 0; d < LDIM; d++)
            want[b * LDIM + d] *= 1.0f / n;
        for (int l = 0; l < LL; l++) {
            int32_t t = ids[b * LL + l];
            for (int d = 0; t >= 0 && d < LDIM; d++)
                d2[t * LDIM + d] += (1.0f / n) * g[b * LDIM + d];
        }
    }
    nn_bag_forward(out, LDIM, ids, table, LB2, LL, LDIM, 0);
    nn_bag_backward(d1, NULL, g, LDIM, ids, LB2, LL, LDIM, 0);
    CHECK(memcmp(out, want, sizeof out) == 0);
    CHECK(memcmp(d1, d2, sizeof d1) == 0);
}

/* Recency-weighted bags (halflife h = 40): the k-th token present weighs
 * 2^(-k/h), the weights of a row summing to 1, past the row kernels' 64
 * tokens too; forward, backward and nn_bag_weights agree with a plain
 * loop in double. */
static void test_decay_bags(void)
{
    enum { LB2 = 3, LL = 150, LV = 40, LDIM = 12 };
    const double h = 40.0; /* tokens past the first 64 still weigh a third */
    mlr_rng r;
    mlr_rng_seed(&r, 23);
    int32_t ids[LB2 * LL];
    float table[LV * LDIM], out[LB2 * LDIM], g[LB2 * LDIM], w[LB2 * LL];
    float d1[LV * LDIM] = {0};
    double want[LB2 * LDIM] = {0}, d2[LV * LDIM] = {0};
    fill(&r, table, LV * LDIM, 1.0);
    fill(&r, g, LB2 * LDIM, 1.0);
    for (int i = 0; i < LB2 * LL; i++)
        ids[i] = mlr_rng_below(&r, 7) == 0 ? -1 : (int32_t)mlr_rng_below(&r, LV);
    for (int i = 0; i < 40; i++) /* row 1 short: 40 tokens, then padding */
        ids[LL + 40 + i] = ids[LL + 80 + i] = ids[LL + 110 + i / 2] = -1;
    nn_bag_forward(out, LDIM, ids, table, LB2, LL, LDIM, h);
    nn_bag_backward(d1, NULL, g, LDIM, ids, LB2, LL, LDIM, h);
    double worst = 0.0;
    for (int b = 0; b < LB2; b++) {
        const int32_t *row = ids + b * LL;
        nn_bag_weights(w + b * LL, row, LL, h);
        double z = 0.0, sum = 0.0;
        for (int l = 0, k = 0; l < LL; l++)
            if (row[l] >= 0)
                z += pow(2.0, -(k++) / h);
        for (int l = 0, k = 0; l < LL; l++) {
            double wk = row[l] >= 0 ? pow(2.0, -(k++) / h) / z : 0.0;
            sum += w[b * LL + l];
            worst = fmax(worst, fabs(w[b * LL + l] - wk));
            for (int d = 0; row[l] >= 0 && d < LDIM; d++) {
                want[b * LDIM + d] += wk * table[row[l] * LDIM + d];
                d2[row[l] * LDIM + d] += wk * g[b * LDIM + d];
            }
        }
        CHECKF(fabs(sum - 1.0) < 1e-5, "row %d's weights sum to %g", b, sum);
    }
    CHECKF(worst < 1e-6, "nn_bag_weights off by %g", worst);
    for (int i = 0; i < LB2 * LDIM; i++)
        worst = fmax(worst, fabs(out[i] - want[i]));
    for (int i = 0; i < LV * LDIM; i++)
        worst = fmax(worst, fabs(d1[i] - d2[i]));
    CHECKF(worst < 1e-5, "weighted bag off by %g", worst);
    CHECK(w[0] > w[LL - 1] || ids[LL - 1] < 0); /* the first weighs most */
}

static void test_copy_cols(void)
{
    float inp[6] = {1, 2, 3, 4, 5, 6}, out[8] = {0};
    nn_copy_cols(out + 1, 4, inp, 3, 2, 2); /* (2,2) block of a (2,3) into a (2,4) */
    CHECK(out[1] == 1 && out[2] == 2 && out[5] == 4 && out[6] == 5 && out[0] == 0);
    float dinp[6] = {0};
    nn_copy_cols_backward(dinp, 3, out + 1, 4, 2, 2);
    CHECK(dinp[0] == 1 && dinp[4] == 5 && dinp[2] == 0);
}

/* ---- dense ---- */

enum { DB = 3, DK = 4, DM = 5 };

typedef struct {
    float inp[DB * DK], w[DK * DM], bias[DM], out[DB * DM], R[DB * DM];
} dense_ctx;

static double dense_loss(void *p)
{
    dense_ctx *c = p;
    nn_dense_forward(c->out, c->inp, c->w, c->bias, DB, DK, DM);
    return dot(c->out, c->R, DB * DM);
}

static void test_dense_fd(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 3);
    dense_ctx c;
    fill(&r, c.inp, DB * DK, 1.0);
    fill(&r, c.w, DK * DM, 1.0);
    fill(&r, c.bias, DM, 1.0);
    fill(&r, c.R, DB * DM, 1.0);
    float dinp[DB * DK] = {0}, dw[DK * DM] = {0}, db[DM] = {0};
    nn_dense_backward(dinp, dw, db, c.R, c.inp, c.w, DB, DK, DM);
    CHECK(fd_error(dense_loss, &c, c.inp, dinp, DB * DK) < TOL);
    CHECK(fd_error(dense_loss, &c, c.w, dw, DK * DM) < TOL);
    CHECK(fd_error(dense_loss, &c, c.bias, db, DM) < TOL);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* The sgemm call sites against the loops, on shapes big enough for
 * OpenBLAS to block them, and accumulating into non-zero gradients; and
 * one wide, as the rating head's last layer. */
static void dense_case(size_t M)
{
    size_t Bs = 37, K = 29;
    mlr_rng r;
    mlr_rng_seed(&r, 4);
    float *inp = xmalloc(Bs * K * 4), *w = xmalloc(K * M * 4), *bias = xmalloc(M * 4);
    float *o1 = xmalloc(Bs * M * 4), *o2 = xmalloc(Bs * M * 4), *dout = xmalloc(Bs * M * 4);
    float *di1 = xmalloc(Bs * K * 4), *di2 = xmalloc(Bs * K * 4);
    float *dw1 = xmalloc(K * M * 4), *dw2 = xmalloc(K * M * 4), *db1 = xmalloc(M * 4), *db2 = xmalloc(M * 4);
    fill(&r, inp, Bs * K, 1.0);
    fill(&r, w, K * M, 1.0);
    fill(&r, bias, M, 1.0);
    fill(&r, dout, Bs * M, 1.0);
    fill(&r, di1, Bs * K, 1.0);
    memcpy(di2, di1, Bs * K * 4);
    fill(&r, dw1, K * M, 1.0);
    memcpy(dw2, dw1, K * M * 4);
    fill(&r, db1, M, 1.0);
    memcpy(db2, db1, M * 4);
    nn_dense_forward(o1, inp, w, bias, Bs, K, M);
    nn_dense_forward_naive(o2, inp, w, bias, Bs, K, M);
    nn_dense_backward(di1, dw1, db1, dout, inp, w, Bs, K, M);
    nn_dense_backward_naive(di2, dw2, db2, dout, inp, w, Bs, K, M);
    double e1 = max_diff(o1, o2, Bs * M), e2 = max_diff(di1, di2, Bs * K);
    double e3 = max_diff(dw1, dw2, K * M), e4 = max_diff(db1, db2, M);
    free(inp); free(w); free(bias); free(o1); free(o2); free(dout);
    free(di1); free(di2); free(dw1); free(dw2); free(db1); free(db2);
    CHECKF(e1 < 1e-4 && e2 < 1e-4 && e3 < 1e-4 && e4 < 1e-5, "M %zu: %g %g %g %g", M, e1, e2, e3,
           e4);
}

static void test_dense_blas_vs_naive(void)
{
    dense_case(23);
    dense_case(1);
}

static void test_matmul_blas_vs_naive(void)
{
    size_t n = 37, k = 29, m = 23;
    mlr_rng r;
    mlr_rng_seed(&r, 13);
    float *a = xmalloc(n * k * 4), *b = xmalloc(k * m * 4), *bn = xmalloc(n * m * 4);
    float *o1 = xmalloc(n * m * 4), *o2 = xmalloc(n * m * 4);
    float *t1 = xmalloc(k * m * 4), *t2 = xmalloc(k * m * 4), *u1 = xmalloc(n * k * 4), *u2 = xmalloc(n * k * 4);
    fill(&r, a, n * k, 1.0);
    fill(&r, b, k * m, 1.0);
    fill(&r, bn, n * m, 1.0);
    fill(&r, t1, k * m, 1.0);
    memcpy(t2, t1, k * m * 4);
    nn_matmul(o1, a, b, n, k, m);
    nn_matmul_naive(o2, a, b, n, k, m);
    nn_matmul_tn_acc(t1, a, bn, n, k, m); /* adds */
    nn_matmul_tn_acc_naive(t2, a, bn, n, k, m);
    nn_matmul_nt(u1, bn, b, n, m, k);
    nn_matmul_nt_naive(u2, bn, b, n, m, k);
    double e1 = max_diff(o1, o2, n * m), e2 = max_diff(t1, t2, k * m), e3 = max_diff(u1, u2, n * k);
    nn_matmul_acc(o1, a, b, n, k, m); /* adds onto the product: twice it */
    nn_matmul_acc_naive(o2, a, b, n, k, m);
    double e4 = max_diff(o1, o2, n * m);
    nn_matmul_naive(u1, a, b, n, k, m); /* (n, m) fits in u1's (n, k) */
    double twice = 0.0;
    for (size_t i = 0; i < n * m; i++)
        twice = fmax(twice, fabs(o2[i] - 2.0 * u1[i]));
    free(a); free(b); free(bn); free(o1); free(o2); free(t1); free(t2); free(u1); free(u2);
    CHECKF(e1 < 1e-4 && e2 < 1e-4 && e3 < 1e-4 && e4 < 1e-4 && twice < 1e-4, "%g %g %g %g %g",
           e1, e2, e3, e4, twice);
}

/* The products against the loops; with a shift added to every row, and
 * with the gradient's rows scaled (the scale taken on the (B,D) sides). */
static void test_logits_blas_vs_naive(void)
{
    size_t Bs = 41, U = 19, Dd = 13;
    mlr_rng r;
    mlr_rng_seed(&r, 5);
    float *q = xmalloc(Bs * Dd * 4), *c = xmalloc(U * Dd * 4), *g = xmalloc(Bs * U * 4);
    float *gs = xmalloc(Bs * U * 4), *rs = xmalloc(Bs * 4), *shift = xmalloc(U * 4);
    float *l1 = xmalloc(Bs * U * 4), *l2 = xmalloc(Bs * U * 4), *scratch = xmalloc(Bs * Dd * 4);
    float *dq1 = xcalloc(Bs * Dd, 4), *dq2 = xcalloc(Bs * Dd, 4);
    float *dc1 = xcalloc(U * Dd, 4), *dc2 = xcalloc(U * Dd, 4);
    fill(&r, q, Bs * Dd, 1.0);
    fill(&r, c, U * Dd, 1.0);
    fill(&r, g, Bs * U, 1.0);
    fill(&r, rs, Bs, 2.0);
    fill(&r, shift, U, 3.0);
    for (size_t i = 0; i < Bs * U; i++)
        gs[i] = rs[i / U] * g[i];
    double worst = 0.0;
    for (int scaled = 0; scaled <= 1; scaled++) {
        dq1[3] = dq2[3] += 0.5f; /* backward must add, not overwrite */
        dc1[7] = dc2[7] -= 0.25f;
        nn_logits_forward(l1, q, c, scaled ? shift : NULL, Bs, U, Dd);
        nn_logits_forward_naive(l2, q, c, Bs, U, Dd);
        for (size_t i = 0; scaled && i < Bs * U; i++)
            l2[i] += shift[i % U];
        nn_logits_backward(dq1, dc1, g, scaled ? rs : NULL, scratch, q, c, Bs, U, Dd);
        nn_logits_backward_naive(dq2, dc2, scaled ? gs : g, q, c, Bs, U, Dd);
        worst = fmax(worst, max_diff(l1, l2, Bs * U));
        worst = fmax(worst, max_diff(dq1, dq2, Bs * Dd));
        worst = fmax(worst, max_diff(dc1, dc2, U * Dd));
    }
    free(q); free(c); free(g); free(gs); free(rs); free(shift); free(l1); free(l2);
    free(scratch); free(dq1); free(dq2); free(dc1); free(dc2);
    CHECKF(worst < 1e-4, "%g", worst);
}

/* ---- logits ---- */

enum { LB = 3, LU = 4, LD2 = 2 };

typedef struct {
    float q[LB * LD2], c[LU * LD2], out[LB * LU], R[LB * LU];
} logit_ctx;

static double logit_loss(void *p)
{
    logit_ctx *x = p;
    nn_logits_forward(x->out, x->q, x->c, NULL, LB, LU, LD2);
    return dot(x->out, x->R, LB * LU);
}

static void test_logits_fd(void)
{
    mlr_rng r;
    mlr_rng_seed(&r, 6);
    logit_ctx x;
    fill(&r, x.q, LB * LD2, 1.0);
    fill(&r, x.c, LU * LD2, 1.0);
    fill(&r, x.R, LB * LU, 1.0);
    float dq[LB * LD2] = {0}, dc[LU * LD2] = {0};
    nn_logits_backward(dq, dc, x.R, NULL, NULL, x.q, x.c, LB, LU, LD2);
    CHECK(fd_error(logit_loss, &x, x.q, dq, LB * LD2) < TOL);
    CHECK(fd_error(logit_loss, &x, x.c, dc, LU * LD2) < TOL);
}

/* ---- relu ---- */

static float relu_in[8];
static double relu_loss(void *p)
{
    float out[8];
    nn_relu_forward(out, relu_in, 8);
    return dot(out, p, 8);
}

static void test_relu_fd(void)
{
    /* no input within EPS of the kink */
    float in[8] = {-1.0f, 0.5f, 2.0f, -0.3f, 0.7f, -2.0f, 0.05f, -0.05f};
    float R[8] = {1, 2, 3, 4, -5, 6, 7, 8};
    memcpy(relu_in, in, sizeof in);
    float out[8], dinp[8] = {0};
    nn_relu_forward(out, relu_in, 8);
    nn_relu_backward(dinp, R, out, 8);
    CHECK(dinp[0] == 0.0f && dinp[1] == 2.0f && dinp[6] == 7.0f && dinp[7] == 0.0f);
    CHECK(fd_error(relu_loss, R, relu_in, dinp, 8) < TOL);
}

/* ---- softmax cross-entropy ---- */

enum { SB = 4, SU = 3 };

typedef struct {
    float logits[SB * SU], probs[SB * SU], colbias[SU];
    int32_t label[SB], count[SU];
    int remove;
} sm_ctx;

static double sm_loss(void *p)
{
    sm_ctx *s = p;
    return nn_softmax_xent_forward(s->probs, s->logits, s->label, s->colbias,
                                   s->count, s->remove, SB, SU);
}

static void test_softmax_fd(void)
{
    for (int remove = 0; remove <= 1; remove++) {
        mlr_rng r;
        mlr_rng_seed(&r, 7);
        sm_ctx s = {.label = {0, 2, 1, 2}, .count = {1, 1, 2}, .remove = remove};
        fill(&r, s.logits, SB * SU, 2.0);
        fill(&r, s.colbias, SU, 1.0);
        sm_loss(&s);
        float g[SB * SU] = {0};
        nn_softmax_xent_backward(g, s.probs, s.label, 3.0, SB, SU);
        /* the scale enters linearly: compare with 3 x the numeric gradient */
        for (size_t i = 0; i < SB * SU; i++)
            g[i] /= 3.0f;
        CHECK(fd_error(sm_loss, &s, s.logits, g, SB * SU) < TOL);
    }
}

/* The distinct-candidate softmax equals the full (B, B) in-batch softmax
 * with one column per row, accidental hits masked or not. */
static double full_batch_loss(const float *q, const float *cand, const int *item,
                              size_t Bs, size_t Dd, int remove)
{
    double total = 0.0;
    for (size_t i = 0; i < Bs; i++) {
        double z[16], mx = -1e300, sum = 0.0;
        for (size_t j = 0; j < Bs; j++) {
            z[j] = dot(q + i * Dd, cand + (size_t)item[j] * Dd, Dd);
            if (remove && j != i && item[j] == item[i])
                z[j] = -1e300;
            mx = fmax(mx, z[j]);
        }
        for (size_t j = 0; j < Bs; j++)
            sum += z[j] < -1e299 ? 0.0 : exp(z[j] - mx);
        total += -(z[i] - mx) + log(sum);
    }
    return total / (double)Bs;
}

static void test_softmax_distinct_equals_full(void)
{
    enum { N = 6, U = 3, DD = 4 };
    int item[N] = {0, 2, 0, 1, 0, 2}; /* row -> distinct column */
    int32_t label[N], count[U] = {0};
    for (int i = 0; i < N; i++) {
        label[i] = item[i];
        count[item[i]]++;
    }
    mlr_rng r;
    mlr_rng_seed(&r, 8);
    float q[N * DD], c[U * DD], logits[N * U], probs[N * U];
    fill(&r, q, N * DD, 1.0);
    fill(&r, c, U * DD, 1.0);
    nn_logits_forward_naive(logits, q, c, N, U, DD);
    for (int remove = 0; remove <= 1; remove++) {
        double a = nn_softmax_xent_forward(probs, logits, label, NULL, count, remove, N, U);
        double b = full_batch_loss(q, c, item, N, DD, remove);
        CHECKF(fabs(a - b) < 1e-5, "remove %d: distinct %g full %g", remove, a, b);
    }
}

/* The fast softmax (column shifts, polynomial exp in SSE lanes) against
 * the double-precision twin, on a row length that leaves a scalar tail. */
static void test_softmax_vs_naive(void)
{
    enum { NB = 9, NU = 23 };
    mlr_rng r;
    mlr_rng_seed(&r, 11);
    float logits[NB * NU], colbias[NU], p1[NB * NU], p2[NB * NU];
    int32_t label[NB], count[NU];
    fill(&r, logits, NB * NU, 8.0);
    fill(&r, colbias, NU, 3.0);
    for (int u = 0; u < NU; u++)
        count[u] = 1 + (int)mlr_rng_below(&r, 4);
    for (int b = 0; b < NB; b++)
        label[b] = (int32_t)mlr_rng_below(&r, NU);
    for (int remove = 0; remove <= 1; remove++)
        for (int withbias = 0; withbias <= 1; withbias++) {
            const float *cb = withbias ? colbias : NULL;
            double a = nn_softmax_xent_forward(p1, logits, label, cb, count, remove, NB, NU);
            double b = nn_softmax_xent_forward_naive(p2, logits, label, cb, count, remove, NB, NU);
            CHECKF(fabs(a - b) < 1e-5 * fmax(1.0, fabs(b)), "remove %d bias %d: %g vs %g", remove,
                   withbias, a, b);
            CHECKF(max_diff(p1, p2, NB * NU) < 1e-6, "probs differ by %g", max_diff(p1, p2, NB * NU));
            float g[NB * NU] = {0};
            nn_softmax_xent_backward(g, p1, label, 2.5, NB, NU);
            /* the training path: shifts in the logits, unscaled rows */
            float shift[NU], rowscale[NB];
            nn_softmax_shift(shift, cb, count, NU);
            for (int i = 0; i < NB * NU; i++)
                p2[i] = logits[i] + shift[i % NU];
            double c = nn_softmax_xent_rows(p2, rowscale, label, count, remove, 2.5, NB, NU);
            CHECKF(fabs(c - a) < 1e-6 * fmax(1.0, fabs(a)), "rows' loss %g vs %g", c, a);
            for (int i = 0; i < NB * NU; i++)
                p2[i] *= rowscale[i / NU];
            CHECKF(max_diff(g, p2, NB * NU) < 1e-7, "rows' gradient differs by %g",
                   max_diff(g, p2, NB * NU));
        }
}

static void test_exp_neg(void)
{
    double worst = 0.0;
    for (float x = 0.0f; x > -87.0f; x -= 0.0137f)
        worst = fmax(worst, fabs(nn_exp_neg(x) / exp((double)x) - 1.0));
    CHECKF(worst < 3e-7, "relative error %g", worst);
    CHECK(nn_exp_neg(0.0f) == 1.0f);
    CHECK(nn_exp_neg(-1000.0f) >= 0.0f && nn_exp_neg(-1000.0f) < 1e-37f);
}

/* nn_dot sums eight lanes in a fixed order, folded as documented, at
 * widths that use the lanes and the tail: the bits of that order in plain
 * C whatever the instruction set (run again under MLR_SIMD=sse). */
static void test_dot(void)
{
    const size_t widths[] = {0, 3, 8, 16, 21, 250};
    float x[250], y[250];
    mlr_rng r;
    mlr_rng_seed(&r, 16);
    fill(&r, x, 250, 1.0);
    fill(&r, y, 250, 1.0);
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        size_t n = widths[w], u = 0;
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (; u + 8 <= n; u += 8)
            for (int k = 0; k < 8; k++)
                lane[k] = lane[k] + x[u + k] * y[u + k];
        for (int k = 0; k < 4; k++)
            lane[k] += lane[k + 4];
        float want = (lane[0] + lane[1]) + (lane[2] + lane[3]);
        double exact = 0.0;
        for (; u < n; u++)
            want += x[u] * y[u];
        for (size_t v = 0; v < n; v++)
            exact += (double)x[v] * y[v];
        float got = nn_dot(x, y, n);
        CHECKF(memcmp(&got, &want, sizeof got) == 0, "dot n %zu: %.9g vs %.9g", n, got, want);
        CHECKF(fabs(got - exact) < 1e-5 * (1.0 + fabs(exact)), "dot n %zu off by %g", n,
               fabs(got - exact));
    }
}

/* nn_dequant_add: q x scale + add, mul then add, in the lanes and the
 * tail, INT16_MIN (and nothing else: not -32767) to -INFINITY. */
static void test_dequant_add(void)
{
    enum { N = 11 };
    const int16_t q[N] = {0, 1, -1, INT16_MIN, 32767, -32767, 123, INT16_MIN, -5, 7, INT16_MIN};
    float add[N], out[N];
    mlr_rng r;
    mlr_rng_seed(&r, 18);
    fill(&r, add, N, 2.0);
    for (size_t n = 0; n <= N; n++) {
        memset(out, 0x7f, sizeof out);
        nn_dequant_add(out, q, 0.00037f, add, n);
        for (size_t u = 0; u < n; u++) {
            volatile float prod = (float)q[u] * 0.00037f; /* no fused multiply-add */
            float want = q[u] == INT16_MIN ? -INFINITY : prod + add[u];
            CHECKF(memcmp(&out[u], &want, sizeof want) == 0, "n %zu at %zu: %g vs %g", n, u,
                   out[u], want);
        }
        for (size_t u = n; u < N; u++)
            CHECKF(out[u] != 0.0f && !isinf(out[u]), "n %zu wrote past its end at %zu", n, u);
    }
}

/* nn_exp_row: exp(p - max) with -INFINITY exactly 0 (not the floor of
 * nn_exp_neg) in the lanes and the tail, the sum of what it leaves; an
 * all -INFINITY row is left as it is and sums to 0. */
static void test_exp_row(void)
{
    enum { N = 19 };
    float p[N], q[N];
    mlr_rng r;
    mlr_rng_seed(&r, 17);
    fill(&r, p, N, 3.0);
    p[2] = p[11] = p[N - 1] = -INFINITY; /* in the lanes and in the tail */
    p[5] = -200.0f;                       /* finite: the floor, not 0 */
    memcpy(q, p, sizeof p);
    float mx = -INFINITY;
    for (int i = 0; i < N; i++)
        mx = fmaxf(mx, p[i]);
    float sum = nn_exp_row(p, N);
    double want = 0.0;
    for (int i = 0; i < N; i++) {
        double e = q[i] == -INFINITY ? 0.0 : exp((double)q[i] - mx);
        if (q[i] == -INFINITY)
            CHECKF(p[i] == 0.0f, "exp of -inf at %d: %g", i, p[i]);
        else
            CHECKF(fabs(p[i] - e) <= 3e-7 * e + 1e-37, "exp at %d: %g vs %g", i, p[i], e);
        want += p[i];
    }
    CHECK(p[5] > 0.0f);
    CHECKF(fabs(sum - want) < 1e-6 * want, "sum %g vs %g", sum, want);
    for (int i = 0; i < N; i++)
        p[i] = q[i] = -INFINITY;
    CHECK(nn_exp_row(p, N) == 0.0f && memcmp(p, q, sizeof p) == 0);
}

static void test_axpy(void)
{
    float y1[11], y2[11], x[11];
    mlr_rng r;
    mlr_rng_seed(&r, 14);
    fill(&r, y1, 11, 1.0);
    fill(&r, x, 11, 1.0);
    memcpy(y2, y1, sizeof y1);
    nn_axpy(y1, 0.37f, x, 11);
    for (int i = 0; i < 11; i++)
        y2[i] += 0.37f * x[i];
    CHECK(memcmp(y1, y2, sizeof y1) == 0);
}

/* The row kernels give nn_axpy's bits term by term, at widths that use
 * each of their loops (32 at a time, 8 at a time, one at a time), and a
 * destination named twice gets both terms. */
static void test_row_kernels(void)
{
    enum { T = 5, NMAX = 75 };
    const size_t widths[] = {0, 5, 8, 32, 64, 75};
    float src[T][NMAX], scale[T], x[NMAX], y1[NMAX], y2[NMAX];
    float d1[T][NMAX], d2[T][NMAX];
    mlr_rng r;
    mlr_rng_seed(&r, 15);
    for (int t = 0; t < T; t++)
        fill(&r, src[t], NMAX, 1.0);
    fill(&r, scale, T, 2.0);
    fill(&r, x, NMAX, 1.0);
    const float *ps[T];
    for (int t = 0; t < T; t++)
        ps[t] = src[t];
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        size_t n = widths[w];
        for (size_t nt = 0; nt <= T; nt += 2) {
            memset(y2, 0, sizeof y2);
            memset(y1, 0x7f, sizeof y1);
            for (size_t t = 0; t < nt; t++)
                nn_axpy(y2, scale[t], src[t], n);
            nn_sum_rows(y1, ps, scale, nt, n);
            CHECKF(memcmp(y1, y2, n * sizeof(float)) == 0, "sum_rows n %zu terms %zu", n, nt);
        }
        memcpy(d1, src, sizeof d1);
        memcpy(d2, src, sizeof d2);
        float *pd[T] = {d1[0], d1[1], d1[0], d1[3], d1[4]}; /* d1[0] twice */
        nn_scatter_row(pd, scale, T, x, n);
        float *qd[T] = {d2[0], d2[1], d2[0], d2[3], d2[4]};
        for (int t = 0; t < T; t++)
            nn_axpy(qd[t], scale[t], x, n);
        CHECKF(memcmp(d1, d2, sizeof d1) == 0, "scatter_row n %zu", n);
    }
}

static void test_relu_mask(void)
{
    float out[11], d1[11], d2[11] = {0};
    mlr_rng r;
    mlr_rng_seed(&r, 12);
    fill(&r, out, 11, 1.0);
    out[3] = 0.0f;
    fill(&r, d1, 11, 1.0);
    nn_relu_backward(d2, d1, out, 11);
    nn_relu_mask(d1, out, 11);
    CHECK(memcmp(d1, d2, sizeof d1) == 0);
    float x[9] = {-1, 2, 0, -0.0f, 5, -3, 1e-30f, -1e-30f, 7}, y[9];
    nn_relu_forward(y, x, 9);
    for (int i = 0; i < 9; i++)
        CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
}

/* ---- squared error ---- */

typedef struct {
    float pred[5], y[5];
} mse_ctx;

static double mse_loss(void *p)
{
    mse_ctx *m = p;
    return nn_mse_forward(m->pred, m->y, 5);
}

static void test_mse_fd(void)
{
    mse_ctx m = {{1, 2, 3, 4, 5}, {1.5f, 2, 2, 4.5f, 1}};
    CHECK(fabs(mse_loss(&m) - (0.25 + 0 + 1 + 0.25 + 16) / 5) < 1e-6);
    float g[5] = {0};
    nn_mse_backward(g, m.pred, m.y, 1.0, 5);
    CHECK(fd_error(mse_loss, &m, m.pred, g, 5) < TOL);
}

int main(void)
{
    RUN(test_embedding_fd);
    RUN(test_bag_fd);
    RUN(test_rowset_grads);
    RUN(test_long_bags);
    RUN(test_decay_bags);
    RUN(test_copy_cols);
    RUN(test_dense_fd);
    RUN(test_dense_blas_vs_naive);
    RUN(test_logits_blas_vs_naive);
    RUN(test_matmul_blas_vs_naive);
    RUN(test_logits_fd);
    RUN(test_relu_fd);
    RUN(test_softmax_fd);
    RUN(test_softmax_distinct_equals_full);
    RUN(test_softmax_vs_naive);
    RUN(test_exp_neg);
    RUN(test_relu_mask);
    RUN(test_axpy);
    RUN(test_dot);
    RUN(test_exp_row);
    RUN(test_dequant_add);
    RUN(test_row_kernels);
    RUN(test_mse_fd);
    return check_status();
}
