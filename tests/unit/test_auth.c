/* test_auth.c - unit tests for auth.c: finding the token, verifying it, minting demo tokens.
 *
 * Keys are generated at test time with OpenSSL's EVP API; RS256/ES256 tokens are signed with
 * libjwt, and hostile tokens (alg none, algorithm swap, odd headers and claims) are built by hand
 * with base64url and HMAC-SHA256 so that nothing in the library under test helps make them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth/auth.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */
#define SECRET "offerd-unit-test-secret-0123456789abcdef"
#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

struct keys {
    char *rsa_priv, *rsa_pub;     /* RSA 2048 */
    char *rsa2_priv;              /* another RSA 2048 */
    char *ec_priv, *ec_pub;       /* EC P-256 */
    char *p384_pub, *ed25519_pub; /* refused key kinds */
    char *rsa1024_pub;            /* refused: too short */
};

/* ---- helpers ---------------------------------------------------------------------------- */

static char *b64url(const void *data, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    assert_non_null(out);
    int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    out[len] = '\0';
    for (char *p = out; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

/* header.payload.<HMAC-SHA256(key)>, built by hand. free() it. */
static char *sign_hs256_key(const void *key, size_t key_len, const char *header,
                            const char *payload)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t n = strlen(h) + 1 + strlen(p);
    char *token = malloc(n + 1 + 64);
    assert_non_null(token);
    snprintf(token, n + 1, "%s.%s", h, p);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    assert_non_null(
        HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)token, n, mac, &mac_len));
    char *s = b64url(mac, mac_len);
    strcat(token, ".");
    strcat(token, s);
    free(s);
    free(h);
    free(p);
    return token;
}

static char *sign_hs256(const char *header, const char *payload)
{
    return sign_hs256_key(SECRET, strlen(SECRET), header, payload);
}

/* header.payload.sig with sig given literally. free() it. */
static char *unsigned_token(const char *header, const char *payload, const char *sig)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
    char *token = malloc(n);
    assert_non_null(token);
    snprintf(token, n, "%s.%s.%s", h, p, sig);
    free(h);
    free(p);
    return token;
}

/* Signs payload with libjwt using alg and key (a private PEM for RS/ES). free() it. */
static char *libjwt_sign(jwt_alg_t alg, const char *key, const char *payload)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)), 0);
    char *token = jwt_encode_str(jwt);
    assert_non_null(token);
    jwt_free(jwt);
    return token;
}

static char *pem_of(EVP_PKEY *pkey, bool public_part)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    if (public_part)
        assert_int_equal(PEM_write_bio_PUBKEY(bio, pkey), 1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(bio);
    return s;
}

/* The RSA public key as PKCS#1 ("-----BEGIN RSA PUBLIC KEY-----"), as some tools export it. */
static char *pkcs1_pem_of(const char *spki_pem)
{
    BIO *in = BIO_new_mem_buf(spki_pem, -1);
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
    assert_non_null(pkey);
    OSSL_ENCODER_CTX *ctx =
        OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);
    assert_non_null(ctx);
    unsigned char *data = NULL;
    size_t len = 0;
    assert_int_equal(OSSL_ENCODER_to_data(ctx, &data, &len), 1);
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, data, len);
    s[len] = '\0';
    OPENSSL_free(data);
    OSSL_ENCODER_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    BIO_free(in);
    return s;
}

static enum auth_result verify_str(const struct auth *a, const char *token, char *sub,
                                   size_t sub_size)
{
    return auth_verify(a, token, token ? strlen(token) : 0, NOW, sub, sub_size);
}

/* Verifies an HS256 token signed by hand over payload, against SECRET. */
static enum auth_result verify_payload(const char *payload, char *sub)
{
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    assert_non_null(a);
    char *token = sign_hs256(HS256_HEADER, payload);
    enum auth_result r = verify_str(a, token, sub, AUTH_SUB_SIZE);
    free(token);
    auth_free(a);
    return r;
}

static char *payload_exp(int64_t exp_offset)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "{\"sub\":\"user_1\",\"exp\":%lld}", (long long)(NOW + exp_offset));
    return buf;
}

static int setup_keys(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    if (!k)
        return -1;
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    EVP_PKEY *rsa2 = EVP_RSA_gen(2048);
    EVP_PKEY *rsa1024 = EVP_RSA_gen(1024);
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!rsa || !rsa2 || !rsa1024 || !ec || !p384 || !ed)
        return -1;
    k->rsa_priv = pem_of(rsa, false);
    k->rsa_pub = pem_of(rsa, true);
    k->rsa2_priv = pem_of(rsa2, false);
    k->ec_priv = pem_of(ec, false);
    k->ec_pub = pem_of(ec, true);
    k->p384_pub = pem_of(p384, true);
    k->ed25519_pub = pem_of(ed, true);
    k->rsa1024_pub = pem_of(rsa1024, true);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ed);
    *state = k;
    return 0;
}

