/* store_sqlite.h - the SQLite backend's entry: a file path, "sqlite:PATH" or a "file:" URI.
 *
 * The one name store.c needs from store/sqlite/; everything else there is private to the backend.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_STORE_SQLITE_H
#define OFFERD_STORE_SQLITE_H

#include "store/backend.h"

extern const struct store_backend store_backend_sqlite;

#endif
