/* commands.h — the `dam` subcommands (DESIGN §5). Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status. */
#ifndef DAM_HARNESS_COMMANDS_H
#define DAM_HARNESS_COMMANDS_H

/* Subcommands; each documents its options in its --help text. */
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_config(int argc, char **argv);

/* Sets the OpenMP and OpenBLAS thread counts (n <= 0: leave the defaults, all cores). */
void set_threads(int n);

/* Reads a whole file (or stdin for "-") into a dam_malloc'd NUL-terminated buffer; *len gets its
 * length. Exits with status 2 naming the path if it cannot be read. */
char *read_text_file(const char *path, size_t *len);

#endif
