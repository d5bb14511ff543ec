/* holdpoll.c - hold N HTTP requests open on one epoll loop and time when a write reaches each.
 *
 * The load client of the real-time benchmark (bench/realtime/run.sh). It opens N TCP connections
 * to 127.0.0.1:PORT (non-blocking connects, at most -c in flight so no listen queue overflows),
 * sends the same HTTP/1.1 request on each (a long-poll GET or an SSE GET, read verbatim from a
 * file), and counts occurrences of a marker in what comes back on each connection: "HTTP/1." for
 * a long-poll's response, "\ndata:" for an SSE event. The first -s markers are skipped (an SSE
 * stream's initial event); every later one is a "delivery" stamped with CLOCK_MONOTONIC.
 *
 * Once every connection is connected, has sent its request and has seen its -s skipped markers
 * (or failed; before then a failed connection is retried up to 3 times), it prints one line:
 *   READY connected=N failed=F early=E retried=R setup_ms=T
 * Then it reads commands on stdin, one per line:
 *   FIRE FILE   stamp t0 and send FILE's bytes (a complete HTTP request: the write) on the trigger
 *               connection, opened to the same port before the N; the first byte of its answer is
 *               the write's acknowledgement (ack_ms, ack_status in the result).
 *   GO T0_NS    the harness made the write itself (e.g. an UPDATE through sqlite3) at
 *               CLOCK_MONOTONIC T0_NS; the same clock as ours, since both run on one machine.
 *   REARM FILE  (long-poll) send FILE's bytes as the next request on every connection whose last
 *               round delivered a good response, as a browser re-polls: on the same connection
 *               (HTTP/1.1 keep-alive), or on a new one (paced like the first) where the server
 *               closed it after answering. Prints "REARMED failed=F" once all are written; the
 *               next FIRE/GO measures the re-polls, and the server's memory can be sampled in
 *               between.
 *   QUIT        close everything and exit 0.
 * After FIRE or GO, round k waits until every live connection has its k-th delivery or -t ms pass,
 * then prints one JSON line: n, received, missing, failed, p50/p90/p99/max/min latency in ms
 * (delivery time - t0), ack time and status. Long-poll responses carry their status: deliveries
 * whose status is not -x (default 200) count as failed, not received.
 *
 *   holdpoll -p PORT -n N -r REQUEST_FILE [-m MARKER] [-s SKIP] [-x STATUS] [-c INFLIGHT]
 *            [-R CONNECTS_PER_S] [-t ROUND_TIMEOUT_MS] [-T SETUP_TIMEOUT_MS] [-a ADDR] [-q]
 *            [-w SUBSCRIBE_FILE]
 *
 * -w: WebSocket mode (RFC 6455). REQUEST_FILE is the upgrade request; every "@WSKEY@" in it is
 * replaced, per connection, by a fresh random 16-byte base64 Sec-WebSocket-Key. The answer must
 * be a 101 whose Sec-WebSocket-Accept is SHA-1(key + GUID) in base64; then SUBSCRIBE_FILE's bytes
 * go out as one masked text frame (none if the file is empty: nchan's channel is in the URL).
 * Server frames are parsed (7/16/64-bit lengths, any split across reads, several per read): a
 * ping is answered with a masked pong carrying its payload, other control frames are ignored
 * except close; each complete text (or binary) message is a delivery (the marker is not used),
 * except offerd's {"type":"reauth"} (ignored) and
 * {"type":"error"...} (counted as an error, the connection then counts as failed). A close
 * frame, a bad handshake or an error message is counted (ws_closes, ws_errors, ws_bad_handshake
 * in the READY line and in every result) so the harness can refuse the cell. A connection is
 * "connected" once its subscription is written: the harness asks the server how many are
 * subscribed.
 *
 * -R paces new connections (a listen queue that overflows drops SYNs, and the kernel's 1 s, 3 s
 * retransmits would then be measured instead of the server).
 *
 * Build: cc -O2 -o holdpoll holdpoll.c   (C11, Linux, no dependencies)
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MAX_ROUNDS 8
#define MARKER_MAX 32
#define STDIN_TAG UINT64_MAX
#define TRIGGER_TAG (UINT64_MAX - 1)

enum conn_state { C_IDLE, C_CONNECTING, C_SENDING, C_WAITING, C_FAILED, C_CLOSED };

/* -w: one WebSocket's handshake and frame parser. */
struct ws_conn {
    char *req;                  /* this connection's upgrade request (its own key) */
    size_t req_len;
    char accept[29];            /* the Sec-WebSocket-Accept the server must answer */
    char head[1024];            /* the handshake's answer, until its blank line */
    size_t head_len;
    bool open;                  /* 101 checked and the subscription written */
    uint8_t hdr[14];            /* the frame header being read */
    unsigned hdr_len;
    bool in_payload;
    uint64_t left;              /* payload bytes of the current frame still to come */
    uint8_t opcode;
    bool fin;
    uint8_t ctrl[125];          /* a control frame's payload (a ping's, echoed in the pong) */
    unsigned ctrl_len;
    char prefix[24];            /* a message's first bytes, to tell offers from errors */
    unsigned prefix_len;
};

