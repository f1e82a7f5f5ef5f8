/* dequant.h — ggml tensor types and their dequantisation to fp32.
 *
 * Block layouts follow ggml (ggml-common.h): a block of `block_size` elements is stored in
 * `type_size` bytes. Supported here: F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, and the
 * K-quants Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K (256-element super-blocks; layouts in dequant.c).
 *   Q8_0: fp16 d; int8 q[32];              x = d * q
 *   Q4_0: fp16 d; uint8 qs[16];            x[i] = d * ((qs[i] & 15) - 8), x[i+16] = d * ((qs[i] >> 4) - 8)
 *   Q4_1: fp16 d, m; uint8 qs[16];         x[i] = d * (qs[i] & 15) + m,   x[i+16] = d * (qs[i] >> 4) + m
 *   Q5_0: fp16 d; uint32 qh; uint8 qs[16]; 5th bit of element i from bit i of qh; x = d * (q - 16)
 *   Q5_1: fp16 d, m; uint32 qh; qs[16];    x = d * q + m
 *   Q4_K / Q5_K: fp16 d, dmin; 6-bit scale sc and min m per 32 elements; x = (d*sc) * q - (dmin*m)
 *   Q2_K: 4-bit scale and min per 16 elements, same form; Q3_K, Q6_K: signed scale per 16 elements,
 *   x = (d*sc) * q; Q8_K: float32 d, x = d * q.
 * Every other known type is recognised (so the reader can size and bounds-check its data) but
 * dequantising it is an input error naming the tensor and type. */
#ifndef DAM_MODEL_DEQUANT_H
#define DAM_MODEL_DEQUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/gguf.h"

/* Static description of one ggml type. */
typedef struct {
    const char *name;   /* "Q4_1" */
    uint32_t block_size; /* elements per block */
    uint32_t type_size;  /* bytes per block */
    bool supported;      /* dequant_row implements it */
} ggml_type_info;

/* The description of ggml type id `type`, or NULL for an id that is not a ggml type. */
const ggml_type_info *ggml_type_get(uint32_t type);

/* Converts an IEEE half / bfloat16 bit pattern to float (exact). */
float fp16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);

/* Dequantises `n` elements (a multiple of the type's block size) of supported type `type` from
 * `src` (n / block_size blocks) into dst[0..n). The caller guarantees both conditions. */
void dequant_row(uint32_t type, const void *src, float *dst, uint64_t n);

/* Dequantises a whole tensor of `f` into dst[0..t->n_elements). Exits with status 2 naming the
 * file, tensor and type if the type is not supported. */
void dequant_tensor(const gguf_file *f, const gguf_tensor *t, float *dst);

#endif
