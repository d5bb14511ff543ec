/* test_offer_codec.c - unit tests for offer_codec.c: ISO times, offer JSON, error bodies.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "domain/money.h"
#include "domain/offer.h"
#include "domain/offer_codec.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

static char *dup_text(const char *s)
{
    if (!s)
        return NULL;
    char *copy = strdup(s);
    assert_non_null(copy);
    return copy;
}

static void set_id(char id[OFFER_ID_SIZE], const char *value)
{
    assert_true(strlen(value) < OFFER_ID_SIZE);
    strcpy(id, value);
}

static void set_person(struct person *p, const char *id, const char *first, const char *last)
{
    set_id(p->id, id);
    p->first_name = dup_text(first);
    p->last_name = dup_text(last);
}

/* Every field set, two images, two counter offers. Free with offer_cleanup(). */
static void full_offer(struct offer *o)
{
    memset(o, 0, sizeof(*o));
    set_id(o->id, "off_1");
    o->version = 3;
    o->status = OFFER_STATUS_COUNTERED;
    o->amount_minor = 15000;
    o->message = dup_text("Would you take \u00A3150? \"best\" price");
    set_id(o->product_id, "prod_1");
    set_id(o->buyer_id, "user_b");
    set_id(o->seller_id, "user_s");
    o->created_at_ms = 1795600800123LL;
    o->updated_at_ms = 1795690800000LL;
    o->has_expiry = true;
    o->expires_at_ms = 1796295600000LL;

    set_id(o->product.id, "prod_1");
    set_id(o->product.seller_id, "user_s");
    o->product.title = dup_text("Titleist TSR3 Driver");
    o->product.price_minor = 18050;
    o->product.is_sold = true;
    o->product.image_count = 2;
    o->product.images = calloc(2, sizeof(*o->product.images));
    assert_non_null(o->product.images);
    o->product.images[0].url = dup_text("https://img.example/a.jpg");
    o->product.images[1].url = dup_text("https://img.example/b.jpg");

    set_person(&o->buyer, "user_b", "Ada", "Lovelace");
    set_person(&o->seller, "user_s", "S\xC3\xB8ren", "Kierkegaard");

    o->counter_count = 2;
    o->counters = calloc(2, sizeof(*o->counters));
    assert_non_null(o->counters);
    set_id(o->counters[0].id, "co_1");
    o->counters[0].amount_minor = 17000;
    o->counters[0].message = dup_text("How about 170?");
    o->counters[0].from_seller = true;
    o->counters[0].created_at_ms = 1795604400000LL;
    set_id(o->counters[1].id, "co_2");
    o->counters[1].amount_minor = 16050;
    o->counters[1].message = NULL;
    o->counters[1].from_seller = false;
    o->counters[1].created_at_ms = 1795690800000LL;
}

static const char full_offer_json[] =
    "{\"id\":\"off_1\",\"version\":3,\"status\":\"COUNTERED\",\"amount\":150,"
    "\"message\":\"Would you take \u00A3150? \\\"best\\\" price\","
    "\"productId\":\"prod_1\",\"buyerId\":\"user_b\",\"sellerId\":\"user_s\","
    "\"createdAt\":\"2026-11-25T10:00:00.123Z\",\"updatedAt\":\"2026-11-26T11:00:00.000Z\","
    "\"expiresAt\":\"2026-12-03T11:00:00.000Z\","
    "\"product\":{\"id\":\"prod_1\",\"title\":\"Titleist TSR3 Driver\",\"price\":180.5,"
    "\"isSold\":true,\"images\":[{\"url\":\"https://img.example/a.jpg\"},{\"url\":\"https://img.example/b.jpg\"}]},"
    "\"buyer\":{\"id\":\"user_b\",\"firstName\":\"Ada\",\"lastName\":\"Lovelace\"},"
    "\"seller\":{\"id\":\"user_s\",\"firstName\":\"S\xC3\xB8ren\",\"lastName\":\"Kierkegaard\"},"
    "\"counterOffers\":["
    "{\"id\":\"co_1\",\"amount\":170,\"message\":\"How about 170?\",\"fromSeller\":true,"
    "\"createdAt\":\"2026-11-25T11:00:00.000Z\"},"
    "{\"id\":\"co_2\",\"amount\":160.5,\"message\":null,\"fromSeller\":false,"
    "\"createdAt\":\"2026-11-26T11:00:00.000Z\"}]}";

