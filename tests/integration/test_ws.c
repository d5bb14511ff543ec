/* test_ws.c - GET /api/ws over real sockets: handshake, protocol, pushes, auth, limits, liveness,
 * slow readers and shutdown, against a real offerd (SQLite here, PostgreSQL as integration_pg/).
 *
 * The client is tests/support/test_ws.c (masked frames on a plain socket). Writes come through
 * the API and from outside (SQL on the test's own connection), as the web app would make them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "offerd_fixture.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_instances.h"
#include "test_seed.h"
#include "test_tokens.h"
#include "test_ws.h"

#define ALLOWED_ORIGIN "https://shop.example"
#define PER_USER_CAP 6

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    char cap[16];
    snprintf(cap, sizeof(cap), "%d", PER_USER_CAP);
    const char *extra[] = {"--cors-origin", ALLOWED_ORIGIN, "--max-held-per-user", cap, NULL};
    return offerd_fixture_start(&fx, extra);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

static int port(void)
{
    return fx.server.port;
}

/* An open, upgraded socket with this token in the Authorization header (NULL: none). */
static struct ws_client *open_ws(const char *token)
{
    struct ws_client *c = NULL;
    struct ws_open_options o = {.token = token};
    assert_int_equal(ws_open(port(), &o, &c, NULL), 101);
    return c;
}

static void send_json(struct ws_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void send_json(struct ws_client *c, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    assert_int_equal(ws_send_text(c, text), 0);
}

/* Waits for a message containing needle and parses it (fails the test if none comes). */
static json_t *expect_msg(struct ws_client *c, const char *needle, int timeout_ms)
{
    char *text = ws_wait_text(c, needle, timeout_ms);
    if (!text)
        fail_msg("no message with %s within %d ms", needle, timeout_ms);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(j);
    return j;
}

/* The version of the offer in an {"type":"offer"} message. */
static long long offer_version(json_t *msg)
{
    return json_integer_value(json_object_get(json_object_get(msg, "offer"), "version"));
}

/* True when nothing but pings arrives for ms. */
static bool quiet_for(struct ws_client *c, int ms)
{
    char *p = NULL;
    size_t n;
    int op = ws_recv(c, ms, &p, &n);
    free(p);
    return op == 0;
}

/* A fresh offer of u_buyer on p_driver, for a test that changes it. */
static void insert_offer(const char *id)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id, expires_at)"
             " VALUES ('%s', 15000, 'p_driver', 'u_buyer', 'u_seller', %lld)",
             id, (long long)time(NULL) * 1000 + 86400000LL);
    assert_int_equal(seed_exec(fx.db, sql), 0);
}

static long long metric(const char *name)
{
    return offerd_fixture_metric(&fx, name);
}

/* ---- the handshake ---- */

static void expect_refusal(const struct ws_open_options *o, int status, const char *header)
{
    struct ws_client *c = NULL;
    char *response = NULL;
    assert_int_equal(ws_open(port(), o, &c, &response), status);
    assert_null(c);
    assert_non_null(response);
    if (header && !strstr(response, header))
        fail_msg("no '%s' in: %s", header, response);
    assert_non_null(strstr(response, "\"error\""));
    free(response);
}

