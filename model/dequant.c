/* dequant.c — see dequant.h. Type ids, block sizes and block byte sizes follow ggml's type table
 * (checked against the `gguf` Python package's GGML_QUANT_SIZES in tests/test_dequant.c). */
#include "model/dequant.h"

#include <string.h>

#include "core/error.h"

#define T(nm, bs, ts, sup) {nm, bs, ts, sup}
static const ggml_type_info TYPES[] = {
    [0] = T("F32", 1, 4, true),
    [1] = T("F16", 1, 2, true),
    [2] = T("Q4_0", 32, 18, true),
    [3] = T("Q4_1", 32, 20, true),
    [6] = T("Q5_0", 32, 22, true),
    [7] = T("Q5_1", 32, 24, true),
    [8] = T("Q8_0", 32, 34, true),
    [9] = T("Q8_1", 32, 36, false),
    [10] = T("Q2_K", 256, 84, true),
    [11] = T("Q3_K", 256, 110, true),
    [12] = T("Q4_K", 256, 144, true),
    [13] = T("Q5_K", 256, 176, true),
    [14] = T("Q6_K", 256, 210, true),
    [15] = T("Q8_K", 256, 292, true),
    [16] = T("IQ2_XXS", 256, 66, false),
    [17] = T("IQ2_XS", 256, 74, false),
    [18] = T("IQ3_XXS", 256, 98, false),
    [19] = T("IQ1_S", 256, 50, false),
    [20] = T("IQ4_NL", 32, 18, false),
    [21] = T("IQ3_S", 256, 110, false),
    [22] = T("IQ2_S", 256, 82, false),
    [23] = T("IQ4_XS", 256, 136, false),
    [24] = T("I8", 1, 1, false),
    [25] = T("I16", 1, 2, false),
    [26] = T("I32", 1, 4, false),
    [27] = T("I64", 1, 8, false),
    [28] = T("F64", 1, 8, true),
    [29] = T("IQ1_M", 256, 56, false),
    [30] = T("BF16", 1, 2, true),
    [34] = T("TQ1_0", 256, 54, false),
    [35] = T("TQ2_0", 256, 66, false),
    [39] = T("MXFP4", 32, 17, false),
    [40] = T("NVFP4", 64, 36, false),
    [41] = T("Q1_0", 128, 18, false),
    [42] = T("Q2_0", 64, 18, false),
};
#undef T

const ggml_type_info *ggml_type_get(uint32_t type) {
    if (type >= sizeof TYPES / sizeof TYPES[0] || TYPES[type].name == NULL) return NULL;
    return &TYPES[type];
}

float fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: value = mant * 2^-24, renormalise */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while ((mant & 0x400) == 0);
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- 32-element blocks (ggml-common.h block_q8_0 .. block_q5_1) ---- */

static void block_q8_0(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk));
    for (int i = 0; i < 32; i++) y[i] = d * (float)(int8_t)blk[2 + i];
}

static void block_q4_0(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk));
    const uint8_t *qs = blk + 2;
    for (int i = 0; i < 16; i++) {
        y[i] = d * (float)((qs[i] & 15) - 8);
        y[i + 16] = d * (float)((qs[i] >> 4) - 8);
    }
}

static void block_q4_1(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk)), m = fp16_to_f32(rd16(blk + 2));
    const uint8_t *qs = blk + 4;
    for (int i = 0; i < 16; i++) {
        y[i] = d * (float)(qs[i] & 15) + m;
        y[i + 16] = d * (float)(qs[i] >> 4) + m;
    }
}

static void block_q5_0(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk));
    uint32_t qh = rd32(blk + 2);
    const uint8_t *qs = blk + 6;
    for (int i = 0; i < 16; i++) {
        int lo = (qs[i] & 15) | (int)(((qh >> i) & 1) << 4);
        int hi = (qs[i] >> 4) | (int)(((qh >> (i + 16)) & 1) << 4);
        y[i] = d * (float)(lo - 16);
        y[i + 16] = d * (float)(hi - 16);
    }
}

