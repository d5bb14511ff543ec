/* test_store_db_for_log.c - a --db value shown in a log or message never carries its password.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store.h"

static void shows(const char *db, const char *expected)
{
    char out[256];
    store_db_for_log(db, out, sizeof(out));
    assert_string_equal(out, expected);
}

static void test_paths_and_uris_without_secrets_unchanged(void **state)
{
    (void)state;
    shows("offerd.db", "offerd.db");
    shows("/var/lib/offerd/offers.db", "/var/lib/offerd/offers.db");
    shows("file:offers.db?mode=ro", "file:offers.db?mode=ro");
    shows("postgresql:///offerd", "postgresql:///offerd");
    shows("postgresql://offerd@db.internal:5432/offerd", "postgresql://offerd@db.internal:5432/offerd");
}

static void test_password_in_authority_hidden(void **state)
{
    (void)state;
    shows("postgresql://offerd:s3cret@db:5432/offerd", "postgresql://offerd:***@db:5432/offerd");
    shows("postgres://u:p@h/d?sslmode=require", "postgres://u:***@h/d?sslmode=require");
}

static void test_password_parameter_hidden(void **state)
{
    (void)state;
    shows("postgresql://db/offerd?user=o&password=s3cret&sslmode=require",
          "postgresql://db/offerd?user=o&password=***&sslmode=require");
    shows("postgresql:///offerd?password=s3cret", "postgresql:///offerd?password=***");
    /* a name that merely ends in "password=" is not the parameter */
    shows("postgresql:///offerd?application_name=xpassword=1", "postgresql:///offerd?application_name=xpassword=1");
}

static void test_output_cut_to_its_size(void **state)
{
    (void)state;
    char out[8];
    store_db_for_log("postgresql://u:secret@host/db", out, sizeof(out));
    assert_string_equal(out, "postgre");
    char tiny[1];
    store_db_for_log("x", tiny, sizeof(tiny));
    assert_string_equal(tiny, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_and_uris_without_secrets_unchanged),
        cmocka_unit_test(test_password_in_authority_hidden),
        cmocka_unit_test(test_password_parameter_hidden),
        cmocka_unit_test(test_output_cut_to_its_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