static void test_handshake_refusals(void **state)
{
    (void)state;
    struct ws_open_options bad_key = {.token = fx.buyer, .key = "not-a-key"};
    expect_refusal(&bad_key, 400, NULL);
    struct ws_open_options short_key = {.token = fx.buyer, .key = "AAAAAAAAAAAAAAAA"};
    expect_refusal(&short_key, 400, NULL);
    struct ws_open_options no_version = {.token = fx.buyer, .version = ""};
    expect_refusal(&no_version, 426, "Sec-WebSocket-Version: 13");
    struct ws_open_options old_version = {.token = fx.buyer, .version = "8"};
    expect_refusal(&old_version, 426, "Sec-WebSocket-Version: 13");
    struct ws_open_options no_upgrade = {.token = fx.buyer, .no_upgrade = true};
    expect_refusal(&no_upgrade, 426, NULL);
    struct ws_open_options evil = {.token = fx.buyer, .origin = "https://evil.example"};
    expect_refusal(&evil, 403, NULL);
    char *forged =
        test_token_with_secret(SEED_BUYER_TOKEN_SUB, 3600, "another-secret-0123456789abcdef");
    struct ws_open_options bad_token = {.token = forged};
    expect_refusal(&bad_token, 401, "WWW-Authenticate: Bearer");
    /* the client chose the bearer token: a good cookie beside it does not excuse it */
    char good_cookie[2048];
    snprintf(good_cookie, sizeof(good_cookie), "__session=%s", fx.buyer);
    struct ws_open_options bad_token_good_cookie = {.token = forged, .cookie = good_cookie};
    expect_refusal(&bad_token_good_cookie, 401, "WWW-Authenticate: Bearer");
    free(forged);
    char *expired = test_token(SEED_BUYER_TOKEN_SUB, -120);
    struct ws_open_options old_token = {.token = expired};
    expect_refusal(&old_token, 401, NULL);
    free(expired);
    /* the configured origin, the page's own origin, and a cookie instead of the header */
    struct ws_client *c = NULL;
    struct ws_open_options allowed = {.token = fx.buyer, .origin = ALLOWED_ORIGIN};
    assert_int_equal(ws_open(port(), &allowed, &c, NULL), 101);
    ws_free(c);
    char self[64];
    snprintf(self, sizeof(self), "http://127.0.0.1:%d", port());
    char cookie[2048];
    snprintf(cookie, sizeof(cookie), "theme=dark; __session=%s", fx.buyer);
    struct ws_open_options same_site = {.cookie = cookie, .origin = self};
    assert_int_equal(ws_open(port(), &same_site, &c, NULL), 101);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(c, "\"o_pending\"", 5000));
    ws_free(c);
}

/* ---- subscribing ---- */

static void test_subscribe_sends_current_state(void **state)
{
    (void)state;
    struct ws_client *c = open_ws(fx.buyer);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\",\"o_countered\"]}");
    json_t *a = expect_msg(c, "\"type\":\"offer\"", 5000);
    json_t *b = expect_msg(c, "\"type\":\"offer\"", 5000);
    const char *ia = json_string_value(json_object_get(json_object_get(a, "offer"), "id"));
    const char *ib = json_string_value(json_object_get(json_object_get(b, "offer"), "id"));
    assert_true((strcmp(ia, "o_pending") == 0 && strcmp(ib, "o_countered") == 0) ||
                (strcmp(ia, "o_countered") == 0 && strcmp(ib, "o_pending") == 0));
    assert_int_equal(offer_version(a) > 0, 1);
    /* the whole offer JSON, as GET /api/offers/{id} gives it */
    assert_non_null(json_object_get(json_object_get(a, "offer"), "counterOffers"));
    json_decref(a);
    json_decref(b);
    ws_free(c);
}

static void test_subscribe_with_versions_sends_only_newer(void **state)
{
    (void)state;
    long long vp = offerd_fixture_version(&fx, "o_pending");
    long long vc = offerd_fixture_version(&fx, "o_countered");
    struct ws_client *c = open_ws(fx.buyer);
    send_json(c,
              "{\"type\":\"subscribe\",\"ids\":[\"o_pending\",\"o_countered\"],"
              "\"versions\":{\"o_pending\":%lld,\"o_countered\":%lld}}",
              vp, vc - 1);
    json_t *m = expect_msg(c, "\"type\":\"offer\"", 5000);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "offer"), "id")),
                        "o_countered");
    assert_int_equal(offer_version(m), vc);
    json_decref(m);
    assert_true(quiet_for(c, 700)); /* o_pending: the client has it */
    ws_free(c);
}

/* ---- pushes ---- */

