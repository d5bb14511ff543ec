/* spawn_offerd.h - start and stop a real offerd for tests (port 0, a temporary database).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_SPAWN_H
#define OFFERD_TEST_SPAWN_H

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>

struct offerd_proc {
    pid_t pid;
    int port;
    char base_url[64];          /* "http://127.0.0.1:PORT", no trailing slash */
    char log_path[PATH_MAX];    /* the server's stderr (one line per request) */
    char stdout_path[PATH_MAX]; /* everything it printed on stdout */
};

/* Makes a fresh directory under $TMPDIR (or /tmp). Returns a heap path; free with free(). */
char *test_tmpdir_new(void);

/* Removes the directory made by test_tmpdir_new and everything in it. NULL is a no-op. */
void test_tmpdir_remove(const char *dir);

/* Where a server on database DB keeps its stdout and stderr: DB itself for a SQLite file (the
 * files are DB.stdout and DB.log beside it), $TMPDIR/NAME (else /tmp/NAME) for a PostgreSQL URL
 * ending in /NAME (test_db_drop removes them). */
void offerd_output_base(const char *db, char *base, size_t size);

/* Starts OFFERD_BINARY --bind 127.0.0.1 --port 0 --db DB_PATH --jwt-secret TEST_JWT_SECRET
 * --rate-limit 0 --auth-fail-limit 0, then extra_args (NULL-terminated, may be NULL; later flags
 * win), with stdout and stderr in files beside DB_PATH (offerd_output_base), and waits (up to 20 s) for the "listening on http://..." line.
 * Returns 0 and fills *p, or -1. */
int offerd_start(struct offerd_proc *p, const char *db_path, const char *const *extra_args);

/* Same, with the full argument list after the binary name given by the caller (NULL-terminated). */
int offerd_start_argv(struct offerd_proc *p, const char *db_path, const char *const *argv_tail);

/* offerd_start, with the server running as uid/gid (tests of file permissions need a user that
 * permissions apply to; root ignores them). The files must be reachable by that user. */
int offerd_start_as(struct offerd_proc *p, const char *db_path, uid_t uid, gid_t gid,
                    const char *const *extra_args);

/* Every started server is also killed and reaped at exit if no stop reached it (a failed
 * assertion, an early exit), and gets SIGTERM if the test program dies (PR_SET_PDEATHSIG). */

/* SIGTERM, then waits up to 15 s (SIGKILL after). Returns the exit status (0 is a clean exit),
 * 128+signal if it died of a signal, or -1. */
int offerd_stop(struct offerd_proc *p);

/* SIGKILL and reap: a crash, for durability tests. */
void offerd_kill9(struct offerd_proc *p);

/* Runs OFFERD_BINARY with argv_tail (NULL-terminated), waits for it, captures stdout+stderr into a
 * heap string (*output, free with free(); may be NULL). Returns the exit status or -1. */
int offerd_run(const char *const *argv_tail, char **output);

/* offerd_run, as uid/gid (tests of file permissions; root ignores them). */
int offerd_run_as(const char *const *argv_tail, uid_t uid, gid_t gid, char **output);

/* Reads a whole file into a heap string (free with free()), or NULL. */
char *test_read_file(const char *path);

#endif
