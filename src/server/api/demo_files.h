/* demo_files.h - the demo page's files, embedded at build time by cmake/EmbedFiles.cmake.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_DEMO_FILES_H
#define OFFERD_DEMO_FILES_H

#include <stddef.h>

struct demo_file {
    const char *url;            /* the path it is served at, e.g. "/demo/demo.js" */
    const char *content_type;
    const char *data;           /* NUL-terminated as well, for convenience */
    size_t len;
};

extern const struct demo_file demo_files[];
extern const size_t demo_file_count;

#endif