static void test_push_on_api_write(void **state)
{
    (void)state;
    insert_offer("o_ws_api");
    struct ws_client *c = open_ws(fx.buyer);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_ws_api\"]}");
    json_t *m = expect_msg(c, "\"o_ws_api\"", 5000);
    long long v = offer_version(m);
    json_decref(m);
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct http_response r;
    double t0 = test_now_s();
    http_call(fx.server.base_url, "PATCH", "/api/offers/o_ws_api", fx.seller, headers,
              "{\"status\":\"REJECTED\"}", 0, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    m = expect_msg(c, "\"REJECTED\"", 5000);
    assert_true(test_now_s() - t0 < 2.0);
    assert_int_equal(offer_version(m), v + 1);
    json_decref(m);
    ws_free(c);
}

static void test_push_on_outside_write(void **state)
{
    (void)state;
    insert_offer("o_ws_out");
    struct ws_client *c = open_ws(fx.seller);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_ws_out\"]}");
    json_decref(expect_msg(c, "\"o_ws_out\"", 5000));
    struct seed_conn *sc = seed_conn_open(fx.db, false);
    assert_non_null(sc);
    assert_int_equal(
        seed_conn_exec(sc, "UPDATE offers SET message = 'from the web app' WHERE id = 'o_ws_out'"),
        0);
    seed_conn_close(sc);
    json_t *m = expect_msg(c, "from the web app", 5000);
    assert_int_equal(offer_version(m), offerd_fixture_version(&fx, "o_ws_out"));
    json_decref(m);
    ws_free(c);
}

/* ---- who may see what ---- */

static void test_per_offer_errors_and_the_rest_flows(void **state)
{
    (void)state;
    struct ws_client *c = open_ws(fx.stranger);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\",\"o_nowhere\"]}");
    json_t *e403 = expect_msg(c, "\"status\":403", 5000);
    assert_string_equal(json_string_value(json_object_get(e403, "id")), "o_pending");
    assert_string_equal(json_string_value(json_object_get(e403, "type")), "error");
    json_decref(e403);
    ws_free(c);
    c = open_ws(fx.buyer);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_nowhere\",\"o_pending\"]}");
    json_t *e404 = expect_msg(c, "\"status\":404", 5000);
    assert_string_equal(json_string_value(json_object_get(e404, "id")), "o_nowhere");
    json_decref(e404);
    ws_free(c);

    /* A user no longer a party stops receiving that offer; the others keep flowing. */
    insert_offer("o_ws_moved");
    insert_offer("o_ws_kept");
    c = open_ws(fx.buyer);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_ws_moved\",\"o_ws_kept\"]}");
    json_decref(expect_msg(c, "\"o_ws_moved\"", 5000));
    json_decref(expect_msg(c, "\"o_ws_kept\"", 5000));
    assert_int_equal(
        seed_exec(fx.db, "UPDATE offers SET buyer_id = 'u_buyer2' WHERE id = 'o_ws_moved'"), 0);
    json_t *gone = expect_msg(c, "\"status\":403", 5000);
    assert_string_equal(json_string_value(json_object_get(gone, "id")), "o_ws_moved");
    json_decref(gone);
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'still here'"
                                      " WHERE id IN ('o_ws_moved', 'o_ws_kept')"), 0);
    char *text = ws_wait_text(c, "still here", 5000);
    assert_non_null(text);
    assert_non_null(strstr(text, "o_ws_kept"));
    free(text);
    assert_true(quiet_for(c, 700)); /* nothing more about o_ws_moved */
    ws_free(c);
}

/* ---- authentication by message, refresh, expiry ---- */

static void test_auth_message_first(void **state)
{
    (void)state;
    struct ws_client *c = open_ws(NULL);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(c, "\"status\":401", 5000));
    send_json(c, "{\"type\":\"auth\",\"token\":\"%s\"}", fx.buyer);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(c, "\"o_pending\"", 5000));
    ws_free(c);
    /* a bad token in the message closes with 1008 */
    c = open_ws(NULL);
    send_json(c, "{\"type\":\"auth\",\"token\":\"nope\"}");
    assert_int_equal(ws_wait_close(c, 5000, NULL), 1008);
    ws_free(c);
}

