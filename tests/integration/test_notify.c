/* test_notify.c - the change-notification module against a real store (SQLite or PostgreSQL), no
 * HTTP.
 *
 * Waiters here resume nothing: their wake callback records that it ran, so each rule (fire once,
 * deduplicate versions, deadlines, cancel, caps, shutdown, the lost-wakeup guard, outside writes
 * and expiries from the change log, forgetting idle keys without losing a wakeup) is checked
 * directly.
 *
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "realtime/notify.h"
#include "spawn_offerd.h"
#include "store/store.h"
#include "test_backend.h"
#include "test_clock.h"
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

/* Waits up to ms for p to have woken n times. */
static bool woke(struct probe *p, int n, int ms)
{
    for (int i = 0; i < ms / 5 && atomic_load(&p->wakes) < n; i++)
        test_sleep_ms(5);
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
    if (!e->dir || test_db_new(e->dir, "n.db", e->db, sizeof(e->db)) != 0)
        return -1;
    char err[256];
    struct store_options o = {.busy_timeout_ms = 2000};
    e->store = store_open(e->db, &o, err, sizeof(err));
    if (!e->store || seed_fixture(e->db) != 0)
        return -1;
    struct notify_options no = {.poll_interval_ms = 10, .max_held = 4, .max_held_per_user = 2};
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
    test_db_drop(e->db);
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

struct hook_probe {
    struct notify *notify;
    uint64_t seq_seen;
    int calls;
};

static void record_seq(const char *offer_id, int64_t version, void *userdata)
{
    (void)offer_id;
    (void)version;
    struct hook_probe *h = userdata;
    h->seq_seen = notify_seq(h->notify);
    h->calls++;
}

/* What a woken stream relies on to re-read only what changed, and to say how far it has got:
 * every change since its seen_seq is named, fired_seq lets the next wait catch what came after
 * the firing, fired_log_seq is the change-log row that fired it, and caches forget a rendering
 * before the sequence moves (else a reader past the new seq could be handed the old one). */
static void test_a_wake_names_every_change_and_where_it_fired(void **state)
{
    struct env *e = *state;
    struct probe p;
    probe_init(&p, 60000);
    const char *ids[] = {"m1", "m2", "m3"};
    uint64_t seen = notify_seq(e->notify);
    notify_publish(e->notify, "m1", 1, NULL, NULL);
    notify_publish(e->notify, "m3", 1, NULL, NULL);
    notify_wait(e->notify, &p.w, ids, 3, NULL, seen);
    assert_int_equal(atomic_load(&p.wakes), 1);
    assert_int_equal(p.w.changed_count, 2); /* both, not just the first */
    assert_string_equal(p.w.changed[0], "m1");
    assert_string_equal(p.w.changed[1], "m3");
    assert_false(p.w.changed_overflow);
    assert_true(p.w.fired_seq == notify_seq(e->notify));

    /* A change after the firing, before the handler waits again: its next wait fires at once. */
    probe_init(&p, 60000);
    notify_wait(e->notify, &p.w, ids, 3, NULL, notify_seq(e->notify));
    notify_publish(e->notify, "m2", 1, NULL, NULL);
    assert_int_equal(atomic_load(&p.wakes), 1);
    uint64_t fired = p.w.fired_seq;
    notify_publish(e->notify, "m1", 2, NULL, NULL); /* while the handler reads m2 */
    probe_init(&p, 60000);
    notify_wait(e->notify, &p.w, ids, 3, NULL, fired);
    assert_int_equal(atomic_load(&p.wakes), 1);
    assert_int_equal(p.w.changed_count, 1);
    assert_string_equal(p.w.changed[0], "m1");

    /* An outside write: the waiter learns its change-log row, and notify_log_seq covers it. */
    probe_init(&p, 10000);
    const char *pending[] = {"o_pending"};
    notify_wait(e->notify, &p.w, pending, 1, NULL, notify_seq(e->notify));
    assert_int_equal(seed_exec(e->db, "UPDATE offers SET message = 'logged' WHERE id = 'o_pending'"),
                     0);
    assert_true(woke(&p, 1, 3000));
    /* A position in the change log: its seq on SQLite, its transaction id on PostgreSQL. */
    long long row = seed_query_int(
        e->db,
        test_sql("SELECT max(seq) FROM offer_changes WHERE offer_id = 'o_pending'",
                 "SELECT max(xid::text::bigint) FROM offer_changes WHERE offer_id = 'o_pending'"),
        -1);
    assert_true(row > 0);
    if (test_backend_is_pg()) {
        /* Exact when no transaction is open anywhere on the server; one held open by another
         * test (xids are cluster-wide) makes the delivery early and its position xmin - 1, below
         * the row's own: never above it (that would skip it on a resume). */
        assert_true(p.w.fired_log_seq > 0 && p.w.fired_log_seq <= row);
    } else {
        assert_int_equal(p.w.fired_log_seq, row);
        assert_true(notify_log_seq(e->notify) >= row);
    }

    /* The version hook runs before the sequence moves. */
    struct hook_probe h = {e->notify, 0, 0};
    notify_set_version_hook(e->notify, record_seq, &h);
    uint64_t before = notify_seq(e->notify);
    notify_publish(e->notify, "m3", 2, NULL, NULL);
    notify_set_version_hook(e->notify, NULL, NULL);
    assert_int_equal(h.calls, 1);
    assert_true(h.seq_seen == before);
    assert_true(notify_seq(e->notify) > before);
}

/* A stream woken by the first offer of a burst captures notify_seq() only once it gets round to
 * reading; what was published on its keys between its firing and then must still reach it. */
static void test_burst_after_firing_is_not_lost(void **state)
{
    struct env *e = *state;
    struct probe p, u;
    probe_init(&p, 60000);
    probe_init(&u, 60000);
    const char *ids[] = {"b1", "b2", "b3"};
    uint64_t seen = notify_seq(e->notify);
    notify_wait(e->notify, &p.w, ids, 3, NULL, seen);
    notify_wait(e->notify, &u.w, NULL, 0, "u_buyer2", seen);
    notify_publish(e->notify, "b1", 2, "u_buyer2", "u_seller"); /* fires both */
    notify_publish(e->notify, "b2", 2, "u_buyer2", "u_seller"); /* before they re-wait */
    notify_publish(e->notify, "b3", 2, "u_buyer2", "u_seller");
    assert_int_equal(atomic_load(&p.wakes), 1);
    assert_int_equal(p.w.changed_count, 1);
    assert_string_equal(p.w.changed[0], "b1");
    assert_int_equal(atomic_load(&u.wakes), 1);

    seen = notify_seq(e->notify); /* captured late: after b2 and b3 */
    p.w.deadline_ms = u.w.deadline_ms = notify_now_ms() + 60000;
    notify_wait(e->notify, &p.w, ids, 3, NULL, seen);
    assert_int_equal(atomic_load(&p.wakes), 2); /* at once, naming both it missed */
    assert_int_equal(p.w.reason, NOTIFY_CHANGED);
    assert_int_equal(p.w.changed_count, 2);
    assert_string_equal(p.w.changed[0], "b2");
    assert_string_equal(p.w.changed[1], "b3");
    assert_false(p.w.changed_overflow);
    notify_wait(e->notify, &u.w, NULL, 0, "u_buyer2", seen);
    assert_int_equal(atomic_load(&u.wakes), 2);
    assert_true(u.w.changed_overflow); /* which of the user's offers: re-read them all */

    /* Told now: waiting again holds until the next change. */
    seen = notify_seq(e->notify);
    notify_wait(e->notify, &p.w, ids, 3, NULL, seen);
    assert_int_equal(atomic_load(&p.wakes), 2);
    notify_publish(e->notify, "b2", 3, NULL, NULL);
    assert_int_equal(atomic_load(&p.wakes), 3);
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

/* A watched socket whose peer closes fires its waiter with NOTIFY_GONE within a liveness check;
 * a socket that only receives data (a pipelined request) or stays quiet does not. */
static void test_closed_sockets_fire_gone(void **state)
{
    struct env *e = *state;
    int gone[2], chatty[2], quiet[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, gone), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, chatty), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, quiet), 0);
    struct probe g, c, q;
    probe_init(&g, 30000);
    probe_init(&c, 30000);
    probe_init(&q, 30000);
    g.w.watch_socket = c.w.watch_socket = q.w.watch_socket = true;
    g.w.socket_fd = gone[0];
    c.w.socket_fd = chatty[0];
    q.w.socket_fd = quiet[0];
    const char *ids[] = {"x_gone"};
    notify_wait(e->notify, &g.w, ids, 1, NULL, notify_seq(e->notify));
    notify_wait(e->notify, &c.w, ids, 1, NULL, notify_seq(e->notify));
    notify_wait(e->notify, &q.w, ids, 1, NULL, notify_seq(e->notify));
    assert_int_equal(write(chatty[1], "GET / HTTP/1.1\r\n\r\n", 18), 18);
    close(gone[1]);
    assert_true(woke(&g, 1, NOTIFY_LIVENESS_MS * 3));
    assert_int_equal(g.w.reason, NOTIFY_GONE);
    test_sleep_ms(NOTIFY_LIVENESS_MS + 200); /* at least one more check */
    assert_int_equal(atomic_load(&c.wakes), 0);
    assert_int_equal(atomic_load(&q.wakes), 0);
    notify_cancel(e->notify, &c.w);
    notify_cancel(e->notify, &q.w);
    close(gone[0]);
    close(chatty[0]);
    close(chatty[1]);
    close(quiet[0]);
    close(quiet[1]);
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
    test_sleep_ms(50); /* let the edit itself be published first */
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

