/* client_support.c - shared helpers for libofferpoll's tests (see client_support.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "client_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_seed.h"
#include "test_tokens.h"

int64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void t_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int64_t t_scaled(int64_t ms)
{
    const char *s = getenv("OFFERPOLL_TEST_TIME_SCALE");
    long scale = s ? strtol(s, NULL, 10) : 1;
    return ms * (scale > 0 ? scale : 1);
}

bool t_wait_until(bool (*pred)(void *arg), void *arg, int64_t timeout_ms)
{
    int64_t deadline = t_now_ms() + t_scaled(timeout_ms);
    for (;;) {
        if (pred(arg))
            return true;
        if (t_now_ms() >= deadline)
            return pred(arg);
        t_sleep_ms(5);
    }
}

static int start_server(struct server_fixture *f, int port)
{
    if (port == 0)
        return offerd_start(&f->proc, f->db, f->extra_args);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *argv[64] = {"--bind", "127.0.0.1", "--port", port_s, "--db", f->db,
                            "--jwt-secret", TEST_JWT_SECRET, "--rate-limit", "0"};
    size_t n = 10;
    for (size_t i = 0; f->extra_args && f->extra_args[i] && n < 63; i++)
        argv[n++] = f->extra_args[i];
    argv[n] = NULL;
    /* the old socket may linger for a moment: retry briefly */
    for (int i = 0; i < 50; i++) {
        if (offerd_start_argv(&f->proc, f->db, argv) == 0)
            return 0;
        t_sleep_ms(100);
    }
    return -1;
}

int fixture_start(struct server_fixture *f)
{
    return fixture_start_args(f, NULL);
}

int fixture_start_args(struct server_fixture *f, const char *const *extra_args)
{
    memset(f, 0, sizeof *f);
    f->extra_args = extra_args;
    f->dir = test_tmpdir_new();
    if (!f->dir)
        return -1;
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    const char *migrate[] = {"migrate", "--db", f->db, NULL};
    char *out = NULL;
    int rc = offerd_run(migrate, &out);
    if (rc != 0) {
        fprintf(stderr, "offerd migrate failed (%d): %s\n", rc, out ? out : "");
        free(out);
        goto fail;
    }
    free(out);
    if (seed_fixture(f->db) != 0 || start_server(f, 0) != 0)
        goto fail;
    f->buyer_token = test_token("user_buyer", 3600);
    f->seller_token = test_token("user_seller", 3600);
    f->stranger_token = test_token("user_stranger", 3600);
    if (!f->buyer_token || !f->seller_token || !f->stranger_token)
        goto fail;
    return 0;
fail:
    fixture_stop(f);
    return -1;
}

void fixture_stop(struct server_fixture *f)
{
    if (f->proc.pid > 0) {
        int st = offerd_stop(&f->proc);
        if (st != 0)
            fprintf(stderr, "note: offerd exited with status %d\n", st);
    }
    if (f->dir)
        test_tmpdir_remove(f->dir);
    free(f->dir);
    free(f->buyer_token);
    free(f->seller_token);
    free(f->stranger_token);
    memset(f, 0, sizeof *f);
}

int fixture_server_down(struct server_fixture *f)
{
    return offerd_stop(&f->proc);
}

int fixture_restart(struct server_fixture *f, int port)
{
    return start_server(f, port);
}

int fixture_touch(struct server_fixture *f, const char *offer_id)
{
    static unsigned n;
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE offers SET message = 'touch %u' WHERE id = '%s'", ++n,
             offer_id);
    return seed_exec(f->db, sql);
}

int fixture_add_offers(struct server_fixture *f, const char *prefix, int count)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
             "INSERT INTO offers(id, amount, status, product_id, buyer_id, seller_id, expires_at) "
             "SELECT printf('%s%%03d', i), 15000 + i, 'PENDING', 'p_driver', 'u_buyer', "
             "'u_seller', NULL FROM n",
             count - 1, prefix);
    return seed_exec(f->db, sql);
}

int fixture_count_log(const struct server_fixture *f, const char *needle)
{
    char *log = test_read_file(f->proc.log_path);
    int n = 0;
    for (const char *p = log ? strstr(log, needle) : NULL; p; p = strstr(p + 1, needle))
        n++;
    free(log);
    return n;
}

