/* sqlite_internal.h - what the SQLite backend's files share: connections, statements, row readers.
 *
 * One connection per thread, opened on first use, with its prepared statements kept for reuse.
 * The statement texts are built once per store (sqlite_statements_build) so that the status lists
 * in them come from domain/offer.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_SQLITE_INTERNAL_H
#define OFFERD_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/backend.h"

enum stmt_id {
    ST_BEGIN,
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_GET_OFFER,
    ST_GET_IMAGES,
    ST_GET_COUNTERS,
    ST_FIND_USER,
    ST_EXPIRE_OFFER,
    ST_GET_PRODUCT,
    ST_INSERT_OFFER,
    ST_UPDATE_OFFER,
    ST_INSERT_COUNTER,
    ST_MARK_SOLD,
    ST_LIST_OFFERS,
    ST_DATA_VERSION,
    ST_LAST_CHANGE,
    ST_CHANGES_SINCE,
    ST_NEXT_EXPIRY,
    ST_EXPIRE_DUE,
    ST_OFFER_CHANGE_SEQ,
    ST_LIST_CHANGED,
    ST_COUNT
};

/* Rows ST_CHANGES_SINCE returns at most per step; fewer means the log is read to its end. */
#define CHANGES_PAGE 512

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT];
    char *const *sql;           /* the store's statement texts */
    int64_t data_version;       /* last PRAGMA data_version seen by poll_changes */
    unsigned generation;        /* the store's generation when opened; older ones reopen */
    atomic_uint *store_generation;
    struct conn *next;
};

struct sqlite_store {
    struct store base;
    char *path;                 /* as sqlite3_open_v2 takes it: a file name or a file: URI */
    int busy_timeout_ms;
    char *sql[ST_COUNT];        /* statement texts (sqlite_statements_build) */
    pthread_key_t key;
    /* Bumped on a read-only fault: every thread then reopens its connection before its next use,
     * since connections in one process share SQLite's -shm mapping, which stays read-only while
     * any of them holds it. */
    atomic_uint generation;
    /* One writer at a time inside this process: waiting here wakes the moment the lock is free,
     * where SQLite's busy handler would sleep and poll. Other processes still meet the busy
     * timeout. Held from tx_begin to tx_commit/tx_rollback, and by expire_due. */
    pthread_mutex_t write_lock;
    struct conn *tx_conn;       /* the connection of the open write transaction (write_lock) */
    pthread_mutex_t lock;       /* guards conns */
    struct conn *conns;         /* every thread's connection, closed at store close */
};

static inline struct sqlite_store *as_sqlite(struct store *s)
{
    return (struct sqlite_store *)s;
}

/* statements.c: fills sql[] with every statement's text. 0, or -1 out of memory. */
int sqlite_statements_build(char *sql[ST_COUNT]);
void sqlite_statements_free(char *sql[ST_COUNT]);

/* conn.c */
int sqlite_configure(sqlite3 *db, int busy_timeout_ms);
/* This thread's connection, opened on first use (and again after a read-only fault, so that
 * writes work as soon as the fault clears); NULL on failure (logged). */
struct conn *sqlite_conn(struct sqlite_store *ss);
void sqlite_conns_close(struct sqlite_store *ss);
/* The prepared statement, reset and unbound, ready to bind; NULL on failure (logged). */
sqlite3_stmt *sqlite_stmt(struct conn *c, enum stmt_id id);
/* A SQLite result code as a store result; faults are logged. */
enum store_result sqlite_result(struct conn *c, int rc);
/* Runs a statement that returns no rows. */
enum store_result sqlite_run(struct conn *c, enum stmt_id id);
/* Steps a statement that returns no rows; a constraint failure is logged as STORE_ERROR. */
enum store_result sqlite_step_done(struct conn *c, sqlite3_stmt *st);
/* Steps a statement that returns one integer (when it returns a row) into *value. */
enum store_result sqlite_step_int(struct conn *c, sqlite3_stmt *st, int64_t *value);
void sqlite_rollback(struct conn *c);
void sqlite_bind_text_or_null(sqlite3_stmt *st, int i, const char *s);

