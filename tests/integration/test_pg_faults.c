/* test_pg_faults.c - PostgreSQL or offerd going away under load loses no change and no
 * acknowledged write.
 *
 * SPEC "Several instances": the database going away never loses an acknowledged write and never
 * crashes offerd; requests that need it get 503 with Retry-After, /readyz says 503, held requests
 * stay held, and everything recovers by itself; after any reconnect an instance re-reads the log,
 * so watchers get every change. These tests stop, restart and break PostgreSQL, so they run on a
 * private server of their own (test_pg_server.h), never on the shared one; two offerd instances
 * share a fresh database on it, with load running through them while the fault happens.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_clock.h"
#include "test_http.h"
#include "test_instances.h"
#include "test_pg_server.h"
#include "test_seed.h"
#include "test_sse.h"

#define PRICE_MINOR 20000
#define NEGOTIATED 4 /* offers countered back and forth under load */
#define CREATORS 3   /* threads making new offers under load */
#define PACE_MS 25   /* between one thread's requests: load, not a flood the checks drown in */
#define MAX_CREATED 20000
#define REQUEST_TIMEOUT_MS 20000
#define DELIVERY_BOUND_MS 15000
#define RECOVERY_BOUND_MS 30000

static struct test_pg_server pg;
static struct test_instances t;
static struct offerd_proc *const A = &t.p[0], *const B = &t.p[1];

static int group_setup(void **state)
{
    (void)state;
    return test_pg_server_start(&pg);
}

static int group_teardown(void **state)
{
    (void)state;
    test_pg_server_destroy(&pg);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (!pg.running && test_pg_server_resume(&pg) != 0) /* a failed test left it stopped */
        return -1;
    if (test_instances_start(&t, 2, NULL) != 0)
        return -1;
    return test_product_new(t.db, "p_load", PRICE_MINOR);
}

/* ---- load: new offers, and negotiations that never end, through every instance ---- */

struct load {
    bool running;
    atomic_bool stop;
    pthread_t creators[CREATORS], negotiator;
    pthread_mutex_t lock;
    char (*created)[80]; /* ids of acknowledged new offers */
    size_t created_count;
    char negotiated[NEGOTIATED][80];
    long long acked_version[NEGOTIATED]; /* highest version a counter's 201 showed */
    long long acked_counters[NEGOTIATED];
    /* Every answer, by kind. */
    atomic_long ok, busy, busy_without_retry_after, server_errors, no_response, refused;
};

static void record(struct load *l, long status, bool retry_after)
{
    if (status >= 200 && status < 300)
        atomic_fetch_add(&l->ok, 1);
    else if (status == 503) {
        atomic_fetch_add(&l->busy, 1);
        if (!retry_after)
            atomic_fetch_add(&l->busy_without_retry_after, 1);
    } else if (status >= 500)
        atomic_fetch_add(&l->server_errors, 1);
    else if (status == 0)
        atomic_fetch_add(&l->no_response, 1);
    else
        atomic_fetch_add(&l->refused, 1);
    if (status == 0 || status >= 500)
        test_sleep_ms(50); /* as a client honouring Retry-After would, roughly */
}

static void *create_loop(void *arg)
{
    struct load *l = arg;
    static atomic_uint next;
    unsigned me = atomic_fetch_add(&next, 1);
    for (unsigned i = me; !atomic_load(&l->stop); i++) {
        struct test_write w =
            test_write(&t.p[i % t.count], "POST", "/api/offers", i % 2 ? t.buyer : t.buyer2,
                       "{\"productId\":\"p_load\",\"amount\":150}", REQUEST_TIMEOUT_MS);
        record(l, w.status, w.retry_after);
        if (w.status == 201) {
            pthread_mutex_lock(&l->lock);
            if (l->created_count < MAX_CREATED)
                snprintf(l->created[l->created_count++], 80, "%s", w.id);
            pthread_mutex_unlock(&l->lock);
        }
        test_sleep_ms(PACE_MS);
    }
    return NULL;
}

static long long minor_of(json_t *amount)
{
    return llround(json_number_value(amount) * 100);
}

