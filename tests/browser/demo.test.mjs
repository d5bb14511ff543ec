// The demo page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real offerd: it renders, a write in one window reaches the other within a second over
// SSE, it falls back when SSE (and long-poll) are refused, and CORS works from a second origin.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

import { api, demoSession, readClientModule, startOfferd, startStaticSite } from "./offerd.mjs";

const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const screenshotPath = process.env.OFFERD_SCREENSHOT || join(process.cwd(), "out", "demo-page.png");

let browser, offerd, site, tokens;

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
  browser = await chromium.launch({ executablePath, headless: true });
});

after(async () => {
  if (browser) await browser.close();
  if (offerd) {
    const { code } = await offerd.stop();
    assert.equal(code, 0, "offerd exits cleanly");
  }
  if (site) await site.stop();
});

async function openAs(who, query = "", route) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  if (route) await route(context);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${offerd.baseUrl}/?as=${who}${query}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10000 });
  return { page, context, errors };
}

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

  test("a write in one window reaches the other within a second over SSE", async () => {
    // Polling every minute: only a push can make it inside a second.
    const alice = await openAs("alice", "&interval=60000");
    const bob = await openAs("bob", "&interval=60000");
    for (const w of [alice, bob]) {
      await w.page.waitForFunction(() => document.querySelector("#transport").textContent === "sse",
                                   null, { timeout: 5000 });
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
    await alice.context.close();
    await bob.context.close();
  });

  test("falls back to long-poll when a proxy refuses SSE", async () => {
    const offer = await newOffer(220);
    const refused = [];
    const w = await openAs("alice", "&interval=60000", (ctx) =>
      ctx.route(/\/events(\?|$)/, (r) => { refused.push(r.request().url()); r.fulfill({ status: 404, body: "" }); }));
    await w.page.waitForSelector(card(offer.id));
    await w.page.waitForFunction(() => document.querySelector("#transport").textContent === "longpoll",
                                 null, { timeout: 10000 });
    await api(offerd.baseUrl, tokens.bob, "POST", `/api/offers/${offer.id}/counter`, { amount: 280 });
    await w.page.waitForSelector(`${card(offer.id)}[data-status=COUNTERED]`, { timeout: 2000 });
    assert.ok(refused.length >= 1, "the page did try SSE first");
    await w.context.close();
  });

  test("falls back to plain polling when SSE and long-poll are both refused", async () => {
    const offer = await newOffer(230);
    const w = await openAs("alice", "&interval=500", (ctx) => ctx.route(/\/api\/offers\//, (r) => {
      const url = r.request().url();
      if (/\/events(\?|$)/.test(url)) return r.fulfill({ status: 404, body: "" });
      if (/[?&]wait=/.test(url)) return r.fulfill({ status: 504, body: "" }); // a proxy timing out the hold
      return r.continue();
    }));
    await w.page.waitForSelector(card(offer.id));
    await w.page.waitForFunction(() => document.querySelector("#transport").textContent === "poll",
                                 null, { timeout: 15000 });
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
      // The JS client's own SSE transport, across origins.
      const streamed = await new Promise((resolve, reject) => {
        const c = window.offerClient.createOfferClient({ baseUrl: base, getToken: () => token,
                                                         transport: "sse" });
        const timer = setTimeout(() => reject(new Error("no update in 5 s")), 5000);
        const h = c.watch("demo_offer_3", {
          onUpdate: (o) => { clearTimeout(timer); h.stop(); c.close(); resolve(o.status); },
          onError: (e) => { clearTimeout(timer); reject(e); },
        });
      });
      return { status: first.status, etag, id: body.id, conditional: again.status, streamed };
    }, { base: offerd.baseUrl, token: tokens.alice });
    assert.equal(result.status, 200);
    assert.match(result.etag ?? "", /^"/, "ETag is exposed to the page");
    assert.equal(result.id, "demo_offer_3");
    assert.equal(result.conditional, 304);
    assert.equal(result.streamed, "ACCEPTED");

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
    await context.close();
  });
});
