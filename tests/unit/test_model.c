/* test_model.c: the whole model's gradient against central finite
 * differences (both towers, the distinct-item softmax with duplicates,
 * accidental hits and log-Q, the rating head), save/load round trips and
 * refusals, warm start by token, and bit-for-bit reproducibility. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "tower.h"
#include "train_internal.h"
#include "safetensors.h"

static char dir[] = "/tmp/test_model.XXXXXX";

static char *path_in(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* A specification in memory: nusers users u1.., nitems items i1.., four
 * genres, timestamp in 5 buckets, the rating label. */
static void vocab(mlr_spec *s, const char *feature, const char *prefix, int n)
{
    mlr_feature *f = mlr_spec_add(s, mlr_feature_def_find(feature));
    mlr_counter c = {0};
    char tok[32];
    for (int i = 1; i < n; i++) {
        int len = snprintf(tok, sizeof tok, "%s%d", prefix, i);
        for (int k = 0; k < n - i; k++) /* counts descending: ids follow i */
            mlr_counter_add(&c, tok, (size_t)len);
    }
    mlr_feature_set_vocab(f, &c, 1, 0);
    mlr_counter_free(&c);
}

static void make_spec(mlr_spec *s, int nusers, int nitems)
{
    memset(s, 0, sizeof *s);
    vocab(s, "user_id", "u", nusers);
    vocab(s, "item_id", "i", nitems);
    vocab(s, "item_genres", "g", 5);
    mlr_moments mo = {0};
    mlr_moments_add(&mo, 0);
    mlr_moments_add(&mo, 10);
    mlr_feature_set_stats(mlr_spec_add(s, mlr_feature_def_find("timestamp")), &mo, 5);
    mlr_moments r = {0};
    mlr_moments_add(&r, 1);
    mlr_moments_add(&r, 5);
    mlr_feature_set_stats(mlr_spec_add(s, mlr_feature_def_find("rating")), &r, 0);
    snprintf(s->sha256, sizeof s->sha256, "%064d", nusers * 100 + nitems);
}

/* Six rows; items 2 and 3 come twice, so the batch has 4 distinct items. */
enum { N = 6, LG = 3 };
static int32_t user[N] = {1, 2, 3, 1, 4, 2}, item[N] = {2, 3, 2, 5, 3, 1};
static int32_t bucket[N] = {0, 4, 2, 1, 3, 0}, genres[N * LG] = {1, 2, -1, 3, -1, -1, 1, 2, -1,
                                                                  -1, -1, -1, 4, 1, 2, 2, -1, -1};
static float ts[N] = {-1.2f, 0.3f, 0.9f, -0.4f, 1.5f, 0.1f}, rating[N] = {4, 3, 5, 1, 2, 4};

static model_config tiny_config(int with_rating)
{
    model_config c = model_config_defaults();
    c.dim = 3;
    c.nlayers = 2;
    c.layers[0] = 4;
    c.layers[1] = 3;
    c.nrating = 1;
    c.rating_layers[0] = 5;
    c.temperature = 0; /* the plain dot product unless a test asks */
    model_parse_features(with_rating ? "user_id,timestamp,rating" : "user_id,timestamp",
                         c.query, &c.nquery, NULL);
    model_parse_features("item_id,item_genres", c.cand, &c.ncand, NULL);
    return c;
}

static void inputs(model_input *q, model_input *c, int with_rating)
{
    memset(q, 0, sizeof *q);
    memset(c, 0, sizeof *c);
    q->n = c->n = N;
    q->ids[0] = user;
    q->L[0] = 1;
    q->ids[1] = bucket;
    q->L[1] = 1;
    q->val[1] = ts;
    if (with_rating)
        q->val[2] = rating;
    c->ids[0] = item;
    c->L[0] = 1;
    c->ids[1] = genres;
    c->L[1] = LG;
}

static void zero_grads(model *m)
{
    memset(m->grads, 0, m->P * sizeof(float));
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < tw[s]->nfeat; i++)
            if (tw[s]->feat[i].rows.list)
                nn_rowset_clear(&tw[s]->feat[i].rows);
}

typedef struct {
    model *m;
    model_batch *b;
    model_loss_opts lo;
    model_input q, c;
    size_t rows[N];
    mlr_rng neg, neg0; /* mixed:N: the same draws in every evaluation */
} fd_ctx;

static double batch_loss(fd_ctx *x)
{
    model_step_stats st;
    x->neg = x->neg0;
    model_forward_backward(x->m, x->b, &x->lo, &x->q, &x->c, item, rating, x->rows, N, &st);
    zero_grads(x->m);
    return st.loss;
}

static double fd_one(fd_ctx *x, size_t i, float h, float grad)
{
    float keep = x->m->params[i];
    x->m->params[i] = keep + h;
    double up = batch_loss(x);
    x->m->params[i] = keep - h;
    double down = batch_loss(x);
    x->m->params[i] = keep;
    double num = (up - down) / (2.0 * h);
    return fabs(num - grad) / fmax(1.0, fabs(num));
}

/* Every parameter, analytic against (f(w+h) - f(w-h)) / 2h. A ReLU kink
 * within h of a point spoils one step size: the better of two counts. */
static double model_fd_error(fd_ctx *x, const float *grad, size_t *worst_at)
{
    double worst = 0.0;
    for (size_t i = 0; i < x->m->P; i++) {
        double err = fmin(fd_one(x, i, 1e-2f, grad[i]), fd_one(x, i, 1e-3f, grad[i]));
        if (err > worst) {
            worst = err;
            *worst_at = i;
        }
    }
    return worst;
}

static const char *tensor_of(const model *m, size_t i)
{
    for (size_t k = 0; k < m->ntensors; k++) {
        const model_tensor *t = &m->tensors[k];
        if (i >= t->off && i < t->off + (t->rows ? t->rows : 1) * t->cols)
            return t->name;
    }
    return "?";
}

/* The rating head of the cases below: wide (bias terms and the dot) and
 * its weight decay. */
static int head_wide;
static double head_decay;
/* The candidate tower's genres bag pooled by recency (model_feature's
 * halflife): the weighted bag's paths. */
static double bag_halflife;
/* --mask-seen: each row's user's other items out of its softmax (the
 * users' items of the six rows, built by each case), or NULL. */
static model_seen seen_rows;
static const model_seen *mask_seen;
/* --distill: the teacher of the cases, or NULL. */
static const model_teacher *fd_teacher;
/* The gradient checks' model's temperature (0: dot products). */
static double fd_temperature;

/* The gradient checks' model: the tiny one on 6 users and nitems items,
 * seed 11, its embeddings larger than Keras' +-0.05 so every path carries
 * a gradient. 0, or -1 with e filled. */
static int fd_model_items(model *m, mlr_spec *spec, int nitems, int with_rating, mlr_err *e)
{
    make_spec(spec, 6, nitems);
    model_config cfg = tiny_config(with_rating);
    cfg.wide = head_wide;
    cfg.temperature = fd_temperature;
    mlr_rng rng;
    mlr_rng_seed(&rng, 11);
    if (model_build(m, &cfg, spec, 0, &rng, e) < 0)
        return -1;
    for (size_t k = 0; k < m->ntensors; k++)
        if (m->tensors[k].sparse)
            for (size_t i = 0; i < m->tensors[k].rows * m->tensors[k].cols; i++)
                m->params[m->tensors[k].off + i] *= 10.0f;
    for (size_t i = 0; head_wide && i < 2 * model_out_width(m); i++) /* not 0: every path */
        m->lin[i] = 0.3f * (float)mlr_rng_uniform(&rng) - 0.15f;
    if (head_wide)
        m->dot[0] = 0.7f;
    m->cand.feat[1].halflife = bag_halflife; /* item_genres */
    /* Unit outputs: a row whose ReLUs are all off would be the zero vector
     * at zero biases, where x / |x| has no derivative; biases away from 0. */
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int s = 0; fd_temperature > 0 && s < 2; s++)
        for (size_t k = 0; k < tw[s]->mlp.width[tw[s]->mlp.n]; k++)
            tw[s]->mlp.b[tw[s]->mlp.n - 1][k] = 0.4f * (float)mlr_rng_uniform(&rng) + 0.1f;
    return 0;
}

