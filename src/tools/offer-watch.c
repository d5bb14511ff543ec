/* offer-watch.c - print each new state of one offer, for development alongside curl.
 *
 * Built on include/offerpoll.h alone, as curl's tool is built on libcurl: it is also the library's
 * most honest example. The main thread only waits: for a signal (SIGINT/SIGTERM: a clean exit 0,
 * or SIGUSR1 raised by a callback for a fatal error) or for stdout's reader to go away; all
 * printing happens in the callbacks, on the library's thread, one line at a time.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "offerpoll.h"

enum exit_code {
    EXIT_STOPPED = 0,      /* SIGINT or SIGTERM, or stdout closed */
    EXIT_FAILURE_ = 1,     /* anything else fatal */
    EXIT_USAGE = 2,        /* bad option, bad URL, bad offer id */
    EXIT_UNAUTHORIZED = 3, /* HTTP 401 */
    EXIT_FORBIDDEN = 4,    /* HTTP 403 */
    EXIT_NOT_FOUND = 5,    /* HTTP 404 */
};

static const char usage_text[] =
    "usage: offer-watch [--token T] [--interval MS] [--mode poll|longpoll|sse|auto] [--json]\n"
    "                   BASE_URL ID\n"
    "\n"
    "Watches offer ID on the offerd at BASE_URL (e.g. http://127.0.0.1:8080) and prints each new\n"
    "state: one line per change, or one JSON object per line with --json. Unchanged answers (HTTP\n"
    "304) print nothing; transient errors are reported on stderr and retried with backoff.\n"
    "\n"
    "  --token T       bearer token (JWT); default: $OFFERD_TOKEN\n"
    "  --interval MS   polling interval in milliseconds, 1..3600000 (default 5000); with\n"
    "                  longpoll, sse and auto it only paces a fallback to polling\n"
    "  --mode M        how to learn of changes: poll (default; a conditional GET every\n"
    "                  interval), longpoll (a GET the server holds until the offer changes),\n"
    "                  sse (one Server-Sent Events stream), or auto (SSE, falling back to\n"
    "                  long-poll, then polling, where the server or a proxy refuses them)\n"
    "  --json          print the server's offer JSON, one object per line\n"
    "  -h, --help      this text;  --version  library version\n"
    "\n"
    "Human lines read: TIME ID vVERSION STATUS AMOUNT [expires EXPIRY], times in UTC.\n"
    "Exit status: 0 on SIGINT/SIGTERM (or when stdout closes), 2 usage error or bad URL/ID,\n"
    "3 token rejected (401), 4 not a party to the offer (403), 5 no such offer (404),\n"
    "1 any other fatal error.\n";

struct watch_state {
    bool json;
    atomic_int exit_code;
    atomic_bool finished;
};

/* Ends the main thread's wait with CODE (the first reason wins). */
static void finish(struct watch_state *st, int code)
{
    bool expected = false;
    if (atomic_compare_exchange_strong(&st->finished, &expected, true)) {
        atomic_store(&st->exit_code, code);
        kill(getpid(), SIGUSR1);
    }
}

