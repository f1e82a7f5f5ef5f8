/* longeval_topics.h — LongEval "topics" retrieval (LongChat, DachengLi1/LongChat @ 4b5faa5;
 * workloads.md §2): the loader of the original test cases K_topics.jsonl and a deterministic
 * scoring rule standing in for upstream's judge (GPT-3.5 or a human: "1/0, ignore paraphrase,
 * capitalization, punctuation").
 *
 * Rule (docs/workloads.md): normalise topic and prediction alike — ASCII letters lower-cased,
 * every character that is not an ASCII letter or digit becomes a word break — and take the
 * topic's content words: its words minus the stop words
 *   a an the of on in and or for to with about
 * (each of the 30 topics keeps 2-5 content words). Score 1 if at least 60 % of the topic's
 * distinct content words occur as whole words of the prediction, else 0. An exact (normalised)
 * answer scores 1; a paraphrase that keeps most content words scores 1 ("reading for pleasure"
 * for "The benefits of reading for pleasure": 2 of 3); another topic sharing one word does not
 * ("the psychology of addiction" for "The psychology of creativity": 1 of 2). No stemming
 * ("benefit" does not match "benefits"); a prediction listing every topic scores 1 (a judge
 * might not). */
#ifndef DAM_DATASETS_LONGEVAL_TOPICS_H
#define DAM_DATASETS_LONGEVAL_TOPICS_H

/* One test case of an upstream K_topics.jsonl file. Strings dam_malloc'd, owned. */
typedef struct {
    int test_id;     /* test_id */
    char *prompt;    /* the full user message as stored */
    char **topics;   /* [n_topics] topic names in record order; the answer is topics[0] */
    int n_topics;
} longeval_topics_case;

/* Reads the first `max_cases` cases (all when max_cases <= 0) of `path` (gzip or plain JSONL).
 * Each line must be an object with integer `test_id`, string `prompt`, non-empty array of strings
 * `topics`, and the first topic must occur in the prompt (ignoring ASCII case); other keys are
 * ignored. Exits with status 2 naming the file, case and key otherwise. Returns a dam_malloc'd
 * array of *n cases. */
longeval_topics_case *longeval_topics_load(const char *path, int max_cases, int *n);
void longeval_topics_cases_free(longeval_topics_case *c, int n);

/* Fraction in [0, 1] of the distinct content words of `topic` found as words of `prediction`
 * (1 when the topic has no content word and its normalised text is non-empty and found; 0 for an
 * empty topic). */
double longeval_topic_recall(const char *prediction, const char *topic);

/* 1 if longeval_topic_recall(prediction, topic) >= 0.6, else 0. */
int longeval_topics_score(const char *prediction, const char *topic);

#endif
