/* cmd_tokenize.c — `dam tokenize`: token ids of a text, one line, space-separated. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/registry.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/tokenizer_hf.h"

static const char *HELP =
    "usage: dam tokenize --model M [options] TEXT\n"
    "       dam tokenize --model M [options] --file PATH     (PATH '-' reads stdin)\n"
    "\n"
    "Prints the token ids of TEXT on one line, separated by spaces.\n"
    "  --model M          GGUF file, HF directory or registered name (smollm2-135m)\n"
    "  --file PATH        read the text from a file instead of the command line\n"
    "  --no-add-special   do not add BOS/EOS even if the model's policy asks for them\n"
    "  --no-parse-special treat special-token texts such as <|im_start|> as plain text\n"
    "  --pieces           print one 'id<TAB>piece' line per token instead (pieces C-escaped)\n";

static void print_escaped(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') fputs("\\n", stdout);
        else if (*p == '\t') fputs("\\t", stdout);
        else if (*p == '\r') fputs("\\r", stdout);
        else if (*p == '\\') fputs("\\\\", stdout);
        else if (*p < 0x20) printf("\\x%02x", *p);
        else putchar(*p);
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *text = NULL;
    int add_special = 1, parse_special = 1, pieces = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--model") == 0) model = arg_value(argc, argv, &i);
        else if (strcmp(a, "--file") == 0) file = arg_value(argc, argv, &i);
        else if (strcmp(a, "--no-add-special") == 0) add_special = 0;
        else if (strcmp(a, "--no-parse-special") == 0) parse_special = 0;
        else if (strcmp(a, "--pieces") == 0) pieces = 1;
        else if (strncmp(a, "--", 2) == 0) dam_die(DAM_EXIT_INPUT, "tokenize: unknown option %s (see --help)", a);
        else if (text == NULL) text = a;
        else dam_die(DAM_EXIT_INPUT, "tokenize: more than one TEXT argument (quote the text)");
    }
    if (model == NULL) dam_die(DAM_EXIT_INPUT, "tokenize: --model is required (see --help)");
    if ((text == NULL) == (file == NULL)) dam_die(DAM_EXIT_INPUT, "tokenize: give exactly one of TEXT or --file");
    size_t len = 0;
    char *buf = file ? read_text_file(file, &len) : NULL;
    if (text) len = strlen(text);

    char *path = model_resolve(model);
    struct stat st;
    tokenizer *tok;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) { /* Hugging Face directory: tokenizer.json */
        tok = tok_load_hf(path);
    } else {
        gguf_file *f = gguf_open(path); /* the tokenizer alone: no need to load the weights */
        tok = tok_load(f);
        gguf_close(f);
    }
    int32_t *ids = NULL;
    int n = tok_encode(tok, file ? buf : text, len, add_special, parse_special, &ids);
    if (pieces) {
        char piece[1024];
        for (int i = 0; i < n; i++) {
            tok_piece(tok, ids[i], true, piece, sizeof piece);
            printf("%d\t", ids[i]);
            print_escaped(piece);
            putchar('\n');
        }
    } else {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    dam_free(ids);
    tok_free(tok);
    dam_free(path);
    dam_free(buf);
    return 0;
}