/* ---- forgetting idle keys ---- */

static struct notify_stats stats_of(struct env *e)
{
    struct notify_stats st;
    notify_get_stats(e->notify, &st);
    return st;
}

/* Waits up to ms for the key count to reach at most want. */
static bool keys_drop_to(struct env *e, size_t want, int ms)
{
    for (int i = 0; i < ms / 5 && stats_of(e).keys > want; i++)
        test_sleep_ms(5);
    return stats_of(e).keys <= want;
}

static void test_idle_keys_are_forgotten_in_time(void **state)
{
    struct env *e = *state;
    notify_set_key_limits(e->notify, 200, 100000);
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "idle%d", i);
        notify_publish(e->notify, id, 1, "ua", "ub");
    }
    struct notify_stats st = stats_of(e);
    assert_true(st.keys >= 300 && st.keys <= 302); /* 300 offers and 2 users, all idle */
    assert_int_equal(st.idle_keys, st.keys);

    /* A key with a waiter stays however long it waits; the idle ones go. */
    struct probe p;
    probe_init(&p, 60000);
    const char *ids[] = {"kept"};
    notify_wait(e->notify, &p.w, ids, 1, "ua", notify_seq(e->notify));
    assert_true(keys_drop_to(e, 2, 3000));
    test_sleep_ms(400); /* well past the idle time */
    st = stats_of(e);
    assert_int_equal(st.keys, 2); /* o:kept and u:ua */
    assert_int_equal(st.idle_keys, 0);
    assert_true(st.keys_evicted >= 300);
    notify_publish(e->notify, "kept", 1, NULL, NULL);
    assert_int_equal(atomic_load(&p.wakes), 1); /* the entry it waited on was the live one */

    /* Once nothing waits, they go too: the table is back to empty. */
    assert_true(keys_drop_to(e, 0, 3000));
    assert_int_equal(stats_of(e).idle_keys, 0);
}

