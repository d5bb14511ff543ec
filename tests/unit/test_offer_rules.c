/* test_offer_rules.c - unit tests for offer_rules.c (negotiation rules).
 *
 * One exhaustive table (status x actor x action x turn x sold) whose expected results come from a
 * plain reading of the SPEC written here, not from the module, plus boundary tests for amounts,
 * expiry and a whole negotiation. Offers are built on the stack: nothing is allocated.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/offer.h"
#include "domain/offer_rules.h"

#define BUYER "user_buyer"
#define SELLER "user_seller"
#define STRANGER "user_stranger"

#define PRICE 20000   /* 200.00 */
#define OFFERED 15000 /* 150.00 */
#define NOW 1700000000000LL
#define EXPIRES (NOW + 1000)

#define MAX_COUNTERS 16

struct fixture {
    struct offer offer;
    struct counter_offer counters[MAX_COUNTERS];
};

/* A live PENDING offer of 150.00 on a 200.00 product, no counters, expiring after NOW. */
static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    struct offer *o = &f->offer;
    strcpy(o->id, "offer_1");
    o->version = 1;
    o->status = OFFER_STATUS_PENDING;
    o->amount_minor = OFFERED;
    strcpy(o->product_id, "product_1");
    strcpy(o->buyer_id, BUYER);
    strcpy(o->seller_id, SELLER);
    o->created_at_ms = NOW - 1000;
    o->updated_at_ms = NOW - 1000;
    o->has_expiry = true;
    o->expires_at_ms = EXPIRES;
    strcpy(o->product.id, "product_1");
    strcpy(o->product.seller_id, SELLER);
    o->product.price_minor = PRICE;
    o->counters = f->counters;
    o->counter_count = 0;
}

static void add_counter(struct fixture *f, bool from_seller, int64_t amount_minor)
{
    assert_true(f->offer.counter_count < MAX_COUNTERS);
    struct counter_offer *c = &f->counters[f->offer.counter_count++];
    snprintf(c->id, sizeof(c->id), "counter_%zu", f->offer.counter_count);
    c->amount_minor = amount_minor;
    c->from_seller = from_seller;
    c->created_at_ms = NOW - 500;
    f->offer.status = OFFER_STATUS_COUNTERED;
}

static struct product product_at(int64_t price_minor)
{
    struct product p;
    memset(&p, 0, sizeof(p));
    strcpy(p.id, "product_1");
    strcpy(p.seller_id, SELLER);
    p.price_minor = price_minor;
    return p;
}

/* ---- the exhaustive table ---------------------------------------------------------------- */

enum status_case {
    CASE_PENDING,
    CASE_COUNTERED,
    CASE_ACCEPTED,
    CASE_REJECTED,
    CASE_EXPIRED,
    CASE_PENDING_PAST_EXPIRY,
    CASE_COUNTERED_PAST_EXPIRY,
    CASE_COUNT
};

static const char *const status_case_names[CASE_COUNT] = {
    "PENDING",
    "COUNTERED",
    "ACCEPTED",
    "REJECTED",
    "EXPIRED",
    "PENDING past expiry",
    "COUNTERED past expiry",
};

enum actor { ACTOR_BUYER, ACTOR_SELLER, ACTOR_STRANGER, ACTOR_COUNT };
static const char *const actor_ids[ACTOR_COUNT] = {BUYER, SELLER, STRANGER};

enum act { ACT_ACCEPT, ACT_REJECT, ACT_COUNTER, ACT_COUNT };
static const char *const act_names[ACT_COUNT] = {"accept", "reject", "counter"};

enum turn_case { TURN_NO_COUNTERS, TURN_LAST_FROM_SELLER, TURN_LAST_FROM_BUYER, TURN_COUNT };
static const char *const turn_case_names[TURN_COUNT] = {"no counters", "last counter from seller",
                                                        "last counter from buyer"};

/* A counter amount strictly inside the positions each turn case sets up below. */
static const int64_t valid_counter[TURN_COUNT] = {17500, 17000, 17500};