/* One step of a negotiation: read the offer through p, then counter a penny closer as whoever's
 * turn it is (the rules: strictly between the buyer's latest and the seller's latest). Reading
 * first keeps it right after a write whose outcome was lost. */
static struct test_write negotiate_step(struct load *l, const struct offerd_proc *p, const char *id)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    struct http_response r;
    http_call(p->base_url, "GET", path, t.seller, NULL, NULL, REQUEST_TIMEOUT_MS, &r);
    char value[32];
    record(l, r.status, http_header(&r, "Retry-After", value, sizeof(value)) != NULL);
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    http_response_cleanup(&r);
    if (!j)
        return (struct test_write){.status = -1, .version = -1};
    long long buyer_minor = minor_of(json_object_get(j, "amount"));
    long long seller_minor = minor_of(json_object_get(json_object_get(j, "product"), "price"));
    bool sellers_turn = true;
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(j, "counterOffers"), i, c) {
        sellers_turn = !json_is_true(json_object_get(c, "fromSeller"));
        *(sellers_turn ? &buyer_minor : &seller_minor) = minor_of(json_object_get(c, "amount"));
    }
    json_decref(j);
    long long next = sellers_turn ? seller_minor - 1 : buyer_minor + 1;
    if (next <= buyer_minor || next >= seller_minor)
        return (struct test_write){.status = -1, .version = -1}; /* met in the middle */
    char amount[32];
    snprintf(amount, sizeof(amount), "%lld.%02lld", next / 100, next % 100);
    struct test_write w = test_offer_counter(p, sellers_turn ? t.seller : t.buyer, id, amount);
    record(l, w.status, w.retry_after);
    return w;
}

static void *negotiate_loop(void *arg)
{
    struct load *l = arg;
    for (unsigned i = 0; !atomic_load(&l->stop); i++) {
        int k = (int)(i % NEGOTIATED);
        struct test_write w = negotiate_step(l, &t.p[i % t.count], l->negotiated[k]);
        if (w.status == 201) {
            pthread_mutex_lock(&l->lock);
            l->acked_counters[k]++;
            if (w.version > l->acked_version[k])
                l->acked_version[k] = w.version;
            pthread_mutex_unlock(&l->lock);
        }
        test_sleep_ms(PACE_MS);
    }
    return NULL;
}

/* The load of the test running now (one at a time). Static, not on a test's stack: a test that
 * fails midway leaves its threads running, and the per-test teardown stops them. */
static struct load running_load;

/* Makes the negotiated offers (at 100.00: room for thousands of counters), then starts. */
static struct load *load_start(void)
{
    struct load *l = &running_load;
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    l->created = calloc(MAX_CREATED, 80);
    assert_non_null(l->created);
    for (int k = 0; k < NEGOTIATED; k++) {
        struct test_write w = test_offer_new(&t.p[k % t.count], t.buyer, "p_load", "100");
        assert_int_equal(w.status, 201);
        snprintf(l->negotiated[k], 80, "%s", w.id);
        l->acked_version[k] = w.version;
    }
    for (int i = 0; i < CREATORS; i++)
        pthread_create(&l->creators[i], NULL, create_loop, l);
    pthread_create(&l->negotiator, NULL, negotiate_loop, l);
    l->running = true;
    return l;
}

static void load_stop(struct load *l)
{
    if (!l->running)
        return;
    l->running = false;
    atomic_store(&l->stop, true);
    for (int i = 0; i < CREATORS; i++)
        pthread_join(l->creators[i], NULL);
    pthread_join(l->negotiator, NULL);
    long long counters = 0;
    for (int k = 0; k < NEGOTIATED; k++)
        counters += l->acked_counters[k];
    print_message("  load: %zu offers and %lld counters acknowledged; answers: %ld 2xx, %ld 503 "
                  "(%ld without Retry-After), %ld other 5xx, %ld 4xx, %ld without a response\n",
                  l->created_count, counters, atomic_load(&l->ok), atomic_load(&l->busy),
                  atomic_load(&l->busy_without_retry_after), atomic_load(&l->server_errors),
                  atomic_load(&l->refused), atomic_load(&l->no_response));
}

