// The --demo page: signs in as a demo user, lists their offers and keeps each card live through
// the JS client: one WebSocket for the whole page ("auto"), else one multiplexed SSE stream,
// long-poll or polling where a proxy refuses the better one. The header shows which is in use.
import { createOfferClient } from "/demo/offer-updates.js";

const params = new URLSearchParams(location.search);
const actingAs = params.get("as") || "alice";            // alice, bob or carol
const interval = Number(params.get("interval")) || 5000; // the hook's default
const transport = params.get("transport") || "auto";
const LIST_REFRESH_MS = 5000; // new offers made elsewhere appear within this

const $ = (sel, root = document) => root.querySelector(sel);
const money = (n) => `$${Number(n).toFixed(2).replace(/\.00$/, "")}`;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const fullName = (p) => (p ? `${p.firstName} ${p.lastName}` : "");

let me = null;              // {id, name, role, token}
let session = null;         // {users, expiresIn}
const cards = new Map();    // offer id -> {el, handle, offer}

function showPageError(text) {
  const el = $("#page-error");
  el.textContent = text;
  el.hidden = !text;
}

async function signIn() {
  const res = await fetch("/demo/session", { cache: "no-store" });
  if (!res.ok) throw new Error(((await res.json().catch(() => ({}))).error) || `sign-in: ${res.status}`);
  session = await res.json();
  me = session.users.find((u) => u.id === `demo_${actingAs}`) || session.users[0];
  // Fresh tokens a few minutes before these expire, so a page left open keeps working.
  setTimeout(() => signIn().catch((e) => showPageError(e.message)),
             Math.max(60, session.expiresIn - 300) * 1000);
}

