/* request_body.c - Content-Type check, JSON object parsing with positions, message field, new ids.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/request_body.h"
#include "util/clock.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

bool request_body_is_json_type(const char *content_type)
{
    static const char json[] = "application/json";
    if (!content_type)
        return false;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    size_t n = sizeof(json) - 1;
    if (strncasecmp(content_type, json, n) != 0)
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool request_body_charset_is_utf8(const char *content_type)
{
    const char *p = content_type ? strchr(content_type, ';') : NULL;
    while (p) {
        p = skip_ows(p + 1);
        const char *name = p;
        while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t name_len = (size_t)(p - name);
        p = skip_ows(p);
        if (*p != '=') {
            p = strchr(p, ';');
            continue;
        }
        p = skip_ows(p + 1);
        const char *value = p;
        size_t value_len;
        if (*p == '"') { /* quoted-string; charset names need no escapes */
            value = ++p;
            while (*p && *p != '"')
                p++;
            value_len = (size_t)(p - value);
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ';' && *p != ' ' && *p != '\t')
                p++;
            value_len = (size_t)(p - value);
        }
        if (name_len == 7 && strncasecmp(name, "charset", 7) == 0 &&
            !(value_len == 5 && strncasecmp(value, "utf-8", 5) == 0))
            return false;
        p = strchr(p, ';');
    }
    return true;
}

unsigned request_body_parse_object(const char *content_type, const char *body, size_t len,
                                   json_t **out, char err[REQUEST_BODY_ERROR_SIZE])
{
    *out = NULL;
    if (!request_body_is_json_type(content_type)) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "Content-Type must be application/json");
        return 415;
    }
    if (!request_body_charset_is_utf8(content_type)) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "Content-Type charset must be utf-8");
        return 415;
    }
    if (!body || len == 0) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "request body must be a JSON object");
        return 400;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "malformed JSON at line %d, column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        return 400;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "request body must be a JSON object");
        return 400;
    }
    *out = root;
    return 0;
}

bool request_body_message(const json_t *obj, const char **message,
                          char err[REQUEST_BODY_ERROR_SIZE])
{
    *message = NULL;
    const json_t *m = json_object_get(obj, "message");
    if (!m || json_is_null(m))
        return true;
    if (!json_is_string(m)) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "message must be a string");
        return false;
    }
    size_t len = json_string_length(m);
    const char *text = json_string_value(m);
    if (len > REQUEST_MESSAGE_MAX) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "message is too long (at most %d bytes)",
                 REQUEST_MESSAGE_MAX);
        return false;
    }
    if (strlen(text) != len) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "message must not contain NUL characters");
        return false;
    }
    *message = len ? text : NULL;
    return true;
}

bool request_new_id(const char *prefix, char *out, size_t out_size)
{
    /* In ASCII order, so ids sort by the time in their first 8 characters: a new offer's key then
     * lands at the right-hand end of every index on id (the primary key, the change log's) instead
     * of on a random page, which keeps each write's WAL frames few. The other 14 characters are 84
     * random bits: ids stay unguessable and unique. */
    static const char alphabet[] =
        "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    enum { TIME_CHARS = 8, RANDOM_CHARS = 14 };
    unsigned char raw[RANDOM_CHARS];
    size_t plen = strlen(prefix);
    if (plen + TIME_CHARS + RANDOM_CHARS + 1 > out_size ||
        getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return false;
    uint64_t ms = (uint64_t)clock_now_ms();
    memcpy(out, prefix, plen);
    char *p = out + plen;
    for (int i = TIME_CHARS - 1; i >= 0; i--) { /* 48 bits, most significant first */
        p[i] = alphabet[ms & 63];
        ms >>= 6;
    }
    p += TIME_CHARS;
    for (size_t i = 0; i < sizeof(raw); i++)
        *p++ = alphabet[raw[i] & 63];
    *p = '\0';
    return true;
}
