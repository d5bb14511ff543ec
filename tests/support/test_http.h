/* test_http.h - one blocking HTTP request with libcurl, for tests.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_HTTP_H
#define OFFERD_TEST_HTTP_H

#include <stddef.h>

#include <jansson.h>

struct http_response {
    long status;     /* 0 when the transfer failed */
    char *headers;   /* raw response header block, NUL-terminated */
    char *body;      /* NUL-terminated; body_len excludes the NUL */
    size_t body_len;
};

/* Sends METHOD URL with extra request headers ("Name: value", NULL-terminated list, may be NULL)
 * and an optional body (NULL for none). Fills *out (caller cleans up with http_response_cleanup).
 * Returns 0 when a response arrived, -1 on a transport failure. */
int http_request(const char *method, const char *url, const char *const *headers,
                 const char *body, struct http_response *out);

/* Like http_request, but gives up after timeout_ms and still reports the status line if one
 * arrived (for endpoints that stream). Returns 0 when a status arrived. */
int http_request_timeout(const char *method, const char *url, const char *const *headers,
                         const char *body, long timeout_ms, struct http_response *out);

/* Writes "Authorization: Bearer TOKEN" into buf: the one place tests build that header. */
const char *http_bearer_header(char *buf, size_t size, const char *token);

/* Sends METHOD BASE+PATH with the bearer header when token is non-NULL, then extra_headers
 * (NULL-terminated, may be NULL), and body (NULL for none). timeout_ms 0 means the default of
 * http_request; otherwise it behaves as http_request_timeout. Returns 0 when a response arrived. */
int http_call(const char *base, const char *method, const char *path, const char *token,
              const char *const *extra_headers, const char *body, long timeout_ms,
              struct http_response *out);

/* GET with an optional bearer token (NULL for none). */
int http_get(const char *url, const char *token, struct http_response *out);

/* GET BASE/metrics and return the value of the sample line "NAME VALUE", or -1 when absent. */
long long http_metric(const char *base, const char *name);

/* Value of the last response header NAME (case-insensitive) copied into buf, or NULL when absent. */
const char *http_header(const struct http_response *r, const char *name, char *buf, size_t size);

/* The body parsed as JSON (new reference: json_decref it); fails the test (cmocka) if it is not. */
json_t *http_body_json(const struct http_response *r);

/* A plain TCP connection to 127.0.0.1:PORT, for tests where the raw bytes are the point.
 * Returns the socket (close it with close()), or -1. */
int http_raw_connect(int port);

void http_response_cleanup(struct http_response *r);

#endif
