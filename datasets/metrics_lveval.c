/* metrics_lveval.c — see metrics_lveval.h. The blacklists are LV-Eval's, quoted. */
#include "datasets/metrics_lveval.h"

#include <string.h>

#include "core/mem.h"
#include "datasets/metrics_text.h"

const char *const LV_BLACKLIST_EN[] = {
    "and", "to", "of", "in", "her", "was", "with", "for", "it", "from", "is", "that", "his", "he", "by", "she",
    "they", "or", "at", "because", "be", "on", "are", "their", "what", "as", "had", "were", "about", "being",
    "this", "who", "but", "have", "has", "when", "which", "does", NULL};

const char *const LV_BLACKLIST_ZH[] = {
    "的", "和", "是", "等", "在", "年", "可以", "为", "与", "‰", "了", "或", "一种", "月", "c", "至", "日", "有",
    "进行", "于", "不", "中", "×", "根据", "小", "由", "亩", "也", "要", "指", "法", "会", "元", "主要", "以及",
    "通过", "首先", "对", "然后", "号", "以", "所", "后", "丁", "包括", "无", "将", "用", "能", "形", "方面",
    "因素", "位于", "而", "从", "到", "一定", "用于", "但", "使用", "让", "具有", "并", "亿元", "万元", "上",
    "类", "基于", "才", "来", "地", "片", "其他", "个", "或者", "变得", "时", "给", "你", "使", "条", "受",
    "已经", "带", "度", NULL};

typedef int (*tokenizer_fn)(const char *, char ***);

/* The keyword-recall gate, then F1 against gold (shared by the English and Chinese scorers). */
static double f1_gated(const char *pred, const char *gold, const char *keywords, tokenizer_fn tok,
                       const char *const *blacklist, double threshold) {
    char **p, **g;
    int np = tok(pred, &p), ng = tok(gold, &g);
    bool pass = true;
    if (keywords && *keywords) {
        char **k;
        int nk = tok(keywords, &k);
        if (nk > 0) pass = !(1.0 * text_common(p, np, k, nk, blacklist) / nk < threshold);
        text_tokens_free(k, nk);
    }
    double f = pass ? text_f1(p, np, g, ng) : 0.0;
    text_tokens_free(p, np);
    text_tokens_free(g, ng);
    return f;
}

double lv_f1_keywords(const char *pred, const char *gold, const char *keywords) {
    return f1_gated(pred, gold, keywords, text_squad_tokens, LV_BLACKLIST_EN, 0.2);
}

double lv_f1_keywords_zh(const char *pred, const char *gold, const char *keywords) {
    return f1_gated(pred, gold, keywords && *keywords ? keywords : gold, text_zh_char_tokens, LV_BLACKLIST_ZH, 0.4);
}

/* The non-blacklisted Chinese character tokens of s, a space between two. */
static char *filtered_chars(const char *s) {
    char **t;
    int n = text_zh_char_tokens(s, &t);
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(t[i]) + 1;
    char *out = dam_malloc(len, "filtered text");
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        bool black = false;
        for (int b = 0; LV_BLACKLIST_ZH[b] && !black; b++) black = strcmp(t[i], LV_BLACKLIST_ZH[b]) == 0;
        if (black) continue;
        if (k) out[k++] = ' ';
        size_t l = strlen(t[i]);
        memcpy(out + k, t[i], l);
        k += l;
    }
    out[k] = 0;
    text_tokens_free(t, n);
    return out;
}

double lv_rouge_zh_blacklist(const char *pred, const char *gold) {
    char *p = filtered_chars(pred), *g = filtered_chars(gold);
    double r = text_rouge_l(p, g);
    dam_free(p);
    dam_free(g);
    return r;
}
