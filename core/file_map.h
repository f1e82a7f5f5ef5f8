/* file_map.h — read-only memory maps of whole input files (model weights). */
#ifndef DAM_CORE_FILE_MAP_H
#define DAM_CORE_FILE_MAP_H

#include <stddef.h>
#include <stdint.h>

/* Maps the regular file `path` read-only (PROT_READ, MAP_PRIVATE) and stores its length in *size
 * (bytes). `kind` names the file in messages ("model file", "safetensors file"). Exits with status 2
 * and one line naming the path if it cannot be opened or mapped, is not a regular file, or is
 * empty. Release with file_unmap. */
const uint8_t *file_map(const char *path, const char *kind, size_t *size);

/* Unmaps what file_map returned (NULL is a no-op). */
void file_unmap(const uint8_t *map, size_t size);

#endif