static void load_free(struct load *l)
{
    load_stop(l);
    free(l->created);
    l->created = NULL;
    pthread_mutex_destroy(&l->lock);
}

static int teardown(void **state)
{
    (void)state;
    if (running_load.running) { /* a test failed midway */
        atomic_store(&running_load.stop, true);
        load_free(&running_load);
    }
    return test_instances_stop(&t); /* both exit cleanly, whatever happened to PostgreSQL */
}

/* Every acknowledged write is in the database: each new offer's row, and each negotiated offer
 * at least at the version a 201 showed, with at least as many counters as were acknowledged. */
static void assert_acknowledged_writes_kept(const struct load *l)
{
    struct seed_conn *c = seed_conn_open(t.db, true);
    assert_non_null(c);
    size_t missing = 0;
    for (size_t i = 0; i < l->created_count; i++) {
        char sql[256];
        long long n = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM offers WHERE id = '%s'", l->created[i]);
        if (seed_conn_query_ints(c, sql, &n, 1) != 1 || n != 1)
            missing++;
    }
    for (int k = 0; k < NEGOTIATED; k++) {
        char sql[256];
        long long got[2] = {0, 0};
        snprintf(sql, sizeof(sql),
                 "SELECT version, (SELECT count(*) FROM counter_offers WHERE offer_id = o.id)"
                 " FROM offers o WHERE id = '%s'",
                 l->negotiated[k]);
        assert_int_equal(seed_conn_query_ints(c, sql, got, 2), 1);
        if (got[0] < l->acked_version[k] || got[1] < l->acked_counters[k])
            fail_msg("%s: version %lld and %lld counters in the database, but version %lld and "
                     "%lld counters were acknowledged",
                     l->negotiated[k], got[0], got[1], l->acked_version[k], l->acked_counters[k]);
    }
    seed_conn_close(c);
    assert_int_equal(missing, 0);
}

static long long db_version(const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT version FROM offers WHERE id = '%s'", id);
    return seed_query_int(t.db, sql, -1);
}

/* The seller's stream of all their offers on p. */
static struct sse_reader *watch_all(const struct offerd_proc *p)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/events", p->base_url);
    struct sse_reader *s = sse_open(url, t.seller, NULL);
    assert_non_null(s);
    assert_true(sse_wait_for(s, "\"id\":\"o_pending\"", 0, DELIVERY_BOUND_MS) > 0);
    return s;
}

/* Stream s shows offer id at version (the full offer JSON starts with id, then version). */
static bool stream_shows(struct sse_reader *s, const char *id, long long version, int within_ms)
{
    char needle[160];
    snprintf(needle, sizeof(needle), "{\"id\":\"%s\",\"version\":%lld,", id, version);
    return sse_wait_for(s, needle, 0, within_ms) > 0;
}

/* Fails the test: what never reached stream s, and whether the server had ended the stream. */
static void fail_stream(struct sse_reader *s, const char *what, const char *id, long long version)
{
    bool ended = sse_wait_end(s, 0);
    char *text = sse_text(s);
    size_t len = strlen(text);
    fail_msg("%s %s at version %lld never reached the stream; the server %s; it ended with: %s",
             what, id, version, ended ? "had ended the stream" : "kept the stream open",
             text + (len > 120 ? len - 120 : 0));
    free(text);
}

/* Every negotiated offer's final version, and every acknowledged new offer, reach stream s. */
static void assert_stream_caught_up(struct sse_reader *s, const struct load *l)
{
    for (int k = 0; k < NEGOTIATED; k++) {
        long long v = db_version(l->negotiated[k]);
        if (!stream_shows(s, l->negotiated[k], v, DELIVERY_BOUND_MS))
            fail_stream(s, "negotiated offer", l->negotiated[k], v);
    }
    for (size_t i = 0; i < l->created_count; i++)
        if (!stream_shows(s, l->created[i], 1, DELIVERY_BOUND_MS))
            fail_stream(s, "new offer", l->created[i], 1);
}

static int get_status(const struct offerd_proc *p, const char *path)
{
    struct http_response r;
    http_call(p->base_url, "GET", path, NULL, NULL, NULL, REQUEST_TIMEOUT_MS, &r);
    int status = (int)r.status;
    http_response_cleanup(&r);
    return status;
}

