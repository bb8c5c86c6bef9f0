/* optim.c: Adagrad and Adam (see optim.h). */
#include "optim.h"

#include <math.h>
#include <stdlib.h>

#include "mlr.h"

opt_config opt_defaults(void)
{
    opt_config c = {.kind = OPT_ADAGRAD, .lr = 0.1f, .init_acc = 0.1f,
                    .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .l2 = 0.0f};
    return c;
}

void opt_init(optimizer *o, const opt_config *c, size_t P)
{
    o->c = *c;
    o->P = P;
    o->t = 0;
    o->m = xmalloc((P ? P : 1) * sizeof(float));
    o->v = NULL;
    if (c->kind == OPT_ADAM) {
        o->v = xcalloc(P ? P : 1, sizeof(float));
        for (size_t i = 0; i < P; i++)
            o->m[i] = 0.0f;
    } else {
        for (size_t i = 0; i < P; i++)
            o->m[i] = c->init_acc;
    }
}

void opt_free(optimizer *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void opt_begin_step(optimizer *o)
{
    o->t++;
}

/* One contiguous run of n parameters, with an optional L2 term. */
static void step_run(optimizer *o, float *w, const float *g, float *m, float *v,
                     size_t n, float l2)
{
    const opt_config *c = &o->c;
    if (c->kind == OPT_ADAGRAD) {
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + 2.0f * l2 * w[i];
            m[i] += gi * gi;
            w[i] -= c->lr * gi / (sqrtf(m[i]) + c->eps);
        }
        return;
    }
    double t = (double)(o->t > 0 ? o->t : 1);
    float lr_t = (float)(c->lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t)));
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + 2.0f * l2 * w[i];
        m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * gi;
        v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * gi * gi;
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + c->eps);
    }
}

void opt_update_dense(optimizer *o, float *params, const float *grads,
                      size_t off, size_t n)
{
    step_run(o, params + off, grads + off, o->m + off, o->v ? o->v + off : NULL, n, 0.0f);
}

void opt_update_rows(optimizer *o, float *params, const float *grads,
                     size_t off, size_t C, const uint32_t *rows, size_t R)
{
    for (size_t r = 0; r < R; r++) {
        size_t at = off + (size_t)rows[r] * C;
        step_run(o, params + at, grads + at, o->m + at, o->v ? o->v + at : NULL, C, o->c.l2);
    }
}
