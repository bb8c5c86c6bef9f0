/* train.c: the trainer: a batch's state, its workers, the phases of a
 * step and the step itself; the only user of the pool's phases and of the
 * optimiser (see train.h, train_internal.h). */
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encdir.h"
#include "pool.h"

/* ---- the catalogue of --negatives all and mixed ---- */

int model_catalogue_load(model_catalogue *c, const model *m, const char *dir, size_t nkeys,
                         mlr_err *e)
{
    memset(c, 0, sizeof *c);
    if (mlr_encdir_check(dir, m->spec_sha256, e) < 0 ||
        model_input_load(&c->in, &m->cand, dir, 0, e) < 0 ||
        mlr_encdir_keys(dir, c->in.n, nkeys, &c->keys, e) < 0)
        return -1;
    if (c->in.n == 0 || c->in.n > INT32_MAX)
        return mlr_fail(e, "%s: %zu items: not a catalogue to draw candidates from", dir, c->in.n);
    c->n = c->in.n;
    c->nkeys = nkeys;
    c->row = xmalloc((nkeys ? nkeys : 1) * sizeof(int32_t));
    for (size_t k = 0; k < nkeys; k++)
        c->row[k] = -1;
    const int32_t *key = c->keys.data;
    for (size_t i = c->n; i-- > 0;) /* an item listed twice: its first row */
        if (key[i] > 0)
            c->row[key[i]] = (int32_t)i;
    return 0;
}

void model_catalogue_free(model_catalogue *c)
{
    model_input_free(&c->in);
    mlr_array_free(&c->keys);
    free(c->row);
    memset(c, 0, sizeof *c);
}

size_t model_catalogue_missing(const model_catalogue *c, const int32_t *keys, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += keys[i] <= 0 || (size_t)keys[i] >= c->nkeys || c->row[keys[i]] < 0;
    return k;
}

/* ---- a batch ---- */

/* A piece's touched-row sets, one per embedding, each holding the
 * gradients of as many rows as cap batch rows can touch; returns the
 * largest of those counts. */
static size_t thread_rowsets(model_worker *w, const model *m, const model_input *qin,
                             const model_input *cin, size_t cap, size_t ccap)
{
    const model_tower *tw[2] = {&m->query, &m->cand};
    const model_input *in[2] = {qin, cin};
    size_t most = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < tw[s]->nfeat; i++) {
            size_t V = tw[s]->feat[i].vocab, L = in[s]->L[i] ? in[s]->L[i] : 1;
            size_t n = s ? ccap : cap, rows = n * L < V ? n * L : V;
            nn_rowset_init_grad(&w->rows[s][i], V, rows, tw[s]->E);
            most = rows > most ? rows : most;
        }
    return most;
}

enum { CHUNK_FLOATS = 2048 }; /* about a microsecond of Adam */

/* The dense tensors cut into ranges of CHUNK_FLOATS or fewer, in tensor
 * order, into off and len when given; returns how many. */
static size_t dense_chunks(const model *m, size_t *off, size_t *len)
{
    size_t k = 0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *tn = &m->tensors[i];
        size_t n = tn->sparse ? 0 : (tn->rows ? tn->rows : 1) * tn->cols;
        for (size_t at = 0; at < n; at += CHUNK_FLOATS, k++)
            if (off) {
                off[k] = tn->off + at;
                len[k] = n - at < CHUNK_FLOATS ? n - at : CHUNK_FLOATS;
            }
    }
    return k;
}

/* The pieces of a batch of cap rows at most (MODEL_PIECE_ROWS). */
static int batch_pieces(size_t cap)
{
    size_t k = (cap + MODEL_PIECE_ROWS - 1) / MODEL_PIECE_ROWS;
    return k < 2 ? 2 : k > MODEL_MAX_PIECES ? MODEL_MAX_PIECES : (int)k;
}

model_batch *model_batch_new(const model *m, const model_input *qin, const model_input *cin,
                             size_t nkeys, size_t cap, int threads)
{
    return model_batch_new_cand(m, qin, cin, nkeys, cap, cap, threads);
}

int model_batch_pin(model_batch *b)
{
    return mlr_pool_pin(b->pool);
}

