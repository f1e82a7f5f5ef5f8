/* tokenizer.c — byte-level BPE tokenizer, token for token as llama.cpp's "gpt2" vocabulary type.
 *
 * Reference: llama.cpp as vendored in llama-cpp-python 0.3.36 (commit 0c1e570), src/llama-vocab.cpp
 * and src/unicode.cpp; tests/test_tokenizer.c compares against ids it produced
 * (tests/fixtures/gen/make_tokenizer_cases.py). What the reference does, and this file reproduces:
 *
 *   - Special tokens: every token whose type is CONTROL, USER_DEFINED or UNKNOWN (plus end-of-turn
 *     texts that llama.cpp promotes to CONTROL, see tk_load_special) is cut out of the raw bytes, longest
 *     text first; each token cuts every fragment left by the previous ones, leftmost occurrence first.
 *     No spaces are stripped around them for these vocabularies. Without parse_special, CONTROL and
 *     UNKNOWN texts are left as plain text but USER_DEFINED ones are still cut out.
 *   - Each plain fragment is decoded as UTF-8 leniently: a byte that does not start a complete
 *     sequence becomes U+FFFD (so invalid input is NOT encoded byte-wise: 0x80 becomes the three
 *     bytes EF BF BD), overlong forms are accepted and re-encoded in their shortest form, surrogates
 *     are kept. (Code points above U+10FFFF make llama.cpp throw; here their lead byte is invalid.)
 *   - The regexes of the pre-tokenizer are applied one after the other; each one splits every piece
 *     left by the previous one into its matches and the unmatched spans between them, and sees only
 *     that piece (look-aheads stop at its end). llama.cpp runs some lists through hand-written
 *     matchers (gpt2, llama3, qwen2) and the rest through std::regex on a category-collapsed copy of
 *     the text; both use llama.cpp's own Unicode tables (Unicode 15.1) and whitespace set (the
 *     Unicode White_Space property). Here PCRE2 runs regexes written to mean exactly that:
 *       * \s is spelled out as that whitespace set (PCRE2's \s would add U+180E);
 *       * the hand-written gpt2 matcher also accepts a lone whitespace (an implicit "|\s+");
 *       * PCRE2 10.42 (Debian 12) knows Unicode 14 only: the letters, numbers and punctuation that
 *         Unicode 15.0/15.1 added are listed next to \p{L}, \p{N}, \p{P} (UNI15_*). Those ranges were
 *         computed by comparing every code point's class in llama.cpp's unicode-data.cpp with PCRE2's.
 *         A later PCRE2 that knows Unicode 16 would classify the 16.0 additions that llama.cpp still
 *         calls unassigned; that is the one known way the two can disagree;
 *       * where llama.cpp applies std::wregex to raw code points it first replaces non-ASCII
 *         whitespace by U+000B, so literal ranges such as U+0800-U+4E00 do not match U+3000; the
 *         deepseek patterns below leave those code points out of their ranges for the same effect.
 *   - BPE per pre-token, on GPT-2's byte-to-unicode alphabet: the adjacent pair of lowest merge rank
 *     is merged first, the leftmost on ties (heap: O(n log n) in the pre-token's length). Merges
 *     apply to strings, which need not be tokens; such strings get ids past the vocabulary. A final
 *     symbol that is not a token falls back to looking up each byte of its byte-level text as a
 *     one-byte token (which finds only printable ASCII; other bytes are dropped, as in llama.cpp).
 *   - Pieces: NORMAL tokens map back through the inverse byte table; CONTROL and UNKNOWN render only
 *     with special; USER_DEFINED always; UNUSED/UNDEFINED as "". Decoding applies llama.cpp's
 *     clean-up of spaces before punctuation for the pre-tokenizers that enable it (not smollm).
 *
 * SentencePiece ("llama" vocabularies; llm_tokenizer_spm_session and the SPM branches of tokenize /
 * token_to_piece / detokenize in the same files): the same loading, special-token partition and
 * EOG detection (default BOS 1 / EOS 2 instead of 11 / 11); plain fragments go through
 * encode_fragment_spm (space prefix, U+2581 escape, tokenizer_spm.c's score-ordered merges, byte
 * fallback to <0xXX> or else the one-byte token); NORMAL pieces unescape U+2581 to ' '.
 *
 * Thread safety: a loaded tokenizer is read-only; tok_encode allocates its own work space. */
#define _GNU_SOURCE /* memmem */
#include "model/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "model/tokenizer_priv.h"
#include "model/tokenizer_spm.h"

/* ---------------------------------------------------------------------------------------------
 * Pre-tokenizer regex lists
 * ------------------------------------------------------------------------------------------- */

/* U+0800-U+4E00 without the whitespace code points in it (see the file comment). */
#define CJK_NO_WS "\\x{800}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}" \
    "\\x{2060}-\\x{2FFF}\\x{3001}-\\x{4E00}"

/* The letters of deepseek-llm's second regex, code point for code point as upstream lists them. */
#define DEEPSEEK_LETTERS "A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}" \
    "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}" \
    "\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}" \
    "\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}" \
    "\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}" \
    "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}" \
    "\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}" \
    "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}" \
    "\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}" \
    "\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}" \
    "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}" \
    "\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}" \
    "\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}" \
    "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}" \
    "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}" \
    "\\x{1E900}-\\x{1E943}"
/* GPT-2's regex as llama.cpp's hand-written matcher applies it (with the trailing \s+). */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?[" LET "]+| ?[" NUM "]+| ?[^" WS LET NUM "]+|[" WS "]+(?![^" WS "])|[" WS "]+"
/* Llama 3 (digits in groups of up to 3) and Qwen2 (single digits); contractions in either case. */
#define RE_LLAMA3_HEAD "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n" LET NUM "]?[" LET "]+|"
#define RE_LLAMA3_TAIL "| ?[^" WS LET NUM "]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"

static const char *const RS_GPT2[] = {RE_GPT2, NULL};
static const char *const RS_DEFAULT[] = {"[" PUN "$+<=>^~|]+", RE_GPT2, "[" NUM "]+", "[0-9][0-9][0-9]", NULL};
static const char *const RS_STARCODER[] = {"[" NUM "]", RE_GPT2, NULL};
static const char *const RS_LLAMA3[] = {RE_LLAMA3_HEAD "[" NUM "]{1,3}" RE_LLAMA3_TAIL, NULL};
static const char *const RS_QWEN2[] = {RE_LLAMA3_HEAD "[" NUM "]" RE_LLAMA3_TAIL, NULL};
static const char *const RS_FALCON[] = {"[" PUN "$+<=>^~|`]+", RE_GPT2, "[0-9][0-9][0-9]", NULL};
static const char *const RS_DEEPSEEK_LLM[] = {
    "[\\r\\n]",
    "[" WS "]?[" DEEPSEEK_LETTERS "]+",
    "[" WS "]?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3001}-\\x{3002}]+", /* upstream 3000-3002 */
    "[" WS "]+\\z",
    "[\\x{4E00}-\\x{9FA5}" CJK_NO_WS "\\x{AC00}-\\x{D7FF}]+",
    "[" NUM "]+",
    NULL,
};
static const char *const RS_DEEPSEEK_CODER[] = {
    "[\\r\\n]", "[" WS "]?[" LET "]+", "[" WS "]?[" PUN "]+", "[\\x{4E00}-\\x{9FA5}" CJK_NO_WS "\\x{AC00}-\\x{D7FF}]+",
    "[" NUM "]", NULL,
};
#define RE_BLOOM " ?[^(" WS "|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"
static const char *const RS_BLOOM[] = {RE_BLOOM, NULL};
static const char *const RS_VIKING[] = {RE_BLOOM, "[" NUM "]", NULL};


