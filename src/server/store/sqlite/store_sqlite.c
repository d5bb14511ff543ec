/* store_sqlite.c - the SQLite backend of store.h: one connection per thread, statements reused.
 *
 * WAL lets readers run beside the one writer; synchronous=FULL makes every COMMIT reach the disk
 * before it returns, so a 2xx always means durable. Writes take the lock up front (BEGIN
 * IMMEDIATE) and re-read what they decide on, so two racing decisions cannot both win. Versions and
 * the change log are kept by the triggers in migrations/, which also catch outside writers.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "util/log.h"
#include "store/sqlite/migrate.h"
#include "util/clock.h"

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

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT one_write",
    [ST_RELEASE] = "RELEASE one_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO one_write",
    [ST_GET_OFFER] =
        "SELECT o.id, o.version, o.status, o.amount, o.message, o.product_id, o.buyer_id,"
        " o.seller_id, o.created_at, o.updated_at, o.expires_at,"
        " p.user_id, p.title, p.price, p.is_sold,"
        " b.first_name, b.last_name, s.first_name, s.last_name"
        " FROM offers o JOIN products p ON p.id = o.product_id"
        " LEFT JOIN users b ON b.id = o.buyer_id LEFT JOIN users s ON s.id = o.seller_id"
        " WHERE o.id = ?1",
    [ST_GET_IMAGES] =
        "SELECT url FROM product_images WHERE product_id = ?1 ORDER BY sort_order, id",
    [ST_GET_COUNTERS] =
        "SELECT id, amount, message, from_seller, created_at FROM counter_offers"
        " WHERE offer_id = ?1 ORDER BY created_at, rowid",
    [ST_FIND_USER] = "SELECT id FROM users WHERE clerk_id = ?1",
    [ST_EXPIRE_OFFER] =
        "UPDATE offers SET status = 'EXPIRED', version = version + 1, updated_at = ?2"
        " WHERE id = ?1 AND status IN ('PENDING', 'COUNTERED')"
        " AND expires_at IS NOT NULL AND expires_at <= ?2",
    [ST_GET_PRODUCT] = "SELECT id, user_id, title, price, is_sold FROM products WHERE id = ?1",
    [ST_INSERT_OFFER] =
        "INSERT INTO offers(id, amount, status, message, product_id, buyer_id, seller_id,"
        " created_at, updated_at, expires_at, version)"
        " VALUES (?1, ?2, 'PENDING', ?3, ?4, ?5, ?6, ?7, ?7, ?8, 1)",
    [ST_UPDATE_OFFER] =
        "UPDATE offers SET status = ?2, expires_at = ?3, updated_at = ?4, version = version + 1"
        " WHERE id = ?1 AND version = ?5",
    [ST_INSERT_COUNTER] =
        "INSERT INTO counter_offers(id, offer_id, amount, message, from_seller, created_at,"
        " offer_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* Naming the accepted offer tells the sale trigger (migration 0003) it is already bumped. */
    [ST_MARK_SOLD] = "UPDATE products SET is_sold = 1, sold_offer_id = ?2 WHERE id = ?1",
    [ST_LIST_OFFERS] =
        "SELECT id, created_at FROM ("
        " SELECT id, created_at FROM offers WHERE buyer_id = ?1"
        "  AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))"
        " UNION ALL"
        " SELECT id, created_at FROM offers WHERE seller_id = ?1 AND buyer_id <> ?1"
        "  AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))"
        ") ORDER BY created_at DESC, id DESC LIMIT ?4",
    [ST_DATA_VERSION] = "PRAGMA data_version",
    [ST_LAST_CHANGE] = "SELECT coalesce(max(seq), 0) FROM offer_changes",
    [ST_CHANGES_SINCE] =
        "SELECT c.seq, c.offer_id, c.version, o.buyer_id, o.seller_id"
        " FROM offer_changes c LEFT JOIN offers o ON o.id = c.offer_id"
        " WHERE c.seq > ?1 ORDER BY c.seq LIMIT 512",
    [ST_NEXT_EXPIRY] =
        "SELECT min(expires_at) FROM offers"
        " WHERE status IN ('PENDING', 'COUNTERED') AND expires_at IS NOT NULL",
    [ST_EXPIRE_DUE] =
        "UPDATE offers SET status = 'EXPIRED', version = version + 1, updated_at = ?1"
        " WHERE status IN ('PENDING', 'COUNTERED') AND expires_at IS NOT NULL"
        " AND expires_at <= ?1",
    [ST_OFFER_CHANGE_SEQ] = "SELECT coalesce(max(seq), 0) FROM offer_changes WHERE offer_id = ?1",
    /* As ST_LIST_OFFERS, less the offers not changed since ?4 (no log row counts as changed).
     * Ids that do not fit OFFER_ID_SIZE (?5) are left out rather than cut short. */
    [ST_LIST_CHANGED] =
        "SELECT id, created_at FROM ("
        " SELECT id, created_at FROM offers WHERE buyer_id = ?1"
        "  AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))"
        " UNION ALL"
        " SELECT id, created_at FROM offers WHERE seller_id = ?1 AND buyer_id <> ?1"
        "  AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id < ?3))"
        ") AS o WHERE length(o.id) <= ?5"
        " AND coalesce((SELECT max(c.seq) FROM offer_changes c WHERE c.offer_id = o.id),"
        "              9223372036854775807) > ?4"
        " ORDER BY created_at DESC, id DESC LIMIT ?6",
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT];
    int64_t data_version;       /* last PRAGMA data_version seen by poll_changes */
    unsigned generation;        /* the store's generation when opened; older ones reopen */
    atomic_uint *store_generation;
    struct conn *next;
};

