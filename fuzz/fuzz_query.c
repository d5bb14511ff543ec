/* fuzz_query.c - the parsers of query values and of the header that names a position:
 * cursor_decode (?cursor=), sse_parse_last_event_id and sse_parse_resume_id (Last-Event-ID), and
 * query.h's query_parse_version (?since=), query_parse_wait (?wait=), query_parse_limit (?limit=),
 * query_parse_ids (?ids=a,b,c, which runs offer_id_is_valid on each entry) and
 * query_parse_since_list (?since=a:3,b:1 of the multi-offer long-poll).
 *
 * The numbers are checked against what the text says (all digits, value within int64_t and the
 * documented range); the ids list against a reference splitter written here from query.h's words.
 *
 * Input: the whole input is the value (NUL-terminated copy; an embedded NUL ends it, as it would
 * in a C string from libmicrohttpd), given to every parser in turn.
 *
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/cursor.h"
#include "fuzz_common.h"
#include "domain/limits.h"
#include "domain/offer.h"
#include "http/query.h"
#include "realtime/sse.h"

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

static void check_cursor(const char *text)
{
    struct offer_cursor c;
    memset(&c, 0xA5, sizeof(c)); /* cursor_decode must set every field itself */
    bool ok = cursor_decode(text, &c);
    FUZZ_CHECK(ok == c.valid);
    if (!ok) {
        FUZZ_CHECK(c.created_at_ms == 0 && c.id[0] == '\0');
        return;
    }
    FUZZ_CHECK(c.created_at_ms >= 0);
    FUZZ_CHECK(offer_id_is_valid(c.id));
    FUZZ_CHECK(strlen(text) < CURSOR_TEXT_SIZE);

    /* What decodes re-encodes to a cursor naming the same position. */
    char again[CURSOR_TEXT_SIZE];
    cursor_encode(&c, again);
    struct offer_cursor c2;
    FUZZ_CHECK(cursor_decode(again, &c2));
    FUZZ_CHECK(c2.created_at_ms == c.created_at_ms && strcmp(c2.id, c.id) == 0);
#ifdef OFFERD_FUZZ_STRICT_CURSOR
    /* cursor.h: "Decodes text made by cursor_encode; false for anything else." */
    FUZZ_CHECK(strcmp(again, text) == 0);
#endif
}

/* The digits of text without leading zeros ("0" stays), or NULL unless text is one or more
 * decimal digits. */
static const char *plain_digits(const char *text)
{
    size_t n = strlen(text);
    if (n == 0 || strspn(text, "0123456789") != n)
        return NULL;
    while (text[0] == '0' && text[1] != '\0')
        text++;
    return text;
}

/* True when the digits (no leading zeros) are a value within int64_t. */
static bool digits_fit_int64(const char *digits)
{
    size_t n = strlen(digits);
    return n < 19 || (n == 19 && strcmp(digits, "9223372036854775807") <= 0);
}

static void check_last_event_id(const char *header)
{
    int64_t v = sse_parse_last_event_id(header);
    FUZZ_CHECK(v >= -1);
    if (v < 0)
        return;
    /* Only plain decimal digits are ours; their value, leading zeros aside. */
    const char *digits = plain_digits(header);
    FUZZ_CHECK(digits != NULL);
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    FUZZ_CHECK(strcmp(buf, digits) == 0);
}

/* The multiplexed stream's ids: "<digits>:<16 lowercase hex>" and nothing else; what parses
 * formats back to the same position and tag (leading zeros of the position aside). */
