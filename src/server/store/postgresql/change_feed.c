/* change_feed.c - following the change log (offer_changes) on PostgreSQL, and the expiry clock's
 * statements.
 *
 * A listener connection of its own (LISTEN offerd_changes, TCP keepalives on, so that a silent
 * network is noticed in seconds) only wakes the reader: the triggers notify at every commit that
 * logged a change, whoever wrote it. The log itself is read on the notify thread's ordinary
 * connection, by transaction id: a position P (xid8 as int64) means every change of every
 * transaction with xid <= P has been read. A read takes xmin = pg_snapshot_xmin(pg_current_snapshot())
 * once and reads only rows below it, i.e. of transactions that have all ended, so a transaction
 * that commits late (seq values are handed out in statement order, not commit order) is read when
 * it commits, never skipped; the position then becomes xmin - 1. While a row of transaction X is
 * reported the position is X on X's last row and X - 1 on the others.
 *
 * A transaction held open anywhere on the server (xids are cluster-wide) holds xmin back. So that
 * it does not hold back every other change too, a read also delivers the committed rows above
 * xmin that have waited EARLY_AFTER_MS ("early"; by the database's clock), remembers their xids,
 * and skips them when xmin passes them; the position still only moves to xmin - 1. Short
 * transactions (another instance's batch) never make a change early, so positions stay exact
 * (the position on a change's row is its own xid) unless a transaction is held open; an early
 * change's position is xmin - 1, below its own, so a stream resuming from it is sent that offer
 * once more, never one too few. A row may be reported twice (after a restart, or when
 * the memory of early xids is full); notify ignores a version it has seen.
 *
 * Wake-ups are lossy by nature (a reconnect, a full notification queue), so poll_changes also
 * says "changed" once a second (SAFETY_READ_MS) and right after every (re)connect, LISTEN first:
 * nothing committed meanwhile is missed, it is only read from the cursor. Without the listener
 * (store_options.no_notify: --bus without notify) that once-a-second read is how
 * outside writers' changes arrive.
 *
 * SPDX-License-Identifier: MIT
 */
#include "store/postgresql/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

#define CHANGES_PAGE 500            /* rows per read of the log (f_changes' LIMIT) */
#define SAFETY_READ_MS 1000         /* "changed" at least this often, notification or not */
#define USAGE_SAMPLE_MS 1000        /* pg_notification_queue_usage() at most this often */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define EARLY_MAX 65536             /* xids delivered above xmin that are remembered */
#define EARLY_AFTER_MS "50"         /* a change waits this long behind an open transaction */
#define XID_LAST "9223372036854775807" /* no upper bound on a page's xid */

const struct pg_statement pg_feed_statements[] = {
    /* A fresh snapshot: xmin, xmax (equal: no transaction was running) and the transactions
     * running ("{5,7}"). */
    {"f_xmin",
     "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,"
     " (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM pg_snapshot_xip(s) x)::text"
     " FROM pg_current_snapshot() s"},
    {"f_xmin_usage",
     "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,"
     " (SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM pg_snapshot_xip(s) x)::text,"
     " pg_notification_queue_usage() FROM pg_current_snapshot() s"},
    /* The log in (xid, seq) order after the cursor ($1 xid, $2 seq), below xid $3. */
    {"f_changes",
     "SELECT c.xid::text::bigint, c.seq, c.offer_id, c.version, c.buyer_id, c.seller_id,"
     " c.changed_at, c.changed_at <= offerd_now_ms() - " EARLY_AFTER_MS " FROM offer_changes c"
     " WHERE (c.xid, c.seq) > ($1::xid8, $2::bigint) AND c.xid < $3::xid8"
     " ORDER BY c.xid, c.seq LIMIT 500"}, /* c.xid: the column, not the bigint output */
    /* The same shape, for the early pass: the rows after the cursor of the transactions listed
     * in $3 (running at the previous read, or not settled yet). */
    {"f_changes_watch",
     "SELECT c.xid::text::bigint, c.seq, c.offer_id, c.version, c.buyer_id, c.seller_id,"
     " c.changed_at, c.changed_at <= offerd_now_ms() - " EARLY_AFTER_MS " FROM offer_changes c"
     " WHERE (c.xid, c.seq) > ($1::xid8, $2::bigint) AND c.xid = ANY($3::xid8[])"
     " ORDER BY c.xid, c.seq LIMIT 500"},
    {"f_offer_change_seq",
     "SELECT coalesce(max(xid)::text::bigint, 0) FROM offer_changes WHERE offer_id = $1"},
    {"f_next_expiry",
     "SELECT min(expires_at) FROM offers"
     " WHERE status IN ({LIVE}) AND expires_at IS NOT NULL"},
    /* Locks the products of the due offers (in id order), and each offer only under its
     * product's lock, as writes do (product, then offer): it cannot deadlock with them, nor with
     * another instance's expiry. The offers' status is checked again under the lock. */
    {"f_expire_due",
     "WITH p AS MATERIALIZED ("
     " SELECT id FROM products WHERE id IN (SELECT product_id FROM offers"
     "  WHERE status IN ({LIVE}) AND expires_at IS NOT NULL AND expires_at <= $1)"
     " ORDER BY id FOR NO KEY UPDATE)"
     " UPDATE offers o SET status = {EXPIRED}, version = o.version + 1, updated_at = $1 FROM p"
     " WHERE o.product_id = p.id AND o.status IN ({LIVE})"
     " AND o.expires_at IS NOT NULL AND o.expires_at <= $1"},
    {NULL, NULL},
};

