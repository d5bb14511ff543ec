/* test_token_abuse.c - hostile tokens against a real offerd (issue 19 items 6 and 7).
 *
 * Absurd exp values get a clear 401 instead of overflowing every deadline derived from them; a
 * token accepted inside the clock-skew leeway gets a stream that serves and then ends once, where
 * a reconnect with it is refused, and a long-poll cut at the token's end answers 401 as the
 * README says. Failed authentications are limited per client address (X-Forwarded-For believed
 * only from a trusted proxy) before any signature is checked, replayed bad tokens are refused
 * from memory, and both are counted in /metrics with a sampled log line.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_sse.h"
#include "test_tokens.h"

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--sse-heartbeat", "1", NULL};
    return offerd_fixture_start(&fx, extra);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

/* An HS256 token over exactly this payload text, signed with secret. Heap string; free(). */
static char *sign_payload(const char *payload, const char *secret)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t cap = 4 * (strlen(header) + strlen(payload)) + 128;
    char *out = malloc(cap);
    assert_non_null(out);
    test_base64url((const unsigned char *)header, strlen(header), out);
    size_t n = strlen(out);
    out[n++] = '.';
    test_base64url((const unsigned char *)payload, strlen(payload), out + n);
    n = strlen(out);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)out, n,
                         mac, &mac_len));
    out[n++] = '.';
    test_base64url(mac, mac_len, out + n);
    return out;
}

static char *token_with_exp(const char *exp_text)
{
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\",\"exp\":%s}", SEED_BUYER_TOKEN_SUB,
             exp_text);
    return sign_payload(payload, TEST_JWT_SECRET);
}

/* GET base+path with an optional token and extra header, bounded at 30 s, asserting an answer. */
static void get(const char *base, const char *path, const char *token, const char *extra_header,
                struct http_response *r)
{
    const char *extra[] = {extra_header, NULL};
    assert_int_equal(http_call(base, "GET", path, token, extra, NULL, 30000, r), 0);
}

/* ---- item 6: exp ---- */

static void test_absurd_exp_is_refused_clearly(void **state)
{
    (void)state;
    /* 1e300 used to saturate to INT64_MAX and 9.3e15 s to pass as is: both accepted, and the
     * stream's `exp * 1000` wrapped negative, so it ended at once and the client looped. */
    const char *absurd[] = {"1e300", "9.3e15", "9300000000000000", "9223372036854775807",
                            "253402300800"};
    for (size_t i = 0; i < sizeof(absurd) / sizeof(absurd[0]); i++) {
        char *token = token_with_exp(absurd[i]);
        struct http_response r;
        get(fx.server.base_url, "/api/offers/o_pending", token, NULL, &r);
        assert_int_equal(r.status, 401);
        assert_non_null(strstr(r.body, "out of range"));
        http_response_cleanup(&r);
        get(fx.server.base_url, "/api/offers/o_pending/events", token, NULL, &r);
        assert_int_equal(r.status, 401);
        http_response_cleanup(&r);
        free(token);
    }
}

static void test_fractional_exp_gets_a_lasting_stream(void **state)
{
    (void)state;
    /* A NumericDate may have a fraction (RFC 7519): accepted, and the stream lives on. */
    char exp[64];
    snprintf(exp, sizeof(exp), "%lld.75", (long long)time(NULL) + 3600);
    char *token = token_with_exp(exp);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/o_pending/events", fx.server.base_url);
    struct sse_reader *s = sse_open(url, token, NULL);
    assert_non_null(s);
    assert_true(sse_wait_for(s, "event: offer", 0, 5000) > 0);
    size_t at = sse_wait_for(s, ": heartbeat", 0, 5000);
    assert_true(at > 0);
    assert_true(sse_wait_for(s, ": heartbeat", at, 5000) > 0);
    assert_false(sse_wait_end(s, 100));
    sse_close(s);
    free(token);
}

static void test_stream_inside_the_leeway_serves_then_ends_once(void **state)
{
    (void)state;
    /* Expired 26 s ago: inside the 30 s leeway, so accepted. The stream used to end at once,
     * before sending anything, since its end was exp itself; the client reconnected (accepted
     * again) in a loop for the rest of the leeway. Now it serves until exp + leeway... */
    char *token = test_token(SEED_BUYER_TOKEN_SUB, -26);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/offers/o_pending/events", fx.server.base_url);
    double t0 = test_now_s();
    struct sse_reader *s = sse_open(url, token, NULL);
    assert_non_null(s);
    assert_true(sse_wait_for(s, "event: offer", 0, 3000) > 0);
    assert_true(sse_wait_for(s, ": heartbeat", 0, 3000) > 0);
    /* ...then ends once, with the reauth event, when the token stops being accepted... */
    assert_true(sse_wait_end(s, 10000));
    double lasted = test_now_s() - t0;
    char *text = sse_text(s);
    assert_non_null(strstr(text, "event: reauth\n"));
    free(text);
    sse_close(s);
    assert_true(lasted > 2.0 && lasted < 7.0);
    /* ...so the reconnect is refused rather than served a stream that ends at once. */
    struct http_response r;
    get(fx.server.base_url, "/api/offers/o_pending/events", token, NULL, &r);
    assert_int_equal(r.status, 401);
    http_response_cleanup(&r);
    free(token);
}