void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
}

void recorder_cleanup(struct recorder *r)
{
    offerpoll_offer_free(r->last);
    pthread_mutex_destroy(&r->lock);
}

void recorder_on_update(offerpoll_watch *w, const offerpoll_offer *offer, void *userdata)
{
    struct recorder *r = userdata;
    offerpoll_offer *copy = offerpoll_offer_dup(offer);
    pthread_mutex_lock(&r->lock);
    if (r->updates < REC_MAX_EVENTS)
        r->update_at_ms[r->updates] = t_now_ms();
    r->updates++;
    offerpoll_offer_free(r->last);
    r->last = copy;
    r->last_version = offer->version;
    pthread_mutex_unlock(&r->lock);
    if (r->after_update)
        r->after_update(w, r);
}

void recorder_on_error(offerpoll_watch *w, const offerpoll_error *err, void *userdata)
{
    struct recorder *r = userdata;
    pthread_mutex_lock(&r->lock);
    if (r->errors < REC_MAX_EVENTS) {
        r->error_at_ms[r->errors] = t_now_ms();
        r->error_code[r->errors] = err->code;
        r->error_status[r->errors] = err->http_status;
        r->error_retry_ms[r->errors] = err->retry_in_ms;
        r->error_failures[r->errors] = err->failures;
    }
    r->errors++;
    snprintf(r->last_error_message, sizeof r->last_error_message, "%s", err->message);
    pthread_mutex_unlock(&r->lock);
    if (r->after_error)
        r->after_error(w, r);
}

int recorder_updates(struct recorder *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->updates;
    pthread_mutex_unlock(&r->lock);
    return n;
}

int recorder_errors(struct recorder *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->errors;
    pthread_mutex_unlock(&r->lock);
    return n;
}

int64_t recorder_version(struct recorder *r)
{
    pthread_mutex_lock(&r->lock);
    int64_t v = r->last_version;
    pthread_mutex_unlock(&r->lock);
    return v;
}

struct wait_n {
    struct recorder *r;
    int n;
    bool errors;
};

static bool reached(void *arg)
{
    struct wait_n *w = arg;
    return (w->errors ? recorder_errors(w->r) : recorder_updates(w->r)) >= w->n;
}

bool recorder_wait_updates(struct recorder *r, int n, int64_t timeout_ms)
{
    struct wait_n w = {r, n, false};
    return t_wait_until(reached, &w, timeout_ms);
}

bool recorder_wait_errors(struct recorder *r, int n, int64_t timeout_ms)
{
    struct wait_n w = {r, n, true};
    return t_wait_until(reached, &w, timeout_ms);
}

offerpoll_watch *start_recorded_watch(offerpoll_client *c, const char *id, uint32_t interval_ms,
                                      struct recorder *r)
{
    return start_mode_watch(c, id, OFFERPOLL_MODE_POLL, interval_ms, r);
}

offerpoll_watch *start_mode_watch(offerpoll_client *c, const char *id, enum offerpoll_mode mode,
                                  uint32_t interval_ms, struct recorder *r)
{
    offerpoll_watch *w = NULL;
    if (offerpoll_watch_new(c, id, &w) != OFFERPOLL_OK ||
        offerpoll_watch_set_mode(w, mode) != OFFERPOLL_OK ||
        offerpoll_watch_set_interval_ms(w, interval_ms) != OFFERPOLL_OK ||
        offerpoll_watch_set_callbacks(w, recorder_on_update, recorder_on_error, r) !=
            OFFERPOLL_OK ||
        offerpoll_watch_start(w) != OFFERPOLL_OK) {
        offerpoll_watch_free(w);
        return NULL;
    }
    return w;
}

offerpoll_watch_stats watch_stats(const offerpoll_watch *w)
{
    offerpoll_watch_stats s = {0};
    if (offerpoll_watch_get_stats(w, &s, sizeof s) != OFFERPOLL_OK)
        fprintf(stderr, "offerpoll_watch_get_stats failed\n");
    return s;
}
