/* test_seed.c - the fixed fixture marketplace, written with plain SQL as an outside writer would.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_seed.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static sqlite3 *open_db(const char *db_path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "seed: cannot open %s: %s\n", db_path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return db;
}

int seed_exec(const char *db_path, const char *sql)
{
    sqlite3 *db = open_db(db_path);
    if (!db)
        return -1;
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "seed: %s\n  in: %.200s\n", msg ? msg : sqlite3_errstr(rc), sql);
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

long long seed_query_int(const char *db_path, const char *sql, long long default_value)
{
    sqlite3 *db = open_db(db_path);
    if (!db)
        return default_value;
    sqlite3_stmt *st = NULL;
    long long v = default_value;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

int seed_fixture(const char *db_path)
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
             " ('p_driver', 'u_seller', 'Titleist TSR3 Driver', 20000, 0),"
             " ('p_putter', 'u_seller', 'Scotty Cameron Putter', 30000, 1),"
             " ('p_irons', 'u_buyer', 'Mizuno Irons', 50000, 0);"
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
             " VALUES ('c_1', 'o_countered', 18000, 'How about 180?', 1, 1795601100000),"
             " ('c_2', 'o_countered', 14000, NULL, 0, 1795601200000);"
             "COMMIT;",
             now + week, now - 1000);
    return seed_exec(db_path, sql);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int seed_migrate_before(const char *db_path, int before)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "seed: cannot create %s\n", db_path);
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    if (seed_exec(db_path, "PRAGMA journal_mode = WAL;"
                           "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY"
                           " KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)") != 0)
        return -1;
    const char *dir = OFFERD_SOURCE_DIR "/migrations/sqlite";
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "seed: cannot list %s\n", dir);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        int version = atoi(name);
        if (rc == 0 && version > 0 && version < before && len > 4 &&
            strcmp(name + len - 4, ".sql") == 0) {
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, name);
            FILE *f = fopen(path, "r");
            char *sql = f ? calloc(1, 1 << 20) : NULL;
            size_t got = sql ? fread(sql, 1, (1 << 20) - 1, f) : 0;
            if (f)
                fclose(f);
            char *record = sqlite3_mprintf("INSERT INTO schema_migrations VALUES (%d, '%.*q', 0)",
                                           version, (int)(len - 4), name);
            if (!sql || got == 0 || !record || seed_exec(db_path, sql) != 0 ||
                seed_exec(db_path, record) != 0)
                rc = -1;
            sqlite3_free(record);
            free(sql);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}
