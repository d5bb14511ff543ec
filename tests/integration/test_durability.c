/* test_durability.c - kill -9 offerd while clients write; every acknowledged write survives.
 *
 * Writer threads create offers and counter them as fast as they can and remember every 2xx they
 * got. The server is killed with SIGKILL mid-stream, restarted on the same file, and each
 * acknowledged write must be there, with the database passing PRAGMA integrity_check.
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
#include <sqlite3.h>

#include "spawn_offerd.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

#define WRITERS 4
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
    char url[256], auth[4096];
    snprintf(url, sizeof(url), "%s/api/offers", w->base_url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    while (!atomic_load(w->stop) && w->acked_count < MAX_ACKS / WRITERS) {
        struct http_response r;
        if (http_request("POST", url, headers, "{\"productId\":\"p_driver\",\"amount\":150}", &r) == 0 &&
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

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_kill9_loses_no_acknowledged_write(void **state)
{
    (void)state;
    char *dir = test_tmpdir_new();
    char db[512];
    snprintf(db, sizeof(db), "%s/t.db", dir);
    struct offerd_proc p;
    const char *no_log[] = {"--access-log=0", NULL};
    assert_int_equal(offerd_start(&p, db, no_log), 0);
    assert_int_equal(seed_fixture(db), 0);
    char *token = test_token(SEED_BUYER_TOKEN_SUB, 3600);

    atomic_bool stop = false;
    struct writer writers[WRITERS];
    pthread_t threads[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        writers[i] = (struct writer){p.base_url, token, calloc(MAX_ACKS / WRITERS, 80), 0, &stop};
        pthread_create(&threads[i], NULL, write_loop, &writers[i]);
    }
    sleep_ms(1500);
    offerd_kill9(&p); /* mid-stream: some requests are in flight */
    atomic_store(&stop, true);
    size_t total = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        total += writers[i].acked_count;
    }
    print_message("acknowledged writes before SIGKILL: %zu\n", total);
    assert_true(total > 10);

    assert_int_equal(offerd_start(&p, db, no_log), 0); /* recovers the WAL on open */
    sqlite3 *check = NULL;
    assert_int_equal(sqlite3_open(db, &check), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(check, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(check, "SELECT count(*) FROM offers WHERE id = ?", -1, &st, NULL), SQLITE_OK);
    size_t missing = 0;
    for (int i = 0; i < WRITERS; i++) {
        for (size_t k = 0; k < writers[i].acked_count; k++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, writers[i].acked[k], -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != 1)
                missing++;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(check);
    assert_int_equal(missing, 0);

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
    free(token);
    test_tmpdir_remove(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_loses_no_acknowledged_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