/* The same on 7 items (keys 1..6). */
static int fd_model(model *m, mlr_spec *spec, int with_rating, mlr_err *e)
{
    return fd_model_items(m, spec, 7, with_rating, e);
}

/* log Q of items 0..6 for the log-Q correction: log((i + 1) / 28), a
 * distribution. */
static void logq_table(float lq[7])
{
    for (int i = 0; i < 7; i++)
        lq[i] = (float)log((i + 1) / 28.0);
}

/* The analytic gradient (a copy, the caller frees it) of x's batch in a
 * fixed permutation of its rows; the model's gradients are left as the
 * step left them (touched rows too) for the caller to look at. */
static float *fd_gradient(fd_ctx *x, model_step_stats *st)
{
    for (size_t r = 0; r < N; r++)
        x->rows[r] = (r * 5 + 1) % N; /* a permutation */
    x->neg = x->neg0;
    model_forward_backward(x->m, x->b, &x->lo, &x->q, &x->c, item, rating, x->rows, N, st);
    float *grad = xmalloc(x->m->P * sizeof(float));
    memcpy(grad, x->m->grads, x->m->P * sizeof(float));
    return grad;
}

/* grad (freed) against finite differences; then x's batch, model and
 * spec freed. Passes when the worst relative error is below 1e-2. */
static void fd_finish(fd_ctx *x, float *grad, mlr_spec *spec)
{
    zero_grads(x->m);
    size_t at = 0;
    double err = model_fd_error(x, grad, &at);
    const char *where = tensor_of(x->m, at);
    free(grad);
    model_batch_free(x->b);
    model_free(x->m);
    mlr_spec_free(spec);
    CHECKF(err < 1e-2, "relative error %g at parameter %zu (%s)", err, at, where);
}

static void fd_case_threads(int remove_hits, int logq, int with_rating, double rw, double ratw,
                            int threads, model_first_layer fl)
{
    mlr_spec spec;
    model m;
    mlr_err e;
    CHECKF(fd_model(&m, &spec, with_rating, &e) == 0, "%s", e.msg);
    float lq[7];
    logq_table(lq);
    fd_ctx x = {.m = &m, .lo = {rw, ratw, remove_hits, logq ? lq : NULL}};
    x.lo.head_decay = head_decay;
    inputs(&x.q, &x.c, with_rating);
    x.lo.seen = mask_seen;
    x.lo.teacher = fd_teacher;
    x.b = model_batch_new(&m, &x.q, &x.c, 7, N, threads);
    x.b->first_layer = fl;
    model_step_stats st;
    float *grad = fd_gradient(&x, &st);
    CHECK(st.distinct == 4);
    CHECK(m.query.feat[0].rows.n == 4); /* users 1..4 touched */
    fd_finish(&x, grad, &spec);
}

static void fd_case(int remove_hits, int logq, int with_rating, double rw, double ratw)
{
    fd_case_threads(remove_hits, logq, with_rating, rw, ratw, 1, MODEL_FL_AUTO);
}

/* Three threads on six rows and four items: uneven shares, partial
 * gradients summed, touched rows merged; every feature of both towers
 * factored, then every one direct. */
static void test_gradient_threads(void)
{
    fd_case_threads(1, 1, 1, 1.0, 0.5, 3, MODEL_FL_FACTORED);
    fd_case_threads(1, 1, 1, 1.0, 0.5, 3, MODEL_FL_DIRECT);
}

/* Both ways of the first layer, and the choice by distinct ids. */
static void test_gradient_plain(void)
{
    fd_case_threads(0, 0, 0, 1.0, 1.0, 1, MODEL_FL_FACTORED);
    fd_case_threads(0, 0, 0, 1.0, 1.0, 1, MODEL_FL_DIRECT);
    fd_case(0, 0, 0, 1.0, 1.0);
}
static void test_gradient_hits_logq(void) { fd_case(1, 1, 0, 0.5, 2.0); }
/* The label fed to the query tower, at the head's weight 0.5 and 1, with
 * hits removed and on three threads. */
static void test_gradient_rating_feature(void)
{
    fd_case(0, 1, 1, 1.0, 0.5);
    fd_case(1, 1, 1, 1.0, 1.0);
    fd_case_threads(1, 1, 1, 1.0, 1.0, 3, MODEL_FL_AUTO);
}
static void test_gradient_retrieval_only(void) { fd_case(1, 0, 0, 1.0, 0.0); }

/* The wide rating head (model_rating_wide), alone and with weight decay,
 * on one and three threads. */
static void test_gradient_wide_head(void)
{
    head_wide = 1;
    fd_case(0, 1, 0, 1.0, 2.0);
    head_decay = 0.3;
    fd_case_threads(1, 1, 1, 1.0, 0.5, 3, MODEL_FL_AUTO);
    head_wide = 0;
    fd_case(0, 1, 0, 1.0, 2.0); /* decay on the MLP head alone */
    head_decay = 0.0;
}

/* A bag pooled by recency (halflife 2: its tokens weigh 1, 0.71, 0.5,
 * normalised) through the factored and the direct first layer, on one and
 * three threads. (At halflife 1.5 and 10 a ReLU kink lies within both
 * step sizes of one bias; two more step sizes pass there too.) */
static void test_gradient_decay_bag(void)
{
    bag_halflife = 2.0;
    fd_case_threads(1, 1, 1, 1.0, 0.5, 1, MODEL_FL_FACTORED);
    fd_case_threads(1, 1, 1, 1.0, 0.5, 1, MODEL_FL_DIRECT);
    fd_case_threads(0, 1, 0, 1.0, 1.0, 3, MODEL_FL_AUTO);
    bag_halflife = 0.0;
}

/* A catalogue of items 1..6 (item 6 in no row), their genres: what
 * --negatives all and mixed:N draw from. */
static int32_t cat_item[6] = {3, 1, 2, 6, 5, 4};
static int32_t cat_genres[6 * LG] = {4, 1, 2, -1, -1, -1, 1, 2, -1, 3, 2, 1, -1, -1, -1, 2, -1, -1};

static void catalogue(model_catalogue *c, int32_t *row)
{
    memset(c, 0, sizeof *c);
    c->in.n = c->n = 6;
    c->in.ids[0] = cat_item;
    c->in.L[0] = 1;
    c->in.ids[1] = cat_genres;
    c->in.L[1] = LG;
    c->keys.data = cat_item;
    c->nkeys = 7;
    c->row = row;
    for (int k = 0; k < 7; k++)
        row[k] = -1;
    for (int i = 0; i < 6; i++)
        row[cat_item[i]] = i;
}

/* The gradient with the catalogue's candidates: every item (ALL), or the
 * batch's 4 and nsample draws among 6 (MIXED: draws of batch items
 * dropped, repeated draws counted), with the rating head. */