static int teardown_keys(void **state)
{
    struct keys *k = *state;
    free(k->rsa_priv);
    free(k->rsa_pub);
    free(k->rsa2_priv);
    free(k->ec_priv);
    free(k->ec_pub);
    free(k->p384_pub);
    free(k->ed25519_pub);
    free(k->rsa1024_pub);
    free(k);
    return 0;
}

/* ---- token extraction ------------------------------------------------------------------- */

static void assert_found(const char *authorization, const char *cookie, const char *want)
{
    const char *t = NULL;
    size_t n = 0;
    assert_true(auth_token_from_headers(authorization, cookie, &t, &n));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(t, want, n);
}

static void assert_not_found(const char *authorization, const char *cookie)
{
    const char *t = NULL;
    size_t n = 0;
    assert_false(auth_token_from_headers(authorization, cookie, &t, &n));
}

static void test_extract_bearer(void **state)
{
    (void)state;
    assert_found("Bearer abc.def.ghi", NULL, "abc.def.ghi");
    assert_found("bearer abc.def.ghi", NULL, "abc.def.ghi");
    assert_found("BEARER abc.def.ghi", NULL, "abc.def.ghi");
    assert_found("  Bearer   abc.def.ghi  ", NULL, "abc.def.ghi");
    assert_found("Bearer\tabc.def.ghi\t", NULL, "abc.def.ghi");

    /* the pointer is borrowed from the header value */
    const char *hdr = "Bearer tok";
    const char *t = NULL;
    size_t n = 0;
    assert_true(auth_token_from_headers(hdr, NULL, &t, &n));
    assert_ptr_equal(t, hdr + 7);
}

static void test_extract_bearer_refused(void **state)
{
    (void)state;
    assert_not_found("Basic dXNlcjpwYXNz", NULL);
    assert_not_found("Bearer", NULL);
    assert_not_found("Bearer ", NULL);
    assert_not_found("Bearer \t ", NULL);
    assert_not_found("Bearerabc.def.ghi", NULL);
    assert_not_found("Bearer abc def", NULL);
    assert_not_found("Token abc.def.ghi", NULL);
    assert_not_found("", NULL);
    assert_not_found(NULL, NULL);
}

static void test_extract_cookie(void **state)
{
    (void)state;
    assert_found(NULL, "__session=tok1", "tok1");
    assert_found(NULL, "__session=tok1; a=b; c=d", "tok1");
    assert_found(NULL, "a=b; __session=tok2; c=d", "tok2");
    assert_found(NULL, "a=b;c=d;__session=tok3", "tok3");
    assert_found(NULL, "a=b;  __session = tok4 ;c=d", "tok4");
    assert_found(NULL, "__session=\"tok5\"", "tok5");
    assert_found(NULL, "__session=; __session=tok6", "tok6"); /* empty one skipped */
    assert_found(NULL, "__session=first; __session=second", "first");
    assert_found(NULL, "x__session=no; __session=yes", "yes");
}

static void test_extract_cookie_refused(void **state)
{
    (void)state;
    assert_not_found(NULL, "x__session=tok");
    assert_not_found(NULL, "__session_abc=tok");
    assert_not_found(NULL, "__Session=tok");
    assert_not_found(NULL, "session=tok");
    assert_not_found(NULL, "__session=");
    assert_not_found(NULL, "__session");
    assert_not_found(NULL, "a=b; c=d");
    assert_not_found(NULL, "");
    assert_not_found(NULL, ";;;");
}

static void test_extract_header_wins(void **state)
{
    (void)state;
    assert_found("Bearer fromheader", "__session=fromcookie", "fromheader");
    /* a header that is not a usable Bearer leaves the cookie to speak */
    assert_found("Basic dXNlcjpwYXNz", "__session=fromcookie", "fromcookie");
    assert_found("Bearer ", "__session=fromcookie", "fromcookie");
}

/* ---- constructing verifiers ------------------------------------------------------------- */

static void test_new_hs256(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(auth_new_hs256("", err, sizeof(err)));
    assert_true(strlen(err) > 0);
    assert_null(auth_new_hs256(NULL, err, sizeof(err)));
    assert_null(auth_new_hs256("", NULL, 0)); /* err is optional */

    struct auth *a = auth_new_hs256(SECRET, err, sizeof(err));
    assert_non_null(a);
    assert_string_equal(auth_algorithm_name(a), "HS256");
    auth_free(a);
    auth_free(NULL);
}