static const pre_spec PRE_SPECS[] = {
    {"default", RS_DEFAULT, true, false, false},
    {"gpt-2", RS_GPT2, true, false, false},
    {"phi-2", RS_GPT2, true, false, false},
    {"gigachat", RS_GPT2, true, false, false},
    {"a.x-4.0", RS_GPT2, true, false, false},
    {"mellum", RS_GPT2, true, false, false},
    {"mpt", RS_GPT2, true, false, false},
    {"olmo", RS_GPT2, true, false, false},
    {"jais", RS_GPT2, true, false, false},
    {"exaone4", RS_GPT2, true, false, false},
    {"trillion", RS_GPT2, false, false, false},
    {"granite-docling", RS_GPT2, false, false, false},
    {"smollm", RS_STARCODER, false, false, false},
    {"starcoder", RS_STARCODER, true, false, false},
    {"refact", RS_STARCODER, true, false, false},
    {"command-r", RS_STARCODER, false, false, false},
    {"codeshell", RS_STARCODER, true, false, false},
    {"exaone", RS_STARCODER, true, false, false},
    {"minerva-7b", RS_STARCODER, true, false, false},
    {"mellum2", RS_STARCODER, true, false, false},
    {"llama3", RS_LLAMA3, true, true, true},
    {"llama-v3", RS_LLAMA3, true, true, true},
    {"llama-bpe", RS_LLAMA3, true, true, true},
    {"falcon3", RS_LLAMA3, true, true, true},
    {"falcon-h1", RS_LLAMA3, true, true, true},
    {"pixtral", RS_LLAMA3, true, true, true},
    {"midm-2.0", RS_LLAMA3, true, true, true},
    {"lfm2", RS_LLAMA3, true, true, true},
    {"dbrx", RS_LLAMA3, true, false, false},
    {"smaug-bpe", RS_LLAMA3, true, false, false},
    {"qwen2", RS_QWEN2, false, false, false},
    {"deepseek-r1-qwen", RS_QWEN2, false, false, false},
    {"kormo", RS_QWEN2, false, false, false},
    {"f2llmv2", RS_QWEN2, false, false, false},
    {"hunyuan", RS_QWEN2, false, false, false},
    {"solar-open", RS_QWEN2, false, false, false},
    {"megrez", RS_QWEN2, true, false, false},
    {"stablelm2", RS_QWEN2, true, false, false},
    {"deepseek-llm", RS_DEEPSEEK_LLM, false, false, false},
    {"deepseek-coder", RS_DEEPSEEK_CODER, false, false, false},
    {"falcon", RS_FALCON, true, false, false},
    {"bloom", RS_BLOOM, true, false, false},
    {"gpt3-finnish", RS_BLOOM, true, false, false},
    {"poro-chat", RS_BLOOM, false, false, false},
    {"viking", RS_VIKING, false, false, false},
};
#define N_PRE_SPECS (sizeof PRE_SPECS / sizeof PRE_SPECS[0])
/* The "llama" (SPM) vocabulary type: no regexes, llama.cpp's fixed settings for it (clean_spaces
 * off, add_bos on); tokenizer.ggml.pre is not consulted. */
static const char *const RS_NONE[] = {NULL};
static const pre_spec SPM_SPEC = {"spm", RS_NONE, false, false, true};


/* ---------------------------------------------------------------------------------------------
 * The tokenizer
 * ------------------------------------------------------------------------------------------- */


/* ---------------------------------------------------------------------------------------------
 * UTF-8 as llama.cpp reads and writes it
 * ------------------------------------------------------------------------------------------- */

/* Decodes one code point at s[i] (i < n) the way llama.cpp's unicode_cpt_from_utf8 does: the lead
 * byte gives the length, continuation bytes must be 10xxxxxx and present, overlong forms and
 * surrogates pass. Returns the bytes consumed, or 0 if the sequence is invalid (also for code points
 * above U+10FFFF, which llama.cpp cannot re-encode). */
size_t tk_utf8_decode(const uint8_t *s, size_t n, size_t i, uint32_t *cp) {
    uint8_t b = s[i];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    uint32_t c;
    if (!(b & 0x40)) return 0;
    if (!(b & 0x20)) len = 2, c = b & 0x1f;
    else if (!(b & 0x10)) len = 3, c = b & 0x0f;
    else if (!(b & 0x08)) len = 4, c = b & 0x07;
    else return 0;
    if (i + len - 1 >= n) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i + k] & 0x3f);
    }
    if (c > 0x10ffff) return 0;
    *cp = c;
    return len;
}

/* Writes the shortest UTF-8 form of cp (<= U+10FFFF; surrogates as 3 bytes); returns its length. */
size_t tk_utf8_encode(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. in byte order. */
uint32_t tk_byte_to_cp(int b) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return (uint32_t)b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff))) n++;
    return 256u + (uint32_t)n;
}

/* Inverse of tk_byte_to_cp: the byte, or -1 if cp is not one of the 256 byte-level characters. */
int tk_cp_to_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff)) return (int)cp;
    if (cp < 256 || cp >= 256 + 68) return -1;
    int n = 0;
    for (int c = 0; c < 256; c++) {
        if ((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff)) continue;
        if (256u + (uint32_t)n == cp) return c;
        n++;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Growable byte / int buffers (dam_realloc)
 * ------------------------------------------------------------------------------------------- */


void tk_bytes_reserve(bytes_buf *b, size_t extra, const char *what) {
    if (b->n + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra) cap *= 2;
    b->p = dam_realloc(b->p, cap, what);
    b->cap = cap;
}

void tk_bytes_put(bytes_buf *b, const void *src, size_t n, const char *what) {
    tk_bytes_reserve(b, n, what);
    memcpy(b->p + b->n, src, n);
    b->n += n;
}


void tk_ids_push(ids_buf *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->p = dam_realloc(v->p, v->cap * sizeof(int32_t), "token ids");
    }
    v->p[v->n++] = id;
}