function renderWho() {
  const nav = $("#who");
  nav.textContent = "";
  for (const u of session.users) {
    const a = document.createElement("a");
    const short = u.id.replace(/^demo_/, "");
    const q = new URLSearchParams(params);
    q.set("as", short);
    a.href = `?${q}`;
    a.textContent = `${u.name} (${u.role})`;
    a.dataset.user = short;
    if (u.id === me.id) a.setAttribute("aria-current", "page");
    nav.append(a);
  }
  document.title = `${me.name} — offerd demo`;
  $("#new-offer").hidden = me.role !== "buyer";
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${me.token}` };
  if (body) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `${method} ${path}: ${res.status}`);
  return data;
}

// Whose move it is: the party who did not make the latest proposal (SPEC's rules).
function turnOf(offer) {
  if (offer.status !== "PENDING" && offer.status !== "COUNTERED") return null;
  const last = offer.counterOffers[offer.counterOffers.length - 1];
  return last && last.fromSeller ? "buyer" : "seller";
}

function myRole(offer) {
  if (offer.buyerId === me.id) return "buyer";
  if (offer.sellerId === me.id) return "seller";
  return null;
}

function render(card, offer) {
  const el = card.el;
  const changed = card.offer && card.offer.version !== offer.version;
  card.offer = offer;
  el.dataset.version = String(offer.version);
  el.dataset.status = offer.status;
  $(".title", el).textContent = offer.product.title;
  const badge = $(".badge", el);
  badge.textContent = offer.status;
  badge.className = `badge ${offer.status}`;
  $(".price", el).textContent = money(offer.product.price);
  $(".amount", el).textContent = money(offer.amount);
  const lastCounter = offer.counterOffers[offer.counterOffers.length - 1];
  $(".latest", el).textContent = money(lastCounter ? lastCounter.amount : offer.amount);
  $(".buyer", el).textContent = fullName(offer.buyer);
  $(".seller", el).textContent = fullName(offer.seller);
  $(".expires", el).textContent = when(offer.expiresAt);
  $(".version", el).textContent = String(offer.version);
  $(".message", el).textContent = offer.message ? `“${offer.message}”` : "";

  const history = $(".history", el);
  history.textContent = "";
  const first = document.createElement("li");
  first.className = "buyer";
  first.textContent = `${offer.buyer.firstName} offered ${money(offer.amount)}`;
  history.append(first);
  for (const c of offer.counterOffers) {
    const li = document.createElement("li");
    const who = c.fromSeller ? offer.seller : offer.buyer;
    li.className = c.fromSeller ? "seller" : "buyer";
    li.textContent = `${who.firstName} countered ${money(c.amount)}${c.message ? ` — “${c.message}”` : ""}`;
    history.append(li);
  }

  const turn = turnOf(offer);
  const mine = turn && turn === myRole(offer);
  $(".turn", el).textContent = !turn ? `This negotiation is ${offer.status.toLowerCase()}.`
    : mine ? "Your move: counter, accept or reject."
    : `Waiting for the ${turn}.`;
  for (const b of el.querySelectorAll(".actions button, .actions input")) b.disabled = !mine;
  if (changed) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }
}

async function act(card, method, path, body) {
  const err = $(".error", card.el);
  err.hidden = true;
  try {
    render(card, await api(method, path, body));
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
}

function addCard(client, offer) {
  const el = $("#offer-card").content.firstElementChild.cloneNode(true);
  el.id = `offer-${offer.id}`;
  el.dataset.offerId = offer.id;
  const card = { el, offer: null, handle: null };
  cards.set(offer.id, card);
  render(card, offer);
  const form = $(".actions", el);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const amount = Number(form.elements.amount.value);
    const message = form.elements.message.value.trim();
    act(card, "POST", `/api/offers/${offer.id}/counter`, message ? { amount, message } : { amount })
      .then(() => form.reset());
  });
  $(".accept", el).addEventListener("click", () =>
    act(card, "PATCH", `/api/offers/${offer.id}`, { status: "ACCEPTED" }));
  $(".reject", el).addEventListener("click", () =>
    act(card, "PATCH", `/api/offers/${offer.id}`, { status: "REJECTED" }));
  $("#offers").prepend(el);

  card.handle = client.watch(offer.id, {
    interval,
    onUpdate: (latest) => {
      $(".error", el).hidden = true;
      setConnection(true);
      if (!card.offer || latest.version >= card.offer.version) render(card, latest);
    },
    onError: (e) => {
      setConnection(false, e.message);
      if (e.status === 403 || e.status === 404) {
        $(".error", el).textContent = e.message;
        $(".error", el).hidden = false;
      }
    },
    onTransport: showTransport,
  });
}

// The name stays as the client says it (the browser tests read it); the tooltip explains it.
const TRANSPORT_TITLES = {
  ws: "one WebSocket for the whole page",
  sse: "one Server-Sent Events stream for the whole page (WebSocket refused)",
  longpoll: "long-polling (WebSocket and SSE refused)",
  poll: "polling every interval (nothing better got through)",
};

function showTransport(name) {
  const el = $("#transport");
  el.textContent = name;
  el.title = TRANSPORT_TITLES[name] || "";
}

function setConnection(ok, why = "") {
  const el = $("#conn");
  el.className = `conn ${ok ? "ok" : "bad"}`;
  el.textContent = ok ? "live" : `reconnecting${why ? ` (${why})` : ""}`;
}

async function refreshList(client) {
  const { offers } = await api("GET", "/api/offers?limit=50");
  // Oldest first so prepend leaves the newest on top.
  for (const offer of offers.slice().reverse()) {
    if (!cards.has(offer.id)) addCard(client, offer);
  }
  $("#empty").hidden = cards.size > 0;
}

async function main() {
  await signIn();
  renderWho();
  const client = createOfferClient({ getToken: () => me.token, transport });
  $("#transport").textContent = transport;
  await refreshList(client);
  setInterval(() => refreshList(client).catch((e) => showPageError(e.message)), LIST_REFRESH_MS);

  const form = $("#new-offer-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { productId: form.elements.productId.value, amount: Number(form.elements.amount.value) };
    const message = form.elements.message.value.trim();
    if (message) body.message = message;
    try {
      showPageError("");
      addCard(client, await api("POST", "/api/offers", body));
      $("#empty").hidden = true;
      form.reset();
    } catch (e) {
      showPageError(e.message);
    }
  });
  document.body.dataset.ready = "true";
}

main().catch((e) => showPageError(e.message));
