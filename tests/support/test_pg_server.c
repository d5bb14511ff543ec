/* test_pg_server.c - initdb, pg_ctl and a watchdog for a test's own PostgreSQL server.
 *
 * Every PostgreSQL command runs as a child process with its output appended to DIR/commands.log
 * (shown on failure) and a bounded wait, through `runuser -u postgres --` when we are root.
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_pg_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn_offerd.h"

#define PG_LIB_DIR "/usr/lib/postgresql"
#define COMMAND_TIMEOUT_S 120
#define START_ATTEMPTS 3

static bool is_executable(const char *dir, const char *name)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof(path) && access(path, X_OK) == 0;
}

bool test_pg_server_available(char *bindir, size_t size)
{
    if (geteuid() == 0 && !getpwnam("postgres"))
        return false;
    struct dirent **names = NULL;
    int n = scandir(PG_LIB_DIR, &names, NULL, alphasort);
    if (n < 0)
        return false;
    long best = -1;
    char best_dir[PATH_MAX] = "";
    for (int i = 0; i < n; i++) {
        char dir[PATH_MAX];
        char *end = NULL;
        long version = strtol(names[i]->d_name, &end, 10);
        int len = snprintf(dir, sizeof(dir), PG_LIB_DIR "/%s/bin", names[i]->d_name);
        if (len > 0 && (size_t)len < sizeof(dir) && end != names[i]->d_name && *end == '\0' &&
            version > best && is_executable(dir, "initdb") && is_executable(dir, "pg_ctl")) {
            best = version;
            memcpy(best_dir, dir, (size_t)len + 1);
        }
        free(names[i]);
    }
    free(names);
    if (best < 0)
        return false;
    if (bindir)
        snprintf(bindir, size, "%s", best_dir);
    return true;
}

static void print_file(const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = test_read_file(path);
    if (text)
        fprintf(stderr, "--- %s ---\n%s\n", name, text);
    free(text);
}

/* Runs BINDIR/TOOL with args (NULL-terminated) as the server's owner; returns its exit status,
 * or -1 when it could not run or outlived COMMAND_TIMEOUT_S (it is then killed). */
static int run_tool(const struct test_pg_server *s, const char *tool, const char *const *args)
{
    char tool_path[PATH_MAX + 64], log_path[PATH_MAX + 64];
    snprintf(tool_path, sizeof(tool_path), "%s/%s", s->bindir, tool);
    snprintf(log_path, sizeof(log_path), "%s/commands.log", s->dir);
    const char *argv[32];
    size_t n = 0;
    if (geteuid() == 0) {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = "postgres";
        argv[n++] = "--";
    }
    argv[n++] = tool_path;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(log);
    if (pid < 0)
        return -1;
    int wstatus = 0;
    for (int waited_ms = 0; waited_ms < COMMAND_TIMEOUT_S * 1000; waited_ms += 20) {
        pid_t r = waitpid(pid, &wstatus, WNOHANG);
        if (r == pid)
            return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "test_pg_server: %s did not finish within %d s\n", tool, COMMAND_TIMEOUT_S);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* A port nothing listens on right now (the server may still lose it to a race: start retries). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int pg_ctl(const struct test_pg_server *s, const char *action, const char *mode)
{
    char data[PATH_MAX + 64], log[PATH_MAX + 64], options[PATH_MAX + 160];
    snprintf(data, sizeof(data), "%s/data", s->dir);
    snprintf(log, sizeof(log), "%s/server.log", s->dir);
    snprintf(options, sizeof(options),
             "-c fsync=on -c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200",
             s->port, s->dir);
    const char *args[16] = {"-D", data, "-l", log, "-w", "-t", "60", "-o", options};
    size_t n = 9;
    if (mode) {
        args[n++] = "-m";
        args[n++] = mode;
    }
    args[n++] = action;
    args[n] = NULL;
    return run_tool(s, "pg_ctl", args) == 0 ? 0 : -1;
}

static void point_environment_at(const struct test_pg_server *s)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    setenv("PGHOST", "127.0.0.1", 1);
    setenv("PGPORT", port, 1);
    setenv("PGUSER", "postgres", 1);
    setenv("PGDATABASE", "postgres", 1);
    unsetenv("PGPASSWORD");
    unsetenv("PGSERVICE");
}

