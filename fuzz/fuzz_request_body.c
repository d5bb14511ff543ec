/* fuzz_request_body.c - a request body through request_body_parse_object and the field checks the
 * write handlers make: productId (string, offer_id_is_valid), amount (money_from_json), message
 * (request_body_message), status (offer_status_parse).
 *
 * Input: one selector byte, then the body. The selector picks the Content-Type; selector 7 takes
 * it from the input instead, up to the first '\n' (the body is the rest). A charset other than
 * utf-8 is a 415 like a wrong type.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "domain/money.h"
#include "domain/offer.h"
#include "http/request_body.h"

static const char *const content_types[] = {
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    NULL,
    "text/plain",
    "application/jsonx",
    "\tapplication/json ;",
};

/* An accepted amount renders and reads back as itself. */
static void check_money_round_trip(int64_t minor)
{
    FUZZ_CHECK(minor >= 1 && minor <= MONEY_MAX_MINOR);
    char text[MONEY_FORMAT_SIZE];
    size_t len = money_to_json_text(minor, text);
    json_t *back = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    FUZZ_CHECK(back != NULL);
    int64_t again = -1;
    FUZZ_CHECK(money_from_json(back, &again) == MONEY_OK && again == minor);
    char formatted[MONEY_FORMAT_SIZE];
    money_format(minor, formatted, sizeof(formatted));
    FUZZ_CHECK(strlen(formatted) >= 4 && formatted[strlen(formatted) - 3] == '.');
    json_decref(back);
}

static void check_fields(const json_t *obj)
{
    char err[REQUEST_BODY_ERROR_SIZE];

    const json_t *product = json_object_get(obj, "productId");
    if (json_is_string(product)) {
        const char *s = json_string_value(product);
        bool valid = offer_id_is_valid(s);
        if (valid)
            FUZZ_CHECK(strlen(s) == json_string_length(product) && strlen(s) <= OFFER_ID_MAX);
    }

    const json_t *amount = json_object_get(obj, "amount");
    int64_t minor = -7;
    enum money_result mr = money_from_json(amount, &minor);
    FUZZ_CHECK(money_result_message(mr) != NULL);
    if (mr == MONEY_OK)
        check_money_round_trip(minor);
    else
        FUZZ_CHECK(minor == -7); /* left alone on failure */
    if (!amount)
        FUZZ_CHECK(mr == MONEY_NOT_A_NUMBER);

    const char *message = (const char *)&minor; /* must be overwritten */
    memset(err, 'x', sizeof(err));
    if (request_body_message(obj, &message, err)) {
        if (message) {
            size_t n = strlen(message);
            FUZZ_CHECK(n >= 1 && n <= REQUEST_MESSAGE_MAX);
            FUZZ_CHECK(n == json_string_length(json_object_get(obj, "message")));
        }
    } else {
        FUZZ_CHECK(message == NULL);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    }

    const char *status = json_string_value(json_object_get(obj, "status"));
    enum offer_status parsed = OFFER_STATUS_EXPIRED;
    if (status && offer_status_parse(status, &parsed))
        FUZZ_CHECK(strcmp(offer_status_name(parsed), status) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned selector = data[0] % 8;
    const uint8_t *body = data + 1;
    size_t body_len = size - 1;
    char *ct_copy = NULL;
    const char *content_type;
    if (selector == 7) {
        const uint8_t *nl = memchr(body, '\n', body_len);
        size_t n = nl ? (size_t)(nl - body) : body_len;
        ct_copy = fuzz_strndup(body, n);
        content_type = ct_copy;
        body += nl ? n + 1 : n;
        body_len -= nl ? n + 1 : n;
    } else {
        content_type = content_types[selector];
    }
    /* Exactly body_len bytes, no NUL after them: the parser must respect len. */
    char *body_copy = body_len ? malloc(body_len) : NULL;
    if (body_len) {
        if (!body_copy)
            abort();
        memcpy(body_copy, body, body_len);
    }

    json_t *obj = (json_t *)&selector; /* must be overwritten */
    char err[REQUEST_BODY_ERROR_SIZE];
    memset(err, 'x', sizeof(err));
    unsigned status = request_body_parse_object(content_type, body_copy, body_len, &obj, err);
    if (status == 0) {
        FUZZ_CHECK(obj != NULL && json_is_object(obj));
        FUZZ_CHECK(request_body_is_json_type(content_type));
        FUZZ_CHECK(request_body_charset_is_utf8(content_type));
        check_fields(obj);
        json_decref(obj);
    } else {
        FUZZ_CHECK(obj == NULL);
        FUZZ_CHECK(status == 400 || status == 415);
        FUZZ_CHECK((status == 415) == (!request_body_is_json_type(content_type) ||
                                       !request_body_charset_is_utf8(content_type)));
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    }

    free(body_copy);
    free(ct_copy);
    return 0;
}
