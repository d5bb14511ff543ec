/* writer.c - open-loop write load for offerd: offer negotiations at a fixed rate (issue #18).
 *
 *   openloop-writer PORT CHAINS_TSV RATE SECONDS CONNS THINK_MS [DRAIN_S]
 *
 * Why open loop: people write at their own pace, whatever the server is doing, so the rate does
 * not drop when the server slows down (as wrk's closed loop does). Write i is due at
 * t0 + i / RATE; its latency runs from that due time to the last byte of its response, so a write
 * that waited for a free connection or a stalled server is charged the wait (no coordinated
 * omission). The next write never waits for an earlier response: each goes out on a free
 * keep-alive connection (CONNS of them, to 127.0.0.1:PORT) as soon as it is due; when none is
 * free it goes out on the next one that frees, still timed from its due time.
 *
 * What is written: negotiations, each on its own product, from CHAINS_TSV (bench/gen_db.py):
 *   product <TAB> offer amount <TAB> buyer token <TAB> seller token <TAB> seller counter
 *   <TAB> buyer counter <TAB> seller counter 2 <TAB> plan
 * with plan one of
 *   accept         create (buyer), counter (seller), accept (buyer)
 *   reject         create (buyer), counter (seller), reject (buyer)
 *   long           create, counter (seller), counter (buyer), counter (seller), accept (buyer)
 *   seller-reject  create (buyer), reject (seller)
 * so the load is creates (POST /api/offers, 201), counters (POST /api/offers/ID/counter, 201) and
 * decisions (PATCH /api/offers/ID, 200), all of which a correct server accepts. A negotiation's
 * next step becomes ready THINK_MS after the previous one was answered; a due write is the oldest
 * ready step, or else a new negotiation's create. So many negotiations are interleaved and the
 * total rate is RATE whatever the mix.
 *
 * Every response that is not the expected 2xx is an error; the first few are printed with their
 * bodies. After SECONDS, writes still in flight get DRAIN_S (default 10) seconds; those never
 * answered are errors too. The result is one line on stdout:
 *   OPENLOOP_WRITER {json}
 * (sent, acknowledged by kind, errors, latency percentiles, the writer's own CPU, and its send
 * lag: how late after its due time each write was handed to the kernel, which tells a writer
 * short of CPU or of free connections (peak_busy_conns == conns) from a slow server). A line
 * "READY" is printed first, once the connections are open, when the clock starts.
 *
 * One thread, epoll and a timerfd for the schedule; plain sockets, HTTP/1.1 keep-alive.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define REQ_SIZE 4096
#define RESP_MAX (1 << 20)
#define ID_SIZE 80
#define MAX_ERROR_PRINTS 5

enum kind { KIND_CREATE, KIND_COUNTER, KIND_DECISION, KIND_COUNT };
static const char *const KIND_NAME[KIND_COUNT] = {"create", "counter", "decision"};

/* One step of a plan: what to send and as whom. */
enum step { STEP_CREATE, STEP_S_COUNTER1, STEP_B_COUNTER, STEP_S_COUNTER2, STEP_B_ACCEPT,
            STEP_B_REJECT, STEP_S_REJECT, STEP_DONE };

struct chain {
    char *product, *amount, *buyer, *seller, *s1, *b1, *s2;
    const enum step *plan;
    int step;                 /* index into plan */
    char offer_id[ID_SIZE];
    int64_t ready_ns;         /* when its next step may go */
    struct chain *next_ready; /* FIFO of ready chains */
};

static const enum step PLAN_ACCEPT[] = {STEP_CREATE, STEP_S_COUNTER1, STEP_B_ACCEPT, STEP_DONE};
static const enum step PLAN_REJECT[] = {STEP_CREATE, STEP_S_COUNTER1, STEP_B_REJECT, STEP_DONE};
static const enum step PLAN_LONG[] = {STEP_CREATE, STEP_S_COUNTER1, STEP_B_COUNTER,
                                      STEP_S_COUNTER2, STEP_B_ACCEPT, STEP_DONE};
static const enum step PLAN_S_REJECT[] = {STEP_CREATE, STEP_S_REJECT, STEP_DONE};

