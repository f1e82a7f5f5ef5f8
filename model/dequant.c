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
    [10] = T("Q2_K", 256, 84, false),
    [11] = T("Q3_K", 256, 110, false),
    [12] = T("Q4_K", 256, 144, false),
    [13] = T("Q5_K", 256, 176, false),
    [14] = T("Q6_K", 256, 210, false),
    [15] = T("Q8_K", 256, 292, false),
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
    for (uint64_t b = 0; b < n / 32; b++) {
        float *y = dst + 32 * b;
        switch (type) {
        case 8: { /* Q8_0 */
            const uint8_t *blk = src + 34 * b;
            float d = fp16_to_f32(rd16(blk));
            for (int i = 0; i < 32; i++) y[i] = d * (float)(int8_t)blk[2 + i];
            break;
        }
        case 2: { /* Q4_0 */
            const uint8_t *blk = src + 18 * b;
            float d = fp16_to_f32(rd16(blk));
            const uint8_t *qs = blk + 2;
            for (int i = 0; i < 16; i++) {
                y[i] = d * (float)((qs[i] & 15) - 8);
                y[i + 16] = d * (float)((qs[i] >> 4) - 8);
            }
            break;
        }
        case 3: { /* Q4_1 */
            const uint8_t *blk = src + 20 * b;
            float d = fp16_to_f32(rd16(blk)), m = fp16_to_f32(rd16(blk + 2));
            const uint8_t *qs = blk + 4;
            for (int i = 0; i < 16; i++) {
                y[i] = d * (float)(qs[i] & 15) + m;
                y[i + 16] = d * (float)(qs[i] >> 4) + m;
            }
            break;
        }
        case 6: { /* Q5_0 */
            const uint8_t *blk = src + 22 * b;
            float d = fp16_to_f32(rd16(blk));
            uint32_t qh = rd32(blk + 2);
            const uint8_t *qs = blk + 6;
            for (int i = 0; i < 16; i++) {
                int lo = (qs[i] & 15) | (int)(((qh >> i) & 1) << 4);
                int hi = (qs[i] >> 4) | (int)(((qh >> (i + 16)) & 1) << 4);
                y[i] = d * (float)(lo - 16);
                y[i + 16] = d * (float)(hi - 16);
            }
            break;
        }
        case 7: { /* Q5_1 */
            const uint8_t *blk = src + 24 * b;
            float d = fp16_to_f32(rd16(blk)), m = fp16_to_f32(rd16(blk + 2));
            uint32_t qh = rd32(blk + 4);
            const uint8_t *qs = blk + 8;
            for (int i = 0; i < 16; i++) {
                int lo = (qs[i] & 15) | (int)(((qh >> i) & 1) << 4);
                int hi = (qs[i] >> 4) | (int)(((qh >> (i + 16)) & 1) << 4);
                y[i] = d * (float)lo + m;
                y[i + 16] = d * (float)hi + m;
            }
            break;
        }
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
                "(supported: F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1)",
                f->path, (int)t->name.len, t->name.ptr, ti ? ti->name : "?");
    dequant_row(t->type, t->data, dst, t->n_elements);
}
