/* test_client_addr.c - addresses, trusted networks, keys and the X-Forwarded-For walk.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "util/client_addr.h"

static struct client_addr addr(const char *text)
{
    struct client_addr a;
    if (!client_addr_parse(text, &a))
        fail_msg("cannot parse %s", text);
    return a;
}

static const char *key_of(struct client_addr a)
{
    static char key[CLIENT_ADDR_KEY_SIZE];
    client_addr_key(&a, key);
    return key;
}

static void test_parse(void **state)
{
    (void)state;
    struct client_addr a;
    const char *good[] = {"192.0.2.1", " 10.0.0.0/8 ", "0.0.0.0/0", "2001:db8::1", "fd00::/8",
                          "::/0", "::1", "::ffff:192.0.2.1", "::ffff:10.0.0.0/104",
                          "192.0.2.1/32", "2001:db8::/32"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!client_addr_parse(good[i], &a))
            fail_msg("refused %s", good[i]);
    const char *bad[] = {"", "   ", "localhost", "192.0.2", "192.0.2.1/33", "10.0.0.1/8",
                         "2001:db8::/129", "2001:db8::1/64", "10.0.0.0/", "10.0.0.0/8/8",
                         "10.0.0.0/-8", "10.0.0.0/0x8", "1.2.3.4:80", "[::1]", "::ffff:10.0.0.0/8",
                         "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (client_addr_parse(bad[i], &a))
            fail_msg("accepted %s", bad[i]);
    assert_false(client_addr_parse(NULL, &a));
    /* IPv4-mapped IPv6 is IPv4 */
    a = addr("::ffff:192.0.2.1");
    assert_int_equal(a.family, 4);
    assert_string_equal(key_of(a), "192.0.2.1");
    a = addr("::ffff:10.0.0.0/104");
    assert_int_equal(a.family, 4);
    assert_int_equal(a.prefix_bits, 8);
}

static void test_in(void **state)
{
    (void)state;
    struct client_addr net = addr("10.0.0.0/8"), one = addr("10.1.2.3");
    assert_true(client_addr_in(&net, &one));
    one = addr("11.0.0.1");
    assert_false(client_addr_in(&net, &one));
    net = addr("192.168.4.0/22");
    one = addr("192.168.7.255");
    assert_true(client_addr_in(&net, &one));
    one = addr("192.168.8.0");
    assert_false(client_addr_in(&net, &one));
    net = addr("0.0.0.0/0");
    assert_true(client_addr_in(&net, &one));
    one = addr("::1"); /* families never mix */
    assert_false(client_addr_in(&net, &one));
    net = addr("fd00::/8");
    one = addr("fdab::5");
    assert_true(client_addr_in(&net, &one));
    one = addr("fe00::5");
    assert_false(client_addr_in(&net, &one));
    net = addr("127.0.0.1");
    one = addr("127.0.0.1");
    assert_true(client_addr_in(&net, &one));
    one = addr("127.0.0.2");
    assert_false(client_addr_in(&net, &one));
}

static void test_keys(void **state)
{
    (void)state;
    assert_string_equal(key_of(addr("192.0.2.1")), "192.0.2.1");
    /* an IPv6 client is its /64 */
    assert_string_equal(key_of(addr("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
    assert_string_equal(key_of(addr("2001:db8:1:2::99")), "2001:db8:1:2::/64");
    struct client_addr none = {0};
    assert_string_equal(key_of(none), "unknown");

    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "198.51.100.7", &in.sin_addr);
    struct client_addr a;
    assert_true(client_addr_from_sockaddr((struct sockaddr *)&in, &a));
    assert_string_equal(key_of(a), "198.51.100.7");
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:198.51.100.8", &in6.sin6_addr);
    assert_true(client_addr_from_sockaddr((struct sockaddr *)&in6, &a));
    assert_string_equal(key_of(a), "198.51.100.8");
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_false(client_addr_from_sockaddr(&un, &a));
    assert_false(client_addr_from_sockaddr(NULL, &a));
}

static const char *resolve(const char *peer, const char *const *xff, size_t n)
{
    struct client_addr trusted[] = {addr("10.0.0.0/8"), addr("127.0.0.1"), addr("fd00::/8")};
    struct client_addr p = addr(peer);
    return key_of(client_addr_resolve(&p, xff, n, trusted, 3));
}

static void test_resolve(void **state)
{
    (void)state;
    const char *one[] = {"203.0.113.9"};
    /* Not from a trusted proxy: the header is the client's own claim and is ignored. */
    assert_string_equal(resolve("198.51.100.1", one, 1), "198.51.100.1");
    assert_string_equal(resolve("198.51.100.1", NULL, 0), "198.51.100.1");
    /* From a trusted proxy: the hop it added. */
    assert_string_equal(resolve("127.0.0.1", one, 1), "203.0.113.9");
    /* The client's own prefix is not believed: the rightmost untrusted hop wins. */
    const char *spoofed[] = {"1.1.1.1, 203.0.113.9"};
    assert_string_equal(resolve("127.0.0.1", spoofed, 1), "203.0.113.9");
    /* Through two trusted proxies. */
    const char *chain[] = {"6.6.6.6, 203.0.113.9, 10.1.1.1"};
    assert_string_equal(resolve("127.0.0.1", chain, 1), "203.0.113.9");
    /* Several header lines: the last one holds the nearest hops. */
    const char *lines[] = {"6.6.6.6", "203.0.113.9 ,\t10.2.2.2"};
    assert_string_equal(resolve("10.0.0.5", lines, 2), "203.0.113.9");
    const char *lines2[] = {"203.0.113.7", "10.2.2.2"};
    assert_string_equal(resolve("10.0.0.5", lines2, 2), "203.0.113.7");
    /* Garbage ends the walk at the trusted hop that passed it on. */
    const char *garbage[] = {"203.0.113.9, unknown"};
    assert_string_equal(resolve("127.0.0.1", garbage, 1), "127.0.0.1");
    const char *garbage2[] = {"unknown, 10.3.3.3"};
    assert_string_equal(resolve("127.0.0.1", garbage2, 1), "10.3.3.3");
    const char *empty[] = {""};
    assert_string_equal(resolve("127.0.0.1", empty, 1), "127.0.0.1");
    /* Every hop trusted: the leftmost. */
    const char *all[] = {"10.9.9.9, 10.8.8.8"};
    assert_string_equal(resolve("127.0.0.1", all, 1), "10.9.9.9");
    /* IPv6 hops, keyed by /64. */
    const char *v6[] = {"2001:db8:aa:bb::1, fd00::2"};
    assert_string_equal(resolve("fd00::1", v6, 1), "2001:db8:aa:bb::/64");
    const char *mapped[] = {"::ffff:203.0.113.9"};
    assert_string_equal(resolve("127.0.0.1", mapped, 1), "203.0.113.9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