struct sqlite_store {
    struct store base;
    char *path;
    int busy_timeout_ms;
    pthread_key_t key;
    /* Bumped on a read-only fault: every thread then reopens its connection before its next use,
     * since connections in one process share SQLite's -shm mapping, which stays read-only while
     * any of them holds it. */
    atomic_uint generation;
    /* One writer at a time inside this process: waiting here wakes the moment the lock is free,
     * where SQLite's busy handler would sleep and poll. Other processes still meet the busy
     * timeout. */
    pthread_mutex_t write_lock;
    pthread_mutex_t lock;   /* guards conns */
    /* The writer thread and its queue (store_submit). */
    pthread_t writer;
    bool writer_started;
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct store_write *queue_head, *queue_tail;
    size_t queue_len;
    enum { WRITER_BUSY, WRITER_IDLE, WRITER_GATHERING } writer_state;
    bool writer_stop;
    struct conn *conns;     /* every thread's connection, closed at store close */
};

static struct sqlite_store *as_sqlite(struct store *s)
{
    return (struct sqlite_store *)s;
}

static int configure(sqlite3 *db, int busy_timeout_ms)
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

/* This thread's connection, opened on first use (and again after a read-only fault, so that
 * writes work as soon as the fault clears); NULL on failure (logged). */
static struct conn *get_conn(struct sqlite_store *ss)
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
    c->generation = generation;
    c->store_generation = &ss->generation;
    int rc = sqlite3_open_v2(ss->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        rc = configure(c->db, ss->busy_timeout_ms);
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

/* The prepared statement, reset and unbound, ready to bind; NULL on failure (logged). */
static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = c->stmts[id];
    if (!st) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
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

static enum store_result result_of(struct conn *c, int rc)
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

/* Runs a statement that returns no rows. */
static enum store_result run(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return result_of(c, rc);
}

static void rollback(struct conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        run(c, ST_ROLLBACK);
}

static char *dup_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

static bool needs_dup(sqlite3_stmt *st, int col, char **out)
{
    *out = dup_text(st, col);
    return sqlite3_column_type(st, col) != SQLITE_NULL && !*out;
}

/* Copies an id column into dst whole, or refuses it: false (dst "") unless it is
 * [A-Za-z0-9_-]{1,64}, so an id that does not fit is never cut into another one. Rows written
 * before migration 0004 (or with its triggers dropped) may hold such ids. */
static bool read_id(char dst[OFFER_ID_SIZE], sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    size_t bytes = (size_t)sqlite3_column_bytes(st, col); /* counts past an embedded NUL */
    dst[0] = '\0';
    if (!t || bytes > OFFER_ID_MAX || !offer_id_is_valid(t) || strlen(t) != bytes)
        return false;
    memcpy(dst, t, bytes + 1);
    return true;
}

/* Logs why a row is refused: which row, which column, and what the id looks like (its length and
 * a printable start; never the whole of an arbitrarily long value). */
static void log_bad_id(const char *what, sqlite3_stmt *st, int col, const char *consequence)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    int bytes = sqlite3_column_bytes(st, col);
    char start[OFFER_ID_SIZE];
    size_t n = 0;
    for (; t && (int)n < bytes && n < OFFER_ID_MAX; n++)
        start[n] = (t[n] >= 0x20 && t[n] < 0x7f && t[n] != '"') ? t[n] : '?';
    start[n] = '\0';
    log_error("sqlite: %s is not an id offerd can serve ([A-Za-z0-9_-]{1,64}: %d bytes, "
              "\"%s%s\"); %s",
              what, bytes, start, bytes > OFFER_ID_MAX ? "..." : "", consequence);
}

static enum store_result load_images(struct conn *c, struct product *p)
{
    sqlite3_stmt *st = stmt(c, ST_GET_IMAGES);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (p->image_count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct product_image *n = realloc(p->images, ncap * sizeof(*n));
            if (!n)
                goto oom;
            p->images = n;
            cap = ncap;
        }
        struct product_image *img = &p->images[p->image_count];
        if (needs_dup(st, 0, &img->url))
            goto oom;
        p->image_count++;
    }
    sqlite3_reset(st);
    return result_of(c, rc);
oom:
    sqlite3_reset(st);
    log_error("out of memory loading images");
    return STORE_ERROR;
}

static enum store_result load_counters(struct conn *c, struct offer *o)
{
    sqlite3_stmt *st = stmt(c, ST_GET_COUNTERS);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (o->counter_count == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct counter_offer *n = realloc(o->counters, ncap * sizeof(*n));
            if (!n)
                goto oom;
            o->counters = n;
            cap = ncap;
        }
        struct counter_offer *co = &o->counters[o->counter_count];
        memset(co, 0, sizeof(*co));
        if (!read_id(co->id, st, 0)) {
            char what[OFFER_ID_SIZE + 64];
            snprintf(what, sizeof(what), "offer %s: counter_offers.id", o->id);
            log_bad_id(what, st, 0, "the offer cannot be served");
            sqlite3_reset(st);
            return STORE_BAD_ROW;
        }
        co->amount_minor = sqlite3_column_int64(st, 1);
        if (needs_dup(st, 2, &co->message))
            goto oom;
        co->from_seller = sqlite3_column_int(st, 3) != 0;
        co->created_at_ms = sqlite3_column_int64(st, 4);
        o->counter_count++;
    }
    sqlite3_reset(st);
    return result_of(c, rc);
