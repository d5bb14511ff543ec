/* config.h - offerd's settings from flags and OFFERD_* environment variables.
 *
 * Flags win over the environment, the environment over defaults. `offerd --help` prints
 * config_usage(); every flag has an environment twin listed there.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_CONFIG_H
#define OFFERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_CORS_ORIGINS 16
#define CONFIG_MAX_TRUSTED_PROXIES 64

enum config_command { CONFIG_SERVE, CONFIG_MIGRATE, CONFIG_HELP, CONFIG_VERSION };

struct config {
    enum config_command command;
    char *bind;                 /* address to listen on, default 127.0.0.1 */
    int port;                   /* default 8080; 0 picks a free port */
    char *db_path;              /* default offerd.db */
    char *bus;                  /* --bus as given (NULL: the default, "notify") */
    bool bus_notify;            /* PostgreSQL LISTEN/NOTIFY wakes this instance (default on) */
    char *bus_redis_host;       /* --bus redis://HOST:PORT, else NULL */
    int bus_redis_port;
    char *bus_redis_socket;     /* --bus unix:///PATH, else NULL */
    int threads;                /* worker threads; 0 means one per core */
    char *jwt_secret;           /* HS256 shared secret, or NULL */
    char *jwt_public_key;       /* PEM text or path (RS256/ES256), or NULL */
    char *cors_origins[CONFIG_MAX_CORS_ORIGINS];
    size_t cors_origin_count;
    bool cors_origins_from_flags;   /* internal: the first --cors-origin replaces the env's list */
    bool demo;
    int idle_timeout_s;         /* idle keep-alive connections are closed after this */
    int request_timeout_s;      /* a request's head and body must arrive within this of its start */
    int busy_timeout_ms;        /* how long a write waits for the SQLite lock before 503 */
    size_t max_body_bytes;      /* request bodies past this get 413 */
    bool access_log;            /* one line per request on stderr */
    char *log_file;             /* NULL: stderr; else appended to, reopened on SIGHUP */
    int max_connections;        /* open connections, held ones included */
    size_t connection_memory;   /* libmicrohttpd's per-connection pool, bytes */
    int max_held;               /* held long-polls and streams, in total */
    int max_held_per_user;
    int sse_heartbeat_s;        /* comment line on idle streams, under proxies' idle cut-offs */
    int change_poll_ms;         /* how often the change log and expiries are checked */
    int max_connections_per_ip; /* 0: no limit (behind a load balancer every peer is the LB) */
    double rate_limit;          /* requests per second per user; 0 turns it off */
    int rate_burst;             /* requests a user may make at once before the rate applies */
    int offer_cache_entries;    /* rendered offers kept for polls; 0 turns the cache off */
    int token_cache_entries;    /* verified tokens kept until they expire; 0 turns it off */
    double auth_fail_limit;     /* failed authentications per second per client address; 0: off */
    int auth_fail_burst;        /* failures an address may have at once before the limit applies */
    int failed_token_cache_entries; /* recently failed tokens refused without crypto; 0: off */
    char *trusted_proxies[CONFIG_MAX_TRUSTED_PROXIES]; /* addresses or networks (client_addr) */
    size_t trusted_proxy_count;
    bool trusted_proxies_from_flags; /* internal: the first --trusted-proxy replaces the env's */
};

/* Looks up an environment variable; getenv in production, a table in tests. */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills *c from defaults, then env, then argv[1..argc). Returns 0, or -1 with a message in err
 * (unknown flag, missing value, bad number, both JWT kinds, a --bus it cannot use). Free with
 * config_cleanup. */
int config_parse(struct config *c, int argc, char **argv, config_getenv_fn env, char *err,
                 size_t err_size);

void config_cleanup(struct config *c);

/* True when origin is one of the configured CORS origins (exact match). */
bool config_cors_allows(const struct config *c, const char *origin);

/* The index of origin in c->cors_origins, or -1 when it is not one of them (or NULL). */
int config_cors_index(const struct config *c, const char *origin);

/* Writes the --help text. */
void config_usage(FILE *out);

#endif
