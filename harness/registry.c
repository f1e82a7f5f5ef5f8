/* registry.c — see registry.h. */
#include "harness/registry.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"

const char *dam_root(void) {
    static char root[PATH_MAX];
    if (root[0]) return root;
    const char *env = getenv("DAM_ROOT");
    if (env && *env) {
        snprintf(root, sizeof root, "%s", env);
        return root;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(root, sizeof root, ".");
        return root;
    }
    exe[n] = 0;
    for (int up = 0; up < 2; up++) { /* strip "/dam", then "/build" */
        char *slash = strrchr(exe, '/');
        if (slash == NULL) break;
        *slash = 0;
    }
    snprintf(root, sizeof root, "%s", exe[0] ? exe : "/");
    return root;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

char *model_resolve(const char *arg) {
    if (arg == NULL || *arg == 0) dam_die(DAM_EXIT_INPUT, "model: needs a GGUF file path or a registered name");
    struct stat ds;
    if (is_file(arg)) return dam_strdup(arg, "model path"); /* GGUF file */
    if (stat(arg, &ds) == 0 && S_ISDIR(ds.st_mode)) { /* HF directory, named without trailing slashes */
        char *p = dam_strdup(arg, "model path");
        for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--) p[n - 1] = 0;
        return p;
    }
    if (strchr(arg, '/') != NULL || strstr(arg, ".gguf") != NULL) { /* meant as a path */
        struct stat st;
        if (stat(arg, &st) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open model file: %s", arg, strerror(errno));
        dam_die(DAM_EXIT_INPUT, "%s: not a regular file or directory", arg);
    }
    char reg[PATH_MAX + 32];
    snprintf(reg, sizeof reg, "%s/configs/models.tsv", dam_root());
    FILE *fp = fopen(reg, "r");
    if (fp != NULL) {
        char line[4096];
        while (fgets(line, sizeof line, fp)) {
            if (line[0] == '#') continue;
            char *fields[6] = {0};
            int nf = 0;
            for (char *tok = strtok(line, "\t\n"); tok && nf < 6; tok = strtok(NULL, "\t\n")) fields[nf++] = tok;
            if (nf < 6 || strcmp(fields[0], arg) != 0) continue;
            fclose(fp);
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/models/%s", dam_root(), fields[4]);
            if (!is_file(path))
                dam_die(DAM_EXIT_INPUT, "model %s is not downloaded (%s missing): run `make model MODEL=%s` (scripts/fetch-model.sh %s)",
                        arg, path, arg, arg);
            return dam_strdup(path, "model path");
        }
        fclose(fp);
    }
    dam_die(DAM_EXIT_INPUT, "model %s: no such file, and not a name registered in %s", arg, reg);
}
