/* version.c — see version.h. Rebuilt whenever the git revision changes (the Makefile's git_rev.txt),
 * so DAM_GIT_REV stays current. */
#include "harness/version.h"

#ifndef DAM_GIT_REV
#define DAM_GIT_REV "unknown"
#endif

const char DAM_VERSION[] = "0.1.0";
const char DAM_GIT_REVISION[] = DAM_GIT_REV;
