/* patterns_strip.c — staging helper for scripts/cuda-stage-run.sh (built by `make` as
 * $(BUILD)/tests/tools/patterns_strip; not a test).
 *
 *   patterns_strip IN.h5 OUT.h5
 *       Reads a DAM pattern file (dam_patterns_read, full validation) and writes it to OUT.h5
 *       (dam_patterns_write: atomic) without its optional mean attention maps (/mean_attention):
 *       the same parameters, provenance, true masks and matched diagonals / columns, so `dam run`
 *       with the file's own PCL, λ, τ, μ selects the same masks; a τ / λ sweep needs the maps and so
 *       the full file. OUT.h5 is read back and compared (dam_patterns_equal). Exits 0, or 2 on a bad
 *       argument or input file, 3 when writing fails or the file read back differs.
 *
 * Why: the default calibration of SmolLM2-135M is 117 MB, almost all of it the maps; without them it
 * is ~1 MB and can be carried to the offline GPU machine (docs/cuda.md, "Running on the H200"). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "dam/patterns.h"

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], argv[2]) == 0) {
        fprintf(stderr, "usage: patterns_strip IN.h5 OUT.h5   (two different files)\n");
        return DAM_EXIT_INPUT;
    }
    dam_patterns *p = dam_patterns_read(argv[1], NULL);
    dam_patterns *s = dam_patterns_copy(p, false);
    dam_patterns_write(s, argv[2]);
    dam_patterns *back = dam_patterns_read(argv[2], NULL);  /* the written file holds the same set */
    const bool same = dam_patterns_equal(s, back);  /* (s: p without its maps) */
    dam_patterns_free(back);
    dam_patterns_free(s);
    dam_patterns_free(p);
    if (!same) {
        fprintf(stderr, "patterns_strip: %s read back differs from %s\n", argv[2], argv[1]);
        return DAM_EXIT_RUNTIME;
    }
    return 0;
}
