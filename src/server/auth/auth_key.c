/* auth_key.c - making a verifier: the HS256 secret, or a PEM public key and its algorithm.
 *
 * The algorithm is pinned here, from the secret (HS256) or the kind of public key (RSA >= 2048
 * bits: RS256, EC P-256: ES256); every other key is refused with a reason. The key handed to
 * libjwt is the secret or our canonical re-encoding of the public key.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define RSA_BITS_MIN 2048

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t err_size,
                                                          const char *fmt, ...)
{
    if (!err || err_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static struct auth *auth_make(jwt_alg_t alg, const char *alg_name, const char *key, size_t len,
                              char *err, size_t err_size)
{
    struct auth *a = calloc(1, sizeof(*a));
    unsigned char *copy = malloc(len + 1);

    if (!a || !copy) {
        free(a);
        free(copy);
        set_err(err, err_size, "out of memory");
        return NULL;
    }
    memcpy(copy, key, len);
    copy[len] = '\0';
    a->alg = alg;
    a->alg_name = alg_name;
    a->key = copy;
    a->key_len = (int)len;
    return a;
}

/* Reads a whole key file into a new NUL-terminated buffer; NULL with a reason in err. */
static char *read_key_file(const char *path, size_t *len_out, char *err, size_t err_size)
{
    char ebuf[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, err_size, "cannot open public key file %s: %s", path,
                strerror_r(errno, ebuf, sizeof(ebuf)));
        return NULL;
    }
    char *buf = malloc(KEY_TEXT_MAX + 1);
    if (!buf) {
        fclose(f);
        set_err(err, err_size, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, KEY_TEXT_MAX + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || n == 0 || n > KEY_TEXT_MAX) {
        set_err(err, err_size, "public key file %s is %s", path,
                read_error ? "unreadable"
                : n == 0   ? "empty"
                           : "too large (over 64 KiB)");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len_out = n;
    return buf;
}

static int no_password(char *buf, int size, int rwflag, void *userdata)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)userdata;
    return -1;
}

/* Picks the algorithm for pkey; NULL name (and a reason in err) when we refuse the key. */
static const char *algorithm_for_key(EVP_PKEY *pkey, jwt_alg_t *alg, char *err, size_t err_size)
{
    int type = EVP_PKEY_get_base_id(pkey);

    if (type == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(pkey) < RSA_BITS_MIN) {
            set_err(err, err_size, "RSA public key has %d bits; at least %d are required",
                    EVP_PKEY_get_bits(pkey), RSA_BITS_MIN);
            return NULL;
        }
        *alg = JWT_ALG_RS256;
        return "RS256";
    }
    if (type == EVP_PKEY_EC) {
        char group[80] = "";
        size_t group_len = 0;
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
            set_err(err, err_size, "EC public key is on curve %s; only P-256 (ES256) is supported",
                    group[0] ? group : "(unknown)");
            return NULL;
        }
        *alg = JWT_ALG_ES256;
        return "ES256";
    }
    const char *name = EVP_PKEY_get0_type_name(pkey);
    set_err(err, err_size, "unsupported public key type %s; use RSA (RS256) or EC P-256 (ES256)",
            name ? name : "(unknown)");
    return NULL;
}

struct auth *auth_new_hs256(const char *secret, char *err, size_t err_size)
{
    if (!secret || secret[0] == '\0') {
        set_err(err, err_size, "JWT secret is empty");
        return NULL;
    }
    size_t n = strlen(secret);
    if (n > KEY_TEXT_MAX) {
        set_err(err, err_size, "JWT secret is longer than %d bytes", KEY_TEXT_MAX);
        return NULL;
    }
    return auth_make(JWT_ALG_HS256, "HS256", secret, n, err, err_size);
}

struct auth *auth_new_public_key(const char *pem_or_path, char *err, size_t err_size)
{
    struct auth *a = NULL;
    char *file_text = NULL;
    BIO *in = NULL, *out = NULL;
    EVP_PKEY *pkey = NULL;
    const char *text = pem_or_path;
    const char *source = "the PEM text given";
    const char *alg_name;
    jwt_alg_t alg;
    char *pem;
    long pem_len;
    size_t len;

    if (!pem_or_path || pem_or_path[0] == '\0') {
        set_err(err, err_size, "no public key given");
        return NULL;
    }
    if (strncmp(pem_or_path, "-----BEGIN", 10) == 0) {
        len = strlen(pem_or_path);
        if (len > KEY_TEXT_MAX) {
            set_err(err, err_size, "public key PEM is too large (over 64 KiB)");
            return NULL;
        }
    } else {
        file_text = read_key_file(pem_or_path, &len, err, err_size);
        if (!file_text)
            return NULL;
        text = file_text;
        source = pem_or_path;
    }

    in = BIO_new_mem_buf(text, (int)len);
    if (!in) {
        set_err(err, err_size, "out of memory");
        goto out;
    }
    pkey = PEM_read_bio_PUBKEY(in, NULL, no_password, NULL);
    if (!pkey) {
        if (strstr(text, "PRIVATE KEY"))
            set_err(err, err_size, "%s holds a private key; give the public key instead", source);
        else if (strstr(text, "CERTIFICATE"))
            set_err(err, err_size,
                    "%s holds a certificate; give its public key (openssl x509 -pubkey -noout)",
                    source);
        else
            set_err(err, err_size, "no PEM public key (-----BEGIN PUBLIC KEY-----) in %s", source);
        goto out;
    }

    alg_name = algorithm_for_key(pkey, &alg, err, err_size);
    if (!alg_name)
        goto out;

    /* libjwt re-reads the key on every verify: give it our canonical SPKI encoding. */
    out = BIO_new(BIO_s_mem());
    if (!out || PEM_write_bio_PUBKEY(out, pkey) != 1) {
        set_err(err, err_size, "cannot re-encode the public key");
        goto out;
    }
    pem_len = BIO_get_mem_data(out, &pem);
    if (pem_len <= 0) {
        set_err(err, err_size, "cannot re-encode the public key");
        goto out;
    }
    a = auth_make(alg, alg_name, pem, (size_t)pem_len, err, err_size);

out:
    ERR_clear_error();
    BIO_free(out);
    EVP_PKEY_free(pkey);
    BIO_free(in);
    free(file_text);
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    OPENSSL_cleanse(a->key, (size_t)a->key_len);
    free(a->key);
    free(a);
}

const char *auth_algorithm_name(const struct auth *a)
{
    return a ? a->alg_name : "";
}
