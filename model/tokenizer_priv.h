/* tokenizer_priv.h — private to model/tokenizer.c and model/tokenizer_hf.c: the tokenizer struct
 * and the pieces both loaders share (string interning, the merge table, the rank-ordered BPE merge
 * loop, GPT-2's byte-to-unicode table, UTF-8 as llama.cpp reads it, llama.cpp's whitespace and
 * Unicode-15 class spellings for PCRE2, end-of-generation detection). Not a public interface:
 * nothing outside model/tokenizer*.c includes it. */
#ifndef DAM_MODEL_TOKENIZER_PRIV_H
#define DAM_MODEL_TOKENIZER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "model/gguf.h"
#include "model/tokenizer.h"

#define MAX_REGEXES 8

/* llama.cpp's whitespace set (White_Space), for use inside a character class. */
#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
/* Letters / numbers / punctuation new in Unicode 15.0 and 15.1 (unassigned for PCRE2 10.42). */
#define UNI15_L "\\x{1123F}-\\x{11240}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}" \
    "\\x{13441}-\\x{13446}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}" \
    "\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"
#define UNI15_N "\\x{11F50}-\\x{11F59}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}"
#define UNI15_P "\\x{11B00}-\\x{11B09}\\x{11F43}-\\x{11F4F}"
#define LET "\\p{L}" UNI15_L /* \p{L} as llama.cpp classifies it, inside a class */
#define NUM "\\p{N}" UNI15_N
#define PUN "\\p{P}" UNI15_P

/* One accepted tokenizer.ggml.pre value and what llama.cpp derives from it. */
typedef struct {
    const char *name;
    const char *const *regexes;
    bool clean_spaces;  /* detokenizer removes the space before ? ! . , and some contractions */
    bool ignore_merges; /* a pre-token that is itself a token is taken whole */
    bool add_bos;       /* default of tokenizer.ggml.add_bos_token */
} pre_spec;

/* Token attributes (llama.cpp's llama_token_attr bits that matter here). */
enum {
    ATTR_UNDEFINED = 0,
    ATTR_UNKNOWN = 1 << 0,
    ATTR_UNUSED = 1 << 1,
    ATTR_NORMAL = 1 << 2,
    ATTR_CONTROL = 1 << 3,
    ATTR_USER_DEFINED = 1 << 4,
    ATTR_BYTE = 1 << 5,
};

struct tokenizer {
    char *pre_name;
    const pre_spec *pre;
    int32_t n_vocab;
    bool spm;              /* tokenizer.ggml.model "llama": SentencePiece BPE with scores (tokenizer_spm.h) */
    float *scores;         /* [n_vocab] SPM merge scores (tokenizer.ggml.scores; 0 if absent), else NULL */
    bool add_space_prefix; /* SPM: a space is prepended to text that starts the input or follows a special */
    int32_t spm_byte[256]; /* SPM byte fallback: the id of "<0xXX>", else of the one-byte text, else -1 */

    /* Interned strings: ids 0..n_vocab-1 are the tokens, ids from n_vocab on are merge operands or
     * results that are not tokens. Text of string i: arena[str_off[i] .. + str_len[i]). */
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *str_off, *str_len;
    int32_t n_str, str_cap;
    uint32_t *smap; /* open addressing, string id + 1 (0 = empty) */
    size_t smap_mask;

    /* Merges: key (left id << 32 | right id) -> rank and result id, open addressing. */
    struct merge_slot {
        uint64_t key; /* UINT64_MAX = empty */
        int32_t rank, result;
    } *pairs;
    size_t pmask;

    uint8_t *attr; /* [n_vocab] ATTR_* */
    uint8_t *eog;  /* [n_vocab] 1 for end-of-generation tokens */

    /* Piece of each token as rendered with special = true: pieces[piece_off[i] .. + piece_len[i]). */
    char *pieces;
    uint32_t *piece_off, *piece_len;

    int32_t *special; /* ids cut out of raw text, longest text first */
    int32_t n_special;

    int32_t byte_sym[256];  /* string id of the byte-level character of each byte, -1 if none */
    uint8_t enc[256][2];    /* byte-level UTF-8 text of each byte (1 or 2 bytes) */
    uint8_t enc_len[256];
    int32_t fallback[256][2]; /* one-byte-token lookups of enc[b][0..1] (-1 if absent) */

    int32_t bos, eos;
    bool add_bos, add_eos;

