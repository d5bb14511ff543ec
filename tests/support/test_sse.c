/* test_sse.c - a libcurl transfer on its own thread, collecting an event stream.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_sse.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "test_http.h"

struct sse_reader {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *data;
    size_t len;
    bool ended;
    long status;
    atomic_bool stop;
    char url[1024];
    char auth[8192];
    char extra[1024];
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sse_reader *s = userdata;
    size_t n = size * nmemb;
    pthread_mutex_lock(&s->lock);
    char *nd = realloc(s->data, s->len + n + 1);
    if (nd) {
        memcpy(nd + s->len, ptr, n);
        s->len += n;
        nd[s->len] = '\0';
        s->data = nd;
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return nd ? n : 0;
}

static int on_progress(void *userdata, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    struct sse_reader *s = userdata;
    return atomic_load(&s->stop) ? 1 : 0;
}

static void *run(void *arg)
{
    struct sse_reader *s = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (s->auth[0])
        h = curl_slist_append(h, s->auth);
    if (s->extra[0])
        h = curl_slist_append(h, s->extra);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pthread_mutex_lock(&s->lock);
    s->status = status;
    s->ended = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct sse_reader *sse_open(const char *url, const char *token, const char *extra_header)
{
    struct sse_reader *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    snprintf(s->url, sizeof(s->url), "%s", url);
    if (token)
        http_bearer_header(s->auth, sizeof(s->auth), token);
    if (extra_header)
        snprintf(s->extra, sizeof(s->extra), "%s", extra_header);
    if (pthread_create(&s->thread, NULL, run, s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

size_t sse_wait_for(struct sse_reader *s, const char *needle, size_t from, int timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    size_t found = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (s->data && from <= s->len) {
            const char *p = strstr(s->data + from, needle);
            if (p) {
                found = (size_t)(p - s->data) + strlen(needle);
                break;
            }
        }
        if (s->ended || pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

bool sse_wait_end(struct sse_reader *s, int timeout_ms)
{
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&s->lock);
    while (!s->ended && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
        ;
    bool ended = s->ended;
    pthread_mutex_unlock(&s->lock);
    return ended;
}

char *sse_text(struct sse_reader *s)
{
    pthread_mutex_lock(&s->lock);
    char *copy = strdup(s->data ? s->data : "");
    pthread_mutex_unlock(&s->lock);
    return copy;
}

long sse_status(struct sse_reader *s)
{
    pthread_mutex_lock(&s->lock);
    long st = s->status;
    pthread_mutex_unlock(&s->lock);
    return st;
}

size_t sse_count(struct sse_reader *s, const char *needle)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (const char *p = s->data; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void sse_close(struct sse_reader *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->data);
    free(s);
}
