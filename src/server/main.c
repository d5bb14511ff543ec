/* main.c - offerd: flags and env -> config -> store -> HTTP -> wait for a signal -> stop.
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>

#include "api/routes.h"
#include "auth/auth.h"
#include "auth/auth_guard.h"
#include "util/config.h"
#include "auth/demo_tokens.h"
#include "http/http_server.h"
#include "http/reply_cache.h"
#include "util/log.h"
#include "util/metrics.h"
#include "auth/auth_cache.h"
#include "realtime/bus.h"
#include "realtime/notify.h"
#include "realtime/ws.h"
#include "view/offer_cache.h"
#include "util/ratelimit.h"
#include "util/startup_hint.h"
#include "store/store.h"
#include "util/clock.h"

#ifndef OFFERD_VERSION /* the build passes the project's version */
#define OFFERD_VERSION "unknown"
#endif

/* Responses the woken long-polls of a fan-out share: one per offer being fanned out at once is
 * enough, so a few hundred slots (a 200 is ~1-2 KB) cover many simultaneous writes. */
#define SHARED_REPLIES 512

static const char *env_lookup(const char *name)
{
    return getenv(name);
}

/* A throwaway HS256 secret for --demo sessions that configured none: 32 random bytes as hex. */
static char *random_secret(void)
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return NULL;
    char *hex = malloc(sizeof(raw) * 2 + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + i * 2, 3, "%02x", raw[i]);
    return hex;
}

static struct auth *make_auth(struct config *cfg, char *err, size_t err_size)
{
    char why[512];
    struct auth *auth;
    if (cfg->jwt_public_key) {
        auth = auth_new_public_key(cfg->jwt_public_key, why, sizeof(why));
        if (!auth)
            snprintf(err, err_size, "--jwt-public-key/OFFERD_JWT_PUBLIC_KEY: %s", why);
        return auth;
    }
    if (!cfg->jwt_secret && cfg->demo) {
        cfg->jwt_secret = random_secret();
        if (!cfg->jwt_secret) {
            snprintf(err, err_size, "cannot make a demo secret");
            return NULL;
        }
    }
    if (!cfg->jwt_secret) {
        snprintf(err, err_size,
                 "no token verification configured: give --jwt-secret/OFFERD_JWT_SECRET (HS256)"
                 " or --jwt-public-key/OFFERD_JWT_PUBLIC_KEY (RS256/ES256), or --demo to try"
                 " it out");
        return NULL;
    }
    auth = auth_new_hs256(cfg->jwt_secret, why, sizeof(why));
    if (!auth)
        snprintf(err, err_size, "--jwt-secret/OFFERD_JWT_SECRET: %s", why);
    return auth;
}

/* Held requests each keep a socket open: allow as many descriptors as the hard limit permits. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_info("cannot raise the open-file limit; held connections are capped by it");
    }
}

/* After each commit of this instance: wake its own watchers, then the other instances (bus). */
static void publish_change(const char *offer_id, int64_t version, const char *buyer_id,
                           const char *seller_id, void *userdata)
{
    notify_publish(userdata, offer_id, version, buyer_id, seller_id);
    bus_publish(notify_bus(userdata), offer_id, version);
}

/* The Redis bus --bus names, or NULL (none named, or it could not be made: err says). */
static struct bus *make_bus(const struct config *cfg, char *err, size_t err_size)
{
    if (!cfg->bus_redis_host && !cfg->bus_redis_socket)
        return NULL;
    struct bus_options bo = {cfg->bus_redis_host, cfg->bus_redis_port, cfg->bus_redis_socket};
    return bus_new(&bo, err, err_size);
}

/* The version tells the cache which racing puts are stale: only those of older versions. */
static void invalidate_offer(const char *offer_id, int64_t version, void *userdata)
{
    if (userdata)
        offer_cache_invalidate(userdata, offer_id, version);
}

/* Stop accepting, refuse new writes, answer every held request, let writes in flight commit
 * and be answered, then stop. */
static void drain(struct http_server *server, struct app *app)
{
    http_server_quiesce(server);
    atomic_store(&app->stopping, true);
    notify_shutdown(app->notify);
    ws_hub_shutdown(app->ws_hub); /* 1001 to every WebSocket; each gives its admission back */
    struct timespec tick = {0, 20 * 1000000L};
    for (int waited_ms = 0; waited_ms < 5000; waited_ms += 20) {
        if (notify_held(app->notify) == 0 && atomic_load(&app->pending_writes) == 0)
            return;
        nanosleep(&tick, NULL);
    }
    log_error("%zu held requests and %d writes still open at shutdown", notify_held(app->notify),
              atomic_load(&app->pending_writes));
}

static int run_migrate(const struct config *cfg)
{
    char err[1024];
    if (store_migrate(cfg->db_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "offerd: %s\n", err);
        return 1;
    }
    char shown[512];
    store_db_for_log(cfg->db_path, shown, sizeof(shown));
    printf("offerd: %s is at schema version %d\n", shown, store_schema_version(cfg->db_path));
    return 0;
}

