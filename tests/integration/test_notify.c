/* test_notify.c - the change-notification module against a real SQLite store, no HTTP.
 *
 * Waiters here resume nothing: their wake callback records that it ran, so each rule (fire once,
 * deduplicate versions, deadlines, cancel, caps, shutdown, the lost-wakeup guard, outside writes
 * and expiries from the change log) is checked directly.
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

#include "notify.h"
#include "spawn_offerd.h"
#include "store.h"
#include "test_seed.h"

struct probe {
    struct notify_waiter w;
    atomic_int wakes;
};

static void on_wake(void *userdata)
{
    struct probe *p = userdata;
    atomic_fetch_add(&p->wakes, 1);
}

static void probe_init(struct probe *p, int64_t deadline_in_ms)
{
    memset(p, 0, sizeof(*p));
    p->w.wake = on_wake;
    p->w.userdata = p;
    p->w.deadline_ms = notify_now_ms() + deadline_in_ms;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to ms for p to have woken n times. */
static bool woke(struct probe *p, int n, int ms)
{
    for (int i = 0; i < ms / 5 && atomic_load(&p->wakes) < n; i++)
        sleep_ms(5);
    return atomic_load(&p->wakes) == n;
}

struct env {
    char *dir;
    char db[512];
    struct store *store;
    struct notify *notify;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    e->dir = test_tmpdir_new();
    snprintf(e->db, sizeof(e->db), "%s/n.db", e->dir);
    char err[256];
    struct store_sqlite_options o = {e->db, 2000};
    e->store = store_sqlite_open(&o, err, sizeof(err));
    if (!e->store || seed_fixture(e->db) != 0)
        return -1;
    struct notify_options no = {10, 4, 2};
    e->notify = notify_new(e->store, &no, err, sizeof(err));
    if (!e->notify)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    notify_shutdown(e->notify);
    notify_free(e->notify);
    store_close(e->store);
    test_tmpdir_remove(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

static void test_publish_fires_once_and_dedupes(void **state)
{
    struct env *e = *state;
    struct probe a, b, other;
    probe_init(&a, 60000);
    probe_init(&b, 60000);
    probe_init(&other, 60000);
    const char *ids[] = {"x1"};
    const char *ids2[] = {"x2"};
    uint64_t seen = notify_seq(e->notify);
    notify_wait(e->notify, &a.w, ids, 1, NULL, seen);
    notify_wait(e->notify, &b.w, NULL, 0, "u_buyer", seen);
    notify_wait(e->notify, &other.w, ids2, 1, NULL, seen);
    notify_publish(e->notify, "x1", 5, "u_buyer", "u_seller");
    assert_int_equal(atomic_load(&a.wakes), 1);
    assert_int_equal(a.w.reason, NOTIFY_CHANGED);
    assert_int_equal(a.w.changed_count, 1);
    assert_string_equal(a.w.changed[0], "x1");
    assert_int_equal(atomic_load(&b.wakes), 1); /* the buyer's user key */
    assert_string_equal(b.w.changed[0], "x1");
    assert_int_equal(atomic_load(&other.wakes), 0);

    /* The same or an older version again (the change log after the hook): nothing fires. */
    probe_init(&a, 60000);
    seen = notify_seq(e->notify);
    notify_wait(e->notify, &a.w, ids, 1, NULL, seen);
    notify_publish(e->notify, "x1", 5, "u_buyer", "u_seller");
    notify_publish(e->notify, "x1", 4, "u_buyer", "u_seller");
    assert_int_equal(atomic_load(&a.wakes), 0);
    notify_publish(e->notify, "x1", 6, NULL, NULL);
    assert_int_equal(atomic_load(&a.wakes), 1);
    notify_cancel(e->notify, &other.w);
    notify_publish(e->notify, "x2", 1, NULL, NULL);
    assert_int_equal(atomic_load(&other.wakes), 0); /* cancelled: no wake */
}

static void test_no_lost_wakeup(void **state)
{
    struct env *e = *state;
    struct probe p;
    probe_init(&p, 60000);
    const char *ids[] = {"x3"};
    uint64_t seen = notify_seq(e->notify);       /* a handler captures this, then reads... */
    notify_publish(e->notify, "x3", 2, NULL, NULL); /* ...a change lands before it waits... */
    notify_wait(e->notify, &p.w, ids, 1, NULL, seen);
    assert_int_equal(atomic_load(&p.wakes), 1);   /* ...and it is woken at once */
    assert_int_equal(p.w.reason, NOTIFY_CHANGED);
}

static void test_deadlines_fire_in_order(void **state)
{
    struct env *e = *state;
    struct probe late, soon;
    probe_init(&late, 400);
    probe_init(&soon, 100);
    const char *ids[] = {"x4"};
    notify_wait(e->notify, &late.w, ids, 1, NULL, notify_seq(e->notify));
    notify_wait(e->notify, &soon.w, ids, 1, NULL, notify_seq(e->notify));
    assert_true(woke(&soon, 1, 2000));
    assert_int_equal(soon.w.reason, NOTIFY_DEADLINE);
    assert_int_equal(atomic_load(&late.wakes), 0);
    assert_true(woke(&late, 1, 2000));
    assert_int_equal(late.w.reason, NOTIFY_DEADLINE);
}

static void test_admission_caps(void **state)
{
    struct env *e = *state;
    /* max_held 4, per user 2 */
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_TOO_MANY_FOR_USER);
    assert_int_equal(notify_admit(e->notify, "b"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "c"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "d"), NOTIFY_TOO_MANY);
    assert_int_equal(notify_held(e->notify), 4);
    notify_release(e->notify, "a");
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_ADMITTED);
    notify_release(e->notify, "a");
    notify_release(e->notify, "a");
    notify_release(e->notify, "b");
    notify_release(e->notify, "c");
    assert_int_equal(notify_held(e->notify), 0);
}