model_batch *model_batch_new_cand(const model *m, const model_input *qin, const model_input *cin,
                                  size_t nkeys, size_t cap, size_t ccap, int threads)
{
    model_batch *b = xcalloc(1, sizeof *b);
    size_t D = model_out_width(m);
    ccap = ccap ? ccap : 1;
    b->pool = mlr_pool_new(threads < MODEL_MAX_THREADS ? threads : MODEL_MAX_THREADS);
    b->threads = mlr_pool_threads(b->pool);
    b->pieces = batch_pieces(cap);
    /* a piece's rows (or items) at most: mlr_pool_range of cap rows, of
     * ccap candidates */
    size_t pcap = (cap + (size_t)b->pieces - 1) / (size_t)b->pieces;
    size_t pccap = (ccap + (size_t)b->pieces - 1) / (size_t)b->pieces;
    b->w = xcalloc((size_t)b->pieces, sizeof *b->w);
    for (int k = 0; k < b->pieces; k++) {
        model_worker *w = &b->w[k];
        model_tower_acts_init(&w->qa, &m->query, model_input_lmax(qin), pcap);
        model_tower_acts_init(&w->ca, &m->cand, model_input_lmax(cin), pccap);
        model_acts_init(&w->ra, &m->rating, 0, 1, pcap);
        w->z = xmalloc(pcap * 2 * D * sizeof(float));
        w->dz = xmalloc(pcap * 2 * D * sizeof(float));
        w->pred = xmalloc((pcap ? pcap : 1) * sizeof(float));
        w->dc = xmalloc(ccap * D * sizeof(float));
        w->rowscale = xmalloc((pcap ? pcap : 1) * sizeof(float));
        w->tscale = xmalloc((pcap ? pcap : 1) * sizeof(float));
        w->dqs = xmalloc(pcap * D * sizeof(float));
        size_t most = thread_rowsets(w, m, qin, cin, pcap, pccap);
        w->sel = xmalloc((most ? most : 1) * sizeof *w->sel);
        w->at = xmalloc((most ? most : 1) * sizeof *w->at);
        w->sum = xcalloc(m->query.E > m->cand.E ? m->query.E : m->cand.E, sizeof(float));
        /* the other pieces' dense gradients go into blocks of their own,
         * summed in piece order */
        if (k > 0)
            w->g = xcalloc(m->P ? m->P : 1, sizeof(float));
    }
    b->nchunks = dense_chunks(m, NULL, NULL);
    b->chunk_off = xmalloc((b->nchunks ? b->nchunks : 1) * sizeof(size_t));
    b->chunk_n = xmalloc((b->nchunks ? b->nchunks : 1) * sizeof(size_t));
    dense_chunks(m, b->chunk_off, b->chunk_n);
    b->blocks = xmalloc((size_t)b->pieces * sizeof(float *));
    b->blocks[0] = m->grads;
    for (int k = 1; k < b->pieces; k++)
        b->blocks[k] = b->w[k].g;
    b->q = xmalloc(cap * D * sizeof(float));
    b->c = xmalloc(ccap * D * sizeof(float));
    b->qt = xmalloc(cap * D * sizeof(float));
    b->qlen = xmalloc((cap ? cap : 1) * sizeof(float));
    b->clen = xmalloc((ccap ? ccap : 1) * sizeof(float));
    b->shift = xmalloc(ccap * sizeof(float));
    b->label = xmalloc(cap * sizeof(int32_t));
    b->count = xmalloc(ccap * sizeof(int32_t));
    b->cand_rows = xmalloc(ccap * sizeof(size_t));
    b->colkey = xmalloc(ccap * sizeof(int32_t));
    b->tuser = xmalloc(cap * sizeof(int32_t));
    b->torder = xmalloc(2 * cap * sizeof(uint32_t));
    b->ccap = ccap;
    b->y = xmalloc(cap * sizeof(float));
    b->drop = xcalloc(cap ? cap : 1, 1);
    b->nkeys = nkeys;
    b->slot = xmalloc((nkeys ? nkeys : 1) * sizeof(int32_t));
    for (size_t k = 0; k < nkeys; k++)
        b->slot[k] = -1;
    return b;
}

int model_batch_threads(const model_batch *b)
{
    return b->threads;
}

void model_batch_free(model_batch *b)
{
    if (!b)
        return;
    for (int k = 0; b->w && k < b->pieces; k++) {
        model_worker *w = &b->w[k];
        model_acts_free(&w->qa);
        model_acts_free(&w->ca);
        model_acts_free(&w->ra);
        free(w->z);
        free(w->dz);
        free(w->pred);
        free(w->dc);
        free(w->logits);
        free(w->teach);
        free(w->tscale);
        free(w->rowscale);
        free(w->dqs);
        free(w->sel);
        free(w->at);
        free(w->sum);
        free(w->g);
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < MODEL_MAX_FEATURES; i++)
                if (w->rows[s][i].list)
                    nn_rowset_free(&w->rows[s][i]);
    }
    free(b->w);
    free(b->blocks);
    free(b->chunk_off);
    free(b->chunk_n);
    mlr_pool_free(b->pool);
    free(b->q);
    free(b->c);
    free(b->qt);
    free(b->qlen);
    free(b->clen);
    free(b->shift);
    free(b->label);
    free(b->count);
    free(b->cand_rows);
    free(b->colkey);
    free(b->tuser);
    free(b->torder);
    free(b->tq);
    free(b->y);
    free(b->drop);
    free(b->slot);
    free(b->cslot);
    free(b);
}

/* ---- a step ---- */

/* Groups the batch rows by item key: label[b] is the distinct column of
 * row b, cand_rows[u] one row holding item u, count[u] its copies. */
static size_t distinct_items(model_batch *b, const int32_t *keys, const size_t *rows, size_t B)
{
    size_t U = 0;
    for (size_t r = 0; r < B; r++) {
        if (r + 16 < B) /* shuffled rows of the whole set: each a miss */
            __builtin_prefetch(keys + rows[r + 16]);
        int32_t k = keys[rows[r]];
        if (k > 0 && (size_t)k < b->nkeys && b->slot[k] >= 0) {
            b->label[r] = b->slot[k];
            b->count[b->slot[k]]++;
            continue;
        }
        if (k > 0 && (size_t)k < b->nkeys)
            b->slot[k] = (int32_t)U;
        b->label[r] = (int32_t)U;
        b->count[U] = 1;
        b->cand_rows[U++] = rows[r];
    }
    return U;
}

/* The candidates of a catalogue step (lo->negatives ALL or MIXED):
 * cand_rows[u] catalogue rows, label[r] the column of row r's item. ALL:
 * every item once, in catalogue order. MIXED: the batch's distinct items
 * (count[u] their copies; b->nbatch of them), then nsample uniform draws,
 * a draw of an item already a column dropped (the batch's copies stand
 * for it) or counted again (another draw); never more than b->ccap. */
