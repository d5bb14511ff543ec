/* test_backend.c - OFFERD_TEST_BACKEND, and one database per test on the store it names.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn_offerd.h"
#include "test_pg.h"

bool test_backend_is_pg(void)
{
    const char *b = getenv("OFFERD_TEST_BACKEND");
    if (!b || !*b || strcmp(b, "sqlite") == 0)
        return false;
    if (strcmp(b, "postgresql") == 0)
        return true;
    fprintf(stderr, "OFFERD_TEST_BACKEND=%s: want sqlite or postgresql\n", b);
    exit(1);
}

const char *test_backend_name(void)
{
    return test_backend_is_pg() ? "postgresql" : "sqlite";
}

void test_backend_require(void)
{
    if (!test_backend_is_pg() || test_pg_available())
        return;
    const char *require = getenv("OFFERD_TEST_REQUIRE_PG");
    if (require && strcmp(require, "1") == 0) {
        fprintf(stderr, "OFFERD_TEST_BACKEND=postgresql and OFFERD_TEST_REQUIRE_PG=1, but no "
                        "PostgreSQL: set PGHOST/PGPORT (scripts/test.sh runs the suite inside "
                        "pg_virtualenv)\n");
        exit(1);
    }
    fprintf(stderr, "skipped: OFFERD_TEST_BACKEND=postgresql but no PGHOST/PGPORT in the "
                    "environment (scripts/test.sh runs these inside pg_virtualenv)\n");
    exit(77);
}

/* PostgreSQL databases made and not yet dropped, dropped at exit whatever happened. */
enum { MAX_LIVE_DBS = 64 };
static char live_dbs[MAX_LIVE_DBS][128];
static bool dropper_registered;

static void drop_live_dbs(void)
{
    for (int i = 0; i < MAX_LIVE_DBS; i++)
        if (live_dbs[i][0])
            test_db_drop(live_dbs[i]);
}

int test_db_new(const char *dir, const char *name, char *db, size_t size)
{
    test_backend_require();
    if (!test_backend_is_pg()) {
        if ((size_t)snprintf(db, size, "%s/%s", dir, name) >= size) {
            fprintf(stderr, "test_db_new: path too long\n");
            return -1;
        }
        return 0;
    }
    if (test_pg_create_db(db, size) != 0)
        return -1;
    if (!dropper_registered)
        dropper_registered = atexit(drop_live_dbs) == 0;
    for (int i = 0; i < MAX_LIVE_DBS; i++)
        if (!live_dbs[i][0]) {
            snprintf(live_dbs[i], sizeof(live_dbs[i]), "%s", db);
            break;
        }
    return 0;
}

void test_db_drop(const char *db)
{
    if (!test_pg_is_url(db))
        return;
    char copy[128];
    snprintf(copy, sizeof(copy), "%s", db); /* db may be a live_dbs slot, cleared below */
    for (int i = 0; i < MAX_LIVE_DBS; i++)
        if (strcmp(live_dbs[i], copy) == 0)
            live_dbs[i][0] = '\0';
    test_pg_drop_db(copy);
    char base[PATH_MAX], path[PATH_MAX + 16];
    offerd_output_base(copy, base, sizeof(base));
    snprintf(path, sizeof(path), "%s.stdout", base);
    unlink(path);
    snprintf(path, sizeof(path), "%s.log", base);
    unlink(path);
}

const char *test_sql(const char *sqlite_sql, const char *pg_sql)
{
    return test_backend_is_pg() ? pg_sql : sqlite_sql;
}