static void fd_case_neg(model_negatives neg, size_t nsample, int remove_hits, int logq,
                        int threads, size_t *columns)
{
    mlr_spec spec;
    model m;
    mlr_err e;
    CHECKF(fd_model(&m, &spec, 0, &e) == 0, "%s", e.msg);
    float lq[7];
    logq_table(lq);
    model_catalogue cat;
    int32_t row[7];
    catalogue(&cat, row);
    fd_ctx x = {.m = &m, .lo = {1.0, 0.5, remove_hits, logq ? lq : NULL, 0.0, NULL, neg, &cat,
                                nsample, NULL, 0.0, NULL}};
    x.lo.neg_rng = &x.neg;
    x.lo.seen = mask_seen;
    x.lo.teacher = fd_teacher;
    mlr_rng_seed(&x.neg0, 5);
    inputs(&x.q, &x.c, 0);
    size_t ccap = neg == MODEL_NEG_ALL ? 6 : (N + nsample < 6 ? N + nsample : 6);
    x.b = model_batch_new_cand(&m, &x.q, &cat.in, 7, N, ccap, threads);
    model_step_stats st;
    float *grad = fd_gradient(&x, &st);
    *columns = st.distinct;
    fd_finish(&x, grad, &spec);
}

static void test_gradient_negatives_all(void)
{
    size_t U;
    fd_case_neg(MODEL_NEG_ALL, 0, 0, 1, 1, &U);
    CHECK(U == 6); /* every item, the one in no row too */
    fd_case_neg(MODEL_NEG_ALL, 0, 1, 0, 3, &U);
    CHECK(U == 6);
}

static void test_gradient_negatives_mixed(void)
{
    size_t U;
    fd_case_neg(MODEL_NEG_MIXED, 5, 0, 1, 1, &U);
    CHECK(U >= 4 && U <= 6); /* the batch's 4 distinct items and new draws */
    fd_case_neg(MODEL_NEG_MIXED, 5, 1, 1, 3, &U);
    fd_case_neg(MODEL_NEG_MIXED, 2, 0, 0, 2, &U);
}

/* The users' items of the six rows: user 1 rated items 2 and 5, user 2
 * items 3 and 1, users 3 and 4 one item each. */
static void seen_of_rows(void)
{
    mlr_spec spec;
    model m;
    mlr_err e;
    CHECKF(fd_model(&m, &spec, 0, &e) == 0, "%s", e.msg);
    model_input q, c;
    inputs(&q, &c, 0);
    CHECKF(model_seen_build(&seen_rows, &m, &q, item, N, &e) == 0, "%s", e.msg);
    CHECK(seen_rows.nusers == 6 && seen_rows.off[1] == 0 && seen_rows.off[2] == 2);
    CHECK(seen_rows.items[0] == 2 && seen_rows.items[1] == 5); /* user 1, in row order */
    CHECK(seen_rows.off[3] - seen_rows.off[2] == 2 && seen_rows.off[6] == N);
    model_free(&m);
    mlr_spec_free(&spec);
}

/* The gradient with each row's user's other items masked: in-batch, over
 * the catalogue and mixed, with log-Q and accidental hits, 1 and 3 threads. */
static void test_gradient_mask_seen(void)
{
    seen_of_rows();
    mask_seen = &seen_rows;
    size_t U;
    fd_case(1, 1, 0, 1.0, 0.5);
    fd_case_threads(0, 1, 0, 1.0, 1.0, 3, MODEL_FL_AUTO);
    fd_case_neg(MODEL_NEG_ALL, 0, 0, 1, 1, &U);
    fd_case_neg(MODEL_NEG_MIXED, 5, 1, 1, 3, &U);
    mask_seen = NULL;
    model_seen_free(&seen_rows);
}

/* EASE of the six rows as the teacher (lambda 0.5, temperature 0.7).
 * Items {2, 5} and {1, 3} are never rated by one user, so EASE gives
 * users 1 (items 2, 5) and 2 (items 3, 1) equal scores on every other
 * item: they teach nothing, nor does user 5, who rated nothing. User 3
 * (item 2) is taught item 5 above the rest, standardised; users 1 and 2
 * are then given logits by hand so that every row has targets. */
static model_teacher teacher_rows;

static void teacher_of_rows(double weight)
{
    seen_of_rows();
    mlr_err e;
    CHECKF(model_teacher_ease(&teacher_rows, &seen_rows, 7, 0.5, 0.7, weight, NULL, &e) == 0, "%s",
           e.msg);
    CHECK(teacher_rows.nusers == 6 && teacher_rows.nkeys == 7 && teacher_rows.feat == 0);
    for (int k = 0; k < 7; k++)
        CHECK(model_teacher_logit(&teacher_rows, 1, k) == -INFINITY &&
              model_teacher_logit(&teacher_rows, 2, k) == -INFINITY &&
              model_teacher_logit(&teacher_rows, 5, k) == -INFINITY);
    float u3[7];
    for (int k = 0; k < 7; k++)
        u3[k] = model_teacher_logit(&teacher_rows, 3, k);
    CHECK(u3[0] == -INFINITY && u3[2] == -INFINITY);
    double sum = 0.0, sq = 0.0; /* the other five standardised / 0.7, rounded to 1/32767 */
    for (int k = 1; k < 7; k++)
        if (k != 2) {
            sum += u3[k];
            sq += (double)u3[k] * u3[k];
        }
    CHECKF(fabs(sum) < 5e-4 && fabs(sq / 5 - 1 / 0.49) < 1e-3, "sum %g, mean square %g", sum,
           sq / 5);
    CHECK(u3[5] > u3[1] && u3[1] == u3[3] && u3[3] == u3[4]);
    const float by_hand[2][7] = {{-INFINITY, 0.9f, -INFINITY, -0.3f, 1.4f, -INFINITY, 0.2f},
                                 {-INFINITY, -INFINITY, 0.5f, -INFINITY, -1.1f, 0.8f, 0.0f}};
    /* rounded, not truncated: 0.7 is 22936.9 steps of 1/32767 */
    const float round[7] = {-INFINITY, 1.0f, 0.7f, -0.7f, 0.0f, -INFINITY, 0.25f};
    model_teacher_set(&teacher_rows, 1, round);
    for (int k = 0; k < 7; k++) {
        float got = model_teacher_logit(&teacher_rows, 1, k);
        CHECKF(round[k] == -INFINITY ? got == -INFINITY
                                     : fabs((double)got - round[k]) <= 0.5 / 32767 + 1e-6,
               "key %d: %.9g for %g", k, got, round[k]);
    }
    for (int u = 0; u < 2; u++) { /* held to within a step: 1/32767 of the largest */
        model_teacher_set(&teacher_rows, 1 + u, by_hand[u]);
        for (int k = 0; k < 7; k++) {
            float got = model_teacher_logit(&teacher_rows, 1 + u, k);
            CHECKF(by_hand[u][k] == -INFINITY ? got == -INFINITY
                                              : fabsf(got - by_hand[u][k]) <= 1.4f / 32767,
                   "user %d key %d: %g for %g", 1 + u, k, got, by_hand[u][k]);
        }
    }
    fd_teacher = &teacher_rows;
}

static void teacher_done(void)
{
    fd_teacher = NULL;
    model_teacher_free(&teacher_rows);
    model_seen_free(&seen_rows);
}

/* The gradient with EASE as the teacher: in-batch with and without log-Q,
 * accidental hits, 3 threads, the rating head; over the catalogue and
 * mixed; with --mask-seen; the whole target the teacher's. */
static void test_gradient_distill(void)
{
    size_t U;
    teacher_of_rows(0.4);
    fd_case(1, 1, 0, 1.0, 0.5);
    fd_case(0, 0, 1, 2.0, 0.5);
    fd_case_threads(1, 1, 1, 1.0, 1.0, 3, MODEL_FL_AUTO);
    fd_case_neg(MODEL_NEG_ALL, 0, 0, 1, 1, &U);
    fd_case_neg(MODEL_NEG_MIXED, 5, 1, 1, 3, &U);
    mask_seen = &seen_rows;
    fd_case(1, 1, 0, 1.0, 0.5);
    fd_case_neg(MODEL_NEG_ALL, 0, 0, 1, 3, &U);
    mask_seen = NULL;
    teacher_rows.weight = 1.0;
    fd_case(0, 1, 0, 1.0, 0.5);
    teacher_done();
}

