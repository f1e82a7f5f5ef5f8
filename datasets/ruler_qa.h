/* ruler_qa.h — RULER's QA tasks (NVIDIA/RULER @ c3f5e3b, scripts/data/synthetic/qa.py;
 * docs/workloads.md "ruler"): the question sets and one generated instance with D documents.
 * Token fitting and prompt styles are in datasets/ruler.c.
 *
 * Question sets (documents = the distinct document texts, sorted):
 *   qa_nq  (our stand-in, data obtainable here): NQ-Open "oracle" (nelson-liu/lost-in-the-middle,
 *          qa_data/nq-open-oracle.jsonl.gz): per line `question`, `answers` (strings) and `ctxs`
 *          whose first entry {title, text} is the gold Wikipedia passage; document = title + "\n"
 *          + text (HotpotQA's form); refs = answers; gold = that passage; "more" = the other
 *          passages with the same title (SQuAD's same-article paragraphs, by analogy).
 *   qa_1   SQuAD v2 dev JSON (data[].paragraphs[].{context, qas[].{question, answers[].text,
 *          is_impossible}}): documents = paragraph contexts; the answerable questions only (no
 *          is_impossible counts as answerable, as in SQuAD v1.1); refs = all answer texts; gold =
 *          its paragraph; "more" = the other paragraphs of its article.
 *   qa_2   HotpotQA dev distractor JSON ([].{question, answer, context: [[title, [sentences]]]}):
 *          document = title + "\n" + the sentences concatenated; gold = all of its context
 *          documents (2 supporting + 8 distractors); refs = [answer].
 * Sample s asks question s (file order), at every length (RULER: sequential questions).
 * Instance of D documents: the gold documents, then "more" documents, then uniformly random other
 * documents (RULER: all "more" first when they fit, else a random subset of them); the list is
 * permuted by the fixed-seed shuffle (which depends on D only: at a given D the gold document of
 * every question lands at the same position, an upstream property kept here) and rendered
 * "Document {j}:\n{text}" (j from 1) joined by "\n\n".
 * Template "Answer the question based on the given documents. Only give me the answer and do not
 * output any other words.\n\nThe following are given documents.\n\n{context}\n\nAnswer the question
 * based on the given documents. Only give me the answer and do not output any other
 * words.\n\nQuestion: {query}" and answer prefix " Answer:". gold (NLL target) = " " + first
 * reference; depth = offset of the first gold document's "Document j:" / context length. */
#ifndef DAM_DATASETS_RULER_QA_H
#define DAM_DATASETS_RULER_QA_H

#include <stdint.h>

#include "datasets/ruler_common.h"

/* One question. Strings dam_malloc'd, owned by the set. */
typedef struct {
    char *query;
    char **refs;      /* [n_refs] reference answers (>= 1) */
    int n_refs;
    int *gold;        /* [n_gold] document indices */
    int n_gold;
    char *group;      /* article / title of the gold document ("more" = other documents of it), or NULL */
} ruler_qa_item;

/* A question set and its document pool (owned; free with ruler_qa_free). */
typedef struct {
    char *path;       /* the file, for messages */
    char **docs;      /* [n_docs] distinct document texts, sorted */
    char **doc_group; /* [n_docs] group (article / title) of each document, owned; NULL entries without one */
    int n_docs;
    ruler_qa_item *items;
    int n_items;
} ruler_qa_set;

typedef enum { RULER_QA_NQ, RULER_QA_SQUAD, RULER_QA_HOTPOTQA } ruler_qa_format;

/* Reads a question set. Exits with status 2 and one line naming the file and the line (JSONL) or
 * JSON path (SQuAD / HotpotQA) of a missing, mistyped or empty field, or a file that cannot be
 * read or parsed. */
ruler_qa_set *ruler_qa_load(const char *path, ruler_qa_format fmt);
/* Releases the set (NULL allowed). */
void ruler_qa_free(ruler_qa_set *s);

/* The candidate documents beyond the gold of question q for one example, in the order the
 * instance takes them: its "more" documents in random order, then the other documents in random
 * order (drawn from ex_seed). dam_malloc'd [*n]. */
int *ruler_qa_candidates(const ruler_qa_set *s, int q, uint64_t ex_seed, int *n);

/* The instance of question q with D documents (n_gold <= D <= n_gold + n_cand). */
void ruler_qa_make(const ruler_qa_set *s, int q, const int *cand, int D, uint64_t run_seed, ruler_inst *out);

#endif
