/* startup_hint.h - turn a failed start into what to do about it.
 *
 * When offerd cannot open its database or its listening socket, the libraries' own words ("unable
 * to open database file", "Failed to bind") say neither why nor what to do. These functions look
 * again at the cause (the path's directories and permissions, a trial bind of the address) and
 * write one line naming it and the option that changes it. They are called only after a failure,
 * so they may be slow and they never change anything but a throwaway socket.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_STARTUP_HINT_H
#define OFFERD_STARTUP_HINT_H

#include <stddef.h>

/* Checks that database file PATH can be opened for writing and that its directory can hold the
 * file and its -wal and -shm files. Returns 1 with a message in buf when that is not so (missing
 * or unwritable directory, read-only file system, unwritable file, a directory in the way), or 0
 * with buf untouched when the file system is not the cause. Also worth calling after a
 * successful open: SQLite opens a write-protected file read-only without a word. */
int startup_hint_db(const char *path, char *buf, size_t size);

/* Binds a throwaway socket to BIND:PORT (BIND a numeric IPv4 or IPv6 address) to learn why
 * listening failed. Returns 1 with a message in buf for a port in use, a privileged port or an
 * address this machine does not have, or 0 with buf untouched when the trial bind gives no
 * better reason. */
int startup_hint_listen(const char *bind, int port, char *buf, size_t size);

#endif
