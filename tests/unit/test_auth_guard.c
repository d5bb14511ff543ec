/* test_auth_guard.c - failure buckets per address, the failed-token memory, the counters.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "auth/auth_guard.h"

static struct auth_guard *guard(double rate, int burst, size_t entries)
{
    struct auth_guard_options o = {rate, burst, entries, NULL, 0};
    char err[128];
    struct auth_guard *g = auth_guard_new(&o, err, sizeof(err));
    assert_non_null(g);
    return g;
}

static void fail_n(struct auth_guard *g, const char *key, int n, int64_t now_ms)
{
    char token[32];
    for (int i = 0; i < n; i++) {
        snprintf(token, sizeof(token), "bad-%s-%d", key, i);
        auth_guard_failed(g, key, token, strlen(token), AUTH_BAD_SIGNATURE, now_ms);
    }
}

static void test_failures_limit_their_address_only(void **state)
{
    (void)state;
    struct auth_guard *g = guard(0.5, 5, 64); /* 5 at once, then one per 2 s */
    int retry = 0;
    fail_n(g, "192.0.2.1", 4, 1000);
    assert_true(auth_guard_admit(g, "192.0.2.1", 1000, &retry));
    fail_n(g, "192.0.2.1", 1, 1000);
    assert_false(auth_guard_admit(g, "192.0.2.1", 1000, &retry));
    assert_int_equal(retry, 2);
    /* Another address is not affected. */
    assert_true(auth_guard_admit(g, "192.0.2.2", 1000, &retry));
    /* The bucket refills at the rate. */
    assert_false(auth_guard_admit(g, "192.0.2.1", 2999, &retry));
    assert_true(auth_guard_admit(g, "192.0.2.1", 3000, &retry));
    /* Tokens the identity provider signed (expired, nbf ahead, no sub) are counted, not charged:
     * ordinary users show expired tokens, and behind one address they would lock each other out. */
    const enum auth_result signed_refusals[] = {AUTH_EXPIRED, AUTH_NOT_YET_VALID, AUTH_NO_SUBJECT,
                                                AUTH_NO_EXPIRY, AUTH_BAD_TIME};
    for (int i = 0; i < 50; i++)
        auth_guard_failed(g, "192.0.2.3", "t", 1, signed_refusals[i % 5], 1000);
    assert_true(auth_guard_admit(g, "192.0.2.3", 1000, &retry));
    /* Forgeable ones are charged, whatever the kind. */
    auth_guard_failed(g, "192.0.2.4", "a", 1, AUTH_MALFORMED, 1000);
    auth_guard_failed(g, "192.0.2.4", "b", 1, AUTH_WRONG_ALGORITHM, 1000);
    auth_guard_failed(g, "192.0.2.4", "c", 1, AUTH_BAD_SIGNATURE, 1000);
    auth_guard_failed(g, "192.0.2.4", NULL, 0, AUTH_BAD_SIGNATURE, 1000); /* a recalled one */
    assert_true(auth_guard_admit(g, "192.0.2.4", 1000, &retry));
    auth_guard_failed(g, "192.0.2.4", "d", 1, AUTH_MALFORMED, 1000);
    assert_false(auth_guard_admit(g, "192.0.2.4", 1000, &retry));
    struct auth_guard_stats st;
    auth_guard_get_stats(g, &st);
    assert_int_equal(st.failures, 5 + 50 + 5);
    assert_int_equal(st.throttled, 3);
    assert_int_equal(st.recalled, 0);
    auth_guard_free(g);
    auth_guard_free(NULL);
}

static void test_off_never_throttles(void **state)
{
    (void)state;
    struct auth_guard *g = guard(0, 1, 0);
    int retry = 0;
    fail_n(g, "192.0.2.1", 100, 0);
    assert_true(auth_guard_admit(g, "192.0.2.1", 0, &retry));
    enum auth_result why;
    assert_false(auth_guard_recall(g, "bad-192.0.2.1-0", 15, &why)); /* memory off */
    auth_guard_free(g);
}