/* A browser sends its __session cookie with the upgrade whatever the page holds, and cannot see
 * why an upgrade was refused: a cookie that no longer verifies (expired, or forged) does not
 * refuse the socket, which waits for the page's token in an auth message like one opened
 * without a cookie. (A bad Authorization header is refused: test_handshake_refusals.) */
static void test_stale_cookie_waits_for_auth_message(void **state)
{
    (void)state;
    char *expired = test_token(SEED_BUYER_TOKEN_SUB, -120);
    char *forged =
        test_token_with_secret(SEED_BUYER_TOKEN_SUB, 3600, "another-secret-0123456789abcdef");
    const char *stale[] = {expired, forged};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        char cookie[2048];
        snprintf(cookie, sizeof(cookie), "__session=%s", stale[i]);
        struct ws_open_options opts = {.cookie = cookie};
        struct ws_client *c = NULL;
        assert_int_equal(ws_open(port(), &opts, &c, NULL), 101);
        send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
        json_decref(expect_msg(c, "\"status\":401", 5000)); /* the cookie gave no identity */
        send_json(c, "{\"type\":\"auth\",\"token\":\"%s\"}", fx.buyer);
        send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
        json_decref(expect_msg(c, "\"o_pending\"", 5000));
        ws_free(c);
    }
    free(expired);
    free(forged);
}

static void test_no_auth_in_time_closes_1008(void **state)
{
    (void)state;
    struct ws_client *c = open_ws(NULL);
    double t0 = test_now_s();
    assert_int_equal(ws_wait_close(c, 15000, NULL), 1008);
    double took = test_now_s() - t0;
    assert_true(took > 9.0 && took < 12.5);
    ws_free(c);
}

static void test_token_refresh_and_expiry(void **state)
{
    (void)state;
    /* exp 25 s ago: inside the 30 s leeway, refused 5 s from now; reauth is due at once */
    char *short_lived = test_token(SEED_BUYER_TOKEN_SUB, -25);
    struct ws_client *refreshed = open_ws(short_lived);
    struct ws_client *lapsed = open_ws(short_lived);
    json_decref(expect_msg(refreshed, "\"reauth\"", 3000));
    json_decref(expect_msg(lapsed, "\"reauth\"", 3000));
    char *fresh = test_token(SEED_BUYER_TOKEN_SUB, 3600);
    send_json(refreshed, "{\"type\":\"auth\",\"token\":\"%s\"}", fresh);
    send_json(refreshed, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(refreshed, "\"o_pending\"", 5000));
    double t0 = test_now_s();
    char *reason = NULL;
    assert_int_equal(ws_wait_close(lapsed, 10000, &reason), 1008);
    assert_true(test_now_s() - t0 < 8.0);
    assert_non_null(reason);
    assert_non_null(strstr(reason, "expired"));
    free(reason);
    assert_true(quiet_for(refreshed, 1500)); /* the refreshed one lives on, unclosed */
    /* another user's token cannot take over a socket */
    char *other = test_token(SEED_SELLER_TOKEN_SUB, 3600);
    send_json(refreshed, "{\"type\":\"auth\",\"token\":\"%s\"}", other);
    assert_int_equal(ws_wait_close(refreshed, 5000, NULL), 1008);
    free(other);
    free(fresh);
    free(short_lived);
    ws_free(refreshed);
    ws_free(lapsed);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
    (void)state;
    struct ws_client *c = open_ws(fx.buyer);
    /* bad JSON and unknown types get an error and the socket goes on */
    send_json(c, "{not json");
    json_decref(expect_msg(c, "\"status\":400", 5000));
    send_json(c, "{\"type\":\"dance\"}");
    json_decref(expect_msg(c, "unknown message type", 5000));
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"bad id!\"]}");
    json_decref(expect_msg(c, "malformed offer id", 5000));
    /* at most 64 subscriptions: the 65th gets an error */
    char msg[4096] = "{\"type\":\"subscribe\",\"ids\":[";
    for (int i = 0; i < 65; i++)
        snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s\"o_lim_%d\"", i ? "," : "", i);
    strcat(msg, "]}");
    assert_int_equal(ws_send_text(c, msg), 0);
    json_t *e = expect_msg(c, "too many subscriptions", 5000);
    assert_string_equal(json_string_value(json_object_get(e, "id")), "o_lim_64");
    json_decref(e);
    send_json(c, "{\"type\":\"unsubscribe\",\"ids\":[\"o_pending\"]}");
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(c, "\"o_pending\"", 5000)); /* still served */
    ws_free(c);

    /* a message past 16 KiB: 1009 */
    c = open_ws(fx.buyer);
    size_t big = 20000;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = '\0';
    assert_int_equal(ws_send_text(c, huge), 0);
    free(huge);
    assert_int_equal(ws_wait_close(c, 5000, NULL), 1009);
    ws_free(c);

    /* a binary frame: 1003 */
    c = open_ws(fx.buyer);
    assert_int_equal(ws_send_frame(c, WS_OP_BINARY, "\x01\x02", 2), 0);
    assert_int_equal(ws_wait_close(c, 5000, NULL), 1003);
    ws_free(c);

    /* a flood: 1008 */
    c = open_ws(fx.buyer);
    for (int i = 0; i < 200; i++)
        if (ws_send_text(c, "{\"type\":\"unsubscribe\",\"ids\":[]}") != 0)
            break;
    assert_int_equal(ws_wait_close(c, 5000, NULL), 1008);
    ws_free(c);
    assert_true(metric("offerd_ws_closes_total{reason=\"flood\"}") >= 1);
    assert_true(metric("offerd_ws_closes_total{reason=\"too_big\"}") >= 1);
    assert_true(metric("offerd_ws_closes_total{reason=\"binary\"}") >= 1);
}