static void format_utc(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char date[32];
    gmtime_r(&secs, &tm);
    /* strftime, so -O2's format-truncation analysis has no unbounded year to worry about */
    if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        date[0] = '\0';
    snprintf(buf, size, "%s.%03dZ", date, (int)(ms % 1000 + 1000) % 1000);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_update(offerpoll_watch *w, const offerpoll_offer *offer, void *userdata)
{
    (void)w;
    struct watch_state *st = userdata;
    int rc;
    if (st->json) {
        /* In valid JSON a raw line break can only be whitespace: flatten to one line. */
        for (size_t i = 0; i < offer->json_len; i++) {
            char ch = offer->json[i];
            putchar(ch == '\n' || ch == '\r' ? ' ' : ch);
        }
        rc = putchar('\n');
    } else {
        char now[32], expires[32] = "";
        format_utc(wall_ms(), now, sizeof now);
        if (offer->has_expiry)
            format_utc(offer->expires_at_ms, expires, sizeof expires);
        int64_t a = offer->amount_minor;
        rc = printf("%s %s v%lld %s %lld.%02lld%s%s\n", now, offer->id, (long long)offer->version,
                    offer->status_text, (long long)(a / 100), (long long)(a % 100),
                    offer->has_expiry ? " expires " : "", expires);
    }
    if (rc < 0 || fflush(stdout) != 0)
        finish(st, EXIT_STOPPED); /* the reader went away (offer-watch ... | head -1) */
}

static void on_error(offerpoll_watch *w, const offerpoll_error *err, void *userdata)
{
    struct watch_state *st = userdata;
    const char *id = offerpoll_watch_offer_id(w);
    switch (err->code) {
    case OFFERPOLL_ERR_UNAUTHORIZED:
        fprintf(stderr, "offer-watch: %s: the token was rejected (missing, invalid or expired); "
                        "pass --token or set OFFERD_TOKEN\n", err->message);
        finish(st, EXIT_UNAUTHORIZED);
        return;
    case OFFERPOLL_ERR_FORBIDDEN:
        fprintf(stderr, "offer-watch: %s: the token's user is not the buyer or seller of %s\n",
                err->message, id);
        finish(st, EXIT_FORBIDDEN);
        return;
    case OFFERPOLL_ERR_NOT_FOUND:
        fprintf(stderr, "offer-watch: %s: no offer %s here (or BASE_URL is not an offerd)\n",
                err->message, id);
        finish(st, EXIT_NOT_FOUND);
        return;
    case OFFERPOLL_ERR_BAD_REQUEST:
    case OFFERPOLL_ERR_BAD_URL:
        fprintf(stderr, "offer-watch: %s\n", err->message);
        finish(st, EXIT_USAGE);
        return;
    default:
        fprintf(stderr, "offer-watch: %s (%s); retrying in %.1f s\n", err->message,
                offerpoll_strerror(err->code), (double)err->retry_in_ms / 1000.0);
        return;
    }
}

/* True when stdout is a pipe or socket whose reader has gone. */
static bool stdout_closed(void)
{
    struct pollfd p = {.fd = STDOUT_FILENO, .events = 0};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

static bool parse_interval(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < 1 || v > 3600000)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_mode(const char *s, enum offerpoll_mode *out)
{
    static const struct {
        const char *name;
        enum offerpoll_mode mode;
    } modes[] = {{"poll", OFFERPOLL_MODE_POLL},
                 {"longpoll", OFFERPOLL_MODE_LONGPOLL},
                 {"sse", OFFERPOLL_MODE_SSE},
                 {"auto", OFFERPOLL_MODE_AUTO}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *out = modes[i].mode;
            return true;
        }
    }
    return false;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "offer-watch: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", usage_text);
    va_end(ap);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"token", required_argument, NULL, 't'},    {"interval", required_argument, NULL, 'i'},
        {"mode", required_argument, NULL, 'm'},     {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *token = getenv("OFFERD_TOKEN");
    uint32_t interval_ms = 5000;
    enum offerpoll_mode mode = OFFERPOLL_MODE_POLL;
    struct watch_state st = {.json = false};

    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (opt) {
        case 't':
            token = optarg;
            break;
        case 'i':
            if (!parse_interval(optarg, &interval_ms))
                return usage_error("bad --interval '%s': need milliseconds, 1..3600000", optarg);
            break;
        case 'm':
            if (!parse_mode(optarg, &mode))
                return usage_error("bad --mode '%s': need poll, longpoll, sse or auto", optarg);
            break;
        case 'j':
            st.json = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            printf("offer-watch (libofferpoll %s)\n", offerpoll_version());
            return 0;
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return usage_error("need BASE_URL and ID");
    const char *base_url = argv[optind], *offer_id = argv[optind + 1];

    /* Every thread, the library's included, inherits this mask; main takes them in sigwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    sigdelset(&sigs, SIGPIPE);

    if (offerpoll_global_init() != OFFERPOLL_OK) {
        fprintf(stderr, "offer-watch: could not initialise libofferpoll (libcurl)\n");
        return EXIT_FAILURE_;
    }
    int exit_code = EXIT_FAILURE_;
    offerpoll_client *client = NULL;
    offerpoll_watch *watch = NULL;
    enum offerpoll_code code = offerpoll_client_new(base_url, token, &client);
    if (code == OFFERPOLL_ERR_BAD_URL) {
        fprintf(stderr, "offer-watch: bad URL '%s': need an absolute http:// or https:// URL "
                        "without query or fragment, e.g. http://127.0.0.1:8080\n", base_url);
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (code == OFFERPOLL_ERR_INVALID_ARGUMENT) {
        fprintf(stderr, "offer-watch: the token contains control characters\n");
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (code != OFFERPOLL_OK) {
        fprintf(stderr, "offer-watch: %s\n", offerpoll_strerror(code));
        goto out;
    }
    code = offerpoll_watch_new(client, offer_id, &watch);
    if (code == OFFERPOLL_ERR_INVALID_ARGUMENT) {
        fprintf(stderr, "offer-watch: bad offer id '%s': %s\n", offer_id,
                offerpoll_client_errmsg(client));
        exit_code = EXIT_USAGE;
        goto out;
    }
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_set_interval_ms(watch, interval_ms);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_set_mode(watch, mode);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_set_callbacks(watch, on_update, on_error, &st);
    if (code == OFFERPOLL_OK)
        code = offerpoll_watch_start(watch);
    if (code != OFFERPOLL_OK) {
        fprintf(stderr, "offer-watch: %s: %s\n", offerpoll_strerror(code),
                offerpoll_client_errmsg(client));
        goto out;
    }

    /* Wait for a signal; once a second also notice a reader that went away (| head -1), which
     * otherwise would only show when the next change is printed. */
    int sig = -1;
    while (sig < 0) {
        struct timespec second = {1, 0};
        sig = sigtimedwait(&sigs, NULL, &second);
        if (sig < 0 && stdout_closed())
            sig = 0;
    }
    exit_code = sig == SIGUSR1 ? atomic_load(&st.exit_code) : EXIT_STOPPED;
out:
    offerpoll_watch_free(watch); /* after this no callback runs: stdout is ours again */
    offerpoll_client_free(client);
    offerpoll_global_cleanup();
    fflush(stdout);
    return exit_code;
}
