/* test_bus_redis.c - two offerd on one database, woken through a real Redis (--bus unix://...).
 *
 * The instances run with the Redis bus alone (no LISTEN and no NOTIFY on PostgreSQL; on SQLite,
 * two processes on one file), so without Redis a change would reach the other instance only at
 * its periodic read of the log: once a second on PostgreSQL, and on SQLite too here, where a 10 s
 * --change-poll-ms leaves only the once-a-second liveness round. A change that reaches the other
 * instance's watchers (a long-poll, an SSE stream and a WebSocket) well under that, with its bus
 * counters moving, came through Redis. (On PostgreSQL the poll interval stays at its 25 ms
 * default: a transaction held open elsewhere on the cluster, e.g. by a test running beside this
 * one, makes the feed deliver a change on a later round, 50 ms on, and rounds must come often
 * for that.) Then what must not break:
 * Redis killing the subscriptions or restarting mid-load loses no change (every watcher ends on
 * the final version); Redis down at start-up (offerd starts, serves, and picks Redis up when it
 * appears); malformed or hostile messages on the channel are counted and ignored, and a message
 * naming a huge version does not make a reader skip the log (a later real write still arrives).
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_instances.h"
#include "test_pg.h"
#include "test_redis.h"
#include "test_seed.h"
#include "test_sse.h"
#include "test_ws.h"

#define BUS_BOUND_MS 400          /* through Redis: milliseconds; without it, up to a second */
#define DELIVERY_BOUND_MS 5000    /* eventually, whatever happened to Redis */

static struct test_instances t;
static struct test_redis redis;
static char *redis_dir;
static const char *args[] = {"--bus", redis.bus, "--change-poll-ms", "10000", NULL};
static const char *pg_args[] = {"--bus", redis.bus, NULL};
static struct offerd_proc *const A = &t.p[0], *const B = &t.p[1];

static int setup(void **state)
{
    (void)state;
    redis_dir = test_tmpdir_new();
    if (!redis_dir)
        return -1;
    test_redis_init(&redis, redis_dir);
    if (test_redis_start(&redis) != 0)
        return -1;
    return test_instances_start(&t, 2, test_backend_is_pg() ? pg_args : args);
}

static int teardown(void **state)
{
    (void)state;
    int rc = test_instances_stop(&t);
    if (test_redis_stop(&redis) != 0)
        rc = -1;
    test_tmpdir_remove(redis_dir);
    free(redis_dir);
    return rc;
}

static long long metric(const struct offerd_proc *p, const char *name)
{
    return http_metric(p->base_url, name);
}

/* Waits up to timeout_ms until p's metric name is at least value. */
static bool metric_reaches(const struct offerd_proc *p, const char *name, long long value,
                           int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (metric(p, name) >= value)
            return true;
        test_sleep_ms(50);
    }
    return false;
}

static long long offer(const struct offerd_proc *p, const char *product_id, char id[80])
{
    assert_int_equal(test_product_new(t.db, product_id, 20000), 0);
    struct test_write w = test_offer_new(p, t.buyer, product_id, "150");
    if (w.status != 201)
        fail_msg("a new offer on %s through :%d answered %ld", product_id, p->port, w.status);
    snprintf(id, 80, "%s", w.id);
    return w.version;
}

static struct sse_reader *watch(const struct offerd_proc *p, const char *id, long long version)
{
    char url[256], needle[64];
    snprintf(url, sizeof(url), "%s/api/offers/%s/events", p->base_url, id);
    struct sse_reader *s = sse_open(url, t.seller, NULL);
    assert_non_null(s);
    snprintf(needle, sizeof(needle), "id: %lld\n", version);
    assert_true(sse_wait_for(s, needle, 0, DELIVERY_BOUND_MS) > 0);
    return s;
}

static bool stream_shows(struct sse_reader *s, long long version, int timeout_ms)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "id: %lld\n", version);
    return sse_wait_for(s, needle, 0, timeout_ms) > 0;
}

/* A long-poll held on B is answered with version within BUS_BOUND_MS of a counter on A. */
static void assert_counter_reaches_b_through_redis(const char *id, long long version,
                                                   const char *amount)
{
    long long received = metric(B, "offerd_bus_messages_received_total");
    struct test_longpoll *lp = test_longpoll_start(B, t.buyer, id, version, 30);
    test_sleep_ms(300); /* held by now */
    assert_false(atomic_load(&lp->done));
    double written = test_now_s();
    struct test_write w = test_offer_counter(A, t.seller, id, amount);
    assert_int_equal(w.status, 201);
    assert_true(test_longpoll_wait(lp, DELIVERY_BOUND_MS));
    assert_int_equal(lp->status, 200);
    char needle[64];
    snprintf(needle, sizeof(needle), "\"version\":%lld,", w.version);
    assert_non_null(strstr(lp->body, needle));
    double took_ms = (lp->answered_at_s - written) * 1000;
    print_message("  a write on A reached a long-poll on B in %.1f ms\n", took_ms);
    if (took_ms >= BUS_BOUND_MS)
        fail_msg("took %.0f ms: not through the bus", took_ms);
    test_longpoll_free(lp);
    assert_true(metric(B, "offerd_bus_messages_received_total") > received);
}

