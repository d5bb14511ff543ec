/* test_tokens.c - JWTs signed with libjwt for tests (and a hand-made unsigned one).
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

char *test_token_with_secret(const char *sub, long exp_offset_s, const char *secret)
{
    jwt_t *jwt = NULL;
    char *out = NULL;
    long now = (long)time(NULL);
    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_add_grant(jwt, "sub", sub) == 0 && jwt_add_grant_int(jwt, "iat", now) == 0 &&
        jwt_add_grant_int(jwt, "exp", now + exp_offset_s) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
        out = jwt_encode_str(jwt);
    jwt_free(jwt);
    return out;
}

char *test_token(const char *sub, long exp_offset_s)
{
    return test_token_with_secret(sub, exp_offset_s, TEST_JWT_SECRET);
}

void test_base64url(const unsigned char *in, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
}

static void base64url(const char *in, char *out)
{
    test_base64url((const unsigned char *)in, strlen(in), out);
}

char *test_token_alg_none(const char *sub)
{
    char payload[512], head[128], body[1024];
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%ld}", sub,
             (long)time(NULL) + 3600);
    base64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", head);
    base64url(payload, body);
    size_t n = strlen(head) + strlen(body) + 3;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s.%s.", head, body);
    return out;
}
