// The watch engine against a scripted fetch: resume, Retry-After, giving up, ordering, visibility.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { createOfferClient, fetchOffer, configureOffers } from "../src/offer-updates.js";
import { sleep, waitFor } from "../testlib/offerd.js";

const offer = (version, id = "o1") => ({ id, version, status: "PENDING", amount: 150 });
const json = (body, status = 200, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

/** A Response whose event-stream body the test writes; it errors when the request is aborted. */
function eventStream(signal) {
  let ctrl;
  const body = new ReadableStream({ start: (c) => { ctrl = c; } });
  const enc = new TextEncoder();
  signal?.addEventListener("abort", () => { try { ctrl.error(new DOMException("aborted", "AbortError")); } catch {} });
  return {
    response: new Response(body, { headers: { "Content-Type": "text/event-stream; charset=utf-8" } }),
    write: (text) => ctrl.enqueue(enc.encode(text)),
    writeBytes: (bytes) => ctrl.enqueue(bytes),
    end: () => ctrl.close(),
  };
}

/** fetch(url, init) answered by route(request) where request = {url, path, query, headers, signal}. */
function scripted(route) {
  const requests = [];
  const fetch = async (url, init = {}) => {
    const u = new URL(url);
    const req = { url: String(url), path: u.pathname, query: u.searchParams, headers: init.headers || {}, signal: init.signal };
    requests.push(req);
    init.signal?.throwIfAborted();
    return route(req, requests);
  };
  return { fetch, requests };
}

const clients = [];
function client(options) {
  // WebSocket: false: these tests are about HTTP transports, also on a Node that has a WebSocket
  const c = createOfferClient({ baseUrl: "http://offerd.test", WebSocket: false, ...options });
  clients.push(c);
  return c;
}
afterEach(() => {
  while (clients.length) clients.pop().close();
  delete globalThis.document;
});

describe("watch engine (scripted server)", () => {
  it("resumes the stream with Last-Event-ID and honours retry:, one callback per version", async () => {
    const streams = [];
    const server = scripted((req) => {
      if (req.path === "/api/offers/o1") return json(offer(3), 200, { ETag: '"3-a"' });
      const s = eventStream(req.signal);
      streams.push(s);
      return s.response;
    });
    const updates = [];
    const c = client({ fetch: server.fetch, getToken: async () => "tok123", transport: "sse" });
    c.watch("o1", { onUpdate: (o) => updates.push(o.version) });
    await waitFor(() => streams.length === 1, { what: "the stream" });
    streams[0].write("retry: 20\nevent: offer\nid: 3\ndata: " + JSON.stringify(offer(3)) + "\n\n");
    streams[0].end();
    await waitFor(() => streams.length === 2, { what: "the reconnection" });
    streams[1].write("event: offer\nid: 4\ndata: " + JSON.stringify(offer(4)) + "\n\n: heartbeat\n\n");
    await waitFor(() => updates.length === 2, { what: "version 4" });
    assert.deepEqual(updates, [3, 4]);
    const [first, second] = server.requests.filter((r) => r.path === "/api/offers/events");
    assert.equal(first.query.get("ids"), "o1");
    assert.equal(first.headers["Last-Event-ID"], undefined);
    assert.equal(second.headers["Last-Event-ID"], "3");
    assert.equal(second.headers.Accept, "text/event-stream");
    for (const r of server.requests) {
      assert.equal(r.headers.Authorization, "Bearer tok123");
      assert.ok(!r.url.includes("tok123"), "the token never goes in a URL");
    }
  });

  it("decodes UTF-8 split across network reads", async () => {
    const streams = [];
    const server = scripted((req) => {
      if (req.path === "/api/offers/o1") return json(offer(1));
      const s = eventStream(req.signal);
      streams.push(s);
      return s.response;
    });
    const updates = [];
    client({ fetch: server.fetch, transport: "sse" }).watch("o1", { onUpdate: (o) => updates.push(o) });
    await waitFor(() => streams.length === 1);
    const bytes = new TextEncoder().encode(`event: offer\r\ndata: ${JSON.stringify({ ...offer(2), message: "Pütter €" })}\r\n\r\n`);
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ü"
    streams[0].writeBytes(bytes.slice(0, cut));
    await sleep(5);
    streams[0].writeBytes(bytes.slice(cut));
    await waitFor(() => updates.length === 2);
    assert.equal(updates[1].message, "Pütter €");
  });

  it("a stream refused for one offer drops that offer and reopens for the others", async () => {
    let forbidden = false; // o2 becomes someone else's between its first GET and the stream
    const streams = [];
    const server = scripted((req) => {
      if (req.path === "/api/offers/events") {
        if (forbidden && req.query.get("ids").includes("o2")) return json({ error: "offer o2 is not yours to watch" }, 403);
        const s = eventStream(req.signal);
        streams.push({ ids: req.query.get("ids"), ...s });
        return s.response;
      }
      const id = req.path.split("/").pop();
      if (id === "o2" && forbidden) return json({ error: "this offer is not yours to see" }, 403);
      if (id === "o2") forbidden = true;
      return json(offer(1, id));
    });
    const c = client({ fetch: server.fetch });
    const errors = { o1: [], o2: [] };
    const updates = { o1: [], o2: [] };
    for (const id of ["o1", "o2"])
      c.watch(id, { onError: (e) => errors[id].push(e), onUpdate: (o) => updates[id].push(o.version) });
    await waitFor(() => streams.length === 1, { what: "the stream without o2" });
    assert.equal(streams[0].ids, "o1");
    assert.deepEqual(errors.o2.map((e) => [e.status, e.retryIn]), [[403, null]]);
    assert.deepEqual(errors.o1, []);
    streams[0].write(`event: offer\ndata: ${JSON.stringify(offer(2, "o1"))}\n\n`);
    await waitFor(() => updates.o1.length === 2);
    assert.deepEqual(updates, { o1: [1, 2], o2: [1] });
  });

  it("an offer-error on the stream gives up on that offer only, and the stream goes on", async () => {
    const streams = [];
    const server = scripted((req) => {
      if (req.path === "/api/offers/events") {
        const s = eventStream(req.signal);
        streams.push({ ids: req.query.get("ids"), ...s });
        return s.response;
      }
      return json(offer(1, req.path.split("/").pop()));
    });
    const c = client({ fetch: server.fetch, transport: "sse" });
    const errors = { o1: [], o2: [] };
    const updates = { o1: [], o2: [] };
    for (const id of ["o1", "o2"])
      c.watch(id, { onError: (e) => errors[id].push(e), onUpdate: (o) => updates[id].push(o.version) });
    await waitFor(() => streams.length === 1, { what: "the stream" });
    assert.equal(streams[0].ids, "o1,o2");
    // o2 became someone else's after its first GET
    streams[0].write(`event: offer-error\ndata: ${JSON.stringify({ id: "o2", status: 403, error: "offer o2 is not yours to watch" })}\n\n`);
    await waitFor(() => errors.o2.length === 1, { what: "o2's error" });
    const e = errors.o2[0];
    assert.ok(e instanceof Error);
    assert.deepEqual([e.status, e.offerId, e.retryIn, e.message], [403, "o2", null, "HTTP 403: offer o2 is not yours to watch"]);
    streams[0].write(`event: offer\ndata: ${JSON.stringify(offer(2, "o1"))}\n\n`);
    await waitFor(() => updates.o1.length === 2, { what: "o1 still streaming" });
    await sleep(100); // past the hub's debounce: o2 leaving must not reopen the stream
    assert.equal(streams.length, 1, "no reconnection");
    assert.deepEqual(errors.o1, []);
    assert.deepEqual(updates, { o1: [1, 2], o2: [1] });
    // a malformed offer-error is ignored
    streams[0].write("event: offer-error\ndata: {nope\n\nevent: offer-error\ndata: {\"id\":\"o1\"}\n\n");
    streams[0].write(`event: offer\ndata: ${JSON.stringify(offer(3, "o1"))}\n\n`);
    await waitFor(() => updates.o1.length === 3);
    assert.deepEqual(errors.o1, []);
  });

  it("reauth: back at once with a fresh token, from the last id, and no error", async () => {
    const streams = [];
    const server = scripted((req) => {
      if (req.path === "/api/offers/o1") return json(offer(3));
      const s = eventStream(req.signal);
      streams.push({ req, ...s });
      return s.response;
    });
    let tokens = 0;
    const errors = [];
    const updates = [];
    client({ fetch: server.fetch, getToken: () => `t${++tokens}`, transport: "sse" })
      .watch("o1", { onError: (e) => errors.push(e), onUpdate: (o) => updates.push(o.version) });
    await waitFor(() => streams.length === 1, { what: "the stream" });
    // retry: 60000 would hold an ordinary end for a minute; reauth does not wait for it
    streams[0].write(`retry: 60000\nevent: offer\ndata: ${JSON.stringify(offer(4))}\nid: 41:0123456789abcdef\n\n`);
    await sleep(1100); // a stream that lived (one that says reauth at once backs off)
    streams[0].write(`event: reauth\ndata: {"error":"token expired; reconnect with a fresh one"}\n\n`);
    streams[0].end();
    await waitFor(() => streams.length === 2, { what: "the reconnection", timeoutMs: 2000 });
    const [first, second] = streams.map((s) => s.req.headers);
    assert.notEqual(second.Authorization, first.Authorization);
    assert.equal(second.Authorization, `Bearer t${tokens}`);
    assert.equal(second["Last-Event-ID"], "41:0123456789abcdef");
    streams[1].write(`event: offer\ndata: ${JSON.stringify(offer(5))}\nid: 42:0123456789abcdef\n\n`);
    await waitFor(() => updates.length === 3);
    assert.deepEqual(updates, [3, 4, 5]);
    assert.deepEqual(errors, []);
  });

  it("never calls back for a repeated or older version", async () => {
    const versions = [2, 2, 1, 3, 3];
    let i = 0;
    const server = scripted(() => json(offer(versions[Math.min(i++, versions.length - 1)])));
    const updates = [];
    client({ fetch: server.fetch, transport: "poll" }).watch("o1", { interval: 5, onUpdate: (o) => updates.push(o.version) });
    await waitFor(() => i >= versions.length + 1, { what: "the polls" });
    assert.deepEqual(updates, [2, 3]);
  });

  it("sends If-None-Match and makes no callback for a 304", async () => {
    const server = scripted((req) =>
      req.headers["If-None-Match"] === '"1-x"' ? new Response(null, { status: 304 }) : json(offer(1), 200, { ETag: '"1-x"' }));
    let updates = 0;
    client({ fetch: server.fetch, transport: "poll" }).watch("o1", { interval: 5, onUpdate: () => updates++ });
    await waitFor(() => server.requests.length >= 4, { what: "polls" });
    assert.equal(updates, 1);
  });

  it("honours Retry-After on 429 and passes the server's message", async () => {
    const server = scripted(() => json({ error: "slow down" }, 429, { "Retry-After": "7" }));
    const errors = [];
    client({ fetch: server.fetch, transport: "poll" }).watch("o1", { interval: 10, onError: (e) => errors.push(e) });
    await waitFor(() => errors.length === 1, { what: "the error" });
    const e = errors[0];
    assert.ok(e instanceof Error);
    assert.equal(e.status, 429);
    assert.equal(e.message, "HTTP 429: slow down");
    assert.equal(e.offerId, "o1");
    assert.ok(e.retryIn >= 7000, `retryIn ${e.retryIn}`);
    await sleep(50);
    assert.equal(server.requests.length, 1, "no retry before Retry-After");
  });

  it("stops retrying on 403 and 404, keeps the offer, and refetch() tries again", async () => {
    let status = 200;
    const server = scripted(() => (status === 200 ? json(offer(1)) : json({ error: "offer not found" }, status)));
    const errors = [];
    const updates = [];
    const h = client({ fetch: server.fetch, transport: "poll" })
      .watch("o1", { interval: 5, onError: (e) => errors.push(e), onUpdate: (o) => updates.push(o.version) });
    await waitFor(() => updates.length === 1);
    status = 404;
    await waitFor(() => errors.length === 1, { what: "the 404" });
    assert.equal(errors[0].status, 404);
    assert.equal(errors[0].retryIn, null);
    const count = server.requests.length;
    await sleep(60);
    assert.equal(server.requests.length, count, "no request after giving up");
    assert.equal(h.offer.version, 1, "the last offer stays");
    status = 200;
    assert.equal((await h.refetch()).version, 1);
    await waitFor(() => server.requests.length > count + 2, { what: "polling again after refetch" });
  });

  it("asks getToken again once after a 401, then gives up", async () => {
    let tokens = 0;
    const server = scripted(() => json({ error: "token expired" }, 401));
    const errors = [];
    client({ fetch: server.fetch, transport: "poll", getToken: () => `t${++tokens}` })
      .watch("o1", { onError: (e) => errors.push(e) });
    await waitFor(() => errors.length === 1);
    await sleep(30);
    assert.equal(server.requests.length, 2);
    assert.equal(tokens, 2);
    assert.equal(errors[0].status, 401);
    assert.equal(errors.length, 1);
  });

  it("reports a malformed id as a 400 without a request", async () => {
    const server = scripted(() => json(offer(1)));
    const errors = [];
    const c = client({ fetch: server.fetch });
    c.watch("../etc", { onError: (e) => errors.push(e) });
    await waitFor(() => errors.length === 1);
    assert.equal(errors[0].status, 400);
    assert.equal(server.requests.length, 0);
    await assert.rejects(c.fetchOffer("a b"), (e) => e.status === 400);
  });

  it("auto falls back to long-poll when the stream is not an event stream, and sticks to it", async () => {
    const server = scripted((req) => {
      if (req.path.endsWith("/events")) return new Response("<html>proxy</html>", { headers: { "Content-Type": "text/html" } });
      if (req.query.has("wait")) return new Promise((res) => req.signal.addEventListener("abort", () => res(new Response(null, { status: 304 }))));
      return json(offer(1, req.path.split("/").pop()));
    });
    const c = client({ fetch: server.fetch });
    const transports = [];
    c.watch("o1", { onTransport: (t) => transports.push(t) });
    await waitFor(() => transports.at(-1) === "longpoll", { what: "long-poll" });
    assert.deepEqual(transports, ["sse", "longpoll"]);
    // a new watch on the same client does not try SSE again for a while
    const later = [];
    c.watch("o2", { onTransport: (t) => later.push(t) });
    await waitFor(() => later.length === 1);
    assert.deepEqual(later, ["longpoll"]);
    assert.equal(server.requests.filter((r) => r.path.endsWith("/events")).length, 1);
  });

  it("auto moves from long-poll to polling when nothing holds the requests", async () => {
    // an older server (or a proxy) that ignores ?wait= answers every long-poll at once with a 304
    const server = scripted((req) => {
      if (req.path.endsWith("/events")) return json({ error: "no such resource" }, 404);
      if (req.query.has("wait")) return new Response(null, { status: 304 });
      return json(offer(1));
    });
    const transports = [];
    const errors = [];
    client({ fetch: server.fetch })
      .watch("o1", { interval: 20, onTransport: (t) => transports.push(t), onError: (e) => errors.push(e) });
    await waitFor(() => transports.at(-1) === "poll", { what: "polling" });
    assert.deepEqual(transports, ["sse", "longpoll", "poll"]);
    assert.equal(server.requests.filter((r) => r.query.has("wait")).length, 3);
    assert.deepEqual(errors, []);
  });

  it("long-poll watches share one request; an offer refused there gives up alone", async () => {
    const polls = [];
    const server = scripted((req) => {
      if (req.path === "/api/offers/poll") {
        polls.push(req);
        if (polls.length === 1)
          return json({ offers: [offer(2, "o1")], errors: [{ id: "o3", status: 404, error: "offer not found" }] });
        return new Promise((res) => req.signal.addEventListener("abort", () => res(new Response(null, { status: 304 }))));
      }
      return json(offer(1, req.path.split("/").pop()));
    });
    const c = client({ fetch: server.fetch, transport: "longpoll" });
    const updates = { o1: [], o2: [], o3: [] };
    const errors = { o1: [], o2: [], o3: [] };
    for (const id of ["o1", "o2", "o3"])
      c.watch(id, { onUpdate: (o) => updates[id].push(o.version), onError: (e) => errors[id].push(e) });
    await waitFor(() => polls.length === 2, { what: "the shared long-poll, then again without o3" });
    assert.equal(polls[0].query.get("ids"), "o1,o2,o3");
    assert.equal(polls[0].query.get("since"), "o1:1,o2:1,o3:1");
    assert.equal(polls[0].query.get("wait"), "25");
    assert.deepEqual(updates, { o1: [1, 2], o2: [1], o3: [1] });
    assert.deepEqual(errors.o3.map((e) => [e.status, e.message, e.retryIn, e.offerId]),
      [[404, "HTTP 404: offer not found", null, "o3"]]);
    assert.deepEqual([errors.o1, errors.o2], [[], []]);
    await waitFor(() => polls.at(-1).query.get("ids") === "o1,o2", { what: "the long-poll without o3" });
    assert.equal(polls.at(-1).query.get("since"), "o1:2,o2:1");
    const own = server.requests.filter((r) => r.path !== "/api/offers/poll" && r.query.has("wait"));
    assert.equal(own.length, 0, "no watch long-polled on its own");
    for (const r of polls) assert.ok(!r.url.includes("tok"), "no token in the URL");
  });

  it("a server without the shared long-poll: each watch long-polls on its own, no error", async () => {
    const server = scripted((req) => {
      if (req.path === "/api/offers/poll") return json({ error: "offer not found" }, 404); // offer "poll"
      if (req.query.has("wait")) return new Promise((res) => req.signal.addEventListener("abort", () => res(new Response(null, { status: 304 }))));
      return json(offer(1, req.path.split("/").pop()));
    });
    const c = client({ fetch: server.fetch, transport: "longpoll" });
    const errors = [];
    for (const id of ["o1", "o2"]) c.watch(id, { onError: (e) => errors.push(e) });
    await waitFor(() => server.requests.filter((r) => r.path !== "/api/offers/poll" && r.query.has("wait")).length === 2,
      { what: "a long-poll of each offer" });
    assert.equal(server.requests.filter((r) => r.path === "/api/offers/poll").length, 1);
    assert.deepEqual(errors, []);
  });

  it("after stop() no callback runs, even for an answer in flight", async () => {
    let answer;
    const server = scripted(() => new Promise((res) => { answer = res; }));
    let calls = 0;
    const h = client({ fetch: server.fetch, transport: "poll" })
      .watch("o1", { onUpdate: () => calls++, onError: () => calls++, onTransport: () => calls++ });
    await waitFor(() => answer);
    h.stop();
    answer(json(offer(1)));
    await sleep(20);
    assert.equal(calls, 1, "only the transport announcement before stop");
    assert.equal(await h.refetch(), null);
  });

  it("pauses while the page is hidden and fetches at once when it is visible again", async () => {
    const doc = new EventTarget();
    doc.visibilityState = "visible";
    globalThis.document = doc;
    let version = 1;
    const server = scripted(() => json(offer(version)));
    const updates = [];
    const h = client({ fetch: server.fetch, transport: "poll" }).watch("o1", { interval: 20, onUpdate: (o) => updates.push(o.version) });
    await waitFor(() => updates.length === 1);
    doc.visibilityState = "hidden";
    doc.dispatchEvent(new Event("visibilitychange"));
    const count = server.requests.length;
    version = 2;
    await sleep(80);
    assert.equal(server.requests.length, count, "nothing sent while hidden");
    h.setInterval(5000); // so that only coming back, not the interval, explains a quick fetch
    doc.visibilityState = "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
    const back = Date.now();
    await waitFor(() => updates.length === 2, { timeoutMs: 1000, what: "the fetch on return" });
    assert.ok(Date.now() - back < 500, "fetched at once, not after the interval");
    assert.deepEqual(updates, [1, 2]);
  });

  it("fetchOffer uses the default client and rejects with the status", async () => {
    const server = scripted((req) => (req.path === "/api/offers/o1" ? json(offer(4)) : json({ error: "offer not found" }, 404)));
    configureOffers({ baseUrl: "http://offerd.test/", fetch: server.fetch, getToken: () => null });
    assert.equal((await fetchOffer("o1")).version, 4);
    assert.equal(server.requests[0].url, "http://offerd.test/api/offers/o1");
    assert.equal(server.requests[0].headers.Authorization, undefined, "no token, no header (cookies)");
    await assert.rejects(fetchOffer("o2"), (e) => e.status === 404 && e.message === "HTTP 404: offer not found");
    configureOffers({ fetch: null, baseUrl: "" });
  });

  it("reports a network failure with status 0", async () => {
    const c = client({ fetch: async () => { throw new TypeError("fetch failed"); } });
    await assert.rejects(c.fetchOffer("o1"), (e) => e.status === 0 && /network error/.test(e.message));
  });
});

describe("offer-updates.js as a browser module", () => {
  it("imports nothing, so offerd can serve it as it is", async () => {
    const { readFile } = await import("node:fs/promises");
    const source = await readFile(new URL("../src/offer-updates.js", import.meta.url), "utf8");
    assert.doesNotMatch(source, /^\s*import[\s{*"']/m);
    assert.doesNotMatch(source, /\brequire\(|\bimport\(/);
    assert.doesNotMatch(source, /\bprocess\.|\bBuffer\b/, "no Node-only globals");
  });
});
