/* test_redis.h - a real redis-server for a test, on a Unix socket in a temporary directory.
 *
 * No TCP port is opened (--port 0), so nothing races for ports and nothing listens beyond this
 * machine; offerd reaches it with --bus unix://PATH. The server is stopped by its pid (SIGTERM,
 * then SIGKILL), killed at exit if a failed assertion skipped the stop, and gets SIGTERM if the
 * test program dies (PR_SET_PDEATHSIG). Commands for the test itself (PUBLISH, CLIENT KILL) go
 * through hiredis.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_REDIS_H
#define OFFERD_TEST_REDIS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct test_redis {
    pid_t pid;                  /* 0 while not running */
    char dir[PATH_MAX];         /* where its socket and log are (the caller's directory) */
    char socket_path[PATH_MAX]; /* DIR/redis.sock */
    char bus[PATH_MAX + 16];    /* "unix://DIR/redis.sock", for offerd's --bus */
};

/* Fills r for a server in dir (an existing directory) without starting it: r->bus is usable at
 * once, as an address where Redis is not (yet) running. */
void test_redis_init(struct test_redis *r, const char *dir);

/* Starts redis-server on r->socket_path (no persistence) and waits until it answers PING (up to
 * 10 s). Returns 0, or -1 (nothing left running). */
int test_redis_start(struct test_redis *r);

/* Stops it by pid (SIGTERM, SIGKILL after 5 s) and reaps it. Returns 0 when it exited by itself.
 * A no-op returning 0 when it is not running. */
int test_redis_stop(struct test_redis *r);

/* Freezes (SIGSTOP) or thaws (SIGCONT) the server: a Redis that hangs, connections open. */
void test_redis_pause(const struct test_redis *r, bool paused);

/* Runs one command (hiredis format: "PUBLISH %s %b", ...) on a connection of its own. Returns
 * the integer reply, 0 for a status or string reply, -1 for an error or no answer. */
long long test_redis_command(const struct test_redis *r, const char *format, ...);

#endif
