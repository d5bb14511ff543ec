/* fuzz_offer_codec.c - offer_to_text on a struct offer filled from the input, and error_body_text.
 *
 * Strings get arbitrary bytes (invalid UTF-8, control characters), ids may lack their NUL, numbers
 * and times take any int64_t value. The output must always be valid JSON (json_loads, else
 * abort()), an object with the 15 keys in order, text that was valid UTF-8 must come back
 * unchanged, and the version and any accepted amount must read back as themselves.
 *
 * Input layout (a reader; running out gives zeros): status byte, version, amount, times (8 bytes
 * each), ids (length byte then bytes), strings (2-byte length, 0xFFFF for NULL, then bytes),
 * image and counter counts (0..3) and theirs, then the error message (the rest).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "domain/money.h"
#include "domain/offer.h"
#include "domain/offer_codec.h"

static void read_id(struct fuzz_reader *r, char id[OFFER_ID_SIZE])
{
    size_t n = fuzz_u8(r) % (OFFER_ID_SIZE + 1); /* 65: no NUL at all */
    memset(id, 0, OFFER_ID_SIZE);
    for (size_t i = 0; i < n; i++)
        id[i] = (char)fuzz_u8(r);
}

static char *read_text(struct fuzz_reader *r)
{
    unsigned hi = fuzz_u8(r), lo = fuzz_u8(r);
    if (hi == 0xFF && lo == 0xFF)
        return NULL;
    size_t n = ((hi << 8) | lo) % 2048;
    if (n > r->n)
        n = r->n;
    char *s = fuzz_strndup(r->p, n); /* an embedded NUL just ends the C string early */
    r->p += n;
    r->n -= n;
    return s;
}

/* Parsed-back string equals the original where that was valid UTF-8; always a string or null. */
static void check_text(const json_t *v, const char *orig, size_t orig_len)
{
    if (!orig) {
        FUZZ_CHECK(json_is_null(v));
        return;
    }
    FUZZ_CHECK(json_is_string(v));
    json_t *probe = json_stringn(orig, orig_len); /* NULL: not valid UTF-8 */
    if (probe) {
        FUZZ_CHECK(json_string_length(v) == orig_len &&
                   memcmp(json_string_value(v), orig, orig_len) == 0);
        json_decref(probe);
    } else {
        FUZZ_CHECK(strstr(json_string_value(v), "\xEF\xBF\xBD") != NULL);
    }
}

static void check_optional(const json_t *v, const char *orig)
{
    check_text(v, orig, orig ? strlen(orig) : 0);
}

static void check_id(const json_t *v, const char id[OFFER_ID_SIZE])
{
    check_text(v, id, strnlen(id, OFFER_ID_SIZE));
}

static void check_amount(const json_t *v, int64_t minor)
{
    FUZZ_CHECK(json_is_number(v));
    if (minor >= 1 && minor <= MONEY_MAX_MINOR) {
        int64_t back = 0;
        FUZZ_CHECK(money_from_json(v, &back) == MONEY_OK && back == minor);
    }
}

static void check_time(const json_t *v)
{
    FUZZ_CHECK(json_is_string(v) && json_string_length(v) == ISO_TIME_SIZE - 1);
}

static void check_person(const json_t *v, const struct person *p)
{
    FUZZ_CHECK(json_is_object(v) && json_object_size(v) == 3);
    check_id(json_object_get(v, "id"), p->id);
    check_optional(json_object_get(v, "firstName"), p->first_name);
    check_optional(json_object_get(v, "lastName"), p->last_name);
}