static void test_idle_keys_are_capped_and_waited_ones_kept(void **state)
{
    struct env *e = *state;
    notify_set_key_limits(e->notify, 600000, 50);
    struct probe probes[60];
    char held_ids[60][32];
    for (int i = 0; i < 60; i++) {
        probe_init(&probes[i], 60000);
        snprintf(held_ids[i], sizeof(held_ids[i]), "held%d", i);
        const char *ids[] = {held_ids[i]};
        notify_wait(e->notify, &probes[i].w, ids, 1, NULL, notify_seq(e->notify));
    }
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "churn%d", i);
        notify_publish(e->notify, id, 1, NULL, NULL);
        assert_true(stats_of(e).idle_keys <= 50);
    }
    struct notify_stats st = stats_of(e);
    assert_int_equal(st.keys, 60 + 50);
    assert_true(st.keys_evicted >= 950);
    /* Every waited-on key survived the churn: publishing it wakes its waiter. */
    for (int i = 0; i < 60; i++) {
        notify_publish(e->notify, held_ids[i], 1, NULL, NULL);
        assert_int_equal(atomic_load(&probes[i].wakes), 1);
        assert_string_equal(probes[i].w.changed[0], held_ids[i]);
    }
    assert_true(stats_of(e).keys <= 50);
}

static atomic_int version_calls;

static void count_version(const char *offer_id, int64_t version, void *userdata)
{
    (void)version;
    (void)userdata;
    if (strcmp(offer_id, "lw") == 0)
        atomic_fetch_add(&version_calls, 1);
}

/* Pushes everything else out of a 1-key idle table. */
static void churn(struct env *e, int round)
{
    char id[32];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof(id), "push%d_%d", round, i);
        notify_publish(e->notify, id, 1, NULL, NULL);
    }
}