static void test_longpoll_cut_at_token_end_answers_401(void **state)
{
    (void)state;
    /* Inside the leeway (expired 27 s ago), with wait=20: the hold is cut when the token stops
     * being accepted, about 3 s on, and answered 401 as the README says (it used to be held the
     * whole 20 s and answered 304: the negative time left was ignored). */
    char *token = test_token(SEED_BUYER_TOKEN_SUB, -27);
    char path[128];
    snprintf(path, sizeof(path), "/api/offers/o_pending?since=%lld&wait=20",
             offerd_fixture_version(&fx, "o_pending"));
    double t0 = test_now_s();
    struct http_response r;
    get(fx.server.base_url, path, token, NULL, &r);
    double took = test_now_s() - t0;
    assert_int_equal(r.status, 401);
    char h[64];
    assert_non_null(http_header(&r, "WWW-Authenticate", h, sizeof(h)));
    http_response_cleanup(&r);
    assert_true(took > 1.0 && took < 10.0);
    free(token);
}

/* ---- item 7: bad tokens ---- */

static struct offerd_proc start_own(const char *name, const char *const *extra)
{
    struct offerd_proc p;
    char db[600];
    char file[128];
    snprintf(file, sizeof(file), "%s.db", name);
    assert_int_equal(test_db_new(fx.dir, file, db, sizeof(db)), 0);
    assert_int_equal(offerd_start(&p, db, extra), 0);
    assert_int_equal(seed_fixture(db), 0);
    return p;
}

/* GET o_pending with token, as the client at xff (an X-Forwarded-For value, or NULL). */
static long get_as(const struct offerd_proc *p, const char *token, const char *xff,
                   struct http_response *r)
{
    char header[128];
    if (xff)
        snprintf(header, sizeof(header), "X-Forwarded-For: %s", xff);
    get(p->base_url, "/api/offers/o_pending", token, xff ? header : NULL, r);
    return r->status;
}

static long status_as(const struct offerd_proc *p, const char *token, const char *xff)
{
    struct http_response r;
    long status = get_as(p, token, xff, &r);
    http_response_cleanup(&r);
    return status;
}

static char *forged(int i)
{
    char sub[32];
    snprintf(sub, sizeof(sub), "user_forged_%d", i);
    return test_token_with_secret(sub, 3600, "not-the-server-secret-0123456789abcdef");
}

static void test_failed_authentications_are_limited_per_address(void **state)
{
    (void)state;
    /* 127.0.0.1 (this test) is a trusted proxy, so X-Forwarded-For names the client. */
    const char *extra[] = {"--auth-fail-burst", "5", "--auth-fail-limit", "0.1",
                           "--trusted-proxy", "127.0.0.1", NULL};
    struct offerd_proc p = start_own("failures", extra);
    const char *attacker = "203.0.113.66", *other = "203.0.113.10";
    char *seller = test_token(SEED_SELLER_TOKEN_SUB, 3600);

    /* A signed-in user behind the attacker's address, verified before the attack. */
    assert_int_equal(status_as(&p, fx.buyer, attacker), 200);
    for (int i = 0; i < 5; i++) {
        char *bad = forged(i);
        assert_int_equal(status_as(&p, bad, attacker), 401);
        free(bad);
    }
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failures_total"), 5);
    /* Over the limit: the next unknown token from there is not even verified. */
    char *bad = forged(99);
    struct http_response r;
    assert_int_equal(get_as(&p, bad, attacker, &r), 429);
    char h[32];
    assert_non_null(http_header(&r, "Retry-After", h, sizeof(h)));
    assert_true(atoi(h) >= 1 && atoi(h) <= 10);
    assert_non_null(strstr(r.body, "failed authentications"));
    http_response_cleanup(&r);
    free(bad);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_throttled_total"), 1);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failures_total"), 5);
    /* A valid token from another address is unaffected, new or not... */
    assert_int_equal(status_as(&p, seller, other), 200);
    assert_int_equal(status_as(&p, fx.buyer, other), 200);
    /* ...and the user whose token was verified before keeps working from the throttled
     * address; a token never seen before waits for Retry-After like the attacker (README). */
    assert_int_equal(status_as(&p, fx.buyer, attacker), 200);
    char *fresh = test_token(SEED_STRANGER_TOKEN_SUB, 3600);
    assert_int_equal(status_as(&p, fresh, attacker), 429);
    free(fresh);

    /* The client cannot pick its own identity: a spoofed hop before the proxy's is ignored. */
    char spoof[64];
    snprintf(spoof, sizeof(spoof), "198.51.100.1, %s", attacker);
    bad = forged(100);
    assert_int_equal(status_as(&p, bad, spoof), 429);
    free(bad);

    /* The log has a sampled line, not one per failure, and never a token. */
    char *log = test_read_file(p.log_path);
    assert_non_null(log);
    size_t lines = 0;
    for (const char *q = log; (q = strstr(q, "authentication failed from")) != NULL; q++)
        lines++;
    assert_true(lines >= 1 && lines <= 3);
    assert_non_null(strstr(log, "authentication failed from 203.0.113.66"));
    assert_null(strstr(log, "eyJ"));
    free(log);
    free(seller);
    assert_int_equal(offerd_stop(&p), 0);
}