static int serve(struct config *cfg)
{
    /* Block the stop signals before any thread starts (the notify thread, the HTTP workers), so
     * that only sigwait below sees them; a thread left unblocked would die of SIGTERM. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP); /* not a stop: reopens the log file (logrotate) */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a full disk to SQLite, not a crash */
    char err[1024] = "";
    int status = 1;
    struct store *store = NULL;
    struct metrics *metrics = NULL;
    struct notify *notify = NULL;
    struct bus *bus = NULL;
    struct ratelimit *ratelimit = NULL;
    struct offer_cache *offer_cache = NULL;
    struct reply_cache *replies = NULL;
    struct auth_cache *auth_cache = NULL;
    struct auth_guard *auth_guard = NULL;
    struct http_server *server = NULL;
    struct ws_hub *ws_hub = NULL;
    if (cfg->log_file && log_open_file(cfg->log_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "offerd: %s\n", err);
        return 1;
    }
    struct auth *auth = make_auth(cfg, err, sizeof(err));
    if (!auth)
        goto out;
    struct store_options sopts = {.busy_timeout_ms = cfg->busy_timeout_ms,
                                  .no_notify = !cfg->bus_notify};
    store = store_open(cfg->db_path, &sopts, err, sizeof(err));
    if (!store)
        goto out;
    if (cfg->demo && store_seed_demo(store, clock_now_ms()) != STORE_OK) {
        char shown[512];
        store_db_for_log(cfg->db_path, shown, sizeof(shown));
        snprintf(err, sizeof(err), "cannot load the demo data into %s", shown);
        goto out;
    }
    const char *names[METRICS_MAX_ROUTES];
    for (size_t i = 0; i < api_route_count; i++)
        names[i] = api_routes[i].name;
    metrics = metrics_new(names, api_route_count);
    if (!metrics) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    log_set_access(cfg->access_log);
    raise_fd_limit();
    bus = make_bus(cfg, err, sizeof(err));
    if (!bus && err[0])
        goto out;
    struct notify_options nopts = {cfg->change_poll_ms, (size_t)cfg->max_held,
                                   (size_t)cfg->max_held_per_user, bus};
    notify = notify_new(store, &nopts, err, sizeof(err));
    if (!notify)
        goto out;
    store_set_change_hook(store, publish_change, notify);
    ratelimit = ratelimit_new(cfg->rate_limit, cfg->rate_burst);
    offer_cache = offer_cache_new((size_t)cfg->offer_cache_entries);
    replies = reply_cache_new(SHARED_REPLIES);
    auth_cache = auth_cache_new((size_t)cfg->token_cache_entries);
    if (!ratelimit || !offer_cache || !replies || !auth_cache) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    struct auth_guard_options gopts = {cfg->auth_fail_limit, cfg->auth_fail_burst,
                                       (size_t)cfg->failed_token_cache_entries,
                                       (const char *const *)cfg->trusted_proxies,
                                       cfg->trusted_proxy_count};
    auth_guard = auth_guard_new(&gopts, err, sizeof(err));
    if (!auth_guard)
        goto out;


    notify_set_version_hook(notify, invalidate_offer, offer_cache);
    struct app app = {.config = cfg, .store = store, .auth = auth, .metrics = metrics,
                      .notify = notify, .ratelimit = ratelimit, .offer_cache = offer_cache,
                      .replies = replies, .auth_cache = auth_cache, .auth_guard = auth_guard, .routes = api_routes,
                      .route_count = api_route_count};
    app.ws_hub = ws_hub = ws_hub_new(&app, err, sizeof(err));
    if (!ws_hub)
        goto out;
    server = http_server_start(&app, err, sizeof(err));
    if (!server) {
        startup_hint_listen(cfg->bind, cfg->port, err, sizeof(err));
        goto out;
    }
    char base_url[128];
    bool v6 = strchr(cfg->bind, ':') != NULL;
    snprintf(base_url, sizeof(base_url), "http://%s%s%s:%u", v6 ? "[" : "", cfg->bind,
             v6 ? "]" : "", http_server_port(server));
    printf("offerd listening on %s\n", base_url);
    if (cfg->demo)
        demo_tokens_print(stdout, base_url, cfg->jwt_public_key ? NULL : cfg->jwt_secret,
                          clock_now_ms());
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP)
        log_reopen();
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    drain(server, &app);
    status = 0;
out:
    if (status != 0 && err[0])
        fprintf(stderr, "offerd: %s\n", err);
    ws_hub_stop(ws_hub); /* every upgraded socket closed before MHD_stop_daemon */
    http_server_stop(server);
    ws_hub_free(ws_hub);
    if (store)
        store_set_change_hook(store, NULL, NULL);
    notify_free(notify);
    bus_free(bus); /* after the notify thread, which drives its subscriber */
    ratelimit_free(ratelimit);
    offer_cache_free(offer_cache);
    reply_cache_free(replies); /* after http_server_stop: no connection queues one any more */
    auth_cache_free(auth_cache);
    auth_guard_free(auth_guard);
    store_close(store);
    metrics_free(metrics);
    auth_free(auth);
    return status;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    if (config_parse(&cfg, argc, argv, env_lookup, err, sizeof(err)) != 0) {
        fprintf(stderr, "offerd: %s\n", err);
        config_cleanup(&cfg);
        return 2;
    }
    int status = 0;
    switch (cfg.command) {
    case CONFIG_HELP:
        config_usage(stdout);
        break;
    case CONFIG_VERSION:
        printf("offerd %s (schema version %d)\n", OFFERD_VERSION,
               store_schema_version(cfg.db_path));
        break;
    case CONFIG_MIGRATE:
        status = run_migrate(&cfg);
        break;
    case CONFIG_SERVE:
        status = serve(&cfg);
        break;
    }
    config_cleanup(&cfg);
    return status;
}