/* Waits up to ms for p's PATH to answer `status`; true if it did. */
static bool eventually_status(const struct offerd_proc *p, const char *path, int status, int ms)
{
    for (int64_t end = test_now_ms() + ms; test_now_ms() < end; test_sleep_ms(100))
        if (get_status(p, path) == status)
            return true;
    return false;
}

/* Waits up to ms for a new offer through p to be acknowledged, as a client retrying after each
 * 503 would; true if one was. */
static bool eventually_writes(const struct offerd_proc *p, int ms)
{
    for (int64_t end = test_now_ms() + ms; test_now_ms() < end; test_sleep_ms(100))
        if (test_offer_new(p, t.buyer, "p_load", "150").status == 201)
            return true;
    return false;
}

/* Terminates the listener connections of t's database; returns how many. */
static long long kill_listeners(void)
{
    return seed_query_int(t.db,
                          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                          " WHERE application_name = 'offerd-listener'"
                          " AND datname = current_database()",
                          -1);
}

static long long listeners(void)
{
    return seed_query_int(t.db,
                          "SELECT count(*) FROM pg_stat_activity"
                          " WHERE application_name = 'offerd-listener'"
                          " AND datname = current_database()",
                          -1);
}

static void test_killed_listener_loses_no_change(void **state)
{
    (void)state;
    struct sse_reader *s = watch_all(B);
    struct load *l = load_start();
    long long killed = 0;
    for (int round = 0; round < 8; round++) {
        test_sleep_ms(600);
        long long n = kill_listeners();
        assert_true(n >= 0);
        killed += n;
    }
    load_stop(l);
    print_message("  %lld listener connections terminated\n", killed);
    assert_true(killed >= 2);
    assert_int_equal(atomic_load(&l->server_errors), 0);
    assert_int_equal(atomic_load(&l->no_response), 0);
    assert_int_equal(atomic_load(&l->busy_without_retry_after), 0);
    assert_true(l->created_count > 10);

    assert_stream_caught_up(s, l);
    assert_false(sse_wait_end(s, 0)); /* the stream itself stayed open */
    sse_close(s);
    assert_acknowledged_writes_kept(l);
    /* Both listeners came back by themselves, and B counted its reconnects. */
    int64_t end = test_now_ms() + RECOVERY_BOUND_MS;
    while (listeners() != 2 && test_now_ms() < end)
        test_sleep_ms(100);
    assert_int_equal(listeners(), 2);
    assert_true(http_metric(B->base_url, "offerd_store_reconnects_total") > 0);
    load_free(l);
}

static void test_postgresql_restart_under_load(void **state)
{
    (void)state;
    struct sse_reader *s = watch_all(B);
    /* A quiet offer with a long-poll held on B across the outage. */
    struct test_write quiet = test_offer_new(A, t.buyer2, "p_load", "120");
    assert_int_equal(quiet.status, 201);
    struct test_longpoll *held = test_longpoll_start(B, t.buyer2, quiet.id, quiet.version, 60);
    struct load *l = load_start();
    test_sleep_ms(1500);
    assert_int_equal(get_status(A, "/readyz"), 200);

    double down_at = test_now_s();
    assert_int_equal(test_pg_server_stop(&pg, "fast"), 0);
    /* The outage: readiness says so, writes are refused as busy, the long-poll is still held. */
    assert_true(eventually_status(A, "/readyz", 503, 5000));
    assert_true(eventually_status(B, "/readyz", 503, 5000));
    struct test_write w = test_offer_new(A, t.buyer, "p_load", "150");
    assert_int_equal(w.status, 503);
    assert_true(w.retry_after);
    w = test_offer_counter(B, t.seller, quiet.id, "190");
    assert_int_equal(w.status, 503);
    assert_true(w.retry_after);
    test_sleep_ms(2000);
    assert_false(atomic_load(&held->done));
    assert_int_equal(test_pg_server_resume(&pg), 0);
    print_message("  PostgreSQL was down for %.1f s\n", test_now_s() - down_at);

    /* Back by itself: ready, and writes go through on both instances. */
    assert_true(eventually_status(A, "/readyz", 200, RECOVERY_BOUND_MS));
    assert_true(eventually_status(B, "/readyz", 200, RECOVERY_BOUND_MS));
    assert_true(eventually_writes(A, RECOVERY_BOUND_MS));
    assert_true(eventually_writes(B, RECOVERY_BOUND_MS));
    test_sleep_ms(1500); /* load flows again for a while */
    load_stop(l);
    assert_int_equal(atomic_load(&l->server_errors), 0);
    assert_int_equal(atomic_load(&l->no_response), 0);
    assert_int_equal(atomic_load(&l->busy_without_retry_after), 0);
    assert_true(atomic_load(&l->busy) > 0);

    /* The long-poll held through it all answers the next change. */
    assert_false(atomic_load(&held->done));
    double written = test_now_s();
    w = test_offer_counter(A, t.seller, quiet.id, "190");
    assert_int_equal(w.status, 201);
    assert_true(test_longpoll_wait(held, DELIVERY_BOUND_MS));
    assert_int_equal(held->status, 200);
    char needle[64];
    snprintf(needle, sizeof(needle), "\"version\":%lld,", w.version);
    assert_non_null(strstr(held->body, needle));
    print_message("  the held long-poll answered %.0f ms after the write\n",
                  (held->answered_at_s - written) * 1000);
    test_longpoll_free(held);

    assert_acknowledged_writes_kept(l);
    assert_stream_caught_up(s, l);
    assert_false(sse_wait_end(s, 0));
    sse_close(s);
    load_free(l);
}