    pcre2_code *re[MAX_REGEXES];
    int n_re;

    /* Loaded from tokenizer.json (model/tokenizer_hf.c): its own pre-tokenisation pipeline, used
     * by tok_encode instead of the GGUF paths above; NULL for GGUF vocabularies. */
    struct hf_pipeline *hf;
    /* decode: 0 as above; 1 drop one leading ' ' of the whole output (HF's Strip decoder after Fuse);
     * 2 the first token shown is its text without any strip_repl (HF's Metaspace decoder) */
    int strip_space;
    char strip_repl[8];
    size_t strip_repl_len;
};

typedef struct {
    char *p;
    size_t n, cap;
} bytes_buf;

typedef struct {
    int32_t *p;
    size_t n, cap;
} ids_buf;

/* A span of bytes: [off, off + len). */
typedef struct {
    size_t off, len;
} span;

typedef struct {
    span *p;
    size_t n, cap;
} spans;

/* One pending merge of symbols left and right (their ids when queued, to detect stale entries). */
typedef struct {
    int32_t rank, left, right, lid, rid, result;
} bigram;

/* Work space of one tok_encode call. */
typedef struct {
    bytes_buf canon; /* fragment re-encoded as llama.cpp does (see file comment) */
    bytes_buf rx;    /* same bytes, surrogates replaced by U+E000 so PCRE2 sees valid UTF-8 */
    spans words, next_words;
    bytes_buf encw; /* byte-level text of a pre-token (ignore_merges) */
    int32_t *sid, *prev, *next;
    uint32_t *sstart, *slen;
    size_t sym_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    pcre2_match_data *md;
} work;

struct hf_pipeline;

/* UTF-8 as llama.cpp reads it (tokenizer.c): tk_utf8_decode returns the bytes consumed at s[i], 0 if
 * the sequence is invalid; tk_utf8_encode writes the shortest form and returns its length. */
size_t tk_utf8_decode(const uint8_t *s, size_t n, size_t i, uint32_t *cp);
size_t tk_utf8_encode(uint32_t cp, uint8_t *out);
/* GPT-2's bytes_to_unicode and its inverse (-1 for a code point outside the 256). */
uint32_t tk_byte_to_cp(int b);
int tk_cp_to_byte(uint32_t cp);

void tk_bytes_reserve(bytes_buf *b, size_t extra, const char *what);
void tk_bytes_put(bytes_buf *b, const void *src, size_t n, const char *what);
void tk_ids_push(ids_buf *v, int32_t id);
void tk_spans_push(spans *v, size_t off, size_t len);

/* Interned strings (ids 0..n_vocab-1 are the tokens): find (-1 if absent), find among tokens only,
 * append a new one (the caller has checked it is absent), find-or-append. */
int32_t tk_str_find(const tokenizer *t, const char *s, size_t n);
int32_t tk_token_find(const tokenizer *t, const char *s, size_t n);
int32_t tk_str_add(tokenizer *t, const char *s, size_t n);
int32_t tk_str_intern(tokenizer *t, const char *s, size_t n);
/* Merge table key of the pair (a, b) and the slot holding it or the empty slot where it goes. */
uint64_t tk_pair_key(int32_t a, int32_t b);
size_t tk_pair_slot(const tokenizer *t, uint64_t key);

/* Special ids (bos/eos from f's tokenizer.ggml.* keys or llama.cpp's defaults; kept as the caller
 * set them when f is NULL), EOG set by text, and llama.cpp's attribute overrides for special-looking texts. */
void tk_load_special(tokenizer *t, const gguf_file *f);

/* Grows the symbol arrays of w to hold n symbols. */
void tk_work_reserve(work *w, size_t n);
/* The BPE merge loop on symbols 0..n-1 of w (sid, sstart, slen, prev, next set by the caller; sid < 0
 * never merges): the adjacent pair of lowest rank in t->pairs is merged first, the leftmost on
 * ties. Final symbols are those reached from 0 through next[]. */
void tk_bpe_merge(const tokenizer *t, work *w, size_t n);
/* Frees w's buffers (not w). */
void tk_work_free(work *w);

/* tokenizer_hf.c: tok_encode and tok_free for tokenizers loaded by tok_load_hf. */
int tk_hf_encode(const tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                 int32_t **ids);
void tk_hf_free(struct hf_pipeline *hf);

#endif
