/* safetensors.h — reader for Hugging Face safetensors files (huggingface/safetensors, README
 * "Format"): an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
 * name to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__" object
 * of strings), then the data buffer; offsets are relative to the buffer (byte 8 + N), tensors are
 * row-major (C order) and little-endian.
 *
 * The file is memory-mapped read-only. The header is parsed with jansson and every entry is
 * checked before use: a known dtype, a shape of non-negative integers, begin <= end <= the buffer
 * length, and end - begin = (product of the shape) x (dtype size). Any problem is a one-line input
 * error (exit 2) naming the file and the tensor, never a crash. */
#ifndef DAM_MODEL_SAFETENSORS_H
#define DAM_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

/* One tensor: `n_bytes` bytes at `data` (inside the mapping) of dtype `dtype`
 * ("F32", "F16", "BF16", "F64", "I64", ...), shape[0] outermost. */
typedef struct {
    char *name;
    char dtype[8];
    int n_dims;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t n_elements;
    uint64_t n_bytes;
    const uint8_t *data;
} st_tensor;

/* An open safetensors file. Owns the mapping and the table; release with st_close. */
typedef struct {
    char *path;
    const uint8_t *map;
    size_t size; /* file length, bytes */
    int n_tensors;
    st_tensor *tensors;
} st_file;

/* Opens and validates `path` (see above). Exits with status 2 naming the file (and the tensor)
 * if it is missing, empty, truncated, or its header is not valid. */
st_file *st_open(const char *path);

/* Unmaps the file and frees the table. NULL is a no-op. */
void st_close(st_file *f);

/* The tensor named `name`, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);

/* Converts tensor t (dtype F32, F16 or BF16) to fp32 into dst[t->n_elements] (exact). Any other
 * dtype exits with status 2 naming the file, the tensor and the dtype. */
void st_to_f32(const st_file *f, const st_tensor *t, float *dst);

#endif
