/* file_map.c — see file_map.h. */
#include "core/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

const uint8_t *file_map(const char *path, const char *kind, size_t *size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) dam_die(DAM_EXIT_INPUT, "%s: cannot open %s: %s", path, kind, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) dam_die(DAM_EXIT_INPUT, "%s: not a regular file", path);
    if (st.st_size == 0) dam_die(DAM_EXIT_INPUT, "%s: %s is empty", path, kind);
    *size = (size_t)st.st_size;
    void *m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) dam_die(DAM_EXIT_INPUT, "%s: cannot map: %s", path, strerror(errno));
    return m;
}

void file_unmap(const uint8_t *map, size_t size) {
    if (map) munmap((void *)map, size);
}