static void build_case(struct fixture *f, enum status_case sc, enum turn_case tc, bool sold)
{
    fixture_init(f);
    if (tc == TURN_LAST_FROM_SELLER || tc == TURN_LAST_FROM_BUYER)
        add_counter(f, true, 19000); /* seller comes down to 190.00 */
    if (tc == TURN_LAST_FROM_BUYER)
        add_counter(f, false, 16000); /* buyer goes up to 160.00 */
    f->offer.product.is_sold = sold;

    switch (sc) {
    case CASE_PENDING:
        f->offer.status = OFFER_STATUS_PENDING;
        break;
    case CASE_COUNTERED:
        f->offer.status = OFFER_STATUS_COUNTERED;
        break;
    case CASE_ACCEPTED:
        f->offer.status = OFFER_STATUS_ACCEPTED;
        break;
    case CASE_REJECTED:
        f->offer.status = OFFER_STATUS_REJECTED;
        break;
    case CASE_EXPIRED:
        f->offer.status = OFFER_STATUS_EXPIRED;
        break;
    case CASE_PENDING_PAST_EXPIRY:
        f->offer.status = OFFER_STATUS_PENDING;
        f->offer.expires_at_ms = NOW; /* now == expires_at is already expired */
        break;
    case CASE_COUNTERED_PAST_EXPIRY:
        f->offer.status = OFFER_STATUS_COUNTERED;
        f->offer.expires_at_ms = NOW - 1;
        break;
    case CASE_COUNT:
        fail();
    }
}

/* The SPEC read plainly, independent of the module: a stranger learns nothing; a closed offer
 * cannot move; only the party that did not make the latest proposal may answer it; the product
 * must be unsold for anything but a reject. */
static enum rule_result expected_result(enum status_case sc, enum actor a, enum act act,
                                        enum turn_case tc, bool sold)
{
    if (a == ACTOR_STRANGER)
        return RULE_NOT_A_PARTY;
    bool live = sc == CASE_PENDING || sc == CASE_COUNTERED;
    if (!live)
        return RULE_OFFER_CLOSED;
    bool latest_is_sellers = tc == TURN_LAST_FROM_SELLER;
    enum actor must_answer = latest_is_sellers ? ACTOR_BUYER : ACTOR_SELLER;
    if (a != must_answer)
        return RULE_OWN_PROPOSAL;
    if (sold && act != ACT_REJECT)
        return RULE_PRODUCT_SOLD;
    return RULE_OK;
}

static void test_table_every_status_actor_action_turn(void **state)
{
    (void)state;
    int rows = 0, mismatches = 0;
    for (int sc = 0; sc < CASE_COUNT; sc++)
        for (int a = 0; a < ACTOR_COUNT; a++)
            for (int act = 0; act < ACT_COUNT; act++)
                for (int tc = 0; tc < TURN_COUNT; tc++)
                    for (int sold = 0; sold <= 1; sold++) {
                        struct fixture f;
                        build_case(&f, (enum status_case)sc, (enum turn_case)tc, sold);
                        struct rule_verdict v;
                        if (act == ACT_COUNTER)
                            v = offer_rules_check_counter(&f.offer, actor_ids[a], valid_counter[tc],
                                                          NOW);
                        else
                            v = offer_rules_check_decision(
                                &f.offer, actor_ids[a],
                                act == ACT_ACCEPT ? OFFER_ACTION_ACCEPT : OFFER_ACTION_REJECT, NOW);
                        enum rule_result want =
                            expected_result((enum status_case)sc, (enum actor)a, (enum act)act,
                                            (enum turn_case)tc, sold);
                        rows++;
                        bool message_ok =
                            v.message != NULL && ((v.result == RULE_OK) == (v.message[0] == '\0'));
                        if (v.result != want || !message_ok) {
                            mismatches++;
                            print_error("row: %s, %s, %s, %s, %s: want %s, got %s (\"%s\")\n",
                                        status_case_names[sc], actor_ids[a], act_names[act],
                                        turn_case_names[tc], sold ? "sold" : "unsold",
                                        offer_rules_result_name(want),
                                        offer_rules_result_name(v.result),
                                        v.message ? v.message : "(null)");
                        }
                    }
    assert_int_equal(rows, CASE_COUNT * ACTOR_COUNT * ACT_COUNT * TURN_COUNT * 2);
    assert_int_equal(mismatches, 0);
}

/* ---- party, turn, positions, status ------------------------------------------------------ */

static void test_party(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    assert_int_equal(offer_rules_party(&f.offer, BUYER), OFFER_PARTY_BUYER);
    assert_int_equal(offer_rules_party(&f.offer, SELLER), OFFER_PARTY_SELLER);
    assert_int_equal(offer_rules_party(&f.offer, STRANGER), OFFER_PARTY_NONE);
    assert_int_equal(offer_rules_party(&f.offer, NULL), OFFER_PARTY_NONE);
    assert_int_equal(offer_rules_party(&f.offer, ""), OFFER_PARTY_NONE);
    assert_int_equal(offer_rules_party(&f.offer, "user_buye"), OFFER_PARTY_NONE);   /* prefix */
    assert_int_equal(offer_rules_party(&f.offer, "user_buyerx"), OFFER_PARTY_NONE); /* longer */
    assert_int_equal(offer_rules_party(&f.offer, "USER_BUYER"), OFFER_PARTY_NONE);  /* case */

    /* An offer whose ids are empty (a zeroed struct) has no parties at all. */
    struct offer empty;
    memset(&empty, 0, sizeof(empty));
    assert_int_equal(offer_rules_party(&empty, ""), OFFER_PARTY_NONE);
}

