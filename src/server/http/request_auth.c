/* request_auth.c - the authentication gate: token, failure guard, rate limit, users.id.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/request_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "auth/auth.h"
#include "auth/auth_cache.h"
#include "auth/auth_guard.h"
#include "http/reply.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/config.h"
#include "util/ratelimit.h"

#define XFF_MAX_HEADERS 8

struct xff_values {
    const char *values[XFF_MAX_HEADERS];
    size_t count;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct xff_values *x = cls;
    if (key && value && strcasecmp(key, "X-Forwarded-For") == 0) {
        if (x->count == XFF_MAX_HEADERS) /* keep the last ones: the nearest hops */
            memmove(x->values, x->values + 1, (XFF_MAX_HEADERS - 1) * sizeof(x->values[0]));
        else
            x->count++;
        x->values[x->count - 1] = value;
    }
    return MHD_YES;
}

/* The client address failed authentications are counted against (auth_guard_client_key). */
static void client_key(const struct request *r, char key[CLIENT_ADDR_KEY_SIZE])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct xff_values xff = {.count = 0};
    if (r->app->config->trusted_proxy_count)
        MHD_get_connection_values(r->conn, MHD_HEADER_KIND, collect_xff, &xff);
    auth_guard_client_key(r->app->auth_guard, ci ? ci->client_addr : NULL, xff.values, xff.count,
                          key);
}

/* A token that does not verify: 401, counted against the client's address. When the caller can
 * do without it (refused not NULL), nothing is answered or counted and *refused is set. */
static bool refuse_token(struct request *r, const char *key, const char *token, size_t len,
                         enum auth_result ar, int64_t now_ms, bool *refused)
{
    if (refused) {
        *refused = true;
        return false;
    }
    auth_guard_failed(r->app->auth_guard, key, token, len, ar, now_ms);
    reply_unauthorized(r, auth_result_message(ar), 1);
    return false;
}

/* Verifies the token, or finds it verified before; fills sub and r->token_exp_s. A cached
 * user row still fresh is copied to r->user_id and *user_known set. A token not verified before
 * passes auth_guard first: an address over its failure limit gets 429, a token that failed
 * recently its 401, neither at the cost of a signature check. refused: see refuse_token. */
static bool verify_token(struct request *r, const char *token, size_t len,
                         char sub[AUTH_SUB_SIZE], bool *user_known, bool *refused)
{
    int64_t now_s = clock_now_ms() / 1000;
    struct auth_cache_hit hit;
    *user_known = false;
    if (auth_cache_get(r->app->auth_cache, token, len, now_s, clock_monotonic_us() / 1000, &hit)) {
        snprintf(sub, AUTH_SUB_SIZE, "%s", hit.sub);
        r->token_exp_s = hit.exp_s;
        if (hit.user_fresh) {
            *user_known = true;
            memcpy(r->user_id, hit.user_id, sizeof(r->user_id));
        }
        return true;
    }
    char key[CLIENT_ADDR_KEY_SIZE];
    client_key(r, key);
    int64_t now_ms = clock_monotonic_us() / 1000;
    int retry_after_s = 1;
    if (!auth_guard_admit(r->app->auth_guard, key, now_ms, &retry_after_s)) {
        char retry[16];
        snprintf(retry, sizeof(retry), "%d", retry_after_s);
        struct reply_header h = {"Retry-After", retry};
        reply_error_with(r, 429, "too many failed authentications from your address; slow down",
                         &h, 1);
        return false;
    }
    enum auth_result ar;
    if (auth_guard_recall(r->app->auth_guard, token, len, &ar))
        return refuse_token(r, key, NULL, 0, ar, now_ms, refused);
    ar = auth_verify_exp(r->app->auth, token, len, now_s, sub, AUTH_SUB_SIZE, &r->token_exp_s);
    if (ar == AUTH_INTERNAL_ERROR) {
        reply_error(r, 500, "internal error");
        return false;
    }
    if (ar != AUTH_OK)
        return refuse_token(r, key, token, len, ar, now_ms, refused);
    return true;
}

/* request_authenticate; with no_credential (request_authenticate_optional), no token and a
 * cookie token that does not verify set it instead of being answered. */
static bool authenticate(struct request *r, bool *no_credential)
{
    const char *token;
    size_t len;
    /* The bearer token first; a cookie's only without one (auth_token_from_headers' order). */
    bool from_header = auth_token_from_headers(request_header(r, MHD_HTTP_HEADER_AUTHORIZATION),
                                               NULL, &token, &len);
    if (!from_header &&
        !auth_token_from_headers(NULL, request_header(r, MHD_HTTP_HEADER_COOKIE), &token, &len)) {
        if (no_credential) {
            *no_credential = true;
            return false;
        }
        reply_unauthorized(r, "missing bearer token", 0);
        return false;
    }
    char sub[AUTH_SUB_SIZE];
    bool user_known;
    if (!verify_token(r, token, len, sub, &user_known, from_header ? NULL : no_credential))
        return false;
    /* A held request woken again (it holds state) is the same request: not counted twice. */
    int retry_after_s = 1;
    if (!r->state &&
        !ratelimit_take(r->app->ratelimit, sub, clock_monotonic_us() / 1000, &retry_after_s)) {
        char retry[16];
        snprintf(retry, sizeof(retry), "%d", retry_after_s);
        struct reply_header h = {"Retry-After", retry};
        reply_error_with(r, 429, "too many requests; slow down", &h, 1);
        return false;
    }
    if (user_known)
        return true;
    enum store_result sr = store_find_user_by_clerk_id(r->app->store, sub, r->user_id);
    if (sr == STORE_NOT_FOUND) {
        r->user_id[0] = '\0'; /* signed in, but a party to nothing */
    } else if (sr == STORE_BAD_ROW) {
        /* The token is good (not 401), but the account's users.id cannot be served whole, and a
         * cut one could be someone else's. Not cached: a repaired row works at once. */
        r->user_id[0] = '\0';
        reply_error(r, 403, "this account's user id is not [A-Za-z0-9_-]{1,64}, so offerd "
                            "cannot serve it");
        return false;
    } else if (reply_store_failure(r, sr, "not found")) {
        return false;
    }
    auth_cache_put(r->app->auth_cache, token, len, sub, r->token_exp_s, r->user_id[0] != '\0',
                   r->user_id, clock_monotonic_us() / 1000);
    return true;
}

bool request_authenticate(struct request *r)
{
    return authenticate(r, NULL);
}

bool request_authenticate_optional(struct request *r, bool *no_credential)
{
    *no_credential = false;
    return authenticate(r, no_credential);
}