static void test_new_public_key(void **state)
{
    struct keys *k = *state;
    char err[256] = "";

    struct auth *rsa = auth_new_public_key(k->rsa_pub, err, sizeof(err));
    assert_non_null(rsa);
    assert_string_equal(auth_algorithm_name(rsa), "RS256");
    auth_free(rsa);

    struct auth *ec = auth_new_public_key(k->ec_pub, err, sizeof(err));
    assert_non_null(ec);
    assert_string_equal(auth_algorithm_name(ec), "ES256");
    auth_free(ec);

    /* PKCS#1 input works too: libjwt gets our SubjectPublicKeyInfo re-encoding */
    char *pkcs1 = pkcs1_pem_of(k->rsa_pub);
    assert_non_null(strstr(pkcs1, "-----BEGIN RSA PUBLIC KEY-----"));
    rsa = auth_new_public_key(pkcs1, err, sizeof(err));
    assert_non_null(rsa);
    assert_string_equal(auth_algorithm_name(rsa), "RS256");
    char *token = libjwt_sign(JWT_ALG_RS256, k->rsa_priv, "{\"sub\":\"u\",\"exp\":1767229200}");
    char sub[AUTH_SUB_SIZE];
    assert_int_equal(auth_verify(rsa, token, strlen(token), NOW, sub, sizeof(sub)), AUTH_OK);
    free(token);
    free(pkcs1);
    auth_free(rsa);

    /* from a file */
    char path[] = "/tmp/offerd-test-auth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, k->ec_pub, strlen(k->ec_pub)), (ssize_t)strlen(k->ec_pub));
    close(fd);
    ec = auth_new_public_key(path, err, sizeof(err));
    unlink(path);
    assert_non_null(ec);
    assert_string_equal(auth_algorithm_name(ec), "ES256");
    auth_free(ec);
}

static void test_new_public_key_refused(void **state)
{
    struct keys *k = *state;
    char err[256];

    const struct {
        const char *key;
        const char *why; /* a word the reason must contain */
    } cases[] = {
        {k->rsa_priv, "private key"},
        {k->ec_priv, "private key"},
        {k->p384_pub, "curve"},
        {k->ed25519_pub, "unsupported"},
        {k->rsa1024_pub, "bits"},
        {"-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n", "PEM"},
        {"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "certificate"},
        {"/nonexistent/offerd/key.pem", "/nonexistent/offerd/key.pem"},
        {"", "no public key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        assert_null(auth_new_public_key(cases[i].key, err, sizeof(err)));
        if (!strstr(err, cases[i].why))
            fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, err, cases[i].why);
    }
    assert_null(auth_new_public_key(NULL, NULL, 0));
}

/* ---- verification: HS256 ---------------------------------------------------------------- */

static void test_verify_hs256_valid(void **state)
{
    (void)state;
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    char *token = auth_mint_hs256(SECRET, "user_2abcDEF", NOW, 3600);
    char sub[AUTH_SUB_SIZE] = "junk";
    assert_non_null(token);
    assert_int_equal(verify_str(a, token, sub, sizeof(sub)), AUTH_OK);
    assert_string_equal(sub, "user_2abcDEF");
    /* the verdict alone */
    assert_int_equal(verify_str(a, token, NULL, 0), AUTH_OK);
    free(token);
    auth_free(a);
}

static void test_verify_sub_copied_exactly(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    /* UTF-8 and JSON escapes come out as the decoded bytes */
    assert_int_equal(
        verify_payload("{\"sub\":\"us\\u00e9r \\\"q\\\" /x\",\"exp\":1767229200}", sub), AUTH_OK);
    assert_string_equal(sub, "us\xc3\xa9r \"q\" /x");

    char payload[600], want[AUTH_SUB_SIZE];
    memset(want, 'a', AUTH_SUB_MAX);
    want[AUTH_SUB_MAX] = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":1767229200}", want);
    assert_int_equal(verify_payload(payload, sub), AUTH_OK); /* 255 bytes: the limit */
    assert_string_equal(sub, want);
}

