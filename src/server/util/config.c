/* config.c - flags and OFFERD_* environment into one struct config.
 *
 * Hand-rolled rather than getopt_long so that parsing has no global state and can be unit tested
 * with any argv and environment.
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/client_addr.h"

enum opt_kind { OPT_STRING, OPT_INT, OPT_SIZE, OPT_DOUBLE, OPT_BOOL, OPT_ORIGINS, OPT_PROXIES };

struct option_spec {
    const char *flag;
    const char *arg; /* the value's name in --help, "" for a switch */
    const char *env;
    enum opt_kind kind;
    size_t offset;
    int min, max;
    const char *help; /* one short line, the default in parentheses: --help fits a screen */
};

#define FIELD(f) offsetof(struct config, f)

static const struct option_spec options[] = {
    {"--bind", "ADDR", "OFFERD_BIND", OPT_STRING, FIELD(bind), 0, 0,
     "address to listen on (127.0.0.1)"},
    {"--port", "N", "OFFERD_PORT", OPT_INT, FIELD(port), 0, 65535,
     "TCP port; 0 picks a free one (8080)"},
    {"--db", "DB", "OFFERD_DB", OPT_STRING, FIELD(db_path), 0, 0,
     "SQLite file or postgresql:// (offerd.db)"},
    {"--bus", "SPEC", "OFFERD_BUS", OPT_STRING, FIELD(bus), 0, 0,
     "notify,redis://H:P or unix:///S (notify)"},
    {"--threads", "N", "OFFERD_THREADS", OPT_INT, FIELD(threads), 0, 1024,
     "worker threads (0: one per core)"},
    {"--jwt-secret", "S", "OFFERD_JWT_SECRET", OPT_STRING, FIELD(jwt_secret), 0, 0,
     "verify HS256 tokens with this secret"},
    {"--jwt-public-key", "PEM", "OFFERD_JWT_PUBLIC_KEY", OPT_STRING, FIELD(jwt_public_key), 0, 0,
     "RS256/ES256 key: PEM text or file path"},
    {"--cors-origin", "ORIGIN", "OFFERD_CORS_ORIGIN", OPT_ORIGINS, FIELD(cors_origins), 0, 0,
     "allowed origin; repeat (env: a,b,...)"},
    {"--demo", "", "OFFERD_DEMO", OPT_BOOL, FIELD(demo), 0, 0,
     "sample data, curl commands, page at /"},
    {"--idle-timeout", "S", "OFFERD_IDLE_TIMEOUT", OPT_INT, FIELD(idle_timeout_s), 1, 3600,
     "close idle connections after S s (60)"},
    {"--request-timeout", "S", "OFFERD_REQUEST_TIMEOUT", OPT_INT, FIELD(request_timeout_s), 1, 3600,
     "head+body due S s after 1st byte (30)"},
    {"--busy-timeout-ms", "MS", "OFFERD_BUSY_TIMEOUT_MS", OPT_INT, FIELD(busy_timeout_ms), 0,
     600000, "wait for the write lock, then 503 (5000)"},
    {"--max-body", "BYTES", "OFFERD_MAX_BODY", OPT_SIZE, FIELD(max_body_bytes), 64, 1048576,
     "larger request bodies get 413 (16384)"},
    {"--access-log", "", "OFFERD_ACCESS_LOG", OPT_BOOL, FIELD(access_log), 0, 0,
     "a line per request on stderr (on)"},
    {"--log-file", "PATH", "OFFERD_LOG_FILE", OPT_STRING, FIELD(log_file), 0, 0,
     "log here, not stderr; SIGHUP reopens it"},
    {"--max-connections", "N", "OFFERD_MAX_CONNECTIONS", OPT_INT, FIELD(max_connections), 16,
     1000000, "open connections, held ones too (20000)"},
    {"--connection-memory", "BYTES", "OFFERD_CONNECTION_MEMORY", OPT_SIZE,
     FIELD(connection_memory), 4096, 1048576, "buffer per connection (8192)"},
    {"--max-held", "N", "OFFERD_MAX_HELD", OPT_INT, FIELD(max_held), 0, 1000000,
     "held long-polls and streams (15000)"},
    {"--max-held-per-user", "N", "OFFERD_MAX_HELD_PER_USER", OPT_INT, FIELD(max_held_per_user), 0,
     100000, "the same, per user (32)"},
    {"--sse-heartbeat", "S", "OFFERD_SSE_HEARTBEAT", OPT_INT, FIELD(sse_heartbeat_s), 1, 3600,
     "comment on idle streams every S s (15)"},
    {"--change-poll-ms", "MS", "OFFERD_CHANGE_POLL_MS", OPT_INT, FIELD(change_poll_ms), 1, 10000,
     "look for outside writes, expiries (25)"},
    {"--max-connections-per-ip", "N", "OFFERD_MAX_CONNECTIONS_PER_IP", OPT_INT,
     FIELD(max_connections_per_ip), 0, 1000000, "per client address; 0 = no limit (0)"},
    {"--rate-limit", "R", "OFFERD_RATE_LIMIT", OPT_DOUBLE, FIELD(rate_limit), 0, 1000000,
     "requests/s per user; 0 = off (20)"},
    {"--rate-burst", "N", "OFFERD_RATE_BURST", OPT_INT, FIELD(rate_burst), 1, 1000000,
     "requests at once before the rate (40)"},
    {"--offer-cache", "N", "OFFERD_OFFER_CACHE", OPT_INT, FIELD(offer_cache_entries), 0, 10000000,
     "rendered offers kept; 0 = off (20000)"},
    {"--token-cache", "N", "OFFERD_TOKEN_CACHE", OPT_INT, FIELD(token_cache_entries), 0, 10000000,
     "verified tokens kept; 0 = off (16384)"},
    {"--auth-fail-limit", "R", "OFFERD_AUTH_FAIL_LIMIT", OPT_DOUBLE, FIELD(auth_fail_limit), 0,
     1000000, "bad tokens/s per address; 0 = off (1)"},
    {"--auth-fail-burst", "N", "OFFERD_AUTH_FAIL_BURST", OPT_INT, FIELD(auth_fail_burst), 1,
     1000000, "bad tokens at once before the limit (20)"},
    {"--failed-token-cache", "N", "OFFERD_FAILED_TOKEN_CACHE", OPT_INT,
     FIELD(failed_token_cache_entries), 0, 1000000, "bad tokens refused from memory (4096)"},
    {"--trusted-proxy", "ADDR", "OFFERD_TRUSTED_PROXY", OPT_PROXIES, FIELD(trusted_proxies), 0, 0,
     "X-Forwarded-For from it names the client"},
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

static void set_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->command = CONFIG_SERVE;
    c->port = 8080;
    c->idle_timeout_s = 60;
    c->request_timeout_s = 30;
    c->busy_timeout_ms = 5000;
    c->max_body_bytes = 16384;
    c->access_log = true;
    c->max_connections = 20000;
    c->connection_memory = 8192;
    c->max_held = 15000;
    c->max_held_per_user = 32;
    c->sse_heartbeat_s = 15;
    c->change_poll_ms = 25;
    c->rate_limit = 20;
    c->rate_burst = 40;
    c->offer_cache_entries = 20000;
    c->token_cache_entries = 16384;
    c->auth_fail_limit = 1;
    c->auth_fail_burst = 20;
    c->failed_token_cache_entries = 4096;
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* text[0..*len) without its leading and trailing spaces and tabs; *len is updated. */
static const char *trim_blanks(const char *text, size_t *len)
{
    while (*len && (*text == ' ' || *text == '\t')) {
        text++;
        (*len)--;
    }
    while (*len && (text[*len - 1] == ' ' || text[*len - 1] == '\t'))
        (*len)--;
    return text;
}

static void clear_list(char **items, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        free(items[i]);
    *count = 0;
}

/* Appends one --cors-origin (blank: ignored). */
static int add_origin(struct config *c, const char *text, size_t len, const char *source,
                      char *err, size_t err_size)
{
    text = trim_blanks(text, &len);
    if (len == 0)
        return 0;
    char *copy = NULL;
    if (c->cors_origin_count == CONFIG_MAX_CORS_ORIGINS || !(copy = strndup(text, len))) {
        snprintf(err, err_size, "%s: too many CORS origins (at most %d)", source,
                 CONFIG_MAX_CORS_ORIGINS);
        return -1;
    }
    c->cors_origins[c->cors_origin_count++] = copy;
    return 0;
}

/* Appends one --trusted-proxy address or network (validated here, so a typo stops the start). */
static int add_proxy(struct config *c, const char *text, size_t len, const char *source,
                     char *err, size_t err_size)
{
    text = trim_blanks(text, &len);
    if (len == 0)
        return 0;
    char *copy = strndup(text, len);
    struct client_addr net;
    if (!copy) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (!client_addr_parse(copy, &net)) {
        snprintf(err, err_size, "%s: '%s' is not an IP address or network (ADDR or ADDR/BITS)",
                 source, copy);
        free(copy);
        return -1;
    }
    if (c->trusted_proxy_count == CONFIG_MAX_TRUSTED_PROXIES) {
        snprintf(err, err_size, "%s: too many trusted proxies (at most %d)", source,
                 CONFIG_MAX_TRUSTED_PROXIES);
        free(copy);
        return -1;
    }
    c->trusted_proxies[c->trusted_proxy_count++] = copy;
    return 0;
}

typedef int (*add_item_fn)(struct config *c, const char *text, size_t len, const char *source,
                           char *err, size_t err_size);

/* A comma-separated list option: each item goes through add. The first flag replaces what the
 * environment gave, so flags are counted on their own. */
static int apply_list(struct config *c, const char *value, const char *source, char **items,
                      size_t *count, bool *from_flags, add_item_fn add, char *err,
                      size_t err_size)
{
    if (source[0] == '-' && !*from_flags) {
        clear_list(items, count);
        *from_flags = true;
    }
    for (const char *p = value;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (add(c, p, len, source, err, err_size) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int apply(struct config *c, const struct option_spec *o, const char *value,
                 const char *source, char *err, size_t err_size)
{
    char *base = (char *)c;
    switch (o->kind) {
    case OPT_STRING: {
        char **slot = (char **)(base + o->offset);
        char *copy = strdup(value);
        if (!copy)
            goto oom;
        free(*slot);
        *slot = copy;
        return 0;
    }
    case OPT_INT:
    case OPT_SIZE: {
        int v;
        if (parse_int(value, o->min, o->max, &v) != 0) {
            snprintf(err, err_size, "%s: '%s' is not a whole number from %d to %d", source, value,
                     o->min, o->max);
            return -1;
        }
        if (o->kind == OPT_SIZE)
            *(size_t *)(base + o->offset) = (size_t)v;
        else
            *(int *)(base + o->offset) = v;
        return 0;
    }
    case OPT_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double d = strtod(value, &end);
        if (errno || end == value || *end || !(d >= o->min && d <= o->max)) {
            snprintf(err, err_size, "%s: '%s' is not a number from %d to %d", source, value,
                     o->min, o->max);
            return -1;
        }
        *(double *)(base + o->offset) = d;
        return 0;
    }
    case OPT_BOOL:
        if (parse_bool(value, (bool *)(base + o->offset)) != 0) {
            snprintf(err, err_size, "%s: '%s' is not a boolean (1/0, true/false)", source, value);
            return -1;
        }
        return 0;
    case OPT_ORIGINS:
        return apply_list(c, value, source, c->cors_origins, &c->cors_origin_count,
                          &c->cors_origins_from_flags, add_origin, err, err_size);
    case OPT_PROXIES:
        return apply_list(c, value, source, c->trusted_proxies, &c->trusted_proxy_count,
                          &c->trusted_proxies_from_flags, add_proxy, err, err_size);
    }
oom:
    snprintf(err, err_size, "out of memory");
    return -1;
}

static const struct option_spec *find_flag(const char *arg, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].flag) == len && strncmp(options[i].flag, arg, len) == 0)
            return &options[i];
    return NULL;
}

