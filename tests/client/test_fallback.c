/* test_fallback.c - long-poll and SSE against a scripted server: what offerd will not do on
 * demand. Mode AUTO falling back from SSE to long-poll (404/405/406/415/501, a body that is not an
 * event stream, streams that end at once) and from long-poll to polling (400 for ?wait=, 502s,
 * cut connections, answers nothing held); 401 that is not a reason to fall back; an event stream
 * cut into awkward pieces (CRLF, CR, comments, retry:, multi-line data, a repeated version) and the
 * reconnection that follows (retry time, Last-Event-ID); an event that is not an offer; a silent
 * stream; Retry-After on a stream; a long-poll timeout beyond its wait.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client_support.h"
#include "fake_http.h"

/* How the scripted server answers each kind of request. */
struct script {
    pthread_mutex_t lock;
    int version;             /* the offer's version (its ETag is "V-abc") */
    int events_status;       /* /events: answer with this error status, 0 for a 200 */
    char events_type[64];    /* /events 200 with this Content-Type and no stream, "" for a stream */
    const char *events_body[4]; /* /events stream body by request number (the last one repeats) */
    int events_piece_ms;
    int events_hold_ms;      /* how long a stream stays open after its body */
    int events_first_hold_ms; /* the same for the first stream; -1: events_hold_ms */
    int events_fail_first;   /* the first N /events requests get events_fail_status */
    int events_fail_status;
    char events_fail_headers[128];
    int wait_status;         /* ?wait=: answer with this error status, 0 for the real thing */
    bool wait_hang_up;       /* ?wait=: close without an answer */
    int wait_hold_ms;        /* ?wait= on a current copy: hold this long, then 304 */
    unsigned events_seen;    /* /events requests so far */
};

static void offer_json(char *buf, size_t size, int version)
{
    snprintf(buf, size,
             "{\"id\":\"o_1\",\"version\":%d,\"status\":\"PENDING\",\"amount\":150,"
             "\"expiresAt\":null}",
             version);
}

static void handler(const struct fake_request *req, struct fake_response *resp, void *userdata)
{
    struct script *s = userdata;
    pthread_mutex_lock(&s->lock);
    char tag[32];
    snprintf(tag, sizeof tag, "\"%d-abc\"", s->version);
    if (strstr(req->path, "/events")) {
        unsigned n = s->events_seen++;
        if ((int)n < s->events_fail_first || s->events_status) {
            resp->status = (int)n < s->events_fail_first ? s->events_fail_status : s->events_status;
            snprintf(resp->headers, sizeof resp->headers, "%s",
                     (int)n < s->events_fail_first ? s->events_fail_headers : "");
            snprintf(resp->body, sizeof resp->body, "{\"error\":\"scripted %d\"}", resp->status);
        } else if (s->events_type[0]) {
            snprintf(resp->content_type, sizeof resp->content_type, "%s", s->events_type);
            snprintf(resp->body, sizeof resp->body, "<html>a proxy page</html>");
        } else {
            const char *body = NULL;
            for (unsigned i = 0; i < 4 && i <= n; i++)
                body = s->events_body[i] ? s->events_body[i] : body;
            resp->stream = true;
            resp->piece_delay_ms = s->events_piece_ms;
            resp->hold_ms = n == 0 && s->events_first_hold_ms >= 0 ? s->events_first_hold_ms
                                                                  : s->events_hold_ms;
            snprintf(resp->body, sizeof resp->body, "%s", body ? body : "");
        }
    } else if (strstr(req->path, "wait=")) {
        const char *since = strstr(req->path, "since=");
        bool current = (since && atoi(since + 6) >= s->version) ||
                       strcmp(req->if_none_match, tag) == 0;
        if (s->wait_status) {
            resp->status = s->wait_status;
            snprintf(resp->body, sizeof resp->body, "{\"error\":\"scripted %d\"}", resp->status);
        } else if (s->wait_hang_up) {
            resp->hang_up = true;
        } else if (current) {
            resp->status = 304;
            resp->delay_ms = s->wait_hold_ms;
            snprintf(resp->headers, sizeof resp->headers, "ETag: %s\r\n", tag);
        } else {
            snprintf(resp->headers, sizeof resp->headers, "ETag: %s\r\n", tag);
            offer_json(resp->body, sizeof resp->body, s->version);
        }
    } else {
        snprintf(resp->headers, sizeof resp->headers, "ETag: %s\r\n", tag);
        if (strcmp(req->if_none_match, tag) == 0)
            resp->status = 304;
        offer_json(resp->body, sizeof resp->body, s->version);
    }
    pthread_mutex_unlock(&s->lock);
}

