/* http_head.h - is a request head framed the one way every HTTP/1.1 reader would frame it?
 *
 * libmicrohttpd 0.9.75 accepts heads that a proxy in front may read differently (RFC 9112 6.1,
 * 6.3): two Content-Length fields (it takes the first), Content-Length with Transfer-Encoding,
 * a Transfer-Encoding it does not know (it then reads until the peer closes), folded lines (it
 * glues the continuation onto the field NAME), a NUL inside a value (it stops the value there),
 * a bare CR, no Host. offerd refuses all of these with 400 and closes the connection before any
 * handler runs.
 *
 * The fields are walked in the order received, as libmicrohttpd left them in its read buffer: each
 * line in place, the ':' and the line end (CRLF or LF) overwritten with NULs. A field that is not
 * where the previous line ends (a folded line was copied elsewhere) or a value followed by hidden
 * bytes (a NUL, then more) breaks that chain: this is how bytes the parsed values do not show are
 * found. NULs at the very end of a line cannot be told from the line end's CR and LF; they hide
 * nothing. Pure: no I/O, no libmicrohttpd; pointers are only compared and
 * read inside the chain.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HTTP_HEAD_H
#define OFFERD_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

struct http_head_check {
    const char *line_end;       /* end of the previous line's text: the next line follows it */
    const char *reason;         /* the first problem found, or NULL */
    unsigned content_lengths;
    unsigned transfer_encodings;
    unsigned hosts;
    const char *cookie;         /* the first Cookie field's value, or NULL */
};

/* Starts a walk after the request line, whose HTTP version string (as parsed in place) ends at
 * version + version_len. */
void http_head_check_begin(struct http_head_check *c, const char *version, size_t version_len);

/* One header field, in the order received; name and value are NUL-terminated at their lengths. */
void http_head_check_field(struct http_head_check *c, const char *name, size_t name_len,
                           const char *value, size_t value_len);

/* Ends the walk at head_end (just past the blank line that ends the head). http_minor is the
 * request's HTTP/1.x minor version. Returns NULL when the head is unambiguous, else a static
 * reason for a 400 (the first problem found). */
const char *http_head_check_end(struct http_head_check *c, const char *head_end, int http_minor);

/* The request target as received, before percent-decoding: NULL when acceptable, else a static
 * reason for a 400. Refused: control bytes and spaces, "%00" anywhere (it would cut the decoded
 * path short), and "%2F" in the path (it would add a path segment once decoded). */
const char *http_head_check_target(const char *raw_target);

#endif