struct conn {
    int fd;
    bool busy;
    struct chain *chain;  /* the write in flight */
    enum kind kind;
    int64_t due_ns;       /* its due time */
    char req[REQ_SIZE];
    size_t req_len, req_off;
    char *resp;
    size_t resp_len, resp_cap;
};

static struct {
    int port, nconns, epfd, tfd;
    double rate;
    int64_t think_ns, t0, end_ns;
    struct chain *chains;
    size_t nchains, next_chain;
    struct chain *ready_head, *ready_tail;
    struct conn conns[MAX_CONNS];
    int free_stack[MAX_CONNS], nfree;
    uint64_t due_count, sent, next_to_send; /* writes due so far; sent; index of the next to send */
    uint64_t acked[KIND_COUNT], sent_kind[KIND_COUNT], errors, error_prints, no_chain, unanswered;
    uint64_t accepts, rejects, reconnects;
    int64_t *lat[KIND_COUNT];
    size_t nlat[KIND_COUNT], cap_lat;
    int64_t *lag;  /* due time to the moment it was handed to send(): the writer's own lateness */
    size_t nlag;
    int peak_busy; /* connections in use at once, at most; == CONNS means writes waited for one */
    int64_t max_lat;
    char error_json[8192];
    size_t error_json_len;
} W;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "openloop-writer: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ---- chains ---- */

static void load_chains(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open %s", path);
    size_t cap = 1024;
    W.chains = calloc(cap, sizeof(*W.chains));
    char *line = NULL;
    size_t n = 0;
    while (getline(&line, &n, f) > 0) {
        char *cols[8];
        int k = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, "\t\r\n", &save); t && k < 8;
             t = strtok_r(NULL, "\t\r\n", &save))
            cols[k++] = t;
        if (k < 8)
            continue;
        if (W.nchains == cap) {
            cap *= 2;
            W.chains = realloc(W.chains, cap * sizeof(*W.chains));
        }
        struct chain *c = &W.chains[W.nchains];
        memset(c, 0, sizeof(*c));
        c->product = strdup(cols[0]);
        c->amount = strdup(cols[1]);
        c->buyer = strdup(cols[2]);
        c->seller = strdup(cols[3]);
        c->s1 = strdup(cols[4]);
        c->b1 = strdup(cols[5]);
        c->s2 = strdup(cols[6]);
        if (strcmp(cols[7], "accept") == 0)
            c->plan = PLAN_ACCEPT;
        else if (strcmp(cols[7], "reject") == 0)
            c->plan = PLAN_REJECT;
        else if (strcmp(cols[7], "long") == 0)
            c->plan = PLAN_LONG;
        else if (strcmp(cols[7], "seller-reject") == 0)
            c->plan = PLAN_S_REJECT;
        else
            die("unknown plan %s in %s", cols[7], path);
        W.nchains++;
    }
    free(line);
    fclose(f);
    if (!W.nchains)
        die("no chains in %s", path);
}

static void ready_push(struct chain *c)
{
    c->next_ready = NULL;
    if (W.ready_tail)
        W.ready_tail->next_ready = c;
    else
        W.ready_head = c;
    W.ready_tail = c;
}

/* The oldest chain whose next step may go now, or a new one; NULL when none is left. */
static struct chain *take_chain(int64_t now)
{
    struct chain *c = W.ready_head;
    if (c && c->ready_ns <= now) {
        W.ready_head = c->next_ready;
        if (!W.ready_head)
            W.ready_tail = NULL;
        return c;
    }
    if (W.next_chain < W.nchains)
        return &W.chains[W.next_chain++];
    return NULL;
}

/* ---- requests ---- */