oom:
    sqlite3_reset(st);
    log_error("out of memory loading counter offers");
    return STORE_ERROR;
}

/* Loads the whole offer as stored, inside the caller's transaction. */
static enum store_result load_offer(struct conn *c, const char *id, struct offer *o)
{
    memset(o, 0, sizeof(*o));
    sqlite3_stmt *st = stmt(c, ST_GET_OFFER);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : result_of(c, rc);
    }
    /* Each id whole or the offer refused: a cut id could name someone else. */
    static const struct {
        int col;
        const char *name;
        size_t offset;
    } ids[] = {
        {0, "id", offsetof(struct offer, id)},
        {5, "product_id", offsetof(struct offer, product_id)},
        {6, "buyer_id", offsetof(struct offer, buyer_id)},
        {7, "seller_id", offsetof(struct offer, seller_id)},
        {11, "products.user_id", offsetof(struct offer, product.seller_id)},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        if (!read_id((char *)o + ids[i].offset, st, ids[i].col)) {
            char what[OFFER_ID_SIZE + 64];
            snprintf(what, sizeof(what), "offer %s: %s", offer_id_is_valid(id) ? id : "?",
                     ids[i].name);
            log_bad_id(what, st, ids[i].col, "the offer cannot be served");
            sqlite3_reset(st);
            memset(o, 0, sizeof(*o));
            return STORE_BAD_ROW;
        }
    }
    o->version = sqlite3_column_int64(st, 1);
    if (!offer_status_parse((const char *)sqlite3_column_text(st, 2), &o->status))
        o->status = OFFER_STATUS_PENDING; /* unreachable: the CHECK constraint */
    o->amount_minor = sqlite3_column_int64(st, 3);
    bool oom = needs_dup(st, 4, &o->message);
    o->created_at_ms = sqlite3_column_int64(st, 8);
    o->updated_at_ms = sqlite3_column_int64(st, 9);
    o->has_expiry = sqlite3_column_type(st, 10) != SQLITE_NULL;
    o->expires_at_ms = sqlite3_column_int64(st, 10);
    memcpy(o->product.id, o->product_id, OFFER_ID_SIZE);
    oom |= needs_dup(st, 12, &o->product.title);
    o->product.price_minor = sqlite3_column_int64(st, 13);
    o->product.is_sold = sqlite3_column_int(st, 14) != 0;
    memcpy(o->buyer.id, o->buyer_id, OFFER_ID_SIZE);
    memcpy(o->seller.id, o->seller_id, OFFER_ID_SIZE);
    oom |= needs_dup(st, 15, &o->buyer.first_name);
    oom |= needs_dup(st, 16, &o->buyer.last_name);
    oom |= needs_dup(st, 17, &o->seller.first_name);
    oom |= needs_dup(st, 18, &o->seller.last_name);
    sqlite3_reset(st);
    enum store_result r = oom ? STORE_ERROR : load_images(c, &o->product);
    if (r == STORE_OK)
        r = load_counters(c, o);
    if (r != STORE_OK)
        offer_cleanup(o);
    return r;
}

static bool is_past_expiry(const struct offer *o, int64_t now_ms)
{
    return offer_status_is_live(o->status) && o->has_expiry && now_ms >= o->expires_at_ms;
}

/* Inside a write transaction: persists EXPIRED when due. *expired says whether it did. */
static enum store_result expire_if_due(struct conn *c, const char *id, int64_t now_ms,
                                       bool *expired)
{
    *expired = false;
    sqlite3_stmt *st = stmt(c, ST_EXPIRE_OFFER);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        *expired = sqlite3_changes(c->db) > 0;
    return result_of(c, rc);
}

/* Reads an offer; a live offer past its expiry is expired (persisted, version bumped) first. */
static enum store_result read_offer(struct sqlite_store *ss, struct conn *c, const char *id,
                                    int64_t now_ms, struct offer *out)
{
    enum store_result r = run(c, ST_BEGIN);
    if (r != STORE_OK)
        return r;
    r = load_offer(c, id, out);
    run(c, ST_COMMIT);
    if (r != STORE_OK || !is_past_expiry(out, now_ms))
        return r;

    offer_cleanup(out);
    pthread_mutex_lock(&ss->write_lock);
    r = run(c, ST_BEGIN_IMMEDIATE);
    bool expired = false;
    if (r == STORE_OK)
        r = expire_if_due(c, id, now_ms, &expired);
    if (r == STORE_OK)
        r = load_offer(c, id, out);
    if (r == STORE_OK)
        r = run(c, ST_COMMIT);
    if (r != STORE_OK) {
        offer_cleanup(out);
        rollback(c);
    }
    pthread_mutex_unlock(&ss->write_lock);
    if (r != STORE_OK)
        return r;
    if (expired)
        store_report_change(&ss->base, out);
    return STORE_OK;
}

