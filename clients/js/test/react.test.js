// useOfferUpdates with real React (react-test-renderer) against a real offerd. Skipped, saying so,
// when react is not installed (run `npm ci` in clients/js) or offerd is not built.
// SPDX-License-Identifier: MIT

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { configureOffers, createOfferClient } from "../src/offer-updates.js";
import { counter, findOfferd, newOffer, recordingFetch, sleep, startOfferd, waitFor } from "../testlib/offerd.js";

let React, renderer, useOfferUpdates;
let skip = false;
try {
  React = (await import("react")).default;
  renderer = (await import("react-test-renderer")).default;
  ({ useOfferUpdates } = await import("../src/react.js"));
} catch {
  skip = "react and react-test-renderer are not installed (npm ci in clients/js)";
}
const found = findOfferd();
skip ||= found.skip || false;
if (skip) console.log(`# skipping the React hook tests: ${skip}`);

if (skip) it("useOfferUpdates with React", { skip }, () => {});
else describe("useOfferUpdates", () => {
  let server;
  const clients = [];
  const errorsLogged = [];
  const consoleError = console.error;

  before(async () => {
    server = await startOfferd(found.bin);
    console.error = (...args) => { // React reports misuse (updates after unmount, ...) here
      errorsLogged.push(args.map(String).join(" "));
      consoleError(...args);
    };
  });

  after(async () => {
    console.error = consoleError;
    for (const c of clients) c.close();
    await server?.stop();
    assert.deepEqual(errorsLogged, [], "React logged no warning");
  });

  function clientAs(who) {
    const rec = recordingFetch();
    const client = createOfferClient({ baseUrl: server.baseUrl, getToken: () => server.tokens[who], fetch: rec.fetch,
      WebSocket: false }); // the same transports on every Node, with or without a WebSocket of its own
    clients.push(client);
    return { client, rec };
  }

  /** Renders the hook with PROPS; returns every result it rendered and the renderer. */
  function renderHook(props) {
    const results = [];
    function Probe(p) {
      results.push(useOfferUpdates(p));
      return null;
    }
    const root = renderer.create(React.createElement(Probe, props));
    return {
      results,
      last: () => results.at(-1),
      update: (next) => root.update(React.createElement(Probe, next)),
      unmount: () => root.unmount(),
    };
  }

  it("has the hook's shape: loading, then the offer, then each change", async () => {
    const offer = await newOffer(server);
    const { client } = clientAs("alice");
    const h = renderHook({ offerId: offer.id, client });
    assert.equal(h.results[0].loading, true);
    assert.equal(h.results[0].offer, null);
    assert.equal(h.results[0].error, null);
    assert.equal(typeof h.results[0].refetch, "function");
    await waitFor(() => h.last().offer, { what: "the offer" });
    assert.equal(h.last().loading, false);
    assert.equal(h.last().offer.version, 1);
    await sleep(100);
    await counter(server, "bob", offer.id, 190);
    await waitFor(() => h.last().offer.version === 2, { what: "the change" });
    assert.equal(h.last().offer.status, "COUNTERED");
    assert.ok(h.results.every((r) => r.refetch === h.results[0].refetch), "refetch is stable");
    h.unmount();
  });

  it("enabled=false sends nothing, enabling fetches at once; refetch() works", async () => {
    const offer = await newOffer(server);
    const { client, rec } = clientAs("alice");
    const h = renderHook({ offerId: offer.id, client, enabled: false, transport: "poll", interval: 60_000 });
    await sleep(150);
    assert.equal(rec.calls.length, 0);
    assert.equal(h.last().loading, true);
    h.update({ offerId: offer.id, client, enabled: true, transport: "poll", interval: 60_000 });
    await waitFor(() => h.last().offer, { what: "the offer once enabled" });
    await counter(server, "bob", offer.id, 190);
    const fresh = await h.last().refetch();
    assert.equal(fresh.version, 2);
    await waitFor(() => h.last().offer.version === 2);
    h.unmount();
  });

  it("a new offerId starts from nothing; unmounting stops everything", async () => {
    const [a, b] = await Promise.all([newOffer(server), newOffer(server)]);
    const { client, rec } = clientAs("alice");
    const h = renderHook({ offerId: a.id, client, transport: "poll", interval: 50 });
    await waitFor(() => h.last().offer?.id === a.id);
    h.update({ offerId: b.id, client, transport: "poll", interval: 50 });
    const switched = h.results.find((r) => r.offer?.id !== a.id);
    assert.equal(switched.offer, null, "never a's offer under b's id");
    assert.equal(switched.loading, true);
    await waitFor(() => h.last().offer?.id === b.id);
    h.unmount();
    const count = rec.calls.length;
    const renders = h.results.length;
    await sleep(200);
    assert.equal(rec.calls.length, count, "nothing polls after unmount");
    assert.equal(h.results.length, renders);
  });

  it("reports a stranger's 403 as error and stops loading", async () => {
    const offer = await newOffer(server);
    const { client } = clientAs("carol");
    const h = renderHook({ offerId: offer.id, client });
    await waitFor(() => h.last().error, { what: "the error" });
    assert.equal(h.last().error.status, 403);
    assert.equal(h.last().loading, false);
    assert.equal(h.last().offer, null);
    h.unmount();
  });

  it("uses the default client from configureOffers and watches nothing without an id", async () => {
    configureOffers({ baseUrl: server.baseUrl, getToken: async () => server.tokens.bob, WebSocket: false });
    const h = renderHook({ offerId: "demo_offer_2" });
    await waitFor(() => h.last().offer, { what: "the offer" });
    assert.equal(h.last().offer.seller.firstName, "Bob");
    h.update({ offerId: null });
    await sleep(20);
    assert.deepEqual({ ...h.last(), refetch: null }, { offer: null, loading: false, error: null, refetch: null });
    h.unmount();
    configureOffers({ getToken: null, baseUrl: "", WebSocket: null });
  });
});
