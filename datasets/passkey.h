/* passkey.h — passkey retrieval (Mohtashami & Jaggi 2023, "Landmark Attention";
 * epfml/landmark-attention llama/run_test.py; workloads.md §3).
 *
 * prompt = "\n".join of: the task line; the first n_prefix characters of the filler G_inf; the key
 * line "The pass key is K. Remember it. K is the pass key."; the first n_garbage - n_prefix
 * characters of G_inf; "What is the pass key? The pass key is". G_inf is the garbage sentence
 * "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
 * repeated 2000 times joined by single spaces (179,999 characters); cuts may fall mid-word.
 * Raw prompt, no chat template (completion style). Scoring: the first run of digits in the
 * output equals the key. */
#ifndef DAM_DATASETS_PASSKEY_H
#define DAM_DATASETS_PASSKEY_H

/* Longest filler available, in characters (length of G_inf). */
int passkey_max_garbage(void);

/* Builds the prompt. 0 <= n_prefix <= n_garbage <= passkey_max_garbage() (exit 2 otherwise).
 * Returns a dam_malloc'd string. */
char *passkey_prompt(int key, int n_garbage, int n_prefix);

/* 1 if the first run of ASCII digits in `output` is the decimal text of `key`, else 0 (upstream
 * falls back to comparing the first 20 characters as a string when there are no digits; that can
 * never equal a numeric key, so it scores 0 here too). */
int passkey_score(const char *output, int key);

#endif
