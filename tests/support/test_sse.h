/* test_sse.h - read a Server-Sent Events stream in the background, for tests.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_SSE_H
#define OFFERD_TEST_SSE_H

#include <stdbool.h>
#include <stddef.h>

struct sse_reader;

/* Opens URL with an optional bearer token and one optional extra header ("Name: value") on a
 * background thread that appends everything received. NULL on failure. */
struct sse_reader *sse_open(const char *url, const char *token, const char *extra_header);

/* Waits up to timeout_ms until the received text contains needle (counting from byte `from`).
 * Returns the offset just past the match, or 0 on timeout. */
size_t sse_wait_for(struct sse_reader *s, const char *needle, size_t from, int timeout_ms);

/* Waits up to timeout_ms for the server to end the stream; true if it did. */
bool sse_wait_end(struct sse_reader *s, int timeout_ms);

/* A copy of everything received so far (free with free()), and its HTTP status (0 until known). */
char *sse_text(struct sse_reader *s);
long sse_status(struct sse_reader *s);

/* Counts occurrences of needle in what was received. */
size_t sse_count(struct sse_reader *s, const char *needle);

/* Stops the transfer (if still open), joins the thread and frees s. NULL is a no-op. */
void sse_close(struct sse_reader *s);

#endif
