/* test_ws.c - an RFC 6455 client on a plain socket, for the WebSocket tests (test_ws.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "test_clock.h"

struct ws_client {
    int fd;
    unsigned char *buf;         /* received, not yet parsed */
    size_t len, cap;
    bool silent;
    size_t skipped;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads more into c->buf, waiting until deadline; 1 read, 0 timeout, -1 EOF/error. */
static int fill(struct ws_client *c, long long deadline)
{
    long long left = deadline - now_ms();
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, left < 0 ? 0 : (int)left);
    if (r == 0)
        return 0;
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        unsigned char *nb = realloc(c->buf, cap);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = cap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 1;
}

static void accept_for(const char *key, char out[64])
{
    char joined[128];
    snprintf(joined, sizeof(joined), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(joined, strlen(joined), digest, &n, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, digest, (int)n);
}

int ws_open(int port, const struct ws_open_options *o, struct ws_client **out, char **response)
{
    static const struct ws_open_options none = {0};
    if (!o)
        o = &none;
    *out = NULL;
    if (response)
        *response = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (o->rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof(o->rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    char key[64];
    if (o->key) {
        snprintf(key, sizeof(key), "%s", o->key);
    } else {
        unsigned char raw[16];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
            memset(raw, 7, sizeof(raw));
        EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    }
    char req[8192];
    int n = snprintf(req, sizeof(req), "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", port);
    if (!o->no_upgrade)
        n += snprintf(req + n, sizeof(req) - (size_t)n,
                      "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n");
    n += snprintf(req + n, sizeof(req) - (size_t)n, "Sec-WebSocket-Key: %s\r\n", key);
    if (!o->version || o->version[0])
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Sec-WebSocket-Version: %s\r\n",
                      o->version ? o->version : "13");
    if (o->origin)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Origin: %s\r\n", o->origin);
    if (o->token)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Authorization: Bearer %s\r\n", o->token);
    if (o->cookie)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Cookie: %s\r\n", o->cookie);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    struct ws_client *c = calloc(1, sizeof(*c));
    if (!c || send_all(fd, req, (size_t)n) != 0) {
        free(c);
        close(fd);
        return -1;
    }
    c->fd = fd;
    long long deadline = now_ms() + 10000;
    char *end = NULL;
    while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
        if (fill(c, deadline) <= 0)
            break;
    int status = -1;
    if (c->len && sscanf((char *)c->buf, "HTTP/1.1 %d", &status) != 1)
        status = -1;
    if (status != 101) {
        while (fill(c, now_ms() + 300) > 0) /* the body, if any */
            ;
        if (response && c->len) {
            *response = malloc(c->len + 1);
            if (*response) {
                memcpy(*response, c->buf, c->len);
                (*response)[c->len] = '\0';
            }
        }
        ws_free(c);
        return status;
    }
    size_t head_len = (size_t)(end - (char *)c->buf) + 4;
    char head[4096], want[64];
    snprintf(head, sizeof(head), "%.*s", (int)head_len, (char *)c->buf);
    accept_for(key, want);
    char *acc = strcasestr(head, "\r\nSec-WebSocket-Accept: ");
    if (!acc || strncmp(acc + 24, want, strlen(want)) != 0) {
        ws_free(c);
        return -1;
    }
    memmove(c->buf, c->buf + head_len, c->len - head_len);
    c->len -= head_len;
    *out = c;
    return status;
}

/* Appends one encoded frame to out (room for 14 + f->len bytes); returns its size. */
static size_t encode_frame(const struct ws_frame *f, unsigned char *out)
{
    size_t h = 0;
    unsigned char mask_bit = f->unmasked ? 0 : 0x80;
    out[h++] = (unsigned char)((f->fin ? 0x80 : 0) | ((f->rsv & 7) << 4) | (f->opcode & 0x0f));
    if (f->len < 126) {
        out[h++] = (unsigned char)(mask_bit | f->len);
    } else if (f->len < 65536 && !f->long_length) {
        out[h++] = mask_bit | 126;
        out[h++] = (unsigned char)(f->len >> 8);
        out[h++] = (unsigned char)f->len;
    } else {
        out[h++] = mask_bit | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (unsigned char)((uint64_t)f->len >> (8 * i));
    }
    unsigned char mask[4] = {0, 0, 0, 0};
    if (!f->unmasked) {
        if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask))
            memset(mask, 0x5a, sizeof(mask));
        memcpy(out + h, mask, 4);
        h += 4;
    }
    for (size_t i = 0; i < f->len; i++)
        out[h + i] = ((const unsigned char *)f->data)[i] ^ mask[i % 4];
    return h + f->len;
}

