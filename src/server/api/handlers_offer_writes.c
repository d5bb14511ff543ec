/* handlers_offer_writes.c - POST, PATCH and counter for offers; thin on purpose.
 *
 * Each validates the body at the edge, then hands the decision to the domain rules, run on the
 * writer thread inside the store's transaction (write_wait.h), and maps the result to HTTP in one
 * place (rule_status).
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/handlers_offer_writes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/member_text.h"
#include "api/write_wait.h"
#include "http/reply.h"
#include "http/request_auth.h"
#include "http/request_body.h"
#include "view/offer_render.h"
#include "view/offer_view.h"
#include "domain/money.h"
#include "domain/offer_codec.h"
#include "domain/offer_rules.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

/* The one place rule results become HTTP statuses. */
static unsigned rule_status(enum rule_result result, bool creating)
{
    switch (result) {
    case RULE_OK:
        return 200;
    case RULE_NOT_A_PARTY:
        return 403;
    case RULE_OWN_PROPOSAL:
    case RULE_OFFER_CLOSED:
        return 409;
    case RULE_PRODUCT_SOLD:
        return creating ? 400 : 409;
    case RULE_OWN_PRODUCT:
    case RULE_AMOUNT_OUT_OF_RANGE:
        return 400;
    }
    return 500;
}

/* Why a decide/check callback refused, carried out of the store transaction. The message is a
 * copy made only on refusal: an amount verdict's text lives in the writer thread's buffer until
 * its next check, and a buffer for it in every write would keep struct pending_write out of the
 * allocator's fast path (see there). */
struct refusal {
    unsigned status;
    char *message;              /* new, or NULL when the copy failed */
};

static void refuse(struct refusal *f, unsigned status, const char *message)
{
    f->status = status;
    free(f->message); /* a write is decided once; this only guards against a leak */
    f->message = strdup(message);
}

/* Parses the body as a JSON object; on failure it has answered and returns NULL. */
static json_t *read_json_body(struct request *r)
{
    char err[REQUEST_BODY_ERROR_SIZE];
    json_t *obj = NULL;
    unsigned status = request_body_parse_object(request_header(r, "Content-Type"), r->body,
                                                r->body_len, &obj, err);
    if (status) {
        reply_error(r, status, err);
        return NULL;
    }
    return obj;
}

/* Reads the "amount" field as exact minor units; on failure answers 400 and returns false. The
 * number is judged on its text in the body (obj was parsed from it): jansson's double would turn
 * 150.999999999999999999 into 151. */
static bool read_amount(struct request *r, const json_t *obj, int64_t *amount)
{
    const json_t *v = json_object_get(obj, "amount");
    if (!v) {
        reply_error(r, 400, "amount is required");
        return false;
    }
    const char *text = NULL;
    size_t text_len = 0;
    enum money_result mr = MONEY_NOT_A_NUMBER;
    if (json_is_number(v) && member_text_find(r->body, r->body_len, "amount", &text, &text_len))
        mr = money_from_number_text(text, text_len, amount);
    if (mr != MONEY_OK) {
        reply_error(r, 400, money_result_message(mr));
        return false;
    }
    return true;
}

/* The "amount" and optional "message" of a create or counter body; on failure answers 400 and
 * returns false. message is borrowed from obj. */
static bool read_proposal(struct request *r, const json_t *obj, int64_t *amount,
                          const char **message)
{
    char err[REQUEST_BODY_ERROR_SIZE];
    if (!read_amount(r, obj, amount))
        return false;
    if (!request_body_message(obj, message, err)) {
        reply_error(r, 400, err);
        return false;
    }
    return true;
}

/* Signed in, and known to the marketplace; otherwise answered (401/403). */
static bool authenticate_member(struct request *r)
{
    if (!request_authenticate(r))
        return false;
    if (!r->user_id[0]) {
        reply_error(r, 403, "no marketplace account belongs to this token");
        return false;
    }
    return true;
}

/* Answers 200/201 with the offer as it now is, rendered once for this answer and for the offer
 * cache (the writer's next poll is a hit); ticket was taken before the write was submitted. */
static void reply_written(struct request *r, unsigned status, uint64_t ticket,
                          const struct offer *o)
{
    size_t len = 0;
    char *json = NULL;
    struct cached_offer meta;
    if (offer_view_written(r->app->offer_cache, ticket, o, &meta, &json, &len) != STORE_OK) {
        reply_error(r, 500, "internal error"); /* logged by the view */
        return;
    }
    if (status == 201) {
        char location[128];
        snprintf(location, sizeof(location), "/api/offers/%s", o->id);
        struct reply_header h[3] = {{"Cache-Control", "private, no-cache"}, {"ETag", meta.etag},
                                    {"Location", location}};
        reply_send(r, status, "application/json; charset=utf-8", json, len, h, 3);
        return;
    }
    reply_offer_json(r, status, json, len, meta.etag);
}

