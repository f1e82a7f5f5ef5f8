/* test_child.h — runs a function in a forked child with its stderr captured, for the tests of input
 * errors (which must exit with status 2 and print exactly one line). Header-only, for C tests. */
#ifndef DAM_TESTS_TEST_CHILD_H
#define DAM_TESTS_TEST_CHILD_H

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs f(arg) in a child whose stderr goes to `dir`/stderr; returns the child's exit status (-1 if
 * it did not exit, 0 if f returned), the first stderr line in msg (cap bytes, "" if none) and the
 * number of stderr lines in *lines. Functions that take a pointer to something else pass it cast
 * through `const char *` and cast it back. */
static int test_child(void (*f)(const char *), const char *arg, const char *dir, char *msg, size_t cap, int *lines) {
    char errpath[1024];
    snprintf(errpath, sizeof errpath, "%s/stderr", dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (freopen(errpath, "w", stderr) == NULL) _exit(99);
        f(arg);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    msg[0] = 0;
    *lines = 0;
    FILE *fp = fopen(errpath, "r");
    char buf[2048];
    while (fp && fgets(buf, sizeof buf, fp)) {
        if (*lines == 0 && cap > 0) { /* copy, cut to cap - 1 bytes */
            size_t k = 0;
            for (; buf[k] && k + 1 < cap; k++) msg[k] = buf[k];
            msg[k] = 0;
        }
        (*lines)++;
    }
    if (fp) fclose(fp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
