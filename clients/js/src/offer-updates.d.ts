// Types for offer-updates.js. SPDX-License-Identifier: MIT

/** An offer's status. PENDING and COUNTERED are live; the others are final. */
export type OfferStatus = "PENDING" | "COUNTERED" | "ACCEPTED" | "REJECTED" | "EXPIRED";

/** A buyer or seller as offers show them. */
export interface OfferPerson {
  id: string;
  firstName: string | null;
  lastName: string | null;
}

export interface OfferProduct {
  id: string;
  title: string | null;
  /** Listed price in major units (180.5 is 180.50). */
  price: number;
  /** True once the product has sold (to this offer's buyer if the offer is ACCEPTED); a sale
   * ends the product's other live offers as REJECTED. */
  isSold: boolean;
  images: { url: string | null }[];
}

export interface CounterOffer {
  id: string;
  /** Major units. */
  amount: number;
  message: string | null;
  fromSeller: boolean;
  /** ISO-8601 UTC with milliseconds. */
  createdAt: string;
}

/** An offer as offerd renders it (GET /api/offers/{id}, SSE events). */
export interface Offer {
  id: string;
  /** Starts at 1 and rises with every change to the offer or its counter offers. */
  version: number;
  status: OfferStatus;
  /** Major units (180.5 is 180.50). */
  amount: number;
  message: string | null;
  productId: string;
  buyerId: string;
  sellerId: string;
  /** ISO-8601 UTC with milliseconds, e.g. "2026-11-25T10:00:00.000Z". */
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  product: OfferProduct;
  buyer: OfferPerson;
  seller: OfferPerson;
  /** Oldest first. */
  counterOffers: CounterOffer[];
}

/** "auto": the WebSocket, falling back to SSE, long-poll, then polling, where the server or a proxy
 *  refuses (or where there is no WebSocket class: Node < 22 without the `WebSocket` option). */
export type OfferTransport = "auto" | "ws" | "sse" | "longpoll" | "poll";

/** The transport a watch is using right now. */
export type ActiveTransport = "ws" | "sse" | "longpoll" | "poll";

/** What the client needs of a WebSocket class: the browser's, Node 22's, or the `ws` package's.
 *  The handlers' events are `any` so that each of those (MessageEvent, CloseEvent, ws's own event
 *  types) fits; the client reads `data` (a string: text frames), `code` and `reason`. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}
export type WebSocketClass = new (url: string) => WebSocketLike;

/** Like Clerk's getToken: called before every request and reconnection (at once when the shared
 *  stream says its token expired, event `reauth`), and for the WebSocket's `auth` message (when it
 *  opens and when offerd says `reauth`); null sends no header and no auth message (the cookie). */
export type GetToken = () => string | null | undefined | Promise<string | null | undefined>;

export interface OfferClientOptions {
  /** Where offerd is, e.g. "https://offers.example.com"; "" (default) for the page's own origin. */
  baseUrl?: string;
  /** A token is sent as `Authorization: Bearer <token>`, never in a URL. */
  getToken?: GetToken | null;
  /** fetch()'s credentials: "include" sends the __session cookie cross-origin. Default "same-origin". */
  credentials?: RequestCredentials;
  /** Default transport of the client's watches. Default "auto". */
  transport?: OfferTransport;
  /** A fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch | null;
  /** A WebSocket class; null (default): globalThis.WebSocket (browsers, Node >= 22). In Node 18/20
   *  pass the `ws` package's (`import WebSocket from "ws"`), or auto skips the WebSocket. false: no
   *  WebSocket at all (auto starts at SSE). */
  WebSocket?: WebSocketClass | null | false;
  /** Pause while document.visibilityState is "hidden" and refetch on return. Default true. */
  pauseWhenHidden?: boolean;
}

/** What onError and fetchOffer's rejections carry. */
export declare class OfferError extends Error {
  constructor(message: string, status?: number, options?: { offerId?: string | null; retryAfter?: number; cause?: unknown });
  name: "OfferError";
  /** HTTP status, or 0 when no answer came (network, timeout, a WebSocket closed or refused). On
   *  SSE, an `offer-error` event's status (403, 404) for its offer alone; on the WebSocket, an
   *  `error` message's. */
  status: number;
  offerId: string | null;
  /** What the server's Retry-After asked for, in ms (0 if none). */
  retryAfter: number;
  /** In onError: ms until the watch tries again; null when it stopped retrying (401, 403, 404:
   *  until refetch() or setEnabled(false/true)) or the error came from refetch(). */
  retryIn: number | null;
  /** In onError: the transport the watch was on. */
  transport: ActiveTransport | null;
}

