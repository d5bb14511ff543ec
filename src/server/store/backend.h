/* backend.h - what a storage backend provides: the contract store/sqlite/ (and store/postgresql/
 * next) implement. Private to store/: nothing above it includes this file.
 *
 * A backend supplies one struct store_backend (how to recognise its --db values, open, migrate) and,
 * for each open store, a const ops table. The backend-neutral code above it owns the rest:
 * store.c dispatches and reports changes, writer.c runs the group-commit writer thread and decides
 * each queued write (expire if due, check or decide, apply), expiry.c expires offers read past
 * their time. A backend therefore only reads, and applies what it is told inside transactions.
 *
 * Rules every backend keeps:
 * - Every op may be called from any thread at once (give each thread its own connection), except
 *   the tx_* ops, which run inside the one write transaction a thread opened with tx_begin.
 * - A commit that returns STORE_OK is durable: the writer answers clients right after it.
 * - Conflicting writes from several processes (or instances) never both win: tx_begin takes the
 *   database's write lock up front, and what a write decides on is read inside it.
 * - Versions and the change log follow every change, also an outside writer's (the SQLite backend
 *   does this with triggers); side effects of a change (a sale ending the product's other offers)
 *   happen in the same transaction and come back from tx_apply_change as store_side_change rows.
 * - The live statuses are the domain's (offer_status_is_live): a backend derives its queries'
 *   status lists from domain/offer.h, not from literals of its own.
 * - Ids are copied whole or the row is refused (STORE_BAD_ROW, logged): a cut id could name
 *   someone else's offer. Results map faults as store.h says (BUSY, UNAVAILABLE, ERROR).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_BACKEND_H
#define OFFERD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "domain/offer.h"

struct store_writer;

struct store_ops {
    const char *name;
    /* Frees the backend's state, s included. The writer has stopped by then. */
    void (*close)(struct store *s);

    /* Reads, each in one consistent snapshot. No expiry here: expiry.c does it above. */
    enum store_result (*read_offer)(struct store *s, const char *offer_id, struct offer *out);
    /* STORE_BAD_ROW when the user's row has an id offerd cannot serve (user_id is then "") */
    enum store_result (*find_user_by_clerk_id)(struct store *s, const char *clerk_id,
                                               char user_id[OFFER_ID_SIZE]);
    /* A page of user_id's offers (buyer or seller), newest first, as store_list_offers says.
     * Rows that cannot be served (STORE_BAD_ROW) are skipped and logged; the page is still filled
     * up to limit from the rows after them. *out is a new array (store_free_offers). */
    enum store_result (*list_offers)(struct store *s, const char *user_id,
                                     const struct offer_cursor *after, size_t limit,
                                     struct offer **out, size_t *count);
    enum store_result (*check_ready)(struct store *s, char *why, size_t why_size);
    enum store_result (*seed_demo)(struct store *s, int64_t now_ms);

    /* The change-log follower, as store.h describes store_poll_changes and its neighbours. */
    enum store_result (*poll_changes)(struct store *s, bool *changed);
    /* Optional (NULL: none): as store.h's store_change_wake_fd. */
    int (*change_wake_fd)(struct store *s);
    enum store_result (*last_change_seq)(struct store *s, int64_t *seq);
    enum store_result (*changes_since)(struct store *s, int64_t after_seq, int64_t *last_seq,
                                       store_change_fn fn, void *userdata);
    enum store_result (*offer_change_seq)(struct store *s, const char *offer_id, int64_t *seq);
    enum store_result (*list_changed_offers)(struct store *s, const char *user_id,
                                             int64_t after_seq, const struct offer_cursor *after,
                                             size_t limit, struct offer_ref *out, size_t *count);
    enum store_result (*next_expiry)(struct store *s, bool *any, int64_t *at_ms);
    /* One statement or transaction of its own; taking the write lock as tx_begin does. */
    enum store_result (*expire_due)(struct store *s, int64_t now_ms, size_t *expired);

    /* The write transaction. tx_begin takes the write lock and opens a transaction on the calling
     * thread's connection; on failure nothing is held. tx_commit commits durably, or rolls back
     * when the commit fails; tx_rollback rolls back; both release what tx_begin took. Between
     * them, one thread at a time (per process) calls the ops below. */
    enum store_result (*tx_begin)(struct store *s);
    enum store_result (*tx_commit)(struct store *s);
    void (*tx_rollback)(struct store *s);
    /* A nested scope for one queued write: tx_write_end keeps or undoes what it did, then ends it. */
    enum store_result (*tx_write_begin)(struct store *s);
    void (*tx_write_end)(struct store *s, bool keep);
    /* Stores EXPIRED (version bumped, logged) when the offer is live and due at now_ms; *expired
     * says whether it did. */
    enum store_result (*tx_expire_offer)(struct store *s, const char *offer_id, int64_t now_ms,
                                         bool *expired);
    enum store_result (*tx_load_offer)(struct store *s, const char *offer_id, struct offer *out);
    /* The product with its seller and title (no images); release with store_product_cleanup. */
    enum store_result (*tx_load_product)(struct store *s, const char *product_id,
                                         struct product *out);
    /* Inserts n as a PENDING offer, version 1, of seller_id's product. */
    enum store_result (*tx_insert_offer)(struct store *s, const struct new_offer *n,
                                         const char *seller_id);
    /* Applies ch to cur (read in this transaction) at now_ms and bumps its version once; every
     * other offer the change touched (a sale's) is appended to *side (realloc'd, caller frees). */
    enum store_result (*tx_apply_change)(struct store *s, const struct offer *cur,
                                         const struct offer_change *ch, int64_t now_ms,
                                         struct store_side_change **side, size_t *side_count);

    /* Optional (NULL: store_get_stats reports zeros, available false). Quick, from any thread,
     * from memory only: /metrics calls it. */
    void (*stats)(struct store *s, struct store_stats *out);
};

/* The head of every backend's store: the backend's own struct starts with it. */
struct store {
    const struct store_ops *ops;
    store_change_fn on_change;
    void *on_change_userdata;
    struct store_writer *writer;    /* started by store_open once the backend has opened */
};

/* One kind of database. store.c lists the backends built in and asks each whether a --db value is
 * its own. */
struct store_backend {
    const char *name;
    bool (*accepts)(const char *db);
    /* Opens (creating if the backend does) and migrates; NULL with err on failure. */
    struct store *(*open)(const char *db, const struct store_options *opts, char *err,
                          size_t err_size);
    /* `offerd migrate`: 0, or -1 with err. */
    int (*migrate)(const char *db, char *err, size_t err_size);
    int (*schema_version)(void);
};

/* Reports a committed change to the hook (after the commit, never inside it). */
void store_report_change(struct store *s, const struct offer *after);

/* The same for an offer changed as a side effect of a write (store_side_change). */
void store_report_side_change(struct store *s, const struct store_side_change *c);

/* Frees what a product read by tx_load_product owns and zeroes it. */
void store_product_cleanup(struct product *p);

#endif
