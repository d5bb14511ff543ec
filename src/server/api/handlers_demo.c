/* handlers_demo.c - serves the --demo page from memory and mints demo users' tokens.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_demo.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth.h"
#include "util/config.h"
#include "api/demo_files.h"
#include "http/reply.h"
#include "util/clock.h"

/* The page loads only its own scripts and styles and talks only to this server. */
static const char page_policy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* Demo tokens live an hour; the page asks for fresh ones before they run out. */
enum { DEMO_TOKEN_TTL_S = 3600 };

static bool demo_enabled(struct request *r)
{
    if (r->app->config->demo)
        return true;
    reply_error(r, 404, "no such resource");
    return false;
}

void handle_demo_file(struct request *r)
{
    if (!demo_enabled(r))
        return;
    for (size_t i = 0; i < demo_file_count; i++) {
        const struct demo_file *f = &demo_files[i];
        if (strcmp(f->url, r->path) != 0)
            continue;
        char *body = malloc(f->len ? f->len : 1);
        if (!body) {
            reply_error(r, 500, "internal error");
            return;
        }
        memcpy(body, f->data, f->len);
        struct reply_header h[3] = {{"Cache-Control", "no-cache"},
                                    {"Content-Security-Policy", page_policy},
                                    {"Referrer-Policy", "no-referrer"}};
        reply_send(r, 200, f->content_type, body, f->len, h, 3);
        return;
    }
    reply_error(r, 404, "no such resource");
}

static const struct {
    const char *id, *sub, *name, *role;
} demo_users[] = {
    {"demo_alice", "user_demo_alice", "Alice", "buyer"},
    {"demo_bob", "user_demo_bob", "Bob", "seller"},
    {"demo_carol", "user_demo_carol", "Carol", "stranger"},
};

void handle_demo_session(struct request *r)
{
    if (!demo_enabled(r))
        return;
    const struct config *c = r->app->config;
    if (!c->jwt_secret || c->jwt_public_key) {
        reply_error(r, 404, "demo sign-in needs an HS256 secret (run --demo without "
                            "--jwt-public-key); bring tokens from your identity provider instead");
        return;
    }
    json_t *users = json_array();
    int64_t now_s = clock_now_ms() / 1000;
    for (size_t i = 0; users && i < sizeof(demo_users) / sizeof(demo_users[0]); i++) {
        char *token = auth_mint_hs256(c->jwt_secret, demo_users[i].sub, now_s, DEMO_TOKEN_TTL_S);
        json_t *u = token ? json_pack("{s:s, s:s, s:s, s:s}", "id", demo_users[i].id, "name",
                                      demo_users[i].name, "role", demo_users[i].role, "token",
                                      token)
                          : NULL;
        free(token);
        if (!u || json_array_append_new(users, u) != 0) {
            json_decref(users);
            users = NULL;
        }
    }
    json_t *doc = users ? json_pack("{s:o, s:I}", "users", users, "expiresIn",
                                    (json_int_t)DEMO_TOKEN_TTL_S)
                        : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        reply_error(r, 500, "internal error");
        return;
    }
    struct reply_header h = {"Cache-Control", "no-store"};
    reply_send(r, 200, "application/json; charset=utf-8", text, strlen(text), &h, 1);
}