int ws_send_frames(struct ws_client *c, const struct ws_frame *frames, size_t count, size_t piece,
                   int pause_ms)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += 14 + frames[i].len;
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf)
        return -1;
    size_t used = 0;
    for (size_t i = 0; i < count; i++)
        used += encode_frame(&frames[i], buf + used);
    int rc = 0;
    for (size_t off = 0; off < used && rc == 0;) {
        size_t n = piece && piece < used - off ? piece : used - off;
        rc = send_all(c->fd, buf + off, n);
        off += n;
        if (off < used && pause_ms > 0)
            test_sleep_ms(pause_ms);
    }
    free(buf);
    return rc;
}

int ws_send_frame(struct ws_client *c, int opcode, const void *data, size_t len)
{
    struct ws_frame f = {.fin = true, .opcode = opcode, .data = data, .len = len};
    return ws_send_frames(c, &f, 1, 0, 0);
}

int ws_send_text(struct ws_client *c, const char *text)
{
    return ws_send_frame(c, 1, text, strlen(text));
}

/* Takes one whole frame off c->buf if there is one: 1, else 0. */
static int parse_frame(struct ws_client *c, int *opcode, char **payload, size_t *len)
{
    if (c->len < 2)
        return 0;
    size_t n = c->buf[1] & 0x7f, off = 2;
    if (n == 126) {
        if (c->len < 4)
            return 0;
        n = ((size_t)c->buf[2] << 8) | c->buf[3];
        off = 4;
    } else if (n == 127) {
        if (c->len < 10)
            return 0;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = (n << 8) | c->buf[2 + i];
        off = 10;
    }
    if (c->len < off + n)
        return 0;
    *opcode = c->buf[0] & 0x0f;
    *payload = malloc(n + 1);
    memcpy(*payload, c->buf + off, n);
    (*payload)[n] = '\0';
    *len = n;
    memmove(c->buf, c->buf + off + n, c->len - off - n);
    c->len -= off + n;
    return 1;
}

int ws_recv_frame(struct ws_client *c, int timeout_ms, char **payload, size_t *len)
{
    long long deadline = now_ms() + timeout_ms;
    *payload = NULL;
    *len = 0;
    for (;;) {
        int opcode;
        if (parse_frame(c, &opcode, payload, len))
            return opcode;
        int r = fill(c, deadline);
        if (r <= 0)
            return r;
    }
}

int ws_recv(struct ws_client *c, int timeout_ms, char **payload, size_t *len)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        int opcode = ws_recv_frame(c, left > 0 ? (int)left : 0, payload, len);
        if (opcode != WS_OP_PING && opcode != WS_OP_PONG)
            return opcode < 0 ? -1 : opcode;
        if (opcode == WS_OP_PING && !c->silent)
            ws_send_frame(c, WS_OP_PONG, *payload, *len);
        free(*payload);
        *payload = NULL;
    }
}

char *ws_wait_text(struct ws_client *c, const char *needle, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return NULL;
        char *p;
        size_t n;
        int op = ws_recv(c, (int)left, &p, &n);
        if (op <= 0)
            return NULL;
        if (op == WS_OP_TEXT && strstr(p, needle))
            return p;
        c->skipped++;
        free(p);
        if (op == WS_OP_CLOSE)
            return NULL;
    }
}

int ws_wait_close(struct ws_client *c, int timeout_ms, char **reason)
{
    long long deadline = now_ms() + timeout_ms;
    if (reason)
        *reason = NULL;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return -1;
        char *p;
        size_t n;
        int op = ws_recv(c, (int)left, &p, &n);
        if (op <= 0)
            return -1;
        if (op != WS_OP_CLOSE) {
            c->skipped++;
            free(p);
            continue;
        }
        int code = n >= 2 ? (((unsigned char)p[0] << 8) | (unsigned char)p[1]) : 0;
        if (reason && n > 2)
            *reason = strdup(p + 2);
        ws_send_frame(c, WS_OP_CLOSE, p, n >= 2 ? 2 : 0);
        free(p);
        return code;
    }
}

bool ws_wait_eof(struct ws_client *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        c->len = 0;
        int r = fill(c, deadline);
        if (r < 0)
            return true;
        if (r == 0)
            return false;
    }
}

size_t ws_skipped(const struct ws_client *c)
{
    return c->skipped;
}

void ws_set_silent(struct ws_client *c, bool silent)
{
    c->silent = silent;
}

int ws_fd(const struct ws_client *c)
{
    return c->fd;
}

void ws_free(struct ws_client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}
