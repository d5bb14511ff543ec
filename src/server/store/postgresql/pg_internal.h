/* pg_internal.h - what the PostgreSQL backend's files share. Private to store/postgresql/.
 *
 * Files and who owns what (one concern each):
 *   store_postgresql.c  the ops table, store_backend_postgresql, open/close, check_ready
 *   conn.c              per-thread connections: connect (with backoff), prepare every statement
 *                       list below after each connect, run a prepared statement, map errors
 *   migrate.c           migrations/postgresql/ (embedded), applied under an advisory lock
 *   offer_read.c        read_offer (one round trip: offer + counters + images), find_user,
 *                       tx_load_offer / tx_load_product row decoding shared with offer_write.c
 *   offer_list.c        list_offers, list_changed_offers
 *   demo_seed.c         seed_demo
 *   offer_write.c       tx_* (READ COMMITTED; FOR UPDATE on the product, then the offer)
 *   change_feed.c       the listener connection (LISTEN offerd_changes, keepalives), poll_changes,
 *                       changes_since on an xid8 position, last_change_seq, offer_change_seq,
 *                       next_expiry, expire_due, the feed's statistics
 *
 * Positions in the change log ("seq" in store.h) are transaction ids (xid8 as int64): position P
 * means "every change of every transaction with xid <= P has been read". A reader only ever takes
 * rows whose xid is below pg_snapshot_xmin(pg_current_snapshot()), i.e. of transactions that have
 * all ended, so a transaction that commits late is read when it commits, never skipped.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_PG_INTERNAL_H
#define OFFERD_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/backend.h"

/* A prepared statement: the name it is prepared under and its SQL ($1.. text parameters). The
 * SQL may say {LIVE}, {PENDING}, {EXPIRED}: conn.c expands them (store/sql_template.h) into the
 * domain's status names before preparing, as backend.h asks. */
struct pg_statement {
    const char *name;
    const char *sql;
};

/* Each file's statements, each list ending with {NULL, NULL}; conn.c prepares them all on every
 * new connection, so a statement is always there to run by name. */
extern const struct pg_statement pg_read_statements[];   /* offer_read.c (+ check_ready) */
extern const struct pg_statement pg_list_statements[];   /* offer_list.c */
extern const struct pg_statement pg_write_statements[];  /* offer_write.c */
extern const struct pg_statement pg_feed_statements[];   /* change_feed.c */

/* One thread's connection. */
#define PG_STATEMENTS_MAX 256 /* every file's statements together (conn.c checks at prepare) */

struct pg_conn {
    PGconn *pg;               /* NULL while disconnected */
    int64_t retry_at_ms;      /* backoff: no new connect attempt before this (monotonic ms) */
    int backoff_ms;
    bool in_tx;               /* between tx_begin and tx_commit/tx_rollback */
    struct pg_conn *next;     /* every connection, closed at store close */
    bool was_connected;       /* connected before: the next connect counts as a reconnect */
    uint64_t prepared[PG_STATEMENTS_MAX / 64]; /* bit per statement (conn.c): prepared on pg */
    struct pg_store *store;   /* whose connection this is (pg_run_read reconnects through it) */
};

struct pg_store {
    struct store base;        /* first: the backend-neutral head */
    char *conninfo;           /* the --db value as given (may hold a password: never logged) */
    int lock_timeout_ms;      /* --busy-timeout-ms: a lock wait past it is 55P03, STORE_BUSY */
    atomic_bool statements_checked; /* the first connection prepared them all: the SQL is valid */
    bool no_notify;           /* store_options.no_notify: no LISTEN, writes send no NOTIFY */
    pthread_key_t key;        /* this thread's struct pg_conn */
    pthread_mutex_t lock;     /* guards conns */
    struct pg_conn *conns;
    struct pg_conn *tx_conn;  /* the writer thread's connection while a transaction is open */
    atomic_ullong reconnects; /* successful connects after a connection was lost */
    struct pg_feed *feed;     /* change_feed.c's state (listener, statistics) */
};

static inline struct pg_store *as_pg(struct store *s)
{
    return (struct pg_store *)s;
}

