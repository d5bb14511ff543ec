/* spawn_offerd.c - run the real offerd binary for a test and stop it by its pid.
 *
 * SPDX-License-Identifier: MIT
 */
#include "spawn_offerd.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_reaper.h"
#include "test_tokens.h"

char *test_tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof(tmpl), "%s/offerd-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_tmpdir_remove(const char *dir)
{
    if (dir)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *test_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int exit_status(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return -1;
}

/* uid/gid the next spawn runs as (0: as we are); set by offerd_start_as. */
static uid_t spawn_uid;
static gid_t spawn_gid;

static pid_t spawn(const char *const *argv_tail, const char *out_path, const char *err_path)
{
    const char *argv[80];
    size_t n = 0;
    /* OFFERD_TEST_WRAPPER="valgrind -q --error-exitcode=99 ..." runs the server under a tool; its
     * exit status then carries the tool's verdict to offerd_stop. Words split on spaces. */
    char wrapper[512] = "";
    const char *w = getenv("OFFERD_TEST_WRAPPER");
    if (w && *w) {
        snprintf(wrapper, sizeof(wrapper), "%s", w);
        for (char *save = NULL, *tok = strtok_r(wrapper, " ", &save); tok && n < 15;
             tok = strtok_r(NULL, " ", &save))
            argv[n++] = tok;
    }
    argv[n++] = OFFERD_BINARY;
    for (size_t i = 0; argv_tail && argv_tail[i] && n < 79; i++)
        argv[n++] = argv_tail[i];
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600) : out;
        if (out < 0 || err < 0)
            _exit(127);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        if (spawn_uid && (setgid(spawn_gid) != 0 || setuid(spawn_uid) != 0))
            _exit(126);
        /* A test that dies (a crash, or exiting after a failed assertion skipped its stop) takes
         * its server with it. After setuid, which would clear it; kept across exec. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(125);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

void offerd_output_base(const char *db, char *base, size_t size)
{
    if (!strstr(db, "://")) {
        snprintf(base, size, "%s", db);
        return;
    }
    const char *tmp = getenv("TMPDIR");
    const char *slash = strrchr(db, '/');
    snprintf(base, size, "%s/%.*s", tmp && *tmp ? tmp : "/tmp", (int)strcspn(slash + 1, "?"),
             slash + 1);
}

int offerd_start_argv(struct offerd_proc *p, const char *db_path, const char *const *argv_tail)
{
    memset(p, 0, sizeof(*p));
    char base[PATH_MAX];
    offerd_output_base(db_path, base, sizeof(base));
    snprintf(p->stdout_path, sizeof(p->stdout_path), "%.*s.stdout", PATH_MAX - 16, base);
    snprintf(p->log_path, sizeof(p->log_path), "%.*s.log", PATH_MAX - 16, base);
    unlink(p->stdout_path); /* a previous run's "listening on" line must not be read as ours */
    p->pid = spawn(argv_tail, p->stdout_path, p->log_path);
    if (p->pid < 0)
        return -1;
    child_track(p->pid);
    for (int waited = 0; waited < 60000; waited += 20) { /* valgrind starts slowly */
        char *out = test_read_file(p->stdout_path);
        const char *line = out ? strstr(out, "listening on http://") : NULL;
        if (line) {
            const char *colon = strrchr(strtok((char *)line, "\n"), ':');
            p->port = colon ? atoi(colon + 1) : 0;
            free(out);
            snprintf(p->base_url, sizeof(p->base_url), "http://127.0.0.1:%d", p->port);
            return p->port > 0 ? 0 : -1;
        }
        free(out);
        int wstatus;
        if (waitpid(p->pid, &wstatus, WNOHANG) == p->pid) {
            fprintf(stderr, "offerd exited early with status %d; log:\n", exit_status(wstatus));
            char *log = test_read_file(p->log_path);
            fprintf(stderr, "%s\n", log ? log : "(none)");
            free(log);
            child_untrack(p->pid);
            p->pid = 0;
            return -1;
        }
        sleep_ms(20);
    }
    offerd_kill9(p);
    return -1;
}

int offerd_start(struct offerd_proc *p, const char *db_path, const char *const *extra_args)
{
    /* Tests hammer one user, and send many bad tokens from one address, on purpose; both limits
     * have their own tests (extra args win). */
    const char *argv[64] = {"--bind",       "127.0.0.1",     "--port",       "0",
                            "--db",         db_path,         "--jwt-secret", TEST_JWT_SECRET,
                            "--rate-limit", "0",             "--auth-fail-limit", "0"};
    size_t n = 12;
    for (size_t i = 0; extra_args && extra_args[i] && n < 63; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    return offerd_start_argv(p, db_path, argv);
}

int offerd_start_as(struct offerd_proc *p, const char *db_path, uid_t uid, gid_t gid,
                    const char *const *extra_args)
{
    spawn_uid = uid;
    spawn_gid = gid;
    int rc = offerd_start(p, db_path, extra_args);
    spawn_uid = 0;
    spawn_gid = 0;
    return rc;
}

int offerd_stop(struct offerd_proc *p)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int wstatus = 0;
    for (int waited = 0; waited < 60000; waited += 10) { /* under valgrind, exit takes a while */
        pid_t r = waitpid(p->pid, &wstatus, WNOHANG);
        if (r == p->pid) {
            child_untrack(p->pid);
            p->pid = 0;
            return exit_status(wstatus);
        }
        if (r < 0 && errno != EINTR)
            break;
        sleep_ms(10);
    }
    fprintf(stderr, "offerd did not stop within 60 s; killing it\n");
    offerd_kill9(p);
    return -1;
}

void offerd_kill9(struct offerd_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    child_untrack(p->pid);
    p->pid = 0;
}

int offerd_run(const char *const *argv_tail, char **output)
{
    char path[] = "/tmp/offerd-run-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    pid_t pid = spawn(argv_tail, path, NULL);
    int wstatus = 0;
    int status = -1;
    if (pid > 0 && waitpid(pid, &wstatus, 0) == pid)
        status = exit_status(wstatus);
    if (output)
        *output = test_read_file(path);
    unlink(path);
    return status;
}

int offerd_run_as(const char *const *argv_tail, uid_t uid, gid_t gid, char **output)
{
    spawn_uid = uid;
    spawn_gid = gid;
    int rc = offerd_run(argv_tail, output);
    spawn_uid = 0;
    spawn_gid = 0;
    return rc;
}
