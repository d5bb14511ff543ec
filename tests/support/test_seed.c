/* test_seed.c - the fixed fixture marketplace, written with plain SQL as an outside writer would,
 * into a SQLite file (sqlite3) or a PostgreSQL database (libpq), whichever the name says.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_seed.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "spawn_offerd.h"
#include "test_backend.h"
#include "test_pg.h"

struct seed_conn {
    sqlite3 *lite; /* exactly one of the two is set */
    PGconn *pg;
};

static sqlite3 *open_sqlite(const char *path, int flags)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        fprintf(stderr, "seed: cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return db;
}

struct seed_conn *seed_conn_open(const char *db, bool read_only)
{
    struct seed_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (test_pg_is_url(db))
        c->pg = test_pg_connect(db);
    else
        c->lite = open_sqlite(db, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
    if (!c->pg && !c->lite) {
        free(c);
        return NULL;
    }
    return c;
}

void seed_conn_close(struct seed_conn *c)
{
    if (!c)
        return;
    sqlite3_close(c->lite);
    PQfinish(c->pg);
    free(c);
}

int seed_conn_exec(struct seed_conn *c, const char *sql)
{
    if (c->pg) {
        PGresult *res = PQexec(c->pg, sql);
        ExecStatusType st = PQresultStatus(res);
        bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
        if (!ok)
            fprintf(stderr, "seed: %s  in: %.200s\n", PQerrorMessage(c->pg), sql);
        PQclear(res);
        return ok ? 0 : -1;
    }
    char *msg = NULL;
    int rc = sqlite3_exec(c->lite, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "seed: %s\n  in: %.200s\n", msg ? msg : sqlite3_errstr(rc), sql);
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : -1;
}

int seed_conn_begin_write(struct seed_conn *c)
{
    return seed_conn_exec(c, c->pg ? "BEGIN" : "BEGIN IMMEDIATE");
}

static long long pg_value(const char *text)
{
    if (strcmp(text, "t") == 0)
        return 1;
    if (strcmp(text, "f") == 0)
        return 0;
    return strtoll(text, NULL, 10);
}

int seed_conn_query_ints(struct seed_conn *c, const char *sql, long long *out, int n)
{
    if (c->pg) {
        PGresult *res = PQexec(c->pg, sql);
        int rc = -1;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "seed: %s  in: %.200s\n", PQerrorMessage(c->pg), sql);
        } else if (PQntuples(res) == 0) {
            rc = 0;
        } else {
            for (int i = 0; i < n; i++)
                out[i] = i < PQnfields(res) && !PQgetisnull(res, 0, i)
                             ? pg_value(PQgetvalue(res, 0, i))
                             : 0;
            rc = 1;
        }
        PQclear(res);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->lite, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "seed: %s\n  in: %.200s\n", sqlite3_errmsg(c->lite), sql);
        return -1;
    }
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
    for (int i = 0; rc == 1 && i < n; i++)
        out[i] = i < sqlite3_column_count(st) ? sqlite3_column_int64(st, i) : 0;
    if (rc < 0)
        fprintf(stderr, "seed: %s\n  in: %.200s\n", sqlite3_errmsg(c->lite), sql);
    sqlite3_finalize(st);
    return rc;
}

int seed_conn_query_text(struct seed_conn *c, const char *sql, char **out)
{
    *out = NULL;
    if (c->pg) {
        PGresult *res = PQexec(c->pg, sql);
        int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) > 0 : -1;
        if (rc < 0)
            fprintf(stderr, "seed: %s  in: %.200s\n", PQerrorMessage(c->pg), sql);
        else if (rc == 1)
            *out = strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->lite, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "seed: %s\n  in: %.200s\n", sqlite3_errmsg(c->lite), sql);
        return -1;
    }
    int step = sqlite3_step(st);
    int rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
    if (rc == 1) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        *out = strdup(text ? (const char *)text : "");
    }
    sqlite3_finalize(st);
    return rc;
}

int seed_exec(const char *db, const char *sql)
{
    struct seed_conn *c = seed_conn_open(db, false);
    if (!c)
        return -1;
    int rc = seed_conn_exec(c, sql);
    seed_conn_close(c);
    return rc;
}

long long seed_query_int(const char *db, const char *sql, long long default_value)
{
    struct seed_conn *c = seed_conn_open(db, false);
    if (!c)
        return default_value;
    long long v = 0;
    if (seed_conn_query_ints(c, sql, &v, 1) != 1)
        v = default_value;
    seed_conn_close(c);
    return v;
}

