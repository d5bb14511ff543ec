// testlib/offerd.js - a real offerd for the end-to-end tests: spawn, tokens, writes, waiting.
//
// Kept outside test/ because `node --test test/` runs every .js file under a test/ folder.
//
// SPDX-License-Identifier: MIT

import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_BIN = resolve(here, "../../../build/src/server/offerd");

/** The offerd binary, or a reason to skip: OFFERD_BIN, else build/src/server/offerd. */
export function findOfferd() {
  const bin = process.env.OFFERD_BIN ? resolve(process.env.OFFERD_BIN) : DEFAULT_BIN;
  try {
    accessSync(bin, constants.X_OK);
    return { bin };
  } catch {
    if (process.env.OFFERD_BIN) throw new Error(`OFFERD_BIN=${process.env.OFFERD_BIN} is not an executable`);
    return { skip: `no offerd at ${bin}: build it (cmake --build build) or set OFFERD_BIN` };
  }
}

const b64url = (data) => Buffer.from(data).toString("base64url");

/** An HS256 JWT as offerd verifies it: sub is the user's clerk_id. */
export function mintToken(secret, sub, { ttlSeconds = 3600 } = {}) {
  const iat = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub, iat, exp: iat + ttlSeconds }));
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** Starts offerd on 127.0.0.1:0 with demo data and a fresh SQLite file; resolves once it listens. */
export async function startOfferd(bin, extraArgs = []) {
  const dir = mkdtempSync(join(process.env.TMPDIR || tmpdir(), "offerd-js-"));
  const secret = randomBytes(24).toString("hex");
  const args = ["--port", "0", "--db", join(dir, "offerd.db"), "--demo", "--jwt-secret", secret,
    "--rate-limit", "0", ...extraArgs];
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stderr.on("data", (d) => {
    log = (log + d).slice(-20_000);
  });
  const exited = new Promise((res) => proc.once("exit", (code, signal) => res({ code, signal })));
  const baseUrl = await new Promise((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error(`offerd did not start in 15 s; log:\n${log}`)), 15_000);
    proc.stdout.on("data", (d) => {
      out += d;
      // the line spawn_offerd.c reads too: "offerd listening on http://ADDR:PORT"
      const m = /listening on http:\/\/[^\s]*:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(`http://127.0.0.1:${m[1]}`);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`offerd exited (${code ?? signal}) before listening; log:\n${log}`));
    });
  });
  proc.stdout.resume();
  const tokens = {
    alice: mintToken(secret, "user_demo_alice"),
    bob: mintToken(secret, "user_demo_bob"),
    carol: mintToken(secret, "user_demo_carol"),
  };
  return {
    baseUrl,
    secret,
    tokens,
    pid: proc.pid,
    log: () => log,
    /** SIGTERM by pid (SIGKILL after 5 s), then the temporary directory goes. */
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        process.kill(proc.pid, "SIGTERM");
        const killer = setTimeout(() => {
          if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, "SIGKILL");
        }, 5000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A JSON request to offerd as TOKEN's user; resolves {status, body, headers}. */
export async function api(baseUrl, token, method, path, body) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** A fresh PENDING offer by Alice on Bob's driver (listed at 200): each test gets its own. */
export async function newOffer(server, amount = 150) {
  const r = await api(server.baseUrl, server.tokens.alice, "POST", "/api/offers", { productId: "demo_driver", amount });
  if (r.status !== 201) throw new Error(`creating an offer: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A counter offer by WHO ("alice" or "bob"); must lie between the two sides' latest positions. */
export async function counter(server, who, offerId, amount) {
  const r = await api(server.baseUrl, server.tokens[who], "POST", `/api/offers/${offerId}/counter`, { amount });
  if (r.status !== 201) throw new Error(`counter ${amount} by ${who}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Watches OFFERID on CLIENT and collects what the callbacks bring (updates, errors, transports). */
export function collect(client, offerId, options = {}) {
  const got = { updates: [], errors: [], transports: [] };
  got.handle = client.watch(offerId, {
    onUpdate: (o) => got.updates.push(o),
    onError: (e) => got.errors.push(e),
    onTransport: (t) => got.transports.push(t),
    ...options,
  });
  got.versions = () => got.updates.map((o) => o.version);
  return got;
}

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** Resolves when predicate() is truthy (checked every 10 ms), rejects after timeoutMs. */
export async function waitFor(predicate, { timeoutMs = 5000, what = "condition" } = {}) {
  const start = Date.now();
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A fetch that records every request's URL and headers (to count connections). */
export function recordingFetch() {
  const calls = [];
  const fn = (url, init = {}) => {
    calls.push({ url: String(url), headers: { ...(init.headers || {}) } });
    return fetch(url, init);
  };
  return { fetch: fn, calls, streams: () => calls.filter((c) => new URL(c.url).pathname.endsWith("/events")) };
}

/**
 * A small HTTP proxy in front of offerd that plays an old server or a strict proxy:
 * refuseStreams: 404 for every .../events path; refuseWait: 400 for ?wait= (long-poll unknown).
 */
export async function startProxy(targetBaseUrl, { refuseStreams = true, refuseWait = false } = {}) {
  const target = new URL(targetBaseUrl);
  const seen = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://proxy");
    seen.push(req.url);
    const refuse = (status, error) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error }));
    };
    if (refuseStreams && url.pathname.endsWith("/events")) return refuse(404, "no such resource");
    if (refuseWait && url.searchParams.has("wait")) return refuse(400, "unknown parameter wait");
    const upstream = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.url,
      headers: { ...req.headers, host: target.host },
    }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise((res) => server.listen(0, "127.0.0.1", res));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () => new Promise((res) => {
      server.closeAllConnections?.();
      server.close(() => res());
    }),
  };
}
