/* handlers_ops.c - /healthz, /readyz and /metrics; no authentication, nothing about offers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_guard.h"
#include "realtime/bus.h"
#include "util/metrics.h"
#include "view/offer_cache.h"
#include "realtime/notify.h"
#include "http/reply.h"
#include "realtime/sse.h"
#include "realtime/ws.h"
#include "store/store.h"

static void reply_static_json(struct request *r, unsigned status, const char *text)
{
    char *body = strdup(text);
    struct reply_header h = {"Cache-Control", "no-store"};
    reply_send(r, status, "application/json; charset=utf-8", body, body ? strlen(body) : 0, &h,
               1);
}

void handle_healthz(struct request *r)
{
    reply_static_json(r, 200, "{\"status\":\"ok\"}");
}

void handle_readyz(struct request *r)
{
    char why[128];
    if (store_check_ready(r->app->store, why, sizeof(why)) != STORE_OK) {
        struct reply_header h = {"Retry-After", "1"};
        reply_error_with(r, 503, why, &h, 1);
        return;
    }
    struct bus_stats bs = {0};
    struct bus *bus = notify_bus(r->app->notify);
    if (bus)
        bus_get_stats(bus, &bs);
    /* Redis down costs latency, not correctness (the log is read periodically): still ready. */
    reply_static_json(r, 200, bus && !bs.subscribed
                                  ? "{\"status\":\"ready\",\"degraded\":\"redis bus down\"}"
                                  : "{\"status\":\"ready\"}");
}

/* Appends block (n bytes) to *text; false, *text freed, when out of memory. */
static bool append_block(char **text, size_t *len, const char *block, size_t n)
{
    char *all = realloc(*text, *len + n + 1);
    if (!all) {
        free(*text);
        return false;
    }
    memcpy(all + *len, block, n + 1);
    *text = all;
    *len += n;
    return true;
}

/* The streams' pending-event buffers, appended to *text (freed on failure). */
static bool append_sse_buffers(char **text, size_t *len)
{
    size_t allocated = 0, peak = 0;
    sse_buffer_stats(&allocated, &peak);
    char block[512];
    int n = snprintf(block, sizeof(block),
                     "# HELP offerd_sse_buffer_bytes Pending-event buffers of all SSE streams "
                     "now.\n"
                     "# TYPE offerd_sse_buffer_bytes gauge\n"
                     "offerd_sse_buffer_bytes %zu\n"
                     "# HELP offerd_sse_buffer_peak_bytes The largest buffer one SSE stream has "
                     "held since start.\n"
                     "# TYPE offerd_sse_buffer_peak_bytes gauge\n"
                     "offerd_sse_buffer_peak_bytes %zu\n",
                     allocated, peak);
    return append_block(text, len, block, (size_t)n);
}

/* The WebSocket hub's figures (realtime/ws.h), appended to *text (freed on failure). */
static bool append_ws_stats(struct ws_hub *hub, char **text, size_t *len)
{
    struct ws_stats ws;
    ws_hub_get_stats(hub, &ws);
    char block[4096];
    int n = snprintf(block, sizeof(block),
                     "# HELP offerd_ws_open WebSockets open now.\n"
                     "# TYPE offerd_ws_open gauge\n"
                     "offerd_ws_open %zu\n"
                     "# HELP offerd_ws_unauthenticated Of those, waiting for their auth message.\n"
                     "# TYPE offerd_ws_unauthenticated gauge\n"
                     "offerd_ws_unauthenticated %zu\n"
                     "# HELP offerd_ws_subscriptions Offers subscribed over all WebSockets.\n"
                     "# TYPE offerd_ws_subscriptions gauge\n"
                     "offerd_ws_subscriptions %zu\n"
                     "# HELP offerd_ws_opened_total WebSockets upgraded since start.\n"
                     "# TYPE offerd_ws_opened_total counter\n"
                     "offerd_ws_opened_total %llu\n"
                     "# HELP offerd_ws_messages_sent_total Messages queued to WebSockets (offers, "
                     "errors, reauth).\n"
                     "# TYPE offerd_ws_messages_sent_total counter\n"
                     "offerd_ws_messages_sent_total %llu\n"
                     "# HELP offerd_ws_offers_coalesced_total Offer changes folded into a send "
                     "still pending (a slow reader gets only the latest).\n"
                     "# TYPE offerd_ws_offers_coalesced_total counter\n"
                     "offerd_ws_offers_coalesced_total %llu\n"
                     "# HELP offerd_ws_closes_total WebSockets closed, by reason.\n"
                     "# TYPE offerd_ws_closes_total counter\n",
                     ws.open, ws.unauthenticated, ws.subscriptions, (unsigned long long)ws.opened,
                     (unsigned long long)ws.messages_sent,
                     (unsigned long long)ws.offers_coalesced);
    for (int i = 0; i < WS_CLOSE_REASON_COUNT && n > 0 && (size_t)n < sizeof(block); i++)
        n += snprintf(block + n, sizeof(block) - (size_t)n,
                      "offerd_ws_closes_total{reason=\"%s\"} %llu\n", ws_close_reason_name(i),
                      (unsigned long long)ws.closes[i]);
    return append_block(text, len, block, (size_t)n);
}

