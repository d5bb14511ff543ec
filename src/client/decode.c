/* decode.c - offer JSON into an offerpoll_offer, with jansson doing the JSON.
 *
 * Times are parsed by hand (the format is fixed by the SPEC and strptime/timegm are not C11), with
 * the civil-to-days arithmetic done exactly so no time zone or locale can leak in.
 *
 * SPDX-License-Identifier: MIT
 */
#include "decode.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "internal.h"

static const char *const status_names[] = {
    [OFFERPOLL_STATUS_UNKNOWN] = "UNKNOWN",     [OFFERPOLL_STATUS_PENDING] = "PENDING",
    [OFFERPOLL_STATUS_COUNTERED] = "COUNTERED", [OFFERPOLL_STATUS_ACCEPTED] = "ACCEPTED",
    [OFFERPOLL_STATUS_REJECTED] = "REJECTED",   [OFFERPOLL_STATUS_EXPIRED] = "EXPIRED",
};

/* Reads exactly N decimal digits at *p, advancing it. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char ch)
{
    if (**p != ch)
        return false;
    (*p)++;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's method). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static void set_err(char *err, size_t size, const char *msg)
{
    if (size > 0)
        snprintf(err, size, "%s", msg);
}

/* An optional time member: absent or null leaves *has false; a string must parse. */
static bool optional_time(json_t *root, const char *key, bool *has, int64_t *ms)
{
    json_t *v = json_object_get(root, key);
    *has = false;
    *ms = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || !op_decode_time_ms(json_string_value(v), ms))
        return false;
    *has = true;
    return true;
}

enum offerpoll_code op_decode_offer(const char *json, size_t len, const char *etag,
                                    offerpoll_offer **out, char *err, size_t errsize)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (errsize > 0)
            snprintf(err, errsize, "body is not JSON: %s", jerr.text);
        return OFFERPOLL_ERR_BAD_RESPONSE;
    }

    enum offerpoll_code code = OFFERPOLL_ERR_BAD_RESPONSE;
    json_t *id = json_object_get(root, "id");
    json_t *version = json_object_get(root, "version");
    json_t *status = json_object_get(root, "status");
    json_t *amount = json_object_get(root, "amount");
    struct op_offer_fields f = {0};
    bool has_updated;

    if (!json_is_object(root)) {
        set_err(err, errsize, "body is not a JSON object");
        goto out;
    }
    if (!json_is_string(id) || json_string_length(id) == 0) {
        set_err(err, errsize, "offer has no string \"id\"");
        goto out;
    }
    if (!json_is_integer(version) || json_integer_value(version) < 1) {
        set_err(err, errsize, "offer has no integer \"version\" >= 1");
        goto out;
    }
    if (!json_is_string(status)) {
        set_err(err, errsize, "offer has no string \"status\"");
        goto out;
    }
    if (!json_is_number(amount) || json_number_value(amount) < 0 ||
        !op_decode_amount_minor(json_number_value(amount), &f.amount_minor)) {
        set_err(err, errsize, "offer has no usable number \"amount\"");
        goto out;
    }
    if (!optional_time(root, "expiresAt", &f.has_expiry, &f.expires_at_ms)) {
        set_err(err, errsize, "offer's \"expiresAt\" is not an ISO-8601 UTC time");
        goto out;
    }
    if (!optional_time(root, "updatedAt", &has_updated, &f.updated_at_ms)) {
        set_err(err, errsize, "offer's \"updatedAt\" is not an ISO-8601 UTC time");
        goto out;
    }

    f.id = json_string_value(id);
    f.version = json_integer_value(version);
    f.status_text = json_string_value(status);
    f.status = op_decode_status(f.status_text);
    f.etag = etag;
    f.json = json;
    f.json_len = len;
    *out = op_offer_new(&f);
    code = *out ? OFFERPOLL_OK : OFFERPOLL_ERR_NO_MEMORY;
    if (!*out)
        set_err(err, errsize, "out of memory");
out:
    json_decref(root);
    return code;
}

bool op_decode_time_ms(const char *iso, int64_t *out)
{
    if (!iso)
        return false;
    const char *p = iso;
    int y, mo, d, h, mi, s, ms = 0;
    if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
        !digits(&p, 2, &d) || !expect(&p, 'T') || !digits(&p, 2, &h) || !expect(&p, ':') ||
        !digits(&p, 2, &mi) || !expect(&p, ':') || !digits(&p, 2, &s))
        return false;
    if (*p == '.') {
        p++;
        int n = 0, scale = 100;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 3) {
                ms += (*p - '0') * scale;
                scale /= 10;
            }
        }
        if (n == 0 || n > 9)
            return false;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59)
        return false;

    int64_t days = days_from_civil(y, mo, d);
    *out = ((days * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + ms;
    return true;
}

bool op_decode_amount_minor(double major, int64_t *out)
{
    if (!isfinite(major))
        return false;
    double minor = round(major * 100.0);
    if (fabs(minor) > 9007199254740992.0) /* 2^53: beyond it doubles skip integers */
        return false;
    *out = (int64_t)minor;
    return true;
}

char *op_decode_error_message(const char *body, size_t len, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (!body || len == 0)
        return buf;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *msg = json_object_get(root, "error"); /* NULL-safe: NULL root or not an object */
    if (json_is_string(msg))
        snprintf(buf, size, "%s", json_string_value(msg));
    json_decref(root);
    return buf;
}

enum offerpoll_status op_decode_status(const char *text)
{
    if (!text)
        return OFFERPOLL_STATUS_UNKNOWN;
    for (size_t i = 1; i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(text, status_names[i]) == 0)
            return (enum offerpoll_status)i;
    }
    return OFFERPOLL_STATUS_UNKNOWN;
}

const char *offerpoll_status_name(enum offerpoll_status status)
{
    if ((unsigned)status >= sizeof status_names / sizeof status_names[0])
        return status_names[OFFERPOLL_STATUS_UNKNOWN];
    return status_names[status];
}
