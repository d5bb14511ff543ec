// GET /api/offers/{id} as a Next.js App Router route handler: what the frontend team would deploy
// instead of offerd. The work is bench/ref/next-app/lib/offers-db.js, shared with node-server.js.
//
// SPDX-License-Identifier: MIT
import lib from '../../../../lib/offers-db.js';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(request, { params }) {
  const { id } = await params;
  const h = {
    authorization: request.headers.get('authorization'),
    cookie: request.headers.get('cookie'),
    'if-none-match': request.headers.get('if-none-match'),
  };
  const r = lib.getOffer(lib.processStore(), id, h);
  return new Response(r.status === 304 ? null : r.body, { status: r.status, headers: r.headers });
}