/* The gradient through unit outputs and cosines / temperature, into both
 * losses (the rating head reads the unit outputs): in-batch with log-Q
 * and accidental hits, the wide and the MLP head, 3 threads, over the
 * catalogue and mixed. */
static void test_gradient_temperature(void)
{
    size_t U;
    fd_temperature = 0.2;
    fd_case(1, 1, 0, 1.0, 0.5);
    fd_case(0, 1, 1, 1.0, 1.0); /* the MLP head on unit outputs */
    head_wide = 1;
    fd_case(0, 1, 1, 1.0, 0.5);
    fd_case_threads(0, 1, 0, 1.0, 1.0, 3, MODEL_FL_AUTO);
    fd_case_neg(MODEL_NEG_ALL, 0, 0, 1, 1, &U);
    head_wide = 0;
    fd_case_neg(MODEL_NEG_MIXED, 5, 1, 1, 3, &U);
    fd_temperature = 0;
}

/* The mean cross-entropy of the six rows over the catalogue, computed
 * apart from the step: qe (N, D) and ce (6, D) from model_embed, each
 * logit their inner product / scale; with `masked` a row's user's items
 * in other rows are out of its softmax (--mask-seen). */
static double catalogue_xent(const float *qe, const float *ce, size_t D, double scale, int masked)
{
    double want = 0.0;
    for (size_t r = 0; r < N; r++) {
        double sum = 0.0, own = 0.0;
        for (size_t k = 0; k < 6; k++) {
            int other = 0; /* an item of this row's user in another row */
            for (size_t i = 0; masked && i < N; i++)
                other |= i != r && user[i] == user[r] && item[i] == cat_item[k];
            double z = 0.0;
            for (size_t d = 0; d < D; d++)
                z += (double)qe[r * D + d] * ce[k * D + d];
            z /= scale;
            if (cat_item[k] == item[r])
                own = z;
            if (!other)
                sum += exp(z);
        }
        want += log(sum) - own;
    }
    return want / N;
}

/* One step of the gradient checks' model over the catalogue of items
 * 1..6 on the six rows (rating weight 0 unless a test sets lo), and the
 * embeddings of the rows and of the catalogue (catalogue_step_embed). */
typedef struct {
    mlr_spec spec;
    model m;
    model_catalogue cat;
    int32_t row[7];
    model_input q, c;
    model_loss_opts lo;
    model_batch *b;
    size_t rows[N];
    float qe[N * 3], ce[6 * 3];
} catalogue_step;

static void catalogue_step_open(catalogue_step *k)
{
    mlr_err e;
    CHECKF(fd_model(&k->m, &k->spec, 0, &e) == 0, "%s", e.msg);
    catalogue(&k->cat, k->row);
    inputs(&k->q, &k->c, 0);
    model_loss_opts lo = {1.0, 0.0, 0, NULL, 0.0, NULL, MODEL_NEG_ALL, &k->cat, 0, NULL, 0.0, NULL, NULL};
    k->lo = lo;
    k->b = model_batch_new_cand(&k->m, &k->q, &k->cat.in, 7, N, 6, 1);
    for (size_t r = 0; r < N; r++)
        k->rows[r] = r;
}

static void catalogue_step_run(catalogue_step *k, model_step_stats *st)
{
    model_forward_backward(&k->m, k->b, &k->lo, &k->q, &k->cat.in, item, rating, k->rows, N, st);
}

static void catalogue_step_embed(catalogue_step *k)
{
    CHECK(model_out_width(&k->m) == 3);
    model_embed(&k->m.query, &k->q, k->qe);
    model_embed(&k->m.cand, &k->cat.in, k->ce);
}

static void catalogue_step_close(catalogue_step *k)
{
    model_batch_free(k->b);
    model_free(&k->m);
    mlr_spec_free(&k->spec);
}

/* A model with a temperature serves what it trains: model_embed's rows
 * have length 1, the step's cross-entropy over the catalogue is the
 * softmax of their inner products / temperature, and its squared rating
 * error is model_predict's (the rating head reads the unit outputs). */
static void test_temperature_serves_as_trained(void)
{
    mlr_spec spec;
    model m;
    mlr_err e;
    fd_temperature = 0.25;
    head_wide = 1;
    CHECKF(fd_model(&m, &spec, 0, &e) == 0, "%s", e.msg);
    fd_temperature = 0;
    head_wide = 0;
    model_catalogue cat;
    int32_t row[7];
    catalogue(&cat, row);
    model_input q, c;
    inputs(&q, &c, 0);
    model_loss_opts lo = {1.0, 1.0, 0, NULL, 0.0, NULL, MODEL_NEG_ALL, &cat, 0, NULL, 0.0, NULL, NULL};
    model_batch *b = model_batch_new_cand(&m, &q, &cat.in, 7, N, 6, 1);
    size_t rows[N] = {0, 1, 2, 3, 4, 5};
    model_step_stats st;
    model_forward_backward(&m, b, &lo, &q, &cat.in, item, rating, rows, N, &st);
    size_t D = model_out_width(&m);
    float qe[N * 3], ce[6 * 3], pred[N];
    CHECK(D == 3);
    model_embed(&m.query, &q, qe);
    model_embed(&m.cand, &cat.in, ce);
    double want = catalogue_xent(qe, ce, D, 0.25, 0), len = 0.0, mse = 0.0;
    for (size_t r = 0; r < N; r++) {
        double ss = 0.0;
        for (size_t d = 0; d < D; d++)
            ss += (double)qe[r * D + d] * qe[r * D + d];
        len = fmax(len, fabs(sqrt(ss) - 1.0));
    }
    CHECKF(len < 1e-6, "a query embedding's length is 1 +- %g", len);
    CHECKF(fabs(st.retrieval - want) < 1e-4, "step %g, from the embeddings %g", st.retrieval, want);
    /* the step's rating error: the head on the unit embeddings of each
     * row's user and the catalogue's row of its item (what mlr-train's
     * validation and mlr-recommend run) */
    float cr[N * 3], ci[N * 3], pr[N];
    for (size_t r = 0; r < N; r++)
        for (size_t k = 0; k < 6; k++)
            if (cat_item[k] == item[r])
                memcpy(cr + r * D, ce + k * D, D * sizeof(float));
    model_rating(&m, qe, cr, N, pred);
    for (size_t r = 0; r < N; r++)
        mse += (pred[r] - rating[r]) * (pred[r] - rating[r]);
    mse /= N;
    /* and model_predict (mlr-predict) runs the head on them too */
    model_embed(&m.cand, &c, ci);
    model_rating(&m, qe, ci, N, pred);
    model_predict(&m, &q, &c, pr);
    double diff = 0.0;
    for (size_t r = 0; r < N; r++)
        diff = fmax(diff, fabs(pr[r] - pred[r]));
    CHECKF(diff < 1e-5, "model_predict and the head on the embeddings differ by %g", diff);
    CHECKF(fabs(st.rating - mse) < 1e-4 * (1 + mse), "step %g, model_predict %g", st.rating, mse);
    model_batch_free(b);
    model_free(&m);
    mlr_spec_free(&spec);
}

/* The masked cross-entropy is the softmax over the columns left: the
 * catalogue's scores computed apart (model_embed), each row's user's
 * other items dropped, against the step's retrieval loss. And it is lower
 * than the loss with every column (a column less in each denominator). */
