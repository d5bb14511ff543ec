/* rows.c - copying SQLite columns out whole: ids checked, text copied, arrays grown.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

bool sqlite_dup_failed(sqlite3_stmt *st, int col, char **out)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    *out = t ? strdup((const char *)t) : NULL;
    return sqlite3_column_type(st, col) != SQLITE_NULL && !*out;
}

/* Rows written before migration 0004 (or with its triggers dropped) may hold ids that do not fit. */
bool sqlite_read_id(char dst[OFFER_ID_SIZE], sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    size_t bytes = (size_t)sqlite3_column_bytes(st, col); /* counts past an embedded NUL */
    dst[0] = '\0';
    if (!t || bytes > OFFER_ID_MAX || !offer_id_is_valid(t) || strlen(t) != bytes)
        return false;
    memcpy(dst, t, bytes + 1);
    return true;
}

/* Never the whole of an arbitrarily long value: its length and a printable start. */
void sqlite_log_bad_id(const char *what, sqlite3_stmt *st, int col, const char *consequence)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    int bytes = sqlite3_column_bytes(st, col);
    char start[OFFER_ID_SIZE];
    size_t n = 0;
    for (; t && (int)n < bytes && n < OFFER_ID_MAX; n++)
        start[n] = (t[n] >= 0x20 && t[n] < 0x7f && t[n] != '"') ? t[n] : '?';
    start[n] = '\0';
    log_error("sqlite: %s is not an id offerd can serve ([A-Za-z0-9_-]{1,64}: %d bytes, "
              "\"%s%s\"); %s",
              what, bytes, start, bytes > OFFER_ID_MAX ? "..." : "", consequence);
}

const char *sqlite_whole_text(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t && strlen(t) == (size_t)sqlite3_column_bytes(st, col) ? t : NULL;
}

bool sqlite_grow(void *array, size_t *cap, size_t count, size_t elem_size)
{
    if (count < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *n = realloc(*(void **)array, ncap * elem_size);
    if (!n)
        return false;
    *(void **)array = n;
    *cap = ncap;
    return true;
}
