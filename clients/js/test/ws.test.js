// The WebSocket transport: its pure parts (URL, subscription diffing, messages, closes), then the
// shared socket against a scripted WebSocket class and a scripted fetch.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { createOfferClient, readSocketClose, readSocketMessage, subscriptionChanges, webSocketUrl } from "../src/offer-updates.js";
import { sleep, waitFor } from "../testlib/offerd.js";

const offer = (version, id = "o1") => ({ id, version, status: "PENDING", amount: 150 });
const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/**
 * A WebSocket class whose sockets the test drives: open(), receive(message), serverClose(code,
 * reason), refuse() (fails before opening, as a refused upgrade does in a browser). `behaviour`
 * says what a new socket does by itself: "open" (at once), "refuse" or "wait".
 */
function fakeSockets(behaviour = "open") {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      this.clientClosed = null;
      sockets.push(this);
      const now = fake.behaviour;
      setTimeout(() => {
        if (this.readyState !== 0) return;
        if (now === "open") this.open();
        else if (now === "refuse") this.refuse();
      }, 1);
    }
    send(text) {
      if (this.readyState !== 1) throw new Error("InvalidStateError: not open");
      this.sent.push(JSON.parse(text));
    }
    close(code = 1000) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.clientClosed = code;
      setTimeout(() => this.onclose?.({ code, reason: "" }), 0);
    }
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    receive(message) {
      this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
    }
    serverClose(code, reason = "") {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
    refuse() {
      this.readyState = 3;
      this.onerror?.({});
      this.onclose?.({ code: 1006, reason: "" });
    }
    kinds() {
      return this.sent.map((m) => m.type);
    }
  }
  const fake = { WebSocket: FakeWebSocket, sockets, behaviour, last: () => sockets.at(-1) };
  return fake;
}

/** fetch answering GET /api/offers/{id} with versions[id] (default 1); SSE streams stay open. */
function scripted(versions = {}) {
  const requests = [];
  const bodies = []; // the SSE streams' controllers: close() ends one, as offerd would
  const fetch = async (url, init = {}) => {
    const u = new URL(url);
    requests.push({ url: String(url), path: u.pathname, headers: init.headers || {} });
    init.signal?.throwIfAborted();
    if (u.pathname === "/api/offers/events") {
      let ctrl;
      const body = new ReadableStream({ start: (c) => { ctrl = c; } });
      bodies.push(ctrl);
      init.signal?.addEventListener("abort", () => { try { ctrl.error(new DOMException("aborted", "AbortError")); } catch {} });
      return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
    }
    const id = u.pathname.split("/").pop();
    const v = versions[id] ?? 1;
    if (v === 403) return json({ error: "this offer is not yours to see" }, 403);
    return json(offer(v, id));
  };
  return { fetch, requests, bodies, streams: () => requests.filter((r) => r.path === "/api/offers/events") };
}

const clients = [];
function client(options) {
  const c = createOfferClient({ baseUrl: "http://offerd.test", transport: "ws", ...options });
  clients.push(c);
  return c;
}
afterEach(() => {
  while (clients.length) clients.pop().close();
  delete globalThis.document;
});

function collect(c, id, options = {}) {
  const got = { updates: [], errors: [], transports: [] };
  got.handle = c.watch(id, {
    onUpdate: (o) => got.updates.push(o.version),
    onError: (e) => got.errors.push(e),
    onTransport: (t) => got.transports.push(t),
    ...options,
  });
  return got;
}

/** Math.random() = 0 for the duration: backoff and jitter at their shortest. */
async function withoutJitter(fn) {
  const random = Math.random;
  Math.random = () => 0;
  try {
    return await fn();
  } finally {
    Math.random = random;
  }
}

