/* log.c - timestamped lines on stderr: one per request, plus errors and notices.
 *
 * Each line is formatted into a local buffer and written with one fputs, so lines from worker
 * threads never interleave. With a log file, the file is dup2()ed onto stderr: dup2 swaps the
 * descriptor atomically, so a reopen (SIGHUP) needs no lock around the writers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/log.h"
#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int access_enabled = 1;
static char *log_path; /* set once at start-up, before any thread; read by log_reopen */

static int redirect_stderr(const char *path, char *err, size_t err_size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        char why[128];
        int e = errno;
        snprintf(err, err_size, "cannot open log file %s: %s", path,
                 strerror_r(e, why, sizeof(why)));
        return -1;
    }
    fflush(stderr);
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
    if (rc != 0)
        snprintf(err, err_size, "cannot redirect stderr to %s", path);
    close(fd);
    return rc;
}

int log_open_file(const char *path, char *err, size_t err_size)
{
    if (redirect_stderr(path, err, err_size) != 0)
        return -1;
    free(log_path);
    log_path = strdup(path);
    return log_path ? 0 : -1;
}

void log_set_access(int enabled)
{
    atomic_store(&access_enabled, enabled);
}

static size_t stamp(char *buf, size_t size)
{
    struct timespec ts = clock_now_timespec();
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    return n + (m > 0 ? (size_t)m : 0);
}

/* Copies s into dst, turning control characters into '?' so a crafted path cannot forge lines. */
static size_t append_sanitized(char *dst, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++, n++)
        dst[n] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    dst[n] = '\0';
    return n;
}

void log_request(const char *method, const char *path, unsigned status, int64_t duration_us,
                 uint64_t bytes)
{
    if (!atomic_load(&access_enabled))
        return;
    char line[1024];
    char safe_path[512];
    size_t n = stamp(line, sizeof(line));
    append_sanitized(safe_path, sizeof(safe_path), path);
    snprintf(line + n, sizeof(line) - n, "%s %s %u %lld.%03lldms %lluB\n", method, safe_path,
             status, (long long)(duration_us / 1000), (long long)(duration_us % 1000),
             (unsigned long long)bytes);
    fputs(line, stderr);
}

static void vlog(const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vlog(const char *level, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n = stamp(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", level);
    if (n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    size_t len = strlen(line);
    if (len + 1 < sizeof(line)) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("info", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
}

int log_reopen(void)
{
    if (!log_path) {
        log_info("SIGHUP: no --log-file to reopen, ignored");
        return 0;
    }
    char err[512];
    if (redirect_stderr(log_path, err, sizeof(err)) != 0) {
        log_error("%s (still writing to the old file)", err);
        return -1;
    }
    log_info("log file reopened");
    return 0;
}
