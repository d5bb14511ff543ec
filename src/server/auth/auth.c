/* auth.c - JWT verification: one pinned algorithm, signature by libjwt, claims checked here.
 *
 * libjwt 1.10 checks a signature but nothing else: it ignores exp and nbf, believes the token's own
 * "alg" (an HS256 token whose HMAC key is the text of our RSA public key verifies against that
 * key), matches alg names case-insensitively, and decodes base64url leniently. So each token is
 * split and its header and payload decoded strictly here first (jansson, duplicate keys refused),
 * "alg" is pinned and "crit" refused before libjwt sees the token, libjwt's own idea of the
 * algorithm is checked again after it verifies, and the claims are read from the payload decoded
 * here. Verifiers are made in auth_key.c, tokens found in headers by auth_headers.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>

#include "util/base64url.h"
#include "util/time_ms.h"

static const char *const result_messages[] = {
    [AUTH_OK] = "token accepted",
    [AUTH_MISSING] = "authentication required: send Authorization: Bearer <token>",
    [AUTH_MALFORMED] = "malformed token",
    [AUTH_BAD_SIGNATURE] = "token signature is not valid",
    [AUTH_WRONG_ALGORITHM] = "token is signed with an algorithm this server does not accept",
    [AUTH_EXPIRED] = "token has expired",
    [AUTH_NOT_YET_VALID] = "token is not valid yet",
    [AUTH_NO_SUBJECT] = "token has no usable subject (sub)",
    [AUTH_NO_EXPIRY] = "token has no expiry (exp)",
    [AUTH_INTERNAL_ERROR] = "internal error while checking the token",
    [AUTH_BAD_TIME] = "token exp or nbf is out of range (later than the year 9999)",
};

/* A sub we accept: 1..AUTH_SUB_MAX bytes, no control characters (it reaches logs and SQL). */
static bool sub_text_ok(const char *s, size_t n)
{
    if (n == 0 || n > AUTH_SUB_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Strictly decodes one token segment into a new JSON object; NULL when it is not one. */
static json_t *decode_segment(const char *seg, size_t len, unsigned char *scratch)
{
    size_t n;
    if (len == 0 || !base64url_decode(seg, len, scratch, &n))
        return NULL;
    json_t *v = json_loadb((const char *)scratch, n, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static enum auth_result check_header(const struct auth *a, json_t *header)
{
    json_t *alg = json_object_get(header, "alg");
    const char *name = json_string_value(alg);

    if (!name)
        return AUTH_MALFORMED;
    /* Exact, case-sensitive (RFC 7515 4.1.1); the length check catches "HS256\u0000...". */
    if (json_string_length(alg) != strlen(a->alg_name) || strcmp(name, a->alg_name) != 0)
        return AUTH_WRONG_ALGORITHM;
    /* We understand no JWS extension, so any "crit" must be refused (RFC 7515 4.1.11). */
    if (json_object_get(header, "crit"))
        return AUTH_MALFORMED;
    return AUTH_OK;
}

/* Reads NumericDate claim name into *out, rounding a fraction up or down as asked (always the
 * stricter way for the caller). *present tells whether it exists. AUTH_MALFORMED if it is not a
 * number, AUTH_BAD_TIME if it is later than AUTH_TIME_MAX_S. */
static enum auth_result numeric_date(json_t *claims, const char *name, bool round_up,
                                     bool *present, int64_t *out)
{
    json_t *v = json_object_get(claims, name);

    *present = v != NULL;
    if (!v)
        return AUTH_OK;
    if (json_is_integer(v)) {
        if (json_integer_value(v) > AUTH_TIME_MAX_S)
            return AUTH_BAD_TIME;
        *out = (int64_t)json_integer_value(v);
        return AUTH_OK;
    }
    if (!json_is_real(v))
        return AUTH_MALFORMED;
    double d = json_real_value(v); /* finite: JSON has no NaN or Infinity */
    if (d > (double)AUTH_TIME_MAX_S)
        return AUTH_BAD_TIME;
    if (d <= -9.2e18) {
        *out = INT64_MIN;
    } else {
        int64_t i = (int64_t)d; /* toward zero */
        if (round_up && (double)i < d)
            i++;
        else if (!round_up && (double)i > d)
            i--;
        *out = i;
    }
    return AUTH_OK;
}

static enum auth_result check_claims(json_t *claims, jwt_t *jwt, int64_t now_s, char *sub_out,
                                     size_t sub_size, int64_t *exp_out)
{
    bool has_exp, has_nbf;
    int64_t exp = 0, nbf = 0;
    int64_t earliest = now_s < INT64_MIN + AUTH_LEEWAY_S ? INT64_MIN : now_s - AUTH_LEEWAY_S;
    int64_t latest = now_s > INT64_MAX - AUTH_LEEWAY_S ? INT64_MAX : now_s + AUTH_LEEWAY_S;

    enum auth_result r = numeric_date(claims, "exp", false, &has_exp, &exp);
    if (r == AUTH_OK)
        r = numeric_date(claims, "nbf", true, &has_nbf, &nbf);
    if (r != AUTH_OK)
        return r;
    if (!has_exp)
        return AUTH_NO_EXPIRY;
    if (exp <= earliest) /* RFC 7519 4.1.4: valid only before exp */
        return AUTH_EXPIRED;
    if (has_nbf && nbf > latest)
        return AUTH_NOT_YET_VALID;
    if (exp_out)
        *exp_out = exp;

    json_t *sub = json_object_get(claims, "sub");
    const char *s = json_string_value(sub);
    size_t n = s ? json_string_length(sub) : 0;
    if (!s || !sub_text_ok(s, n))
        return AUTH_NO_SUBJECT;
    /* libjwt parsed the same bytes; if it reads another sub, trust neither. */
    const char *theirs = jwt_get_grant(jwt, "sub");
    if (!theirs || strcmp(theirs, s) != 0)
        return AUTH_MALFORMED;
    if (sub_out) {
        if (n >= sub_size)
            return AUTH_NO_SUBJECT;
        memcpy(sub_out, s, n + 1);
    }
    return AUTH_OK;
}

enum auth_result auth_verify(const struct auth *a, const char *token, size_t len, int64_t now_s,
                             char *sub_out, size_t sub_size)
{
    return auth_verify_exp(a, token, len, now_s, sub_out, sub_size, NULL);
}

enum auth_result auth_verify_exp(const struct auth *a, const char *token, size_t len,
                                 int64_t now_s, char *sub_out, size_t sub_size, int64_t *exp_out)
{
    enum auth_result r = AUTH_MALFORMED;
    json_t *header = NULL, *claims = NULL;
    jwt_t *jwt = NULL;
    unsigned char *buf = NULL;
    int rc;

    if (sub_out && sub_size > 0)
        sub_out[0] = '\0';
    if (!token || len == 0)
        return AUTH_MISSING;
    if (len > AUTH_TOKEN_MAX)
        return AUTH_MALFORMED;

    /* Compact JWS: exactly three segments, header.payload.signature. */
    const char *end = token + len;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
        return AUTH_MALFORMED;
    const char *sig = dot2 + 1;
    size_t head_len = (size_t)(dot1 - token);
    size_t body_len = (size_t)(dot2 - dot1 - 1);
    size_t sig_len = (size_t)(end - sig);

    /* Scratch for decoding each segment, then the NUL-terminated copy libjwt needs. */
    buf = malloc(len + 1);
    if (!buf)
        return AUTH_INTERNAL_ERROR;

    header = decode_segment(token, head_len, buf);
    if (!header)
        goto out;
    r = check_header(a, header);
    if (r != AUTH_OK)
        goto out;
    r = AUTH_MALFORMED;
    claims = decode_segment(dot1 + 1, body_len, buf);
    if (!claims)
        goto out;
    if (sig_len == 0 || !base64url_decode(sig, sig_len, NULL, NULL)) {
        r = AUTH_BAD_SIGNATURE;
        goto out;
    }

    /* Every byte is now base64url or one of two dots: no NUL, nothing libjwt could skip. */
    memcpy(buf, token, len);
    buf[len] = '\0';
    rc = jwt_decode(&jwt, (const char *)buf, a->key, a->key_len);
    if (rc != 0) {
        ERR_clear_error(); /* leave no OpenSSL errors queued on this worker thread */
        jwt = NULL;
        r = rc == ENOMEM ? AUTH_INTERNAL_ERROR : AUTH_BAD_SIGNATURE;
        goto out;
    }
    if (jwt_get_alg(jwt) != a->alg) {
        r = AUTH_WRONG_ALGORITHM;
        goto out;
    }
    r = check_claims(claims, jwt, now_s, sub_out, sub_size, exp_out);

out:
    if (r != AUTH_OK && sub_out && sub_size > 0)
        sub_out[0] = '\0';
    if (jwt)
        jwt_free(jwt);
    json_decref(claims);
    json_decref(header);
    free(buf);
    return r;
}

int64_t auth_refused_from_ms(int64_t exp_s)
{
    /* auth_verify refuses once exp <= now_s - AUTH_LEEWAY_S, i.e. from second exp + leeway. */
    int64_t refused_s = exp_s > INT64_MAX - AUTH_LEEWAY_S ? INT64_MAX : exp_s + AUTH_LEEWAY_S;
    return time_ms_from_s(refused_s);
}

const char *auth_result_message(enum auth_result r)
{
    if ((size_t)r < sizeof(result_messages) / sizeof(result_messages[0]) && result_messages[r])
        return result_messages[r];
    return "invalid token";
}

char *auth_mint_hs256(const char *secret, const char *sub, int64_t now_s, int64_t ttl_s)
{
    jwt_t *jwt = NULL;
    char *token = NULL;

    if (!secret || secret[0] == '\0' || strlen(secret) > KEY_TEXT_MAX || !sub ||
        !sub_text_ok(sub, strlen(sub)))
        return NULL;
    if (now_s < LONG_MIN || now_s > LONG_MAX || (ttl_s > 0 && now_s > LONG_MAX - ttl_s) ||
        (ttl_s < 0 && now_s < LONG_MIN - ttl_s))
        return NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_add_grant(jwt, "sub", sub) != 0 || jwt_add_grant_int(jwt, "iat", (long)now_s) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) != 0 ||
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0)
        goto out;
    token = jwt_encode_str(jwt); /* plain malloc in libjwt 1.10: free() it */

out:
    jwt_free(jwt);
    return token;
}
