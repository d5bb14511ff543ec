/* test_notify_keys.c - notify forgets what nobody watches, and answers stay right after it does.
 *
 * A real offerd with thousands of offers: watchers come and go, outside writes churn through more
 * offers than notify keeps idle keys for, and /metrics shows the key table back under its bound.
 * Then polls, long-polls and streams of offers whose keys were forgotten must still be exact: no
 * 304 for a changed offer, a hold woken by the next change, a stream resumed from Last-Event-ID.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "realtime/notify.h"
#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_sse.h"
#include "test_tokens.h"

#define CAP NOTIFY_MAX_IDLE_KEYS_DEFAULT   /* the server runs with the default */
#define CHURN (CAP + 1000)                  /* offers one churn rewrites: more than CAP */
#define WATCHED 64                          /* o_w00..o_w63, watched then left */

static struct offerd_fixture fx;
static int churns; /* how many times churn() ran: each writes a new message */

/* Waits (bounded: 10 s, for slow runs under valgrind) until offerd counts `want` held requests. */
static void wait_held_at(long long want, int line)
{
    long long held = -1;
    for (int i = 0; i < 400 && (held = offerd_fixture_metric(&fx, "offerd_held_requests")) != want; i++)
        test_sleep_ms(25);
    if (held != want)
        print_message("line %d: %lld held, expected %lld\n", line, held, want);
    assert_int_equal(held, want);
}
#define wait_held(want) wait_held_at((want), __LINE__)

static void outside_write(const char *id, const char *message)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = '%s' WHERE id = '%s'", message, id);
    assert_int_equal(seed_exec(fx.db, sql), 0);
}

struct held {
    char path[256];
    char extra[256];
    const char *token;
    long status;
    double took;
    char *body;
};

static void *held_get(void *arg)
{
    struct held *h = arg;
    struct http_response r;
    double t0 = test_now_s();
    offerd_fixture_get(&fx, h->path, h->token, h->extra[0] ? h->extra : NULL, &r);
    h->took = test_now_s() - t0;
    h->status = r.status;
    h->body = r.body ? strdup(r.body) : NULL;
    http_response_cleanup(&r);
    return NULL;
}

/* Rewrites CHURN offers (outside writes), then the sentinel, and returns once a long-poll on the
 * sentinel has been woken: the change log was published up to there, so every key not touched
 * since CAP + 1 newer ones were is forgotten. Needs nothing else held (held keys stay). */
static void churn(void)
{
    struct http_response r;
    offerd_fixture_get(&fx, "/api/offers/o_sentinel", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    char etag[128];
    assert_non_null(http_header(&r, "ETag", etag, sizeof(etag)));
    http_response_cleanup(&r);
    struct held h = {.token = fx.buyer};
    snprintf(h.path, sizeof(h.path), "/api/offers/o_sentinel?wait=30");
    snprintf(h.extra, sizeof(h.extra), "If-None-Match: %s", etag);
    /* A request answered a moment ago may still be counted until offerd finishes it. */
    wait_held(0);
    pthread_t t;
    pthread_create(&t, NULL, held_get, &h);
    wait_held(1);
    char sql[512];
    churns++;
    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "UPDATE offers SET message = 'churn %d' WHERE id >= 'o_c0' AND id < 'o_c1';"
             "UPDATE offers SET message = 'churn %d' WHERE id = 'o_sentinel';"
             "COMMIT;",
             churns, churns);
    assert_int_equal(seed_exec(fx.db, sql), 0);
    pthread_join(t, NULL);
    assert_int_equal(h.status, 200);
    free(h.body);
    wait_held(0);
}

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--sse-heartbeat", "1", NULL};
    if (offerd_fixture_start(&fx, extra) != 0)
        return -1;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < %d)"
             " INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
             " SELECT %s, 15000, 'p_driver', 'u_buyer', 'u_seller' FROM n;"
             "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < %d)"
             " INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
             " SELECT %s, 15000, 'p_driver', 'u_buyer', 'u_seller' FROM n;"
             "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id)"
             " VALUES ('o_sentinel', 15000, 'p_driver', 'u_buyer', 'u_seller');"
             "COMMIT;",
             CHURN - 1, test_sql("printf('o_c%05d', x)", "'o_c' || lpad(x::text, 5, '0')"),
             WATCHED - 1, test_sql("printf('o_w%02d', x)", "'o_w' || lpad(x::text, 2, '0')"));
    return seed_exec(fx.db, sql);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx);
}