struct pg_feed {
    /* The listener: the notify thread's only (poll_changes), so unguarded. */
    PGconn *listener;
    bool listened_before;       /* a connect after this one was lost is a reconnect */
    int64_t retry_at_ms;        /* monotonic */
    int backoff_ms;
    int64_t last_changed_ms;    /* monotonic: when poll_changes last said "changed" */
    bool reconnected;           /* say "changed" at the next poll */

    /* The reader's memory (changes_since). */
    pthread_mutex_t lock;
    int64_t *early;             /* ascending xids above the last xmin, delivered already */
    size_t early_count, early_cap;
    /* What the early pass looks at: every transaction from scan_from on, and those in watch
     * (ascending), which were running at the previous read or not settled yet. Any other
     * transaction above xmin has been looked at once it had ended. */
    int64_t scan_from;
    int64_t *watch;
    size_t watch_count;
    int64_t usage_sampled_ms;   /* monotonic */
    atomic_bool reread_soon;    /* a change waits to be delivered early: look again next poll */

    /* Statistics, read by /metrics from any thread. */
    atomic_llong lag_ms;
    atomic_llong read_ok_ms;    /* wall clock: the last read of the log that worked */
    atomic_llong queue_usage_ppm; /* pg_notification_queue_usage() in millionths */
};

/* ---- the listener ---- */

static void listener_drop(struct pg_feed *f, const char *why)
{
    if (f->listener) {
        log_error("postgresql: change listener lost (%s); reconnecting", why);
        PQfinish(f->listener);
        f->listener = NULL;
    }
}

static bool listener_connect(struct pg_store *ps, struct pg_feed *f, int64_t now)
{
    static const char *const keys[] = {"keepalives",          "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout",    "application_name",
                                       NULL};
    static const char *const values[] = {"1", "5", "2", "3", "10000", "offerd-listener", NULL};
    char err[256];
    PGconn *pg = pg_connect(ps, keys, values, err, sizeof(err));
    if (pg) {
        PGresult *res = PQexec(pg, "LISTEN offerd_changes");
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(err, sizeof(err), "LISTEN: %s", PQerrorMessage(pg));
            PQfinish(pg);
            pg = NULL;
        }
        PQclear(res);
    }
    if (!pg) {
        if (f->backoff_ms == BACKOFF_MIN_MS)
            log_error("postgresql: change listener cannot connect: %s", err);
        f->retry_at_ms = now + f->backoff_ms;
        f->backoff_ms = f->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : f->backoff_ms * 2;
        return false;
    }
    if (f->listened_before) {
        atomic_fetch_add(&ps->reconnects, 1);
        log_info("postgresql: change listener reconnected");
    }
    f->listener = pg;
    f->listened_before = true;
    f->backoff_ms = BACKOFF_MIN_MS;
    f->reconnected = true; /* listening now: re-read what was committed while we were not */
    return true;
}