struct fx {
    struct script script;
    struct fake_server *server;
    offerpoll_client *client;
    struct recorder rec;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->script.lock, NULL);
    f->script.version = 1;
    f->script.wait_hold_ms = 800;
    f->script.events_hold_ms = 5000;
    f->script.events_first_hold_ms = -1;
    f->server = fake_server_start(handler, &f->script);
    recorder_init(&f->rec);
    if (!f->server || offerpoll_client_new(fake_server_url(f->server), "tok", &f->client) != 0 ||
        offerpoll_client_set_backoff_ms(f->client, 50, 100) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    offerpoll_client_free(f->client); /* no callback and no request after this */
    fake_server_stop(f->server);
    recorder_cleanup(&f->rec);
    pthread_mutex_destroy(&f->script.lock);
    free(f);
    return 0;
}

/* A watch of o_1 in MODE with a 1 s long-poll wait (the script's 800 ms hold then counts as held). */
static offerpoll_watch *start_watch(struct fx *f, enum offerpoll_mode mode, uint32_t interval_ms)
{
    offerpoll_watch *w = NULL;
    assert_int_equal(offerpoll_watch_new(f->client, "o_1", &w), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_mode(w, mode), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_interval_ms(w, interval_ms), OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_set_longpoll_wait_s(w, 1), OFFERPOLL_OK);
    assert_int_equal(
        offerpoll_watch_set_callbacks(w, recorder_on_update, recorder_on_error, &f->rec),
        OFFERPOLL_OK);
    assert_int_equal(offerpoll_watch_start(w), OFFERPOLL_OK);
    return w;
}

struct transport_is {
    offerpoll_watch *w;
    const char *name;
};

static bool has_transport(void *arg)
{
    struct transport_is *t = arg;
    return strcmp(offerpoll_watch_transport(t->w), t->name) == 0;
}

static bool reaches(offerpoll_watch *w, const char *name, int64_t timeout_ms)
{
    struct transport_is t = {w, name};
    return t_wait_until(has_transport, &t, timeout_ms);
}

static bool count_at_least(struct fake_server *s, unsigned n, int64_t timeout_ms)
{
    int64_t deadline = t_now_ms() + t_scaled(timeout_ms);
    while (fake_server_count(s) < n && t_now_ms() < deadline)
        t_sleep_ms(5);
    return fake_server_count(s) >= n;
}

/* The index of the first recorded request whose path contains NEEDLE, or -1. */
static int find_request(struct fake_server *s, const char *needle, struct fake_request *out)
{
    for (unsigned i = 0; fake_server_request(s, i, out) == 0; i++) {
        if (strstr(out->path, needle))
            return (int)i;
    }
    return -1;
}

/* ---- AUTO: SSE refused -> long-poll ---- */

static void refused_streams_fall_back_to_longpoll(void **state)
{
    struct fx *f = *state;
    const struct {
        int status;
        const char *type;
    } refusals[] = {{404, ""}, {405, ""}, {406, ""}, {415, ""}, {501, ""}, {0, "text/html"}};
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        teardown(state);
        assert_int_equal(setup(state), 0);
        f = *state;
        f->script.events_status = refusals[i].status;
        snprintf(f->script.events_type, sizeof f->script.events_type, "%s", refusals[i].type);
        offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_AUTO, 60000);
        assert_true(reaches(w, "longpoll", 3000));
        assert_true(count_at_least(f->server, 3, 2000));
        t_sleep_ms(100);
        assert_int_equal(recorder_errors(&f->rec), 0); /* a refusal is not the caller's error */
        assert_int_equal(recorder_updates(&f->rec), 1);

        struct fake_request r;
        assert_int_equal(fake_server_request(f->server, 0, &r), 0);
        assert_string_equal(r.path, "/api/offers/o_1"); /* auto reads the offer first */
        assert_string_equal(r.accept, "application/json");
        assert_int_equal(fake_server_request(f->server, 1, &r), 0);
        assert_string_equal(r.path, "/api/offers/o_1/events");
        assert_string_equal(r.accept, "text/event-stream");
        assert_string_equal(r.last_event_id, "1"); /* no need to send version 1 again */
        assert_int_equal(fake_server_request(f->server, 2, &r), 0);
        assert_string_equal(r.path, "/api/offers/o_1?wait=1&since=1");
        assert_string_equal(r.if_none_match, "\"1-abc\"");
        assert_string_equal(offerpoll_watch_transport(w), "longpoll");

        /* and a change reaches it through the long-poll */
        pthread_mutex_lock(&f->script.lock);
        f->script.version = 2;
        pthread_mutex_unlock(&f->script.lock);
        assert_true(recorder_wait_updates(&f->rec, 2, 3000));
        assert_int_equal(recorder_version(&f->rec), 2);
        offerpoll_watch_free(w);
    }
}

