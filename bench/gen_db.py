#!/usr/bin/env python3
"""bench/gen_db.py - makes the benchmark's database and the tokens its load scripts send.

The schema is applied by the offerd binary itself (`offerd migrate --db PATH`), so the data always
fits the migrations being measured; rows are then inserted with plain SQL, the way the main web app
would write them, and offerd's triggers keep versions and the change log right.

What it makes (deterministic for a given --seed, relative to the current time):
  users            --users of them, Clerk-like clerk_ids; the first --sellers list products
  products         --products golf items, 1-4 images each, prices 20.00-1500.00
  offers           --offers on some of those products, amounts between half the price and the price;
                   0-3 counter offers each that converge (the seller comes down, the buyer goes up);
                   statuses mixed: most PENDING / COUNTERED and expiring days from now (reads never
                   expire them during a run), some ACCEPTED (product sold), REJECTED and EXPIRED
  OUT/tokens.tsv   offer id <TAB> an HS256 JWT for its buyer (sub = users.clerk_id)
  OUT/writes.tsv   product id <TAB> a valid amount <TAB> a token of a buyer who is not its seller,
                   for products that are not sold: POST /api/offers with these succeeds every time
  OUT/chains.tsv   negotiations for bench/openloop (issue #18), one per line, each valid when run
                   in file order on a fresh copy of the database: product id <TAB> offer amount
                   <TAB> buyer token <TAB> seller token <TAB> seller counter <TAB> buyer counter
                   <TAB> seller's second counter <TAB> plan (accept, reject, long, seller-reject;
                   see bench/openloop/writer.c). Amounts converge (offer < buyer counter < seller's
                   second < seller's first < price); a product whose plan may sell it appears once,
                   reject-only products up to CHAIN_PASSES times (other buyers). Made after every
                   other output, from its own random stream, so those stay exactly as they were.
  OUT/meta.json    counts, the secret's name, the time it was made

Only the Python 3 standard library is used (sqlite3, hmac, hashlib, base64).

SPDX-License-Identifier: MIT
"""
import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import time

DEFAULT_SECRET = "offerd-bench-secret-not-for-production-0123456789"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

FIRST = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Uma", "Victor",
         "Walter", "Xena", "Yusuf", "Zoe", "Liam", "Noah", "Emma", "Ava", "Sophia", "Mia",
         "Lucas", "Ethan", "Chloe", "Amelia", "Oscar", "Harry", "Isla", "Freya", "Jack", "Ruby"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
        "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
        "Wood", "Jackson", "Clarke", "O'Neill", "McIlroy", "Fleetwood", "Rose", "Lowry",
        "Fitzpatrick", "Hatton", "Åberg", "Højgaard", "Müller"]
BRANDS = ["Titleist", "Callaway", "TaylorMade", "Ping", "Cobra", "Mizuno", "Srixon", "Cleveland",
          "Scotty Cameron", "Odyssey", "Wilson Staff", "Honma", "PXG", "Bettinardi"]
ITEMS = [("Driver", 15000, 60000), ("3 Wood", 9000, 35000), ("Hybrid", 7000, 28000),
         ("Iron Set 5-PW", 30000, 150000), ("Wedge 56°", 5000, 18000), ("Putter", 8000, 45000),
         ("Stand Bag", 6000, 25000), ("Cart Bag", 8000, 30000), ("Rangefinder", 10000, 40000),
         ("Golf Shoes", 4000, 20000), ("Dozen Balls", 2000, 6000), ("Push Trolley", 6000, 35000)]
MODELS = ["Pro", "Tour", "Max", "LS", "HL", "SE", "Plus", "X", "Elite", "Classic", "2", "3"]
CONDITIONS = ["like new", "used twice", "good condition", "some wear", "mint", "boxed"]
MESSAGES = ["Would you take this?", "Is this still available?", "Can collect this weekend.",
            "Cash ready, can pay today.", "Best I can do, thanks!", "Any chance of a deal?",
            "Lowest I can go.", "Meet me in the middle?", "That is a fair price for both of us.",
            "Happy to cover postage.", "I'll take it if you can do this."]

ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789"
BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_hs256(claims: dict, secret: str) -> str:
    """An HS256 JWT, compact JSON, the shape Clerk's session tokens have."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def cuid(rng: random.Random) -> str:
    """A 25-character lower-case id like the ones the web app's ORM makes (cuid)."""
    return "c" + "".join(rng.choice(ALPHA) for _ in range(24))