static int parse_args(struct config *c, int argc, char **argv, char *err, size_t err_size)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "migrate") == 0) {
        c->command = CONFIG_MIGRATE;
        i++;
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            c->command = CONFIG_HELP;
            return 0;
        }
        if (!strcmp(arg, "--version")) {
            c->command = CONFIG_VERSION;
            return 0;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const struct option_spec *o = find_flag(arg, name_len);
        if (!o) {
            snprintf(err, err_size, "unknown option '%.*s' (see --help)", (int)name_len, arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->kind == OPT_BOOL) {
            value = "1";
        } else if (!value) {
            if (i + 1 >= argc) {
                snprintf(err, err_size, "%s needs a value", o->flag);
                return -1;
            }
            value = argv[++i];
        }
        if (apply(c, o, value, o->flag, err, err_size) != 0)
            return -1;
    }
    return 0;
}

/* One --bus item "redis://HOST:PORT" (HOST may be [IPv6]); 0, or -1 with why in err. */
static int parse_redis_url(struct config *c, const char *url, char *err, size_t err_size)
{
    const char *hostport = url + strlen("redis://");
    const char *host = hostport, *colon;
    size_t host_len;
    if (*hostport == '[') {
        const char *close = strchr(hostport, ']');
        if (!close || close[1] != ':')
            goto bad;
        host = hostport + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon)
            goto bad;
        host_len = (size_t)(colon - hostport);
    }
    int port;
    if (host_len == 0 || memchr(host, '@', host_len) || memchr(host, '/', host_len) ||
        parse_int(colon + 1, 1, 65535, &port) != 0)
        goto bad;
    c->bus_redis_host = strndup(host, host_len);
    c->bus_redis_port = port;
    if (!c->bus_redis_host) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