struct conn {
    int fd;
    enum conn_state state;
    size_t sent;
    unsigned matches;
    unsigned carry_len;
    char carry[MARKER_MAX];
    char status_buf[16];        /* the first bytes after a marker, to read a long-poll's status */
    unsigned status_len;
    bool status_pending;
    bool rearming;              /* its REARM request is not written yet */
    unsigned retries;           /* reconnects before READY */
    int64_t t_ns[MAX_ROUNDS];   /* delivery k (1-based) at t_ns[k-1]; 0 = not yet */
    int status[MAX_ROUNDS];
    struct ws_conn *ws;         /* -w only */
};

static struct {
    struct sockaddr_in addr;
    const char *request;
    size_t request_len;
    const char *marker;
    size_t marker_len;
    unsigned skip;
    int expect_status;
    bool check_status;
    unsigned inflight_max;
    int round_timeout_ms;
    int setup_timeout_ms;
    double connect_rate;        /* new connections per second; 0: as fast as -c allows */
    bool quiet;
    const char *ws_subscribe;   /* -w: the subscription message; NULL: plain HTTP */
    size_t ws_subscribe_len;
} opt;

static struct conn *conns;
static size_t n_conns;
static int ep;
static size_t rearm_pending;  /* connections still writing a REARM request */
static bool rearm_reported = true;
static size_t *connect_queue; /* connections to (re)connect, in order */
static size_t cq_len, cq_pos;

static void rearm_done(struct conn *c)
{
    if (c->rearming) {
        c->rearming = false;
        if (rearm_pending)
            rearm_pending--;
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "holdpoll: %s: %s\n", what, strerror(errno));
    exit(2);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        *len = n;
    return buf;
}

/* Raises RLIMIT_NOFILE to hold `need` descriptors; returns how many connections fit. */
static size_t raise_nofile(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit");
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_max < want) {
        struct rlimit hard = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
            return need;
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("setrlimit");
    return rl.rlim_cur >= want ? need : (size_t)(rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 0);
}

static int open_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&opt.addr, sizeof(opt.addr)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool setup_phase = true; /* until READY: a connection that fails is retried */
static size_t failures_logged;

/* A connection failed (why: errno text or a reason). Before READY it is queued again, up to 3
 * times, as a real client would retry; after, it counts as failed. */
static void fail_why(struct conn *c, const char *why)
{
    rearm_done(c);
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (failures_logged < 10) {
        failures_logged++;
        fprintf(stderr, "holdpoll: connection %zu: %s%s\n", (size_t)(c - conns), why,
                setup_phase && c->retries < 3 ? " (retrying)" : "");
    }
    if (setup_phase && c->retries < 3 && c->matches == 0) {
        c->retries++;
        c->sent = 0;
        c->carry_len = 0;
        c->status_pending = false;
        c->state = C_IDLE;
        connect_queue[cq_len++] = (size_t)(c - conns);
        return;
    }
    c->state = C_FAILED;
}

static void fail(struct conn *c)
{
    fail_why(c, strerror(errno));
}

static void ws_prepare(struct conn *c);

static bool start_connect(size_t i)
{
    struct conn *c = &conns[i];
    if (c->ws)
        ws_prepare(c);
    c->fd = open_socket();
    if (c->fd < 0) {
        c->state = C_FAILED;
        return false;
    }
    c->state = C_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
    return true;
}

/* Writes what is left of the request; false on a hard error. */
static bool send_more(struct conn *c)
{
    const char *req = c->ws ? c->ws->req : opt.request;
    size_t req_len = c->ws ? c->ws->req_len : opt.request_len;
    while (c->sent < req_len) {
        ssize_t w = send(c->fd, req + c->sent, req_len - c->sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            return false;
        }
        c->sent += (size_t)w;
    }
    c->state = C_WAITING;
    rearm_done(c);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)(c - conns)};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return true;
}

static void note_delivery(struct conn *c, int64_t t, int status)
{
    c->matches++;
    if (c->matches <= opt.skip)
        return;
    unsigned k = c->matches - opt.skip;
    if (k <= MAX_ROUNDS) {
        c->t_ns[k - 1] = t;
        c->status[k - 1] = status;
    }
}

