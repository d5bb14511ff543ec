/* reply.c - build, decorate and queue MHD responses; the one place statuses become bytes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/reply_cache.h"
#include "util/config.h"
#include "util/log.h"
#include "domain/offer_codec.h"
#include "store/store.h"

static const char json_content_type[] = "application/json; charset=utf-8";

static void add_cors(struct request *r, struct MHD_Response *resp)
{
    const struct config *cfg = r->app->config;
    if (cfg->cors_origin_count == 0)
        return;
    MHD_add_response_header(resp, "Vary", "Origin");
    const char *origin = request_header(r, "Origin");
    if (!config_cors_allows(cfg, origin))
        return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers", "ETag, Retry-After");
}

/* A response with body (stolen: freed when sent) and the common, extra and CORS headers; NULL
 * (body freed, logged) when libmicrohttpd cannot make one. */
static struct MHD_Response *build_response(struct request *r, const char *content_type,
                                           char *body, size_t len,
                                           const struct reply_header *headers,
                                           size_t header_count)
{
    struct MHD_Response *resp =
        body ? MHD_create_response_from_buffer_with_free_callback(len, body, free)
             : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        log_error("cannot create a response for %s %s", r->method_name, r->path);
        return NULL;
    }
    if (content_type && len)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < header_count; i++)
        MHD_add_response_header(resp, headers[i].name, headers[i].value);
    add_cors(r, resp);
    return resp;
}

/* Records on r what was answered, for the log line and the metrics. */
static void mark_responded(struct request *r, unsigned status, size_t len)
{
    r->responded = true;
    r->status = status;
    r->bytes = r->method == HTTP_HEAD ? 0 : len;
}

/* Queues resp (not consumed) as r's answer; false, logged, when libmicrohttpd refuses it. */
static bool queue(struct request *r, unsigned status, struct MHD_Response *resp, size_t len)
{
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES) {
        log_error("cannot queue a %u response for %s %s", status, r->method_name, r->path);
        return false;
    }
    mark_responded(r, status, len);
    return true;
}

void reply_send(struct request *r, unsigned status, const char *content_type, char *body,
                size_t len, const struct reply_header *headers, size_t header_count)
{
    if (r->responded) {
        free(body);
        return;
    }
    struct MHD_Response *resp = build_response(r, content_type, body, len, headers, header_count);
    if (!resp)
        return;
    queue(r, status, resp, len);
    MHD_destroy_response(resp);
}

void reply_offer_json(struct request *r, unsigned status, char *json, size_t len,
                      const char *etag)
{
    struct reply_header h[2] = {{"Cache-Control", "private, no-cache"}, {"ETag", etag}};
    reply_send(r, status, json_content_type, json, len, h, etag ? 2 : 1);
}

/* Which CORS headers r earns: none or a refused origin's (0), or those of allowed origin i (i + 1). */
static int cors_variant(struct request *r)
{
    const struct config *cfg = r->app->config;
    return cfg->cors_origin_count ? config_cors_index(cfg, request_header(r, "Origin")) + 1 : 0;
}

bool reply_shared_offer_json(struct request *r, const char *etag)
{
    size_t len = 0;
    if (r->responded ||
        !reply_cache_queue(r->app->replies, r->conn, 200, etag, cors_variant(r), &len))
        return false;
    mark_responded(r, 200, len);
    return true;
}

void reply_offer_json_shared(struct request *r, char *json, size_t len, const char *etag)
{
    if (r->responded) {
        free(json);
        return;
    }
    struct reply_header h[2] = {{"Cache-Control", "private, no-cache"}, {"ETag", etag}};
    struct MHD_Response *resp = build_response(r, json_content_type, json, len, h, 2);
    if (!resp)
        return;
    queue(r, 200, resp, len);
    reply_cache_put(r->app->replies, 200, etag, cors_variant(r), resp, len); /* for the next */
}

void reply_not_modified(struct request *r, const char *etag)
{
    /* libmicrohttpd 0.9.75 adds "Content-Length: 0" to a 304 and offers no way to leave it out.
     * The 200's length would be the RFC 9110 ideal, but clients such as wrk then wait for a body
     * that never comes; caches ignore Content-Length on a 304 (RFC 9111 3.2), so 0 is harmless. */
    struct reply_header h[2] = {{"Cache-Control", "private, no-cache"}, {"ETag", etag}};
    reply_send(r, 304, NULL, NULL, 0, h, 2);
}