/* Reads what the server sent the listener; true when a notification came. */
static bool listener_drain(struct pg_feed *f)
{
    if (!PQconsumeInput(f->listener) || PQstatus(f->listener) != CONNECTION_OK) {
        char why[160];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(f->listener));
        why[strcspn(why, "\n")] = '\0';
        listener_drop(f, why[0] ? why : "connection closed");
        f->retry_at_ms = 0; /* once at once: a killed backend is back in a moment */
        return false;
    }
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(f->listener)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

int pg_feed_open(struct pg_store *ps, char *err, size_t err_size)
{
    struct pg_feed *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->backoff_ms = BACKOFF_MIN_MS;
    atomic_store(&f->read_ok_ms, clock_now_ms());
    ps->feed = f;
    /* Listening starts at the first poll_changes (the notify thread's), which also reports it. */
    return 0;
}

void pg_feed_close(struct pg_store *ps)
{
    struct pg_feed *f = ps->feed;
    if (!f)
        return;
    if (f->listener)
        PQfinish(f->listener);
    free(f->early);
    free(f->watch);
    pthread_mutex_destroy(&f->lock);
    free(f);
    ps->feed = NULL;
}

enum store_result pg_poll_changes(struct store *s, bool *changed)
{
    struct pg_store *ps = as_pg(s);
    struct pg_feed *f = ps->feed;
    int64_t now = clock_monotonic_ms();
    bool notified = false;
    if (f->listener)
        notified = listener_drain(f);
    if (!f->listener && !ps->no_notify && now >= f->retry_at_ms)
        listener_connect(ps, f, now);
    /* The safety net also runs while the listener is down: the log is read from the cursor
     * whenever PostgreSQL answers. */
    *changed = notified || f->reconnected || atomic_exchange(&f->reread_soon, false) ||
               now - f->last_changed_ms >= SAFETY_READ_MS;
    if (*changed) {
        f->reconnected = false;
        f->last_changed_ms = now;
    }
    return STORE_OK;
}

/* The listener's socket: readable when a notification (or an error) arrived. */
int pg_change_wake_fd(struct store *s)
{
    struct pg_feed *f = as_pg(s)->feed;
    return f->listener ? PQsocket(f->listener) : -1;
}

/* ---- reading the log ---- */

/* A list of xids, ascending. */
struct xid_list {
    int64_t *xids;
    size_t count;
};

/* Parses PostgreSQL's "{5,7}" into list (new array: free list->xids); false out of memory. */
static bool parse_xids(const char *text, struct xid_list *list)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    list->count = 0;
    list->xids = malloc(n * sizeof(*list->xids));
    if (!list->xids)
        return false;
    for (const char *p = text; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        list->xids[list->count++] = v;
        p = end;
    }
    return true;
}

/* A fresh snapshot: every transaction below *xmin has ended, none from *xmax on had begun, and
 * *xip lists those between that were running (free xip->xids; none when xmin = xmax). Samples the notification queue's usage on the way
 * when it is due. */
static enum store_result read_xmin(struct pg_conn *c, struct pg_feed *f, int64_t *xmin,
                                   int64_t *xmax, struct xid_list *xip)
{
    int64_t now = clock_monotonic_ms();
    pthread_mutex_lock(&f->lock);
    bool sample = now - f->usage_sampled_ms >= USAGE_SAMPLE_MS;
    if (sample)
        f->usage_sampled_ms = now;
    pthread_mutex_unlock(&f->lock);
    enum store_result r;
    PGresult *res = pg_run_read(c, sample ? "f_xmin_usage" : "f_xmin", 0, NULL, &r);
    if (!res)
        return r;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return STORE_ERROR;
    }
    *xmin = pg_int64(res, 0, 0);
    *xmax = pg_int64(res, 0, 1);
    if (sample)
        atomic_store(&f->queue_usage_ppm, (long long)(strtod(PQgetvalue(res, 0, 3), NULL) * 1e6));
    bool ok = parse_xids(PQgetvalue(res, 0, 2), xip);
    PQclear(res);
    return ok ? STORE_OK : STORE_ERROR;
}