/* Sockets count against the caps held long-polls and streams share. */
static void test_caps_shared_with_streams(void **state)
{
    (void)state;
    struct ws_client *c[PER_USER_CAP];
    long long held0 = metric("offerd_held_requests");
    for (int i = 0; i < PER_USER_CAP; i++)
        c[i] = open_ws(fx.seller);
    assert_int_equal(metric("offerd_held_requests"), held0 + PER_USER_CAP);
    struct ws_client *extra = NULL;
    char *response = NULL;
    struct ws_open_options o = {.token = fx.seller};
    assert_int_equal(ws_open(port(), &o, &extra, &response), 429);
    free(response);
    /* one admitted later, by its auth message, is closed with 1013 */
    extra = open_ws(NULL);
    send_json(extra, "{\"type\":\"auth\",\"token\":\"%s\"}", fx.seller);
    assert_int_equal(ws_wait_close(extra, 5000, NULL), 1013);
    ws_free(extra);
    for (int i = 0; i < PER_USER_CAP; i++)
        ws_free(c[i]);
}

/* ---- liveness ---- */

static long long wait_metric_at_least(const char *name, long long want, int timeout_ms)
{
    long long v = -1;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        v = metric(name);
        if (v >= want)
            break;
        test_sleep_ms(100);
    }
    return v;
}

static void test_client_that_vanishes_is_let_go(void **state)
{
    (void)state;
    test_sleep_ms(300); /* sockets of earlier tests are gone */
    long long held0 = metric("offerd_held_requests");
    long long gone0 = metric("offerd_ws_closes_total{reason=\"gone\"}");
    struct ws_client *c = open_ws(fx.buyer);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(c, "\"o_pending\"", 5000));
    assert_int_equal(metric("offerd_held_requests"), held0 + 1);
    ws_free(c); /* no close frame: the TCP connection just ends */
    assert_true(wait_metric_at_least("offerd_ws_closes_total{reason=\"gone\"}", gone0 + 1, 3000) >=
                gone0 + 1);
    assert_int_equal(metric("offerd_held_requests"), held0);
    assert_int_equal(metric("offerd_ws_subscriptions"), 0);
}