def between(rng: random.Random, lo: int, hi: int):
    """A whole-pound-ish amount strictly between lo and hi (pence), or None if there is no room."""
    if hi - lo < 2:
        return None
    v = rng.randint(lo + 1, hi - 1)
    # People propose round numbers: round to a pound when that stays strictly inside.
    r = (v // 100) * 100
    return r if lo < r < hi else v


CHAIN_PLANS = ["accept", "reject", "long", "seller-reject"]
CHAIN_PASSES = 3


def money(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def write_chains(path, products, sold, users, token, rng: random.Random) -> int:
    """chains.tsv (see the docstring); returns how many lines it wrote."""
    unsold = [p for p in products if p[0] not in sold]
    rng.shuffle(unsold)
    rows, reject_only = [], []
    for i, prod in enumerate(unsold):
        plan = CHAIN_PLANS[i % len(CHAIN_PLANS)]
        rows.append((prod, plan))
        if plan in ("reject", "seller-reject"):
            reject_only.append(prod)
    for k in range(1, CHAIN_PASSES):  # later passes: reject-only products again, other buyers
        rows += [(prod, "reject" if (i + k) % 2 else "seller-reject")
                 for i, prod in enumerate(reject_only)]
    with open(path, "w", encoding="utf-8") as f:
        for (pid, seller, price), plan in rows:
            buyer = rng.choice(users)
            while buyer == seller:
                buyer = rng.choice(users)
            offer = max((price + 1) // 2, price * 60 // 100)
            b1, s2, s1 = price * 70 // 100, price * 80 // 100, price * 90 // 100
            assert offer < b1 < s2 < s1 < price, (pid, price)
            f.write("\t".join([pid, money(offer), token(buyer), token(seller), money(s1),
                               money(b1), money(s2), plan]) + "\n")
    return len(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offerd", required=True, help="path of the offerd binary (applies the schema)")
    ap.add_argument("--db", required=True, help="database file to create (replaced if present)")
    ap.add_argument("--out", required=True, help="directory for tokens.tsv, writes.tsv, meta.json")
    ap.add_argument("--secret", default=os.environ.get("BENCH_JWT_SECRET", DEFAULT_SECRET))
    ap.add_argument("--offers", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=3_000)
    ap.add_argument("--sellers", type=int, default=1_000)
    ap.add_argument("--products", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=6)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    now_ms = int(time.time() * 1000)
    os.makedirs(args.out, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(args.db + suffix)
        except FileNotFoundError:
            pass
    subprocess.run([args.offerd, "migrate", "--db", args.db], check=True,
                   stdout=subprocess.DEVNULL)

    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = OFF")  # a generator; the server decides durability
    db.execute("BEGIN")

    # Users: Clerk-like ids (user_ + 27 base62), the first `sellers` of them list products.
    users = []
    clerk_of = {}
    for i in range(args.users):
        uid = cuid(rng)
        clerk = "user_" + "".join(rng.choice(BASE62) for _ in range(27))
        first, last = rng.choice(FIRST), rng.choice(LAST)
        db.execute("INSERT INTO users(id, clerk_id, email, first_name, last_name, image_url)"
                   " VALUES (?,?,?,?,?,?)",
                   (uid, clerk, f"{first.lower()}.{i}@example.com", first, last,
                    f"https://img.clerk.example.com/{clerk}.png"))
        users.append(uid)
        clerk_of[uid] = clerk
    sellers = users[:args.sellers]

    # Products with 1-4 images.
    products = []  # (id, seller, price)
    for _ in range(args.products):
        pid = cuid(rng)
        seller = rng.choice(sellers)
        name, lo, hi = rng.choice(ITEMS)
        price = rng.randint(lo // 100, hi // 100) * 100 - rng.choice([0, 0, 0, 1, 5])
        title = (f"{rng.choice(BRANDS)} {rng.choice(MODELS)} {name}"
                 f" ({rng.choice(CONDITIONS)})")
        db.execute("INSERT INTO products(id, user_id, title, price, is_sold) VALUES (?,?,?,?,0)",
                   (pid, seller, title, price))
        for k in range(rng.choice([1, 2, 2, 3, 3, 4])):
            db.execute("INSERT INTO product_images(id, product_id, url, sort_order)"
                       " VALUES (?,?,?,?)",
                       (cuid(rng), pid, f"https://images.example.com/products/{pid}/{k + 1}.jpg",
                        k))
        products.append((pid, seller, price))

    # Offers go to 80% of the products (several per product); the rest keep no offers at all.
    offered = products[: int(len(products) * 0.8)]
    sold = set()
    offers = []  # (offer id, buyer)
    status_count = {}
    counter_total = 0
    for _ in range(args.offers):
        pid, seller, price = rng.choice(offered)
        buyer = rng.choice(users)
        while buyer == seller:
            buyer = rng.choice(users)
        oid = cuid(rng)
        min_amount = (price + 1) // 2  # half, rounded up to the penny
        amount = between(rng, min_amount - 1, price) or min_amount
        roll = rng.random()
        final = None
        if roll < 0.05:
            final = "EXPIRED"
        elif roll < 0.15:
            final = "REJECTED"
        elif roll < 0.25 and pid not in sold:
            final = "ACCEPTED"
        if final == "EXPIRED":
            created = now_ms - rng.randint(8 * DAY_MS, 20 * DAY_MS)
        else:
            created = now_ms - rng.randint(10 * 60_000, 3 * DAY_MS)
        message = rng.choice(MESSAGES) if rng.random() < 0.6 else None
        db.execute("INSERT INTO offers(id, amount, status, message, product_id, buyer_id,"
                   " seller_id, created_at, updated_at, expires_at, version)"
                   " VALUES (?,?,'PENDING',?,?,?,?,?,?,?,1)",
                   (oid, amount, message, pid, buyer, seller, created, created,
                    created + 7 * DAY_MS))
        # Counter offers alternate, the seller first; each lies strictly between the buyer's latest
        # proposal and the seller's latest position. Inserted without offer_version, as an outside
        # writer would, so the trigger bumps the offer's version for each.
        buyer_latest, seller_latest = amount, price
        t = created
        n_counters = rng.choices([0, 1, 2, 3], weights=[35, 30, 20, 15])[0]
        from_seller = True
        made = 0
        for _k in range(n_counters):
            nxt = between(rng, buyer_latest, seller_latest)
            if nxt is None:
                break
            t += rng.randint(5 * 60_000, 6 * HOUR_MS)
            if final != "EXPIRED":
                t = min(t, now_ms - 1000)
            db.execute("INSERT INTO counter_offers(id, offer_id, amount, message, from_seller,"
                       " created_at) VALUES (?,?,?,?,?,?)",
                       (cuid(rng), oid, nxt,
                        rng.choice(MESSAGES) if rng.random() < 0.5 else None,
                        1 if from_seller else 0, t))
            if from_seller:
                seller_latest = nxt
            else:
                buyer_latest = nxt
            from_seller = not from_seller
            made += 1
        counter_total += made
        status = "COUNTERED" if made else "PENDING"
        expires = t + 7 * DAY_MS
        if final is None:
            db.execute("UPDATE offers SET status = ?, expires_at = ?, version = version + 1"
                       " WHERE id = ? AND ? = 'COUNTERED'", (status, expires, oid, status))
        else:
            status = final
            done_at = t + rng.randint(60_000, 2 * HOUR_MS) if final != "EXPIRED" else expires
            if final != "EXPIRED":
                done_at = min(done_at, now_ms - 500)
            db.execute("UPDATE offers SET status = ?, expires_at = ?, updated_at = ?,"
                       " version = version + 1 WHERE id = ?", (final, expires, done_at, oid))
            if final == "ACCEPTED":
                sold.add(pid)
                db.execute("UPDATE products SET is_sold = 1 WHERE id = ?", (pid,))
        status_count[status] = status_count.get(status, 0) + 1
        offers.append((oid, buyer))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()

    # Tokens: one per user, valid for 30 days, Clerk-like claims (azp, sid, iat, nbf).
    token_of = {}

    def token(uid):
        if uid not in token_of:
            iat = now_ms // 1000
            token_of[uid] = jwt_hs256({
                "azp": "http://localhost:3000", "exp": iat + 30 * 86400, "iat": iat,
                "iss": "https://bench.clerk.example.com", "nbf": iat - 10,
                "sid": "sess_" + "".join(rng.choice(BASE62) for _ in range(27)),
                "sub": clerk_of[uid]}, args.secret)
        return token_of[uid]

    with open(os.path.join(args.out, "tokens.tsv"), "w", encoding="utf-8") as f:
        for oid, buyer in offers:
            f.write(f"{oid}\t{token(buyer)}\n")
    writes = 0
    with open(os.path.join(args.out, "writes.tsv"), "w", encoding="utf-8") as f:
        for pid, seller, price in products:
            if pid in sold:
                continue
            buyer = rng.choice(users)
            while buyer == seller:
                buyer = rng.choice(users)
            amount = max((price + 1) // 2, math.floor(price * 0.7))  # in [half, price)
            f.write(f"{pid}\t{amount // 100}.{amount % 100:02d}\t{token(buyer)}\n")
            writes += 1
    chains = write_chains(os.path.join(args.out, "chains.tsv"), products, sold, users, token,
                          random.Random(args.seed + 18))
    meta = {"offers": len(offers), "counter_offers": counter_total, "users": args.users,
            "products": len(products), "sold_products": len(sold), "write_targets": writes,
            "statuses": status_count, "seed": args.seed, "made_at_ms": now_ms,
            "chains": chains}
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
