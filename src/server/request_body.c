/* request_body.c - Content-Type check, JSON object parsing with positions, message field, new ids.
 *
 * SPDX-License-Identifier: MIT
 */
#include "request_body.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

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

unsigned request_body_parse_object(const char *content_type, const char *body, size_t len,
                                   json_t **out, char err[REQUEST_BODY_ERROR_SIZE])
{
    *out = NULL;
    if (!request_body_is_json_type(content_type)) {
        snprintf(err, REQUEST_BODY_ERROR_SIZE, "Content-Type must be application/json");
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
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[16];
    size_t plen = strlen(prefix);
    if (plen + 23 > out_size || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return false;
    memcpy(out, prefix, plen);
    char *p = out + plen;
    unsigned bits = 0, acc = 0;
    for (size_t i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *p++ = alphabet[(acc >> bits) & 63];
        }
    }
    if (bits)
        *p++ = alphabet[(acc << (6 - bits)) & 63];
    *p = '\0';
    return true;
}