static void test_keys_bounded_after_watchers_leave(void **state)
{
    (void)state;
    churn();
    long long keys = offerd_fixture_metric(&fx, "offerd_notify_keys");
    assert_true(keys > 0 && keys <= CAP); /* CHURN + WATCHED + more offers were published */
    assert_int_equal(offerd_fixture_metric(&fx, "offerd_notify_idle_keys"), keys);
    assert_true(offerd_fixture_metric(&fx, "offerd_notify_keys_evicted_total") >= CHURN - CAP);

    /* Watchers on WATCHED offers: one ?ids= stream and 8 long-polls. Their keys are kept. */
    char url[1024];
    size_t n = (size_t)snprintf(url, sizeof(url), "%s/api/offers/events?ids=",
                                fx.server.base_url);
    for (int i = 0; i < WATCHED; i++)
        n += (size_t)snprintf(url + n, sizeof(url) - n, "%so_w%02d", i ? "," : "", i);
    struct sse_reader *s = sse_open(url, fx.buyer, NULL);
    for (int i = 0; i < 100 && sse_count(s, "event: offer") < WATCHED; i++)
        test_sleep_ms(50);
    assert_int_equal(sse_count(s, "event: offer"), WATCHED);
    struct held lp[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        lp[i] = (struct held){.token = fx.seller};
        char id[16];
        snprintf(id, sizeof(id), "o_w%02d", i);
        snprintf(lp[i].path, sizeof(lp[i].path), "/api/offers/%s?since=%lld&wait=3", id,
                 offerd_fixture_version(&fx, id));
        pthread_create(&t[i], NULL, held_get, &lp[i]);
    }
    wait_held(9);
    assert_true(offerd_fixture_metric(&fx, "offerd_notify_keys") - offerd_fixture_metric(&fx, "offerd_notify_idle_keys") >= WATCHED);
    assert_int_equal(offerd_fixture_metric(&fx, "offerd_notify_users"), 2);

    /* They leave: the stream closes, the long-polls end with their 304s. */
    sse_close(s);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(lp[i].status, 304);
        assert_true(lp[i].took >= 2.5);
        free(lp[i].body);
    }
    wait_held(0); /* the closed stream is noticed at its next heartbeat */
    assert_int_equal(offerd_fixture_metric(&fx, "offerd_notify_users"), 0);
    assert_int_equal(offerd_fixture_metric(&fx, "offerd_notify_idle_keys"), offerd_fixture_metric(&fx, "offerd_notify_keys"));

    /* More distinct offers change than idle keys are kept: the table stays under its bound. */
    long long evicted = offerd_fixture_metric(&fx, "offerd_notify_keys_evicted_total");
    churn();
    keys = offerd_fixture_metric(&fx, "offerd_notify_keys");
    assert_true(keys > 0 && keys <= CAP);
    assert_int_equal(offerd_fixture_metric(&fx, "offerd_notify_idle_keys"), keys);
    assert_true(offerd_fixture_metric(&fx, "offerd_notify_keys_evicted_total") >= evicted + WATCHED);
}

