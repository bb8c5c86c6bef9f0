/* vec.h: a growable array of fixed-size elements, the one the tools
 * append rows, ids and text to (it doubles, from 1024 elements).
 *
 *   mlr_vec ids = {.elem = sizeof(int32_t)};
 *   *(int32_t *)mlr_vec_push(&ids, 1) = 7;
 *   memcpy(mlr_vec_push(&ids, n), src, n * sizeof(int32_t));
 *
 * p holds n elements (NULL while cap is 0); a pointer into it lasts until
 * the next push or room. Out of memory aborts (xrealloc). */
#ifndef MLR_VEC_H
#define MLR_VEC_H

#include <stddef.h>

typedef struct {
    void *p;
    size_t n, cap, elem; /* elem: the bytes of one element, set before use */
} mlr_vec;

/* Room for k more elements, counted in n: returns the first of them. */
void *mlr_vec_push(mlr_vec *v, size_t k);
/* Room for k more elements after the n, not counted: returns the first
 * (for a writer that learns how many it wrote; it then adds to n). */
void *mlr_vec_room(mlr_vec *v, size_t k);
/* Frees p; v is empty again, elem kept. */
void mlr_vec_free(mlr_vec *v);

#endif
