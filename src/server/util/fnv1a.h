/* fnv1a.h - the 64-bit FNV-1a hash, the one non-cryptographic hash offerd uses.
 *
 * For in-memory tables (offer cache, rate limiter, notify keys), the stream tag and the ETag's
 * body hash: fast, no state, every byte moves the result (each step is a bijection of the state).
 * Not for anything an outsider could steer into collisions on purpose where that would hurt;
 * tokens are hashed with SHA-256 (auth_cache, auth_guard). Header-only: called on hot paths.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_FNV1A_H
#define OFFERD_FNV1A_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_OFFSET_BASIS 0xcbf29ce484222325ULL

/* h with len bytes of data folded in; start from FNV1A_OFFSET_BASIS. */
static inline uint64_t fnv1a_update(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The hash of a NUL-terminated string (the NUL not included). */
static inline uint64_t fnv1a_str(const char *s)
{
    uint64_t h = FNV1A_OFFSET_BASIS;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

#endif