/* Only what must be there: no message, expiry, names, images or counter offers. */
static void minimal_offer(struct offer *o)
{
    memset(o, 0, sizeof(*o));
    set_id(o->id, "o");
    o->version = 1;
    o->status = OFFER_STATUS_PENDING;
    o->amount_minor = 9999;
    set_id(o->product_id, "p");
    set_id(o->buyer_id, "b");
    set_id(o->seller_id, "s");
    o->created_at_ms = 0;
    o->updated_at_ms = 1;
    set_id(o->product.id, "p");
    set_id(o->product.seller_id, "s");
    o->product.title = dup_text("Putter");
    o->product.price_minor = 12000;
    set_person(&o->buyer, "b", NULL, NULL);
    set_person(&o->seller, "s", NULL, NULL);
}

static const char minimal_offer_json[] =
    "{\"id\":\"o\",\"version\":1,\"status\":\"PENDING\",\"amount\":99.99,\"message\":null,"
    "\"productId\":\"p\",\"buyerId\":\"b\",\"sellerId\":\"s\","
    "\"createdAt\":\"1970-01-01T00:00:00.000Z\",\"updatedAt\":\"1970-01-01T00:00:00.001Z\","
    "\"expiresAt\":null,"
    "\"product\":{\"id\":\"p\",\"title\":\"Putter\",\"price\":120,\"isSold\":false,"
    "\"images\":[]},"
    "\"buyer\":{\"id\":\"b\",\"firstName\":null,\"lastName\":null},"
    "\"seller\":{\"id\":\"s\",\"firstName\":null,\"lastName\":null},"
    "\"counterOffers\":[]}";

/* Fails unless text is one valid JSON document (jansson checks UTF-8 as it parses). */
static void assert_valid_json(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    if (!value)
        fail_msg("invalid JSON (%s): %s", error.text, text);
    json_decref(value);
}

/* offer_to_text(o) parsed back by jansson (keys keep their order), to look at its values. */
static json_t *offer_parsed(const struct offer *o)
{
    char *text = offer_to_text(o, NULL);
    assert_non_null(text);
    json_error_t error;
    json_t *root = json_loads(text, 0, &error);
    if (!root)
        fail_msg("invalid JSON (%s): %s", error.text, text);
    free(text);
    return root;
}

/* ---- iso_time_format ----------------------------------------------------------------------- */

static void check_time(int64_t ms, const char *expected)
{
    char buf[ISO_TIME_SIZE];
    memset(buf, '#', sizeof(buf));
    char *text = iso_time_format(ms, buf);
    assert_ptr_equal(text, buf);
    if (strcmp(text, expected) != 0)
        fail_msg("%lld formatted as %s, want %s", (long long)ms, text, expected);
}

static void test_iso_time_known_values(void **state)
{
    (void)state;
    check_time(0, "1970-01-01T00:00:00.000Z");
    check_time(999, "1970-01-01T00:00:00.999Z");
    /* 1795600800 s = 20782 days + 36000 s; 2026 starts on day 20454 (56 years, 14 of them leap),
     * so day 328 of 2026 (0-based): 304 days to 1 Nov, so 25 Nov, 10:00:00. */
    check_time(1795600800123LL, "2026-11-25T10:00:00.123Z");
    check_time(1709210096789LL, "2024-02-29T12:34:56.789Z"); /* leap day */
    check_time(951825600000LL, "2000-02-29T12:00:00.000Z");  /* leap century */
    check_time(4107542400000LL, "2100-03-01T00:00:00.000Z"); /* 2100 is not leap */
    check_time(4107542399999LL, "2100-02-28T23:59:59.999Z");
    check_time(-1, "1969-12-31T23:59:59.999Z");
    check_time(-1000, "1969-12-31T23:59:59.000Z");
    check_time(-1001, "1969-12-31T23:59:58.999Z");
    check_time(-30627500277000LL, "0999-06-15T01:02:03.000Z"); /* zero-padded year */
}