static enum store_result sqlite_get_offer(struct store *s, const char *offer_id, int64_t now_ms,
                                          struct offer *out)
{
    struct sqlite_store *ss = as_sqlite(s);
    struct conn *c = get_conn(ss);
    if (!c)
        return STORE_ERROR;
    return read_offer(ss, c, offer_id, now_ms, out);
}

static enum store_result sqlite_find_user(struct store *s, const char *clerk_id,
                                          char user_id[OFFER_ID_SIZE])
{
    struct conn *c = get_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    sqlite3_stmt *st = stmt(c, ST_FIND_USER);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, clerk_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    enum store_result r;
    if (rc == SQLITE_ROW) {
        r = STORE_OK;
        if (!read_id(user_id, st, 0)) {
            log_bad_id("users.id of the users row for this token", st, 0,
                       "its requests get 403");
            r = STORE_BAD_ROW;
        }
    } else {
        r = rc == SQLITE_DONE ? STORE_NOT_FOUND : result_of(c, rc);
    }
    sqlite3_reset(st);
    return r;
}

static enum store_result load_product(struct conn *c, const char *id, struct product *p)
{
    memset(p, 0, sizeof(*p));
    sqlite3_stmt *st = stmt(c, ST_GET_PRODUCT);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? STORE_NOT_FOUND : result_of(c, rc);
    }
    if (!read_id(p->id, st, 0) || !read_id(p->seller_id, st, 1)) {
        char what[OFFER_ID_SIZE + 64];
        snprintf(what, sizeof(what), "product %s: user_id", offer_id_is_valid(id) ? id : "?");
        log_bad_id(what, st, 1, "no offer can be made on it");
        sqlite3_reset(st);
        return STORE_BAD_ROW;
    }
    bool oom = needs_dup(st, 2, &p->title);
    p->price_minor = sqlite3_column_int64(st, 3);
    p->is_sold = sqlite3_column_int(st, 4) != 0;
    sqlite3_reset(st);
    return oom ? STORE_ERROR : STORE_OK;
}

static void product_cleanup(struct product *p)
{
    free(p->title);
    for (size_t i = 0; i < p->image_count; i++)
        free(p->images[i].url);
    free(p->images);
    memset(p, 0, sizeof(*p));
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static enum store_result step_done(struct conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        log_error("sqlite: constraint: %s", sqlite3_errmsg(c->db));
        return STORE_ERROR;
    }
    return result_of(c, rc);
}

/* Inside an open write transaction: checks the product, inserts, reads the new offer back. */
static enum store_result create_body(struct conn *c, const struct new_offer *n,
                                     store_check_product_fn check, void *userdata,
                                     struct offer *out)
{
    struct product product;
    memset(out, 0, sizeof(*out));
    enum store_result r = load_product(c, n->product_id, &product);
    if (r != STORE_OK)
        goto out;
    if (check && !check(&product, userdata)) {
        r = STORE_CONFLICT;
        goto out;
    }
    sqlite3_stmt *st = stmt(c, ST_INSERT_OFFER);
    if (!st) {
        r = STORE_ERROR;
        goto out;
    }
    sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, n->amount_minor);
    bind_text_or_null(st, 3, n->message);
    sqlite3_bind_text(st, 4, n->product_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, n->buyer_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, product.seller_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, n->created_at_ms);
    sqlite3_bind_int64(st, 8, n->expires_at_ms);
    r = step_done(c, st);
    if (r == STORE_OK)
        r = load_offer(c, n->id, out);
out:
    product_cleanup(&product);
    if (r != STORE_OK)
        offer_cleanup(out);
    return r;
}

/* Inside the write transaction: every change-log row after after_seq (the offers a trigger just
 * changed), appended to *side. */
static enum store_result collect_side_changes(struct conn *c, int64_t after_seq,
                                              struct store_side_change **side, size_t *count)
{
    size_t cap = *count;
    for (;;) {
        sqlite3_stmt *st = stmt(c, ST_CHANGES_SINCE);
        if (!st)
            return STORE_ERROR;
        sqlite3_bind_int64(st, 1, after_seq);
        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            after_seq = sqlite3_column_int64(st, 0);
            if (*count == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                struct store_side_change *n = realloc(*side, ncap * sizeof(*n));
                if (!n) {
                    sqlite3_reset(st);
                    log_error("out of memory collecting a sale's offers");
                    return STORE_ERROR;
                }
                *side = n;
                cap = ncap;
            }
            struct store_side_change *sc = &(*side)[*count];
            /* An offer with an id offerd cannot serve is never reported (nor served): a cut id
             * could wake someone else's watchers. */
            if (!read_id(sc->offer_id, st, 1) || !read_id(sc->buyer_id, st, 3) ||
                !read_id(sc->seller_id, st, 4))
                continue;
            sc->version = sqlite3_column_int64(st, 2);
            (*count)++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return result_of(c, rc);
        if (rows < 512)
            return STORE_OK;
    }
}

/* Inside the write transaction: marks the product of cur (just accepted, already bumped) sold.
 * The sale trigger ends and bumps the product's other offers; they land in *side. */