void reply_error_with(struct request *r, unsigned status, const char *message,
                      const struct reply_header *headers, size_t header_count)
{
    size_t len = 0;
    char *body = error_body_text(message, &len);
    struct reply_header h[8];
    size_t n = 0;
    h[n++] = (struct reply_header){"Cache-Control", "no-store"};
    for (size_t i = 0; i < header_count && n < sizeof(h) / sizeof(h[0]); i++)
        h[n++] = headers[i];
    reply_send(r, status, json_content_type, body, body ? len : 0, h, n);
}

void reply_error(struct request *r, unsigned status, const char *message)
{
    reply_error_with(r, status, message, NULL, 0);
}

void reply_error_now_and_close(struct request *r, unsigned status, const char *message)
{
    if (r->responded)
        return;
    size_t body_len = 0;
    char *body = error_body_text(message, &body_len);
    const struct config *cfg = r->app->config;
    const char *origin = request_header(r, "Origin");
    bool cors = config_cors_allows(cfg, origin); /* an exact configured value: safe to echo */
    char head[1024];
    const char *reason = MHD_get_reason_phrase_for(status);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %u %s\r\n"
                     "Content-Type: %s\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s%s%s%s"
                     "Connection: close\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     status, reason ? reason : "", json_content_type,
                     cfg->cors_origin_count ? "Vary: Origin\r\n" : "",
                     cors ? "Access-Control-Allow-Origin: " : "", cors ? origin : "",
                     cors ? "\r\nAccess-Control-Allow-Credentials: true\r\n"
                            "Access-Control-Expose-Headers: ETag, Retry-After\r\n"
                          : "",
                     body ? body_len : 0);
    int fd = request_socket_fd(r);
    if (n > 0 && (size_t)n < sizeof(head) && fd >= 0) {
        /* Nothing else is being written: no response is under way while a request arrives. A
         * few hundred bytes fit an empty send buffer; what does not fit is lost with the
         * connection. The FIN goes right after, before MHD closes the socket. */
        (void)send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT | (body ? MSG_MORE : 0));
        if (body)
            (void)send(fd, body, body_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(fd, SHUT_WR);
    }
    r->responded = true;
    r->status = status;
    r->bytes = body ? body_len : 0;
    free(body);
}

void reply_unauthorized(struct request *r, const char *message, int token_given)
{
    struct reply_header h = {"WWW-Authenticate",
                             token_given ? "Bearer error=\"invalid_token\"" : "Bearer"};
    reply_error_with(r, 401, message, &h, 1);
}

void reply_busy(struct request *r)
{
    struct reply_header h = {"Retry-After", "1"};
    reply_error_with(r, 503, "the database is busy; retry shortly", &h, 1);
}

bool reply_store_failure(struct request *r, enum store_result sr, const char *not_found)
{
    struct reply_header later = {"Retry-After", "5"};
    switch (sr) {
    case STORE_OK:
        return false;
    case STORE_NOT_FOUND:
        reply_error(r, 404, not_found);
        return true;
    case STORE_BUSY:
        reply_busy(r);
        return true;
    case STORE_UNAVAILABLE:
        reply_error_with(r, 503, "the database is unavailable right now; retry later",
                         &later, 1);
        return true;
    case STORE_BAD_ROW: /* logged by the store with the row and column */
        reply_error(r, 500, "a stored row has an id that is not [A-Za-z0-9_-]{1,64}, so it "
                            "cannot be served; the server log says which");
        return true;
    case STORE_CONFLICT:
    case STORE_ERROR:
        break;
    }
    reply_error(r, 500, "internal error");
    return true;
}

void reply_preflight(struct request *r, const char *allow)
{
    struct reply_header h[6];
    size_t n = 0;
    h[n++] = (struct reply_header){"Allow", allow};
    const char *origin = request_header(r, "Origin");
    if (config_cors_allows(r->app->config, origin)) {
        h[n++] = (struct reply_header){"Access-Control-Allow-Methods", allow};
        h[n++] = (struct reply_header){
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, If-None-Match, If-Match, Last-Event-ID"};
        h[n++] = (struct reply_header){"Access-Control-Max-Age", "600"};
    }
    reply_send(r, 204, NULL, NULL, 0, h, n);
}

void reply_queue_stream(struct request *r, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    add_cors(r, resp);
    if (MHD_queue_response(r->conn, 200, resp) == MHD_YES) {
        r->responded = true;
        r->status = 200;
    } else {
        log_error("cannot queue a stream for %s %s", r->method_name, r->path);
    }
}
