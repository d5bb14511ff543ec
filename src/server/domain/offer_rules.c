/* offer_rules.c - negotiation rules for offers (pure, no I/O).
 *
 * The marketplace's rules live here and nowhere else, so that the HTTP handlers, the store and the
 * tests all agree on them. Every function reads only its arguments (time comes in as now_ms), so
 * the whole rule set is unit-testable as a table. Money stays in integer pence throughout: the 50%
 * floor is computed as price - price / 2 (the rounded-up half), never with floats.
 *
 * SPDX-License-Identifier: MIT
 */
#include "domain/offer_rules.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MINOR_TEXT_SIZE 32 /* "-92233720368547758.08" and a NUL fit */

/* Amount messages name their range, so they are formatted: one buffer per thread, overwritten by
 * the next check on that thread (see offer_rules.h). */
static _Thread_local char message_buf[192];

static struct rule_verdict verdict(enum rule_result result, const char *message)
{
    struct rule_verdict v = {result, message};
    return v;
}

static struct rule_verdict ok(void)
{
    return verdict(RULE_OK, "");
}

/* Pence as major units with two decimals: 15005 -> "150.05", -5 -> "-0.05". */
static void format_minor(char *buf, size_t size, int64_t minor)
{
    uint64_t magnitude = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
    snprintf(buf, size, "%s%" PRIu64 ".%02u", minor < 0 ? "-" : "", magnitude / 100,
             (unsigned)(magnitude % 100));
}

/* Same non-empty user id on both sides; NULL and "" are nobody. */
static bool same_user(const char *a, const char *b)
{
    return a && b && a[0] != '\0' && strcmp(a, b) == 0;
}

static const char *closed_message(enum offer_status status)
{
    switch (status) {
    case OFFER_STATUS_ACCEPTED:
        return "offer is already ACCEPTED";
    case OFFER_STATUS_REJECTED:
        return "offer is already REJECTED";
    case OFFER_STATUS_EXPIRED:
        return "offer has expired";
    default:
        return "offer is closed";
    }
}

/* For a party acting out of turn: the latest proposal is its own and `turn` must answer it. */
static const char *own_proposal_message(enum offer_action action, enum offer_party turn)
{
    bool seller = turn == OFFER_PARTY_SELLER;
    switch (action) {
    case OFFER_ACTION_ACCEPT:
        return seller ? "you cannot accept your own proposal; waiting for the seller"
                      : "you cannot accept your own proposal; waiting for the buyer";
    case OFFER_ACTION_REJECT:
        return seller ? "you cannot reject your own proposal; waiting for the seller"
                      : "you cannot reject your own proposal; waiting for the buyer";
    default:
        return seller ? "you cannot counter your own proposal; it is the seller's turn to answer"
                      : "you cannot counter your own proposal; it is the buyer's turn to answer";
    }
}

/* The checks shared by decisions and counters, in the order the rules fix: party, closed, turn.
 * Returns RULE_OK when the action may go on to the product and amount checks. */
static struct rule_verdict check_live_turn(const struct offer *o, const char *user_id,
                                           enum offer_action action, int64_t now_ms)
{
    enum offer_party party = offer_rules_party(o, user_id);
    if (party == OFFER_PARTY_NONE)
        return verdict(RULE_NOT_A_PARTY,
                       "only the buyer or the seller can see or change this offer");

    enum offer_status status = offer_rules_effective_status(o, now_ms);
    if (!offer_status_is_live(status))
        return verdict(RULE_OFFER_CLOSED, closed_message(status));

    enum offer_party turn = offer_rules_turn(o);
    if (party != turn)
        return verdict(RULE_OWN_PROPOSAL, own_proposal_message(action, turn));
    return ok();
}

/* The latest counter from one side, or NULL when that side has not countered. */
static const struct counter_offer *last_counter_from(const struct offer *o, bool from_seller)
{
    for (size_t i = o->counter_count; i > 0; i--) {
        if (o->counters[i - 1].from_seller == from_seller)
            return &o->counters[i - 1];
    }
    return NULL;
}

enum offer_party offer_rules_party(const struct offer *o, const char *user_id)
{
    assert(o);
    if (same_user(user_id, o->buyer_id))
        return OFFER_PARTY_BUYER;
    if (same_user(user_id, o->seller_id))
        return OFFER_PARTY_SELLER;
    return OFFER_PARTY_NONE;
}

enum offer_party offer_rules_turn(const struct offer *o)
{
    assert(o);
    if (o->counter_count > 0 && o->counters[o->counter_count - 1].from_seller)
        return OFFER_PARTY_BUYER;
    return OFFER_PARTY_SELLER;
}

int64_t offer_rules_buyer_position(const struct offer *o)
{
    assert(o);
    const struct counter_offer *c = last_counter_from(o, false);
    return c ? c->amount_minor : o->amount_minor;
}

int64_t offer_rules_seller_position(const struct offer *o)
{
    assert(o);
    const struct counter_offer *c = last_counter_from(o, true);
    return c ? c->amount_minor : o->product.price_minor;
}

enum offer_status offer_rules_effective_status(const struct offer *o, int64_t now_ms)
{
    assert(o);
    if (offer_status_is_live(o->status) && o->has_expiry && now_ms >= o->expires_at_ms)
        return OFFER_STATUS_EXPIRED;
    return o->status;
}

int64_t offer_rules_expiry_from(int64_t now_ms)
{
    if (now_ms > INT64_MAX - OFFER_LIFETIME_MS)
        return INT64_MAX;
    return now_ms + OFFER_LIFETIME_MS;
}

int64_t offer_rules_min_amount(int64_t price_minor)
{
    return price_minor - price_minor / 2; /* ceil(price / 2) for price > 0; no overflow */
}

