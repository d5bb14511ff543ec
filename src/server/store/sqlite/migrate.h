/* migrate.h - apply the embedded migrations/sqlite/NNNN_name.sql files to a database.
 *
 * Each migration runs once, in its own IMMEDIATE transaction, and is recorded in
 * schema_migrations(version, name, applied_at). A database that records a version newer than any
 * this binary carries is refused rather than guessed at.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_MIGRATE_H
#define OFFERD_MIGRATE_H

#include <stddef.h>

#include <sqlite3.h>

struct migration {
    int version;        /* NNNN from the file name */
    const char *name;   /* file name without .sql */
    const char *sql;
};

/* Generated at build time from migrations/sqlite/ (cmake/EmbedMigrations.cmake), in version
 * order. */
extern const struct migration migrations_embedded[];
extern const size_t migrations_embedded_count;

enum migrate_result {
    MIGRATE_OK,
    MIGRATE_NEWER_SCHEMA,   /* the database is ahead of this binary */
    MIGRATE_ERROR,
};

/* The highest version among migrations_embedded, 0 when there are none. */
int migrate_latest_version(void);

/* The highest version recorded in db (0 for a fresh database), or -1 on error. */
int migrate_current_version(sqlite3 *db);

/* Applies every embedded migration db has not recorded yet, in order. *applied_out (may be NULL)
 * gets how many ran. On failure nothing of the failing migration remains and err says why. */
enum migrate_result migrate_apply(sqlite3 *db, int *applied_out, char *err, size_t err_size);

#endif
