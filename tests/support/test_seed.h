/* test_seed.h - a small fixed marketplace written straight into the database, as an outside
 * writer would, on either store.
 *
 * Every function takes the database as test_db_new made it: a SQLite file path or a PostgreSQL
 * URL ("postgresql://..."), and runs the SQL there. SQL written here and in the tests is meant to
 * run on both: booleans as TRUE/FALSE (SQLite reads them as 1 and 0), no SQLite-only functions;
 * see test_sql in test_backend.h for the rare statement that must differ.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_SEED_H
#define OFFERD_TEST_SEED_H

#include <stdbool.h>

/* The fixture (all ids fixed):
 *   users    u_buyer (clerk user_buyer, Bea Buyer), u_seller (clerk user_seller, Sam Seller),
 *            u_stranger (clerk user_stranger, Stan Stranger), u_buyer2 (clerk user_buyer2)
 *   products p_driver (seller u_seller, "Titleist TSR3 Driver", 200.00, 2 images),
 *            p_putter (seller u_seller, "Scotty Cameron Putter", 300.00, sold), p_irons (seller u_buyer, 500.00)
 *   offers   o_pending   u_buyer -> p_driver, 150.00, PENDING, expires in 7 days, message "Would you take 150?"
 *            o_countered u_buyer -> p_driver, 120.00, COUNTERED, counters: seller 180.00, buyer 140.00
 *            o_expiring  u_buyer2 -> p_driver, 110.00, PENDING, already past its expiry
 * Timestamps are fixed in 2026 except expiries, which are relative to now.
 * The database must already be migrated (start offerd on it, or run `offerd migrate`). */
#define SEED_BUYER_TOKEN_SUB "user_buyer"
#define SEED_SELLER_TOKEN_SUB "user_seller"
#define SEED_STRANGER_TOKEN_SUB "user_stranger"

/* Returns 0 on success, -1 (with a message on stderr) on failure. */
int seed_fixture(const char *db);

/* Applies the source tree's migrations/<store>/NNNN_*.sql numbered below `before`, recording
 * them as offerd does, so a test can write rows that a later migration would refuse and then
 * start offerd to apply the rest. On SQLite the file is created if missing. On PostgreSQL, whose
 * migrations are applied by offerd only, every migration must be below `before` (they are then
 * all applied with `offerd migrate`); otherwise -1. Returns 0, or -1 with a message. */
int seed_migrate_before(const char *db, int before);

/* The number of migrations/<store>/NNNN_*.sql files of this run's store, and (if latest is not
 * NULL) the highest NNNN: what a fully migrated database records. */
int seed_migration_files(int *latest);

/* Runs SQL (one or more statements) on the database as an outside writer would (its own
 * connection; SQLite: busy timeout 5 s). Returns 0 on success, -1 with a message on stderr. */
int seed_exec(const char *db, const char *sql);

/* Reads one integer from the first column of the first row of SQL (a boolean reads as 1 or 0, a
 * NULL as 0), or returns DEFAULT_VALUE when there is no row or the query fails. */
long long seed_query_int(const char *db, const char *sql, long long default_value);

/* One connection kept open: for a test that holds a transaction across requests, or that asks
 * many questions quickly. */
struct seed_conn;

/* Opens a connection (NULL with a message on failure); read_only asks SQLite for a read-only
 * handle (PostgreSQL ignores it). Close with seed_conn_close. */
struct seed_conn *seed_conn_open(const char *db, bool read_only);
void seed_conn_close(struct seed_conn *c);

/* Runs SQL on c; 0 or -1 with a message. */
int seed_conn_exec(struct seed_conn *c, const char *sql);

/* Starts a transaction that writes: SQLite takes the database's write lock at once (BEGIN
 * IMMEDIATE), PostgreSQL begins (its locks come with the statements that follow). 0 or -1. */
int seed_conn_begin_write(struct seed_conn *c);

/* Reads the first row of SQL into out[0..n-1] (NULL reads as 0, booleans as 1/0). Returns 1 for
 * a row, 0 for none, -1 for an error (with a message). */
int seed_conn_query_ints(struct seed_conn *c, const char *sql, long long *out, int n);

/* Reads the first column of the first row of SQL as text into *out (heap, free() it). Returns 1
 * for a row, 0 for none, -1 for an error (with a message). */
int seed_conn_query_text(struct seed_conn *c, const char *sql, char **out);

#endif
