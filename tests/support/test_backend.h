/* test_backend.h - which store the integration tests run on, and databases of that store.
 *
 * Every integration test runs twice (tests/CMakeLists.txt): once on SQLite files and once, with
 * OFFERD_TEST_BACKEND=postgresql, on fresh PostgreSQL databases of the server the PG* environment
 * names (test_pg.h). A test names its database with test_db_new and hands the result (a file path
 * or a "postgresql:///NAME" URL) to offerd and to test_seed.h, which both dispatch on it; the few
 * statements that cannot be written once for both stores pick theirs with test_sql.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_BACKEND_H
#define OFFERD_TEST_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

/* True when OFFERD_TEST_BACKEND=postgresql (false for unset or "sqlite"; anything else exits 1). */
bool test_backend_is_pg(void);

/* "sqlite" or "postgresql". */
const char *test_backend_name(void);

/* On PostgreSQL with no server named by the environment: with OFFERD_TEST_REQUIRE_PG=1 a loud
 * failure (exit 1), else a skip (exit 77, ctest's SKIP_RETURN_CODE), with a message either way.
 * A no-op on SQLite. test_db_new calls it; a test that makes no database may call it itself. */
void test_backend_require(void);

/* A fresh database for one server or test: on SQLite the path DIR/NAME (the file is created by
 * whoever opens it first), on PostgreSQL a new empty database (test_pg_create_db; NAME unused).
 * Writes it into db (size bytes). Returns 0, or -1 with a message. PostgreSQL databases are
 * dropped by test_db_drop, and any left at exit (a failed assertion) are dropped then. */
int test_db_new(const char *dir, const char *name, char *db, size_t size);

/* Drops a PostgreSQL database made by test_db_new, with the server output files spawn_offerd.c
 * kept for it; a no-op for a SQLite path (its directory goes with test_tmpdir_remove). */
void test_db_drop(const char *db);

/* The statement for this run's store: SQLITE_SQL or PG_SQL. For the few statements the two
 * dialects cannot share (a catalog query, a formatting function); may be NULL for "none". */
const char *test_sql(const char *sqlite_sql, const char *pg_sql);

/* In a cmocka test: skips the rest of it on PostgreSQL, printing why. For checks that are
 * inherently about SQLite files (permissions, the file's own migrations); include <cmocka.h>
 * first. */
#define TEST_SQLITE_ONLY(why)                                                                  \
    do {                                                                                       \
        if (test_backend_is_pg()) {                                                            \
            print_message("[  SKIP    ] on PostgreSQL: %s\n", why);                             \
            skip();                                                                            \
        }                                                                                      \
    } while (0)

#endif
