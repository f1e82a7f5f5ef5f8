/* cuda_mem.h — device memory with a byte count and a high-water mark, as core/mem.h does for the
 * host: every device allocation of the model, its state, attention plans and scratch goes through
 * here, so the harness reports peak device memory from its own count (beside cudaMemGetInfo).
 * Allocations come from the device's default memory pool, stream-ordered on the legacy default stream
 * (cudaMallocAsync / cudaFreeAsync on stream 0, where all of the backend's work runs): a free takes
 * effect after the work queued before it, without synchronising the device, and freed memory stays
 * in the pool for the next allocation (the pool is trimmed and the allocation retried once before
 * an out-of-memory exit). cudaMemGetInfo therefore counts pooled free memory as used.
 *
 * Errors: an allocation that fails prints "dam: out of GPU memory: <what>: <bytes> bytes requested,
 * <in use> in use, <free> free on the device" and exits with status 3 (DAM_EXIT_RUNTIME); any other
 * CUDA error exits with 3 naming the call (cuda_check.h). Not thread-safe (one host thread drives
 * the device). C API, callable from C11 and CUDA C++. */
#ifndef DAM_KERNELS_CUDA_MEM_H
#define DAM_KERNELS_CUDA_MEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A stream-ordered allocation of `bytes` from the pool (0 gives NULL), counted; `what` names the buffer in the error message. */
void *dam_cuda_malloc(size_t bytes, const char *what);

/* dam_cuda_malloc + cudaMemset to zero (on stream 0). */
void *dam_cuda_calloc(size_t bytes, const char *what);

/* Frees a pointer from dam_cuda_malloc in stream order (NULL is a no-op); an unknown pointer exits with 3. */
void dam_cuda_free(void *p);

/* Waits for stream 0 and returns the pool's free memory to the device, for an allocation made outside
 * dam_cuda_malloc (a cuBLAS handle and its workspace), which cannot use the pool's free blocks. */
void dam_cuda_pool_trim(void);

/* Bytes currently allocated through dam_cuda_malloc, and the most since the last reset. */
size_t dam_cuda_mem_in_use(void);
size_t dam_cuda_mem_peak(void);

/* Sets the high-water mark to the bytes in use now. */
void dam_cuda_mem_reset_peak(void);

/* Copies rows x cols bf16 values from device memory (row stride src_stride elements) to host
 * floats dst[rows][cols] (exact: bf16 widens to fp32 without rounding). Synchronous. */
void dam_cuda_download_bf16(float *dst, const uint16_t *src, size_t rows, size_t cols, size_t src_stride);

/* Exits with status 3 and one line if there is no usable CUDA device ("no CUDA device: <reason>")
 * or its compute capability is below 9.0 (the kernels are built for sm_90a + compute_90 PTX only:
 * Hopper or newer). Cheap; call it before any work that is useless without the GPU. */
void dam_cuda_require_device(void);

/* Device description for results files: name = "<GPU name> (sm_XY, <memory> GiB)", cuda = the
 * runtime version ("13.0"), driver = the driver's CUDA version. Exits with 3 if no device. */
void dam_cuda_device_info(char *name, size_t name_len, char *cuda, size_t cuda_len, char *driver, size_t driver_len);

#ifdef __cplusplus
}
#endif

#endif
