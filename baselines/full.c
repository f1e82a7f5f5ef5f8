/* full.c — `full`: dense causal attention through the flash-style tiled kernel (attn_causal),
 * O(n·d) memory; no plan. It is the reference every other method is measured against. */
#include "core/mem.h"
#include "harness/method.h"

static void *full_parse(const cfg_obj *c) {
    static const char *const keys[] = {"method", "name", NULL};
    cfg_check_keys(c, keys);
    return dam_calloc(1, 1, "full params");
}

const method_ops FULL_OPS = {.kind = "full",
                             .summary = "dense causal attention (flash-style tiled, O(n d) memory)",
                             .parse = full_parse};
