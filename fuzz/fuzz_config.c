/* fuzz_config.c - config_parse with an argv and a fake environment built from the input.
 *
 * Input: pieces separated by NUL bytes. The first byte is the number of environment entries (mod
 * 16); each entry piece is one byte choosing an OFFERD_* name, then its value. The remaining
 * pieces are argv[1..] (at most 64). No real getenv is called. Checks every setting is within its
 * documented range on success, that errors come with a message, that CORS origins given as flags
 * replace OFFERD_CORS_ORIGIN whatever it holds, and (with leak detection) that config_cleanup
 * frees everything on either path, as main() uses it.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include "util/config.h"
#include "fuzz_common.h"

#define MAX_ARGS 64
#define MAX_ENV 16

static const char *const env_names[] = {
    "OFFERD_BIND",
    "OFFERD_PORT",
    "OFFERD_DB",
    "OFFERD_THREADS",
    "OFFERD_JWT_SECRET",
    "OFFERD_JWT_PUBLIC_KEY",
    "OFFERD_CORS_ORIGIN",
    "OFFERD_DEMO",
    "OFFERD_IDLE_TIMEOUT",
    "OFFERD_REQUEST_TIMEOUT",
    "OFFERD_BUSY_TIMEOUT_MS",
    "OFFERD_MAX_BODY",
    "OFFERD_ACCESS_LOG",
    "OFFERD_MAX_CONNECTIONS",
    "OFFERD_CONNECTION_MEMORY",
    "OFFERD_MAX_HELD",
    "OFFERD_MAX_HELD_PER_USER",
    "OFFERD_SSE_HEARTBEAT",
    "OFFERD_CHANGE_POLL_MS",
    "OFFERD_MAX_CONNECTIONS_PER_IP",
    "OFFERD_RATE_LIMIT",
    "OFFERD_RATE_BURST",
    "OFFERD_OFFER_CACHE",
    "OFFERD_TOKEN_CACHE",
    "OFFERD_AUTH_FAIL_LIMIT",
    "OFFERD_AUTH_FAIL_BURST",
    "OFFERD_FAILED_TOKEN_CACHE",
    "OFFERD_TRUSTED_PROXY",
    "OFFERD_UNKNOWN",
};
#define ENV_NAME_COUNT (sizeof(env_names) / sizeof(env_names[0]))

static const char *env_keys[MAX_ENV];
static const char *env_values[MAX_ENV];
static size_t env_count;

/* Which part of the fake environment is visible: all of it, all but the CORS origins, or only
 * the CORS origins. */
enum env_view { ENV_ALL, ENV_NO_CORS, ENV_ONLY_CORS };
static enum env_view env_view;

/* Later entries win, as if the environment had been set twice. */
static const char *fake_env(const char *name)
{
    bool cors = strcmp(name, "OFFERD_CORS_ORIGIN") == 0;
    if ((env_view == ENV_NO_CORS && cors) || (env_view == ENV_ONLY_CORS && !cors))
        return NULL;
    const char *v = NULL;
    for (size_t i = 0; i < env_count; i++)
        if (strcmp(env_keys[i], name) == 0)
            v = env_values[i];
    return v;
}

static int parse_with(enum env_view view, struct config *c, int argc, char **argv, char *err,
                      size_t err_size)
{
    env_view = view;
    int rc = config_parse(c, argc, argv, fake_env, err, err_size);
    env_view = ENV_ALL;
    return rc;
}

/* config.h / config.c: flags win over the environment, "for list options too": when the flags
 * give CORS origins, OFFERD_CORS_ORIGIN (valid on its own) must not change the outcome. */
