/* offer_rules.h - negotiation rules for offers (pure, no I/O).
 *
 * Who may see or change an offer, whose turn it is, when an offer is effectively expired, and
 * which amounts a new offer or a counter offer may carry. Pure functions over the plain data in
 * offer.h: no HTTP, no SQL, no clock (the caller passes now_ms), no allocation. Handlers map each
 * rule_result to an HTTP status; the intended mapping is noted on every value.
 *
 * Checks run in a fixed order, so that the answer never leaks more than the caller may know:
 * party (a stranger learns nothing else), then closed or expired, then turn, then product sold,
 * then amount.
 *
 * Messages: every verdict carries a human readable message, never NULL, "" for RULE_OK. Most are
 * static text. Amount errors name the allowed range and are formatted into a _Thread_local buffer:
 * borrowed, valid on the calling thread until its next offer_rules_check_* call. Copy it (or put it
 * into the reply) before checking again.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_OFFER_RULES_H
#define OFFERD_OFFER_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "domain/offer.h"

/* One side of an offer, as a user relates to it. */
enum offer_party {
    OFFER_PARTY_NONE, /* neither the buyer nor the seller */
    OFFER_PARTY_BUYER,
    OFFER_PARTY_SELLER,
};

/* What a party does with the latest proposal. */
enum offer_action {
    OFFER_ACTION_ACCEPT,
    OFFER_ACTION_REJECT,
    OFFER_ACTION_COUNTER,
};

enum rule_result {
    RULE_OK,
    RULE_NOT_A_PARTY,         /* user is neither buyer nor seller -> 403 */
    RULE_OWN_PROPOSAL,        /* answering or countering one's own latest proposal -> 409 */
    RULE_OFFER_CLOSED,        /* ACCEPTED, REJECTED or EXPIRED (incl. by now_ms) -> 409 */
    RULE_PRODUCT_SOLD,        /* -> 400 on create, 409 on accept/counter */
    RULE_OWN_PRODUCT,         /* buyer is the product's seller -> 400 */
    RULE_AMOUNT_OUT_OF_RANGE, /* -> 400 */
};

struct rule_verdict {
    enum rule_result result;
    const char *message; /* borrowed, never NULL, "" for RULE_OK; see the lifetime note above */
};

/* Which side user_id (a users.id) is on: compares it with o->buyer_id, then o->seller_id.
 * NULL or "" is OFFER_PARTY_NONE. */
enum offer_party offer_rules_party(const struct offer *o, const char *user_id);

/* Who must answer the latest proposal: OFFER_PARTY_SELLER when there are no counters or the last
 * counter is the buyer's, OFFER_PARTY_BUYER when the last counter is the seller's. Looks only at
 * the counters, not at the status. Never OFFER_PARTY_NONE. */
enum offer_party offer_rules_turn(const struct offer *o);

/* The buyer's latest proposal: the amount of the buyer's last counter, else o->amount_minor. */
int64_t offer_rules_buyer_position(const struct offer *o);

/* The seller's latest position: the amount of the seller's last counter, else the listed price
 * o->product.price_minor. */
int64_t offer_rules_seller_position(const struct offer *o);

/* The status as of now_ms: a PENDING or COUNTERED offer with has_expiry and
 * now_ms >= expires_at_ms is OFFER_STATUS_EXPIRED; anything else is o->status unchanged. */
enum offer_status offer_rules_effective_status(const struct offer *o, int64_t now_ms);

/* The expiry of an offer created or countered at now_ms: now_ms + OFFER_LIFETIME_MS, saturating
 * at INT64_MAX. */
int64_t offer_rules_expiry_from(int64_t now_ms);

/* The smallest amount a new offer on price_minor may carry: 50% of it rounded up, in integers
 * (19999 -> 10000). An offer must also be below the price, so none is possible when the result
 * is >= price_minor (prices of 1 or less). */
int64_t offer_rules_min_amount(int64_t price_minor);

/* The open interval a counter on o may lie in, both ends excluded: the buyer's and the seller's
 * positions, narrowed (defensively, for a listed price changed mid-negotiation) to amounts that
 * are > 0, >= offer_rules_min_amount(price) and < price. Stores the ends in *above_minor and
 * *below_minor; returns false when no integer amount lies strictly between them. */
bool offer_rules_counter_range(const struct offer *o, int64_t *above_minor, int64_t *below_minor);

/* May buyer_user_id offer amount_minor on p? RULE_PRODUCT_SOLD, then RULE_OWN_PRODUCT
 * (p->seller_id is the buyer), then RULE_AMOUNT_OUT_OF_RANGE unless
 * offer_rules_min_amount(price) <= amount_minor < price and amount_minor > 0. */
struct rule_verdict offer_rules_check_create(const struct product *p, const char *buyer_user_id,
                                             int64_t amount_minor);

/* May user_id accept or reject o at now_ms? action must be OFFER_ACTION_ACCEPT or
 * OFFER_ACTION_REJECT (asserted). In order: RULE_NOT_A_PARTY; RULE_OFFER_CLOSED unless the
 * effective status is PENDING or COUNTERED ("offer is already ACCEPTED", "offer has expired");
 * RULE_OWN_PROPOSAL unless user_id is the party whose turn it is; RULE_PRODUCT_SOLD for an accept
 * on a sold product (a reject is allowed even then). */
struct rule_verdict offer_rules_check_decision(const struct offer *o, const char *user_id,
                                               enum offer_action action, int64_t now_ms);

/* May user_id counter o with amount_minor at now_ms? In order: RULE_NOT_A_PARTY; RULE_OFFER_CLOSED
 * as for a decision; RULE_OWN_PROPOSAL unless it is user_id's turn; RULE_PRODUCT_SOLD;
 * RULE_AMOUNT_OUT_OF_RANGE unless amount_minor lies in offer_rules_counter_range (also when that
 * range is empty). The range message is in major units: "counter must be more than 150.00 and
 * less than 200.00". */
struct rule_verdict offer_rules_check_counter(const struct offer *o, const char *user_id,
                                              int64_t amount_minor, int64_t now_ms);

/* What an allowed action does to the offer (the caller has checked it with
 * offer_rules_check_decision or offer_rules_check_counter). */
struct offer_effect {
    enum offer_status status;       /* the new status */
    bool mark_product_sold;         /* ACCEPT: the product is sold, its other offers end */
    bool set_expiry;                /* COUNTER: the negotiation lives on from now_ms... */
    int64_t expires_at_ms;          /* ...until offer_rules_expiry_from(now_ms) */
    bool add_counter;               /* COUNTER: a counter offer is added, by party */
    bool counter_from_seller;
};

/* The change action by party (BUYER or SELLER) at now_ms makes: ACCEPT -> ACCEPTED and the
 * product sold; REJECT -> REJECTED; COUNTER -> COUNTERED, a fresh expiry and a counter from
 * party. */
struct offer_effect offer_rules_effect(enum offer_action action, enum offer_party party,
                                       int64_t now_ms);

/* "none", "buyer", "seller"; static text, never NULL ("unknown" out of range). */
const char *offer_party_name(enum offer_party p);

/* "RULE_OK", "RULE_NOT_A_PARTY", ...; static text, never NULL, for logs and tests. */
const char *offer_rules_result_name(enum rule_result r);

#endif