/* ---------------------------------------------------------------------------------------------
 * Interned strings and the merge table
 * ------------------------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) { /* FNV-1a, then a final mix */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static uint64_t hash_u64(uint64_t x) { /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Id of the interned string s[0..n), or -1. */
int32_t tk_str_find(const tokenizer *t, const char *s, size_t n) {
    for (size_t h = hash_bytes(s, n) & t->smap_mask;; h = (h + 1) & t->smap_mask) {
        uint32_t e = t->smap[h];
        if (e == 0) return -1;
        int32_t id = (int32_t)(e - 1);
        if (t->str_len[id] == n && memcmp(t->arena + t->str_off[id], s, n) == 0) return id;
    }
}

/* Token id of the text s[0..n) (not a merge-only string), or -1. */
int32_t tk_token_find(const tokenizer *t, const char *s, size_t n) {
    int32_t id = tk_str_find(t, s, n);
    return id < t->n_vocab ? id : -1;
}

static void smap_insert_id(tokenizer *t, int32_t id) {
    size_t h = hash_bytes(t->arena + t->str_off[id], t->str_len[id]) & t->smap_mask;
    while (t->smap[h]) h = (h + 1) & t->smap_mask;
    t->smap[h] = (uint32_t)id + 1;
}

/* Doubles the string map (kept at most half full). */
static void smap_grow(tokenizer *t) {
    dam_free(t->smap);
    size_t cap = 2 * (t->smap_mask + 1);
    t->smap = dam_calloc(cap, sizeof(uint32_t), "tokenizer string map");
    t->smap_mask = cap - 1;
    for (int32_t i = 0; i < t->n_str; i++) smap_insert_id(t, i);
}

/* Appends s[0..n) as a new string id (the caller has checked it is not present). */
int32_t tk_str_add(tokenizer *t, const char *s, size_t n) {
    if (t->n_str == t->str_cap) {
        t->str_cap = t->str_cap ? 2 * t->str_cap : 1024;
        t->str_off = dam_realloc(t->str_off, (size_t)t->str_cap * sizeof(uint32_t), "tokenizer strings");
        t->str_len = dam_realloc(t->str_len, (size_t)t->str_cap * sizeof(uint32_t), "tokenizer strings");
    }
    if (t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 1 << 16;
        while (cap < t->arena_len + n) cap *= 2;
        t->arena = dam_realloc(t->arena, cap, "tokenizer text");
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, s, n);
    int32_t id = t->n_str++;
    t->str_off[id] = (uint32_t)t->arena_len;
    t->str_len[id] = (uint32_t)n;
    t->arena_len += n;
    if ((size_t)t->n_str * 2 > t->smap_mask + 1) smap_grow(t);
    else smap_insert_id(t, id);
    return id;
}

int32_t tk_str_intern(tokenizer *t, const char *s, size_t n) {
    int32_t id = tk_str_find(t, s, n);
    return id >= 0 ? id : tk_str_add(t, s, n);
}

uint64_t tk_pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

/* Slot of the merge (a, b): either holding it or the empty slot where it would go. */
size_t tk_pair_slot(const tokenizer *t, uint64_t key) {
    size_t h = hash_u64(key) & t->pmask;
    while (t->pairs[h].key != UINT64_MAX && t->pairs[h].key != key) h = (h + 1) & t->pmask;
    return h;
}

/* ---------------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------------- */

static const char *const EOG_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[", NULL,
};
static const char *const EOT_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>", NULL,
};
static const char *const EOM_TEXTS[] = {"<|eom_id|>", NULL};
static const char *const FIM_PRE_TEXTS[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>",
                                            "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const FIM_SUF_TEXTS[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>",
                                            "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const FIM_MID_TEXTS[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>",
                                            "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const FIM_PAD_TEXTS[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const FIM_REP_TEXTS[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
static const char *const FIM_SEP_TEXTS[] = {"<|file_sep|>", NULL};

static int32_t find_text(const tokenizer *t, const char *s) { return tk_token_find(t, s, strlen(s)); }

/* The lowest token id whose text is in `texts` (llama.cpp takes the first its hash map yields). */
static int32_t first_of(const tokenizer *t, const char *const *texts) {
    int32_t best = -1;
    for (int i = 0; texts[i]; i++) {
        int32_t id = find_text(t, texts[i]);
        if (id >= 0 && (best < 0 || id < best)) best = id;
    }
    return best;
}

/* A special-token id from key (if present and < n_vocab), else `dflt`. */
static int32_t special_id(const gguf_file *f, const char *key, int32_t dflt, int32_t n_vocab) {
    if (!f || !gguf_find_kv(f, key)) return dflt;
    uint32_t v = gguf_get_u32(f, key);
    if (v >= (uint32_t)n_vocab) {
        dam_warn("%s: %s = %u is not below the vocabulary size %d; using %d", f->path, key, v, n_vocab, dflt);
        return dflt;
    }
    return (int32_t)v;
}

/* Special ids, EOG set and the attribute overrides llama.cpp applies to special-looking texts. */
void tk_load_special(tokenizer *t, const gguf_file *f) {
    int32_t n = t->n_vocab;
    /* llama.cpp's defaults: 11 / 11 for the gpt2 vocabulary type, 1 / 2 for llama (SPM) */
    int32_t dbos = t->spm ? 1 : 11, deos = t->spm ? 2 : 11;
    if (f) { /* without a GGUF file (tokenizer.json) the caller has set bos and eos */
        t->bos = special_id(f, "tokenizer.ggml.bos_token_id", dbos < n ? dbos : -1, n);
        t->eos = special_id(f, "tokenizer.ggml.eos_token_id", deos < n ? deos : -1, n);
    }
    int32_t eot = special_id(f, "tokenizer.ggml.eot_token_id", -1, n);
    int32_t eom = special_id(f, "tokenizer.ggml.eom_token_id", -1, n);
    int32_t fim_pre = special_id(f, "tokenizer.ggml.fim_pre_token_id", -1, n);
    int32_t fim_suf = special_id(f, "tokenizer.ggml.fim_suf_token_id", -1, n);
    int32_t fim_mid = special_id(f, "tokenizer.ggml.fim_mid_token_id", -1, n);
    fim_pre = special_id(f, "tokenizer.ggml.prefix_token_id", fim_pre, n); /* deprecated names, read last */
    fim_suf = special_id(f, "tokenizer.ggml.suffix_token_id", fim_suf, n);
    fim_mid = special_id(f, "tokenizer.ggml.middle_token_id", fim_mid, n);
    int32_t fim_pad = special_id(f, "tokenizer.ggml.fim_pad_token_id", -1, n);
    int32_t fim_rep = special_id(f, "tokenizer.ggml.fim_rep_token_id", -1, n);
    int32_t fim_sep = special_id(f, "tokenizer.ggml.fim_sep_token_id", -1, n);

    /* Auto-detected by text when the file names none; the token is made CONTROL (which matters for
     * the partition and for rendering even where the id itself is not used here). */
    int32_t *slots[] = {&eot, &eom, &fim_pre, &fim_suf, &fim_mid, &fim_pad, &fim_rep, &fim_sep};
    const char *const *texts[] = {EOT_TEXTS,     EOM_TEXTS,     FIM_PRE_TEXTS, FIM_SUF_TEXTS,
                                  FIM_MID_TEXTS, FIM_PAD_TEXTS, FIM_REP_TEXTS, FIM_SEP_TEXTS};
    for (int k = 0; k < 8; k++) {
        if (*slots[k] >= 0) continue;
        *slots[k] = first_of(t, texts[k]);
        if (*slots[k] >= 0) t->attr[*slots[k]] |= ATTR_CONTROL;
    }

    if (fim_pad >= 0) t->eog[fim_pad] = 1;
    if (fim_rep >= 0) t->eog[fim_rep] = 1;
    if (fim_sep >= 0) t->eog[fim_sep] = 1;
    for (int i = 0; EOG_TEXTS[i]; i++) {
        int32_t id = find_text(t, EOG_TEXTS[i]);
        if (id < 0) continue;
        t->eog[id] = 1;
        t->attr[id] |= ATTR_CONTROL;
    }
    /* gpt-oss: these render always. */
    static const char *const ALWAYS[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (int i = 0; ALWAYS[i]; i++) {
        int32_t id = find_text(t, ALWAYS[i]);
        if (id >= 0) t->attr[id] = ATTR_USER_DEFINED;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (eot >= 0) t->eog[eot] = 1;
    if (eom >= 0) t->eog[eom] = 1;

    /* o200k_harmony / solar-open: <|end|> is not an end of generation there. */
    int32_t ret = find_text(t, "<|return|>"), call = find_text(t, "<|call|>");
    int32_t calls = find_text(t, "<|calls|>"), flush = find_text(t, "<|flush|>");
    int32_t end = find_text(t, "<|end|>");
    bool in_ret = ret >= 0 && t->eog[ret], in_flush = flush >= 0 && t->eog[flush];
    bool in_call = (call >= 0 && t->eog[call]) || (calls >= 0 && t->eog[calls]);
    if (end >= 0 && t->eog[end] && ((in_ret && in_call) || (in_call && in_flush))) {
        t->eog[end] = 0;
        t->attr[end] = ATTR_USER_DEFINED;
    }
    /* gemma4 / plamo: </s> is a normal token there. */
    int32_t tr = find_text(t, "<|tool_response>"), pe = find_text(t, "<|plamo:eos|>"), s = find_text(t, "</s>");
    if (s >= 0 && t->eog[s] && ((tr >= 0 && t->eog[tr]) || (pe >= 0 && t->eog[pe]))) {
        t->eog[s] = 0;
        t->attr[s] = ATTR_NORMAL;
    }
}

/* Text of token `id` as rendered with special = true, appended to b. */
static void render_piece(const tokenizer *t, int32_t id, bytes_buf *b, const char *path) {
    const char *s = t->arena + t->str_off[id];
    size_t n = t->str_len[id];
    uint8_t a = t->attr[id];
    if (a & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) {
        tk_bytes_put(b, s, n, "tokenizer pieces");
    } else if ((a & ATTR_NORMAL) && t->spm) { /* SPM: U+2581 (the escaped space) back to ' ' */
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                tk_bytes_put(b, " ", 1, "tokenizer pieces");
                i += 3;
            } else {
                tk_bytes_put(b, s + i, 1, "tokenizer pieces");
                i++;
            }
        }
    } else if (a & ATTR_NORMAL) {
        const uint8_t *u = (const uint8_t *)s;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = tk_utf8_decode(u, n, i, &cp);
            if (k == 0) cp = 0xfffd, k = 1;
            int byte = tk_cp_to_byte(cp);
            if (byte >= 0) {
                char c = (char)byte;
                tk_bytes_put(b, &c, 1, "tokenizer pieces");
            } else { /* llama.cpp's marker for a character outside the byte alphabet */
                uint8_t enc[4];
                size_t m = tk_utf8_encode(cp, enc);
                char hex[16];
                tk_bytes_put(b, "[UNK_BYTE_0x", 12, "tokenizer pieces");
                for (size_t j = 0; j < m; j++) {
                    snprintf(hex, sizeof hex, "%02x", enc[j]);
                    tk_bytes_put(b, hex, 2, "tokenizer pieces");
                }
                tk_bytes_put(b, s, n, "tokenizer pieces");
                tk_bytes_put(b, "]", 1, "tokenizer pieces");
            }
            i += k;
        }
    } else if (a & ATTR_BYTE) { /* "<0xHH>": strtol of the two characters after "<0x" */
        if (n < 3)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.tokens: byte token %d has text \"%.*s\", not <0xHH>", path,
                    id, (int)n, s);
        char hex[3] = {0, 0, 0};
        memcpy(hex, s + 3, n - 3 < 2 ? n - 3 : 2);
        char c = (char)strtol(hex, NULL, 16);
        tk_bytes_put(b, &c, 1, "tokenizer pieces");
    }
}

