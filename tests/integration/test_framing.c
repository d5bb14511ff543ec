/* test_framing.c - hostile HTTP on raw sockets against a real offerd (issue 19 items 2-5, 8).
 *
 * Request heads a proxy in front could frame differently (RFC 9112 6.1, 6.3) are answered 400
 * once, with Connection: close, and the connection is closed, before any handler runs, so nothing
 * smuggled behind them is ever read as a request. A malformed cookie costs nothing. A chunked body
 * past --max-body is answered 413 at once, not read to its end. A client trickling its request is
 * cut off by --request-timeout however steadily it sends.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    return offerd_fixture_start(&fx, NULL);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

/* Sends len bytes; false if the peer refused them. */
static bool raw_send(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        off += (size_t)n;
    }
    return true;
}

struct raw_reply {
    char text[8192]; /* what the server sent, NUL-terminated (NULs inside shown as '.') */
    bool closed;     /* the server closed the connection within the wait */
};

/* Reads until the server closes or wait_ms pass with nothing more. */
static void raw_read(int fd, int wait_ms, struct raw_reply *out)
{
    size_t len = 0;
    out->closed = false;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, wait_ms) <= 0)
            break;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            out->closed = true;
            break;
        }
        for (ssize_t i = 0; i < n && len + 1 < sizeof(out->text); i++)
            out->text[len++] = buf[i] ? buf[i] : '.';
    }
    out->text[len] = '\0';
}

/* One connection: sends raw (len bytes), reads what comes back. */
static void exchange(const char *raw, size_t len, struct raw_reply *out)
{
    int fd = http_raw_connect(fx.server.port);
    assert_true(fd >= 0);
    raw_send(fd, raw, len);
    raw_read(fd, 3000, out);
    close(fd);
}

static size_t count(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Exactly one answer, a 400 that says the connection closes, and the connection closed. */
static void assert_refused_once(const char *raw, size_t len)
{
    struct raw_reply r;
    exchange(raw, len, &r);
    if (strncmp(r.text, "HTTP/1.1 400 ", 13) != 0 || count(r.text, "HTTP/1.1 4") != 1 ||
        !strstr(r.text, "Connection: close\r\n") || !r.closed)
        fail_msg("for %.60s...: closed=%d, got:\n%s", raw, r.closed, r.text);
}

static void assert_refused(const char *raw)
{
    assert_refused_once(raw, strlen(raw));
}

static long offer_version(const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT version FROM offers WHERE id = '%s'", id);
    return (long)seed_query_int(fx.db, sql, -1);
}

/* ---- item 3: framing a proxy could read differently ---- */

static void test_two_content_lengths_refused(void **state)
{
    (void)state;
    /* libmicrohttpd took the first (0) and read the "body" as a second request. */
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                   "Content-Length: 40\r\n\r\n"
                   "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                   "Content-Length: 2\r\n\r\n{}");
}

static void test_content_length_with_chunked_refused(void **state)
{
    (void)state;
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 5\r\n\r\n0\r\n\r\n");
}

static void test_unknown_or_folded_transfer_encoding_refused(void **state)
{
    (void)state;
    /* Each of these used to hang: libmicrohttpd read the body up to the peer's close. */
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n{}");
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\n"
                   "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n");
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   " , identity\r\n\r\n0\r\n\r\n");
    /* Folded: a proxy unfolding it sees chunked; libmicrohttpd glued it onto the name and read
     * the Content-Length framing instead. */
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n"
                   "Content-Length: 2\r\n\r\n{}");
    assert_refused("POST /api/offers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
                   "0\r\n\r\n");
    assert_refused("POST /api/offers HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
}

