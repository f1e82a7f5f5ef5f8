/* test.h — the few helpers every C test uses: checks that count failures and report file:line,
 * and tolerance comparisons. A test binary returns non-zero when any check failed. */
#ifndef DAM_TESTS_TEST_H
#define DAM_TESTS_TEST_H

#include <math.h>
#include <stdio.h>

static int test_failures;
static int test_checks;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        test_checks++;                                                    \
        if (!(cond)) {                                                    \
            test_failures++;                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_NEAR(a, b, atol, rtol, ...) \
    CHECK(fabs((double)(a) - (double)(b)) <= (atol) + (rtol) * fabs((double)(b)), __VA_ARGS__)

/* Prints a summary line and returns the process exit status. */
static inline int test_done(const char *name) {
    printf("%-28s %s (%d checks, %d failed)\n", name, test_failures ? "FAIL" : "ok", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