static void test_party_names(void **state)
{
    (void)state;
    assert_string_equal(offer_party_name(OFFER_PARTY_NONE), "none");
    assert_string_equal(offer_party_name(OFFER_PARTY_BUYER), "buyer");
    assert_string_equal(offer_party_name(OFFER_PARTY_SELLER), "seller");
    assert_string_equal(offer_party_name((enum offer_party)42), "unknown");
    assert_string_equal(offer_rules_result_name(RULE_OK), "RULE_OK");
    assert_string_equal(offer_rules_result_name(RULE_AMOUNT_OUT_OF_RANGE),
                        "RULE_AMOUNT_OUT_OF_RANGE");
    assert_string_equal(offer_rules_result_name((enum rule_result)42), "RULE_UNKNOWN");
}

static void test_turn_and_positions(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    assert_int_equal(offer_rules_turn(&f.offer), OFFER_PARTY_SELLER);
    assert_int_equal(offer_rules_buyer_position(&f.offer), OFFERED);
    assert_int_equal(offer_rules_seller_position(&f.offer), PRICE);

    add_counter(&f, true, 19000);
    assert_int_equal(offer_rules_turn(&f.offer), OFFER_PARTY_BUYER);
    assert_int_equal(offer_rules_buyer_position(&f.offer), OFFERED);
    assert_int_equal(offer_rules_seller_position(&f.offer), 19000);

    add_counter(&f, false, 16000);
    assert_int_equal(offer_rules_turn(&f.offer), OFFER_PARTY_SELLER);
    assert_int_equal(offer_rules_buyer_position(&f.offer), 16000);
    assert_int_equal(offer_rules_seller_position(&f.offer), 19000);

    add_counter(&f, true, 18000);
    assert_int_equal(offer_rules_turn(&f.offer), OFFER_PARTY_BUYER);
    assert_int_equal(offer_rules_buyer_position(&f.offer), 16000);
    assert_int_equal(offer_rules_seller_position(&f.offer), 18000);

    /* Turn looks at counters only, whatever the stored status says. */
    f.offer.status = OFFER_STATUS_PENDING;
    assert_int_equal(offer_rules_turn(&f.offer), OFFER_PARTY_BUYER);
}

static void test_positions_only_from_own_side(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    /* Only buyer counters (unusual data): the seller's position is still the listed price. */
    add_counter(&f, false, 16000);
    add_counter(&f, false, 17000);
    assert_int_equal(offer_rules_buyer_position(&f.offer), 17000);
    assert_int_equal(offer_rules_seller_position(&f.offer), PRICE);
    assert_int_equal(offer_rules_turn(&f.offer), OFFER_PARTY_SELLER);

    fixture_init(&f);
    add_counter(&f, true, 19000);
    add_counter(&f, true, 18500);
    assert_int_equal(offer_rules_buyer_position(&f.offer), OFFERED);
    assert_int_equal(offer_rules_seller_position(&f.offer), 18500);
}

static void test_effective_status(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    static const enum offer_status live[] = {OFFER_STATUS_PENDING, OFFER_STATUS_COUNTERED};
    for (size_t i = 0; i < 2; i++) {
        f.offer.status = live[i];
        assert_int_equal(offer_rules_effective_status(&f.offer, EXPIRES - 1), live[i]);
        assert_int_equal(offer_rules_effective_status(&f.offer, EXPIRES), OFFER_STATUS_EXPIRED);
        assert_int_equal(offer_rules_effective_status(&f.offer, EXPIRES + 1), OFFER_STATUS_EXPIRED);
    }
    static const enum offer_status final[] = {OFFER_STATUS_ACCEPTED, OFFER_STATUS_REJECTED,
                                              OFFER_STATUS_EXPIRED};
    for (size_t i = 0; i < 3; i++) {
        f.offer.status = final[i];
        assert_int_equal(offer_rules_effective_status(&f.offer, EXPIRES - 1), final[i]);
        assert_int_equal(offer_rules_effective_status(&f.offer, EXPIRES + 1), final[i]);
    }
}

static void test_no_expiry_never_expires(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.offer.has_expiry = false;
    f.offer.expires_at_ms = 0; /* ignored without has_expiry */
    assert_int_equal(offer_rules_effective_status(&f.offer, INT64_MAX), OFFER_STATUS_PENDING);
    assert_int_equal(
        offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, INT64_MAX).result,
        RULE_OK);
    f.offer.status = OFFER_STATUS_COUNTERED;
    assert_int_equal(offer_rules_effective_status(&f.offer, INT64_MAX), OFFER_STATUS_COUNTERED);
    assert_int_equal(offer_rules_check_counter(&f.offer, SELLER, 19000, INT64_MAX).result, RULE_OK);
}