/* A special token and its text length, for sorting. */
typedef struct {
    uint32_t len;
    int32_t id;
} len_id;

/* Longest text first, then lowest id (llama.cpp's std::sort leaves equal lengths unordered). */
static int cmp_len_id(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void compile_regexes(tokenizer *t) {
    for (int i = 0; t->pre->regexes[i]; i++) {
        int err;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)t->pre->regexes[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            dam_die(DAM_EXIT_RUNTIME, "tokenizer: regex %d of pre-tokenizer \"%s\" does not compile at offset %zu: %s",
                    i, t->pre->name, (size_t)off, (const char *)msg);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: the interpreter is used if it fails */
        t->re[t->n_re++] = re;
    }
}

/* SPM vocabularies of Phi-3 models get RSTRIP on their special tokens in llama.cpp (spaces after
 * them are dropped), which this tokenizer does not implement: refuse them by name as llama.cpp
 * recognises them (general.name containing "phi-3" or "phi3", case-insensitively). */
static void refuse_phi3(const gguf_file *f) {
    const gguf_kv *nm = gguf_find_kv(f, "general.name");
    if (!nm || nm->value.type != GGUF_TYPE_STRING) return;
    char low[256];
    size_t n = nm->value.str.len < sizeof low - 1 ? nm->value.str.len : sizeof low - 1;
    for (size_t i = 0; i < n; i++) {
        char c = nm->value.str.ptr[i];
        low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    low[n] = 0;
    if (strstr(low, "phi-3") || strstr(low, "phi3"))
        dam_die(DAM_EXIT_INPUT, "%s: general.name \"%s\": Phi-3's SPM tokenizer (special tokens strip the spaces "
                "after them) is not supported", f->path, low);
}

tokenizer *tok_load(const gguf_file *f) {
    gguf_str model = gguf_get_str(f, "tokenizer.ggml.model");
    const bool spm = gguf_str_eq(model, "llama");
    if (!spm && !gguf_str_eq(model, "gpt2"))
        dam_die(DAM_EXIT_INPUT, "%s: unsupported tokenizer.ggml.model \"%.*s\" (supported: gpt2, llama)", f->path,
                (int)(model.len > 64 ? 64 : model.len), model.ptr);
    if (spm) refuse_phi3(f);

    const pre_spec *pre = spm ? &SPM_SPEC : NULL;
    gguf_str pre_name = {"default", 7};
    if (gguf_find_kv(f, "tokenizer.ggml.pre")) pre_name = gguf_get_str(f, "tokenizer.ggml.pre");
    else if (!spm) dam_warn("%s: no tokenizer.ggml.pre; using the \"default\" pre-tokenizer as llama.cpp does", f->path);
    for (size_t i = 0; i < N_PRE_SPECS && !spm; i++)
        if (gguf_str_eq(pre_name, PRE_SPECS[i].name)) pre = &PRE_SPECS[i];
    if (!pre) {
        char list[1024];
        size_t len = 0;
        for (size_t i = 0; i < N_PRE_SPECS && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", PRE_SPECS[i].name);
        dam_die(DAM_EXIT_INPUT, "%s: unsupported tokenizer.ggml.pre \"%.*s\" (supported: %s)", f->path,
                (int)(pre_name.len > 64 ? 64 : pre_name.len), pre_name.ptr, list);
    }

    const gguf_value *toks = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING);
    if (toks->arr_n == 0 || toks->arr_n > (1u << 30))
        dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.tokens has %llu entries (expected 1 .. 2^30)", f->path,
                (unsigned long long)toks->arr_n);
    int32_t n = (int32_t)toks->arr_n;
    const gguf_value *types = NULL;
    if (gguf_find_kv(f, "tokenizer.ggml.token_type")) {
        types = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32);
        if (types->arr_n < toks->arr_n)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.token_type has %llu entries, fewer than the %d tokens", f->path,
                    (unsigned long long)types->arr_n, n);
    }
    /* BPE: merges (required); SPM: scores (optional, 0 if absent, as in llama.cpp) */
    static const gguf_value NO_MERGES = {.type = GGUF_TYPE_ARRAY, .arr_type = GGUF_TYPE_STRING};
    const gguf_value *merges = spm ? &NO_MERGES : gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING);
    const gguf_value *scores = NULL;
    if (spm && gguf_find_kv(f, "tokenizer.ggml.scores")) {
        scores = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32);
        if (scores->arr_n < toks->arr_n)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.scores has %llu entries, fewer than the %d tokens", f->path,
                    (unsigned long long)scores->arr_n, n);
    }
    if (merges->arr_n > (1u << 30))
        dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.merges has %llu entries (at most 2^30)", f->path,
                (unsigned long long)merges->arr_n);

    tokenizer *t = dam_calloc(1, sizeof *t, "tokenizer");
    t->pre = pre;
    t->pre_name = gguf_str_dup(pre_name);
    t->n_vocab = n;
    t->spm = spm;

    /* Tokens: interned as ids 0..n-1 (an empty text becomes "[EMPTY_<id>]" as in llama.cpp). */
    size_t cap = 1024;
    while (cap < 4 * ((size_t)n + 2 * merges->arr_n)) cap *= 2;
    t->smap = dam_calloc(cap, sizeof(uint32_t), "tokenizer string map");
    t->smap_mask = cap - 1;
    for (int32_t i = 0; i < n; i++) {
        gguf_str s = toks->arr_strs[i];
        char empty[32];
        if (s.len == 0) {
            s.len = (uint64_t)snprintf(empty, sizeof empty, "[EMPTY_%d]", i);
            s.ptr = empty;
        }
        if (s.len > UINT32_MAX / 4)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.tokens: token %d is %llu bytes long", f->path, i,
                    (unsigned long long)s.len);
        int32_t dup = tk_str_find(t, s.ptr, s.len);
        if (dup >= 0)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.tokens: token %d has the same text as token %d (\"%.*s\")",
                    f->path, i, dup, (int)(s.len > 64 ? 64 : s.len), s.ptr);
        tk_str_add(t, s.ptr, s.len);
    }

    t->attr = dam_malloc((size_t)n, "tokenizer attributes");
    t->eog = dam_calloc((size_t)n, 1, "tokenizer attributes");
    for (int32_t i = 0; i < n; i++) {
        int64_t ty = types ? gguf_arr_int(types, (uint64_t)i) : 1;
        static const uint8_t MAP[7] = {ATTR_UNDEFINED, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_CONTROL,
                                       ATTR_USER_DEFINED, ATTR_UNUSED, ATTR_BYTE};
        t->attr[i] = ty >= 0 && ty < 7 ? MAP[ty] : ATTR_UNDEFINED;
    }

    /* Merges "left right" (split at the first space after the first byte), rank = index; the first
     * of duplicate pairs wins. Operands and results that are not tokens are interned past n. */
    size_t pcap = 1024;
    while (pcap < 2 * merges->arr_n) pcap *= 2;
    t->pairs = dam_malloc(pcap * sizeof *t->pairs, "tokenizer merges");
    for (size_t i = 0; i < pcap; i++) t->pairs[i].key = UINT64_MAX;
    t->pmask = pcap - 1;
    bytes_buf cat = {0};
    for (uint64_t i = 0; i < merges->arr_n; i++) {
        gguf_str m = merges->arr_strs[i];
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp) continue; /* llama.cpp stores such an entry under ("", ""), which no pair can hit */
        size_t ll = (size_t)(sp - m.ptr), rl = m.len - ll - 1;
        if (m.len > UINT32_MAX / 4)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.merges: merge %llu is %llu bytes long", f->path,
                    (unsigned long long)i, (unsigned long long)m.len);
        int32_t a = tk_str_intern(t, m.ptr, ll);
        int32_t b = tk_str_intern(t, sp + 1, rl);
        size_t slot = tk_pair_slot(t, tk_pair_key(a, b));
        if (t->pairs[slot].key != UINT64_MAX) continue;
        cat.n = 0;
        tk_bytes_put(&cat, m.ptr, ll, "tokenizer merges");
        tk_bytes_put(&cat, sp + 1, rl, "tokenizer merges");
        int32_t r = tk_str_intern(t, cat.p, cat.n);
        slot = tk_pair_slot(t, tk_pair_key(a, b)); /* interning does not touch the pair table */
        t->pairs[slot] = (struct merge_slot){tk_pair_key(a, b), (int32_t)i, r};
    }
    dam_free(cat.p);

    if (spm) {
        t->scores = dam_calloc((size_t)n, sizeof(float), "tokenizer scores");
        if (scores) memcpy(t->scores, scores->arr_data, (size_t)n * sizeof(float));
        for (int b = 0; b < 256; b++) { /* llama.cpp's byte_to_token for SPM */
            char hex[8], one = (char)b;
            snprintf(hex, sizeof hex, "<0x%02X>", b);
            t->spm_byte[b] = find_text(t, hex);
            if (t->spm_byte[b] < 0) t->spm_byte[b] = tk_token_find(t, &one, 1);
        }
    }
    for (int b = 0; b < 256; b++) {
        t->enc_len[b] = (uint8_t)tk_utf8_encode(tk_byte_to_cp(b), t->enc[b]);
        t->byte_sym[b] = tk_str_find(t, (const char *)t->enc[b], t->enc_len[b]);
        for (int k = 0; k < 2; k++)
            t->fallback[b][k] = k < t->enc_len[b] ? tk_token_find(t, (const char *)&t->enc[b][k], 1) : -1;
    }

    t->add_bos = gguf_get_bool_or(f, "tokenizer.ggml.add_bos_token", pre->add_bos);
    t->add_eos = gguf_get_bool_or(f, "tokenizer.ggml.add_eos_token", false);
    /* llama.cpp: default on for SPM, off for gpt2; read for both (detokenize honours it for both) */
    t->add_space_prefix = gguf_get_bool_or(f, "tokenizer.ggml.add_space_prefix", spm);
    tk_load_special(t, f);

    /* Special-token partition order. */
    len_id *sp = dam_malloc((size_t)n * sizeof(len_id), "tokenizer special tokens");
    for (int32_t i = 0; i < n; i++)
        if (t->attr[i] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN))
            sp[t->n_special++] = (len_id){t->str_len[i], i};
    qsort(sp, (size_t)t->n_special, sizeof(len_id), cmp_len_id);
    t->special = dam_malloc((size_t)(t->n_special ? t->n_special : 1) * sizeof(int32_t), "tokenizer special tokens");
    for (int32_t i = 0; i < t->n_special; i++) t->special[i] = sp[i].id;
    dam_free(sp);

    /* Pieces (special = true rendering), after the attribute overrides as in llama.cpp. */
    bytes_buf pb = {0};
    t->piece_off = dam_malloc((size_t)n * sizeof(uint32_t), "tokenizer pieces");
    t->piece_len = dam_malloc((size_t)n * sizeof(uint32_t), "tokenizer pieces");
    for (int32_t i = 0; i < n; i++) {
        size_t start = pb.n;
        render_piece(t, i, &pb, f->path);
        if (pb.n > UINT32_MAX)
            dam_die(DAM_EXIT_INPUT, "%s: tokenizer.ggml.tokens: token texts exceed 4 GiB", f->path);
        t->piece_off[i] = (uint32_t)start;
        t->piece_len[i] = (uint32_t)(pb.n - start);
    }
    t->pieces = pb.p ? pb.p : dam_malloc(1, "tokenizer pieces");

    compile_regexes(t);
    return t;
}