static size_t catalogue_items(model_batch *b, const model_loss_opts *lo, const int32_t *keys,
                              const size_t *rows, size_t B)
{
    const model_catalogue *cat = lo->catalogue;
    size_t M = cat->n, U = 0;
    if (lo->negatives == MODEL_NEG_ALL) {
        for (size_t u = 0; u < M; u++) {
            b->cand_rows[u] = u;
            b->count[u] = 1;
        }
        for (size_t r = 0; r < B; r++)
            b->label[r] = cat->row[keys[rows[r]]];
        b->nbatch = M;
        return M;
    }
    if (b->ncslot < M) {
        free(b->cslot);
        b->cslot = xmalloc(M * sizeof(int32_t));
        for (size_t i = 0; i < M; i++)
            b->cslot[i] = -1;
        b->ncslot = M;
    }
    for (size_t r = 0; r < B; r++) {
        int32_t c = cat->row[keys[rows[r]]];
        if (b->cslot[c] < 0) {
            b->cslot[c] = (int32_t)U;
            b->count[U] = 0;
            b->cand_rows[U++] = (size_t)c;
        }
        b->label[r] = b->cslot[c];
        b->count[b->cslot[c]]++;
    }
    b->nbatch = U;
    for (size_t s = 0; s < lo->nsample; s++) {
        size_t c = (size_t)mlr_rng_below(lo->neg_rng, M);
        if (b->cslot[c] >= 0) {
            if ((size_t)b->cslot[c] >= b->nbatch)
                b->count[b->cslot[c]]++;
            continue;
        }
        if (U == b->ccap)
            continue;
        b->cslot[c] = (int32_t)U;
        b->count[U] = 1;
        b->cand_rows[U++] = c;
    }
    return U;
}

/* The column of item key k in this step's candidates, -1 if none (the
 * slots distinct_items and catalogue_items set, until forget_columns). */
static int32_t column_of(const model_batch *b, const model_loss_opts *lo, int32_t k)
{
    if (k <= 0 || (size_t)k >= b->nkeys)
        return -1;
    if (lo->negatives == MODEL_NEG_BATCH)
        return b->slot[k];
    int32_t c = lo->catalogue->row[k];
    if (c < 0 || lo->negatives == MODEL_NEG_ALL)
        return c;
    return b->cslot[c];
}

/* The item key of column u of this step. */
static int32_t column_key(const model_batch *b, const model_loss_opts *lo, const int32_t *keys,
                          size_t u)
{
    if (lo->negatives == MODEL_NEG_BATCH)
        return keys[b->cand_rows[u]];
    return ((const int32_t *)lo->catalogue->keys.data)[b->cand_rows[u]];
}

static void forget_columns(model_batch *b, const model_loss_opts *lo, const int32_t *keys, size_t U)
{
    for (size_t u = 0; u < U; u++) {
        if (lo->negatives == MODEL_NEG_MIXED) {
            b->cslot[b->cand_rows[u]] = -1;
            continue;
        }
        if (lo->negatives != MODEL_NEG_BATCH)
            continue; /* ALL: cand_rows are the catalogue's, not keys' rows */
        int32_t k = keys[b->cand_rows[u]];
        if (k > 0 && (size_t)k < b->nkeys)
            b->slot[k] = -1;
    }
}

/* Column u's log-Q correction (phase_forward): -log of its expected count
 * among the candidates. In-batch: -log q(item), the constant log B left
 * out. MIXED: an item is a column by the batch (B q(item)) or by a draw
 * (nsample / M), so -log(B q(item) + nsample / M) whichever way it came:
 * the batch's rare items are not over-corrected beside the draws. */
static float column_bias(const model_batch *b, const model_loss_opts *lo, const int32_t *keys,
                         size_t u, size_t B)
{
    if (lo->negatives == MODEL_NEG_BATCH)
        return -lo->logq[keys[b->cand_rows[u]]];
    const model_catalogue *cat = lo->catalogue;
    int32_t key = ((const int32_t *)cat->keys.data)[b->cand_rows[u]];
    double q = key > 0 ? exp((double)lo->logq[key]) : 0.0;
    return (float)-log((double)B * q + (double)lo->nsample / (double)cat->n);
}

static double mlp_flops(const model_mlp *m, size_t B)
{
    double f = 0.0;
    for (size_t l = 0; l < m->n; l++)
        f += 6.0 * (double)B * (double)m->width[l] * (double)m->width[l + 1];
    return f;
}

/* A gradient pointer of m moved into the block g (a piece's own). */
static float *in_block(const model *m, float *g, const float *p)
{
    return g + (p - m->grads);
}

/* The gradient pointers of an MLP moved into the block g. */
static void mlp_grads_in(const model *m, const model_mlp *mlp, float *g, float **dw, float **db)
{
    for (size_t l = 0; l < mlp->n; l++) {
        dw[l] = in_block(m, g, mlp->dw[l]);
        db[l] = in_block(m, g, mlp->db[l]);
    }
}

/* model_mlp_backward into the gradient block g. */
static void mlp_backward_g(const model *m, const model_mlp *mlp, model_acts *a, const float *x,
                           float *dx, size_t B, float *g)
{
    float *dw[MODEL_MAX_LAYERS], *db[MODEL_MAX_LAYERS];
    mlp_grads_in(m, mlp, g, dw, db);
    model_mlp_backward_into(mlp, a, 0, x, dx, B, dw, db);
}

/* model_tower_backward into the block g, touched rows into rs (one set per
 * feature). */
static void tower_backward_g(const model *m, const model_tower *t, model_acts *a,
                             const model_input *in, size_t B, float *g, nn_rowset *rs)
{
    float *dw[MODEL_MAX_LAYERS], *db[MODEL_MAX_LAYERS], *demb[MODEL_MAX_FEATURES];
    mlp_grads_in(m, &t->mlp, g, dw, db);
    for (size_t i = 0; i < t->nfeat; i++)
        demb[i] = g + t->feat[i].emb_off;
    model_tower_backward_into(t, a, in, B, dw, db, demb, rs);
}

/* The wide head's gradients (model_rating_wide): into the piece's block
 * for lin and dot, added to dz for the towers. */
