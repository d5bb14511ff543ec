/* auth.c - JWT verification: one pinned algorithm, signature by libjwt, claims checked here.
 *
 * libjwt 1.10 checks a signature but nothing else: it ignores exp and nbf, believes the token's own
 * "alg" (an HS256 token whose HMAC key is the text of our RSA public key verifies against that
 * key), matches alg names case-insensitively, and decodes base64url leniently. So each token is
 * split and its header and payload decoded strictly here first (jansson, duplicate keys refused),
 * "alg" is pinned and "crit" refused before libjwt sees the token, libjwt's own idea of the
 * algorithm is checked again after it verifies, and the claims are read from the payload decoded
 * here. The key handed to libjwt is the secret or our canonical re-encoding of the public key.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util/time_ms.h"

#define KEY_TEXT_MAX (64 * 1024) /* longest secret or PEM accepted, bytes */
#define RSA_BITS_MIN 2048

struct auth {
    jwt_alg_t alg;
    const char *alg_name; /* static */
    unsigned char *key;   /* owned: HS256 secret or SPKI PEM, NUL-terminated, scrubbed on free */
    int key_len;          /* without the NUL */
};

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

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

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

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes unpadded base64url src[0..len) into out, which has room for len * 3 / 4 bytes (out may
 * be NULL to only validate). False on any byte outside the alphabet or an impossible length. */
static bool b64url_decode(const char *src, size_t len, unsigned char *out, size_t *out_len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;

    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)src[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out)
                out[n] = (unsigned char)(acc >> bits);
            n++;
            acc &= (1u << bits) - 1;
        }
    }
    if (out_len)
        *out_len = n;
    return true;
}

/* Strictly decodes one token segment into a new JSON object; NULL when it is not one. */
static json_t *decode_segment(const char *seg, size_t len, unsigned char *scratch)
{
    size_t n;
    if (len == 0 || !b64url_decode(seg, len, scratch, &n))
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

static bool bearer_token(const char *h, const char **token, size_t *len)
{
    while (is_ows(*h))
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || !is_ows(h[6]))
        return false;
    h += 6;
    while (is_ows(*h))
        h++;
    const char *start = h;
    while (*h && !is_ows(*h))
        h++;
    size_t n = (size_t)(h - start);
    while (is_ows(*h))
        h++;
    if (n == 0 || *h != '\0')
        return false;
    *token = start;
    *len = n;
    return true;
}

static bool session_cookie(const char *c, const char **token, size_t *len)
{
    static const char name[] = "__session";
    const size_t name_len = sizeof(name) - 1;
    const char *p = c;

    while (*p) {
        while (is_ows(*p) || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            const char *name_end = eq;
            while (name_end > p && is_ows(name_end[-1]))
                name_end--;
            const char *v = eq + 1, *v_end = end;
            while (v < v_end && is_ows(*v))
                v++;
            while (v_end > v && is_ows(v_end[-1]))
                v_end--;
            if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
                v++;
                v_end--;
            }
            if ((size_t)(name_end - p) == name_len && memcmp(p, name, name_len) == 0 && v_end > v) {
                *token = v;
                *len = (size_t)(v_end - v);
                return true;
            }
        }
        p = end;
    }
    return false;
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
    if (sig_len == 0 || !b64url_decode(sig, sig_len, NULL, NULL)) {
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

bool auth_token_from_headers(const char *authorization, const char *cookie, const char **token,
                             size_t *len)
{
    if (authorization && bearer_token(authorization, token, len))
        return true;
    if (cookie && session_cookie(cookie, token, len))
        return true;
    return false;
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
