/* hash.c — see hash.h. */
#include "core/hash.h"

#include <openssl/evp.h>
#include <stdio.h>

#include "core/error.h"

void sha256_hex(const void *data, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        dam_die(DAM_EXIT_RUNTIME, "SHA-256 failed (libcrypto)");
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}
