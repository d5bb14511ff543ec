/* test_cli_and_schema.c - offerd's command line, migrations and --demo, run as a user would.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/sqlite/migrate.h"
#include "spawn_offerd.h"
#include "test_backend.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = test_tmpdir_new();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_remove(dir);
    free(dir);
    return 0;
}

static void db_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* A database of this run's store (test_backend.h): DIR/NAME, or a fresh PostgreSQL database. */
static void new_db(char *buf, size_t size, const char *name)
{
    assert_int_equal(test_db_new(dir, name, buf, size), 0);
}

static void test_migrate_applies_once(void **state)
{
    (void)state;
    char db[512];
    char *out = NULL;
    new_db(db, sizeof(db), "migrate.db");
    const char *argv[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(argv, &out), 0);
    assert_non_null(strstr(out, "schema version"));
    free(out);
    assert_int_equal(offerd_run(argv, &out), 0);
    free(out);
    /* Every migration of the store once (numbers may have gaps), the newest last. */
    int latest = 0;
    int files = seed_migration_files(&latest);
    assert_true(files > 0);
    if (!test_backend_is_pg()) /* the files are embedded in offerd */
        assert_int_equal(files, (int)migrations_embedded_count);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM schema_migrations", -1), files);
    assert_int_equal(seed_query_int(db, "SELECT max(version) FROM schema_migrations", -1), latest);
    if (!test_backend_is_pg())
        assert_int_equal(seed_query_int(db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode()", -1), 1);
    const char *tables = test_sql("SELECT count(*) FROM sqlite_master WHERE name IN",
                                  "SELECT count(*) FROM information_schema.tables"
                                  " WHERE table_schema = current_schema() AND table_name IN");
    char sql[512];
    snprintf(sql, sizeof(sql), "%s ('users','products','product_images','offers',"
                               "'counter_offers','offer_changes')", tables);
    assert_int_equal(seed_query_int(db, sql, -1), 6);
}

static void test_newer_database_is_refused(void **state)
{
    (void)state;
    char db[512];
    char *out = NULL;
    new_db(db, sizeof(db), "newer.db");
    const char *migrate[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(migrate, &out), 0);
    free(out);
    assert_int_equal(seed_exec(db, "INSERT INTO schema_migrations VALUES (9999, '9999_future', 0)"), 0);

    assert_int_not_equal(offerd_run(migrate, &out), 0);
    assert_non_null(strstr(out, "newer than this offerd knows"));
    free(out);

    const char *serve[] = {"--port", "0", "--db", db, "--jwt-secret", TEST_JWT_SECRET, NULL};
    assert_int_not_equal(offerd_run(serve, &out), 0);
    assert_non_null(strstr(out, "newer than this offerd knows"));
    assert_null(strstr(out, "listening on"));
    free(out);
}

static void test_append_only_change_log(void **state)
{
    (void)state;
    char db[512];
    char *out = NULL;
    new_db(db, sizeof(db), "log.db");
    const char *migrate[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(migrate, &out), 0);
    free(out);
    assert_int_equal(seed_fixture(db), 0);
    long long rows = seed_query_int(db, "SELECT count(*) FROM offer_changes", -1);
    assert_true(rows >= 3);
    assert_int_not_equal(seed_exec(db, "DELETE FROM offer_changes"), 0);
    assert_int_not_equal(seed_exec(db, "UPDATE offer_changes SET version = 0"), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM offer_changes", -1), rows);
    /* A plain UPDATE by another writer bumps the version and logs it. */
    assert_int_equal(seed_exec(db, "UPDATE offers SET status = 'REJECTED' WHERE id = 'o_pending'"), 0);
    assert_int_equal(seed_query_int(db, "SELECT version FROM offers WHERE id = 'o_pending'", -1), 2);
    assert_int_equal(seed_query_int(db, "SELECT version FROM offer_changes WHERE offer_id ="
                                        " 'o_pending' ORDER BY seq DESC LIMIT 1", -1), 2);
}

static void test_help_and_bad_flags(void **state)
{
    (void)state;
    char *out = NULL;
    const char *help[] = {"--help", NULL};
    assert_int_equal(offerd_run(help, &out), 0);
    const char *flags[] = {"--bind", "--port", "--db", "--threads", "--jwt-secret",
                           "--jwt-public-key", "--cors-origin", "--demo", "OFFERD_BIND",
                           "OFFERD_PORT", "OFFERD_DB", "OFFERD_JWT_SECRET", "migrate"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_non_null(strstr(out, flags[i]));
    free(out);

    const char *unknown[] = {"--frobnicate", NULL};
    assert_int_equal(offerd_run(unknown, &out), 2);
    assert_non_null(strstr(out, "unknown option '--frobnicate'"));
    free(out);

    const char *bad_port[] = {"--port", "70000", NULL};
    assert_int_equal(offerd_run(bad_port, &out), 2);
    assert_non_null(strstr(out, "--port"));
    free(out);

    char db[512];
    new_db(db, sizeof(db), "nosecret.db");
    const char *no_secret[] = {"--port", "0", "--db", db, NULL};
    assert_int_equal(offerd_run(no_secret, &out), 1);
    assert_non_null(strstr(out, "--jwt-secret"));
    assert_non_null(strstr(out, "OFFERD_JWT_SECRET"));
    free(out);
}

/* --help fits one screen (40 lines of 100 columns) and names every option with its variable. */
static void test_help_fits_a_screen(void **state)
{
    (void)state;
    char *out = NULL;
    const char *help[] = {"--help", NULL};
    assert_int_equal(offerd_run(help, &out), 0);
    int lines = 0;
    for (const char *line = out; *line;) {
        size_t len = strcspn(line, "\n");
        if (len >= 100)
            fail_msg("--help line longer than 99 columns: %.*s", (int)len, line);
        lines++;
        line += len + (line[len] == '\n');
    }
    assert_true(lines <= 40);
    /* Every option line pairs a flag with its variable: --max-held-per-user OFFERD_MAX_HELD_PER_USER */
    int options = 0;
    for (const char *p = strstr(out, "\n  --"); p; p = strstr(p + 1, "\n  --")) {
        char flag[64], env[64] = "OFFERD_", *e = env + strlen(env);
        assert_int_equal(sscanf(p + 5, "%63[a-z-]", flag), 1);
        for (const char *f = flag; *f && e < env + sizeof(env) - 1; f++)
            *e++ = *f == '-' ? '_' : (char)(*f - 'a' + 'A');
        *e = '\0';
        size_t len = strcspn(p + 1, "\n");
        char line[128];
        snprintf(line, sizeof(line), "%.*s", (int)len, p + 1);
        if (!strstr(line, env))
            fail_msg("--help: no %s on the line of --%s", env, flag);
        options++;
    }
    assert_true(options >= 23);
    assert_non_null(strstr(out, "Exit status"));
    free(out);
}

static void test_version(void **state)
{
    (void)state;
    char *out = NULL;
    const char *version[] = {"--version", NULL};
    assert_int_equal(offerd_run(version, &out), 0);
    int major = -1, minor = -1, patch = -1, schema = -1;
    assert_int_equal(sscanf(out, "offerd %d.%d.%d (schema version %d)", &major, &minor, &patch,
                            &schema), 4);
    assert_true(major >= 0 && minor >= 0 && patch >= 0);
    assert_int_equal(schema, migrate_latest_version());
    free(out);
}

/* A port another process listens on: exit 1, the port named, and how to choose another. */
static void test_port_in_use(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char port[16], db[512], expect[64];
    snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
    new_db(db, sizeof(db), "inuse.db");
    const char *argv[] = {"--bind", "127.0.0.1", "--port", port, "--db", db,
                          "--jwt-secret", TEST_JWT_SECRET, NULL};
    char *out = NULL;
    assert_int_equal(offerd_run(argv, &out), 1);
    snprintf(expect, sizeof(expect), "port %s is in use", port);
    assert_non_null(strstr(out, expect));
    assert_non_null(strstr(out, "--port/OFFERD_PORT"));
    assert_null(strstr(out, "listening on"));
    free(out);
    close(fd);
}

/* A database whose directory is missing or not writable: exit 1, the directory named, why, and
 * the option that picks another path; nothing is created. */
static void test_db_dir_problems(void **state)
{
    (void)state;
    TEST_SQLITE_ONLY("about the directory and permissions of a SQLite file");
    char db[512], ro[512];
    char *out = NULL;
    db_path(db, sizeof(db), "missing/dir/t.db");
    const char *missing[] = {"--port", "0", "--db", db, "--jwt-secret", TEST_JWT_SECRET, NULL};
    assert_int_equal(offerd_run(missing, &out), 1);
    assert_non_null(strstr(out, "does not exist"));
    assert_non_null(strstr(out, "--db/OFFERD_DB"));
    free(out);
    const char *migrate[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(migrate, &out), 1);
    assert_non_null(strstr(out, "does not exist"));
    free(out);

    /* Permissions bind only non-root users: as root, run offerd as nobody, and let nobody reach
     * the directory (test_tmpdir_new makes it 0700) but not write to it. */
    bool root = geteuid() == 0;
    db_path(ro, sizeof(ro), "ro");
    assert_int_equal(mkdir(ro, 0755), 0);
    if (root)
        assert_int_equal(chmod(dir, 0711), 0);
    else
        assert_int_equal(chmod(ro, 0555), 0);
    db_path(db, sizeof(db), "ro/t.db");
    const char *unwritable[] = {"--port", "0", "--db", db, "--jwt-secret", TEST_JWT_SECRET, NULL};
    int rc = root ? offerd_run_as(unwritable, 65534, 65534, &out) : offerd_run(unwritable, &out);
    assert_int_equal(rc, 1);
    char expect[600];
    snprintf(expect, sizeof(expect), "directory %s is not writable (Permission denied)", ro);
    if (!strstr(out, expect))
        fail_msg("expected \"%s\" in: %s", expect, out);
    assert_non_null(strstr(out, "--db/OFFERD_DB"));
    assert_null(strstr(out, "listening on"));
    free(out);
    assert_int_not_equal(access(db, F_OK), 0);

    /* A write-protected file in a writable directory: SQLite opens it read-only, so offerd
     * starts (reads work) but says at once that writes will fail, and why. */
    char rw[512];
    db_path(rw, sizeof(rw), "rw");
    assert_int_equal(mkdir(rw, 0777), 0);
    assert_int_equal(chmod(rw, 0777), 0);
    db_path(db, sizeof(db), "rw/t.db");
    const char *migrate_rw[] = {"migrate", "--db", db, NULL};
    assert_int_equal(offerd_run(migrate_rw, &out), 0);
    free(out);
    if (root)
        assert_int_equal(chown(db, 65534, 65534), 0);
    assert_int_equal(chmod(db, 0444), 0);
    struct offerd_proc p;
    assert_int_equal(root ? offerd_start_as(&p, db, 65534, 65534, NULL) : offerd_start(&p, db, NULL),
                     0);
    assert_int_equal(offerd_stop(&p), 0);
    char *log = test_read_file(p.log_path);
    assert_non_null(log);
    snprintf(expect, sizeof(expect), "database %s is not writable (Permission denied)", db);
    if (!strstr(log, expect))
        fail_msg("expected \"%s\" in: %s", expect, log);
    assert_non_null(strstr(log, "starting anyway"));
    free(log);
    chmod(ro, 0755);
    chmod(dir, 0700);
}

/* A public key that is missing or not a key: exit 1, naming the option, the file and why. */
static void test_bad_public_key(void **state)
{
    (void)state;
    char db[512], key[512];
    char *out = NULL;
    new_db(db, sizeof(db), "key.db");
    db_path(key, sizeof(key), "absent.pem");
    const char *absent[] = {"--port", "0", "--db", db, "--jwt-public-key", key, NULL};
    assert_int_equal(offerd_run(absent, &out), 1);
    assert_non_null(strstr(out, "--jwt-public-key/OFFERD_JWT_PUBLIC_KEY"));
    assert_non_null(strstr(out, key));
    assert_non_null(strstr(out, "No such file or directory"));
    free(out);

    db_path(key, sizeof(key), "garbage.pem");
    FILE *f = fopen(key, "w");
    assert_non_null(f);
    fputs("this is not a key\n", f);
    fclose(f);
    const char *garbage[] = {"--port", "0", "--db", db, "--jwt-public-key", key, NULL};
    assert_int_equal(offerd_run(garbage, &out), 1);
    assert_non_null(strstr(out, "--jwt-public-key/OFFERD_JWT_PUBLIC_KEY"));
    assert_non_null(strstr(out, "no PEM public key"));
    assert_non_null(strstr(out, key));
    free(out);
}

/* Pulls the first token and URL path out of the demo's printed curl commands. */
static void test_demo_prints_working_curl(void **state)
{
    (void)state;
    char db[512];
    new_db(db, sizeof(db), "demo.db");
    const char *argv[] = {"--bind", "127.0.0.1", "--port", "0", "--db", db, "--demo", NULL};
    struct offerd_proc p;
    assert_int_equal(offerd_start_argv(&p, db, argv), 0);
    char *out = test_read_file(p.stdout_path);
    assert_non_null(out);
    const char *bearer = strstr(out, "Authorization: Bearer ");
    assert_non_null(bearer);
    bearer += strlen("Authorization: Bearer ");
    char token[2048];
    size_t n = strcspn(bearer, "'");
    assert_true(n < sizeof(token));
    memcpy(token, bearer, n);
    token[n] = '\0';
    const char *url = strstr(bearer, "http://");
    assert_non_null(url);
    char full[512];
    n = strcspn(url, " \n");
    snprintf(full, sizeof(full), "%.*s", (int)n, url);

    struct http_response r;
    assert_int_equal(http_get(full, token, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"id\":\"demo_offer_1\""));
    http_response_cleanup(&r);
    free(out);
    assert_int_equal(offerd_stop(&p), 0);

    /* Starting the demo again on the same file keeps one copy of everything. */
    assert_int_equal(offerd_start_argv(&p, db, argv), 0);
    assert_int_equal(offerd_stop(&p), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM offers", -1), 3);
}

/* --bind :: accepts IPv4 too (a dual-stack socket, as nginx's ipv6only=off); a specific IPv6
 * address stays IPv6 only. */
static void test_bind_any_ipv6_is_dual_stack(void **state)
{
    (void)state;
    char db[512], url[128];
    new_db(db, sizeof(db), "dualstack.db");
    struct offerd_proc p;
    const char *any[] = {"--bind", "::", NULL};
    assert_int_equal(offerd_start(&p, db, any), 0);
    struct http_response r;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", p.port);
    assert_int_equal(http_get(url, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    snprintf(url, sizeof(url), "http://[::1]:%d/healthz", p.port);
    assert_int_equal(http_get(url, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);

    const char *loopback6[] = {"--bind", "::1", NULL};
    assert_int_equal(offerd_start(&p, db, loopback6), 0);
    snprintf(url, sizeof(url), "http://[::1]:%d/healthz", p.port);
    assert_int_equal(http_get(url, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", p.port);
    assert_int_equal(http_get(url, NULL, &r), -1);
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);
}

/* Waits up to 10 s for needle to appear in the file at path. */
static bool file_gets(const char *path, const char *needle)
{
    for (int waited = 0; waited < 10000; waited += 20) {
        char *text = test_read_file(path);
        bool found = text && strstr(text, needle);
        free(text);
        if (found)
            return true;
        usleep(20 * 1000);
    }
    return false;
}

/* With --log-file, SIGHUP reopens the file under its name (logrotate moves it away first); lines
 * before go to the old file, lines after to the new one. Without --log-file, SIGHUP is ignored. */
static void test_sighup_reopens_the_log_file(void **state)
{
    (void)state;
    char db[512], log[512], rotated[512], url[128];
    new_db(db, sizeof(db), "sighup.db");
    db_path(log, sizeof(log), "offerd.log");
    db_path(rotated, sizeof(rotated), "offerd.log.1");
    struct offerd_proc p;
    const char *args[] = {"--log-file", log, NULL};
    assert_int_equal(offerd_start(&p, db, args), 0);
    struct http_response r;
    snprintf(url, sizeof(url), "%s/healthz?before", p.base_url);
    assert_int_equal(http_get(url, NULL, &r), 0);
    http_response_cleanup(&r);
    assert_true(file_gets(log, "GET /healthz 200"));
    assert_int_equal(rename(log, rotated), 0);
    assert_int_equal(kill(p.pid, SIGHUP), 0);
    assert_true(file_gets(log, "log file reopened"));
    snprintf(url, sizeof(url), "%s/readyz", p.base_url);
    assert_int_equal(http_get(url, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    assert_true(file_gets(log, "GET /readyz 200"));
    assert_int_equal(offerd_stop(&p), 0);
    char *old = test_read_file(rotated);
    assert_non_null(old);
    assert_non_null(strstr(old, "GET /healthz 200"));
    assert_null(strstr(old, "/readyz"));
    free(old);

    /* A log file that cannot be opened: exit 1 at start, saying which and why. */
    char *out = NULL;
    const char *unwritable[] = {"--port", "0", "--db", db, "--jwt-secret", TEST_JWT_SECRET,
                                "--log-file", "/nonexistent-dir/offerd.log", NULL};
    assert_int_equal(offerd_run(unwritable, &out), 1);
    assert_non_null(strstr(out, "cannot open log file /nonexistent-dir/offerd.log"));
    free(out);

    /* No log file: SIGHUP does not stop offerd (its default action would). */
    assert_int_equal(offerd_start(&p, db, NULL), 0);
    assert_int_equal(kill(p.pid, SIGHUP), 0);
    assert_true(file_gets(p.log_path, "SIGHUP: no --log-file"));
    snprintf(url, sizeof(url), "%s/healthz", p.base_url);
    assert_int_equal(http_get(url, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_applies_once),
        cmocka_unit_test(test_newer_database_is_refused),
        cmocka_unit_test(test_append_only_change_log),
        cmocka_unit_test(test_help_and_bad_flags),
        cmocka_unit_test(test_help_fits_a_screen),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_db_dir_problems),
        cmocka_unit_test(test_bad_public_key),
        cmocka_unit_test(test_demo_prints_working_curl),
        cmocka_unit_test(test_bind_any_ipv6_is_dual_stack),
        cmocka_unit_test(test_sighup_reopens_the_log_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
