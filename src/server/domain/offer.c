/* offer.c - names, validation and cleanup for the plain offer data in offer.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "domain/offer.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
    [OFFER_STATUS_PENDING] = "PENDING",
    [OFFER_STATUS_COUNTERED] = "COUNTERED",
    [OFFER_STATUS_ACCEPTED] = "ACCEPTED",
    [OFFER_STATUS_REJECTED] = "REJECTED",
    [OFFER_STATUS_EXPIRED] = "EXPIRED",
};

const char *offer_status_name(enum offer_status status)
{
    if ((size_t)status < sizeof(status_names) / sizeof(status_names[0]))
        return status_names[status];
    return "UNKNOWN";
}

bool offer_status_parse(const char *name, enum offer_status *out)
{
    if (!name)
        return false;
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum offer_status)i;
            return true;
        }
    }
    return false;
}

bool offer_status_is_live(enum offer_status status)
{
    return status == OFFER_STATUS_PENDING || status == OFFER_STATUS_COUNTERED;
}

bool offer_id_is_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n >= OFFER_ID_MAX)
            return false;
    }
    return n > 0;
}

static void person_cleanup(struct person *p)
{
    free(p->first_name);
    free(p->last_name);
}

void offer_cleanup(struct offer *offer)
{
    if (!offer)
        return;
    free(offer->message);
    free(offer->product.title);
    for (size_t i = 0; i < offer->product.image_count; i++)
        free(offer->product.images[i].url);
    free(offer->product.images);
    person_cleanup(&offer->buyer);
    person_cleanup(&offer->seller);
    for (size_t i = 0; i < offer->counter_count; i++)
        free(offer->counters[i].message);
    free(offer->counters);
    memset(offer, 0, sizeof(*offer));
}