void tok_free(tokenizer *t) {
    if (!t) return;
    tk_hf_free(t->hf);
    for (int i = 0; i < t->n_re; i++) pcre2_code_free(t->re[i]);
    dam_free(t->pre_name);
    dam_free(t->arena);
    dam_free(t->str_off);
    dam_free(t->str_len);
    dam_free(t->smap);
    dam_free(t->pairs);
    dam_free(t->attr);
    dam_free(t->eog);
    dam_free(t->pieces);
    dam_free(t->piece_off);
    dam_free(t->piece_len);
    dam_free(t->special);
    dam_free(t->scores);
    dam_free(t);
}

/* ---------------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------------- */


void tk_spans_push(spans *v, size_t off, size_t len) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 256;
        v->p = dam_realloc(v->p, v->cap * sizeof(span), "tokenizer spans");
    }
    v->p[v->n].off = off;
    v->p[v->n].len = len;
    v->n++;
}

/* A fragment after the special-token partition: raw text (tok < 0) or one special token. */
typedef struct {
    size_t off, len;
    int32_t tok;
} fragment;

typedef struct {
    fragment *p;
    size_t n, cap;
} fragments;

static void frag_push(fragments *v, size_t off, size_t len, int32_t tok) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->p = dam_realloc(v->p, v->cap * sizeof(fragment), "tokenizer fragments");
    }
    v->p[v->n++] = (fragment){off, len, tok};
}


