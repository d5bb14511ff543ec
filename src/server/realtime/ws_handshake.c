/* ws_handshake.c - RFC 6455 section 4.2: the checks on the client's handshake, and the answer.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/ws_handshake.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define WS_KEY_LEN 24 /* base64 of the 16 random bytes RFC 6455 asks for */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool ws_header_has_token(const char *list, const char *token)
{
    size_t want = strlen(token);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if ((size_t)(last - p) == want && strncasecmp(p, token, want) == 0)
            return true;
        p = end;
    }
    return false;
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Base64 of exactly 16 bytes: 22 characters of the alphabet, the last one carrying only 2 bits
 * (so one of AQgw), then "==". */
static bool key_is_valid(const char *key)
{
    if (!key || strlen(key) != WS_KEY_LEN || strcmp(key + 22, "==") != 0)
        return false;
    for (int i = 0; i < 22; i++)
        if (!is_base64_char(key[i]))
            return false;
    return strchr("AQgw", key[21]) != NULL;
}

enum ws_handshake_result ws_handshake_check(const char *upgrade, const char *connection,
                                            const char *key, const char *version)
{
    if (!ws_header_has_token(upgrade, "websocket") || !ws_header_has_token(connection, "upgrade"))
        return WS_HANDSHAKE_NOT_UPGRADE;
    if (!version || strcmp(version, "13") != 0)
        return WS_HANDSHAKE_BAD_VERSION;
    if (!key_is_valid(key))
        return WS_HANDSHAKE_BAD_KEY;
    return WS_HANDSHAKE_OK;
}

const char *ws_handshake_message(enum ws_handshake_result r)
{
    switch (r) {
    case WS_HANDSHAKE_OK:
        return "ok";
    case WS_HANDSHAKE_NOT_UPGRADE:
        return "GET /api/ws is a WebSocket: send Upgrade: websocket and Connection: Upgrade";
    case WS_HANDSHAKE_BAD_KEY:
        return "Sec-WebSocket-Key must be the base64 of 16 bytes";
    case WS_HANDSHAKE_BAD_VERSION:
        return "only WebSocket version 13 is supported";
    }
    return "bad WebSocket handshake";
}

bool ws_handshake_accept(const char *key, char out[WS_ACCEPT_SIZE])
{
    char joined[WS_KEY_LEN + sizeof(ws_guid)];
    size_t key_len = strlen(key);
    if (key_len != WS_KEY_LEN)
        return false;
    memcpy(joined, key, key_len);
    memcpy(joined + key_len, ws_guid, sizeof(ws_guid) - 1);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!EVP_Digest(joined, key_len + sizeof(ws_guid) - 1, digest, &digest_len, EVP_sha1(), NULL) ||
        digest_len != 20)
        return false;
    return EVP_EncodeBlock((unsigned char *)out, digest, 20) == WS_ACCEPT_SIZE - 1;
}

/* The host[:port] of an origin "scheme://host[:port]", or NULL. */
static const char *origin_authority(const char *origin)
{
    const char *p = strstr(origin, "://");
    return p && p[3] ? p + 3 : NULL;
}

bool ws_origin_allowed(const char *origin, const char *host,
                       bool (*allowed)(const void *ctx, const char *origin), const void *ctx)
{
    if (!origin)
        return true;
    if (allowed(ctx, origin))
        return true;
    const char *authority = origin_authority(origin);
    return authority && host && strcasecmp(authority, host) == 0;
}
