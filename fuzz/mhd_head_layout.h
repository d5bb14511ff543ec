/* mhd_head_layout.h - lays a raw request head out in memory the way libmicrohttpd 0.9.75 parses it
 * in place (src/microhttpd/connection.c: get_next_header_line, parse_initial_message_line,
 * process_header_line, process_broken_line), for the http_head tests and fuzzer.
 *
 * Lines end at CRLF (two NULs written) or a bare LF (one NUL); a bare CR stays in the line. Empty
 * lines before the request line are skipped. The request line is split at its first space (the
 * method) and its last (the version: HTTP/1.x, nothing after it). A header line's first ':'
 * becomes a NUL and the value starts after the blanks that follow it. A line starting with a blank
 * continues the previous field: libmicrohttpd copies the field's NAME into a new block, appends the
 * continuation to it and zeroes the old name, leaving the value where it was. A line whose first
 * byte is NUL (or empty) ends the head. Test code only.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_MHD_HEAD_LAYOUT_H
#define OFFERD_MHD_HEAD_LAYOUT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MHD_LAYOUT_MAX_FIELDS 64

struct mhd_layout_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct mhd_layout {
    char *buf;                  /* the head, parsed in place (exactly its length, plus a NUL) */
    const char *method;
    const char *uri;
    const char *version;
    const char *head_end;
    struct mhd_layout_field fields[MHD_LAYOUT_MAX_FIELDS];
    size_t field_count;
    char *folds[MHD_LAYOUT_MAX_FIELDS]; /* blocks made for folded names */
    size_t fold_count;
};

/* Next line from *pos (not past end); writes the NULs; NULL when no line end is left. */
static inline char *mhd_layout_line(char **pos, char *end)
{
    for (char *p = *pos; p < end; p++) {
        if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            char *line = *pos;
            p[0] = p[1] = '\0';
            *pos = p + 2;
            return line;
        }
        if (*p == '\n') {
            char *line = *pos;
            *p = '\0';
            *pos = p + 1;
            return line;
        }
    }
    return NULL;
}

static inline void mhd_layout_free(struct mhd_layout *l)
{
    free(l->buf);
    for (size_t i = 0; i < l->fold_count; i++)
        free(l->folds[i]);
    memset(l, 0, sizeof(*l));
}

/* Parses raw[0..len). Returns true with *l filled (free with mhd_layout_free), or false where
 * libmicrohttpd would refuse the head itself (or it is incomplete, or has too many fields). */
static inline bool mhd_layout_parse(struct mhd_layout *l, const char *raw, size_t len)
{
    memset(l, 0, sizeof(*l));
    l->buf = malloc(len + 1);
    if (!l->buf)
        abort();
    memcpy(l->buf, raw, len);
    l->buf[len] = '\0';
    char *pos = l->buf, *end = l->buf + len;
    char *line;
    do {
        if (!(line = mhd_layout_line(&pos, end)))
            goto refused;
    } while (line[0] == '\0');
    char *sp = strchr(line, ' ');
    if (!sp)
        goto refused;
    *sp = '\0';
    l->method = line;
    char *uri = sp + 1;
    while (*uri == ' ')
        uri++;
    char *last = uri + strlen(uri);
    while (last > uri && last[-1] == ' ')
        last--;
    char *v = last;
    while (v > uri && v[-1] != ' ')
        v--;
    if (v == uri || last != uri + strlen(uri) || last - v != 8 || strncmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
        goto refused; /* libmicrohttpd takes HTTP/1.x only, exactly 8 bytes */
    v[-1] = '\0';
    l->uri = uri;
    l->version = v;
    char *name = NULL, *value = NULL;
    for (;;) {
        if (!(line = mhd_layout_line(&pos, end)))
            goto refused;
        if (name && (line[0] == ' ' || line[0] == '\t')) {
            const char *more = line;
            while (*more == ' ' || *more == '\t')
                more++;
            size_t nl = strlen(name), ml = strlen(more);
            char *grown = malloc(nl + ml + 1);
            if (!grown)
                abort();
            memcpy(grown, name, nl);
            memcpy(grown + nl, more, ml + 1);
            if (name < l->buf || name > end) {
                /* already a fold block: it is the one being grown */
                for (size_t i = 0; i < l->fold_count; i++)
                    if (l->folds[i] == name) {
                        free(l->folds[i]);
                        l->folds[i] = grown;
                    }
            } else {
                memset(name, 0, nl + 1);
                l->folds[l->fold_count++] = grown;
            }
            name = grown;
            continue;
        }
        if (name) {
            if (l->field_count == MHD_LAYOUT_MAX_FIELDS)
                goto refused;
            l->fields[l->field_count++] =
                (struct mhd_layout_field){name, strlen(name), value, strlen(value)};
            name = NULL;
        }
        if (line[0] == '\0')
            break;
        if (l->fold_count == MHD_LAYOUT_MAX_FIELDS)
            goto refused;
        char *colon = strchr(line, ':');
        if (!colon)
            goto refused;
        *colon = '\0';
        value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        name = line;
    }
    l->head_end = pos;
    return true;
refused:
    mhd_layout_free(l);
    return false;
}

#endif
