/* sse_parse.h - an incremental Server-Sent Events parser (the WHATWG event-stream format).
 *
 * Pure: bytes in, events out through a callback, no I/O and no clock, so the tests can feed it a
 * stream split at every byte. It keeps what the format says a client keeps across events and
 * reconnections (the last event id and the reconnection time) and forgets the rest when a new
 * stream starts.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_SSE_PARSE_H
#define OFFERPOLL_SSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OP_SSE_ID_MAX 64 /* longer ids are ignored (offerd's are versions) */

struct op_sse_parser {
    size_t max;                /* longest line and longest event data accepted */
    char *line;                /* the line being read (not NUL-terminated) */
    size_t line_len, line_cap;
    bool after_cr;             /* the last byte ended a line with CR: skip an LF right after it */
    bool at_start;             /* nothing read yet in this stream: a leading BOM is dropped */
    char *data;                /* the event's data lines so far, each followed by LF */
    size_t data_len, data_cap;
    char type[32];             /* the event's type; "" means "message" */
    char last_id[OP_SSE_ID_MAX + 1]; /* last event id: kept across events and streams */
    int64_t retry_ms;          /* reconnection time the stream asked for, -1 when none yet */
    uint64_t events, comments; /* dispatched events, comment lines (heartbeats) in this stream */
};

/* Called for each complete event. TYPE ("message" when the stream named none) and DATA (the data
 * lines joined with LF, NUL-terminated, LEN bytes) are borrowed for the call. Return false to stop
 * parsing (op_sse_parser_feed then returns false too). */
typedef bool (*op_sse_event_fn)(void *userdata, const char *type, const char *data, size_t len);

/* Prepares P for a first stream; lines and event data longer than MAX bytes are refused. */
void op_sse_parser_init(struct op_sse_parser *p, size_t max);

/* Forgets the partial line and event of the last stream (the last event id and the reconnection
 * time stay): call it before feeding a new stream. */
void op_sse_parser_restart(struct op_sse_parser *p);

/* Feeds BUF[0..N), calling ON_EVENT for every event it completes. Returns true, or false when a
 * line or an event's data grew past max, memory ran out, or ON_EVENT asked to stop. */
bool op_sse_parser_feed(struct op_sse_parser *p, const char *buf, size_t n,
                        op_sse_event_fn on_event, void *userdata);

/* Releases P's buffers (it may be initialised again). */
void op_sse_parser_cleanup(struct op_sse_parser *p);

#endif