static void test_verify_not_nul_terminated(void **state)
{
    (void)state;
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    char *token = auth_mint_hs256(SECRET, "user_1", NOW, 60);
    size_t n = strlen(token);
    char *padded = malloc(n + 8);
    memcpy(padded, token, n);
    memcpy(padded + n, "; x=y", 6); /* as inside a Cookie header */
    char sub[AUTH_SUB_SIZE];
    assert_int_equal(auth_verify(a, padded, n, NOW, sub, sizeof(sub)), AUTH_OK);
    assert_string_equal(sub, "user_1");
    assert_int_equal(auth_verify(a, padded, n + 1, NOW, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    free(padded);
    free(token);
    auth_free(a);
}

static void test_verify_wrong_secret(void **state)
{
    (void)state;
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    char *token = auth_mint_hs256("another-secret-0123456789abcdef!", "user_1", NOW, 60);
    char sub[AUTH_SUB_SIZE] = "junk";
    assert_int_equal(verify_str(a, token, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    assert_string_equal(sub, ""); /* cleared on failure */
    free(token);
    auth_free(a);
}

static void test_verify_expiry(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    assert_int_equal(verify_payload(payload_exp(3600), sub), AUTH_OK);
    assert_int_equal(verify_payload(payload_exp(1), sub), AUTH_OK);
    assert_int_equal(verify_payload(payload_exp(0), sub), AUTH_OK);   /* within leeway */
    assert_int_equal(verify_payload(payload_exp(-10), sub), AUTH_OK); /* within leeway */
    assert_int_equal(verify_payload(payload_exp(-(AUTH_LEEWAY_S - 1)), sub), AUTH_OK);
    assert_int_equal(verify_payload(payload_exp(-AUTH_LEEWAY_S), sub), AUTH_EXPIRED);
    assert_int_equal(verify_payload(payload_exp(-(AUTH_LEEWAY_S + 1)), sub), AUTH_EXPIRED);
    assert_string_equal(sub, "");
    assert_int_equal(verify_payload(payload_exp(-86400), sub), AUTH_EXPIRED);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":0}", sub), AUTH_EXPIRED);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":-9223372036854775808}", sub),
                     AUTH_EXPIRED);
    /* NumericDate may be a real */
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":1767229200.5}", sub), AUTH_OK);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":1767225000.5}", sub), AUTH_EXPIRED);

    /* minted with a negative ttl */
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    char *token = auth_mint_hs256(SECRET, "user_1", NOW, -3600);
    assert_int_equal(verify_str(a, token, sub, sizeof(sub)), AUTH_EXPIRED);
    free(token);
    auth_free(a);
}

/* Issue 19 item 6: an exp past year 9999 is no expiry; it used to be accepted (1e300 saturated to
 * INT64_MAX) and overflowed every deadline derived from it. Refused with its own reason. */
static void test_verify_absurd_times(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    char payload[160];
    const char *refused[] = {
        "{\"sub\":\"u\",\"exp\":1e300}",
        "{\"sub\":\"u\",\"exp\":9.3e15}",
        "{\"sub\":\"u\",\"exp\":9300000000000000}",
        "{\"sub\":\"u\",\"exp\":9223372036854775807}",
        "{\"sub\":\"u\",\"exp\":253402300800}",
        "{\"sub\":\"u\",\"exp\":253402300799.5}",
        "{\"sub\":\"u\",\"exp\":1767229200,\"nbf\":1e300}",
        "{\"sub\":\"u\",\"exp\":1767229200,\"nbf\":253402300800}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(verify_payload(refused[i], sub), AUTH_BAD_TIME);
        assert_string_equal(sub, "");
    }
    /* The last second of year 9999 is still a time; so is a fraction below it (rounded down). */
    snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld}", AUTH_TIME_MAX_S);
    assert_int_equal(verify_payload(payload, sub), AUTH_OK);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":253402300798.9}", sub), AUTH_OK);
    /* Far in the past is simply expired, however absurd. */
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":-1e300}", sub), AUTH_EXPIRED);
    /* An integer jansson cannot hold is not JSON we read. */
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":92233720368547758070}", sub),
                     AUTH_MALFORMED);

    /* The exp an accepted token gives back always converts to milliseconds without overflow. */
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld}", AUTH_TIME_MAX_S);
    char *token = sign_hs256(HS256_HEADER, payload);
    int64_t exp = 0;
    assert_int_equal(auth_verify_exp(a, token, strlen(token), NOW, sub, sizeof(sub), &exp),
                     AUTH_OK);
    assert_int_equal(exp, AUTH_TIME_MAX_S);
    assert_int_equal(auth_refused_from_ms(exp), (AUTH_TIME_MAX_S + AUTH_LEEWAY_S) * 1000);
    free(token);
    auth_free(a);
}

/* A held request or stream ends exactly when auth_verify starts refusing its token. */
static void test_refused_from_ms(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    const int64_t exp = NOW - 10; /* inside the leeway: accepted now */
    int64_t until_ms = auth_refused_from_ms(exp);
    assert_int_equal(until_ms, (exp + AUTH_LEEWAY_S) * 1000);
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    char *token = auth_mint_hs256(SECRET, "u", NOW - 3600, exp - (NOW - 3600));
    assert_int_equal(auth_verify(a, token, strlen(token), until_ms / 1000 - 1, sub, sizeof(sub)),
                     AUTH_OK);
    assert_int_equal(auth_verify(a, token, strlen(token), until_ms / 1000, sub, sizeof(sub)),
                     AUTH_EXPIRED);
    free(token);
    auth_free(a);
    /* Saturates rather than overflows. */
    assert_int_equal(auth_refused_from_ms(INT64_MAX), INT64_MAX);
    assert_int_equal(auth_refused_from_ms(INT64_MAX / 1000), INT64_MAX);
    assert_int_equal(auth_refused_from_ms(INT64_MIN), INT64_MIN);
}

static void test_verify_missing_or_bad_exp(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    assert_int_equal(verify_payload("{\"sub\":\"u\"}", sub), AUTH_NO_EXPIRY);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":null}", sub), AUTH_MALFORMED);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":\"1767229200\"}", sub), AUTH_MALFORMED);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":true}", sub), AUTH_MALFORMED);
}

