/* tokenizer_hf.h — Hugging Face tokenizer.json (+ tokenizer_config.json) into the project's tokenizer
 * (model/tokenizer.h): tok_encode / tok_decode / tok_piece / tok_is_eog then behave as the `tokenizers`
 * library (HF's Rust implementation; tests compare against its ids) does for the file.
 *
 * Accepted (everything else is refused by name, exit 2, never approximated):
 *   model        BPE (vocab, merges as "a b" strings or [a, b] pairs, byte_fallback, unk_token,
 *                fuse_unk, ignore_merges; dropout null, no continuing_subword_prefix / end_of_word_suffix);
 *   added_tokens id, content, special, lstrip, rstrip, normalized (single_word true is refused);
 *   normalizer   null, NFC (model/unicode_nfc.h), Prepend, Replace (String pattern), or a Sequence of
 *                them;
 *   pre_tokenizer null, Split (String or Regex pattern, every behavior, invert), ByteLevel
 *                (add_prefix_space, use_regex), Digits, Metaspace (replacement, prepend_scheme or the
 *                older add_prefix_space, split), or a Sequence of them;
 *   decoder      ByteLevel; Metaspace; or a Sequence of Replace, ByteFallback, Fuse and a final
 *                Strip(" ", 1, 0);
 *   post_processor null, ByteLevel, TemplateProcessing whose single template is at most one special
 *                token, $A, at most one special token; or a Sequence of them.
 * tokenizer_config.json (optional): bos_token / eos_token (string or {"content": ...}) name the BOS /
 * EOS tokens; add_bos_token / add_eos_token, when present, override what the post-processor adds (as
 * transformers' Llama / Gemma fast tokenizers rebuild it); chat_template (tok_hf_chat_template).
 *
 * Regexes are Oniguruma patterns upstream; here PCRE2 compiles them after \p{L}, \p{N}, \p{P}, \s and
 * \S are spelled out as the Unicode 15.1 classes and White_Space set model/tokenizer.c uses (Oniguruma
 * in `tokenizers` knows Unicode 15; PCRE2 10.42 knows 14). Oniguruma's \h (a hex digit there, a
 * horizontal space in PCRE2) and \S inside a character class are refused.
 * Text that is not valid UTF-8 (which HF's Rust strings cannot hold) is read as the GGUF path reads
 * it: each byte that does not start a valid sequence becomes U+FFFD. */
#ifndef DAM_MODEL_TOKENIZER_HF_H
#define DAM_MODEL_TOKENIZER_HF_H

#include "model/tokenizer.h"

/* Loads DIR/tokenizer.json and, if present, DIR/tokenizer_config.json. Returns a tokenizer to free
 * with tok_free. Input errors (missing file, bad JSON, unsupported component, wrong type) exit with
 * status 2 and one line naming the file and the JSON key (e.g. "x/tokenizer.json: model.type
 * \"WordPiece\" is not supported (supported: BPE)"). tok_pre_name() returns "hf". */
tokenizer *tok_load_hf(const char *dir);

/* The chat template of DIR/tokenizer_config.json's "chat_template": the string, or from the list of
 * {"name", "template"} objects the one named "default". Returns a dam_malloc'd string (caller frees
 * with dam_free), or NULL when the file or the key is absent or null. Exits with status 2 naming the
 * file and key when it is of another type or the list has no "default". */
char *tok_hf_chat_template(const char *dir);

#endif