static void test_polls_and_long_polls_exact_after_eviction(void **state)
{
    (void)state;
    struct http_response r;
    char etag1[128], etag2[128], etag3[128], hdr[256];

    /* Polled (and cached) at v1; its key forgotten; then changed by an outside write. */
    offerd_fixture_get(&fx, "/api/offers/o_w00", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(http_header(&r, "ETag", etag1, sizeof(etag1)));
    http_response_cleanup(&r);
    churn();
    outside_write("o_w00", "after eviction 1");
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag1);
    for (int i = 0; i < 80; i++) { /* an outside write shows within the change-poll interval */
        offerd_fixture_get(&fx, "/api/offers/o_w00", fx.buyer, hdr, &r);
        if (r.status != 304)
            break;
        http_response_cleanup(&r);
        test_sleep_ms(25);
    }
    assert_int_equal(r.status, 200); /* not a stale 304 from a forgotten version */
    assert_non_null(strstr(r.body, "after eviction 1"));
    assert_non_null(http_header(&r, "ETag", etag2, sizeof(etag2)));
    assert_string_not_equal(etag1, etag2);
    http_response_cleanup(&r);

    /* A long-poll on a forgotten key is woken by the next change. */
    churn();
    struct held h = {.token = fx.buyer};
    snprintf(h.path, sizeof(h.path), "/api/offers/o_w00?wait=20");
    snprintf(h.extra, sizeof(h.extra), "If-None-Match: %s", etag2);
    pthread_t t;
    pthread_create(&t, NULL, held_get, &h);
    wait_held(1);
    outside_write("o_w00", "after eviction 2");
    pthread_join(t, NULL);
    assert_int_equal(h.status, 200);
    assert_true(h.took < 5.0);
    assert_non_null(strstr(h.body, "after eviction 2"));
    free(h.body);
    wait_held(0);

    /* Current copies held on forgotten keys get their 304 at the end of the wait, no sooner. */
    offerd_fixture_get(&fx, "/api/offers/o_w00", fx.buyer, NULL, &r);
    assert_non_null(http_header(&r, "ETag", etag3, sizeof(etag3)));
    http_response_cleanup(&r);
    long long v = offerd_fixture_version(&fx, "o_w00");
    churn();
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag3);
    double t0 = test_now_s();
    offerd_fixture_get(&fx, "/api/offers/o_w00?wait=1", fx.buyer, hdr, &r);
    assert_int_equal(r.status, 304);
    assert_true(test_now_s() - t0 >= 0.9);
    char got[128];
    assert_non_null(http_header(&r, "ETag", got, sizeof(got)));
    assert_string_equal(got, etag3);
    http_response_cleanup(&r);
    churn();
    char path[128];
    snprintf(path, sizeof(path), "/api/offers/o_w00?since=%lld&wait=1", v);
    t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 304);
    assert_true(test_now_s() - t0 >= 0.9);
    http_response_cleanup(&r);
    snprintf(path, sizeof(path), "/api/offers/o_w00?since=%lld&wait=5", v - 1);
    t0 = test_now_s();
    offerd_fixture_get(&fx, path, fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_now_s() - t0 < 2.0);
    assert_non_null(strstr(r.body, "after eviction 2"));
    http_response_cleanup(&r);
}

static void test_sse_resume_after_eviction(void **state)
{
    (void)state;
    char url[256], header[64], want[64];
    snprintf(url, sizeof(url), "%s/api/offers/o_w01/events", fx.server.base_url);
    churn();
    long long v = offerd_fixture_version(&fx, "o_w01");

    /* Resumed at the current version after the key was forgotten: nothing until a change. */
    snprintf(header, sizeof(header), "Last-Event-ID: %lld", v);
    struct sse_reader *s = sse_open(url, fx.buyer, header);
    assert_true(sse_wait_for(s, ": heartbeat", 0, 3000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 0);
    outside_write("o_w01", "sse after eviction");
    snprintf(want, sizeof(want), "id: %lld\n", v + 1);
    size_t at = sse_wait_for(s, want, 0, 3000);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, "sse after eviction", at, 100) > 0);
    sse_close(s);
    wait_held(0);

    /* Forgotten again; resuming from the older version sends the current state at once... */
    churn();
    snprintf(header, sizeof(header), "Last-Event-ID: %lld", v);
    s = sse_open(url, fx.buyer, header);
    assert_true(sse_wait_for(s, want, 0, 3000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 1);
    sse_close(s);
    wait_held(0);

    /* ...and from the current one, only the next change. */
    churn();
    snprintf(header, sizeof(header), "Last-Event-ID: %lld", v + 1);
    s = sse_open(url, fx.seller, header);
    assert_true(sse_wait_for(s, ": heartbeat", 0, 3000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 0);
    outside_write("o_w01", "sse after eviction 2");
    snprintf(want, sizeof(want), "id: %lld\n", v + 2);
    assert_true(sse_wait_for(s, want, 0, 3000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 1);
    sse_close(s);
    wait_held(0);
}

static void test_all_offers_stream_after_a_big_burst(void **state)
{
    (void)state;
    /* The seller's first state is 1,000 offers at once (~1 MB): the stream's buffer grows for it
     * and is given back once drained; later events and heartbeats must still come out whole. */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/events", fx.server.base_url);
    struct sse_reader *s = sse_open(url, fx.seller, NULL);
    for (int i = 0; i < 200 && sse_count(s, "event: offer") < 1000; i++)
        test_sleep_ms(50);
    assert_int_equal(sse_count(s, "event: offer"), 1000);
    size_t at = sse_wait_for(s, ": heartbeat\n\n", 0, 3000);
    assert_true(at > 0);
    outside_write("o_w02", "after the burst");
    at = sse_wait_for(s, "event: offer\ndata: {\"id\":\"o_w02\"", at, 3000);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, "after the burst", at, 100) > 0);
    assert_true(sse_wait_for(s, ": heartbeat\n\n", at, 3000) > 0);
    assert_int_equal(sse_count(s, "event: offer"), 1001);
    sse_close(s);
    wait_held(0);
    assert_int_equal(offerd_fixture_metric(&fx, "offerd_notify_users"), 0);
}