describe("WebSocket: pure parts", () => {
  it("webSocketUrl: ws for http, wss for https, the page's origin for a relative base", () => {
    assert.equal(webSocketUrl("http://127.0.0.1:8080"), "ws://127.0.0.1:8080/api/ws");
    assert.equal(webSocketUrl("https://offers.example.com"), "wss://offers.example.com/api/ws");
    assert.equal(webSocketUrl("", "https://shop.example.com/offers?x=1"), "wss://shop.example.com/api/ws");
    assert.equal(webSocketUrl("/offerd", "http://shop.test/a/b"), "ws://shop.test/offerd/api/ws");
    assert.equal(webSocketUrl("", undefined), null, "no page, no base: nowhere to connect");
    assert.equal(webSocketUrl("ftp://x"), null);
  });

  it("subscriptionChanges: new ids with their versions, late joiners behind, ids gone", () => {
    const none = subscriptionChanges(new Map(), new Map());
    assert.deepEqual(none, { subscribe: [], versions: {}, unsubscribe: [] });
    assert.deepEqual(subscriptionChanges(new Map(), new Map([["b", 3], ["a", -1]])),
      { subscribe: ["a", "b"], versions: { b: 3 }, unsubscribe: [] });
    const subscribed = new Map([["a", 4], ["b", 2], ["c", 7]]);
    assert.deepEqual(subscriptionChanges(subscribed, new Map([["a", 4], ["b", 5], ["d", 1]])),
      { subscribe: ["d"], versions: { d: 1 }, unsubscribe: ["c"] }, "a watch ahead of offerd needs nothing");
    assert.deepEqual(subscriptionChanges(subscribed, new Map([["a", 3], ["b", 2], ["c", 7]])),
      { subscribe: ["a"], versions: { a: 3 }, unsubscribe: [] }, "a watch behind: offerd sends the offer again");
  });

  it("readSocketMessage: offers, errors with and without an id, reauth; nothing else", () => {
    assert.deepEqual(readSocketMessage(JSON.stringify({ type: "offer", offer: offer(2) })), { type: "offer", offer: offer(2) });
    assert.deepEqual(readSocketMessage('{"type":"error","id":"o2","status":403,"error":"not yours"}'),
      { type: "error", id: "o2", status: 403, error: "not yours" });
    assert.deepEqual(readSocketMessage('{"type":"error","status":401,"error":"send an auth message first"}'),
      { type: "error", id: null, status: 401, error: "send an auth message first" });
    assert.deepEqual(readSocketMessage('{"type":"reauth"}'), { type: "reauth" });
    for (const junk of ['{"type":"offer","offer":{"id":"o1"}}', '{"type":"error","id":"o1"}', '{"type":"hello"}',
      "not json", "null", "[]", new ArrayBuffer(4)])
      assert.equal(readSocketMessage(junk), null, String(junk));
  });

  it("readSocketClose: offerd's shutdown hint, policy, try again later, cuts", () => {
    assert.deepEqual(readSocketClose(1001, '{"reason":"shutdown","retryMs":2345}'), { kind: "shutdown", retryMs: 2345 });
    assert.deepEqual(readSocketClose(1001, "going away"), { kind: "shutdown", retryMs: null });
    assert.deepEqual(readSocketClose(1008, "token expired; reconnect with a fresh one"), { kind: "policy", retryMs: null });
    assert.equal(readSocketClose(1013, "too many open streams; retry later").kind, "later");
    assert.equal(readSocketClose(1000).kind, "normal");
    assert.equal(readSocketClose(1006).kind, "cut");
    assert.equal(readSocketClose(1001, '{"retryMs":99999999999}').retryMs, 3600_000, "capped at an hour");
  });
});

