/* test_pg_instances.c - three offerd on one PostgreSQL database behave as one service.
 *
 * SPEC "Several instances": a write on any instance, or by any outside writer, reaches watchers
 * on every instance; conflicting writes on different instances never both succeed; a change-log
 * cursor never skips a transaction that commits late. Real servers on 127.0.0.1, a fresh database
 * on the PostgreSQL the PG* environment names, real HTTP. Delivery is asserted within a generous
 * bound (how fast is measured in bench/, not here).
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_backend.h"
#include "test_clock.h"
#include "test_instances.h"
#include "test_seed.h"
#include "test_sse.h"

#define INSTANCES 3
#define DELIVERY_BOUND_MS 5000
#define RACE_ROUNDS 20

static struct test_instances t;
static struct offerd_proc *const A = &t.p[0], *const B = &t.p[1], *const C = &t.p[2];

static int setup(void **state)
{
    (void)state;
    return test_instances_start(&t, INSTANCES, NULL);
}

static int teardown(void **state)
{
    (void)state;
    return test_instances_stop(&t); /* every instance exits cleanly */
}

/* A fresh product of the seeded seller (price 200.00) for one test or round, so a sale in one
 * does not close another's. */
static void product(const char *id)
{
    assert_int_equal(test_product_new(t.db, id, 20000), 0);
}

/* A new offer by TOKEN on product, through p; returns its version and fills id. */
static long long offer(const struct offerd_proc *p, const char *token, const char *product_id,
                       char id[80])
{
    struct test_write w = test_offer_new(p, token, product_id, "150");
    if (w.status != 201)
        fail_msg("a new offer on %s through :%d answered %ld", product_id, p->port, w.status);
    assert_true(w.version > 0);
    snprintf(id, 80, "%s", w.id);
    return w.version;
}

static struct sse_reader *watch(const struct offerd_proc *p, const char *token, const char *id,
                                long long version)
{
    char url[256], needle[64];
    snprintf(url, sizeof(url), "%s/api/offers/%s/events", p->base_url, id);
    struct sse_reader *s = sse_open(url, token, NULL);
    assert_non_null(s);
    snprintf(needle, sizeof(needle), "id: %lld\n", version);
    assert_true(sse_wait_for(s, needle, 0, DELIVERY_BOUND_MS) > 0); /* the offer now */
    return s;
}

/* True when stream s shows version of its offer within DELIVERY_BOUND_MS. */
static bool stream_shows(struct sse_reader *s, long long version)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "id: %lld\n", version);
    return sse_wait_for(s, needle, 0, DELIVERY_BOUND_MS) > 0;
}

static long long db_version(const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT version FROM offers WHERE id = '%s'", id);
    return seed_query_int(t.db, sql, -1);
}

/* Transactions a test holds open across others' writes. The per-test teardown ends any that a
 * failed test left open, so that none holds back (or locks rows of) a later test. */
enum { HELD_SLOTS = 2 };
static struct seed_conn *held[HELD_SLOTS];

/* Opens a connection, begins a transaction and runs SQL in it (taking its xid and log row),
 * keeping it open in slot. */
static void hold_open(int slot, const char *sql)
{
    held[slot] = seed_conn_open(t.db, false);
    assert_non_null(held[slot]);
    assert_int_equal(seed_conn_begin_write(held[slot]), 0);
    assert_int_equal(seed_conn_exec(held[slot], sql), 0);
}

/* Ends slot's transaction with END ("COMMIT" or "ROLLBACK"). */
static void end_held(int slot, const char *end)
{
    int rc = seed_conn_exec(held[slot], end);
    seed_conn_close(held[slot]);
    held[slot] = NULL;
    assert_int_equal(rc, 0);
}

static int end_held_transactions(void **state)
{
    (void)state;
    for (int i = 0; i < HELD_SLOTS; i++) {
        seed_conn_close(held[i]); /* closing rolls back what is still open */
        held[i] = NULL;
    }
    return 0;
}

/* A long-poll answered with 200 showing `needle`, after having been held (not answered at once),
 * and within the bound of written_at_s. */
static void assert_woken(struct test_longpoll *lp, double written_at_s, const char *needle)
{
    assert_true(test_longpoll_wait(lp, DELIVERY_BOUND_MS + 1000));
    assert_int_equal(lp->status, 200);
    assert_non_null(lp->body);
    if (!strstr(lp->body, needle))
        fail_msg("long-poll %s answered %s, without %s", lp->path, lp->body, needle);
    assert_true(lp->answered_at_s >= written_at_s);
    assert_true(lp->answered_at_s - written_at_s < DELIVERY_BOUND_MS / 1000.0);
    print_message("  %s on :%d answered %.0f ms after the write\n", lp->path, lp->p->port,
                  (lp->answered_at_s - written_at_s) * 1000);
}