static void test_expiry_boundary(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rule_verdict v;

    v = offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, EXPIRES - 1);
    assert_int_equal(v.result, RULE_OK);
    v = offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, EXPIRES);
    assert_int_equal(v.result, RULE_OFFER_CLOSED);
    assert_string_equal(v.message, "offer has expired");
    v = offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_REJECT, EXPIRES);
    assert_int_equal(v.result, RULE_OFFER_CLOSED);

    v = offer_rules_check_counter(&f.offer, SELLER, 19000, EXPIRES - 1);
    assert_int_equal(v.result, RULE_OK);
    v = offer_rules_check_counter(&f.offer, SELLER, 19000, EXPIRES);
    assert_int_equal(v.result, RULE_OFFER_CLOSED);
    assert_string_equal(v.message, "offer has expired");
}

static void test_expiry_from(void **state)
{
    (void)state;
    assert_int_equal(OFFER_LIFETIME_MS, 604800000LL);
    assert_int_equal(offer_rules_expiry_from(NOW), NOW + 604800000LL);
    assert_int_equal(offer_rules_expiry_from(0), 604800000LL);
    assert_int_equal(offer_rules_expiry_from(INT64_MAX - OFFER_LIFETIME_MS), INT64_MAX);
    assert_int_equal(offer_rules_expiry_from(INT64_MAX - 1), INT64_MAX); /* saturates */
}

/* ---- messages ----------------------------------------------------------------------------- */

static void test_closed_messages(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    f.offer.status = OFFER_STATUS_ACCEPTED;
    assert_string_equal(
        offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, NOW).message,
        "offer is already ACCEPTED");
    f.offer.status = OFFER_STATUS_REJECTED;
    assert_string_equal(offer_rules_check_counter(&f.offer, SELLER, 19000, NOW).message,
                        "offer is already REJECTED");
    f.offer.status = OFFER_STATUS_EXPIRED;
    assert_string_equal(
        offer_rules_check_decision(&f.offer, BUYER, OFFER_ACTION_REJECT, NOW).message,
        "offer has expired");
}

static void test_own_proposal_messages(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rule_verdict v;

    v = offer_rules_check_decision(&f.offer, BUYER, OFFER_ACTION_ACCEPT, NOW);
    assert_int_equal(v.result, RULE_OWN_PROPOSAL);
    assert_string_equal(v.message, "you cannot accept your own proposal; waiting for the seller");
    v = offer_rules_check_decision(&f.offer, BUYER, OFFER_ACTION_REJECT, NOW);
    assert_string_equal(v.message, "you cannot reject your own proposal; waiting for the seller");
    v = offer_rules_check_counter(&f.offer, BUYER, 16000, NOW);
    assert_int_equal(v.result, RULE_OWN_PROPOSAL);
    assert_non_null(strstr(v.message, "it is the seller's turn to answer"));

    add_counter(&f, true, 19000);
    v = offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, NOW);
    assert_int_equal(v.result, RULE_OWN_PROPOSAL);
    assert_string_equal(v.message, "you cannot accept your own proposal; waiting for the buyer");
    v = offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_REJECT, NOW);
    assert_string_equal(v.message, "you cannot reject your own proposal; waiting for the buyer");
    v = offer_rules_check_counter(&f.offer, SELLER, 18000, NOW);
    assert_non_null(strstr(v.message, "it is the buyer's turn to answer"));
}

static void test_counter_range_message(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rule_verdict v = offer_rules_check_counter(&f.offer, SELLER, PRICE, NOW);
    assert_int_equal(v.result, RULE_AMOUNT_OUT_OF_RANGE);
    assert_string_equal(v.message, "counter must be more than 150.00 and less than 200.00");

    /* Pence that are not whole pounds, and single-digit pence. */
    fixture_init(&f);
    f.offer.amount_minor = 10005;
    f.offer.product.price_minor = 19999;
    v = offer_rules_check_counter(&f.offer, SELLER, 1, NOW);
    assert_string_equal(v.message, "counter must be more than 100.05 and less than 199.99");

    fixture_init(&f);
    f.offer.amount_minor = 3;
    f.offer.product.price_minor = 6;
    v = offer_rules_check_counter(&f.offer, SELLER, 3, NOW);
    assert_string_equal(v.message, "counter must be more than 0.03 and less than 0.06");
}

static void test_ok_message_is_empty(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct product p = product_at(PRICE);
    assert_string_equal(offer_rules_check_create(&p, BUYER, OFFERED).message, "");
    assert_string_equal(
        offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, NOW).message, "");
    assert_string_equal(offer_rules_check_counter(&f.offer, SELLER, 19000, NOW).message, "");
}

