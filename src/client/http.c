/* http.c - one HTTP exchange with offerd on a libcurl easy handle.
 *
 * The easy handle of a watch is reused from request to request (its options stay set; only the
 * headers change), while the multi handle's connection cache keeps the TCP connection alive, so
 * steady polling costs one small request on an open connection.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"

size_t op_exchange_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct op_exchange *x = userdata;
    size_t n = size * nmemb;
    if (x->body_len + n > OP_BODY_MAX) {
        x->body_too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->body_len + n + 1 > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : 4096;
        while (cap < x->body_len + n + 1)
            cap *= 2;
        char *body = realloc(x->body, cap);
        if (!body)
            return 0;
        x->body = body;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, n);
    x->body_len += n;
    x->body[x->body_len] = '\0';
    return n;
}

/* Keeps the ETag of the final response (a new status line forgets an earlier one). */
size_t op_exchange_on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct op_exchange *x = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        x->has_etag = false;
        return n;
    }
    if (n < 5 || strncasecmp(line, "etag:", 5) != 0)
        return n;
    const char *v = line + 5, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t len = (size_t)(end - v);
    if (len > 0 && len < sizeof x->etag) {
        memcpy(x->etag, v, len);
        x->etag[len] = '\0';
        x->has_etag = true;
    }
    return n;
}

static enum offerpoll_code append_header(struct curl_slist **list, const char *name,
                                         const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (!line)
        return OFFERPOLL_ERR_NO_MEMORY;
    snprintf(line, len, "%s: %s", name, value);
    struct curl_slist *next = curl_slist_append(*list, line);
    /* the line holds the token: wipe it before letting go */
    memset(line, 0, len);
    free(line);
    if (!next)
        return OFFERPOLL_ERR_NO_MEMORY;
    *list = next;
    return OFFERPOLL_OK;
}

static enum offerpoll_code set_options(struct op_exchange *x, const struct op_request *req,
                                       void *private_ptr)
{
    CURL *e = x->easy;
    CURLcode rc = CURLE_OK;
    /* Each assignment keeps the first failure: option setting either all works or reports. */
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)req->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, (long)req->request_timeout_ms);
    /* A stall is "less than a byte a second for N whole seconds" (libcurl's low-speed check). */
    SET(CURLOPT_LOW_SPEED_LIMIT, req->stall_timeout_ms ? 1L : 0L);
    SET(CURLOPT_LOW_SPEED_TIME, (long)((req->stall_timeout_ms + 999) / 1000));
    SET(CURLOPT_HTTPHEADER, x->headers);
    SET(CURLOPT_WRITEFUNCTION, op_exchange_on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, op_exchange_on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_USERAGENT, "libofferpoll/" OFFERPOLL_VERSION);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_PRIVATE, private_ptr);
#undef SET
    return rc == CURLE_OK ? OFFERPOLL_OK : OFFERPOLL_ERR_INTERNAL;
}

enum offerpoll_code op_exchange_prepare(struct op_exchange *x, const struct op_request *req,
                                        void *private_ptr)
{
    if (!x->easy) {
        x->easy = curl_easy_init();
        if (!x->easy)
            return OFFERPOLL_ERR_INTERNAL;
    }
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    x->body_len = 0;
    x->body_too_large = false;
    x->has_etag = false;
    x->errbuf[0] = '\0';

    enum offerpoll_code code =
        append_header(&x->headers, "Accept", req->accept ? req->accept : "application/json");
    if (code == OFFERPOLL_OK && req->token) {
        size_t len = strlen(req->token) + 8;
        char *bearer = malloc(len);
        if (!bearer)
            return OFFERPOLL_ERR_NO_MEMORY;
        snprintf(bearer, len, "Bearer %s", req->token);
        code = append_header(&x->headers, "Authorization", bearer);
        memset(bearer, 0, len);
        free(bearer);
    }
    if (code == OFFERPOLL_OK && req->if_none_match)
        code = append_header(&x->headers, "If-None-Match", req->if_none_match);
    if (code == OFFERPOLL_OK && req->last_event_id)
        code = append_header(&x->headers, "Last-Event-ID", req->last_event_id);
    if (code != OFFERPOLL_OK)
        return code;
    return set_options(x, req, private_ptr);
}

void op_exchange_result(struct op_exchange *x, CURLcode rc, struct op_result *out)
{
    *out = (struct op_result){.retry_after_ms = -1};
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);

    if (rc != CURLE_OK) {
        out->transport_code = (int)rc;
        if (x->body_too_large) {
            out->code = OFFERPOLL_ERR_BAD_RESPONSE;
            out->http_status = status;
            snprintf(out->message, sizeof out->message, "response body larger than %d bytes",
                     OP_BODY_MAX);
            return;
        }
        out->code = op_code_from_curl(rc);
        snprintf(out->message, sizeof out->message, "%s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
        return;
    }

    out->http_status = status;
    out->code = op_code_from_http(status);
    if (out->code == OFFERPOLL_OK)
        return;

    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
        retry_after > 0)
        out->retry_after_ms = retry_after > OP_RETRY_AFTER_MAX_S ? OP_RETRY_AFTER_MAX_S * 1000
                                                                 : (int64_t)retry_after * 1000;
    char detail[OP_MESSAGE_MAX - 32];
    op_decode_error_message(x->body, x->body_len, detail, sizeof detail);
    if (detail[0])
        snprintf(out->message, sizeof out->message, "HTTP %ld: %s", status, detail);
    else
        snprintf(out->message, sizeof out->message, "HTTP %ld", status);
}

enum op_outcome op_exchange_offer(struct op_exchange *x, CURLcode rc, struct op_result *r,
                                  offerpoll_offer **offer)
{
    *offer = NULL;
    op_exchange_result(x, rc, r);
    if (r->code != OFFERPOLL_OK)
        return OP_OUTCOME_FAILED;
    if (r->http_status == 304)
        return OP_OUTCOME_NOT_MODIFIED;
    char why[OP_MESSAGE_MAX - 32];
    r->code = op_decode_offer(x->body ? x->body : "", x->body_len, x->has_etag ? x->etag : NULL,
                              offer, why, sizeof why);
    if (r->code != OFFERPOLL_OK) {
        snprintf(r->message, sizeof r->message, "HTTP %ld: %s", r->http_status, why);
        return OP_OUTCOME_FAILED;
    }
    return OP_OUTCOME_OFFER;
}

void op_exchange_cleanup(struct op_exchange *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    *x = (struct op_exchange){0};
}

enum offerpoll_code op_code_from_http(long status)
{
    switch (status) {
    case 200:
    case 304:
        return OFFERPOLL_OK;
    case 400:
        return OFFERPOLL_ERR_BAD_REQUEST;
    case 401:
        return OFFERPOLL_ERR_UNAUTHORIZED;
    case 403:
        return OFFERPOLL_ERR_FORBIDDEN;
    case 404:
        return OFFERPOLL_ERR_NOT_FOUND;
    case 429:
        return OFFERPOLL_ERR_RATE_LIMITED;
    default:
        return status >= 500 && status <= 599 ? OFFERPOLL_ERR_SERVER : OFFERPOLL_ERR_HTTP;
    }
}

enum offerpoll_code op_code_from_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return OFFERPOLL_OK;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return OFFERPOLL_ERR_BAD_URL;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return OFFERPOLL_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return OFFERPOLL_ERR_TIMEOUT;
    case CURLE_OUT_OF_MEMORY:
        return OFFERPOLL_ERR_NO_MEMORY;
    default:
        return OFFERPOLL_ERR_TRANSPORT;
    }
}
