/* test_hardening.c - limits, faults and the authorization matrix, against a real offerd.
 *
 * Each limit is checked at its edge (the request past it is refused, the others are served, the
 * server keeps serving); each fault is injected for real (a held SQLite lock, a write-protected
 * file, a file-size limit standing in for a full disk, SIGTERM under load, clients vanishing);
 * every endpoint is tried with every kind of caller.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sqlite3.h>

#include "offerd_fixture.h"
#include "test_backend.h"
#include "test_clock.h"
#include "test_http.h"
#include "test_seed.h"
#include "test_tokens.h"

static struct offerd_fixture fx;

static int setup(void **state)
{
    (void)state;
    const char *extra[] = {"--idle-timeout", "2", "--sse-heartbeat", "1", NULL};
    return offerd_fixture_start(&fx, extra);
}

static int teardown(void **state)
{
    (void)state;
    return offerd_fixture_stop(&fx); /* a clean exit; under ASan this includes no leaks */
}

/* METHOD base+path with an optional token; a JSON body gets its Content-Type. Bounded at 10 s and
 * not asserted: some of these requests are meant to fail. */
static void req(const char *base, const char *method, const char *path, const char *token,
                const char *body, struct http_response *r)
{
    const char *json[] = {"Content-Type: application/json", NULL};
    http_call(base, method, path, token, body ? json : NULL, body, 10000, r);
}

static void raw_send(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/* True when the server closed fd (read returns 0 or an error) within ms. */
static bool closed_by_server(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            return true;
        if (n < 0)
            return errno == ECONNRESET;
    }
}

static struct offerd_proc start_own(const char *name, const char *const *extra, char *db_out)
{
    struct offerd_proc p;
    char file[128];
    snprintf(file, sizeof(file), "%s.db", name);
    assert_int_equal(test_db_new(fx.dir, file, db_out, 600), 0);
    assert_int_equal(offerd_start(&p, db_out, extra), 0);
    assert_int_equal(seed_fixture(db_out), 0);
    return p;
}

/* ---- limits ---- */

