/* routes.h - the route table offerd serves: every endpoint of the offers API, the ops endpoints
 * and the demo page, each with its handler.
 *
 * main.c hands it to the daemon through struct app; http/ only matches against it and never
 * names a handler.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_ROUTES_H
#define OFFERD_ROUTES_H

#include <stddef.h>

#include "http/router.h"

/* The routes in match order (literal routes before {id} ones), and how many there are; the
 * index of a route is its metrics label's index too. */
extern const struct route api_routes[];
extern const size_t api_route_count;

#endif
