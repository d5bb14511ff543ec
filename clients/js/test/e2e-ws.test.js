// The ws transport end to end against a real offerd (OFFERD_BIN, else build/src/server/offerd),
// with the `ws` npm package as the WebSocket class (Node 18/20 have none of their own): pushes, a
// write reaching a watch, per-offer 403/404 from offerd itself, the token refreshed in place on
// `reauth`, the fallback to SSE when the upgrade is refused, and offerd's shutdown close.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createOfferClient } from "../src/offer-updates.js";
import { api, collect, counter, findOfferd, mintToken, newOffer, recordingFetch, sleep, startOfferd, waitFor } from "../testlib/offerd.js";

const found = findOfferd();
let WS = null;
try {
  WS = (await import("ws")).default; // a devDependency: `npm ci` (run-tests.sh) installs it
} catch {
  WS = null;
}
const skip = found.skip ?? (WS ? null : "the ws package is not installed (npm ci)");
if (skip) console.log(`# skipping the WebSocket end-to-end tests: ${skip}`);

/** The ws package's WebSocket, recording each socket's sent messages and closes. ORIGIN: sent as
 *  the Origin header, as a browser on that page would. */
function recordingWebSocket({ origin } = {}) {
  const sockets = [];
  class RecordedWebSocket extends WS {
    constructor(url, protocols) {
      super(url, protocols, origin ? { origin } : {});
      const rec = { url, sent: [], received: [], closes: [], opened: false, at: Date.now() };
      sockets.push(rec);
      this.rec = rec;
      this.addEventListener("open", () => { rec.opened = true; });
      this.addEventListener("message", (ev) => rec.received.push(JSON.parse(ev.data)));
      this.addEventListener("close", (ev) => rec.closes.push({ code: ev.code, reason: ev.reason, at: Date.now() }));
    }
    send(data, ...rest) {
      this.rec.sent.push(JSON.parse(data));
      return super.send(data, ...rest);
    }
  }
  return { WebSocket: RecordedWebSocket, sockets, opened: () => sockets.filter((s) => s.opened) };
}

const subscribed = (s, id) => s.sent.some((m) => m.type === "subscribe" && m.ids.includes(id));