/* ---- create ------------------------------------------------------------------------------- */

static enum rule_result create_result(int64_t price_minor, int64_t amount_minor)
{
    struct product p = product_at(price_minor);
    return offer_rules_check_create(&p, BUYER, amount_minor).result;
}

static void test_create_bounds(void **state)
{
    (void)state;
    assert_int_equal(create_result(PRICE, 10000), RULE_OK);                  /* exactly 50% */
    assert_int_equal(create_result(PRICE, 9999), RULE_AMOUNT_OUT_OF_RANGE);  /* 50% - 1p */
    assert_int_equal(create_result(PRICE, PRICE - 1), RULE_OK);              /* price - 1p */
    assert_int_equal(create_result(PRICE, PRICE), RULE_AMOUNT_OUT_OF_RANGE); /* the price */
    assert_int_equal(create_result(PRICE, PRICE + 1), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(PRICE, 0), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(PRICE, -1), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(PRICE, INT64_MIN), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(PRICE, INT64_MAX), RULE_AMOUNT_OUT_OF_RANGE);
}

static void test_create_odd_price_rounds_up(void **state)
{
    (void)state;
    /* 50% of 19999 is 9999.5: the minimum is 10000. */
    assert_int_equal(offer_rules_min_amount(19999), 10000);
    assert_int_equal(create_result(19999, 9999), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(19999, 10000), RULE_OK);
    assert_int_equal(create_result(19999, 19998), RULE_OK);
    assert_int_equal(create_result(19999, 19999), RULE_AMOUNT_OUT_OF_RANGE);

    assert_int_equal(offer_rules_min_amount(3), 2);
    assert_int_equal(create_result(3, 1), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(3, 2), RULE_OK);
    assert_int_equal(create_result(2, 1), RULE_OK);

    /* Prices with no possible offer: 0.01 (50% is 0.005 -> 0.01, not below the price), 0, < 0. */
    assert_int_equal(create_result(1, 0), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(1, 1), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(0, 0), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(-100, -60), RULE_AMOUNT_OUT_OF_RANGE);
}

static void test_create_huge_values_do_not_overflow(void **state)
{
    (void)state;
    /* INT64_MAX is odd: its rounded-up half is 4611686018427387904. 2 * amount would overflow. */
    assert_int_equal(offer_rules_min_amount(INT64_MAX), 4611686018427387904LL);
    assert_int_equal(create_result(INT64_MAX, 4611686018427387903LL), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(create_result(INT64_MAX, 4611686018427387904LL), RULE_OK);
    assert_int_equal(create_result(INT64_MAX, INT64_MAX - 1), RULE_OK);
    assert_int_equal(create_result(INT64_MAX, INT64_MAX), RULE_AMOUNT_OUT_OF_RANGE);
}

static void test_create_message(void **state)
{
    (void)state;
    struct product p = product_at(19999);
    struct rule_verdict v = offer_rules_check_create(&p, BUYER, 5);
    assert_int_equal(v.result, RULE_AMOUNT_OUT_OF_RANGE);
    assert_string_equal(v.message, "offer must be at least 100.00 (50% of the price) and less "
                                   "than 199.99");
    p = product_at(1);
    v = offer_rules_check_create(&p, BUYER, 1);
    assert_string_equal(v.message, "no offer is possible on a listed price of 0.01");
}

static void test_create_own_and_sold_product(void **state)
{
    (void)state;
    struct product p = product_at(PRICE);
    struct rule_verdict v = offer_rules_check_create(&p, SELLER, OFFERED);
    assert_int_equal(v.result, RULE_OWN_PRODUCT);
    assert_string_equal(v.message, "you cannot make an offer on your own product");
    /* Own product is checked before the amount. */
    assert_int_equal(offer_rules_check_create(&p, SELLER, 1).result, RULE_OWN_PRODUCT);
    /* No user or an empty one is nobody's product (handlers authenticate first). */
    assert_int_equal(offer_rules_check_create(&p, NULL, OFFERED).result, RULE_OK);

    p.is_sold = true;
    v = offer_rules_check_create(&p, BUYER, OFFERED);
    assert_int_equal(v.result, RULE_PRODUCT_SOLD);
    assert_string_equal(v.message, "product is already sold");
    /* Sold is checked first of all. */
    assert_int_equal(offer_rules_check_create(&p, SELLER, OFFERED).result, RULE_PRODUCT_SOLD);
    assert_int_equal(offer_rules_check_create(&p, BUYER, 1).result, RULE_PRODUCT_SOLD);
}

/* ---- counters ----------------------------------------------------------------------------- */

/* Counter by whoever's turn it is; the offer is live and the product unsold. */
static enum rule_result counter_result(const struct fixture *f, int64_t amount_minor)
{
    const char *who = offer_rules_turn(&f->offer) == OFFER_PARTY_BUYER ? BUYER : SELLER;
    return offer_rules_check_counter(&f->offer, who, amount_minor, NOW).result;
}

static void assert_counter_bounds(const struct fixture *f, int64_t above, int64_t below)
{
    assert_int_equal(counter_result(f, above - 1), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(f, above), RULE_AMOUNT_OUT_OF_RANGE); /* exactly the low end */
    assert_int_equal(counter_result(f, above + 1), RULE_OK);              /* one inside */
    assert_int_equal(counter_result(f, below - 1), RULE_OK);              /* one inside */
    assert_int_equal(counter_result(f, below), RULE_AMOUNT_OUT_OF_RANGE); /* exactly the high end */
    assert_int_equal(counter_result(f, below + 1), RULE_AMOUNT_OUT_OF_RANGE);
    int64_t lo, hi;
    assert_true(offer_rules_counter_range(&f->offer, &lo, &hi));
    assert_int_equal(lo, above);
    assert_int_equal(hi, below);
}

static void test_counter_bounds_each_turn(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f); /* seller answers the offer: between 150.00 and 200.00 */
    assert_counter_bounds(&f, OFFERED, PRICE);
    add_counter(&f, true, 19000); /* buyer answers: between 150.00 and 190.00 */
    assert_counter_bounds(&f, OFFERED, 19000);
    add_counter(&f, false, 16000); /* seller answers: between 160.00 and 190.00 */
    assert_counter_bounds(&f, 16000, 19000);
}