static enum store_result mark_sold(struct conn *c, const struct offer *cur,
                                   struct store_side_change **side, size_t *side_count)
{
    int64_t before = 0;
    sqlite3_stmt *st = stmt(c, ST_LAST_CHANGE);
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        before = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    enum store_result r = result_of(c, rc);
    if (r != STORE_OK)
        return r;
    st = stmt(c, ST_MARK_SOLD);
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, cur->product_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cur->id, -1, SQLITE_STATIC);
    r = step_done(c, st);
    if (r == STORE_OK)
        r = collect_side_changes(c, before, side, side_count);
    return r;
}

static enum store_result apply_change(struct conn *c, const struct offer *cur,
                                      const struct offer_change *ch, int64_t now_ms,
                                      struct store_side_change **side, size_t *side_count)
{
    sqlite3_stmt *st = stmt(c, ST_UPDATE_OFFER);
    if (!st)
        return STORE_ERROR;
    enum offer_status status = ch->set_status ? ch->status : cur->status;
    sqlite3_bind_text(st, 1, cur->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, offer_status_name(status), -1, SQLITE_STATIC);
    if (ch->set_expiry)
        sqlite3_bind_int64(st, 3, ch->expires_at_ms);
    else if (cur->has_expiry)
        sqlite3_bind_int64(st, 3, cur->expires_at_ms);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, cur->version);
    enum store_result r = step_done(c, st);
    if (r == STORE_OK && sqlite3_changes(c->db) != 1)
        r = STORE_ERROR; /* we hold the write lock, so the version cannot have moved */
    if (r == STORE_OK && ch->add_counter) {
        st = stmt(c, ST_INSERT_COUNTER);
        if (!st)
            return STORE_ERROR;
        sqlite3_bind_text(st, 1, ch->counter.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, cur->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ch->counter.amount_minor);
        bind_text_or_null(st, 4, ch->counter.message);
        sqlite3_bind_int(st, 5, ch->counter.from_seller ? 1 : 0);
        sqlite3_bind_int64(st, 6, ch->counter.created_at_ms);
        sqlite3_bind_int64(st, 7, cur->version + 1); /* tells the trigger: already bumped */
        r = step_done(c, st);
    }
    if (r == STORE_OK && ch->mark_product_sold)
        r = mark_sold(c, cur, side, side_count);
    return r;
}

/* Inside an open write transaction: expires the offer if due, lets decide look at it, applies
 * what it returns. OK: *out is the offer after, and w->side the other offers it changed (a sale's).
 * CONFLICT: refused; if an expiry was stored on the way, *keep is true and *out is that expired
 * state (to commit and report), else *out is empty. */
static enum store_result update_body(struct conn *c, struct store_write *w, struct offer *out,
                                     bool *keep)
{
    const char *offer_id = w->offer_id;
    int64_t now_ms = w->now_ms;
    struct offer cur;
    memset(&cur, 0, sizeof(cur));
    memset(out, 0, sizeof(*out));
    *keep = false;
    bool expired = false;
    enum store_result r = expire_if_due(c, offer_id, now_ms, &expired);
    if (r == STORE_OK)
        r = load_offer(c, offer_id, &cur);
    if (r != STORE_OK)
        return r;
    struct offer_change change;
    memset(&change, 0, sizeof(change));
    if (!w->decide(&cur, now_ms, &change, w->userdata)) {
        if (expired) {
            *keep = true; /* refused, but the expiry found on the way is a real change */
            *out = cur;
        } else {
            offer_cleanup(&cur);
        }
        return STORE_CONFLICT;
    }
    r = apply_change(c, &cur, &change, now_ms, &w->side, &w->side_count);
    if (r == STORE_OK)
        r = load_offer(c, offer_id, out);
    offer_cleanup(&cur);
    if (r != STORE_OK)
        offer_cleanup(out);
    if (r == STORE_OK)
        *keep = true;
    return r;
}

/* A copy of a column's bytes, kept whole whatever its length (a list position's id). */
struct text_copy {
    char *text;
    int len;
    size_t cap;
};

static bool text_copy_set(struct text_copy *t, const char *data, int len)
{
    if ((size_t)len + 1 > t->cap) {
        char *n = realloc(t->text, (size_t)len + 1);
        if (!n)
            return false;
        t->text = n;
        t->cap = (size_t)len + 1;
    }
    if (len > 0)
        memcpy(t->text, data, (size_t)len);
    t->text[len] = '\0';
    t->len = len;
    return true;
}

