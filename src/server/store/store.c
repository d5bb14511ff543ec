/* store.c - the storage interface's front: picks the backend, dispatches, reports changes.
 *
 * The backends built in are listed here; each recognises its own --db values. PostgreSQL URIs are
 * recognised even without that backend (built with -DOFFERD_POSTGRESQL=OFF), so that a missing
 * backend is said plainly rather than taken for a file name.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/sqlite/store_sqlite.h"
#include "store/writer.h"
#ifdef OFFERD_HAVE_POSTGRESQL
#include "store/postgresql/store_postgresql.h"
#endif

/* PostgreSQL first: it takes only its URIs, and SQLite takes anything that is not a URI. */
static const struct store_backend *const backends[] = {
#ifdef OFFERD_HAVE_POSTGRESQL
    &store_backend_postgresql,
#endif
    &store_backend_sqlite,
};

static bool is_postgresql_uri(const char *db)
{
    return strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0;
}

/* The backend for db, or NULL with err saying why none is. */
static const struct store_backend *backend_for(const char *db, char *err, size_t err_size)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (backends[i]->accepts(db))
            return backends[i];
    if (is_postgresql_uri(db))
        snprintf(err, err_size, "--db %.*s...: this offerd was built without PostgreSQL",
                 (int)strcspn(db, ":") + 3, db); /* the scheme only: the rest may hold a password */
    else
        snprintf(err, err_size, "--db: no storage backend for this value");
    return NULL;
}

struct store *store_open(const char *db, const struct store_options *opts, char *err,
                         size_t err_size)
{
    const struct store_backend *b = backend_for(db, err, err_size);
    struct store *s = b ? b->open(db, opts, err, err_size) : NULL;
    if (!s)
        return NULL;
    s->writer = store_writer_start(s, err, err_size);
    if (!s->writer) {
        s->ops->close(s);
        return NULL;
    }
    return s;
}

int store_migrate(const char *db, char *err, size_t err_size)
{
    const struct store_backend *b = backend_for(db, err, err_size);
    return b ? b->migrate(db, err, err_size) : -1;
}

int store_schema_version(const char *db)
{
    char err[128];
    const struct store_backend *b = backend_for(db, err, sizeof(err));
    return b ? b->schema_version() : -1;
}

void store_db_for_log(const char *db, char *out, size_t out_size)
{
    if (!out_size)
        return;
    size_t n = 0;
    const char *authority = strstr(db, "://");
    const char *at = authority ? strchr(authority + 3, '@') : NULL;
    const char *colon = at ? memchr(authority + 3, ':', (size_t)(at - authority - 3)) : NULL;
    for (const char *p = db; *p && n + 1 < out_size;) {
        if (colon && p == colon + 1) { /* user:PASSWORD@host */
            n += (size_t)snprintf(out + n, out_size - n, "***");
            p = at;
            continue;
        }
        if (strncmp(p, "password=", 9) == 0 && (p == db || p[-1] == '?' || p[-1] == '&' ||
                                                p[-1] == ' ')) { /* ?password=... or key=value */
            n += (size_t)snprintf(out + n, out_size - n, "password=***");
            p += 9 + strcspn(p + 9, "& ");
            continue;
        }
        out[n++] = *p++;
    }
    if (n >= out_size)
        n = out_size - 1;
    out[n] = '\0';
}

enum store_result store_seed_demo(struct store *s, int64_t now_ms)
{
    return s->ops->seed_demo(s, now_ms);
}

void store_set_change_hook(struct store *s, store_change_fn fn, void *userdata)
{
    s->on_change = fn;
    s->on_change_userdata = userdata;
}

void store_report_change(struct store *s, const struct offer *after)
{
    if (s->on_change)
        s->on_change(after->id, after->version, after->buyer_id, after->seller_id,
                     s->on_change_userdata);
}

void store_report_side_change(struct store *s, const struct store_side_change *c)
{
    if (s->on_change)
        s->on_change(c->offer_id, c->version, c->buyer_id, c->seller_id, s->on_change_userdata);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_writer_stop(s->writer); /* writes what is queued first */
    s->ops->close(s);
}

enum store_result store_find_user_by_clerk_id(struct store *s, const char *clerk_id,
                                              char user_id[OFFER_ID_SIZE])
{
    return s->ops->find_user_by_clerk_id(s, clerk_id, user_id);
}

void store_product_cleanup(struct product *p)
{
    free(p->title);
    for (size_t i = 0; i < p->image_count; i++)
        free(p->images[i].url);
    free(p->images);
    memset(p, 0, sizeof(*p));
}

void store_free_offers(struct offer *offers, size_t count)
{
    for (size_t i = 0; i < count; i++)
        offer_cleanup(&offers[i]);
    free(offers);
}

enum store_result store_check_ready(struct store *s, char *why, size_t why_size)
{
    return s->ops->check_ready(s, why, why_size);
}

enum store_result store_poll_changes(struct store *s, bool *changed)
{
    return s->ops->poll_changes(s, changed);
}

int store_change_wake_fd(struct store *s)
{
    return s->ops->change_wake_fd ? s->ops->change_wake_fd(s) : -1;
}

enum store_result store_last_change_seq(struct store *s, int64_t *seq)
{
    return s->ops->last_change_seq(s, seq);
}

enum store_result store_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                      store_change_fn fn, void *userdata)
{
    return s->ops->changes_since(s, after_seq, last_seq, fn, userdata);
}

void store_submit(struct store *s, struct store_write *w)
{
    store_writer_submit(s->writer, w);
}

enum store_result store_next_expiry(struct store *s, bool *any, int64_t *at_ms)
{
    return s->ops->next_expiry(s, any, at_ms);
}

enum store_result store_expire_due(struct store *s, int64_t now_ms, size_t *expired)
{
    return s->ops->expire_due(s, now_ms, expired);
}

enum store_result store_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq)
{
    return s->ops->offer_change_seq(s, offer_id, seq);
}

enum store_result store_list_changed_offers(struct store *s, const char *user_id,
                                            int64_t after_seq, const struct offer_cursor *after,
                                            size_t limit, struct offer_ref *out, size_t *count)
{
    return s->ops->list_changed_offers(s, user_id, after_seq, after, limit, out, count);
}

const char *store_result_name(enum store_result r)
{
    switch (r) {
    case STORE_OK: return "ok";
    case STORE_NOT_FOUND: return "not found";
    case STORE_CONFLICT: return "conflict";
    case STORE_BUSY: return "busy";
    case STORE_ERROR: return "error";
    case STORE_UNAVAILABLE: return "unavailable";
    case STORE_BAD_ROW: return "bad row";
    }
    return "unknown";
}

void store_get_stats(struct store *s, struct store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (s->ops->stats)
        s->ops->stats(s, out);
}