static void streams_that_end_at_once_fall_back(void **state)
{
    struct fx *f = *state;
    f->script.events_body[0] = "retry: 10\n\n";
    f->script.events_hold_ms = 0;
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_AUTO, 60000);
    assert_true(reaches(w, "longpoll", 5000));
    assert_int_equal(recorder_errors(&f->rec), 0);
    assert_int_equal(f->script.events_seen, 3);
    offerpoll_watch_free(w);
}

static void a_401_on_the_stream_is_an_error_not_a_fallback(void **state)
{
    struct fx *f = *state;
    f->script.events_status = 401;
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_AUTO, 60000);
    assert_true(recorder_wait_errors(&f->rec, 3, 3000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_UNAUTHORIZED);
    assert_int_equal(f->rec.error_status[0], 401);
    assert_int_equal(f->rec.error_failures[2], 3); /* backing off, not giving up */
    assert_string_equal(offerpoll_watch_transport(w), "sse");
    offerpoll_watch_free(w);
}

static void explicit_sse_mode_never_falls_back(void **state)
{
    struct fx *f = *state;
    f->script.events_status = 404;
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_SSE, 60000);
    assert_true(recorder_wait_errors(&f->rec, 2, 3000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_NOT_FOUND);
    assert_string_equal(offerpoll_watch_transport(w), "sse");
    struct fake_request r;
    assert_int_equal(fake_server_request(f->server, 0, &r), 0);
    assert_string_equal(r.path, "/api/offers/o_1/events"); /* SSE mode starts with the stream */
    assert_string_equal(r.last_event_id, "");
    offerpoll_watch_free(w);
}

/* ---- AUTO: long-poll refused or cut -> polling ---- */

static void a_400_for_wait_falls_back_to_polling(void **state)
{
    struct fx *f = *state;
    f->script.events_status = 404;
    f->script.wait_status = 400;
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_AUTO, 100);
    assert_true(reaches(w, "poll", 3000));
    unsigned n = fake_server_count(f->server);
    assert_true(count_at_least(f->server, n + 3, 2000)); /* polling at its interval */
    assert_int_equal(recorder_errors(&f->rec), 0);
    struct fake_request r;
    assert_int_equal(fake_server_request(f->server, n + 1, &r), 0);
    assert_string_equal(r.path, "/api/offers/o_1");
    assert_string_equal(r.if_none_match, "\"1-abc\"");
    offerpoll_watch_stop(w);
    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(st.updates, 1);
    assert_int_equal(st.errors, 0);
    offerpoll_watch_free(w);
}

static void cut_longpolls_fall_back_to_polling(void **state)
{
    struct fx *f = *state;
    for (int variant = 0; variant < 2; variant++) {
        teardown(state);
        assert_int_equal(setup(state), 0);
        f = *state;
        f->script.events_status = 501;
        if (variant == 0)
            f->script.wait_status = 502;
        else
            f->script.wait_hang_up = true;
        offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_AUTO, 100);
        assert_true(reaches(w, "poll", 5000));
        assert_int_equal(recorder_errors(&f->rec), 3); /* each cut is an error, reported */
        assert_int_equal(f->rec.error_code[0],
                         variant == 0 ? OFFERPOLL_ERR_SERVER : OFFERPOLL_ERR_TRANSPORT);
        assert_int_equal(f->rec.error_failures[2], 3);
        t_sleep_ms(300);
        assert_int_equal(recorder_errors(&f->rec), 3); /* polling works */
        offerpoll_watch_free(w);
    }
}