static void test_silent_client_is_closed_after_ping_timeout(void **state)
{
    (void)state;
    struct ws_client *live = open_ws(fx.buyer);  /* answers pings */
    struct ws_client *silent = open_ws(fx.buyer);
    ws_set_silent(silent, true);
    double t0 = test_now_s();
    bool ended = false;
    while (!ended && test_now_s() - t0 < 45.0) {
        quiet_for(live, 250); /* reads, and so answers the server's pings */
        ended = ws_wait_eof(silent, 250);
    }
    assert_true(ended);
    double took = test_now_s() - t0;
    assert_true(took > 25.0 && took < 40.0);
    assert_true(metric("offerd_ws_closes_total{reason=\"ping_timeout\"}") >= 1);
    /* the one that answered its pings is still open */
    send_json(live, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(live, "\"o_pending\"", 5000));
    ws_free(live);
    ws_free(silent);
}

/* ---- slow readers ---- */

static void test_slow_reader_gets_the_final_state(void **state)
{
    (void)state;
    insert_offer("o_ws_slow");
    struct ws_open_options o = {.token = fx.buyer, .rcvbuf = 4096};
    struct ws_client *c = NULL;
    assert_int_equal(ws_open(port(), &o, &c, NULL), 101);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_ws_slow\"]}");
    json_decref(expect_msg(c, "\"o_ws_slow\"", 5000));
    /* 60 changes of ~100 KiB each while the client reads nothing */
    enum { WRITES = 60, FILLER = 100000 };
    char *sql = malloc(FILLER + 256);
    assert_non_null(sql);
    for (int i = 0; i < WRITES; i++) {
        int n = snprintf(sql, 256, "UPDATE offers SET message = '%04d:", i);
        memset(sql + n, 'x', FILLER);
        snprintf(sql + n + FILLER, 128, "' WHERE id = 'o_ws_slow'");
        assert_int_equal(seed_exec(fx.db, sql), 0);
    }
    free(sql);
    long long final = offerd_fixture_version(&fx, "o_ws_slow");
    /* now read: versions only go up, and the last one arrives */
    int received = 0;
    long long last = 0;
    for (;;) {
        char *text = ws_wait_text(c, "\"o_ws_slow\"", 10000);
        assert_non_null(text);
        json_t *m = json_loads(text, 0, NULL);
        free(text);
        long long v = offer_version(m);
        json_decref(m);
        assert_true(v > last);
        last = v;
        received++;
        if (v == final)
            break;
    }
    assert_true(received < WRITES); /* coalesced: older unsent versions were replaced */
    ws_free(c);
}

/* A socket that takes no bytes for WS_SEND_STALL_MS (10 s) is dropped and counted. */
static void test_unread_socket_is_dropped(void **state)
{
    (void)state;
    insert_offer("o_ws_stall");
    long long slow0 = metric("offerd_ws_closes_total{reason=\"slow\"}");
    struct ws_open_options o = {.token = fx.buyer, .rcvbuf = 4096};
    struct ws_client *c = NULL;
    assert_int_equal(ws_open(port(), &o, &c, NULL), 101);
    send_json(c, "{\"type\":\"subscribe\",\"ids\":[\"o_ws_stall\"]}");
    json_decref(expect_msg(c, "\"o_ws_stall\"", 5000));
    /* ~200 KiB versions until the kernel's buffers (4 MiB at most) and the queue are full */
    enum { FILLER = 200000 };
    char *sql = malloc(FILLER + 256);
    assert_non_null(sql);
    double t0 = test_now_s();
    long long slow = slow0;
    for (int i = 0; slow <= slow0 && test_now_s() - t0 < 40.0; i++) {
        if (i < 60) {
            int n = snprintf(sql, 256, "UPDATE offers SET message = '%04d:", i);
            memset(sql + n, 'y', FILLER);
            snprintf(sql + n + FILLER, 128, "' WHERE id = 'o_ws_stall'");
            assert_int_equal(seed_exec(fx.db, sql), 0);
        }
        test_sleep_ms(100);
        slow = metric("offerd_ws_closes_total{reason=\"slow\"}");
    }
    free(sql);
    assert_true(slow > slow0);
    ws_free(c);
}

/* ---- shutdown (its own server) ---- */

