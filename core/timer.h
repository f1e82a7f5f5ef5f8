/* timer.h — wall-clock milliseconds from a monotonic clock (CLOCK_MONOTONIC). */
#ifndef DAM_CORE_TIMER_H
#define DAM_CORE_TIMER_H

#include <time.h>

/* Milliseconds since an arbitrary fixed point; differences are elapsed wall time. */
static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

#endif