export interface WatchOptions {
  /** Default true. A disabled watch sends nothing and calls nothing back. */
  enabled?: boolean;
  /** Polling interval in ms; default 5000. The WebSocket, SSE and long-poll do not wait for it. */
  interval?: number;
  /** Default: the client's transport ("auto"). */
  transport?: OfferTransport;
  /** Once per new version: never for a 304 or a version already delivered, never an older one. */
  onUpdate?: (offer: Offer) => void;
  onError?: (error: OfferError) => void;
  /** The transport in use, when the watch starts and whenever auto changes it. */
  onTransport?: (transport: ActiveTransport) => void;
  /** A request succeeded again after onError. */
  onRecover?: () => void;
}

export interface WatchHandle {
  /** A conditional GET now, beside whatever is open. Resolves to the newest offer known (null if
   *  none); never rejects: failures go to onError. Also retries a watch that stopped on 401/403/404. */
  refetch(): Promise<Offer | null>;
  /** false pauses (nothing in flight, no callbacks); true fetches at once and goes on. */
  setEnabled(enabled: boolean): void;
  /** Changes the polling interval. */
  setInterval(ms: number): void;
  /** Ends the watch: once it returns, no callback of this watch runs. */
  stop(): void;
  /** The newest offer seen, or null. */
  readonly offer: Offer | null;
  /** The transport in use (null before the first step). */
  readonly transport: ActiveTransport | null;
}

export interface OfferClient {
  watch(offerId: string, options?: WatchOptions): WatchHandle;
  /** One GET: resolves to the offer; rejects with an OfferError (or the signal's reason). */
  fetchOffer(offerId: string, options?: { signal?: AbortSignal }): Promise<Offer>;
  /** Changes the options given; the others keep their value. Open streams reopen with them. */
  configure(options: OfferClientOptions): void;
  /** Stops every watch and closes the shared stream. */
  close(): void;
}

/** Sets the default client's options (those given; the others keep theirs). */
export declare function configureOffers(options?: OfferClientOptions): OfferClient;
/** A client of its own: its own options and its own shared stream. */
export declare function createOfferClient(options?: OfferClientOptions): OfferClient;
/** The default client's watch(). */
export declare function watchOffer(offerId: string, options?: WatchOptions): WatchHandle;
/** The default client's fetchOffer(). */
export declare function fetchOffer(offerId: string, options?: { signal?: AbortSignal }): Promise<Offer>;

// ---- building blocks, exported for tests and for other clients ----

export interface ServerSentEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/** Incremental text/event-stream parser following the HTML standard. */
export declare class EventStreamParser {
  constructor(onEvent: (event: ServerSentEvent) => void, options?: { lastEventId?: string; maxBytes?: number });
  /** Decoded text in any pieces. */
  feed(text: string): void;
  /** The stream ended: an unfinished event is dropped. */
  end(): void;
  readonly lastEventId: string;
  /** The reconnection time the stream asked for (retry:), in ms, or null. */
  readonly retry: number | null;
  readonly events: number;
  readonly comments: number;
}

/** base + a uniform draw from [0, min(max, initial * 2^(failures-1))], at least retryAfter (capped at 1 h). */
export declare function backoffDelay(
  failures: number,
  options?: { initial?: number; max?: number; base?: number; retryAfter?: number; random?: () => number },
): number;

/** Retry-After (seconds or an HTTP date) in ms from `now`; 0 when absent or unreadable. */
export declare function parseRetryAfter(value: string | null | undefined, now?: number): number;

/** ws(s)://.../api/ws for a base URL (absolute, or relative to pageUrl); null when there is none. */
export declare function webSocketUrl(baseUrl: string, pageUrl?: string): string | null;

/** The subscribe/unsubscribe that turn SUBSCRIBED (id -> the version offerd knows we have) into
 *  WANTED (id -> the oldest version a watch of it has; -1 for none). */
export declare function subscriptionChanges(
  subscribed: Map<string, number>,
  wanted: Map<string, number>,
): { subscribe: string[]; versions: Record<string, number>; unsubscribe: string[] };

export type SocketMessage =
  | { type: "offer"; offer: Offer }
  | { type: "error"; id: string | null; status: number; error: string }
  | { type: "reauth" };

/** One text frame from offerd, checked; null for anything else. */
export declare function readSocketMessage(data: unknown): SocketMessage | null;

/** How a close of an open socket reads; retryMs is offerd's shutdown hint (1001), else null. */
export declare function readSocketClose(code: number, reason?: string): {
  kind: "shutdown" | "policy" | "normal" | "later" | "cut";
  retryMs: number | null;
};