static void test_write_on_a_reaches_watchers_on_b_through_redis(void **state)
{
    (void)state;
    char id[80];
    assert_true(metric_reaches(A, "offerd_bus_up", 1, DELIVERY_BOUND_MS));
    assert_true(metric_reaches(B, "offerd_bus_up", 1, DELIVERY_BOUND_MS));
    long long v = offer(A, "p_bus", id);
    struct sse_reader *s = watch(B, id, v);
    /* and a WebSocket on B, subscribed at the version it has (so nothing is sent until a change) */
    struct ws_open_options opts = {.token = t.seller};
    struct ws_client *ws = NULL;
    assert_int_equal(ws_open(B->port, &opts, &ws, NULL), 101);
    char msg[256], needle[64];
    snprintf(msg, sizeof(msg),
             "{\"type\":\"subscribe\",\"ids\":[\"%s\"],\"versions\":{\"%s\":%lld}}", id, id, v);
    assert_int_equal(ws_send_text(ws, msg), 0);
    assert_counter_reaches_b_through_redis(id, v, "190");
    assert_true(stream_shows(s, v + 1, BUS_BOUND_MS));
    snprintf(needle, sizeof(needle), "\"version\":%lld,", v + 1);
    char *pushed = ws_wait_text(ws, needle, BUS_BOUND_MS);
    assert_non_null(pushed);
    free(pushed);
    assert_int_equal(ws_skipped(ws), 0); /* the version it had was not sent again */
    ws_free(ws);
    sse_close(s);
    assert_true(metric(A, "offerd_bus_messages_published_total") >= 2);
    if (test_backend_is_pg()) /* Redis alone: no LISTEN connection (a transaction pooler) */
        assert_int_equal(seed_query_int(t.db,
                                        "SELECT count(*) FROM pg_stat_activity WHERE "
                                        "application_name = 'offerd-listener' AND "
                                        "datname = current_database()",
                                        -1),
                         0);
}

/* Notifications that reached conn within wait_ms (drained). */
static int notifications(PGconn *conn, int wait_ms)
{
    test_sleep_ms(wait_ms);
    int count = 0;
    PGnotify *n;
    assert_int_equal(PQconsumeInput(conn), 1);
    while ((n = PQnotifies(conn)) != NULL) {
        count++;
        PQfreemem(n);
    }
    return count;
}

/* PostgreSQL: with the Redis bus alone, offerd's own commits send no NOTIFY (and so skip its
 * server-wide commit lock); an outside writer's still do. */
static void test_redis_alone_writes_send_no_notify(void **state)
{
    (void)state;
    if (!test_backend_is_pg()) {
        print_message("[  SKIP    ] NOTIFY is PostgreSQL's\n");
        skip();
    }
    char id[80], sql[256];
    long long v = offer(A, "p_quiet", id);
    PGconn *conn = test_pg_connect(t.db);
    assert_non_null(conn);
    PQclear(PQexec(conn, "LISTEN offerd_changes"));
    struct test_write w = test_offer_counter(B, t.seller, id, "190");
    assert_int_equal(w.status, 201);
    assert_int_equal(w.version, v + 1);
    assert_int_equal(notifications(conn, 300), 0);
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'from psql' WHERE id = '%s'", id);
    assert_int_equal(seed_exec(t.db, sql), 0);
    assert_true(notifications(conn, 300) >= 1);
    PQfinish(conn);
}

