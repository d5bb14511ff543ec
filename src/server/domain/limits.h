/* limits.h - protocol limits of the offers API (SPEC.md), shared by every layer that enforces them.
 *
 * They are facts of the protocol, not of the module that happens to enforce them, so they live at
 * the bottom: the query parser (http/), notify's key table and the transports (realtime/) all
 * refer to these, and none of them has to include another to learn a number.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_LIMITS_H
#define OFFERD_LIMITS_H

/* Offers one watch may name: ?ids= of a poll or a stream, one notify waiter's keys. */
#define LIMITS_MAX_OFFERS_PER_WATCH 64

/* The longest ?wait=N a long-poll may ask for, in seconds. */
#define LIMITS_MAX_WAIT_S 60

#endif