static void test_mask_seen_loss(void)
{
    seen_of_rows();
    catalogue_step k;
    catalogue_step_open(&k);
    model_step_stats all, masked;
    catalogue_step_run(&k, &all);
    k.lo.seen = &seen_rows;
    catalogue_step_run(&k, &masked);
    catalogue_step_embed(&k);
    double want = catalogue_xent(k.qe, k.ce, 3, 1.0, 1);
    CHECKF(fabs(masked.retrieval - want) < 1e-4, "masked %g, apart %g", masked.retrieval, want);
    CHECKF(masked.retrieval < all.retrieval - 1e-3, "masked %g, all %g", masked.retrieval,
           all.retrieval);
    catalogue_step_close(&k);
    model_seen_free(&seen_rows);
}

/* The mean over the six rows of (1 - a) -log p(item) + a sum_k t_k -log
 * p(k) over a catalogue of ncat keys (ncat <= TC), from the rows' query
 * and the items' embeddings (width 3): t the softmax of the teacher's
 * logits over the other items that are targets. */
enum { TC = 40 };
static double distill_loss_apart(const float *qe, const float *ce, const int32_t *keys,
                                 size_t ncat, const model_teacher *teacher, double a)
{
    double want = 0.0;
    for (size_t r = 0; r < N; r++) {
        double z[TC], t[TC], lse = 0.0, tsum = 0.0, own = 0.0, soft = 0.0;
        for (size_t k = 0; k < ncat; k++) {
            z[k] = 0.0;
            for (size_t d = 0; d < 3; d++)
                z[k] += (double)qe[r * 3 + d] * ce[k * 3 + d];
            lse += exp(z[k]);
            float tl = model_teacher_logit(teacher, (size_t)user[r], (size_t)keys[k]);
            t[k] = keys[k] == item[r] || tl == -INFINITY ? 0.0 : exp(tl);
            tsum += t[k];
            if (keys[k] == item[r])
                own = z[k];
        }
        lse = log(lse);
        for (size_t k = 0; k < ncat && tsum > 0; k++)
            soft += t[k] / tsum * (lse - z[k]);
        want += tsum > 0 ? (1 - a) * (lse - own) + a * soft : lse - own;
    }
    return want / N;
}

/* The step's loss with a teacher over the catalogue, against the one
 * computed apart (distill_loss_apart). A teacher of weight a moves it
 * from the plain loss. */
static void test_distill_loss(void)
{
    teacher_of_rows(0.3);
    catalogue_step k;
    catalogue_step_open(&k);
    model_step_stats plain, taught;
    catalogue_step_run(&k, &plain);
    k.lo.teacher = &teacher_rows;
    catalogue_step_run(&k, &taught);
    catalogue_step_embed(&k);
    double want = distill_loss_apart(k.qe, k.ce, cat_item, 6, &teacher_rows, 0.3);
    CHECKF(fabs(taught.retrieval - want) < 1e-4, "taught %g, apart %g", taught.retrieval, want);
    CHECKF(fabs(taught.retrieval - plain.retrieval) > 1e-3, "taught %g, plain %g",
           taught.retrieval, plain.retrieval);
    catalogue_step_close(&k);
    teacher_done();
}

/* The teacher's logits gathered a pass of columns at a time (train.c's
 * TQ_TILE, 16) and the passes shared among the pieces: a catalogue of 40
 * items (three passes, the last of 8) on two threads, each user's logits
 * by hand, some items no target; the loss against the one computed apart
 * as in test_distill_loss. */
static void test_distill_passes(void)
{
    mlr_spec spec;
    model m;
    mlr_err e;
    CHECKF(fd_model_items(&m, &spec, TC + 1, 0, &e) == 0, "%s", e.msg);
    mlr_rng rng;
    mlr_rng_seed(&rng, 5);
    int32_t keys[TC], genres[TC * LG], row[TC + 1];
    model_catalogue cat;
    memset(&cat, 0, sizeof cat);
    row[0] = -1;
    for (int i = 0; i < TC; i++) { /* keys out of order: a column is not its key */
        keys[i] = 1 + (i * 17) % TC;
        row[keys[i]] = i;
        for (int g = 0; g < LG; g++)
            genres[i * LG + g] = g <= i % LG ? 1 + (i + g) % 4 : -1;
    }
    cat.in.n = cat.n = TC;
    cat.in.ids[0] = keys;
    cat.in.L[0] = 1;
    cat.in.ids[1] = genres;
    cat.in.L[1] = LG;
    cat.keys.data = keys;
    cat.nkeys = TC + 1;
    cat.row = row;
    seen_of_rows();
    model_teacher t;
    CHECKF(model_teacher_ease(&t, &seen_rows, TC + 1, 0.5, 0.7, 0.3, NULL, &e) == 0, "%s", e.msg);
    float logit[TC + 1];
    for (int u = 1; u < 5; u++) { /* user 5 keeps EASE's: no target */
        for (int k = 0; k <= TC; k++)
            logit[k] = k == 0 || (k + u) % 7 == 0 ? -INFINITY
                                                  : 3.0f * (float)mlr_rng_uniform(&rng) - 1.5f;
        model_teacher_set(&t, (size_t)u, logit);
    }
    model_input q, c;
    inputs(&q, &c, 0);
    model_loss_opts lo = {1.0, 0.0, 0, NULL, 0.0, NULL, MODEL_NEG_ALL, &cat, 0, NULL, 0.0, NULL, NULL};
    lo.teacher = &t;
    model_batch *b = model_batch_new_cand(&m, &q, &cat.in, TC + 1, N, TC, 2);
    size_t rows[N];
    for (size_t r = 0; r < N; r++)
        rows[r] = r;
    model_step_stats st;
    model_forward_backward(&m, b, &lo, &q, &cat.in, item, rating, rows, N, &st);
    float qe[N * 3], ce[TC * 3];
    model_embed(&m.query, &q, qe);
    model_embed(&m.cand, &cat.in, ce);
    double want = distill_loss_apart(qe, ce, keys, TC, &t, 0.3);
    CHECKF(st.distinct == TC, "%zu columns", st.distinct);
    CHECKF(fabs(st.retrieval - want) < 1e-4, "taught %g, apart %g", st.retrieval, want);
    model_batch_free(b);
    model_teacher_free(&t);
    model_seen_free(&seen_rows);
    model_free(&m);
    mlr_spec_free(&spec);
}

static int build(model *m, int nusers, int nitems, uint64_t seed, mlr_spec *spec)
{
    make_spec(spec, nusers, nitems);
    model_config cfg = tiny_config(0);
    mlr_rng rng;
    mlr_rng_seed(&rng, seed);
    mlr_err e;
    return model_build(m, &cfg, spec, 0, &rng, &e);
}

/* A few training steps on a batch made for cap rows (its pieces: cap / 128
 * rounded up, 2 at least); returns the final loss. */
static double train_steps_cap(model *m, int steps, int threads, size_t cap)
{
    model_input q, c;
    inputs(&q, &c, 0);
    model_batch *b = model_batch_new(m, &q, &c, 7, cap, threads);
    opt_config oc = opt_defaults();
    optimizer o;
    opt_init(&o, &oc, m->P);
    model_loss_opts lo = {1.0, 1.0, 1, NULL, 0.0, NULL, MODEL_NEG_BATCH, NULL, 0, NULL, 0.0, NULL, NULL};
    size_t rows[N] = {0, 1, 2, 3, 4, 5};
    model_step_stats st;
    for (int s = 0; s < steps; s++)
        model_train_step(m, b, &o, &lo, &q, &c, item, rating, rows, N, &st);
    opt_free(&o);
    model_batch_free(b);
    return st.loss;
}