static void test_hostile_messages_are_counted_and_never_trusted(void **state)
{
    (void)state;
    char id[80], text[160];
    long long v = offer(A, "p_hostile", id);
    long long rejected_a = metric(A, "offerd_bus_messages_rejected_total");
    long long rejected_b = metric(B, "offerd_bus_messages_rejected_total");
    const char *malformed[] = {"", "hello", "v1", "v1 o 0", "v1 o -3", "v2 o 1",
                               "v1 ../../etc 1", "v1 o 1 extra", "v1 o 99999999999999999999"};
    size_t count = sizeof(malformed) / sizeof(malformed[0]);
    for (size_t i = 0; i < count; i++)
        assert_true(test_redis_command(&redis, "PUBLISH %s %b", "offerd:changes", malformed[i],
                                       strlen(malformed[i])) >= 2);
    static const char binary[] = "v1 o\0x 5\xff\xfe";
    assert_true(test_redis_command(&redis, "PUBLISH %s %b", "offerd:changes", binary,
                                   sizeof(binary) - 1) >= 2);
    char big[4096];
    memset(big, '7', sizeof(big));
    memcpy(big, "v1 o ", 5);
    assert_true(test_redis_command(&redis, "PUBLISH %s %b", "offerd:changes", big,
                                   sizeof(big)) >= 2);
    assert_true(metric_reaches(B, "offerd_bus_messages_rejected_total",
                               rejected_b + (long long)count + 2, DELIVERY_BOUND_MS));
    assert_true(metric_reaches(A, "offerd_bus_messages_rejected_total",
                               rejected_a + (long long)count + 2, DELIVERY_BOUND_MS));

    /* Well-formed lies: the offer at a huge version, an offer that does not exist. Each costs a
     * read of the log, no more: nothing is skipped, nobody is woken for nothing that stays. */
    snprintf(text, sizeof(text), "v1 %s 9223372036854775807", id);
    assert_true(test_redis_command(&redis, "PUBLISH %s %s", "offerd:changes", text) >= 2);
    assert_true(test_redis_command(&redis, "PUBLISH %s %s", "offerd:changes", "v1 nope 3") >= 2);
    assert_true(test_redis_command(&redis, "PUBLISH %s %s", "offerd:changes", "v1 *") >= 2);
    test_sleep_ms(200);
    struct http_response r;

    /* A real write after all that still reaches B at once, at its real version. */
    assert_counter_reaches_b_through_redis(id, v, "185");
    char path[160], needle[64];
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    offerd_get(B, path, t.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    snprintf(needle, sizeof(needle), "\"version\":%lld,", v + 1);
    assert_non_null(strstr(r.body, needle));
    http_response_cleanup(&r);
    /* The servers are still well. */
    offerd_get(A, "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
}

/* Counters alternate between the seller (on A) and the buyer (on B), converging: 199, 151, 198,
 * 152, ... Redis drops every subscription after the 5th write and restarts after the 10th. */
static void test_pubsub_kill_and_redis_restart_lose_no_change(void **state)
{
    (void)state;
    enum { WRITES = 16 };
    char id[80], amount[16];
    long long v = offer(A, "p_storm", id);
    struct sse_reader *on_a = watch(A, id, v), *on_b = watch(B, id, v);
    long long reconnects_b = metric(B, "offerd_bus_reconnects_total");
    long long last = v;
    for (int i = 0; i < WRITES; i++) {
        bool seller = i % 2 == 0;
        snprintf(amount, sizeof(amount), "%d", seller ? 199 - i / 2 : 151 + i / 2);
        struct test_write w = test_offer_counter(seller ? A : B, seller ? t.seller : t.buyer, id,
                                                 amount);
        if (w.status != 201)
            fail_msg("write %d (%s) answered %ld", i, amount, w.status);
        last = w.version;
        if (i == 4)
            assert_true(test_redis_command(&redis, "CLIENT KILL TYPE pubsub") >= 2);
        if (i == 9) {
            assert_int_equal(test_redis_stop(&redis), 0);
            test_sleep_ms(300);
            assert_int_equal(test_redis_start(&redis), 0);
        }
        test_sleep_ms(50);
    }
    assert_int_equal(last, v + WRITES);
    assert_true(stream_shows(on_a, last, DELIVERY_BOUND_MS));
    assert_true(stream_shows(on_b, last, DELIVERY_BOUND_MS));
    sse_close(on_a);
    sse_close(on_b);
    /* Both subscribed again (the kill and the restart: two reconnects at least). */
    assert_true(metric_reaches(B, "offerd_bus_up", 1, DELIVERY_BOUND_MS * 2));
    assert_true(metric_reaches(A, "offerd_bus_up", 1, DELIVERY_BOUND_MS * 2));
    assert_true(metric(B, "offerd_bus_reconnects_total") >= reconnects_b + 2);
}

/* Redis hangs (SIGSTOP: connections open, nothing answered): writes still answer at once, and
 * reach the other instance through its periodic log read; once Redis answers again, so does the
 * bus. */
static void test_hung_redis_never_holds_a_write(void **state)
{
    (void)state;
    char id[80], amount[16];
    long long v = offer(A, "p_hung", id);
    struct sse_reader *s = watch(B, id, v);
    long long dropped = metric(A, "offerd_bus_publish_dropped_total");
    test_redis_pause(&redis, true);
    long long last = v;
    for (int i = 0; i < 6; i++) {
        bool seller = i % 2 == 0;
        snprintf(amount, sizeof(amount), "%d", seller ? 199 - i / 2 : 151 + i / 2);
        double started = test_now_s();
        struct test_write w = test_offer_counter(seller ? A : B, seller ? t.seller : t.buyer, id,
                                                 amount);
        double took_ms = (test_now_s() - started) * 1000;
        if (w.status != 201 || took_ms > 1000) {
            test_redis_pause(&redis, false);
            fail_msg("write %d with Redis hung: %ld after %.0f ms", i, w.status, took_ms);
        }
        last = w.version;
        test_sleep_ms(300);
    }
    bool shown = stream_shows(s, last, DELIVERY_BOUND_MS); /* through the log read */
    test_redis_pause(&redis, false);
    assert_true(shown);
    sse_close(s);
    assert_true(metric_reaches(A, "offerd_bus_publish_dropped_total", dropped + 1,
                               DELIVERY_BOUND_MS));
    assert_true(metric_reaches(A, "offerd_bus_up", 1, DELIVERY_BOUND_MS * 2));
    assert_true(metric_reaches(B, "offerd_bus_up", 1, DELIVERY_BOUND_MS * 2));
    assert_counter_reaches_b_through_redis(id, last, "190"); /* the seller's turn again */
}

static void test_redis_down_at_start_up(void **state)
{
    (void)state;
    struct test_instances t2 = {0};
    struct test_redis later;
    char *dir = test_tmpdir_new();
    assert_non_null(dir);
    test_redis_init(&later, dir);
    const char *args2[] = {"--bus", later.bus, "--change-poll-ms",
                           test_backend_is_pg() ? "25" : "10000", NULL};
    assert_int_equal(test_instances_start(&t2, 2, args2), 0); /* no Redis: they start anyway */
    struct http_response r;
    offerd_get(&t2.p[1], "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "redis bus down"));
    http_response_cleanup(&r);
    assert_int_equal(http_metric(t2.p[1].base_url, "offerd_bus_up"), 0);

    /* Writes work without Redis, and reach the other instance through its log read. */
    assert_int_equal(test_product_new(t2.db, "p_late", 20000), 0);
    struct test_write w = test_offer_new(&t2.p[0], t2.buyer, "p_late", "150");
    assert_int_equal(w.status, 201);
    struct test_longpoll *lp = test_longpoll_start(&t2.p[1], t2.buyer, w.id, w.version, 30);
    test_sleep_ms(200);
    struct test_write c = test_offer_counter(&t2.p[0], t2.seller, w.id, "195");
    assert_int_equal(c.status, 201);
    assert_true(test_longpoll_wait(lp, DELIVERY_BOUND_MS));
    assert_int_equal(lp->status, 200);
    test_longpoll_free(lp);

    /* Redis appears: both subscribe within their backoff (at most 5 s), and it carries writes. */
    assert_int_equal(test_redis_start(&later), 0);
    for (int i = 0; i < 2; i++)
        assert_true(metric_reaches(&t2.p[i], "offerd_bus_up", 1, 8000));
    offerd_get(&t2.p[1], "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "degraded"));
    http_response_cleanup(&r);
    lp = test_longpoll_start(&t2.p[1], t2.buyer, w.id, c.version, 30);
    test_sleep_ms(300);
    double written = test_now_s();
    struct test_write c2 = test_offer_counter(&t2.p[0], t2.buyer, w.id, "160");
    /* the buyer's turn now: a counter through A is as good as through B */
    assert_int_equal(c2.status, 201);
    assert_true(test_longpoll_wait(lp, DELIVERY_BOUND_MS));
    double took_ms = (lp->answered_at_s - written) * 1000;
    print_message("  after Redis came up, a write reached B in %.1f ms\n", took_ms);
    assert_true(took_ms < BUS_BOUND_MS);
    test_longpoll_free(lp);

    assert_int_equal(test_instances_stop(&t2), 0);
    assert_int_equal(test_redis_stop(&later), 0);
    test_tmpdir_remove(dir);
    free(dir);
}

int main(void)
{
    test_backend_require();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_on_a_reaches_watchers_on_b_through_redis),
        cmocka_unit_test(test_redis_alone_writes_send_no_notify),
        cmocka_unit_test(test_hostile_messages_are_counted_and_never_trusted),
        cmocka_unit_test(test_pubsub_kill_and_redis_restart_lose_no_change),
        cmocka_unit_test(test_hung_redis_never_holds_a_write),
        cmocka_unit_test(test_redis_down_at_start_up),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
