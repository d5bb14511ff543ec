// offers-db.js - the references' whole poll and write path: HS256 check, SQLite, offer JSON, ETag.
//
// Shared by bench/ref/node-server.js (plain node:http, single process or cluster) and the Next.js
// route handlers in bench/ref/next-app, so both references do exactly the same work per request;
// only the framework around it differs. It is what a careful team would write on "today's stack":
//   - better-sqlite3 (synchronous, one connection per process, statements prepared once), WAL,
//     synchronous=FULL and BEGIN IMMEDIATE for writes: the same durability offerd promises;
//   - the token verified like offerd does it (HS256 signature with a constant-time compare, alg
//     pinned, exp required, nbf honoured, 30 s leeway), then the user looked up by clerk_id and the
//     caller checked to be the buyer or seller (403 otherwise);
//   - the same offer JSON shape as offerd (field order included), and a body-derived strong ETag
//     with weak If-None-Match comparison, so a conditional GET answers 304.
// What it does not do (offerd does): reject duplicate JSON keys in tokens and bodies, the full
// amount/message validation matrix, counters/accept/reject, the `?since=` form, CORS, metrics and
// an access log. None of those are on the measured path except the strict token parsing.
//
// SPDX-License-Identifier: MIT
'use strict';

const crypto = require('node:crypto');
const Database = require('better-sqlite3');

const LEEWAY_S = 30;
const DAY_MS = 86_400_000;
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const STATUSES_LIVE = new Set(['PENDING', 'COUNTERED']);

const SQL = {
  offer:
    'SELECT o.id, o.version, o.status, o.amount, o.message, o.product_id, o.buyer_id,' +
    ' o.seller_id, o.created_at, o.updated_at, o.expires_at,' +
    ' p.user_id AS p_seller, p.title, p.price, p.is_sold,' +
    ' b.first_name AS b_first, b.last_name AS b_last, s.first_name AS s_first, s.last_name AS s_last' +
    ' FROM offers o JOIN products p ON p.id = o.product_id' +
    ' LEFT JOIN users b ON b.id = o.buyer_id LEFT JOIN users s ON s.id = o.seller_id' +
    ' WHERE o.id = ?',
  images: 'SELECT url FROM product_images WHERE product_id = ? ORDER BY sort_order, id',
  counters:
    'SELECT id, amount, message, from_seller, created_at FROM counter_offers' +
    ' WHERE offer_id = ? ORDER BY created_at, rowid',
  user: 'SELECT id FROM users WHERE clerk_id = ?',
  expire:
    "UPDATE offers SET status = 'EXPIRED', version = version + 1, updated_at = ?2" +
    " WHERE id = ?1 AND status IN ('PENDING', 'COUNTERED')" +
    ' AND expires_at IS NOT NULL AND expires_at <= ?2',
  product: 'SELECT id, user_id, title, price, is_sold FROM products WHERE id = ?',
  insert:
    'INSERT INTO offers(id, amount, status, message, product_id, buyer_id, seller_id,' +
    ' created_at, updated_at, expires_at, version)' +
    " VALUES (?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, 1)",
};

function openStore(path, secret) {
  if (!path) throw new Error('no database path (BENCH_DB)');
  if (!secret) throw new Error('no JWT secret (BENCH_JWT_SECRET)');
  const db = new Database(path, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const st = {};
  for (const [k, v] of Object.entries(SQL)) st[k] = db.prepare(v);
  const store = { db, st, key: Buffer.from(secret, 'utf8') };
  store.readTx = db.transaction((id) => loadOffer(store, id));
  store.expireTx = db.transaction((id, now) => {
    st.expire.run(id, now);
    return loadOffer(store, id);
  });
  store.createTx = db.transaction((n) => {
    const p = st.product.get(n.productId);
    if (!p) return { error: [400, 'no such product'] };
    if (p.is_sold) return { error: [400, 'this product is sold'] };
    if (p.user_id === n.buyerId) return { error: [400, 'you cannot make an offer on your own product'] };
    const min = Math.ceil(p.price / 2);
    if (n.amount >= p.price || n.amount < min)
      return { error: [400, `amount must be at least ${min / 100} and below ${p.price / 100}`] };
    st.insert.run(n.id, n.amount, n.message, p.id, n.buyerId, p.user_id, n.now, n.now,
      n.now + 7 * DAY_MS);
    return { offer: loadOffer(store, n.id) };
  });
  return store;
}

// --- tokens -----------------------------------------------------------------------------------

function b64urlJson(seg) {
  if (!seg || !/^[A-Za-z0-9_-]+$/.test(seg)) return null;
  try {
    const v = JSON.parse(Buffer.from(seg, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

// The caller's clerk id (sub), or null for a missing or bad token.
function verifyToken(store, authorization, cookie) {
  let token = null;
  if (authorization) {
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m) token = m[1];
  } else if (cookie) {
    const m = /(?:^|;\s*)__session=([^;]+)/.exec(cookie);
    if (m) token = m[1];
  }
  if (!token) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const header = b64urlJson(parts[0]);
  if (!header || header.alg !== 'HS256' || header.crit !== undefined) return null;
  const mac = crypto.createHmac('sha256', store.key).update(parts[0] + '.' + parts[1]).digest();
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== mac.length || !crypto.timingSafeEqual(sig, mac)) return null;
  const claims = b64urlJson(parts[1]);
  if (!claims) return null;
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now - LEEWAY_S) return null;
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now + LEEWAY_S))
    return null;
  if (typeof claims.sub !== 'string' || !claims.sub || claims.sub.length > 255) return null;
  return claims.sub;
}

