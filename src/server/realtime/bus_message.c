/* bus_message.c - the text of one bus message, written and parsed strictly.
 *
 * The channel is open to anyone who can reach Redis, so a message is parsed as hostile input:
 * exact prefix, a whole id of the id alphabet, a canonical positive decimal, nothing after.
 *
 * SPDX-License-Identifier: MIT
 */
#include "realtime/bus_message.h"

#include <stdio.h>
#include <string.h>

#define PREFIX "v1 "
#define PREFIX_LEN (sizeof(PREFIX) - 1)

size_t bus_message_format(char *out, const char *offer_id, int64_t version)
{
    if (!offer_id)
        return (size_t)snprintf(out, BUS_MESSAGE_MAX + 1, PREFIX "*");
    if (!offer_id_is_valid(offer_id) || version < 1)
        return 0;
    return (size_t)snprintf(out, BUS_MESSAGE_MAX + 1, PREFIX "%s %lld", offer_id,
                            (long long)version);
}

/* A canonical decimal in 1..INT64_MAX: digits only, no leading zero, no overflow. */
static bool parse_version(const char *p, size_t len, int64_t *out)
{
    if (len == 0 || len > 19 || p[0] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

bool bus_message_parse(const char *text, size_t len, struct bus_message *m)
{
    if (!text || len > BUS_MESSAGE_MAX || len <= PREFIX_LEN || memcmp(text, PREFIX, PREFIX_LEN))
        return false;
    const char *p = text + PREFIX_LEN;
    size_t rest = len - PREFIX_LEN;
    memset(m, 0, sizeof(*m));
    if (rest == 1 && p[0] == '*') {
        m->any = true;
        return true;
    }
    const char *space = memchr(p, ' ', rest);
    if (!space)
        return false;
    size_t id_len = (size_t)(space - p);
    if (id_len == 0 || id_len >= OFFER_ID_SIZE)
        return false;
    memcpy(m->offer_id, p, id_len);
    m->offer_id[id_len] = '\0';
    if (strlen(m->offer_id) != id_len || !offer_id_is_valid(m->offer_id)) /* no NUL inside */
        return false;
    return parse_version(space + 1, rest - id_len - 1, &m->version);
}
