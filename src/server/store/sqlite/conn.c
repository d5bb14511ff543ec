/* conn.c - the SQLite backend's connections: one per thread, statements prepared once and reused.
 *
 * WAL lets readers run beside the one writer; synchronous=FULL makes every COMMIT reach the disk
 * before it returns, so a 2xx always means durable.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>

#include "util/log.h"

int sqlite_configure(sqlite3 *db, int busy_timeout_ms)
{
    sqlite3_busy_timeout(db, busy_timeout_ms);
    sqlite3_extended_result_codes(db, 1);
    /* No mmap: in WAL mode a connection that sees another's commit drops its page cache and
     * unmaps the whole file, so under writes every reader paid a munmap (a TLB shootdown on every
     * core) and the page faults to map it again (bench/mix: ~2% of the workers' time). Hot reads
     * are answered from the offer cache anyway; what misses is read with pread(2). */
    return sqlite3_exec(db,
                        "PRAGMA journal_mode = WAL;"
                        "PRAGMA synchronous = FULL;"
                        "PRAGMA foreign_keys = ON;"
                        "PRAGMA mmap_size = 0;"
                        "PRAGMA cache_size = -16384;",
                        NULL, NULL, NULL);
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close(c->db);
    free(c);
}

static void unlink_conn(struct sqlite_store *ss, struct conn *c)
{
    pthread_mutex_lock(&ss->lock);
    for (struct conn **p = &ss->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&ss->lock);
}

struct conn *sqlite_conn(struct sqlite_store *ss)
{
    struct conn *c = pthread_getspecific(ss->key);
    unsigned generation = atomic_load(&ss->generation);
    if (c && c->generation == generation)
        return c;
    if (c) {
        unlink_conn(ss, c);
        pthread_setspecific(ss->key, NULL);
        conn_close(c);
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sql = ss->sql;
    c->generation = generation;
    c->store_generation = &ss->generation;
    int rc = sqlite3_open_v2(ss->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite_configure(c->db, ss->busy_timeout_ms);
        /* SQLite opens a write-protected file read-only without saying so; its pragmas may then
         * fail, but reads still work, and the first write reports the fault. */
        if (rc != SQLITE_OK && sqlite3_db_readonly(c->db, "main") == 1)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot open %s: %s", ss->path,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_close(c);
        return NULL;
    }
    pthread_mutex_lock(&ss->lock);
    c->next = ss->conns;
    ss->conns = c;
    pthread_mutex_unlock(&ss->lock);
    pthread_setspecific(ss->key, c);
    return c;
}

void sqlite_conns_close(struct sqlite_store *ss)
{
    pthread_mutex_lock(&ss->lock);
    struct conn *c = ss->conns;
    ss->conns = NULL;
    pthread_mutex_unlock(&ss->lock);
    for (struct conn *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

sqlite3_stmt *sqlite_stmt(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = c->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(c->db, c->sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
            SQLITE_OK) {
            log_error("sqlite: prepare failed: %s", sqlite3_errmsg(c->db));
            return NULL;
        }
        c->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

enum store_result sqlite_result(struct conn *c, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        log_error("sqlite: the database cannot be written (read-only?): %s (%d)",
                  sqlite3_errmsg(c->db), rc);
        atomic_fetch_add(c->store_generation, 1); /* reopen everywhere once the fault clears */
        return STORE_UNAVAILABLE;
    case SQLITE_FULL:
        log_error("sqlite: disk full: %s (%d)", sqlite3_errmsg(c->db), rc);
        return STORE_UNAVAILABLE;
    case SQLITE_IOERR:
        log_error("sqlite: write failed (disk full, or an I/O error): %s (%d)",
                  sqlite3_errmsg(c->db), rc);
        return STORE_UNAVAILABLE;
    default:
        log_error("sqlite: %s (%d)", sqlite3_errmsg(c->db), rc);
        return STORE_ERROR;
    }
}

enum store_result sqlite_run(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = sqlite_stmt(c, id);
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return sqlite_result(c, rc);
}

enum store_result sqlite_step_done(struct conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        log_error("sqlite: constraint: %s", sqlite3_errmsg(c->db));
        return STORE_ERROR;
    }
    return sqlite_result(c, rc);
}

enum store_result sqlite_step_int(struct conn *c, sqlite3_stmt *st, int64_t *value)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return sqlite_result(c, rc);
}

void sqlite_rollback(struct conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite_run(c, ST_ROLLBACK);
}

void sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}