static void test_verify_nbf(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    char payload[128];
    const int64_t exp = NOW + 3600;
    const struct {
        int64_t nbf_offset;
        enum auth_result want;
    } cases[] = {
        {-100, AUTH_OK},           {0, AUTH_OK},
        {AUTH_LEEWAY_S, AUTH_OK},  {AUTH_LEEWAY_S + 1, AUTH_NOT_YET_VALID},
        {600, AUTH_NOT_YET_VALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
                 (long long)exp, (long long)(NOW + cases[i].nbf_offset));
        assert_int_equal(verify_payload(payload, sub), cases[i].want);
    }
    /* a fraction rounds up: NOW + 30.5 is not yet valid */
    snprintf(payload, sizeof(payload), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld.5}",
             (long long)exp, (long long)(NOW + AUTH_LEEWAY_S));
    assert_int_equal(verify_payload(payload, sub), AUTH_NOT_YET_VALID);
    assert_int_equal(verify_payload("{\"sub\":\"u\",\"exp\":1767229200,\"nbf\":\"soon\"}", sub),
                     AUTH_MALFORMED);
}

static void test_verify_subject(void **state)
{
    (void)state;
    char sub[AUTH_SUB_SIZE];
    char payload[600], big[AUTH_SUB_MAX + 2];
    const char *bad[] = {
        "{\"exp\":1767229200}",
        "{\"sub\":12,\"exp\":1767229200}",
        "{\"sub\":null,\"exp\":1767229200}",
        "{\"sub\":[\"u\"],\"exp\":1767229200}",
        "{\"sub\":\"\",\"exp\":1767229200}",
        "{\"sub\":\"u\\nFAKE LOG LINE\",\"exp\":1767229200}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify_payload(bad[i], sub) != AUTH_NO_SUBJECT)
            fail_msg("case %zu: %s accepted", i, bad[i]);
    }
    /* jansson refuses \u0000 in strings (no JSON_ALLOW_NUL), so this never reaches sub */
    assert_int_equal(verify_payload("{\"sub\":\"u\\u0000admin\",\"exp\":1767229200}", sub),
                     AUTH_MALFORMED);
    memset(big, 'a', AUTH_SUB_MAX + 1);
    big[AUTH_SUB_MAX + 1] = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":1767229200}", big);
    assert_int_equal(verify_payload(payload, sub), AUTH_NO_SUBJECT); /* 256 bytes */

    /* a sub that does not fit the caller's buffer is refused, not cut */
    struct auth *a = auth_new_hs256(SECRET, NULL, 0);
    char *token = auth_mint_hs256(SECRET, "user_123456", NOW, 60);
    char small[8] = "junk";
    assert_int_equal(verify_str(a, token, small, sizeof(small)), AUTH_NO_SUBJECT);
    assert_string_equal(small, "");
    free(token);
    auth_free(a);
}

/* ---- verification: hostile and broken tokens -------------------------------------------- */

static void test_verify_alg_none(void **state)
{
    struct keys *k = *state;
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    struct auth *rs = auth_new_public_key(k->rsa_pub, NULL, 0);
    const char *payload = "{\"sub\":\"admin\",\"exp\":1767229200}";
    char sub[AUTH_SUB_SIZE] = "junk";

    const char *headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"None\",\"typ\":\"JWT\"}",
        "{\"alg\":\"NONE\"}",
        "{\"alg\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *token = unsigned_token(headers[i], payload, "");
        assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
        assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
        free(token);
        /* with an HMAC that would verify, had we believed the header */
        token = sign_hs256(headers[i], payload);
        assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
        free(token);
    }
    assert_string_equal(sub, "");
    /* two segments only: not a JWS at all */
    char *h = b64url_str("{\"alg\":\"none\"}"), *p = b64url_str(payload);
    char two[256];
    snprintf(two, sizeof(two), "%s.%s", h, p);
    assert_int_equal(verify_str(hs, two, sub, sizeof(sub)), AUTH_MALFORMED);
    free(h);
    free(p);
    auth_free(rs);
    auth_free(hs);
}

static void test_verify_alg_swap(void **state)
{
    struct keys *k = *state;
    char sub[AUTH_SUB_SIZE] = "junk";
    const char *payload = "{\"sub\":\"admin\",\"exp\":1767229200}";

    /* HS256 "signed" with the public PEM text as the HMAC secret: libjwt 1.10.2 alone accepts
     * this when handed the PEM as its key. */
    struct auth *rs = auth_new_public_key(k->rsa_pub, NULL, 0);
    char *token = sign_hs256_key(k->rsa_pub, strlen(k->rsa_pub), HS256_HEADER, payload);
    assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    assert_string_equal(sub, "");
    free(token);
    auth_free(rs);

    struct auth *es = auth_new_public_key(k->ec_pub, NULL, 0);
    token = sign_hs256_key(k->ec_pub, strlen(k->ec_pub), HS256_HEADER, payload);
    assert_int_equal(verify_str(es, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);
    auth_free(es);

    /* other HMAC algorithms and spellings against an HS256 verifier */
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    token = libjwt_sign(JWT_ALG_HS384, SECRET, payload);
    assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);
    token = libjwt_sign(JWT_ALG_HS512, SECRET, payload);
    assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);
    token = sign_hs256("{\"alg\":\"hs256\"}", payload);
    assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);
    token = sign_hs256("{\"alg\":\"HS256\\u0000x\"}", payload); /* jansson refuses \u0000 */
    assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_MALFORMED);
    free(token);
    auth_free(hs);
}

