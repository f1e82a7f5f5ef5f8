/* mem.c — see mem.h. Each block carries a 64-byte header holding its payload size, so frees
 * can be counted without a lookup table and the payload stays 64-byte aligned. */
#include "core/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define HEADER 64

static atomic_size_t in_use;
static atomic_size_t peak;

static void count_alloc(size_t bytes) {
    size_t now = atomic_fetch_add(&in_use, bytes) + bytes;
    size_t old = atomic_load(&peak);
    while (now > old && !atomic_compare_exchange_weak(&peak, &old, now)) {
    }
}

static void *alloc_block(size_t bytes, const char *what) {
    if (bytes > SIZE_MAX - HEADER - 1)
        dam_die(DAM_EXIT_RUNTIME, "out of memory: %s needs %zu bytes", what, bytes);
    void *base = NULL;
    /* +1: a zero-byte payload still lies inside its block, so leak checkers that scan for
       pointers into blocks (LeakSanitizer) see it as referenced */
    if (posix_memalign(&base, HEADER, bytes + HEADER + 1) != 0 || base == NULL)
        dam_die(DAM_EXIT_RUNTIME, "out of memory: %s needs %zu bytes", what, bytes);
    *(size_t *)base = bytes;
    count_alloc(bytes);
    return (char *)base + HEADER;
}

void *dam_malloc(size_t bytes, const char *what) { return alloc_block(bytes, what); }

void *dam_calloc(size_t n, size_t size, const char *what) {
    if (size != 0 && n > SIZE_MAX / size)
        dam_die(DAM_EXIT_RUNTIME, "out of memory: %s needs %zu x %zu bytes", what, n, size);
    void *p = alloc_block(n * size, what);
    memset(p, 0, n * size);
    return p;
}

void *dam_realloc(void *p, size_t bytes, const char *what) {
    if (p == NULL) return alloc_block(bytes, what);
    size_t old = *(size_t *)((char *)p - HEADER);
    void *q = alloc_block(bytes, what);
    memcpy(q, p, old < bytes ? old : bytes);
    dam_free(p);
    return q;
}

char *dam_strdup(const char *s, const char *what) {
    size_t n = strlen(s) + 1;
    char *d = alloc_block(n, what);
    memcpy(d, s, n);
    return d;
}

void dam_free(void *p) {
    if (p == NULL) return;
    void *base = (char *)p - HEADER;
    atomic_fetch_sub(&in_use, *(size_t *)base);
    free(base);
}

size_t dam_mem_in_use(void) { return atomic_load(&in_use); }
size_t dam_mem_peak(void) { return atomic_load(&peak); }
void dam_mem_reset_peak(void) { atomic_store(&peak, atomic_load(&in_use)); }