if (skip) it("the ws transport against a real offerd", { skip }, () => {});
else describe("the ws transport against a real offerd", () => {
  let server;
  const clients = [];

  before(async () => {
    server = await startOfferd(found.bin);
    // Not an upgrade: 426. This offerd has GET /api/ws; a 404 here is a regression, not a skip.
    const probe = await fetch(`${server.baseUrl}/api/ws`);
    await probe.text();
    assert.equal(probe.status, 426);
  });

  after(async () => {
    for (const c of clients) c.close();
    await server?.stop(); // always, so no offerd outlives the tests
  });

  /** A client as WHO over the ws transport (or OPTIONS.transport), recording sockets and requests. */
  function clientAs(who, options = {}) {
    const sockets = recordingWebSocket(options.socketOptions);
    const rec = recordingFetch();
    const c = createOfferClient({ baseUrl: server.baseUrl, getToken: () => server.tokens[who], fetch: rec.fetch,
      WebSocket: sockets.WebSocket, transport: "ws", ...options.client });
    clients.push(c);
    return { client: c, rec, sockets };
  }

  it("pushes: the initial state by GET, then every change over one socket, auth first", async (t) => {
    const [a, b] = await Promise.all([newOffer(server), newOffer(server)]);
    const { client, rec, sockets } = clientAs("alice", { client: { transport: "auto" } });
    const wa = collect(client, a.id);
    const wb = collect(client, b.id);
    await waitFor(() => sockets.opened().length === 1 && subscribed(sockets.sockets[0], a.id) && subscribed(sockets.sockets[0], b.id),
      { what: "the subscription" });
    const s = sockets.sockets[0];
    assert.equal(new URL(s.url).pathname, "/api/ws");
    assert.ok(!s.url.includes(server.tokens.alice), "never a token in the URL");
    assert.deepEqual(s.sent[0], { type: "auth", token: server.tokens.alice });
    assert.deepEqual(s.sent[1], { type: "subscribe", ids: [a.id, b.id].sort(), versions: { [a.id]: 1, [b.id]: 1 } });
    await sleep(200);
    assert.deepEqual(s.received, [], "versions sent: offerd sends nothing the client has");

    await counter(server, "bob", a.id, 190);
    await waitFor(() => wa.updates.length === 2, { what: "the counter offer over the socket" });
    assert.equal(wa.updates[1].status, "COUNTERED");
    assert.deepEqual(wa.updates[1].counterOffers.map((c) => c.amount), [190]);
    // a write that ends it: Alice rejects Bob's counter (not an accept: the driver stays for the
    // other tests), and Bob's own socket shows it too
    const bob = clientAs("bob");
    const wbob = collect(bob.client, a.id);
    await waitFor(() => wbob.updates.length === 1 && bob.sockets.opened().length === 1 && subscribed(bob.sockets.sockets[0], a.id));
    const rejected = await api(server.baseUrl, server.tokens.alice, "PATCH", `/api/offers/${a.id}`, { status: "REJECTED" });
    assert.equal(rejected.status, 200);
    await waitFor(() => wbob.updates.at(-1)?.status === "REJECTED" && wa.updates.at(-1)?.status === "REJECTED",
      { what: "the reject on both sockets" });
    await counter(server, "bob", b.id, 180);
    await waitFor(() => wb.updates.length === 2, { what: "b's counter offer" });

    assert.deepEqual([wa.transports, wb.transports, wbob.transports], [["ws"], ["ws"], ["ws"]]);
    assert.deepEqual([...wa.errors, ...wb.errors, ...wbob.errors], []);
    assert.equal(sockets.sockets.length, 1, "one socket for the page");
    assert.equal(rec.streams().length, 0, "no SSE");
    for (const w of [wa, wb, wbob]) {
      const v = w.versions();
      assert.deepEqual(v, [...new Set(v)].sort((x, y) => x - y), "each version once, never backwards");
    }
    t.diagnostic(`versions a ${wa.versions()} b ${wb.versions()}`);

    // watches leave: unsubscribe; the last one closes the socket
    wb.handle.stop();
    await waitFor(() => s.sent.some((m) => m.type === "unsubscribe" && m.ids.includes(b.id)));
    wa.handle.stop();
    await waitFor(() => s.closes.length === 1, { what: "the socket closed with the last watch" });
  });

  it("per-offer 403 and 404 from offerd park those watches alone; the rest keep flowing", async (t) => {
    // Carol's own offer flows. Two more pass their first GET by a trick of the test (Alice's token
    // for one, a made-up answer for the other), so that offerd itself refuses them on the socket.
    const mine = await api(server.baseUrl, server.tokens.carol, "POST", "/api/offers", { productId: "demo_putter", amount: 200 });
    assert.equal(mine.status, 201);
    const alices = await newOffer(server);
    const sockets = recordingWebSocket();
    const fetchFn = (url, init = {}) => {
      const path = new URL(url).pathname;
      if (path === `/api/offers/${alices.id}`)
        return fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${server.tokens.alice}` } });
      if (path === "/api/offers/ghost_offer")
        return Promise.resolve(new Response(JSON.stringify({ ...alices, id: "ghost_offer" }), { headers: { "Content-Type": "application/json" } }));
      return fetch(url, init);
    };
    const client = createOfferClient({ baseUrl: server.baseUrl, getToken: () => server.tokens.carol, fetch: fetchFn,
      WebSocket: sockets.WebSocket, transport: "ws" });
    clients.push(client);
    const wm = collect(client, mine.body.id);
    const wx = collect(client, alices.id);
    const wg = collect(client, "ghost_offer");
    await waitFor(() => wx.errors.length === 1 && wg.errors.length === 1, { what: "the per-offer errors" });
    assert.equal(wx.errors[0].status, 403);
    assert.equal(wx.errors[0].offerId, alices.id);
    assert.equal(wx.errors[0].retryIn, null);
    assert.equal(wx.errors[0].transport, "ws");
    assert.match(wx.errors[0].message, /^HTTP 403: .+/);
    assert.equal(wg.errors[0].status, 404);
    assert.match(wg.errors[0].message, /^HTTP 404: .+/);
    await counter(server, "bob", mine.body.id, 280);
    await waitFor(() => wm.updates.length === 2, { what: "Carol's counter offer, still flowing" });
    await counter(server, "bob", alices.id, 190);
    await sleep(300);
    assert.deepEqual(wx.versions(), [1], "nothing of an offer that is not Carol's");
    assert.deepEqual(wm.errors, []);
    assert.equal(sockets.sockets.length, 1, "no reconnection");
  });

  it("reauth: the token is refreshed in place on the same socket, before offerd would close it", async (t) => {
    const offer = await newOffer(server);
    const sockets = recordingWebSocket();
    // The socket's first token is refused in 3 s (expired 27 s ago, inside offerd's 30 s leeway),
    // so offerd says reauth at once; later tokens expire in 3 s (then reauth again, 30 s before
    // offerd would refuse them). Without a refresh offerd would close the socket at 3 s.
    const auths = () => sockets.sockets.flatMap((s) => s.sent.filter((m) => m.type === "auth"));
    let calls = 0;
    const getToken = () => {
      calls++;
      return mintToken(server.secret, "user_demo_alice", { ttlSeconds: auths().length ? 3 : -27 });
    };
    const client = createOfferClient({ baseUrl: server.baseUrl, getToken, WebSocket: sockets.WebSocket, transport: "ws" });
    clients.push(client);
    const got = collect(client, offer.id);
    await waitFor(() => sockets.opened().length === 1 && subscribed(sockets.sockets[0], offer.id));
    await waitFor(() => sockets.sockets[0].received.some((m) => m.type === "reauth"), { what: "offerd's reauth" });
    await waitFor(() => auths().length >= 2, { what: "the fresh token" });
    await sleep(4500); // past the first token's end
    assert.equal(sockets.sockets.length, 1, "the same socket all along");
    assert.deepEqual(sockets.sockets[0].closes, []);
    const tokens = auths().map((m) => m.token);
    assert.equal(new Set(tokens).size, tokens.length, "a fresh token each time");
    await counter(server, "bob", offer.id, 190);
    await waitFor(() => got.updates.length === 2, { what: "the counter offer after the refresh" });
    assert.deepEqual(got.errors, []);
    assert.ok(calls >= 3);
  });

  it("auto falls back to SSE when offerd refuses the upgrade (a foreign Origin), and no error", async () => {
    const offer = await newOffer(server);
    const { client, rec, sockets } = clientAs("alice", { client: { transport: "auto" }, socketOptions: { origin: "http://elsewhere.test" } });
    const got = collect(client, offer.id);
    await waitFor(() => got.transports.includes("sse"), { what: "the fallback", timeoutMs: 10_000 });
    assert.deepEqual(got.transports, ["ws", "sse"]);
    assert.equal(sockets.sockets.length, 3, "three refused sockets");
    assert.equal(sockets.opened().length, 0);
    await waitFor(() => rec.streams().length === 1, { what: "the stream" });
    await sleep(100);
    await counter(server, "bob", offer.id, 190);
    await waitFor(() => got.updates.length === 2, { what: "the change over SSE" });
    assert.deepEqual(got.errors, [], "a refusal is not an error");
    // the refusal holds for the client: the next watch goes straight to SSE
    const other = collect(client, (await newOffer(server)).id);
    await waitFor(() => other.updates.length === 1);
    assert.deepEqual(other.transports, ["sse"]);
    assert.equal(sockets.sockets.length, 3);
  });
});

// A server of its own: this test stops it, and starts another on the same port.
if (!skip) describe("the ws transport across an offerd restart", () => {
  let first;
  let second;
  let client;

  after(async () => {
    client?.close();
    await first?.stop();
    await second?.stop();
  });

  it("offerd's shutdown close: back after its retry hint, on the new offerd", async (t) => {
    first = await startOfferd(found.bin);
    const port = new URL(first.baseUrl).port;
    let current = first;
    const sockets = recordingWebSocket();
    client = createOfferClient({ baseUrl: first.baseUrl, getToken: () => current.tokens.alice,
      WebSocket: sockets.WebSocket, transport: "ws" });
    const got = { updates: [], errors: [] };
    client.watch("demo_offer_1", { onUpdate: (o) => got.updates.push(o), onError: (e) => got.errors.push(e) });
    await waitFor(() => sockets.opened().length === 1 && subscribed(sockets.sockets[0], "demo_offer_1"));

    // offerd takes the auth message before stopping (an auth it reads while shutting down gets a
    // plain 1001 "shutting down", without the hint: the client then waits its own 1-1.5 s)
    await sleep(300);
    await first.stop(); // SIGTERM: offerd closes the socket with 1001 and a retry hint
    const [close] = sockets.sockets[0].closes;
    assert.equal(close.code, 1001);
    const hint = JSON.parse(close.reason);
    assert.equal(hint.reason, "shutdown");
    assert.ok(Number.isInteger(hint.retryMs) && hint.retryMs > 0, `retryMs ${hint.retryMs}`);
    t.diagnostic(`retry hint ${hint.retryMs} ms`);
    second = await startOfferd(found.bin, ["--port", port]);
    current = second;
    assert.equal(second.baseUrl, first.baseUrl, "the same address");

    await waitFor(() => sockets.opened().length === 2 && subscribed(sockets.sockets[1], "demo_offer_1"),
      { what: "the socket on the new offerd", timeoutMs: hint.retryMs * 1.5 + 5000 });
    const after = sockets.sockets[1].at - close.at;
    assert.ok(after >= hint.retryMs - 50, `reconnected after ${after} ms, hint ${hint.retryMs} ms`);
    assert.equal(sockets.sockets.length, 2, "no attempt before the hint");
    await counter(second, "bob", "demo_offer_1", 190);
    await waitFor(() => got.updates.some((o) => o.status === "COUNTERED"), { what: "the change on the new offerd" });
    assert.deepEqual(got.errors, []);
  });
});
