/* offer_codec.c - renders struct offer as the API's JSON, and error bodies.
 *
 * Written with yajl's streaming generator straight into one growing buffer: building a jansson
 * tree of ~40 values, dumping it and freeing it cost ~140k instructions per offer (two polls' worth
 * of CPU on every write's answer and every cache miss); the generator, which does the escaping and
 * keeps the output well-formed, costs a tenth of that. Text that the main web app wrote as invalid
 * UTF-8 should not turn a read into a 500, nor change a title's type to null, so it is repaired
 * with U+FFFD before yajl sees it (yajl's own check lets overlongs and surrogates through).
 *
 * SPDX-License-Identifier: MIT
 */
#include "domain/offer_codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

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

/* Writes value as exactly width decimal digits, zero-padded (value is in range by construction). */
static char *put_digits(char *p, int value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + width;
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

/* ---- where the texts' memory comes from -------------------------------------------------- */

static const struct codec_allocator default_allocator = {malloc, realloc, free};
static const struct codec_allocator *allocator = &default_allocator;

void offer_codec_set_allocator(const struct codec_allocator *a)
{
    allocator = a ? a : &default_allocator;
}

/* New copy (from the allocator) of s[0..len) with each invalid UTF-8 subpart replaced by U+FFFD,
 * NUL-terminated, its length in *out_len; NULL when out of memory. */
static char *utf8_repair(const char *s, size_t len, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = allocator->alloc(len * 3 + 1); /* worst case: every byte becomes 3 */
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

/* ---- the generator ------------------------------------------------------------------------ */

/* yajl's generator (~600 bytes) lives for one rendering. Its two allocations come from this
 * buffer on the caller's stack instead of the heap: cheaper, nothing to free, and never failing,
 * which matters because yajl 2.1 does not survive a failed allocation inside yajl_gen_alloc (it
 * then frees a NULL buffer). 2 KiB is over three times what yajl 2.1 asks for. */
struct gen_arena {
    _Alignas(max_align_t) unsigned char bytes[2048];
    size_t used;
};

static void *arena_alloc(void *ctx, size_t size)
{
    struct gen_arena *arena = ctx;
    size_t start = (arena->used + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
    if (size > sizeof(arena->bytes) || start > sizeof(arena->bytes) - size)
        return NULL;
    arena->used = start + size;
    return arena->bytes + start;
}

static void *arena_resize(void *ctx, void *p, size_t size)
{
    (void)ctx; /* only yajl's own output buffer grows, and the print callback replaces it */
    (void)p;
    (void)size;
    return NULL;
}

static void arena_release(void *ctx, void *p)
{
    (void)ctx; /* the arena goes with the caller's stack frame */
    (void)p;
}

/* One rendering: yajl writes through print_to_text into text, which grows by doubling. */
struct json_writer {
    yajl_gen gen;
    struct gen_arena arena;
    char *text;
    size_t len, cap;
    bool failed; /* an allocation or a generator call failed: the text is dropped */
};

static void print_to_text(void *ctx, const char *s, size_t n)
{
    struct json_writer *w = ctx;
    if (w->failed || n == 0)
        return;
    if (n > SIZE_MAX / 2 - w->len) {
        w->failed = true;
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 2048; /* one offer is 1-2 KB */
        while (cap < w->len + n + 1)
            cap *= 2;
        char *grown = allocator->resize(w->text, cap);
        if (!grown) {
            w->failed = true;
            return;
        }
        w->text = grown;
        w->cap = cap;
    }
    memcpy(w->text + w->len, s, n);
    w->len += n;
}

static bool writer_open(struct json_writer *w)
{
    w->arena.used = 0;
    w->text = NULL;
    w->len = w->cap = 0;
    w->failed = false;
    yajl_alloc_funcs funcs = {arena_alloc, arena_resize, arena_release, &w->arena};
    w->gen = yajl_gen_alloc(&funcs);
    if (!w->gen)
        return false;
    /* Compact output, '/' not escaped, no UTF-8 check (put_text does a stricter one). */
    yajl_gen_config(w->gen, yajl_gen_print_callback, print_to_text, w);
    return true;
}

/* The text (NUL-terminated, the caller frees it with free() or the allocator set) and its length,
 * or NULL when anything failed; the generator is gone either way. */
static char *writer_close(struct json_writer *w, size_t *len_out)
{
    yajl_gen_free(w->gen);
    if (w->failed || !w->text) {
        allocator->release(w->text);
        return NULL;
    }
    w->text[w->len] = '\0';
    if (len_out)
        *len_out = w->len;
    return w->text;
}

/* Any generator call that fails spoils the text (yajl refuses calls out of order). */
static void record_status(struct json_writer *w, yajl_gen_status status)
{
    if (status != yajl_gen_status_ok)
        w->failed = true;
}

static void put_key(struct json_writer *w, const char *key)
{
    record_status(w, yajl_gen_string(w->gen, (const unsigned char *)key, strlen(key)));
}

static bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *in = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (in[i] < 0x80) {
            i++;
            continue;
        }
        size_t bad_len = 0, n = utf8_sequence(in + i, len - i, &bad_len);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* s[0..len) as a JSON string (repaired if not UTF-8); JSON null for a NULL s. */
static void put_text(struct json_writer *w, const char *s, size_t len)
{
    if (!s) {
        record_status(w, yajl_gen_null(w->gen));
        return;
    }
    if (utf8_valid(s, len)) {
        record_status(w, yajl_gen_string(w->gen, (const unsigned char *)s, len));
        return;
    }
    size_t fixed_len = 0;
    char *fixed = utf8_repair(s, len, &fixed_len);
    if (!fixed) {
        w->failed = true;
        return;
    }
    record_status(w, yajl_gen_string(w->gen, (const unsigned char *)fixed, fixed_len));
    allocator->release(fixed);
}

static void put_optional_text(struct json_writer *w, const char *s)
{
    put_text(w, s, s ? strlen(s) : 0);
}

/* Ids are fixed arrays; never read past one even if it lacks its NUL. */
static void put_id(struct json_writer *w, const char id[OFFER_ID_SIZE])
{
    put_text(w, id, strnlen(id, OFFER_ID_SIZE));
}

static void put_time(struct json_writer *w, int64_t ms)
{
    char buf[ISO_TIME_SIZE];
    record_status(w, yajl_gen_string(w->gen, (const unsigned char *)iso_time_format(ms, buf),
                             ISO_TIME_SIZE - 1));
}

static void put_money(struct json_writer *w, int64_t minor)
{
    char buf[MONEY_FORMAT_SIZE];
    size_t len = money_to_json_text(minor, buf);
    record_status(w, yajl_gen_number(w->gen, buf, len));
}

static void put_integer(struct json_writer *w, int64_t value)
{
    record_status(w, yajl_gen_integer(w->gen, (long long)value));
}

static void put_bool(struct json_writer *w, bool value)
{
    record_status(w, yajl_gen_bool(w->gen, value));
}

static void put_person(struct json_writer *w, const struct person *person)
{
    record_status(w, yajl_gen_map_open(w->gen));
    put_key(w, "id");
    put_id(w, person->id);
    put_key(w, "firstName");
    put_optional_text(w, person->first_name);
    put_key(w, "lastName");
    put_optional_text(w, person->last_name);
    record_status(w, yajl_gen_map_close(w->gen));
}

static void put_product(struct json_writer *w, const struct product *product)
{
    record_status(w, yajl_gen_map_open(w->gen));
    put_key(w, "id");
    put_id(w, product->id);
    put_key(w, "title");
    put_optional_text(w, product->title);
    put_key(w, "price");
    put_money(w, product->price_minor);
    put_key(w, "isSold");
    put_bool(w, product->is_sold);
    put_key(w, "images");
    record_status(w, yajl_gen_array_open(w->gen));
    for (size_t i = 0; i < product->image_count; i++) {
        record_status(w, yajl_gen_map_open(w->gen));
        put_key(w, "url");
        put_optional_text(w, product->images[i].url);
        record_status(w, yajl_gen_map_close(w->gen));
    }
    record_status(w, yajl_gen_array_close(w->gen));
    record_status(w, yajl_gen_map_close(w->gen));
}

static void put_counter(struct json_writer *w, const struct counter_offer *counter)
{
    record_status(w, yajl_gen_map_open(w->gen));
    put_key(w, "id");
    put_id(w, counter->id);
    put_key(w, "amount");
    put_money(w, counter->amount_minor);
    put_key(w, "message");
    put_optional_text(w, counter->message);
    put_key(w, "fromSeller");
    put_bool(w, counter->from_seller);
    put_key(w, "createdAt");
    put_time(w, counter->created_at_ms);
    record_status(w, yajl_gen_map_close(w->gen));
}

static void put_offer(struct json_writer *w, const struct offer *offer)
{
    record_status(w, yajl_gen_map_open(w->gen));
    put_key(w, "id");
    put_id(w, offer->id);
    put_key(w, "version");
    put_integer(w, offer->version);
    put_key(w, "status");
    put_optional_text(w, offer_status_name(offer->status));
    put_key(w, "amount");
    put_money(w, offer->amount_minor);
    put_key(w, "message");
    put_optional_text(w, offer->message);
    put_key(w, "productId");
    put_id(w, offer->product_id);
    put_key(w, "buyerId");
    put_id(w, offer->buyer_id);
    put_key(w, "sellerId");
    put_id(w, offer->seller_id);
    put_key(w, "createdAt");
    put_time(w, offer->created_at_ms);
    put_key(w, "updatedAt");
    put_time(w, offer->updated_at_ms);
    put_key(w, "expiresAt");
    if (offer->has_expiry)
        put_time(w, offer->expires_at_ms);
    else
        record_status(w, yajl_gen_null(w->gen));
    put_key(w, "product");
    put_product(w, &offer->product);
    put_key(w, "buyer");
    put_person(w, &offer->buyer);
    put_key(w, "seller");
    put_person(w, &offer->seller);
    put_key(w, "counterOffers");
    record_status(w, yajl_gen_array_open(w->gen));
    for (size_t i = 0; i < offer->counter_count; i++)
        put_counter(w, &offer->counters[i]);
    record_status(w, yajl_gen_array_close(w->gen));
    record_status(w, yajl_gen_map_close(w->gen));
}

/* ---- the texts ---------------------------------------------------------------------------- */

char *offer_to_text(const struct offer *offer, size_t *len_out)
{
    struct json_writer w;
    if (!writer_open(&w))
        return NULL;
    put_offer(&w, offer);
    return writer_close(&w, len_out);
}

char *offer_list_to_text(const struct offer *offers, size_t count, const char *next_cursor,
                         size_t *len_out)
{
    struct json_writer w;
    if (!writer_open(&w))
        return NULL;
    record_status(&w, yajl_gen_map_open(w.gen));
    put_key(&w, "offers");
    record_status(&w, yajl_gen_array_open(w.gen));
    for (size_t i = 0; i < count; i++)
        put_offer(&w, &offers[i]);
    record_status(&w, yajl_gen_array_close(w.gen));
    put_key(&w, "nextCursor");
    put_optional_text(&w, next_cursor);
    record_status(&w, yajl_gen_map_close(w.gen));
    return writer_close(&w, len_out);
}

char *error_body_text(const char *message, size_t *len_out)
{
    struct json_writer w;
    if (!writer_open(&w))
        return NULL;
    record_status(&w, yajl_gen_map_open(w.gen));
    put_key(&w, "error");
    put_optional_text(&w, message ? message : "unknown error");
    record_status(&w, yajl_gen_map_close(w.gen));
    return writer_close(&w, len_out);
}
