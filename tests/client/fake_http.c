/* fake_http.c - a scriptable HTTP/1.1 server for libofferpoll's tests (see fake_http.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "fake_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORDED 4096

struct fake_server {
    int listen_fd;
    int stop_pipe[2];
    pthread_t thread;
    fake_handler handler;
    void *userdata;
    char url[64];
    pthread_mutex_t lock;
    struct fake_request *requests; /* lock */
    unsigned count;                /* lock */
    unsigned hangups;              /* lock */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void header_value(const char *head, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            if (len >= size)
                len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

/* Waits up to MS; returns true early when asked to stop or when the client hangs up (a
 * cancelled request), so a slow answer never holds up the next connection. */
static bool stop_wait(struct fake_server *s, int fd, int ms)
{
    struct pollfd p[2] = {{.fd = s->stop_pipe[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    int64_t deadline = mono_ms() + ms;
    for (int64_t left = ms; left > 0; left = deadline - mono_ms()) {
        if (poll(p, 2, (int)left) <= 0)
            continue;
        if (p[0].revents)
            return true;
        char c;
        if (p[1].revents && recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
            pthread_mutex_lock(&s->lock);
            s->hangups++;
            pthread_mutex_unlock(&s->lock);
            return true;
        }
    }
    return false;
}

static bool send_all(int fd, const char *data, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, data + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

static void send_answer(int fd, const struct fake_response *resp)
{
    size_t body_len = strlen(resp->body);
    size_t out_size = body_len + sizeof resp->headers + 256;
    char *out = malloc(out_size);
    if (!out)
        return;
    int n = snprintf(out, out_size,
                     "HTTP/1.1 %d Fake\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     resp->status,
                     resp->content_type[0] ? resp->content_type : "application/json",
                     resp->status == 304 ? (size_t)0 : body_len, resp->headers,
                     resp->status == 304 ? "" : resp->body);
    if (n > 0)
        send_all(fd, out, (size_t)n);
    free(out);
}

/* Headers without a length, the body piece by piece, then open until hold_ms or a hang-up. */
static void send_stream(struct fake_server *s, int fd, const struct fake_response *resp)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d Fake\r\nContent-Type: %s\r\nConnection: close\r\n%s\r\n",
                     resp->status,
                     resp->content_type[0] ? resp->content_type : "text/event-stream",
                     resp->headers);
    if (n <= 0 || !send_all(fd, head, (size_t)n))
        return;
    const char *p = resp->body;
    for (int i = 0;; i++) {
        const char *end = strchr(p, '\x01');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i > 0 && resp->piece_delay_ms > 0 && stop_wait(s, fd, resp->piece_delay_ms))
            return;
        if (len > 0 && !send_all(fd, p, len))
            return;
        if (!end)
            break;
        p = end + 1;
    }
    if (resp->hold_ms > 0)
        stop_wait(s, fd, resp->hold_ms);
}

static void serve(struct fake_server *s, int fd)
{
    char head[8192];
    size_t len = 0;
    while (len < sizeof head - 1) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, 5000) <= 0 || (p[1].revents & POLLIN))
            return;
        ssize_t n = recv(fd, head + len, sizeof head - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n"))
            break;
    }
    struct fake_request req = {.at_ms = mono_ms()};
    sscanf(head, "%15s %255s", req.method, req.path);
    header_value(head, "If-None-Match", req.if_none_match, sizeof req.if_none_match);
    header_value(head, "Authorization", req.authorization, sizeof req.authorization);
    header_value(head, "Accept", req.accept, sizeof req.accept);
    header_value(head, "Last-Event-ID", req.last_event_id, sizeof req.last_event_id);
    pthread_mutex_lock(&s->lock);
    req.index = s->count;
    if (s->count < MAX_RECORDED)
        s->requests[s->count++] = req;
    pthread_mutex_unlock(&s->lock);

    struct fake_response *resp = calloc(1, sizeof *resp);
    if (!resp)
        return;
    resp->status = 200;
    s->handler(&req, resp, s->userdata);
    if ((resp->delay_ms > 0 && stop_wait(s, fd, resp->delay_ms)) || resp->hang_up) {
        free(resp);
        return;
    }
    if (resp->stream)
        send_stream(s, fd, resp);
    else
        send_answer(fd, resp);
    free(resp);
}

static void *server_main(void *arg)
{
    struct fake_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                              {.fd = s->stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(s, fd);
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    return NULL;
}

struct fake_server *fake_server_start(fake_handler handler, void *userdata)
{
    struct fake_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->requests = calloc(MAX_RECORDED, sizeof *s->requests);
    s->handler = handler;
    s->userdata = userdata;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (!s->requests || s->listen_fd < 0 || pipe(s->stop_pipe) != 0 ||
        bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(s->listen_fd, 128) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &alen) != 0 ||
        pthread_create(&s->thread, NULL, server_main, s) != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        free(s->requests);
        free(s);
        return NULL;
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", ntohs(addr.sin_port));
    return s;
}

const char *fake_server_url(const struct fake_server *s)
{
    return s->url;
}

int fake_server_request(struct fake_server *s, unsigned i, struct fake_request *out)
{
    pthread_mutex_lock(&s->lock);
    int rc = -1;
    if (i < s->count) {
        *out = s->requests[i];
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

unsigned fake_server_count(struct fake_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

unsigned fake_server_hangups(struct fake_server *s)
{
    pthread_mutex_lock(&s->lock);
    unsigned n = s->hangups;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void fake_server_stop(struct fake_server *s)
{
    if (!s)
        return;
    if (write(s->stop_pipe[1], "x", 1) != 1)
        perror("fake_server_stop");
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    pthread_mutex_destroy(&s->lock);
    free(s->requests);
    free(s);
}
