/* query.c - strict parsers for the query-string values of the offer routes (pure).
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool already_has(const struct query_ids *out, const char *id)
{
    for (size_t i = 0; i < out->count; i++)
        if (strcmp(out->ids[i], id) == 0)
            return true;
    return false;
}

static enum query_ids_result refuse(struct query_ids *out, enum query_ids_result result)
{
    out->count = 0;
    return result;
}

bool query_parse_version(const char *s, int64_t *out)
{
    if (!s || *s < '0' || *s > '9') /* strtoll would take spaces and a sign */
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

int query_parse_wait(const char *s)
{
    int64_t v;
    if (!s)
        return 0;
    if (!query_parse_version(s, &v) || v < 1 || v > LIMITS_MAX_WAIT_S)
        return -1;
    return (int)v;
}

bool query_parse_limit(const char *s, size_t *limit)
{
    int64_t v;
    if (!s) {
        *limit = QUERY_LIMIT_DEFAULT;
        return true;
    }
    if (!query_parse_version(s, &v) || v < 1 || v > QUERY_LIMIT_MAX)
        return false;
    *limit = (size_t)v;
    return true;
}

enum query_ids_result query_parse_ids(const char *list, struct query_ids *out)
{
    out->count = 0;
    out->text[0] = '\0';
    if (!list)
        return QUERY_IDS_OK;
    size_t len = strlen(list);
    if (len >= sizeof(out->text))
        return QUERY_IDS_TOO_MANY;
    memcpy(out->text, list, len + 1);
    for (char *save = NULL, *tok = strtok_r(out->text, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (!offer_id_is_valid(tok))
            return refuse(out, QUERY_IDS_MALFORMED);
        if (already_has(out, tok))
            continue;
        if (out->count == LIMITS_MAX_OFFERS_PER_WATCH)
            return refuse(out, QUERY_IDS_TOO_MANY);
        out->ids[out->count++] = tok;
    }
    return out->count ? QUERY_IDS_OK : QUERY_IDS_MALFORMED;
}

/* The index of the id text[0..len) in ids, or -1. */
static long index_of(const struct query_ids *ids, const char *text, size_t len)
{
    for (size_t i = 0; i < ids->count; i++)
        if (strncmp(ids->ids[i], text, len) == 0 && ids->ids[i][len] == '\0')
            return (long)i;
    return -1;
}

static bool refuse_versions(const struct query_ids *ids,
                            int64_t versions[LIMITS_MAX_OFFERS_PER_WATCH])
{
    for (size_t i = 0; i < ids->count; i++)
        versions[i] = -1;
    return false;
}

bool query_parse_since_list(const char *list, const struct query_ids *ids,
                            int64_t versions[LIMITS_MAX_OFFERS_PER_WATCH])
{
    for (size_t i = 0; i < ids->count; i++)
        versions[i] = -1;
    if (!list)
        return true;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        const char *colon = memchr(p, ':', n);
        if (n > 0) {
            if (!colon)
                return refuse_versions(ids, versions);
            long at = index_of(ids, p, (size_t)(colon - p));
            const char *digits = colon + 1, *end_of_entry = p + n;
            size_t count = strspn(digits, "0123456789");
            if (at < 0 || versions[at] >= 0 || count == 0 || digits + count != end_of_entry)
                return refuse_versions(ids, versions);
            char *end;
            errno = 0;
            long long v = strtoll(digits, &end, 10);
            if (errno || end != end_of_entry)
                return refuse_versions(ids, versions);
            versions[at] = v;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}
