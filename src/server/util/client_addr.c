/* client_addr.c - addresses, trusted networks, and the X-Forwarded-For walk.
 *
 * SPDX-License-Identifier: MIT
 */
#include "util/client_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HOP_TEXT_MAX 63 /* longest hop text looked at: an IPv6 address with a zone fits */

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void set_v4(struct client_addr *out, const uint8_t *four)
{
    memset(out, 0, sizeof(*out));
    out->family = 4;
    out->prefix_bits = 32;
    memcpy(out->bytes, four, 4);
}

static void set_v6(struct client_addr *out, const uint8_t *sixteen)
{
    if (memcmp(sixteen, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        set_v4(out, sixteen + 12);
        return;
    }
    memset(out, 0, sizeof(*out));
    out->family = 6;
    out->prefix_bits = 128;
    memcpy(out->bytes, sixteen, 16);
}

/* One address (no prefix) from text[0..len). */
static bool parse_one(const char *text, size_t len, struct client_addr *out)
{
    char buf[HOP_TEXT_MAX + 1];
    uint8_t raw[16];
    if (len == 0 || len > HOP_TEXT_MAX)
        return false;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, raw) == 1) {
        set_v4(out, raw);
        return true;
    }
    if (inet_pton(AF_INET6, buf, raw) == 1) {
        set_v6(out, raw);
        return true;
    }
    return false;
}

static bool host_bits_clear(const struct client_addr *a)
{
    unsigned total = a->family == 4 ? 32 : 128;
    for (unsigned bit = a->prefix_bits; bit < total; bit++)
        if (a->bytes[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

bool client_addr_parse(const char *text, struct client_addr *out)
{
    if (!text)
        return false;
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    const char *slash = memchr(text, '/', len);
    size_t addr_len = slash ? (size_t)(slash - text) : len;
    struct client_addr a;
    if (!parse_one(text, addr_len, &a))
        return false;
    if (slash) {
        const char *p = slash + 1, *end = text + len;
        if (p == end || end - p > 3)
            return false;
        unsigned bits = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        /* "::ffff:10.0.0.0/104" is IPv4 10.0.0.0/8 once held as IPv4 */
        bool mapped = a.family == 4 && memchr(text, ':', addr_len) != NULL;
        if (mapped) {
            if (bits < 96)
                return false;
            bits -= 96;
        }
        if (bits > (a.family == 4 ? 32u : 128u))
            return false;
        a.prefix_bits = (uint8_t)bits;
        if (!host_bits_clear(&a))
            return false;
    }
    *out = a;
    return true;
}

bool client_addr_from_sockaddr(const struct sockaddr *sa, struct client_addr *out)
{
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        set_v4(out, (const uint8_t *)&in->sin_addr);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        set_v6(out, in6->sin6_addr.s6_addr);
        return true;
    }
    return false;
}

bool client_addr_in(const struct client_addr *net, const struct client_addr *addr)
{
    if (net->family == 0 || net->family != addr->family)
        return false;
    unsigned full = net->prefix_bits / 8, rest = net->prefix_bits % 8;
    if (memcmp(net->bytes, addr->bytes, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if ((net->bytes[full] & mask) != (addr->bytes[full] & mask))
            return false;
    }
    return true;
}

static bool is_trusted(const struct client_addr *addr, const struct client_addr *trusted,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (client_addr_in(&trusted[i], addr))
            return true;
    return false;
}

/* The hop that ends just before *end in value[0..*end), trimmed; moves *end to its comma (or
 * to 0). Returns false when there are no hops left. */
static bool previous_hop(const char *value, size_t *end, const char **hop, size_t *hop_len)
{
    if (*end == 0)
        return false;
    size_t stop = *end, start = stop;
    while (start > 0 && value[start - 1] != ',')
        start--;
    *end = start > 0 ? start - 1 : 0;
    if (start == 0 && stop == 0)
        return false;
    while (start < stop && (value[start] == ' ' || value[start] == '\t'))
        start++;
    while (stop > start && (value[stop - 1] == ' ' || value[stop - 1] == '\t'))
        stop--;
    *hop = value + start;
    *hop_len = stop - start;
    return true;
}

struct client_addr client_addr_resolve(const struct client_addr *peer, const char *const *xff,
                                       size_t xff_count, const struct client_addr *trusted,
                                       size_t trusted_count)
{
    struct client_addr client = *peer;
    if (!is_trusted(&client, trusted, trusted_count))
        return client;
    for (size_t i = xff_count; i-- > 0;) {
        if (!xff[i])
            continue;
        size_t end = strlen(xff[i]);
        const char *hop;
        size_t hop_len;
        while (previous_hop(xff[i], &end, &hop, &hop_len)) {
            struct client_addr a;
            if (!parse_one(hop, hop_len, &a))
                return client; /* not an address: stop at the trusted hop that passed it on */
            client = a;
            if (!is_trusted(&client, trusted, trusted_count))
                return client;
        }
    }
    return client; /* every hop trusted: the leftmost is as far as we can see */
}

void client_addr_key(const struct client_addr *addr, char key[CLIENT_ADDR_KEY_SIZE])
{
    if (addr->family == 4) {
        inet_ntop(AF_INET, addr->bytes, key, CLIENT_ADDR_KEY_SIZE);
    } else if (addr->family == 6) {
        uint8_t net[16] = {0};
        memcpy(net, addr->bytes, 8);
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, net, text, sizeof(text));
        snprintf(key, CLIENT_ADDR_KEY_SIZE, "%s/64", text);
    } else {
        snprintf(key, CLIENT_ADDR_KEY_SIZE, "unknown");
    }
}