/* rows.c: copying columns out whole. */
/* A heap copy of a text column into *out (NULL for NULL); true when that failed for want of memory. */
bool sqlite_dup_failed(sqlite3_stmt *st, int col, char **out);
/* Copies an id column into dst whole, or refuses it: false (dst "") unless it is
 * [A-Za-z0-9_-]{1,64}, so an id that does not fit is never cut into another one. */
bool sqlite_read_id(char dst[OFFER_ID_SIZE], sqlite3_stmt *st, int col);
/* Logs why a row is refused: which row (what), which column, what the id looks like. */
void sqlite_log_bad_id(const char *what, sqlite3_stmt *st, int col, const char *consequence);
/* A text column as a C string, or NULL when it is NULL or holds a NUL (then it is not whole). */
const char *sqlite_whole_text(sqlite3_stmt *st, int col);
/* Grows *array (of elem_size items, *cap of them) so that one more fits after count. */
bool sqlite_grow(void *array, size_t *cap, size_t count, size_t elem_size);

/* change_feed.c: calls row for each change-log row after after_seq, in order, *last_seq following
 * (the row's seq while row runs). row returns false to stop with STORE_ERROR. */
enum store_result sqlite_walk_changes(struct conn *c, int64_t after_seq, int64_t *last_seq,
                                      bool (*row)(sqlite3_stmt *st, void *userdata),
                                      void *userdata);

/* offer_read.c: the whole offer as stored, inside the caller's transaction. */
enum store_result sqlite_load_offer(struct conn *c, const char *id, struct offer *o);
enum store_result sqlite_load_product(struct conn *c, const char *id, struct product *p);

/* The ops, by file. */
enum store_result sqlite_read_offer(struct store *s, const char *offer_id, struct offer *out);
enum store_result sqlite_find_user(struct store *s, const char *clerk_id,
                                   char user_id[OFFER_ID_SIZE]);
enum store_result sqlite_list_offers(struct store *s, const char *user_id,
                                     const struct offer_cursor *after, size_t limit,
                                     struct offer **out, size_t *count);
enum store_result sqlite_list_changed_offers(struct store *s, const char *user_id,
                                             int64_t after_seq, const struct offer_cursor *after,
                                             size_t limit, struct offer_ref *out, size_t *count);
enum store_result sqlite_poll_changes(struct store *s, bool *changed);
enum store_result sqlite_last_change_seq(struct store *s, int64_t *seq);
enum store_result sqlite_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                       store_change_fn fn, void *userdata);
enum store_result sqlite_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq);
enum store_result sqlite_next_expiry(struct store *s, bool *any, int64_t *at_ms);
enum store_result sqlite_expire_due(struct store *s, int64_t now_ms, size_t *expired);
enum store_result sqlite_seed_demo(struct store *s, int64_t now_ms);
enum store_result sqlite_tx_begin(struct store *s);
enum store_result sqlite_tx_commit(struct store *s);
void sqlite_tx_rollback(struct store *s);
enum store_result sqlite_tx_write_begin(struct store *s);
void sqlite_tx_write_end(struct store *s, bool keep);
enum store_result sqlite_tx_expire_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                         bool *expired);
enum store_result sqlite_tx_load_offer(struct store *s, const char *offer_id, struct offer *out);
enum store_result sqlite_tx_load_product(struct store *s, const char *product_id,
                                         struct product *out);
enum store_result sqlite_tx_insert_offer(struct store *s, const struct new_offer *n,
                                         const char *seller_id);
enum store_result sqlite_tx_apply_change(struct store *s, const struct offer *cur,
                                         const struct offer_change *ch, int64_t now_ms,
                                         struct store_side_change **side, size_t *side_count);

#endif