static void check_offer_json(const char *text, size_t len, const struct offer *o)
{
    static const char *const keys[] = {
        "id",       "version",   "status",    "amount",   "message",
        "productId", "buyerId",  "sellerId",  "createdAt", "updatedAt",
        "expiresAt", "product",  "buyer",     "seller",   "counterOffers",
    };
    FUZZ_CHECK(strlen(text) == len);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root) {
        fprintf(stderr, "offer_to_text gave invalid JSON (%s at %d): %s\n", jerr.text,
                jerr.position, text);
        abort();
    }
    FUZZ_CHECK(json_is_object(root));
    FUZZ_CHECK(json_object_size(root) == sizeof(keys) / sizeof(keys[0]));
    /* Keys in exactly the documented order. */
    const char *prev = text;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char quoted[32];
        snprintf(quoted, sizeof(quoted), "\"%s\":", keys[i]);
        const char *at = strstr(prev, quoted);
        FUZZ_CHECK(at != NULL);
        prev = at;
    }

    check_id(json_object_get(root, "id"), o->id);
    json_t *version = json_object_get(root, "version");
    FUZZ_CHECK(json_is_integer(version) && json_integer_value(version) == o->version);
    FUZZ_CHECK(json_is_string(json_object_get(root, "status")));
    check_amount(json_object_get(root, "amount"), o->amount_minor);
    check_optional(json_object_get(root, "message"), o->message);
    check_id(json_object_get(root, "productId"), o->product_id);
    check_id(json_object_get(root, "buyerId"), o->buyer_id);
    check_id(json_object_get(root, "sellerId"), o->seller_id);
    check_time(json_object_get(root, "createdAt"));
    check_time(json_object_get(root, "updatedAt"));
    if (o->has_expiry)
        check_time(json_object_get(root, "expiresAt"));
    else
        FUZZ_CHECK(json_is_null(json_object_get(root, "expiresAt")));

    json_t *product = json_object_get(root, "product");
    FUZZ_CHECK(json_is_object(product));
    check_id(json_object_get(product, "id"), o->product.id);
    check_optional(json_object_get(product, "title"), o->product.title);
    check_amount(json_object_get(product, "price"), o->product.price_minor);
    json_t *images = json_object_get(product, "images");
    FUZZ_CHECK(json_is_array(images) && json_array_size(images) == o->product.image_count);
    for (size_t i = 0; i < o->product.image_count; i++)
        check_optional(json_object_get(json_array_get(images, i), "url"),
                       o->product.images[i].url);

    check_person(json_object_get(root, "buyer"), &o->buyer);
    check_person(json_object_get(root, "seller"), &o->seller);

    json_t *counters = json_object_get(root, "counterOffers");
    FUZZ_CHECK(json_is_array(counters) && json_array_size(counters) == o->counter_count);
    for (size_t i = 0; i < o->counter_count; i++) {
        json_t *c = json_array_get(counters, i);
        FUZZ_CHECK(json_object_size(c) == 5);
        check_id(json_object_get(c, "id"), o->counters[i].id);
        check_amount(json_object_get(c, "amount"), o->counters[i].amount_minor);
        check_optional(json_object_get(c, "message"), o->counters[i].message);
        FUZZ_CHECK(json_is_boolean(json_object_get(c, "fromSeller")) &&
                   json_is_true(json_object_get(c, "fromSeller")) == o->counters[i].from_seller);
        check_time(json_object_get(c, "createdAt"));
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    struct offer o;
    memset(&o, 0, sizeof(o));

    o.status = (enum offer_status)(fuzz_u8(&r) % 7); /* 5 and 6 are not statuses */
    o.version = (int64_t)fuzz_u64(&r);
    o.amount_minor = (int64_t)fuzz_u64(&r);
    o.created_at_ms = (int64_t)fuzz_u64(&r);
    o.updated_at_ms = (int64_t)fuzz_u64(&r);
    uint8_t flags = fuzz_u8(&r);
    o.has_expiry = flags & 1;
    o.expires_at_ms = (int64_t)fuzz_u64(&r);
    read_id(&r, o.id);
    read_id(&r, o.product_id);
    read_id(&r, o.buyer_id);
    read_id(&r, o.seller_id);
    o.message = read_text(&r);

    read_id(&r, o.product.id);
    read_id(&r, o.product.seller_id);
    o.product.title = read_text(&r);
    o.product.price_minor = (int64_t)fuzz_u64(&r);
    o.product.is_sold = flags & 2;
    o.product.image_count = fuzz_u8(&r) % 4;
    if (o.product.image_count) {
        o.product.images = calloc(o.product.image_count, sizeof(*o.product.images));
        if (!o.product.images)
            abort();
        for (size_t i = 0; i < o.product.image_count; i++)
            o.product.images[i].url = read_text(&r);
    }

    struct person *people[] = {&o.buyer, &o.seller};
    for (size_t i = 0; i < 2; i++) {
        read_id(&r, people[i]->id);
        people[i]->first_name = read_text(&r);
        people[i]->last_name = read_text(&r);
    }

    o.counter_count = fuzz_u8(&r) % 4;
    if (o.counter_count) {
        o.counters = calloc(o.counter_count, sizeof(*o.counters));
        if (!o.counters)
            abort();
        for (size_t i = 0; i < o.counter_count; i++) {
            struct counter_offer *c = &o.counters[i];
            read_id(&r, c->id);
            c->amount_minor = (int64_t)fuzz_u64(&r);
            c->message = read_text(&r);
            c->from_seller = fuzz_u8(&r) & 1;
            c->created_at_ms = (int64_t)fuzz_u64(&r);
        }
    }

    size_t len = 0;
    char *text = offer_to_text(&o, &len);
    FUZZ_CHECK(text != NULL); /* only NULL when out of memory */
    check_offer_json(text, len, &o);
    free(text);

    /* The rest of the input as an error message. */
    char *message = fuzz_strndup(r.p, r.n);
    size_t elen = 0;
    char *body = error_body_text(message, &elen);
    FUZZ_CHECK(body != NULL && strlen(body) == elen);
    json_t *err = json_loads(body, 0, NULL);
    FUZZ_CHECK(json_is_object(err) && json_object_size(err) == 1);
    check_optional(json_object_get(err, "error"), message);
    json_decref(err);
    free(body);
    free(message);

    offer_cleanup(&o);
    return 0;
}