describe("WebSocket: the shared socket (scripted)", () => {
  it("one socket for every watch: auth first, one subscribe with the versions, never backwards", async () => {
    const ws = fakeSockets();
    const server = scripted({ o1: 3, o2: 1 });
    const c = client({ fetch: server.fetch, WebSocket: ws.WebSocket, getToken: () => "tok-1" });
    const a = collect(c, "o1");
    const b = collect(c, "o2");
    const a2 = collect(c, "o1"); // the same offer twice: one subscription, two callbacks
    await waitFor(() => ws.last()?.kinds().includes("subscribe"), { what: "the subscribe" });
    await sleep(50);
    assert.equal(ws.sockets.length, 1, "one socket for the page");
    const s = ws.last();
    assert.equal(s.url, "ws://offerd.test/api/ws", "no token in the URL");
    assert.deepEqual(s.sent, [{ type: "auth", token: "tok-1" },
      { type: "subscribe", ids: ["o1", "o2"], versions: { o1: 3, o2: 1 } }]);
    assert.deepEqual([a.transports, b.transports], [["ws"], ["ws"]]);

    s.receive({ type: "offer", offer: offer(4, "o1") });
    s.receive({ type: "offer", offer: offer(4, "o1") }); // a repeat
    s.receive({ type: "offer", offer: offer(2, "o1") }); // older
    s.receive({ type: "offer", offer: offer(2, "o2") });
    s.receive({ type: "offer", offer: offer(9, "o3") }); // not watched
    s.receive("garbage");
    assert.deepEqual([a.updates, a2.updates, b.updates], [[3, 4], [3, 4], [1, 2]]);

    b.handle.stop();
    await waitFor(() => s.kinds().includes("unsubscribe"));
    assert.deepEqual(s.sent.at(-1), { type: "unsubscribe", ids: ["o2"] });
    a.handle.stop();
    await sleep(50);
    assert.equal(s.clientClosed, null, "still one watch of o1");
    a2.handle.stop();
    await waitFor(() => s.clientClosed === 1000, { what: "the socket closed with the last watch" });
    assert.deepEqual([...a.errors, ...b.errors, ...a2.errors], []);
    assert.equal(ws.sockets.length, 1);
  });

  it("a socket open before the first GETs are back waits for them: one subscribe for the page", async () => {
    const ws = fakeSockets();
    const server = scripted();
    const slow = async (url, init) => { // o2's first GET takes a while
      if (url.endsWith("/o2")) await sleep(150);
      return server.fetch(url, init);
    };
    const c = client({ fetch: slow, WebSocket: ws.WebSocket });
    collect(c, "o1");
    collect(c, "o2");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"), { what: "the subscribe" });
    await sleep(100);
    assert.deepEqual(ws.last().sent, [{ type: "subscribe", ids: ["o1", "o2"], versions: { o1: 1, o2: 1 } }]);
  });

  it("a watch that joins later is subscribed on the open socket, without reconnecting", async () => {
    const ws = fakeSockets();
    const server = scripted({ o1: 2, o2: 5 });
    const c = client({ fetch: server.fetch, WebSocket: ws.WebSocket });
    collect(c, "o1");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    assert.deepEqual(ws.last().sent, [{ type: "subscribe", ids: ["o1"], versions: { o1: 2 } }], "no token: no auth message");
    const b = collect(c, "o2");
    await waitFor(() => ws.last().sent.length === 2);
    assert.deepEqual(ws.last().sent[1], { type: "subscribe", ids: ["o2"], versions: { o2: 5 } });
    assert.equal(ws.sockets.length, 1);
    assert.deepEqual(b.updates, [5]);
  });

  it("a per-offer 403 or 404 parks only that watch; the others keep flowing", async () => {
    const ws = fakeSockets();
    const server = scripted();
    const c = client({ fetch: server.fetch, WebSocket: ws.WebSocket });
    const a = collect(c, "o1");
    const b = collect(c, "o2");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    const s = ws.last();
    s.receive({ type: "error", id: "o2", status: 403, error: "offer o2 is not yours to watch" });
    assert.equal(b.errors.length, 1);
    assert.equal(b.errors[0].status, 403);
    assert.equal(b.errors[0].offerId, "o2");
    assert.equal(b.errors[0].retryIn, null);
    assert.equal(b.errors[0].transport, "ws");
    assert.equal(b.errors[0].message, "HTTP 403: offer o2 is not yours to watch");
    s.receive({ type: "offer", offer: offer(2, "o1") });
    s.receive({ type: "offer", offer: offer(2, "o2") });
    assert.deepEqual([a.updates, b.updates], [[1, 2], [1]]);
    await sleep(60);
    assert.ok(!s.kinds().includes("unsubscribe"), "offerd already dropped it");
    assert.deepEqual(a.errors, []);
    assert.equal(ws.sockets.length, 1);
    // refetch() tries the parked one again: it joins the same socket
    await b.handle.refetch();
    await waitFor(() => s.sent.filter((m) => m.type === "subscribe").length === 2);
    assert.deepEqual(s.sent.at(-1), { type: "subscribe", ids: ["o2"], versions: { o2: 1 } });
  });

  it("reauth: a fresh token in an auth message on the same socket, no error", async () => {
    const ws = fakeSockets();
    let n = 0;
    const c = client({ fetch: scripted().fetch, WebSocket: ws.WebSocket, getToken: async () => `tok-${++n}` });
    const a = collect(c, "o1");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    const s = ws.last();
    await sleep(1100); // not right after our auth: answered at once
    s.receive({ type: "reauth" });
    await waitFor(() => s.sent.filter((m) => m.type === "auth").length === 2, { what: "the second auth" });
    const auths = s.sent.filter((m) => m.type === "auth").map((m) => m.token);
    assert.notEqual(auths[0], auths[1]);
    assert.equal(ws.sockets.length, 1, "refreshed in place");
    s.receive({ type: "offer", offer: offer(2) });
    assert.deepEqual(a.updates, [1, 2]);
    assert.deepEqual(a.errors, []);
  });

  it("a shutdown close: back after offerd's retry hint, resubscribed with the versions, no error", async () => {
    const ws = fakeSockets();
    const c = client({ fetch: scripted().fetch, WebSocket: ws.WebSocket, getToken: () => "tok" });
    const a = collect(c, "o1");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    ws.last().receive({ type: "offer", offer: offer(2) });
    await sleep(1050); // a socket that lived: no strike
    const closedAt = Date.now();
    ws.last().serverClose(1001, JSON.stringify({ reason: "shutdown", retryMs: 300 }));
    await waitFor(() => ws.sockets.length === 2 && ws.last().kinds().includes("subscribe"), { what: "the reconnection" });
    const waited = Date.now() - closedAt;
    assert.ok(waited >= 290 && waited < 1500, `came back after ${waited} ms (hint 300 ms plus up to half)`);
    assert.deepEqual(ws.last().sent, [{ type: "auth", token: "tok" }, { type: "subscribe", ids: ["o1"], versions: { o1: 2 } }]);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(a.updates, [1, 2]);
  });

  it("1008 (the token expired): back at once with a fresh token; refused twice at once: 401 over HTTP parks", async () => {
    const ws = fakeSockets();
    let n = 0;
    const server = scripted();
    let bad = false;
    const fetch = async (url, init) => (bad ? json({ error: "invalid token" }, 401) : server.fetch(url, init));
    const c = client({ fetch, WebSocket: ws.WebSocket, getToken: () => `tok-${++n}` });
    const a = collect(c, "o1");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    await sleep(1050);
    const t0 = Date.now();
    ws.last().serverClose(1008, "token expired; reconnect with a fresh one");
    await waitFor(() => ws.sockets.length === 2 && ws.last().kinds().includes("subscribe"));
    assert.ok(Date.now() - t0 < 600, "at once");
    assert.notEqual(ws.sockets[0].sent[0].token, ws.sockets[1].sent[0].token);
    assert.deepEqual(a.errors, []);
    // now the token is refused outright: closed right after each auth
    bad = true;
    await withoutJitter(async () => {
      ws.behaviour = "wait";
      ws.last().serverClose(1008, "invalid token"); // right after opening: once, may be bad luck
      await waitFor(() => ws.sockets.length === 3);
      ws.last().open();
      ws.last().serverClose(1008, "invalid token"); // twice: ask over HTTP
      await waitFor(() => a.errors.length === 1, { what: "the 401" });
    });
    assert.equal(a.errors[0].status, 401);
    assert.equal(a.errors[0].retryIn, null);
    await sleep(100);
    assert.equal(ws.sockets.length, 3, "parked: no more sockets");
  });

  it("auto: sockets refused before opening, HTTP answering: SSE, and no error", async () => {
    await withoutJitter(async () => {
      const ws = fakeSockets("refuse");
      const server = scripted();
      const c = client({ fetch: server.fetch, WebSocket: ws.WebSocket, transport: "auto" });
      const a = collect(c, "o1");
      await waitFor(() => a.transports.includes("sse"), { what: "the fallback" });
      assert.deepEqual(a.transports, ["ws", "sse"]);
      assert.equal(ws.sockets.length, 3, "three strikes");
      await waitFor(() => server.streams().length === 1, { what: "the stream" });
      assert.deepEqual(a.errors, [], "a refusal is not an error");
      // the refusal sticks for the client: a new watch goes straight to SSE
      const b = collect(c, "o2");
      await waitFor(() => b.updates.length === 1);
      await sleep(50);
      assert.deepEqual(b.transports, ["sse"]);
      assert.equal(ws.sockets.length, 3);
    });
  });

  it("auto: back from SSE to the WebSocket at a reconnection once the refusal has expired", async () => {
    await withoutJitter(async () => {
      const ws = fakeSockets("refuse");
      const server = scripted();
      const c = client({ fetch: server.fetch, WebSocket: ws.WebSocket, transport: "auto" });
      const a = collect(c, "o1");
      await waitFor(() => server.streams().length === 1, { what: "SSE after three refusals" });
      ws.behaviour = "open"; // the proxy lets WebSockets through again
      c.refusedUntil.ws = 0; // and five minutes have passed
      await sleep(50);
      assert.deepEqual(a.transports, ["ws", "sse"], "a working stream stays");
      const e = new TextEncoder();
      server.bodies[0].enqueue(e.encode(`retry: 10\nevent: offer\ndata: ${JSON.stringify(offer(2))}\n\n`));
      server.bodies[0].close(); // offerd ended the stream: a reconnection
      await waitFor(() => a.transports.length === 3 && ws.last()?.kinds().includes("subscribe"), { what: "the WebSocket again" });
      assert.deepEqual(a.transports, ["ws", "sse", "ws"]);
      assert.deepEqual(ws.last().sent, [{ type: "subscribe", ids: ["o1"], versions: { o1: 2 } }]);
      assert.equal(server.streams().length, 1, "no second stream");
      assert.deepEqual(a.errors, []);
      assert.deepEqual(a.updates, [1, 2]);
    });
  });

  it("auto: sockets failing while HTTP fails too: errors and retries, no fallback", async () => {
    await withoutJitter(async () => {
      const ws = fakeSockets("refuse");
      const server = scripted();
      let requests = 0;
      const fetch = async (url, init) => { // the first GET answers, then offerd is gone
        if (++requests > 1) throw new TypeError("fetch failed");
        return server.fetch(url, init);
      };
      const c = client({ fetch, WebSocket: ws.WebSocket, transport: "auto" });
      const a = collect(c, "o1");
      await waitFor(() => a.updates.length === 1);
      await waitFor(() => a.errors.length >= 1, { what: "an error" });
      assert.equal(a.errors[0].status, 0);
      assert.equal(typeof a.errors[0].retryIn, "number");
      assert.deepEqual(a.transports, ["ws"], "offerd is down, not refusing the socket");
    });
  });

  it("1013 (try again later) is an error with backoff, and no fallback even when it comes at once", async () => {
    await withoutJitter(async () => {
      const ws = fakeSockets();
      const c = client({ fetch: scripted().fetch, WebSocket: ws.WebSocket, transport: "auto" });
      const a = collect(c, "o1");
      for (let i = 1; i <= 4; i++) {
        await waitFor(() => ws.sockets.length === i && ws.last().kinds().includes("subscribe"), { what: `socket ${i}` });
        ws.last().serverClose(1013, "too many open streams; retry later");
      }
      await waitFor(() => a.errors.length === 4);
      assert.match(a.errors[0].message, /too many open streams; retry later \(1013\)/);
      assert.deepEqual(a.transports, ["ws"], "offerd's caps are shared by every transport: no use moving");
    });
  });

  it("no token and no cookie: offerd asks for auth; the offers answer 401 over HTTP too, and park", async () => {
    const ws = fakeSockets();
    const server = scripted();
    let gets = 0;
    const fetch = async (url, init) => (++gets > 1 ? json({ error: "sign in first" }, 401) : server.fetch(url, init));
    const c = client({ fetch, WebSocket: ws.WebSocket });
    const a = collect(c, "o1");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    assert.ok(!ws.last().kinds().includes("auth"));
    ws.last().receive({ type: "error", status: 401, error: "send an auth message first" });
    await waitFor(() => a.errors.length === 1);
    assert.equal(a.errors[0].status, 401);
    assert.equal(a.errors[0].retryIn, null);
    await waitFor(() => ws.last().clientClosed === 1000, { what: "the socket let go with its last watch" });
  });

  it("an auth offerd could not check (5xx): the token again shortly, then the subscriptions", async () => {
    await withoutJitter(async () => {
      const ws = fakeSockets();
      let n = 0;
      const c = client({ fetch: scripted().fetch, WebSocket: ws.WebSocket, getToken: () => `tok-${++n}` });
      const a = collect(c, "o1");
      await waitFor(() => ws.last()?.kinds().includes("subscribe"));
      const s = ws.last();
      s.receive({ type: "error", status: 503, error: "the database is unavailable; send the token again shortly" });
      s.receive({ type: "error", status: 401, error: "send an auth message first" }); // the subscribe
      await waitFor(() => s.sent.length === 4, { what: "auth and subscribe again" });
      assert.deepEqual(s.kinds(), ["auth", "subscribe", "auth", "subscribe"]);
      assert.deepEqual(s.sent[3], { type: "subscribe", ids: ["o1"], versions: { o1: 1 } });
      await sleep(50);
      assert.deepEqual(a.errors, []);
      assert.equal(ws.sockets.length, 1);
    });
  });

  it("transport ws without any WebSocket class: the watch says so and stops", async () => {
    const c = client({ fetch: scripted().fetch, WebSocket: false });
    const a = collect(c, "o1");
    await waitFor(() => a.errors.length === 1);
    assert.equal(a.errors[0].retryIn, null);
    assert.match(a.errors[0].message, /no WebSocket here/);
    const auto = collect(client({ fetch: scripted().fetch, WebSocket: false, transport: "auto" }), "o1");
    await waitFor(() => auto.updates.length === 1);
    await sleep(50);
    assert.deepEqual(auto.transports, ["sse"], "auto skips what is not there");
  });

  it("an offer with no room on the socket (offerd's 400): auto takes SSE for that one offer", async () => {
    const ws = fakeSockets();
    const server = scripted();
    const c = client({ fetch: server.fetch, WebSocket: ws.WebSocket, transport: "auto" });
    const a = collect(c, "o1");
    const b = collect(c, "o2");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    ws.last().receive({ type: "error", id: "o2", status: 400, error: "too many subscriptions on this socket (at most 64)" });
    await waitFor(() => b.transports.includes("sse"));
    await waitFor(() => server.streams().length === 1);
    assert.deepEqual([a.transports, b.transports], [["ws"], ["ws", "sse"]]);
    assert.deepEqual([...a.errors, ...b.errors], []);
  });

  it("closes the socket while the page is hidden, and opens one at once when it is visible", async () => {
    const doc = new EventTarget();
    doc.visibilityState = "visible";
    globalThis.document = doc;
    const ws = fakeSockets();
    const c = client({ fetch: scripted().fetch, WebSocket: ws.WebSocket });
    collect(c, "o1");
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    doc.visibilityState = "hidden";
    doc.dispatchEvent(new Event("visibilitychange"));
    await waitFor(() => ws.last().clientClosed === 1000, { what: "closed while hidden" });
    doc.visibilityState = "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
    await waitFor(() => ws.sockets.length === 2 && ws.last().kinds().includes("subscribe"), { timeoutMs: 1000 });
  });

  it("a cut socket is an error with backoff; the next one resubscribes", async () => {
    const ws = fakeSockets();
    const c = client({ fetch: scripted().fetch, WebSocket: ws.WebSocket });
    let recovered = 0;
    const a = collect(c, "o1", { onRecover: () => recovered++ });
    await waitFor(() => ws.last()?.kinds().includes("subscribe"));
    await withoutJitter(async () => {
      ws.last().serverClose(1006);
      await waitFor(() => a.errors.length === 1);
      assert.equal(a.errors[0].status, 0);
      assert.equal(a.errors[0].transport, "ws");
      assert.equal(a.errors[0].retryIn, 0);
      await waitFor(() => ws.sockets.length === 2 && ws.last().kinds().includes("subscribe"));
    });
    assert.equal(recovered, 1, "the socket opening again is a recovery");
  });
});
