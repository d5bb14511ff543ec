/* etag.c - our entity tags, and If-None-Match / If-Match lists compared against them.
 *
 * Parses entity-tags by RFC 9110 8.8.3 (entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE) and compares
 * them weakly (8.8.3.2). A malformed list entry is skipped from its start to the next comma, so one
 * bad entry from a client or proxy never hides a good one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "view/etag.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/fnv1a.h"

#define HASH_HEX_LEN 16

/* One parsed entity-tag; opaque points at the text between its quotes (borrowed). */
struct tag {
    const char *opaque;
    size_t len;
    bool weak;
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Parses one entity-tag at *p; on success fills t and moves *p just past the closing quote. */
static bool parse_tag(const char **p, struct tag *t)
{
    const char *s = *p;

    t->weak = s[0] == 'W' && s[1] == '/';
    if (t->weak)
        s += 2;
    if (*s != '"')
        return false;
    const char *start = ++s;
    while (is_etagc((unsigned char)*s))
        s++;
    if (*s != '"')
        return false;
    t->opaque = start;
    t->len = (size_t)(s - start);
    *p = s + 1;
    return true;
}

/* True when s is exactly one entity-tag (no surrounding text). */
static bool parse_whole_tag(const char *s, struct tag *t)
{
    return s && parse_tag(&s, t) && *s == '\0';
}

/* The shared list walk for If-None-Match and If-Match: "*" or a weakly equal tag. */
static bool list_matches(const char *value, const char *etag)
{
    struct tag ours, theirs;
    const char *p = value;

    if (!value || !parse_whole_tag(etag, &ours))
        return false;
    while (is_ows(*p))
        p++;
    if (*p == '*') {
        const char *q = p + 1;
        while (is_ows(*q))
            q++;
        if (*q == '\0')
            return true;
    }
    while (*p) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        if (parse_tag(&p, &theirs)) {
            while (is_ows(*p))
                p++;
            if (*p == ',' || *p == '\0') {
                if (theirs.len == ours.len && memcmp(theirs.opaque, ours.opaque, ours.len) == 0)
                    return true;
                continue;
            }
        }
        const char *comma = strchr(start, ','); /* malformed: skip to the next entry */
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

char *etag_make(int64_t version, const char *body, size_t len, char buf[ETAG_SIZE])
{
    uint64_t h = fnv1a_update(FNV1A_OFFSET_BASIS, body, len); /* body may be NULL when len is 0 */
    snprintf(buf, ETAG_SIZE, "\"%" PRId64 "-%016" PRIx64 "\"", version, h);
    return buf;
}

bool etag_none_match(const char *if_none_match, const char *etag)
{
    return list_matches(if_none_match, etag);
}

bool etag_match(const char *if_match, const char *etag)
{
    return list_matches(if_match, etag);
}

bool etag_version(const char *etag, int64_t *version_out)
{
    struct tag t;

    if (!parse_whole_tag(etag, &t) || t.len < HASH_HEX_LEN + 2)
        return false;
    const char *s = t.opaque;
    const char *hex = t.opaque + t.len - HASH_HEX_LEN;
    for (const char *h = hex; h < t.opaque + t.len; h++) {
        if (!is_lower_hex(*h))
            return false;
    }
    if (hex[-1] != '-')
        return false;

    /* [-]digits as etag_make prints them: no '+', no leading zeros, within int64. */
    bool negative = *s == '-';
    if (negative)
        s++;
    const char *digits_end = hex - 1;
    if (s == digits_end || (*s == '0' && digits_end - s > 1) || (negative && *s == '0'))
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; s < digits_end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (negative)
        *version_out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *version_out = (int64_t)v;
    return true;
}