/* A shared database's figures (PostgreSQL), appended to *text (freed on failure); nothing for a
 * backend without them (SQLite). */
static bool append_store_stats(struct store *store, char **text, size_t *len)
{
    struct store_stats st;
    store_get_stats(store, &st);
    if (!st.available)
        return true;
    char block[1024];
    int n = snprintf(block, sizeof(block),
                     "# HELP offerd_store_reconnects_total Database connections re-established "
                     "after one was lost (the change listener's included).\n"
                     "# TYPE offerd_store_reconnects_total counter\n"
                     "offerd_store_reconnects_total %llu\n"
                     "# HELP offerd_store_feed_lag_seconds How far the change feed is behind: "
                     "the age of the newest change its last read delivered, or, while reads "
                     "fail, the time since one worked (0: caught up).\n"
                     "# TYPE offerd_store_feed_lag_seconds gauge\n"
                     "offerd_store_feed_lag_seconds %.3f\n"
                     "# HELP offerd_store_notify_queue_usage PostgreSQL's NOTIFY queue in use, "
                     "0 to 1 (pg_notification_queue_usage()).\n"
                     "# TYPE offerd_store_notify_queue_usage gauge\n"
                     "offerd_store_notify_queue_usage %.6f\n",
                     (unsigned long long)st.reconnects, (double)st.feed_lag_ms / 1000.0,
                     st.notify_queue_usage);
    return append_block(text, len, block, (size_t)n);
}

/* The Redis bus's figures, appended to *text (freed on failure); nothing without a bus. */
static bool append_bus_stats(struct bus *bus, char **text, size_t *len)
{
    if (!bus)
        return true;
    struct bus_stats bs;
    bus_get_stats(bus, &bs);
    char block[2048];
    int n = snprintf(
        block, sizeof(block),
        "# HELP offerd_bus_up 1 while subscribed to the Redis bus, 0 while reconnecting.\n"
        "# TYPE offerd_bus_up gauge\n"
        "offerd_bus_up %d\n"
        "# HELP offerd_bus_publisher_up 1 when the last publish reached Redis (0 before "
        "the first).\n"
        "# TYPE offerd_bus_publisher_up gauge\n"
        "offerd_bus_publisher_up %d\n"
        "# HELP offerd_bus_reconnects_total Redis subscriptions made again after one was lost.\n"
        "# TYPE offerd_bus_reconnects_total counter\n"
        "offerd_bus_reconnects_total %llu\n"
        "# HELP offerd_bus_messages_received_total Well-formed bus messages received.\n"
        "# TYPE offerd_bus_messages_received_total counter\n"
        "offerd_bus_messages_received_total %llu\n"
        "# HELP offerd_bus_messages_rejected_total Malformed bus messages received and ignored.\n"
        "# TYPE offerd_bus_messages_rejected_total counter\n"
        "offerd_bus_messages_rejected_total %llu\n"
        "# HELP offerd_bus_messages_published_total Bus messages Redis accepted from here.\n"
        "# TYPE offerd_bus_messages_published_total counter\n"
        "offerd_bus_messages_published_total %llu\n"
        "# HELP offerd_bus_publish_dropped_total Changes not published (queue full or Redis "
        "unreachable); other instances still read them from the log.\n"
        "# TYPE offerd_bus_publish_dropped_total counter\n"
        "offerd_bus_publish_dropped_total %llu\n",
        bs.subscribed ? 1 : 0, bs.publisher_up ? 1 : 0, (unsigned long long)bs.reconnects,
        (unsigned long long)bs.received, (unsigned long long)bs.rejected,
        (unsigned long long)bs.published, (unsigned long long)bs.publish_dropped);
    return append_block(text, len, block, (size_t)n);
}

