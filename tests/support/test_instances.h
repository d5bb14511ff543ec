/* test_instances.h - several offerd on one database, and the HTTP writes and long-polls tests
 * make through them.
 *
 * What a test of offerd as N instances behind a load balancer needs: one database (test_db_new:
 * a fresh PostgreSQL database when OFFERD_TEST_BACKEND=postgresql), seeded with the usual
 * fixture (test_seed.h), N servers on it, each on its own port with its own output files
 * (DIR/instanceN.stdout and .log), tokens for the seeded users; a write that reports its status,
 * the version it answered and whether a 503 carried Retry-After; a long-poll held on a thread.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_INSTANCES_H
#define OFFERD_TEST_INSTANCES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "spawn_offerd.h"

#define TEST_INSTANCES_MAX 4

struct test_instances {
    char *dir;    /* temporary directory (heap): the servers' output */
    char db[256]; /* the database they share */
    int count;
    struct offerd_proc p[TEST_INSTANCES_MAX];
    const char *const *extra_args;            /* borrowed: the flags every instance started with */
    char *buyer, *buyer2, *stranger, *seller; /* tokens of the seeded users (heap) */
};

/* Makes the database, starts instance 0 on it (which migrates it), seeds the fixture, starts the
 * other count-1 instances, each with extra_args (NULL-terminated, may be NULL; the array must
 * outlive t: restarts reuse it). Returns 0, or -1 with everything taken down again. */
int test_instances_start(struct test_instances *t, int count, const char *const *extra_args);

/* Starts instance i again (after offerd_kill9 or offerd_stop on t->p[i]). Returns 0 or -1. */
int test_instances_restart(struct test_instances *t, int i);

/* Stops every instance still running, frees the tokens, drops the database and removes the
 * directory. Returns 0 when every server that was running exited cleanly, else -1. Safe twice. */
int test_instances_stop(struct test_instances *t);

/* Inserts product ID of the seeded seller (u_seller), unsold, at price_minor pence, as an outside
 * writer would. Returns 0 or -1. */
int test_product_new(const char *db, const char *id, long long price_minor);

/* The outcome of one write. */
struct test_write {
    long status;       /* 0: no response (transport failure or timeout) */
    long long version; /* the offer's version in a 2xx body, else -1 */
    char id[80];       /* the offer's id in a 2xx body, else "" */
    bool retry_after;  /* the response carried Retry-After */
};

/* Sends METHOD PATH with a JSON body as TOKEN to P, waiting at most timeout_ms (0: the default of
 * test_http.h). Never fails the test itself: the caller judges the outcome. */
struct test_write test_write(const struct offerd_proc *p, const char *method, const char *path,
                             const char *token, const char *body, long timeout_ms);

/* POST /api/offers {productId, amount} (amount in major units, as JSON text, e.g. "150"). */
struct test_write test_offer_new(const struct offerd_proc *p, const char *token,
                                 const char *product_id, const char *amount);

/* POST /api/offers/ID/counter {amount}. */
struct test_write test_offer_counter(const struct offerd_proc *p, const char *token,
                                     const char *offer_id, const char *amount);

/* PATCH /api/offers/ID {status} (status "ACCEPTED" or "REJECTED"). */
struct test_write test_offer_decide(const struct offerd_proc *p, const char *token,
                                    const char *offer_id, const char *status);

/* A long-poll GET /api/offers/ID?since=V&wait=S, sent and held on its own thread. */
struct test_longpoll {
    const struct offerd_proc *p;
    char path[256];
    char auth[1024]; /* the Authorization header: a copy, so the caller's token may go */
    pthread_t thread;
    bool started;
    double sent_at_s, answered_at_s; /* test_now_s() */
    atomic_bool done;
    long status; /* valid once done */
    char *body;  /* heap, valid once done */
};

/* Sends the long-poll on a new thread and returns at once. Returns a heap object: free it with
 * test_longpoll_free. A test that fails before freeing it abandons it harmlessly (the thread only
 * writes into it, and its request ends by its own wait= bound). */
struct test_longpoll *test_longpoll_start(const struct offerd_proc *p, const char *token,
                                          const char *offer_id, long long since_version,
                                          int wait_s);

/* Waits up to timeout_ms for the answer; true if it arrived. */
bool test_longpoll_wait(struct test_longpoll *lp, int timeout_ms);

/* Joins the thread (the request ends by its own wait= bound at the latest) and frees lp and its
 * body. NULL is a no-op. */
void test_longpoll_free(struct test_longpoll *lp);

#endif
