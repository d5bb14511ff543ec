/* fuzz_auth_verify.c - auth_verify / auth_verify_exp against one HS256 verifier made once.
 *
 * Input: a mode byte, then
 *   mode even: the token itself (raw bytes, any length; not NUL-terminated for the call);
 *   mode odd:  "<header JSON>\0<claims JSON>": the harness base64url-encodes both and signs them
 *              with the verifier's secret, so the claim checks behind the signature are reached.
 * The clock is fixed at FUZZ_NOW, so seed tokens minted for it stay valid.
 *
 * Properties: never AUTH_OK unless the signature is HMAC-SHA256(secret, header.payload) (checked
 * here with OpenSSL, not libjwt); on AUTH_OK the header's alg is exactly HS256, sub is a short
 * printable string equal to the claims' sub, exp is after now - leeway and at most
 * AUTH_TIME_MAX_S; on anything else sub_out is ""; the verdict does not depend on whether sub/exp are asked for.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth.h"
#include "fuzz_common.h"

#define FUZZ_SECRET "offerd-fuzz-secret-0123456789abcdef" /* also in fuzz/make_seeds.c */
#define FUZZ_NOW 1767225600LL                            /* 2026-01-01T00:00:00Z */

static const struct auth *verifier(void)
{
    static struct auth *a;
    if (!a) {
        char err[128];
        a = auth_new_hs256(FUZZ_SECRET, err, sizeof(err));
        if (!a) {
            fprintf(stderr, "auth_new_hs256: %s\n", err);
            abort();
        }
    }
    return a;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of in[0..n) into out (room for n * 4 / 3 + 4); returns its length. */
static size_t encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits)
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return o;
}

/* Decodes base64url s[0..n) (trailing bits ignored) into out; false on a byte outside it. */
static bool decode(const char *s, size_t n, unsigned char *out, size_t *out_len)
{
    unsigned acc = 0, bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = memchr(b64url, s[i], 64);
        if (!p || s[i] == '\0')
            return false;
        acc = (acc << 6) | (unsigned)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = o;
    return true;
}

static void hmac(const char *input, size_t n, unsigned char mac[32])
{
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET), (const unsigned char *)input, n,
              mac, &mac_len) ||
        mac_len != 32)
        abort();
}

/* True when token is header.payload.sig with sig the HMAC of header.payload under our secret. */
static bool correctly_signed(const char *token, size_t len)
{
    const char *last_dot = NULL;
    for (size_t i = 0; i < len; i++)
        if (token[i] == '.')
            last_dot = token + i;
    if (!last_dot)
        return false;
    size_t signed_len = (size_t)(last_dot - token);
    size_t sig_len = len - signed_len - 1;
    unsigned char sig[64], mac[32];
    size_t n;
    if (sig_len > 48 || !decode(last_dot + 1, sig_len, sig, &n) || n != 32)
        return false;
    hmac(token, signed_len, mac);
    return memcmp(sig, mac, 32) == 0;
}

/* The part of the token between its first and second dots, decoded and parsed. */
static json_t *segment_json(const char *token, size_t len, int index)
{
    const char *start = token, *end = token + len;
    for (int i = 0; i < index; i++) {
        start = memchr(start, '.', (size_t)(end - start));
        if (!start)
            return NULL;
        start++;
    }
    const char *stop = memchr(start, '.', (size_t)(end - start));
    if (!stop)
        stop = end;
    unsigned char *buf = malloc((size_t)(stop - start) + 1);
    size_t n;
    json_t *v = NULL;
    if (buf && decode(start, (size_t)(stop - start), buf, &n))
        v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    return v;
}

static void check(const char *token, size_t len)
{
    const struct auth *a = verifier();
    char sub[AUTH_SUB_SIZE];
    memset(sub, 'x', sizeof(sub));
    int64_t exp = -12345;
    enum auth_result r = auth_verify_exp(a, token, len, FUZZ_NOW, sub, sizeof(sub), &exp);
    FUZZ_CHECK((unsigned)r <= AUTH_BAD_TIME);
    FUZZ_CHECK(auth_result_message(r) != NULL);
    FUZZ_CHECK(r != AUTH_INTERNAL_ERROR); /* only on out of memory */
    FUZZ_CHECK(auth_verify(a, token, len, FUZZ_NOW, NULL, 0) == r);
    if (len == 0)
        FUZZ_CHECK(r == AUTH_MISSING);
    if (r != AUTH_OK) {
        FUZZ_CHECK(sub[0] == '\0');
        return;
    }

    /* Accepted: it must be a real signature, and everything the header promises must hold. */
    FUZZ_CHECK(correctly_signed(token, len));
    size_t n = strnlen(sub, sizeof(sub));
    FUZZ_CHECK(n >= 1 && n <= AUTH_SUB_MAX);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)sub[i] >= 0x20 && sub[i] != 0x7f);
    FUZZ_CHECK(exp > FUZZ_NOW - AUTH_LEEWAY_S);
    /* ...and never past year 9999, so every deadline derived from it fits int64_t milliseconds. */
    FUZZ_CHECK(exp <= AUTH_TIME_MAX_S);
    FUZZ_CHECK(auth_refused_from_ms(exp) == (exp + AUTH_LEEWAY_S) * 1000);

    json_t *header = segment_json(token, len, 0);
    json_t *claims = segment_json(token, len, 1);
    FUZZ_CHECK(json_is_object(header) && json_is_object(claims));
    json_t *alg = json_object_get(header, "alg");
    FUZZ_CHECK(json_is_string(alg) && json_string_length(alg) == 5 &&
               strcmp(json_string_value(alg), "HS256") == 0);
    FUZZ_CHECK(json_object_get(header, "crit") == NULL);
    json_t *s = json_object_get(claims, "sub");
    FUZZ_CHECK(json_is_string(s) && json_string_length(s) == n &&
               memcmp(json_string_value(s), sub, n) == 0);
    FUZZ_CHECK(json_is_number(json_object_get(claims, "exp")));
    json_decref(header);
    json_decref(claims);

    /* One bit less of signature is refused. */
    char *tampered = fuzz_strndup((const uint8_t *)token, len);
    tampered[len - 1] = tampered[len - 1] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(auth_verify(a, tampered, len, FUZZ_NOW, NULL, 0) != AUTH_OK ||
               correctly_signed(tampered, len));
    free(tampered);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    uint8_t mode = fuzz_u8(&r);
    if (!(mode & 1)) {
        /* Exactly the bytes, with no NUL after them. */
        char *token = r.n ? malloc(r.n) : NULL;
        if (r.n && !token)
            abort();
        if (r.n)
            memcpy(token, r.p, r.n);
        check(token, r.n);
        free(token);
        return 0;
    }

    size_t hlen, clen;
    char *header = fuzz_piece(&r, &hlen);
    char *claims = fuzz_piece(&r, &clen);
    size_t cap = (hlen + clen) * 4 / 3 + 64;
    char *token = malloc(cap + 64);
    if (!token)
        abort();
    size_t n = encode((const unsigned char *)header, hlen, token);
    token[n++] = '.';
    n += encode((const unsigned char *)claims, clen, token + n);
    unsigned char mac[32];
    hmac(token, n, mac);
    token[n++] = '.';
    n += encode(mac, sizeof(mac), token + n);
    check(token, n);
    free(token);
    free(header);
    free(claims);
    return 0;
}