/* A client that opens the seller's all-offers stream (1,000 offers, ~1 MB) and reads nothing:
 * offerd renders the burst a chunk at a time as the socket drains, so the stream's buffer stays
 * a few KiB (the documented ~10 KB per held connection), never the whole first state. Observed
 * through the buffers' gauges in /metrics; then the client reads and gets every offer. */
static void test_burst_waits_for_a_client_that_does_not_read(void **state)
{
    (void)state;
    wait_held(0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int small = 4096; /* before connect: the window stays small, the kernel holds little */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.server.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    /* HTTP/1.0: the stream comes without chunk framing, so it can be counted as it is. */
    char request[4096];
    int n = snprintf(request, sizeof(request),
                     "GET /api/offers/events HTTP/1.0\r\nHost: t\r\nAccept: text/event-stream\r\n"
                     "Authorization: Bearer %s\r\n\r\n", fx.seller);
    assert_int_equal(send(fd, request, (size_t)n, MSG_NOSIGNAL), n);
    wait_held(1);

    long long allocated = -1;
    for (int i = 0; i < 400 && (allocated = offerd_fixture_metric(&fx, "offerd_sse_buffer_bytes")) <= 0; i++)
        test_sleep_ms(25);
    assert_true(allocated > 0); /* the burst has begun */
    for (int i = 0; i < 10; i++) { /* and while the client still reads nothing, stays small */
        allocated = offerd_fixture_metric(&fx, "offerd_sse_buffer_bytes");
        if (allocated > 16384)
            fail_msg("%lld bytes buffered for a client that reads nothing", allocated);
        test_sleep_ms(50);
    }
    long long peak = offerd_fixture_metric(&fx, "offerd_sse_buffer_peak_bytes");
    if (peak < 0 || peak > 16384)
        fail_msg("a stream's buffer reached %lld bytes", peak);

    /* Reading now, the client gets the whole burst. */
    static const char needle[] = "event: offer\n";
    size_t cap = 1 << 20, len = 0, scanned = 0, events = 0;
    char *text = malloc(cap + 1);
    assert_non_null(text);
    double until = test_now_s() + 30;
    while (events < 1000 && test_now_s() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            continue;
        if (len == cap) {
            cap *= 2;
            char *bigger = realloc(text, cap + 1);
            assert_non_null(bigger);
            text = bigger;
        }
        ssize_t got = recv(fd, text + len, cap - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        text[len] = '\0';
        for (const char *at = text + scanned; (at = strstr(at, needle)) != NULL;) {
            at += sizeof(needle) - 1;
            events++;
            scanned = (size_t)(at - text);
        }
        if (len - scanned >= sizeof(needle))
            scanned = len - (sizeof(needle) - 1); /* a needle cut at the end is counted next time */
    }
    free(text);
    close(fd);
    assert_int_equal(events, 1000);
    wait_held(0);
    peak = offerd_fixture_metric(&fx, "offerd_sse_buffer_peak_bytes");
    assert_true(peak > 0 && peak <= 16384);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_bounded_after_watchers_leave),
        cmocka_unit_test(test_polls_and_long_polls_exact_after_eviction),
        cmocka_unit_test(test_sse_resume_after_eviction),
        cmocka_unit_test(test_all_offers_stream_after_a_big_burst),
        cmocka_unit_test(test_burst_waits_for_a_client_that_does_not_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
