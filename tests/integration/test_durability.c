/* test_durability.c - kill -9 offerd under mixed load; every acknowledged write survives.
 *
 * Writer threads create offers as fast as they can, a negotiator creates offers and has the
 * seller counter each one, pollers read (plain and conditional) and long-poll meanwhile; every 2xx
 * write is remembered. The server is killed with SIGKILL mid-stream, restarted on the same file,
 * and each acknowledged write must be there (a counter: its row, and the offer at least at the
 * version the 201 showed), with a SQLite file passing PRAGMA integrity_check. On PostgreSQL the
 * kill is of offerd alone: every write it acknowledged was committed by the server.
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
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "spawn_offerd.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

#define WRITERS 4
#define POLLERS 3
#define MAX_ACKS 20000

struct writer {
    const char *base_url;
    const char *token;
    char (*acked)[80];
    size_t acked_count;
    atomic_bool *stop;
};

static void *write_loop(void *arg)
{
    struct writer *w = arg;
    const char *json[] = {"Content-Type: application/json", NULL};
    while (!atomic_load(w->stop) && w->acked_count < MAX_ACKS / WRITERS) {
        struct http_response r;
        if (http_call(w->base_url, "POST", "/api/offers", w->token, json,
                      "{\"productId\":\"p_driver\",\"amount\":150}", 0, &r) == 0 &&
            r.status == 201) {
            json_t *j = json_loads(r.body, 0, NULL);
            snprintf(w->acked[w->acked_count++], 80, "%s",
                     json_string_value(json_object_get(j, "id")));
            json_decref(j);
        }
        http_response_cleanup(&r);
    }
    return NULL;
}

/* Buyer makes an offer, seller counters it at 180.00: both acknowledged or not at all. */
struct negotiator {
    const char *base_url;
    const char *buyer, *seller;
    char (*countered)[80];      /* offer ids whose counter was acknowledged */
    long long *version;         /* the version the counter's 201 showed */
    size_t count, max;
    atomic_bool *stop;
};

static void *negotiate_loop(void *arg)
{
    struct negotiator *n = arg;
    const char *json[] = {"Content-Type: application/json", NULL};
    while (!atomic_load(n->stop) && n->count < n->max) {
        struct http_response r;
        char id[80] = "";
        if (http_call(n->base_url, "POST", "/api/offers", n->buyer, json,
                      "{\"productId\":\"p_driver\",\"amount\":150}", 0, &r) == 0 &&
            r.status == 201) {
            json_t *j = json_loads(r.body, 0, NULL);
            snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
            json_decref(j);
        }
        http_response_cleanup(&r);
        if (!id[0])
            continue;
        char path[256];
        snprintf(path, sizeof(path), "/api/offers/%s/counter", id);
        if (http_call(n->base_url, "POST", path, n->seller, json, "{\"amount\":180}", 0, &r) == 0 &&
            r.status == 201) {
            json_t *j = json_loads(r.body, 0, NULL);
            snprintf(n->countered[n->count], 80, "%s", id);
            n->version[n->count++] = json_integer_value(json_object_get(j, "version"));
            json_decref(j);
        }
        http_response_cleanup(&r);
    }
    return NULL;
}

/* Reads meanwhile: full GETs, conditional GETs and 1 s long-polls on the fixture's offer. Only
 * 200 and 304 are expected while the server lives. */
struct poller {
    const char *base_url;
    const char *token;
    size_t answered, unexpected;
    atomic_bool *stop;
};

static void *poll_loop(void *arg)
{
    struct poller *pl = arg;
    char path[256], inm[128] = "";
    for (unsigned i = 0; !atomic_load(pl->stop); i++) {
        const char *tail = i % 50 == 49 ? "?wait=1&since=1000000" : "";
        snprintf(path, sizeof(path), "/api/offers/o_pending%s", tail);
        const char *headers[] = {i % 2 && inm[0] ? inm : NULL, NULL};
        struct http_response r;
        if (http_call(pl->base_url, "GET", path, pl->token, headers, NULL, 3000, &r) == 0) {
            if (r.status == 200 || r.status == 304) {
                pl->answered++;
                char etag[96];
                if (http_header(&r, "ETag", etag, sizeof(etag)))
                    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
            } else if (r.status != 0) {
                pl->unexpected++;
            }
        }
        http_response_cleanup(&r);
    }
    return NULL;
}

/* Of the n offers ids[] (with versions[], if not NULL: each a counter acknowledged at that
 * version), how many are not in the database as acknowledged: a missing row, or for a counter an
 * older version, another status or no seller's 180.00 counter. Asked 200 at a time, in SQL both
 * stores read (VALUES rows are column1, column2 in each). */