static void check_flags_replace_env_origins(int argc, char **argv, int rc, const struct config *c)
{
    struct config no_env_cors, only_env_cors;
    char err[256];
    char *bare[] = {argv[0], NULL};
    int rc_flags = parse_with(ENV_NO_CORS, &no_env_cors, argc, argv, err, sizeof(err));
    int rc_env = parse_with(ENV_ONLY_CORS, &only_env_cors, 1, bare, err, sizeof(err));
    if (rc_flags == 0 && rc_env == 0 && no_env_cors.command == CONFIG_SERVE &&
        no_env_cors.cors_origin_count > 0) {
        if (rc != 0)
            fprintf(stderr, "fails with OFFERD_CORS_ORIGIN set although --cors-origin "
                            "replaces it\n");
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(c->cors_origin_count == no_env_cors.cors_origin_count);
        for (size_t i = 0; i < c->cors_origin_count; i++)
            FUZZ_CHECK(strcmp(c->cors_origins[i], no_env_cors.cors_origins[i]) == 0);
    }
    config_cleanup(&no_env_cors);
    config_cleanup(&only_env_cors);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void check_ok(const struct config *c)
{
    FUZZ_CHECK(c->command >= CONFIG_SERVE && c->command <= CONFIG_VERSION);
    FUZZ_CHECK(c->bind != NULL && c->db_path != NULL);
    FUZZ_CHECK(!(c->jwt_secret && c->jwt_public_key));
    FUZZ_CHECK(c->port >= 0 && c->port <= 65535);
    FUZZ_CHECK(c->threads >= 0 && c->threads <= 1024);
    FUZZ_CHECK(c->idle_timeout_s >= 1 && c->idle_timeout_s <= 3600);
    FUZZ_CHECK(c->request_timeout_s >= 1 && c->request_timeout_s <= 3600);
    FUZZ_CHECK(c->busy_timeout_ms >= 0 && c->busy_timeout_ms <= 600000);
    FUZZ_CHECK(c->max_body_bytes >= 64 && c->max_body_bytes <= 1048576);
    FUZZ_CHECK(c->max_connections >= 16 && c->max_connections <= 1000000);
    FUZZ_CHECK(c->connection_memory >= 4096 && c->connection_memory <= 1048576);
    FUZZ_CHECK(c->max_held >= 0 && c->max_held <= 1000000);
    FUZZ_CHECK(c->max_held_per_user >= 0 && c->max_held_per_user <= 100000);
    FUZZ_CHECK(c->sse_heartbeat_s >= 1 && c->sse_heartbeat_s <= 3600);
    FUZZ_CHECK(c->change_poll_ms >= 1 && c->change_poll_ms <= 10000);
    FUZZ_CHECK(c->max_connections_per_ip >= 0 && c->max_connections_per_ip <= 1000000);
    FUZZ_CHECK(c->rate_limit >= 0 && c->rate_limit <= 1000000); /* false for NaN too */
    FUZZ_CHECK(c->rate_burst >= 1 && c->rate_burst <= 1000000);
    FUZZ_CHECK(c->cors_origin_count <= CONFIG_MAX_CORS_ORIGINS);
    for (size_t i = 0; i < c->cors_origin_count; i++) {
        const char *o = c->cors_origins[i];
        size_t n = strlen(o);
        FUZZ_CHECK(n > 0 && !is_ows(o[0]) && !is_ows(o[n - 1]) && !strchr(o, ','));
        FUZZ_CHECK(config_cors_allows(c, o));
    }
    FUZZ_CHECK(!config_cors_allows(c, NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    size_t want_env = fuzz_u8(&r) % MAX_ENV;
    char *env_pieces[MAX_ENV];
    env_count = 0;
    while (env_count < want_env && r.n) {
        size_t len;
        char *piece = fuzz_piece(&r, &len);
        env_pieces[env_count] = piece;
        env_keys[env_count] = env_names[len ? (unsigned char)piece[0] % ENV_NAME_COUNT : 0];
        env_values[env_count] = len ? piece + 1 : piece;
        env_count++;
    }

    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = fuzz_strndup((const uint8_t *)"offerd", 6);
    while (r.n && argc <= MAX_ARGS)
        argv[argc++] = fuzz_piece(&r, NULL);
    argv[argc] = NULL;

    struct config c;
    char err[256];
    memset(err, 'x', sizeof(err));
    int rc = parse_with(ENV_ALL, &c, argc, argv, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0)
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
    if (rc == 0) {
        check_ok(&c);
        /* The same input parses the same way again. */
        struct config c2;
        FUZZ_CHECK(parse_with(ENV_ALL, &c2, argc, argv, err, sizeof(err)) == 0);
        FUZZ_CHECK(c2.port == c.port && c2.cors_origin_count == c.cors_origin_count &&
                   strcmp(c2.bind, c.bind) == 0 && strcmp(c2.db_path, c.db_path) == 0);
        config_cleanup(&c2);
    }
    check_flags_replace_env_origins(argc, argv, rc, &c);
    config_cleanup(&c);

    for (int i = 0; i < argc; i++)
        free(argv[i]);
    for (size_t i = 0; i < env_count; i++)
        free(env_pieces[i]);
    env_count = 0;
    return 0;
}
