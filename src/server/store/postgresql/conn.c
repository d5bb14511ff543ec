/* conn.c - the PostgreSQL backend's connections: one per thread, every statement prepared on it.
 *
 * libpq forbids sharing a connection between threads, so each thread that touches the store gets
 * its own on first use (pthread key), listed in the store so that close can end them all. The
 * first connection of the process prepares every statement of every file (a statement the schema
 * does not match fails at start-up, not at first use); every other prepares each statement on its
 * first use only. Not all at connect: parsing an UPDATE takes its table's ROW EXCLUSIVE lock, so a
 * reader connecting while someone held a table lock (LOCK TABLE, a migration) waited on write
 * statements it never runs and answered 503 (test_busy_database_gives_503, 1 CI run in many).
 * Their {LIVE}, {PENDING} and {EXPIRED} are expanded first (store/sql_template.h), so status
 * lists follow domain/offer.h.
 * A lost connection is closed where the fault is seen (pg_result_of) and made again on the
 * thread's next use; while PostgreSQL cannot be reached, attempts back off exponentially (100 ms
 * to 5 s) and the calls in between fail at once with STORE_UNAVAILABLE (503 + Retry-After), so
 * no request waits on a dead server longer than one connect timeout.
 *
 * The conninfo may hold a password: it is never logged (libpq's messages name host and port only).
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sql_template.h"
#include "util/clock.h"
#include "util/fnv1a.h"
#include "util/log.h"

#define CONNECT_TIMEOUT_S "2"
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_CONNECT_PARAMS 16

static const struct pg_statement *const statement_lists[] = {
    pg_read_statements,
    pg_list_statements,
    pg_write_statements,
    pg_feed_statements,
};

/* libpq's message on one line: line breaks and the tabs that indent its hints become one space,
 * the trailing newline goes. */
