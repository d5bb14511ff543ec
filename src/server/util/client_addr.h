/* client_addr.h - who the client is, by address: the socket peer, or the hop a trusted proxy saw.
 *
 * Limits keyed on the client's address (failed authentications) need the real client behind a
 * load balancer, yet X-Forwarded-For is whatever the client wrote unless a proxy we trust wrote
 * it. So the header is read only when the socket peer is a configured trusted proxy, from the
 * right (the hop the nearest proxy added) leftwards past further trusted proxies; the first
 * address that is not one is the client. An IPv6 client is keyed by its /64 (one subscriber's
 * network hands out many addresses), an IPv4 one by its whole address. Pure: no I/O.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_CLIENT_ADDR_H
#define OFFERD_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define CLIENT_ADDR_KEY_SIZE 64 /* "ffff:...:ffff/64" or "255.255.255.255", NUL included */

/* An IPv4 or IPv6 address, or a network of them (prefix_bits < 32 or 128). IPv4-mapped IPv6
 * addresses (::ffff:192.0.2.1) are held as IPv4. */
struct client_addr {
    uint8_t family;        /* 4 or 6; 0 for none */
    uint8_t prefix_bits;   /* 32 or 128 for one address */
    uint8_t bytes[16];     /* network order; IPv4 in the first 4 */
};

/* Parses "192.0.2.1", "2001:db8::1", "10.0.0.0/8" or "fd00::/8" (as --trusted-proxy takes them;
 * surrounding spaces allowed). False on anything else, or host bits set past the prefix. */
bool client_addr_parse(const char *text, struct client_addr *out);

/* The address of a socket peer (AF_INET or AF_INET6). False for other families or NULL. */
bool client_addr_from_sockaddr(const struct sockaddr *sa, struct client_addr *out);

/* True when addr (one address) lies in net (an address or a network). */
bool client_addr_in(const struct client_addr *net, const struct client_addr *addr);

/* The client: peer itself unless it is in one of trusted[0..trusted_count); then the
 * X-Forwarded-For hops (xff[0..xff_count), each a header value "a, b, c" in the order received)
 * are walked from the last one leftwards while they are trusted; the first untrusted hop is the
 * client. A hop that is not an address (garbage, "unknown", an obfuscated name) ends the walk at
 * the last trusted hop before it. */
struct client_addr client_addr_resolve(const struct client_addr *peer, const char *const *xff,
                                       size_t xff_count, const struct client_addr *trusted,
                                       size_t trusted_count);

/* The text limits are keyed on: "192.0.2.1", or "2001:db8:1:2::/64" for IPv6; "unknown" for
 * family 0. Writes at most CLIENT_ADDR_KEY_SIZE bytes into key. */
void client_addr_key(const struct client_addr *addr, char key[CLIENT_ADDR_KEY_SIZE]);

#endif
