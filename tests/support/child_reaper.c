/* child_reaper.c - see child_reaper.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "child_reaper.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>

enum { MAX_LIVE = 64 };
static pid_t live[MAX_LIVE];
static bool reaper_registered;

static void kill_live_children(void)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
}

void child_track(pid_t pid)
{
    if (!reaper_registered)
        reaper_registered = atexit(kill_live_children) == 0;
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == 0) {
            live[i] = pid;
            return;
        }
}

void child_untrack(pid_t pid)
{
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == pid)
            live[i] = 0;
}
