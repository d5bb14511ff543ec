/* store_postgresql.c - the PostgreSQL backend of store/backend.h: opening, migrating, closing, its
 * ops.
 *
 * The database is a libpq URI, "postgresql://..." or "postgres://..." (from --db or OFFERD_DB).
 * Opening migrates first (migrate.c, on a connection of its own), then sets up the per-thread
 * connections (conn.c, made on first use) and the change feed's listener (change_feed.c). The
 * rest lives beside this file by concern: offer_read.c, offer_list.c, offer_write.c,
 * change_feed.c, demo_seed.c, rows.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/store_postgresql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgresql/pg_internal.h"
#include "util/log.h"

static bool accepts(const char *db)
{
    return strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0;
}

static enum store_result pg_check_ready(struct store *s, char *why, size_t why_size)
{
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c) {
        snprintf(why, why_size, "database unreachable");
        return STORE_UNAVAILABLE;
    }
    enum store_result r;
    PGresult *res = pg_run_read(c, "read_schema_version", 0, NULL, &r);
    if (!res) {
        snprintf(why, why_size, "database unreachable");
        return r;
    }
    int current = (int)pg_int64(res, 0, 0);
    PQclear(res);
    if (current != pg_latest_version()) {
        snprintf(why, why_size, "schema version %d, expected %d", current, pg_latest_version());
        return STORE_ERROR;
    }
    return STORE_OK;
}

static void free_store(struct pg_store *ps)
{
    pthread_key_delete(ps->key);
    pthread_mutex_destroy(&ps->lock);
    free(ps->conninfo);
    free(ps);
}

static void pg_close(struct store *s)
{
    struct pg_store *ps = as_pg(s);
    pg_feed_close(ps);
    pg_conns_close(ps);
    free_store(ps);
}

static const struct store_ops pg_ops = {
    .name = "postgresql", .close = pg_close,
    /* offer_read.c, offer_list.c; check_ready here, seed_demo in demo_seed.c */
    .read_offer = pg_read_offer, .find_user_by_clerk_id = pg_find_user,
    .list_offers = pg_list_offers, .check_ready = pg_check_ready,
    .seed_demo = pg_seed_demo,
    /* change_feed.c; list_changed_offers in offer_list.c */
    .poll_changes = pg_poll_changes, .change_wake_fd = pg_change_wake_fd,
    .last_change_seq = pg_last_change_seq,
    .changes_since = pg_changes_since, .offer_change_seq = pg_offer_change_seq,
    .list_changed_offers = pg_list_changed_offers, .next_expiry = pg_next_expiry,
    .expire_due = pg_expire_due,
    /* offer_write.c */
    .tx_begin = pg_tx_begin, .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback, .tx_write_begin = pg_tx_write_begin,
    .tx_write_end = pg_tx_write_end, .tx_expire_offer = pg_tx_expire_offer,
    .tx_load_offer = pg_tx_load_offer, .tx_load_product = pg_tx_load_product,
    .tx_insert_offer = pg_tx_insert_offer, .tx_apply_change = pg_tx_apply_change,
    .stats = pg_store_stats,
};

static struct store *open_db(const char *db, const struct store_options *opts, char *err,
                             size_t err_size)
{
    if (pg_migrate(db, err, err_size) != 0)
        return NULL;
    struct pg_store *ps = calloc(1, sizeof(*ps));
    if (!ps || !(ps->conninfo = strdup(db))) {
        free(ps);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (pthread_key_create(&ps->key, NULL) != 0) {
        free(ps->conninfo);
        free(ps);
        snprintf(err, err_size, "cannot create a thread key");
        return NULL;
    }
    pthread_mutex_init(&ps->lock, NULL);
    ps->lock_timeout_ms = opts->busy_timeout_ms;
    ps->no_notify = opts->no_notify;
    ps->base.ops = &pg_ops;
    if (pg_feed_open(ps, err, err_size) != 0) {
        pg_conns_close(ps);
        free_store(ps);
        return NULL;
    }
    return &ps->base;
}

const struct store_backend store_backend_postgresql = {
    .name = "postgresql",
    .accepts = accepts,
    .open = open_db,               /* migrates first, as pg_migrate does */
    .migrate = pg_migrate,
    .schema_version = pg_latest_version, /* the embedded migrations/postgresql/ */
};
