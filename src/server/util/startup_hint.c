/* startup_hint.c - explain why the database or the listening socket could not be opened.
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/startup_hint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_OPTION "pick another path with --db/OFFERD_DB"

/* The directory part of PATH ("." for a bare name, "/" for a file at the root). */
static void dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/* WHAT (the file, or its directory when DIR) cannot be written: say why and what to do. */
static int not_writable(const char *path, const char *what, bool dir, int err, char *buf,
                        size_t size)
{
    char ebuf[128];
    const char *why = strerror_r(err, ebuf, sizeof(ebuf));
    if (err == EROFS)
        snprintf(buf, size,
                 "database %s: %s is on a read-only file system: " DB_OPTION
                 " (under systemd with ProtectSystem=strict only StateDirectory, "
                 "/var/lib/offerd, is writable)",
                 path, what);
    else if (dir)
        snprintf(buf, size,
                 "cannot open database %s: %s is not writable (%s): offerd keeps the database "
                 "and its -wal and -shm files there, so give the user it runs as (uid %u) write "
                 "access, or " DB_OPTION,
                 path, what, why, (unsigned)geteuid());
    else
        snprintf(buf, size,
                 "database %s is not writable (%s): give the user offerd runs as (uid %u) read "
                 "and write access to it, or " DB_OPTION,
                 path, why, (unsigned)geteuid());
    return 1;
}

int startup_hint_db(const char *path, char *buf, size_t size)
{
    char dir[PATH_MAX], what[PATH_MAX + 16], ebuf[128];
    struct stat st;
    dir_of(path, dir, sizeof(dir));
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(buf, size, "cannot open database %s: it is a directory: give a file path "
                                "with --db/OFFERD_DB", path);
            return 1;
        }
        if (access(path, R_OK | W_OK) != 0)
            return not_writable(path, "the file", false, errno, buf, size);
    } else if (errno == EACCES) {
        snprintf(buf, size, "cannot open database %s: a directory on its path cannot be searched "
                            "by the user offerd runs as (uid %u): fix the permissions or "
                            DB_OPTION, path, (unsigned)geteuid());
        return 1;
    } else if (errno != ENOENT) {
        snprintf(buf, size, "cannot open database %s: %s: fix it or " DB_OPTION, path,
                 strerror_r(errno, ebuf, sizeof(ebuf)));
        return 1;
    }
    if (stat(dir, &st) != 0) {
        int err = errno;
        if (err == ENOENT)
            snprintf(buf, size, "cannot open database %s: directory %s does not exist: create it "
                                "(offerd creates only the file) or " DB_OPTION, path, dir);
        else
            snprintf(buf, size, "cannot open database %s: directory %s: %s: fix it or "
                                DB_OPTION, path, dir, strerror_r(err, ebuf, sizeof(ebuf)));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(buf, size, "cannot open database %s: %s is not a directory: " DB_OPTION, path,
                 dir);
        return 1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int err = errno;
        snprintf(what, sizeof(what), "directory %s", dir);
        return not_writable(path, what, true, err, buf, size);
    }
    return 0;
}

int startup_hint_listen(const char *bind_addr, int port, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, bind_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, bind_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof(*a6);
    } else {
        return 0;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int on = 1; /* as libmicrohttpd does, so that only a live listener counts as "in use" */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    int err = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
    close(fd);

    char where[80], ebuf[128];
    bool v6 = ss.ss_family == AF_INET6;
    snprintf(where, sizeof(where), "%s%s%s:%d", v6 ? "[" : "", bind_addr, v6 ? "]" : "", port);
    const char *why = strerror_r(err, ebuf, sizeof(ebuf));
    switch (err) {
    case EADDRINUSE:
        snprintf(buf, size, "cannot listen on %s: port %d is in use (%s): stop the other "
                            "process (ss -ltnp shows which) or pick another with --port/OFFERD_PORT",
                 where, port, why);
        return 1;
    case EACCES:
        snprintf(buf, size, "cannot listen on %s: ports below 1024 need privileges (%s): use a "
                            "higher --port/OFFERD_PORT behind a proxy, or grant "
                            "CAP_NET_BIND_SERVICE", where, why);
        return 1;
    case EADDRNOTAVAIL:
        snprintf(buf, size, "cannot listen on %s: %s is not an address of this machine (%s): "
                            "pick one with --bind/OFFERD_BIND (0.0.0.0 for every IPv4 address)",
                 where, bind_addr, why);
        return 1;
    default:
        return 0;
    }
}