static enum store_result sqlite_list_offers(struct store *s, const char *user_id,
                                            const struct offer_cursor *after, size_t limit,
                                            int64_t now_ms, struct offer **out, size_t *count)
{
    struct sqlite_store *ss = as_sqlite(s);
    *out = NULL;
    *count = 0;
    struct conn *c = get_conn(ss);
    if (!c)
        return STORE_ERROR;
    struct offer *list = calloc(limit ? limit : 1, sizeof(*list));
    size_t n = 0;
    /* The scan's position: the last row seen, served or skipped, its id kept whole (a skipped one
     * may be longer than any offer id), so the next batch starts right after it. */
    bool positioned = after && after->valid;
    int64_t at_ms = positioned ? after->created_at_ms : 0, next_at_ms = 0;
    struct text_copy at_id = {0}, next_id = {0};
    enum store_result r = STORE_ERROR;
    if (list && (!positioned || text_copy_set(&at_id, after->id, (int)strlen(after->id))))
        r = run(c, ST_BEGIN);
    if (r != STORE_OK)
        goto out;
    /* A row that cannot be served is skipped (and logged), not fatal to the page, so a batch may
     * come back short: ask again from the last row seen until the page is full or rows run out. */
    bool more_rows = true;
    while (r == STORE_OK && more_rows && n < limit) {
        sqlite3_stmt *st = stmt(c, ST_LIST_OFFERS);
        if (!st) {
            r = STORE_ERROR;
            break;
        }
        size_t want = limit - n, seen = 0;
        sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC);
        if (positioned) {
            sqlite3_bind_int64(st, 2, at_ms);
            sqlite3_bind_text(st, 3, at_id.text, at_id.len, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 4, (sqlite3_int64)want);
        int rc = SQLITE_DONE;
        while (r == STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            seen++;
            next_at_ms = sqlite3_column_int64(st, 1);
            if (!text_copy_set(&next_id, (const char *)sqlite3_column_text(st, 0),
                               sqlite3_column_bytes(st, 0))) {
                r = STORE_ERROR;
                break;
            }
            char id[OFFER_ID_SIZE];
            if (!read_id(id, st, 0)) {
                log_bad_id("offers.id of a row in this user's list", st, 0, "skipped");
                continue;
            }
            enum store_result lr = load_offer(c, id, &list[n]);
            if (lr == STORE_OK)
                n++;
            else if (lr == STORE_NOT_FOUND) /* its product row is missing (no foreign keys) */
                log_error("sqlite: offer %s has no products row, so it cannot be served; "
                          "skipped", id);
            else if (lr != STORE_BAD_ROW) /* a bad row was logged, and is skipped */
                r = lr;
        }
        if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = result_of(c, rc);
        sqlite3_reset(st);
        more_rows = seen == want;
        if (seen > 0) {
            positioned = true;
            at_ms = next_at_ms;
            struct text_copy t = at_id;
            at_id = next_id;
            next_id = t;
        }
    }
    run(c, ST_COMMIT);
    /* Expire what is due, each in its own short write, then show it expired. */
    for (size_t i = 0; r == STORE_OK && i < n; i++) {
        if (is_past_expiry(&list[i], now_ms)) {
            char id[OFFER_ID_SIZE];
            memcpy(id, list[i].id, sizeof(id));
            offer_cleanup(&list[i]);
            r = read_offer(ss, c, id, now_ms, &list[i]);
        }
    }
out:
    free(at_id.text);
    free(next_id.text);
    if (r != STORE_OK) {
        if (list)
            store_free_offers(list, n);
        return r;
    }
    *out = list;
    *count = n;
    return STORE_OK;
}

static enum store_result sqlite_check_ready(struct store *s, char *why, size_t why_size)
{
    struct conn *c = get_conn(as_sqlite(s));
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

static enum store_result sqlite_poll_changes(struct store *s, bool *changed)
{
    *changed = false;
    struct conn *c = get_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? stmt(c, ST_DATA_VERSION) : NULL;
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        *changed = v != c->data_version;
        c->data_version = v;
    }
    sqlite3_reset(st);
    return result_of(c, rc);
}

static enum store_result sqlite_last_change_seq(struct store *s, int64_t *seq)
{
    struct conn *c = get_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? stmt(c, ST_LAST_CHANGE) : NULL;
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return result_of(c, rc);
}

/* A text column as a C string, or NULL when it is NULL or holds a NUL (then it is not whole). */
static const char *whole_text(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t && strlen(t) == (size_t)sqlite3_column_bytes(st, col) ? t : NULL;
}

static enum store_result sqlite_changes_since(struct store *s, int64_t after_seq,
                                              int64_t *last_seq, store_change_fn fn,
                                              void *userdata)
{
    struct conn *c = get_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    *last_seq = after_seq;
    for (;;) {
        sqlite3_stmt *st = stmt(c, ST_CHANGES_SINCE);
        if (!st)
            return STORE_ERROR;
        sqlite3_bind_int64(st, 1, *last_seq);
        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            *last_seq = sqlite3_column_int64(st, 0);
            /* Ids as C strings only when whole: one with a NUL inside would name another. */
            const char *offer_id = whole_text(st, 1);
            if (offer_id)
                fn(offer_id, sqlite3_column_int64(st, 2), whole_text(st, 3), whole_text(st, 4),
                   userdata);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return result_of(c, rc);
        if (rows < 512)
            return STORE_OK;
    }
}

static enum store_result sqlite_offer_change_seq(struct store *s, const char *offer_id,
                                                 int64_t *seq)
{
    struct conn *c = get_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? stmt(c, ST_OFFER_CHANGE_SEQ) : NULL;
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, offer_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return result_of(c, rc);
}

static enum store_result sqlite_list_changed_offers(struct store *s, const char *user_id,
                                                    int64_t after_seq,
                                                    const struct offer_cursor *after,
                                                    size_t limit, struct offer_ref *out,
                                                    size_t *count)
{
    *count = 0;
    struct conn *c = get_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? stmt(c, ST_LIST_CHANGED) : NULL;
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, user_id, -1, SQLITE_STATIC);
    if (after && after->valid) {
        sqlite3_bind_int64(st, 2, after->created_at_ms);
        sqlite3_bind_text(st, 3, after->id, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 4, after_seq);
    sqlite3_bind_int(st, 5, OFFER_ID_SIZE - 1);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)limit);
    int rc = SQLITE_DONE;
    while (*count < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        if (!id || len >= OFFER_ID_SIZE)
            continue; /* the query already leaves these out */
        memcpy(out[*count].id, id, len + 1);
        out[*count].created_at_ms = sqlite3_column_int64(st, 1);
        (*count)++;
    }
    sqlite3_reset(st);
    return *count == limit ? STORE_OK : result_of(c, rc);
}

