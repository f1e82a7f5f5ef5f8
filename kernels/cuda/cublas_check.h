/* cublas_check.h — every cuBLAS call checked: on error the process prints
 * "dam: cuBLAS error in <call> at <file>:<line>: <status string>" and exits with status 3
 * (DAM_EXIT_RUNTIME, core/error.h), as CUDA_CHECK does for the runtime (cuda_check.h). */
#ifndef DAM_KERNELS_CUDA_CUBLAS_CHECK_H
#define DAM_KERNELS_CUDA_CUBLAS_CHECK_H

#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>

#define CUBLAS_CHECK(call)                                                                            \
    do {                                                                                              \
        cublasStatus_t st_ = (call);                                                                  \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                           \
            fflush(stdout);                                                                           \
            fprintf(stderr, "dam: cuBLAS error in %s at %s:%d: %s\n", #call, __FILE__, __LINE__,     \
                    cublasGetStatusString(st_));                                                      \
            exit(3);                                                                                  \
        }                                                                                             \
    } while (0)

#endif
