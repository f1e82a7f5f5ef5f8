// cuda_mem.cu — see cuda_mem.h.
#include "kernels/cuda/cuda_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace {
struct allocation {
    void *p;
    size_t bytes;
};
std::vector<allocation> g_live; // few hundred live buffers at most: a linear search is enough
size_t g_in_use = 0, g_peak = 0;

// The device's default memory pool, kept from the first allocation with a release threshold of "never":
// cudaFree synchronises the device and both it and cudaMalloc cost tens to hundreds of microseconds,
// which per-step buffers (attention plans of every layer, estimation scratch) paid many times a prompt.
// Allocations and frees are stream-ordered on the legacy default stream, where every kernel, copy and
// cuBLAS call of the backend runs, so a freed block is reused only after the work queued before the
// free. Freed memory stays reserved by the pool (cudaMemGetInfo counts it as used); the byte count
// below is what the harness reports.
cudaMemPool_t pool() {
    static cudaMemPool_t p;
    static bool ready = false;
    if (!ready) {
        int dev = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetDefaultMemPool(&p, dev));
        uint64_t keep = UINT64_MAX;
        CUDA_CHECK(cudaMemPoolSetAttribute(p, cudaMemPoolAttrReleaseThreshold, &keep));
        ready = true;
    }
    return p;
}
} // namespace

extern "C" void dam_cuda_pool_trim(void) {
    CUDA_CHECK(cudaStreamSynchronize(0)); // (frees the host has not seen complete are not trimmed)
    CUDA_CHECK(cudaMemPoolTrimTo(pool(), 0));
}

extern "C" void *dam_cuda_malloc(size_t bytes, const char *what) {
    if (bytes == 0) return NULL;
    void *p = NULL;
    (void)pool(); // (created, its release threshold set, on first use)
    cudaError_t e = cudaMallocAsync(&p, bytes, 0);
    if (e == cudaErrorMemoryAllocation) { // the pool's free blocks may be too fragmented: hand them back, retry
        (void)cudaGetLastError();
        dam_cuda_pool_trim();
        e = cudaMallocAsync(&p, bytes, 0);
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); // clear the error state of a failed allocation
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        fflush(stdout);
        fprintf(stderr, "dam: out of GPU memory: %s: %zu bytes requested, %zu in use, %zu free on the device (%s)\n",
                what, bytes, g_in_use, free_b, cudaGetErrorString(e));
        exit(3);
    }
    g_live.push_back({p, bytes});
    g_in_use += bytes;
    if (g_in_use > g_peak) g_peak = g_in_use;
    return p;
}

extern "C" void *dam_cuda_calloc(size_t bytes, const char *what) {
    void *p = dam_cuda_malloc(bytes, what);
    if (p) CUDA_CHECK(cudaMemset(p, 0, bytes));
    return p;
}

extern "C" void dam_cuda_free(void *p) {
    if (p == NULL) return;
    for (size_t i = 0; i < g_live.size(); i++)
        if (g_live[i].p == p) {
            g_in_use -= g_live[i].bytes;
            g_live[i] = g_live.back();
            g_live.pop_back();
            CUDA_CHECK(cudaFreeAsync(p, 0)); // (stream-ordered: after the work queued before it)
            return;
        }
    fflush(stdout);
    fprintf(stderr, "dam: internal error: dam_cuda_free of a pointer not from dam_cuda_malloc\n");
    exit(3);
}

extern "C" size_t dam_cuda_mem_in_use(void) { return g_in_use; }
extern "C" size_t dam_cuda_mem_peak(void) { return g_peak; }
extern "C" void dam_cuda_mem_reset_peak(void) { g_peak = g_in_use; }

extern "C" void dam_cuda_download_bf16(float *dst, const uint16_t *src, size_t rows, size_t cols, size_t src_stride) {
    if (rows == 0 || cols == 0) return;
    uint16_t *h = (uint16_t *)malloc(sizeof(uint16_t) * rows * cols);
    if (h == NULL) {
        fprintf(stderr, "dam: out of host memory copying %zu x %zu bf16 values from the GPU\n", rows, cols);
        exit(3);
    }
    CUDA_CHECK(cudaMemcpy2D(h, cols * sizeof(uint16_t), src, src_stride * sizeof(uint16_t), cols * sizeof(uint16_t), rows,
                            cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < rows * cols; i++) {
        uint32_t u = (uint32_t)h[i] << 16;
        memcpy(&dst[i], &u, sizeof u);
    }
    free(h);
}

extern "C" void dam_cuda_require_device(void) {
    int n = 0, dev = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        fflush(stdout);
        // (without a GPU, or without its driver, CUDA says "driver version is insufficient": name the cause)
        fprintf(stderr, "dam: --device cuda: no usable NVIDIA GPU on this machine (%s%s)\n",
                e == cudaErrorInsufficientDriver ? "no NVIDIA driver, or one older than this build's CUDA; CUDA says: " : "",
                e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices");
        exit(3);
    }
    cudaDeviceProp p;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    if (p.major < 9) {
        fflush(stdout);
        fprintf(stderr, "dam: --device cuda: %s has compute capability %d.%d; this build needs 9.0 (Hopper) or newer\n",
                p.name, p.major, p.minor);
        exit(3);
    }
}

extern "C" void dam_cuda_device_info(char *name, size_t name_len, char *cuda, size_t cuda_len, char *driver,
                                     size_t driver_len) {
    int dev = 0, rt = 0, drv = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp p;
    CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
    CUDA_CHECK(cudaRuntimeGetVersion(&rt));
    CUDA_CHECK(cudaDriverGetVersion(&drv));
    snprintf(name, name_len, "%s (sm_%d%d, %.1f GiB)", p.name, p.major, p.minor, p.totalGlobalMem / 1073741824.0);
    snprintf(cuda, cuda_len, "%d.%d", rt / 1000, rt % 1000 / 10);
    snprintf(driver, driver_len, "%d.%d", drv / 1000, drv % 1000 / 10);
}