void pg_message_line(char *dst, size_t size, const char *msg)
{
    if (!msg || !*msg)
        msg = "unknown error";
    size_t n = 0;
    for (; *msg && n + 1 < size; msg++) {
        bool blank = *msg == '\n' || *msg == '\t';
        if (!blank)
            dst[n++] = *msg;
        else if (n > 0 && dst[n - 1] != ' ')
            dst[n++] = ' ';
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

/* Server notices (a WARNING from a trigger, say) go to the log rather than to stderr raw. */
static void log_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    pg_message_line(line, sizeof(line), message);
    log_info("postgresql: %s", line);
}

PGconn *pg_connect_db(const char *conninfo, const char *const *extra_keys,
                      const char *const *extra_values, char *err, size_t err_size)
{
    /* Our defaults first, then the caller's, then the URI: libpq keeps the last value of a
     * repeated keyword, so what the URI itself says (connect_timeout=10, say) wins. */
    const char *keys[MAX_CONNECT_PARAMS], *values[MAX_CONNECT_PARAMS];
    size_t n = 0;
    keys[n] = "connect_timeout", values[n++] = CONNECT_TIMEOUT_S;
    keys[n] = "application_name", values[n++] = "offerd";
    keys[n] = "client_encoding", values[n++] = "UTF8"; /* what jansson and the JSON API speak */
    for (size_t i = 0; extra_keys && extra_keys[i] && n < MAX_CONNECT_PARAMS - 2; i++)
        keys[n] = extra_keys[i], values[n++] = extra_values[i];
    keys[n] = "dbname", values[n++] = conninfo;
    keys[n] = NULL, values[n] = NULL;
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (!pg) {
        snprintf(err, err_size, "cannot connect to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[512];
        pg_message_line(msg, sizeof(msg), PQerrorMessage(pg));
        snprintf(err, err_size, "cannot connect to PostgreSQL: %s", msg);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, log_notice, NULL);
    return pg;
}

PGconn *pg_connect(const struct pg_store *ps, const char *const *extra_keys,
                   const char *const *extra_values, char *err, size_t err_size)
{
    return pg_connect_db(ps->conninfo, extra_keys, extra_values, err, err_size);
}

static int prepare_all(struct pg_conn *c, char *err, size_t err_size);

static void disconnect(struct pg_conn *c)
{
    PQfinish(c->pg);
    c->pg = NULL;
    c->in_tx = false;
}

/* A writer waits for another's row or table lock this long, then gets 55P03 (STORE_BUSY: 503 with
 * Retry-After), as SQLite's busy timeout does. 0, or -1 with err. */
static int set_lock_timeout(PGconn *pg, int timeout_ms, char *err, size_t err_size)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SET lock_timeout = %d", timeout_ms > 0 ? timeout_ms : 0);
    PGresult *res = PQexec(pg, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        pg_message_line(err, err_size, PQresultErrorMessage(res));
    PQclear(res);
    return rc;
}

/* Connects c (its backoff allowing). true when c is connected and prepared. */
static bool connect_conn(struct pg_store *ps, struct pg_conn *c)
{
    int64_t now = clock_monotonic_ms();
    if (now < c->retry_at_ms)
        return false;
    char err[1024];
    c->pg = pg_connect(ps, NULL, NULL, err, sizeof(err));
    memset(c->prepared, 0, sizeof(c->prepared));
    if (c->pg && (set_lock_timeout(c->pg, ps->lock_timeout_ms, err, sizeof(err)) != 0 ||
                  (!atomic_load(&ps->statements_checked) && prepare_all(c, err, sizeof(err)) != 0)))
        disconnect(c);
    else if (c->pg)
        atomic_store(&ps->statements_checked, true);
    if (!c->pg) {
        if (c->backoff_ms == 0)
            log_error("postgresql: %s; retrying with backoff, requests get 503 meanwhile", err);
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (c->backoff_ms > BACKOFF_MAX_MS)
            c->backoff_ms = BACKOFF_MAX_MS;
        c->retry_at_ms = now + c->backoff_ms;
        return false;
    }
    if (c->was_connected) {
        atomic_fetch_add(&ps->reconnects, 1);
        log_info("postgresql: reconnected");
    }
    c->was_connected = true;
    c->backoff_ms = 0;
    c->retry_at_ms = 0;
    return true;
}

struct pg_conn *pg_conn_get(struct pg_store *ps)
{
    struct pg_conn *c = pthread_getspecific(ps->key);
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c) {
            log_error("postgresql: out of memory for a connection");
            return NULL;
        }
        c->store = ps;
        pthread_mutex_lock(&ps->lock);
        c->next = ps->conns;
        ps->conns = c;
        pthread_mutex_unlock(&ps->lock);
        pthread_setspecific(ps->key, c);
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
        return c;
    if (c->pg) /* broken without a statement noticing (the server closed it while idle) */
        disconnect(c);
    return connect_conn(ps, c) ? c : NULL;
}

void pg_conns_close(struct pg_store *ps)
{
    pthread_mutex_lock(&ps->lock);
    struct pg_conn *c = ps->conns;
    ps->conns = NULL;
    pthread_mutex_unlock(&ps->lock);
    for (struct pg_conn *next; c; c = next) {
        next = c->next;
        PQfinish(c->pg);
        free(c);
    }
}

static bool sqlstate_is(const char *state, const char *const *list)
{
    for (; *list; list++)
        if (strncmp(state, *list, strlen(*list)) == 0)
            return true;
    return false;
}

enum store_result pg_result_of(struct pg_conn *c, const PGresult *res)
{
    /* Retry later, nothing applied: deadlock, serialization failure, a lock or statement timeout. */
    static const char *const busy[] = {"40P01", "40001", "55P03", "57014", NULL};
    /* The server is gone or going (class 08: connection; 57P01..03: shutdown, crash, starting). */
    static const char *const lost[] = {"08", "57P01", "57P02", "57P03", NULL};
    /* It cannot take changes now: out of disk or resources, or read-only (a standby). */
    static const char *const cannot_write[] = {"53", "25006", NULL};
    if (!c->pg) {
        return STORE_UNAVAILABLE;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char msg[512];
    pg_message_line(msg, sizeof(msg), res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
    if (PQstatus(c->pg) != CONNECTION_OK || (state && sqlstate_is(state, lost))) {
        log_error("postgresql: connection lost (%s): %s", state ? state : "-", msg);
        disconnect(c);
        return STORE_UNAVAILABLE;
    }
    if (state && sqlstate_is(state, busy)) {
        log_info("postgresql: %s (%s); answered 503, to be retried", msg, state);
        return STORE_BUSY;
    }
    if (state && sqlstate_is(state, cannot_write)) {
        log_error("postgresql: the database cannot take changes: %s (%s)", msg, state);
        return STORE_UNAVAILABLE;
    }
    log_error("postgresql: %s (%s)", msg, state ? state : "-");
    return STORE_ERROR;
}

/* The result of PQexec*: kept when it succeeded, else cleared and mapped into *r. */
static PGresult *checked(struct pg_conn *c, PGresult *res, enum store_result *r)
{
    ExecStatusType st = PQresultStatus(res);
    if (res && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
        *r = STORE_OK;
        return res;
    }
    *r = pg_result_of(c, res);
    PQclear(res);
    return NULL;
}

/* Every file's statements in one numbered table, and their names hashed to those numbers:
 * pg_run looks a statement up on every call, so by hash, not by walking the files. Built once. */
#define NAME_SLOTS 512 /* a power of two, at least twice PG_STATEMENTS_MAX */
static struct {
    const struct pg_statement *all[PG_STATEMENTS_MAX];
    size_t count, total;      /* numbered; in the files (more than PG_STATEMENTS_MAX: refused) */
    int16_t slot[NAME_SLOTS]; /* index into all, -1: empty */
} statements;
static pthread_once_t statements_once = PTHREAD_ONCE_INIT;

static void number_statements(void)
{
    memset(statements.slot, -1, sizeof(statements.slot));
    for (size_t l = 0; l < sizeof(statement_lists) / sizeof(statement_lists[0]); l++)
        for (const struct pg_statement *st = statement_lists[l]; st->name; st++) {
            if (statements.total++ >= PG_STATEMENTS_MAX)
                continue; /* prepare_all refuses to start */
            size_t h = fnv1a_str(st->name) & (NAME_SLOTS - 1);
            while (statements.slot[h] >= 0)
                h = (h + 1) & (NAME_SLOTS - 1);
            statements.slot[h] = (int16_t)statements.count;
            statements.all[statements.count++] = st;
        }
}

/* The number of the statement called name, or -1 if there is none. */
static int find_statement(const char *name)
{
    pthread_once(&statements_once, number_statements);
    for (size_t h = fnv1a_str(name) & (NAME_SLOTS - 1); statements.slot[h] >= 0;
         h = (h + 1) & (NAME_SLOTS - 1))
        if (strcmp(statements.all[statements.slot[h]]->name, name) == 0)
            return statements.slot[h];
    return -1;
}

static bool is_prepared(const struct pg_conn *c, size_t index)
{
    return c->prepared[index / 64] & (UINT64_C(1) << (index % 64));
}

/* Prepares statement number index on c; false with *r saying why (as the statement's own failure
 * would: a lock timeout is STORE_BUSY, a lost connection STORE_UNAVAILABLE). */
static bool prepare_statement(struct pg_conn *c, size_t index, enum store_result *r)
{
    const struct pg_statement *st = statements.all[index];
    char *sql = sql_template_expand(st->sql);
    if (!sql) {
        *r = STORE_ERROR;
        return false;
    }
    PGresult *res = checked(c, PQprepare(c->pg, st->name, sql, 0, NULL), r);
    free(sql);
    if (!res)
        return false;
    PQclear(res);
    c->prepared[index / 64] |= UINT64_C(1) << (index % 64);
    return true;
}

/* Prepares every statement of every file on c. 0, or -1 with err (the cause is logged). */
static int prepare_all(struct pg_conn *c, char *err, size_t err_size)
{
    pthread_once(&statements_once, number_statements);
    if (statements.total > PG_STATEMENTS_MAX) {
        snprintf(err, err_size, "%zu statements, more than PG_STATEMENTS_MAX", statements.total);
        return -1;
    }
    enum store_result r;
    for (size_t i = 0; i < statements.count; i++)
        if (!prepare_statement(c, i, &r)) {
            snprintf(err, err_size, "cannot prepare %s", statements.all[i]->name);
            return -1;
        }
    return 0;
}

PGresult *pg_run(struct pg_conn *c, const char *name, int n, const char *const *values,
                 enum store_result *r)
{
    enum store_result ignored;
    if (!r)
        r = &ignored;
    if (!c || !c->pg) {
        *r = STORE_UNAVAILABLE;
        return NULL;
    }
    int index = find_statement(name);
    if (index >= 0 && !is_prepared(c, (size_t)index) && !prepare_statement(c, (size_t)index, r))
        return NULL;
    return checked(c, PQexecPrepared(c->pg, name, n, values, NULL, NULL, 0), r);
}

PGresult *pg_run_read(struct pg_conn *c, const char *name, int n, const char *const *values,
                      enum store_result *r)
{
    enum store_result ignored;
    if (!r)
        r = &ignored;
    bool idle = c && c->pg && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    PGresult *res = pg_run(c, name, n, values, r);
    /* pg_result_of closed the connection only if it was lost; the backoff is still 0 then, so
     * this connects at once (or, PostgreSQL being down, fails and starts backing off). */
    if (!res && idle && !c->pg && *r == STORE_UNAVAILABLE && connect_conn(c->store, c))
        res = pg_run(c, name, n, values, r);
    return res;
}

enum store_result pg_command(struct pg_conn *c, const char *sql)
{
    if (!c || !c->pg)
        return STORE_UNAVAILABLE;
    enum store_result r;
    PQclear(checked(c, PQexec(c->pg, sql), &r));
    return r;
}