/* This thread's connection, connected (and every statement prepared) on first use and again
 * after it was lost; NULL while PostgreSQL cannot be reached (fast, during the backoff), and the
 * caller answers STORE_UNAVAILABLE. Never blocks longer than the connect timeout. */
struct pg_conn *pg_conn_get(struct pg_store *ps);

/* Opens a new connection for a special use (the listener) with the store's conninfo plus the
 * extra keyword/value pairs (NULL-terminated arrays, may be NULL); NULL with err on failure. */
PGconn *pg_connect(const struct pg_store *ps, const char *const *extra_keys,
                   const char *const *extra_values, char *err, size_t err_size);

/* pg_connect on any conninfo, without a store (`offerd migrate`, start-up). connect_timeout=2
 * and application_name=offerd unless the conninfo says otherwise; err never holds the conninfo. */
PGconn *pg_connect_db(const char *conninfo, const char *const *extra_keys,
                      const char *const *extra_values, char *err, size_t err_size);

/* libpq's message (msg, may be NULL) as one log line into dst: no line breaks, no trailing one. */
void pg_message_line(char *dst, size_t size, const char *msg);

/* Runs the prepared statement NAME with n text parameters (NULL: SQL NULL). Returns the result
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it) or NULL with *r set by pg_result_of. */
PGresult *pg_run(struct pg_conn *c, const char *name, int n, const char *const *values,
                 enum store_result *r);

/* pg_run for a statement that only reads (a SELECT, outside any transaction): when the
 * connection turns out to have been lost while idle (PostgreSQL restarted, the backend was
 * terminated), connects again at once and runs it once more, so the first request after a restart
 * is answered rather than refused. Never use it for a write: a lost connection leaves unknown
 * whether a write committed. */
PGresult *pg_run_read(struct pg_conn *c, const char *name, int n, const char *const *values,
                      enum store_result *r);

/* Maps a failed result or a broken connection to a store result and logs it once:
 * 40P01 deadlock, 40001 serialization failure, 55P03 lock not available, 57014 statement timeout
 * -> STORE_BUSY; connection lost (PQstatus bad, 08xxx, 57P01..57P03 admin shutdown) ->
 * STORE_UNAVAILABLE and the connection is closed, to be reconnected by the next pg_conn_get;
 * 53xxx (disk full, out of resources) and 25006 (read-only: a standby) -> STORE_UNAVAILABLE, as
 * SQLite's disk-full and read-only faults; anything else STORE_ERROR. */
enum store_result pg_result_of(struct pg_conn *c, const PGresult *res);

/* Runs a plain command (BEGIN, COMMIT, SAVEPOINT ...) on c; STORE_OK or as pg_result_of. */
enum store_result pg_command(struct pg_conn *c, const char *sql);

/* Column helpers. pg_text_id copies column col of row into id (OFFER_ID_SIZE) when it is a valid
 * whole id (offer_id_is_valid), else returns false (the caller answers STORE_BAD_ROW and logs). */
bool pg_text_id(const PGresult *res, int row, int col, char id[OFFER_ID_SIZE]);
int64_t pg_get_int64(const PGresult *res, int row, int col);   /* 0 for NULL */
/* pg_int64 is libpq's own typedef (postgres_ext.h), so the function cannot have that name; this
 * function-like macro keeps pg_int64(res, row, col) calls working and leaves the type alone. */
#define pg_int64(res, row, col) pg_get_int64(res, row, col)
bool pg_bool(const PGresult *res, int row, int col);           /* "t" */
char *pg_strdup_or_null(const PGresult *res, int row, int col); /* NULL for SQL NULL */
/* As pg_strdup_or_null into *out; true when that failed for want of memory (not for NULL). */
bool pg_dup_failed(const PGresult *res, int row, int col, char **out);
/* Logs why a row is refused: which row (what), the column's length and printable start. */
void pg_log_bad_id(const char *what, const PGresult *res, int row, int col,
                   const char *consequence);

/* Closes every connection (store close). */
void pg_conns_close(struct pg_store *ps);

/* The row shape pg_decode_offer reads: an offer with its product, people, images and counters
 * in one row (images and counters as json_agg arrays). Append the WHERE (and, in a write,
 * FOR UPDATE OF o: the other tables are on the nullable side of outer joins or locked apart). */
