/* sql_template.c - expanding {LIVE}, {PENDING} and {EXPIRED} in statement templates.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/sql_template.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/offer.h"

/* Every status the domain names, in enum order: the names parse back to themselves until the
 * enum ends (offer_status_name then says "UNKNOWN", which does not parse). */
static bool status_at(int i, enum offer_status *status)
{
    enum offer_status parsed;
    if (!offer_status_parse(offer_status_name((enum offer_status)i), &parsed) || (int)parsed != i)
        return false;
    *status = parsed;
    return true;
}

/* "'PENDING', 'COUNTERED'": the live statuses as a SQL IN-list. */
static void live_list(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    enum offer_status status;
    for (int i = 0; status_at(i, &status) && len < size; i++) {
        if (!offer_status_is_live(status))
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s'%s'", len ? ", " : "",
                                offer_status_name(status));
    }
}

/* A copy of template with every {NAME} token replaced by its value; NULL out of memory. */
static char *expand(const char *template, const char *const tokens[][2], size_t token_count)
{
    size_t cap = strlen(template) + 1;
    for (size_t i = 0; i < token_count; i++)
        for (const char *p = strstr(template, tokens[i][0]); p; p = strstr(p + 1, tokens[i][0]))
            cap += strlen(tokens[i][1]);
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = template; *p;) {
        size_t i = 0;
        while (i < token_count && strncmp(p, tokens[i][0], strlen(tokens[i][0])) != 0)
            i++;
        if (i < token_count) {
            o = stpcpy(o, tokens[i][1]);
            p += strlen(tokens[i][0]);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

char *sql_template_expand(const char *template)
{
    char live[128], pending[32], expired[32];
    live_list(live, sizeof(live));
    snprintf(pending, sizeof(pending), "'%s'", offer_status_name(OFFER_STATUS_PENDING));
    snprintf(expired, sizeof(expired), "'%s'", offer_status_name(OFFER_STATUS_EXPIRED));
    const char *const tokens[][2] = {{"{LIVE}", live}, {"{PENDING}", pending},
                                     {"{EXPIRED}", expired}};
    return expand(template, tokens, sizeof(tokens) / sizeof(tokens[0]));
}