/* ---- writes: handed to the store's writer thread, the request suspended meanwhile ---- */

/* One write in flight: what the writer needs, and what the handler needs to answer. One is
 * allocated per write and freed by another thread; kept within glibc's tcache sizes (requests up
 * to 1,032 bytes), that is a thread-local free list each way instead of the arena's lock and
 * bins. Fields shared by creates and decisions are shared here, not unioned, for that reason. */
struct pending_write {
    struct write_wait ww;       /* first: the store write and the wait (write_wait.h) */
    json_t *body;               /* owns the strings the write borrows (message, productId) */
    const char *user_id;        /* who writes: a create's buyer, a decision's party */
    const char *if_match;       /* a decision's If-Match; lives as long as the request */
    const char *message;        /* a counter's message, borrowed from body */
    int64_t amount;             /* a create's or counter's amount */
    uint64_t cache_ticket;      /* the offer cache's, taken before submitting (reply_written) */
    unsigned ok_status;
    enum offer_action action;   /* a decision's */
    struct refusal refusal;     /* set by check_create or decide when they refuse */
    char id[OFFER_ID_SIZE];     /* a create's new offer id, or a counter's new counter id */
};

#define TCACHE_MAX_REQUEST 1032 /* glibc's largest tcache-served malloc on 64-bit targets */
_Static_assert(sizeof(struct pending_write) <= TCACHE_MAX_REQUEST,
               "struct pending_write outgrew malloc's thread cache");

static void pending_free(struct write_wait *ww)
{
    struct pending_write *pw = (struct pending_write *)ww;
    free(pw->refusal.message);
    json_decref(pw->body);
    offer_cleanup(&pw->ww.w.out);
    free(pw);
}

/* On re-entry after the writer's done: answers from its result. True when r had a write. */
static bool finish_write(struct request *r)
{
    struct pending_write *pw = (struct pending_write *)write_wait_take(r);
    if (!pw)
        return false;
    enum store_result sr = pw->ww.w.result;
    if (sr == STORE_OK)
        reply_written(r, pw->ok_status, pw->cache_ticket, &pw->ww.w.out);
    else if (sr == STORE_NOT_FOUND && pw->ww.w.is_create)
        reply_error(r, 400, "productId: no such product");
    else if (sr == STORE_CONFLICT)
        reply_error(r, pw->refusal.status,
                    pw->refusal.message ? pw->refusal.message : "the write was refused");
    else
        reply_store_failure(r, sr, "offer not found");
    write_wait_finish(r, &pw->ww);
    return true;
}

/* ---- POST /api/offers ---- */

/* The start of every write handler: on re-entry after the writer finished, answer from its result;
 * else authenticate a marketplace member and parse the JSON body. NULL when already answered. */
static json_t *begin_write(struct request *r)
{
    if (finish_write(r) || !authenticate_member(r))
        return NULL;
    return read_json_body(r);
}

static bool check_create(const struct product *p, void *userdata)
{
    struct pending_write *pw = userdata;
    struct rule_verdict v = offer_rules_check_create(p, pw->user_id, pw->amount);
    if (v.result == RULE_OK)
        return true;
    refuse(&pw->refusal, rule_status(v.result, true), v.message);
    return false;
}

void handle_create_offer(struct request *r)
{
    json_t *body = begin_write(r);
    if (!body)
        return;
    const json_t *product = json_object_get(body, "productId");
    const char *message = NULL;
    int64_t amount = 0;
    if (!json_is_string(product) || !offer_id_is_valid(json_string_value(product))) {
        reply_error(r, 400, "productId must be a product id (1-64 of A-Z a-z 0-9 _ -)");
        goto fail;
    }
    if (!read_proposal(r, body, &amount, &message))
        goto fail;
    struct pending_write *pw = calloc(1, sizeof(*pw));
    if (pw)
        pw->ww.free = pending_free;
    if (!pw || !request_new_id("off_", pw->id, sizeof(pw->id))) {
        log_error("cannot prepare a new offer (memory or randomness)");
        reply_error(r, 500, "internal error");
        free(pw);
        goto fail;
    }
    int64_t now = clock_now_ms();
    pw->body = body;
    pw->ok_status = 201;
    pw->user_id = r->user_id;
    pw->amount = amount;
    pw->cache_ticket = offer_cache_ticket(r->app->offer_cache, pw->id);
    pw->ww.w.is_create = true;
    pw->ww.w.create = (struct new_offer){pw->id, json_string_value(product), r->user_id, amount,
                                         message, now, offer_rules_expiry_from(now)};
    pw->ww.w.check = check_create;
    pw->ww.w.userdata = pw;
    write_wait_submit(r, &pw->ww);
    return;
fail:
    json_decref(body);
}

