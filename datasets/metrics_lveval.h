/* metrics_lveval.h — LV-Eval's per-example scorers (infinigence/LVEval metrics.py, config.py;
 * docs/workloads.md "lveval"), in [0, 1]. LV-Eval scores only the FIRST answer of a record (its
 * scorer breaks after one); plain F1 (factrecall_en) is LongBench's lb_qa_f1, plain Chinese F1
 * (factrecall_zh) lb_qa_f1_zh. Chinese scorers use one token per character where upstream uses jieba
 * words, so the multi-character entries of the Chinese blacklist never match (metrics_text.h). */
#ifndef DAM_DATASETS_METRICS_LVEVAL_H
#define DAM_DATASETS_METRICS_LVEVAL_H

/* The blacklists (ABANDON_WORDS_EN: 38 English function words; ABANDON_WORDS_ZH: 85 Chinese words,
 * 61 of them one character), NULL-terminated. */
extern const char *const LV_BLACKLIST_EN[];
extern const char *const LV_BLACKLIST_ZH[];

/* qa_f1_score_with_gold_ans: P = SQuAD tokens of pred, G = of gold, K = of `keywords`. When
 * `keywords` is non-NULL and non-empty: recall = (size of the multiset intersection of P and K,
 * leaving out blacklisted tokens) / |K|; recall < 0.2 scores 0. Otherwise, or when the recall
 * passes, the score is F1(P, G). Keywords whose tokens are empty (upstream divides by zero) skip the
 * recall test. */
double lv_f1_keywords(const char *pred, const char *gold, const char *keywords);

/* qa_f1_zh_score_with_gold_ans: the same on Chinese character tokens with the Chinese blacklist and
 * threshold 0.4; absent or empty keywords fall back to the gold answer itself. */
double lv_f1_keywords_zh(const char *pred, const char *gold, const char *keywords);

/* rouge_zh_score_blacklist (dureader_mixup): ROUGE-L f (text_rouge_l) of pred against gold, each
 * reduced to its Chinese-normalised character tokens without the blacklisted ones and written with a
 * space between every two tokens. */
double lv_rouge_zh_blacklist(const char *pred, const char *gold);

#endif