// --- offers -----------------------------------------------------------------------------------

const iso = (ms) => new Date(ms).toISOString();
const money = (minor) => minor / 100;

function loadOffer(store, id) {
  const r = store.st.offer.get(id);
  if (!r) return null;
  const images = store.st.images.all(r.product_id);
  const counters = store.st.counters.all(r.id);
  return {
    row: r,
    json: {
      id: r.id,
      version: r.version,
      status: r.status,
      amount: money(r.amount),
      message: r.message,
      productId: r.product_id,
      buyerId: r.buyer_id,
      sellerId: r.seller_id,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      expiresAt: r.expires_at == null ? null : iso(r.expires_at),
      product: { id: r.product_id, title: r.title, price: money(r.price),
        images: images.map((i) => ({ url: i.url })) },
      buyer: { id: r.buyer_id, firstName: r.b_first, lastName: r.b_last },
      seller: { id: r.seller_id, firstName: r.s_first, lastName: r.s_last },
      counterOffers: counters.map((c) => ({ id: c.id, amount: money(c.amount), message: c.message,
        fromSeller: c.from_seller !== 0, createdAt: iso(c.created_at) })),
    },
  };
}

function etagOf(version, body) {
  return `"${version}-${crypto.createHash('sha1').update(body).digest('hex').slice(0, 16)}"`;
}

function noneMatch(header, etag) {
  if (!header) return false;
  const ours = etag.replace(/^W\//, '');
  for (const raw of header.split(',')) {
    const t = raw.trim();
    if (t === '*' || t.replace(/^W\//, '') === ours) return true;
  }
  return false;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function error(status, message, extra) {
  return { status, headers: { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store', ...extra },
    body: JSON.stringify({ error: message }) };
}

function unauthorized() {
  return error(401, 'authentication required', { 'WWW-Authenticate': 'Bearer' });
}

// Signed-in user's users.id ('' when the token is good but no users row), or null (401).
function caller(store, h) {
  const sub = verifyToken(store, h.authorization, h.cookie);
  if (sub === null) return null;
  const u = store.st.user.get(sub);
  return u ? u.id : '';
}

// GET /api/offers/{id}: h is a lower-case header map. Returns {status, headers, body}.
function getOffer(store, id, h) {
  if (!ID_RE.test(id)) return error(400, 'malformed offer id');
  const user = caller(store, h);
  if (user === null) return unauthorized();
  let o = store.readTx(id);
  const now = Date.now();
  if (o && STATUSES_LIVE.has(o.row.status) && o.row.expires_at != null && o.row.expires_at <= now)
    o = store.expireTx.immediate(id, now);
  if (!o) return error(404, 'offer not found');
  if (user !== o.row.buyer_id && user !== o.row.seller_id)
    return error(403, 'this offer is not yours to see');
  const body = JSON.stringify(o.json);
  const etag = etagOf(o.row.version, body);
  const headers = { 'Cache-Control': 'private, no-cache', ETag: etag };
  if (noneMatch(h['if-none-match'], etag)) return { status: 304, headers, body: '' };
  headers['Content-Type'] = JSON_TYPE;
  return { status: 200, headers, body };
}

// POST /api/offers with the raw body text.
function createOffer(store, h, text) {
  const user = caller(store, h);
  if (user === null) return unauthorized();
  if (user === '') return error(403, 'no marketplace account belongs to this token');
  if (!/^application\/json\b/i.test(h['content-type'] || '')) return error(415, 'send JSON');
  let b;
  try {
    b = JSON.parse(text);
  } catch {
    return error(400, 'malformed JSON');
  }
  if (!b || typeof b !== 'object' || typeof b.productId !== 'string' || !ID_RE.test(b.productId))
    return error(400, 'productId is required');
  if (typeof b.amount !== 'number' || !(b.amount > 0) || b.amount > 1e7)
    return error(400, 'amount must be a positive number');
  const amount = Math.round(b.amount * 100);
  if (amount / 100 !== b.amount) return error(400, 'amount must have at most 2 decimal places');
  if (b.message != null && (typeof b.message !== 'string' || Buffer.byteLength(b.message) > 1000))
    return error(400, 'message must be a string of at most 1000 bytes');
  const r = store.createTx.immediate({ id: 'off_' + crypto.randomBytes(16).toString('base64url'),
    productId: b.productId, buyerId: user, amount, message: b.message ?? null, now: Date.now() });
  if (r.error) return error(r.error[0], r.error[1]);
  const body = JSON.stringify(r.offer.json);
  return { status: 201, headers: { 'Content-Type': JSON_TYPE, 'Cache-Control': 'private, no-cache',
    ETag: etagOf(r.offer.row.version, body), Location: `/api/offers/${r.offer.row.id}` }, body };
}

// One store per process, opened on first use from BENCH_DB / BENCH_JWT_SECRET.
function processStore() {
  if (!globalThis.__offersBenchStore)
    globalThis.__offersBenchStore = openStore(process.env.BENCH_DB, process.env.BENCH_JWT_SECRET);
  return globalThis.__offersBenchStore;
}

module.exports = { openStore, processStore, getOffer, createOffer, error };