/* ---- PATCH /api/offers/{id} and POST /api/offers/{id}/counter ---- */

/* Runs on the writer thread, inside the transaction, with the offer as it is now. */
static bool decide(const struct offer *current, int64_t now_ms, struct offer_change *change,
                   void *userdata)
{
    struct pending_write *pw = userdata;
    struct refusal *f = &pw->refusal;
    const char *user_id = pw->user_id;
    enum offer_action action = pw->action;
    enum offer_party party = offer_rules_party(current, user_id);
    if (party == OFFER_PARTY_NONE) {
        refuse(f, 403, "this offer is not yours to change");
        return false;
    }
    /* If-Match is judged here, on the writer thread inside the transaction, against the state
     * being decided on: re-rendered, so no write can slip between the check and the change. */
    if (!offer_render_if_match(pw->if_match, current)) {
        refuse(f, 412, "the offer changed since your copy (If-Match does not match)");
        return false;
    }
    struct rule_verdict v =
        action == OFFER_ACTION_COUNTER
            ? offer_rules_check_counter(current, user_id, pw->amount, now_ms)
            : offer_rules_check_decision(current, user_id, action, now_ms);
    if (v.result != RULE_OK) {
        refuse(f, rule_status(v.result, false), v.message);
        return false;
    }
    struct offer_effect e = offer_rules_effect(action, party, now_ms);
    change->set_status = true;
    change->status = e.status;
    change->mark_product_sold = e.mark_product_sold;
    change->set_expiry = e.set_expiry;
    change->expires_at_ms = e.expires_at_ms;
    change->add_counter = e.add_counter;
    if (e.add_counter) {
        memcpy(change->counter.id, pw->id, sizeof(change->counter.id));
        change->counter.amount_minor = pw->amount;
        change->counter.message = (char *)pw->message; /* borrowed for the write */
        change->counter.from_seller = e.counter_from_seller;
        change->counter.created_at_ms = now_ms;
    }
    return true;
}

/* A PATCH or counter for r, ready but for its action's fields; NULL (answered) on OOM. */
static struct pending_write *new_decision(struct request *r, json_t *body, unsigned ok_status)
{
    struct pending_write *pw = calloc(1, sizeof(*pw));
    if (!pw) {
        reply_error(r, 500, "internal error");
        return NULL;
    }
    pw->ww.free = pending_free;
    pw->body = body;
    pw->ok_status = ok_status;
    pw->user_id = r->user_id;
    pw->if_match = request_header(r, "If-Match"); /* lives as long as the request */
    pw->cache_ticket = offer_cache_ticket(r->app->offer_cache, r->match.id);
    pw->ww.w.offer_id = r->match.id;
    pw->ww.w.now_ms = clock_now_ms();
    pw->ww.w.decide = decide;
    pw->ww.w.userdata = pw;
    return pw;
}

void handle_decide_offer(struct request *r)
{
    json_t *body = begin_write(r);
    if (!body)
        return;
    enum offer_action action;
    const char *status = json_string_value(json_object_get(body, "status"));
    if (status && strcmp(status, "ACCEPTED") == 0) {
        action = OFFER_ACTION_ACCEPT;
    } else if (status && strcmp(status, "REJECTED") == 0) {
        action = OFFER_ACTION_REJECT;
    } else {
        reply_error(r, 400, "status must be \"ACCEPTED\" or \"REJECTED\"");
        json_decref(body);
        return;
    }
    struct pending_write *pw = new_decision(r, body, 200);
    if (!pw) {
        json_decref(body);
        return;
    }
    pw->action = action;
    write_wait_submit(r, &pw->ww);
}

void handle_counter_offer(struct request *r)
{
    json_t *body = begin_write(r);
    if (!body)
        return;
    int64_t amount = 0;
    const char *message = NULL;
    struct pending_write *pw = NULL;
    if (!read_proposal(r, body, &amount, &message) || !(pw = new_decision(r, body, 201))) {
        json_decref(body);
        return;
    }
    if (!request_new_id("ctr_", pw->id, sizeof(pw->id))) {
        log_error("no randomness for a new counter offer id");
        reply_error(r, 500, "internal error");
        pending_free(&pw->ww); /* and body with it */
        return;
    }
    pw->action = OFFER_ACTION_COUNTER;
    pw->amount = amount;
    pw->message = message;
    write_wait_submit(r, &pw->ww);
}