static void test_iso_time_clamps(void **state)
{
    (void)state;
    check_time(ISO_TIME_MAX_MS, "9999-12-31T23:59:59.999Z");
    check_time(ISO_TIME_MAX_MS + 1, "9999-12-31T23:59:59.999Z");
    check_time(INT64_MAX, "9999-12-31T23:59:59.999Z");
    check_time(ISO_TIME_MIN_MS, "0000-01-01T00:00:00.000Z");
    check_time(ISO_TIME_MIN_MS - 1, "0000-01-01T00:00:00.000Z");
    check_time(INT64_MIN, "0000-01-01T00:00:00.000Z");
}

/* Civil date from days since 1970-01-01 (H. Hinnant's public algorithm): an oracle independent of
 * gmtime_r. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void test_iso_time_every_day(void **state)
{
    (void)state;
    int64_t first_day = ISO_TIME_MIN_MS / 86400000, last_day = ISO_TIME_MAX_MS / 86400000;
    for (int64_t day = first_day; day <= last_day; day++) {
        int64_t ms_of_day = (day * 7919 % 86400000 + 86400000) % 86400000; /* varied time */
        int64_t y;
        int m, d;
        civil_from_days(day, &y, &m, &d);
        char expected[64];
        snprintf(expected, sizeof(expected), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y,
                 m, d, (int)(ms_of_day / 3600000), (int)(ms_of_day / 60000 % 60),
                 (int)(ms_of_day / 1000 % 60), (int)(ms_of_day % 1000));
        char buf[ISO_TIME_SIZE];
        const char *got = iso_time_format(day * 86400000 + ms_of_day, buf);
        if (strcmp(got, expected) != 0)
            fail_msg("day %lld: got %s, want %s", (long long)day, got, expected);
    }
}

/* ---- offer_to_text / offer_list_to_text ------------------------------------------------ */

static void test_offer_full_text(void **state)
{
    (void)state;
    struct offer o;
    full_offer(&o);
    size_t len = 0;
    char *text = offer_to_text(&o, &len);
    assert_non_null(text);
    assert_string_equal(text, full_offer_json);
    assert_int_equal(len, strlen(full_offer_json));
    assert_valid_json(text);
    free(text);
    offer_cleanup(&o);
}

static void test_offer_minimal_text(void **state)
{
    (void)state;
    struct offer o;
    minimal_offer(&o);
    size_t len = 0;
    char *text = offer_to_text(&o, &len);
    assert_non_null(text);
    assert_string_equal(text, minimal_offer_json);
    assert_int_equal(len, strlen(minimal_offer_json));
    free(text);

    text = offer_to_text(&o, NULL); /* len_out is optional */
    assert_non_null(text);
    free(text);
    offer_cleanup(&o);
}

static void test_offer_json_shape(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "id",        "version", "status",   "amount",    "message",
        "productId", "buyerId", "sellerId", "createdAt", "updatedAt",
        "expiresAt", "product", "buyer",    "seller",    "counterOffers",
    };
    struct offer o;
    full_offer(&o);
    json_t *root = offer_parsed(&o);
    assert_int_equal(json_object_size(root), sizeof(keys) / sizeof(keys[0]));
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value) {
        assert_string_equal(key, keys[i]);
        i++;
    }
    assert_true(json_is_integer(json_object_get(root, "version")));
    assert_true(json_is_integer(json_object_get(root, "amount")));
    assert_true(json_is_real(json_object_get(json_object_get(root, "product"), "price")));
    static const char *const product_keys[] = {"id", "title", "price", "isSold", "images"};
    json_t *product = json_object_get(root, "product");
    assert_int_equal(json_object_size(product), 5);
    i = 0;
    json_object_foreach (product, key, value) {
        assert_string_equal(key, product_keys[i]);
        i++;
    }
    assert_true(json_is_true(json_object_get(product, "isSold")));
    json_t *counters = json_object_get(root, "counterOffers");
    assert_int_equal(json_array_size(counters), 2);
    assert_true(json_is_true(json_object_get(json_array_get(counters, 0), "fromSeller")));
    assert_true(json_is_false(json_object_get(json_array_get(counters, 1), "fromSeller")));
    json_decref(root);
    offer_cleanup(&o);
}

