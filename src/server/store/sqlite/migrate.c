/* migrate.c - apply the embedded schema migrations, each once, each in a transaction.
 *
 * BEGIN IMMEDIATE takes the write lock before the "already applied?" check, so two offerd
 * processes starting on one file at once never apply the same migration twice.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/migrate.h"
#include "util/clock.h"

#include <stdio.h>
#include <time.h>

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL)";

static long long now_ms(void)
{
    return (long long)clock_now_ms();
}

int migrate_latest_version(void)
{
    int latest = 0;
    for (size_t i = 0; i < migrations_embedded_count; i++)
        if (migrations_embedded[i].version > latest)
            latest = migrations_embedded[i].version;
    return latest;
}

int migrate_current_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'schema_migrations'",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) != SQLITE_ROW)
        goto out;
    if (sqlite3_column_int(st, 0) == 0) {
        version = 0;
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
out:
    sqlite3_finalize(st);
    return version;
}

static int is_applied(sqlite3 *db, int version)
{
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migrations WHERE version = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, version);
        int rc = sqlite3_step(st);
        found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    return found;
}

static int record(sqlite3 *db, const struct migration *m)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)", -1, &st,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(st, 1, m->version);
        sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_ms());
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Applies one migration unless already recorded. Returns 1 applied, 0 skipped, -1 failed. */
static int apply_one(sqlite3 *db, const struct migration *m, char *err, size_t err_size)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "migration %s: cannot lock the database: %s", m->name,
                 sqlite3_errmsg(db));
        return -1;
    }
    int applied = is_applied(db, m->version);
    if (applied == 0) {
        char *msg = NULL;
        if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, err_size, "migration %s failed: %s", m->name, msg ? msg : "?");
            sqlite3_free(msg);
            goto fail;
        }
        if (record(db, m) != SQLITE_OK) {
            snprintf(err, err_size, "migration %s: cannot record it: %s", m->name,
                     sqlite3_errmsg(db));
            goto fail;
        }
    } else if (applied < 0) {
        snprintf(err, err_size, "migration %s: %s", m->name, sqlite3_errmsg(db));
        goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "migration %s: commit failed: %s", m->name, sqlite3_errmsg(db));
        goto fail;
    }
    return applied == 0 ? 1 : 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

enum migrate_result migrate_apply(sqlite3 *db, int *applied_out, char *err, size_t err_size)
{
    int applied = 0;
    if (applied_out)
        *applied_out = 0;
    int current = migrate_current_version(db);
    if (current == 0 && sqlite3_exec(db, create_table_sql, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot create schema_migrations: %s", sqlite3_errmsg(db));
        return MIGRATE_ERROR;
    }
    if (current < 0) {
        snprintf(err, err_size, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return MIGRATE_ERROR;
    }
    int latest = migrate_latest_version();
    if (current == latest)
        return MIGRATE_OK; /* nothing to do: no write lock taken, so a read-only file starts */
    if (current > latest) {
        snprintf(err, err_size,
                 "database schema version %d is newer than this offerd knows (latest %d); "
                 "run a newer offerd or restore a matching database",
                 current, latest);
        return MIGRATE_NEWER_SCHEMA;
    }
    for (size_t i = 0; i < migrations_embedded_count; i++) {
        int rc = apply_one(db, &migrations_embedded[i], err, err_size);
        if (rc < 0)
            return MIGRATE_ERROR;
        applied += rc;
    }
    if (applied_out)
        *applied_out = applied;
    return MIGRATE_OK;
}