static void test_write_on_one_instance_wakes_watchers_on_another(void **state)
{
    (void)state;
    char id[80], needle[64];
    product("p_wake");
    long long v = offer(A, t.buyer, "p_wake", id);
    struct sse_reader *s = watch(B, t.seller, id, v);
    struct test_longpoll *lp = test_longpoll_start(B, t.buyer, id, v, 30);
    test_sleep_ms(300); /* held by now */
    assert_false(atomic_load(&lp->done));

    double written = test_now_s();
    struct test_write w = test_offer_counter(A, t.seller, id, "180");
    assert_int_equal(w.status, 201);
    assert_int_equal(w.version, v + 1);
    snprintf(needle, sizeof(needle), "\"version\":%lld,", w.version);
    assert_woken(lp, written, needle);
    test_longpoll_free(lp);
    assert_true(stream_shows(s, w.version));

    /* The buyer accepts through the third instance: B's stream shows the sale. */
    struct test_write acc = test_offer_decide(C, t.buyer, id, "ACCEPTED");
    assert_int_equal(acc.status, 200);
    assert_true(stream_shows(s, acc.version));
    assert_true(sse_wait_for(s, "\"status\":\"ACCEPTED\"", 0, DELIVERY_BOUND_MS) > 0);
    assert_true(sse_wait_for(s, "\"isSold\":true", 0, DELIVERY_BOUND_MS) > 0);
    sse_close(s);
}

static void test_outside_write_wakes_watchers_on_every_instance(void **state)
{
    (void)state;
    char id[80];
    product("p_psql");
    long long v = offer(B, t.buyer, "p_psql", id);
    struct sse_reader *streams[INSTANCES];
    struct test_longpoll *polls[INSTANCES];
    for (int i = 0; i < INSTANCES; i++) {
        streams[i] = watch(&t.p[i], t.seller, id, v);
        polls[i] = test_longpoll_start(&t.p[i], t.buyer, id, v, 30);
    }
    test_sleep_ms(300);

    /* As psql or the web app would: plain SQL, the triggers bump the version and notify. */
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'from psql' WHERE id = '%s'", id);
    double written = test_now_s();
    assert_int_equal(seed_exec(t.db, sql), 0);
    assert_int_equal(db_version(id), v + 1);
    for (int i = 0; i < INSTANCES; i++) {
        assert_woken(polls[i], written, "\"message\":\"from psql\"");
        test_longpoll_free(polls[i]);
        assert_true(stream_shows(streams[i], v + 1));
        assert_true(sse_wait_for(streams[i], "from psql", 0, DELIVERY_BOUND_MS) > 0);
        sse_close(streams[i]);
    }
}

/* One decision sent by one thread, released with the others by a barrier. */
struct decision {
    const struct offerd_proc *p;
    const char *token;
    char offer_id[80];
    const char *status;
    pthread_barrier_t *go;
    struct test_write result;
};

static void *decide_run(void *arg)
{
    struct decision *d = arg;
    pthread_barrier_wait(d->go);
    d->result = test_offer_decide(d->p, d->token, d->offer_id, d->status);
    return NULL;
}

/* Fires the decisions at once; returns the index of the only one that succeeded (200). Every
 * other one was refused as a conflict (409) or as busy (503 with Retry-After), never a 500. */
static int race(struct decision *d, int n)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    pthread_t threads[INSTANCES];
    for (int i = 0; i < n; i++) {
        d[i].go = &go;
        pthread_create(&threads[i], NULL, decide_run, &d[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&go);
    int winner = -1, winners = 0;
    for (int i = 0; i < n; i++) {
        long st = d[i].result.status;
        if (st == 200) {
            winner = i;
            winners++;
        } else if (st == 503) {
            assert_true(d[i].result.retry_after);
        } else if (st != 409) {
            fail_msg("%s of %s through :%d answered %ld", d[i].status, d[i].offer_id, d[i].p->port,
                     st);
        }
    }
    assert_int_equal(winners, 1);
    return winner;
}

/* GET of offer id through p shows version within the bound (an instance's cache learns of
 * another's write through the change feed, so this is eventual, not at once). */
static bool eventually_reads(const struct offerd_proc *p, const char *id, long long version)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/offers/%s", id);
    for (int64_t end = test_now_ms() + DELIVERY_BOUND_MS; test_now_ms() < end; test_sleep_ms(20)) {
        struct test_write r = test_write(p, "GET", path, t.seller, NULL, 0);
        assert_int_equal(r.status, 200);
        if (r.version == version)
            return true;
    }
    return false;
}

