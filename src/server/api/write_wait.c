/* write_wait.c - suspend a request while the writer thread commits its write, resume it after.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/write_wait.h"

#include <stdatomic.h>

#include "http/reply.h"

/* A request that ends while its write waits (only at shutdown) frees the write with it. */
static void release_write(struct request *r, void *state)
{
    (void)r;
    struct write_wait *ww = state;
    ww->free(ww);
}

static const struct request_state_ops write_state = {"write", release_write};

static void write_done(struct store_write *w)
{
    struct write_wait *ww = w->done_userdata;
    request_resume(ww->r);
}

void write_wait_submit(struct request *r, struct write_wait *ww)
{
    struct app *app = r->app;
    atomic_fetch_add(&app->pending_writes, 1);
    if (atomic_load(&app->stopping)) {
        atomic_fetch_sub(&app->pending_writes, 1);
        ww->free(ww);
        struct reply_header h = {"Retry-After", "2"};
        reply_error_with(r, 503, "shutting down; retry shortly", &h, 1);
        return;
    }
    ww->r = r;
    ww->w.done = write_done;
    ww->w.done_userdata = ww;
    request_set_state(r, ww, &write_state);
    request_suspend(r); /* before submitting: the writer may finish before we return */
    store_submit(app->store, &ww->w);
}

struct write_wait *write_wait_take(struct request *r)
{
    return request_take_state(r, &write_state);
}

void write_wait_finish(struct request *r, struct write_wait *ww)
{
    ww->free(ww);
    atomic_fetch_sub(&r->app->pending_writes, 1);
}