/* The same without load, made certain: a change is logged and announced, and the streams it wakes
 * on B are still reading the offer (held up by a lock on products, which the offer's rendering
 * joins) when PostgreSQL stops (immediate mode: as a crash would). A stream must stay open through
 * the outage and send the change when PostgreSQL is back: ending it (even with a retry: hint) sends
 * the browser's EventSource to reconnect into 503s, on which it gives up for good. */
static void test_streams_woken_during_an_outage_stay_open(void **state)
{
    (void)state;
    struct test_write x = test_offer_new(A, t.buyer, "p_load", "150");
    assert_int_equal(x.status, 201);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/%s/events", B->base_url, x.id);
    struct sse_reader *one = sse_open(url, t.seller, NULL);
    assert_non_null(one);
    assert_true(sse_wait_for(one, "\"status\":\"PENDING\"", 0, DELIVERY_BOUND_MS) > 0);
    struct sse_reader *all = watch_all(B);
    assert_true(stream_shows(all, x.id, x.version, DELIVERY_BOUND_MS));
    struct test_longpoll *held = test_longpoll_start(B, t.buyer, x.id, x.version, 60);

    struct seed_conn *lock = seed_conn_open(t.db, false);
    assert_non_null(lock);
    assert_int_equal(seed_conn_begin_write(lock), 0);
    assert_int_equal(seed_conn_exec(lock, "LOCK TABLE products IN ACCESS EXCLUSIVE MODE"), 0);
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'during the outage' WHERE id = '%s'",
             x.id);
    assert_int_equal(seed_exec(t.db, sql), 0); /* touches no product: not held up by the lock */
    test_sleep_ms(1000); /* B is woken, and its reads of the offer wait for the lock */
    /* Immediate: every backend ends at once, the lock holder with the readers it holds up, so
     * the reads fail (fast mode may end the lock holder first and let them through). */
    assert_int_equal(test_pg_server_stop(&pg, "immediate"), 0);
    seed_conn_close(lock);
    test_sleep_ms(1500);
    bool one_open = !sse_wait_end(one, 0), all_open = !sse_wait_end(all, 0);
    /* A woken long-poll may answer the outage with 503 (its client polls again), or the change
     * if its read got through; anything else is wrong. */
    bool held_ok = !atomic_load(&held->done) || held->status == 503 ||
                   (held->status == 200 && strstr(held->body, "during the outage"));
    assert_int_equal(test_pg_server_resume(&pg), 0);
    assert_true(eventually_status(B, "/readyz", 200, RECOVERY_BOUND_MS));
    if (!one_open || !all_open)
        fail_msg("PostgreSQL stopped while streams were woken: the offer's stream %s, the "
                 "all-offers stream %s",
                 one_open ? "stayed open" : "was ended by the server",
                 all_open ? "stayed open" : "was ended by the server");
    assert_true(held_ok);
    char needle[64];
    snprintf(needle, sizeof(needle), "id: %lld\n", x.version + 1);
    assert_true(sse_wait_for(one, needle, 0, DELIVERY_BOUND_MS) > 0);
    assert_true(sse_wait_for(one, "during the outage", 0, DELIVERY_BOUND_MS) > 0);
    assert_true(stream_shows(all, x.id, x.version + 1, DELIVERY_BOUND_MS));
    if (!atomic_load(&held->done)) {
        assert_true(test_longpoll_wait(held, DELIVERY_BOUND_MS));
        assert_int_equal(held->status, 200);
        assert_non_null(strstr(held->body, "during the outage"));
    }
    test_longpoll_free(held);
    sse_close(one);
    sse_close(all);
}