static void test_outside_writes_and_expiry_reach_waiters(void **state)
{
    struct env *e = *state;
    struct probe p;
    probe_init(&p, 10000);
    const char *ids[] = {"o_pending"};
    notify_wait(e->notify, &p.w, ids, 1, NULL, notify_seq(e->notify));
    assert_int_equal(seed_exec(e->db, "UPDATE offers SET message = 'outside' WHERE id = 'o_pending'"), 0);
    assert_true(woke(&p, 1, 3000));
    assert_int_equal(p.w.reason, NOTIFY_CHANGED);

    /* Expiry: an offer due in 300 ms is expired by the clock and its watchers woken. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long due = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 300;
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE offers SET expires_at = %lld WHERE id = 'o_countered'", due);
    const char *ids2[] = {"o_countered"};
    probe_init(&p, 10000);
    assert_int_equal(seed_exec(e->db, sql), 0);
    sleep_ms(50); /* let the edit itself be published first */
    notify_wait(e->notify, &p.w, ids2, 1, NULL, notify_seq(e->notify));
    assert_true(woke(&p, 1, 5000));
    assert_int_equal(seed_query_int(e->db, "SELECT status = 'EXPIRED' FROM offers WHERE id = 'o_countered'", 0), 1);
}

static void test_shutdown_fires_everyone_and_later_waits(void **state)
{
    struct env *e = *state;
    struct probe a, b;
    probe_init(&a, 60000);
    probe_init(&b, 60000);
    const char *ids[] = {"x9"};
    notify_wait(e->notify, &a.w, ids, 1, NULL, notify_seq(e->notify));
    notify_shutdown(e->notify);
    assert_int_equal(atomic_load(&a.wakes), 1);
    assert_int_equal(a.w.reason, NOTIFY_SHUTDOWN);
    notify_wait(e->notify, &b.w, ids, 1, NULL, notify_seq(e->notify));
    assert_int_equal(atomic_load(&b.wakes), 1);
    assert_int_equal(b.w.reason, NOTIFY_SHUTDOWN);
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_SHUTTING_DOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_fires_once_and_dedupes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlines_fire_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_writes_and_expiry_reach_waiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_fires_everyone_and_later_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
