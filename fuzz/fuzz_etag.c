/* fuzz_etag.c - If-None-Match / If-Match values against our tags, and etag_version.
 *
 * Input: "<header value>\0" then 8 bytes of version (big-endian) and the body to make our tag
 * from (etag_make). Checks: etag_make's tag fits ETAG_SIZE and gives its version back (strong and
 * W/); a tag matches itself, and a list holding it anywhere after a comma matches whatever the
 * other entries are; a match is "*" or names the tag's opaque text; If-None-Match and If-Match
 * agree; etag_version accepts exactly the text etag_make prints.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "view/etag.h"
#include "fuzz_common.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_star(const char *v)
{
    while (is_ows(*v))
        v++;
    if (*v != '*')
        return false;
    v++;
    while (is_ows(*v))
        v++;
    return *v == '\0';
}

/* Both comparisons, which must agree; a match must be "*" or name the tag's opaque text. */
static bool matches(const char *value, const char *tag)
{
    bool none_match = etag_none_match(value, tag);
    FUZZ_CHECK(etag_match(value, tag) == none_match);
    if (none_match && !is_star(value)) {
        const char *q = strchr(tag, '"');
        FUZZ_CHECK(q != NULL);
        size_t opaque_len = strlen(q + 1) - 1; /* without the closing quote */
        FUZZ_CHECK(memmem(value, strlen(value), q + 1, opaque_len) != NULL);
    }
    return none_match;
}

static char *join(const char *a, const char *sep, const char *b)
{
    size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
    char *s = malloc(na + ns + nb + 1);
    if (!s)
        abort();
    memcpy(s, a, na);
    memcpy(s + na, sep, ns);
    memcpy(s + na + ns, b, nb + 1);
    return s;
}

/* etag_version accepts value only when it is [W/]"<int64 as %PRId64>-<16 lowercase hex>". */
static void check_version(const char *value)
{
    int64_t v = 77;
    bool ok = etag_version(value, &v);
    if (!ok) {
        FUZZ_CHECK(v == 77);
        return;
    }
    const char *s = strncmp(value, "W/", 2) == 0 ? value + 2 : value;
    char prefix[32];
    int n = snprintf(prefix, sizeof(prefix), "\"%" PRId64 "-", v);
    FUZZ_CHECK(n > 0 && strncmp(s, prefix, (size_t)n) == 0);
    FUZZ_CHECK(strlen(s) == (size_t)n + 17 && s[n + 16] == '"');
    FUZZ_CHECK(strspn(s + n, "0123456789abcdef") == 16);
    FUZZ_CHECK(matches(value, value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_reader r = {data, size};
    char *value = fuzz_piece(&r, NULL);
    int64_t version = (int64_t)fuzz_u64(&r);
    char *body = r.n ? fuzz_strndup(r.p, r.n) : NULL;

    char tag[ETAG_SIZE];
    memset(tag, 'x', sizeof(tag));
    FUZZ_CHECK(etag_make(version, body, r.n, tag) == tag);
    FUZZ_CHECK(memchr(tag, '\0', sizeof(tag)) != NULL);
    int64_t back = 0;
    FUZZ_CHECK(etag_version(tag, &back) && back == version);
    char *weak = join("W/", "", tag);
    FUZZ_CHECK(etag_version(weak, &back) && back == version);

    FUZZ_CHECK(matches(tag, tag) && matches(weak, tag) && matches(tag, weak));
    FUZZ_CHECK(matches("*", tag) && matches(" *\t", tag));
    FUZZ_CHECK(!etag_none_match(NULL, tag) && !etag_match(NULL, tag));
    FUZZ_CHECK(!etag_none_match("", tag));

    /* The client's value on its own, then with our tag on either side of it. */
    matches(value, tag);
    matches(value, weak);
    char *after = join(value, ", ", tag);
    char *before = join(weak, " ,", value);
    FUZZ_CHECK(matches(after, tag));
    FUZZ_CHECK(matches(before, tag));
    /* The value as the tag: never a match unless it is one entity-tag. */
    if (matches(tag, value) || matches(value, value))
        FUZZ_CHECK(value[0] == '"' || strncmp(value, "W/\"", 3) == 0);

    check_version(value);

    free(before);
    free(after);
    free(weak);
    free(body);
    free(value);
    return 0;
}
