/* http.h - one HTTP exchange with offerd on a libcurl easy handle: set up, capture, classify.
 *
 * Every transport (poll, long-poll, SSE) and the synchronous fetch build their requests here, so
 * headers, timeouts, protocol limits and the mapping of statuses and libcurl errors to offerpoll
 * codes live in one place.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_HTTP_H
#define OFFERPOLL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "offerpoll.h"

#define OP_BODY_MAX (1024 * 1024) /* an offer is a few KiB; more than this is not an offer */
#define OP_ETAG_MAX 128
#define OP_MESSAGE_MAX 256
#define OP_RETRY_AFTER_MAX_S 3600 /* longer Retry-After values are taken as an hour */

/* What one request needs to know beyond its URL. Strings are borrowed for the prepare call. */
struct op_request {
    const char *url;
    const char *token;         /* NULL: no Authorization header */
    const char *if_none_match; /* NULL: unconditional */
    const char *accept;        /* NULL: application/json */
    const char *last_event_id; /* NULL: no Last-Event-ID header */
    uint32_t connect_timeout_ms;
    uint32_t request_timeout_ms; /* 0: no limit on the whole request (a stream) */
    uint32_t stall_timeout_ms;   /* 0: none; else the transfer fails after this long without a
                                    byte (a stream's heartbeats keep it alive) */
};

/* An easy handle and what its response brought back. Owned by one watch (or one fetch call). */
struct op_exchange {
    CURL *easy;                 /* created on first prepare, reused for the next requests */
    struct curl_slist *headers; /* request headers of the current request */
    char *body;                 /* NUL-terminated when body_len > 0 */
    size_t body_len, body_cap;
    bool body_too_large;
    bool has_etag;
    char etag[OP_ETAG_MAX];
    char errbuf[CURL_ERROR_SIZE];
};

/* The outcome of a finished exchange. */
struct op_result {
    enum offerpoll_code code;   /* OFFERPOLL_OK for 200 and 304 */
    long http_status;           /* 0 when no response arrived */
    int transport_code;         /* CURLcode, 0 when the transfer worked */
    int64_t retry_after_ms;     /* -1 when the response had no Retry-After */
    char message[OP_MESSAGE_MAX];
};

/* Makes x ready for REQ on its (possibly new) easy handle, with PRIVATE as CURLINFO_PRIVATE.
 * Clears what the last response left. Returns OFFERPOLL_OK, OFFERPOLL_ERR_NO_MEMORY or
 * OFFERPOLL_ERR_INTERNAL. Never blocks. */
enum offerpoll_code op_exchange_prepare(struct op_exchange *x, const struct op_request *req,
                                        void *private_ptr);

/* Classifies the finished transfer (RC as libcurl reported it) into *out. */
void op_exchange_result(struct op_exchange *x, CURLcode rc, struct op_result *out);

/* What a finished GET of an offer brought. */
enum op_outcome {
    OP_OUTCOME_OFFER,        /* a 200 with an offer: *offer is new (offerpoll_offer_free) */
    OP_OUTCOME_NOT_MODIFIED, /* a 304 */
    OP_OUTCOME_FAILED        /* HTTP error, transport error or a body that is not an offer: *r */
};

/* Classifies a finished GET of an offer on X into *R and, for a 200, decodes the body into *OFFER
 * (NULL otherwise). */
enum op_outcome op_exchange_offer(struct op_exchange *x, CURLcode rc, struct op_result *r,
                                  offerpoll_offer **offer);

/* The write and header callbacks op_exchange_prepare installs (USERDATA is the exchange), for a
 * transport that installs its own and hands the bytes it does not want on to them. */
size_t op_exchange_on_body(char *data, size_t size, size_t nmemb, void *userdata);
size_t op_exchange_on_header(char *line, size_t size, size_t nmemb, void *userdata);

/* Releases the easy handle, headers and body. The handle must not be in a multi handle. */
void op_exchange_cleanup(struct op_exchange *x);

/* The code for an HTTP error STATUS (400 -> BAD_REQUEST, ...); OFFERPOLL_OK for 200 and 304. */
enum offerpoll_code op_code_from_http(long status);

/* The code for a failed transfer. */
enum offerpoll_code op_code_from_curl(CURLcode rc);

#endif
