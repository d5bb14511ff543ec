/* sse_format.h - the text of offer event streams: events, Last-Event-ID and resume ids. Pure.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_SSE_FORMAT_H
#define OFFERD_SSE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Turns a Last-Event-ID header into a version: -1 when absent or not ours. Pure. */
int64_t sse_parse_last_event_id(const char *header);

/* Formats one event into out: "event: offer\nid: <version>\ndata: <json>\n\n" (no id line when
 * version < 0). Returns the length written, or 0 if out is too small. Pure. */
size_t sse_format_event(char *out, size_t size, int64_t version, const char *json, size_t len);

/* Resumable ids of the multiplexed stream: "<seq>:<tag>", seq a position in the change log
 * (offer_changes.seq) up to which every change of every watched offer has been sent, tag 16
 * lowercase hex digits naming what the stream watches (sse_watch_tag). A reconnect whose
 * Last-Event-ID has the same tag is sent only the offers changed after seq. */

/* The tag of a stream of user_id over ids (count 0: all of the user's offers): FNV-1a 64 of the
 * user and the sorted, deduplicated ids, so the order and repeats in ?ids= do not matter. Pure. */
uint64_t sse_watch_tag(const char *user_id, const char *const *ids, size_t count);

/* Formats "<seq>:<tag>" into out; the length, or 0 if out is too small. Pure. */
size_t sse_format_resume_id(char *out, size_t size, int64_t seq, uint64_t tag);

/* Parses "<seq>:<tag>" strictly (seq: digits, at most INT64_MAX; tag: 16 lowercase hex digits).
 * False for anything else, NULL included. Pure. */
bool sse_parse_resume_id(const char *header, int64_t *seq, uint64_t *tag);

#endif
