/* cursor.h - the opaque `cursor` of GET /api/offers: a keyset position, encoded for URLs.
 *
 * The text is base64url of "<created_at_ms>.<offer id>", so clients treat it as opaque while it
 * stays debuggable. Pure.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_CURSOR_H
#define OFFERD_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define CURSOR_TEXT_SIZE 128

/* Encodes a valid position into out (NUL-terminated). */
void cursor_encode(const struct offer_cursor *c, char out[CURSOR_TEXT_SIZE]);

/* Decodes text made by cursor_encode; false (and c->valid false) for anything else. */
bool cursor_decode(const char *text, struct offer_cursor *c);

#endif
