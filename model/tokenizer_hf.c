#include "model/tokenizer_priv.h"
int tk_hf_encode(const tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                 int32_t **ids) { (void)t;(void)text;(void)len;(void)add_special;(void)parse_special;(void)ids; return 0; }
void tk_hf_free(struct hf_pipeline *hf) { (void)hf; }