/* The first layer against the plain one, both towers, every feature
 * factored, every one direct, and chosen by distinct ids: on all six rows
 * (users, genres: fewer distinct ids than rows) and on two. */
static void factored_vs_naive(double halflife)
{
    mlr_spec spec;
    make_spec(&spec, 6, 7);
    model_config cfg = tiny_config(1);
    model m;
    mlr_rng rng;
    mlr_rng_seed(&rng, 21);
    mlr_err e;
    CHECKF(model_build(&m, &cfg, &spec, 0, &rng, &e) == 0, "%s", e.msg);
    m.cand.feat[1].halflife = halflife;
    model_input q, c;
    inputs(&q, &c, 1);
    model_acts a1, a2;
    size_t rows[N] = {5, 0, 3, 1, 4, 2};
    const model_tower *tw[2] = {&m.query, &m.cand};
    const model_input *in[2] = {&q, &c};
    double worst = 0.0;
    const size_t sizes[2] = {N, 2};
    for (int fl = MODEL_FL_AUTO; fl <= MODEL_FL_DIRECT; fl++)
        for (int s = 0; s < 2; s++)
            for (int k = 0; k < 2; k++) {
                size_t B = sizes[k];
                model_tower_acts_init(&a1, tw[s], LG, N);
                model_acts_init(&a2, &tw[s]->mlp, tw[s]->W, LG, N);
                a1.first_layer = (model_first_layer)fl;
                const float *y1 = model_tower_forward(tw[s], &a1, in[s], rows, B);
                const float *y2 = model_tower_forward_naive(tw[s], &a2, in[s], rows, B);
                size_t D = tw[s]->mlp.width[tw[s]->mlp.n];
                for (size_t i = 0; i < B * D; i++)
                    worst = fmax(worst, fabs((double)y1[i] - y2[i]));
                model_acts_free(&a1);
                model_acts_free(&a2);
            }
    /* activations for two rows whose genres have four distinct tokens,
     * every feature asked factored: more ids than X has rows, so the bag
     * goes direct (it overflowed X once) */
    size_t two[2] = {4, 1};
    model_tower_acts_init(&a1, &m.cand, LG, 2);
    model_acts_init(&a2, &m.cand.mlp, m.cand.W, LG, 2);
    a1.first_layer = MODEL_FL_FACTORED;
    const float *y1 = model_tower_forward(&m.cand, &a1, &c, two, 2);
    const float *y2 = model_tower_forward_naive(&m.cand, &a2, &c, two, 2);
    CHECK(a1.fact[1].d == 4 && a1.fact[1].direct);
    for (size_t i = 0; i < 2 * m.cand.mlp.width[m.cand.mlp.n]; i++)
        worst = fmax(worst, fabs((double)y1[i] - y2[i]));
    model_acts_free(&a1);
    model_acts_free(&a2);
    model_free(&m);
    mlr_spec_free(&spec);
    CHECKF(worst < 1e-5, "factored and plain first layers differ by %g (halflife %g)", worst, halflife);
}

static void test_factored_vs_naive(void)
{
    factored_vs_naive(0.0);
    factored_vs_naive(1.5);
}

static double train_steps(model *m, int steps)
{
    return train_steps_cap(m, steps, 1, N);
}

/* Two and three threads: the same bits on every run and the same bits as
 * one thread (the phases' pieces do not depend on the threads, their sums
 * are in piece order). On a batch made for 512 rows (4 pieces of the six
 * rows), rows touched by three pieces or more are summed in piece order
 * by the one that owns them: a row updated twice or not at all would be
 * 50 learning-rate steps off. On one made for six rows (2 pieces) as
 * well. */
static void threads_case(int threads, size_t cap)
{
    mlr_spec s1, s2, s3;
    model a, b, c, d;
    CHECK(build(&a, 6, 7, 5, &s1) == 0 && build(&b, 6, 7, 5, &s2) == 0 && build(&c, 6, 7, 5, &s3) == 0);
    train_steps_cap(&a, 50, threads, cap);
    train_steps_cap(&b, 50, threads, cap);
    train_steps_cap(&c, 50, 1, cap);
    CHECK(memcmp(a.params, b.params, a.P * sizeof(float)) == 0);
    CHECKF(memcmp(a.params, c.params, a.P * sizeof(float)) == 0, "1 vs %d threads differ (cap %zu)",
           threads, cap);
    /* another piece count: the same model up to rounding */
    mlr_spec s4;
    CHECK(build(&d, 6, 7, 5, &s4) == 0);
    train_steps_cap(&d, 50, 1, N);
    double worst = 0.0;
    for (size_t i = 0; i < a.P; i++)
        worst = fmax(worst, fabs((double)d.params[i] - c.params[i]));
    CHECKF(worst < 1e-3, "2 vs %zu pieces differ by %g", (cap + 127) / 128, worst);
    model_free(&d);
    mlr_spec_free(&s4);
    model_free(&a);
    model_free(&b);
    model_free(&c);
    mlr_spec_free(&s1);
    mlr_spec_free(&s2);
    mlr_spec_free(&s3);
}

static void test_threads_repeat(void)
{
    threads_case(2, N);
    threads_case(3, N);
    threads_case(2, 512);
    threads_case(3, 512);
}

static void test_training_lowers_loss_and_repeats(void)
{
    mlr_spec s1, s2;
    model a, b;
    CHECK(build(&a, 6, 7, 5, &s1) == 0 && build(&b, 6, 7, 5, &s2) == 0);
    double first = train_steps(&a, 1), last = train_steps(&a, 200);
    train_steps(&b, 1);
    train_steps(&b, 200);
    int same = memcmp(a.params, b.params, a.P * sizeof(float)) == 0;
    model_free(&a);
    model_free(&b);
    mlr_spec_free(&s1);
    mlr_spec_free(&s2);
    CHECKF(last < 0.5 * first, "loss %g -> %g", first, last);
    CHECK(same);
}

