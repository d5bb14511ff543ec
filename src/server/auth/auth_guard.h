/* auth_guard.h - bad tokens cost little: failures limited per client address, replays refused
 * from memory, failures counted and logged by sample.
 *
 * Verifying a token costs 35 us (HS256) to 440 us (RS256/ES256 with libjwt re-reading the key),
 * and the per-user rate limit cannot apply before a token verifies. So, before verifying a token
 * it has not verified before (auth_cache), the HTTP layer asks here:
 *   1. auth_guard_admit: has this client address (client_addr) used up its failed
 *      authentications (a token bucket: a burst, refilled at a rate)? Then 429 with Retry-After
 *      and no crypto. Only failures anyone can forge are charged (malformed, bad signature,
 *      wrong algorithm); expired and other signed-but-refused tokens come from the identity
 *      provider, and charging them would throttle ordinary users behind one address. Tokens from other addresses are unaffected, and a token this
 *      server has verified before is answered from auth_cache before this check, so a signed-in
 *      user's tab keeps working even behind an address that is being throttled.
 *   2. auth_guard_recall: did this exact token fail recently? Then the same 401, without crypto
 *      (a small direct-mapped table of SHA-256 digests of failed tokens and their reasons; tokens
 *      that may become valid later, nbf in the future, are not remembered).
 *   3. after a failed verification, auth_guard_failed charges the address and remembers the token.
 * Failures, throttled requests and remembered-token hits are counted for /metrics; at most one
 * log line a second says what failed and how many more did since the last line.
 * Thread-safe: striped locks and relaxed atomics.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_AUTH_GUARD_H
#define OFFERD_AUTH_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "util/client_addr.h"

struct auth_guard;

struct auth_guard_options {
    double fail_rate_per_s;       /* failed authentications per second per address; 0: no limit */
    int fail_burst;               /* failures an address may have at once before the rate applies */
    size_t failed_token_entries;  /* failed tokens remembered; 0 turns the memory off */
    const char *const *trusted_proxies; /* client_addr_parse texts; NULL when count is 0 */
    size_t trusted_proxy_count;
};

struct auth_guard_stats {
    uint64_t failures;            /* tokens refused (verified, or recalled) */
    uint64_t recalled;            /* of those, refused from memory without verifying */
    uint64_t throttled;           /* requests answered 429 before verifying */
};

/* New guard; free with auth_guard_free. NULL with a reason in err on a bad trusted proxy text or
 * no memory. */
struct auth_guard *auth_guard_new(const struct auth_guard_options *o, char *err, size_t err_size);
void auth_guard_free(struct auth_guard *g);

/* The client's key (client_addr_key) for a request from socket peer (may be NULL: "unknown")
 * with the given X-Forwarded-For header values (read only when the peer is a trusted proxy). */
void auth_guard_client_key(const struct auth_guard *g, const struct sockaddr *peer,
                           const char *const *xff, size_t xff_count,
                           char key[CLIENT_ADDR_KEY_SIZE]);

/* True when client key may have a token verified now; false (counted as throttled) with
 * *retry_after_s >= 1 when it is over its failure limit. */
bool auth_guard_admit(struct auth_guard *g, const char *key, int64_t now_ms, int *retry_after_s);

/* True with the remembered reason in *why when token[0..len) failed recently. Counted. */
bool auth_guard_recall(struct auth_guard *g, const char *token, size_t len,
                       enum auth_result *why);

/* Records a failed authentication by client key: charges its bucket (forgeable failures only),
 * counts it, remembers
 * token[0..len) with why (token may be NULL: only charged and counted, as for a recalled one),
 * and logs a sampled line (the key and the reason; never the token) at most once a second.
 * now_ms is monotonic. AUTH_OK, AUTH_MISSING and AUTH_INTERNAL_ERROR are not failures here and
 * are ignored. */
void auth_guard_failed(struct auth_guard *g, const char *key, const char *token, size_t len,
                       enum auth_result why, int64_t now_ms);

/* A snapshot of the counters. */
void auth_guard_get_stats(const struct auth_guard *g, struct auth_guard_stats *out);

#endif