static void test_offer_every_status(void **state)
{
    (void)state;
    static const struct {
        enum offer_status status;
        const char *name;
    } cases[] = {
        {OFFER_STATUS_PENDING, "PENDING"},   {OFFER_STATUS_COUNTERED, "COUNTERED"},
        {OFFER_STATUS_ACCEPTED, "ACCEPTED"}, {OFFER_STATUS_REJECTED, "REJECTED"},
        {OFFER_STATUS_EXPIRED, "EXPIRED"},
    };
    struct offer o;
    minimal_offer(&o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o.status = cases[i].status;
        json_t *root = offer_parsed(&o);
        assert_string_equal(json_string_value(json_object_get(root, "status")), cases[i].name);
        json_decref(root);
    }
    offer_cleanup(&o);
}

static void test_offer_null_title_and_url(void **state)
{
    (void)state;
    struct offer o;
    full_offer(&o);
    free(o.product.title);
    o.product.title = NULL;
    free(o.product.images[1].url);
    o.product.images[1].url = NULL;
    char *text = offer_to_text(&o, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"title\":null,"));
    assert_non_null(strstr(text, "{\"url\":null}]"));
    assert_valid_json(text);
    free(text);
    offer_cleanup(&o);
}

static void test_offer_invalid_utf8(void **state)
{
    (void)state;
    struct offer o;
    full_offer(&o);
    free(o.product.title);
    o.product.title = dup_text("Bad \xC3\x28 title \xFF");
    free(o.buyer.first_name);
    o.buyer.first_name = dup_text("\xE0\x80\x80");
    free(o.counters[0].message);
    o.counters[0].message = dup_text("cut \xE2\x82");
    o.message[0] = (char)0xED; /* a lone surrogate lead in place of the 'W' */

    char *text = offer_to_text(&o, NULL);
    assert_non_null(text);
    assert_valid_json(text);
    assert_non_null(strstr(text, "\"title\":\"Bad \xEF\xBF\xBD( title \xEF\xBF\xBD\","));
    assert_non_null(
        strstr(text, "\"firstName\":\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\",\"lastName\""));
    assert_non_null(strstr(text, "\"message\":\"cut \xEF\xBF\xBD\""));
    assert_non_null(strstr(text, "\"message\":\"\xEF\xBF\xBDould you take"));
    free(text);
    offer_cleanup(&o);
}

static void test_offer_list_text(void **state)
{
    (void)state;
    struct offer offers[2];
    full_offer(&offers[0]);
    minimal_offer(&offers[1]);
    size_t len = 0;
    char *text = offer_list_to_text(offers, 2, "c\"1", &len);
    assert_non_null(text);
    size_t expected_size = strlen(full_offer_json) + strlen(minimal_offer_json) + 64;
    char *expected = malloc(expected_size);
    assert_non_null(expected);
    snprintf(expected, expected_size, "{\"offers\":[%s,%s],\"nextCursor\":\"c\\\"1\"}",
             full_offer_json, minimal_offer_json);
    assert_string_equal(text, expected);
    assert_int_equal(len, strlen(expected));
    free(expected);
    free(text);

    text = offer_list_to_text(NULL, 0, NULL, &len);
    assert_non_null(text);
    assert_string_equal(text, "{\"offers\":[],\"nextCursor\":null}");
    free(text);
    offer_cleanup(&offers[0]);
    offer_cleanup(&offers[1]);
}

/* Every byte 0x01-0x7F in a message comes out escaped exactly as JSON (and jansson) wants: the
 * short escapes, other controls as \u00XX in capitals, '/' and DEL as they are. */
