/* http_server.c - the libmicrohttpd daemon and the life of one request in it.
 *
 * A pool of worker threads, each with its own epoll set (select() fails past fd 1024), an idle
 * timeout so silent clients are reaped and a total deadline per request (conn_deadline.h) so
 * trickling ones are too, suspend/resume allowed so held requests will cost no thread. Before any
 * handler runs, a request whose framing a proxy could read differently is refused (http_head.h).
 * Request bodies are accumulated here, capped, never through MHD's form PostProcessor. Routing
 * goes through the table app->routes (api/routes.c, handed over by main.c): this file names no
 * handler and no transport. Whatever state a handler or transport left on the request is
 * released in one place, the completed callback (request_release_state). The listening socket
 * is offerd's own (listener.c), so that to stop accepting at shutdown never races the workers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/config.h"
#include "http/conn_deadline.h"
#include "http/epoll_batch.h"
#include "http/http_head.h"
#include "http/listener.h"
#include "util/log.h"
#include "util/metrics.h"
#include "http/reply.h"
#include "util/clock.h"

struct http_server {
    struct MHD_Daemon *daemon;
    struct listener *listener;  /* NULL once quiesced */
    struct app *app;
    struct conn_deadlines *deadlines;
    uint16_t port;
};

/* The Cookie field put first in every request's list (see on_request_line). Not empty: on an
 * empty value libmicrohttpd's cookie parser reads the byte before its copy (valgrind sees it). */
static const char cookie_decoy_name[] = MHD_HTTP_HEADER_COOKIE;
static const char cookie_decoy_value[] = "-";

static bool method_has_body(enum http_method m)
{
    return m == HTTP_POST || m == HTTP_PATCH || m == HTTP_PUT;
}

static struct request *request_alloc(struct http_server *s, struct MHD_Connection *conn)
{
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->app = s->app;
    r->conn = conn;
    r->start_us = clock_monotonic_us();
    metrics_request_started(s->app->metrics);
    return r;
}

/* Fills in what the access handler's first call knows: method, path, route. */
static void request_init(struct http_server *s, struct request *r, const char *url,
                         const char *method)
{
    r->method_name = method;
    r->method = http_method_parse(method);
    r->path = url;
    /* HEAD is answered as GET; MHD leaves the body out. */
    enum http_method routed = r->method == HTTP_HEAD ? HTTP_GET : r->method;
    r->route_status = router_match(s->app->routes, s->app->route_count, routed, url, &r->match);
}

static struct conn_clock *clock_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? conn_deadlines_open(s->deadlines, ci->connect_fd) : NULL;
    } else { /* called before MHD closes the socket: the clock goes first */
        conn_deadlines_close(s->deadlines, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's URI log callback: the request line is in, the header fields are not yet. What
 * it returns becomes *req_cls. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    conn_clock_request_line(s->deadlines, clock_of(conn));
    struct request *r = request_alloc(s, conn);
    if (!r)
        return NULL;
    r->framing_error = http_head_check_target(uri); /* as sent, before percent-decoding */
    r->target_end = uri + strlen(uri); /* in place in the read buffer, '?' not yet cut off */
    /* libmicrohttpd 0.9.75 splits the first Cookie field into MHD_COOKIE_KIND values once the head
     * is in, and answers 431 itself when that fails: "Cookie: a=\"" (a value of one quote) fails,
     * and any sibling subdomain can set such a cookie. No option turns that parser off, and a
     * larger pool does not help. It parses the first Cookie field only: this decoy, added
     * before the client's fields are read. offerd reads the client's Cookie itself
     * (request_header, auth.c) and never uses MHD_COOKIE_KIND. Safe here: adding a value only
     * takes a record from the connection's pool, as the header parser itself does. */
    MHD_set_connection_value(conn, MHD_HEADER_KIND, cookie_decoy_name, cookie_decoy_value);
    return r;
}

static enum MHD_Result walk_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    if (key != cookie_decoy_name)
        http_head_check_field(cls, key, key_size, value, value_size);
    return MHD_YES;
}

