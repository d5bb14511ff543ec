/* offer.h - plain data for offers and what they show: product, people, counter offers.
 *
 * Shared by every server module. No behaviour beyond naming statuses, validating ids and freeing
 * what a struct owns. Money is integer minor units (pence), times are ms since the Unix epoch (UTC).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_OFFER_H
#define OFFERD_OFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/limits.h" /* the protocol limits that come with offer ids (notify.h, query.h) */

#define OFFER_ID_MAX 64                 /* ids match [A-Za-z0-9_-]{1,64} */
#define OFFER_ID_SIZE (OFFER_ID_MAX + 1)
#define OFFER_LIFETIME_MS (7LL * 24 * 60 * 60 * 1000) /* offers and counters expire 7 days on */

enum offer_status {
    OFFER_STATUS_PENDING,
    OFFER_STATUS_COUNTERED,
    OFFER_STATUS_ACCEPTED,
    OFFER_STATUS_REJECTED,
    OFFER_STATUS_EXPIRED,
};

/* A user as offers show them. Heap strings may be NULL (rendered as JSON null). */
struct person {
    char id[OFFER_ID_SIZE];
    char *first_name;
    char *last_name;
};

struct product_image {
    char *url;
};

struct product {
    char id[OFFER_ID_SIZE];
    char seller_id[OFFER_ID_SIZE];      /* products.user_id */
    char *title;
    int64_t price_minor;
    bool is_sold;
    struct product_image *images;       /* sort_order, then id */
    size_t image_count;
};

struct counter_offer {
    char id[OFFER_ID_SIZE];
    int64_t amount_minor;
    char *message;                      /* NULL when none */
    bool from_seller;
    int64_t created_at_ms;
};

struct offer {
    char id[OFFER_ID_SIZE];
    int64_t version;
    enum offer_status status;
    int64_t amount_minor;               /* the buyer's original offer */
    char *message;                      /* NULL when none */
    char product_id[OFFER_ID_SIZE];
    char buyer_id[OFFER_ID_SIZE];
    char seller_id[OFFER_ID_SIZE];
    int64_t created_at_ms;
    int64_t updated_at_ms;
    bool has_expiry;
    int64_t expires_at_ms;              /* meaningful only when has_expiry */
    struct product product;
    struct person buyer;
    struct person seller;
    struct counter_offer *counters;     /* oldest first */
    size_t counter_count;
};

/* "PENDING", "COUNTERED", ...; static text, never NULL. */
const char *offer_status_name(enum offer_status status);

/* Parses an exact status name. Returns false (and leaves *out alone) for anything else. */
bool offer_status_parse(const char *name, enum offer_status *out);

/* True for PENDING and COUNTERED: the negotiation can still move. */
bool offer_status_is_live(enum offer_status status);

/* True when s matches [A-Za-z0-9_-]{1,64}. NULL is not valid. */
bool offer_id_is_valid(const char *s);

/* Frees every heap member of *offer and zeroes it; safe on a zeroed struct. */
void offer_cleanup(struct offer *offer);

#endif
