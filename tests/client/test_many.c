/* test_many.c - one client, one background thread, 100 watches: every first state arrives, a
 * change reaches only its own watch, and disabling some leaves the rest polling. Then 100 SSE
 * streams on one client: one connection each (beyond the 16 polls share), one thread, every
 * change seen at once, and all of them gone at once when the client is freed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_support.h"
#include "test_http.h"
#include "test_seed.h"

#define N 100

static const char *const server_args[] = {"--max-held-per-user", "200", NULL};
static struct server_fixture fx;

static int group_setup(void **state)
{
    (void)state;
    if (offerpoll_global_init() != OFFERPOLL_OK || fixture_start_args(&fx, server_args) != 0)
        return -1;
    if (fixture_add_offers(&fx, "o_s", N) != 0)
        return -1;
    return fixture_add_offers(&fx, "o_m", N);
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    offerpoll_global_cleanup();
    return 0;
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

struct many {
    struct recorder rec[N];
    offerpoll_watch *w[N];
};

static bool all_have(struct many *m, int n)
{
    for (int i = 0; i < N; i++) {
        if (recorder_updates(&m->rec[i]) < n)
            return false;
    }
    return true;
}

static bool all_first(void *arg)
{
    return all_have(arg, 1);
}

static void hundred_watches_on_one_client(void **state)
{
    (void)state;
    struct many *m = calloc(1, sizeof *m);
    int threads_before = thread_count();
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "o_m%03d", i);
        recorder_init(&m->rec[i]);
        m->w[i] = start_recorded_watch(c, id, 500, &m->rec[i]);
        assert_non_null(m->w[i]);
    }
    assert_true(t_wait_until(all_first, m, 20000));
    /* one thread for all of them (libcurl resolves numeric hosts without threads) */
    assert_int_equal(thread_count(), threads_before + 1);

    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&m->rec[i].lock);
        char id[16];
        snprintf(id, sizeof id, "o_m%03d", i);
        assert_string_equal(m->rec[i].last->id, id);
        assert_int_equal(m->rec[i].last->amount_minor, 15000 + i);
        assert_int_equal(m->rec[i].errors, 0);
        pthread_mutex_unlock(&m->rec[i].lock);
    }

    /* a change reaches its own watch only */
    assert_int_equal(fixture_touch(&fx, "o_m057"), 0);
    assert_true(recorder_wait_updates(&m->rec[57], 2, 5000));
    t_sleep_ms(1200);
    for (int i = 0; i < N; i++)
        assert_int_equal(recorder_updates(&m->rec[i]), i == 57 ? 2 : 1);
    for (int i = 0; i < N; i++)
        assert_true(watch_stats(m->w[i]).requests >= 2); /* all of them kept polling */

    /* disable the even ones: they stop asking, the odd ones go on */
    for (int i = 0; i < N; i += 2)
        assert_int_equal(offerpoll_watch_set_enabled(m->w[i], false), OFFERPOLL_OK);
    t_sleep_ms(300); /* let requests already in flight end */
    uint64_t req[N];
    for (int i = 0; i < N; i++)
        req[i] = watch_stats(m->w[i]).requests;
    t_sleep_ms(1500);
    for (int i = 0; i < N; i++) {
        uint64_t now = watch_stats(m->w[i]).requests;
        if (i % 2 == 0)
            assert_int_equal(now, req[i]);
        else
            assert_true(now > req[i]);
    }

    /* free half by hand; the client frees the rest */
    for (int i = 1; i < N; i += 2)
        offerpoll_watch_free(m->w[i]);
    offerpoll_client_free(c);
    assert_int_equal(thread_count(), threads_before);
    for (int i = 0; i < N; i++)
        recorder_cleanup(&m->rec[i]);
    free(m);
}

static bool all_second(void *arg)
{
    return all_have(arg, 2);
}

/* offerd's gauge of held requests (long-polls and streams). */
static long held_on_server(void)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", fx.proc.base_url);
    struct http_response r;
    long n = -1;
    if (http_get(url, NULL, &r) == 0 && r.status == 200) {
        for (const char *p = strstr(r.body, "\nofferd_held_requests "); p; p = NULL)
            n = strtol(p + strlen("\nofferd_held_requests "), NULL, 10);
    }
    http_response_cleanup(&r);
    return n;
}

static bool hundred_held(void *arg)
{
    (void)arg;
    return held_on_server() >= N;
}

static void hundred_streams_on_one_client(void **state)
{
    (void)state;
    struct many *m = calloc(1, sizeof *m);
    int threads_before = thread_count();
    offerpoll_client *c;
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "o_s%03d", i);
        recorder_init(&m->rec[i]);
        m->w[i] = start_mode_watch(c, id, OFFERPOLL_MODE_SSE, 60000, &m->rec[i]);
        assert_non_null(m->w[i]);
    }
    assert_true(t_wait_until(all_first, m, 20000));
    assert_int_equal(thread_count(), threads_before + 1);
    assert_true(t_wait_until(hundred_held, NULL, 5000)); /* every stream is open at once */

    /* one outside write changes them all: every stream brings it, at once */
    int64_t t0 = t_now_ms();
    assert_int_equal(seed_exec(fx.db, "UPDATE offers SET message = 'all' WHERE id LIKE 'o_s%'"), 0);
    assert_true(t_wait_until(all_second, m, 5000));
    for (int i = 0; i < N; i++)
        assert_true(m->rec[i].update_at_ms[1] - t0 < t_scaled(2000));

    /* a change reaches its own stream only */
    assert_int_equal(fixture_touch(&fx, "o_s057"), 0);
    assert_true(recorder_wait_updates(&m->rec[57], 3, 5000));
    t_sleep_ms(500);
    for (int i = 0; i < N; i++) {
        assert_int_equal(recorder_updates(&m->rec[i]), i == 57 ? 3 : 2);
        assert_int_equal(recorder_errors(&m->rec[i]), 0);
        offerpoll_watch_stats st = watch_stats(m->w[i]);
        assert_int_equal(st.requests, 0); /* the streams are still open: nothing polled */
        assert_string_equal(offerpoll_watch_transport(m->w[i]), "sse");
    }

    t0 = t_now_ms();
    offerpoll_client_free(c); /* closes the 100 streams */
    assert_true(t_now_ms() - t0 < t_scaled(1000));
    assert_int_equal(thread_count(), threads_before);
    for (int i = 0; i < N; i++)
        recorder_cleanup(&m->rec[i]);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hundred_watches_on_one_client),
        cmocka_unit_test(hundred_streams_on_one_client),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