static void test_counter_adjacent_positions_no_room(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    add_counter(&f, true, 19000);
    add_counter(&f, false, 18999); /* the buyer is one penny below the seller */
    int64_t lo, hi;
    assert_false(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(lo, 18999);
    assert_int_equal(hi, 19000);
    for (int64_t amount = 18998; amount <= 19001; amount++)
        assert_int_equal(counter_result(&f, amount), RULE_AMOUNT_OUT_OF_RANGE);
    struct rule_verdict v = offer_rules_check_counter(&f.offer, SELLER, 18999, NOW);
    assert_non_null(strstr(v.message, "no counter is possible"));
    assert_non_null(strstr(v.message, "189.99"));
    assert_non_null(strstr(v.message, "190.00"));
    /* Accepting is still possible. */
    assert_int_equal(offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, NOW).result,
                     RULE_OK);

    /* Equal positions (unusual data) have no room either; two apart have exactly one amount. */
    fixture_init(&f);
    add_counter(&f, true, 17000);
    add_counter(&f, false, 17000);
    assert_false(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(counter_result(&f, 17000), RULE_AMOUNT_OUT_OF_RANGE);
    fixture_init(&f);
    add_counter(&f, true, 17002);
    add_counter(&f, false, 17000);
    assert_true(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(counter_result(&f, 17001), RULE_OK);
    assert_int_equal(counter_result(&f, 17000), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 17002), RULE_AMOUNT_OUT_OF_RANGE);

    /* A buyer offer one penny below the price leaves the seller no counter. */
    fixture_init(&f);
    f.offer.amount_minor = PRICE - 1;
    assert_int_equal(counter_result(&f, PRICE - 1), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, PRICE), RULE_AMOUNT_OUT_OF_RANGE);
}

