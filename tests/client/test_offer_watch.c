/* test_offer_watch.c - the offer-watch command against a real offerd: its lines (human and
 * --json), its messages and exit codes for usage errors, a bad URL, 401, 403 and 404, and a clean
 * exit 0 on SIGINT and SIGTERM. Set OFFERPOLL_TEST_WRAPPER to run the tool under valgrind.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "client_support.h"

static struct server_fixture fx;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return fixture_start(&fx) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    return 0;
}

struct proc {
    pid_t pid;
    int out_fd, err_fd;
    char out[65536];
    size_t out_len;
    char err[16384];
    size_t err_len;
};

/* Runs offer-watch ARGS... with OFFERD_TOKEN set to ENV_TOKEN (NULL: unset). */
static void spawn_watch(struct proc *p, const char *env_token, const char *const *args)
{
    memset(p, 0, sizeof *p);
    int out[2], err[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        /* OFFERPOLL_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99" runs the
         * tool itself under a checker (split on spaces). */
        const char *argv[64] = {0};
        int n = 0;
        char *wrapper = getenv("OFFERPOLL_TEST_WRAPPER") ? strdup(getenv("OFFERPOLL_TEST_WRAPPER"))
                                                         : NULL;
        for (char *tok = wrapper ? strtok(wrapper, " ") : NULL; tok && n < 30;
             tok = strtok(NULL, " "))
            argv[n++] = tok;
        argv[n++] = OFFER_WATCH_BINARY;
        for (int i = 0; args[i] && n < 62; i++)
            argv[n++] = args[i];
        if (env_token)
            setenv("OFFERD_TOKEN", env_token, 1);
        else
            unsetenv("OFFERD_TOKEN");
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(err[0]);
        close(out[1]);
        close(err[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    p->out_fd = out[0];
    p->err_fd = err[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
}

static void drain_fd(int fd, char *buf, size_t *len, size_t cap)
{
    for (;;) {
        if (fd < 0 || *len + 1 >= cap)
            return;
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0)
            return;
        *len += (size_t)n;
        buf[*len] = '\0';
    }
}

static void pump(struct proc *p, int ms)
{
    struct pollfd fds[2] = {{.fd = p->out_fd, .events = POLLIN}, {.fd = p->err_fd, .events = POLLIN}};
    poll(fds, 2, ms);
    drain_fd(p->out_fd, p->out, &p->out_len, sizeof p->out);
    drain_fd(p->err_fd, p->err, &p->err_len, sizeof p->err);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static bool wait_lines(struct proc *p, int n, int64_t timeout_ms)
{
    int64_t deadline = t_now_ms() + t_scaled(timeout_ms);
    while (lines(p->out) < n && t_now_ms() < deadline)
        pump(p, 20);
    return lines(p->out) >= n;
}

/* Waits for the exit; returns its status, 128+signal, or -1 after killing it on timeout. */
static int wait_exit(struct proc *p, int64_t timeout_ms)
{
    int64_t deadline = t_now_ms() + t_scaled(timeout_ms);
    int status = -1;
    for (;;) {
        pump(p, 20);
        int ws;
        pid_t r = waitpid(p->pid, &ws, WNOHANG);
        if (r == p->pid) {
            status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
            break;
        }
        if (t_now_ms() >= deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            break;
        }
    }
    pump(p, 0);
    if (p->out_fd >= 0)
        close(p->out_fd);
    close(p->err_fd);
    p->out_fd = p->err_fd = -1;
    return status;
}

static int run(const char *env_token, const char *const *args, struct proc *p)
{
    spawn_watch(p, env_token, args);
    return wait_exit(p, 10000);
}

static void usage_errors_exit_2(void **state)
{
    (void)state;
    struct proc p;
    const char *none[] = {NULL};
    assert_int_equal(run(NULL, none, &p), 2);
    assert_non_null(strstr(p.err, "usage: offer-watch"));

    const char *bad_interval[] = {"--interval", "0", fx.proc.base_url, "o_pending", NULL};
    assert_int_equal(run(NULL, bad_interval, &p), 2);
    assert_non_null(strstr(p.err, "--interval"));
    const char *bad_interval2[] = {"--interval", "12x", fx.proc.base_url, "o_pending", NULL};
    assert_int_equal(run(NULL, bad_interval2, &p), 2);

    const char *bad_mode[] = {"--mode", "carrier-pigeon", fx.proc.base_url, "o_pending", NULL};
    assert_int_equal(run(NULL, bad_mode, &p), 2);
    assert_non_null(strstr(p.err, "--mode"));

    const char *unknown[] = {"--frobnicate", fx.proc.base_url, "o_pending", NULL};
    assert_int_equal(run(NULL, unknown, &p), 2);

    const char *extra[] = {fx.proc.base_url, "o_pending", "more", NULL};
    assert_int_equal(run(NULL, extra, &p), 2);

    const char *bad_id[] = {fx.proc.base_url, "no/such id", NULL};
    assert_int_equal(run(fx.buyer_token, bad_id, &p), 2);
    assert_non_null(strstr(p.err, "bad offer id"));

    const char *help[] = {"--help", NULL};
    assert_int_equal(run(NULL, help, &p), 0);
    assert_non_null(strstr(p.out, "usage: offer-watch [--token T] [--interval MS] "
                                  "[--mode poll|longpoll|sse|auto] [--json]"));
    assert_non_null(strstr(p.out, "Server-Sent Events"));
    assert_non_null(strstr(p.out, "OFFERD_TOKEN"));
}

static void bad_url_exits_2(void **state)
{
    (void)state;
    const char *urls[] = {"not-a-url", "ftp://127.0.0.1/", "http://", "127.0.0.1:8080"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct proc p;
        const char *args[] = {urls[i], "o_pending", NULL};
        assert_int_equal(run(fx.buyer_token, args, &p), 2);
        assert_non_null(strstr(p.err, "bad URL"));
        assert_int_equal(p.out_len, 0);
    }
}

static void http_refusals_exit_with_their_code(void **state)
{
    (void)state;
    struct {
        const char *env_token, *flag_token, *id;
        int exit_code;
        const char *says;
    } cases[] = {
        {NULL, NULL, "o_pending", 3, "401"},
        {"garbage", NULL, "o_pending", 3, "401"},
        {fx.buyer_token, "garbage", "o_pending", 3, "401"}, /* --token wins over the env */
        {NULL, fx.stranger_token, "o_pending", 4, "403"},
        {fx.buyer_token, NULL, "o_nope", 5, "404"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proc p;
        const char *with_flag[] = {"--token", cases[i].flag_token, "--interval", "100",
                                   fx.proc.base_url, cases[i].id, NULL};
        const char *without[] = {"--interval", "100", fx.proc.base_url, cases[i].id, NULL};
        int code = run(cases[i].env_token, cases[i].flag_token ? with_flag : without, &p);
        assert_int_equal(code, cases[i].exit_code);
        assert_non_null(strstr(p.err, cases[i].says));
        assert_int_equal(p.out_len, 0);
    }
}

static void prints_a_line_per_change_and_stops_on_sigterm(void **state)
{
    (void)state;
    struct proc p;
    offerpoll_global_init();
    offerpoll_client *c;
    offerpoll_offer *o;
    assert_int_equal(offerpoll_client_new(fx.proc.base_url, fx.buyer_token, &c), OFFERPOLL_OK);
    assert_int_equal(offerpoll_fetch(c, "o_pending", &o), OFFERPOLL_OK);
    int64_t v = o->version;
    offerpoll_offer_free(o);
    offerpoll_client_free(c);
    offerpoll_global_cleanup();

    const char *args[] = {"--interval", "200", fx.proc.base_url, "o_pending", NULL};
    spawn_watch(&p, fx.buyer_token, args); /* token from OFFERD_TOKEN */
    assert_true(wait_lines(&p, 1, 5000));
    char expect[128];
    snprintf(expect, sizeof expect, " o_pending v%lld PENDING 150.00 expires 20", (long long)v);
    assert_non_null(strstr(p.out, expect));
    t_sleep_ms(600); /* unchanged polls print nothing */
    pump(&p, 0);
    assert_int_equal(lines(p.out), 1);

    assert_int_equal(fixture_touch(&fx, "o_pending"), 0);
    assert_true(wait_lines(&p, 2, 5000));
    snprintf(expect, sizeof expect, " o_pending v%lld PENDING", (long long)v + 1);
    assert_non_null(strstr(p.out, expect));

    kill(p.pid, SIGTERM);
    assert_int_equal(wait_exit(&p, 5000), 0);
    assert_int_equal(lines(p.out), 2);
    assert_int_equal(p.err_len, 0);
}

static void json_lines_and_sigint(void **state)
{
    (void)state;
    struct proc p;
    const char *args[] = {"--json", "--token", fx.seller_token, "--interval", "200",
                          fx.proc.base_url, "o_countered", NULL};
    spawn_watch(&p, NULL, args);
    assert_true(wait_lines(&p, 1, 5000));
    assert_int_equal(fixture_touch(&fx, "o_countered"), 0);
    assert_true(wait_lines(&p, 2, 5000));
    kill(p.pid, SIGINT);
    assert_int_equal(wait_exit(&p, 5000), 0);

    int64_t prev = 0;
    int n = 0;
    for (char *line = strtok(p.out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        assert_non_null(o);
        assert_true(json_is_object(o));
        assert_string_equal(json_string_value(json_object_get(o, "id")), "o_countered");
        assert_string_equal(json_string_value(json_object_get(o, "status")), "COUNTERED");
        assert_true(json_is_array(json_object_get(o, "counterOffers")));
        int64_t v = json_integer_value(json_object_get(o, "version"));
        if (prev)
            assert_int_equal(v, prev + 1);
        prev = v;
        json_decref(o);
    }
    assert_int_equal(n, 2);
}

/* Every mode prints the same lines; the real-time ones see a change long before the interval. */
static void every_mode_prints_changes(void **state)
{
    (void)state;
    const char *modes[] = {"longpoll", "sse", "auto", "poll"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        bool polls = strcmp(modes[i], "poll") == 0;
        struct proc p;
        const char *args[] = {"--mode", modes[i], "--interval", polls ? "200" : "60000",
                              fx.proc.base_url, "o_pending", NULL};
        spawn_watch(&p, fx.buyer_token, args);
        assert_true(wait_lines(&p, 1, 5000));
        assert_non_null(strstr(p.out, " o_pending v"));
        t_sleep_ms(300);
        int64_t t0 = t_now_ms();
        assert_int_equal(fixture_touch(&fx, "o_pending"), 0);
        assert_true(wait_lines(&p, 2, 5000));
        if (!polls)
            assert_true(t_now_ms() - t0 < t_scaled(1500));
        kill(p.pid, SIGTERM);
        assert_int_equal(wait_exit(&p, 5000), 0);
        assert_int_equal(lines(p.out), 2);
        assert_int_equal(p.err_len, 0); /* no notes: every mode is served */
    }
}

/* A refused stream or wait reaches the exit codes just as a refused poll does. */
static void real_time_modes_exit_with_the_refusals_codes(void **state)
{
    (void)state;
    const char *modes[] = {"longpoll", "sse", "auto"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct proc p;
        const char *missing[] = {"--mode", modes[i], fx.proc.base_url, "o_nope", NULL};
        assert_int_equal(run(fx.buyer_token, missing, &p), 5);
        assert_non_null(strstr(p.err, "404"));
        const char *stranger[] = {"--mode", modes[i], fx.proc.base_url, "o_pending", NULL};
        assert_int_equal(run(fx.stranger_token, stranger, &p), 4);
        assert_non_null(strstr(p.err, "403"));
        assert_int_equal(run("garbage", stranger, &p), 3);
        assert_int_equal(p.out_len, 0);
    }
}

static void an_unreachable_server_is_retried_not_fatal(void **state)
{
    (void)state;
    struct proc p;
    const char *args[] = {"--interval", "100", "http://127.0.0.1:1", "o_pending", NULL};
    spawn_watch(&p, fx.buyer_token, args);
    int64_t deadline = t_now_ms() + t_scaled(3000);
    while (!strstr(p.err, "retrying in") && t_now_ms() < deadline)
        pump(&p, 20);
    assert_non_null(strstr(p.err, "retrying in"));
    assert_int_equal(waitpid(p.pid, NULL, WNOHANG), 0); /* still running */
    kill(p.pid, SIGTERM);
    assert_int_equal(wait_exit(&p, 5000), 0);
}

static void a_closed_stdout_ends_it(void **state)
{
    (void)state;
    struct proc p;
    const char *args[] = {"--interval", "100", fx.proc.base_url, "o_pending", NULL};
    spawn_watch(&p, fx.buyer_token, args);
    assert_true(wait_lines(&p, 1, 5000));
    close(p.out_fd); /* offer-watch ... | head -1 */
    p.out_fd = -1;
    assert_int_equal(wait_exit(&p, 5000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_errors_exit_2),
        cmocka_unit_test(bad_url_exits_2),
        cmocka_unit_test(http_refusals_exit_with_their_code),
        cmocka_unit_test(prints_a_line_per_change_and_stops_on_sigterm),
        cmocka_unit_test(json_lines_and_sigint),
        cmocka_unit_test(every_mode_prints_changes),
        cmocka_unit_test(real_time_modes_exit_with_the_refusals_codes),
        cmocka_unit_test(an_unreachable_server_is_retried_not_fatal),
        cmocka_unit_test(a_closed_stdout_ends_it),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
