/* test_seed.h - a small fixed marketplace written straight into SQLite, as an outside writer would.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_SEED_H
#define OFFERD_TEST_SEED_H

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
int seed_fixture(const char *db_path);

/* Creates db_path (if missing) and applies the source tree's migrations/NNNN_*.sql numbered below
 * `before`, recording them as offerd does, so a test can write rows that a later migration would
 * refuse and then start offerd on the file to apply the rest. Returns 0, or -1 with a message. */
int seed_migrate_before(const char *db_path, int before);

/* Runs SQL on the database as an outside writer would (its own connection, busy timeout 5 s).
 * Returns 0 on success, -1 with a message on stderr. */
int seed_exec(const char *db_path, const char *sql);

/* Reads one integer from the first column of the first row of SQL, or returns DEFAULT_VALUE. */
long long seed_query_int(const char *db_path, const char *sql, long long default_value);

#endif
