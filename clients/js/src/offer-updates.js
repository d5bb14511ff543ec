// offer-updates.js - live marketplace offers from offerd, for browsers and Node >= 18.
//
// One self-contained ES module with no imports on purpose: offerd's demo page serves this very file
// to <script type="module">, and the React hook (react.js) is built on it.
//
// A client holds the base URL, how to get a token and the default transport. Each watch follows one
// offer: a plain conditional GET first (the state at once, and proof that the offer is the
// caller's), then the transport:
//   ws        the client's ONE WebSocket, GET /api/ws, shared by every watch on it: subscribe and
//             unsubscribe messages as watches come and go (with the versions they have, so offerd
//             sends only newer ones), the token in an `auth` message (a browser cannot set headers
//             on a WebSocket, and a URL gets logged), refreshed in place when offerd says `reauth`.
//   sse       the client's ONE multiplexed stream, GET /api/offers/events?ids=a,b,c, shared by every
//             watch on SSE (reopened once, debounced, when the set of ids changes). Read with fetch()
//             and a small event-stream parser, since EventSource cannot send Authorization. It
//             resumes with Last-Event-ID, an offer it refuses parks only that watch, and `reauth`
//             (the token expired) reconnects at once with a fresh token.
//   longpoll  GET /api/offers/{id}?wait=25&since=V with If-None-Match, re-issued as soon as answered;
//             while two or more watches long-poll, ONE GET /api/offers/poll?ids=a,b&since=a:3,b:1&wait=25
//             for all of them (a connection and a held slot per page, not per offer).
//   poll      GET /api/offers/{id} with If-None-Match every interval; a 304 costs no callback.
// "auto" starts with the WebSocket and falls back to SSE, long-poll, then polling, when the server
// or a proxy refuses them; the client remembers a refusal for a while (every watch on it falls back
// together) and then tries again.
//
// SPDX-License-Identifier: MIT

const TRANSPORTS = ["auto", "ws", "sse", "longpoll", "poll"];
const RANK = { ws: 0, sse: 1, longpoll: 2, poll: 3 }; // lower is better; auto moves down, later back up
const OFFER_ID = /^[A-Za-z0-9_-]{1,64}$/; // offerd's id syntax: anything else is a 400 anyway

const REQUEST_TIMEOUT_MS = 30_000;
const LONGPOLL_WAIT_S = 25; // below the 30-60 s idle timeouts of common proxies and balancers
const STREAM_STALL_MS = 75_000; // five of offerd's 15 s heartbeats missed (and --sse-heartbeat up to 60)
const RECONNECT_MS = 1000; // SSE reconnection time until the server names one with retry:
const SHORT_STREAM_MS = 1000; // a stream that ends sooner did not really work
const STRIKES_TO_FALL_BACK = 3;
const FALLBACK_STICKS_MS = 5 * 60_000; // how long auto stays on a fallback before trying again
const STREAM_DEBOUNCE_MS = 30; // gathers id set changes into one reconnection
const STREAM_GATHER_MAX_MS = 1000; // at most this long waiting for watches still on their first GET
const STREAM_MAX_IDS = 64; // offerd's limit for ?ids=
const POLL_MAX_QUERY = 2048; // a shared long-poll's ids and versions past this: another request
const REAUTH_JITTER_MS = 250; // after `reauth`: back almost at once, with a fresh token
const WS_OPEN_TIMEOUT_MS = 10_000; // a handshake a proxy holds longer than this counts as refused
const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
const RETRY_AFTER_CAP_MS = 3600_000;
const MAX_EVENT_BYTES = 1 << 20; // a line or event larger than this is not offerd talking
const STOPS_RETRYING = new Set([401, 403, 404]); // retrying cannot help: say so and wait

// durations on the monotonic clock: a wall clock set back must not stall a backoff or a fallback
const now = typeof globalThis.performance?.now === "function" ? () => globalThis.performance.now() : () => Date.now();
const report = (e) => (typeof globalThis.reportError === "function" ? globalThis.reportError(e) : console.error(e));

/** An HTTP or network failure: `status` is the HTTP status, or 0 when no answer came. */
export class OfferError extends Error {
  constructor(message, status = 0, { offerId = null, retryAfter = 0, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "OfferError";
    this.status = status;
    this.offerId = offerId;
    this.retryAfter = retryAfter; // ms the server asked us to wait (Retry-After), else 0
    this.retryIn = null; // set on errors passed to onError: ms until the next try, null if none
    this.transport = null;
  }
}

// ---- event-stream parsing (HTML Living Standard, "Interpreting an event stream") ----

/**
 * Incremental text/event-stream parser. Feed it decoded text in any pieces; it calls onEvent with
 * {type, data, lastEventId} for each dispatched event. Lines end in CRLF, LF or CR (a CRLF split
 * across two pieces is one line end); ":" lines are comments; one space after the field's colon is
 * dropped; an event without data lines is not dispatched; id containing NUL is ignored; retry must be
 * all digits; an unfinished event at the end of the stream is discarded.
 */
export class EventStreamParser {
  constructor(onEvent, { lastEventId = "", maxBytes = MAX_EVENT_BYTES } = {}) {
    this.onEvent = onEvent;
    this.maxBytes = maxBytes;
    this.lastEventId = lastEventId; // survives reconnections, as EventSource's does
    this.retry = null; // the reconnection time the stream named, in ms
    this.events = 0;
    this.comments = 0;
    this.partial = "";
    this.afterCR = false;
    this.atStart = true;
    this.resetEvent();
  }

  resetEvent() {
    this.type = "";
    this.data = "";
    this.hasData = false;
    this.idBuffer = this.lastEventId;
  }

  feed(text) {
    if (this.atStart && text.length) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let i = 0;
    if (this.afterCR && text.length) {
      this.afterCR = false;
      if (text[0] === "\n") i = 1; // the LF of a CRLF whose CR ended the last piece
    }
    const ends = /\r\n|\r|\n/g;
    ends.lastIndex = i;
    for (let m; (m = ends.exec(text)); ) {
      const line = this.partial + text.slice(i, m.index);
      this.partial = "";
      i = m.index + m[0].length;
      if (m[0] === "\r" && i === text.length) this.afterCR = true;
      this.line(line);
    }
    this.partial += text.slice(i);
    if (this.partial.length > this.maxBytes) throw new OfferError("an event-stream line is too long", 200);
  }

  /** The stream ended: an event without its blank line is dropped, as the standard says. */
  end() {
    this.partial = "";
    this.afterCR = false;
    this.resetEvent();
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line[0] === ":") {
      this.comments++;
      return;
    }
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    switch (name) {
      case "event":
        this.type = value;
        break;
      case "data":
        this.data += this.hasData ? "\n" + value : value;
        this.hasData = true;
        if (this.data.length > this.maxBytes) throw new OfferError("an event is too large", 200);
        break;
      case "id":
        if (!value.includes("\0")) this.idBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default: // unknown fields are ignored
    }
  }

  dispatch() {
    this.lastEventId = this.idBuffer;
    if (this.hasData) {
      this.events++;
      const event = { type: this.type || "message", data: this.data, lastEventId: this.lastEventId };
      this.resetEvent();
      this.onEvent(event);
    } else {
      this.resetEvent();
    }
  }
}

// ---- backoff ----

/**
 * Delay before retry number `failures` (1 for the first retry): `base` plus full jitter, a uniform
 * draw from [0, min(max, initial * 2^(failures-1))], and never less than the server's Retry-After
 * (capped at an hour). Full jitter spreads a crowd of clients that failed together best; `base` (the
 * poll interval when polling) keeps a failing poller from polling faster than it normally would.
 */
export function backoffDelay(failures, { initial = BACKOFF_INITIAL_MS, max = BACKOFF_MAX_MS, base = 0,
  retryAfter = 0, random = Math.random } = {}) {
  if (failures <= 0) return base;
  const cap = Math.min(max, initial * 2 ** Math.min(failures - 1, 30));
  let delay = base + Math.floor(random() * (cap + 1));
  if (retryAfter > delay) delay = Math.min(retryAfter, RETRY_AFTER_CAP_MS);
  return delay;
}

