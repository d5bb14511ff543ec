/* auth.h - bearer token (JWT) verification: who is calling, from a signed token.
 *
 * One algorithm is pinned when the verifier is made (HS256 from a shared secret, or RS256/ES256
 * from the kind of PEM public key an identity provider such as Clerk publishes) and every token
 * must use exactly that algorithm: alg "none" and algorithm swaps are refused before and after
 * libjwt checks the signature. exp is required, nbf is enforced when present, both with
 * AUTH_LEEWAY_S of clock skew (a fraction rounded the stricter way, a time past AUTH_TIME_MAX_S
 * refused), and sub (the user's clerk_id) must be a short printable string.
 * libjwt 1.10 checks signatures only, so the claims are checked here. A struct auth is immutable
 * once made: auth_verify may run on one const struct auth from any number of threads at once.
 * Nothing here logs, and no message ever contains a token.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_AUTH_H
#define OFFERD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_LEEWAY_S 30                 /* clock skew allowed on exp and nbf, seconds */
#define AUTH_TOKEN_MAX 8192              /* longer tokens are refused as AUTH_MALFORMED */
#define AUTH_SUB_MAX 255                 /* longest sub accepted, bytes */
#define AUTH_SUB_SIZE (AUTH_SUB_MAX + 1) /* buffer size for auth_verify's sub_out */
/* The latest exp or nbf accepted: 9999-12-31T23:59:59Z. A later NumericDate (1e300, 9.3e15) is no
 * real expiry, and refusing it keeps every deadline derived from exp far from int64_t's limits. */
#define AUTH_TIME_MAX_S 253402300799LL

struct auth;

/* Every non-OK result means 401 with WWW-Authenticate: Bearer, except AUTH_INTERNAL_ERROR (500).
 * Append new values at the end; never renumber. */
enum auth_result {
    AUTH_OK,
    AUTH_MISSING,         /* no token at all */
    AUTH_MALFORMED,       /* not a compact JWS, bad base64url/JSON, too long, crit header */
    AUTH_BAD_SIGNATURE,   /* signature does not verify with the configured key */
    AUTH_WRONG_ALGORITHM, /* header alg is not the configured one (includes "none") */
    AUTH_EXPIRED,         /* exp is AUTH_LEEWAY_S or more in the past */
    AUTH_NOT_YET_VALID,   /* nbf is more than AUTH_LEEWAY_S in the future */
    AUTH_NO_SUBJECT,      /* sub missing, not a string, empty, too long or not printable */
    AUTH_NO_EXPIRY,       /* exp missing: tokens that never expire are refused */
    AUTH_INTERNAL_ERROR,  /* out of memory while verifying: answer 500, not 401 */
    AUTH_BAD_TIME,        /* exp or nbf later than AUTH_TIME_MAX_S */
};

/* A verifier for HS256 tokens signed with secret (copied; >= 32 random bytes recommended). Returns
 * a new object, free with auth_free(). On failure (empty or NULL secret, no memory) returns NULL
 * and writes a one-line reason into err (if err is not NULL); the secret never appears in it. */
struct auth *auth_new_hs256(const char *secret, char *err, size_t err_size);

/* A verifier pinned to the algorithm the public key implies: RSA (>= 2048 bits) -> RS256, EC on
 * P-256 -> ES256; any other key type or curve, a private key or a certificate is refused.
 * pem_or_path is PEM text ("BEGIN PUBLIC KEY", or PKCS#1 "BEGIN RSA PUBLIC KEY") if it starts
 * with "-----BEGIN", else the path of a file holding it (read once, here, at most 64 KiB). Returns
 * a new object, free with auth_free(); NULL with a one-line reason in err (if err is not NULL) on
 * failure. */
struct auth *auth_new_public_key(const char *pem_or_path, char *err, size_t err_size);

/* Frees a verifier and scrubs its key. NULL is a no-op. */
void auth_free(struct auth *a);

/* "HS256", "RS256" or "ES256". Static string, never NULL. */
const char *auth_algorithm_name(const struct auth *a);

/* Verifies token (token[0..len), need not be NUL-terminated) at time now_s (Unix seconds):
 * header alg pinned, signature with the pinned key, exp/nbf with AUTH_LEEWAY_S, then sub. On
 * AUTH_OK, sub is copied NUL-terminated into sub_out (caller's buffer of sub_size bytes; give it
 * AUTH_SUB_SIZE, as a sub that does not fit is refused as AUTH_NO_SUBJECT; NULL when only the
 * verdict matters); on any other result sub_out is set to "". token NULL or len 0 gives
 * AUTH_MISSING. token is only read and never kept. Thread-safe: a is only read. */
enum auth_result auth_verify(const struct auth *a, const char *token, size_t len, int64_t now_s,
                             char *sub_out, size_t sub_size);

/* auth_verify, also giving the token's exp (Unix seconds) in *exp_out on AUTH_OK (exp_out may be
 * NULL): held requests and streams end when the token they were admitted with expires. */
enum auth_result auth_verify_exp(const struct auth *a, const char *token, size_t len,
                                 int64_t now_s, char *sub_out, size_t sub_size, int64_t *exp_out);

/* The first wall-clock millisecond at which a token with this exp is refused (exp plus
 * AUTH_LEEWAY_S, as auth_verify judges it), saturating: the instant a held request or stream
 * admitted with the token must end, so that the client's reconnect with it gets 401. */
int64_t auth_refused_from_ms(int64_t exp_s);

/* A static, human-readable sentence for r, never NULL and never containing a token. */
const char *auth_result_message(enum auth_result r);

/* Finds the caller's token. A well-formed "Authorization: Bearer <token>" wins (scheme
 * case-insensitive, spaces/tabs around the token tolerated); otherwise (no header, another scheme
 * such as Basic, or an empty token) the first "__session" cookie in the Cookie header
 * ("a=b; __session=<token>; c=d", exact name, surrounding DQUOTEs removed). Either header may be
 * NULL. On success sets *token to a borrowed pointer into that header value (valid while it is)
 * and *len to its length, and returns true; false when there is no non-empty token. */
bool auth_token_from_headers(const char *authorization, const char *cookie, const char **token,
                             size_t *len);

/* Mints an HS256 token {sub, iat: now_s, exp: now_s + ttl_s} signed with secret, for --demo and
 * tests. Returns a new NUL-terminated string, free with free(); NULL on bad arguments (NULL or
 * empty secret or sub, a sub auth_verify would refuse) or no memory. */
char *auth_mint_hs256(const char *secret, const char *sub, int64_t now_s, int64_t ttl_s);

#endif