static size_t count_missing(struct seed_conn *c, char (*ids)[80], const long long *versions,
                            size_t n)
{
    size_t missing = 0;
    char *sql = malloc(200 * 120 + 1024);
    for (size_t at = 0; at < n; at += 200) {
        size_t chunk = n - at < 200 ? n - at : 200, len = 0;
        len += (size_t)sprintf(sql + len, "SELECT count(*) FROM (VALUES ");
        for (size_t k = 0; k < chunk; k++)
            len += (size_t)sprintf(sql + len, "%s('%s', %lld)", k ? ", " : "", ids[at + k],
                                   versions ? versions[at + k] : 0);
        len += (size_t)sprintf(sql + len, ") AS acked JOIN offers o ON o.id = acked.column1");
        if (versions)
            sprintf(sql + len, " WHERE o.version >= acked.column2 AND o.status = 'COUNTERED' AND"
                               " (SELECT count(*) FROM counter_offers c WHERE c.offer_id = o.id"
                               " AND c.amount = 18000 AND c.from_seller = TRUE) = 1");
        long long found = -1;
        assert_int_equal(seed_conn_query_ints(c, sql, &found, 1), 1);
        missing += chunk - (size_t)found;
    }
    free(sql);
    return missing;
}

static void test_kill9_under_mixed_load_loses_no_acknowledged_write(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new();
    char db[512];
    assert_int_equal(test_db_new(dir, "t.db", db, sizeof(db)), 0);
    struct offerd_proc p;
    const char *no_log[] = {"--access-log=0", NULL};
    assert_int_equal(offerd_start(&p, db, no_log), 0);
    assert_int_equal(seed_fixture(db), 0);
    char *token = test_token(SEED_BUYER_TOKEN_SUB, 3600);
    char *seller = test_token(SEED_SELLER_TOKEN_SUB, 3600);

    atomic_bool stop = false;
    struct writer writers[WRITERS];
    pthread_t threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = (struct writer){p.base_url, token, calloc(MAX_ACKS / WRITERS, 80), 0, &stop};
        pthread_create(&threads[i], NULL, write_loop, &writers[i]);
    }
    struct negotiator neg = {p.base_url, token, seller, calloc(MAX_ACKS, 80),
                             calloc(MAX_ACKS, sizeof(long long)), 0, MAX_ACKS, &stop};
    pthread_t neg_thread;
    pthread_create(&neg_thread, NULL, negotiate_loop, &neg);
    struct poller pollers[POLLERS];
    pthread_t poll_threads[POLLERS];
    for (int i = 0; i < POLLERS; i++) {
        pollers[i] = (struct poller){p.base_url, i % 2 ? seller : token, 0, 0, &stop};
        pthread_create(&poll_threads[i], NULL, poll_loop, &pollers[i]);
    }
    test_sleep_ms(1500);
    offerd_kill9(&p); /* mid-stream: some requests are in flight */
    atomic_store(&stop, true);
    size_t total = 0, reads = 0, unexpected = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        total += writers[i].acked_count;
    }
    pthread_join(neg_thread, NULL);
    for (int i = 0; i < POLLERS; i++) {
        pthread_join(poll_threads[i], NULL);
        reads += pollers[i].answered;
        unexpected += pollers[i].unexpected;
    }
    print_message("before SIGKILL: %zu offers and %zu counters acknowledged, %zu reads answered\n",
                  total, neg.count, reads);
    assert_true(total > 10);
    assert_true(neg.count > 2);
    assert_true(reads > 10);
    assert_int_equal(unexpected, 0);

    assert_int_equal(offerd_start(&p, db, no_log), 0); /* SQLite: recovers the WAL on open */
    struct seed_conn *check = seed_conn_open(db, false);
    assert_non_null(check);
    if (!test_backend_is_pg()) {
        char *verdict = NULL;
        assert_int_equal(seed_conn_query_text(check, "PRAGMA integrity_check", &verdict), 1);
        assert_string_equal(verdict, "ok");
        free(verdict);
    }
    size_t missing = 0;
    for (int i = 0; i < WRITERS; i++)
        missing += count_missing(check, writers[i].acked, NULL, writers[i].acked_count);
    assert_int_equal(missing, 0);

    /* Every acknowledged counter: its row is there and the offer is at least at that version. */
    size_t lost_counters = count_missing(check, neg.countered, neg.version, neg.count);
    seed_conn_close(check);
    assert_int_equal(lost_counters, 0);

    /* And the restarted server serves them. */
    struct http_response r;
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/%s", p.base_url, writers[0].acked[0]);
    assert_int_equal(http_get(url, token, &r), 0);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);

    assert_int_equal(offerd_stop(&p), 0);
    for (int i = 0; i < WRITERS; i++)
        free(writers[i].acked);
    free(neg.countered);
    free(neg.version);
    free(token);
    free(seller);
    test_db_drop(db);
    test_tmpdir_remove(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_under_mixed_load_loses_no_acknowledged_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