/* A whole negotiation: the seller only ever comes down, the buyer only ever goes up. */
static void test_counter_converges_over_negotiation(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f); /* buyer 150.00, listed 200.00 */

    /* Seller: must come down from the listed price, and stay above the buyer. */
    assert_int_equal(counter_result(&f, 21000), RULE_AMOUNT_OUT_OF_RANGE); /* up */
    assert_int_equal(counter_result(&f, 20000), RULE_AMOUNT_OUT_OF_RANGE); /* same */
    assert_int_equal(counter_result(&f, 14000), RULE_AMOUNT_OUT_OF_RANGE); /* below the buyer */
    assert_int_equal(counter_result(&f, 19000), RULE_OK);
    add_counter(&f, true, 19000);

    /* Buyer: must go up from 150.00, and stay below the seller's 190.00. */
    assert_int_equal(counter_result(&f, 14000), RULE_AMOUNT_OUT_OF_RANGE); /* down */
    assert_int_equal(counter_result(&f, 15000), RULE_AMOUNT_OUT_OF_RANGE); /* same */
    assert_int_equal(counter_result(&f, 19500), RULE_AMOUNT_OUT_OF_RANGE); /* above the seller */
    assert_int_equal(counter_result(&f, 16000), RULE_OK);
    add_counter(&f, false, 16000);

    /* Seller: below its own 190.00 now, not the listed price. */
    assert_int_equal(counter_result(&f, 19500), RULE_AMOUNT_OUT_OF_RANGE); /* back up */
    assert_int_equal(counter_result(&f, 19000), RULE_AMOUNT_OUT_OF_RANGE); /* same */
    assert_int_equal(counter_result(&f, 16000), RULE_AMOUNT_OUT_OF_RANGE); /* the buyer's */
    assert_int_equal(counter_result(&f, 18000), RULE_OK);
    add_counter(&f, true, 18000);

    /* Buyer: above its own 160.00 now, not the original offer. */
    assert_int_equal(counter_result(&f, 15500), RULE_AMOUNT_OUT_OF_RANGE); /* back down */
    assert_int_equal(counter_result(&f, 16000), RULE_AMOUNT_OUT_OF_RANGE); /* same */
    assert_int_equal(counter_result(&f, 18000), RULE_AMOUNT_OUT_OF_RANGE); /* the seller's */
    assert_int_equal(counter_result(&f, 17000), RULE_OK);
    add_counter(&f, false, 17000);

    /* Seller may meet one penny above; then the buyer has no room and must decide. */
    assert_int_equal(counter_result(&f, 17001), RULE_OK);
    add_counter(&f, true, 17001);
    int64_t lo, hi;
    assert_false(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(counter_result(&f, 17000), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 17001), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(offer_rules_check_decision(&f.offer, BUYER, OFFER_ACTION_ACCEPT, NOW).result,
                     RULE_OK);
    assert_int_equal(offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, NOW).result,
                     RULE_OWN_PROPOSAL);

    /* Every amount on the way stayed below the price and at or above 50% of it. */
    for (size_t i = 0; i < f.offer.counter_count; i++) {
        assert_true(f.counters[i].amount_minor < PRICE);
        assert_true(2 * f.counters[i].amount_minor >= PRICE);
    }
}

/* The listed price changed after the offer (the main app may write products): the counter range
 * still keeps every amount below the current price and at or above 50% of it. */
static void test_counter_defensive_price_bounds(void **state)
{
    (void)state;
    struct fixture f;
    int64_t lo, hi;

    fixture_init(&f);
    f.offer.product.price_minor = 40000; /* raised: the 150.00 offer is now below 50% */
    assert_true(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(lo, 19999);
    assert_int_equal(hi, 40000);
    assert_int_equal(counter_result(&f, 17000), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 19999), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 20000), RULE_OK);
    struct rule_verdict v = offer_rules_check_counter(&f.offer, SELLER, 1, NOW);
    assert_string_equal(v.message, "counter must be more than 199.99 and less than 400.00");

    fixture_init(&f);
    add_counter(&f, true, 19000);
    f.offer.product.price_minor = 18000; /* lowered below the seller's own counter */
    assert_int_equal(counter_result(&f, 18500), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 18000), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 17999), RULE_OK);

    fixture_init(&f);
    f.offer.product.price_minor = 14000; /* lowered below the buyer's offer */
    assert_false(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(counter_result(&f, 14500), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, 13000), RULE_AMOUNT_OUT_OF_RANGE);

    fixture_init(&f);
    f.offer.amount_minor = -5; /* corrupt data: still never a counter at or below zero */
    f.offer.product.price_minor = 0;
    assert_false(offer_rules_counter_range(&f.offer, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 0);
    assert_int_equal(counter_result(&f, 0), RULE_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(counter_result(&f, -1), RULE_AMOUNT_OUT_OF_RANGE);
}

/* ---- order of checks ---------------------------------------------------------------------- */

static void test_stranger_learns_nothing(void **state)
{
    (void)state;
    static const enum offer_status statuses[] = {OFFER_STATUS_PENDING, OFFER_STATUS_COUNTERED,
                                                 OFFER_STATUS_ACCEPTED, OFFER_STATUS_REJECTED,
                                                 OFFER_STATUS_EXPIRED};
    static const char *const strangers[] = {STRANGER, NULL, "", "user_buye"};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        for (size_t s = 0; s < sizeof(strangers) / sizeof(strangers[0]); s++) {
            struct fixture f;
            fixture_init(&f);
            f.offer.status = statuses[i];
            f.offer.product.is_sold = true;
            f.offer.expires_at_ms = NOW - 1;
            struct rule_verdict v;
            v = offer_rules_check_decision(&f.offer, strangers[s], OFFER_ACTION_ACCEPT, NOW);
            assert_int_equal(v.result, RULE_NOT_A_PARTY);
            assert_string_equal(v.message,
                                "only the buyer or the seller can see or change this offer");
            v = offer_rules_check_decision(&f.offer, strangers[s], OFFER_ACTION_REJECT, NOW);
            assert_int_equal(v.result, RULE_NOT_A_PARTY);
            v = offer_rules_check_counter(&f.offer, strangers[s], -1, NOW);
            assert_int_equal(v.result, RULE_NOT_A_PARTY);
        }
}

static void test_check_order(void **state)
{
    (void)state;
    struct fixture f;

    /* Closed beats turn, sold and amount. */
    fixture_init(&f);
    f.offer.status = OFFER_STATUS_ACCEPTED;
    f.offer.product.is_sold = true;
    assert_int_equal(offer_rules_check_counter(&f.offer, BUYER, -1, NOW).result, RULE_OFFER_CLOSED);
    assert_int_equal(offer_rules_check_decision(&f.offer, BUYER, OFFER_ACTION_ACCEPT, NOW).result,
                     RULE_OFFER_CLOSED);

    /* Turn beats sold and amount. */
    fixture_init(&f);
    f.offer.product.is_sold = true;
    assert_int_equal(offer_rules_check_counter(&f.offer, BUYER, -1, NOW).result, RULE_OWN_PROPOSAL);
    assert_int_equal(offer_rules_check_decision(&f.offer, BUYER, OFFER_ACTION_ACCEPT, NOW).result,
                     RULE_OWN_PROPOSAL);

    /* Sold beats amount; reject is allowed on a sold product, accept and counter are not. */
    struct rule_verdict v = offer_rules_check_counter(&f.offer, SELLER, -1, NOW);
    assert_int_equal(v.result, RULE_PRODUCT_SOLD);
    assert_string_equal(v.message, "product is already sold");
    assert_int_equal(offer_rules_check_counter(&f.offer, SELLER, 19000, NOW).result,
                     RULE_PRODUCT_SOLD);
    assert_int_equal(offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_ACCEPT, NOW).result,
                     RULE_PRODUCT_SOLD);
    assert_int_equal(offer_rules_check_decision(&f.offer, SELLER, OFFER_ACTION_REJECT, NOW).result,
                     RULE_OK);
}

