/* migrate.h - the migrations/postgresql/NNNN_name.sql files embedded in offerd.
 *
 * Generated at build time (cmake/EmbedMigrations.cmake) into pg_migrations_embedded, in version
 * order; migrate.c applies them (pg_internal.h: pg_migrate, pg_migrate_conn, pg_latest_version).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_PG_MIGRATE_H
#define OFFERD_PG_MIGRATE_H

#include <stddef.h>

struct pg_migration {
    int version;        /* NNNN from the file name */
    const char *name;   /* file name without .sql */
    const char *sql;    /* one or more statements, run in one transaction */
};

extern const struct pg_migration pg_migrations_embedded[];
extern const size_t pg_migrations_embedded_count;

#endif
