/* cmd_config.c — `dam config`: the resolved config of `dam run` without running it, and
 * `dam config --keys`: every key the config parser accepts, collected from the parsers' own key
 * tables (harness/cfg.h cfg_set_key_trace) by parsing probe configs, so that docs/config.md can be
 * checked against the code (tests/t_config.sh). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/cfg.h"
#include "harness/commands.h"
#include "harness/config.h"
#include "harness/config_include.h"
#include "harness/method.h"

static const char *HELP =
    "usage: dam config [CONFIG.json] [--set KEY=VALUE ...]\n"
    "\n"
    "Prints the config as `dam run` would run it: includes merged, defaults and --set overrides\n"
    "applied, sweeps expanded, every key validated and every default filled in (JSON, sorted keys;\n"
    "the same text a run stores in its results file as /config). Errors are those of `dam run`:\n"
    "one line naming the file and key path, exit 2. Nothing is loaded or written. Without CONFIG\n"
    "the embedded default (configs/default.json) is printed. Config keys: docs/config.md.\n"
    "  --set K=V      override a value, as for dam run (repeatable)\n"
    "\n"
    "usage: dam config --keys\n"
    "Lists every key the config parser accepts, one \"SECTION KEY\" line each, sorted: SECTION is\n"
    "top, defaults, workloads or methods.KIND. The list comes from the parsers' own key tables\n"
    "(tests/t_config.sh checks docs/config.md against it).\n";

/* ---- --keys ---------------------------------------------------------------------------------- */

static const char *g_kind; /* the method kind of the probe running (methods sections) */

/* Prints "SECTION KEY" for every allowed key: SECTION is c's key path without its indices, with
 * the method kind after "methods" ("methods[0]" -> "methods.dam", "" -> "top"). */
static void print_keys(const cfg_obj *c, const char *const *allowed) {
    char sec[512] = "";
    for (const char *p = c->path; *p && strlen(sec) < sizeof sec - 1; p++) {
        if (*p == '[') {
            while (*p && *p != ']') p++;
            if (!*p) break;
            if (g_kind && strncmp(sec, "methods", 7) == 0 && sec[7] == 0)
                snprintf(sec + strlen(sec), sizeof sec - strlen(sec), ".%s", g_kind);
            continue;
        }
        size_t n = strlen(sec);
        sec[n] = *p, sec[n + 1] = 0;
    }
    for (int i = 0; allowed[i]; i++) printf("%s %s\n", *sec ? sec : "top", allowed[i]);
}

typedef void (*probe_fn)(const char *arg);

/* Runs fn(arg) in a child with the key trace on; returns what it printed on stdout (and on
 * stderr too when `with_stderr`), dam_malloc'd. The probe may end in an input error: the keys it
 * traced before are what counts. */
static char *probe(probe_fn fn, const char *arg, bool with_stderr) {
    int fd[2];
    if (pipe(fd) != 0) dam_die(DAM_EXIT_RUNTIME, "config --keys: pipe failed");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) dam_die(DAM_EXIT_RUNTIME, "config --keys: fork failed");
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        if (with_stderr) dup2(fd[1], 2);
        else if (!freopen("/dev/null", "w", stderr)) _exit(3);
        cfg_set_key_trace(print_keys);
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    close(fd[1]);
    size_t cap = 4096, n = 0;
    char *buf = dam_malloc(cap, "probe output");
    for (;;) {
        if (n + 1 >= cap) buf = dam_realloc(buf, cap *= 2, "probe output");
        ssize_t got = read(fd[0], buf + n, cap - n - 1);
        if (got <= 0) break;
        n += (size_t)got;
    }
    buf[n] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return buf;
}

static void probe_config(const char *text) {
    run_config c;
    config_parse(text, "probe", NULL, 0, &c);
}

static void probe_method(const char *kind) {
    json_t *obj = json_pack("{ss}", "method", kind), *res = json_object();
    const cfg_obj c = {"probe", "methods[0]", obj, res};
    g_kind = kind;
    method m;
    method_parse(&c, &m);
}