static void test_eviction_loses_no_wakeup_and_no_version(void **state)
{
    struct env *e = *state;
    notify_set_key_limits(e->notify, 600000, 1);
    atomic_store(&version_calls, 0);
    notify_set_version_hook(e->notify, count_version, NULL);
    const char *ids[] = {"lw"};

    /* A handler captured seen, read v1... then lw moves to v2 and is forgotten before it waits. */
    uint64_t seen = notify_seq(e->notify);
    notify_publish(e->notify, "lw", 2, NULL, NULL);
    assert_int_equal(atomic_load(&version_calls), 1);
    uint64_t evicted = stats_of(e).keys_evicted;
    churn(e, 0);
    assert_true(stats_of(e).keys_evicted >= evicted + 20);
    assert_true(stats_of(e).keys <= 1);
    struct probe p;
    probe_init(&p, 60000);
    notify_wait(e->notify, &p.w, ids, 1, NULL, seen);
    assert_int_equal(atomic_load(&p.wakes), 1); /* woken at once: the change is not lost */
    assert_int_equal(p.w.reason, NOTIFY_CHANGED);

    /* Same through a user key. */
    seen = notify_seq(e->notify);
    notify_publish(e->notify, "lw_other", 7, "lw_user", NULL);
    churn(e, 1);
    probe_init(&p, 60000);
    notify_wait(e->notify, &p.w, NULL, 0, "lw_user", seen);
    assert_int_equal(atomic_load(&p.wakes), 1);
    assert_true(p.w.changed_overflow);

    /* A waiter that read after the change is not woken by it, and is by the next version, which
     * also reaches the version hook though lw was forgotten in between. */
    churn(e, 2);
    probe_init(&p, 60000);
    notify_wait(e->notify, &p.w, ids, 1, NULL, notify_seq(e->notify));
    assert_int_equal(atomic_load(&p.wakes), 0);
    notify_publish(e->notify, "lw", 3, NULL, NULL);
    assert_int_equal(atomic_load(&p.wakes), 1);
    assert_int_equal(atomic_load(&version_calls), 2);
    churn(e, 3);
    notify_publish(e->notify, "lw", 4, NULL, NULL);
    assert_int_equal(atomic_load(&version_calls), 3);
    notify_set_version_hook(e->notify, NULL, NULL);
}

static void test_user_counts_are_freed(void **state)
{
    struct env *e = *state;
    /* max_held 4, per user 2 */
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "a"), NOTIFY_TOO_MANY_FOR_USER);
    assert_int_equal(notify_admit(e->notify, "b"), NOTIFY_ADMITTED);
    assert_int_equal(stats_of(e).users, 2);
    assert_int_equal(notify_admit(e->notify, "c"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, "d"), NOTIFY_TOO_MANY);
    assert_int_equal(stats_of(e).users, 3); /* d was refused: nothing kept for it */
    notify_release(e->notify, "a");
    assert_int_equal(stats_of(e).users, 3);
    notify_release(e->notify, "a");
    notify_release(e->notify, "b");
    notify_release(e->notify, "c");
    notify_release(e->notify, "nobody"); /* unmatched: harmless */
    assert_int_equal(stats_of(e).users, 0);
    assert_int_equal(notify_held(e->notify), 0);
    char user[32];
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof(user), "many%d", i);
        assert_int_equal(notify_admit(e->notify, user), NOTIFY_ADMITTED);
        notify_release(e->notify, user);
    }
    assert_int_equal(stats_of(e).users, 0);
}

/* Publishers, waiters and cancellers on a small, fast-forgetting table at once (for the
 * sanitizers): nothing is touched after it is freed and the counts add up at the end. */
struct stress {
    struct env *e;
    atomic_bool stop;
    int seed;
};

static void *stress_publisher(void *arg)
{
    struct stress *s = arg;
    unsigned r = (unsigned)s->seed;
    int64_t version = 1;
    char id[32];
    while (!atomic_load(&s->stop)) {
        r = r * 1103515245u + 12345u;
        snprintf(id, sizeof(id), "s%u", (r >> 8) % 64);
        notify_publish(s->e->notify, id, version++, (r & 1) ? "su1" : "su2", "su3");
    }
    return NULL;
}

/* Makes p reusable: cancelled, or if it had fired, its wake has run (the owner's rule). */
static void probe_retire(struct env *e, struct probe *p, bool armed)
{
    if (!armed)
        return;
    notify_cancel(e->notify, &p->w);
    if (p->w.reason != NOTIFY_WAITING) /* fired: set under the lock before its wake runs */
        while (atomic_load(&p->wakes) == 0)
            sched_yield();
}

