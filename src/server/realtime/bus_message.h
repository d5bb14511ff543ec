/* bus_message.h - the text of one bus message, written and parsed strictly.
 *
 * "v1 OFFER_ID VERSION": OFFER_ID matches [A-Za-z0-9_-]{1,64}, VERSION is a decimal in
 * 1..INT64_MAX without sign or leading zeros. "v1 *" says "something changed, read the log" (sent
 * after the publisher had to drop changes). Anything else, or anything longer than
 * BUS_MESSAGE_MAX bytes, is malformed. A well-formed message is still only a hint to read the log.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_BUS_MESSAGE_H
#define OFFERD_BUS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/offer.h"

#define BUS_MESSAGE_MAX 96

struct bus_message {
    bool any;                   /* "v1 *": no offer named */
    char offer_id[OFFER_ID_SIZE];
    int64_t version;
};

/* Writes the message for (offer_id, version), or "v1 *" when offer_id is NULL, into out (at
 * least BUS_MESSAGE_MAX + 1 bytes). Returns its length, or 0 for an invalid id or version. */
size_t bus_message_format(char *out, const char *offer_id, int64_t version);

/* Parses len bytes (not NUL-terminated, may hold anything). True and *m filled when well-formed. */
bool bus_message_parse(const char *text, size_t len, struct bus_message *m);

#endif
