/* handlers_ops.h - operational endpoints: liveness, readiness, Prometheus metrics.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OFFERD_HANDLERS_OPS_H
#define OFFERD_HANDLERS_OPS_H

#include "http/request.h"

void handle_healthz(struct request *r);  /* 200 {"status":"ok"} while the process serves */
void handle_readyz(struct request *r);   /* 200 when the database answers with the schema applied, else 503 */
void handle_metrics(struct request *r);  /* Prometheus text format 0.0.4 */

#endif
