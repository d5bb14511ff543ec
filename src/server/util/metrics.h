/* metrics.h - request counters, a latency histogram and gauges, rendered as Prometheus text.
 *
 * Lock-free: relaxed atomics updated from every worker thread. Routes are identified by their
 * index in the route table (plus METRICS_ROUTE_NONE for unmatched requests).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_METRICS_H
#define OFFERD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_ROUTES 24

struct metrics;

/* route_names[i] labels route i; the last label is used for unmatched requests. New object;
 * free with metrics_free. route_count must be < METRICS_MAX_ROUTES. */
struct metrics *metrics_new(const char *const *route_names, size_t route_count);
void metrics_free(struct metrics *m);

/* The index to record unmatched requests under. */
size_t metrics_route_none(const struct metrics *m);

void metrics_request_started(struct metrics *m);
void metrics_request_finished(struct metrics *m, size_t route, unsigned status,
                              int64_t duration_us);

/* Renders the exposition text. New heap string, caller frees with free(); NULL on OOM. */
char *metrics_render(struct metrics *m, size_t *len_out);

#endif
