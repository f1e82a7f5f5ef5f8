// cta_sort.cuh — a sort done by one CTA in shared memory (or its own part of device memory), for
// the kernels that order short rows: the estimation kernels (estimate*.cu: XAttention's key blocks,
// MInference's top-k, dam_online's probe blocks) and the plan build's CTA order
// (attention_plan_gpu.cu, plans of up to PLAN_SMALL_ITEMS items). Header-only (a template).
#ifndef DAM_KERNELS_CUDA_CTA_SORT_CUH
#define DAM_KERNELS_CUDA_CTA_SORT_CUH

// Bitonic sort of key[0 .. p) with val[0 .. p) (p a power of two; the CTA's shared memory or its own
// part of device memory) into the order "larger key first, equal keys by the smaller val" — a total
// order on distinct vals, so the result is that of a stable descending sort of the keys by val.
// Pad unused entries with a key below every real one. Every thread of the CTA calls it; it starts
// and ends with a barrier.
template <typename K, typename V>
__device__ void bitonic_sort_desc(K *key, V *val, int p) {
    for (int k = 2; k <= p; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            __syncthreads();
            for (int i = threadIdx.x; i < p / 2; i += blockDim.x) {
                const int a = 2 * i - (i & (j - 1)), b = a + j; // the pairs (a, a + j) with bit j of a clear
                const K ka = key[a], kb = key[b];
                const V va = val[a], vb = val[b];
                const bool a_first = ka > kb || (ka == kb && va < vb), up = (a & k) == 0; // up: this run descends
                if (a_first != up) key[a] = kb, key[b] = ka, val[a] = vb, val[b] = va;
            }
        }
    __syncthreads();
}

#endif
