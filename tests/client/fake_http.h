/* fake_http.h - a scriptable HTTP/1.1 server on 127.0.0.1:0, for what a real offerd will not do
 * on demand: 503 with Retry-After, bodies that are not offers, slow answers, proxies that refuse
 * event streams or long-polls, event streams cut into awkward pieces.
 *
 * One thread, one connection at a time, "Connection: close" on every answer. Each request is
 * recorded and answered by the handler the test gives.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_TEST_FAKE_HTTP_H
#define OFFERPOLL_TEST_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_request {
    unsigned index;           /* 0 for the first request */
    int64_t at_ms;            /* monotonic ms when it arrived */
    char method[16];
    char path[256];
    char if_none_match[128];  /* "" when absent */
    char authorization[512];  /* "" when absent */
    char accept[128];         /* "" when absent */
    char last_event_id[64];   /* "" when absent */
};

struct fake_response {
    int status;
    char headers[512];        /* extra header lines, each ending in "\r\n" */
    char body[8192];
    int delay_ms;             /* wait this long before answering */
    char content_type[64];    /* "" is application/json */
    /* A stream: no Content-Length; the body goes out in pieces (split at each '\x01'),
     * piece_delay_ms apart, then the connection stays open for hold_ms (or until the client hangs
     * up) and closes. */
    bool stream;
    int piece_delay_ms;
    int hold_ms;
    bool hang_up;             /* close the connection without answering at all */
};

/* Fills *resp for *req. Runs on the server's thread. */
typedef void (*fake_handler)(const struct fake_request *req, struct fake_response *resp,
                             void *userdata);

struct fake_server;

/* Starts the server; returns NULL on failure. base_url gets "http://127.0.0.1:PORT". */
struct fake_server *fake_server_start(fake_handler handler, void *userdata);

const char *fake_server_url(const struct fake_server *s);

/* Copies request number I (0-based) into *out; returns 0, or -1 when there is none yet. */
int fake_server_request(struct fake_server *s, unsigned i, struct fake_request *out);

/* Requests received so far. */
unsigned fake_server_count(struct fake_server *s);

/* Requests whose client hung up before the (delayed) answer: cancelled requests. */
unsigned fake_server_hangups(struct fake_server *s);

/* Stops the thread, closes the socket and frees. NULL is a no-op. */
void fake_server_stop(struct fake_server *s);

#endif
