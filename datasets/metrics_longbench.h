/* metrics_longbench.h — LongBench v1's per-example scorers (THUDM/LongBench metrics.py, eval.py;
 * docs/workloads.md "longbench"), one (prediction, ground truth) pair each, in [0, 1]. The example
 * score is the maximum over the record's answers (longdoc.c). Chinese scorers use one token per
 * character where upstream uses jieba words (metrics_text.h). */
#ifndef DAM_DATASETS_METRICS_LONGBENCH_H
#define DAM_DATASETS_METRICS_LONGBENCH_H

/* qa_f1_score: token F1 of the SQuAD-normalised texts. */
double lb_qa_f1(const char *pred, const char *gold);

/* qa_f1_zh_score: token F1 over the characters of the Chinese-normalised texts (upstream: the
 * non-empty normalised jieba words). */
double lb_qa_f1_zh(const char *pred, const char *gold);

/* rouge_score: ROUGE-L f of rouge==1.0.1 (text_rouge_l). */
double lb_rouge(const char *pred, const char *gold);

/* rouge_zh_score: rouge_score of the texts with a space between every two characters (upstream:
 * between jieba words). */
double lb_rouge_zh(const char *pred, const char *gold);

/* classification_score: the classes of `classes` (n of them, in order) that occur as substrings of
 * pred; then, walking that list as upstream's `for ... remove` loop does (removing an entry makes
 * the loop skip the next one), a class that is a substring of gold but not gold itself is removed
 * (its first occurrence); score 1/|list| if gold is in the list, else 0. */
double lb_classification(const char *pred, const char *gold, char *const *classes, int n);

/* The paragraph number of a retrieval answer: the digits after the first "Paragraph " (zh: "段落")
 * followed by a digit, as a dam_malloc'd string; NULL when there is none (upstream raises). */
char *lb_retrieval_id(const char *gold, int zh);

/* retrieval_score / retrieval_zh_score: (number of digit runs of pred equal, as strings, to the
 * gold paragraph number) / (number of digit runs of pred); 0 without digits or without a gold
 * number. */
double lb_retrieval(const char *pred, const char *gold, int zh);

/* count_score: (number of digit runs of pred equal, as strings, to gold) / (number of digit runs). */
double lb_count(const char *pred, const char *gold);

/* code_sim_score: the first line of pred (after dropping leading '\n') that contains none of '`',
 * '#', "//" ("" if none does), then fuzz.ratio(line, gold) / 100. */
double lb_code_sim(const char *pred, const char *gold);

/* eval.py's post-processing for trec, triviaqa, samsum, lsht: pred.lstrip('\n').split('\n')[0].
 * Returns a dam_malloc'd string. */
char *lb_first_line(const char *pred);

#endif