/* Checks the request head as libmicrohttpd left it in memory, from the method (its first byte)
 * over the header size it reports. Returns NULL or a reason for a 400; finds r->cookie. */
static const char *head_problem(struct request *r, const char *method, const char *version)
{
    if (r->framing_error)
        return r->framing_error;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!ci || strncmp(version, "HTTP/1.", 7) != 0 || version[7] < '0' || version[7] > '9')
        return "malformed request head";
    /* libmicrohttpd ends the target at the one space before the version, which it overwrites with
     * a NUL; a target that ends anywhere else held a raw NUL byte, and everything after it (say
     * "/events") would be routed as if it were not there. */
    if (r->target_end + 1 != version)
        return "NUL byte in the request target";
    struct http_head_check check;
    http_head_check_begin(&check, version, strlen(version));
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, walk_field, &check);
    const char *reason = http_head_check_end(&check, method + ci->header_size, version[7] - '0');
    r->cookie = check.cookie;
    return reason;
}

/* Reads a declared Content-Length; -1 when absent or unparsable. */
static long long declared_length(struct request *r)
{
    const char *v = request_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v)
        return -1;
    char *end;
    long long n = strtoll(v, &end, 10);
    return (end == v || *end) ? -1 : n;
}

static void append_body(struct request *r, const char *data, size_t size)
{
    size_t max = r->app->config->max_body_bytes;
    if (r->body_too_large || r->body_len + size > max) {
        r->body_too_large = true;
        return;
    }
    char *nb = realloc(r->body, r->body_len + size + 1);
    if (!nb) {
        r->body_too_large = true; /* answered 500 below would be wrong; 413 is the safe refusal */
        return;
    }
    memcpy(nb + r->body_len, data, size);
    r->body_len += size;
    nb[r->body_len] = '\0';
    r->body = nb;
}

