/* fuzz_client_addr.c - --trusted-proxy texts and X-Forwarded-For walks (client_addr).
 *
 * Input: a peer selector byte, then "<address text>\0<X-Forwarded-For value>\n<value>...".
 * Checks: client_addr_parse accepts exactly what it can print back (an address's key re-parses
 * to the same IPv4 address; a network's host bits are clear and it contains itself); the client
 * resolve_addr picks is the peer when the peer is not trusted, else the peer or an address
 * written in the header; its key is always a short NUL-terminated string.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <string.h>

#include "util/client_addr.h"
#include "fuzz_common.h"

#define MAX_VALUES 6

static void check_parse(const char *text)
{
    struct client_addr a;
    if (!client_addr_parse(text, &a))
        return;
    FUZZ_CHECK(a.family == 4 || a.family == 6);
    FUZZ_CHECK(a.prefix_bits <= (a.family == 4 ? 32 : 128));
    FUZZ_CHECK(client_addr_in(&a, &a));
    char key[CLIENT_ADDR_KEY_SIZE];
    client_addr_key(&a, key);
    FUZZ_CHECK(memchr(key, '\0', sizeof(key)) != NULL && key[0] != '\0');
    if (a.family == 4 && a.prefix_bits == 32) {
        struct client_addr back;
        FUZZ_CHECK(client_addr_parse(key, &back));
        FUZZ_CHECK(back.family == 4 && memcmp(back.bytes, a.bytes, 4) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const peers[] = {"127.0.0.1", "10.1.2.3", "198.51.100.7", "fd00::1",
                                        "2001:db8::1"};
    static const char *const proxies[] = {"127.0.0.1", "10.0.0.0/8", "fd00::/8"};
    struct client_addr trusted[3], peer;
    for (size_t i = 0; i < 3; i++)
        FUZZ_CHECK(client_addr_parse(proxies[i], &trusted[i]));
    FUZZ_CHECK(client_addr_parse(peers[data[0] % 5], &peer));

    char *text = fuzz_strndup(data + 1, size - 1);
    check_parse(text); /* up to the first NUL */

    size_t first = strlen(text);
    char *header = first < size - 1 ? text + first + 1 : text + first;
    const char *values[MAX_VALUES];
    size_t count = 0;
    for (char *p = header; count < MAX_VALUES;) {
        values[count++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    struct client_addr c = client_addr_resolve(&peer, values, count, trusted, 3);
    bool peer_trusted = false;
    for (size_t i = 0; i < 3; i++)
        peer_trusted = peer_trusted || client_addr_in(&trusted[i], &peer);
    bool is_peer = c.family == peer.family && c.prefix_bits == peer.prefix_bits &&
                   memcmp(c.bytes, peer.bytes, sizeof(c.bytes)) == 0;
    if (!peer_trusted)
        FUZZ_CHECK(is_peer);
    FUZZ_CHECK(c.family == 4 || c.family == 6);
    FUZZ_CHECK(c.prefix_bits == (c.family == 4 ? 32 : 128));
    char key[CLIENT_ADDR_KEY_SIZE];
    client_addr_key(&c, key);
    FUZZ_CHECK(memchr(key, '\0', sizeof(key)) != NULL && key[0] != '\0');
    free(text);
    return 0;
}