static void answers_nothing_held_fall_back_to_polling(void **state)
{
    struct fx *f = *state;
    f->script.events_status = 404;
    f->script.wait_hold_ms = 0; /* a proxy that answers at once */
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_AUTO, 100);
    assert_true(reaches(w, "poll", 5000));
    assert_int_equal(recorder_errors(&f->rec), 0);
    /* the unheld answers were paced (backing off), not a busy loop */
    struct fake_request a, b;
    int first = find_request(f->server, "wait=", &a);
    assert_true(first >= 0);
    assert_int_equal(fake_server_request(f->server, (unsigned)first + 1, &b), 0);
    assert_true(b.at_ms - a.at_ms >= 25);
    offerpoll_watch_free(w);
}

static void explicit_longpoll_mode_never_falls_back(void **state)
{
    struct fx *f = *state;
    f->script.wait_status = 400;
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_LONGPOLL, 100);
    assert_true(recorder_wait_errors(&f->rec, 2, 3000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_BAD_REQUEST);
    assert_string_equal(offerpoll_watch_transport(w), "longpoll");
    offerpoll_watch_free(w);
}

/* ---- the event stream itself ---- */

/* Pieces are split at \x01, 30 ms apart. */
static const char awkward_stream[] =
    "retry: 50\r\n: hello\r\n\r\nevent: off\x01"
    "er\r\nid: 1\r\ndata: {\"id\":\"o_1\",\"version\":1,\x01"
    "\"status\":\"PENDING\",\"amount\":150}\r\n\r\n\x01"
    "event: offer\nid: 2\ndata: {\"id\":\"o_1\",\"version\":2,\n"
    "data: \"status\":\"COUNTERED\",\"amount\":160}\n\n\x01"
    "event: ping\ndata: ignored\n\n"
    "event: offer\rid: 2\rdata: {\"id\":\"o_1\",\"version\":2,\"status\":\"COUNTERED\","
    "\"amount\":160}\r\r";

static void events_in_awkward_pieces(void **state)
{
    struct fx *f = *state;
    f->script.events_body[0] = awkward_stream;
    f->script.events_body[1] = ": resumed\n\n";
    f->script.events_piece_ms = 30;
    f->script.events_first_hold_ms = 0; /* the first stream ends; the second is held */
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_SSE, 60000);
    assert_true(recorder_wait_updates(&f->rec, 2, 3000));
    assert_true(count_at_least(f->server, 2, 3000));
    t_sleep_ms(100);
    offerpoll_watch_stop(w);

    assert_int_equal(recorder_updates(&f->rec), 2);
    assert_int_equal(recorder_errors(&f->rec), 0);
    assert_int_equal(recorder_version(&f->rec), 2);
    assert_int_equal(f->rec.last->status, OFFERPOLL_STATUS_COUNTERED);
    assert_int_equal(f->rec.last->amount_minor, 16000);
    assert_null(f->rec.last->etag); /* events carry no validator */
    offerpoll_watch_stats st = watch_stats(w);
    assert_int_equal(st.updates, 2);
    assert_int_equal(st.not_modified, 1); /* version 2 again */
    assert_int_equal(st.requests, 1);     /* the first stream ended; the second was cancelled */

    struct fake_request r0, r1;
    assert_int_equal(fake_server_request(f->server, 0, &r0), 0);
    assert_int_equal(fake_server_request(f->server, 1, &r1), 0);
    assert_string_equal(r0.last_event_id, "");
    assert_string_equal(r1.path, "/api/offers/o_1/events");
    assert_string_equal(r1.last_event_id, "2");
    assert_string_equal(r1.authorization, "Bearer tok");
    /* the first stream lasted its 4 pieces' gaps; then retry: 50 (+ up to half of jitter) */
    int64_t gap = r1.at_ms - r0.at_ms;
    assert_true(gap >= 4 * 30 + 50);
    assert_true(gap <= 4 * 30 + 75 + t_scaled(250));
    offerpoll_watch_free(w);
}