static enum store_result sqlite_next_expiry(struct store *s, bool *any, int64_t *at_ms)
{
    struct conn *c = get_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? stmt(c, ST_NEXT_EXPIRY) : NULL;
    if (!st)
        return STORE_ERROR;
    *any = false;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *any = true;
        *at_ms = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return result_of(c, rc);
}

static enum store_result sqlite_expire_due(struct store *s, int64_t now_ms, size_t *expired)
{
    struct sqlite_store *ss = as_sqlite(s);
    struct conn *c = get_conn(ss);
    sqlite3_stmt *st = c ? stmt(c, ST_EXPIRE_DUE) : NULL;
    if (!st)
        return STORE_ERROR;
    *expired = 0;
    sqlite3_bind_int64(st, 1, now_ms);
    pthread_mutex_lock(&ss->write_lock);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        *expired = (size_t)sqlite3_changes(c->db);
    sqlite3_reset(st);
    pthread_mutex_unlock(&ss->write_lock);
    return result_of(c, rc);
}

static enum store_result sqlite_exec_script(struct store *s, const char *sql)
{
    struct conn *c = get_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("sqlite: script failed: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        rollback(c);
        return (rc & 0xff) == SQLITE_BUSY ? STORE_BUSY : STORE_ERROR;
    }
    return STORE_OK;
}

#define WRITE_BATCH_MAX 128
/* Group commit: when the last batch showed concurrent writers, the writer waits up to
 * GROUP_WAIT_NS for GROUP_TARGET writes before it begins, as PostgreSQL's commit_delay does. Each
 * commit costs its WAL frames and an fdatasync whatever it holds, and pages shared by the batch
 * (the ends of the offers table, of the change log, of the expiry index) are written once; under
 * the benchmark's mixed load this cut the writer's CPU per write by ~10%. A lone write never waits. */
#define GROUP_TARGET 16
#define GROUP_AFTER_BATCH 4
#define GROUP_WAIT_NS 1000000L

static void drop_side_changes(struct store_write *w)
{
    free(w->side);
    w->side = NULL;
    w->side_count = 0;
}

/* One transaction for a batch of queued writes, a savepoint each, one commit. */
static void run_batch(struct sqlite_store *ss, struct store_write *batch)
{
    struct conn *c = get_conn(ss);
    pthread_mutex_lock(&ss->write_lock);
    enum store_result r = c ? run(c, ST_BEGIN_IMMEDIATE) : STORE_ERROR;
    for (struct store_write *w = batch; w; w = w->next) {
        w->keep = false;
        w->side = NULL;
        w->side_count = 0;
        memset(&w->out, 0, sizeof(w->out));
        if (r != STORE_OK) {
            w->result = r;
            continue;
        }
        w->result = run(c, ST_SAVEPOINT);
        if (w->result != STORE_OK)
            continue;
        if (w->is_create) {
            w->result = create_body(c, &w->create, w->check, w->userdata, &w->out);
            w->keep = w->result == STORE_OK;
        } else {
            w->result = update_body(c, w, &w->out, &w->keep);
        }
        if (!w->keep)
            run(c, ST_ROLLBACK_TO);
        if (w->result != STORE_OK) /* rolled back, or refused: nothing else changed */
            drop_side_changes(w);
        run(c, ST_RELEASE);
    }
    if (r == STORE_OK) {
        enum store_result cr = run(c, ST_COMMIT);
        if (cr != STORE_OK) {
            rollback(c);
            for (struct store_write *w = batch; w; w = w->next) {
                if (w->keep) {
                    offer_cleanup(&w->out);
                    w->keep = false;
                    w->result = cr;
                }
                drop_side_changes(w);
            }
        }
    }
    pthread_mutex_unlock(&ss->write_lock);
    while (batch) {
        struct store_write *next = batch->next; /* done may free it */
        if (batch->keep)
            store_report_change(&ss->base, &batch->out);
        for (size_t i = 0; i < batch->side_count; i++)
            store_report_side_change(&ss->base, &batch->side[i]);
        drop_side_changes(batch);
        if (batch->result != STORE_OK)
            offer_cleanup(&batch->out); /* a refusal that kept an expiry: reported, not returned */
        batch->done(batch);
        batch = next;
    }
}

