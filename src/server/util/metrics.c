/* metrics.c - Prometheus counters for offerd: requests by route and status, latency, in flight.
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MIN 100
#define STATUS_SLOTS 500    /* 100..599 */

static const double bucket_bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
#define BUCKETS (sizeof(bucket_bounds_s) / sizeof(bucket_bounds_s[0]))

struct metrics {
    const char *names[METRICS_MAX_ROUTES];
    size_t routes;      /* including the "none" slot */
    atomic_uint_fast64_t requests[METRICS_MAX_ROUTES][STATUS_SLOTS];
    atomic_uint_fast64_t buckets[METRICS_MAX_ROUTES][BUCKETS];
    atomic_uint_fast64_t count[METRICS_MAX_ROUTES];
    atomic_uint_fast64_t sum_us[METRICS_MAX_ROUTES];
    atomic_int_fast64_t in_flight;
};

struct metrics *metrics_new(const char *const *route_names, size_t route_count)
{
    if (route_count + 1 > METRICS_MAX_ROUTES)
        return NULL;
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    for (size_t i = 0; i < route_count; i++)
        m->names[i] = route_names[i];
    m->names[route_count] = "none";
    m->routes = route_count + 1;
    return m;
}

void metrics_free(struct metrics *m)
{
    free(m);
}

size_t metrics_route_none(const struct metrics *m)
{
    return m->routes - 1;
}

void metrics_request_started(struct metrics *m)
{
    atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
}

void metrics_request_finished(struct metrics *m, size_t route, unsigned status,
                              int64_t duration_us)
{
    atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
    if (route >= m->routes)
        route = m->routes - 1;
    if (status >= STATUS_MIN && status < STATUS_MIN + STATUS_SLOTS)
        atomic_fetch_add_explicit(&m->requests[route][status - STATUS_MIN], 1,
                                  memory_order_relaxed);
    if (duration_us < 0)
        duration_us = 0;
    double s = (double)duration_us / 1e6;
    for (size_t b = 0; b < BUCKETS; b++) {
        if (s <= bucket_bounds_s[b]) {
            atomic_fetch_add_explicit(&m->buckets[route][b], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&m->count[route], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[route], (uint_fast64_t)duration_us,
                              memory_order_relaxed);
}

struct buf {
    char *data;
    size_t len, cap;
    int failed;
};

static void appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void appendf(struct buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n;
        char *nd = realloc(b->data, ncap);
        if (!nd) {
            b->failed = 1;
            return;
        }
        b->data = nd;
        b->cap = ncap;
    }
}

char *metrics_render(struct metrics *m, size_t *len_out)
{
    struct buf b = {malloc(4096), 0, 4096, 0};
    if (!b.data)
        return NULL;
    b.data[0] = '\0';
    appendf(&b, "# HELP offerd_http_requests_total HTTP requests answered, by route and status.\n"
                "# TYPE offerd_http_requests_total counter\n");
    for (size_t r = 0; r < m->routes; r++)
        for (size_t s = 0; s < STATUS_SLOTS; s++) {
            uint64_t v = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
            if (v)
                appendf(&b, "offerd_http_requests_total{route=\"%s\",status=\"%zu\"} %llu\n",
                        m->names[r], s + STATUS_MIN, (unsigned long long)v);
        }
    appendf(&b, "# HELP offerd_http_request_duration_seconds Time from request start to answer.\n"
                "# TYPE offerd_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->routes; r++) {
        uint64_t count = atomic_load_explicit(&m->count[r], memory_order_relaxed);
        if (!count)
            continue;
        uint64_t cumulative = 0;
        for (size_t bk = 0; bk < BUCKETS; bk++) {
            cumulative += atomic_load_explicit(&m->buckets[r][bk], memory_order_relaxed);
            appendf(&b, "offerd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    m->names[r], bucket_bounds_s[bk], (unsigned long long)cumulative);
        }
        appendf(&b,
                "offerd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                "offerd_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                "offerd_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                m->names[r], (unsigned long long)count, m->names[r],
                (double)atomic_load_explicit(&m->sum_us[r], memory_order_relaxed) / 1e6,
                m->names[r], (unsigned long long)count);
    }
    appendf(&b, "# HELP offerd_http_requests_in_flight Requests being answered right now.\n"
                "# TYPE offerd_http_requests_in_flight gauge\n"
                "offerd_http_requests_in_flight %lld\n",
            (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    if (len_out)
        *len_out = b.len;
    return b.data;
}