static void test_rate_limit_per_user(void **state)
{
    (void)state;
    char db[600];
    const char *extra[] = {"--rate-limit", "2", "--rate-burst", "5", NULL};
    struct offerd_proc p = start_own("rate", extra, db);
    struct http_response r;
    char h[32];
    for (int i = 0; i < 5; i++) {
        req(p.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
        assert_int_equal(r.status, 200);
        http_response_cleanup(&r);
    }
    req(p.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 429);
    assert_non_null(http_header(&r, "Retry-After", h, sizeof(h)));
    assert_true(atoi(h) >= 1);
    assert_null(strstr(r.body, "Would you")); /* throttled, not served */
    http_response_cleanup(&r);
    /* Another user has a bucket of their own. */
    req(p.base_url, "GET", "/api/offers/o_pending", fx.seller, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    /* The bucket refills at the rate: after Retry-After, served again. */
    test_sleep_ms(1000L * atoi(h) + 100);
    req(p.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);
}

static void test_connections_per_ip(void **state)
{
    (void)state;
    char db[600];
    const char *extra[] = {"--max-connections-per-ip", "4", NULL};
    struct offerd_proc p = start_own("perip", extra, db);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = http_raw_connect(p.port);
        assert_true(fds[i] >= 0);
    }
    test_sleep_ms(200);
    int extra_fd = http_raw_connect(p.port);
    assert_true(extra_fd >= 0);                   /* the kernel accepts... */
    assert_true(closed_by_server(extra_fd, 2000)); /* ...offerd closes the fifth at once */
    close(extra_fd);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    test_sleep_ms(300);
    struct http_response r;
    req(p.base_url, "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);
}

static void test_oversized_headers_refused(void **state)
{
    (void)state;
    char *big = malloc(40000);
    strcpy(big, "X-Junk: ");
    memset(big + 8, 'a', 39000);
    big[39008] = '\0';
    const char *headers[] = {big, NULL};
    struct http_response r;
    http_call(fx.server.base_url, "GET", "/api/offers/o_pending", NULL, headers, NULL, 5000, &r);
    assert_true(r.status == 431 || r.status == 413 || r.status == 0);
    assert_null(strstr(r.body, "Would you"));
    http_response_cleanup(&r);
    free(big);
    req(fx.server.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
}

static void test_slow_clients_do_not_block_others(void **state)
{
    (void)state;
    enum { SLOW = 100 };
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = http_raw_connect(fx.server.port);
        assert_true(fds[i] >= 0);
        raw_send(fds[i], "POST /api/offers HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"); /* half */
    }
    /* Normal requests are answered meanwhile. */
    for (int i = 0; i < 20; i++) {
        struct http_response r;
        req(fx.server.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
        assert_int_equal(r.status, 200);
        http_response_cleanup(&r);
    }
    /* And the slow ones are cut off by the idle timeout (2 s here). */
    size_t closed = 0;
    for (int i = 0; i < SLOW; i++) {
        closed += closed_by_server(fds[i], 6000);
        close(fds[i]);
    }
    assert_int_equal(closed, SLOW);
}

static void test_disconnects_release_everything(void **state)
{
    (void)state;
    char request[4096];
    /* A long-poll held, then abandoned. */
    snprintf(request, sizeof(request),
             "GET /api/offers/o_pending?since=99&wait=2 HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer %s\r\n\r\n", fx.buyer);
    int lp = http_raw_connect(fx.server.port);
    raw_send(lp, request);
    /* An SSE stream, abandoned. */
    snprintf(request, sizeof(request),
             "GET /api/offers/o_pending/events HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer %s\r\n\r\n", fx.buyer);
    int sse = http_raw_connect(fx.server.port);
    raw_send(sse, request);
    /* A body cut off halfway. */
    snprintf(request, sizeof(request),
             "POST /api/offers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"productId\":", fx.buyer);
    int body = http_raw_connect(fx.server.port);
    raw_send(body, request);
    test_sleep_ms(300);
    assert_int_equal(http_metric(fx.server.base_url, "offerd_held_requests"), 2);
    close(lp);
    close(sse);
    close(body);
    /* Noticed at the long-poll's deadline and the stream's next heartbeat; counts are exact. */
    long held = -1, in_flight = -1;
    for (int i = 0; i < 100; i++) {
        held = http_metric(fx.server.base_url, "offerd_held_requests");
        in_flight = http_metric(fx.server.base_url, "offerd_http_requests_in_flight");
        if (held == 0 && in_flight == 1)
            break;
        test_sleep_ms(100);
    }
    assert_int_equal(held, 0);
    assert_int_equal(in_flight, 1); /* just the /metrics request itself */
}

/* A client that goes away while held frees its slot within about a second (NOTIFY_LIVENESS_MS),
 * not at its deadline: the long-poll below would otherwise be held 30 s, the stream until two
 * heartbeats (60 s apart here) had failed. A client that stays connected stays held. */
static void test_clients_gone_are_noticed_while_held(void **state)
{
    (void)state;
    char db[600];
    const char *extra[] = {"--sse-heartbeat", "60", NULL};
    struct offerd_proc p = start_own("gone", extra, db);
    char poll_req[4096], sse_req[4096];
    snprintf(poll_req, sizeof(poll_req),
             "GET /api/offers/o_pending?since=99&wait=30 HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer %s\r\n\r\n", fx.buyer);
    snprintf(sse_req, sizeof(sse_req),
             "GET /api/offers/o_pending/events HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer %s\r\n\r\n", fx.buyer);
    int lp = http_raw_connect(p.port), sse = http_raw_connect(p.port), kept = http_raw_connect(p.port);
    assert_true(lp >= 0 && sse >= 0 && kept >= 0);
    raw_send(lp, poll_req);
    raw_send(sse, sse_req);
    raw_send(kept, poll_req);
    long held = -1;
    for (int i = 0; i < 50 && held != 3; i++) {
        test_sleep_ms(100);
        held = http_metric(p.base_url, "offerd_held_requests");
    }
    assert_int_equal(held, 3);
    close(lp);
    close(sse);
    for (int i = 0; i < 50 && held != 1; i++) { /* well inside the 30 s and 60 s */
        test_sleep_ms(100);
        held = http_metric(p.base_url, "offerd_held_requests");
    }
    assert_int_equal(held, 1);
    assert_int_equal(http_metric(p.base_url, "offerd_held_clients_gone_total"), 2);
    test_sleep_ms(1500); /* a check or more later, the one still connected is still held */
    assert_int_equal(http_metric(p.base_url, "offerd_held_requests"), 1);
    close(kept);
    long in_flight = -1; /* a request leaves the held count before it completes: wait for both */
    for (int i = 0; i < 50 && (held != 0 || in_flight != 1); i++) {
        test_sleep_ms(100);
        held = http_metric(p.base_url, "offerd_held_requests");
        in_flight = http_metric(p.base_url, "offerd_http_requests_in_flight");
    }
    assert_int_equal(held, 0);
    assert_int_equal(in_flight, 1); /* just the /metrics request itself */
    assert_int_equal(offerd_stop(&p), 0);
}

/* ---- faults ---- */

struct lock_holder {
    const char *db_path;
    atomic_int state;       /* 0 starting, 1 holding the write lock, -1 could not take it */
};

static void *hold_lock(void *arg)
{
    struct lock_holder *h = arg;
    /* SQLite: the database's write lock; PostgreSQL: the offer's row lock, which a write to it
     * needs too. */
    struct seed_conn *db = seed_conn_open(h->db_path, false);
    bool held = db && seed_conn_begin_write(db) == 0 &&
                seed_conn_exec(db, "UPDATE offers SET message = 'half' WHERE id = 'o_pending'") == 0;
    atomic_store(&h->state, held ? 1 : -1);
    test_sleep_ms(10000);
    if (db)
        seed_conn_exec(db, "ROLLBACK");
    seed_conn_close(db);
    return NULL;
}

static void test_write_lock_held_for_10s(void **state)
{
    (void)state;
    char db[600];
    const char *extra[] = {"--busy-timeout-ms", "1000", NULL};
    struct offerd_proc p = start_own("locked", extra, db);
    pthread_t t;
    struct lock_holder holder = {db, 0};
    pthread_create(&t, NULL, hold_lock, &holder);
    for (int i = 0; i < 500 && atomic_load(&holder.state) == 0; i++)
        test_sleep_ms(10);
    assert_int_equal(atomic_load(&holder.state), 1); /* the outside writer holds the lock now */
    int reads = 0, refused = 0;
    for (int i = 0; i < 4; i++) {
        struct http_response r;
        char h[16];
        req(p.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
        if (r.status == 200 && strstr(r.body, "half") == NULL) /* never the uncommitted edit */
            reads++;
        else
            print_message("read %d while locked: %ld %s\n", i, r.status, r.body ? r.body : "");
        http_response_cleanup(&r);
        req(p.base_url, "POST", "/api/offers/o_pending/counter", fx.seller, "{\"amount\":190}", &r);
        if (r.status == 503 && http_header(&r, "Retry-After", h, sizeof(h)))
            refused++;
        else
            print_message("write %d while locked: %ld %s\n", i, r.status, r.body ? r.body : "");
        assert_null(strstr(r.body, "sqlite"));
        assert_null(strstr(r.body, "postgres"));
        http_response_cleanup(&r);
    }
    assert_int_equal(reads, 4);
    assert_int_equal(refused, 4);
    pthread_join(t, NULL);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM counter_offers WHERE offer_id = 'o_pending'", -1), 0);
    struct http_response r;
    req(p.base_url, "POST", "/api/offers/o_pending/counter", fx.seller, "{\"amount\":190}", &r);
    assert_int_equal(r.status, 201); /* the lock is gone: writes work again */
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);
}

static void test_read_only_database(void **state)
{
    (void)state;
    TEST_SQLITE_ONLY("the fault is a write-protected database file");
    /* Permissions bind only non-root users, so this server runs as nobody. */
    char dir[600], db[700], side[720];
    snprintf(dir, sizeof(dir), "%s/ro", fx.dir);
    mkdir(dir, 0777);
    chmod(dir, 0777);
    chmod(fx.dir, 0755);
    snprintf(db, sizeof(db), "%s/ro.db", dir);
    const char *migrate[] = {"migrate", "--db", db, NULL};
    char *out = NULL;
    assert_int_equal(offerd_run(migrate, &out), 0);
    free(out);
    assert_int_equal(seed_fixture(db), 0);
    /* The main web app has the database open (so its -wal and -shm exist, writable)... */
    sqlite3 *webapp = NULL;
    assert_int_equal(sqlite3_open(db, &webapp), SQLITE_OK);
    assert_int_equal(sqlite3_exec(webapp, "SELECT count(*) FROM offers", NULL, NULL, NULL), SQLITE_OK);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof(side), "%s%s", db, suffixes[i]);
        assert_int_equal(chown(side, 65534, 65534), 0);
    }
    chmod(db, 0444); /* ...and the fault: the database file itself is write-protected */
    struct offerd_proc p;
    assert_int_equal(offerd_start_as(&p, db, 65534, 65534, NULL), 0);
    struct http_response r;
    req(p.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200); /* reads keep working */
    http_response_cleanup(&r);
    for (int i = 0; i < 3; i++) {
        req(p.base_url, "POST", "/api/offers/o_pending/counter", fx.seller, "{\"amount\":190}", &r);
        assert_int_equal(r.status, 503);
        assert_null(strstr(r.body, ".db"));
        assert_null(strstr(r.body, "sqlite"));
        http_response_cleanup(&r);
    }
    char *log = test_read_file(p.log_path);
    assert_non_null(strstr(log, "cannot be written"));
    free(log);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM counter_offers WHERE offer_id = 'o_pending'", -1), 0);
    /* The fault clears: every thread reopens its connection, and writes work without a restart. */
    chmod(db, 0644);
    long status = 0;
    for (int i = 0; i < 20 && status != 201; i++) {
        req(p.base_url, "POST", "/api/offers/o_pending/counter", fx.seller, "{\"amount\":190}", &r);
        status = r.status;
        http_response_cleanup(&r);
        if (status != 201)
            test_sleep_ms(50);
    }
    assert_int_equal(status, 201);
    assert_int_equal(offerd_stop(&p), 0);
    sqlite3_close(webapp);
}

static void set_fsize_limit(pid_t pid, const char *limit)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "prlimit --pid %d --fsize=%s", (int)pid, limit);
    assert_int_equal(system(cmd), 0);
}

