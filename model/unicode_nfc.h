/* unicode_nfc.h — Unicode Normalization Form C (UAX #15: canonical decomposition, canonical ordering,
 * canonical composition), for the NFC normalizer of Hugging Face tokenizer.json files (Qwen2, Qwen2.5).
 * Tables: model/unicode_nfc_tables.h (scripts/gen_unicode_nfc.py, Unicode 15.1 from Python's
 * unicodedata); Hangul syllables by the algorithm of Unicode's chapter 3.12. */
#ifndef DAM_MODEL_UNICODE_NFC_H
#define DAM_MODEL_UNICODE_NFC_H

#include <stddef.h>

/* The NFC form of the valid UTF-8 text s[0..n) (the caller guarantees validity, surrogates
 * excluded). Returns a new dam_malloc'd buffer (caller frees with dam_free) holding *out_n bytes.
 * Text whose code points are all below U+0300 is its own NFC form and is copied as is. */
char *unicode_nfc(const char *s, size_t n, size_t *out_n);

/* The Unicode version of the tables, e.g. "15.1.0". */
const char *unicode_nfc_version(void);

#endif