static void *stress_waiter(void *arg)
{
    struct stress *s = arg;
    unsigned r = (unsigned)s->seed;
    struct probe probes[8];
    bool armed[8] = {false};
    char ids[8][3][32];
    for (int round = 0; !atomic_load(&s->stop); round++) {
        int i = round % 8;
        probe_retire(s->e, &probes[i], armed[i]);
        probe_init(&probes[i], 1 + (int64_t)(round % 5));
        const char *idp[3];
        for (int k = 0; k < 3; k++) {
            r = r * 1103515245u + 12345u;
            snprintf(ids[i][k], sizeof(ids[i][k]), "s%u", (r >> 8) % 64);
            idp[k] = ids[i][k];
        }
        armed[i] = true;
        notify_wait(s->e->notify, &probes[i].w, idp, 3, (r & 2) ? "su1" : NULL,
                    notify_seq(s->e->notify));
    }
    for (int i = 0; i < 8; i++)
        probe_retire(s->e, &probes[i], armed[i]);
    return NULL;
}

#define ID64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

/* Keys and user counts hold ids whole: an id longer than 64 (from the change log: a row written
 * before migration 0004) is nobody's key, never the key of the id its first 64 bytes spell, and
 * its version cannot shadow that offer's next change (issue 19 item 1). */
static void test_ids_are_never_cut(void **state)
{
    struct env *e = *state;
    struct probe offer, user;
    probe_init(&offer, 60000);
    probe_init(&user, 60000);
    const char *ids[] = {ID64};
    uint64_t seen = notify_seq(e->notify);
    notify_wait(e->notify, &offer.w, ids, 1, NULL, seen);
    notify_wait(e->notify, &user.w, NULL, 0, ID64, seen);
    notify_publish(e->notify, ID64 "1", 9, ID64 "2", NULL);
    assert_int_equal(atomic_load(&offer.wakes), 0);
    assert_int_equal(atomic_load(&user.wakes), 0);
    notify_publish(e->notify, ID64, 2, NULL, ID64);    /* an older version than the long id's */
    assert_int_equal(atomic_load(&offer.wakes), 1);
    assert_string_equal(offer.w.changed[0], ID64);
    assert_int_equal(atomic_load(&user.wakes), 1);

    /* Held-request counts per user (at most 2 each, 4 in all) are per whole id. */
    assert_int_equal(notify_admit(e->notify, ID64 "a"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, ID64 "a"), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, ID64), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, ID64), NOTIFY_ADMITTED);
    assert_int_equal(notify_admit(e->notify, ID64 "a"), NOTIFY_TOO_MANY);
    notify_release(e->notify, ID64 "a");
    assert_int_equal(notify_admit(e->notify, ID64), NOTIFY_TOO_MANY_FOR_USER);
    notify_release(e->notify, ID64 "a");
    notify_release(e->notify, ID64);
    notify_release(e->notify, ID64);
    struct notify_stats st;
    notify_get_stats(e->notify, &st);
    assert_int_equal(st.held, 0);
    assert_int_equal(st.users, 0);
}

static void test_eviction_under_concurrency(void **state)
{
    struct env *e = *state;
    notify_set_key_limits(e->notify, 1, 4);
    struct stress s = {e, false, 7};
    struct stress s2 = {e, false, 11};
    pthread_t pub, wait1, wait2;
    pthread_create(&pub, NULL, stress_publisher, &s);
    pthread_create(&wait1, NULL, stress_waiter, &s);
    pthread_create(&wait2, NULL, stress_waiter, &s2);
    test_sleep_ms(400);
    atomic_store(&s.stop, true);
    atomic_store(&s2.stop, true);
    pthread_join(pub, NULL);
    pthread_join(wait1, NULL);
    pthread_join(wait2, NULL);
    struct notify_stats st = stats_of(e);
    assert_int_equal(st.idle_keys, st.keys); /* nobody waits any more */
    assert_true(st.keys_evicted > 0);
    assert_true(keys_drop_to(e, 0, 3000)); /* and the idle ones go */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_fires_once_and_dedupes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_after_firing_is_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlines_fire_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_sockets_fire_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admission_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_writes_and_expiry_reach_waiters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_fires_everyone_and_later_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_keys_are_forgotten_in_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_keys_are_capped_and_waited_ones_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eviction_loses_no_wakeup_and_no_version, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_user_counts_are_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_under_concurrency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_are_never_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_wake_names_every_change_and_where_it_fired, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
