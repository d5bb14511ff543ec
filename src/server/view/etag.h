/* etag.h - entity tags for offers: making them, and If-None-Match / If-Match against them.
 *
 * Our tags are strong, "<version>-<hash>": the offer's version, then a 64-bit FNV-1a hash of the
 * exact response body, so a tag names exact bytes of an exact version. Comparison is always weak
 * (RFC 9110 8.8.3.2: opaque-tags equal, W/ ignored on both sides), for If-None-Match as the RFC
 * says, and for If-Match by decision: a proxy that gzips turns our "..." into W/"...", and since
 * our tag still names exact bytes and version, matching it weakly keeps clients behind such
 * proxies able to PATCH without ever accepting a stale version. All functions are pure and
 * thread-safe; header values are the raw field values (NULL when the header is absent).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_ETAG_H
#define OFFERD_ETAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETAG_SIZE 48 /* buffer for any tag etag_make writes, quotes and NUL included */

/* Writes the strong tag "\"<version>-<16 lowercase hex>\"" (quotes included, NUL-terminated) for
 * body[0..len) at version into buf and returns buf. The hex is FNV-1a 64 of the body: a body that
 * differs in one byte always gets another tag (each FNV-1a step is a bijection of its state), any
 * other change almost surely does, and the version bumps on every stored change anyway. body may
 * be NULL when len is 0. */
char *etag_make(int64_t version, const char *body, size_t len, char buf[ETAG_SIZE]);

/* If-None-Match (RFC 9110 13.1.2): true when the value is "*" or its comma-separated list (optional
 * spaces/tabs) holds an entity-tag weakly equal to etag (our tag, strong or W/). A malformed entry
 * ("abc", an unterminated quote, junk after a tag) is skipped, not fatal. NULL or empty
 * if_none_match, or an etag that is not an entity-tag, gives false. */
bool etag_none_match(const char *if_none_match, const char *etag);

/* If-Match (RFC 9110 13.1.1) for PATCH and counter offers: true when the value is "*" or lists a
 * tag weakly equal to etag, parsed as for etag_none_match. Weak, not the RFC's strong comparison,
 * on purpose (see the top of this file). NULL if_match gives false: whether If-Match is required
 * is the caller's decision. */
bool etag_match(const char *if_match, const char *etag);

/* Parses the version out of one of our tags, "\"12-<16 hex>\"" or W/"12-<16 hex>", into
 * *version_out and returns true; false (and *version_out untouched) for any other string. */
bool etag_version(const char *etag, int64_t *version_out);

#endif
