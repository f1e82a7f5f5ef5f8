/* longbench.c — see longbench.h. Prompts quoted from config/dataset2prompt.json (the v1 file, as
 * stored at THUDM/LongBench commit 8ae23fd444b0ed5837e993fb8d764f70b388c568; identical wording is
 * quoted for several datasets in ../shared/docs/workloads.md §6, read at commit 2e00731f). */
#include "datasets/longbench.h"

#include <stddef.h>

#define QA_HOP "Answer the question based on the given passages. Only give me the answer and do not output any other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"

/* name, prompt, max new tokens, metric, no chat template, first line only, first answer only */
const longdoc_spec LONGBENCH_SPECS[] = {
    {"narrativeqa",
     "You are given a story, which can be either a novel or a movie script, and a question. Answer the question as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nStory: {context}\n\nNow, answer the question based on the story as concisely as you can, using a single phrase if possible. Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
     128, LD_QA_F1, false, false, false},
    {"qasper",
     "You are given a scientific article and a question. Answer the question as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nArticle: {context}\n\n Answer the question based on the above article as concisely as you can, using a single phrase or sentence if possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.\n\nQuestion: {input}\n\nAnswer:",
     128, LD_QA_F1, false, false, false},
    {"multifieldqa_en",
     "Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the above text, only give me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:",
     64, LD_QA_F1, false, false, false},
    {"multifieldqa_zh",
     "阅读以下文字并用中文简短回答：\n\n{context}\n\n现在请基于上面的文章回答下面的问题，只告诉我答案，不要输出任何其他字词。\n\n问题：{input}\n回答：",
     64, LD_QA_F1_ZH, false, false, false},
    {"hotpotqa", QA_HOP, 32, LD_QA_F1, false, false, false},
    {"2wikimqa", QA_HOP, 32, LD_QA_F1, false, false, false},
    {"musique", QA_HOP, 32, LD_QA_F1, false, false, false},
    {"dureader", "请基于给定的文章回答下述问题。\n\n文章：{context}\n\n请基于上述文章回答下面的问题。\n\n问题：{input}\n回答：",
     128, LD_ROUGE_ZH, false, false, false},
    {"gov_report",
     "You are given a report by a government agency. Write a one-page summary of the report.\n\nReport:\n{context}\n\nNow, write a one-page summary of the report.\n\nSummary:",
     512, LD_ROUGE, false, false, false},
    {"qmsum",
     "You are given a meeting transcript and a query containing a question or instruction. Answer the query in one or more sentences.\n\nTranscript:\n{context}\n\nNow, answer the query based on the above meeting transcript in one or more sentences.\n\nQuery: {input}\nAnswer:",
     512, LD_ROUGE, false, false, false},
    {"multi_news",
     "You are given several news passages. Write a one-page summary of all news. \n\nNews:\n{context}\n\nNow, write a one-page summary of all the news.\n\nSummary:",
     512, LD_ROUGE, false, false, false},
    {"vcsum", "下面有一段会议记录，请你阅读后，写一段总结，总结会议的内容。\n会议记录：\n{context}\n\n会议总结：",
     512, LD_ROUGE_ZH, false, false, false},
    {"trec", "Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}",
     64, LD_CLASSIFICATION, true, true, false},
    {"triviaqa",
     "Answer the question based on the given passage. Only give me the answer and do not output any other words. The following are some examples.\n\n{context}\n\n{input}",
     32, LD_QA_F1, true, true, false},
    {"samsum", "Summarize the dialogue into a few short sentences. The following are some examples.\n\n{context}\n\n{input}",
     128, LD_ROUGE, true, true, false},
    {"lsht", "请判断给定新闻的类别，下面是一些例子。\n\n{context}\n{input}", 64, LD_CLASSIFICATION, true, true, false},
    {"passage_count",
     "There are some paragraphs below sourced from Wikipedia. Some of them may be duplicates. Please carefully read these paragraphs and determine how many unique paragraphs there are after removing duplicates. In other words, how many non-repeating paragraphs are there in total?\n\n{context}\n\nPlease enter the final count of unique paragraphs after removing duplicates. The output format should only contain the number, such as 1, 2, 3, and so on.\n\nThe final answer is: ",
     32, LD_COUNT, false, false, false},
    {"passage_retrieval_en",
     "Here are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is from.\n\n{context}\n\nThe following is an abstract.\n\n{input}\n\nPlease enter the number of the paragraph that the abstract is from. The answer format must be like \"Paragraph 1\", \"Paragraph 2\", etc.\n\nThe answer is: ",
     32, LD_RETRIEVAL, false, false, false},
    {"passage_retrieval_zh",
     "以下是若干段落文字，以及其中一个段落的摘要。请确定给定的摘要出自哪一段。\n\n{context}\n\n下面是一个摘要\n\n{input}\n\n请输入摘要所属段落的编号。答案格式必须是\"段落1\"，\"段落2\"等格式\n\n答案是：",
     32, LD_RETRIEVAL_ZH, false, false, false},
    {"lcc", "Please complete the code given below. \n{context}Next line of code:\n", 64, LD_CODE_SIM, true, false, false},
    {"repobench-p", "Please complete the code given below. \n{context}{input}Next line of code:\n", 64, LD_CODE_SIM, true, false,
     false},
};
const int LONGBENCH_N_SPECS = (int)(sizeof LONGBENCH_SPECS / sizeof LONGBENCH_SPECS[0]);

const char *const LONGBENCH_E_DATASETS[] = {"qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "gov_report", "multi_news", "trec",
                                            "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p", NULL};
