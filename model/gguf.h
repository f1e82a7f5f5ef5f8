/* gguf.h — reader for GGUF model files (versions 2 and 3).
 *
 * Follows the GGUF specification (ggml repository, docs/gguf.md): a little-endian header
 * ("GGUF" magic, version, tensor count, metadata count), the metadata key/value table, the tensor
 * table (name, dimensions, ggml type, offset), then the tensor data section, which starts at the
 * first multiple of `general.alignment` (default 32) after the tables.
 *
 * The file is memory-mapped read-only. Every count, length, size and offset read from the file is
 * checked against the file length before it is used, so a truncated, corrupt or hostile file gives
 * a one-line error naming the file and the problem (exit status 2), never a crash or a hang.
 *
 * Dimensions follow ggml: ne[0] is the innermost (contiguous) dimension, so a weight matrix of a
 * linear layer y = W x with W of shape [out][in] has ne[0] = in, ne[1] = out and is stored
 * row-major as out rows of `in` elements. */
#ifndef DAM_MODEL_GGUF_H
#define DAM_MODEL_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_type;

/* A string inside the mapped file: not NUL-terminated; `len` bytes at `ptr`. */
typedef struct {
    const char *ptr;
    uint64_t len;
} gguf_str;

/* One metadata value. Scalars are widened into u64 / i64 / f64 (and b for BOOL); strings point
 * into the mapping; arrays keep their element type, count and a pointer to the first element in
 * the mapping (array of strings: `data` points at the first length prefix; use gguf_arr_str). */
typedef struct {
    gguf_type type;
    uint64_t u64;  /* UINT8..UINT64 (and INT* >= 0) */
    int64_t i64;   /* all integer types */
    double f64;    /* FLOAT32, FLOAT64 */
    bool b;        /* BOOL */
    gguf_str str;  /* STRING */
    gguf_type arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    gguf_str *arr_strs; /* ARRAY of STRING: arr_n entries, owned by the gguf_file */
} gguf_value;

typedef struct {
    gguf_str key;
    gguf_value value;
} gguf_kv;

/* One tensor of the tensor table. `data` points into the mapping and holds `n_bytes` bytes of
 * ggml type `type` (see dequant.h for the type table). */
typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];      /* unused dimensions are 1 */
    uint32_t type;       /* ggml type id */
    uint64_t offset;     /* relative to the data section, a multiple of the alignment */
    uint64_t n_elements;
    uint64_t n_bytes;
    const uint8_t *data;
} gguf_tensor;

/* An open GGUF file. Owns the mapping and the tables; release with gguf_close. */
typedef struct {
    char *path;
    const uint8_t *map;
    size_t size;          /* file length in bytes */
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t alignment;   /* general.alignment or 32 */
    uint64_t data_offset; /* start of the tensor data section in the file */
} gguf_file;

/* Opens and validates `path`. On any problem (missing, empty, truncated, wrong magic or version,
 * absurd counts, a tensor past the end of the file, an unknown tensor type, duplicate names)
 * prints "dam: <path>: <problem>" and exits with status 2. */
gguf_file *gguf_open(const char *path);

/* Unmaps the file and frees the tables. NULL is a no-op. */
void gguf_close(gguf_file *f);

/* Returns the metadata entry `key`, or NULL if absent. */
const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);

/* Returns the tensor named `name`, or NULL if absent. */
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters for required keys: exit with status 2 naming the file and key if the key is
 * absent or holds a type that cannot represent the value (e.g. a negative integer for u32). */
uint32_t gguf_get_u32(const gguf_file *f, const char *key);
float gguf_get_f32(const gguf_file *f, const char *key);
bool gguf_get_bool(const gguf_file *f, const char *key);
gguf_str gguf_get_str(const gguf_file *f, const char *key);

/* Optional variants: return `dflt` if the key is absent, exit with status 2 if it has a wrong type. */
uint32_t gguf_get_u32_or(const gguf_file *f, const char *key, uint32_t dflt);
float gguf_get_f32_or(const gguf_file *f, const char *key, float dflt);
bool gguf_get_bool_or(const gguf_file *f, const char *key, bool dflt);

/* Required array: returns the value and checks its element type is `elem` (exit 2 otherwise). */
const gguf_value *gguf_get_arr(const gguf_file *f, const char *key, gguf_type elem);

/* Element i of an integer array (any integer element type) as int64; i must be < arr_n. */
int64_t gguf_arr_int(const gguf_value *v, uint64_t i);

/* Compares a gguf_str with a NUL-terminated string. */
bool gguf_str_eq(gguf_str s, const char *c);

/* Copies a gguf_str into a new NUL-terminated dam_malloc block (caller frees with dam_free). */
char *gguf_str_dup(gguf_str s);

/* Name of a metadata value type ("UINT32"), for messages. */
const char *gguf_type_name(gguf_type t);

#endif