static void test_disk_full(void **state)
{
    (void)state;
    TEST_SQLITE_ONLY("the fault is offerd's own file growth (RLIMIT_FSIZE); on PostgreSQL the"
                     " disk is the server's");
    char db[600];
    struct offerd_proc p = start_own("full", NULL, db);
    struct http_response r;
    set_fsize_limit(p.pid, "4096:unlimited"); /* no file may grow past 4 KiB: a full disk */
    size_t refused = 0;
    for (int i = 0; i < 3; i++) {
        req(p.base_url, "POST", "/api/offers", fx.buyer, "{\"productId\":\"p_driver\",\"amount\":150}", &r);
        refused += r.status == 503;
        http_response_cleanup(&r);
    }
    assert_int_equal(refused, 3);
    req(p.base_url, "GET", "/api/offers/o_pending", fx.buyer, NULL, &r);
    assert_int_equal(r.status, 200); /* reads keep working */
    http_response_cleanup(&r);
    char *log = test_read_file(p.log_path);
    assert_non_null(strstr(log, "disk full"));
    free(log);
    set_fsize_limit(p.pid, "unlimited:unlimited"); /* space again */
    req(p.base_url, "POST", "/api/offers", fx.buyer, "{\"productId\":\"p_driver\",\"amount\":150}", &r);
    assert_int_equal(r.status, 201);
    http_response_cleanup(&r);
    assert_int_equal(offerd_stop(&p), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM offers", -1), 4); /* 3 seeded + 1 */
}

struct loader {
    const char *base;
    const char *token;
    atomic_bool *stop;
    atomic_long ok, refused, broken;
};

static void *load(void *arg)
{
    struct loader *l = arg;
    while (!atomic_load(l->stop)) {
        struct http_response r;
        if (http_call(l->base, "GET", "/api/offers/o_pending", l->token, NULL, NULL, 5000, &r) == 0 &&
            r.status == 200)
            l->ok++;
        else if (r.status == 0)
            l->refused++; /* after the listener closed: connection refused */
        else
            l->broken++;
        http_response_cleanup(&r);
    }
    return NULL;
}

static void test_sigterm_under_load(void **state)
{
    (void)state;
    char db[600];
    struct offerd_proc p = start_own("term", NULL, db);
    atomic_bool stop = false;
    struct loader l[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        l[i] = (struct loader){p.base_url, fx.buyer, &stop, 0, 0, 0};
        pthread_create(&t[i], NULL, load, &l[i]);
    }
    struct http_response r;
    char lp_path[128];
    snprintf(lp_path, sizeof(lp_path), "/api/offers/o_pending?since=99&wait=30");
    /* Under load first (a slow server, e.g. under valgrind, takes longer to get there). */
    for (int i = 0; i < 150; i++) {
        long sofar = 0;
        for (int k = 0; k < 4; k++)
            sofar += atomic_load(&l[k].ok);
        if (sofar >= 20)
            break;
        test_sleep_ms(100);
    }
    pid_t pid = p.pid;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = offerd_stop(&p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&stop, true);
    long ok = 0, broken = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += l[i].ok;
        broken += l[i].broken;
    }
    (void)pid;
    (void)r;
    assert_int_equal(status, 0);
    assert_true(ok >= 20);
    assert_int_equal(broken, 0); /* every answered request was a whole 200 */
    assert_true((t1.tv_sec - t0.tv_sec) < 8);
}

