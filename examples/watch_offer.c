/* watch_offer.c - libofferpoll in one page: fetch an offer once, then watch it for a while.
 *
 * What useOfferUpdates({offerId, enabled, interval}) does in the web frontend, in C: a watch
 * learns of each change (here in mode AUTO: over Server-Sent Events when the server offers them,
 * else long-polling, else polling every interval; an unchanged offer never calls back), reports
 * each new state to on_update and each failure to on_error, can be paused (enabled), refetched,
 * and stops cleanly. Build it with CMake (find_package(offerpoll), target offerpoll::offerpoll) or
 * with `cc watch_offer.c $(pkg-config --cflags --libs offerpoll)`.
 *
 *   usage: watch_offer BASE_URL OFFER_ID [SECONDS]    (token from $OFFERD_TOKEN)
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <offerpoll.h>

static void on_update(offerpoll_watch *watch, const offerpoll_offer *offer, void *userdata)
{
    (void)watch;
    int *updates = userdata; /* only this thread (the library's) touches it while running */
    ++*updates;
    /* offer is borrowed: copy what you keep (offerpoll_offer_dup) before returning. */
    printf("update: %s v%lld %s amount %lld.%02lld\n", offer->id, (long long)offer->version,
           offer->status_text, (long long)(offer->amount_minor / 100),
           (long long)(offer->amount_minor % 100));
    fflush(stdout);
}

static void on_error(offerpoll_watch *watch, const offerpoll_error *err, void *userdata)
{
    (void)userdata;
    fprintf(stderr, "error: %s (retry in %lld ms)\n", err->message, (long long)err->retry_in_ms);
    /* A wrong token or offer will not fix itself: stop the watch from inside its callback. */
    if (err->code == OFFERPOLL_ERR_UNAUTHORIZED || err->code == OFFERPOLL_ERR_FORBIDDEN ||
        err->code == OFFERPOLL_ERR_NOT_FOUND)
        offerpoll_watch_stop(watch);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BASE_URL OFFER_ID [SECONDS]\n", argv[0]);
        return 2;
    }
    int seconds = argc > 3 ? atoi(argv[3]) : 10;

    if (offerpoll_global_init() != OFFERPOLL_OK)
        return 1;
    int status = 1;
    int updates = 0;
    offerpoll_client *client = NULL;
    offerpoll_watch *watch = NULL;
    offerpoll_offer *offer = NULL;

    enum offerpoll_code code = offerpoll_client_new(argv[1], getenv("OFFERD_TOKEN"), &client);
    if (code != OFFERPOLL_OK) {
        fprintf(stderr, "client: %s\n", offerpoll_strerror(code));
        goto out;
    }

    /* One synchronous fetch: fine in scripts, never inside a callback. */
    code = offerpoll_fetch(client, argv[2], &offer);
    if (code != OFFERPOLL_OK) {
        fprintf(stderr, "fetch: %s (%s)\n", offerpoll_strerror(code),
                offerpoll_client_errmsg(client));
        goto out;
    }
    printf("fetched: %s v%lld %s\n", offer->id, (long long)offer->version, offer->status_text);

    /* A watch: defaults are enabled, 5000 ms and polling, as in the hook; AUTO picks the best
     * transport the server answers (the interval then only paces a fallback to polling). */
    code = offerpoll_watch_new(client, argv[2], &watch);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_set_interval_ms(watch, 1000);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_set_mode(watch, OFFERPOLL_MODE_AUTO);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_set_callbacks(watch, on_update, on_error, &updates);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_start(watch);
    if (code != OFFERPOLL_OK) {
        fprintf(stderr, "watch: %s (%s)\n", offerpoll_strerror(code),
                offerpoll_client_errmsg(client));
        goto out;
    }

    for (int s = 0; s < seconds; s++) {
        sleep_ms(1000);
        if (s == seconds / 2)
            offerpoll_watch_refetch(watch); /* e.g. after the user pressed "refresh" */
    }
    printf("transport: %s, loading: %s, last error: %s\n", offerpoll_watch_transport(watch),
           offerpoll_watch_is_loading(watch) ? "yes" : "no",
           offerpoll_strerror(offerpoll_watch_last_error(watch, NULL)));
    status = 0;
out:
    offerpoll_watch_free(watch); /* stops it: no callback runs after this returns */
    offerpoll_offer_free(offer);
    offerpoll_client_free(client);
    offerpoll_global_cleanup();
    printf("updates seen: %d\n", updates);
    return status;
}