/* Forks the watchdog: it waits for this process to go away, then stops the server and removes
 * the directory. Only async-signal-safe calls after the fork: the command is built before. */
static pid_t start_watchdog(const struct test_pg_server *s)
{
    char command[3 * PATH_MAX + 200];
    snprintf(command, sizeof(command),
             "%s'%s/pg_ctl' -D '%s/data' -m immediate -w stop "
             ">/dev/null 2>&1; rm -rf '%s'",
             geteuid() == 0 ? "runuser -u postgres -- " : "", s->bindir, s->dir, s->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); /* out of the test's process group: a signal to it is not one to us */
        while (getppid() == parent) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
        const char *argv[] = {"sh", "-c", command, NULL};
        execv("/bin/sh", (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int test_pg_server_start(struct test_pg_server *s)
{
    memset(s, 0, sizeof(*s));
    if (!test_pg_server_available(s->bindir, sizeof(s->bindir))) {
        fprintf(stderr, "test_pg_server: no initdb/pg_ctl under " PG_LIB_DIR "\n");
        return -1;
    }
    s->dir = test_tmpdir_new();
    if (!s->dir)
        return -1;
    struct passwd *pw = geteuid() == 0 ? getpwnam("postgres") : NULL;
    if (pw && chown(s->dir, pw->pw_uid, pw->pw_gid) != 0) {
        fprintf(stderr, "test_pg_server: chown %s: %s\n", s->dir, strerror(errno));
        test_pg_server_destroy(s);
        return -1;
    }
    s->watchdog = start_watchdog(s);
    char data[PATH_MAX + 64];
    snprintf(data, sizeof(data), "%s/data", s->dir);
    const char *initdb[] = {"-D", data,   "-U",          "postgres",  "-A", "trust",
                            "-E", "UTF8", "--no-locale", "--no-sync", NULL};
    if (run_tool(s, "initdb", initdb) != 0) {
        fprintf(stderr, "test_pg_server: initdb failed\n");
        print_file(s->dir, "commands.log");
        test_pg_server_destroy(s);
        return -1;
    }
    for (int attempt = 0; attempt < START_ATTEMPTS && !s->running; attempt++) {
        s->port = free_port();
        s->running = s->port > 0 && pg_ctl(s, "start", NULL) == 0;
    }
    if (!s->running) {
        fprintf(stderr, "test_pg_server: pg_ctl start failed\n");
        print_file(s->dir, "commands.log");
        print_file(s->dir, "server.log");
        test_pg_server_destroy(s);
        return -1;
    }
    point_environment_at(s);
    return 0;
}

int test_pg_server_stop(struct test_pg_server *s, const char *mode)
{
    if (pg_ctl(s, "stop", mode) != 0) {
        print_file(s->dir, "server.log");
        return -1;
    }
    s->running = false;
    return 0;
}

int test_pg_server_resume(struct test_pg_server *s)
{
    if (pg_ctl(s, "start", NULL) != 0) {
        print_file(s->dir, "server.log");
        return -1;
    }
    s->running = true;
    return 0;
}

int test_pg_server_restart(struct test_pg_server *s)
{
    if (pg_ctl(s, "restart", "fast") != 0) {
        print_file(s->dir, "server.log");
        return -1;
    }
    s->running = true;
    return 0;
}

void test_pg_server_destroy(struct test_pg_server *s)
{
    if (s->running)
        test_pg_server_stop(s, "immediate");
    s->running = false;
    if (s->watchdog > 0) {
        kill(s->watchdog, SIGKILL);
        waitpid(s->watchdog, NULL, 0);
        s->watchdog = 0;
    }
    test_tmpdir_remove(s->dir);
    free(s->dir);
    s->dir = NULL;
}
