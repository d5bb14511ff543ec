/* store_sqlite.c - the SQLite backend of store/backend.h: opening, migrating, closing, its ops.
 *
 * The database is a file: a plain path, "sqlite:PATH", or a SQLite "file:" URI. The rest of the
 * backend lives beside this file by concern: conn.c (a connection per thread), statements.c,
 * offer_read.c, offer_list.c, offer_write.c, change_feed.c, demo_seed.c and migrate.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/store_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite/migrate.h"
#include "store/sqlite/sqlite_internal.h"
#include "util/log.h"
#include "util/startup_hint.h"

#define SQLITE_PREFIX "sqlite:"

/* The name SQLite opens: db less any "sqlite:" prefix. */
static const char *file_of(const char *db)
{
    return strncmp(db, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0 ? db + strlen(SQLITE_PREFIX) : db;
}

/* Whether the file system may explain a failure: a plain path does, a file: URI is not one. */
static bool is_plain_path(const char *file)
{
    return strncmp(file, "file:", 5) != 0;
}

/* A SQLite database is anything that is not another kind's URI (scheme://). */
static bool accepts(const char *db)
{
    if (strncmp(db, SQLITE_PREFIX, strlen(SQLITE_PREFIX)) == 0 || !is_plain_path(db))
        return true;
    size_t scheme = strspn(db, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return !(scheme > 0 && strncmp(db + scheme, "://", 3) == 0);
}

static enum store_result sqlite_check_ready(struct store *s, char *why, size_t why_size)
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    if (!c) {
        snprintf(why, why_size, "database cannot be opened");
        return STORE_ERROR;
    }
    int current = migrate_current_version(c->db);
    if (current < 0) {
        snprintf(why, why_size, "database unreachable");
        return STORE_ERROR;
    }
    if (current != migrate_latest_version()) {
        snprintf(why, why_size, "schema version %d, expected %d", current,
                 migrate_latest_version());
        return STORE_ERROR;
    }
    return STORE_OK;
}

/* Opens the file on a short-lived connection and brings its schema up to date. */
static int open_and_migrate(const char *path, int busy_timeout_ms, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "cannot open database %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    if (sqlite_configure(db, busy_timeout_ms) != SQLITE_OK) {
        snprintf(err, err_size, "cannot configure database %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return -1;
    }
    int applied = 0;
    enum migrate_result mr = migrate_apply(db, &applied, err, err_size);
    sqlite3_close(db);
    if (mr != MIGRATE_OK)
        return -1;
    if (applied > 0)
        log_info("applied %d migration(s) to %s", applied, path);
    return 0;
}

/* `offerd migrate`: after a failure, the file system's reason when it has one. */
static int migrate_file(const char *db, char *err, size_t err_size)
{
    const char *file = file_of(db);
    if (open_and_migrate(file, 5000, err, err_size) == 0)
        return 0;
    if (is_plain_path(file))
        startup_hint_db(file, err, err_size);
    return -1;
}

static void sqlite_close(struct store *s)
{
    struct sqlite_store *ss = as_sqlite(s);
    sqlite_conns_close(ss);
    pthread_key_delete(ss->key);
    pthread_mutex_destroy(&ss->write_lock);
    pthread_mutex_destroy(&ss->lock);
    sqlite_statements_free(ss->sql);
    free(ss->path);
    free(ss);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite", .close = sqlite_close,
    /* offer_read.c, offer_list.c; check_ready and seed_demo here and in demo_seed.c */
    .read_offer = sqlite_read_offer, .find_user_by_clerk_id = sqlite_find_user,
    .list_offers = sqlite_list_offers, .check_ready = sqlite_check_ready,
    .seed_demo = sqlite_seed_demo,
    /* change_feed.c; list_changed_offers in offer_list.c */
    .poll_changes = sqlite_poll_changes, .last_change_seq = sqlite_last_change_seq,
    .changes_since = sqlite_changes_since, .offer_change_seq = sqlite_offer_change_seq,
    .list_changed_offers = sqlite_list_changed_offers, .next_expiry = sqlite_next_expiry,
    .expire_due = sqlite_expire_due,
    /* offer_write.c */
    .tx_begin = sqlite_tx_begin, .tx_commit = sqlite_tx_commit,
    .tx_rollback = sqlite_tx_rollback, .tx_write_begin = sqlite_tx_write_begin,
    .tx_write_end = sqlite_tx_write_end, .tx_expire_offer = sqlite_tx_expire_offer,
    .tx_load_offer = sqlite_tx_load_offer, .tx_load_product = sqlite_tx_load_product,
    .tx_insert_offer = sqlite_tx_insert_offer, .tx_apply_change = sqlite_tx_apply_change,
};

static struct store *open_file(const char *db, const struct store_options *opts, char *err,
                               size_t err_size)
{
    const char *file = file_of(db);
    if (open_and_migrate(file, opts->busy_timeout_ms, err, err_size) != 0) {
        if (is_plain_path(file))
            startup_hint_db(file, err, err_size);
        return NULL;
    }
    char why[1024];
    if (is_plain_path(file) && startup_hint_db(file, why, sizeof(why))) /* opened read-only */
        log_error("%s (starting anyway: reads work, writes get 503 until it is fixed)", why);
    struct sqlite_store *ss = calloc(1, sizeof(*ss));
    if (!ss || !(ss->path = strdup(file)) || sqlite_statements_build(ss->sql) != 0) {
        if (ss)
            free(ss->path);
        free(ss);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ss->busy_timeout_ms = opts->busy_timeout_ms;
    if (pthread_key_create(&ss->key, NULL) != 0) {
        sqlite_statements_free(ss->sql);
        free(ss->path);
        free(ss);
        snprintf(err, err_size, "cannot create a thread key");
        return NULL;
    }
    pthread_mutex_init(&ss->lock, NULL);
    pthread_mutex_init(&ss->write_lock, NULL);
    ss->base.ops = &sqlite_ops;
    return &ss->base;
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .accepts = accepts,
    .open = open_file,             /* migrates first, as migrate_file does */
    .migrate = migrate_file,
    .schema_version = migrate_latest_version, /* the embedded migrations/sqlite/ */
};