static void test_offer_escapes(void **state)
{
    (void)state;
    struct offer o;
    minimal_offer(&o);
    char all[128];
    for (int i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    o.message = dup_text(all);
    char *text = offer_to_text(&o, NULL);
    assert_non_null(text);
    json_t *reference = json_string(all);
    char *want = json_dumps(reference, JSON_ENCODE_ANY | JSON_COMPACT);
    assert_non_null(want);
    char *at = strstr(text, "\"message\":");
    assert_non_null(at);
    assert_memory_equal(at + strlen("\"message\":"), want, strlen(want));
    assert_non_null(strstr(want, "\\u001F"));
    assert_non_null(strstr(want, "\\b\\t\\n\\u000B\\f\\r"));
    assert_valid_json(text);
    free(want);
    json_decref(reference);
    free(text);
    offer_cleanup(&o);
}

/* A text longer than the writer's first buffer (2 KB) grows it and stays whole. */
static void test_offer_long_text(void **state)
{
    (void)state;
    struct offer o;
    full_offer(&o);
    free(o.message);
    o.message = malloc(10001);
    assert_non_null(o.message);
    memset(o.message, 'x', 10000);
    o.message[10000] = '\0';
    size_t len = 0;
    char *text = offer_to_text(&o, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    static const char old_message[] = "Would you take \u00A3150? \\\"best\\\" price"; /* escaped */
    assert_int_equal(len, strlen(full_offer_json) - strlen(old_message) + 10000);
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "message")), o.message);
    json_decref(root);
    free(text);
    offer_cleanup(&o);
}

/* ---- error_body_text ----------------------------------------------------------------------- */

static void check_error_body(const char *message, const char *expected)
{
    size_t len = 0;
    char *text = error_body_text(message, &len);
    assert_non_null(text);
    assert_string_equal(text, expected);
    assert_int_equal(len, strlen(expected));
    assert_valid_json(text);
    free(text);
}

static void test_error_body(void **state)
{
    (void)state;
    check_error_body("offer not found", "{\"error\":\"offer not found\"}");
    check_error_body("", "{\"error\":\"\"}");
    check_error_body(NULL, "{\"error\":\"unknown error\"}");
    check_error_body("say \"no\"", "{\"error\":\"say \\\"no\\\"\"}");
    check_error_body("a\\b/c", "{\"error\":\"a\\\\b/c\"}");
    check_error_body("line\nnext\ttab\r\b\f", "{\"error\":\"line\\nnext\\ttab\\r\\b\\f\"}");
    check_error_body("\x01\x1f\x7f", "{\"error\":\"\\u0001\\u001F\x7f\"}"); /* DEL is legal raw */
    check_error_body("\u00A35 \U0001F600", "{\"error\":\"\xC2\xA3\x35 \xF0\x9F\x98\x80\"}");

    char *text = error_body_text("x", NULL); /* len_out is optional */
    assert_non_null(text);
    free(text);
}