static void test_failed_tokens_are_remembered(void **state)
{
    (void)state;
    struct auth_guard *g = guard(1000, 1000, 64);
    enum auth_result why = AUTH_OK;
    const char *t1 = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.forged";
    assert_false(auth_guard_recall(g, t1, strlen(t1), &why));
    auth_guard_failed(g, "192.0.2.1", t1, strlen(t1), AUTH_BAD_SIGNATURE, 0);
    assert_true(auth_guard_recall(g, t1, strlen(t1), &why));
    assert_int_equal(why, AUTH_BAD_SIGNATURE);
    /* Exactly that token: one byte more or less is another. */
    assert_false(auth_guard_recall(g, t1, strlen(t1) - 1, &why));
    /* The reason is kept per token. */
    const char *t2 = "expired.token.here";
    auth_guard_failed(g, "192.0.2.1", t2, strlen(t2), AUTH_EXPIRED, 0);
    assert_true(auth_guard_recall(g, t2, strlen(t2), &why));
    assert_int_equal(why, AUTH_EXPIRED);
    /* A token that may become valid (nbf ahead) is not remembered; nor are non-failures. */
    const char *t3 = "not.yet.valid";
    auth_guard_failed(g, "192.0.2.1", t3, strlen(t3), AUTH_NOT_YET_VALID, 0);
    assert_false(auth_guard_recall(g, t3, strlen(t3), &why));
    const char *t4 = "internal.error.token";
    auth_guard_failed(g, "192.0.2.1", t4, strlen(t4), AUTH_INTERNAL_ERROR, 0);
    assert_false(auth_guard_recall(g, t4, strlen(t4), &why));
    struct auth_guard_stats st;
    auth_guard_get_stats(g, &st);
    assert_int_equal(st.failures, 3); /* internal error is not a failed authentication */
    assert_int_equal(st.recalled, 2);
    /* A bounded table: many more failures than slots never grow it, and recall stays exact. */
    char token[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(token, sizeof(token), "flood-%d", i);
        auth_guard_failed(g, "192.0.2.9", token, strlen(token), AUTH_MALFORMED, 0);
    }
    assert_true(auth_guard_recall(g, "flood-9999", 10, &why));
    assert_int_equal(why, AUTH_MALFORMED);
    assert_false(auth_guard_recall(g, "flood-10000", 11, &why));
    auth_guard_free(g);
}

static void test_client_key_uses_trusted_proxies(void **state)
{
    (void)state;
    const char *proxies[] = {"127.0.0.1", "10.0.0.0/8"};
    struct auth_guard_options o = {1, 20, 64, proxies, 2};
    char err[128], key[CLIENT_ADDR_KEY_SIZE];
    struct auth_guard *g = auth_guard_new(&o, err, sizeof(err));
    assert_non_null(g);
    struct sockaddr_in peer = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
    const char *xff[] = {"6.6.6.6, 203.0.113.9"};
    auth_guard_client_key(g, (struct sockaddr *)&peer, xff, 1, key);
    assert_string_equal(key, "203.0.113.9");
    inet_pton(AF_INET, "198.51.100.1", &peer.sin_addr); /* not a proxy: header ignored */
    auth_guard_client_key(g, (struct sockaddr *)&peer, xff, 1, key);
    assert_string_equal(key, "198.51.100.1");
    auth_guard_client_key(g, NULL, NULL, 0, key);
    assert_string_equal(key, "unknown");
    auth_guard_free(g);

    const char *bad[] = {"proxy.example.com"};
    struct auth_guard_options ob = {1, 20, 64, bad, 1};
    assert_null(auth_guard_new(&ob, err, sizeof(err)));
    assert_non_null(strstr(err, "proxy.example.com"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failures_limit_their_address_only),
        cmocka_unit_test(test_off_never_throttles),
        cmocka_unit_test(test_failed_tokens_are_remembered),
        cmocka_unit_test(test_client_key_uses_trusted_proxies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