static void wide_backward(const model *m, model_worker *w, const float *dpred, size_t Bt,
                          size_t D)
{
    if (!m->cfg.wide)
        return;
    float *g = w->g ? w->g : m->grads;
    float *dlin = in_block(m, g, m->dlin), *ddot = in_block(m, g, m->ddot);
    for (size_t r = 0; r < Bt; r++) {
        const float *z = w->z + r * 2 * D;
        float *dz = w->dz + r * 2 * D, d = 0.0f;
        nn_axpy(dlin, dpred[r], z, 2 * D);
        nn_axpy(dz, dpred[r], m->lin, 2 * D);
        for (size_t i = 0; i < D; i++)
            d += z[i] * z[D + i];
        ddot[0] += dpred[r] * d;
        nn_axpy(dz, dpred[r] * m->dot[0], z + D, D);
        nn_axpy(dz + D, dpred[r] * m->dot[0], z, D);
    }
}

/* The rating head on z = [q, c[label]] of the worker's rows: returns the
 * sum of their squared errors; dq, dc += the gradient of weight x the
 * batch's mean squared error (B rows in all). */
static double rating_pass(const model *m, model_worker *w, const model_batch *b, size_t lo,
                          size_t Bt, size_t B, size_t D, double weight)
{
    const float *q = b->q + lo * D;
    const int32_t *label = b->label + lo;
    float *dq = w->qa.dh[m->query.mlp.n - 1];
    for (size_t r = 0; r < Bt; r++) {
        memcpy(w->z + r * 2 * D, q + r * D, D * sizeof(float));
        memcpy(w->z + r * 2 * D + D, b->c + (size_t)label[r] * D, D * sizeof(float));
    }
    float *pred = w->pred;
    memcpy(pred, model_mlp_forward(&m->rating, &w->ra, w->z, Bt), Bt * sizeof(float));
    model_rating_wide(m, w->z, Bt, pred);
    double mse = nn_mse_forward(pred, b->y + lo, Bt);
    float *dpred = w->ra.dh[m->rating.n - 1];
    memset(dpred, 0, Bt * sizeof(float));
    nn_mse_backward(dpred, pred, b->y + lo, weight * (double)Bt / (double)B, Bt);
    mlp_backward_g(m, &m->rating, &w->ra, w->z, w->dz, Bt, w->g ? w->g : m->grads);
    wide_backward(m, w, dpred, Bt, D);
    for (size_t r = 0; r < Bt; r++) {
        const float *g = w->dz + r * 2 * D;
        nn_axpy(dq + r * D, 1.0f, g, D);
        nn_axpy(w->dc + (size_t)label[r] * D, 1.0f, g + D, D);
    }
    return mse * (double)Bt;
}

/* What the phases of a step share. Each phase is cut into nt pieces
 * (b->pieces, whatever the thread count), run by the threads as they come
 * free, each its own share first (mlr_pool_pieces), a piece with the
 * state of its own worker w[t]: piece t
 * of nt holds batch rows [B t/nt, B (t+1)/nt) and distinct items
 * [U t/nt, U (t+1)/nt), and its partial sums are added in piece order.
 * So a preempted thread holds up one piece, not a fixed half of the
 * step, and the bits are the same on any number of threads. */
typedef struct {
    model *m;
    model_batch *b;
    const model_loss_opts *lo;
    const model_input *qin, *cin;
    const float *ratings;
    const size_t *rows;
    size_t B, U, D;
    optimizer *opt; /* the reduce phase also steps when set */
    const int32_t *keys; /* (rows) item keys */
} step_job;

/* --mask-seen: row r's logits of the other items its user rated in the
 * training rows pushed out of its softmax (they are positives of the
 * same query, not negatives; per-user scoring leaves them out too). */
static void mask_seen(const step_job *j, float *logits, size_t r0, size_t r1)
{
    const model_seen *s = j->lo->seen;
    const int32_t *user = j->qin->ids[s->feat];
    for (size_t r = r0; r < r1; r++) {
        size_t u = (size_t)user[j->rows[r]];
        if (u >= s->nusers)
            continue;
        float *z = logits + (r - r0) * j->U;
        for (size_t i = s->off[u]; i < s->off[u + 1]; i++) {
            int32_t c = column_of(j->b, j->lo, s->items[i]);
            if (c >= 0 && c != j->b->label[r])
                z[c] = -1e30f;
        }
    }
}

/* --distill: the teacher's columns in passes of TQ_TILE, each pass's
 * logits of every row of the step one block of b->tq, (B, TQ_TILE) */
enum { TQ_TILE = 16 };

static size_t teacher_tiles(size_t U)
{
    return (U + TQ_TILE - 1) / TQ_TILE;
}

/* the columns of the pass starting at column u0 of U: the last is short */
static size_t teacher_tile_width(size_t U, size_t u0)
{
    return U - u0 < TQ_TILE ? U - u0 : TQ_TILE;
}

/* --distill, in phase 1: the teacher's logits of every row of the step at
 * the columns of the piece's passes, into b->tq. The teacher holds them
 * item-major: a column's logits over the step's users lie in one run of
 * lines (ML-100K: 30, nearly all of which 256 rows read), where a row's
 * over the step's columns were scattered over its user's (52 lines, most
 * missing L2): half the lines from beyond L2, far fewer on a larger
 * catalogue. A pass's runs stay in L1 while the rows read them, in the
 * order of their users: each run forward, a line at a time. */
static void teacher_gather(const step_job *j, int t, int nt)
{
    const model_teacher *tc = j->lo->teacher;
    const model_batch *b = j->b;
    size_t lo, hi, U = j->U, B = j->B;
    mlr_pool_range(teacher_tiles(U), t, nt, &lo, &hi);
    const int16_t *col[TQ_TILE];
    for (size_t tile = lo; tile < hi; tile++) {
        size_t u0 = tile * TQ_TILE, n = teacher_tile_width(U, u0);
        for (size_t k = 0; k < n; k++)
            col[k] = tc->logit + (size_t)b->colkey[u0 + k] * tc->nusers;
        int16_t *block = b->tq + tile * B * TQ_TILE;
        for (size_t i = 0; i < b->ntaught; i++) {
            uint32_t r = b->torder[i];
            int16_t *q = block + (size_t)r * TQ_TILE;
            size_t user = (size_t)b->tuser[r];
            for (size_t k = 0; k < n; k++)
                q[k] = col[k][user];
        }
    }
}

