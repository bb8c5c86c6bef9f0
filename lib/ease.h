/* ease.h: Steck 2019, "Embarrassingly Shallow Autoencoders" (EASE): with X
 * the binary user x item matrix of the training rows, G = X^T X + lambda I,
 * P = G^-1 (Cholesky, LAPACK spotrf/spotri from OpenBLAS),
 * B = -P / diag(P) column by column, diag(B) = 0; a user's score of item j
 * is the sum over the user's items i of B_ij. mlr-baseline --kind ease and
 * mlr-recommend --fuse-ease.
 *
 * Shapes: M items, U users; B is (M, M), row i the weights item i gives
 * every item. */
#ifndef MLR_EASE_H
#define MLR_EASE_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "mlr.h"

#define MLR_EASE_MAX_ITEMS 20000 /* B of 20,000 items: 1.6 GB */

/* B of the users' item sets (ids < m). NULL and e filled when m is over
 * the cap or G is singular. */
float *mlr_ease_fit(const mlr_usersets *x, size_t m, double lambda, mlr_err *e);

/* out (M): the scores of a user whose items are items[0..n), distinct
 * (a set of mlr_usersets). */
void mlr_ease_scores(const float *b, size_t m, const uint32_t *items, size_t n, float *out);

#endif
