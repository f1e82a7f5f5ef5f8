/* hash.c — see hash.h. */
#include "core/hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "core/error.h"
#include "core/mem.h"

void sha256_hex(const void *data, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        dam_die(DAM_EXIT_RUNTIME, "SHA-256 failed (libcrypto)");
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int sha256_file_hex(const char *path, char hex[65]) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) dam_die(DAM_EXIT_RUNTIME, "SHA-256 failed (libcrypto)");
    const size_t block = (size_t)1 << 20;
    unsigned char *buf = dam_malloc(block, "sha256 buffer");
    size_t got;
    while ((got = fread(buf, 1, block, fp)) > 0)
        if (EVP_DigestUpdate(ctx, buf, got) != 1) dam_die(DAM_EXIT_RUNTIME, "SHA-256 failed (libcrypto)");
    int err = ferror(fp) ? (errno ? errno : EIO) : 0;
    fclose(fp);
    dam_free(buf);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(ctx, md, &n) != 1 || n != 32) dam_die(DAM_EXIT_RUNTIME, "SHA-256 failed (libcrypto)");
    EVP_MD_CTX_free(ctx);
    if (err) {
        errno = err;
        return -1;
    }
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}