struct pending_write {
    const char *base;
    long status;
    atomic_bool done;
};

static void *post_counter(void *arg)
{
    struct pending_write *w = arg;
    struct http_response r;
    req(w->base, "POST", "/api/offers/o_pending/counter", fx.seller, "{\"amount\":190}", &r);
    w->status = r.status;
    http_response_cleanup(&r);
    atomic_store(&w->done, true);
    return NULL;
}

/* True when a connection to 127.0.0.1:port is refused (nothing listens) within ms. */
static bool refused_within(int port, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
        int err = errno;
        close(fd);
        if (rc != 0 && err == ECONNREFUSED)
            return true;
        test_sleep_ms(10);
    }
    return false;
}

/* SIGTERM while a write waits: the listening socket closes at once (a load balancer fails over:
 * connection refused, not a connection accepted and dropped), the write still commits and is
 * answered, and offerd exits 0. offerd closes its own listening socket for this (http/listener.c):
 * libmicrohttpd's MHD_quiesce_daemon could abort the process when a worker was awake. */
static void test_sigterm_stops_accepting_while_a_write_drains(void **state)
{
    (void)state;
    char db[600];
    const char *extra[] = {"--busy-timeout-ms", "4000", NULL};
    struct offerd_proc p = start_own("drain", extra, db);
    /* An outside writer holds the lock offerd's write needs (SQLite: the database's write lock;
     * PostgreSQL: the offer's row lock): offerd's write waits. */
    struct seed_conn *holder = seed_conn_open(db, false);
    assert_non_null(holder);
    assert_int_equal(seed_conn_begin_write(holder), 0);
    assert_int_equal(
        seed_conn_exec(holder, "UPDATE offers SET message = 'half' WHERE id = 'o_pending'"), 0);
    struct pending_write w = {.base = p.base_url};
    pthread_t t;
    pthread_create(&t, NULL, post_counter, &w);
    test_sleep_ms(300); /* the write is in the writer, waiting for the lock */
    assert_false(atomic_load(&w.done));
    kill(p.pid, SIGTERM);
    assert_true(refused_within(p.port, 2000));
    assert_false(atomic_load(&w.done)); /* refused while the write was still open */
    seed_conn_exec(holder, "ROLLBACK");
    seed_conn_close(holder);
    pthread_join(t, NULL);
    assert_int_equal(w.status, 201);
    assert_int_equal(offerd_stop(&p), 0);
    assert_int_equal(seed_query_int(db, "SELECT count(*) FROM counter_offers WHERE offer_id = 'o_pending'", -1), 1);
}