static void *writer_main(void *arg)
{
    struct sqlite_store *ss = arg;
    size_t last_batch = 0;
    pthread_mutex_lock(&ss->queue_lock);
    for (;;) {
        ss->writer_state = WRITER_IDLE;
        while (!ss->queue_head && !ss->writer_stop)
            pthread_cond_wait(&ss->queue_cond, &ss->queue_lock);
        if (!ss->queue_head)
            break; /* stopping, and nothing left to write */
        if (last_batch >= GROUP_AFTER_BATCH && ss->queue_len < GROUP_TARGET) {
            ss->writer_state = WRITER_GATHERING;
            struct timespec until = clock_monotonic_after_ns(GROUP_WAIT_NS);
            while (ss->queue_len < GROUP_TARGET && !ss->writer_stop &&
                   pthread_cond_timedwait(&ss->queue_cond, &ss->queue_lock, &until) == 0) {
            }
        }
        ss->writer_state = WRITER_BUSY;
        struct store_write *batch = ss->queue_head, *last = batch;
        size_t n = 1;
        for (; n < WRITE_BATCH_MAX && last->next; n++)
            last = last->next;
        ss->queue_len -= n;
        last_batch = n;
        ss->queue_head = last->next;
        if (!ss->queue_head)
            ss->queue_tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&ss->queue_lock);
        run_batch(ss, batch);
        pthread_mutex_lock(&ss->queue_lock);
    }
    pthread_mutex_unlock(&ss->queue_lock);
    return NULL;
}

static void sqlite_submit(struct store *s, struct store_write *w)
{
    struct sqlite_store *ss = as_sqlite(s);
    w->next = NULL;
    pthread_mutex_lock(&ss->queue_lock);
    if (ss->queue_tail)
        ss->queue_tail->next = w;
    else
        ss->queue_head = w;
    ss->queue_tail = w;
    ss->queue_len++;
    /* A busy writer looks at the queue when its batch is done; a gathering one only needs waking
     * once the group is full. */
    if (ss->writer_state == WRITER_IDLE ||
        (ss->writer_state == WRITER_GATHERING && ss->queue_len >= GROUP_TARGET))
        pthread_cond_signal(&ss->queue_cond);
    pthread_mutex_unlock(&ss->queue_lock);
}

static void sqlite_close(struct store *s)
{
    struct sqlite_store *ss = as_sqlite(s);
    if (ss->writer_started) {
        pthread_mutex_lock(&ss->queue_lock);
        ss->writer_stop = true;
        pthread_cond_signal(&ss->queue_cond);
        pthread_mutex_unlock(&ss->queue_lock);
        pthread_join(ss->writer, NULL);
    }
    pthread_cond_destroy(&ss->queue_cond);
    pthread_mutex_destroy(&ss->queue_lock);
    pthread_mutex_lock(&ss->lock);
    struct conn *c = ss->conns;
    ss->conns = NULL;
    pthread_mutex_unlock(&ss->lock);
    while (c) {
        struct conn *next = c->next;
        conn_close(c);
        c = next;
    }
    pthread_key_delete(ss->key);
    pthread_mutex_destroy(&ss->write_lock);
    pthread_mutex_destroy(&ss->lock);
    free(ss->path);
    free(ss);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .get_offer = sqlite_get_offer,
    .find_user_by_clerk_id = sqlite_find_user,
    .list_offers = sqlite_list_offers,
    .check_ready = sqlite_check_ready,
    .exec_script = sqlite_exec_script,
    .poll_changes = sqlite_poll_changes,
    .last_change_seq = sqlite_last_change_seq,
    .changes_since = sqlite_changes_since,
    .next_expiry = sqlite_next_expiry,
    .expire_due = sqlite_expire_due,
    .submit = sqlite_submit,
    .offer_change_seq = sqlite_offer_change_seq,
    .list_changed_offers = sqlite_list_changed_offers,
};

/* Opens the file on a short-lived connection and brings its schema up to date. */
static int open_and_migrate(const char *path, int busy_timeout_ms, char *err, size_t err_size)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_size, "cannot open database %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    if (configure(db, busy_timeout_ms) != SQLITE_OK) {
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

int store_sqlite_migrate_only(const char *path, char *err, size_t err_size)
{
    return open_and_migrate(path, 5000, err, err_size);
}

struct store *store_sqlite_open(const struct store_sqlite_options *opts, char *err,
                                size_t err_size)
{
    if (open_and_migrate(opts->path, opts->busy_timeout_ms, err, err_size) != 0)
        return NULL;
    struct sqlite_store *ss = calloc(1, sizeof(*ss));
    if (!ss || !(ss->path = strdup(opts->path))) {
        free(ss);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ss->busy_timeout_ms = opts->busy_timeout_ms;
    if (pthread_key_create(&ss->key, NULL) != 0) {
        free(ss->path);
        free(ss);
        snprintf(err, err_size, "cannot create a thread key");
        return NULL;
    }
    pthread_mutex_init(&ss->lock, NULL);
    pthread_mutex_init(&ss->write_lock, NULL);
    pthread_mutex_init(&ss->queue_lock, NULL);
    pthread_condattr_t cond_attr; /* the group-commit wait is timed on the monotonic clock */
    pthread_condattr_init(&cond_attr);
    pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ss->queue_cond, &cond_attr);
    pthread_condattr_destroy(&cond_attr);
    ss->base.ops = &sqlite_ops;
    /* The writer thread starts with the store: the stop signals are blocked by then (main). */
    ss->writer_started = pthread_create(&ss->writer, NULL, writer_main, ss) == 0;
    if (ss->writer_started) /* named for top -H, perf and bench/mix_cost.sh */
        pthread_setname_np(ss->writer, "offerd-writer");
    if (!ss->writer_started) {
        snprintf(err, err_size, "cannot start the writer thread");
        sqlite_close(&ss->base);
        return NULL;
    }
    return &ss->base;
}
