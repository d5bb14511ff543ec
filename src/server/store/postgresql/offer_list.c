/* offer_list.c - a user's offers a page at a time, newest first, as lists and streams read them.
 *
 * Keyset pagination on (created_at, id), newest first, ids compared in byte order (COLLATE "C"),
 * so pages and cursors are SQLite's. A page of whole offers is one statement: the page's ids from
 * two index scans (as buyer, as seller), joined to PG_OFFER_SELECT's row.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* User $1's offers as buyer or seller (each once), after the keyset position ($2 created_at, $3
 * id; $2 NULL: from the newest). */
#define AFTER_POSITION "($2::bigint IS NULL OR (created_at, id) < ($2::bigint, $3::text))"
#define USER_OFFERS_AFTER(limit)                                                                   \
    " (SELECT id, created_at FROM offers WHERE buyer_id = $1 AND " AFTER_POSITION                  \
    "   ORDER BY created_at DESC, id DESC " limit ")"                                              \
    " UNION ALL"                                                                                   \
    " (SELECT id, created_at FROM offers WHERE seller_id = $1 AND buyer_id <> $1"                  \
    "   AND " AFTER_POSITION " ORDER BY created_at DESC, id DESC " limit ")"

const struct pg_statement pg_list_statements[] = {
    /* $4: the page size. Each scan stops at $4 rows, the merge keeps the newest $4. */
    {"list_offers",
     "WITH page AS (" USER_OFFERS_AFTER("LIMIT $4") " ORDER BY created_at DESC, id DESC LIMIT $4)"
     " " PG_OFFER_SELECT " JOIN page ON page.id = o.id"
     " ORDER BY page.created_at DESC, page.id DESC"},
    /* As list_offers (ids only), less the offers whose latest change-log row is of a transaction
     * at or before position $5 (an xid8; none keeps the offer; $5 < 0 keeps them all). */
    {"list_changed_offers",
     "SELECT u.id, u.created_at FROM (" USER_OFFERS_AFTER("") ") AS u"
     " WHERE $5::bigint < 0"
     "  OR coalesce((SELECT max(c.xid) FROM offer_changes c WHERE c.offer_id = u.id),"
     "              '9223372036854775807'::xid8) > greatest($5::bigint, 0)::text::xid8"
     " ORDER BY u.created_at DESC, u.id DESC LIMIT $4"},
    {NULL, NULL},
};

/* The text parameters of a page after a position: user, created_at (NULL: from the newest), id,
 * limit; the numbers formatted into the caller's buffers. */
struct page_params {
    const char *values[5];
    char at_ms[24], limit[24], seq[24];
};

static void page_params_set(struct page_params *p, const char *user_id, bool positioned,
                            int64_t at_ms, const char *at_id, size_t limit)
{
    snprintf(p->at_ms, sizeof(p->at_ms), "%" PRId64, at_ms);
    snprintf(p->limit, sizeof(p->limit), "%zu", limit);
    p->values[0] = user_id;
    p->values[1] = positioned ? p->at_ms : NULL;
    p->values[2] = positioned ? at_id : "";
    p->values[3] = p->limit;
}

enum store_result pg_list_offers(struct store *s, const char *user_id,
                                 const struct offer_cursor *after, size_t limit,
                                 struct offer **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    struct offer *list = calloc(limit ? limit : 1, sizeof(*list));
    if (!list) {
        log_error("out of memory listing offers");
        return STORE_ERROR;
    }
    size_t n = 0;
    /* The scan's position: the last row seen, served or skipped, so the next batch starts right
     * after it. A row that cannot be served is skipped (and logged), not fatal to the page, so a
     * batch may come back short: ask again from the last row seen until the page is full or rows
     * run out. */
    bool positioned = after && after->valid;
    int64_t at_ms = positioned ? after->created_at_ms : 0;
    char *at_id = strdup(positioned ? after->id : "");
    enum store_result r = at_id ? STORE_OK : STORE_ERROR;
    bool more_rows = true;
    while (r == STORE_OK && more_rows && n < limit) {
        struct page_params p;
        size_t want = limit - n;
        page_params_set(&p, user_id, positioned, at_ms, at_id, want);
        PGresult *res = pg_run_read(c, "list_offers", 4, p.values, &r);
        if (!res)
            break;
        int rows = PQntuples(res);
        for (int i = 0; i < rows && r == STORE_OK; i++) {
            enum store_result dr = pg_decode_offer(res, i, &list[n]);
            if (dr == STORE_OK)
                n++;
            else if (dr != STORE_BAD_ROW) /* a bad row was logged, and is skipped */
                r = dr;
        }
        more_rows = (size_t)rows == want;
        if (r == STORE_OK && rows > 0) {
            /* The position is the last row's: its created_at and its id as stored, whole. */
            char *last_id = strdup(PQgetvalue(res, rows - 1, 0));
            if (!last_id) {
                r = STORE_ERROR;
            } else {
                free(at_id);
                at_id = last_id;
                at_ms = pg_int64(res, rows - 1, 8);
                positioned = true;
            }
        }
        PQclear(res);
    }
    free(at_id);
    if (r != STORE_OK) {
        store_free_offers(list, n);
        return r;
    }
    *out = list;
    *count = n;
    return STORE_OK;
}

enum store_result pg_list_changed_offers(struct store *s, const char *user_id, int64_t after_seq,
                                         const struct offer_cursor *after, size_t limit,
                                         struct offer_ref *out, size_t *count)
{
    *count = 0;
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    struct page_params p;
    bool positioned = after && after->valid;
    page_params_set(&p, user_id, positioned, positioned ? after->created_at_ms : 0,
                    positioned ? after->id : "", limit);
    snprintf(p.seq, sizeof(p.seq), "%" PRId64, after_seq);
    p.values[4] = p.seq;
    enum store_result r;
    PGresult *res = pg_run_read(c, "list_changed_offers", 5, p.values, &r);
    if (!res)
        return r;
    int rows = PQntuples(res);
    for (int i = 0; i < rows && *count < limit; i++) {
        if (!pg_text_id(res, i, 0, out[*count].id))
            continue; /* never served: the CHECK keeps these out, unless it was dropped */
        out[*count].created_at_ms = pg_int64(res, i, 1);
        (*count)++;
    }
    PQclear(res);
    return STORE_OK;
}
