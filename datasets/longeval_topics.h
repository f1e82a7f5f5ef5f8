/* longeval_topics.h — LongEval "topics" retrieval (LongChat, DachengLi1/LongChat @ 4b5faa5;
 * workloads.md §2): the loader of the original test cases K_topics.jsonl and a deterministic
 * scoring rule standing in for upstream's judge (GPT-3.5 or a human: "1/0, ignore paraphrase,
 * capitalization, punctuation").
 *
 * Rule (docs/workloads.md): normalise topic and prediction alike — ASCII letters lower-cased,
 * every character that is not an ASCII letter or digit becomes a word break — and take a topic's
 * content words: its distinct words minus the stop words
 *   a an the of on in and or for to with about
 * A topic's recall is the fraction of its content words that occur as whole words of the
 * prediction. Score 1 if the answer's recall is >= 0.6 AND strictly higher than the recall of every
 * other topic name (the case's other topics and the 100 names of topics/topics.txt), else 0.
 * So an exact or near answer scores 1 ("reading for pleasure" for "The benefits of reading for
 * pleasure": 2 of 3, no other topic has these words), naming another topic of the same frame scores
 * 0 ("the role of music in society" for "The role of art in society": 2 of 3, but "The role of
 * music in society" has 3 of 3), and so does listing every topic (ties). No stemming ("benefit"
 * does not match "benefits"), no synonyms. */
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

/* 1 if recall(topic) >= 0.6 and recall(topic) > recall(o) for every o of others[n_others] whose
 * content words differ from the topic's (the topic itself may be among them), else 0. */
int longeval_topics_score(const char *prediction, const char *topic, char *const *others, int n_others);

/* The topic names of a topics.txt file (one per non-blank line, trailing space / CR removed), as a
 * dam_malloc'd array of *n dam_malloc'd strings (free with longeval_topic_names_free). Exits with
 * status 2 naming the file if it is missing, unreadable or empty. */
char **longeval_topic_names_load(const char *path, int *n);
void longeval_topic_names_free(char **names, int n);

#endif
