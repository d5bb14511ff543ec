/* writer.h - the group-commit writer thread behind store_submit (store/writer.c). Private to store/.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_WRITER_H
#define OFFERD_WRITER_H

#include <stddef.h>

#include "store/store.h"

struct store_writer;

/* Starts the writer thread for s (an open backend). NULL with err on failure. */
struct store_writer *store_writer_start(struct store *s, char *err, size_t err_size);

/* Queues w; its done runs on the writer thread once it is committed (or refused). */
void store_writer_submit(struct store_writer *wr, struct store_write *w);

/* Writes what is queued, stops the thread and frees wr. NULL is a no-op. */
void store_writer_stop(struct store_writer *wr);

#endif
