/* request.c - reading one request and holding it: header and query access, suspend and resume,
 * the client's socket, and the request's one slot of per-request state.
 *
 * The daemon (http_server.c) creates and frees struct request; everything a handler or a
 * transport does to a request it holds goes through here, so neither has to know the daemon.
 *
 * SPDX-License-Identifier: MIT
 */
#include "http/request.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

const char *request_header(const struct request *r, const char *name)
{
    /* MHD's lookup would find the decoy first; the client's own was found by the head check. */
    if (strcasecmp(name, MHD_HTTP_HEADER_COOKIE) == 0)
        return r->cookie;
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *request_query(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void request_suspend(struct request *r)
{
    MHD_suspend_connection(r->conn);
    r->suspended = true;
}

void request_resume(void *request)
{
    struct request *r = request;
    MHD_resume_connection(r->conn);
}

int request_socket_fd(const struct request *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? (int)ci->connect_fd : -1;
}

void request_set_state(struct request *r, void *state, const struct request_state_ops *ops)
{
    assert(!r->state_ops && ops && ops->release); /* one owner at a time */
    r->state = state;
    r->state_ops = ops;
}

void *request_state(const struct request *r, const struct request_state_ops *ops)
{
    return r->state_ops == ops ? r->state : NULL;
}

void *request_take_state(struct request *r, const struct request_state_ops *ops)
{
    if (r->state_ops != ops)
        return NULL;
    void *state = r->state;
    r->state = NULL;
    r->state_ops = NULL;
    return state;
}

void request_release_state(struct request *r)
{
    const struct request_state_ops *ops = r->state_ops;
    if (!ops)
        return;
    void *state = r->state;
    r->state = NULL;
    r->state_ops = NULL;
    ops->release(r, state);
}