/* Row r's teacher targets, unnormalised, in t (U): exp of its user's
 * teacher logits (b->tq) plus each column's shift, less their max, over
 * the targets (not its own column, not the user's items: their logits are
 * -INFINITY, as key 0's, where colkey sends a key the teacher lacks),
 * every other column 0. Returns their sum, 0 when the row has no target. */
static float teacher_row(const step_job *j, size_t r, float *t)
{
    const model_batch *b = j->b;
    if (b->tuser[r] < 0)
        return 0.0f;
    size_t U = j->U, B = j->B;
    float scale = j->lo->teacher->scale[b->tuser[r]];
    for (size_t tile = 0, u0 = 0; u0 < U; tile++, u0 += TQ_TILE)
        nn_dequant_add(t + u0, b->tq + (tile * B + r) * TQ_TILE, scale, b->shift + u0,
                       teacher_tile_width(U, u0));
    t[b->label[r]] = -INFINITY;
    return nn_exp_row(t, U);
}

/* --distill, before the softmax: each row's unnormalised targets
 * (w->teach) and their scale (w->tscale: 1 / their sum, or 0 for a row
 * with no target). Returns what they add to the rows' summed loss:
 * a (z_y - sum_u t_u z_u), a the teacher's weight, t the normalised
 * targets, z the row's logits and z_y its item's as the loss counts it
 * (one copy), for the cross-entropies with the targets and with the item
 * share the row's log-sum-exp. */
static double teacher_rows(const step_job *j, model_worker *w, const float *logits, size_t r0,
                           size_t r1)
{
    size_t U = j->U;
    if ((r1 - r0) * U > w->tcap) {
        w->tcap = (r1 - r0) * U;
        free(w->teach);
        w->teach = xmalloc(w->tcap * sizeof(float));
    }
    double a = j->lo->teacher->weight, added = 0.0;
    for (size_t r = r0; r < r1; r++) {
        float *t = w->teach + (r - r0) * U;
        const float *z = logits + (r - r0) * U;
        float sum = teacher_row(j, r, t);
        w->tscale[r - r0] = sum > 0.0f ? 1.0f / sum : 0.0f;
        if (sum == 0.0f)
            continue;
        size_t y = (size_t)j->b->label[r];
        double dot = (double)nn_dot(t, z, U) / (double)sum;
        added += a * ((double)z[y] - nn_log_count(j->b->count, y) - dot);
    }
    return added;
}

/* --distill, after nn_softmax_xent_rows: row r's p holds exp(z - max)
 * less the row's sum S at its item, its gradient rowscale x p (rowscale =
 * retrieval_weight / S). Moving a S from the item to the targets makes it
 * the gradient of the cross-entropy with (1 - a) item + a targets. */
static void distill_rows(const step_job *j, model_worker *w, float *logits, size_t r0, size_t r1)
{
    size_t U = j->U;
    double a = j->lo->teacher->weight;
    for (size_t r = r0; r < r1; r++) {
        if (w->tscale[r - r0] == 0.0f)
            continue;
        float *p = logits + (r - r0) * U;
        float aS = (float)(a * j->lo->retrieval_weight / (double)w->rowscale[r - r0]);
        p[j->b->label[r]] += aS;
        nn_axpy(p, -aS * w->tscale[r - r0], w->teach + (r - r0) * U, U);
    }
}

/* Phase 1: both towers forward on the piece's rows, into b->q and b->c. */
static void phase_forward(int t, int nt, void *arg)
{
    step_job *j = arg;
    model_batch *b = j->b;
    model_worker *w = &b->w[t];
    size_t lo, hi, ulo, uhi, D = j->D;
    mlr_pool_range(j->B, t, nt, &lo, &hi);
    mlr_pool_range(j->U, t, nt, &ulo, &uhi);
    w->qa.first_layer = w->ca.first_layer = b->first_layer;
    w->qa.dropping = b->dropping;
    w->qa.drop_feat = b->drop_feat;
    w->qa.drop = b->drop + lo;
    const float *q = model_tower_forward(&j->m->query, &w->qa, j->qin, j->rows + lo, hi - lo);
    memcpy(b->q + lo * D, q, (hi - lo) * D * sizeof(float));
    const float *c = model_tower_forward(&j->m->cand, &w->ca, j->cin, b->cand_rows + ulo, uhi - ulo);
    memcpy(b->c + ulo * D, c, (uhi - ulo) * D * sizeof(float));
    if (j->m->query.unit) {
        double inv = 1.0 / j->m->cfg.temperature;
        model_unit_rows(b->q + lo * D, b->qlen + lo, hi - lo, D);
        model_unit_rows(b->c + ulo * D, b->clen + ulo, uhi - ulo, D);
        for (size_t k = lo * D; k < hi * D; k++)
            b->qt[k] = (float)(b->q[k] * inv);
    }
    float *colbias = NULL; /* the log-Q correction of its items, then their shifts */
    if (j->lo->logq && j->lo->negatives != MODEL_NEG_ALL) { /* ALL: the exact softmax */
        colbias = b->shift + ulo;
        for (size_t u = ulo; u < uhi; u++)
            b->shift[u] = column_bias(b, j->lo, j->keys, u, j->B);
    }
    nn_softmax_shift(b->shift + ulo, colbias, b->count + ulo, uhi - ulo);
    if (j->lo->teacher)
        teacher_gather(j, t, nt);
    for (size_t r = lo; j->ratings && r < hi; r++) { /* its rows' ratings: misses */
        if (r + 16 < hi)
            __builtin_prefetch(j->ratings + j->rows[r + 16]);
        b->y[r] = j->ratings[j->rows[r]];
    }
    w->flops = w->qa.flops + w->ca.flops; /* the products the towers ran */
}

