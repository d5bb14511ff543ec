/* change_feed.c - following the change log (offer_changes) and the expiry clock's statements.
 *
 * PRAGMA data_version says cheaply whether anyone, in any process, committed since this
 * connection last looked; the log, kept by triggers, then says what changed, in order.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

enum store_result sqlite_walk_changes(struct conn *c, int64_t after_seq, int64_t *last_seq,
                                      bool (*row)(sqlite3_stmt *st, void *userdata),
                                      void *userdata)
{
    *last_seq = after_seq;
    for (;;) {
        sqlite3_stmt *st = sqlite_stmt(c, ST_CHANGES_SINCE);
        if (!st)
            return STORE_ERROR;
        sqlite3_bind_int64(st, 1, *last_seq);
        int rows = 0, rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            rows++;
            *last_seq = sqlite3_column_int64(st, 0);
            if (!row(st, userdata)) {
                sqlite3_reset(st);
                return STORE_ERROR;
            }
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return sqlite_result(c, rc);
        if (rows < CHANGES_PAGE)
            return STORE_OK;
    }
}

enum store_result sqlite_poll_changes(struct store *s, bool *changed)
{
    *changed = false;
    struct conn *c = sqlite_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? sqlite_stmt(c, ST_DATA_VERSION) : NULL;
    if (!st)
        return STORE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        *changed = v != c->data_version;
        c->data_version = v;
    }
    sqlite3_reset(st);
    return sqlite_result(c, rc);
}

enum store_result sqlite_last_change_seq(struct store *s, int64_t *seq)
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? sqlite_stmt(c, ST_LAST_CHANGE) : NULL;
    return st ? sqlite_step_int(c, st, seq) : STORE_ERROR;
}

struct change_reader {
    store_change_fn fn;
    void *userdata;
};

static bool report_row(sqlite3_stmt *st, void *userdata)
{
    struct change_reader *cr = userdata;
    /* Ids as C strings only when whole: one with a NUL inside would name another. */
    const char *offer_id = sqlite_whole_text(st, 1);
    if (offer_id)
        cr->fn(offer_id, sqlite3_column_int64(st, 2), sqlite_whole_text(st, 3),
               sqlite_whole_text(st, 4), cr->userdata);
    return true;
}

enum store_result sqlite_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                       store_change_fn fn, void *userdata)
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    if (!c)
        return STORE_ERROR;
    struct change_reader cr = {fn, userdata};
    return sqlite_walk_changes(c, after_seq, last_seq, report_row, &cr);
}

enum store_result sqlite_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq)
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? sqlite_stmt(c, ST_OFFER_CHANGE_SEQ) : NULL;
    if (!st)
        return STORE_ERROR;
    sqlite3_bind_text(st, 1, offer_id, -1, SQLITE_STATIC);
    return sqlite_step_int(c, st, seq);
}

enum store_result sqlite_next_expiry(struct store *s, bool *any, int64_t *at_ms)
{
    struct conn *c = sqlite_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? sqlite_stmt(c, ST_NEXT_EXPIRY) : NULL;
    if (!st)
        return STORE_ERROR;
    *any = false;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *any = true;
        *at_ms = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return sqlite_result(c, rc);
}

enum store_result sqlite_expire_due(struct store *s, int64_t now_ms, size_t *expired)
{
    struct sqlite_store *ss = as_sqlite(s);
    struct conn *c = sqlite_conn(ss);
    sqlite3_stmt *st = c ? sqlite_stmt(c, ST_EXPIRE_DUE) : NULL;
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
    return sqlite_result(c, rc);
}