static void test_save_load(void)
{
    mlr_spec spec;
    model m, l;
    mlr_err e;
    CHECK(build(&m, 6, 7, 3, &spec) == 0);
    m.cand.feat[1].halflife = 2.5; /* recorded with the feature */
    m.spec_path = xstrdup("/some/spec");
    m.metrics = xstrdup("{\"top10\":0.5}");
    CHECKF(model_save(&m, path_in("m.safetensors"), &e) == 0, "%s", e.msg);
    CHECKF(model_load(&l, path_in("m.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(l.P == m.P && memcmp(l.params, m.params, m.P * sizeof(float)) == 0);
    CHECK(strcmp(l.spec_sha256, spec.sha256) == 0 && strcmp(l.spec_path, "/some/spec") == 0);
    CHECK(l.query.nfeat == 2 && l.query.feat[1].kind == MF_NUM && l.query.feat[1].vocab == 5);
    CHECK(l.cand.feat[1].kind == MF_BAG && l.cand.W == 6 && l.query.W == 7);
    CHECK(l.cand.feat[1].halflife == 2.5 && l.cand.feat[0].halflife == 0.0);
    /* the same model, the same bytes */
    CHECK(model_save(&l, path_in("m2.safetensors"), &e) == 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cmp -s %s/m.safetensors %s/m2.safetensors", dir, dir);
    CHECK(system(cmd) == 0);
    model_free(&l);
    model_free(&m);
    mlr_spec_free(&spec);
}

/* The temperature is the model's: saved and loaded with it (both towers
 * unit then); a model without one (the files before it) loads as 0. */
static void test_save_load_temperature(void)
{
    mlr_spec spec;
    model m, l;
    mlr_err e;
    make_spec(&spec, 6, 7);
    model_config cfg = tiny_config(0);
    cfg.temperature = 0.2;
    mlr_rng rng;
    mlr_rng_seed(&rng, 5);
    CHECKF(model_build(&m, &cfg, &spec, 0, &rng, &e) == 0, "%s", e.msg);
    CHECK(m.query.unit && m.cand.unit);
    CHECKF(model_save(&m, path_in("t.safetensors"), &e) == 0, "%s", e.msg);
    CHECKF(model_load(&l, path_in("t.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(l.cfg.temperature == 0.2 && l.query.unit && l.cand.unit);
    model_free(&l);
    model_free(&m);
    mlr_spec_free(&spec);
    CHECK(build(&m, 6, 7, 3, &spec) == 0);
    CHECK(!m.query.unit && !m.cand.unit);
    CHECKF(model_save(&m, path_in("t0.safetensors"), &e) == 0, "%s", e.msg);
    CHECKF(model_load(&l, path_in("t0.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(l.cfg.temperature == 0 && !l.query.unit && !l.cand.unit);
    model_free(&l);
    model_free(&m);
    mlr_spec_free(&spec);
}

/* The popularity prior: log(1 + count) by item_id from the training keys,
 * one more column of the ranking rows (1 for a query, the weighted count
 * for an item; widened in place alike), kept by the file; none without
 * item_id among the candidate features or by default. */
static void test_popularity_prior(void)
{
    mlr_spec spec;
    model m, l;
    mlr_err e;
    make_spec(&spec, 6, 7);
    model_config cfg = tiny_config(0);
    CHECK(cfg.popularity == 0);
    cfg.popularity = 0.5;
    mlr_rng rng;
    mlr_rng_seed(&rng, 5);
    CHECKF(model_build(&m, &cfg, &spec, 0, &rng, &e) == 0, "%s", e.msg);
    size_t D = model_out_width(&m), W = D + 1;
    CHECK(m.pop != NULL && model_rank_width(&m) == W);
    model_set_popularity(&m, item, N);
    int count[7] = {0};
    for (size_t r = 0; r < N; r++)
        count[item[r]]++;
    for (int v = 0; v < 7; v++)
        CHECKF(fabsf(m.pop[v] - (float)log1p(count[v])) < 1e-6f, "item %d: %g", v, m.pop[v]);
    model_input q, c;
    inputs(&q, &c, 0);
    float qe[N * 3], ce[N * 3], rq[N * 4], rc[N * 4], wide[N * 4];
    CHECK(D == 3);
    model_embed(&m.query, &q, qe);
    model_embed(&m.cand, &c, ce);
    model_rank_rows(&m, 0, &q, qe, N, rq);
    model_rank_rows(&m, 1, &c, ce, N, rc);
    int same = 1;
    for (size_t r = 0; r < N; r++) {
        same &= !memcmp(rq + r * W, qe + r * D, D * sizeof(float)) &&
                !memcmp(rc + r * W, ce + r * D, D * sizeof(float));
        same &= rq[r * W + D] == 1.0f && rc[r * W + D] == 0.5f * (float)log1p(count[item[r]]);
    }
    CHECK(same);
    memcpy(wide, ce, sizeof ce);
    model_rank_rows(&m, 1, &c, wide, N, wide);
    CHECK(!memcmp(wide, rc, sizeof rc));
    CHECKF(model_save(&m, path_in("p.safetensors"), &e) == 0, "%s", e.msg);
    CHECKF(model_load(&l, path_in("p.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(l.cfg.popularity == 0.5 && l.pop && !memcmp(l.pop, m.pop, 7 * sizeof(float)));
    model_free(&l);
    model_free(&m);
    model_parse_features("item_genres", cfg.cand, &cfg.ncand, NULL);
    CHECKF(model_build(&m, &cfg, &spec, 0, &rng, &e) == 0, "%s", e.msg);
    CHECK(m.pop == NULL && model_rank_width(&m) == D);
    CHECKF(model_save(&m, path_in("p0.safetensors"), &e) == 0, "%s", e.msg);
    CHECKF(model_load(&l, path_in("p0.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(l.cfg.popularity == 0 && l.pop == NULL);
    model_free(&l);
    model_free(&m);
    mlr_spec_free(&spec);
}

/* Rewrites m's file leaving out tensor `drop`, renaming it, or with other
 * metadata, and expects model_load to refuse with `words`. */
static void refused(model *m, const char *drop, const char *shape_of, const char *version,
                    const char *words)
{
    mlr_st_tensor t[64];
    size_t n = 0;
    float junk[4] = {0};
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *mt = &m->tensors[i];
        if (drop && strcmp(mt->name, drop) == 0)
            continue;
        t[n] = (mlr_st_tensor){.name = (char *)mt->name, .dtype = MLR_ST_F32, .ndim = mt->rows ? 2 : 1,
                               .shape = {mt->rows ? mt->rows : mt->cols, mt->cols},
                               .nbytes = (mt->rows ? mt->rows : 1) * mt->cols * 4,
                               .data = m->params + mt->off};
        if (shape_of && strcmp(mt->name, shape_of) == 0)
            t[n] = (mlr_st_tensor){.name = (char *)mt->name, .dtype = MLR_ST_F32, .ndim = 1,
                                   .shape = {4}, .nbytes = 16, .data = junk};
        n++;
    }
    if (!drop && !shape_of && !version)
        t[n++] = (mlr_st_tensor){.name = "extra", .dtype = MLR_ST_F32, .ndim = 1, .shape = {4},
                                 .nbytes = 16, .data = junk};
    /* the config of the real file */
    mlr_err e;
    model_save(m, path_in("ok.safetensors"), &e);
    mlr_st_file f;
    mlr_st_read(&f, path_in("ok.safetensors"), &e);
    const char *k[4] = {"format", "version", "config", "spec_sha256"};
    const char *v[4] = {"mlrec-model", version ? version : "1", mlr_st_meta(&f, "config"), m->spec_sha256};
    int w = mlr_st_write(path_in("bad.safetensors"), t, n, k, v, 4, &e);
    mlr_st_free(&f);
    CHECK(w == 0);
    model l;
    CHECK(model_load(&l, path_in("bad.safetensors"), &e) < 0);
    CHECKF(strstr(e.msg, words) != NULL, "'%s' lacks '%s'", e.msg, words);
}

/* A wide head's file: its config says so, its terms come back and count
 * in every prediction; a file without the key (every older one) loads
 * with the MLP head alone. */
static void test_save_load_wide(void)
{
    mlr_spec spec;
    make_spec(&spec, 6, 7);
    model_config cfg = tiny_config(0);
    cfg.wide = 1;
    model m, l, plain;
    mlr_rng rng;
    mlr_rng_seed(&rng, 4);
    mlr_err e;
    CHECK(model_build(&m, &cfg, &spec, 0, &rng, &e) == 0);
    size_t D = model_out_width(&m);
    for (size_t i = 0; i < 2 * D; i++)
        m.lin[i] = 0.1f * (float)(i % 5) - 0.2f;
    m.dot[0] = 0.5f;
    CHECKF(model_save(&m, path_in("w.safetensors"), &e) == 0, "%s", e.msg);
    CHECKF(model_load(&l, path_in("w.safetensors"), &e) == 0, "%s", e.msg);
    CHECK(l.cfg.wide == 1 && l.P == m.P && memcmp(l.params, m.params, m.P * sizeof(float)) == 0);
    CHECK(l.dot[0] == 0.5f);
    model_input q, c;
    inputs(&q, &c, 0);
    float pw[N], pp[N];
    model_predict(&l, &q, &c, pw);
    mlr_spec pspec;
    CHECK(build(&plain, 6, 7, 3, &pspec) == 0); /* the same MLP weights, no wide terms */
    CHECK(plain.cfg.wide == 0 && plain.lin == NULL && plain.P + 2 * D + 1 == m.P);
    memcpy(plain.params, l.params, plain.P * sizeof(float));
    model_predict(&plain, &q, &c, pp);
    int differ = 0;
    for (size_t r = 0; r < N; r++)
        differ |= fabsf(pw[r] - pp[r]) > 1e-4f;
    CHECK(differ);
    model_free(&l);
    model_free(&m);
    model_free(&plain);
    mlr_spec_free(&pspec);
    mlr_spec_free(&spec);
}

static void test_load_refusals(void)
{
    mlr_spec spec;
    model m;
    CHECK(build(&m, 6, 7, 3, &spec) == 0);
    refused(&m, "query.dense.0.weight", NULL, NULL, "tensor 'query.dense.0.weight' missing");
    refused(&m, NULL, "cand.emb.item_id", NULL, "tensor 'cand.emb.item_id' is not F32 of shape (7, 3)");
    refused(&m, NULL, NULL, "2", "model version '2'");
    refused(&m, NULL, NULL, NULL, "unexpected tensor 'extra'");
    mlr_err e;
    model l;
    /* not a model at all, and a truncated one */
    CHECK(model_load(&l, path_in("missing"), &e) < 0 && strstr(e.msg, "cannot open"));
    model_save(&m, path_in("t.safetensors"), &e);
    CHECK(truncate(path_in("t.safetensors"), 200) == 0);
    CHECK(model_load(&l, path_in("t.safetensors"), &e) < 0 && strstr(e.msg, "safetensors"));
    model_free(&m);
    mlr_spec_free(&spec);
}

/* A new spec with more users and items, in another order: rows move by token. */
static void test_warm_start(void)
{
    mlr_spec old_spec, new_spec;
    model old, m;
    CHECK(build(&old, 6, 7, 3, &old_spec) == 0);
    memset(&new_spec, 0, sizeof new_spec);
    /* users: u9 (new) first, then u1..u5 shifted by one id */
    mlr_feature *f = mlr_spec_add(&new_spec, mlr_feature_def_find("user_id"));
    mlr_counter c = {0};
    const char *users[] = {"u9", "u1", "u2", "u3", "u4", "u5"};
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 10 - i; k++)
            mlr_counter_add(&c, users[i], 2);
    mlr_feature_set_vocab(f, &c, 1, 0);
    mlr_counter_free(&c);
    vocab(&new_spec, "item_id", "i", 9);
    vocab(&new_spec, "item_genres", "g", 5);
    mlr_moments mo = {0};
    mlr_moments_add(&mo, 0);
    mlr_feature_set_stats(mlr_spec_add(&new_spec, mlr_feature_def_find("timestamp")), &mo, 5);
    model_config cfg = tiny_config(0);
    mlr_rng rng;
    mlr_rng_seed(&rng, 99);
    mlr_err e;
    CHECK(model_build(&m, &cfg, &new_spec, 0, &rng, &e) == 0);
    size_t carried, fresh;
    CHECKF(model_warm_start(&m, &new_spec, &old, &old_spec, &carried, &fresh, &e) == 0, "%s", e.msg);
    size_t E = 3;
    const float *ou = old.query.feat[0].emb, *nu = m.query.feat[0].emb;
    CHECK(memcmp(nu + 2 * E, ou + 1 * E, E * 4) == 0); /* u1: old id 1, new id 2 */
    CHECK(memcmp(nu + 6 * E, ou + 5 * E, E * 4) == 0); /* u5 */
    CHECK(memcmp(nu + 1 * E, ou + 0 * E, E * 4) != 0); /* u9 is new */
    CHECK(memcmp(nu, ou, E * 4) == 0);                 /* [UNK] */
    const float *oi = old.cand.feat[0].emb, *ni = m.cand.feat[0].emb;
    CHECK(memcmp(ni + 6 * E, oi + 6 * E, E * 4) == 0);
    CHECK(memcmp(ni + 8 * E, oi + 6 * E, E * 4) != 0); /* i8 is new */
    /* users: 6 of 7 rows; items 7 of 9; genres 5; buckets 5 */
    CHECKF(carried == 6 + 7 + 5 + 5 && fresh == 1 + 2, "carried %zu fresh %zu", carried, fresh);
    CHECK(memcmp(m.query.mlp.w[0], old.query.mlp.w[0], old.query.W * 4 * 4) == 0);
    model_free(&m);
    /* other layers: refused */
    cfg.layers[0] = 5;
    mlr_rng_seed(&rng, 99);
    CHECK(model_build(&m, &cfg, &new_spec, 0, &rng, &e) == 0);
    CHECK(model_warm_start(&m, &new_spec, &old, &old_spec, &carried, &fresh, &e) < 0);
    CHECK(strstr(e.msg, "query.dense.0.weight") != NULL);
    model_free(&m);
    model_free(&old);
    mlr_spec_free(&old_spec);
    mlr_spec_free(&new_spec);
}

static void test_build_refusals(void)
{
    mlr_spec spec;
    make_spec(&spec, 4, 4);
    model_config cfg = tiny_config(0);
    model m;
    mlr_rng rng;
    mlr_rng_seed(&rng, 1);
    mlr_err e;
    model_parse_features("user_id,item_id", cfg.query, &cfg.nquery, NULL);
    CHECK(model_build(&m, &cfg, &spec, 0, &rng, &e) < 0 && strstr(e.msg, "describes the item"));
    model_free(&m);
    model_parse_features("user_id,user_zip", cfg.query, &cfg.nquery, NULL);
    CHECK(model_build(&m, &cfg, &spec, 0, &rng, &e) < 0 && strstr(e.msg, "'user_zip' is not in"));
    model_free(&m);
    CHECK(model_build(&m, &cfg, &spec, 1, &rng, &e) == 0 && m.query.nfeat == 1 && m.cfg.nquery == 1);
    model_free(&m);
    CHECK(model_parse_features("a,,b", cfg.query, &cfg.nquery, &e) < 0);
    CHECK(model_parse_features("a,b,a", cfg.query, &cfg.nquery, &e) < 0);
    size_t w[8], n;
    CHECK(model_parse_widths("64,32", w, &n, &e) == 0 && n == 2 && w[1] == 32);
    CHECK(model_parse_widths("64,x", w, &n, &e) < 0 && model_parse_widths("0", w, &n, &e) < 0);
    mlr_spec_free(&spec);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    RUN(test_gradient_plain);
    RUN(test_gradient_hits_logq);
    RUN(test_gradient_rating_feature);
    RUN(test_gradient_retrieval_only);
    RUN(test_gradient_threads);
    RUN(test_gradient_wide_head);
    RUN(test_gradient_negatives_all);
    RUN(test_gradient_negatives_mixed);
    RUN(test_gradient_mask_seen);
    RUN(test_gradient_temperature);
    RUN(test_gradient_distill);
    RUN(test_distill_loss);
    RUN(test_distill_passes);
    RUN(test_temperature_serves_as_trained);
    RUN(test_mask_seen_loss);
    RUN(test_training_lowers_loss_and_repeats);
    RUN(test_threads_repeat);
    RUN(test_factored_vs_naive);
    RUN(test_gradient_decay_bag);
    RUN(test_save_load);
    RUN(test_save_load_wide);
    RUN(test_save_load_temperature);
    RUN(test_popularity_prior);
    RUN(test_load_refusals);
    RUN(test_warm_start);
    RUN(test_build_refusals);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("FAIL cleanup\n");
    return check_status();
}
