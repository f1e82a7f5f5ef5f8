/* tokenizer.h — the tokenizers of GGUF files (tokenizer.ggml.*): byte-level BPE ("gpt2") and
 * SentencePiece BPE with scores ("llama": Gemma, Llama 2, Mistral).
 *
 * Follows llama.cpp's tokenizers (llama-vocab.cpp), the reference the tests compare against token for
 * token. "gpt2":
 *   1. special-token partition: with parse_special, every CONTROL / USER_DEFINED / UNKNOWN token
 *      text found in the input is cut out as that token (longest token text first); without it only
 *      USER_DEFINED texts are; the rest is plain text (spaces around specials are kept);
 *   2. pre-tokenisation of each plain fragment by the regex list selected by tokenizer.ggml.pre
 *      (applied in sequence, unmatched spans kept; Unicode classes through libpcre2 with UCP, made to
 *      agree with llama.cpp's Unicode 15.1 tables and whitespace set);
 *   3. each pre-token's bytes mapped to GPT-2's byte-to-unicode alphabet, then merged by BPE
 *      (lowest merge rank first, leftmost on ties) using tokenizer.ggml.merges;
 *   4. BOS / EOS added per tokenizer.ggml.add_bos_token / add_eos_token when add_special is set.
 * "llama" (SPM): the same special-token partition; each plain fragment gets a leading space if
 * tokenizer.ggml.add_space_prefix (default true; Gemma: false) and it starts the input or follows a
 * special token, its spaces become U+2581, and it is merged by token score (model/tokenizer_spm.h);
 * pieces that are no token become byte tokens <0xXX>. BOS is added by default. Decoding maps U+2581
 * back to spaces and byte tokens to their byte; with add_space_prefix the first piece loses one
 * leading space, as llama_detokenize does.
 * Token ids are int32. Unsupported tokenizer.ggml.model or tokenizer.ggml.pre values are input
 * errors (exit 2) naming the file and the value. */
#ifndef DAM_MODEL_TOKENIZER_H
#define DAM_MODEL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/gguf.h"

/* Opaque tokenizer: vocabulary, merge ranks, special tokens, compiled pre-tokenizer regexes. */
typedef struct tokenizer tokenizer;

/* Builds the tokenizer from f's metadata. The result does not reference f after return (all
 * strings copied), so f may be closed. Exits with status 2 naming f->path on bad metadata,
 * including a tokenizer.ggml.model other than "gpt2" or "llama", a gpt2 tokenizer.ggml.pre value that
 * is not supported (the message lists the supported ones; a missing pre means "default", as in
 * llama.cpp), or a Phi-3 SPM vocabulary (llama.cpp strips spaces after its special tokens). */
tokenizer *tok_load(const gguf_file *f);

void tok_free(tokenizer *t);

/* Encodes `len` bytes of `text` (UTF-8, NUL bytes allowed). As in llama.cpp, a byte that does not
 * start a complete UTF-8 sequence is replaced by U+FFFD (EF BF BD) before BPE, so such input does
 * not round-trip; overlong forms are re-encoded shortest (llama.cpp throws on code points above
 * U+10FFFF; here each byte of such a sequence becomes U+FFFD).
 * add_special: add BOS/EOS per the model's policy. parse_special: recognise special-token texts.
 * Returns the number of ids and stores a dam_malloc'd array in *ids (caller frees with dam_free). */
int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
               int32_t **ids);

/* Appends the text of token `id` to buf (capacity cap, always NUL-terminated if cap > 0) and
 * returns the number of bytes the piece has (which may exceed cap - 1: then it is truncated).
 * Control tokens render as their text only when `special` is true, else as "". */
size_t tok_piece(const tokenizer *t, int32_t id, bool special, char *buf, size_t cap);

/* Decodes ids into a new dam_malloc'd NUL-terminated string (caller frees): the pieces
 * concatenated, as llama_detokenize(remove_special = false, unparse_special = special); for the
 * pre-tokenizers where llama.cpp cleans up spaces (not smollm) " ?", " !", " .", " ,", " 's", " 'm",
 * " 're", " 've" lose the space and " ' " becomes "'". Ids outside the vocabulary decode to "". */
char *tok_decode(const tokenizer *t, const int32_t *ids, int n, bool special);

/* As tok_decode, and stores the length in *len (the text may contain NUL bytes). */
char *tok_decode_len(const tokenizer *t, const int32_t *ids, int n, bool special, size_t *len);

int tok_vocab_size(const tokenizer *t);
int32_t tok_bos(const tokenizer *t); /* -1 if the model has none */
int32_t tok_eos(const tokenizer *t);
/* True for tokens that end generation: EOS, EOT and the end-of-turn control tokens
 * (<|im_end|>, <|endoftext|>, <|eot_id|>, <end_of_turn>, ...), as llama.cpp's is_eog; like
 * llama.cpp this includes the FIM pad / repo / file-separator tokens it detects by text (for
 * SmolLM2: <|endoftext|> 0, <|im_end|> 2 and <reponame> 4). */
bool tok_is_eog(const tokenizer *t, int32_t id);
/* The pre-tokenizer name (tokenizer.ggml.pre, "default" if absent), e.g. "smollm"; SPM vocabularies
 * ignore it. */
const char *tok_pre_name(const tokenizer *t);

#endif
