/* test_instances.c - start N offerd on one seeded database; writes and long-polls through them.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

/* Instance i's flags: the shared database (after the output base, so it wins), then the test's. */
static int start_instance(struct test_instances *t, int i)
{
    char base[PATH_MAX];
    if ((size_t)snprintf(base, sizeof(base), "%s/instance%d", t->dir, i) >= sizeof(base))
        return -1;
    const char *args[64] = {"--db", t->db};
    size_t n = 2;
    for (size_t k = 0; t->extra_args && t->extra_args[k] && n < 63; k++)
        args[n++] = t->extra_args[k];
    args[n] = NULL;
    return offerd_start(&t->p[i], base, args);
}

int test_instances_start(struct test_instances *t, int count, const char *const *extra_args)
{
    memset(t, 0, sizeof(*t));
    if (count < 1 || count > TEST_INSTANCES_MAX)
        return -1;
    t->extra_args = extra_args;
    t->dir = test_tmpdir_new();
    if (!t->dir || test_db_new(t->dir, "t.db", t->db, sizeof(t->db)) != 0)
        goto fail;
    /* The first instance migrates the new database; the seed needs its tables. */
    if (start_instance(t, 0) != 0 || seed_fixture(t->db) != 0)
        goto fail;
    t->count = 1;
    for (; t->count < count; t->count++)
        if (start_instance(t, t->count) != 0)
            goto fail;
    t->buyer = test_token(SEED_BUYER_TOKEN_SUB, 3600);
    t->buyer2 = test_token("user_buyer2", 3600);
    t->stranger = test_token(SEED_STRANGER_TOKEN_SUB, 3600);
    t->seller = test_token(SEED_SELLER_TOKEN_SUB, 3600);
    return 0;
fail:
    test_instances_stop(t);
    return -1;
}

int test_instances_restart(struct test_instances *t, int i)
{
    return i < t->count ? start_instance(t, i) : -1;
}

int test_instances_stop(struct test_instances *t)
{
    int rc = 0;
    for (int i = 0; i < TEST_INSTANCES_MAX; i++)
        if (t->p[i].pid > 0 && offerd_stop(&t->p[i]) != 0) {
            fprintf(stderr, "instance %d did not exit cleanly\n", i);
            rc = -1;
        }
    free(t->buyer);
    free(t->buyer2);
    free(t->stranger);
    free(t->seller);
    t->buyer = t->buyer2 = t->stranger = t->seller = NULL;
    if (t->db[0])
        test_db_drop(t->db);
    t->db[0] = '\0';
    test_tmpdir_remove(t->dir);
    free(t->dir);
    t->dir = NULL;
    return rc;
}

int test_product_new(const char *db, const char *id, long long price_minor)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO products(id, user_id, title, price, is_sold)"
             " VALUES ('%s', 'u_seller', 'Product %s', %lld, FALSE)",
             id, id, price_minor);
    return seed_exec(db, sql);
}

struct test_write test_write(const struct offerd_proc *p, const char *method, const char *path,
                             const char *token, const char *body, long timeout_ms)
{
    struct test_write w = {.version = -1};
    const char *json[] = {"Content-Type: application/json", NULL};
    struct http_response r;
    http_call(p->base_url, method, path, token, json, body, timeout_ms, &r);
    w.status = r.status;
    char value[64];
    w.retry_after = http_header(&r, "Retry-After", value, sizeof(value)) != NULL;
    json_t *j = w.status >= 200 && w.status < 300 && r.body ? json_loads(r.body, 0, NULL) : NULL;
    if (j) {
        const char *id = json_string_value(json_object_get(j, "id"));
        snprintf(w.id, sizeof(w.id), "%s", id ? id : "");
        json_t *v = json_object_get(j, "version");
        w.version = json_is_integer(v) ? json_integer_value(v) : -1;
        json_decref(j);
    }
    http_response_cleanup(&r);
    return w;
}

struct test_write test_offer_new(const struct offerd_proc *p, const char *token,
                                 const char *product_id, const char *amount)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"productId\":\"%s\",\"amount\":%s}", product_id, amount);
    return test_write(p, "POST", "/api/offers", token, body, 0);
}

struct test_write test_offer_counter(const struct offerd_proc *p, const char *token,
                                     const char *offer_id, const char *amount)
{
    char path[160], body[64];
    snprintf(path, sizeof(path), "/api/offers/%s/counter", offer_id);
    snprintf(body, sizeof(body), "{\"amount\":%s}", amount);
    return test_write(p, "POST", path, token, body, 0);
}

struct test_write test_offer_decide(const struct offerd_proc *p, const char *token,
                                    const char *offer_id, const char *status)
{
    char path[160], body[64];
    snprintf(path, sizeof(path), "/api/offers/%s", offer_id);
    snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
    return test_write(p, "PATCH", path, token, body, 0);
}

static void *longpoll_run(void *arg)
{
    struct test_longpoll *lp = arg;
    struct http_response r;
    /* The server answers by the wait= bound; the transfer gives up 15 s after that. */
    const char *wait = strstr(lp->path, "wait=");
    long timeout_ms = ((wait ? atol(wait + 5) : 60) + 15) * 1000;
    const char *headers[] = {lp->auth, NULL};
    http_call(lp->p->base_url, "GET", lp->path, NULL, headers, NULL, timeout_ms, &r);
    lp->status = r.status;
    lp->body = r.body ? strdup(r.body) : NULL;
    http_response_cleanup(&r);
    lp->answered_at_s = test_now_s();
    atomic_store(&lp->done, true);
    return NULL;
}

struct test_longpoll *test_longpoll_start(const struct offerd_proc *p, const char *token,
                                          const char *offer_id, long long since_version, int wait_s)
{
    struct test_longpoll *lp = calloc(1, sizeof(*lp));
    if (!lp)
        return NULL;
    lp->p = p;
    http_bearer_header(lp->auth, sizeof(lp->auth), token);
    snprintf(lp->path, sizeof(lp->path), "/api/offers/%s?since=%lld&wait=%d", offer_id,
             since_version, wait_s);
    lp->sent_at_s = test_now_s();
    lp->started = pthread_create(&lp->thread, NULL, longpoll_run, lp) == 0;
    if (!lp->started)
        atomic_store(&lp->done, true); /* status 0: the caller sees no answer */
    return lp;
}

bool test_longpoll_wait(struct test_longpoll *lp, int timeout_ms)
{
    for (int waited = 0; !atomic_load(&lp->done) && waited < timeout_ms; waited += 10)
        test_sleep_ms(10);
    return atomic_load(&lp->done);
}

void test_longpoll_free(struct test_longpoll *lp)
{
    if (!lp)
        return;
    if (lp->started)
        pthread_join(lp->thread, NULL);
    free(lp->body);
    free(lp);
}
