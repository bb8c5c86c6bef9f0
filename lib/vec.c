/* vec.c: the growable array of vec.h. */
#include "vec.h"

#include <stdlib.h>

#include "mlr.h"

void *mlr_vec_room(mlr_vec *v, size_t k)
{
    if (v->n + k > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap < v->n + k)
            cap *= 2;
        v->p = xrealloc(v->p, cap * v->elem);
        v->cap = cap;
    }
    return (char *)v->p + v->n * v->elem;
}

void *mlr_vec_push(mlr_vec *v, size_t k)
{
    void *at = mlr_vec_room(v, k);
    v->n += k;
    return at;
}

void mlr_vec_free(mlr_vec *v)
{
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
}
