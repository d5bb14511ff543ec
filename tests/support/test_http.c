/* test_http.c - one blocking libcurl request, capturing status, headers and body.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

struct sink {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    char *nd = realloc(s->data, s->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + s->len, ptr, n);
    s->len += n;
    nd[s->len] = '\0';
    s->data = nd;
    return n;
}

static int perform(const char *method, const char *url, const char *const *headers,
                   const char *body, long timeout_ms, struct http_response *out);

int http_request(const char *method, const char *url, const char *const *headers,
                 const char *body, struct http_response *out)
{
    return perform(method, url, headers, body, 70000, out);
}

int http_request_timeout(const char *method, const char *url, const char *const *headers,
                         const char *body, long timeout_ms, struct http_response *out)
{
    perform(method, url, headers, body, timeout_ms, out);
    return out->status ? 0 : -1;
}

static int perform(const char *method, const char *url, const char *const *headers,
                   const char *body, long timeout_ms, struct http_response *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct sink hs = {0}, bs = {0};
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &bs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK || rc == CURLE_OPERATION_TIMEDOUT)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    out->headers = hs.data ? hs.data : strdup("");
    out->body = bs.data ? bs.data : strdup("");
    out->body_len = bs.len;
    if (rc != CURLE_OK) {
        if (timeout_ms >= 70000)
            fprintf(stderr, "%s %s: %s\n", method, url, curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

const char *http_bearer_header(char *buf, size_t size, const char *token)
{
    snprintf(buf, size, "Authorization: Bearer %s", token);
    return buf;
}

int http_call(const char *base, const char *method, const char *path, const char *token,
              const char *const *extra_headers, const char *body, long timeout_ms,
              struct http_response *out)
{
    char url[4096], auth[16384];
    const char *headers[16];
    size_t n = 0;
    snprintf(url, sizeof(url), "%s%s", base, path);
    if (token)
        headers[n++] = http_bearer_header(auth, sizeof(auth), token);
    for (size_t i = 0; extra_headers && extra_headers[i] && n < 15; i++)
        headers[n++] = extra_headers[i];
    headers[n] = NULL;
    if (timeout_ms > 0)
        return http_request_timeout(method, url, headers, body, timeout_ms, out);
    return http_request(method, url, headers, body, out);
}

int http_get(const char *url, const char *token, struct http_response *out)
{
    return http_call(url, "GET", "", token, NULL, NULL, 0, out);
}

long long http_metric(const char *base, const char *name)
{
    struct http_response r;
    char needle[128];
    http_call(base, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
    snprintf(needle, sizeof(needle), "\n%s ", name);
    const char *at = r.body ? strstr(r.body, needle) : NULL;
    long long v = at ? strtoll(at + strlen(needle), NULL, 10) : -1;
    http_response_cleanup(&r);
    return v;
}

const char *http_header(const struct http_response *r, const char *name, char *buf, size_t size)
{
    const char *found = NULL;
    size_t name_len = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > name_len && line[name_len] == ':' && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - line);
            snprintf(buf, size, "%.*s", (int)vlen, v);
            found = buf;
        }
        line += len + (eol ? 2 : 0);
    }
    return found;
}

json_t *http_body_json(const struct http_response *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, r->body);
    return j;
}

int http_raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

void http_response_cleanup(struct http_response *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}
