/* test_redis.c - a real redis-server for a test, on a Unix socket in a temporary directory.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_redis.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "child_reaper.h"
#include "test_clock.h"

void test_redis_init(struct test_redis *r, const char *dir)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    snprintf(r->socket_path, sizeof(r->socket_path), "%s/redis.sock", dir);
    snprintf(r->bus, sizeof(r->bus), "unix://%s", r->socket_path);
}

static bool answers_ping(const struct test_redis *r)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectUnixWithTimeout(r->socket_path, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *reply = redisCommand(c, "PING");
        ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
        if (reply)
            freeReplyObject(reply);
    }
    if (c)
        redisFree(c);
    return ok;
}

int test_redis_start(struct test_redis *r)
{
    char log_path[PATH_MAX + 16];
    snprintf(log_path, sizeof(log_path), "%s/redis.log", r->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->socket_path,
               "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", r->dir,
               "--logfile", log_path, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    child_track(pid);
    for (int waited = 0; waited < 10000; waited += 20) {
        if (answers_ping(r))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            child_untrack(pid);
            r->pid = 0;
            fprintf(stderr, "redis-server exited at start; see %s\n", log_path);
            return -1;
        }
        test_sleep_ms(20);
    }
    test_redis_stop(r);
    return -1;
}

int test_redis_stop(struct test_redis *r)
{
    if (r->pid <= 0)
        return 0;
    kill(r->pid, SIGTERM);
    kill(r->pid, SIGCONT); /* a paused server (test_redis_pause) acts on the TERM only then */
    int status = 0;
    bool exited = false;
    for (int waited = 0; waited < 5000 && !exited; waited += 10) {
        exited = waitpid(r->pid, &status, WNOHANG) == r->pid;
        if (!exited)
            test_sleep_ms(10);
    }
    if (!exited) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, &status, 0);
    }
    child_untrack(r->pid);
    r->pid = 0;
    unlink(r->socket_path);
    return exited && WIFEXITED(status) ? 0 : -1;
}

void test_redis_pause(const struct test_redis *r, bool paused)
{
    if (r->pid > 0)
        kill(r->pid, paused ? SIGSTOP : SIGCONT);
}

long long test_redis_command(const struct test_redis *r, const char *format, ...)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectUnixWithTimeout(r->socket_path, tv);
    long long result = -1;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        va_list ap;
        va_start(ap, format);
        redisReply *reply = redisvCommand(c, format, ap);
        va_end(ap);
        if (reply && reply->type == REDIS_REPLY_INTEGER)
            result = reply->integer;
        else if (reply && (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING))
            result = 0;
        if (reply)
            freeReplyObject(reply);
    }
    if (c)
        redisFree(c);
    return result;
}