static void dispatch(struct request *r)
{
    switch (r->route_status) {
    case ROUTE_NOT_FOUND:
        reply_error(r, 404, "no such resource");
        return;
    case ROUTE_METHOD_NOT_ALLOWED:
        if (r->method == HTTP_OPTIONS) {
            reply_preflight(r, r->match.allow);
        } else {
            struct reply_header h = {"Allow", r->match.allow};
            reply_error_with(r, 405, "method not allowed", &h, 1);
        }
        return;
    case ROUTE_BAD_ID:
        reply_error(r, 400, "malformed offer id: expected 1-64 of A-Z a-z 0-9 _ -");
        return;
    case ROUTE_FOUND:
        if (r->body_too_large) {
            reply_error(r, 413, "request body too large");
            return;
        }
        r->suspended = false;
        r->match.route->handler(r);
        if (!r->responded && !r->suspended) {
            log_error("handler for %s %s answered nothing", r->method_name, r->path);
            reply_error(r, 500, "internal error");
        }
        return;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct http_server *s = cls;
    struct request *r = *req_cls;
    if (!r || !r->method_name) { /* the first call: the head is in, no body yet */
        if (!r && !(r = request_alloc(s, conn))) {
            log_error("out of memory for a request: connection dropped");
            return MHD_NO;
        }
        *req_cls = r;
        request_init(s, r, url, method);
        const char *problem = head_problem(r, method, version);
        if (problem) {
            /* Answered in the first call, so MHD reads no body and closes after (RFC 9112 6.3). */
            struct reply_header h = {"Connection", "close"};
            reply_error_with(r, 400, problem, &h, 1);
        } else if (method_has_body(r->method) && r->route_status == ROUTE_FOUND &&
                   declared_length(r) > (long long)s->app->config->max_body_bytes) {
            /* Refuse a declared oversized body before reading any of it. */
            r->body_too_large = true;
            reply_error(r, 413, "request body too large");
        }
        if (r->responded)
            conn_clock_request_complete(s->deadlines, clock_of(conn));
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->responded)
            append_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (r->body_too_large && !r->responded) {
            /* Past --max-body in a chunked body: answer now rather than read on to its end.
             * MHD 0.9.75 queues no response while a body is arriving, so this one is written
             * on the socket and the connection dropped. */
            reply_error_now_and_close(r, 413, "request body too large");
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (!r->responded) {
        if (!conn_clock_request_complete(s->deadlines, clock_of(conn)))
            return MHD_NO; /* cut off for being late; a 408 was written */
        dispatch(r);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct http_server *s = cls;
    struct conn_clock *clock = clock_of(conn);
    struct request *r = *req_cls;
    if (r && conn_clock_was_cut(s->deadlines, clock) && !r->responded)
        r->status = 408;
    conn_clock_next_request(s->deadlines, clock);
    if (!r)
        return;
    if (!r->method_name && !r->status) {
        /* libmicrohttpd refused the head itself (431, 413...) before the access handler ran. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        r->status = ci ? ci->http_status : 0;
    }
    int64_t duration = clock_monotonic_us() - r->start_us;
    size_t route = r->match.route ? r->match.route_index : metrics_route_none(s->app->metrics);
    request_release_state(r); /* the one place per-request state is let go */
    metrics_request_finished(s->app->metrics, route, r->status, duration);
    log_request(r->method_name ? r->method_name : "-", r->path ? r->path : "-", r->status,
                duration, r->bytes);
    free(r->body);
    free(r);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* A client that leaves in the middle of a stream is normal life for SSE, not an error. */
    if (strncmp(msg, "Failed to send", 14) == 0)
        return;
    /* offerd's own MHD_NO: a 413 written mid-body, a request cut off late; each is logged. */
    if (strncmp(msg, "Application reported internal error", 35) == 0)
        return;
    log_error("libmicrohttpd: %s", msg);
}

static unsigned default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 2;
}

struct http_server *http_server_start(struct app *app, char *err, size_t err_size)
{
    const struct config *cfg = app->config;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    /* No listening socket of MHD's own: listener.c accepts and hands connections over, waking
     * the chosen worker through its inter-thread channel (ITC). */
    /* MHD_ALLOW_UPGRADE: GET /api/ws hands its socket to realtime/ws_loop.c. */
    epoll_batch_keep_linked(); /* libmicrohttpd's full-batch freeze (http/epoll_batch.h) */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC |
                     MHD_ALLOW_UPGRADE;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    socklen_t addr_len;
    if (inet_pton(AF_INET, cfg->bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->port);
        addr_len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, cfg->bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->port);
        addr_len = sizeof(*a6);
    } else {
        snprintf(err, err_size, "--bind: '%s' is not an IPv4 or IPv6 address", cfg->bind);
        return NULL;
    }
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->app = app;
    char why[256];
    s->listener = listener_open((struct sockaddr *)&addr, addr_len, why, sizeof(why));
    if (!s->listener) {
        snprintf(err, err_size, "cannot listen on %s port %d (in use, or not allowed): %s",
                 cfg->bind, cfg->port, why);
        free(s);
        return NULL;
    }
    s->port = listener_port(s->listener);
    s->deadlines = conn_deadlines_new(cfg->request_timeout_s);
    if (!s->deadlines) {
        snprintf(err, err_size, "out of memory (or threads) for the request deadline checker");
        listener_close(s->listener);
        free(s);
        return NULL;
    }
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : default_threads();
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first, so it sees every message */
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_memory,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s,
        MHD_OPTION_END);
    if (!s->daemon || listener_start(s->listener, s->daemon, err, err_size) != 0) {
        if (!s->daemon)
            snprintf(err, err_size, "cannot start the HTTP server (out of memory or threads)");
        else
            MHD_stop_daemon(s->daemon);
        listener_close(s->listener);
        conn_deadlines_free(s->deadlines);
        free(s);
        return NULL;
    }
    return s;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_quiesce(struct http_server *s)
{
    if (!s)
        return;
    /* Not MHD_quiesce_daemon: it aborts the process when a worker is awake at the time
     * (listener.c says why). */
    listener_close(s->listener);
    s->listener = NULL;
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    listener_close(s->listener); /* first: no connection is handed to a stopped daemon */
    MHD_stop_daemon(s->daemon);  /* closes every connection, and so every clock */
    conn_deadlines_free(s->deadlines);
    free(s);
}
