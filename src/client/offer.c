/* offer.c - offerpoll_offer values: one allocation each, so one free releases everything.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Appends a copy of S (NUL included) at *P and returns where it went. */
static const char *put(char **p, const char *s, size_t len)
{
    char *dst = *p;
    memcpy(dst, s, len);
    dst[len] = '\0';
    *p += len + 1;
    return dst;
}

offerpoll_offer *op_offer_new(const struct op_offer_fields *f)
{
    size_t id_len = strlen(f->id), status_len = strlen(f->status_text);
    size_t etag_len = f->etag ? strlen(f->etag) : 0;
    size_t size = sizeof(offerpoll_offer) + id_len + status_len + etag_len + f->json_len + 4;
    offerpoll_offer *o = malloc(size);
    if (!o)
        return NULL;

    char *p = (char *)(o + 1);
    *o = (offerpoll_offer){
        .version = f->version,
        .status = f->status,
        .amount_minor = f->amount_minor,
        .has_expiry = f->has_expiry,
        .expires_at_ms = f->has_expiry ? f->expires_at_ms : 0,
        .updated_at_ms = f->updated_at_ms,
        .json_len = f->json_len,
    };
    o->id = put(&p, f->id, id_len);
    o->status_text = put(&p, f->status_text, status_len);
    o->etag = f->etag ? put(&p, f->etag, etag_len) : NULL;
    o->json = put(&p, f->json, f->json_len);
    return o;
}

bool op_offer_is_for(const offerpoll_offer *offer, const char *id)
{
    return strcmp(offer->id, id) == 0;
}

void offerpoll_offer_free(offerpoll_offer *offer)
{
    free(offer);
}

offerpoll_offer *offerpoll_offer_dup(const offerpoll_offer *offer)
{
    if (!offer)
        return NULL;
    struct op_offer_fields f = {
        .id = offer->id,
        .version = offer->version,
        .status = offer->status,
        .status_text = offer->status_text,
        .amount_minor = offer->amount_minor,
        .has_expiry = offer->has_expiry,
        .expires_at_ms = offer->expires_at_ms,
        .updated_at_ms = offer->updated_at_ms,
        .etag = offer->etag,
        .json = offer->json,
        .json_len = offer->json_len,
    };
    return op_offer_new(&f);
}