/* Phase 2: the losses of the piece's rows against every candidate; dq of
 * its rows (in its query activations), its share of dc (w->dc, (U, D)). */
static void phase_losses(int t, int nt, void *arg)
{
    step_job *j = arg;
    model_batch *b = j->b;
    model_worker *w = &b->w[t];
    const model_loss_opts *lo = j->lo;
    size_t r0, r1, D = j->D, U = j->U;
    mlr_pool_range(j->B, t, nt, &r0, &r1);
    size_t Bt = r1 - r0;
    int unit = j->m->query.unit;
    float *dq = w->qa.dh[j->m->query.mlp.n - 1];
    memset(dq, 0, Bt * D * sizeof(float));
    memset(w->dc, 0, U * D * sizeof(float));
    w->retrieval = w->rating = 0.0;
    if (lo->retrieval_weight > 0 && Bt) {
        if (Bt * U > w->lcap) { /* (Bt, U) grows with the distinct items seen */
            w->lcap = Bt * U;
            free(w->logits);
            w->logits = xmalloc(w->lcap * sizeof(float));
        }
        float *logits = w->logits;
        /* with a temperature the logits are cosines / temperature */
        const float *q = (unit ? b->qt : b->q) + r0 * D;
        nn_logits_forward(logits, q, b->c, b->shift, Bt, U, D);
        if (lo->seen)
            mask_seen(j, logits, r0, r1);
        /* TFRS sums the cross-entropy over the batch: each row's gradient
         * is retrieval_weight x that of its own loss */
        double taught = lo->teacher ? teacher_rows(j, w, logits, r0, r1) : 0.0;
        w->retrieval = (double)Bt * nn_softmax_xent_rows(logits, w->rowscale, b->label + r0,
                                                         b->count, lo->remove_hits,
                                                         lo->retrieval_weight * (double)Bt, Bt, U);
        if (lo->teacher) {
            w->retrieval += taught;
            distill_rows(j, w, logits, r0, r1);
        }
        nn_logits_backward(dq, w->dc, logits, w->rowscale, w->dqs, q, b->c, Bt, U, D);
        if (unit) /* from q / temperature to q */
            for (size_t k = 0; k < Bt * D; k++)
                dq[k] = (float)(dq[k] / j->m->cfg.temperature);
        w->flops += 6.0 * (double)Bt * (double)U * (double)D;
    }
    if (lo->rating_weight > 0 && j->ratings && Bt) {
        w->rating = rating_pass(j->m, w, b, r0, Bt, j->B, D, lo->rating_weight);
        w->flops += mlp_flops(&j->m->rating, Bt);
    }
    if (unit) /* through q / |q| to the tower's output */
        model_unit_backward(dq, b->q + r0 * D, b->qlen + r0, Bt, D);
}

/* Phase 3: dc of the piece's items summed over the pieces (in order),
 * then both towers backward on its rows into its own gradient block. */
static void phase_backward(int t, int nt, void *arg)
{
    step_job *j = arg;
    model *m = j->m;
    model_batch *b = j->b;
    model_worker *w = &b->w[t];
    size_t lo, hi, ulo, uhi, D = j->D;
    mlr_pool_range(j->B, t, nt, &lo, &hi);
    mlr_pool_range(j->U, t, nt, &ulo, &uhi);
    float *dc = w->ca.dh[m->cand.mlp.n - 1];
    memcpy(dc, b->w[0].dc + ulo * D, (uhi - ulo) * D * sizeof(float));
    for (int s = 1; s < nt; s++) /* 1 x part is part: the plain sum, vectorised */
        nn_axpy(dc, 1.0f, b->w[s].dc + ulo * D, (uhi - ulo) * D);
    if (m->cand.unit) /* through c / |c| to the tower's output */
        model_unit_backward(dc, b->c + ulo * D, b->clen + ulo, uhi - ulo, D);
    float *g = w->g ? w->g : m->grads;
    /* the last step's rows, which the other pieces read until its end */
    for (size_t i = 0; i < m->query.nfeat; i++)
        nn_rowset_clear(&w->rows[0][i]);
    for (size_t i = 0; i < m->cand.nfeat; i++)
        nn_rowset_clear(&w->rows[1][i]);
    tower_backward_g(m, &m->cand, &w->ca, j->cin, uhi - ulo, g, w->rows[1]);
    tower_backward_g(m, &m->query, &w->qa, j->qin, hi - lo, g, w->rows[0]);
}

/* The pieces' touched rows and their gradients, in piece order, into
 * the features' sets and the tables of m->grads, where the caller of
 * model_forward_backward reads them; the pieces' sets emptied. */
static void merge_rows(model *m, model_batch *b)
{
    model_tower *tw[2] = {&m->query, &m->cand};
    for (int t = 0; t < b->pieces; t++)
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < tw[s]->nfeat; i++) {
                model_feature *f = &tw[s]->feat[i];
                nn_rowset *rs = &b->w[t].rows[s][i];
                for (size_t k = 0; k < rs->n; k++) {
                    nn_rowset_add(&f->rows, rs->list[k]);
                    nn_axpy(f->demb + (size_t)rs->list[k] * rs->width, 1.0f,
                            rs->g + k * rs->width, rs->width);
                }
                nn_rowset_clear(rs);
            }
}

/* The tower side and the index of embedding f. */
static size_t feature_at(const model *m, const model_feature *f, int *side)
{
    for (*side = 0; *side < 2; (*side)++) {
        const model_tower *tw = *side ? &m->cand : &m->query;
        for (size_t i = 0; i < tw->nfeat; i++)
            if (&tw->feat[i] == f)
                return i;
    }
    return 0; /* not reached: every sparse tensor is one of the towers' */
}