static void format_request(struct conn *cn, struct chain *c)
{
    enum step s = c->plan[c->step];
    const char *method = "POST", *token = c->buyer;
    char path[160], body[512];
    switch (s) {
    case STEP_CREATE:
        snprintf(path, sizeof(path), "/api/offers");
        snprintf(body, sizeof(body),
                 "{\"productId\":\"%s\",\"amount\":%s,\"message\":\"openloop\"}", c->product,
                 c->amount);
        cn->kind = KIND_CREATE;
        break;
    case STEP_S_COUNTER1:
    case STEP_B_COUNTER:
    case STEP_S_COUNTER2:
        snprintf(path, sizeof(path), "/api/offers/%s/counter", c->offer_id);
        snprintf(body, sizeof(body), "{\"amount\":%s,\"message\":\"openloop counter\"}",
                 s == STEP_S_COUNTER1 ? c->s1 : s == STEP_B_COUNTER ? c->b1 : c->s2);
        token = s == STEP_B_COUNTER ? c->buyer : c->seller;
        cn->kind = KIND_COUNTER;
        break;
    default:
        method = "PATCH";
        snprintf(path, sizeof(path), "/api/offers/%s", c->offer_id);
        snprintf(body, sizeof(body), "{\"status\":\"%s\"}",
                 s == STEP_B_ACCEPT ? "ACCEPTED" : "REJECTED");
        token = s == STEP_S_REJECT ? c->seller : c->buyer;
        cn->kind = KIND_DECISION;
        break;
    }
    int n = snprintf(cn->req, sizeof(cn->req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, W.port, token, strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof(cn->req))
        die("request too large");
    cn->req_len = (size_t)n;
    cn->req_off = 0;
}

/* ---- connections ---- */

static void conn_open(int i)
{
    struct conn *cn = &W.conns[i];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)W.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        die("connect to 127.0.0.1:%d: %s", W.port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    cn->fd = fd;
    cn->busy = false;
    cn->resp_len = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(W.epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    W.free_stack[W.nfree++] = i;
}

static void record_error(struct conn *cn, int status, const char *what, const char *body,
                         size_t len)
{
    W.errors++;
    if (W.error_prints >= MAX_ERROR_PRINTS)
        return;
    W.error_prints++;
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s %s: %d %s: ", KIND_NAME[cn->kind],
                     cn->chain ? cn->chain->product : "?", status, what);
    for (size_t i = 0; i < len && n < (int)sizeof(line) - 8; i++) {
        unsigned char ch = (unsigned char)body[i];
        line[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '.';
    }
    line[n] = '\0';
    fprintf(stderr, "openloop-writer: error: %s\n", line);
    /* the same, as a JSON string in the result line */
    size_t *o = &W.error_json_len;
    if (*o + 2 * strlen(line) + 8 >= sizeof(W.error_json))
        return;
    W.error_json[*o] = *o > 0 ? ',' : ' ';
    (*o)++;
    W.error_json[(*o)++] = '"';
    for (char *p = line; *p; p++) {
        if (*p == '"' || *p == '\\')
            W.error_json[(*o)++] = '\\';
        W.error_json[(*o)++] = *p;
    }
    W.error_json[(*o)++] = '"';
}

/* A write that got no answer (the connection failed): an error, its chain abandoned. */
static void conn_fail(int i, const char *why)
{
    struct conn *cn = &W.conns[i];
    if (cn->busy) {
        record_error(cn, 0, why, "", 0);
    } else { /* idle: it is on the free stack, and conn_open puts it back there */
        for (int k = 0; k < W.nfree; k++)
            if (W.free_stack[k] == i)
                W.free_stack[k--] = W.free_stack[--W.nfree];
    }
    epoll_ctl(W.epfd, EPOLL_CTL_DEL, cn->fd, NULL);
    close(cn->fd);
    cn->chain = NULL;
    W.reconnects++;
    conn_open(i);
}

static void send_more(int i)
{
    struct conn *cn = &W.conns[i];
    while (cn->req_off < cn->req_len) {
        ssize_t n = send(cn->fd, cn->req + cn->req_off, cn->req_len - cn->req_off, MSG_NOSIGNAL);
        if (n > 0) {
            cn->req_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
            epoll_ctl(W.epfd, EPOLL_CTL_MOD, cn->fd, &ev);
            return;
        }
        conn_fail(i, "send failed");
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(W.epfd, EPOLL_CTL_MOD, cn->fd, &ev);
}

/* Sends every due write for which a connection is free. */
static void dispatch(int64_t now)
{
    while (W.next_to_send < W.due_count && W.nfree > 0) {
        struct chain *c = take_chain(now);
        if (!c) { /* nothing left to write: counted, never silently skipped */
            W.no_chain++;
            W.next_to_send++;
            continue;
        }
        int i = W.free_stack[--W.nfree];
        struct conn *cn = &W.conns[i];
        cn->busy = true;
        cn->chain = c;
        cn->due_ns = W.t0 + (int64_t)((double)W.next_to_send * 1e9 / W.rate);
        cn->resp_len = 0;
        if (W.nlag < W.cap_lat)
            W.lag[W.nlag++] = now_ns() - cn->due_ns;
        if (W.nconns - W.nfree > W.peak_busy)
            W.peak_busy = W.nconns - W.nfree;
        format_request(cn, c);
        W.next_to_send++;
        W.sent++;
        W.sent_kind[cn->kind]++;
        send_more(i);
    }
}

/* Length of a complete response in buf (head + body), 0 if incomplete, -1 if malformed. */
static long response_complete(const char *buf, size_t len, int *status, bool *close_after,
                              const char **location, size_t *location_len, size_t *body_off)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    long content_length = -1;
    bool chunked = false;
    *close_after = false;
    *location = NULL;
    *location_len = 0;
    for (const char *p = memchr(buf, '\n', head) + 1; p < buf + head - 2;) {
        const char *eol = memchr(p, '\n', (size_t)(buf + head - p));
        size_t ll = (size_t)(eol - p);
        if (ll >= 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            content_length = atol(p + 15);
        else if (ll >= 18 && strncasecmp(p, "Transfer-Encoding:", 18) == 0 &&
                 memmem(p, ll, "chunked", 7))
            chunked = true;
        else if (ll >= 11 && strncasecmp(p, "Connection:", 11) == 0 && memmem(p, ll, "close", 5))
            *close_after = true;
        else if (ll >= 9 && strncasecmp(p, "Location:", 9) == 0) {
            const char *v = p + 9;
            while (*v == ' ')
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *location = v;
            *location_len = (size_t)(ve - v);
        }
        p = eol + 1;
    }
    *body_off = head;
    if (chunked) {
        const char *fin = memmem(buf + head, len - head, "0\r\n\r\n", 5);
        return fin ? (long)(fin + 5 - buf) : 0;
    }
    if (content_length < 0)
        content_length = 0; /* offerd always sends a length; a 204/304 has none */
    return len >= head + (size_t)content_length ? (long)(head + (size_t)content_length) : 0;
}

static void record_latency(enum kind k, int64_t ns)
{
    if (W.nlat[k] == W.cap_lat)
        return; /* cannot happen: cap_lat covers every write the schedule makes */
    W.lat[k][W.nlat[k]++] = ns;
    if (ns > W.max_lat)
        W.max_lat = ns;
}

static void on_response(int i, int status, const char *loc, size_t loc_len, const char *body,
                        size_t body_len)
{
    struct conn *cn = &W.conns[i];
    struct chain *c = cn->chain;
    int64_t t = now_ns();
    enum step s = c->plan[c->step];
    int want = (cn->kind == KIND_DECISION) ? 200 : 201;
    record_latency(cn->kind, t - cn->due_ns);
    if (status != want) {
        char what[32];
        snprintf(what, sizeof(what), "expected %d", want);
        record_error(cn, status, what, body, body_len);
    } else {
        W.acked[cn->kind]++;
        if (s == STEP_B_ACCEPT)
            W.accepts++;
        else if (s == STEP_B_REJECT || s == STEP_S_REJECT)
            W.rejects++;
        if (s == STEP_CREATE) {
            const char *prefix = "/api/offers/";
            size_t pl = strlen(prefix);
            if (loc && loc_len > pl && loc_len - pl < ID_SIZE && memcmp(loc, prefix, pl) == 0) {
                memcpy(c->offer_id, loc + pl, loc_len - pl);
                c->offer_id[loc_len - pl] = '\0';
            } else {
                record_error(cn, status, "201 without a Location", body, body_len);
                W.acked[cn->kind]--;
                goto done;
            }
        }
        c->step++;
        if (c->plan[c->step] != STEP_DONE) {
            c->ready_ns = t + W.think_ns;
            ready_push(c);
        }
    }
done:
    cn->busy = false;
    cn->chain = NULL;
    W.free_stack[W.nfree++] = i;
}

static void read_ready(int i)
{
    struct conn *cn = &W.conns[i];
    for (;;) {
        if (cn->resp_cap - cn->resp_len < 4096) {
            if (cn->resp_cap >= RESP_MAX) {
                conn_fail(i, "response too large");
                return;
            }
            cn->resp_cap = cn->resp_cap ? cn->resp_cap * 2 : 16384;
            cn->resp = realloc(cn->resp, cn->resp_cap);
        }
        ssize_t n = recv(cn->fd, cn->resp + cn->resp_len, cn->resp_cap - cn->resp_len, 0);
        if (n > 0) {
            cn->resp_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_fail(i, n == 0 ? "connection closed" : "recv failed");
        return;
    }
    if (!cn->busy) {
        conn_fail(i, "data on an idle connection");
        return;
    }
    int status = 0;
    bool close_after = false;
    const char *loc;
    size_t loc_len, body_off = 0;
    long full = response_complete(cn->resp, cn->resp_len, &status, &close_after, &loc, &loc_len,
                                  &body_off);
    if (full == 0)
        return;
    if (full < 0) {
        conn_fail(i, "malformed response");
        return;
    }
    on_response(i, status, loc, loc_len, cn->resp + body_off, (size_t)full - body_off);
    cn->resp_len = 0;
    if (close_after) /* not an error: the write was answered; a new connection replaces it */
        conn_fail(i, "closed by server");
}

/* ---- the clock ---- */

static void arm_timer(int64_t at_ns)
{
    struct itimerspec its = {0};
    its.it_value.tv_sec = at_ns / 1000000000;
    its.it_value.tv_nsec = at_ns % 1000000000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(W.tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[k] / 1e6;
}

static void report(double wall_s)
{
    int64_t *all = malloc((W.nlat[0] + W.nlat[1] + W.nlat[2] + 1) * sizeof(int64_t));
    size_t nall = 0;
    for (int k = 0; k < KIND_COUNT; k++) {
        memcpy(all + nall, W.lat[k], W.nlat[k] * sizeof(int64_t));
        nall += W.nlat[k];
        qsort(W.lat[k], W.nlat[k], sizeof(int64_t), cmp_i64);
    }
    qsort(all, nall, sizeof(int64_t), cmp_i64);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    uint64_t acked = W.acked[0] + W.acked[1] + W.acked[2];
    printf("OPENLOOP_WRITER {\"rate\":%.1f,\"due\":%llu,\"sent\":%llu,\"acked\":%llu,"
           "\"errors\":%llu,\"unanswered\":%llu,\"no_chain\":%llu,\"reconnects\":%llu,"
           "\"wall_s\":%.3f,\"cpu_s\":%.3f,",
           W.rate, (unsigned long long)W.due_count, (unsigned long long)W.sent,
           (unsigned long long)acked, (unsigned long long)W.errors,
           (unsigned long long)W.unanswered, (unsigned long long)W.no_chain,
           (unsigned long long)W.reconnects, wall_s, cpu);
    printf("\"sent_by_kind\":{\"create\":%llu,\"counter\":%llu,\"decision\":%llu},",
           (unsigned long long)W.sent_kind[0], (unsigned long long)W.sent_kind[1],
           (unsigned long long)W.sent_kind[2]);
    printf("\"acked_by_kind\":{\"create\":%llu,\"counter\":%llu,\"decision\":%llu,"
           "\"accept\":%llu,\"reject\":%llu},",
           (unsigned long long)W.acked[0], (unsigned long long)W.acked[1],
           (unsigned long long)W.acked[2], (unsigned long long)W.accepts,
           (unsigned long long)W.rejects);
    printf("\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f},",
           pct_ms(all, nall, 50), pct_ms(all, nall, 90), pct_ms(all, nall, 99),
           pct_ms(all, nall, 99.9), (double)W.max_lat / 1e6);
    qsort(W.lag, W.nlag, sizeof(int64_t), cmp_i64);
    printf("\"send_lag_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"peak_busy_conns\":%d,"
           "\"conns\":%d,",
           pct_ms(W.lag, W.nlag, 50), pct_ms(W.lag, W.nlag, 99),
           W.nlag ? (double)W.lag[W.nlag - 1] / 1e6 : 0.0, W.peak_busy, W.nconns);
    printf("\"latency_by_kind_ms\":{");
    for (int k = 0; k < KIND_COUNT; k++)
        printf("%s\"%s\":{\"n\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", k ? "," : "",
               KIND_NAME[k], W.nlat[k], pct_ms(W.lat[k], W.nlat[k], 50),
               pct_ms(W.lat[k], W.nlat[k], 99),
               W.nlat[k] ? (double)W.lat[k][W.nlat[k] - 1] / 1e6 : 0.0);
    printf("},\"first_errors\":[%.*s]}\n", (int)W.error_json_len, W.error_json);
    fflush(stdout);
    free(all);
}

int main(int argc, char **argv)
{
    if (argc < 7)
        die("usage: %s PORT CHAINS_TSV RATE SECONDS CONNS THINK_MS [DRAIN_S]", argv[0]);
    W.port = atoi(argv[1]);
    W.rate = atof(argv[3]);
    double seconds = atof(argv[4]);
    W.nconns = atoi(argv[5]);
    W.think_ns = (int64_t)(atof(argv[6]) * 1e6);
    double drain_s = argc > 7 ? atof(argv[7]) : 10.0;
    if (W.port <= 0 || W.rate <= 0 || seconds <= 0 || W.nconns < 1 || W.nconns > MAX_CONNS)
        die("bad arguments (CONNS 1..%d)", MAX_CONNS);
    load_chains(argv[2]);

    uint64_t total = (uint64_t)(W.rate * seconds + 0.5);
    W.cap_lat = total + 1;
    for (int k = 0; k < KIND_COUNT; k++)
        W.lat[k] = malloc(W.cap_lat * sizeof(int64_t));
    W.lag = malloc(W.cap_lat * sizeof(int64_t));
    W.epfd = epoll_create1(EPOLL_CLOEXEC);
    W.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (W.epfd < 0 || W.tfd < 0)
        die("epoll/timerfd: %s", strerror(errno));
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(W.epfd, EPOLL_CTL_ADD, W.tfd, &tev);
    for (int i = 0; i < W.nconns; i++)
        conn_open(i);

    printf("READY\n");
    fflush(stdout);
    W.t0 = now_ns();
    W.end_ns = W.t0 + (int64_t)(seconds * 1e9);
    int64_t drain_end = W.end_ns + (int64_t)(drain_s * 1e9);
    struct epoll_event evs[64];
    for (;;) {
        int64_t now = now_ns();
        /* every write due by now joins the queue (its due time is fixed by its index) */
        while (W.due_count < total &&
               W.t0 + (int64_t)((double)W.due_count * 1e9 / W.rate) <= now)
            W.due_count++;
        dispatch(now);
        bool all_due = W.due_count == total;
        bool idle = W.nfree == W.nconns && W.next_to_send == W.due_count;
        if (all_due && idle)
            break;
        if (now >= drain_end)
            break;
        /* sleep until the next write is due or a socket wakes */
        int64_t wake = drain_end;
        if (!all_due)
            wake = W.t0 + (int64_t)((double)W.due_count * 1e9 / W.rate);
        arm_timer(wake);
        int n = epoll_wait(W.epfd, evs, 64, -1);
        for (int k = 0; k < n; k++) {
            uint32_t i = evs[k].data.u32;
            if (i == UINT32_MAX) {
                uint64_t exp;
                if (read(W.tfd, &exp, sizeof(exp)) < 0) { /* spurious: nothing to do */ }
                continue;
            }
            if (evs[k].events & EPOLLOUT && W.conns[i].busy)
                send_more((int)i);
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                read_ready((int)i);
        }
    }
    for (int i = 0; i < W.nconns; i++)
        if (W.conns[i].busy)
            W.unanswered++;
    W.unanswered += W.due_count - W.next_to_send; /* due but never sent */
    W.errors += W.unanswered;
    report((double)(now_ns() - W.t0) / 1e9);
    return W.errors ? 1 : 0;
}
