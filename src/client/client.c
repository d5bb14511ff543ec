/* client.c - global init, clients, the background thread that drives all of a client's watches,
 * and the one-shot synchronous fetch.
 *
 * One thread per client runs a libcurl multi handle: it plans every watch (starting requests that
 * are due), sleeps in curl_multi_poll until the next is due or a transfer needs it, and reports
 * finished transfers. Other threads never touch the multi handle; they change settings under the
 * client lock and call curl_multi_wakeup, the one multi call libcurl allows from any thread.
 *
 * SPDX-License-Identifier: MIT
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "internal.h"

#define IDLE_WAIT_MS 60000 /* the worker re-plans at least this often even when idle */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t global_cond = PTHREAD_COND_INITIALIZER;
static unsigned global_init_count;      /* global_lock */
static unsigned global_detached_workers; /* global_lock: clients freed from their own callback */

static bool token_is_valid(const char *token)
{
    for (const unsigned char *p = (const unsigned char *)token; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

/* Accepts an absolute http(s) URL without query or fragment; libcurl's URL parser decides. */
static bool base_url_is_valid(const char *url)
{
    CURLU *u = curl_url();
    if (!u)
        return false;
    bool ok = false;
    char *scheme = NULL, *host = NULL, *query = NULL, *fragment = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)
        goto out;
    ok = (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && host[0] != '\0';
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_free(fragment);
    curl_url_cleanup(u);
    return ok;
}

static char *dup_token(const char *token)
{
    return token && token[0] ? strdup(token) : NULL;
}

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

/* Frees everything C owns. The worker is gone (joined, or this is its last act). */
static void client_destroy(offerpoll_client *c)
{
    struct offerpoll_watch *w = c->watches, *next;
    for (; w; w = next) {
        next = w->next;
        op_watch_cancel(w);
        op_watch_destroy(w);
    }
    op_batch_cleanup(c);
    curl_multi_cleanup(c->multi);
    wipe_free(c->token);
    free(c->base_url);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Reports every finished transfer (a watch's own request or the refetch beside it). Stops early
 * when the client is being freed. */
static void drain(offerpoll_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle; /* m is invalid once the handle is removed */
        CURLcode rc = m->data.result;
        if (easy == c->batch.x.easy) { /* the long-poll the watches share */
            curl_multi_remove_handle(c->multi, easy);
            op_batch_finished(c, rc);
            pthread_mutex_lock(&c->lock);
            bool quit = c->quit;
            pthread_mutex_unlock(&c->lock);
            if (quit)
                return;
            continue;
        }
        struct offerpoll_watch *w = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&w);
        curl_multi_remove_handle(c->multi, easy);

        pthread_mutex_lock(&c->lock);
        bool side = w->side_in_flight && easy == w->side.easy;
        if (side) {
            w->side_in_flight = false;
        } else {
            w->in_flight = false;
            if (w->held) {
                c->held_in_flight--;
                w->held = false;
            }
        }
        c->busy = w;
        bool quit = c->quit;
        pthread_mutex_unlock(&c->lock);

        if (!quit && side)
            op_poll_report(w, &w->side, rc, true);
        else if (!quit)
            w->transport->finished(w, rc);

        pthread_mutex_lock(&c->lock);
        c->busy = NULL;
        pthread_cond_broadcast(&c->cond);
        quit = c->quit;
        pthread_mutex_unlock(&c->lock);
        if (quit)
            return;
    }
}

static void *worker_main(void *arg)
{
    offerpoll_client *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->quit) {
        int64_t now = op_now_ms(), timeout = IDLE_WAIT_MS;
        op_batch_decide(c);
        struct offerpoll_watch *w = c->watches, *next;
        for (; w; w = next) {
            next = w->next; /* plan may free w */
            op_watch_plan(w, now, &timeout);
        }
        op_batch_plan(c, now, &timeout);
        pthread_mutex_unlock(&c->lock);

        int running;
        curl_multi_poll(c->multi, NULL, 0, (int)timeout, NULL);
        curl_multi_perform(c->multi, &running);
        drain(c);
        op_watch_progress_all(c); /* events the streams brought */

        pthread_mutex_lock(&c->lock);
    }
    for (struct offerpoll_watch *w = c->watches; w; w = w->next) {
        op_watch_cancel(w);
        if (w->state == OP_WATCH_RUNNING)
            w->state = OP_WATCH_STOPPED;
    }
    op_batch_cleanup(c);
    pthread_cond_broadcast(&c->cond);
    bool detached = c->detached;
    pthread_mutex_unlock(&c->lock);

    if (detached) {
        client_destroy(c);
        pthread_mutex_lock(&global_lock);
        global_detached_workers--;
        pthread_cond_broadcast(&global_cond);
        pthread_mutex_unlock(&global_lock);
    }
    return NULL;
}

bool op_is_initialized(void)
{
    pthread_mutex_lock(&global_lock);
    bool ok = global_init_count > 0;
    pthread_mutex_unlock(&global_lock);
    return ok;
}

int64_t op_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool op_on_worker(const offerpoll_client *c)
{
    return c->thread_started && pthread_equal(pthread_self(), c->thread);
}

enum offerpoll_code op_client_ensure_thread(offerpoll_client *c)
{
    if (c->thread_started)
        return OFFERPOLL_OK;
    /* The worker takes no signals: they belong to the application's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, worker_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return OFFERPOLL_ERR_THREAD;
    c->thread_started = true;
    return OFFERPOLL_OK;
}

void op_client_wake(offerpoll_client *c)
{
    curl_multi_wakeup(c->multi);
}

const char *offerpoll_version(void)
{
    return OFFERPOLL_VERSION;
}

unsigned offerpoll_version_hex(void)
{
    return OFFERPOLL_VERSION_HEX;
}

enum offerpoll_code offerpoll_global_init(void)
{
    enum offerpoll_code code = OFFERPOLL_OK;
    pthread_mutex_lock(&global_lock);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
        global_init_count++;
    else
        code = OFFERPOLL_ERR_INTERNAL;
    pthread_mutex_unlock(&global_lock);
    return code;
}

void offerpoll_global_cleanup(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_init_count == 0) {
        pthread_mutex_unlock(&global_lock);
        return;
    }
    if (global_init_count == 1) {
        while (global_detached_workers > 0)
            pthread_cond_wait(&global_cond, &global_lock);
    }
    global_init_count--;
    curl_global_cleanup();
    pthread_mutex_unlock(&global_lock);
}

enum offerpoll_code offerpoll_client_new(const char *base_url, const char *token,
                                         offerpoll_client **out)
{
    if (!out)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!op_is_initialized())
        return OFFERPOLL_ERR_NOT_INITIALIZED;
    if (!base_url || (token && !token_is_valid(token)))
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    if (!base_url_is_valid(base_url))
        return OFFERPOLL_ERR_BAD_URL;

    offerpoll_client *c = calloc(1, sizeof *c);
    if (!c)
        return OFFERPOLL_ERR_NO_MEMORY;
    size_t len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    c->base_url = strndup(base_url, len);
    c->token = dup_token(token);
    c->multi = curl_multi_init();
    if (!c->base_url || (token && token[0] && !c->token) || !c->multi) {
        curl_multi_cleanup(c->multi);
        wipe_free(c->token);
        free(c->base_url);
        free(c);
        return OFFERPOLL_ERR_NO_MEMORY;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)OP_MAX_HOST_CONNECTIONS);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->connect_timeout_ms = OP_DEFAULT_CONNECT_TIMEOUT_MS;
    c->request_timeout_ms = OP_DEFAULT_REQUEST_TIMEOUT_MS;
    c->backoff_initial_ms = OP_DEFAULT_BACKOFF_INITIAL_MS;
    c->backoff_max_ms = OP_DEFAULT_BACKOFF_MAX_MS;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)c ^
             ((uint64_t)getpid() << 40);
    *out = c;
    return OFFERPOLL_OK;
}

void offerpoll_client_free(offerpoll_client *client)
{
    if (!client)
        return;
    op_forget_errmsg(client);
    pthread_mutex_lock(&client->lock);
    client->quit = true;
    bool started = client->thread_started;
    if (started && op_on_worker(client)) {
        /* Inside a callback: the worker tears down once the callback returns. */
        client->detached = true;
        pthread_mutex_unlock(&client->lock);
        pthread_mutex_lock(&global_lock);
        global_detached_workers++;
        pthread_mutex_unlock(&global_lock);
        pthread_detach(pthread_self());
        return;
    }
    pthread_mutex_unlock(&client->lock);
    if (started) {
        curl_multi_wakeup(client->multi);
        pthread_join(client->thread, NULL);
    }
    client_destroy(client);
}