static void block_q5_1(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk)), m = fp16_to_f32(rd16(blk + 2));
    uint32_t qh = rd32(blk + 4);
    const uint8_t *qs = blk + 8;
    for (int i = 0; i < 16; i++) {
        int lo = (qs[i] & 15) | (int)(((qh >> i) & 1) << 4);
        int hi = (qs[i] >> 4) | (int)(((qh >> (i + 16)) & 1) << 4);
        y[i] = d * (float)lo + m;
        y[i + 16] = d * (float)hi + m;
    }
}

/* ---- 256-element super-blocks (K-quants, ggml-common.h block_q2_K .. block_q8_K) ----
 * Element order: the super-block is walked in halves of 128 elements; inside a half, the 2-bit
 * (Q2_K, Q3_K) or 4-bit (Q4_K, Q5_K, Q6_K) fields of the same bytes give consecutive runs of 32
 * (or 16) elements, lowest bits first. Sub-block scales are applied as (d * sc) * q - (dmin * m),
 * in that order, as ggml's dequantize_row_* and the gguf package do. */

/* Q2_K: uint8 scales[16] (low nibble: scale, high nibble: min, per 16 elements); uint8 qs[64]
 * (2 bits per element); fp16 d, dmin. x = (d * sc) * q - (dmin * m). */
