/* test_http.c - one blocking libcurl request, capturing status, headers and body.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int http_get(const char *url, const char *token, struct http_response *out)
{
    char auth[8192];
    const char *headers[2] = {NULL, NULL};
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[0] = auth;
    }
    return http_request("GET", url, headers, NULL, out);
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

void http_response_cleanup(struct http_response *r)
{
    free(r->headers);
    free(r->body);
    memset(r, 0, sizeof(*r));
}
