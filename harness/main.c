/* main.c — `dam`: the command-line entry point. Dispatches to the subcommands of DESIGN §5. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "harness/commands.h"

static const char *USAGE =
    "dam — long-context sparse-attention research harness\n"
    "\n"
    "usage: dam <command> [options]      (dam <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  run        the main job: every method on every workload example -> HDF5 results\n"
    "  tokenize   print the token ids of a text under a model's tokenizer\n"
    "  generate   greedy continuation of a prompt (prefill + decode, with timings)\n"
    "  bench      prefill latency, tokens/s and peak memory at several prompt lengths (CPU or GPU)\n"
    "  calibrate  DAM Stage 1: capture a model's attention patterns into a pattern file\n"
    "  plot       gnuplot PNG + SVG figures of a results file\n"
    "  inspect    summary table (or --csv per-example rows) of a results file\n"
    "  check      CI gate: exit 1 if a method's accuracy drops below the baseline's by more than a margin\n"
    "  compare    agreement of two runs of the same examples, result by result (e.g. GPU vs CPU)\n"
    "  config     print a run config as `dam run` resolves it (includes, defaults, --set, sweeps)\n"
    "\n"
    "Models: --model takes a GGUF file, a Hugging Face model directory (config.json + safetensors),\n"
    "or a name registered in configs/models.tsv\n"
    "(smollm2-135m, fetched by `make model`; gemma3-270m, qwen2.5-coder-0.5b by `make model MODEL=NAME`).\n"
    "Exit status: 0 ok, 1 check failed, 2 usage or input error, 3 runtime failure.\n";

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? DAM_EXIT_INPUT : DAM_EXIT_OK;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "calibrate") == 0) return cmd_calibrate(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0) return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "config") == 0) return cmd_config(argc - 1, argv + 1);
    dam_die(DAM_EXIT_INPUT, "unknown command \"%s\" (see dam --help)", cmd);
}
