/* offer_codec.c - renders struct offer as the API's JSON, and error bodies.
 *
 * Every value is built with the jansson _new setters, which steal their argument even on failure
 * and refuse a NULL one, so a failed allocation anywhere shows up as one failed set and a single
 * json_decref of the root frees everything. jansson refuses invalid UTF-8 (json_string returns
 * NULL, as it does when out of memory); text that the main web app wrote badly should not turn a
 * read into a 500, nor change a title's type to null, so such text is repaired with U+FFFD.
 *
 * SPDX-License-Identifier: MIT
 */
#include "domain/offer_codec.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/money.h"

static const char replacement_char[] = "\xEF\xBF\xBD"; /* U+FFFD in UTF-8 */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one; in that case
 * *bad_len gets the length of the maximal invalid subpart to replace (at least 1). RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad_len)
{
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0)
            lo = 0xA0; /* overlong */
        else if (s[0] == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0)
            lo = 0x90; /* overlong */
        else if (s[0] == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *bad_len = 1;
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        bool ok = i < n && s[i] >= (i == 1 ? lo : 0x80) && s[i] <= (i == 1 ? hi : 0xBF);
        if (!ok) {
            *bad_len = i;
            return 0;
        }
    }
    return len;
}

/* New heap copy of s[0..len) with each invalid UTF-8 subpart replaced by U+FFFD, NUL-terminated,
 * its length in *out_len; NULL when out of memory. */
static char *utf8_repair(const char *s, size_t len, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1); /* worst case: every byte becomes 3 */
    if (!out)
        return NULL;
    const unsigned char *in = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t bad_len = 0;
        size_t n = utf8_sequence(in + i, len - i, &bad_len);
        if (n) {
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
        } else {
            memcpy(out + o, replacement_char, 3);
            o += 3;
            i += bad_len;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* New reference to s[0..len) as a JSON string (repaired if not UTF-8); JSON null for a NULL s;
 * NULL when out of memory. */
static json_t *text_value(const char *s, size_t len)
{
    if (!s)
        return json_null();
    json_t *value = json_stringn(s, len);
    if (value)
        return value;
    /* Invalid UTF-8 or out of memory: repair, after which NULL can only mean out of memory. */
    size_t fixed_len = 0;
    char *fixed = utf8_repair(s, len, &fixed_len);
    if (!fixed)
        return NULL;
    value = json_stringn(fixed, fixed_len);
    free(fixed);
    return value;
}

static json_t *optional_text(const char *s) { return text_value(s, s ? strlen(s) : 0); }

/* Ids are fixed arrays; never read past one even if it lacks its NUL. */
static json_t *id_value(const char id[OFFER_ID_SIZE])
{
    return text_value(id, strnlen(id, OFFER_ID_SIZE));
}

static json_t *time_value(int64_t ms)
{
    char buf[ISO_TIME_SIZE];
    return json_string(iso_time_format(ms, buf));
}

/* Writes value as exactly width decimal digits, zero-padded (value is in range by construction). */
static char *put_digits(char *p, int value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + width;
}

static json_t *person_to_json(const struct person *person)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "id", id_value(person->id)) ||
        json_object_set_new(o, "firstName", optional_text(person->first_name)) ||
        json_object_set_new(o, "lastName", optional_text(person->last_name))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *images_to_json(const struct product *product)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < product->image_count; i++) {
        json_t *image = json_object();
        if (json_array_append_new(a, image) ||
            json_object_set_new(image, "url", optional_text(product->images[i].url))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *product_to_json(const struct product *product)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "id", id_value(product->id)) ||
        json_object_set_new(o, "title", optional_text(product->title)) ||
        json_object_set_new(o, "price", money_to_json(product->price_minor)) ||
        json_object_set_new(o, "isSold", json_boolean(product->is_sold)) ||
        json_object_set_new(o, "images", images_to_json(product))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *counter_to_json(const struct counter_offer *counter)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "id", id_value(counter->id)) ||
        json_object_set_new(o, "amount", money_to_json(counter->amount_minor)) ||
        json_object_set_new(o, "message", optional_text(counter->message)) ||
        json_object_set_new(o, "fromSeller", json_boolean(counter->from_seller)) ||
        json_object_set_new(o, "createdAt", time_value(counter->created_at_ms))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *counters_to_json(const struct offer *offer)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < offer->counter_count; i++) {
        if (json_array_append_new(a, counter_to_json(&offer->counters[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* New heap text of value dumped with MONEY_JSON_DUMP_FLAGS; steals value. */
static char *dump_and_release(json_t *value, size_t *len_out)
{
    if (!value)
        return NULL;
    char *text = json_dumps(value, MONEY_JSON_DUMP_FLAGS);
    json_decref(value);
    if (text && len_out)
        *len_out = strlen(text);
    return text;
}

char *iso_time_format(int64_t ms, char buf[ISO_TIME_SIZE])
{
    if (ms < ISO_TIME_MIN_MS)
        ms = ISO_TIME_MIN_MS;
    else if (ms > ISO_TIME_MAX_MS)
        ms = ISO_TIME_MAX_MS;
    /* Floor division, so -1 ms is 999 ms into the second before the epoch. */
    int64_t seconds = ms / 1000;
    int millis = (int)(ms % 1000);
    if (millis < 0) {
        millis += 1000;
        seconds--;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) /* unreachable within the clamp on a 64-bit time_t */
        memset(&tm, 0, sizeof(tm));

    char *p = buf;
    p = put_digits(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = put_digits(p, millis, 3);
    *p++ = 'Z';
    *p = '\0';
    return buf;
}

json_t *offer_to_json(const struct offer *offer)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "id", id_value(offer->id)) ||
        json_object_set_new(o, "version", json_integer(offer->version)) ||
        json_object_set_new(o, "status", json_string(offer_status_name(offer->status))) ||
        json_object_set_new(o, "amount", money_to_json(offer->amount_minor)) ||
        json_object_set_new(o, "message", optional_text(offer->message)) ||
        json_object_set_new(o, "productId", id_value(offer->product_id)) ||
        json_object_set_new(o, "buyerId", id_value(offer->buyer_id)) ||
        json_object_set_new(o, "sellerId", id_value(offer->seller_id)) ||
        json_object_set_new(o, "createdAt", time_value(offer->created_at_ms)) ||
        json_object_set_new(o, "updatedAt", time_value(offer->updated_at_ms)) ||
        json_object_set_new(o, "expiresAt",
                            offer->has_expiry ? time_value(offer->expires_at_ms) : json_null()) ||
        json_object_set_new(o, "product", product_to_json(&offer->product)) ||
        json_object_set_new(o, "buyer", person_to_json(&offer->buyer)) ||
        json_object_set_new(o, "seller", person_to_json(&offer->seller)) ||
        json_object_set_new(o, "counterOffers", counters_to_json(offer))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *offer_to_text(const struct offer *offer, size_t *len_out)
{
    return dump_and_release(offer_to_json(offer), len_out);
}

char *error_body_text(const char *message, size_t *len_out)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "error", optional_text(message ? message : "unknown error"))) {
        json_decref(o);
        return NULL;
    }
    return dump_and_release(o, len_out);
}
