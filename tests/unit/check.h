/* check.h: the two-macro unit test harness. Each RUN prints one line,
 * "PASS name" or "FAIL name: file:line: expression", which tests/run.sh
 * counts; main returns non-zero when any test failed.
 *
 *   static void test_split(void) { CHECK(1 + 1 == 2); }
 *   int main(void) { RUN(test_split); return check_status(); }
 */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static const char *check_name_;
static int check_bad_, check_failures_;

#define CHECK(cond) do { if (!(cond)) { \
    printf("FAIL %s: %s:%d: %s\n", check_name_, __FILE__, __LINE__, #cond); \
    check_bad_ = 1; return; } } while (0)

/* Like CHECK, with a printf-style explanation. */
#define CHECKF(cond, ...) do { if (!(cond)) { \
    printf("FAIL %s: %s:%d: ", check_name_, __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); check_bad_ = 1; return; } } while (0)

#define RUN(fn) do { check_name_ = #fn; check_bad_ = 0; fn(); \
    if (check_bad_) check_failures_++; else printf("PASS %s\n", #fn); \
    fflush(stdout); } while (0)

static inline int check_status(void) { return check_failures_ != 0; }
#endif
