/* tokenizer_spm.h — SentencePiece-style BPE segmentation with token scores, as llama.cpp's "llama"
 * (SPM) vocabulary type does it (src/llama-vocab.cpp, llm_tokenizer_spm_session). Used by
 * model/tokenizer.c for GGUF files whose tokenizer.ggml.model is "llama" (Gemma, Llama 2, Mistral).
 *
 * Algorithm: the text is cut into UTF-8 characters by their lead byte alone (0xxxxxxx and
 * continuation bytes: 1 byte, 110xxxxx: 2, 1110xxxx: 3, 11110xxx and above: 4, clipped at the end of
 * the text; no validation, so invalid bytes stay single symbols). Every adjacent pair of symbols
 * whose concatenation is a token (any token type) is queued with that token's score; the pair with
 * the highest score (the leftmost on ties) is merged, its neighbours' pairs are queued, and so on
 * until no queued pair is valid. Every final symbol is a token (merges only form tokens) or a
 * single character that is not one; the caller byte-falls-back on the latter. */
#ifndef DAM_MODEL_TOKENIZER_SPM_H
#define DAM_MODEL_TOKENIZER_SPM_H

#include <stddef.h>
#include <stdint.h>

/* Token id of text s[0..n) (any token type), or -1 if it is not a token. */
typedef int32_t (*spm_find_fn)(const void *ctx, const char *s, size_t n);

/* Segments text[0..n) (whitespace already escaped by the caller). Writes the final pieces in order
 * as byte offsets start[i] and lengths len[i] (both arrays have room for n entries, which is the
 * most there can be) and their token ids id[i] (-1 for a piece that is not a token); returns the
 * number of pieces. scores[id] is the score of token id. Work space is dam_malloc'd and freed. */
size_t spm_segment(const char *text, size_t n, spm_find_fn find, const void *ctx, const float *scores,
                   uint32_t *start, uint32_t *len, int32_t *id);

#endif
