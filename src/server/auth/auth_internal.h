/* auth_internal.h - what the auth files share: the verifier's state.
 *
 * auth.c verifies tokens, auth_key.c makes verifiers from a secret or a public key, and
 * auth_headers.c finds the token in a request's headers. Not for use outside auth/: auth.h is
 * the interface.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_AUTH_INTERNAL_H
#define OFFERD_AUTH_INTERNAL_H

#include <jwt.h>

#include "auth/auth.h"

#define KEY_TEXT_MAX (64 * 1024) /* longest secret or PEM accepted, bytes */

struct auth {
    jwt_alg_t alg;
    const char *alg_name; /* static */
    unsigned char *key;   /* owned: HS256 secret or SPKI PEM, NUL-terminated, scrubbed on free */
    int key_len;          /* without the NUL */
};

#endif
