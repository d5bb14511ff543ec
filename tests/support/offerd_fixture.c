/* offerd_fixture.c - start a seeded offerd on a temporary database and take it all down again.
 *
 * SPDX-License-Identifier: MIT
 */
#include "offerd_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_backend.h"
#include "test_seed.h"
#include "test_tokens.h"

int offerd_fixture_start(struct offerd_fixture *fx, const char *const *extra_args)
{
    memset(fx, 0, sizeof(*fx));
    fx->dir = test_tmpdir_new();
    if (!fx->dir)
        return -1;
    /* offerd migrates the new database as it starts; the seed needs those tables. */
    if (test_db_new(fx->dir, "t.db", fx->db, sizeof(fx->db)) != 0 ||
        offerd_start(&fx->server, fx->db, extra_args) != 0 || seed_fixture(fx->db) != 0) {
        offerd_fixture_stop(fx);
        return -1;
    }
    fx->buyer = test_token(SEED_BUYER_TOKEN_SUB, 3600);
    fx->seller = test_token(SEED_SELLER_TOKEN_SUB, 3600);
    fx->stranger = test_token(SEED_STRANGER_TOKEN_SUB, 3600);
    return 0;
}

int offerd_fixture_stop(struct offerd_fixture *fx)
{
    int status = fx->server.pid > 0 ? offerd_stop(&fx->server) : -1;
    free(fx->buyer);
    free(fx->seller);
    free(fx->stranger);
    fx->buyer = fx->seller = fx->stranger = NULL;
    test_db_drop(fx->db);
    fx->db[0] = '\0';
    test_tmpdir_remove(fx->dir);
    free(fx->dir);
    fx->dir = NULL;
    return status == 0 ? 0 : -1;
}

void offerd_get(const struct offerd_proc *p, const char *path, const char *token,
                const char *extra_header, struct http_response *r)
{
    const char *extra[] = {extra_header, NULL};
    assert_int_equal(http_call(p->base_url, "GET", path, token, extra, NULL, 0, r), 0);
}

void offerd_fixture_get(const struct offerd_fixture *fx, const char *path, const char *token,
                        const char *extra_header, struct http_response *r)
{
    offerd_get(&fx->server, path, token, extra_header, r);
}

long long offerd_fixture_metric(const struct offerd_fixture *fx, const char *name)
{
    return http_metric(fx->server.base_url, name);
}

long long offerd_fixture_version(const struct offerd_fixture *fx, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT version FROM offers WHERE id = '%s'", id);
    return seed_query_int(fx->db, sql, -1);
}