static bool bigram_less(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(work *w, bigram g) {
    if (w->heap_n == w->heap_cap) {
        w->heap_cap = w->heap_cap ? 2 * w->heap_cap : 256;
        w->heap = dam_realloc(w->heap, w->heap_cap * sizeof(bigram), "tokenizer BPE heap");
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_less(&g, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = g;
}

static bigram heap_pop(work *w) {
    bigram top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_less(&w->heap[c + 1], &w->heap[c])) c++;
        if (!bigram_less(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* Queues the merge of adjacent symbols l and r if the pair has one. */
static void add_bigram(const tokenizer *t, work *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || w->sid[l] < 0 || w->sid[r] < 0) return;
    uint64_t key = tk_pair_key(w->sid[l], w->sid[r]);
    size_t slot = tk_pair_slot(t, key);
    if (t->pairs[slot].key != key) return;
    heap_push(w, (bigram){t->pairs[slot].rank, l, r, w->sid[l], w->sid[r], t->pairs[slot].result});
}

void tk_work_reserve(work *w, size_t n) {
    if (n <= w->sym_cap) return;
    w->sym_cap = n;
    w->sid = dam_realloc(w->sid, n * sizeof(int32_t), "tokenizer BPE symbols");
    w->prev = dam_realloc(w->prev, n * sizeof(int32_t), "tokenizer BPE symbols");
    w->next = dam_realloc(w->next, n * sizeof(int32_t), "tokenizer BPE symbols");
    w->sstart = dam_realloc(w->sstart, n * sizeof(uint32_t), "tokenizer BPE symbols");
    w->slen = dam_realloc(w->slen, n * sizeof(uint32_t), "tokenizer BPE symbols");
}

void tk_bpe_merge(const tokenizer *t, work *w, size_t n) {
    w->heap_n = 0;
    for (size_t i = 1; i < n; i++) add_bigram(t, w, (int32_t)i - 1, (int32_t)i);
    while (w->heap_n > 0) {
        bigram g = heap_pop(w);
        int32_t l = g.left, r = g.right;
        if (w->slen[l] == 0 || w->slen[r] == 0 || w->next[l] != r || w->sid[l] != g.lid || w->sid[r] != g.rid)
            continue; /* stale: one side has merged since */
        w->sid[l] = g.result;
        w->slen[l] += w->slen[r];
        w->slen[r] = 0;
        w->next[l] = w->next[r];
        if (w->next[r] >= 0) w->prev[w->next[r]] = l;
        add_bigram(t, w, w->prev[l], l);
        add_bigram(t, w, l, w->next[l]);
    }
}

/* Emits the ids of one final symbol: the token, or the one-byte-token fallback. */
static void emit_symbol(const tokenizer *t, const uint8_t *word, int32_t sid, size_t start, size_t len, ids_buf *out) {
    if (sid >= 0 && sid < t->n_vocab) {
        tk_ids_push(out, sid);
        return;
    }
    for (size_t i = start; i < start + len; i++)
        for (int k = 0; k < 2; k++)
            if (t->fallback[word[i]][k] >= 0) tk_ids_push(out, t->fallback[word[i]][k]);
}

/* BPE of one pre-token (raw bytes) into ids. */
static void bpe_word(const tokenizer *t, work *w, const uint8_t *word, size_t n, ids_buf *out) {
    if (n == 0) return;
    if (t->pre->ignore_merges) {
        w->encw.n = 0;
        for (size_t i = 0; i < n; i++) tk_bytes_put(&w->encw, t->enc[word[i]], t->enc_len[word[i]], "tokenizer word");
        int32_t id = tk_token_find(t, w->encw.p, w->encw.n);
        if (id >= 0) {
            tk_ids_push(out, id);
            return;
        }
    }
    if (n == 1) {
        emit_symbol(t, word, t->byte_sym[word[0]], 0, 1, out);
        return;
    }
    tk_work_reserve(w, n);
    for (size_t i = 0; i < n; i++) {
        w->sid[i] = t->byte_sym[word[i]];
        w->sstart[i] = (uint32_t)i;
        w->slen[i] = 1;
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    tk_bpe_merge(t, w, n);
    for (int32_t i = 0; i >= 0; i = w->next[i]) emit_symbol(t, word, w->sid[i], w->sstart[i], w->slen[i], out);
}

/* Splits every span of w->words by regex re into matches and the unmatched spans between them. */
static void regex_split(const tokenizer *t, work *w, const pcre2_code *re) {
    w->next_words.n = 0;
    const PCRE2_SPTR subject = (PCRE2_SPTR)w->rx.p;
    for (size_t k = 0; k < w->words.n; k++) {
        span s = w->words.p[k];
        size_t pos = 0;
        while (pos < s.len) {
            int rc = pcre2_match(re, subject + s.off, s.len, pos, 0, w->md, NULL);
            if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) /* e.g. a JIT stack limit: retry interpreted */
                rc = pcre2_match(re, subject + s.off, s.len, pos, PCRE2_NO_JIT, w->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                dam_die(DAM_EXIT_RUNTIME, "tokenizer: pre-tokenizer \"%s\": regex match failed: %s", t->pre->name,
                        (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
            size_t a = ov[0], b = ov[1];
            if (b <= a) break; /* no pattern here matches the empty string; stop rather than loop */
            if (a > pos) tk_spans_push(&w->next_words, s.off + pos, a - pos);
            tk_spans_push(&w->next_words, s.off + a, b - a);
            pos = b;
        }
        if (pos < s.len) tk_spans_push(&w->next_words, s.off + pos, s.len - pos);
    }
    spans tmp = w->words;
    w->words = w->next_words;
    w->next_words = tmp;
}

static int32_t spm_find(const void *ctx, const char *s, size_t n) { return tk_token_find(ctx, s, n); }

/* SentencePiece BPE of one plain-text fragment (llama.cpp's SPM branch of tokenize): a space is
 * prepended if the vocabulary asks for it and the fragment starts the input or follows a special
 * token; every ' ' becomes U+2581; pieces that are not tokens fall back to byte tokens. */
static void encode_fragment_spm(const tokenizer *t, work *w, const char *s, size_t n, bool prefix, ids_buf *out) {
    w->canon.n = 0;
    tk_bytes_reserve(&w->canon, 3 * n + 3, "tokenizer text");
    if (prefix) tk_bytes_put(&w->canon, "\xe2\x96\x81", 3, "tokenizer text");
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ') tk_bytes_put(&w->canon, "\xe2\x96\x81", 3, "tokenizer text");
        else tk_bytes_put(&w->canon, s + i, 1, "tokenizer text");
    size_t m = w->canon.n;
    if (m == 0) return;
    tk_work_reserve(w, m);
    size_t k = spm_segment(w->canon.p, m, spm_find, t, t->scores, w->sstart, w->slen, w->sid);
    for (size_t i = 0; i < k; i++) {
        if (w->sid[i] >= 0) {
            tk_ids_push(out, w->sid[i]);
            continue;
        }
        for (uint32_t j = 0; j < w->slen[i]; j++) {
            uint8_t b = (uint8_t)w->canon.p[w->sstart[i] + j];
            if (t->spm_byte[b] < 0)
                dam_die(DAM_EXIT_INPUT, "tokenizer: byte 0x%02X has no byte token (<0x%02X>) in this SPM vocabulary", b, b);
            tk_ids_push(out, t->spm_byte[b]);
        }
    }
}

/* Pre-tokenisation and BPE of one plain-text fragment. */
static void encode_fragment(const tokenizer *t, work *w, const uint8_t *s, size_t n, ids_buf *out) {
    w->canon.n = w->rx.n = 0;
    tk_bytes_reserve(&w->canon, 3 * n, "tokenizer text");
    tk_bytes_reserve(&w->rx, 3 * n, "tokenizer text");
    uint8_t *c = (uint8_t *)w->canon.p, *x = (uint8_t *)w->rx.p;
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tk_utf8_decode(s, n, i, &cp);
        if (k == 0) cp = 0xfffd, k = 1;
        size_t e = tk_utf8_encode(cp, c + m);
        if (cp >= 0xd800 && cp <= 0xdfff) tk_utf8_encode(0xe000, x + m); /* private use: same classes */
        else memcpy(x + m, c + m, e);
        m += e;
        i += k;
    }
    w->canon.n = w->rx.n = m;
    w->words.n = 0;
    tk_spans_push(&w->words, 0, m);
    for (int r = 0; r < t->n_re; r++) regex_split(t, w, t->re[r]);
    for (size_t k = 0; k < w->words.n; k++) bpe_word(t, w, c + w->words.p[k].off, w->words.p[k].len, out);
}

void tk_work_free(work *w) {
    pcre2_match_data_free(w->md);
    dam_free(w->canon.p);
    dam_free(w->rx.p);
    dam_free(w->words.p);
    dam_free(w->next_words.p);
    dam_free(w->encw.p);
    dam_free(w->sid);
    dam_free(w->prev);
    dam_free(w->next);
    dam_free(w->sstart);
    dam_free(w->slen);
    dam_free(w->heap);
}

int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t **ids) {
    if (t->hf) return tk_hf_encode(t, text, len, add_special, parse_special, ids);
    ids_buf out = {0};
    if (add_special && t->add_bos && t->bos >= 0) tk_ids_push(&out, t->bos);

    /* Special-token partition: each special text, longest first, cuts every raw fragment. */
    fragments fr = {0}, nf = {0};
    if (len > 0) frag_push(&fr, 0, len, -1);
    for (int32_t k = 0; k < t->n_special && fr.n > 0; k++) {
        int32_t id = t->special[k];
        if (!parse_special && (t->attr[id] & (ATTR_CONTROL | ATTR_UNKNOWN))) continue;
        const char *st = t->arena + t->str_off[id];
        size_t sl = t->str_len[id];
        nf.n = 0;
        bool cut = false;
        for (size_t i = 0; i < fr.n; i++) {
            fragment g = fr.p[i];
            if (g.tok >= 0 || g.len < sl) {
                frag_push(&nf, g.off, g.len, g.tok);
                continue;
            }
            size_t pos = g.off, end = g.off + g.len;
            const char *hit;
            while (pos < end && (hit = memmem(text + pos, end - pos, st, sl)) != NULL) {
                size_t h = (size_t)(hit - text);
                if (h > pos) frag_push(&nf, pos, h - pos, -1);
                frag_push(&nf, h, sl, id);
                pos = h + sl;
                cut = true;
            }
            if (pos < end) frag_push(&nf, pos, end - pos, -1);
        }
        if (cut) {
            fragments tmp = fr;
            fr = nf;
            nf = tmp;
        }
    }

    work w;
    memset(&w, 0, sizeof w);
    bool prev_special = true; /* SPM: the input's start counts as following a special token */
    for (size_t i = 0; i < fr.n; i++) {
        if (fr.p[i].tok >= 0) {
            tk_ids_push(&out, fr.p[i].tok);
            prev_special = true;
            continue;
        }
        if (t->spm) {
            encode_fragment_spm(t, &w, text + fr.p[i].off, fr.p[i].len, t->add_space_prefix && prev_special, &out);
            prev_special = false;
            continue;
        }
        if (!w.md) {
            w.md = pcre2_match_data_create(1, NULL);
            if (!w.md) dam_die(DAM_EXIT_RUNTIME, "out of memory allocating regex match data");
        }
        encode_fragment(t, &w, (const uint8_t *)text + fr.p[i].off, fr.p[i].len, &out);
    }
    if (add_special && t->add_eos && t->eos >= 0) tk_ids_push(&out, t->eos);

    tk_work_free(&w);
    dam_free(fr.p);
    dam_free(nf.p);
    if (out.n > (size_t)INT32_MAX) dam_die(DAM_EXIT_RUNTIME, "tokenizer: %zu tokens exceed the int range", out.n);
    *ids = out.p ? out.p : dam_malloc(0, "token ids");
    return (int)out.n;
}

/* ---------------------------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------------------------- */

/* The piece of id as rendered with `special`: pointer and length (empty for out-of-range ids). */
static const char *piece_of(const tokenizer *t, int32_t id, bool special, size_t *n) {
    *n = 0;
    if (id < 0 || id >= t->n_vocab) return "";
    if (!special && (t->attr[id] & (ATTR_UNKNOWN | ATTR_CONTROL))) return "";
    *n = t->piece_len[id];
    return t->pieces + t->piece_off[id];
}

size_t tok_piece(const tokenizer *t, int32_t id, bool special, char *buf, size_t cap) {
    size_t n;
    const char *p = piece_of(t, id, special, &n);
    if (cap > 0) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, p, k);
        buf[k] = 0;
    }
    return n;
}

/* llama.cpp's clean_up_tokenization_spaces, in place on s[0..n); returns the new length. Three
 * passes: drop the space before ? ! . ,; turn " ' " into "'"; drop the space before 's 'm 're 've. */
static size_t clean_spaces(char *s, size_t n) {
    size_t total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        s[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = s[i];
        if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
            total--;
            s[++i] = 0; /* the following space is skipped (and overwritten, as upstream does) */
        }
        s[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = s[i + 1];
            if (x1 == 's' || x1 == 'm') total--;
            else if (i + 2 < n && ((x1 == 'r' && s[i + 2] == 'e') || (x1 == 'v' && s[i + 2] == 'e'))) total--;
        }
        s[total++] = x;
    }
    return total;
}

char *tok_decode_len(const tokenizer *t, const int32_t *ids, int n, bool special, size_t *len) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t k;
        piece_of(t, ids[i], special, &k);
        total += k;
    }
    char *s = dam_malloc(total + 1, "decoded text");
    size_t m = 0;
    bool first_shown = true; /* strip_space 2: before the first token that is not skipped */
    for (int i = 0; i < n; i++) {
        size_t k;
        const char *p = piece_of(t, ids[i], special, &k);
        bool shown = ids[i] >= 0 && ids[i] < t->n_vocab && (special || !(t->attr[ids[i]] & (ATTR_UNKNOWN | ATTR_CONTROL)));
        if (t->strip_space == 2 && shown && first_shown) { /* the text, every replacement dropped */
            const char *x = t->arena + t->str_off[ids[i]];
            size_t xl = t->str_len[ids[i]], r = t->strip_repl_len;
            for (size_t j = 0; j < xl;) {
                if (j + r <= xl && memcmp(x + j, t->strip_repl, r) == 0) {
                    j += r;
                    continue;
                }
                s[m++] = x[j++];
            }
            first_shown = false;
            continue;
        }
        if (shown) first_shown = false;
        if (i == 0 && t->add_space_prefix && k > 0 && p[0] == ' ') { /* llama.cpp's remove_space (lstrip 1) */
            p++;
            k--;
        }
        memcpy(s + m, p, k);
        m += k;
    }
    if (t->strip_space == 1 && m > 0 && s[0] == ' ') memmove(s, s + 1, --m);
    if (t->pre->clean_spaces) m = clean_spaces(s, m);
    s[m] = 0;
    *len = m;
    return s;
}

char *tok_decode(const tokenizer *t, const int32_t *ids, int n, bool special) {
    size_t len;
    return tok_decode_len(t, ids, n, special, &len);
}

int tok_vocab_size(const tokenizer *t) { return t->n_vocab; }
int32_t tok_bos(const tokenizer *t) { return t->bos; }
int32_t tok_eos(const tokenizer *t) { return t->eos; }
bool tok_is_eog(const tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab && t->eog[id]; }
const char *tok_pre_name(const tokenizer *t) { return t->pre_name; }
