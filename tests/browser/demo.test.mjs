// The demo page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real offerd: it renders, a write in one window reaches the other within a second over
// the WebSocket, it falls back to SSE behind a proxy that refuses WebSocket upgrades (then to
// long-poll and polling when those are refused too), and CORS works from a second origin.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

import { api, demoSession, readClientModule, startOfferd, startStaticSite, startUpgradeRefusingProxy } from "./offerd.mjs";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const screenshotPath = process.env.OFFERD_SCREENSHOT || join(process.cwd(), "out", "demo-page.png");

let browser, offerd, site, tokens, proxy;

// The second origin's page: the JS client straight from clients/js, nothing else.
const crossOriginPage = `<!doctype html><meta charset="utf-8"><title>shop</title>
<script type="module">import * as client from "/offer-updates.js"; window.offerClient = client;
document.body.dataset.ready = "true";</script><body></body>`;

before(async () => {
  site = await startStaticSite({
    "/": { type: "text/html; charset=utf-8", body: crossOriginPage },
    "/offer-updates.js": { type: "text/javascript; charset=utf-8", body: readClientModule() },
  });
  offerd = await startOfferd(["--cors-origin", site.origin]);
  tokens = await demoSession(offerd.baseUrl);
  proxy = await startUpgradeRefusingProxy(offerd.baseUrl);
  browser = await chromium.launch({ executablePath, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (offerd) {
    const { code } = await offerd.stop();
    assert.equal(code, 0, "offerd exits cleanly");
  }
  if (site) await site.stop();
  if (proxy) await proxy.stop();
});

// The demo page as WHO, straight from offerd or (base = proxy.origin) through the proxy that
// refuses WebSocket upgrades; ROUTE may refuse more. sockets: the page's WebSocket URLs.
async function openAs(who, query = "", route, base = offerd.baseUrl) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (route) await route(context);
  const page = await context.newPage();
  const errors = [];
  const sockets = [];
  const requests = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("websocket", (ws) => sockets.push(ws.url()));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`${base}/?as=${who}${query}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10000 });
  return { page, context, errors, sockets, requests };
}

const transportIs = (w, name, timeout) => w.page.waitForFunction(
  (n) => document.querySelector("#transport").textContent === n, name, { timeout });

const card = (id) => `#offer-${id}`;

// A fresh offer from Alice, so each test negotiates on its own.
async function newOffer(amount) {
  return api(offerd.baseUrl, tokens.alice, "POST", "/api/offers", { productId: "demo_putter", amount });
}

describe("demo page", () => {
  test("renders the demo user's offers with their negotiation", async () => {
    const { page, context, errors } = await openAs("alice");
    assert.equal(await page.locator(".offer").count(), 3);
    const countered = page.locator(card("demo_offer_2"));
    assert.equal(await countered.getAttribute("data-status"), "COUNTERED");
    assert.match(await countered.locator(".title").textContent(), /Scotty Cameron/);
    assert.equal(await countered.locator(".history li").count(), 3); // offer, 2 counters
    assert.match(await page.locator("#who [aria-current=page]").textContent(), /Alice/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("a write in one window reaches the other within a second over WebSocket", async () => {
    // Polling every minute: only a push can make it inside a second.
    const alice = await openAs("alice", "&interval=60000");
    const bob = await openAs("bob", "&interval=60000");
    for (const w of [alice, bob]) await transportIs(w, "ws", 5000);
    await alice.page.waitForTimeout(200); // the subscription is on its way with the first GETs
    for (const w of [alice, bob]) {
      assert.equal(w.sockets.length, 1, "one WebSocket for the whole page");
      assert.match(w.sockets[0], /^ws:\/\/127\.0\.0\.1:\d+\/api\/ws$/, "no token in the URL");
      assert.ok(!w.requests.some((u) => /\/events(\?|$)/.test(u)), "no SSE");
    }
    // Bob (seller) counters Alice's 150 on the driver listed at 200.
    const bobCard = bob.page.locator(card("demo_offer_1"));
    await bobCard.locator("input[name=amount]").fill("180");
    await bobCard.locator("input[name=message]").fill("180 and it's yours");
    const t0 = Date.now();
    await bobCard.locator("button.counter").click();
    await alice.page.waitForSelector(`${card("demo_offer_1")}[data-status=COUNTERED]`, { timeout: 1000 });
    const counterMs = Date.now() - t0;
    assert.match(await alice.page.locator(`${card("demo_offer_1")} .history`).textContent(),
                 /Bob countered \$180 — “180 and it's yours”/);

    // Alice accepts in her window; Bob's shows it.
    const t1 = Date.now();
    await alice.page.locator(`${card("demo_offer_1")} button.accept`).click();
    await bob.page.waitForSelector(`${card("demo_offer_1")}[data-status=ACCEPTED]`, { timeout: 1000 });
    const acceptMs = Date.now() - t1;
    assert.ok(counterMs < 1000 && acceptMs < 1000, `counter ${counterMs} ms, accept ${acceptMs} ms`);
    // Nobody's buttons stay live on a closed negotiation.
    assert.equal(await bob.page.locator(`${card("demo_offer_1")} button.accept`).isDisabled(), true);

    mkdirSync(dirname(screenshotPath), { recursive: true });
    await alice.page.screenshot({ path: screenshotPath, fullPage: true });
    assert.deepEqual([...alice.errors, ...bob.errors], []);
    assert.equal(alice.sockets.length + bob.sockets.length, 2, "no reconnection");
    await alice.context.close();
    await bob.context.close();
  });

  test("falls back to SSE when a proxy refuses the WebSocket upgrade, and still shows every write", async () => {
    const offer = await newOffer(225);
    const before = proxy.upgrades.length;
    const w = await openAs("alice", "&interval=60000", null, proxy.origin);
    await w.page.waitForSelector(card(offer.id));
    await transportIs(w, "sse", 10000);
    assert.ok(proxy.upgrades.length - before >= 1, "the page did try the WebSocket first");
    const t0 = Date.now();
    await api(offerd.baseUrl, tokens.bob, "POST", `/api/offers/${offer.id}/counter`, { amount: 290 });
    await w.page.waitForSelector(`${card(offer.id)}[data-status=COUNTERED]`, { timeout: 1000 });
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `${ms} ms over SSE`);
    assert.equal(await w.page.locator("#conn").getAttribute("class"), "conn ok", "a refusal is no error");
    assert.deepEqual(w.errors, []);
    await w.context.close();
  });

  test("falls back to long-poll when a proxy refuses the WebSocket and SSE", async () => {
    const offer = await newOffer(220);
    const refused = [];
    const w = await openAs("alice", "&interval=60000", (ctx) =>
      ctx.route(/\/events(\?|$)/, (r) => { refused.push(r.request().url()); r.fulfill({ status: 404, body: "" }); }),
      proxy.origin);
    await w.page.waitForSelector(card(offer.id));
    await transportIs(w, "longpoll", 10000);
    await api(offerd.baseUrl, tokens.bob, "POST", `/api/offers/${offer.id}/counter`, { amount: 280 });
    await w.page.waitForSelector(`${card(offer.id)}[data-status=COUNTERED]`, { timeout: 2000 });
    assert.ok(refused.length >= 1, "the page did try SSE first");
    await w.context.close();
  });

  test("falls back to plain polling when the WebSocket, SSE and long-poll are all refused", async () => {
    const offer = await newOffer(230);
    const w = await openAs("alice", "&interval=500", (ctx) => ctx.route(/\/api\/offers\//, (r) => {
      const url = r.request().url();
      if (/\/events(\?|$)/.test(url)) return r.fulfill({ status: 404, body: "" });
      if (/[?&]wait=/.test(url)) return r.fulfill({ status: 504, body: "" }); // a proxy timing out the hold
      return r.continue();
    }), proxy.origin);
    await w.page.waitForSelector(card(offer.id));
    await transportIs(w, "poll", 20000);
    await api(offerd.baseUrl, tokens.bob, "POST", `/api/offers/${offer.id}/counter`, { amount: 270 });
    await w.page.waitForSelector(`${card(offer.id)}[data-status=COUNTERED]`, { timeout: 3000 });
    await w.context.close();
  });

  test("CORS: a page on another origin reads offers, sees the ETag, and streams", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.origin}/`);
    await page.waitForSelector("body[data-ready=true]", { state: "attached" });
    const result = await page.evaluate(async ({ base, token }) => {
      const auth = { Authorization: `Bearer ${token}` };
      const first = await fetch(`${base}/api/offers/demo_offer_3`, { headers: auth });
      const etag = first.headers.get("ETag");
      const body = await first.json();
      const again = await fetch(`${base}/api/offers/demo_offer_3`,
                                { headers: { ...auth, "If-None-Match": etag } });
      // The JS client's own SSE and WebSocket transports, across origins (offerd lists this one).
      const over = (transport) => new Promise((resolve, reject) => {
        const c = window.offerClient.createOfferClient({ baseUrl: base, getToken: () => token, transport });
        const timer = setTimeout(() => reject(new Error(`no update over ${transport} in 5 s`)), 5000);
        const h = c.watch("demo_offer_3", {
          onUpdate: (o) => { clearTimeout(timer); h.stop(); c.close(); resolve(o.status); },
          onError: (e) => { clearTimeout(timer); reject(e); },
        });
      });
      const streamed = await over("sse");
      // the watch's first state comes by GET; the socket must also open and take the subscription
      const socket = await new Promise((resolve) => {
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/api/ws`);
        ws.onopen = () => {
          ws.send(JSON.stringify({ type: "auth", token }));
          ws.send(JSON.stringify({ type: "subscribe", ids: ["demo_offer_3"] }));
        };
        ws.onmessage = (ev) => { ws.close(); resolve(JSON.parse(ev.data).offer?.status ?? ev.data); };
        ws.onclose = (ev) => resolve(`closed ${ev.code}`);
      });
      return { status: first.status, etag, id: body.id, conditional: again.status, streamed, socket,
               viaClient: await over("ws") };
    }, { base: offerd.baseUrl, token: tokens.alice });
    assert.equal(result.status, 200);
    assert.match(result.etag ?? "", /^"/, "ETag is exposed to the page");
    assert.equal(result.id, "demo_offer_3");
    assert.equal(result.conditional, 304);
    assert.equal(result.streamed, "ACCEPTED");
    assert.equal(result.socket, "ACCEPTED", "a WebSocket from a listed origin");
    assert.equal(result.viaClient, "ACCEPTED");

    // An origin offerd was not told about is refused by the browser.
    const other = `http://localhost:${site.port}`;
    await page.goto(`${other}/`);
    await page.waitForSelector("body[data-ready=true]", { state: "attached" });
    const blocked = await page.evaluate(async ({ base, token }) => {
      try {
        await fetch(`${base}/api/offers/demo_offer_3`, { headers: { Authorization: `Bearer ${token}` } });
        return "allowed";
      } catch (e) {
        return e.name;
      }
    }, { base: offerd.baseUrl, token: tokens.alice });
    assert.equal(blocked, "TypeError");
    // ... and so is its WebSocket, by offerd itself (WebSockets are not covered by CORS)
    const socket = await page.evaluate((base) => new Promise((resolve) => {
      const ws = new WebSocket(`${base.replace(/^http/, "ws")}/api/ws`);
      ws.onopen = () => { ws.close(); resolve("opened"); };
      ws.onclose = () => resolve("refused");
    }), offerd.baseUrl);
    assert.equal(socket, "refused");
    await context.close();
  });
});