static void test_verify_odd_headers(void **state)
{
    (void)state;
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    const char *payload = "{\"sub\":\"u\",\"exp\":1767229200}";
    char sub[AUTH_SUB_SIZE];
    const struct {
        const char *header;
        enum auth_result want;
    } cases[] = {
        {"{\"alg\":\"HS256\"}", AUTH_OK},
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", AUTH_OK},
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", AUTH_MALFORMED},
        {"{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}", AUTH_MALFORMED},
        {"{\"typ\":\"JWT\"}", AUTH_MALFORMED},
        {"{\"alg\":256}", AUTH_MALFORMED},
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", AUTH_MALFORMED}, /* duplicate key */
        {"[\"HS256\"]", AUTH_MALFORMED},
        {"\"HS256\"", AUTH_MALFORMED},
        {"{\"alg\":\"HS256\"", AUTH_MALFORMED},
        {"{\"alg\":\"HS256\"} x", AUTH_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *token = sign_hs256(cases[i].header, payload);
        enum auth_result r = verify_str(hs, token, sub, sizeof(sub));
        if (r != cases[i].want)
            fail_msg("case %zu: %s gave %d, want %d", i, cases[i].header, r, cases[i].want);
        free(token);
    }
    /* payloads that are not one JSON object */
    const char *payloads[] = {"[1]", "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1767229200}", "",
                              "{\"sub\":\"u\",\"exp\":1767229200"};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *token = sign_hs256(HS256_HEADER, payloads[i]);
        assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_MALFORMED);
        free(token);
    }
    auth_free(hs);
}

