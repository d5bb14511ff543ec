/* test_burst.c - a worker thread answers a burst of clients that all send at once.
 *
 * libmicrohttpd's epoll loop blocked, with the events of exactly 128 ready connections in hand,
 * until the idle timeout (60 s) when those 128 were all it had (http/epoll_batch.h). Here one
 * worker (--threads 1) holds exactly 128 kept-alive connections, or 256, and all of them send a
 * request at the same moment, round after round; every round must be answered in full well
 * before the idle timeout (--idle-timeout 30, so a frozen worker cannot pass by luck). Before
 * the fix about one round in four was not answered for 20 s and more.
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "offerd_fixture.h"
#include "test_clock.h"
#include "test_http.h"

#define MAX_CONNS 256
#define ROUNDS 12
#define ROUND_LIMIT_S 10.0 /* a whole round; an answered one takes milliseconds */

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--threads", "1", "--idle-timeout", "30", NULL};
    return offerd_fixture_start(&fx, extra);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx);
}

/* Whether buf (NUL-terminated) holds a whole /healthz answer: its head and the 15-byte body. */
static bool whole_answer(const char *buf)
{
    const char *end = strstr(buf, "\r\n\r\n");
    return end && strstr(end, "}") != NULL;
}

/* Every connection sends one request at once; returns how many were answered in full within
 * ROUND_LIMIT_S. */
static int one_round(const int *fds, int n)
{
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: burst\r\n\r\n";
    static char got[MAX_CONNS][512];
    static size_t got_len[MAX_CONNS];
    struct pollfd pfds[MAX_CONNS];
    bool done[MAX_CONNS] = {false};
    for (int i = 0; i < n; i++) {
        assert_int_equal(write(fds[i], request, sizeof(request) - 1), (ssize_t)sizeof(request) - 1);
        got_len[i] = 0;
        got[i][0] = '\0';
    }
    int answered = 0;
    double t0 = test_now_s();
    while (answered < n && test_now_s() - t0 < ROUND_LIMIT_S) {
        int m = 0;
        int index[MAX_CONNS];
        for (int i = 0; i < n; i++)
            if (!done[i]) {
                pfds[m] = (struct pollfd){.fd = fds[i], .events = POLLIN};
                index[m++] = i;
            }
        int ready = poll(pfds, (nfds_t)m, 200);
        for (int k = 0; ready > 0 && k < m; k++) {
            if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int i = index[k];
            ssize_t r = read(fds[i], got[i] + got_len[i], sizeof(got[i]) - 1 - got_len[i]);
            assert_true(r > 0); /* the server must not close a connection that asked nicely */
            got_len[i] += (size_t)r;
            got[i][got_len[i]] = '\0';
            if (whole_answer(got[i])) {
                assert_non_null(strstr(got[i], "HTTP/1.1 200"));
                done[i] = true;
                answered++;
            }
        }
    }
    return answered;
}

static void burst(int n)
{
    int fds[MAX_CONNS];
    for (int i = 0; i < n; i++) {
        fds[i] = http_raw_connect(fx.server.port);
        assert_true(fds[i] >= 0);
    }
    for (int round = 0; round < ROUNDS; round++) {
        int answered = one_round(fds, n);
        if (answered != n)
            fail_msg("round %d: %d of %d connections answered within %.0f s", round, answered, n,
                     ROUND_LIMIT_S);
        test_sleep_ms(20);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* Exactly libmicrohttpd's batch of 128: the case that froze. */
static void test_128_clients_at_once_are_all_answered(void **state)
{
    (void)state;
    burst(128);
}

/* Two full batches. */
static void test_256_clients_at_once_are_all_answered(void **state)
{
    (void)state;
    burst(256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_128_clients_at_once_are_all_answered),
        cmocka_unit_test(test_256_clients_at_once_are_all_answered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