static bool is_early(const struct pg_feed *f, int64_t xid)
{
    size_t lo = 0, hi = f->early_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->early[mid] == xid)
            return true;
        if (f->early[mid] < xid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Remembers xid, in order. */
static void remember_early(struct pg_feed *f, int64_t xid)
{
    if (is_early(f, xid))
        return;
    if (f->early_count == EARLY_MAX)
        return; /* forgotten: reported once more when xmin passes it */
    if (f->early_count == f->early_cap) {
        size_t cap = f->early_cap ? f->early_cap * 2 : 16;
        int64_t *grown = realloc(f->early, cap * sizeof(*grown));
        if (!grown)
            return; /* forgotten: reported once more when xmin passes it */
        f->early = grown;
        f->early_cap = cap;
    }
    size_t at = f->early_count;
    while (at > 0 && f->early[at - 1] > xid)
        at--;
    memmove(f->early + at + 1, f->early + at, (f->early_count - at) * sizeof(*f->early));
    f->early[at] = xid;
    f->early_count++;
}

/* Forgets the xids below xmin: the position covers them now. */
static void forget_early_below(struct pg_feed *f, int64_t xmin)
{
    size_t n = 0;
    while (n < f->early_count && f->early[n] < xmin)
        n++;
    if (n == 0)
        return; /* nothing to drop (and early may still be NULL: memmove must not see it) */
    memmove(f->early, f->early + n, (f->early_count - n) * sizeof(*f->early));
    f->early_count -= n;
}

struct log_pass {
    struct pg_feed *f;
    store_change_fn fn;
    void *userdata;
    int64_t *last_seq;
    bool early;                 /* above xmin: the position stays, the xids are remembered */
    int64_t newest_changed_at;  /* changed_at of the last row reported, 0 if none */
    int64_t stopped_at;         /* early pass: the xid of the first row not settled, 0 if none */
};

/* Reports row i of a page. While it runs, *last_seq is xid for the last row of its transaction
 * (then every row up to xid has been reported), else xid - 1 (some of xid's rows are to come:
 * a stream resuming from xid would miss them). The last row of a short page is its transaction's
 * last (xid is below xmin: all its rows are there); of a full one, that is not known. */
static void report_row(struct log_pass *p, const PGresult *res, int i, int64_t xid)
{
    int rows = PQntuples(res);
    bool last_of_tx = i + 1 < rows ? pg_int64(res, i + 1, 0) != xid : rows < CHANGES_PAGE;
    const char *offer_id = PQgetvalue(res, i, 2);
    if (!offer_id_is_valid(offer_id))
        return; /* no offer has that id (the table refuses it): nothing to wake */
    const char *buyer = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
    const char *seller = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5);
    if (!p->early)
        *p->last_seq = last_of_tx ? xid : xid - 1;
    p->fn(offer_id, pg_int64(res, i, 3), buyer && offer_id_is_valid(buyer) ? buyer : NULL,
          seller && offer_id_is_valid(seller) ? seller : NULL, p->userdata);
    p->newest_changed_at = pg_int64(res, i, 6);
}

/* Reports the rows after xid `after` that statement (f_changes: below xid arg; f_changes_watch:
 * of the xids listed in arg) returns, in (xid, seq) order, page by page, skipping the xids
 * remembered. The early pass stops at the first row that has not waited EARLY_AFTER_MS yet
 * (stopped_at, and asks for another look), and remembers each xid once all its rows are reported
 * (a pass cut short reports the last one again later). */