static void test_error_body_invalid_utf8(void **state)
{
    (void)state;
#define FFFD "\xEF\xBF\xBD"
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\xC3\x28", "a" FFFD "("},               /* lead without continuation */
        {"\x80", FFFD},                            /* lone continuation */
        {"\xC0\xAF", FFFD FFFD},                   /* overlong lead */
        {"\xE0\x80\x80", FFFD FFFD FFFD},          /* overlong 3-byte */
        {"\xED\xA0\x80", FFFD FFFD FFFD},          /* surrogate */
        {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* above U+10FFFF */
        {"\xF5\xFF", FFFD FFFD},                   /* never valid */
        {"cut \xE2\x82", "cut " FFFD},             /* truncated: one maximal subpart */
        {"\xF0\x9F\x98", FFFD},                    /* truncated 4-byte */
        {"\xF0\x9F\x98ok", FFFD "ok"},
        {"\xE2\x82\xAC\xE2\x82", "\xE2\x82\xAC" FFFD},              /* valid euro then a cut one */
        {"\xED\x9F\xBF \xEE\x80\x80", "\xED\x9F\xBF \xEE\x80\x80"}, /* edges around surrogates */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char expected[128];
        snprintf(expected, sizeof(expected), "{\"error\":\"%s\"}", cases[i].out);
        check_error_body(cases[i].in, expected);
    }
#undef FFFD
}

static void test_error_body_random_bytes(void **state)
{
    (void)state;
    /* Any byte string gives valid JSON, and valid UTF-8 passes through unchanged. */
    uint64_t x = 7;
    for (int i = 0; i < 20000; i++) {
        char in[24];
        size_t n = (size_t)(i % 20);
        for (size_t k = 0; k < n; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned char b = (unsigned char)(x >> 56);
            in[k] = (char)(b == 0 ? 'z' : b);
        }
        in[n] = '\0';
        char *text = error_body_text(in, NULL);
        assert_non_null(text);
        json_error_t error;
        json_t *root = json_loads(text, 0, &error);
        if (!root)
            fail_msg("invalid JSON for input %d: %s", i, error.text);
        json_t *direct = json_string(in);
        if (direct) /* the input was valid UTF-8 */
            assert_string_equal(json_string_value(json_object_get(root, "error")), in);
        json_decref(direct);
        json_decref(root);
        free(text);
    }
}

/* ---- allocation failures ------------------------------------------------------------------- */

static long live_allocations;
static long allocations_until_failure = -1; /* -1: never fail */

/* Counts an allocation down to the one that is to fail; false for that one. */
static bool allocation_allowed(void)
{
    if (allocations_until_failure == 0)
        return false;
    if (allocations_until_failure > 0)
        allocations_until_failure--;
    return true;
}

static void *failing_malloc(size_t size)
{
    if (!allocation_allowed())
        return NULL;
    void *p = malloc(size);
    if (p)
        live_allocations++;
    return p;
}

static void counting_free(void *p)
{
    if (p)
        live_allocations--;
    free(p);
}

static void *failing_resize(void *p, size_t size)
{
    if (!allocation_allowed())
        return NULL;
    void *grown = realloc(p, size);
    if (grown && !p)
        live_allocations++;
    return grown;
}

static const struct codec_allocator failing_allocator = {failing_malloc, failing_resize,
                                                         counting_free};

/* Fails the codec's allocations from the 0th, 1st, 2nd... on until a run completes: every run
 * returns NULL or the full text, and frees all it allocated. Returns how many runs failed. */
static long check_allocation_failures(const struct offer *o, const char *expected)
{
    offer_codec_set_allocator(&failing_allocator);
    bool succeeded = false;
    long fail_at = 0;
    for (; !succeeded; fail_at++) {
        assert_true(fail_at < 100000);
        live_allocations = 0;
        allocations_until_failure = fail_at;
        char *text = offer_to_text(o, NULL);
        if (text) { /* no allocation failed: every failure must give NULL */
            assert_string_equal(text, expected);
            counting_free(text);
            succeeded = true;
        }
        if (live_allocations != 0)
            fail_msg("fail_at %ld: %ld allocations leaked", fail_at, live_allocations);

        live_allocations = 0;
        allocations_until_failure = fail_at;
        char *body = error_body_text("nope", NULL);
        if (body)
            counting_free(body);
        if (live_allocations != 0)
            fail_msg("error body, fail_at %ld: %ld leaked", fail_at, live_allocations);
    }
    allocations_until_failure = -1;
    offer_codec_set_allocator(NULL);
    return fail_at - 1;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    struct offer o;
    full_offer(&o);
    assert_true(check_allocation_failures(&o, full_offer_json) >= 1); /* the text's buffer */
    offer_cleanup(&o);

    minimal_offer(&o);
    assert_true(check_allocation_failures(&o, minimal_offer_json) >= 1);
    offer_cleanup(&o);

    /* Two repairs of invalid UTF-8 and a text that outgrows its first buffer: a failure at
     * each of those allocations too. */
    full_offer(&o);
    free(o.product.title);
    o.product.title = dup_text("Bad \xC3\x28 title");
    free(o.buyer.first_name);
    o.buyer.first_name = dup_text("\xFF");
    free(o.message);
    o.message = malloc(5001);
    assert_non_null(o.message);
    memset(o.message, 'm', 5000);
    o.message[5000] = '\0';
    char *expected = offer_to_text(&o, NULL);
    assert_non_null(expected);
    assert_true(check_allocation_failures(&o, expected) >= 4);
    free(expected);
    offer_cleanup(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_time_known_values),
        cmocka_unit_test(test_iso_time_clamps),
        cmocka_unit_test(test_iso_time_every_day),
        cmocka_unit_test(test_offer_full_text),
        cmocka_unit_test(test_offer_minimal_text),
        cmocka_unit_test(test_offer_json_shape),
        cmocka_unit_test(test_offer_every_status),
        cmocka_unit_test(test_offer_null_title_and_url),
        cmocka_unit_test(test_offer_invalid_utf8),
        cmocka_unit_test(test_offer_list_text),
        cmocka_unit_test(test_offer_escapes),
        cmocka_unit_test(test_offer_long_text),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_error_body_invalid_utf8),
        cmocka_unit_test(test_error_body_random_bytes),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
