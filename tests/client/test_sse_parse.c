/* test_sse_parse.c - the event-stream parser on its own: line ends (LF, CRLF, CR, a CRLF split
 * between reads), comments, fields with and without a space or a colon, multi-line data, ids that
 * persist, retry, a BOM, events without data, limits, and every way of cutting a stream in two.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sse_parse.h"

#define MAX_EVENTS 16

struct seen {
    int n;
    char type[MAX_EVENTS][32];
    char data[MAX_EVENTS][256];
    char id[MAX_EVENTS][OP_SSE_ID_MAX + 1]; /* the last event id when the event came */
    struct op_sse_parser *p;
    int stop_after; /* 0: never */
};

static bool on_event(void *userdata, const char *type, const char *data, size_t len)
{
    struct seen *s = userdata;
    assert_int_equal(strlen(data), len);
    if (s->n < MAX_EVENTS) {
        snprintf(s->type[s->n], sizeof s->type[0], "%s", type);
        snprintf(s->data[s->n], sizeof s->data[0], "%s", data);
        snprintf(s->id[s->n], sizeof s->id[0], "%s", s->p->last_id);
    }
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static void feed_all(struct op_sse_parser *p, struct seen *s, const char *text)
{
    s->p = p;
    assert_true(op_sse_parser_feed(p, text, strlen(text), on_event, s));
}

static void the_offerd_shape(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {0};
    op_sse_parser_init(&p, 1024);
    feed_all(&p, &s, "event: offer\nid: 3\ndata: {\"version\":3}\n\n: heartbeat\n\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.type[0], "offer");
    assert_string_equal(s.data[0], "{\"version\":3}");
    assert_string_equal(s.id[0], "3");
    assert_int_equal(p.events, 1);
    assert_int_equal(p.comments, 1);
    assert_int_equal(p.retry_ms, -1);
    op_sse_parser_cleanup(&p);
}

static void line_ends_and_fields(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {0};
    op_sse_parser_init(&p, 1024);
    /* CRLF, CR alone, LF alone; no space after the colon; a field with no colon; multi-line */
    feed_all(&p, &s,
             "data:a\r\ndata: b\r\n\r\n"
             "event:offer\rdata\rdata:  two spaces\r\r"
             "id: 7\ndata: x\ndata: y\n\n"
             "retry: 1500\nretry: soon\n"
             "id\ndata: no id\n\n");
    assert_int_equal(s.n, 4);
    assert_string_equal(s.type[0], "message");
    assert_string_equal(s.data[0], "a\nb");
    assert_string_equal(s.type[1], "offer");
    assert_string_equal(s.data[1], "\n two spaces"); /* "data" alone is an empty line of data */
    assert_string_equal(s.data[2], "x\ny");
    assert_string_equal(s.id[2], "7");
    assert_string_equal(s.data[3], "no id");
    assert_string_equal(s.id[3], ""); /* "id" with no value resets it */
    assert_int_equal(p.retry_ms, 1500); /* "soon" is not all digits: ignored */
    op_sse_parser_cleanup(&p);
}

static void events_without_data_are_not_dispatched(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {0};
    op_sse_parser_init(&p, 1024);
    feed_all(&p, &s, "event: offer\nid: 9\n\n: only a comment\n\n\n\nunknown: field\n\n");
    assert_int_equal(s.n, 0);
    assert_string_equal(p.last_id, "9"); /* an id with no data still counts */
    /* the type of the empty event does not leak into the next one */
    feed_all(&p, &s, "data: d\n\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.type[0], "message");
    op_sse_parser_cleanup(&p);
}

static void ids_persist_and_restart_keeps_them(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {0};
    op_sse_parser_init(&p, 1024);
    feed_all(&p, &s, "id: 4\ndata: one\n\ndata: two\n\nretry: 20\ndata: cut off in the mid");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.id[1], "4");
    op_sse_parser_restart(&p); /* the half event is gone, the id and retry stay */
    assert_string_equal(p.last_id, "4");
    assert_int_equal(p.retry_ms, 20);
    feed_all(&p, &s, "dle\n\ndata: three\n\n"); /* "dle" is a field of its own: ignored */
    assert_int_equal(s.n, 3);
    assert_string_equal(s.data[2], "three");
    assert_string_equal(s.id[2], "4");
    op_sse_parser_cleanup(&p);
}

static void a_bom_at_the_start_only(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {0};
    op_sse_parser_init(&p, 1024);
    feed_all(&p, &s, "\xEF\xBB\xBF" "data: after bom\n\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.data[0], "after bom");
    feed_all(&p, &s, "\xEF\xBB\xBF" "data: not a field\n\n");
    assert_int_equal(s.n, 1); /* a BOM later is part of the field name */
    op_sse_parser_cleanup(&p);
}

static void long_lines_and_data_are_refused(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {.p = &p};
    op_sse_parser_init(&p, 16);
    char big[64];
    memset(big, 'x', sizeof big);
    assert_false(op_sse_parser_feed(&p, big, sizeof big, on_event, &s));
    op_sse_parser_cleanup(&p);

    op_sse_parser_init(&p, 16);
    const char *lines = "data: 0123456789\ndata: 0123456789\n";
    assert_false(op_sse_parser_feed(&p, lines, strlen(lines), on_event, &s));
    op_sse_parser_cleanup(&p);
}

static void the_callback_can_stop_it(void **state)
{
    (void)state;
    struct op_sse_parser p;
    struct seen s = {.stop_after = 1, .p = &p};
    op_sse_parser_init(&p, 1024);
    const char *text = "data: 1\n\ndata: 2\n\n";
    assert_false(op_sse_parser_feed(&p, text, strlen(text), on_event, &s));
    assert_int_equal(s.n, 1);
    op_sse_parser_cleanup(&p);
}

/* Every split of a stream into two reads, and byte by byte, parses the same. */
static void every_split_parses_the_same(void **state)
{
    (void)state;
    const char *text = "retry: 50\r\n: hi\r\n\r\nevent: offer\r\nid: 12\r\ndata: {\"a\":1,\r\n"
                       "data: \"b\":2}\r\n\r\nevent: offer\rid: 13\rdata: z\r\rdata: w\n\n";
    size_t len = strlen(text);
    for (size_t cut = 0; cut <= len + 1; cut++) {
        struct op_sse_parser p;
        struct seen s = {.p = &p};
        op_sse_parser_init(&p, 1024);
        if (cut <= len) {
            assert_true(op_sse_parser_feed(&p, text, cut, on_event, &s));
            assert_true(op_sse_parser_feed(&p, text + cut, len - cut, on_event, &s));
        } else {
            for (size_t i = 0; i < len; i++)
                assert_true(op_sse_parser_feed(&p, text + i, 1, on_event, &s));
        }
        assert_int_equal(s.n, 3);
        assert_string_equal(s.type[0], "offer");
        assert_string_equal(s.data[0], "{\"a\":1,\n\"b\":2}");
        assert_string_equal(s.id[0], "12");
        assert_string_equal(s.data[1], "z");
        assert_string_equal(s.id[1], "13");
        assert_string_equal(s.type[2], "message");
        assert_string_equal(s.data[2], "w");
        assert_int_equal(p.retry_ms, 50);
        assert_int_equal(p.comments, 1);
        op_sse_parser_cleanup(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_offerd_shape),
        cmocka_unit_test(line_ends_and_fields),
        cmocka_unit_test(events_without_data_are_not_dispatched),
        cmocka_unit_test(ids_persist_and_restart_keeps_them),
        cmocka_unit_test(a_bom_at_the_start_only),
        cmocka_unit_test(long_lines_and_data_are_refused),
        cmocka_unit_test(the_callback_can_stop_it),
        cmocka_unit_test(every_split_parses_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