static void block_q2_k(const uint8_t *blk, float *y) {
    const uint8_t *sc = blk, *qs = blk + 16;
    float d = fp16_to_f32(rd16(blk + 80)), dmin = fp16_to_f32(rd16(blk + 82));
    for (int half = 0; half < 2; half++) {
        const uint8_t *q = qs + 32 * half;
        for (int j = 0; j < 4; j++) {           /* 2-bit field j of each byte */
            for (int k = 0; k < 2; k++) {       /* bytes 0..15, then 16..31 */
                uint8_t s = sc[8 * half + 2 * j + k];
                float dl = d * (float)(s & 15), ml = dmin * (float)(s >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * (float)((q[16 * k + l] >> (2 * j)) & 3) - ml;
            }
        }
    }
}

/* Q3_K: uint8 hmask[32] (3rd bit, inverted: a clear bit subtracts 4); uint8 qs[64] (low 2 bits);
 * uint8 scales[12] (sixteen 6-bit scales: low 4 bits in bytes 0..7, nibble i / 8 of byte i % 8;
 * high 2 bits in bytes 8..11, bits 2 (i / 4) of byte 8 + i % 4; biased by 32); fp16 d.
 * x = (d * (sc - 32)) * q with q = low2 - (hmask bit ? 0 : 4). */
static void block_q3_k(const uint8_t *blk, float *y) {
    const uint8_t *hm = blk, *qs = blk + 32, *raw = blk + 96;
    float d = fp16_to_f32(rd16(blk + 108));
    int sc[16];
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? (raw[i] & 15) : (raw[i - 8] >> 4);
        int hi = (raw[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (lo | hi << 4) - 32;
    }
    int is = 0;
    for (int half = 0; half < 2; half++) {
        const uint8_t *q = qs + 32 * half;
        for (int j = 0; j < 4; j++) {
            const uint8_t bit = (uint8_t)(1u << (4 * half + j));
            for (int k = 0; k < 2; k++) {
                float dl = d * (float)sc[is++];
                for (int l = 0; l < 16; l++) {
                    int v = ((q[16 * k + l] >> (2 * j)) & 3) - ((hm[16 * k + l] & bit) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
        }
    }
}

/* The 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K packed in 12 bytes (ggml's
 * get_scale_min_k4): j < 4: low 6 bits of bytes j and j + 4; j >= 4: the nibbles of byte j + 4
 * plus the top 2 bits of bytes j - 4 and j. */
static void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K: fp16 d, dmin; uint8 scales[12] (eight 6-bit scales and mins, one per 32 elements);
 * uint8 qs[128]. Elements 64 s .. 64 s + 31 are the low nibbles of qs[32 s .. 32 s + 31], the next
 * 32 their high nibbles. x = (d * sc) * q - (dmin * m). */
static void block_q4_k(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk)), dmin = fp16_to_f32(rd16(blk + 2));
    const uint8_t *scales = blk + 4, *q = blk + 16;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        scale_min_k4(j, scales, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        const uint8_t *qq = q + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; l++) *y++ = dl * (float)((qq[l] >> shift) & 15) - ml;
    }
}

/* Q5_K: as Q4_K, plus uint8 qh[32] before qs[128]: the 5th bit of sub-block j's element l is bit
 * j of qh[l]. */
static void block_q5_k(const uint8_t *blk, float *y) {
    float d = fp16_to_f32(rd16(blk)), dmin = fp16_to_f32(rd16(blk + 2));
    const uint8_t *scales = blk + 4, *qh = blk + 16, *q = blk + 48;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        scale_min_k4(j, scales, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        const uint8_t *qq = q + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; l++) {
            int v = ((qq[l] >> shift) & 15) | (((qh[l] >> j) & 1) << 4);
            *y++ = dl * (float)v - ml;
        }
    }
}

/* Q6_K: uint8 ql[128] (low 4 bits), uint8 qh[64] (high 2 bits), int8 scales[16] (one per 16
 * elements), fp16 d. In each half of 128 elements (ql + 64 h, qh + 32 h): run r = 0..3 of 32
 * elements takes the low (r = 0, 1) or high (r = 2, 3) nibbles of ql[32 (r % 2) + l] and bits
 * 2 r of qh[l]. x = (d * sc) * (q - 32). */
static void block_q6_k(const uint8_t *blk, float *y) {
    const uint8_t *ql = blk, *qh = blk + 128;
    const int8_t *sc = (const int8_t *)(blk + 192);
    float d = fp16_to_f32(rd16(blk + 208));
    for (int half = 0; half < 2; half++) {
        const uint8_t *l4 = ql + 64 * half, *h2 = qh + 32 * half;
        for (int r = 0; r < 4; r++)
            for (int l = 0; l < 32; l++) {
                int lo = (l4[32 * (r % 2) + l] >> (4 * (r / 2))) & 15;
                int hi = (h2[l] >> (2 * r)) & 3;
                float dl = d * (float)sc[8 * half + 2 * r + l / 16];
                y[128 * half + 32 * r + l] = dl * (float)((lo | hi << 4) - 32);
            }
    }
}

/* Q8_K: float32 d; int8 qs[256]; int16 bsums[16] (sums of groups of 16, unused here). x = d * q. */
static void block_q8_k(const uint8_t *blk, float *y) {
    float d;
    memcpy(&d, blk, 4);
    for (int i = 0; i < 256; i++) y[i] = d * (float)(int8_t)blk[4 + i];
}

void dequant_row(uint32_t type, const void *src_, float *dst, uint64_t n) {
    const uint8_t *src = src_;
    switch (type) {
    case 0:
        memcpy(dst, src, n * 4);
        return;
    case 1:
        for (uint64_t i = 0; i < n; i++) dst[i] = fp16_to_f32(rd16(src + 2 * i));
        return;
    case 30:
        for (uint64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(rd16(src + 2 * i));
        return;
    case 28:
        for (uint64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
        }
        return;
    default:
        break;
    }
    const ggml_type_info *ti = ggml_type_get(type);
    for (uint64_t b = 0; b < n / ti->block_size; b++) {
        const uint8_t *blk = src + (size_t)ti->type_size * b;
        float *y = dst + (size_t)ti->block_size * b;
        switch (type) {
        case 8: block_q8_0(blk, y); break;
        case 2: block_q4_0(blk, y); break;
        case 3: block_q4_1(blk, y); break;
        case 6: block_q5_0(blk, y); break;
        case 7: block_q5_1(blk, y); break;
        case 10: block_q2_k(blk, y); break;
        case 11: block_q3_k(blk, y); break;
        case 12: block_q4_k(blk, y); break;
        case 13: block_q5_k(blk, y); break;
        case 14: block_q6_k(blk, y); break;
        case 15: block_q8_k(blk, y); break;
        default:
            dam_die(DAM_EXIT_RUNTIME, "internal error: dequant_row called for ggml type %u", type);
        }
    }
}

void dequant_tensor(const gguf_file *f, const gguf_tensor *t, float *dst) {
    const ggml_type_info *ti = ggml_type_get(t->type);
    if (ti == NULL || !ti->supported)
        dam_die(DAM_EXIT_INPUT,
                "%s: tensor %.*s has type %s, which this build cannot dequantise "
                "(supported: F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K)",
                f->path, (int)t->name.len, t->name.ptr, ti ? ti->name : "?");
    dequant_row(t->type, t->data, dst, t->n_elements);
}
