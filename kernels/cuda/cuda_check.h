/* cuda_check.h — every CUDA runtime call checked: on error the process prints
 * "dam: CUDA error in <call> at <file>:<line>: <message>" and exits with status 3 (DAM_EXIT_RUNTIME,
 * core/error.h). CUDA_LAUNCH_CHECK(name) checks the last launch error after a kernel launch. */
#ifndef DAM_KERNELS_CUDA_CHECK_H
#define DAM_KERNELS_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CUDA_CHECK(call)                                                                              \
    do {                                                                                              \
        cudaError_t err_ = (call);                                                                    \
        if (err_ != cudaSuccess) {                                                                    \
            fflush(stdout);                                                                           \
            fprintf(stderr, "dam: CUDA error in %s at %s:%d: %s\n", #call, __FILE__, __LINE__,        \
                    cudaGetErrorString(err_));                                                        \
            exit(3);                                                                                  \
        }                                                                                             \
    } while (0)

#define CUDA_LAUNCH_CHECK(name)                                                                       \
    do {                                                                                              \
        cudaError_t err_ = cudaGetLastError();                                                        \
        if (err_ != cudaSuccess) {                                                                    \
            fflush(stdout);                                                                           \
            fprintf(stderr, "dam: CUDA error in launch of %s at %s:%d: %s\n", name, __FILE__, __LINE__, \
                    cudaGetErrorString(err_));                                                        \
            exit(3);                                                                                  \
        }                                                                                             \
    } while (0)

#endif
