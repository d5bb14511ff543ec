/* handlers_demo.h - the demo page `offerd --demo` serves at "/", and its sign-in helper.
 *
 * Only with --demo: otherwise every route here answers 404 as an unknown path would. The page and
 * its scripts are embedded at build time (demo_files.h); /demo/session hands out short-lived tokens
 * for the demo users, signed with the session's HS256 secret, so two browser windows can play buyer
 * and seller. Never run --demo on a server that holds real users.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_DEMO_H
#define OFFERD_HANDLERS_DEMO_H

#include "http/request.h"

/* GET "/" and the page's scripts and styles under /demo/: the embedded file for r->path. */
void handle_demo_file(struct request *r);

/* GET /demo/session: {"users": [{id, name, role, token}], "expiresIn": seconds}. 404 when the
 * server verifies with a public key (it cannot mint tokens then). */
void handle_demo_session(struct request *r);

#endif