static void test_fast_restart_mid_load_recovers(void **state)
{
    (void)state;
    struct sse_reader *s = watch_all(A);
    struct load *l = load_start();
    test_sleep_ms(1000);
    assert_int_equal(test_pg_server_restart(&pg), 0); /* pg_ctl restart -m fast */
    assert_true(eventually_status(A, "/readyz", 200, RECOVERY_BOUND_MS));
    assert_true(eventually_status(B, "/readyz", 200, RECOVERY_BOUND_MS));
    assert_true(eventually_writes(A, RECOVERY_BOUND_MS));
    assert_true(eventually_writes(B, RECOVERY_BOUND_MS));
    test_sleep_ms(1500);
    load_stop(l);
    assert_int_equal(atomic_load(&l->server_errors), 0);
    assert_int_equal(atomic_load(&l->no_response), 0);
    assert_int_equal(atomic_load(&l->busy_without_retry_after), 0);
    assert_acknowledged_writes_kept(l);
    assert_stream_caught_up(s, l);
    sse_close(s);
    load_free(l);
}

static void test_kill9_of_an_instance_under_load_loses_no_acknowledged_write(void **state)
{
    (void)state;
    struct sse_reader *s = watch_all(B);
    struct load *l = load_start();
    test_sleep_ms(2000);
    offerd_kill9(A);    /* mid-stream: some of A's requests are in flight */
    test_sleep_ms(500); /* B keeps serving */
    load_stop(l);
    assert_int_equal(atomic_load(&l->server_errors), 0);
    assert_true(l->created_count > 10);
    assert_acknowledged_writes_kept(l);

    /* A fresh instance reads every acknowledged write back, as B's watchers saw them. */
    assert_int_equal(test_instances_restart(&t, 0), 0);
    for (size_t i = 0; i < l->created_count; i++) {
        char path[160];
        snprintf(path, sizeof(path), "/api/offers/%s", l->created[i]);
        struct test_write r = test_write(A, "GET", path, t.seller, NULL, REQUEST_TIMEOUT_MS);
        if (r.status != 200)
            fail_msg("acknowledged offer %s: GET answered %ld", l->created[i], r.status);
    }
    assert_stream_caught_up(s, l);
    sse_close(s);
    load_free(l);
}

int main(void)
{
    /* PostgreSQL only, on a server of its own: skips (77) when none can be started here, unless
     * OFFERD_TEST_REQUIRE_PG=1 makes that a failure. */
    setenv("OFFERD_TEST_BACKEND", "postgresql", 1);
    if (!test_pg_server_available(NULL, 0)) {
        const char *require = getenv("OFFERD_TEST_REQUIRE_PG");
        fprintf(stderr, "%s: no initdb/pg_ctl under /usr/lib/postgresql/*/bin%s\n",
                require && strcmp(require, "1") == 0 ? "failed" : "skipped",
                geteuid() == 0 ? " or no user postgres" : "");
        return require && strcmp(require, "1") == 0 ? 1 : 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_listener_loses_no_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgresql_restart_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_woken_during_an_outage_stay_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fast_restart_mid_load_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kill9_of_an_instance_under_load_loses_no_acknowledged_write, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
