/* client_support.h - what libofferpoll's tests share: a seeded offerd, a callback recorder,
 * bounded waits.
 *
 * Every wait is bounded and scaled by OFFERPOLL_TEST_TIME_SCALE (default 1; set it to 10 or so
 * under valgrind), so a slow machine makes a test slower, never hang.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERPOLL_TEST_CLIENT_SUPPORT_H
#define OFFERPOLL_TEST_CLIENT_SUPPORT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "offerpoll.h"
#include "spawn_offerd.h"

/* ---- time ---- */
int64_t t_now_ms(void);
void t_sleep_ms(int64_t ms);
/* MS scaled by OFFERPOLL_TEST_TIME_SCALE. */
int64_t t_scaled(int64_t ms);
/* Polls PRED(ARG) every 5 ms for up to t_scaled(TIMEOUT_MS). Returns its last answer. */
bool t_wait_until(bool (*pred)(void *arg), void *arg, int64_t timeout_ms);

/* ---- a seeded offerd ---- */
struct server_fixture {
    char *dir;
    char db[PATH_MAX];
    struct offerd_proc proc;
    char *buyer_token;    /* sub user_buyer: party to o_pending, o_countered */
    char *seller_token;   /* sub user_seller */
    char *stranger_token; /* sub user_stranger: 403 on them */
    const char *const *extra_args; /* borrowed: more offerd flags, on every start and restart */
};

/* Temp dir, migrated and seeded database, running offerd. Returns 0 or -1 (all released). */
int fixture_start(struct server_fixture *f);
/* The same with more offerd flags (NULL-terminated, borrowed for the fixture's life), e.g.
 * {"--sse-heartbeat", "1", NULL}. */
int fixture_start_args(struct server_fixture *f, const char *const *extra_args);
/* Stops offerd (if running), removes the directory, frees the tokens. */
void fixture_stop(struct server_fixture *f);
/* Stops offerd and returns; fixture_restart starts it again on the same port and database. */
int fixture_server_down(struct server_fixture *f);
int fixture_restart(struct server_fixture *f, int port);
/* An outside write to offer ID (its message changes; the version bumps). Returns 0 or -1. */
int fixture_touch(struct server_fixture *f, const char *offer_id);
/* Adds COUNT offers "<PREFIX>000".. by u_buyer on p_driver, PENDING, amount 150.00 + i pence,
 * no expiry, as an outside writer. Returns 0 or -1. */
int fixture_add_offers(struct server_fixture *f, const char *prefix, int count);
/* Lines of the server's access log containing NEEDLE (e.g. "GET /api/offers/o_pending 304"). */
int fixture_count_log(const struct server_fixture *f, const char *needle);

/* ---- a callback recorder ---- */
#define REC_MAX_EVENTS 512
struct recorder {
    pthread_mutex_t lock;
    int updates;
    int errors;
    int64_t update_at_ms[REC_MAX_EVENTS];
    int64_t error_at_ms[REC_MAX_EVENTS];
    enum offerpoll_code error_code[REC_MAX_EVENTS];
    long error_status[REC_MAX_EVENTS];
    int64_t error_retry_ms[REC_MAX_EVENTS];
    unsigned error_failures[REC_MAX_EVENTS];
    char last_error_message[256];
    offerpoll_offer *last;   /* dup of the last update */
    int64_t last_version;
    /* optional hooks, run inside the callbacks after recording */
    void (*after_update)(offerpoll_watch *w, struct recorder *r);
    void (*after_error)(offerpoll_watch *w, struct recorder *r);
    void *extra;
};

void recorder_init(struct recorder *r);
void recorder_cleanup(struct recorder *r);
void recorder_on_update(offerpoll_watch *w, const offerpoll_offer *offer, void *userdata);
void recorder_on_error(offerpoll_watch *w, const offerpoll_error *err, void *userdata);
int recorder_updates(struct recorder *r);
int recorder_errors(struct recorder *r);
int64_t recorder_version(struct recorder *r);
/* Waits until at least N updates (errors) were recorded. */
bool recorder_wait_updates(struct recorder *r, int n, int64_t timeout_ms);
bool recorder_wait_errors(struct recorder *r, int n, int64_t timeout_ms);

/* A started watch on C for ID with the recorder's callbacks and INTERVAL_MS; NULL on failure. */
offerpoll_watch *start_recorded_watch(offerpoll_client *c, const char *id, uint32_t interval_ms,
                                      struct recorder *r);
/* The same in MODE. */
offerpoll_watch *start_mode_watch(offerpoll_client *c, const char *id, enum offerpoll_mode mode,
                                  uint32_t interval_ms, struct recorder *r);

/* Stats of W (asserting success). */
offerpoll_watch_stats watch_stats(const offerpoll_watch *w);

#endif