/* Row k of piece t's set `own` of embedding (side, i) becomes the sum,
 * in piece order, of the rows of the n pieces `who` that touched it
 * (t among them): two add in either order to the same bits, more need
 * the order kept, in the worker's scratch row. */
static void sum_touching(model_batch *b, int t, int side, size_t i, size_t k, const int *who,
                         int n)
{
    nn_rowset *own = &b->w[t].rows[side][i];
    size_t C = own->width;
    float *g = own->g + k * C, *sum = n > 2 ? b->w[t].sum : g;
    uint32_t row = own->list[k];
    if (n > 2)
        memset(sum, 0, C * sizeof(float));
    for (int q = 0; q < n; q++) {
        const nn_rowset *rs = &b->w[who[q]].rows[side][i];
        if (rs != own || n > 2)
            nn_axpy(sum, 1.0f, rs->g + (size_t)rs->slot[row] * C, C);
    }
    if (n > 2)
        memcpy(g, sum, C * sizeof(float));
}

/* Piece t's share of the step on embedding tn: the rows it touched and
 * owns, each with the gradient rows of all the pieces that touched it
 * summed in. A row touched by one piece is its own; one touched by
 * several goes to one of them by its number, so that the pieces share
 * the rows they all touch (the small vocabularies). */
static void update_thread_rows(model *m, model_batch *b, const model_tensor *tn, int t,
                               optimizer *o)
{
    int side, who[MODEL_MAX_PIECES];
    size_t i = feature_at(m, tn->sparse, &side), n = 0;
    model_worker *w = &b->w[t];
    nn_rowset *own = &w->rows[side][i];
    for (size_t k = 0; k < own->n; k++) {
        uint32_t row = own->list[k];
        int nw = 0;
        for (int s = 0; s < b->pieces; s++)
            if (s == t || b->w[s].rows[side][i].mark[row])
                who[nw++] = s;
        if (who[row % (uint32_t)nw] != t)
            continue;
        if (nw > 1)
            sum_touching(b, t, side, i, k, who, nw);
        w->sel[n] = row;
        w->at[n++] = (uint32_t)k;
    }
    opt_update_rows_from(o, m->params, tn->off, tn->cols, w->sel, own->g, w->at, n);
}

/* m->grads[at, at+n) += each other piece's block there (in piece order),
 * which goes back to zero. */
static void reduce_run(const model *m, const model_batch *b, size_t at, size_t n)
{
    for (int s = 1; s < b->pieces; s++) {
        float *g = b->w[s].g + at;
        nn_axpy(m->grads + at, 1.0f, g, n); /* 1 x g is g: a plain sum, vectorised */
        memset(g, 0, n * sizeof(float));
    }
}

/* Phase 4, in b->pieces + b->nchunks pieces: first (with j->opt) of
 * each embedding the rows piece k owns (update_thread_rows); then the
 * dense tensors' chunks: the pieces' blocks summed into m->grads, or with
 * j->opt summed and applied in one pass by the optimiser, which zeroes
 * them again. */
static void phase_reduce(int k, int nk, void *arg)
{
    (void)nk;
    step_job *j = arg;
    model *m = j->m;
    model_batch *b = j->b;
    if (k < b->pieces) {
        for (size_t i = 0; j->opt && i < m->ntensors; i++)
            if (m->tensors[i].sparse) /* without opt, merge_rows summed the pieces' rows */
                update_thread_rows(m, b, &m->tensors[i], k, j->opt);
        return;
    }
    size_t c = (size_t)(k - b->pieces);
    if (j->opt)
        opt_update_dense_sum(j->opt, m->params, b->blocks, (size_t)b->pieces, b->chunk_off[c],
                             b->chunk_n[c]);
    else
        reduce_run(m, b, b->chunk_off[c], b->chunk_n[c]);
}

/* The reduce phase's pieces. */
static void reduce(step_job *j)
{
    model_batch *b = j->b;
    mlr_pool_pieces(b->pool, (size_t)b->pieces + b->nchunks, phase_reduce, j);
}

/* --rating-decay: grads += decay x w on the rating head's weights (piece
 * 0's block, before the pieces are summed); returns decay / 2 x |w|^2. */
static double head_decay(model *m, double decay)
{
    double sum = 0.0;
    for (size_t i = 0; i < m->ntensors; i++) {
        const model_tensor *t = &m->tensors[i];
        size_t n = (t->rows ? t->rows : 1) * t->cols;
        if (strncmp(t->name, "rating.", 7) != 0 || strstr(t->name, ".bias"))
            continue;
        const float *w = m->params + t->off;
        for (size_t k = 0; k < n; k++)
            sum += (double)w[k] * w[k];
        nn_axpy(m->grads + t->off, (float)decay, w, n);
    }
    return 0.5 * decay * sum;
}

/* The n rows of order sorted by user (stable; radix, 8 bits a pass),
 * tmp: n of scratch. */
static void rows_by_user(uint32_t *order, uint32_t *tmp, size_t n, const int32_t *user,
                         size_t nusers)
{
    for (unsigned shift = 0; shift < 32 && (nusers - 1) >> shift; shift += 8) {
        size_t at[257] = {0};
        for (size_t i = 0; i < n; i++)
            at[(((uint32_t)user[order[i]] >> shift) & 255) + 1]++;
        for (size_t d = 1; d < 257; d++)
            at[d] += at[d - 1];
        for (size_t i = 0; i < n; i++)
            tmp[at[((uint32_t)user[order[i]] >> shift) & 255]++] = order[i];
        memcpy(order, tmp, n * sizeof *order);
    }
}

