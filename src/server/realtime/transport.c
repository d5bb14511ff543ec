/* transport.c - admission and waiter binding shared by the real-time transports.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/transport.h"

#include <string.h>

enum notify_admit transport_admit(struct transport_hold *h, struct request *r)
{
    enum notify_admit admit = notify_admit(r->app->notify, r->user_id);
    if (admit != NOTIFY_ADMITTED)
        return admit;
    h->notify = r->app->notify;
    memcpy(h->user_id, r->user_id, sizeof(h->user_id));
    h->admitted = true;
    return admit;
}

void transport_bind(struct transport_hold *h, struct request *r, notify_wake_fn wake,
                    void *userdata)
{
    h->notify = r->app->notify;
    h->waiter.wake = wake;
    h->waiter.userdata = userdata;
    h->waiter.socket_fd = request_socket_fd(r);
    h->waiter.watch_socket = h->waiter.socket_fd >= 0;
}

void transport_release(struct transport_hold *h)
{
    if (!h->notify)
        return;
    notify_cancel(h->notify, &h->waiter);
    if (h->admitted)
        notify_release(h->notify, h->user_id);
    h->admitted = false;
    h->notify = NULL;
}