static void test_shutdown_closes_1001_with_retry_hint(void **state)
{
    (void)state;
    struct ws_client *subscribed = open_ws(fx.buyer);
    send_json(subscribed, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}");
    json_decref(expect_msg(subscribed, "\"o_pending\"", 5000));
    struct ws_client *anonymous = open_ws(NULL);
    kill(fx.server.pid, SIGTERM);
    char *reason = NULL;
    assert_int_equal(ws_wait_close(subscribed, 5000, &reason), 1001);
    json_t *r = json_loads(reason ? reason : "", 0, NULL);
    assert_non_null(r);
    json_int_t retry = json_integer_value(json_object_get(r, "retryMs"));
    assert_true(retry >= 1000 && retry <= 5000);
    json_decref(r);
    free(reason);
    reason = NULL; /* a socket still waiting for its token gets the same hint */
    assert_int_equal(ws_wait_close(anonymous, 5000, &reason), 1001);
    assert_non_null(reason);
    assert_non_null(strstr(reason, "\"retryMs\":"));
    free(reason);
    assert_true(ws_wait_eof(subscribed, 5000));
    ws_free(subscribed);
    ws_free(anonymous);
}

/* ---- two instances on one database (a SQLite file, or PostgreSQL as integration_pg/) ---- */

static struct test_instances two;

static int setup_two(void **state)
{
    (void)state;
    return test_instances_start(&two, 2, NULL);
}

static int teardown_two(void **state)
{
    (void)state;
    return test_instances_stop(&two);
}

/* A write answered by one instance reaches a WebSocket held by the other (through the change log
 * and, on PostgreSQL, the LISTEN/NOTIFY wake-up), as it does SSE and long-polls. */
static void test_write_on_another_instance_reaches_subscribers(void **state)
{
    (void)state;
    struct ws_client *c = NULL;
    struct ws_open_options o = {.token = two.buyer};
    assert_int_equal(ws_open(two.p[0].port, &o, &c, NULL), 101);
    assert_int_equal(ws_send_text(c, "{\"type\":\"subscribe\",\"ids\":[\"o_pending\"]}"), 0);
    json_t *m = expect_msg(c, "\"o_pending\"", 5000);
    long long v = offer_version(m);
    json_decref(m);
    struct test_write w = test_offer_decide(&two.p[1], two.seller, "o_pending", "REJECTED");
    assert_int_equal(w.status, 200);
    m = expect_msg(c, "\"REJECTED\"", 5000);
    assert_int_equal(offer_version(m), v + 1);
    assert_int_equal(offer_version(m), w.version);
    json_decref(m);
    ws_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_refusals),
        cmocka_unit_test(test_subscribe_sends_current_state),
        cmocka_unit_test(test_subscribe_with_versions_sends_only_newer),
        cmocka_unit_test(test_push_on_api_write),
        cmocka_unit_test(test_push_on_outside_write),
        cmocka_unit_test(test_per_offer_errors_and_the_rest_flows),
        cmocka_unit_test(test_auth_message_first),
        cmocka_unit_test(test_stale_cookie_waits_for_auth_message),
        cmocka_unit_test(test_no_auth_in_time_closes_1008),
        cmocka_unit_test(test_token_refresh_and_expiry),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_caps_shared_with_streams),
        cmocka_unit_test(test_client_that_vanishes_is_let_go),
        cmocka_unit_test(test_silent_client_is_closed_after_ping_timeout),
        cmocka_unit_test(test_slow_reader_gets_the_final_state),
        cmocka_unit_test(test_unread_socket_is_dropped),
    };
    const struct CMUnitTest instances[] = {
        cmocka_unit_test(test_write_on_another_instance_reaches_subscribers),
    };
    const struct CMUnitTest shutdown[] = {
        cmocka_unit_test(test_shutdown_closes_1001_with_retry_hint),
    };
    int failed = cmocka_run_group_tests_name("ws", tests, setup, teardown);
    failed += cmocka_run_group_tests_name("ws_two_instances", instances, setup_two, teardown_two);
    failed += cmocka_run_group_tests_name("ws_shutdown", shutdown, setup, teardown);
    return failed;
}
