/* rows.c - copying PostgreSQL result columns out: ids whole or refused, numbers, flags, text.
 *
 * Results come in text format. The schema's CHECKs keep every stored id valid, but a row written
 * with them dropped (or NOT VALID) is still refused whole, never cut into another id.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

bool pg_text_id(const PGresult *res, int row, int col, char id[OFFER_ID_SIZE])
{
    id[0] = '\0';
    if (PQgetisnull(res, row, col))
        return false;
    const char *t = PQgetvalue(res, row, col);
    size_t bytes = (size_t)PQgetlength(res, row, col);
    if (bytes > OFFER_ID_MAX || strlen(t) != bytes || !offer_id_is_valid(t))
        return false;
    memcpy(id, t, bytes + 1);
    return true;
}

int64_t pg_get_int64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool pg_bool(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

char *pg_strdup_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

bool pg_dup_failed(const PGresult *res, int row, int col, char **out)
{
    *out = pg_strdup_or_null(res, row, col);
    return !*out && !PQgetisnull(res, row, col);
}

/* Never the whole of an arbitrarily long value: its length and a printable start. */
void pg_log_bad_id(const char *what, const PGresult *res, int row, int col,
                   const char *consequence)
{
    bool null = PQgetisnull(res, row, col);
    const char *t = PQgetvalue(res, row, col);
    int bytes = PQgetlength(res, row, col);
    char start[OFFER_ID_SIZE];
    size_t n = 0;
    for (; !null && (int)n < bytes && n < OFFER_ID_MAX; n++)
        start[n] = (t[n] >= 0x20 && t[n] < 0x7f && t[n] != '"') ? t[n] : '?';
    start[n] = '\0';
    log_error("postgresql: %s is not an id offerd can serve ([A-Za-z0-9_-]{1,64}: %s%d bytes, "
              "\"%s%s\"); %s",
              what, null ? "NULL, " : "", bytes, start, bytes > OFFER_ID_MAX ? "..." : "",
              consequence);
}