bool offer_rules_counter_range(const struct offer *o, int64_t *above_minor, int64_t *below_minor)
{
    assert(o && above_minor && below_minor);
    int64_t price = o->product.price_minor;
    int64_t above = offer_rules_buyer_position(o);
    int64_t below = offer_rules_seller_position(o);

    int64_t min_amount = offer_rules_min_amount(price); /* never INT64_MIN, so - 1 is safe */
    if (above < min_amount - 1)
        above = min_amount - 1;
    if (above < 0)
        above = 0;
    if (below > price)
        below = price;

    *above_minor = above;
    *below_minor = below;
    return above < below && below - above >= 2; /* above >= 0: the difference cannot overflow */
}

struct rule_verdict offer_rules_check_create(const struct product *p, const char *buyer_user_id,
                                             int64_t amount_minor)
{
    assert(p);
    if (p->is_sold)
        return verdict(RULE_PRODUCT_SOLD, "product is already sold");
    if (same_user(buyer_user_id, p->seller_id))
        return verdict(RULE_OWN_PRODUCT, "you cannot make an offer on your own product");

    int64_t price = p->price_minor;
    int64_t min_amount = offer_rules_min_amount(price);
    char price_text[MINOR_TEXT_SIZE];
    format_minor(price_text, sizeof(price_text), price);
    if (min_amount >= price) {
        snprintf(message_buf, sizeof(message_buf), "no offer is possible on a listed price of %s",
                 price_text);
        return verdict(RULE_AMOUNT_OUT_OF_RANGE, message_buf);
    }
    if (amount_minor <= 0 || amount_minor < min_amount || amount_minor >= price) {
        char min_text[MINOR_TEXT_SIZE];
        format_minor(min_text, sizeof(min_text), min_amount);
        snprintf(message_buf, sizeof(message_buf),
                 "offer must be at least %s (50%% of the price) and less than %s", min_text,
                 price_text);
        return verdict(RULE_AMOUNT_OUT_OF_RANGE, message_buf);
    }
    return ok();
}

struct rule_verdict offer_rules_check_decision(const struct offer *o, const char *user_id,
                                               enum offer_action action, int64_t now_ms)
{
    assert(o);
    assert(action == OFFER_ACTION_ACCEPT || action == OFFER_ACTION_REJECT);
    struct rule_verdict v = check_live_turn(o, user_id, action, now_ms);
    if (v.result != RULE_OK)
        return v;
    /* Anything but a reject (asserted above) is held to the stricter accept rule. */
    if (action != OFFER_ACTION_REJECT && o->product.is_sold)
        return verdict(RULE_PRODUCT_SOLD, "product is already sold");
    return ok();
}

struct rule_verdict offer_rules_check_counter(const struct offer *o, const char *user_id,
                                              int64_t amount_minor, int64_t now_ms)
{
    assert(o);
    struct rule_verdict v = check_live_turn(o, user_id, OFFER_ACTION_COUNTER, now_ms);
    if (v.result != RULE_OK)
        return v;
    if (o->product.is_sold)
        return verdict(RULE_PRODUCT_SOLD, "product is already sold");

    int64_t above, below;
    bool has_room = offer_rules_counter_range(o, &above, &below);
    if (has_room && amount_minor > above && amount_minor < below)
        return ok();

    char above_text[MINOR_TEXT_SIZE], below_text[MINOR_TEXT_SIZE];
    format_minor(above_text, sizeof(above_text), above);
    format_minor(below_text, sizeof(below_text), below);
    if (has_room)
        snprintf(message_buf, sizeof(message_buf), "counter must be more than %s and less than %s",
                 above_text, below_text);
    else
        snprintf(message_buf, sizeof(message_buf),
                 "no counter is possible: no amount is more than %s and less than %s; accept or "
                 "reject instead",
                 above_text, below_text);
    return verdict(RULE_AMOUNT_OUT_OF_RANGE, message_buf);
}

struct offer_effect offer_rules_effect(enum offer_action action, enum offer_party party,
                                       int64_t now_ms)
{
    struct offer_effect e = {0};
    switch (action) {
    case OFFER_ACTION_ACCEPT:
        e.status = OFFER_STATUS_ACCEPTED;
        e.mark_product_sold = true;
        break;
    case OFFER_ACTION_REJECT:
        e.status = OFFER_STATUS_REJECTED;
        break;
    case OFFER_ACTION_COUNTER:
        e.status = OFFER_STATUS_COUNTERED;
        e.set_expiry = true;
        e.expires_at_ms = offer_rules_expiry_from(now_ms);
        e.add_counter = true;
        e.counter_from_seller = party == OFFER_PARTY_SELLER;
        break;
    }
    return e;
}

const char *offer_party_name(enum offer_party p)
{
    switch (p) {
    case OFFER_PARTY_NONE:
        return "none";
    case OFFER_PARTY_BUYER:
        return "buyer";
    case OFFER_PARTY_SELLER:
        return "seller";
    }
    return "unknown";
}

const char *offer_rules_result_name(enum rule_result r)
{
    switch (r) {
    case RULE_OK:
        return "RULE_OK";
    case RULE_NOT_A_PARTY:
        return "RULE_NOT_A_PARTY";
    case RULE_OWN_PROPOSAL:
        return "RULE_OWN_PROPOSAL";
    case RULE_OFFER_CLOSED:
        return "RULE_OFFER_CLOSED";
    case RULE_PRODUCT_SOLD:
        return "RULE_PRODUCT_SOLD";
    case RULE_OWN_PRODUCT:
        return "RULE_OWN_PRODUCT";
    case RULE_AMOUNT_OUT_OF_RANGE:
        return "RULE_AMOUNT_OUT_OF_RANGE";
    }
    return "RULE_UNKNOWN";
}