/* Reads a long-poll's status code from the bytes after "HTTP/1." ("1 200 ..."), possibly split
 * across reads; returns the offset after what it used. */
static size_t take_status(struct conn *c, const char *data, size_t len, size_t i, int64_t t)
{
    while (i < len && c->status_pending) {
        char ch = data[i++];
        if (c->status_len < sizeof(c->status_buf) - 1)
            c->status_buf[c->status_len++] = ch;
        if (ch == '\n' || c->status_len >= 6) {
            c->status_buf[c->status_len] = '\0';
            c->status_pending = false;
            note_delivery(c, t, atoi(c->status_buf + 2));
        }
    }
    return i;
}

/* A marker ended just before data[pos]; returns where scanning goes on. */
static size_t matched(struct conn *c, const char *data, size_t len, size_t pos, int64_t t)
{
    if (!opt.check_status) {
        note_delivery(c, t, 0);
        return pos;
    }
    c->status_pending = true;
    c->status_len = 0;
    return take_status(c, data, len, pos, t);
}

/* Counts markers in received bytes (memmem; the marker's last bytes are carried across reads, so
 * a marker split between two reads is found too). */
static void scan(struct conn *c, const char *data, size_t len, int64_t t)
{
    size_t m = opt.marker_len, i = 0;
    if (c->status_pending) {
        i = take_status(c, data, len, 0, t);
        c->carry_len = 0;
    }
    if (c->carry_len && i < len) {
        char tmp[2 * MARKER_MAX];
        size_t take = len - i < m - 1 ? len - i : m - 1;
        memcpy(tmp, c->carry, c->carry_len);
        memcpy(tmp + c->carry_len, data + i, take);
        for (size_t s = 0; s < c->carry_len; s++) {
            if (s + m <= c->carry_len + take && memcmp(tmp + s, opt.marker, m) == 0) {
                i = matched(c, data, len, i + (s + m - c->carry_len), t);
                break;
            }
        }
    }
    size_t scan_from = i;
    while (i < len) {
        const char *p = memmem(data + i, len - i, opt.marker, m);
        if (!p)
            break;
        i = matched(c, data, len, (size_t)(p - data) + m, t);
        scan_from = i;
    }
    /* Carry the unscanned tail's last m-1 bytes (never bytes of a marker already counted). */
    size_t tail = len - scan_from;
    if (c->status_pending || m < 2) {
        c->carry_len = 0;
    } else if (tail >= m - 1) {
        memcpy(c->carry, data + len - (m - 1), m - 1);
        c->carry_len = (unsigned)(m - 1);
    } else {
        size_t keep = c->carry_len + tail > m - 1 ? m - 1 - tail : c->carry_len;
        if (scan_from > 0)
            keep = 0; /* a marker ended in this read: what came before it is used up */
        memmove(c->carry, c->carry + c->carry_len - keep, keep);
        memcpy(c->carry + keep, data + scan_from, tail);
        c->carry_len = (unsigned)(keep + tail);
    }
}

/* ---- WebSocket mode (-w) ---- */


static size_t ws_closes, ws_errors, ws_bad_handshake;
static uint64_t ws_rng;

static uint32_t ws_random32(void)
{
    ws_rng ^= ws_rng << 13; /* xorshift64: masks need not be secret, only present */
    ws_rng ^= ws_rng >> 7;
    ws_rng ^= ws_rng << 17;
    return (uint32_t)(ws_rng >> 16);
}

/* A fresh key for this connection: the request with "@WSKEY@" replaced, and the accept the
 * server must answer (RFC 6455 4.2.2). Called before every (re)connect. */
static void ws_prepare(struct conn *c)
{
    struct ws_conn *w = c->ws;
    free(w->req);
    memset(w, 0, sizeof(*w));
    uint8_t raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        die("getrandom");
    char key[25];
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw)); /* OpenSSL, as offerd: no own copy */
    char cat[64];
    snprintf(cat, sizeof(cat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!EVP_Digest(cat, strlen(cat), digest, &digest_len, EVP_sha1(), NULL) || digest_len != 20)
        die("EVP_Digest(SHA-1)");
    EVP_EncodeBlock((unsigned char *)w->accept, digest, (int)digest_len);
    static const char tag[] = "@WSKEY@";
    w->req = malloc(opt.request_len + 64);
    if (!w->req)
        die("malloc");
    const char *p = opt.request, *end = opt.request + opt.request_len;
    while (p < end) {
        const char *hit = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1);
        size_t plain = hit ? (size_t)(hit - p) : (size_t)(end - p);
        memcpy(w->req + w->req_len, p, plain);
        w->req_len += plain;
        if (!hit)
            break;
        memcpy(w->req + w->req_len, key, 24);
        w->req_len += 24;
        p = hit + sizeof(tag) - 1;
    }
}

