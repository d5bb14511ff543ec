/* test_tokens.h - JWTs for tests, signed with the secret spawned servers use.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_TOKENS_H
#define OFFERD_TEST_TOKENS_H

#include <stddef.h>

#define TEST_JWT_SECRET "offerd-test-secret-please-change-0123456789"

/* HS256 token with sub=SUB, iat=now, exp=now+EXP_OFFSET_S (negative: already expired).
 * Returns a heap string; free with free(). */
char *test_token(const char *sub, long exp_offset_s);

/* Same, signed with another secret (the server must reject it). */
char *test_token_with_secret(const char *sub, long exp_offset_s, const char *secret);

/* Unsigned token with header {"alg":"none"} (the server must reject it). free() it. */
char *test_token_alg_none(const char *sub);

/* Base64url without padding of LEN bytes into out (room for 4 * (len + 2) / 3 + 1 bytes). */
void test_base64url(const unsigned char *in, size_t len, char *out);

#endif
