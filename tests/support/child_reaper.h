/* child_reaper.h - child processes a test started (offerd, redis-server) that must not outlive it.
 *
 * At exit (a test program that returns, or exits after a failed assertion skipped its teardown)
 * every tracked child is killed and reaped; PR_SET_PDEATHSIG in the child covers a crash of the
 * test program itself.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_TEST_CHILD_REAPER_H
#define OFFERD_TEST_CHILD_REAPER_H

#include <sys/types.h>

/* Kills pid at exit unless child_untrack saw it stopped first. */
void child_track(pid_t pid);
/* pid was stopped and reaped by its owner. */
void child_untrack(pid_t pid);

#endif
