// attention_io.cuh — the input / output description both prefill attention kernels start their
// parameter block with (attention_masked.cu, attention_wgmma.cu): q [n_q][q_stride] bf16 (head h at
// columns h·d), k and v [n_kv_heads][kv_cap][d] bf16, out [n_q][out_stride] bf16; n_q query rows
// after n_k keys (query row t at position q_base + t, q_base = n_k − n_q); GQA group n_heads /
// n_kv_heads. Host code; the callers have checked the shape, strides and alignment.
#ifndef DAM_KERNELS_CUDA_ATTENTION_IO_CUH
#define DAM_KERNELS_CUDA_ATTENTION_IO_CUH

#include <cuda_bf16.h>

#include "kernels/cuda/attention_masked.h"

// Sets those fields of a kernel's parameter block P (any struct with the members below).
template <typename P>
inline void attn_io_set(P &p, dam_bf16 *out, int out_stride, const dam_bf16 *q, int q_stride, int n_q, const dam_bf16 *k,
                        const dam_bf16 *v, int kv_cap, int n_k, int n_heads, int n_kv_heads) {
    p.q = reinterpret_cast<const __nv_bfloat16 *>(q);
    p.k = reinterpret_cast<const __nv_bfloat16 *>(k);
    p.v = reinterpret_cast<const __nv_bfloat16 *>(v);
    p.o = reinterpret_cast<__nv_bfloat16 *>(out);
    p.q_stride = q_stride;
    p.o_stride = out_stride;
    p.kv_cap = kv_cap;
    p.n_q = n_q;
    p.n_k = n_k;
    p.group = n_heads / n_kv_heads;
    p.q_base = n_k - n_q;
}

#endif