bad:
    snprintf(err, err_size,
             "--bus/OFFERD_BUS: '%s' is not redis://HOST:PORT (no password, database or path)",
             url);
    return -1;
}

/* --bus: a comma-separated list of "notify", "redis://HOST:PORT", "unix:///PATH" (at most one
 * Redis). Without the option: notify alone. */
static int parse_bus(struct config *c, char *err, size_t err_size)
{
    c->bus_notify = true;
    if (!c->bus)
        return 0;
    c->bus_notify = false;
    for (const char *p = c->bus;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item_start = trim_blanks(p, &len);
        char *item = strndup(item_start, len);
        int rc = 0;
        if (!item) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        bool redis = !strncmp(item, "redis://", 8) || !strncmp(item, "unix://", 7);
        if (redis && (c->bus_redis_host || c->bus_redis_socket)) {
            snprintf(err, err_size, "--bus/OFFERD_BUS: one Redis at most");
            rc = -1;
        } else if (!strcmp(item, "notify")) {
            c->bus_notify = true;
        } else if (!strncmp(item, "redis://", 8)) {
            rc = parse_redis_url(c, item, err, err_size);
        } else if (!strncmp(item, "unix://", 7) && item[7] == '/' && item[8]) {
            c->bus_redis_socket = strdup(item + 7);
            if (!c->bus_redis_socket) {
                snprintf(err, err_size, "out of memory");
                rc = -1;
            }
        } else {
            snprintf(err, err_size,
                     "--bus/OFFERD_BUS: '%s' is not notify, redis://HOST:PORT or unix:///PATH%s",
                     item, strncmp(item, "rediss://", 9) ? "" : " (no TLS: use a tunnel)");
            rc = -1;
        }
        free(item);
        if (rc != 0)
            return -1;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (!c->bus_notify && !c->bus_redis_host && !c->bus_redis_socket) {
        snprintf(err, err_size, "--bus/OFFERD_BUS: name notify, a Redis, or both");
        return -1;
    }
    return 0;
}

static int dup_default(char **slot, const char *value)
{
    if (*slot)
        return 0;
    *slot = strdup(value);
    return *slot ? 0 : -1;
}

int config_parse(struct config *c, int argc, char **argv, config_getenv_fn env, char *err,
                 size_t err_size)
{
    set_defaults(c);
    for (size_t i = 0; env && i < OPTION_COUNT; i++) {
        const char *v = env(options[i].env);
        if (v && *v && apply(c, &options[i], v, options[i].env, err, err_size) != 0)
            return -1;
    }
    if (parse_args(c, argc, argv, err, err_size) != 0)
        return -1;
    if (dup_default(&c->bind, "127.0.0.1") || dup_default(&c->db_path, "offerd.db")) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (parse_bus(c, err, err_size) != 0)
        return -1;
    if (c->jwt_secret && c->jwt_public_key) {
        snprintf(err, err_size, "give either --jwt-secret or --jwt-public-key, not both");
        return -1;
    }
    return 0;
}

void config_cleanup(struct config *c)
{
    free(c->bind);
    free(c->db_path);
    free(c->bus);
    free(c->bus_redis_host);
    free(c->bus_redis_socket);
    free(c->jwt_secret);
    free(c->jwt_public_key);
    free(c->log_file);
    clear_list(c->cors_origins, &c->cors_origin_count);
    clear_list(c->trusted_proxies, &c->trusted_proxy_count);
    memset(c, 0, sizeof(*c));
}

int config_cors_index(const struct config *c, const char *origin)
{
    for (size_t i = 0; origin && i < c->cors_origin_count; i++)
        if (strcmp(c->cors_origins[i], origin) == 0)
            return (int)i;
    return -1;
}

bool config_cors_allows(const struct config *c, const char *origin)
{
    return config_cors_index(c, origin) >= 0;
}

void config_usage(FILE *out)
{
    fputs("usage: offerd [OPTION]...             serve the offers API\n"
          "       offerd migrate [--db DB]       apply the database migrations and exit\n"
          "       offerd --help | --version\n"
          "\nEach option can be set in the environment too; options win. Defaults in parentheses.\n",
          out);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char flag[40];
        snprintf(flag, sizeof(flag), "%s%s%s", options[i].flag, options[i].arg[0] ? " " : "",
                 options[i].arg);
        fprintf(out, "  %-26s %-29s %s\n", flag, options[i].env, options[i].help);
    }
    fputs("\nSwitches take =0/1 (--access-log=0). A JWT option is required (--demo makes up an "
          "HS256 secret).\nSIGTERM/SIGINT: stop accepting, answer held requests, finish in-flight "
          "ones, exit 0. SIGHUP reopens\n--log-file (logrotate), ignored without one. Exit status "
          "0: clean stop or done; 1: cannot start or\nmigrate (says why); 2: bad option/value. "
          "man offerd; systemd+nginx: share/doc/offerd/deploying.md\n",
          out);
}
