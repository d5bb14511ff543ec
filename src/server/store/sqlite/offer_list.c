/* offer_list.c - a user's offers a page at a time, newest first, as lists and streams read them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

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

enum store_result sqlite_list_offers(struct store *s, const char *user_id,
                                     const struct offer_cursor *after, size_t limit,
                                     struct offer **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    struct conn *c = sqlite_conn(as_sqlite(s));
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
        r = sqlite_run(c, ST_BEGIN);
    if (r != STORE_OK)
        goto out;
    /* A row that cannot be served is skipped (and logged), not fatal to the page, so a batch may
     * come back short: ask again from the last row seen until the page is full or rows run out. */
    bool more_rows = true;
    while (r == STORE_OK && more_rows && n < limit) {
        sqlite3_stmt *st = sqlite_stmt(c, ST_LIST_OFFERS);
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
            if (!sqlite_read_id(id, st, 0)) {
                sqlite_log_bad_id("offers.id of a row in this user's list", st, 0, "skipped");
                continue;
            }
            enum store_result lr = sqlite_load_offer(c, id, &list[n]);
            if (lr == STORE_OK)
                n++;
            else if (lr == STORE_NOT_FOUND) /* its product row is missing (no foreign keys) */
                log_error("sqlite: offer %s has no products row, so it cannot be served; "
                          "skipped", id);
            else if (lr != STORE_BAD_ROW) /* a bad row was logged, and is skipped */
                r = lr;
        }
        if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
            r = sqlite_result(c, rc);
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
    sqlite_run(c, ST_COMMIT); /* expiring what is due is store/expiry.c's */
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

enum store_result sqlite_list_changed_offers(struct store *s, const char *user_id,
                                             int64_t after_seq, const struct offer_cursor *after,
                                             size_t limit, struct offer_ref *out, size_t *count)
{
    *count = 0;
    struct conn *c = sqlite_conn(as_sqlite(s));
    sqlite3_stmt *st = c ? sqlite_stmt(c, ST_LIST_CHANGED) : NULL;
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
    return *count == limit ? STORE_OK : sqlite_result(c, rc);
}