/* --distill, before phase 1: each column's item key (0, no target, where
 * the teacher lacks it), each row's user (-1: none), the rows with a user
 * in the order of their users (the gather then reads each column's run
 * forward, a line at a time), room for b->tq. */
static void teacher_columns(step_job *j)
{
    const model_teacher *tc = j->lo->teacher;
    model_batch *b = j->b;
    for (size_t u = 0; u < j->U; u++) {
        int32_t k = column_key(b, j->lo, j->keys, u);
        b->colkey[u] = k > 0 && (size_t)k < tc->nkeys ? k : 0;
    }
    b->ntaught = 0;
    for (size_t r = 0; r < j->B; r++) {
        int32_t user = j->qin->ids[tc->feat][j->rows[r]];
        b->tuser[r] = user >= 0 && (size_t)user < tc->nusers ? user : -1;
        if (b->tuser[r] >= 0)
            b->torder[b->ntaught++] = (uint32_t)r;
    }
    rows_by_user(b->torder, b->torder + j->B, b->ntaught, b->tuser, tc->nusers);
    size_t need = j->B * teacher_tiles(j->U) * TQ_TILE;
    if (need > b->tqcap) {
        b->tqcap = need;
        free(b->tq);
        b->tq = xmalloc(b->tqcap * sizeof(int16_t));
    }
}

/* Phases 1-3, the losses and figures into st; the gradients stay in the
 * pieces' blocks (dense) and row sets (embeddings). */
static void forward_backward(step_job *j, model_step_stats *st)
{
    model *m = j->m;
    model_batch *b = j->b;
    const model_loss_opts *lo = j->lo;
    size_t B = j->B;
    j->D = model_out_width(m);
    if (lo->negatives != MODEL_NEG_BATCH) {
        j->cin = &lo->catalogue->in; /* the candidate tower reads the catalogue */
        j->U = catalogue_items(b, lo, j->keys, j->rows, B);
    } else {
        j->U = distinct_items(b, j->keys, j->rows, B);
    }
    if (lo->teacher)
        teacher_columns(j);
    b->dropping = 0;
    int uf = lo->id_dropout > 0 && lo->rng ? model_user_feature(m) : -1;
    if (uf >= 0) {
        b->dropping = 1;
        b->drop_feat = (size_t)uf;
        for (size_t r = 0; r < B; r++)
            b->drop[r] = mlr_rng_uniform(lo->rng) < lo->id_dropout;
    }
    mlr_pool_pieces(b->pool, (size_t)b->pieces, phase_forward, j);
    mlr_pool_pieces(b->pool, (size_t)b->pieces, phase_losses, j);
    forget_columns(b, lo, j->keys, j->U);
    mlr_pool_pieces(b->pool, (size_t)b->pieces, phase_backward, j);
    memset(st, 0, sizeof *st);
    st->distinct = j->U;
    for (int t = 0; t < b->pieces; t++) {
        st->retrieval += b->w[t].retrieval;
        st->rating += b->w[t].rating;
        st->flops += b->w[t].flops;
    }
    st->retrieval = B ? st->retrieval / (double)B : 0.0;
    st->rating = B ? st->rating / (double)B : 0.0;
    if (!(lo->rating_weight > 0 && j->ratings))
        st->rating = 0.0;
    st->loss = lo->retrieval_weight * st->retrieval * (double)B + lo->rating_weight * st->rating;
    if (lo->head_decay > 0 && lo->rating_weight > 0 && j->ratings)
        st->loss += head_decay(m, lo->head_decay);
}

void model_forward_backward(model *m, model_batch *b, const model_loss_opts *lo,
                            const model_input *qin, const model_input *cin,
                            const int32_t *keys, const float *ratings,
                            const size_t *rows, size_t B, model_step_stats *st)
{
    step_job j = {m, b, lo, qin, cin, ratings, rows, B, 0, 0, NULL, keys};
    forward_backward(&j, st);
    merge_rows(m, b);
    reduce(&j);
}

void model_train_step(model *m, model_batch *b, optimizer *o, const model_loss_opts *lo,
                      const model_input *qin, const model_input *cin,
                      const int32_t *keys, const float *ratings,
                      const size_t *rows, size_t B, model_step_stats *st)
{
    step_job j = {m, b, lo, qin, cin, ratings, rows, B, 0, 0, NULL, keys};
    forward_backward(&j, st);
    opt_begin_step(o);
    j.opt = o;
    reduce(&j); /* the row sets are emptied by the next backward */
}

/* --mask-seen, --valid-exclude: each user's training item keys, grouped
 * by the user_id feature's id (a CSR: off[u]..off[u+1] in items). */
int model_seen_build(model_seen *s, const model *m, const model_input *qin, const int32_t *keys,
                     size_t n, mlr_err *e)
{
    memset(s, 0, sizeof *s);
    int f = model_user_feature(m);
    if (f < 0)
        return mlr_fail(e, "the query tower reads no user_id (--mask-seen, --valid-exclude and --distill need it)");
    s->feat = (size_t)f;
    s->nusers = m->query.feat[f].vocab;
    s->off = xcalloc(s->nusers + 1, sizeof(size_t));
    s->items = xmalloc((n ? n : 1) * sizeof(int32_t));
    const int32_t *user = qin->ids[f];
    for (size_t r = 0; r < n; r++)
        s->off[user[r] + 1]++;
    for (size_t u = 0; u < s->nusers; u++)
        s->off[u + 1] += s->off[u];
    size_t *at = xmalloc((s->nusers + 1) * sizeof(size_t));
    memcpy(at, s->off, (s->nusers + 1) * sizeof(size_t));
    for (size_t r = 0; r < n; r++)
        s->items[at[user[r]]++] = keys[r];
    free(at);
    return 0;
}

void model_seen_free(model_seen *s)
{
    free(s->off);
    free(s->items);
    memset(s, 0, sizeof *s);
}
