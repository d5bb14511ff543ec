/* test_demo_page.c - the --demo page and its sign-in helper against a real offerd.
 *
 * The browser tests (tests/browser) drive the page itself; here: it is served only with --demo,
 * with a locking-down Content-Security-Policy, and the tokens /demo/session hands out are real
 * tokens for the demo users, nobody else's.
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
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_http.h"

struct fixture {
    char *dir;
    char db[512];
    struct offerd_proc demo;        /* --demo */
    struct offerd_proc plain;       /* same file, no --demo, another secret */
    bool demo_up, plain_up;
};

static struct fixture fx;

static int setup(void **state)
{
    (void)state;
    fx.dir = test_tmpdir_new();
    if (!fx.dir)
        return -1;
    if (test_db_new(fx.dir, "t.db", fx.db, sizeof(fx.db)) != 0)
        return -1;
    const char *demo[] = {"--demo", NULL};
    fx.demo_up = offerd_start(&fx.demo, fx.db, demo) == 0;
    const char *plain[] = {"--jwt-secret", "another-secret-for-the-server-without-demo", NULL};
    fx.plain_up = fx.demo_up && offerd_start(&fx.plain, fx.db, plain) == 0;
    return fx.demo_up && fx.plain_up ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int status = 0;
    if (fx.demo_up)
        status |= offerd_stop(&fx.demo);
    if (fx.plain_up)
        status |= offerd_stop(&fx.plain);
    test_db_drop(fx.db);
    test_tmpdir_remove(fx.dir);
    free(fx.dir);
    return status == 0 ? 0 : -1;
}

static void page_and_scripts_are_served_with_demo(void **state)
{
    (void)state;
    static const struct {
        const char *path, *type, *needle;
    } files[] = {
        {"/", "text/html", "<script type=\"module\" src=\"/demo/demo.js\">"},
        {"/demo/demo.js", "text/javascript", "createOfferClient"},
        {"/demo/demo.css", "text/css", ".offer"},
        {"/demo/offer-updates.js", "text/javascript", "export function watchOffer"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct http_response res;
        offerd_get(&fx.demo, files[i].path, NULL, NULL, &res);
        assert_int_equal(res.status, 200);
        char buf[512];
        assert_non_null(http_header(&res, "Content-Type", buf, sizeof(buf)));
        assert_non_null(strstr(buf, files[i].type));
        assert_non_null(http_header(&res, "Content-Security-Policy", buf, sizeof(buf)));
        assert_non_null(strstr(buf, "script-src 'self'"));
        assert_non_null(strstr(res.body, files[i].needle));
        http_response_cleanup(&res);
    }
}

static void nothing_is_served_without_demo(void **state)
{
    (void)state;
    const char *paths[] = {"/", "/demo/demo.js", "/demo/offer-updates.js", "/demo/session"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct http_response res;
        offerd_get(&fx.plain, paths[i], NULL, NULL, &res);
        assert_int_equal(res.status, 404);
        assert_null(strstr(res.body, "eyJ")); /* no token, no page */
        http_response_cleanup(&res);
    }
}

static void unknown_demo_path_is_404(void **state)
{
    (void)state;
    struct http_response res;
    offerd_get(&fx.demo, "/demo/missing.js", NULL, NULL, &res);
    assert_int_equal(res.status, 404);
    http_response_cleanup(&res);
}

/* The session's tokens are the demo users' own: Alice reads her offer, Carol is refused. */
static void session_tokens_act_as_the_demo_users(void **state)
{
    (void)state;
    struct http_response res;
    offerd_get(&fx.demo, "/demo/session", NULL, NULL, &res);
    assert_int_equal(res.status, 200);
    char cache[64];
    assert_non_null(http_header(&res, "Cache-Control", cache, sizeof(cache)));
    assert_string_equal(cache, "no-store");
    json_error_t jerr;
    json_t *doc = json_loads(res.body, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "expiresIn")), 3600);
    json_t *users = json_object_get(doc, "users");
    assert_int_equal(json_array_size(users), 3);
    const char *alice = NULL, *carol = NULL;
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        const char *id = json_string_value(json_object_get(u, "id"));
        if (!strcmp(id, "demo_alice"))
            alice = json_string_value(json_object_get(u, "token"));
        if (!strcmp(id, "demo_carol"))
            carol = json_string_value(json_object_get(u, "token"));
    }
    assert_non_null(alice);
    assert_non_null(carol);

    struct http_response offer;
    offerd_get(&fx.demo, "/api/offers/demo_offer_1", alice, NULL, &offer);
    assert_int_equal(offer.status, 200);
    assert_non_null(strstr(offer.body, "\"buyerId\":\"demo_alice\""));
    http_response_cleanup(&offer);
    offerd_get(&fx.demo, "/api/offers/demo_offer_1", carol, NULL, &offer);
    assert_int_equal(offer.status, 403);
    http_response_cleanup(&offer);
    /* A server started without --demo on another secret does not take them. */
    offerd_get(&fx.plain, "/api/offers/demo_offer_1", alice, NULL, &offer);
    assert_int_equal(offer.status, 401);
    http_response_cleanup(&offer);

    json_decref(doc);
    http_response_cleanup(&res);
}

/* With a public key offerd cannot mint tokens: it says so instead of pretending. */
static void session_needs_a_secret(void **state)
{
    (void)state;
    char pem[600];
    snprintf(pem, sizeof(pem), "%s/rs256-public.pem", fx.dir);
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    FILE *f = fopen(pem, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, key), 1);
    fclose(f);
    EVP_PKEY_free(key);
    char db[600];
    assert_int_equal(test_db_new(fx.dir, "pk.db", db, sizeof(db)), 0);
    struct offerd_proc p;
    const char *args[] = {"--bind", "127.0.0.1", "--port", "0", "--db", db, "--demo",
                          "--jwt-public-key", pem, NULL};
    assert_int_equal(offerd_start_argv(&p, db, args), 0);
    struct http_response res;
    offerd_get(&p, "/demo/session", NULL, NULL, &res);
    assert_int_equal(res.status, 404);
    assert_non_null(strstr(res.body, "HS256"));
    http_response_cleanup(&res);
    offerd_get(&p, "/", NULL, NULL, &res);
    assert_int_equal(res.status, 200); /* the page itself still works, with your own tokens */
    http_response_cleanup(&res);
    assert_int_equal(offerd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_and_scripts_are_served_with_demo),
        cmocka_unit_test(nothing_is_served_without_demo),
        cmocka_unit_test(unknown_demo_path_is_404),
        cmocka_unit_test(session_tokens_act_as_the_demo_users),
        cmocka_unit_test(session_needs_a_secret),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
