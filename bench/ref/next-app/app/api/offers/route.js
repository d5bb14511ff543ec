// POST /api/offers as a Next.js App Router route handler (the writes of the mixed load).
//
// SPDX-License-Identifier: MIT
import lib from '../../../lib/offers-db.js';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function POST(request) {
  const text = await request.text();
  const h = {
    authorization: request.headers.get('authorization'),
    cookie: request.headers.get('cookie'),
    'content-type': request.headers.get('content-type'),
  };
  const r = text.length > 16384
    ? lib.error(413, 'request body too large')
    : lib.createOffer(lib.processStore(), h, text);
  return new Response(r.body, { status: r.status, headers: r.headers });
}
