/* store_postgresql.h - the PostgreSQL backend's entry: "postgresql://..." or "postgres://..." URIs.
 *
 * The one name store.c needs from store/postgresql/; everything else there is private to the
 * backend (pg_internal.h).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_STORE_POSTGRESQL_H
#define OFFERD_STORE_POSTGRESQL_H

#include "store/backend.h"

extern const struct store_backend store_backend_postgresql;

#endif