int seed_fixture(const char *db)
{
    long long now = (long long)time(NULL) * 1000;
    long long week = 7LL * 24 * 3600 * 1000;
    char sql[4096];
    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "INSERT INTO users(id, clerk_id, email, first_name, last_name) VALUES"
             " ('u_buyer', 'user_buyer', 'bea@example.com', 'Bea', 'Buyer'),"
             " ('u_seller', 'user_seller', 'sam@example.com', 'Sam', 'Seller'),"
             " ('u_stranger', 'user_stranger', NULL, 'Stan', 'Stranger'),"
             " ('u_buyer2', 'user_buyer2', NULL, 'Bob', NULL);"
             "INSERT INTO products(id, user_id, title, price, is_sold) VALUES"
             " ('p_driver', 'u_seller', 'Titleist TSR3 Driver', 20000, FALSE),"
             " ('p_putter', 'u_seller', 'Scotty Cameron Putter', 30000, TRUE),"
             " ('p_irons', 'u_buyer', 'Mizuno Irons', 50000, FALSE);"
             "INSERT INTO product_images(id, product_id, url, sort_order) VALUES"
             " ('i_2', 'p_driver', 'https://img.example.com/driver-2.jpg', 2),"
             " ('i_1', 'p_driver', 'https://img.example.com/driver-1.jpg', 1);"
             "INSERT INTO offers(id, amount, status, message, product_id, buyer_id, seller_id,"
             " created_at, updated_at, expires_at) VALUES"
             " ('o_pending', 15000, 'PENDING', 'Would you take 150?', 'p_driver', 'u_buyer',"
             "  'u_seller', 1795600800000, 1795600800000, 1893456000000),"
             " ('o_countered', 12000, 'COUNTERED', NULL, 'p_driver', 'u_buyer', 'u_seller',"
             "  1795600900000, 1795600900000, %lld),"
             " ('o_expiring', 11000, 'PENDING', NULL, 'p_driver', 'u_buyer2', 'u_seller',"
             "  1795601000000, 1795601000000, %lld);"
             "INSERT INTO counter_offers(id, offer_id, amount, message, from_seller, created_at)"
             " VALUES ('c_1', 'o_countered', 18000, 'How about 180?', TRUE, 1795601100000),"
             " ('c_2', 'o_countered', 14000, NULL, FALSE, 1795601200000);"
             "COMMIT;",
             now + week, now - 1000);
    return seed_exec(db, sql);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* migrations/<store>/NNNN_*.sql, sorted; n of them, or -1. Free each and the array. */
static int list_migrations(struct dirent ***names, const char **dir)
{
    *dir = test_backend_is_pg() ? OFFERD_SOURCE_DIR "/migrations/postgresql"
                                : OFFERD_SOURCE_DIR "/migrations/sqlite";
    int n = scandir(*dir, names, NULL, by_name);
    if (n < 0)
        fprintf(stderr, "seed: cannot list %s\n", *dir);
    return n;
}

static bool is_migration(const char *name)
{
    size_t len = strlen(name);
    return atoi(name) > 0 && len > 4 && strcmp(name + len - 4, ".sql") == 0;
}

int seed_migration_files(int *latest)
{
    struct dirent **names = NULL;
    const char *dir;
    int n = list_migrations(&names, &dir);
    int count = 0, max = 0;
    for (int i = 0; i < n; i++) {
        if (is_migration(names[i]->d_name)) {
            count++;
            if (atoi(names[i]->d_name) > max)
                max = atoi(names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    if (latest)
        *latest = max;
    return n < 0 ? -1 : count;
}

/* PostgreSQL: only offerd applies migrations (its records, its advisory lock), so only "all of
 * them" can be asked for. */
static int pg_migrate_before(const char *db, int before)
{
    int latest = 0;
    if (seed_migration_files(&latest) < 0)
        return -1;
    if (latest >= before) {
        fprintf(stderr, "seed: PostgreSQL migration %04d is not below %d; offerd applies them all"
                        " or none\n", latest, before);
        return -1;
    }
    const char *argv[] = {"migrate", "--db", db, NULL};
    char *out = NULL;
    int rc = offerd_run(argv, &out);
    if (rc != 0)
        fprintf(stderr, "seed: offerd migrate exited %d: %s\n", rc, out ? out : "");
    free(out);
    return rc == 0 ? 0 : -1;
}

int seed_migrate_before(const char *db, int before)
{
    if (test_pg_is_url(db))
        return pg_migrate_before(db, before);
    sqlite3 *lite = open_sqlite(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!lite)
        return -1;
    sqlite3_close(lite);
    if (seed_exec(db, "PRAGMA journal_mode = WAL;"
                      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY"
                      " KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)") != 0)
        return -1;
    struct dirent **names = NULL;
    const char *dir;
    int n = list_migrations(&names, &dir);
    if (n < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        int version = atoi(name);
        if (rc == 0 && is_migration(name) && version < before) {
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, name);
            FILE *f = fopen(path, "r");
            char *sql = f ? calloc(1, 1 << 20) : NULL;
            size_t got = sql ? fread(sql, 1, (1 << 20) - 1, f) : 0;
            if (f)
                fclose(f);
            char *record = sqlite3_mprintf("INSERT INTO schema_migrations VALUES (%d, '%.*q', 0)",
                                           version, (int)(len - 4), name);
            if (!sql || got == 0 || !record || seed_exec(db, sql) != 0 ||
                seed_exec(db, record) != 0)
                rc = -1;
            sqlite3_free(record);
            free(sql);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}
