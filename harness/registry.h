/* registry.h — where the harness finds its files: the project root and registered models.
 *
 * The project root is $DAM_ROOT if set, else the parent of the folder holding the `dam`
 * executable (build/dam -> the checkout). configs/models.tsv maps short model names
 * (smollm2-135m) to files under <root>/models/, downloaded by scripts/fetch-model.sh. */
#ifndef DAM_HARNESS_REGISTRY_H
#define DAM_HARNESS_REGISTRY_H

/* The project root directory (static storage; computed once). */
const char *dam_root(void);

/* Resolves a --model argument: an existing file (GGUF) or directory (Hugging Face) is returned as given; a registered short name
 * returns <root>/models/<file> if downloaded, else exits with status 2 telling how to fetch it;
 * anything else exits with status 2 ("no model file or registered name"). Caller frees the
 * result with dam_free. */
char *model_resolve(const char *arg);

#endif
