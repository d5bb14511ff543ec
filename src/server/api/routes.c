/* routes.c - the route table: method and path pattern to handler, in match order.
 *
 * SPDX-License-Identifier: MIT
 */
#include "api/routes.h"

#include "api/handlers_demo.h"
#include "api/handlers_events.h"
#include "api/handlers_offer_writes.h"
#include "api/handlers_offers.h"
#include "api/handlers_ops.h"
#include "api/handlers_poll.h"
#include "api/handlers_ws.h"

const struct route api_routes[] = {
    {HTTP_GET, "/api/offers", "offers_list", handle_list_offers},
    {HTTP_POST, "/api/offers", "offers_create", handle_create_offer},
    {HTTP_GET, "/api/offers/events", "offers_events", handle_all_events},
    /* literal before {id}: the first match wins, so GET /api/offers/poll is never offer "poll" */
    {HTTP_GET, "/api/offers/poll", "offers_poll", handle_poll_offers},
    {HTTP_GET, "/api/offers/{id}", "offer_get", handle_get_offer},
    {HTTP_GET, "/api/offers/{id}/events", "offer_events", handle_offer_events},
    {HTTP_PATCH, "/api/offers/{id}", "offer_decide", handle_decide_offer},
    {HTTP_POST, "/api/offers/{id}/counter", "offer_counter", handle_counter_offer},
    {HTTP_GET, "/api/ws", "ws", handle_ws},
    {HTTP_GET, "/healthz", "healthz", handle_healthz},
    {HTTP_GET, "/readyz", "readyz", handle_readyz},
    {HTTP_GET, "/metrics", "metrics", handle_metrics},
    /* --demo only; 404 otherwise */
    {HTTP_GET, "/", "demo_page", handle_demo_file},
    {HTTP_GET, "/demo/demo.js", "demo_script", handle_demo_file},
    {HTTP_GET, "/demo/demo.css", "demo_style", handle_demo_file},
    {HTTP_GET, "/demo/offer-updates.js", "demo_client", handle_demo_file},
    {HTTP_GET, "/demo/session", "demo_session", handle_demo_session},
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
