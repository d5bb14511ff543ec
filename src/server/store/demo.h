/* demo.h - `offerd --demo`: sample users, products and offers, and curl commands to try them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_DEMO_H
#define OFFERD_DEMO_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* Inserts the demo rows unless they are there already (ids start with "demo_"). Offers expire a
 * week after now_ms. Returns 0, or -1 (logged). */
int demo_seed(struct store *s, int64_t now_ms);

/* Prints ready-to-paste curl commands for base_url. With an HS256 secret it mints tokens valid for
 * a day for the demo buyer and seller; without one it says how to bring your own. */
void demo_print(FILE *out, const char *base_url, const char *hs256_secret, int64_t now_ms);

#endif
