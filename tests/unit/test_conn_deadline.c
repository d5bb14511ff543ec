/* test_conn_deadline.c - the request deadline on real loopback sockets, without libmicrohttpd.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/conn_deadline.h"

/* A connected pair over 127.0.0.1: *server is the accepted end. */
static void tcp_pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
    *server = accept(l, NULL, NULL);
    assert_true(*server >= 0);
    close(l);
}

/* What the client receives within ms: "" if nothing (still open), else the text; *eof set when
 * the server end was shut. */
static void client_reads(int fd, int ms, char *buf, size_t size, int *eof)
{
    size_t n = 0;
    *eof = 0;
    buf[0] = '\0';
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, ms) > 0) {
        ssize_t got = recv(fd, buf + n, size - 1 - n, 0);
        if (got <= 0) {
            *eof = 1;
            break;
        }
        n += (size_t)got;
        buf[n] = '\0';
        ms = 200;
    }
}

static void test_trickled_request_is_cut(void **state)
{
    (void)state;
    struct conn_deadlines *d = conn_deadlines_new(1);
    assert_non_null(d);
    int client, server;
    tcp_pair(&client, &server);
    struct conn_clock *c = conn_deadlines_open(d, server);
    assert_non_null(c);
    assert_int_equal(send(client, "G", 1, 0), 1); /* the first byte starts the clock */
    char buf[512];
    int eof;
    client_reads(client, 3000, buf, sizeof(buf), &eof);
    assert_true(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
    assert_true(eof);
    assert_true(conn_clock_was_cut(d, c));
    assert_false(conn_clock_request_complete(d, c)); /* too late: answer nothing */
    conn_deadlines_close(d, c);
    close(server); /* the owner closes; the clock only shut it down */
    close(client);
    conn_deadlines_free(d);
}

static void test_silent_complete_and_idle_connections_are_left_alone(void **state)
{
    (void)state;
    struct conn_deadlines *d = conn_deadlines_new(1);
    int silent_client, silent_server, done_client, done_server;
    tcp_pair(&silent_client, &silent_server);
    tcp_pair(&done_client, &done_server);
    struct conn_clock *silent = conn_deadlines_open(d, silent_server);
    struct conn_clock *done = conn_deadlines_open(d, done_server);
    /* A request that arrives whole and is then held (a long-poll) has no deadline. */
    assert_int_equal(send(done_client, "GET / HTTP/1.1\r\n\r\n", 18, 0), 18);
    conn_clock_request_line(d, done);
    assert_true(conn_clock_request_complete(d, done));
    char buf[512];
    int eof;
    client_reads(silent_client, 2500, buf, sizeof(buf), &eof);
    assert_string_equal(buf, "");
    assert_false(eof);
    client_reads(done_client, 10, buf, sizeof(buf), &eof);
    assert_string_equal(buf, "");
    assert_false(eof);
    /* Answered, the connection waits for its next request: idle is not late. */
    conn_clock_next_request(d, done);
    client_reads(done_client, 2500, buf, sizeof(buf), &eof);
    assert_string_equal(buf, "");
    assert_false(eof);
    /* Until a byte of the next request comes and the rest does not. */
    assert_int_equal(send(done_client, "P", 1, 0), 1);
    client_reads(done_client, 3500, buf, sizeof(buf), &eof);
    assert_true(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
    assert_false(conn_clock_was_cut(d, silent));
    conn_deadlines_close(d, silent);
    conn_deadlines_close(d, done);
    close(silent_server);
    close(silent_client);
    close(done_server);
    close(done_client);
    conn_deadlines_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trickled_request_is_cut),
        cmocka_unit_test(test_silent_complete_and_idle_connections_are_left_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