/* Sends one masked frame (client frames must be masked, RFC 6455 5.3); payloads here are small
 * and the socket idle, so it goes out whole or the connection is broken. */
static bool ws_send(struct conn *c, uint8_t opcode, const void *payload, size_t len)
{
    uint8_t *f = malloc(len + 14);
    if (!f)
        die("malloc");
    size_t h = 0;
    f[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        f[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        f[h++] = 0x80 | 126;
        f[h++] = (uint8_t)(len >> 8);
        f[h++] = (uint8_t)len;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint32_t m = ws_random32();
    uint8_t mask[4] = {(uint8_t)(m >> 24), (uint8_t)(m >> 16), (uint8_t)(m >> 8), (uint8_t)m};
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        f[h + i] = ((const uint8_t *)payload)[i] ^ mask[i % 4];
    size_t off = 0, total = h + len;
    while (off < total) {
        ssize_t w = send(c->fd, f + off, total - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(f);
    return off == total;
}

/* A connection that must not be retried (a close frame, an error message, a bad handshake). */
static void ws_give_up(struct conn *c, const char *why)
{
    c->retries = 3;
    fail_why(c, why);
}

/* The handshake's answer, up to its blank line: 101 and the right accept. Returns the offset of
 * the first frame byte, or 0 (still reading) or SIZE_MAX (refused: the connection is gone). */
static size_t ws_handshake(struct conn *c, const char *data, size_t len)
{
    struct ws_conn *w = c->ws;
    size_t before = w->head_len;
    size_t take = len < sizeof(w->head) - 1 - before ? len : sizeof(w->head) - 1 - before;
    memcpy(w->head + before, data, take);
    w->head_len += take;
    w->head[w->head_len] = '\0';
    char *end = strstr(w->head, "\r\n\r\n");
    if (!end) {
        if (w->head_len < sizeof(w->head) - 1)
            return 0;
        ws_bad_handshake++;
        ws_give_up(c, "handshake answer too long");
        return SIZE_MAX;
    }
    size_t head_end = (size_t)(end + 4 - w->head);
    *end = '\0';
    const char *acc = strcasestr(w->head, "\r\nSec-WebSocket-Accept:");
    if (acc) {
        acc += strlen("\r\nSec-WebSocket-Accept:");
        acc += strspn(acc, " \t");
    }
    if (strncmp(w->head, "HTTP/1.1 101", 12) != 0 || !acc || strncmp(acc, w->accept, 28) != 0 ||
        (acc[28] != '\r' && acc[28] != '\0' && acc[28] != ' ')) {
        ws_bad_handshake++;
        char why[96];
        snprintf(why, sizeof(why), "bad handshake answer: %.60s", w->head);
        ws_give_up(c, why);
        return SIZE_MAX;
    }
    if (opt.ws_subscribe_len && !ws_send(c, 0x1, opt.ws_subscribe, opt.ws_subscribe_len)) {
        fail_why(c, "cannot write the subscription");
        return SIZE_MAX;
    }
    w->open = true;
    return head_end - before; /* bytes of this read that were the handshake */
}

/* A whole frame has arrived; false if the connection is gone. */
static bool ws_frame_done(struct conn *c, int64_t t)
{
    struct ws_conn *w = c->ws;
    if (w->opcode == 0x9)
        return ws_send(c, 0xA, w->ctrl, w->ctrl_len) ||
               (fail_why(c, "cannot write a pong"), false);
    if (w->opcode == 0x8) {
        ws_closes++;
        char why[64];
        int code = w->ctrl_len >= 2 ? w->ctrl[0] << 8 | w->ctrl[1] : 0;
        snprintf(why, sizeof(why), "close frame %d from the server", code);
        ws_give_up(c, why);
        return false;
    }
    if (w->opcode & 0x8 || !w->fin)
        return true; /* a pong or another control frame; or a message's first fragments */
    if (w->prefix_len >= 16 && !strncmp(w->prefix, "{\"type\":\"reauth\"", 16))
        return true;
    if (w->prefix_len >= 15 && !strncmp(w->prefix, "{\"type\":\"error\"", 15)) {
        ws_errors++;
        ws_give_up(c, "error message from the server");
        return false;
    }
    w->prefix_len = 0;
    note_delivery(c, t, 0);
    return true;
}

/* Parses server frames from received bytes (a frame may be split across reads, a read may hold
 * several). Server frames are not masked. */
static void ws_feed(struct conn *c, const char *data, size_t len, int64_t t)
{
    struct ws_conn *w = c->ws;
    size_t i = 0;
    if (!w->open) {
        i = ws_handshake(c, data, len);
        if (i == SIZE_MAX || !w->open)
            return;
    }
    while (i < len) {
        if (!w->in_payload) {
            w->hdr[w->hdr_len++] = (uint8_t)data[i++];
            if (w->hdr_len < 2)
                continue;
            unsigned len7 = w->hdr[1] & 0x7F;
            unsigned need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
            if (w->hdr[1] & 0x80) {
                ws_give_up(c, "masked frame from the server");
                return;
            }
            if (w->hdr_len < need)
                continue;
            uint64_t plen = len7;
            if (len7 >= 126) {
                plen = 0;
                for (unsigned k = 2; k < need; k++)
                    plen = plen << 8 | w->hdr[k];
            }
            uint8_t op = w->hdr[0] & 0x0F;
            w->fin = w->hdr[0] & 0x80;
            if (op & 0x8 && plen > sizeof(w->ctrl)) {
                ws_give_up(c, "control frame over 125 bytes");
                return;
            }
            if (!(op & 0x8) && op != 0) /* a new message; 0 continues the last one */
                w->prefix_len = 0;
            w->opcode = op ? op : w->opcode;
            if (op & 0x8)
                w->ctrl_len = 0;
            else if (op == 0 && w->opcode & 0x8)
                w->opcode = 0x1;
            w->left = plen;
            w->hdr_len = 0;
            w->in_payload = true;
        } else {
            size_t take = (uint64_t)(len - i) < w->left ? len - i : (size_t)w->left;
            if (w->opcode & 0x8) {
                memcpy(w->ctrl + w->ctrl_len, data + i, take);
                w->ctrl_len += (unsigned)take;
            } else if (w->prefix_len < sizeof(w->prefix)) {
                size_t room = sizeof(w->prefix) - w->prefix_len;
                size_t n = take < room ? take : room;
                memcpy(w->prefix + w->prefix_len, data + i, n);
                w->prefix_len += (unsigned)n;
            }
            i += take;
            w->left -= take;
        }
        if (w->in_payload && w->left == 0) {
            w->in_payload = false;
            if (!ws_frame_done(c, t))
                return;
        }
    }
}

static void on_readable(struct conn *c)
{
    char buf[65536];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r > 0) {
            if (c->ws) {
                ws_feed(c, buf, (size_t)r, now_ns());
                if (c->fd < 0)
                    return; /* given up, or queued again */
            } else {
                scan(c, buf, (size_t)r, now_ns());
            }
            continue;
        }
        if (r == 0) {
            if (setup_phase && c->matches <= opt.skip && c->retries < 3) {
                fail_why(c, "closed by the server before its answer");
                return;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            c->state = C_CLOSED;
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        if (errno == EINTR)
            continue;
        fail(c);
        return;
    }
}

/* ---- trigger connection and stdin commands ---- */

static int trig_fd = -1;
static int64_t trig_t0, trig_ack;
static int trig_status;
static char trig_head[16];
static size_t trig_head_len;

static void trigger_readable(void)
{
    char buf[16384];
    for (;;) {
        ssize_t r = recv(trig_fd, buf, sizeof(buf), 0);
        if (r > 0) {
            if (!trig_ack)
                trig_ack = now_ns();
            for (ssize_t i = 0; i < r && trig_head_len < sizeof(trig_head) - 1; i++)
                trig_head[trig_head_len++] = buf[i];
            trig_head[trig_head_len] = '\0';
            if (!trig_status && trig_head_len >= 12 && strncmp(trig_head, "HTTP/1.", 7) == 0)
                trig_status = atoi(trig_head + 9);
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
            epoll_ctl(ep, EPOLL_CTL_DEL, trig_fd, NULL);
            close(trig_fd);
            trig_fd = -1;
        }
        if (r < 0 && errno == EINTR)
            continue;
        return;
    }
}

static bool fire(const char *path)
{
    size_t len = 0;
    char *req = read_file(path, &len);
    if (!req) {
        fprintf(stderr, "holdpoll: cannot read %s\n", path);
        return false;
    }
    if (trig_fd < 0) {
        fprintf(stderr, "holdpoll: the trigger connection is closed\n");
        free(req);
        return false;
    }
    /* The socket is connected and idle: a blocking-style send of a small request completes. */
    trig_ack = 0;
    trig_status = 0;
    trig_head_len = 0;
    trig_t0 = now_ns();
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(trig_fd, req + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w < 0) {
            free(req);
            return false;
        }
        off += (size_t)w;
    }
    free(req);
    return true;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *v, size_t n, double p)
{
    if (!n)
        return -1;
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e6;
}

/* Connections still able to deliver round k. */
static bool round_complete(unsigned k, size_t *pending)
{
    size_t p = 0;
    for (size_t i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        if (c->state == C_FAILED || c->t_ns[k - 1])
            continue;
        if (c->state == C_CLOSED)
            continue;
        p++;
    }
    *pending = p;
    return p == 0;
}

static void report(unsigned k, int64_t t0, const char *kind)
{
    int64_t *lat = malloc(n_conns * sizeof(*lat));
    if (!lat)
        die("malloc");
    size_t got = 0, failed = 0, bad_status = 0, early = 0, missing = 0;
    for (size_t i = 0; i < n_conns; i++) {
        struct conn *c = &conns[i];
        if (c->t_ns[k - 1]) {
            if (opt.check_status && c->status[k - 1] != opt.expect_status) {
                bad_status++;
                continue;
            }
            int64_t d = c->t_ns[k - 1] - t0;
            if (d < 0) {
                early++;
                d = 0;
            }
            lat[got++] = d;
        } else if (c->state == C_FAILED || c->state == C_CLOSED) {
            failed++;
        } else {
            missing++;
        }
    }
    qsort(lat, got, sizeof(*lat), cmp_i64);
    double ack_ms = trig_ack && !strcmp(kind, "fire") ? (double)(trig_ack - t0) / 1e6 : -1;
    printf("{\"round\":%u,\"kind\":\"%s\",\"n\":%zu,\"received\":%zu,\"missing\":%zu,"
           "\"failed\":%zu,\"bad_status\":%zu,\"early\":%zu,"
           "\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"ack_ms\":%.3f,\"ack_status\":%d,"
           "\"ws_closes\":%zu,\"ws_errors\":%zu,\"ws_bad_handshake\":%zu}\n",
           k, kind, n_conns, got, missing, failed + bad_status, bad_status, early,
           got ? (double)lat[0] / 1e6 : -1, pct_ms(lat, got, 0.50), pct_ms(lat, got, 0.90),
           pct_ms(lat, got, 0.99), got ? (double)lat[got - 1] / 1e6 : -1, ack_ms,
           !strcmp(kind, "fire") ? trig_status : 0, ws_closes, ws_errors, ws_bad_handshake);
    fflush(stdout);
    free(lat);
}

static void usage(void)
{
    fprintf(stderr, "usage: holdpoll -p PORT -n N -r REQUEST_FILE [-m MARKER] [-s SKIP] "
                    "[-x STATUS] [-c INFLIGHT] [-R CONNECTS_PER_S] [-t ROUND_TIMEOUT_MS] "
                    "[-T SETUP_TIMEOUT_MS] "
                    "[-a ADDR] [-q] [-w SUBSCRIBE_FILE]\n");
    exit(2);
}

/* Unescapes \n and \r in a marker given on the command line. */
static char *unescape(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        die("malloc");
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] == 'n') {
            *o++ = '\n';
            s++;
        } else if (s[0] == '\\' && s[1] == 'r') {
            *o++ = '\r';
            s++;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

int main(int argc, char **argv)
{
    int port = 0;
    size_t want = 0;
    const char *req_path = NULL, *addr = "127.0.0.1";
    opt.marker = "HTTP/1.";
    opt.expect_status = 200;
    opt.inflight_max = 256;
    opt.round_timeout_ms = 15000;
    opt.setup_timeout_ms = 120000;
    int ch;
    while ((ch = getopt(argc, argv, "p:n:r:m:s:x:c:R:t:T:a:qw:")) != -1) {
        switch (ch) {
        case 'p': port = atoi(optarg); break;
        case 'n': want = (size_t)strtoull(optarg, NULL, 10); break;
        case 'r': req_path = optarg; break;
        case 'm': opt.marker = unescape(optarg); break;
        case 's': opt.skip = (unsigned)atoi(optarg); break;
        case 'x': opt.expect_status = atoi(optarg); break;
        case 'c': opt.inflight_max = (unsigned)atoi(optarg); break;
        case 'R': opt.connect_rate = atof(optarg); break;
        case 't': opt.round_timeout_ms = atoi(optarg); break;
        case 'T': opt.setup_timeout_ms = atoi(optarg); break;
        case 'a': addr = optarg; break;
        case 'q': opt.quiet = true; break;
        case 'w':
            opt.ws_subscribe = read_file(optarg, &opt.ws_subscribe_len);
            if (!opt.ws_subscribe)
                die(optarg);
            break;
        default: usage();
        }
    }
    if (port <= 0 || !want || !req_path)
        usage();
    opt.marker_len = strlen(opt.marker);
    if (!opt.marker_len || opt.marker_len >= MARKER_MAX) {
        fprintf(stderr, "holdpoll: the marker must be 1-%d bytes\n", MARKER_MAX - 1);
        return 2;
    }
    opt.check_status = strncmp(opt.marker, "HTTP/1.", 7) == 0 && opt.marker_len == 7;
    char *req = read_file(req_path, &opt.request_len);
    if (!req)
        die(req_path);
    opt.request = req;
    opt.addr.sin_family = AF_INET;
    opt.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &opt.addr.sin_addr) != 1) {
        fprintf(stderr, "holdpoll: bad address %s\n", addr);
        return 2;
    }

    n_conns = raise_nofile(want + 8);
    if (n_conns > want)
        n_conns = want;
    if (n_conns < want)
        fprintf(stderr, "holdpoll: the open-file limit allows only %zu connections of %zu\n",
                n_conns, want);
    conns = calloc(n_conns, sizeof(*conns));
    if (!conns)
        die("calloc");
    if (getrandom(&ws_rng, sizeof(ws_rng), 0) != (ssize_t)sizeof(ws_rng) || !ws_rng)
        ws_rng = (uint64_t)now_ns() | 1;
    for (size_t i = 0; i < n_conns; i++) {
        conns[i].fd = -1;
        if (opt.ws_subscribe && !(conns[i].ws = calloc(1, sizeof(struct ws_conn))))
            die("calloc");
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = STDIN_TAG};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) != 0)
        die("epoll_ctl stdin");

    /* The trigger connection first, so it is established before the load. */
    trig_fd = open_socket();
    if (trig_fd < 0)
        die("trigger connect");
    struct epoll_event tev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = TRIGGER_TAG};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, trig_fd, &tev) != 0)
        die("epoll_ctl trigger");

    int64_t t_start = now_ns();
    size_t inflight = 0;
    connect_queue = malloc(4 * n_conns * sizeof(*connect_queue)); /* room for 3 retries each */
    if (!connect_queue)
        die("malloc");
    for (size_t i = 0; i < n_conns; i++)
        connect_queue[i] = i;
    cq_len = n_conns;
    int64_t t_pace = t_start;   /* pacing clock: the start, or the last REARM */
    size_t cq_paced_from = 0;
    bool ready = false;
    unsigned round = 0;
    int64_t round_t0 = 0, round_deadline = 0;
    const char *round_kind = "";
    char line[4096];
    size_t line_len = 0;
    struct epoll_event evs[1024];
    for (;;) {
        size_t allowed = cq_len;
        if (opt.connect_rate > 0) {
            double due = cq_paced_from + opt.connect_rate * (double)(now_ns() - t_pace) / 1e9 + 1;
            allowed = due < (double)cq_len ? (size_t)due : cq_len;
        }
        while (cq_pos < allowed && inflight < opt.inflight_max) {
            struct conn *c = &conns[connect_queue[cq_pos]];
            if (start_connect(connect_queue[cq_pos]))
                inflight++;
            else
                rearm_done(c);
            cq_pos++;
        }
        int timeout = cq_pos < cq_len ? 1 : 50;
        int n = epoll_wait(ep, evs, 1024, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int e = 0; e < n; e++) {
            uint64_t tag = evs[e].data.u64;
            if (tag == STDIN_TAG) {
                ssize_t r = read(0, line + line_len, sizeof(line) - 1 - line_len);
                if (r <= 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
                    if (round == 0 || !round_deadline)
                        return 0; /* stdin closed while idle: the harness is gone */
                    continue;
                }
                line_len += (size_t)r;
                line[line_len] = '\0';
                char *nl;
                while ((nl = strchr(line, '\n'))) {
                    *nl = '\0';
                    if (!strncmp(line, "QUIT", 4)) {
                        return 0;
                    } else if (!strncmp(line, "FIRE ", 5) && round < MAX_ROUNDS) {
                        if (fire(line + 5)) {
                            round++;
                            round_t0 = trig_t0;
                            round_kind = "fire";
                            round_deadline = now_ns() + (int64_t)opt.round_timeout_ms * 1000000;
                        } else {
                            printf("{\"error\":\"fire failed\"}\n");
                            fflush(stdout);
                        }
                    } else if (!strncmp(line, "REARM ", 6) && round > 0) {
                        size_t len = 0;
                        char *next_req = read_file(line + 6, &len);
                        if (!next_req) {
                            printf("{\"error\":\"cannot read %s\"}\n", line + 6);
                            fflush(stdout);
                        } else {
                            opt.request = next_req; /* the old one leaks: a few hundred bytes */
                            opt.request_len = len;
                            rearm_pending = 0;
                            rearm_reported = false;
                            size_t rearm_failed = 0;
                            cq_len = cq_pos = cq_paced_from = 0;
                            t_pace = now_ns();
                            for (size_t i = 0; i < n_conns; i++) {
                                struct conn *c = &conns[i];
                                bool good = (c->state == C_WAITING || c->state == C_CLOSED) &&
                                            c->t_ns[round - 1] &&
                                            (!opt.check_status ||
                                             c->status[round - 1] == opt.expect_status);
                                if (!good) {
                                    rearm_failed += c->state == C_WAITING;
                                    continue;
                                }
                                c->sent = 0;
                                c->carry_len = 0;
                                c->status_pending = false;
                                c->rearming = true;
                                rearm_pending++;
                                if (c->state == C_CLOSED) {
                                    connect_queue[cq_len++] = i; /* the server closed it */
                                    continue;
                                }
                                c->state = C_SENDING;
                                if (!send_more(c)) {
                                    fail(c);
                                    rearm_failed++;
                                }
                            }
                            /* send_more counted down the ones written at once */
                            if (!rearm_pending) {
                                printf("REARMED failed=%zu\n", rearm_failed);
                                fflush(stdout);
                                rearm_reported = true;
                            }
                        }
                    } else if (!strncmp(line, "GO ", 3) && round < MAX_ROUNDS) {
                        round++;
                        round_t0 = strtoll(line + 3, NULL, 10);
                        round_kind = "go";
                        round_deadline = now_ns() + (int64_t)opt.round_timeout_ms * 1000000;
                    }
                    size_t rest = line_len - (size_t)(nl + 1 - line);
                    memmove(line, nl + 1, rest + 1);
                    line_len = rest;
                }
                continue;
            }
            if (tag == TRIGGER_TAG) {
                if (trig_fd >= 0)
                    trigger_readable();
                continue;
            }
            struct conn *c = &conns[tag];
            if (c->fd < 0)
                continue;
            uint32_t re = evs[e].events;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    inflight--;
                    fail_why(c, strerror(err));
                    continue;
                }
                if (!(re & EPOLLOUT))
                    continue;
                c->state = C_SENDING;
                inflight--;
            }
            if (c->state == C_SENDING) {
                if (!send_more(c)) {
                    fail(c);
                    continue;
                }
            }
            if (re & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                on_readable(c);
        }

        if (!ready) {
            if (cq_pos < cq_len)
                goto check_setup_timeout;
            size_t connected = 0, failed = 0, early = 0, waiting = 0;
            for (size_t i = 0; i < n_conns; i++) {
                struct conn *c = &conns[i];
                if (c->state == C_FAILED || c->state == C_CLOSED) {
                    failed++;
                } else if (c->state == C_WAITING && c->matches >= opt.skip &&
                           (!c->ws || c->ws->open)) {
                    connected++;
                } else {
                    waiting++;
                }
                if (c->matches > opt.skip)
                    early++;
            }
            if (waiting == 0) {
                ready = true;
                setup_phase = false;
                size_t retried = 0;
                for (size_t i = 0; i < n_conns; i++)
                    retried += conns[i].retries;
                printf("READY connected=%zu failed=%zu early=%zu retried=%zu setup_ms=%.1f "
                       "ws_closes=%zu ws_errors=%zu ws_bad_handshake=%zu\n",
                       connected, failed, early, retried, (double)(now_ns() - t_start) / 1e6,
                       ws_closes, ws_errors, ws_bad_handshake);
                fflush(stdout);
                continue;
            }
        check_setup_timeout:
            if (now_ns() - t_start > (int64_t)opt.setup_timeout_ms * 1000000) {
                size_t held = 0;
                for (size_t i = 0; i < n_conns; i++)
                    held += conns[i].state == C_WAITING;
                printf("SETUP_TIMEOUT connected=%zu of %zu\n", held, n_conns);
                fflush(stdout);
                return 1;
            }
            continue;
        }
        if (!rearm_reported && !rearm_pending) {
            printf("REARMED failed=0\n");
            fflush(stdout);
            rearm_reported = true;
        }
        if (round_deadline) {
            size_t pending;
            /* A fired write's answer may come after the fan-out (nchan answers the publisher
             * once its subscribers are served): wait for it too, within the deadline. */
            bool acked = strcmp(round_kind, "fire") != 0 || trig_ack || trig_fd < 0;
            if ((round_complete(round, &pending) && acked) || now_ns() >= round_deadline) {
                report(round, round_t0, round_kind);
                round_deadline = 0;
            }
        }
    }
}
