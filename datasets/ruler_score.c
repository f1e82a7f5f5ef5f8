/* ruler_score.c — see ruler_score.h. */
#include "datasets/ruler_score.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/mem.h"

static bool strip_char(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

char *ruler_postprocess(const char *prediction) {
    const char *a = prediction, *b = prediction + strlen(prediction);
    while (a < b && strip_char((unsigned char)*a)) a++;
    while (b > a && strip_char((unsigned char)b[-1])) b--;
    size_t n = (size_t)(b - a);
    char *s = dam_malloc(n + 1, "prediction");
    for (size_t i = 0; i < n; i++) s[i] = (unsigned char)a[i] < 0x20 ? '\n' : a[i];
    s[n] = 0;
    /* second strip: the replaced characters are now "\n" */
    size_t lo = 0, hi = n;
    while (lo < hi && strip_char((unsigned char)s[lo])) lo++;
    while (hi > lo && strip_char((unsigned char)s[hi - 1])) hi--;
    memmove(s, s + lo, hi - lo);
    s[hi - lo] = 0;
    return s;
}

bool ruler_contains(const char *text, const char *ref) {
    if (*ref == 0) return true;
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)ref, PCRE2_ZERO_TERMINATED,
                                   PCRE2_LITERAL | PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (re == NULL) { /* a reference that is not valid UTF-8: its bytes, ASCII case folded */
        size_t m = strlen(ref);
        for (; *text; text++)
            if (strncasecmp(text, ref, m) == 0) return true;
        return false;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) dam_die(DAM_EXIT_RUNTIME, "ruler: matching a reference failed (PCRE2 error %d)", rc);
    return rc >= 0;
}

double ruler_match_all(const char *prediction, char *const *refs, int n) {
    if (n <= 0) return 0.0;
    char *p = ruler_postprocess(prediction);
    int hit = 0;
    for (int i = 0; i < n; i++) hit += ruler_contains(p, refs[i]);
    dam_free(p);
    return (double)hit / n;
}

double ruler_match_part(const char *prediction, char *const *refs, int n) {
    char *p = ruler_postprocess(prediction);
    int hit = 0;
    for (int i = 0; i < n && !hit; i++) hit = ruler_contains(p, refs[i]);
    dam_free(p);
    return hit;
}