static long long count_in(const char *product_id, const char *status)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM offers WHERE product_id = '%s' AND status = '%s'", product_id,
             status);
    return seed_query_int(t.db, sql, -1);
}

static void test_concurrent_accepts_on_one_product_leave_one_sale(void **state)
{
    (void)state;
    const char *buyers[INSTANCES] = {t.buyer, t.buyer2, t.stranger};
    int busy = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        char product_id[64];
        snprintf(product_id, sizeof(product_id), "p_race_%d", round);
        product(product_id);
        struct decision d[INSTANCES];
        for (int i = 0; i < INSTANCES; i++) {
            /* Each buyer offers through its own instance; the seller accepts each through a
             * different instance, all at once. */
            d[i] = (struct decision){
                &t.p[(i + round) % INSTANCES], t.seller, "", "ACCEPTED", NULL, {0}};
            offer(&t.p[i], buyers[i], product_id, d[i].offer_id);
        }
        int winner = race(d, INSTANCES);
        for (int i = 0; i < INSTANCES; i++)
            busy += d[i].result.status == 503;
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT status = 'ACCEPTED' FROM offers WHERE id = '%s'",
                 d[winner].offer_id);
        assert_int_equal(seed_query_int(t.db, sql, -1), 1);
        assert_int_equal(count_in(product_id, "ACCEPTED"), 1);
        assert_int_equal(count_in(product_id, "REJECTED"), INSTANCES - 1);
        snprintf(sql, sizeof(sql), "SELECT is_sold FROM products WHERE id = '%s'", product_id);
        assert_int_equal(seed_query_int(t.db, sql, -1), 1);
        /* Every instance tells the losers the same: the offer is REJECTED, the product sold. */
        for (int i = 0; i < INSTANCES; i++) {
            if (i == winner)
                continue;
            for (int k = 0; k < INSTANCES; k++)
                assert_true(eventually_reads(&t.p[k], d[i].offer_id, db_version(d[i].offer_id)));
        }
    }
    print_message("  %d rounds of %d accepts: one sale each, %d refusals were 503\n", RACE_ROUNDS,
                  INSTANCES, busy);
}

static void test_racing_decisions_on_one_offer_one_wins(void **state)
{
    (void)state;
    const char *decisions[INSTANCES] = {"ACCEPTED", "REJECTED", "ACCEPTED"};
    for (int round = 0; round < RACE_ROUNDS; round++) {
        char product_id[64], id[80];
        snprintf(product_id, sizeof(product_id), "p_decide_%d", round);
        product(product_id);
        long long v = offer(&t.p[round % INSTANCES], t.buyer, product_id, id);
        struct decision d[INSTANCES];
        for (int i = 0; i < INSTANCES; i++) {
            d[i] = (struct decision){
                &t.p[(i + round) % INSTANCES], t.seller, "", decisions[i], NULL, {0}};
            snprintf(d[i].offer_id, sizeof(d[i].offer_id), "%s", id);
        }
        int winner = race(d, INSTANCES);
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT status = '%s' FROM offers WHERE id = '%s'",
                 d[winner].status, id);
        assert_int_equal(seed_query_int(t.db, sql, -1), 1);
        assert_int_equal(db_version(id), v + 1); /* one write, one bump */
        assert_int_equal(d[winner].result.version, v + 1);
    }
}

/* The case a change-log cursor at "seq > last" gets wrong: a transaction takes its log row (a
 * lower seq) first and commits last, after another write's row (a higher seq) was read. */
static void test_a_transaction_committing_late_is_still_delivered(void **state)
{
    (void)state;
    char late[80], early[80], sql[256];
    product("p_late");
    long long v_late = offer(A, t.buyer, "p_late", late);
    long long v_early = offer(A, t.buyer2, "p_late", early);
    struct sse_reader *late_stream = watch(B, t.seller, late, v_late);
    struct sse_reader *early_stream = watch(B, t.seller, early, v_early);
    struct test_longpoll *lp = test_longpoll_start(B, t.buyer, late, v_late, 30);

    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'committed late' WHERE id = '%s'",
             late);
    hold_open(0, sql); /* its log row and xid are taken now */

    struct test_write w = test_offer_counter(A, t.seller, early, "190");
    assert_int_equal(w.status, 201);
    /* Whether B shows the early write while the other transaction is still open is the next
     * test's question; here B gets time to read past it. */
    bool early_seen = stream_shows(early_stream, w.version);
    test_sleep_ms(1500);
    assert_false(atomic_load(&lp->done)); /* nothing uncommitted is ever shown */

    double committed = test_now_s();
    end_held(0, "COMMIT");
    assert_woken(lp, committed, "\"message\":\"committed late\"");
    test_longpoll_free(lp);
    assert_true(stream_shows(late_stream, v_late + 1));
    assert_true(sse_wait_for(late_stream, "committed late", 0, DELIVERY_BOUND_MS) > 0);
    assert_true(early_seen || stream_shows(early_stream, w.version));
    sse_close(late_stream);
    sse_close(early_stream);
}