/** Retry-After (seconds, or an HTTP date) in ms from now; 0 when absent or unreadable. */
export function parseRetryAfter(value, at = Date.now()) {
  if (value == null) return 0;
  const text = String(value).trim();
  if (/^[0-9]+$/.test(text)) return Math.min(Number(text) * 1000, RETRY_AFTER_CAP_MS);
  const when = Date.parse(text);
  return Number.isNaN(when) ? 0 : Math.min(Math.max(0, when - at), RETRY_AFTER_CAP_MS);
}

// ---- helpers ----

function checkTransport(transport) {
  if (!TRANSPORTS.includes(transport))
    throw new TypeError(`transport must be one of ${TRANSPORTS.join(", ")} (got ${String(transport)})`);
  return transport;
}

function checkInterval(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 1)
    throw new TypeError(`interval must be a number of milliseconds >= 1 (got ${String(ms)})`);
  return ms;
}

function badId(offerId) {
  return new OfferError(`offer id must be 1-64 of A-Z a-z 0-9 _ - (got ${JSON.stringify(offerId)})`, 400,
    { offerId: typeof offerId === "string" ? offerId : null });
}

const offerPath = (id) => `/api/offers/${encodeURIComponent(id)}`;

/** A failed fetch()'s reason: Node says "fetch failed" and keeps the why (ECONNREFUSED) in cause. */
const why = (e) => {
  const code = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? e}${code ? ` (${code})` : ""}`;
};

const isEventStream = (type) => /^\s*text\/event-stream\s*(;|$)/i.test(type || "");

function isOffer(value) {
  return value !== null && typeof value === "object" && typeof value.id === "string" &&
    Number.isSafeInteger(value.version);
}

/** An AbortSignal that fires with `outer` or after `ms`; Node 18 has no AbortSignal.any. */
function deadline(outer, ms) {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort(outer.reason);
  if (outer?.aborted) ctrl.abort(outer.reason);
  else outer?.addEventListener("abort", onAbort, { once: true });
  const state = { signal: ctrl.signal, timedOut: false };
  const timer = setTimeout(() => {
    state.timedOut = true;
    ctrl.abort(new OfferError(`no answer within ${Math.round(ms / 1000)} s`, 0));
  }, ms);
  state.done = () => {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
  };
  return state;
}

// ---- the client ----

class OfferClient {
  constructor(options = {}) {
    this.baseUrl = "";
    this.getToken = null;
    this.credentials = "same-origin";
    this.transport = "auto";
    this.fetchFn = (...args) => globalThis.fetch(...args); // looked up late: polyfills still count
    this.pauseWhenHidden = true;
    this.WebSocket = null; // null: globalThis.WebSocket, looked up late as fetch is; false: none
    this.watches = new Set();
    this.hub = new StreamHub(this);
    this.sockets = new SocketHub(this);
    this.polls = new PollHub(this);
    this.refusedUntil = { ws: 0, sse: 0, longpoll: 0 };
    this.hidden = false;
    this.closed = false;
    this.configure(options);
    this.listenForVisibility();
  }

  /** Changes the options given (others keep their value); open streams reopen with them. */
  configure({ baseUrl, getToken, credentials, transport, fetch, pauseWhenHidden, WebSocket } = {}) {
    if (transport !== undefined) this.transport = checkTransport(transport);
    if (getToken !== undefined) {
      if (getToken !== null && typeof getToken !== "function") throw new TypeError("getToken must be a function");
      this.getToken = getToken;
    }
    if (fetch !== undefined) {
      if (fetch !== null && typeof fetch !== "function") throw new TypeError("fetch must be a function");
      this.fetchFn = fetch ?? ((...args) => globalThis.fetch(...args));
    }
    if (WebSocket !== undefined) {
      if (WebSocket !== null && WebSocket !== false && typeof WebSocket !== "function")
        throw new TypeError("WebSocket must be a constructor, false (none) or null (the platform's)");
      this.WebSocket = WebSocket;
    }
    if (baseUrl !== undefined) this.baseUrl = String(baseUrl ?? "").replace(/\/+$/, "");
    if (credentials !== undefined) this.credentials = credentials;
    if (pauseWhenHidden !== undefined) {
      this.pauseWhenHidden = Boolean(pauseWhenHidden);
      this.setHidden(this.pauseWhenHidden && this.documentHidden());
    }
    this.hub.reopen();
    this.sockets.reopen();
  }

  watch(offerId, options = {}) {
    if (this.closed) throw new Error("this offer client is closed");
    const w = new Watch(this, offerId, options);
    this.watches.add(w);
    w.resume();
    return {
      refetch: () => w.refetch(),
      setEnabled: (enabled) => w.setEnabled(enabled),
      setInterval: (ms) => w.setInterval(ms),
      stop: () => w.stop(),
      get offer() { return w.offer; },
      get transport() { return w.transport; },
    };
  }

  async fetchOffer(offerId, { signal } = {}) {
    if (typeof offerId !== "string" || !OFFER_ID.test(offerId)) throw badId(offerId);
    const r = await this.call(offerPath(offerId), { signal, offerId });
    if (r.status === 200) return this.readOffer(r, offerId);
    throw this.errorFrom(r, offerId);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.stop();
    this.hub.close();
    this.sockets.close();
    this.polls.close();
    this.doc?.removeEventListener("visibilitychange", this.onVisibility);
  }

  // -- transports' shared state --

  allowed(transport) {
    if (transport === "ws" && !this.canWebSocket()) return false;
    return transport === "poll" || now() >= this.refusedUntil[transport];
  }

  /** The WebSocket constructor: the one configured, else the platform's (Node 22+, browsers);
   *  null when there is none or the option said false. */
  webSocketClass() {
    if (this.WebSocket === false) return null;
    return this.WebSocket ?? (typeof globalThis.WebSocket === "function" ? globalThis.WebSocket : null);
  }

  /** A WebSocket class and somewhere to connect it (a relative baseUrl needs a page). */
  canWebSocket() {
    return Boolean(this.webSocketClass() && webSocketUrl(this.baseUrl));
  }

  /** The server or a proxy refused TRANSPORT: every auto watch on it moves down, for a while. */
  refuse(transport) {
    this.refusedUntil[transport] = now() + FALLBACK_STICKS_MS;
    for (const w of this.watches) if (w.mode === "auto" && w.transport === transport) w.moveTo(w.bestTransport());
  }

  /** Auto watches among WATCHES whose better transport may be tried again (its refusal expired)
   *  move up to it; true if any did. A reconnection is the moment: an open stream that works stays. */
  climb(watches) {
    let moved = false;
    for (const w of watches) {
      if (w.mode !== "auto" || !w.running) continue;
      const best = w.bestTransport();
      if (RANK[best] < RANK[w.transport]) {
        w.moveTo(best);
        moved = true;
      }
    }
    return moved;
  }

  // -- visibility: a hidden tab sends nothing; coming back fetches at once --

  documentHidden() {
    const doc = globalThis.document;
    return Boolean(doc && doc.visibilityState === "hidden");
  }

  listenForVisibility() {
    const doc = globalThis.document;
    if (!doc || typeof doc.addEventListener !== "function") return;
    this.doc = doc;
    this.onVisibility = () => this.setHidden(this.pauseWhenHidden && this.documentHidden());
    doc.addEventListener("visibilitychange", this.onVisibility);
    this.setHidden(this.pauseWhenHidden && this.documentHidden());
  }

  setHidden(hidden) {
    if (hidden === this.hidden) return;
    this.hidden = hidden;
    for (const w of this.watches) {
      if (hidden) w.halt();
      else w.resume();
    }
  }

  // -- HTTP --

  /** getToken()'s token, or null for none (the __session cookie then speaks for the caller). */
  async token() {
    if (!this.getToken) return null;
    try {
      return (await this.getToken()) || null;
    } catch (e) {
      throw new OfferError(`getToken failed: ${e?.message ?? e}`, 0, { cause: e });
    }
  }

  async headers(extra) {
    const headers = { ...extra };
    const token = await this.token();
    if (token) headers.Authorization = `Bearer ${token}`; // a header, never the URL: URLs get logged
    return headers;
  }

  /** One request read to its end: {status, headers, text}. Rejects with an OfferError (status 0)
   *  when no answer came, or with the signal's reason when the caller aborted. */
  async call(path, { method = "GET", headers = {}, body, signal, timeout = REQUEST_TIMEOUT_MS, offerId = null } = {}) {
    const fetchFn = this.fetchFn; // called unbound: window.fetch refuses another `this`
    const h = await this.headers({ Accept: "application/json", ...headers });
    signal?.throwIfAborted?.();
    const limit = deadline(signal, timeout);
    try {
      const res = await fetchFn(this.baseUrl + path, {
        method, headers: h, body, signal: limit.signal, credentials: this.credentials, cache: "no-store",
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text };
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      if (limit.timedOut) throw new OfferError(`no answer within ${Math.round(timeout / 1000)} s`, 0, { offerId, cause: e });
      throw new OfferError(`network error: ${why(e)}`, 0, { offerId, cause: e });
    } finally {
      limit.done();
    }
  }

  errorFrom({ status, headers, text }, offerId = null) {
    let detail = "";
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") detail = body.error;
    } catch {
      // not offerd's JSON (a proxy's page): the status says enough
    }
    return new OfferError(`HTTP ${status}${detail ? `: ${detail}` : ""}`, status,
      { offerId, retryAfter: parseRetryAfter(headers?.get?.("retry-after")) });
  }

  readOffer({ text }, offerId) {
    let offer;
    try {
      offer = JSON.parse(text);
    } catch {
      offer = null;
    }
    if (!isOffer(offer)) throw new OfferError("HTTP 200: the answer is not an offer", 200, { offerId });
    return offer;
  }
}

// ---- one watched offer ----

class Watch {
  constructor(client, offerId, { enabled = true, interval = 5000, transport, onUpdate, onError, onTransport,
    onRecover } = {}) {
    this.client = client;
    this.id = typeof offerId === "string" ? offerId : "";
    this.idError = typeof offerId === "string" && OFFER_ID.test(offerId) ? null : badId(offerId);
    this.enabled = Boolean(enabled);
    this.interval = checkInterval(interval);
    this.mode = checkTransport(transport ?? client.transport);
    this.callbacks = { update: onUpdate, error: onError, transport: onTransport, recover: onRecover };
    this.offer = null; // the newest state seen
    this.version = -1; // its version: nothing older or equal is ever delivered again
    this.etag = null;
    this.transport = null;
    this.announced = null; // the transport onTransport last heard of
    this.gen = 0; // bumped by halt(): async work of an older generation drops its result
    this.timer = null;
    this.ctrl = null;
    this.needsGet = true; // the next step is a plain GET (start, resume, coming back into view)
    this.lastStart = 0;
    this.failures = 0;
    this.strikes = 0;
    this.retried401 = false;
    this.parked = false; // stopped retrying after a 401/403/404, until refetch() or re-enable
    this.failing = false; // an error was reported and no success since (for onRecover)
    this.stopped = false;
    this.refetching = null;
    this.refetchAgain = null;
    this.refetchCtrl = null;
    this.ownPoll = false; // its own long-poll (or the wait for the next) is under way
    this.avoidWs = false; // the socket had no room for this offer (offerd's 64): auto uses SSE for it
  }

  get running() {
    return !this.stopped && this.enabled && !this.parked && !this.client.hidden;
  }

  emit(kind, arg) {
    const fn = this.callbacks[kind];
    if (this.stopped || typeof fn !== "function") return;
    try {
      fn(arg);
    } catch (e) {
      report(e); // a throwing callback must not wedge the watch
    }
  }

  // -- life --

  /** Cancels what is in flight or planned; results of the old generation are dropped. */
  halt() {
    this.gen++;
    clearTimeout(this.timer);
    this.timer = null;
    this.ctrl?.abort();
    this.ctrl = null;
    this.ownPoll = false;
    this.client.hub.remove(this);
    this.client.sockets.remove(this);
    this.client.polls.remove(this);
  }

  /** (Re)starts from a plain GET, with the best transport auto may use now. */
  resume() {
    this.halt();
    if (!this.running) return;
    this.needsGet = true;
    this.strikes = 0;
    this.setTransport(this.bestTransport());
    this.schedule(0);
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.refetchCtrl?.abort();
    this.halt();
    this.client.watches.delete(this);
  }

  setEnabled(enabled) {
    enabled = Boolean(enabled);
    if (this.stopped || enabled === this.enabled) return;
    this.enabled = enabled;
    if (enabled) {
      this.parked = false; // enabling again is a fresh start, also after a 401/403/404
      this.failures = 0;
      this.resume();
    } else {
      this.refetchCtrl?.abort();
      this.halt();
    }
  }

  setInterval(ms) {
    this.interval = checkInterval(ms);
    // a poll that is waiting counts the new interval from the start of the last one
    if (this.transport === "poll" && this.timer && !this.needsGet && this.failures === 0)
      this.schedule(Math.max(0, this.lastStart + ms - now()));
  }

  bestTransport() {
    if (this.mode !== "auto") return this.mode;
    return ["ws", "sse", "longpoll", "poll"].find((t) => (t !== "ws" || !this.avoidWs) && this.client.allowed(t));
  }

  /** Records the transport; step() announces it, so that no callback runs inside watch(). */
  setTransport(name) {
    this.transport = name;
  }

  /** Auto changes transport: what is open closes, the new one starts at once. */
  moveTo(name) {
    this.halt();
    this.strikes = 0;
    this.setTransport(name);
    if (this.running) this.schedule(0);
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.step();
    }, ms);
  }

  step() {
    if (!this.running) return;
    if (this.idError) return this.park(this.idError);
    if (this.mode === "auto") {
      const best = this.bestTransport(); // a fallback that expired: climb back up
      if (RANK[best] < RANK[this.transport]) this.setTransport(best);
    }
    if (this.announced !== this.transport) {
      this.announced = this.transport;
      const gen = this.gen;
      this.emit("transport", this.transport);
      if (gen !== this.gen || !this.running) return; // the callback stopped or paused us
    }
    if (this.needsGet || this.transport === "poll") return this.get();
    if (this.transport === "longpoll") return this.client.polls.add(this);
    if (this.transport === "ws") {
      if (!this.client.canWebSocket()) // asked for by name where there is none
        return this.park(new OfferError(
          "no WebSocket here: pass one to configure({ WebSocket }), or an absolute baseUrl", 0));
      return this.client.sockets.add(this);
    }
    this.client.hub.add(this);
  }

  // -- outcomes --

  /** A state of the offer, from any source: called back only when its version is new. */
  deliver(offer, etag) {
    if (this.stopped || !this.enabled) return;
    if (offer.version < this.version) return; // an answer overtaken by a newer event
    if (offer.version === this.version) {
      if (etag) { // same version: keep the newest validator and body, quietly
        this.etag = etag;
        this.offer = offer;
      }
      return;
    }
    this.version = offer.version;
    this.offer = offer;
    this.etag = etag || null; // events carry no ETag; an older one would only cost a 200
    this.emit("update", offer);
  }

  succeeded() {
    this.failures = 0;
    this.retried401 = false;
    if (this.failing) {
      this.failing = false;
      this.emit("recover");
    }
  }

  reportError(err, retryIn) {
    err.retryIn = retryIn;
    err.transport = this.transport;
    this.failing = true;
    this.emit("error", err);
  }

  /** Stops retrying: the offer is missing or not ours, or we are not signed in. The last offer stays. */
  park(err) {
    this.halt();
    this.parked = true;
    this.reportError(err, null);
  }

  /** The watch's own request failed: retry with backoff, or give up on 401/403/404. */
  fail(err) {
    this.ctrl = null;
    if (err.status === 401 && !this.retried401) {
      this.retried401 = true; // a token may have expired in flight: ask getToken once more, now
      return this.schedule(0);
    }
    if (STOPS_RETRYING.has(err.status)) return this.park(err);
    this.failures++;
    const delay = backoffDelay(this.failures, {
      base: this.transport === "poll" ? this.interval : 0,
      retryAfter: err.retryAfter,
    });
    this.reportError(err, delay);
    this.schedule(delay);
  }

  // -- requests --

  /** A GET of the offer: {offer, etag} on 200, {} on 304; rejects with an OfferError otherwise. */
  async fetch(signal, query = "", extraTimeout = 0) {
    const headers = this.etag ? { "If-None-Match": this.etag } : {};
    const r = await this.client.call(offerPath(this.id) + query,
      { headers, signal, timeout: REQUEST_TIMEOUT_MS + extraTimeout, offerId: this.id });
    if (r.status === 304) return {};
    if (r.status === 200) return { offer: this.client.readOffer(r, this.id), etag: r.headers.get("etag") };
    throw this.client.errorFrom(r, this.id);
  }

  /** The plain GET: a poll, or the first look before long-poll and SSE. */
  async get() {
    const gen = this.gen;
    const ctrl = (this.ctrl = new AbortController());
    const sse = this.transport === "sse";
    if (sse) this.client.hub.expect(this); // the stream waits a moment for us
    // so does the socket (opening meanwhile)
    if (this.transport === "ws" && this.client.canWebSocket()) this.client.sockets.expect(this);
    if (this.transport === "longpoll") this.client.polls.expect(this); // so does the shared long-poll
    this.lastStart = now();
    let result;
    try {
      result = await this.fetch(ctrl.signal);
    } catch (err) {
      if (gen !== this.gen) return;
      if (sse) this.client.hub.remove(this);
      this.client.sockets.remove(this);
      this.client.polls.remove(this);
      return this.fail(err);
    }
    if (gen !== this.gen) return;
    this.ctrl = null;
    this.succeeded();
    if (result.offer) this.deliver(result.offer, result.etag);
    if (gen !== this.gen) return; // a callback stopped or paused us
    this.needsGet = false;
    if (this.transport === "poll") this.schedule(Math.max(0, this.lastStart + this.interval - now()));
    else this.step();
  }

  /** The watch's own long-poll, while it is the client's only long-poll watch (PollHub). */
  async longPoll() {
    const gen = this.gen;
    this.ownPoll = true;
    const ctrl = (this.ctrl = new AbortController());
    const started = now();
    let result;
    try {
      result = await this.fetch(ctrl.signal, `?wait=${LONGPOLL_WAIT_S}&since=${this.version}`, LONGPOLL_WAIT_S * 1000);
    } catch (err) {
      if (gen !== this.gen) return;
      this.ownPoll = false;
      const auto = this.mode === "auto";
      if (auto && err.status === 400) return this.client.refuse("longpoll"); // ?wait not understood
      // the hold did not survive the way to the server and back (a proxy's timeout, a cut)
      const cut = err.status === 0 || err.status === 502 || err.status === 504;
      this.strikes = cut ? this.strikes + 1 : 0;
      this.fail(err);
      if (auto && this.strikes >= STRIKES_TO_FALL_BACK) this.client.refuse("longpoll");
      return;
    }
    if (gen !== this.gen) return;
    this.ctrl = null;
    this.ownPoll = false;
    this.succeeded();
    // an unchanged answer well before the wait: nothing held it (a proxy, a draining server)
    const unheld = (!result.offer || result.offer.version <= this.version) && now() - started < LONGPOLL_WAIT_S * 500;
    this.strikes = unheld ? this.strikes + 1 : 0;
    if (result.offer) this.deliver(result.offer, result.etag);
    if (gen !== this.gen) return;
    if (this.mode === "auto" && this.strikes >= STRIKES_TO_FALL_BACK) return this.client.refuse("longpoll");
    // back off after unheld answers, but never slower than polling would be
    this.schedule(unheld ? Math.min(backoffDelay(this.strikes), this.interval) : 0);
  }

  refetch() {
    if (this.stopped || !this.enabled) return Promise.resolve(this.offer);
    if (this.refetching) { // one in flight: another follows it, shared by every caller meanwhile
      this.refetchAgain ??= this.refetching.then(() => {
        this.refetchAgain = null;
        return this.refetch();
      });
      return this.refetchAgain;
    }
    this.refetching = this.refetchNow().finally(() => {
      this.refetching = null;
    });
    return this.refetching;
  }

  /** A plain GET now, beside whatever the transport has open; resolves to the newest offer. */
  async refetchNow() {
    if (this.idError) {
      if (!this.parked) this.park(this.idError);
      return this.offer;
    }
    const ctrl = (this.refetchCtrl = new AbortController());
    let result;
    try {
      result = await this.fetch(ctrl.signal);
    } catch (err) {
      if (this.stopped || !this.enabled || ctrl.signal.aborted) return this.offer;
      if (STOPS_RETRYING.has(err.status)) this.park(err);
      else this.reportError(err, null); // the transport's own schedule stays as it was
      return this.offer;
    }
    if (this.stopped || !this.enabled) return this.offer;
    const wasStuck = this.parked || this.failures > 0;
    this.parked = false;
    this.succeeded();
    if (result.offer) this.deliver(result.offer, result.etag);
    // it was parked or backing off: the offer answers again, so the transport goes on at once
    if (wasStuck && this.running) {
      this.halt();
      this.needsGet = false;
      this.schedule(this.transport === "poll" ? this.interval : 0);
    } else if (this.running && this.transport === "sse") {
      this.client.hub.kick(this.id); // a stream waiting to reconnect comes back now
    } else if (this.running && this.transport === "ws") {
      this.client.sockets.kick(); // so does the socket
    }
    return this.offer;
  }

  /**
   * A plain GET when the shared connection was refused: is it about this offer, does HTTP itself
   * answer? "answered" (200/304: the offer is fine), "gave-up" (401/403/404: the watch parked),
   * "no-answer" (a network error, a 5xx) or "left" (the watch stopped or moved meanwhile).
   */
  async verify() {
    const gen = this.gen;
    const ctrl = (this.ctrl = new AbortController());
    try {
      const result = await this.fetch(ctrl.signal);
      if (gen !== this.gen) return "left";
      this.ctrl = null;
      if (result.offer) this.deliver(result.offer, result.etag);
      return "answered";
    } catch (err) {
      if (gen !== this.gen) return "left";
      this.ctrl = null;
      if (!STOPS_RETRYING.has(err.status)) return "no-answer";
      this.park(err);
      return "gave-up";
    }
  }

  /** The shared long-poll takes over: the watch's own long-poll (or its wait for the next) ends. */
  leaveOwnPoll() {
    if (!this.ownPoll && !this.timer) return;
    this.gen++;
    clearTimeout(this.timer);
    this.timer = null;
    this.ctrl?.abort();
    this.ctrl = null;
    this.ownPoll = false;
  }

  // -- what the shared stream reports --

  onEvent(offer) {
    if (this.running && this.client.hub.members.has(this)) this.deliver(offer, null);
  }

  onStreamOpen() {
    if (this.running) this.succeeded();
  }

  onStreamError(err, retryIn) {
    if (this.running) this.reportError(err, retryIn);
  }

  /** The stream refused this offer alone (offer-error, 403/404): give up on it, as a GET would. */
  onStreamRefusal(err) {
    if (this.running && this.client.hub.members.has(this)) this.park(err);
  }
}

// ---- watches sharing one connection ----

/**
 * The watches on one shared connection (the SSE stream, the WebSocket): members past their first
 * GET, and those still on it, worth waiting for (up to STREAM_GATHER_MAX_MS) so that a page that
 * mounts ten offers changes the connection once. sync() calls apply() once the set settles.
 */
class MemberHub {
  constructor(client) {
    this.client = client;
    this.members = new Set(); // watches on this transport past their first GET
    this.expected = new Set(); // watches on it still on their first GET: worth waiting for
    this.debounce = null;
    this.firstChange = 0;
  }

  expect(w) {
    this.expected.add(w);
  }

  add(w) {
    this.expected.delete(w);
    if (this.members.has(w)) return;
    this.members.add(w);
    this.changed();
  }

  remove(w) {
    const was = this.members.delete(w);
    if (this.expected.delete(w) || was) this.changed();
  }

  changed() {
    if (!this.debounce) this.firstChange = now();
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.sync(), STREAM_DEBOUNCE_MS);
  }

  sync() {
    this.debounce = null;
    // watches still on their first GET will join in a moment: one connection for the whole page
    if (this.expected.size && now() - this.firstChange < STREAM_GATHER_MAX_MS) {
      this.debounce = setTimeout(() => this.sync(), STREAM_DEBOUNCE_MS);
      return;
    }
    this.apply();
  }
}

// ---- the multiplexed SSE stream ----

/** Every watch on SSE shares one GET /api/offers/events?ids=... (one per 64 ids). */
class StreamHub extends MemberHub {
  constructor(client) {
    super(client);
    this.streams = [];
    this.key = ""; // the ids the open streams carry
  }

  /** The client's settings changed: reopen with them. */
  reopen() {
    this.key = null;
    if (this.members.size) this.changed();
  }

  kick(id) {
    for (const s of this.streams) if (s.ids.includes(id)) s.kick();
  }

  close() {
    clearTimeout(this.debounce);
    for (const s of this.streams) s.close();
    this.streams = [];
    this.members.clear();
    this.expected.clear();
    this.key = "";
  }

  apply() {
    const ids = [...new Set([...this.members].map((w) => w.id))].sort();
    const key = ids.join(",");
    if (key === this.key) return;
    this.key = key;
    // only offers the stream itself refused have left: it goes on as it is (it does not watch them,
    // and reopening would cost a reconnection and every other offer's state again)
    if (this.streams.length === 1 && this.streams[0].onlyDrops(ids)) return;
    for (const s of this.streams) s.close();
    this.streams = [];
    for (let i = 0; i < ids.length; i += STREAM_MAX_IDS) {
      const stream = new Stream(this, ids.slice(i, i + STREAM_MAX_IDS));
      this.streams.push(stream);
      stream.open();
    }
  }
}

class Stream {
  constructor(hub, ids) {
    this.hub = hub;
    this.client = hub.client;
    this.ids = ids;
    this.closed = false;
    this.ctrl = null;
    this.timer = null;
    this.failures = 0;
    this.strikes = 0;
    this.lastEventId = ""; // offerd's resumable position ("<seq>:<tag>"): sent back on reconnecting
    this.retryMs = RECONNECT_MS;
    this.live = false; // connecting or reading
    this.refusedIds = new Set(); // offers the stream answered with offer-error (it does not watch them)
    this.reauth = false; // the stream said its token expired
    this.quickReauths = 0; // streams in a row that said so at once: getToken keeps an old token
  }

  members() {
    return [...this.hub.members].filter((w) => this.ids.includes(w.id));
  }

  /** True when IDS is this stream's ids less some it refused, and none of those is back. */
  onlyDrops(ids) {
    return ids.length > 0 && ids.every((id) => this.ids.includes(id) && !this.refusedIds.has(id)) &&
      this.ids.every((id) => ids.includes(id) || this.refusedIds.has(id));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ctrl?.abort();
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), ms);
  }

  /** Reconnects now if waiting after a failure (a refetch just got through). */
  kick() {
    if (this.closed || this.live || this.failures === 0) return;
    clearTimeout(this.timer);
    this.open();
  }

  async open() {
    if (this.closed || this.live) return;
    // reconnecting: auto watches go back to the WebSocket once its refusal has expired (the hub
    // then reopens the stream for whoever stays, if anyone)
    if (this.client.climb(this.members()) && !this.members().length) return;
    this.live = true;
    try {
      await this.connect();
    } finally {
      this.live = false;
    }
  }

  async connect() {
    const ctrl = (this.ctrl = new AbortController());
    const started = now();
    let res;
    try {
      this.reauth = false;
      const headers = await this.client.headers({ Accept: "text/event-stream" }); // a fresh token
      // As EventSource does: offerd then sends only the offers changed since that position.
      if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
      if (this.closed) return;
      const fetchFn = this.client.fetchFn;
      res = await fetchFn(`${this.client.baseUrl}/api/offers/events?ids=${this.ids.join(",")}`, {
        headers, signal: ctrl.signal, credentials: this.client.credentials, cache: "no-store",
      });
    } catch (e) {
      if (this.closed) return;
      return this.failed(e instanceof OfferError ? e : new OfferError(`network error: ${why(e)}`, 0, { cause: e }));
    }
    const type = res.headers.get("content-type");
    if (res.status !== 200 || !isEventStream(type) || !res.body) {
      let text = "";
      try {
        text = await res.text();
      } catch {
        // cut while reading the error: the status is enough
      }
      if (this.closed) return;
      const err = res.status === 200
        ? new OfferError(`HTTP 200: not an event stream (Content-Type: ${type || "none"})`, 200)
        : this.client.errorFrom({ status: res.status, headers: res.headers, text });
      return this.refused(err);
    }

    this.failures = 0;
    for (const w of this.members()) w.onStreamOpen();
    const parser = new EventStreamParser((ev) => this.onEvent(ev), { lastEventId: this.lastEventId });
    let stalled = false;
    let stall = null;
    const watchdog = () => {
      clearTimeout(stall);
      stall = setTimeout(() => {
        stalled = true;
        ctrl.abort();
      }, STREAM_STALL_MS);
    };
    let cut = null;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    watchdog();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.closed) break;
        watchdog();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (e) {
      cut = e;
    } finally {
      clearTimeout(stall);
    }
    if (this.closed) return;
    parser.end();
    this.lastEventId = parser.lastEventId;
    if (parser.retry !== null) this.retryMs = parser.retry;
    if (this.reauth && !cut) {
      // the token expired, not the connection: back at once (getToken is asked again), resuming;
      // if it ends so again at once, getToken gave a token about to expire: back off meanwhile
      this.strikes = 0;
      this.quickReauths = now() - started < SHORT_STREAM_MS ? this.quickReauths + 1 : 0;
      const delay = this.quickReauths ? backoffDelay(this.quickReauths)
        : Math.floor(Math.random() * (REAUTH_JITTER_MS + 1));
      if (this.members().length) this.schedule(delay);
      return;
    }
    const useless = now() - started < SHORT_STREAM_MS || (parser.events === 0 && parser.comments === 0);
    this.strikes = useless ? this.strikes + 1 : 0;
    if (this.strikes >= STRIKES_TO_FALL_BACK && this.members().some((w) => w.mode === "auto")) {
      this.client.refuse("sse"); // a proxy that cuts or buffers streams: auto watches move on
      if (this.closed) return;
    }
    if (cut instanceof OfferError) return this.failed(cut); // a line or event too large
    if (cut) {
      const what = stalled ? `went silent (nothing for ${STREAM_STALL_MS / 1000} s, not even a heartbeat)`
        : `was cut: ${why(cut)}`;
      return this.failed(new OfferError(`the event stream ${what}`, 0, { cause: cut }));
    }
    if (!this.members().length) return; // everyone left; the hub closes this stream
    // ended by the server (shutdown, token expiry): come back after its retry: time, spread out
    let delay = this.retryMs + Math.floor(Math.random() * (this.retryMs / 2 + 1));
    if (this.strikes) delay = Math.max(delay, backoffDelay(this.strikes));
    this.schedule(delay);
  }

  onEvent({ type, data }) {
    if (type === "reauth") {
      this.reauth = true;
      return;
    }
    if (type === "offer-error") return this.onOfferError(data);
    if (type !== "offer" && type !== "message") return; // a kind this version does not know
    let offer;
    try {
      offer = JSON.parse(data);
    } catch {
      offer = null;
    }
    if (!isOffer(offer)) return;
    for (const w of this.members()) if (w.id === offer.id) w.onEvent(offer);
  }

  /** {"id", "status", "error"}: one offer the caller may not watch; the others stream on. */
  onOfferError(data) {
    let body;
    try {
      body = JSON.parse(data);
    } catch {
      return;
    }
    if (!body || typeof body.id !== "string" || !Number.isInteger(body.status)) return;
    this.refusedIds.add(body.id);
    const detail = typeof body.error === "string" ? `: ${body.error}` : "";
    const err = new OfferError(`HTTP ${body.status}${detail}`, body.status, { offerId: body.id });
    for (const w of this.members()) if (w.id === body.id) w.onStreamRefusal(err);
  }

  /** The stream was answered with something other than a stream. */
  async refused(err) {
    if ([401, 403, 404].includes(err.status)) {
      // Every offer is missing or not ours (offerd refuses a stream only then; older servers did
      // for any one of them), or a 404 from a server or proxy without this route: ask each offer
      // on its own. Those that fail give up (the hub then reopens without them); if none does,
      // the stream itself is the problem.
      const verdicts = await Promise.all(this.members().map((w) => w.verify()));
      if (this.closed || verdicts.includes("gave-up") || !this.members().length) return;
    }
    const refusal = [404, 405, 406, 415, 501].includes(err.status) || err.status === 200;
    if (refusal && this.members().some((w) => w.mode === "auto")) {
      this.client.refuse("sse"); // auto watches move to long-poll, and the hub reopens for the rest
      if (this.closed || !this.members().length) return;
    }
    this.failed(err);
  }

  failed(err) {
    if (!this.members().length) return; // everyone left; the hub closes this stream
    this.failures++;
    const delay = backoffDelay(this.failures, { retryAfter: err.retryAfter });
    for (const w of this.members()) w.onStreamError(err, delay);
    this.schedule(delay);
  }
}

// ---- the WebSocket ----

/** ws(s)://.../api/ws for BASEURL (absolute, or relative to the page); null when there is none. */
export function webSocketUrl(baseUrl, pageUrl = globalThis.location?.href) {
  let url;
  try {
    url = new URL(`${baseUrl}/api/ws`, pageUrl);
  } catch {
    return null; // a relative baseUrl without a page (Node): nowhere to connect
  }
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  return url.protocol === "ws:" || url.protocol === "wss:" ? url.href : null;
}

/**
 * The messages that turn the socket's subscriptions SUBSCRIBED (id -> the newest version offerd
 * knows we have) into WANTED (id -> the oldest version any watch of the id has): new ids, and ids
 * one of whose watches is behind what offerd thinks we have (it joined late: offerd must send the
 * current state again), each with that version so that offerd sends only newer ones; and the ids
 * no watch wants any more. {subscribe: [ids], versions: {id: v}, unsubscribe: [ids]}, ids sorted.
 */
export function subscriptionChanges(subscribed, wanted) {
  const subscribe = [];
  const versions = {};
  for (const [id, version] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (subscribed.has(id) && subscribed.get(id) <= version) continue;
    subscribe.push(id);
    if (version >= 1) versions[id] = version;
  }
  const unsubscribe = [...subscribed.keys()].filter((id) => !wanted.has(id)).sort();
  return { subscribe, versions, unsubscribe };
}

/**
 * One text frame from offerd, checked: {type: "offer", offer}, {type: "error", id (null for an
 * error about a whole message), status, error}, {type: "reauth"}; null for anything else (a kind
 * this version does not know, or not offerd talking).
 */
export function readSocketMessage(data) {
  if (typeof data !== "string") return null; // the protocol is text frames only
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return null;
  }
  if (msg === null || typeof msg !== "object") return null;
  if (msg.type === "offer") return isOffer(msg.offer) ? { type: "offer", offer: msg.offer } : null;
  if (msg.type === "reauth") return { type: "reauth" };
  if (msg.type !== "error" || !Number.isInteger(msg.status)) return null;
  return { type: "error", id: typeof msg.id === "string" ? msg.id : null, status: msg.status,
    error: typeof msg.error === "string" ? msg.error : "" };
}

/**
 * What a close of an open socket asks for: "shutdown" (1001; offerd's reason is JSON
 * {"reason":"shutdown","retryMs":N}, N already spread with jitter), "policy" (1008: the token
 * expired or was refused), "normal" (1000), "later" (1012/1013: restarting, over a cap, we read too
 * slowly) or "cut" (1006 and the rest: the network, a proxy, an error). retryMs: the hint, or null.
 */
export function readSocketClose(code, reason = "") {
  let retryMs = null;
  try {
    const r = JSON.parse(reason);
    if (Number.isFinite(r?.retryMs) && r.retryMs >= 0) retryMs = Math.min(r.retryMs, RETRY_AFTER_CAP_MS);
  } catch {
    // a plain-text reason: offerd's words for people, nothing to read
  }
  const kind = code === 1001 ? "shutdown" : code === 1008 ? "policy" : code === 1000 ? "normal"
    : code === 1012 || code === 1013 ? "later" : "cut";
  return { kind, retryMs };
}

const jitter = (ms) => Math.floor(Math.random() * (ms + 1));

/**
 * Every watch on the WebSocket shares ONE socket, GET /api/ws, as the multiplexed stream does for
 * SSE, but the set of offers changes in place: subscribe/unsubscribe messages, no reconnection.
 * The socket opens while the watches do their first GET (the handshake overlaps them); the token
 * goes in an `auth` message first (browsers cannot set headers on a WebSocket, and URLs get logged;
 * without a token offerd reads the __session cookie at the upgrade), and again, in place, when
 * offerd says `reauth`. A close of the whole socket follows its kind (readSocketClose): offerd's
 * shutdown hint, at once with a fresh token after 1008, backoff otherwise. A socket that fails
 * before opening (a browser cannot tell a refused upgrade from a network error) or is cut within a
 * second counts a strike; at three, auto watches move to SSE if the offers answer plain HTTP.
 */
class SocketHub extends MemberHub {
  constructor(client) {
    super(client);
    this.ws = null; // the socket, connecting or open
    this.isOpen = false;
    this.openedAt = 0;
    this.openTimer = null;
    this.connecting = false; // waiting for getToken, before the socket exists
    this.subscribed = new Map(); // id -> the newest version offerd knows we have, on this socket
    this.timer = null; // the next connection attempt
    this.failures = 0;
    this.strikes = 0;
    this.policyCloses = 0; // 1008 closes in a row soon after opening: the token is refused
    this.lastAuth = 0;
    this.quickReauths = 0; // reauths in a row, each soon after our auth
    this.authRetries = 0; // auth messages offerd could not check (5xx) in a row
    this.sentToken = false; // this socket was given a token (else the cookie speaks, or nothing)
    this.closed = false;
  }

  wanted() {
    return this.members.size > 0 || this.expected.size > 0;
  }

  expect(w) {
    super.expect(w);
    this.connect(); // the handshake and the auth message overlap the watch's first GET
  }

  /** The client's settings changed: a new socket with them. */
  reopen() {
    if (!this.ws && !this.connecting && !this.timer) return;
    this.drop();
    this.failures = 0;
    this.strikes = 0;
    if (this.wanted()) this.connect();
  }

  /** Reconnects now if waiting after a failure (a refetch just got through). */
  kick() {
    if (this.closed || !this.timer || this.failures === 0) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  close() {
    this.closed = true;
    clearTimeout(this.debounce);
    this.debounce = null;
    this.drop();
    this.members.clear();
    this.expected.clear();
  }

  apply() {
    if (!this.wanted()) return this.drop(); // everyone left (or the page is hidden)
    if (this.isOpen) this.sendSubscriptions();
    else this.connect();
  }

  /** Lets go of the socket (and of a planned reconnection); its late events are ignored. */
  drop() {
    const ws = this.ws;
    this.ws = null;
    this.isOpen = false;
    this.subscribed.clear();
    clearTimeout(this.openTimer);
    clearTimeout(this.timer);
    this.timer = null;
    try {
      ws?.close(1000);
    } catch {
      // already closing
    }
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, ms);
  }

  async connect() {
    if (this.closed || this.ws || this.connecting || this.timer || !this.wanted()) return;
    if (!this.client.canWebSocket()) { // configure() took the WebSocket class away: each watch
      for (const w of [...this.members, ...this.expected]) w.resume(); // picks again (auto: SSE)
      return;
    }
    this.connecting = true;
    let token;
    try {
      token = await this.client.token(); // before the socket: the auth message goes first
    } catch (err) {
      this.connecting = false;
      if (!this.closed) this.failed(err);
      return;
    }
    this.connecting = false;
    if (this.closed || this.ws || this.timer || !this.wanted()) return;
    const WebSocketClass = this.client.webSocketClass();
    const url = webSocketUrl(this.client.baseUrl);
    let ws;
    try {
      ws = new WebSocketClass(url);
    } catch (e) {
      return this.failed(new OfferError(`cannot open a WebSocket to ${url}: ${e?.message ?? e}`, 0, { cause: e }));
    }
    this.ws = ws;
    this.isOpen = false;
    // a handshake that hangs (a proxy holding the upgrade) counts as refused
    this.openTimer = setTimeout(() => {
      if (this.ws !== ws || this.isOpen) return;
      this.drop();
      this.failedBeforeOpen();
    }, WS_OPEN_TIMEOUT_MS);
    ws.onopen = () => this.ws === ws && this.opened(token);
    ws.onmessage = (ev) => this.ws === ws && this.onMessage(ev.data);
    ws.onclose = (ev) => this.ws === ws && this.onClose(ev.code, ev.reason);
    ws.onerror = () => {}; // a close event follows every error, with what there is to know
  }

  send(message) {
    try {
      this.ws.send(JSON.stringify(message));
    } catch {
      // closing: its close event follows
    }
  }

  opened(token) {
    clearTimeout(this.openTimer);
    this.isOpen = true;
    this.openedAt = now();
    this.authRetries = 0;
    this.subscribed.clear();
    this.sentToken = Boolean(token);
    if (token) {
      this.send({ type: "auth", token }); // first: offerd takes messages in order, no answer needed
      this.lastAuth = now();
    }
    for (const w of this.members) w.onStreamOpen();
    // while watches are still gathering (first GETs in flight), apply() subscribes them all at once
    if (!this.debounce) this.sendSubscriptions();
  }

  sendSubscriptions() {
    const wanted = new Map();
    for (const w of this.members) wanted.set(w.id, Math.min(wanted.get(w.id) ?? Infinity, w.version));
    const { subscribe, versions, unsubscribe } = subscriptionChanges(this.subscribed, wanted);
    if (unsubscribe.length) {
      this.send({ type: "unsubscribe", ids: unsubscribe });
      for (const id of unsubscribe) this.subscribed.delete(id);
    }
    if (subscribe.length) {
      this.send({ type: "subscribe", ids: subscribe, versions });
      for (const id of subscribe) this.subscribed.set(id, versions[id] ?? -1);
    }
  }

  onMessage(data) {
    const msg = readSocketMessage(data);
    if (!msg) return;
    if (msg.type === "reauth") return this.refreshAuth();
    if (msg.type === "error") return msg.id === null ? this.onSocketError(msg) : this.onOfferError(msg);
    const { offer } = msg;
    this.failures = 0;
    this.policyCloses = 0;
    const known = this.subscribed.get(offer.id);
    if (known !== undefined) this.subscribed.set(offer.id, Math.max(known, offer.version));
    for (const w of [...this.members]) if (w.id === offer.id && w.running) w.deliver(offer, null);
  }

  /** {"type":"error","id",...}: offerd dropped this one offer; the others flow on. */
  onOfferError({ id, status, error }) {
    this.subscribed.delete(id);
    const err = new OfferError(`HTTP ${status}${error ? `: ${error}` : ""}`, status, { offerId: id });
    for (const w of [...this.members]) {
      if (w.id !== id || !w.running) continue;
      if (status === 400 && w.mode === "auto") { // no room on the socket (offerd's 64): SSE for it
        w.avoidWs = true;
        w.moveTo(w.bestTransport());
      } else if (STOPS_RETRYING.has(status) || status === 400) {
        w.park(err); // missing, not ours: as a GET would
      } else {
        w.reportError(err, RECONNECT_MS);
      }
    }
    if (status >= 500) setTimeout(() => this.isOpen && this.sendSubscriptions(), RECONNECT_MS);
  }

  /** An error about a whole message: offerd could not check the token now (5xx), or the socket
   *  is not signed in (401: we had no token, and there was no cookie at the upgrade). */
  async onSocketError({ status, error }) {
    const ws = this.ws;
    if (status >= 500) { // the database, say: the token again shortly, then the subscriptions
      this.authRetries++;
      return setTimeout(() => this.ws === ws && this.refreshAuth(true), backoffDelay(this.authRetries));
    }
    // a message offerd did not take (400): nothing a retry would change; a 401 after our token:
    // the subscribe that followed an auth offerd could not check, sent again after the next auth
    if (status !== 401 || this.sentToken) return;
    const err = new OfferError(`HTTP 401${error ? `: ${error}` : ""}`, 401);
    // no token to give: ask each offer on its own (those that fail give up); if HTTP answers
    // (the cookie counts there) but the socket does not take it, auto watches move to SSE
    const verdicts = await Promise.all([...this.members].map((w) => w.verify()));
    if (this.closed || this.ws !== ws || verdicts.includes("gave-up")) return;
    if (verdicts.includes("answered") && [...this.members].some((w) => w.mode === "auto")) this.client.refuse("ws");
    if (this.members.size) {
      this.drop();
      this.failed(err);
    }
  }

  /** `reauth`: the token expires soon; a fresh one in place, on the same socket. */
  async refreshAuth(again = false) {
    const ws = this.ws;
    if (!ws || !this.isOpen) return;
    if (!again) {
      // reauths in a row right after our auth: getToken hands out tokens about to expire
      this.quickReauths = now() - this.lastAuth < SHORT_STREAM_MS ? this.quickReauths + 1 : 0;
      if (this.quickReauths) await new Promise((res) => setTimeout(res, backoffDelay(this.quickReauths)));
    }
    let token;
    try {
      token = await this.client.token();
    } catch (err) {
      if (this.ws === ws) for (const w of [...this.members]) w.onStreamError(err, null);
      return; // offerd closes the socket with 1008 at expiry; the reconnection asks again
    }
    if (this.ws !== ws || !this.isOpen || !token) return; // no token: the cookie, at the next socket
    this.send({ type: "auth", token });
    this.lastAuth = now();
    if (again) { // offerd refused what came after the auth it could not check: subscribe again
      this.subscribed.clear();
      this.sendSubscriptions();
    }
  }

  onClose(code, reason) {
    const lived = this.isOpen ? now() - this.openedAt : -1;
    this.ws = null;
    this.isOpen = false;
    this.subscribed.clear();
    clearTimeout(this.openTimer);
    if (this.closed || !this.wanted()) return;
    if (lived < 0) return this.failedBeforeOpen();
    if (lived >= SHORT_STREAM_MS) { // it worked: whatever ended it starts the count afresh
      this.strikes = 0;
      this.failures = 0;
    }
    const { kind, retryMs } = readSocketClose(code, reason);
    if (kind === "shutdown" || kind === "normal") {
      // offerd is going away: back after its hint (already spread), plus up to half again
      const base = retryMs ?? RECONNECT_MS;
      return this.schedule(base + jitter(base / 2));
    }
    if (kind === "policy") {
      // the token expired (or was refused): back at once with a fresh one; twice in a row right
      // after opening, the token is not taken at all: ask each offer over HTTP (a 401 parks it)
      this.policyCloses = lived < SHORT_STREAM_MS ? this.policyCloses + 1 : 0;
      if (this.policyCloses < 2)
        return this.schedule(this.policyCloses ? backoffDelay(this.policyCloses) : jitter(REAUTH_JITTER_MS));
      return this.verifyAll(new OfferError(`the WebSocket was closed: ${reason || "policy"} (1008)`, 0));
    }
    const err = new OfferError(`the WebSocket was closed${reason ? `: ${reason}` : ""} (${code})`, 0);
    if (kind === "cut" && lived < SHORT_STREAM_MS) { // a proxy that upgrades and cuts at once
      this.strikes++;
      if (this.strikes >= STRIKES_TO_FALL_BACK && this.someAuto()) {
        this.client.refuse("ws");
        if (!this.wanted()) return;
      }
    }
    this.failed(err);
  }

  someAuto() {
    return [...this.members, ...this.expected].some((w) => w.mode === "auto");
  }

  async verifyAll(err) {
    const verdicts = await Promise.all([...this.members].map((w) => w.verify()));
    if (this.closed || this.ws || this.connecting || this.timer || verdicts.includes("gave-up")) return;
    this.failed(err);
  }

  /** The socket failed before opening: a refused upgrade, no route, or no network at all. */
  async failedBeforeOpen() {
    this.strikes++;
    if (!this.someAuto()) // asked for by name: report and retry
      return this.failed(new OfferError("the WebSocket could not be opened (refused, or no connection)", 0));
    if (this.strikes < STRIKES_TO_FALL_BACK) {
      this.failures++; // quietly: it may be a refusal, which is no error
      return this.schedule(backoffDelay(this.failures));
    }
    // Does plain HTTP answer? Then the WebSocket is what is refused (a proxy, an older offerd):
    // auto watches move to SSE. Otherwise offerd is unreachable: an error, and retries.
    const verdicts = await Promise.all([...this.members].map((w) => w.verify()));
    if (this.closed || this.ws || this.connecting || this.timer || !this.wanted()) return;
    if (verdicts.includes("answered") || verdicts.includes("gave-up")) {
      this.client.refuse("ws");
      if (!this.wanted()) return;
    }
    this.failed(new OfferError("the WebSocket could not be opened (refused, or no connection)", 0));
  }

  failed(err) {
    if (!this.wanted()) return;
    this.failures++;
    const delay = backoffDelay(this.failures, { retryAfter: err.retryAfter });
    for (const w of [...this.members]) w.onStreamError(err, delay);
    this.schedule(delay);
  }
}

// ---- the shared long-poll ----

/**
 * Every watch on long-poll shares one GET /api/offers/poll?ids=...&since=...&wait=25 (one per 64 ids
 * or 2 KB of query) while there are two or more of them; a lone one long-polls its own offer. offerd
 * answers every offer newer than the versions sent, an error entry (403/404) for an offer that is not
 * the caller's or is gone (that watch gives up, as on its own), or 304 when nothing changed in the
 * wait. A server without the route (400/404/405 for the whole request) makes the watches long-poll on
 * their own for a while (FALLBACK_STICKS_MS).
 */
class PollHub {
  constructor(client) {
    this.client = client;
    this.members = new Set(); // watches on long-poll past their first GET
    this.expected = new Set(); // watches on long-poll still on their first GET
    this.polls = [];
    this.key = ""; // the ids the shared requests carry
    this.shared = false;
    this.debounce = null;
    this.firstChange = 0;
    this.unsupportedUntil = 0;
  }

  expect(w) {
    this.expected.add(w);
  }

  /** W long-polls (again): it joins, or, while it is alone, goes on with its own request. */
  add(w) {
    this.expected.delete(w);
    if (!this.members.has(w)) {
      this.members.add(w);
      return this.changed();
    }
    if (!this.shared && !this.debounce) w.longPoll();
  }

  remove(w) {
    const was = this.members.delete(w);
    if (this.expected.delete(w) || was) this.changed();
  }

  close() {
    clearTimeout(this.debounce);
    this.debounce = null;
    for (const p of this.polls) p.close();
    this.polls = [];
    this.members.clear();
    this.expected.clear();
    this.key = "";
    this.shared = false;
  }

  /** The server does not know the route: every watch long-polls on its own for a while. */
  unsupported() {
    this.unsupportedUntil = now() + FALLBACK_STICKS_MS;
    this.sync();
  }

  changed() {
    if (!this.debounce) this.firstChange = now();
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.sync(), STREAM_DEBOUNCE_MS);
  }

  sync() {
    clearTimeout(this.debounce);
    this.debounce = null;
    // watches still on their first GET will join in a moment: one request for the whole page
    if (this.expected.size && now() - this.firstChange < STREAM_GATHER_MAX_MS) {
      this.debounce = setTimeout(() => this.sync(), STREAM_DEBOUNCE_MS);
      return;
    }
    const shared = this.members.size >= 2 && now() >= this.unsupportedUntil;
    if (!shared) {
      for (const p of this.polls) p.close();
      this.polls = [];
      this.key = "";
      this.shared = false;
      for (const w of this.members) if (!w.ownPoll && !w.timer) w.longPoll(); // (a timer: it will)
      return;
    }
    const ids = [...new Set([...this.members].map((w) => w.id))].sort();
    const key = ids.join(",");
    if (this.shared && key === this.key) return;
    this.shared = true;
    this.key = key;
    for (const w of this.members) w.leaveOwnPoll();
    for (const p of this.polls) p.close();
    this.polls = [];
    let chunk = [];
    let size = 0;
    const flush = () => {
      if (!chunk.length) return;
      const poll = new SharedPoll(this, chunk);
      this.polls.push(poll);
      poll.run();
      chunk = [];
      size = 0;
    };
    for (const id of ids) {
      const cost = 2 * id.length + 24; // in ids=, and in since= with its version
      if (chunk.length === STREAM_MAX_IDS || (chunk.length && size + cost > POLL_MAX_QUERY)) flush();
      chunk.push(id);
      size += cost;
    }
    flush();
  }
}

class SharedPoll {
  constructor(hub, ids) {
    this.hub = hub;
    this.client = hub.client;
    this.ids = ids;
    this.closed = false;
    this.ctrl = null;
    this.timer = null;
    this.failures = 0;
    this.strikes = 0;
    this.retried401 = false;
  }

  members() {
    return [...this.hub.members].filter((w) => this.ids.includes(w.id));
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ctrl?.abort();
  }

  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), ms);
  }

  /** ids=a,b&since=a:3 (the lowest version any watch of an id has; none while one has nothing). */
  query(members) {
    const since = new Map();
    for (const w of members) since.set(w.id, Math.min(since.get(w.id) ?? Infinity, w.version));
    const versions = [...since].filter(([, v]) => v >= 1).map(([id, v]) => `${id}:${v}`).join(",");
    return `?ids=${this.ids.join(",")}${versions ? `&since=${versions}` : ""}&wait=${LONGPOLL_WAIT_S}`;
  }

  async run() {
    if (this.closed) return;
    const members = this.members();
    if (!members.length) return;
    const ctrl = (this.ctrl = new AbortController());
    const started = now();
    let r;
    try {
      r = await this.client.call(`/api/offers/poll${this.query(members)}`,
        { signal: ctrl.signal, timeout: REQUEST_TIMEOUT_MS + LONGPOLL_WAIT_S * 1000 });
    } catch (err) {
      if (this.closed) return;
      return this.failed(err);
    }
    if (this.closed) return;
    this.ctrl = null;
    if (r.status !== 200 && r.status !== 304) return this.failed(this.client.errorFrom(r));
    let answer = null;
    if (r.status === 200) {
      try {
        answer = JSON.parse(r.text);
      } catch {
        answer = null;
      }
      if (!Array.isArray(answer?.offers) || !Array.isArray(answer.errors ?? []))
        return this.failed(new OfferError("HTTP 200: not an answer of /api/offers/poll", 200));
    }
    this.failures = 0;
    this.retried401 = false;
    for (const w of this.members()) if (w.running) w.succeeded();
    if (answer) {
      this.strikes = 0;
      for (const offer of answer.offers) {
        if (!isOffer(offer)) continue;
        for (const w of this.members()) if (w.id === offer.id && w.running) w.deliver(offer, null);
      }
      for (const e of answer.errors ?? []) {
        const status = Number(e?.status) || 0;
        const err = new OfferError(`HTTP ${status}${typeof e?.error === "string" ? `: ${e.error}` : ""}`, status,
          { offerId: e?.id ?? null });
        // this offer only: it gives up (403/404) as it would on its own; the rest go on
        for (const w of this.members()) if (w.id === e?.id && w.running) w.park(err);
      }
      if (!this.closed) this.schedule(0);
      return;
    }
    // an unchanged answer well before the wait: nothing held it (a proxy, a draining server)
    const unheld = now() - started < LONGPOLL_WAIT_S * 500;
    this.strikes = unheld ? this.strikes + 1 : 0;
    if (this.strikes >= STRIKES_TO_FALL_BACK && this.members().some((w) => w.mode === "auto")) {
      this.client.refuse("longpoll"); // auto watches move to polling
      if (this.closed) return;
    }
    const interval = Math.min(...this.members().map((w) => w.interval));
    this.schedule(unheld ? Math.min(backoffDelay(this.strikes), interval) : 0);
  }

  failed(err) {
    const members = this.members();
    if (!members.length) return;
    if ([400, 404, 405].includes(err.status)) return this.hub.unsupported();
    if (err.status === 401 && !this.retried401) {
      this.retried401 = true; // a token may have expired in flight: ask getToken once more, now
      return this.schedule(0);
    }
    if (STOPS_RETRYING.has(err.status)) {
      for (const w of members) if (w.running) w.park(err);
      return;
    }
    // the hold did not survive the way to the server and back (a proxy's timeout, a cut)
    const cut = err.status === 0 || err.status === 502 || err.status === 504;
    this.strikes = cut ? this.strikes + 1 : 0;
    if (this.strikes >= STRIKES_TO_FALL_BACK && members.some((w) => w.mode === "auto")) {
      this.client.refuse("longpoll");
      if (this.closed) return;
    }
    this.failures++;
    const delay = backoffDelay(this.failures, { retryAfter: err.retryAfter });
    for (const w of this.members()) if (w.running) w.reportError(err, delay);
    this.schedule(delay);
  }
}

// ---- the default client ----

let defaultClient = null;
const getDefault = () => (defaultClient ??= new OfferClient());

/** Sets the default client's options (those given; the others keep their value). */
export function configureOffers(options = {}) {
  if (defaultClient) defaultClient.configure(options);
  else defaultClient = new OfferClient(options);
  return defaultClient;
}

/** A client of its own (its own stream, its own token source). */
export function createOfferClient(options = {}) {
  return new OfferClient(options);
}

/** Watches an offer with the default client. */
export function watchOffer(offerId, options = {}) {
  return getDefault().watch(offerId, options);
}

/** One GET of an offer with the default client: the offer, or a rejection with an OfferError. */
export function fetchOffer(offerId, options = {}) {
  return getDefault().fetchOffer(offerId, options);
}
