/* test_pg.c - create, use and drop throw-away PostgreSQL databases through libpq.
 *
 * Databases are created on a connection to the maintenance database ($PGDATABASE, else
 * "postgres"); names carry the pid, a per-process counter and random bits, so tests running in
 * parallel (ctest -j) and leftovers of a crashed run never collide.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_pg.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define TEST_PG_DB_PREFIX "offerd_t_"

bool test_pg_available(void)
{
    const char *host = getenv("PGHOST");
    const char *port = getenv("PGPORT");
    return (host && *host) || (port && *port);
}

bool test_pg_is_url(const char *url)
{
    return url && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

PGconn *test_pg_connect(const char *url)
{
    PGconn *pg = PQconnectdb(url);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "test_pg: cannot connect to %s: %s", url,
                pg ? PQerrorMessage(pg) : "out of memory\n");
        PQfinish(pg);
        return NULL;
    }
    /* Keep the server's NOTICEs (e.g. "database does not exist, skipping") out of test output. */
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    return pg;
}

/* A connection to the maintenance database, for CREATE/DROP DATABASE. */
static PGconn *connect_maintenance(void)
{
    const char *dbname = getenv("PGDATABASE");
    char url[256];
    snprintf(url, sizeof(url), "postgresql:///%s", dbname && *dbname ? dbname : "postgres");
    return test_pg_connect(url);
}

static bool command_ok(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok)
        fprintf(stderr, "test_pg: %s  in: %.200s\n", PQerrorMessage(pg), sql);
    PQclear(res);
    return ok;
}

int test_pg_create_db(char *url, size_t url_size)
{
    static atomic_uint counter;
    unsigned int rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (unsigned int)rand();
    char name[64];
    snprintf(name, sizeof(name), TEST_PG_DB_PREFIX "%ld_%u_%08x", (long)getpid(),
             atomic_fetch_add(&counter, 1), rnd);
    PGconn *pg = connect_maintenance();
    if (!pg)
        return -1;
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    bool ok = command_ok(pg, sql);
    PQfinish(pg);
    if (!ok)
        return -1;
    if ((size_t)snprintf(url, url_size, "postgresql:///%s", name) >= url_size) {
        fprintf(stderr, "test_pg: url buffer too small\n");
        test_pg_drop_db(url);
        return -1;
    }
    return 0;
}

int test_pg_drop_db(const char *url)
{
    if (!test_pg_is_url(url))
        return 0;
    const char *slash = strrchr(url, '/');
    const char *name = slash ? slash + 1 : "";
    size_t len = strcspn(name, "?");
    if (len == 0 || len > 63) {
        fprintf(stderr, "test_pg: no database name in %s\n", url);
        return -1;
    }
    PGconn *pg = connect_maintenance();
    if (!pg)
        return -1;
    char *quoted = PQescapeIdentifier(pg, name, len);
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", quoted ? quoted : "\"\"");
    PQfreemem(quoted);
    bool ok = command_ok(pg, sql);
    PQfinish(pg);
    return ok ? 0 : -1;
}

int test_pg_exec(const char *url, const char *sql)
{
    PGconn *pg = test_pg_connect(url);
    if (!pg)
        return -1;
    bool ok = command_ok(pg, sql);
    PQfinish(pg);
    return ok ? 0 : -1;
}

long long test_pg_query_int(const char *url, const char *sql, long long default_value)
{
    PGconn *pg = test_pg_connect(url);
    if (!pg)
        return default_value;
    long long v = default_value;
    PGresult *res = PQexec(pg, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
        !PQgetisnull(res, 0, 0)) {
        const char *text = PQgetvalue(res, 0, 0);
        if (strcmp(text, "t") == 0)
            v = 1;
        else if (strcmp(text, "f") == 0)
            v = 0;
        else
            v = strtoll(text, NULL, 10);
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "test_pg: %s  in: %.200s\n", PQerrorMessage(pg), sql);
    }
    PQclear(res);
    PQfinish(pg);
    return v;
}
