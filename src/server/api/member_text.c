/* member_text.c - a small scanner over a JSON object's members, for their raw value text.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/member_text.h"

#include <stdint.h>
#include <string.h>

struct scan {
    const char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at s->p; -1 when they are not there. */
static int32_t read_hex4(struct scan *s)
{
    if (s->end - s->p < 4)
        return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(s->p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    s->p += 4;
    return v;
}

/* Compares the next n bytes of the key with name at *at: false once they differ. */
static bool match_bytes(const char *name, size_t *at, const unsigned char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (name[*at] == '\0' || (unsigned char)name[*at] != bytes[i])
            return false;
        (*at)++;
    }
    return true;
}

/* The same for code point cp, as UTF-8. */
static bool match_code_point(const char *name, size_t *at, uint32_t cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return match_bytes(name, at, b, n);
}

/* Reads a string starting at its opening quote (s->p) up to and past its closing quote; when name
 * is not NULL, *equal tells whether its decoded text is exactly name. False on a string that does
 * not end before s->end or a malformed escape. */
static bool read_string(struct scan *s, const char *name, bool *equal)
{
    size_t at = 0;
    bool same = name != NULL;
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        char c = *s->p++;
        if (c == '"') {
            if (equal)
                *equal = same && name[at] == '\0';
            return true;
        }
        if (c != '\\') {
            if (same)
                same = match_bytes(name, &at, (const unsigned char *)&c, 1);
            continue;
        }
        if (s->p >= s->end)
            return false;
        char e = *s->p++;
        uint32_t cp;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            cp = (unsigned char)e;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u': {
            int32_t u = read_hex4(s);
            if (u < 0)
                return false;
            cp = (uint32_t)u;
            /* A high surrogate followed by an escaped low one is one code point. */
            if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->p >= 6 && s->p[0] == '\\' &&
                s->p[1] == 'u') {
                struct scan look = {s->p + 2, s->end};
                int32_t low = read_hex4(&look);
                if (low >= 0xDC00 && low <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
                    s->p = look.p;
                }
            }
            break;
        }
        default:
            return false;
        }
        if (same)
            same = match_code_point(name, &at, cp);
    }
    return false;
}

/* Skips one value starting at s->p (after whitespace), leaving s->p just past it. */
static bool skip_value(struct scan *s)
{
    if (s->p >= s->end)
        return false;
    char c = *s->p;
    if (c == '"')
        return read_string(s, NULL, NULL);
    if (c == '{' || c == '[') {
        size_t depth = 0;
        while (s->p < s->end) {
            c = *s->p;
            if (c == '"') {
                if (!read_string(s, NULL, NULL))
                    return false;
                continue;
            }
            s->p++;
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return true;
            }
        }
        return false;
    }
    /* A number or a literal: up to the next delimiter. */
    const char *start = s->p;
    while (s->p < s->end && !strchr(",}] \t\n\r", *s->p))
        s->p++;
    return s->p > start;
}

bool member_text_find(const char *text, size_t len, const char *name, const char **value,
                      size_t *value_len)
{
    struct scan s = {text, text + len};
    if (!text)
        return false;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return false;
    s.p++;
    for (;;) {
        skip_ws(&s);
        if (s.p >= s.end || *s.p != '"')
            return false; /* '}' of an empty object, or not an object */
        bool equal = false;
        if (!read_string(&s, name, &equal))
            return false;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':')
            return false;
        s.p++;
        skip_ws(&s);
        const char *start = s.p;
        if (!skip_value(&s))
            return false;
        if (equal) {
            *value = start;
            *value_len = (size_t)(s.p - start);
            return true;
        }
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ',')
            return false;
        s.p++;
    }
}