void handle_metrics(struct request *r)
{
    size_t len = 0;
    char *text = metrics_render(r->app->metrics, &len);
    struct notify_stats ns;
    notify_get_stats(r->app->notify, &ns);
    char held[4096];
    int n = snprintf(held, sizeof(held),
                     "# HELP offerd_held_requests Long-polls, SSE streams, WebSockets held now.\n"
                     "# TYPE offerd_held_requests gauge\n"
                     "offerd_held_requests %zu\n"
                     "# HELP offerd_notify_keys Offers and users notify remembers now.\n"
                     "# TYPE offerd_notify_keys gauge\n"
                     "offerd_notify_keys %zu\n"
                     "# HELP offerd_notify_idle_keys Of those, keys no request waits on.\n"
                     "# TYPE offerd_notify_idle_keys gauge\n"
                     "offerd_notify_idle_keys %zu\n"
                     "# HELP offerd_notify_users Users with a held request.\n"
                     "# TYPE offerd_notify_users gauge\n"
                     "offerd_notify_users %zu\n"
                     "# HELP offerd_notify_keys_evicted_total Idle keys notify has forgotten.\n"
                     "# TYPE offerd_notify_keys_evicted_total counter\n"
                     "offerd_notify_keys_evicted_total %llu\n"
                     "# HELP offerd_held_clients_gone_total Held requests ended because their "
                     "client disconnected.\n"
                     "# TYPE offerd_held_clients_gone_total counter\n"
                     "offerd_held_clients_gone_total %llu\n",
                     ns.held, ns.keys, ns.idle_keys, ns.users,
                     (unsigned long long)ns.keys_evicted, (unsigned long long)ns.clients_gone);
    struct auth_guard_stats gs;
    auth_guard_get_stats(r->app->auth_guard, &gs);
    n += snprintf(held + n, sizeof(held) - (size_t)n,
                  "# HELP offerd_auth_failures_total Tokens refused (bad signature, expired, "
                  "malformed...), verified or recalled.\n"
                  "# TYPE offerd_auth_failures_total counter\n"
                  "offerd_auth_failures_total %llu\n"
                  "# HELP offerd_auth_failed_token_cache_hits_total Of those, tokens refused from "
                  "the memory of recent failures, without a signature check.\n"
                  "# TYPE offerd_auth_failed_token_cache_hits_total counter\n"
                  "offerd_auth_failed_token_cache_hits_total %llu\n"
                  "# HELP offerd_auth_throttled_total Requests answered 429 because their address "
                  "had too many failed authentications.\n"
                  "# TYPE offerd_auth_throttled_total counter\n"
                  "offerd_auth_throttled_total %llu\n",
                  (unsigned long long)gs.failures, (unsigned long long)gs.recalled,
                  (unsigned long long)gs.throttled);
    struct offer_cache_stats cs;
    offer_cache_get_stats(r->app->offer_cache, &cs);
    n += snprintf(held + n, sizeof(held) - (size_t)n,
                  "# HELP offerd_offer_cache_entries Rendered offers cached now.\n"
                  "# TYPE offerd_offer_cache_entries gauge\n"
                  "offerd_offer_cache_entries %zu\n"
                  "# HELP offerd_offer_cache_hits_total Offer reads answered from the cache.\n"
                  "# TYPE offerd_offer_cache_hits_total counter\n"
                  "offerd_offer_cache_hits_total %llu\n"
                  "# HELP offerd_offer_cache_misses_total Offer reads that read the database and "
                  "rendered.\n"
                  "# TYPE offerd_offer_cache_misses_total counter\n"
                  "offerd_offer_cache_misses_total %llu\n",
                  cs.entries, (unsigned long long)cs.hits, (unsigned long long)cs.misses);
    char *all = text ? realloc(text, len + (size_t)n + 1) : NULL;
    if (!all) {
        free(text);
        reply_error(r, 500, "internal error");
        return;
    }
    memcpy(all + len, held, (size_t)n + 1);
    text = all;
    len += (size_t)n;
    if (!append_sse_buffers(&text, &len) || !append_ws_stats(r->app->ws_hub, &text, &len) ||
        !append_store_stats(r->app->store, &text, &len) ||
        !append_bus_stats(notify_bus(r->app->notify), &text, &len)) {
        reply_error(r, 500, "internal error");
        return;
    }
    struct reply_header h = {"Cache-Control", "no-store"};
    reply_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, &h, 1);
}