static void check_resume_id(const char *header)
{
    int64_t seq = INT64_MIN;
    uint64_t tag = 0;
    bool ok = sse_parse_resume_id(header, &seq, &tag);
    const char *colon = strchr(header, ':');
    bool shape = colon && strlen(colon + 1) == 16 && strspn(colon + 1, "0123456789abcdef") == 16;
    if (!ok)
        return;
    FUZZ_CHECK(shape && seq >= 0);
    char seq_text[32];
    snprintf(seq_text, sizeof(seq_text), "%.*s", (int)(colon - header), header);
    const char *digits = plain_digits(seq_text);
    FUZZ_CHECK(digits != NULL && digits_fit_int64(digits));
    char again[64];
    size_t n = sse_format_resume_id(again, sizeof(again), seq, tag);
    FUZZ_CHECK(n > 0 && n == strlen(again));
    FUZZ_CHECK(strncmp(again, digits, strlen(digits)) == 0);
    FUZZ_CHECK(strcmp(strchr(again, ':'), colon) == 0);
    int64_t seq2;
    uint64_t tag2;
    FUZZ_CHECK(sse_parse_resume_id(again, &seq2, &tag2) && seq2 == seq && tag2 == tag);
}

/* query_parse_version succeeds exactly when the text is digits whose value fits int64_t, and
 * then gives that value; sse_parse_last_event_id is the same grammar. */
static void check_version(const char *text)
{
    int64_t v = INT64_MIN;
    bool ok = query_parse_version(text, &v);
    const char *digits = plain_digits(text);
    FUZZ_CHECK(ok == (digits && digits_fit_int64(digits)));
    FUZZ_CHECK(sse_parse_last_event_id(text) == (ok ? v : -1));
    if (!ok) {
        FUZZ_CHECK(v == INT64_MIN); /* left alone */
        return;
    }
    FUZZ_CHECK(v >= 0);
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    FUZZ_CHECK(strcmp(buf, digits) == 0);
}

/* wait is 0 only when absent, else -1 or the value when it is 1..LIMITS_MAX_WAIT_S; limit is
 * the default when absent, else the value when it is 1..QUERY_LIMIT_MAX, else refused. */
static void check_wait_and_limit(const char *text)
{
    int64_t v = -1;
    bool number = query_parse_version(text, &v);

    int w = query_parse_wait(text);
    FUZZ_CHECK(w == -1 || (w >= 1 && w <= LIMITS_MAX_WAIT_S));
    FUZZ_CHECK((w > 0) == (number && v >= 1 && v <= LIMITS_MAX_WAIT_S));
    FUZZ_CHECK(w < 0 || w == v);
    FUZZ_CHECK(query_parse_wait(NULL) == 0);

    size_t limit = SIZE_MAX;
    bool ok = query_parse_limit(text, &limit);
    FUZZ_CHECK(ok == (number && v >= 1 && v <= QUERY_LIMIT_MAX));
    FUZZ_CHECK(ok ? (int64_t)limit == v : limit == SIZE_MAX);
    FUZZ_CHECK(query_parse_limit(NULL, &limit) && limit == QUERY_LIMIT_DEFAULT);
}

/* offer.h: [A-Za-z0-9_-]{1,64}, for an entry of n bytes at p (not NUL-terminated). */
static bool reference_id_valid(const char *p, size_t n)
{
    if (n < 1 || n > OFFER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(ID_CHARS, p[i]))
            return false;
    return true;
}

/* query.h's splitter, written independently: the expected result and, when OK, the entries. */
struct ref_entry {
    const char *p;
    size_t n;
};

