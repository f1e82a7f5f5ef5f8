/* mem.h — the harness's own allocator with byte accounting.
 *
 * Every buffer whose size scales with the model or the sequence (weights, KV cache, activations,
 * attention tiles, mask plans) is allocated here, so the harness can report bytes in use and a
 * high-water mark per example. Process RSS cannot do this: it never goes down, so it cannot give
 * per-example peaks. Counting is thread-safe (C11 atomics).
 *
 * Alignment: every block is 64-byte aligned (cache line, AVX-512). Out of memory is a runtime
 * failure: the process exits with status 3 naming what was being allocated and how many bytes. */
#ifndef DAM_CORE_MEM_H
#define DAM_CORE_MEM_H

#include <stddef.h>

/* Allocates `bytes` (0 is allowed and returns a valid, freeable block). `what` names the buffer
 * for the out-of-memory message ("KV cache", "blk.3.ffn_up.weight"). Never returns NULL. */
void *dam_malloc(size_t bytes, const char *what);

/* Like dam_malloc for n * size bytes, zero-filled; exits with status 3 if n * size overflows. */
void *dam_calloc(size_t n, size_t size, const char *what);

/* Grows or shrinks a block from dam_malloc/dam_calloc (NULL acts as dam_malloc). Contents up to
 * min(old, new) bytes are kept; the old block is released. Never returns NULL. */
void *dam_realloc(void *p, size_t bytes, const char *what);

/* Copies a NUL-terminated string into a counted block. */
char *dam_strdup(const char *s, const char *what);

/* Releases a block from this allocator; NULL is a no-op. */
void dam_free(void *p);

/* Bytes currently allocated through this allocator (payload bytes, headers excluded). */
size_t dam_mem_in_use(void);

/* Highest dam_mem_in_use() since the start or the last dam_mem_reset_peak(), in bytes. */
size_t dam_mem_peak(void);

/* Sets the high-water mark to the current bytes in use (call before each example). */
void dam_mem_reset_peak(void);

#endif
