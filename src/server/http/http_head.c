/* http_head.c - refuse request heads whose framing a proxy could read differently.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/http_head.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 5.6.2 token characters */
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

static void fail(struct http_head_check *c, const char *reason)
{
    if (!c->reason)
        c->reason = reason;
}

/* The next line starts right after the previous one's line end, which libmicrohttpd turned into
 * one NUL (LF) or two (CRLF). Compared as integers: a folded field lives in another block. */
static bool starts_next_line(const char *line_end, const char *next)
{
    uintptr_t gap = (uintptr_t)next - (uintptr_t)line_end;
    if (gap == 1)
        return line_end[0] == '\0';
    if (gap == 2)
        return line_end[0] == '\0' && line_end[1] == '\0';
    return false;
}

void http_head_check_begin(struct http_head_check *c, const char *version, size_t version_len)
{
    memset(c, 0, sizeof(*c));
    c->line_end = version + version_len;
}

static bool digits_only(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

void http_head_check_field(struct http_head_check *c, const char *name, size_t name_len,
                           const char *value, size_t value_len)
{
    if (c->reason)
        return;
    if (!starts_next_line(c->line_end, name)) {
        fail(c, "malformed request head (a folded line, or bytes hidden behind a NUL)");
        return;
    }
    /* name, the NUL that was ':', optional blanks, the value: nothing else between. */
    const char *p = name + name_len;
    if ((uintptr_t)value <= (uintptr_t)p || *p != '\0') {
        fail(c, "malformed header line");
        return;
    }
    for (p++; p != value; p++) {
        if (*p != ' ' && *p != '\t') {
            fail(c, "malformed header line");
            return;
        }
    }
    c->line_end = value + value_len;
    if (name_len == 0) {
        fail(c, "empty header name");
        return;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!is_tchar((unsigned char)name[i])) {
            fail(c, "invalid character in a header name");
            return;
        }
    }
    for (size_t i = 0; i < value_len; i++) {
        if (is_ctl((unsigned char)value[i])) {
            fail(c, "control character (CR, NUL...) in a header value");
            return;
        }
    }
    if (name_is(name, name_len, "Content-Length")) {
        if (++c->content_lengths > 1)
            fail(c, "more than one Content-Length");
        else if (!digits_only(value, value_len))
            fail(c, "malformed Content-Length");
    } else if (name_is(name, name_len, "Transfer-Encoding")) {
        /* Only "chunked", once: anything else libmicrohttpd would read up to the peer's close. */
        if (++c->transfer_encodings > 1)
            fail(c, "more than one Transfer-Encoding");
        else if (!name_is(value, value_len, "chunked"))
            fail(c, "unsupported Transfer-Encoding (only chunked)");
    } else if (name_is(name, name_len, "Host")) {
        if (++c->hosts > 1)
            fail(c, "more than one Host");
    } else if (name_is(name, name_len, "Cookie")) {
        if (!c->cookie)
            c->cookie = value;
    }
}

const char *http_head_check_end(struct http_head_check *c, const char *head_end, int http_minor)
{
    if (c->reason)
        return c->reason;
    /* The last line's end and the blank line: two to four NULs (each CRLF or LF), nothing else. */
    uintptr_t gap = (uintptr_t)head_end - (uintptr_t)c->line_end;
    if (gap < 2 || gap > 4)
        return "malformed request head (bytes hidden behind a NUL)";
    for (uintptr_t i = 0; i < gap; i++)
        if (c->line_end[i] != '\0')
            return "malformed request head (bytes hidden behind a NUL)";
    if (c->content_lengths && c->transfer_encodings)
        return "Content-Length and Transfer-Encoding together";
    if (c->transfer_encodings && http_minor < 1)
        return "Transfer-Encoding in an HTTP/1.0 request";
    if (http_minor >= 1 && c->hosts == 0)
        return "HTTP/1.1 request without Host";
    return NULL;
}

const char *http_head_check_target(const char *raw_target)
{
    bool in_path = true;
    for (const char *p = raw_target; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= ' ' || ch == 0x7f)
            return "control character or space in the request target";
        if (ch == '?')
            in_path = false;
        if (ch == '%' && p[1] == '0' && p[2] == '0')
            return "encoded NUL (%00) in the request target";
        if (in_path && ch == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == 'f'))
            return "encoded slash (%2F) in the path";
    }
    return NULL;
}