static enum store_result read_log(struct pg_conn *c, struct log_pass *p, const char *statement,
                                  int64_t after, const char *arg)
{
    char cursor_xid[24], cursor_seq[24];
    snprintf(cursor_xid, sizeof(cursor_xid), "%lld", (long long)(after > 0 ? after : 0));
    snprintf(cursor_seq, sizeof(cursor_seq), "%s", XID_LAST);
    int64_t reporting = 0; /* the early pass's xid whose rows are being reported */
    for (;;) {
        const char *values[] = {cursor_xid, cursor_seq, arg};
        enum store_result r;
        PGresult *res = pg_run_read(c, statement, 3, values, &r);
        if (!res)
            return r;
        int rows = PQntuples(res);
        for (int i = 0; i < rows; i++) {
            int64_t xid = pg_int64(res, i, 0);
            if (p->early && !pg_bool(res, i, 7)) {
                atomic_store(&p->f->reread_soon, true);
                p->stopped_at = xid;
                PQclear(res);
                return STORE_OK; /* reporting's rows may be cut short: not remembered */
            }
            pthread_mutex_lock(&p->f->lock);
            bool skip = is_early(p->f, xid);
            if (p->early && xid != reporting && reporting)
                remember_early(p->f, reporting);
            pthread_mutex_unlock(&p->f->lock);
            reporting = xid;
            if (!skip)
                report_row(p, res, i, xid);
        }
        if (rows) {
            snprintf(cursor_xid, sizeof(cursor_xid), "%s", PQgetvalue(res, rows - 1, 0));
            snprintf(cursor_seq, sizeof(cursor_seq), "%s", PQgetvalue(res, rows - 1, 1));
        }
        PQclear(res);
        if (rows < CHANGES_PAGE)
            break;
    }
    if (p->early && reporting) {
        pthread_mutex_lock(&p->f->lock);
        remember_early(p->f, reporting);
        pthread_mutex_unlock(&p->f->lock);
    }
    return STORE_OK;
}

/* "{5,7}": the xids of list (and of extra, those from `from` on), for a xid8[] parameter; new
 * string (free it), NULL out of memory. */
static char *format_xids(const struct xid_list *list, const struct xid_list *extra, int64_t from)
{
    size_t n = list->count + (extra ? extra->count : 0);
    char *text = malloc(n * 21 + 3), *o = text;
    if (!text)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        int64_t xid = i < list->count ? list->xids[i] : extra->xids[i - list->count];
        if (i >= list->count && xid < from)
            continue;
        o += sprintf(o, "%s%lld", o[-1] == '{' ? "" : ",", (long long)xid);
    }
    strcpy(o, "}");
    return text;
}

/* The early pass: committed transactions above xmin, while an older one is still open. It looks
 * only at the transactions that could hold something not yet reported: those from f->scan_from
 * on, and those in f->watch (running at the previous read: one may commit late, below one already
 * reported), so it stays cheap however long a transaction is held open. Then sets what the next
 * pass looks at: the transactions running now, and any not settled yet. */
static enum store_result read_early(struct pg_conn *c, struct log_pass *pass, int64_t position,
                                    int64_t xmax, struct xid_list *xip)
{
    struct pg_feed *f = pass->f;
    struct xid_list watch = {f->watch, f->watch_count};
    char *listed = format_xids(&watch, NULL, 0), *next = NULL;
    if (!listed)
        return STORE_ERROR;
    pass->early = true;
    enum store_result r = watch.count ? read_log(c, pass, "f_changes_watch", position, listed)
                                      : STORE_OK;
    int64_t watch_stop = pass->stopped_at;
    pass->stopped_at = 0;
    int64_t start = f->scan_from - 1 > position ? f->scan_from - 1 : position;
    if (r == STORE_OK)
        r = read_log(c, pass, "f_changes", start, XID_LAST);
    struct xid_list kept = {NULL, 0};
    if (r == STORE_OK) /* watch next: running now, and the listed ones not settled yet */
        next = format_xids(xip, &watch, watch_stop ? watch_stop : INT64_MAX);
    if (r == STORE_OK && (!next || !parse_xids(next, &kept)))
        r = STORE_ERROR;
    free(listed);
    free(next);
    if (r != STORE_OK) {
        f->scan_from = 0; /* look at everything above xmin next time */
        return r;
    }
    free(f->watch);
    f->watch = kept.xids;
    f->watch_count = kept.count;
    f->scan_from = pass->stopped_at ? pass->stopped_at : xmax;
    return STORE_OK;
}