/* ---- security ---- */

static char *rs256_token(const char *sub)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", sub);
    jwt_add_grant_int(jwt, "exp", (long)time(NULL) + 3600);
    jwt_set_alg(jwt, JWT_ALG_RS256, (const unsigned char *)pem, (int)len);
    char *out = jwt_encode_str(jwt);
    jwt_free(jwt);
    BIO_free(bio);
    EVP_PKEY_free(key);
    return out;
}

struct endpoint {
    const char *method;
    const char *path;       /* %s: a fresh offer id */
    const char *body;
    long stranger, buyer, seller;
};

static void test_authorization_matrix(void **state)
{
    (void)state;
    const struct endpoint endpoints[] = {
        {"GET", "/api/offers/%s", NULL, 403, 200, 200},
        {"GET", "/api/offers/%s?since=0&wait=1", NULL, 403, 200, 200},
        {"GET", "/api/offers", NULL, 200, 200, 200},
        {"POST", "/api/offers", "{\"productId\":\"p_driver\",\"amount\":150}", 201, 201, 400},
        {"PATCH", "/api/offers/%s", "{\"status\":\"REJECTED\"}", 403, 409, 200},
        {"POST", "/api/offers/%s/counter", "{\"amount\":180}", 403, 409, 201},
        {"GET", "/api/offers/%s/events", NULL, 403, 200, 200},
        {"GET", "/api/offers/events?ids=%s", NULL, 403, 200, 200},
        {"GET", "/api/offers/events", NULL, 200, 200, 200},
    };
    char *bad_sig = test_token_with_secret(SEED_BUYER_TOKEN_SUB, 3600, "a-different-secret-of-some-length");
    char *expired = test_token(SEED_BUYER_TOKEN_SUB, -3600);
    char *none = test_token_alg_none(SEED_BUYER_TOKEN_SUB);
    char *rs256 = rs256_token(SEED_BUYER_TOKEN_SUB);
    const char *unauthorized[] = {NULL, bad_sig, expired, none, rs256, "garbage"};
    for (size_t e = 0; e < sizeof(endpoints) / sizeof(endpoints[0]); e++) {
        const struct endpoint *ep = &endpoints[e];
        char id[32], path[256], sql[512];
        snprintf(id, sizeof(id), "o_matrix_%zu", e);
        snprintf(sql, sizeof(sql), "INSERT INTO offers(id, amount, product_id, buyer_id, seller_id,"
                 " expires_at) VALUES ('%s', 15000, 'p_driver', 'u_buyer', 'u_seller', %lld)",
                 id, (long long)time(NULL) * 1000 + 86400000LL);
        assert_int_equal(seed_exec(fx.db, sql), 0);
        const char *hole = strstr(ep->path, "%s");
        if (hole)
            snprintf(path, sizeof(path), "%.*s%s%s", (int)(hole - ep->path), ep->path, id, hole + 2);
        else
            snprintf(path, sizeof(path), "%s", ep->path);
        for (size_t t = 0; t < sizeof(unauthorized) / sizeof(unauthorized[0]); t++) {
            struct http_response r;
            char h[128];
            req(fx.server.base_url, ep->method, path, unauthorized[t], ep->body, &r);
            if (r.status != 401)
                fail_msg("%s %s with bad token %zu: %ld", ep->method, path, t, r.status);
            assert_non_null(http_header(&r, "WWW-Authenticate", h, sizeof(h)));
            assert_null(strstr(r.body, id));
            assert_null(strstr(r.body, "amount"));
            http_response_cleanup(&r);
        }
        const char *tokens[] = {fx.stranger, fx.buyer, fx.seller};
        const long want[] = {ep->stranger, ep->buyer, ep->seller};
        for (size_t t = 0; t < 3; t++) {
            struct http_response r;
            req(fx.server.base_url, ep->method, path, tokens[t], ep->body, &r);
            if (r.status != want[t])
                fail_msg("%s %s as %s: want %ld, got %ld %s", ep->method, path,
                         t == 0 ? "stranger" : t == 1 ? "buyer" : "seller", want[t], r.status, r.body);
            if (r.status >= 400) { /* no offer data in any denial (the id asked for may echo) */
                assert_null(strstr(r.body, "\"amount\""));
                assert_null(strstr(r.body, "Bea"));
                assert_null(strstr(r.body, "Titleist"));
            }
            http_response_cleanup(&r);
        }
    }
    free(bad_sig);
    free(expired);
    free(none);
    free(rs256);
}

