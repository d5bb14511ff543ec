/* test_pg_server.h - a private PostgreSQL server a test may stop, restart and break.
 *
 * Tests of PostgreSQL going away (a restart, a killed backend) must not touch the cluster the
 * rest of the suite shares, so they start their own: initdb and pg_ctl from the newest
 * /usr/lib/postgresql/N/bin, in a fresh temporary directory, on a free 127.0.0.1 port, with
 * fsync on, trust authentication, run as user postgres (through runuser) when the test runs as
 * root, since PostgreSQL refuses to run as root. Starting it points the PG* environment at it
 * (PGHOST, PGPORT, PGUSER=postgres, PGDATABASE=postgres; PGPASSWORD unset), so the test_pg.h
 * helpers and every offerd the test spawns afterwards use it.
 *
 * A watchdog process stops the server (immediate mode) and removes its directory when the test
 * program goes away without doing so itself (a crash, a failed assertion's exit, a timeout's
 * SIGKILL), so no server outlives its test.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_PG_SERVER_H
#define OFFERD_TEST_PG_SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct test_pg_server {
    char *dir;             /* temporary directory (heap): data/, the socket, server.log */
    char bindir[PATH_MAX]; /* /usr/lib/postgresql/N/bin */
    int port;
    bool running;
    pid_t watchdog;
};

/* True when initdb and pg_ctl are installed (and, when running as root, user postgres exists):
 * the test can start a server of its own. Writes the bin directory into bindir when non-NULL. */
bool test_pg_server_available(char *bindir, size_t size);

/* Makes the directory, runs initdb, starts the server (pg_ctl start -w) and points the PG*
 * environment at it. Returns 0, or -1 with the reason (and the server's log) on stderr, with
 * whatever was made removed again. */
int test_pg_server_start(struct test_pg_server *s);

/* pg_ctl stop -m MODE ("smart", "fast" or "immediate") -w. Returns 0, or -1. */
int test_pg_server_stop(struct test_pg_server *s, const char *mode);

/* pg_ctl start -w again, on the same data and port, after test_pg_server_stop. Returns 0, or -1. */
int test_pg_server_resume(struct test_pg_server *s);

/* pg_ctl restart -m fast -w. Returns 0, or -1. */
int test_pg_server_restart(struct test_pg_server *s);

/* Stops the server (immediate) if it runs, ends the watchdog and removes the directory. Safe on
 * a server whose start failed, and twice. */
void test_pg_server_destroy(struct test_pg_server *s);

#endif