static enum query_ids_result reference_ids(const char *list, struct ref_entry *out, size_t *count)
{
    *count = 0;
    if (strlen(list) >= QUERY_IDS_TEXT_SIZE)
        return QUERY_IDS_TOO_MANY;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n > 0) {
            /* offer_id_is_valid must agree with the reference on every entry. */
            char id[OFFER_ID_SIZE + 1];
            bool short_enough = n <= OFFER_ID_SIZE;
            if (short_enough) {
                memcpy(id, p, n);
                id[n] = '\0';
                FUZZ_CHECK(offer_id_is_valid(id) == reference_id_valid(p, n));
            }
            if (!reference_id_valid(p, n))
                return QUERY_IDS_MALFORMED;
            bool seen = false;
            for (size_t i = 0; i < *count; i++)
                seen |= out[i].n == n && memcmp(out[i].p, p, n) == 0;
            if (!seen) {
                if (*count == LIMITS_MAX_OFFERS_PER_WATCH)
                    return QUERY_IDS_TOO_MANY;
                out[(*count)++] = (struct ref_entry){p, n};
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return *count ? QUERY_IDS_OK : QUERY_IDS_MALFORMED;
}

static void check_ids(const char *list)
{
    struct ref_entry want[LIMITS_MAX_OFFERS_PER_WATCH];
    size_t want_count;
    enum query_ids_result want_result = reference_ids(list, want, &want_count);

    struct query_ids ids;
    memset(&ids, 0xA5, sizeof(ids));
    enum query_ids_result result = query_parse_ids(list, &ids);
    FUZZ_CHECK(result == want_result);
    if (result != QUERY_IDS_OK) {
        FUZZ_CHECK(ids.count == 0);
        return;
    }
    /* Never more than the max, each id valid and distinct, in the order the list names them. */
    FUZZ_CHECK(ids.count >= 1 && ids.count <= LIMITS_MAX_OFFERS_PER_WATCH && ids.count == want_count);
    for (size_t i = 0; i < ids.count; i++) {
        const char *id = ids.ids[i];
        FUZZ_CHECK(id >= ids.text && id < ids.text + sizeof(ids.text)); /* borrowed from *out */
        FUZZ_CHECK(offer_id_is_valid(id));
        FUZZ_CHECK(strlen(id) == want[i].n && memcmp(id, want[i].p, want[i].n) == 0);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(ids.ids[j], id) != 0);
    }

    struct query_ids none;
    FUZZ_CHECK(query_parse_ids(NULL, &none) == QUERY_IDS_OK && none.count == 0);
}

/* query.h's ?since=ID:VERSION list against ids "a,bb,o_1,0": a reference reading of its words
 * (entries split on commas, empty ones skipped, each ID ':' digits, ID one of ids and named once,
 * the digits a value within int64_t). */
static void check_since_list(const char *list)
{
    static const char *const names[] = {"a", "bb", "o_1", "0"};
    struct query_ids ids;
    FUZZ_CHECK(query_parse_ids("a,bb,o_1,0", &ids) == QUERY_IDS_OK && ids.count == 4);
    int64_t want[4] = {-1, -1, -1, -1};
    bool want_ok = true;
    for (const char *p = list; *p && want_ok;) {
        size_t n = strcspn(p, ",");
        if (n > 0) {
            char entry[QUERY_IDS_TEXT_SIZE];
            want_ok = n < sizeof(entry);
            if (want_ok) {
                memcpy(entry, p, n);
                entry[n] = '\0';
                char *colon = strchr(entry, ':');
                want_ok = colon != NULL;
                if (want_ok) {
                    *colon = '\0';
                    const char *digits = plain_digits(colon + 1);
                    int at = -1;
                    for (int i = 0; i < 4; i++)
                        if (strcmp(entry, names[i]) == 0)
                            at = i;
                    want_ok = at >= 0 && want[at] < 0 && digits && digits_fit_int64(digits);
                    if (want_ok)
                        want[at] = strtoll(digits, NULL, 10);
                }
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    int64_t got[LIMITS_MAX_OFFERS_PER_WATCH];
    bool ok = query_parse_since_list(list, &ids, got);
    FUZZ_CHECK(ok == want_ok);
    for (int i = 0; i < 4; i++)
        FUZZ_CHECK(got[i] == (ok ? want[i] : -1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    char *value = fuzz_piece(&r, NULL);

    check_cursor(value);
    check_last_event_id(value);
    check_resume_id(value);
    check_version(value);
    check_wait_and_limit(value);
    check_ids(value);
    check_since_list(value);

    free(value);
    return 0;
}