static void test_forwarded_for_is_ignored_unless_trusted(void **state)
{
    (void)state;
    /* No --trusted-proxy: X-Forwarded-For is the client's own claim, so rotating it does not
     * give an attacker fresh buckets; every failure counts against the socket peer. */
    const char *extra[] = {"--auth-fail-burst", "3", "--auth-fail-limit", "0.1", NULL};
    struct offerd_proc p = start_own("untrusted", extra);
    char xff[32];
    /* Expired tokens are refused and counted, but not charged: only the identity provider signs
     * them, and users behind one address show theirs now and then. */
    for (int i = 0; i < 6; i++) {
        char *expired = test_token(SEED_BUYER_TOKEN_SUB, -3600 - i);
        assert_int_equal(status_as(&p, expired, NULL), 401);
        free(expired);
    }
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failures_total"), 6);
    for (int i = 0; i < 3; i++) {
        snprintf(xff, sizeof(xff), "198.51.100.%d", i + 1);
        char *bad = forged(i);
        assert_int_equal(status_as(&p, bad, xff), 401);
        free(bad);
    }
    char *bad = forged(3);
    assert_int_equal(status_as(&p, bad, "198.51.100.200"), 429);
    free(bad);
    assert_int_equal(offerd_stop(&p), 0);
}

static void test_replayed_bad_token_is_refused_from_memory(void **state)
{
    (void)state;
    struct offerd_proc p = start_own("replay", NULL); /* failure limit off (spawn_offerd) */
    char *bad = forged(1);
    char *expired = test_token(SEED_BUYER_TOKEN_SUB, -3600);
    struct http_response r;
    assert_int_equal(get_as(&p, bad, NULL, &r), 401);
    char *first = strdup(r.body);
    http_response_cleanup(&r);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failures_total"), 1);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failed_token_cache_hits_total"), 0);
    /* The same bad token again: the same answer, from memory. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(get_as(&p, bad, NULL, &r), 401);
        assert_string_equal(r.body, first);
        char h[64];
        assert_non_null(http_header(&r, "WWW-Authenticate", h, sizeof(h)));
        http_response_cleanup(&r);
    }
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failed_token_cache_hits_total"), 3);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failures_total"), 4);
    /* Each remembered token keeps its own reason. */
    assert_int_equal(get_as(&p, expired, NULL, &r), 401);
    assert_non_null(strstr(r.body, "expired"));
    http_response_cleanup(&r);
    assert_int_equal(get_as(&p, expired, NULL, &r), 401);
    assert_non_null(strstr(r.body, "expired"));
    http_response_cleanup(&r);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failed_token_cache_hits_total"), 4);
    /* Good tokens are untouched by all this. */
    assert_int_equal(status_as(&p, fx.buyer, NULL), 200);
    assert_int_equal(http_metric(p.base_url, "offerd_auth_failures_total"), 6);
    free(first);
    free(expired);
    free(bad);
    assert_int_equal(offerd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absurd_exp_is_refused_clearly),
        cmocka_unit_test(test_fractional_exp_gets_a_lasting_stream),
        cmocka_unit_test(test_stream_inside_the_leeway_serves_then_ends_once),
        cmocka_unit_test(test_longpoll_cut_at_token_end_answers_401),
        cmocka_unit_test(test_failed_authentications_are_limited_per_address),
        cmocka_unit_test(test_forwarded_for_is_ignored_unless_trusted),
        cmocka_unit_test(test_replayed_bad_token_is_refused_from_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
