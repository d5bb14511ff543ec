/* sse_parse.c - an incremental Server-Sent Events parser.
 *
 * Follows the event-stream interpretation rules of the HTML standard: lines end with CRLF, LF or
 * CR (a CRLF split across two reads is still one line end), a line starting with ':' is a comment,
 * "field: value" drops one space after the colon, a blank line dispatches the event, an event
 * without data lines is no event, "id" must not contain NUL and "retry" must be all digits.
 *
 * SPDX-License-Identifier: MIT
 */
#include "sse_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(char **buf, size_t *cap, size_t need, size_t max)
{
    if (need <= *cap)
        return true;
    if (need > max + 2)
        return false;
    size_t cap2 = *cap ? *cap : 256;
    while (cap2 < need)
        cap2 *= 2;
    char *b = realloc(*buf, cap2);
    if (!b)
        return false;
    *buf = b;
    *cap = cap2;
    return true;
}

static bool field_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0 || len > 12)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* A blank line: hands the event over (if it has data) and starts the next one. */
static bool dispatch(struct op_sse_parser *p, op_sse_event_fn on_event, void *userdata)
{
    bool ok = true;
    if (p->data_len > 0) {
        p->data_len--; /* the LF after the last data line */
        p->data[p->data_len] = '\0';
        p->events++;
        ok = on_event(userdata, p->type[0] ? p->type : "message", p->data, p->data_len);
    }
    p->data_len = 0;
    p->type[0] = '\0';
    return ok;
}

static bool field(struct op_sse_parser *p, const char *name, size_t name_len, const char *value,
                  size_t value_len)
{
    if (field_is(name, name_len, "data")) {
        if (p->data_len + value_len + 1 > p->max ||
            !grow(&p->data, &p->data_cap, p->data_len + value_len + 2, p->max))
            return false;
        memcpy(p->data + p->data_len, value, value_len);
        p->data_len += value_len;
        p->data[p->data_len++] = '\n';
    } else if (field_is(name, name_len, "event")) {
        if (value_len < sizeof p->type) {
            memcpy(p->type, value, value_len);
            p->type[value_len] = '\0';
        } else {
            snprintf(p->type, sizeof p->type, "%s", "(too long)"); /* no known type matches */
        }
    } else if (field_is(name, name_len, "id")) {
        if (value_len <= OP_SSE_ID_MAX && !memchr(value, '\0', value_len)) {
            memcpy(p->last_id, value, value_len);
            p->last_id[value_len] = '\0';
        }
    } else if (field_is(name, name_len, "retry")) {
        if (all_digits(value, value_len)) {
            int64_t ms = 0;
            for (size_t i = 0; i < value_len; i++)
                ms = ms * 10 + (value[i] - '0');
            p->retry_ms = ms;
        }
    }
    return true; /* other fields are ignored */
}

/* One complete line (without its end). */
static bool line(struct op_sse_parser *p, op_sse_event_fn on_event, void *userdata)
{
    const char *s = p->line;
    size_t len = p->line_len;
    if (p->at_start) {
        p->at_start = false;
        if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        }
    }
    p->line_len = 0;
    if (len == 0)
        return dispatch(p, on_event, userdata);
    if (s[0] == ':') {
        p->comments++;
        return true;
    }
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return field(p, s, len, "", 0);
    size_t name_len = (size_t)(colon - s);
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    return field(p, s, name_len, value, value_len);
}

void op_sse_parser_init(struct op_sse_parser *p, size_t max)
{
    *p = (struct op_sse_parser){.max = max, .retry_ms = -1, .at_start = true};
}

void op_sse_parser_restart(struct op_sse_parser *p)
{
    p->line_len = 0;
    p->data_len = 0;
    p->after_cr = false;
    p->at_start = true;
    p->type[0] = '\0';
    p->events = p->comments = 0;
}

bool op_sse_parser_feed(struct op_sse_parser *p, const char *buf, size_t n,
                        op_sse_event_fn on_event, void *userdata)
{
    size_t i = 0;
    while (i < n) {
        if (p->after_cr) {
            p->after_cr = false;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t start = i;
        while (i < n && buf[i] != '\r' && buf[i] != '\n')
            i++;
        size_t seg = i - start;
        if (seg > 0) {
            if (p->line_len + seg > p->max ||
                !grow(&p->line, &p->line_cap, p->line_len + seg + 1, p->max))
                return false;
            memcpy(p->line + p->line_len, buf + start, seg);
            p->line_len += seg;
        }
        if (i == n)
            break; /* the line goes on in the next read */
        p->after_cr = buf[i] == '\r';
        i++;
        if (!line(p, on_event, userdata))
            return false;
    }
    return true;
}

void op_sse_parser_cleanup(struct op_sse_parser *p)
{
    free(p->line);
    free(p->data);
    op_sse_parser_init(p, p->max);
}