#define PG_OFFER_SELECT                                                                            \
    "SELECT o.id, o.version, o.status, o.amount, o.message, o.product_id, o.buyer_id,"            \
    " o.seller_id, o.created_at, o.updated_at, o.expires_at,"                                      \
    " p.user_id, p.title, p.price, p.is_sold,"                                                     \
    " b.first_name, b.last_name, s.first_name, s.last_name,"                                       \
    " (SELECT json_agg(i.url ORDER BY i.sort_order, i.id) FROM product_images i"                   \
    "   WHERE i.product_id = o.product_id),"                                                       \
    " (SELECT json_agg(json_build_array(c.id, c.amount, c.message, c.from_seller, c.created_at)"   \
    "                  ORDER BY c.created_at, c.seq) FROM counter_offers c WHERE c.offer_id = o.id)" \
    " FROM offers o JOIN products p ON p.id = o.product_id"                                        \
    " LEFT JOIN users b ON b.id = o.buyer_id LEFT JOIN users s ON s.id = o.seller_id"

/* The row shape pg_decode_product reads (no images); append the WHERE (and FOR UPDATE). */
#define PG_PRODUCT_SELECT "SELECT id, user_id, title, price, is_sold FROM products"

/* offer_read.c: decodes the row shape of the read statements into an offer (used by
 * read_offer and tx_load_offer). STORE_BAD_ROW (logged) when an id cannot be served whole. */
enum store_result pg_decode_offer(const PGresult *res, int row, struct offer *out);
/* The same for PG_PRODUCT_SELECT's row (tx_load_product); release with store_product_cleanup. */
enum store_result pg_decode_product(const PGresult *res, int row, struct product *out);

/* ops, by file */
enum store_result pg_read_offer(struct store *s, const char *offer_id, struct offer *out);
enum store_result pg_find_user(struct store *s, const char *clerk_id, char user_id[OFFER_ID_SIZE]);
enum store_result pg_list_offers(struct store *s, const char *user_id,
                                 const struct offer_cursor *after, size_t limit,
                                 struct offer **out, size_t *count);
enum store_result pg_list_changed_offers(struct store *s, const char *user_id, int64_t after_seq,
                                         const struct offer_cursor *after, size_t limit,
                                         struct offer_ref *out, size_t *count);
enum store_result pg_seed_demo(struct store *s, int64_t now_ms);

enum store_result pg_tx_begin(struct store *s);
enum store_result pg_tx_commit(struct store *s);
void pg_tx_rollback(struct store *s);
enum store_result pg_tx_write_begin(struct store *s);
void pg_tx_write_end(struct store *s, bool keep);
enum store_result pg_tx_expire_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                     bool *expired);
enum store_result pg_tx_load_offer(struct store *s, const char *offer_id, struct offer *out);
enum store_result pg_tx_load_product(struct store *s, const char *product_id, struct product *out);
enum store_result pg_tx_insert_offer(struct store *s, const struct new_offer *n,
                                     const char *seller_id);
enum store_result pg_tx_apply_change(struct store *s, const struct offer *cur,
                                     const struct offer_change *ch, int64_t now_ms,
                                     struct store_side_change **side, size_t *side_count);

/* change_feed.c */
int pg_feed_open(struct pg_store *ps, char *err, size_t err_size);
void pg_feed_close(struct pg_store *ps);
enum store_result pg_poll_changes(struct store *s, bool *changed);
int pg_change_wake_fd(struct store *s);
enum store_result pg_last_change_seq(struct store *s, int64_t *seq);
enum store_result pg_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                   store_change_fn fn, void *userdata);
enum store_result pg_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq);
enum store_result pg_next_expiry(struct store *s, bool *any, int64_t *at_ms);
enum store_result pg_expire_due(struct store *s, int64_t now_ms, size_t *expired);
/* The stats op (store_get_stats): reconnects (ps->reconnects, the listener's included), the
 * feed's lag, pg_notification_queue_usage(). From memory only, any thread. */
void pg_store_stats(struct store *s, struct store_stats *out);

/* migrate.c */
int pg_migrate(const char *db, char *err, size_t err_size);
int pg_migrate_conn(PGconn *pg, char *err, size_t err_size); /* on an open connection: how
                                                              * many it applied, or -1 */
int pg_latest_version(void);

#endif
