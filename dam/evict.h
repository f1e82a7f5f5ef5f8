/* evict.h — DAM's decode-time KV eviction (`dam.evict_kv`, docs/dam-spec.md §2): after the row at
 * position `pos`, a key is dropped from the KV cache of a KV head when no query head of its GQA
 * group can reach it from any later row p' > pos under its extended mask (dam/plan.h).
 *
 * Reachability of key j <= pos for one query head with plan (true mask / bitmap of side L, R ∪ {0}
 * as diagonals, C as columns), derived from the MaskPlan rule kept(p', j) = (p' < L and j < L ?
 * bit(p', j) : (p' − j) ∈ R ∪ {0} or j ∈ C):
 *   j ∈ C                                   (every row p' >= max(pos + 1, L) keeps it), or
 *   j + max(R ∪ {0}) >= max(pos + 1, L)     (the farthest diagonal still meets a later row outside
 *                                            the bitmap region: p' = j + max R), or
 *   j < L and bit(p', j) for some pos < p' < L (a later row inside the bitmap region).
 * Once unreachable, always unreachable (the conditions only get harder as pos grows), so eviction
 * never has to undo anything. For n > L and pos >= L this is the spec's "neither in C nor within
 * max(R) of the current position". Kept keys keep their positions (their K is cached after RoPE). */
#ifndef DAM_DAM_EVICT_H
#define DAM_DAM_EVICT_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/method.h"
#include "kernels/maskplan.h"

/* Whether some row p' > pos keeps key j (j <= pos) under `plan` (the rule above). A NULL or dense
 * plan reaches every key; so, conservatively, does a plan with a block part (DAM has none). */
bool dam_key_reachable(const maskplan *plan, int64_t pos, int64_t j);

/* method_ops.evict of `dam` with evict_kv: clears every held key j <= s->pos that no plan of the
 * group reaches (dam_key_reachable false for all of s->plans[0 .. group)). */
void dam_evict_unreachable(const method *m, const evict_step *s, uint64_t *held);

#endif
