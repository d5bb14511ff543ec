/* longpoll.h - hold GET /api/offers/{id}?wait=N (or /api/offers/poll?ids=..&wait=N, for many
 * offers) until an offer changes or N seconds pass.
 *
 * The held request costs no thread: its connection is suspended and a notify waiter resumes it
 * on a change, at its deadline (or when the caller's token expires), or at shutdown. The handler
 * then runs again from the top, re-checking the token and the offer, and answers 200 or 304.
 * The hold is the request's state (request.h): released, waiter and admission, when it completes.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_LONGPOLL_H
#define OFFERD_LONGPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/limits.h"
#include "http/request.h"

#define LONGPOLL_MAX_WAIT_S LIMITS_MAX_WAIT_S

/* True once this request was held and its time is up (deadline, token expiry, shutdown): the
 * handler answers 304 now instead of holding again. */
bool longpoll_is_over(const struct request *r);

/* True when r was held and has been woken: it runs again and answers what many requests held on
 * the same offer answer alike. */
bool longpoll_was_held(const struct request *r);

/* Holds r (the client's copy of offer_id is current) for wait_s seconds from its first hold, or
 * answers 429 when the caps are reached; true either way. False when offerd is shutting down:
 * the caller answers 304 at once. seen_seq is notify_seq() from before the store read. */
bool longpoll_hold(struct request *r, const char *offer_id, int wait_s, uint64_t seen_seq);

/* The same for the offer_count (1..NOTIFY_MAX_KEYS) offers of offer_ids: woken by a change to any
 * of them. One held request against the caps, however many offers it watches. */
bool longpoll_hold_many(struct request *r, const char *const *offer_ids, size_t offer_count,
                        int wait_s, uint64_t seen_seq);

#endif
