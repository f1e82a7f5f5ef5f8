/* cmd_run.c — `dam run`: the main job (harness/run.h). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/config.h"
#include "harness/run.h"

static const char *HELP =
    "usage: dam run [CONFIG.json] [-o results/NAME.h5] [--set KEY=VALUE ...] [--resume | --overwrite]\n"
    "               [--device cpu|cuda] [--threads N] [--progress auto|bar|lines|none] [--progress-every S]\n"
    "\n"
    "Evaluates every method of the config on every example of its workloads, on identical token\n"
    "ids: accuracy, answer NLL, logit KL against full attention, density, alignment (mass recall,\n"
    "output drift) per layer and head, prefill / mask-build / decode times, peak memory and KV\n"
    "bytes. Results go to an HDF5 file (docs/hdf5.md), republished atomically while the run goes;\n"
    "an append-only journal beside it (<output>.journal) keeps every finished example, so a killed\n"
    "run can be continued with --resume. Ctrl-C (or SIGTERM) finishes the current cell, writes the\n"
    "results so far and exits with 130 (143); a second Ctrl-C stops at once. Without CONFIG the\n"
    "embedded default (configs/default.json) runs. DAM pattern files that do not exist are calibrated\n"
    "first. Config keys: docs/config.md;\n"
    "`dam config CONFIG` prints the config as resolved (includes, defaults, --set) without running.\n"
    "  -o PATH        results file (overrides the config's output)\n"
    "  --resume       continue the run recorded in <output>.journal (same config required)\n"
    "  --overwrite    replace an existing results file and journal (refused without it)\n"
    "  --set K=V      override a config value: K is a key path (seed, workloads[0].lengths,\n"
    "                 methods[2].tau) or METHOD.KEY (dam.tau); V is JSON (repeatable)\n"
    "  --device D     cpu or cuda (the GPU; a `make cuda-dam` build: docs/cuda.md); overrides the config\n"
    "  --threads N    CPU threads, 0 = all cores (overrides the config's \"threads\")\n"
    "  --progress M   progress on stderr: bar (one status line rewritten in place: cells done/total,\n"
    "                 elapsed, ETA, the cell running), lines (that status as a plain line every\n"
    "                 --progress-every seconds and at the end, for logs), none, or auto (default:\n"
    "                 bar when stderr is a terminal, else lines). One line per finished cell is\n"
    "                 printed in every mode; the table goes to stdout.\n"
    "  --progress-every S  seconds between progress lines in lines mode (default 30)\n";

int cmd_run(int argc, char **argv) {
    const char *config = NULL, *output = NULL, *device = NULL;
    long threads = -1, progress_every = 30;
    progress_mode progress = PROGRESS_AUTO;
    bool resume = false, overwrite = false;
    const char *sets[64] = {0};
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) output = arg_value(argc, argv, &i);
        else if (strcmp(a, "--resume") == 0) resume = true;
        else if (strcmp(a, "--overwrite") == 0) overwrite = true;
        else if (strcmp(a, "--set") == 0) {
            if (n_sets == 64) dam_die(DAM_EXIT_INPUT, "run: more than 64 --set overrides");
            sets[n_sets++] = arg_value(argc, argv, &i);
        }
        else if (strcmp(a, "--device") == 0) device = arg_value(argc, argv, &i);
        else if (strcmp(a, "--threads") == 0) threads = arg_long(a, arg_value(argc, argv, &i), 0, 4096);
        else if (strcmp(a, "--progress") == 0) {
            const char *v = arg_value(argc, argv, &i);
            if (!progress_mode_parse(v, &progress)) dam_die(DAM_EXIT_INPUT, "--progress: \"%s\" is not auto, bar, lines or none", v);
        }
        else if (strcmp(a, "--progress-every") == 0) progress_every = arg_long(a, arg_value(argc, argv, &i), 1, 86400);
        else if (strncmp(a, "-", 1) == 0) dam_die(DAM_EXIT_INPUT, "run: unknown option %s (see --help)", a);
        else if (config == NULL) config = a;
        else dam_die(DAM_EXIT_INPUT, "run: more than one config file given");
    }
    char device_set[64];
    if (device) { /* the same as --set device="D": validated by the config and kept in its resolved JSON */
        if (strcmp(device, "cpu") != 0 && strcmp(device, "cuda") != 0)
            dam_die(DAM_EXIT_INPUT, "--device %s: not cpu or cuda", device);
        if (n_sets == 64) dam_die(DAM_EXIT_INPUT, "run: more than 64 --set overrides");
        dam_format(device_set, sizeof device_set, "device=\"%s\"", device);
        sets[n_sets++] = device_set;
    }
    run_config cfg;
    config_load(config, sets, n_sets, &cfg);
    if (threads >= 0) cfg.threads = (int)threads;
    if (resume && overwrite) dam_die(DAM_EXIT_INPUT, "run: --resume and --overwrite exclude each other");
    run_opts o = {output, resume, overwrite, 20, progress, (double)progress_every};
    int rc = run_execute(&cfg, &o);
    config_free(&cfg);
    return rc;
}
