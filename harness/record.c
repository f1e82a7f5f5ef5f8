/* record.c — see record.h. */
#include "harness/record.h"

#include "core/mem.h"

const char *const ALIGN_METRIC_NAMES[ALIGN_N_METRICS] = {
    "tail_mass_recall",   "tail_neg_log_recall",   "tail_out_rel_l2",   "tail_out_cos",
    "spread_mass_recall", "spread_neg_log_recall", "spread_out_rel_l2", "spread_out_cos",
};

void example_record_free(example_record *e) {
    dam_free(e->task);
    dam_free(e->answer);
    e->task = e->answer = NULL;
}

void result_record_free(result_record *r) {
    dam_free(r->method);
    dam_free(r->task);
    dam_free(r->prediction);
    dam_free(r->alignment);
    dam_free(r->head_density);
    r->method = r->task = r->prediction = NULL;
    r->alignment = r->head_density = NULL;
}
