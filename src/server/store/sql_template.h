/* sql_template.h - statement texts whose status lists come from domain/offer.h.
 *
 * Backends write their statements as templates: {LIVE} becomes the quoted names of the statuses
 * offer_status_is_live accepts ("'PENDING', 'COUNTERED'"), {PENDING} and {EXPIRED} those statuses'
 * quoted names. So changing the rule in domain/ changes every backend's queries (backend.h asks
 * for this). Migrations keep their literals: they are applied once and recorded.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_SQL_TEMPLATE_H
#define OFFERD_SQL_TEMPLATE_H

/* A new copy of template with every token replaced (free it); NULL when out of memory. */
char *sql_template_expand(const char *template);

#endif
