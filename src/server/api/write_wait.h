/* write_wait.h - a write handed to the store's writer thread while its request waits suspended.
 *
 * The handler fills a struct write_wait (embedded in its own record), submits it and returns; the
 * request is suspended (no thread held) and holds the write as its state (request.h). When the
 * writer is done it resumes the request, the handler runs again from the top, takes the finished
 * write back with write_wait_take and answers from its result.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_WRITE_WAIT_H
#define OFFERD_WRITE_WAIT_H

#include "http/request.h"
#include "store/store.h"

struct write_wait {
    struct store_write w;                       /* the caller fills it but for done/done_userdata */
    struct request *r;
    void (*free)(struct write_wait *ww);        /* frees the caller's record holding ww */
};

/* Suspends r until the writer has committed ww->w (or refused it); r owns ww from now on. At
 * shutdown it answers 503 and frees ww instead. */
void write_wait_submit(struct request *r, struct write_wait *ww);

/* On re-entry after the writer's done: the write r waited for, now the caller's (answer from
 * ww->w.result, then write_wait_finish); NULL when r had none. */
struct write_wait *write_wait_take(struct request *r);

/* Counts the write as answered and frees it. */
void write_wait_finish(struct request *r, struct write_wait *ww);

#endif