/* A transaction left open (a slow batch job, a psql session) must not hold back every other
 * write's delivery to other instances until it ends. */
static void test_an_open_transaction_does_not_hold_back_other_writes(void **state)
{
    (void)state;
    char held_id[80], id[80], sql[256];
    product("p_open");
    offer(A, t.buyer, "p_open", held_id);
    long long v = offer(A, t.buyer2, "p_open", id);
    struct sse_reader *s = watch(B, t.seller, id, v);
    struct test_longpoll *lp = test_longpoll_start(B, t.buyer2, id, v, 30);

    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'still open' WHERE id = '%s'", held_id);
    hold_open(0, sql);

    double written = test_now_s();
    struct test_write w = test_offer_counter(C, t.seller, id, "190");
    assert_int_equal(w.status, 201);
    char needle[64];
    snprintf(needle, sizeof(needle), "\"version\":%lld,", w.version);
    bool answered = test_longpoll_wait(lp, DELIVERY_BOUND_MS);
    bool streamed = stream_shows(s, w.version);
    end_held(0, "ROLLBACK");
    if (!answered || !streamed)
        fail_msg("a write through :%d reached B (long-poll %s, stream %s) only after another "
                 "transaction ended",
                 C->port, answered ? "yes" : "no", streamed ? "yes" : "no");
    assert_woken(lp, written, needle);
    test_longpoll_free(lp);
    sse_close(s);
}

/* Held open: X (the oldest), then Y, which takes its xid next; another write commits and is
 * delivered; then Y commits while X is still open. Y is above the oldest open transaction and
 * below a transaction already delivered: it must reach watchers now, not when X ends. */
static void test_a_late_commit_behind_an_open_transaction_is_not_held_back(void **state)
{
    (void)state;
    char x_id[80], y_id[80], z_id[80], sql[256];
    product("p_behind");
    offer(A, t.buyer, "p_behind", x_id);
    long long v_y = offer(A, t.buyer2, "p_behind", y_id);
    long long v_z = offer(A, t.stranger, "p_behind", z_id);
    struct sse_reader *y_stream = watch(B, t.seller, y_id, v_y);
    struct sse_reader *z_stream = watch(B, t.seller, z_id, v_z);

    enum { X, Y };
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'x' WHERE id = '%s'", x_id);
    hold_open(X, sql);
    snprintf(sql, sizeof(sql), "UPDATE offers SET message = 'y committed' WHERE id = '%s'", y_id);
    hold_open(Y, sql);

    struct test_write z = test_offer_counter(C, t.seller, z_id, "190");
    assert_int_equal(z.status, 201);
    bool z_seen = stream_shows(z_stream, z.version);
    end_held(Y, "COMMIT");
    bool y_seen = stream_shows(y_stream, v_y + 1);
    end_held(X, "ROLLBACK");
    bool y_seen_after_x = y_seen || stream_shows(y_stream, v_y + 1);
    sse_close(y_stream);
    sse_close(z_stream);
    if (!z_seen || !y_seen)
        fail_msg("with a transaction open: the later write reached B: %s; the late commit below "
                 "it reached B: %s (and once the open one ended: %s)",
                 z_seen ? "yes" : "no", y_seen ? "yes" : "no", y_seen_after_x ? "yes" : "no");
}

int main(void)
{
    /* This file is about PostgreSQL only: it runs on it whatever the suite's backend, and skips
     * (77) without one unless OFFERD_TEST_REQUIRE_PG=1 (test_backend.h). */
    setenv("OFFERD_TEST_BACKEND", "postgresql", 1);
    test_backend_require();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_write_on_one_instance_wakes_watchers_on_another,
                                  end_held_transactions),
        cmocka_unit_test_teardown(test_outside_write_wakes_watchers_on_every_instance,
                                  end_held_transactions),
        cmocka_unit_test_teardown(test_concurrent_accepts_on_one_product_leave_one_sale,
                                  end_held_transactions),
        cmocka_unit_test_teardown(test_racing_decisions_on_one_offer_one_wins,
                                  end_held_transactions),
        cmocka_unit_test_teardown(test_a_transaction_committing_late_is_still_delivered,
                                  end_held_transactions),
        cmocka_unit_test_teardown(test_an_open_transaction_does_not_hold_back_other_writes,
                                  end_held_transactions),
        cmocka_unit_test_teardown(test_a_late_commit_behind_an_open_transaction_is_not_held_back,
                                  end_held_transactions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