static void test_logs_hold_no_tokens_or_cookies(void **state)
{
    (void)state;
    char cookie[4096], url[256];
    snprintf(cookie, sizeof(cookie), "Cookie: __session=%s; theme=dark", fx.seller);
    snprintf(url, sizeof(url), "%s/api/offers/o_pending?token=%s", fx.server.base_url, "querysecret");
    const char *headers[] = {cookie, NULL};
    struct http_response r;
    http_request("GET", url, headers, NULL, &r);
    assert_int_equal(r.status, 200);
    http_response_cleanup(&r);
    char *log = test_read_file(fx.server.log_path);
    assert_non_null(log);
    assert_null(strstr(log, fx.buyer));
    assert_null(strstr(log, fx.seller));
    assert_null(strstr(log, "eyJ"));
    assert_null(strstr(log, "querysecret"));
    assert_null(strstr(log, "__session"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_limit_per_user),
        cmocka_unit_test(test_connections_per_ip),
        cmocka_unit_test(test_oversized_headers_refused),
        cmocka_unit_test(test_slow_clients_do_not_block_others),
        cmocka_unit_test(test_disconnects_release_everything),
        cmocka_unit_test(test_clients_gone_are_noticed_while_held),
        cmocka_unit_test(test_write_lock_held_for_10s),
        cmocka_unit_test(test_read_only_database),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_sigterm_under_load),
        cmocka_unit_test(test_sigterm_stops_accepting_while_a_write_drains),
        cmocka_unit_test(test_authorization_matrix),
        cmocka_unit_test(test_logs_hold_no_tokens_or_cookies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
