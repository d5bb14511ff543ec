/* migrate.c - apply the embedded migrations/postgresql/ files, each once, each in a transaction.
 *
 * Everything happens under a session advisory lock, so several offerd instances starting on one
 * database at once apply each migration exactly once: the first takes the lock and migrates, the
 * others wait, then find the work done. Each migration and its schema_migrations row commit
 * together. A database recording a version newer than any this binary carries is refused.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/migrate.h"
#include "store/postgresql/pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/log.h"

/* The advisory lock's key: 'offerd' in ASCII. */
#define MIGRATE_LOCK_KEY "122485595271780"

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at bigint NOT NULL)";

int pg_latest_version(void)
{
    int latest = 0;
    for (size_t i = 0; i < pg_migrations_embedded_count; i++)
        if (pg_migrations_embedded[i].version > latest)
            latest = pg_migrations_embedded[i].version;
    return latest;
}

/* Runs sql (text parameters, may be none) and keeps the result when it succeeded; else NULL with
 * err "what: message". */
static PGresult *run(PGconn *pg, const char *sql, int n, const char *const *values,
                     const char *what, char *err, size_t err_size)
{
    /* Without parameters, the simple protocol: a migration is many statements in one string. */
    PGresult *res = n ? PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    char msg[512];
    pg_message_line(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    snprintf(err, err_size, "%s: %s", what, msg);
    PQclear(res);
    return NULL;
}

static bool run_ok(PGconn *pg, const char *sql, const char *what, char *err, size_t err_size)
{
    PGresult *res = run(pg, sql, 0, NULL, what, err, err_size);
    PQclear(res);
    return res != NULL;
}

/* The highest version recorded (0 for a fresh database, *exists false when it has no
 * schema_migrations yet), or -1 with err. */
static int current_version(PGconn *pg, bool *exists, char *err, size_t err_size)
{
    PGresult *res = run(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL,
                        "cannot read the schema version", err, err_size);
    if (!res)
        return -1;
    *exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!*exists)
        return 0;
    res = run(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL,
              "cannot read the schema version", err, err_size);
    if (!res)
        return -1;
    int version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return version;
}

/* Applies m unless recorded, in one transaction with its record. 1 applied, 0 skipped, -1 failed. */
static int apply_one(PGconn *pg, const struct pg_migration *m, char *err, size_t err_size)
{
    char version[16], applied_at[24], what[160];
    snprintf(version, sizeof(version), "%d", m->version);
    snprintf(applied_at, sizeof(applied_at), "%" PRId64, clock_now_ms());
    snprintf(what, sizeof(what), "migration %s", m->name);
    if (!run_ok(pg, "BEGIN", what, err, err_size))
        return -1;
    const char *params[] = {version, m->name, applied_at};
    PGresult *res = run(pg, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1,
                        params, what, err, err_size);
    int applied = res ? (PQntuples(res) == 0 ? 1 : 0) : -1;
    PQclear(res);
    if (applied == 1) {
        res = run(pg, m->sql, 0, NULL, what, err, err_size);
        PQclear(res);
        if (res)
            res = run(pg,
                      "INSERT INTO schema_migrations(version, name, applied_at)"
                      " VALUES ($1::integer, $2, $3::bigint)",
                      3, params, what, err, err_size);
        PQclear(res);
        if (!res)
            applied = -1;
    }
    if (applied >= 0 && run_ok(pg, "COMMIT", what, err, err_size))
        return applied;
    PQclear(PQexec(pg, "ROLLBACK"));
    return -1;
}

/* Under the lock: brings the schema up to date. The number applied, or -1 with err. */
static int migrate_locked(PGconn *pg, char *err, size_t err_size)
{
    bool exists = false;
    int current = current_version(pg, &exists, err, err_size);
    if (current < 0)
        return -1;
    int latest = pg_latest_version();
    if (current > latest) {
        snprintf(err, err_size,
                 "database schema version %d is newer than this offerd knows (latest %d); "
                 "run a newer offerd or restore a matching database",
                 current, latest);
        return -1;
    }
    if (current == latest)
        return 0;
    if (!exists &&
        !run_ok(pg, create_table_sql, "cannot create schema_migrations", err, err_size))
        return -1;
    int applied = 0;
    for (size_t i = 0; i < pg_migrations_embedded_count; i++) {
        int rc = apply_one(pg, &pg_migrations_embedded[i], err, err_size);
        if (rc < 0)
            return -1;
        applied += rc;
    }
    return applied;
}

int pg_migrate_conn(PGconn *pg, char *err, size_t err_size)
{
    if (!run_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
                "cannot take the migration lock", err, err_size))
        return -1;
    int applied = migrate_locked(pg, err, err_size);
    char ignored[256];
    if (!run_ok(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock", ignored,
                sizeof(ignored)))
        log_error("postgresql: %s (the lock goes with the connection)", ignored);
    return applied;
}

int pg_migrate(const char *db, char *err, size_t err_size)
{
    PGconn *pg = pg_connect_db(db, NULL, NULL, err, err_size);
    if (!pg)
        return -1;
    int applied = pg_migrate_conn(pg, err, err_size);
    PQfinish(pg);
    if (applied > 0)
        log_info("applied %d migration(s) to the PostgreSQL database", applied);
    return applied < 0 ? -1 : 0;
}
