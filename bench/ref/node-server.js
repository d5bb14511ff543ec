#!/usr/bin/env node
// node-server.js - "today's stack" reference: node:http + better-sqlite3, one process or a cluster.
//
//   node node-server.js --port N --db PATH --secret S [--workers K]
//
// Serves GET /api/offers/{id} (200 / 304 with ETag) and POST /api/offers (201, durable) from the
// same database as offerd, with the same JSON, doing the work in next-app/lib/offers-db.js (read
// its header for what is and is not checked). With --workers K (K >= 1) the primary forks K workers
// with node:cluster and only hands out connections; without it one process serves everything.
// Prints "node listening on http://127.0.0.1:PORT" when every worker accepts connections.
//
// SPDX-License-Identifier: MIT
'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const path = require('node:path');

function parseArgs(argv) {
  const a = { port: 0, db: process.env.BENCH_DB, secret: process.env.BENCH_JWT_SECRET, workers: 0 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (k === '--port') a.port = Number(v);
    else if (k === '--db') a.db = v;
    else if (k === '--secret') a.secret = v;
    else if (k === '--workers') a.workers = Number(v);
    else {
      console.error(`unknown argument ${k}`);
      process.exit(2);
    }
  }
  return a;
}

function serve(args, onListening) {
  const lib = require(path.join(__dirname, 'next-app', 'lib', 'offers-db.js'));
  const store = lib.openStore(args.db, args.secret);
  const send = (res, r) => {
    r.headers['Content-Length'] = Buffer.byteLength(r.body);
    res.writeHead(r.status, r.headers);
    res.end(r.body);
  };
  const server = http.createServer((req, res) => {
    const url = req.url;
    const q = url.indexOf('?');
    const p = q < 0 ? url : url.slice(0, q);
    if (p.startsWith('/api/offers/') && req.method === 'GET') {
      send(res, lib.getOffer(store, p.slice('/api/offers/'.length), req.headers));
    } else if (p === '/api/offers' && req.method === 'POST') {
      const chunks = [];
      let size = 0;
      req.on('data', (c) => {
        size += c.length;
        if (size <= 16384) chunks.push(c);
      });
      req.on('end', () => {
        if (size > 16384) send(res, lib.error(413, 'request body too large'));
        else send(res, lib.createOffer(store, req.headers, Buffer.concat(chunks).toString('utf8')));
      });
    } else if (p === '/healthz') {
      send(res, { status: 200, headers: { 'Content-Type': 'application/json' }, body: '{"status":"ok"}' });
    } else {
      send(res, lib.error(404, 'no such resource'));
    }
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.listen(args.port, '127.0.0.1', () => onListening(server.address().port));
}

const args = parseArgs(process.argv);
if (args.workers > 0 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < args.workers; i++) cluster.fork();
  cluster.on('listening', (_w, address) => {
    if (++ready === args.workers)
      console.log(`node listening on http://127.0.0.1:${address.port} (cluster of ${args.workers})`);
  });
  cluster.on('exit', (w, code, signal) => {
    if (!shuttingDown) {
      console.error(`worker ${w.process.pid} died (${signal || code})`);
      process.exit(1);
    }
  });
  let shuttingDown = false;
  const stop = () => {
    shuttingDown = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  // A cluster worker must listen on the port the primary was given (0 would be shared too).
  serve(args, (port) => {
    if (!cluster.isWorker) console.log(`node listening on http://127.0.0.1:${port}`);
  });
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