static void test_bare_cr_and_nul_in_headers_refused(void **state)
{
    (void)state;
    assert_refused("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\rContent-Length: 5\r\n\r\n");
    static const char nul_inside[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\0junk\r\n\r\n";
    assert_refused_once(nul_inside, sizeof(nul_inside) - 1);
    static const char nul_end[] = "GET /healthz HTTP/1.1\r\nHost: x\0\r\n\r\n";
    assert_refused_once(nul_end, sizeof(nul_end) - 1);
}

static void test_http11_without_host_refused(void **state)
{
    (void)state;
    assert_refused("GET /healthz HTTP/1.1\r\n\r\n");
    assert_refused("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    /* HTTP/1.0 needs none. */
    struct raw_reply r;
    const char *ok = "GET /healthz HTTP/1.0\r\n\r\n";
    exchange(ok, strlen(ok), &r);
    assert_true(strncmp(r.text, "HTTP/1.1 200 ", 13) == 0);
}

static void test_encoded_nul_and_slash_in_path_refused(void **state)
{
    (void)state;
    long before = offer_version("o_pending");
    assert_true(before >= 1);
    char raw[4096];
    /* Decoded, the path was cut at the NUL: /api/offers/o_pending, the PATCH handler. */
    static const char body[] = "{\"status\":\"REJECTED\"}";
    const char *paths[] = {"/api/offers/o_pending%00/counter", "/api/offers/o_pending%00",
                           "/api/offers/o_pending%2fx", "/api/offers/o_pending?x=%00"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(raw, sizeof(raw),
                 "PATCH %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 paths[i], fx.seller, strlen(body), body);
        assert_refused(raw);
    }
    /* A raw NUL byte, not encoded: the path was cut there and routed to another handler (the
     * PATCH of the offer, GET /healthz for "/healthz\0/x"). */
    static const char raw_nul[] = "PATCH /api/offers/o_pending\0/counter HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Type: application/json\r\nContent-Length: 21\r\n\r\n"
                                  "{\"status\":\"REJECTED\"}";
    assert_refused_once(raw_nul, sizeof(raw_nul) - 1);
    static const char raw_nul_get[] = "GET /healthz\0/x HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_refused_once(raw_nul_get, sizeof(raw_nul_get) - 1);
    assert_int_equal(offer_version("o_pending"), before);
    struct http_response r;
    char url[512];
    snprintf(url, sizeof(url), "%s/api/offers/o_pending", fx.server.base_url);
    assert_int_equal(http_get(url, fx.buyer, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"PENDING\""));
    http_response_cleanup(&r);
}

static void test_plain_requests_still_served_on_one_connection(void **state)
{
    (void)state;
    /* Keep-alive, a pipelined second request, bare LF lines, a chunked body: all as before. */
    char raw[4096];
    snprintf(raw, sizeof(raw),
             "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: theme=dark; b=\"q\"\r\n\r\n"
             "GET /api/offers/o_pending HTTP/1.1\nHost: x\nAuthorization: Bearer %s\n\n"
             "PATCH /api/offers/o_countered HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json; charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\n{\"sta\r\n10\r\ntus\":\"NOPE\"}    \r\n0\r\n\r\n",
             fx.buyer, fx.seller);
    struct raw_reply r;
    exchange(raw, strlen(raw), &r);
    assert_int_equal(count(r.text, "HTTP/1.1 200 "), 2);
    assert_int_equal(count(r.text, "HTTP/1.1 400 "), 1); /* NOPE is not a status: the handler ran */
    assert_non_null(strstr(r.text, "status must be"));
    assert_false(r.closed);
}

/* ---- item 4: a malformed cookie costs nothing ---- */

static void test_lone_quote_cookie_harmless(void **state)
{
    (void)state;
    char raw[4096];
    struct raw_reply r;
    const char *health = "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: a=\"\r\n\r\n";
    exchange(health, strlen(health), &r);
    if (strncmp(r.text, "HTTP/1.1 200 ", 13) != 0)
        fail_msg("got:\n%s", r.text);
    snprintf(raw, sizeof(raw),
             "GET /api/offers/o_pending HTTP/1.1\r\nHost: x\r\nCookie: a=\"\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             fx.buyer);
    exchange(raw, strlen(raw), &r);
    assert_true(strncmp(r.text, "HTTP/1.1 200 ", 13) == 0);
    /* The session cookie next to it still signs the user in. */
    snprintf(raw, sizeof(raw),
             "GET /api/offers/o_pending HTTP/1.1\r\nHost: x\r\nCookie: __session=%s; a=\"\r\n\r\n",
             fx.buyer);
    exchange(raw, strlen(raw), &r);
    assert_true(strncmp(r.text, "HTTP/1.1 200 ", 13) == 0);
    /* And without any credential it is a plain 401, not 431. */
    const char *anon = "GET /api/offers/o_pending HTTP/1.1\r\nHost: x\r\nCookie: x=\"\r\n\r\n";
    exchange(anon, strlen(anon), &r);
    assert_true(strncmp(r.text, "HTTP/1.1 401 ", 13) == 0);
}

/* ---- item 8: charset ---- */

static void test_charset_other_than_utf8_refused(void **state)
{
    (void)state;
    long before = seed_query_int(fx.db, "SELECT count(*) FROM offers", -1);
    char raw[4096];
    static const char body[] = "{\"productId\":\"p_driver\",\"amount\":160}";
    const char *types[] = {"application/json; charset=iso-8859-1", "application/json;charset=\"utf-16\""};
    for (size_t i = 0; i < 2; i++) {
        snprintf(raw, sizeof(raw),
                 "POST /api/offers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                 fx.buyer, types[i], strlen(body), body);
        struct raw_reply r;
        exchange(raw, strlen(raw), &r);
        if (strncmp(r.text, "HTTP/1.1 415 ", 13) != 0 || !strstr(r.text, "charset"))
            fail_msg("for %s got:\n%s", types[i], r.text);
    }
    assert_int_equal(seed_query_int(fx.db, "SELECT count(*) FROM offers", -1), before);
}

/* ---- item 5: a chunked body past --max-body ---- */

static void test_chunked_body_past_max_body_answered_at_once(void **state)
{
    (void)state;
    enum { CHUNK = 4096, GIVE_UP = 64 << 20, BOUND = 8 << 20 };
    int fd = http_raw_connect(fx.server.port);
    assert_true(fd >= 0);
    char head[2048];
    snprintf(head, sizeof(head),
             "POST /api/offers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
             fx.buyer);
    assert_true(raw_send(fd, head, strlen(head)));
    static char chunk[CHUNK + 16];
    int n = snprintf(chunk, sizeof(chunk), "%x\r\n", CHUNK);
    memset(chunk + n, ' ', CHUNK);
    memcpy(chunk + n + CHUNK, "\r\n", 2);
    size_t chunk_len = (size_t)n + CHUNK + 2;
    /* Send until the server stops us; it used to read and discard all 64 MiB, then answer. */
    size_t sent = 0;
    struct raw_reply r = {.closed = false};
    r.text[0] = '\0';
    int64_t until = test_now_ms() + 20000;
    while (sent < GIVE_UP && test_now_ms() < until) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0)
            break;
        if (!raw_send(fd, chunk, chunk_len))
            break;
        sent += CHUNK;
    }
    raw_read(fd, 3000, &r);
    close(fd);
    if (sent >= BOUND)
        fail_msg("the server read %zu bytes of a body capped at 16384", sent);
    /* The 413 arrives unless the reset overtakes it; the connection is closed either way. */
    if (r.text[0] && strncmp(r.text, "HTTP/1.1 413 ", 13) != 0)
        fail_msg("got:\n%s", r.text);
    assert_true(r.closed || r.text[0] == '\0');
    struct http_response ok;
    char url[512];
    snprintf(url, sizeof(url), "%s/healthz", fx.server.base_url);
    assert_int_equal(http_get(url, NULL, &ok), 0);
    assert_int_equal(ok.status, 200);
    http_response_cleanup(&ok);
}

/* ---- item 2: a total deadline per request ---- */

static void test_trickling_clients_are_cut_off(void **state)
{
    (void)state;
    enum { TRICKLERS = 12 };
    char db[600];
    assert_int_equal(test_db_new(fx.dir, "trickle.db", db, sizeof(db)), 0);
    const char *extra[] = {"--request-timeout", "2", "--idle-timeout", "5",
                           "--max-connections", "16", NULL};
    struct offerd_proc p;
    assert_int_equal(offerd_start(&p, db, extra), 0);
    assert_int_equal(seed_fixture(db), 0);
    int fds[TRICKLERS];
    bool closed[TRICKLERS] = {false};
    char seen[TRICKLERS][256];
    /* Header lines, request-line bytes, and body bytes, each sent well inside the idle timeout. */
    for (int i = 0; i < TRICKLERS; i++) {
        fds[i] = http_raw_connect(p.port);
        assert_true(fds[i] >= 0);
        seen[i][0] = '\0';
        const char *start = i % 3 == 0   ? "GET /healthz HTTP/1.1\r\n"
                            : i % 3 == 1 ? "G"
                                         : "POST /api/offers HTTP/1.1\r\nHost: x\r\n"
                                           "Content-Type: application/json\r\n"
                                           "Content-Length: 10000\r\n\r\n";
        assert_true(raw_send(fds[i], start, strlen(start)));
    }
    int64_t t0 = test_now_ms();
    size_t open = TRICKLERS;
    while (open && test_now_ms() - t0 < 12000) {
        for (int i = 0; i < TRICKLERS; i++) {
            if (closed[i])
                continue;
            const char *more = i % 3 == 0 ? "X-Slow: 1\r\n" : i % 3 == 1 ? "E" : " ";
            struct pollfd pf = {fds[i], POLLIN, 0};
            if (poll(&pf, 1, 0) > 0 || !raw_send(fds[i], more, strlen(more))) {
                struct raw_reply r;
                raw_read(fds[i], 1000, &r);
                snprintf(seen[i], sizeof(seen[i]), "%.255s", r.text);
                closed[i] = true;
                open--;
            }
        }
        test_sleep_ms(300);
    }
    int64_t took = test_now_ms() - t0;
    for (int i = 0; i < TRICKLERS; i++)
        close(fds[i]);
    if (open)
        fail_msg("%zu of %d trickling clients still open after %lld ms", open, TRICKLERS,
                 (long long)took);
    /* Deadline 2 s, checked twice a second: all gone well before the 12 s bound. */
    assert_true(took < 8000);
    for (int i = 0; i < TRICKLERS; i++)
        if (seen[i][0] && strncmp(seen[i], "HTTP/1.1 408 ", 13) != 0)
            fail_msg("trickler %d got:\n%s", i, seen[i]);
    /* A well-behaved client is served, on a connection that then sits idle past the deadline
     * (idle is the idle timeout's business, not the request deadline's) and is used again. */
    int fd = http_raw_connect(p.port);
    assert_true(fd >= 0);
    const char *health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct raw_reply r;
    assert_true(raw_send(fd, health, strlen(health)));
    raw_read(fd, 500, &r);
    assert_true(strncmp(r.text, "HTTP/1.1 200 ", 13) == 0);
    test_sleep_ms(3000);
    assert_true(raw_send(fd, health, strlen(health)));
    raw_read(fd, 500, &r);
    assert_true(strncmp(r.text, "HTTP/1.1 200 ", 13) == 0);
    close(fd);
    /* A complete request has no deadline: a long-poll held twice as long is answered as usual. */
    struct http_response lp;
    int64_t held_from = test_now_ms();
    assert_int_equal(http_call(p.base_url, "GET", "/api/offers/o_pending?since=99&wait=4", fx.buyer,
                               NULL, NULL, 15000, &lp), 0);
    assert_int_equal(lp.status, 304);
    assert_true(test_now_ms() - held_from >= 3500);
    http_response_cleanup(&lp);
    char *log = test_read_file(p.log_path);
    assert_non_null(log);
    assert_non_null(strstr(log, " 408 "));
    free(log);
    assert_int_equal(offerd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_content_lengths_refused),
        cmocka_unit_test(test_content_length_with_chunked_refused),
        cmocka_unit_test(test_unknown_or_folded_transfer_encoding_refused),
        cmocka_unit_test(test_bare_cr_and_nul_in_headers_refused),
        cmocka_unit_test(test_http11_without_host_refused),
        cmocka_unit_test(test_encoded_nul_and_slash_in_path_refused),
        cmocka_unit_test(test_plain_requests_still_served_on_one_connection),
        cmocka_unit_test(test_lone_quote_cookie_harmless),
        cmocka_unit_test(test_charset_other_than_utf8_refused),
        cmocka_unit_test(test_chunked_body_past_max_body_answered_at_once),
        cmocka_unit_test(test_trickling_clients_are_cut_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