enum offerpoll_code offerpoll_client_set_token(offerpoll_client *client, const char *token)
{
    if (!client)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    if (token && !token_is_valid(token))
        return op_fail(client, OFFERPOLL_ERR_INVALID_ARGUMENT, "token has control characters");
    char *copy = dup_token(token);
    if (token && token[0] && !copy)
        return op_fail(client, OFFERPOLL_ERR_NO_MEMORY, "out of memory");
    pthread_mutex_lock(&client->lock);
    char *old = client->token;
    client->token = copy;
    pthread_mutex_unlock(&client->lock);
    wipe_free(old);
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_client_set_timeouts_ms(offerpoll_client *client, uint32_t connect_ms,
                                                     uint32_t request_ms)
{
    if (!client)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&client->lock);
    if (connect_ms)
        client->connect_timeout_ms = connect_ms;
    if (request_ms)
        client->request_timeout_ms = request_ms;
    pthread_mutex_unlock(&client->lock);
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_client_set_backoff_ms(offerpoll_client *client, uint32_t initial_ms,
                                                    uint32_t max_ms)
{
    if (!client)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    if (initial_ms == 0 || max_ms < initial_ms)
        return op_fail(client, OFFERPOLL_ERR_INVALID_ARGUMENT,
                       "backoff needs 0 < initial_ms <= max_ms");
    pthread_mutex_lock(&client->lock);
    client->backoff_initial_ms = initial_ms;
    client->backoff_max_ms = max_ms;
    pthread_mutex_unlock(&client->lock);
    return OFFERPOLL_OK;
}

enum offerpoll_code offerpoll_fetch(offerpoll_client *client, const char *offer_id,
                                    offerpoll_offer **out)
{
    if (!out)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (!client)
        return OFFERPOLL_ERR_INVALID_ARGUMENT;

    /* A watch that is never started is the simplest holder of the URL and the checks. */
    offerpoll_watch *w;
    enum offerpoll_code code = offerpoll_watch_new(client, offer_id, &w);
    if (code != OFFERPOLL_OK)
        return code;

    struct op_exchange x = {0};
    struct op_request req;
    pthread_mutex_lock(&client->lock);
    op_watch_request(w, &req);
    code = op_exchange_prepare(&x, &req, NULL); /* copies the token into its headers */
    pthread_mutex_unlock(&client->lock);
    if (code != OFFERPOLL_OK) {
        op_fail(client, code, "%s", offerpoll_strerror(code));
        goto out;
    }

    struct op_result r;
    op_exchange_result(&x, curl_easy_perform(x.easy), &r);
    code = r.code;
    if (code != OFFERPOLL_OK) {
        op_fail(client, code, "%s", r.message);
        goto out;
    }
    char why[OP_MESSAGE_MAX];
    code = op_decode_offer(x.body ? x.body : "", x.body_len, x.has_etag ? x.etag : NULL, out, why,
                           sizeof why);
    if (code != OFFERPOLL_OK) {
        op_fail(client, code, "HTTP %ld: %s", r.http_status, why);
    } else if (!op_offer_is_for(*out, offer_id)) {
        offerpoll_offer_free(*out);
        *out = NULL;
        code = OFFERPOLL_ERR_BAD_RESPONSE;
        op_fail(client, code, "HTTP %ld: the server answered with another offer than %s",
                r.http_status, offer_id);
    }
out:
    op_exchange_cleanup(&x);
    offerpoll_watch_free(w);
    return code;
}
