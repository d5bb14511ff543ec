/* test_http_head.c - request heads a proxy could frame differently are refused; plain ones pass.
 *
 * Each head is laid out in memory as libmicrohttpd 0.9.75 leaves it (fuzz/mhd_head_layout.h),
 * then walked field by field as http_server.c walks it.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../fuzz/mhd_head_layout.h"
#include "http/http_head.h"

/* The verdict on raw (NULL: accepted); *cookie gets the Cookie value found, if asked. */
static const char *verdict_len(const char *raw, size_t len, char *cookie, size_t cookie_size)
{
    struct mhd_layout l;
    assert_true(mhd_layout_parse(&l, raw, len));
    struct http_head_check c;
    http_head_check_begin(&c, l.version, strlen(l.version));
    for (size_t i = 0; i < l.field_count; i++)
        http_head_check_field(&c, l.fields[i].name, l.fields[i].name_len, l.fields[i].value,
                              l.fields[i].value_len);
    int minor = l.version[7] - '0';
    const char *reason = http_head_check_end(&c, l.head_end, minor);
    if (cookie)
        snprintf(cookie, cookie_size, "%s", c.cookie ? c.cookie : "(none)");
    mhd_layout_free(&l);
    return reason;
}

static const char *verdict(const char *raw)
{
    return verdict_len(raw, strlen(raw), NULL, 0);
}

static void test_plain_heads_pass(void **state)
{
    (void)state;
    char cookie[64];
    static const char plain[] = "GET /x HTTP/1.1\r\nHost: a\r\nCookie: b=c\r\n\r\n";
    assert_null(verdict_len(plain, sizeof(plain) - 1, cookie, sizeof(cookie)));
    assert_string_equal(cookie, "b=c");
    assert_null(verdict("GET /x HTTP/1.1\nHost: a\nAccept:  */* \n\n"));     /* bare LF */
    assert_null(verdict("\r\nGET /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n")); /* empty value */
    assert_null(verdict("GET /x HTTP/1.0\r\n\r\n"));                           /* 1.0: no Host */
    assert_null(verdict("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n"));
    assert_null(verdict("POST /x HTTP/1.1\r\nHost: a\r\ntransfer-encoding: Chunked\r\n\r\n"));
    assert_null(verdict("GET /x HTTP/1.1\r\nHost: a\r\nCookie: a=\"\r\n\r\n"));
    assert_null(verdict("GET /x HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xc3\xa9\t(x)\r\n\r\n"));
}

static void test_framing_ambiguities_refused(void **state)
{
    (void)state;
    assert_string_equal(
        verdict("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n"),
        "more than one Content-Length");
    assert_string_equal(
        verdict("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
        "more than one Content-Length");
    assert_string_equal(verdict("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                        "Content-Length and Transfer-Encoding together");
    assert_string_equal(verdict("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"),
                        "unsupported Transfer-Encoding (only chunked)");
    assert_string_equal(
        verdict("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
        "unsupported Transfer-Encoding (only chunked)");
    assert_string_equal(verdict("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"),
                        "more than one Transfer-Encoding");
    assert_string_equal(verdict("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
                        "Transfer-Encoding in an HTTP/1.0 request");
    assert_string_equal(verdict("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
                        "malformed Content-Length");
    assert_string_equal(verdict("GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n"),
                        "HTTP/1.1 request without Host");
    assert_string_equal(verdict("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                        "more than one Host");
    assert_string_equal(verdict("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"),
                        "invalid character in a header name");
}

static void test_hidden_bytes_refused(void **state)
{
    (void)state;
    /* A bare CR stays in the value. */
    assert_string_equal(verdict("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\rContent-Length: 5\r\n\r\n"),
                        "control character (CR, NUL...) in a header value");
    /* A NUL ends the value libmicrohttpd keeps; what follows it is still on the line. */
    static const char nul_junk[] = "GET /x HTTP/1.1\r\nHost: a\0junk\r\nX-B: c\r\n\r\n";
    assert_non_null(verdict_len(nul_junk, sizeof(nul_junk) - 1, NULL, 0));
    static const char nul_last[] = "GET /x HTTP/1.1\r\nHost: a\r\nX-B: c\0\r\n\r\n";
    assert_non_null(verdict_len(nul_last, sizeof(nul_last) - 1, NULL, 0));
    static const char nul_line[] = "GET /x HTTP/1.1\r\nHost: a\r\nX-B: c\0d\r\n\r\n";
    assert_non_null(verdict_len(nul_line, sizeof(nul_line) - 1, NULL, 0));
    /* A folded line: libmicrohttpd glues it to the field's name in a block of its own. */
    assert_string_equal(
        verdict("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"),
        "malformed request head (a folded line, or bytes hidden behind a NUL)");
    assert_non_null(verdict("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\nX-C: d\r\n\r\n"));
}

static void test_targets(void **state)
{
    (void)state;
    assert_null(http_head_check_target("/api/offers/o_1/counter"));
    assert_null(http_head_check_target("/api/offers?ids=a%2Cb&limit=2"));
    assert_null(http_head_check_target("/api/offers/a?x=%2F"));
    assert_string_equal(http_head_check_target("/api/offers/X%00/counter"),
                        "encoded NUL (%00) in the request target");
    assert_non_null(http_head_check_target("/api/offers?wait=5%00"));
    assert_string_equal(http_head_check_target("/api/offers/X%2fcounter"),
                        "encoded slash (%2F) in the path");
    assert_non_null(http_head_check_target("/api/offers/a b"));
    assert_non_null(http_head_check_target("/api/\x7f"));
    assert_non_null(http_head_check_target("/api/\r"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_heads_pass),
        cmocka_unit_test(test_framing_ambiguities_refused),
        cmocka_unit_test(test_hidden_bytes_refused),
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
