/* offerd_fixture.h - one real offerd on a temporary, seeded database, for a test group.
 *
 * offerd_fixture_start makes a temporary directory and a database (test_db_new: DIR/t.db on
 * SQLite; a fresh database with OFFERD_TEST_BACKEND=postgresql), starts offerd on it (127.0.0.1,
 * port 0, the test JWT secret, limits off; see offerd_start) with the caller's extra flags, seeds
 * the usual users, products and offers (test_seed.h) and mints one-hour tokens for the seeded
 * buyer, seller and stranger. offerd_fixture_stop stops the server and removes everything, the
 * PostgreSQL database too. A server that no stop reaches (a failed assertion in setup, an exit, a
 * crash) is still killed: see spawn_offerd.h; a database still there at exit is dropped then.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_FIXTURE_H
#define OFFERD_TEST_FIXTURE_H

#include <limits.h>

#include "spawn_offerd.h"
#include "test_http.h"

struct offerd_fixture {
    char *dir;                        /* temporary directory (heap), removed by stop */
    char db[PATH_MAX];                /* DIR/t.db, or "postgresql:///NAME" (test_backend.h) */
    struct offerd_proc server;        /* pid, port, base_url, log paths */
    char *buyer, *seller, *stranger;  /* tokens of the seeded users (heap), freed by stop */
};

/* Starts and seeds as described above; extra_args is NULL-terminated and may be NULL. Returns 0,
 * or -1 (with whatever was started stopped again). */
int offerd_fixture_start(struct offerd_fixture *fx, const char *const *extra_args);

/* Stops the server (SIGTERM, then SIGKILL after 60 s), frees the tokens, drops the database and
 * removes the directory.
 * Returns 0 when the server exited cleanly (under ASan: with no leaks), -1 otherwise. Safe to call
 * on a fixture whose start failed or that was already stopped. */
int offerd_fixture_stop(struct offerd_fixture *fx);

/* GET P's PATH with an optional token and one optional extra header ("Name: value"), asserting
 * (cmocka) that a response arrived; for tests that run servers of their own. */
void offerd_get(const struct offerd_proc *p, const char *path, const char *token,
                const char *extra_header, struct http_response *r);

/* GET fx's server PATH with an optional token and one optional extra header ("Name: value"),
 * asserting (cmocka) that a response arrived. Clean *r up with http_response_cleanup. */
void offerd_fixture_get(const struct offerd_fixture *fx, const char *path, const char *token,
                        const char *extra_header, struct http_response *r);

/* The value of metric NAME on fx's server's /metrics, or -1 when absent. */
long long offerd_fixture_metric(const struct offerd_fixture *fx, const char *name);

/* SELECT version FROM offers WHERE id = ID in fx's database, or -1. */
long long offerd_fixture_version(const struct offerd_fixture *fx, const char *id);

#endif
