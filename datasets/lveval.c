/* lveval.c — see lveval.h. Prompts quoted from config.py (infinigence/LVEval as stored at commit
 * 25aebcb36acbbb8338712736cfdd31e06e236df5; ../shared/docs/workloads.md §7 quotes the same wording,
 * read at commit 63e7ae93). */
#include "datasets/lveval.h"

#define ONE_PASSAGE "Please answer the following question based on the given passages. Questions and answers are only relevant to one passage. Only give me the answer and do not output any other explanation and evidence.\n\nArticle: {context}\n\nPlease answer the following question based on the above passages. Questions and answers are only relevant to one passage. Only give me the answer and do not output any other explanation and evidence.\n\nQuestion: {input}\nAnswer:"
#define SOME_PASSAGES "Answer the question based on the given passages. Questions and answers are only relevant to some passages. Only give me the answer and do not output any other explanation and evidence.\n\nArticle: {context}\n\nPlease answer the following question based on the above passages. Questions and answers are only relevant to some passages. Only give me the answer and do not output any other explanation and evidence.\n\nQuestion: {input}\nAnswer:"
#define ZH_MIXUP "请根据下面给定的文章回答问题，问题和答案只与其中一篇文章有关。\n\n文章：{context}\n\n现在请基于上述文章回答下面的问题，问题和答案只与其中一篇文章有关。\n\n问题：{input}\n回答："

/* name, prompt, max new tokens, metric, no chat template, first line only, first answer only */
const longdoc_spec LVEVAL_SPECS[] = {
    {"hotpotwikiqa_mixup", SOME_PASSAGES, 64, LD_F1_KEYWORDS, false, false, true},
    {"loogle_SD_mixup", ONE_PASSAGE, 64, LD_F1_KEYWORDS, false, false, true},
    {"loogle_CR_mixup", ONE_PASSAGE, 64, LD_F1_KEYWORDS, false, false, true},
    {"loogle_MIR_mixup", ONE_PASSAGE, 64, LD_F1_KEYWORDS, false, false, true},
    {"multifieldqa_en_mixup", ONE_PASSAGE, 64, LD_F1_KEYWORDS, false, false, true},
    {"multifieldqa_zh_mixup",
     "请阅读以下文章并用中文回答问题，问题和答案只与其中一篇文章有关。只需要直接给出问题的答案，不要输出其他任何解释和证据。\n\n文章：{context}\n\n请基于上面的文章回答下面的问题，问题和答案只与其中一篇文章有关。只需要直接给出问题的答案，不要输出其他任何解释和证据。\n\n问题：{input}\n回答：",
     64, LD_F1_KEYWORDS_ZH, false, false, true},
    {"factrecall_en",
     "Please answer the following questions based on the given article.\n\nArticle: {context}\n\nPlease answer the following questions based on the above article.\n\nQuestion: {input}\nAnswer:",
     16, LD_QA_F1, false, false, true},
    {"factrecall_zh", "请基于给定的文章回答下述问题。\n\n文章：{context}\n\n现在请基于上述文章回答下面的问题。\n\n问题：{input}\n回答：",
     16, LD_QA_F1_ZH, false, false, true},
    {"cmrc_mixup", ZH_MIXUP, 64, LD_F1_KEYWORDS_ZH, false, false, true},
    {"lic_mixup",
     "请根据下面给定的文章回答问题，问题和答案只与其中一篇文章有关。\n\n文章：{context}\n\n请现在基于上述文章回答下面的问题，问题和答案只与其中一篇文章有关。\n\n问题：{input}\n回答：",
     64, LD_F1_KEYWORDS_ZH, false, false, true},
    {"dureader_mixup", ZH_MIXUP, 64, LD_ROUGE_ZH_BLACKLIST, false, false, true},
    /* this project's local set (scripts/make-lveval-like.sh), not part of LV-Eval */
    {"nq_mixup", SOME_PASSAGES, 64, LD_F1_KEYWORDS, false, false, true},
};
const int LVEVAL_N_SPECS = (int)(sizeof LVEVAL_SPECS / sizeof LVEVAL_SPECS[0]);
