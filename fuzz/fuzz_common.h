/* fuzz_common.h - small helpers shared by the libFuzzer targets in fuzz/.
 *
 * Every string handed to the code under test is a fresh heap copy of exactly its length plus the
 * NUL, so AddressSanitizer catches a read one byte past the terminator. FUZZ_CHECK aborts (a crash
 * libFuzzer records) when a property of the code under test does not hold.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_FUZZ_COMMON_H
#define OFFERD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);        \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* New heap copy of p[0..n) plus a NUL; aborts when out of memory (never expected here). */
static inline char *fuzz_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* A cursor over the input for targets that build structured values from it. */
struct fuzz_reader {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static inline uint64_t fuzz_u64(struct fuzz_reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | fuzz_u8(r);
    return v;
}

/* The next piece of input up to (not including) a NUL byte, or to the end; the NUL is consumed.
 * Returns a heap copy; *len_out (if not NULL) gets its length. */
static inline char *fuzz_piece(struct fuzz_reader *r, size_t *len_out)
{
    const uint8_t *nul = r->n ? memchr(r->p, '\0', r->n) : NULL;
    size_t len = nul ? (size_t)(nul - r->p) : r->n;
    char *s = fuzz_strndup(r->p, len);
    r->p += len;
    r->n -= len;
    if (nul) {
        r->p++;
        r->n--;
    }
    if (len_out)
        *len_out = len;
    return s;
}

#endif