/* One read of the log from after_seq: below xmin, then the early pass above it. */
static enum store_result read_changes(struct pg_store *ps, struct log_pass *pass, int64_t after_seq)
{
    struct pg_feed *f = ps->feed;
    struct pg_conn *c = pg_conn_get(ps);
    if (!c)
        return STORE_UNAVAILABLE;
    int64_t xmin = 0, xmax = 0;
    struct xid_list xip = {NULL, 0};
    enum store_result r = read_xmin(c, f, &xmin, &xmax, &xip);
    if (r != STORE_OK)
        return r;
    char below[24];
    snprintf(below, sizeof(below), "%lld", (long long)xmin);
    r = read_log(c, pass, "f_changes", after_seq, below);
    if (r == STORE_OK) {
        int64_t position = xmin - 1 > after_seq ? xmin - 1 : after_seq;
        *pass->last_seq = position;
        pthread_mutex_lock(&f->lock);
        forget_early_below(f, xmin);
        pthread_mutex_unlock(&f->lock);
        if (xmin < xmax) { /* a transaction was running: some above xmin may have committed */
            r = read_early(c, pass, position, xmax, &xip);
        } else { /* nothing above xmin: the next read sees what commits from now on */
            f->scan_from = xmin;
            f->watch_count = 0;
        }
    }
    free(xip.xids);
    return r;
}

enum store_result pg_changes_since(struct store *s, int64_t after_seq, int64_t *last_seq,
                                   store_change_fn fn, void *userdata)
{
    struct pg_feed *f = as_pg(s)->feed;
    *last_seq = after_seq;
    struct log_pass pass = {f, fn, userdata, last_seq, false, 0, 0};
    enum store_result r = read_changes(as_pg(s), &pass, after_seq);
    /* The lag: how old the newest change delivered is; while reads fail, how long since the
     * last one that worked (changes may be waiting all that time). */
    int64_t now = clock_now_ms(), lag = 0;
    if (r == STORE_OK)
        atomic_store(&f->read_ok_ms, now);
    else
        lag = now - atomic_load(&f->read_ok_ms);
    if (pass.newest_changed_at && now - pass.newest_changed_at > lag)
        lag = now - pass.newest_changed_at;
    atomic_store(&f->lag_ms, lag > 0 ? lag : 0);
    return r;
}

enum store_result pg_last_change_seq(struct store *s, int64_t *seq)
{
    struct pg_store *ps = as_pg(s);
    struct pg_conn *c = pg_conn_get(ps);
    if (!c)
        return STORE_UNAVAILABLE;
    int64_t xmin = 0, xmax = 0;
    struct xid_list xip = {NULL, 0};
    enum store_result r = read_xmin(c, ps->feed, &xmin, &xmax, &xip);
    free(xip.xids);
    if (r == STORE_OK)
        *seq = xmin - 1;
    return r;
}

/* Runs a statement that returns one bigint (or NULL: *any false). */
static enum store_result one_int(struct store *s, const char *name, int n,
                                 const char *const *values, bool *any, int64_t *value)
{
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    enum store_result r;
    PGresult *res = pg_run_read(c, name, n, values, &r);
    if (!res)
        return r;
    *any = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    if (*any)
        *value = pg_int64(res, 0, 0);
    PQclear(res);
    return STORE_OK;
}

enum store_result pg_offer_change_seq(struct store *s, const char *offer_id, int64_t *seq)
{
    bool any = false;
    *seq = 0;
    return one_int(s, "f_offer_change_seq", 1, &offer_id, &any, seq);
}

enum store_result pg_next_expiry(struct store *s, bool *any, int64_t *at_ms)
{
    return one_int(s, "f_next_expiry", 0, NULL, any, at_ms);
}

enum store_result pg_expire_due(struct store *s, int64_t now_ms, size_t *expired)
{
    *expired = 0;
    struct pg_conn *c = pg_conn_get(as_pg(s));
    if (!c)
        return STORE_UNAVAILABLE;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    const char *values[] = {now};
    enum store_result r;
    PGresult *res = pg_run(c, "f_expire_due", 1, values, &r);
    if (!res)
        return r;
    *expired = (size_t)strtoul(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return STORE_OK;
}

void pg_store_stats(struct store *s, struct store_stats *out)
{
    struct pg_store *ps = as_pg(s);
    out->available = true;
    out->reconnects = atomic_load(&ps->reconnects);
    out->feed_lag_ms = ps->feed ? atomic_load(&ps->feed->lag_ms) : 0;
    out->notify_queue_usage = ps->feed ? (double)atomic_load(&ps->feed->queue_usage_ppm) / 1e6 : 0;
}