static void an_event_that_is_not_an_offer(void **state)
{
    struct fx *f = *state;
    f->script.events_body[0] =
        "event: offer\ndata: <html>\n\n"
        "event: offer\nid: 1\ndata: {\"id\":\"o_1\",\"version\":1,\"status\":\"PENDING\","
        "\"amount\":150}\n\n";
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_SSE, 60000);
    assert_true(recorder_wait_updates(&f->rec, 1, 3000));
    assert_int_equal(recorder_errors(&f->rec), 1);
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_BAD_RESPONSE);
    assert_int_equal(f->rec.error_retry_ms[0], 0); /* the stream stays open */
    assert_non_null(strstr(f->rec.last_error_message, "not an offer"));
    assert_int_equal(fake_server_count(f->server), 1);
    offerpoll_watch_free(w);
}

static void a_silent_stream_times_out(void **state)
{
    struct fx *f = *state;
    f->script.events_body[0] = "";
    assert_int_equal(offerpoll_client_set_timeouts_ms(f->client, 0, 1000), OFFERPOLL_OK);
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_SSE, 60000);
    int64_t t0 = t_now_ms();
    assert_true(recorder_wait_errors(&f->rec, 1, 5000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_TIMEOUT);
    assert_true(f->rec.error_at_ms[0] - t0 >= 900);
    offerpoll_watch_free(w);
}

static void retry_after_on_a_stream(void **state)
{
    struct fx *f = *state;
    f->script.events_fail_first = 1;
    f->script.events_fail_status = 429;
    snprintf(f->script.events_fail_headers, sizeof f->script.events_fail_headers,
             "Retry-After: 1\r\n");
    f->script.events_body[0] = "event: offer\nid: 1\ndata: {\"id\":\"o_1\",\"version\":1,"
                               "\"status\":\"PENDING\",\"amount\":150}\n\n";
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_SSE, 60000);
    assert_true(recorder_wait_errors(&f->rec, 1, 3000));
    assert_int_equal(f->rec.error_code[0], OFFERPOLL_ERR_RATE_LIMITED);
    assert_true(f->rec.error_retry_ms[0] >= 1000);
    assert_true(recorder_wait_updates(&f->rec, 1, 4000));
    struct fake_request r0, r1;
    assert_int_equal(fake_server_request(f->server, 0, &r0), 0);
    assert_int_equal(fake_server_request(f->server, 1, &r1), 0);
    assert_true(r1.at_ms - r0.at_ms >= 990);
    assert_int_equal(offerpoll_watch_last_error(w, NULL), OFFERPOLL_OK);
    offerpoll_watch_free(w);
}

static void a_longpoll_may_take_its_wait_and_more(void **state)
{
    struct fx *f = *state;
    f->script.wait_hold_ms = 1200; /* longer than the request timeout, shorter than both */
    assert_int_equal(offerpoll_client_set_timeouts_ms(f->client, 0, 500), OFFERPOLL_OK);
    offerpoll_watch *w = start_watch(f, OFFERPOLL_MODE_LONGPOLL, 60000);
    assert_true(recorder_wait_updates(&f->rec, 1, 2000));
    assert_true(count_at_least(f->server, 3, 4000));
    t_sleep_ms(100);
    assert_int_equal(recorder_errors(&f->rec), 0);
    assert_int_equal(watch_stats(w).not_modified, 1);
    assert_string_equal(offerpoll_watch_transport(w), "longpoll");
    offerpoll_watch_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refused_streams_fall_back_to_longpoll, setup, teardown),
        cmocka_unit_test_setup_teardown(streams_that_end_at_once_fall_back, setup, teardown),
        cmocka_unit_test_setup_teardown(a_401_on_the_stream_is_an_error_not_a_fallback, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(explicit_sse_mode_never_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(a_400_for_wait_falls_back_to_polling, setup, teardown),
        cmocka_unit_test_setup_teardown(cut_longpolls_fall_back_to_polling, setup, teardown),
        cmocka_unit_test_setup_teardown(answers_nothing_held_fall_back_to_polling, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(explicit_longpoll_mode_never_falls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(events_in_awkward_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(an_event_that_is_not_an_offer, setup, teardown),
        cmocka_unit_test_setup_teardown(a_silent_stream_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(retry_after_on_a_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(a_longpoll_may_take_its_wait_and_more, setup, teardown),
    };
    if (offerpoll_global_init() != OFFERPOLL_OK)
        return 1;
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    offerpoll_global_cleanup();
    return failed;
}
