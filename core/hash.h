/* hash.h — SHA-256 (FIPS 180-4) through OpenSSL's libcrypto, as lowercase hex strings.
 * Used for model file identity (HDF5 /model, DAM pattern files) and for hashing token ids so
 * results prove every method saw identical input. */
#ifndef DAM_CORE_HASH_H
#define DAM_CORE_HASH_H

#include <stddef.h>

/* Writes the 64 hex digits + NUL of SHA-256(data[0..len)) into hex[65]. */
void sha256_hex(const void *data, size_t len, char hex[65]);

/* SHA-256 of the bytes of file `path`, read in 1 MiB blocks, into hex[65]. Returns 0, or -1 with
 * errno set if the file cannot be opened or read (hex is then undefined). */
int sha256_file_hex(const char *path, char hex[65]);

#endif
