/* version.h — the harness version and the git revision it was built from. */
#ifndef DAM_HARNESS_VERSION_H
#define DAM_HARNESS_VERSION_H

/* "0.1.0" */
extern const char DAM_VERSION[];
/* `git describe --always --dirty` at build time, or "unknown" outside a git checkout. */
extern const char DAM_GIT_REVISION[];

#endif
