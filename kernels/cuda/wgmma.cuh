// wgmma.cuh — Hopper warpgroup matrix-multiply building blocks (sm_90a only; PTX ISA 8.0+,
// "Asynchronous warpgroup level matrix multiply-accumulate", wgmma.mma_async): the shared-memory
// matrix descriptor for 128-byte-swizzled tiles, wgmma.fence / commit_group / wait_group, the
// generic-to-async proxy fence, and the four bf16 x bf16 -> fp32 shapes the dense attention kernel
// (attention_wgmma.cu) issues. Shared-memory tiles are stored as [rows][64] bf16 blocks, row r at
// byte r·128 of its block, 16-byte chunk c at chunk position c ^ (r % 8) (the 128-byte swizzle;
// each block 1024-byte aligned); a [rows][D] tile is D / 64 such blocks one after another.
// Register fragments: the accumulator of m64nNk16 holds, in thread (warp w of the warpgroup, lane),
// rows 16·w + lane/4 and + 8, columns 8·j + 2·(lane % 4) + {0, 1} of n8 block j: d[4j], d[4j+1]
// (first row), d[4j+2], d[4j+3] (second row) — the mma.sync m16n8 layout per 8 columns.
#ifndef DAM_KERNELS_CUDA_WGMMA_CUH
#define DAM_KERNELS_CUDA_WGMMA_CUH

#include <stdint.h>

namespace {

// Matrix descriptor (PTX "Matrix Descriptor Format"): start address, leading and stride byte
// offsets (each >> 4, 14 bits), swizzle mode 1 = 128 B in bits 62-63; base offset 0 (tiles
// 1024-byte aligned). K-major: lbo unused (16), sbo = 1024 (8 rows of 128 B). N-major: lbo = bytes
// between 64-column blocks, sbo = 1024 (8 K-rows of 128 B).
__device__ __forceinline__ uint64_t gmma_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)((smem_addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) |
           (1ull << 62);
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// shared memory written through the generic proxy (st.shared, cp.async) and read next by wgmma
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// pins a register across asynchronous wgmma (the compiler must not move its uses past this point)
__device__ __forceinline__ void reg_fence(float &x) { asm volatile("" : "+f"(x)::"memory"); }
__device__ __forceinline__ void reg_fence(uint32_t &x) { asm volatile("" : "+r"(x)::"memory"); }

// The accumulator operands: "%0" .. "%63" in the instruction text, bound to d[0] .. d[63] ("+f":
// read and written, the instruction accumulates in place).
#define WG_ACC_0_31                                                                                    \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                            \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define WG_ACC_32_63                                                                                   \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "                  \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define WG_F8(d, i) \
    "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define WG_F32(d, i) WG_F8(d, i), WG_F8(d, i + 8), WG_F8(d, i + 16), WG_F8(d, i + 24)

// D[64 x 128] (+)= A[64 x 16] · B[16 x 128] (S = Q K^T): A and B from shared memory, both K-major
// (descriptors); accumulates when accumulate != 0, else overwrites D.
__device__ __forceinline__ void wgmma_m64n128k16_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" WG_ACC_0_31 ", " WG_ACC_32_63
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : WG_F32(d, 0), WG_F32(d, 32)
                 : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// D[64 x 64] (+)= A[64 x 16] · B[16 x 64] (S = Q K^T with 64-key tiles): as wgmma_m64n128k16_ss.
__device__ __forceinline__ void wgmma_m64n64k16_ss(float (&d)[32], uint64_t desc_a, uint64_t desc_b, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" WG_ACC_0_31 "}, %32, %33, p, 1, 1, 0, 0;\n}\n"
                 : WG_F32(d, 0)
                 : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// D[64 x 64] += A[64 x 16] · B[16 x 64] (O += P V): A from registers (per warp the
// mma.sync m16n8k16 A fragment of its 16 rows), B from shared memory N-major (imm-trans-b = 1).
__device__ __forceinline__ void wgmma_m64n64k16_rs_tb(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" WG_ACC_0_31
                 "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
                 : WG_F32(d, 0)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}

// D[64 x 128] += A[64 x 16] · B[16 x 128] (O += P V): as above with 128 columns.
__device__ __forceinline__ void wgmma_m64n128k16_rs_tb(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" WG_ACC_0_31 ", " WG_ACC_32_63
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"
                 : WG_F32(d, 0), WG_F32(d, 32)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}

#undef WG_ACC_0_31
#undef WG_ACC_32_63
#undef WG_F8
#undef WG_F32

}  // namespace

#endif
