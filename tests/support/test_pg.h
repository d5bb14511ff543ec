/* test_pg.h - throw-away PostgreSQL databases for tests, on the server the PG* environment names.
 *
 * The test command (scripts/test.sh) runs the PostgreSQL suite inside pg_virtualenv, which starts
 * a private cluster and exports PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE. Every helper
 * here connects through libpq, which reads those variables, so a URL is just "postgresql:///NAME".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_PG_H
#define OFFERD_TEST_PG_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* True when the environment names a PostgreSQL server (PGHOST or PGPORT is set). */
bool test_pg_available(void);

/* True when URL names a PostgreSQL database ("postgresql://..." or "postgres://..."). */
bool test_pg_is_url(const char *url);

/* Creates a fresh, empty database named offerd_t_<pid>_<counter>_<random> (connecting to
 * $PGDATABASE, else "postgres") and writes "postgresql:///NAME" into url. Returns 0, or -1 with a
 * message on stderr. */
int test_pg_create_db(char *url, size_t url_size);

/* Drops the database URL names (WITH (FORCE): sessions still connected are ended). Returns 0, or
 * -1 with a message on stderr. A NULL or non-PostgreSQL url is a no-op returning 0. */
int test_pg_drop_db(const char *url);

/* Connects to URL; returns the connection (close with PQfinish) or NULL with a message on stderr.
 * For tests that hold a transaction open across another writer's commit. */
PGconn *test_pg_connect(const char *url);

/* Runs SQL (one or more statements, no parameters) on its own connection. Returns 0, or -1 with
 * the server's message on stderr. */
int test_pg_exec(const char *url, const char *sql);

/* Runs SQL and returns the first column of the first row as an integer (booleans read as 0/1), or
 * DEFAULT_VALUE when the query fails, returns no row or a NULL. */
long long test_pg_query_int(const char *url, const char *sql, long long default_value);

#endif
