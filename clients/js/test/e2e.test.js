// End to end against a real offerd (OFFERD_BIN, else build/src/server/offerd): every transport, the
// shared stream, auto's fallbacks through a refusing proxy, errors, stop and refetch.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createOfferClient } from "../src/offer-updates.js";
import { collect, counter, findOfferd, mintToken, newOffer, recordingFetch, sleep, startOfferd, startProxy, waitFor } from "../testlib/offerd.js";

const found = findOfferd();
if (found.skip) console.log(`# skipping the end-to-end tests: ${found.skip}`);

if (found.skip) it("against a real offerd", { skip: found.skip }, () => {});
else describe("against a real offerd", () => {
  let server;
  const clients = [];
  const proxies = [];

  before(async () => {
    server = await startOfferd(found.bin);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const p of proxies) await p.close();
    await server?.stop(); // always, so no offerd outlives the tests
  });

  /** A client as WHO, recording its requests. */
  function clientAs(who, options = {}) {
    const rec = recordingFetch();
    // WebSocket: false: auto starts at SSE here, also on a Node with a WebSocket (e2e-ws.test.js has it)
    const c = createOfferClient({ baseUrl: server.baseUrl, getToken: () => server.tokens[who], fetch: rec.fetch,
      WebSocket: false, ...options });
    clients.push(c);
    return { client: c, rec };
  }

  for (const transport of ["poll", "longpoll", "sse"]) {
    it(`${transport}: delivers the initial state, then a counter offer`, async () => {
      const offer = await newOffer(server);
      const { client, rec } = clientAs("alice");
      const got = collect(client, offer.id, { transport, interval: 200 });
      await waitFor(() => got.updates.length === 1, { what: "the initial state" });
      assert.equal(got.updates[0].status, "PENDING");
      assert.equal(got.updates[0].amount, 150);
      if (transport === "sse") await waitFor(() => rec.streams().length === 1, { what: "the stream" });
      await sleep(100); // the long-poll is held, the stream open, the poll waiting
      await counter(server, "bob", offer.id, 190);
      await waitFor(() => got.updates.length === 2, { what: "the counter offer" });
      const now = got.updates[1];
      assert.equal(now.version, 2);
      assert.equal(now.status, "COUNTERED");
      assert.deepEqual(now.counterOffers.map((c) => [c.amount, c.fromSeller]), [[190, true]]);
      assert.deepEqual(got.transports, [transport]);
      assert.deepEqual(got.errors, []);
      if (transport === "longpoll") {
        const held = rec.calls.filter((c) => c.url.includes("wait="));
        assert.ok(held.length >= 1);
        assert.match(held[0].url, /\?wait=25&since=1$/);
      }
      if (transport === "poll") assert.ok(rec.calls.some((c) => c.headers["If-None-Match"]), "polls are conditional");
      await sleep(150);
      assert.equal(got.updates.length, 2, "no callback for an unchanged offer");
      got.handle.stop();
    });
  }

  it("one multiplexed stream serves several watches, reopened once when the ids change", async () => {
    const [a, b, c, d] = await Promise.all([newOffer(server), newOffer(server), newOffer(server), newOffer(server)]);
    const { client, rec } = clientAs("alice");
    const wa = collect(client, a.id);
    const wb = collect(client, b.id);
    const wc = collect(client, c.id);
    const wa2 = collect(client, a.id); // the same offer twice: one id on the stream, two callbacks
    await waitFor(() => rec.streams().length === 1 && [wa, wb, wc, wa2].every((w) => w.updates.length === 1));
    await sleep(100);
    assert.equal(rec.streams().length, 1, "one connection for every watch");
    assert.deepEqual(new URL(rec.streams()[0].url).searchParams.get("ids").split(",").sort(), [a.id, b.id, c.id].sort());

    await counter(server, "bob", a.id, 190);
    await counter(server, "bob", c.id, 180);
    await waitFor(() => wa.updates.length === 2 && wc.updates.length === 2 && wa2.updates.length === 2);
    assert.equal(wb.updates.length, 1);
    assert.equal(wc.updates[1].amount, 150); // the offer's own amount; the counter is in counterOffers
    assert.equal(wc.updates[1].counterOffers[0].amount, 180);

    const wd = collect(client, d.id);
    await waitFor(() => rec.streams().length === 2 && wd.updates.length === 1, { what: "one reconnection" });
    assert.ok(new URL(rec.streams()[1].url).searchParams.get("ids").split(",").includes(d.id));
    wb.handle.stop();
    await waitFor(() => rec.streams().length === 3, { what: "the stream without b" });
    await counter(server, "bob", d.id, 170);
    await waitFor(() => wd.updates.length === 2);
    await sleep(200);
    assert.equal(rec.streams().length, 3, "no more reconnections");
    assert.deepEqual([wa, wb, wc, wd].map((w) => w.versions()), [[1, 2], [1], [1, 2], [1, 2]]);
    assert.deepEqual([wa, wb, wc, wd].flatMap((w) => w.errors), []);
  });

  it("several long-poll watches share one held request", async () => {
    const offers = await Promise.all([newOffer(server), newOffer(server), newOffer(server)]);
    const held = async () => {
      const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
      return Number(/\nofferd_held_requests (\d+)/.exec(text)[1]);
    };
    const heldBecomes = async (want, what) => {
      for (let i = 0; i < 100 && (await held()) !== want; i++) await sleep(50);
      assert.equal(await held(), want, what);
    };
    // held requests are counted server-wide: close the earlier tests' streams first
    for (const c of clients.splice(0)) c.close();
    await heldBecomes(0, "nothing held before");
    const { client, rec } = clientAs("alice");
    const got = offers.map((o) => collect(client, o.id, { transport: "longpoll" }));
    await waitFor(() => got.every((g) => g.updates.length === 1), { what: "the initial states" });
    await heldBecomes(1, "one held request");
    await sleep(150);
    assert.equal(await held(), 1, "three watches, one held request");
    await counter(server, "bob", offers[1].id, 190);
    await waitFor(() => got[1].updates.length === 2, { what: "the change" });
    await sleep(150);
    assert.deepEqual(got.map((g) => g.versions()), [[1], [1, 2], [1]]);
    assert.deepEqual(got.flatMap((g) => g.errors), []);
    const shared = rec.calls.filter((c) => c.url.includes("/api/offers/poll?"));
    assert.ok(shared.length >= 2);
    const url = new URL(shared.at(-1).url);
    assert.deepEqual(url.searchParams.get("ids").split(",").sort(), offers.map((o) => o.id).sort());
    assert.ok(url.searchParams.get("since").includes(`${offers[1].id}:2`));
    assert.ok(!rec.calls.some((c) => /\/api\/offers\/[^/?]+\?wait=/.test(c.url) && !c.url.includes("/poll?")),
      "no watch long-polled on its own");
    assert.equal(await held(), 1);
    for (const g of got) g.handle.stop();
    await heldBecomes(0, "the slot freed once the client is gone");
  });

  it("the stream's token expires: reauth, a fresh token, resumed from the last id", async () => {
    const [a, b] = await Promise.all([newOffer(server), newOffer(server)]);
    const rec = recordingFetch();
    const client = createOfferClient({ baseUrl: server.baseUrl, fetch: rec.fetch, transport: "sse",
            // expired 28 s ago: inside offerd's 30 s leeway, so each stream serves ~2 s, then says reauth
      getToken: () => mintToken(server.secret, "user_demo_alice", { ttlSeconds: -28 }) });
    clients.push(client);
    const wa = collect(client, a.id);
    const wb = collect(client, b.id);
    const resumed = () => rec.streams().find((s) => s.headers["Last-Event-ID"]);
    await waitFor(resumed, { what: "the stream, ended by its token, resumed", timeoutMs: 8000 });
    const again = resumed().headers;
    assert.match(again["Last-Event-ID"], /^[0-9]+:[0-9a-f]{16}$/);
    const before = rec.streams()[rec.streams().indexOf(resumed()) - 1].headers;
    assert.notEqual(again.Authorization, before.Authorization);
    await counter(server, "bob", b.id, 190);
    await waitFor(() => wb.updates.length === 2, { what: "the counter offer on the resumed stream" });
    assert.deepEqual([wa.versions(), wb.versions()], [[1], [1, 2]]);
    assert.deepEqual([...wa.errors, ...wb.errors], []);
  });

  it("auto falls back to long-poll when a proxy refuses streams", async () => {
    const proxy = await startProxy(server.baseUrl, { refuseStreams: true });
    proxies.push(proxy);
    const offer = await newOffer(server);
    const { client } = clientAs("alice", { baseUrl: proxy.baseUrl });
    const got = collect(client, offer.id);
    await waitFor(() => got.transports.includes("longpoll"), { what: "the fallback" });
    await sleep(100);
    await counter(server, "bob", offer.id, 190);
    await waitFor(() => got.updates.length === 2, { what: "the change by long-poll" });
    assert.deepEqual(got.transports, ["sse", "longpoll"]);
    assert.deepEqual(got.errors, [], "a refusal is not an error");
    assert.ok(proxy.seen.some((u) => u.includes("wait=25")));
  });

  it("auto falls back to polling when streams and long-polls are refused", async () => {
    const proxy = await startProxy(server.baseUrl, { refuseStreams: true, refuseWait: true });
    proxies.push(proxy);
    const offer = await newOffer(server);
    const { client } = clientAs("alice", { baseUrl: proxy.baseUrl });
    const got = collect(client, offer.id, { interval: 150 });
    await waitFor(() => got.transports.includes("poll"), { what: "polling" });
    await counter(server, "bob", offer.id, 190);
    await waitFor(() => got.updates.length === 2, { what: "the change by polling" });
    assert.deepEqual(got.transports, ["sse", "longpoll", "poll"]);
    assert.deepEqual(got.versions(), [1, 2]);
  });

  it("a stranger gets onError 403 and no offer, and the watch stops retrying", async () => {
    const offer = await newOffer(server);
    const { client, rec } = clientAs("carol");
    const got = collect(client, offer.id);
    await waitFor(() => got.errors.length === 1, { what: "the 403" });
    const e = got.errors[0];
    assert.ok(e instanceof Error);
    assert.equal(e.status, 403);
    assert.match(e.message, /^HTTP 403: .+/);
    assert.equal(e.retryIn, null);
    await sleep(300);
    assert.equal(rec.calls.length, 1, "no retries");
    assert.deepEqual(got.updates, []);
    await assert.rejects(client.fetchOffer(offer.id), (err) => err.status === 403);
  });

  it("a bad token gets onError 401", async () => {
    const { client } = clientAs("alice", { getToken: () => "not.a.token" });
    const got = collect(client, "demo_offer_1", { transport: "sse" });
    await waitFor(() => got.errors.length === 1);
    assert.equal(got.errors[0].status, 401);
    assert.deepEqual(got.updates, []);
  });

  it("an unknown offer gets onError 404", async () => {
    const { client } = clientAs("alice");
    const got = collect(client, "no_such_offer");
    await waitFor(() => got.errors.length === 1);
    assert.equal(got.errors[0].status, 404);
    assert.equal(got.errors[0].message, "HTTP 404: offer not found");
  });

  it("no callback runs after stop(), also when stopping from inside onUpdate", async () => {
    const offer = await newOffer(server);
    const { client, rec } = clientAs("alice");
    const quiet = collect(client, offer.id, { transport: "sse" });
    let inside = 0;
    const self = client.watch(offer.id, { transport: "longpoll", onUpdate: () => { inside++; self.stop(); } });
    await waitFor(() => quiet.updates.length === 1 && inside === 1 && rec.streams().length === 1);
    quiet.handle.stop();
    await counter(server, "bob", offer.id, 190);
    await sleep(300);
    assert.equal(quiet.updates.length, 1);
    assert.equal(inside, 1);
    assert.deepEqual(quiet.errors, []);
  });

  it("refetch() brings a change now and calls back once", async () => {
    const offer = await newOffer(server);
    const { client } = clientAs("alice");
    const got = collect(client, offer.id, { transport: "poll", interval: 60_000 });
    await waitFor(() => got.updates.length === 1);
    await counter(server, "bob", offer.id, 190);
    const [x, y] = await Promise.all([got.handle.refetch(), got.handle.refetch()]);
    assert.equal(x.version, 2);
    assert.equal(y.version, 2);
    assert.deepEqual(got.versions(), [1, 2]);
    assert.equal((await got.handle.refetch()).version, 2, "unchanged: a 304, no callback");
    assert.deepEqual(got.versions(), [1, 2]);
  });

  it("setEnabled(false) sends nothing; true fetches at once", async () => {
    const offer = await newOffer(server);
    const { client, rec } = clientAs("alice");
    const got = collect(client, offer.id, { transport: "sse", enabled: false });
    await sleep(150);
    assert.equal(rec.calls.length, 0);
    got.handle.setEnabled(true);
    await waitFor(() => got.updates.length === 1 && rec.streams().length === 1);
    got.handle.setEnabled(false);
    await counter(server, "bob", offer.id, 190);
    await sleep(200);
    assert.equal(got.updates.length, 1, "a disabled watch calls nothing back");
    got.handle.setEnabled(true);
    await waitFor(() => got.updates.length === 2);
    assert.equal(got.updates[1].version, 2);
  });

  it("fetchOffer reads an offer in one GET", async () => {
    const { client } = clientAs("bob");
    const offer = await client.fetchOffer("demo_offer_2");
    assert.equal(offer.id, "demo_offer_2");
    assert.equal(offer.seller.firstName, "Bob");
    assert.ok(Array.isArray(offer.counterOffers));
  });
});
