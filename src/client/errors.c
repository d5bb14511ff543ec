/* errors.c - result codes as text, and the per-thread detail behind offerpoll_client_errmsg().
 *
 * The detail is kept per thread (as errno is), tagged with the client it belongs to, so two threads
 * failing on one client never read each other's half-written message.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static const char *const code_text[] = {
    [OFFERPOLL_OK] = "no error",
    [OFFERPOLL_ERR_INVALID_ARGUMENT] = "invalid argument",
    [OFFERPOLL_ERR_NO_MEMORY] = "out of memory",
    [OFFERPOLL_ERR_NOT_INITIALIZED] = "offerpoll_global_init() was not called",
    [OFFERPOLL_ERR_BAD_STATE] = "not allowed in the handle's current state",
    [OFFERPOLL_ERR_BAD_URL] = "bad URL (need an absolute http:// or https:// URL)",
    [OFFERPOLL_ERR_CONNECT] = "could not connect to the server",
    [OFFERPOLL_ERR_TIMEOUT] = "request timed out",
    [OFFERPOLL_ERR_TRANSPORT] = "network or TLS error",
    [OFFERPOLL_ERR_BAD_RESPONSE] = "the server's answer is not an offer",
    [OFFERPOLL_ERR_BAD_REQUEST] = "HTTP 400: bad request",
    [OFFERPOLL_ERR_UNAUTHORIZED] = "HTTP 401: missing, invalid or expired token",
    [OFFERPOLL_ERR_FORBIDDEN] = "HTTP 403: not the offer's buyer or seller",
    [OFFERPOLL_ERR_NOT_FOUND] = "HTTP 404: no such offer",
    [OFFERPOLL_ERR_RATE_LIMITED] = "HTTP 429: too many requests",
    [OFFERPOLL_ERR_SERVER] = "HTTP 5xx: server error",
    [OFFERPOLL_ERR_HTTP] = "unexpected HTTP status",
    [OFFERPOLL_ERR_THREAD] = "could not start the background thread",
    [OFFERPOLL_ERR_INTERNAL] = "internal error (libcurl or pthreads call failed)",
};

static _Thread_local const offerpoll_client *errmsg_owner;
static _Thread_local char errmsg_buf[512];

const char *offerpoll_strerror(enum offerpoll_code code)
{
    if ((unsigned)code >= sizeof code_text / sizeof code_text[0] || !code_text[code])
        return "unknown error code";
    return code_text[code];
}

const char *offerpoll_client_errmsg(const offerpoll_client *client)
{
    if (!client || errmsg_owner != client)
        return "";
    return errmsg_buf;
}

enum offerpoll_code op_fail(const offerpoll_client *c, enum offerpoll_code code, const char *fmt,
                            ...)
{
    if (!c)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg_buf, sizeof errmsg_buf, fmt, ap);
    va_end(ap);
    errmsg_owner = c;
    return code;
}

void op_forget_errmsg(const offerpoll_client *c)
{
    if (errmsg_owner == c) {
        errmsg_owner = NULL;
        errmsg_buf[0] = '\0';
    }
}