/* What each allowed action does: the status, the product sold on accept, a fresh expiry and a
 * counter from the acting party on counter, nothing else. */
static void test_effect_of_each_action(void **state)
{
    (void)state;
    int64_t now = 1000;
    struct offer_effect e = offer_rules_effect(OFFER_ACTION_ACCEPT, OFFER_PARTY_SELLER, now);
    assert_int_equal(e.status, OFFER_STATUS_ACCEPTED);
    assert_true(e.mark_product_sold);
    assert_false(e.set_expiry);
    assert_false(e.add_counter);

    e = offer_rules_effect(OFFER_ACTION_REJECT, OFFER_PARTY_BUYER, now);
    assert_int_equal(e.status, OFFER_STATUS_REJECTED);
    assert_false(e.mark_product_sold);
    assert_false(e.set_expiry);
    assert_false(e.add_counter);

    e = offer_rules_effect(OFFER_ACTION_COUNTER, OFFER_PARTY_SELLER, now);
    assert_int_equal(e.status, OFFER_STATUS_COUNTERED);
    assert_false(e.mark_product_sold);
    assert_true(e.set_expiry);
    assert_true(e.expires_at_ms == offer_rules_expiry_from(now));
    assert_true(e.add_counter);
    assert_true(e.counter_from_seller);

    e = offer_rules_effect(OFFER_ACTION_COUNTER, OFFER_PARTY_BUYER, INT64_MAX);
    assert_false(e.counter_from_seller);
    assert_true(e.expires_at_ms == INT64_MAX); /* saturates, as offer_rules_expiry_from does */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_every_status_actor_action_turn),
        cmocka_unit_test(test_party),
        cmocka_unit_test(test_party_names),
        cmocka_unit_test(test_turn_and_positions),
        cmocka_unit_test(test_positions_only_from_own_side),
        cmocka_unit_test(test_effective_status),
        cmocka_unit_test(test_no_expiry_never_expires),
        cmocka_unit_test(test_expiry_boundary),
        cmocka_unit_test(test_expiry_from),
        cmocka_unit_test(test_closed_messages),
        cmocka_unit_test(test_own_proposal_messages),
        cmocka_unit_test(test_counter_range_message),
        cmocka_unit_test(test_ok_message_is_empty),
        cmocka_unit_test(test_create_bounds),
        cmocka_unit_test(test_create_odd_price_rounds_up),
        cmocka_unit_test(test_create_huge_values_do_not_overflow),
        cmocka_unit_test(test_create_message),
        cmocka_unit_test(test_create_own_and_sold_product),
        cmocka_unit_test(test_counter_bounds_each_turn),
        cmocka_unit_test(test_counter_adjacent_positions_no_room),
        cmocka_unit_test(test_counter_converges_over_negotiation),
        cmocka_unit_test(test_counter_defensive_price_bounds),
        cmocka_unit_test(test_stranger_learns_nothing),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_effect_of_each_action),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
