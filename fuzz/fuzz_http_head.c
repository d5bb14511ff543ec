/* fuzz_http_head.c - http_head_check_* on a raw request head, laid out in memory as libmicrohttpd
 * 0.9.75 parses it in place (mhd_head_layout.h), and http_head_check_target on its target.
 *
 * Input: the raw bytes a client sends (request line, fields, blank line; anything after is the
 * body and ignored). Properties of a head that is accepted, checked on the raw bytes: no folded
 * line, no bare CR, nothing but NULs after a NUL in a line (a NUL or two at a line's end cannot be
 * told from the line end's CR and LF, and hide nothing), no field name with anything but token characters, at most one Content-Length (digits
 * only) and one Transfer-Encoding ("chunked"), not both, a Host on HTTP/1.1; and an accepted target
 * holds no "%00", no control byte or space.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "http/http_head.h"
#include "mhd_head_layout.h"

/* The raw head's lines after the request line, as (start, length) without their line ends. */
static void check_raw_head(const uint8_t *raw, size_t len, int minor)
{
    size_t pos = 0;
    /* Lines before the request line that are empty or start with a NUL are skipped. */
    while (pos < len && (raw[pos] == '\0' || raw[pos] == '\n' ||
                         (raw[pos] == '\r' && pos + 1 < len && raw[pos + 1] == '\n'))) {
        const uint8_t *lf = memchr(raw + pos, '\n', len - pos);
        FUZZ_CHECK(lf != NULL);
        pos = (size_t)(lf - raw) + 1;
    }
    bool request_line = true;
    unsigned cl = 0, te = 0, host = 0;
    while (pos < len) {
        size_t start = pos;
        while (pos < len && raw[pos] != '\n')
            pos++;
        FUZZ_CHECK(pos < len); /* the layout found the head's end */
        size_t end = pos;
        if (end > start && raw[end - 1] == '\r')
            end--;
        pos++;
        if (request_line) { /* its target is http_head_check_target's; its method the router's */
            request_line = false;
            continue;
        }
        if (end == start || raw[start] == '\0')
            break; /* the blank line (libmicrohttpd ends the head at a line starting with NUL) */
        bool nul_seen = false;
        for (size_t i = start; i < end; i++) {
            FUZZ_CHECK(raw[i] != '\r'); /* no bare CR */
            FUZZ_CHECK(!nul_seen || raw[i] == '\0'); /* nothing hidden behind a NUL */
            nul_seen = nul_seen || raw[i] == '\0';
        }
        FUZZ_CHECK(raw[start] != ' ' && raw[start] != '\t'); /* no folded line */
        const uint8_t *colon = memchr(raw + start, ':', end - start);
        FUZZ_CHECK(colon != NULL);
        size_t name_len = (size_t)(colon - (raw + start));
        FUZZ_CHECK(name_len > 0);
        for (size_t i = 0; i < name_len; i++)
            FUZZ_CHECK(raw[start + i] > ' ' && raw[start + i] < 0x7f && raw[start + i] != ':');
        const char *name = (const char *)raw + start;
        const uint8_t *v = colon + 1;
        while (v < raw + end && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(raw + end - v);
        while (vlen && v[vlen - 1] == '\0')
            vlen--;
        if (name_len == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
            cl++;
            FUZZ_CHECK(vlen > 0);
            for (size_t i = 0; i < vlen; i++)
                FUZZ_CHECK(v[i] >= '0' && v[i] <= '9');
        } else if (name_len == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
            te++;
            FUZZ_CHECK(vlen == 7 && strncasecmp((const char *)v, "chunked", 7) == 0);
        } else if (name_len == 4 && strncasecmp(name, "Host", 4) == 0) {
            host++;
        }
    }
    FUZZ_CHECK(cl <= 1 && te <= 1 && !(cl && te));
    FUZZ_CHECK(te == 0 || minor >= 1);
    FUZZ_CHECK(minor < 1 || host == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mhd_layout l;
    if (!mhd_layout_parse(&l, (const char *)data, size))
        return 0;
    /* The raw target, as libmicrohttpd's URI callback sees it: its own NUL-terminated copy. */
    char *target = fuzz_strndup((const uint8_t *)l.uri, strlen(l.uri));
    const char *target_problem = http_head_check_target(target);
    if (!target_problem) {
        FUZZ_CHECK(strstr(target, "%00") == NULL);
        for (const char *p = target; *p; p++)
            FUZZ_CHECK((unsigned char)*p > ' ' && (unsigned char)*p != 0x7f);
    }
    free(target);

    struct http_head_check c;
    http_head_check_begin(&c, l.version, strlen(l.version));
    for (size_t i = 0; i < l.field_count; i++)
        http_head_check_field(&c, l.fields[i].name, l.fields[i].name_len, l.fields[i].value,
                              l.fields[i].value_len);
    int minor = l.version[7] >= '0' && l.version[7] <= '9' ? l.version[7] - '0' : 0;
    const char *problem = http_head_check_end(&c, l.head_end, minor);
    if (!problem) {
        size_t head_len = (size_t)(l.head_end - l.buf);
        check_raw_head(data, head_len, minor);
        if (c.cookie)
            FUZZ_CHECK(c.cookie >= l.buf && c.cookie < l.head_end);
    } else {
        FUZZ_CHECK(strlen(problem) > 0);
    }
    mhd_layout_free(&l);
    return 0;
}