static void test_verify_garbage(void **state)
{
    (void)state;
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    char *good = auth_mint_hs256(SECRET, "user_1", NOW, 60);
    char sub[AUTH_SUB_SIZE];
    char buf[1024];

    assert_int_equal(verify_str(hs, NULL, sub, sizeof(sub)), AUTH_MISSING);
    assert_int_equal(verify_str(hs, "", sub, sizeof(sub)), AUTH_MISSING);
    const char *garbage[] = {
        "garbage",      "a.b", "a.b.c", "..", "...", "a.b.c.d", "eyJ.eyJ.x", "\xff\xfe.\x01.\x02",
        "Bearer x.y.z",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        if (verify_str(hs, garbage[i], sub, sizeof(sub)) != AUTH_MALFORMED)
            fail_msg("case %zu (%s) not refused as malformed", i, garbage[i]);
    }

    /* one valid token, mangled */
    const char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    size_t n = strlen(good);
    snprintf(buf, sizeof(buf), "%s=", good); /* padding is not base64url */
    assert_int_equal(verify_str(hs, buf, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    snprintf(buf, sizeof(buf), "%.*s=.%s", (int)(dot1 - good), good, dot1 + 1);
    assert_int_equal(verify_str(hs, buf, sub, sizeof(sub)), AUTH_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s+%s", (int)(dot2 - good - 1), good, dot2); /* '+' in body */
    assert_int_equal(verify_str(hs, buf, sub, sizeof(sub)), AUTH_MALFORMED);
    snprintf(buf, sizeof(buf), " %s", good);
    assert_int_equal(verify_str(hs, buf, sub, sizeof(sub)), AUTH_MALFORMED);
    /* an embedded NUL inside the given length */
    memcpy(buf, good, n);
    buf[dot1 - good + 2] = '\0';
    assert_int_equal(auth_verify(hs, buf, n, NOW, sub, sizeof(sub)), AUTH_MALFORMED);
    /* signature segment emptied */
    snprintf(buf, sizeof(buf), "%.*s", (int)(dot2 - good + 1), good);
    assert_int_equal(verify_str(hs, buf, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    /* payload tampered, signature kept */
    char *forged_body = b64url_str("{\"sub\":\"admin\",\"exp\":1767229200}");
    snprintf(buf, sizeof(buf), "%.*s.%s%s", (int)(dot1 - good), good, forged_body, dot2);
    assert_int_equal(verify_str(hs, buf, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    free(forged_body);
    free(good);
    auth_free(hs);
}

static void test_verify_truncated(void **state)
{
    (void)state;
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    char *good = auth_mint_hs256(SECRET, "user_1", NOW, 60);
    char sub[AUTH_SUB_SIZE];
    size_t n = strlen(good);
    const char *dot2 = strrchr(good, '.');

    assert_int_equal(auth_verify(hs, good, n, NOW, sub, sizeof(sub)), AUTH_OK);
    /* every shorter prefix is refused, never accepted */
    for (size_t len = 1; len < n; len++) {
        enum auth_result r = auth_verify(hs, good, len, NOW, sub, sizeof(sub));
        if (r == AUTH_OK)
            fail_msg("prefix of %zu bytes accepted", len);
        if (len > (size_t)(dot2 - good) && r != AUTH_BAD_SIGNATURE)
            fail_msg("prefix of %zu bytes (into the signature) gave %d", len, r);
    }
    free(good);
    auth_free(hs);
}

static void test_verify_overlong(void **state)
{
    (void)state;
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    char sub[AUTH_SUB_SIZE];

    char *junk = malloc(AUTH_TOKEN_MAX + 2);
    memset(junk, 'a', AUTH_TOKEN_MAX + 1);
    junk[AUTH_TOKEN_MAX + 1] = '\0';
    assert_int_equal(verify_str(hs, junk, sub, sizeof(sub)), AUTH_MALFORMED);
    free(junk);

    /* a correctly signed token, just too long */
    size_t pad = AUTH_TOKEN_MAX;
    char *payload = malloc(pad + 64);
    int head = snprintf(payload, pad + 64, "{\"sub\":\"u\",\"exp\":1767229200,\"pad\":\"");
    memset(payload + head, 'x', pad);
    strcpy(payload + head + pad, "\"}");
    char *token = sign_hs256(HS256_HEADER, payload);
    assert_true(strlen(token) > AUTH_TOKEN_MAX);
    assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_MALFORMED);
    free(token);
    free(payload);
    auth_free(hs);
}

/* ---- verification: RS256 / ES256 -------------------------------------------------------- */

static void test_verify_rs256(void **state)
{
    struct keys *k = *state;
    struct auth *rs = auth_new_public_key(k->rsa_pub, NULL, 0);
    char sub[AUTH_SUB_SIZE];
    assert_non_null(rs);

    char *token =
        libjwt_sign(JWT_ALG_RS256, k->rsa_priv, "{\"sub\":\"user_rsa\",\"exp\":1767229200}");
    assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_OK);
    assert_string_equal(sub, "user_rsa");
    free(token);

    token = libjwt_sign(JWT_ALG_RS256, k->rsa2_priv, "{\"sub\":\"user_rsa\",\"exp\":1767229200}");
    assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    free(token);

    token = libjwt_sign(JWT_ALG_RS256, k->rsa_priv, "{\"sub\":\"user_rsa\",\"exp\":1767220000}");
    assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_EXPIRED);
    free(token);

    token = libjwt_sign(JWT_ALG_RS512, k->rsa_priv, "{\"sub\":\"user_rsa\",\"exp\":1767229200}");
    assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);

    /* ES256 token against an RSA-configured verifier */
    token = libjwt_sign(JWT_ALG_ES256, k->ec_priv, "{\"sub\":\"user_ec\",\"exp\":1767229200}");
    assert_int_equal(verify_str(rs, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);
    auth_free(rs);
}

static void test_verify_es256(void **state)
{
    struct keys *k = *state;
    struct auth *es = auth_new_public_key(k->ec_pub, NULL, 0);
    char sub[AUTH_SUB_SIZE];
    assert_non_null(es);

    char *token =
        libjwt_sign(JWT_ALG_ES256, k->ec_priv, "{\"sub\":\"user_ec\",\"exp\":1767229200}");
    assert_int_equal(verify_str(es, token, sub, sizeof(sub)), AUTH_OK);
    assert_string_equal(sub, "user_ec");
    /* flip one byte of the signature */
    char *last = token + strlen(token) - 3;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(verify_str(es, token, sub, sizeof(sub)), AUTH_BAD_SIGNATURE);
    free(token);

    token = libjwt_sign(JWT_ALG_RS256, k->rsa_priv, "{\"sub\":\"user_rsa\",\"exp\":1767229200}");
    assert_int_equal(verify_str(es, token, sub, sizeof(sub)), AUTH_WRONG_ALGORITHM);
    free(token);
    auth_free(es);
}

/* ---- concurrency, messages, minting ----------------------------------------------------- */

struct worker {
    const struct auth *auth;
    const char *good, *bad, *want_sub;
    int failures;
};

static void *verify_many(void *arg)
{
    struct worker *w = arg;
    char sub[AUTH_SUB_SIZE];
    for (int i = 0; i < 200; i++) {
        if (verify_str(w->auth, w->good, sub, sizeof(sub)) != AUTH_OK ||
            strcmp(sub, w->want_sub) != 0)
            w->failures++;
        if (verify_str(w->auth, w->bad, sub, sizeof(sub)) != AUTH_BAD_SIGNATURE)
            w->failures++;
    }
    return NULL;
}

static void test_verify_concurrently(void **state)
{
    struct keys *k = *state;
    enum { THREADS = 8 };
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    struct auth *es = auth_new_public_key(k->ec_pub, NULL, 0);
    char *hs_good = auth_mint_hs256(SECRET, "user_hs", NOW, 60);
    char *hs_bad = auth_mint_hs256("not-the-secret-0123456789abcdef!", "user_hs", NOW, 60);
    char *es_good =
        libjwt_sign(JWT_ALG_ES256, k->ec_priv, "{\"sub\":\"user_es\",\"exp\":1767229200}");
    char *es_bad = strdup(es_good);
    es_bad[strlen(es_bad) - 2] = es_bad[strlen(es_bad) - 2] == 'A' ? 'B' : 'A';

    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        bool use_hs = i % 2 == 0;
        workers[i] = (struct worker){use_hs ? hs : es, use_hs ? hs_good : es_good,
                                     use_hs ? hs_bad : es_bad, use_hs ? "user_hs" : "user_es", 0};
        assert_int_equal(pthread_create(&threads[i], NULL, verify_many, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(workers[i].failures, 0);
    }
    free(es_bad);
    free(es_good);
    free(hs_bad);
    free(hs_good);
    auth_free(es);
    auth_free(hs);
}

static void test_result_messages(void **state)
{
    (void)state;
    for (int r = AUTH_OK; r <= AUTH_BAD_TIME; r++) {
        const char *m = auth_result_message((enum auth_result)r);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        for (int q = AUTH_OK; q < r; q++)
            assert_string_not_equal(m, auth_result_message((enum auth_result)q));
    }
    assert_non_null(auth_result_message((enum auth_result)999));
}

static void test_mint(void **state)
{
    (void)state;
    struct auth *hs = auth_new_hs256(SECRET, NULL, 0);
    char sub[AUTH_SUB_SIZE];

    char *token = auth_mint_hs256(SECRET, "user_demo", NOW, 7 * 86400);
    assert_non_null(token);
    assert_int_equal(verify_str(hs, token, sub, sizeof(sub)), AUTH_OK);
    assert_string_equal(sub, "user_demo");
    /* iat and exp as asked, checked with libjwt's reading of the claims */
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_decode(&jwt, token, (const unsigned char *)SECRET, (int)strlen(SECRET)),
                     0);
    assert_int_equal(jwt_get_grant_int(jwt, "iat"), NOW);
    assert_int_equal(jwt_get_grant_int(jwt, "exp"), NOW + 7 * 86400);
    assert_string_equal(jwt_get_header(jwt, "alg"), "HS256");
    jwt_free(jwt);
    free(token);

    assert_null(auth_mint_hs256(NULL, "u", NOW, 60));
    assert_null(auth_mint_hs256("", "u", NOW, 60));
    assert_null(auth_mint_hs256(SECRET, NULL, NOW, 60));
    assert_null(auth_mint_hs256(SECRET, "", NOW, 60));
    assert_null(auth_mint_hs256(SECRET, "bad\nsub", NOW, 60));
    assert_null(auth_mint_hs256(SECRET, "u", INT64_MAX, 60));
    auth_free(hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extract_bearer),
        cmocka_unit_test(test_extract_bearer_refused),
        cmocka_unit_test(test_extract_cookie),
        cmocka_unit_test(test_extract_cookie_refused),
        cmocka_unit_test(test_extract_header_wins),
        cmocka_unit_test(test_new_hs256),
        cmocka_unit_test(test_new_public_key),
        cmocka_unit_test(test_new_public_key_refused),
        cmocka_unit_test(test_verify_hs256_valid),
        cmocka_unit_test(test_verify_sub_copied_exactly),
        cmocka_unit_test(test_verify_not_nul_terminated),
        cmocka_unit_test(test_verify_wrong_secret),
        cmocka_unit_test(test_verify_expiry),
        cmocka_unit_test(test_verify_absurd_times),
        cmocka_unit_test(test_refused_from_ms),
        cmocka_unit_test(test_verify_missing_or_bad_exp),
        cmocka_unit_test(test_verify_nbf),
        cmocka_unit_test(test_verify_subject),
        cmocka_unit_test(test_verify_alg_none),
        cmocka_unit_test(test_verify_alg_swap),
        cmocka_unit_test(test_verify_odd_headers),
        cmocka_unit_test(test_verify_garbage),
        cmocka_unit_test(test_verify_truncated),
        cmocka_unit_test(test_verify_overlong),
        cmocka_unit_test(test_verify_rs256),
        cmocka_unit_test(test_verify_es256),
        cmocka_unit_test(test_verify_concurrently),
        cmocka_unit_test(test_result_messages),
        cmocka_unit_test(test_mint),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