/* The tasks named by the parser's message for an unknown task: the words of its last "(...)". */
static int task_names(const char *msg, char names[][64], int cap) {
    const char *open = strrchr(msg, '('), *close = open ? strchr(open, ')') : NULL;
    int n = 0;
    for (const char *p = open; p && p < close && n < cap;) {
        while (p < close && !(isalnum((unsigned char)*p) || *p == '_')) p++;
        int len = 0;
        while (p < close && (isalnum((unsigned char)*p) || *p == '_') && len < 63) names[n][len++] = *p++;
        names[n][len] = 0;
        if (len) n++;
    }
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int list_keys(void) {
    size_t cap = 1 << 16, len = 0;
    char *all = dam_malloc(cap, "keys");
    all[0] = 0;
#define ADD(text)                                                                     \
    do {                                                                              \
        char *t_ = (text);                                                            \
        size_t l_ = strlen(t_);                                                       \
        while (len + l_ + 1 > cap) all = dam_realloc(all, cap *= 2, "keys");          \
        memcpy(all + len, t_, l_ + 1);                                                \
        len += l_;                                                                    \
        dam_free(t_);                                                                 \
    } while (0)
    /* the top level and the defaults block (the probe stops at the missing workloads) */
    ADD(probe(probe_config, "{\"defaults\": {}}", false));
    for (int i = 0; CONFIG_COMPOSE_KEYS[i]; i++) {
        char line[128];
        snprintf(line, sizeof line, "top %s\n", CONFIG_COMPOSE_KEYS[i]);
        ADD(dam_strdup(line, "keys"));
    }
    /* workloads: an unknown task names the tasks; then one probe per task */
    char *msg = probe(probe_config, "{\"workloads\": [{\"task\": \"?\"}]}", true);
    static char tasks[256][64];
    int n_tasks = task_names(strstr(msg, "supported task") ? msg : "", tasks, 256);
    if (n_tasks == 0) dam_die(DAM_EXIT_RUNTIME, "config --keys: cannot find the task list in: %s", msg);
    dam_free(msg);
    for (int t = 0; t < n_tasks; t++) {
        char text[300];
        snprintf(text, sizeof text, "{\"workloads\": [{\"task\": \"%.63s\"}]}", tasks[t]);
        ADD(probe(probe_config, text, false));
    }
    /* every registered method */
    for (int k = 0; k < method_n_kinds(); k++) ADD(probe(probe_method, method_kind_at(k), false));
#undef ADD
    /* sorted, unique */
    int n = 0;
    for (char *p = all; *p; p++) n += *p == '\n';
    char **lines = dam_malloc(sizeof(char *) * (size_t)(n + 1), "keys");
    n = 0;
    for (char *save = NULL, *l = strtok_r(all, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) lines[n++] = l;
    qsort(lines, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0) printf("%s\n", lines[i]);
    dam_free(lines);
    dam_free(all);
    return 0;
}

int cmd_config(int argc, char **argv) {
    const char *config = NULL;
    const char *sets[64] = {0};
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--keys") == 0) {
            if (argc != 2) dam_die(DAM_EXIT_INPUT, "config: --keys takes no other argument");
            return list_keys();
        }
        else if (strcmp(a, "--set") == 0) {
            if (n_sets == 64) dam_die(DAM_EXIT_INPUT, "config: more than 64 --set overrides");
            sets[n_sets++] = arg_value(argc, argv, &i);
        }
        else if (a[0] == '-' && a[1] != 0) dam_die(DAM_EXIT_INPUT, "config: unknown option %s (see --help)", a);
        else if (config == NULL) config = a;
        else dam_die(DAM_EXIT_INPUT, "config: more than one config file given");
    }
    run_config cfg;
    config_load(config, sets, n_sets, &cfg);
    fputs(cfg.resolved_json, stdout);
    fputc('\n', stdout);
    config_free(&cfg);
    return 0;
}
