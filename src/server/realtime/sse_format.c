/* sse_format.c - formatting and parsing the text of offer event streams (no I/O, no state).
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/sse_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/query.h"
#include "util/fnv1a.h"

int64_t sse_parse_last_event_id(const char *header)
{
    int64_t v;
    return header && query_parse_version(header, &v) ? v : -1;
}

size_t sse_format_event(char *out, size_t size, int64_t version, const char *json, size_t len)
{
    int n = version >= 0 ? snprintf(out, size, "event: offer\nid: %lld\ndata: %.*s\n\n",
                                    (long long)version, (int)len, json)
                         : snprintf(out, size, "event: offer\ndata: %.*s\n\n", (int)len, json);
    return (n > 0 && (size_t)n < size) ? (size_t)n : 0;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint64_t sse_watch_tag(const char *user_id, const char *const *ids, size_t count)
{
    uint64_t h = fnv1a_update(FNV1A_OFFSET_BASIS, user_id, strlen(user_id) + 1);
    if (count == 0)
        return fnv1a_update(h, "*", 1);
    const char **sorted = malloc(count * sizeof(*sorted));
    if (!sorted)
        return 0; /* matches no formatted id's parse in practice: no resume, all sent */
    memcpy(sorted, ids, count * sizeof(*sorted));
    qsort(sorted, count, sizeof(*sorted), compare_ids);
    for (size_t i = 0; i < count; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
            h = fnv1a_update(h, sorted[i], strlen(sorted[i]) + 1);
    free(sorted);
    return h;
}

size_t sse_format_resume_id(char *out, size_t size, int64_t seq, uint64_t tag)
{
    int n = snprintf(out, size, "%lld:%016" PRIx64, (long long)seq, tag);
    return (n > 0 && (size_t)n < size) ? (size_t)n : 0;
}

bool sse_parse_resume_id(const char *header, int64_t *seq, uint64_t *tag)
{
    if (!header)
        return false;
    const char *colon = strchr(header, ':');
    char digits[24];
    size_t n = colon ? (size_t)(colon - header) : 0;
    if (n == 0 || n >= sizeof(digits) || strlen(colon + 1) != 16)
        return false;
    memcpy(digits, header, n);
    digits[n] = '\0';
    if (!query_parse_version(digits, seq))
        return false;
    uint64_t t = 0;
    for (const char *p = colon + 1; *p; p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            return false;
        t = t << 4 | (uint64_t)d;
    }
    *tag = t;
    return true;
}
